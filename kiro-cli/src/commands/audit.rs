//! `kiro audit verify|list`: the hash-chained audit log `.kiro/audit.jsonl`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::audit::{AuditLog, AuditReport};

use crate::cli::{AuditArgs, TextOrJson};
use crate::output;
use crate::workspace::Workspace;

/// Exit status when the chain is broken.
const EXIT_BROKEN: u8 = 1;

/// `kiro audit verify`: exit 0 when the chain is intact, 1 with the first
/// broken line otherwise.
pub(super) fn verify(ws: &Workspace, args: &AuditArgs) -> Result<ExitCode> {
    let log = AuditLog::open(ws.root())?;
    let report = log
        .verify()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&report)?)?,
        TextOrJson::Text => {
            let path = ws.display(log.path()).display().to_string();
            match &report {
                AuditReport::Intact { entries, .. } => {
                    output::println(&format!("{path}: {entries} entries, chain intact"))?;
                }
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

/// `kiro audit list`: every complete entry, oldest first.
pub(super) fn list(ws: &Workspace, args: &AuditArgs) -> Result<ExitCode> {
    let log = AuditLog::open(ws.root())?;
    let entries = log
        .entries()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&entries)?)?,
        TextOrJson::Text if entries.is_empty() => eprintln!("the audit log is empty"),
        TextOrJson::Text => {
            let mut out = String::new();
            for e in &entries {
                let _ = write!(out, "{:>4}  {}  {}  {}", e.seq, e.time, e.actor, e.kind);
                if let Some(spec) = &e.spec {
                    let _ = write!(out, "  spec {spec}");
                }
                if let Some(run) = &e.run {
                    let _ = write!(out, "  run {run}");
                }
                if !e.data.is_null() {
                    let _ = write!(out, "  {}", shorten(&e.data.to_string()));
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
