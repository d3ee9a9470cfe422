//! `pattern` and `patternProperties` regular expressions as string
//! generators.
//!
//! JSON Schema patterns are ECMA-262 regular expressions with search
//! semantics: `a+` matches any string containing an `a`. The pattern is
//! translated to the Rust dialect exactly as the `jsonschema` validator
//! translates it (`\d` is `[0-9]`, `\w` ASCII, `.` excludes line
//! terminators), parsed, stripped of its leading `^` and trailing `$` (an
//! end without its anchor is padded with free text instead), and its
//! unbounded repetitions bounded by the length budget, so proptest's
//! whole-string regex generator can make the middle part. Lookarounds,
//! backreferences, word boundaries and anchors anywhere but at an end are
//! refused.

use proptest::prelude::*;
use regex_syntax::hir::{Hir, HirKind, Look, Repetition};

use super::scalar::{pick, text};

/// Why a pattern cannot be generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PatternError {
    /// Not a regular expression at all.
    Invalid(String),
    /// Valid ECMA-262, but beyond what can be generated.
    Unsupported(&'static str),
}

/// One top-level alternative of a pattern, with the ends it is anchored at.
#[derive(Debug, Clone)]
struct Branch {
    anchored_start: bool,
    anchored_end: bool,
    body: Hir,
}

/// A pattern ready to generate matching strings.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    branches: Vec<Branch>,
}

/// How many branches distributing an anchored alternation may make.
const MAX_BRANCHES: usize = 32;

impl Pattern {
    /// Parses an ECMA-262 pattern.
    pub(super) fn parse(pattern: &str) -> Result<Self, PatternError> {
        let translated = jsonschema_regex::to_rust_regex(pattern).map_err(|()| {
            PatternError::Invalid(format!("`{pattern}` is not an ECMA-262 regular expression"))
        })?;
        let hir = match regex_syntax::ParserBuilder::new()
            .build()
            .parse(&translated)
        {
            Ok(hir) => hir,
            Err(regex_syntax::Error::Parse(error))
                if matches!(
                    error.kind(),
                    regex_syntax::ast::ErrorKind::UnsupportedLookAround
                        | regex_syntax::ast::ErrorKind::UnsupportedBackreference
                ) =>
            {
                return Err(PatternError::Unsupported(
                    "lookarounds and backreferences cannot be generated",
                ));
            }
            Err(error) => return Err(PatternError::Invalid(format!("`{pattern}`: {error}"))),
        };
        let mut branches = Vec::new();
        for alternative in alternatives(&uncapture(&hir)) {
            split(alternative, &mut branches)?;
        }
        Ok(Self { branches })
    }

    /// Strings matching the pattern (somewhere, unless anchored) whose length
    /// in characters is in `min..=max`, with `budget` characters for each
    /// unbounded repetition and padding; `None` when no branch can reach
    /// that length. The flag says whether every generated string is within
    /// the length bounds by construction (otherwise the caller filters).
    pub(super) fn strategy(
        &self,
        min: usize,
        max: Option<usize>,
        budget: usize,
    ) -> Option<(BoxedStrategy<String>, bool)> {
        let mut parts = Vec::new();
        let mut exact = true;
        for branch in &self.branches {
            let body = fit(
                &branch.body,
                min,
                max,
                budget,
                branch.anchored_start && branch.anchored_end,
            );
            let Some((body_min, body_max)) = lengths(&body) else {
                continue;
            };
            let body_max = body_max.unwrap_or(usize::MAX);
            if max.is_some_and(|m| body_min > m) {
                continue;
            }
            let sides = usize::from(!branch.anchored_start) + usize::from(!branch.anchored_end);
            let needed = min.saturating_sub(body_max);
            if needed > 0 && sides == 0 {
                continue;
            }
            let free = max.map_or(usize::MAX, |m| m - body_min);
            let pad_hi = needed.max(3).min(free);
            let Ok(middle) = proptest::string::string_regex_parsed(&body) else {
                continue;
            };
            // Padding shares one budget: the first padded side takes what is
            // needed to reach `min`, the other what is left.
            let (pre_range, post_range) = match (branch.anchored_start, branch.anchored_end) {
                (false, false) => (
                    (needed.min(pad_hi), pad_hi),
                    (0, pad_hi - needed.min(pad_hi)),
                ),
                (false, true) => ((needed.min(pad_hi), pad_hi), (0, 0)),
                (true, false) => ((0, 0), (needed.min(pad_hi), pad_hi)),
                (true, true) => ((0, 0), (0, 0)),
            };
            let pad = |(lo, hi): (usize, usize)| {
                if hi == 0 {
                    Just(String::new()).boxed()
                } else {
                    text(lo, hi)
                }
            };
            let (pre, post) = (pad(pre_range), pad(post_range));
            let total_min = body_min + pre_range.0 + post_range.0;
            let total_max = body_max.saturating_add(pre_range.1 + post_range.1);
            exact &= total_min >= min && max.is_none_or(|m| total_max <= m);
            let strategy = (pre, middle, post)
                .prop_map(|(mut pre, middle, post)| {
                    pre.push_str(&middle);
                    pre.push_str(&post);
                    pre
                })
                .boxed();
            parts.push(strategy);
        }
        if parts.is_empty() {
            return None;
        }
        Some((pick(parts.into_iter().map(|p| (1, p)).collect()), exact))
    }
}

/// The expression without capture groups, which generation does not need
/// and which would hide anchors from [`split`].
fn uncapture(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Capture(capture) => uncapture(&capture.sub),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(uncapture).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(uncapture).collect()),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(uncapture(&rep.sub)),
        }),
        _ => hir.clone(),
    }
}

fn alternatives(hir: &Hir) -> Vec<Hir> {
    match hir.kind() {
        HirKind::Alternation(subs) => subs.clone(),
        _ => vec![hir.clone()],
    }
}

fn is_look(hir: &Hir, look: Look) -> bool {
    matches!(hir.kind(), HirKind::Look(l) if *l == look)
}

/// Splits one alternative into branches anchored or not at each end,
/// distributing a leading or trailing alternation that holds anchors
/// (`(^a|b)c` is `^ac` or `bc`).
fn split(alternative: Hir, branches: &mut Vec<Branch>) -> Result<(), PatternError> {
    let mut parts = match alternative.kind() {
        HirKind::Concat(subs) => subs.clone(),
        _ => vec![alternative],
    };
    for (index, last) in [(0, false), (usize::MAX, true)] {
        let at = if last {
            parts.len().checked_sub(1)
        } else {
            Some(index)
        };
        let Some(at) = at else { continue };
        if let HirKind::Alternation(subs) = parts[at].kind() {
            if !parts[at].properties().look_set().is_empty() {
                if subs.len() + branches.len() > MAX_BRANCHES {
                    return Err(PatternError::Unsupported("too many anchored alternatives"));
                }
                for sub in subs.clone() {
                    let mut distributed = parts.clone();
                    distributed[at] = sub;
                    split(Hir::concat(distributed), branches)?;
                }
                return Ok(());
            }
        }
    }
    let mut anchored_start = false;
    while parts.first().is_some_and(|p| is_look(p, Look::Start)) {
        parts.remove(0);
        anchored_start = true;
    }
    let mut anchored_end = false;
    while parts.last().is_some_and(|p| is_look(p, Look::End)) {
        parts.pop();
        anchored_end = true;
    }
    let body = Hir::concat(parts);
    if !body.properties().look_set().is_empty() {
        return Err(PatternError::Unsupported(
            "word boundaries and anchors inside the pattern cannot be generated",
        ));
    }
    branches.push(Branch {
        anchored_start,
        anchored_end,
        body,
    });
    Ok(())
}

/// The expression with its unbounded repetitions bounded so matches fit
/// `min..=max` characters where they can: each may grow by what `max` leaves
/// above the expression's shortest match (or by `budget` without a
/// maximum), and when the match is the whole string and one unbounded
/// repetition of a fixed-width part is all that varies freely, its minimum
/// is raised to reach `min` (`^[a-z][a-z0-9_]*$` in 3..=12 characters
/// becomes `[a-z][a-z0-9_]{2,11}`).
fn fit(hir: &Hir, min: usize, max: Option<usize>, budget: usize, whole: bool) -> Hir {
    let shortest = lengths(hir).map_or(0, |(shortest, _)| shortest);
    let grow = max
        .map_or(budget.max(min), |m| m.saturating_sub(shortest))
        .min(64);
    let grow = u32::try_from(grow).unwrap_or(64);
    let mut raise = if whole && unbounded(hir) == 1 {
        min.saturating_sub(shortest)
    } else {
        0
    };
    raise_and_bound(hir, grow, &mut raise)
}

/// How many unbounded repetitions the expression has.
fn unbounded(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Repetition(rep) => usize::from(rep.max.is_none()) + unbounded(&rep.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().map(unbounded).sum(),
        HirKind::Capture(capture) => unbounded(&capture.sub),
        _ => 0,
    }
}

fn raise_and_bound(hir: &Hir, grow: u32, raise: &mut usize) -> Hir {
    match hir.kind() {
        HirKind::Repetition(rep) if rep.max.is_none() => {
            let width = match lengths(&rep.sub) {
                Some((w, Some(w2))) if w == w2 && w > 0 => Some(w),
                _ => None,
            };
            let mut lo = rep.min;
            if let (Some(width), true) = (width, *raise > 0) {
                let extra = u32::try_from(raise.div_ceil(width)).unwrap_or(u32::MAX);
                lo = lo.saturating_add(extra.min(grow));
                *raise = 0;
            }
            let width = u32::try_from(width.unwrap_or(1)).unwrap_or(1);
            Hir::repetition(Repetition {
                min: lo,
                max: Some(rep.min.saturating_add(grow / width).max(lo)),
                greedy: rep.greedy,
                sub: Box::new(raise_and_bound(&rep.sub, grow, raise)),
            })
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(raise_and_bound(&rep.sub, grow, raise)),
        }),
        HirKind::Concat(subs) => Hir::concat(
            subs.iter()
                .map(|s| raise_and_bound(s, grow, raise))
                .collect(),
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.iter()
                .map(|s| raise_and_bound(s, grow, raise))
                .collect(),
        ),
        _ => hir.clone(),
    }
}

/// The fewest and most characters a match has; `None` when nothing matches
/// (an empty class), an unbounded maximum as `None` inside.
fn lengths(hir: &Hir) -> Option<(usize, Option<usize>)> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some((0, Some(0))),
        HirKind::Literal(literal) => {
            let n = std::str::from_utf8(&literal.0).map_or(literal.0.len(), |s| s.chars().count());
            Some((n, Some(n)))
        }
        HirKind::Class(class) => {
            let empty = match class {
                regex_syntax::hir::Class::Unicode(c) => c.ranges().is_empty(),
                regex_syntax::hir::Class::Bytes(c) => c.ranges().is_empty(),
            };
            (!empty).then_some((1, Some(1)))
        }
        HirKind::Capture(capture) => lengths(&capture.sub),
        HirKind::Repetition(rep) => {
            let min = rep.min as usize;
            match lengths(&rep.sub) {
                Some((sub_min, sub_max)) => Some((
                    sub_min.saturating_mul(min),
                    match (rep.max, sub_max) {
                        (Some(max), Some(sub_max)) => Some(sub_max.saturating_mul(max as usize)),
                        (Some(0), None) => Some(0),
                        _ => None,
                    },
                )),
                // An impossible sub-expression repeated zero times still matches "".
                None => (min == 0).then_some((0, Some(0))),
            }
        }
        HirKind::Concat(subs) => {
            subs.iter()
                .try_fold((0_usize, Some(0_usize)), |(min, max), sub| {
                    let (sub_min, sub_max) = lengths(sub)?;
                    Some((
                        min.saturating_add(sub_min),
                        max.zip(sub_max).map(|(a, b)| a.saturating_add(b)),
                    ))
                })
        }
        HirKind::Alternation(subs) => {
            let options: Vec<_> = subs.iter().filter_map(lengths).collect();
            let min = options.iter().map(|(min, _)| *min).min()?;
            let max = options
                .iter()
                .map(|(_, max)| *max)
                .try_fold(0_usize, |acc, m| m.map(|m| acc.max(m)));
            Some((min, max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Generates from `pattern` with lengths `min..=max` and checks every
    /// string with the validator's own `pattern` semantics and the bounds.
    fn check(pattern: &str, min: usize, max: Option<usize>) {
        let parsed = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e:?}"));
        let (strategy, _) = parsed
            .strategy(min, max, 8)
            .unwrap_or_else(|| panic!("{pattern}: no strategy"));
        let validator =
            jsonschema::validator_for(&serde_json::json!({"pattern": pattern})).unwrap();
        let mut runner = TestRunner::deterministic();
        let mut fitting = 0;
        for _ in 0..200 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            assert!(
                validator.is_valid(&serde_json::Value::String(s.clone())),
                "{pattern}: {s:?}"
            );
            let n = s.chars().count();
            fitting += usize::from(n >= min && max.is_none_or(|m| n <= m));
        }
        assert!(
            fitting >= 100,
            "{pattern}: only {fitting} of 200 strings fit {min}..{max:?}"
        );
    }

    #[test]
    fn generated_strings_match_with_search_semantics() {
        check("^[A-Z]{3}-[0-9]{4}$", 0, None);
        check("a+", 0, None);
        check("^a*$", 0, None);
        check("^[a-z][a-z0-9_]*$", 3, Some(12));
        check(r"^\+[1-9][0-9]{7,14}$", 0, None);
        check(r"^\d+\.\w\s$", 0, None);
        check("^(foo|bar)$|^x", 0, None);
        check("(^a|b)c", 0, None);
        check("", 5, Some(5));
        check("^[0-9]{5}(-[0-9]{4})?$", 0, None);
        check("x$", 4, Some(6));
        check(r"^\p{L}+$", 0, None);
    }

    #[test]
    fn untranslatable_patterns_are_refused() {
        let refused = |p: &str| Pattern::parse(p).err();
        assert!(matches!(
            refused("a(?=b)"),
            Some(PatternError::Unsupported(_))
        ));
        assert!(matches!(
            refused(r"(a)\1"),
            Some(PatternError::Unsupported(_))
        ));
        assert!(matches!(
            refused(r"\bword\b"),
            Some(PatternError::Unsupported(_))
        ));
        assert!(matches!(refused("a^b"), Some(PatternError::Unsupported(_))));
        assert!(matches!(
            refused("(unclosed"),
            Some(PatternError::Invalid(_))
        ));
    }

    #[test]
    fn repetitions_are_fitted_to_the_length_window() {
        let fitted = |p: &str, min, max| {
            let parsed = Pattern::parse(p).unwrap();
            let branch = &parsed.branches[0];
            let body = fit(
                &branch.body,
                min,
                max,
                16,
                branch.anchored_start && branch.anchored_end,
            );
            (
                lengths(&body),
                parsed.strategy(min, max, 16).map(|(_, exact)| exact),
            )
        };
        assert_eq!(
            fitted("^[a-z][a-z0-9_]*$", 3, Some(12)),
            (Some((3, Some(12))), Some(true))
        );
        assert_eq!(
            fitted("^a+b*$", 0, Some(5)).0.map(|(_, hi)| hi <= Some(10)),
            Some(true)
        );
        assert_eq!(
            fitted("^(ab)*$", 4, Some(8)),
            (Some((4, Some(8))), Some(true))
        );
    }

    #[test]
    fn lengths_out_of_reach_give_no_strategy() {
        let parsed = Pattern::parse("^[a-z]{2,3}$").unwrap();
        assert!(parsed.strategy(4, None, 8).is_none());
        assert!(parsed.strategy(0, Some(1), 8).is_none());
        assert!(parsed
            .strategy(2, Some(3), 8)
            .is_some_and(|(_, exact)| exact));
    }
}
