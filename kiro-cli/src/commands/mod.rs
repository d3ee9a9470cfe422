//! One module per command; each returns the exit status it wants, or an
//! error that `main` prints and turns into exit status 2.

mod approve;
mod audit;
mod checkpoint;
mod fmt;
mod init;
mod lint;
mod list;
mod llm;
mod memory;
mod new;
mod pbt;
mod run;
mod schema;
mod show;
mod status;
mod task;
mod trace;
mod verify;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{
    AuditCommand, CheckpointCommand, Cli, Command, LlmCommand, MemoryCommand, PbtCommand,
    SpecCommand, TaskCommand,
};
use crate::workspace::Workspace;

/// Exit status for findings: lint problems at the deny level, unformatted files.
const EXIT_FINDINGS: u8 = 1;

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init => init::run(cli.workspace.as_deref()),
        Command::Schema(args) => schema::run(args.kind),
        Command::Spec(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                SpecCommand::List(args) => list::run(&ws, args.format),
                SpecCommand::New(args) => new::run(&ws, &args),
                SpecCommand::Show(args) => show::run(&ws, &args),
                SpecCommand::Fmt(args) => fmt::run(&ws, &args),
                SpecCommand::Lint(args) => lint::run(&ws, &args),
            }
        }
        Command::Run(args) => run::run(&Workspace::locate(cli.workspace.as_deref())?, &args),
        Command::Status(args) => status::run(&Workspace::locate(cli.workspace.as_deref())?, &args),
        Command::Checkpoint(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                CheckpointCommand::List(args) => checkpoint::list(&ws, &args),
                CheckpointCommand::Show(args) => checkpoint::show(&ws, &args),
            }
        }
        Command::Rollback(args) => {
            checkpoint::rollback(&Workspace::locate(cli.workspace.as_deref())?, &args)
        }
        Command::Fork(args) => {
            checkpoint::fork(&Workspace::locate(cli.workspace.as_deref())?, &args)
        }
        Command::Verify(args) => verify::run(&Workspace::locate(cli.workspace.as_deref())?, &args),
        Command::Trace(args) => trace::run(&Workspace::locate(cli.workspace.as_deref())?, &args),
        Command::Approve(args) => {
            approve::approve(&Workspace::locate(cli.workspace.as_deref())?, &args)
        }
        Command::Approvals(args) => {
            approve::approvals(&Workspace::locate(cli.workspace.as_deref())?, &args)
        }
        Command::Audit(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                AuditCommand::Verify(args) => audit::verify(&ws, &args),
                AuditCommand::List(args) => audit::list(&ws, &args),
            }
        }
        Command::Pbt(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                PbtCommand::Gen(args) => pbt::gen(&ws, &args),
                PbtCommand::Run(args) => pbt::run(&ws, &args),
            }
        }
        Command::Llm(LlmCommand::Check(args)) => {
            llm::check(&Workspace::locate(cli.workspace.as_deref())?, &args)
        }
        Command::Memory(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                MemoryCommand::Add(args) => memory::add(&ws, &args),
                MemoryCommand::List(args) => memory::list(&ws, &args),
                MemoryCommand::Show(args) => memory::show(&ws, &args),
                MemoryCommand::Search(args) => memory::search(&ws, &args),
                MemoryCommand::Forget(args) => memory::forget(&ws, &args),
                MemoryCommand::Ingest(args) => memory::ingest(&ws, &args),
                MemoryCommand::Recall(args) => memory::recall(&ws, &args),
                MemoryCommand::Export(args) => memory::export(&ws, &args),
                MemoryCommand::Import(args) => memory::import(&ws, &args),
            }
        }
        Command::Task(command) => {
            let ws = Workspace::locate(cli.workspace.as_deref())?;
            match command {
                TaskCommand::Next(args) => task::next(&ws, &args),
                TaskCommand::Start(args) => task::start(&ws, &args),
                TaskCommand::Done(args) => task::done(&ws, &args),
            }
        }
        Command::Mcp(args) => crate::mcp::run(&Workspace::locate(cli.workspace.as_deref())?, &args),
    }
}

/// Reads `--from FILE`, or standard input for `-` (`kiro spec new`, `kiro
/// run`), as UTF-8 text of at most the workspace's input limit: reading
/// stops there, so `--from /dev/zero` or an endless pipe fails at once.
fn read_input(ws: &Workspace, path: &std::path::Path) -> Result<String> {
    use anyhow::Context;
    let limit = ws.load_options()?.max_input_bytes;
    let text = if path == std::path::Path::new("-") {
        kiro_core::store::read_text(std::io::stdin().lock(), path, limit)
            .context("cannot read standard input")?
    } else {
        kiro_core::store::read_text_file(path, limit)
            .and_then(|t| {
                t.ok_or_else(|| kiro_core::Error::Io {
                    path: path.to_owned(),
                    source: std::io::ErrorKind::NotFound.into(),
                })
            })
            .with_context(|| format!("cannot read {}", path.display()))?
    };
    Ok(text)
}

/// `SUCCESS` when `ok`, else the findings status.
fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    }
}
