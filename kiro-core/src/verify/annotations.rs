//! Links from tests to acceptance criteria, read from comments in test
//! source: `Validates: Requirements 1.2, 3.1` (the form Kiro writes),
//! `Requirements: 2.1`, and `Feature: <spec>, Property <N>: <title>` (a
//! correctness property of the design, whose own validates list names the
//! criteria).
//!
//! Each annotation belongs to the test declared right after it, in any of
//! the languages Kiro projects test in: Rust, Python, TypeScript and
//! JavaScript, Go, Java and Kotlin.
//!
//! ```
//! use kiro_core::verify::annotations::{scan_file, AnnotationKind};
//!
//! let src = "/// Validates: Requirements 1.1–1.3\n#[test]\nfn login_works() {}\n";
//! let found = scan_file("tests/auth.rs", src);
//! assert_eq!(found[0].kind, AnnotationKind::Validates);
//! assert_eq!(found[0].criteria.len(), 3);
//! assert_eq!(found[0].test.as_ref().map(|t| t.name.as_str()), Some("login_works"));
//! ```

use std::path::Path;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::format::parse_id_list;
use crate::spec::{CriterionId, PropertyId};

/// How many lines after an annotation the test declaration it belongs to may
/// start. Decorators (`@given`, `@settings`, `#[test]`, `@Test`) and the rest
/// of a comment block sit in between.
const DECL_WINDOW: usize = 12;

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
    /// The test declared right after the annotation, if one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestDecl>,
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

/// Finds the annotations of one source file. Pure: `path_rel` is only
/// recorded and used to pick the language from the extension.
pub fn scan_file(path_rel: &str, text: &str) -> Vec<Annotation> {
    if !NEEDLES.iter().any(|n| text.contains(n)) {
        return Vec::new();
    }
    let lang = Lang::of(path_rel);
    let file = path_rel.replace('\\', "/");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        if !NEEDLES.iter().any(|n| line.contains(n)) {
            continue;
        }
        let Some(mut ann) = parse_line(line) else {
            continue;
        };
        ann.file.clone_from(&file);
        ann.line = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        ann.test = find_test(&lines, idx, lang);
        out.push(ann);
    }
    out
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

/// The test an annotation at `idx` belongs to: the first declaration in the
/// next few lines or, for an annotation in a Python docstring, the `def`
/// just above it.
fn find_test(lines: &[&str], idx: usize, lang: Lang) -> Option<TestDecl> {
    let line = lines.get(idx).copied().unwrap_or_default();
    let docstring = matches!(lang, Lang::Python)
        && !line.trim_start().starts_with('#')
        && !line.trim_start().starts_with("//");
    if docstring {
        if let Some(found) = enclosing_def(lines, idx) {
            return Some(found);
        }
    }
    let end = (idx + 1 + DECL_WINDOW).min(lines.len());
    for (j, line) in lines.iter().enumerate().take(end).skip(idx + 1) {
        if let Some((name, kind)) = declaration(line, lang) {
            return Some(TestDecl {
                name,
                line: u32::try_from(j + 1).unwrap_or(u32::MAX),
                kind,
            });
        }
    }
    None
}

/// The `def` a docstring line at `idx` belongs to: a few lines up and
/// indented less than the docstring.
fn enclosing_def(lines: &[&str], idx: usize) -> Option<TestDecl> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines.get(idx)?);
    for j in (idx.saturating_sub(6)..idx).rev() {
        let line = lines.get(j)?;
        if let Some((name, kind)) = python_def(line) {
            return (indent(line) < own).then(|| TestDecl {
                name,
                line: u32::try_from(j + 1).unwrap_or(u32::MAX),
                kind,
            });
        }
    }
    None
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
/// # Errors
/// [`Error::Io`](crate::Error::Io) when `root` is not a readable directory.
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
    Ok(out)
}
