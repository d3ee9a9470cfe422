//! The default [`CheckpointStore`]: JSON and blobs under `.kiro/runs/`.
//!
//! Layout:
//!
//! ```text
//! .kiro/runs/
//!   blobs/ab/cdef...         one file per content, named by its sha256
//!   <run-id>/log.jsonl       one line per checkpoint, in put order: the record
//!   <run-id>/<id>.json       optional pretty copy of each checkpoint, for people and tools
//!   <run-id>/rollback.intent a rollback of this run in progress (see `rollback`), JSON
//! ```
//!
//! (The audit log keeps its heads beside them, in `audit-heads.jsonl` and
//! `<run-id>/audit-heads.jsonl`; see [`crate::audit`].)
//!
//! The log and the pretty copies are created with mode `0600`: outcomes
//! quote what agents and tests printed. Before a checkpoint is written,
//! the values of secret-looking environment variables are replaced in its
//! artifacts and node name ([`FileCheckpointStore::with_redactor`]); blobs
//! are stored as given, since a rollback must restore them exactly.
//!
//! # Durability and the fsync policy
//!
//! The commit point of a checkpoint is its line in `log.jsonl`: the whole
//! checkpoint as one line of JSON, appended with a single `write` and made
//! durable with one `fdatasync` before [`put`](CheckpointStore::put) returns.
//! That is one sync per node, the minimum for a store that survives power
//! loss, and the cheapest one (an append + `fdatasync` costs about a third of
//! a temp file + `fsync` + `rename` + directory `fsync`; see
//! `shared/bench/README.md`). A crash can only tear the last line; readers
//! ignore a last line without its newline, and the next writer cuts it off
//! before appending.
//!
//! [`put_many`](CheckpointStore::put_many) is group commit: the nodes that
//! finished together are appended to their run's log with one `write` and
//! one `fdatasync`, so an engine that checkpoints a batch of ready nodes at
//! once pays one sync per batch.
//!
//! Everything a log line points to is durable before the line is written:
//! blobs are written to a temporary file, `fsync`ed, renamed into place and
//! their directory `fsync`ed (only for contents not yet stored, so unchanged
//! files cost nothing), and a run's directory and log are synced into their
//! parent directories when they are created.
//!
//! The per-checkpoint `<id>.json` copy (off by default, see
//! [`FileCheckpointStore::with_pretty_copies`]) is written *after* the commit through
//! a temporary file and a rename, without a sync: the rename makes it whole
//! or absent (which is all a `SIGKILL` can observe), and after a power loss a
//! missing copy is harmless because [`get`](CheckpointStore::get) falls back
//! to the log. Syncing it too would double the cost of every node for data
//! the log already holds durably.
//!
//! One process writes a run at a time (the store keeps the log open and the
//! run's ids in memory); any number of readers may read concurrently and see
//! a prefix of the log.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{check_id, BlobId, Checkpoint, CheckpointId, CheckpointStore, RollbackIntent, RunId};
use crate::error::{io_err, Error, Result};
use crate::redact::Redactor;
use crate::store::sync_dir;

/// The directory of the blob store inside `.kiro/runs/`.
pub(super) const BLOBS_DIR: &str = "blobs";
const LOG_FILE: &str = "log.jsonl";
/// The intent of a rollback in progress, in the directory of the run whose
/// checkpoint records it.
const INTENT_FILE: &str = "rollback.intent";
/// How many fresh run ids are drawn before giving up on a clash.
const RUN_ID_ATTEMPTS: usize = 32;

/// How much a stored checkpoint survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Survives power loss and OS crashes: every batch of checkpoints and
    /// every blob is `fdatasync`ed (and new directories synced) before
    /// `put`/`put_blob` return. The default.
    #[default]
    PowerLoss,
    /// Survives the writing process being killed (SIGKILL, a panic, OOM) at
    /// any instant, but not power loss: data is handed to the OS with whole
    /// writes and atomic renames and no sync is waited for. A log line is
    /// still written only after the blobs it names are in place, and a torn
    /// last line is still ignored and cut off. Much faster on slow disks.
    ProcessCrash,
}

/// Checkpoints and blobs as files under `<workspace>/.kiro/runs/`.
#[derive(Debug)]
pub struct FileCheckpointStore {
    dir: PathBuf,
    writers: Mutex<HashMap<RunId, RunWriter>>,
    durability: Durability,
    pretty_copies: bool,
    redactor: Redactor,
    /// File and directory syncs issued, for [`syncs_issued`](Self::syncs_issued).
    sync_count: AtomicU64,
}

/// The open log of a run this store writes, and the ids already in it.
#[derive(Debug)]
struct RunWriter {
    log: File,
    ids: HashSet<CheckpointId>,
}

impl FileCheckpointStore {
    /// The store of a workspace: `<root>/.kiro/runs/`. Nothing is created
    /// until something is written.
    pub fn new(workspace_root: impl AsRef<Path>) -> FileCheckpointStore {
        FileCheckpointStore::at(workspace_root.as_ref().join(".kiro").join("runs"))
    }

    /// A store in an explicit directory (the `.kiro/runs/` equivalent).
    pub fn at(dir: impl Into<PathBuf>) -> FileCheckpointStore {
        FileCheckpointStore {
            dir: dir.into(),
            writers: Mutex::new(HashMap::new()),
            durability: Durability::PowerLoss,
            pretty_copies: false,
            redactor: Redactor::from_env(),
            sync_count: AtomicU64::new(0),
        }
    }

    /// How many `fsync`/`fdatasync` calls (on files and directories) this
    /// store has issued since it was made: what durability costs, counted
    /// so that tests and benchmarks can hold the engine to its budget (one
    /// log sync per group commit, none for a blob already stored).
    pub fn syncs_issued(&self) -> u64 {
        self.sync_count.load(Ordering::Relaxed)
    }

    /// Notes one sync about to be issued.
    fn count_sync(&self) {
        self.sync_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Syncs a directory, counted.
    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.count_sync();
        sync_dir(dir)
    }

    /// Replaces secrets with `redactor` instead of the process
    /// environment's ([`Redactor::from_env`], the default) in what
    /// [`put`](CheckpointStore::put) writes: every string of a checkpoint's
    /// artifacts (outcome summaries, evidence, messages) and its node name.
    /// Blobs are stored as given: they are workspace files that a rollback
    /// must restore byte for byte.
    #[must_use]
    pub fn with_redactor(mut self, redactor: Redactor) -> FileCheckpointStore {
        self.redactor = redactor;
        self
    }

    /// Also writes each checkpoint as pretty JSON to `<run>/<id>.json`, for
    /// people and tools reading the store directly (default off: it costs a
    /// file creation and a rename per node, and `kiro checkpoint show`
    /// prints the same).
    #[must_use]
    pub fn with_pretty_copies(mut self, copies: bool) -> FileCheckpointStore {
        self.pretty_copies = copies;
        self
    }

    /// Sets what stored checkpoints survive (default [`Durability::PowerLoss`]).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> FileCheckpointStore {
        self.durability = durability;
        self
    }

    /// What stored checkpoints survive.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// A checkpoint as it is written: secrets redacted from its artifacts
    /// and node name.
    fn stored_form<'a>(&self, checkpoint: &'a Checkpoint) -> Cow<'a, Checkpoint> {
        if self.redactor.is_empty() {
            return Cow::Borrowed(checkpoint);
        }
        let mut redacted = checkpoint.clone();
        self.redactor.redact_value(&mut redacted.artifacts);
        redacted.node = self.redactor.redact(&redacted.node).into_owned();
        Cow::Owned(redacted)
    }

    fn syncs(&self) -> bool {
        self.durability == Durability::PowerLoss
    }

    /// The directory holding the runs and the blobs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of a run.
    pub fn run_dir(&self, run: &RunId) -> Result<PathBuf> {
        check_id(run.as_str())?;
        Ok(self.dir.join(run.as_str()))
    }

    /// The file of a blob (`blobs/ab/cdef...`).
    pub fn blob_path(&self, id: &BlobId) -> PathBuf {
        let hex = id.as_str();
        let (shard, rest) = hex.split_at(2.min(hex.len()));
        self.dir.join(BLOBS_DIR).join(shard).join(rest)
    }

    /// Fails with [`Error::StoreVanished`] unless the log this store has
    /// open for `run` is still the file at its path: a log deleted (or the
    /// store replaced) under a running pipeline would otherwise take the
    /// next lines into an unlinked file and lose them silently.
    fn check_in_place(&self, run: &RunId, log: &File) -> Result<()> {
        let path = self.run_dir(run)?.join(LOG_FILE);
        let vanished = || Error::StoreVanished {
            path: self.dir.clone(),
        };
        let on_disk = fs::metadata(&path).map_err(|_| vanished())?;
        let open = log.metadata().map_err(io_err(&path))?;
        if same_file(&on_disk, &open) {
            Ok(())
        } else {
            Err(vanished())
        }
    }

    fn writers(&self) -> MutexGuard<'_, HashMap<RunId, RunWriter>> {
        // A panic in another thread while holding the lock cannot leave the
        // map inconsistent (entries are inserted whole), so poisoning is
        // ignored rather than turned into a panic here.
        self.writers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a run's log for appending: cuts off a torn last line left by a
    /// crash and reads the ids already committed.
    fn open_writer(&self, run: &RunId) -> Result<RunWriter> {
        let run_dir = self.run_dir(run)?;
        if !run_dir.is_dir() {
            fs::create_dir_all(&run_dir).map_err(io_err(&run_dir))?;
            self.sync_dir(&self.dir)?;
        }
        let path = run_dir.join(LOG_FILE);
        let existed = path.exists();
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        // The log holds task outcomes, which quote what agents and tests
        // printed: readable by its owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, LOG_MODE);
        let mut log = options.open(&path).map_err(io_err(&path))?;
        if existed {
            restrict_mode(&log, &path)?;
        } else {
            self.sync_dir(&run_dir)?;
        }
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io_err(&path))?;
        let committed = committed_len(&bytes);
        if committed < bytes.len() {
            log.set_len(u64::try_from(committed).unwrap_or(u64::MAX))
                .and_then(|()| {
                    self.count_sync();
                    log.sync_data()
                })
                .map_err(io_err(&path))?;
        }
        remove_stale_temp_files(&run_dir);
        let ids = parse_log(&path, bytes.get(..committed).unwrap_or_default())?
            .into_iter()
            .map(|c| c.id)
            .collect();
        Ok(RunWriter { log, ids })
    }

    fn read_log(&self, run: &RunId) -> Result<Vec<Checkpoint>> {
        let run_dir = self.run_dir(run)?;
        let path = run_dir.join(LOG_FILE);
        match fs::read(&path) {
            Ok(bytes) => parse_log(
                &path,
                bytes.get(..committed_len(&bytes)).unwrap_or_default(),
            ),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if run_dir.is_dir() {
                    Ok(Vec::new())
                } else {
                    Err(Error::RunNotFound {
                        run: run.to_string(),
                    })
                }
            }
            Err(source) => Err(Error::Io { path, source }),
        }
    }
}

/// The mode of a run's log (and of the other files holding outcomes):
/// owner read and write only.
#[cfg(unix)]
const LOG_MODE: u32 = 0o600;

/// Takes group and other permissions off a log that an older kiro created
/// with the default mode (the umask applies to new files only).
fn restrict_mode(log: &File, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = log.metadata().map_err(io_err(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            log.set_permissions(fs::Permissions::from_mode(mode & LOG_MODE))
                .map_err(io_err(path))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (log, path);
    Ok(())
}

/// The length of the committed part of a log: everything up to its last
/// newline. Bytes after it are a line torn by a crash.
fn committed_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

fn parse_log(path: &Path, committed: &[u8]) -> Result<Vec<Checkpoint>> {
    let mut out = Vec::new();
    for (i, line) in committed.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let cp =
            serde_json::from_slice::<Checkpoint>(line).map_err(|e| Error::CorruptCheckpoint {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
        out.push(cp);
    }
    Ok(out)
}

/// Removes the temporary files a killed writer left in a run's directory.
/// Only the run's single writer calls this, before its first write, so no
/// temporary file in use can be removed. Failing to remove one is harmless.
fn remove_stale_temp_files(run_dir: &Path) {
    if let Ok(entries) = fs::read_dir(run_dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(".kiro-tmp-")
            {
                let _ignored = fs::remove_file(entry.path());
            }
        }
    }
}

/// Replaces a file through a temporary file and a rename, without syncing:
/// whole or absent after a process crash. See the module doc for why.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiro-tmp-")
        .tempfile_in(dir)
        .map_err(io_err(path))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

impl CheckpointStore for FileCheckpointStore {
    fn create_run(&self) -> Result<RunId> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut last_err = None;
        for _ in 0..RUN_ID_ATTEMPTS {
            let run = RunId::generate();
            let dir = self.dir.join(run.as_str());
            // `create_dir` (not `create_dir_all`) fails if another process
            // took the same id, which makes ids unique without any lock.
            match fs::create_dir(&dir) {
                Ok(()) => {
                    self.sync_dir(&self.dir)?;
                    return Ok(run);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => last_err = Some(e),
                Err(source) => return Err(Error::Io { path: dir, source }),
            }
        }
        Err(Error::Io {
            path: self.dir.clone(),
            source: last_err
                .unwrap_or_else(|| std::io::Error::other("could not draw a fresh run id")),
        })
    }

    fn put(&self, checkpoint: &Checkpoint) -> Result<()> {
        self.put_many(std::slice::from_ref(checkpoint))
    }

    /// Group commit: the lines of each run are appended with one `write`
    /// and made durable with one `fdatasync`, so a batch of nodes that
    /// finished together costs one sync per run instead of one per node.
    fn put_many(&self, checkpoints: &[Checkpoint]) -> Result<()> {
        // Everything that can be checked is checked before anything is
        // written, so a refused batch leaves the store unchanged.
        let mut batches: Vec<(RunId, Vec<u8>, Vec<CheckpointId>)> = Vec::new();
        {
            let writers = self.writers();
            for checkpoint in checkpoints {
                if let Some(writer) = writers.get(&checkpoint.run_id) {
                    self.check_in_place(&checkpoint.run_id, &writer.log)?;
                }
            }
        }
        for checkpoint in checkpoints {
            check_id(checkpoint.id.as_str())?;
            self.run_dir(&checkpoint.run_id)?;
            let blobs = checkpoint
                .files
                .iter()
                .flat_map(|c| [c.state.blob(), c.before.blob()])
                .chain([checkpoint.tree.as_ref()])
                .flatten();
            for blob in blobs {
                if !self.blob_path(blob).is_file() {
                    // A whole store gone is not one lost blob: say so.
                    let run_dir = self.run_dir(&checkpoint.run_id)?;
                    if !run_dir.is_dir() || !self.dir.join(BLOBS_DIR).is_dir() {
                        return Err(Error::StoreVanished {
                            path: self.dir.clone(),
                        });
                    }
                    return Err(Error::BlobNotFound {
                        blob: blob.to_string(),
                    });
                }
            }
            let line = serde_json::to_vec(&self.stored_form(checkpoint))
                .map_err(|e| Error::Backend(Box::new(e)))?;
            let index = match batches.iter().position(|b| b.0 == checkpoint.run_id) {
                Some(i) => i,
                None => {
                    batches.push((checkpoint.run_id.clone(), Vec::new(), Vec::new()));
                    batches.len() - 1
                }
            };
            if let Some((run, bytes, ids)) = batches.get_mut(index) {
                if ids.contains(&checkpoint.id) {
                    return Err(Error::DuplicateCheckpoint {
                        run: run.to_string(),
                        id: checkpoint.id.to_string(),
                    });
                }
                bytes.extend_from_slice(&line);
                bytes.push(b'\n');
                ids.push(checkpoint.id.clone());
            }
        }

        let mut writers = self.writers();
        for (run, _, ids) in &batches {
            if !writers.contains_key(run) {
                let writer = self.open_writer(run)?;
                writers.insert(run.clone(), writer);
            }
            if let Some(writer) = writers.get(run) {
                if let Some(id) = ids.iter().find(|id| writer.ids.contains(*id)) {
                    return Err(Error::DuplicateCheckpoint {
                        run: run.to_string(),
                        id: id.to_string(),
                    });
                }
            }
        }
        for (run, bytes, ids) in batches {
            let Some(writer) = writers.get_mut(&run) else {
                return Err(Error::RunNotFound {
                    run: run.to_string(),
                });
            };
            let sync = self.syncs();
            let written = writer.log.write_all(&bytes).and_then(|()| {
                if sync {
                    self.count_sync();
                    writer.log.sync_data()
                } else {
                    Ok(())
                }
            });
            if let Err(source) = written {
                // The log may now end in a partial line; reopening cuts it
                // off (and rereads which whole lines made it).
                writers.remove(&run);
                return Err(Error::Io {
                    path: self.dir.join(run.as_str()).join(LOG_FILE),
                    source,
                });
            }
            writer.ids.extend(ids);
        }
        drop(writers);

        // The checkpoints are committed; the pretty copies are a convenience
        // that `get` does without, so failing to write one must not report
        // the put as failed (a retry would then hit DuplicateCheckpoint).
        for checkpoint in checkpoints.iter().filter(|_| self.pretty_copies) {
            if let Ok(pretty) = serde_json::to_vec_pretty(&self.stored_form(checkpoint)) {
                let copy = self
                    .dir
                    .join(checkpoint.run_id.as_str())
                    .join(format!("{}.json", checkpoint.id));
                let _ignored = replace_file(&copy, &pretty);
            }
        }
        Ok(())
    }

    fn get(&self, run: &RunId, id: &CheckpointId) -> Result<Checkpoint> {
        check_id(id.as_str())?;
        let copy = self.run_dir(run)?.join(format!("{id}.json"));
        // The copy exists only for committed checkpoints (it is written after
        // the log line), so it can be trusted when it parses and matches.
        if let Ok(bytes) = fs::read(&copy) {
            if let Ok(cp) = serde_json::from_slice::<Checkpoint>(&bytes) {
                if &cp.run_id == run && &cp.id == id {
                    return Ok(cp);
                }
            }
        }
        self.read_log(run)?
            .into_iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| Error::CheckpointNotFound {
                run: run.to_string(),
                id: id.to_string(),
            })
    }

    fn list(&self, run: &RunId) -> Result<Vec<Checkpoint>> {
        self.read_log(run)
    }

    fn runs(&self) -> Result<Vec<RunId>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&self.dir))?;
            if !entry.file_type().map_err(io_err(&entry.path()))?.is_dir() {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(run) = RunId::new(name) {
                    runs.push(run);
                }
            }
        }
        runs.sort();
        Ok(runs)
    }

    fn has_blob(&self, id: &BlobId) -> bool {
        // Blobs are renamed into place whole, so an existing file is complete.
        self.blob_path(id).is_file()
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<BlobId> {
        let id = BlobId::of(bytes);
        let path = self.blob_path(&id);
        // Blobs are renamed into place whole, so an existing file is the
        // complete content and need not be written again.
        if path.is_file() {
            return Ok(id);
        }
        let shard = path.parent().unwrap_or(&self.dir).to_owned();
        let sync = self.syncs();
        if !shard.is_dir() {
            fs::create_dir_all(&shard).map_err(io_err(&shard))?;
            if sync {
                if let Some(blobs) = shard.parent() {
                    self.sync_dir(blobs)?;
                }
                self.sync_dir(&self.dir)?;
            }
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".kiro-tmp-")
            .tempfile_in(&shard)
            .map_err(io_err(&path))?;
        tmp.write_all(bytes)
            .and_then(|()| {
                if sync {
                    self.count_sync();
                    tmp.as_file().sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(io_err(&path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        if sync {
            self.sync_dir(&shard)?;
        }
        Ok(id)
    }

    /// Written through a temporary file, `fsync`, a rename and a directory
    /// `fsync` (whatever the durability: a rollback is rare and its intent
    /// is what makes it completable), so it is whole or absent after any
    /// crash. Readable by its owner only (mode `0600`, the temporary
    /// file's), as it holds a checkpoint's artifacts.
    fn put_intent(&self, intent: &RollbackIntent) -> Result<()> {
        let dir = self.run_dir(&intent.checkpoint.run_id)?;
        let path = dir.join(INTENT_FILE);
        // The checkpoint inside is committed as it is stored here: redacted
        // like every other stored checkpoint.
        let stored = RollbackIntent {
            steps: intent.steps.clone(),
            checkpoint: self.stored_form(&intent.checkpoint).into_owned(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| Error::Backend(Box::new(e)))?;
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".kiro-tmp-")
            .tempfile_in(&dir)
            .map_err(io_err(&path))?;
        tmp.write_all(&bytes)
            .and_then(|()| {
                self.count_sync();
                tmp.as_file().sync_all()
            })
            .map_err(io_err(&path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        self.sync_dir(&dir)
    }

    fn intents(&self) -> Result<Vec<RollbackIntent>> {
        let mut out = Vec::new();
        for run in self.runs()? {
            let path = self.run_dir(&run)?.join(INTENT_FILE);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Io { path, source }),
            };
            let intent = serde_json::from_slice::<RollbackIntent>(&bytes).map_err(|e| {
                Error::CorruptCheckpoint {
                    path: path.clone(),
                    line: e.line(),
                    message: e.to_string(),
                }
            })?;
            out.push(intent);
        }
        Ok(out)
    }

    fn clear_intent(&self, run: &RunId) -> Result<()> {
        let dir = self.run_dir(run)?;
        let path = dir.join(INTENT_FILE);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(Error::Io { path, source }),
        }
        if self.syncs() {
            self.sync_dir(&dir)?;
        }
        Ok(())
    }

    fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let path = self.blob_path(id);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::BlobNotFound {
                    blob: id.to_string(),
                })
            }
            Err(source) => return Err(Error::Io { path, source }),
        };
        if BlobId::of(&bytes) != *id {
            return Err(Error::CorruptBlob {
                blob: id.to_string(),
                path,
            });
        }
        Ok(bytes)
    }
}

/// Whether two metadata describe the same file (device and inode).
#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Without inode numbers, a file of the same length is taken as the same.
#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{FileChange, FileState};

    const SECRET: &str = "sk-test-0123456789abcdef";

    fn redacting_store(dir: &Path) -> FileCheckpointStore {
        FileCheckpointStore::new(dir)
            .with_redactor(Redactor::new([("OPENAI_API_KEY", SECRET)]))
            .with_pretty_copies(true)
    }

    #[test]
    fn put_redacts_artifacts_but_not_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = redacting_store(dir.path());
        let run = store.create_run().unwrap();
        let blob = store
            .put_blob(format!("key = {SECRET}\n").as_bytes())
            .unwrap();
        let mut cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(1), "task 1");
        cp.artifacts =
            serde_json::json!({ "outcomes": { "1": { "summary": format!("printed {SECRET}") } } });
        cp.files.push(FileChange::new(
            "app",
            "config.toml",
            FileState::Present {
                blob: blob.clone(),
                mode: 0o644,
            },
        ));
        store.put(&cp).unwrap();

        let run_dir = store.run_dir(&run).unwrap();
        for file in [run_dir.join(LOG_FILE), run_dir.join("c000001.json")] {
            let text = fs::read_to_string(&file).unwrap();
            assert!(!text.contains(SECRET), "{}: {text}", file.display());
            assert!(text.contains("printed [redacted:OPENAI_API_KEY]"), "{text}");
        }
        let stored = store.get(&run, &cp.id).unwrap();
        assert_eq!(
            stored.artifacts["outcomes"]["1"]["summary"],
            "printed [redacted:OPENAI_API_KEY]"
        );
        // Workspace content is restored byte for byte by a rollback.
        assert_eq!(
            store.get_blob(&blob).unwrap(),
            format!("key = {SECRET}\n").into_bytes()
        );
    }

    #[cfg(unix)]
    #[test]
    fn run_logs_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let store = redacting_store(dir.path());
        let run = store.create_run().unwrap();
        store
            .put(&Checkpoint::new(
                run.clone(),
                CheckpointId::from_seq(1),
                "a",
            ))
            .unwrap();
        let run_dir = store.run_dir(&run).unwrap();
        assert_eq!(mode(&run_dir.join(LOG_FILE)), 0o600);
        assert_eq!(mode(&run_dir.join("c000001.json")), 0o600);

        // A log an older kiro left world-readable is restricted when written again.
        let old = store.create_run().unwrap();
        let old_log = store.run_dir(&old).unwrap().join(LOG_FILE);
        fs::write(&old_log, "").unwrap();
        fs::set_permissions(&old_log, fs::Permissions::from_mode(0o644)).unwrap();
        let fresh = redacting_store(dir.path());
        fresh
            .put(&Checkpoint::new(
                old.clone(),
                CheckpointId::from_seq(1),
                "a",
            ))
            .unwrap();
        assert_eq!(mode(&old_log), 0o600);
    }
}
