//! Verdicts: the [`VerificationReport`] of a spec, read off its
//! [`TraceGraph`].
//!
//! The graph decides which tests check which criterion (directly, through
//! a requirement-level id or through a property) and which results belong
//! to which test; this module only turns that into one
//! [`CriterionResult`] per criterion with its [`Evidence`].

use std::collections::BTreeMap;

use super::{TraceGraph, TraceTest};
use crate::spec::{CriterionId, Spec};
use crate::verify::annotations::Annotation;
use crate::verify::properties::PropertyResults;
use crate::verify::{
    bound, CriterionResult, CriterionStatus, Evidence, RunInfo, TestResult, TestStatus,
    VerificationReport,
};

/// The most bytes of an evidence excerpt.
const MAX_EXCERPT: usize = 2 * 1024;

/// Builds the report of one spec from the annotations found in test source
/// and the results of a run.
///
/// The links are those of [`TraceGraph::build`]: only the annotations that
/// belong to the spec count (see [`Scope`](crate::verify::annotations::Scope)),
/// a property annotation links the criteria its property validates in the
/// spec's design, and a requirement-level id (`6`) links every criterion of
/// that requirement. A criterion is `Failed` when a linked test failed,
/// `Passed` when one passed and none failed, `Untested` otherwise; without
/// per-test results ([`RunInfo::per_test_results`]) the run's exit code
/// decides for every criterion with at least one linked test.
///
/// ```
/// use kiro_core::format::parse_requirements;
/// use kiro_core::trace::build_report;
/// use kiro_core::verify::{annotations::scan_file, cargo_test::parse_cargo_test};
/// use kiro_core::verify::{CriterionStatus, RunInfo};
/// use kiro_core::Spec;
///
/// let req = concat!(
///     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n",
///     "#### Acceptance Criteria\n\n1. THE system SHALL log in\n2. THE system SHALL log out\n",
/// );
/// let spec = Spec { name: "auth".into(), requirements: Some(parse_requirements(req).value), ..Spec::default() };
/// let anns = scan_file("tests/auth.rs", "// Validates: Requirements 1.1\n#[test]\nfn login_works() {}\n");
/// let results = parse_cargo_test("test login_works ... ok\n");
/// let report = build_report(&spec, &anns, &results, RunInfo { command: "cargo test".into(), exit_code: Some(0), per_test_results: true });
/// assert_eq!(report.criteria[0].status, CriterionStatus::Passed);
/// assert_eq!(report.criteria[1].status, CriterionStatus::Untested);
/// assert_eq!(report.counts(), (1, 0, 1));
/// ```
pub fn build_report(
    spec: &Spec,
    annotations: &[Annotation],
    results: &[TestResult],
    run: RunInfo,
) -> VerificationReport {
    // Without per-test results no result belongs to a test: the exit code
    // decides, and matching names would only cost time.
    let matched = if run.per_test_results { results } else { &[] };
    let graph = TraceGraph::build(spec, annotations, matched, &BTreeMap::new());
    // One entry per criterion of the spec, duplicates included, so that the
    // report lines up with the documents.
    let criteria = spec
        .criteria()
        .into_iter()
        .map(|c| judge(&graph, &c.id, &run))
        .collect();
    VerificationReport {
        spec: spec.name.clone(),
        command: run.command,
        exit_code: run.exit_code,
        per_test_results: run.per_test_results,
        criteria,
        tests: results.to_vec(),
    }
}

/// `report` with the property results of `properties` in place of those
/// it held (from an earlier `kiro pbt run`, or none): its tests are judged
/// again with the properties' annotations added to `annotations`. A report
/// whose run gave no per-test results keeps its exit code for every test
/// other than the properties only when it had no property results; with
/// them, every test needs a result of its own.
pub fn with_property_results(
    spec: &Spec,
    report: &VerificationReport,
    annotations: &[Annotation],
    properties: &PropertyResults,
) -> VerificationReport {
    let mut annotations = annotations.to_vec();
    let mut tests = report.tests.clone();
    properties.add_to(&mut annotations, &mut tests);
    let run = RunInfo {
        command: report.command.clone(),
        exit_code: report.exit_code,
        per_test_results: !tests.is_empty(),
    };
    build_report(spec, &annotations, &tests, run)
}

fn judge(graph: &TraceGraph, criterion: &CriterionId, run: &RunInfo) -> CriterionResult {
    let tests: Vec<&TraceTest> = graph
        .test_links(criterion)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let mut evidence = Vec::new();
    let status = if run.per_test_results {
        for t in &tests {
            let results = graph.results_of(&t.key);
            if results.is_empty() {
                evidence.push(declared(t, None));
            }
            for r in results {
                evidence.push(Evidence {
                    test: r.name.clone(),
                    file: Some(t.key.file.clone()),
                    line: Some(t.key.line),
                    status: Some(r.status),
                    excerpt: excerpt(r),
                });
            }
        }
        graph.status_of(criterion)
    } else {
        let note = match run.exit_code {
            Some(code) => format!("no per-test results; the run exited with code {code}"),
            None => "no per-test results; the run did not exit normally".to_owned(),
        };
        for t in &tests {
            evidence.push(declared(t, Some(note.clone())));
        }
        if tests.is_empty() {
            CriterionStatus::Untested
        } else if run.exit_code == Some(0) {
            CriterionStatus::Passed
        } else {
            CriterionStatus::Failed
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

/// Evidence for a test without a result of its own: its declared name, or
/// `file:line` when no declaration follows its annotation.
fn declared(t: &TraceTest, excerpt: Option<String>) -> Evidence {
    Evidence {
        test: t
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", t.key.file, t.key.line)),
        file: Some(t.key.file.clone()),
        line: Some(t.key.line),
        status: None,
        excerpt,
    }
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
