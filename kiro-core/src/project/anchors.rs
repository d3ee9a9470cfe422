//! `kiro audit verify --against-git` and `--jwks`: the audit log checked
//! against the heads anchored in the workspace's git history and against
//! the ID tokens its approvals keep.

use std::collections::BTreeSet;

use super::{Project, Result};
use crate::audit::{
    reverify_approvals, verify_against_anchors, Anchor, AnchorReport, TokenReport,
    UnreadableAnchor, AUDIT_HEAD_TRAILER,
};
use crate::git::{GitRepo, BRANCH_PREFIX};
use crate::identity::{OidcConfig, OidcVerifier};

/// How many characters of a commit id name it in an anchor's source.
const SHORT_ID: usize = 12;

impl Project {
    /// Every `Kiro-Audit-Head` trailer on the `kiro/*` branches of every
    /// repository of the workspace (`.kiro/workspace.toml`; repositories
    /// that are not git work trees have none), as anchors named
    /// `<repo>@<commit>`, and the trailers that are not a head. A commit on several branches counts once.
    ///
    /// # Errors
    /// The workspace's errors, and [`crate::Error::Git`] when git fails.
    pub fn audit_anchors(&self) -> Result<(Vec<Anchor>, Vec<UnreadableAnchor>)> {
        let workspace = self.workspace()?;
        let mut seen_roots = BTreeSet::new();
        let mut seen_commits = BTreeSet::new();
        let (mut anchors, mut unreadable) = (Vec::new(), Vec::new());
        for name in workspace.repos() {
            let Some(repo) = GitRepo::discover(workspace.root(name)?) else {
                continue;
            };
            // Two workspace repositories inside one git work tree share
            // its branches.
            if !seen_roots.insert(repo.root().to_path_buf()) {
                continue;
            }
            for branch in repo.branches(BRANCH_PREFIX)? {
                for commit in repo.commits(&branch)? {
                    if !seen_commits.insert(commit.id.clone()) {
                        continue;
                    }
                    let short = commit.id.get(..SHORT_ID).unwrap_or(&commit.id);
                    let source = format!("{name}@{short}");
                    for (key, value) in &commit.trailers {
                        if !key.eq_ignore_ascii_case(AUDIT_HEAD_TRAILER) {
                            continue;
                        }
                        match Anchor::parse(source.clone(), value) {
                            Some(anchor) => anchors.push(anchor),
                            None => unreadable.push(UnreadableAnchor {
                                source: source.clone(),
                                value: value.clone(),
                            }),
                        }
                    }
                }
            }
        }
        Ok((anchors, unreadable))
    }

    /// Checks the audit log against every head anchored in git
    /// ([`Project::audit_anchors`], [`verify_against_anchors`]): a log
    /// rewritten since a commit recorded its head, even with a valid chain,
    /// is broken, and the report names the commit it contradicts.
    ///
    /// # Errors
    /// As [`Project::audit_anchors`], and the log's read errors.
    pub fn verify_audit_against_git(&self) -> Result<AnchorReport> {
        let (anchors, unreadable) = self.audit_anchors()?;
        let mut report = verify_against_anchors(&self.audit_log()?, &anchors)?;
        report.unreadable = unreadable;
        Ok(report)
    }

    /// Re-verifies offline the ID token of every token-backed approval of
    /// the audit log with `verifier` ([`reverify_approvals`]).
    ///
    /// # Errors
    /// The log's read errors.
    pub fn reverify_approvals(&self, verifier: &OidcVerifier) -> Result<TokenReport> {
        Ok(reverify_approvals(&self.audit_log()?, verifier)?)
    }

    /// How ID tokens are verified: the `[identity]` table of
    /// `.kiro/policy.toml` as an [`OidcConfig`]
    /// ([`crate::governance::Governance::oidc_config`]); `None` without a policy
    /// file or when the table names no issuer and audience.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a policy file that does not parse.
    pub fn oidc_config(&self) -> Result<Option<OidcConfig>> {
        Ok(self.governance()?.and_then(|g| g.oidc_config()))
    }
}
