//! Where the verification results of a spec come from when the tests are
//! not run now: the report the last `kiro verify` stored, the report of the
//! latest pipeline run's verify step, or a JUnit file left by a test run.
//!
//! `kiro verify` keeps its report at `.kiro/trace/<spec>.report.json`
//! (next to the link lock of the trace module), so that `kiro trace` and
//! `kiro verify --no-run` see results of runs made outside the pipeline.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kiro_core::checkpoint::{CheckpointStore, FileCheckpointStore};
use kiro_core::pipeline;
use kiro_core::redact::Redactor;
use kiro_core::trace::build_report;
use kiro_core::verify::annotations::{scan_dir, Annotation};
use kiro_core::verify::junit::parse_junit;
use kiro_core::verify::{RunInfo, VerificationReport};
use kiro_core::Spec;
use serde::{Deserialize, Serialize};

/// A report `kiro verify` stored, with the time it was made.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredReport {
    /// When the verification ran, RFC 3339 UTC.
    pub(crate) verified_at: String,
    /// The report.
    pub(crate) report: VerificationReport,
}

/// A report found by [`latest`], and where it was found.
pub(crate) struct Found {
    /// The report.
    pub(crate) report: VerificationReport,
    /// Where it came from, for messages and the audit log: `kiro verify`
    /// or `run <RUN@ID>`.
    pub(crate) source: String,
}

/// `.kiro/trace/<spec>.report.json`.
pub(crate) fn stored_path(root: &Path, spec: &str) -> PathBuf {
    root.join(".kiro")
        .join("trace")
        .join(format!("{spec}.report.json"))
}

/// Stores the report of a `kiro verify`, atomically, with the secrets of
/// the environment redacted (test output excerpts quote what tests
/// printed).
pub(crate) fn store(root: &Path, spec: &str, report: &VerificationReport) -> Result<()> {
    let path = stored_path(root, spec);
    let stored = StoredReport {
        verified_at: kiro_core::checkpoint::now_rfc3339(),
        report: report.clone(),
    };
    let mut value = serde_json::to_value(&stored)?;
    Redactor::from_env().redact_value(&mut value);
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    kiro_core::store::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The most recent report of `spec`: the one `kiro verify` stored or the
/// one of the latest run's last checkpoint, whichever is newer; `None`
/// when there is neither.
pub(crate) fn latest(root: &Path, spec: &str) -> Result<Option<Found>> {
    let path = stored_path(root, spec);
    let stored: Option<StoredReport> = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a stored report", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let from_run = run_report(root, spec)?;
    // Both times are RFC 3339 UTC with milliseconds, so they compare as strings.
    Ok(match (stored, from_run) {
        (Some(s), Some((at, found))) if at.as_str() > s.verified_at.as_str() => Some(found),
        (Some(s), _) => Some(Found {
            report: s.report,
            source: "kiro verify".to_owned(),
        }),
        (None, Some((_, found))) => Some(found),
        (None, None) => None,
    })
}

/// The report at the last checkpoint of the spec's latest run, with that
/// checkpoint's time.
fn run_report(root: &Path, spec: &str) -> Result<Option<(String, Found)>> {
    let store = FileCheckpointStore::new(root);
    let Some(run) =
        pipeline::latest_run(&store, spec).context("cannot read the checkpoint store")?
    else {
        return Ok(None);
    };
    let checkpoints = store
        .list(&run)
        .with_context(|| format!("cannot read run {run}"))?;
    let Some(last) = checkpoints.last() else {
        return Ok(None);
    };
    let at = last.reference();
    let (artifacts, _) =
        pipeline::state_at(&store, &at).with_context(|| format!("cannot read checkpoint {at}"))?;
    Ok(artifacts.report.map(|report| {
        (
            last.created_at.clone(),
            Found {
                report,
                source: format!("run {at}"),
            },
        )
    }))
}

/// The report built from an existing JUnit file, without running anything.
pub(crate) fn from_junit(
    spec: &Spec,
    path: &Path,
    annotations: &[Annotation],
) -> Result<VerificationReport> {
    let xml =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let results = parse_junit(&xml, path)?;
    let info = RunInfo {
        command: String::new(),
        exit_code: None,
        // The file holds per-test results even when it lists no test: an
        // empty report means nothing ran, not that the run's exit code decides.
        per_test_results: true,
    };
    Ok(build_report(spec, annotations, &results, info))
}

/// Every annotation in the workspace's sources.
pub(crate) fn annotations(root: &Path) -> Result<Vec<Annotation>> {
    scan_dir(root).with_context(|| format!("cannot scan the sources of {}", root.display()))
}
