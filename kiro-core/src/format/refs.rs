//! Id lists as Kiro writes them in links: `1.1, 1.2`, ranges `1.1–1.7` or
//! `1.1-1.7`, whole requirements `6`, localised prefixes `需求3`, and words
//! such as `All` or `无` that name no id.

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
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut pending_range_start: Option<String> = None;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            // An id is digits separated by single dots: 1, 1.2, 1.2.3.
            // Digits glued to letters (`v2`, `P0`, `3x`) are not ids.
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
                pending_range_start = None;
                continue;
            }
            // Chinese specs write criterion 2.6 as `需求2-6`: a dotless number
            // glued to a non-ASCII prefix, a bare hyphen, and another dotless
            // number. Read that as one criterion id, not a range.
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
                    pending_range_start = None;
                    i = k;
                    continue;
                }
            }
            if let Some(first) = pending_range_start.take() {
                for expanded in expand_range(&first, &id) {
                    push_unique(&mut out, expanded);
                }
            } else {
                push_unique(&mut out, id.clone());
            }
            // A dash right after (spaces allowed) opens a range.
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && matches!(chars[j], '-' | '–' | '—' | '~' | '～') {
                let mut k = j + 1;
                while k < chars.len() && chars[k] == ' ' {
                    k += 1;
                }
                // Allow a repeated localised prefix: `需求1-需求3`.
                while k < chars.len() && !chars[k].is_ascii() && !chars[k].is_whitespace() {
                    k += 1;
                }
                if k < chars.len() && chars[k].is_ascii_digit() {
                    pending_range_start = Some(id);
                    i = k;
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

fn push_unique(out: &mut Vec<String>, id: String) {
    if !out.contains(&id) {
        out.push(id);
    }
}

/// Expands `1.1`..`1.7` (same prefix) or `1`..`3`. The start id is already in
/// the output; this yields the rest.
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

fn split_last(id: &str) -> (Option<&str>, &str) {
    match id.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, id),
    }
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
    use super::parse_id_list;

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
