//! `bugfix.md` as Kiro writes it for bugfix specs; see [`parse_bugfix`].

use super::markdown::{self, BlockKind, Source};
use super::requirements::{
    atx, finish_document, heading_level, is_one_of, is_ordered, is_paragraph, later, list_tail,
    marker_number, push_sections, push_text, Doc, Notes, OutlineSection, Sink,
};
use super::{Locator, Parsed};
use crate::spec::{
    AcceptanceCriterion, Anchor, BehaviorGroup, BehaviorKind, BugfixDoc, CriterionId, Ears,
    PlacedSection, TextStyle,
};

use crate::lexicon::{
    BUG_ANALYSIS as ANALYSIS, BUG_CURRENT as CURRENT, BUG_EXPECTED as EXPECTED,
    BUG_UNCHANGED as UNCHANGED, DEFAULT_BUG_ANALYSIS as DEFAULT_ANALYSIS,
    DEFAULT_BUG_INTRODUCTION as DEFAULT_INTRODUCTION, INTRODUCTION,
};

/// Parses `bugfix.md`. Never fails: what cannot be read as the Kiro format
/// is kept verbatim in the document and reported as a diagnostic.
///
/// # Canonical form
///
/// ```text
/// # Bugfix Requirements Document
///
/// ## Introduction
///
/// <introduction, verbatim>
///
/// ## Bug Analysis
///
/// ### Current Behavior (Defect)
///
/// 1.1 WHEN <condition> THEN the system <does the wrong thing>
///
/// ### Expected Behavior (Correct)
///
/// 2.1 WHEN <condition> THEN the system SHALL <do the right thing>
///
/// ### Unchanged Behavior (Regression Prevention)
///
/// 3.1 WHEN <condition> THEN the system SHALL CONTINUE TO <behave as before>
/// ```
///
/// # What is recognised
///
/// The introduction and the analysis section are found by their heading
/// (English, Chinese, Japanese, Spanish and Portuguese spellings); failing
/// that, the first `##` section whose title names no known part and that has
/// a `###` heading naming current, expected or unchanged behaviour is the
/// analysis. Each `###` heading in it is a [`BehaviorGroup`] whose kind comes
/// from its wording ([`BehaviorKind::Other`] with a diagnostic otherwise).
///
/// A clause is a paragraph that starts with its id (`1.1 WHEN ...`, also
/// `**1.1** WHEN ...` or `1.1: WHEN ...`); the id is kept as written. One
/// paragraph may hold several clauses when each line starts with the id
/// following the previous one (`1.1 ...` then `1.2 ...`); other lines
/// continue the clause before them, so a hard-wrapped line starting with a
/// decimal number stays text. List items are clauses too: with an id at the
/// start, or, in a numbered list, with the id `<group position>.<item
/// number>`, as long as their text reads the same as a paragraph. Clauses
/// render as Kiro writes them, one paragraph each. Anything else in a group
/// is kept verbatim in [`BehaviorGroup::notes`], after the clauses.
///
/// Sections kiro does not know are kept verbatim, anchored to the latest
/// known part (in rendering order) before them: [`Anchor::Start`],
/// [`Anchor::Introduction`], or [`Anchor::Requirements`] for "after the
/// analysis" (a section placed after [`Anchor::Glossary`] renders with the
/// introduction's).
///
/// # Example
///
/// ```
/// use kiro_core::format::{parse_bugfix, render_bugfix};
/// use kiro_core::spec::BehaviorKind;
///
/// let src = "# Bugfix Requirements Document\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n\
///            1.1 WHEN the cache hangs THEN the server stops\n\n### Expected Behavior (Correct)\n\n\
///            2.1 WHEN the cache hangs THEN the system SHALL time out\n";
/// let parsed = parse_bugfix(src);
/// let groups = &parsed.value.groups;
/// assert_eq!(groups[0].kind, BehaviorKind::Current);
/// assert_eq!(groups[1].clauses[0].id.as_str(), "2.1");
/// assert_eq!(render_bugfix(&parsed.value), src);
/// ```
pub fn parse_bugfix(src: &str) -> Parsed<BugfixDoc> {
    let source = Source::new(src);
    let doc = Doc::new(&source);
    let mut sink = Sink::for_doc(&doc);
    let outline = doc.outline();
    let mut out = BugfixDoc {
        // A blank file renders as an empty one, which has no line endings.
        style: TextStyle {
            crlf: doc.source.crlf && !doc.found.blocks.is_empty(),
        },
        ..BugfixDoc::default()
    };
    out.title = doc.read_title(&outline, &mut sink);
    out.preamble = doc.raw(outline.preamble.clone());

    let intro = outline
        .sections
        .iter()
        .position(|s| s.level == 2 && is_one_of(&s.title, INTRODUCTION));
    let analysis = outline
        .sections
        .iter()
        .enumerate()
        .position(|(i, s)| Some(i) != intro && s.level == 2 && is_one_of(&s.title, ANALYSIS))
        .or_else(|| {
            outline.sections.iter().enumerate().position(|(i, s)| {
                // Sections titled like a known part are never read by
                // structure, so the choice cannot flip once rendering
                // moves them.
                Some(i) != intro
                    && s.level == 2
                    && !is_one_of(&s.title, INTRODUCTION)
                    && !is_one_of(&s.title, ANALYSIS)
                    && looks_like_analysis(&doc, s)
            })
        });

    let mut anchor = Anchor::Start;
    for (i, section) in outline.sections.iter().enumerate() {
        if Some(i) == intro {
            out.introduction = Some(doc.raw(section.body.clone()));
            if section.title != DEFAULT_INTRODUCTION {
                out.introduction_heading = Some(section.title.clone());
            }
            anchor = later(anchor, Anchor::Introduction);
        } else if Some(i) == analysis {
            read_analysis(&doc, &mut sink, section, &mut out);
            anchor = later(anchor, Anchor::Requirements);
        } else {
            out.sections.push(PlacedSection {
                section: doc.section(section),
                after: anchor,
            });
        }
    }
    if analysis.is_none() && !doc.found.blocks.is_empty() {
        sink.report(
            doc.position(0),
            "no bug analysis section",
            "`## Bug Analysis` with `### Current Behavior (Defect)`, `### Expected Behavior (Correct)` and `### Unchanged Behavior (Regression Prevention)`",
        );
    }
    sink.finish(out)
}

/// Renders `bugfix.md` in canonical form (see [`parse_bugfix`]). CRLF
/// documents render with CRLF; an empty document renders as an empty file.
pub fn render_bugfix(doc: &BugfixDoc) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !doc.title.is_empty() {
        parts.push(atx(1, &doc.title));
    }
    push_text(&mut parts, &doc.preamble);
    push_sections(&mut parts, &doc.sections, Anchor::Start);
    if let Some(intro) = &doc.introduction {
        let heading = doc
            .introduction_heading
            .as_deref()
            .unwrap_or(DEFAULT_INTRODUCTION);
        parts.push(atx(2, heading));
        push_text(&mut parts, intro);
    }
    push_sections(&mut parts, &doc.sections, Anchor::Introduction);
    push_sections(&mut parts, &doc.sections, Anchor::Glossary);
    if !doc.groups.is_empty() || !doc.analysis_preface.is_empty() || doc.analysis_heading.is_some()
    {
        let heading = doc.analysis_heading.as_deref().unwrap_or(DEFAULT_ANALYSIS);
        parts.push(atx(2, heading));
        push_text(&mut parts, &doc.analysis_preface);
        for g in &doc.groups {
            parts.push(render_group(g));
        }
    }
    push_sections(&mut parts, &doc.sections, Anchor::Requirements);
    finish_document(parts, doc.style.crlf)
}

/// The kind of behaviour a group heading names.
fn behavior_kind(title: &str) -> BehaviorKind {
    let t = title.to_lowercase();
    let has = |table: &[&str]| table.iter().any(|k| t.contains(k));
    // "incorrect" contains "correct": the current behaviour is checked first.
    if has(CURRENT) {
        BehaviorKind::Current
    } else if has(UNCHANGED) {
        BehaviorKind::Unchanged
    } else if has(EXPECTED) {
        BehaviorKind::Expected
    } else {
        BehaviorKind::Other
    }
}

/// A section with at least one `###` heading naming a behaviour kind.
fn looks_like_analysis(doc: &Doc, s: &OutlineSection) -> bool {
    s.body.clone().any(|i| {
        matches!(
            doc.block(i).map(|b| &b.kind),
            Some(BlockKind::Heading { level: 3, text }) if behavior_kind(text) != BehaviorKind::Other
        )
    })
}

fn read_analysis(doc: &Doc, sink: &mut Sink, s: &OutlineSection, out: &mut BugfixDoc) {
    let heads: Vec<usize> = s
        .body
        .clone()
        .filter(|&i| heading_level(doc.block(i)) == Some(3))
        .collect();
    let first = heads.first().copied().unwrap_or(s.body.end);
    out.analysis_preface = doc.raw(s.body.start..first);
    for (k, &h) in heads.iter().enumerate() {
        let end = heads.get(k + 1).copied().unwrap_or(s.body.end);
        let group = read_group(doc, sink, h, h + 1..end, out.groups.len());
        out.groups.push(group);
    }
    if s.title != DEFAULT_ANALYSIS || (out.groups.is_empty() && out.analysis_preface.is_empty()) {
        out.analysis_heading = Some(s.title.clone());
    }
}

fn read_group(
    doc: &Doc,
    sink: &mut Sink,
    heading: usize,
    body: std::ops::Range<usize>,
    index: usize,
) -> BehaviorGroup {
    let (title, start) = match doc.block(heading) {
        Some(b) => match &b.kind {
            BlockKind::Heading { text, .. } => (text.to_string(), b.range.start),
            _ => (String::new(), b.range.start),
        },
        None => (String::new(), 0),
    };
    let kind = behavior_kind(&title);
    if kind == BehaviorKind::Other {
        sink.report(
            doc.position(start),
            "behaviour group heading is not recognised",
            "`### Current Behavior (Defect)`, `### Expected Behavior (Correct)` or `### Unchanged Behavior (Regression Prevention)`",
        );
    }
    let mut group = BehaviorGroup {
        kind,
        title,
        clauses: Vec::new(),
        notes: String::new(),
    };
    let mut notes = Notes::default();
    let clause =
        |group: &mut BehaviorGroup, sink: &mut Sink, id: String, text: String, at: usize| {
            let position = doc.position(at);
            if text.is_empty() {
                sink.report(
                    position,
                    "bugfix clause is empty",
                    "`<N>.<M> WHEN ... THEN ...`",
                );
            }
            sink.locate(
                Locator::Clause {
                    group: index,
                    index: group.clauses.len(),
                },
                position,
            );
            let ears = Ears::parse(&text);
            group.clauses.push(AcceptanceCriterion {
                id: CriterionId::new(id),
                text,
                ears,
            });
        };
    for i in body {
        let Some(b) = doc.block(i) else { continue };
        match &b.kind {
            BlockKind::Other => {
                let line_start = super::markdown::line_start(doc.text(), b.range.start);
                let src = doc.slice(line_start..b.range.end);
                match split_clauses(src).filter(|_| is_paragraph(src)) {
                    Some(found) => {
                        notes.split();
                        for (id, text, offset) in found {
                            clause(&mut group, sink, id, text, line_start + offset);
                        }
                    }
                    None => notes.add(b.range.clone()),
                }
            }
            BlockKind::List(span) => {
                let items = doc.items(*span);
                let ordered = is_ordered(items);
                for item in items {
                    let text = doc.item_text(item);
                    let found = match clause_start(&text) {
                        Some((id, rest)) => Some((id, rest.trim().to_owned())),
                        None if ordered => {
                            let n = marker_number(item)
                                .map(str::to_owned)
                                .unwrap_or_else(|| (group.clauses.len() + 1).to_string());
                            Some((format!("{}.{n}", index + 1), text))
                        }
                        None => None,
                    };
                    // A clause renders as a paragraph; an item whose text
                    // would read differently as one (nested lists, code)
                    // stays verbatim in the notes.
                    match found.filter(|(id, text)| reads_back(id, text)) {
                        Some((id, text)) => {
                            notes.split();
                            clause(&mut group, sink, id, text, doc.item_start(item));
                        }
                        None => notes.add(item.range.clone()),
                    }
                }
                if let Some(tail) = list_tail(doc, b, items) {
                    notes.add(tail);
                }
            }
            _ => notes.add(b.range.clone()),
        }
    }
    group.notes = notes.finish(doc.text());
    group
}

/// Reads a clause id at the start of a line: `1.1 `, `1.1: `, `1.1. `,
/// `**1.1** `. Returns the id and the text after it.
fn clause_start(line: &str) -> Option<(String, &str)> {
    let s = line.trim_start();
    let (bold, s) = match s.strip_prefix("**") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let bytes = s.as_bytes();
    let mut end = 0;
    let mut dots = 0;
    while let Some(b) = bytes.get(end) {
        match b {
            b'0'..=b'9' => end += 1,
            b'.' if end > 0 && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => {
                dots += 1;
                end += 1;
            }
            _ => break,
        }
    }
    if dots == 0 {
        return None;
    }
    let id = s.get(..end)?;
    let mut rest = s.get(end..)?;
    if bold {
        rest = rest.strip_prefix("**")?;
    }
    if let Some(r) = rest.strip_prefix([':', '.', '：']) {
        rest = r;
    }
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    Some((id.to_owned(), rest.trim_start()))
}

/// `true` when the clause, rendered as a paragraph, reads back as itself.
fn reads_back(id: &str, text: &str) -> bool {
    let rendered = render_clause(id, text);
    let found = markdown::blocks(&rendered);
    matches!(found.blocks.as_slice(), [b] if b.kind == BlockKind::Other)
        && split_clauses(&rendered) == Some(vec![(id.to_owned(), text.to_owned(), 0)])
}

fn render_clause(id: &str, text: &str) -> String {
    if text.is_empty() {
        id.to_owned()
    } else {
        format!("{id} {text}")
    }
}

/// The id that follows `id` in a list of clauses (`1.2` after `1.1`).
fn next_id(id: &str) -> Option<String> {
    let (prefix, last) = id.rsplit_once('.')?;
    let n: u64 = last.parse().ok()?;
    Some(format!("{prefix}.{}", n.checked_add(1)?))
}

/// Splits a paragraph into clauses when it starts with a clause id. Returns
/// `(id, text, offset of the clause's line)`.
fn split_clauses(paragraph: &str) -> Option<Vec<(String, String, usize)>> {
    let first_line = paragraph.lines().next()?;
    let indent = first_line.len() - first_line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let mut out: Vec<(String, String, usize)> = Vec::new();
    let mut offset = 0;
    for line in paragraph.split('\n') {
        let starts_next = match (out.last(), clause_start(line)) {
            (None, Some((id, _))) => Some(id),
            (Some((prev, _, _)), Some((id, _)))
                if next_id(prev).as_deref() == Some(id.as_str()) =>
            {
                Some(id)
            }
            _ => None,
        };
        match (starts_next, out.last_mut()) {
            (Some(_), _) => {
                let (id, rest) = clause_start(line)?;
                out.push((id, rest.to_owned(), offset));
            }
            (None, Some(last)) => {
                last.1.push('\n');
                last.1.push_str(line);
            }
            (None, None) => return None,
        }
        offset += line.len() + 1;
    }
    for c in &mut out {
        c.1 = c.1.trim().to_owned();
    }
    Some(out)
}

fn render_group(g: &BehaviorGroup) -> String {
    let mut parts = vec![atx(3, &g.title)];
    for c in &g.clauses {
        parts.push(render_clause(c.id.as_str(), &c.text));
    }
    push_text(&mut parts, &g.notes);
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_ids() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("1.1 WHEN x THEN y", Some(("1.1", "WHEN x THEN y"))),
            ("**2.3** WHEN x", Some(("2.3", "WHEN x"))),
            ("3.1: WHEN x", Some(("3.1", "WHEN x"))),
            ("3.1. WHEN x", Some(("3.1", "WHEN x"))),
            ("1 WHEN x", None),
            ("1.1WHEN", None),
            ("WHEN 1.1", None),
        ];
        for (line, expected) in cases {
            let got = clause_start(line).map(|(a, b)| (a, b.to_owned()));
            let expected = expected.map(|(a, b)| (a.to_owned(), b.to_owned()));
            assert_eq!(got, expected, "{line}");
        }
    }

    #[test]
    fn group_kinds() {
        let cases = [
            ("Current Behavior (Defect)", BehaviorKind::Current),
            ("Expected Behavior (Correct)", BehaviorKind::Expected),
            (
                "Unchanged Behavior (Regression Prevention)",
                BehaviorKind::Unchanged,
            ),
            ("当前行为（缺陷）", BehaviorKind::Current),
            ("Current Behaviour (Incorrect)", BehaviorKind::Current),
            ("Root Cause", BehaviorKind::Other),
        ];
        for (title, kind) in cases {
            assert_eq!(behavior_kind(title), kind, "{title}");
        }
    }

    #[test]
    fn paragraphs_split_only_at_the_next_id() {
        let got = split_clauses("1.1 WHEN a\n1.2 WHEN b\n2.5 seconds pass");
        let expected = vec![
            ("1.1".to_owned(), "WHEN a".to_owned(), 0),
            (
                "1.2".to_owned(),
                "WHEN b\n2.5 seconds pass".to_owned(),
                "1.1 WHEN a\n".len(),
            ),
        ];
        assert_eq!(got, Some(expected));
        assert_eq!(split_clauses("Observed:\n1.1 WHEN a"), None);
    }
}
