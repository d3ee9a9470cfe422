//! JUnit XML test reports, as written by cargo-nextest, pytest, jest
//! (jest-junit), Maven Surefire and go-junit-report.
//!
//! All of them share one shape: `<testsuites>` holding `<testsuite>`s
//! (possibly nested) holding `<testcase name classname time>`, whose
//! children say how it ended (`<failure>`, `<error>`, `<skipped>`) and what
//! it printed (`<system-out>`, `<system-err>`). Attributes only some tools
//! write (`file`, `line`) are read when present; everything else is ignored.
//!
//! ```
//! use std::path::Path;
//! use kiro_core::verify::{junit::parse_junit, TestStatus};
//!
//! let xml = r#"<testsuite name="auth"><testcase name="test_login" classname="tests.test_auth" time="0.5"/></testsuite>"#;
//! let results = parse_junit(xml, Path::new("report.xml")).unwrap();
//! assert_eq!(results[0].status, TestStatus::Passed);
//! assert_eq!(results[0].duration_ms, Some(500));
//! ```

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{bound_output, TestResult, TestStatus};

/// Where text content currently goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Text that belongs to no test case.
    None,
    /// The body of `<failure>`, `<error>` or `<skipped>`: becomes the message
    /// when the element has no `message` attribute, and goes to the output.
    Outcome,
    /// `<system-out>`, `<system-err>` or a rerun record of a test case.
    Output,
}

/// A test case being read.
struct Case {
    result: TestResult,
    /// The `<testcase>` nesting depth, to know when it ends.
    depth: usize,
    /// Text of the current outcome element, for a missing `message`.
    outcome_text: String,
    /// Whether the current outcome element had a `message` attribute.
    outcome_has_message: bool,
}

/// An enclosing `<testsuite>`: its name and file, fallbacks for cases that
/// do not give a class name or file of their own.
struct Suite {
    name: Option<String>,
    file: Option<String>,
}

/// Parses a JUnit XML report into one [`TestResult`] per `<testcase>`, in
/// document order. `path` is only used in errors.
///
/// # Errors
/// [`Error::Junit`](crate::Error::Junit), naming the file and 1-based line,
/// when the XML is not well-formed (mismatched or unclosed tags, bad
/// entities), or when the root element is neither `<testsuites>` nor
/// `<testsuite>`.
pub fn parse_junit(xml: &str, path: &Path) -> crate::Result<Vec<TestResult>> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    let err = |offset: u64, message: String| crate::Error::Junit {
        path: path.to_path_buf(),
        line: line_of(xml, offset),
        message,
    };

    let mut results: Vec<TestResult> = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut suites: Vec<Suite> = Vec::new();
    let mut case: Option<Case> = None;
    let mut sink = Sink::None;
    let mut saw_root = false;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(start) => {
                let name = local_name(&start);
                if !saw_root {
                    check_root(&name).map_err(|m| err(reader.buffer_position(), m))?;
                    saw_root = true;
                }
                open.push(name.clone());
                element(
                    &name,
                    &start,
                    &mut suites,
                    &mut case,
                    &mut sink,
                    open.len(),
                    false,
                );
            }
            Event::Empty(start) => {
                let name = local_name(&start);
                if !saw_root {
                    check_root(&name).map_err(|m| err(reader.buffer_position(), m))?;
                    saw_root = true;
                }
                element(
                    &name,
                    &start,
                    &mut suites,
                    &mut case,
                    &mut sink,
                    open.len() + 1,
                    true,
                );
                if name == "testcase" {
                    if let Some(done) = case.take() {
                        results.push(finish(done));
                    }
                }
                if name == "testsuite" {
                    suites.pop();
                }
            }
            Event::End(end) => {
                let name = end.local_name().as_ref().to_owned();
                let depth = open.len();
                open.pop();
                match name.as_str() {
                    "testcase" => {
                        if case.as_ref().is_some_and(|c| c.depth == depth) {
                            if let Some(done) = case.take() {
                                results.push(finish(done));
                            }
                        }
                        sink = Sink::None;
                    }
                    "testsuite" => {
                        suites.pop();
                    }
                    "failure" | "error" | "skipped" => {
                        if let Some(c) = case.as_mut() {
                            if !c.outcome_has_message {
                                let text = c.outcome_text.trim();
                                let first = text.lines().next().unwrap_or_default().trim();
                                if !first.is_empty() {
                                    c.result.message = Some(first.to_owned());
                                }
                            }
                            c.outcome_text.clear();
                        }
                        sink = Sink::None;
                    }
                    "system-out" | "system-err" | "flakyFailure" | "flakyError"
                    | "rerunFailure" | "rerunError" => sink = Sink::None,
                    _ => {}
                }
            }
            Event::Text(text) => push_text(&mut case, sink, &text.xml10_content()),
            Event::CData(data) => push_text(&mut case, sink, &data.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(err(
                                    reader.buffer_position(),
                                    format!("unknown entity &{name};"),
                                ))
                            }
                        }
                    }
                    Err(e) => return Err(err(reader.buffer_position(), e.to_string())),
                };
                push_text(&mut case, sink, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(err(
            u64::try_from(xml.len()).unwrap_or(u64::MAX),
            format!("unexpected end of file: <{unclosed}> is not closed"),
        ));
    }
    if !saw_root {
        return Err(err(0, "no <testsuites> or <testsuite> element".to_owned()));
    }
    Ok(results)
}

fn check_root(name: &str) -> Result<(), String> {
    if name == "testsuites" || name == "testsuite" {
        Ok(())
    } else {
        Err(format!(
            "root element is <{name}>, expected <testsuites> or <testsuite>"
        ))
    }
}

fn local_name(start: &BytesStart<'_>) -> String {
    start.local_name().as_ref().to_owned()
}

/// Handles an opening (or empty) element.
fn element(
    name: &str,
    start: &BytesStart<'_>,
    suites: &mut Vec<Suite>,
    case: &mut Option<Case>,
    sink: &mut Sink,
    depth: usize,
    empty: bool,
) {
    match name {
        "testsuite" => suites.push(Suite {
            name: attr(start, "name"),
            file: attr(start, "file").or_else(|| attr(start, "filepath")),
        }),
        "testcase" => {
            let suite = suites.last();
            let duration_ms = attr(start, "time").and_then(|t| seconds_to_ms(&t));
            *case = Some(Case {
                result: TestResult {
                    name: attr(start, "name").unwrap_or_default(),
                    classname: attr(start, "classname")
                        .filter(|c| !c.is_empty())
                        .or_else(|| suite.and_then(|s| s.name.clone())),
                    file: attr(start, "file")
                        .filter(|f| !f.is_empty())
                        .or_else(|| suite.and_then(|s| s.file.clone())),
                    line: attr(start, "line").and_then(|l| l.trim().parse().ok()),
                    status: TestStatus::Passed,
                    message: None,
                    output: String::new(),
                    duration_ms,
                },
                depth,
                outcome_text: String::new(),
                outcome_has_message: false,
            });
            *sink = Sink::None;
        }
        "failure" | "error" | "skipped" => {
            let Some(c) = case.as_mut() else {
                return;
            };
            let status = match name {
                "failure" => TestStatus::Failed,
                "error" => TestStatus::Errored,
                _ => TestStatus::Skipped,
            };
            // A failure outranks a skip; an error outranks a failure.
            if rank(status) > rank(c.result.status) {
                c.result.status = status;
            }
            let message = attr(start, "message").filter(|m| !m.trim().is_empty());
            c.outcome_has_message = message.is_some();
            if message.is_some() {
                c.result.message = message;
            } else if let Some(kind) = attr(start, "type").filter(|t| !t.trim().is_empty()) {
                // Keep the type as a message of last resort; a body line
                // replaces it when the element has one.
                c.result.message = Some(kind);
            }
            c.outcome_text.clear();
            if !empty {
                *sink = Sink::Outcome;
            }
        }
        "system-out" | "system-err" | "flakyFailure" | "flakyError" | "rerunFailure"
        | "rerunError"
            if case.is_some() && !empty =>
        {
            *sink = Sink::Output;
        }
        _ => {}
    }
}

fn rank(status: TestStatus) -> u8 {
    match status {
        TestStatus::Passed => 0,
        TestStatus::Skipped => 1,
        TestStatus::Failed => 2,
        TestStatus::Errored => 3,
    }
}

fn push_text(case: &mut Option<Case>, sink: Sink, text: &str) {
    let Some(c) = case.as_mut() else {
        return;
    };
    match sink {
        Sink::None => {}
        Sink::Outcome => {
            c.outcome_text.push_str(text);
            c.result.output.push_str(text);
        }
        Sink::Output => c.result.output.push_str(text),
    }
}

fn finish(mut case: Case) -> TestResult {
    let trimmed = case.result.output.trim();
    if trimmed.len() != case.result.output.len() {
        case.result.output = trimmed.to_owned();
    }
    bound_output(&mut case.result.output);
    case.result
}

/// An attribute's value, unescaped; `None` when missing or malformed.
fn attr(start: &BytesStart<'_>, key: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// `"0.012"` seconds to 12 ms; nonsense (negative, not a number) to `None`.
fn seconds_to_ms(text: &str) -> Option<u64> {
    // Some tools write a thousands separator (`1,234.5`).
    let secs: f64 = text.trim().replace(',', "").parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let ms = (secs * 1000.0).round();
    // The float is finite, non-negative and rounded; `as` saturates at the
    // top of the range, which is the wanted behaviour for absurd values.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(ms as u64)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: u64) -> usize {
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    text.as_bytes()
        .get(..offset)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}
