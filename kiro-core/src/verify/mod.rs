//! Verification results: per acceptance criterion, `Passed`, `Failed` or
//! `Untested`, with the evidence behind each verdict.
//!
//! Verification joins three things:
//! - [`annotations`]: links from tests to criteria, read from comments in
//!   test source (`Validates: Requirements 1.2`, `Feature: <spec>, Property 3: ...`);
//! - test results, from a JUnit XML report ([`junit`]) or from the human
//!   output of `cargo test` ([`cargo_test`]);
//! - the spec, whose criteria (and correctness properties) are the rows of
//!   the report.
//!
//! [`build_report`] matches results to annotated tests by name and decides
//! each criterion: `Failed` when a linked test failed, `Passed` when at least
//! one linked test passed and none failed, `Untested` otherwise.
//!
//! ```
//! use kiro_core::format::parse_requirements;
//! use kiro_core::verify::{annotations::scan_file, build_report, cargo_test::parse_cargo_test};
//! use kiro_core::verify::{CriterionStatus, RunInfo};
//! use kiro_core::Spec;
//!
//! let req = concat!(
//!     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n",
//!     "#### Acceptance Criteria\n\n1. THE system SHALL log in\n2. THE system SHALL log out\n",
//! );
//! let spec = Spec { name: "auth".into(), requirements: Some(parse_requirements(req).value), ..Spec::default() };
//! let anns = scan_file("tests/auth.rs", "// Validates: Requirements 1.1\n#[test]\nfn login_works() {}\n");
//! let results = parse_cargo_test("test login_works ... ok\n");
//! let report = build_report(&spec, &anns, &results, RunInfo { command: "cargo test".into(), exit_code: Some(0), per_test_results: true });
//! assert_eq!(report.criteria[0].status, CriterionStatus::Passed);
//! assert_eq!(report.criteria[1].status, CriterionStatus::Untested);
//! assert_eq!(report.counts(), (1, 0, 1));
//! ```

pub mod annotations;
pub mod cargo_test;
pub mod junit;

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{CriterionId, Spec};

use annotations::{Annotation, AnnotationKind};

/// The most bytes kept of one test's output or one evidence excerpt: the
/// start and the end are kept, the middle is cut.
pub const MAX_OUTPUT: usize = 16 * 1024;

/// The most bytes of an evidence excerpt.
const MAX_EXCERPT: usize = 2 * 1024;

/// The verdict on one acceptance criterion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    /// Every test linked to the criterion passed.
    Passed,
    /// At least one test linked to the criterion failed.
    Failed,
    /// No test result is linked to the criterion.
    #[default]
    Untested,
}

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// The test passed.
    Passed,
    /// An assertion of the test failed.
    Failed,
    /// The test was not run (ignored, skipped).
    Skipped,
    /// The test could not run to completion (an error outside its
    /// assertions: setup failure, crash, timeout).
    Errored,
}

/// One test's result, from a JUnit report or `cargo test` output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestResult {
    /// The test's name as the runner reports it (`tests::login_works`,
    /// `test_login_works[param]`, `Auth logs in`, `TestLogin/expired`).
    pub name: String,
    /// The class, module or suite the runner puts the test in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    /// The test's source file, when the runner says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The test's 1-based line, when the runner says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// How it ended.
    pub status: TestStatus,
    /// The failure, error or skip message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the test printed and the failure details, at most
    /// [`MAX_OUTPUT`] bytes (start and end kept).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// How long it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The test run a report is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// The command line that ran the tests.
    pub command: String,
    /// Its exit code; `None` when it was killed by a signal or not run.
    pub exit_code: Option<i32>,
    /// Whether per-test results exist (a JUnit report, parsed `cargo test`
    /// output). Without them only the exit code decides, for every
    /// criterion that has at least one annotated test.
    pub per_test_results: bool,
}

/// One piece of evidence behind a criterion's verdict: a linked test and
/// how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The test: the runner's name when a result was found, otherwise the
    /// declared name (or `file:line` of the annotation when no test
    /// declaration follows it).
    pub test: String,
    /// The source file of the annotation, relative to the scanned root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line of the test declaration (of the annotation when no
    /// declaration was found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// How the test ended; `None` when it has no result of its own (not run,
    /// not found, or only the run's exit code is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TestStatus>,
    /// A bounded excerpt of the failure message and output, with the
    /// proptest counterexample (`minimal failing input`) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

/// The verdict on one criterion and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CriterionResult {
    /// The criterion (`1.2`).
    pub criterion: CriterionId,
    /// The verdict.
    pub status: CriterionStatus,
    /// The linked tests and how they ended; failed tests first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// What a [`Verifier`](crate::stage::Verifier) found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerificationReport {
    /// The spec's name.
    #[serde(default)]
    pub spec: String,
    /// The command that ran the tests.
    #[serde(default)]
    pub command: String,
    /// The command's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Whether verdicts come from per-test results (`true`) or only from
    /// the exit code (`false`).
    #[serde(default)]
    pub per_test_results: bool,
    /// One entry per acceptance criterion of the spec, in document order.
    pub criteria: Vec<CriterionResult>,
    /// Every test result of the run, linked or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestResult>,
}

impl VerificationReport {
    /// Whether no criterion failed.
    pub fn is_success(&self) -> bool {
        self.criteria
            .iter()
            .all(|c| c.status != CriterionStatus::Failed)
    }

    /// How many criteria passed, failed and are untested.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.criteria
            .iter()
            .fold((0, 0, 0), |(p, f, u), c| match c.status {
                CriterionStatus::Passed => (p + 1, f, u),
                CriterionStatus::Failed => (p, f + 1, u),
                CriterionStatus::Untested => (p, f, u + 1),
            })
    }
}

/// Builds the report of one spec from the annotations found in test source
/// and the results of a run.
///
/// Only the annotations that belong to the spec count (see
/// [`annotations::Scope`]): those a `Feature: other-spec, ...` line scopes,
/// and those [unattributed](annotations::Scope::Unattributed) in a
/// workspace with several specs, are ignored. A property
/// annotation links the criteria its property validates in the spec's
/// design; a requirement-level id (`6`) links every criterion of that
/// requirement.
pub fn build_report(
    spec: &Spec,
    annotations: &[Annotation],
    results: &[TestResult],
    run: RunInfo,
) -> VerificationReport {
    let criteria = spec.criteria();
    let own = own_annotations(spec, annotations);
    let index = crate::trace::results::ResultIndex::new(results);
    let criterion_index = CriterionIndex::new(spec, &criteria);

    // criterion -> evidence keys already recorded, to list a test once even
    // when several annotations on it name the same criterion.
    let mut links: HashMap<&str, Vec<Link<'_>>> = HashMap::new();
    for ann in &own {
        let matched = if run.per_test_results {
            ann.test
                .as_ref()
                .map(|t| index.matches(&t.name, t.kind, &ann.file))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for id in criterion_index.linked(ann) {
            let entry = links.entry(id).or_default();
            let link = Link {
                ann,
                results: matched.clone(),
            };
            if !entry.iter().any(|l| l.same_test(&link)) {
                entry.push(link);
            }
        }
    }

    let mut out = Vec::with_capacity(criteria.len());
    for c in &criteria {
        let linked = links
            .get(c.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        out.push(judge(&c.id, linked, results, &run));
    }
    VerificationReport {
        spec: spec.name.clone(),
        command: run.command,
        exit_code: run.exit_code,
        per_test_results: run.per_test_results,
        criteria: out,
        tests: results.to_vec(),
    }
}

/// One annotated test linked to a criterion, with its matching results
/// (indexes into the run's results).
struct Link<'a> {
    ann: &'a Annotation,
    results: Vec<usize>,
}

impl Link<'_> {
    fn same_test(&self, other: &Link<'_>) -> bool {
        match (&self.ann.test, &other.ann.test) {
            (Some(a), Some(b)) => self.ann.file == other.ann.file && a.line == b.line,
            _ => self.ann.file == other.ann.file && self.ann.line == other.ann.line,
        }
    }
}

fn judge(
    criterion: &CriterionId,
    links: &[Link<'_>],
    results: &[TestResult],
    run: &RunInfo,
) -> CriterionResult {
    let mut evidence = Vec::new();
    let status = if !run.per_test_results {
        for link in links {
            evidence.push(Evidence {
                test: declared_name(link.ann),
                file: Some(link.ann.file.clone()),
                line: Some(decl_line(link.ann)),
                status: None,
                excerpt: Some(match run.exit_code {
                    Some(code) => format!("no per-test results; the run exited with code {code}"),
                    None => "no per-test results; the run did not exit normally".to_owned(),
                }),
            });
        }
        if links.is_empty() {
            CriterionStatus::Untested
        } else if run.exit_code == Some(0) {
            CriterionStatus::Passed
        } else {
            CriterionStatus::Failed
        }
    } else {
        let mut passed = false;
        let mut failed = false;
        for link in links {
            if link.results.is_empty() {
                evidence.push(Evidence {
                    test: declared_name(link.ann),
                    file: Some(link.ann.file.clone()),
                    line: Some(decl_line(link.ann)),
                    status: None,
                    excerpt: None,
                });
            }
            for &i in &link.results {
                let Some(r) = results.get(i) else {
                    continue;
                };
                match r.status {
                    TestStatus::Passed => passed = true,
                    TestStatus::Failed | TestStatus::Errored => failed = true,
                    TestStatus::Skipped => {}
                }
                evidence.push(Evidence {
                    test: r.name.clone(),
                    file: Some(link.ann.file.clone()),
                    line: Some(decl_line(link.ann)),
                    status: Some(r.status),
                    excerpt: excerpt(r),
                });
            }
        }
        if failed {
            CriterionStatus::Failed
        } else if passed {
            CriterionStatus::Passed
        } else {
            CriterionStatus::Untested
        }
    };
    // Failures first, then passes, skips and tests without a result.
    evidence.sort_by_key(|e| match e.status {
        Some(TestStatus::Failed | TestStatus::Errored) => 0,
        Some(TestStatus::Passed) => 1,
        Some(TestStatus::Skipped) => 2,
        None => 3,
    });
    CriterionResult {
        criterion: criterion.clone(),
        status,
        evidence,
    }
}

fn declared_name(ann: &Annotation) -> String {
    match &ann.test {
        Some(t) => t.name.clone(),
        None => format!("{}:{}", ann.file, ann.line),
    }
}

fn decl_line(ann: &Annotation) -> u32 {
    ann.test.as_ref().map_or(ann.line, |t| t.line)
}

/// The failure message and output of a failed or errored test, bounded, with
/// the proptest counterexample kept even when it lies beyond the bound.
fn excerpt(r: &TestResult) -> Option<String> {
    if !matches!(
        r.status,
        TestStatus::Failed | TestStatus::Errored | TestStatus::Skipped
    ) {
        return None;
    }
    let mut text = String::new();
    if let Some(m) = &r.message {
        text.push_str(m);
    }
    if r.status != TestStatus::Skipped
        && !r.output.is_empty()
        && r.message.as_deref() != Some(r.output.as_str())
    {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&r.output);
    }
    if text.is_empty() {
        return None;
    }
    let counterexample = r
        .output
        .lines()
        .chain(r.message.as_deref().unwrap_or_default().lines())
        .find(|l| l.contains("minimal failing input"))
        .map(str::trim);
    let mut bounded = bound(&text, MAX_EXCERPT);
    if let Some(ce) = counterexample {
        if !bounded.contains(ce) {
            bounded.push('\n');
            bounded.push_str(ce);
        }
    }
    Some(bounded)
}

/// Keeps the annotations that belong to this spec: those whose
/// [`Scope`](annotations::Scope) names it, and those with no scope at all;
/// never the [`Unattributed`](annotations::Scope::Unattributed) ones.
pub(crate) fn own_annotations<'a>(
    spec: &Spec,
    annotations: &'a [Annotation],
) -> Vec<&'a Annotation> {
    annotations
        .iter()
        .filter(|a| annotations::belongs_to(a, &spec.name))
        .collect()
}

/// The spec's criteria by id and by requirement, and its properties'
/// criteria, so that resolving an annotation costs a few map lookups
/// whatever the size of the spec.
struct CriterionIndex<'s> {
    by_id: HashMap<&'s str, Vec<&'s str>>,
    by_requirement: HashMap<&'s str, Vec<&'s str>>,
    properties: HashMap<&'s str, &'s [CriterionId]>,
}

impl<'s> CriterionIndex<'s> {
    fn new(spec: &'s Spec, criteria: &[&'s crate::spec::AcceptanceCriterion]) -> Self {
        let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut by_requirement: HashMap<&str, Vec<&str>> = HashMap::new();
        for c in criteria {
            let id = c.id.as_str();
            let ids = by_id.entry(id).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
            let requirement = id.rsplit_once('.').map_or(id, |(r, _)| r);
            let req = by_requirement.entry(requirement).or_default();
            if !req.contains(&id) {
                req.push(id);
            }
        }
        let mut properties: HashMap<&str, &[CriterionId]> = HashMap::new();
        for p in spec.design.iter().flat_map(|d| &d.properties) {
            // The first property with an id wins, as a linear search would.
            properties
                .entry(p.id.as_str())
                .or_insert(p.validates.as_slice());
        }
        CriterionIndex {
            by_id,
            by_requirement,
            properties,
        }
    }

    /// The criteria of the spec an annotation links, in the spec's own ids
    /// and document order per id.
    fn linked(&self, ann: &Annotation) -> Vec<&'s str> {
        let ids: &[CriterionId] = match ann.kind {
            AnnotationKind::Validates | AnnotationKind::Requirements => &ann.criteria,
            AnnotationKind::Property => match &ann.property {
                Some(p) => self.properties.get(p.as_str()).copied().unwrap_or_default(),
                None => &[],
            },
        };
        let mut out: Vec<&'s str> = Vec::new();
        for id in ids {
            let hits = if id.is_requirement_level() {
                self.by_requirement.get(id.as_str())
            } else {
                self.by_id.get(id.as_str())
            };
            for hit in hits.into_iter().flatten() {
                if !out.contains(hit) {
                    out.push(hit);
                }
            }
        }
        out
    }
}

/// Cuts `text` to at most `max` bytes, keeping its start and end (on char
/// boundaries) around a marker that says how much was left out.
fn bound(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let half = max / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len().saturating_sub(half);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let head = text.get(..head_end).unwrap_or_default();
    let tail = text.get(tail_start..).unwrap_or_default();
    format!(
        "{head}\n[... {} bytes omitted ...]\n{tail}",
        tail_start - head_end
    )
}

/// Bounds a test's output to [`MAX_OUTPUT`] bytes in place.
pub(crate) fn bound_output(output: &mut String) {
    if output.len() > MAX_OUTPUT {
        *output = bound(output, MAX_OUTPUT);
    }
}
