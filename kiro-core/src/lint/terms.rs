//! The word lists the lint checks use, and whole-word matching.
//!
//! The lists are short on purpose: each entry is a word that makes a
//! criterion untestable in almost every context, so a finding is worth
//! reading. Matching is on whole words (letters, digits, `_` and `-`
//! continue a word, so `breakfast` holds no `fast` and neither does
//! `fast-forward`), ignores inline code spans, and is case-insensitive
//! except for the upper-case placeholders.

use std::ops::Range;

use crate::ears::{code_spans, is_word_char};

/// Vague or unmeasurable terms (rule `K0004`).
pub const VAGUE_TERMS: &[&str] = &[
    "adequate",
    "and so on",
    "appropriate",
    "appropriately",
    "as needed",
    "easily",
    "easy",
    "easy-to-use",
    "efficient",
    "efficiently",
    "etc.",
    "fast",
    "flexible",
    "intuitive",
    "quick",
    "quickly",
    "reasonable",
    "reasonably",
    "robust",
    "seamless",
    "seamlessly",
    "simple",
    "state-of-the-art",
    "sufficient",
    "user-friendly",
];

/// Escape clauses that let an implementation skip the requirement (rule `K0005`).
pub const ESCAPE_CLAUSES: &[&str] = &[
    "as far as possible",
    "as much as possible",
    "if applicable",
    "if feasible",
    "if necessary",
    "if possible",
    "if practicable",
    "if practical",
    "when feasible",
    "when possible",
    "when practical",
    "where applicable",
    "where feasible",
    "where necessary",
    "where possible",
    "where practicable",
    "where practical",
];

/// Placeholders matched in upper case only (rule `K0006`): `todo` in lower
/// case is an ordinary noun in the many to-do list specs.
pub const PLACEHOLDERS: &[&str] = &["FIXME", "TBC", "TBD", "TODO", "XXX"];

/// Placeholder phrases matched in any case (rule `K0006`).
pub const PLACEHOLDER_PHRASES: &[&str] = &[
    "to be confirmed",
    "to be decided",
    "to be defined",
    "to be determined",
];

/// Modal verbs that state an obligation in other languages, so that a
/// criterion written entirely in, say, Portuguese (`o sistema DEVE ...`) is
/// not reported for lacking an English `SHALL` (rule `K0002`). Latin-script
/// words match as whole words in any case; the others as substrings.
const LOCALISED_MODAL_WORDS: &[&str] = &[
    "deve", "devem", "deverá", "deverão", "debe", "deben", "deberá", "deberán", "doit", "doivent",
    "devra", "muss", "müssen", "soll", "sollen", "dovrà",
];
const LOCALISED_MODAL_SUBSTRINGS: &[&str] = &[
    "必须",
    "应当",
    "应该",
    "必須",
    "なければならない",
    "ものとする",
    "해야",
    "하여야",
];

/// Whether the text states its obligation with a non-English modal verb
/// (including Japanese sentences that end in `こと`, cc-sdd's EARS form).
pub(crate) fn has_localised_modal(text: &str) -> bool {
    let lower = text.to_lowercase();
    let word_hit = lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| LOCALISED_MODAL_WORDS.contains(&w));
    let ends_with_koto = without_trailing_note(&lower).ends_with("こと");
    word_hit || ends_with_koto || LOCALISED_MODAL_SUBSTRINGS.iter().any(|s| lower.contains(s))
}

/// The sentence without its final punctuation and a trailing parenthetical
/// note (`…を取得すること（k値は設定可能）`).
fn without_trailing_note(text: &str) -> &str {
    let trim = |s: &str| -> usize {
        s.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '。' | '.'))
            .len()
    };
    let mut end = trim(text);
    let head = text.get(..end).unwrap_or(text);
    for (open, close) in [('（', '）'), ('(', ')')] {
        if head.ends_with(close) {
            if let Some(at) = head.rfind(open) {
                end = trim(text.get(..at).unwrap_or(text));
            }
        }
    }
    text.get(..end).unwrap_or(text)
}

/// How a term is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// ASCII case-insensitive.
    Insensitive,
    /// Exactly as written.
    Sensitive,
}

/// Byte ranges of whole-word occurrences of `term` in `hay`, outside code
/// spans. A boundary is only required on a side of `term` that is a word
/// character, so `etc.` matches before any following character.
pub(crate) fn find_term(hay: &str, term: &str, case: Case) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if term.is_empty() {
        return out;
    }
    let spans = code_spans(hay);
    let first_is_word = term.chars().next().is_some_and(is_word_char);
    let last_is_word = term.chars().next_back().is_some_and(is_word_char);
    for (i, _) in hay.char_indices() {
        let Some(candidate) = hay.get(i..i + term.len()) else {
            continue;
        };
        let equal = match case {
            Case::Insensitive => candidate.eq_ignore_ascii_case(term),
            Case::Sensitive => candidate == term,
        };
        if !equal || spans.iter().any(|r| r.contains(&i)) {
            continue;
        }
        let before = hay.get(..i).and_then(|s| s.chars().next_back());
        let after = hay.get(i + term.len()..).and_then(|s| s.chars().next());
        if first_is_word && before.is_some_and(is_word_char) {
            continue;
        }
        if last_is_word && after.is_some_and(is_word_char) {
            continue;
        }
        out.push(i..i + term.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(hay: &str, term: &str, case: Case, expected: usize) {
        assert_eq!(
            find_term(hay, term, case).len(),
            expected,
            "{term:?} in {hay:?}"
        );
    }

    #[test]
    fn whole_words_only() {
        check("be fast.", "fast", Case::Insensitive, 1);
        check("FAST and Fast", "fast", Case::Insensitive, 2);
        check(
            "breakfast fast-forward fastest",
            "fast",
            Case::Insensitive,
            0,
        );
        check("a `fast` path", "fast", Case::Insensitive, 0);
        check("colours etc. and etc.)", "etc.", Case::Insensitive, 2);
        check("very user-friendly!", "user-friendly", Case::Insensitive, 1);
        check("a todo list", "TODO", Case::Sensitive, 0);
        check("TODO: decide", "TODO", Case::Sensitive, 1);
        check("快速 fast 快", "fast", Case::Insensitive, 1);
        check("应用fast", "fast", Case::Insensitive, 1);
    }

    #[test]
    fn localised_modals() {
        assert!(has_localised_modal("QUANDO x ENTÃO o sistema DEVE exibir"));
        assert!(has_localised_modal(
            "CUANDO x ENTONCES el sistema DEBERÁ mostrar"
        ));
        assert!(has_localised_modal("系统必须返回"));
        assert!(has_localised_modal("APIは結果を返すこと。"));
        assert!(has_localised_modal(
            "APIはチャンクを取得すること（k値は設定可能）"
        ));
        assert!(!has_localised_modal("The page loads quickly"));
        assert!(!has_localised_modal("WHEN x THEN ページに遷移する"));
    }
}
