//! The append-only, hash-chained audit log `.kiro/audit.jsonl`.
//!
//! Every approval, rejection, phase result, task result, rollback, fork and
//! verification verdict can be recorded as one line of JSON. Each line holds
//! the SHA-256 of the line before it, so editing, deleting, inserting or
//! reordering any line breaks the chain at that line, and
//! [`verify`] names the first line where it breaks.
//!
//! ```
//! use kiro_core::audit::{AuditKind, AuditLog, NewEntry};
//!
//! let root = tempfile::tempdir()?;
//! let log = AuditLog::open(root.path())?;
//! let entry = log.append(
//!     NewEntry::new(AuditKind::Approval)
//!         .with_actor("alice")
//!         .with_spec("login")
//!         .with_data(serde_json::json!({ "phase": "requirements" })),
//! )?;
//! assert_eq!(entry.seq, 1);
//! assert!(log.verify()?.is_intact());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Line format
//!
//! One JSON object per line, fields always in this order, no whitespace
//! between tokens (the compact form `serde_json` writes):
//!
//! ```text
//! {"seq":1,"time":"2026-11-25T20:15:00.123Z","actor":"alice","kind":"approval",
//!  "spec":"login","run":"...","data":{...},"prev":"000...000","hash":"9f2c..."}
//! ```
//!
//! - `seq` counts from 1 and equals the line number.
//! - `spec` and `run` are left out when absent.
//! - `data` is free JSON; object keys are written sorted, so the same data
//!   always gives the same bytes whatever `serde_json` features are enabled.
//! - `prev` is the SHA-256 (lower-case hex) of the previous line's bytes
//!   without its newline, or [`GENESIS`] (64 zeros) on the first line.
//! - `hash` is the SHA-256 of the line's own bytes with the `hash` field
//!   removed: the line up to `,"hash":"` followed by `}`. It is always the
//!   last field, so a verifier finds the hashed bytes by cutting a suffix of
//!   fixed length off the line and never re-serializes anything; that keeps
//!   verification deterministic across `serde_json` versions, float
//!   formatting and map orderings.
//!
//! # Concurrency and durability
//!
//! [`AuditLog::append`] takes an exclusive advisory lock on the file
//! ([`File::lock`]), reads back only the last line (seeking from the end, so
//! appending costs the same for a large log as for a small one), writes the
//! new line with a single `write_all` on a handle opened in append mode, makes
//! it durable with `fdatasync` ([`File::sync_data`]) and releases the lock.
//! Writers in other threads and other processes that go through this module
//! therefore never interleave partial lines and never fork the chain.
//! Readers take a shared lock, so they never see a line being written.
//! Programs that write the file without taking the lock are not protected.
//!
//! # What a crash leaves, and what verification reports
//!
//! A crash (or power loss) during an append can only leave a torn last line
//! without its newline; the append it belonged to never returned. [`verify`]
//! reports such a line as broken ([`AuditProblem::Incomplete`]), because
//! from the file alone it cannot be told apart from a log truncated by
//! hand. [`AuditLog::entries`] skips it, like every reader of the crate's
//! logs. The next [`append`](AuditLog::append) cuts it off before writing,
//! as the checkpoint log does; that hides nothing an attacker could not
//! already hide by truncating at a line boundary.
//!
//! # Limits of a hash chain
//!
//! The chain proves that no line was changed, removed, inserted or moved
//! *relative to the lines after it*. Removing lines at the end leaves a
//! shorter, valid chain, and someone with write access can rewrite the tail
//! and recompute every hash after the change. To detect that, keep the
//! [`AuditHead`] of a log somewhere else (a commit message, a CI artifact, a
//! signed release note) and check the log against it with
//! [`verify_anchored`].

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::now_rfc3339;
use crate::error::{io_err, Error, Result};
use crate::store::sync_dir;
use crate::workspace::sha256_hex;

/// Where the audit log lives, relative to the workspace root.
pub const AUDIT_PATH: &str = ".kiro/audit.jsonl";

/// The `prev` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The environment variable naming the actor, before the OS user.
pub const ACTOR_ENV: &str = "KIRO_ACTOR";

/// What the OS user variables are called, in the order they are consulted.
const USER_ENVS: [&str; 2] = ["USER", "USERNAME"];

/// What every line ends with before the hash's hex digits.
const HASH_PREFIX: &[u8] = b",\"hash\":\"";
/// What every line ends with after the hash's hex digits.
const HASH_SUFFIX: &[u8] = b"\"}";
/// The length of the hex form of a SHA-256.
const HEX_LEN: usize = 64;
/// How many bytes are read at a time when looking for the last line.
const TAIL_CHUNK: usize = 8 * 1024;

/// What an audit entry records.
///
/// Serialized as a snake_case string (`"approval"`, `"phase"`...); any other
/// string is kept as [`AuditKind::Other`], so logs written by newer versions
/// or by integrators stay readable. `Other` holding a known name reads back
/// as that known kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(from = "String", into = "String")]
pub enum AuditKind {
    /// A person approved a phase document (requirements, design, tasks).
    Approval,
    /// A person rejected a phase document or asked for changes.
    Rejection,
    /// The result of a pipeline phase.
    Phase,
    /// The result of one task.
    Task,
    /// Files were rolled back to a checkpoint.
    Rollback,
    /// A run was forked from a checkpoint.
    Fork,
    /// A verification verdict (`kiro verify`).
    Verification,
    /// Anything else, by name.
    Other(String),
}

impl AuditKind {
    /// The name written to the log.
    pub fn as_str(&self) -> &str {
        match self {
            AuditKind::Approval => "approval",
            AuditKind::Rejection => "rejection",
            AuditKind::Phase => "phase",
            AuditKind::Task => "task",
            AuditKind::Rollback => "rollback",
            AuditKind::Fork => "fork",
            AuditKind::Verification => "verification",
            AuditKind::Other(name) => name,
        }
    }
}

impl From<String> for AuditKind {
    fn from(name: String) -> AuditKind {
        match name.as_str() {
            "approval" => AuditKind::Approval,
            "rejection" => AuditKind::Rejection,
            "phase" => AuditKind::Phase,
            "task" => AuditKind::Task,
            "rollback" => AuditKind::Rollback,
            "fork" => AuditKind::Fork,
            "verification" => AuditKind::Verification,
            _ => AuditKind::Other(name),
        }
    }
}

impl From<&str> for AuditKind {
    fn from(name: &str) -> AuditKind {
        AuditKind::from(name.to_owned())
    }
}

impl From<AuditKind> for String {
    fn from(kind: AuditKind) -> String {
        match kind {
            AuditKind::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry to append: what the caller says. The log adds the sequence
/// number, time and chain hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    /// What happened.
    pub kind: AuditKind,
    /// Who did it; `None` means [`current_actor`].
    pub actor: Option<String>,
    /// The spec it concerns, if any.
    pub spec: Option<String>,
    /// The run it concerns, if any.
    pub run: Option<String>,
    /// Free details (phase name, verdict counts, checkpoint ids...).
    pub data: Value,
}

impl NewEntry {
    /// An entry of `kind` by the current actor, with empty `data`.
    pub fn new(kind: impl Into<AuditKind>) -> NewEntry {
        NewEntry {
            kind: kind.into(),
            actor: None,
            spec: None,
            run: None,
            data: Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets the actor instead of taking it from the environment.
    pub fn with_actor(mut self, actor: impl Into<String>) -> NewEntry {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the spec.
    pub fn with_spec(mut self, spec: impl Into<String>) -> NewEntry {
        self.spec = Some(spec.into());
        self
    }

    /// Sets the run.
    pub fn with_run(mut self, run: impl Into<String>) -> NewEntry {
        self.run = Some(run.into());
        self
    }

    /// Sets the details.
    pub fn with_data(mut self, data: Value) -> NewEntry {
        self.data = data;
        self
    }
}

/// One line of the audit log. Serializing it with `serde_json::to_string`
/// gives the line back (fields in this order, `spec` and `run` left out
/// when absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Position in the log, from 1; equals the line number.
    pub seq: u64,
    /// When it was appended, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// Who did it.
    pub actor: String,
    /// What happened.
    pub kind: AuditKind,
    /// The spec it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The run it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Free details, object keys sorted.
    pub data: Value,
    /// SHA-256 (hex) of the previous line's bytes, or [`GENESIS`].
    pub prev: String,
    /// SHA-256 (hex) of this line without its `hash` field.
    pub hash: String,
}

/// The hashed part of a line: an [`Entry`] without `hash`, fields in the
/// same order.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    time: &'a str,
    actor: &'a str,
    kind: &'a AuditKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'a str>,
    data: &'a Value,
    prev: &'a str,
}

/// The last entry of a log: what to keep elsewhere to detect a truncated or
/// rewritten tail later (see [`verify_anchored`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditHead {
    /// The entry's sequence number (0 for an empty log).
    pub seq: u64,
    /// SHA-256 (hex) of the entry's whole line without its newline: the
    /// `prev` the next entry will carry ([`GENESIS`] for an empty log).
    pub line_hash: String,
}

/// The outcome of verifying a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditReport {
    /// Every line is whole and the chain is unbroken.
    Intact {
        /// How many entries the log holds.
        entries: u64,
        /// The last entry, `None` for an empty or missing log.
        head: Option<AuditHead>,
    },
    /// The chain breaks; this is the first line where it does.
    Broken(BrokenEntry),
}

impl AuditReport {
    /// Whether the chain is unbroken.
    pub fn is_intact(&self) -> bool {
        matches!(self, AuditReport::Intact { .. })
    }

    /// The first broken line, if any.
    pub fn broken(&self) -> Option<&BrokenEntry> {
        match self {
            AuditReport::Intact { .. } => None,
            AuditReport::Broken(b) => Some(b),
        }
    }
}

impl std::fmt::Display for AuditReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditReport::Intact { entries, .. } => {
                write!(f, "audit log intact: {entries} entries")
            }
            AuditReport::Broken(b) => write!(f, "{b}"),
        }
    }
}

/// The first line where a log's chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BrokenEntry {
    /// 1-based line number.
    pub line: usize,
    /// How many entries before it verified.
    pub valid_entries: u64,
    /// What is wrong with it.
    pub problem: AuditProblem,
}

impl std::fmt::Display for BrokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "audit log broken at line {}: {}",
            self.line, self.problem
        )
    }
}

/// What is wrong with a broken line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum AuditProblem {
    /// The last line has no newline: torn by a crash during an append, or
    /// the file was truncated.
    Incomplete,
    /// The line is not an entry: not JSON, not UTF-8, a field missing or of
    /// the wrong type, or no `hash` field at its end.
    Malformed {
        /// What the parser said.
        message: String,
    },
    /// The line's content does not hash to its `hash` field: it was edited.
    HashMismatch {
        /// The `hash` field.
        recorded: String,
        /// The hash of the line's content.
        computed: String,
    },
    /// The line's `prev` is not the hash of the line before it: a line was
    /// removed, inserted or moved here.
    PrevMismatch {
        /// The `prev` field.
        recorded: String,
        /// The hash of the previous line (or [`GENESIS`]).
        expected: String,
    },
    /// The line's `seq` is not its line number: a gap, a duplicate or a
    /// reordering.
    SeqMismatch {
        /// The `seq` field.
        found: u64,
        /// The line number.
        expected: u64,
    },
    /// The log ends before the entry an anchor names: lines were removed
    /// from its end.
    Missing {
        /// The anchor's sequence number.
        expected_seq: u64,
    },
    /// The entry an anchor names is not the one in the log: the log was
    /// rewritten from this line (or an earlier one) on.
    AnchorMismatch {
        /// The hash of the line in the log.
        found: String,
        /// The anchor's `line_hash`.
        expected: String,
    },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Incomplete => f.write_str("incomplete line (no newline)"),
            AuditProblem::Malformed { message } => write!(f, "not an audit entry: {message}"),
            AuditProblem::HashMismatch { recorded, computed } => write!(
                f,
                "hash mismatch: the line records {recorded} but hashes to {computed}"
            ),
            AuditProblem::PrevMismatch { recorded, expected } => write!(
                f,
                "prev mismatch: the line records {recorded} but the previous line hashes to {expected}"
            ),
            AuditProblem::SeqMismatch { found, expected } => {
                write!(f, "seq mismatch: found {found}, expected {expected}")
            }
            AuditProblem::Missing { expected_seq } => {
                write!(f, "missing: the log ends before entry {expected_seq}")
            }
            AuditProblem::AnchorMismatch { found, expected } => write!(
                f,
                "anchor mismatch: the line hashes to {found}, the anchor says {expected}"
            ),
        }
    }
}

/// The actor from environment lookups: `KIRO_ACTOR`, else `USER`, else
/// `USERNAME`, else `"unknown"`. Blank values count as unset.
///
/// ```
/// use kiro_core::audit::actor_from;
///
/// let env = |k: &str| (k == "USER").then(|| "bob".to_owned());
/// assert_eq!(actor_from(env), "bob");
/// ```
pub fn actor_from(lookup: impl Fn(&str) -> Option<String>) -> String {
    std::iter::once(ACTOR_ENV)
        .chain(USER_ENVS)
        .find_map(|name| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The actor of this process, from its environment (see [`actor_from`]).
pub fn current_actor() -> String {
    actor_from(|name| std::env::var(name).ok())
}

/// The audit log of a workspace.
///
/// Holds only the path: every call opens, locks and closes the file, so
/// any number of `AuditLog`s, threads and processes can share one log.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log of the workspace at `workspace_root` (`.kiro/audit.jsonl`).
    /// Nothing is created until the first append.
    ///
    /// # Errors
    /// [`Error::Io`] when `workspace_root` is not a directory.
    pub fn open(workspace_root: impl AsRef<Path>) -> Result<AuditLog> {
        let root = workspace_root.as_ref();
        let meta = fs::metadata(root).map_err(io_err(root))?;
        if !meta.is_dir() {
            return Err(Error::Io {
                path: root.to_owned(),
                source: std::io::Error::new(ErrorKind::NotADirectory, "not a directory"),
            });
        }
        Ok(AuditLog::at(root.join(AUDIT_PATH)))
    }

    /// A log at an explicit file path.
    pub fn at(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into() }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry and returns it as written, once it is durable.
    ///
    /// # Errors
    /// - [`Error::CorruptAudit`] when the log's last line is not a valid
    ///   entry (malformed or edited): the chain is not extended past a line
    ///   known to be broken. Run [`verify`] to see the whole picture.
    /// - [`Error::Io`] when the file cannot be created, locked, read or
    ///   written; a failed write is cut off again where possible.
    pub fn append(&self, entry: NewEntry) -> Result<Entry> {
        let path = &self.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                fs::create_dir_all(dir).map_err(io_err(dir))?;
                if let Some(parent) = dir.parent().filter(|d| !d.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        file.lock().map_err(io_err(path))?;
        let result = self.append_locked(&mut file, entry);
        // Closing the file releases the lock too; unlocking explicitly only
        // lets waiting writers in sooner, so its failure is harmless.
        let _ignored = file.unlock();
        result
    }

    fn append_locked(&self, file: &mut File, new: NewEntry) -> Result<Entry> {
        let path = &self.path;
        let io = io_err(path);
        let len = file.seek(SeekFrom::End(0)).map_err(io)?;
        let tail = read_tail(file, len).map_err(io_err(path))?;
        if tail.committed_len < len {
            // A torn line from a crashed append; see the module doc.
            file.set_len(tail.committed_len)
                .and_then(|()| file.sync_data())
                .map_err(io_err(path))?;
        }
        let (seq, prev) = match &tail.last_line {
            None => (1, GENESIS.to_owned()),
            Some((start, line)) => match check_line(line) {
                Ok(last) => (last.seq.saturating_add(1), sha256_hex(line)),
                Err(problem) => {
                    return Err(Error::CorruptAudit {
                        path: path.clone(),
                        line: count_newlines(file, *start).map_err(io_err(path))? + 1,
                        message: problem.to_string(),
                    })
                }
            },
        };

        let time = now_rfc3339();
        let actor = new.actor.unwrap_or_else(current_actor);
        let data = canonical(&new.data);
        let body = Body {
            seq,
            time: &time,
            actor: &actor,
            kind: &new.kind,
            spec: new.spec.as_deref(),
            run: new.run.as_deref(),
            data: &data,
            prev: &prev,
        };
        let body = serde_json::to_string(&body).map_err(|e| Error::Backend(Box::new(e)))?;
        let hash = sha256_hex(body.as_bytes());
        let open = body.strip_suffix('}').unwrap_or(&body);
        let line = format!("{open},\"hash\":\"{hash}\"}}\n");

        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(source) = written {
            // Leave no partial line behind for the next writer to find.
            let _ignored = file.set_len(tail.committed_len);
            return Err(Error::Io {
                path: path.clone(),
                source,
            });
        }
        if tail.committed_len == 0 {
            // The first line: make sure the file's directory entry is durable.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                sync_dir(dir)?;
            }
        }
        Ok(Entry {
            seq,
            time,
            actor,
            kind: new.kind,
            spec: new.spec,
            run: new.run,
            data,
            prev,
            hash,
        })
    }

    /// Every complete entry, in order, without checking the chain (use
    /// [`verify`] for that). A torn last line is skipped; a missing file is
    /// an empty log.
    ///
    /// # Errors
    /// [`Error::CorruptAudit`] for a complete line that is not an entry;
    /// [`Error::Io`] when the file cannot be read.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let path = &self.path;
        let Some(file) = open_shared(path)? else {
            return Ok(Vec::new());
        };
        let mut reader = BufReader::new(file);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            line_no += 1;
            let line = buf.get(..buf.len() - 1).unwrap_or_default();
            let entry = serde_json::from_slice::<Entry>(line).map_err(|e| Error::CorruptAudit {
                path: path.clone(),
                line: line_no,
                message: e.to_string(),
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// The last entry as an [`AuditHead`], reading only the end of the file:
    /// what to record elsewhere for [`verify_anchored`]. The last line is
    /// not checked; a torn last line is skipped.
    ///
    /// # Errors
    /// [`Error::CorruptAudit`] when the last complete line is not an entry;
    /// [`Error::Io`] when the file cannot be read.
    pub fn head(&self) -> Result<AuditHead> {
        let path = &self.path;
        let Some(mut file) = open_shared(path)? else {
            return Ok(empty_head());
        };
        let len = file.seek(SeekFrom::End(0)).map_err(io_err(path))?;
        let tail = read_tail(&mut file, len).map_err(io_err(path))?;
        let Some((start, line)) = tail.last_line else {
            return Ok(empty_head());
        };
        match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) => Ok(AuditHead {
                seq: entry.seq,
                line_hash: sha256_hex(&line),
            }),
            Err(e) => Err(Error::CorruptAudit {
                path: path.clone(),
                line: count_newlines(&mut file, start).map_err(io_err(path))? + 1,
                message: e.to_string(),
            }),
        }
    }

    /// Verifies this log; see [`verify`].
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read.
    pub fn verify(&self) -> Result<AuditReport> {
        verify(&self.path)
    }

    /// Verifies this log against an anchor; see [`verify_anchored`].
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read.
    pub fn verify_anchored(&self, anchor: &AuditHead) -> Result<AuditReport> {
        verify_anchored(&self.path, anchor)
    }
}

/// Verifies the log at `path` line by line and reports either how many
/// entries it holds or the first broken line. A missing file is an empty,
/// intact log.
///
/// Per line, in this order: the line ends with a newline
/// ([`Incomplete`](AuditProblem::Incomplete) otherwise, the crash case),
/// parses as an entry ([`Malformed`](AuditProblem::Malformed)), hashes to its
/// `hash` ([`HashMismatch`](AuditProblem::HashMismatch)), its `prev` is the
/// hash of the line before ([`PrevMismatch`](AuditProblem::PrevMismatch)) and
/// its `seq` is its line number ([`SeqMismatch`](AuditProblem::SeqMismatch)).
/// Lines removed from the end are not detected; see [`verify_anchored`].
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read. A damaged log is
/// not an error but a [`AuditReport::Broken`].
pub fn verify(path: impl AsRef<Path>) -> Result<AuditReport> {
    verify_inner(path.as_ref(), None)
}

/// Like [`verify`], and also checks that the log still holds the entry
/// `anchor` names (it may have grown since): a log that ends before it is
/// broken at the line after its end ([`Missing`](AuditProblem::Missing)),
/// and a different line in its place is an
/// [`AnchorMismatch`](AuditProblem::AnchorMismatch).
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read.
pub fn verify_anchored(path: impl AsRef<Path>, anchor: &AuditHead) -> Result<AuditReport> {
    verify_inner(path.as_ref(), Some(anchor))
}

fn verify_inner(path: &Path, anchor: Option<&AuditHead>) -> Result<AuditReport> {
    let mut entries: u64 = 0;
    let mut head: Option<AuditHead> = None;
    let broken = |line: usize, entries: u64, problem: AuditProblem| {
        Ok(AuditReport::Broken(BrokenEntry {
            line,
            valid_entries: entries,
            problem,
        }))
    };
    if let Some(file) = open_shared(path)? {
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        let mut prev = GENESIS.to_owned();
        let mut line_no: usize = 0;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let Some(line) = buf.strip_suffix(b"\n") else {
                return broken(line_no, entries, AuditProblem::Incomplete);
            };
            let entry = match check_line(line) {
                Ok(entry) => entry,
                Err(problem) => return broken(line_no, entries, problem),
            };
            if entry.prev != prev {
                let problem = AuditProblem::PrevMismatch {
                    recorded: entry.prev,
                    expected: prev,
                };
                return broken(line_no, entries, problem);
            }
            let expected_seq = entries + 1;
            if entry.seq != expected_seq {
                let problem = AuditProblem::SeqMismatch {
                    found: entry.seq,
                    expected: expected_seq,
                };
                return broken(line_no, entries, problem);
            }
            let line_hash = sha256_hex(line);
            if let Some(anchor) = anchor.filter(|a| a.seq == entry.seq) {
                if anchor.line_hash != line_hash {
                    let problem = AuditProblem::AnchorMismatch {
                        found: line_hash,
                        expected: anchor.line_hash.clone(),
                    };
                    return broken(line_no, entries, problem);
                }
            }
            entries = expected_seq;
            prev.clone_from(&line_hash);
            head = Some(AuditHead {
                seq: entry.seq,
                line_hash,
            });
        }
    }
    if let Some(anchor) = anchor.filter(|a| a.seq > entries) {
        let line = usize::try_from(entries)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let problem = AuditProblem::Missing {
            expected_seq: anchor.seq,
        };
        return broken(line, entries, problem);
    }
    Ok(AuditReport::Intact { entries, head })
}

/// Checks one line (without its newline) on its own: it is an entry and
/// its content hashes to its `hash` field.
fn check_line(line: &[u8]) -> std::result::Result<Entry, AuditProblem> {
    let suffix_len = HASH_PREFIX.len() + HEX_LEN + HASH_SUFFIX.len();
    let split = line.len().checked_sub(suffix_len);
    let (content, suffix) = match split.and_then(|at| Some((line.get(..at)?, line.get(at..)?))) {
        Some(parts) => parts,
        None => {
            return Err(AuditProblem::Malformed {
                message: "line too short to hold an entry".to_owned(),
            })
        }
    };
    let hex = suffix
        .strip_prefix(HASH_PREFIX)
        .and_then(|s| s.strip_suffix(HASH_SUFFIX))
        .filter(|h| {
            h.iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        });
    if hex.is_none() {
        return Err(AuditProblem::Malformed {
            message: "the line does not end with a \"hash\" field of 64 hex digits".to_owned(),
        });
    }
    let entry = serde_json::from_slice::<Entry>(line).map_err(|e| AuditProblem::Malformed {
        message: e.to_string(),
    })?;
    let mut hashed = Vec::with_capacity(content.len() + 1);
    hashed.extend_from_slice(content);
    hashed.push(b'}');
    let computed = sha256_hex(&hashed);
    if computed != entry.hash {
        return Err(AuditProblem::HashMismatch {
            recorded: entry.hash,
            computed,
        });
    }
    Ok(entry)
}

/// The end of a log file.
struct Tail {
    /// Everything up to and including the last newline.
    committed_len: u64,
    /// The last complete line without its newline, and where it starts.
    last_line: Option<(u64, Vec<u8>)>,
}

/// Finds the last complete line of a file of `len` bytes by reading
/// backwards from its end, so the cost does not grow with the log.
fn read_tail(file: &mut File, len: u64) -> std::io::Result<Tail> {
    let Some(last_nl) = rfind_newline(file, len)? else {
        return Ok(Tail {
            committed_len: 0,
            last_line: None,
        });
    };
    let start = rfind_newline(file, last_nl)?.map_or(0, |p| p + 1);
    let mut line = vec![0; usize::try_from(last_nl - start).unwrap_or(0)];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    Ok(Tail {
        committed_len: last_nl + 1,
        last_line: Some((start, line)),
    })
}

/// The offset of the last `\n` among the file's first `end` bytes.
fn rfind_newline(file: &mut File, end: u64) -> std::io::Result<Option<u64>> {
    let mut chunk = vec![0; TAIL_CHUNK];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(TAIL_CHUNK as u64);
        let buf = chunk
            .get_mut(..usize::try_from(hi - lo).unwrap_or(TAIL_CHUNK))
            .unwrap_or_default();
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(buf)?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}

/// How many newlines the file's first `end` bytes hold (for line numbers in
/// errors only; reads the whole prefix).
fn count_newlines(file: &mut File, end: u64) -> std::io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file.take(end));
    let mut count = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(count);
        }
        count += buf.iter().filter(|&&b| b == b'\n').count();
        let n = buf.len();
        reader.consume(n);
    }
}

/// Opens a log for reading under a shared lock; `None` when it does not
/// exist. The lock is released when the file is closed.
fn open_shared(path: &Path) -> Result<Option<File>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    file.lock_shared().map_err(io_err(path))?;
    Ok(Some(file))
}

fn empty_head() -> AuditHead {
    AuditHead {
        seq: 0,
        line_hash: GENESIS.to_owned(),
    }
}

/// `value` with every object's keys in sorted order, so the bytes written
/// do not depend on whether `serde_json` keeps insertion order.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}
