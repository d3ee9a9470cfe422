//! Rewriting repository trees to a recorded state, all or nothing.
//!
//! A rollback happens in two steps. [`RollbackPlan::new`] decides, before
//! anything is touched, what each file must become: it resolves every path
//! (refusing escapes), looks at what is on disk, and reads and hash-checks
//! every blob it will need, so that a missing or corrupt blob refuses the
//! whole rollback with [`Error::BlobNotFound`] or [`Error::CorruptBlob`]
//! and a tree untouched. What is on disk and differs is stored as a blob
//! too, so that nothing a rollback overwrites or removes is lost.
//!
//! [`apply_intent`] then stores the plan as a [`RollbackIntent`] (through
//! [`CheckpointStore::put_intent`]) before the first file changes, applies
//! it step by step (each step idempotent: it looks at the file again and
//! does nothing when it is already as wanted), commits the checkpoint that
//! records the rollback, and clears the intent. A crash part-way leaves the
//! intent behind; [`complete_intents`], which the engine, `kiro rollback`
//! and `kiro fork` call before anything else, rolls it forward.
//!
//! Files are written without ever following a symbolic link: a link where a
//! file must be is replaced, not written through, and a directory on the way
//! that is a link refuses the step ([`Error::PathEscape`]).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    BlobId, Checkpoint, CheckpointRef, CheckpointStore, FileChange, FileKey, FileState, Manifest,
    MODE_MASK,
};
use crate::error::{io_err, Error, Result};
use crate::store::{sync_dir, TEMP_PREFIX};

/// What a rollback changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// Files written (restored, recreated, relinked, or with their mode changed).
    pub written: Vec<FileKey>,
    /// Files removed.
    pub removed: Vec<FileKey>,
}

/// One step of a rollback: a file and the state it must reach. Its
/// `before` is what was on disk when the plan was made.
pub type RollbackStep = FileChange;

/// A rollback stored before its first step: the steps and the checkpoint
/// that records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackIntent {
    /// The files to make as they say, in the order they are applied.
    pub steps: Vec<RollbackStep>,
    /// Committed once every step is applied.
    pub checkpoint: Checkpoint,
}

/// Test and tooling hooks of [`RollbackPlan::apply`] and [`apply_intent`].
#[derive(Default)]
pub struct RollbackHooks<'a> {
    /// Called after each applied step with the number of steps done so far;
    /// an error stops the rollback there, as a crash would (the intent
    /// stays behind for [`complete_intents`]).
    pub after_step: Option<&'a (dyn Fn(usize) -> Result<()> + Sync)>,
}

impl std::fmt::Debug for RollbackHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollbackHooks")
            .field("after_step", &self.after_step.is_some())
            .finish()
    }
}

/// A rollback checked against the store and the disk, ready to apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackPlan {
    steps: Vec<RollbackStep>,
}

impl RollbackPlan {
    /// Plans making each file of `wanted` (repository and path → state)
    /// as it says, in the repositories `roots` (name → root directory).
    ///
    /// Nothing in the roots is touched. Files already as wanted get no step.
    /// Every blob a step needs is read and checked against its hash
    /// ([`Error::BlobNotFound`], [`Error::CorruptBlob`]); what a step will
    /// overwrite or remove is stored as a blob. Paths must be relative and
    /// stay inside their root, with no symbolic link among the directories
    /// on the way ([`Error::PathEscape`]); an unknown repository is
    /// [`Error::UnknownRepo`].
    pub fn new<S, I>(store: &S, wanted: I, roots: &HashMap<String, PathBuf>) -> Result<RollbackPlan>
    where
        S: CheckpointStore + ?Sized,
        I: IntoIterator<Item = (FileKey, FileState)>,
    {
        let mut removals = Vec::new();
        let mut writes = Vec::new();
        let mut checked: BTreeSet<BlobId> = BTreeSet::new();
        for ((repo, rel), state) in wanted {
            let path = resolve_key(roots, &repo, &rel)?;
            let on_disk = disk_state(&path)?;
            if same_state(&on_disk, &state) {
                continue;
            }
            if let Some(blob) = state.blob() {
                if checked.insert(blob.clone()) {
                    store.get_blob(blob)?;
                }
            }
            let before = match on_disk {
                Disk::File { bytes, mode } => {
                    let blob = store.put_blob(&bytes)?;
                    FileState::present(blob, mode)
                }
                Disk::Link(target) => FileState::Symlink { target },
                Disk::Absent | Disk::Other => FileState::Deleted,
            };
            let step = FileChange::new(repo, rel, state).with_before(before);
            if step.state == FileState::Deleted {
                removals.push(step);
            } else {
                writes.push(step);
            }
        }
        // Removals first, deepest first, so that a directory emptied by
        // them can give way to a file of the same name (and the reverse).
        removals.sort_by(|a, b| (&b.repo, &b.path).cmp(&(&a.repo, &a.path)));
        removals.extend(writes);
        Ok(RollbackPlan { steps: removals })
    }

    /// The steps, in the order they are applied.
    pub fn steps(&self) -> &[RollbackStep] {
        &self.steps
    }

    /// Whether the files are already as wanted.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as the intent of a rollback recorded by `checkpoint`.
    pub fn into_intent(self, checkpoint: Checkpoint) -> RollbackIntent {
        RollbackIntent {
            steps: self.steps,
            checkpoint,
        }
    }

    /// Applies the steps in order, without an intent: a crash part-way
    /// leaves files as some steps left them (use [`apply_intent`] for a
    /// rollback that can be completed after a crash).
    pub fn apply<S: CheckpointStore + ?Sized>(
        &self,
        store: &S,
        roots: &HashMap<String, PathBuf>,
        hooks: &RollbackHooks<'_>,
    ) -> Result<RollbackReport> {
        apply_steps(store, &self.steps, roots, hooks)
    }
}

/// Runs a rollback so that a crash at any instant can be completed: stores
/// the intent, applies its steps, commits its checkpoint, clears the
/// intent. Returns what changed.
pub fn apply_intent<S: CheckpointStore + ?Sized>(
    store: &S,
    intent: &RollbackIntent,
    roots: &HashMap<String, PathBuf>,
    hooks: &RollbackHooks<'_>,
) -> Result<RollbackReport> {
    store.put_intent(intent)?;
    finish_intent(store, intent, roots, hooks)
}

/// Completes the rollbacks a crash interrupted: every stored intent that
/// `wanted` selects and whose repositories are all in `roots` is rolled
/// forward (its blobs checked again first, so that a blob lost since
/// refuses it before any file changes) and its checkpoint committed.
/// Returns the checkpoints committed, with what changed.
pub fn complete_intents<S, F>(
    store: &S,
    roots: &HashMap<String, PathBuf>,
    wanted: F,
) -> Result<Vec<(CheckpointRef, RollbackReport)>>
where
    S: CheckpointStore + ?Sized,
    F: Fn(&RollbackIntent) -> bool,
{
    let mut done = Vec::new();
    for intent in store.intents()? {
        if !wanted(&intent) || !intent.steps.iter().all(|s| roots.contains_key(&s.repo)) {
            continue;
        }
        for step in &intent.steps {
            if let Some(blob) = step.state.blob() {
                store.get_blob(blob)?;
            }
        }
        let report = finish_intent(store, &intent, roots, &RollbackHooks::default())?;
        done.push((intent.checkpoint.reference(), report));
    }
    Ok(done)
}

fn finish_intent<S: CheckpointStore + ?Sized>(
    store: &S,
    intent: &RollbackIntent,
    roots: &HashMap<String, PathBuf>,
    hooks: &RollbackHooks<'_>,
) -> Result<RollbackReport> {
    let report = apply_steps(store, &intent.steps, roots, hooks)?;
    let cp = &intent.checkpoint;
    match store.put(cp) {
        Ok(()) => {}
        // Committed before a crash that came ahead of clearing the intent.
        Err(Error::DuplicateCheckpoint { .. }) if store.get(&cp.run_id, &cp.id)? == *cp => {}
        Err(e) => return Err(e),
    }
    store.clear_intent(&cp.run_id)?;
    Ok(report)
}

/// Rewrites the files of `roots` (repository name → root directory) so that
/// every file either manifest mentions is as `target` says: files the target
/// does not mention go back to their state before the run first touched them
/// (so files created later are removed, edited ones restored), files the
/// target has as present or as links are written from their blobs or
/// relinked, with their mode, and files the target has as deleted are
/// removed. Files neither manifest mentions are not touched; directories left
/// empty by a removal are removed up to the repository root.
///
/// `current` is the manifest of the tree as it is now (usually
/// [`CheckpointStore::materialize`] of the latest checkpoint) and `target` the
/// manifest to return to. The whole rollback is planned first
/// ([`RollbackPlan::new`]: paths resolved, blobs checked), so that a refused
/// one changes nothing; it is not journaled (see [`apply_intent`]).
pub fn rollback_files<S: CheckpointStore + ?Sized>(
    store: &S,
    current: &Manifest,
    target: &Manifest,
    roots: &HashMap<String, PathBuf>,
) -> Result<RollbackReport> {
    let keys: BTreeSet<&FileKey> = current.keys().chain(target.keys()).collect();
    let wanted = keys.into_iter().filter_map(|key| {
        let state = match (target.get(key), current.get(key)) {
            (Some(t), _) => &t.state,
            (None, Some(c)) => &c.before,
            (None, None) => return None,
        };
        Some((key.clone(), state.clone()))
    });
    let plan = RollbackPlan::new(store, wanted, roots)?;
    plan.apply(store, roots, &RollbackHooks::default())
}

fn apply_steps<S: CheckpointStore + ?Sized>(
    store: &S,
    steps: &[RollbackStep],
    roots: &HashMap<String, PathBuf>,
    hooks: &RollbackHooks<'_>,
) -> Result<RollbackReport> {
    let mut report = RollbackReport::default();
    for (i, step) in steps.iter().enumerate() {
        let root = roots.get(&step.repo).ok_or_else(|| Error::UnknownRepo {
            repo: step.repo.clone(),
        })?;
        let path = resolve(root, &step.repo, &step.path)?;
        let key = || (step.repo.clone(), step.path.clone());
        match &step.state {
            FileState::Deleted => {
                if remove(&path, root)? {
                    report.removed.push(key());
                }
            }
            state => {
                if make(store, &path, state)? {
                    report.written.push(key());
                }
            }
        }
        if let Some(after) = hooks.after_step {
            after(i + 1)?;
        }
    }
    Ok(report)
}

/// What is at a path, looked at without following a final symbolic link.
enum Disk {
    Absent,
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    Link(String),
    /// A directory or a special file: never what a checkpoint records.
    Other,
}

fn disk_state(path: &Path) -> Result<Disk> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Disk::Absent),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).map_err(io_err(path))?;
        Ok(Disk::Link(target.to_string_lossy().into_owned()))
    } else if kind.is_file() {
        let bytes = fs::read(path).map_err(io_err(path))?;
        Ok(Disk::File {
            bytes,
            mode: mode_of(&meta),
        })
    } else {
        Ok(Disk::Other)
    }
}

fn same_state(disk: &Disk, wanted: &FileState) -> bool {
    match (disk, wanted) {
        (Disk::Absent, FileState::Deleted) => true,
        (Disk::File { bytes, mode }, FileState::Present { blob, mode: want }) => {
            *mode == *want && BlobId::of(bytes) == *blob
        }
        (Disk::Link(target), FileState::Symlink { target: want }) => target == want,
        _ => false,
    }
}

/// The permission bits a checkpoint records for a file.
pub(crate) fn mode_of(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & MODE_MASK
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        super::DEFAULT_MODE
    }
}

fn resolve_key(roots: &HashMap<String, PathBuf>, repo: &str, rel: &str) -> Result<PathBuf> {
    let root = roots.get(repo).ok_or_else(|| Error::UnknownRepo {
        repo: repo.to_owned(),
    })?;
    resolve(root, repo, rel)
}

/// Joins a recorded path to its root, refusing anything that could leave it.
fn resolve(root: &Path, repo: &str, rel: &str) -> Result<PathBuf> {
    let escape = |reason: &str| Error::PathEscape {
        repo: repo.to_owned(),
        path: PathBuf::from(rel),
        reason: reason.to_owned(),
    };
    let rel_path = Path::new(rel);
    if rel.is_empty() {
        return Err(escape("empty path"));
    }
    let mut path = root.to_owned();
    let mut components = rel_path.components().peekable();
    while let Some(c) = components.next() {
        match c {
            Component::Normal(name) => {
                path.push(name);
                // Directories on the way must be real directories: a
                // symbolic link could point outside the root.
                if components.peek().is_some() {
                    if let Ok(meta) = fs::symlink_metadata(&path) {
                        if meta.file_type().is_symlink() {
                            return Err(escape("a directory on the way is a symbolic link"));
                        }
                    }
                }
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(escape("`..` component")),
            Component::RootDir | Component::Prefix(_) => return Err(escape("absolute path")),
        }
    }
    Ok(path)
}

/// Makes the file at `path` a regular file or a link as `state` says, never
/// writing through a link. Returns whether anything changed.
fn make<S: CheckpointStore + ?Sized>(store: &S, path: &Path, state: &FileState) -> Result<bool> {
    let disk = disk_state(path)?;
    if same_state(&disk, state) {
        return Ok(false);
    }
    match state {
        FileState::Present { blob, mode } => {
            if let Disk::File { bytes, .. } = &disk {
                if BlobId::of(bytes) == *blob {
                    // Only the mode differs; the path is a regular file (not
                    // a link), so changing it changes nothing else.
                    set_mode(path, *mode)?;
                    return Ok(true);
                }
            }
            let bytes = store.get_blob(blob)?;
            clear_for(path, &disk)?;
            write_file(path, &bytes, *mode)?;
        }
        FileState::Symlink { target } => {
            clear_for(path, &disk)?;
            make_link(path, target)?;
        }
        FileState::Deleted => return Ok(false),
    }
    Ok(true)
}

/// Removes what stands where a file or link must go: an empty directory
/// (one that is not empty is an error, as its files are not the rollback's
/// to drop) or a link (replaced, not followed). A regular file is replaced
/// by the rename that writes the new one.
fn clear_for(path: &Path, disk: &Disk) -> Result<()> {
    match disk {
        Disk::Other => fs::remove_dir(path).map_err(io_err(path)),
        Disk::Link(_) => fs::remove_file(path).map_err(io_err(path)),
        Disk::Absent | Disk::File { .. } => Ok(()),
    }
}

/// Writes a file through a temporary file in the same directory (created
/// with the wanted mode), `fsync`, a rename over whatever is there (which
/// replaces a link instead of following it) and a directory `fsync`.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io_err(path))?;
    tmp.write_all(bytes)
        .and_then(|()| set_file_mode(tmp.as_file(), mode))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    sync_dir(dir)
}

#[cfg(unix)]
fn set_file_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // `fchmod` sets the bits exactly, without the umask.
    file.set_permissions(fs::Permissions::from_mode(mode & MODE_MASK))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & MODE_MASK)).map_err(io_err(path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_link(path: &Path, target: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    std::os::unix::fs::symlink(target, path).map_err(io_err(path))?;
    sync_dir(dir)
}

#[cfg(not(unix))]
fn make_link(path: &Path, _target: &str) -> Result<()> {
    Err(Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            ErrorKind::Unsupported,
            "symbolic links are restored on Unix only",
        ),
    })
}

/// Removes a file (or symbolic link, never what it points to) if present,
/// then the directories it leaves empty up to `root`. Returns whether
/// something was removed.
fn remove(path: &Path, root: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            // Files inside were removed by earlier steps (deepest first);
            // a directory still holding others is not the rollback's.
            if fs::remove_dir(path).is_err() {
                return Ok(false);
            }
        }
        Ok(_) => fs::remove_file(path).map_err(io_err(path))?,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(true)
}
