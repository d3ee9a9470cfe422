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
use crate::lexicon::{
    is_lowercase_entry, BOUNDARY_LABELS, DEFAULT_BOUNDARY_LINK, DEFAULT_DEPENDS_LINK,
    DEFAULT_PROPERTY, DEFAULT_REPOS_LINK, DEFAULT_REQUIREMENTS_LINK, DEPENDS_LABELS,
    PROPERTY_WORDS, REPOS_LABELS, REQUIREMENT_LABELS,
};
use crate::spec::{
    is_numbered_under, CriterionId, PropertyId, Task, TaskForm, TaskId, TaskList, TaskStatus,
    TextStyle,
};
use crate::Error;

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
/// - Tasks at the same indentation nest by their numbers: a task numbered
///   under the task before it (`2.1` after `2`), or under that task's last
///   sub-task and so on down (`2.1.1` after `2.1`), is the sub-task of the
///   deepest of them, as old Kiro and cc-sdd write `- [ ] 2. Build` with
///   `- [ ] 2.1 ...` on the next line. A parent whose first sub-task is
///   placed so keeps writing them at its indentation
///   ([`TaskForm::FlatItem`]). An unnumbered task, or one numbered under no
///   task still open, is a sibling; so is a task with text before it whose
///   parent writes its sub-tasks indented (the text would join that
///   parent's item once written there).
/// - A heading that reads as a task line without its checkbox (`## 2. Title
///   (P)`, `#### 1.1 Title`, `## [x] 2. Title`; any level, `(P)` before or
///   after the title) is a task group ([`TaskForm::Heading`]) when the next
///   task of the document, item or group heading, is numbered under it: the
///   tasks numbered under it that follow are its sub-tasks, by the rule
///   above. A numbered heading followed by other tasks (`## 2. Tasks` above
///   `- [ ] 1. ...`) stays text. What stands between a group heading and its
///   first sub-task is the group's: a paragraph of `_Label: ..._` lines
///   gives one detail or link line per line (cc-sdd's `_Boundary: ..._`),
///   bullets are details and link lines as under a task item, anything else
///   is a block detail. Without a checkbox, a group's status is derived:
///   done when all its sub-tasks are, in progress when one has started,
///   else not started.
/// - A bullet item under a task is a detail (its text without the `- `,
///   nested bullets kept and dedented), the requirements line
///   (`_Requirements: ..._`, `_需求: ..._`, `_Requisitos: ..._`, any label of
///   [`crate::lexicon::REQUIREMENT_LABELS`], case ignored), the depends line
///   (`_Depends: ..._`, [`crate::lexicon::DEPENDS_LABELS`]) or, with a
///   checkbox, a sub-task. When a
///   task has several requirements (or depends) lines, the last one is the
///   link and the others stay details, so rendering (which writes the link
///   line after the details) reads back the same way.
/// - The depends list is split into items at `,` and `;` (and their
///   full-width forms, and `、`); an item with letters or digits but no task
///   id (`task one`, `v2`, `none`) is kept in [`Task::unreadable_depends`],
///   never dropped: lint reports it (K0018) and the engine refuses to run
///   the plan. Words around an id (`Task 1.2`, `1 (the schema)`) are notes.
/// - A repositories line (`_Repos: api, web_`,
///   [`crate::lexicon::REPOS_LABELS`]) and a boundary line
///   (`_Boundary: core_`) stay details where written; their values are
///   [`Task::repos`] and [`Task::boundary`], and rendering rewrites the line
///   only when the value was edited.
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
/// - `Property N` (any word of [`crate::lexicon::PROPERTY_WORDS`] as it is
///   spelled there: `属性 N`, `Eigenschaft N`, `Свойство N`, ...; `property
///   N` in lower case is prose) in the title or a detail fills
///   `properties`, in order of first mention. A property in `properties` that the title and details do
///   not mention renders as an extra `- **Property N**` detail after the
///   others, and such a marker line, when it is the only mention of its
///   property, is read back into `properties` rather than `details`.
/// - Other headings, prose, rules and lists without checkboxes between
///   tasks go verbatim into the next task's `before`, or into the list's `epilogue`
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
/// - A file whose tasks are headings without checkbox items under them
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
///
/// // cc-sdd: a group heading, and sub-tasks written flat.
/// let src = "## 1. Foundation (P)\n\n_Boundary: config_\n\n- [x] 1.1 Setup\n\n- [ ] 2. Build\n- [ ] 2.1 Parser\n";
/// let doc = parse_tasks(src).value;
/// let (group, build) = (&doc.tasks[0], &doc.tasks[1]);
/// assert!(group.parallel);
/// assert_eq!(group.details, ["_Boundary: config_"]);
/// assert_eq!(group.status, TaskStatus::Done);
/// assert_eq!(build.subtasks[0].title, "Parser");
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
/// - [ ] 3. Group with flat sub-tasks (old Kiro, cc-sdd)
/// - [ ] 3.1 First sub-task
///   - Detail bullet
///
/// - [ ] 3.2 Second sub-task
///
/// ## 4. Group heading (P)
///
/// _Boundary: core_
/// _Requirements: 4.1_
///
/// - [ ] 4.1 Sub-task of the group
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
/// sub-task directly, as Kiro writes it.
///
/// A task read with flat sub-tasks ([`TaskForm::FlatItem`]) writes them at
/// its own indentation, the first one directly under a task without
/// details (`- [ ] 3. Group` then `- [ ] 3.1 ...`), so old Kiro and cc-sdd
/// files keep their shape. A group heading ([`TaskForm::Heading`]) is
/// written `<#…> [m] <id> <title> (P)` (the checkbox only when it had one;
/// without it, an optional group's star follows the id, `3.*`), then, after
/// a blank line, its details at column 0: `_Label: ..._` details and link
/// lines as lines of one paragraph, other details as bullets or blocks;
/// then its sub-tasks at column 0. A form the file cannot express is
/// written as a checkbox item with indented sub-tasks, which reads back as
/// the same tasks: a heading or flat form when a sub-task is not numbered
/// under the task, a heading below column 0 or with a title of several
/// lines.
///
/// Normalised on rendering (the model does not change): `*` and `+`
/// bullets become `-`, `[X]` becomes `[x]`, cc-sdd's `7.9*` optional marker
/// moves to `- [ ]*`, a trailing `(P)` moves after the id of a task item
/// (and a leading one after the title of a group heading), `1.1.` loses its
/// dot and a group heading's closing `#` run goes, blank-line runs and whitespace-only lines collapse, tight lists of
/// tasks get their blank lines (and the blank line Kiro's bugfix specs put
/// before a first sub-task goes), the requirements and depends lines move
/// after the other details, details written after a task's sub-tasks
/// move before them, and a task with indented sub-tasks writes a flat one
/// read after them indented too. Status updates during a run do not re-render the file:
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
/// `[X]`. A group heading without a checkbox has no mark: its status is
/// derived from its sub-tasks, and the text comes back unchanged.
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
    let (parsed, marks) = parse_with_marks(src, true);
    let Some(offset) = marks
        .iter()
        .find(|(p, _)| p.as_slice() == path)
        .map(|(_, o)| *o)
    else {
        // A group heading without a checkbox has no mark to change: its
        // status is its sub-tasks'.
        return match task_at(&parsed.value.tasks, path) {
            Some(_) => Ok(src.to_owned()),
            None => Err(not_found()),
        };
    };
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
        chain: Vec::new(),
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
    /// Scratch index path for placing a sub-task written flat.
    chain: Vec<usize>,
}

/// The body of a task group heading being read: what stands between the
/// heading and its first sub-task.
struct Body<'a> {
    /// The group's task, put in place once its body is read.
    task: Task,
    /// Where it goes.
    path: TaskPath,
    /// The end of what the body has read so far.
    cursor: usize,
    /// Its details and link lines, as under a task item.
    lines: Vec<Line<'a>>,
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
    fn document(&mut self, all: &'a [Block<'a>]) -> TaskList {
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
        let groups = self.group_headings(rest);
        let mut groups = groups.into_iter().peekable();
        let mut preamble = String::new();
        let mut tasks: Vec<Task> = Vec::new();
        // The text before the first task is the preamble, not its `before`.
        let mut first = true;
        // The group heading whose body (what stands before its first
        // sub-task) is being read.
        let mut body: Option<Body<'a>> = None;
        for (index, block) in rest.iter().enumerate() {
            match &block.kind {
                BlockKind::Heading {
                    level,
                    text: heading,
                } if groups.peek().is_some_and(|(i, _, _)| *i == index) => {
                    let Some((_, head, checkbox)) = groups.next() else {
                        continue;
                    };
                    let start = line_begin(text, self.visible(block.range.start));
                    if let Some(open) = body.take() {
                        self.close_body(open, start, &mut tasks);
                        pending = start;
                    }
                    let before = self.between(pending..start, first);
                    // A heading is written at column 0, so it can only join
                    // a parent whose sub-tasks are written there.
                    self.place(&tasks, head.id, true);
                    let mut task = self.heading_task(block, heading, *level, &head, checkbox);
                    if first {
                        preamble = before;
                        first = false;
                    } else {
                        task.before = before;
                    }
                    body = Some(Body {
                        task,
                        path: TaskPath::from(self.path.as_slice()),
                        cursor: block.range.end,
                        lines: self.line_pool.pop().unwrap_or_default(),
                    });
                    pending = block.range.end;
                }
                BlockKind::List(span) => {
                    let items = self.found.items(*span);
                    if !items.iter().any(|i| self.is_task(i)) {
                        // A bullet list under a group heading is its details.
                        if let Some(open) = body.as_mut() {
                            if items.first().is_some_and(Self::is_bullet) {
                                for item in items {
                                    self.check_mark(item);
                                    self.check_nested_tasks(item);
                                    self.body_bullet(open, item);
                                }
                            }
                        }
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
                                if let Some(open) = body.as_mut() {
                                    self.body_bullet(open, item);
                                }
                            }
                            Node::Task(item, head, attached) => {
                                let start = line_begin(text, self.marker_offset(item));
                                if let Some(open) = body.take() {
                                    self.close_body(open, start, &mut tasks);
                                    pending = start;
                                }
                                let before = self.between(pending..start, first);
                                self.place(&tasks, head.id, !first && !before.is_empty());
                                let mut task = self.task(item, head, &attached, None);
                                if first {
                                    preamble = before;
                                    first = false;
                                } else {
                                    task.before = before;
                                }
                                pending = attached
                                    .last()
                                    .map_or(item.range.end, |a| a.range.end.max(item.range.end));
                                insert(&mut tasks, &self.path, task);
                            }
                        }
                    }
                    self.node_pool.push(nodes);
                }
                BlockKind::Other => {
                    if let Some(open) = body.as_mut() {
                        self.body_paragraph(open, block);
                    }
                }
                BlockKind::Heading { .. } => {}
            }
        }
        if let Some(open) = body.take() {
            // Not reached for a heading chosen as a group (a sub-task follows
            // it), but the text is kept either way.
            self.close_body(open, text.len(), &mut tasks);
            pending = text.len();
        }
        let mut epilogue = self.verbatim(pending..text.len());
        if tasks.is_empty() {
            // No checkbox tasks (for instance `### Task 1.1: ...` headings):
            // the whole body is kept as the preamble.
            preamble = std::mem::take(&mut epilogue);
        } else {
            epilogue = outdent(epilogue);
        }
        derive_group_status(&mut tasks);
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

    /// The verbatim text before a task: the preamble for the first task, else
    /// its `before`, moved to column 0 (see [`outdent`]).
    fn between(&self, range: Range<usize>, first: bool) -> String {
        let text = self.verbatim(range);
        if first {
            text
        } else {
            outdent(text)
        }
    }

    /// Sets `self.path` to the path a task numbered `id`, read at the top
    /// level after `tasks`, takes: under the task its numbering names (see
    /// [`flat_parent`]), else after the last top-level task.
    fn place(&mut self, tasks: &[Task], id: Option<&str>, column_zero: bool) {
        self.path.clear();
        if id.is_some_and(|id| flat_parent(tasks, id, column_zero, &mut self.path)) {
            let n = task_at(tasks, &self.path).map_or(0, |t| t.subtasks.len());
            self.path.push(n);
        } else {
            self.path.push(tasks.len());
        }
    }

    /// The task group headings among `blocks`, in document order, with
    /// their heads. A heading that reads as a task line without its
    /// checkbox (`## 2. Title (P)`, any level, the checkbox optional) is a
    /// group when the next task of the document, checkbox item or group
    /// heading, is numbered under it; otherwise it is text like any other
    /// heading (`## 2. Tasks` above `- [ ] 1. ...`).
    fn group_headings(&self, blocks: &'a [Block<'a>]) -> Vec<(usize, Head<'a>, bool)> {
        let mut out = Vec::new();
        // Most files have no heading that starts like a task: one look at
        // each heading's first byte settles that before any reading.
        let numbered = |b: &Block<'_>| {
            matches!(&b.kind, BlockKind::Heading { text, .. }
                if text.as_bytes().first().is_some_and(|c| c.is_ascii_digit() || *c == b'['))
        };
        if !blocks.iter().any(numbered) {
            return out;
        }
        // Read backwards, so that the next task is known at each heading.
        let mut next: Option<&'a str> = None;
        for (index, block) in blocks.iter().enumerate().rev() {
            match &block.kind {
                BlockKind::List(span) => {
                    if let Some(head) = self.found.items(*span).iter().find_map(|i| self.head(i)) {
                        next = head.id;
                    }
                }
                BlockKind::Heading { text, .. } => {
                    let Some((head, checkbox)) = heading_head(text) else {
                        continue;
                    };
                    if let (Some(id), Some(sub)) = (head.id, next) {
                        if is_numbered_under(sub, id) {
                            out.push((index, head, checkbox));
                            next = Some(id);
                        }
                    }
                }
                BlockKind::Other => {}
            }
        }
        out.reverse();
        out
    }

    /// Builds the task of a group heading; `self.path` is its path. Its
    /// details, links and sub-tasks are added as they are read.
    fn heading_task(
        &mut self,
        block: &Block<'_>,
        text: &str,
        level: u8,
        head: &Head<'_>,
        checkbox: bool,
    ) -> Task {
        let at = self.visible(block.range.start);
        self.source_map.insert(
            Locator::Task {
                path: TaskPath::from(self.path.as_slice()),
            },
            self.position(at),
        );
        if checkbox {
            if let Some(marks) = &mut self.marks {
                // The checkbox is the first `[` of the heading line: only
                // `#` marks and blanks stand before it.
                let line = self.text.get(at..).unwrap_or("");
                let line = line.split('\n').next().unwrap_or("");
                if let Some(i) = memchr::memchr(b'[', line.as_bytes()) {
                    marks.push((self.path.clone(), at + i + 1));
                }
            }
        }
        let mut title = text.get(head.title_start..).unwrap_or("").trim();
        let mut parallel = head.parallel;
        if !parallel {
            if let Some(t) = title.strip_suffix(" (P)") {
                title = t.trim_end();
                parallel = true;
            }
        }
        Task {
            id: head.id.map(TaskId::new),
            title: title.to_owned(),
            status: head.status,
            optional: head.optional,
            parallel,
            form: TaskForm::Heading { level, checkbox },
            ..Task::default()
        }
    }

    /// Reads the text of a group's body up to `end` as one block detail.
    fn body_gap(&self, open: &mut Body<'a>, end: usize) {
        if end > open.cursor {
            if let Some(detail) = self.gap_detail(open.cursor..end) {
                open.lines.push((Cow::Owned(detail), None, None));
            }
        }
        open.cursor = open.cursor.max(end);
    }

    /// A bullet item under a group heading: a detail, a link line, or a
    /// property marker, as under a task item.
    fn body_bullet(&self, open: &mut Body<'a>, item: &Item) {
        let at = self.marker_offset(item);
        self.body_gap(open, line_begin(self.text, at));
        let text = self.item_text(item);
        let kind = link_kind(&text);
        open.lines.push((text, Some(at), kind));
        open.cursor = open.cursor.max(item.range.end);
    }

    /// A paragraph under a group heading made of `_Label: ..._` lines only
    /// (cc-sdd's `_Boundary: ..._`, `_Requirements: ..._`): one detail or
    /// link line per line. Any other block stays in the text read as a
    /// block detail.
    fn body_paragraph(&self, open: &mut Body<'a>, block: &Block<'_>) {
        if self
            .found
            .paragraphs
            .binary_search(&block.range.start)
            .is_err()
        {
            return;
        }
        let text = self.text;
        let para = text.get(block.range.clone()).unwrap_or("");
        if !para.split('\n').all(|l| link_parts(l.trim()).is_some()) {
            return;
        }
        self.body_gap(open, line_begin(text, block.range.start));
        let mut at = block.range.start;
        for line in para.split('\n') {
            let lead = line.len() - line.trim_start().len();
            let label = line.trim();
            open.lines
                .push((Cow::Borrowed(label), Some(at + lead), link_kind(label)));
            at += line.len() + 1;
        }
        open.cursor = open.cursor.max(block.range.end);
    }

    /// Ends a group's body at `end` (its first sub-task) and puts the group
    /// task in place.
    fn close_body(&mut self, mut open: Body<'a>, end: usize, tasks: &mut Vec<Task>) {
        self.body_gap(&mut open, end);
        self.path.clear();
        self.path.extend_from_slice(&open.path);
        let mut task = open.task;
        self.finish_details(&mut task, &mut open.lines);
        self.line_pool.push(open.lines);
        insert(tasks, &open.path, task);
    }

    /// The text between a group heading and what follows, as a block
    /// detail: trimmed of blank lines, moved to column 0 when indented (a
    /// group's details are written at column 0, where indentation could
    /// attach the text to a bullet detail before it), a fence left open
    /// closed.
    fn gap_detail(&self, range: Range<usize>) -> Option<String> {
        let raw = self.source.slice(range);
        if raw.trim().is_empty() {
            return None;
        }
        let block = outdent(trim_blank_lines(raw).to_owned());
        Some(block_detail(&block))
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
        let (mark, pos) = checkbox(self.text, item.content_start)?;
        let status = TaskStatus::from_mark(mark)?;
        Some(read_head(
            self.text,
            pos,
            status,
            true,
            item.content_start + 1,
        ))
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
                    // A sub-task at the indentation of the one before it
                    // and numbered under it (`1.1.1` after `1.1`) is its
                    // sub-task; any other is this task's.
                    let base = self.path.len();
                    self.chain.clear();
                    let flat = sub_head
                        .id
                        .is_some_and(|id| flat_parent(&task.subtasks, id, false, &mut self.chain));
                    let parent = if flat {
                        self.path.extend_from_slice(&self.chain);
                        let n =
                            task_at(&task.subtasks, &self.chain).map_or(0, |t| t.subtasks.len());
                        self.path.push(n);
                        None
                    } else {
                        self.path.push(task.subtasks.len());
                        head.id
                    };
                    let subtask = self.task(sub, sub_head, &sub_attached, parent);
                    insert(
                        &mut task.subtasks,
                        self.path.get(base..).unwrap_or(&[]),
                        subtask,
                    );
                    self.path.truncate(base);
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
        self.finish_details(&mut task, &mut lines);
        self.line_pool.push(lines);
        task
    }

    /// Fills a task's links, details and properties from the lines read
    /// under it (emptied); `self.path` is its path.
    fn finish_details(&mut self, task: &mut Task, lines: &mut Vec<Line<'a>>) {
        // The last link line of each kind is the link; earlier ones stay details.
        let take_last = |lines: &mut Vec<Line<'a>>, kind: LinkKind| {
            let i = lines
                .iter()
                .rposition(|(_, _, k)| k.as_ref().is_some_and(|(k, _)| *k == kind))?;
            let (text, at, link) = lines.remove(i);
            let ids = link.map_or(0..0, |(_, ids)| ids);
            Some((text, at.unwrap_or(0), ids))
        };
        let requirements = take_last(lines, LinkKind::Requirements);
        let depends = take_last(lines, LinkKind::Depends);
        let mut details: Vec<String> = Vec::with_capacity(lines.len());
        details.extend(lines.drain(..).map(|(t, _, _)| t.into_owned()));
        if let Some((line, at, ids)) = requirements {
            parse_id_list_into(line.get(ids).unwrap_or(""), &mut task.requirements);
            let ids = task.requirements.iter().map(CriterionId::as_str);
            if !is_canonical_link(&line, DEFAULT_REQUIREMENTS_LINK, ids) {
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
            let value = line.get(ids).unwrap_or("");
            parse_id_list_into(value, &mut task.depends_on);
            unreadable_items(value, &mut task.unreadable_depends);
            let ids = task.depends_on.iter().map(TaskId::as_str);
            if !is_canonical_link(&line, DEFAULT_DEPENDS_LINK, ids) {
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
        task.boundary = boundary_index(&task.details)
            .and_then(|i| task.details.get(i))
            .and_then(|d| boundary_value(d))
            .map(str::to_owned);
        task.repos = repos_index(&task.details)
            .and_then(|i| task.details.get(i))
            .and_then(|d| repos_value(d))
            .unwrap_or_default();
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
        out.push(Node::Block(block_detail(&block)));
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

/// A block detail: the block after a line break, with a code fence left
/// open closed (see [`open_fence`]), built in one string.
fn block_detail(block: &str) -> String {
    let fence = open_fence(block);
    let fence_len = fence.map_or(0, |(c, n)| 1 + n * c.len_utf8());
    let mut detail = String::with_capacity(1 + block.len() + fence_len);
    detail.push('\n');
    detail.push_str(block);
    if let Some((c, n)) = fence {
        detail.push('\n');
        detail.extend(std::iter::repeat_n(c, n));
    }
    detail
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

/// Reads what follows a task's checkbox (at `pos`, after `]`), or the start
/// of a group heading without one: `*` for an optional task (right after a
/// checkbox only), the id with its optional dot and cc-sdd's `7.9*` star,
/// and a leading `(P)`. `mark_offset` is the offset of the mark character.
fn read_head(
    text: &str,
    mut pos: usize,
    status: TaskStatus,
    after_checkbox: bool,
    mark_offset: usize,
) -> Head<'_> {
    let bytes = text.as_bytes();
    let is_gap = |b: Option<&u8>| matches!(b, None | Some(b' ' | b'\t' | b'\n'));
    let mut optional = false;
    if after_checkbox && bytes.get(pos) == Some(&b'*') && is_gap(bytes.get(pos + 1)) {
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
    Head {
        status,
        optional,
        id,
        parallel,
        title_start: pos,
        mark_offset,
    }
}

/// Reads a heading's text as the head of a task group: an optional
/// checkbox, then a task number (`2.`, `1.1`), then the title. Returns the
/// head and whether it had a checkbox; `None` without a number or with a
/// mark Kiro does not write. The mark offset is not known here (the text
/// is the heading's, not the document's).
fn heading_head(text: &str) -> Option<(Head<'_>, bool)> {
    let (status, pos, boxed) = match checkbox(text, 0) {
        Some((mark, pos)) => (TaskStatus::from_mark(mark)?, pos, true),
        None => (TaskStatus::NotStarted, 0, false),
    };
    let head = read_head(text, pos, status, boxed, 0);
    head.id.is_some().then_some((head, boxed))
}

/// Where a task numbered `id`, read after `siblings` at their indentation,
/// belongs when its numbering names a task before it: old Kiro and cc-sdd
/// write `- [ ] 2.1` right under `- [ ] 2.` at the same indentation, and
/// group headings put their sub-tasks at column 0.
///
/// The candidates are the last sibling, its last sub-task, that one's last
/// sub-task and so on (the tasks still open where `id` is read); the
/// deepest one whose id `id` is numbered under is the parent. Its index
/// path (relative to `siblings`) is written to `path` and `true` returned;
/// `false` leaves `id` a sibling. With `column_zero` (the task is a heading,
/// or has verbatim text before it), the parent must write its sub-tasks at
/// column 0, where that text can stand between tasks without joining one
/// of them; if it does not, the task stays a sibling rather than joining a
/// shallower parent, which a re-read would decide differently.
fn flat_parent(siblings: &[Task], id: &str, column_zero: bool, path: &mut Vec<usize>) -> bool {
    path.clear();
    let mut best: Option<(usize, bool)> = None;
    let mut level = siblings;
    let mut column = 0;
    while let Some(task) = level.last() {
        path.push(level.len() - 1);
        let layout = layout(task, column);
        if task
            .id
            .as_ref()
            .is_some_and(|p| is_numbered_under(id, p.as_str()))
        {
            // The sub-tasks of the candidate, once `id` joins them, are
            // written at column 0 when it is at column 0 and flat.
            let flat = match task.form {
                TaskForm::Item => task.subtasks.is_empty(),
                TaskForm::FlatItem => layout == Layout::Flat,
                TaskForm::Heading { level, .. } => can_be_heading(task, level, column),
            };
            best = Some((path.len(), column == 0 && flat));
        }
        if layout == Layout::Nested {
            column += 2;
        }
        level = &task.subtasks;
    }
    match best {
        Some((len, at_zero)) if at_zero || !column_zero => {
            path.truncate(len);
            true
        }
        _ => {
            path.clear();
            false
        }
    }
}

/// The task at an index path of `tasks`.
fn task_at<'t>(tasks: &'t [Task], path: &[usize]) -> Option<&'t Task> {
    let (first, rest) = path.split_first()?;
    let task = tasks.get(*first)?;
    if rest.is_empty() {
        Some(task)
    } else {
        task_at(&task.subtasks, rest)
    }
}

fn task_at_mut<'t>(tasks: &'t mut [Task], path: &[usize]) -> Option<&'t mut Task> {
    let (first, rest) = path.split_first()?;
    let task = tasks.get_mut(*first)?;
    if rest.is_empty() {
        Some(task)
    } else {
        task_at_mut(&mut task.subtasks, rest)
    }
}

/// Puts `task` at `path` (relative to `tasks`; its last index is where it
/// goes among its parent's sub-tasks, which is their end). A checkbox task
/// whose first sub-task is placed this way writes its sub-tasks flat.
fn insert(tasks: &mut Vec<Task>, path: &[usize], task: Task) {
    let Some((_, parent)) = path.split_last() else {
        return;
    };
    if parent.is_empty() {
        tasks.push(task);
        return;
    }
    match task_at_mut(tasks, parent) {
        Some(p) => {
            if p.form == TaskForm::Item && p.subtasks.is_empty() {
                p.form = TaskForm::FlatItem;
            }
            p.subtasks.push(task);
        }
        None => tasks.push(task),
    }
}

/// Sets the status of every group heading without a checkbox from its
/// sub-tasks (deepest first): done when all are done, in progress when one
/// has started, else not started.
fn derive_group_status(tasks: &mut [Task]) {
    for task in tasks {
        derive_group_status(&mut task.subtasks);
        if matches!(
            task.form,
            TaskForm::Heading {
                checkbox: false,
                ..
            }
        ) && !task.subtasks.is_empty()
        {
            task.status = if task.subtasks.iter().all(|t| t.status == TaskStatus::Done) {
                TaskStatus::Done
            } else if task
                .subtasks
                .iter()
                .any(|t| t.status != TaskStatus::NotStarted)
            {
                TaskStatus::InProgress
            } else {
                TaskStatus::NotStarted
            };
        }
    }
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
    // The labels kiro writes first: one exact comparison settles most lines.
    if label == DEFAULT_REQUIREMENTS_LINK || has_label(REQUIREMENT_LABELS, label) {
        Some((LinkKind::Requirements, rest))
    } else if label == DEFAULT_DEPENDS_LINK || has_label(DEPENDS_LABELS, label) {
        Some((LinkKind::Depends, rest))
    } else {
        None
    }
}

/// Whether `label` is one of `labels`: exactly, or ignoring case (the
/// lexicon writes some tables lower-case, and `_Требования: 1_` is the same
/// label as `_требования: 1_`).
fn has_label(labels: &[&str], label: &str) -> bool {
    if label.is_ascii() {
        return labels.iter().any(|l| l.eq_ignore_ascii_case(label));
    }
    labels.contains(&label) || is_lowercase_entry(label, labels)
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

/// Appends to `out` each item of a depends list that names no task: an
/// item (the text between `,`, `;`, `、` or their full-width forms) with a
/// letter or digit but no id that [`parse_id_list`] reads. Items without
/// either (`-`, an empty list) say "nothing" and are not reported.
fn unreadable_items(value: &str, out: &mut Vec<String>) {
    let mut ids: Vec<TaskId> = Vec::new();
    for item in value.split([',', ';', '、', '，', '；']) {
        let item = item.trim();
        if !item.chars().any(char::is_alphanumeric) {
            continue;
        }
        ids.clear();
        parse_id_list_into(item, &mut ids);
        if ids.is_empty() {
            out.push(item.to_owned());
        }
    }
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
        DEFAULT_REQUIREMENTS_LINK,
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
        DEFAULT_DEPENDS_LINK,
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
///
/// A mention is a word of [`PROPERTY_WORDS`] as the lexicon spells it,
/// followed by a number (`Property 3`, `属性3`). The case matters: the
/// template designer writes `property 3` in prose precisely so that it is
/// not read as a link.
fn for_each_mention<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    let bytes = text.as_bytes();
    let ascii = text.is_ascii();
    let mut from = 0;
    while let Some(at) = next_word_start(bytes, from, ascii) {
        from = at + 1;
        let rest = text.get(at..).unwrap_or("");
        // Only the words starting with this byte are compared.
        let mut words = bytes.get(at).map_or(0, |b| WORD_STARTS[usize::from(*b)]);
        while words != 0 {
            let i = words.trailing_zeros() as usize;
            words &= words - 1;
            let Some(word) = PROPERTY_WORDS.get(i) else {
                break;
            };
            if rest.starts_with(word) {
                if let Some(m) = mention_at(text, at, word) {
                    f(m);
                    break;
                }
            }
        }
    }
}

/// For each byte, the property words starting with it (bit `i` for word
/// `i`): a mention can only start at a byte with some.
const WORD_STARTS: [u64; 256] = first_bytes(PROPERTY_WORDS);

// One bit per word: a longer table needs a wider mask (the build stops here).
const _: () = assert!(PROPERTY_WORDS.len() <= 64);

/// The distinct first bytes of the all-ASCII property words, and how many
/// there are (4 meaning more than three).
const ASCII_STARTS: ([u8; 3], usize) = ascii_first_bytes(PROPERTY_WORDS);

const fn first_bytes(words: &[&str]) -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < words.len() && i < 64 {
        if let Some(b) = words[i].as_bytes().first() {
            table[*b as usize] |= 1 << i;
        }
        i += 1;
    }
    table
}

const fn ascii_first_bytes(words: &[&str]) -> ([u8; 3], usize) {
    let mut out = [0u8; 3];
    let mut n = 0;
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_bytes();
        if word.is_ascii() && !word.is_empty() {
            let b = word[0];
            let mut seen = false;
            let mut j = 0;
            while j < n && j < 3 {
                seen |= out[j] == b;
                j += 1;
            }
            if !seen {
                if n < 3 {
                    out[n] = b;
                }
                if n < 4 {
                    n += 1;
                }
            }
        }
        i += 1;
    }
    (out, n)
}

/// The first offset at or after `from` where a property word may start.
/// ASCII text (most titles and details) can only hold the ASCII words,
/// whose few first bytes one vectorised search finds; other text is
/// scanned byte by byte against the table of first bytes.
fn next_word_start(bytes: &[u8], from: usize, ascii: bool) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let found = match ASCII_STARTS {
        _ if !ascii => rest.iter().position(|b| WORD_STARTS[usize::from(*b)] != 0),
        (_, 0) => None,
        ([a, _, _], 1) => memchr::memchr(a, rest),
        ([a, b, _], 2) => memchr::memchr2(a, b, rest),
        ([a, b, c], 3) => memchr::memchr3(a, b, c, rest),
        _ => rest.iter().position(|b| WORD_STARTS[usize::from(*b)] != 0),
    };
    found.map(|i| from + i)
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

/// The property of a detail that is exactly `**Property N**`, the marker
/// rendering writes for a property no title or detail mentions.
fn marker_property(detail: &str) -> Option<&str> {
    let n = detail
        .trim()
        .strip_prefix("**")?
        .strip_prefix(DEFAULT_PROPERTY)?
        .strip_prefix(' ')?
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

/// The verbatim text before a task, indented to the column the task is
/// written at.
fn before_text(task: &Task, column: usize) -> String {
    if task.before.is_empty() || column == 0 {
        return task.before.clone();
    }
    indent_all(&task.before, column)
}

/// The index in `details` of a task's boundary line (the last one).
fn boundary_index(details: &[String]) -> Option<usize> {
    details.iter().rposition(|d| boundary_value(d).is_some())
}

/// The value of a boundary line `_Boundary: <name>_`.
fn boundary_value(line: &str) -> Option<&str> {
    if line.starts_with('\n') {
        return None;
    }
    let (label, rest) = link_parts(line)?;
    if !has_label(BOUNDARY_LABELS, label) {
        return None;
    }
    Some(line.get(rest)?.trim())
}

/// The boundary line to write in place of `source`: the source while it
/// still says `boundary`, the source's label with the new value otherwise,
/// none when the boundary was removed.
fn boundary_line(source: &str, boundary: Option<&str>) -> Option<String> {
    let boundary = boundary?;
    if boundary_value(source) == Some(boundary) {
        return Some(source.to_owned());
    }
    let label = link_parts(source).map_or(DEFAULT_BOUNDARY_LINK, |(l, _)| l);
    Some(format!("_{label}: {boundary}_"))
}

/// The index in `details` of a task's repositories line (the last one).
fn repos_index(details: &[String]) -> Option<usize> {
    details.iter().rposition(|d| repos_value(d).is_some())
}

/// The names of a repositories line `_Repos: api, web_`: the items between
/// commas (or `;`, `、` and their full-width forms) or spaces, code spans
/// unwrapped. A line whose label is not a repositories label is `None`.
fn repos_value(line: &str) -> Option<Vec<String>> {
    if line.starts_with('\n') {
        return None;
    }
    let (label, rest) = link_parts(line)?;
    if !has_label(REPOS_LABELS, label) {
        return None;
    }
    let value = line.get(rest)?;
    Some(
        value
            .split(|c: char| matches!(c, ',' | ';' | '、' | '，' | '；') || c.is_whitespace())
            .map(|item| item.trim_matches('`'))
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The repositories line to write in place of `source`: the source while it
/// still names `repos`, the source's label with the new names otherwise,
/// none when the repositories were removed.
fn repos_line(source: &str, repos: &[String]) -> Option<String> {
    if repos.is_empty() {
        return None;
    }
    if repos_value(source).as_deref() == Some(repos) {
        return Some(source.to_owned());
    }
    let label = link_parts(source).map_or(DEFAULT_REPOS_LINK, |(l, _)| l);
    Some(format!("_{label}: {}_", repos.join(", ")))
}

/// `true` when a task has no lines under its title.
fn has_body(task: &Task) -> bool {
    task.boundary.is_some()
        || !task.repos.is_empty()
        || !task.details.is_empty()
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

/// Where a task's sub-tasks are written, decided from its form and what
/// the file can express: a heading needs column 0, a one-line title and
/// sub-tasks numbered under it (they follow it at column 0 and are read
/// back by their numbers), and flat sub-tasks need the same numbering.
/// Otherwise the task is written as a checkbox item with its sub-tasks
/// indented, which reads back as the same tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// A checkbox item, sub-tasks two columns deeper.
    Nested,
    /// A checkbox item, sub-tasks at its column.
    Flat,
    /// A group heading of this level, with or without a checkbox.
    Heading(u8, bool),
}

fn layout(task: &Task, column: usize) -> Layout {
    let numbered = || {
        task.id.as_ref().is_some_and(|id| {
            !task.subtasks.is_empty()
                && task.subtasks.iter().all(|s| {
                    s.id.as_ref()
                        .is_some_and(|s| is_numbered_under(s.as_str(), id.as_str()))
                })
        })
    };
    match task.form {
        TaskForm::Item => Layout::Nested,
        TaskForm::FlatItem if numbered() => Layout::Flat,
        TaskForm::Heading { level, checkbox }
            if can_be_heading(task, level, column) && numbered() =>
        {
            Layout::Heading(level, checkbox)
        }
        _ => Layout::Nested,
    }
}

/// Whether a task can be written as a heading of `level` at `column`, its
/// sub-tasks aside.
fn can_be_heading(task: &Task, level: u8, column: usize) -> bool {
    column == 0 && (1..=6).contains(&level) && !has_newline(&task.title)
}

/// How a part of a task's body is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A `- ` bullet.
    Bullet,
    /// A block set off by blank lines.
    Block,
    /// A line of its own under a group heading (`_Boundary: ..._`); lines
    /// next to each other form one paragraph.
    Line,
}

/// `true` for a detail a group heading writes as a line of its own: one
/// `_Label: ..._` line, which reads back as itself.
fn is_label_line(detail: &str) -> bool {
    !has_newline(detail) && detail.trim() == detail && link_parts(detail).is_some()
}

fn render_task(task: &Task, column: usize) -> String {
    let layout = layout(task, column);
    let content = column + 2;
    let heading = matches!(layout, Layout::Heading(..));
    let mut out = match layout {
        Layout::Heading(level, checkbox) => heading_line(task, level, checkbox),
        Layout::Nested | Layout::Flat => item_line(task, column),
    };

    // Body parts. Under a heading they are written at column 0, link lines
    // as lines of their own; under an item, two columns in, as bullets.
    let (indent, line_kind) = if heading {
        (0, Part::Line)
    } else {
        (content, Part::Bullet)
    };
    let label = |text: &str| -> (String, Part) {
        if line_kind == Part::Line && is_label_line(text) {
            (text.to_owned(), Part::Line)
        } else {
            (bullet(text, indent), Part::Bullet)
        }
    };
    let mut parts: Vec<(String, Part)> = Vec::new();
    // The boundary line is written where it stood, rewritten when the
    // model's boundary differs from it.
    let boundary_at = boundary_index(&task.details);
    let repos_at = repos_index(&task.details);
    for (i, d) in task.details.iter().enumerate() {
        if Some(i) == boundary_at {
            if let Some(line) = boundary_line(d, task.boundary.as_deref()) {
                parts.push(label(&line));
            }
            continue;
        }
        if Some(i) == repos_at {
            if let Some(line) = repos_line(d, &task.repos) {
                parts.push(label(&line));
            }
            continue;
        }
        match d.strip_prefix('\n') {
            Some(block) => parts.push((indent_all(block, indent), Part::Block)),
            None => parts.push(label(d)),
        }
    }
    if boundary_at.is_none() {
        if let Some(b) = &task.boundary {
            parts.push(label(&format!("_{DEFAULT_BOUNDARY_LINK}: {b}_")));
        }
    }
    if repos_at.is_none() && !task.repos.is_empty() {
        let names = task.repos.join(", ");
        parts.push(label(&format!("_{DEFAULT_REPOS_LINK}: {names}_")));
    }
    for p in unmentioned_properties(task) {
        parts.push((
            bullet(&format!("**{DEFAULT_PROPERTY} {p}**"), indent),
            Part::Bullet,
        ));
    }
    if let Some(line) = requirements_line(task) {
        parts.push(label(&line));
    }
    if let Some(line) = depends_line(task) {
        parts.push(label(&line));
    }
    let mut prev: Option<Part> = None;
    for (i, (text, part)) in parts.iter().enumerate() {
        // An empty bullet right under the title would underline it as a
        // setext heading (`Title` over `-`); a blank line keeps it a bullet.
        let empty_first = i == 0 && text.trim_start() == "-";
        let tight = match prev {
            // A heading's body is set off from it.
            None => !heading && *part == Part::Bullet && !empty_first,
            Some(p) => p == *part && p != Part::Block,
        };
        out.push_str(if tight { "\n" } else { "\n\n" });
        out.push_str(text);
        prev = Some(*part);
    }

    let child_column = match layout {
        Layout::Nested => content,
        Layout::Flat | Layout::Heading(..) => column,
    };
    let mut prev: Option<&Task> = None;
    for sub in &task.subtasks {
        let before = before_text(sub, child_column);
        let sep = match prev {
            None if parts.is_empty() && before.is_empty() && !heading => "\n",
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
        out.push_str(&render_task(sub, child_column));
        prev = Some(sub);
    }
    out
}

/// Writes a task number as a line shows it: `1.` for a top-level id,
/// `1.2` as it is.
fn push_task_number(out: &mut String, id: &TaskId) {
    out.push_str(id.as_str());
    if !id.as_str().contains('.') {
        out.push('.');
    }
}

/// `- [m]* 1.2 (P) Title` at `column`.
fn item_line(task: &Task, column: usize) -> String {
    let mut out = " ".repeat(column);
    out.push_str("- [");
    out.push(task.status.mark());
    out.push(']');
    if task.optional {
        out.push('*');
    }
    out.push(' ');
    if let Some(id) = &task.id {
        push_task_number(&mut out, id);
        out.push(' ');
    }
    if task.parallel {
        out.push_str("(P) ");
    }
    out.push_str(&indent_rest(&task.title, column + 2));
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// `## [m]* 1. Title (P)`: cc-sdd writes a group's `(P)` after its title.
/// The checkbox is written only when the source had one; without it, an
/// optional group's star follows the id (`1.*`), as cc-sdd marks optional
/// tasks. A title that itself starts with `(P)` gets the marker before it,
/// where reading takes it from.
fn heading_line(task: &Task, level: u8, checkbox: bool) -> String {
    let mut out = "#".repeat(usize::from(level));
    out.push(' ');
    if checkbox {
        out.push('[');
        out.push(task.status.mark());
        out.push(']');
        if task.optional {
            out.push('*');
        }
        out.push(' ');
    }
    if let Some(id) = &task.id {
        push_task_number(&mut out, id);
        if task.optional && !checkbox {
            out.push('*');
        }
    }
    let title = task.title.as_str();
    let leading = title
        .strip_prefix("(P)")
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']));
    if task.parallel && (leading || title.is_empty()) {
        out.push_str(" (P)");
    }
    if !title.is_empty() {
        out.push(' ');
        out.push_str(title);
        if task.parallel && !leading {
            out.push_str(" (P)");
        }
    }
    out
}
