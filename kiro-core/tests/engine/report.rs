//! Report renderers: every format on a small spec with passed, failed and
//! untested criteria, evidence with markup characters and non-ASCII text,
//! and the HTML page driven in a real headless Chromium.

// Helpers outside #[test] functions unwrap and panic too; a failed
// assertion there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiro_core::format::{parse_design, parse_requirements, parse_tasks};
use kiro_core::report::{
    csv, html, json, junit, markdown, matrix_schema, render, terminal, terminal_color, Format,
    Matrix, MatrixRow, RenderOptions, CSV_COLUMNS,
};
use kiro_core::spec::{CriterionId, EarsPattern, PropertyId, RequirementId, TaskId};
use kiro_core::verify::{
    CriterionResult, CriterionStatus, Evidence, TestStatus, VerificationReport,
};
use kiro_core::Spec;

const REQUIREMENTS: &str = "# Requirements Document

## Requirements

### Requirement 1: Login & sessions

**User Story:** As a user, I want to log in, so that I see my data.

#### Acceptance Criteria

1. WHEN a user submits valid credentials, THE Auth_Service SHALL create a session
2. IF the password is wrong, THEN THE Auth_Service SHALL reject the login with \"a|b\" <error>

### Requirement 2: Überprüfung 日本語

#### Acceptance Criteria

1. THE Auth_Service SHALL log every attempt
2. WHILE 会话 is active, THE Auth_Service SHALL refresh the token
";

const DESIGN: &str = "# Design Document

## Overview

Auth.

## Correctness Properties

### Property 1: Rejection

*For any* wrong password, the login SHALL be rejected.

**Validates: Requirements 1.2**

### Property 2: Logging

*For any* attempt, a log line SHALL exist.

**Validates: Requirements 2**
";

const TASKS: &str = "# Implementation Plan

- [ ] 1. Build login
  - [ ] 1.1 Sessions
    - _Requirements: 1.1_
  - [ ] 1.2 Rejection
    - _Requirements: 1.2_
- [ ] 2. Logging
  - _Requirements: 2_
";

/// Evidence text with every character that needs escaping somewhere.
const NASTY: &str = "assertion failed: left == right <>&\"',| ü 日本 </script><b>x</b>\n  left: `\"a|b\"`\n\u{1b}[31mred\u{1b}[0m";

fn spec() -> Spec {
    Spec {
        name: "auth".into(),
        requirements: Some(parse_requirements(REQUIREMENTS).value),
        design: Some(parse_design(DESIGN).value),
        tasks: Some(parse_tasks(TASKS).value),
        ..Spec::default()
    }
}

fn report() -> VerificationReport {
    let crit = |id: &str, status, evidence| CriterionResult {
        criterion: CriterionId::new(id),
        status,
        evidence,
    };
    VerificationReport {
        spec: "auth".into(),
        command: "cargo test".into(),
        exit_code: Some(101),
        per_test_results: true,
        criteria: vec![
            crit(
                "1.1",
                CriterionStatus::Passed,
                vec![Evidence {
                    test: "login_creates_session".into(),
                    file: Some("tests/auth.rs".into()),
                    line: Some(12),
                    status: Some(TestStatus::Passed),
                    excerpt: None,
                }],
            ),
            crit(
                "1.2",
                CriterionStatus::Failed,
                vec![
                    Evidence {
                        test: "wrong_password_rejected<&>".into(),
                        file: Some("tests/auth, \"main\".rs".into()),
                        line: Some(30),
                        status: Some(TestStatus::Failed),
                        excerpt: Some(NASTY.into()),
                    },
                    Evidence {
                        test: "rejects_empty".into(),
                        file: Some("tests/auth.rs".into()),
                        line: Some(40),
                        status: Some(TestStatus::Passed),
                        excerpt: None,
                    },
                ],
            ),
            crit("2.1", CriterionStatus::Untested, vec![]),
            crit(
                "2.2",
                CriterionStatus::Passed,
                vec![Evidence {
                    test: "刷新_token".into(),
                    file: Some("tests/会话.py".into()),
                    line: Some(3),
                    status: Some(TestStatus::Passed),
                    excerpt: None,
                }],
            ),
        ],
        tests: vec![],
    }
}

fn matrix() -> Matrix {
    Matrix::build(&spec(), &report())
}

fn ids<T: ToString>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

// ---------------------------------------------------------------- Matrix

#[test]
fn matrix_rows_follow_the_spec_with_links_and_verdicts() {
    let m = matrix();
    assert_eq!(m.spec, "auth");
    let crits: Vec<&str> = m.rows.iter().map(|r| r.criterion.as_str()).collect();
    assert_eq!(crits, ["1.1", "1.2", "2.1", "2.2"]);
    let r = &m.rows[0];
    assert_eq!(r.requirement, RequirementId::new("1"));
    assert_eq!(r.requirement_title, "Login & sessions");
    assert_eq!(r.ears, Some(EarsPattern::EventDriven));
    assert_eq!(ids(&r.tasks), ["1.1"]);
    assert!(r.properties.is_empty());
    assert_eq!(r.status, CriterionStatus::Passed);
    assert_eq!(r.tests[0].test, "login_creates_session");
    assert_eq!(r.tests[0].line, Some(12));

    let r = &m.rows[1];
    assert_eq!(r.ears, Some(EarsPattern::Unwanted));
    assert_eq!(ids(&r.tasks), ["1.2"]);
    assert_eq!(r.properties, vec![PropertyId::new("1")]);
    assert_eq!(r.status, CriterionStatus::Failed);
    assert_eq!(r.tests.len(), 2);
    assert_eq!(r.tests[0].excerpt.as_deref(), Some(NASTY));

    // Requirement-level links (`_Requirements: 2_`, `Validates: Requirements 2`).
    for r in &m.rows[2..] {
        assert_eq!(r.requirement_title, "Überprüfung 日本語");
        assert_eq!(r.tasks, vec![TaskId::new("2")]);
        assert_eq!(r.properties, vec![PropertyId::new("2")]);
    }
    assert_eq!(m.rows[2].status, CriterionStatus::Untested);
    assert_eq!(m.rows[3].status, CriterionStatus::Passed);

    let t = m.totals;
    assert_eq!(
        (
            t.criteria,
            t.passed,
            t.failed,
            t.untested,
            t.with_tasks,
            t.with_tests
        ),
        (4, 2, 1, 1, 4, 3)
    );
}

#[test]
fn matrix_marks_unreported_criteria_untested_and_keeps_stale_entries() {
    let mut rep = report();
    rep.criteria.retain(|c| c.criterion.as_str() != "2.2");
    rep.criteria.push(CriterionResult {
        criterion: CriterionId::new("9.1"),
        status: CriterionStatus::Failed,
        evidence: vec![],
    });
    let m = Matrix::build(&spec(), &rep);
    assert_eq!(m.rows.len(), 5);
    assert_eq!(m.rows[3].criterion.as_str(), "2.2");
    assert_eq!(m.rows[3].status, CriterionStatus::Untested);
    assert!(m.rows[3].tests.is_empty());
    assert_eq!(m.rows[4].criterion.as_str(), "9.1");
    assert_eq!(m.rows[4].requirement.as_str(), "9");
    assert_eq!(m.rows[4].status, CriterionStatus::Failed);
    assert_eq!(m.totals.failed, 2);
}

#[test]
fn empty_matrix_renders_in_every_format() {
    let m = Matrix::build(&Spec::default(), &VerificationReport::default());
    for f in Format::ALL {
        let out = render(&m, f, RenderOptions::default());
        assert!(!out.is_empty(), "{f:?}");
    }
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::from_name(f.name()), Some(f));
    }
    assert_eq!(Format::from_name("markdown"), Some(Format::Markdown));
    assert_eq!(Format::from_name("TEXT"), Some(Format::Terminal));
    assert_eq!(Format::from_name("pdf"), None);
}

// ---------------------------------------------------------------- terminal

/// Display columns, counting CJK as two (as the renderer does).
fn cols(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{3000}'..='\u{9fff}').contains(&c) || ('\u{ff00}'..='\u{ff60}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn terminal_table_is_aligned_and_plain_without_colour() {
    let out = terminal(&matrix());
    assert!(!out.contains('\u{1b}'), "no ANSI without colour:\n{out}");
    assert!(out.starts_with("Verification of auth: 4 criteria, 2 passed, 1 failed, 1 untested\n"));
    let lines: Vec<&str> = out.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("STATUS")).unwrap();
    let head = lines[header];
    // Every table line puts the TASKS column at the same display column.
    let tasks_col = cols(&head[..head.find("TASKS").unwrap()]);
    for (line, task) in lines[header + 1..header + 5]
        .iter()
        .zip(["1.1", "1.2", "2", "2"])
    {
        let at = line
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| cols(&line[..i]) == tasks_col)
            .unwrap_or_else(|| panic!("misaligned: {line}"));
        assert!(line[..at].ends_with("  "), "misaligned: {line}");
        assert!(
            line[at..].starts_with(&format!("{task} ")),
            "misaligned: {line}"
        );
    }
    assert!(lines[header + 1].starts_with("PASSED    1.1"));
    assert!(lines[header + 2].contains("2 (1 failed)"));
    assert!(lines[header + 3].starts_with("UNTESTED  2.1"));
    assert!(lines[header + 3].ends_with('-'));
    // Failures list the failing test and its output, without escape codes.
    let failures = &out[out.find("Failures").unwrap()..];
    assert!(failures.contains("failed  wrong_password_rejected<&> (tests/auth, \"main\".rs:30)"));
    assert!(failures.contains("      red"));
    assert!(!failures.contains("[31m"));
}

#[test]
fn terminal_colour_only_when_asked() {
    let m = matrix();
    let plain = render(&m, Format::Terminal, RenderOptions { color: false });
    let color = render(&m, Format::Terminal, RenderOptions { color: true });
    assert_eq!(plain, terminal(&m));
    assert_eq!(color, terminal_color(&m));
    assert!(color.contains("\u{1b}[1;31mFAILED\u{1b}[0m"));
    assert!(color.contains("\u{1b}[32mPASSED\u{1b}[0m"));
    // Stripping the colour codes gives back the plain table: colour never
    // shifts alignment.
    let mut stripped = String::new();
    let mut it = color.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, plain);
}

// ---------------------------------------------------------------- markdown

/// Splits a GFM table row on unescaped pipes.
fn md_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => {
                cells.push(cur.trim().to_owned());
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    // Drop the empty cells before the first and after the last pipe.
    cells.remove(0);
    cells
}

#[test]
fn markdown_table_escapes_pipes_and_html() {
    let out = markdown(&matrix());
    assert!(
        out.starts_with("# Verification: auth\n\n**4 criteria:** 2 passed, 1 failed, 1 untested")
    );
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 2 + 4);
    for r in &rows {
        assert_eq!(md_cells(r).len(), 8, "{r}");
    }
    let failed = md_cells(rows[3]);
    assert_eq!(failed[0], "failed");
    assert_eq!(failed[1], "1.2");
    assert_eq!(failed[2], "1 Login & sessions");
    assert!(failed[3].contains("\"a|b\" \\<error>"), "{}", failed[3]);
    assert_eq!(failed[4], "unwanted");
    assert_eq!(failed[5], "1.2");
    assert_eq!(failed[6], "1");
    assert_eq!(
        failed[7],
        "wrong_password_rejected\\<&> (failed); rejects_empty (passed)"
    );
    let untested = md_cells(rows[4]);
    assert_eq!(untested[0], "untested");
    assert_eq!(untested[7], "");
    assert!(rows[5].contains("刷新_token"));
    // The evidence section fences the excerpt and keeps it verbatim (minus colour codes).
    let failures = &out[out.find("## Failures").unwrap()..];
    assert!(failures
        .contains("- **failed** `wrong_password_rejected<&>` at `tests/auth, \"main\".rs:30`"));
    assert!(failures.contains(
        "  ```text\n  assertion failed: left == right <>&\"',| ü 日本 </script><b>x</b>\n"
    ));
    assert!(failures.contains("  red\n  ```\n"));
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_round_trips_and_matches_its_schema() {
    let m = matrix();
    let out = json(&m);
    assert!(out.ends_with("}\n"));
    let back: Matrix = serde_json::from_str(&out).unwrap();
    assert_eq!(back, m);
    let schema = serde_json::to_value(matrix_schema()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&value));
    assert!(!validator.is_valid(&serde_json::json!({"spec": "x", "rows": [{"status": "bogus"}]})));
    assert_eq!(value["rows"][1]["status"], "failed");
    assert_eq!(value["rows"][1]["ears"], "unwanted");
    assert_eq!(value["totals"]["untested"], 1);
}

// ---------------------------------------------------------------- JUnit

#[derive(Debug, Default)]
struct Case {
    attrs: HashMap<String, String>,
    children: Vec<(String, HashMap<String, String>, String)>,
}

/// Parses JUnit XML strictly with quick-xml: end tags must match, entities
/// must be known, and attribute values are unescaped.
fn parse_junit_cases(xml: &str) -> Vec<Case> {
    use quick_xml::events::{BytesStart, Event};
    fn attrs(e: &BytesStart<'_>) -> HashMap<String, String> {
        e.attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.0.to_owned(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect()
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut cases = Vec::new();
    let mut case: Option<Case> = None;
    let mut child: Option<(String, HashMap<String, String>, String)> = None;
    let mut depth = 0usize;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                depth += 1;
                let name = e.name().0.to_owned();
                if name == "testcase" {
                    case = Some(Case {
                        attrs: attrs(&e),
                        ..Case::default()
                    });
                } else if case.is_some() {
                    child = Some((name, attrs(&e), String::new()));
                }
            }
            Event::Empty(e) => {
                let name = e.name().0.to_owned();
                if name == "testcase" {
                    cases.push(Case {
                        attrs: attrs(&e),
                        ..Case::default()
                    });
                } else if let Some(c) = case.as_mut() {
                    c.children.push((name, attrs(&e), String::new()));
                }
            }
            Event::End(e) => {
                depth -= 1;
                let name = e.name().0.to_owned();
                if name == "testcase" {
                    cases.push(case.take().unwrap());
                } else if let (Some(c), Some(ch)) = (case.as_mut(), child.take()) {
                    c.children.push(ch);
                }
            }
            Event::Text(t) => {
                if let Some(ch) = child.as_mut() {
                    ch.2.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .unwrap()
                        .to_owned(),
                };
                if let Some(ch) = child.as_mut() {
                    ch.2.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    cases
}

#[test]
fn junit_has_one_well_formed_testcase_per_criterion() {
    let xml = junit(&matrix());
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(xml.contains(
        "<testsuite name=\"auth\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\">"
    ));
    assert!(
        !xml.contains('\u{1b}'),
        "control characters are not XML 1.0"
    );
    let cases = parse_junit_cases(&xml);
    assert_eq!(cases.len(), 4);
    let names: Vec<&str> = cases.iter().map(|c| c.attrs["name"].as_str()).collect();
    assert_eq!(
        names[1],
        "1.2 IF the password is wrong, THEN THE Auth_Service SHALL reject the login with \"a|b\" <error>"
    );
    assert!(names[3].starts_with("2.2 WHILE 会话 is active"));
    assert_eq!(cases[0].attrs["classname"], "auth.requirement-1");
    assert_eq!(cases[3].attrs["classname"], "auth.requirement-2");

    // Passed: evidence in system-out, no failure.
    assert_eq!(cases[0].children.len(), 1);
    assert_eq!(cases[0].children[0].0, "system-out");
    // Failed: a failure whose message names the failing test and whose body
    // holds the excerpt, special characters intact.
    let (name, attrs, body) = &cases[1].children[0];
    assert_eq!(name, "failure");
    assert_eq!(
        attrs["message"],
        "criterion 1.2 failed: wrong_password_rejected<&>"
    );
    assert!(body.contains("failed: wrong_password_rejected<&> (tests/auth, \"main\".rs:30)"));
    assert!(body.contains("<>&\"',| ü 日本 </script><b>x</b>\n  left: `\"a|b\"`\nred"));
    assert!(body.contains("passed: rejects_empty (tests/auth.rs:40)"));
    // Untested: skipped.
    assert_eq!(cases[2].children[0].0, "skipped");
    assert_eq!(
        cases[2].children[0].1["message"],
        "no test is linked to this criterion"
    );
    assert_eq!(cases[3].children[0].0, "system-out");
}

#[test]
fn junit_reads_back_through_kiros_own_junit_parser() {
    let xml = junit(&matrix());
    let results = kiro_core::verify::junit::parse_junit(&xml, Path::new("report.xml")).unwrap();
    let statuses: Vec<TestStatus> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            TestStatus::Passed,
            TestStatus::Failed,
            TestStatus::Skipped,
            TestStatus::Passed
        ]
    );
    assert_eq!(results[1].classname.as_deref(), Some("auth.requirement-1"));
}

// ---------------------------------------------------------------- CSV

/// A small RFC 4180 reader: quoted fields may hold commas, quotes (doubled)
/// and line breaks; records end with CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "bare CR");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("bare LF outside quotes"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(field.is_empty() && record.is_empty(), "missing final CRLF");
    records
}

#[test]
fn csv_quotes_per_rfc_4180_and_parses_back() {
    let m = matrix();
    let out = csv(&m);
    let records = parse_csv(&out);
    assert_eq!(records.len(), 1 + m.rows.len());
    assert_eq!(records[0], CSV_COLUMNS);
    for (rec, row) in records[1..].iter().zip(&m.rows) {
        assert_eq!(rec.len(), CSV_COLUMNS.len());
        assert_eq!(rec[0], row.requirement.as_str());
        assert_eq!(rec[1], row.requirement_title);
        assert_eq!(rec[2], row.criterion.as_str());
        assert_eq!(rec[3], row.text);
    }
    let failed = &records[2];
    assert_eq!(failed[4], "unwanted");
    assert_eq!(failed[5], "failed");
    assert_eq!(failed[6], "1.2");
    assert_eq!(failed[7], "1");
    assert_eq!(
        failed[8],
        "wrong_password_rejected<&> [failed] tests/auth, \"main\".rs:30; rejects_empty [passed] tests/auth.rs:40"
    );
    assert_eq!(failed[9], "wrong_password_rejected<&>");
    assert_eq!(records[3][5], "untested");
    assert_eq!(records[3][8], "");
    assert_eq!(records[4][1], "Überprüfung 日本語");
    assert_eq!(records[4][8], "刷新_token [passed] tests/会话.py:3");
}

#[test]
fn csv_quotes_line_breaks() {
    let m = Matrix::from_rows(
        "x",
        vec![MatrixRow {
            criterion: CriterionId::new("1.1"),
            requirement: RequirementId::new("1"),
            text: "line one\r\nline \"two\"".into(),
            ..MatrixRow::default()
        }],
    );
    let out = csv(&m);
    assert!(out.contains(",\"line one\r\nline \"\"two\"\"\","));
    assert_eq!(parse_csv(&out)[1][3], "line one\r\nline \"two\"");
}

// ---------------------------------------------------------------- HTML

/// The attributes of every start tag named `tag` inside `html`, in order.
/// Enough for the DOM Chromium serialises: double-quoted values, no `>` in
/// the attributes looked at.
fn start_tags(html: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if !rest.starts_with([' ', '>']) {
            continue;
        }
        let end = rest.find('>').unwrap();
        let mut attrs = HashMap::new();
        let mut s = rest[..end].trim();
        while !s.is_empty() {
            let name_end = s
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(s.len());
            let name = s[..name_end].to_owned();
            s = s[name_end..].trim_start();
            if let Some(v) = s.strip_prefix("=\"") {
                let close = v.find('"').unwrap();
                attrs.insert(name, v[..close].to_owned());
                s = v[close + 1..].trim_start();
            } else {
                attrs.insert(name, String::new());
            }
        }
        out.push(attrs);
        rest = &rest[end..];
    }
    out
}

/// The matrix rows of a page: (criterion, hidden).
fn page_rows(html: &str) -> Vec<(String, bool)> {
    let body = &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()];
    start_tags(body, "tr")
        .into_iter()
        .map(|a| (a["data-criterion"].clone(), a.contains_key("hidden")))
        .collect()
}

fn visible(rows: &[(String, bool)]) -> Vec<&str> {
    rows.iter().filter(|r| !r.1).map(|r| r.0.as_str()).collect()
}

#[test]
fn html_is_self_contained() {
    let page = html(&matrix());
    assert!(page.starts_with("<!DOCTYPE html>"));
    let lower = page.to_lowercase();
    for needle in [
        "http://", "https://", "src=", "url(", "@import", "<link", "//cdn", "<iframe",
    ] {
        assert!(!lower.contains(needle), "page references {needle}");
    }
    assert!(lower.contains("content-security-policy"));
    assert!(lower.contains("default-src 'none'"));
}

#[test]
fn html_escapes_all_embedded_data() {
    let m = matrix();
    let page = html(&m);
    // Exactly the two script elements the renderer writes; the evidence's
    // `</script><b>` never closes one.
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("<b>x</b>"));
    assert!(page.contains("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"));
    assert!(page.contains("wrong_password_rejected&lt;&amp;&gt;"));
    assert!(page.contains("Überprüfung 日本語"));
    assert!(!page.contains('\u{1b}'));
    // The JSON island parses back to the matrix.
    let open = "<script type=\"application/json\" id=\"kiro-matrix\">";
    let start = page.find(open).unwrap() + open.len();
    let island = &page[start..start + page[start..].find("</script>").unwrap()];
    assert!(!island.contains('<'));
    let back: Matrix = serde_json::from_str(island).unwrap();
    assert_eq!(back, m);
}

#[test]
fn html_links_criteria_to_their_tests() {
    let page = html(&matrix());
    let rows = page_rows(&page);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| !r.1));
    assert!(page.contains("<a href=\"#tests-1.2\">1.2</a>"));
    assert!(page.contains("href=\"#test-1.2-0\">wrong_password_rejected&lt;&amp;&gt;</a>"));
    let li = start_tags(&page, "li");
    let test_items: Vec<&str> = li
        .iter()
        .filter_map(|a| a.get("id").map(String::as_str))
        .collect();
    assert_eq!(
        test_items,
        ["test-1.1-0", "test-1.2-0", "test-1.2-1", "test-2.2-0"]
    );
    assert!(page.contains("<div id=\"tests-2.1\""));
    assert!(page.contains("<span class=\"loc\">tests/auth, &quot;main&quot;.rs:30</span>"));
    assert!(page.contains("<option value=\"2\">2: Überprüfung 日本語</option>"));
}

// ---------------------------------------------------------------- Chromium

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Loads `page` with `fragment` in headless Chromium and returns the DOM
/// after the page's script ran; `None` when Chromium is not installed (and
/// not required by `KIRO_REQUIRE_CHROMIUM=1`).
fn dump_dom(page: &str, fragment: &str) -> Option<String> {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var("KIRO_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "KIRO_REQUIRE_CHROMIUM=1 but no chromium, chromium-browser or google-chrome on PATH"
        );
        eprintln!("skipped: chromium not found");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, page).unwrap();
    let profile = dir.path().join("profile");
    let url = format!("file://{}{fragment}", file.display());
    let mut child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out_reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(status.success(), "chromium failed ({status}): {err}");
    assert!(
        dom.contains("id=\"matrix\""),
        "no page in the dumped DOM; stderr: {err}"
    );
    Some(dom)
}

#[test]
fn chromium_filters_by_status_from_the_fragment() {
    let page = html(&matrix());
    let Some(dom) = dump_dom(&page, "#status=failed") else {
        return;
    };
    let rows = page_rows(&dom);
    assert_eq!(rows.len(), 4);
    assert_eq!(visible(&rows), ["1.2"]);
    assert!(dom.contains("Showing 1 of 4 criteria"));
    assert!(dom.contains("data-visible=\"1\""));
    // The controls reflect the state: only `failed` stays checked.
    let checked: Vec<String> = start_tags(&dom, "input")
        .into_iter()
        .filter(|a| a.contains_key("checked"))
        .map(|a| a["value"].clone())
        .collect();
    assert_eq!(checked, ["failed"]);

    let Some(dom) = dump_dom(&page, "#status=untested,passed") else {
        return;
    };
    assert_eq!(visible(&page_rows(&dom)), ["1.1", "2.1", "2.2"]);
}

#[test]
fn chromium_filters_by_requirement_from_the_fragment() {
    let page = html(&matrix());
    let Some(dom) = dump_dom(&page, "#requirement=2") else {
        return;
    };
    assert_eq!(visible(&page_rows(&dom)), ["2.1", "2.2"]);
    assert!(dom.contains("Showing 2 of 4 criteria"));
    let selected: Vec<String> = start_tags(&dom, "option")
        .into_iter()
        .filter(|a| a.contains_key("selected"))
        .map(|a| a["value"].clone())
        .collect();
    assert_eq!(selected, ["2"]);

    let Some(dom) = dump_dom(&page, "#status=passed&requirement=2") else {
        return;
    };
    assert_eq!(visible(&page_rows(&dom)), ["2.2"]);
}

#[test]
fn chromium_sorts_from_the_fragment() {
    let page = html(&matrix());
    let Some(dom) = dump_dom(&page, "#sort=status") else {
        return;
    };
    let rows = page_rows(&dom);
    let order: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    // Failed, untested, passed; ties keep document order.
    assert_eq!(order, ["1.2", "2.1", "1.1", "2.2"]);
    assert!(rows.iter().all(|r| !r.1));
    let heads = start_tags(&dom, "th");
    let status_head = heads.iter().find(|a| a["data-key"] == "status").unwrap();
    assert_eq!(status_head["aria-sort"], "ascending");

    let Some(dom) = dump_dom(&page, "#sort=criterion&dir=desc&status=passed,untested") else {
        return;
    };
    let rows = page_rows(&dom);
    let order: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(order, ["2.2", "2.1", "1.2", "1.1"]);
    assert_eq!(visible(&rows), ["2.2", "2.1", "1.1"]);
}

#[test]
fn chromium_sorts_criteria_naturally() {
    let rows = ["1.10", "1.9", "1.2"]
        .iter()
        .map(|id| MatrixRow {
            criterion: CriterionId::new(*id),
            requirement: RequirementId::new("1"),
            ..MatrixRow::default()
        })
        .collect();
    let page = html(&Matrix::from_rows("n", rows));
    let Some(dom) = dump_dom(&page, "#sort=criterion") else {
        return;
    };
    let order: Vec<String> = page_rows(&dom).into_iter().map(|r| r.0).collect();
    assert_eq!(order, ["1.2", "1.9", "1.10"]);
}

// ---------------------------------------------------------------- SARIF

/// The vendored SARIF 2.1.0 schema, with the published `language` pattern's
/// stray `]` fixed (see schemas/README.md).
fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/sarif-2.1.0.json"
    ))
    .unwrap();
    let stray = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert!(text.contains(stray));
    let text = text.replace(stray, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::new(&schema).unwrap()
}

#[test]
fn sarif_has_one_result_per_criterion_on_its_line_and_validates() {
    use kiro_core::report::sarif::{sarif, CriterionPlaces};

    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join(".kiro/specs/auth");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(spec_dir.join("requirements.md"), REQUIREMENTS).unwrap();
    let loaded = kiro_core::store::load_spec(&spec_dir).unwrap();
    let places = CriterionPlaces::of(&loaded, dir.path());
    let log = sarif(&matrix(), &places, "1.2.3");

    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let line_of = |start: &str| {
        REQUIREMENTS
            .lines()
            .position(|l| l.starts_with(start))
            .unwrap()
            + 1
    };
    // (criterion, rule, level, kind, line)
    let want = [
        (
            "1.1",
            "kiro/criterion-passed",
            "none",
            Some("pass"),
            line_of("1. WHEN a user"),
        ),
        (
            "1.2",
            "kiro/criterion-failed",
            "error",
            None,
            line_of("2. IF the password"),
        ),
        (
            "2.1",
            "kiro/criterion-untested",
            "warning",
            None,
            line_of("1. THE Auth_Service"),
        ),
        (
            "2.2",
            "kiro/criterion-passed",
            "none",
            Some("pass"),
            line_of("2. WHILE"),
        ),
    ];
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), want.len());
    for (result, (criterion, rule, level, kind, line)) in results.iter().zip(want) {
        assert_eq!(result["ruleId"], rule, "{result}");
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], rule);
        assert_eq!(result["level"], level, "{result}");
        assert_eq!(result["kind"].as_str(), kind, "{result}");
        assert_eq!(result["properties"]["criterion"], criterion);
        assert_eq!(
            result["partialFingerprints"]["kiroCriterion/v1"],
            format!("auth/{criterion}")
        );
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            ".kiro/specs/auth/requirements.md"
        );
        assert_eq!(location["region"]["startLine"], line, "{criterion}");
    }
    // The failing test is named in the failed criterion's message.
    let message = results[1]["message"]["text"].as_str().unwrap();
    assert!(
        message.contains("wrong_password_rejected<&> (failed)"),
        "{message}"
    );

    // A criterion without a known line still gets a location (the
    // document), as code-scanning UIs require.
    let mut placeless = places.clone();
    placeless.places.clear();
    let log = sarif(&matrix(), &placeless, "1.2.3");
    let first = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(first["region"]["startLine"], 1);
    assert!(validator.is_valid(&log));

    // A broken log is rejected, so the validation above means something.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!validator.is_valid(&broken));
}
