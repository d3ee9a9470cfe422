//! The parts of kiro-core's engine that the pipeline commands share, built
//! from the workspace and its `.kiro/config.toml`: the [`Workspace`] with
//! its [`Policy`], the checkpoint store, and checkpoint references.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kiro_core::audit::AuditLog;
use kiro_core::checkpoint::{CheckpointRef, FileCheckpointStore};
use kiro_core::config::{Config, PolicyConfig};
use kiro_core::sandbox::Launcher;
use kiro_core::stage::Phase;
use kiro_core::store;
use kiro_core::workspace::{Policy, Workspace, DEFAULT_REPO};

use crate::cli::PhaseArg;
use crate::workspace::Workspace as CliWorkspace;

/// Reads `<root>/.kiro/config.toml` (defaults when absent).
pub(crate) fn config(ws: &CliWorkspace) -> Result<Config> {
    Ok(Config::load_workspace(ws.root())?)
}

/// The policy `[policy]` describes. A list the file leaves out does not
/// restrict anything: a workspace whose owner wrote no policy trusts the
/// executor it configured, as it trusts any program it runs by hand.
pub(crate) fn policy(config: &PolicyConfig) -> Policy {
    let open = Policy::permissive();
    Policy {
        writable: config.writable.clone().unwrap_or(open.writable),
        commands: config.commands.clone().unwrap_or(open.commands),
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

/// The workspace the engine works in: one repository at the root, under the
/// configured policy.
pub(crate) fn workspace(ws: &CliWorkspace, config: &Config) -> Result<Workspace> {
    Workspace::builder()
        .repo(DEFAULT_REPO, ws.root())
        .policy(policy(&config.policy))
        .build()
        .with_context(|| format!("cannot open the workspace {}", ws.root().display()))
}

/// The directory of the checkpoint store, the spec locks and the audit
/// log's heads: `[checkpoints] dir`, else `<root>/.kiro/runs/`.
///
/// A configured directory inside the workspace (other than `.kiro/runs`)
/// is refused: the workspace scan would take the store for task output.
pub(crate) fn runs_dir(ws: &CliWorkspace) -> Result<PathBuf> {
    let dir = lexical(&config(ws)?.checkpoints.resolve(ws.root()));
    let root = lexical(ws.root());
    if dir.starts_with(&root) && dir != root.join(".kiro").join("runs") {
        bail!(
            "[checkpoints] dir = {} lies inside the workspace, where every task's changes are \
             scanned; choose a directory outside it (or leave it unset for .kiro/runs)",
            dir.display()
        );
    }
    Ok(dir)
}

/// `path` with `.` and `..` components resolved lexically (links are not
/// followed: the store directory may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The checkpoint store in [`runs_dir`].
pub(crate) fn checkpoint_store(ws: &CliWorkspace) -> Result<FileCheckpointStore> {
    Ok(FileCheckpointStore::at(runs_dir(ws)?))
}

/// The workspace's audit log (`.kiro/audit.jsonl`), keeping its heads in
/// [`runs_dir`].
pub(crate) fn audit_log(ws: &CliWorkspace) -> Result<AuditLog> {
    Ok(AuditLog::open(ws.root())?.with_heads_dir(Some(runs_dir(ws)?)))
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
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
