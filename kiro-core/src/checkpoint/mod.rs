//! Checkpoints of pipeline runs: what each node produced and which workspace
//! files it changed, stored so that a run can be resumed, rolled back and
//! forked, and so that a crash at any instant leaves the store readable.
//!
//! A [`Checkpoint`] is written after every node. It names its run, its own id,
//! its parent (the previous checkpoint, possibly in another run for the first
//! checkpoint of a fork), the node, the artifacts as JSON, and the
//! [`FileChange`]s the node made. File contents live in a content-addressed
//! blob store ([`BlobId`] = sha256), each content once.
//!
//! A file's state ([`FileState`]) is its content and permission bits, a
//! symbolic link's target, or its absence. The state of the workspace files
//! at a checkpoint is the fold of the changes along its parent chain:
//! [`CheckpointStore::materialize`] returns that [`Manifest`]. The first
//! checkpoint after a run starts also names a stored [`Tree`] of the whole
//! workspace, so that [`tree_at`] knows every file at any later checkpoint,
//! including those no checkpoint recorded.
//!
//! A rollback is all or nothing ([`RollbackPlan`]): every path is resolved
//! and every blob read and checked before any file changes, then the plan is
//! stored as a [`RollbackIntent`], applied step by step without following
//! links, and committed; [`complete_intents`] finishes one a crash
//! interrupted. [`rollback_files`] rewrites a set of repository roots from
//! one manifest to another (files created later are removed, edited ones
//! restored, deleted ones recreated).
//!
//! [`CheckpointStore`] is the seam for other backends (a database, an object
//! store); [`FileCheckpointStore`] keeps everything under `.kiro/runs/`.
//!
//! ```
//! use kiro_core::checkpoint::{Checkpoint, CheckpointId, CheckpointStore, FileChange, FileCheckpointStore, FileState};
//!
//! let dir = tempfile::tempdir()?;
//! let store = FileCheckpointStore::new(dir.path());
//! let run = store.create_run()?;
//! let blob = store.put_blob(b"fn main() {}\n")?;
//! let mut cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(1), "task 1");
//! cp.files.push(FileChange::new("app", "src/main.rs", FileState::present(blob, 0o644)));
//! store.put(&cp)?;
//! assert_eq!(store.latest(&run)?, Some(cp));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod lock;
mod node;
mod rollback;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use file::{Durability, FileCheckpointStore};
pub use lock::SpecLock;
pub use node::NodeId;
pub(crate) use rollback::mode_of;
pub use rollback::{
    apply_intent, complete_intents, rollback_files, RollbackHooks, RollbackIntent, RollbackPlan,
    RollbackReport, RollbackStep,
};

/// Checks that an id is usable as one file name on every platform.
fn check_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("empty")
    } else if id.len() > 128 {
        Some("longer than 128 bytes")
    } else if id.starts_with('.') {
        Some("starts with a dot")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Some("only ASCII letters, digits, '-', '_' and '.' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidId {
            id: id.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The id of a run: time-ordered and unique, e.g. `20261125T201500.123Z-3fa9`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    /// Checks that `id` is a usable run id (one file name, not `blobs`).
    pub fn new(id: impl Into<String>) -> Result<RunId> {
        let id = id.into();
        check_id(&id)?;
        if id == file::BLOBS_DIR {
            return Err(Error::InvalidId {
                id,
                reason: "reserved for the blob store".to_owned(),
            });
        }
        Ok(RunId(id))
    }

    /// A fresh id made of the current UTC time (to the millisecond) and four
    /// random hex digits. Stores make it unique by creating the run's
    /// directory exclusively and drawing again on a clash.
    pub fn generate() -> RunId {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // `RandomState` is seeded from the OS per process and varied per
        // instance, which is all the randomness a tie-breaker needs.
        let random = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            (now.as_nanos(), std::process::id()),
        );
        RunId(format!(
            "{}-{:04x}",
            format_utc(now.as_millis(), true),
            random & 0xffff
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RunId {
    type Error = Error;

    fn try_from(s: String) -> Result<RunId> {
        RunId::new(s)
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a checkpoint, unique within its run.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct CheckpointId(String);

impl CheckpointId {
    /// Checks that `id` is a usable checkpoint id (one file name).
    pub fn new(id: impl Into<String>) -> Result<CheckpointId> {
        let id = id.into();
        check_id(&id)?;
        Ok(CheckpointId(id))
    }

    /// The conventional id of the `n`-th checkpoint of a run (`c000001`),
    /// which sorts in write order.
    pub fn from_seq(n: u64) -> CheckpointId {
        CheckpointId(format!("c{n:06}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CheckpointId {
    type Error = Error;

    fn try_from(s: String) -> Result<CheckpointId> {
        CheckpointId::new(s)
    }
}

impl From<CheckpointId> for String {
    fn from(id: CheckpointId) -> String {
        id.0
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A checkpoint named by its run and id (written `run@id`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct CheckpointRef {
    /// The run.
    pub run_id: RunId,
    /// The checkpoint in that run.
    pub id: CheckpointId,
}

impl fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.run_id, self.id)
    }
}

impl std::str::FromStr for CheckpointRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<CheckpointRef> {
        let (run, id) = s.split_once('@').ok_or_else(|| Error::InvalidId {
            id: s.to_owned(),
            reason: "expected <run>@<checkpoint>".to_owned(),
        })?;
        Ok(CheckpointRef {
            run_id: RunId::new(run)?,
            id: CheckpointId::new(id)?,
        })
    }
}

/// The sha256 of a blob's content, as 64 lowercase hex digits.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct BlobId(String);

impl BlobId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobId {
        let digest = Sha256::digest(bytes);
        let mut hex = String::with_capacity(64);
        for b in digest.iter() {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        BlobId(hex)
    }

    /// Checks that `hex` is 64 lowercase hex digits.
    pub fn new(hex: impl Into<String>) -> Result<BlobId> {
        let hex = hex.into();
        if hex.len() == 64 && hex.bytes().all(|b| HEX.contains(&b)) {
            Ok(BlobId(hex))
        } else {
            Err(Error::InvalidId {
                id: hex,
                reason: "a blob id is 64 lowercase hex digits".to_owned(),
            })
        }
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl TryFrom<String> for BlobId {
    type Error = Error;

    fn try_from(s: String) -> Result<BlobId> {
        BlobId::new(s)
    }
}

impl From<BlobId> for String {
    fn from(b: BlobId) -> String {
        b.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The permission bits a checkpoint records and restores: read, write and
/// execute for owner, group and others. Set-user-id, set-group-id and sticky
/// bits are left out on purpose, so that no rollback ever creates a
/// set-user-id file.
pub const MODE_MASK: u32 = 0o777;

/// The mode recorded where the platform has no permission bits, and for
/// an old record's non-executable file.
pub const DEFAULT_MODE: u32 = 0o644;

/// The mode an old record's executable file is read as.
pub const EXECUTABLE_MODE: u32 = 0o755;

/// The state of one workspace file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileState {
    /// A regular file with this content and mode.
    Present {
        /// Its content.
        blob: BlobId,
        /// Its permission bits ([`MODE_MASK`]), e.g. `0o644` or `0o755`.
        /// Records written before modes were kept have `executable: bool`
        /// instead, read as [`EXECUTABLE_MODE`] or [`DEFAULT_MODE`].
        #[serde(alias = "executable", deserialize_with = "mode_or_executable")]
        #[schemars(with = "u32")]
        mode: u32,
    },
    /// A symbolic link, recorded and restored without following it.
    Symlink {
        /// The link's target as written in the link (relative or absolute),
        /// never resolved. A target that is not UTF-8 is kept lossily.
        target: String,
    },
    /// The file does not exist.
    #[default]
    Deleted,
}

impl FileState {
    /// A regular file with this content and mode (masked to [`MODE_MASK`]).
    pub fn present(blob: BlobId, mode: u32) -> FileState {
        FileState::Present {
            blob,
            mode: mode & MODE_MASK,
        }
    }

    /// The blob this state needs, if any.
    pub fn blob(&self) -> Option<&BlobId> {
        match self {
            FileState::Present { blob, .. } => Some(blob),
            FileState::Symlink { .. } | FileState::Deleted => None,
        }
    }
}

/// Reads a mode, or the `executable` flag of records written before modes
/// were kept (run logs on users' disks).
fn mode_or_executable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Mode(u32),
        Executable(bool),
    }
    Ok(match Either::deserialize(d)? {
        Either::Mode(mode) => mode & MODE_MASK,
        Either::Executable(true) => EXECUTABLE_MODE,
        Either::Executable(false) => DEFAULT_MODE,
    })
}

/// One file a node changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    /// The repository's name in the workspace.
    pub repo: String,
    /// The path relative to the repository root, `/`-separated.
    pub path: String,
    /// The file after the change.
    pub state: FileState,
    /// The file before the change. Rollback needs it the first time a chain
    /// of checkpoints touches a path, to restore files that existed before
    /// the run; `Deleted` (the default) means the file did not exist.
    #[serde(default)]
    pub before: FileState,
}

impl FileChange {
    /// A change of a file that did not exist before.
    pub fn new(repo: impl Into<String>, path: impl Into<String>, state: FileState) -> FileChange {
        FileChange {
            repo: repo.into(),
            path: path.into(),
            state,
            before: FileState::Deleted,
        }
    }

    /// Sets the state the file had before the change.
    #[must_use]
    pub fn with_before(mut self, before: FileState) -> FileChange {
        self.before = before;
        self
    }
}

/// The record of one node of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Checkpoint {
    /// The run it belongs to.
    pub run_id: RunId,
    /// Its id, unique within the run.
    pub id: CheckpointId,
    /// The checkpoint it follows; in another run for the first checkpoint of
    /// a fork, `None` for the first checkpoint of a fresh run.
    pub parent: Option<CheckpointRef>,
    /// The node that produced it (`requirements`, `task 2.1`, ...).
    pub node: String,
    /// When it was made, RFC 3339 UTC (`2026-11-25T20:15:00.123Z`).
    pub created_at: String,
    /// The run's artifacts after the node (spec, outcomes, report).
    pub artifacts: serde_json::Value,
    /// The workspace files the node changed.
    pub files: Vec<FileChange>,
    /// A blob holding the whole workspace [`Tree`] as it was before this
    /// checkpoint's changes (see [`put_tree`]): the first checkpoint after a
    /// run starts or resumes carries one, so that a rollback knows every
    /// file that existed, not only those a checkpoint recorded, and removes
    /// what a task wrote after the last checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<BlobId>,
}

impl Checkpoint {
    /// A checkpoint made now, with no parent, no artifacts and no files.
    pub fn new(run_id: RunId, id: CheckpointId, node: impl Into<String>) -> Checkpoint {
        Checkpoint {
            run_id,
            id,
            parent: None,
            node: node.into(),
            created_at: now_rfc3339(),
            artifacts: serde_json::Value::Null,
            files: Vec::new(),
            tree: None,
        }
    }

    /// This checkpoint as a reference.
    pub fn reference(&self) -> CheckpointRef {
        CheckpointRef {
            run_id: self.run_id.clone(),
            id: self.id.clone(),
        }
    }
}

/// A file's identity in a workspace: (repository, path).
pub type FileKey = (String, String);

/// What a chain of checkpoints did to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestEntry {
    /// The file before the chain first touched it.
    pub before: FileState,
    /// The file at the checkpoint.
    pub state: FileState,
}

/// Every file a chain of checkpoints touched, as of its last checkpoint.
pub type Manifest = BTreeMap<FileKey, ManifestEntry>;

/// Every file of a workspace (the files its scans see), by repository and
/// path: what [`put_tree`] stores and [`tree_at`] rebuilds.
pub type Tree = BTreeMap<FileKey, FileState>;

/// One file of a stored [`Tree`].
#[derive(Serialize, Deserialize)]
struct TreeEntry {
    repo: String,
    path: String,
    state: FileState,
}

/// Stores a whole tree as one blob (JSON, sorted, so that an unchanged tree
/// is stored once) and returns its id, for [`Checkpoint::tree`]. Every
/// content the tree names must already be stored.
pub fn put_tree<S: CheckpointStore + ?Sized>(store: &S, tree: &Tree) -> Result<BlobId> {
    let entries: Vec<TreeEntry> = tree
        .iter()
        .map(|((repo, path), state)| TreeEntry {
            repo: repo.clone(),
            path: path.clone(),
            state: state.clone(),
        })
        .collect();
    let bytes = serde_json::to_vec(&entries).map_err(|e| Error::Backend(Box::new(e)))?;
    store.put_blob(&bytes)
}

/// Reads a tree stored by [`put_tree`] (checked against its hash).
pub fn get_tree<S: CheckpointStore + ?Sized>(store: &S, id: &BlobId) -> Result<Tree> {
    let bytes = store.get_blob(id)?;
    let entries: Vec<TreeEntry> =
        serde_json::from_slice(&bytes).map_err(|e| Error::CorruptBlob {
            blob: format!("{id} (not a tree: {e})"),
            path: std::path::PathBuf::new(),
        })?;
    Ok(entries
        .into_iter()
        .map(|e| ((e.repo, e.path), e.state))
        .collect())
}

/// The whole workspace tree at a checkpoint: the tree of the newest
/// checkpoint of its chain that carries one ([`Checkpoint::tree`]), with the
/// changes of that checkpoint and of every later one up to `at` applied.
/// `None` when no checkpoint of the chain carries a tree (runs recorded
/// before trees were kept); [`CheckpointStore::materialize`] is then all
/// that is known.
pub fn tree_at<S: CheckpointStore + ?Sized>(store: &S, at: &CheckpointRef) -> Result<Option<Tree>> {
    let chain = ancestry(store, at, HashMap::new())?;
    let Some(base) = chain.iter().position(|c| c.tree.is_some()) else {
        return Ok(None);
    };
    let Some(id) = chain.get(base).and_then(|c| c.tree.as_ref()) else {
        return Ok(None);
    };
    let mut tree = get_tree(store, id)?;
    for cp in chain.get(..=base).unwrap_or_default().iter().rev() {
        for change in &cp.files {
            let key = (change.repo.clone(), change.path.clone());
            match &change.state {
                FileState::Deleted => tree.remove(&key),
                state => tree.insert(key, state.clone()),
            };
        }
    }
    Ok(Some(tree))
}

/// Checkpoints already read, by run and id (see [`ancestry`]).
pub(crate) type RunLogs = HashMap<RunId, HashMap<CheckpointId, Checkpoint>>;

/// The checkpoint `at` and its ancestors, newest first, crossing into the
/// parent run of a fork. Each run's log is read once (`known` may hold logs
/// the caller has already read), because a chain of n checkpoints would
/// otherwise cost n reads of the same log. A parent link to a checkpoint
/// that does not exist, or back into the chain (only a corrupt store has
/// one), is [`Error::CheckpointNotFound`].
pub(crate) fn ancestry<S: CheckpointStore + ?Sized>(
    store: &S,
    at: &CheckpointRef,
    mut known: RunLogs,
) -> Result<Vec<Checkpoint>> {
    let mut chain = Vec::new();
    let mut next = Some(at.clone());
    while let Some(at) = next {
        if !known.contains_key(&at.run_id) {
            let all = store.list(&at.run_id)?;
            let by_id = all.into_iter().map(|c| (c.id.clone(), c)).collect();
            known.insert(at.run_id.clone(), by_id);
        }
        // Removing what was visited makes a parent cycle end in an error
        // instead of a loop.
        let cp = known
            .get_mut(&at.run_id)
            .and_then(|m| m.remove(&at.id))
            .ok_or_else(|| Error::CheckpointNotFound {
                run: at.run_id.to_string(),
                id: at.id.to_string(),
            })?;
        next = cp.parent.clone();
        chain.push(cp);
    }
    Ok(chain)
}

/// Stores checkpoints and blobs.
///
/// Implementations must be safe to share between threads. The caller
/// guarantees that a run has one writer at a time and that every blob a
/// checkpoint references was stored with [`put_blob`](Self::put_blob) before
/// the checkpoint is [`put`](Self::put). The implementation guarantees that a
/// checkpoint is either wholly stored or absent after a crash at any instant,
/// that [`list`](Self::list) returns checkpoints in the order they were put,
/// and that a stored checkpoint's blobs can be read back.
pub trait CheckpointStore: Send + Sync {
    /// Starts a new run with a fresh, unique id and no checkpoints.
    fn create_run(&self) -> Result<RunId>;

    /// Stores a checkpoint durably. Errors: [`Error::DuplicateCheckpoint`]
    /// when the run already has this id, [`Error::BlobNotFound`] when a file
    /// change references a blob that was not stored.
    fn put(&self, checkpoint: &Checkpoint) -> Result<()>;

    /// Stores several checkpoints (the nodes that finished together), in
    /// order, possibly cheaper than one [`put`](Self::put) each. After a
    /// crash or an error, each checkpoint is wholly stored or absent, and
    /// those stored are a prefix of the batch's checkpoints of each run.
    fn put_many(&self, checkpoints: &[Checkpoint]) -> Result<()> {
        checkpoints.iter().try_for_each(|c| self.put(c))
    }

    /// One checkpoint; [`Error::CheckpointNotFound`] when absent.
    fn get(&self, run: &RunId, id: &CheckpointId) -> Result<Checkpoint>;

    /// The checkpoints of a run in the order they were put; empty for a run
    /// without checkpoints, [`Error::RunNotFound`] for an unknown run.
    fn list(&self, run: &RunId) -> Result<Vec<Checkpoint>>;

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<RunId>>;

    /// The last checkpoint put in a run, if any.
    fn latest(&self, run: &RunId) -> Result<Option<Checkpoint>> {
        Ok(self.list(run)?.pop())
    }

    /// Stores a content once and returns its id.
    fn put_blob(&self, bytes: &[u8]) -> Result<BlobId>;

    /// Whether a content is stored, without reading it.
    fn has_blob(&self, id: &BlobId) -> bool {
        self.get_blob(id).is_ok()
    }

    /// A stored content, checked against its hash ([`Error::BlobNotFound`],
    /// [`Error::CorruptBlob`]).
    fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>>;

    /// The workspace files as of a checkpoint: the fold of the file changes
    /// along its parent chain, oldest first (crossing into the parent run of
    /// a fork).
    fn materialize(&self, run: &RunId, id: &CheckpointId) -> Result<Manifest> {
        let at = CheckpointRef {
            run_id: run.clone(),
            id: id.clone(),
        };
        let chain = ancestry(self, &at, HashMap::new())?;
        let mut manifest = Manifest::new();
        for cp in chain.iter().rev() {
            for change in &cp.files {
                manifest
                    .entry((change.repo.clone(), change.path.clone()))
                    .and_modify(|e| e.state = change.state.clone())
                    .or_insert_with(|| ManifestEntry {
                        before: change.before.clone(),
                        state: change.state.clone(),
                    });
            }
        }
        Ok(manifest)
    }

    /// Stores a rollback's intent durably, replacing an earlier one of the
    /// same run (the run of [`RollbackIntent::checkpoint`]): everything
    /// [`apply_intent`] is about to do, so that a crash part-way through can
    /// be completed by [`complete_intents`]. The intent is whole or absent
    /// after a crash. The default keeps nothing: with such a store a
    /// rollback is still checked before it starts, but one interrupted by a
    /// crash is completed only by rolling back again.
    fn put_intent(&self, intent: &RollbackIntent) -> Result<()> {
        let _ = intent;
        Ok(())
    }

    /// Every intent stored and not yet cleared, oldest run first.
    fn intents(&self) -> Result<Vec<RollbackIntent>> {
        Ok(Vec::new())
    }

    /// Removes the intent of a run; nothing happens when it has none.
    fn clear_intent(&self, run: &RunId) -> Result<()> {
        let _ = run;
        Ok(())
    }

    /// Starts a new run from a checkpoint: its first checkpoint (node
    /// `fork`, id [`CheckpointId::from_seq(1)`](CheckpointId::from_seq))
    /// has the given one as parent and carries its artifacts. The old run is
    /// left untouched.
    fn fork(&self, run: &RunId, id: &CheckpointId) -> Result<RunId> {
        let from = self.get(run, id)?;
        let new_run = self.create_run()?;
        let mut first = Checkpoint::new(new_run.clone(), CheckpointId::from_seq(1), "fork");
        first.parent = Some(from.reference());
        first.artifacts = from.artifacts;
        self.put(&first)?;
        Ok(new_run)
    }
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<T: CheckpointStore + ?Sized> CheckpointStore for $ty {
            fn create_run(&self) -> Result<RunId> {
                (**self).create_run()
            }
            fn put(&self, checkpoint: &Checkpoint) -> Result<()> {
                (**self).put(checkpoint)
            }
            fn put_many(&self, checkpoints: &[Checkpoint]) -> Result<()> {
                (**self).put_many(checkpoints)
            }
            fn get(&self, run: &RunId, id: &CheckpointId) -> Result<Checkpoint> {
                (**self).get(run, id)
            }
            fn list(&self, run: &RunId) -> Result<Vec<Checkpoint>> {
                (**self).list(run)
            }
            fn runs(&self) -> Result<Vec<RunId>> {
                (**self).runs()
            }
            fn latest(&self, run: &RunId) -> Result<Option<Checkpoint>> {
                (**self).latest(run)
            }
            fn put_blob(&self, bytes: &[u8]) -> Result<BlobId> {
                (**self).put_blob(bytes)
            }
            fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
                (**self).get_blob(id)
            }
            fn has_blob(&self, id: &BlobId) -> bool {
                (**self).has_blob(id)
            }
            fn materialize(&self, run: &RunId, id: &CheckpointId) -> Result<Manifest> {
                (**self).materialize(run, id)
            }
            fn fork(&self, run: &RunId, id: &CheckpointId) -> Result<RunId> {
                (**self).fork(run, id)
            }
            fn put_intent(&self, intent: &RollbackIntent) -> Result<()> {
                (**self).put_intent(intent)
            }
            fn intents(&self) -> Result<Vec<RollbackIntent>> {
                (**self).intents()
            }
            fn clear_intent(&self, run: &RunId) -> Result<()> {
                (**self).clear_intent(run)
            }
        }
    )*};
}

forward_store!(&T, Box<T>, std::sync::Arc<T>);

/// The current UTC time as RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format_utc(millis, false)
}

/// Formats milliseconds since the Unix epoch as UTC, either RFC 3339
/// (`2026-11-25T20:15:00.123Z`) or compact for file names
/// (`20261125T201500.123Z`).
fn format_utc(millis: u128, compact: bool) -> String {
    let secs = millis / 1000;
    let ms = millis % 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let (y, mo, d) = civil_from_days(days);
    if compact {
        format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}.{ms:03}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), so that no date crate is needed for stamps.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_utc(0, false), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T20:15:00.123Z
        assert_eq!(
            format_utc(1_795_637_700_123, false),
            "2026-11-25T20:15:00.123Z"
        );
        assert_eq!(format_utc(951_782_400_000, true), "20000229T000000.000Z");
    }

    #[test]
    fn ids_are_checked() {
        assert!(RunId::new("blobs").is_err());
        assert!(RunId::new("../x").is_err());
        assert!(CheckpointId::new("").is_err());
        assert!(BlobId::new("AB").is_err());
        let r: CheckpointRef = "run-1@c000002".parse().unwrap();
        assert_eq!(r.to_string(), "run-1@c000002");
    }
}
