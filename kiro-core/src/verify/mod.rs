//! Verification inputs and results: test annotations, test runners'
//! results, and the per-criterion verdict types (`Passed`, `Failed`,
//! `Untested`, with the evidence behind each).
//!
//! This module reads; it does not link. It provides:
//! - [`annotations`]: links from tests to criteria, read from comments in
//!   test source (`Validates: Requirements 1.2`, `Feature: <spec>, Property 3: ...`);
//! - test results, from a JUnit XML report ([`junit`]) or from the human
//!   output of `cargo test` ([`cargo_test`]);
//! - the report types: [`VerificationReport`], [`CriterionResult`] and
//!   [`Evidence`], the one type for "a test and how it ended" that the
//!   report matrix (`report::Matrix`) also uses.
//!
//! Resolving which test checks which criterion is the trace graph's job
//! (`trace`): `trace::build_report` builds the report
//! from it. The dependency runs one way, `verify` → `trace` → `report`.
//!
//! ```
//! use kiro_core::verify::cargo_test::parse_cargo_test;
//! use kiro_core::verify::TestStatus;
//!
//! let results = parse_cargo_test("test login_works ... ok\ntest logout ... FAILED\n");
//! assert_eq!(results[0].status, TestStatus::Passed);
//! assert_eq!(results[1].status, TestStatus::Failed);
//! ```

pub mod annotations;
pub mod cargo_test;
pub mod junit;
pub mod properties;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{CriterionId, Spec};

use annotations::Annotation;

/// The most bytes kept of one test's output or one evidence excerpt: the
/// start and the end are kept, the middle is cut.
pub const MAX_OUTPUT: usize = 16 * 1024;

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

/// Cuts `text` to at most `max` bytes, keeping its start and end (on char
/// boundaries) around a marker that says how much was left out.
pub(crate) fn bound(text: &str, max: usize) -> String {
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
