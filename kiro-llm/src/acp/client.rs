//! The client side of ACP: kiro's answers to the agent's requests, every
//! one through the [`Workspace`] and its [`Policy`](kiro_core::workspace::Policy).
//!
//! The agent is untrusted. A path it names must be absolute inside the
//! repository root (or relative to it) and is resolved by
//! [`Workspace::resolve`], which refuses `..` escapes, other roots and
//! symbolic links leading out; files are read up to a size limit and
//! written only through [`Workspace::write`] (policy-checked, journaled);
//! commands run only when [`Workspace::check_command`] allows their argv.
//! A refusal is a JSON-RPC error back to the agent, a `tracing::warn!`, and
//! a line in the task's evidence.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kiro_core::process::{Command, Output};
use kiro_core::workspace::Workspace;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::rpc::{self, RpcError};

/// Limits the client applies to the agent's requests.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Largest file `fs/read_text_file` reads.
    pub read_bytes: u64,
    /// Largest output a terminal keeps (the agent's `outputByteLimit` may
    /// only lower it).
    pub output_bytes: usize,
    /// How long a terminal's command may run.
    pub command_timeout: Duration,
    /// How many terminals may exist at once.
    pub terminals: usize,
}

/// One command started by `terminal/create`.
struct Terminal {
    /// Stops the command (`terminal/kill`); its output stays readable.
    kill: CancellationToken,
    /// `None` while the command runs.
    done: watch::Receiver<Option<Finished>>,
    task: AbortHandle,
    limit: usize,
}

#[derive(Clone, Debug)]
struct Finished {
    output: Output,
    /// Set when the command could not even start.
    error: Option<String>,
}

/// What the agent's requests did, for the task's evidence.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Requests refused, one line each (method and reason).
    pub denied: Vec<String>,
    /// Files written, relative to the repository root.
    pub written: Vec<PathBuf>,
    /// Commands run, as their argv joined by spaces, with the exit code.
    pub commands: Vec<String>,
    /// Permission decisions, one line each.
    pub permissions: Vec<String>,
    /// Entries not kept once a list held [`MAX_NOTED`].
    pub omitted: usize,
}

/// How many entries each list of [`Activity`] keeps: an agent sending a
/// million refused requests must not grow the task's memory without bound.
pub(crate) const MAX_NOTED: usize = 1000;

impl Activity {
    fn note<T>(&mut self, list: impl FnOnce(&mut Activity) -> &mut Vec<T>, item: T) {
        let list = list(self);
        if list.len() < MAX_NOTED {
            list.push(item);
        } else {
            self.omitted += 1;
        }
    }
}

/// The state the request handlers share; one per agent process.
pub(crate) struct ClientState {
    ws: Arc<Workspace>,
    repo: String,
    /// The canonical repository root, also the session's `cwd`.
    root: PathBuf,
    session: Mutex<Option<String>>,
    limits: Limits,
    terminals: Mutex<HashMap<String, Terminal>>,
    next_terminal: AtomicU64,
    /// Set once kiro sent `session/cancel`: permission requests are then
    /// answered `cancelled`, as the protocol asks.
    cancelled: AtomicBool,
    activity: Mutex<Activity>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a handler panicked mid-update; the data stays
    // usable (at worst an entry is missing), which beats failing every
    // later request of the task.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientState {
    pub(crate) fn new(ws: Arc<Workspace>, repo: String, root: PathBuf, limits: Limits) -> Self {
        ClientState {
            ws,
            repo,
            root,
            session: Mutex::new(None),
            limits,
            terminals: Mutex::new(HashMap::new()),
            next_terminal: AtomicU64::new(1),
            cancelled: AtomicBool::new(false),
            activity: Mutex::new(Activity::default()),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn set_session(&self, id: String) {
        *lock(&self.session) = Some(id);
    }

    pub(crate) fn set_cancelled(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub(crate) fn take_activity(&self) -> Activity {
        std::mem::take(&mut *lock(&self.activity))
    }

    /// Stops every terminal's command (the session is over).
    pub(crate) fn release_all(&self) {
        for (_, t) in lock(&self.terminals).drain() {
            t.kill.cancel();
            t.task.abort();
        }
    }

    /// Answers one request of the agent. Refusals are logged and recorded.
    pub(crate) async fn handle(
        self: Arc<Self>,
        method: String,
        params: Value,
    ) -> Result<Value, RpcError> {
        let result = self.dispatch(&method, params).await;
        if let Err(e) = &result {
            if e.code == rpc::POLICY_DENIED || e.code == rpc::INVALID_PARAMS {
                tracing::warn!(method = %method, reason = %e.message, "refused an ACP agent request");
                let mut activity = lock(&self.activity);
                let line = format!("{method}: {}", e.message);
                activity.note(|a| &mut a.denied, line);
            }
        }
        result
    }

    async fn dispatch(self: &Arc<Self>, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "fs/read_text_file" => {
                let p: ReadParams = self.params(params)?;
                let state = Arc::clone(self);
                blocking(move || state.read_text_file(&p)).await
            }
            "fs/write_text_file" => {
                let p: WriteParams = self.params(params)?;
                let state = Arc::clone(self);
                blocking(move || state.write_text_file(&p)).await
            }
            "session/request_permission" => {
                let p: PermissionParams = self.params(params)?;
                Ok(self.request_permission(&p))
            }
            "terminal/create" => {
                let p: CreateTerminalParams = self.params(params)?;
                self.create_terminal(p)
            }
            "terminal/output" => {
                let p: TerminalParams = self.params(params)?;
                self.terminal_output(&p.terminal_id)
            }
            "terminal/wait_for_exit" => {
                let p: TerminalParams = self.params(params)?;
                self.wait_for_exit(&p.terminal_id).await
            }
            "terminal/kill" => {
                let p: TerminalParams = self.params(params)?;
                let terminals = lock(&self.terminals);
                let t = terminal(&terminals, &p.terminal_id)?;
                t.kill.cancel();
                Ok(json!({}))
            }
            "terminal/release" => {
                let p: TerminalParams = self.params(params)?;
                let t = lock(&self.terminals)
                    .remove(&p.terminal_id)
                    .ok_or_else(|| unknown_terminal(&p.terminal_id))?;
                t.kill.cancel();
                t.task.abort();
                Ok(json!({}))
            }
            _ => Err(RpcError::new(
                rpc::METHOD_NOT_FOUND,
                format!("kiro does not implement {method:?}"),
            )),
        }
    }

    /// The request's parameters, checked to name this session.
    fn params<T: for<'de> Deserialize<'de> + HasSession>(
        &self,
        params: Value,
    ) -> Result<T, RpcError> {
        let p: T = serde_json::from_value(params)
            .map_err(|e| RpcError::invalid_params(format!("invalid parameters: {e}")))?;
        let session = lock(&self.session);
        if session.as_deref() != Some(p.session_id()) {
            return Err(RpcError::invalid_params(format!(
                "unknown session {:?}",
                p.session_id()
            )));
        }
        Ok(p)
    }

    /// The path relative to the repository root, refused when it leads out.
    fn relative(&self, path: &str) -> Result<PathBuf, RpcError> {
        let given = Path::new(path);
        let rel = if given.is_absolute() {
            given.strip_prefix(&self.root).map_err(|_| {
                RpcError::denied(format!(
                    "{path}: outside the workspace ({})",
                    self.root.display()
                ))
            })?
        } else {
            given
        };
        // `resolve` refuses `..` escapes and symbolic links leading out.
        let abs = self
            .ws
            .resolve(&self.repo, rel)
            .map_err(|e| RpcError::denied(e.to_string()))?;
        Ok(abs
            .strip_prefix(&self.root)
            .map(Path::to_owned)
            .unwrap_or_else(|_| rel.to_owned()))
    }

    fn read_text_file(&self, p: &ReadParams) -> Result<Value, RpcError> {
        let rel = self.relative(&p.path)?;
        let abs = self
            .ws
            .resolve(&self.repo, &rel)
            .map_err(|e| RpcError::denied(e.to_string()))?;
        let not_found = |e: std::io::Error| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                rpc::RESOURCE_NOT_FOUND
            } else {
                rpc::INTERNAL_ERROR
            };
            RpcError::new(code, format!("{}: {e}", rel.display()))
        };
        let size = std::fs::metadata(&abs).map_err(not_found)?.len();
        let limit = self.limits.read_bytes;
        if size > limit {
            return Err(RpcError::denied(format!(
                "{}: {size} bytes, more than the {limit} bytes kiro lets an agent read at once",
                rel.display()
            )));
        }
        let file = std::fs::File::open(&abs).map_err(not_found)?;
        let text = kiro_core::store::read_text(file, &rel, limit)
            .map_err(|e| RpcError::new(rpc::INTERNAL_ERROR, e.to_string()))?;
        Ok(json!({ "content": select_lines(&text, p.line, p.limit) }))
    }

    fn write_text_file(&self, p: &WriteParams) -> Result<Value, RpcError> {
        let rel = self.relative(&p.path)?;
        self.ws
            .write(&self.repo, &rel, p.content.as_bytes())
            .map_err(|e| RpcError::denied(e.to_string()))?;
        lock(&self.activity).note(|a| &mut a.written, rel);
        Ok(json!({}))
    }

    fn request_permission(&self, p: &PermissionParams) -> Value {
        let title = p.tool_call.title.clone().unwrap_or_default();
        if self.cancelled.load(Ordering::SeqCst) {
            return json!({"outcome": {"outcome": "cancelled"}});
        }
        let verdict = self.permission_verdict(&p.tool_call);
        // Allowed only through `allow_once`: `allow_always` would let the
        // agent skip asking next time, and so skip the policy.
        let wanted: &[&str] = match verdict {
            Ok(()) => &["allow_once"],
            Err(_) => &["reject_once", "reject_always"],
        };
        let option = wanted
            .iter()
            .find_map(|kind| p.options.iter().find(|o| o.kind == *kind));
        let line = match (&verdict, option) {
            (Ok(()), Some(o)) => format!("allowed {title:?} ({})", o.option_id),
            (Ok(()), None) => format!("rejected {title:?}: the agent offered no allow_once option"),
            (Err(reason), _) => format!("rejected {title:?}: {reason}"),
        };
        if verdict.is_err() {
            tracing::warn!(tool_call = %title, decision = %line, "refused an ACP permission request");
        }
        lock(&self.activity).note(|a| &mut a.permissions, line);
        match option {
            Some(o) => json!({"outcome": {"outcome": "selected", "optionId": o.option_id}}),
            // No matching option: cancelling is the one answer that grants
            // nothing whatever options the agent offered.
            None => json!({"outcome": {"outcome": "cancelled"}}),
        }
    }

    /// Whether the policy allows what the tool call says it will do: its
    /// paths must lie in the workspace (and be writable for edits, deletes
    /// and moves), its command must be allowed, and a kind kiro cannot
    /// check (`fetch`: the policy has no network access) is refused.
    fn permission_verdict(&self, call: &ToolCallUpdate) -> Result<(), String> {
        let kind = call.kind.as_deref().unwrap_or("other");
        let mut paths: Vec<String> = call.locations.iter().map(|l| l.path.clone()).collect();
        for key in [
            "path",
            "file_path",
            "filePath",
            "abs_path",
            "destination",
            "target",
        ] {
            if let Some(p) = call.raw_input.get(key).and_then(Value::as_str) {
                paths.push(p.to_owned());
            }
        }
        let mutating = matches!(kind, "edit" | "delete" | "move");
        if mutating && paths.is_empty() {
            return Err(format!("a {kind} names no path kiro could check"));
        }
        for path in &paths {
            let rel = self.relative(path).map_err(|e| e.message)?;
            if mutating
                && !self
                    .ws
                    .is_writable(&self.repo, &rel)
                    .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{}: not writable under the workspace policy",
                    rel.display()
                ));
            }
        }
        let command = match call.raw_input.get("command") {
            Some(Value::String(line)) => Some(line.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(argv)) => Some(
                argv.iter()
                    .map(|a| {
                        a.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| a.to_string())
                    })
                    .collect::<Vec<String>>(),
            ),
            _ => None,
        };
        match (kind, command) {
            (_, Some(argv)) => self
                .ws
                .check_agent_command(&argv)
                .map_err(|e| e.to_string()),
            ("execute", None) => Err("an execute names no command kiro could check".into()),
            ("fetch", None) => Err("the workspace policy grants no network access".into()),
            _ => Ok(()),
        }
    }

    fn create_terminal(self: &Arc<Self>, p: CreateTerminalParams) -> Result<Value, RpcError> {
        let mut argv = vec![p.command.clone()];
        argv.extend(p.args.iter().cloned());
        self.ws
            .check_agent_command(&argv)
            .map_err(|e| RpcError::denied(e.to_string()))?;
        for var in &p.env {
            // These change which program runs or what it loads, behind the
            // command policy's back.
            let name = var.name.as_str();
            if name == "PATH" || name.starts_with("LD_") || name.starts_with("DYLD_") {
                return Err(RpcError::denied(format!(
                    "setting {name} for a command is not allowed"
                )));
            }
        }
        let cwd = match &p.cwd {
            Some(dir) => {
                let rel = self.relative(dir)?;
                self.root.join(rel)
            }
            None => self.root.clone(),
        };
        let limit = p.output_byte_limit.map_or(self.limits.output_bytes, |l| {
            usize::try_from(l)
                .unwrap_or(usize::MAX)
                .min(self.limits.output_bytes)
        });
        let mut terminals = lock(&self.terminals);
        if terminals.len() >= self.limits.terminals {
            return Err(RpcError::denied(format!(
                "at most {} terminals at once; release one first",
                self.limits.terminals
            )));
        }
        // The agent chose this command: it gets no API key from kiro's
        // environment (the agent itself keeps its own).
        let mut cmd = Command::new(&argv)
            .without_secrets()
            .cwd(cwd)
            .timeout(self.limits.command_timeout)
            .capture_limit(limit);
        for var in &p.env {
            cmd = cmd.env(&var.name, &var.value);
        }
        let kill = CancellationToken::new();
        let (tx, rx) = watch::channel(None);
        let token = kill.clone();
        let task = tokio::spawn(async move {
            let finished = match cmd.run(&token).await {
                Ok(output) => Finished {
                    output,
                    error: None,
                },
                Err(e) => Finished {
                    output: Output::default(),
                    error: Some(e.to_string()),
                },
            };
            let _ = tx.send(Some(finished));
        });
        let id = format!(
            "term-{}",
            self.next_terminal.fetch_add(1, Ordering::Relaxed)
        );
        terminals.insert(
            id.clone(),
            Terminal {
                kill,
                done: rx,
                task: task.abort_handle(),
                limit,
            },
        );
        lock(&self.activity).note(|a| &mut a.commands, argv.join(" "));
        Ok(json!({ "terminalId": id }))
    }

    fn terminal_output(&self, id: &str) -> Result<Value, RpcError> {
        let terminals = lock(&self.terminals);
        let t = terminal(&terminals, id)?;
        // kiro's process runner hands the output over when the command
        // ends, so a running command has no output yet.
        let finished = t.done.borrow().clone();
        Ok(match finished {
            None => json!({"output": "", "truncated": false}),
            Some(f) => {
                let (output, truncated) = combined_output(&f, t.limit);
                json!({"output": output, "truncated": truncated, "exitStatus": exit_status(&f)})
            }
        })
    }

    async fn wait_for_exit(&self, id: &str) -> Result<Value, RpcError> {
        let mut done = {
            let terminals = lock(&self.terminals);
            terminal(&terminals, id)?.done.clone()
        };
        let finished = done
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RpcError::new(rpc::INTERNAL_ERROR, format!("terminal {id} was released")))?
            .clone();
        match finished {
            Some(f) => Ok(exit_status(&f)),
            None => Err(RpcError::new(
                rpc::INTERNAL_ERROR,
                "terminal ended without a status",
            )),
        }
    }
}

async fn blocking<F>(f: F) -> Result<Value, RpcError>
where
    F: FnOnce() -> Result<Value, RpcError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(RpcError::new(rpc::INTERNAL_ERROR, e.to_string())))
}

fn terminal<'a>(map: &'a HashMap<String, Terminal>, id: &str) -> Result<&'a Terminal, RpcError> {
    map.get(id).ok_or_else(|| unknown_terminal(id))
}

fn unknown_terminal(id: &str) -> RpcError {
    RpcError::invalid_params(format!("unknown terminal {id:?}"))
}

/// Lines `line..line+limit` (1-based) of `text`, with their line breaks.
fn select_lines(text: &str, line: Option<u64>, limit: Option<u64>) -> String {
    if line.is_none() && limit.is_none() {
        return text.to_owned();
    }
    let skip = usize::try_from(line.unwrap_or(1).saturating_sub(1)).unwrap_or(usize::MAX);
    let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    text.split_inclusive('\n').skip(skip).take(take).collect()
}

/// Standard output then standard error, cut from the start to `limit`
/// bytes at a character boundary, as the protocol asks.
fn combined_output(f: &Finished, limit: usize) -> (String, bool) {
    let mut text = f.output.stdout.clone();
    text.push_str(&f.output.stderr);
    if let Some(e) = &f.error {
        text.push_str(e);
    }
    let mut truncated =
        f.output.stdout.starts_with("[kiro: ") || f.output.stderr.starts_with("[kiro: ");
    if text.len() > limit {
        let mut start = text.len() - limit;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text = text.get(start..).unwrap_or_default().to_owned();
        truncated = true;
    }
    (text, truncated)
}

fn exit_status(f: &Finished) -> Value {
    let signal = f.output.signal.map(signal_name);
    let code = match (f.output.code, &f.error) {
        (Some(c), _) => Some(c),
        // A command that could not start ran nothing: report it the way a
        // shell does (127, command not found).
        (None, Some(_)) => Some(127),
        (None, None) => None,
    };
    json!({"exitCode": code, "signal": signal})
}

fn signal_name(n: i32) -> String {
    match n {
        1 => "SIGHUP".into(),
        2 => "SIGINT".into(),
        9 => "SIGKILL".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// The parameters every client method has.
trait HasSession {
    fn session_id(&self) -> &str;
}

macro_rules! has_session {
    ($($t:ty),*) => {$(
        impl HasSession for $t {
            fn session_id(&self) -> &str {
                &self.session_id
            }
        }
    )*};
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadParams {
    session_id: String,
    path: String,
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteParams {
    session_id: String,
    path: String,
    content: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionParams {
    session_id: String,
    tool_call: ToolCallUpdate,
    options: Vec<PermissionOption>,
}

/// The part of a tool call a permission decision reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolCallUpdate {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    locations: Vec<Location>,
    #[serde(default)]
    raw_input: Value,
}

#[derive(Debug, Deserialize)]
struct Location {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionOption {
    option_id: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTerminalParams {
    session_id: String,
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<EnvVariable>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    output_byte_limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct EnvVariable {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TerminalParams {
    session_id: String,
    terminal_id: String,
}

has_session!(
    ReadParams,
    WriteParams,
    PermissionParams,
    CreateTerminalParams,
    TerminalParams
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_lines() {
        let text = "a\nb\nc\n";
        assert_eq!(select_lines(text, None, None), text);
        assert_eq!(select_lines(text, Some(2), None), "b\nc\n");
        assert_eq!(select_lines(text, Some(2), Some(1)), "b\n");
        assert_eq!(select_lines(text, None, Some(1)), "a\n");
        assert_eq!(select_lines(text, Some(9), Some(1)), "");
    }

    #[test]
    fn cuts_terminal_output_from_the_start() {
        let f = Finished {
            output: Output {
                stdout: "héllo\n".into(),
                stderr: "err\n".into(),
                ..Output::default()
            },
            error: None,
        };
        assert_eq!(combined_output(&f, 100), ("héllo\nerr\n".into(), false));
        assert_eq!(combined_output(&f, 4), ("err\n".into(), true));
        // The cut would fall inside `é`: the kept text starts after it.
        assert_eq!(combined_output(&f, 9), ("llo\nerr\n".into(), true));
    }
}
