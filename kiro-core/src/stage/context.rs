//! What a stage is given: [`StageContext`] and the run's [`Artifacts`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::PipelineEvent;
use super::{StageError, TaskOutcome, TokenUsage, UsageCell};
use crate::checkpoint::RunId;
use crate::config::Config;
use crate::memory::{recall_within, MemoryRecall, NoMemory, RecallRequest, Recalled};
use crate::spec::{Spec, Task};
use crate::verify::VerificationReport;
use crate::workspace::Workspace;

/// Everything a run has produced so far; stored in every checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Artifacts {
    /// The spec as the phases so far left it.
    pub spec: Spec,
    /// The outcome of every task that ended, by task id.
    #[serde(default)]
    pub outcomes: BTreeMap<String, TaskOutcome>,
    /// The verification report, once the verify phase ran.
    #[serde(default)]
    pub report: Option<VerificationReport>,
    /// Values that custom [`Node`](super::Node)s keep for each other, by name.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Tokens the phases (and custom nodes) spent on a model, by node name
    /// (`requirements`, `design`, `tasks`, `verify`); a task's own usage is
    /// in its [`TaskOutcome::usage`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub usage: BTreeMap<String, TokenUsage>,
}

impl Artifacts {
    /// Artifacts holding only a spec.
    pub fn new(spec: Spec) -> Artifacts {
        Artifacts {
            spec,
            ..Artifacts::default()
        }
    }

    /// A value a node stored under `key`, or `None`; [`StageError::Invalid`]
    /// when it is there but not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StageError> {
        self.extra
            .get(key)
            .map(|v| {
                serde_json::from_value(v.clone())
                    .map_err(|e| StageError::invalid(format!("artifact {key:?}: {e}")))
            })
            .transpose()
    }

    /// Stores a value under `key`, replacing any earlier one.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), StageError> {
        let v = serde_json::to_value(value)
            .map_err(|e| StageError::invalid(format!("artifact {key:?}: {e}")))?;
        self.extra.insert(key.to_owned(), v);
        Ok(())
    }

    /// What the run spent on models so far: every phase's and every task's
    /// usage together.
    pub fn total_usage(&self) -> TokenUsage {
        let phases: TokenUsage = self.usage.values().copied().sum();
        phases + self.outcomes.values().filter_map(|o| o.usage).sum()
    }
}

/// Where a stage sends progress; dropping events when nobody listens.
#[derive(Clone, Debug, Default)]
pub struct EventSink {
    tx: Option<UnboundedSender<PipelineEvent>>,
}

impl EventSink {
    /// A sink that sends into a channel.
    pub fn new(tx: UnboundedSender<PipelineEvent>) -> EventSink {
        EventSink { tx: Some(tx) }
    }

    /// A sink that drops every event.
    pub fn none() -> EventSink {
        EventSink { tx: None }
    }

    /// Whether events go anywhere; lets hot paths skip building them.
    pub fn is_active(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Sends an event; a closed or absent receiver is not an error, because
    /// progress reporting must never fail a run.
    pub fn send(&self, event: PipelineEvent) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}

/// What a stage works with.
///
/// Cheap to clone (shared parts are behind `Arc`). The engine makes one per
/// node; stages called directly (in tests, or by an integrator's own loop)
/// get one from [`StageContext::builder`].
///
/// ```
/// use kiro_core::stage::StageContext;
/// use kiro_core::workspace::Workspace;
///
/// let dir = tempfile::tempdir()?;
/// let cx = StageContext::builder(Workspace::single(dir.path())?).spec_name("login").build();
/// assert_eq!(cx.spec_name(), "login");
/// assert!(!cx.cancel().is_cancelled());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct StageContext {
    workspace: Arc<Workspace>,
    config: Arc<Config>,
    artifacts: Arc<Artifacts>,
    memory: Arc<dyn MemoryRecall>,
    // What `memory` recalled for the running task; empty outside tasks.
    recalled: Arc<[Recalled]>,
    memory_budget: u32,
    // What the running node spent on a model; fresh per node and attempt.
    usage: UsageCell,
    events: EventSink,
    cancel: CancellationToken,
    // Shared, so that the per-node copy the engine makes allocates nothing.
    run_id: Option<Arc<RunId>>,
    spec_name: Arc<str>,
    spec_dir: Arc<Path>,
    node: Arc<str>,
    attempt: u32,
    // The repositories the engine assigned to the running task; empty
    // outside tasks.
    task_repos: Arc<[String]>,
}

impl StageContext {
    /// Starts a context over a workspace, with default config and nothing else.
    pub fn builder(workspace: impl Into<Arc<Workspace>>) -> StageContextBuilder {
        StageContextBuilder {
            cx: StageContext {
                workspace: workspace.into(),
                config: Arc::new(Config::default()),
                artifacts: Arc::new(Artifacts::default()),
                memory: Arc::new(NoMemory),
                recalled: Arc::from(Vec::new()),
                memory_budget: crate::memory::DEFAULT_BUDGET_TOKENS,
                usage: UsageCell::default(),
                events: EventSink::none(),
                cancel: CancellationToken::new(),
                run_id: None,
                spec_name: Arc::from(""),
                spec_dir: Arc::from(Path::new("")),
                node: Arc::from(""),
                attempt: 1,
                task_repos: Arc::from(Vec::new()),
            },
        }
    }

    /// The workspace: the only way a stage reads or writes files.
    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.workspace
    }

    /// The run's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The run's artifacts as of the start of this node.
    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    /// The memory store ([`NoMemory`] unless one was set), for stages that
    /// recall more than the engine asked for the task.
    pub fn memory(&self) -> &Arc<dyn MemoryRecall> {
        &self.memory
    }

    /// What the memory store recalled for the running task, most relevant
    /// first, within the [budget](StageContextBuilder::memory_budget); empty
    /// outside tasks and without a store.
    pub fn recalled(&self) -> &[Recalled] {
        &self.recalled
    }

    /// This context with what the memory store recalls for `task` (asked
    /// once per task, before its first attempt). A store's error is the
    /// task's: see [`MemoryRecall`].
    pub(crate) async fn recall_for(&self, task: &Task) -> crate::Result<StageContext> {
        let request = RecallRequest::for_task(self.spec_name.as_ref(), task)
            .repositories(self.workspace.repos())
            .budget_tokens(self.memory_budget);
        let recalled = recall_within(self.memory.as_ref(), &request).await?;
        Ok(StageContext {
            recalled: Arc::from(recalled),
            ..self.clone()
        })
    }

    /// Adds tokens this node spent on a model to its total, which the engine
    /// stores with the node's result in the run's checkpoints (a phase's in
    /// [`Artifacts::usage`], a task's in [`TaskOutcome::usage`], summed over
    /// its attempts). LLM-backed stages call it for every reply, repairs and
    /// failed attempts included, so that the run's cost is complete.
    ///
    /// ```
    /// use kiro_core::stage::{StageContext, TokenUsage};
    /// use kiro_core::workspace::Workspace;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let cx = StageContext::builder(Workspace::single(dir.path())?).build();
    /// cx.record_usage(TokenUsage { input_tokens: 10, output_tokens: 5, requests: 1 });
    /// cx.clone().record_usage(TokenUsage { input_tokens: 1, output_tokens: 1, requests: 1 });
    /// assert_eq!(cx.usage().total_tokens(), 17);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_usage(&self, usage: TokenUsage) {
        self.usage.add(usage);
    }

    /// What this node recorded so far with
    /// [`record_usage`](StageContext::record_usage).
    pub fn usage(&self) -> TokenUsage {
        self.usage.get()
    }

    /// Where progress events go.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Fires when the run is cancelled; long stages should select on
    /// [`CancellationToken::cancelled`] and return [`StageError::Cancelled`].
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The run's id, when running under the engine.
    pub fn run_id(&self) -> Option<&RunId> {
        self.run_id.as_deref()
    }

    /// The spec's name (its folder name).
    pub fn spec_name(&self) -> &str {
        &self.spec_name
    }

    /// The spec's folder.
    pub fn spec_dir(&self) -> &Path {
        &self.spec_dir
    }

    /// The running node's name (`task 2.1`).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The repositories of the workspace the running task works in, the
    /// one it runs in first: the task's `_Repos:` line (or its parent's),
    /// else the repositories its paths name, else the workspace's default
    /// repository. Empty outside tasks (phases, gates) and for a context
    /// built without [`StageContextBuilder::task_repos`]; executors then
    /// fall back to [`Workspace::default_repo`].
    ///
    /// ```
    /// use kiro_core::stage::StageContext;
    /// use kiro_core::workspace::Workspace;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let cx = StageContext::builder(Workspace::single(dir.path())?)
    ///     .task_repos(["main"])
    ///     .build();
    /// assert_eq!(cx.task_repos(), ["main"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_repos(&self) -> &[String] {
        &self.task_repos
    }

    /// The repository the running task runs in: its first
    /// [`task_repos`](StageContext::task_repos), else the workspace's
    /// default repository.
    pub fn task_repo(&self) -> &str {
        self.task_repos
            .first()
            .map_or_else(|| self.workspace.default_repo(), String::as_str)
    }

    /// This context for a task working in `repos`.
    pub(crate) fn with_task_repos(&self, repos: Arc<[String]>) -> StageContext {
        StageContext {
            task_repos: repos,
            ..self.clone()
        }
    }

    /// This context for another node and attempt, sharing everything else.
    pub(crate) fn for_node(
        &self,
        node: Arc<str>,
        attempt: u32,
        artifacts: Arc<Artifacts>,
    ) -> StageContext {
        StageContext {
            node,
            attempt,
            artifacts,
            usage: UsageCell::default(),
            ..self.clone()
        }
    }
}

/// Builds a [`StageContext`].
#[derive(Debug)]
#[must_use]
pub struct StageContextBuilder {
    cx: StageContext,
}

impl StageContextBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: impl Into<Arc<Config>>) -> Self {
        self.cx.config = config.into();
        self
    }

    /// Sets the artifacts.
    pub fn artifacts(mut self, artifacts: impl Into<Arc<Artifacts>>) -> Self {
        self.cx.artifacts = artifacts.into();
        self
    }

    /// Sets the memory store the engine asks once per task (default
    /// [`NoMemory`]).
    pub fn memory(mut self, memory: Arc<dyn MemoryRecall>) -> Self {
        self.cx.memory = memory;
        self
    }

    /// Sets the most tokens recalled memories may take per task (default
    /// [`DEFAULT_BUDGET_TOKENS`](crate::memory::DEFAULT_BUDGET_TOKENS)).
    pub fn memory_budget(mut self, tokens: u32) -> Self {
        self.cx.memory_budget = tokens;
        self
    }

    /// Sets what was recalled, for a stage called outside the engine.
    pub fn recalled(mut self, recalled: Vec<Recalled>) -> Self {
        self.cx.recalled = Arc::from(recalled);
        self
    }

    /// Sets the event sink.
    pub fn events(mut self, events: EventSink) -> Self {
        self.cx.events = events;
        self
    }

    /// Sets the cancellation token.
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cx.cancel = cancel;
        self
    }

    /// Sets the run id.
    pub fn run_id(mut self, run_id: RunId) -> Self {
        self.cx.run_id = Some(Arc::new(run_id));
        self
    }

    /// Sets the spec's name.
    pub fn spec_name(mut self, name: impl Into<String>) -> Self {
        self.cx.spec_name = Arc::from(name.into());
        self
    }

    /// Sets the spec's folder.
    pub fn spec_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cx.spec_dir = Arc::from(dir.into());
        self
    }

    /// Sets the node name.
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.cx.node = Arc::from(node.into());
        self
    }

    /// Sets the repositories of the running task (see
    /// [`StageContext::task_repos`]), for an executor called outside the
    /// engine.
    pub fn task_repos<I, S>(mut self, repos: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cx.task_repos = repos.into_iter().map(Into::into).collect();
        self
    }

    /// The context.
    pub fn build(self) -> StageContext {
        self.cx
    }
}
