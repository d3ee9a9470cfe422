//! The markdown renderer: a GitHub-flavoured table and the failure evidence.

use std::fmt::Write as _;

use super::text::clean;
use super::{ears_name, join_ids, location, status_name, test_status_name, Matrix};
use crate::verify::CriterionStatus;

/// The matrix as GitHub-flavoured markdown: a summary line, a table with one
/// row per criterion and, for failed criteria, the evidence of each test in
/// a fenced code block.
///
/// Cells escape `|` and `<` with backslashes (so text cannot break the table
/// or open raw HTML) and write line breaks as `<br>`. Criterion text is
/// otherwise kept as the markdown it is in the spec.
pub fn markdown(matrix: &Matrix) -> String {
    let mut out = String::new();
    let t = &matrix.totals;
    let _ = writeln!(out, "# Verification: {}", cell(&matrix.spec));
    out.push('\n');
    let _ = writeln!(
        out,
        "**{} criteria:** {} passed, {} failed, {} untested ({} linked to tasks, {} linked to tests)",
        t.criteria, t.passed, t.failed, t.untested, t.with_tasks, t.with_tests
    );
    if matrix.rows.is_empty() {
        return out;
    }
    out.push('\n');
    out.push_str(
        "| Status | Criterion | Requirement | Text | EARS | Tasks | Properties | Tests |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in &matrix.rows {
        let requirement = if r.requirement_title.is_empty() {
            r.requirement.to_string()
        } else {
            format!("{} {}", r.requirement, r.requirement_title)
        };
        let tests = r
            .tests
            .iter()
            .map(|t| format!("{} ({})", t.test, test_status_name(t.status)))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            status_name(r.status),
            cell(r.criterion.as_str()),
            cell(&requirement),
            cell(&r.text),
            r.ears.map(ears_name).unwrap_or_default(),
            cell(&join_ids(&r.tasks)),
            cell(&join_ids(&r.properties)),
            cell(&tests),
        );
    }

    let failed: Vec<_> = matrix
        .rows
        .iter()
        .filter(|r| r.status == CriterionStatus::Failed)
        .collect();
    if failed.is_empty() {
        return out;
    }
    out.push_str("\n## Failures\n");
    for r in failed {
        let _ = write!(
            out,
            "\n### {} {}\n",
            cell(r.criterion.as_str()),
            cell(&r.text)
        );
        for t in &r.tests {
            let loc = location(t);
            out.push('\n');
            let _ = write!(
                out,
                "- **{}** {}",
                test_status_name(t.status),
                code_span(&t.test)
            );
            if !loc.is_empty() {
                let _ = write!(out, " at {}", code_span(&loc));
            }
            out.push('\n');
            if let Some(ex) = &t.excerpt {
                let ex = clean(ex);
                let fence = "`".repeat(longest_run(&ex, '`').max(2) + 1);
                out.push('\n');
                let _ = writeln!(out, "  {fence}text");
                for l in ex.lines() {
                    let _ = writeln!(out, "  {}", l.trim_end());
                }
                let _ = writeln!(out, "  {fence}");
            }
        }
    }
    out
}

/// Text for one table cell.
fn cell(text: &str) -> String {
    let text = clean(text);
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if let Some(first) = lines.next() {
        escape_into(&mut out, first);
    }
    for l in lines {
        out.push_str("<br>");
        escape_into(&mut out, l);
    }
    out
}

fn escape_into(out: &mut String, line: &str) {
    for c in line.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("\\<"),
            c => out.push(c),
        }
    }
}

/// An inline code span that holds any text: the fence is longer than the
/// longest backtick run inside, so no backtick in the text can close it.
fn code_span(text: &str) -> String {
    let text = clean(text).replace('\n', " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn longest_run(text: &str, c: char) -> usize {
    let mut best = 0;
    let mut run = 0;
    for d in text.chars() {
        if d == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}
