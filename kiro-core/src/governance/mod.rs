//! Governance: who may approve which gate, which paths need an extra
//! approval, which checks a task must pass before `[x]`, and how much a run
//! may spend, as `.kiro/policy.toml` says ([`PolicyFile`]).
//!
//! Without `policy.toml` nothing here applies and gates are decided as
//! before. With it, [`Governance`] is the one place that decides:
//!
//! - **Approvals** ([`Governance::approve`]) are audit-log entries
//!   ([`ApprovalAudit`]) binding a gate of a spec to the SHA-256 of the
//!   document it approves (`requirements.md` — or `bugfix.md` — for
//!   `requirements`, `design.md` for `design`, `tasks.md` for `tasks`,
//!   `execution` and, until the run's branches exist, `merge`). Task marks
//!   (`[ ]`, `[-]`, `[x]`) are left out of the `tasks.md` hash, so the
//!   engine's own marks never invalidate an approval; any other edit does.
//!   An identity must be a member of a role the gate lists (for `execution`,
//!   also a role of a `[[protected]]` rule); refusals are audited too
//!   ([`RefusalAudit`]) and returned as [`Error::ApprovalRefused`].
//! - **Gates** ([`PolicyApprover`], installed by
//!   [`PipelineBuilder::governance`](crate::pipeline::PipelineBuilder::governance)):
//!   a listed gate passes only with a valid approval, whatever approver the
//!   caller configured (so `kiro run --yes` cannot bypass it); `execution`
//!   is checked at the tasks gate and at every checkpoint task. A gate
//!   `[gates]` does not list is decided by the caller's approver.
//! - **Protected paths** ([`ProtectedGuard`]): after a task, a change to a
//!   path a `[[protected]]` rule matches needs a valid `execution`
//!   approval by one of the rule's roles; without it the change is
//!   reverted and the task fails, as for a change outside the writable
//!   globs.
//! - **Required checks** ([`Governance::run_checks`]) before a task is
//!   marked `[x]`, and **usage limits** ([`Governance::check_limits`])
//!   after every node.
//!
//! Membership: a verified identity (an ID token) matches a bare email
//! member by its `email` claim, `sub:<subject>` by its subject and
//! `group:<name>` by its groups. A local identity (`KIRO_ACTOR`, git's
//! `user.email`, the OS user) matches only when `[identity]
//! allow_unverified = true`, and then only `user:<name>` or a bare email
//! equal to its name. Membership is checked again whenever an approval is
//! used: removing someone from a role withdraws their approvals.

mod approver;
mod checks;
mod policy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, ActorSource, AuditEvent, AuditKind, AuditLog, NewEntry};
pub use crate::audit::{ApprovalAudit, IdentityRecord, RefusalAudit};
use crate::error::{Error, Result};
use crate::identity::{Identity, IdentityError, Jwks, OidcConfig, OidcVerifier};
use crate::store::DocKind;
use crate::workspace::sha256_hex;
pub use approver::PolicyApprover;
pub use checks::{LimitExceeded, ProtectedGuard};
pub use policy::{
    GateName, IdentityPolicy, PolicyFile, ProtectedRule, RepoPolicy, RequiredCheck, UsageLimits,
    POLICY_PATH,
};

impl IdentityRecord {
    /// The record of a local (unverified) actor: `KIRO_ACTOR`, git's
    /// `user.email` or the OS user.
    pub fn local(actor: &Actor) -> IdentityRecord {
        let source = match &actor.source {
            ActorSource::Env(var) => var.clone(),
            ActorSource::GitConfig => "git".to_owned(),
            ActorSource::OsUser => "USER".to_owned(),
            other => other.to_string(),
        };
        IdentityRecord {
            name: actor.name.clone(),
            verified: false,
            source,
            ..IdentityRecord::default()
        }
    }

    /// The record of an identity: a verified one keeps its claims and its
    /// token (for offline re-verification), a local one its user and
    /// source.
    pub fn of(identity: &Identity) -> IdentityRecord {
        match identity {
            Identity::Verified(v) => IdentityRecord {
                name: identity.display_name(),
                verified: true,
                source: "oidc".to_owned(),
                issuer: Some(v.issuer.clone()),
                subject: Some(v.subject.clone()),
                email: v.email.clone(),
                groups: v.groups.clone(),
                token: Some(v.token.clone()),
            },
            Identity::Local(l) => IdentityRecord {
                name: l.user.clone(),
                verified: false,
                source: l.source.clone(),
                ..IdentityRecord::default()
            },
        }
    }

    /// The actor the audit entry names.
    fn actor(&self) -> Actor {
        let source = if self.verified {
            ActorSource::Other(format!(
                "oidc:{}",
                self.issuer.as_deref().unwrap_or("unknown")
            ))
        } else {
            match self.source.as_str() {
                "git" => ActorSource::GitConfig,
                "USER" => ActorSource::OsUser,
                var => ActorSource::Env(var.to_owned()),
            }
        };
        Actor {
            name: self.name.clone(),
            source,
        }
    }
}

/// An approval recorded in the audit log, with whether it still holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRecord {
    /// The audit entry's sequence number.
    pub seq: u64,
    /// When it was recorded (RFC 3339).
    pub time: String,
    /// What was approved, by whom.
    pub approval: ApprovalAudit,
    /// Whether it still approves the gate: the document is unchanged and
    /// the identity is still in a role that may approve.
    pub valid: bool,
    /// Why it no longer holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The document a gate's approval binds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovedDocument {
    /// The spec-relative files hashed (`tasks.md`).
    pub files: Vec<String>,
    /// SHA-256 (hex) of their contents (task marks left out).
    pub hash: String,
}

/// What a governed gate's check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateCheck {
    /// `[gates]` does not list the gate.
    Ungoverned,
    /// A valid approval exists.
    Approved(Box<ApprovalRecord>),
    /// No valid approval: why, naming the roles and the command to run.
    Missing {
        /// The message for the run's summary.
        reason: String,
    },
}

/// A workspace's governance: its policy and the audit log holding the
/// approvals. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Governance {
    root: PathBuf,
    policy: Arc<PolicyFile>,
    audit: AuditLog,
}

impl Governance {
    /// The governance of the workspace at `root` when it has a
    /// `.kiro/policy.toml`, recording in `audit`; `None` without the file.
    ///
    /// # Errors
    /// [`Error::Config`] for a policy file that does not parse.
    pub fn load(root: impl AsRef<Path>, audit: AuditLog) -> Result<Option<Governance>> {
        let root = root.as_ref();
        Ok(PolicyFile::load(root)?.map(|policy| Governance::new(root, policy, audit)))
    }

    /// Governance from a parsed policy.
    pub fn new(root: impl Into<PathBuf>, policy: PolicyFile, audit: AuditLog) -> Governance {
        Governance {
            root: root.into(),
            policy: Arc::new(policy),
            audit,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &PolicyFile {
        &self.policy
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The audit log approvals are read from and written to.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    fn spec_dir(&self, spec: &str) -> PathBuf {
        self.root.join(".kiro/specs").join(spec)
    }

    /// The document an approval of `gate` for `spec` binds to, as it is now.
    ///
    /// # Errors
    /// [`Error::Io`] when the document does not exist or cannot be read.
    pub fn document(&self, spec: &str, gate: GateName) -> Result<ApprovedDocument> {
        let dir = self.spec_dir(spec);
        let kind = match gate {
            GateName::Requirements => {
                if dir.join(DocKind::Requirements.file_name()).exists()
                    || !dir.join(DocKind::Bugfix.file_name()).exists()
                {
                    DocKind::Requirements
                } else {
                    DocKind::Bugfix
                }
            }
            GateName::Design => DocKind::Design,
            GateName::Tasks | GateName::Execution | GateName::Merge => DocKind::Tasks,
        };
        let name = kind.file_name();
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
        let hash = if kind == DocKind::Tasks {
            sha256_hex(without_marks(&String::from_utf8_lossy(&bytes)).as_bytes())
        } else {
            sha256_hex(&bytes)
        };
        Ok(ApprovedDocument {
            files: vec![name.to_owned()],
            hash,
        })
    }

    /// The roles (of those named) that `identity` is a member of.
    pub fn matching_roles(&self, identity: &IdentityRecord, roles: &[String]) -> Vec<String> {
        roles
            .iter()
            .filter(|role| {
                self.policy.roles.get(*role).is_some_and(|members| {
                    members
                        .iter()
                        .any(|m| member_matches(m, identity, self.policy.identity.allow_unverified))
                })
            })
            .cloned()
            .collect()
    }

    /// The roles that may sign off `gate`: those `[gates]` lists, and for
    /// `execution` also the approvers of every `[[protected]]` rule.
    pub fn approving_roles(&self, gate: GateName) -> Vec<String> {
        let mut roles: Vec<String> = self.policy.gate_roles(gate).unwrap_or_default().to_vec();
        if gate == GateName::Execution {
            for rule in &self.policy.protected {
                for role in &rule.approvers {
                    if !roles.contains(role) {
                        roles.push(role.clone());
                    }
                }
            }
        }
        roles
    }

    /// Signs off `gate` of `spec` as `identity` (limited to checkpoint
    /// task `task` when given), recording the approval in the audit log;
    /// a refusal is recorded too.
    ///
    /// # Errors
    /// - [`Error::ApprovalRefused`] when no role that may approve the gate
    ///   has `identity` as a member (or a local identity where the policy
    ///   requires verified ones), naming the roles that may;
    /// - [`Error::Io`] when the document to approve does not exist;
    /// - the audit log's errors.
    pub fn approve(
        &self,
        spec: &str,
        gate: GateName,
        identity: IdentityRecord,
        task: Option<String>,
    ) -> Result<ApprovalRecord> {
        let allowed = self.approving_roles(gate);
        let document = self.document(spec, gate)?;
        let refusal = if allowed.is_empty() {
            Some(format!(
                "`.kiro/policy.toml` lists no role for gate `{gate}`"
            ))
        } else if !identity.verified && !self.policy.identity.allow_unverified {
            Some(format!(
                "{} is a local identity ({}) and the policy accepts only ID tokens",
                identity.name, identity.source
            ))
        } else {
            None
        };
        let roles = self.matching_roles(&identity, &allowed);
        let refusal = refusal.or_else(|| {
            roles.is_empty().then(|| {
                format!(
                    "{} is in none of the roles {}",
                    identity.name,
                    allowed.join(", ")
                )
            })
        });
        if let Some(reason) = refusal {
            return self.refuse(spec, gate, &identity, reason, &allowed, task);
        }
        let actor = identity.actor();
        let approval = ApprovalAudit {
            spec: spec.to_owned(),
            gate,
            roles,
            files: document.files,
            document: document.hash,
            identity,
            task,
        };
        let entry = self.audit.append(
            NewEntry::event(AuditEvent::PolicyApproval(approval.clone()))
                .with_spec(spec)
                .with_identity(actor),
        )?;
        Ok(ApprovalRecord {
            seq: entry.seq,
            time: entry.time,
            approval,
            valid: true,
            problem: None,
        })
    }

    /// The OIDC verifier configuration `[identity]` gives, when it names
    /// an issuer and an audience.
    pub fn oidc_config(&self) -> Option<OidcConfig> {
        let id = &self.policy.identity;
        let mut config = OidcConfig::new(id.issuer.clone()?, id.audience.clone()?);
        config.jwks_file = id.jwks_file.clone();
        config.jwks_url = id.jwks_url.clone();
        if let Some(leeway) = id.leeway_seconds {
            config.leeway_seconds = leeway;
        }
        Some(config)
    }

    /// Signs off `gate` of `spec` as the approver an OIDC ID token names,
    /// verified against `jwks` (the issuer's keys, read or fetched by the
    /// caller) and `[identity]`'s issuer and audience. A token that does not
    /// verify (forged, expired, for another audience, signed by an unknown
    /// key...) is a refusal like any other: audited, and returned as
    /// [`Error::ApprovalRefused`] naming why.
    ///
    /// # Errors
    /// As [`approve`](Self::approve); [`Error::ApprovalRefused`] also when
    /// `[identity]` names no issuer or audience to check the token against.
    pub fn approve_token(
        &self,
        spec: &str,
        gate: GateName,
        token: &str,
        jwks: Jwks,
        task: Option<String>,
    ) -> Result<ApprovalRecord> {
        let verified = match self.oidc_config() {
            Some(config) => OidcVerifier::new(&config, jwks)
                .verify(token.trim())
                .map_err(|e| e.to_string()),
            None => Err(IdentityError::Malformed {
                part: "policy",
                reason: "`[identity]` of .kiro/policy.toml names no `issuer` and `audience`"
                    .to_owned(),
            }
            .to_string()),
        };
        match verified {
            Ok(v) => self.approve(spec, gate, IdentityRecord::of(&Identity::Verified(v)), task),
            Err(reason) => {
                // Nothing in a token that failed verification can be
                // trusted, so no claim of it is recorded as the actor.
                let identity = IdentityRecord {
                    name: "unverified-token".to_owned(),
                    verified: false,
                    source: "oidc".to_owned(),
                    ..IdentityRecord::default()
                };
                let allowed = self.approving_roles(gate);
                self.refuse(
                    spec,
                    gate,
                    &identity,
                    format!("the ID token was refused: {reason}"),
                    &allowed,
                    task,
                )
            }
        }
    }

    /// Records a refusal and returns it as [`Error::ApprovalRefused`].
    fn refuse(
        &self,
        spec: &str,
        gate: GateName,
        identity: &IdentityRecord,
        reason: String,
        allowed: &[String],
        task: Option<String>,
    ) -> Result<ApprovalRecord> {
        let event = AuditEvent::PolicyRefusal(RefusalAudit {
            spec: spec.to_owned(),
            gate,
            identity: identity.clone(),
            reason: reason.clone(),
            allowed_roles: allowed.to_vec(),
            task,
        });
        self.audit.append(
            NewEntry::event(event)
                .with_spec(spec)
                .with_identity(identity.actor()),
        )?;
        Err(Error::ApprovalRefused {
            spec: spec.to_owned(),
            gate: gate.as_str(),
            reason,
            roles: allowed
                .iter()
                .map(|r| self.policy.describe_roles(std::slice::from_ref(r)))
                .collect(),
        })
    }

    /// Every approval recorded for `spec`, oldest first, each with whether
    /// it still holds for its gate.
    ///
    /// # Errors
    /// The audit log's errors.
    pub fn approvals(&self, spec: &str) -> Result<Vec<ApprovalRecord>> {
        let mut out = Vec::new();
        let mut documents: Vec<(GateName, Option<ApprovedDocument>)> = Vec::new();
        for entry in self.audit.entries()? {
            if entry.kind != AuditKind::PolicyApproval || entry.spec.as_deref() != Some(spec) {
                continue;
            }
            // An entry of this kind that does not decode was not written
            // by kiro: it approves nothing.
            let Ok(AuditEvent::PolicyApproval(approval)) = entry.event() else {
                continue;
            };
            let gate = approval.gate;
            let current = match documents.iter().find(|(g, _)| *g == gate) {
                Some((_, doc)) => doc.clone(),
                None => {
                    let doc = self.document(spec, gate).ok();
                    documents.push((gate, doc.clone()));
                    doc
                }
            };
            let roles = self.approving_roles(gate);
            let problem = self.problem(&approval, current.as_ref(), &roles);
            out.push(ApprovalRecord {
                seq: entry.seq,
                time: entry.time,
                valid: problem.is_none(),
                problem,
                approval,
            });
        }
        Ok(out)
    }

    /// Why `approval` does not hold for roles `roles` against the current
    /// document; `None` when it does.
    fn problem(
        &self,
        approval: &ApprovalAudit,
        current: Option<&ApprovedDocument>,
        roles: &[String],
    ) -> Option<String> {
        let files = approval.files.join(", ");
        match current {
            None => return Some(format!("{files} no longer exists")),
            Some(doc) if doc.hash != approval.document => {
                return Some(format!(
                    "the approved version of {files} changed since {} approved it",
                    approval.identity.name
                ))
            }
            Some(_) => {}
        }
        if self.matching_roles(&approval.identity, roles).is_empty() {
            return Some(format!(
                "{} is no longer in a role that may approve ({})",
                approval.identity.name,
                roles.join(", ")
            ));
        }
        None
    }

    /// Whether `gate` of `spec` may pass: ungoverned, approved (by a valid
    /// approval of a role `[gates]` lists, for the whole gate or for
    /// checkpoint task `task`), or missing with the reason.
    ///
    /// # Errors
    /// The audit log's errors.
    pub fn check(&self, spec: &str, gate: GateName, task: Option<&str>) -> Result<GateCheck> {
        let Some(roles) = self.policy.gate_roles(gate) else {
            return Ok(GateCheck::Ungoverned);
        };
        let current = self.document(spec, gate).ok();
        let mut stale = None;
        for record in self.approvals(spec)?.into_iter().rev() {
            let a = &record.approval;
            if a.gate != gate || a.task.as_deref().is_some_and(|t| Some(t) != task) {
                continue;
            }
            match self.problem(a, current.as_ref(), roles) {
                None => return Ok(GateCheck::Approved(Box::new(record))),
                Some(problem) => {
                    stale.get_or_insert(format!("{problem} (audit entry {})", record.seq));
                }
            }
        }
        let command = match task {
            Some(task) => format!("kiro approve {spec} {gate} (or --task {task})"),
            None => format!("kiro approve {spec} {gate}"),
        };
        let mut reason = format!(
            "gate `{gate}` of spec `{spec}` needs an approval by {}: run `{command}`",
            self.policy.describe_roles(roles)
        );
        if let Some(stale) = stale {
            reason.push_str("; ");
            reason.push_str(&stale);
        }
        Ok(GateCheck::Missing { reason })
    }
}

/// Whether `member` (of a role) names `identity`; see the module docs.
fn member_matches(member: &str, identity: &IdentityRecord, allow_unverified: bool) -> bool {
    if identity.verified {
        if let Some(sub) = member.strip_prefix("sub:") {
            identity.subject.as_deref() == Some(sub)
        } else if let Some(group) = member.strip_prefix("group:") {
            identity.groups.iter().any(|g| g == group)
        } else if member.starts_with("user:") {
            false
        } else {
            identity
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(member))
        }
    } else if !allow_unverified {
        false
    } else if let Some(user) = member.strip_prefix("user:") {
        identity.name == user
    } else if member.contains(':') {
        false
    } else {
        identity.name.eq_ignore_ascii_case(member)
    }
}

/// `tasks.md` with every task's checkbox emptied, so that the engine's
/// marks (`[-]`, `[x]`) do not change what an approval hashes.
fn without_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let rest = line.get(indent..).unwrap_or_default();
        let bullet = ["- [", "* [", "+ ["].iter().any(|b| rest.starts_with(b));
        let mark = rest.get(3..4);
        if bullet && rest.get(4..5) == Some("]") && mark.is_some() {
            out.push_str(line.get(..indent + 3).unwrap_or_default());
            out.push(' ');
            out.push_str(rest.get(4..).unwrap_or_default());
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(email: &str, sub: &str, groups: &[&str]) -> IdentityRecord {
        IdentityRecord {
            name: email.to_owned(),
            verified: true,
            source: "oidc".into(),
            email: Some(email.to_owned()),
            subject: Some(sub.to_owned()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..IdentityRecord::default()
        }
    }

    fn local(name: &str) -> IdentityRecord {
        IdentityRecord {
            name: name.to_owned(),
            source: "KIRO_ACTOR".into(),
            ..IdentityRecord::default()
        }
    }

    #[test]
    fn members_match_by_their_form() {
        let alice = verified("alice@x.io", "s-1", &["security"]);
        let cases: &[(&str, &IdentityRecord, bool, bool)] = &[
            ("alice@x.io", &alice, false, true),
            ("ALICE@x.io", &alice, false, true),
            ("sub:s-1", &alice, false, true),
            ("sub:s-2", &alice, false, false),
            ("group:security", &alice, false, true),
            ("group:lead", &alice, false, false),
            ("user:alice@x.io", &alice, true, false),
            ("user:bob", &local("bob"), false, false),
            ("user:bob", &local("bob"), true, true),
            ("bob@x.io", &local("bob@x.io"), true, true),
            ("group:bob", &local("bob"), true, false),
        ];
        for (member, identity, allow, want) in cases {
            assert_eq!(
                member_matches(member, identity, *allow),
                *want,
                "{member} vs {identity:?} (allow_unverified {allow})"
            );
        }
    }

    #[test]
    fn marks_do_not_change_the_tasks_hash() {
        let cases = [
            ("- [x] 1. A\n  - [-] 1.1 B\n", "- [ ] 1. A\n  - [ ] 1.1 B\n"),
            ("- [ ]* 2. Optional\n", "- [ ]* 2. Optional\n"),
            ("Text [x] here\n- [x]\n", "Text [x] here\n- [ ]\n"),
        ];
        for (text, want) in cases {
            assert_eq!(without_marks(text), want);
        }
    }

    #[test]
    fn a_debug_identity_hides_the_token() {
        let mut id = verified("a@x.io", "s", &[]);
        id.token = Some("eyJhbGciOiJSUzI1NiJ9.secret.sig".into());
        assert!(!format!("{id:?}").contains("secret"));
    }
}
