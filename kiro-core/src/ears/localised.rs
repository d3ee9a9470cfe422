//! EARS sentences whose obligation is stated in a language other than
//! English: German `MUSS`, Portuguese `DEVE`, Chinese `应`, Japanese
//! `しなければならない`, Korean `해야 한다`... The words come from
//! [`crate::lexicon::ears`]; this module knows only the sentence shapes.
//!
//! A reading starts from the modal verb, which names the language, and
//! works outwards:
//! - the conditions are the clauses before the system, opened by an
//!   English keyword (`WHEN ... THEN システムは...`), by a word of the
//!   language (`WENN`, `当`, `もし`) or closed by one (`时`, `とき`, `때`);
//! - in [`WordOrder::ModalBeforeResponse`] languages the system stands
//!   between the conditions and the modal verb (or, in German, right after
//!   it) and the response follows the modal verb;
//! - in [`WordOrder::ModalLast`] languages a topic particle (`は`, `은`)
//!   closes the system, and the response runs up to the modal ending.

use std::cmp::Reverse;
use std::ops::Range;

use compact_str::CompactString;
use smallvec::SmallVec;

use super::{
    char_before, conditions, in_spans, is_final_punctuation, opens_with_condition, pattern_of,
    top_level_separators, trim_clause, Token,
};
use crate::format::markdown::trim_fast;
use crate::lexicon::ears::{Language, Script, WordOrder, LANGUAGES};
use crate::spec::{Clause, Ears};

/// How many modal verb candidates a reading tries before it gives up: a
/// modal word may also stand inside a condition (`QUANDO o usuário deve
/// pagar, ...`), and the next candidate is then the right one.
const MAX_CANDIDATES: usize = 4;

/// Reads a normalised sentence without `SHALL` (see [`Ears::parse`]).
pub(super) fn parse(s: &str, spans: &[Range<usize>], tokens: &[Token]) -> Option<Ears> {
    modal_candidates(s, spans)
        .iter()
        .take(MAX_CANDIDATES)
        .find_map(|modal| read(s, spans, tokens, modal))
}

/// Whether the normalised text holds a modal verb of a language other than
/// English, outside code spans.
pub(super) fn has_modal(s: &str, spans: &[Range<usize>]) -> bool {
    !modal_candidates(s, spans).is_empty()
}

/// A word of a table found in the sentence.
#[derive(Clone, Debug)]
struct Hit {
    /// Index of the entry in its table.
    entry: usize,
    range: Range<usize>,
    /// Written in capitals (`DEVE`): the spelling that marks EARS words.
    upper: bool,
}

/// A modal verb that may state the sentence's obligation.
#[derive(Clone, Debug)]
struct Modal {
    language: &'static Language,
    range: Range<usize>,
    upper: bool,
    /// A prohibition (`不得`), which stays in the response.
    prohibition: bool,
    /// How many other words of the language the sentence holds, which
    /// tells apart languages sharing the modal verb.
    score: usize,
}

/// Characters that continue a word in a spaced language.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Text with letters, all of them capitals.
fn is_upper(text: &str) -> bool {
    text.chars().any(char::is_uppercase) && !text.chars().any(char::is_lowercase)
}

/// The end of `entry` when it matches `s` at byte `at` (not past `limit`).
/// Letters compare ignoring case (entries are lower-case), a space in the
/// entry matches any run of spaces, none included, and with `whole` an
/// entry that starts or ends with a word character must not continue a
/// word of the text.
fn match_at(s: &str, at: usize, limit: usize, entry: &str, whole: bool) -> Option<usize> {
    let text = s.get(at..limit)?;
    let mut chars = text.char_indices().peekable();
    let mut end = 0;
    for e in entry.chars() {
        if e == ' ' {
            while let Some((i, ' ')) = chars.peek().copied() {
                end = i + 1;
                chars.next();
            }
            continue;
        }
        let (i, c) = chars.next()?;
        if c != e && !c.to_lowercase().eq(std::iter::once(e)) {
            return None;
        }
        end = i + c.len_utf8();
    }
    let end = at + end;
    if whole {
        let before = s.get(..at).and_then(|h| h.chars().next_back());
        let after = s.get(end..).and_then(|r| r.chars().next());
        if entry.chars().next().is_some_and(is_word) && before.is_some_and(is_word) {
            return None;
        }
        if entry.chars().next_back().is_some_and(is_word) && after.is_some_and(is_word) {
            return None;
        }
    }
    Some(end)
}

/// The longest entry of `entries` matching at `at`, with its end.
fn longest_at<T>(
    s: &str,
    at: usize,
    limit: usize,
    entries: &[T],
    word: impl Fn(&T) -> &'static str,
    whole: bool,
) -> Option<(usize, usize)> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(k, e)| match_at(s, at, limit, word(e), whole).map(|end| (k, end)))
        .max_by_key(|&(_, end)| end)
}

/// Every non-overlapping match of the entries in `s[region]`, outside code
/// spans, the longest at each place. With `whole` (spaced languages),
/// matches are whole words in any case; without, entries match as
/// substrings exactly (Chinese, Japanese and Korean have no case).
///
/// This runs for every criterion without `SHALL`, over every table of
/// several languages, so neither path tries every entry at every
/// character: whole words are tried at word starts on their first letter,
/// substrings are found by the standard library's substring search.
fn scan<T>(
    s: &str,
    region: Range<usize>,
    spans: &[Range<usize>],
    entries: &[T],
    word: impl Fn(&T) -> &'static str + Copy,
    whole: bool,
) -> Vec<Hit> {
    let mut out = Vec::new();
    let Some(text) = s.get(region.clone()).filter(|_| !entries.is_empty()) else {
        return out;
    };
    let mut push = |entry: usize, range: Range<usize>| {
        out.push(Hit {
            entry,
            upper: s.get(range.clone()).is_some_and(is_upper),
            range,
        });
    };
    let mut next_free = region.start;
    if whole {
        // The first bytes an entry can start with, in either case: most
        // bytes of a sentence (every byte of a CJK character, most
        // letters) start none, and are passed over without decoding.
        let mut leads = [0u64; 4];
        for e in entries {
            let Some(first) = word(e).chars().next() else {
                continue;
            };
            for c in [first, first.to_uppercase().next().unwrap_or(first)] {
                let mut buf = [0u8; 4];
                if let Some(&b) = c.encode_utf8(&mut buf).as_bytes().first() {
                    if let Some(bits) = leads.get_mut(usize::from(b >> 6)) {
                        *bits |= 1 << (b & 63);
                    }
                }
            }
        }
        let is_lead = |b: u8| {
            leads
                .get(usize::from(b >> 6))
                .is_some_and(|bits| bits & (1 << (b & 63)) != 0)
        };
        for (i, b) in text.bytes().enumerate() {
            let at = region.start + i;
            if !is_lead(b) || at < next_free {
                continue;
            }
            let Some(c) = s.get(at..).and_then(|r| r.chars().next()) else {
                continue;
            };
            let previous = s.get(..at).and_then(|h| h.chars().next_back());
            if previous.is_some_and(is_word) || in_spans(spans, at) {
                continue;
            }
            let first = c.to_lowercase().next().unwrap_or(c);
            let best = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| word(e).starts_with(first))
                .filter_map(|(k, e)| match_at(s, at, region.end, word(e), true).map(|end| (k, end)))
                .max_by_key(|&(_, end)| end);
            if let Some((entry, end)) = best {
                push(entry, at..end);
                next_free = end;
            }
        }
        return out;
    }
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        let entry = word(e);
        // A space in the entry may be missing from the text: search for
        // the piece before it and let `match_at` check the rest.
        let piece = entry.split(' ').next().unwrap_or(entry);
        if piece.is_empty() {
            continue;
        }
        for (i, _) in text.match_indices(piece) {
            let at = region.start + i;
            if let Some(end) = match_at(s, at, region.end, entry, false) {
                found.push((at, end, k));
            }
        }
    }
    found.sort_unstable_by_key(|&(start, end, _)| (start, Reverse(end)));
    for (start, end, entry) in found {
        if start < next_free || in_spans(spans, start) {
            continue;
        }
        push(entry, start..end);
        next_free = end;
    }
    out
}

/// The CJK script of the text, if any: kana makes it Japanese whatever Han
/// characters it also holds, Hangul Korean.
fn cjk_script(s: &str) -> Option<Script> {
    if s.is_ascii() {
        return None;
    }
    let (mut kana, mut hangul, mut han) = (false, false, false);
    for c in s.chars() {
        match u32::from(c) {
            0x3040..=0x30ff | 0x31f0..=0x31ff | 0xff66..=0xff9f => kana = true,
            0xac00..=0xd7af | 0x1100..=0x11ff | 0x3130..=0x318f => hangul = true,
            0x4e00..=0x9fff | 0x3400..=0x4dbf | 0xf900..=0xfaff => han = true,
            _ => {}
        }
    }
    if kana {
        Some(Script::Kana)
    } else if hangul {
        Some(Script::Hangul)
    } else if han {
        Some(Script::Han)
    } else {
        None
    }
}

/// Where the sentence's body ends: before its final punctuation and a
/// closing parenthetical note (`…すること（k値は設定可能）。`), and the note.
fn sentence_end(s: &str) -> (usize, Option<Range<usize>>) {
    let trim = |t: &str| {
        t.trim_end_matches(|c: char| c.is_whitespace() || is_final_punctuation(c))
            .len()
    };
    let end = trim(s);
    let head = s.get(..end).unwrap_or("");
    for (open, close) in [('（', '）'), ('(', ')')] {
        if head.ends_with(close) {
            if let Some(at) = head.rfind(open) {
                return (trim(s.get(..at).unwrap_or("")), Some(at..end));
            }
        }
    }
    (end, None)
}

/// Whether modal verbs of this language are whole words (`DEVE`) rather
/// than verb endings (`しなければならない`, `해야 한다`).
fn modal_is_word(language: &Language) -> bool {
    language.spaced && language.order == WordOrder::ModalBeforeResponse
}

/// The modal verbs of the text, in the order a reading tries them:
/// capitals first (`QUANDO o usuário deve pagar ENTÃO o sistema DEVE`),
/// then by position, then by how many other words of the language the
/// sentence holds.
fn modal_candidates(s: &str, spans: &[Range<usize>]) -> Vec<Modal> {
    let cjk = cjk_script(s);
    let (body_end, _) = sentence_end(s);
    let mut found: Vec<(&'static Language, Vec<(Hit, bool)>)> = Vec::new();
    for language in LANGUAGES
        .iter()
        .filter(|l| l.script == Script::Alphabetic || Some(l.script) == cjk)
    {
        let whole = modal_is_word(language);
        let all = 0..s.len();
        let mut hits: Vec<(Hit, bool)> =
            scan(s, all.clone(), spans, language.modals, |w| *w, whole)
                .into_iter()
                .chain(
                    scan(s, all.clone(), spans, language.final_modals, |w| *w, whole)
                        .into_iter()
                        .filter(|h| h.range.end == body_end),
                )
                .map(|h| (h, false))
                .collect();
        if !hits.is_empty() {
            let not_modals = scan(s, all.clone(), spans, language.not_modals, |w| *w, whole);
            hits.retain(|(h, _)| {
                !not_modals
                    .iter()
                    .any(|n| n.range.start < h.range.end && h.range.start < n.range.end)
            });
        }
        hits.extend(
            scan(s, all, spans, language.prohibitions, |w| *w, whole)
                .into_iter()
                .map(|h| (h, true)),
        );
        if !hits.is_empty() {
            found.push((language, hits));
        }
    }
    let mut out: Vec<Modal> = found
        .into_iter()
        .flat_map(|(language, hits)| {
            hits.into_iter().map(move |(h, prohibition)| Modal {
                language,
                range: h.range,
                upper: h.upper,
                prohibition,
                score: 0,
            })
        })
        .collect();
    out.sort_by_key(|m| (!m.upper, m.range.start));
    // Scores only tell apart languages that share a modal verb (`deve`),
    // so they are counted only for the candidates that share a place.
    let mut scores: SmallVec<[(&str, usize); 2]> = SmallVec::new();
    let shared: Vec<bool> = (0..out.len())
        .map(|i| {
            let same = |j: Option<usize>| {
                j.and_then(|j| out.get(j))
                    .zip(out.get(i))
                    .is_some_and(|(a, b)| a.range == b.range)
            };
            same(i.checked_sub(1)) || same(i.checked_add(1))
        })
        .collect();
    for (m, shared) in out.iter_mut().zip(shared) {
        if !shared {
            continue;
        }
        m.score = match scores.iter().find(|(code, _)| *code == m.language.code) {
            Some(&(_, score)) => score,
            None => {
                let score = language_score(m.language, s, spans);
                scores.push((m.language.code, score));
                score
            }
        };
    }
    out.sort_by_key(|m| (!m.upper, m.range.start, Reverse(m.score)));
    out
}

/// How many condition words, then-words and articles of the language the
/// text holds.
fn language_score(language: &Language, s: &str, spans: &[Range<usize>]) -> usize {
    let all = 0..s.len();
    let whole = language.spaced;
    scan(s, all.clone(), spans, language.openers, |(w, _)| *w, whole).len()
        + scan(s, all.clone(), spans, language.then, |w| *w, whole).len()
        + scan(s, all, spans, language.articles, |w| *w, whole).len()
}

/// Reads the sentence around one modal verb candidate.
fn read(s: &str, spans: &[Range<usize>], tokens: &[Token], modal: &Modal) -> Option<Ears> {
    let language = modal.language;
    // English condition keywords before the modal verb (`WHEN x THEN
    // システムは…しなければならない`) open the conditions as in English.
    let head = tokens
        .get(..tokens.partition_point(|t| t.range.end <= modal.range.start))
        .unwrap_or(&[]);
    let english = if opens_with_condition(s, head) {
        Some(conditions(s, head, tokens, spans, modal.range.start)?)
    } else {
        None
    };
    let (conditions, system, response) = match language.order {
        WordOrder::ModalBeforeResponse => {
            let (conditions, system_start) = match english {
                Some(read) => read,
                None if language.spaced => spaced_conditions(language, s, spans, modal)?,
                None => unspaced_conditions(language, s, spans, modal)?,
            };
            let (system, response) = system_and_response(language, s, system_start, modal)?;
            (conditions, system, response)
        }
        WordOrder::ModalLast => {
            let (conditions, rest) = match english {
                Some(read) => read,
                None => closed_conditions(language, s, spans, modal.range.start),
            };
            let (system, response) = topic_and_response(language, s, spans, rest, modal)?;
            (conditions, system, response)
        }
    };
    if system.is_empty() || response.is_empty() {
        return None;
    }
    Some(Ears {
        pattern: pattern_of(&conditions),
        conditions,
        system: CompactString::new(system),
        response,
        language: Some(CompactString::new(language.code)),
    })
}

/// Whether the text from `from` to `at` is blank or emphasis marks only.
fn blank(s: &str, from: usize, at: usize) -> bool {
    s.get(from..at)
        .is_some_and(|g| g.trim_matches(|c: char| c == ' ' || c == '*').is_empty())
}

fn preceded_by_separator(language: &Language, s: &str, at: usize) -> bool {
    char_before(s, at).is_some_and(|c| language.separators.contains(&c))
}

/// Conditions opened by words of a spaced language (`WENN`, `QUANDO`): a
/// clause opens at an opener that starts the sentence, is written in
/// capitals or follows a separator; the last one ends at a then-word
/// (`DANN`, `ENTÃO`), at the last separator or before the last article.
/// Without an opener starting the sentence, it is ubiquitous.
fn spaced_conditions(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    modal: &Modal,
) -> Option<(SmallVec<[Clause; 1]>, usize)> {
    let end = modal.range.start;
    let openers = scan(s, 0..end, spans, language.openers, |(w, _)| *w, true);
    if !openers.first().is_some_and(|h| blank(s, 0, h.range.start)) {
        return Some((SmallVec::new(), 0));
    }
    let starts: Vec<&Hit> = openers
        .iter()
        .enumerate()
        .filter(|(i, h)| *i == 0 || h.upper || preceded_by_separator(language, s, h.range.start))
        .map(|(_, h)| h)
        .collect();
    let mut out = SmallVec::new();
    let mut system_start = None;
    for (i, start) in starts.iter().enumerate() {
        let (_, keyword) = language.openers.get(start.entry)?;
        let text = match starts.get(i + 1) {
            Some(next) => strip_conjunction(
                language,
                trim_clause(s.get(start.range.end..next.range.start)?),
            ),
            None => {
                let region = start.range.end..end;
                let (cond_end, sys_start) = split_spaced(language, s, spans, region.clone())?;
                system_start = Some(sys_start);
                trim_clause(s.get(region.start..cond_end)?)
            }
        };
        if text.is_empty() {
            return None;
        }
        out.push(Clause {
            keyword: *keyword,
            text: text.to_owned(),
        });
    }
    Some((out, system_start?))
}

/// Drops a conjunction that joined a clause to the next one (`WENN x UND`).
fn strip_conjunction<'a>(language: &Language, text: &'a str) -> &'a str {
    for c in language.conjunctions {
        let Some(cut) = text.len().checked_sub(c.len()) else {
            continue;
        };
        let Some(head) = text.get(..cut) else {
            continue;
        };
        let joined = if language.spaced {
            head.ends_with(' ')
        } else {
            !head.is_empty()
        };
        if joined && match_at(text, cut, text.len(), c, language.spaced) == Some(text.len()) {
            return trim_clause(head);
        }
    }
    text
}

/// Splits the last clause of a spaced language into the condition's end
/// and the system's start, trying the most explicit mark first: a
/// then-word in capitals or after a separator, any then-word, the last
/// separator, the last article.
fn split_spaced(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    region: Range<usize>,
) -> Option<(usize, usize)> {
    let opens_region = |at: usize| blank(s, region.start, at);
    let then = scan(s, region.clone(), spans, language.then, |w| *w, true);
    let marked = then.iter().find(|t| {
        (t.upper || preceded_by_separator(language, s, t.range.start))
            && !opens_region(t.range.start)
    });
    if let Some(t) = marked.or_else(|| then.iter().find(|t| !opens_region(t.range.start))) {
        return Some((t.range.start, t.range.end));
    }
    let seps = |c: char| language.separators.contains(&c);
    if let Some((at, c)) = top_level_separators(s, region.clone(), spans, seps).last() {
        return Some((at, at + c.len_utf8()));
    }
    scan(s, region.clone(), spans, language.articles, |w| *w, true)
        .iter()
        .rev()
        .find(|a| !opens_region(a.range.start))
        .map(|a| (a.range.start, a.range.start))
}

/// The clauses of `s[range]` between top-level separators, as ranges.
fn segments(
    language: &Language,
    s: &str,
    range: Range<usize>,
    spans: &[Range<usize>],
) -> Vec<Range<usize>> {
    let seps = |c: char| language.separators.contains(&c);
    let mut out = Vec::new();
    let mut start = range.start;
    for (at, c) in top_level_separators(s, range.clone(), spans, seps) {
        out.push(start..at);
        start = at + c.len_utf8();
    }
    out.push(start..range.end);
    out
}

/// The opener starting `s[at..limit]` (after blanks), with its entry and end.
fn opener_at(language: &Language, s: &str, at: usize, limit: usize) -> Option<(usize, usize)> {
    let text = s.get(at..limit)?;
    let at = at + (text.len() - text.trim_start_matches([' ', '*']).len());
    let (entry, end) = longest_at(s, at, limit, language.openers, |(w, _)| *w, language.spaced)?;
    let excepted = language
        .not_openers
        .iter()
        .any(|w| match_at(s, at, limit, w, false).is_some());
    (!excepted).then_some((entry, end))
}

/// The closer ending `text`, if any: its entry, and whether it is a word of
/// its own that the clause text drops (always in unspaced languages; in
/// Korean only after a space, since an attached ending is part of the verb).
fn closer_of(language: &Language, text: &str) -> Option<(usize, bool)> {
    let (entry, closer) = language
        .closers
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| text.ends_with(c))
        .max_by_key(|(_, (c, _))| c.len())?;
    let closer = closer.0;
    let excepted = language
        .not_closers
        .iter()
        .any(|w| w.len() > closer.len() && text.ends_with(w));
    if excepted {
        return None;
    }
    let head = text.get(..text.len() - closer.len()).unwrap_or("");
    let separate = !language.spaced || head.ends_with(' ') || head.is_empty();
    Some((entry, separate))
}

/// A condition clause of an unspaced or verb-final language: its keyword
/// (from the opener, refined by the closer, or from the closer) and its
/// text without opener and closer.
fn closed_clause(language: &Language, s: &str, range: Range<usize>) -> Option<Clause> {
    let text = trim_clause(s.get(range.clone())?);
    let start = range.start + s.get(range.clone())?.find(text).unwrap_or(0);
    let opener = opener_at(language, s, start, start + text.len());
    let body = match opener {
        Some((_, end)) => s.get(end..start + text.len())?,
        None => text,
    };
    let body = trim_clause(body);
    let closer = closer_of(language, body);
    let mut keyword = match opener {
        Some((entry, _)) => language.openers.get(entry).map(|(_, k)| *k),
        None => None,
    };
    let mut body_text = body;
    if let Some((entry, separate)) = closer {
        let (word, closes) = language.closers.get(entry)?;
        if keyword.is_none() {
            keyword = *closes;
        }
        if let Some(&(_, _, refined)) = opener.and_then(|(entry, _)| {
            let (opener_word, _) = language.openers.get(entry)?;
            language
                .refinements
                .iter()
                .find(|(o, c, _)| o == opener_word && c == word)
        }) {
            keyword = Some(refined);
        }
        if separate {
            body_text = trim_clause(body.get(..body.len() - word.len())?);
        }
    }
    let text = strip_conjunction(language, body_text);
    if text.is_empty() {
        return None;
    }
    Some(Clause {
        keyword: keyword?,
        text: text.to_owned(),
    })
}

/// Conditions of an unspaced modal-before-response language (Chinese): the
/// sentence opens with an opener (`当`, `如果`, `在`); every segment up to the
/// last one before the modal verb is a condition (a segment without an
/// opener continues the previous clause), and the last is the system,
/// which may share its segment with the last condition (`当…时系统应…`).
fn unspaced_conditions(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    modal: &Modal,
) -> Option<(SmallVec<[Clause; 1]>, usize)> {
    let end = modal.range.start;
    let segments = segments(language, s, 0..end, spans);
    let opens = segments
        .first()
        .and_then(|first| opener_at(language, s, first.start, first.end));
    if opens.is_none() {
        return Some((SmallVec::new(), 0));
    }
    let mut clauses: Vec<Range<usize>> = Vec::new();
    let mut system_start = None;
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        let opener = opener_at(language, s, segment.start, segment.end);
        match (opener, i == last) {
            (Some((_, opener_end)), true) => {
                let (cond_end, sys_start) =
                    split_unspaced(language, s, spans, opener_end..segment.end)?;
                clauses.push(segment.start..cond_end);
                system_start = Some(sys_start);
            }
            (Some(_), false) => clauses.push(segment.clone()),
            (None, true) => system_start = Some(segment.start),
            (None, false) => clauses.last_mut()?.end = segment.end,
        }
    }
    let conditions = clauses
        .into_iter()
        .map(|r| closed_clause(language, s, r))
        .collect::<Option<SmallVec<[Clause; 1]>>>()?;
    Some((conditions, system_start?))
}

/// Splits a segment holding both the last condition and the system
/// (`用户点击时系统`) after a then-word or the last closer.
fn split_unspaced(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    region: Range<usize>,
) -> Option<(usize, usize)> {
    if let Some(t) = scan(s, region.clone(), spans, language.then, |w| *w, false).first() {
        return Some((t.range.start, t.range.end));
    }
    scan(
        s,
        region.clone(),
        spans,
        language.closers,
        |(w, _)| *w,
        false,
    )
    .iter()
    .rev()
    .find(|c| {
        let head = s.get(region.start..c.range.end).unwrap_or("");
        closer_of(language, head).is_some()
            && s.get(c.range.end..region.end)
                .is_some_and(|t| !trim_clause(t).is_empty())
    })
    .map(|c| (c.range.end, c.range.end))
}

/// The conditions of a verb-final language (Japanese, Korean): the leading
/// segments that open with an opener (`もし`) or close with a closer
/// (`とき`, `場合`, `때`), and where the rest of the sentence starts.
fn closed_conditions(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    end: usize,
) -> (SmallVec<[Clause; 1]>, usize) {
    let segments = segments(language, s, 0..end, spans);
    let mut out = SmallVec::new();
    let mut rest = 0;
    // The last segment holds the system: it cannot be a condition.
    for (segment, next) in segments.iter().zip(segments.iter().skip(1)) {
        match closed_clause(language, s, segment.clone()) {
            Some(clause) => {
                out.push(clause);
                rest = next.start;
            }
            None => break,
        }
    }
    (out, rest)
}

/// The system and the response of a modal-before-response sentence whose
/// system starts at `system_start`.
fn system_and_response(
    language: &Language,
    s: &str,
    system_start: usize,
    modal: &Modal,
) -> Option<(String, String)> {
    let mut segment = trim_clause(s.get(system_start..modal.range.start)?);
    // A then-word may open the system segment (`…，那么系统应…`).
    if let Some((_, end)) = longest_at(
        segment,
        0,
        segment.len(),
        language.then,
        |w| *w,
        language.spaced,
    ) {
        segment = trim_clause(segment.get(end..)?);
    }
    // A negation before the modal verb belongs to the response (`LE
    // système NE DOIT PAS` reads `NE PAS ...`, `系统不应` reads `不...`).
    let mut negation = "";
    for n in language.negations {
        let Some(cut) = segment.len().checked_sub(n.len()) else {
            continue;
        };
        if match_at(segment, cut, segment.len(), n, language.spaced).is_some()
            && (!language.spaced || segment.get(..cut).is_some_and(|h| h.ends_with(' ')))
        {
            negation = segment.get(cut..)?;
            segment = trim_clause(segment.get(..cut)?);
            break;
        }
    }
    let tail = if modal.prohibition {
        trim_fast(s.get(modal.range.start..)?)
    } else {
        trim_fast(s.get(modal.range.end..)?)
    };
    if segment.is_empty() && negation.is_empty() {
        // German puts the modal verb before the system after a condition
        // (`DANN SOLL das System die Änderung sichern`): the system is then
        // the article and noun after it.
        return noun_phrase(language, tail);
    }
    let joiner = if language.spaced && !negation.is_empty() {
        " "
    } else {
        ""
    };
    Some((segment.to_owned(), format!("{negation}{joiner}{tail}")))
}

/// Splits `text` into a leading noun phrase (an article and a word, or one
/// word) and the rest.
fn noun_phrase(language: &Language, text: &str) -> Option<(String, String)> {
    let mut words = text.splitn(3, ' ');
    let first = words.next()?;
    let article = language
        .articles
        .iter()
        .any(|a| match_at(first, 0, first.len(), a, true) == Some(first.len()));
    let (system, rest) = if article {
        let noun = words.next()?;
        (format!("{first} {noun}"), words.next()?)
    } else {
        (first.to_owned(), text.get(first.len()..)?.trim_start())
    };
    let rest = trim_fast(rest);
    (!rest.is_empty()).then(|| (system, rest.to_owned()))
}

/// The system (closed by a topic particle) and the response of a
/// verb-final sentence whose system starts at `from`. The response runs up
/// to the modal ending (and the light verb before it) when the ending
/// closes the sentence, with a closing note kept; otherwise, and for a
/// prohibition, it runs to the end of the sentence, modal included.
fn topic_and_response(
    language: &Language,
    s: &str,
    spans: &[Range<usize>],
    from: usize,
    modal: &Modal,
) -> Option<(String, String)> {
    let (body_end, note) = sentence_end(s);
    let closes = modal.range.end == body_end && !modal.prohibition;
    let response_end = if closes {
        let head = s.get(..modal.range.start)?;
        let light = language
            .light_verbs
            .iter()
            .filter(|v| head.ends_with(*v) && head.len() > v.len())
            .map(|v| v.len())
            .max()
            .unwrap_or(0);
        modal.range.start - light
    } else {
        s.trim_end_matches(|c: char| c.is_whitespace() || is_final_punctuation(c))
            .len()
    };
    // The first particle that closes a word: a topic particle, or failing
    // that a subject particle.
    let closes_system = |t: &Hit| {
        let attached = !blank(s, from, t.range.start)
            && !s.get(..t.range.start).is_some_and(|h| h.ends_with(' '));
        let ends_word = !language.spaced
            || s.get(t.range.end..).is_some_and(|r| {
                r.is_empty() || r.starts_with(' ') || r.starts_with(language.separators)
            });
        attached && ends_word
    };
    let topic = [language.topics, language.subjects]
        .into_iter()
        .find_map(|particles| {
            scan(s, from..response_end, spans, particles, |w| *w, false)
                .into_iter()
                .find(closes_system)
        })?;
    let system = trim_clause(s.get(from..topic.range.start)?);
    let mut response = trim_clause(s.get(topic.range.end..response_end)?).to_owned();
    if closes && !response.is_empty() {
        if let Some(note) = note.and_then(|r| s.get(r)) {
            response.push_str(note);
        }
    }
    Some((system.to_owned(), response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_whole_words_in_any_case() {
        let m = |s: &str, entry: &str, whole: bool| match_at(s, 0, s.len(), entry, whole);
        assert_eq!(m("DEVE exibir", "deve", true), Some(4));
        assert_eq!(m("Deverá", "deverá", true), Some(7));
        assert_eq!(m("devedor", "deve", true), None);
        assert_eq!(m("devedor", "deve", false), Some(4));
        assert_eq!(m("l'utente", "l'", true), Some(2));
        assert_eq!(m("야한다", "야 한다", false), Some(9));
        assert_eq!(m("야  한다", "야 한다", false), Some(11));
        assert_eq!(m("ДОЛЖНА", "должна", true), Some(12));
    }

    #[test]
    fn sentence_end_skips_punctuation_and_a_closing_note() {
        let s = "取得すること（k値は設定可能）。";
        let (end, note) = sentence_end(s);
        assert_eq!(&s[..end], "取得すること");
        assert_eq!(note.map(|r| &s[r]), Some("（k値は設定可能）"));
        assert_eq!(sentence_end("doit afficher."), (13, None));
    }

    #[test]
    fn scripts_tell_cjk_languages_apart() {
        assert_eq!(cjk_script("システムは表示する"), Some(Script::Kana));
        assert_eq!(cjk_script("系统必须显示"), Some(Script::Han));
        assert_eq!(cjk_script("필수 항목"), Some(Script::Hangul));
        assert_eq!(cjk_script("o sistema DEVE"), None);
        assert_eq!(cjk_script("système"), None);
    }
}
