//! `kiro approve` and `kiro approvals`: signing off a gate under
//! `.kiro/policy.toml`, and listing a spec's approvals.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use kiro_core::audit::current_actor;
use kiro_core::governance::{ApprovalRecord, GateName, IdentityRecord, POLICY_PATH};
use kiro_core::identity::{Jwks, MAX_TOKEN_BYTES};
use kiro_core::project::ProjectError;
use kiro_core::redact::Redactor;
use kiro_core::Error;

use crate::cli::{ApprovalsArgs, ApproveArgs, GateArg, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when the policy refuses the approval.
const EXIT_REFUSED: u8 = 1;

fn gate(arg: GateArg) -> GateName {
    match arg {
        GateArg::Requirements => GateName::Requirements,
        GateArg::Design => GateName::Design,
        GateArg::Tasks => GateName::Tasks,
        GateArg::Execution => GateName::Execution,
        GateArg::Merge => GateName::Merge,
    }
}

/// `kiro approve <SPEC> <GATE>`: exit 0 approved, 1 refused (the refusal
/// is audited too), 2 for anything that kept the question from being
/// asked (no policy, unknown spec, unreadable token).
pub(super) fn approve(ws: &Workspace, args: &ApproveArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let gate = gate(args.gate);
    let shown = |text: &str| Redactor::from_env().for_terminal(text);
    let result = match &args.id_token {
        Some(path) => {
            let token = read_bounded(path, MAX_TOKEN_BYTES)?;
            let jwks = jwks(ws, &project)?;
            project.approve_token(&args.spec, gate, &token, jwks, args.task.clone())
        }
        None => {
            let identity = IdentityRecord::local(&current_actor(ws.root())?);
            project.approve(&args.spec, gate, identity, args.task.clone())
        }
    };
    match result {
        Ok(record) => {
            match args.format {
                TextOrJson::Json => output::println(&serde_json::to_string_pretty(&record)?)?,
                TextOrJson::Text => output::println(&shown(&format!(
                    "approved gate `{gate}` of spec `{}` as {} (roles {}; {} sha256 {}; audit entry {})",
                    args.spec,
                    record.approval.identity.name,
                    record.approval.roles.join(", "),
                    record.approval.files.join(", "),
                    short(&record.approval.document),
                    record.seq
                )))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ProjectError::Core(e @ Error::ApprovalRefused { .. })) => {
            eprintln!("error: {}", shown(&e.to_string()));
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(e) => Err(engine::explain(e)),
    }
}

/// The issuer's keys `[identity]` names: `jwks_file` (relative to the
/// workspace root) or `jwks_url` ([`crate::jwks::load_jwks`]).
fn jwks(ws: &Workspace, project: &kiro_core::project::Project) -> Result<Jwks> {
    let governance = project
        .governance()
        .map_err(engine::explain)?
        .with_context(|| format!("no {POLICY_PATH}: nothing to approve"))?;
    let Some(config) = governance.oidc_config() else {
        bail!(
            "--id-token needs `issuer`, `audience` and `jwks_file` or `jwks_url` under [identity] in {POLICY_PATH}"
        );
    };
    crate::jwks::load_jwks(&config, ws.root())
}

/// A file's text, refusing one longer than `limit` bytes before reading it.
fn read_bounded(path: &Path, limit: usize) -> Result<String> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > u64::try_from(limit).unwrap_or(u64::MAX) {
        bail!(
            "{} is {len} bytes, over the limit of {limit}",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `kiro approvals <SPEC>`: every approval recorded for the spec, with
/// whether it still holds. Exit 0.
pub(super) fn approvals(ws: &Workspace, args: &ApprovalsArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let records = project.approvals(&args.spec).map_err(engine::explain)?;
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&records)?)?,
        TextOrJson::Text if records.is_empty() => {
            output::println(&format!("no approvals recorded for spec `{}`", args.spec))?
        }
        TextOrJson::Text => {
            let redactor = Redactor::from_env();
            for record in &records {
                output::println(&redactor.for_terminal(&line(record)))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One approval as a line: `#12 tasks by ann (lead, local) 2026-...: valid`.
fn line(record: &ApprovalRecord) -> String {
    let a = &record.approval;
    let scope = a
        .task
        .as_ref()
        .map(|t| format!(" task {t}"))
        .unwrap_or_default();
    let how = if a.identity.verified {
        "verified"
    } else {
        "local"
    };
    let state = match &record.problem {
        None => "valid".to_owned(),
        Some(problem) => format!("no longer valid: {problem}"),
    };
    format!(
        "#{} {}{scope} by {} ({}, {how}) {}: {state}",
        record.seq,
        a.gate,
        a.identity.name,
        a.roles.join(", "),
        record.time
    )
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
