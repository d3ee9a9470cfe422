//! Plain text to a requirements document: the deterministic converter
//! behind `kiro spec new --from FILE`.

use compact_str::CompactString;

use crate::format::markdown::{blocks, BlockKind, Blocks, Item, Source};
use crate::lexicon::ears as ears_words;
use crate::spec::{
    AcceptanceCriterion, CriterionId, Ears, Requirement, RequirementId, RequirementsDoc, UserStory,
};

/// Title used when the caller gives none.
const DEFAULT_TITLE: &str = "Requirements Document";

/// How many words of the first criterion make a requirement title.
const TITLE_WORDS: usize = 6;

/// Longest generated requirement title, in characters.
const TITLE_CHARS: usize = 60;

/// Converts plain text or markdown bullet lists of EARS sentences into a
/// [`RequirementsDoc`]. The result depends on the input only.
///
/// The rules:
/// 1. A **criterion** is a list item (`-`, `*`, `+`, `1.`; nested items
///    too; a `[ ]` checkbox is dropped) or a sentence that contains the
///    word `shall` in any case. Sentences end at `.`, `!`, `?` followed by
///    a space and a non-lower-case letter, at `。！？`, and at a line break
///    when the next line opens a new EARS sentence (`When`, `While`, `Where`,
///    `If`, `The`, capitalised) and the text so far already has its `SHALL`.
///    Hard-wrapped lines are joined with single spaces, and a leading number
///    such as `1.2` is dropped from a sentence.
/// 2. A **heading** (`#` to `######`) opens a requirement titled by the
///    heading text. A heading with no criteria under it opens none: its text
///    and prose are kept as prose (rule 4).
/// 3. Criteria outside a heading's section are grouped by **block**: each
///    paragraph or list separated by blank lines starts a new requirement,
///    titled by the first words of its first criterion (leading `WHEN`/`IF`
///    /`WHILE`/`WHERE`/`THE` dropped, cut at the first comma, `THEN`, `THE`
///    or `SHALL`, at most six words, first letter capitalised).
/// 4. **Prose** (anything that is not a criterion): an `As a …, I want …`
///    paragraph becomes the user story of the requirement it opens or sits
///    in; prose before the first requirement becomes the introduction; later
///    prose is kept in the notes of the requirement it follows. Code blocks,
///    tables and quotes are always prose, kept verbatim.
/// 5. Requirements are numbered `1`, `2`, ... and criteria `1.1`, `1.2`,
///    ...; each criterion gets its [`Ears`] reading. The document title is
///    `title`, or `Requirements Document` when `title` is blank.
///
/// ```
/// use kiro_core::ears::requirements_from_text;
/// use kiro_core::spec::EarsPattern;
///
/// let text = "\
/// Users sign in with email and password.
///
/// ## Sign in
///
/// As a user, I want to sign in, so that I see my data.
///
/// - WHEN a user submits valid credentials, THE Auth_Service SHALL create a session
/// - IF the password is wrong, THEN THE Auth_Service SHALL show an error
///
/// THE Audit_Log SHALL record every sign-in. THE Audit_Log SHALL keep entries for 90 days.
/// ";
/// let doc = requirements_from_text("Login", text);
/// assert_eq!(doc.title, "Login");
/// assert_eq!(doc.introduction.as_deref(), Some("Users sign in with email and password."));
/// let r = &doc.requirements[0];
/// assert_eq!((r.id.as_str(), r.title.as_str()), ("1", "Sign in"));
/// assert_eq!(r.user_story.as_ref().and_then(|s| s.role.as_deref()), Some("user"));
/// let ids: Vec<&str> = r.criteria.iter().map(|c| c.id.as_str()).collect();
/// assert_eq!(ids, ["1.1", "1.2", "1.3", "1.4"]);
/// assert_eq!(r.criteria[1].ears.as_ref().map(|e| e.pattern), Some(EarsPattern::Unwanted));
/// assert_eq!(r.criteria[3].text, "THE Audit_Log SHALL keep entries for 90 days.");
/// ```
pub fn requirements_from_text(title: &str, text: &str) -> RequirementsDoc {
    let source = Source::new(text);
    let text: &str = &source.text;
    let mut builder = Builder::default();
    let found = blocks(text);
    for block in &found.blocks {
        let raw = text.get(block.range.clone()).unwrap_or("");
        match &block.kind {
            BlockKind::Heading { text: heading, .. } => builder.heading(heading.to_string(), raw),
            BlockKind::List(span) => {
                let mut criteria = Vec::new();
                collect_items(text, &found, found.items(*span), &mut criteria);
                builder.block(criteria, Vec::new());
            }
            BlockKind::Other => {
                if is_verbatim_block(raw) {
                    builder.prose(raw.to_owned());
                    continue;
                }
                let mut criteria = Vec::new();
                let mut prose = Vec::new();
                for sentence in sentences(raw) {
                    if has_shall(&sentence) {
                        criteria.push(strip_leading_number(&sentence).to_owned());
                    } else {
                        prose.push(sentence);
                    }
                }
                if criteria.is_empty() {
                    builder.prose(collapse(raw));
                } else {
                    builder.block(criteria, prose);
                }
            }
        }
    }
    builder.finish(title)
}

/// A requirement being collected.
#[derive(Default)]
struct Pending {
    /// The heading title and line, when a heading opened it.
    heading: Option<(String, String)>,
    story: Option<UserStory>,
    /// Prose kept as notes, in order.
    prose: Vec<String>,
    criteria: Vec<String>,
}

#[derive(Default)]
struct Builder {
    introduction: Vec<String>,
    requirements: Vec<Requirement>,
    pending: Pending,
}

impl Builder {
    fn heading(&mut self, title: String, line: &str) {
        self.flush();
        self.pending.heading = Some((title, line.trim().to_owned()));
    }

    fn block(&mut self, criteria: Vec<String>, prose: Vec<String>) {
        if criteria.is_empty() {
            return;
        }
        if self.pending.heading.is_none() && !self.pending.criteria.is_empty() {
            self.flush();
        }
        self.pending.criteria.extend(criteria);
        self.pending.prose.extend(prose);
    }

    fn prose(&mut self, text: String) {
        let p = &mut self.pending;
        if p.story.is_none() && p.criteria.is_empty() {
            if let Some(story) = user_story(&text) {
                p.story = Some(story);
                return;
            }
        }
        if p.heading.is_none()
            && p.criteria.is_empty()
            && p.story.is_none()
            && self.requirements.is_empty()
        {
            self.introduction.push(text);
        } else {
            p.prose.push(text);
        }
    }

    /// Closes the pending requirement; without criteria its text stays prose.
    fn flush(&mut self) {
        let p = std::mem::take(&mut self.pending);
        if p.criteria.is_empty() {
            let mut texts: Vec<String> = Vec::new();
            if let Some((_, line)) = p.heading {
                texts.push(line);
            }
            if let Some(story) = p.story {
                texts.push(story.text);
            }
            texts.extend(p.prose);
            match self.requirements.last_mut() {
                Some(last) => {
                    for t in texts {
                        push_note(&mut last.notes, &t);
                    }
                }
                None => self.introduction.extend(texts),
            }
            return;
        }
        let number = self.requirements.len() + 1;
        let title = match &p.heading {
            Some((t, _)) => t.clone(),
            None => p
                .criteria
                .first()
                .map(|c| title_from(c))
                .unwrap_or_default(),
        };
        let criteria = p
            .criteria
            .iter()
            .enumerate()
            .map(|(i, text)| AcceptanceCriterion {
                id: CriterionId::new(format!("{number}.{}", i + 1)),
                text: text.clone(),
                ears: Ears::parse(text),
            })
            .collect();
        let mut notes = String::new();
        for t in &p.prose {
            push_note(&mut notes, t);
        }
        self.requirements.push(Requirement {
            id: RequirementId::new(number.to_string()),
            title,
            user_story: p.story,
            criteria,
            notes,
            ..Requirement::default()
        });
    }

    fn finish(mut self, title: &str) -> RequirementsDoc {
        self.flush();
        let introduction = if self.introduction.is_empty() {
            None
        } else {
            Some(self.introduction.join("\n\n"))
        };
        let title = if title.trim().is_empty() {
            DEFAULT_TITLE.to_owned()
        } else {
            title.trim().to_owned()
        };
        RequirementsDoc {
            title,
            introduction,
            requirements: self.requirements,
            ..RequirementsDoc::default()
        }
    }
}

fn push_note(notes: &mut String, text: &str) {
    if !notes.is_empty() {
        notes.push_str("\n\n");
    }
    notes.push_str(text);
}

/// Blocks kept verbatim: fenced or indented code, tables, quotes, HTML.
fn is_verbatim_block(raw: &str) -> bool {
    let first = raw.lines().next().unwrap_or("");
    let t = first.trim_start();
    first.starts_with("    ")
        || first.starts_with('\t')
        || ["```", "~~~", "|", ">", "<"]
            .iter()
            .any(|p| t.starts_with(p))
}

/// One criterion per list item, nested items after their parent.
fn collect_items(text: &str, found: &Blocks, items: &[Item], out: &mut Vec<String>) {
    for item in items {
        let lists = found.lists(item);
        let end = lists
            .first()
            .map_or(item.range.end, |l| l.range.start.min(item.range.end));
        let own = text.get(item.content_start.min(end)..end).unwrap_or("");
        let own = collapse(own);
        let own = strip_checkbox(&own);
        let own = strip_leading_number(own);
        if !own.is_empty() {
            out.push(own.to_owned());
        }
        for nested in lists {
            collect_items(text, found, found.items(nested.items), out);
        }
    }
}

fn strip_checkbox(s: &str) -> &str {
    for b in ["[ ] ", "[x] ", "[X] ", "[-] "] {
        if let Some(rest) = s.strip_prefix(b) {
            return rest.trim_start();
        }
    }
    s
}

/// Drops a leading id such as `1.2` or `3.` (bugfix clauses, pasted numbering).
fn strip_leading_number(s: &str) -> &str {
    let digits_and_dots = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let head = s.get(..digits_and_dots).unwrap_or("");
    let rest = s.get(digits_and_dots..).unwrap_or("");
    if head.starts_with(|c: char| c.is_ascii_digit()) && rest.starts_with(' ') {
        rest.trim_start()
    } else {
        s
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_shall(s: &str) -> bool {
    s.split(|c: char| !super::is_word_char(c))
        .any(|w| w.eq_ignore_ascii_case(ears_words::SHALL))
}

/// `true` when a line opens a new EARS sentence: a capitalised EARS keyword
/// (after an optional leading number) as its first word.
fn opens_sentence(line: &str) -> bool {
    let line = strip_leading_number(line.trim_start());
    let word: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let capitalised = word.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    capitalised
        && ears_words::SENTENCE_OPENERS
            .iter()
            .any(|k| word.eq_ignore_ascii_case(k))
}

/// Splits a paragraph into sentences (see rule 1 of [`requirements_from_text`]).
fn sentences(paragraph: &str) -> Vec<String> {
    // First split at line breaks that open a new EARS sentence.
    let mut units: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in paragraph.lines() {
        if !current.is_empty() && has_shall(&current) && opens_sentence(line) {
            units.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line.trim());
    }
    if !current.trim().is_empty() {
        units.push(current);
    }
    // Then at sentence punctuation.
    let mut out = Vec::new();
    for unit in units {
        let unit = collapse(&unit);
        let spans = super::code_spans(&unit);
        let mut start = 0;
        let chars: Vec<(usize, char)> = unit.char_indices().collect();
        for (k, &(i, c)) in chars.iter().enumerate() {
            if super::in_spans(&spans, i) {
                continue;
            }
            let end = i + c.len_utf8();
            let split = match c {
                '。' | '！' | '？' => true,
                '.' | '!' | '?' => {
                    let next = chars.get(k + 1).map(|&(_, n)| n);
                    let after = chars.get(k + 2).map(|&(_, n)| n);
                    next == Some(' ') && after.is_some_and(|a| !a.is_lowercase())
                }
                _ => false,
            };
            if split {
                let sentence = unit.get(start..end).unwrap_or("").trim();
                if !sentence.is_empty() {
                    out.push(sentence.to_owned());
                }
                start = end;
            }
        }
        let rest = unit.get(start..).unwrap_or("").trim();
        if !rest.is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

/// `As a <role>, I want <capability>, so that <benefit>`, with an optional
/// `**User Story:**` label.
fn user_story(text: &str) -> Option<UserStory> {
    let text = collapse(text);
    let body = text
        .strip_prefix("**User Story:**")
        .or_else(|| text.strip_prefix("User Story:"))
        .map_or(text.as_str(), str::trim_start);
    let lower = body.to_lowercase();
    let role_start = ["as an ", "as a "]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| p.len())?;
    let want = lower.find("i want")?;
    let role = body
        .get(role_start..want)?
        .trim()
        .trim_end_matches(',')
        .trim();
    let after_want = want + "i want".len();
    let (capability, benefit) = match lower.get(after_want..)?.find("so that") {
        Some(rel) => {
            let so = after_want + rel;
            let cap = body
                .get(after_want..so)?
                .trim()
                .trim_end_matches(',')
                .trim();
            let ben = body.get(so + "so that".len()..)?.trim();
            (cap, Some(ben))
        }
        None => (body.get(after_want..)?.trim(), None),
    };
    let some = |s: &str| (!s.is_empty()).then(|| CompactString::new(s));
    Some(UserStory {
        text: body.to_owned(),
        label: None,
        role: some(role),
        capability: some(
            capability
                .trim_start_matches("to ")
                .trim_start_matches("To "),
        )
        .or_else(|| some(capability)),
        benefit: benefit.and_then(some),
    })
}

/// The first words of a criterion, as a requirement title.
fn title_from(criterion: &str) -> String {
    let mut words: Vec<&str> = criterion.split_whitespace().collect();
    if words.first().is_some_and(|w| {
        ears_words::SENTENCE_OPENERS
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    }) {
        words.remove(0);
    }
    let mut title = String::new();
    for word in words.into_iter().take(TITLE_WORDS) {
        if word.eq_ignore_ascii_case(ears_words::SHALL)
            || word.eq_ignore_ascii_case(ears_words::THEN)
            || (word.eq_ignore_ascii_case(ears_words::THE)
                && word.chars().all(|c| c.is_ascii_uppercase()))
        {
            break;
        }
        let cut = word.find(|c: char| super::is_separator(c));
        let piece = cut.and_then(|i| word.get(..i)).unwrap_or(word);
        if !title.is_empty() && !piece.is_empty() {
            title.push(' ');
        }
        title.push_str(piece);
        if cut.is_some() {
            break;
        }
    }
    let title: String = title.chars().take(TITLE_CHARS).collect();
    let title = title.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != ')' && c != '`');
    let mut chars = title.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentence_splitting() {
        let s = sentences("THE A SHALL b, e.g. c. THE D SHALL e.\nWHEN f THEN the G SHALL h\nIF i THEN THE J SHALL k。THE L SHALL m");
        assert_eq!(
            s,
            [
                "THE A SHALL b, e.g. c.",
                "THE D SHALL e.",
                "WHEN f THEN the G SHALL h",
                "IF i THEN THE J SHALL k。",
                "THE L SHALL m"
            ]
        );
        // A wrapped line starting with lower-case text continues the sentence.
        assert_eq!(
            sentences("WHEN x, THE Y SHALL show\nthe dashboard"),
            ["WHEN x, THE Y SHALL show the dashboard"]
        );
    }

    #[test]
    fn titles() {
        assert_eq!(
            title_from("WHEN a user submits valid credentials, THE A SHALL b"),
            "A user submits valid credentials"
        );
        assert_eq!(
            title_from("THE Auth_Service SHALL create a session"),
            "Auth_Service"
        );
        assert_eq!(title_from("the system shall"), "System");
        assert_eq!(
            title_from("用户登录后系统显示主页"),
            "用户登录后系统显示主页"
        );
    }

    #[test]
    fn stories() {
        let s = user_story("**User Story:** As an admin, I want to see logs, so that I can audit");
        let parts = s.map(|s| (s.role, s.capability, s.benefit));
        let expected = (Some("admin"), Some("see logs"), Some("I can audit"));
        let expected = (
            expected.0.map(CompactString::from),
            expected.1.map(CompactString::from),
            expected.2.map(CompactString::from),
        );
        assert_eq!(parts, Some(expected));
        assert!(user_story("As far as we know").is_none());
    }
}
