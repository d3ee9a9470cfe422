//! Distilling: from a review comment's markdown to the lessons it teaches.
//!
//! [`Distiller`] is the pluggable step; [`RuleDistiller`] is the
//! deterministic default. It reads a comment by its shape:
//!
//! 1. **Markdown first.** Quoted lines (`> …`, what the reviewer replies
//!    to), HTML comments, headings and fenced code are not guidance; a
//!    one-line fence (a `suggestion` or a snippet) right after a sentence
//!    ending in `:` is the point of that sentence and stays as an inline
//!    code hint. Each paragraph and each list item is a unit.
//! 2. **Sentences.** A unit splits at `.`, `!` and `?` outside code spans
//!    (`foo.bar()` stays whole, and so do `e.g.` and `i.e.`).
//! 3. **Guidance.** A sentence is guidance when it states an obligation
//!    or prohibition (a normative modal — *must*, *should*, *never*,
//!    *always*, *don't*, *avoid*), a choice (*prefer*, *instead of*,
//!    *rather than*), or opens in the imperative mood: its first word,
//!    after a `label:` (conventional comments' `nit:`, `suggestion:`) and
//!    lead-ins (*please*, *I think we*), is not one of the closed-class
//!    words that open statements and questions (pronouns, determiners,
//!    auxiliaries, wh-words), nor a participle or third-person form, and the
//!    sentence has at least three words. A question is guidance only in the
//!    suggestion shapes "could/can/should we/you X?" and "why not X?", which
//!    become the imperative "X." Anything else — "LGTM", thanks, typo
//!    notes, emoji, open questions, narration ("I moved this") — is chatter.
//! 4. **Lessons.** Each guidance sentence starts a lesson; the plain
//!    statements that follow it in the same unit are its rationale and
//!    stay with it ("Use `Decimal` for money. Floats lose cents.").
//!
//! The kind follows the words that made it guidance: an obligation is a
//! [rule](Kind::Rule), a choice a [preference](Kind::Preference), a bare
//! imperative a [lesson](Kind::Lesson). Confidence is higher for explicit
//! rules than for suggestions rephrased from questions.

use crate::ingest::lexicon;
use crate::ingest::review::ReviewComment;
use crate::model::Kind;
use crate::Result;

/// One lesson distilled from a comment, before it gets its scope and
/// source.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// The guidance, with its rationale.
    pub text: String,
    /// Rule, preference or lesson (a note can also give a fact).
    pub kind: Kind,
    /// How sure the distiller is that this is guidance, from 0 to 1.
    pub confidence: f32,
}

/// Turns a review comment into the lessons it teaches.
///
/// The caller (the [`Ingestor`](crate::ingest::Ingestor)) guarantees the
/// comment passed the [screen](crate::ingest::screen) and screens every
/// returned lesson again, so an implementor may quote the comment freely.
/// An implementor returns zero lessons for chatter and should keep each
/// lesson to a few sentences; it must not invent guidance the comment does
/// not give. An error (a model that could not be reached, as
/// [`MemoryError::Backend`](crate::MemoryError::Backend)) stops the ingest
/// of that comment only.
///
/// ```
/// use kiro_memory::ingest::{Distiller, Lesson, ReviewComment};
/// use kiro_memory::Kind;
///
/// /// Every comment is one lesson, word for word.
/// struct Verbatim;
///
/// impl Distiller for Verbatim {
///     fn distill(&self, comment: &ReviewComment) -> kiro_memory::Result<Vec<Lesson>> {
///         Ok(vec![Lesson { text: comment.body.clone(), kind: Kind::Lesson, confidence: 0.5 }])
///     }
/// }
/// ```
pub trait Distiller: Send + Sync {
    /// The lessons `comment` teaches; empty for chatter.
    fn distill(&self, comment: &ReviewComment) -> Result<Vec<Lesson>>;
}

impl<D: Distiller + ?Sized> Distiller for Box<D> {
    fn distill(&self, comment: &ReviewComment) -> Result<Vec<Lesson>> {
        (**self).distill(comment)
    }
}

impl<D: Distiller + ?Sized> Distiller for std::sync::Arc<D> {
    fn distill(&self, comment: &ReviewComment) -> Result<Vec<Lesson>> {
        (**self).distill(comment)
    }
}

impl<D: Distiller + ?Sized> Distiller for &D {
    fn distill(&self, comment: &ReviewComment) -> Result<Vec<Lesson>> {
        (**self).distill(comment)
    }
}

/// The deterministic default [`Distiller`] (see the [module](self) for
/// how it reads a comment).
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleDistiller;

/// The longest lesson kept, in characters; the rest of a long rationale is
/// cut at a word boundary.
pub const MAX_LESSON_CHARS: usize = 600;

impl Distiller for RuleDistiller {
    fn distill(&self, comment: &ReviewComment) -> Result<Vec<Lesson>> {
        Ok(distill_text(&comment.body))
    }
}

/// The lessons of a markdown text, by the rules of [`RuleDistiller`].
pub fn distill_text(body: &str) -> Vec<Lesson> {
    let mut lessons = Vec::new();
    for unit in units(body) {
        let mut current: Option<Lesson> = None;
        // Statements before the unit's first guidance are its context
        // ("This runs once per customer. Use `selectinload`."); they
        // follow the guidance, which leads the lesson.
        let mut context: Vec<String> = Vec::new();
        for sentence in sentences(&unit) {
            let mut verdict = classify(sentence);
            // Once a unit has given guidance, what follows is mostly its
            // rationale ("Under load the pool starves."); a later sentence
            // starts a lesson of its own only when it opens with a directive.
            if let (Some(_), Sentence::Guidance(lesson)) = (&current, &verdict) {
                if !opens_with_directive(sentence) {
                    verdict = Sentence::Statement(lesson.text.clone());
                }
            }
            match verdict {
                Sentence::Guidance(mut lesson) => {
                    lessons.extend(current.take());
                    for text in context.drain(..) {
                        lesson.text.push(' ');
                        lesson.text.push_str(&text);
                    }
                    current = Some(lesson);
                }
                Sentence::Statement(text) => match current.as_mut() {
                    // Cut to length once the lesson is complete, below.
                    Some(lesson) if lesson.text.len() <= 4 * MAX_LESSON_CHARS => {
                        lesson.text.push(' ');
                        lesson.text.push_str(&text);
                    }
                    Some(_) => {}
                    // A short remark ("Looks good overall.") is not context.
                    None if context.len() < 2 && words(&text).len() >= 5 => context.push(text),
                    None => {}
                },
                Sentence::Chatter => {}
            }
        }
        lessons.extend(current);
    }
    for lesson in &mut lessons {
        lesson.text = cut(&lesson.text, MAX_LESSON_CHARS);
    }
    lessons
}

/// What a sentence is to the distiller.
#[derive(Debug, PartialEq)]
pub(crate) enum Sentence {
    /// It gives guidance: a new lesson.
    Guidance(Lesson),
    /// A plain statement: rationale when it follows guidance.
    Statement(String),
    /// Nothing to keep.
    Chatter,
}

/// The units of a markdown text: paragraphs and list items, with quotes,
/// HTML comments, headings and code fences removed (a one-line fence after
/// a sentence ending in `:` becomes an inline code hint).
pub(crate) fn units(body: &str) -> Vec<String> {
    let body = strip_html_comments(body);
    let mut units: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut fence: Option<(char, usize, Vec<String>)> = None;
    let flush = |current: &mut String, units: &mut Vec<String>| {
        let text = current.trim();
        if !text.is_empty() {
            units.push(text.to_owned());
        }
        current.clear();
    };
    for raw in body.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if let Some((marker, len, code)) = fence.as_mut() {
            if is_fence_close(trimmed, *marker, *len) {
                let hint = code_hint(code);
                fence = None;
                match hint {
                    Some(hint) if current.trim_end().ends_with(':') => {
                        current.push_str(&format!(" `{hint}`"));
                        flush(&mut current, &mut units);
                    }
                    Some(hint)
                        if current.trim().is_empty()
                            && units.last().is_some_and(|u| u.ends_with(':')) =>
                    {
                        if let Some(last) = units.last_mut() {
                            last.push_str(&format!(" `{hint}`"));
                        }
                    }
                    _ => flush(&mut current, &mut units),
                }
            } else {
                code.push(line.to_owned());
            }
            continue;
        }
        if let Some((marker, len)) = fence_open(trimmed) {
            fence = Some((marker, len, Vec::new()));
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut current, &mut units);
            continue;
        }
        if trimmed.starts_with('>') || trimmed.starts_with('#') || trimmed.starts_with('|') {
            // Quotes are what the reviewer answers, headings are titles,
            // tables are data: none of them is the reviewer's guidance.
            flush(&mut current, &mut units);
            continue;
        }
        if let Some(item) = list_item(trimmed) {
            flush(&mut current, &mut units);
            current.push_str(item);
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(trimmed);
    }
    flush(&mut current, &mut units);
    units
}

/// The body without `<!-- … -->` (an unclosed one runs to the end).
fn strip_html_comments(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// A fence opening (three or more backticks or tildes): its character and length.
fn fence_open(line: &str) -> Option<(char, usize)> {
    let marker = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = line.chars().take_while(|c| *c == marker).count();
    (len >= 3).then_some((marker, len))
}

/// Whether `line` closes a fence opened with `len` `marker`s.
fn is_fence_close(line: &str, marker: char, len: usize) -> bool {
    let count = line.chars().take_while(|c| *c == marker).count();
    count >= len && line[count * marker.len_utf8()..].trim().is_empty()
}

/// A fenced block short enough to be a hint: one non-empty line of at most
/// 80 characters without backticks.
fn code_hint(code: &[String]) -> Option<String> {
    let lines: Vec<&str> = code
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [one] if one.chars().count() <= 80 && !one.contains('`') => Some((*one).to_owned()),
        _ => None,
    }
}

/// A list item's text: after `-`, `*`, `+`, `1.` or `1)` and a space,
/// and after a task box `[ ]`/`[x]`.
fn list_item(line: &str) -> Option<&str> {
    let rest = if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 3 {
            return None;
        }
        line[digits..].strip_prefix(['.', ')'])?
    };
    let rest = rest.strip_prefix([' ', '\t'])?.trim_start();
    let rest = ["[ ] ", "[x] ", "[X] "]
        .iter()
        .find_map(|b| rest.strip_prefix(b))
        .unwrap_or(rest);
    Some(rest)
}

/// The sentences of a unit: split after `.`, `!` or `?` followed by white
/// space, outside code spans, unless the dot ends an abbreviation.
pub(crate) fn sentences(unit: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    let bytes = unit.as_bytes();
    for (i, c) in unit.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '.' | '!' | '?' if !in_code => {
                let next = bytes.get(i + 1).copied();
                let ends = next.is_none_or(|b| b == b' ' || b == b'\t' || b == b'\n');
                if !ends {
                    continue;
                }
                let before = &unit[start..i];
                let last_word = before
                    .rsplit(|ch: char| ch.is_whitespace() || ch == '(')
                    .next()
                    .unwrap_or("")
                    .to_lowercase();
                if c == '.' && lexicon::contains(lexicon::ABBREVIATIONS, &last_word) {
                    continue;
                }
                let sentence = unit[start..=i].trim();
                if !sentence.is_empty() {
                    out.push(sentence);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let tail = unit[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// Lower-cased words of a text outside code spans, with surrounding
/// punctuation stripped; code spans count as one word `` ` ``.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    let mut word = String::new();
    let push = |word: &mut String, out: &mut Vec<String>| {
        let w = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '+');
        let w = w.trim_matches('\'');
        if !w.is_empty() {
            out.push(w.to_lowercase().replace('\u{2019}', "'"));
        }
        word.clear();
    };
    for c in text.chars() {
        if c == '`' {
            push(&mut word, &mut out);
            if !in_code {
                out.push("`".to_owned());
            }
            in_code = !in_code;
        } else if in_code {
            continue;
        } else if c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '"' | '/') {
            push(&mut word, &mut out);
        } else {
            word.push(if c == '\u{2019}' { '\'' } else { c });
        }
    }
    push(&mut word, &mut out);
    out
}

/// Classifies one sentence.
pub(crate) fn classify(sentence: &str) -> Sentence {
    let text = strip_label(sentence.trim());
    let (label, text) = text;
    if !text.chars().any(char::is_alphanumeric) {
        return Sentence::Chatter;
    }
    let all = words(text);
    if is_chatter(&all) {
        return Sentence::Chatter;
    }
    let is_question = text.trim_end().ends_with('?');
    if is_question {
        return match rephrase_question(text) {
            Some(rephrased) => guidance(&rephrased, 0.5),
            None => Sentence::Chatter,
        };
    }
    if is_narration(&words(drop_lead_ins(text))) {
        return Sentence::Chatter;
    }
    let kind = normative_kind(&all);
    let label_chatter = label.is_some_and(|l| lexicon::contains(lexicon::CHATTER_LABELS, &l));
    if kind.is_some() || opens_imperative(text) {
        if label_chatter && kind.is_none() {
            return Sentence::Statement(text.to_owned());
        }
        let confidence = match kind {
            Some(_) => 0.7,
            None => 0.6,
        };
        return guidance(text, confidence);
    }
    if all.len() < 3 {
        return Sentence::Chatter;
    }
    Sentence::Statement(text.to_owned())
}

/// A guidance sentence as a lesson of the kind its words give.
fn guidance(text: &str, confidence: f32) -> Sentence {
    let kind = normative_kind(&words(text)).unwrap_or(Kind::Lesson);
    // "Please use X" becomes "Use X"; "We should X" keeps its subject.
    let stripped = drop_lead_ins(text);
    let text = capitalise(if opens_imperative(stripped) {
        stripped
    } else {
        text
    });
    Sentence::Guidance(Lesson {
        text,
        kind,
        confidence,
    })
}

/// A `label:` opening (one word of at most 12 letters, possibly with a
/// parenthesised decoration, as in conventional comments' `nit (non-blocking):`),
/// split off; `(nit)` and `[nit]` too.
fn strip_label(text: &str) -> (Option<String>, &str) {
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(rest) = text.strip_prefix(open) {
            if let Some(end) = rest.find(close) {
                let label = &rest[..end];
                if label.len() <= 12 && label.chars().all(char::is_alphabetic) {
                    return (Some(label.to_lowercase()), rest[end + 1..].trim_start());
                }
            }
        }
    }
    if let Some(colon) = text.find(':') {
        let head = &text[..colon];
        let word = head.split(['(', ' ']).next().unwrap_or("");
        let decorated = head.len() > word.len();
        let decoration_ok = !decorated || head[word.len()..].trim_start().starts_with('(');
        if !word.is_empty()
            && word.len() <= 12
            && word.chars().all(char::is_alphabetic)
            && decoration_ok
            && head.len() <= 40
        {
            return (Some(word.to_lowercase()), text[colon + 1..].trim_start());
        }
    }
    (None, text)
}

/// Whether a whole sentence is chatter: a known idiom ("LGTM", "thanks!"),
/// or a `+1`/emoji-only line (no letters).
fn is_chatter(words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let joined = words.join(" ");
    lexicon::contains(lexicon::CHATTER, &joined)
        || (words.len() <= 3
            && words
                .first()
                .is_some_and(|w| w == "thanks" || w == "thank" || w == "lgtm"))
}

/// A first-person report of what was done ("I moved it", "we fixed that
/// in #12"), which states no guidance.
fn is_narration(words: &[String]) -> bool {
    words
        .first()
        .is_some_and(|w| matches!(w.as_str(), "i" | "i've" | "i'm" | "i'll"))
}

/// The kind a sentence's normative words give it: an obligation is a rule,
/// a choice a preference.
fn normative_kind(words: &[String]) -> Option<Kind> {
    let pair = |pairs: &[(&str, &str)]| {
        words
            .windows(2)
            .any(|w| pairs.iter().any(|(a, b)| w[0] == *a && w[1] == *b))
    };
    if words
        .iter()
        .any(|w| lexicon::contains(lexicon::OBLIGATION, w))
        || pair(lexicon::OBLIGATION_PAIRS)
    {
        return Some(Kind::Rule);
    }
    if words.iter().any(|w| lexicon::contains(lexicon::CHOICE, w)) || pair(lexicon::CHOICE_PAIRS) {
        return Some(Kind::Preference);
    }
    None
}

/// Whether a sentence opens in the imperative mood (see the module docs).
fn opens_imperative(text: &str) -> bool {
    let text = drop_lead_ins(text);
    let all = words(text);
    if all.len() < 3 {
        return false;
    }
    let Some(first) = all.first() else {
        return false;
    };
    let raw_first = text.split_whitespace().next().unwrap_or("");
    if first == "`" || raw_first.chars().filter(|c| c.is_uppercase()).count() > 1 {
        // Code, or an acronym such as LGTM or TODO.
        return false;
    }
    if !first.chars().all(|c| c.is_alphabetic() || c == '-') {
        return false;
    }
    if lexicon::contains(lexicon::NOT_IMPERATIVE, first) {
        return false;
    }
    let n = first.chars().count();
    let participle = (n > 4 && first.ends_with("ed") && !first.ends_with("eed"))
        || (n > 5 && first.ends_with("ing"))
        || (n > 5 && first.ends_with("ly"));
    let third_person = n > 3
        && first.ends_with('s')
        && !first.ends_with("ss")
        && !first.ends_with("us")
        && !first.ends_with("is");
    !(participle || third_person)
}

/// Whether a sentence opens with a directive: after a label and a
/// "please", its first word is a normative word (*never*, *always*,
/// *don't*, *avoid*, *prefer*) or one of the verbs reviews are given in.
fn opens_with_directive(sentence: &str) -> bool {
    let (_, text) = strip_label(sentence.trim());
    let all = words(text);
    let mut rest = all.iter().map(String::as_str);
    let mut first = rest.next();
    while first.is_some_and(|w| matches!(w, "please" | "also" | "and" | "but" | "so" | "then")) {
        first = rest.next();
    }
    let Some(first) = first else {
        return false;
    };
    lexicon::contains(lexicon::OBLIGATION, first)
        || lexicon::contains(lexicon::CHOICE, first)
        || lexicon::contains(lexicon::DIRECTIVE_VERBS, first)
        || (first == "do" && rest.next() == Some("not"))
}

/// The text after the lead-ins ("please", "I think we should"… keeps
/// "should"). Lead-ins are dropped only while a word follows.
fn drop_lead_ins(text: &str) -> &str {
    let mut rest = text.trim_start();
    loop {
        let found = lexicon::LEAD_INS.iter().find_map(|lead| {
            let after = strip_prefix_ascii_ci(rest, lead)?;
            let next = after.trim_start_matches([' ', ',']);
            (after.starts_with([' ', ',']) && !next.is_empty()).then_some(next)
        });
        match found {
            Some(next) => rest = next,
            None => return rest,
        }
    }
}

/// `text` after `prefix` (ASCII, compared without case). Slicing the
/// original text by the prefix's length (not a lower-cased copy's) keeps
/// every cut on a character boundary whatever the text holds.
fn strip_prefix_ascii_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// The imperative a suggestion question asks for: "Could we use X here?"
/// → "Use X here.", "Why not use X?" → "Use X.". Other questions give
/// nothing.
fn rephrase_question(text: &str) -> Option<String> {
    let body = text.trim_end().trim_end_matches(['?', ' ']);
    const OPENERS: &[&str] = &[
        "could we ",
        "can we ",
        "should we ",
        "would you mind ",
        "could you ",
        "can you ",
        "shall we ",
        "why not ",
        "maybe we could ",
        "maybe we should ",
        "wouldn't it be better to ",
        "would it be better to ",
        "would it make sense to ",
        "does it make sense to ",
    ];
    let rest = OPENERS
        .iter()
        .find_map(|o| strip_prefix_ascii_ci(body, o))?
        .trim_start();
    let rest = rest
        .strip_prefix("just ")
        .or_else(|| rest.strip_prefix("also "))
        .unwrap_or(rest);
    let imperative = capitalise(rest);
    opens_imperative(&imperative).then(|| format!("{imperative}."))
}

/// The text with its first letter in upper case.
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// At most `max` characters of `text`, cut at a word boundary with `…`.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    let at = head.rfind(char::is_whitespace).unwrap_or(head.len());
    format!("{}…", head[..at].trim_end())
}
