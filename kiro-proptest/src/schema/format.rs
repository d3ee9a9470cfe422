//! `format` values from their grammars (RFC 3339 dates and times, RFC 5321
//! addresses, RFC 1123 host names, IP addresses, URIs, UUIDs, JSON
//! pointers), built from integer choices so shrinking moves toward small
//! numbers and short names while every step stays well-formed.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::scalar::{maybe, pick, text_in, Alphabet};

/// The strategy for a format named in [`super::vocabulary::FORMATS`];
/// `None` for any other name.
pub(super) fn strategy(format: &str) -> Option<BoxedStrategy<String>> {
    Some(match format {
        "date" => date().boxed(),
        "time" => time().boxed(),
        "date-time" => (date(), time())
            .prop_map(|(d, t)| format!("{d}T{t}"))
            .boxed(),
        "duration" => duration(),
        "email" | "idn-email" => (local_part(), hostname(2))
            .prop_map(|(l, h)| format!("{l}@{h}"))
            .boxed(),
        "hostname" | "idn-hostname" => hostname(1),
        "ipv4" => any::<[u8; 4]>()
            .prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"))
            .boxed(),
        "ipv6" => any::<u128>()
            .prop_map(|bits| std::net::Ipv6Addr::from(bits).to_string())
            .boxed(),
        "uri" | "iri" => uri(),
        "uri-reference" | "iri-reference" => pick(vec![(3, uri()), (1, path())]),
        "uri-template" => (uri(), select(&["id", "name", "page"][..]))
            .prop_map(|(u, var)| format!("{u}/{{{var}}}"))
            .boxed(),
        "uuid" => any::<u128>().prop_map(uuid).boxed(),
        "json-pointer" => json_pointer(),
        "relative-json-pointer" => (
            0_u8..10,
            pick(vec![(1, Just("#".to_owned()).boxed()), (1, json_pointer())]),
        )
            .prop_map(|(up, rest)| format!("{up}{rest}"))
            .boxed(),
        "regex" => select(
            &[
                "^[a-z]+$",
                "[0-9]{2,4}",
                "a|b",
                "^\\w+@\\w+$",
                "x*",
                "(ab)+c?",
            ][..],
        )
        .prop_map(str::to_owned)
        .boxed(),
        _ => return None,
    })
}

const LETTERS: Alphabet = &[(1, &['a'..='z'])];
const LETTERS_DIGITS: Alphabet = &[(1, &['a'..='z', '0'..='9'])];
const SEGMENT: Alphabet = &[(1, &['a'..='z', '0'..='9', '-'..='.', '_'..='_'])];

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn date() -> impl Strategy<Value = String> {
    // The day is drawn as a fraction of its month, so every draw (and every
    // shrink toward 0) is a real date.
    (1970_u32..2100, 1_u32..=12, 0_u32..31).prop_map(|(y, m, d)| {
        let day = d % days_in(y, m) + 1;
        format!("{y:04}-{m:02}-{day:02}")
    })
}

fn time() -> impl Strategy<Value = String> {
    // Offsets: `Z` (0), or ±hh:mm with the sign, hour and minute from one
    // number; fractions: none (0) or milliseconds.
    let offset = (
        0_u32..4,
        any::<bool>(),
        0_u32..14,
        select(&[0_u32, 30, 45][..]),
    )
        .prop_map(|(kind, plus, h, m)| {
            if kind < 3 {
                "Z".to_owned()
            } else {
                format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' })
            }
        });
    let fraction = (0_u32..4, 0_u32..1000).prop_map(|(kind, ms)| {
        if kind < 3 {
            String::new()
        } else {
            format!(".{ms:03}")
        }
    });
    (0_u32..24, 0_u32..60, 0_u32..60, fraction, offset)
        .prop_map(|(h, m, s, f, o)| format!("{h:02}:{m:02}:{s:02}{f}{o}"))
}

fn duration() -> BoxedStrategy<String> {
    // RFC 3339 Appendix A: runs of adjacent units (Y, YM, YMD, M, MD, D; the
    // same for H, M, S), or weeks alone.
    const DATE_RUNS: &[&[char]] = &[
        &['Y'],
        &['Y', 'M'],
        &['Y', 'M', 'D'],
        &['M'],
        &['M', 'D'],
        &['D'],
    ];
    const TIME_RUNS: &[&[char]] = &[
        &['H'],
        &['H', 'M'],
        &['H', 'M', 'S'],
        &['M'],
        &['M', 'S'],
        &['S'],
    ];
    let run = |units: &'static [&'static [char]]| {
        (select(units), vec(0_u32..100, 3)).prop_map(|(units, n)| {
            units
                .iter()
                .zip(n)
                .map(|(u, n)| format!("{n}{u}"))
                .collect::<String>()
        })
    };
    pick(vec![
        (2, run(DATE_RUNS).prop_map(|d| format!("P{d}")).boxed()),
        (2, run(TIME_RUNS).prop_map(|t| format!("PT{t}")).boxed()),
        (
            2,
            (run(DATE_RUNS), run(TIME_RUNS))
                .prop_map(|(d, t)| format!("P{d}T{t}"))
                .boxed(),
        ),
        (1, (0_u32..60).prop_map(|w| format!("P{w}W")).boxed()),
    ])
}

/// A host-name label: a letter, then letters and digits with at most one
/// inner hyphen (never `--` in positions 3–4, which would claim punycode).
fn label() -> BoxedStrategy<String> {
    (
        text_in(LETTERS, 1, 1),
        text_in(LETTERS_DIGITS, 0, 6),
        maybe(0.3, text_in(LETTERS_DIGITS, 1, 3)),
    )
        .prop_map(|(mut label, rest, tail)| {
            label.push_str(&rest);
            if let Some(tail) = tail {
                label.push('-');
                label.push_str(&tail);
            }
            label
        })
        .boxed()
}

fn hostname(min_labels: usize) -> BoxedStrategy<String> {
    (
        vec(label(), min_labels.saturating_sub(1)..3),
        select(&["com", "org", "net", "io", "example"][..]),
    )
        .prop_map(|(labels, tld)| {
            let mut host = labels.join(".");
            if !host.is_empty() {
                host.push('.');
            }
            host.push_str(tld);
            host
        })
        .boxed()
}

fn local_part() -> impl Strategy<Value = String> {
    (
        label(),
        maybe(0.3, (select(&['.', '_', '+'][..]), label()).boxed()),
    )
        .prop_map(|(a, b)| match b {
            Some((sep, b)) => format!("{a}{sep}{b}"),
            None => a,
        })
}

fn segment() -> BoxedStrategy<String> {
    text_in(SEGMENT, 1, 7)
}

fn path() -> BoxedStrategy<String> {
    vec(segment(), 0..4)
        .prop_map(|segments| format!("/{}", segments.join("/")))
        .boxed()
}

fn uri() -> BoxedStrategy<String> {
    (
        select(&["https", "http", "urn", "ftp"][..]),
        hostname(1),
        path(),
        maybe(0.3, (segment(), segment()).boxed()),
        maybe(0.3, segment()),
    )
        .prop_map(|(scheme, host, path, query, fragment)| {
            let mut uri = if scheme == "urn" {
                format!("urn:{host}{}", path.replace('/', ":"))
            } else {
                format!("{scheme}://{host}{path}")
            };
            if let Some((k, v)) = query {
                uri.push_str(&format!("?{k}={v}"));
            }
            if let Some(f) = fragment {
                uri.push('#');
                uri.push_str(&f);
            }
            uri
        })
        .boxed()
}

fn uuid(bits: u128) -> String {
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn json_pointer() -> BoxedStrategy<String> {
    // Tokens of letters with the two escapes (`~0` for `~`, `~1` for `/`).
    let token = (text_in(LETTERS, 0, 4), 0_u32..6).prop_map(|(mut token, escape)| {
        match escape {
            0 => token.push_str("~0"),
            1 => token.push_str("~1"),
            _ => {}
        }
        token
    });
    vec(token, 0..4)
        .prop_map(|tokens| tokens.iter().map(|t| format!("/{t}")).collect())
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::{json, Value};

    /// Every value of every format validates with format assertion on, in
    /// both drafts, and so does every value shrinking visits.
    #[test]
    fn formats_validate_and_shrink_valid() {
        for name in super::super::vocabulary::FORMATS {
            let strategy = strategy(name).unwrap_or_else(|| panic!("{name}: no strategy"));
            for schema in [
                json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "format": name}),
                json!({"$schema": "http://json-schema.org/draft-07/schema#", "format": name}),
            ] {
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap();
                let mut runner = TestRunner::deterministic();
                for _ in 0..300 {
                    let mut tree = strategy.new_tree(&mut runner).unwrap();
                    let value = Value::String(tree.current());
                    assert!(validator.is_valid(&value), "{name}: {value}");
                    for _ in 0..20 {
                        if !tree.simplify() {
                            break;
                        }
                        let step = Value::String(tree.current());
                        assert!(validator.is_valid(&step), "{name}: shrink step {step}");
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_formats_have_no_strategy() {
        assert!(strategy("phone").is_none());
    }
}
