//! What a run writes into its checkpoints, and how a run's state is read
//! back from them: resume, rollback and fork.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    apply_intent, complete_intents, put_tree, tree_at, BlobId, Checkpoint, CheckpointId,
    CheckpointRef, CheckpointStore, FileChange, FileKey, FileState, RollbackHooks, RollbackIntent,
    RollbackPlan, RollbackReport, RunId, Tree,
};
use crate::error::{Error, Result};
use crate::stage::{Artifacts, NodeId, OutcomeStatus, TaskOutcome};
use crate::workspace::{FileStat, Snapshot, Workspace};

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
        /// The outcome (boxed: it is much larger than a gate).
        outcome: Box<TaskOutcome>,
    },
    /// An approved gate.
    Gate,
}

impl Recorded {
    /// The record as a checkpoint's `artifacts`, for `node` of `run`.
    pub(crate) fn to_value(&self, run: &RunId, node: &str) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::CheckpointEncode {
            run: run.to_string(),
            node: node.to_owned(),
            message: e.to_string(),
        })
    }
}

/// A run's state as of one checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct RunState {
    /// The artifacts: the last full ones with later outcomes applied.
    pub artifacts: Artifacts,
    /// Every node that completed along the checkpoint's chain (a node
    /// name kiro does not know, from a newer version, is left out).
    pub completed: HashSet<NodeId>,
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
            Recorded::Full { artifacts } if NodeId::Verify == *cp.node => {
                artifacts.report.as_ref().is_none_or(|r| r.is_success())
            }
            _ => true,
        };
        if first && complete {
            if let Ok(node) = cp.node.parse::<NodeId>() {
                state.completed.insert(node);
            }
        }
        if found_full {
            continue;
        }
        match rec {
            Recorded::Full { artifacts } => {
                state.artifacts = *artifacts;
                found_full = true;
            }
            Recorded::Outcome { outcome } => outcomes.push(*outcome),
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
    serde_json::from_value(cp.artifacts.clone()).map_err(|e| Error::ForeignCheckpoint {
        run: cp.run_id.to_string(),
        checkpoint: cp.id.to_string(),
        message: e.to_string(),
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
    /// The whole tree as the baseline found it, stored, for the next
    /// checkpoint ([`Checkpoint::tree`]).
    tree: Option<BlobId>,
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
        let mut tree = Tree::new();
        for repo in ws.repos() {
            let snap = ws.snapshot(repo)?;
            let root = ws.root(repo)?.to_owned();
            for (path, stat) in &snap.files {
                let state = state_of(stat)?;
                if let FileState::Present { blob, .. } = &state {
                    if !store.has_blob(blob) {
                        let abs = root.join(path);
                        let bytes = std::fs::read(&abs).map_err(|source| Error::Io {
                            path: abs.clone(),
                            source,
                        })?;
                        store.put_blob(&bytes)?;
                    }
                }
                tree.insert((repo.to_owned(), slash(path)), state);
            }
            snaps.push(snap);
        }
        let tree = put_tree(store, &tree)?;
        Ok(ChangeTracker {
            snaps,
            journal_len: ws.journal_len(),
            detected: Vec::new(),
            engine_writes: Vec::new(),
            located: HashMap::new(),
            tree: Some(tree),
        })
    }

    /// The stored baseline tree, once: the first checkpoint after the
    /// baseline carries it.
    pub(crate) fn take_tree(&mut self) -> Option<BlobId> {
        self.tree.take()
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

    /// The changes detected since the last checkpoint that break the
    /// workspace policy: a path outside the writable globs, or a symbolic
    /// link whose target lies outside every repository root (a relative
    /// target is resolved lexically against the link's folder, never
    /// followed), wherever the link is. `engine` is the file the engine
    /// itself writes (`tasks.md`, absolute) with the content it wrote: that
    /// file as the engine left it is allowed, other content of it only
    /// where the globs allow it (and a revert puts back the engine's text).
    /// With a `protected` guard, a change it refuses (a protected path
    /// without its approval) is a violation too.
    pub(crate) fn violations(
        &mut self,
        ws: &Workspace,
        engine: Option<(&Path, &str)>,
        protected: Option<&crate::governance::ProtectedGuard>,
    ) -> Vec<Violation> {
        let engine: Vec<(FileKey, BlobId)> = match engine {
            Some((abs, text)) => {
                let blob = BlobId::of(text.as_bytes());
                self.located
                    .entry(abs.to_owned())
                    .or_insert_with(|| locate(ws, abs))
                    .iter()
                    .map(|(repo, path)| ((repo.clone(), slash(path)), blob.clone()))
                    .collect()
            }
            None => Vec::new(),
        };
        let writable = ws.writable_set();
        let roots: Vec<PathBuf> = ws
            .repos()
            .filter_map(|r| ws.root(r).ok().map(Path::to_owned))
            .collect();
        let mut out = Vec::new();
        for change in &self.detected {
            let key = (change.repo.clone(), change.path.clone());
            let by_engine = engine
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, blob)| change.state.blob() == Some(blob));
            let reason = match &change.state {
                FileState::Symlink { target } => {
                    let root = ws.root(&change.repo).ok();
                    let outside = root.is_none_or(|root| {
                        let resolved = lexical_target(root, &change.path, target);
                        !roots.iter().any(|r| resolved.starts_with(r))
                    });
                    if outside {
                        Some(format!("symlink to {target} outside the workspace"))
                    } else if writable.matches(&change.path) {
                        None
                    } else {
                        Some("outside the writable globs".to_owned())
                    }
                }
                _ if by_engine == Some(true) => None,
                _ if writable.matches(&change.path) => None,
                _ => Some("outside the writable globs".to_owned()),
            };
            let reason = reason.or_else(|| {
                protected
                    .filter(|_| by_engine != Some(true))
                    .and_then(|guard| guard.check(&change.path))
                    .map(str::to_owned)
            });
            if let Some(reason) = reason {
                let restore = match engine.iter().find(|(k, _)| *k == key) {
                    Some((_, blob)) => FileState::present(
                        blob.clone(),
                        match &change.before {
                            FileState::Present { mode, .. } => *mode,
                            _ => crate::checkpoint::DEFAULT_MODE,
                        },
                    ),
                    None => change.before.clone(),
                };
                out.push(Violation {
                    repo: change.repo.clone(),
                    path: change.path.clone(),
                    reason,
                    restore,
                });
            }
        }
        out
    }

    /// Reverts the violating changes to their state before (with the same
    /// restore code as a rollback: contents, mode, links, removal), then
    /// rescans so that the next checkpoint records the reverted tree.
    pub(crate) fn revert<S: CheckpointStore + ?Sized>(
        &mut self,
        ws: &Workspace,
        store: &S,
        violations: &[Violation],
        engine_text: Option<&str>,
    ) -> Result<RollbackReport> {
        if let Some(text) = engine_text {
            // The engine's own text may not be stored yet (marks are
            // stored when a checkpoint takes them).
            store.put_blob(text.as_bytes())?;
        }
        let wanted = violations
            .iter()
            .map(|v| ((v.repo.clone(), v.path.clone()), v.restore.clone()));
        let roots = roots(ws)?;
        let plan = RollbackPlan::new(store, wanted, &roots)?;
        let report = plan.apply(store, &roots, &RollbackHooks::default())?;
        self.rescan(ws, store)?;
        // A file back as it was is no change at all.
        self.detected.retain(|c| c.state != c.before);
        Ok(report)
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
            // The state before is the one the last detection saw, mode
            // included: never read from the file as it is now.
            let before = match snap.files.get(&path) {
                Some(stat) => state_of(stat)?,
                None => FileState::Deleted,
            };
            let state = match read_entry(&abs, store)? {
                Some((state, stat)) => {
                    snap.files.insert(path.clone(), stat);
                    state
                }
                None => {
                    snap.files.remove(&path);
                    FileState::Deleted
                }
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
            let before_of = |path: &PathBuf| -> Result<FileState> {
                old.files.get(path).map_or(Ok(FileState::Deleted), state_of)
            };
            for path in diff.created.iter().chain(&diff.modified) {
                let abs = root.join(path);
                // A task still running may change the file after the scan:
                // what is stored is what is read now, and the kept snapshot
                // says the same, so that the next checkpoint's "before"
                // names a stored blob.
                let before = before_of(path)?;
                let state = match read_entry(&abs, store)? {
                    Some((state, stat)) => {
                        new.files.insert(path.clone(), stat);
                        state
                    }
                    None => {
                        new.files.remove(path);
                        FileState::Deleted
                    }
                };
                if state != before {
                    out.push(FileChange::new(repo.clone(), slash(path), state).with_before(before));
                }
            }
            for path in &diff.deleted {
                let before = before_of(path)?;
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

/// A change a task made that the workspace policy does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The repository.
    pub repo: String,
    /// The path, `/`-separated.
    pub path: String,
    /// Why it is not allowed, for people.
    pub reason: String,
    /// What the file is put back to.
    pub restore: FileState,
}

/// Where a link at `rel` (inside `root`) points, resolved lexically: a
/// relative target against the link's folder, `..` undone textually, never
/// following anything on disk.
fn lexical_target(root: &Path, rel: &str, target: &str) -> PathBuf {
    let link = root.join(rel);
    let base = link.parent().unwrap_or(root);
    let joined = base.join(target);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
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

/// The checkpoint state a scanned file is in.
fn state_of(stat: &FileStat) -> Result<FileState> {
    Ok(match &stat.symlink {
        Some(target) => FileState::Symlink {
            target: target.clone(),
        },
        None => FileState::present(BlobId::new(stat.sha256.clone())?, stat.mode),
    })
}

/// Reads a file or link as it is now, storing a file's content: its state
/// and the stat a snapshot would hold. `None` when it is gone.
fn read_entry<S: CheckpointStore + ?Sized>(
    abs: &Path,
    store: &S,
) -> Result<Option<(FileState, FileStat)>> {
    let io = |source| Error::Io {
        path: abs.to_owned(),
        source,
    };
    let meta = match std::fs::symlink_metadata(abs) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mtime = crate::workspace::Mtime::of(&meta);
    if meta.file_type().is_symlink() {
        let target = match std::fs::read_link(abs) {
            Ok(t) => t.to_string_lossy().into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let stat = FileStat {
            size: u64::try_from(target.len()).unwrap_or(u64::MAX),
            mtime,
            sha256: crate::workspace::sha256_hex(target.as_bytes()),
            mode: 0,
            symlink: Some(target.clone()),
        };
        return Ok(Some((FileState::Symlink { target }, stat)));
    }
    let bytes = match std::fs::read(abs) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let blob = store.put_blob(&bytes)?;
    let mode = crate::checkpoint::mode_of(&meta);
    let stat = FileStat {
        size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        mtime,
        sha256: blob.as_str().to_owned(),
        mode,
        symlink: None,
    };
    Ok(Some((FileState::present(blob, mode), stat)))
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
///
/// Rollbacks of the same spec that a crash interrupted are completed first.
/// The whole rollback is planned before any file changes (every blob read
/// and checked), stored as an intent, applied, and committed with its
/// checkpoint. When the target has a tree ([`tree_at`]), that checkpoint's
/// files are what the rollback changed, their `before` what was on disk
/// (stored, so nothing a rollback removes is lost); for older runs it has
/// none, as a manifest fold would read those `before`s as the target's.
pub(crate) fn rollback<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    to: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    let spec = run_spec(store, &to.run_id)?;
    if let Some(spec) = &spec {
        complete_rollbacks(store, ws, spec)?;
    }
    let latest = store
        .latest(&to.run_id)?
        .ok_or_else(|| Error::RunNotFound {
            run: to.run_id.to_string(),
        })?;
    let roots = roots(ws)?;
    let (wanted, exact) = wanted_states(store, ws, &latest.reference(), to, spec.as_deref())?;
    let plan = RollbackPlan::new(store, wanted, &roots)?;
    let state = state_at(store, to)?;
    // The branches move before the intent is stored: each move is derived
    // from the store alone (idempotent), so a crash before the intent
    // leaves a rollback that running it again completes, and one after it
    // finds the branches already where the completed intent leaves the files.
    if let Some(spec) = &spec {
        let recorded = super::branches::recorded_commits(&state.artifacts);
        super::branches::sync_workspace(ws, spec, to.run_id.as_str(), &recorded)?;
    }
    let node = NodeId::RollbackTo(to.id.clone()).to_string();
    let mut cp = Checkpoint::new(
        to.run_id.clone(),
        CheckpointId::from_seq(next_id(store, &to.run_id)?),
        node.as_str(),
    );
    cp.parent = Some(to.clone());
    cp.artifacts = Recorded::Full {
        artifacts: Box::new(state.artifacts),
    }
    .to_value(&to.run_id, &node)?;
    if exact {
        cp.files = plan.steps().to_vec();
    }
    let intent = plan.into_intent(cp);
    let report = apply_intent(store, &intent, &roots, &RollbackHooks::default())?;
    Ok((report, intent.checkpoint.reference()))
}

/// Starts a new run from a checkpoint: workspace files are restored to it
/// as [`rollback`] does (from the latest checkpoint of its run), and the new
/// run's first checkpoint carries its full state and what the restore
/// changed. The old run is kept as it is.
pub(crate) fn fork<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    from: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    let spec = run_spec(store, &from.run_id)?;
    if let Some(spec) = &spec {
        complete_rollbacks(store, ws, spec)?;
    }
    let latest = store
        .latest(&from.run_id)?
        .ok_or_else(|| Error::RunNotFound {
            run: from.run_id.to_string(),
        })?;
    let roots = roots(ws)?;
    let (wanted, exact) = wanted_states(store, ws, &latest.reference(), from, spec.as_deref())?;
    let plan = RollbackPlan::new(store, wanted, &roots)?;
    let state = state_at(store, from)?;
    // The branches follow the files back to `from`, as for a rollback; the
    // new run's commits then continue from there.
    if let Some(spec) = &spec {
        let recorded = super::branches::recorded_commits(&state.artifacts);
        super::branches::sync_workspace(ws, spec, from.run_id.as_str(), &recorded)?;
    }
    let run = store.create_run()?;
    let node = NodeId::Fork.to_string();
    let mut cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(1), node.as_str());
    cp.parent = Some(from.clone());
    cp.artifacts = Recorded::Full {
        artifacts: Box::new(state.artifacts),
    }
    .to_value(&run, &node)?;
    if exact {
        cp.files = plan.steps().to_vec();
    }
    let intent = plan.into_intent(cp);
    let report = apply_intent(store, &intent, &roots, &RollbackHooks::default())?;
    Ok((report, intent.checkpoint.reference()))
}

/// Completes the rollbacks and forks of `spec` that a crash interrupted
/// (see [`complete_intents`]); returns the checkpoints they committed.
pub(crate) fn complete_rollbacks<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    spec: &str,
) -> Result<Vec<(CheckpointRef, RollbackReport)>> {
    complete_intents(store, &roots(ws)?, |intent| {
        intent_spec(intent).as_deref() == Some(spec)
    })
}

/// The spec an intent's checkpoint works on.
fn intent_spec(intent: &RollbackIntent) -> Option<String> {
    match decode(&intent.checkpoint) {
        Ok(Recorded::Full { artifacts }) => Some(artifacts.spec.name),
        _ => None,
    }
}

/// What each file must become for the workspace to be as at `target`,
/// given that the run's latest checkpoint is `current`; only files that
/// differ from it now.
///
/// With a tree ([`tree_at`]), the workspace is rescanned and compared with
/// the whole tree at the target, so that files written after the last
/// checkpoint (a task killed half-way) are restored or removed too. The
/// comparison covers every path the run could have touched: those its
/// checkpoints recorded, those the policy lets tasks write, and the spec's
/// folder `.kiro/specs/<spec>/`; other files are left alone. Without a tree
/// (runs recorded before trees were kept) only the recorded paths are
/// restored.
///
/// Also says whether the target had a tree: only then does the checkpoint
/// of the rollback record its steps as file changes (see [`rollback`]).
fn wanted_states<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    current: &CheckpointRef,
    target: &CheckpointRef,
    spec: Option<&str>,
) -> Result<(Vec<(FileKey, FileState)>, bool)> {
    let current_manifest = store.materialize(&current.run_id, &current.id)?;
    let target_manifest = store.materialize(&target.run_id, &target.id)?;
    let mut wanted: BTreeMap<FileKey, FileState> = BTreeMap::new();
    for key in current_manifest.keys().chain(target_manifest.keys()) {
        let state = match (target_manifest.get(key), current_manifest.get(key)) {
            (Some(t), _) => t.state.clone(),
            (None, Some(c)) => c.before.clone(),
            (None, None) => continue,
        };
        wanted.insert(key.clone(), state);
    }
    let Some(tree) = tree_at(store, target)? else {
        return Ok((wanted.into_iter().collect(), false));
    };
    let writable = ws.writable_set();
    let spec_dir = spec.map(|s| format!(".kiro/specs/{s}/"));
    let in_scope = |key: &FileKey| {
        current_manifest.contains_key(key)
            || target_manifest.contains_key(key)
            || writable.matches(&key.1)
            || spec_dir.as_deref().is_some_and(|d| key.1.starts_with(d))
    };
    let mut on_disk = Tree::new();
    for repo in ws.repos() {
        for (path, stat) in ws.snapshot(repo)?.files {
            on_disk.insert((repo.to_owned(), slash(&path)), state_of(&stat)?);
        }
    }
    // The tree alone says what each file was; the manifests only widen
    // the scope (a manifest's `before` is the state before its chain first
    // touched a file, which after an earlier rollback is not the target's).
    let keys: BTreeSet<FileKey> = tree
        .keys()
        .chain(on_disk.keys())
        .chain(wanted.keys())
        .filter(|k| in_scope(k))
        .cloned()
        .collect();
    // Only what differs: the plan looks at (and hashes) these files again.
    let differing = keys
        .into_iter()
        .map(|key| {
            let want = tree.get(&key).cloned().unwrap_or_default();
            (key, want)
        })
        .filter(|(key, want)| on_disk.get(key).unwrap_or(&FileState::Deleted) != want)
        .collect();
    Ok((differing, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_resolve_lexically_against_the_links_folder() {
        let root = Path::new("/ws");
        // (link path, target as written, where it points)
        let cases = [
            ("src/alias", "lib.rs", "/ws/src/lib.rs"),
            ("src/up", "../README.md", "/ws/README.md"),
            ("src/deep/x", "../../../etc/shadow", "/etc/shadow"),
            ("src/abs", "/etc/shadow", "/etc/shadow"),
            ("src/dots", "./a/./b/../c", "/ws/src/a/c"),
            ("top", "../../..", "/"),
        ];
        for (link, target, want) in cases {
            assert_eq!(
                lexical_target(root, link, target),
                PathBuf::from(want),
                "{link} -> {target}"
            );
        }
    }
}
