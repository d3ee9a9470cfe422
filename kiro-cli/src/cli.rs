//! The command line, as clap types. Help texts here are the user-facing
//! reference, so they state exit codes and output shapes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status:
  0  success (for `spec lint`: no finding at or above the --deny level;
     for `spec fmt --check`: every file already canonical)
  1  `spec lint` found a problem at or above the --deny level,
     or `spec fmt --check` found a file that is not canonical
  2  usage error, unknown spec, no workspace, or an I/O or parse error";

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
    /// in the workspace (default: the current directory). Safe to run again:
    /// an existing config.toml is never overwritten.
    Init,
    /// Work with the specs under `.kiro/specs/`.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Print the JSON Schema of a document type or of `spec lint --format json` output.
    Schema(SchemaArgs),
}

/// `kiro spec ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SpecCommand {
    /// List the specs: name, kind, dialect, requirement, criterion and property
    /// counts, and tasks done/total (every checkbox, sub-tasks included).
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

/// Output format of `spec list` and `spec show`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON on one document.
    Json,
}

/// `kiro spec list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// `text`: one line per spec. `json`: an array of objects with `name`,
    /// `path`, `kind`, `dialect`, `documents`, `requirements`, `criteria`,
    /// `properties`, `tasks_done`, `tasks_total`.
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
}

/// `kiro schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum)]
    pub(crate) kind: SchemaKind,
}
