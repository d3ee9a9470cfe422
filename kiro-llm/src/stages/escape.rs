//! The model's text made inert as markdown before it is rendered into a
//! spec document, so that a title holding `\n## Requirement 9` or `- [ ]`
//! stays a title. What escaping cannot guarantee, the read-back comparison
//! of each stage catches (see the module docs of `stages`).

use kiro_core::escape::is_unsafe_char;

/// A one-line field (a title, a criterion, a statement): control and
/// formatting characters and line breaks become spaces, runs of white
/// space one space, and markup that would open a block at the start (a
/// heading, quote, list item, fence, table or HTML) or close a heading at
/// the end is escaped with a backslash.
pub(crate) fn inline(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if is_unsafe_char(c) { ' ' } else { c })
        .collect();
    let mut out = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(at) = block_marker(&out) {
        out.insert(at, '\\');
    }
    // `## Title ##`: a closing sequence would be dropped from a heading.
    let trimmed = out.trim_end_matches('#');
    if trimmed.len() < out.len() && (trimmed.is_empty() || trimmed.ends_with(' ')) {
        let at = trimmed.len();
        out.insert(at, '\\');
    }
    out
}

/// A markdown block (a design section's body, an introduction): line
/// breaks normalised to `\n`, control characters other than tabs and line
/// breaks dropped, and every ATX heading shallower than `min_level` made
/// `min_level` deep, so that the body nests under its section instead of
/// opening another one (a `min_level` above 6 escapes every heading,
/// for text that must hold none); a setext underline (`---`, `===` under text) is
/// escaped for the same reason.
pub(crate) fn block(text: &str, min_level: usize) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let clean: String = text
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !is_unsafe_char(c))
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut previous_blank = true;
    let mut in_fence = false;
    for line in clean.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if indent < 4 && (rest.starts_with("```") || rest.starts_with("~~~")) {
            in_fence = !in_fence;
        }
        if in_fence {
            previous_blank = false;
            out.push(line.trim_end().to_owned());
            continue;
        }
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let heading = indent < 4
            && (1..=6).contains(&hashes)
            && rest[hashes..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace);
        let underline = indent < 4
            && !previous_blank
            && !rest.is_empty()
            && (rest.trim_end().chars().all(|c| c == '=')
                || rest.trim_end().chars().all(|c| c == '-'));
        let line = if heading && min_level > 6 {
            format!("\\{rest}")
        } else if heading && hashes < min_level {
            format!("{}{}", "#".repeat(min_level), &rest[hashes..])
        } else if underline {
            format!("\\{rest}")
        } else {
            line.to_owned()
        };
        previous_blank = line.trim().is_empty();
        out.push(line.trim_end().to_owned());
    }
    out.join("\n").trim_matches('\n').to_owned()
}

/// Where to put a backslash so that a line starting with `text` is not
/// read as a block's start, if it would be: before the marker, or after
/// the digits of an ordered list's number (a backslash before a digit
/// escapes nothing).
fn block_marker(text: &str) -> Option<usize> {
    let mut chars = text.chars();
    let first = chars.next()?;
    let second = chars.next();
    let at_start = match first {
        '#' | '>' | '|' | '<' | '=' => true,
        '-' | '+' | '*' => second.is_none_or(|c| c == ' ' || c == first),
        '`' | '~' => text.starts_with("```") || text.starts_with("~~~"),
        '_' => text.starts_with("___"),
        c if c.is_ascii_digit() => {
            let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let after = &text[digits..];
            let list = (after.starts_with('.') || after.starts_with(')'))
                && after[1..].chars().next().is_none_or(|c| c == ' ');
            return list.then_some(digits);
        }
        _ => false,
    };
    at_start.then_some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_fields_cannot_open_blocks() {
        let cases = [
            ("Login", "Login"),
            ("  Log\tin \n now ", "Log in now"),
            ("Login\n## Requirement 9", "Login ## Requirement 9"),
            ("## Requirement 9", "\\## Requirement 9"),
            ("- [ ] 9. Evil", "\\- [ ] 9. Evil"),
            ("* item", "\\* item"),
            ("-5 degrees", "-5 degrees"),
            ("1. WHEN x", "1\\. WHEN x"),
            ("2024 plan", "2024 plan"),
            ("> quote", "\\> quote"),
            ("```rust", "\\```rust"),
            ("<script>", "\\<script>"),
            ("Title ##", "Title \\##"),
            ("C#", "C#"),
            ("a\u{1b}[31mred\u{202e}", "a [31mred"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(inline(input), expected, "{input:?}");
        }
    }

    #[test]
    fn blocks_nest_under_their_section() {
        let cases = [
            ("Text\n\n## Requirement 9\n", 3, "Text\n\n### Requirement 9"),
            ("# Top\n#### Deep\n", 3, "### Top\n#### Deep"),
            ("Line\n---\nNext", 3, "Line\n\\---\nNext"),
            ("Para\n\n---\n", 3, "Para\n\n---"),
            ("a\r\nb\u{7}c\r", 3, "a\nbc"),
            (
                "```\n# a comment in code\n```\n# After",
                3,
                "```\n# a comment in code\n```\n### After",
            ),
            ("#hashtag", 3, "#hashtag"),
            ("Intro\n## Requirements\n", 7, "Intro\n\\## Requirements"),
        ];
        for (input, level, expected) in cases {
            assert_eq!(block(input, level), expected, "{input:?}");
        }
    }
}
