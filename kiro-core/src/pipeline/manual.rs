//! Checkpoints of tasks that no engine ran: a person or a coding agent
//! starts a task, works on it, and says when it is done (`kiro task`, the
//! MCP server). The engine's own recording ([`ChangeTracker`], [`Recorded`])
//! writes them, so that `kiro rollback`, `kiro trace` and a resumed run read
//! them as any task's checkpoint.
//!
//! What a task changed cannot be journaled (its writes do not go through a
//! [`Workspace`]), so it is the difference between two whole-tree scans: the
//! baseline stored when the task started and the tree when it is done.

use crate::checkpoint::{
    get_tree, put_tree, BlobId, Checkpoint, CheckpointId, CheckpointRef, CheckpointStore,
    FileChange, FileState, Tree,
};
use crate::error::Result;
use crate::pipeline::record::{next_id, ChangeTracker, Recorded};
use crate::stage::{Artifacts, NodeId, TaskOutcome};
use crate::workspace::Workspace;

/// The name of the first node of a run opened for hand-run tasks
/// (`node manual` in checkpoint lists).
const MANUAL_NODE: &str = "manual";

/// Scans every repository of `ws`, stores the content of every file not yet
/// in `store` and the whole tree, and returns the tree's blob: what a
/// task's changes are later measured against.
pub fn baseline_tree<S: CheckpointStore + ?Sized>(store: &S, ws: &Workspace) -> Result<BlobId> {
    let mut tracker = ChangeTracker::baseline(ws, store)?;
    match tracker.take_tree() {
        Some(tree) => Ok(tree),
        // The baseline always stores a tree; an empty one is the honest
        // answer should that ever change.
        None => put_tree(store, &Tree::new()),
    }
}

/// What changed in `ws` since the tree `baseline` was stored: one change per
/// file whose state differs, `before` as the baseline had it, the new
/// contents stored.
pub fn changes_since<S: CheckpointStore + ?Sized>(
    store: &S,
    ws: &Workspace,
    baseline: &BlobId,
) -> Result<Vec<FileChange>> {
    let before = get_tree(store, baseline)?;
    let now = get_tree(store, &baseline_tree(store, ws)?)?;
    let mut out = Vec::new();
    for (key, state) in &now {
        let was = before.get(key).cloned().unwrap_or(FileState::Deleted);
        if &was != state {
            out.push(FileChange::new(key.0.clone(), key.1.clone(), state.clone()).with_before(was));
        }
    }
    for (key, was) in &before {
        if !now.contains_key(key) {
            out.push(
                FileChange::new(key.0.clone(), key.1.clone(), FileState::Deleted)
                    .with_before(was.clone()),
            );
        }
    }
    Ok(out)
}

/// Opens a new run for hand-run tasks: its first checkpoint (`node
/// manual`) holds the whole artifacts (so the run names its spec) and the
/// tree `baseline`, so that rolling back to it restores the workspace as it
/// was before the first task.
pub fn open_manual_run<S: CheckpointStore + ?Sized>(
    store: &S,
    artifacts: Artifacts,
    baseline: BlobId,
) -> Result<CheckpointRef> {
    let run = store.create_run()?;
    let node = NodeId::Custom(MANUAL_NODE.to_owned()).to_string();
    let mut cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(1), node.as_str());
    cp.artifacts = Recorded::Full {
        artifacts: Box::new(artifacts),
    }
    .to_value(&run, &node)?;
    cp.tree = Some(baseline);
    store.put(&cp)?;
    Ok(cp.reference())
}

/// Records a hand-run task's checkpoint after `parent` (the latest
/// checkpoint of its run): its outcome, the files it changed and, as the
/// checkpoint's tree, the baseline those changes are measured from.
pub fn record_manual_task<S: CheckpointStore + ?Sized>(
    store: &S,
    parent: &CheckpointRef,
    outcome: TaskOutcome,
    files: Vec<FileChange>,
    baseline: Option<BlobId>,
) -> Result<CheckpointRef> {
    let run = parent.run_id.clone();
    let node = NodeId::Task(outcome.task.clone()).to_string();
    let mut cp = Checkpoint::new(
        run.clone(),
        CheckpointId::from_seq(next_id(store, &run)?),
        node.as_str(),
    );
    cp.parent = Some(parent.clone());
    cp.artifacts = Recorded::Outcome {
        outcome: Box::new(outcome),
    }
    .to_value(&run, &node)?;
    cp.files = files;
    cp.tree = baseline;
    store.put(&cp)?;
    Ok(cp.reference())
}
