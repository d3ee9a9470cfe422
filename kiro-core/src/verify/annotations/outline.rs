//! The structure of a test source file that decides where an annotation
//! belongs: which lines are comments, docstrings, code or string contents;
//! which comment lines form one block; where each test function, `it`/
//! `describe` call and container (class, module, `proptest!` block) is
//! declared and where its body ends.
//!
//! The lexers are small and forgiving: they know comments, string and
//! character literals (so that a brace or a `Validates:` inside a string
//! does not count), braces for C-like languages and indentation with
//! bracket nesting for Python. They never fail; an unbalanced file only
//! makes bodies end early or late.

use super::{declaration, python_def, Lang};
use crate::verify::annotations::TestDeclKind;

/// How many lines after a comment block the test it documents may start
/// when the block is not directly attached to a declaration (a helper or
/// a method the scanner does not model sits in between).
const DECL_WINDOW: usize = 12;

/// How many lines after a declaration's first line its body may open.
const BODY_WINDOW: usize = 24;

/// How many lines of attributes, decorators and comments may separate a
/// declaration from its doc comment or from the previous item.
const ATTRIBUTE_LINES: usize = 32;

/// What a line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LineKind {
    /// Only whitespace.
    Blank,
    /// Code (string literals included).
    Code,
    /// Only comments: line comments or lines of a block comment.
    Comment,
    /// A line of a Python docstring (a statement that is only a string).
    Docstring,
    /// A line that starts inside a string literal that is not a docstring.
    Text,
}

#[derive(Clone, Copy, Debug)]
struct LineInfo {
    kind: LineKind,
    /// Brace depth at the start of the line (C-like languages).
    depth: u32,
    /// The line starts a doc comment (`///`, `/**`) that documents the item
    /// after it, even across blank lines.
    doc: bool,
    /// The line starts an inner doc comment (`//!`, `/*!`): module docs.
    inner: bool,
}

/// A declaration the outline models.
#[derive(Clone, Debug)]
pub(super) enum NodeKind {
    /// A function or test call: Rust `fn`, Python `def`, `it(`, `describe(`...
    Function {
        /// Its name or title.
        name: String,
        /// How it is declared.
        kind: TestDeclKind,
        /// Whether it is a test rather than a helper.
        test: bool,
    },
    /// A class, module, `impl` or macro block: it scopes what it holds.
    Container,
}

/// A declaration and the lines of its body.
#[derive(Clone, Debug)]
pub(super) struct Node {
    /// 0-based line of the declaration.
    pub(super) line: usize,
    /// What it declares.
    pub(super) kind: NodeKind,
    /// 0-based first and last line of the body, when it has one.
    body: Option<(usize, usize)>,
    /// The innermost node whose body holds this one.
    pub(super) parent: Option<usize>,
    /// Python: the logical line of the docstring that is the body's first statement.
    docstring: Option<usize>,
}

impl Node {
    fn is_test(&self) -> bool {
        matches!(self.kind, NodeKind::Function { test: true, .. })
    }

    fn is_function(&self) -> bool {
        matches!(self.kind, NodeKind::Function { .. })
    }

    fn holds(&self, line: usize) -> bool {
        self.body
            .is_some_and(|(s, e)| s <= line && line <= e && line > self.line)
    }
}

/// Where a comment block or docstring belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Attachment {
    /// To a node: the test (or function) it documents or sits in, or the
    /// container whose doc comment it is.
    Node(usize),
    /// To the file: a header, a module docstring, or a free-standing
    /// comment. A `Feature:` line in it scopes the rest of the file.
    File,
}

/// A run of comment lines, a block comment, or a docstring.
#[derive(Clone, Copy, Debug)]
pub(super) struct Block {
    /// 0-based first line.
    pub(super) start: usize,
    /// Where it belongs.
    pub(super) attachment: Attachment,
}

/// The structure of one file.
#[derive(Debug, Default)]
pub(super) struct Outline {
    lines: Vec<LineInfo>,
    /// Block index of each line, `u32::MAX` for lines in no block.
    block_of: Vec<u32>,
    pub(super) blocks: Vec<Block>,
    pub(super) nodes: Vec<Node>,
}

/// A `{` and the line of its matching `}`, or a `;`, with the brace depth
/// before it.
#[derive(Clone, Copy, Debug)]
struct Event {
    line: usize,
    depth: u32,
    /// `Some(close line)` for `{`, `None` for `;`.
    close: Option<usize>,
}

/// A Python logical line: one statement, over one or more physical lines.
#[derive(Clone, Copy, Debug)]
struct Logical {
    start: usize,
    end: usize,
    indent: usize,
    /// The statement is a string literal only: a docstring candidate.
    string_only: bool,
}

impl Outline {
    /// The outline of `lines` (the file's text split at line breaks).
    pub(super) fn new(text: &str, lines: &[&str], lang: Lang) -> Outline {
        let mut o = Outline::default();
        let mut logical = Vec::new();
        if lang == Lang::Python {
            logical = lex_python(text, lines.len(), &mut o.lines);
            o.python_nodes(lines, &logical);
        } else {
            let events = lex_c_like(text, lines.len(), lang, &mut o.lines);
            o.c_like_nodes(lines, lang, &events);
        }
        o.link_parents();
        o.build_blocks(lines, &logical);
        o
    }

    /// What line `idx` holds.
    pub(super) fn kind(&self, idx: usize) -> LineKind {
        self.lines.get(idx).map_or(LineKind::Blank, |l| l.kind)
    }

    /// The block holding line `idx`.
    pub(super) fn block(&self, idx: usize) -> Option<(usize, &Block)> {
        let b = *self.block_of.get(idx)?;
        let b = usize::try_from(b).ok()?;
        self.blocks.get(b).map(|block| (b, block))
    }

    fn info(&self, idx: usize) -> Option<&LineInfo> {
        self.lines.get(idx)
    }

    /// Nodes of a C-like file: a declaration per code line the language's
    /// recognisers accept, its body from the braces.
    fn c_like_nodes(&mut self, lines: &[&str], lang: Lang, events: &[Event]) {
        for (idx, text) in lines.iter().enumerate() {
            if self.kind(idx) != LineKind::Code {
                continue;
            }
            let trimmed = text.trim_start();
            let kind = if let Some((name, kind)) = declaration(trimmed, lang) {
                let attrs = self.attributes_before(lines, idx);
                let test = is_test(lang, &name, kind, &attrs, trimmed);
                NodeKind::Function { name, kind, test }
            } else if is_container(trimmed, lang) {
                NodeKind::Container
            } else {
                continue;
            };
            self.nodes.push(Node {
                line: idx,
                kind,
                body: None,
                parent: None,
                docstring: None,
            });
        }
        // A body opens at the first `{` at the declaration's depth, unless a
        // `;` at that depth (a call without a body, a declaration only)
        // comes first, and before the next declaration starts.
        let starts: Vec<usize> = self.nodes.iter().map(|n| n.line).collect();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let Some(depth) = self.lines.get(node.line).map(|l| l.depth) else {
                continue;
            };
            let limit = starts
                .get(i + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .min(node.line + BODY_WINDOW);
            let from = events.partition_point(|e| e.line < node.line);
            for e in events.get(from..).unwrap_or_default() {
                if e.line >= limit || e.depth < depth {
                    break;
                }
                if e.depth != depth {
                    continue;
                }
                if let Some(close) = e.close {
                    node.body = Some((e.line, close));
                }
                break;
            }
        }
    }

    /// Nodes of a Python file: `def` and `class` statements, bodies by
    /// indentation, and the docstring each body starts with.
    fn python_nodes(&mut self, lines: &[&str], logical: &[Logical]) {
        for (i, l) in logical.iter().enumerate() {
            let text = lines.get(l.start).copied().unwrap_or_default().trim_start();
            let kind = if let Some((name, kind)) = python_def(text) {
                let test = name.starts_with("test");
                NodeKind::Function { name, kind, test }
            } else if text.starts_with("class ") {
                NodeKind::Container
            } else {
                continue;
            };
            let mut body: Option<(usize, usize)> = None;
            let mut docstring = None;
            for (j, inner) in logical.iter().enumerate().skip(i + 1) {
                if inner.indent <= l.indent {
                    break;
                }
                if body.is_none() && inner.string_only {
                    docstring = Some(j);
                }
                // The body starts right after the signature, so that a
                // comment above its first statement is inside it.
                body = Some((l.end + 1, inner.end));
            }
            self.nodes.push(Node {
                line: l.start,
                kind,
                body,
                parent: None,
                docstring,
            });
        }
    }

    /// Sets each node's parent: the innermost earlier node holding it.
    fn link_parents(&mut self) {
        let mut stack: Vec<usize> = Vec::new();
        for i in 0..self.nodes.len() {
            let Some(line) = self.nodes.get(i).map(|n| n.line) else {
                continue;
            };
            while let Some(&top) = stack.last() {
                if self.nodes.get(top).is_some_and(|n| n.holds(line)) {
                    break;
                }
                stack.pop();
            }
            if let Some(node) = self.nodes.get_mut(i) {
                node.parent = stack.last().copied();
            }
            stack.push(i);
        }
    }

    /// The text of the lines right above line `idx` that carry its
    /// attributes and annotations (`#[test]`, `@Test`, multi-line
    /// arguments), back to the end of the previous item: a blank line or,
    /// outside an attribute's arguments, a line ending in `;`, `{` or `}`.
    fn attributes_before(&self, lines: &[&str], idx: usize) -> String {
        let mut out = String::new();
        // Below zero while going up through an argument list's lines.
        let mut open: i64 = 0;
        for j in (idx.saturating_sub(ATTRIBUTE_LINES)..idx).rev() {
            let text = lines.get(j).copied().unwrap_or_default().trim();
            match self.kind(j) {
                LineKind::Comment => continue,
                LineKind::Code | LineKind::Text if open < 0 || !text.ends_with([';', '{', '}']) => {
                    open += bracket_balance(text);
                    out.push_str(text);
                    out.push('\n');
                }
                _ => break,
            }
        }
        out
    }

    /// The node declared right after line `end`: across attribute and
    /// decorator lines and comments and, after a doc comment, blank lines.
    fn next_node(&self, lines: &[&str], end: usize, doc: bool) -> Option<usize> {
        // Brackets an attribute's arguments left open, so that the lines
        // they span are skipped too.
        let mut open: i64 = 0;
        for j in end + 1..(end + 1 + ATTRIBUTE_LINES).min(self.lines.len()) {
            let text = lines.get(j).copied().unwrap_or_default().trim_start();
            match self.kind(j) {
                LineKind::Blank if doc => {}
                LineKind::Comment => {}
                _ if open > 0 => open += bracket_balance(text),
                // A declaration may carry its attributes on its own line.
                LineKind::Code if self.node_at(j).is_some() => return self.node_at(j),
                LineKind::Code if is_attribute(text) => open = bracket_balance(text),
                _ => return None,
            }
        }
        None
    }

    /// The node declared on line `idx`.
    fn node_at(&self, idx: usize) -> Option<usize> {
        let i = self.nodes.partition_point(|n| n.line < idx);
        self.nodes
            .get(i)
            .is_some_and(|n| n.line == idx)
            .then_some(i)
    }

    /// The innermost node whose body holds line `idx`.
    pub(super) fn enclosing(&self, idx: usize) -> Option<usize> {
        self.nodes
            .iter()
            .enumerate()
            .rev()
            .find(|(_, n)| n.line < idx && n.holds(idx))
            .map(|(i, _)| i)
    }

    /// Groups comment and docstring lines into blocks and decides where
    /// each belongs; see [`Attachment`].
    fn build_blocks(&mut self, lines: &[&str], logical: &[Logical]) {
        self.block_of = vec![u32::MAX; self.lines.len()];
        let mut spans: Vec<(usize, usize, Option<usize>)> = Vec::new();
        let mut idx = 0;
        while idx < self.lines.len() {
            match self.kind(idx) {
                LineKind::Comment => {
                    let start = idx;
                    while self.kind(idx + 1) == LineKind::Comment {
                        idx += 1;
                    }
                    spans.push((start, idx, None));
                }
                LineKind::Docstring => {
                    let owner = logical
                        .partition_point(|l| l.start <= idx)
                        .checked_sub(1)
                        .filter(|&o| logical.get(o).is_some_and(|l| idx <= l.end));
                    let end = owner
                        .and_then(|o| logical.get(o))
                        .map_or(idx, |l| l.end.max(idx));
                    spans.push((idx, end, owner));
                    idx = end;
                }
                _ => {}
            }
            idx += 1;
        }
        let first_code = (0..self.lines.len()).find(|&i| {
            matches!(
                self.kind(i),
                LineKind::Code | LineKind::Text | LineKind::Docstring
            ) && !lines
                .get(i)
                .is_some_and(|l| l.trim_start().starts_with("#!["))
        });
        for (start, end, docstring) in spans {
            let attachment = match docstring {
                Some(owner) => self.attach_docstring(start, owner, logical),
                None => self.attach_comment(lines, start, end, first_code),
            };
            let b = u32::try_from(self.blocks.len()).unwrap_or(u32::MAX);
            for slot in self.block_of.get_mut(start..=end).unwrap_or_default() {
                *slot = b;
            }
            self.blocks.push(Block { start, attachment });
        }
    }

    fn attach_docstring(&self, start: usize, owner: usize, logical: &[Logical]) -> Attachment {
        if logical.first().is_some_and(|l| l.start == start) {
            return Attachment::File;
        }
        if let Some(n) = self.nodes.iter().position(|n| n.docstring == Some(owner)) {
            return match self.nodes.get(n).map(|n| &n.kind) {
                Some(NodeKind::Function { .. }) => Attachment::Node(n),
                _ => self.container_attachment(n),
            };
        }
        match self.enclosing_function(start) {
            Some(f) => Attachment::Node(f),
            None => Attachment::File,
        }
    }

    fn attach_comment(
        &self,
        lines: &[&str],
        start: usize,
        end: usize,
        first_code: Option<usize>,
    ) -> Attachment {
        let info = self.info(start);
        if info.is_some_and(|l| l.inner) {
            return Attachment::File;
        }
        let doc = info.is_some_and(|l| l.doc);
        let next = self.next_node(lines, end, doc);
        let next_node = next.and_then(|n| self.nodes.get(n));
        if next_node.is_some_and(Node::is_test) {
            return next.map_or(Attachment::File, Attachment::Node);
        }
        if let Some(f) = self.enclosing_function(start) {
            return Attachment::Node(f);
        }
        if let (Some(n), Some(NodeKind::Container)) = (next, next_node.map(|n| &n.kind)) {
            return self.container_attachment(n);
        }
        if first_code.is_none_or(|c| start < c) {
            return Attachment::File;
        }
        let followed_by_blank =
            matches!(self.kind(end + 1), LineKind::Blank) || end + 1 >= self.lines.len();
        if next.is_none() && followed_by_blank {
            return Attachment::File;
        }
        // Not directly on a test: the first test a few lines below, past a
        // helper or a method the recognisers do not model, in the same
        // braces (never out of the body of a function it does not model).
        let depth = self.info(start).map_or(0, |l| l.depth);
        let stays = |line: usize| {
            (end + 1..=line).all(|j| self.info(j).is_some_and(|l| l.depth >= depth))
                && self.info(line).is_some_and(|l| l.depth == depth)
        };
        self.nodes
            .iter()
            .position(|n| {
                n.is_test() && n.line > end && n.line <= end + DECL_WINDOW && stays(n.line)
            })
            .map_or(Attachment::File, Attachment::Node)
    }

    /// A container's doc comment: the container, when it is inside no
    /// function (a class, a module); else the function around it.
    fn container_attachment(&self, n: usize) -> Attachment {
        let line = self.nodes.get(n).map_or(0, |n| n.line);
        match self.enclosing_function(line) {
            Some(f) => Attachment::Node(f),
            None => Attachment::Node(n),
        }
    }

    /// The innermost function whose body holds line `idx`, when the
    /// innermost node holding it is a function (not a class in a function).
    fn enclosing_function(&self, idx: usize) -> Option<usize> {
        let n = self.enclosing(idx)?;
        self.nodes
            .get(n)
            .is_some_and(Node::is_function)
            .then_some(n)
    }

    /// The name, kind and line of a function node; `None` for a container.
    pub(super) fn function(&self, n: usize) -> Option<(&str, TestDeclKind, usize)> {
        match self.nodes.get(n) {
            Some(Node {
                kind: NodeKind::Function { name, kind, .. },
                line,
                ..
            }) => Some((name.as_str(), *kind, *line)),
            _ => None,
        }
    }
}

/// How many brackets a line opens that it does not close.
fn bracket_balance(text: &str) -> i64 {
    text.bytes().fold(0, |n, c| match c {
        b'(' | b'[' | b'{' => n + 1,
        b')' | b']' | b'}' => n - 1,
        _ => n,
    })
}

/// An attribute, decorator or annotation line: `#[test]`, `@Test`,
/// `@given(...)`.
fn is_attribute(text: &str) -> bool {
    (text.starts_with("#[") && !text.starts_with("#![")) || text.starts_with('@')
}

/// Whether a declared function is a test rather than a helper: Rust needs
/// a test attribute (`#[test]`, `#[tokio::test]`, `#[rstest]`,
/// `#[proptest]`...), Go a `Test`/`Fuzz`/`Benchmark`/`Example` name, Java
/// and Kotlin a test annotation or a `test` name; every `it`, `test` and
/// `describe` call is one.
fn is_test(lang: Lang, name: &str, kind: TestDeclKind, attrs: &str, line: &str) -> bool {
    if kind != TestDeclKind::Function {
        return true;
    }
    match lang {
        Lang::Rust => attr_paths(attrs).chain(attr_paths(line)).any(|p| {
            let last = p.rsplit("::").next().unwrap_or(p);
            last.contains("test") || last == "quickcheck"
        }),
        Lang::Python => name.starts_with("test"),
        Lang::Go => ["Test", "Fuzz", "Benchmark", "Example"]
            .iter()
            .any(|p| name.starts_with(p)),
        Lang::Java | Lang::Kotlin => {
            name.starts_with("test")
                || annotation_names(attrs)
                    .chain(annotation_names(line))
                    .any(|a| {
                        a.ends_with("Test")
                            || matches!(a, "Property" | "Example" | "Theory" | "TestFactory")
                            || a.starts_with("Test")
                    })
        }
        Lang::Script | Lang::Any => true,
    }
}

/// The paths of the `#[...]` attributes in `text`: `test`, `tokio::test`.
fn attr_paths(text: &str) -> impl Iterator<Item = &str> {
    text.split("#[").skip(1).map(|rest| {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        rest.get(..end).unwrap_or_default()
    })
}

/// The names of the `@Annotations` in `text`, without package.
fn annotation_names(text: &str) -> impl Iterator<Item = &str> {
    text.split('@').skip(1).map(|rest| {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let path = rest.get(..end).unwrap_or_default();
        path.rsplit('.').next().unwrap_or(path)
    })
}

/// A line that opens a scope of declarations: a class, interface, object,
/// enum or record; a Rust module, `impl` or trait; a Rust macro block such
/// as `proptest! {`.
fn is_container(trimmed: &str, lang: Lang) -> bool {
    if lang == Lang::Rust || lang == Lang::Any {
        let word_end = trimmed
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(trimmed.len());
        let after = trimmed.get(word_end..).unwrap_or_default();
        if word_end > 0 && after.starts_with('!') && after.trim_end().ends_with('{') {
            return true;
        }
    }
    for word in trimmed.split_whitespace() {
        match word {
            "pub" | "pub(crate)" | "pub(super)" | "public" | "private" | "protected"
            | "internal" | "abstract" | "final" | "static" | "open" | "sealed" | "data"
            | "inner" | "export" | "default" | "unsafe" => {}
            "class" | "interface" | "object" | "enum" | "record" | "mod" | "impl" | "trait" => {
                return true
            }
            _ if word.starts_with('@') || word.starts_with("#[") => {}
            _ => return word.starts_with("impl<"),
        }
    }
    false
}

/// Bytes of the text, read without panicking past the end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// The C-like lexer state between bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Code,
    LineComment,
    /// Inside `/* */`, with the nesting depth (Rust nests them).
    Block(u32),
    /// Inside a string closed by `close`; `lines` says whether a line break
    /// ends it (it does not in Rust, nor in template literals).
    Str {
        close: u8,
        escapes: bool,
        lines: bool,
    },
    /// A Rust raw string with this many `#`.
    Raw(usize),
    /// A Kotlin or Java `"""` text block.
    Triple,
}

/// Lexes a C-like file (Rust, TS/JS, Go, Java, Kotlin): fills one
/// [`LineInfo`] per line and returns the brace and semicolon events.
fn lex_c_like(text: &str, line_count: usize, lang: Lang, out: &mut Vec<LineInfo>) -> Vec<Event> {
    let b = Bytes(text.as_bytes());
    let len = text.len();
    // About one brace or semicolon per line.
    let mut events: Vec<Event> = Vec::with_capacity(line_count);
    let mut open: Vec<usize> = Vec::with_capacity(16);
    let mut state = State::Code;
    let mut depth: u32 = 0;
    let mut line = 0usize;
    let mut start = LineStart::new(state, depth);
    let mut has_code = false;
    let mut has_comment = false;
    // The last code byte of the line, for telling a regex literal from a division.
    let mut prev: u8 = 0;
    let mut continued = false;
    let special = if lang == Lang::Any {
        &SPECIAL_ANY
    } else {
        &SPECIAL_C_LIKE
    };
    let mut i = 0;
    out.reserve(line_count);
    while i < len {
        let c = b.at(i);
        if c == b'\n' {
            out.push(start.finish(has_code, has_comment));
            if state == State::LineComment {
                state = State::Code;
            }
            if let State::Str { lines: false, .. } = state {
                // An unterminated one-line string ends with its line.
                if !continued {
                    state = State::Code;
                }
            }
            continued = false;
            line += 1;
            start = LineStart::new(state, depth);
            has_code = false;
            has_comment = false;
            prev = 0;
            i += 1;
            continue;
        }
        match state {
            State::LineComment => {
                i = memchr::memchr(b'\n', text.as_bytes().get(i..).unwrap_or_default())
                    .map_or(len, |p| i + p);
            }
            State::Block(_) if !matches!(c, b'*' | b'/') => {
                i = skip_to(text, i, b'*', b'/', b'\n');
            }
            State::Block(d) => {
                if c == b'*' && b.at(i + 1) == b'/' {
                    state = if d <= 1 {
                        State::Code
                    } else {
                        State::Block(d - 1)
                    };
                    i += 2;
                } else if lang == Lang::Rust && c == b'/' && b.at(i + 1) == b'*' {
                    state = State::Block(d + 1);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            State::Str { close, .. } if c != close && c != b'\\' => {
                i = skip_to(text, i, close, b'\\', b'\n');
            }
            State::Str { close, escapes, .. } => {
                if escapes && c == b'\\' {
                    if b.at(i + 1) == b'\n' {
                        // A line continuation: the string goes on.
                        continued = true;
                        i += 1;
                    } else {
                        i += 2;
                    }
                } else {
                    if c == close {
                        state = State::Code;
                    }
                    i += 1;
                }
            }
            State::Raw(_) | State::Triple if c != b'"' => {
                i = skip_to(text, i, b'"', b'"', b'\n');
            }
            State::Raw(hashes) => {
                if c == b'"' && (1..=hashes).all(|k| b.at(i + k) == b'#') {
                    state = State::Code;
                    i += 1 + hashes;
                } else {
                    i += 1;
                }
            }
            State::Triple => {
                if c == b'"' && b.at(i + 1) == b'"' && b.at(i + 2) == b'"' {
                    state = State::Code;
                    i += 3;
                } else {
                    i += 1;
                }
            }
            State::Code => {
                if !special[usize::from(c)] {
                    // Names, numbers, operators and spaces the lexer does
                    // not act on are skipped in one run.
                    let from = i;
                    while i < len && !special[usize::from(b.at(i))] {
                        i += 1;
                    }
                    if let Some(&last) = text
                        .as_bytes()
                        .get(from..i)
                        .and_then(|run| run.iter().rev().find(|c| !c.is_ascii_whitespace()))
                    {
                        has_code = true;
                        prev = last;
                    }
                    continue;
                }
                let next = b.at(i + 1);
                if c == b'/' && next == b'/' {
                    if !has_code && !has_comment {
                        let third = b.at(i + 2);
                        start.doc = third == b'/' && b.at(i + 3) != b'/';
                        start.inner = third == b'!';
                    }
                    has_comment = true;
                    state = State::LineComment;
                    i += 2;
                    continue;
                }
                if c == b'/' && next == b'*' {
                    if !has_code && !has_comment {
                        let third = b.at(i + 2);
                        start.doc = third == b'*' && b.at(i + 3) != b'/';
                        start.inner = third == b'!';
                    }
                    has_comment = true;
                    state = State::Block(1);
                    i += 2;
                    continue;
                }
                if lang == Lang::Any && c == b'#' && !has_code && next != b'[' && next != b'!' {
                    has_comment = true;
                    state = State::LineComment;
                    i += 1;
                    continue;
                }
                has_code = true;
                let was = prev;
                prev = c;
                match c {
                    b'{' => {
                        events.push(Event {
                            line,
                            depth,
                            close: None,
                        });
                        open.push(events.len() - 1);
                        depth += 1;
                        i += 1;
                    }
                    b'}' => {
                        depth = depth.saturating_sub(1);
                        if let Some(e) = open.pop().and_then(|e| events.get_mut(e)) {
                            e.close = Some(line);
                        }
                        i += 1;
                    }
                    b';' => {
                        events.push(Event {
                            line,
                            depth,
                            close: None,
                        });
                        i += 1;
                    }
                    b'"' if lang == Lang::Rust && raw_string_hashes(&b, i).is_some() => {
                        state = State::Raw(raw_string_hashes(&b, i).unwrap_or_default());
                        i += 1;
                    }
                    b'"' => {
                        if matches!(lang, Lang::Kotlin | Lang::Java | Lang::Any)
                            && next == b'"'
                            && b.at(i + 2) == b'"'
                        {
                            state = State::Triple;
                            i += 3;
                        } else {
                            state = State::Str {
                                close: b'"',
                                escapes: true,
                                lines: lang == Lang::Rust,
                            };
                            i += 1;
                        }
                    }
                    b'\'' if lang == Lang::Script => {
                        state = State::Str {
                            close: b'\'',
                            escapes: true,
                            lines: false,
                        };
                        i += 1;
                    }
                    b'\'' => i = skip_char_literal(&b, i),
                    b'`' if matches!(lang, Lang::Script | Lang::Go | Lang::Kotlin) => {
                        state = State::Str {
                            close: b'`',
                            escapes: lang == Lang::Script,
                            lines: lang != Lang::Kotlin,
                        };
                        i += 1;
                    }
                    b'/' if lang == Lang::Script && regex_may_start(was) => {
                        i = skip_regex(&b, i);
                    }
                    _ => i += 1,
                }
            }
        }
    }
    out.push(start.finish(has_code, has_comment));
    out.truncate(line_count.max(1));
    while out.len() < line_count {
        out.push(LineStart::new(state, depth).finish(false, false));
    }
    // A brace never closed runs to the end of the file.
    for e in open {
        if let Some(e) = events.get_mut(e) {
            e.close = Some(line);
        }
    }
    events
}

/// The bytes the C-like lexer acts on in code; runs of other bytes
/// (names, numbers, operators, spaces) are skipped whole. `#` starts a
/// comment only in files of an unknown language.
static SPECIAL_C_LIKE: [bool; 256] = byte_set(b"\n/{};\"'`");
static SPECIAL_ANY: [bool; 256] = byte_set(b"\n/{};\"'`#");
/// The bytes the Python lexer acts on in code.
static SPECIAL_PYTHON: [bool; 256] = byte_set(b"\n#\\()[]{}'\"");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut k = 0;
    while k < bytes.len() {
        set[bytes[k] as usize] = true;
        k += 1;
    }
    set
}

/// The position of the next `a`, `b` or `c` at or after `i`, or the end.
fn skip_to(text: &str, i: usize, a: u8, b: u8, c: u8) -> usize {
    let rest = text.as_bytes().get(i..).unwrap_or_default();
    memchr::memchr3(a, b, c, rest).map_or(text.len(), |p| i + p)
}

/// What is known of a line when it starts.
struct LineStart {
    state: State,
    depth: u32,
    doc: bool,
    inner: bool,
}

impl LineStart {
    fn new(state: State, depth: u32) -> LineStart {
        LineStart {
            state,
            depth,
            doc: false,
            inner: false,
        }
    }

    fn finish(&self, has_code: bool, has_comment: bool) -> LineInfo {
        let kind = match self.state {
            State::Str { .. } | State::Raw(_) | State::Triple => LineKind::Text,
            State::Block(_) if !has_code => LineKind::Comment,
            _ if has_code => LineKind::Code,
            _ if has_comment => LineKind::Comment,
            _ => LineKind::Blank,
        };
        LineInfo {
            kind,
            depth: self.depth,
            doc: self.doc,
            inner: self.inner,
        }
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Past a character literal (`'a'`, `'\n'`, `'é'`) at `i`, or past the
/// quote of a lifetime or label (`'a`, `'static`).
fn skip_char_literal(b: &Bytes<'_>, i: usize) -> usize {
    if b.at(i + 1) == b'\\' {
        // An escape: the closing quote is a few bytes on (`'\u{1F600}'`).
        return (i + 3..i + 12)
            .find(|&j| b.at(j) == b'\'')
            .map_or(i + 1, |j| j + 1);
    }
    let width = match b.at(i + 1) {
        0 => return i + 1,
        c if c < 0x80 => 1,
        c if c >= 0xF0 => 4,
        c if c >= 0xE0 => 3,
        _ => 2,
    };
    if b.at(i + 1 + width) == b'\'' {
        i + 2 + width
    } else {
        i + 1
    }
}

/// The number of `#` of a Rust raw string (`r"`, `r#"`, `br#"`) whose
/// opening quote is at `quote`; `None` for any other string.
fn raw_string_hashes(b: &Bytes<'_>, quote: usize) -> Option<usize> {
    let mut j = quote;
    let mut hashes = 0;
    while j > 0 && b.at(j - 1) == b'#' {
        hashes += 1;
        j -= 1;
    }
    if j == 0 || b.at(j - 1) != b'r' {
        return None;
    }
    j -= 1;
    if j > 0 && b.at(j - 1) == b'b' {
        j -= 1;
    }
    (j == 0 || !is_ident(b.at(j - 1))).then_some(hashes)
}

/// Whether a `/` after the code byte `prev` starts a regex literal rather
/// than a division: it does after an operator, an opening bracket, or at
/// the start of a line.
fn regex_may_start(prev: u8) -> bool {
    matches!(
        prev,
        0 | b'(' | b',' | b'=' | b':' | b'[' | b'!' | b'&' | b'|' | b'?' | b'{' | b'}' | b';'
    )
}

/// Past a regex literal at `i` when it closes on its line, else past the `/`.
fn skip_regex(b: &Bytes<'_>, i: usize) -> usize {
    let mut j = i + 1;
    let mut class = false;
    loop {
        match b.at(j) {
            0 | b'\n' => return i + 1,
            b'\\' => j += 2,
            b'[' => {
                class = true;
                j += 1;
            }
            b']' => {
                class = false;
                j += 1;
            }
            b'/' if !class => return j + 1,
            _ => j += 1,
        }
    }
}

/// Lexes a Python file: fills one [`LineInfo`] per line (docstring lines
/// marked) and returns the logical lines.
fn lex_python(text: &str, line_count: usize, out: &mut Vec<LineInfo>) -> Vec<Logical> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Py {
        Code,
        Str { quote: u8, triple: bool },
    }
    let b = Bytes(text.as_bytes());
    let len = text.len();
    let mut logical: Vec<Logical> = Vec::new();
    // Per line: kind before docstrings are known, and the logical line
    // owning it.
    let mut owner: Vec<Option<usize>> = Vec::with_capacity(line_count);
    let mut state = Py::Code;
    let mut nest: u32 = 0;
    let mut line = 0usize;
    let mut line_start = 0usize;
    let mut start_state = state;
    let mut has_code = false;
    let mut has_comment = false;
    let mut continued = false;
    // The current logical line, and whether it is still only one string.
    let mut current: Option<usize> = None;
    let mut string_first = false;
    let mut string_done = false;
    let mut i = 0;
    out.reserve(line_count);
    let finish = |out: &mut Vec<LineInfo>,
                  owner: &mut Vec<Option<usize>>,
                  start_state: Py,
                  has_code: bool,
                  has_comment: bool,
                  current: Option<usize>| {
        let kind = if matches!(start_state, Py::Str { .. }) {
            LineKind::Text
        } else if has_code {
            LineKind::Code
        } else if has_comment {
            LineKind::Comment
        } else {
            LineKind::Blank
        };
        owner.push(if matches!(kind, LineKind::Text | LineKind::Code) {
            current
        } else {
            None
        });
        out.push(LineInfo {
            kind,
            depth: 0,
            doc: false,
            inner: false,
        });
    };
    while i <= len {
        let c = b.at(i);
        if c == b'\n' || i == len {
            finish(out, &mut owner, start_state, has_code, has_comment, current);
            if let Py::Str { triple: false, .. } = state {
                // An unterminated one-line string ends with its line.
                if !continued {
                    state = Py::Code;
                }
            }
            let ends_logical = state == Py::Code && nest == 0 && !continued;
            if ends_logical {
                if let Some(l) = current.and_then(|c| logical.get_mut(c)) {
                    l.string_only = string_first && string_done;
                }
                current = None;
            }
            if i == len {
                break;
            }
            line += 1;
            line_start = i + 1;
            start_state = state;
            has_code = false;
            has_comment = false;
            continued = false;
            i += 1;
            continue;
        }
        match state {
            Py::Str { quote, .. } if c != quote && c != b'\\' => {
                i = skip_to(text, i, quote, b'\\', b'\n');
            }
            Py::Str { quote, triple } => {
                if c == b'\\' {
                    if b.at(i + 1) == b'\n' {
                        continued = !triple;
                        i += 1;
                    } else {
                        i += 2;
                    }
                    continue;
                }
                if c == quote && (!triple || (b.at(i + 1) == quote && b.at(i + 2) == quote)) {
                    state = Py::Code;
                    string_done = true;
                    i += if triple { 3 } else { 1 };
                } else {
                    i += 1;
                }
                if let Some(l) = current.and_then(|c| logical.get_mut(c)) {
                    l.end = line;
                }
            }
            Py::Code => {
                if c == b' ' || c == b'\t' || c == b'\r' || c == b'\x0c' {
                    i += 1;
                    continue;
                }
                if c == b'#' {
                    has_comment = true;
                    i = memchr::memchr(b'\n', text.as_bytes().get(i..).unwrap_or_default())
                        .map_or(len, |p| i + p);
                    continue;
                }
                if c == b'\\' && b.at(i + 1) == b'\n' {
                    continued = true;
                    i += 1;
                    continue;
                }
                if current.is_some() && !SPECIAL_PYTHON[usize::from(c)] {
                    // Inside a statement, names, numbers and operators are
                    // skipped in one run; they end any docstring candidacy.
                    has_code = true;
                    string_first = false;
                    while i < len && !SPECIAL_PYTHON[usize::from(b.at(i))] {
                        i += 1;
                    }
                    if let Some(l) = current.and_then(|c| logical.get_mut(c)) {
                        l.end = line;
                    }
                    continue;
                }
                let starts_logical = current.is_none();
                if starts_logical {
                    let indent = text.get(line_start..i).map_or(0, |s| {
                        s.chars().map(|c| if c == '\t' { 8 } else { 1 }).sum()
                    });
                    logical.push(Logical {
                        start: line,
                        end: line,
                        indent,
                        string_only: false,
                    });
                    current = Some(logical.len() - 1);
                    string_first = false;
                    string_done = false;
                }
                if let Some(l) = current.and_then(|c| logical.get_mut(c)) {
                    l.end = line;
                }
                has_code = true;
                // A string, after an optional prefix (r, b, u, f, rb, ...).
                let mut j = i;
                while matches!(
                    b.at(j),
                    b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'f' | b'F'
                ) && j < i + 2
                {
                    j += 1;
                }
                let q = b.at(j);
                let prefix_ok = j == i || !is_ident(b.at(i.wrapping_sub(1)));
                if (q == b'"' || q == b'\'') && prefix_ok {
                    let triple = b.at(j + 1) == q && b.at(j + 2) == q;
                    if starts_logical {
                        string_first = true;
                    } else if string_done || !string_first {
                        string_first = false;
                    }
                    state = Py::Str { quote: q, triple };
                    i = j + if triple { 3 } else { 1 };
                    continue;
                }
                // Any other token after the string: not a docstring.
                string_first = false;
                match c {
                    b'(' | b'[' | b'{' => nest += 1,
                    b')' | b']' | b'}' => nest = nest.saturating_sub(1),
                    _ => {}
                }
                i += 1;
            }
        }
    }
    out.truncate(line_count.max(1));
    owner.truncate(line_count.max(1));
    // Lines of a logical line that is only a string are docstring lines.
    for (info, own) in out.iter_mut().zip(&owner) {
        if let Some(l) = own.and_then(|o| logical.get(o)) {
            if l.string_only {
                info.kind = LineKind::Docstring;
            }
        }
    }
    logical
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(path: &str, src: &str) -> String {
        let lines: Vec<&str> = src.lines().collect();
        let o = Outline::new(src, &lines, Lang::of(path));
        (0..lines.len())
            .map(|i| match o.kind(i) {
                LineKind::Blank => '_',
                LineKind::Code => 'c',
                LineKind::Comment => '#',
                LineKind::Docstring => 'd',
                LineKind::Text => 't',
            })
            .collect()
    }

    #[test]
    fn line_kinds() {
        let cases: &[(&str, &str, &str)] = &[
            ("a.rs", "fn f<'a>(x: &'a str) {\n// c\n}\n", "c#c"),
            ("a.rs", "let s = r#\"\n// not a comment\n\"#;\n/* a\n  b */\n", "ctt##"),
            ("a.rs", "let c = '\"';\n// c\n", "c#"),
            ("a.rs", "let s = \"a\nb {\";\n\n", "ct_"),
            ("a.ts", "const r = /\\/\\*/;\n// c\nconst t = `\n${x}`;\n", "c#ct"),
            ("a.go", "x := `\n// raw`\n", "ct"),
            ("a.kt", "val s = \"\"\"\n// text\n\"\"\"\n", "ctt"),
            (
                "a.py",
                "\"\"\"Module.\n\nMore.\n\"\"\"\nx = '''\n# t\n'''\n# c\ndef f(\n    a,\n):\n    \"\"\"Doc.\"\"\"\n",
                "ddddctt#cccd",
            ),
            ("a.py", "s = \"\"\"a\"\"\".strip()\n\"x\" \"y\"\n", "cc"),
        ];
        for (path, src, want) in cases {
            assert_eq!(kinds(path, src), *want, "{path}: {src:?}");
        }
    }

    /// Line, body and parent of each node.
    type Shape = (usize, Option<(usize, usize)>, Option<usize>);

    fn shapes(src: &str, lang: Lang) -> Vec<Shape> {
        let lines: Vec<&str> = src.lines().collect();
        let o = Outline::new(src, &lines, lang);
        o.nodes.iter().map(|n| (n.line, n.body, n.parent)).collect()
    }

    #[test]
    fn bodies_and_parents() {
        let src = "describe('a', () => {\n  it('b', () => {\n    x();\n  });\n  it('c', () => x());\n  it('d', () => {});\n});\n";
        assert_eq!(
            shapes(src, Lang::Script),
            [
                (0, Some((0, 6)), None),
                (1, Some((1, 3)), Some(0)),
                (4, None, Some(0)),
                (5, Some((5, 5)), Some(0)),
            ]
        );
        let src = "class T:\n    def test_a(\n        self,\n    ):\n        pass\n\n    # c\n\n    def helper(self): pass\nx = 1\n";
        assert_eq!(
            shapes(src, Lang::Python),
            [
                (0, Some((1, 8)), None),
                (1, Some((4, 4)), Some(0)),
                (8, None, Some(0)),
            ]
        );
    }

    #[test]
    fn test_attributes() {
        let cases: &[(Lang, &str, &str, &str, bool)] = &[
            (Lang::Rust, "t", "#[test]\n", "fn t() {}", true),
            (Lang::Rust, "t", "", "#[tokio::test] async fn t() {}", true),
            (Lang::Rust, "t", "#[cfg(test)]\n", "fn t() {}", false),
            (Lang::Rust, "arb", "", "fn arb() -> impl Strategy {}", false),
            (Lang::Go, "TestX", "", "func TestX(t *testing.T) {}", true),
            (Lang::Go, "helper", "", "func helper() {}", false),
            (
                Lang::Java,
                "m",
                "@org.junit.jupiter.api.Test\n",
                "void m() {}",
                true,
            ),
            (Lang::Java, "m", "@ParameterizedTest\n", "void m() {}", true),
            (Lang::Kotlin, "m", "", "private fun m() {}", false),
        ];
        for (lang, name, attrs, line, want) in cases {
            assert_eq!(
                is_test(*lang, name, TestDeclKind::Function, attrs, line),
                *want,
                "{line}"
            );
        }
    }
}
