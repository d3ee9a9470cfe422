//! The bridge from the command line to [`kiro_core::project`]: opening the
//! [`Project`] of the workspace, the CLI's wording for the project's errors
//! (the advice on `.kiro/config.toml` is the CLI's to give), and the
//! conversions of command-line values.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use kiro_core::audit::AuditLog;
use kiro_core::checkpoint::{CheckpointRef, FileCheckpointStore};
use kiro_core::config::Config;
use kiro_core::project::{Project, ProjectError};
use kiro_core::sandbox::Launcher;
use kiro_core::stage::Phase;
use kiro_core::store;

use crate::cli::PhaseArg;
use crate::workspace::Workspace as CliWorkspace;

/// Reads `<root>/.kiro/config.toml` (defaults when absent).
pub(crate) fn config(ws: &CliWorkspace) -> Result<Config> {
    Ok(Config::load_workspace(ws.root())?)
}

/// The project of the workspace, configured by its `.kiro/config.toml`.
pub(crate) fn project(ws: &CliWorkspace) -> Result<Project> {
    Project::open(ws.root()).map_err(explain)
}

/// A project error with the CLI's advice: what to set in
/// `.kiro/config.toml` or which flag to use.
pub(crate) fn explain(e: ProjectError) -> anyhow::Error {
    match e {
        ProjectError::Core(e) => anyhow::Error::new(e),
        ProjectError::StoreInsideWorkspace { dir, .. } => anyhow!(
            "[checkpoints] dir = {} lies inside the workspace, where every task's changes are \
             scanned; choose a directory outside it (or leave it unset for .kiro/runs)",
            dir.display()
        ),
        ProjectError::NoExecutor { .. } => anyhow!(
            "no executor configured: set `[executor] command = [\"program\", \"arg\"]` in \
             .kiro/config.toml (it runs once per task with the task brief on standard input), \
             or `[executor] preset = \"claude-code\"` (or codex, gemini, aider, kiro-cli) to run \
             an agent CLI you have, or stop before execution with `--until tasks`"
        ),
        ProjectError::NoVerifier { spec } => anyhow!(
            "no test command configured: set `[verifier] command = [\"program\", \"arg\"]` \
             (and `junit = \"path/to/junit.xml\"` when it writes one) in .kiro/config.toml, \
             or report existing results with `kiro verify {spec} --no-run`"
        ),
        ProjectError::NoResults { spec, junit } => anyhow!(
            "no results to report for spec `{spec}` (--no-run): {} and no earlier \
             `kiro verify` or `kiro run` verified it; run `kiro verify {spec}` without --no-run",
            match junit {
                Some(rel) => format!("the JUnit file {} does not exist", rel.display()),
                None => "no `[verifier] junit` file is configured".to_owned(),
            },
        ),
        other => anyhow::Error::new(other),
    }
}

/// The hidden first argument that makes `kiro` the sandbox launcher.
pub(crate) const LAUNCHER_SUBCOMMAND: &str = "__sandbox";

/// This very program as the launcher that confines each agent; `None` when
/// the executable cannot be found (the executor then runs agents
/// unconfined in best-effort mode and refuses them in `enforce` mode).
pub(crate) fn launcher() -> Option<Launcher> {
    let exe = std::env::current_exe().ok()?;
    Some(Launcher::new(exe, [LAUNCHER_SUBCOMMAND]))
}

/// The checkpoint store of the workspace (`[checkpoints] dir`, else
/// `.kiro/runs/`).
pub(crate) fn checkpoint_store(ws: &CliWorkspace) -> Result<FileCheckpointStore> {
    Ok(FileCheckpointStore::at(project(ws)?.runs_dir()))
}

/// The workspace's audit log (`.kiro/audit.jsonl`), keeping its heads in
/// the store's directory.
pub(crate) fn audit_log(ws: &CliWorkspace) -> Result<AuditLog> {
    project(ws)?.audit_log().map_err(explain)
}

/// Parses a `RUN@ID` argument, saying what was expected when it is not one.
pub(crate) fn checkpoint_ref(arg: &str) -> Result<CheckpointRef> {
    arg.parse().with_context(|| {
        format!("`{arg}` is not a checkpoint; expected RUN@ID as `kiro checkpoint list` prints it")
    })
}

/// The engine's phase for a command-line phase.
pub(crate) fn phase(arg: PhaseArg) -> Phase {
    match arg {
        PhaseArg::Requirements => Phase::Requirements,
        PhaseArg::Design => Phase::Design,
        PhaseArg::Tasks => Phase::Tasks,
        PhaseArg::Execute => Phase::Execute,
        PhaseArg::Verify => Phase::Verify,
    }
}

/// The folder of a `<SPEC>` argument that may not exist yet: an existing
/// spec folder, or `.kiro/specs/<name>` for a new spec when `may_create`.
pub(crate) fn spec_dir_for_run(ws: &CliWorkspace, arg: &str, may_create: bool) -> Result<PathBuf> {
    let resolved = store::resolve_spec(ws.root(), arg);
    if resolved.is_dir() || !may_create {
        return ws.spec_dir(arg);
    }
    if arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) {
        bail!("no spec folder {arg}; name a new spec by its name to create it under .kiro/specs/");
    }
    store::validate_spec_name(arg)?;
    Ok(store::specs_dir(ws.root()).join(arg))
}

/// The spec name of a spec folder (its folder name), as the engine records it.
pub(crate) fn spec_name(dir: &Path) -> String {
    kiro_core::project::spec_name(dir)
}

/// The name of the spec a `<SPEC>` filter means: the folder name of an
/// existing spec, else the argument itself (the runs of a removed spec can
/// still be listed).
pub(crate) fn spec_filter(ws: &CliWorkspace, arg: &str) -> String {
    match ws.spec_dir(arg) {
        Ok(dir) => spec_name(&dir),
        Err(_) => arg.to_owned(),
    }
}

/// The report renderer for a command-line format.
pub(crate) fn report_format(arg: crate::cli::ReportFormat) -> kiro_core::report::Format {
    use crate::cli::ReportFormat;
    use kiro_core::report::Format;
    match arg {
        ReportFormat::Text => Format::Terminal,
        ReportFormat::Md => Format::Markdown,
        ReportFormat::Json => Format::Json,
        ReportFormat::Junit => Format::Junit,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Html => Format::Html,
    }
}
