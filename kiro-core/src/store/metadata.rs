//! The metadata files of a spec folder that kiro does not model: Kiro's
//! `.config.kiro` and cc-sdd's `spec.json`.
//!
//! Both belong to other tools, so reading them never fails and never stops
//! a spec from loading: kiro takes what it can (the typed fields of
//! [`KiroConfig`], a check that `spec.json` is a JSON object) and reports
//! the rest as [`MetadataIssue`]s, which lint turns into notes (K0017). The
//! files themselves are written back byte for byte, or not at all.
//!
//! `.config.kiro` is read as follows, after a UTF-8 byte order mark (or a
//! UTF-16 one) is set aside:
//!
//! - text starting with `{` or `[` is JSON; `//` and `/* */` comments and
//!   trailing commas are ignored. An object gives the typed fields and
//!   [`KiroConfig::other`]; broken JSON gives the top-level `"key": value`
//!   pairs that can still be found; any other JSON value gives nothing.
//! - other text is read as `key=value` or `key: value` lines (quotes around
//!   keys and values, a trailing comma, `#`/`//`/`;` comments and `[section]`
//!   lines are allowed).
//!
//! Known keys are matched ignoring ASCII case, `_` and `-` (`specId`,
//! `spec_id`, `SPEC-ID`); the exact spelling wins over the others.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::spec::{ConfigSyntax, KiroConfig};

/// Something of a metadata file (`.config.kiro`, `spec.json`) that kiro could
/// not read. The spec still loads; [`crate::lint::lint`] reports each issue
/// as a note (K0017).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataIssue {
    /// The file.
    pub path: PathBuf,
    /// 1-based line; 0 when the issue is about the whole file.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
    /// What could not be read, lower-case, no trailing period.
    pub message: String,
}

/// Metadata files larger than this are not read (Kiro's are about 100 bytes).
pub(crate) const MAX_METADATA_FILE: u64 = 1024 * 1024;

/// At most this many issues of one kind are reported per file, each with its
/// position; the rest are counted in one more issue. Finding a position
/// scans the file, so this also keeps a hostile file linear to read.
const MAX_ISSUES: usize = 20;

/// The three keys Kiro writes: (spelling, folded for comparison), in the
/// order of [`Fields::assign`]'s slots.
const KNOWN_KEYS: [(&str, &str); 3] = [
    ("specId", "specid"),
    ("workflowType", "workflowtype"),
    ("specType", "spectype"),
];

/// The outcome of reading a metadata file from disk.
pub(crate) enum FileRead {
    /// The file does not exist.
    Missing,
    /// Its bytes.
    Bytes(Vec<u8>),
    /// It could not be read (too large, not a file, an I/O error): why.
    Unreadable(String),
}

/// Reads at most [`MAX_METADATA_FILE`] bytes of a file. Following a
/// symbolic link is fine, but a FIFO or a device would block or never end,
/// so only regular files are read.
pub(crate) fn read_file(path: &Path) -> FileRead {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileRead::Missing,
        Err(e) => return FileRead::Unreadable(format!("cannot be read: {e}")),
    };
    if !meta.is_file() {
        return FileRead::Unreadable("is not a regular file".to_owned());
    }
    if meta.len() > MAX_METADATA_FILE {
        return FileRead::Unreadable(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    let read =
        fs::File::open(path).and_then(|f| f.take(MAX_METADATA_FILE + 1).read_to_end(&mut bytes));
    match read {
        // The file may have grown since `metadata`.
        Ok(n) if n as u64 > MAX_METADATA_FILE => FileRead::Unreadable(too_large(n as u64)),
        Ok(_) => FileRead::Bytes(bytes),
        Err(e) => FileRead::Unreadable(format!("cannot be read: {e}")),
    }
}

fn too_large(len: u64) -> String {
    format!("is too large to read ({len} bytes, more than {MAX_METADATA_FILE})")
}

/// Reads `.config.kiro`: `None` when it is missing or cannot be read at all
/// (then an issue says why, and the file stays as it is).
pub(crate) fn read_config(path: &Path) -> (Option<KiroConfig>, Vec<MetadataIssue>) {
    match read_file(path) {
        FileRead::Missing => (None, Vec::new()),
        FileRead::Bytes(bytes) => {
            let (config, issues) = parse_config(path, &bytes);
            (Some(config), issues)
        }
        FileRead::Unreadable(why) => (
            None,
            vec![issue(path, 0, 0, format!("{why}; kiro left it as it is"))],
        ),
    }
}

fn issue(path: &Path, line: u32, column: u32, message: String) -> MetadataIssue {
    MetadataIssue {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// Parses the bytes of a `.config.kiro` file (`path` only names the file in
/// issues). Never fails: the config holds what could be read, `raw` the file
/// (see [`KiroConfig::lossy`]), and the issues what could not be read.
///
/// ```
/// use std::path::Path;
/// use kiro_core::spec::ConfigSyntax;
/// use kiro_core::store::parse_config;
///
/// let path = Path::new(".config.kiro");
/// let (config, issues) = parse_config(path, b"\xEF\xBB\xBF{\"specId\": \"a1\", \"specType\": \"bugfix\", \"createdBy\": \"me\"}");
/// assert_eq!(config.spec_type.as_deref(), Some("bugfix"));
/// assert_eq!(config.other["createdBy"], "me");
/// assert!(issues.is_empty());
///
/// let (config, _) = parse_config(path, b"specType = bugfix\n# a comment\nworkflow_type: design-first\n");
/// assert_eq!(config.syntax, ConfigSyntax::KeyValue);
/// assert_eq!(config.workflow_type.as_deref(), Some("design-first"));
///
/// let (config, issues) = parse_config(path, b"{\"specType\": \"bugfix\", \"workflowType\": \"requ");
/// assert_eq!(config.syntax, ConfigSyntax::Unreadable);
/// assert_eq!(config.spec_type.as_deref(), Some("bugfix"));
/// assert_eq!((issues[0].line, issues[0].column), (1, 44));
/// ```
pub fn parse_config(path: &Path, bytes: &[u8]) -> (KiroConfig, Vec<MetadataIssue>) {
    let mut issues = Vec::new();
    let (raw, lossy) = decode(path, bytes, &mut issues);
    let content = raw.strip_prefix('\u{feff}').unwrap_or(&raw);
    // Positions are counted in the file's text, byte order mark included,
    // as the lint renderer shows the line.
    let base = raw.len() - content.len();
    let at = |offset: usize| position(&raw, base + offset);
    let mut config = KiroConfig {
        raw: String::new(),
        lossy,
        ..KiroConfig::default()
    };
    let mut found = Fields::default();

    let cleaned = strip_json_extras(content);
    let first = cleaned.bytes().position(|b| !b.is_ascii_whitespace());
    match first.and_then(|i| cleaned.as_bytes().get(i).copied()) {
        None => config.syntax = ConfigSyntax::Empty,
        Some(b'{' | b'[') => {
            let pairs = top_level_pairs(&cleaned);
            match serde_json::from_str::<Value>(&cleaned) {
                Ok(Value::Object(map)) => {
                    config.syntax = ConfigSyntax::Json;
                    // The last occurrence of a key is the one serde_json keeps.
                    let offsets: HashMap<String, usize> =
                        pairs.into_iter().map(|p| (p.key, p.offset)).collect();
                    for (key, value) in map {
                        let offset = offsets.get(&key).copied();
                        found.push(key, value, offset);
                    }
                }
                Ok(value) => {
                    config.syntax = ConfigSyntax::Unreadable;
                    let (line, column) = at(first.unwrap_or(0));
                    issues.push(issue(
                        path,
                        line,
                        column,
                        format!(
                            "is JSON but not an object (it is {}); nothing was read from it",
                            json_kind(&value)
                        ),
                    ));
                }
                Err(e) => {
                    config.syntax = ConfigSyntax::Unreadable;
                    let offset = offset_of(content, e.line(), e.column());
                    let (line, column) = at(offset);
                    let salvaged = if pairs.iter().any(|p| p.value.is_some()) {
                        "; the top-level \"key\": value pairs before the error were read"
                    } else {
                        ""
                    };
                    issues.push(issue(
                        path,
                        line,
                        column,
                        format!("invalid JSON: {}{salvaged}", json_message(&e)),
                    ));
                    for p in pairs {
                        if let Some(value) = p.value {
                            found.push(p.key, value, Some(p.offset));
                        }
                    }
                }
            }
        }
        Some(_) => {
            let mut bad = 0usize;
            for (offset, line) in lines(content) {
                match key_value(line) {
                    KeyValue::Skip => {}
                    KeyValue::Pair {
                        key,
                        value,
                        at: key_at,
                    } => {
                        found.push(
                            key.to_owned(),
                            Value::String(value.to_owned()),
                            Some(offset + key_at),
                        );
                    }
                    KeyValue::Bad if bad >= MAX_ISSUES => bad += 1,
                    KeyValue::Bad => {
                        bad += 1;
                        let indent = line.len() - line.trim_start().len();
                        let (line, column) = at(offset + indent);
                        issues.push(issue(
                            path,
                            line,
                            column,
                            "line is neither JSON, `key=value` nor `key: value`; it was not read"
                                .to_owned(),
                        ));
                    }
                }
            }
            if bad > MAX_ISSUES {
                issues.push(issue(
                    path,
                    0,
                    0,
                    format!(
                        "{} more lines are neither JSON, `key=value` nor `key: value`; they were not read",
                        bad - MAX_ISSUES
                    ),
                ));
            }
            config.syntax = if !found.is_empty() {
                ConfigSyntax::KeyValue
            } else if bad > 0 {
                ConfigSyntax::Unreadable
            } else {
                ConfigSyntax::Empty
            };
        }
    }

    let mut wrong_type = 0usize;
    found.assign(&mut config, &mut |offset, message| {
        wrong_type += 1;
        if wrong_type <= MAX_ISSUES {
            let (line, column) = offset.map_or((0, 0), &at);
            issues.push(issue(path, line, column, message));
        }
    });
    if wrong_type > MAX_ISSUES {
        issues.push(issue(
            path,
            0,
            0,
            format!(
                "{} more known keys are not strings; they were not read",
                wrong_type - MAX_ISSUES
            ),
        ));
    }
    config.raw = raw;
    (config, issues)
}

/// Decodes a metadata file: UTF-8 (byte order mark kept), UTF-16 with a
/// byte order mark, or, failing both, UTF-8 with invalid bytes replaced.
/// Returns the text and whether it is only a decoding of the bytes.
fn decode(path: &Path, bytes: &[u8], issues: &mut Vec<MetadataIssue>) -> (String, bool) {
    let utf16 = match bytes {
        [0xFF, 0xFE, rest @ ..] => Some((rest, u16::from_le_bytes as fn([u8; 2]) -> u16, "LE")),
        [0xFE, 0xFF, rest @ ..] => Some((rest, u16::from_be_bytes as fn([u8; 2]) -> u16, "BE")),
        _ => None,
    };
    if let Some((rest, unit, order)) = utf16 {
        let units = rest.chunks(2).map(|c| match c {
            [a, b] => unit([*a, *b]),
            // An odd trailing byte is not UTF-16; let it decode as U+FFFD.
            _ => 0xD800,
        });
        let text: String = char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        issues.push(issue(
            path,
            0,
            0,
            format!("is UTF-16 {order} text, not UTF-8; kiro read it but never rewrites it"),
        ));
        return (text, true);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(e) => {
            let valid = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let head = bytes.get(..valid).unwrap_or_default();
            let line = head.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(head.get(line_start..).unwrap_or_default())
                .chars()
                .count()
                + 1;
            issues.push(issue(
                path,
                to_u32(line),
                to_u32(column),
                format!(
                    "is not UTF-8 text (invalid byte at offset {valid}); kiro read the rest but never rewrites it"
                ),
            ));
            (text, true)
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Line and column (1-based, in characters) of a byte offset of `text`.
fn position(text: &str, offset: usize) -> (u32, u32) {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let head = text.get(..offset).unwrap_or_default();
    let line = head.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    let column = head.get(line_start..).unwrap_or_default().chars().count() + 1;
    (to_u32(line), to_u32(column))
}

/// The byte offset of serde_json's (1-based line, byte column) in `text`.
/// serde_json reports the byte it stopped at as a 1-based column, and
/// column 0 at the very start of a line.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// The lines of `text` with their byte offsets, without `\n` or `\r\n`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split('\n').map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        (start, line.strip_suffix('\r').unwrap_or(line))
    })
}

/// serde_json's message without its ` at line L column C` (the issue has
/// its own position, in characters).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What one line of a `key=value` file holds.
enum KeyValue<'a> {
    /// Blank, a comment or a `[section]` heading.
    Skip,
    /// A pair; `at` is the key's byte offset in the line.
    Pair {
        key: &'a str,
        value: &'a str,
        at: usize,
    },
    /// Anything else.
    Bad,
}

fn key_value(line: &str) -> KeyValue<'_> {
    let trimmed = line.trim();
    let is_comment = ["#", "//", ";"].iter().any(|c| trimmed.starts_with(c));
    let is_section = trimmed.starts_with('[') && trimmed.ends_with(']');
    if trimmed.is_empty() || is_comment || is_section {
        return KeyValue::Skip;
    }
    let Some(split) = trimmed.find(['=', ':']) else {
        return KeyValue::Bad;
    };
    let (key, value) = (
        trimmed.get(..split).unwrap_or_default(),
        trimmed.get(split + 1..).unwrap_or_default(),
    );
    let key = unquote(key.trim());
    let value = unquote(
        value
            .trim()
            .strip_suffix(',')
            .unwrap_or(value.trim())
            .trim_end(),
    );
    if key.is_empty() || key.contains(char::is_whitespace) {
        return KeyValue::Bad;
    }
    let at = line.find(key).unwrap_or(0);
    KeyValue::Pair { key, value, at }
}

/// `s` without one pair of matching surrounding quotes.
fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// `text` with `//` and `/* */` comments and trailing commas outside JSON
/// strings turned into spaces. Every byte of a removed part becomes one
/// space (line breaks stay), so byte offsets, lines and columns are those
/// of the original text.
fn strip_json_extras(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let mut i = 0;
    let mut last_comma: Option<usize> = None;
    let blank = |out: &mut Vec<u8>, range: std::ops::Range<usize>| {
        for b in out.get_mut(range).into_iter().flatten() {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while let Some(&b) = text.as_bytes().get(i) {
        match b {
            b'"' => {
                last_comma = None;
                i = string_end(text.as_bytes(), i);
                continue;
            }
            b'/' if text.as_bytes().get(i + 1) == Some(&b'/') => {
                let end = text
                    .get(i..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(text.len(), |n| i + n);
                blank(&mut out, i..end);
                i = end;
                continue;
            }
            b'/' if text.as_bytes().get(i + 1) == Some(&b'*') => {
                let end = text
                    .get(i + 2..)
                    .and_then(|rest| rest.find("*/"))
                    .map_or(text.len(), |n| i + 2 + n + 2);
                blank(&mut out, i..end);
                i = end;
                continue;
            }
            b',' => last_comma = Some(i),
            b'}' | b']' => {
                if let Some(c) = last_comma.take() {
                    blank(&mut out, c..c + 1);
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => last_comma = None,
        }
        i += 1;
    }
    // Only whole characters inside comments were replaced, so this is UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The offset just past the JSON string starting at `start` (a `"`), or the
/// end of the input when it is not closed.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A top-level `"key": value` of a JSON object, found without parsing the
/// whole text, so that broken JSON still yields its readable pairs.
struct Pair {
    key: String,
    /// Byte offset of the key's opening quote.
    offset: usize,
    /// The value when it is a string, number, boolean or null.
    value: Option<Value>,
}

/// Scans `text` (comments already blanked) for the pairs of a top-level
/// object. Iterative, so deep nesting cannot overflow the stack.
fn top_level_pairs(text: &str) -> Vec<Pair> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut top_is_object = false;
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let end = string_end(bytes, i);
                let key = (depth == 1 && top_is_object && expect_key)
                    .then(|| {
                        text.get(i..end)
                            .and_then(|s| serde_json::from_str::<String>(s).ok())
                    })
                    .flatten();
                expect_key = false;
                if let Some(key) = key {
                    let colon = skip_ws(bytes, end);
                    if bytes.get(colon) == Some(&b':') {
                        let start = skip_ws(bytes, colon + 1);
                        let (value, next) = scalar(text, start);
                        out.push(Pair {
                            key,
                            offset: i,
                            value,
                        });
                        i = next;
                        continue;
                    }
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 {
                    top_is_object = b == b'{';
                }
                expect_key = depth == 1 && top_is_object;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => expect_key = depth == 1 && top_is_object,
            _ => {}
        }
        i += 1;
    }
    out
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// A scalar JSON value at `start`, and where scanning goes on. Objects and
/// arrays are not read here (scanning goes on at their bracket).
fn scalar(text: &str, start: usize) -> (Option<Value>, usize) {
    let bytes = text.as_bytes();
    match bytes.get(start) {
        Some(b'"') => {
            let end = string_end(bytes, start);
            let value = text
                .get(start..end)
                .and_then(|s| serde_json::from_str::<String>(s).ok());
            (value.map(Value::String), end)
        }
        Some(b'{' | b'[') | None => (None, start),
        Some(_) => {
            let end = (start..bytes.len())
                .find(|&i| {
                    bytes
                        .get(i)
                        .is_some_and(|b| b.is_ascii_whitespace() || b",}]".contains(b))
                })
                .unwrap_or(bytes.len());
            let value = text
                .get(start..end)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .filter(|v| !v.is_object() && !v.is_array());
            (value, end.max(start + 1))
        }
    }
}

/// The keys and values read from a file, in file order, before they are
/// sorted into the typed fields and [`KiroConfig::other`].
#[derive(Default)]
struct Fields(Vec<(String, Value, Option<usize>)>);

impl Fields {
    fn push(&mut self, key: String, value: Value, offset: Option<usize>) {
        self.0.push((key, value, offset));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fills the config. A later duplicate of a key replaces the earlier one
    /// (as in JSON); an exact spelling of a known key wins over variants.
    fn assign(self, config: &mut KiroConfig, report: &mut dyn FnMut(Option<usize>, String)) {
        let mut exact = [false; 3];
        for (key, value, offset) in self.0 {
            let Some(slot) = known_key(&key) else {
                config.other.insert(key, value);
                continue;
            };
            let is_exact = KNOWN_KEYS.get(slot).is_some_and(|(k, _)| *k == key);
            let field = match slot {
                0 => &mut config.spec_id,
                1 => &mut config.workflow_type,
                _ => &mut config.spec_type,
            };
            let taken = exact.get(slot).copied().unwrap_or(false);
            match value {
                Value::String(s) if is_exact || !taken => {
                    *field = Some(s);
                    if let Some(e) = exact.get_mut(slot) {
                        *e |= is_exact;
                    }
                }
                Value::String(_) => {
                    config.other.insert(key, value);
                }
                other => {
                    report(
                        offset,
                        format!(
                            "`{key}` is {}, not a string; it was not read",
                            json_kind(&other)
                        ),
                    );
                    config.other.insert(key, other);
                }
            }
        }
    }
}

/// Which of the known keys (0 `specId`, 1 `workflowType`, 2 `specType`)
/// `key` spells, ignoring ASCII case, `_` and `-`.
fn known_key(key: &str) -> Option<usize> {
    let folded: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    KNOWN_KEYS.iter().position(|(_, k)| *k == folded)
}

/// Checks cc-sdd's `spec.json` (kept byte for byte with the extra files):
/// it should be a JSON object.
pub(crate) fn check_spec_json(path: &Path, bytes: &[u8]) -> Vec<MetadataIssue> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let mut issues = Vec::new();
            decode(path, bytes, &mut issues);
            if issues.is_empty() {
                issues.push(issue(path, 0, 0, format!("is not UTF-8 text: {e}")));
            }
            return issues;
        }
    };
    let content = text.strip_prefix('\u{feff}').unwrap_or(text);
    let base = text.len() - content.len();
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(_)) => Vec::new(),
        Ok(value) => vec![issue(
            path,
            1,
            1,
            format!("is JSON but not an object (it is {})", json_kind(&value)),
        )],
        Err(e) => {
            let (line, column) = position(text, base + offset_of(content, e.line(), e.column()));
            vec![issue(
                path,
                line,
                column,
                format!("invalid JSON: {}", json_message(&e)),
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` and compares the typed fields, the other keys (as
    /// compact JSON), the syntax and the issues (`line:column message`).
    #[track_caller]
    fn check(
        input: &[u8],
        fields: [Option<&str>; 3],
        other: &str,
        syntax: ConfigSyntax,
        issues: &[&str],
    ) {
        let (config, found) = parse_config(Path::new(".config.kiro"), input);
        assert_eq!(
            [
                config.spec_id.as_deref(),
                config.workflow_type.as_deref(),
                config.spec_type.as_deref()
            ],
            fields,
            "fields of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            serde_json::to_string(&config.other).unwrap(),
            other,
            "other keys"
        );
        assert_eq!(config.syntax, syntax, "syntax");
        let found: Vec<String> = found
            .iter()
            .map(|i| format!("{}:{} {}", i.line, i.column, i.message))
            .collect();
        assert_eq!(found.len(), issues.len(), "{found:#?}");
        for (f, expected) in found.iter().zip(issues) {
            assert!(
                f.starts_with(expected),
                "{f:?} should start with {expected:?}"
            );
        }
        if !config.lossy {
            assert_eq!(
                config.raw.as_bytes(),
                input,
                "raw must be the file, byte for byte"
            );
        }
    }

    const KIRO: [Option<&str>; 3] = [Some("a1"), Some("requirements-first"), Some("feature")];
    const NONE: [Option<&str>; 3] = [None, None, None];
    use ConfigSyntax::{Empty, Json, KeyValue as Kv, Unreadable};

    #[test]
    fn json_shapes() {
        let kiro =
            br#"{"specId": "a1", "workflowType": "requirements-first", "specType": "feature"}"#;
        check(kiro, KIRO, "{}", Json, &[]);
        check(
            &[b"\xEF\xBB\xBF".as_slice(), kiro].concat(),
            KIRO,
            "{}",
            Json,
            &[],
        );
        check(
            b"{\n  \"specId\": \"a1\",\n  \"workflowType\": \"requirements-first\",\n  \"specType\": \"feature\"\n}\n",
            KIRO,
            "{}",
            Json,
            &[],
        );
        // Extra keys and nested values land in `other`.
        check(
            br#"{"createdAt": "2026-06-09", "extends": {"spec": "x", "n": [1, 2]}, "specType": "bugfix"}"#,
            [None, None, Some("bugfix")],
            r#"{"createdAt":"2026-06-09","extends":{"n":[1,2],"spec":"x"}}"#,
            Json,
            &[],
        );
        // Comments and trailing commas, as an editor may leave them.
        check(
            b"{\n  // written by hand\n  \"specId\": \"a1\", /* uuid */\n  \"workflowType\": \"requirements-first\",\n  \"specType\": \"feature\",\n}\n",
            KIRO,
            "{}",
            Json,
            &[],
        );
        // `//` inside a string is not a comment.
        check(
            br#"{"specId": "http://x", "note": "a /* b */ c"}"#,
            [Some("http://x"), None, None],
            r#"{"note":"a /* b */ c"}"#,
            Json,
            &[],
        );
        // Variant spellings; the exact one wins whatever the order.
        check(
            br#"{"spec_type": "bugfix", "specType": "feature", "WORKFLOW-TYPE": "design-first"}"#,
            [None, Some("design-first"), Some("feature")],
            r#"{"spec_type":"bugfix"}"#,
            Json,
            &[],
        );
        // A known key that is not a string is kept, and noted where it is.
        check(
            b"{\"specId\": \"a1\",\n \"specType\": 3}",
            [Some("a1"), None, None],
            r#"{"specType":3}"#,
            Json,
            &["2:2 `specType` is a number, not a string"],
        );
        check(b"{}", NONE, "{}", Json, &[]);
    }

    #[test]
    fn odd_json_is_noted_and_salvaged() {
        check(
            b"[{\"specType\": \"bugfix\"}]",
            NONE,
            "{}",
            Unreadable,
            &["1:1 is JSON but not an object (it is an array)"],
        );
        check(
            b"  {\"specType\": \"bugfix\", \"workflowType\": \"requ",
            [None, None, Some("bugfix")],
            "{}",
            Unreadable,
            &["1:46 invalid JSON: EOF while parsing a string"],
        );
        check(
            b"{\n  \"specId\": \n",
            NONE,
            "{}",
            Unreadable,
            &["3:1 invalid JSON: EOF while parsing a value"],
        );
        check(
            b"{ not json",
            NONE,
            "{}",
            Unreadable,
            &["1:3 invalid JSON: key must be a string"],
        );
        // Past a broken part, top-level pairs are still found; nested ones are not.
        check(
            b"{\"a\": {\"specId\": \"inner\"}, \"specId\": \"a1\" \"b\": tru}",
            [Some("a1"), None, None],
            "{}",
            Unreadable,
            &["1:43 invalid JSON: expected `,` or `}`"],
        );
        // Deep nesting is an error from serde_json, not a stack overflow.
        let deep = [b"{\"specId\": \"a1\", \"x\": ".as_slice(), &[b'['; 100_000]].concat();
        check(
            &deep,
            [Some("a1"), None, None],
            "{}",
            Unreadable,
            &["1:149 invalid JSON: recursion limit exceeded"],
        );
    }

    #[test]
    fn key_value_text() {
        check(
            b"specId=a1\nworkflowType=requirements-first\nspecType=feature\n",
            KIRO,
            "{}",
            Kv,
            &[],
        );
        check(
            b"# Kiro spec\r\n[spec]\r\nspec_id: \"a1\"\r\n  workflow-type : 'requirements-first',\r\n; note\r\nspecType:feature\r\nurl: https://x.test/a=b\r\n",
            KIRO,
            r#"{"url":"https://x.test/a=b"}"#,
            Kv,
            &[],
        );
        check(
            b"specType=bugfix\nthis is prose\n= nothing\n",
            [None, None, Some("bugfix")],
            "{}",
            Kv,
            &["2:1 line is neither JSON", "3:1 line is neither JSON"],
        );
        check(
            b"just some words",
            NONE,
            "{}",
            Unreadable,
            &["1:1 line is neither JSON"],
        );
        check(
            b"\"feature\"",
            NONE,
            "{}",
            Unreadable,
            &["1:1 line is neither JSON"],
        );
    }

    #[test]
    fn many_bad_lines_are_counted_not_each_reported() {
        let text = "specType=bugfix\n".to_owned() + &"no pair here\n".repeat(50_000);
        let (config, issues) = parse_config(Path::new("c"), text.as_bytes());
        assert_eq!(config.spec_type.as_deref(), Some("bugfix"));
        assert_eq!(issues.len(), MAX_ISSUES + 1);
        assert_eq!((issues[0].line, issues[MAX_ISSUES - 1].line), (2, 21));
        assert!(
            issues[MAX_ISSUES].message.starts_with("49980 more lines"),
            "{issues:?}"
        );

        let keys: String = (0..5_000)
            .map(|i| {
                let variant: String = "spec_type"
                    .chars()
                    .enumerate()
                    .map(|(j, c)| {
                        if i >> j & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect();
                format!("\"{variant}{}\": {i},\n", "_".repeat(i / 512))
            })
            .collect();
        let (_, issues) = parse_config(Path::new("c"), format!("{{{keys}}}").as_bytes());
        assert_eq!(issues.len(), MAX_ISSUES + 1, "{issues:?}");
        assert!(issues[MAX_ISSUES]
            .message
            .contains("more known keys are not strings"));
    }

    #[test]
    fn empty_and_blank() {
        check(b"", NONE, "{}", Empty, &[]);
        check(b"\xEF\xBB\xBF \n\t\n", NONE, "{}", Empty, &[]);
        check(b"# nothing yet\n", NONE, "{}", Empty, &[]);
        check(b"// nothing yet\n", NONE, "{}", Empty, &[]);
    }

    #[test]
    fn bom_counts_as_a_column_on_line_one() {
        check(
            b"\xEF\xBB\xBF{ nope",
            NONE,
            "{}",
            Unreadable,
            &["1:4 invalid JSON"],
        );
    }

    #[test]
    fn encodings_other_than_utf8_are_read_but_marked_lossy() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "{\"specType\": \"bugfix\"}"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        check(
            &utf16,
            [None, None, Some("bugfix")],
            "{}",
            Json,
            &["0:0 is UTF-16 LE text"],
        );
        let (config, _) = parse_config(Path::new("c"), &utf16);
        assert!(config.lossy);

        let latin1 = b"specType=bugfix\nowner=Jos\xE9\n";
        check(
            latin1,
            [None, None, Some("bugfix")],
            "{\"owner\":\"Jos\u{fffd}\"}",
            Kv,
            &["2:10 is not UTF-8 text (invalid byte at offset 25)"],
        );
        let (config, _) = parse_config(Path::new("c"), latin1);
        assert!(config.lossy);
        assert!(config.raw.contains('\u{fffd}'));
    }

    #[test]
    fn spec_json_checks() {
        let check_json = |input: &[u8]| -> Vec<String> {
            check_spec_json(Path::new("spec.json"), input)
                .iter()
                .map(|i| format!("{}:{} {}", i.line, i.column, i.message))
                .collect()
        };
        assert!(check_json(b"{ \"phase\": \"tasks\" }\n").is_empty());
        assert!(check_json(b"\xEF\xBB\xBF{}").is_empty());
        let found = check_json(b"{\n  \"phase\": ,\n}");
        assert!(
            found[0].starts_with("2:12 invalid JSON: expected value"),
            "{found:?}"
        );
        assert!(check_json(b"[]")[0].starts_with("1:1 is JSON but not an object"));
        assert!(check_json(b"{\"a\": \"\xff\"}")[0].starts_with("1:8 is not UTF-8"));
    }

    proptest::proptest! {
        /// Whatever the bytes, parsing returns, keeps UTF-8 input byte for
        /// byte, and points issues at lines that exist.
        #[test]
        fn never_panics_and_keeps_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let (config, issues) = parse_config(Path::new("c"), &bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if !bytes.starts_with(&[0xFF, 0xFE]) && !bytes.starts_with(&[0xFE, 0xFF]) {
                    proptest::prop_assert_eq!(config.raw.as_str(), text);
                    proptest::prop_assert!(!config.lossy);
                }
            }
            let lines = config.raw.split('\n').count() as u32;
            for i in &issues {
                proptest::prop_assert!(i.line <= lines, "{:?}", i);
            }
        }

        /// JSON-ish text built from the pieces real files have.
        #[test]
        fn json_like_text_never_panics(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"specId\"", "\"specType\"", "\"bugfix\"", "\"a\\\"b\"",
                "1", "true", "null", "//c\n", "/*", "*/", "\n", " ", "=", "\u{feff}", "é", "\"",
            ]),
            0..40,
        )) {
            let text = parts.concat();
            let (config, _) = parse_config(Path::new("c"), text.as_bytes());
            proptest::prop_assert_eq!(config.raw, text);
        }
    }
}
