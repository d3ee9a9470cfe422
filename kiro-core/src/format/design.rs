//! `design.md`: free-form sections plus correctness properties.
//!
//! A Kiro design document is mostly prose that kiro keeps verbatim: every
//! heading becomes a [`Section`] with its body as written. The one part kiro
//! understands is the list of correctness properties, which it lifts into
//! [`CorrectnessProperty`] values so that lint, planning and property-based
//! testing can use them.
//!
//! # Property shapes
//!
//! A property starts with a keyword (`Property`, `属性`, `Propriedade`,
//! `Propiedad`, `プロパティ`, ...), a number (`3`, `1.2`) and, after `:` or
//! `：`, its title, written as
//!
//! - a heading at any level: `### Property 3: Title`, `### 属性1：Title`
//!   (here the colon and title may be missing);
//! - a bold paragraph line: `**Property 3: Title**`, `**Property 3:** Title`,
//!   `**Property 3**: Title`;
//! - a plain paragraph line, colon required: `Property 1: Bug Condition -
//!   Title` (Kiro's bugfix designs write this).
//!
//! The number is required: `### Property-Based Tests` is an ordinary section.
//! A heading such as `### Property A: Title` or `### 属性：Title`, whose
//! number cannot be read, is kept as a section and reported.
//!
//! The first validates line of a property, a paragraph line on its own
//! (`**Validates: Requirements 1.1, 2.3**`, `_Validates: 1.1_`,
//! `**Validates:** Requirements 1.1`, `**验证：需求 1.1**`,
//! `**验证需求**: 需求1.1`), splits it: what stands before the line is the
//! statement, what follows it up to the next property the notes. Ids are read
//! with [`parse_id_list`](super::parse_id_list), so ranges expand. A validates line naming no id
//! (`**Validates: All requirements**`) is kept and reported. Without a
//! validates line, a paragraph line that ends with a bold fragment
//! (`... to pin it. **Validates: Requirements 6.4.**`) links the property;
//! the fragment stays in the statement, and the renderer writes no separate
//! line while the fragment still names the same ids. A property with no
//! validates line at all keeps everything in its statement and renders no
//! validates line.
//!
//! Property and validates lines may sit inside a longer paragraph (Kiro
//! writes `**Property 1: X**`, the statement and `**Validates: ...**` as one
//! paragraph); the renderer then separates them with blank lines. Such a line
//! is only recognised when the paragraph lines after it, standing alone,
//! still read as a paragraph (and no earlier such line of the paragraph was
//! refused), and a property's validates line is looked for in
//! the property's text read on its own, as it stands once rendered: this is
//! what makes a second reading find exactly the same parts.
//!
//! # Where properties live
//!
//! Properties are the run that starts at the first property inside a
//! correctness-properties section (`## Correctness Properties`,
//! `## 正确性属性`, ...), or else at the first property that follows any
//! section. The run is rendered after the section that holds its first
//! property (`properties_after`); a property before every section stays in
//! the preamble. The run ends at the first heading that is not a property,
//! except a group heading (`### 搜索和过滤属性`): one nested deeper than the
//! correctness-properties heading (without one, than the section the run
//! starts in) and followed by more properties before the next heading at that
//! level or above. Group headings stay in place, in the notes of the property
//! before them.
//!
//! # Canonical form and verbatim lines
//!
//! A property renders as its heading one level below the section it follows
//! (`### Property N: Title` under a `##` section), a blank line, the
//! statement, a blank line, `**Validates: Requirements <ids>**` and its
//! notes. The heading level is not stored: a heading at another level, a bold
//! or plain line, or localised wording is kept in `heading_source`, and a
//! differently spelled validates line in `validates_source`; each is written
//! back only while it still reads as the property's id and title (or ids), so
//! editing the typed fields wins. Ids must be numbers for a property to read
//! back as one.
//!
//! # Executable properties
//!
//! A property becomes executable with a fenced code block whose info string
//! is `json kiro-property` (any case and spacing; backticks or tildes, any
//! fence length, indented up to three spaces), anywhere in its body at the
//! top level: after the statement, after the validates line, or further
//! into the notes. The first such block is read with serde into
//! `formal` ([`crate::spec::PropertySpec`]); a second one stays in the text
//! and is reported, as is a block outside every property. Only structure
//! decides: a block inside a list item or a quote, or with another info
//! string, is ordinary text.
//!
//! The block is kept exactly as written. Right after the statement
//! ([`FormalPlace::AfterStatement`]) or right after the validates line
//! ([`FormalPlace::AfterValidates`]), laid out as the renderer lays out
//! parts (a blank line around it), it is lifted out of the text: the
//! statement and notes hold prose only, `formal_place` says where it stood,
//! and `formal_source` keeps its text when that is not the canonical block
//! of `formal`. Anywhere else ([`FormalPlace::InText`]) the statement or
//! notes keep it where it is. Either way the document renders byte for byte
//! as it would without the block being read. JSON that does not read as a
//! property leaves `formal` empty and stays in `formal_source` (or the
//! text), rendered as written; lint says what is wrong with it.
//!
//! When a program sets, changes or clears `formal`, the renderer writes the
//! canonical block (pretty JSON, see [`super::formal_block`]) where the old
//! block stood, after the statement when there was none, or removes it.
//!
//! ```
//! use kiro_core::format::{parse_design, render_design};
//! use kiro_core::spec::{FormalPlace, PropertyKind};
//!
//! let src = "# Design\n\n## Correctness Properties\n\n### Property 1: Codec round trip\n\n*For any* string, decode(encode(s)) SHALL equal s.\n\n**Validates: Requirements 1.1**\n\n```json kiro-property\n{\"kind\": \"round-trip\", \"ops\": [\"encode\", \"decode\"],\n \"target\": {\"process\": [\"python3\", \"codec.py\"]}}\n```\n";
//! let mut doc = parse_design(src).value;
//! let p = &doc.properties[0];
//! assert_eq!(p.formal.as_ref().map(|f| f.kind), Some(PropertyKind::RoundTrip));
//! assert_eq!(p.formal_place, FormalPlace::AfterValidates);
//! assert!(p.notes.is_empty());
//! assert_eq!(render_design(&doc), src);
//!
//! // A program changes the property: the block is rewritten in place.
//! doc.properties[0].formal.as_mut().unwrap().cases = Some(500);
//! let out = render_design(&doc);
//! assert!(out.ends_with("**Validates: Requirements 1.1**\n\n```json kiro-property\n{\n  \"kind\": \"round-trip\",\n  \"ops\": [\n    \"encode\",\n    \"decode\"\n  ],\n  \"input\": true,\n  \"target\": {\n    \"process\": [\n      \"python3\",\n      \"codec.py\"\n    ]\n  },\n  \"cases\": 500\n}\n```\n"));
//! ```
//!
//! For a model built in code, two rules make the round trip consistent: when
//! `properties_after` is `None` (or out of range) but properties exist, they
//! render at the end under a new `## Correctness Properties` section, which
//! reads back as that section with an empty body and `properties_after`
//! pointing at it; and the notes of a property with no validates line are
//! written after its statement and read back as part of it.

use std::borrow::Cow;
use std::ops::Range;

use super::formal::{self, FormalBlock, Layout};
use super::markdown::{blocks, finish, trim_blank_lines, Block, BlockKind, Blocks, LineCursor};
use super::refs::{format_id_list, is_formatted_id_list, parse_id_list_into};
use super::requirements::is_numbered_title;
use super::{FormatDiagnostic, Locator, Parsed, Position, SourceMap};
use crate::spec::{
    CorrectnessProperty, CriterionId, DesignDoc, FormalPlace, PropertyId, Section, TextStyle,
};

use crate::lexicon::{
    DEFAULT_PROPERTIES_HEADING, PROPERTIES_SECTION_WORDS, PROPERTY_WORDS, VALIDATES_LABELS,
    VALIDATES_SUFFIXES,
};

/// Parses `design.md`. Never fails: what cannot be read as a property stays
/// in the sections, verbatim, and unreadable property headings or validates
/// lines are reported as diagnostics.
///
/// ```
/// use kiro_core::format::{parse_design, render_design};
///
/// let src = "# Design Document\n\n## Correctness Properties\n\n### Property 1: Round trip\n\n*For any* value, save then load SHALL return it.\n\n**Validates: Requirements 1.1–1.3**\n";
/// let parsed = parse_design(src);
/// let p = &parsed.value.properties[0];
/// assert_eq!(p.title, "Round trip");
/// assert_eq!(p.validates.len(), 3);
/// assert_eq!(parsed.value.properties_after, Some(0));
/// // The range is kept as written.
/// assert_eq!(render_design(&parsed.value), src);
/// ```
pub fn parse_design(src: &str) -> Parsed<DesignDoc> {
    // CommonMark also ends lines with a lone `\r`; making it `\n` keeps the
    // line splitting here in step with pulldown-cmark's.
    let crlf = src.contains("\r\n");
    let text: Cow<str> = if src.contains('\r') {
        Cow::Owned(src.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(src)
    };
    let mut reader = Reader {
        text: &text,
        lines: LineCursor::default(),
        source_map: SourceMap::default(),
        diagnostics: Vec::new(),
    };
    let mut doc = reader.read();
    doc.style = TextStyle { crlf };
    Parsed {
        value: doc,
        source_map: reader.source_map,
        diagnostics: reader.diagnostics,
    }
}

/// One parse: the normalised source and what has been recorded so far.
///
/// Positions come from a [`LineCursor`] over the text: the parser asks for
/// a few positions in increasing order.
struct Reader<'a> {
    text: &'a str,
    lines: LineCursor,
    source_map: SourceMap,
    diagnostics: Vec<FormatDiagnostic>,
}

impl Reader<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> Position {
        let (line, column) = self.lines.line_col(self.text, offset);
        Position { line, column }
    }

    fn report(&mut self, offset: usize, message: &str, expected: &str) {
        let position = self.position(offset);
        self.diagnostics.push(FormatDiagnostic {
            position,
            message: message.to_owned(),
            expected: expected.to_owned(),
        });
    }

    fn read(&mut self) -> DesignDoc {
        let text = self.text;
        let Blocks {
            blocks: all,
            paragraphs,
            ..
        } = blocks(text);
        let mut doc = DesignDoc::default();

        // The title is the first block when it is a non-empty `#` heading; an
        // empty or later H1 is an ordinary section, so that rendering no
        // title line never turns a section into the title.
        let mut body_start = 0;
        let mut rest: &[Block] = &all;
        if let Some((first, tail)) = all.split_first() {
            if let BlockKind::Heading { level: 1, text: t } = &first.kind {
                if !t.is_empty() {
                    doc.title = t.to_string();
                    let at = self.position(first.range.start);
                    self.source_map.insert(Locator::Title, at);
                    body_start = first.range.end;
                    rest = tail;
                }
            }
        }

        let (events, splits) = collect_events(text, rest, &paragraphs);
        for ev in &events {
            if let EventKind::Heading {
                text: t,
                start: None,
                ..
            } = &ev.kind
            {
                if has_unreadable_number(t) {
                    self.report(
                        ev.range.start,
                        "property heading has no number",
                        "### Property <N>: <title>",
                    );
                }
            }
        }

        let region = find_region(&events);
        // Byte range of the property run (empty when there is none).
        let run = region.as_ref().map_or(text.len()..text.len(), |r| {
            events.get(r.first).map_or(text.len(), |e| e.range.start)..r.end.min(text.len())
        });

        // Top-level blocks that open like a `kiro-property` block: inside
        // the property run, their property reads them; elsewhere no
        // property would run them, which is worth saying.
        let mut block_starts: Vec<usize> = Vec::new();
        for b in rest {
            if !matches!(b.kind, BlockKind::Other) {
                continue;
            }
            let first_line = text
                .get(b.range.clone())
                .and_then(|t| t.split('\n').next())
                .unwrap_or("");
            if !formal::opens_block(first_line) {
                continue;
            }
            if run.contains(&b.range.start) {
                block_starts.push(b.range.start);
            } else {
                self.report(
                    b.range.start,
                    "kiro-property block outside a correctness property is not read",
                    "the block after a property's statement",
                );
            }
        }

        // Sections: every heading outside the property run. The section
        // before the run ends where the run starts.
        let heads: Vec<&Ev> = events
            .iter()
            .filter(|e| {
                matches!(e.kind, EventKind::Heading { .. }) && !run.contains(&e.range.start)
            })
            .collect();
        let preamble_end = heads
            .first()
            .map_or(text.len(), |h| h.range.start)
            .min(run.start);
        doc.preamble = slice(text, body_start, preamble_end);
        for (k, h) in heads.iter().enumerate() {
            let mut next = heads.get(k + 1).map_or(text.len(), |n| n.range.start);
            if region.is_some() && run.start > h.range.start && run.start < next {
                next = run.start;
                doc.properties_after = Some(k);
            }
            if let EventKind::Heading { level, text: t, .. } = &h.kind {
                doc.sections.push(Section {
                    title: (*t).to_owned(),
                    level: *level,
                    body: slice(text, h.range.end, next),
                });
            }
        }

        let Some(region) = region else {
            return doc;
        };
        let owner_level = doc
            .properties_after
            .and_then(|i| doc.sections.get(i))
            .map_or(2, |s| s.level);
        doc.properties.reserve_exact(region.starts.len());
        // Index of the first split point not before the current property:
        // properties come in document order, so the split points are walked
        // once instead of searched for every property.
        let mut split_cursor = 0;
        let mut block_cursor = 0;
        for (index, at) in region.starts.iter().enumerate() {
            let end = region
                .starts
                .get(index + 1)
                .and_then(|i| events.get(*i))
                .map_or(run.end, |e| e.range.start);
            let Some(start) = events.get(*at) else {
                continue;
            };
            // A property that runs from the end of a heading to the start of
            // the next heading (or to the end of the run, which is one or the
            // end of the text) has the same paragraphs read on its own as in
            // the whole document: no block is open across a top-level
            // heading. Its paragraphs' split points are then already known.
            let next_is_heading = region.starts.get(index + 1).is_none_or(|i| {
                events
                    .get(*i)
                    .is_some_and(|e| matches!(e.kind, EventKind::Heading { .. }))
            });
            let known =
                (matches!(start.kind, EventKind::Heading { .. }) && next_is_heading).then(|| {
                    // No paragraph straddles a heading, so the split lines of
                    // the property's paragraphs are those between the two.
                    let lo = points_before(&splits, split_cursor, start.range.end);
                    let hi = points_before(&splits, lo, end);
                    split_cursor = hi;
                    splits.get(lo..hi).unwrap_or(&[])
                });
            // A property reads its block only when a top-level block in
            // its range opens like one: most properties have none.
            while block_starts
                .get(block_cursor)
                .is_some_and(|at| *at < start.range.end)
            {
                block_cursor += 1;
            }
            let has_block = block_starts.get(block_cursor).is_some_and(|at| *at < end);
            if let Some(p) = self.read_property(index, start, end, owner_level, known, has_block) {
                doc.properties.push(p);
            }
        }
        doc
    }

    /// Reads the property that starts at `start` and runs to `end`.
    fn read_property(
        &mut self,
        index: usize,
        start: &Ev,
        end: usize,
        owner_level: u8,
        known: Option<&[SplitPoint]>,
        has_block: bool,
    ) -> Option<CorrectnessProperty> {
        let text = self.text;
        let info = match start.kind {
            EventKind::Heading {
                start: Some(info), ..
            }
            | EventKind::Start(info) => info,
            EventKind::Heading { start: None, .. } => return None,
        };
        let raw = text.get(start.range.clone()).unwrap_or("").trim();
        let at = self.position(start.range.start);
        self.source_map.insert(Locator::Property { index }, at);
        let canonical = is_canonical_heading(raw, property_level(owner_level), info.id, info.title);
        let mut property = CorrectnessProperty {
            id: PropertyId::new(info.id),
            title: info.title.to_owned(),
            heading_source: (!canonical).then(|| raw.to_owned()),
            ..CorrectnessProperty::default()
        };

        // The validates line is looked for in the property's text read on
        // its own, as it stands once rendered, so that a second reading
        // finds the same line.
        let base = start.range.end;
        let content = text.get(base..end).unwrap_or("");
        let found = match known {
            Some(points) => marker_in(text, base, points),
            None => find_marker(content),
        };
        // The statement runs to the validates line (or through an inline
        // fragment, or to the end), the notes from after it.
        let (statement_end, notes_start) = match &found {
            None => (content.len(), content.len()),
            Some(m) if m.inline => (m.range.end, m.range.end),
            Some(m) => (m.range.start, m.range.end),
        };
        let block = if has_block {
            self.read_formal(&mut property, base, content, statement_end..notes_start)
        } else {
            None
        };
        let block_start = block.as_ref().map(|b| b.start);
        let Some(marker) = found else {
            self.record_formal(index, block_start);
            let statement = block.and_then(|b| b.statement);
            property.statement = statement.unwrap_or_else(|| slice(content, 0, content.len()));
            return Some(property);
        };
        let line = content.get(marker.range.clone()).unwrap_or("");
        let offset = base + marker.range.start + (line.len() - line.trim_start().len());
        // Positions are recorded in document order.
        if block_start.is_some_and(|at| at > offset) {
            self.source_map
                .insert(Locator::PropertyValidates { index }, self.position(offset));
            self.record_formal(index, block_start);
        } else {
            self.record_formal(index, block_start);
            self.source_map
                .insert(Locator::PropertyValidates { index }, self.position(offset));
        }
        let (statement, notes) = block.map_or((None, None), |b| (b.statement, b.notes));
        property.notes = notes.unwrap_or_else(|| slice(content, marker.range.end, content.len()));
        let no_ids = marker.ids.is_empty();
        if marker.inline {
            // The fragment stays in the statement it ends.
            property.statement = statement.unwrap_or_else(|| slice(content, 0, marker.range.end));
            property.validates = marker.ids;
            return Some(property);
        }
        property.statement = statement.unwrap_or_else(|| slice(content, 0, marker.range.start));
        let line = line.trim();
        if !is_canonical_validates(line, &marker.ids) {
            property.validates_source = Some(line.to_owned());
        }
        property.validates = marker.ids;
        if no_ids {
            self.report(
                offset,
                "validates line names no requirement",
                "**Validates: Requirements <ids>**",
            );
        }
        Some(property)
    }

    /// Reads the property's `kiro-property` block, the first top-level one
    /// of `content` (a later one stays in the text and is reported), into
    /// `formal`. The block is lifted out of the statement (or the notes)
    /// when it ends the statement (or opens the notes) with the layout the
    /// renderer writes, so that lifting it changes no byte of the
    /// rendering; elsewhere it stays in the text ([`FormalPlace::InText`]).
    /// `parts` is where the statement ends and the notes start in `content`,
    /// which starts at byte `base` of the text.
    fn read_formal(
        &mut self,
        property: &mut CorrectnessProperty,
        base: usize,
        content: &str,
        parts: Range<usize>,
    ) -> Option<Lift> {
        let blocks = formal::find_blocks(content);
        let (first, later) = blocks.split_first()?;
        let written = content.get(first.clone())?;
        let indent = |block: &str| block.len() - block.trim_start_matches(' ').len();
        for extra in later {
            let at = content.get(extra.clone()).map_or(0, indent);
            self.report(
                base + extra.start + at,
                "second kiro-property block of a property is not read",
                "one ```json kiro-property block per property",
            );
        }
        let read = FormalBlock::new(Cow::Borrowed(written)).read().ok();
        let mut lift = Lift {
            start: base + first.start + indent(written),
            statement: None,
            notes: None,
        };
        let place = if first.end <= parts.start {
            let before = slice(content, 0, first.start);
            let lifted = joined(&before, written) == slice(content, 0, parts.start);
            lifted.then(|| {
                lift.statement = Some(before);
                FormalPlace::AfterStatement
            })
        } else if first.start >= parts.end {
            let after = slice(content, first.end, content.len());
            let lifted = joined(written, &after) == slice(content, parts.end, content.len());
            lifted.then(|| {
                lift.notes = Some(after);
                FormalPlace::AfterValidates
            })
        } else {
            None
        };
        match place {
            Some(place) => {
                property.formal_place = place;
                let canonical = read
                    .as_ref()
                    .is_some_and(|spec| formal::is_canonical(written, spec));
                property.formal_source = (!canonical).then(|| written.to_owned());
            }
            None => property.formal_place = FormalPlace::InText,
        }
        property.formal = read;
        Some(lift)
    }

    /// Records where a property's block opens, if it has one.
    fn record_formal(&mut self, index: usize, start: Option<usize>) {
        if let Some(at) = start {
            let position = self.position(at);
            self.source_map
                .insert(Locator::PropertyFormal { index }, position);
        }
    }
}

/// A property's block as [`Reader::read_formal`] found it: where its fence
/// opens, and the statement or notes without it when it was lifted out.
struct Lift {
    start: usize,
    statement: Option<String>,
    notes: Option<String>,
}

/// Two rendered parts as the renderer joins them: a blank line between
/// them, and an empty one left out.
fn joined(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_owned(),
        (_, true) => first.to_owned(),
        _ => format!("{first}\n\n{second}"),
    }
}

/// Renders `design.md` in Kiro's layout: `# Title`, the preamble, then every
/// section with one blank line between blocks, the correctness properties
/// after the section named by `properties_after`, and one final newline
/// (`\r\n` line endings when the source used them).
///
/// ```
/// use kiro_core::format::render_design;
/// use kiro_core::spec::{CorrectnessProperty, CriterionId, DesignDoc, PropertyId};
///
/// let doc = DesignDoc {
///     title: "Design Document".into(),
///     properties: vec![CorrectnessProperty {
///         id: PropertyId::new("1"),
///         title: "Round trip".into(),
///         statement: "*For any* value, load(save(v)) SHALL equal v.".into(),
///         validates: vec![CriterionId::new("1.1")],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert_eq!(
///     render_design(&doc),
///     "# Design Document\n\n## Correctness Properties\n\n### Property 1: Round trip\n\n*For any* value, load(save(v)) SHALL equal v.\n\n**Validates: Requirements 1.1**\n"
/// );
/// ```
pub fn render_design(doc: &DesignDoc) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !doc.title.is_empty() {
        parts.push(heading_line(1, &doc.title));
    }
    push_text(&mut parts, &doc.preamble);
    let after = doc
        .properties_after
        .filter(|i| *i < doc.sections.len() && !doc.properties.is_empty());
    for (i, section) in doc.sections.iter().enumerate() {
        parts.push(heading_line(section.level, &section.title));
        push_text(&mut parts, &section.body);
        if after == Some(i) {
            render_properties(&mut parts, &doc.properties, section.level);
        }
    }
    if after.is_none() && !doc.properties.is_empty() {
        parts.push(heading_line(2, DEFAULT_PROPERTIES_HEADING));
        render_properties(&mut parts, &doc.properties, 2);
    }
    finish(parts.join("\n\n"), doc.style.crlf)
}

fn render_properties(parts: &mut Vec<String>, properties: &[CorrectnessProperty], owner_level: u8) {
    let level = property_level(owner_level);
    for p in properties {
        let ids = &p.validates;
        // The property's block: on its own after the statement or the
        // validates line, or inside the statement or notes.
        let mut statement = Cow::Borrowed(p.statement.as_str());
        let mut notes = Cow::Borrowed(p.notes.as_str());
        let mut after_statement = None;
        let mut after_validates = None;
        match formal::layout(p) {
            Layout::InText { keep: true, .. } => {}
            Layout::InText {
                text,
                range,
                in_notes,
                ..
            } => {
                let block = p.formal.as_ref().map(formal::canonical_text);
                let text = Cow::Owned(replace_block(text, range, block.as_deref()));
                if in_notes {
                    notes = text;
                } else {
                    statement = text;
                }
            }
            Layout::Lifted { block, place } => match place {
                FormalPlace::AfterValidates => after_validates = block,
                _ => after_statement = block,
            },
        }
        let heading = p
            .heading_source
            .as_deref()
            .filter(|h| reparse_start(h, p.id.as_str(), &p.title))
            .map_or_else(
                || canonical_heading(level, p.id.as_str(), &p.title),
                str::to_owned,
            );
        parts.push(heading);
        push_text(parts, &statement);
        if let Some(block) = &after_statement {
            push_text(parts, block.text());
        }
        let source = p
            .validates_source
            .as_deref()
            .filter(|v| !v.contains('\n') && validates_line(v).is_some_and(|got| got == *ids));
        if let Some(line) = source {
            parts.push(line.trim().to_owned());
        } else if !ids.is_empty() && !inline_validates_holds(&statement, &notes, ids) {
            parts.push(canonical_validates(ids));
        }
        if let Some(block) = &after_validates {
            push_text(parts, block.text());
        }
        push_text(parts, &notes);
    }
}

/// `text` with the block at `range` replaced by `block`, or removed (with
/// the blank lines around it) when `block` is `None`.
fn replace_block(text: &str, range: Range<usize>, block: Option<&str>) -> String {
    let before = text.get(..range.start).unwrap_or("");
    let after = text.get(range.end..).unwrap_or("");
    match block {
        Some(block) => format!("{before}{block}{after}"),
        None => joined(before.trim_end(), trim_blank_lines(after)),
    }
}

/// `true` when the statement's last line carries the property's validates
/// fragment and a reader would find it again: no earlier fragment and no
/// validates line anywhere in the property could be read first.
fn inline_validates_holds(statement: &str, notes: &str, ids: &[CriterionId]) -> bool {
    let statement = trim_blank_lines(statement);
    let mut lines: Vec<&str> = statement.split('\n').collect();
    let Some(last) = lines.pop() else {
        return false;
    };
    let last_matches = inline_validates(last).is_some_and(|(got, _)| got == ids);
    let earlier_fragment = lines.iter().any(|l| inline_validates(l).is_some());
    let any_line = statement
        .split('\n')
        .chain(notes.split('\n'))
        .any(|l| validates_line(l).is_some());
    last_matches && !earlier_fragment && !any_line
}

fn push_text(parts: &mut Vec<String>, text: &str) {
    let t = trim_blank_lines(text);
    if !t.is_empty() {
        parts.push(t.to_owned());
    }
}

/// An ATX heading line. A title ending in `#` gets a closing `#` so that the
/// trailing marks stay part of the title when read back.
fn heading_line(level: u8, title: &str) -> String {
    let marks = "#".repeat(usize::from(level.clamp(1, 6)));
    let title = title.trim();
    if title.is_empty() {
        return marks;
    }
    let stem = title.trim_end_matches('#');
    if stem.len() != title.len() && (stem.is_empty() || stem.ends_with([' ', '\t'])) {
        format!("{marks} {title} #")
    } else {
        format!("{marks} {title}")
    }
}

fn property_level(owner_level: u8) -> u8 {
    owner_level.clamp(1, 6).saturating_add(1).min(6)
}

fn canonical_heading(level: u8, id: &str, title: &str) -> String {
    let marks = "#".repeat(usize::from(level.clamp(1, 6)));
    if title.is_empty() {
        format!("{marks} Property {id}")
    } else {
        format!("{marks} Property {id}: {title}")
    }
}

/// `true` when `raw` is what [`canonical_heading`] writes, compared piece by
/// piece because every property is checked and the string would be dropped.
fn is_canonical_heading(raw: &str, level: u8, id: &str, title: &str) -> bool {
    let marks = usize::from(level.clamp(1, 6));
    let Some(rest) = raw
        .get(..marks)
        .filter(|m| m.bytes().all(|b| b == b'#'))
        .and_then(|_| raw.get(marks..))
    else {
        return false;
    };
    is_numbered_title(rest, " Property ", id, title)
}

/// `true` when `line` is what [`canonical_validates`] writes for `ids`,
/// compared piece by piece so that no string is built.
fn is_canonical_validates<S: AsRef<str>>(line: &str, ids: &[S]) -> bool {
    line.strip_prefix("**Validates: Requirements ")
        .and_then(|r| r.strip_suffix("**"))
        .is_some_and(|list| is_formatted_id_list(list, ids))
}

/// The criterion ids of a link list (see [`parse_id_list`]).
///
/// [`parse_id_list`]: super::parse_id_list
fn criterion_ids(text: &str) -> Vec<CriterionId> {
    let mut ids = Vec::new();
    parse_id_list_into(text, &mut ids);
    ids
}

fn canonical_validates<S: AsRef<str>>(ids: &[S]) -> String {
    format!(
        "**Validates: Requirements {}**",
        format_id_list(ids.iter().map(AsRef::as_ref))
    )
}

fn slice(text: &str, from: usize, to: usize) -> String {
    if from >= to {
        return String::new();
    }
    trim_blank_lines_ascii(text.get(from..to).unwrap_or("")).to_owned()
}

/// [`trim_blank_lines`] for the common case of ASCII blank lines, read byte
/// by byte since every statement and notes text passes through it; it hands
/// over to [`trim_blank_lines`] at the first non-ASCII byte of a leading
/// line, where Unicode whitespace decides.
fn trim_blank_lines_ascii(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        match bytes.get(i) {
            // The leading lines so far are blank, the text ends blank.
            None => return "",
            Some(b'\n') => {
                i += 1;
                start = i;
            }
            Some(b' ' | b'\t' | b'\r' | 0x0b | 0x0c) => i += 1,
            Some(b) if !b.is_ascii() => return trim_blank_lines(s),
            Some(_) => break,
        }
    }
    s.get(start..).unwrap_or("").trim_end()
}

/// The id and title a property start names, borrowed from the line (most
/// starts are only looked at, so nothing is copied until a property is built).
#[derive(Clone, Copy, Debug, PartialEq)]
struct StartInfo<'a> {
    id: &'a str,
    title: &'a str,
}

/// What kiro recognises in the block structure, in document order.
#[derive(Clone, Debug)]
enum EventKind<'a> {
    /// A heading (not the title), possibly a property heading.
    Heading {
        level: u8,
        text: &'a str,
        start: Option<StartInfo<'a>>,
    },
    /// A paragraph line that starts a property (`**Property 1: X**`).
    Start(StartInfo<'a>),
}

#[derive(Clone, Debug)]
struct Ev<'a> {
    kind: EventKind<'a>,
    /// The heading block, or the line (without its newline).
    range: Range<usize>,
}

/// A line of a paragraph where the paragraph may be split, with what the
/// line was read as: later passes take that from here instead of reading
/// every line again.
#[derive(Clone, Debug)]
struct SplitPoint<'a> {
    /// The line, without its newline.
    range: Range<usize>,
    /// The id list text, when the line is a validates line.
    validates: Option<&'a str>,
    /// The property the line starts, when it starts one.
    start: Option<StartInfo<'a>>,
}

/// The index of the first split point from `from` on that starts at or
/// after `offset`; every point before `from` must start before `offset`.
fn points_before(points: &[SplitPoint], from: usize, offset: usize) -> usize {
    let ahead = points.get(from..).unwrap_or(&[]);
    from + ahead
        .iter()
        .position(|p| p.range.start >= offset)
        .unwrap_or(ahead.len())
}

/// The events of the blocks, and the split points of every paragraph (which
/// [`marker_in`] reuses rather than reading each property again), as one
/// list in document order: a vector per paragraph would cost an allocation
/// for most properties.
fn collect_events<'a>(
    text: &'a str,
    blocks: &'a [Block],
    paragraphs: &[usize],
) -> (Vec<Ev<'a>>, Vec<SplitPoint<'a>>) {
    // Sized once: the events are about one per block, and growing vectors
    // of this size repeatedly shows up in profiles.
    let mut out = Vec::with_capacity(blocks.len());
    let mut splits = Vec::with_capacity(paragraphs.len());
    // Blocks and paragraph starts are both in document order, so one cursor
    // over the paragraphs replaces a binary search per block.
    let mut paragraph_starts = paragraphs.iter().peekable();
    for block in blocks {
        while paragraph_starts
            .next_if(|p| **p < block.range.start)
            .is_some()
        {}
        let is_paragraph = paragraph_starts.peek() == Some(&&block.range.start);
        match &block.kind {
            BlockKind::Heading { level, text: t } => out.push(Ev {
                kind: EventKind::Heading {
                    level: *level,
                    text: t,
                    start: property_start(t, false),
                },
                range: block.range.clone(),
            }),
            BlockKind::Other if is_paragraph => {
                let first = splits.len();
                split_points(text, block.range.clone(), &mut splits);
                for point in splits.get(first..).unwrap_or(&[]) {
                    if let Some(info) = point.start {
                        out.push(Ev {
                            kind: EventKind::Start(info),
                            range: point.range.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    (out, splits)
}

#[derive(Debug)]
struct Region {
    /// Event index of the first property.
    first: usize,
    /// Byte offset where the run ends (`usize::MAX`: at the end of the text).
    end: usize,
    /// Event indexes of the properties' starts, in order.
    starts: Vec<usize>,
}

fn is_start(ev: &Ev) -> bool {
    matches!(
        ev.kind,
        EventKind::Start(_) | EventKind::Heading { start: Some(_), .. }
    )
}

fn heading_level(ev: &Ev) -> Option<u8> {
    match ev.kind {
        EventKind::Heading { level, .. } => Some(level),
        _ => None,
    }
}

/// Finds the run of properties and the level of the heading that encloses
/// it (headings at or above that level end the run).
fn find_region(events: &[Ev]) -> Option<Region> {
    let mut fallback: Option<(usize, u8)> = None;
    let mut chosen: Option<(usize, u8)> = None;
    // The enclosing headings of the current event, outermost first, each
    // with whether its title names correctness (asked once, when needed).
    // Kept as the events go by so that a document with no such section does
    // not rescan every earlier event for each property.
    let mut enclosing: Vec<Enclosing> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        if is_start(ev) {
            if let Some(owner) = enclosing.last().map(|h| h.level) {
                if let Some(root) = properties_heading_level(&mut enclosing) {
                    chosen = Some((i, root));
                    break;
                }
                if fallback.is_none() {
                    let root = match heading_level(ev) {
                        Some(own) => owner.min(own.saturating_sub(1)),
                        None => owner,
                    };
                    fallback = Some((i, root));
                }
            }
        }
        if let EventKind::Heading { level, text, .. } = ev.kind {
            while enclosing.last().is_some_and(|h| h.level >= level) {
                enclosing.pop();
            }
            enclosing.push(Enclosing {
                level,
                title: text,
                properties: None,
            });
        }
    }
    let (first, root) = chosen.or(fallback)?;

    let mut starts: Vec<usize> = Vec::new();
    let mut end = None;
    let mut i = first;
    while let Some(ev) = events.get(i) {
        if is_start(ev) {
            starts.push(i);
        } else if let EventKind::Heading { level, .. } = &ev.kind {
            if !(*level > root && more_properties_follow(events, i + 1, root)) {
                end = Some(ev.range.start);
                break;
            }
        }
        i += 1;
    }
    Some(Region {
        first,
        end: end.unwrap_or(usize::MAX),
        starts,
    })
}

/// `true` when a property starts after event `from` before any heading at
/// `root` level or above.
fn more_properties_follow(events: &[Ev], from: usize, root: u8) -> bool {
    for ev in events.get(from..).unwrap_or(&[]) {
        if is_start(ev) {
            return true;
        }
        if let EventKind::Heading { level, .. } = ev.kind {
            if level <= root {
                return false;
            }
        }
    }
    false
}

/// A heading that encloses the events after it, in [`find_region`].
struct Enclosing<'a> {
    level: u8,
    title: &'a str,
    /// Whether the title names correctness, once asked.
    properties: Option<bool>,
}

/// The level of the nearest enclosing correctness-properties heading: among
/// the headings that no heading at their level or above follows (the
/// `enclosing` stack), the innermost whose title names correctness.
fn properties_heading_level(enclosing: &mut [Enclosing]) -> Option<u8> {
    for h in enclosing.iter_mut().rev() {
        let named = *h
            .properties
            .get_or_insert_with(|| is_properties_title(h.title));
        if named {
            return Some(h.level);
        }
    }
    None
}

fn is_properties_title(title: &str) -> bool {
    let lower = title.to_lowercase();
    PROPERTIES_SECTION_WORDS.iter().any(|w| lower.contains(w))
}

/// Strips a keyword from the start of `s`: ASCII words case-insensitively
/// and only when no letter or `-` follows (`Property-Based` is no property).
// Inlined so that the word lists, which are constants, fold into the
// first-byte tests.
#[inline(always)]
fn strip_word<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    // This runs for every paragraph line: bytes are compared, first bytes
    // reject most words, and whether a word is ASCII is only asked once its
    // bytes match (a non-ASCII word must then match exactly).
    let bytes = s.as_bytes();
    let first = bytes.first()?.to_ascii_lowercase();
    for w in words {
        let wb = w.as_bytes();
        if wb.first().map(u8::to_ascii_lowercase) != Some(first) {
            continue;
        }
        let Some(head) = bytes.get(..wb.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(wb) {
            continue;
        }
        let ascii = w.is_ascii();
        if !ascii && head != wb {
            continue;
        }
        // The head equals a whole word, so its end is a char boundary.
        let rest = s.get(wb.len()..).unwrap_or("");
        if ascii && rest.starts_with(|c: char| c.is_alphabetic() || c == '-' || c == '_') {
            continue;
        }
        return Some(rest);
    }
    None
}

fn is_colon(c: char) -> bool {
    c == ':' || c == '：'
}

/// Reads `Property 3: Title` (colon and title optional): the id, the
/// title, and whether a colon was present.
fn start_core(s: &str) -> Option<(&str, &str, bool)> {
    let rest = strip_word(s.trim(), PROPERTY_WORDS)?;
    let rest = rest.trim_start_matches([' ', '\t', '\u{3000}']);
    let mut end = 0;
    let bytes = rest.as_bytes();
    while let Some(b) = bytes.get(end) {
        let dot_then_digit =
            *b == b'.' && end > 0 && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() || dot_then_digit {
            end += 1;
        } else {
            break;
        }
    }
    if end == 0 {
        return None;
    }
    let id = rest.get(..end)?;
    let after = rest.get(end..)?.trim_start_matches([' ', '\t', '\u{3000}']);
    if after.is_empty() {
        return Some((id, "", false));
    }
    let mut chars = after.chars();
    match chars.next() {
        Some(c) if is_colon(c) => Some((id, chars.as_str().trim(), true)),
        _ => None,
    }
}

/// Reads a property start from a heading's text (`line == false`) or from a
/// paragraph line. Bold wrapping is accepted in both; a plain paragraph line
/// needs the colon so that prose such as `Property 1 holds` is no start.
fn property_start(s: &str, line: bool) -> Option<StartInfo<'_>> {
    let t = s.trim();
    for marker in ["**", "__"] {
        let Some(inner_and_rest) = t.strip_prefix(marker) else {
            continue;
        };
        let close = find_pair(inner_and_rest, marker)?;
        let inner = inner_and_rest.get(..close)?;
        let rest = inner_and_rest.get(close + marker.len()..)?.trim();
        let (id, title, colon) = start_core(inner)?;
        if rest.is_empty() {
            return Some(StartInfo { id, title });
        }
        if !title.is_empty() {
            return None;
        }
        if colon {
            return Some(StartInfo { id, title: rest });
        }
        let mut chars = rest.chars();
        return match chars.next() {
            Some(c) if is_colon(c) => Some(StartInfo {
                id,
                title: chars.as_str().trim(),
            }),
            _ => None,
        };
    }
    let (id, title, colon) = start_core(t)?;
    (colon || !line).then_some(StartInfo { id, title })
}

/// The first `marker` (two equal ASCII bytes) in `s`, found with a byte
/// loop: `str::find` would set up a substring searcher for every line.
fn find_pair(s: &str, marker: &str) -> Option<usize> {
    let m = *marker.as_bytes().first()?;
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes.get(from..)?.iter().position(|b| *b == m) {
        let i = from + at;
        if bytes.get(i + 1) == Some(&m) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Re-reads a stored heading line (an ATX or setext heading, or a paragraph
/// line) the way the parser would and tells whether it names `id` and
/// `title`.
fn reparse_start(s: &str, id: &str, title: &str) -> bool {
    let Blocks {
        blocks: found,
        paragraphs,
        ..
    } = blocks(s);
    let info = match found.as_slice() {
        [Block {
            kind: BlockKind::Heading { text, .. },
            ..
        }] => property_start(text, false),
        [Block {
            kind: BlockKind::Other,
            ..
        }] if !s.trim().contains('\n') && paragraphs.len() == 1 => property_start(s, true),
        _ => None,
    };
    info.is_some_and(|i| i.id == id && i.title == title)
}

/// A heading that names a property without a readable number:
/// `Property A: Title`, `Property: Title`, `属性：Title`.
fn has_unreadable_number(title: &str) -> bool {
    let t = title.trim().trim_matches(|c| c == '*' || c == '_');
    let Some(rest) = strip_word(t, PROPERTY_WORDS) else {
        return false;
    };
    let spaced = rest.trim_start_matches([' ', '\t', '\u{3000}']);
    let token_end = spaced
        .find(|c: char| c.is_whitespace() || is_colon(c))
        .unwrap_or(spaced.len());
    let token = spaced.get(..token_end).unwrap_or("");
    // A placeholder such as `A`, `N`, `#` or `<N>` where the number belongs;
    // longer words (`Property Reflection:`, `属性测试：`) are headings of
    // their own.
    let placeholder =
        token.is_ascii() && token.len() <= 3 && !token.starts_with(|c: char| c.is_ascii_digit());
    if !placeholder {
        return false;
    }
    let after = spaced.get(token_end..).unwrap_or("").trim_start();
    let mut chars = after.chars();
    matches!(chars.next(), Some(c) if is_colon(c)) && !chars.as_str().trim().is_empty()
}

/// Where a property's validates link is, relative to its text.
#[derive(Debug)]
struct Marker {
    /// The whole line, or for an inline fragment the fragment to the line end.
    range: Range<usize>,
    ids: Vec<CriterionId>,
    /// `true` for a bold fragment at the end of a prose line.
    inline: bool,
}

/// The first validates line among the paragraph lines of `content`, or else
/// the first paragraph line that ends with a validates fragment.
fn find_marker(content: &str) -> Option<Marker> {
    let Blocks {
        blocks: found,
        paragraphs,
        ..
    } = blocks(content);
    let mut points = Vec::new();
    for b in found {
        if matches!(b.kind, BlockKind::Other) && paragraphs.binary_search(&b.range.start).is_ok() {
            split_points(content, b.range, &mut points);
        }
    }
    marker_in(content, 0, &points)
}

/// [`find_marker`] over the split points of paragraphs of `text` (byte
/// ranges in `text`, in document order); the marker's range is relative to
/// `base`.
fn marker_in(text: &str, base: usize, points: &[SplitPoint]) -> Option<Marker> {
    let mut inline: Option<Marker> = None;
    for point in points {
        let start = point.range.start.saturating_sub(base);
        let end = point.range.end.saturating_sub(base);
        if let Some(ids_text) = point.validates {
            return Some(Marker {
                range: start..end,
                ids: criterion_ids(ids_text),
                inline: false,
            });
        }
        if inline.is_none() {
            let line = text.get(point.range.clone()).unwrap_or("");
            if let Some((ids, at)) = inline_validates(line) {
                inline = Some(Marker {
                    range: start + at..end,
                    ids,
                    inline: true,
                });
            }
        }
    }
    inline
}

/// The lines of the paragraph at `range` where it may be split: property
/// starts and validates lines (and lines ending in a validates fragment)
/// whose following lines, standing alone, still read as one paragraph.
/// Lines such as `2. step`, `<tag>` or an indented line continue a
/// paragraph but would open a list, an HTML block or code on their own, so
/// a line they follow is not split off; nor is any later line of that
/// paragraph, since splitting there would shorten what follows the refused
/// line and change the decision on a second reading. The points are
/// appended to `out`.
fn split_points<'a>(text: &'a str, range: Range<usize>, out: &mut Vec<SplitPoint<'a>>) {
    let body = text.get(range.clone()).unwrap_or("");
    let mut offset = range.start;
    for line in body.split('\n') {
        let line_range = offset..offset + line.len();
        offset = line_range.end + 1;
        // Validates lines are the most common candidates, so they are asked
        // for first. A validates line never starts a property (the words of
        // the two begin with different characters, see the test
        // `validates_and_property_words_differ_at_once`), so it is not read
        // as a start.
        let validates = validates_ids_text(line);
        let start = match validates {
            Some(_) => None,
            None => property_start(line, true),
        };
        let candidate = validates.is_some() || start.is_some() || inline_validates(line).is_some();
        if !candidate {
            continue;
        }
        let rest = text.get(offset.min(range.end)..range.end).unwrap_or("");
        if !stands_as_paragraph(rest) {
            break;
        }
        out.push(SplitPoint {
            range: line_range,
            validates,
            start,
        });
    }
}

/// `true` when `rest` is empty or reads, on its own, as one paragraph.
fn stands_as_paragraph(rest: &str) -> bool {
    if rest.trim().is_empty() {
        return true;
    }
    let Blocks {
        blocks: found,
        paragraphs,
        ..
    } = blocks(rest);
    found.len() == 1
        && matches!(found.first(), Some(b) if matches!(b.kind, BlockKind::Other))
        && paragraphs.len() == 1
}

/// Reads a validates line (`**Validates: Requirements 1.1, 2.3**` and its
/// spellings) and returns its ids, possibly none.
fn validates_line(line: &str) -> Option<Vec<CriterionId>> {
    validates_ids_text(line).map(criterion_ids)
}

/// The id list text of a validates line, or `None` when `line` is not one.
/// Split from [`validates_line`] so that checks that only ask whether a line
/// is a validates line do not read its ids.
fn validates_ids_text(line: &str) -> Option<&str> {
    let t = line.trim();
    let unwrapped = t.trim_start_matches(['*', '_']);
    if t.len() - unwrapped.len() > 3 {
        return None;
    }
    let rest = strip_word(unwrapped, VALIDATES_LABELS)?;
    let colon = rest.find(is_colon)?;
    let suffix = rest.get(..colon)?;
    let word = suffix.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    if !VALIDATES_SUFFIXES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(word))
    {
        return None;
    }
    let after = rest.get(colon..)?;
    let ids_text = after
        .trim_start_matches(is_colon)
        .trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    Some(ids_text)
}

/// Finds a bold validates fragment that ends a line after other text
/// (`... to pin it. **Validates: Requirements 6.4.**`): its ids (at least
/// one) and its byte offset in the line.
fn inline_validates(line: &str) -> Option<(Vec<CriterionId>, usize)> {
    let end = line.trim_end();
    let body = end.strip_suffix("**")?;
    let open = body.rfind("**")?;
    let before = body.get(..open)?;
    if before.trim().is_empty() || !before.ends_with([' ', '\t', '\u{3000}']) {
        return None;
    }
    let fragment = end.get(open..)?;
    let ids = validates_line(fragment)?;
    (!ids.is_empty()).then_some((ids, open))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_trim_matches_trim_blank_lines() {
        for s in [
            "",
            "\n",
            " \n\t\n",
            "\n\nText\n\n",
            "  indented\nnext  \n\n",
            "\u{3000}\nText",
            " \u{a0}\nText",
            "\n\u{85}\nTail ",
            "\x0b\x0c\nX",
            "\x1f\nX",
            "中文\n\n",
        ] {
            assert_eq!(
                trim_blank_lines_ascii(s),
                trim_blank_lines(s),
                "input: {s:?}"
            );
        }
    }

    #[test]
    fn piecewise_checks_match_renderings() {
        for (level, id, title) in [(3, "1", "Round trip"), (2, "1.2", ""), (6, "10", "a: b")] {
            let canonical = canonical_heading(level, id, title);
            assert!(is_canonical_heading(&canonical, level, id, title));
            assert!(!is_canonical_heading(
                &format!("#{canonical}"),
                level,
                id,
                title
            ));
            assert!(!is_canonical_heading(
                &format!("{canonical} "),
                level,
                id,
                title
            ));
            assert!(!is_canonical_heading(&canonical, level, "9", title));
        }
        assert!(!is_canonical_heading("## Property 1", 3, "1", ""));
        for ids in [
            vec![],
            vec!["1.1".to_owned()],
            vec!["1.1".to_owned(), "2".to_owned()],
        ] {
            let line = canonical_validates(&ids);
            assert!(is_canonical_validates(&line, &ids));
            assert!(!is_canonical_validates(&format!("{line}*"), &ids));
            assert!(!is_canonical_validates(&line.replace(", ", ","), &ids) || ids.len() < 2);
        }
        assert!(!is_canonical_validates(
            "**Validates: Requirements *",
            &[] as &[&str]
        ));
    }

    /// `split_points` does not read a validates line as a property start:
    /// no word of one list begins like a word of the other, nor with the
    /// `*`, `_` or white space that either reading strips first.
    #[test]
    fn validates_and_property_words_differ_at_once() {
        let first = |w: &str| w.chars().next().map(|c| c.to_lowercase().to_string());
        for v in VALIDATES_LABELS {
            for p in PROPERTY_WORDS {
                assert_ne!(first(v), first(p), "{v} / {p}");
            }
        }
        for w in VALIDATES_LABELS.iter().chain(PROPERTY_WORDS) {
            assert!(!w.starts_with(|c: char| c == '*' || c == '_' || c.is_whitespace()));
        }
        for wrap in [
            "", "*", "**", "***", "_", "__", "*_", "_*", "** ", "__ ", " **",
        ] {
            for label in VALIDATES_LABELS.iter().chain(PROPERTY_WORDS) {
                for tail in [
                    ": 1.1",
                    " 1: x",
                    " Requirements: 1",
                    "：需求1",
                    ": Property 1: x",
                ] {
                    for close in ["", "**", "__", "*"] {
                        let line = format!("{wrap}{label}{tail}{close}");
                        if validates_ids_text(&line).is_some() {
                            assert_eq!(property_start(&line, true), None, "{line:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pair_search_matches_find() {
        for s in ["", "*", "**", "a*b**c", "***", "x__y_", "a * b ** c"] {
            for marker in ["**", "__"] {
                assert_eq!(find_pair(s, marker), s.find(marker), "input: {s:?}");
            }
        }
    }
}
