//! [`PolicyApprover`]: the pipeline's gates decided by `.kiro/policy.toml`.

use std::sync::Arc;

use async_trait::async_trait;

use super::{GateCheck, GateName, Governance};
use crate::stage::{Approval, Approver, Artifacts, AutoApprove, Gate, Phase, StageError};

/// Decides the gates `[gates]` lists from the approvals in the audit log,
/// and hands every other gate to the approver the caller configured.
///
/// A governed gate passes only with a valid approval; otherwise it is
/// rejected with a reason naming the gate, the roles that may approve and
/// the `kiro approve` command, and the run stops there (resume it after
/// approving). The tasks gate checks `tasks` and then `execution`; a
/// checkpoint task checks `execution` (an approval for the whole gate or
/// for that task).
///
/// ```
/// use kiro_core::audit::AuditLog;
/// use kiro_core::governance::{Governance, PolicyApprover, PolicyFile};
/// use kiro_core::stage::{Approval, Approver, Artifacts, Gate, Phase};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let root = tempfile::tempdir()?;
/// std::fs::create_dir_all(root.path().join(".kiro/specs/login"))?;
/// std::fs::write(root.path().join(".kiro/specs/login/design.md"), "# Design\n")?;
/// let policy = PolicyFile::parse("[roles]\nlead = [\"a@x.io\"]\n[gates]\ndesign = [\"lead\"]\n", "p.toml")?;
/// let governance = Governance::new(root.path(), policy, AuditLog::open(root.path())?);
/// let approver = PolicyApprover::new(governance);
/// let mut artifacts = Artifacts::default();
/// artifacts.spec.name = "login".into();
/// let gate = Gate::Phase { phase: Phase::Design };
/// let Approval::Rejected { reason } = approver.approve(&gate, &artifacts).await? else { panic!() };
/// assert!(reason.contains("kiro approve login design"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PolicyApprover {
    governance: Governance,
    fallback: Arc<dyn Approver>,
}

impl std::fmt::Debug for PolicyApprover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyApprover")
            .field("governance", &self.governance)
            .finish_non_exhaustive()
    }
}

impl PolicyApprover {
    /// Decides governed gates from `governance`, approving the others.
    pub fn new(governance: Governance) -> PolicyApprover {
        PolicyApprover {
            governance,
            fallback: Arc::new(AutoApprove),
        }
    }

    /// Hands the gates `[gates]` does not list to `fallback` (the
    /// interactive prompt, say) instead of approving them.
    #[must_use]
    pub fn fallback(mut self, fallback: Arc<dyn Approver>) -> PolicyApprover {
        self.fallback = fallback;
        self
    }
}

#[async_trait]
impl Approver for PolicyApprover {
    async fn approve(&self, gate: &Gate, artifacts: &Artifacts) -> Result<Approval, StageError> {
        let checks: Vec<(GateName, Option<String>)> = match gate {
            Gate::Phase { phase } => {
                let mut names: Vec<_> = GateName::of_phase(*phase)
                    .map(|g| (g, None))
                    .into_iter()
                    .collect();
                if *phase == Phase::Tasks {
                    names.push((GateName::Execution, None));
                }
                names
            }
            Gate::Checkpoint { task, .. } => vec![(GateName::Execution, Some(task.to_string()))],
        };
        let spec = artifacts.spec.name.clone();
        let governance = self.governance.clone();
        // Reading the audit log is blocking file work: off the worker.
        let results = tokio::task::spawn_blocking(move || {
            checks
                .iter()
                .map(|(name, task)| governance.check(&spec, *name, task.as_deref()))
                .collect::<crate::Result<Vec<_>>>()
        })
        .await
        .map_err(|e| StageError::Core(crate::Error::Backend(Box::new(e))))??;
        let mut ungoverned = false;
        for result in results {
            match result {
                GateCheck::Missing { reason } => return Ok(Approval::Rejected { reason }),
                GateCheck::Ungoverned => ungoverned = true,
                GateCheck::Approved(_) => {}
            }
        }
        if ungoverned {
            self.fallback.approve(gate, artifacts).await
        } else {
            Ok(Approval::Approved)
        }
    }
}
