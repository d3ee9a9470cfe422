//! `kiro task next|start|done`: [`Project::ready_tasks`],
//! [`Project::start_task`] and [`Project::complete_task`], the use cases
//! the MCP server's task tools call, for a person at a terminal.
//!
//! [`Project::ready_tasks`]: kiro_core::project::Project::ready_tasks
//! [`Project::start_task`]: kiro_core::project::Project::start_task
//! [`Project::complete_task`]: kiro_core::project::Project::complete_task

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use kiro_core::project::{ReadyKind, ReadyTask};
use kiro_core::spec::TaskStatus;

use crate::cli::{TaskDoneArgs, TaskIdArgs, TaskNextArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// `kiro task next`.
pub(super) fn next(ws: &Workspace, args: &TaskNextArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let dir = project.spec_dir(&args.spec).map_err(engine::explain)?;
    let spec = project.load_spec(&dir).map_err(engine::explain)?.spec;
    let ready = project.ready_tasks(&spec).map_err(engine::explain)?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&ready)?)?,
        TextOrJson::Text if ready.is_empty() => {
            output::println(&format!("no task of spec `{}` is ready", args.spec))?;
        }
        TextOrJson::Text => {
            let mut out = String::new();
            for task in &ready {
                let _ = writeln!(out, "{}", heading(task));
                for line in task.brief.lines() {
                    let _ = writeln!(out, "    {line}");
                }
                out.push('\n');
            }
            output::print_escaped(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiro task start`.
pub(super) fn start(ws: &Workspace, args: &TaskIdArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let started = project
        .start_task(&args.spec, &args.task)
        .map_err(engine::explain)?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&started)?)?,
        TextOrJson::Text => {
            let verb = if started.newly_started {
                "started"
            } else {
                "already in progress:"
            };
            output::print_escaped(&format!(
                "{verb} {} (run {})\n",
                heading(&started.task),
                started.run
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiro task done`.
pub(super) fn done(ws: &Workspace, args: &TaskDoneArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let done = project
        .complete_task(&args.spec, &args.task, &args.summary)
        .map_err(engine::explain)?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&done)?)?,
        TextOrJson::Text => {
            let mut out = format!(
                "task {} done: checkpoint {} ({} files changed; `kiro rollback {}` undoes it)\n",
                done.task,
                done.checkpoint,
                done.files.len(),
                done.parent
            );
            if !done.parents_done.is_empty() {
                let _ = writeln!(out, "also done: {}", done.parents_done.join(", "));
            }
            if done.ready.is_empty() {
                out.push_str("no task is ready now\n");
            } else {
                let _ = writeln!(out, "ready now: {}", done.ready.join(", "));
            }
            output::print_escaped(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `2.1 Title [in progress]` for a task line.
fn heading(task: &ReadyTask) -> String {
    let mut line = format!("{} {}", task.id, task.title);
    if task.kind == ReadyKind::Checkpoint {
        line.push_str(" [checkpoint]");
    }
    if task.status == TaskStatus::InProgress {
        line.push_str(" [in progress]");
    }
    if task.optional {
        line.push_str(" [optional]");
    }
    line
}
