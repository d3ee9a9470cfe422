//! `tasks.md`: the implementation plan as Kiro and cc-sdd write it.
//!
//! The canonical form and what rendering normalises are described on
//! [`render_tasks`], how the markdown maps to the model on [`parse_tasks`];
//! `crate::format` re-exports both, and [`set_task_status`] for in-place
//! status edits.

use std::borrow::Cow;
use std::ops::Range;

use super::markdown::{
    blocks, dedent_all, dedent_rest, finish, indent_all, indent_rest, trim_blank_lines, Block,
    BlockKind, Blocks, Item, Source,
};
use super::refs::{format_id_list, parse_id_list, parse_id_list_into};
use super::requirements::blocks_to_column_zero;
use super::{FormatDiagnostic, Locator, Parsed, Position, SourceMap, TaskPath};
use crate::spec::{CriterionId, PropertyId, Task, TaskId, TaskList, TaskStatus, TextStyle};
use crate::Error;

/// Labels of the requirements link line, as Kiro writes them in various
/// languages (compared case-insensitively for ASCII).
const REQUIREMENT_LABELS: &[&str] = &[
    "Requirements",
    "Requirement",
    "Reqs",
    "需求",
    "要求",
    "要件",
    "Requisitos",
    "Requisito",
    "Requerimientos",
];

/// Labels of cc-sdd's dependency line.
const DEPENDS_LABELS: &[&str] = &["Depends", "Depends on", "Dependencies", "依存", "依赖"];

/// Words that name a correctness property when followed by a number.
const PROPERTY_WORDS: &[&str] = &["Property", "属性", "プロパティ", "Propriedade", "Propiedad"];

/// Parses `tasks.md`. How the markdown maps to the model:
///
/// - Parsing follows the CommonMark block structure (pulldown-cmark), so a
///   `- [ ]` inside a code block is never a task. One correction follows the
///   visual indentation instead: CommonMark lets sibling items start 0-3
///   spaces in, so ` - [x] 1. Title` followed by `  - detail` makes the
///   detail a sibling. An item indented deeper than the task item before it
///   in the same list is read as belonging to that task (a task item only
///   when its id is numbered under that task's, so ` - [x] 5.` after
///   `- [x] 4.` stays a sibling).
/// - A bullet item under a task is a detail (its text without the `- `,
///   nested bullets kept and dedented), the requirements line
///   (`_Requirements: ..._`, `_需求: ..._`, `_Requisitos: ..._`, ...), the
///   depends line (`_Depends: ..._`) or, with a checkbox, a sub-task. When a
///   task has several requirements (or depends) lines, the last one is the
///   link and the others stay details, so rendering (which writes the link
///   line after the details) reads back the same way.
/// - Markdown directly inside a task item that is not a bullet list (a
///   paragraph, a code block, a table, a numbered list) is kept as a
///   detail too, in order: such a detail starts with a line break (`"\nSome
///   paragraph"`) and renders without a `- ` marker, as its own block
///   indented under the task. Bullet details never start with a line break.
///   Blocks that end up next to each other are one detail (rendered with a
///   blank line between them they would read back as one), and a code fence
///   left open at the end of a task item is closed, since the item's end
///   closed it and the requirements line and sub-tasks are written after
///   the details.
/// - `Property N` (also `属性 N`, `プロパティ N`, `Propriedade N`,
///   `Propiedad N`) in the title or a detail fills `properties`, in order of
///   first mention. A property in `properties` that the title and details do
///   not mention renders as an extra `- **Property N**` detail after the
///   others, and such a marker line, when it is the only mention of its
///   property, is read back into `properties` rather than `details`.
/// - Headings, prose, rules and lists without checkboxes between tasks go
///   verbatim into the next task's `before`, or into the list's `epilogue`
///   after the last task; before the first task they are the `preamble`.
///   Non-task content between sub-tasks is part of the parent task item and
///   therefore becomes a detail of the parent (a sub-task's `before`, which
///   parsing never fills, renders as such a block and reads back as one).
///   Text after a task that starts indented (possible after an indented
///   task item) has each of its top-level blocks moved to column 0 (a
///   block's first line loses its indentation, a list item's lines move
///   with it, indented code becomes fenced code), so that it does not move
///   into the task when the task is written at column 0 and still reads as
///   the same blocks.
/// - Checkbox items inside a list item that is not a task (`- Phase 1` with
///   `  - [ ] 1.1 Setup` under it, or a checklist in a detail) stay text and
///   are reported.
/// - A file whose tasks are headings rather than checkboxes
///   (`### Task 1.1: Setup ✅` with `**Status**: COMPLETED`) has no tasks in
///   this model: everything after the title is kept verbatim in `preamble`.
///
/// Never fails: unreadable parts are kept verbatim and reported as
/// diagnostics: a checkbox with a mark Kiro does not write (`[?]`, kept as
/// text), a sub-task whose id is not numbered under its parent's (`2.1` under
/// `1.`, kept as written) and a checkbox task inside a list item that is not a
/// task (kept as text).
///
/// ```
/// use kiro_core::format::parse_tasks;
/// use kiro_core::spec::TaskStatus;
///
/// let src = "# Plan\n\n- [x] 1. Models\n  - [ ]* 1.1 Test models (Property 2)\n    - _Requirements: 1.1–1.3_\n";
/// let doc = parse_tasks(src).value;
/// let sub = &doc.tasks[0].subtasks[0];
/// assert_eq!(doc.tasks[0].status, TaskStatus::Done);
/// assert!(sub.optional);
/// assert_eq!(sub.requirements.len(), 3);
/// assert_eq!(sub.requirements_source.as_deref(), Some("_Requirements: 1.1–1.3_"));
/// assert_eq!(sub.properties[0].as_str(), "2");
/// ```
pub fn parse_tasks(src: &str) -> Parsed<TaskList> {
    parse_with_marks(src, false).0
}

/// Renders `tasks.md` in the canonical form. Re-parsing the result gives
/// back the same model, and a file already in this form renders byte for
/// byte as it was.
///
/// ```text
/// # Implementation Plan
///
/// <preamble: overview, `## Tasks`, ...>
///
/// - [ ] 1. Top-level task
///   - [ ] 1.1 Sub-task
///     - Detail bullet
///     - _Requirements: 1.1, 1.2_
///
///   - [ ]* 1.2 Optional sub-task
///     - _Requirements: 2.1_
///
/// - [x] 2. Task with details and sub-tasks
///   - Detail bullet
///   - _Requirements: 3.1_
///   - _Depends: 1_
///
///   - [ ] 2.1 (P) Parallel sub-task (cc-sdd)
///
/// <epilogue: `## Notes`, ...>
/// ```
///
/// A task line is `- [m]` with the mark (`[ ]`, `[-]`, `[~]`, `[x]`), `*`
/// right after the box for an optional task, then the id (a single number
/// gets a trailing dot, `1.`; a dotted id does not, `1.1`), then `(P)` for
/// cc-sdd's parallel marker, then the title. Details are `- ` bullets two
/// spaces deeper than the task's marker, then the requirements line, then
/// the depends line. Sub-tasks sit two spaces deeper again. Sibling tasks
/// are separated by one blank line; a task's details and its first
/// sub-task too, but a task without details is followed by its first
/// sub-task directly, as Kiro writes it. Old Kiro and cc-sdd files write
/// sub-tasks flat (`- [ ] 4. Group` directly followed by `- [ ] 4.1 ...` at
/// the same indentation); such lists stay flat in the model and a task
/// without details followed by a sibling numbered under it is written
/// without the blank line, so those files keep their shape too.
///
/// Normalised on rendering (the model does not change): `*` and `+`
/// bullets become `-`, `[X]` becomes `[x]`, cc-sdd's `7.9*` optional marker
/// moves to `- [ ]*`, a trailing `(P)` moves after the id, `1.1.` loses its
/// dot, blank-line runs and whitespace-only lines collapse, tight lists of
/// tasks get their blank lines (and the blank line Kiro's bugfix specs put
/// before a first sub-task goes), the requirements and depends lines move
/// after the other details, and details written after a task's sub-tasks
/// move before them. Status updates during a run do not re-render the file:
/// [`set_task_status`] changes the mark character of one task in place.
pub fn render_tasks(doc: &TaskList) -> String {
    let mut out = String::new();
    if !doc.title.is_empty() {
        out.push_str("# ");
        out.push_str(&doc.title);
    }
    push_part(&mut out, "\n\n", &doc.preamble);
    let mut prev: Option<&Task> = None;
    for task in &doc.tasks {
        push_part(&mut out, "\n\n", &before_text(task, 0));
        let sep = if follows_tightly(prev, task) {
            "\n"
        } else {
            "\n\n"
        };
        push_part(&mut out, sep, &render_task(task, 0));
        prev = Some(task);
    }
    push_part(&mut out, "\n\n", &doc.epilogue);
    finish(out, doc.style.crlf)
}

/// Changes the checkbox mark of one task in `src` and nothing else.
///
/// `path` indexes top-level tasks, then sub-tasks (`[1, 0]` is the first
/// sub-task of the second task), as in [`Locator::Task`]. Only the mark
/// character between the brackets changes: line endings (CRLF included),
/// spacing and every other byte stay as they were, so a person editing the
/// file at the same time loses nothing. A `[X]` that is already done stays
/// `[X]`.
///
/// # Errors
///
/// [`Error::TaskNotFound`] when `path` names no task of the parsed file.
///
/// ```
/// use kiro_core::format::set_task_status;
/// use kiro_core::spec::TaskStatus;
///
/// let src = "# Plan\r\n\r\n- [ ] 1. Build\r\n  - [ ] 1.1 Parse\r\n";
/// let out = set_task_status(src, &[0, 0], TaskStatus::InProgress).unwrap();
/// assert_eq!(out, "# Plan\r\n\r\n- [ ] 1. Build\r\n  - [-] 1.1 Parse\r\n");
/// assert!(set_task_status(src, &[0, 5], TaskStatus::Done).is_err());
/// ```
pub fn set_task_status(src: &str, path: &[usize], status: TaskStatus) -> Result<String, Error> {
    let not_found = || Error::TaskNotFound {
        path: path.to_vec(),
    };
    let (_, marks) = parse_with_marks(src, true);
    let offset = marks
        .iter()
        .find(|(p, _)| p.as_slice() == path)
        .map(|(_, o)| *o)
        .ok_or_else(not_found)?;
    // The marks were found in the LF-normalised text; a CRLF source has one
    // more byte per earlier line. Normalisation only drops the `\r` of
    // `\r\n`, so the offset within the line is the same in both.
    let norm = Source::new(src);
    let line_begin = norm
        .text
        .get(..offset)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_no = norm
        .text
        .get(..line_begin)
        .map_or(0, |s| s.matches('\n').count());
    let orig_line_begin = if line_no == 0 {
        0
    } else {
        src.match_indices('\n')
            .nth(line_no - 1)
            .map(|(i, _)| i + 1)
            .ok_or_else(not_found)?
    };
    let orig = orig_line_begin + (offset - line_begin);
    let old = src.get(orig..).and_then(|s| s.chars().next());
    let current = old.and_then(TaskStatus::from_mark).ok_or_else(not_found)?;
    if current == status {
        return Ok(src.to_owned());
    }
    let mut out = String::with_capacity(src.len());
    out.push_str(src.get(..orig).unwrap_or(""));
    out.push(status.mark());
    out.push_str(src.get(orig + 1..).unwrap_or(""));
    Ok(out)
}

/// Parses and, with `want_marks`, also returns for every task path the
/// byte offset of its mark character in the LF-normalised text.
fn parse_with_marks(src: &str, want_marks: bool) -> (Parsed<TaskList>, Vec<(Vec<usize>, usize)>) {
    let source = Source::new(src);
    let found = blocks(&source.text);
    let mut p = Parser {
        source: &source,
        text: &source.text,
        found: &found,
        // A task and its link lines are items: at most one position each.
        source_map: SourceMap::with_capacity(found.item_count()),
        diagnostics: Vec::new(),
        marks: want_marks.then(Vec::new),
        path: Vec::new(),
        node_pool: Vec::new(),
        line_pool: Vec::new(),
    };
    let value = p.document(&found.blocks);
    let parsed = Parsed {
        value,
        source_map: p.source_map,
        diagnostics: p.diagnostics,
    };
    (parsed, p.marks.unwrap_or_default())
}

/// A detail line of a task being read: its text (borrowed from the source
/// while it needs no rewriting), for bullet items its marker offset, and
/// which link line it is, if any (read once per line).
type Line<'a> = (
    Cow<'a, str>,
    Option<usize>,
    Option<(LinkKind, Range<usize>)>,
);

/// The two kinds of link line under a task.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Requirements,
    Depends,
}

struct Parser<'a> {
    source: &'a Source<'a>,
    text: &'a str,
    /// The document's blocks, with the list items the nodes borrow.
    found: &'a Blocks<'a>,
    source_map: SourceMap,
    diagnostics: Vec<FormatDiagnostic>,
    /// Only [`set_task_status`] needs the marks; parsing skips them.
    marks: Option<Vec<(Vec<usize>, usize)>>,
    /// The path of the task being read, extended for its sub-tasks.
    path: Vec<usize>,
    /// Emptied vectors for reuse, one per nesting level in use, so that
    /// reading a task allocates no scratch vectors of its own.
    node_pool: Vec<Vec<Node<'a>>>,
    line_pool: Vec<Vec<Line<'a>>>,
}

/// A list item grouped by visual indentation: a task with the sibling items
/// indented under it, or any other item; inside a task item also a block.
enum Node<'a> {
    /// The head is kept from grouping, which had to read it anyway.
    Task(&'a Item, Head<'a>, Vec<&'a Item>),
    Other(&'a Item),
    /// Non-list markdown inside a task item, dedented, with a leading
    /// line break (the form of a block detail).
    Block(String),
}

/// The task line's parts before the title. The id borrows the source:
/// heads are read several times per item (grouping, nesting checks, the
/// task itself), and most readings only look at it.
#[derive(Clone, Copy)]
struct Head<'t> {
    status: TaskStatus,
    optional: bool,
    id: Option<&'t str>,
    parallel: bool,
    title_start: usize,
    mark_offset: usize,
}

impl<'a> Parser<'a> {
    fn document(&mut self, all: &'a [Block]) -> TaskList {
        let text = self.text;
        let mut rest = all;
        let mut title = String::new();
        let mut pending = 0;
        if let Some((first, tail)) = all.split_first() {
            if let BlockKind::Heading { level: 1, text: t } = &first.kind {
                title = t.to_string();
                self.source_map
                    .insert(Locator::Title, self.position(first.range.start));
                pending = first.range.end;
                rest = tail;
            }
        }
        let mut preamble = String::new();
        let mut tasks: Vec<Task> = Vec::new();
        for block in rest {
            let BlockKind::List(span) = &block.kind else {
                continue;
            };
            let items = self.found.items(*span);
            if !items.iter().any(|i| self.is_task(i)) {
                continue;
            }
            let mut nodes = self.node_pool.pop().unwrap_or_default();
            self.group_into(items, &mut nodes, &mut None);
            // Sized once: tasks are large, and growing the vector copies them.
            tasks.reserve(nodes.iter().filter(|n| matches!(n, Node::Task(..))).count());
            for node in nodes.drain(..) {
                match node {
                    Node::Block(_) => {}
                    Node::Other(item) => {
                        self.check_mark(item);
                        self.check_nested_tasks(item);
                    }
                    Node::Task(item, head, attached) => {
                        let start = line_begin(text, self.marker_offset(item));
                        let mut before = self.verbatim(pending..start);
                        if !tasks.is_empty() {
                            before = outdent(before);
                        }
                        self.path.clear();
                        self.path.push(tasks.len());
                        let mut task = self.task(item, head, &attached, None);
                        if tasks.is_empty() {
                            preamble = before;
                        } else {
                            task.before = before;
                        }
                        pending = attached
                            .last()
                            .map_or(item.range.end, |a| a.range.end.max(item.range.end));
                        tasks.push(task);
                    }
                }
            }
            self.node_pool.push(nodes);
        }
        let mut epilogue = self.verbatim(pending..text.len());
        if tasks.is_empty() {
            // No checkbox tasks (for instance `### Task 1.1: ...` headings):
            // the whole body is kept as the preamble.
            preamble = std::mem::take(&mut epilogue);
        } else {
            epilogue = outdent(epilogue);
        }
        TaskList {
            title,
            preamble,
            tasks,
            epilogue,
            style: TextStyle {
                crlf: self.source.crlf,
            },
        }
    }

    fn verbatim(&self, range: Range<usize>) -> String {
        if range.start >= range.end {
            return String::new();
        }
        let raw = self.source.slice(range);
        // Between tasks there is usually only a blank line, which trims to
        // nothing: a plain `trim` says so for less than a line split.
        if raw.trim().is_empty() {
            return String::new();
        }
        trim_blank_lines(raw).to_owned()
    }

    fn position(&self, offset: usize) -> Position {
        let (line, column) = self.source.line_col(offset);
        Position { line, column }
    }

    /// Offset of the list marker (the first non-blank byte of the item).
    fn marker_offset(&self, item: &Item) -> usize {
        self.visible(item.range.start)
    }

    /// The first byte at or after `offset` that is not blank. pulldown-cmark
    /// may start a nested list or item at the line break before its line.
    fn visible(&self, offset: usize) -> usize {
        let mut i = offset;
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n')) {
            i += 1;
        }
        i
    }

    /// The start of the line where a nested list begins.
    fn list_line(&self, range: &Range<usize>) -> usize {
        line_begin(self.text, self.visible(range.start))
    }

    fn marker_column(&self, item: &Item) -> usize {
        let at = self.marker_offset(item);
        at - line_begin(self.text, at)
    }

    fn is_bullet(item: &Item) -> bool {
        matches!(item.marker.as_str(), "-" | "*" | "+")
    }

    fn is_task(&self, item: &Item) -> bool {
        self.head(item).is_some()
    }

    /// Reports a bullet item whose checkbox holds a mark Kiro never writes.
    fn check_mark(&mut self, item: &Item) {
        if !Self::is_bullet(item) {
            return;
        }
        if let Some((mark, _)) = checkbox(self.text, item.content_start) {
            if TaskStatus::from_mark(mark).is_none() {
                let position = self.position(item.content_start);
                self.diagnostics.push(FormatDiagnostic {
                    position,
                    message: format!("unknown task mark `[{mark}]`, kept as text"),
                    expected: "one of `[ ]`, `[-]`, `[~]`, `[x]`".to_owned(),
                });
            }
        }
    }

    /// Reports checkbox tasks nested in a list item that is not a task
    /// (`- Phase 1` with `  - [ ] 1.1 ...` under it): they stay text.
    fn check_nested_tasks(&mut self, item: &Item) {
        for list in self.found.lists(item) {
            for nested in self.found.items(list.items) {
                if self.is_task(nested) {
                    let position = self.position(self.marker_offset(nested));
                    self.diagnostics.push(FormatDiagnostic {
                        position,
                        message: "task inside a list item that is not a task, kept as text"
                            .to_owned(),
                        expected: "tasks at the top level or under another task".to_owned(),
                    });
                } else {
                    self.check_nested_tasks(nested);
                }
            }
        }
    }

    /// Groups items so that an item indented deeper than the task item
    /// before it belongs to that task (see the module documentation),
    /// appending to `out`. `task_column` is the marker column of the task
    /// node last in `out`; a run of items continues across calls until a
    /// block node ends it.
    fn group_into(
        &self,
        items: impl IntoIterator<Item = &'a Item>,
        out: &mut Vec<Node<'a>>,
        task_column: &mut Option<usize>,
    ) {
        for item in items {
            let column = self.marker_column(item);
            let head = self.head(item);
            if let (Some(tc), Some(Node::Task(_, task_head, attached))) =
                (*task_column, out.last_mut())
            {
                if column > tc && belongs_under(task_head, head.as_ref(), column - tc) {
                    attached.push(item);
                    continue;
                }
            }
            if let Some(head) = head {
                *task_column = Some(column);
                out.push(Node::Task(item, head, Vec::new()));
            } else {
                *task_column = None;
                out.push(Node::Other(item));
            }
        }
    }

    /// Reads the checkbox, optional star, id and `(P)` of a task item.
    fn head(&self, item: &Item) -> Option<Head<'a>> {
        if !Self::is_bullet(item) {
            return None;
        }
        let text = self.text;
        let bytes = text.as_bytes();
        let (mark, mut pos) = checkbox(text, item.content_start)?;
        let status = TaskStatus::from_mark(mark)?;
        let is_gap = |b: Option<&u8>| matches!(b, None | Some(b' ' | b'\t' | b'\n'));
        let mut optional = false;
        if bytes.get(pos) == Some(&b'*') && is_gap(bytes.get(pos + 1)) {
            optional = true;
            pos += 1;
        }
        let skip_spaces = |mut p: usize| {
            while matches!(bytes.get(p), Some(b' ' | b'\t')) {
                p += 1;
            }
            p
        };
        pos = skip_spaces(pos);
        let id_start = pos;
        let mut p = pos;
        while bytes.get(p).is_some_and(u8::is_ascii_digit)
            || (bytes.get(p) == Some(&b'.')
                && p > id_start
                && bytes.get(p + 1).is_some_and(u8::is_ascii_digit))
        {
            p += 1;
        }
        let mut id = None;
        if p > id_start {
            let id_end = p;
            if bytes.get(p) == Some(&b'.') {
                p += 1;
            }
            let star = bytes.get(p) == Some(&b'*');
            if star {
                p += 1;
            }
            if is_gap(bytes.get(p)) {
                id = text.get(id_start..id_end);
                optional |= star;
                pos = skip_spaces(p);
            }
        }
        let mut parallel = false;
        if text.get(pos..).is_some_and(|s| s.starts_with("(P)")) && is_gap(bytes.get(pos + 3)) {
            parallel = true;
            pos = skip_spaces(pos + 3);
        }
        Some(Head {
            status,
            optional,
            id,
            parallel,
            title_start: pos,
            mark_offset: item.content_start + 1,
        })
    }

    /// Builds the task of `item` (whose head grouping read), with the
    /// sibling items `attached` to it; `self.path` is its path.
    fn task(
        &mut self,
        item: &'a Item,
        head: Head<'a>,
        attached: &[&'a Item],
        parent: Option<&str>,
    ) -> Task {
        let mut task = Task::default();
        let at = self.marker_offset(item);
        self.source_map.insert(
            Locator::Task {
                path: TaskPath::from(self.path.as_slice()),
            },
            self.position(at),
        );
        if let Some(marks) = &mut self.marks {
            marks.push((self.path.clone(), head.mark_offset));
        }
        task.status = head.status;
        task.optional = head.optional;
        task.parallel = head.parallel;
        task.id = head.id.map(TaskId::new);
        if let (Some(parent), Some(id)) = (parent, &task.id) {
            if !is_numbered_under(id.as_str(), parent) {
                let prefix = format!("{parent}.");
                self.diagnostics.push(FormatDiagnostic {
                    position: self.position(at),
                    message: format!(
                        "sub-task `{id}` is not numbered under its parent task `{parent}`, kept as written"
                    ),
                    expected: format!("a sub-task id starting with `{prefix}`"),
                });
            }
        }

        // The title is the item's first paragraph, which any nested list ends.
        let limit = self
            .found
            .lists(item)
            .first()
            .map_or(item.range.end, |l| self.list_line(&l.range))
            .max(head.title_start);
        let title_end = self.title_end(head.title_start, limit, item.content_indent);
        let raw_title = self.source.slice(head.title_start..title_end);
        // Most titles are one line, which has nothing to dedent: the title
        // is then trimmed in place and copied once.
        let dedented = if has_newline(raw_title) {
            Cow::Owned(dedent_rest(raw_title, item.content_indent))
        } else {
            Cow::Borrowed(raw_title)
        };
        let mut title = dedented.trim();
        if !task.parallel {
            if let Some(t) = title.strip_suffix(" (P)") {
                title = t.trim_end();
                task.parallel = true;
            }
        }
        task.title = title.to_owned();

        let mut nodes = self.node_pool.pop().unwrap_or_default();
        self.children(item, attached, title_end, &mut nodes);
        // Details in order, with the marker offset of bullet ones.
        let mut lines = self.line_pool.pop().unwrap_or_default();
        // Sized once: a task is large, and most tasks have no sub-tasks or few.
        let subtasks = nodes.iter().filter(|n| matches!(n, Node::Task(..))).count();
        task.subtasks.reserve_exact(subtasks);
        for node in nodes.drain(..) {
            match node {
                Node::Block(b) => lines.push((Cow::Owned(b), None, None)),
                Node::Task(sub, sub_head, sub_attached) => {
                    self.path.push(task.subtasks.len());
                    let subtask = self.task(sub, sub_head, &sub_attached, head.id);
                    self.path.pop();
                    task.subtasks.push(subtask);
                }
                Node::Other(other) => {
                    self.check_mark(other);
                    self.check_nested_tasks(other);
                    let text = self.item_text(other);
                    let kind = link_kind(&text);
                    lines.push((text, Some(self.marker_offset(other)), kind));
                }
            }
        }
        self.node_pool.push(nodes);
        // The last link line of each kind is the link; earlier ones stay details.
        let take_last = |lines: &mut Vec<Line<'a>>, kind: LinkKind| {
            let i = lines
                .iter()
                .rposition(|(_, _, k)| k.as_ref().is_some_and(|(k, _)| *k == kind))?;
            let (text, at, link) = lines.remove(i);
            let ids = link.map_or(0..0, |(_, ids)| ids);
            Some((text, at.unwrap_or(0), ids))
        };
        let requirements = take_last(&mut lines, LinkKind::Requirements);
        let depends = take_last(&mut lines, LinkKind::Depends);
        let mut details: Vec<String> = Vec::with_capacity(lines.len());
        details.extend(lines.drain(..).map(|(t, _, _)| t.into_owned()));
        self.line_pool.push(lines);
        if let Some((line, at, ids)) = requirements {
            parse_id_list_into(line.get(ids).unwrap_or(""), &mut task.requirements);
            let ids = task.requirements.iter().map(CriterionId::as_str);
            if !is_canonical_link(&line, "Requirements", ids) {
                task.requirements_source = Some(line.into_owned());
            }
            self.source_map.insert(
                Locator::TaskRequirements {
                    path: TaskPath::from(self.path.as_slice()),
                },
                self.position(at),
            );
        }
        if let Some((line, at, ids)) = depends {
            parse_id_list_into(line.get(ids).unwrap_or(""), &mut task.depends_on);
            let ids = task.depends_on.iter().map(TaskId::as_str);
            if !is_canonical_link(&line, "Depends", ids) {
                task.depends_source = Some(line.into_owned());
            }
            self.source_map.insert(
                Locator::TaskDepends {
                    path: TaskPath::from(self.path.as_slice()),
                },
                self.position(at),
            );
        }
        let (details, properties) = split_properties(&task.title, details);
        task.details = merge_blocks(details);
        task.properties = properties;
        task
    }

    /// A nested list whose items are read one by one (bullets outside a
    /// block quote); numbered lists and quoted lists stay blocks.
    fn list_is_children(&self, range: &Range<usize>, items: &[Item]) -> bool {
        let indent = self
            .text
            .get(self.list_line(range)..self.visible(range.start))
            .unwrap_or("");
        indent.chars().all(|c| c == ' ' || c == '\t') && items.first().is_some_and(Self::is_bullet)
    }

    /// Where the paragraph starting at `from` ends (before its line break).
    fn title_end(&self, from: usize, limit: usize, content_indent: usize) -> usize {
        let text = self.text;
        let Some(window) = text.get(from..limit) else {
            return from;
        };
        let Some(first_break) = memchr::memchr(b'\n', window.as_bytes()) else {
            return limit;
        };
        let mut end = from + first_break;
        loop {
            let begin = end + 1;
            if begin >= limit {
                break;
            }
            let line_end = text
                .get(begin..limit)
                .and_then(|s| s.find('\n'))
                .map_or(limit, |i| begin + i);
            let line = text.get(begin..line_end).unwrap_or("");
            if line.trim().is_empty() || interrupts_paragraph(line, content_indent) {
                break;
            }
            end = line_end;
        }
        end
    }

    /// The content of a task item after its title, plus attached items,
    /// grouped into `out`: blocks separate runs of items, and each run is
    /// grouped by indentation.
    fn children(
        &self,
        item: &'a Item,
        attached: &[&'a Item],
        title_end: usize,
        out: &mut Vec<Node<'a>>,
    ) {
        let mut task_column = None;
        let mut cursor = title_end;
        for list in self.found.lists(item) {
            let (range, items) = (&list.range, self.found.items(list.items));
            if !self.list_is_children(range, items) {
                continue;
            }
            let start = self.list_line(range);
            if start > cursor {
                self.push_block(out, cursor..start, item.content_indent);
            }
            self.group_into(items, out, &mut task_column);
            cursor = cursor.max(range.end);
        }
        if item.range.end > cursor {
            self.push_block(out, cursor..item.range.end, item.content_indent);
        }
        self.group_into(attached.iter().copied(), out, &mut task_column);
    }

    fn push_block(&self, out: &mut Vec<Node<'a>>, range: Range<usize>, indent: usize) {
        let raw = self.source.slice(range);
        // Usually the gap is only the line break before a nested list,
        // which would come out empty below: skip the copies.
        if raw.trim().is_empty() {
            return;
        }
        let dedented = dedent_all(raw, indent);
        let mut block = Cow::Borrowed(trim_blank_lines(&dedented));
        // One to three spaces of indentation do not change what a paragraph
        // or list means, but rendered under a bullet detail they would put
        // the block inside that bullet on the next parse. Drop them.
        let min_indent = block
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start_matches(' ').len())
            .min()
            .unwrap_or(0);
        if (1..=3).contains(&min_indent) {
            block = Cow::Owned(dedent_all(&block, min_indent));
        }
        if block.is_empty() {
            return;
        }
        // The detail is built in one string: its leading line break, the
        // block, and the closing fence when one is left open.
        let fence = open_fence(&block);
        let fence_len = fence.map_or(0, |(c, n)| 1 + n * c.len_utf8());
        let mut detail = String::with_capacity(1 + block.len() + fence_len);
        detail.push('\n');
        detail.push_str(&block);
        if let Some((c, n)) = fence {
            detail.push('\n');
            detail.extend(std::iter::repeat_n(c, n));
        }
        out.push(Node::Block(detail));
    }

    /// A bullet item's text without its marker, continuation lines dedented.
    fn item_text(&self, item: &Item) -> Cow<'a, str> {
        let raw = self.source.slice(item.content_start..item.range.end);
        // Most details are one line, which has nothing to dedent and is
        // borrowed from the source until the detail is kept.
        if !has_newline(raw) {
            return Cow::Borrowed(raw.trim_end());
        }
        let mut text = dedent_rest(raw, item.content_indent);
        // Trimmed in place: the end first, then (for content that starts
        // on the line after the marker) the start, which gives the same
        // text as trimming the start first.
        text.truncate(text.trim_end().len());
        if text.starts_with('\n') {
            let lead = text.len() - text.trim_start_matches(['\n', ' ']).len();
            text.drain(..lead);
        }
        Cow::Owned(text)
    }
}

/// Offset of the start of the line holding `offset` (0 when `offset` is
/// not a char boundary of `text`), as `markdown::line_start` computes it.
/// It is asked for every list item, and lines are short: a plain byte loop
/// back to the line break is cheaper than setting up a reverse search.
fn line_begin(text: &str, offset: usize) -> usize {
    if !text.is_char_boundary(offset) {
        return 0;
    }
    let bytes = text.as_bytes();
    let mut i = offset;
    while i > 0 && bytes.get(i - 1) != Some(&b'\n') {
        i -= 1;
    }
    i
}

/// Whether an item with head `item` (`None`: not a task), indented `deeper`
/// columns more than the sibling task item with head `task`, belongs under
/// it. Any non-task item does; a task item does when its id is numbered
/// under the task's id (so ` - [x] 5.` after `- [x] 4.` stays a sibling),
/// or, without ids to compare, when it is indented by a whole nesting step.
fn belongs_under(task: &Head<'_>, item: Option<&Head<'_>>, deeper: usize) -> bool {
    let Some(sub) = item else {
        return true;
    };
    match (task.id, sub.id) {
        (Some(parent), Some(id)) => is_numbered_under(id, parent),
        _ => deeper >= 2,
    }
}

/// `str::contains('\n')` with the `memchr` crate's search, which costs less
/// than the standard library's on the short texts of titles and details.
fn has_newline(text: &str) -> bool {
    memchr::memchr(b'\n', text.as_bytes()).is_some()
}

/// `true` when `id` starts with `parent` followed by a dot (`1.2` under `1`).
fn is_numbered_under(id: &str, parent: &str) -> bool {
    id.strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Reads `[c]` at `at`, followed by a blank, `*` or the end of the line;
/// returns the mark and the offset after `]`.
fn checkbox(text: &str, at: usize) -> Option<(char, usize)> {
    // Read by bytes around the mark (every list item is asked, most are not
    // tasks): `[`, `]` and what may follow are ASCII, so each offset below
    // is a char boundary when its byte matches.
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    let mark = text.get(at + 1..)?.chars().next()?;
    if mark != ' ' && mark.is_whitespace() {
        return None;
    }
    let close = at + 1 + mark.len_utf8();
    if bytes.get(close) != Some(&b']') {
        return None;
    }
    let after = close + 1;
    match bytes.get(after) {
        None | Some(b' ' | b'\t' | b'\n' | b'*') => Some((mark, after)),
        _ => None,
    }
}

/// `true` when `line` starts a block that ends a paragraph (a fence, an ATX
/// heading, a block quote, an HTML comment or a thematic break), judged relative to the
/// item's content indentation.
fn interrupts_paragraph(line: &str, content_indent: usize) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent >= content_indent + 4 {
        return false;
    }
    let t = line.trim();
    if t.starts_with("```") || t.starts_with("~~~") || t.starts_with('>') {
        return true;
    }
    let hashes = t.len() - t.trim_start_matches('#').len();
    if (1..=6).contains(&hashes)
        && t.get(hashes..)
            .is_some_and(|r| r.is_empty() || r.starts_with(' '))
    {
        return true;
    }
    if t.starts_with("<!--") {
        return true;
    }
    // A thematic break: three or more `*`, `-` or `_`, spaces allowed.
    let mut marks = t.chars().filter(|c| *c != ' ');
    match marks.next() {
        Some(m @ ('*' | '-' | '_')) => {
            let mut count = 1;
            for c in marks {
                if c != m {
                    return false;
                }
                count += 1;
            }
            count >= 3
        }
        _ => false,
    }
}

/// Text that followed a task item without belonging to it was indented
/// less than that item's content. Written after a canonical task (content
/// two spaces in), indented text could become part of the task, so each of
/// its top-level blocks moves to column 0 the way verbatim text after a list
/// does in `requirements.md`. Shifting every line by the first line's
/// indentation instead would change what some lines mean: inside a fence
/// opened one space in, a closing fence indented four spaces is code, but
/// shifted one space to the left it closes the fence.
fn outdent(text: String) -> String {
    // Any indentation counts: tasks render at column 0, so even one space
    // would make the text look deeper than the task before it on re-parse.
    let first = text.len() - text.trim_start_matches(' ').len();
    if first == 0 {
        return text;
    }
    blocks_to_column_zero(text)
}

/// A code fence left open in a task item ends with the item. Rendered as
/// a detail, which comes before the requirements line and sub-tasks, it
/// would swallow them, so the fence is closed: this returns the fence
/// character and length to close it with, or `None` when no fence is open.
fn open_fence(block: &str) -> Option<(char, usize)> {
    let mut open: Option<(char, usize)> = None;
    for line in block.lines() {
        let t = line.trim_start_matches(' ');
        if line.len() - t.len() > 3 {
            continue;
        }
        let Some(c @ ('`' | '~')) = t.chars().next() else {
            continue;
        };
        let run = t.len() - t.trim_start_matches(c).len();
        match open {
            None if run >= 3 => open = Some((c, run)),
            Some((o, n))
                if o == c && run >= n && t.get(run..).is_some_and(|r| r.trim().is_empty()) =>
            {
                open = None;
            }
            _ => {}
        }
    }
    open
}

/// The ids of a link line `_<label>: <ids>_` whose label is one of
/// `labels`, or `None` when `line` is not such a line.
fn link_ids(line: &str, labels: &[&str]) -> Option<Vec<String>> {
    link_ids_text(line, labels).map(parse_id_list)
}

/// The id list text of a link line, for checks that only ask whether a
/// line is a link line (each detail line is asked) without reading its ids.
fn link_ids_text<'l>(line: &'l str, labels: &[&str]) -> Option<&'l str> {
    let (label, rest) = link_parts(line)?;
    has_label(labels, label).then(|| line.get(rest)).flatten()
}

/// Which link line `line` is, with the byte range of its id list text (what
/// [`link_ids_text`] returns): the label sets do not overlap, so one reading
/// of the label answers for both kinds, and the line is not read again.
fn link_kind(line: &str) -> Option<(LinkKind, Range<usize>)> {
    let (label, rest) = link_parts(line)?;
    if has_label(REQUIREMENT_LABELS, label) {
        Some((LinkKind::Requirements, rest))
    } else if has_label(DEPENDS_LABELS, label) {
        Some((LinkKind::Depends, rest))
    } else {
        None
    }
}

fn has_label(labels: &[&str], label: &str) -> bool {
    labels
        .iter()
        .any(|l| *l == label || l.eq_ignore_ascii_case(label))
}

/// The label and the byte range in `line` of the id list text of a line
/// shaped `_<label>: <ids>_`.
fn link_parts(line: &str) -> Option<(&str, Range<usize>)> {
    let lead = line.len() - line.trim_start().len();
    let inner = line.trim().strip_prefix('_')?.strip_suffix('_')?;
    let inner_at = lead + 1;
    // A byte search for `:` or the first byte of `：` (EF BC 9A): a `find`
    // with a set of chars decodes every char, and every detail line is read.
    let bytes = inner.as_bytes();
    let colon = memchr::memchr2_iter(b':', 0xEF, bytes).find(|&i| {
        bytes.get(i) == Some(&b':') || bytes.get(i + 1..i + 3) == Some(&[0xBC, 0x9A][..])
    })?;
    let label = inner.get(..colon)?.trim();
    let rest = inner.get(colon..)?;
    let skip = rest.chars().next()?.len_utf8();
    Some((label, inner_at + colon + skip..inner_at + inner.len()))
}

fn canonical_link(label: &str, ids: &[&str]) -> String {
    format!("_{label}: {}_", format_id_list(ids))
}

/// `line == canonical_link(label, ids)`, compared piece by piece: the
/// parser asks this for every link line it reads.
fn is_canonical_link<'i>(line: &str, label: &str, ids: impl Iterator<Item = &'i str>) -> bool {
    let Some(list) = line
        .strip_prefix('_')
        .and_then(|l| l.strip_prefix(label))
        .and_then(|l| l.strip_prefix(": "))
        .and_then(|l| l.strip_suffix('_'))
    else {
        return false;
    };
    let mut rest = list;
    for (i, id) in ids.enumerate() {
        if i > 0 {
            match rest.strip_prefix(", ") {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(id) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The requirements line to write: the source line while it still reads as
/// the same ids, else the canonical line (none without ids).
fn requirements_line(task: &Task) -> Option<String> {
    link_line(
        "Requirements",
        REQUIREMENT_LABELS,
        &task
            .requirements
            .iter()
            .map(CriterionId::as_str)
            .collect::<Vec<_>>(),
        task.requirements_source.as_deref(),
    )
}

fn depends_line(task: &Task) -> Option<String> {
    link_line(
        "Depends",
        DEPENDS_LABELS,
        &task
            .depends_on
            .iter()
            .map(TaskId::as_str)
            .collect::<Vec<_>>(),
        task.depends_source.as_deref(),
    )
}

fn link_line(label: &str, labels: &[&str], ids: &[&str], source: Option<&str>) -> Option<String> {
    if let Some(src) = source {
        if let Some(read) = link_ids(src, labels) {
            if read.iter().map(String::as_str).eq(ids.iter().copied()) {
                return Some(src.to_owned());
            }
        }
    }
    (!ids.is_empty()).then(|| canonical_link(label, ids))
}

/// Joins block details that end up next to each other (once link lines
/// and property markers are taken out): rendered with a blank line between
/// them they read back as one block, so they are one block.
fn merge_blocks(details: Vec<String>) -> Vec<String> {
    // Adjacent blocks are rare; most tasks keep their vector as it is.
    let adjacent = details
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.starts_with('\n') && b.starts_with('\n')));
    if !adjacent {
        return details;
    }
    let mut out: Vec<String> = Vec::with_capacity(details.len());
    for d in details {
        match out.last_mut() {
            Some(prev) if prev.starts_with('\n') && d.starts_with('\n') => {
                prev.push('\n');
                prev.push_str(&d);
            }
            _ => out.push(d),
        }
    }
    out
}

/// Property ids mentioned in `text`, in order (duplicates kept).
fn property_mentions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_mention(text, |m| out.push(m));
    out
}

/// Calls `f` with each property id mentioned in `text`, in order
/// (duplicates kept), without collecting them: every title and detail is
/// scanned, and most mention no property.
fn for_each_mention<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    // Every spelling starts with `P` or a non-ASCII byte; most texts have
    // neither, which two word-at-a-time scans tell.
    let ascii = text.is_ascii();
    if ascii && memchr::memchr(b'P', text.as_bytes()).is_none() {
        return;
    }
    // The ASCII spellings all start with "Prop" and differ after it, so
    // one pass over the `P`s (a byte search) finds each of their
    // occurrences once, in order.
    let ascii_mentions = memchr::memchr_iter(b'P', text.as_bytes()).filter_map(|at| {
        let rest = text.get(at..).unwrap_or("");
        if !rest.starts_with("Prop") {
            return None;
        }
        let word = PROPERTY_WORDS
            .iter()
            .find(|w| w.starts_with("Prop") && rest.starts_with(**w))?;
        mention_at(text, at, word).map(|m| (at, m))
    });
    if ascii {
        for (_, m) in ascii_mentions {
            f(m);
        }
        return;
    }
    // The other spellings interleave with the ASCII ones: collect, then
    // order by position.
    let mut found: Vec<(usize, &str)> = ascii_mentions.collect();
    for word in PROPERTY_WORDS.iter().filter(|w| !w.starts_with("Prop")) {
        for (at, _) in text.match_indices(word) {
            if let Some(m) = mention_at(text, at, word) {
                found.push((at, m));
            }
        }
    }
    found.sort();
    for (_, m) in found {
        f(m);
    }
}

/// The number after the property word `word` at `at`, unless the word is
/// glued to a preceding letter or digit or no number follows.
fn mention_at<'t>(text: &'t str, at: usize, word: &str) -> Option<&'t str> {
    let glued = text
        .get(..at)
        .and_then(|s| s.chars().next_back())
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if glued {
        return None;
    }
    let after = text.get(at + word.len()..).unwrap_or("");
    let digits_at = after.trim_start_matches(' ');
    let len = digits_at.len()
        - digits_at
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    digits_at.get(..len).filter(|d| !d.is_empty())
}

/// The property of a detail that is exactly `**Property N**`.
fn marker_property(detail: &str) -> Option<&str> {
    let n = detail
        .trim()
        .strip_prefix("**Property ")?
        .strip_suffix("**")?;
    (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then_some(n)
}

/// Separates marker-only property details from the others and collects
/// the task's properties: mentioned ones in order, then marker-only ones.
fn split_properties(title: &str, mut details: Vec<String>) -> (Vec<String>, Vec<PropertyId>) {
    let mut ids: Vec<PropertyId> = Vec::new();
    let mut add = |id: &str| {
        if !ids.iter().any(|p| p.as_str() == id) {
            ids.push(PropertyId::new(id));
        }
    };
    // Without marker details (the usual case) every mention counts, in
    // order, and nothing needs to be collected first.
    if !details.iter().any(|d| marker_property(d).is_some()) {
        for_each_mention(title, &mut add);
        for d in &details {
            for_each_mention(d, &mut add);
        }
        return (details, ids);
    }
    // A marker detail is taken out when it is the only mention of its
    // property; the mentions are counted over the title and all details.
    let title_mentions = property_mentions(title);
    let detail_mentions: Vec<Vec<&str>> = details.iter().map(|d| property_mentions(d)).collect();
    let count = |id: &str| {
        title_mentions
            .iter()
            .chain(detail_mentions.iter().flatten())
            .filter(|m| **m == id)
            .count()
    };
    let mut keep: Vec<bool> = Vec::with_capacity(details.len());
    let mut markers: Vec<&str> = Vec::new();
    let mut mentioned: Vec<&str> = title_mentions.clone();
    for (d, mentions) in details.iter().zip(&detail_mentions) {
        match marker_property(d) {
            Some(id) if count(id) == 1 => {
                markers.push(id);
                keep.push(false);
            }
            _ => {
                mentioned.extend(mentions);
                keep.push(true);
            }
        }
    }
    for id in mentioned.into_iter().chain(markers) {
        add(id);
    }
    drop(detail_mentions);
    let mut flags = keep.into_iter();
    details.retain(|_| flags.next().unwrap_or(true));
    (details, ids)
}

fn push_part(out: &mut String, sep: &str, part: &str) {
    if part.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str(sep);
    }
    out.push_str(part);
}

/// The verbatim text before a task, indented for its depth.
fn before_text(task: &Task, depth: usize) -> String {
    if task.before.is_empty() || depth == 0 {
        return task.before.clone();
    }
    indent_all(&task.before, depth * 2)
}

/// `true` when a task has no lines under its title.
fn has_body(task: &Task) -> bool {
    !task.details.is_empty()
        || !task.subtasks.is_empty()
        || requirements_line(task).is_some()
        || depends_line(task).is_some()
        || !unmentioned_properties(task).is_empty()
}

/// Kiro and cc-sdd write a group task without details directly followed by
/// its first (flat) sub-task: `- [ ] 4. Group\n- [ ] 4.1 First`.
fn follows_tightly(prev: Option<&Task>, task: &Task) -> bool {
    let (Some(prev), Some(id)) = (prev, &task.id) else {
        return false;
    };
    task.before.is_empty()
        && !has_body(prev)
        && prev.id.is_some()
        && id.parent().as_ref() == prev.id.as_ref()
}

fn unmentioned_properties(task: &Task) -> Vec<&PropertyId> {
    let mut mentioned = property_mentions(&task.title);
    for d in &task.details {
        for_each_mention(d, |m| mentioned.push(m));
    }
    let mut out: Vec<&PropertyId> = Vec::new();
    for p in &task.properties {
        if !mentioned.iter().any(|m| *m == p.as_str()) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn bullet(text: &str, indent: usize) -> String {
    let mut s = " ".repeat(indent);
    if text.is_empty() {
        s.push('-');
    } else {
        s.push_str("- ");
        s.push_str(&indent_rest(text, indent + 2));
    }
    s
}

fn render_task(task: &Task, depth: usize) -> String {
    let pad = depth * 2;
    let content = pad + 2;
    let mut out = " ".repeat(pad);
    out.push_str("- [");
    out.push(task.status.mark());
    out.push(']');
    if task.optional {
        out.push('*');
    }
    out.push(' ');
    if let Some(id) = &task.id {
        out.push_str(id.as_str());
        if !id.as_str().contains('.') {
            out.push('.');
        }
        out.push(' ');
    }
    if task.parallel {
        out.push_str("(P) ");
    }
    out.push_str(&indent_rest(&task.title, content));
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);

    // Body parts: (text, is_block). Blocks are set off by blank lines.
    let mut parts: Vec<(String, bool)> = Vec::new();
    for d in &task.details {
        match d.strip_prefix('\n') {
            Some(block) => parts.push((indent_all(block, content), true)),
            None => parts.push((bullet(d, content), false)),
        }
    }
    for p in unmentioned_properties(task) {
        parts.push((bullet(&format!("**Property {p}**"), content), false));
    }
    if let Some(line) = requirements_line(task) {
        parts.push((bullet(&line, content), false));
    }
    if let Some(line) = depends_line(task) {
        parts.push((bullet(&line, content), false));
    }
    let mut prev_block = false;
    for (i, (text, block)) in parts.iter().enumerate() {
        // An empty bullet right under the title would underline it as a
        // setext heading (`Title` over `-`); a blank line keeps it a bullet.
        let empty_first = i == 0 && text.trim_start() == "-";
        out.push_str(if prev_block || *block || empty_first {
            "\n\n"
        } else {
            "\n"
        });
        out.push_str(text);
        prev_block = *block;
    }
    let mut prev: Option<&Task> = None;
    for sub in &task.subtasks {
        let before = before_text(sub, depth + 1);
        let sep = match prev {
            None if parts.is_empty() && before.is_empty() => "\n",
            None => "\n\n",
            Some(_) if follows_tightly(prev, sub) => "\n",
            Some(_) => "\n\n",
        };
        if !before.is_empty() {
            out.push_str("\n\n");
            out.push_str(&before);
            out.push_str("\n\n");
        } else {
            out.push_str(sep);
        }
        out.push_str(&render_task(sub, depth + 1));
        prev = Some(sub);
    }
    out
}
