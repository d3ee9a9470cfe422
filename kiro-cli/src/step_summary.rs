//! The markdown summary `kiro verify` and `kiro spec lint` append to the
//! file `GITHUB_STEP_SUMMARY` names, which GitHub Actions shows on the
//! run's page. Absent or empty variable: nothing is written. A summary that
//! cannot be written is a warning, never a failure of the command: the
//! command's own result and exit status are what CI acts on.

use std::fmt::Write as _;
use std::io::Write as _;

use kiro_core::lint::{Diagnostic, Severity};
use kiro_core::report::Matrix;
use kiro_core::verify::CriterionStatus;

/// The variable GitHub Actions sets to the step's summary file.
pub(crate) const ENV: &str = "GITHUB_STEP_SUMMARY";

/// How many findings a lint summary lists before it says how many more.
const SHOWN_FINDINGS: usize = 50;

/// Appends `markdown` to the summary file, when the variable names one.
fn append(markdown: &str) {
    let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "warning: cannot append the summary to {} ({ENV}): {e}",
            std::path::Path::new(&path).display()
        );
    }
}

/// Text safe inside a markdown table cell or list item: one line, pipes
/// and markup characters escaped, no control characters.
fn inline(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    for c in kiro_core::escape::escape_control(&one_line).chars() {
        if matches!(c, '|' | '<' | '>' | '`' | '*' | '_' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The summary of a verification: the verdict, the totals and the
/// criteria that failed or are untested.
pub(crate) fn verify(matrix: &Matrix, require_coverage: bool) {
    append(&verify_markdown(matrix, require_coverage));
}

fn verify_markdown(matrix: &Matrix, require_coverage: bool) -> String {
    let t = &matrix.totals;
    let ok = t.failed == 0 && (!require_coverage || t.untested == 0);
    let mut out = format!(
        "### {} kiro verify `{}`\n\n| criteria | passed | failed | untested |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n\n",
        if ok { "✅" } else { "❌" },
        inline(&matrix.spec),
        t.criteria,
        t.passed,
        t.failed,
        t.untested
    );
    let listed: Vec<_> = matrix
        .rows
        .iter()
        .filter(|r| r.status != CriterionStatus::Passed)
        .collect();
    if !listed.is_empty() {
        out.push_str("| criterion | verdict | text |\n|---|---|---|\n");
        for row in listed {
            let verdict = match row.status {
                CriterionStatus::Failed => "failed",
                _ => "untested",
            };
            let _ = writeln!(
                out,
                "| {} | {verdict} | {} |",
                inline(row.criterion.as_str()),
                inline(&row.text)
            );
        }
        out.push('\n');
    }
    out
}

/// The summary of a lint: counts by severity and the first findings.
pub(crate) fn lint(diagnostics: &[Diagnostic], failed: bool) {
    append(&lint_markdown(diagnostics, failed));
}

fn lint_markdown(diagnostics: &[Diagnostic], failed: bool) -> String {
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let mut out = format!(
        "### {} kiro spec lint\n\n{} errors, {} warnings, {} notes\n\n",
        if failed { "❌" } else { "✅" },
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note)
    );
    for d in diagnostics.iter().take(SHOWN_FINDINGS) {
        let place = match &d.file {
            Some(file) if d.line > 0 => format!("{}:{}", file.display(), d.line),
            Some(file) => file.display().to_string(),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "- **{}** {} {}: {}",
            d.severity.as_str(),
            inline(&d.code),
            inline(&place),
            inline(&d.message)
        );
    }
    if diagnostics.len() > SHOWN_FINDINGS {
        let _ = writeln!(out, "- and {} more", diagnostics.len() - SHOWN_FINDINGS);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_markup() {
        // (text, escaped)
        let cases = [
            ("a | b", "a \\| b"),
            ("line\nbreak", "line break"),
            ("<script>", "\\<script\\>"),
            ("`code` *x* [l](u)", "\\`code\\` \\*x\\* \\[l\\](u)"),
        ];
        for (text, want) in cases {
            assert_eq!(inline(text), want, "{text:?}");
        }
    }
}
