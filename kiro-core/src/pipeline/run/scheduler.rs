//! The execute phase: the task graph run concurrently, up to `jobs` at a
//! time, each task settled as it ends and its dependents released or
//! skipped.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::policy::fail_for_policy;
use super::retry::{TaskEnd, TaskRun};
use super::{Flow, Run, CANCEL_GRACE};
use crate::error::{Error, Result};
use crate::pipeline::record::Recorded;
use crate::pipeline::{RunStatus, TaskGraph, TaskKind};
use crate::plan::TaskIndex;
use crate::spec::{Task, TaskStatus};
use crate::stage::{
    Approval, Artifacts, Executor, Gate, NodeId, NodeStatus, OutcomeStatus, PipelineEvent,
    SkipReason, TaskOutcome,
};

/// Per-node bookkeeping of the execute phase.
pub(super) struct Scheduler<'r, 'p> {
    run: &'r mut Run<'p>,
    graph: TaskGraph,
    executor: Option<Arc<dyn Executor>>,
    /// The artifacts (and spec) every task sees: as they were when the
    /// phase started (tasks that run together cannot see each other's
    /// outcomes).
    artifacts: Arc<Artifacts>,
    /// Per node: how many of its dependencies have not settled yet.
    waiting_on: Vec<usize>,
    /// Per node: why it will be skipped, once a dependency failed or was
    /// skipped for a failure.
    blocked: Vec<Option<SkipReason>>,
    /// Per node: how it ended, once it did.
    settled: Vec<Option<NodeStatus>>,
    settled_count: usize,
    /// Nodes whose dependencies have all settled, in the order they did.
    ready: VecDeque<TaskIndex>,
    running: JoinSet<(TaskIndex, Finish)>,
    /// Per node: when it started, for its event's duration.
    started: Vec<Option<Instant>>,
    /// Per node: its name in events and contexts (`task 2.1`) and its task,
    /// built once so that spawning a task clones two pointers.
    names: Vec<Arc<str>>,
    tasks: Vec<Arc<Task>>,
    /// Per node: the repositories it works in, its executor's first
    /// (`StageContext::task_repos`).
    repos: Vec<Arc<[String]>>,
    /// Set when the run is to stop (fail-fast, cancellation, a rejected
    /// checkpoint gate): nothing new starts.
    stop: Option<RunStatus>,
    /// Nodes that finished together, settled as one batch (kept to reuse
    /// its allocation).
    batch: Vec<Joined>,
    /// Tasks that finished in their first poll, not yet settled.
    finished_inline: Vec<Joined>,
    /// The `[limits]` value of `.kiro/policy.toml` the run went past.
    limit: Option<Error>,
}

/// What joining a node gives: how it ended, or why it could not be joined
/// (its stage panicked, or it was aborted).
type Joined = std::result::Result<(TaskIndex, Finish), String>;

/// How a spawned node ended.
enum Finish {
    Task(TaskEnd),
    Gate(Approval),
}

/// How a node settles.
enum Settlement {
    /// Done: with the outcome to record, or none when it was done before
    /// this run (`[x]` in `tasks.md`, or completed by the run resumed).
    Done(Option<TaskOutcome>),
    /// Failed, after its retries.
    Failed(TaskOutcome),
    /// The executor reported it skipped: kept in the outcomes, not
    /// recorded, and its dependents go on.
    SkippedByExecutor(TaskOutcome),
    /// Not run, for this reason.
    Skipped(SkipReason),
}

impl<'r, 'p> Scheduler<'r, 'p> {
    pub(super) fn new(
        run: &'r mut Run<'p>,
        graph: TaskGraph,
        repos: Vec<Arc<[String]>>,
        executor: Option<Arc<dyn Executor>>,
    ) -> Self {
        // Indices are dense and in document order: position i is index i.
        let count = graph.len();
        let waiting_on = graph
            .order()
            .iter()
            .map(|&n| graph.dependencies(n).count())
            .collect();
        let names = graph
            .nodes()
            .map(|(_, node)| Arc::from(NodeId::Task(node.id.clone()).to_string()))
            .collect();
        let tasks = graph
            .nodes()
            .map(|(_, node)| Arc::new(node.task.clone()))
            .collect();
        Scheduler {
            artifacts: Arc::new(run.artifacts.clone()),
            run,
            executor,
            waiting_on,
            blocked: vec![None; count],
            settled: vec![None; count],
            settled_count: 0,
            ready: VecDeque::new(),
            running: JoinSet::new(),
            started: vec![None; count],
            names,
            tasks,
            repos,
            stop: None,
            batch: Vec::new(),
            finished_inline: Vec::new(),
            limit: None,
            graph,
        }
    }

    pub(super) async fn run(mut self) -> Result<Flow> {
        let total = self.graph.len();
        let already_done = self
            .graph
            .order()
            .iter()
            .filter(|n| self.is_already_done(**n))
            .count();
        self.run.options.events.send(PipelineEvent::GraphBuilt {
            tasks: total,
            settled: already_done,
        });
        self.ready.extend(
            self.graph
                .order()
                .iter()
                .filter(|n| self.waiting_on[n.index()] == 0),
        );
        let jobs = self.run.pipeline.config.pipeline.jobs.max(1);
        loop {
            // Start what is ready first, so that the ready tasks run while the
            // checkpoints of the finished ones are synced.
            self.dispatch(jobs).await?;
            let inline = std::mem::take(&mut self.finished_inline);
            if !inline.is_empty() {
                self.settle_batch(inline).await?;
            }
            self.run.commit().await?;
            if self.running.is_empty() {
                if self.ready.is_empty() || self.stop.is_some() {
                    break;
                }
                continue;
            }
            let cancel = self.run.cancel.clone();
            tokio::select! {
                joined = self.running.join_next() => {
                    if let Some(joined) = joined {
                        self.settle_finished(joined.map_err(|e| e.to_string())).await?;
                    }
                }
                () = cancel.cancelled(), if self.stop.is_none() => {
                    self.stop = Some(RunStatus::Cancelled);
                    self.drain_after_cancel().await?;
                }
            }
        }
        self.run.commit().await?;
        if let Some(limit) = self.limit.take() {
            return Err(limit);
        }
        if let Some(stop) = self.stop.take() {
            return Ok(Flow::Stop(stop));
        }
        if self.settled_count < total {
            return Err(Error::Unschedulable {
                run: self.run.run_id.to_string(),
                tasks: self
                    .graph
                    .nodes()
                    .filter(|(n, _)| self.settled[n.index()].is_none())
                    .map(|(_, node)| node.id.to_string())
                    .collect(),
                total,
            });
        }
        Ok(Flow::Continue)
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
    async fn settle_finished(&mut self, first: Joined) -> Result<()> {
        let mut batch = std::mem::take(&mut self.batch);
        batch.push(first);
        self.settle_batch(batch).await
    }

    /// Settles a batch of nodes that finished, with every other spawned
    /// one that has finished by now (see [`settle_finished`](Self::settle_finished)).
    async fn settle_batch(&mut self, mut batch: Vec<Joined>) -> Result<()> {
        while let Some(joined) = self.running.try_join_next() {
            batch.push(joined.map_err(|e| e.to_string()));
        }
        let ran = batch
            .iter()
            .any(|j| matches!(j, Ok((_, Finish::Task(TaskEnd::Outcome(_))))));
        let mut result = Ok(());
        let mut violations = Vec::new();
        if ran && self.run.pipeline.external_changes {
            // Tasks already waiting for a free slot start first, so that they
            // run while the workspace is rescanned; they show `[-]`, which a
            // checkpoint may hold with whatever they wrote so far. Not when
            // the batch may stop the run: nothing should start then.
            let fail_fast = self.run.pipeline.config.pipeline.fail_fast;
            let start_early = self.stop.is_none()
                && !self.run.cancel.is_cancelled()
                && batch.iter().all(|j| match j {
                    Ok((_, Finish::Task(TaskEnd::Outcome(o)))) => {
                        !fail_fast || o.status != OutcomeStatus::Failed
                    }
                    _ => false,
                });
            if start_early {
                result = self
                    .dispatch(self.run.pipeline.config.pipeline.jobs.max(1))
                    .await;
            }
            if result.is_ok() {
                match self.run.rescan_and_police().await {
                    Ok(found) => violations = found,
                    Err(e) => result = Err(e),
                }
            }
        }
        if !violations.is_empty() {
            let list = violations
                .iter()
                .map(|v| format!("{} ({})", v.path, v.reason))
                .collect::<Vec<_>>()
                .join(", ");
            self.run.options.events.send(PipelineEvent::Message {
                node: "policy".into(),
                text: format!("reverted changes outside the policy: {list}"),
            });
            // The rescan cannot tell which of the tasks that ended together
            // made a change, so each of them fails with the whole list.
            for joined in &mut batch {
                if let Ok((_, Finish::Task(TaskEnd::Outcome(outcome)))) = joined {
                    fail_for_policy(outcome, &violations, &list);
                }
            }
        }
        for joined in batch.drain(..) {
            if result.is_ok() {
                result = self.joined(joined).await;
            }
        }
        self.batch = batch;
        result
    }

    async fn joined(&mut self, joined: Joined) -> Result<()> {
        match joined {
            Ok((n, finish)) => self.on_finish(n, finish).await,
            // A panicking stage is the integrator's bug; the node it ran
            // cannot be identified from the error, so the run stops.
            Err(message) => Err(Error::StagePanicked {
                run: self.run.run_id.to_string(),
                message,
            }),
        }
    }

    async fn drain_after_cancel(&mut self) -> Result<()> {
        let deadline = tokio::time::sleep(CANCEL_GRACE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = self.running.join_next() => match joined {
                    Some(joined) => self.settle_finished(joined.map_err(|e| e.to_string())).await?,
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

    fn is_already_done(&self, n: TaskIndex) -> bool {
        let node = &self.graph[n];
        node.task.status == TaskStatus::Done
            || (!self.run.completed.is_empty()
                && self.run.completed.contains(&NodeId::Task(node.id.clone())))
    }

    /// Settles what needs no work and starts what does, up to `jobs`.
    async fn dispatch(&mut self, jobs: usize) -> Result<()> {
        while let Some(&n) = self.ready.front() {
            if self.stop.is_some() {
                break;
            }
            let kind = self.graph[n].kind;
            if let Some(reason) = self.blocked[n.index()].clone() {
                self.ready.pop_front();
                self.settle(n, Settlement::Skipped(reason)).await?;
                continue;
            }
            if self.is_already_done(n) {
                self.ready.pop_front();
                self.settle(n, Settlement::Done(None)).await?;
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
                    self.settle(n, Settlement::Skipped(SkipReason::Optional))
                        .await?;
                }
                TaskKind::Parent => {
                    self.ready.pop_front();
                    let outcome = TaskOutcome::done(self.graph[n].id.clone(), "all sub-tasks done");
                    self.settle(n, Settlement::Done(Some(outcome))).await?;
                }
                TaskKind::Leaf
                    if self.graph[n].task.optional && !self.run.options.include_optional =>
                {
                    self.ready.pop_front();
                    self.settle(n, Settlement::Skipped(SkipReason::Optional))
                        .await?;
                }
                // A task that finished in its first poll holds its slot
                // until it is settled, so that fail-fast and `jobs` see it.
                _ if self.running.len() + self.finished_inline.len() >= jobs => break,
                TaskKind::Leaf => {
                    self.ready.pop_front();
                    self.start_leaf(n).await?;
                }
                TaskKind::Gate => {
                    self.ready.pop_front();
                    self.spawn_gate(n);
                }
            }
        }
        Ok(())
    }

    /// Starts a task: polls it once here, and spawns it onto its own tokio
    /// task only if it did not finish in that poll.
    ///
    /// A task that finishes at once (a no-op, an executor answering from a
    /// cache) then costs no spawn and no wake-up of another worker thread,
    /// which is most of the engine's per-node overhead on a multi-threaded
    /// runtime; one that waits (a process, a network call) runs on its own
    /// task as before, so it never holds up the others. Polling a future
    /// once and then moving its box to another task is what the `Future`
    /// contract allows: its next poll brings the waker to use from then on.
    async fn start_leaf(&mut self, n: TaskIndex) -> Result<()> {
        let Some(executor) = self.executor.clone() else {
            return Err(Error::NoExecutor {
                spec: self.artifacts.spec.name.clone(),
                tasks: vec![self.graph[n].id.to_string()],
            });
        };
        self.started[n.index()] = Some(Instant::now());
        self.run
            .set_mark(&self.graph[n].path, TaskStatus::InProgress)
            .await?;
        let task = TaskRun {
            node: self.names[n.index()].clone(),
            task: self.tasks[n.index()].clone(),
            artifacts: self.artifacts.clone(),
            executor,
            policy: self.run.pipeline.task_policy,
            cancel: self.run.cancel.clone(),
            events: self.run.options.events.clone(),
            context: match self.repos.get(n.index()) {
                Some(repos) => self.run.context.with_task_repos(repos.clone()),
                None => self.run.context.clone(),
            },
        };
        let mut attempts = Box::pin(task.attempts());
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let first_poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            attempts.as_mut().poll(&mut context)
        }));
        match first_poll {
            Ok(std::task::Poll::Ready(end)) => {
                self.finished_inline.push(Ok((n, Finish::Task(end))))
            }
            Ok(std::task::Poll::Pending) => {
                self.running
                    .spawn(async move { (n, Finish::Task(attempts.await)) });
            }
            Err(_) => self.finished_inline.push(Err(format!(
                "the executor panicked in task {}",
                self.graph[n].id
            ))),
        }
        Ok(())
    }

    fn checkpoint_gate(&self, n: TaskIndex) -> Gate {
        let node = &self.graph[n];
        Gate::Checkpoint {
            task: node.id.clone(),
            title: node.task.title.clone(),
        }
    }

    fn spawn_gate(&mut self, n: TaskIndex) {
        let gate = self.checkpoint_gate(n);
        self.started[n.index()] = Some(Instant::now());
        let approver = self.run.pipeline.approver.clone();
        let artifacts = self.artifacts.clone();
        let events = self.run.options.events.clone();
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

    async fn on_finish(&mut self, n: TaskIndex, finish: Finish) -> Result<()> {
        match finish {
            Finish::Task(TaskEnd::Outcome(outcome)) => {
                let mut outcome = *outcome;
                if outcome.status == OutcomeStatus::Done {
                    self.required_checks(n, &mut outcome).await?;
                }
                let failed = outcome.status == OutcomeStatus::Failed;
                let settlement = match outcome.status {
                    OutcomeStatus::Done => Settlement::Done(Some(outcome)),
                    OutcomeStatus::Failed => Settlement::Failed(outcome),
                    OutcomeStatus::Skipped => Settlement::SkippedByExecutor(outcome),
                };
                self.settle(n, settlement).await?;
                if let Some(limit) = self.run.over_limit() {
                    // Nothing new starts; what runs is stopped, and the run
                    // ends with the error once its checkpoints are in.
                    self.limit.get_or_insert(limit);
                    self.stop.get_or_insert(RunStatus::Cancelled);
                    self.run.cancel.cancel();
                }
                if failed && self.run.pipeline.config.pipeline.fail_fast {
                    self.stop = Some(RunStatus::Failed {
                        reason: format!("task {} failed (fail-fast)", self.graph[n].id),
                    });
                    self.run.cancel.cancel();
                }
            }
            Finish::Task(TaskEnd::Interrupted) => {
                let path = self.graph[n].path.clone();
                self.run.set_mark(&path, TaskStatus::NotStarted).await?;
                self.stop.get_or_insert(RunStatus::Cancelled);
            }
            Finish::Gate(approval) => {
                let gate = self.checkpoint_gate(n);
                self.run.audit_gate(&gate, &approval).await?;
                match approval {
                    Approval::Approved => {
                        let outcome = TaskOutcome::done(self.graph[n].id.clone(), "approved");
                        self.settle(n, Settlement::Done(Some(outcome))).await?;
                    }
                    Approval::Rejected { reason } => {
                        self.stop.get_or_insert(RunStatus::Stopped { gate, reason });
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `.kiro/policy.toml`'s `[checks] required` for a task that
    /// reported done; the first that fails makes it fail, named in its
    /// summary, with what the task reported kept in the evidence.
    async fn required_checks(&mut self, n: TaskIndex, outcome: &mut TaskOutcome) -> Result<()> {
        let Some(governance) = self.run.pipeline.governance.clone() else {
            return Ok(());
        };
        if governance.policy().required_checks.is_empty() {
            return Ok(());
        }
        let workspace = self.run.options.workspace.clone();
        // The tests run in the task's first repository (the one its
        // executor ran in), else the workspace's default one.
        let repo = match self.repos.get(n.index()).and_then(|r| r.first()) {
            Some(repo) => repo.clone(),
            None => workspace.default_repo().to_owned(),
        };
        let failure = governance
            .run_checks(
                &self.artifacts.spec,
                &self.tasks[n.index()],
                &workspace,
                &repo,
                &self.run.pipeline.config,
                &self.run.cancel,
            )
            .await?;
        if let Some(failure) = failure {
            let mut evidence = failure.evidence;
            if !outcome.summary.is_empty() {
                evidence.push_str("\nthe task reported: ");
                evidence.push_str(&outcome.summary);
            }
            outcome.status = OutcomeStatus::Failed;
            outcome.summary = failure.message;
            outcome.evidence = evidence;
        }
        Ok(())
    }

    /// Marks a node ended, records it, and releases its dependents.
    async fn settle(&mut self, n: TaskIndex, settlement: Settlement) -> Result<()> {
        let i = n.index();
        if self.settled[i].is_some() {
            return Ok(());
        }
        let status = match &settlement {
            Settlement::Done(_) => NodeStatus::Done,
            Settlement::Failed(_) => NodeStatus::Failed,
            Settlement::SkippedByExecutor(_) | Settlement::Skipped(_) => NodeStatus::Skipped,
        };
        self.settled[i] = Some(status);
        self.settled_count += 1;
        if self.run.options.events.is_active() {
            let summary = match &settlement {
                Settlement::Done(None) => "already done".to_owned(),
                Settlement::Done(Some(outcome))
                | Settlement::Failed(outcome)
                | Settlement::SkippedByExecutor(outcome) => outcome.summary.clone(),
                Settlement::Skipped(reason) => reason.to_string(),
            };
            let started = self.started[i].unwrap_or_else(Instant::now);
            self.run
                .finished_named(&self.names[i], status, summary, started);
            self.run.options.events.send(PipelineEvent::Progress {
                settled: self.settled_count,
                total: self.graph.len(),
            });
        }
        let id = self.graph[n].id.clone();
        let path = &self.graph[n].path;
        match status {
            NodeStatus::Done => self.run.set_mark(path, TaskStatus::Done).await?,
            NodeStatus::Failed => self.run.set_mark(path, TaskStatus::NotStarted).await?,
            NodeStatus::Skipped => {}
        }
        // Outcomes of work done in this run are recorded; skips are not, so
        // that a resumed run reconsiders them. The checkpoint is staged now,
        // after the mark and before any other node is marked or starts, so
        // that it shows the tree as it was at this node's mark.
        let blocks = match settlement {
            Settlement::Done(None) => None,
            Settlement::Done(Some(mut outcome)) => {
                if self.run.commits_tasks() {
                    // The commit point is the checkpoint: the commit stages
                    // exactly the changes the checkpoint takes, and its id
                    // goes into the outcome that checkpoint records.
                    let files = self.run.take_changes()?;
                    let assigned = self.repos.get(i).cloned().unwrap_or_else(|| Arc::from([]));
                    outcome.commits = self
                        .run
                        .commit_task(&self.tasks[i], &assigned, files.as_deref())
                        .await?;
                    self.record_with(id.clone(), outcome, files.unwrap_or_default())?;
                } else {
                    self.record(id.clone(), outcome)?;
                }
                None
            }
            Settlement::Failed(outcome) => {
                self.record(id.clone(), outcome)?;
                Some(SkipReason::DependencyFailed(id))
            }
            Settlement::SkippedByExecutor(outcome) => {
                self.run.artifacts.outcomes.insert(id.to_string(), outcome);
                None
            }
            Settlement::Skipped(reason) => {
                let blocks = reason
                    .blocks_dependents()
                    .then(|| SkipReason::DependencySkipped(id.clone()));
                if reason.is_recorded() {
                    let outcome = TaskOutcome::skipped(id.clone(), reason.to_string());
                    self.run.artifacts.outcomes.insert(id.to_string(), outcome);
                }
                blocks
            }
        };
        for dependent in self.graph.dependents(n) {
            let j = dependent.index();
            if let Some(reason) = &blocks {
                self.blocked[j].get_or_insert_with(|| reason.clone());
            }
            self.waiting_on[j] = self.waiting_on[j].saturating_sub(1);
            if self.waiting_on[j] == 0 {
                self.ready.push_back(dependent);
            }
        }
        Ok(())
    }

    /// [`record`](Self::record) with the checkpoint's changes already
    /// taken (they were committed to git first).
    fn record_with(
        &mut self,
        id: crate::spec::TaskId,
        outcome: TaskOutcome,
        files: Vec<crate::checkpoint::FileChange>,
    ) -> Result<()> {
        if self.run.pipeline.store.is_some() {
            self.run.stage_with(
                NodeId::Task(id.clone()),
                &Recorded::Outcome {
                    outcome: Box::new(outcome.clone()),
                },
                files,
            )?;
        }
        self.run.artifacts.outcomes.insert(id.to_string(), outcome);
        Ok(())
    }

    /// Stages the checkpoint of a task that ran (or a parent or gate that
    /// settled) and keeps its outcome in the artifacts.
    fn record(&mut self, id: crate::spec::TaskId, outcome: TaskOutcome) -> Result<()> {
        if self.run.pipeline.store.is_some() {
            self.run.stage(
                NodeId::Task(id.clone()),
                &Recorded::Outcome {
                    outcome: Box::new(outcome.clone()),
                },
            )?;
        }
        self.run.artifacts.outcomes.insert(id.to_string(), outcome);
        Ok(())
    }
}
