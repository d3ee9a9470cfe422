//! What a run writes into its checkpoints, and how a run's state is read
//! back from them: resume, rollback and fork.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    rollback_files, BlobId, Checkpoint, CheckpointId, CheckpointRef, CheckpointStore, FileChange,
    FileState, RollbackReport, RunId,
};
use crate::error::{Error, Result};
use crate::stage::{Artifacts, OutcomeStatus, TaskOutcome};
use crate::workspace::{Snapshot, Workspace};

/// The artifacts part of a checkpoint. Phases store the whole [`Artifacts`];
/// task nodes store only their outcome, so that a checkpoint's size does not
/// grow with the number of tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Recorded {
    /// Everything, as after a phase, a custom node, a rollback or a fork.
    Full {
        /// The artifacts.
        artifacts: Box<Artifacts>,
    },
    /// One task's outcome, to be applied to the last full artifacts.
    Outcome {
        /// The outcome.
        outcome: TaskOutcome,
    },
    /// An approved gate.
    Gate,
}

impl Recorded {
    pub(crate) fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::Pipeline {
            message: format!("cannot encode checkpoint artifacts: {e}"),
        })
    }
}

/// A run's state as of one checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct RunState {
    /// The artifacts: the last full ones with later outcomes applied.
    pub artifacts: Artifacts,
    /// Every node that completed along the checkpoint's chain.
    pub completed: HashSet<String>,
}

/// Reads the state at a checkpoint by walking its parent chain back to the
/// last full artifacts.
pub(crate) fn state_at<S: CheckpointStore + ?Sized>(
    store: &S,
    at: &CheckpointRef,
) -> Result<RunState> {
    let chain = crate::checkpoint::ancestry(store, at, HashMap::new())?;
    let mut state = RunState {
        artifacts: Artifacts::default(),
        completed: HashSet::new(),
    };
    // Newest first: the first record of a node is its latest. A task whose
    // latest outcome failed, and a verification that found failures, are
    // not complete, so that resuming runs them again.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut outcomes = Vec::new();
    let mut found_full = false;
    for cp in &chain {
        let rec = decode(cp)?;
        let first = seen.insert(cp.node.as_str());
        let complete = match &rec {
            Recorded::Outcome { outcome } => outcome.status == OutcomeStatus::Done,
            Recorded::Full { artifacts } if cp.node == "verify" => {
                artifacts.report.as_ref().is_none_or(|r| r.is_success())
            }
            _ => true,
        };
        if first && complete {
            state.completed.insert(cp.node.clone());
        }
        if found_full {
            continue;
        }
        match rec {
            Recorded::Full { artifacts } => {
                state.artifacts = *artifacts;
                found_full = true;
            }
            Recorded::Outcome { outcome } => outcomes.push(outcome),
            Recorded::Gate => {}
        }
    }
    for outcome in outcomes.into_iter().rev() {
        state
            .artifacts
            .outcomes
            .insert(outcome.task.to_string(), outcome);
    }
    Ok(state)
}

fn decode(cp: &Checkpoint) -> Result<Recorded> {
    serde_json::from_value(cp.artifacts.clone()).map_err(|e| Error::Pipeline {
        message: format!(
            "checkpoint {}@{} was not written by a kiro pipeline: {e}",
            cp.run_id, cp.id
        ),
    })
}

/// The spec name a run works on, from its first checkpoint.
pub(crate) fn run_spec<S: CheckpointStore + ?Sized>(
    store: &S,
    run: &RunId,
) -> Result<Option<String>> {
    let Some(first) = store.list(run)?.into_iter().next() else {
        return Ok(None);
    };
    Ok(match decode(&first) {
        Ok(Recorded::Full { artifacts }) => Some(artifacts.spec.name),
        _ => None,
    })
}

/// Detects workspace changes between checkpoints with snapshots, and keeps
/// the content of every file a checkpoint may have to restore.
///
/// Three sources tell it what changed: a rescan ([`rescan`](Self::rescan),
/// for external processes), the workspace journal (writes stages made
/// through the [`Workspace`]), and the files the engine writes itself (task
/// marks in `tasks.md`, [`engine_wrote`](Self::engine_wrote)). The last two
/// cost only the files written, so a checkpoint that needs no rescan still
/// holds the `tasks.md` its node's mark is in. Changes are handed out in the
/// order they were detected ([`take`](Self::take)), so that the checkpoint
/// chain replays them in that order.
#[derive(Debug)]
pub(crate) struct ChangeTracker {
    snaps: Vec<Snapshot>,
    journal_len: usize,
    /// Changes detected (and their blobs stored) but not yet given to a
    /// checkpoint: one entry per file, its first `before` and latest state.
    detected: Vec<FileChange>,
    /// Files the engine wrote since the last detection, as (repository,
    /// relative path), in first-write order.
    engine_writes: Vec<(String, PathBuf)>,
    /// Where each absolute path the engine writes lives in the workspace
    /// (one entry per repository holding it), resolved once.
    located: HashMap<PathBuf, Vec<(String, PathBuf)>>,
}

impl ChangeTracker {
    /// Snapshots every repository and stores the blob of every file not yet
    /// in the store, so that a rollback can restore any file the run goes on
    /// to change. Files already stored (by an earlier run) are not read.
    pub(crate) fn baseline<S: CheckpointStore + ?Sized>(
        ws: &Workspace,
        store: &S,
    ) -> Result<ChangeTracker> {
        let mut snaps = Vec::new();
        for repo in ws.repos() {
            let snap = ws.snapshot(repo)?;
            let root = ws.root(repo)?.to_owned();
            for (path, stat) in &snap.files {
                let id = BlobId::new(stat.sha256.clone())?;
                if !store.has_blob(&id) {
                    let abs = root.join(path);
                    let bytes = std::fs::read(&abs).map_err(|source| Error::Io {
                        path: abs.clone(),
                        source,
                    })?;
                    store.put_blob(&bytes)?;
                }
            }
            snaps.push(snap);
        }
        Ok(ChangeTracker {
            snaps,
            journal_len: ws.journal_len(),
            detected: Vec::new(),
            engine_writes: Vec::new(),
            located: HashMap::new(),
        })
    }

    /// Notes that the engine itself rewrote the file at `abs` (a task mark),
    /// so that the next checkpoint holds it even without a rescan. A path
    /// outside every repository is not workspace content and is ignored.
    pub(crate) fn engine_wrote(&mut self, ws: &Workspace, abs: &Path) {
        let keys = self
            .located
            .entry(abs.to_owned())
            .or_insert_with(|| locate(ws, abs));
        for key in keys.iter() {
            if !self.engine_writes.contains(key) {
                self.engine_writes.push(key.clone());
            }
        }
    }

    /// Rescans the workspace and keeps what changed since the last
    /// detection for the next [`take`](Self::take): how changes made by
    /// external processes are found.
    pub(crate) fn rescan<S: CheckpointStore + ?Sized>(
        &mut self,
        ws: &Workspace,
        store: &S,
    ) -> Result<()> {
        let changes = self.changes(ws, store)?;
        self.keep(changes);
        Ok(())
    }

    /// Every change detected since the last call: those of the rescans in
    /// between, then what the workspace journal and the engine's own writes
    /// say changed since (read now, so their cost depends on the files
    /// written, not on the size of the workspace). Blobs are already stored.
    pub(crate) fn take<S: CheckpointStore + ?Sized>(
        &mut self,
        ws: &Workspace,
        store: &S,
    ) -> Result<Vec<FileChange>> {
        if !self.engine_writes.is_empty() || ws.journal_len() != self.journal_len {
            let written = self.written_changes(ws, store)?;
            self.keep(written);
        }
        Ok(std::mem::take(&mut self.detected))
    }

    /// Adds changes detected after those already kept: a file seen again
    /// keeps its first `before` and takes its new state.
    fn keep(&mut self, changes: Vec<FileChange>) {
        if self.detected.is_empty() {
            self.detected = changes;
            return;
        }
        let mut index: HashMap<(String, String), usize> = self
            .detected
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.repo.clone(), c.path.clone()), i))
            .collect();
        for change in changes {
            match index.get(&(change.repo.clone(), change.path.clone())) {
                Some(&i) => self.detected[i].state = change.state,
                None => {
                    index.insert(
                        (change.repo.clone(), change.path.clone()),
                        self.detected.len(),
                    );
                    self.detected.push(change);
                }
            }
        }
    }

    /// What the workspace journal and the engine's own writes say changed
    /// since the last detection, with the new contents stored as blobs.
    fn written_changes<S: CheckpointStore + ?Sized>(
        &mut self,
        ws: &Workspace,
        store: &S,
    ) -> Result<Vec<FileChange>> {
        let entries = ws.journal_since(self.journal_len);
        self.journal_len += entries.len();
        // The latest entry per file decides; earlier ones in the batch are
        // intermediate states nobody can roll back to.
        let mut touched: Vec<(String, PathBuf)> = Vec::new();
        for e in entries {
            let key = (e.repo, e.path);
            if !touched.contains(&key) {
                touched.push(key);
            }
        }
        // A file the engine wrote counts only where scans see it (not
        // ignored, not in kiro's own folders): otherwise the next rescan
        // would find it missing from its result and record it as deleted.
        for key in std::mem::take(&mut self.engine_writes) {
            let scanned = self
                .snaps
                .iter()
                .any(|s| s.repo == key.0 && s.files.contains_key(&key.1));
            if scanned && !touched.contains(&key) {
                touched.push(key);
            }
        }
        let mut out = Vec::with_capacity(touched.len());
        for (repo, path) in touched {
            let Some(snap) = self.snaps.iter_mut().find(|s| s.repo == repo) else {
                continue;
            };
            let abs = ws.root(&repo)?.join(&path);
            let before = match snap.files.get(&path) {
                Some(stat) => FileState::Present {
                    blob: BlobId::new(stat.sha256.clone())?,
                    executable: is_executable(&abs),
                },
                None => FileState::Deleted,
            };
            let state = match std::fs::read(&abs) {
                Ok(bytes) => {
                    let blob = store.put_blob(&bytes)?;
                    let meta = std::fs::metadata(&abs).map_err(|source| Error::Io {
                        path: abs.clone(),
                        source,
                    })?;
                    let mtime = crate::workspace::Mtime::of(&meta);
                    snap.files.insert(
                        path.clone(),
                        crate::workspace::FileStat {
                            size: meta.len(),
                            mtime,
                            sha256: blob.as_str().to_owned(),
                        },
                    );
                    FileState::Present {
                        blob,
                        executable: is_executable(&abs),
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    snap.files.remove(&path);
                    FileState::Deleted
                }
                Err(source) => return Err(Error::Io { path: abs, source }),
            };
            if state != before {
                out.push(FileChange::new(repo, slash(&path), state).with_before(before));
            }
        }
        Ok(out)
    }

    /// Rescans and returns what changed since the last scan, with the new
    /// contents stored as blobs.
    fn changes<S: CheckpointStore + ?Sized>(
        &mut self,
        ws: &Workspace,
        store: &S,
    ) -> Result<Vec<FileChange>> {
        let mut out = Vec::new();
        for old in &mut self.snaps {
            let repo = old.repo.clone();
            let root = ws.root(&repo)?.to_owned();
            let mut new = ws.snapshot(&repo)?;
            let diff = old.diff(&new);
            let present = |path: &PathBuf, snap: &Snapshot, exec: bool| -> Result<FileState> {
                match snap.files.get(path) {
                    Some(stat) => Ok(FileState::Present {
                        blob: BlobId::new(stat.sha256.clone())?,
                        executable: exec,
                    }),
                    None => Ok(FileState::Deleted),
                }
            };
            for path in diff.created.iter().chain(&diff.modified) {
                let abs = root.join(path);
                // A task still running may change the file after the scan:
                // what is stored is what is read now, and the kept snapshot
                // says the same, so that the next checkpoint's "before"
                // names a stored blob.
                let bytes = match std::fs::read(&abs) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        new.files.remove(path);
                        let before = present(path, old, false)?;
                        if before != FileState::Deleted {
                            out.push(
                                FileChange::new(repo.clone(), slash(path), FileState::Deleted)
                                    .with_before(before),
                            );
                        }
                        continue;
                    }
                    Err(source) => {
                        return Err(Error::Io {
                            path: abs.clone(),
                            source,
                        })
                    }
                };
                let exec = is_executable(&abs);
                let blob = store.put_blob(&bytes)?;
                if let Some(stat) = new.files.get_mut(path) {
                    stat.sha256 = blob.as_str().to_owned();
                }
                let before = present(path, old, exec)?;
                let state = FileState::Present {
                    blob,
                    executable: exec,
                };
                out.push(FileChange::new(repo.clone(), slash(path), state).with_before(before));
            }
            for path in &diff.deleted {
                let before = present(path, old, false)?;
                out.push(
                    FileChange::new(repo.clone(), slash(path), FileState::Deleted)
                        .with_before(before),
                );
            }
            *old = new;
        }
        self.journal_len = ws.journal_len();
        self.engine_writes.clear();
        Ok(out)
    }
}

/// Every (repository, relative path) under which the workspace holds `abs`,
/// comparing canonical paths as repository roots are canonical.
fn locate(ws: &Workspace, abs: &Path) -> Vec<(String, PathBuf)> {
    let (Some(dir), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Vec::new();
    };
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let file = dir.join(name);
    ws.repos()
        .filter_map(|repo| {
            let rel = file.strip_prefix(ws.root(repo).ok()?).ok()?;
            Some((repo.to_owned(), rel.to_owned()))
        })
        .collect()
}

fn slash(path: &std::path::Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &std::path::Path) -> bool {
    false
}

/// The repository roots of a workspace, for [`rollback_files`].
pub(crate) fn roots(ws: &Workspace) -> Result<HashMap<String, PathBuf>> {
    ws.repos()
        .map(|r| Ok((r.to_owned(), ws.root(r)?.to_owned())))
        .collect()
}

/// The next checkpoint id of a run.
pub(crate) fn next_id<S: CheckpointStore + ?Sized>(store: &S, run: &RunId) -> Result<u64> {
    Ok(store.list(run)?.len() as u64 + 1)
}

/// Restores the workspace files and the run's state to a checkpoint, and
/// records the rollback as a new checkpoint of the same run whose parent is
/// the target, so that resuming the run continues from there.
pub(crate) fn rollback<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    to: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    let latest = store
        .latest(&to.run_id)?
        .ok_or_else(|| Error::RunNotFound {
            run: to.run_id.to_string(),
        })?;
    let current = store.materialize(&latest.run_id, &latest.id)?;
    let target = store.materialize(&to.run_id, &to.id)?;
    let report = rollback_files(store, &current, &target, &roots(ws)?)?;
    let state = state_at(store, to)?;
    let mut cp = Checkpoint::new(
        to.run_id.clone(),
        CheckpointId::from_seq(next_id(store, &to.run_id)?),
        format!("rollback to {}", to.id),
    );
    cp.parent = Some(to.clone());
    cp.artifacts = Recorded::Full {
        artifacts: Box::new(state.artifacts),
    }
    .to_value()?;
    store.put(&cp)?;
    Ok((report, cp.reference()))
}

/// Starts a new run from a checkpoint: workspace files are restored to it
/// (from the latest checkpoint of its run), and the new run's first
/// checkpoint carries its full state. The old run is kept as it is.
pub(crate) fn fork<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    from: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    let latest = store
        .latest(&from.run_id)?
        .ok_or_else(|| Error::RunNotFound {
            run: from.run_id.to_string(),
        })?;
    let current = store.materialize(&latest.run_id, &latest.id)?;
    let target = store.materialize(&from.run_id, &from.id)?;
    let report = rollback_files(store, &current, &target, &roots(ws)?)?;
    let state = state_at(store, from)?;
    let run = store.create_run()?;
    let mut cp = Checkpoint::new(run, CheckpointId::from_seq(1), "fork");
    cp.parent = Some(from.clone());
    cp.artifacts = Recorded::Full {
        artifacts: Box::new(state.artifacts),
    }
    .to_value()?;
    store.put(&cp)?;
    Ok((report, cp.reference()))
}
