//! Where the verification results of a spec come from when the tests are
//! not run now, for the commands that still read them piecewise: the
//! use case itself is [`Project::latest_results`].
//!
//! [`Project::latest_results`]: kiro_core::project::Project::latest_results

use std::path::Path;

use anyhow::{Context, Result};
use kiro_core::project::Project;
use kiro_core::verify::annotations::{scan_dir, Annotation};
use kiro_core::verify::VerificationReport;

use crate::engine;

/// A report found by [`latest`], and where it was found.
pub(crate) struct Found {
    /// The report.
    pub(crate) report: VerificationReport,
    /// Where it came from, for messages: `kiro verify` or `run <RUN@ID>`.
    pub(crate) source: String,
}

/// The most recent report of `spec`: the one `kiro verify` stored or the
/// one of the latest run's last checkpoint, whichever is newer; `None`
/// when there is neither.
pub(crate) fn latest(root: &Path, spec: &str) -> Result<Option<Found>> {
    let project = Project::open(root).map_err(engine::explain)?;
    let found = project
        .latest_results(spec)
        .map_err(engine::explain)
        .with_context(|| format!("cannot read the results of spec `{spec}`"))?;
    Ok(found.map(|(report, source)| Found {
        report,
        source: source.to_string(),
    }))
}

/// Every annotation in the workspace's sources.
pub(crate) fn annotations(root: &Path) -> Result<Vec<Annotation>> {
    scan_dir(root).with_context(|| format!("cannot scan the sources of {}", root.display()))
}
