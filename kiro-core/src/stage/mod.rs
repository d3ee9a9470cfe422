//! The five stages of spec-driven development as async traits, and what a
//! stage is given to work with.
//!
//! | Phase | Trait | Turns | Into |
//! |---|---|---|---|
//! | [`Phase::Requirements`] | [`RequirementsParser`] | [`RequirementsInput`] | [`RequirementsDoc`] |
//! | [`Phase::Design`] | [`Designer`] | [`RequirementsDoc`] | [`DesignDoc`] |
//! | [`Phase::Tasks`] | [`TaskPlanner`] | requirements + design | [`TaskList`] |
//! | [`Phase::Execute`] | [`Executor`] | one [`Task`] | [`TaskOutcome`] |
//! | [`Phase::Verify`] | [`Verifier`] | the spec + outcomes | [`VerificationReport`] |
//!
//! Every stage receives a [`StageContext`]: the [`Workspace`] (the only way a
//! stage touches files), the run's [`Artifacts`] so far, recalled memory, an
//! event sink, a cancellation token and the run's [`Config`]. Integrators add
//! their own steps with [`Node`] and decide gates between phases with
//! [`Approver`]. All traits are object safe, `Send + Sync`, and implemented
//! for `&T`, `Box<T>` and `Arc<T>` of an implementation.

mod context;
mod event;
mod gate_name;
mod node;
mod usage;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "linked from the docs")]
use crate::memory::RecallReason;
use crate::memory::Recalled;
use crate::spec::{DesignDoc, RequirementsDoc, Spec, Task, TaskId, TaskList};
use crate::verify::VerificationReport;

pub use crate::checkpoint::NodeId;
pub use crate::spec::TokenUsage;
pub use crate::spec::{Phase, UnknownPhase};
pub use context::{Artifacts, EventSink, StageContext, StageContextBuilder};
pub use event::{NodeStatus, PipelineEvent};
pub use gate_name::GateName;
pub use node::SkipReason;
pub use usage::RunUsage;
pub(crate) use usage::UsageCell;

#[allow(unused_imports, reason = "linked from the module docs")]
use crate::{config::Config, workspace::Workspace};

/// Why a stage did not produce its result.
///
/// The engine retries [`StageError::Failed`] with `retryable: true` and
/// [`StageError::Timeout`] according to the node's retry policy; every other
/// variant fails the node at once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// The stage ran and did not succeed; `evidence` keeps what explains it
    /// (a command's standard error, a failing test's output).
    #[error("{message}")]
    Failed {
        /// What went wrong, one line.
        message: String,
        /// Supporting output, possibly long.
        evidence: String,
        /// Whether trying again may succeed (a flaky network, a busy tool).
        retryable: bool,
    },
    /// The stage's input cannot be used (an empty requirements text, a task
    /// without an id); retrying would not help.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The run was cancelled while the stage ran.
    #[error("cancelled")]
    Cancelled,
    /// The stage ran longer than its node's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A kiro-core operation (file access, policy, parsing) failed.
    #[error(transparent)]
    Core(#[from] crate::Error),
    /// An integrator's own error.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StageError {
    /// A non-retryable failure with no evidence.
    pub fn failed(message: impl Into<String>) -> StageError {
        StageError::Failed {
            message: message.into(),
            evidence: String::new(),
            retryable: false,
        }
    }

    /// A failure that may succeed when retried.
    pub fn transient(message: impl Into<String>) -> StageError {
        StageError::Failed {
            message: message.into(),
            evidence: String::new(),
            retryable: true,
        }
    }

    /// An [`StageError::Invalid`] input.
    pub fn invalid(message: impl Into<String>) -> StageError {
        StageError::Invalid(message.into())
    }

    /// Whether the engine may run the node again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StageError::Failed {
                retryable: true,
                ..
            } | StageError::Timeout(_)
        )
    }
}

/// What the requirements phase starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum RequirementsInput {
    /// A Kiro `requirements.md`.
    Markdown(String),
    /// Plain prose or a bullet list of EARS sentences.
    Text(String),
}

impl RequirementsInput {
    /// The text, whichever its kind.
    pub fn text(&self) -> &str {
        match self {
            RequirementsInput::Markdown(t) | RequirementsInput::Text(t) => t,
        }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// The executor finished the task.
    Done,
    /// The executor failed, timed out or was cancelled.
    Failed,
    /// The task did not run: a dependency failed, it is optional, or the run
    /// stopped first.
    Skipped,
}

/// The result of one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskOutcome {
    /// The task's id (`2.1`).
    pub task: TaskId,
    /// How it ended.
    pub status: OutcomeStatus,
    /// One line for people: what was done, or why not.
    pub summary: String,
    /// Supporting output kept as evidence (standard error of a failed
    /// command, truncated to a bounded size by the executor).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence: String,
    /// How many times the executor ran (0 when skipped).
    #[serde(default)]
    pub attempts: u32,
    /// Wall time of the last attempt in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// What confined the agent that ran the task (Landlock, cgroup,
    /// parent-death signal), when an executor that runs one reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::sandbox::SandboxReport>,
    /// Tokens the task spent on a model over all its attempts, when the
    /// executor is LLM-backed (see [`StageContext::record_usage`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// What the memory store recalled for the task and every attempt of it
    /// saw, most relevant first: set by the engine, not the executor, so
    /// that a reviewer can tell what the agent was told and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recalled: Vec<RecallRecord>,
    /// The commits the engine made for the task on `kiro/<spec>`, one per
    /// repository (see [`crate::git`]): set by the engine, not the executor,
    /// after the task's mark and before its checkpoint, so that rolling
    /// back to that checkpoint can move every branch back to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<RepoCommit>,
}

/// A commit the engine made for a task in one repository of the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RepoCommit {
    /// The workspace's name of the repository.
    pub repo: String,
    /// The commit id (hex).
    pub commit: String,
}

impl TaskOutcome {
    /// A successful outcome with a summary.
    pub fn done(task: TaskId, summary: impl Into<String>) -> TaskOutcome {
        TaskOutcome {
            task,
            status: OutcomeStatus::Done,
            summary: summary.into(),
            evidence: String::new(),
            attempts: 1,
            duration_ms: 0,
            sandbox: None,
            usage: None,
            recalled: Vec::new(),
            commits: Vec::new(),
        }
    }

    /// A failed outcome with a summary and evidence.
    pub fn failed(
        task: TaskId,
        summary: impl Into<String>,
        evidence: impl Into<String>,
    ) -> TaskOutcome {
        TaskOutcome {
            task,
            status: OutcomeStatus::Failed,
            summary: summary.into(),
            evidence: evidence.into(),
            attempts: 1,
            duration_ms: 0,
            sandbox: None,
            usage: None,
            recalled: Vec::new(),
            commits: Vec::new(),
        }
    }

    /// A task that did not run, and why.
    pub fn skipped(task: TaskId, reason: impl Into<String>) -> TaskOutcome {
        TaskOutcome {
            task,
            status: OutcomeStatus::Skipped,
            summary: reason.into(),
            evidence: String::new(),
            attempts: 0,
            duration_ms: 0,
            sandbox: None,
            usage: None,
            recalled: Vec::new(),
            commits: Vec::new(),
        }
    }
}

/// A memory recalled for a task, as the task's outcome keeps it in the
/// run's checkpoints: which memory, why, and what it took of the budget.
///
/// The reason is kept in words (as [`RecallReason`] displays it) because a
/// checkpoint is read by people and must stay readable when the reasons a
/// store gives change; the memory itself stays in its store, cited by id.
///
/// ```
/// use kiro_core::memory::{Memory, RecallReason, Recalled};
/// use kiro_core::stage::RecallRecord;
///
/// let memory = Memory { id: Some("m-12".into()), ..Memory::new("Use thiserror in libraries.") };
/// let record = RecallRecord::from(&Recalled::new(memory, RecallReason::Path("src/lib.rs".into())));
/// assert_eq!(record.id.as_deref(), Some("m-12"));
/// assert_eq!(record.reason, "concerns src/lib.rs");
/// assert_eq!(record.text, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallRecord {
    /// The store's id for the memory (`kiro memory show <ID>`); absent when
    /// the store gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why it was recalled, in words.
    pub reason: String,
    /// The tokens it took of the task's memory budget.
    pub tokens: u32,
    /// The start of the memory's text (at most [`RecallRecord::TEXT_LIMIT`]
    /// bytes), only when it has no id to look it up by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl RecallRecord {
    /// The most bytes of an id-less memory's text a record keeps: enough to
    /// recognise it, bounded so that a large memory does not bloat every
    /// checkpoint of the run.
    pub const TEXT_LIMIT: usize = 200;
}

impl From<&Recalled> for RecallRecord {
    fn from(recalled: &Recalled) -> RecallRecord {
        let text = match &recalled.memory.id {
            Some(_) => None,
            None => {
                let text = &recalled.memory.text;
                let mut end = text.len().min(RecallRecord::TEXT_LIMIT);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Some(text[..end].to_owned())
            }
        };
        RecallRecord {
            id: recalled.memory.id.clone(),
            reason: recalled.reason.to_string(),
            tokens: recalled.tokens,
            text,
        }
    }
}

/// Turns requirements input into a [`RequirementsDoc`].
///
/// The caller guarantees nothing about the text: it may be empty or
/// malformed. The implementor returns a document whose requirements and
/// criteria carry ids, or [`StageError::Invalid`] when the input holds no
/// requirement at all; it must not touch files.
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::spec::RequirementsDoc;
/// use kiro_core::stage::{RequirementsInput, RequirementsParser, StageContext, StageError};
///
/// /// Accepts only requirements that are already in Kiro's format.
/// struct KiroOnly;
///
/// #[async_trait]
/// impl RequirementsParser for KiroOnly {
///     async fn parse(&self, input: &RequirementsInput, _cx: &StageContext) -> Result<RequirementsDoc, StageError> {
///         match input {
///             RequirementsInput::Markdown(md) => Ok(kiro_core::format::parse_requirements(md).value),
///             RequirementsInput::Text(_) => Err(StageError::invalid("expected a requirements.md")),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait RequirementsParser: Send + Sync {
    /// Parses the input.
    async fn parse(
        &self,
        input: &RequirementsInput,
        cx: &StageContext,
    ) -> Result<RequirementsDoc, StageError>;
}

/// Turns requirements into a [`DesignDoc`].
///
/// The caller guarantees the requirements have ids. The implementor returns
/// a design whose correctness properties validate only criteria that exist
/// (`**Validates: Requirements 1.2**`); it must not touch files.
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::spec::{DesignDoc, RequirementsDoc};
/// use kiro_core::stage::{Designer, StageContext, StageError};
///
/// /// A design with a title and nothing else.
/// struct Blank;
///
/// #[async_trait]
/// impl Designer for Blank {
///     async fn design(&self, _reqs: &RequirementsDoc, _cx: &StageContext) -> Result<DesignDoc, StageError> {
///         Ok(DesignDoc { title: "Design Document".into(), ..DesignDoc::default() })
///     }
/// }
/// ```
#[async_trait]
pub trait Designer: Send + Sync {
    /// Designs from the requirements.
    async fn design(
        &self,
        reqs: &RequirementsDoc,
        cx: &StageContext,
    ) -> Result<DesignDoc, StageError>;
}

/// Turns requirements and design into a [`TaskList`].
///
/// The implementor returns tasks with unique ids whose `_Requirements`
/// links name existing criteria and whose `_Depends` links name existing
/// tasks without cycles (the engine rejects a cycle before running
/// anything); it must not touch files.
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::spec::{DesignDoc, RequirementsDoc, Task, TaskId, TaskList};
/// use kiro_core::stage::{StageContext, StageError, TaskPlanner};
///
/// /// One task per requirement.
/// struct PerRequirement;
///
/// #[async_trait]
/// impl TaskPlanner for PerRequirement {
///     async fn plan(&self, reqs: &RequirementsDoc, _design: &DesignDoc, _cx: &StageContext) -> Result<TaskList, StageError> {
///         let tasks = reqs.requirements.iter().enumerate().map(|(i, r)| Task {
///             id: Some(TaskId::new((i + 1).to_string())),
///             title: format!("Implement {}", r.title),
///             requirements: r.criteria.iter().map(|c| c.id.clone()).collect(),
///             ..Task::default()
///         });
///         Ok(TaskList { title: "Implementation Plan".into(), tasks: tasks.collect(), ..TaskList::default() })
///     }
/// }
/// ```
#[async_trait]
pub trait TaskPlanner: Send + Sync {
    /// Plans the tasks.
    async fn plan(
        &self,
        reqs: &RequirementsDoc,
        design: &DesignDoc,
        cx: &StageContext,
    ) -> Result<TaskList, StageError>;
}

/// Carries out one task.
///
/// The caller guarantees that the task is a leaf (no sub-tasks), that every
/// task it depends on is done, and that the task is not a Kiro
/// "Checkpoint" gate. The implementor changes files only through
/// [`StageContext::workspace`] or by running commands the workspace policy
/// allows ([`Workspace::check_command`]), stops promptly when
/// [`StageContext::cancel`] fires, and reports a failure either as an
/// outcome with [`OutcomeStatus::Failed`] (the task ran and did not succeed)
/// or as an error (the task could not run; retryable errors are retried).
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::spec::{Spec, Task, TaskId};
/// use kiro_core::stage::{Executor, StageContext, StageError, TaskOutcome};
///
/// /// Writes a marker file per task.
/// struct Marker;
///
/// #[async_trait]
/// impl Executor for Marker {
///     async fn execute(&self, task: &Task, _spec: &Spec, cx: &StageContext) -> Result<TaskOutcome, StageError> {
///         let id = task.id.clone().ok_or_else(|| StageError::invalid("task without id"))?;
///         let repo = cx.workspace().repos().next().unwrap_or("main").to_owned();
///         cx.workspace().write(&repo, format!("done/{id}"), task.title.as_bytes())?;
///         Ok(TaskOutcome::done(id, "marker written"))
///     }
/// }
/// ```
#[async_trait]
pub trait Executor: Send + Sync {
    /// Executes the task.
    async fn execute(
        &self,
        task: &Task,
        spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError>;
}

/// Checks every acceptance criterion of a spec after the tasks ran.
///
/// The implementor returns one [`crate::verify::CriterionResult`] per
/// criterion of the spec, in document order; a criterion with no linked
/// test is `Untested`, not an error. An error means verification itself
/// could not run (the test command is missing, its report unreadable).
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::spec::Spec;
/// use kiro_core::stage::{StageContext, StageError, TaskOutcome, Verifier};
/// use kiro_core::verify::{CriterionResult, CriterionStatus, VerificationReport};
///
/// /// Knows no tests: everything is untested.
/// struct NoTests;
///
/// #[async_trait]
/// impl Verifier for NoTests {
///     async fn verify(&self, spec: &Spec, _outcomes: &[TaskOutcome], _cx: &StageContext) -> Result<VerificationReport, StageError> {
///         let criteria = spec.requirements.iter().flat_map(|d| &d.requirements).flat_map(|r| &r.criteria);
///         Ok(VerificationReport {
///             criteria: criteria
///                 .map(|c| CriterionResult { criterion: c.id.clone(), status: CriterionStatus::Untested, ..CriterionResult::default() })
///                 .collect(),
///             ..VerificationReport::default()
///         })
///     }
/// }
/// ```
#[async_trait]
pub trait Verifier: Send + Sync {
    /// Verifies the spec.
    async fn verify(
        &self,
        spec: &Spec,
        outcomes: &[TaskOutcome],
        cx: &StageContext,
    ) -> Result<VerificationReport, StageError>;
}

/// An integrator's own step, run before or after a phase.
///
/// A node reads and writes the run's [`Artifacts`]: the spec, outcomes and
/// report, and named typed values of its own ([`Artifacts::set`],
/// [`Artifacts::get`]). Its name must be unique in the pipeline and is
/// recorded in checkpoints, so that a resumed run does not run it again.
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::stage::{Artifacts, Node, StageContext, StageError};
///
/// /// Counts the tasks and keeps the number for later nodes.
/// struct CountTasks;
///
/// #[async_trait]
/// impl Node for CountTasks {
///     fn name(&self) -> &str {
///         "count-tasks"
///     }
///     async fn run(&self, artifacts: &mut Artifacts, _cx: &StageContext) -> Result<(), StageError> {
///         let n = artifacts.spec.tasks.as_ref().map_or(0, |t| t.tasks.len());
///         artifacts.set("task-count", &n)
///     }
/// }
/// ```
#[async_trait]
pub trait Node: Send + Sync {
    /// The node's unique name (`lint`, `notify-slack`).
    fn name(&self) -> &str;

    /// Runs the step.
    async fn run(&self, artifacts: &mut Artifacts, cx: &StageContext) -> Result<(), StageError>;
}

/// A point where a person (or a policy) decides whether the run goes on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Gate {
    /// After a phase produced its document, before the next phase starts.
    Phase {
        /// The phase whose result is to be approved.
        phase: Phase,
    },
    /// A Kiro "Checkpoint - ..." task: all tasks before it are done.
    Checkpoint {
        /// The checkpoint task's id.
        task: TaskId,
        /// Its title (`Checkpoint - Ensure all tests pass`).
        title: String,
    },
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::Phase { phase } => write!(f, "{phase} approval"),
            Gate::Checkpoint { task, title } => write!(f, "task {task} ({title})"),
        }
    }
}

/// An [`Approver`]'s decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Approval {
    /// Go on.
    Approved,
    /// Stop the run here; it can be resumed later.
    Rejected {
        /// Why, for the run's summary.
        reason: String,
    },
}

/// Decides gates between phases and at Kiro "Checkpoint" tasks.
///
/// ```
/// use async_trait::async_trait;
/// use kiro_core::stage::{Approval, Approver, Artifacts, Gate, Phase, StageError};
///
/// /// Approves everything up to the task list, then stops for a human.
/// struct UntilTasks;
///
/// #[async_trait]
/// impl Approver for UntilTasks {
///     async fn approve(&self, gate: &Gate, _artifacts: &Artifacts) -> Result<Approval, StageError> {
///         Ok(match gate {
///             Gate::Phase { phase } if *phase < Phase::Tasks => Approval::Approved,
///             _ => Approval::Rejected { reason: "waiting for review".into() },
///         })
///     }
/// }
/// ```
#[async_trait]
pub trait Approver: Send + Sync {
    /// Decides one gate.
    async fn approve(&self, gate: &Gate, artifacts: &Artifacts) -> Result<Approval, StageError>;
}

/// Approves every gate: unattended runs (`kiro run --yes`) and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct AutoApprove;

#[async_trait]
impl Approver for AutoApprove {
    async fn approve(&self, _gate: &Gate, _artifacts: &Artifacts) -> Result<Approval, StageError> {
        Ok(Approval::Approved)
    }
}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: RequirementsParser + ?Sized> RequirementsParser for $ty {
            async fn parse(&self, input: &RequirementsInput, cx: &StageContext) -> Result<RequirementsDoc, StageError> {
                (**self).parse(input, cx).await
            }
        }
        #[async_trait]
        impl<T: Designer + ?Sized> Designer for $ty {
            async fn design(&self, reqs: &RequirementsDoc, cx: &StageContext) -> Result<DesignDoc, StageError> {
                (**self).design(reqs, cx).await
            }
        }
        #[async_trait]
        impl<T: TaskPlanner + ?Sized> TaskPlanner for $ty {
            async fn plan(&self, reqs: &RequirementsDoc, design: &DesignDoc, cx: &StageContext) -> Result<TaskList, StageError> {
                (**self).plan(reqs, design, cx).await
            }
        }
        #[async_trait]
        impl<T: Executor + ?Sized> Executor for $ty {
            async fn execute(&self, task: &Task, spec: &Spec, cx: &StageContext) -> Result<TaskOutcome, StageError> {
                (**self).execute(task, spec, cx).await
            }
        }
        #[async_trait]
        impl<T: Verifier + ?Sized> Verifier for $ty {
            async fn verify(&self, spec: &Spec, outcomes: &[TaskOutcome], cx: &StageContext) -> Result<VerificationReport, StageError> {
                (**self).verify(spec, outcomes, cx).await
            }
        }
        #[async_trait]
        impl<T: Node + ?Sized> Node for $ty {
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn run(&self, artifacts: &mut Artifacts, cx: &StageContext) -> Result<(), StageError> {
                (**self).run(artifacts, cx).await
            }
        }
        #[async_trait]
        impl<T: Approver + ?Sized> Approver for $ty {
            async fn approve(&self, gate: &Gate, artifacts: &Artifacts) -> Result<Approval, StageError> {
                (**self).approve(gate, artifacts).await
            }
        }
    )*};
}

forward!(&T, Box<T>, Arc<T>);
