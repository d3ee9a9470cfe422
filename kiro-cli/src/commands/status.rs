//! `kiro status`: a spec's tasks and progress, and where its latest run is.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::checkpoint::CheckpointStore;
use kiro_core::pipeline;
use kiro_core::redact::Redactor;
use kiro_core::spec::{Task, TaskStatus};
use kiro_core::stage::{OutcomeStatus, TaskOutcome};
use kiro_core::store::DocKind;
use serde::Serialize;

use crate::cli::{StatusArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// The JSON document of `kiro status --format json` (part of the CLI contract).
#[derive(Debug, Serialize)]
struct Status {
    /// The spec's name.
    spec: String,
    /// Its folder, relative to the workspace root.
    path: String,
    /// The documents present, in workflow order.
    documents: Vec<DocKind>,
    /// Every task, depth first in document order.
    tasks: Vec<TaskRow>,
    /// Counts over `tasks`.
    progress: Progress,
    /// The latest run of the spec, if there is one with a checkpoint.
    run: Option<RunRow>,
}

#[derive(Debug, Serialize)]
struct TaskRow {
    id: Option<String>,
    title: String,
    /// `not_started`, `in_progress`, `queued` or `done`: the mark in tasks.md.
    status: TaskStatus,
    optional: bool,
    /// 0 for a top-level task, 1 for its sub-tasks, and so on.
    depth: usize,
    /// The outcome the latest run recorded for this task, if any.
    outcome: Option<OutcomeStatus>,
}

#[derive(Debug, Default, Serialize)]
struct Progress {
    done: usize,
    in_progress: usize,
    not_started: usize,
    total: usize,
}

#[derive(Debug, Serialize)]
struct RunRow {
    /// The run id.
    id: String,
    /// Its last checkpoint, `run@id`.
    checkpoint: String,
    /// The node that wrote it.
    node: String,
    /// When, RFC 3339 UTC.
    created_at: String,
    /// How many checkpoints the run has.
    checkpoints: usize,
    /// The nodes completed as of that checkpoint, sorted.
    completed: Vec<String>,
    /// The task outcomes as of that checkpoint, by task id.
    outcomes: Vec<TaskOutcome>,
    /// Verification counts, once the verify phase ran.
    verification: Option<Verification>,
}

#[derive(Debug, Serialize)]
struct Verification {
    passed: usize,
    failed: usize,
    untested: usize,
}

/// Prints the status of one spec.
pub(super) fn run(ws: &Workspace, args: &StatusArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let loaded = ws.load(&dir)?;
    let name = engine::spec_name(&dir);
    let store = engine::checkpoint_store(ws)?;

    let run =
        match pipeline::latest_run(&store, &name).context("cannot read the checkpoint store")? {
            Some(id) => match store.latest(&id)? {
                Some(last) => {
                    let (artifacts, completed) = pipeline::state_at(&store, &last.reference())
                        .with_context(|| format!("cannot read run {id}"))?;
                    Some(RunRow {
                        id: id.to_string(),
                        checkpoint: last.reference().to_string(),
                        node: last.node.clone(),
                        created_at: last.created_at.clone(),
                        checkpoints: store.list(&id)?.len(),
                        completed: completed.into_iter().collect(),
                        outcomes: artifacts.outcomes.into_values().collect(),
                        verification: artifacts.report.map(|r| {
                            let (passed, failed, untested) = r.counts();
                            Verification {
                                passed,
                                failed,
                                untested,
                            }
                        }),
                    })
                }
                None => None,
            },
            None => None,
        };

    let mut tasks = Vec::new();
    if let Some(list) = &loaded.spec.tasks {
        for t in &list.tasks {
            push_rows(&mut tasks, t, 0, run.as_ref());
        }
    }
    let mut progress = Progress {
        total: tasks.len(),
        ..Progress::default()
    };
    for t in &tasks {
        match t.status {
            TaskStatus::Done => progress.done += 1,
            TaskStatus::InProgress => progress.in_progress += 1,
            TaskStatus::NotStarted | TaskStatus::Queued => progress.not_started += 1,
        }
    }
    let status = Status {
        spec: name,
        path: ws.display(&loaded.dir).display().to_string(),
        documents: loaded.files.iter().map(|f| f.kind).collect(),
        tasks,
        progress,
        run,
    };
    // Outcome summaries quote what agents printed: secrets are redacted
    // from both formats (the run log is redacted when written, but older
    // logs and the spec's own text are not).
    let redactor = Redactor::from_env();
    match args.format {
        TextOrJson::Json => {
            let mut value = serde_json::to_value(&status)?;
            redactor.redact_value(&mut value);
            output::println(&serde_json::to_string_pretty(&value)?)?;
        }
        TextOrJson::Text => output::print(&text(&status, &redactor))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn push_rows(out: &mut Vec<TaskRow>, task: &Task, depth: usize, run: Option<&RunRow>) {
    let id = task.id.as_ref().map(ToString::to_string);
    let outcome = id.as_deref().and_then(|id| {
        run.and_then(|r| r.outcomes.iter().find(|o| o.task.as_str() == id))
            .map(|o| o.status)
    });
    out.push(TaskRow {
        id,
        title: task.title.split_whitespace().collect::<Vec<_>>().join(" "),
        status: task.status,
        optional: task.optional,
        depth,
        outcome,
    });
    for sub in &task.subtasks {
        push_rows(out, sub, depth + 1, run);
    }
}

fn doc_name(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Requirements => "requirements",
        DocKind::Bugfix => "bugfix",
        DocKind::Design => "design",
        DocKind::Tasks => "tasks",
    }
}

fn outcome_name(status: OutcomeStatus) -> &'static str {
    match status {
        OutcomeStatus::Done => "done",
        OutcomeStatus::Failed => "failed",
        OutcomeStatus::Skipped => "skipped",
    }
}

/// The text report. Every string from the spec, the workspace or a run
/// goes through [`Redactor::for_terminal`]: a task title or an outcome
/// summary may hold line breaks or escape sequences that would otherwise
/// forge lines or drive the terminal.
fn text(s: &Status, redactor: &Redactor) -> String {
    let shown = |text: &str| redactor.for_terminal(text);
    let docs: Vec<&str> = s.documents.iter().map(|d| doc_name(*d)).collect();
    let mut out = format!(
        "{} ({})\ndocuments: {}\n",
        shown(&s.spec),
        shown(&s.path),
        if docs.is_empty() {
            "none".to_owned()
        } else {
            docs.join(", ")
        }
    );
    let p = &s.progress;
    let _ = writeln!(
        out,
        "tasks: {}/{} done, {} in progress, {} not started",
        p.done, p.total, p.in_progress, p.not_started
    );
    for t in &s.tasks {
        let outcome = t
            .outcome
            .map(|o| format!("  [last run: {}]", outcome_name(o)))
            .unwrap_or_default();
        let id =
            t.id.as_deref()
                .map(|i| format!("{} ", shown(i)))
                .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}[{}]{} {id}{}{outcome}",
            "  ".repeat(t.depth + 1),
            t.status.mark(),
            if t.optional { "*" } else { "" },
            shown(&t.title)
        );
    }
    match &s.run {
        None => out.push_str("latest run: none\n"),
        Some(r) => {
            let _ = writeln!(
                out,
                "latest run: {} ({} checkpoints; last {} after {} at {})",
                shown(&r.id),
                r.checkpoints,
                shown(&r.checkpoint),
                shown(&r.node),
                shown(&r.created_at)
            );
            let count = |st: OutcomeStatus| r.outcomes.iter().filter(|o| o.status == st).count();
            let _ = writeln!(
                out,
                "outcomes: {} done, {} failed, {} skipped",
                count(OutcomeStatus::Done),
                count(OutcomeStatus::Failed),
                count(OutcomeStatus::Skipped)
            );
            for o in r
                .outcomes
                .iter()
                .filter(|o| o.status == OutcomeStatus::Failed)
            {
                let _ = writeln!(
                    out,
                    "  task {} failed: {}",
                    shown(o.task.as_str()),
                    shown(&o.summary)
                );
            }
            // Tasks confined alike share one line.
            let mut sandboxes: Vec<(String, usize)> = Vec::new();
            for summary in r
                .outcomes
                .iter()
                .filter_map(|o| o.sandbox.as_ref())
                .map(|s| s.summary())
            {
                match sandboxes.iter_mut().find(|(s, _)| *s == summary) {
                    Some((_, n)) => *n += 1,
                    None => sandboxes.push((summary, 1)),
                }
            }
            for (summary, n) in sandboxes {
                let tasks = if n == 1 { "task" } else { "tasks" };
                let _ = writeln!(out, "sandbox ({n} {tasks}): {summary}");
            }
            if let Some(v) = &r.verification {
                let _ = writeln!(
                    out,
                    "verification: {} passed, {} failed, {} untested",
                    v.passed, v.failed, v.untested
                );
            }
        }
    }
    out
}
