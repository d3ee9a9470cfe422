//! Whole-word matching of the lexicon's words in criteria.
//!
//! The word lists live in [`crate::lexicon::terms`] (re-exported here and
//! from [`crate::lint`]) and the modal verbs of other languages in
//! [`crate::lexicon::ears`]. Matching is on whole words (letters, digits,
//! `_` and `-` continue a word, so `breakfast` holds no `fast` and neither
//! does `fast-forward`), ignores inline code spans, and is
//! case-insensitive except for the upper-case placeholders.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};

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

/// Which word list a term of [`Terms`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum List {
    /// The modal verb `shall` (rules `K0001`-`K0003`).
    Shall,
    /// [`VAGUE_TERMS`] (`K0004`).
    Vague,
    /// [`ESCAPE_CLAUSES`] (`K0005`).
    Escape,
    /// [`PLACEHOLDERS`] and [`PLACEHOLDER_PHRASES`] (`K0006`).
    Placeholder,
}

/// One term of [`Terms`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Term {
    /// The term as listed in the lexicon.
    pub text: &'static str,
    /// Its list.
    pub list: List,
    /// How it is compared.
    pub case: Case,
}

/// Every word lint looks for in a text, found in one pass.
///
/// Looking for each of the ~50 terms on its own (as [`find_term`] does)
/// reads a criterion ~50 times, and a multi-megabyte criterion made that the
/// bulk of a lint. One Aho-Corasick automaton (ASCII case-insensitive,
/// overlapping, since `easy` and `easy-to-use` both start at the same byte)
/// reads it once; whole-word, code-span and case checks then look only at
/// the candidates.
pub(crate) struct Terms {
    /// `None` only if the builder refused the lexicon (it accepts any list
    /// of strings): then each term is looked for on its own.
    automaton: Option<AhoCorasick>,
    terms: Vec<Term>,
}

/// One whole-word occurrence of a term of [`Terms`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Index of the term in [`Terms::terms`].
    pub term: usize,
    /// Its bytes in the text.
    pub range: Range<usize>,
}

impl Terms {
    /// The lexicon's lists, in the order their findings are reported.
    pub(crate) fn new() -> Terms {
        let lists: [(&[&'static str], List, Case); 5] = [
            (&["shall"], List::Shall, Case::Insensitive),
            (VAGUE_TERMS, List::Vague, Case::Insensitive),
            (ESCAPE_CLAUSES, List::Escape, Case::Insensitive),
            (PLACEHOLDERS, List::Placeholder, Case::Sensitive),
            (PLACEHOLDER_PHRASES, List::Placeholder, Case::Insensitive),
        ];
        let terms: Vec<Term> = lists
            .iter()
            .flat_map(|(words, list, case)| {
                words.iter().map(|text| Term {
                    text,
                    list: *list,
                    case: *case,
                })
            })
            .collect();
        Terms {
            automaton: automaton(terms.iter().map(|t| t.text)),
            terms,
        }
    }

    /// The terms, in report order.
    pub(crate) fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Every whole-word occurrence of every term in `hay`, outside code
    /// spans, ordered by start (then by term). Linear in `hay`: the
    /// automaton reads it once and each candidate costs a constant.
    pub(crate) fn scan(&self, hay: &str) -> Vec<Hit> {
        let Some(automaton) = &self.automaton else {
            return self.scan_each(hay);
        };
        let spans = code_spans(hay);
        let mut out = Vec::new();
        for m in automaton.find_overlapping_iter(hay) {
            let Some(term) = self.terms.get(m.pattern().as_usize()) else {
                continue;
            };
            let range = m.range();
            if term.case == Case::Sensitive && hay.get(range.clone()) != Some(term.text) {
                continue;
            }
            if is_whole_word(hay, term.text, &range) && !in_code(&spans, range.start) {
                out.push(Hit {
                    term: m.pattern().as_usize(),
                    range,
                });
            }
        }
        out.sort_by_key(|h| (h.range.start, h.term));
        out
    }

    /// [`Terms::scan`] one term at a time.
    fn scan_each(&self, hay: &str) -> Vec<Hit> {
        let mut out: Vec<Hit> = self
            .terms
            .iter()
            .enumerate()
            .flat_map(|(term, t)| {
                find_term(hay, t.text, t.case)
                    .into_iter()
                    .map(move |range| Hit { term, range })
            })
            .collect();
        out.sort_by_key(|h| (h.range.start, h.term));
        out
    }
}

/// An overlapping (standard match kind), ASCII case-insensitive automaton
/// of `patterns`.
fn automaton<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(patterns)
        .ok()
}

/// Whether `term` at `range` of `hay` stands as a whole word: a boundary
/// is only required on a side of `term` that is a word character, so
/// `etc.` matches before any following character.
fn is_whole_word(hay: &str, term: &str, range: &Range<usize>) -> bool {
    let first_is_word = term.chars().next().is_some_and(is_word_char);
    let last_is_word = term.chars().next_back().is_some_and(is_word_char);
    let before = hay.get(..range.start).and_then(|s| s.chars().next_back());
    let after = hay.get(range.end..).and_then(|s| s.chars().next());
    let glued_before = first_is_word && before.is_some_and(is_word_char);
    let glued_after = last_is_word && after.is_some_and(is_word_char);
    !glued_before && !glued_after
}

/// Whether `at` lies in one of `spans` (sorted, disjoint): a binary search,
/// so that a line of many code spans and many matches stays linear-ish
/// rather than comparing every match with every span.
fn in_code(spans: &[Range<usize>], at: usize) -> bool {
    let after = spans.partition_point(|r| r.start <= at);
    after
        .checked_sub(1)
        .and_then(|i| spans.get(i))
        .is_some_and(|r| r.contains(&at))
}

/// Byte ranges of whole-word occurrences of `term` in `hay`, outside code
/// spans. A boundary is only required on a side of `term` that is a word
/// character, so `etc.` matches before any following character.
///
/// Linear in `hay` for a term of bounded length: candidates are the bytes
/// equal (ignoring ASCII case) to the term's first byte, and each is
/// compared once. A term's first byte is never a UTF-8 continuation byte,
/// so every candidate starts on a character boundary.
pub(crate) fn find_term(hay: &str, term: &str, case: Case) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let Some(&first) = term.as_bytes().first() else {
        return out;
    };
    let spans = code_spans(hay);
    let bytes = hay.as_bytes();
    let (lower, upper) = match case {
        Case::Insensitive => (first.to_ascii_lowercase(), first.to_ascii_uppercase()),
        Case::Sensitive => (first, first),
    };
    for i in memchr::memchr2_iter(lower, upper, bytes) {
        let Some(candidate) = hay.get(i..i + term.len()) else {
            continue;
        };
        let equal = match case {
            Case::Insensitive => candidate.eq_ignore_ascii_case(term),
            Case::Sensitive => candidate == term,
        };
        let range = i..i + term.len();
        if equal && is_whole_word(hay, term, &range) && !in_code(&spans, i) {
            out.push(range);
        }
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

    /// One pass over a text finds exactly what looking for each term on
    /// its own finds: same terms, same ranges, the case rules kept.
    #[test]
    fn one_scan_finds_what_each_term_finds() {
        let terms = Terms::new();
        let texts = [
            "THE App SHALL be fast, robust and easy-to-use, etc.",
            "be FAST `fast` fast-forward breakfast Fast",
            "WHEN possible, THE App SHALL retry where possible the job",
            "TODO: TBD or tbd, to be Determined; XXXX and XXX",
            "IF possible duplicates exist THEN THE App SHALL shallow-copy them",
            "``fast` fast`` fast ` unclosed fast",
            "快速fast应用 easy易 simple",
            "",
        ];
        for text in texts {
            let hits = terms.scan(text);
            for (i, t) in terms.terms().iter().enumerate() {
                let scanned: Vec<Range<usize>> = hits
                    .iter()
                    .filter(|h| h.term == i)
                    .map(|h| h.range.clone())
                    .collect();
                assert_eq!(
                    scanned,
                    find_term(text, t.text, t.case),
                    "{:?} in {text:?}",
                    t.text
                );
            }
        }
        let found = |text: &str| -> Vec<&str> {
            let mut words: Vec<&str> = terms
                .scan(text)
                .iter()
                .map(|h| terms.terms()[h.term].text)
                .collect();
            words.dedup();
            words
        };
        assert_eq!(
            found("THE App SHALL be easy-to-use and efficiently fast, TBD."),
            ["shall", "easy-to-use", "efficiently", "fast", "TBD"]
        );
        assert_eq!(found("a todo list in `TBD` is simpler"), Vec::<&str>::new());
    }

    /// Matches inside many code spans are each checked against the spans
    /// without reading all of them (a sorted search), and none is reported.
    #[test]
    fn many_code_spans() {
        let text = "`fast` ".repeat(10_000) + "fast";
        assert_eq!(find_term(&text, "fast", Case::Insensitive).len(), 1);
        let terms = Terms::new();
        assert_eq!(terms.scan(&text).len(), 1);
        assert!(in_code(&[1..3, 5..9], 6));
        assert!(!in_code(&[1..3, 5..9], 3));
        assert!(!in_code(&[1..3, 5..9], 0));
        assert!(!in_code(&[], 0));
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
