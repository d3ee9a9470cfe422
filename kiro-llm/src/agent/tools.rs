//! The agent's tools: their argument types (whose JSON Schemas the model is
//! given), parsing a [`ToolCall`] into one of them, and running it through
//! the [`Workspace`].
//!
//! Every call is hostile input. Arguments are deserialised into the same
//! types the schemas come from, with unknown fields refused, so a call that
//! does not match its schema never runs; paths go through
//! [`Workspace::resolve`] (no absolute paths, no `..` above the root, no
//! symlink out of it), writes through [`Workspace::write`] (the policy's
//! writable globs, journaled), commands through
//! [`Workspace::check_command`] first. Whatever fails becomes a
//! [`ToolError`] whose message the model reads in its next turn.

use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use kiro_core::sandbox::SandboxMode;
use kiro_core::stages::Confiner;
use kiro_core::workspace::{JournalEntry, Workspace};

use super::files;
use crate::chat::{ToolCall, ToolSpec};

/// The names of the tools, in the order the model is shown them.
pub(super) const TOOL_NAMES: [&str; 6] = [
    "read_file",
    "list_dir",
    "search",
    "write_file",
    "edit_file",
    "run_command",
];

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadFileArgs {
    /// The file, relative to the repository root.
    path: String,
    /// The first line to show, counting from 1 (default 1).
    #[serde(default)]
    offset: Option<u64>,
    /// How many lines to show at most (default: as many as fit the output limit).
    #[serde(default)]
    limit: Option<u64>,
}

/// Arguments of `list_dir`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListDirArgs {
    /// The folder, relative to the repository root (`.` for the root).
    path: String,
}

/// Arguments of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// A regular expression (Rust `regex` syntax) matched against each line.
    pattern: String,
    /// The folder or file to search, relative to the repository root (default: the whole repository).
    #[serde(default)]
    path: Option<String>,
}

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteFileArgs {
    /// The file, relative to the repository root; missing folders are created.
    path: String,
    /// The whole new content of the file.
    content: String,
}

/// Arguments of `edit_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EditFileArgs {
    /// The file, relative to the repository root.
    path: String,
    /// The exact text to replace; it must occur exactly once in the file.
    old: String,
    /// The text to put in its place.
    new: String,
}

/// Arguments of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunCommandArgs {
    /// The program and its arguments, one string each (no shell: pipes, `&&` and globs are not interpreted).
    argv: Vec<String>,
}

/// The tools as the model is shown them.
pub(super) fn specs() -> Vec<ToolSpec> {
    vec![
        spec::<ReadFileArgs>(
            "read_file",
            "Read a text file of the repository. Lines come numbered (`   12\\tcode`); the numbers are \
             not part of the file. Long files are shown in windows: continue with `offset`.",
        ),
        spec::<ListDirArgs>(
            "list_dir",
            "List a folder of the repository: sub-folders end in `/`, files show their size in bytes.",
        ),
        spec::<SearchArgs>(
            "search",
            "Search the repository's text files for lines matching a regular expression, honouring \
             .gitignore. Answers `path:line: text` per match.",
        ),
        spec::<WriteFileArgs>(
            "write_file",
            "Create or overwrite a file with the given content (only where the workspace policy allows writing).",
        ),
        spec::<EditFileArgs>(
            "edit_file",
            "Replace one exact occurrence of `old` with `new` in a file. `old` must occur exactly once: \
             copy it from read_file output without the line numbers, with enough context to be unique.",
        ),
        spec::<RunCommandArgs>(
            "run_command",
            "Run a program in the repository root (only programs the workspace policy allows), with a \
             time limit. Answers the exit status and the end of standard output and error.",
        ),
    ]
}

fn spec<T: JsonSchema>(name: &str, description: &str) -> ToolSpec {
    let mut parameters = schemars::schema_for!(T).to_value();
    // The schema's `$schema` and `title` (the Rust type's name) say nothing
    // the model can use.
    if let Some(object) = parameters.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    }
}

/// Why a tool call did not do what it asked; the message is what the model reads.
#[derive(Debug, thiserror::Error)]
pub(super) enum ToolError {
    /// The model named a tool that does not exist.
    #[error("unknown tool `{name}`; the tools are: {}", TOOL_NAMES.join(", "))]
    UnknownTool {
        /// The name it used.
        name: String,
    },
    /// The arguments do not match the tool's schema.
    #[error("invalid arguments for {tool}: {message}")]
    BadArguments {
        /// The tool.
        tool: &'static str,
        /// What is wrong with them.
        message: String,
    },
    /// The workspace refused or failed the operation (a path escape, a
    /// protected path, a command the policy does not allow, an I/O error).
    #[error("{0}")]
    Workspace(#[from] kiro_core::Error),
    /// The path does not exist.
    #[error("{path}: no such file or folder")]
    NotFound {
        /// The path as the model gave it.
        path: String,
    },
    /// A folder where a file was expected, or the reverse.
    #[error("{path}: {what}")]
    WrongKind {
        /// The path as the model gave it.
        path: String,
        /// What it is and what was expected.
        what: &'static str,
    },
    /// The path is the repository's git internals or kiro's own records,
    /// which the agent may neither read nor write.
    #[error("{path}: git internals and kiro's run records (.git, .kiro/runs, .kiro/trace, .kiro/audit.jsonl) are off limits to the agent")]
    Protected {
        /// The path as the model gave it.
        path: String,
    },
    /// The policy does not let the agent write the file.
    #[error("{path}: not writable under the workspace policy")]
    NotWritable {
        /// The path as the model gave it.
        path: String,
    },
    /// A file too large for the operation.
    #[error("{path}: {size} bytes is more than the {limit} bytes {operation} accepts")]
    TooLarge {
        /// The path as the model gave it.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// The tool.
        operation: &'static str,
    },
    /// `read_file` was asked for a line past what it scans.
    #[error("{path}: line {line} is not within the first {limit} bytes of the file; use search to find what you need")]
    BeyondScan {
        /// The path as the model gave it.
        path: String,
        /// The line asked for.
        line: u64,
        /// How far reading goes.
        limit: u64,
    },
    /// An edit of a file that is not UTF-8 text.
    #[error("{path}: not UTF-8 text; edit_file only edits text files")]
    NotUtf8 {
        /// The path as the model gave it.
        path: String,
    },
    /// `old` of an edit does not occur exactly once.
    #[error("{path}: `old` occurs {count} times; it must occur exactly once ({hint})")]
    EditMatches {
        /// The path as the model gave it.
        path: String,
        /// How many times it occurs.
        count: usize,
        /// What to do about it.
        hint: &'static str,
    },
    /// The search pattern is not a valid regular expression.
    #[error("invalid search pattern: {0}")]
    Pattern(String),
    /// Reading or listing failed.
    #[error("{path}: {message}")]
    Io {
        /// The path as the model gave it.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The model called more tools in one turn than run.
    #[error("not run: at most {limit} tool calls run per turn; call the rest in the next turn")]
    TooManyCalls {
        /// How many run per turn.
        limit: usize,
    },
    /// The run was cancelled while the tool ran.
    #[error("cancelled")]
    Cancelled,
}

/// The limits a tool call runs under.
#[derive(Clone, Debug)]
pub(super) struct Limits {
    pub(super) command_timeout: Duration,
    pub(super) max_read_bytes: usize,
    pub(super) max_output_bytes: usize,
}

impl Limits {
    /// The most a tool result may hold: each tool bounds its own output
    /// (a command's two streams each); this backstop also covers headers.
    pub(super) fn result_bound(&self) -> usize {
        self.max_read_bytes
            .max(self.max_output_bytes.saturating_mul(2))
            .saturating_add(1024)
    }
}

/// One parsed tool call.
#[derive(Debug)]
enum Call {
    Read(ReadFileArgs),
    List(ListDirArgs),
    Search(SearchArgs),
    Write(WriteFileArgs),
    Edit(EditFileArgs),
    Run(RunCommandArgs),
}

/// What one tool call produced, for the model and for the evidence.
#[derive(Debug)]
pub(super) struct Ran {
    /// What the call was, short, for the transcript (`write_file src/x.rs (12 bytes)`).
    pub(super) short: String,
    /// The text for the model, or the error it met.
    pub(super) result: Result<String, ToolError>,
    /// The journal entry, when the call wrote a file.
    pub(super) written: Option<JournalEntry>,
    /// A one-word status for the transcript when the call succeeded (`ok`, `exit 1`).
    pub(super) status: String,
}

impl Ran {
    /// A call that did not run, described from its raw name and arguments.
    pub(super) fn refused(call: &ToolCall, error: ToolError) -> Ran {
        Ran {
            short: format!(
                "{} {}",
                clip(&call.name, 40),
                clip(&call.arguments.to_string(), 60)
            ),
            result: Err(error),
            written: None,
            status: String::new(),
        }
    }
}

/// The tools over one repository of a workspace.
#[derive(Clone, Debug)]
pub(super) struct Toolbox {
    workspace: Arc<Workspace>,
    repo: String,
    limits: Limits,
    /// How commands are confined, and the mode the run configured.
    confiner: Confiner,
    mode: SandboxMode,
}

impl Toolbox {
    pub(super) fn new(
        workspace: Arc<Workspace>,
        repo: String,
        limits: Limits,
        confiner: Confiner,
        mode: SandboxMode,
    ) -> Toolbox {
        Toolbox {
            workspace,
            repo,
            limits,
            confiner,
            mode,
        }
    }

    /// Runs one call; never fails the stage: every failure is in [`Ran::result`].
    pub(super) async fn run(&self, call: &ToolCall, cancel: &CancellationToken) -> Ran {
        let parsed = match parse(call) {
            Ok(parsed) => parsed,
            Err(e) => return Ran::refused(call, e),
        };
        let short = describe(&parsed);
        if let Call::Run(args) = &parsed {
            let (result, status) = match self.command(&args.argv, cancel).await {
                Ok((text, status)) => (Ok(text), status),
                Err(e) => (Err(e), String::new()),
            };
            return Ran {
                short,
                result,
                written: None,
                status,
            };
        }
        // File tools block on the file system (a search walks the whole
        // repository), so they run off the async workers.
        let toolbox = self.clone();
        let work = tokio::task::spawn_blocking(move || toolbox.file_tool(parsed));
        let joined = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ran { short, result: Err(ToolError::Cancelled), written: None, status: String::new() },
            joined = work => joined,
        };
        let (result, written) = match joined {
            Ok(Ok((text, written))) => (Ok(text), written),
            Ok(Err(e)) => (Err(e), None),
            Err(e) => (
                Err(ToolError::Io {
                    path: String::new(),
                    message: format!("the tool stopped unexpectedly: {e}"),
                }),
                None,
            ),
        };
        Ran {
            short,
            result,
            written,
            status: "ok".to_owned(),
        }
    }

    fn file_tool(&self, call: Call) -> Result<(String, Option<JournalEntry>), ToolError> {
        let ws = self.workspace.as_ref();
        let repo = self.repo.as_str();
        match call {
            Call::Read(a) => {
                let start = a.offset.unwrap_or(1).max(1);
                let budget = self.limits.max_read_bytes;
                files::read(ws, repo, &a.path, start, a.limit, budget).map(|t| (t, None))
            }
            Call::List(a) => {
                files::list(ws, repo, &a.path, self.limits.max_output_bytes).map(|t| (t, None))
            }
            Call::Search(a) => {
                let path = a.path.as_deref().unwrap_or(".");
                files::search(ws, repo, &a.pattern, path, self.limits.max_output_bytes)
                    .map(|t| (t, None))
            }
            Call::Write(a) => {
                files::check_writable(ws, repo, &a.path)?;
                let entry = ws.write(repo, &a.path, a.content.as_bytes())?;
                let text = format!("wrote {} bytes to {}", a.content.len(), a.path);
                Ok((text, Some(entry)))
            }
            Call::Edit(a) => {
                let entry = files::edit(ws, repo, &a.path, &a.old, &a.new)?;
                Ok((format!("edited {}", a.path), Some(entry)))
            }
            // Commands run on the async side; `run` never sends them here.
            Call::Run(_) => Err(ToolError::BadArguments {
                tool: "run_command",
                message: "not a file tool".to_owned(),
            }),
        }
    }

    /// Runs an allowed command in the repository root; the text and the
    /// transcript status (`exit 0`, `timed out`).
    async fn command(
        &self,
        argv: &[String],
        cancel: &CancellationToken,
    ) -> Result<(String, String), ToolError> {
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(ToolError::BadArguments {
                tool: "run_command",
                message: "argv must start with a program name".to_owned(),
            });
        }
        self.workspace.check_agent_command_in(&self.repo, argv)?;
        let root = self.workspace.root(&self.repo)?.to_path_buf();
        // Confined as any agent kiro runs (Landlock to the writable roots,
        // when a launcher is set), and without kiro's API keys: the model
        // chose this command.
        let roots = self.workspace.policy().writable_roots();
        let (command, confined) = self.confiner.prepare(self.mode, &root, &roots, argv)?;
        let output = command
            .without_secrets()
            .timeout(self.limits.command_timeout)
            .capture_limit(self.limits.max_output_bytes)
            .run(cancel)
            .await?;
        if output.cancelled {
            return Err(ToolError::Cancelled);
        }
        // A launcher that refused or could not start the program is the
        // model's error to read, like a policy refusal.
        confined.report(&output)?;
        let status = if output.timed_out {
            format!(
                "timed out after {}s",
                self.limits.command_timeout.as_secs_f64()
            )
        } else if let Some(code) = output.code {
            format!("exit {code}")
        } else if let Some(signal) = output.signal {
            format!("killed by signal {signal}")
        } else {
            "ended without a status".to_owned()
        };
        let mut text = format!("{status}\n");
        for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            if !stream.is_empty() {
                text.push_str(&format!("--- {name} ---\n{stream}"));
                if !stream.ends_with('\n') {
                    text.push('\n');
                }
            }
        }
        Ok((text, status))
    }
}

fn parse(call: &ToolCall) -> Result<Call, ToolError> {
    fn args<T: serde::de::DeserializeOwned>(
        tool: &'static str,
        value: &Value,
    ) -> Result<T, ToolError> {
        // Providers hand argument text that is not JSON over as a string.
        if let Value::String(text) = value {
            return Err(ToolError::BadArguments {
                tool,
                message: format!(
                    "arguments must be a JSON object, got text: {}",
                    clip(text, 200)
                ),
            });
        }
        T::deserialize(value).map_err(|e| ToolError::BadArguments {
            tool,
            message: e.to_string(),
        })
    }
    let value = &call.arguments;
    Ok(match call.name.as_str() {
        "read_file" => Call::Read(args("read_file", value)?),
        "list_dir" => Call::List(args("list_dir", value)?),
        "search" => Call::Search(args("search", value)?),
        "write_file" => Call::Write(args("write_file", value)?),
        "edit_file" => Call::Edit(args("edit_file", value)?),
        "run_command" => Call::Run(args("run_command", value)?),
        other => {
            return Err(ToolError::UnknownTool {
                name: clip(other, 64).to_owned(),
            })
        }
    })
}

fn describe(call: &Call) -> String {
    match call {
        Call::Read(a) => match (a.offset, a.limit) {
            (None, None) => format!("read_file {}", clip(&a.path, 100)),
            (offset, limit) => format!(
                "read_file {} (from line {}, {} lines)",
                clip(&a.path, 100),
                offset.unwrap_or(1),
                limit.map_or_else(|| "all".to_owned(), |l| l.to_string())
            ),
        },
        Call::List(a) => format!("list_dir {}", clip(&a.path, 100)),
        Call::Search(a) => format!(
            "search /{}/ in {}",
            clip(&a.pattern, 60),
            clip(a.path.as_deref().unwrap_or("."), 100)
        ),
        Call::Write(a) => format!(
            "write_file {} ({} bytes)",
            clip(&a.path, 100),
            a.content.len()
        ),
        Call::Edit(a) => format!("edit_file {}", clip(&a.path, 100)),
        Call::Run(a) => format!("run_command {}", clip(&a.argv.join(" "), 100)),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub(super) fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
