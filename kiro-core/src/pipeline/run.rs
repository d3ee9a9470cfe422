//! One run of a [`Pipeline`]: the state machine behind [`Pipeline::run`].

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::stable_graph::NodeIndex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::event::{NodeStatus, PipelineEvent};
use super::graph::{TaskGraph, TaskKind};
use super::record::{self, ChangeTracker, Recorded};
use super::{NodePolicy, Pipeline, Placement, RunOptions, RunStatus, RunSummary};
use crate::audit::{AuditKind, NewEntry};
use crate::checkpoint::{Checkpoint, CheckpointId, CheckpointRef, RunId};
use crate::error::{Error, Result};
use crate::format::set_task_status;
use crate::spec::{Spec, Task, TaskStatus};
use crate::stage::{
    Approval, Artifacts, Gate, OutcomeStatus, Phase, StageContext, StageError, TaskOutcome,
};
use crate::store::DocKind;
use crate::store::{render_document, write_atomic};
use crate::verify::{CriterionResult, CriterionStatus, VerificationReport};

/// How long running nodes get to stop after a cancellation before they are
/// dropped (which kills their processes).
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// Why the phases stopped early.
enum Halt {
    Status(RunStatus),
}

pub(super) struct Run<'p> {
    p: &'p Pipeline,
    o: RunOptions,
    run_id: RunId,
    seq: u64,
    parent: Option<CheckpointRef>,
    completed: HashSet<String>,
    artifacts: Artifacts,
    tracker: Option<ChangeTracker>,
    /// Checkpoints built but not yet committed to the store, in order.
    staged: Vec<Checkpoint>,
    cx: StageContext,
    spec_dir: Option<PathBuf>,
    tasks_text: Option<String>,
    cancel: CancellationToken,
}

impl<'p> Run<'p> {
    pub(super) async fn start(p: &'p Pipeline, o: RunOptions) -> Result<Run<'p>> {
        let spec_dir = o.spec_dir.clone();
        // A rollback or fork of this spec that a crash interrupted is
        // completed before anything is read, so that the run starts from
        // the tree and the checkpoint it was going to leave.
        let name = match (&spec_dir, &o.spec) {
            (Some(dir), _) => Some(spec_name(dir)),
            (None, Some(spec)) => Some(spec.name.clone()),
            (None, None) => None,
        };
        if let (Some(store), Some(name)) = (&p.store, &name) {
            for (cp, report) in record::complete_rollbacks(store.as_ref(), &o.workspace, name)? {
                o.events.send(PipelineEvent::Message {
                    node: "rollback".into(),
                    text: format!(
                        "completed an interrupted rollback: checkpoint {cp} ({} files written, {} removed)",
                        report.written.len(),
                        report.removed.len()
                    ),
                });
            }
        }
        let mut completed = HashSet::new();
        let mut seq = 1;
        let mut parent = None;
        let resumed = o.resume.is_some();
        let (run_id, mut artifacts) = match (&o.resume, &p.store) {
            (Some(run), Some(store)) => {
                let latest = store.latest(run)?.ok_or_else(|| Error::Pipeline {
                    message: format!("run {run} has no checkpoint to resume from"),
                })?;
                let state = record::state_at(store.as_ref(), &latest.reference())?;
                completed = state.completed;
                seq = record::next_id(store.as_ref(), run)?;
                parent = Some(latest.reference());
                (run.clone(), state.artifacts)
            }
            (Some(_), None) => {
                return Err(Error::Pipeline {
                    message: "cannot resume without a checkpoint store".into(),
                })
            }
            (None, Some(store)) => (store.create_run()?, Artifacts::default()),
            (None, None) => (RunId::generate(), Artifacts::default()),
        };
        // The documents on disk are the truth for the spec: after a resume
        // they hold the task marks of the nodes that completed.
        let spec = match (&spec_dir, &o.spec) {
            (Some(dir), _) => load_or_new(dir)?,
            (None, Some(spec)) => spec.clone(),
            (None, None) if resumed => artifacts.spec.clone(),
            (None, None) => Spec::default(),
        };
        artifacts.spec = spec;
        let tasks_text = match &spec_dir {
            Some(dir) => read_optional(&dir.join(DocKind::Tasks.file_name()))?,
            None => None,
        };
        let tracker = match &p.store {
            Some(store) => Some(ChangeTracker::baseline(&o.workspace, store.as_ref())?),
            None => None,
        };
        // A child token, so that fail-fast can stop this run's nodes without
        // cancelling the caller's token.
        let cancel = o.cancel.child_token();
        let cx = StageContext::builder(o.workspace.clone())
            .config(p.config.clone())
            .memory(o.memory.clone())
            .memory_budget(o.memory_budget)
            .events(o.events.clone())
            .cancel(cancel.clone())
            .run_id(run_id.clone())
            .spec_name(artifacts.spec.name.clone())
            .spec_dir(spec_dir.clone().unwrap_or_default())
            .build();
        o.events.send(PipelineEvent::RunStarted {
            run_id: run_id.to_string(),
            spec: artifacts.spec.name.clone(),
            resumed,
        });
        Ok(Run {
            p,
            o,
            run_id,
            seq,
            parent,
            completed,
            artifacts,
            tracker,
            staged: Vec::new(),
            cx,
            spec_dir,
            tasks_text,
            cancel,
        })
    }

    pub(super) async fn finish(mut self) -> Result<RunSummary> {
        let status = match self.phases().await? {
            Ok(()) => self.final_status(),
            Err(Halt::Status(s)) => s,
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

    async fn phases(&mut self) -> Result<std::result::Result<(), Halt>> {
        for phase in Phase::ALL {
            if phase > self.o.until {
                break;
            }
            if let Err(h) = self.custom_nodes(Placement::Before(phase)).await? {
                return Ok(Err(h));
            }
            let r = match phase {
                Phase::Requirements | Phase::Design | Phase::Tasks => self.document(phase).await?,
                Phase::Execute => self.execute().await?,
                Phase::Verify => self.verify().await?,
            };
            if let Err(h) = r {
                return Ok(Err(h));
            }
            if let Err(h) = self.custom_nodes(Placement::After(phase)).await? {
                return Ok(Err(h));
            }
            if phase < Phase::Execute && phase < self.o.until {
                if let Err(h) = self.gate(Gate::Phase { phase }).await? {
                    return Ok(Err(h));
                }
            }
        }
        Ok(Ok(()))
    }

    fn cancelled(&self) -> std::result::Result<(), Halt> {
        if self.cancel.is_cancelled() {
            Err(Halt::Status(RunStatus::Cancelled))
        } else {
            Ok(())
        }
    }

    /// Runs an approver decision for a gate and records an approval.
    async fn gate(&mut self, gate: Gate) -> Result<std::result::Result<(), Halt>> {
        let name = gate_node(&gate);
        if self.completed.contains(&name) {
            return Ok(Ok(()));
        }
        if let Err(h) = self.cancelled() {
            return Ok(Err(h));
        }
        let approval = match self.p.approver.approve(&gate, &self.artifacts).await {
            Ok(a) => a,
            Err(e) => Approval::Rejected {
                reason: format!("approver failed: {e}"),
            },
        };
        self.o.events.send(PipelineEvent::GateDecided {
            gate: gate.clone(),
            approval: approval.clone(),
        });
        self.audit_gate(&gate, &approval)?;
        match approval {
            Approval::Approved => {
                self.record(name, Recorded::Gate, false)?;
                Ok(Ok(()))
            }
            Approval::Rejected { reason } => {
                Ok(Err(Halt::Status(RunStatus::Stopped { gate, reason })))
            }
        }
    }

    async fn custom_nodes(&mut self, at: Placement) -> Result<std::result::Result<(), Halt>> {
        let nodes: Vec<_> = self
            .p
            .nodes
            .iter()
            .filter(|(p, _)| *p == at)
            .map(|(_, n)| n.clone())
            .collect();
        for node in nodes {
            let name = format!("node {}", node.name());
            if self.completed.contains(&name) {
                continue;
            }
            if let Err(h) = self.cancelled() {
                return Ok(Err(h));
            }
            let started = Instant::now();
            let mut artifacts = self.artifacts.clone();
            let cx = self.cx.for_node(
                Arc::from(name.as_str()),
                1,
                Arc::new(self.artifacts.clone()),
            );
            self.o.events.send(PipelineEvent::NodeStarted {
                node: name.clone(),
                attempt: 1,
            });
            let r = guarded(
                self.p.phase_policy,
                &self.cancel,
                node.run(&mut artifacts, &cx),
            )
            .await;
            match r {
                Ok(()) => {
                    self.artifacts = artifacts;
                    self.finished(&name, NodeStatus::Done, "done".into(), started);
                    self.save_spec()?;
                    let rec = self.full();
                    self.record(name, rec, true)?;
                }
                Err(e) => return Ok(Err(self.stage_failed(&name, &e, started))),
            }
        }
        Ok(Ok(()))
    }

    fn audit_gate(&self, gate: &Gate, approval: &Approval) -> Result<()> {
        let (kind, reason) = match approval {
            Approval::Approved => (AuditKind::Approval, None),
            Approval::Rejected { reason } => (AuditKind::Rejection, Some(reason.clone())),
        };
        self.audit(kind, serde_json::json!({ "gate": gate, "reason": reason }))
    }

    /// Appends an audit entry when the pipeline keeps an audit log.
    fn audit(&self, kind: AuditKind, data: serde_json::Value) -> Result<()> {
        if let Some(log) = &self.p.audit {
            log.append(
                NewEntry::new(kind)
                    .with_spec(self.artifacts.spec.name.clone())
                    .with_run(self.run_id.to_string())
                    .with_data(data),
            )?;
        }
        Ok(())
    }

    fn full(&self) -> Recorded {
        Recorded::Full {
            artifacts: Box::new(self.artifacts.clone()),
        }
    }

    fn finished(&self, node: &str, status: NodeStatus, summary: String, started: Instant) {
        if !self.o.events.is_active() {
            return;
        }
        self.o.events.send(PipelineEvent::NodeFinished {
            node: node.to_owned(),
            status,
            summary,
            duration_ms: millis(started.elapsed()),
        });
    }

    fn stage_failed(&self, node: &str, e: &StageError, started: Instant) -> Halt {
        if matches!(e, StageError::Cancelled) {
            return Halt::Status(RunStatus::Cancelled);
        }
        self.finished(node, NodeStatus::Failed, e.to_string(), started);
        Halt::Status(RunStatus::Failed {
            reason: format!("{node}: {e}"),
        })
    }

    /// Requirements, design or tasks: reuse the document or produce it.
    async fn document(&mut self, phase: Phase) -> Result<std::result::Result<(), Halt>> {
        let name = phase.as_str().to_owned();
        if self.completed.contains(&name) {
            return Ok(Ok(()));
        }
        if let Err(h) = self.cancelled() {
            return Ok(Err(h));
        }
        let spec = &self.artifacts.spec;
        let has_requirements = spec.requirements.is_some() || spec.bugfix.is_some();
        let (exists, later_exists) = match phase {
            Phase::Requirements => (
                has_requirements,
                spec.design.is_some() || spec.tasks.is_some(),
            ),
            Phase::Design => (spec.design.is_some(), spec.tasks.is_some()),
            _ => (spec.tasks.is_some(), false),
        };
        let regenerate = self.o.regenerate.contains(&phase);
        // A spec that starts later in the chain (a hand-written tasks.md)
        // runs from there: a missing earlier document is not generated.
        if (exists || later_exists) && !regenerate {
            if exists {
                self.o.events.send(PipelineEvent::PhaseReused { phase });
                self.audit(
                    AuditKind::Phase,
                    serde_json::json!({ "phase": phase, "result": "reused" }),
                )?;
            }
            let rec = self.full();
            self.record(name, rec, false)?;
            return Ok(Ok(()));
        }
        let reqs = spec.requirements.clone().unwrap_or_default();
        let design = spec.design.clone().unwrap_or_default();
        let started = Instant::now();
        self.o.events.send(PipelineEvent::NodeStarted {
            node: name.clone(),
            attempt: 1,
        });
        let cx = self.cx.for_node(
            Arc::from(name.as_str()),
            1,
            Arc::new(self.artifacts.clone()),
        );
        let policy = self.p.phase_policy;
        let r: std::result::Result<(), StageError> = match phase {
            Phase::Requirements => {
                let Some(input) = self.o.input.clone() else {
                    return Err(Error::Pipeline {
                        message: format!(
                            "the spec {:?} has no requirements.md and no requirements input was given",
                            self.artifacts.spec.name
                        ),
                    });
                };
                let parser = self.p.requirements.clone();
                retrying(policy, &self.cancel, &self.o.events, &name, || {
                    parser.parse(&input, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.requirements = Some(doc))
            }
            Phase::Design => {
                let designer = self.p.designer.clone();
                retrying(policy, &self.cancel, &self.o.events, &name, || {
                    designer.design(&reqs, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.design = Some(doc))
            }
            _ => {
                let planner = self.p.planner.clone();
                retrying(policy, &self.cancel, &self.o.events, &name, || {
                    planner.plan(&reqs, &design, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.tasks = Some(doc))
            }
        };
        if let Err(e) = r {
            if !matches!(e, StageError::Cancelled) {
                self.audit(
                    AuditKind::Phase,
                    serde_json::json!({ "phase": phase, "result": "failed", "error": e.to_string() }),
                )?;
            }
            return Ok(Err(self.stage_failed(&name, &e, started)));
        }
        let kind = match phase {
            Phase::Requirements => DocKind::Requirements,
            Phase::Design => DocKind::Design,
            _ => DocKind::Tasks,
        };
        self.save_doc(kind)?;
        self.audit(
            AuditKind::Phase,
            serde_json::json!({ "phase": phase, "result": "written" }),
        )?;
        self.finished(&name, NodeStatus::Done, "written".into(), started);
        let rec = self.full();
        self.record(name, rec, true)?;
        Ok(Ok(()))
    }

    /// Writes one document of the spec to its folder, when it has one.
    fn save_doc(&mut self, kind: DocKind) -> Result<()> {
        let Some(dir) = &self.spec_dir else {
            return Ok(());
        };
        if self.artifacts.spec.name.is_empty() {
            self.artifacts.spec.name = spec_name(dir);
        }
        if let Some(text) = render_document(&self.artifacts.spec, kind) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            write_atomic(&dir.join(kind.file_name()), text.as_bytes())?;
            if kind == DocKind::Tasks {
                self.tasks_text = Some(text);
            }
        }
        Ok(())
    }

    /// Writes every document of the spec after a custom node changed it.
    fn save_spec(&mut self) -> Result<()> {
        if let Some(dir) = &self.spec_dir {
            self.artifacts.spec.save(dir)?;
            self.tasks_text = read_optional(&dir.join(DocKind::Tasks.file_name()))?;
        }
        Ok(())
    }

    /// Writes the checkpoint of a node that has just completed, with the
    /// files changed since the previous checkpoint (after a rescan when
    /// `rescan`, else from the journal and the engine's own writes).
    fn record(&mut self, node: String, rec: Recorded, rescan: bool) -> Result<()> {
        self.stage(node, rec, rescan)?;
        self.commit()
    }

    /// Builds the checkpoint of a node that has just completed and queues it
    /// for [`commit`](Self::commit).
    ///
    /// The caller has already written everything the node's completion
    /// changes on disk (its `[x]` mark, its documents) and, for a task that
    /// ran external processes, rescanned the workspace after they ended
    /// ([`rescan`](Self::rescan)). The checkpoint takes every change
    /// detected since the previous one, so its manifest is the tree as it
    /// was at this node's mark: the node's output is in it, and a task
    /// recorded later shows `[-]` or `[ ]`, never `[x]`. One node at a time,
    /// because several nodes finishing together each need the `tasks.md`
    /// of their own mark. The blobs are stored here, before the log line
    /// that commits them.
    fn stage(&mut self, node: String, rec: Recorded, rescan: bool) -> Result<()> {
        let Some(store) = self.p.store.clone() else {
            self.completed.insert(node);
            return Ok(());
        };
        let files = match &mut self.tracker {
            Some(t) => {
                if rescan {
                    t.rescan(&self.o.workspace, store.as_ref())?;
                }
                t.take(&self.o.workspace, store.as_ref())?
            }
            None => Vec::new(),
        };
        let mut cp = Checkpoint::new(
            self.run_id.clone(),
            CheckpointId::from_seq(self.seq),
            node.as_str(),
        );
        self.seq += 1;
        cp.parent = self.parent.clone();
        cp.artifacts = rec.to_value()?;
        cp.files = files;
        cp.tree = self.tracker.as_mut().and_then(ChangeTracker::take_tree);
        self.parent = Some(cp.reference());
        self.completed.insert(node);
        self.staged.push(cp);
        Ok(())
    }

    /// Rescans the workspace for changes made outside it; the next staged
    /// checkpoint takes them.
    fn rescan(&mut self) -> Result<()> {
        if let (Some(store), Some(tracker)) = (&self.p.store, &mut self.tracker) {
            tracker.rescan(&self.o.workspace, store.as_ref())?;
        }
        Ok(())
    }

    /// Finds the changes since the last checkpoint that break the
    /// workspace policy (see [`ChangeTracker::violations`]), reverts them,
    /// and returns them; nothing without a checkpoint store, whose blobs
    /// the revert restores from.
    fn police(&mut self) -> Result<Vec<record::Violation>> {
        let (Some(store), Some(tracker)) = (&self.p.store, &mut self.tracker) else {
            return Ok(Vec::new());
        };
        let tasks_file = self
            .spec_dir
            .as_ref()
            .map(|d| d.join(DocKind::Tasks.file_name()));
        let engine = tasks_file.as_deref().zip(self.tasks_text.as_deref());
        let found = tracker.violations(&self.o.workspace, engine);
        if !found.is_empty() {
            tracker.revert(
                &self.o.workspace,
                store.as_ref(),
                &found,
                self.tasks_text.as_deref(),
            )?;
        }
        Ok(found)
    }

    /// Makes the staged checkpoints durable, in order, with one sync for all
    /// of them (the store's group commit).
    fn commit(&mut self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let cps = std::mem::take(&mut self.staged);
        if let Some(store) = &self.p.store {
            store.put_many(&cps)?;
        }
        for cp in cps {
            self.o.events.send(PipelineEvent::CheckpointWritten {
                checkpoint: cp.reference(),
                node: cp.node,
            });
        }
        Ok(())
    }

    fn set_mark(&mut self, path: &[usize], status: TaskStatus) -> Result<()> {
        let (Some(dir), Some(text)) = (&self.spec_dir, &self.tasks_text) else {
            return Ok(());
        };
        let new = set_task_status(text, path, status)?;
        if &new != text {
            let file = dir.join(DocKind::Tasks.file_name());
            write_atomic(&file, new.as_bytes())?;
            self.tasks_text = Some(new);
            if let Some(tracker) = &mut self.tracker {
                tracker.engine_wrote(&self.o.workspace, &file);
            }
        }
        Ok(())
    }

    async fn verify(&mut self) -> Result<std::result::Result<(), Halt>> {
        let name = Phase::Verify.as_str().to_owned();
        if self.completed.contains(&name) {
            return Ok(Ok(()));
        }
        if let Err(h) = self.cancelled() {
            return Ok(Err(h));
        }
        let started = Instant::now();
        self.o.events.send(PipelineEvent::NodeStarted {
            node: name.clone(),
            attempt: 1,
        });
        let outcomes: Vec<TaskOutcome> = self.artifacts.outcomes.values().cloned().collect();
        let report = match &self.p.verifier {
            Some(v) => {
                let cx = self.cx.for_node(
                    Arc::from(name.as_str()),
                    1,
                    Arc::new(self.artifacts.clone()),
                );
                let spec = self.artifacts.spec.clone();
                let v = v.clone();
                match retrying(
                    self.p.phase_policy,
                    &self.cancel,
                    &self.o.events,
                    &name,
                    || v.verify(&spec, &outcomes, &cx),
                )
                .await
                {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(self.stage_failed(&name, &e, started))),
                }
            }
            None => {
                self.o.events.send(PipelineEvent::Message {
                    node: name.clone(),
                    text: "no verifier configured: every criterion is untested".into(),
                });
                VerificationReport {
                    criteria: self
                        .artifacts
                        .spec
                        .criteria()
                        .into_iter()
                        .map(|c| CriterionResult {
                            criterion: c.id.clone(),
                            status: CriterionStatus::Untested,
                            ..CriterionResult::default()
                        })
                        .collect(),
                    ..VerificationReport::default()
                }
            }
        };
        let status = if report.is_success() {
            NodeStatus::Done
        } else {
            NodeStatus::Failed
        };
        let failed = report
            .criteria
            .iter()
            .filter(|c| c.status == CriterionStatus::Failed)
            .count();
        let (passed, failed_n, untested) = report.counts();
        self.audit(
            AuditKind::Verification,
            serde_json::json!({
                "passed": passed,
                "failed": failed_n,
                "untested": untested,
                "failed_criteria": report
                    .criteria
                    .iter()
                    .filter(|c| c.status == CriterionStatus::Failed)
                    .map(|c| c.criterion.as_str())
                    .collect::<Vec<_>>(),
                "command": report.command,
                "exit_code": report.exit_code,
            }),
        )?;
        self.artifacts.report = Some(report);
        self.finished(&name, status, format!("{failed} criteria failed"), started);
        let rec = self.full();
        self.record(name, rec, true)?;
        Ok(Ok(()))
    }

    async fn execute(&mut self) -> Result<std::result::Result<(), Halt>> {
        let Some(list) = self.artifacts.spec.tasks.clone() else {
            return Ok(Ok(()));
        };
        let graph = TaskGraph::build(&list, self.p.config.pipeline.order)?;
        let include_optional = self.o.include_optional;
        let needs_executor = graph.order.iter().any(|n| {
            let t = &graph.graph[*n];
            t.kind == TaskKind::Leaf
                && t.task.status != TaskStatus::Done
                && !self.completed.contains(&t.name())
                && (include_optional || !t.task.optional)
        });
        let executor = match (&self.p.executor, needs_executor) {
            (Some(e), _) => Some(e.clone()),
            (None, false) => None,
            (None, true) => {
                return Err(Error::Pipeline {
                    message: "tasks are left to run but no executor is configured (set [executor] command in .kiro/config.toml)".into(),
                })
            }
        };
        Scheduler::new(self, graph, executor).run().await
    }
}

/// Per-node bookkeeping of the task phase.
struct Scheduler<'r, 'p> {
    run: &'r mut Run<'p>,
    graph: TaskGraph,
    executor: Option<Arc<dyn crate::stage::Executor>>,
    spec: Arc<Spec>,
    artifacts: Arc<Artifacts>,
    indegree: Vec<usize>,
    blocked: Vec<Option<String>>,
    settled: Vec<Option<NodeStatus>>,
    settled_count: usize,
    ready: VecDeque<NodeIndex>,
    running: JoinSet<(NodeIndex, Finish)>,
    starts: Vec<Option<Instant>>,
    /// Per node: its name (`task 2.1`) and its task, built once.
    names: Vec<Arc<str>>,
    tasks: Vec<Arc<Task>>,
    stop: Option<RunStatus>,
    /// Nodes that finished together, settled as one batch (kept to reuse
    /// its allocation).
    finished: Vec<Joined>,
}

/// What joining a spawned node gives.
type Joined = std::result::Result<(NodeIndex, Finish), tokio::task::JoinError>;

/// How a spawned node ended.
enum Finish {
    Task(TaskOutcome),
    Gate(Approval),
    /// Stopped by cancellation: neither done nor failed, run again on resume.
    Interrupted,
}

impl<'r, 'p> Scheduler<'r, 'p> {
    fn new(
        run: &'r mut Run<'p>,
        graph: TaskGraph,
        executor: Option<Arc<dyn crate::stage::Executor>>,
    ) -> Self {
        let n = graph.order.iter().map(|i| i.index() + 1).max().unwrap_or(0);
        let mut indegree = vec![0; n];
        for &i in &graph.order {
            indegree[i.index()] = graph.dependencies(i).count();
        }
        let spec = Arc::new(run.artifacts.spec.clone());
        let artifacts = Arc::new(run.artifacts.clone());
        // Stable-graph indices of a graph without removals are 0..n.
        let names: Vec<Arc<str>> = (0..n)
            .map(|i| {
                let node = &graph.graph[NodeIndex::new(i)];
                Arc::from(node.name())
            })
            .collect();
        let tasks: Vec<Arc<Task>> = (0..n)
            .map(|i| Arc::new(graph.graph[NodeIndex::new(i)].task.clone()))
            .collect();
        Scheduler {
            names,
            tasks,
            run,
            executor,
            spec,
            artifacts,
            indegree,
            blocked: vec![None; n],
            settled: vec![None; n],
            settled_count: 0,
            ready: VecDeque::new(),
            running: JoinSet::new(),
            starts: vec![None; n],
            stop: None,
            finished: Vec::new(),
            graph,
        }
    }

    async fn run(mut self) -> Result<std::result::Result<(), Halt>> {
        let total = self.graph.len();
        let pre_settled = self
            .graph
            .order
            .iter()
            .filter(|n| self.is_already_done(**n))
            .count();
        self.run.o.events.send(PipelineEvent::GraphBuilt {
            tasks: total,
            settled: pre_settled,
        });
        for &n in &self.graph.order {
            if self.indegree[n.index()] == 0 {
                self.ready.push_back(n);
            }
        }
        let jobs = self.run.p.config.pipeline.jobs.max(1);
        loop {
            // Start what is ready first, so that the ready tasks run while the
            // checkpoints of the finished ones are synced.
            self.dispatch(jobs)?;
            self.flush()?;
            if self.running.is_empty() {
                break;
            }
            let cancel = self.run.cancel.clone();
            tokio::select! {
                joined = self.running.join_next() => {
                    if let Some(j) = joined {
                        self.settle_finished(j)?;
                    }
                }
                () = cancel.cancelled(), if self.stop.is_none() => {
                    self.stop = Some(RunStatus::Cancelled);
                    self.drain_after_cancel().await?;
                }
            }
        }
        self.flush()?;
        let (settled, total) = (self.settled_count, total);
        if let Some(stop) = self.stop.take() {
            return Ok(Err(Halt::Status(stop)));
        }
        if settled < total {
            return Err(Error::Pipeline {
                message: format!(
                    "{} of {total} tasks could not be scheduled",
                    total - settled
                ),
            });
        }
        Ok(Ok(()))
    }

    /// Settles a node that finished together with every other one that has
    /// finished by now, in the order they are joined.
    ///
    /// When tasks ran (and may have changed files outside the workspace),
    /// one rescan serves the batch: taken after all of them ended and before
    /// any of their marks is written, it goes to the first checkpoint, and
    /// each checkpoint then takes `tasks.md` as of its own mark. Each
    /// manifest is thus the tree as it was when its node was marked done,
    /// at the cost of one rescan per batch instead of one per node.
    fn settle_finished(&mut self, first: Joined) -> Result<()> {
        let mut batch = std::mem::take(&mut self.finished);
        batch.push(first);
        while let Some(j) = self.running.try_join_next() {
            batch.push(j);
        }
        let ran = batch.iter().any(|j| matches!(j, Ok((_, Finish::Task(_)))));
        let mut r = Ok(());
        let mut violations = Vec::new();
        if ran && self.run.p.external_changes {
            // Tasks already waiting for a free slot start first, so that they
            // run while the workspace is rescanned; they show `[-]`, which a
            // checkpoint may hold with whatever they wrote so far. Not when
            // the batch may stop the run: nothing should start then.
            let fail_fast = self.run.p.config.pipeline.fail_fast;
            let early = self.stop.is_none()
                && !self.run.cancel.is_cancelled()
                && batch.iter().all(|j| match j {
                    Ok((_, Finish::Task(o))) => !fail_fast || o.status != OutcomeStatus::Failed,
                    _ => false,
                });
            if early {
                r = self.dispatch(self.run.p.config.pipeline.jobs.max(1));
            }
            if r.is_ok() {
                r = self.run.rescan();
            }
            if r.is_ok() {
                match self.run.police() {
                    Ok(found) => violations = found,
                    Err(e) => r = Err(e),
                }
            }
        }
        if !violations.is_empty() {
            let list = violations
                .iter()
                .map(|v| format!("{} ({})", v.path, v.reason))
                .collect::<Vec<_>>()
                .join(", ");
            self.run.o.events.send(PipelineEvent::Message {
                node: "policy".into(),
                text: format!("reverted changes outside the policy: {list}"),
            });
            // The rescan cannot tell which of the tasks that ended together
            // made a change, so each of them fails with the whole list.
            for j in &mut batch {
                if let Ok((_, Finish::Task(outcome))) = j {
                    fail_for_policy(outcome, &violations, &list);
                }
            }
        }
        for j in batch.drain(..) {
            if r.is_ok() {
                r = self.joined(j);
            }
        }
        self.finished = batch;
        r
    }

    fn joined(&mut self, j: Joined) -> Result<()> {
        match j {
            Ok((n, finish)) => self.on_finish(n, finish),
            // A panicking stage is the integrator's bug; the node it ran
            // cannot be identified from the error, so the run stops.
            Err(e) => Err(Error::Pipeline {
                message: format!("a task stage panicked or was aborted: {e}"),
            }),
        }
    }

    async fn drain_after_cancel(&mut self) -> Result<()> {
        let deadline = tokio::time::sleep(CANCEL_GRACE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                j = self.running.join_next() => match j {
                    Some(j) => self.settle_finished(j)?,
                    None => break,
                },
                () = &mut deadline => {
                    // Dropping the futures kills their process groups.
                    self.running.shutdown().await;
                    break;
                }
            }
        }
        Ok(())
    }

    fn is_already_done(&self, n: NodeIndex) -> bool {
        let t = &self.graph.graph[n];
        t.task.status == TaskStatus::Done
            || (!self.run.completed.is_empty()
                && self.run.completed.contains(&*self.names[n.index()]))
    }

    /// Settles what needs no work and starts what does, up to `jobs`.
    fn dispatch(&mut self, jobs: usize) -> Result<()> {
        while let Some(&n) = self.ready.front() {
            if self.stop.is_some() {
                break;
            }
            let kind = self.graph.graph[n].kind;
            if let Some(reason) = self.blocked[n.index()].clone() {
                self.ready.pop_front();
                self.settle(n, NodeStatus::Skipped, reason, None)?;
                continue;
            }
            if self.is_already_done(n) {
                self.ready.pop_front();
                self.settle(n, NodeStatus::Done, "already done".into(), None)?;
                continue;
            }
            match kind {
                // No sub-task is done (all were skipped, as optional ones are
                // unless asked for): the parent is not done either. Like an
                // optional task it is left `[ ]`, not recorded, and does not
                // hold up its dependents.
                TaskKind::Parent
                    if !self
                        .graph
                        .subtasks(n)
                        .any(|c| self.settled[c.index()] == Some(NodeStatus::Done)) =>
                {
                    self.ready.pop_front();
                    self.settle(n, NodeStatus::Skipped, "optional".into(), None)?;
                }
                TaskKind::Parent => {
                    self.ready.pop_front();
                    let id = self.graph.graph[n].id.clone();
                    let outcome = TaskOutcome::done(id, "all sub-tasks done");
                    self.settle(n, NodeStatus::Done, outcome.summary.clone(), Some(outcome))?;
                }
                TaskKind::Leaf
                    if self.graph.graph[n].task.optional && !self.run.o.include_optional =>
                {
                    self.ready.pop_front();
                    self.settle(n, NodeStatus::Skipped, "optional".into(), None)?;
                }
                _ if self.running.len() >= jobs => break,
                TaskKind::Leaf => {
                    self.ready.pop_front();
                    self.spawn_leaf(n)?;
                }
                TaskKind::Gate => {
                    self.ready.pop_front();
                    self.spawn_gate(n);
                }
            }
        }
        Ok(())
    }

    fn spawn_leaf(&mut self, n: NodeIndex) -> Result<()> {
        let name = self.names[n.index()].clone();
        let task = self.tasks[n.index()].clone();
        let id = self.graph.graph[n].id.clone();
        self.starts[n.index()] = Some(Instant::now());
        self.run
            .set_mark(&self.graph.graph[n].path, TaskStatus::InProgress)?;
        let Some(executor) = self.executor.clone() else {
            return Err(Error::Pipeline {
                message: "no executor configured".into(),
            });
        };
        let spec = self.spec.clone();
        let policy = self.run.p.task_policy;
        let cancel = self.run.cancel.clone();
        let events = self.run.o.events.clone();
        let base = self.run.cx.clone();
        let artifacts = self.artifacts.clone();
        self.running.spawn(async move {
            // Memory is recalled once per task, for every attempt.
            let base = match base.recall_for(&task).await {
                Ok(cx) => cx,
                Err(e) => {
                    let message = format!("memory recall: {e}");
                    return (
                        n,
                        Finish::Task(TaskOutcome::failed(id, message, String::new())),
                    );
                }
            };
            let mut attempt = 1;
            loop {
                if events.is_active() {
                    events.send(PipelineEvent::NodeStarted {
                        node: name.to_string(),
                        attempt,
                    });
                }
                let cx = base.for_node(name.clone(), attempt, artifacts.clone());
                let started = Instant::now();
                let r = guarded(policy, &cancel, executor.execute(&task, &spec, &cx)).await;
                let elapsed = millis(started.elapsed());
                match r {
                    Ok(mut outcome) => {
                        outcome.attempts = attempt;
                        outcome.duration_ms = elapsed;
                        return (n, Finish::Task(outcome));
                    }
                    Err(StageError::Cancelled) => return (n, Finish::Interrupted),
                    Err(e) if e.is_retryable() && attempt <= policy.retries => {
                        events.send(PipelineEvent::NodeRetrying {
                            node: name.to_string(),
                            attempt,
                            error: e.to_string(),
                        });
                        tokio::time::sleep(policy.backoff * attempt).await;
                        attempt += 1;
                    }
                    Err(e) => {
                        let evidence = match &e {
                            StageError::Failed { evidence, .. } => evidence.clone(),
                            _ => String::new(),
                        };
                        let mut outcome = TaskOutcome::failed(id, e.to_string(), evidence);
                        outcome.attempts = attempt;
                        outcome.duration_ms = elapsed;
                        return (n, Finish::Task(outcome));
                    }
                }
            }
        });
        Ok(())
    }

    fn spawn_gate(&mut self, n: NodeIndex) {
        let node = &self.graph.graph[n];
        let gate = Gate::Checkpoint {
            task: node.id.clone(),
            title: node.task.title.clone(),
        };
        self.starts[n.index()] = Some(Instant::now());
        let approver = self.run.p.approver.clone();
        let artifacts = self.artifacts.clone();
        let events = self.run.o.events.clone();
        self.running.spawn(async move {
            let approval = match approver.approve(&gate, &artifacts).await {
                Ok(a) => a,
                Err(e) => Approval::Rejected {
                    reason: format!("approver failed: {e}"),
                },
            };
            events.send(PipelineEvent::GateDecided {
                gate,
                approval: approval.clone(),
            });
            (n, Finish::Gate(approval))
        });
    }

    fn on_finish(&mut self, n: NodeIndex, finish: Finish) -> Result<()> {
        match finish {
            Finish::Task(outcome) => {
                let status = match outcome.status {
                    OutcomeStatus::Done => NodeStatus::Done,
                    OutcomeStatus::Failed => NodeStatus::Failed,
                    OutcomeStatus::Skipped => NodeStatus::Skipped,
                };
                let summary = outcome.summary.clone();
                self.settle(n, status, summary, Some(outcome))?;
                if status == NodeStatus::Failed && self.run.p.config.pipeline.fail_fast {
                    let id = self.graph.graph[n].id.clone();
                    self.stop = Some(RunStatus::Failed {
                        reason: format!("task {id} failed (fail-fast)"),
                    });
                    self.run.cancel.cancel();
                }
            }
            Finish::Gate(approval) => {
                let node = &self.graph.graph[n];
                let gate = Gate::Checkpoint {
                    task: node.id.clone(),
                    title: node.task.title.clone(),
                };
                self.run.audit_gate(&gate, &approval)?;
                return self.on_finish_gate(n, approval);
            }
            Finish::Interrupted => {
                let path = self.graph.graph[n].path.clone();
                self.run.set_mark(&path, TaskStatus::NotStarted)?;
                self.stop.get_or_insert(RunStatus::Cancelled);
            }
        }
        Ok(())
    }

    fn on_finish_gate(&mut self, n: NodeIndex, approval: Approval) -> Result<()> {
        match approval {
            Approval::Approved => {
                let id = self.graph.graph[n].id.clone();
                let outcome = TaskOutcome::done(id, "approved");
                self.settle(n, NodeStatus::Done, "approved".into(), Some(outcome))?;
            }
            Approval::Rejected { reason } => {
                let node = &self.graph.graph[n];
                self.stop.get_or_insert(RunStatus::Stopped {
                    gate: Gate::Checkpoint {
                        task: node.id.clone(),
                        title: node.task.title.clone(),
                    },
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Marks a node ended, records it, and releases its dependents.
    fn settle(
        &mut self,
        n: NodeIndex,
        status: NodeStatus,
        summary: String,
        outcome: Option<TaskOutcome>,
    ) -> Result<()> {
        let i = n.index();
        if self.settled[i].is_some() {
            return Ok(());
        }
        self.settled[i] = Some(status);
        self.settled_count += 1;
        let id = self.graph.graph[n].id.clone();
        if self.run.o.events.is_active() {
            let started = self.starts[i].unwrap_or_else(Instant::now);
            self.run
                .finished(&self.names[i], status, summary.clone(), started);
            self.run.o.events.send(PipelineEvent::Progress {
                settled: self.settled_count,
                total: self.graph.len(),
            });
        }
        let path = &self.graph.graph[n].path;
        match status {
            NodeStatus::Done => self.run.set_mark(path, TaskStatus::Done)?,
            NodeStatus::Failed => self.run.set_mark(path, TaskStatus::NotStarted)?,
            NodeStatus::Skipped => {}
        }
        // Outcomes of work done in this run are recorded; skips are not, so
        // that a resumed run reconsiders them. The checkpoint is staged now,
        // after the mark and before any other node is marked or starts, so
        // that it shows the tree as it was at this node's mark.
        if let Some(outcome) = outcome {
            if status != NodeStatus::Skipped && self.run.p.store.is_some() {
                self.run.stage(
                    self.names[i].to_string(),
                    Recorded::Outcome {
                        outcome: outcome.clone(),
                    },
                    false,
                )?;
            }
            self.run.artifacts.outcomes.insert(id.to_string(), outcome);
        } else if status == NodeStatus::Skipped && summary != "optional" {
            self.run
                .artifacts
                .outcomes
                .insert(id.to_string(), TaskOutcome::skipped(id.clone(), summary));
        }
        let blocks = match status {
            NodeStatus::Failed => Some(format!("dependency {id} failed")),
            NodeStatus::Skipped if self.blocked[i].is_some() => {
                Some(format!("dependency {id} was skipped"))
            }
            _ => None,
        };
        for d in self.graph.dependents(n) {
            let j = d.index();
            if let Some(reason) = &blocks {
                self.blocked[j].get_or_insert_with(|| reason.clone());
            }
            self.indegree[j] = self.indegree[j].saturating_sub(1);
            if self.indegree[j] == 0 {
                self.ready.push_back(d);
            }
        }
        Ok(())
    }

    /// Commits the checkpoints of the nodes settled since the last flush.
    fn flush(&mut self) -> Result<()> {
        self.run.commit()
    }
}

/// Fails a task's outcome after the rescan found changes outside the
/// workspace policy, naming every path and why; what the task itself
/// reported is kept as evidence, and every other field as it was.
fn fail_for_policy(outcome: &mut TaskOutcome, violations: &[record::Violation], list: &str) {
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

/// Runs one attempt under the policy's timeout and the run's cancellation.
async fn guarded<T, F>(
    policy: NodePolicy,
    cancel: &CancellationToken,
    fut: F,
) -> std::result::Result<T, StageError>
where
    F: Future<Output = std::result::Result<T, StageError>>,
{
    let timed = async {
        match policy.timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .unwrap_or(Err(StageError::Timeout(t))),
            None => fut.await,
        }
    };
    tokio::select! {
        r = timed => r,
        () = cancel.cancelled() => Err(StageError::Cancelled),
    }
}

/// Runs a stage with the policy's retries.
async fn retrying<T, F, Fut>(
    policy: NodePolicy,
    cancel: &CancellationToken,
    events: &crate::stage::EventSink,
    node: &str,
    mut f: F,
) -> std::result::Result<T, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, StageError>>,
{
    let mut attempt = 1;
    loop {
        match guarded(policy, cancel, f()).await {
            Err(e) if e.is_retryable() && attempt <= policy.retries => {
                events.send(PipelineEvent::NodeRetrying {
                    node: node.to_owned(),
                    attempt,
                    error: e.to_string(),
                });
                tokio::time::sleep(policy.backoff * attempt).await;
                attempt += 1;
            }
            r => return r,
        }
    }
}

fn gate_node(gate: &Gate) -> String {
    match gate {
        Gate::Phase { phase } => format!("gate {phase}"),
        Gate::Checkpoint { task, .. } => format!("task {task}"),
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
