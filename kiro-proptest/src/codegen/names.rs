//! What a spec says, made safe to write into Rust source: identifiers,
//! comment lines, string literals, and checks that a Rust path or type from
//! a `rust` binding is only a path or a type.

use std::collections::HashSet;

use kiro_core::escape::escape_control;

/// The longest identifier derived from a title (the property id and the
/// `property_` prefix come on top), cut at a word boundary: test names
/// stay readable in `cargo test` output.
const TITLE_IDENT_MAX: usize = 48;

/// The labels kiro's annotation scanner looks for; free text written into a
/// comment must not state one, or the scanner would read a link (or lose
/// the line's real one) that the spec never made.
const LABELS: [&str; 3] = ["Validates", "Feature", "Requirements"];

/// Hands out identifiers that are unique within one file.
#[derive(Default)]
pub(super) struct Idents {
    used: HashSet<String>,
}

impl Idents {
    /// `property_<id>_<title words>`, lower-case ASCII, with `_2`, `_3`...
    /// appended when an earlier property took the same name.
    pub(super) fn test_name(&mut self, id: &str, title: &str) -> String {
        let id = words(id, usize::MAX);
        let title = words(title, TITLE_IDENT_MAX);
        let mut base = String::from("property");
        for part in [id, title] {
            if !part.is_empty() {
                base.push('_');
                base.push_str(&part);
            }
        }
        let mut name = base.clone();
        let mut n = 1;
        while !self.used.insert(name.clone()) {
            n += 1;
            name = format!("{base}_{n}");
        }
        name
    }
}

/// The ASCII letters and digits of `text`, lower-cased, every other run of
/// characters one `_`, cut to at most `max` bytes at a `_`.
fn words(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    if out.len() > max {
        let cut = out
            .get(..=max)
            .and_then(|head| head.rfind('_'))
            .unwrap_or(max);
        out.truncate(cut);
    }
    out
}

/// One line of free text (a title, a statement line) for a `//` comment:
/// control characters escaped (a line break cannot end the comment),
/// annotation labels defused (`Validates:` becomes `Validates :`), and
/// trailing spaces trimmed.
pub(super) fn comment_text(text: &str) -> String {
    let mut out = escape_control(text).into_owned();
    for label in LABELS {
        let mut from = 0;
        while let Some(at) = out.get(from..).and_then(|s| s.find(label)) {
            let start = from + at + label.len();
            // `**Validates:**` puts emphasis between the word and its colon.
            let tail = out.get(start..).unwrap_or_default();
            let emphasis = tail.len() - tail.trim_start_matches(['*', '_']).len();
            let colon = start + emphasis;
            if out.get(colon..).is_some_and(|s| s.starts_with(':')) {
                out.insert(colon, ' ');
            }
            from = start;
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// A Rust string literal holding `text` exactly (`Debug` escapes quotes,
/// backslashes and control characters in Rust's own syntax).
pub(super) fn str_literal(text: &str) -> String {
    format!("{text:?}")
}

/// A raw string literal holding `text` exactly, with enough `#` that no
/// `"#...` inside ends it. `text` must not hold a carriage return, which
/// raw strings cannot (the compact JSON this is used for escapes them).
pub(super) fn raw_literal(text: &str) -> String {
    let mut longest = 0;
    let mut run: Option<usize> = None;
    for c in text.chars() {
        run = match (c, run) {
            ('"', _) => Some(0),
            ('#', Some(n)) => Some(n + 1),
            _ => None,
        };
        if let Some(n) = run {
            longest = longest.max(n);
        }
    }
    let hashes = "#".repeat(longest + 1);
    format!("r{hashes}\"{text}\"{hashes}")
}

/// Whether `name` is a plain Rust identifier (ASCII), as a crate name in
/// code is.
pub(super) fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_"
}

/// Whether `ty` can stand as `T` in `any::<T>()` without changing the code
/// around it: ASCII path segments, `::`, generics, references with
/// lifetimes, tuples, arrays and slices, every bracket closed, no `,` or
/// `;` outside brackets, nothing that starts a comment, string, block or
/// macro.
pub(super) fn is_type(ty: &str) -> bool {
    !ty.trim().is_empty() && ty.len() <= 200 && balanced(ty, false)
}

/// Whether `path` names a function as a plain path: `codec::encode`,
/// `::codec::encode`, `Codec::encode`, `codec::decode::<Vec<u8>>`.
pub(super) fn is_path(path: &str) -> bool {
    path.len() <= 200
        && path
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && balanced(path, true)
}

/// The bracket and character check behind [`is_type`] and [`is_path`]. A
/// path allows only identifier characters and `::` outside brackets, and
/// a `<` there only as a turbofish (`::<`).
fn balanced(text: &str, path: bool) -> bool {
    let mut stack: Vec<char> = Vec::new();
    let mut prev = ' ';
    for (at, c) in text.char_indices() {
        let top = stack.is_empty();
        let ok = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | ':' => true,
            '<' => {
                stack.push('>');
                !(path && top) || (prev == ':' && text.get(..at).is_some_and(|h| h.ends_with("::")))
            }
            '[' | '(' => {
                stack.push(if c == '[' { ']' } else { ')' });
                !(path && top)
            }
            '>' | ']' | ')' => stack.pop() == Some(c),
            ',' | ';' => !top,
            ' ' | '&' => !(path && top),
            // A lifetime (`'static`), not a character literal (`'a'`).
            '\'' => {
                let rest = text.get(at + 1..).unwrap_or_default();
                let ident = rest
                    .find(|n: char| !(n.is_ascii_alphanumeric() || n == '_'))
                    .unwrap_or(rest.len());
                !(path && top)
                    && rest.starts_with(|n: char| n.is_ascii_alphabetic() || n == '_')
                    && !rest.get(ident..).unwrap_or_default().starts_with('\'')
            }
            _ => false,
        };
        if !ok {
            return false;
        }
        prev = c;
    }
    // `:` only in pairs: `a:b`, `a:::b` and a trailing `a::` are no paths.
    stack.is_empty()
        && !text.ends_with(':')
        && text
            .split(|c| c != ':')
            .all(|run| run.is_empty() || run.len() == 2)
}

/// `path` with a leading `crate::` (and, in a type, every `crate::` that
/// starts a path) naming `krate` instead.
pub(super) fn rename_crate(text: &str, krate: Option<&str>) -> String {
    let Some(krate) = krate else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(at) = rest.find("crate::") {
        let head = rest.get(..at).unwrap_or_default();
        out.push_str(head);
        let before = head.chars().next_back().or(prev);
        let starts_path =
            before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        out.push_str(if starts_path { krate } else { "crate" });
        out.push_str("::");
        prev = Some(':');
        rest = rest.get(at + "crate::".len()..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_are_ascii_words_and_unique() {
        let mut idents = Idents::default();
        for (id, title, expected) in [
            ("1", "Round trip", "property_1_round_trip"),
            ("1", "Round trip", "property_1_round_trip_2"),
            ("1", "Round  trip!", "property_1_round_trip_3"),
            ("2", "Größe: 日本 / ok", "property_2_gr_e_ok"),
            ("3", "", "property_3"),
            ("3a.b", "X", "property_3a_b_x"),
            (
                "4",
                "A very long title that goes on and on about what the property checks in detail",
                "property_4_a_very_long_title_that_goes_on_and_on_about_what",
            ),
        ] {
            assert_eq!(idents.test_name(id, title), expected, "{id} {title}");
        }
    }

    #[test]
    fn comment_text_defuses_labels_and_escapes_controls() {
        for (input, expected) in [
            ("Plain title", "Plain title"),
            (
                "Validates: Requirements 9.9",
                "Validates : Requirements 9.9",
            ),
            ("**Validates:** 1.1", "**Validates :** 1.1"),
            ("Validates**: x", "Validates** : x"),
            (
                "a Feature: x and Requirements: 2",
                "a Feature : x and Requirements : 2",
            ),
            ("Validates nothing", "Validates nothing"),
            ("line\nbreak */ end  ", "line\\nbreak */ end"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
        ] {
            assert_eq!(comment_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn raw_literals_outlast_every_quote_hash_run() {
        for (text, expected) in [
            (r#"{"a":1}"#, r##"r#"{"a":1}"#"##),
            (r##"{"a":"x"#"}"##, r###"r##"{"a":"x"#"}"##"###),
            ("", "r#\"\"#"),
        ] {
            assert_eq!(raw_literal(text), expected);
        }
    }

    #[test]
    fn paths_and_types_are_checked() {
        for (text, path, ty) in [
            ("codec::encode", true, true),
            ("::codec::encode", true, true),
            ("crate::codec::Codec::encode", true, true),
            ("codec::decode::<Vec<u8>>", true, true),
            ("encode", true, true),
            ("Vec<u8>", false, true),
            ("(u8, String)", false, true),
            ("[u8; 4]", false, true),
            ("&'static str", false, true),
            ("HashMap<String, Vec<(u8, i64)>>", false, true),
            ("", false, false),
            ("codec:encode", false, false),
            ("codec:::encode", false, false),
            ("codec::", false, false),
            // Harmless where a type stands (a compile error at worst), no path.
            ("encode(1)", false, true),
            ("a b", false, true),
            ("u8, u16", false, false),
            ("u8>(); evil(<u8", false, false),
            ("Vec<u8>; fn x() {}", false, false),
            ("encode /* x */", false, false),
            ("x!()", false, false),
            ("\"s\"", false, false),
            ("'a'", false, false),
            ("Vec<u8", false, false),
            ("u8\n", false, false),
        ] {
            assert_eq!(is_path(text), path, "path {text:?}");
            assert_eq!(is_type(text), ty, "type {text:?}");
        }
    }

    #[test]
    fn crate_paths_are_renamed_for_integration_tests() {
        for (text, krate, expected) in [
            (
                "crate::codec::encode",
                Some("my_codec"),
                "my_codec::codec::encode",
            ),
            ("codec::encode", Some("my_codec"), "codec::encode"),
            ("Vec<crate::Item>", Some("shop"), "Vec<shop::Item>"),
            ("other_crate::x", Some("shop"), "other_crate::x"),
            ("crate::x", None, "crate::x"),
        ] {
            assert_eq!(rename_crate(text, krate), expected, "{text}");
        }
    }

    #[test]
    fn identifiers() {
        for (name, ok) in [
            ("my_codec", true),
            ("_x", true),
            ("_", false),
            ("1a", false),
            ("my-codec", false),
            ("", false),
        ] {
            assert_eq!(is_ident(name), ok, "{name}");
        }
    }
}
