//! Kiro steering files: `.kiro/steering/*.md`, markdown guidance for every
//! agent prompt of a workspace, with optional front matter saying when a
//! file is included.
//!
//! ```text
//! ---
//! inclusion: fileMatch
//! fileMatchPattern: ["src/**/*.rs", "Cargo.toml"]
//! ---
//! Use `thiserror` for library errors. See #[[file:docs/errors.md]].
//! ```
//!
//! `inclusion` is `always` (also the default when there is no front
//! matter, as in Kiro), `fileMatch` (included when a path the prompt is
//! about matches one of `fileMatchPattern`'s globs: one glob, an inline
//! `[a, b]` list or a block list of `- a` lines) or `manual` (included when
//! the user's text names the file as `#<file stem>`). Any other value, and a
//! `fileMatch` without a pattern, is reported and read as `manual`: a file
//! whose author meant something kiro does not understand is left out of
//! prompts rather than added to every one. Other keys (`name`,
//! `description`) are ignored.
//!
//! [`file_references`] finds the `#[[file:relative/path]]` references a
//! prompt builder replaces with the files' contents. This module only
//! reads text: matching globs and reading files belong to the caller.
//!
//! ```
//! use kiro_core::format::{parse_steering, Inclusion};
//!
//! let parsed = parse_steering("rust.md", "---\ninclusion: fileMatch\nfileMatchPattern: \"**/*.rs\"\n---\nPrefer iterators.\n");
//! assert!(parsed.diagnostics.is_empty());
//! let doc = parsed.value;
//! assert_eq!(doc.inclusion, Inclusion::FileMatch);
//! assert_eq!(doc.file_match_patterns, ["**/*.rs"]);
//! assert_eq!(doc.body, "Prefer iterators.\n");
//! assert_eq!(doc.stem(), "rust");
//! ```

use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FormatDiagnostic, Parsed, Position, SourceMap};

/// When a steering file is included in a prompt.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum Inclusion {
    /// In every prompt (the default without front matter).
    #[default]
    Always,
    /// When a path the prompt concerns matches one of the file's patterns.
    FileMatch,
    /// When the user's text names the file as `#<stem>`.
    Manual,
}

/// One steering file, read.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct SteeringDoc {
    /// The file name (`api-style.md`).
    pub name: String,
    /// When it is included.
    pub inclusion: Inclusion,
    /// The globs of `fileMatchPattern`, as written (unquoted).
    pub file_match_patterns: Vec<String>,
    /// The markdown after the front matter.
    pub body: String,
}

impl SteeringDoc {
    /// The file name without its last extension: what `#<stem>` names.
    pub fn stem(&self) -> &str {
        match self.name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => &self.name,
        }
    }
}

/// A `#[[file:path]]` reference in a steering file's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReference {
    /// The bytes of the whole reference in the text.
    pub range: Range<usize>,
    /// The path as written, trimmed.
    pub path: String,
}

const REFERENCE_OPEN: &str = "#[[file:";
const REFERENCE_CLOSE: &str = "]]";

/// Reads a steering file named `name` (its file name, for
/// [`SteeringDoc::stem`]). Never fails: what it cannot read is reported and
/// the rest kept (see the module docs).
pub fn parse_steering(name: &str, text: &str) -> Parsed<SteeringDoc> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = SteeringDoc {
        name: name.to_owned(),
        ..SteeringDoc::default()
    };
    let mut diagnostics = Vec::new();
    match front_matter(text) {
        FrontMatter::None => doc.body = text.to_owned(),
        FrontMatter::Unclosed => {
            diagnostics.push(diagnostic(
                1,
                "front matter is not closed",
                "a line `---` after the front matter",
            ));
            doc.body = text.to_owned();
        }
        FrontMatter::Closed { lines, body } => {
            read_keys(&lines, &mut doc, &mut diagnostics);
            doc.body = body.to_owned();
        }
    }
    if doc.inclusion == Inclusion::FileMatch && doc.file_match_patterns.is_empty() {
        diagnostics.push(diagnostic(
            1,
            "inclusion fileMatch without a fileMatchPattern; read as manual",
            "fileMatchPattern: \"<glob>\"",
        ));
        doc.inclusion = Inclusion::Manual;
    }
    Parsed {
        value: doc,
        source_map: SourceMap::default(),
        diagnostics,
    }
}

/// The `#[[file:path]]` references of `text`, in order. A reference without
/// its closing `]]` on the same line, or with an empty path, is not one.
///
/// ```
/// use kiro_core::format::file_references;
///
/// let refs = file_references("See #[[file:api/openapi.yaml]] and #[[file: ]].");
/// assert_eq!(refs.len(), 1);
/// assert_eq!(refs[0].path, "api/openapi.yaml");
/// assert_eq!(refs[0].range, 4..30);
/// ```
pub fn file_references(text: &str) -> Vec<FileReference> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find(REFERENCE_OPEN)) {
        let start = from + rel;
        let inner = start + REFERENCE_OPEN.len();
        let rest = text.get(inner..).unwrap_or("");
        let line_end = rest.find('\n').unwrap_or(rest.len());
        match rest.get(..line_end).and_then(|l| l.find(REFERENCE_CLOSE)) {
            Some(close) => {
                let path = rest.get(..close).unwrap_or("").trim();
                let end = inner + close + REFERENCE_CLOSE.len();
                if !path.is_empty() {
                    out.push(FileReference {
                        range: start..end,
                        path: path.to_owned(),
                    });
                }
                from = end;
            }
            None => from = inner,
        }
    }
    out
}

enum FrontMatter<'a> {
    None,
    Unclosed,
    Closed {
        /// The lines between the fences, with their 1-based line numbers.
        lines: Vec<(u32, &'a str)>,
        body: &'a str,
    },
}

fn is_fence(line: &str) -> bool {
    line.trim_end() == "---"
}

fn front_matter(text: &str) -> FrontMatter<'_> {
    let mut offset = 0;
    let mut lines = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let number = u32::try_from(n + 1).unwrap_or(u32::MAX);
        offset += line.len();
        if n == 0 {
            if !is_fence(bare) {
                return FrontMatter::None;
            }
            continue;
        }
        if is_fence(bare) || bare.trim_end() == "..." {
            let body = text.get(offset..).unwrap_or("");
            return FrontMatter::Closed { lines, body };
        }
        lines.push((number, bare));
    }
    if text.lines().next().is_some_and(is_fence) {
        FrontMatter::Unclosed
    } else {
        FrontMatter::None
    }
}

fn read_keys(
    lines: &[(u32, &str)],
    doc: &mut SteeringDoc,
    diagnostics: &mut Vec<FormatDiagnostic>,
) {
    let mut i = 0;
    while let Some(&(number, line)) = lines.get(i) {
        i += 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            diagnostics.push(diagnostic(
                number,
                "front matter line is not `key: value`",
                "key: value",
            ));
            continue;
        };
        let value = strip_comment(value).trim();
        match key.trim() {
            "inclusion" => {
                doc.inclusion = match unquote(value).to_ascii_lowercase().as_str() {
                    "always" => Inclusion::Always,
                    "filematch" => Inclusion::FileMatch,
                    "manual" => Inclusion::Manual,
                    other => {
                        diagnostics.push(diagnostic(
                            number,
                            &format!("unknown inclusion {other:?}; read as manual"),
                            "always, fileMatch or manual",
                        ));
                        Inclusion::Manual
                    }
                }
            }
            "fileMatchPattern" | "fileMatchPatterns" => {
                if let Some(list) = value.strip_prefix('[') {
                    let list = list.strip_suffix(']').unwrap_or(list);
                    doc.file_match_patterns.extend(
                        list.split(',')
                            .map(|p| unquote(p.trim()).to_owned())
                            .filter(|p| !p.is_empty()),
                    );
                } else if value.is_empty() {
                    // A block list: the following `- item` lines.
                    while let Some(item) = lines
                        .get(i)
                        .and_then(|(_, l)| l.trim_start().strip_prefix("- "))
                    {
                        let item = unquote(strip_comment(item).trim());
                        if !item.is_empty() {
                            doc.file_match_patterns.push(item.to_owned());
                        }
                        i += 1;
                    }
                } else {
                    doc.file_match_patterns.push(unquote(value).to_owned());
                }
            }
            _ => {}
        }
    }
}

/// `value` without a trailing ` # comment` (a `#` inside quotes stays).
fn strip_comment(value: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in value.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return value.get(..at).unwrap_or(value),
            _ => {}
        }
        previous = c;
    }
    value
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

fn diagnostic(line: u32, message: &str, expected: &str) -> FormatDiagnostic {
    FormatDiagnostic {
        position: Position { line, column: 1 },
        message: message.to_owned(),
        expected: expected.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` as `name` and compares inclusion, patterns, body and
    /// the lines of the diagnostics.
    fn check(text: &str, inclusion: Inclusion, patterns: &[&str], body: &str, lines: &[u32]) {
        let parsed = parse_steering("style.md", text);
        assert_eq!(parsed.value.inclusion, inclusion, "{text:?}");
        assert_eq!(parsed.value.file_match_patterns, patterns, "{text:?}");
        assert_eq!(parsed.value.body, body, "{text:?}");
        let found: Vec<u32> = parsed.diagnostics.iter().map(|d| d.position.line).collect();
        assert_eq!(found, lines, "{text:?}: {:?}", parsed.diagnostics);
    }

    #[test]
    fn reads_inclusion_and_patterns_in_every_form() {
        use Inclusion::*;
        check("Be terse.\n", Always, &[], "Be terse.\n", &[]);
        check("", Always, &[], "", &[]);
        check("---\ninclusion: always\n---\nX\n", Always, &[], "X\n", &[]);
        check("---\ninclusion: manual\n---\nX\n", Manual, &[], "X\n", &[]);
        check(
            "\u{feff}---\r\ninclusion: manual\r\n---\r\nX\r\n",
            Manual,
            &[],
            "X\r\n",
            &[],
        );
        check(
            "---\ninclusion: fileMatch\nfileMatchPattern: 'src/*.rs'\n---\n",
            FileMatch,
            &["src/*.rs"],
            "",
            &[],
        );
        check(
            "---\ninclusion: fileMatch\nfileMatchPattern: [\"*.ts\", '*.tsx']\n---\n",
            FileMatch,
            &["*.ts", "*.tsx"],
            "",
            &[],
        );
        check("---\ninclusion: fileMatch\nfileMatchPattern:\n  - \"a/**\"\n  - b.md # docs\nname: x\n---\n", FileMatch, &["a/**", "b.md"], "", &[]);
        check(
            "---\ninclusion: \"fileMatch\" # comment\nfileMatchPattern: x.rs\n---\n",
            FileMatch,
            &["x.rs"],
            "",
            &[],
        );
        check(
            "---\nname: Style\ndescription: house style\n---\nBody\n",
            Always,
            &[],
            "Body\n",
            &[],
        );
        // Front matter must start on the first line; later `---` is a rule.
        check(
            "Intro\n---\ninclusion: manual\n---\n",
            Always,
            &[],
            "Intro\n---\ninclusion: manual\n---\n",
            &[],
        );
    }

    #[test]
    fn what_it_cannot_read_is_reported_and_left_out_of_prompts() {
        use Inclusion::*;
        check("---\ninclusion: auto\n---\nX\n", Manual, &[], "X\n", &[2]);
        check(
            "---\ninclusion: fileMatch\n---\nX\n",
            Manual,
            &[],
            "X\n",
            &[1],
        );
        check(
            "---\nnot a pair\ninclusion: always\n---\n",
            Always,
            &[],
            "",
            &[2],
        );
        check(
            "---\ninclusion: manual\nX\n",
            Always,
            &[],
            "---\ninclusion: manual\nX\n",
            &[1],
        );
    }

    #[test]
    fn finds_file_references_on_one_line() {
        let text =
            "A #[[file:a.md]] B #[[file: docs/x y.txt ]]\n#[[file:open\n]] #[[file:]] #[[file:c]]";
        let refs = file_references(text);
        let paths: Vec<&str> = refs.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a.md", "docs/x y.txt", "c"]);
        assert_eq!(&text[refs[0].range.clone()], "#[[file:a.md]]");
    }

    #[test]
    fn the_stem_is_the_name_without_its_extension() {
        let stem = |name: &str| parse_steering(name, "").value.stem().to_owned();
        assert_eq!(stem("api-style.md"), "api-style");
        assert_eq!(stem("a.b.md"), "a.b");
        assert_eq!(stem(".md"), ".md");
        assert_eq!(stem("README"), "README");
    }
}
