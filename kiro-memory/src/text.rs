//! Words of a text, for FTS5 queries and similarity: one tokenizer, so that
//! what a query asks and what a comparison compares agree.

/// Words so common that they only slow a full-text query down and make two
/// unrelated sentences look alike. English only: other languages keep every
/// word, which costs speed, not correctness.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "be", "by", "for", "from", "has", "have", "if", "in", "into",
    "is", "it", "its", "of", "on", "or", "so", "that", "the", "this", "to", "was", "we", "were",
    "with", "you", "your", "our", "these", "those", "there", "here", "then", "than", "when",
    "which", "while", "will", "would", "can", "could", "at", "also",
];

/// Whether a (lower-case) word is a [stopword](STOPWORDS).
pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// The lower-case words of a text, in order: runs of letters and digits,
/// apostrophes dropped (`don't` is `dont`), everything else a separator
/// (so control characters, quotes and FTS5 operators never reach a query).
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if c == '\'' || c == '\u{2019}' {
            // Inside a word an apostrophe joins (`don't`); elsewhere it is nothing.
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A word's light stem, so that `libraries`/`library` and `crates`/`crate`
/// compare equal: `-ies` to `-y`, a final `s` dropped (not `-ss`), `-ing`
/// dropped from long words. Deliberately crude; FTS5 does its own (Porter)
/// stemming for BM25.
pub(crate) fn stem(word: &str) -> String {
    if let Some(base) = word.strip_suffix("ies").filter(|b| b.chars().count() >= 2) {
        return format!("{base}y");
    }
    if let Some(base) = word.strip_suffix("ing").filter(|b| b.chars().count() >= 4) {
        return base.to_owned();
    }
    if word.chars().count() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// The words of a text worth searching for: stopwords and one-letter
/// words left out, each word once, at most `max_terms` of them (a megabyte
/// of text yields as many as its first paragraph).
pub(crate) fn query_terms(text: &str, max_terms: usize) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for word in words(text) {
        if seen.len() >= max_terms {
            break;
        }
        if word.chars().count() < 2 || is_stopword(&word) || seen.contains(&word) {
            continue;
        }
        seen.push(word);
    }
    seen
}

/// One word as an FTS5 string. Words are letters and digits only (see
/// [`words`]) and quoted, so no text can inject FTS5 syntax.
pub(crate) fn fts_term(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// An FTS5 query matching any of `terms`; `None` for no terms.
pub(crate) fn fts_any(terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    let quoted: Vec<String> = terms.iter().map(|w| fts_term(w)).collect();
    Some(quoted.join(" OR "))
}

/// An FTS5 query matching any of a text's [query terms](query_terms).
pub(crate) fn fts_query(text: &str, max_terms: usize) -> Option<String> {
    fts_any(&query_terms(text, max_terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letters_and_digits() {
        let check = |text: &str, expected: &[&str]| assert_eq!(words(text), expected, "{text}");
        check(
            "Don't use `anyhow` in libs!",
            &["dont", "use", "anyhow", "in", "libs"],
        );
        check("kiro_core::memory\u{0}x", &["kiro", "core", "memory", "x"]);
        check("需求 ÉTÉ", &["需求", "été"]);
        check("", &[]);
    }

    #[test]
    fn stems_fold_plurals() {
        for (word, stemmed) in [
            ("libraries", "library"),
            ("crates", "crate"),
            ("class", "class"),
            ("using", "using"),
            ("parsing", "pars"),
            ("is", "is"),
        ] {
            assert_eq!(stem(word), stemmed, "{word}");
        }
    }

    #[test]
    fn queries_quote_words_and_drop_syntax() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(fts_query(text, 4).as_deref(), expected, "{text}")
        };
        check(
            "use thiserror in the parser",
            Some("\"use\" OR \"thiserror\" OR \"parser\""),
        );
        check(
            "NEAR(a b) OR \"x\" AND y* -z ^col:w",
            Some("\"near\" OR \"col\""),
        );
        check("a b c", None);
        check(
            "one two three four five six",
            Some("\"one\" OR \"two\" OR \"three\" OR \"four\""),
        );
    }
}
