//! Typed audit events: one payload type per [`AuditKind`], so that every
//! producer of a kind writes the same `data` shape and every reader can
//! decode it without guessing.
//!
//! The payloads serialize to exactly the objects kiro wrote before they
//! were typed (same keys, same values), and every field added since has a
//! default, so entries of older logs still decode (see
//! [`Entry::event`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuditKind, Entry, NewEntry};
use crate::checkpoint::{CheckpointRef, FileKey, RollbackReport, RunId};
use crate::stage::{Gate, GateName, OutcomeStatus, Phase};
use crate::verify::{CriterionStatus, VerificationReport};
use crate::workspace::DEFAULT_REPO;

/// What one audit entry records, typed by its kind.
///
/// Turn an event into an entry with [`NewEntry::event`] (or `From`), and an
/// entry back into an event with [`Entry::event`].
///
/// ```
/// use kiro_core::audit::{AuditEvent, AuditKind, NewEntry, PhaseAudit, PhaseResult};
/// use kiro_core::stage::Phase;
///
/// let event = AuditEvent::Phase(PhaseAudit {
///     phase: Phase::Design,
///     result: PhaseResult::Written,
///     error: None,
/// });
/// let entry = NewEntry::event(event).with_spec("login");
/// assert_eq!(entry.kind, AuditKind::Phase);
/// assert_eq!(entry.data, serde_json::json!({ "phase": "design", "result": "written" }));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AuditEvent {
    /// A gate was approved ([`AuditKind::Approval`]).
    Approval(GateAudit),
    /// A gate was rejected ([`AuditKind::Rejection`]).
    Rejection(GateAudit),
    /// A pipeline phase reused, wrote or failed to write its document
    /// ([`AuditKind::Phase`]).
    Phase(PhaseAudit),
    /// One task ended ([`AuditKind::Task`]).
    Task(TaskAudit),
    /// Workspace files were rolled back to a checkpoint
    /// ([`AuditKind::Rollback`]).
    Rollback(RollbackAudit),
    /// A run was forked from a checkpoint ([`AuditKind::Fork`]).
    Fork(ForkAudit),
    /// A verification verdict, from a pipeline run's verify phase or from
    /// `kiro verify` ([`AuditKind::Verification`]).
    Verification(VerificationAudit),
    /// A governed gate was signed off ([`AuditKind::PolicyApproval`]).
    PolicyApproval(ApprovalAudit),
    /// A sign-off was refused by the policy ([`AuditKind::PolicyRefusal`]).
    PolicyRefusal(RefusalAudit),
    /// A kind kiro does not know ([`AuditKind::Other`]), with its data as
    /// written.
    Other {
        /// The kind's name.
        kind: String,
        /// The entry's data.
        data: Value,
    },
}

impl AuditEvent {
    /// The kind an entry of this event has.
    pub fn kind(&self) -> AuditKind {
        match self {
            AuditEvent::Approval(_) => AuditKind::Approval,
            AuditEvent::Rejection(_) => AuditKind::Rejection,
            AuditEvent::Phase(_) => AuditKind::Phase,
            AuditEvent::Task(_) => AuditKind::Task,
            AuditEvent::Rollback(_) => AuditKind::Rollback,
            AuditEvent::Fork(_) => AuditKind::Fork,
            AuditEvent::Verification(_) => AuditKind::Verification,
            AuditEvent::PolicyApproval(_) => AuditKind::PolicyApproval,
            AuditEvent::PolicyRefusal(_) => AuditKind::PolicyRefusal,
            AuditEvent::Other { kind, .. } => AuditKind::from(kind.as_str()),
        }
    }

    /// The entry's `data` object.
    pub fn data(&self) -> Value {
        // The payloads are plain structs with string keys, which serde_json
        // always serializes; `Null` is unreachable, not a silent fallback.
        let value = match self {
            AuditEvent::Approval(p) | AuditEvent::Rejection(p) => serde_json::to_value(p),
            AuditEvent::Phase(p) => serde_json::to_value(p),
            AuditEvent::Task(p) => serde_json::to_value(p),
            AuditEvent::Rollback(p) => serde_json::to_value(p),
            AuditEvent::Fork(p) => serde_json::to_value(p),
            AuditEvent::Verification(p) => serde_json::to_value(p),
            AuditEvent::PolicyApproval(p) => serde_json::to_value(p),
            AuditEvent::PolicyRefusal(p) => serde_json::to_value(p),
            AuditEvent::Other { data, .. } => Ok(data.clone()),
        };
        value.unwrap_or_default()
    }

    /// Decodes the `data` of an entry of `kind`; an error names what does
    /// not have the kind's shape.
    pub fn decode(kind: &AuditKind, data: &Value) -> Result<AuditEvent, serde_json::Error> {
        let data = data.clone();
        Ok(match kind {
            AuditKind::Approval => AuditEvent::Approval(serde_json::from_value(data)?),
            AuditKind::Rejection => AuditEvent::Rejection(serde_json::from_value(data)?),
            AuditKind::Phase => AuditEvent::Phase(serde_json::from_value(data)?),
            AuditKind::Task => AuditEvent::Task(serde_json::from_value(data)?),
            AuditKind::Rollback => AuditEvent::Rollback(serde_json::from_value(data)?),
            AuditKind::Fork => AuditEvent::Fork(serde_json::from_value(data)?),
            AuditKind::Verification => {
                let mut v: VerificationAudit = serde_json::from_value(data)?;
                // Entries of a pipeline's verify phase written before the
                // payload was unified have no `criteria`: every criterion
                // has exactly one verdict, so the sum is the count.
                if v.criteria == 0 {
                    v.criteria = v.passed + v.failed + v.untested;
                }
                AuditEvent::Verification(v)
            }
            AuditKind::PolicyApproval => AuditEvent::PolicyApproval(serde_json::from_value(data)?),
            AuditKind::PolicyRefusal => AuditEvent::PolicyRefusal(serde_json::from_value(data)?),
            AuditKind::Other(name) => AuditEvent::Other {
                kind: name.clone(),
                data,
            },
        })
    }
}

impl From<AuditEvent> for NewEntry {
    fn from(event: AuditEvent) -> NewEntry {
        NewEntry::event(event)
    }
}

impl NewEntry {
    /// An entry recording `event`: its kind and its data, by the current
    /// actor.
    pub fn event(event: AuditEvent) -> NewEntry {
        NewEntry::new(event.kind()).with_data(event.data())
    }
}

impl Entry {
    /// The typed event this entry records. Fails only when the data of a
    /// known kind does not have that kind's shape (an entry written by
    /// hand or by another program).
    pub fn event(&self) -> Result<AuditEvent, serde_json::Error> {
        AuditEvent::decode(&self.kind, &self.data)
    }
}

/// The data of [`AuditEvent::Approval`] and [`AuditEvent::Rejection`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateAudit {
    /// The gate decided.
    pub gate: Gate,
    /// The approver's reason for a rejection; `null` for an approval.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a phase did with its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseResult {
    /// The document existed and was kept.
    Reused,
    /// The stage wrote the document.
    Written,
    /// The stage failed (see [`PhaseAudit::error`]).
    Failed,
}

/// The data of [`AuditEvent::Phase`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseAudit {
    /// The phase.
    pub phase: Phase,
    /// What it did.
    pub result: PhaseResult,
    /// The stage's error, for a failed phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The data of [`AuditEvent::Task`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskAudit {
    /// The task's id.
    pub task: String,
    /// How it ended.
    pub status: OutcomeStatus,
    /// One line on what happened.
    #[serde(default)]
    pub summary: String,
}

/// The data of [`AuditEvent::Rollback`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackAudit {
    /// The checkpoint rolled back to, `RUN@ID`.
    pub checkpoint: String,
    /// The checkpoint that records the rollback, `RUN@ID`.
    pub new_checkpoint: String,
    /// Files restored, as [`file_label`] writes them.
    #[serde(default)]
    pub written: Vec<String>,
    /// Files removed, as [`file_label`] writes them.
    #[serde(default)]
    pub removed: Vec<String>,
}

impl RollbackAudit {
    /// The record of a rollback to `to` that wrote `new` and changed the
    /// files of `report`.
    pub fn new(to: &CheckpointRef, new: &CheckpointRef, report: &RollbackReport) -> RollbackAudit {
        RollbackAudit {
            checkpoint: to.to_string(),
            new_checkpoint: new.to_string(),
            written: report.written.iter().map(file_label).collect(),
            removed: report.removed.iter().map(file_label).collect(),
        }
    }
}

/// The data of [`AuditEvent::Fork`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForkAudit {
    /// The checkpoint forked from, `RUN@ID`.
    pub from: String,
    /// The new run.
    pub new_run: RunId,
    /// The new run's first checkpoint, `RUN@ID`.
    pub new_checkpoint: String,
    /// Files restored, as [`file_label`] writes them.
    #[serde(default)]
    pub written: Vec<String>,
    /// Files removed, as [`file_label`] writes them.
    #[serde(default)]
    pub removed: Vec<String>,
}

impl ForkAudit {
    /// The record of a fork from `from` whose new run starts at `new`,
    /// having changed the files of `report`.
    pub fn new(from: &CheckpointRef, new: &CheckpointRef, report: &RollbackReport) -> ForkAudit {
        ForkAudit {
            from: from.to_string(),
            new_run: new.run_id.clone(),
            new_checkpoint: new.to_string(),
            written: report.written.iter().map(file_label).collect(),
            removed: report.removed.iter().map(file_label).collect(),
        }
    }
}

/// The data of [`AuditEvent::Verification`]: one shape for the verify
/// phase of a run and for `kiro verify`.
///
/// Entries a pipeline wrote before this shape existed lack `source`,
/// `criteria`, `untested_criteria` and `stale_links`; they decode with
/// `source: None`, `criteria` as the sum of the counts, and the others
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerificationAudit {
    /// Where the verdicts come from: `pipeline` (a run's verify phase),
    /// `run` (`kiro verify` ran the test command), `junit <path>` (an
    /// existing JUnit file), `kiro verify` (the report the last
    /// `kiro verify` stored) or `run <RUN@ID>` (the report of a run's
    /// checkpoint).
    #[serde(default)]
    pub source: Option<String>,
    /// The test command, as one line; empty when none ran.
    #[serde(default)]
    pub command: String,
    /// Its exit code; `null` when none ran or it was killed.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// How many criteria the spec has.
    #[serde(default)]
    pub criteria: usize,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// How many no test covers.
    pub untested: usize,
    /// The failed criteria's ids, in document order.
    #[serde(default)]
    pub failed_criteria: Vec<String>,
    /// The untested criteria's ids, in document order.
    #[serde(default)]
    pub untested_criteria: Vec<String>,
    /// How many test links were stale (the criterion's text changed since
    /// the link was recorded) when the verdict was reached.
    #[serde(default)]
    pub stale_links: usize,
}

impl VerificationAudit {
    /// The record of `report`, its verdicts read from `source` (see
    /// [`VerificationAudit::source`]).
    pub fn from_report(
        report: &VerificationReport,
        source: impl Into<String>,
    ) -> VerificationAudit {
        let (passed, failed, untested) = report.counts();
        let ids = |status: CriterionStatus| {
            report
                .criteria
                .iter()
                .filter(|c| c.status == status)
                .map(|c| c.criterion.to_string())
                .collect()
        };
        VerificationAudit {
            source: Some(source.into()),
            command: report.command.clone(),
            exit_code: report.exit_code,
            criteria: report.criteria.len(),
            passed,
            failed,
            untested,
            failed_criteria: ids(CriterionStatus::Failed),
            untested_criteria: ids(CriterionStatus::Untested),
            stale_links: 0,
        }
    }

    /// The same record, noting `stale` stale links.
    pub fn with_stale_links(mut self, stale: usize) -> VerificationAudit {
        self.stale_links = stale;
        self
    }
}

/// Who signed off (or tried to): the identity claims governance matched
/// against `.kiro/policy.toml`'s members.
///
/// A verified identity comes from an OIDC ID token whose signature,
/// issuer, audience and expiry were checked; `token` keeps the compact JWS
/// so that a verifier can re-check the approval offline against the
/// issuer's keys. A local identity is a claim (`KIRO_ACTOR`, git's
/// `user.email`, the OS user), accepted only where the policy allows
/// unverified approvers. `Debug` never prints the token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityRecord {
    /// The name shown and recorded as the entry's actor (the email when
    /// the token has one, else the subject; the local user's name).
    pub name: String,
    /// Whether an ID token proved it.
    pub verified: bool,
    /// Where it came from: `oidc` for a token; `KIRO_ACTOR`, `git` or
    /// `USER` for a local identity.
    pub source: String,
    /// The token's issuer (`iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The token's subject (`sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The token's `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The token's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The ID token itself (compact JWS), for offline re-verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRecord")
            .field("name", &self.name)
            .field("verified", &self.verified)
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("groups", &self.groups)
            .field("token", &self.token.as_ref().map(|_| "[token]"))
            .finish()
    }
}

/// The data of [`AuditEvent::PolicyApproval`]: a sign-off of one gate of
/// one spec, bound to the document it approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalAudit {
    /// The spec.
    pub spec: String,
    /// The gate.
    pub gate: GateName,
    /// The roles of `.kiro/policy.toml` the identity matched when it
    /// approved.
    pub roles: Vec<String>,
    /// The file(s) approved, spec-relative (`tasks.md`).
    pub files: Vec<String>,
    /// SHA-256 (hex) of the approved document: an edit afterwards
    /// invalidates the approval (task marks in `tasks.md` do not count).
    pub document: String,
    /// Who approved.
    pub identity: IdentityRecord,
    /// The checkpoint task the approval is limited to; `None` for the
    /// whole gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

/// The data of [`AuditEvent::PolicyRefusal`]: a sign-off the policy did
/// not accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefusalAudit {
    /// The spec.
    pub spec: String,
    /// The gate.
    pub gate: GateName,
    /// Who tried.
    pub identity: IdentityRecord,
    /// Why it was refused.
    pub reason: String,
    /// The roles that may approve the gate.
    pub allowed_roles: Vec<String>,
    /// The task asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

/// A file's path as the audit log (and kiro's output) names it: the path
/// alone in the default repository, `repo:path` in another.
pub fn file_label((repo, path): &FileKey) -> String {
    if repo == DEFAULT_REPO {
        path.clone()
    } else {
        format!("{repo}:{path}")
    }
}
