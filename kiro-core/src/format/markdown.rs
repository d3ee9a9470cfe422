//! Block structure of a markdown file, from `pulldown-cmark` source offsets.
//!
//! The Kiro parsers work on top-level blocks (headings, lists, everything
//! else) and on the item tree of lists. Using a real CommonMark parser means
//! a `#` line inside a fenced code block is never taken for a heading and a
//! `- [ ]` inside a code sample is never taken for a task.

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// A source text normalised to `\n` line endings. The text is borrowed
/// when it has no `\r` (the usual case), so a parse copies nothing.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    /// The text with `\r\n` and lone `\r` replaced by `\n`.
    pub text: Cow<'a, str>,
    /// The input used `\r\n` line endings.
    pub crlf: bool,
    lines: LineCursor,
}

impl<'a> Source<'a> {
    /// Normalises line endings.
    pub fn new(src: &'a str) -> Source<'a> {
        // Most files have no `\r`: one vectorised byte search settles that.
        let has_cr = memchr::memchr(b'\r', src.as_bytes()).is_some();
        let crlf = has_cr && src.contains("\r\n");
        // CommonMark treats a lone `\r` as a line ending too; normalising it
        // here keeps every parser's idea of a line the same as pulldown-cmark's.
        let text = if has_cr {
            Cow::Owned(src.replace("\r\n", "\n").replace('\r', "\n"))
        } else {
            Cow::Borrowed(src)
        };
        Source {
            text,
            crlf,
            lines: LineCursor::default(),
        }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        self.lines.line_col(&self.text, offset)
    }

    /// The source slice for a range (empty if the range is not on char boundaries).
    pub fn slice(&self, range: Range<usize>) -> &str {
        self.text.get(range).unwrap_or("")
    }
}

/// Line numbers from a cursor that moves over the text as positions are
/// asked for. Parsers ask in (nearly) document order, so counting the line
/// breaks between the last position and the next one costs less than
/// indexing every line of the file up front.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineCursor {
    /// A byte offset and the number of `\n` before it.
    at: Cell<(usize, usize)>,
}

impl LineCursor {
    /// 1-based line and 1-based column (in characters) of a byte offset of
    /// `text` (clamped to its length). Every call must pass the same text.
    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (u32, u32) {
        let bytes = text.as_bytes();
        let offset = offset.min(bytes.len());
        let (at, newlines) = self.at.get();
        let newlines = if offset >= at {
            newlines + count_newlines(bytes.get(at..offset).unwrap_or(&[]))
        } else {
            newlines.saturating_sub(count_newlines(bytes.get(offset..at).unwrap_or(&[])))
        };
        self.at.set((offset, newlines));
        // A byte order mark is no column: editors do not show it.
        let line_start = memchr::memrchr(b'\n', bytes.get(..offset).unwrap_or(&[]))
            .map_or_else(|| bom_len(text).min(offset), |i| i + 1);
        let column = text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count());
        (newlines as u32 + 1, column as u32 + 1)
    }
}

/// Where each line of a text starts, for looking up many lines by number
/// (lint places every finding on its line): one pass over the text instead
/// of one per lookup. Lines end at `\n`; a `\r` before it is not part of the
/// line, nor is a byte order mark at the start of the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LineStarts {
    starts: Vec<usize>,
}

impl LineStarts {
    /// Indexes `text`.
    pub(crate) fn new(text: &str) -> LineStarts {
        let mut starts = Vec::with_capacity(count_newlines(text.as_bytes()) + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineStarts { starts }
    }

    /// The number of lines (a text without `\n` has one).
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Line `index` (0-based) of `text`, which must be the text indexed,
    /// without its line terminator; `None` past the last line.
    pub(crate) fn line<'t>(&self, text: &'t str, index: usize) -> Option<&'t str> {
        let start = *self.starts.get(index)?;
        let end = self
            .starts
            .get(index + 1)
            .map_or(text.len(), |next| next - 1);
        let line = text.get(start..end)?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        // The first line as an editor shows it: without a byte order mark.
        Some(if index == 0 {
            line.strip_prefix(BOM).unwrap_or(line)
        } else {
            line
        })
    }
}

/// The number of `\n` bytes in `bytes`.
fn count_newlines(bytes: &[u8]) -> usize {
    // Summing `u8` flags per chunk of at most 255 bytes lets the compiler
    // compare many bytes per instruction; a `usize` sum would widen each.
    bytes
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().map(|b| u8::from(*b == b'\n')).sum::<u8>()))
        .sum()
}

/// What a top-level block is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BlockKind<'a> {
    /// An ATX or setext heading with its level and plain heading text.
    Heading {
        /// 1-6.
        level: u8,
        /// The heading text as written, without `#` marks; borrowed from
        /// the source unless the heading spans lines (setext).
        text: Cow<'a, str>,
    },
    /// A list; its items are [`Blocks::items`] of the span.
    List(Span),
    /// Anything else (paragraph, code block, table, rule, HTML, quote,
    /// link reference definitions).
    Other,
}

/// A top-level block and its source range (trailing newline excluded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Block<'a> {
    /// The kind.
    pub kind: BlockKind<'a>,
    /// Byte range in [`Source::text`].
    pub range: Range<usize>,
}

/// A run of entries in one of [`Blocks`]' arenas: the items of a list, or
/// the lists nested in an item. Stored as `u32`s, which keeps items small;
/// arenas hold at most one entry per line of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(range: Range<usize>) -> Span {
        let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            start: index(range.start),
            end: index(range.end),
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A list nested in an item: its source range and its items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List {
    /// The whole list, trailing blank lines excluded.
    pub range: Range<usize>,
    /// Its items, in [`Blocks::items`].
    pub items: Span,
}

/// A list item; the lists nested directly inside it are [`Blocks::lists`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// The whole item, marker included, trailing blank lines excluded.
    pub range: Range<usize>,
    /// The list marker as written: `-`, `*`, `+`, `1.`, `1)`.
    pub marker: ListMarker,
    /// Byte offset where the item's content starts (after marker and spaces).
    pub content_start: usize,
    /// Column (0-based, in bytes from line start) of the content start;
    /// continuation lines are indented at least this much.
    pub content_indent: usize,
    /// The nested lists, a span of the list arena.
    lists: Span,
}

/// The top-level blocks of a document, the start offsets of those that are
/// paragraphs, and every list item and nested list in two flat arenas.
///
/// Items and nested lists are stored flat rather than as a tree of vectors:
/// a task list has a nested list under nearly every item, and a vector per
/// list and per item was a heap allocation each, tens of thousands per
/// large document.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Blocks<'a> {
    /// Top-level blocks in document order.
    pub blocks: Vec<Block<'a>>,
    /// Start offsets of the top-level blocks that are paragraphs (sorted).
    pub paragraphs: Vec<usize>,
    items: Vec<Item>,
    lists: Vec<List>,
}

impl Blocks<'_> {
    /// How many list items the document has, at every depth.
    pub(crate) fn item_count(&self) -> usize {
        self.items.len()
    }

    /// The items of a list.
    pub(crate) fn items(&self, span: Span) -> &[Item] {
        self.items.get(span.range()).unwrap_or(&[])
    }

    /// The lists nested directly inside `item`, in order.
    pub(crate) fn lists(&self, item: &Item) -> &[List] {
        self.lists.get(item.lists.range()).unwrap_or(&[])
    }
}

/// A list marker as written, stored inline: markers are a bullet or at most
/// nine digits and a delimiter (CommonMark), and every list item of every
/// document has one, so a heap string each would cost an allocation per item
/// (and a wider buffer would make every item larger).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListMarker {
    bytes: [u8; ListMarker::CAPACITY],
    len: u8,
}

impl ListMarker {
    const CAPACITY: usize = 10;

    /// The marker of `s`, cut to the longest prefix that fits on a char
    /// boundary (a longer run of digits than CommonMark allows).
    fn new(s: &str) -> ListMarker {
        let mut end = s.len().min(Self::CAPACITY);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::CAPACITY];
        let src = s.as_bytes().get(..end).unwrap_or(&[]);
        if let Some(dst) = bytes.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        ListMarker {
            bytes,
            len: src.len() as u8,
        }
    }

    /// The marker text.
    pub(crate) fn as_str(&self) -> &str {
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl std::fmt::Debug for ListMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<&str> for ListMarker {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

fn trim_end_range(text: &str, mut range: Range<usize>) -> Range<usize> {
    while range.end > range.start {
        match text.as_bytes().get(range.end - 1) {
            Some(b'\n' | b' ' | b'\t' | b'\r') => range.end -= 1,
            _ => break,
        }
    }
    range
}

/// Offset of the start of the line holding `offset`.
pub(crate) fn line_start(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .get(..offset)
        .and_then(|s| memchr::memrchr(b'\n', s))
        .map_or(0, |i| i + 1)
}

/// `str::trim`, settled byte-wise when the text trimmed of ASCII
/// whitespace starts and ends with a printable ASCII character (then no
/// other whitespace can be at its ends). It runs for every list item and
/// every acceptance criterion of every document.
pub(crate) fn trim_fast(s: &str) -> &str {
    let t = s.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => t,
        _ => s.trim(),
    }
}

/// Reads the marker of the item starting at `start` and where its content begins.
fn item_marker(text: &str, start: usize) -> (ListMarker, usize) {
    let bytes = text.as_bytes();
    let mut i = start;
    // pulldown-cmark starts an item nested after a tab-indented line at the
    // line break before it, so line breaks are skipped along with blanks.
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n')) {
        i += 1;
    }
    let marker_start = i;
    match bytes.get(i) {
        Some(b'-' | b'*' | b'+') => i += 1,
        Some(b'0'..=b'9') => {
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if matches!(bytes.get(i), Some(b'.' | b')')) {
                i += 1;
            }
        }
        _ => {}
    }
    let marker = ListMarker::new(text.get(marker_start..i).unwrap_or(""));
    // CommonMark: 1-4 spaces after the marker belong to it; 5 or more mean
    // indented code, of which only one space is the marker's.
    let mut j = i;
    while matches!(bytes.get(j), Some(b' ')) && j - i < 5 {
        j += 1;
    }
    if j - i >= 5 {
        j = i + 1;
    }
    if matches!(bytes.get(j), Some(b'\n') | None) {
        j = i.min(text.len());
    }
    (marker, j.min(text.len()))
}

/// A list being read: its range and where its finished items start on
/// the pending-item stack.
struct OpenList {
    range: Range<usize>,
    first_item: usize,
}

/// An item being read and where its finished nested lists start on the
/// pending-list stack.
struct OpenItem {
    item: Item,
    first_list: usize,
}

/// Splits a document into top-level blocks (with the paragraph starts and
/// list items), in one pulldown-cmark pass.
pub(crate) fn blocks(text: &str) -> Blocks<'_> {
    // Reserving the arenas once spares the copies of growing vectors
    // (megabytes for a large spec) and keeps a parse's memory small.
    let estimate = ArenaEstimate::of(text);
    let mut out = Blocks {
        blocks: Vec::with_capacity(estimate.blocks.min(MAX_RESERVE)),
        items: Vec::with_capacity(estimate.items.min(MAX_RESERVE)),
        ..Blocks::default()
    };
    // A UTF-8 byte order mark is an encoding signature, not text: the
    // document starts after it (pulldown-cmark would read it as the start of
    // a paragraph, so a `#` title after it would be no heading). Offsets stay
    // those of `text`, so every range below still indexes it.
    let body = bom_len(text);
    let parser = Parser::new_ext(text.get(body..).unwrap_or(""), Options::ENABLE_TABLES)
        .into_offset_iter()
        .map(move |(event, range)| (event, range.start + body..range.end + body));
    let mut depth = 0usize;
    // Lists and items open while inside a top-level list. Finished items
    // wait on `pending_items` until their list ends, finished nested lists
    // on `pending_lists` until their item ends; both are stacks, so a list's
    // items (an item's lists) are the top run when it ends and move to the
    // arena together, contiguous.
    let mut open_lists: Vec<OpenList> = Vec::new();
    let mut open_items: Vec<OpenItem> = Vec::new();
    let mut pending_items: Vec<Item> = Vec::new();
    let mut pending_lists: Vec<List> = Vec::new();
    let mut top_start: Option<(usize, BlockKind<'_>)> = None;
    let mut heading_text = String::new();

    for (event, range) in parser {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    if matches!(tag, Tag::Paragraph) {
                        out.paragraphs.push(range.start);
                    }
                    let kind = match &tag {
                        Tag::Heading { level, .. } => {
                            heading_text.clear();
                            BlockKind::Heading {
                                level: *level as u8,
                                text: Cow::Borrowed(""),
                            }
                        }
                        Tag::List(_) => BlockKind::List(Span::default()),
                        _ => BlockKind::Other,
                    };
                    top_start = Some((range.start, kind));
                }
                match &tag {
                    Tag::List(_) if matches!(top_start, Some((_, BlockKind::List(_)))) => {
                        open_lists.push(OpenList {
                            range: range.clone(),
                            first_item: pending_items.len(),
                        });
                    }
                    Tag::Item if !open_lists.is_empty() => {
                        let (marker, content_start) = item_marker(text, range.start);
                        let content_indent = content_start - line_start(text, content_start);
                        open_items.push(OpenItem {
                            item: Item {
                                range: trim_end_range(text, range.clone()),
                                marker,
                                content_start,
                                content_indent,
                                lists: Span::default(),
                            },
                            first_list: pending_lists.len(),
                        });
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::End(tag_end) => {
                depth = depth.saturating_sub(1);
                match tag_end {
                    TagEnd::Item if !open_lists.is_empty() => {
                        if let Some(OpenItem {
                            mut item,
                            first_list,
                        }) = open_items.pop()
                        {
                            let start = out.lists.len();
                            out.lists
                                .extend(pending_lists.drain(first_list.min(pending_lists.len())..));
                            item.lists = Span::of(start..out.lists.len());
                            pending_items.push(item);
                        }
                    }
                    TagEnd::List(_) if !open_lists.is_empty() => {
                        if let Some(done) = open_lists.pop() {
                            let start = out.items.len();
                            let first = done.first_item.min(pending_items.len());
                            out.items.extend(pending_items.drain(first..));
                            let items = Span::of(start..out.items.len());
                            if open_items.is_empty() {
                                if let Some((_, kind)) = top_start.as_mut() {
                                    *kind = BlockKind::List(items);
                                }
                            } else {
                                pending_lists.push(List {
                                    range: trim_end_range(text, done.range),
                                    items,
                                });
                            }
                        }
                    }
                    _ => {}
                }
                if depth == 0 {
                    if let Some((start, mut kind)) = top_start.take() {
                        if let BlockKind::Heading { text: t, .. } = &mut kind {
                            *t = heading_source_text(text, start..range.end)
                                .unwrap_or_else(|| Cow::Owned(heading_text.trim().to_owned()));
                        }
                        out.blocks.push(Block {
                            kind,
                            range: trim_end_range(text, start..range.end),
                        });
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if matches!(top_start, Some((_, BlockKind::Heading { .. }))) {
                    heading_text.push_str(&t);
                }
            }
            _ => {
                if depth == 0 {
                    // Rules and HTML at top level come as single events.
                    out.blocks.push(Block {
                        kind: BlockKind::Other,
                        range: trim_end_range(text, range),
                    });
                }
            }
        }
    }
    out.blocks = add_gaps(text, body, std::mem::take(&mut out.blocks));
    out
}

/// The UTF-8 byte order mark.
pub(crate) const BOM: char = '\u{feff}';

/// The length in bytes of the byte order mark `text` starts with (0 or 3).
pub(crate) fn bom_len(text: &str) -> usize {
    if text.starts_with(BOM) {
        BOM.len_utf8()
    } else {
        0
    }
}

/// The most entries [`blocks`] reserves up front; beyond
/// that the arenas grow as they fill.
const MAX_RESERVE: usize = 1 << 20;

/// Arena sizes read off the lines of a text in one cheap pass, close to
/// what the blocks and items turn out to be (they only size the arenas: a
/// low estimate makes a vector grow, never a wrong result).
struct ArenaEstimate {
    blocks: usize,
    items: usize,
}

impl ArenaEstimate {
    fn of(text: &str) -> ArenaEstimate {
        let bytes = text.as_bytes();
        // A list item starts on a line whose first visible byte is a
        // marker; a top-level block follows a blank line or a heading (or
        // starts the text). Both counts bound what they estimate for the
        // way Kiro writes specs.
        let (mut items, mut blocks) = (0, 1);
        // Line starts: the text's start and every byte after a line break
        // (one iterator over the breaks, not a search per short line).
        let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
        for start in starts {
            let rest = bytes.get(start..).unwrap_or(&[]);
            match rest.iter().find(|b| !matches!(b, b' ' | b'\t')) {
                None | Some(b'\n') => blocks += 1,
                Some(b'-' | b'*' | b'+' | b'0'..=b'9') => items += 1,
                Some(b'#') => blocks += 1,
                Some(_) => {}
            }
        }
        ArenaEstimate { blocks, items }
    }
}

/// Text pulldown-cmark emits no event for (link reference definitions)
/// would otherwise vanish; keep any non-blank gap as an `Other` block.
fn add_gaps<'a>(text: &str, body: usize, blocks: Vec<Block<'a>>) -> Vec<Block<'a>> {
    // Usually every gap is blank; then the blocks are returned as they are
    // rather than copied into a new vector. The text starts at `body`,
    // after a byte order mark.
    let mut pos = body;
    let mut any = false;
    for b in &blocks {
        if b.range.start > pos && !text.get(pos..b.range.start).unwrap_or("").trim().is_empty() {
            any = true;
            break;
        }
        pos = pos.max(b.range.end);
    }
    if !any && text.get(pos..).unwrap_or("").trim().is_empty() {
        return blocks;
    }
    let mut out = Vec::with_capacity(blocks.len());
    let mut pos = body;
    for b in blocks {
        if b.range.start > pos {
            push_gap(text, pos..b.range.start, &mut out);
        }
        pos = pos.max(b.range.end);
        out.push(b);
    }
    if pos < text.len() {
        push_gap(text, pos..text.len(), &mut out);
    }
    out
}

fn push_gap(text: &str, range: Range<usize>, out: &mut Vec<Block<'_>>) {
    let gap = text.get(range.clone()).unwrap_or("");
    if gap.trim().is_empty() {
        return;
    }
    let lead = gap.len() - gap.trim_start().len();
    let start = line_start(text, range.start + lead);
    let range = trim_end_range(text, start.max(range.start)..range.end);
    out.push(Block {
        kind: BlockKind::Other,
        range,
    });
}

/// The text of an ATX heading line as written (inline markup kept), so that
/// `### Property 1: \`foo\` bar` keeps its backticks.
fn heading_source_text(text: &str, range: Range<usize>) -> Option<Cow<'_, str>> {
    let src = text.get(range)?;
    let first = src.lines().next()?;
    let trimmed = first.trim_start();
    // An ATX opening is 1-6 `#` followed by a space, a tab or the line end; a
    // setext heading's text may itself start with `#` (`#T` over `===`).
    let hashes = trimmed.len() - trimmed.trim_start_matches('#').len();
    let atx = (1..=6).contains(&hashes)
        && trimmed
            .get(hashes..)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !atx {
        // Setext heading: the text is every line but the underline.
        let lines: Vec<&str> = src.lines().collect();
        let body = lines.get(..lines.len().saturating_sub(1))?;
        return Some(Cow::Owned(body.join(" ").trim().to_owned()));
    }
    let after = trimmed.get(hashes..).unwrap_or("");
    let mut t = after.trim();
    // A closing sequence of `#` preceded by a space is not part of the text.
    let stripped = t.trim_end_matches('#');
    if stripped.len() != t.len() && (stripped.is_empty() || stripped.ends_with(' ')) {
        t = stripped.trim_end();
    }
    Some(Cow::Borrowed(t))
}

/// Removes up to `n` leading spaces from every line but the first.
pub(crate) fn dedent_rest(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            let spaces = line.len() - line.trim_start_matches(' ').len();
            out.push_str(line.get(spaces.min(n)..).unwrap_or(""));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Indents every line but the first by `n` spaces (blank lines stay empty).
pub(crate) fn indent_rest(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = String::with_capacity(s.len() + n * 4);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

/// Removes up to `n` leading spaces from every line.
pub(crate) fn dedent_all(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let spaces = line.len() - line.trim_start_matches(' ').len();
        out.push_str(line.get(spaces.min(n)..).unwrap_or(""));
    }
    out
}

/// Indents every non-empty line by `n` spaces.
pub(crate) fn indent_all(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = String::with_capacity(s.len() + n * 4);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

/// Trims blank lines at both ends and trailing spaces at the very end,
/// keeping the first line's indentation.
pub(crate) fn trim_blank_lines(s: &str) -> &str {
    let mut start = 0;
    for (i, line) in s.split_inclusive('\n').scan(0, |pos, l| {
        let p = *pos;
        *pos += l.len();
        Some((p, l))
    }) {
        if line.trim().is_empty() {
            start = i + line.len();
        } else {
            break;
        }
    }
    s.get(start..).unwrap_or("").trim_end()
}

/// Restores `\r\n` line endings when the source used them.
pub(crate) fn finish(mut out: String, crlf: bool) -> String {
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if crlf {
        out.replace('\n', "\r\n")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_fence_hash_is_not_a_heading() {
        let text = "# T\n\n```\n# not a heading\n```\n\n## Real\n";
        let b = blocks(text);
        let headings: Vec<_> = b
            .blocks
            .iter()
            .filter_map(|b| match &b.kind {
                BlockKind::Heading { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(headings, vec!["T", "Real"]);
    }

    #[test]
    fn nested_list_items_and_markers() {
        let text = "- [ ] 1. Top\n  - detail\n  - [ ] 1.1 Sub\n    - deeper\n\n1. one\n2. two\n";
        let b = blocks(text);
        let BlockKind::List(span) = &b.blocks[0].kind else {
            panic!("expected list, got {b:?}")
        };
        let items = b.items(*span);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].marker, "-");
        assert_eq!(
            &text[items[0].content_start..items[0].content_start + 5],
            "[ ] 1"
        );
        let nested = b.lists(&items[0]);
        assert_eq!(nested.len(), 1);
        assert_eq!(
            &text[nested[0].range.clone()],
            "  - detail\n  - [ ] 1.1 Sub\n    - deeper".trim_start()
        );
        let children = b.items(nested[0].items);
        assert_eq!(children.len(), 2);
        assert_eq!(b.items(b.lists(&children[1])[0].items).len(), 1);
        assert!(b.lists(&children[0]).is_empty());
        assert_eq!(children[1].content_indent, 4);
        // pulldown-cmark keeps a bullet list and an ordered list separate.
        assert_eq!(b.blocks.len(), 2);
        let BlockKind::List(second) = &b.blocks[1].kind else {
            panic!("expected list, got {b:?}")
        };
        let markers: Vec<_> = b.items(*second).iter().map(|i| i.marker.as_str()).collect();
        assert_eq!(markers, ["1.", "2."]);
    }

    #[test]
    fn sibling_nested_lists_stay_with_their_items() {
        // Deeper lists finish before the lists around them: each item must
        // still get exactly its own lists, in order.
        let text = "- a\n  - a1\n    - a1x\n\n  text\n\n  1. a2\n- b\n  - b1\n";
        let b = blocks(text);
        let BlockKind::List(span) = &b.blocks[0].kind else {
            panic!("expected list, got {b:?}")
        };
        let top = b.items(*span);
        assert_eq!(top.len(), 2);
        let a_lists = b.lists(&top[0]);
        assert_eq!(a_lists.len(), 2);
        let first: Vec<_> = b
            .items(a_lists[0].items)
            .iter()
            .map(|i| &text[i.range.clone()])
            .collect();
        assert_eq!(first, ["- a1\n    - a1x"]);
        assert_eq!(b.items(a_lists[1].items)[0].marker, "1.");
        let b_lists = b.lists(&top[1]);
        assert_eq!(b_lists.len(), 1);
        assert_eq!(&text[b.items(b_lists[0].items)[0].range.clone()], "- b1");
    }

    #[test]
    fn arena_estimate_covers_kiro_shaped_documents() {
        // The reservation must not fall short on the layout Kiro writes
        // (blank lines around blocks, nested task lists), or the arenas
        // would grow and copy after all.
        let text = "# Tasks\n\n## Plan\n\n- [ ] 1. Top\n  - detail\n  - _Requirements: 1.1_\n\n  - [ ]* 1.1 Sub\n    - **Property 1: x**\n\n1. one\n2. two\n\nProse.\n";
        let found = blocks(text);
        let estimate = ArenaEstimate::of(text);
        assert!(
            estimate.items >= found.item_count(),
            "{} items",
            found.item_count()
        );
        assert!(
            estimate.blocks >= found.blocks.len(),
            "{} blocks",
            found.blocks.len()
        );
        assert_eq!(found.item_count(), 7);
    }

    #[test]
    fn link_reference_definitions_are_kept() {
        let text = "# T\n\n[a]: http://example.com\n\n## B\n";
        let b = blocks(text);
        assert!(b
            .blocks
            .iter()
            .any(|b| &text[b.range.clone()] == "[a]: http://example.com"));
    }

    #[test]
    fn line_col_counts_characters() {
        let s = Source::new("ab\r\n需求x\n");
        assert!(s.crlf);
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(3 + "需求".len()), (2, 3));
    }

    #[test]
    fn line_cursor_matches_a_fresh_count_in_any_order() {
        let text = "# T\n\n中文 line\nab\n\n\nlast 属性";
        let naive = |offset: usize| {
            let offset = offset.min(text.len());
            let before = &text.as_bytes()[..offset];
            let line = before.iter().filter(|b| **b == b'\n').count();
            let start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let column = text.get(start..offset).map_or(0, |s| s.chars().count());
            (line as u32 + 1, column as u32 + 1)
        };
        let cursor = LineCursor::default();
        // In order, repeated, backwards, inside a character and past the end.
        let offsets = (0..=text.len() + 2).chain([9, 3, 7, 0, 40, 8, 8, 1, 25]);
        for offset in offsets {
            assert_eq!(
                cursor.line_col(text, offset),
                naive(offset),
                "offset {offset}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn trim_fast_is_str_trim(s in "[ \t\x0b\x0c\r\u{3000}\u{a0}a-z.，]{0,12}") {
            proptest::prop_assert_eq!(trim_fast(&s), s.trim());
        }
    }

    #[test]
    fn dedent_and_indent_are_inverse() {
        let s = "first\n  - a\n\n    b";
        assert_eq!(dedent_rest(&indent_rest(s, 4), 4), s);
    }
}
