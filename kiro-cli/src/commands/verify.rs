//! `kiro verify`: runs the configured test command, judges every
//! acceptance criterion, prints the verification matrix, and records the
//! verdict in the audit log and the links in the link lock.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kiro_core::audit::{AuditKind, NewEntry};
use kiro_core::config::Config;
use kiro_core::redact::Redactor;
use kiro_core::report::{self, Matrix, RenderOptions};
use kiro_core::stage::{StageContext, StageError, Verifier};
use kiro_core::stages::CommandVerifier;
use kiro_core::trace::{LinkLock, TraceGraph};
use kiro_core::verify::annotations::{Annotation, Scope};
use kiro_core::verify::{CriterionStatus, VerificationReport};
use kiro_core::Spec;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cli::VerifyArgs;
use crate::engine;
use crate::output;
use crate::results;
use crate::workspace::Workspace;

/// Exit status when a criterion failed, or is untested under `--require-coverage`.
const EXIT_FAILED: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_CANCELLED: u8 = 130;

/// Runs `kiro verify`.
pub(super) fn run(ws: &Workspace, args: &VerifyArgs) -> Result<ExitCode> {
    let config = engine::config(ws)?;
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;
    let name = spec.name.clone();
    let root = ws.root();

    let (report, source) = if args.no_run {
        existing(ws, &config, &spec)?
    } else {
        let Some(verifier) = CommandVerifier::from_config(&config.verifier) else {
            bail!(
                "no test command configured: set `[verifier] command = [\"program\", \"arg\"]` \
                 (and `junit = \"path/to/junit.xml\"` when it writes one) in .kiro/config.toml, \
                 or report existing results with `kiro verify {} --no-run`",
                args.spec
            );
        };
        let Some(report) = run_verifier(ws, &config, &dir, &spec, &verifier)? else {
            eprintln!("interrupted: the test command was stopped; nothing was recorded");
            return Ok(ExitCode::from(EXIT_CANCELLED));
        };
        (report, "run".to_owned())
    };
    // Test output may echo a secret from the environment: no rendering,
    // stored report or audit entry may carry it.
    let report = redacted(report)?;

    let matrix = Matrix::build(&spec, &report);
    let format = engine::report_format(args.format);
    let to_file = args.output.is_some();
    let text = report::render(
        &matrix,
        format,
        RenderOptions {
            color: format == report::Format::Terminal && output::color(to_file),
        },
    );
    output::emit(args.output.as_deref(), &text)?;

    let totals = matrix.totals;
    let failed = ids_with(&matrix, CriterionStatus::Failed);
    let untested = ids_with(&matrix, CriterionStatus::Untested);
    let mut summary = format!(
        "verification of spec `{name}`: {} passed, {} failed, {} untested",
        totals.passed, totals.failed, totals.untested
    );
    if let Some(path) = &args.output {
        let _ = write!(summary, "; report written to {}", path.display());
    }
    if args.output.is_some() {
        output::println(&summary)?;
    } else if format != report::Format::Terminal {
        // The report owns standard output; the summary must not corrupt
        // JSON, XML or HTML, so it goes to the other stream.
        eprintln!("{summary}");
    }

    let annotations = results::annotations(root)?;
    // Only a run of the tests makes the current criterion texts the ones
    // the tests were checked against; reading old results does not.
    let mut stale = Vec::new();
    if !args.no_run {
        stale = update_link_lock(root, &spec, &report, &annotations)?;
        results::store(root, &name, &report)?;
    }
    for (test, criterion) in &stale {
        eprintln!(
            "warning: criterion {criterion} changed since the test {test} was linked to it; \
             review the test (the link is now recorded with the new text)"
        );
    }
    warn_unattributed(&annotations, &name);

    let log = engine::audit_log(ws)?;
    log.append(
        NewEntry::new(AuditKind::Verification)
            .with_spec(name.clone())
            .with_data(json!({
                "source": source,
                "command": report.command,
                "exit_code": report.exit_code,
                "criteria": totals.criteria,
                "passed": totals.passed,
                "failed": totals.failed,
                "untested": totals.untested,
                "failed_criteria": failed,
                "untested_criteria": untested,
                "stale_links": stale.len(),
            })),
    )
    .context("cannot record the verdict in the audit log")?;

    let fail = totals.failed > 0 || (args.require_coverage && totals.untested > 0);
    if fail && totals.failed == 0 {
        eprintln!(
            "{} criteria untested (--require-coverage): {}",
            untested.len(),
            untested.join(", ")
        );
    }
    Ok(if fail {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the test command through the library's [`CommandVerifier`], with
/// Ctrl-C stopping the command's whole process group; `None` when it was
/// interrupted that way.
fn run_verifier(
    ws: &Workspace,
    config: &Config,
    dir: &Path,
    spec: &Spec,
    verifier: &CommandVerifier,
) -> Result<Option<VerificationReport>> {
    let workspace = engine::workspace(ws, config)?;
    let cancel = CancellationToken::new();
    let cx = StageContext::builder(Arc::new(workspace))
        .config(config.clone())
        .spec_name(spec.name.clone())
        .spec_dir(dir.to_owned())
        .node("verify")
        .cancel(cancel.clone())
        .build();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let interrupts = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let result = verifier.verify(spec, &[], &cx).await;
        interrupts.abort();
        match result {
            Err(StageError::Cancelled) => Ok(None),
            other => other
                .map(Some)
                .with_context(|| format!("cannot verify spec `{}`", spec.name)),
        }
    })
}

/// The existing results for `--no-run`: the configured JUnit file when it
/// exists, else the latest stored report.
fn existing(ws: &Workspace, config: &Config, spec: &Spec) -> Result<(VerificationReport, String)> {
    let root = ws.root();
    if let Some(rel) = &config.verifier.junit {
        let path = root.join(rel);
        if path.is_file() {
            let annotations: Vec<Annotation> = results::annotations(root)?;
            let report = results::from_junit(spec, &path, &annotations)?;
            return Ok((report, format!("junit {}", rel.display())));
        }
    }
    match results::latest(root, &spec.name)? {
        Some(found) => {
            eprintln!("using the results of {}", found.source);
            Ok((found.report, found.source))
        }
        None => bail!(
            "no results to report for spec `{}` (--no-run): {} and no earlier \
             `kiro verify` or `kiro run` verified it; run `kiro verify {}` without --no-run",
            spec.name,
            match &config.verifier.junit {
                Some(rel) => format!("the JUnit file {} does not exist", rel.display()),
                None => "no `[verifier] junit` file is configured".to_owned(),
            },
            spec.name
        ),
    }
}

/// Records the links of the spec's trace graph in its link lock, and
/// returns the links that were stale before (test key, criterion).
fn update_link_lock(
    root: &Path,
    spec: &Spec,
    report: &VerificationReport,
    annotations: &[Annotation],
) -> Result<Vec<(String, String)>> {
    let graph = TraceGraph::build(
        spec,
        annotations,
        &report.tests,
        &std::collections::BTreeMap::new(),
    );
    let mut lock = LinkLock::load(root, &spec.name)
        .with_context(|| format!("cannot read the link lock of spec `{}`", spec.name))?;
    let mut stale = Vec::new();
    for (id, text) in graph.criteria() {
        for test in graph.tests_of(id) {
            let key = test.lock_key();
            if lock.is_stale(&key, id, text) == Some(true) {
                stale.push((key, id.to_string()));
            }
        }
    }
    lock.record(&graph);
    lock.save(root)
        .with_context(|| format!("cannot write the link lock of spec `{}`", spec.name))?;
    Ok(stale)
}

/// How many places an unattributed-annotation warning names.
const SHOWN_PLACES: usize = 5;

/// Warns about annotations that belong to no spec: they counted for no
/// criterion of this verification (see `kiro trace` for every one).
fn warn_unattributed(annotations: &[Annotation], spec: &str) {
    let lost: Vec<String> = annotations
        .iter()
        .filter(|a| a.scope == Scope::Unattributed)
        .map(|a| format!("{}:{}", a.file, a.line))
        .collect();
    if lost.is_empty() {
        return;
    }
    let mut places = lost
        .iter()
        .take(SHOWN_PLACES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if lost.len() > SHOWN_PLACES {
        let _ = write!(places, " and {} more", lost.len() - SHOWN_PLACES);
    }
    eprintln!(
        "warning: {} test annotations belong to no spec and were not counted ({places}): \
         the workspace has several specs and no `Feature: <spec>` line scopes them; \
         see `kiro trace {spec}`",
        lost.len()
    );
}

/// The criteria of the matrix with this verdict.
fn ids_with(matrix: &Matrix, status: CriterionStatus) -> Vec<String> {
    matrix
        .rows
        .iter()
        .filter(|r| r.status == status)
        .map(|r| r.criterion.to_string())
        .collect()
}

/// `report` with the values of secret-named environment variables replaced
/// ([`Redactor`]) in every string it holds (test names, output excerpts).
fn redacted(report: VerificationReport) -> Result<VerificationReport> {
    let redactor = Redactor::from_env();
    if redactor.is_empty() {
        return Ok(report);
    }
    let mut value = serde_json::to_value(&report).context("cannot serialise the report")?;
    redactor.redact_value(&mut value);
    serde_json::from_value(value).context("cannot read back the redacted report")
}
