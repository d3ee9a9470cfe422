//! Text helpers shared by the renderers: escaping, control characters and
//! terminal column widths (measured by [`crate::text`], which lint uses too).

pub(crate) use crate::text::char_width;

/// Removes ANSI escape sequences and other control characters (test output
/// is often coloured), keeping newlines and tabs.
///
/// Reports are read in terminals, browsers and XML parsers, none of which
/// should see raw escape sequences from a test's output: a terminal would
/// obey them and XML 1.0 forbids most control characters outright.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                // A CSI sequence ends with a byte in `@`..=`~`.
                Some('[') => {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                }
                // An OSC sequence (hyperlinks, titles) ends with BEL or ST.
                Some(']') => {
                    chars.next();
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' {
                            break;
                        }
                        if d == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\n' | '\t' => out.push(c),
            '\r' => {
                // A lone CR (progress bars) becomes a line break; CRLF one break.
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The text on one line: line breaks and runs of whitespace become one space.
pub(crate) fn one_line(text: &str) -> String {
    clean(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for XML element content or a double-quoted attribute.
///
/// In attributes, line breaks and tabs are written as character references
/// because attribute-value normalisation would otherwise turn them into
/// spaces.
pub(crate) fn xml_escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Columns a string takes in a terminal.
pub(crate) fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// The text cut to at most `max` columns, with `…` marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_ansi_and_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m ok\u{7}\r\nx"), "red ok\nx");
        assert_eq!(
            clean("a\u{1b}]8;;file\u{7}link\u{1b}]8;;\u{1b}\\b"),
            "alinkb"
        );
    }

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("需求"), 4);
        assert_eq!(truncate("需求需求", 5), "需求…");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(xml_escape("a\nb<", true), "a&#10;b&lt;");
        assert_eq!(xml_escape("a\nb<", false), "a\nb&lt;");
    }
}
