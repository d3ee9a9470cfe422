//! Links from tests to acceptance criteria, read from comments in test
//! source: `Validates: Requirements 1.2, 3.1` (the form Kiro writes; the
//! singular `Validates: Requirement 13.1` too), `Requirements: 2.1`, and
//! `Feature: <spec>, Property <N>: <title>` (a correctness property of the
//! design, whose own validates list names the criteria), in any of the
//! languages Kiro projects test in: Rust, Python, TypeScript and
//! JavaScript, Go, Java and Kotlin.
//!
//! # Which test an annotation belongs to
//!
//! The scanner reads the file's structure (comment blocks, docstrings,
//! function bodies by braces or indentation), not a window of lines. An
//! annotation belongs to the test whose doc comment or body holds it,
//! however many lines of signature, decorators or attributes sit between:
//! - a comment block right above a test (across `#[test]`, `@Test`,
//!   `@given(...)` lines) documents that test;
//! - a comment or docstring inside a function's body belongs to the
//!   innermost function around it (an `it` rather than its `describe`),
//!   and a Python docstring that is a `def`'s first statement belongs to
//!   that `def`;
//! - a file header, a module docstring, a Rust `//!` comment, or a comment
//!   block standing on its own belongs to the file ([`Annotation::test`] is
//!   `None`); one on a class, module or `proptest!` block belongs to
//!   that container.
//!
//! Helpers are not tests: a Rust `fn` needs a test attribute, a Python
//! `def` a `test` name, a Go `func` a `Test`/`Fuzz`/`Benchmark`/`Example`
//! name, a Java or Kotlin method a test annotation or a `test` name. A
//! comment block on a helper (or on a method the scanner does not model)
//! belongs to the first test at most a dozen lines below it in the same
//! braces.
//!
//! # Which spec an annotation belongs to
//!
//! Its [`Scope`]: a `Feature: <spec>` line scopes itself and the other
//! annotations of its comment block or docstring; an annotation on a test
//! (or inside a class or `describe`) that a `Feature:` line scopes takes
//! that spec; a `Feature:` line in a block that belongs to the file scopes
//! the rest of the file, until the next such line. [`attribute`] settles
//! the annotations no `Feature:` line scopes: in a workspace with one spec
//! they belong to it, in a workspace with several they are
//! [`Scope::Unattributed`] and count for none ([`scan_dir`] does this for
//! a workspace root).
//!
//! ```
//! use kiro_core::verify::annotations::{scan_file, AnnotationKind, Scope};
//!
//! let src = "// Feature: auth, Property 1: Sessions expire\n\n\
//!            fn arb_token() -> u32 { 7 }\n\n\
//!            /// Validates: Requirements 1.1–1.3\n#[test]\nfn login_works() {}\n";
//! let found = scan_file("tests/auth.rs", src);
//! assert_eq!(found[1].kind, AnnotationKind::Validates);
//! assert_eq!(found[1].criteria.len(), 3);
//! assert_eq!(found[1].test.as_ref().map(|t| t.name.as_str()), Some("login_works"));
//! // The file header scopes the test below it, past the helper.
//! assert_eq!(found[1].scope, Scope::Spec("auth".into()));
//! assert!(found[0].test.is_none());
//! ```

mod outline;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::format::parse_id_list;
use crate::spec::{CriterionId, PropertyId};

use outline::{Attachment, LineKind, Outline};

/// The annotation labels. A file without any of them is skipped without
/// looking at its lines, which keeps a scan of a large tree cheap.
const NEEDLES: [&str; 3] = ["Validates", "Feature:", "Requirements:"];

/// File extensions of the test source languages that are scanned.
const EXTENSIONS: [&str; 11] = [
    "rs", "py", "ts", "tsx", "js", "jsx", "mjs", "go", "java", "kt", "kts",
];

/// What kind of link an annotation states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKind {
    /// `Validates: Requirements 1.2, 3.1`.
    Validates,
    /// `Requirements: 2.1`.
    Requirements,
    /// `Feature: <spec>, Property <N>: <title>`.
    Property,
}

/// How a test is declared, which decides how its name is matched against
/// test results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestDeclKind {
    /// A named function: Rust `fn`, Python `def`, Go `func`, Java and Kotlin methods.
    Function,
    /// A JavaScript/TypeScript `it('...')` or `test('...')` case, named by its title.
    Case,
    /// A JavaScript/TypeScript `describe('...')` block, named by its title.
    Suite,
}

/// Which spec an annotation belongs to; see the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// No `Feature:` line scopes it and it was not [attributed](attribute)
    /// to a workspace: it counts for whichever spec it is checked against.
    #[default]
    Unscoped,
    /// It belongs to this spec: the one a `Feature:` line names (as
    /// written, or the workspace's spec folder name once
    /// [attributed](attribute)), or the workspace's only spec.
    Spec(String),
    /// No `Feature:` line scopes it and the workspace has several specs: it
    /// counts for none of them and is reported as a coverage finding.
    Unattributed,
}

impl Scope {
    /// Whether this is [`Scope::Unscoped`].
    pub fn is_unscoped(&self) -> bool {
        *self == Scope::Unscoped
    }
}

/// The test an annotation belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct TestDecl {
    /// The function name, or the title of an `it`/`test`/`describe` call.
    pub name: String,
    /// 1-based line of the declaration.
    pub line: u32,
    /// How the test is declared.
    pub kind: TestDeclKind,
}

/// One test-to-criterion link found in source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Annotation {
    /// The file, relative to the scanned root, with `/` separators.
    pub file: String,
    /// 1-based line of the annotation.
    pub line: u32,
    /// What the annotation states.
    pub kind: AnnotationKind,
    /// Criteria (or whole requirements, ids without a dot) named directly,
    /// ranges expanded. Empty for [`AnnotationKind::Property`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionId>,
    /// The correctness property of a `Feature: ..., Property N: ...` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<PropertyId>,
    /// The property title as written in the annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_title: Option<String>,
    /// The spec named by a `Feature:` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The test whose doc comment or body holds the annotation; `None` for
    /// an annotation that belongs to the file or to a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestDecl>,
    /// The spec the annotation belongs to.
    #[serde(default, skip_serializing_if = "Scope::is_unscoped")]
    pub scope: Scope,
    /// 1-based first line of the comment block or docstring holding the
    /// annotation (0 when unknown), so that annotations of one block on no
    /// test are taken together.
    #[serde(default)]
    pub block_line: u32,
}

/// The source languages, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
    Script,
    Go,
    Java,
    Kotlin,
    /// Unknown extension: every declaration form is tried.
    Any,
}

impl Lang {
    fn of(path: &str) -> Lang {
        let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match ext {
            "rs" => Lang::Rust,
            "py" => Lang::Python,
            "ts" | "tsx" | "js" | "jsx" | "mjs" | "cjs" | "mts" | "cts" => Lang::Script,
            "go" => Lang::Go,
            "java" => Lang::Java,
            "kt" | "kts" => Lang::Kotlin,
            _ => Lang::Any,
        }
    }
}

/// Finds the annotations of one source file, with the test each belongs
/// to and its [`Scope`] from the file's `Feature:` lines. Pure: `path_rel`
/// is only recorded and used to pick the language from the extension.
pub fn scan_file(path_rel: &str, text: &str) -> Vec<Annotation> {
    if !NEEDLES.iter().any(|n| text.contains(n)) {
        return Vec::new();
    }
    let lang = Lang::of(path_rel);
    let file = path_rel.replace('\\', "/");
    // Source lines average a few dozen bytes; sizing up front saves the
    // vector's regrowth on every file.
    let mut lines: Vec<&str> = Vec::with_capacity(text.len() / 32 + 1);
    lines.extend(text.lines());
    let outline = Outline::new(text, &lines, lang);
    let mut out = Vec::new();
    let mut places = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        // Labels in code or in string literals are not annotations.
        if !matches!(outline.kind(idx), LineKind::Comment | LineKind::Docstring) {
            continue;
        }
        if !NEEDLES.iter().any(|n| line.contains(n)) {
            continue;
        }
        let Some((block_idx, block)) = outline.block(idx) else {
            continue;
        };
        let Some(mut ann) = parse_line(line) else {
            continue;
        };
        ann.file.clone_from(&file);
        ann.line = line_number(idx);
        ann.block_line = line_number(block.start);
        let node = match block.attachment {
            Attachment::Node(n) => Some(n),
            Attachment::File => None,
        };
        ann.test = node
            .and_then(|n| outline.function(n))
            .map(|(name, kind, line)| TestDecl {
                name: name.to_owned(),
                line: line_number(line),
                kind,
            });
        out.push(ann);
        places.push(Place {
            block: block_idx,
            node,
            around: node.or_else(|| outline.enclosing(block.start)),
        });
    }
    resolve_scopes(&mut out, &places, &outline);
    out
}

fn line_number(idx: usize) -> u32 {
    u32::try_from(idx + 1).unwrap_or(u32::MAX)
}

/// Where an annotation sits in the file's [`Outline`].
struct Place {
    /// The block holding it.
    block: usize,
    /// The node its block belongs to, `None` for the file.
    node: Option<usize>,
    /// That node or, for a block of the file, the class or function whose
    /// body holds it: where a scope is inherited from.
    around: Option<usize>,
}

/// Sets each annotation's scope: a `Feature:` line's own spec; else the
/// nearest `Feature:` line of its block (before it, else after it); else
/// the first `Feature:` line on its node or the nodes around that (a test,
/// then its `describe` or class; for a block of the file, the class or
/// function holding it); else the last `Feature:` line before it in a
/// block that belongs to the file.
fn resolve_scopes(anns: &mut [Annotation], places: &[Place], outline: &Outline) {
    let feature = |a: &Annotation| match (a.kind, &a.spec) {
        (AnnotationKind::Property, Some(s)) => Some(s.clone()),
        _ => None,
    };
    let mut node_spec: HashMap<usize, String> = HashMap::new();
    let mut file_specs: Vec<(u32, String)> = Vec::new();
    for (a, p) in anns.iter().zip(places) {
        let Some(spec) = feature(a) else { continue };
        match p.node {
            Some(n) => {
                node_spec.entry(n).or_insert(spec);
            }
            None => file_specs.push((a.line, spec)),
        }
    }
    let mut scopes = Vec::with_capacity(anns.len());
    for (i, (a, p)) in anns.iter().zip(places).enumerate() {
        let same_block = |j: &usize| places.get(*j).is_some_and(|q| q.block == p.block);
        let in_block = || {
            let before = (0..i)
                .rev()
                .take_while(same_block)
                .find_map(|j| anns.get(j).and_then(feature));
            before.or_else(|| {
                (i + 1..anns.len())
                    .take_while(same_block)
                    .find_map(|j| anns.get(j).and_then(feature))
            })
        };
        let on_node = || {
            let mut n = p.around;
            while let Some(node) = n {
                if let Some(spec) = node_spec.get(&node) {
                    return Some(spec.clone());
                }
                n = outline.nodes.get(node).and_then(|x| x.parent);
            }
            None
        };
        let in_file = || {
            file_specs
                .iter()
                .take_while(|(line, _)| *line <= a.line)
                .last()
                .map(|(_, spec)| spec.clone())
        };
        let spec = feature(a)
            .or_else(in_block)
            .or_else(on_node)
            .or_else(in_file);
        scopes.push(spec.map_or(Scope::Unscoped, Scope::Spec));
    }
    for (a, scope) in anns.iter_mut().zip(scopes) {
        a.scope = scope;
    }
}

/// Whether two spec names name the same spec: case, `-`, `_` and spaces
/// aside (`User_Auth` is `user-auth`).
pub fn same_spec(a: &str, b: &str) -> bool {
    fn key(s: &str) -> impl Iterator<Item = char> + '_ {
        s.trim().chars().flat_map(|c| match c {
            '_' | '-' => '-'.to_lowercase(),
            c if c.is_whitespace() => '-'.to_lowercase(),
            c => c.to_lowercase(),
        })
    }
    key(a).eq(key(b))
}

/// Whether an annotation counts for the spec named `spec`: its scope names
/// that spec, or it has no scope (and, for a hand-built `Feature:`
/// annotation, names that spec).
pub fn belongs_to(annotation: &Annotation, spec: &str) -> bool {
    match &annotation.scope {
        Scope::Spec(s) => same_spec(s, spec),
        Scope::Unattributed => false,
        Scope::Unscoped => annotation
            .spec
            .as_deref()
            .is_none_or(|s| same_spec(s, spec)),
    }
}

/// Settles the annotations of a workspace whose specs are `specs` (the
/// spec folder names): a scope naming one of them (case, `-`, `_` aside)
/// becomes that folder's name; an annotation no `Feature:` line scopes
/// belongs to the only spec of a one-spec workspace and is
/// [`Scope::Unattributed`] in a workspace with several. Without specs,
/// nothing changes.
///
/// ```
/// use kiro_core::verify::annotations::{attribute, scan_file, Scope};
///
/// let src = "// Validates: Requirements 1.1\n#[test]\nfn a() {}\n";
/// let mut one = scan_file("tests/a.rs", src);
/// attribute(&mut one, &["auth"]);
/// assert_eq!(one[0].scope, Scope::Spec("auth".into()));
/// let mut two = scan_file("tests/a.rs", src);
/// attribute(&mut two, &["auth", "billing"]);
/// assert_eq!(two[0].scope, Scope::Unattributed);
/// ```
pub fn attribute<S: AsRef<str>>(annotations: &mut [Annotation], specs: &[S]) {
    for a in annotations {
        match &a.scope {
            Scope::Spec(name) => {
                if let Some(folder) = specs.iter().find(|s| same_spec(s.as_ref(), name)) {
                    a.scope = Scope::Spec(folder.as_ref().to_owned());
                }
            }
            Scope::Unscoped => match specs {
                [] => {}
                [only] => a.scope = Scope::Spec(only.as_ref().to_owned()),
                _ => a.scope = Scope::Unattributed,
            },
            Scope::Unattributed => {}
        }
    }
}

/// Reads one line; `None` when it holds no annotation in a comment.
fn parse_line(line: &str) -> Option<Annotation> {
    let (kind, at, label_len) = locate_label(line)?;
    // The text before the label must be comment markers or emphasis only,
    // so that a label inside a string literal or code is not taken.
    let prefix = line.get(..at)?;
    if !prefix.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '/' | '*' | '#' | '!' | '-' | '<' | '"' | '\'' | '_' | '`' | '{' | ';'
            )
    }) {
        return None;
    }
    let rest = line.get(at + label_len..)?;
    let rest = strip_closers(rest.trim_start_matches(['*', '_', ' ']));
    let mut ann = Annotation {
        file: String::new(),
        line: 0,
        kind,
        criteria: Vec::new(),
        property: None,
        property_title: None,
        spec: None,
        test: None,
        scope: Scope::Unscoped,
        block_line: 0,
    };
    match kind {
        AnnotationKind::Validates | AnnotationKind::Requirements => {
            ann.criteria = parse_id_list(rest)
                .into_iter()
                .map(CriterionId::new)
                .collect();
            if ann.criteria.is_empty() {
                return None;
            }
        }
        AnnotationKind::Property => {
            let (spec, after) = match rest.split_once(',') {
                Some((s, a)) => (s.trim(), a.trim()),
                None => (rest.trim(), ""),
            };
            if spec.is_empty() || spec.contains(char::is_whitespace) {
                return None;
            }
            ann.spec = Some(spec.trim_matches(['*', '_', '`']).to_owned());
            if let Some(p) = after.strip_prefix("Property") {
                let p = p.trim_start();
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                if !digits.is_empty() {
                    ann.property = Some(PropertyId::new(digits.clone()));
                    let title = p
                        .get(digits.len()..)
                        .unwrap_or_default()
                        .trim_start_matches([':', '-', '–', ' '])
                        .trim();
                    if !title.is_empty() {
                        ann.property_title = Some(title.to_owned());
                    }
                }
            }
        }
    }
    Some(ann)
}

/// Finds the first label of a line: its kind, byte offset and length.
fn locate_label(line: &str) -> Option<(AnnotationKind, usize, usize)> {
    if let Some(at) = line.find("Validates:") {
        return Some((AnnotationKind::Validates, at, "Validates:".len()));
    }
    if let Some(at) = line.find("Validates") {
        // `**Validates:** Requirements 1.1` puts emphasis between the word
        // and the colon.
        let after = line.get(at + "Validates".len()..)?;
        let trimmed = after.trim_start_matches(['*', '_']);
        if trimmed.starts_with(':') {
            let len = "Validates".len() + (after.len() - trimmed.len()) + 1;
            return Some((AnnotationKind::Validates, at, len));
        }
    }
    if let Some(at) = line.find("Feature:") {
        return Some((AnnotationKind::Property, at, "Feature:".len()));
    }
    if let Some(at) = line.find("Requirements:") {
        return Some((AnnotationKind::Requirements, at, "Requirements:".len()));
    }
    None
}

/// Cuts comment and emphasis closers off the end of an annotation.
fn strip_closers(text: &str) -> &str {
    let mut t = text.trim_end();
    loop {
        let before = t;
        for closer in ["*/", "-->", "\"\"\"", "'''", "**", "*", "_", "`"] {
            if let Some(s) = t.strip_suffix(closer) {
                t = s.trim_end();
            }
        }
        if t == before {
            return t;
        }
    }
}

/// A test declaration on one line, for the file's language.
fn declaration(line: &str, lang: Lang) -> Option<(String, TestDeclKind)> {
    let t = line.trim_start();
    match lang {
        Lang::Rust => rust_fn(t),
        Lang::Python => python_def(t),
        Lang::Script => script_call(t),
        Lang::Go => go_func(t),
        Lang::Java => java_method(t),
        Lang::Kotlin => kotlin_fun(t),
        Lang::Any => rust_fn(t)
            .or_else(|| python_def(t))
            .or_else(|| script_call(t))
            .or_else(|| go_func(t))
            .or_else(|| java_method(t))
            .or_else(|| kotlin_fun(t)),
    }
}

fn ident(s: &str) -> Option<&str> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
        .map_or(s.len(), |(i, _)| i);
    let id = s.get(..end)?;
    (!id.is_empty() && !id.starts_with(|c: char| c.is_ascii_digit())).then_some(id)
}

/// `fn name`, after any of `pub`, `async`, `unsafe`, `const`.
fn rust_fn(t: &str) -> Option<(String, TestDeclKind)> {
    let mut s = t;
    // `#[test] fn name()` on one line.
    while let Some(attr) = s.strip_prefix("#[") {
        s = attr.split_once(']').map_or("", |(_, r)| r).trim_start();
    }
    for word in ["pub(crate) ", "pub ", "const ", "async ", "unsafe "] {
        s = s.strip_prefix(word).unwrap_or(s).trim_start();
    }
    let rest = s.strip_prefix("fn ")?;
    Some((ident(rest.trim_start())?.to_owned(), TestDeclKind::Function))
}

/// `def name(` or `async def name(`.
fn python_def(t: &str) -> Option<(String, TestDeclKind)> {
    let t = t.trim_start();
    let t = t.strip_prefix("async ").map_or(t, str::trim_start);
    let rest = t.strip_prefix("def ")?;
    Some((ident(rest.trim_start())?.to_owned(), TestDeclKind::Function))
}

/// `func TestX(` (not a method).
fn go_func(t: &str) -> Option<(String, TestDeclKind)> {
    let rest = t.strip_prefix("func ")?.trim_start();
    let name = ident(rest)?;
    rest.get(name.len()..)?
        .starts_with('(')
        .then(|| (name.to_owned(), TestDeclKind::Function))
}

/// `void name(` (or `boolean name(` for property testing libraries) anywhere
/// in the line, after modifiers.
fn java_method(t: &str) -> Option<(String, TestDeclKind)> {
    for ret in ["void ", "boolean "] {
        let mut from = 0;
        while let Some(pos) = t.get(from..).and_then(|s| s.find(ret)) {
            let at = from + pos;
            let boundary = at == 0
                || t.get(..at)
                    .and_then(|s| s.chars().next_back())
                    .is_some_and(char::is_whitespace);
            let rest = t.get(at + ret.len()..)?.trim_start();
            if boundary {
                if let Some(name) = ident(rest) {
                    if rest.get(name.len()..)?.trim_start().starts_with('(') {
                        return Some((name.to_owned(), TestDeclKind::Function));
                    }
                }
            }
            from = at + ret.len();
        }
    }
    None
}

/// `fun name(` or ``fun `name with spaces`(``, after modifiers.
fn kotlin_fun(t: &str) -> Option<(String, TestDeclKind)> {
    let at = if t.starts_with("fun ") {
        0
    } else {
        t.find(" fun ")? + 1
    };
    let rest = t.get(at + "fun ".len()..)?.trim_start();
    if let Some(quoted) = rest.strip_prefix('`') {
        let (name, _) = quoted.split_once('`')?;
        return Some((name.to_owned(), TestDeclKind::Function));
    }
    let name = ident(rest)?;
    rest.get(name.len()..)?
        .starts_with('(')
        .then(|| (name.to_owned(), TestDeclKind::Function))
}

/// `it('title'`, `test("title"`, `describe(\`title\``, with `.only`,
/// `.skip` or `.concurrent` modifiers.
fn script_call(t: &str) -> Option<(String, TestDeclKind)> {
    let (kind, rest) = if let Some(r) = t.strip_prefix("describe") {
        (TestDeclKind::Suite, r)
    } else if let Some(r) = t.strip_prefix("it") {
        (TestDeclKind::Case, r)
    } else if let Some(r) = t.strip_prefix("test") {
        (TestDeclKind::Case, r)
    } else {
        return None;
    };
    let mut rest = rest;
    for modifier in [".only", ".skip", ".concurrent", ".todo", ".fails"] {
        rest = rest.strip_prefix(modifier).unwrap_or(rest);
    }
    let rest = rest.trim_start().strip_prefix('(')?.trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let body = rest.get(1..)?;
    let mut title = String::new();
    let mut escaped = false;
    for c in body.chars() {
        if escaped {
            title.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some((title, kind));
        } else {
            title.push(c);
        }
    }
    None
}

/// Scans every test source file under `root`, in parallel, respecting
/// `.gitignore` files (even outside a git repository) and skipping `.git`,
/// `target`, `node_modules`, `.venv`, `.tox` and `.kiro/runs`.
///
/// Only files with the extensions `rs py ts tsx js jsx mjs go java kt kts`
/// are read; files that cannot be read or are not UTF-8 are skipped. The
/// result is sorted by file and line.
///
/// When `root` is a kiro workspace (its `.kiro/specs` holds specs), the
/// annotations are [attributed](attribute) to its specs: with one spec,
/// every annotation no `Feature:` line scopes belongs to it; with several,
/// such annotations are [`Scope::Unattributed`].
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) when `root` is not a readable directory
/// or its `.kiro/specs` folder cannot be listed.
pub fn scan_dir(root: &Path) -> crate::Result<Vec<Annotation>> {
    let meta = std::fs::metadata(root).map_err(|source| crate::Error::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(crate::Error::Io {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let found: Mutex<Vec<Annotation>> = Mutex::new(Vec::new());
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .filter_entry(|entry| {
            let name = entry.file_name();
            // Virtual environments hold third-party Python sources; they
            // are usually ignored by `.gitignore`, but not always.
            if [".git", "target", "node_modules", ".venv", ".tox"]
                .iter()
                .any(|skip| name == *skip)
            {
                return false;
            }
            !(name == "runs"
                && entry
                    .path()
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|p| p == ".kiro"))
        })
        .build_parallel();
    walker.run(|| {
        let found = &found;
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return ignore::WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return ignore::WalkState::Continue;
            }
            let path = entry.path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e));
            if !wanted {
                return ignore::WalkState::Continue;
            }
            let Ok(bytes) = std::fs::read(path) else {
                return ignore::WalkState::Continue;
            };
            let Ok(text) = std::str::from_utf8(&bytes) else {
                return ignore::WalkState::Continue;
            };
            let rel = path.strip_prefix(root).unwrap_or(path);
            let rel = rel.to_string_lossy().replace('\\', "/");
            let anns = scan_file(&rel, text);
            if !anns.is_empty() {
                // A poisoned lock only means another worker panicked; the
                // data is still a valid list.
                let mut guard = found
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                guard.extend(anns);
            }
            ignore::WalkState::Continue
        })
    });
    let mut out = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
    let specs: Vec<String> = crate::store::list_specs(root)?
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    attribute(&mut out, &specs);
    Ok(out)
}
