//! Review comments as the GitHub REST API returns them, and the one shape
//! ingest works on.
//!
//! Two endpoints give review feedback for a pull request:
//! `GET /repos/{owner}/{repo}/pulls/{n}/comments` (comments on lines of
//! the diff: `body`, `path`, `line`/`original_line`, `user.login`,
//! `html_url`, `created_at`, `commit_id`, `pull_request_url`) and
//! `GET /repos/{owner}/{repo}/pulls/{n}/reviews` (a review's summary:
//! `body`, `user.login`, `html_url`, `submitted_at`, `state`, `commit_id`).
//! [`parse_github`] reads either (a JSON array, one object, or several
//! arrays concatenated as saved page by page), tells them apart per item by
//! their fields, and returns [`ReviewComment`]s plus a diagnostic for every
//! item it had to skip. Fields it does not use are ignored, so a newer API
//! version with more fields still parses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::MemoryError;
use crate::Result;

/// One piece of review feedback, whatever it came from: a line comment, a
/// review's summary, or a note.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewComment {
    /// GitHub's id for it, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The markdown text.
    pub body: String,
    /// The file it comments on, relative to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The line it comments on (`line`, else `original_line`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Who wrote it (`user.login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Where a reader finds it (`html_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was written, unix ms (`created_at` or `submitted_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// The commit it was written on (`commit_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The pull request's number (from `pull_request_url` or `html_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// A review's state (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_state: Option<String>,
}

impl ReviewComment {
    /// A comment with only a body (a note).
    pub fn new(body: impl Into<String>) -> ReviewComment {
        ReviewComment {
            body: body.into(),
            ..ReviewComment::default()
        }
    }
}

/// The comments read from a GitHub JSON document, and what was skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The comments and review summaries, in document order.
    pub comments: Vec<ReviewComment>,
    /// One line per skipped item: its index and why.
    pub diagnostics: Vec<String>,
}

/// A review comment as the API returns it (the fields ingest uses).
#[derive(Deserialize)]
struct ApiComment {
    id: Option<u64>,
    body: Option<String>,
    path: Option<String>,
    line: Option<u64>,
    original_line: Option<u64>,
    user: Option<ApiUser>,
    html_url: Option<String>,
    created_at: Option<String>,
    submitted_at: Option<String>,
    commit_id: Option<String>,
    pull_request_url: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct ApiUser {
    login: Option<String>,
}

/// Reads review comments and reviews from GitHub's JSON (see the
/// [module](self)). `source` names the input in errors.
///
/// Fails only when the text is not JSON at all; items that are not
/// objects or have no body become diagnostics.
pub fn parse_github(source: &str, json: &str) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut index = 0usize;
    // Saved pages are often concatenated (`gh api --paginate` writes one
    // array per page), so the input is a stream of JSON values.
    let stream = serde_json::Deserializer::from_str(json).into_iter::<Value>();
    for value in stream {
        let value = value.map_err(|e| MemoryError::Parse {
            source_name: source.to_owned(),
            line: e.line(),
            column: e.column(),
            expected: "GitHub review comments or reviews as JSON (an array of objects)",
            message: e.to_string(),
        })?;
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            match comment_from_value(item) {
                Ok(Some(comment)) => parsed.comments.push(comment),
                Ok(None) => {}
                Err(why) => parsed
                    .diagnostics
                    .push(format!("{source}: item {index}: {why}")),
            }
            index += 1;
        }
    }
    Ok(parsed)
}

/// One item: `Ok(None)` for a review without a body (an approval with no
/// text has nothing to learn from).
fn comment_from_value(item: Value) -> std::result::Result<Option<ReviewComment>, String> {
    if !item.is_object() {
        return Err("not an object, expected a review comment or a review".to_owned());
    }
    let api: ApiComment =
        serde_json::from_value(item).map_err(|e| format!("unexpected field type: {e}"))?;
    let body = match api.body {
        Some(body) if !body.trim().is_empty() => body,
        _ if api.state.is_some() => return Ok(None),
        _ => return Err("no `body`, expected a review comment or a review".to_owned()),
    };
    let time = api.created_at.or(api.submitted_at);
    let created_at = match time.as_deref() {
        Some(t) => Some(
            parse_rfc3339_ms(t)
                .ok_or_else(|| format!("`created_at` {t:?} is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    let pull_request = api
        .pull_request_url
        .as_deref()
        .and_then(pull_number)
        .or_else(|| api.html_url.as_deref().and_then(pull_number));
    Ok(Some(ReviewComment {
        id: api.id,
        body,
        path: api.path.filter(|p| !p.is_empty()),
        line: api
            .line
            .or(api.original_line)
            .and_then(|l| u32::try_from(l).ok()),
        author: api.user.and_then(|u| u.login),
        url: api.html_url,
        created_at,
        commit: api.commit_id,
        pull_request,
        review_state: api.state,
    }))
}

/// The number after `/pulls/` or `/pull/` in a URL.
fn pull_number(url: &str) -> Option<u64> {
    let (_, rest) = url
        .split_once("/pulls/")
        .or_else(|| url.split_once("/pull/"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Unix milliseconds of an RFC 3339 time (`2024-03-05T14:07:09Z`,
/// fractions and `+hh:mm` offsets accepted).
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_minutes) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':')?;
        let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
        (clock, sign * minutes)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms_parts = hms.splitn(3, ':');
    let hour: i64 = hms_parts.next()?.parse().ok()?;
    let minute: i64 = hms_parts.next()?.parse().ok()?;
    let second: i64 = hms_parts.next()?.parse().ok()?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let millis: i64 = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
        digits.parse().ok()?
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
