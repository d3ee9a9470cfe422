//! `kiro audit verify|list`: the hash-chained audit log `.kiro/audit.jsonl`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::audit::AuditReport;
use kiro_core::escape::escape_control;
use kiro_core::redact::Redactor;

use crate::cli::{AuditArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when the chain is broken.
const EXIT_BROKEN: u8 = 1;

/// `kiro audit verify`: exit 0 when the chain is intact and holds every
/// head recorded under `.kiro/runs/`, 1 with the first broken line
/// otherwise (truncated, emptied or deleted log, lines appended after the
/// last recorded head, edited lines).
pub(super) fn verify(ws: &Workspace, args: &AuditArgs) -> Result<ExitCode> {
    let log = engine::audit_log(ws)?;
    let report = log
        .verify()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&report)?)?,
        TextOrJson::Text => {
            let path = escape_control(&ws.display(log.path()).display().to_string()).into_owned();
            match &report {
                AuditReport::Intact {
                    entries,
                    heads_checked: 0,
                    ..
                } if *entries > 0 => output::println(&format!(
                    "{path}: {entries} entries, chain intact; no recorded heads to check it \
                     against, so lines removed from its end would not show"
                ))?,
                AuditReport::Intact {
                    entries,
                    heads_checked,
                    ..
                } => output::println(&format!(
                    "{path}: {entries} entries, chain intact, matches {heads_checked} recorded heads"
                ))?,
                AuditReport::Broken(b) => output::println(&format!(
                    "{path}:{}: chain broken at line {} ({} entries before it verified): {}",
                    b.line, b.line, b.valid_entries, b.problem
                ))?,
            }
        }
    }
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BROKEN)
    })
}

/// `kiro audit list`: every complete entry, oldest first, one line each.
/// Every field is shown with its control characters escaped, so an entry
/// can never look like two, and with secrets redacted (entries written
/// before kiro redacted them may hold some).
pub(super) fn list(ws: &Workspace, args: &AuditArgs) -> Result<ExitCode> {
    let log = engine::audit_log(ws)?;
    let entries = log
        .entries()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    let redactor = Redactor::from_env();
    match args.format {
        TextOrJson::Json => {
            let mut value = serde_json::to_value(&entries)?;
            redactor.redact_value(&mut value);
            output::println(&serde_json::to_string_pretty(&value)?)?;
        }
        TextOrJson::Text if entries.is_empty() => eprintln!("the audit log is empty"),
        TextOrJson::Text => {
            let shown = |text: &str| redactor.for_terminal(text);
            let mut out = String::new();
            for e in &entries {
                let _ = write!(out, "{:>4}  {}  {}", e.seq, shown(&e.time), shown(&e.actor));
                if let Some(source) = &e.actor_source {
                    let _ = write!(out, " ({})", shown(&source.to_string()));
                }
                let _ = write!(out, "  {}", shown(e.kind.as_str()));
                if let Some(spec) = &e.spec {
                    let _ = write!(out, "  spec {}", shown(spec));
                }
                if let Some(run) = &e.run {
                    let _ = write!(out, "  run {}", shown(run));
                }
                if !e.data.is_null() {
                    let _ = write!(out, "  {}", shorten(&shown(&e.data.to_string())));
                }
                out.push('\n');
            }
            output::print(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The most characters of an entry's data shown on its line; `--format
/// json` shows all of it.
const DATA_CHARS: usize = 160;

/// `text` cut to [`DATA_CHARS`] characters, with `…` when cut.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(DATA_CHARS) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_owned(),
    }
}
