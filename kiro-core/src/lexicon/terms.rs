//! Words that make a criterion hard to test, for the lint rules `K0004`
//! (vague terms), `K0005` (escape clauses) and `K0006` (placeholders).
//!
//! The lists are short on purpose: each entry is a word that makes a
//! criterion untestable in almost every context, so a finding is worth
//! reading. They are English: a criterion in another language is checked
//! for its modal verb (see [`super::ears`]) but not for vague words, since a
//! word list in every language would mostly produce noise. `lint` matches
//! them as whole words, outside inline code, case-insensitively except for
//! [`PLACEHOLDERS`].
//!
//! ```
//! use kiro_core::lexicon::terms::{PLACEHOLDERS, VAGUE_TERMS};
//!
//! assert!(VAGUE_TERMS.contains(&"user-friendly"));
//! assert!(PLACEHOLDERS.contains(&"TBD"));
//! ```

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

/// Words that may follow an escape clause without changing its meaning
/// (`where possible the system ...`): after any other lower-case word the
/// phrase qualifies that word (`IF possible duplicates exist` is a real
/// condition), so it is no escape clause.
pub const AFTER_ESCAPE: &[&str] = &["a", "an", "and", "or", "the", "then"];

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Phrases are lower-case (they are compared ignoring ASCII case),
    /// placeholders upper-case (compared exactly), and none is listed twice.
    #[test]
    fn tables_are_in_their_case_and_unique() {
        for (table, upper) in [
            (VAGUE_TERMS, false),
            (ESCAPE_CLAUSES, false),
            (AFTER_ESCAPE, false),
            (PLACEHOLDER_PHRASES, false),
            (PLACEHOLDERS, true),
        ] {
            for (i, w) in table.iter().enumerate() {
                let cased = if upper {
                    w.to_uppercase()
                } else {
                    w.to_lowercase()
                };
                assert_eq!(*w, cased, "{w}");
                assert!(!table[..i].contains(w), "{w} twice");
            }
        }
    }
}
