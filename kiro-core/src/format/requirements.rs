//! `requirements.md` as Kiro (and cc-sdd) write it; see [`parse_requirements`].

use std::collections::HashSet;
use std::ops::Range;

use compact_str::CompactString;
use pulldown_cmark::{Event, Options, Parser, Tag};

use super::markdown::{self, line_start, Block, BlockKind, Blocks, Item, Source, Span};
use super::{FormatDiagnostic, Locator, Parsed, Position, SourceMap};
use crate::spec::{
    AcceptanceCriterion, Anchor, CriterionId, Ears, GlossaryEntry, Interlude, PlacedSection,
    Requirement, RequirementGroup, RequirementId, RequirementsDoc, Section, TextStyle, UserStory,
};

use crate::lexicon::{
    self, ACCEPTANCE, DEFAULT_ACCEPTANCE, DEFAULT_GLOSSARY, DEFAULT_INTRODUCTION,
    DEFAULT_REQUIREMENTS, DEFAULT_STORY_LABEL, GLOSSARY, INTRODUCTION, REQUIREMENTS,
    REQUIREMENT_LABELS, STORY_LABELS,
};

const DEFAULT_GLOSSARY_SEPARATOR: &str = ": ";

/// Parses `requirements.md`. Never fails: what cannot be read as the Kiro
/// format is kept verbatim in the document and reported as a diagnostic.
///
/// # Canonical form
///
/// ```text
/// # Requirements Document
///
/// <preamble>
///
/// ## Introduction
///
/// <introduction, verbatim>
///
/// ## Glossary
///
/// - **Term**: definition
///
/// ## Requirements
///
/// ### Requirement 1: Title
///
/// **User Story:** As a <role>, I want <capability>, so that <benefit>
///
/// #### Acceptance Criteria
///
/// 1. WHEN <trigger>, THE <system> SHALL <response>
/// 2. ...
/// ```
///
/// # How sections are recognised
///
/// Top-level sections start at `#` and `##` headings. A `##` section is the
/// introduction, glossary or requirements container when its title is one of
/// the known spellings (English, Chinese, Japanese, Spanish, Portuguese; see
/// the keyword tables below), compared case-insensitively after leading
/// symbols such as emoji; the first such section of each kind wins. Failing a
/// keyword, structure decides among sections whose title names no known
/// part: the first `##` section whose `###` headings all carry a number
/// (`### 要件1: …`, `### 1. …`) is the requirements container, and the first
/// `##` section made only of `- **Term**: definition` bullets is the
/// glossary. Any other section is kept verbatim in
/// [`RequirementsDoc::sections`], anchored to the latest known part (in
/// rendering order) that came before it, so rendering never moves a section
/// above a part it followed.
///
/// Inside the container every `###` heading starts a requirement. Its first
/// paragraph opening with a known bold label (`**User Story:**`,
/// `**Objective:**`, `**用户故事：**`, ...) before any `####` heading is the
/// user story; other content there is the requirement's `preface`. The first
/// `####` heading with a known acceptance-criteria spelling opens the
/// criteria: every numbered list up to the next `####` heading is read as
/// criteria (so are numbered lists before that heading, with a diagnostic).
/// Content between criteria (`##### Unit tests` sub-headings, prose between
/// numbered lists) is kept in place as [`Interlude`]s; content after the last
/// criterion and other `####` sections are the requirement's `notes`.
///
/// # Verbatim text
///
/// Text kiro keeps verbatim is cut at block boundaries and trimmed of blank
/// lines. Text rendered in a new place (after a list) starts at column 0: an
/// indented block loses its first line's indentation and indented code
/// becomes fenced code, since either would otherwise join the list. A code
/// fence or HTML block left open at the end of the file is closed.
///
/// # Criterion numbers
///
/// A criterion's id is `<requirement id>.<n>` where `n` is the number written
/// in front of it, not its position: authors and tasks refer to criteria by
/// the number they see, and a list that restarts or repeats a number (`8.`
/// twice) keeps both items, with equal ids that lint reports as duplicates.
/// A number that does not follow the previous one is a diagnostic. The
/// renderer writes the number back from the id (the position when the id has
/// no numeric last part).
///
/// # Verbatim spellings
///
/// Localised headings are kept in [`RequirementsDoc::headings`],
/// [`GlossaryEntry::separator`] (`：`), [`Requirement::heading_source`],
/// [`Requirement::criteria_heading`] and [`UserStory::label`], so a Kiro file
/// in Chinese renders byte for byte as it was. A heading spelling is also
/// kept when the renderer would otherwise drop the heading (an empty
/// glossary or criteria section). Editing a localised requirement's number
/// or title keeps the source's wording around the new values.
///
/// # Example
///
/// ```
/// use kiro_core::format::{parse_requirements, render_requirements};
///
/// let src = "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n\
///            **User Story:** As a user, I want to sign in, so that I see my data\n\n#### \
///            Acceptance Criteria\n\n1. THE Auth_Service SHALL create a session\n";
/// let parsed = parse_requirements(src);
/// let req = &parsed.value.requirements[0];
/// assert_eq!(req.title, "Login");
/// assert_eq!(req.user_story.as_ref().and_then(|s| s.role.as_deref()), Some("user"));
/// assert_eq!(req.criteria[0].id.as_str(), "1.1");
/// assert_eq!(render_requirements(&parsed.value), src);
/// ```
pub fn parse_requirements(src: &str) -> Parsed<RequirementsDoc> {
    let source = Source::new(src);
    let doc = Doc::new(&source);
    let mut sink = Sink::for_doc(&doc);
    let outline = doc.outline();
    let mut out = RequirementsDoc {
        // A blank file renders as an empty one, which has no line endings.
        style: TextStyle {
            crlf: doc.source.crlf && !doc.found.blocks.is_empty(),
        },
        ..RequirementsDoc::default()
    };
    out.title = doc.read_title(&outline, &mut sink);
    out.preamble = doc.raw(outline.preamble.clone());

    let roles = classify(&doc, &outline.sections);
    let has_container = roles
        .iter()
        .any(|r| matches!(r, Role::Requirements | Role::TopRequirement));
    let mut anchor = Anchor::Start;
    for (section, role) in outline.sections.iter().zip(roles) {
        match role {
            Role::Introduction => {
                out.introduction = Some(doc.raw(section.body.clone()));
                if section.title != DEFAULT_INTRODUCTION {
                    out.headings.introduction = Some(section.title.clone());
                }
                anchor = later(anchor, Anchor::Introduction);
            }
            Role::Glossary => {
                read_glossary(&doc, &mut sink, section, &mut out);
                anchor = later(anchor, Anchor::Glossary);
            }
            Role::Requirements => {
                read_container(&doc, &mut sink, section, &mut out);
                anchor = later(anchor, Anchor::Requirements);
            }
            Role::Group => {
                read_group(&doc, &mut sink, section, &mut out);
                anchor = later(anchor, Anchor::Requirements);
            }
            Role::TopRequirement => {
                out.requirement_level = Some(2);
                let index = out.requirements.len();
                let heading = section.body.start.saturating_sub(1);
                let r = read_requirement(&doc, &mut sink, heading, section.body.clone(), index, 2);
                out.requirements.push(r);
                anchor = later(anchor, Anchor::Requirements);
            }
            Role::Other => out.sections.push(PlacedSection {
                section: doc.section(section),
                after: anchor,
            }),
        }
    }
    if !has_container && !doc.found.blocks.is_empty() {
        sink.report(
            doc.position(0),
            "no requirements section",
            "`## Requirements` with `### Requirement <N>: <title>` headings",
        );
    }
    sink.finish(out)
}

/// Renders `requirements.md` in canonical form (see [`parse_requirements`]). CRLF
/// documents render with CRLF; an empty document renders as an empty file.
pub fn render_requirements(doc: &RequirementsDoc) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !doc.title.is_empty() {
        parts.push(atx(1, &doc.title));
    }
    push_text(&mut parts, &doc.preamble);
    push_sections(&mut parts, &doc.sections, Anchor::Start);
    if let Some(intro) = &doc.introduction {
        let heading = doc
            .headings
            .introduction
            .as_deref()
            .unwrap_or(DEFAULT_INTRODUCTION);
        parts.push(atx(2, heading));
        push_text(&mut parts, intro);
    }
    push_sections(&mut parts, &doc.sections, Anchor::Introduction);
    if !doc.glossary.is_empty() || !doc.glossary_notes.is_empty() || doc.headings.glossary.is_some()
    {
        let heading = doc.headings.glossary.as_deref().unwrap_or(DEFAULT_GLOSSARY);
        parts.push(atx(2, heading));
        let entries: Vec<String> = doc.glossary.iter().map(render_entry).collect();
        if !entries.is_empty() {
            parts.push(entries.join("\n"));
        }
        push_text(&mut parts, &doc.glossary_notes);
    }
    push_sections(&mut parts, &doc.sections, Anchor::Glossary);
    if !doc.requirements.is_empty()
        || !doc.requirements_preface.is_empty()
        || doc.headings.requirements.is_some()
        || !doc.groups.is_empty()
    {
        // `## Requirement 1` documents have no container heading.
        let container = doc.requirement_level.is_none_or(|l| l > 2)
            || doc.headings.requirements.is_some()
            || !doc.requirements_preface.is_empty();
        if container {
            let heading = doc
                .headings
                .requirements
                .as_deref()
                .unwrap_or(DEFAULT_REQUIREMENTS);
            parts.push(atx(2, heading));
        }
        push_text(&mut parts, &doc.requirements_preface);
        let level = usize::from(doc.requirement_level.unwrap_or(3));
        for (k, r) in doc.requirements.iter().enumerate() {
            for g in doc.groups.iter().filter(|g| g.before == k) {
                push_group(&mut parts, g);
            }
            parts.push(render_requirement(r, level));
        }
        // Groups past the last requirement (empty trailing groups).
        for g in doc
            .groups
            .iter()
            .filter(|g| g.before >= doc.requirements.len())
        {
            push_group(&mut parts, g);
        }
    }
    push_sections(&mut parts, &doc.sections, Anchor::Requirements);
    finish_document(parts, doc.style.crlf)
}

// ---------------------------------------------------------------------------
// Shared reading helpers (also used by `bugfix.rs`).
// ---------------------------------------------------------------------------

/// A source text and its top-level blocks.
pub(super) struct Doc<'a> {
    /// The normalised text.
    pub(super) source: &'a Source<'a>,
    /// Its top-level blocks and list items (heading texts borrow the text).
    pub(super) found: Blocks<'a>,
}

/// Where parsed elements are and what could not be read.
#[derive(Default)]
pub(super) struct Sink {
    source_map: SourceMap,
    diagnostics: Vec<FormatDiagnostic>,
}

impl Sink {
    /// A sink with room for the positions `doc` can record, so that the map
    /// is sized once: at most one per list item (criteria, glossary
    /// entries) or block (the title, requirement headings).
    pub(super) fn for_doc(doc: &Doc<'_>) -> Sink {
        Sink {
            source_map: SourceMap::with_capacity(doc.found.item_count() + doc.found.blocks.len()),
            diagnostics: Vec::new(),
        }
    }

    /// Records the position of an element.
    pub(super) fn locate(&mut self, locator: Locator, position: Position) {
        self.source_map.insert(locator, position);
    }

    /// Records a diagnostic.
    pub(super) fn report(&mut self, position: Position, message: &str, expected: &str) {
        self.diagnostics.push(FormatDiagnostic {
            position,
            message: message.to_owned(),
            expected: expected.to_owned(),
        });
    }

    /// Wraps a document with what was recorded while reading it.
    pub(super) fn finish<T>(self, value: T) -> Parsed<T> {
        Parsed {
            value,
            source_map: self.source_map,
            diagnostics: self.diagnostics,
        }
    }
}

/// A document split at its `#` and `##` headings.
pub(super) struct Outline {
    /// Block index of the `#` title, when the document starts with one.
    pub(super) title: Option<usize>,
    /// Blocks between the title and the first section.
    pub(super) preamble: Range<usize>,
    /// The sections, in order.
    pub(super) sections: Vec<OutlineSection>,
}

/// A section of an [`Outline`]: its heading and body blocks.
pub(super) struct OutlineSection {
    /// Heading level (1 or 2).
    pub(super) level: u8,
    /// Heading text as written.
    pub(super) title: String,
    /// Block indexes of the body.
    pub(super) body: Range<usize>,
}

impl<'a> Doc<'a> {
    /// Splits a normalised text into blocks. [`Source`] turns `\r\n` and
    /// lone `\r` (CommonMark line endings too) into `\n`, so the line-based
    /// helpers agree with pulldown-cmark.
    pub(super) fn new(source: &'a Source<'a>) -> Doc<'a> {
        let found = markdown::blocks(&source.text);
        Doc { source, found }
    }

    /// The normalised text.
    pub(super) fn text(&self) -> &'a str {
        &self.source.text
    }

    /// 1-based line and column of a byte offset.
    pub(super) fn position(&self, offset: usize) -> Position {
        let (line, column) = self.source.line_col(offset);
        Position { line, column }
    }

    /// The block at an index.
    pub(super) fn block(&self, index: usize) -> Option<&Block<'a>> {
        self.found.blocks.get(index)
    }

    /// The items of a list block.
    pub(super) fn items(&self, span: Span) -> &[Item] {
        self.found.items(span)
    }

    /// Splits the document at headings of level 1 and 2 (after the title).
    pub(super) fn outline(&self) -> Outline {
        let n = self.found.blocks.len();
        // An empty `#` line is not a title: the model could not tell it
        // from a missing one, so it is kept as a section.
        let title = match self.found.blocks.first() {
            Some(Block {
                kind: BlockKind::Heading { level: 1, text },
                ..
            }) if !text.is_empty() => Some(0),
            _ => None,
        };
        let start = if title.is_some() { 1 } else { 0 };
        let heads: Vec<usize> = (start..n)
            .filter(|&i| heading_level(self.found.blocks.get(i)).is_some_and(|l| l <= 2))
            .collect();
        let preamble = start..heads.first().copied().unwrap_or(n);
        let sections = heads
            .iter()
            .enumerate()
            .map(|(k, &h)| {
                let end = heads.get(k + 1).copied().unwrap_or(n);
                let (level, title) = match self.found.blocks.get(h).map(|b| &b.kind) {
                    Some(BlockKind::Heading { level, text }) => (*level, text.to_string()),
                    _ => (2, String::new()),
                };
                OutlineSection {
                    level,
                    title,
                    body: h + 1..end,
                }
            })
            .collect();
        Outline {
            title,
            preamble,
            sections,
        }
    }

    /// Reads the title and records its position (or reports its absence).
    pub(super) fn read_title(&self, outline: &Outline, sink: &mut Sink) -> String {
        match outline.title.and_then(|i| self.found.blocks.get(i)) {
            Some(Block {
                kind: BlockKind::Heading { text, .. },
                range,
            }) => {
                sink.locate(Locator::Title, self.position(range.start));
                text.to_string()
            }
            _ => {
                if let Some(first) = self.found.blocks.first() {
                    sink.report(
                        self.position(first.range.start),
                        "document has no `#` title",
                        "`# <title>` on the first line",
                    );
                }
                String::new()
            }
        }
    }

    /// The source of a block range, verbatim from the start of its first
    /// line, without surrounding blank lines.
    pub(super) fn raw(&self, blocks: Range<usize>) -> String {
        let (Some(first), Some(last)) = (
            self.found.blocks.get(blocks.start),
            blocks
                .end
                .checked_sub(1)
                .filter(|&l| l >= blocks.start)
                .and_then(|l| self.found.blocks.get(l)),
        ) else {
            return String::new();
        };
        let start = line_start(self.text(), first.range.start);
        let text = self.text().get(start..last.range.end).unwrap_or("");
        seal(markdown::trim_blank_lines(text).to_owned())
    }

    /// The source of a byte range, empty when it is not on char boundaries.
    pub(super) fn slice(&self, range: Range<usize>) -> &str {
        self.source.slice(range)
    }

    /// An unrecognised section, kept verbatim.
    pub(super) fn section(&self, s: &OutlineSection) -> Section {
        Section {
            title: s.title.clone(),
            level: s.level,
            body: self.raw(s.body.clone()),
        }
    }

    /// Offset of a list item's marker (its range may start with indentation).
    pub(super) fn item_start(&self, item: &Item) -> usize {
        let rest = self.slice(item.range.clone());
        item.range.start + (rest.len() - rest.trim_start_matches([' ', '\t']).len())
    }

    /// Text of a list item after its marker, with continuation lines
    /// dedented to the item's content column and blank lines trimmed.
    pub(super) fn item_text(&self, item: &Item) -> String {
        let body = if item.content_start < item.range.end {
            self.slice(item.content_start..item.range.end)
        } else {
            ""
        };
        // Most items are one line: with no line to dedent, trimming the
        // line is the whole work, without the dedented copy.
        if memchr::memchr(b'\n', body.as_bytes()).is_none() {
            return markdown::trim_fast(body).to_owned();
        }
        let dedented = markdown::dedent_rest(body, item.content_indent);
        markdown::trim_blank_lines(&dedented)
            .trim_start()
            .to_owned()
    }
}

/// Source a list block covers after its last item. pulldown-cmark extends a
/// list over a link reference definition that follows it; that text belongs
/// to no item and would otherwise be lost.
pub(super) fn list_tail(doc: &Doc, block: &Block, items: &[Item]) -> Option<Range<usize>> {
    let end = items.last().map_or(block.range.start, |i| i.range.end);
    let tail = doc.slice(end..block.range.end);
    let lead = tail.len() - tail.trim_start().len();
    (!tail.trim().is_empty()).then(|| end + lead..block.range.end)
}

/// Collects markdown that the parser keeps verbatim ("notes") in runs of
/// adjacent source: a recognised element between two pieces ends a run.
#[derive(Default)]
pub(super) struct Notes {
    runs: Vec<Range<usize>>,
    open: bool,
}

impl Notes {
    /// Adds a byte range that follows the previous one with nothing
    /// recognised in between.
    pub(super) fn add(&mut self, range: Range<usize>) {
        match self.runs.last_mut() {
            Some(last) if self.open => last.end = range.end.max(last.end),
            _ => {
                self.runs.push(range);
                self.open = true;
            }
        }
    }

    /// Ends the current run (a recognised element was read).
    pub(super) fn split(&mut self) {
        self.open = false;
    }

    /// Adds the runs of `other`, which follow this one's in the source.
    pub(super) fn append(&mut self, other: Notes) {
        self.runs.extend(other.runs);
        self.open = other.open;
    }

    /// The runs, each verbatim (dedented to its first line), joined by
    /// blank lines.
    pub(super) fn finish(self, text: &str) -> String {
        let pieces: Vec<String> = self
            .runs
            .into_iter()
            .map(|r| seal(verbatim_run(text, r)))
            .filter(|s| !s.is_empty())
            .collect();
        pieces.join("\n\n")
    }
}

/// A run of source from the start of its first line, each top-level block
/// starting at column 0: the run is rendered at a new place, after a list,
/// where leading spaces could attach it to the list's last item. Only what
/// cannot change the block structure is moved (see [`to_column_zero`]).
fn verbatim_run(text: &str, range: Range<usize>) -> String {
    let start = line_start(text, range.start);
    let run = markdown::trim_blank_lines(text.get(start..range.end).unwrap_or("")).to_owned();
    blocks_to_column_zero(run)
}

/// Moves every top-level block of `run` to column 0 without changing the
/// block structure (see [`to_column_zero`]), for verbatim text rendered at a
/// new place where leading spaces could attach it to a list item before it.
pub(super) fn blocks_to_column_zero(mut run: String) -> String {
    // Each pass only removes leading spaces (or turns indented code into
    // fenced code), so a few passes reach a text that no longer changes,
    // which is what reading the rendered run back will find.
    for _ in 0..4 {
        let next = shift_blocks(&run);
        if next == run {
            break;
        }
        run = next;
    }
    run
}

fn shift_blocks(run: &str) -> String {
    let found = markdown::blocks(run);
    let indented = |b: &Block| {
        let line = run.get(line_start(run, b.range.start)..).unwrap_or("");
        indent_width(line) > 0
    };
    if !found.blocks.iter().any(indented) {
        return run.to_owned();
    }
    let mut out = String::with_capacity(run.len() + 16);
    let mut pos = 0;
    for b in &found.blocks {
        let begin = line_start(run, b.range.start).max(pos);
        let end = b.range.end.max(begin);
        out.push_str(run.get(pos..begin).unwrap_or(""));
        out.push_str(&to_column_zero(run, &found, b, begin..end));
        pos = end;
    }
    out.push_str(run.get(pos..).unwrap_or(""));
    markdown::trim_blank_lines(&out).to_owned()
}

/// A top-level block moved to column 0. Block starts are recognised at any
/// indentation up to three spaces and paragraph continuation lines at any
/// indentation, so removing the first line's indentation keeps the block
/// as it was. A list item also moves the lines that belong to it by
/// indentation, to keep their place relative to its marker; indented code
/// becomes fenced code.
fn to_column_zero(run: &str, found: &Blocks, block: &Block, range: Range<usize>) -> String {
    let text = run.get(range.clone()).unwrap_or("");
    match &block.kind {
        BlockKind::List(span) => {
            let mut out = String::with_capacity(text.len());
            let mut pos = range.start;
            for item in found.items(*span) {
                let begin = line_start(run, item.range.start).max(pos);
                let end = item.range.end.max(begin);
                out.push_str(run.get(pos..begin).unwrap_or(""));
                let item_text = run.get(begin..end).unwrap_or("");
                out.push_str(&shift_item(item_text, item.content_indent));
                pos = end;
            }
            out.push_str(&strip_first_line(
                run.get(pos..range.end.max(pos)).unwrap_or(""),
            ));
            out
        }
        _ if indent_width(text) >= 4 => {
            let body: Vec<&str> = text.split('\n').map(strip_code_indent).collect();
            let body = body.join("\n");
            let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            format!("{fence}\n{body}\n{fence}")
        }
        _ => strip_first_line(text),
    }
}

/// Removes the leading spaces of the first non-blank line.
fn strip_first_line(text: &str) -> String {
    let blank = text.len() - text.trim_start_matches(['\n', ' ']).len();
    let begin = text
        .get(..blank)
        .map_or(0, |b| b.rfind('\n').map_or(0, |i| i + 1));
    let (head, rest) = (
        text.get(..begin).unwrap_or(""),
        text.get(begin..).unwrap_or(""),
    );
    format!("{head}{}", rest.trim_start_matches(' '))
}

/// A list item moved left by its marker's indentation. Lines indented as
/// its content move with it. The other lines are lazy paragraph
/// continuations, whose indentation only matters for what they could start:
/// one indented up to three spaces starts the same blocks at column 0 (and
/// did not start one, being lazy), one indented four or more starts none and
/// keeps four spaces beyond the new content column so it still starts none.
fn shift_item(text: &str, content_indent: usize) -> String {
    let spaces = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let n = spaces(text);
    if n == 0 {
        return text.to_owned();
    }
    let new_indent = content_indent.saturating_sub(n);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let s = spaces(line);
        let rest = line.get(s..).unwrap_or(line);
        if i == 0 || s >= content_indent {
            out.push_str(line.get(n.min(s)..).unwrap_or(line));
        } else if rest.is_empty() || s <= 3 {
            out.push_str(rest);
        } else {
            out.push_str(&" ".repeat(new_indent + 4));
            out.push_str(rest);
        }
    }
    out
}

/// `true` when `src` (a top-level block from the start of its line) is a
/// paragraph, not indented code, a table or HTML that starts alike.
pub(super) fn is_paragraph(src: &str) -> bool {
    matches!(
        Parser::new_ext(src, Options::ENABLE_TABLES).next(),
        Some(Event::Start(Tag::Paragraph))
    )
}

/// [`is_paragraph`] for a block that reads as a user story (it starts with
/// `**` once leading spaces are skipped). On one line starting at column 0
/// such a block is a paragraph: it cannot be indented code, HTML, or a
/// table (which needs a delimiter row); the full check runs otherwise.
fn story_is_paragraph(src: &str) -> bool {
    (src.starts_with("**") && !src.contains('\n')) || is_paragraph(src)
}

/// Width of a line's leading whitespace, a tab reaching the next multiple of 4.
fn indent_width(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

/// A line of indented code without its four columns of indentation.
fn strip_code_indent(line: &str) -> &str {
    let mut width = 0;
    for (i, c) in line.char_indices() {
        if width >= 4 {
            return line.get(i..).unwrap_or("");
        }
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => return line.get(i..).unwrap_or(""),
        }
    }
    ""
}

/// The heading level of a block, if it is a heading.
pub(super) fn heading_level(block: Option<&Block>) -> Option<u8> {
    match block.map(|b| &b.kind) {
        Some(BlockKind::Heading { level, .. }) => Some(*level),
        _ => None,
    }
}

/// `true` when a heading title is one of the (lower-case) spellings in
/// `table`, ignoring case (see [`lexicon::names`]).
pub(super) fn is_one_of(title: &str, table: &[&str]) -> bool {
    lexicon::names(title, table)
}

/// `true` when the lower-cased `text` is one of `table`.
fn matches_lowercase(text: &str, table: &[&str]) -> bool {
    lexicon::is_lowercase_entry(text, table)
}

/// `true` for a list whose items are numbered (`1.` or `1)`).
pub(super) fn is_ordered(items: &[Item]) -> bool {
    items
        .first()
        .is_some_and(|i| i.marker.as_str().starts_with(|c: char| c.is_ascii_digit()))
}

/// The number of an ordered list item's marker.
pub(super) fn marker_number(item: &Item) -> Option<&str> {
    let marker = item.marker.as_str();
    let digits = marker.len()
        - marker
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    marker.get(..digits).filter(|d| !d.is_empty())
}

/// `true` for a thematic break line (`---`, `***`, `___`).
pub(super) fn is_thematic_break(s: &str) -> bool {
    let t = s.trim();
    let Some(c) = t.chars().next() else {
        return false;
    };
    matches!(c, '-' | '*' | '_')
        && t.chars().all(|x| x == c || x == ' ' || x == '\t')
        && t.chars().filter(|&x| x == c).count() >= 3
}

/// The later of two anchors in rendering order. An unknown section is
/// anchored to the latest known part (in rendering order) seen before it,
/// so that rendering, which puts known parts in canonical order, never moves
/// a section before a known part it followed; this keeps the choice of
/// "first section with this title" stable across round trips.
pub(super) fn later(a: Anchor, b: Anchor) -> Anchor {
    let rank = |x: Anchor| match x {
        Anchor::Start => 0,
        Anchor::Introduction => 1,
        Anchor::Glossary => 2,
        Anchor::Requirements => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Adds `text` as a part unless it is empty.
pub(super) fn push_text(parts: &mut Vec<String>, text: &str) {
    let t = markdown::trim_blank_lines(text);
    if !t.is_empty() {
        parts.push(t.to_owned());
    }
}

/// Adds the sections placed after `anchor`.
pub(super) fn push_sections(parts: &mut Vec<String>, sections: &[PlacedSection], anchor: Anchor) {
    for s in sections.iter().filter(|s| s.after == anchor) {
        parts.push(render_section(&s.section));
    }
}

/// An ATX heading line. Text ending in a `#` run after a space (or made of
/// `#` only) gets a closing `#`, since a reader drops a trailing `#` run as
/// the optional closing sequence.
pub(super) fn atx(level: usize, text: &str) -> String {
    let hashes = "#".repeat(level.clamp(1, 6));
    if text.is_empty() {
        return hashes;
    }
    let stripped = text.trim_end_matches('#');
    if stripped.len() != text.len() && (stripped.is_empty() || stripped.ends_with([' ', '\t'])) {
        format!("{hashes} {text} #")
    } else {
        format!("{hashes} {text}")
    }
}

/// The text of an ATX heading line, without the closing sequence.
fn atx_text(line: &str) -> &str {
    let t = line.trim_start_matches('#').trim();
    let stripped = t.trim_end_matches('#');
    if stripped.len() != t.len() && (stripped.is_empty() || stripped.ends_with([' ', '\t'])) {
        stripped.trim_end()
    } else {
        t
    }
}

/// Closes a code fence or HTML block left open at the end of a verbatim
/// chunk. Such a block ran to the end of the source; rendered in a new
/// place it would swallow what follows, so it gets its closing line.
pub(super) fn seal(chunk: String) -> String {
    if chunk.is_empty() || !(chunk.contains("```") || chunk.contains("~~~") || chunk.contains('<'))
    {
        return chunk;
    }
    const PROBE: &str = "kiro-seal-probe";
    let probe = format!("{chunk}\n\n# {PROBE}\n");
    let found = markdown::blocks(&probe);
    let Some(last) = found.blocks.last() else {
        return chunk;
    };
    if matches!(&last.kind, BlockKind::Heading { level: 1, text } if text == PROBE) {
        return chunk;
    }
    let opening = probe
        .get(last.range.start..)
        .and_then(|s| s.lines().next())
        .unwrap_or("")
        .trim_start();
    let lower = opening.to_ascii_lowercase();
    let fence: String = opening
        .chars()
        .take_while(|c| *c == '`' || *c == '~')
        .collect();
    let closer = if fence.len() >= 3 {
        let c = fence.chars().next().unwrap_or('`');
        c.to_string()
            .repeat(fence.chars().take_while(|x| *x == c).count())
    } else if lower.starts_with("<!--") {
        "-->".to_owned()
    } else if lower.starts_with("<?") {
        "?>".to_owned()
    } else if lower.starts_with("<![cdata[") {
        "]]>".to_owned()
    } else if lower.starts_with("<!") {
        ">".to_owned()
    } else if let Some(tag) = ["script", "pre", "style", "textarea"]
        .iter()
        .find(|t| lower.starts_with(&format!("<{t}")))
    {
        format!("</{tag}>")
    } else {
        return chunk;
    };
    format!("{chunk}\n{closer}")
}

/// A verbatim section: its heading and body.
pub(super) fn render_section(s: &Section) -> String {
    let heading = atx(usize::from(s.level), &s.title);
    let body = markdown::trim_blank_lines(&s.body);
    if body.is_empty() {
        heading
    } else {
        format!("{heading}\n\n{body}")
    }
}

/// Joins the parts of a document with blank lines and applies its line
/// endings; a document with no parts is an empty file.
pub(super) fn finish_document(parts: Vec<String>, crlf: bool) -> String {
    let out = parts.join("\n\n");
    if out.trim().is_empty() {
        return String::new();
    }
    markdown::finish(out, crlf)
}

// ---------------------------------------------------------------------------
// Requirements-specific reading.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Introduction,
    Glossary,
    Requirements,
    /// A further `##` section that continues the requirements.
    Group,
    /// A `## Requirement 1` section in a document without a requirements
    /// container: the requirement itself.
    TopRequirement,
    Other,
}

/// Decides which top-level section is the introduction, the glossary and
/// the requirements container: keywords first, then structure.
fn classify(doc: &Doc, sections: &[OutlineSection]) -> Vec<Role> {
    let mut roles = vec![Role::Other; sections.len()];
    let (mut intro, mut glossary, mut container) = (false, false, false);
    for (s, role) in sections.iter().zip(roles.iter_mut()) {
        if s.level != 2 {
            continue;
        }
        if !intro && is_one_of(&s.title, INTRODUCTION) {
            *role = Role::Introduction;
            intro = true;
        } else if !glossary && is_one_of(&s.title, GLOSSARY) {
            *role = Role::Glossary;
            glossary = true;
        } else if !container && is_one_of(&s.title, REQUIREMENTS) {
            *role = Role::Requirements;
            container = true;
        }
    }
    if !container {
        if let Some((_, role)) = sections
            .iter()
            .zip(roles.iter_mut())
            .find(|(s, role)| **role == Role::Other && unnamed(s) && looks_like_container(doc, s))
        {
            *role = Role::Requirements;
        }
    }
    if !glossary {
        if let Some((_, role)) = sections
            .iter()
            .zip(roles.iter_mut())
            .find(|(s, role)| **role == Role::Other && unnamed(s) && looks_like_glossary(doc, s))
        {
            *role = Role::Glossary;
        }
    }
    mark_groups(doc, sections, &mut roles);
    if !roles.contains(&Role::Requirements) {
        for (s, role) in sections.iter().zip(roles.iter_mut()) {
            if *role == Role::Other && is_top_requirement(doc, s) {
                *role = Role::TopRequirement;
            }
        }
    }
    roles
}

/// A `##` section that is a requirement itself (`## Requirement 1: …`, in
/// a document with no requirements container): its title carries a
/// requirement number, and its body has a user story or a `###`
/// sub-heading with a numbered list under it, so a numbered chapter
/// (`## 1. Overview`) is not taken for one.
fn is_top_requirement(doc: &Doc, s: &OutlineSection) -> bool {
    if s.level != 2 || parse_requirement_heading(&s.title).is_none() {
        return false;
    }
    let story = s.body.clone().any(|i| {
        doc.block(i).is_some_and(|b| {
            matches!(b.kind, BlockKind::Other)
                && parse_story(doc.slice(line_start(doc.text(), b.range.start)..b.range.end))
                    .is_some()
        })
    });
    story
        || criteria_heading(doc, s.body.clone(), 3).is_some_and(|h| {
            // A named heading without a list does not count.
            s.body.clone().skip_while(|&i| i <= h).any(|i| {
                matches!(doc.block(i).map(|b| &b.kind), Some(BlockKind::List(span)) if is_ordered(doc.items(*span)))
            })
        })
}

/// A `##` section whose title names no known part. Only such sections are
/// recognised by structure: a second `## Requirements` is never read as a
/// glossary, which would make the choice flip once rendering moves it.
fn unnamed(s: &OutlineSection) -> bool {
    s.level == 2
        && !is_one_of(&s.title, INTRODUCTION)
        && !is_one_of(&s.title, GLOSSARY)
        && !is_one_of(&s.title, REQUIREMENTS)
}

/// Marks the `##` sections after the requirements container that continue
/// it. A section continues the requirements when its `###` headings all
/// carry requirement numbers (`### 要件11`, `### Requirement 16A: …`) that
/// no requirement before it used: large specs group requirements under
/// several `##` headings (functional, UI, non-functional) and number them
/// on. A section whose numbers restart (`### 1. …` again) is another list,
/// kept verbatim. A `##` section without `###` headings between two groups
/// is a group too (with no requirements), so it keeps its place.
fn mark_groups(doc: &Doc, sections: &[OutlineSection], roles: &mut [Role]) {
    let Some(first) = roles.iter().position(|r| *r == Role::Requirements) else {
        return;
    };
    // Most documents end with the requirements: nothing to read again.
    let candidate = |k: usize| {
        roles.get(k) == Some(&Role::Other) && sections.get(k).is_some_and(|s| s.level == 2)
    };
    if !(first + 1..sections.len()).any(candidate) {
        return;
    }
    // Ids and labels borrow the headings; a set keeps the freshness check
    // linear in the number of requirements.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut labels: Vec<&str> = Vec::new();
    let Some(container) = sections.get(first) else {
        return;
    };
    let mut ids: Vec<&str> = Vec::new();
    requirement_ids(doc, container, &mut ids, &mut labels);
    seen.extend(ids.drain(..));
    let mut pending: Vec<usize> = Vec::new();
    for k in first + 1..sections.len() {
        let (Some(s), Some(Role::Other)) = (sections.get(k), roles.get(k).copied()) else {
            pending.clear();
            continue;
        };
        if s.level != 2 {
            pending.clear();
            continue;
        }
        let mut own_labels = Vec::new();
        ids.clear();
        let numbered = requirement_ids(doc, s, &mut ids, &mut own_labels);
        // The headings are written like the container's (`Requirement N`,
        // `要件N`): a `### Phase 5` roadmap is not a requirements group.
        let same_shape = labels.is_empty()
            || own_labels
                .iter()
                .all(|l| labels.iter().any(|k| same_label(k, l)));
        let mut own: HashSet<&str> = HashSet::with_capacity(ids.len());
        let fresh = numbered
            && same_shape
            && !ids.is_empty()
            && ids.iter().all(|id| !seen.contains(id) && own.insert(id));
        if fresh {
            for p in pending.drain(..).chain(std::iter::once(k)) {
                if let Some(role) = roles.get_mut(p) {
                    *role = Role::Group;
                }
            }
            seen.extend(ids.drain(..));
        } else if numbered && ids.is_empty() {
            // No `###` heading: a group only if a group follows.
            pending.push(k);
        } else {
            pending.clear();
        }
    }
}

/// Appends the requirement ids of a section's `###` headings to `out` and
/// their distinct labels (trimmed) to `labels`; `false` when one of them
/// carries no requirement number.
fn requirement_ids<'d>(
    doc: &'d Doc,
    s: &OutlineSection,
    out: &mut Vec<&'d str>,
    labels: &mut Vec<&'d str>,
) -> bool {
    for i in s.body.clone() {
        if let Some(BlockKind::Heading { level: 3, text }) = doc.block(i).map(|b| &b.kind) {
            match parse_requirement_heading(text) {
                Some(h) => {
                    out.push(h.id);
                    let label = h.label.trim();
                    if !labels.iter().any(|l| same_label(l, label)) {
                        labels.push(label);
                    }
                }
                None => return false,
            }
        }
    }
    true
}

/// Two requirement labels spelled alike, ignoring case.
fn same_label(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (!a.is_ascii() && a.to_lowercase() == b.to_lowercase())
}

/// A section whose `###` headings all carry a requirement number.
fn looks_like_container(doc: &Doc, s: &OutlineSection) -> bool {
    let (mut ids, mut labels) = (Vec::new(), Vec::new());
    requirement_ids(doc, s, &mut ids, &mut labels) && !ids.is_empty()
}

/// A section made only of `- **Term**: definition` bullet lists (and
/// thematic breaks).
fn looks_like_glossary(doc: &Doc, s: &OutlineSection) -> bool {
    let mut any = false;
    for i in s.body.clone() {
        let Some(b) = doc.block(i) else {
            return false;
        };
        match &b.kind {
            BlockKind::List(span) if !is_ordered(doc.items(*span)) => {
                let items = doc.items(*span);
                let entries = items
                    .iter()
                    .all(|it| parse_entry(&doc.item_text(it)).is_some());
                if !entries || list_tail(doc, b, items).is_some() {
                    return false;
                }
                any = true;
            }
            BlockKind::Other if is_thematic_break(doc.slice(b.range.clone())) => {}
            _ => return false,
        }
    }
    any
}

fn read_glossary(doc: &Doc, sink: &mut Sink, s: &OutlineSection, out: &mut RequirementsDoc) {
    let mut notes = Notes::default();
    for i in s.body.clone() {
        let Some(b) = doc.block(i) else { continue };
        match &b.kind {
            BlockKind::List(span) if !is_ordered(doc.items(*span)) => {
                let items = doc.items(*span);
                for item in items {
                    match parse_entry(&doc.item_text(item)) {
                        Some(entry) => {
                            notes.split();
                            sink.locate(
                                Locator::GlossaryEntry {
                                    index: out.glossary.len(),
                                },
                                doc.position(doc.item_start(item)),
                            );
                            out.glossary.push(GlossaryEntry {
                                separator: (entry.separator != DEFAULT_GLOSSARY_SEPARATOR)
                                    .then_some(entry.separator),
                                term: entry.term,
                                definition: entry.definition,
                            });
                        }
                        None => {
                            sink.report(
                                doc.position(doc.item_start(item)),
                                "glossary item is not a term entry",
                                "`- **Term**: definition`",
                            );
                            notes.add(item.range.clone());
                        }
                    }
                }
                if let Some(tail) = list_tail(doc, b, items) {
                    notes.add(tail);
                }
            }
            _ => notes.add(b.range.clone()),
        }
    }
    out.glossary_notes = notes.finish(doc.text());
    if s.title != DEFAULT_GLOSSARY || (out.glossary.is_empty() && out.glossary_notes.is_empty()) {
        out.headings.glossary = Some(s.title.clone());
    }
}

/// A glossary entry read from a list item.
struct Entry {
    term: String,
    separator: String,
    definition: String,
}

/// Reads `**Term**: definition` (also `**Term**：definition` and
/// `**Term:** definition`), when the entry renders back as itself with any
/// of the separators a document may use.
fn parse_entry(content: &str) -> Option<Entry> {
    let e = parse_entry_markup(content)?;
    let reads_back = |sep: &str| {
        parse_entry_markup(&entry_markup(&e.term, sep, &e.definition))
            .is_some_and(|x| x.term == e.term && x.definition == e.definition)
    };
    (reads_back(&e.separator) && reads_back(DEFAULT_GLOSSARY_SEPARATOR) && reads_back("："))
        .then_some(e)
}

fn parse_entry_markup(content: &str) -> Option<Entry> {
    let rest = content.strip_prefix("**")?;
    let close = rest.find("**")?;
    let inner = rest.get(..close)?;
    let after = rest.get(close + 2..)?;
    let (term, separator, definition) = if let Some(t) = inner.strip_suffix([':', '：']) {
        // `**Term:** definition`: the colon sits inside the emphasis; the
        // canonical form moves it out.
        if !(after.is_empty() || after.starts_with([' ', '\n', '\t'])) {
            return None;
        }
        (t, DEFAULT_GLOSSARY_SEPARATOR.to_owned(), after)
    } else {
        let colon = after.chars().next().filter(|c| *c == ':' || *c == '：')?;
        let after_colon = after.get(colon.len_utf8()..)?;
        // A definition on the next line reads as one after a space.
        let spaces = after_colon.len() - after_colon.trim_start().len();
        let separator = format!("{colon}{}", " ".repeat(spaces.min(1)));
        (inner, separator, after_colon)
    };
    // `** Term **` is not strong emphasis in markdown, and trimming it would
    // change the text: such an item is not an entry.
    if term.is_empty() || term.trim() != term || term.contains('\n') {
        return None;
    }
    let definition = markdown::trim_blank_lines(definition)
        .trim_start()
        .to_owned();
    // Without a definition only the colon shows, so `:` and `: ` are one
    // spelling (the default).
    let separator = match separator.trim_end() {
        ":" if definition.is_empty() => DEFAULT_GLOSSARY_SEPARATOR.to_owned(),
        colon if definition.is_empty() => colon.to_owned(),
        _ => separator,
    };
    Some(Entry {
        term: term.to_owned(),
        separator,
        definition,
    })
}

fn entry_markup(term: &str, separator: &str, definition: &str) -> String {
    if definition.is_empty() {
        format!("**{term}**{}", separator.trim_end())
    } else {
        format!("**{term}**{separator}{definition}")
    }
}

fn render_entry(e: &GlossaryEntry) -> String {
    let separator = e.separator.as_deref().unwrap_or(DEFAULT_GLOSSARY_SEPARATOR);
    let markup = entry_markup(&e.term, separator, &e.definition);
    format!("- {}", markdown::indent_rest(&markup, 2))
}

fn read_container(doc: &Doc, sink: &mut Sink, s: &OutlineSection, out: &mut RequirementsDoc) {
    out.requirements_preface = read_requirements(doc, sink, s.body.clone(), out);
    if s.title != DEFAULT_REQUIREMENTS
        || (out.requirements.is_empty() && out.requirements_preface.is_empty())
    {
        out.headings.requirements = Some(s.title.clone());
    }
}

/// Reads a `##` section that continues the requirements (see [`mark_groups`]).
fn read_group(doc: &Doc, sink: &mut Sink, s: &OutlineSection, out: &mut RequirementsDoc) {
    let at = out.groups.len();
    out.groups.push(RequirementGroup {
        before: out.requirements.len(),
        title: s.title.clone(),
        preface: String::new(),
    });
    let preface = read_requirements(doc, sink, s.body.clone(), out);
    if let Some(g) = out.groups.get_mut(at) {
        g.preface = preface;
    }
}

/// Reads every `###` requirement of a section body into `out` and returns
/// the markdown before the first one.
fn read_requirements(
    doc: &Doc,
    sink: &mut Sink,
    body: Range<usize>,
    out: &mut RequirementsDoc,
) -> String {
    let heads: Vec<usize> = body
        .clone()
        .filter(|&i| heading_level(doc.block(i)) == Some(3))
        .collect();
    out.requirements.reserve(heads.len());
    let first = heads.first().copied().unwrap_or(body.end);
    let preface = doc.raw(body.start..first);
    for (k, &h) in heads.iter().enumerate() {
        let end = heads.get(k + 1).copied().unwrap_or(body.end);
        let index = out.requirements.len();
        let requirement = read_requirement(doc, sink, h, h + 1..end, index, 3);
        out.requirements.push(requirement);
    }
    preface
}

/// A group's heading and preface.
fn push_group(parts: &mut Vec<String>, g: &RequirementGroup) {
    parts.push(atx(2, &g.title));
    push_text(parts, &g.preface);
}

/// The parts of a requirement heading: `<label><id><separator><title>`.
#[derive(Debug, PartialEq)]
struct HeadingParts<'a> {
    label: &'a str,
    id: &'a str,
    separator: &'a str,
    title: &'a str,
}

/// Reads `Requirement 1: Title`, `需求 1：Title`, `要件1: Title`,
/// `Requisito 2`, `1. Title`. `None` when the heading carries no number.
fn parse_requirement_heading(text: &str) -> Option<HeadingParts<'_>> {
    let text = text.trim();
    let digit = text.find(|c: char| c.is_ascii_digit())?;
    let label = text.get(..digit)?;
    let after_label = text.get(digit..)?;
    // The id: digits, optionally `.digits` repeated (`2.1`).
    let mut end = 0;
    let bytes = after_label.as_bytes();
    while end < bytes.len() {
        match bytes.get(end) {
            Some(b'0'..=b'9') => end += 1,
            Some(b'.') if bytes.get(end + 1).is_some_and(u8::is_ascii_digit) && end > 0 => end += 1,
            _ => break,
        }
    }
    // One ASCII letter may follow the number (`16A`, `27B`: a requirement
    // inserted later) when punctuation or the end of the heading follows
    // it, so `3D Graphics` stays a title.
    let lettered = bytes.get(end).is_some_and(u8::is_ascii_alphabetic) && end > 0 && {
        let after = after_label.get(end + 1..).unwrap_or("");
        let after = after.trim_start();
        after.is_empty() || after.starts_with([':', '：', '.', '-', '–', '—', ')', '、'])
    };
    if lettered {
        end += 1;
    }
    let id = after_label.get(..end)?;
    let rest = after_label.get(end..)?;
    // The separator: optional spaces, at most one punctuation mark, spaces.
    let lead = rest.len() - rest.trim_start().len();
    let after_lead = rest.get(lead..)?;
    let punct = after_lead
        .chars()
        .next()
        .filter(|c| matches!(c, ':' | '：' | '.' | '-' | '–' | '—' | ')' | '、'))
        .map_or(0, char::len_utf8);
    let after_punct = after_lead.get(punct..)?;
    let trail = after_punct.len() - after_punct.trim_start().len();
    let sep_len = lead + punct + trail;
    let separator = rest.get(..sep_len)?;
    let title = rest.get(sep_len..)?.trim();
    if !title.is_empty() && separator.is_empty() {
        // `v2x`: the number is glued to the following word.
        return None;
    }
    if !label_ok(label, punct > 0 || title.is_empty()) {
        return None;
    }
    Some(HeadingParts {
        label,
        id,
        separator,
        title,
    })
}

/// Whether the text before a number may label a requirement: nothing (then
/// the number must be followed by punctuation or end the heading, as in
/// `1. Title`), a known label (`要件1`), or words ending in a space
/// (`Requirement 1`) or a CJK character (`故事1`).
fn label_ok(label: &str, punctuated: bool) -> bool {
    if label.is_empty() {
        return punctuated;
    }
    if label
        .chars()
        .any(|c| !(c.is_alphabetic() || c == ' ' || c == '-' || c == '.' || c == '_'))
    {
        return false;
    }
    if matches_lowercase(label.trim(), REQUIREMENT_LABELS) {
        return true;
    }
    label.ends_with(' ') || label.chars().last().is_some_and(|c| !c.is_ascii())
}

fn canonical_heading(id: &str, title: &str, level: usize) -> String {
    match (id.is_empty(), title.is_empty()) {
        (true, _) => atx(level, title),
        (false, true) => atx(level, &format!("Requirement {id}")),
        (false, false) => atx(level, &format!("Requirement {id}: {title}")),
    }
}

/// `true` when `atx(3, text) == canonical_heading(id, title)`, checked
/// without building either line (once per requirement). [`atx`] is
/// injective for a fixed level, so comparing the heading texts suffices.
fn is_canonical_heading_text(text: &str, id: &str, title: &str) -> bool {
    if id.is_empty() {
        return text == title;
    }
    is_numbered_title(text, "Requirement ", id, title)
}

/// `true` when `text` is exactly `<label><id>` or `<label><id>: <title>`
/// (the latter when `title` is not empty): canonical headings of
/// requirements and properties, compared without building them.
pub(super) fn is_numbered_title(text: &str, label: &str, id: &str, title: &str) -> bool {
    let Some(rest) = text.strip_prefix(label).and_then(|r| r.strip_prefix(id)) else {
        return false;
    };
    if title.is_empty() {
        rest.is_empty()
    } else {
        rest.strip_prefix(": ") == Some(title)
    }
}

fn render_requirement_heading(r: &Requirement, level: usize) -> String {
    let canonical = canonical_heading(r.id.as_str(), &r.title, level);
    let Some(source) = &r.heading_source else {
        return canonical;
    };
    let text = atx_text(source);
    match parse_requirement_heading(text) {
        Some(h) if h.id == r.id.as_str() && h.title == r.title => source.clone(),
        // An edited requirement keeps the source's wording around its new
        // number and title.
        Some(h) if !r.id.as_str().is_empty() => {
            if r.title.is_empty() {
                atx(level, &format!("{}{}", h.label, r.id))
            } else {
                let sep = if h.separator.trim().is_empty() {
                    ": "
                } else {
                    h.separator
                };
                atx(level, &format!("{}{}{}{}", h.label, r.id, sep, r.title))
            }
        }
        None if r.id.as_str().is_empty() && text == r.title => source.clone(),
        _ => canonical,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Before any `####` heading: story and notes.
    Pre,
    /// Inside a `####` section that comes before the criteria heading:
    /// kept in the preface, so it stays above the criteria.
    PreSection,
    /// Inside the acceptance criteria section.
    Criteria,
    /// Inside another `####` section.
    Other,
}

fn read_requirement(
    doc: &Doc,
    sink: &mut Sink,
    heading: usize,
    body: Range<usize>,
    index: usize,
    level: u8,
) -> Requirement {
    // The level of the requirement's sub-headings (`####` under `###`).
    let sub = level + 1;
    let (text, start) = match doc.block(heading) {
        Some(Block {
            kind: BlockKind::Heading { text, .. },
            range,
        }) => (&**text, range.start),
        _ => ("", 0),
    };
    sink.locate(Locator::Requirement { index }, doc.position(start));
    let mut r = Requirement::default();
    match parse_requirement_heading(text) {
        Some(h) => {
            r.id = RequirementId::new(h.id);
            r.title = h.title.to_owned();
        }
        None => {
            sink.report(
                doc.position(start),
                "requirement heading has no number",
                "`### Requirement <N>: <title>`",
            );
            r.title = text.trim().to_owned();
        }
    }
    if !is_canonical_heading_text(text, r.id.as_str(), &r.title) {
        r.heading_source = Some(atx(usize::from(level), text));
    }

    let criteria_at = criteria_heading(doc, body.clone(), sub);
    let mut part = Part::Pre;
    let mut seen_criteria = false;
    // Prose before the criteria heading, prose since the last criterion
    // (an interlude if another criterion follows, else notes), and notes.
    let mut preface = Notes::default();
    let mut pending = Notes::default();
    let mut notes = Notes::default();
    let mut previous_number: Option<u64> = None;
    for i in body {
        let Some(b) = doc.block(i) else { continue };
        match &b.kind {
            BlockKind::Heading { level, text } if *level == sub && criteria_at == Some(i) => {
                seen_criteria = true;
                part = Part::Criteria;
                if text != DEFAULT_ACCEPTANCE {
                    r.criteria_heading = Some(text.to_string());
                }
                preface.split();
            }
            BlockKind::Heading { level, .. }
                if *level <= sub
                    && matches!(part, Part::Pre | Part::PreSection)
                    && criteria_at.is_some_and(|c| i < c) =>
            {
                part = Part::PreSection;
                preface.add(b.range.clone());
            }
            BlockKind::Heading { level, .. } if *level <= sub => {
                if part == Part::Criteria {
                    notes.append(std::mem::take(&mut pending));
                }
                part = Part::Other;
                notes.add(b.range.clone());
            }
            BlockKind::List(span)
                if is_ordered(doc.items(*span)) && matches!(part, Part::Pre | Part::Criteria) =>
            {
                let items = doc.items(*span);
                if part == Part::Pre {
                    sink.report(
                        doc.position(b.range.start),
                        "numbered list before the acceptance criteria heading is read as criteria",
                        "`#### Acceptance Criteria` above the numbered criteria",
                    );
                }
                let markdown = std::mem::take(&mut pending).finish(doc.text());
                if !markdown.is_empty() {
                    r.interludes.push(Interlude {
                        before: r.criteria.len(),
                        markdown,
                    });
                }
                // Sized once: growing past the first few criteria would
                // reallocate, and a reallocation of this size makes glibc
                // consolidate its free lists, once per requirement.
                r.criteria.reserve_exact(items.len());
                for item in items {
                    read_criterion(doc, sink, item, index, &mut r, &mut previous_number);
                }
                preface.split();
                if let Some(tail) = list_tail(doc, b, items) {
                    match part {
                        Part::Pre => preface.add(tail),
                        _ => pending.add(tail),
                    }
                }
            }
            BlockKind::List(span) if !is_ordered(doc.items(*span)) && part == Part::Criteria => {
                sink.report(
                    doc.position(b.range.start),
                    "bullet list in acceptance criteria is kept as notes",
                    "numbered criteria `1. <criterion>`",
                );
                pending.add(b.range.clone());
            }
            BlockKind::Other if part == Part::Pre && r.user_story.is_none() => {
                let src = doc.slice(line_start(doc.text(), b.range.start)..b.range.end);
                match parse_story(src).filter(|_| story_is_paragraph(src)) {
                    Some(story) => {
                        r.user_story = Some(story);
                        preface.split();
                    }
                    None => preface.add(b.range.clone()),
                }
            }
            _ => match part {
                Part::Pre | Part::PreSection => preface.add(b.range.clone()),
                Part::Criteria => pending.add(b.range.clone()),
                Part::Other => notes.add(b.range.clone()),
            },
        }
    }
    if part == Part::Criteria {
        notes.append(pending);
    }
    r.preface = preface.finish(doc.text());
    r.notes = notes.finish(doc.text());
    if seen_criteria && r.criteria.is_empty() && r.criteria_heading.is_none() {
        // The renderer writes no heading for an empty criteria section;
        // keeping the spelling keeps the heading.
        r.criteria_heading = Some(DEFAULT_ACCEPTANCE.to_owned());
    }
    r
}

/// The block index of the `####` sub-heading that opens a requirement's
/// acceptance criteria, chosen by structure: the first sub-heading with a
/// numbered list under it (before the next sub-heading), whatever its
/// words, so a heading in any language (`#### Akzeptanzkriterien`,
/// `#### 인수 기준`) opens the criteria. A heading named in
/// [`ACCEPTANCE`] is preferred when several sub-headings hold numbered
/// lists, and opens the (empty) criteria when none does.
fn criteria_heading(doc: &Doc, body: Range<usize>, sub: u8) -> Option<usize> {
    let (mut named, mut with_list) = (None, None);
    // The `####` heading whose section the scan is in, and whether it is
    // named as the criteria.
    let mut current: Option<(usize, bool)> = None;
    for i in body {
        let Some(b) = doc.block(i) else { continue };
        match &b.kind {
            BlockKind::Heading { level, text } if *level <= sub => {
                current = (*level == sub).then(|| (i, is_one_of(text, ACCEPTANCE)));
                if let Some((h, true)) = current {
                    named.get_or_insert(h);
                }
            }
            BlockKind::List(span) if is_ordered(doc.items(*span)) => {
                if let Some((h, is_named)) = current {
                    if is_named {
                        return Some(h);
                    }
                    with_list.get_or_insert(h);
                }
            }
            _ => {}
        }
    }
    with_list.or(named)
}

fn read_criterion(
    doc: &Doc,
    sink: &mut Sink,
    item: &Item,
    requirement: usize,
    r: &mut Requirement,
    previous: &mut Option<u64>,
) {
    let position = doc.position(doc.item_start(item));
    let index = r.criteria.len();
    let fallback;
    let number = match marker_number(item) {
        Some(n) => n,
        None => {
            fallback = (index + 1).to_string();
            fallback.as_str()
        }
    };
    let value: Option<u64> = number.parse().ok();
    let expected = previous.map_or(1, |p| p.saturating_add(1));
    if value != Some(expected) {
        let message = match previous {
            Some(p) => format!("criterion number {number} does not follow {p}"),
            None => format!("criteria start at {number}, not 1"),
        };
        sink.report(
            position,
            &message,
            "criteria numbered 1, 2, 3, ... in order",
        );
    }
    *previous = value.or(Some(expected));
    let text = doc.item_text(item);
    if text.is_empty() {
        sink.report(
            position,
            "acceptance criterion is empty",
            "`<N>. <criterion text>`",
        );
    }
    sink.locate(Locator::Criterion { requirement, index }, position);
    let ears = Ears::parse(&text);
    r.criteria.push(AcceptanceCriterion {
        id: CriterionId::join(r.id.as_str(), number),
        text,
        ears,
    });
}

/// Reads a user story paragraph: `**<label>** <text>` where the label is a
/// known story label followed by a colon (inside or outside the emphasis),
/// when the story renders back as itself.
fn parse_story(paragraph: &str) -> Option<UserStory> {
    let story = parse_story_markup(paragraph)?;
    // A paragraph already written as it renders reads back as itself; only
    // other spellings need the second reading (checked without rendering:
    // this runs for every requirement).
    if renders_as(&story, paragraph.trim()) {
        return Some(story);
    }
    let rendered = render_story(&story);
    (parse_story_markup(&rendered).as_ref() == Some(&story)).then_some(story)
}

fn parse_story_markup(paragraph: &str) -> Option<UserStory> {
    let p = paragraph.trim_start();
    let rest = p.strip_prefix("**")?;
    let close = rest.find("**")?;
    let inner = rest.get(..close)?;
    let after = rest.get(close + 2..)?;
    // The label is the emphasised text plus a colon written just after the
    // emphasis, if any; it is only built as a string when it is not the
    // default spelling (this runs for every requirement).
    let (colon, after) = if inner.ends_with([':', '：']) {
        ("", after)
    } else if let Some(a) = after.strip_prefix(':') {
        (":", a)
    } else if let Some(a) = after.strip_prefix('：') {
        ("：", a)
    } else {
        ("", after)
    };
    let bare = inner.trim_end_matches([':', '：']).trim();
    let bare = if colon.is_empty() { bare } else { inner.trim() };
    if bare.is_empty() || !matches_lowercase(bare, STORY_LABELS) {
        return None;
    }
    if !(after.is_empty() || after.starts_with(char::is_whitespace)) {
        return None;
    }
    // `inner + colon == DEFAULT_STORY_LABEL`, without the concatenation.
    let is_default = DEFAULT_STORY_LABEL.strip_suffix(colon) == Some(inner);
    let text = after.trim().to_owned();
    let mut story = UserStory {
        label: (!is_default).then(|| format!("{inner}{colon}")),
        ..UserStory::default()
    };
    if let Some((role, capability, benefit)) = story_parts(&text) {
        story.role = Some(role);
        story.capability = Some(capability);
        story.benefit = Some(benefit);
    }
    story.text = text;
    Some(story)
}

/// Splits `As a <role>, I want <capability>, so that <benefit>` (English
/// shape, case-insensitive, also `I need`, across line breaks).
fn story_parts(text: &str) -> Option<(CompactString, CompactString, CompactString)> {
    let flat = flatten(text);
    // The markers are ASCII and matched ignoring ASCII case in place (no
    // lower-cased copy); a match starts at an ASCII byte, so every offset
    // found is a char boundary of `flat`.
    let start = ["as an ", "as a "]
        .iter()
        .find(|p| {
            flat.as_bytes()
                .get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
        })
        .map(|p| p.len())?;
    let (want_at, want_len) = find_marker_ci(&flat, start, &[" i want ", " i need "])?;
    let cap_start = want_at + want_len;
    let (so_at, so_len) = find_marker_ci(&flat, cap_start, &[" so that "])?;
    let role = flat
        .get(start..want_at)?
        .trim()
        .trim_end_matches(',')
        .trim();
    let capability = flat
        .get(cap_start..so_at)?
        .trim()
        .trim_end_matches(',')
        .trim();
    let benefit = flat
        .get(so_at + so_len..)?
        .trim()
        .trim_end_matches(['.', '。'])
        .trim();
    if role.is_empty() || capability.is_empty() || benefit.is_empty() {
        return None;
    }
    Some((
        CompactString::new(role),
        CompactString::new(capability),
        CompactString::new(benefit),
    ))
}

/// The earliest match at or after `from` of any of `markers` (lower-case
/// ASCII, each starting with a space) in `hay`, ignoring ASCII case, widened
/// to take a comma just before it (`, i want `): offset and length. Only the
/// spaces are visited (a vectorised search finds them), not every offset.
fn find_marker_ci(hay: &str, from: usize, markers: &[&str]) -> Option<(usize, usize)> {
    let bytes = hay.as_bytes();
    let at = memchr::memchr_iter(b' ', bytes.get(from..)?)
        .map(|i| from + i)
        .find_map(|at| {
            let rest = bytes.get(at..)?;
            markers.iter().find_map(|m| {
                rest.get(..m.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(m.as_bytes()))
                    .then_some((at, m.len()))
            })
        })?;
    let (pos, len) = at;
    if pos > from && bytes.get(pos - 1) == Some(&b',') {
        Some((pos - 1, len + 1))
    } else {
        Some((pos, len))
    }
}

/// `text` with whitespace runs read as single spaces, borrowed when it has
/// none to collapse.
fn flatten(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    // Byte-level checks first (vectorised searches); only non-ASCII text
    // needs decoding to find other whitespace.
    let other_whitespace = if text.is_ascii() {
        bytes
            .iter()
            .any(|b| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    } else {
        text.contains(|c: char| c != ' ' && c.is_whitespace())
    };
    let simple = bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && memchr::memmem::find(bytes, b"  ").is_none()
        && !other_whitespace;
    if simple {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// `true` when [`render_story`] gives exactly `text`.
fn renders_as(s: &UserStory, text: &str) -> bool {
    let label = s.label.as_deref().unwrap_or(DEFAULT_STORY_LABEL);
    let Some(rest) = text
        .strip_prefix("**")
        .and_then(|t| t.strip_prefix(label))
        .and_then(|t| t.strip_prefix("**"))
    else {
        return false;
    };
    if s.text.is_empty() {
        rest.is_empty()
    } else {
        rest.strip_prefix(' ') == Some(s.text.as_str())
    }
}

fn render_story(s: &UserStory) -> String {
    let label = s.label.as_deref().unwrap_or(DEFAULT_STORY_LABEL);
    if s.text.is_empty() {
        format!("**{label}**")
    } else {
        format!("**{label}** {}", s.text)
    }
}

/// The number written for a criterion: the last part of its id when it is
/// a number, else its position.
pub(super) fn criterion_number(id: &CriterionId, position: usize) -> String {
    let last = id.as_str().rsplit('.').next().unwrap_or("");
    if !last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) {
        last.to_owned()
    } else {
        (position + 1).to_string()
    }
}

/// One list of criteria, numbered from their ids.
fn render_criteria(criteria: &[AcceptanceCriterion], first: usize) -> String {
    // A criterion holding a blank line (a table, a second paragraph) makes
    // the list loose; blank lines between all items keep it readable.
    let loose = criteria.iter().any(|c| c.text.contains("\n\n"));
    let items: Vec<String> = criteria
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let n = criterion_number(&c.id, first + k);
            if c.text.is_empty() {
                format!("{n}.")
            } else {
                let marker = format!("{n}. ");
                let body = markdown::indent_rest(&c.text, marker.len());
                format!("{marker}{body}")
            }
        })
        .collect();
    items.join(if loose { "\n\n" } else { "\n" })
}

fn render_requirement(r: &Requirement, level: usize) -> String {
    let mut parts = vec![render_requirement_heading(r, level)];
    if let Some(story) = &r.user_story {
        parts.push(render_story(story));
    }
    push_text(&mut parts, &r.preface);
    if !r.criteria.is_empty() || r.criteria_heading.is_some() {
        let heading = r.criteria_heading.as_deref().unwrap_or(DEFAULT_ACCEPTANCE);
        parts.push(atx(level + 1, heading));
    }
    // Criteria run as lists, broken where an interlude stood.
    let mut start = 0;
    for k in 0..=r.criteria.len() {
        let breaks: Vec<&Interlude> = r.interludes.iter().filter(|i| i.before == k).collect();
        if (!breaks.is_empty() || k == r.criteria.len()) && k > start {
            if let Some(run) = r.criteria.get(start..k) {
                parts.push(render_criteria(run, start));
            }
            start = k;
        }
        for i in breaks {
            push_text(&mut parts, &i.markdown);
        }
    }
    // Interludes past the last criterion (not produced by the parser) stay
    // in the document.
    for i in r.interludes.iter().filter(|i| i.before > r.criteria.len()) {
        push_text(&mut parts, &i.markdown);
    }
    push_text(&mut parts, &r.notes);
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The allocation-free checks agree with rendering and comparing.
        #[test]
        fn fast_checks_agree_with_rendering(
            text in "(Requirement )?[0-9.]{0,3}(: )?[a-z #:]{0,6}",
            id in "[0-9.]{0,3}",
            title in "[a-z #:]{0,6}",
            label in proptest::option::of("(User Story|Story|Objective)[:：]?"),
            story in "[a-z ]{0,6}",
        ) {
            prop_assert_eq!(
                is_canonical_heading_text(&text, &id, &title),
                atx(3, &text) == canonical_heading(&id, &title, 3)
            );
            let s = UserStory { text: story, label, ..UserStory::default() };
            let rendered = render_story(&s);
            prop_assert!(renders_as(&s, &rendered));
            let longer = format!("{rendered}x");
            prop_assert!(!renders_as(&s, &longer));
        }

        /// Story markers are found where a lower-cased copy would find them.
        #[test]
        fn story_markers_match_a_lowercased_search(hay in "[aIi ,wWnNtedso]{0,24}", from in 0usize..6) {
            let lower = hay.to_ascii_lowercase();
            let naive = [", i want ", " i want ", ", i need ", " i need "]
                .iter()
                .filter_map(|k| lower.get(from..)?.find(k).map(|i| (from + i, k.len())))
                .min();
            prop_assert_eq!(find_marker_ci(&hay, from, &[" i want ", " i need "]), naive);
        }
    }

    type Four<'a> = (&'a str, &'a str, &'a str, &'a str);
    type Three<'a> = (&'a str, &'a str, &'a str);

    fn heading(text: &str) -> Option<(String, String, String, String)> {
        parse_requirement_heading(text).map(|h| {
            (
                h.label.to_owned(),
                h.id.to_owned(),
                h.separator.to_owned(),
                h.title.to_owned(),
            )
        })
    }

    #[test]
    fn requirement_headings() {
        let cases: &[(&str, Option<Four>)] = &[
            (
                "Requirement 1: Edit",
                Some(("Requirement ", "1", ": ", "Edit")),
            ),
            ("Requirement 12", Some(("Requirement ", "12", "", ""))),
            ("需求 1：重复事件", Some(("需求 ", "1", "：", "重复事件"))),
            ("要件1: ChatUI", Some(("要件", "1", ": ", "ChatUI"))),
            ("Requisito 3", Some(("Requisito ", "3", "", ""))),
            ("1. 缺失行测试补全", Some(("", "1", ". ", "缺失行测试补全"))),
            ("故事1: 缺失", Some(("故事", "1", ": ", "缺失"))),
            (
                "Requirement 3: `x` Config",
                Some(("Requirement ", "3", ": ", "`x` Config")),
            ),
            ("Notes for v2", None),
            ("2024 Roadmap", None),
            ("🎯 产品愿景", None),
            ("P0 (最高优先级) - 第1周", None),
            ("Requirement", None),
        ];
        for (text, expected) in cases {
            let expected = expected.map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()));
            assert_eq!(heading(text), expected, "{text}");
        }
    }

    #[test]
    fn story_shapes() {
        let cases: &[(&str, Option<Three>)] = &[
            (
                "As an employee, I want to edit, so that I can fix mistakes.",
                Some(("employee", "to edit", "I can fix mistakes")),
            ),
            (
                "As a developer, I need tests\nfor both, so that\nthey run.",
                Some(("developer", "tests for both", "they run")),
            ),
            ("As a user, I want X.", None),
            ("作为用户，我想创建重复事件，以便我可以添加。", None),
        ];
        for (text, expected) in cases {
            let got = story_parts(text);
            let expected = expected.map(|(a, b, c)| (a.into(), b.into(), c.into()));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn glossary_entries() {
        let cases: &[(&str, Option<Three>)] = &[
            ("**Term**: A thing", Some(("Term", ": ", "A thing"))),
            ("**Term**：一个东西", Some(("Term", "：", "一个东西"))),
            ("**Term:** A thing", Some(("Term", ": ", "A thing"))),
            ("**Term**:", Some(("Term", ": ", ""))),
            ("**Term**：", Some(("Term", "：", ""))),
            ("**Term** A thing", None),
            ("Term: A thing", None),
        ];
        for (text, expected) in cases {
            let got = parse_entry(text).map(|e| (e.term, e.separator, e.definition));
            let expected = expected.map(|(a, b, c)| (a.into(), b.into(), c.into()));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn thematic_breaks() {
        for (s, expected) in [
            ("---", true),
            ("* * *", true),
            ("--", false),
            ("- a", false),
        ] {
            assert_eq!(is_thematic_break(s), expected, "{s}");
        }
    }
}
