//! One attempt of a node under its policy's timeout and the run's
//! cancellation, and the retry loop around it.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::millis;
use crate::pipeline::NodePolicy;
use crate::spec::Task;
use crate::stage::{
    Artifacts, EventSink, Executor, PipelineEvent, RecallRecord, StageContext, StageError,
    TaskOutcome, TokenUsage,
};

/// Runs one attempt under the policy's timeout and the run's cancellation.
pub(super) async fn guarded<T, F>(
    policy: NodePolicy,
    cancel: &CancellationToken,
    attempt: F,
) -> Result<T, StageError>
where
    F: Future<Output = Result<T, StageError>>,
{
    let timed = async {
        match policy.timeout {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or(Err(StageError::Timeout(limit))),
            None => attempt.await,
        }
    };
    tokio::select! {
        result = timed => result,
        () = cancel.cancelled() => Err(StageError::Cancelled),
    }
}

/// Runs a stage with the policy's retries: a retryable failure is retried
/// after `backoff * attempt`, announced with [`PipelineEvent::NodeRetrying`].
pub(super) async fn retrying<T, F, Fut>(
    policy: NodePolicy,
    cancel: &CancellationToken,
    events: &EventSink,
    node: &str,
    mut attempt: F,
) -> Result<T, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StageError>>,
{
    let mut number = 1;
    loop {
        match guarded(policy, cancel, attempt()).await {
            Err(e) if e.is_retryable() && number <= policy.retries => {
                retry_later(policy, events, node, number, &e).await;
                number += 1;
            }
            result => return result,
        }
    }
}

/// Announces a retry and waits out its backoff.
async fn retry_later(
    policy: NodePolicy,
    events: &EventSink,
    node: &str,
    attempt: u32,
    error: &StageError,
) {
    events.send(PipelineEvent::NodeRetrying {
        node: node.to_owned(),
        attempt,
        error: error.to_string(),
    });
    tokio::time::sleep(policy.backoff * attempt).await;
}

/// What running one task through the executor gave.
pub(super) enum TaskEnd {
    /// Done or failed, with its attempts and the last attempt's duration
    /// (boxed: it is much larger than an interruption).
    Outcome(Box<TaskOutcome>),
    /// Stopped by cancellation: neither done nor failed, run again on resume.
    Interrupted,
}

/// Everything a spawned task needs, owned, so that it runs on its own
/// tokio task.
pub(super) struct TaskRun {
    pub(super) node: Arc<str>,
    pub(super) task: Arc<Task>,
    pub(super) artifacts: Arc<Artifacts>,
    pub(super) executor: Arc<dyn Executor>,
    pub(super) policy: NodePolicy,
    pub(super) cancel: CancellationToken,
    pub(super) events: EventSink,
    /// The run's context, from which each attempt's is derived.
    pub(super) context: StageContext,
}

impl TaskRun {
    /// Runs the task's attempts: each under the policy's timeout, retried
    /// while the failure is retryable and retries are left. A failure's
    /// evidence (what the agent printed) goes into the failed outcome.
    pub(super) async fn attempts(self) -> TaskEnd {
        let id = self.task.id.clone().unwrap_or_default();
        // Memory is recalled once per task, for every attempt; a store that
        // fails fails this task, not the run.
        let base = match self.context.recall_for(&self.task).await {
            Ok(context) => context,
            Err(e) => {
                return TaskEnd::Outcome(Box::new(TaskOutcome::failed(
                    id,
                    format!("memory recall: {e}"),
                    String::new(),
                )))
            }
        };
        // Kept with the outcome, whatever the executor said: what the
        // agent was told is the engine's fact, not the agent's.
        let recalled: Vec<RecallRecord> = base.recalled().iter().map(RecallRecord::from).collect();
        let mut attempt = 1;
        // Every attempt's model usage counts, the failed ones too.
        let mut usage = TokenUsage::default();
        loop {
            if self.events.is_active() {
                self.events.send(PipelineEvent::NodeStarted {
                    node: self.node.to_string(),
                    attempt,
                });
            }
            let context = base.for_node(self.node.clone(), attempt, self.artifacts.clone());
            let started = Instant::now();
            let result = guarded(
                self.policy,
                &self.cancel,
                self.executor
                    .execute(&self.task, &self.artifacts.spec, &context),
            )
            .await;
            usage += context.usage();
            let elapsed = millis(started.elapsed());
            let mut outcome = match result {
                Ok(outcome) => outcome,
                Err(StageError::Cancelled) => return TaskEnd::Interrupted,
                Err(e) if e.is_retryable() && attempt <= self.policy.retries => {
                    retry_later(self.policy, &self.events, &self.node, attempt, &e).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    let evidence = match &e {
                        StageError::Failed { evidence, .. } => evidence.clone(),
                        _ => String::new(),
                    };
                    TaskOutcome::failed(id, e.to_string(), evidence)
                }
            };
            outcome.attempts = attempt;
            outcome.duration_ms = elapsed;
            if !usage.is_empty() {
                outcome.usage = Some(usage);
            }
            outcome.recalled = recalled;
            return TaskEnd::Outcome(Box::new(outcome));
        }
    }
}
