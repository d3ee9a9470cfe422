//! The engine: the phases in order, then a petgraph DAG of tasks run
//! concurrently on tokio, then verification; a checkpoint after every node.
//!
//! A run goes requirements → design → tasks → execute → verify. A phase
//! whose document already exists is used as it is (unless asked to
//! regenerate it); an [`Approver`] decides a gate after requirements, design
//! and tasks. The tasks become a [`TaskGraph`]: one node per task, edges from
//! sub-task order, document order (`[pipeline] order`), `(P)` markers and
//! `_Depends`, built by [`crate::plan`] as lint checks it. A plan lint
//! reports as ambiguous (a duplicate task id, a `_Depends:` value that names
//! no task or a missing one, a cycle) is refused before anything runs, with
//! [`Error::AmbiguousPlan`](crate::Error::AmbiguousPlan) naming each
//! problem; lint's other findings never stop a run. Ready tasks run concurrently up
//! to `jobs`, each under the node policy's timeout and retries; a failed task
//! skips its dependents and the run goes on, unless `fail_fast`. Task marks
//! in `tasks.md` follow the run (`[-]` running, `[x]` done).
//!
//! With a [`CheckpointStore`], every node ends with a checkpoint holding the
//! run's artifacts (or, for a task, its outcome) and the workspace files
//! changed since the previous one, so that [`RunOptions::resume`] continues
//! after the last completed node and [`rollback`]/[`fork`] restore any point.
//!
//! ```
//! use kiro_core::pipeline::{Pipeline, RunOptions, RunStatus};
//! use kiro_core::stage::RequirementsInput;
//! use kiro_core::workspace::Workspace;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let pipeline = Pipeline::builder().build();
//! let input = RequirementsInput::Text("- WHEN a user saves a note, THE Notes_App SHALL store it.".into());
//! let options = RunOptions::new(Workspace::single(dir.path())?, dir.path().join(".kiro/specs/notes"))
//!     .input(input)
//!     .until(kiro_core::stage::Phase::Tasks);
//! let summary = pipeline.run(options).await?;
//! assert_eq!(summary.status, RunStatus::Completed);
//! assert!(dir.path().join(".kiro/specs/notes/tasks.md").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod branches;
mod graph;
mod manual;
mod record;
mod repos;
mod run;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::checkpoint::{CheckpointRef, CheckpointStore, RollbackReport, RunId};
use crate::config::{Config, TaskOrder};
use crate::error::Result;
use crate::format::parse_tasks;
use crate::governance::{Governance, PolicyApprover};
use crate::memory::{MemoryRecall, NoMemory};
use crate::plan::Plan;
use crate::spec::{Spec, TaskList};
use crate::stage::{
    Approver, Artifacts, AutoApprove, Designer, EventSink, Executor, Gate, Node, NodeId, Phase,
    RequirementsInput, RequirementsParser, TaskPlanner, Verifier,
};
use crate::stages::{StandardRequirementsParser, TemplateDesigner, TracePlanner};
use crate::store::DocKind;
use crate::workspace::Workspace;

/// Re-exported from [`crate::stage`], where the events live so that stages
/// can send them without importing the engine.
pub use crate::stage::{NodeStatus, PipelineEvent};
pub use graph::{TaskGraph, TaskIndex, TaskKind, TaskNode};
pub(crate) use manual::{baseline_tree, changes_since, open_manual_run, record_manual_task};
pub use repos::{infer_repos, task_paths};

/// How often and how long a node may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePolicy {
    /// Longest one attempt may take; `None` for no limit.
    pub timeout: Option<Duration>,
    /// How many times a retryable failure is retried (0 = run once).
    pub retries: u32,
    /// Wait before retry `n` is `backoff * n`.
    pub backoff: Duration,
}

impl Default for NodePolicy {
    fn default() -> Self {
        NodePolicy {
            timeout: None,
            retries: 0,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Where custom nodes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    Before(Phase),
    After(Phase),
}

/// A configured engine; cheap to share, runs any number of specs.
///
/// Build one with [`Pipeline::builder`]; every stage has a deterministic
/// default except the executor and verifier, which an integrator supplies
/// (for example [`CommandExecutor`](crate::stages::CommandExecutor)).
#[derive(Clone)]
pub struct Pipeline {
    requirements: Arc<dyn RequirementsParser>,
    designer: Arc<dyn Designer>,
    planner: Arc<dyn TaskPlanner>,
    executor: Option<Arc<dyn Executor>>,
    verifier: Option<Arc<dyn Verifier>>,
    approver: Arc<dyn Approver>,
    store: Option<Arc<dyn CheckpointStore>>,
    nodes: Vec<(Placement, Arc<dyn Node>)>,
    config: Config,
    task_policy: NodePolicy,
    phase_policy: NodePolicy,
    external_changes: bool,
    audit: Option<AuditLog>,
    governance: Option<Governance>,
    /// Per-task commits: `None` follows `[git] commits` of the config.
    git: Option<bool>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("executor", &self.executor.is_some())
            .field("verifier", &self.verifier.is_some())
            .field("store", &self.store.is_some())
            .field(
                "nodes",
                &self.nodes.iter().map(|(_, n)| n.name()).collect::<Vec<_>>(),
            )
            .field("config", &self.config.pipeline)
            .field("task_policy", &self.task_policy)
            .field("audit", &self.audit.as_ref().map(AuditLog::path))
            .field("governance", &self.governance.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Pipeline`].
#[must_use]
pub struct PipelineBuilder {
    p: Pipeline,
}

impl Pipeline {
    /// A builder with the default stages, [`AutoApprove`], no checkpoint
    /// store, no executor and no verifier.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder {
            p: Pipeline {
                requirements: Arc::new(StandardRequirementsParser),
                designer: Arc::new(TemplateDesigner),
                planner: Arc::new(TracePlanner),
                executor: None,
                verifier: None,
                approver: Arc::new(AutoApprove),
                store: None,
                nodes: Vec::new(),
                config: Config::default(),
                task_policy: NodePolicy::default(),
                phase_policy: NodePolicy::default(),
                external_changes: true,
                audit: None,
                governance: None,
                git: None,
            },
        }
    }

    /// The checkpoint store, if any.
    pub fn store(&self) -> Option<&Arc<dyn CheckpointStore>> {
        self.store.as_ref()
    }

    /// Runs a spec as the options say.
    ///
    /// Errors are for runs that cannot start or whose bookkeeping fails
    /// (I/O, the store, a missing executor); a stage that fails ends the run
    /// with [`RunStatus::Failed`] instead.
    ///
    /// A run that is to execute tasks first checks the plan it would execute
    /// (the spec's `tasks.md`, or the in-memory spec's tasks, unless the
    /// tasks phase is regenerated): when lint would report it ambiguous, the
    /// run fails with [`Error::AmbiguousPlan`](crate::Error::AmbiguousPlan)
    /// before any phase, task, mark or checkpoint, naming every problem
    /// with its code and line. A plan produced during the run (by the task
    /// planner or a custom node) is checked the same way before its tasks
    /// start.
    pub async fn run(&self, options: RunOptions) -> Result<RunSummary> {
        let checked = options.check_plan(self.config.pipeline.order)?;
        run::Run::start(self, options, checked)
            .await?
            .finish()
            .await
    }
}

impl PipelineBuilder {
    /// Replaces the requirements parser (default: Kiro markdown or EARS text).
    pub fn requirements(mut self, parser: impl RequirementsParser + 'static) -> Self {
        self.p.requirements = Arc::new(parser);
        self
    }

    /// Replaces the designer (default [`TemplateDesigner`]).
    pub fn designer(mut self, designer: impl Designer + 'static) -> Self {
        self.p.designer = Arc::new(designer);
        self
    }

    /// Replaces the task planner (default [`TracePlanner`]).
    pub fn planner(mut self, planner: impl TaskPlanner + 'static) -> Self {
        self.p.planner = Arc::new(planner);
        self
    }

    /// Sets the executor that carries out tasks.
    pub fn executor(mut self, executor: impl Executor + 'static) -> Self {
        self.p.executor = Some(Arc::new(executor));
        self
    }

    /// Sets the verifier (default: every criterion reported untested).
    pub fn verifier(mut self, verifier: impl Verifier + 'static) -> Self {
        self.p.verifier = Some(Arc::new(verifier));
        self
    }

    /// Replaces the approver of gates (default [`AutoApprove`]).
    pub fn approver(mut self, approver: impl Approver + 'static) -> Self {
        self.p.approver = Arc::new(approver);
        self
    }

    /// Writes a checkpoint after every node into this store.
    pub fn store(mut self, store: impl CheckpointStore + 'static) -> Self {
        self.p.store = Some(Arc::new(store));
        self
    }

    /// Writes checkpoints into a shared store.
    pub fn shared_store(mut self, store: Arc<dyn CheckpointStore>) -> Self {
        self.p.store = Some(store);
        self
    }

    /// Runs a custom node just before a phase.
    pub fn node_before(mut self, phase: Phase, node: impl Node + 'static) -> Self {
        self.p
            .nodes
            .push((Placement::Before(phase), Arc::new(node)));
        self
    }

    /// Runs a custom node just after a phase.
    pub fn node_after(mut self, phase: Phase, node: impl Node + 'static) -> Self {
        self.p.nodes.push((Placement::After(phase), Arc::new(node)));
        self
    }

    /// Takes `[pipeline]` (jobs, fail-fast, order) from a config; the
    /// executor and verifier are built from it by the caller.
    pub fn config(mut self, config: Config) -> Self {
        self.p.config = config;
        self
    }

    /// How many task nodes may run at once (at least 1).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.p.config.pipeline.jobs = jobs.max(1);
        self
    }

    /// Stops the run at the first failed task.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.p.config.pipeline.fail_fast = fail_fast;
        self
    }

    /// How task dependencies are derived.
    pub fn order(mut self, order: TaskOrder) -> Self {
        self.p.config.pipeline.order = order;
        self
    }

    /// Timeout and retries of each task.
    pub fn task_policy(mut self, policy: NodePolicy) -> Self {
        self.p.task_policy = policy;
        self
    }

    /// Timeout and retries of the requirements, design, tasks and verify stages.
    pub fn phase_policy(mut self, policy: NodePolicy) -> Self {
        self.p.phase_policy = policy;
        self
    }

    /// Whether the executor may change files without going through the
    /// [`Workspace`] (default `true`: it runs external programs). When
    /// `true` and a store is set, the workspace is rescanned once per batch
    /// of tasks that finish together, after their processes ended and before
    /// any of them is marked done; when `false`, task checkpoints take their
    /// files from the workspace journal and the engine's own `tasks.md`
    /// marks, without a rescan. Either way a task's checkpoint is the
    /// workspace as it was when that task was marked done.
    pub fn external_changes(mut self, external: bool) -> Self {
        self.p.external_changes = external;
        self
    }

    /// Records gate decisions, phase results and verification verdicts in
    /// this audit log (see [`crate::audit`]).
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.p.audit = Some(log);
        self
    }

    /// Runs under `.kiro/policy.toml` (see [`crate::governance`]): the
    /// gates `[gates]` lists are decided by [`PolicyApprover`] whatever
    /// [`approver`](Self::approver) says (it decides only the other gates),
    /// changes to protected paths without their approval are reverted and
    /// fail the task, `[checks] required` run before a task is marked
    /// done, and the run stops with
    /// [`Error::UsageLimitExceeded`](crate::Error::UsageLimitExceeded) after
    /// the node that crosses a `[limits]` value.
    pub fn governance(mut self, governance: Governance) -> Self {
        self.p.governance = Some(governance);
        self
    }

    /// Commits each finished task on the branch `kiro/<spec>` of every git
    /// work tree the run uses (`true`), or never touches git (`false`).
    /// Unset, `[git] commits` of the config decides, and without it every
    /// repository that is a git work tree gets commits. See
    /// [`crate::git`] and the README's "Git per task".
    pub fn git(mut self, commits: bool) -> Self {
        self.p.git = Some(commits);
        self
    }

    /// The pipeline.
    pub fn build(mut self) -> Pipeline {
        if let Some(governance) = &self.p.governance {
            // Wrapped here, not in `governance()`, so that an approver set
            // after it cannot replace the policy's decisions.
            self.p.approver =
                Arc::new(PolicyApprover::new(governance.clone()).fallback(self.p.approver.clone()));
        }
        self.p
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    workspace: Arc<Workspace>,
    spec_dir: Option<PathBuf>,
    spec: Option<Spec>,
    input: Option<RequirementsInput>,
    until: Phase,
    regenerate: BTreeSet<Phase>,
    include_optional: bool,
    resume: Option<RunId>,
    events: EventSink,
    cancel: CancellationToken,
    memory: Arc<dyn MemoryRecall>,
    memory_budget: u32,
}

impl RunOptions {
    /// Runs the spec in `spec_dir` (`.kiro/specs/<name>`), reading its
    /// documents and writing what the phases produce and the task marks.
    /// The folder need not exist yet when an [`input`](Self::input) is given.
    pub fn new(workspace: impl Into<Arc<Workspace>>, spec_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            spec_dir: Some(spec_dir.into()),
            ..RunOptions::base(workspace.into())
        }
    }

    /// Runs a spec held in memory; nothing is written except checkpoints.
    pub fn in_memory(workspace: impl Into<Arc<Workspace>>, spec: Spec) -> RunOptions {
        RunOptions {
            spec: Some(spec),
            ..RunOptions::base(workspace.into())
        }
    }

    /// Refuses an ambiguous plan that this run would execute as it stands;
    /// returns the plan it checked and its graph, which the execute phase
    /// reuses when the tasks are still these.
    fn check_plan(&self, order: TaskOrder) -> Result<Option<CheckedPlan>> {
        if self.until < Phase::Execute || self.regenerate.contains(&Phase::Tasks) {
            return Ok(None);
        }
        match (&self.spec_dir, &self.spec) {
            (Some(dir), _) => {
                // An unreadable file is left to the run's own loading, which
                // reports it with the spec's other documents.
                let Ok(text) = std::fs::read_to_string(dir.join(DocKind::Tasks.file_name())) else {
                    return Ok(None);
                };
                let parsed = parse_tasks(&text);
                let graph = Plan::new(&parsed.value, order).into_graph(Some(&parsed.source_map))?;
                Ok(Some(CheckedPlan {
                    tasks: parsed.value,
                    order,
                    graph,
                }))
            }
            (
                None,
                Some(Spec {
                    tasks: Some(list), ..
                }),
            ) => {
                let graph = Plan::new(list, order).into_graph(None)?;
                Ok(Some(CheckedPlan {
                    tasks: list.clone(),
                    order,
                    graph,
                }))
            }
            _ => Ok(None),
        }
    }

    fn base(workspace: Arc<Workspace>) -> RunOptions {
        RunOptions {
            workspace,
            spec_dir: None,
            spec: None,
            input: None,
            until: Phase::Verify,
            regenerate: BTreeSet::new(),
            include_optional: false,
            resume: None,
            events: EventSink::none(),
            cancel: CancellationToken::new(),
            memory: Arc::new(NoMemory),
            memory_budget: crate::memory::DEFAULT_BUDGET_TOKENS,
        }
    }

    /// The requirements input, used when the spec has no requirements yet
    /// (or when the requirements phase is regenerated).
    pub fn input(mut self, input: RequirementsInput) -> Self {
        self.input = Some(input);
        self
    }

    /// The last phase to run (default [`Phase::Verify`]).
    pub fn until(mut self, phase: Phase) -> Self {
        self.until = phase;
        self
    }

    /// Regenerates a phase's document even if it exists.
    pub fn regenerate(mut self, phase: Phase) -> Self {
        self.regenerate.insert(phase);
        self
    }

    /// Runs optional (`- [ ]*`) tasks too.
    pub fn include_optional(mut self, include: bool) -> Self {
        self.include_optional = include;
        self
    }

    /// Continues an earlier run after its last completed node.
    pub fn resume(mut self, run: RunId) -> Self {
        self.resume = Some(run);
        self
    }

    /// Sends progress events here.
    pub fn events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }

    /// Stops the run when this token is cancelled; finished nodes keep
    /// their checkpoints, and the run can be resumed.
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The memory store asked once per task; what it recalls reaches the
    /// stages as [`StageContext::recalled`](crate::stage::StageContext::recalled).
    pub fn memory(mut self, memory: Arc<dyn MemoryRecall>) -> Self {
        self.memory = memory;
        self
    }

    /// The most tokens recalled memories may take per task (default
    /// [`DEFAULT_BUDGET_TOKENS`](crate::memory::DEFAULT_BUDGET_TOKENS)).
    pub fn memory_budget(mut self, tokens: u32) -> Self {
        self.memory_budget = tokens;
        self
    }
}

/// A plan checked before a run started, with its graph.
#[derive(Debug)]
struct CheckedPlan {
    tasks: TaskList,
    order: TaskOrder,
    graph: TaskGraph,
}

impl CheckedPlan {
    /// The graph, when it is that of `tasks` in `order`.
    fn graph_of(self, tasks: &TaskList, order: TaskOrder) -> Option<TaskGraph> {
        (self.order == order && self.tasks == *tasks).then_some(self.graph)
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// Every phase up to the requested one finished; every task that ran is
    /// done and no criterion failed verification.
    Completed,
    /// A stage failed, a task failed, or a criterion failed verification.
    Failed {
        /// What failed, one line.
        reason: String,
    },
    /// An approver rejected a gate; resume the run after approving.
    Stopped {
        /// The gate.
        gate: Gate,
        /// The approver's reason.
        reason: String,
    },
    /// The run was cancelled; resume it to continue.
    Cancelled,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    /// The run's id (also when no store is configured).
    pub run_id: RunId,
    /// How it ended.
    pub status: RunStatus,
    /// The artifacts at the end.
    pub artifacts: Artifacts,
    /// The last checkpoint written, if a store is configured.
    pub checkpoint: Option<CheckpointRef>,
}

/// Restores workspace files and a run's state to a checkpoint.
///
/// The workspace is assumed to be as the latest checkpoint of that run left
/// it. Files created after the checkpoint are removed, edited ones restored,
/// deleted ones recreated (byte for byte, with the executable bit). The
/// rollback is recorded as a new checkpoint whose parent is the target, so
/// that resuming the run continues from the checkpoint. Returns what was
/// rewritten and the new checkpoint.
pub fn rollback<S: CheckpointStore + ?Sized>(
    store: &S,
    workspace: &Workspace,
    to: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    record::rollback(store, workspace, to)
}

/// Starts a new run from a checkpoint, keeping the old run as it is.
///
/// Workspace files are restored to the checkpoint (from the latest
/// checkpoint of its run); resume the returned run to continue it.
pub fn fork<S: CheckpointStore + ?Sized>(
    store: &S,
    workspace: &Workspace,
    from: &CheckpointRef,
) -> Result<(RollbackReport, CheckpointRef)> {
    record::fork(store, workspace, from)
}

/// The latest run that works on the named spec, if any.
pub fn latest_run<S: CheckpointStore + ?Sized>(store: &S, spec: &str) -> Result<Option<RunId>> {
    for run in store.runs()?.into_iter().rev() {
        if record::run_spec(store, &run)?.as_deref() == Some(spec) {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// The spec name a run works on, if it has a checkpoint.
pub fn run_spec<S: CheckpointStore + ?Sized>(store: &S, run: &RunId) -> Result<Option<String>> {
    record::run_spec(store, run)
}

/// The artifacts and completed nodes at a checkpoint, the nodes named as
/// in checkpoint logs ([`NodeId`]'s text) and sorted as text.
pub fn state_at<S: CheckpointStore + ?Sized>(
    store: &S,
    at: &CheckpointRef,
) -> Result<(Artifacts, BTreeSet<String>)> {
    let state = record::state_at(store, at)?;
    let completed = state.completed.iter().map(NodeId::to_string).collect();
    Ok((state.artifacts, completed))
}
