//! When a new memory is the same as a stored one (merge it) or says the
//! opposite (supersede the stored one).
//!
//! Both are decided between memories of the **same scope** only, on their
//! content's words (lower-cased, light plural stemming, see below):
//!
//! - **Guidance.** A sentence of advice is read as *polarity, verb, object,
//!   rejected, context*: the first guidance verb (`use`, `prefer`, `call`,
//!   `return`, ...; `avoid` is a negative `use`), negative when `never`,
//!   `don't`, `not`, `no` or `avoid` come before it; the object is the
//!   words after it up to a boundary word (`in`, `for`, `when`, `instead`,
//!   `over`, ...); after `instead of` / `over` / `rather than` come the
//!   rejected words; the other content words are the context.
//! - **Contradiction** (the older one is superseded), when both are guidance
//!   with the same verb and
//!   1. the same object and context but opposite polarity ("always run
//!      `cargo fmt` before committing" / "never run `cargo fmt` before
//!      committing"); or
//!   2. both positive, different objects and the same non-empty context
//!      ("use anyhow in libraries" / "use thiserror in libraries"); or
//!   3. both positive and one rejects the other's object ("prefer `&str`
//!      over `String`" / "prefer `String` over `&str`").
//!
//!   "Same context" is a [Jaccard](jaccard) similarity of at least
//!   [`CONTEXT_THRESHOLD`].
//! - **Duplicate** (merged), when it is not a contradiction, both have the
//!   same polarity, guidance objects (if both are guidance) are the same,
//!   and the Jaccard similarity of their content-word sets (stopwords and
//!   emphasis like `always`/`please` left out) is at least the merge
//!   threshold, [`DEFAULT_MERGE_THRESHOLD`] unless configured.
//! - Anything else is unrelated: both are kept and both are recalled.
//!
//! The word lists below are English: guidance in another language is only
//! ever merged (by word overlap), never superseded, which loses nothing.

use std::collections::HashSet;

use crate::text::{is_stopword, stem, words};

/// The default content-word Jaccard similarity from which two memories of
/// the same scope are near-identical. 0.7 merges rewordings that add or
/// drop a word or two ("use thiserror in libraries" / "always use thiserror
/// in library crates" is 0.75) and keeps apart sentences that share a
/// subject but not a point ("never unwrap in parsers" / "never unwrap in
/// tests" is 0.33).
pub const DEFAULT_MERGE_THRESHOLD: f32 = 0.7;

/// How alike two guidance contexts must be (Jaccard) to be the same context.
pub const CONTEXT_THRESHOLD: f32 = 0.6;

/// How a new memory relates to a stored one of the same scope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relation {
    /// Near-identical, with this similarity from 0 to 1: merge.
    Duplicate(f32),
    /// Says the opposite: the older one is superseded.
    Contradicts,
    /// Neither: keep both.
    Unrelated,
}

/// Verbs that give advice; `avoid` is read as a negative `use`.
const GUIDANCE_VERBS: &[&str] = &[
    "use",
    "prefer",
    "choose",
    "pick",
    "call",
    "return",
    "add",
    "keep",
    "put",
    "write",
    "run",
    "name",
    "store",
    "log",
    "handle",
    "wrap",
    "pass",
    "import",
    "depend",
    "commit",
    "check",
    "mark",
    "derive",
    "implement",
    "panic",
    "unwrap",
    "expect",
    "clone",
    "allocate",
    "spawn",
];

/// Words that make the guidance negative.
const NEGATIONS: &[&str] = &[
    "never", "dont", "not", "no", "avoid", "shouldnt", "mustnt", "cant", "cannot", "doesnt",
];

/// Words of emphasis that change neither the advice nor its polarity.
const EMPHASIS: &[&str] = &[
    "always", "please", "must", "should", "do", "does", "make", "sure", "ensure", "really", "nit",
    "consider", "try",
];

/// Words that end an object: a context or a comparison follows.
const BOUNDARIES: &[&str] = &[
    "in",
    "for",
    "when",
    "inside",
    "within",
    "on",
    "at",
    "to",
    "instead",
    "over",
    "rather",
    "than",
    "because",
    "so",
    "if",
    "with",
    "from",
    "across",
    "throughout",
    "unless",
    "before",
    "after",
    "during",
    "as",
    "since",
    "where",
    "while",
    "and",
    "but",
    "or",
    "of",
];

/// Words that introduce what is rejected (`instead of X`, `over X`, `rather than X`).
const COMPARISONS: &[&str] = &["instead", "over", "rather"];

/// A word as compared: `using`/`uses` are `use`, plurals folded.
/// Function words (stopwords, emphasis, negations, boundaries) are kept
/// as they are, so that `always` stays a word the lists know.
fn normal(word: &str) -> String {
    let function_word = is_stopword(word)
        || EMPHASIS.contains(&word)
        || NEGATIONS.contains(&word)
        || BOUNDARIES.contains(&word);
    match word {
        "using" | "uses" | "used" => "use".to_owned(),
        _ if function_word => word.to_owned(),
        other => stem(other),
    }
}

/// Jaccard similarity of two sets: |A ∩ B| / |A ∪ B|, 1 for two empty sets.
/// Hash sets, so that a megabyte of distinct words costs linear time.
pub fn jaccard(a: &[String], b: &[String]) -> f32 {
    let a: HashSet<&String> = a.iter().collect();
    let b: HashSet<&String> = b.iter().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f32 / union as f32
}

/// A text's content words as a set (in first-seen order), normalised:
/// stopwords, emphasis, negations and boundary words out.
fn content_set(words: &[String]) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut set: Vec<String> = Vec::new();
    for raw in words {
        let filler = is_stopword(raw)
            || EMPHASIS.contains(&raw.as_str())
            || NEGATIONS.contains(&raw.as_str())
            || BOUNDARIES.contains(&raw.as_str());
        let w = normal(raw);
        if !filler && seen.insert(w.clone()) {
            set.push(w);
        }
    }
    set
}

/// A sentence of advice, as read by the rules above.
#[derive(Debug, PartialEq)]
struct Guidance {
    negative: bool,
    verb: String,
    object: Vec<String>,
    rejected: Vec<String>,
    context: Vec<String>,
}

fn guidance(text: &str) -> Option<Guidance> {
    let words: Vec<String> = words(text).iter().map(|w| normal(w)).collect();
    let at = words
        .iter()
        .position(|w| w == "avoid" || GUIDANCE_VERBS.contains(&w.as_str()))?;
    let negative = words[..=at].iter().any(|w| NEGATIONS.contains(&w.as_str()));
    let verb = if words[at] == "avoid" {
        "use"
    } else {
        words[at].as_str()
    }
    .to_owned();
    let mut rest = &words[at + 1..];
    // "avoid using X": the verb is already `use`.
    if words[at] == "avoid" && rest.first().is_some_and(|w| w == "use") {
        rest = &rest[1..];
    }
    let is_article = |w: &String| matches!(w.as_str(), "a" | "an" | "the");
    let take_until_boundary = |words: &[String]| -> usize {
        words
            .iter()
            .position(|w| BOUNDARIES.contains(&w.as_str()))
            .unwrap_or(words.len())
    };
    let end = take_until_boundary(rest);
    let object: Vec<String> = rest[..end]
        .iter()
        .filter(|w| !is_article(w))
        // An object is a few words; past that it is prose, and comparing
        // two long runs word by word would cost their product.
        .take(8)
        .cloned()
        .collect();
    if object.is_empty() {
        return None;
    }
    let mut rest = &rest[end..];
    let mut rejected = Vec::new();
    if rest
        .first()
        .is_some_and(|w| COMPARISONS.contains(&w.as_str()))
    {
        // Skip "instead of" / "rather than" / "over".
        let skip = if rest.get(1).is_some_and(|w| w == "of" || w == "than") {
            2
        } else {
            1
        };
        rest = &rest[skip.min(rest.len())..];
        let end = take_until_boundary(rest);
        rejected = rest[..end]
            .iter()
            .filter(|w| !is_article(w))
            .take(8)
            .cloned()
            .collect();
        rest = &rest[end..];
    }
    let before = &words[..at];
    let context = content_set(
        &before
            .iter()
            .chain(rest.iter())
            .filter(|w| !BOUNDARIES.contains(&w.as_str()))
            .cloned()
            .collect::<Vec<_>>(),
    );
    Some(Guidance {
        negative,
        verb,
        object,
        rejected,
        context,
    })
}

/// Whether two word lists share no word.
fn disjoint(a: &[String], b: &[String]) -> bool {
    !a.iter().any(|w| b.contains(w))
}

/// How `new` relates to `old` (both memories' content, same scope), with
/// `merge_threshold` the Jaccard similarity from which they are duplicates.
pub fn relate(new: &str, old: &str, merge_threshold: f32) -> Relation {
    let (g_new, g_old) = (guidance(new), guidance(old));
    if let (Some(a), Some(b)) = (&g_new, &g_old) {
        if a.verb == b.verb {
            let same_context = jaccard(&a.context, &b.context) >= CONTEXT_THRESHOLD;
            if a.negative != b.negative && a.object == b.object && same_context {
                return Relation::Contradicts;
            }
            if !a.negative && !b.negative {
                let swapped = (!a.rejected.is_empty() && a.rejected == b.object)
                    || (!b.rejected.is_empty() && b.rejected == a.object);
                let replaced =
                    disjoint(&a.object, &b.object) && !a.context.is_empty() && same_context;
                if swapped || replaced {
                    return Relation::Contradicts;
                }
            }
        }
    }
    let negative = |g: &Option<Guidance>, text: &str| match g {
        Some(g) => g.negative,
        None => words(text).iter().any(|w| NEGATIONS.contains(&w.as_str())),
    };
    if negative(&g_new, new) != negative(&g_old, old) {
        return Relation::Unrelated;
    }
    if let (Some(a), Some(b)) = (&g_new, &g_old) {
        if a.object != b.object {
            return Relation::Unrelated;
        }
    }
    let similarity = jaccard(&content_set(&words(new)), &content_set(&words(old)));
    if similarity >= merge_threshold {
        Relation::Duplicate(similarity)
    } else {
        Relation::Unrelated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(new: &str, old: &str, expected: &str) {
        let got = match relate(new, old, DEFAULT_MERGE_THRESHOLD) {
            Relation::Duplicate(_) => "merge",
            Relation::Contradicts => "supersede",
            Relation::Unrelated => "keep",
        };
        assert_eq!(got, expected, "new {new:?} / old {old:?}");
    }

    #[test]
    fn rewordings_merge() {
        check(
            "Use thiserror in libraries.",
            "Always use `thiserror` in library crates",
            "merge",
        );
        check(
            "Never call unwrap() in library code",
            "never call `unwrap` in library code!",
            "merge",
        );
        check(
            "Return diagnostics from parsers instead of panicking",
            "Parsers should return diagnostics instead of panicking",
            "merge",
        );
        check("LGTM", "lgtm", "merge");
    }

    #[test]
    fn different_points_are_kept() {
        check("Never unwrap in parsers", "Never unwrap in tests", "keep");
        check("Run cargo fmt", "Run cargo clippy", "keep");
        check(
            "Use anyhow for errors in the CLI",
            "Use thiserror for errors in libraries",
            "keep",
        );
        check(
            "Never use unwrap in library code",
            "Use expect with a message in tests",
            "keep",
        );
        // A sentence and its negation without a shared structure are not merged.
        check("Tests need no network", "Tests need the network", "keep");
        check(
            "Prefer iterators to index loops",
            "Document every public item",
            "keep",
        );
    }

    #[test]
    fn contradictions_supersede() {
        check(
            "Use thiserror in libraries",
            "Use anyhow in libraries",
            "supersede",
        );
        check(
            "Never run cargo fmt before committing",
            "Always run cargo fmt before committing",
            "supersede",
        );
        check(
            "Avoid unwrap in library code",
            "Use unwrap in library code",
            "supersede",
        );
        check(
            "Don't use `unsafe` in the parser",
            "Always use unsafe in the parser",
            "supersede",
        );
        check(
            "Prefer `String` over `&str` in struct fields",
            "Prefer `&str` over `String` in struct fields",
            "supersede",
        );
        check(
            "Use thiserror instead of anyhow in library crates",
            "Use anyhow in library crates",
            "supersede",
        );
    }

    #[test]
    fn contradictions_need_the_same_context() {
        // Different contexts: both hold.
        check(
            "Use thiserror in libraries",
            "Use anyhow in binaries",
            "keep",
        );
        // No context at all: two tools can both be fine.
        check("Use tracing", "Use log", "keep");
        // Different verbs.
        check(
            "Use anyhow in libraries",
            "Wrap errors in libraries",
            "keep",
        );
    }

    #[test]
    fn guidance_is_read_as_verb_object_context() {
        let g = guidance("In library crates, never use `anyhow` for errors")
            .unwrap_or_else(|| unreachable!());
        assert!(g.negative);
        assert_eq!(g.verb, "use");
        assert_eq!(g.object, ["anyhow"]);
        assert_eq!(g.context, ["library", "crate", "error"]);
        let g = guidance("Prefer &str over String").unwrap_or_else(|| unreachable!());
        assert_eq!(
            (g.object.as_slice(), g.rejected.as_slice()),
            (&["str".to_owned()][..], &["string".to_owned()][..])
        );
        assert_eq!(guidance("Thanks, looks good"), None);
    }

    #[test]
    fn jaccard_is_overlap_over_union() {
        let s = |w: &[&str]| w.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(jaccard(&s(&["a", "b"]), &s(&["b", "c"])), 1.0 / 3.0);
        assert_eq!(jaccard(&s(&[]), &s(&[])), 1.0);
        assert_eq!(jaccard(&s(&["a"]), &s(&[])), 0.0);
    }
}
