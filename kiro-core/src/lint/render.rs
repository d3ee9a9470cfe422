//! Diagnostics as human text, JSON and SARIF 2.1.0.

use std::fmt::Write as _;
use std::path::{Component, Path};

use serde_json::{json, Value};

use super::{Diagnostic, Rule, Severity, RULES};
use crate::format::markdown::LineStarts;
use crate::Error;

/// Where SARIF readers find the schema of the log.
const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The project's home page, SARIF's `tool.driver.informationUri`.
const INFORMATION_URI: &str = "https://github.com/kiro-rs/kiro";

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const BLUE: &str = "\x1b[1;34m";

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Note => "\x1b[1;32m",
    }
}

/// Terminal columns a character takes, so that the `^^^` underline stays
/// under CJK text: the measure the report uses too, with a tab counted as 4.
fn char_width(c: char) -> usize {
    match c {
        '\t' => 4,
        _ => crate::text::char_width(c),
    }
}

fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Renders diagnostics the way rustc does: a header line, the location, the
/// source line with the span underlined, the help, and a summary at the end.
/// `source` reads a diagnostic's file (return `None` to leave the snippet
/// out; [`super::read_source`] reads from disk). `color` adds ANSI colours.
///
/// ```
/// use std::path::{Path, PathBuf};
/// use kiro_core::lint::{render_human, Diagnostic, Severity};
///
/// let d = Diagnostic {
///     code: "K0004".into(),
///     severity: Severity::Warning,
///     message: "vague term \"fast\" in criterion 1.1".into(),
///     help: Some("say how fast".into()),
///     file: Some(PathBuf::from("requirements.md")),
///     line: 3,
///     column: 19,
///     end_column: Some(23),
/// };
/// let source = |_: &Path| Some("# R\n\n1. THE App SHALL be fast\n".to_owned());
/// let text = render_human(&[d], &source, false);
/// assert_eq!(text, "\
/// warning[K0004]: vague term \"fast\" in criterion 1.1
///  --> requirements.md:3:19
///   |
/// 3 | 1. THE App SHALL be fast
///   |                   ^^^^
///   |
///   = help: say how fast
///
/// 0 errors, 1 warning
/// ");
/// ```
pub fn render_human(
    diagnostics: &[Diagnostic],
    source: &dyn Fn(&Path) -> Option<String>,
    color: bool,
) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    // Each file is read and indexed once: finding a diagnostic's line by
    // splitting the whole text made thousands of diagnostics quadratic.
    let mut cache: Vec<(&Path, Option<(String, LineStarts)>)> = Vec::new();
    for d in diagnostics {
        let sev = d.severity;
        let _ = writeln!(
            out,
            "{}{}",
            paint(
                severity_colour(sev),
                &format!("{}[{}]", sev.as_str(), d.code)
            ),
            paint(BOLD, &format!(": {}", d.message))
        );
        let snippet_line = match &d.file {
            Some(path) if d.line > 0 => {
                let cached = match cache.iter().position(|(p, _)| *p == path.as_path()) {
                    Some(i) => cache.get(i),
                    None => {
                        let indexed = source(path).map(|t| {
                            let lines = LineStarts::new(&t);
                            (t, lines)
                        });
                        cache.push((path.as_path(), indexed));
                        cache.last()
                    }
                };
                cached
                    .and_then(|(_, indexed)| indexed.as_ref())
                    .and_then(|(text, lines)| lines.line(text, d.line as usize - 1))
                    .map(str::to_owned)
            }
            _ => None,
        };
        let gutter = if d.line > 0 {
            d.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(gutter);
        if let Some(path) = &d.file {
            let mut location = path.display().to_string();
            if d.line > 0 {
                let _ = write!(location, ":{}", d.line);
                if d.column > 0 {
                    let _ = write!(location, ":{}", d.column);
                }
            }
            let _ = writeln!(out, "{pad}{} {location}", paint(BLUE, "-->"));
        }
        if let Some(line) = &snippet_line {
            let bar = paint(BLUE, "|");
            let _ = writeln!(out, "{pad} {bar}");
            let shown: String = line
                .chars()
                .map(|c| {
                    if c == '\t' {
                        "    ".to_owned()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "{} {bar} {}",
                paint(BLUE, &d.line.to_string()),
                shown.trim_end()
            );
            let start = (d.column as usize).saturating_sub(1);
            let chars: Vec<char> = line.chars().collect();
            let lead: String = chars.iter().take(start).collect();
            let span: String = match d.end_column {
                Some(end) if (end as usize) > d.column as usize => chars
                    .iter()
                    .skip(start)
                    .take(end as usize - d.column as usize)
                    .collect(),
                _ => chars.get(start).map(|c| c.to_string()).unwrap_or_default(),
            };
            let carets = "^".repeat(width(&span).max(1));
            let _ = writeln!(
                out,
                "{pad} {bar} {}{}",
                " ".repeat(width(&lead)),
                paint(severity_colour(sev), &carets)
            );
            if d.help.is_some() {
                let _ = writeln!(out, "{pad} {bar}");
            }
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} {} {help}", paint(BOLD, "= help:"));
        }
        out.push('\n');
    }
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let mut summary = format!(
        "{}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning")
    );
    let notes = count(Severity::Note);
    if notes > 0 {
        let _ = write!(summary, ", {}", plural(notes, "note"));
    }
    let _ = writeln!(out, "{}", paint(BOLD, &summary));
    out
}

/// The rule of [`Diagnostic::load_error`]: a spec that could not be loaded.
/// It is not in [`RULES`] (it checks nothing in a spec); code `K0000` is
/// reserved for it, and SARIF output lists it after the rules of `RULES`.
pub const LOAD_ERROR: Rule = Rule {
    code: "K0000",
    name: "load-error",
    severity: Severity::Error,
    summary: "A spec could not be loaded (a file cannot be read, is not UTF-8 or is over the input limit), so it was not linted.",
};

impl Diagnostic {
    /// A spec that could not be loaded, as an error diagnostic (code
    /// `K0000`, [`LOAD_ERROR`]) naming the file and, for text that is not
    /// UTF-8, the line and column; other errors name the spec folder
    /// `spec_dir`. JSON and SARIF output carry it like any finding, so a
    /// report of a spec that failed to load never looks clean.
    ///
    /// ```
    /// use std::path::Path;
    /// use kiro_core::lint::{Diagnostic, Severity};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("tasks.md"), b"- [ ] 1. ok\n- [ ] 2. Caf\xe9\n")?;
    /// let error = kiro_core::store::load_spec(dir.path()).unwrap_err();
    /// let d = Diagnostic::load_error(dir.path(), &error);
    /// assert_eq!((d.code.as_str(), d.severity), ("K0000", Severity::Error));
    /// assert_eq!(d.file.as_deref(), Some(dir.path().join("tasks.md").as_path()));
    /// assert_eq!((d.line, d.column), (2, 13));
    /// assert_eq!(d.message, "spec not loaded: not UTF-8 text (byte 24)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_error(spec_dir: &Path, error: &Error) -> Diagnostic {
        let (file, line, column, what, help) = match error {
            Error::NotUtf8 {
                path,
                offset,
                line,
                column,
            } => (
                path.as_path(),
                *line,
                *column,
                format!("not UTF-8 text (byte {offset})"),
                Some("save the file as UTF-8".to_owned()),
            ),
            Error::TooLarge { path, limit } => (
                path.as_path(),
                0,
                0,
                format!("larger than the input limit of {limit} bytes"),
                Some(format!(
                    "raise `max_input_bytes` under `[limits]` in .kiro/config.toml or set {}",
                    crate::store::MAX_INPUT_BYTES_ENV
                )),
            ),
            Error::Io { path, source } => (
                path.as_path(),
                0,
                0,
                format!("cannot be read: {source}"),
                None,
            ),
            other => (spec_dir, 0, 0, other.to_string(), None),
        };
        let position = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Diagnostic {
            code: LOAD_ERROR.code.to_owned(),
            severity: LOAD_ERROR.severity,
            message: format!("spec not loaded: {what}"),
            help,
            file: Some(file.to_path_buf()),
            line: position(line),
            column: position(column),
            end_column: None,
        }
    }
}

/// Renders diagnostics as a pretty-printed JSON array of their serde form
/// (see [`Diagnostic`]), without a trailing newline. Field order and names
/// are stable.
///
/// ```
/// use kiro_core::lint::{render_json, Diagnostic, Severity};
///
/// let d = Diagnostic {
///     code: "K0013".into(),
///     severity: Severity::Error,
///     message: "task 2 depends on task 7, which does not exist".into(),
///     help: None,
///     file: None,
///     line: 0,
///     column: 0,
///     end_column: None,
/// };
/// let json: serde_json::Value = serde_json::from_str(&render_json(&[d])).unwrap();
/// assert_eq!(json[0]["severity"], "error");
/// assert_eq!(json[0]["file"], serde_json::Value::Null);
/// ```
pub fn render_json(diagnostics: &[Diagnostic]) -> String {
    // Serialising plain strings and numbers cannot fail (paths are written lossily).
    serde_json::to_string_pretty(diagnostics).unwrap_or_else(|_| "[]".to_owned())
}

/// A file path as a SARIF artifact URI: relative paths (made relative to the
/// working directory when absolute and inside it) with forward slashes,
/// percent-encoded; other absolute paths as `file://` URIs.
fn artifact_uri(path: &Path) -> String {
    let relative = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
    } else {
        Some(path.to_path_buf())
    };
    match relative {
        Some(rel) => {
            let parts: Vec<String> = rel
                .components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(percent_encode(&s.to_string_lossy())),
                    Component::ParentDir => Some("..".to_owned()),
                    _ => None,
                })
                .collect();
            parts.join("/")
        }
        None => {
            let text = path.to_string_lossy().replace('\\', "/");
            let encoded: Vec<String> = text.split('/').map(percent_encode).collect();
            let joined = encoded.join("/");
            if joined.starts_with('/') {
                format!("file://{joined}")
            } else {
                format!("file:///{joined}")
            }
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `:`.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Renders diagnostics as a SARIF 2.1.0 log with one run of the `kiro` tool:
/// every rule of [`RULES`], then [`LOAD_ERROR`], in `tool.driver.rules`, one
/// result per diagnostic with its rule id and index, level, message (help
/// appended on a new line), and location (relative URI with forward
/// slashes; region only where line and column are known). Columns count
/// Unicode code points (`columnKind: unicodeCodePoints`).
///
/// The run has one invocation: `executionSuccessful` is `false` when a
/// spec could not be loaded (a [`Diagnostic::load_error`] among the
/// diagnostics), and each such error is also a
/// `toolExecutionNotifications` entry, so that readers of either part see
/// that the log does not cover every spec.
///
/// ```
/// use kiro_core::lint::render_sarif;
///
/// let log = render_sarif(&[], "0.1.0");
/// assert_eq!(log["version"], "2.1.0");
/// assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "kiro");
/// assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][3]["id"], "K0004");
/// assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], true);
/// ```
pub fn render_sarif(diagnostics: &[Diagnostic], tool_version: &str) -> Value {
    let all_rules = || RULES.iter().chain(std::iter::once(&LOAD_ERROR));
    let rule_index = |code: &str| all_rules().position(|r| r.code == code);
    let rules: Vec<Value> = all_rules()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "defaultConfiguration": { "level": r.severity.as_str() },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                let _ = write!(text, "\nhelp: {help}");
            }
            let mut result = json!({
                "ruleId": d.code,
                "level": d.severity.as_str(),
                "message": { "text": text },
            });
            if let Some(index) = rule_index(&d.code) {
                result["ruleIndex"] = json!(index);
            }
            if let Some(location) = sarif_location(d) {
                result["locations"] = json!([location]);
            }
            result
        })
        .collect();
    let notifications: Vec<Value> = diagnostics
        .iter()
        .filter(|d| d.code == LOAD_ERROR.code)
        .map(|d| {
            let mut notification = json!({
                "level": "error",
                "message": { "text": d.message },
                "associatedRule": { "id": LOAD_ERROR.code, "index": rule_index(LOAD_ERROR.code) },
            });
            if let Some(location) = sarif_location(d) {
                notification["locations"] = json!([location]);
            }
            notification
        })
        .collect();
    let mut invocation = json!({ "executionSuccessful": notifications.is_empty() });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "kiro",
                    "version": tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A diagnostic's SARIF `location`: its file as a relative URI, and a
/// region where line (and column) are known; `None` without a file.
fn sarif_location(d: &Diagnostic) -> Option<Value> {
    let path = d.file.as_ref()?;
    let mut physical = json!({ "artifactLocation": { "uri": artifact_uri(path) } });
    if d.line >= 1 {
        let mut region = json!({ "startLine": d.line });
        if d.column >= 1 {
            region["startColumn"] = json!(d.column);
            if let Some(end) = d.end_column.filter(|e| *e >= d.column) {
                region["endColumn"] = json!(end);
            }
        }
        physical["region"] = region;
    }
    Some(json!({ "physicalLocation": physical }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            artifact_uri(Path::new(".kiro/specs/a b/requirements.md")),
            ".kiro/specs/a%20b/requirements.md"
        );
        assert_eq!(
            artifact_uri(Path::new("./x/需求.md")),
            "x/%E9%9C%80%E6%B1%82.md"
        );
        if let Ok(cwd) = std::env::current_dir() {
            assert_eq!(artifact_uri(&cwd.join("x").join("y.md")), "x/y.md");
        }
        #[cfg(unix)]
        assert_eq!(
            artifact_uri(Path::new("/definitely/not/cwd.md")),
            "file:///definitely/not/cwd.md"
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("ab需求"), 6);
        assert_eq!(width("\tx"), 5);
    }
}
