//! `kiro verify`: [`Project::verify`] (runs the configured test command,
//! judges every acceptance criterion, records the verdict in the audit log
//! and the links in the link lock), then prints the verification matrix
//! and picks the exit status.
//!
//! [`Project::verify`]: kiro_core::project::Project::verify

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::project::{ProjectError, ResultsSource, VerifyOptions};
use kiro_core::report::sarif::CriterionPlaces;
use kiro_core::report::{self, Matrix, RenderOptions};
use kiro_core::verify::CriterionStatus;
use tokio_util::sync::CancellationToken;

use crate::cli::{VerifyArgs, VerifyFormat};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when a criterion failed, or is untested under `--require-coverage`.
const EXIT_FAILED: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_CANCELLED: u8 = 130;

/// Runs `kiro verify`.
pub(super) fn run(ws: &Workspace, args: &VerifyArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let dir = ws.spec_dir(&args.spec)?;
    let loaded = ws.load(&dir)?;
    let spec = &loaded.spec;
    let name = spec.name.clone();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let cancel = CancellationToken::new();
    let options = VerifyOptions {
        no_run: args.no_run,
        cancel: cancel.clone(),
    };
    // Ctrl-C stops the test command's whole process group.
    let verified = runtime.block_on(async {
        let interrupts = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let result = project.verify(&dir, spec, options).await;
        interrupts.abort();
        result
    });
    let verification = match verified {
        Ok(Some(v)) => v,
        Ok(None) => {
            eprintln!("interrupted: the test command was stopped; nothing was recorded");
            return Ok(ExitCode::from(EXIT_CANCELLED));
        }
        Err(e @ ProjectError::Core(_)) => {
            return Err(engine::explain(e).context(format!("cannot verify spec `{name}`")))
        }
        Err(e) => return Err(engine::explain(e)),
    };
    if matches!(
        verification.source,
        ResultsSource::Stored | ResultsSource::Checkpoint(_)
    ) {
        eprintln!("using the results of {}", verification.source);
    }

    let matrix = &verification.matrix;
    let to_file = args.output.is_some();
    // SARIF is rendered like JSON: it owns standard output.
    let format = args
        .format
        .report()
        .map_or(report::Format::Json, engine::report_format);
    let text = match args.format {
        VerifyFormat::Sarif => {
            let places = CriterionPlaces::of(&loaded, ws.root());
            let mut text = serde_json::to_string_pretty(&report::sarif::sarif(
                matrix,
                &places,
                env!("CARGO_PKG_VERSION"),
            ))?;
            text.push('\n');
            text
        }
        _ => report::render(
            matrix,
            format,
            RenderOptions {
                color: format == report::Format::Terminal && output::color(to_file),
            },
        ),
    };
    output::emit(args.output.as_deref(), &text)?;
    crate::step_summary::verify(matrix, args.require_coverage);

    let totals = matrix.totals;
    let untested = ids_with(matrix, CriterionStatus::Untested);
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
    for link in &verification.stale {
        eprintln!(
            "warning: criterion {} changed since the test {} was linked to it; \
             review the test (the link is now recorded with the new text)",
            link.criterion, link.test
        );
    }
    warn_unattributed(&verification.unattributed, &name);

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

/// How many places an unattributed-annotation warning names.
const SHOWN_PLACES: usize = 5;

/// Warns about annotations that belong to no spec: they counted for no
/// criterion of this verification (see `kiro trace` for every one).
fn warn_unattributed(lost: &[String], spec: &str) {
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
