//! `kiro approve` and `kiro approvals`: signing off a governed gate, and
//! the approvals of a spec with whether each still holds.

use super::{Project, ProjectError, Result};
use crate::governance::{ApprovalRecord, GateName, Governance, IdentityRecord, POLICY_PATH};
use crate::identity::Jwks;

impl Project {
    /// The workspace's governance (`.kiro/policy.toml`), recording in the
    /// project's audit log; `None` when the workspace has no policy file.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for a policy file that does
    /// not parse, with its line and column.
    pub fn governance(&self) -> Result<Option<Governance>> {
        Ok(Governance::load(self.root(), self.audit_log()?)?)
    }

    fn required_governance(&self) -> Result<Governance> {
        self.governance()?.ok_or_else(|| ProjectError::NoPolicy {
            path: self.root().join(POLICY_PATH),
        })
    }

    /// Signs off `gate` of spec `spec` as `identity` (for checkpoint task
    /// `task` only, when given): the approval, bound to the current
    /// document's hash, goes into the audit log.
    ///
    /// ```
    /// use kiro_core::audit::{Actor, ActorSource};
    /// use kiro_core::governance::{GateName, IdentityRecord};
    /// use kiro_core::project::Project;
    ///
    /// let root = tempfile::tempdir()?;
    /// std::fs::create_dir_all(root.path().join(".kiro/specs/login"))?;
    /// std::fs::write(root.path().join(".kiro/specs/login/tasks.md"), "- [ ] 1. Do it\n")?;
    /// std::fs::write(
    ///     root.path().join(".kiro/policy.toml"),
    ///     "[identity]\nallow_unverified = true\n[roles]\nlead = [\"user:ann\"]\n[gates]\ntasks = [\"lead\"]\n",
    /// )?;
    /// let project = Project::open(root.path())?;
    /// let ann = IdentityRecord::local(&Actor { name: "ann".into(), source: ActorSource::Env("KIRO_ACTOR".into()) });
    /// let record = project.approve("login", GateName::Tasks, ann, None)?;
    /// assert_eq!(record.approval.roles, ["lead"]);
    /// let bob = IdentityRecord::local(&Actor { name: "bob".into(), source: ActorSource::OsUser });
    /// let refused = project.approve("login", GateName::Tasks, bob, None).unwrap_err();
    /// assert!(refused.to_string().contains("roles that may approve it: lead (user:ann)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// - [`ProjectError::NoPolicy`] without `.kiro/policy.toml`;
    /// - [`ProjectError::UnknownSpec`] for a spec that does not exist;
    /// - [`Error::ApprovalRefused`](crate::Error::ApprovalRefused) when the
    ///   identity may not approve the gate (the refusal is audited), naming
    ///   the roles that may.
    pub fn approve(
        &self,
        spec: &str,
        gate: GateName,
        identity: IdentityRecord,
        task: Option<String>,
    ) -> Result<ApprovalRecord> {
        self.spec_dir(spec)?;
        let governance = self.required_governance()?;
        Ok(governance.approve(spec, gate, identity, task)?)
    }

    /// Signs off `gate` of spec `spec` as the approver the OIDC ID token
    /// `token` names, verified against `jwks` and `[identity]` (see
    /// [`Governance::approve_token`]); a token that does not verify is an
    /// audited refusal.
    ///
    /// # Errors
    /// As [`approve`](Project::approve).
    pub fn approve_token(
        &self,
        spec: &str,
        gate: GateName,
        token: &str,
        jwks: Jwks,
        task: Option<String>,
    ) -> Result<ApprovalRecord> {
        self.spec_dir(spec)?;
        let governance = self.required_governance()?;
        Ok(governance.approve_token(spec, gate, token, jwks, task)?)
    }

    /// Every approval recorded for spec `spec`, oldest first, with whether
    /// each still holds (document unchanged, approver still in a role that
    /// may approve).
    ///
    /// # Errors
    /// [`ProjectError::NoPolicy`] without `.kiro/policy.toml`,
    /// [`ProjectError::UnknownSpec`], and the audit log's errors.
    pub fn approvals(&self, spec: &str) -> Result<Vec<ApprovalRecord>> {
        self.spec_dir(spec)?;
        Ok(self.required_governance()?.approvals(spec)?)
    }
}
