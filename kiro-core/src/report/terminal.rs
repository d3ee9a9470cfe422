//! The terminal renderer: an aligned table, then the evidence of failures.

use std::fmt::Write as _;

use super::text::{clean, one_line, truncate, width};
use super::{join_ids, location, status_name, test_status_name, Matrix};
use crate::verify::{CriterionStatus, TestStatus};

/// The most columns of criterion text shown in the table.
const TEXT_WIDTH: usize = 60;
/// The most lines of a failure excerpt shown under the table.
const EXCERPT_LINES: usize = 8;

const RESET: &str = "\u{1b}[0m";
const BOLD: &str = "\u{1b}[1m";
const RED: &str = "\u{1b}[1;31m";
const GREEN: &str = "\u{1b}[32m";
const YELLOW: &str = "\u{1b}[33m";

/// The matrix as a plain-text table, without colour.
///
/// Columns are aligned by display width (CJK characters take two columns);
/// criterion text is cut to one line of 60 columns. Below the table every
/// failed criterion lists its failing tests with the start of their output.
pub fn terminal(matrix: &Matrix) -> String {
    render(matrix, false)
}

/// The matrix as [`terminal`] renders it, with ANSI colours for verdicts.
pub fn terminal_color(matrix: &Matrix) -> String {
    render(matrix, true)
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("{code}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

fn status_color(status: CriterionStatus) -> &'static str {
    match status {
        CriterionStatus::Passed => GREEN,
        CriterionStatus::Failed => RED,
        CriterionStatus::Untested => YELLOW,
    }
}

fn render(matrix: &Matrix, color: bool) -> String {
    let mut out = String::new();
    let t = &matrix.totals;
    let name = one_line(&matrix.spec);
    let _ = writeln!(
        out,
        "{}: {} criteria, {} passed, {} failed, {} untested",
        paint(
            &format!(
                "Verification of {}",
                if name.is_empty() { "spec" } else { &name }
            ),
            BOLD,
            color
        ),
        t.criteria,
        paint(&t.passed.to_string(), GREEN, color && t.passed > 0),
        paint(&t.failed.to_string(), RED, color && t.failed > 0),
        paint(&t.untested.to_string(), YELLOW, color && t.untested > 0),
    );
    if matrix.rows.is_empty() {
        return out;
    }
    out.push('\n');

    let header = [
        "STATUS",
        "CRITERION",
        "TEXT",
        "TASKS",
        "PROPERTIES",
        "TESTS",
    ];
    let rows: Vec<[String; 6]> = matrix
        .rows
        .iter()
        .map(|r| {
            let failed = r
                .tests
                .iter()
                .filter(|t| matches!(t.status, Some(TestStatus::Failed | TestStatus::Errored)))
                .count();
            let tests = match (r.tests.len(), failed) {
                (0, _) => "-".to_owned(),
                (n, 0) => n.to_string(),
                (n, f) => format!("{n} ({f} failed)"),
            };
            let or_dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
            [
                status_name(r.status).to_uppercase(),
                one_line(r.criterion.as_str()),
                truncate(&one_line(&r.text), TEXT_WIDTH),
                or_dash(one_line(&join_ids(&r.tasks))),
                or_dash(one_line(&join_ids(&r.properties))),
                tests,
            ]
        })
        .collect();
    let mut widths = header.map(width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &[String], status: Option<CriterionStatus>, bold: bool| {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Colour codes go around the padded cell text so that they do
            // not count towards the column width.
            let code = match (i, status) {
                (0, Some(st)) => Some(status_color(st)),
                _ if bold => Some(BOLD),
                _ => None,
            };
            match code {
                Some(code) => s.push_str(&paint(cell, code, color)),
                None => s.push_str(cell),
            }
            if i < last {
                s.push_str(&" ".repeat(w.saturating_sub(width(cell)) + 2));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    out.push_str(&line(&header.map(str::to_owned), None, true));
    for (row, r) in rows.iter().zip(&matrix.rows) {
        out.push_str(&line(row, Some(r.status), false));
    }

    let failed: Vec<_> = matrix
        .rows
        .iter()
        .filter(|r| r.status == CriterionStatus::Failed)
        .collect();
    if !failed.is_empty() {
        out.push('\n');
        out.push_str(&paint("Failures", BOLD, color));
        out.push('\n');
    }
    for r in failed {
        let _ = writeln!(
            out,
            "  {} {}",
            paint(&one_line(r.criterion.as_str()), RED, color),
            one_line(&r.text)
        );
        for t in &r.tests {
            let loc = one_line(&location(t));
            let _ = writeln!(
                out,
                "    {}  {}{}",
                test_status_name(t.status),
                one_line(&t.test),
                if loc.is_empty() {
                    String::new()
                } else {
                    format!(" ({loc})")
                }
            );
            if let Some(ex) = &t.excerpt {
                let cleaned = clean(ex);
                let lines: Vec<&str> = cleaned.lines().collect();
                for l in lines.iter().take(EXCERPT_LINES) {
                    let _ = writeln!(out, "      {}", l.trim_end());
                }
                if lines.len() > EXCERPT_LINES {
                    let _ = writeln!(
                        out,
                        "      [... {} more lines]",
                        lines.len() - EXCERPT_LINES
                    );
                }
            }
        }
    }
    out
}
