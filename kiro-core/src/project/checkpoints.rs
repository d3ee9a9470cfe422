//! `checkpoint list`, `rollback` and `fork`: the runs in the checkpoint
//! store, and moving the workspace back to one of their checkpoints under
//! the spec's lock, with an audit entry for each move.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Project, ProjectError, Result};
use crate::audit::{AuditEvent, AuditKind, AuditLog, Entry, ForkAudit, NewEntry, RollbackAudit};
use crate::checkpoint::{
    complete_intents, Checkpoint, CheckpointRef, CheckpointStore, RollbackReport, SpecLock,
};
use crate::pipeline;

/// The runs of the store: `kiro checkpoint list --format json` prints it
/// (see [`CheckpointList::to_json`]) and `kiro schema checkpoints` its
/// schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct CheckpointList {
    /// The runs, oldest first.
    pub runs: Vec<RunCheckpoints>,
}

/// One run of a [`CheckpointList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RunCheckpoints {
    /// The run id.
    pub run_id: String,
    /// The spec it works on; `null` for a run without checkpoints.
    pub spec: Option<String>,
    /// Its checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointRow>,
}

/// One checkpoint of a [`RunCheckpoints`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CheckpointRow {
    /// The checkpoint id within the run.
    pub id: String,
    /// `run@id`, as the other commands take it.
    pub reference: String,
    /// The node that wrote it (`requirements`, `task 2.1`, `gate design`).
    pub node: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
    /// How many workspace files the node changed.
    pub files_changed: usize,
    /// The checkpoint it follows, `run@id`; `null` for a run's first.
    pub parent: Option<String>,
}

impl CheckpointRow {
    fn new(cp: &Checkpoint) -> CheckpointRow {
        CheckpointRow {
            id: cp.id.to_string(),
            reference: cp.reference().to_string(),
            node: cp.node.clone(),
            created_at: cp.created_at.clone(),
            files_changed: cp.files.len(),
            parent: cp.parent.as_ref().map(ToString::to_string),
        }
    }
}

impl CheckpointList {
    /// The JSON `kiro checkpoint list --format json` prints: a pretty
    /// array, fields in declaration order.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}

/// What [`Project::rollback`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct RollbackOutcome {
    /// The checkpoint rolled back to.
    pub to: CheckpointRef,
    /// The checkpoint that records the rollback; resuming the run goes on
    /// from there.
    pub new: CheckpointRef,
    /// The files written and removed.
    pub report: RollbackReport,
    /// The spec of the run, when it has checkpoints.
    pub spec: Option<String>,
    /// Rollbacks and forks a crash had interrupted, completed first.
    pub completed: Vec<(CheckpointRef, RollbackReport)>,
    /// The audit entry recorded.
    pub entry: Entry,
}

/// What [`Project::fork`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct ForkOutcome {
    /// The checkpoint forked from.
    pub from: CheckpointRef,
    /// The new run's first checkpoint.
    pub new: CheckpointRef,
    /// The files written and removed.
    pub report: RollbackReport,
    /// The spec of the runs, when known.
    pub spec: Option<String>,
    /// Rollbacks and forks a crash had interrupted, completed first.
    pub completed: Vec<(CheckpointRef, RollbackReport)>,
    /// The audit entry recorded.
    pub entry: Entry,
}

impl Project {
    /// The runs of the store with their checkpoints, oldest first; only
    /// those of the spec named `spec` when given.
    pub fn checkpoints(&self, spec: Option<&str>) -> Result<CheckpointList> {
        let store = self.store.as_ref();
        let mut runs = Vec::new();
        for run in store.runs()? {
            let run_spec = pipeline::run_spec(store, &run)?;
            if spec.is_some() && run_spec.as_deref() != spec {
                continue;
            }
            runs.push(RunCheckpoints {
                run_id: run.to_string(),
                spec: run_spec,
                checkpoints: store.list(&run)?.iter().map(CheckpointRow::new).collect(),
            });
        }
        Ok(CheckpointList { runs })
    }

    /// Restores the workspace files and the run's state to `to`, under the
    /// spec's lock, after completing any rollback a crash interrupted, and
    /// records the rollback in the audit log.
    pub fn rollback(&self, to: &CheckpointRef) -> Result<RollbackOutcome> {
        let log = self.audit_log()?;
        let spec = pipeline::run_spec(self.store.as_ref(), &to.run_id)?;
        let _lock = self.lock_of(spec.as_deref())?;
        let workspace = self.workspace()?;
        let completed = self.complete_interrupted(&workspace)?;
        let (report, new) = pipeline::rollback(self.store.as_ref(), &workspace, to)?;
        let event = AuditEvent::Rollback(RollbackAudit::new(to, &new, &report));
        let entry = record(&log, event, spec.as_deref(), &to.run_id.to_string())?;
        Ok(RollbackOutcome {
            to: to.clone(),
            new,
            report,
            spec,
            completed,
            entry,
        })
    }

    /// Starts a new run from `from`, restoring the workspace files to it,
    /// under the spec's lock, after completing any rollback a crash
    /// interrupted, and records the fork in the audit log. The old run is
    /// left as it is.
    pub fn fork(&self, from: &CheckpointRef) -> Result<ForkOutcome> {
        let log = self.audit_log()?;
        let store = self.store.as_ref();
        let old_spec = pipeline::run_spec(store, &from.run_id)?;
        let _lock = self.lock_of(old_spec.as_deref())?;
        let workspace = self.workspace()?;
        let completed = self.complete_interrupted(&workspace)?;
        let (report, new) = pipeline::fork(store, &workspace, from)?;
        let spec = pipeline::run_spec(store, &new.run_id)?.or(old_spec);
        let event = AuditEvent::Fork(ForkAudit::new(from, &new, &report));
        let entry = record(&log, event, spec.as_deref(), &new.run_id.to_string())?;
        Ok(ForkOutcome {
            from: from.clone(),
            new,
            report,
            spec,
            completed,
            entry,
        })
    }

    /// The lock of the spec a run works on, so that no run of it changes
    /// the files meanwhile; none for a run without checkpoints.
    fn lock_of(&self, spec: Option<&str>) -> Result<Option<SpecLock>> {
        Ok(match spec {
            Some(spec) => Some(SpecLock::acquire(&self.runs_dir, spec)?),
            None => None,
        })
    }

    /// Completes the rollbacks and forks a crash interrupted (their intents
    /// are still in the store), before anything else touches the workspace.
    fn complete_interrupted(
        &self,
        workspace: &crate::workspace::Workspace,
    ) -> Result<Vec<(CheckpointRef, RollbackReport)>> {
        let roots = workspace
            .repos()
            .map(|r| Ok((r.to_owned(), workspace.root(r)?.to_owned())))
            .collect::<crate::Result<_>>()?;
        Ok(complete_intents(self.store.as_ref(), &roots, |_| true)?)
    }
}

/// Appends the entry of a rollback or fork that already happened; the
/// error says so, since the workspace has changed either way.
fn record(log: &AuditLog, event: AuditEvent, spec: Option<&str>, run: &str) -> Result<Entry> {
    let what = event.kind();
    let mut entry = NewEntry::event(event).with_run(run);
    if let Some(spec) = spec {
        entry = entry.with_spec(spec);
    }
    log.append(entry)
        .map_err(|source| ProjectError::Unrecorded {
            what: match what {
                AuditKind::Other(name) => name,
                known => known.as_str().to_owned(),
            },
            log: log.path().to_owned(),
            source: Box::new(source),
        })
}
