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
//! # Typed events
//!
//! Each known [`AuditKind`] has one payload type ([`AuditEvent`]:
//! [`GateAudit`], [`PhaseAudit`], [`TaskAudit`], [`RollbackAudit`],
//! [`ForkAudit`], [`VerificationAudit`]); [`NewEntry::event`] writes one and
//! [`Entry::event`] reads it back, so every producer of a kind writes the
//! same `data` shape.
//!
//! # Line format
//!
//! One JSON object per line, fields always in this order, no whitespace
//! between tokens (the compact form `serde_json` writes):
//!
//! ```text
//! {"seq":1,"time":"2026-11-25T20:15:00.123Z","actor":"alice","actor_source":"env:KIRO_ACTOR",
//!  "kind":"approval","spec":"login","run":"...","data":{...},"prev":"000...000","hash":"9f2c..."}
//! ```
//!
//! - `seq` counts from 1 and equals the line number.
//! - `actor` is a claim, not a verified identity: `actor_source` says who
//!   made it ([`ActorSource`]: `env:KIRO_ACTOR`, `git-config`, `os-user`,
//!   `caller`). Entries written before kiro recorded the source have none,
//!   and still verify. Actor names with control characters are refused
//!   ([`Error::InvalidActor`]).
//! - Secret values of the environment are replaced by `[redacted:NAME]`
//!   before anything is written ([`crate::redact`]).
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
//! # Heads, and what verification can and cannot prove
//!
//! The chain alone proves that no line was changed, removed, inserted or
//! moved *relative to the lines after it*. Removing lines at the end leaves
//! a shorter, valid chain, and lines appended with recomputed hashes make a
//! longer one. So after every append, [`AuditLog`] also records the new
//! head ([`AuditHead`]: entry count and hash of the last line) in
//! `.kiro/runs/audit-heads.jsonl` and, for an entry of a run, in
//! `.kiro/runs/<run>/audit-heads.jsonl` ([`HEADS_FILE`]), both append-only.
//! [`AuditLog::verify`] checks the log against every recorded head: a
//! truncated, emptied or deleted log misses a head's entry
//! ([`AuditProblem::Missing`]), a rewritten one has another line in its
//! place ([`AuditProblem::AnchorMismatch`]), and lines after the last
//! head were not appended through kiro ([`AuditProblem::Unwitnessed`]).
//!
//! Someone who can write `.kiro/` can still rewrite the log *and* every
//! heads file consistently, or delete them all: a hash chain kept beside
//! the data it protects cannot stop that. To detect it, keep a head
//! somewhere they cannot write (a commit message, a CI artifact, a signed
//! release note) and check the log against it with [`verify_anchored`].

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{now_rfc3339, RunId};
use crate::error::{io_err, Error, Result};
use crate::redact::Redactor;
use crate::store::sync_dir;
use crate::workspace::sha256_hex;

mod anchor;
mod event;

pub use anchor::{
    reverify_approvals, verify_against_anchors, Anchor, AnchorReport, TokenReport,
    UnreadableAnchor, AUDIT_HEAD_TRAILER,
};

pub use event::{
    file_label, ApprovalAudit, AuditEvent, ForkAudit, GateAudit, IdentityRecord, PhaseAudit,
    PhaseResult, RefusalAudit, RollbackAudit, TaskAudit, VerificationAudit,
};

/// Where the audit log lives, relative to the workspace root.
pub const AUDIT_PATH: &str = ".kiro/audit.jsonl";

/// The `prev` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The environment variable naming the actor, before git and the OS user.
pub const ACTOR_ENV: &str = "KIRO_ACTOR";

/// The file of recorded heads, in the heads directory (`.kiro/runs/`) and
/// in each run's directory there.
pub const HEADS_FILE: &str = "audit-heads.jsonl";

/// The heads directory beside a log (`.kiro/runs/` for `.kiro/audit.jsonl`).
const RUNS_DIR: &str = "runs";

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
    /// A verification verdict: a run's verify phase or `kiro verify`
    /// (payload [`VerificationAudit`]).
    Verification,
    /// A person signed off a governed gate with `kiro approve` (payload
    /// [`ApprovalAudit`]).
    PolicyApproval,
    /// `.kiro/policy.toml` refused someone's sign-off (payload
    /// [`RefusalAudit`]).
    PolicyRefusal,
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
            AuditKind::PolicyApproval => "policy_approval",
            AuditKind::PolicyRefusal => "policy_refusal",
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
            "policy_approval" => AuditKind::PolicyApproval,
            "policy_refusal" => AuditKind::PolicyRefusal,
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
    /// Who did it; `None` means the log's actor (see
    /// [`AuditLog::with_actor`]), else [`current_actor`].
    pub actor: Option<String>,
    /// Where `actor` came from; `None` with an `actor` means
    /// [`ActorSource::Caller`].
    pub actor_source: Option<ActorSource>,
    /// The spec it concerns, if any.
    pub spec: Option<String>,
    /// The run it concerns, if any.
    pub run: Option<String>,
    /// Free details (phase name, verdict counts, checkpoint ids...); for a
    /// known kind, the payload of its [`AuditEvent`].
    pub data: Value,
}

impl NewEntry {
    /// An entry of `kind` by the current actor, with empty `data`.
    pub fn new(kind: impl Into<AuditKind>) -> NewEntry {
        NewEntry {
            kind: kind.into(),
            actor: None,
            actor_source: None,
            spec: None,
            run: None,
            data: Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets the actor instead of taking it from the environment; it is
    /// recorded as coming from the [`Caller`](ActorSource::Caller).
    pub fn with_actor(mut self, actor: impl Into<String>) -> NewEntry {
        self.actor = Some(actor.into());
        self.actor_source = None;
        self
    }

    /// Sets the actor and where it came from (an [`Actor`] resolved by
    /// [`resolve_actor`] or [`current_actor`]).
    pub fn with_identity(mut self, actor: Actor) -> NewEntry {
        self.actor = Some(actor.name);
        self.actor_source = Some(actor.source);
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
    /// Where `actor` came from (`env:KIRO_ACTOR`, `git-config`, `os-user`,
    /// `caller`). Absent in entries written before kiro recorded it; those
    /// still verify, because the hash covers the line's bytes as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_source: Option<ActorSource>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_source: Option<&'a ActorSource>,
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
        /// How many recorded heads (or anchors) the log was checked
        /// against; 0 means a truncated log could not have been noticed.
        #[serde(default)]
        heads_checked: u64,
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
    /// Entries follow the last recorded head. Every append through
    /// [`AuditLog`] records a head, so these lines were appended by hand (a
    /// forgery with recomputed hashes), by a program that keeps no heads,
    /// or the head could not be written (a crash between the two writes, a
    /// full disk). The log alone cannot tell these apart, so it is reported
    /// as broken: someone must look.
    Unwitnessed {
        /// The last recorded head's sequence number.
        last_recorded_seq: u64,
    },
    /// An approval's ID token no longer proves the identity the entry
    /// records: its signature, issuer or audience fails offline
    /// re-verification, it was not valid at the entry's time, or the
    /// entry's claims differ from the token's ([`reverify_approvals`]).
    IdentityRejected {
        /// Why.
        reason: String,
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
                "anchor mismatch: the line hashes to {found}, the recorded head says {expected}"
            ),
            AuditProblem::Unwitnessed { last_recorded_seq } => write!(
                f,
                "entries after the last recorded head (entry {last_recorded_seq}): \
                 appended without kiro, or kiro could not record their head"
            ),
            AuditProblem::IdentityRejected { reason } => {
                write!(f, "approval identity rejected: {reason}")
            }
        }
    }
}

/// Where an entry's actor name came from. Until verified identities arrive,
/// an actor is only a claim: this says whose claim it is, so a reader can
/// weigh `env:KIRO_ACTOR` (anyone can set it) against `git-config` or
/// `os-user`.
///
/// Serialized as a string: `env:<VARIABLE>`, `git-config`, `os-user`,
/// `caller` or `unknown`; any other string is kept as
/// [`ActorSource::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(from = "String", into = "String")]
pub enum ActorSource {
    /// An environment variable chosen to name the actor ([`ACTOR_ENV`]).
    Env(String),
    /// `git config user.email` in the workspace.
    GitConfig,
    /// The operating system's user (`USER`, else `USERNAME`).
    OsUser,
    /// The program appending the entry named the actor
    /// ([`NewEntry::with_actor`]).
    Caller,
    /// Nothing named an actor; the name is `unknown`.
    Unknown,
    /// Anything else, by name (written by newer versions or integrators).
    Other(String),
}

impl From<String> for ActorSource {
    fn from(name: String) -> ActorSource {
        match name.as_str() {
            "git-config" => ActorSource::GitConfig,
            "os-user" => ActorSource::OsUser,
            "caller" => ActorSource::Caller,
            "unknown" => ActorSource::Unknown,
            _ => match name.strip_prefix("env:") {
                Some(var) if !var.is_empty() => ActorSource::Env(var.to_owned()),
                _ => ActorSource::Other(name),
            },
        }
    }
}

impl From<ActorSource> for String {
    fn from(source: ActorSource) -> String {
        source.to_string()
    }
}

impl std::fmt::Display for ActorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorSource::Env(var) => write!(f, "env:{var}"),
            ActorSource::GitConfig => f.write_str("git-config"),
            ActorSource::OsUser => f.write_str("os-user"),
            ActorSource::Caller => f.write_str("caller"),
            ActorSource::Unknown => f.write_str("unknown"),
            ActorSource::Other(name) => f.write_str(name),
        }
    }
}

/// An actor name and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// The name recorded in entries.
    pub name: String,
    /// Where it came from.
    pub source: ActorSource,
}

/// Refuses an actor name holding a control character (a line break, an
/// ANSI escape, a bidirectional override): printed in `kiro audit list` it
/// would forge rows or rewrite the screen.
///
/// # Errors
/// [`Error::InvalidActor`] naming `source`.
pub fn check_actor(name: &str, source: &ActorSource) -> Result<()> {
    if name.chars().any(crate::escape::is_unsafe_char) {
        return Err(Error::InvalidActor {
            origin: source.to_string(),
            value: name.to_owned(),
            reason: "an actor name may not contain control characters".to_owned(),
        });
    }
    Ok(())
}

/// The actor from environment lookups and git: [`ACTOR_ENV`]
/// (`KIRO_ACTOR`), else what `git` returns (`git config user.email`), else
/// `USER`, else `USERNAME`, else `unknown`. Blank values count as unset and
/// values are trimmed. `git` is only called when `KIRO_ACTOR` is unset.
///
/// ```
/// use kiro_core::audit::{resolve_actor, ActorSource};
///
/// let env = |k: &str| (k == "USER").then(|| "bob".to_owned());
/// let actor = resolve_actor(env, || None)?;
/// assert_eq!((actor.name.as_str(), actor.source), ("bob", ActorSource::OsUser));
/// # Ok::<(), kiro_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidActor`] when the first name found holds a control
/// character: it is refused, not skipped, so a bad `KIRO_ACTOR` is noticed
/// and fixed rather than silently replaced by another name.
pub fn resolve_actor(
    env: impl Fn(&str) -> Option<String>,
    git: impl FnOnce() -> Option<String>,
) -> Result<Actor> {
    let nonblank = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let found = nonblank(env(ACTOR_ENV))
        .map(|name| (name, ActorSource::Env(ACTOR_ENV.to_owned())))
        .or_else(|| nonblank(git()).map(|name| (name, ActorSource::GitConfig)))
        .or_else(|| {
            USER_ENVS
                .iter()
                .find_map(|var| nonblank(env(var)))
                .map(|name| (name, ActorSource::OsUser))
        });
    match found {
        Some((name, source)) => {
            check_actor(&name, &source)?;
            Ok(Actor { name, source })
        }
        None => Ok(Actor {
            name: "unknown".to_owned(),
            source: ActorSource::Unknown,
        }),
    }
}

/// The actor of this process (see [`resolve_actor`]), asking git in `dir`
/// (the workspace, so a repository's own `user.email` counts).
///
/// # Errors
/// [`Error::InvalidActor`] as for [`resolve_actor`].
pub fn current_actor(dir: &Path) -> Result<Actor> {
    resolve_actor(|name| std::env::var(name).ok(), || git_user_email(dir))
}

/// `git config user.email` run in `dir`, or `None` when git is missing,
/// `dir` is not readable or no email is configured.
fn git_user_email(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["config", "--get", "user.email"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

/// The audit log of a workspace.
///
/// Holds only paths and settings: every call opens, locks and closes the
/// file, so any number of `AuditLog`s, threads and processes can share one
/// log. Clones share the settings and the resolved actor.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
    heads_dir: Option<PathBuf>,
    redactor: Arc<Redactor>,
    /// The actor of entries that name none: set by [`AuditLog::with_actor`]
    /// or resolved at the first such append (running git once, not per
    /// entry).
    actor: Arc<OnceLock<Actor>>,
}

impl AuditLog {
    /// The log of the workspace at `workspace_root` (`.kiro/audit.jsonl`),
    /// keeping its heads in `.kiro/runs/` and redacting the secrets of this
    /// process's environment ([`Redactor::from_env`]). Nothing is created
    /// until the first append.
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

    /// A log at an explicit file path, keeping its heads in `runs/` beside
    /// it (for `.kiro/audit.jsonl`, that is `.kiro/runs/`) and redacting
    /// the secrets of this process's environment.
    pub fn at(path: impl Into<PathBuf>) -> AuditLog {
        let path = path.into();
        let heads_dir = path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(RUNS_DIR);
        AuditLog {
            path,
            heads_dir: Some(heads_dir),
            redactor: Arc::new(Redactor::from_env()),
            actor: Arc::new(OnceLock::new()),
        }
    }

    /// Keeps the heads in `dir` (`Some`) or nowhere (`None`: truncation and
    /// appended forgeries then go unnoticed by [`AuditLog::verify`]).
    #[must_use]
    pub fn with_heads_dir(mut self, dir: Option<PathBuf>) -> AuditLog {
        self.heads_dir = dir;
        self
    }

    /// Redacts with `redactor` instead of the process environment's.
    #[must_use]
    pub fn with_redactor(mut self, redactor: Redactor) -> AuditLog {
        self.redactor = Arc::new(redactor);
        self
    }

    /// Records `actor` for entries that name none, instead of resolving
    /// [`current_actor`].
    ///
    /// # Errors
    /// [`Error::InvalidActor`] when the name holds a control character.
    pub fn with_actor(mut self, actor: Actor) -> Result<AuditLog> {
        check_actor(&actor.name, &actor.source)?;
        self.actor = Arc::new(OnceLock::from(actor));
        Ok(self)
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the heads are kept, if anywhere: `audit-heads.jsonl` in this
    /// directory, and in `<run>/` for the entries of each run.
    pub fn heads_dir(&self) -> Option<&Path> {
        self.heads_dir.as_deref()
    }

    /// The actor of entries that name none: the one given to
    /// [`AuditLog::with_actor`], else [`current_actor`] (resolved once per
    /// log and its clones). Call it before starting work that will be
    /// audited, so a bad `KIRO_ACTOR` stops the work before it starts
    /// rather than at its first audit entry.
    ///
    /// # Errors
    /// [`Error::InvalidActor`] when the name holds a control character.
    pub fn actor(&self) -> Result<Actor> {
        self.default_actor()
    }

    fn default_actor(&self) -> Result<Actor> {
        if let Some(actor) = self.actor.get() {
            return Ok(actor.clone());
        }
        // git runs in the workspace (the nearest existing ancestor of the
        // log), so a repository's own `user.email` counts.
        let dir = self
            .path
            .ancestors()
            .skip(1)
            .find(|d| d.is_dir())
            .unwrap_or_else(|| Path::new("."));
        let actor = current_actor(dir)?;
        Ok(self.actor.get_or_init(|| actor).clone())
    }

    /// Appends an entry and returns it as written, once it is durable, then
    /// records the new head (see the module documentation). Secret values
    /// ([`Redactor`]) are replaced in the actor, spec, run and data before
    /// anything is written.
    ///
    /// # Errors
    /// - [`Error::InvalidActor`] when the actor (given, or from the
    ///   environment) holds a control character; nothing is written.
    /// - [`Error::CorruptAudit`] when the log's last line is not a valid
    ///   entry (malformed or edited): the chain is not extended past a line
    ///   known to be broken. Run [`verify`] to see the whole picture.
    /// - [`Error::Io`] when the file cannot be created, locked, read or
    ///   written; a failed write is cut off again where possible.
    pub fn append(&self, entry: NewEntry) -> Result<Entry> {
        let actor = match &entry.actor {
            Some(name) => {
                let source = entry.actor_source.clone().unwrap_or(ActorSource::Caller);
                check_actor(name, &source)?;
                Actor {
                    name: name.clone(),
                    source,
                }
            }
            None => self.default_actor()?,
        };
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
        let result = self.append_locked(&mut file, entry, actor);
        if let Ok((entry, head)) = &result {
            // Under the log's lock, so heads are written in log order.
            self.record_head(entry, head);
        }
        // Closing the file releases the lock too; unlocking explicitly only
        // lets waiting writers in sooner, so its failure is harmless.
        let _ignored = file.unlock();
        result.map(|(entry, _)| entry)
    }

    /// Appends the head after `entry` to `audit-heads.jsonl` in the heads
    /// directory and, for an entry of a run whose directory exists there,
    /// in that run's directory. Best effort: the entry is already committed,
    /// and a head that could not be written shows up in [`AuditLog::verify`]
    /// as entries after the last recorded head, which is the safe side.
    fn record_head(&self, entry: &Entry, head: &AuditHead) {
        let Some(dir) = &self.heads_dir else {
            return;
        };
        let Ok(mut json) = serde_json::to_vec(head) else {
            return;
        };
        json.push(b'\n');
        if !dir.is_dir() && fs::create_dir_all(dir).is_err() {
            return;
        }
        let _ignored = append_head_line(&dir.join(HEADS_FILE), &json);
        let run_dir = entry
            .run
            .as_deref()
            .filter(|run| RunId::new(*run).is_ok())
            .map(|run| dir.join(run))
            .filter(|d| d.is_dir());
        if let Some(run_dir) = run_dir {
            let _ignored = append_head_line(&run_dir.join(HEADS_FILE), &json);
        }
    }

    /// Every head recorded in the heads directory: `audit-heads.jsonl` and
    /// `<run>/audit-heads.jsonl` for every run. Torn last lines (a crash
    /// while writing one) are skipped.
    ///
    /// # Errors
    /// [`Error::CorruptAudit`] (naming the heads file) for a complete line
    /// that is not a head: someone edited it; [`Error::Io`] when a file
    /// cannot be read.
    pub fn recorded_heads(&self) -> Result<Vec<AuditHead>> {
        let Some(dir) = &self.heads_dir else {
            return Ok(Vec::new());
        };
        let mut files = vec![dir.join(HEADS_FILE)];
        match fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(io_err(dir))?;
                    let file = entry.path().join(HEADS_FILE);
                    if entry.file_type().map_err(io_err(&entry.path()))?.is_dir() {
                        files.push(file);
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: dir.clone(),
                    source,
                })
            }
        }
        let mut heads = Vec::new();
        for file in files {
            let bytes = match fs::read(&file) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Io { path: file, source }),
            };
            for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
                let Some(line) = line.strip_suffix(b"\n") else {
                    continue;
                };
                let head =
                    serde_json::from_slice::<AuditHead>(line).map_err(|e| Error::CorruptAudit {
                        path: file.clone(),
                        line: i + 1,
                        message: format!("not an audit head: {e}"),
                    })?;
                heads.push(head);
            }
        }
        Ok(heads)
    }

    fn append_locked(
        &self,
        file: &mut File,
        new: NewEntry,
        actor: Actor,
    ) -> Result<(Entry, AuditHead)> {
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
        let redactor = &self.redactor;
        let actor_name = redactor.redact(&actor.name).into_owned();
        let spec = new.spec.map(|s| redactor.redact(&s).into_owned());
        let run = new.run.map(|r| redactor.redact(&r).into_owned());
        let mut data = canonical(&new.data);
        redactor.redact_value(&mut data);
        let body = Body {
            seq,
            time: &time,
            actor: &actor_name,
            actor_source: Some(&actor.source),
            kind: &new.kind,
            spec: spec.as_deref(),
            run: run.as_deref(),
            data: &data,
            prev: &prev,
        };
        let body = serde_json::to_string(&body).map_err(|e| Error::Backend(Box::new(e)))?;
        let hash = sha256_hex(body.as_bytes());
        let open = body.strip_suffix('}').unwrap_or(&body);
        let line = format!("{open},\"hash\":\"{hash}\"}}\n");
        let head = AuditHead {
            seq,
            line_hash: sha256_hex(line.trim_end_matches('\n').as_bytes()),
        };

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
        let entry = Entry {
            seq,
            time,
            actor: actor_name,
            actor_source: Some(actor.source),
            kind: new.kind,
            spec,
            run,
            data,
            prev,
            hash,
        };
        Ok((entry, head))
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

    /// Verifies this log ([`verify`]) and checks it against every head
    /// recorded in the heads directory ([`AuditLog::recorded_heads`]):
    /// the log must still hold each head's entry, unchanged
    /// ([`Missing`](AuditProblem::Missing),
    /// [`AnchorMismatch`](AuditProblem::AnchorMismatch)), and, once any
    /// head is recorded, no entry may follow the last one
    /// ([`Unwitnessed`](AuditProblem::Unwitnessed)). So a truncated,
    /// emptied or deleted log, and lines appended by hand, are broken even
    /// though their chain is whole. With no recorded head (a log written
    /// before kiro kept them, or heads removed too) this is [`verify`].
    ///
    /// # Errors
    /// [`Error::Io`] when the log or a heads file cannot be read;
    /// [`Error::CorruptAudit`] naming a heads file with a line that is not
    /// a head.
    pub fn verify(&self) -> Result<AuditReport> {
        let heads = self.recorded_heads()?;
        verify_inner(&self.path, &heads, true)
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
    verify_inner(path.as_ref(), &[], false)
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
    verify_inner(path.as_ref(), std::slice::from_ref(anchor), false)
}

/// Verifies the chain and checks every anchor; with `witnessed`, entries
/// after the last anchor are a finding too.
fn verify_inner(path: &Path, anchors: &[AuditHead], witnessed: bool) -> Result<AuditReport> {
    let mut by_seq: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for a in anchors {
        by_seq.entry(a.seq).or_default().push(&a.line_hash);
    }
    let last_anchor = by_seq.keys().next_back().copied();
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
            let recorded = by_seq
                .get(&entry.seq)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(expected) = recorded.iter().find(|h| **h != line_hash) {
                let problem = AuditProblem::AnchorMismatch {
                    found: line_hash,
                    expected: (*expected).to_owned(),
                };
                return broken(line_no, entries, problem);
            }
            entries = expected_seq;
            prev.clone_from(&line_hash);
            head = Some(AuditHead {
                seq: entry.seq,
                line_hash,
            });
        }
    }
    let line_after = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1);
    match last_anchor {
        Some(last) if last > entries => {
            let problem = AuditProblem::Missing { expected_seq: last };
            return broken(line_after(entries), entries, problem);
        }
        Some(last) if witnessed && last < entries => {
            let problem = AuditProblem::Unwitnessed {
                last_recorded_seq: last,
            };
            return broken(line_after(last), last, problem);
        }
        _ => {}
    }
    Ok(AuditReport::Intact {
        entries,
        head,
        heads_checked: anchors.len() as u64,
    })
}

/// Appends one head line to a heads file and makes it durable, first
/// cutting off a line torn by a crash (the caller holds the log's lock, so
/// nobody else writes the file).
fn append_head_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    let committed = rfind_newline(&mut file, len)?.map_or(0, |p| p + 1);
    if committed < len {
        file.set_len(committed)?;
    }
    file.write_all(line)?;
    file.sync_data()
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
