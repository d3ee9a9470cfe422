//! Visible escaping of control characters for terminal output.
//!
//! A terminal obeys what it is sent: a line break in an actor name starts
//! what looks like a new row of `kiro audit list`, an ANSI escape sequence in
//! a task title recolours, moves the cursor or clears the screen, and a
//! bidirectional override reorders what follows it. Every string kiro prints
//! to a terminal that came from outside (actors, task titles, summaries,
//! agent output, paths) goes through [`escape_control`] first, which writes
//! such characters as visible Rust-style escapes (`\n`, `\u{1b}`) instead.
//!
//! JSON output needs none of this: `serde_json` already escapes control
//! characters inside strings.
//!
//! ```
//! use kiro_core::escape::escape_control;
//!
//! assert_eq!(escape_control("alice\n   2  forged row"), "alice\\n   2  forged row");
//! assert_eq!(escape_control("\u{1b}[31mred"), "\\u{1b}[31mred");
//! assert_eq!(escape_control("plain 日本"), "plain 日本");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: C0 controls (including tab
/// and line breaks), DEL, C1 controls, and the Unicode formatting characters
/// that reorder or hide text (bidirectional embeddings, overrides and
/// isolates, and the line and paragraph separators).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character [`is_unsafe_char`] rejects written as a
/// visible escape: `\n`, `\r` and `\t` for those three, `\u{hex}` for the
/// others (ESC is `\u{1b}`, so an ANSI sequence shows as `\u{1b}[31m`).
/// Text without such characters is returned as is, without copying.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_kind_of_control_character() {
        let cases = [
            ("", ""),
            ("alice", "alice"),
            ("Ünïcödé 需求 🚀", "Ünïcödé 需求 🚀"),
            ("a\nb", "a\\nb"),
            ("a\r\nb", "a\\r\\nb"),
            ("a\tb", "a\\tb"),
            ("\u{0}", "\\u{0}"),
            ("\u{7}bell", "\\u{7}bell"),
            ("\u{1b}[2J\u{1b}[H", "\\u{1b}[2J\\u{1b}[H"),
            ("\u{1b}]8;;http://x\u{7}", "\\u{1b}]8;;http://x\\u{7}"),
            ("del\u{7f}", "del\\u{7f}"),
            ("c1\u{85}\u{9b}31m", "c1\\u{85}\\u{9b}31m"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("x\u{2066}y\u{2069}", "x\\u{2066}y\\u{2069}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            // A backslash is left alone: it cannot move the cursor.
            ("a\\nb", "a\\nb"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_control(input), expected, "{input:?}");
            assert!(
                !escape_control(input).chars().any(is_unsafe_char),
                "{input:?}"
            );
        }
        assert!(matches!(escape_control("plain"), Cow::Borrowed(_)));
    }
}
