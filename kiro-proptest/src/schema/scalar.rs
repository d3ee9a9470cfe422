//! Scalars by construction: text, integers as multiples of their divisor
//! inside their bounds, and numbers (integers, short decimals, arbitrary
//! floats and the bounds themselves).

use std::ops::RangeInclusive;

use proptest::prelude::*;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::{TestRng, TestRunner};
use serde_json::{Number, Value};

/// Character classes of generated text with their weights (out of 100):
/// mostly ASCII letters and digits, with punctuation, the characters that
/// break escaping (quotes, backslash, control characters, line separators)
/// and non-ASCII ones mixed in, since those are what finds encoding bugs.
pub(super) type Alphabet = &'static [(u32, &'static [RangeInclusive<char>])];

const CLASSES: Alphabet = &[
    (80, &['a'..='z', 'a'..='z', 'A'..='Z', '0'..='9']),
    (8, &[' '..='/', ':'..='@', '['..='`', '{'..='~']),
    (
        4,
        &[
            '"'..='"',
            '\\'..='\\',
            '\n'..='\n',
            '\t'..='\t',
            '\u{0}'..='\u{1f}',
            '\u{7f}'..='\u{7f}',
            '\u{2028}'..='\u{2029}',
        ],
    ),
    (
        8,
        &[
            '\u{a0}'..='\u{ff}',
            '\u{100}'..='\u{17f}',
            '\u{391}'..='\u{3c9}',
            '\u{4e00}'..='\u{4eff}',
            '\u{1f600}'..='\u{1f64f}',
        ],
    ),
];

fn text_char(rng: &mut TestRng, alphabet: Alphabet, total: u32) -> char {
    let mut pick = rng.random_range(0..total.max(1));
    for (weight, ranges) in alphabet {
        if pick < *weight {
            let Some(range) = ranges.get(rng.random_range(0..ranges.len())) else {
                return 'a';
            };
            let code = rng.random_range(u32::from(*range.start())..=u32::from(*range.end()));
            return char::from_u32(code).unwrap_or('a');
        }
        pick -= weight;
    }
    'a'
}

/// Text of `min..=max` characters (Unicode scalar values, which is what
/// `minLength`/`maxLength` count).
///
/// One strategy with its own value tree rather than a vector of character
/// strategies: text is most of what a JSON value is made of, and a tree per
/// character costs an allocation each.
pub(super) fn text(min: usize, max: usize) -> BoxedStrategy<String> {
    text_in(CLASSES, min, max)
}

/// Text of `min..=max` characters from `alphabet` (weighted classes of
/// ranges); shrinking turns characters into the alphabet's first one.
pub(super) fn text_in(alphabet: Alphabet, min: usize, max: usize) -> BoxedStrategy<String> {
    let simplest = alphabet
        .first()
        .and_then(|(_, ranges)| ranges.first())
        .map_or('a', |r| *r.start());
    let total = alphabet.iter().map(|(w, _)| *w).sum();
    Text {
        min,
        max: max.max(min),
        alphabet,
        total,
        simplest,
    }
    .boxed()
}

#[derive(Debug, Clone, Copy)]
struct Text {
    min: usize,
    max: usize,
    alphabet: Alphabet,
    total: u32,
    simplest: char,
}

impl Strategy for Text {
    type Tree = TextTree;
    type Value = String;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let rng = runner.rng();
        let len = rng.random_range(self.min..=self.max);
        let chars = (0..len)
            .map(|_| text_char(rng, self.alphabet, self.total))
            .collect();
        Ok(TextTree {
            chars,
            min: self.min,
            simplest: self.simplest,
            phase: Phase::Remove,
            next: 0,
            undo: None,
        })
    }
}

/// Shrinks by dropping characters (front to back, down to the minimum
/// length), then by turning each remaining character into the simplest.
#[derive(Debug, Clone)]
struct TextTree {
    chars: Vec<char>,
    min: usize,
    simplest: char,
    phase: Phase,
    /// The position the next simplification tries.
    next: usize,
    /// How to undo the last simplification.
    undo: Option<Undo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Remove,
    Simplify,
}

#[derive(Debug, Clone, Copy)]
enum Undo {
    Removed(usize, char),
    Replaced(usize, char),
}

impl ValueTree for TextTree {
    type Value = String;

    fn current(&self) -> String {
        self.chars.iter().collect()
    }

    fn simplify(&mut self) -> bool {
        if self.phase == Phase::Remove {
            if self.chars.len() > self.min && self.next < self.chars.len() {
                let removed = self.chars.remove(self.next);
                self.undo = Some(Undo::Removed(self.next, removed));
                return true;
            }
            self.phase = Phase::Simplify;
            self.next = 0;
        }
        while let Some(&c) = self.chars.get(self.next) {
            let at = self.next;
            self.next += 1;
            if c != self.simplest {
                if let Some(slot) = self.chars.get_mut(at) {
                    *slot = self.simplest;
                }
                self.undo = Some(Undo::Replaced(at, c));
                return true;
            }
        }
        self.undo = None;
        false
    }

    fn complicate(&mut self) -> bool {
        match self.undo.take() {
            Some(Undo::Removed(at, c)) => {
                // The character is needed: put it back and move past it.
                self.chars.insert(at, c);
                self.next = at + 1;
                true
            }
            Some(Undo::Replaced(at, c)) => {
                if let Some(slot) = self.chars.get_mut(at) {
                    *slot = c;
                }
                true
            }
            None => false,
        }
    }
}

/// A decimal number `mantissa × 10^exponent`, read exactly from a JSON
/// number's text so `0.1` is one tenth, not the nearest binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal {
    pub(super) mantissa: i128,
    pub(super) exponent: i32,
}

impl Decimal {
    /// The decimal written as `number` (`12`, `-0.05`, `1e-8`, `2.5E+3`).
    pub(super) fn parse(number: &Number) -> Option<Self> {
        let text = number.to_string();
        let (digits, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text.as_str(), 0),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let fraction = fraction.trim_end_matches('0');
        let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
        let exponent = exponent.checked_sub(i32::try_from(fraction.len()).ok()?)?;
        Some(Self { mantissa, exponent }.normalised())
    }

    /// Trailing zeros of the mantissa moved into the exponent.
    fn normalised(mut self) -> Self {
        while self.mantissa != 0 && self.mantissa % 10 == 0 && self.exponent < 30 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }

    /// As a fraction `numerator / 10^places` with `places ≥ 0`.
    fn as_fraction(self) -> Option<(i128, u32)> {
        if self.exponent >= 0 {
            let scale = 10_i128.checked_pow(u32::try_from(self.exponent).ok()?)?;
            Some((self.mantissa.checked_mul(scale)?, 0))
        } else {
            Some((self.mantissa, self.exponent.unsigned_abs()))
        }
    }
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn lcm(a: i128, b: i128) -> Option<i128> {
    let g = gcd(a, b);
    if g == 0 {
        return Some(0);
    }
    (a / g).checked_mul(b).map(i128::abs)
}

/// The step of the integers that are multiples of every divisor: an integer
/// is a multiple of `p/q` (in lowest terms) exactly when it is a multiple of
/// `p`. `None` when a divisor is not a positive decimal or the step overflows.
pub(super) fn integer_step(divisors: &[Number]) -> Option<i128> {
    let mut step = 1_i128;
    for divisor in divisors {
        let (numerator, places) = Decimal::parse(divisor)?.as_fraction()?;
        if numerator <= 0 {
            return None;
        }
        let denominator = 10_i128.checked_pow(places)?;
        step = lcm(step, numerator / gcd(numerator, denominator))?;
    }
    Some(step)
}

/// The least common multiple of decimal divisors, as a decimal.
pub(super) fn decimal_step(divisors: &[Number]) -> Option<Decimal> {
    let fractions = divisors
        .iter()
        .map(|d| Decimal::parse(d).and_then(Decimal::as_fraction))
        .collect::<Option<Vec<_>>>()?;
    let places = fractions.iter().map(|(_, p)| *p).max().unwrap_or(0);
    // With one denominator 10^places, lcm(a/d, b/d) = lcm(a, b)/d.
    let mut step: Option<i128> = None;
    for (numerator, p) in fractions {
        if numerator <= 0 {
            return None;
        }
        let scaled = numerator.checked_mul(10_i128.checked_pow(places - p)?)?;
        step = Some(match step {
            None => scaled,
            Some(step) => lcm(step, scaled)?,
        });
    }
    let exponent = -i32::try_from(places).ok()?;
    Some(
        Decimal {
            mantissa: step?,
            exponent,
        }
        .normalised(),
    )
}

/// Integers in `lo..=hi`: mostly within 100 of zero (or of the bound
/// nearest to it), sometimes from the whole range (64-bit at most),
/// sometimes exactly a bound; shrinking moves toward the member nearest to
/// zero.
pub(super) fn multiples(lo: i128, hi: i128) -> BoxedStrategy<i128> {
    Multiples { lo, hi }.boxed()
}

#[derive(Debug, Clone, Copy)]
struct Multiples {
    lo: i128,
    hi: i128,
}

impl Strategy for Multiples {
    type Tree = Towards;
    type Value = i128;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let (lo, hi) = (self.lo, self.hi);
        let target = 0_i128.clamp(lo, hi);
        let rng = runner.rng();
        let start = match rng.random_range(0..10_u32) {
            0..=5 => rng.random_range(
                target.saturating_sub(100).max(lo)..=target.saturating_add(100).min(hi),
            ),
            6 | 7 => rng.random_range(lo.max(i128::from(i64::MIN))..=hi.min(i128::from(i64::MAX))),
            8 => lo,
            _ => hi,
        };
        Ok(Towards {
            lo: target,
            curr: start,
            hi: start,
        })
    }
}

/// Binary search from a start value toward a target, as proptest's integer
/// trees do toward zero, but toward any target (here: the member of the
/// range nearest to zero), so every step stays in range.
#[derive(Debug, Clone, Copy)]
pub(super) struct Towards {
    lo: i128,
    curr: i128,
    hi: i128,
}

impl Towards {
    fn reposition(&mut self) -> bool {
        let mid = self.lo + (self.hi - self.lo) / 2;
        if mid == self.curr {
            false
        } else {
            self.curr = mid;
            true
        }
    }
}

impl ValueTree for Towards {
    type Value = i128;

    fn current(&self) -> i128 {
        self.curr
    }

    fn simplify(&mut self) -> bool {
        if self.lo == self.hi {
            return false;
        }
        self.hi = self.curr;
        self.reposition()
    }

    fn complicate(&mut self) -> bool {
        if self.lo == self.hi || self.curr == self.hi {
            return false;
        }
        self.lo = self.curr + (self.hi - self.curr).signum();
        self.reposition()
    }
}

/// One of `options`, chosen by weight. Unlike proptest's `Union`, the
/// options not chosen are not prepared for shrinking to switch to them
/// (each costs a copy of the random generator), so shrinking stays within
/// the chosen one: for alternatives that are all equally valid, as here.
pub(super) fn pick<T: std::fmt::Debug + 'static>(
    options: Vec<(u32, BoxedStrategy<T>)>,
) -> BoxedStrategy<T> {
    let total = options.iter().map(|(w, _)| *w).sum();
    Pick {
        options: std::sync::Arc::new(options),
        total,
    }
    .boxed()
}

#[derive(Debug)]
struct Pick<T> {
    options: std::sync::Arc<Vec<(u32, BoxedStrategy<T>)>>,
    total: u32,
}

impl<T: std::fmt::Debug + 'static> Strategy for Pick<T> {
    type Tree = Box<dyn ValueTree<Value = T>>;
    type Value = T;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut at = runner.rng().random_range(0..self.total.max(1));
        for (weight, option) in self.options.iter() {
            if at < *weight {
                return option.new_tree(runner);
            }
            at -= weight;
        }
        Err("no option to pick from".into())
    }
}

/// `Some` value of `values` with probability `presence`, else `None`;
/// shrinking tries `None` first. (proptest's `option::weighted` prepares
/// its `None` branch with a copy of the random generator on every draw.)
pub(super) fn maybe<T: std::fmt::Debug + 'static>(
    presence: f64,
    values: BoxedStrategy<T>,
) -> BoxedStrategy<Option<T>> {
    Maybe { presence, values }.boxed()
}

#[derive(Debug)]
struct Maybe<T> {
    presence: f64,
    values: BoxedStrategy<T>,
}

impl<T: std::fmt::Debug + 'static> Strategy for Maybe<T> {
    type Tree = MaybeTree<T>;
    type Value = Option<T>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let present = runner.rng().random_bool(self.presence.clamp(0.0, 1.0));
        let tree = if present {
            Some(self.values.new_tree(runner)?)
        } else {
            None
        };
        Ok(MaybeTree {
            tree,
            dropped: false,
            tried_none: false,
        })
    }
}

pub(super) struct MaybeTree<T> {
    tree: Option<Box<dyn ValueTree<Value = T>>>,
    /// The last simplification hid the value.
    dropped: bool,
    tried_none: bool,
}

impl<T> std::fmt::Debug for MaybeTree<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaybeTree")
            .field("present", &self.tree.is_some())
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl<T: std::fmt::Debug> ValueTree for MaybeTree<T> {
    type Value = Option<T>;

    fn current(&self) -> Option<T> {
        if self.dropped {
            return None;
        }
        self.tree.as_ref().map(|t| t.current())
    }

    fn simplify(&mut self) -> bool {
        let Some(tree) = self.tree.as_mut() else {
            return false;
        };
        if !self.tried_none {
            self.tried_none = true;
            self.dropped = true;
            return true;
        }
        if self.dropped {
            return false;
        }
        tree.simplify()
    }

    fn complicate(&mut self) -> bool {
        if self.dropped {
            self.dropped = false;
            return true;
        }
        self.tree.as_mut().is_some_and(|t| t.complicate())
    }
}

/// Integer values in `[lo, hi]` that are multiples of `step`, as JSON
/// numbers; `None` when there is none.
pub(super) fn integers(lo: i128, hi: i128, step: i128) -> Option<BoxedStrategy<Value>> {
    if step <= 0 {
        return None;
    }
    let k_lo = div_ceil(lo, step);
    let k_hi = div_floor(hi, step);
    if k_lo > k_hi {
        return None;
    }
    Some(
        multiples(k_lo, k_hi)
            .prop_filter_map("integer out of 64-bit range", move |k| {
                let n = k.checked_mul(step)?;
                i64::try_from(n).ok().map(Value::from)
            })
            .boxed(),
    )
}

fn div_floor(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) == (b < 0)) {
        q + 1
    } else {
        q
    }
}

/// One bound of a number interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bound {
    pub(super) value: f64,
    pub(super) exclusive: bool,
}

/// A closed-or-open real interval, each side optional.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Interval {
    pub(super) lo: Option<Bound>,
    pub(super) hi: Option<Bound>,
}

impl Interval {
    pub(super) fn contains(&self, x: f64) -> bool {
        let above = self.lo.is_none_or(|b| {
            if b.exclusive {
                x > b.value
            } else {
                x >= b.value
            }
        });
        let below = self.hi.is_none_or(|b| {
            if b.exclusive {
                x < b.value
            } else {
                x <= b.value
            }
        });
        above && below
    }

    /// The smallest and largest representable members, if any.
    fn closed(&self) -> Option<(f64, f64)> {
        const WINDOW: f64 = 1e6;
        let lo = match self.lo {
            Some(b) if b.exclusive => b.value.next_up(),
            Some(b) => b.value,
            None => self
                .hi
                .map_or(-WINDOW, |h| (h.value - 2.0 * WINDOW).min(-WINDOW)),
        };
        let hi = match self.hi {
            Some(b) if b.exclusive => b.value.next_down(),
            Some(b) => b.value,
            None => self
                .lo
                .map_or(WINDOW, |l| (l.value + 2.0 * WINDOW).max(WINDOW)),
        };
        (lo.is_finite() && hi.is_finite() && lo <= hi).then_some((lo, hi))
    }
}

/// A JSON number from a decimal `mantissa × 10^exponent`, written in
/// decimal so its shortest representation is exactly that decimal (as
/// long as it has at most 15 significant digits).
pub(super) fn decimal_number(mantissa: i128, exponent: i32) -> Option<Value> {
    if mantissa.unsigned_abs() >= 1_000_000_000_000_000 {
        return None;
    }
    let text = if exponent >= 0 {
        let scaled = mantissa.checked_mul(10_i128.checked_pow(exponent.unsigned_abs())?)?;
        return i64::try_from(scaled).ok().map(Value::from);
    } else {
        format!("{mantissa}e{exponent}")
    };
    let n: f64 = text.parse().ok()?;
    Number::from_f64(n).map(Value::Number)
}

/// Numbers in `interval` that are multiples of `step` (if any): integers,
/// decimals with one or two places, arbitrary floats and the bounds.
/// `None` when the interval holds no such number.
pub(super) fn numbers(interval: Interval, step: Option<Decimal>) -> Option<BoxedStrategy<Value>> {
    let (lo, hi) = interval.closed()?;
    if let Some(step) = step {
        return multiples_of_decimal(interval, lo, hi, step);
    }
    let mut parts: Vec<(u32, BoxedStrategy<Value>)> = Vec::new();
    let (i_lo, i_hi) = (lo.ceil(), hi.floor());
    if i_lo <= i_hi && i_lo >= -9e15 && i_hi <= 9e15 {
        // Exact: the bounds are integral and within 2^53.
        if let Some(ints) = integers(i_lo as i128, i_hi as i128, 1) {
            parts.push((3, ints));
        }
    }
    for places in [1_i32, 2] {
        let scale = 10_f64.powi(places);
        let (k_lo, k_hi) = ((lo * scale).ceil(), (hi * scale).floor());
        if k_lo <= k_hi && k_lo >= -9e14 && k_hi <= 9e14 {
            let strategy = multiples(k_lo as i128, k_hi as i128)
                .prop_filter_map("decimal outside the interval", move |k| {
                    decimal_number(k, -places)
                })
                .boxed();
            parts.push((2, strategy));
        }
    }
    parts.push((
        2,
        (lo..=hi)
            .prop_filter_map("not finite", Number::from_f64)
            .prop_map(Value::Number)
            .boxed(),
    ));
    let edges: Vec<Value> = [lo, hi]
        .into_iter()
        .filter_map(Number::from_f64)
        .map(Value::Number)
        .collect();
    parts.push((1, proptest::sample::select(edges).boxed()));
    Some(
        pick(parts)
            .prop_filter("number outside its bounds", move |v| {
                v.as_f64().is_some_and(|x| interval.contains(x))
            })
            .boxed(),
    )
}

fn multiples_of_decimal(
    interval: Interval,
    lo: f64,
    hi: f64,
    step: Decimal,
) -> Option<BoxedStrategy<Value>> {
    let step_value = (step.mantissa as f64) * 10_f64.powi(step.exponent);
    if step_value <= 0.0 || !step_value.is_finite() {
        return None;
    }
    let (k_lo, k_hi) = ((lo / step_value).ceil(), (hi / step_value).floor());
    // The multiple k × mantissa must stay exact in a decimal of 15 digits.
    let limit = 1e15 / (step.mantissa as f64);
    let (k_lo, k_hi) = (k_lo.max(-limit), k_hi.min(limit));
    if k_lo > k_hi {
        return None;
    }
    let mantissa = step.mantissa;
    let exponent = step.exponent;
    Some(
        multiples(k_lo as i128, k_hi as i128)
            .prop_filter_map("multiple outside its bounds", move |k| {
                let value = decimal_number(k.checked_mul(mantissa)?, exponent)?;
                value
                    .as_f64()
                    .is_some_and(|x| interval.contains(x))
                    .then_some(value)
            })
            .boxed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::json;

    fn sample(strategy: &BoxedStrategy<Value>, n: usize) -> Vec<Value> {
        let mut runner = TestRunner::deterministic();
        (0..n)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect()
    }

    fn number(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn decimals_are_read_exactly() {
        let check = |text: &str, mantissa: i128, exponent: i32| {
            assert_eq!(
                Decimal::parse(&number(text)),
                Some(Decimal { mantissa, exponent }),
                "{text}"
            );
        };
        check("12", 12, 0);
        check("1200", 12, 2);
        check("0.01", 1, -2);
        check("-2.50", -25, -1);
        check("1e-8", 1, -8);
        check("2.5E+3", 25, 2);
    }

    #[test]
    fn integer_steps_follow_the_divisors() {
        let step = |ds: &[&str]| integer_step(&ds.iter().map(|d| number(d)).collect::<Vec<_>>());
        assert_eq!(step(&["2", "3"]), Some(6));
        assert_eq!(step(&["1.5"]), Some(3));
        assert_eq!(step(&["0.0001"]), Some(1));
        assert_eq!(step(&["0"]), None);
        let decimal = |ds: &[&str]| decimal_step(&ds.iter().map(|d| number(d)).collect::<Vec<_>>());
        assert_eq!(
            decimal(&["0.01"]),
            Some(Decimal {
                mantissa: 1,
                exponent: -2
            })
        );
        assert_eq!(
            decimal(&["0.5", "0.2"]),
            Some(Decimal {
                mantissa: 1,
                exponent: 0
            })
        );
        assert_eq!(
            decimal(&["0.3", "2"]),
            Some(Decimal {
                mantissa: 6,
                exponent: 0
            })
        );
    }

    #[test]
    fn integers_stay_in_bounds_on_their_step() {
        let strategy = integers(-7, 1_000_000_000_000, 5).unwrap();
        for v in sample(&strategy, 500) {
            let n = v.as_i64().unwrap();
            assert!((-7..=1_000_000_000_000).contains(&n) && n % 5 == 0, "{v}");
        }
        assert!(integers(1, 4, 5).is_none());
        assert_eq!(sample(&integers(3, 3, 1).unwrap(), 3), vec![json!(3); 3]);
    }

    #[test]
    fn integers_shrink_within_bounds_toward_the_member_nearest_zero() {
        let mut runner = TestRunner::deterministic();
        for (lo, hi, target) in [(-50, 1_000_000, 0), (7, 99, 7), (-99, -7, -7)] {
            for _ in 0..100 {
                let mut tree = multiples(lo, hi).new_tree(&mut runner).unwrap();
                while tree.simplify() {
                    assert!((lo..=hi).contains(&tree.current()));
                }
                assert_eq!(tree.current(), target);
            }
        }
        // A failing test needing at least 40 shrinks to exactly 40.
        let mut tree = Towards {
            lo: 0,
            curr: 1000,
            hi: 1000,
        };
        while if tree.current() >= 40 {
            tree.simplify()
        } else {
            tree.complicate()
        } {}
        assert_eq!(tree.current(), 40);
    }

    #[test]
    fn maybe_shrinks_to_none_first() {
        let mut runner = TestRunner::deterministic();
        let strategy = maybe(1.0, Just(5).boxed());
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        assert_eq!(tree.current(), Some(5));
        assert!(tree.simplify());
        assert_eq!(tree.current(), None);
        assert!(tree.complicate());
        assert_eq!(tree.current(), Some(5));
        assert!(maybe(0.0, Just(5).boxed())
            .new_tree(&mut runner)
            .unwrap()
            .current()
            .is_none());
    }

    #[test]
    fn numbers_stay_in_open_and_closed_bounds() {
        let interval = Interval {
            lo: Some(Bound {
                value: 0.0,
                exclusive: true,
            }),
            hi: Some(Bound {
                value: 10_000.0,
                exclusive: false,
            }),
        };
        let values = sample(&numbers(interval, None).unwrap(), 1000);
        assert!(values
            .iter()
            .all(|v| v.as_f64().is_some_and(|x| x > 0.0 && x <= 10_000.0)));
        assert!(values.iter().any(|v| v.is_i64()) && values.iter().any(|v| v.is_f64()));
        let money = numbers(
            interval,
            Some(Decimal {
                mantissa: 1,
                exponent: -2,
            }),
        )
        .unwrap();
        for v in sample(&money, 500) {
            let x = v.as_f64().unwrap();
            assert!(x > 0.0 && x <= 10_000.0, "{v}");
            let cents = v.to_string().split_once('.').map_or(0, |(_, f)| f.len());
            assert!(cents <= 2, "{v} has more than two decimals");
        }
        let empty = Interval {
            lo: Some(Bound {
                value: 1.0,
                exclusive: true,
            }),
            hi: Some(Bound {
                value: 1.0,
                exclusive: false,
            }),
        };
        assert!(numbers(empty, None).is_none());
    }

    #[test]
    fn text_shrinks_to_its_minimum_length_of_a() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..50 {
            let mut tree = text(2, 9).new_tree(&mut runner).unwrap();
            while tree.simplify() {
                let n = tree.current().chars().count();
                assert!((2..=9).contains(&n));
            }
            assert_eq!(tree.current(), "aa");
        }
        // A failing test that needs a `z` keeps it while the rest shrinks.
        let mut tree = text(0, 20).new_tree(&mut runner).unwrap();
        let mut value = tree.current();
        while !value.contains('z') {
            tree = text(0, 20).new_tree(&mut runner).unwrap();
            value = tree.current();
        }
        let mut steps = 0;
        while steps < 1000
            && if tree.current().contains('z') {
                tree.simplify()
            } else {
                tree.complicate()
            }
        {
            steps += 1;
        }
        assert_eq!(tree.current(), "z");
    }

    #[test]
    fn text_counts_characters() {
        let mut runner = TestRunner::deterministic();
        let strategy = text(2, 5);
        for _ in 0..300 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            assert!((2..=5).contains(&s.chars().count()), "{s:?}");
        }
    }
}
