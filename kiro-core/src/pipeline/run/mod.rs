//! One run of a [`Pipeline`]: the state machine behind [`Pipeline::run`].
//!
//! - this module: [`Run`], what a run holds, how it starts and how its
//!   status is decided at the end;
//! - [`phases`]: the phases in order, their gates and custom nodes;
//! - [`scheduler`]: the task graph run concurrently, settling each task and
//!   releasing or skipping its dependents;
//! - [`retry`]: one attempt under a node's timeout and cancellation, and
//!   the retry loop around it;
//! - [`checkpoints`]: staging and committing a node's checkpoint, the
//!   engine's own writes (documents, task marks) that it records;
//! - [`commits`]: git per task, the `kiro/<spec>` branches prepared and a
//!   commit per finished task, between its mark and its checkpoint;
//! - [`policy`]: the changes of a batch of tasks that break the workspace
//!   policy, reverted, and the tasks failed for them.
//!
//! Blocking file-system work (checkpoint syncs, workspace rescans, audit
//! appends, the baseline scan) goes through [`blocking`], so that a slow
//! disk stalls this run's bookkeeping and never the tokio worker its
//! running tasks share.

mod checkpoints;
mod commits;
mod phases;
mod policy;
mod retry;
mod scheduler;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::record::{self, ChangeTracker, Recorded};

/// How long running nodes get to stop after a cancellation before they are
/// dropped (which kills their processes).
const CANCEL_GRACE: Duration = Duration::from_secs(10);
use super::{CheckedPlan, Pipeline, RunOptions, RunStatus, RunSummary};
use crate::audit::{AuditKind, NewEntry};
use crate::checkpoint::{Checkpoint, CheckpointRef, RunId};
use crate::error::{Error, Result};
use crate::spec::Spec;
use crate::stage::{
    Approval, Artifacts, Gate, NodeId, NodeStatus, OutcomeStatus, PipelineEvent, StageContext,
    StageError,
};
use crate::store::DocKind;
use crate::verify::CriterionStatus;

/// Whether a run goes on after a step, or stops with a status.
///
/// A step returns `Result<Flow>`: `Err` is the run's bookkeeping failing
/// (I/O, the store), `Flow::Stop` a run that ends normally before its last
/// phase (a failed stage, a rejected gate, a cancellation).
#[must_use]
enum Flow {
    /// Go on with the next step.
    Continue,
    /// Stop the run with this status.
    Stop(RunStatus),
}

/// Returns from the enclosing step when a step stops the run.
macro_rules! proceed {
    ($step:expr) => {
        if let Flow::Stop(status) = $step {
            return Ok(Flow::Stop(status));
        }
    };
}
use proceed;

/// Runs blocking file-system work on tokio's blocking pool, so that the
/// worker thread stays free for the tasks running beside this run's
/// bookkeeping.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        // The closure panicked (a bug in kiro or a store): the run stops.
        Err(e) => Err(Error::Backend(Box::new(e))),
    }
}

/// One run: the pipeline it runs under, what it was asked, and its state.
pub(super) struct Run<'p> {
    pipeline: &'p Pipeline,
    options: RunOptions,
    run_id: RunId,
    /// The sequence number of the next checkpoint.
    next_checkpoint: u64,
    /// The last checkpoint staged: the parent of the next one.
    parent: Option<CheckpointRef>,
    /// Nodes with a checkpoint (this run's or, on resume, an earlier one's).
    completed: HashSet<NodeId>,
    artifacts: Artifacts,
    /// Finds the files changed since the previous checkpoint; `None`
    /// without a store, or while a blocking rescan has it.
    tracker: Option<ChangeTracker>,
    /// Checkpoints built but not yet committed to the store, in order.
    staged: Vec<Checkpoint>,
    /// The context every node's context is derived from.
    context: StageContext,
    spec_dir: Option<PathBuf>,
    /// `tasks.md` as the engine last wrote or read it.
    tasks_text: Option<String>,
    /// This run's token: a child of the caller's, so that fail-fast stops
    /// this run's nodes without cancelling the caller's token.
    cancel: CancellationToken,
    /// The plan checked before the run started, whose graph the execute
    /// phase reuses when the tasks did not change since.
    checked_plan: Option<CheckedPlan>,
    /// The git work trees finished tasks are committed to; `None` when
    /// per-task commits are off or the tasks have not started.
    git: Option<commits::RunGit>,
}

impl<'p> Run<'p> {
    pub(super) async fn start(
        pipeline: &'p Pipeline,
        mut options: RunOptions,
        checked_plan: Option<CheckedPlan>,
    ) -> Result<Run<'p>> {
        let spec_dir = options.spec_dir.clone();
        let name = match (&spec_dir, &options.spec) {
            (Some(dir), _) => Some(spec_name(dir)),
            (None, Some(spec)) => Some(spec.name.clone()),
            (None, None) => None,
        };
        let resumed = options.resume.is_some();
        let opened = match (&pipeline.store, options.resume.clone()) {
            (Some(store), resume) => {
                let (store, workspace) = (store.clone(), options.workspace.clone());
                blocking(move || open_run(store.as_ref(), &workspace, name.as_deref(), resume))
                    .await?
            }
            (None, Some(run)) => {
                return Err(Error::ResumeWithoutStore {
                    run: run.to_string(),
                })
            }
            (None, None) => OpenedRun::new(RunId::generate()),
        };
        for (checkpoint, report) in &opened.completed_rollbacks {
            options.events.send(PipelineEvent::Message {
                node: "rollback".into(),
                text: format!(
                    "completed an interrupted rollback: checkpoint {checkpoint} ({} files written, {} removed)",
                    report.written.len(),
                    report.removed.len()
                ),
            });
        }
        let OpenedRun {
            run_id,
            mut artifacts,
            completed,
            next_checkpoint,
            parent,
            ..
        } = opened;
        // The documents on disk are the truth for the spec: after a resume
        // they hold the task marks of the nodes that completed.
        let spec = match (&spec_dir, options.spec.take()) {
            (Some(dir), _) => load_or_new(dir)?,
            (None, Some(spec)) => spec,
            (None, None) if resumed => artifacts.spec.clone(),
            (None, None) => Spec::default(),
        };
        artifacts.spec = spec;
        let tasks_text = match &spec_dir {
            Some(dir) => read_optional(&dir.join(DocKind::Tasks.file_name()))?,
            None => None,
        };
        let tracker = match &pipeline.store {
            Some(store) => {
                let (store, workspace) = (store.clone(), options.workspace.clone());
                Some(blocking(move || ChangeTracker::baseline(&workspace, store.as_ref())).await?)
            }
            None => None,
        };
        let cancel = options.cancel.child_token();
        let context = StageContext::builder(options.workspace.clone())
            .config(pipeline.config.clone())
            .memory(options.memory.clone())
            .memory_budget(options.memory_budget)
            .events(options.events.clone())
            .cancel(cancel.clone())
            .run_id(run_id.clone())
            .spec_name(artifacts.spec.name.clone())
            .spec_dir(spec_dir.clone().unwrap_or_default())
            .build();
        options.events.send(PipelineEvent::RunStarted {
            run_id: run_id.to_string(),
            spec: artifacts.spec.name.clone(),
            resumed,
        });
        Ok(Run {
            pipeline,
            options,
            run_id,
            next_checkpoint,
            parent,
            completed,
            artifacts,
            tracker,
            staged: Vec::new(),
            context,
            spec_dir,
            tasks_text,
            cancel,
            checked_plan,
            git: None,
        })
    }

    pub(super) async fn finish(mut self) -> Result<RunSummary> {
        let status = match self.phases().await? {
            Flow::Continue => self.final_status(),
            Flow::Stop(status) => status,
        };
        Ok(RunSummary {
            run_id: self.run_id.clone(),
            status,
            artifacts: self.artifacts,
            checkpoint: self.parent,
        })
    }

    fn final_status(&self) -> RunStatus {
        if let Some(failed) = self
            .artifacts
            .outcomes
            .values()
            .find(|o| o.status == OutcomeStatus::Failed)
        {
            return RunStatus::Failed {
                reason: format!("task {} failed: {}", failed.task, failed.summary),
            };
        }
        if let Some(report) = &self.artifacts.report {
            let failed: Vec<&str> = report
                .criteria
                .iter()
                .filter(|c| c.status == CriterionStatus::Failed)
                .map(|c| c.criterion.as_str())
                .collect();
            if !failed.is_empty() {
                return RunStatus::Failed {
                    reason: format!("criteria failed verification: {}", failed.join(", ")),
                };
            }
            // A failing test run counts even when no failing test is linked
            // to a criterion: something the spec does not name is broken.
            if let Some(code) = report.exit_code.filter(|c| *c != 0) {
                return RunStatus::Failed {
                    reason: format!("the test command exited with status {code}"),
                };
            }
        }
        RunStatus::Completed
    }

    /// Stops the run when it was cancelled.
    fn cancelled(&self) -> Flow {
        if self.cancel.is_cancelled() {
            Flow::Stop(RunStatus::Cancelled)
        } else {
            Flow::Continue
        }
    }

    /// Audits a gate's decision.
    async fn audit_gate(&self, gate: &Gate, approval: &Approval) -> Result<()> {
        let (kind, reason) = match approval {
            Approval::Approved => (AuditKind::Approval, None),
            Approval::Rejected { reason } => (AuditKind::Rejection, Some(reason.clone())),
        };
        self.audit(kind, serde_json::json!({ "gate": gate, "reason": reason }))
            .await
    }

    /// Appends an audit entry when the pipeline keeps an audit log (off
    /// the worker thread: an append takes a file lock and syncs).
    async fn audit(&self, kind: AuditKind, data: serde_json::Value) -> Result<()> {
        if let Some(log) = self.pipeline.audit.clone() {
            let entry = NewEntry::new(kind)
                .with_spec(self.artifacts.spec.name.clone())
                .with_run(self.run_id.to_string())
                .with_data(data);
            blocking(move || log.append(entry).map(drop)).await?;
        }
        Ok(())
    }

    /// The record of a node that keeps the whole artifacts; `None`
    /// without a store, which saves copying them for nothing.
    fn full(&self) -> Option<Recorded> {
        self.pipeline.store.as_ref().map(|_| Recorded::Full {
            artifacts: Box::new(self.artifacts.clone()),
        })
    }

    /// Sends [`PipelineEvent::NodeFinished`].
    fn finished(&self, node: &NodeId, status: NodeStatus, summary: String, started: Instant) {
        if self.options.events.is_active() {
            self.finished_named(&node.to_string(), status, summary, started);
        }
    }

    /// Sends [`PipelineEvent::NodeFinished`] for a node whose name the
    /// caller already has as text.
    fn finished_named(&self, node: &str, status: NodeStatus, summary: String, started: Instant) {
        if !self.options.events.is_active() {
            return;
        }
        self.options.events.send(PipelineEvent::NodeFinished {
            node: node.to_owned(),
            status,
            summary,
            duration_ms: millis(started.elapsed()),
        });
    }

    /// Adds what a phase or custom node spent on a model to the artifacts
    /// (which its checkpoint stores).
    fn add_usage(&mut self, node: &str, usage: crate::stage::TokenUsage) {
        if !usage.is_empty() {
            *self.artifacts.usage.entry(node.to_owned()).or_default() += usage;
        }
    }

    /// The `[limits]` value of `.kiro/policy.toml` that the run's usage
    /// so far (priced by `[llm.prices]` for `[llm] model`) goes past.
    fn over_limit(&self) -> Option<Error> {
        let governance = self.pipeline.governance.as_ref()?;
        let llm = &self.pipeline.config.llm;
        let usage =
            crate::stage::RunUsage::of(&self.artifacts).priced(llm.model.as_deref(), &llm.prices);
        governance
            .check_limits(&usage)
            .map(|limit| limit.into_error(self.run_id.as_str()))
    }

    /// Ends the run after a phase, verification or custom node failed.
    fn stage_failed(&self, node: &NodeId, error: &StageError, started: Instant) -> Flow {
        if matches!(error, StageError::Cancelled) {
            return Flow::Stop(RunStatus::Cancelled);
        }
        self.finished(node, NodeStatus::Failed, error.to_string(), started);
        Flow::Stop(RunStatus::Failed {
            reason: format!("{node}: {error}"),
        })
    }
}

/// What a run's store holds for it as it starts.
struct OpenedRun {
    run_id: RunId,
    artifacts: Artifacts,
    completed: HashSet<NodeId>,
    next_checkpoint: u64,
    parent: Option<CheckpointRef>,
    completed_rollbacks: Vec<(CheckpointRef, crate::checkpoint::RollbackReport)>,
}

impl OpenedRun {
    /// A new run: nothing completed, no checkpoint yet.
    fn new(run_id: RunId) -> OpenedRun {
        OpenedRun {
            run_id,
            artifacts: Artifacts::default(),
            completed: HashSet::new(),
            next_checkpoint: 1,
            parent: None,
            completed_rollbacks: Vec::new(),
        }
    }
}

/// Completes the spec's interrupted rollbacks, then creates the run or reads
/// the state of the one to resume (blocking: it reads and syncs the store).
///
/// A rollback or fork of this spec that a crash interrupted is completed
/// before anything is read, so that the run starts from the tree and the
/// checkpoint it was going to leave.
fn open_run(
    store: &dyn crate::checkpoint::CheckpointStore,
    workspace: &crate::workspace::Workspace,
    spec: Option<&str>,
    resume: Option<RunId>,
) -> Result<OpenedRun> {
    let completed_rollbacks = match spec {
        Some(name) => record::complete_rollbacks(store, workspace, name)?,
        None => Vec::new(),
    };
    let Some(run) = resume else {
        return Ok(OpenedRun {
            completed_rollbacks,
            ..OpenedRun::new(store.create_run()?)
        });
    };
    let latest = store.latest(&run)?.ok_or_else(|| Error::NothingToResume {
        run: run.to_string(),
    })?;
    let state = record::state_at(store, &latest.reference())?;
    Ok(OpenedRun {
        next_checkpoint: record::next_id(store, &run)?,
        run_id: run,
        artifacts: state.artifacts,
        completed: state.completed,
        parent: Some(latest.reference()),
        completed_rollbacks,
    })
}

/// The node that records a gate's decision.
fn gate_node(gate: &Gate) -> NodeId {
    match gate {
        Gate::Phase { phase } => NodeId::Gate(*phase),
        Gate::Checkpoint { task, .. } => NodeId::Task(task.clone()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn spec_name(dir: &std::path::Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The spec in a folder, or an empty one named after the folder.
fn load_or_new(dir: &std::path::Path) -> Result<Spec> {
    match Spec::load(dir) {
        Ok(spec) => Ok(spec),
        Err(Error::NotASpec { .. }) => Ok(Spec {
            name: spec_name(dir),
            ..Spec::default()
        }),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Spec {
                name: spec_name(dir),
                ..Spec::default()
            })
        }
        Err(e) => Err(e),
    }
}

fn read_optional(path: &std::path::Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}
