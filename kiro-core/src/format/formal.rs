//! A correctness property's executable block: the fenced code block with
//! the info string `json kiro-property` that carries its
//! [`PropertySpec`].
//!
//! Blocks are found by structure: a top-level fenced code block (backticks
//! or tildes, any fence length, indented up to three spaces) whose info
//! string is the words of [`PROPERTY_BLOCK_INFO`] in any case and spacing.
//! Its JSON is the lines between the fences as written (JSON ignores the
//! indentation CommonMark would strip), so a position in the JSON is a
//! position in the file.
//!
//! The design parser decides where a block stands ([`FormalPlace`]); this
//! module decides which block a property renders ([`formal_block`]): the
//! block as written while it still reads as `formal`, else the canonical
//! block of `formal` (pretty JSON, keys of nested schemas sorted).

use std::borrow::Cow;
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};

use super::markdown::line_start;
use crate::lexicon::PROPERTY_BLOCK_INFO;
use crate::spec::{CorrectnessProperty, FormalPlace, PropertySpec};

/// A `kiro-property` block as a property renders it: the fenced block's
/// text and the JSON between its fences.
///
/// ```
/// use kiro_core::format::{formal_block, parse_design};
///
/// let src = "# Design\n\n## Correctness Properties\n\n### Property 1: Trim is idempotent\n\n*For any* string, trim(trim(s)) SHALL equal trim(s).\n\n```json kiro-property\n{\"kind\": \"idempotent\", \"ops\": [\"trim\"], \"input\": {\"type\": \"string\"}}\n```\n\n**Validates: Requirements 1.1**\n";
/// let doc = parse_design(src).value;
/// let block = formal_block(&doc.properties[0]).unwrap();
/// assert!(block.text().starts_with("```json kiro-property\n"));
/// assert_eq!(block.json(), "{\"kind\": \"idempotent\", \"ops\": [\"trim\"], \"input\": {\"type\": \"string\"}}");
/// assert_eq!(block.read()?.ops, ["trim"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormalBlock<'a> {
    text: Cow<'a, str>,
    json: Range<usize>,
}

impl<'a> FormalBlock<'a> {
    /// A block from its text (opening fence line first).
    pub(crate) fn new(text: Cow<'a, str>) -> FormalBlock<'a> {
        let json = json_range(&text);
        FormalBlock { text, json }
    }

    /// The whole block, from the opening fence to the closing one (or to
    /// the end of the property when the fence is never closed), with
    /// `\n` line endings.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The JSON between the fences, as written. It starts on the block's
    /// second line.
    pub fn json(&self) -> &str {
        self.text.get(self.json.clone()).unwrap_or("")
    }

    /// Reads the JSON as a [`PropertySpec`]; the error's line and column
    /// are those of [`FormalBlock::json`].
    ///
    /// # Errors
    ///
    /// The JSON is malformed or does not have the shape of a
    /// `PropertySpec` (an unknown kind or field, a value of the wrong type).
    pub fn read(&self) -> Result<PropertySpec, serde_json::Error> {
        serde_json::from_str(self.json())
    }
}

/// The `kiro-property` block `p` renders, if any: the block as written
/// (`formal_source`, or the statement's or notes' own block) while it still
/// reads as `p.formal` (or, when it does not read as a property at all,
/// while `p.formal` is `None`), else the canonical block of `p.formal`.
///
/// ```
/// use kiro_core::format::formal_block;
/// use kiro_core::spec::{CorrectnessProperty, PropertyKind, PropertySpec};
///
/// let p = CorrectnessProperty {
///     formal: Some(PropertySpec {
///         kind: PropertyKind::NoError,
///         ops: vec!["parse".into()],
///         input: serde_json::json!({"type": "string"}),
///         output: None,
///         target: None,
///         reference: None,
///         rust: None,
///         cases: None,
///     }),
///     ..CorrectnessProperty::default()
/// };
/// assert_eq!(
///     formal_block(&p).unwrap().text(),
///     "```json kiro-property\n{\n  \"kind\": \"no-error\",\n  \"ops\": [\n    \"parse\"\n  ],\n  \"input\": {\n    \"type\": \"string\"\n  }\n}\n```"
/// );
/// assert_eq!(formal_block(&CorrectnessProperty::default()), None);
/// ```
pub fn formal_block(p: &CorrectnessProperty) -> Option<FormalBlock<'_>> {
    match layout(p) {
        Layout::InText {
            text, range, keep, ..
        } => {
            if keep {
                return Some(FormalBlock::new(Cow::Borrowed(text.get(range)?)));
            }
            p.formal.as_ref().map(canonical)
        }
        Layout::Lifted { block, .. } => block,
    }
}

/// How a property's block is rendered.
pub(crate) enum Layout<'a> {
    /// The block stands in the statement or notes (`text`) at `range`;
    /// `keep` when it is written as it is, else it is replaced by the
    /// canonical block of `formal` (or removed when `formal` is `None`).
    InText {
        text: &'a str,
        range: Range<usize>,
        keep: bool,
        in_notes: bool,
    },
    /// The block (if any) is written on its own at `place`.
    Lifted {
        block: Option<FormalBlock<'a>>,
        place: FormalPlace,
    },
}

/// Where and what `p`'s block renders.
pub(crate) fn layout(p: &CorrectnessProperty) -> Layout<'_> {
    if p.formal_place == FormalPlace::InText {
        for (text, in_notes) in [(p.statement.as_str(), false), (p.notes.as_str(), true)] {
            if let Some(range) = find_blocks(text).into_iter().next() {
                let written = text.get(range.clone()).unwrap_or("");
                let keep = keeps(&FormalBlock::new(Cow::Borrowed(written)), p);
                return Layout::InText {
                    text,
                    range,
                    keep,
                    in_notes,
                };
            }
        }
        // The block was edited out of the text: a set `formal` gets the
        // canonical place.
        return Layout::Lifted {
            block: p.formal.as_ref().map(canonical),
            place: FormalPlace::AfterStatement,
        };
    }
    let written = p
        .formal_source
        .as_deref()
        .and_then(single_block)
        .filter(|b| keeps(b, p));
    Layout::Lifted {
        block: written.or_else(|| p.formal.as_ref().map(canonical)),
        place: p.formal_place,
    }
}

/// `true` when `block` as written still stands for `p.formal`.
fn keeps(block: &FormalBlock<'_>, p: &CorrectnessProperty) -> bool {
    match (block.read(), &p.formal) {
        (Ok(read), Some(formal)) => read == *formal,
        // An unreadable block is kept until a program sets `formal`.
        (Err(_), None) => true,
        _ => false,
    }
}

/// `source` as a block when it is exactly one `kiro-property` block.
fn single_block(source: &str) -> Option<FormalBlock<'_>> {
    let blocks = find_blocks(source);
    match blocks.as_slice() {
        [only] if only.start == 0 && only.end == source.trim_end().len() => {
            Some(FormalBlock::new(Cow::Borrowed(source.get(only.clone())?)))
        }
        _ => None,
    }
}

/// The block kiro writes for `spec`: pretty JSON (two-space indentation,
/// the fields in [`PropertySpec`]'s order, the keys of the schemas sorted)
/// between ```` ```json kiro-property ```` and ```` ``` ````.
pub(crate) fn canonical(spec: &PropertySpec) -> FormalBlock<'static> {
    FormalBlock::new(Cow::Owned(canonical_text(spec)))
}

/// `true` when `written` is the canonical block of `spec`. Hand-written
/// blocks rarely start as the canonical one does, which settles most
/// without rendering `spec`.
pub(crate) fn is_canonical(written: &str, spec: &PropertySpec) -> bool {
    let head = written
        .strip_prefix("```")
        .and_then(|rest| rest.strip_prefix(PROPERTY_BLOCK_INFO))
        .is_some_and(|rest| rest.starts_with("\n{\n  \"kind\": \""));
    head && canonical_text(spec) == written
}

/// The text of [`canonical`].
pub(crate) fn canonical_text(spec: &PropertySpec) -> String {
    // Sorted keys make the block the same whether or not serde_json keeps
    // insertion order (its `preserve_order` feature, which any crate of a
    // build may turn on).
    let mut spec = spec.clone();
    spec.input.sort_all_objects();
    if let Some(output) = spec.output.as_mut() {
        output.sort_all_objects();
    }
    // Serialising plain data with string keys cannot fail; an empty block
    // would still be reported by lint rather than lost silently.
    let json = serde_json::to_string_pretty(&spec).unwrap_or_default();
    format!("```{PROPERTY_BLOCK_INFO}\n{json}\n```")
}

/// The top-level `kiro-property` blocks of `text`, in order: each from the
/// start of its opening fence's line to the end of its last line (trailing
/// white space excluded).
pub(crate) fn find_blocks(text: &str) -> Vec<Range<usize>> {
    // Reading structure costs a CommonMark pass: most texts have no line
    // that could open a block, which a line scan settles first.
    if !text.split('\n').any(opens_block) {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut depth = 0usize;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    if let Tag::CodeBlock(CodeBlockKind::Fenced(info)) = &tag {
                        if names_block(info) {
                            let start = line_start(text, range.start);
                            let body = text.get(start..range.end).unwrap_or("");
                            found.push(start..start + body.trim_end().len());
                        }
                    }
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    found
}

/// `true` when `line` reads as the opening fence of a `kiro-property`
/// block (the structure is confirmed by [`find_blocks`]).
pub(crate) fn opens_block(line: &str) -> bool {
    opening_fence(line).is_some_and(|(_, _, info)| names_block(info))
}

/// An opening code fence: up to three spaces, three or more backticks or
/// tildes, and the info string (which a backtick fence cannot contain a
/// backtick in). Returns the fence byte, its length and the info string.
fn opening_fence(line: &str) -> Option<(u8, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line.get(indent..)?;
    let fence = *rest.as_bytes().first()?;
    if fence != b'`' && fence != b'~' {
        return None;
    }
    let count = rest.len() - rest.trim_start_matches(char::from(fence)).len();
    if count < 3 {
        return None;
    }
    let info = rest.get(count..)?;
    if fence == b'`' && info.contains('`') {
        return None;
    }
    Some((fence, count, info.trim()))
}

/// `true` when an info string is the words of [`PROPERTY_BLOCK_INFO`],
/// ignoring case and spacing.
fn names_block(info: &str) -> bool {
    let mut got = info.split_whitespace();
    let mut want = PROPERTY_BLOCK_INFO.split_whitespace();
    loop {
        match (got.next(), want.next()) {
            (None, None) => return true,
            (Some(g), Some(w)) if g.eq_ignore_ascii_case(w) => {}
            _ => return false,
        }
    }
}

/// The JSON of a block's text: its lines after the opening fence, up to
/// the closing fence when the last line is one.
fn json_range(text: &str) -> Range<usize> {
    let Some(first_end) = text.find('\n') else {
        return text.len()..text.len();
    };
    let start = first_end + 1;
    let first = text.get(..first_end).unwrap_or("");
    let Some((fence, count, _)) = opening_fence(first) else {
        return start..text.len();
    };
    let body = text.get(start..).unwrap_or("");
    let last_start = body.rfind('\n').map_or(0, |i| i + 1);
    let last = body.get(last_start..).unwrap_or("");
    if closes(last, fence, count) {
        // The JSON ends before the line break that precedes the fence.
        let end = (start + last_start).saturating_sub(1).max(start);
        return start..end;
    }
    start..text.len()
}

/// `true` when `line` closes a fence of `count` `fence` bytes: up to three
/// spaces, at least as many fence bytes, then only spaces and tabs.
fn closes(line: &str, fence: u8, count: usize) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return false;
    }
    let rest = line.get(indent..).unwrap_or("");
    let run = rest.len() - rest.trim_start_matches(char::from(fence)).len();
    run >= count
        && rest
            .get(run..)
            .is_some_and(|tail| tail.trim_matches([' ', '\t']).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_open_by_their_shape_and_info() {
        for (line, opens) in [
            ("```json kiro-property", true),
            ("   ```json kiro-property", true),
            ("````  JSON   Kiro-Property  ", true),
            ("~~~json kiro-property", true),
            ("    ```json kiro-property", false),
            ("``json kiro-property", false),
            ("```json", false),
            ("```kiro-property", false),
            ("```json kiro-property extra", false),
            ("```json kiro-property`", false),
            ("~~~ json  kiro-property ", true),
            ("~~~json kiro-property`", false),
        ] {
            assert_eq!(opens_block(line), opens, "{line:?}");
        }
    }

    #[test]
    fn json_sits_between_the_fences() {
        for (text, json) in [
            ("```json kiro-property\n{}\n```", "{}"),
            ("```json kiro-property\n{\n}\n````", "{\n}"),
            ("~~~~json kiro-property\n{}\n~~~", "{}\n~~~"),
            ("```json kiro-property\n{}", "{}"),
            ("```json kiro-property\n```", ""),
            ("```json kiro-property", ""),
            ("  ```json kiro-property\n  {}\n  ```  ", "  {}"),
        ] {
            assert_eq!(
                FormalBlock::new(Cow::Borrowed(text)).json(),
                json,
                "{text:?}"
            );
        }
    }

    #[test]
    fn only_top_level_fences_are_blocks() {
        let text = "Intro.\n\n```json kiro-property\n{}\n```\n\n- item\n\n  ```json kiro-property\n  {}\n  ```\n\n> ```json kiro-property\n> {}\n> ```\n\n```json\n{}\n```\n";
        let found = find_blocks(text);
        assert_eq!(found.len(), 1);
        assert_eq!(
            text.get(found[0].clone()),
            Some("```json kiro-property\n{}\n```")
        );
    }
}
