//! Checking the log against evidence kept outside `.kiro/`: heads anchored
//! in git commits ([`verify_against_anchors`]) and the ID tokens that
//! approvals keep ([`reverify_approvals`]).
//!
//! A log rewritten wholesale (every line re-hashed, the heads files
//! rewritten too) still verifies on its own. A head copied into a commit
//! message of the branch a run works on (the `Kiro-Audit-Head: <seq>:<hash>`
//! trailer of every per-task commit) is out of reach of someone who can
//! only write `.kiro/`, and an approval's ID token is signed by the
//! identity provider: neither can be forged to match a rewritten log.

use serde::{Deserialize, Serialize};

use super::{
    verify_inner, AuditEvent, AuditHead, AuditKind, AuditLog, AuditProblem, AuditReport,
    BrokenEntry,
};
use crate::error::Result;
use crate::identity::OidcVerifier;

/// The commit trailer that anchors the audit log's head.
pub const AUDIT_HEAD_TRAILER: &str = "Kiro-Audit-Head";

/// A head of the log recorded outside it, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// Where the head was found: `<repo>@<commit>` for a commit trailer.
    pub source: String,
    /// The head.
    pub head: AuditHead,
}

impl Anchor {
    /// Reads a `Kiro-Audit-Head` value, `<seq>:<line_hash>` (decimal
    /// sequence number, 64 lower-case hex digits); `None` when it is not
    /// one.
    pub fn parse(source: impl Into<String>, value: &str) -> Option<Anchor> {
        let (seq, hash) = value.trim().split_once(':')?;
        let seq = seq.parse().ok()?;
        let hex = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        hex.then(|| Anchor {
            source: source.into(),
            head: AuditHead {
                seq,
                line_hash: hash.to_owned(),
            },
        })
    }
}

/// A `Kiro-Audit-Head` trailer that is not a head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableAnchor {
    /// Where it was found (`<repo>@<commit>`).
    pub source: String,
    /// The trailer's value as found.
    pub value: String,
}

/// The outcome of checking a log against anchors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorReport {
    /// How many anchors the log was checked against.
    pub anchors: usize,
    /// Anchors that could not be read: a forged or damaged trailer is a
    /// finding, not something to skip silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableAnchor>,
    /// The chain's verification, with every anchor as a head it must hold.
    pub report: AuditReport,
    /// The first anchor (by sequence number) the log contradicts: its
    /// entry is missing or differs. `None` when the log holds every anchor,
    /// or when the chain breaks on its own before reaching one.
    pub contradicted: Option<Anchor>,
}

impl AnchorReport {
    /// Whether the log is intact and holds every anchor, all readable.
    pub fn holds(&self) -> bool {
        self.report.is_intact() && self.unreadable.is_empty()
    }
}

/// Checks `log`'s chain ([`super::verify`]) and that it still holds the
/// entry of every anchor unchanged: a log that ends before an anchor's
/// entry is broken with [`AuditProblem::Missing`], a different line in its
/// place with [`AuditProblem::AnchorMismatch`], and
/// [`AnchorReport::contradicted`] names the first such anchor (by sequence
/// number), so the commit that proves the rewrite can be shown. Entries
/// after the last anchor are fine (the log grows after a commit).
///
/// # Errors
/// [`crate::Error::Io`] when the log cannot be read.
pub fn verify_against_anchors(log: &AuditLog, anchors: &[Anchor]) -> Result<AnchorReport> {
    let heads: Vec<AuditHead> = anchors.iter().map(|a| a.head.clone()).collect();
    let report = verify_inner(log.path(), &heads, false)?;
    let contradicted = match report.broken() {
        Some(BrokenEntry {
            line,
            problem: AuditProblem::AnchorMismatch { expected, .. },
            ..
        }) => anchors.iter().find(|a| {
            usize::try_from(a.head.seq).ok() == Some(*line) && a.head.line_hash == *expected
        }),
        Some(BrokenEntry {
            valid_entries,
            problem: AuditProblem::Missing { .. },
            ..
        }) => anchors
            .iter()
            .filter(|a| a.head.seq > *valid_entries)
            .min_by_key(|a| a.head.seq),
        _ => None,
    };
    Ok(AnchorReport {
        anchors: anchors.len(),
        unreadable: Vec::new(),
        report,
        contradicted: contradicted.cloned(),
    })
}

/// The outcome of re-checking the ID tokens of approvals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenReport {
    /// How many token-backed approvals were re-verified.
    pub checked: usize,
    /// Intact, or broken at the first approval whose token no longer
    /// proves the identity it records ([`AuditProblem::IdentityRejected`]),
    /// or at the first line where the chain itself breaks.
    pub report: AuditReport,
}

/// Re-verifies, offline, the ID token of every approval
/// ([`AuditKind::PolicyApproval`]) that keeps one: signature, issuer and
/// audience with `verifier`'s keys, validity at the time the entry records
/// ([`OidcVerifier::reverify`]: an expired token still proves who approved
/// back then), and that the identity the entry records (issuer, subject,
/// email) is the token's. An approval recorded as verified without a
/// token is broken too. The chain is verified first
/// ([`AuditLog::verify`]); a broken chain is reported as is.
///
/// # Errors
/// [`crate::Error::Io`] when the log cannot be read.
pub fn reverify_approvals(log: &AuditLog, verifier: &OidcVerifier) -> Result<TokenReport> {
    let chain = log.verify()?;
    if !chain.is_intact() {
        return Ok(TokenReport {
            checked: 0,
            report: chain,
        });
    }
    let mut checked = 0;
    for entry in log.entries()? {
        if entry.kind != AuditKind::PolicyApproval {
            continue;
        }
        let line = usize::try_from(entry.seq).unwrap_or(usize::MAX);
        let broken = |checked: usize, reason: String| TokenReport {
            checked,
            report: AuditReport::Broken(BrokenEntry {
                line,
                valid_entries: entry.seq.saturating_sub(1),
                problem: AuditProblem::IdentityRejected { reason },
            }),
        };
        let identity = match entry.event() {
            Ok(AuditEvent::PolicyApproval(approval)) => approval.identity,
            Ok(_) => continue,
            Err(e) => return Ok(broken(checked, format!("unreadable approval: {e}"))),
        };
        let Some(token) = &identity.token else {
            if identity.verified {
                return Ok(broken(
                    checked,
                    "recorded as verified but keeps no ID token".to_owned(),
                ));
            }
            continue;
        };
        let Some(at) = unix_seconds(&entry.time) else {
            return Ok(broken(
                checked,
                format!("unreadable entry time {:?}", entry.time),
            ));
        };
        checked += 1;
        let verified = match verifier.reverify(token, at) {
            Ok(v) => v,
            Err(e) => {
                return Ok(broken(
                    checked,
                    format!("the ID token no longer verifies: {e}"),
                ))
            }
        };
        let recorded = [
            (
                "issuer",
                identity.issuer.as_deref(),
                Some(verified.issuer.as_str()),
            ),
            (
                "subject",
                identity.subject.as_deref(),
                Some(verified.subject.as_str()),
            ),
            (
                "email",
                identity.email.as_deref(),
                verified.email.as_deref(),
            ),
        ];
        for (claim, in_entry, in_token) in recorded {
            if in_entry != in_token {
                return Ok(broken(
                    checked,
                    format!(
                        "the entry records {claim} {in_entry:?}, its ID token says {in_token:?}"
                    ),
                ));
            }
        }
    }
    Ok(TokenReport {
        checked,
        report: chain,
    })
}

/// Seconds since the Unix epoch of a time as the log writes it
/// (`2026-11-25T20:15:00.123Z`, UTC, fraction optional).
fn unix_seconds(time: &str) -> Option<u64> {
    let b = time.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = time.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !time.ends_with('Z') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of the checkpoint module's
/// `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_log_times() {
        let check =
            |time: &str, expected: Option<u64>| assert_eq!(unix_seconds(time), expected, "{time}");
        check("1970-01-01T00:00:00.000Z", Some(0));
        check("2026-11-25T20:15:00.123Z", Some(1_795_637_700));
        check("2000-02-29T12:00:00Z", Some(951_825_600));
        check("2026-11-25 20:15:00Z", None);
        check("2026-11-25T20:15:00+01:00", None);
        check("2026-13-25T20:15:00Z", None);
        check("", None);
    }

    #[test]
    fn reads_head_trailers() {
        let hash = "ab".repeat(32);
        let anchor = Anchor::parse("api@c0ffee", &format!("12:{hash}")).unwrap();
        assert_eq!(anchor.head.seq, 12);
        assert_eq!(anchor.source, "api@c0ffee");
        for bad in [
            "12",
            &format!("x:{hash}"),
            &format!("12:{}", "AB".repeat(32)),
            "12:abc",
        ] {
            assert_eq!(Anchor::parse("s", bad), None, "{bad}");
        }
    }
}
