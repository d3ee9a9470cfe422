//! The command line, as clap types. Help texts here are the user-facing
//! reference, so they state exit codes and output shapes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status:
  0    success (for `spec lint`: no finding at or above the --deny level;
       for `spec fmt --check`: every file already canonical;
       for `spec list`: every folder is a spec or an incomplete one;
       for `run`: the run completed; for `verify`: no criterion failed;
       for `pbt run`: every property passed;
       for `audit verify`: the chain is intact)
  1    `spec lint` found a problem at or above the --deny level,
       `spec fmt --check` found a file that is not canonical,
       `spec list` found a folder that cannot be loaded (all others are
       still listed), `run` ended with a failed task, stage or criterion,
       `verify` found a failed criterion (or, with --require-coverage,
       an untested one; in every --format, sarif included), or `audit verify` found the chain broken or the
       log behind a recorded head (truncated, emptied, lines appended),
       or `pbt run` found a property failing
  2    usage error, unknown spec, no workspace, an I/O or parse error, an
       input over the size limit, a spec already locked by another run,
       a plan lint refuses (duplicate ids, unreadable dependencies, cycles),
       `pbt gen` cannot write a test for a property (none executable,
       an unknown one, a block that lacks what its kind needs), or
       `pbt run` could not check a property and none failed, or the spec
       has nothing it can run, `task start`/`task done` refused a task
       (unknown, not ready: the dependency it waits for is named, with
       sub-tasks, already done), or `mcp --http` was given an address
       that is not loopback
  3    `run` stopped at a gate that was not approved (resume it later)
  130  `run` was interrupted (Ctrl-C); finished tasks are checkpointed
When GITHUB_STEP_SUMMARY names a file (GitHub Actions), `verify` and
`spec lint` append a markdown summary of their result to it.";

/// Spec-driven development with Kiro specs (`.kiro/specs/<feature>/`).
#[derive(Debug, Parser)]
#[command(name = "kiro", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Workspace root (the folder holding `.kiro/`). Default: the nearest
    /// ancestor of the current directory that holds a `.kiro/` folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) workspace: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create `.kiro/specs/`, `.kiro/steering/` and a commented `.kiro/config.toml`
    /// in the workspace (default: the current directory), and add kiro's local
    /// state (`.kiro/runs/`, stored reports, temporary files) to `.gitignore`.
    /// Safe to run again: an existing config.toml is never overwritten.
    Init,
    /// Work with the specs under `.kiro/specs/`.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Print the JSON Schema of a document type or of `spec lint --format json` output.
    Schema(SchemaArgs),
    /// Run a spec through the pipeline: requirements, design, tasks, execute,
    /// verify, with a checkpoint after every step (under `.kiro/runs/`).
    /// Verify runs the spec's executable properties (as `pbt run` does),
    /// then the configured test command, and judges every criterion.
    Run(RunArgs),
    /// Show a spec's tasks and progress, and the outcomes of its latest run.
    Status(StatusArgs),
    /// Inspect the checkpoints of pipeline runs.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Restore the workspace files and the run's state to a checkpoint
    /// (files created later are removed, edited ones restored).
    Rollback(CheckpointArg),
    /// Start a new run from a checkpoint, keeping the old run as it is.
    Fork(CheckpointArg),
    /// Run the configured test command (`[verifier] command`) and report
    /// every acceptance criterion as passed, failed or untested.
    Verify(VerifyArgs),
    /// Show what links each acceptance criterion to tasks, properties,
    /// tests and results, and the coverage gaps (informational: exits 0).
    Trace(TraceArgs),
    /// Inspect the hash-chained audit log `.kiro/audit.jsonl`.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Property-based tests from a spec's executable correctness properties
    /// (the ```json kiro-property blocks of its design.md).
    #[command(subcommand)]
    Pbt(PbtCommand),
    /// The language model configured under `[llm]` in `.kiro/config.toml`.
    #[command(subcommand)]
    Llm(LlmCommand),
    /// The workspace's memory (`.kiro/memory.db`): lessons from review
    /// feedback, notes and steering files, recalled for each task of a run.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Sign off a gate of a spec under `.kiro/policy.toml`: the approval,
    /// bound to the current document, goes into the audit log. Exit 0
    /// approved, 1 refused (naming the roles that may approve), 2 for a
    /// usage or configuration error.
    Approve(ApproveArgs),
    /// List a spec's approvals and whether each still holds (the document
    /// is unchanged and the approver still in an approving role).
    Approvals(ApprovalsArgs),
    /// Work on a spec's tasks by hand, as an agent does through `kiro mcp`:
    /// list the ready ones, start one (`[-]`), complete it (`[x]`, with a
    /// checkpoint `kiro rollback` can undo and an audit entry).
    #[command(subcommand)]
    Task(TaskCommand),
    /// Serve the Model Context Protocol over stdio (or streamable HTTP on a
    /// loopback address with --http) so a coding agent can work spec-first:
    /// tools to list, show and lint specs, get the next ready tasks, start
    /// and complete them, trace, verify and use the memory; the spec
    /// documents as resources `kiro://specs/<name>/<file>`.
    Mcp(McpArgs),
}

/// `kiro task ...`. Exit status: 0 on success, 2 for an unknown spec or
/// task, a task that is not ready (the dependency it waits for is named),
/// a task with sub-tasks, one already done, or a spec locked by a run.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCommand {
    /// List the tasks ready to work on now, with their briefs.
    Next(TaskNextArgs),
    /// Mark a ready task in progress (`[-]`) and record a baseline of the
    /// workspace, so that its changes are checkpointed when it is done.
    Start(TaskIdArgs),
    /// Mark a task done (`[x]`, and parents whose sub-tasks are all done),
    /// write its checkpoint and audit entry, and list the tasks ready next.
    Done(TaskDoneArgs),
}

/// `kiro task next`.
#[derive(Debug, Args)]
pub(crate) struct TaskNextArgs {
    /// Spec name (`.kiro/specs/<SPEC>`).
    pub(crate) spec: String,
    /// `text` (ids, titles and briefs) or `json`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// A gate of `.kiro/policy.toml`, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GateArg {
    /// After the requirements phase (approves requirements.md).
    Requirements,
    /// After the design phase (approves design.md).
    Design,
    /// After the tasks phase (approves tasks.md).
    Tasks,
    /// Before the first task and at checkpoint tasks (approves tasks.md);
    /// also the approval protected paths need.
    Execution,
    /// Before the run's work is merged.
    Merge,
}

/// `kiro approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// Spec name (`.kiro/specs/<SPEC>`).
    pub(crate) spec: String,
    /// The gate to approve.
    #[arg(value_enum)]
    pub(crate) gate: GateArg,
    /// An OIDC ID token (a file holding the compact JWT) identifying the
    /// approver; without it, the local user (`KIRO_ACTOR`, git's
    /// `user.email`, `USER`) approves where `[identity] allow_unverified`
    /// allows it.
    #[arg(long, value_name = "FILE")]
    pub(crate) id_token: Option<PathBuf>,
    /// Approve only this checkpoint task (an `execution` approval).
    #[arg(long, value_name = "ID")]
    pub(crate) task: Option<String>,
    /// `text`: one line. `json`: the approval record.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro approvals`.
#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    /// Spec name (`.kiro/specs/<SPEC>`).
    pub(crate) spec: String,
    /// `text`: one line per approval. `json`: the array of records.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro task start`.
#[derive(Debug, Args)]
pub(crate) struct TaskIdArgs {
    /// Spec name (`.kiro/specs/<SPEC>`).
    pub(crate) spec: String,
    /// The task's id (`2.1`).
    pub(crate) task: String,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro task done`.
#[derive(Debug, Args)]
pub(crate) struct TaskDoneArgs {
    /// Spec name (`.kiro/specs/<SPEC>`).
    pub(crate) spec: String,
    /// The task's id (`2.1`).
    pub(crate) task: String,
    /// One line on what was done (kept in the checkpoint and audit log).
    #[arg(long, short = 'm', default_value = "done by hand")]
    pub(crate) summary: String,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro mcp`.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Serve MCP's streamable HTTP transport at this loopback address
    /// (`127.0.0.1:8765`; port 0 picks one, printed to standard error)
    /// instead of stdio. Other addresses are refused: the server has no
    /// authentication.
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<std::net::SocketAddr>,
}

/// `kiro memory ...`. Exit status: 0 on success, 2 for an unknown id, an
/// unreadable input, a store that cannot be opened or a failed request.
#[derive(Debug, Subcommand)]
pub(crate) enum MemoryCommand {
    /// Store one memory; a near-identical one of the same scope is merged
    /// into instead, and one it contradicts is superseded.
    Add(MemoryAddArgs),
    /// List the current memories (with --all the superseded ones too; with
    /// --as-of those that held at a time), oldest first.
    List(MemoryListArgs),
    /// Show one memory with its sources, validity and use.
    Show(MemoryShowArgs),
    /// Full-text search over titles and contents, best match first.
    Search(MemorySearchArgs),
    /// Delete a memory for good.
    Forget(MemoryShowArgs),
    /// Turn review feedback or notes into lessons: a file (`-` for standard
    /// input) of GitHub pull-request review comments or reviews as the REST
    /// API returns them, or plain text/markdown notes; or, with --github,
    /// a pull request's review comments and reviews fetched from the API
    /// (token from `GITHUB_TOKEN`). Chatter is dropped and text that reads
    /// as instructions to an agent or as shell commands is rejected.
    Ingest(MemoryIngestArgs),
    /// What recall gives a task with this text (and these paths): the
    /// memories, why each was chosen, and its score.
    Recall(MemoryRecallArgs),
    /// Write the memories as JSON (to standard output or --out) or as
    /// steering files (one per scope, into --out, default `.kiro/steering`).
    Export(MemoryExportArgs),
    /// Read `.kiro/steering/*.md` (or, with --format json, a file written by
    /// `export --format json`) into memories; importing again merges.
    Import(MemoryImportArgs),
}

/// How a memory applies, for `kiro memory add`.
#[derive(Debug, Args)]
pub(crate) struct MemoryAddArgs {
    /// The guidance (`-` reads it from standard input).
    pub(crate) text: String,
    /// A one-line title (default: the text's first line).
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// `rule`, `preference`, `fact` or `lesson`.
    #[arg(long, default_value = "lesson")]
    pub(crate) kind: String,
    /// `global`, `repository:NAME`, `path:GLOB` or `spec:NAME`.
    #[arg(long, default_value = "global")]
    pub(crate) scope: String,
    /// Where it came from (a URL).
    #[arg(long)]
    pub(crate) source: Option<String>,
}

/// `kiro memory list`.
#[derive(Debug, Args)]
pub(crate) struct MemoryListArgs {
    /// Only this kind.
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// Superseded memories too.
    #[arg(long)]
    pub(crate) all: bool,
    /// The memories that held at this time (RFC 3339, `2026-01-31T12:00:00Z`).
    #[arg(long, value_name = "TIME")]
    pub(crate) as_of: Option<String>,
    /// At most this many.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// `text`: one line per memory. `json`: see `kiro schema memory`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro memory show` and `forget`.
#[derive(Debug, Args)]
pub(crate) struct MemoryShowArgs {
    /// The memory's id.
    pub(crate) id: String,
    /// `text` or `json` (see `kiro schema memory`); `forget` prints text.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro memory search`.
#[derive(Debug, Args)]
pub(crate) struct MemorySearchArgs {
    /// Words to look for (any of them; no query syntax).
    pub(crate) query: String,
    /// At most this many.
    #[arg(long, default_value_t = 10)]
    pub(crate) limit: usize,
    /// `text` or `json` (see `kiro schema memory`).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// What `kiro memory ingest` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum IngestFormat {
    /// GitHub review comments or reviews (JSON arrays, one per page).
    Github,
    /// Plain text or markdown notes.
    Text,
}

/// `kiro memory ingest`.
#[derive(Debug, Args)]
pub(crate) struct MemoryIngestArgs {
    /// The file to read (`-` for standard input); not with --github.
    #[arg(required_unless_present = "github", conflicts_with = "github")]
    pub(crate) file: Option<PathBuf>,
    /// What the file holds (default: JSON when it opens with `[` or `{`,
    /// else notes).
    #[arg(long, value_enum)]
    pub(crate) format: Option<IngestFormat>,
    /// Fetch this pull request's review feedback: `OWNER/REPO#N`.
    #[arg(long, value_name = "OWNER/REPO#N")]
    pub(crate) github: Option<String>,
    /// The API's base URL, for GitHub Enterprise Server
    /// (`https://HOST/api/v3`); default `GITHUB_API_URL`, else
    /// `https://api.github.com`.
    #[arg(long, value_name = "URL")]
    pub(crate) github_api: Option<String>,
    /// `text`: counts and rejections. `json`: the report, item by item.
    #[arg(long = "report", value_enum, default_value_t)]
    pub(crate) report: TextOrJson,
}

/// `kiro memory recall`.
#[derive(Debug, Args)]
pub(crate) struct MemoryRecallArgs {
    /// The task's text.
    pub(crate) text: String,
    /// A path the task concerns (repeatable).
    #[arg(long = "path", value_name = "P")]
    pub(crate) paths: Vec<PathBuf>,
    /// The spec the task belongs to (`#STEM` recalls a manual steering file).
    #[arg(long)]
    pub(crate) spec: Option<String>,
    /// At most this many memories.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// The token budget (default: what a run gives each task).
    #[arg(long, default_value_t = kiro_core::memory::DEFAULT_BUDGET_TOKENS)]
    pub(crate) budget: u32,
    /// `text` or `json` (see `kiro schema memory`).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// The format of `kiro memory export` and `import`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum MemoryFileFormat {
    /// Every memory, superseded ones too, as one JSON document.
    #[default]
    Json,
    /// Kiro steering files, one per scope.
    Steering,
}

/// `kiro memory export`.
#[derive(Debug, Args)]
pub(crate) struct MemoryExportArgs {
    /// What to write.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: MemoryFileFormat,
    /// The file (json) or folder (steering) to write.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
}

/// `kiro memory import`.
#[derive(Debug, Args)]
pub(crate) struct MemoryImportArgs {
    /// What to read: the workspace's steering files, or a JSON export.
    #[arg(long, value_enum, default_value_t = MemoryFileFormat::Steering)]
    pub(crate) format: MemoryFileFormat,
    /// The JSON export to read (`-` for standard input); with steering,
    /// the workspace's `.kiro/steering` is read.
    #[arg(value_name = "FILE", required_if_eq("format", "json"))]
    pub(crate) file: Option<PathBuf>,
}

/// `kiro llm ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum LlmCommand {
    /// Send one tiny request to the configured model and print the
    /// provider, model, address, latency, token usage and reply. Exit 0 when
    /// the model answered, 1 when the request failed (the error says why;
    /// the API key is never printed), 2 when `[llm]` cannot be read.
    Check(LlmCheckArgs),
}

/// `kiro llm check`.
#[derive(Debug, Args)]
pub(crate) struct LlmCheckArgs {
    /// `text`: one line. `json`: one object with the same fields.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro pbt ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PbtCommand {
    /// Write a test file with one property-based test per executable
    /// property, annotated (`Feature: <spec>, Property N`, `Validates:
    /// Requirements ...`) so that `kiro trace` and `kiro verify` link it.
    /// Properties without a block are named in the file's header. Exit 2
    /// when the spec has no executable property, a --property is unknown or
    /// has no block, or a block lacks what its kind needs.
    Gen(PbtGenArgs),
    /// Run the spec's executable properties (those whose block names a
    /// `process` or `http` target; a block with only a Rust binding is
    /// checked by the test `pbt gen` writes) and store their results in
    /// `.kiro/pbt/<SPEC>.json`, where `verify` and `trace` read them: a
    /// failing property fails the criteria it validates, with its shrunk
    /// counterexample as evidence. Counterexamples found are stored under
    /// `.kiro/pbt-regressions/<SPEC>/` and replayed first on every run.
    /// Exit 0 when every property passed, 1 when one failed (a crash or
    /// timeout of the target is a failure), 2 when none failed and one
    /// could not be checked (an input schema kiro cannot generate from, a
    /// block lacking what its kind needs), and 2 for an unknown spec or
    /// property, a property without a target, or a spec with nothing to run.
    Run(PbtRunArgs),
}

/// `kiro pbt run`.
#[derive(Debug, Args)]
pub(crate) struct PbtRunArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// Only this property (repeatable); default: every one with a target.
    /// The results of the others stay as stored.
    #[arg(long = "property", value_name = "ID")]
    pub(crate) properties: Vec<String>,
    /// Cases per property (default: the property's `cases`, else 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) cases: Option<u32>,
    /// Generate from this seed (default: a random one, printed) to repeat
    /// a run.
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// `text`: a line per property, and for a failure the counterexample,
    /// the target's answers and the seed; `json`: see `kiro schema pbt`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// The language of `kiro pbt gen`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum PbtLang {
    /// A Rust integration test or test module: `proptest!` tests, typed
    /// strategies for properties with a `rust` binding, the schema-driven
    /// strategy of kiro-proptest and its process and HTTP targets otherwise.
    #[default]
    Rust,
}

/// `kiro pbt gen`.
#[derive(Debug, Args)]
pub(crate) struct PbtGenArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// The language of the tests.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) lang: PbtLang,
    /// Write the file here (atomically; parent folders are created) instead
    /// of printing it, and print what it holds.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Only this property (repeatable); default: every executable one.
    #[arg(long = "property", value_name = "ID")]
    pub(crate) properties: Vec<String>,
    /// The file is an integration test (`tests/*.rs`) of this library
    /// crate (its Rust name, `my_codec`): binding paths starting with
    /// `crate::` name it instead.
    #[arg(long = "crate", value_name = "NAME")]
    pub(crate) crate_name: Option<String>,
}

/// Output format of `verify` and `trace`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// An aligned table (coloured on a terminal unless `NO_COLOR` is set
    /// or `--output` is given).
    #[default]
    Text,
    /// A GitHub-flavoured markdown table.
    Md,
    /// JSON (shape documented in the README).
    Json,
    /// JUnit XML, one test case per criterion.
    Junit,
    /// CSV, one row per criterion.
    Csv,
    /// One self-contained HTML page with sorting and filters.
    Html,
}

/// `kiro verify --format`: the report formats, plus SARIF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum VerifyFormat {
    /// An aligned table (coloured on a terminal unless `NO_COLOR` is set
    /// or `--output` is given).
    #[default]
    Text,
    /// A GitHub-flavoured markdown table.
    Md,
    /// JSON (shape documented in the README).
    Json,
    /// JUnit XML, one test case per criterion.
    Junit,
    /// CSV, one row per criterion.
    Csv,
    /// One self-contained HTML page with sorting and filters.
    Html,
    /// SARIF 2.1.0 for code-scanning UIs: one result per criterion on its
    /// line in requirements.md (failed: error, untested: warning, passed:
    /// kind pass).
    Sarif,
}

impl VerifyFormat {
    /// The report format, or `None` for SARIF.
    pub(crate) fn report(self) -> Option<ReportFormat> {
        match self {
            VerifyFormat::Text => Some(ReportFormat::Text),
            VerifyFormat::Md => Some(ReportFormat::Md),
            VerifyFormat::Json => Some(ReportFormat::Json),
            VerifyFormat::Junit => Some(ReportFormat::Junit),
            VerifyFormat::Csv => Some(ReportFormat::Csv),
            VerifyFormat::Html => Some(ReportFormat::Html),
            VerifyFormat::Sarif => None,
        }
    }
}

/// `kiro verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// How to print the verification matrix.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: VerifyFormat,
    /// Write the report to this file instead of standard output (a summary
    /// line still goes to standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Exit 1 when a criterion is untested, not only when one failed.
    #[arg(long)]
    pub(crate) require_coverage: bool,
    /// Do not run the test command: report from the configured JUnit file
    /// if it exists, else from the latest stored verification.
    #[arg(long)]
    pub(crate) no_run: bool,
}

/// `kiro trace`.
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// How to print the trace matrix (text, md and json add the coverage findings).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: ReportFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `kiro audit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain and the heads recorded under `.kiro/runs/`:
    /// exit 0 when intact, 1 naming the first broken line (or the log that
    /// falls short of, or runs past, a recorded head) otherwise.
    ///
    /// With --against-git, also check the log still holds every head the
    /// `Kiro-Audit-Head` trailers of the `kiro/*` branches recorded (in
    /// every repository of the workspace): a log rewritten since, even
    /// with a valid chain, fails naming the commit. With --jwks, re-verify
    /// offline the ID token of every approval (issuer and audience from
    /// `[identity]` of .kiro/policy.toml).
    Verify(AuditVerifyArgs),
    /// Print the entries of the log.
    List(AuditArgs),
}

/// `kiro audit verify|list`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// `text`: readable lines. `json`: the report (`verify`) or the array
    /// of entries (`list`).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro audit verify`.
#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// `text`: readable lines. `json`: the report; with --against-git or
    /// --jwks an object with `chain`, `git` and `tokens`.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
    /// Check the log against the `Kiro-Audit-Head` trailers of the commits
    /// on `kiro/*` branches; fails when none is found.
    #[arg(long)]
    pub(crate) against_git: bool,
    /// Re-verify the ID tokens of approvals with the keys of this JWKS
    /// file; without a value, with the `jwks_file` or `jwks_url` of
    /// `[identity]` in .kiro/policy.toml.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub(crate) jwks: Option<Option<PathBuf>>,
}

/// A phase of the pipeline, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum PhaseArg {
    /// Requirements text or markdown becomes `requirements.md`.
    Requirements,
    /// The requirements become `design.md`.
    Design,
    /// Requirements and design become `tasks.md`.
    Tasks,
    /// Each task runs through the configured executor.
    Execute,
    /// The verifier checks every acceptance criterion.
    Verify,
}

/// `kiro run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder. The folder
    /// may be new when `--from` gives the requirements.
    pub(crate) spec: String,
    /// Stop after this phase.
    #[arg(long, value_enum, value_name = "PHASE", default_value = "verify")]
    pub(crate) until: PhaseArg,
    /// Continue a run after its last checkpoint instead of starting a new one:
    /// the given run id, or without a value the latest run of the spec.
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub(crate) resume: Option<String>,
    /// How many tasks may run at once (default: `[pipeline] jobs`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: Option<u16>,
    /// Approve every gate without asking (for CI and scripts).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// The requirements, when the spec has none yet: a file of plain text,
    /// EARS bullet lines, or Kiro markdown (starting with `#`); `-` reads
    /// standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Option<PathBuf>,
    /// Regenerate this phase's document even if it exists (repeatable).
    #[arg(long, value_enum, value_name = "PHASE")]
    pub(crate) regenerate: Vec<PhaseArg>,
    /// Run optional tasks (`- [ ]*`) too.
    #[arg(long)]
    pub(crate) include_optional: bool,
    /// Print the task graph (each task, its kind and what it waits for)
    /// without running anything.
    #[arg(long, conflicts_with_all = ["resume", "from", "regenerate", "yes"])]
    pub(crate) plan: bool,
    /// Use the LLM-backed stages (the model of `[llm]` or `KIRO_LLM_*`)
    /// even when `[llm]` names no provider; an `[executor]` you configured
    /// still runs the tasks, else kiro's own agent does.
    #[arg(long, conflicts_with = "no_llm")]
    pub(crate) llm: bool,
    /// Use the deterministic stages even when `[llm]` is configured.
    #[arg(long)]
    pub(crate) no_llm: bool,
}

/// `kiro status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// `text`: a readable report. `json`: one object (documented in the README).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro checkpoint ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CheckpointCommand {
    /// List the runs (of one spec, or all) and their checkpoints.
    List(CheckpointListArgs),
    /// Show one checkpoint: node, parent, time, files changed, artifacts.
    Show(CheckpointShowArgs),
}

/// `kiro checkpoint list`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointListArgs {
    /// Only the runs of this spec (a name or a spec folder).
    pub(crate) spec: Option<String>,
    /// `text`: one block per run. `json`: an array of runs with their checkpoints.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro checkpoint show`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointShowArgs {
    /// The checkpoint, written `RUN@ID` (as `kiro checkpoint list` prints it).
    #[arg(value_name = "RUN@ID")]
    pub(crate) checkpoint: String,
    /// `text`: a summary. `json`: the stored checkpoint record.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// A checkpoint argument of `rollback` and `fork`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointArg {
    /// The checkpoint, written `RUN@ID` (as `kiro checkpoint list` prints it).
    #[arg(value_name = "RUN@ID")]
    pub(crate) checkpoint: String,
}

/// `kiro spec ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SpecCommand {
    /// List every folder under `.kiro/specs/`: name, kind, dialect,
    /// requirement, criterion and property counts, and tasks done/total
    /// (every checkbox, sub-tasks included). A folder with no document yet
    /// (only `brief.md`, `plan.md`, `.config.kiro`, `spec.json`, ...) is
    /// listed as incomplete with what it holds; one that cannot be loaded is
    /// listed with its error and makes the exit status 1.
    List(ListArgs),
    /// Create `.kiro/specs/<NAME>/requirements.md`, from a template or from
    /// plain text / EARS bullet lines, and print its path.
    New(NewArgs),
    /// Show a spec as a readable outline, or as JSON (the `spec` schema).
    Show(ShowArgs),
    /// Rewrite spec documents in canonical Kiro form (only files that change).
    Fmt(FmtArgs),
    /// Check specs for EARS and traceability problems.
    Lint(LintArgs),
}

/// Output format of `spec list`, `spec show`, `status` and `checkpoint`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON on one document.
    Json,
}

/// `kiro spec list`. Exit status: 0 when every folder is a spec or an
/// incomplete one, 1 when some folder cannot be loaded (the others are still
/// listed), 2 when nothing can be listed.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// `text`: one line per folder; incomplete and failed ones end with what
    /// they hold or their error. `json`: an array of objects with `name`,
    /// `path`, `status` (`ok`, `incomplete` or `error`), `kind`, `dialect`
    /// (`null` for an error), `documents`, `requirements`, `criteria`,
    /// `properties`, `tasks_done`, `tasks_total`, `files` (the folder's
    /// entries) and `error` (a message, or `null`).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro spec new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// Spec name: the folder under `.kiro/specs/` (letters, digits, `-`, `_`, `.`).
    pub(crate) name: String,
    /// Build the requirements from this file of plain text or EARS bullet
    /// lines (`-` reads standard input). Without it, a one-requirement template.
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Option<PathBuf>,
    /// Have the configured model (`[llm]`, `KIRO_LLM_*`) write the
    /// requirements from the `--from` text: user stories with EARS
    /// criteria, linted before they are written.
    #[arg(long, requires = "from")]
    pub(crate) llm: bool,
}

/// `kiro spec show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Spec name (`.kiro/specs/<SPEC>`) or path to a spec folder.
    pub(crate) spec: String,
    /// `text`: an outline. `json`: the spec model (see `kiro schema spec`).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextOrJson,
}

/// `kiro spec fmt`.
#[derive(Debug, Args)]
pub(crate) struct FmtArgs {
    /// Spec names or folders; none means every spec of the workspace.
    #[arg(value_name = "SPEC")]
    pub(crate) specs: Vec<String>,
    /// Write nothing; print the files that are not canonical and exit 1 if any.
    #[arg(long)]
    pub(crate) check: bool,
}

/// Output format of `spec lint`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LintFormat {
    /// rustc-like text with source snippets (coloured on a terminal unless `NO_COLOR` is set).
    #[default]
    Human,
    /// A JSON array of diagnostics (see `kiro schema diagnostics`).
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// The lowest severity that makes `spec lint` exit 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum DenyLevel {
    /// Fail on errors only.
    #[default]
    Errors,
    /// Fail on warnings and errors.
    Warnings,
    /// Fail on any finding, notes included.
    Notes,
}

/// `kiro spec lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Spec names or folders; none means every spec of the workspace.
    #[arg(value_name = "SPEC")]
    pub(crate) specs: Vec<String>,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: LintFormat,
    /// Exit 1 when a finding has this severity or a higher one.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) deny: DenyLevel,
}

/// What `kiro schema` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaKind {
    /// A whole spec, as printed by `spec show --format json`.
    Spec,
    /// `requirements.md`.
    Requirements,
    /// `bugfix.md`.
    Bugfix,
    /// `design.md`.
    Design,
    /// `tasks.md`.
    Tasks,
    /// The output of `spec lint --format json`.
    Diagnostics,
    /// The verification matrix of `verify --format json` (also the
    /// `matrix` field of `trace --format json`).
    Matrix,
    /// The output of `status --format json`.
    Status,
    /// The output of `trace --format json`.
    Trace,
    /// The output of `verify --format json` (the verification matrix).
    Verify,
    /// The output of `checkpoint list --format json`.
    Checkpoints,
    /// The output of `pbt run --format json`.
    Pbt,
    /// The output of `memory list|show|search|recall --format json`.
    Memory,
}

/// `kiro schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum)]
    pub(crate) kind: SchemaKind,
}
