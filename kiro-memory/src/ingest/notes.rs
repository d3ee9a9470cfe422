//! Plain-text and markdown notes: one lesson per list item or paragraph.
//!
//! A note is written on purpose to be remembered, so nothing in it is
//! chatter: every paragraph and list item is one memory (headings, quotes
//! and code fences are skipped as in review comments). Its kind follows its
//! words — an obligation is a rule, a choice a preference, an imperative a
//! lesson, and a plain statement ("the staging database is Postgres 15")
//! a fact.

use crate::ingest::distill::{self, Lesson, Sentence, MAX_LESSON_CHARS};
use crate::model::Kind;

/// The lessons of a note, one per paragraph or list item.
pub fn note_lessons(text: &str) -> Vec<Lesson> {
    distill::units(text)
        .into_iter()
        .filter(|unit| unit.chars().any(char::is_alphanumeric))
        .map(|unit| {
            // The unit's kind is its strongest sentence's: a rule beats a
            // preference beats a lesson; with no guidance it is a fact.
            let kind = distill::sentences(&unit)
                .into_iter()
                .filter_map(|s| match distill::classify(s) {
                    Sentence::Guidance(lesson) => Some(lesson.kind),
                    _ => None,
                })
                .min_by_key(|kind| match kind {
                    Kind::Rule => 0,
                    Kind::Preference => 1,
                    _ => 2,
                })
                .unwrap_or(Kind::Fact);
            Lesson {
                text: distill::cut(&unit, MAX_LESSON_CHARS),
                kind,
                // Written to be remembered: surer than a distilled comment.
                confidence: 0.8,
            }
        })
        .collect()
}
