//! Reports: the verification matrix of a spec and its renderers.
//!
//! A [`Matrix`] has one row per acceptance criterion, in document order,
//! with the tasks and correctness properties that link it, the tests that
//! verify it ([`Evidence`], the type verification reports use) and its
//! verdict. Both constructors read links from the trace graph, never from
//! the documents: [`Matrix::build`] joins a [`Spec`] with a
//! [`VerificationReport`] (the view of `kiro verify`), and
//! [`Matrix::from_graph`] flattens a [`TraceGraph`] with its results (the
//! view of `kiro trace`). `report` sits above `trace` and `verify` and
//! neither imports it.
//!
//! Every renderer is a pure function from a matrix to a string:
//! [`terminal`] (an aligned table, [`terminal_color`] with ANSI colour),
//! [`markdown`] (a GFM table), [`json`] (with [`matrix_schema`]), [`junit`]
//! (one test case per criterion, for CI dashboards), [`csv`] (RFC 4180) and
//! [`html`] (one self-contained page with sorting, filters and deep links).
//! [`render`] picks one by [`Format`].
//!
//! ```
//! use kiro_core::format::parse_requirements;
//! use kiro_core::report::{render, Format, Matrix, RenderOptions};
//! use kiro_core::verify::{CriterionResult, CriterionStatus, VerificationReport};
//! use kiro_core::spec::CriterionId;
//! use kiro_core::Spec;
//!
//! let req = "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n\
//!            #### Acceptance Criteria\n\n1. THE system SHALL log in\n";
//! let spec = Spec { name: "auth".into(), requirements: Some(parse_requirements(req).value), ..Spec::default() };
//! let report = VerificationReport {
//!     spec: "auth".into(),
//!     criteria: vec![CriterionResult { criterion: CriterionId::new("1.1"), status: CriterionStatus::Passed, evidence: vec![] }],
//!     ..VerificationReport::default()
//! };
//! let matrix = Matrix::build(&spec, &report);
//! assert_eq!(matrix.totals.passed, 1);
//! let md = render(&matrix, Format::Markdown, RenderOptions::default());
//! assert!(md.contains("| passed | 1.1 |"));
//! ```

mod csv;
mod html;
mod junit;
mod markdown;
pub mod sarif;
mod terminal;
pub(crate) mod text;

use std::collections::{BTreeMap, HashMap, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{CriterionId, EarsPattern, PropertyId, RequirementId, Spec, TaskId};
use crate::trace::TraceGraph;
use crate::verify::{CriterionStatus, Evidence, TestStatus, VerificationReport};

pub use csv::{csv, CSV_COLUMNS};
pub use html::html;
pub use junit::junit;
pub use markdown::markdown;
pub use terminal::{terminal, terminal_color};

/// The verification matrix of one spec: one row per acceptance criterion.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Matrix {
    /// The spec's name.
    pub spec: String,
    /// One row per criterion, in document order.
    pub rows: Vec<MatrixRow>,
    /// Counts over the rows.
    pub totals: Totals,
}

/// One acceptance criterion, what links it and how it was verified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixRow {
    /// The requirement the criterion belongs to (`1`).
    pub requirement: RequirementId,
    /// The requirement's title (for bugfix specs, the behaviour group's
    /// title); empty when it has none.
    #[serde(default)]
    pub requirement_title: String,
    /// The criterion (`1.2`).
    pub criterion: CriterionId,
    /// The criterion's text (markdown, line breaks kept).
    #[serde(default)]
    pub text: String,
    /// The EARS pattern the text follows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ears: Option<EarsPattern>,
    /// Tasks whose `_Requirements:_` name the criterion or its whole
    /// requirement, in document order.
    #[serde(default)]
    pub tasks: Vec<TaskId>,
    /// Correctness properties whose `Validates:` name the criterion or its
    /// whole requirement.
    #[serde(default)]
    pub properties: Vec<PropertyId>,
    /// The tests linked to the criterion, failures first.
    // In JSON each is an object with `name` where a verification report's
    // evidence has `test`: the matrix's shape predates the shared type and
    // is part of the CLI contract.
    #[serde(default, with = "matrix_tests")]
    #[schemars(with = "Vec<MatrixTest>")]
    pub tests: Vec<Evidence>,
    /// The verdict.
    pub status: CriterionStatus,
}

// The JSON shape of one test of a `MatrixRow`: `Evidence` with its `test`
// field named `name`. Private: only serde and the schema see it, and its doc
// comment is the schema's description.
/// One test linked to a criterion.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
struct MatrixTest {
    /// The test's name.
    name: String,
    /// Its source file, relative to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// Its 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    /// How it ended; `None` when no result of its own is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<TestStatus>,
    /// The failure message and output excerpt (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    excerpt: Option<String>,
}

/// Serde for [`MatrixRow::tests`] through [`MatrixTest`].
mod matrix_tests {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::MatrixTest;
    use crate::verify::Evidence;

    pub(super) fn serialize<S: Serializer>(tests: &[Evidence], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(tests.iter().map(|e| MatrixTest {
            name: e.test.clone(),
            file: e.file.clone(),
            line: e.line,
            status: e.status,
            excerpt: e.excerpt.clone(),
        }))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Evidence>, D::Error> {
        let tests = Vec::<MatrixTest>::deserialize(d)?;
        Ok(tests
            .into_iter()
            .map(|t| Evidence {
                test: t.name,
                file: t.file,
                line: t.line,
                status: t.status,
                excerpt: t.excerpt,
            })
            .collect())
    }
}

/// Counts over a matrix's rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// Rows.
    pub criteria: usize,
    /// Rows whose verdict is `passed`.
    pub passed: usize,
    /// Rows whose verdict is `failed`.
    pub failed: usize,
    /// Rows whose verdict is `untested`.
    pub untested: usize,
    /// Rows linked by at least one task.
    pub with_tasks: usize,
    /// Rows with at least one linked test.
    pub with_tests: usize,
}

impl Totals {
    /// Counts the given rows.
    pub fn of(rows: &[MatrixRow]) -> Totals {
        let mut t = Totals {
            criteria: rows.len(),
            ..Totals::default()
        };
        for r in rows {
            match r.status {
                CriterionStatus::Passed => t.passed += 1,
                CriterionStatus::Failed => t.failed += 1,
                CriterionStatus::Untested => t.untested += 1,
            }
            if !r.tasks.is_empty() {
                t.with_tasks += 1;
            }
            if !r.tests.is_empty() {
                t.with_tests += 1;
            }
        }
        t
    }
}

impl Matrix {
    /// A matrix of the given rows, with totals counted from them.
    pub fn from_rows(spec: impl Into<String>, rows: Vec<MatrixRow>) -> Matrix {
        let totals = Totals::of(&rows);
        Matrix {
            spec: spec.into(),
            rows,
            totals,
        }
    }

    /// Joins a spec with a verification report: the view of `kiro verify`.
    ///
    /// Rows follow the spec's criteria in document order, with the tasks
    /// whose `_Requirements:` line names the criterion or its requirement
    /// ([`TraceGraph::linking_tasks_of`]), the properties that validate it,
    /// and the report's evidence and verdict. A criterion the report does
    /// not mention is `untested`; a report entry whose criterion the spec no
    /// longer has is kept as an extra row at the end (with an empty text)
    /// rather than dropped, so that a stale report stays visible.
    pub fn build(spec: &Spec, report: &VerificationReport) -> Matrix {
        // The spec's own links; the tests come from the report.
        let graph = TraceGraph::build(spec, &[], &[], &BTreeMap::new());
        // Report entries by criterion id, consumed in order, so that a spec
        // with a duplicated id still pairs each occurrence with its own entry.
        let mut results: HashMap<&str, VecDeque<usize>> = HashMap::new();
        for (i, c) in report.criteria.iter().enumerate() {
            results
                .entry(c.criterion.as_str())
                .or_default()
                .push_back(i);
        }
        let mut used = vec![false; report.criteria.len()];

        let mut rows = Vec::new();
        for c in spec.criteria() {
            let requirement = c.id.requirement();
            let result = results
                .get_mut(c.id.as_str())
                .and_then(VecDeque::pop_front)
                .and_then(|i| {
                    if let Some(u) = used.get_mut(i) {
                        *u = true;
                    }
                    report.criteria.get(i)
                });
            rows.push(MatrixRow {
                requirement_title: graph
                    .requirement_title(&requirement)
                    .unwrap_or_default()
                    .to_owned(),
                requirement,
                criterion: c.id.clone(),
                text: c.text.clone(),
                ears: c.ears.as_ref().map(|e| e.pattern),
                tasks: graph.linking_tasks_of(&c.id).into_iter().cloned().collect(),
                properties: graph.properties_of(&c.id).into_iter().cloned().collect(),
                tests: result.map(|r| r.evidence.clone()).unwrap_or_default(),
                status: result.map(|r| r.status).unwrap_or_default(),
            });
        }
        for (c, used) in report.criteria.iter().zip(used) {
            if !used {
                rows.push(MatrixRow {
                    requirement: c.criterion.requirement(),
                    criterion: c.criterion.clone(),
                    tests: c.evidence.clone(),
                    status: c.status,
                    ..MatrixRow::default()
                });
            }
        }
        let name = if spec.name.is_empty() {
            report.spec.clone()
        } else {
            spec.name.clone()
        };
        Matrix::from_rows(name, rows)
    }

    /// Flattens a trace graph: the view of `kiro trace`.
    ///
    /// One row per criterion of the graph, in document order, with every
    /// task that implements it (also through a property or `All`,
    /// [`TraceGraph::tasks_of`]), its properties, each linked test once
    /// (named `name (via property N)` when linked only through a property,
    /// `file:line` when no declaration follows its annotation) with the
    /// worst outcome of its results, and the verdict from those results
    /// ([`TraceGraph::status_of`]).
    pub fn from_graph(graph: &TraceGraph) -> Matrix {
        let mut rows = Vec::new();
        for (id, text) in graph.criteria() {
            let requirement = id.requirement();
            let tests = graph
                .test_links(id)
                .into_iter()
                .map(|(t, via)| {
                    let name = match &t.name {
                        Some(name) => name.clone(),
                        None => format!("{}:{}", t.key.file, t.key.line),
                    };
                    Evidence {
                        test: match via {
                            Some(p) => format!("{name} (via property {p})"),
                            None => name,
                        },
                        file: Some(t.key.file.clone()),
                        line: Some(t.key.line),
                        status: graph.test_status_of(&t.key),
                        excerpt: None,
                    }
                })
                .collect();
            rows.push(MatrixRow {
                requirement_title: graph
                    .requirement_title(&requirement)
                    .unwrap_or_default()
                    .to_owned(),
                requirement,
                criterion: id.clone(),
                text: text.to_owned(),
                ears: graph.pattern_of(id),
                tasks: graph.tasks_of(id).into_iter().cloned().collect(),
                properties: graph.properties_of(id).into_iter().cloned().collect(),
                tests,
                status: graph.status_of(id),
            });
        }
        Matrix::from_rows(graph.spec(), rows)
    }

    /// The distinct requirements of the rows, in order of first appearance,
    /// with their titles.
    pub fn requirements(&self) -> Vec<(&RequirementId, &str)> {
        let mut out: Vec<(&RequirementId, &str)> = Vec::new();
        for r in &self.rows {
            if !out.iter().any(|(id, _)| *id == &r.requirement) {
                out.push((&r.requirement, r.requirement_title.as_str()));
            }
        }
        out
    }
}

/// The output formats of a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// An aligned plain-text table for terminals.
    Terminal,
    /// A GitHub-flavoured markdown table.
    Markdown,
    /// Pretty-printed JSON of the [`Matrix`].
    Json,
    /// JUnit XML, one test case per criterion.
    Junit,
    /// RFC 4180 CSV, one row per criterion.
    Csv,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 6] = [
        Format::Terminal,
        Format::Markdown,
        Format::Json,
        Format::Junit,
        Format::Csv,
        Format::Html,
    ];

    /// Reads a format name as the CLI spells it: `text` (or `terminal`),
    /// `md` (or `markdown`), `json`, `junit` (or `xml`), `csv`, `html`.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "text" | "terminal" | "txt" => Some(Format::Terminal),
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            "junit" | "xml" => Some(Format::Junit),
            "csv" => Some(Format::Csv),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }

    /// The CLI name of the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Terminal => "text",
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    /// The usual file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Terminal => "txt",
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Junit => "xml",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }
}

/// Options that change how a matrix renders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colour in the terminal format. The caller decides, usually
    /// from whether standard output is a terminal; other formats ignore it.
    pub color: bool,
}

/// Renders a matrix in the given format.
pub fn render(matrix: &Matrix, format: Format, options: RenderOptions) -> String {
    match format {
        Format::Terminal if options.color => terminal_color(matrix),
        Format::Terminal => terminal(matrix),
        Format::Markdown => markdown(matrix),
        Format::Json => json(matrix),
        Format::Junit => junit(matrix),
        Format::Csv => csv(matrix),
        Format::Html => html(matrix),
    }
}

/// The matrix as pretty-printed JSON, with a final newline.
pub fn json(matrix: &Matrix) -> String {
    // Serialising plain strings, numbers and enums into memory cannot fail;
    // an empty string would only stand for a bug in a serde derive.
    let mut out = serde_json::to_string_pretty(matrix).unwrap_or_default();
    out.push('\n');
    out
}

/// The JSON Schema of [`Matrix`], for consumers of [`json`] output.
pub fn matrix_schema() -> schemars::Schema {
    schemars::schema_for!(Matrix)
}

/// The lower-case name of a verdict, as every format writes it.
pub(crate) fn status_name(status: CriterionStatus) -> &'static str {
    match status {
        CriterionStatus::Passed => "passed",
        CriterionStatus::Failed => "failed",
        CriterionStatus::Untested => "untested",
    }
}

/// The lower-case name of a test's outcome; `no result` when unknown.
pub(crate) fn test_status_name(status: Option<TestStatus>) -> &'static str {
    match status {
        Some(TestStatus::Passed) => "passed",
        Some(TestStatus::Failed) => "failed",
        Some(TestStatus::Skipped) => "skipped",
        Some(TestStatus::Errored) => "errored",
        None => "no result",
    }
}

/// The snake-case name of an EARS pattern.
pub(crate) fn ears_name(pattern: EarsPattern) -> &'static str {
    match pattern {
        EarsPattern::Ubiquitous => "ubiquitous",
        EarsPattern::EventDriven => "event_driven",
        EarsPattern::StateDriven => "state_driven",
        EarsPattern::Unwanted => "unwanted",
        EarsPattern::Optional => "optional",
        EarsPattern::Complex => "complex",
    }
}

/// `file:line`, `file`, or empty.
pub(crate) fn location(test: &Evidence) -> String {
    match (&test.file, test.line) {
        (Some(f), Some(l)) => format!("{f}:{l}"),
        (Some(f), None) => f.clone(),
        (None, Some(l)) => format!("line {l}"),
        (None, None) => String::new(),
    }
}

/// Ids joined with `, `.
pub(crate) fn join_ids<T: std::fmt::Display>(ids: &[T]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
