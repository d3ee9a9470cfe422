//! `kiro audit verify|list`: the hash-chained audit log `.kiro/audit.jsonl`.

use std::fmt::Write as _;
use std::process::ExitCode;

use std::path::Path;

use anyhow::{bail, Context, Result};
use kiro_core::audit::{AnchorReport, AuditReport, TokenReport, AUDIT_HEAD_TRAILER};
use kiro_core::escape::escape_control;
use kiro_core::identity::OidcVerifier;
use kiro_core::project::Project;
use kiro_core::redact::Redactor;

use crate::cli::{AuditArgs, AuditVerifyArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when the chain is broken.
const EXIT_BROKEN: u8 = 1;

/// `kiro audit verify`: exit 0 when the chain is intact and holds every
/// head recorded under `.kiro/runs/`, 1 with the first broken line
/// otherwise (truncated, emptied or deleted log, lines appended after the
/// last recorded head, edited lines). With `--against-git`, 1 also when the
/// log contradicts a head anchored in git, or no anchor is found; with
/// `--jwks`, 1 when an approval's ID token no longer verifies.
pub(super) fn verify(ws: &Workspace, args: &AuditVerifyArgs) -> Result<ExitCode> {
    let log = engine::audit_log(ws)?;
    let report = log
        .verify()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    let project = if args.against_git || args.jwks.is_some() {
        Some(engine::project(ws)?)
    } else {
        None
    };
    let git = match &project {
        Some(project) if args.against_git => Some(
            project
                .verify_audit_against_git()
                .map_err(engine::explain)?,
        ),
        _ => None,
    };
    let tokens = match (&project, &args.jwks) {
        (Some(project), Some(file)) => Some(reverify_tokens(ws, project, file.as_deref())?),
        _ => None,
    };
    let path = escape_control(&ws.display(log.path()).display().to_string()).into_owned();
    match args.format {
        TextOrJson::Json if git.is_none() && tokens.is_none() => {
            output::println(&serde_json::to_string_pretty(&report)?)?;
        }
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(
            &serde_json::json!({ "chain": report, "git": git, "tokens": tokens }),
        )?)?,
        TextOrJson::Text => {
            output::println(&chain_line(&path, &report))?;
            if let Some(git) = &git {
                output::print(&git_lines(&path, git))?;
            }
            if let Some(tokens) = &tokens {
                output::println(&match tokens.report.broken() {
                    None => format!(
                        "{path}: {} token-backed approvals re-verified against the JWKS",
                        tokens.checked
                    ),
                    Some(b) => format!("{path}:{}: {}", b.line, b.problem),
                })?;
            }
        }
    }
    let holds = report.is_intact()
        && git.as_ref().is_none_or(|g| g.holds() && g.anchors > 0)
        && tokens.as_ref().is_none_or(|t| t.report.is_intact());
    Ok(if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BROKEN)
    })
}

/// The line for the chain and its recorded heads.
fn chain_line(path: &str, report: &AuditReport) -> String {
    match report {
        AuditReport::Intact {
            entries,
            heads_checked: 0,
            ..
        } if *entries > 0 => format!(
            "{path}: {entries} entries, chain intact; no recorded heads to check it \
             against, so lines removed from its end would not show"
        ),
        AuditReport::Intact {
            entries,
            heads_checked,
            ..
        } => format!(
            "{path}: {entries} entries, chain intact, matches {heads_checked} recorded heads"
        ),
        AuditReport::Broken(b) => format!(
            "{path}:{}: chain broken at line {} ({} entries before it verified): {}",
            b.line, b.line, b.valid_entries, b.problem
        ),
    }
}

/// The lines for the check against git's anchors.
fn git_lines(path: &str, git: &AnchorReport) -> String {
    let mut out = String::new();
    for bad in &git.unreadable {
        let _ = writeln!(
            out,
            "{}: unreadable {AUDIT_HEAD_TRAILER} trailer {:?}",
            escape_control(&bad.source),
            escape_control(&bad.value)
        );
    }
    match (git.report.broken(), &git.contradicted) {
        (Some(b), Some(anchor)) => {
            let _ = writeln!(
                out,
                "{path}:{}: contradicts {AUDIT_HEAD_TRAILER} {}:{} of {}: {}",
                b.line,
                anchor.head.seq,
                anchor.head.line_hash,
                escape_control(&anchor.source),
                b.problem
            );
        }
        (Some(_), None) => {}
        (None, _) if git.anchors == 0 => {
            let _ = writeln!(
                out,
                "{path}: no {AUDIT_HEAD_TRAILER} trailer on any kiro/* branch: nothing to check the log against"
            );
        }
        (None, _) => {
            let _ = writeln!(
                out,
                "{path}: holds all {} heads anchored in git commits",
                git.anchors
            );
        }
    }
    out
}

/// Re-verifies the ID tokens of approvals: issuer and audience from
/// `[identity]`, keys from `file` or `[identity]`'s own source.
fn reverify_tokens(ws: &Workspace, project: &Project, file: Option<&Path>) -> Result<TokenReport> {
    let Some(mut config) = project.oidc_config().map_err(engine::explain)? else {
        bail!(
            "re-verifying ID tokens needs `issuer` and `audience` under `[identity]` in .kiro/policy.toml"
        );
    };
    if let Some(file) = file {
        config.jwks_file = Some(std::path::absolute(file)?);
    }
    let jwks = crate::jwks::load_jwks(&config, ws.root())?;
    let verifier = OidcVerifier::new(&config, jwks);
    project
        .reverify_approvals(&verifier)
        .map_err(engine::explain)
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
