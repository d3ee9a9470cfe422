//! Policy detection after a batch of tasks: changes outside the writable
//! globs (or symbolic links out of the workspace), and changes to paths
//! `.kiro/policy.toml` protects without their approval, are reverted, and
//! the tasks of the batch fail naming them.

use super::{blocking, Run};
use crate::error::Result;
use crate::pipeline::record::Violation;
use crate::stage::{OutcomeStatus, TaskOutcome};
use crate::store::DocKind;

impl Run<'_> {
    /// Rescans the workspace, then finds the changes since the last
    /// checkpoint that break the workspace policy (see
    /// [`ChangeTracker::violations`](crate::pipeline::record::ChangeTracker::violations)),
    /// reverts them, and returns them; all on the blocking pool. Nothing
    /// without a checkpoint store, whose blobs the revert restores from.
    pub(super) async fn rescan_and_police(&mut self) -> Result<Vec<Violation>> {
        let (Some(store), Some(mut tracker)) = (self.pipeline.store.clone(), self.tracker.take())
        else {
            return Ok(Vec::new());
        };
        let workspace = self.options.workspace.clone();
        let tasks_file = self
            .spec_dir
            .as_ref()
            .map(|dir| dir.join(DocKind::Tasks.file_name()));
        let tasks_text = self.tasks_text.clone();
        let governance = self.pipeline.governance.clone();
        let spec = self.artifacts.spec.name.clone();
        let (tracker, found) = blocking(move || {
            tracker.rescan(&workspace, store.as_ref())?;
            let engine = tasks_file.as_deref().zip(tasks_text.as_deref());
            // The approvals are read per rescan: one given while the run
            // goes on counts for the tasks that end after it.
            let guard = match &governance {
                Some(g) => Some(g.protected_guard(&spec)?),
                None => None,
            };
            let guard = guard.filter(|g| !g.is_empty());
            let found = tracker.violations(&workspace, engine, guard.as_ref());
            if !found.is_empty() {
                tracker.revert(&workspace, store.as_ref(), &found, tasks_text.as_deref())?;
            }
            Ok((tracker, found))
        })
        .await?;
        self.tracker = Some(tracker);
        Ok(found)
    }
}

/// Fails a task's outcome after the rescan found changes outside the
/// workspace policy, naming every path and why; what the task itself
/// reported is kept as evidence, and every other field as it was.
pub(super) fn fail_for_policy(outcome: &mut TaskOutcome, violations: &[Violation], list: &str) {
    let mut evidence = violations
        .iter()
        .map(|v| format!("{}: {} (reverted)", v.path, v.reason))
        .collect::<Vec<_>>()
        .join("\n");
    if !outcome.summary.is_empty() || !outcome.evidence.is_empty() {
        evidence.push_str("\nthe task reported: ");
        evidence.push_str(&outcome.summary);
        if !outcome.evidence.is_empty() {
            evidence.push('\n');
            evidence.push_str(&outcome.evidence);
        }
    }
    outcome.status = OutcomeStatus::Failed;
    outcome.summary = format!("changed files outside the workspace policy: {list}");
    outcome.evidence = evidence;
}
