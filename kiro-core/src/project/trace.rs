//! `trace`: the trace graph of a spec flattened into the verification
//! matrix, with the files each task changed and the coverage findings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::verify::ResultsSource;
use super::{Project, Result};
use crate::audit::file_label;
use crate::report::Matrix;
use crate::spec::Spec;
use crate::trace::{task_files_from_checkpoints, Coverage, Finding, LinkLock, TraceGraph};
use crate::verify::properties::PropertyResults;

/// The trace of one spec: `kiro trace --format json` prints it (see
/// [`TraceReport::to_json`]) and `kiro schema trace` its schema.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TraceReport {
    /// The matrix, as `kiro verify --format json` prints it.
    pub matrix: Matrix,
    /// Where the results came from (`kiro verify`, `run RUN@ID`); `null`
    /// when no verification is known.
    pub results: Option<String>,
    /// Task id → files its checkpoints changed (`path`, or `repo:path` in
    /// another repository), from the latest run.
    pub task_files: BTreeMap<String, Vec<String>>,
    /// The coverage findings.
    pub findings: Vec<Finding>,
}

impl TraceReport {
    /// The JSON `kiro trace --format json` prints: pretty, fields in
    /// declaration order, with a final newline.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

impl Project {
    /// The trace of `spec`: its criteria linked to tasks, properties and
    /// the workspace's annotated tests, with the latest known results (see
    /// [`Project::latest_results`]), the files each task of the latest run
    /// changed, and the coverage findings (stale links from the link lock
    /// included).
    pub fn trace(&self, spec: &Spec) -> Result<TraceReport> {
        let mut annotations = self.annotations()?;
        let found = self.latest_results(&spec.name)?;
        let report = found.as_ref().map(|(report, _)| report);
        let mut test_results = report.map(|r| r.tests.clone()).unwrap_or_default();
        // The latest `kiro pbt run` replaces the property results the
        // report holds.
        let properties = PropertyResults::load(&self.root, &spec.name)?;
        if let Some(p) = &properties {
            p.add_to(&mut annotations, &mut test_results);
        }
        let test_results = test_results.as_slice();
        let task_files = match self.latest_run(&spec.name)? {
            Some(run) => task_files_from_checkpoints(self.store.as_ref(), &run)?,
            None => BTreeMap::new(),
        };
        let graph = TraceGraph::build(spec, &annotations, test_results, &task_files);
        let lock = LinkLock::load(&self.root, &spec.name)?;
        let findings = Coverage::compute(spec, &graph, report, Some(&lock));
        Ok(TraceReport {
            matrix: Matrix::from_graph(&graph),
            results: found
                .map(|(_, source)| source.to_string())
                .or_else(|| properties.map(|_| ResultsSource::Properties.to_string())),
            task_files: task_files
                .iter()
                .map(|(task, files)| (task.to_string(), files.iter().map(file_label).collect()))
                .collect(),
            findings,
        })
    }
}
