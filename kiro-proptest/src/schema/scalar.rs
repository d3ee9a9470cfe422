//! Scalars by construction: text, integers as multiples of their divisor
//! inside their bounds, and numbers (integers, short decimals, arbitrary
//! floats and the bounds themselves).

use std::borrow::Cow;
use std::ops::RangeInclusive;

use proptest::char::CharStrategy;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Number, Value};

/// Characters of generated text: mostly ASCII letters and digits, with
/// punctuation, the characters that break escaping (quotes, backslash,
/// control characters, line separators) and non-ASCII ones mixed in, since
/// those are what finds encoding bugs.
pub(super) fn text_char() -> Union<CharStrategy<'static>> {
    const NO_CHARS: &[char] = &[];
    const NO_RANGES: &[RangeInclusive<char>] = &[];
    const ALNUM: &[RangeInclusive<char>] = &['a'..='z', 'a'..='z', 'A'..='Z', '0'..='9'];
    const PUNCT: &[RangeInclusive<char>] = &[' '..='/', ':'..='@', '['..='`', '{'..='~'];
    const TRICKY: &[RangeInclusive<char>] = &[
        '"'..='"',
        '\\'..='\\',
        '\n'..='\n',
        '\t'..='\t',
        '\u{0}'..='\u{1f}',
        '\u{7f}'..='\u{7f}',
        '\u{2028}'..='\u{2029}',
    ];
    const WIDE: &[RangeInclusive<char>] = &[
        '\u{a0}'..='\u{ff}',
        '\u{100}'..='\u{17f}',
        '\u{391}'..='\u{3c9}',
        '\u{4e00}'..='\u{4eff}',
        '\u{1f600}'..='\u{1f64f}',
    ];
    let class = |ranges: &'static [RangeInclusive<char>]| {
        CharStrategy::new(
            Cow::Borrowed(NO_CHARS),
            Cow::Borrowed(NO_RANGES),
            Cow::Borrowed(ranges),
        )
    };
    Union::new_weighted(vec![
        (80, class(ALNUM)),
        (8, class(PUNCT)),
        (4, class(TRICKY)),
        (8, class(WIDE)),
    ])
}

/// Text of `min..=max` characters (Unicode scalar values, which is what
/// `minLength`/`maxLength` count).
pub(super) fn text(min: usize, max: usize) -> BoxedStrategy<String> {
    vec(text_char(), min..=max.max(min))
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .boxed()
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

/// Integers `k × step` for `k` in `lo..=hi`, mostly small, sometimes from
/// the whole range, sometimes exactly at a bound.
pub(super) fn multiples(lo: i128, hi: i128) -> BoxedStrategy<i128> {
    let near = |centre: i128| {
        (
            centre.saturating_sub(100).max(lo),
            centre.saturating_add(100).min(hi),
        )
    };
    let (small_lo, small_hi) = if lo <= 0 && hi >= 0 {
        near(0)
    } else if lo > 0 {
        near(lo)
    } else {
        near(hi)
    };
    let full_lo = lo.max(i128::from(i64::MIN));
    let full_hi = hi.min(i128::from(i64::MAX));
    prop_oneof![
        6 => small_lo..=small_hi,
        2 => full_lo..=full_hi,
        1 => Just(lo),
        1 => Just(hi),
    ]
    .boxed()
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
        Union::new_weighted(parts)
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
    fn text_counts_characters() {
        let mut runner = TestRunner::deterministic();
        let strategy = text(2, 5);
        for _ in 0..300 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            assert!((2..=5).contains(&s.chars().count()), "{s:?}");
        }
    }
}
