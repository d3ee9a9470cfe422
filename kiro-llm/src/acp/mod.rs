//! [`AcpExecutor`]: kiro's [`Executor`] driving a coding agent that speaks
//! the [Agent Client Protocol](https://agentclientprotocol.com) (ACP) as a
//! subprocess over stdio — Gemini CLI (`gemini --experimental-acp`), Zed's
//! `claude-code-acp` and `codex-acp` adapters, or any other ACP agent.
//!
//! ```no_run
//! use std::time::Duration;
//! use kiro_llm::acp::AcpExecutor;
//!
//! let executor = AcpExecutor::new("gemini")
//!     .args(["--experimental-acp"])
//!     .env("GEMINI_MODEL", "gemini-2.5-pro")
//!     .timeout(Duration::from_secs(20 * 60));
//! // Pass it to the pipeline as the executor of a run.
//! # let _ = executor;
//! ```
//!
//! # A task
//!
//! One agent process per task: kiro starts the program in the repository
//! root, sends `initialize` (protocol version 1; client capabilities: read
//! and write text files, terminals), `session/new` (the canonical
//! repository root as `cwd`, no MCP servers) and one `session/prompt` whose
//! text is the task's brief ([`task_brief`], the brief every kiro executor
//! sends). It collects the `session/update` notifications (message chunks,
//! tool calls, the plan) into the outcome's evidence, maps the prompt's
//! `stopReason` (`end_turn` is done; `refusal`, `max_tokens`,
//! `max_turn_requests` and `cancelled` fail the task with that reason),
//! closes the agent's standard input and stops the process.
//!
//! A process per task rather than a session per task in one process: tasks
//! run concurrently and independently, so one agent crashing, hanging or
//! being killed on cancellation takes down exactly one task, and no state
//! (a conversation, a working directory, an agent's own caches) leaks from
//! one task into the next. Starting an agent costs a second or two, little
//! next to a task's turn.
//!
//! # The agent's requests
//!
//! Every request is answered through the run's [`Workspace`] and its
//! policy: `fs/read_text_file` (with
//! `line`/`limit`, files up to [`AcpExecutor::read_limit`]),
//! `fs/write_text_file` through [`Workspace::write`] (policy-checked,
//! journaled), `terminal/create` only for an argv
//! [`Workspace::check_command`] allows (run in the repository root or a
//! folder inside it, with a timeout and an output limit), `terminal/output`,
//! `terminal/wait_for_exit`, `terminal/kill`, `terminal/release`, and
//! `session/request_permission` decided by the policy: `allow_once` when the
//! tool call's paths are in the workspace (and writable, for an edit,
//! delete or move) and its command is allowed, `reject_once` otherwise.
//! Paths outside the repository root, `..` escapes and symbolic links
//! leading out are refused. A refused request gets a JSON-RPC error, a
//! `tracing::warn!`, and a line in the outcome's evidence.
//!
//! # Failures
//!
//! Cancellation ([`StageContext::cancel`]) sends `session/cancel`, waits
//! [`AcpExecutor::cancel_grace`] for the turn to end (answering permission
//! requests `cancelled` meanwhile), then kills the agent and returns
//! [`StageError::Cancelled`]. Past [`AcpExecutor::timeout`] the agent is
//! killed and the task fails with [`StageError::Timeout`]. The agent runs
//! in a process group of its own (on unix), and killing it kills the group:
//! the helpers it started do not outlive the task. An agent that exits mid-turn, writes a line
//! that is not JSON-RPC or a line longer than
//! [`AcpExecutor::max_message_bytes`], or answers kiro's own request with
//! an error, fails the task with [`StageError::Backend`] holding an
//! [`AcpError`]. The agent is killed when the task's future is dropped too.
//! Every path records the agent's reported token usage (if any) with
//! [`StageContext::record_usage`] once.
//!
//! `terminal/output` reports a command's output once the command has ended
//! (kiro's process runner, which stops the command's whole process group,
//! hands output over at the end); while it runs the output is empty.
//!
//! kiro speaks ACP directly (JSON-RPC 2.0, one message per line, serde
//! types for the messages it reads) instead of through the
//! `agent-client-protocol` crate, whose client side is `!Send` (its
//! `Client` trait is `async_trait(?Send)`, its connection spawns
//! `LocalBoxFuture`s) and would need a `LocalSet` on a thread of its own
//! per task inside the engine's multi-threaded scheduler.

mod client;
mod rpc;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, StageContext, StageError, TaskOutcome, TokenUsage};
use kiro_core::stages::task_brief;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[allow(unused_imports, reason = "linked from the module docs")]
use kiro_core::workspace::Workspace;

use client::{Activity, ClientState, Limits};
use rpc::{Incoming, LineReader, RpcError};

/// The ACP protocol version kiro speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// Why an ACP session failed (inside [`StageError::Backend`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcpError {
    /// The agent program could not be started.
    #[error("cannot start ACP agent {program:?}: {source}")]
    Spawn {
        /// The program as configured.
        program: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Reading from or writing to the agent's pipes failed.
    #[error("{what}: {source}")]
    Io {
        /// Which pipe, and which direction.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The agent closed its standard output (exited or crashed) before the
    /// turn ended.
    #[error("the ACP agent exited before the turn ended ({status}){}", stderr_note(.stderr))]
    AgentExited {
        /// The exit status as text (`exit code 3`, `still running`).
        status: String,
        /// The end of the agent's standard error.
        stderr: String,
    },
    /// The agent wrote a line that is not a JSON-RPC 2.0 message.
    #[error("malformed message from the agent ({reason}): {excerpt}")]
    Malformed {
        /// The start of the line.
        excerpt: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent wrote a line longer than the message limit.
    #[error("the agent wrote a message longer than {limit} bytes")]
    LineTooLong {
        /// The limit ([`AcpExecutor::max_message_bytes`]).
        limit: usize,
    },
    /// The agent answered one of kiro's requests with an error.
    #[error("the agent answered {method} with error {code}: {message}")]
    Rpc {
        /// kiro's request (`initialize`, `session/new`, `session/prompt`).
        method: &'static str,
        /// The JSON-RPC error code (-32000: authentication required).
        code: i64,
        /// The error's message.
        message: String,
    },
    /// The agent's answer does not follow the protocol (a missing session
    /// id, another protocol version).
    #[error("the agent does not follow ACP: {0}")]
    Protocol(String),
}

fn stderr_note(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; its standard error ends with: {}", stderr.trim_end())
    }
}

/// Runs each task by prompting an ACP agent; see the [module](self) docs.
#[derive(Clone, Debug)]
#[must_use]
pub struct AcpExecutor {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    repo: Option<String>,
    timeout: Duration,
    cancel_grace: Duration,
    max_message_bytes: usize,
    evidence_bytes: usize,
    stderr_bytes: usize,
    limits: Limits,
}

impl AcpExecutor {
    /// An executor starting `program` (looked up in `PATH` when it has no
    /// `/`) for each task, with a 30-minute timeout, a 2-second cancel
    /// grace, files read up to 8 MiB, terminal output up to 1 MiB and
    /// commands stopped after 10 minutes.
    pub fn new(program: impl Into<String>) -> AcpExecutor {
        AcpExecutor {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            repo: None,
            timeout: Duration::from_secs(30 * 60),
            cancel_grace: Duration::from_secs(2),
            max_message_bytes: 16 * 1024 * 1024,
            evidence_bytes: 32 * 1024,
            stderr_bytes: 8 * 1024,
            limits: Limits {
                read_bytes: 8 * 1024 * 1024,
                output_bytes: 1024 * 1024,
                command_timeout: Duration::from_secs(10 * 60),
                terminals: 16,
            },
        }
    }

    /// Appends arguments to the agent's command line.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the agent (it inherits kiro's
    /// environment otherwise).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The repository the agent works in (default: the task's, [`StageContext::task_repo`]).
    pub fn repo(mut self, name: impl Into<String>) -> Self {
        self.repo = Some(name.into());
        self
    }

    /// How long one task may take, from starting the agent to its last
    /// answer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a cancelled agent gets to end its turn before it is killed,
    /// and a finished one to exit after its standard input is closed.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// The largest file `fs/read_text_file` returns, in bytes; a larger
    /// file is refused.
    pub fn read_limit(mut self, bytes: u64) -> Self {
        self.limits.read_bytes = bytes;
        self
    }

    /// The most output a terminal keeps, in bytes (the agent's
    /// `outputByteLimit` may lower it).
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.limits.output_bytes = bytes;
        self
    }

    /// How long a command started by `terminal/create` may run.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.limits.command_timeout = timeout;
        self
    }

    /// The longest line (one JSON-RPC message) the agent may write.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The most evidence kept per task, in bytes.
    pub fn evidence_limit(mut self, bytes: usize) -> Self {
        self.evidence_bytes = bytes;
        self
    }

    /// The program this executor starts.
    pub fn program(&self) -> &str {
        &self.program
    }
}

/// Why the session loop stopped early.
enum Stop {
    Cancelled,
    Failed(AcpError),
}

impl From<AcpError> for Stop {
    fn from(e: AcpError) -> Stop {
        Stop::Failed(e)
    }
}

/// What the agent said and did in its turn, from `session/update`.
#[derive(Debug, Default)]
struct Updates {
    message: String,
    /// Tool calls in the order the agent announced them.
    tool_calls: Vec<ToolCallSeen>,
    plan: Vec<String>,
}

/// A tool call as `tool_call` announced it and `tool_call_update`s changed it.
#[derive(Debug)]
struct ToolCallSeen {
    id: String,
    title: String,
    kind: String,
    status: String,
}

/// How many of the agent's requests kiro works on at once; more are
/// refused, so that an agent cannot make it read many large files at once.
const MAX_IN_FLIGHT: usize = 16;

/// How many tool calls and plan entries the evidence keeps: an agent
/// announcing millions must not grow the task's memory without bound.
const MAX_LISTED: usize = 1000;

/// How the turn ended.
struct Turn {
    stop_reason: String,
    /// What the agent reported spending on its model: ACP v1 has no usage
    /// report, and an agent that adds a `usage` object to its answer to
    /// `session/prompt` (`inputTokens`, `outputTokens`) is counted.
    usage: TokenUsage,
}

/// The last bytes of a stream.
struct Tail {
    buf: Vec<u8>,
    max: usize,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.max.saturating_mul(2) {
            let cut = self.buf.len() - self.max;
            self.buf.drain(..cut);
            self.dropped = true;
        }
    }

    fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(self.max);
        let text = String::from_utf8_lossy(self.buf.get(start..).unwrap_or_default());
        if self.dropped || start > 0 {
            format!("…{text}")
        } else {
            text.into_owned()
        }
    }
}

type SharedTail = Arc<Mutex<Tail>>;

fn tail_text(tail: &SharedTail) -> String {
    tail.lock().unwrap_or_else(PoisonError::into_inner).text()
}

/// One agent process and its connection.
struct Connection {
    child: Child,
    /// The agent's process group (its pid), on unix.
    group: Option<u32>,
    stdin: Option<ChildStdin>,
    lines: LineReader<BufReader<ChildStdout>>,
    next_id: u64,
    handlers: JoinSet<(Value, Result<Value, RpcError>)>,
    state: Arc<ClientState>,
    session: Option<String>,
    updates: Updates,
    stderr: SharedTail,
    stderr_task: tokio::task::JoinHandle<()>,
    message_limit: usize,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The child itself is killed by `kill_on_drop`; what it started in
        // its group, its terminals and the stderr reader go with it.
        kill_group(self.group);
        self.state.release_all();
        self.stderr_task.abort();
    }
}

/// Kills the agent's process group: an agent such as `claude-code-acp`
/// runs helpers (a model client, shells) that would outlive it otherwise.
#[cfg(unix)]
fn kill_group(group: Option<u32>) {
    use nix::sys::signal::{killpg, Signal};
    if let Some(pgid) = group.and_then(|g| i32::try_from(g).ok()) {
        // ESRCH (the group is already empty) is the common case.
        let _ = killpg(nix::unistd::Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_: Option<u32>) {}

impl Connection {
    fn start(
        exec: &AcpExecutor,
        state: Arc<ClientState>,
        stderr: SharedTail,
    ) -> Result<Connection, AcpError> {
        let mut cmd = tokio::process::Command::new(&exec.program);
        cmd.args(&exec.args)
            .envs(exec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(state.root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        // A group of its own, so that stopping the agent stops everything
        // it started (see `kill_group`).
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|source| AcpError::Spawn {
            program: exec.program.clone(),
            source,
        })?;
        let pipe = |what| AcpError::Io {
            what,
            source: std::io::Error::other("pipe not available"),
        };
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| pipe("the agent's standard input"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| pipe("the agent's standard output"))?;
        let mut err_pipe = child
            .stderr
            .take()
            .ok_or_else(|| pipe("the agent's standard error"))?;
        let sink = Arc::clone(&stderr);
        let stderr_task = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err_pipe.read(&mut buf).await {
                if let Some(bytes) = buf.get(..n) {
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(bytes);
                }
            }
        });
        let group = if cfg!(unix) { child.id() } else { None };
        Ok(Connection {
            child,
            group,
            stdin: Some(stdin),
            lines: LineReader::new(BufReader::new(stdout), exec.max_message_bytes),
            next_id: 0,
            handlers: JoinSet::new(),
            state,
            session: None,
            updates: Updates::default(),
            stderr,
            stderr_task,
            message_limit: exec.evidence_bytes,
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), AcpError> {
        match self.stdin.as_mut() {
            Some(stdin) => rpc::send(stdin, bytes).await,
            None => Err(AcpError::Io {
                what: "writing to the agent's standard input",
                source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
            }),
        }
    }

    async fn send_request(&mut self, method: &str, params: &Value) -> Result<u64, AcpError> {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&rpc::request(id, method, params)).await?;
        Ok(id)
    }

    async fn call(
        &mut self,
        method: &'static str,
        params: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, Stop> {
        let id = self.send_request(method, params).await?;
        self.wait(id, method, Some(cancel)).await
    }

    /// Serves the agent until it answers request `id`.
    async fn wait(
        &mut self,
        id: u64,
        method: &'static str,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, Stop> {
        let wanted = Value::from(id);
        loop {
            tokio::select! {
                biased;
                () = cancelled(cancel) => return Err(Stop::Cancelled),
                Some(joined) = self.handlers.join_next(), if !self.handlers.is_empty() => {
                    match joined {
                        Ok((rid, result)) => self.write(&rpc::response(&rid, &result)).await?,
                        // A handler only ends this way when it panicked or
                        // was aborted; its request stays unanswered and the
                        // agent's own timeout, or kiro's, ends the turn.
                        Err(e) => tracing::warn!(error = %e, "an ACP request handler failed"),
                    }
                }
                line = self.lines.next_line() => {
                    let Some(line) = line? else {
                        return Err(Stop::Failed(self.exited().await));
                    };
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match rpc::parse_message(&line)? {
                        Incoming::Response { id: rid, result } if rid == wanted => {
                            return result.map_err(|e| Stop::Failed(AcpError::Rpc {
                                method,
                                code: e.code,
                                message: e.message,
                            }));
                        }
                        Incoming::Response { id: rid, .. } => {
                            tracing::warn!(id = %rid, "an ACP agent answered a request kiro did not send");
                        }
                        Incoming::Request { id: rid, method, params: _ } if self.handlers.len() >= MAX_IN_FLIGHT => {
                            tracing::warn!(method = %method, "an ACP agent sent too many requests at once");
                            let busy = RpcError::denied(format!(
                                "more than {MAX_IN_FLIGHT} requests in flight; wait for the answers"
                            ));
                            self.write(&rpc::response(&rid, &Err(busy))).await?;
                        }
                        Incoming::Request { id: rid, method, params } => {
                            let state = Arc::clone(&self.state);
                            self.handlers.spawn(async move { (rid, state.handle(method, params).await) });
                        }
                        Incoming::Notification { method, params } => self.notified(&method, &params),
                    }
                }
            }
        }
    }

    /// The error for an agent whose standard output ended.
    async fn exited(&mut self) -> AcpError {
        let status = match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(s)) => match (s.code(), exit_signal(&s)) {
                (Some(c), _) => format!("exit code {c}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                (None, None) => s.to_string(),
            },
            Ok(Err(e)) => format!("unknown status: {e}"),
            Err(_) => "still running, with its standard output closed".into(),
        };
        // Let the reader take what the agent wrote last.
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut self.stderr_task).await;
        AcpError::AgentExited {
            status,
            stderr: tail_text(&self.stderr),
        }
    }

    fn notified(&mut self, method: &str, params: &Value) {
        if method != "session/update" {
            return;
        }
        if params.get("sessionId").and_then(Value::as_str) != self.session.as_deref() {
            return;
        }
        let Some(update) = params.get("update") else {
            return;
        };
        let text =
            |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        match update.get("sessionUpdate").and_then(Value::as_str) {
            Some("agent_message_chunk") => {
                let content = update.get("content").unwrap_or(&Value::Null);
                if content.get("type").and_then(Value::as_str) == Some("text") {
                    let room = self
                        .message_limit
                        .saturating_sub(self.updates.message.len());
                    if room > 0 {
                        let chunk = text(content, "text");
                        self.updates.message.push_str(&rpc::excerpt(&chunk, room));
                    }
                }
            }
            Some("tool_call") if self.updates.tool_calls.len() < MAX_LISTED => {
                self.updates.tool_calls.push(ToolCallSeen {
                    id: text(update, "toolCallId"),
                    title: text(update, "title"),
                    kind: text(update, "kind"),
                    status: update
                        .get("status")
                        .and_then(Value::as_str)
                        .unwrap_or("pending")
                        .to_owned(),
                });
            }
            Some("tool_call_update") => {
                let id = text(update, "toolCallId");
                if let Some(call) = self.updates.tool_calls.iter_mut().find(|c| c.id == id) {
                    if let Some(title) = update.get("title").and_then(Value::as_str) {
                        call.title = title.to_owned();
                    }
                    if let Some(status) = update.get("status").and_then(Value::as_str) {
                        call.status = status.to_owned();
                    }
                }
            }
            Some("plan") => {
                let entries = update.get("entries").and_then(Value::as_array);
                self.updates.plan = entries
                    .into_iter()
                    .flatten()
                    .take(MAX_LISTED)
                    .map(|e| format!("[{}] {}", text(e, "status"), text(e, "content")))
                    .collect();
            }
            _ => {}
        }
    }

    /// Ends the process: closes its standard input, gives it `grace` to
    /// exit, then kills it and what is left of its group, and waits for it.
    async fn stop(&mut self, grace: Duration) {
        self.stdin = None;
        self.state.release_all();
        let exited = tokio::time::timeout(grace, self.child.wait()).await;
        kill_group(self.group);
        if exited.is_err() {
            let _ = self.child.kill().await;
        }
        // Reaped and its group emptied: the id may now be reused by an
        // unrelated process, which `Drop` must not signal.
        self.group = None;
    }
}

#[cfg(unix)]
fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn exit_signal(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}

impl AcpExecutor {
    /// One session: initialize, open, prompt, and the agent's turn.
    async fn session(
        &self,
        conn: &mut Connection,
        brief: &str,
        cancel: &CancellationToken,
    ) -> Result<Turn, Stop> {
        let init = conn
            .call(
                "initialize",
                &json!({
                    "protocolVersion": PROTOCOL_VERSION,
                    "clientCapabilities": {
                        "fs": {"readTextFile": true, "writeTextFile": true},
                        "terminal": true,
                    },
                    "clientInfo": {"name": "kiro", "version": env!("CARGO_PKG_VERSION")},
                }),
                cancel,
            )
            .await?;
        match init.get("protocolVersion").and_then(Value::as_u64) {
            Some(PROTOCOL_VERSION) => {}
            other => {
                return Err(Stop::Failed(AcpError::Protocol(format!(
                    "initialize answered protocol version {}, kiro speaks {PROTOCOL_VERSION}",
                    other.map_or_else(|| "none".to_owned(), |v| v.to_string())
                ))))
            }
        }
        let root = conn.state.root().to_string_lossy().into_owned();
        let session = conn
            .call(
                "session/new",
                &json!({"cwd": root, "mcpServers": []}),
                cancel,
            )
            .await?;
        let Some(session_id) = session.get("sessionId").and_then(Value::as_str) else {
            return Err(Stop::Failed(AcpError::Protocol(
                "session/new answered without a sessionId".into(),
            )));
        };
        let session_id = session_id.to_owned();
        conn.session = Some(session_id.clone());
        conn.state.set_session(session_id.clone());

        let prompt = json!({
            "sessionId": session_id,
            "prompt": [{"type": "text", "text": brief}],
        });
        let id = conn.send_request("session/prompt", &prompt).await?;
        let answer = match conn.wait(id, "session/prompt", Some(cancel)).await {
            Err(Stop::Cancelled) => {
                conn.state.set_cancelled();
                let note = rpc::notification("session/cancel", &json!({"sessionId": session_id}));
                if conn.write(&note).await.is_ok() {
                    // The agent should answer the prompt with `cancelled`;
                    // one that does not is killed all the same.
                    let _ = tokio::time::timeout(
                        self.cancel_grace,
                        conn.wait(id, "session/prompt", None),
                    )
                    .await;
                }
                conn.stop(Duration::ZERO).await;
                return Err(Stop::Cancelled);
            }
            other => other?,
        };
        let Some(stop_reason) = answer.get("stopReason").and_then(Value::as_str) else {
            return Err(Stop::Failed(AcpError::Protocol(
                "session/prompt answered without a stopReason".into(),
            )));
        };
        let usage = answer.get("usage").map_or_else(TokenUsage::default, |u| {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            TokenUsage {
                input_tokens: n("inputTokens"),
                output_tokens: n("outputTokens"),
                requests: 1,
            }
        });
        Ok(Turn {
            stop_reason: stop_reason.to_owned(),
            usage,
        })
    }

    /// The evidence of a finished turn, at most `evidence_bytes` long.
    fn evidence(
        &self,
        turn: Option<&Turn>,
        updates: &Updates,
        activity: &Activity,
        stderr: &str,
    ) -> String {
        let part = self.evidence_bytes / 4;
        let mut out = String::new();
        if let Some(turn) = turn {
            out.push_str(&format!("stop reason: {}\n", turn.stop_reason));
        }
        let list = |out: &mut String, title: &str, lines: &[String]| {
            if !lines.is_empty() {
                out.push_str(title);
                out.push_str(":\n");
                for l in lines {
                    out.push_str("- ");
                    out.push_str(&rpc::excerpt(l, 500));
                    out.push('\n');
                }
            }
        };
        list(&mut out, "refused", &activity.denied);
        list(&mut out, "permissions", &activity.permissions);
        let written: Vec<String> = activity
            .written
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        list(&mut out, "files written", &written);
        list(&mut out, "commands", &activity.commands);
        let calls: Vec<String> = updates
            .tool_calls
            .iter()
            .map(|c| format!("{} ({}, {}) [{}]", c.title, c.kind, c.status, c.id))
            .collect();
        list(&mut out, "tool calls", &calls);
        list(&mut out, "plan", &updates.plan);
        if activity.omitted > 0 {
            out.push_str(&format!(
                "({} more requests not listed)\n",
                activity.omitted
            ));
        }
        if !updates.message.trim().is_empty() {
            out.push_str("agent:\n");
            out.push_str(&rpc::excerpt(updates.message.trim(), part));
            out.push('\n');
        }
        if !stderr.trim().is_empty() {
            out.push_str("agent stderr:\n");
            out.push_str(&rpc::excerpt(stderr.trim_end(), part));
            out.push('\n');
        }
        rpc::excerpt(&out, self.evidence_bytes)
    }
}

#[async_trait]
impl Executor for AcpExecutor {
    async fn execute(
        &self,
        task: &Task,
        spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().ok_or_else(|| {
            StageError::invalid(format!("task {:?} has no id", task.title.trim()))
        })?;
        let ws = Arc::clone(cx.workspace());
        let repo = match &self.repo {
            Some(r) => r.clone(),
            // The repository the engine assigned to the task, else the
            // workspace's default one.
            None => cx.task_repo().to_owned(),
        };
        let root = ws.root(&repo)?.to_path_buf();
        let brief = task_brief(task, spec);
        let state = Arc::new(ClientState::new(ws, repo, root, self.limits.clone()));
        let stderr = Arc::new(Mutex::new(Tail {
            buf: Vec::new(),
            max: self.stderr_bytes,
            dropped: false,
        }));
        let started = Instant::now();

        let mut conn = Connection::start(self, Arc::clone(&state), Arc::clone(&stderr))
            .map_err(|e| StageError::Backend(Box::new(e)))?;
        let result =
            tokio::time::timeout(self.timeout, self.session(&mut conn, &brief, cx.cancel())).await;
        let turn = match result {
            Ok(Ok(turn)) => {
                conn.stop(self.cancel_grace).await;
                Ok(turn)
            }
            Ok(Err(stop)) => {
                conn.stop(Duration::ZERO).await;
                Err(stop)
            }
            Err(_) => {
                conn.stop(Duration::ZERO).await;
                tracing::warn!(program = %self.program, timeout = ?self.timeout, "ACP agent timed out; killed");
                cx.record_usage(TokenUsage::default());
                return Err(StageError::Timeout(self.timeout));
            }
        };
        let usage = turn.as_ref().map(|t| t.usage).unwrap_or_default();
        cx.record_usage(usage);
        let turn = match turn {
            Ok(turn) => turn,
            Err(Stop::Cancelled) => return Err(StageError::Cancelled),
            Err(Stop::Failed(e)) => return Err(StageError::Backend(Box::new(e))),
        };

        let updates = std::mem::take(&mut conn.updates);
        drop(conn);
        let activity = state.take_activity();
        let evidence = self.evidence(Some(&turn), &updates, &activity, &tail_text(&stderr));
        let mut outcome = if turn.stop_reason == "end_turn" {
            let said = updates
                .message
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| rpc::excerpt(l, 200));
            let summary = format!(
                "{} ({} written, {}, {} refused)",
                said.unwrap_or_else(|| "the agent ended its turn".into()),
                plural(activity.written.len(), "file"),
                plural(activity.commands.len(), "command"),
                activity.denied.len(),
            );
            TaskOutcome {
                evidence,
                ..TaskOutcome::done(id, summary)
            }
        } else {
            let why = match turn.stop_reason.as_str() {
                "refusal" => "the agent refused the task",
                "max_tokens" => "the agent reached its token limit",
                "max_turn_requests" => "the agent reached its limit of model requests in one turn",
                "cancelled" => "the agent cancelled its turn",
                _ => "the agent stopped for a reason kiro does not know",
            };
            TaskOutcome::failed(
                id,
                format!("{why} (stopReason {:?})", turn.stop_reason),
                evidence,
            )
        };
        outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(outcome)
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
