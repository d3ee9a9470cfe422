//! The JUnit XML renderer: one test case per acceptance criterion.

use std::fmt::Write as _;

use super::text::xml_escape;
use super::{location, status_name, test_status_name, Matrix, MatrixRow};
use crate::verify::{CriterionStatus, TestStatus};

/// The matrix as JUnit XML, so that CI dashboards list requirements.
///
/// One `<testsuite>` named after the spec holds one `<testcase>` per
/// criterion, with `classname` `<spec>.requirement-<N>` and name
/// `<id> <text>`. A failed criterion carries a `<failure>` whose message
/// names the failing tests and whose body holds their evidence; an untested
/// one is `<skipped/>`; a passed one lists its tests in `<system-out>`.
pub fn junit(matrix: &Matrix) -> String {
    let t = &matrix.totals;
    let spec = if matrix.spec.trim().is_empty() {
        "spec"
    } else {
        matrix.spec.trim()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        xml_escape(&format!("kiro verify {spec}"), true),
        t.criteria,
        t.failed,
        t.untested
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        xml_escape(spec, true),
        t.criteria,
        t.failed,
        t.untested
    );
    for r in &matrix.rows {
        testcase(&mut out, spec, r);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn testcase(out: &mut String, spec: &str, r: &MatrixRow) {
    let classname = format!("{spec}.requirement-{}", r.requirement);
    let text = r.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = format!("{} {}", r.criterion, text);
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        xml_escape(&classname, true),
        xml_escape(name.trim_end(), true)
    );
    if let Some(file) = r.tests.first().and_then(|t| t.file.as_deref()) {
        let _ = write!(out, " file=\"{}\"", xml_escape(file, true));
    }
    match r.status {
        CriterionStatus::Failed => {
            let failing: Vec<&str> = r
                .tests
                .iter()
                .filter(|t| matches!(t.status, Some(TestStatus::Failed | TestStatus::Errored)))
                .map(|t| t.test.as_str())
                .collect();
            let message = if failing.is_empty() {
                format!("criterion {} failed", r.criterion)
            } else {
                format!("criterion {} failed: {}", r.criterion, failing.join(", "))
            };
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                xml_escape(&message, true),
                status_name(r.status),
                xml_escape(&evidence(r), false)
            );
        }
        CriterionStatus::Untested => {
            let message = if r.tests.is_empty() {
                "no test is linked to this criterion"
            } else {
                "no linked test has a result"
            };
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n",
                xml_escape(message, true)
            );
            if !r.tests.is_empty() {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml_escape(&evidence(r), false)
                );
            }
            out.push_str("    </testcase>\n");
        }
        CriterionStatus::Passed if r.tests.is_empty() => out.push_str("/>\n"),
        CriterionStatus::Passed => {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml_escape(&evidence(r), false)
            );
        }
    }
}

/// One block per linked test: `<status> <name> (<file:line>)` and its excerpt.
fn evidence(r: &MatrixRow) -> String {
    let mut out = String::new();
    for t in &r.tests {
        let loc = location(t);
        let _ = write!(out, "{}: {}", test_status_name(t.status), t.test);
        if !loc.is_empty() {
            let _ = write!(out, " ({loc})");
        }
        out.push('\n');
        if let Some(ex) = &t.excerpt {
            out.push_str(ex.trim_end());
            out.push('\n');
        }
    }
    out
}
