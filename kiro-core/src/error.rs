//! The crate's error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `kiro-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file does not follow the Kiro format at a position (strict mode).
    #[error("{}:{line}:{column}: {message} (expected {expected})", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What was found.
        message: String,
        /// What was expected.
        expected: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file kiro owns (the link lock, the scan cache, a journal) is
    /// not valid JSON.
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// A file is not UTF-8 text.
    #[error("{}:{line}:{column}: not UTF-8 text (byte {offset}); save it as UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in characters) of the first invalid byte.
        column: usize,
    },
    /// An input (a spec document, a `--from` file or standard input, the
    /// config file) is larger than the input limit. Reading stops at the
    /// limit, so `/dev/zero` or an endless pipe fails fast.
    #[error("{}: larger than the input limit of {limit} bytes; raise it with `max_input_bytes` under `[limits]` in .kiro/config.toml or the KIRO_MAX_INPUT_BYTES environment variable", path.display())]
    TooLarge {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input limit given by the environment (`KIRO_MAX_INPUT_BYTES`)
    /// is not a number of bytes.
    #[error("invalid {name}={value:?}: expected a number of bytes (e.g. 33554432), optionally with a KiB, MiB or GiB suffix")]
    InvalidLimit {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// Another run, rollback or fork of the spec holds its lock.
    #[error("spec `{spec}` is busy: {holder} holds its lock; wait for it to finish")]
    SpecLocked {
        /// The spec.
        spec: String,
        /// The holder as it described itself (`run <RUN> (pid <PID>)`).
        holder: String,
    },
    /// A directory is not a spec folder.
    #[error("{}: not a spec folder (expected requirements.md, bugfix.md, design.md or tasks.md)", path.display())]
    NotASpec {
        /// The directory.
        path: PathBuf,
    },
    /// A spec name is not usable as a folder name.
    #[error("invalid spec name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// A task path (`[top, sub, ...]` indexes) names no task of a `tasks.md`.
    #[error("no task at path {path:?}")]
    TaskNotFound {
        /// The path that was looked up.
        path: Vec<usize>,
    },
    /// A workspace was given no repository, the same repository name twice, or a root that is not a directory.
    #[error("invalid workspace: {reason}")]
    InvalidWorkspace {
        /// Why the workspace could not be built.
        reason: String,
    },
    /// A workspace has no repository with this name.
    #[error("unknown repository {repo:?}")]
    UnknownRepo {
        /// The name that was looked up.
        repo: String,
    },
    /// A task's `_Repos:` line (or its parent's) names a repository the
    /// workspace does not have; the run stops before any task runs.
    #[error("task {task}: unknown repository {repo:?} (the workspace's repositories: {})", known.join(", "))]
    UnknownTaskRepo {
        /// The task's id.
        task: String,
        /// The name the task gave.
        repo: String,
        /// The workspace's repository names.
        known: Vec<String>,
    },
    /// A path given to a workspace would lead outside its repository root.
    #[error("{repo}: {}: path outside the repository: {reason}", path.display())]
    PathEscape {
        /// The repository.
        repo: String,
        /// The path as given.
        path: PathBuf,
        /// Why it was refused (`..` escape, absolute path, symlink pointing out).
        reason: String,
    },
    /// The workspace policy does not allow writing this path.
    #[error("{repo}: {}: not writable under the workspace policy", path.display())]
    NotWritable {
        /// The repository.
        repo: String,
        /// The path, relative to the repository root.
        path: PathBuf,
    },
    /// The workspace policy does not allow running this command.
    #[error("command {command:?} is not allowed by the workspace policy")]
    CommandDenied {
        /// The command line, arguments joined by spaces.
        command: String,
    },
    /// A writable glob of a workspace policy is not a valid glob.
    #[error("invalid glob {pattern:?}: {message}")]
    InvalidGlob {
        /// The glob as given.
        pattern: String,
        /// What the glob parser said.
        message: String,
    },
    /// `.kiro/config.toml` is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{}:{line}:{column}: {message}{}", path.display(), expected.as_ref().map(|e| format!(" (expected {e})")).unwrap_or_default())]
    Config {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was found.
        message: String,
        /// What was expected there, when the parser says.
        expected: Option<String>,
    },
    /// A checkpoint store has no run with this id.
    #[error("no run {run:?} in the checkpoint store")]
    RunNotFound {
        /// The run id.
        run: String,
    },
    /// A run has no checkpoint with this id.
    #[error("no checkpoint {id:?} in run {run:?}")]
    CheckpointNotFound {
        /// The run id.
        run: String,
        /// The checkpoint id.
        id: String,
    },
    /// A checkpoint with this id already exists in the run.
    #[error("checkpoint {id:?} already exists in run {run:?}")]
    DuplicateCheckpoint {
        /// The run id.
        run: String,
        /// The checkpoint id.
        id: String,
    },
    /// A run, checkpoint or blob id is not usable as a file name.
    #[error("invalid id {id:?}: {reason}")]
    InvalidId {
        /// The id given.
        id: String,
        /// Why it was refused.
        reason: String,
    },
    /// A blob referenced by a checkpoint is missing from the store.
    #[error("blob {blob} is not in the checkpoint store")]
    BlobNotFound {
        /// The blob's sha256 (hex).
        blob: String,
    },
    /// The checkpoint store (or a run's log in it) was deleted or replaced
    /// while a run was writing to it, typically by a task that removed
    /// `.kiro/`. The checkpoints written before are gone: nothing more is
    /// written, so that no run claims a history it no longer has.
    #[error(
        "the checkpoint store {} was removed or replaced during the run (by a task?): \
         its earlier checkpoints are gone, so the run stops; keep the store where tasks \
         cannot write (outside the workspace, or under a Landlock sandbox)",
        path.display()
    )]
    StoreVanished {
        /// The store's directory.
        path: PathBuf,
    },
    /// A stored blob's content does not hash to its id.
    #[error("{}: blob content does not match its hash {blob}", path.display())]
    CorruptBlob {
        /// The blob's sha256 (hex).
        blob: String,
        /// The blob file.
        path: PathBuf,
    },
    /// A committed line of a checkpoint log cannot be read.
    #[error("{}:{line}: corrupt checkpoint record: {message}", path.display())]
    CorruptCheckpoint {
        /// The log file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// The task plan is ambiguous: lint errors that change what would run
    /// or in which order (a duplicate task id, a `_Depends:` value that
    /// names no task, a dependency on a missing task, a cycle). The run
    /// refuses before doing anything; `problems` names each, in document
    /// order, as `kiro spec lint` reports it.
    #[error(
        "the task plan is ambiguous, so nothing was run; fix these first:{}",
        problems.iter().map(|p| format!("\n  {p}")).collect::<String>()
    )]
    AmbiguousPlan {
        /// What makes it ambiguous, at least one.
        problems: Vec<PlanProblem>,
    },
    // The engine's own failures (`pipeline`): each names the spec, run,
    // task or checkpoint it concerns.
    /// A run was asked to resume, but the run has no checkpoint yet.
    #[error("run {run} has no checkpoint to resume from")]
    NothingToResume {
        /// The run.
        run: String,
    },
    /// A run was asked to resume, but the pipeline has no checkpoint store
    /// to resume it from.
    #[error("cannot resume run {run} without a checkpoint store")]
    ResumeWithoutStore {
        /// The run.
        run: String,
    },
    /// The requirements phase has to produce requirements, but the spec
    /// has none on disk and the run was given no requirements input.
    #[error("the spec {spec:?} has no requirements.md and no requirements input was given")]
    NoRequirementsInput {
        /// The spec.
        spec: String,
    },
    /// Tasks are left to run, but the pipeline has no executor.
    #[error(
        "the spec {spec:?} has tasks left to run ({}) but no executor is configured",
        tasks.join(", ")
    )]
    NoExecutor {
        /// The spec.
        spec: String,
        /// The tasks that would run, in plan order.
        tasks: Vec<String>,
    },
    /// A stage of a task panicked or its tokio task was aborted; the run
    /// stops, since the node cannot be told from the join error.
    #[error("a task stage of run {run} panicked or was aborted: {message}")]
    StagePanicked {
        /// The run.
        run: String,
        /// What the join error said.
        message: String,
    },
    /// Some tasks never became ready (a dependency that never settles);
    /// the plan checks make this an engine bug, not a user's.
    #[error("{} of {total} tasks of run {run} could not be scheduled: {}", tasks.len(), tasks.join(", "))]
    Unschedulable {
        /// The run.
        run: String,
        /// The tasks that never ran.
        tasks: Vec<String>,
        /// All task nodes.
        total: usize,
    },
    /// A node's artifacts could not be encoded for its checkpoint.
    #[error(
        "cannot encode the artifacts of node {node} of run {run} for its checkpoint: {message}"
    )]
    CheckpointEncode {
        /// The run.
        run: String,
        /// The node (`design`, `task 2.1`).
        node: String,
        /// What the encoder said.
        message: String,
    },
    /// A checkpoint's artifacts are not a kiro pipeline's record.
    #[error("checkpoint {run}@{checkpoint} was not written by a kiro pipeline: {message}")]
    ForeignCheckpoint {
        /// The run.
        run: String,
        /// The checkpoint.
        checkpoint: String,
        /// What the decoder said.
        message: String,
    },
    /// Text that names no node of a run (see `stage::NodeId`).
    #[error("{node:?} names no pipeline node (expected `requirements`, `task 2.1`, `gate design`, `node <name>`, ...)")]
    UnknownNode {
        /// The text.
        node: String,
    },
    /// A JUnit XML test report is not well-formed XML or not a JUnit report.
    #[error("{}:{line}: invalid JUnit XML: {message}", path.display())]
    Junit {
        /// The report file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What the XML reader said.
        message: String,
    },
    /// An external program (an executor or test command) could not be
    /// started: not found, not executable, or an empty command line.
    #[error("cannot run {program:?}: {source}")]
    Spawn {
        /// The program, as given in `argv[0]`.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An audit log line cannot be read, or the log's last entry is broken
    /// so the chain is not extended (`kiro audit verify` shows the details).
    #[error("{}:{line}: corrupt audit log entry: {message}", path.display())]
    CorruptAudit {
        /// The log file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// An actor name for the audit log holds control characters (a line
    /// break or an escape sequence would forge rows in `kiro audit list`).
    #[error("invalid audit actor from {origin}: {reason} (got {value:?})")]
    InvalidActor {
        /// Where the name came from: `env:KIRO_ACTOR`, `git-config`,
        /// `os-user` or `caller`.
        origin: String,
        /// The rejected name.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A gate name that governance does not know.
    #[error("unknown gate `{name}` (expected requirements, design, tasks, execution or merge)")]
    UnknownGate {
        /// The name as given.
        name: String,
    },
    /// `.kiro/policy.toml` does not let this identity approve this gate;
    /// the refusal is in the audit log.
    #[error("approval of gate `{gate}` of spec `{spec}` refused: {reason}; roles that may approve it: {}", if roles.is_empty() { "none".to_owned() } else { roles.join(", ") })]
    ApprovalRefused {
        /// The spec.
        spec: String,
        /// The gate (`requirements`, `design`, `tasks`, `execution`, `merge`).
        gate: &'static str,
        /// Why, naming who asked.
        reason: String,
        /// The roles that may approve the gate, with their members.
        roles: Vec<String>,
    },
    /// A run used more tokens or money than `.kiro/policy.toml` `[limits]`
    /// allows; it stopped after the node that crossed the limit.
    #[error("run {run} stopped: {limit} is {max}, the run used {used}")]
    UsageLimitExceeded {
        /// The run.
        run: String,
        /// The limit (`max_tokens`, `max_cost`).
        limit: &'static str,
        /// The limit's value.
        max: String,
        /// What the run used.
        used: String,
    },
    /// A repository's git configuration (or its `.git` link) changed after
    /// kiro opened it: kiro runs no further git command there, since a
    /// filter or fsmonitor command planted in it would run outside the
    /// agent's sandbox.
    #[error("{}: the git configuration {} changed since kiro opened the repository; kiro runs no git command in it (a command set there would run outside the sandbox): check the file, then run again", repo.display(), path.display())]
    GitConfigChanged {
        /// The work tree.
        repo: PathBuf,
        /// The file that changed (or appeared, or went).
        path: PathBuf,
    },
    /// A directory is not inside a git work tree.
    #[error("{}: not a git work tree", path.display())]
    NotAGitRepo {
        /// The directory.
        path: PathBuf,
    },
    /// The `git` program could not be started (not installed or not on `PATH`).
    #[error("cannot run git: {source}; install git or turn per-task commits off with `commits = false` under `[git]` in .kiro/config.toml")]
    GitMissing {
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("{}: git {args} failed{}: {stderr}", repo.display(), status.map(|s| format!(" (exit {s})")).unwrap_or_default())]
    Git {
        /// The work tree it ran in.
        repo: PathBuf,
        /// Its arguments (after kiro's fixed `-c` options).
        args: String,
        /// Its exit code; `None` when a signal ended it.
        status: Option<i32>,
        /// The start of its standard error.
        stderr: String,
    },
    /// A repository a run commits to has changes the run did not make.
    #[error("repository {repo} ({}) has uncommitted changes kiro did not make: {}; commit or stash them first", root.display(), paths.join(", "))]
    DirtyRepo {
        /// The workspace's name of the repository.
        repo: String,
        /// Its work tree.
        root: PathBuf,
        /// The dirty paths (at most a few, then `...`).
        paths: Vec<String>,
    },
    /// An integrator's error.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// One reason a task plan is ambiguous ([`Error::AmbiguousPlan`]): the lint
/// rule that reports it, the task, its line in `tasks.md` and lint's message.
///
/// Displayed as lint's diagnostics are named: `tasks.md:8: K0007 duplicate
/// task id "2"` (without the line when it is not known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanProblem {
    /// The lint rule's code: `K0007` (duplicate task id), `K0013` (missing
    /// dependency), `K0014` (dependency cycle) or `K0018` (unreadable
    /// `_Depends:` value).
    pub code: &'static str,
    /// The task it is about: its id, or its position (`3.2`) without one;
    /// for a cycle, the cycle's first task in document order.
    pub task: String,
    /// The 1-based line of `tasks.md` lint points at; 0 when unknown.
    pub line: u32,
    /// What is wrong, as lint says it.
    pub message: String,
}

impl std::fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "tasks.md:{}: {} {}", self.line, self.code, self.message)
        } else {
            write!(f, "tasks.md: {} {}", self.code, self.message)
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with the path it happened on: `.map_err(io_err(path))`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// [`Error::NotUtf8`] for `bytes` read from `path`, whose first `valid`
/// bytes are UTF-8: names the line and column of the first invalid byte, so
/// that an editor can go there (a byte offset alone cannot).
pub(crate) fn not_utf8(path: &Path, bytes: &[u8], valid: usize) -> Error {
    let prefix = bytes.get(..valid).unwrap_or(bytes);
    let line = memchr::memchr_iter(b'\n', prefix).count() + 1;
    let line_start = memchr::memrchr(b'\n', prefix).map_or(0, |i| i + 1);
    let column = prefix
        .get(line_start..)
        .and_then(|s| std::str::from_utf8(s).ok())
        .map_or(0, |s| s.chars().count())
        + 1;
    Error::NotUtf8 {
        path: path.to_owned(),
        offset: valid,
        line,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(bytes: &[u8], expected: &str) {
        let valid = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), |_| bytes.len());
        assert_eq!(
            not_utf8(Path::new("r.md"), bytes, valid).to_string(),
            expected
        );
    }

    #[test]
    fn not_utf8_names_line_and_column() {
        check(
            b"\xff",
            "r.md:1:1: not UTF-8 text (byte 0); save it as UTF-8",
        );
        check(
            b"# R\n\xff\n",
            "r.md:2:1: not UTF-8 text (byte 4); save it as UTF-8",
        );
        check(
            "# R\r\n\r\n1. Caf\u{e9} \u{9700}"
                .as_bytes()
                .iter()
                .copied()
                .chain([0xe9, b'\n'])
                .collect::<Vec<u8>>()
                .as_slice(),
            "r.md:3:10: not UTF-8 text (byte 19); save it as UTF-8",
        );
    }
}
