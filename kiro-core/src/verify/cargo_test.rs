//! The human output of `cargo test` (libtest): one `test <name> ... ok`
//! line per test, then a `---- <name> stdout ----` section per failure with
//! what the test printed and its panic message. Proptest's panic message
//! carries the `minimal failing input` (the shrunk counterexample), so it is
//! part of the failed test's output.
//!
//! ```
//! use kiro_core::verify::{cargo_test::parse_cargo_test, TestStatus};
//!
//! let out = "running 1 test\ntest tests::login_works ... ok\n";
//! let results = parse_cargo_test(out);
//! assert_eq!(results[0].name, "tests::login_works");
//! assert_eq!(results[0].status, TestStatus::Passed);
//! ```

use super::{bound_output, TestResult, TestStatus};

/// Reads the tests of a `cargo test` run, in the order they were reported.
/// Lines that are not test results (compiler output, summaries) are ignored.
///
/// The `file` of each result is the source named by the `Running` line of
/// its test binary (`tests/verify.rs`, `src/lib.rs`), when there is one.
pub fn parse_cargo_test(output: &str) -> Vec<TestResult> {
    let mut results: Vec<TestResult> = Vec::new();
    let mut binary_file: Option<String> = None;
    // Index into `results` of the first test of the current binary, so that
    // failure sections attach to this binary's test of that name.
    let mut binary_start = 0;
    // A `test x ... ` line whose verdict comes on a later line, because the
    // test printed output in between (`--nocapture`).
    let mut pending: Option<String> = None;
    let mut section: Option<(String, Vec<&str>)> = None;

    for raw in output.lines() {
        let line = raw.trim_end_matches('\r');
        if let Some((name, body)) = section.as_mut() {
            if is_section_end(line) {
                let name = std::mem::take(name);
                let body = std::mem::take(body);
                attach(
                    results.get_mut(binary_start..).unwrap_or_default(),
                    &name,
                    &body,
                );
                section = None;
            } else {
                body.push(line);
                continue;
            }
        }
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            binary_file = running_source(rest);
            binary_start = results.len();
            pending = None;
            continue;
        }
        if trimmed.starts_with("Doc-tests ") {
            binary_file = None;
            binary_start = results.len();
            pending = None;
            continue;
        }
        if let Some(name) = section_header(line) {
            section = Some((name.to_owned(), Vec::new()));
            continue;
        }
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, verdict)) = rest.rsplit_once(" ... ") {
                match verdict_of(verdict) {
                    Some((status, duration_ms, reason)) => {
                        results.push(new_result(name, status, duration_ms, reason, &binary_file));
                        pending = None;
                    }
                    None if verdict.trim().is_empty() => pending = Some(name.to_owned()),
                    None => {
                        // `test x ... <output printed by the test>`: the
                        // verdict follows on a later line.
                        pending = Some(name.to_owned());
                    }
                }
                continue;
            }
        }
        if let Some(name) = pending.as_ref() {
            if let Some((status, duration_ms, reason)) = verdict_of(trimmed) {
                results.push(new_result(name, status, duration_ms, reason, &binary_file));
                pending = None;
            }
        }
    }
    if let Some((name, body)) = section {
        attach(
            results.get_mut(binary_start..).unwrap_or_default(),
            &name,
            &body,
        );
    }
    for r in &mut results {
        bound_output(&mut r.output);
    }
    results
}

fn new_result(
    name: &str,
    status: TestStatus,
    duration_ms: Option<u64>,
    reason: Option<String>,
    file: &Option<String>,
) -> TestResult {
    TestResult {
        name: name.trim().to_owned(),
        classname: None,
        file: file.clone(),
        line: None,
        status,
        message: reason,
        output: String::new(),
        duration_ms,
    }
}

/// `ok`, `FAILED`, `ignored`, `ignored, <reason>`, each optionally followed
/// by a `<0.012s>` time (`--report-time`).
fn verdict_of(text: &str) -> Option<(TestStatus, Option<u64>, Option<String>)> {
    let text = text.trim();
    let (word, rest) = match text.find([' ', ',']) {
        Some(i) => (text.get(..i)?, text.get(i..)?.trim()),
        None => (text, ""),
    };
    let status = match word {
        "ok" => TestStatus::Passed,
        "FAILED" => TestStatus::Failed,
        "ignored" => TestStatus::Skipped,
        _ => return None,
    };
    let mut duration_ms = None;
    let mut reason = None;
    let mut rest = rest;
    if let Some(r) = rest.strip_prefix(',') {
        let r = r.trim();
        // `ignored, reason <0.0s>` is not written by libtest, but keep the
        // reason whole when no time follows.
        let (why, after) = match r.rfind('<') {
            Some(i) if r.ends_with("s>") => {
                (r.get(..i).unwrap_or(r).trim(), r.get(i..).unwrap_or(""))
            }
            _ => (r, ""),
        };
        if !why.is_empty() {
            reason = Some(why.to_owned());
        }
        rest = after;
    }
    if let Some(t) = rest.strip_prefix('<').and_then(|r| r.strip_suffix("s>")) {
        if let Ok(secs) = t.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                // Finite, non-negative and rounded: the cast only saturates.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ms = (secs * 1000.0).round() as u64;
                duration_ms = Some(ms);
            }
        }
    } else if !rest.is_empty() && reason.is_none() {
        return None;
    }
    Some((status, duration_ms, reason))
}

/// `---- tests::x stdout ----` -> `tests::x`.
fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("---- ")?.strip_suffix(" ----")?;
    inner
        .strip_suffix(" stdout")
        .or_else(|| inner.strip_suffix(" stderr"))
}

fn is_section_end(line: &str) -> bool {
    section_header(line).is_some()
        || line == "failures:"
        || line == "successes:"
        || line.starts_with("test result: ")
}

/// The source of a `Running tests/verify.rs (target/debug/deps/verify-1a2b)`
/// or `Running unittests src/lib.rs (...)` line.
fn running_source(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix("unittests ").unwrap_or(rest).trim();
    let source = match rest.find(" (") {
        Some(i) => rest.get(..i)?,
        None => rest,
    };
    // Old cargo versions name only the binary path.
    (!source.contains("target/") && !source.is_empty()).then(|| source.to_owned())
}

/// Puts a failure section on the last test of that name and reads its
/// panic message.
fn attach(results: &mut [TestResult], name: &str, body: &[&str]) {
    let Some(result) = results.iter_mut().rev().find(|r| r.name == name) else {
        return;
    };
    let text = body.join("\n");
    let text = text.trim();
    if !result.output.is_empty() {
        result.output.push('\n');
    }
    result.output.push_str(text);
    if result.message.is_none() {
        result.message = panic_message(body);
    }
}

/// The panic message of a failure section: the line after
/// `thread '...' panicked at <file>:<line>:<col>:` (Rust 1.73+), or the
/// quoted message of the older `panicked at 'msg', <file>` form.
fn panic_message(body: &[&str]) -> Option<String> {
    let i = body.iter().position(|l| l.contains("panicked at"))?;
    let line = body.get(i)?;
    let after = line.split_once("panicked at")?.1.trim();
    if let Some(quoted) = after.strip_prefix('\'') {
        if let Some((msg, _)) = quoted.rsplit_once("', ") {
            return Some(msg.to_owned());
        }
    }
    let next = body
        .get(i + 1..)?
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())?;
    Some(next.to_owned())
}
