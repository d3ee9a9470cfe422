//! `kiro checkpoint list|show`, `kiro rollback` and `kiro fork`: the
//! checkpoints of pipeline runs under `.kiro/runs/`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::audit::file_label;
use kiro_core::checkpoint::{CheckpointRef, CheckpointStore, FileState, RollbackReport};
use kiro_core::pipeline;
use kiro_core::project::ProjectError;

use crate::cli::{CheckpointArg, CheckpointListArgs, CheckpointShowArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// `kiro checkpoint list [<SPEC>]`.
pub(super) fn list(ws: &Workspace, args: &CheckpointListArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let filter = args.spec.as_deref().map(|s| engine::spec_filter(ws, s));
    let list = project
        .checkpoints(filter.as_deref())
        .map_err(engine::explain)
        .context("cannot read the checkpoint store")?;
    let rows = &list.runs;
    match args.format {
        TextOrJson::Json => output::println(&list.to_json()?)?,
        TextOrJson::Text if rows.is_empty() => match &filter {
            Some(spec) => eprintln!("no runs of spec `{spec}`"),
            None => eprintln!("no runs yet; start one with `kiro run <SPEC>`"),
        },
        TextOrJson::Text => {
            let mut out = String::new();
            for r in rows {
                let _ = writeln!(
                    out,
                    "run {} (spec {}, {} checkpoints)",
                    r.run_id,
                    r.spec.as_deref().unwrap_or("?"),
                    r.checkpoints.len()
                );
                let width = r
                    .checkpoints
                    .iter()
                    .map(|c| c.node.chars().count())
                    .max()
                    .unwrap_or_default();
                for c in &r.checkpoints {
                    let parent = match &c.parent {
                        Some(p) if p.starts_with(&format!("{}@", r.run_id)) => {
                            format!("after {}", p.rsplit('@').next().unwrap_or(p))
                        }
                        Some(p) => format!("from {p}"),
                        None => "first".to_owned(),
                    };
                    let _ = writeln!(
                        out,
                        "  {:>4}  {:<width$}  {}  {:>3} files  {parent}",
                        c.id, c.node, c.created_at, c.files_changed
                    );
                }
            }
            output::print_escaped(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiro checkpoint show <RUN@ID>`.
pub(super) fn show(ws: &Workspace, args: &CheckpointShowArgs) -> Result<ExitCode> {
    let store = engine::checkpoint_store(ws)?;
    let at = engine::checkpoint_ref(&args.checkpoint)?;
    let cp = store
        .get(&at.run_id, &at.id)
        .with_context(|| format!("cannot read checkpoint {at}"))?;
    if args.format == TextOrJson::Json {
        output::println(&serde_json::to_string_pretty(&cp)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!("checkpoint {at}\nnode: {}\n", cp.node);
    let _ = writeln!(
        out,
        "parent: {}",
        cp.parent
            .as_ref()
            .map_or_else(|| "none (first of its run)".to_owned(), ToString::to_string)
    );
    let _ = writeln!(out, "created: {}", cp.created_at);
    let _ = writeln!(out, "files changed: {}", cp.files.len());
    for f in &cp.files {
        let state = match &f.state {
            FileState::Present { blob, mode } => format!(
                "present {} mode {mode:04o}",
                blob.as_str().get(..12).unwrap_or(blob.as_str()),
            ),
            FileState::Symlink { target } => format!("symlink -> {target}"),
            FileState::Deleted => "deleted".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}  {state}",
            file_label(&(f.repo.clone(), f.path.clone()))
        );
    }
    // The record's own kind says what the node stored; the state at the
    // checkpoint (the fold of its chain) says where the run stood.
    let kind = cp
        .artifacts
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown");
    let _ = writeln!(out, "record: {kind}");
    // A task's record says which memories its agent was given, and why.
    if let Some(outcome) = cp
        .artifacts
        .get("outcome")
        .and_then(|v| serde_json::from_value::<kiro_core::stage::TaskOutcome>(v.clone()).ok())
    {
        recalled(&mut out, &outcome);
    }
    match pipeline::state_at(&store, &at) {
        Ok((artifacts, completed)) => {
            let spec = &artifacts.spec;
            let mut docs = Vec::new();
            if spec.requirements.is_some() {
                docs.push("requirements");
            }
            if spec.bugfix.is_some() {
                docs.push("bugfix");
            }
            if spec.design.is_some() {
                docs.push("design");
            }
            if spec.tasks.is_some() {
                docs.push("tasks");
            }
            let _ = writeln!(
                out,
                "artifacts: spec `{}` with {}",
                spec.name,
                if docs.is_empty() {
                    "no documents".to_owned()
                } else {
                    docs.join(", ")
                }
            );
            let _ = writeln!(
                out,
                "task outcomes: {}",
                super::run::outcome_counts(&artifacts)
            );
            if let Some(report) = &artifacts.report {
                let (p, f, u) = report.counts();
                let _ = writeln!(out, "verification: {p} passed, {f} failed, {u} untested");
            }
            let _ = writeln!(out, "completed nodes: {}", completed.len());
        }
        Err(e) => {
            let _ = writeln!(out, "artifacts: unreadable ({e})");
        }
    }
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The memories recalled for a task, one line each: id (or the start of
/// its text), why, and its tokens.
fn recalled(out: &mut String, outcome: &kiro_core::stage::TaskOutcome) {
    if outcome.recalled.is_empty() {
        return;
    }
    let _ = writeln!(out, "recalled memories for task {}:", outcome.task);
    for r in &outcome.recalled {
        let what = match (&r.id, &r.text) {
            (Some(id), _) => format!("#{id}"),
            (None, Some(text)) => format!("{:?}", text.lines().next().unwrap_or("")),
            (None, None) => "(no id)".to_owned(),
        };
        let _ = writeln!(out, "  {what}: {} ({} tokens)", r.reason, r.tokens);
    }
}

/// `kiro rollback <RUN@ID>`.
pub(super) fn rollback(ws: &Workspace, args: &CheckpointArg) -> Result<ExitCode> {
    let at = engine::checkpoint_ref(&args.checkpoint)?;
    let project = engine::project(ws)?;
    let done = project
        .rollback(&at)
        .map_err(|e| moved(e, &format!("cannot roll back to {at}")))?;
    completed(&done.completed);
    let mut out = changes(&done.report);
    let spec = done.spec.unwrap_or_else(|| "<SPEC>".into());
    let _ = writeln!(
        out,
        "rolled back to {at}; new checkpoint {}\n\
         continue the run with `kiro run {spec} --resume {}`",
        done.new, at.run_id
    );
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro fork <RUN@ID>`.
pub(super) fn fork(ws: &Workspace, args: &CheckpointArg) -> Result<ExitCode> {
    let at = engine::checkpoint_ref(&args.checkpoint)?;
    let project = engine::project(ws)?;
    let done = project
        .fork(&at)
        .map_err(|e| moved(e, &format!("cannot fork from {at}")))?;
    completed(&done.completed);
    let mut out = changes(&done.report);
    let new = &done.new;
    let spec = done.spec.unwrap_or_else(|| "<SPEC>".into());
    let _ = writeln!(
        out,
        "forked run {} from {at} (its first checkpoint is {new}); run {} is unchanged\n\
         continue the new run with `kiro run {spec} --resume {}`",
        new.run_id, at.run_id, new.run_id
    );
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The error of a rollback or fork: one that happened but was not recorded
/// says so as it is; any other failure gets `context`.
fn moved(e: ProjectError, context: &str) -> anyhow::Error {
    match e {
        e @ ProjectError::Unrecorded { .. } => engine::explain(e),
        e => engine::explain(e).context(context.to_owned()),
    }
}

/// Says which rollbacks and forks a crash had interrupted were completed
/// first.
fn completed(done: &[(CheckpointRef, RollbackReport)]) {
    for (cp, report) in done {
        eprintln!(
            "completed an interrupted rollback or fork: checkpoint {cp} \
             ({} files restored, {} removed)",
            report.written.len(),
            report.removed.len()
        );
    }
}

/// One line per file written or removed.
fn changes(report: &RollbackReport) -> String {
    let mut out = String::new();
    for key in &report.written {
        let _ = writeln!(out, "restored {}", file_label(key));
    }
    for key in &report.removed {
        let _ = writeln!(out, "removed {}", file_label(key));
    }
    if report.written.is_empty() && report.removed.is_empty() {
        out.push_str("no workspace file changed\n");
    }
    out
}
