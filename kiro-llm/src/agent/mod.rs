//! [`AgentExecutor`]: an [`Executor`] that carries out a task by letting a
//! model call tools in a loop — read, list, search, write, edit, run a
//! command — every one through the run's [`Workspace`] and its [`Policy`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use kiro_llm::agent::AgentExecutor;
//! use kiro_llm::{LlmConfig, ProcessEnv};
//!
//! # fn build() -> kiro_llm::Result<()> {
//! let client = kiro_llm::connect(&LlmConfig::load_workspace(".", &ProcessEnv)?)?;
//! let executor = AgentExecutor::new(client)
//!     .max_steps(30)
//!     .command_timeout(Duration::from_secs(300));
//! // Hand `executor` to the pipeline as its `Executor`.
//! # let _ = executor;
//! # Ok(())
//! # }
//! ```
//!
//! The loop: the system prompt (`prompts/agent.md`), then the task brief
//! ([`task_brief`]) and recalled memory as the first user message. Each
//! model turn that calls tools has them run in order and answered with
//! [`Message::Tool`] results; a failed call (a path outside the
//! repository, a file the policy does not let it write, a command it does
//! not allow, arguments that do not match the tool's schema, an unknown
//! tool, an edit whose `old` text occurs 0 or several times) is a result
//! marked as an error for the model to read, never a failure of the task.
//! At most 32 calls of one turn run; the rest are answered with an error.
//! The first turn without tool calls ends the task: its first line is the
//! outcome's summary, and the evidence lists the tool calls and the files
//! written. Running out of turns fails the task; cancellation stops the
//! model request or the command in flight. Whatever the ending, the tokens
//! of every reply received are reported once with
//! [`StageContext::record_usage`].
//!
//! [`Workspace`]: kiro_core::workspace::Workspace
//! [`Policy`]: kiro_core::workspace::Policy
//! [`task_brief`]: kiro_core::stages::command::task_brief

mod files;
mod tools;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiro_core::sandbox::{Launcher, SandboxMode};
use kiro_core::spec::{Spec, Task, TaskId};
use kiro_core::stage::{Executor, StageContext, StageError, TaskOutcome, TokenUsage};
use kiro_core::stages::command::task_brief;
use kiro_core::stages::Confiner;
use kiro_core::workspace::JournalEntry;

use crate::chat::{ChatRequest, ChatResponse, FinishReason, Message, ToolResult, ToolSpec, Usage};
use crate::client::LlmClient;
use crate::error::LlmError;
use crate::stages::guidance;
use tools::{clip, Limits, Ran, ToolError, Toolbox};

/// The agent's system prompt.
const SYSTEM_PROMPT: &str = include_str!("../../prompts/agent.md");

/// Model turns per task unless [`AgentExecutor::max_steps`] says otherwise.
pub const DEFAULT_MAX_STEPS: u32 = 40;

/// How long one command may run unless [`AgentExecutor::command_timeout`]
/// says otherwise (a test suite's time, not a build farm's).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// How many bytes of a file one `read_file` call returns unless
/// [`AgentExecutor::max_read_bytes`] says otherwise.
pub const DEFAULT_MAX_READ_BYTES: usize = 64 * 1024;

/// How many bytes of other tool output (each command stream, a listing,
/// search hits) go back to the model unless
/// [`AgentExecutor::max_output_bytes`] says otherwise.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 * 1024;

/// How many tool calls of one model turn run; the rest are answered with
/// an error, so a runaway turn cannot flood the workspace or the prompt.
const MAX_CALLS_PER_TURN: usize = 32;

/// The longest summary an outcome gets, in bytes.
const MAX_SUMMARY_BYTES: usize = 200;

/// The most evidence an outcome keeps, in bytes.
const MAX_EVIDENCE_BYTES: usize = 16 * 1024;

/// Carries out a task with a model calling tools in the run's workspace.
///
/// Built with [`AgentExecutor::new`] and adjusted with its builder methods;
/// `Send + Sync`, so one executor serves every task of a run (each
/// [`execute`](Executor::execute) call has its own conversation).
///
/// The outcome is [`TaskOutcome::done`] when the model answers without
/// calling a tool, [`TaskOutcome::failed`] when it has not after
/// [`max_steps`](Self::max_steps) turns or a provider's content filter
/// stopped it. Errors: [`StageError::Cancelled`] when the run is cancelled,
/// [`StageError::Failed`] when the model request fails (retryable when
/// [`LlmError::is_retryable`] says so, or when the client gave up after
/// retries), [`StageError::Invalid`] for a task without an id, and
/// [`StageError::Core`] when the workspace has no repository to work in.
/// In every case the tokens of the replies received so far are recorded
/// with [`StageContext::record_usage`] before `execute` returns.
#[derive(Clone)]
pub struct AgentExecutor {
    client: Arc<dyn LlmClient>,
    tools: Arc<[ToolSpec]>,
    max_steps: u32,
    limits: Limits,
    repo: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    confiner: Confiner,
}

impl std::fmt::Debug for AgentExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client is left out: it is a trait object without `Debug`.
        f.debug_struct("AgentExecutor")
            .field("max_steps", &self.max_steps)
            .field("limits", &self.limits)
            .field("repo", &self.repo)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl AgentExecutor {
    /// An agent over `client` with the default limits, working in the
    /// task's repository ([`StageContext::task_repo`]).
    pub fn new(client: Arc<dyn LlmClient>) -> AgentExecutor {
        AgentExecutor {
            client,
            tools: Arc::from(tools::specs()),
            max_steps: DEFAULT_MAX_STEPS,
            limits: Limits {
                command_timeout: DEFAULT_COMMAND_TIMEOUT,
                max_read_bytes: DEFAULT_MAX_READ_BYTES,
                max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            },
            repo: None,
            temperature: None,
            max_tokens: None,
            confiner: Confiner::new(),
        }
    }

    /// The most model turns per task (default [`DEFAULT_MAX_STEPS`]; at
    /// least 1).
    #[must_use]
    pub fn max_steps(mut self, steps: u32) -> Self {
        self.max_steps = steps.max(1);
        self
    }

    /// How long one command may run before its process group is stopped
    /// (default [`DEFAULT_COMMAND_TIMEOUT`]).
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.limits.command_timeout = timeout;
        self
    }

    /// How many bytes of a file one `read_file` call returns (default
    /// [`DEFAULT_MAX_READ_BYTES`]).
    #[must_use]
    pub fn max_read_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_read_bytes = bytes.max(1);
        self
    }

    /// How many bytes of each command output stream, listing or search go
    /// back to the model (default [`DEFAULT_MAX_OUTPUT_BYTES`]).
    #[must_use]
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_output_bytes = bytes.max(1);
        self
    }

    /// The repository the agent works in (default: the task's, [`StageContext::task_repo`]).
    #[must_use]
    pub fn repo(mut self, name: impl Into<String>) -> Self {
        self.repo = Some(name.into());
        self
    }

    /// The sampling temperature of every request (default: the provider's).
    #[must_use]
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// The most tokens per model turn (default: the provider's).
    #[must_use]
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Runs the model's commands through this launcher, which confines them
    /// as [`CommandExecutor`](kiro_core::stages::CommandExecutor) confines
    /// an agent CLI: with Landlock, writes only beneath the repository's
    /// writable roots and a private temporary directory (the kiro CLI
    /// passes itself). Without one, commands run as plain child processes,
    /// and `[policy] sandbox = "enforce"` refuses them.
    #[must_use]
    pub fn launcher(mut self, launcher: Launcher) -> Self {
        self.confiner = self.confiner.launcher(launcher);
        self
    }

    /// The sandbox mode of the model's commands, instead of `[policy]
    /// sandbox` of the run's config.
    #[must_use]
    pub fn sandbox(mut self, mode: SandboxMode) -> Self {
        self.confiner = self.confiner.mode(mode);
        self
    }

    /// The tools the model is offered, with their JSON Schemas.
    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// The conversation: model turns and tool calls until the model stops
    /// calling tools, the turns run out, or the run is cancelled.
    async fn converse(
        &self,
        id: &TaskId,
        first: String,
        toolbox: &Toolbox,
        cx: &StageContext,
        record: &mut Record,
    ) -> Result<TaskOutcome, StageError> {
        let mut request = ChatRequest {
            system: Some(SYSTEM_PROMPT.to_owned()),
            messages: vec![Message::user(first)],
            tools: self.tools.to_vec(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            ..ChatRequest::default()
        };
        for _ in 0..self.max_steps {
            let response = tokio::select! {
                biased;
                () = cx.cancel().cancelled() => return Err(StageError::Cancelled),
                response = self.client.complete(request.clone()) => response,
            };
            let response = response.map_err(|e| llm_failure(&e, record))?;
            record.turn(&response);
            if response.tool_calls.is_empty() {
                return Ok(finish(id, &response, record));
            }
            request.messages.push(Message::from_response(&response));
            for (n, call) in response.tool_calls.iter().enumerate() {
                // Every call needs a result (providers refuse a conversation
                // with an unanswered call), but only so many run per turn.
                let ran = if n < MAX_CALLS_PER_TURN {
                    toolbox.run(call, cx.cancel()).await
                } else {
                    Ran::refused(
                        call,
                        ToolError::TooManyCalls {
                            limit: MAX_CALLS_PER_TURN,
                        },
                    )
                };
                if matches!(ran.result, Err(ToolError::Cancelled)) || cx.cancel().is_cancelled() {
                    return Err(StageError::Cancelled);
                }
                let result = record.call(ran, self.limits.result_bound());
                request.messages.push(Message::Tool(ToolResult {
                    call_id: call.id.clone(),
                    content: result.0,
                    is_error: result.1,
                }));
            }
        }
        Ok(TaskOutcome::failed(
            id.clone(),
            format!(
                "the agent did not finish within {} model turns (max_steps)",
                self.max_steps
            ),
            record.evidence(),
        ))
    }
}

#[async_trait]
impl Executor for AgentExecutor {
    async fn execute(
        &self,
        task: &Task,
        spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task
            .id
            .clone()
            .ok_or_else(|| StageError::invalid("task without id"))?;
        let workspace = cx.workspace();
        let repo = match &self.repo {
            Some(name) => name.clone(),
            // The repository the engine assigned to the task (its
            // `_Repos:` line, the paths it names), else the default one.
            None => cx.task_repo().to_owned(),
        };
        // An unknown repository is a configuration error, found before the
        // first (paid) request.
        workspace.root(&repo)?;
        let toolbox = Toolbox::new(
            Arc::clone(workspace),
            repo,
            self.limits.clone(),
            self.confiner.clone(),
            cx.config().policy.sandbox,
        );
        let mut first = task_brief(task, spec);
        // Steering files (by their inclusion rules, matched against the
        // paths the brief names) and the memories recalled for the task.
        let paths = guidance::paths_in(&first);
        let context = guidance::guidance(cx, &first, &paths).await?;
        first.push_str(&context);
        let mut record = Record::default();
        let outcome = self.converse(&id, first, &toolbox, cx, &mut record).await;
        record_usage(cx, record.usage, record.requests);
        outcome
    }
}

/// Reports the tokens the task's requests used to the engine, which keeps
/// them with the task's outcome in the checkpoints.
fn record_usage(cx: &StageContext, usage: Usage, requests: u64) {
    cx.record_usage(TokenUsage {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        requests,
    });
}

/// The model request failed: retryable when trying again may help.
fn llm_failure(error: &LlmError, record: &Record) -> StageError {
    StageError::Failed {
        message: format!("the agent's model request failed: {error}"),
        evidence: record.evidence(),
        retryable: error.is_retryable() || matches!(error, LlmError::RetriesExhausted { .. }),
    }
}

/// The model answered without tool calls: the task is done, unless a
/// content filter cut it off.
fn finish(id: &TaskId, response: &ChatResponse, record: &Record) -> TaskOutcome {
    let line = response
        .content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let summary = if line.is_empty() {
        "the agent finished without a summary".to_owned()
    } else if line.len() > MAX_SUMMARY_BYTES {
        format!("{}…", clip(line, MAX_SUMMARY_BYTES))
    } else {
        line.to_owned()
    };
    let mut outcome = if response.finish_reason == FinishReason::ContentFilter {
        TaskOutcome::failed(
            id.clone(),
            "the provider's content filter stopped the agent",
            String::new(),
        )
    } else {
        TaskOutcome::done(id.clone(), summary)
    };
    outcome.evidence = record.evidence();
    outcome
}

/// What the conversation did, for the usage report and the evidence.
#[derive(Debug, Default)]
struct Record {
    usage: Usage,
    requests: u64,
    turns: u32,
    /// `write_file src/x.rs (12 bytes): ok`, one per call.
    calls: Vec<String>,
    /// The journal entries of the files the agent wrote.
    written: Vec<JournalEntry>,
}

impl Record {
    fn turn(&mut self, response: &ChatResponse) {
        self.usage += response.usage;
        self.requests += 1;
        self.turns += 1;
    }

    /// Notes a tool call; its result for the model, bounded, and whether it
    /// is an error.
    fn call(&mut self, ran: Ran, bound: usize) -> (String, bool) {
        let Ran {
            short,
            result,
            written,
            status,
        } = ran;
        if let Some(entry) = written {
            self.written.push(entry);
        }
        match result {
            Ok(text) => {
                self.calls.push(format!("{short}: {status}"));
                (bounded(&text, bound), false)
            }
            Err(e) => {
                let message = e.to_string();
                self.calls
                    .push(format!("{short}: error: {}", clip(&message, 160)));
                (bounded(&message, bound), true)
            }
        }
    }

    /// The transcript of tool calls and the files written, bounded.
    fn evidence(&self) -> String {
        let mut out = format!(
            "agent: {} model turns, {} tool calls, {} input + {} output tokens\n",
            self.turns,
            self.calls.len(),
            self.usage.input_tokens,
            self.usage.output_tokens
        );
        let mut paths: Vec<String> = self
            .written
            .iter()
            .map(|e| format!("{}:{}", e.repo, e.path.display()))
            .collect();
        paths.sort();
        paths.dedup();
        if !paths.is_empty() {
            out.push_str("files written:\n");
            for path in &paths {
                let _ = writeln!(out, "  {path}");
            }
        }
        if !self.calls.is_empty() {
            out.push_str("tool calls:\n");
        }
        for (i, call) in self.calls.iter().enumerate() {
            let line = format!("  {}. {call}\n", i + 1);
            if out.len() + line.len() > MAX_EVIDENCE_BYTES {
                let _ = writeln!(out, "  [{} more calls not shown]", self.calls.len() - i);
                break;
            }
            out.push_str(&line);
        }
        out
    }
}

/// `text` cut to about `max` bytes with a note saying so.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!(
        "{}\n[output cut at {max} of {} bytes]",
        clip(text, max),
        text.len()
    )
}
