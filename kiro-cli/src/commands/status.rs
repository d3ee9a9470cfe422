//! `kiro status`: [`Project::status`] rendered as text or JSON.
//!
//! [`Project::status`]: kiro_core::project::Project::status

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::project::{RepoStatus, StatusReport};
use kiro_core::redact::Redactor;
use kiro_core::stage::OutcomeStatus;
use kiro_core::store::DocKind;

use crate::cli::{StatusArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Prints the status of one spec.
pub(super) fn run(ws: &Workspace, args: &StatusArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let dir = ws.spec_dir(&args.spec)?;
    let loaded = ws.load(&dir)?;
    let status = project
        .status(&loaded)
        .map_err(engine::explain)
        .with_context(|| format!("cannot read the runs of spec `{}`", args.spec))?;
    // Outcome summaries quote what agents printed: secrets are redacted
    // from both formats (the run log is redacted when written, but older
    // logs and the spec's own text are not).
    let redactor = project.redactor();
    match args.format {
        TextOrJson::Json => output::println(&status.to_json(redactor)?)?,
        TextOrJson::Text => output::print(&text(&status, redactor))?,
    }
    Ok(ExitCode::SUCCESS)
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
fn text(s: &StatusReport, redactor: &Redactor) -> String {
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
            if let Some(usage) = &r.usage {
                out.push_str(&crate::models::usage_report(usage));
            }
        }
    }
    for repo in &s.repos {
        out.push_str(&repo_line(repo, redactor));
    }
    out
}

/// One line per repository: `repo api (default): ../api; branch kiro/x at
/// 1a2b3c4; 2 run commits; 1 dirty file`.
fn repo_line(repo: &RepoStatus, redactor: &Redactor) -> String {
    let shown = |text: &str| redactor.for_terminal(text);
    let mut line = format!(
        "repo {}{}: {}",
        shown(&repo.name),
        if repo.default { " (default)" } else { "" },
        shown(&repo.root)
    );
    let head = repo.head.as_deref().map(|h| h.get(..7).unwrap_or(h));
    match (&repo.branch, head) {
        (None, None) => {
            line.push_str("; not a git work tree\n");
            return line;
        }
        (Some(branch), None) => {
            let _ = write!(line, "; branch {} (no commit yet)", shown(branch));
        }
        (Some(branch), Some(head)) => {
            let _ = write!(line, "; branch {} at {}", shown(branch), shown(head));
        }
        (None, Some(head)) => {
            let _ = write!(line, "; detached at {}", shown(head));
        }
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        line,
        "; {}; {}",
        plural(repo.run_commits.len(), "run commit", "run commits"),
        plural(repo.dirty.len(), "dirty file", "dirty files")
    );
    line
}
