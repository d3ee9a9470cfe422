//! `trace`: the trace graph of a spec flattened into the verification
//! matrix, with the files each task changed and the coverage findings.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use super::{Project, Result};
use crate::audit::file_label;
use crate::report::{Matrix, MatrixRow, MatrixTest};
use crate::spec::Spec;
use crate::trace::{task_files_from_checkpoints, Coverage, Finding, LinkLock, TraceGraph};

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
        let annotations = self.annotations()?;
        let found = self.latest_results(&spec.name)?;
        let report = found.as_ref().map(|(report, _)| report);
        let test_results = report.map(|r| r.tests.as_slice()).unwrap_or_default();
        let task_files = match self.latest_run(&spec.name)? {
            Some(run) => task_files_from_checkpoints(self.store.as_ref(), &run)?,
            None => BTreeMap::new(),
        };
        let graph = TraceGraph::build(spec, &annotations, test_results, &task_files);
        let lock = LinkLock::load(&self.root, &spec.name)?;
        let findings = Coverage::compute(spec, &graph, report, Some(&lock));
        Ok(TraceReport {
            matrix: matrix(spec, &graph),
            results: found.map(|(_, source)| source.to_string()),
            task_files: task_files
                .iter()
                .map(|(task, files)| (task.to_string(), files.iter().map(file_label).collect()))
                .collect(),
            findings,
        })
    }
}

/// The trace graph as report rows, so that every report format renders it.
///
/// The one place the project converts the trace resolver's matrix into the
/// report's; it goes when both share one row type.
fn matrix(spec: &Spec, graph: &TraceGraph) -> Matrix {
    let mut titles: HashMap<String, String> = HashMap::new();
    if let Some(doc) = &spec.requirements {
        for r in &doc.requirements {
            titles
                .entry(r.id.to_string())
                .or_insert_with(|| r.title.clone());
        }
    }
    if let Some(doc) = &spec.bugfix {
        for g in &doc.groups {
            for c in &g.clauses {
                titles
                    .entry(c.id.requirement().to_string())
                    .or_insert_with(|| g.title.clone());
            }
        }
    }
    let rows = graph
        .matrix()
        .rows
        .into_iter()
        .map(|row| MatrixRow {
            requirement_title: titles
                .get(row.requirement.as_str())
                .cloned()
                .unwrap_or_default(),
            requirement: row.requirement,
            criterion: row.criterion,
            text: row.text,
            ears: row.pattern,
            tasks: row.tasks,
            properties: row.properties,
            tests: row
                .tests
                .into_iter()
                .map(|t| MatrixTest {
                    name: match (&t.name, &t.via) {
                        (Some(name), Some(p)) => format!("{name} (via property {p})"),
                        (Some(name), None) => name.clone(),
                        (None, Some(p)) => format!("{}:{} (via property {p})", t.file, t.line),
                        (None, None) => format!("{}:{}", t.file, t.line),
                    },
                    file: Some(t.file),
                    line: Some(t.line),
                    status: t.status,
                    excerpt: None,
                })
                .collect(),
            status: row.status,
        })
        .collect();
    Matrix::from_rows(spec.name.clone(), rows)
}
