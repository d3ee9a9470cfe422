//! `kiro checkpoint list|show`, `kiro rollback` and `kiro fork`: the
//! checkpoints of pipeline runs under `.kiro/runs/`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::audit::{AuditKind, AuditLog, NewEntry};
use kiro_core::checkpoint::{
    complete_intents, Checkpoint, CheckpointStore, FileKey, FileState, RollbackReport, SpecLock,
};
use kiro_core::pipeline;
use kiro_core::workspace::DEFAULT_REPO;
use serde::Serialize;
use serde_json::json;

use crate::cli::{CheckpointArg, CheckpointListArgs, CheckpointShowArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// One run in `kiro checkpoint list --format json` (part of the CLI contract).
#[derive(Debug, Serialize)]
struct RunRow {
    /// The run id.
    run_id: String,
    /// The spec it works on; `null` for a run without checkpoints.
    spec: Option<String>,
    /// Its checkpoints, oldest first.
    checkpoints: Vec<CheckpointRow>,
}

/// One checkpoint in `kiro checkpoint list --format json`.
#[derive(Debug, Serialize)]
struct CheckpointRow {
    /// The checkpoint id within the run.
    id: String,
    /// `run@id`, as the other commands take it.
    reference: String,
    /// The node that wrote it (`requirements`, `task 2.1`, `gate design`).
    node: String,
    /// When, RFC 3339 UTC.
    created_at: String,
    /// How many workspace files the node changed.
    files_changed: usize,
    /// The checkpoint it follows, `run@id`; `null` for a run's first.
    parent: Option<String>,
}

impl CheckpointRow {
    fn new(cp: &Checkpoint) -> CheckpointRow {
        CheckpointRow {
            id: cp.id.to_string(),
            reference: cp.reference().to_string(),
            node: cp.node.clone(),
            created_at: cp.created_at.clone(),
            files_changed: cp.files.len(),
            parent: cp.parent.as_ref().map(ToString::to_string),
        }
    }
}

/// `kiro checkpoint list [<SPEC>]`.
pub(super) fn list(ws: &Workspace, args: &CheckpointListArgs) -> Result<ExitCode> {
    let store = engine::checkpoint_store(ws)?;
    let filter = args.spec.as_deref().map(|s| engine::spec_filter(ws, s));
    let mut rows = Vec::new();
    for run in store.runs().context("cannot read the checkpoint store")? {
        let spec = pipeline::run_spec(&store, &run)?;
        if filter.is_some() && spec != filter {
            continue;
        }
        let checkpoints = store
            .list(&run)
            .with_context(|| format!("cannot read run {run}"))?;
        rows.push(RunRow {
            run_id: run.to_string(),
            spec,
            checkpoints: checkpoints.iter().map(CheckpointRow::new).collect(),
        });
    }
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&rows)?)?,
        TextOrJson::Text if rows.is_empty() => match &filter {
            Some(spec) => eprintln!("no runs of spec `{spec}`"),
            None => eprintln!("no runs yet; start one with `kiro run <SPEC>`"),
        },
        TextOrJson::Text => {
            let mut out = String::new();
            for r in &rows {
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

/// `kiro rollback <RUN@ID>`.
pub(super) fn rollback(ws: &Workspace, args: &CheckpointArg) -> Result<ExitCode> {
    let at = engine::checkpoint_ref(&args.checkpoint)?;
    let config = engine::config(ws)?;
    let workspace = engine::workspace(ws, &config)?;
    let store = engine::checkpoint_store(ws)?;
    let log = engine::audit_log(ws)?;
    // Not while a run of the same spec is changing the files.
    let _lock = match pipeline::run_spec(&store, &at.run_id)? {
        Some(spec) => Some(SpecLock::acquire(&engine::runs_dir(ws)?, &spec)?),
        None => None,
    };
    complete_interrupted(&store, &workspace)?;
    let (report, new) = pipeline::rollback(&store, &workspace, &at)
        .with_context(|| format!("cannot roll back to {at}"))?;
    let mut out = changes(&report);
    let known = pipeline::run_spec(&store, &at.run_id)?;
    record(
        &log,
        AuditKind::Rollback,
        known.as_deref(),
        &at.run_id.to_string(),
        json!({
            "checkpoint": at.to_string(),
            "new_checkpoint": new.to_string(),
            "written": labels(&report.written),
            "removed": labels(&report.removed),
        }),
    )?;
    let spec = known.unwrap_or_else(|| "<SPEC>".into());
    let _ = writeln!(
        out,
        "rolled back to {at}; new checkpoint {new}\n\
         continue the run with `kiro run {spec} --resume {}`",
        at.run_id
    );
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro fork <RUN@ID>`.
pub(super) fn fork(ws: &Workspace, args: &CheckpointArg) -> Result<ExitCode> {
    let at = engine::checkpoint_ref(&args.checkpoint)?;
    let config = engine::config(ws)?;
    let workspace = engine::workspace(ws, &config)?;
    let store = engine::checkpoint_store(ws)?;
    let log = engine::audit_log(ws)?;
    // Not while a run of the same spec is changing the files.
    let _lock = match pipeline::run_spec(&store, &at.run_id)? {
        Some(spec) => Some(SpecLock::acquire(&engine::runs_dir(ws)?, &spec)?),
        None => None,
    };
    complete_interrupted(&store, &workspace)?;
    let (report, new) = pipeline::fork(&store, &workspace, &at)
        .with_context(|| format!("cannot fork from {at}"))?;
    let mut out = changes(&report);
    let known =
        pipeline::run_spec(&store, &new.run_id)?.or(pipeline::run_spec(&store, &at.run_id)?);
    record(
        &log,
        AuditKind::Fork,
        known.as_deref(),
        &new.run_id.to_string(),
        json!({
            "from": at.to_string(),
            "new_run": new.run_id.to_string(),
            "new_checkpoint": new.to_string(),
            "written": labels(&report.written),
            "removed": labels(&report.removed),
        }),
    )?;
    let spec = known.unwrap_or_else(|| "<SPEC>".into());
    let _ = writeln!(
        out,
        "forked run {} from {at} (its first checkpoint is {new}); run {} is unchanged\n\
         continue the new run with `kiro run {spec} --resume {}`",
        new.run_id, at.run_id, new.run_id
    );
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Completes the rollbacks and forks a crash interrupted (their intents
/// are still in the store), before anything else touches the workspace,
/// and says so on standard error.
fn complete_interrupted(
    store: &impl CheckpointStore,
    workspace: &kiro_core::workspace::Workspace,
) -> Result<()> {
    let roots = workspace
        .repos()
        .map(|r| Ok((r.to_owned(), workspace.root(r)?.to_owned())))
        .collect::<kiro_core::Result<_>>()?;
    let done = complete_intents(store, &roots, |_| true)
        .context("cannot complete an interrupted rollback")?;
    for (cp, report) in done {
        eprintln!(
            "completed an interrupted rollback or fork: checkpoint {cp} \
             ({} files restored, {} removed)",
            report.written.len(),
            report.removed.len()
        );
    }
    Ok(())
}

/// Appends an entry for a rollback or fork that already happened; the
/// error says so, since the workspace has changed either way.
fn record(
    log: &AuditLog,
    kind: AuditKind,
    spec: Option<&str>,
    run: &str,
    data: serde_json::Value,
) -> Result<()> {
    let what = kind.to_string();
    let mut entry = NewEntry::new(kind).with_run(run).with_data(data);
    if let Some(spec) = spec {
        entry = entry.with_spec(spec);
    }
    log.append(entry).map(drop).with_context(|| {
        format!(
            "the {what} is done, but it could not be recorded in the audit log {}",
            log.path().display()
        )
    })
}

fn labels(keys: &[FileKey]) -> Vec<String> {
    keys.iter().map(file_label).collect()
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

/// A file's path, prefixed with its repository unless it is the only one.
fn file_label((repo, path): &FileKey) -> String {
    if repo == DEFAULT_REPO {
        path.clone()
    } else {
        format!("{repo}:{path}")
    }
}
