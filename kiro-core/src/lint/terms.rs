//! Whole-word matching of the lexicon's words in criteria.
//!
//! The word lists live in [`crate::lexicon::terms`] (re-exported here and
//! from [`crate::lint`]) and the modal verbs of other languages in
//! [`crate::lexicon::ears`]. Matching is on whole words (letters, digits,
//! `_` and `-` continue a word, so `breakfast` holds no `fast` and neither
//! does `fast-forward`), ignores inline code spans, and is
//! case-insensitive except for the upper-case placeholders.

use std::ops::Range;

use crate::ears::{code_spans, is_word_char};

pub use crate::lexicon::terms::{
    AFTER_ESCAPE, ESCAPE_CLAUSES, PLACEHOLDERS, PLACEHOLDER_PHRASES, VAGUE_TERMS,
};

/// Whether the text states its obligation with a non-English modal verb
/// (`DEVE`, `MUSS`, `必须`, `应`, `しなければならない`, a Japanese sentence
/// ending in `こと`, `해야 한다`, ...), so that rule `K0002` does not ask it
/// for an English `SHALL`.
pub(crate) fn has_localised_modal(text: &str) -> bool {
    crate::ears::has_localised_modal(text)
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
        assert!(has_localised_modal("系统应\n  返回结果"));
        assert!(has_localised_modal("시스템은 결과를 반환해야한다"));
        assert!(has_localised_modal("система ДОЛЖНА вернуть"));
        assert!(!has_localised_modal("The page loads quickly"));
        assert!(!has_localised_modal("WHEN x THEN ページに遷移する"));
        // Words holding a modal verb, a modal in code, and こと mid-sentence.
        assert!(!has_localised_modal("系统响应请求并启动应用"));
        assert!(!has_localised_modal("the `deve` branch is merged"));
        assert!(!has_localised_modal("ことの経緯が表示される"));
        assert!(!has_localised_modal("the devedor field is shown"));
    }
}
