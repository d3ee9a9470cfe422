//! Id lists as Kiro writes them in links: `1.1, 1.2`, ranges `1.1–1.7` or
//! `1.1-1.7`, whole requirements `6`, localised prefixes `需求3`, and words
//! such as `All` or `无` that name no id.

use std::ops::Range;

/// The most ids one range may expand to; a wider range (a typo such as
/// `1.1–1.900000`) keeps only its two ends rather than allocating without bound.
const MAX_RANGE: u64 = 1000;

/// Extracts the ids of a link list, expanding ranges, in order, without
/// duplicates. Words and notes around ids are ignored.
///
/// ```
/// use kiro_core::format::parse_id_list;
///
/// assert_eq!(parse_id_list("1.1–1.3, 2"), ["1.1", "1.2", "1.3", "2"]);
/// assert_eq!(parse_id_list("需求2-6, 需求12"), ["2.6", "12"]); // criterion 2.6
/// assert_eq!(parse_id_list("1-3"), ["1", "2", "3"]);
/// assert_eq!(parse_id_list("All"), Vec::<String>::new());
/// ```
pub fn parse_id_list(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    parse_id_list_into(text, &mut out);
    out
}

/// [`parse_id_list`] appending to `out`: duplicates are skipped among the ids
/// this call appends (ids already in `out` before the call are not looked
/// at), so the appended ids equal what [`parse_id_list`] returns.
///
/// The ids are appended as any string-like `T`: the parsers append the
/// model's id types directly, which store short ids inline, so that reading
/// a link allocates nothing per id.
///
/// The text is read byte by byte rather than collected into characters, and
/// an id is only copied once it is known to be kept, because this runs for
/// every link line of every parsed document.
pub(crate) fn parse_id_list_into<T>(text: &str, out: &mut Vec<T>)
where
    T: AsRef<str> + for<'s> From<&'s str>,
{
    let bytes = text.as_bytes();
    let first = out.len();
    // Ids built rather than sliced (range members, `需求2-6`) are written
    // here first; it allocates only if one is built.
    let mut scratch = String::new();
    let mut i = 0;
    // Byte range of the id that opened a range (`1.1` of `1.1–1.7`).
    let mut pending_range_start: Option<Range<usize>> = None;
    while let Some(&b) = bytes.get(i) {
        if !b.is_ascii_digit() {
            // Non-ASCII characters are skipped a byte at a time: none of their
            // bytes is an ASCII digit, so every digit found is a char boundary.
            i += 1;
            continue;
        }
        // An id is digits separated by single dots: 1, 1.2, 1.2.3.
        // Digits glued to letters (`v2`, `P0`, `3x`) are not ids.
        let start = i;
        let glued_before = start > 0
            && bytes
                .get(start - 1)
                .is_some_and(|p| p.is_ascii_alphabetic() || *p == b'_');
        let mut lettered = false;
        while let Some(&c) = bytes.get(i) {
            let dot_then_digit = c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            // A requirement number may carry one capital letter (`16A`,
            // `27B.3`: a requirement inserted later), when a dot or a
            // non-word character follows it.
            let letter = !lettered
                && c.is_ascii_uppercase()
                && bytes.get(start..i).is_some_and(|d| !d.contains(&b'.'))
                && bytes
                    .get(i + 1)
                    .is_none_or(|n| *n == b'.' || !(n.is_ascii_alphanumeric() || *n == b'_'));
            if c.is_ascii_digit() || dot_then_digit {
                i += 1;
            } else if letter {
                lettered = true;
                i += 1;
            } else {
                break;
            }
        }
        let glued_after = bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
        if glued_before || glued_after {
            pending_range_start = None;
            continue;
        }
        let id = text.get(start..i).unwrap_or("");
        // Chinese specs write criterion 2.6 as `需求2-6`: a dotless number
        // glued to a non-ASCII prefix, a bare hyphen, and another dotless
        // number. Read that as one criterion id, not a range.
        let prefixed = text
            .get(..start)
            .and_then(|before| before.chars().next_back())
            .is_some_and(|c| !c.is_ascii() && !c.is_whitespace());
        if prefixed
            && !id.contains('.')
            && bytes.get(i) == Some(&b'-')
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            let mut k = i + 1;
            while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            let glued = bytes
                .get(k)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'_');
            if !glued {
                let minor = text.get(i + 1..k).unwrap_or("");
                scratch.clear();
                scratch.push_str(id);
                scratch.push('.');
                scratch.push_str(minor);
                push_unique(out, first, &scratch);
                pending_range_start = None;
                i = k;
                continue;
            }
        }
        if let Some(range) = pending_range_start.take() {
            let opened = text.get(range).unwrap_or("");
            expand_range(opened, id, out, first, &mut scratch);
        } else {
            push_unique(out, first, id);
        }
        // A dash right after (spaces allowed) opens a range.
        let mut j = i;
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        let rest = text.get(j..).unwrap_or("");
        let Some(dash) = rest.chars().next() else {
            continue;
        };
        if !matches!(dash, '-' | '–' | '—' | '~' | '～') {
            continue;
        }
        let mut k = j + dash.len_utf8();
        while bytes.get(k) == Some(&b' ') {
            k += 1;
        }
        // Allow a repeated localised prefix: `需求1-需求3`.
        let prefix_len = text
            .get(k..)
            .unwrap_or("")
            .chars()
            .take_while(|c| !c.is_ascii() && !c.is_whitespace())
            .map(char::len_utf8)
            .sum::<usize>();
        k += prefix_len;
        if bytes.get(k).is_some_and(u8::is_ascii_digit) {
            pending_range_start = Some(start..i);
            i = k;
        }
    }
}

/// `true` when `id` is among the ids appended since index `first`.
fn already<T: AsRef<str>>(out: &[T], first: usize, id: &str) -> bool {
    // Neighbouring ids (`1.1, 1.2`) mostly differ in their last byte, which
    // is compared first so that most checks end without a `memcmp` call.
    let last = id.as_bytes().last();
    out.get(first..).unwrap_or(&[]).iter().any(|o| {
        let o = o.as_ref();
        o.as_bytes().last() == last && o == id
    })
}

fn push_unique<T>(out: &mut Vec<T>, first: usize, id: &str)
where
    T: AsRef<str> + for<'s> From<&'s str>,
{
    if !already(out, first, id) {
        out.push(T::from(id));
    }
}

/// Expands `1.1`..`1.7` (same prefix) or `1`..`3` into `out`. The start id
/// is already in the output; this appends the rest.
fn expand_range<T>(first_id: &str, last: &str, out: &mut Vec<T>, first: usize, id: &mut String)
where
    T: AsRef<str> + for<'s> From<&'s str>,
{
    let (fp, fl) = split_last(first_id);
    let (lp, ll) = split_last(last);
    match (fl.parse::<u64>(), ll.parse::<u64>()) {
        (Ok(a), Ok(b)) if fp == lp && b > a && b - a <= MAX_RANGE => {
            for n in (a + 1)..=b {
                id.clear();
                if let Some(p) = fp {
                    id.push_str(p);
                    id.push('.');
                }
                push_decimal(id, n);
                push_unique(out, first, id);
            }
        }
        _ => push_unique(out, first, last),
    }
}

/// Appends `n` in decimal; written out because `to_string` would allocate a
/// second string for every id of a range.
fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (rest % 10) as u8;
        }
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for d in digits.get(..len).unwrap_or(&[]).iter().rev() {
        out.push(char::from(*d));
    }
}

fn split_last(id: &str) -> (Option<&str>, &str) {
    match id.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, id),
    }
}

/// `true` when `text` is exactly what [`format_id_list`] writes for `ids`,
/// compared piece by piece so that no string is built.
pub(crate) fn is_formatted_id_list<S: AsRef<str>>(text: &str, ids: &[S]) -> bool {
    let mut rest = text;
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            let Some(r) = rest.strip_prefix(", ") else {
                return false;
            };
            rest = r;
        }
        let Some(r) = rest.strip_prefix(id.as_ref()) else {
            return false;
        };
        rest = r;
    }
    rest.is_empty()
}

/// Writes ids the canonical way: `1.1, 1.2, 2`.
///
/// ```
/// assert_eq!(kiro_core::format::format_id_list(["1.1", "2"]), "1.1, 2");
/// ```
pub fn format_id_list<I, S>(ids: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(id.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_formatted_id_list, parse_id_list, parse_id_list_into, MAX_RANGE};

    /// The char-by-char reading `parse_id_list` replaced, kept as the
    /// reference the byte-wise reading must agree with.
    fn reference(text: &str) -> Vec<String> {
        fn push_unique(out: &mut Vec<String>, id: String) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        fn split_last(id: &str) -> (Option<&str>, &str) {
            match id.rsplit_once('.') {
                Some((p, l)) => (Some(p), l),
                None => (None, id),
            }
        }
        fn expand_range(first: &str, last: &str) -> Vec<String> {
            let (fp, fl) = split_last(first);
            let (lp, ll) = split_last(last);
            match (fl.parse::<u64>(), ll.parse::<u64>()) {
                (Ok(a), Ok(b)) if fp == lp && b > a && b - a <= MAX_RANGE => ((a + 1)..=b)
                    .map(|n| match fp {
                        Some(p) => format!("{p}.{n}"),
                        None => n.to_string(),
                    })
                    .collect(),
                _ => vec![last.to_owned()],
            }
        }
        let chars: Vec<char> = text.chars().collect();
        let mut out: Vec<String> = Vec::new();
        let mut i = 0;
        let mut pending: Option<String> = None;
        while i < chars.len() {
            let c = chars[i];
            if !c.is_ascii_digit() {
                i += 1;
                continue;
            }
            let glued_before = i > 0 && (chars[i - 1].is_ascii_alphabetic() || chars[i - 1] == '_');
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let glued_after = chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_');
            let id: String = chars[start..i].iter().collect();
            if glued_before || glued_after {
                pending = None;
                continue;
            }
            let prefixed =
                start > 0 && !chars[start - 1].is_ascii() && !chars[start - 1].is_whitespace();
            if prefixed
                && !id.contains('.')
                && chars.get(i) == Some(&'-')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
            {
                let mut k = i + 1;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                let glued = chars
                    .get(k)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_');
                if !glued {
                    let minor: String = chars[i + 1..k].iter().collect();
                    push_unique(&mut out, format!("{id}.{minor}"));
                    pending = None;
                    i = k;
                    continue;
                }
            }
            if let Some(first) = pending.take() {
                for expanded in expand_range(&first, &id) {
                    push_unique(&mut out, expanded);
                }
            } else {
                push_unique(&mut out, id.clone());
            }
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && matches!(chars[j], '-' | '–' | '—' | '~' | '～') {
                let mut k = j + 1;
                while k < chars.len() && chars[k] == ' ' {
                    k += 1;
                }
                while k < chars.len() && !chars[k].is_ascii() && !chars[k].is_whitespace() {
                    k += 1;
                }
                if k < chars.len() && chars[k].is_ascii_digit() {
                    pending = Some(id);
                    i = k;
                }
            }
        }
        out
    }

    #[test]
    fn byte_reading_matches_reference() {
        // Pieces chosen to hit every branch: prefixes, dashes, glued letters,
        // dots, wide spaces and overlong ranges.
        const PIECES: &[&str] = &[
            "1",
            "2",
            "12",
            ".",
            ".3",
            "-",
            "–",
            "—",
            "~",
            "～",
            " ",
            "\u{3000}",
            "需求",
            "v",
            "_",
            "x",
            ",",
            "1.1",
            "1.9",
            "2.3",
            "5",
            "999999999999999999999",
            "1.1–1.900000",
            "All",
            "é",
            "\n",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 9) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            assert_eq!(parse_id_list(&text), reference(&text), "input: {text:?}");
        }
    }

    #[test]
    fn appending_dedupes_only_its_own_ids() {
        let mut out = vec!["1.1".to_owned()];
        parse_id_list_into("1.1, 1.2, 1.1", &mut out);
        assert_eq!(out, ["1.1", "1.1", "1.2"]);
    }

    #[test]
    fn formatted_id_lists() {
        assert!(is_formatted_id_list("1.1, 2", &["1.1", "2"]));
        assert!(is_formatted_id_list("", &[] as &[&str]));
        assert!(!is_formatted_id_list("1.1,2", &["1.1", "2"]));
        assert!(!is_formatted_id_list("1.1, 2, ", &["1.1", "2"]));
        assert!(!is_formatted_id_list("1.1", &["1.1", "2"]));
    }

    fn check(input: &str, expected: &[&str]) {
        assert_eq!(parse_id_list(input), expected, "input: {input:?}");
    }

    #[test]
    fn id_lists() {
        check("1.1, 1.2", &["1.1", "1.2"]);
        check("1.1–1.4", &["1.1", "1.2", "1.3", "1.4"]);
        check("1.1-1.3, 2.1 - 2.2", &["1.1", "1.2", "1.3", "2.1", "2.2"]);
        check("6", &["6"]);
        check("6, 7", &["6", "7"]);
        check("12 (descope record)", &["12"]);
        check("需求3", &["3"]);
        check("需求1-2, 需求12", &["1.2", "12"]);
        check("需求16-3, 需求20-1", &["16.3", "20.1"]);
        check("需求1-需求3", &["1", "2", "3"]);
        check("1-3", &["1", "2", "3"]);
        check("All requirements validation", &[]);
        check("无", &[]);
        check("1.1, 1.1", &["1.1"]);
        check("Property 3 (v2)", &["3"]);
        check("1.1–1.900000", &["1.1", "1.900000"]);
        check("5.3-5.1", &["5.3", "5.1"]);
    }
}
