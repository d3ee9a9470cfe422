//! What governance checks while tasks run: protected paths after a task,
//! the required checks before `[x]`, and the usage limits after a node.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{GateName, Governance, ProtectedRule, RequiredCheck};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::links::SpecLinks;
use crate::lint::{LintOptions, Severity};
use crate::spec::{Spec, Task};
use crate::stage::RunUsage;
use crate::verify::annotations;
use crate::workspace::Workspace;

/// The `[[protected]]` rules of a spec's run, each with whether a valid
/// `execution` approval by one of its roles allows changes to its paths;
/// built once per rescan (see [`Governance::protected_guard`]).
#[derive(Clone, Debug, Default)]
pub struct ProtectedGuard {
    /// Each rule, with the reason a change to its paths is refused (`None`
    /// when an approval allows it).
    rules: Vec<(ProtectedRule, Option<String>)>,
}

impl ProtectedGuard {
    /// Why a change to `path` (relative to its repository root) is not
    /// allowed: the first matching rule without an approval; `None` when
    /// no rule matches or every matching rule is approved.
    pub fn check(&self, path: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|(rule, refused)| refused.is_some() && rule.matches(path))
            .and_then(|(_, refused)| refused.as_deref())
    }

    /// Whether no rule can refuse anything.
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(|(_, refused)| refused.is_none())
    }
}

/// A `[limits]` value a run went past.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitExceeded {
    /// `max_tokens` or `max_cost`.
    pub limit: &'static str,
    /// The limit, as written (`2000000`, `$25.00`).
    pub max: String,
    /// What the run used, the same way.
    pub used: String,
}

impl LimitExceeded {
    /// The error of run `run` stopping for it.
    pub fn into_error(self, run: &str) -> Error {
        Error::UsageLimitExceeded {
            run: run.to_owned(),
            limit: self.limit,
            max: self.max,
            used: self.used,
        }
    }
}

/// A required check a task did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// The check.
    pub check: RequiredCheck,
    /// One line, naming the check.
    pub message: String,
    /// What explains it (the test command's output, the findings).
    pub evidence: String,
}

impl Governance {
    /// The protected-path rules for a run of `spec`, with the approvals as
    /// they are now.
    ///
    /// # Errors
    /// The audit log's errors.
    pub fn protected_guard(&self, spec: &str) -> Result<ProtectedGuard> {
        if self.policy.protected.is_empty() {
            return Ok(ProtectedGuard::default());
        }
        let approvals = self.approvals(spec)?;
        let current = self.document(spec, GateName::Execution).ok();
        let rules = self
            .policy
            .protected
            .iter()
            .map(|rule| {
                let approved = approvals.iter().any(|r| {
                    r.approval.gate == GateName::Execution
                        && r.approval.task.is_none()
                        && self
                            .problem(&r.approval, current.as_ref(), &rule.approvers)
                            .is_none()
                });
                let refused = (!approved).then(|| {
                    format!(
                        "protected by `[[protected]]` {}: needs an `execution` approval by {} (`kiro approve {spec} execution`)",
                        rule.label(),
                        self.policy.describe_roles(&rule.approvers)
                    )
                });
                (rule.clone(), refused)
            })
            .collect();
        Ok(ProtectedGuard { rules })
    }

    /// Runs `[checks] required` for `task` of `spec` before it is marked
    /// done, in the order the policy lists them; the first that fails is
    /// returned. `tests` runs the `[verifier] command` of `config` in
    /// repository `repo` under the workspace's command policy for it
    /// ([`Workspace::check_command_in`]); `lint` lints the
    /// spec folder; `coverage` scans the workspace for annotations.
    ///
    /// # Errors
    /// Only I/O the checks cannot do without (scanning the workspace);
    /// a command that cannot start is a failed check.
    pub async fn run_checks(
        &self,
        spec: &Spec,
        task: &Task,
        workspace: &Workspace,
        repo: &str,
        config: &Config,
        cancel: &CancellationToken,
    ) -> Result<Option<CheckFailure>> {
        for check in self.policy.required_checks.clone() {
            let failure = match check {
                RequiredCheck::Tests => tests_check(workspace, repo, config, cancel).await?,
                RequiredCheck::Lint => {
                    let (governance, name, config) =
                        (self.clone(), spec.name.clone(), config.clone());
                    blocking(move || governance.lint_check(&name, &config)).await?
                }
                RequiredCheck::Coverage => {
                    let (spec, task, root) = (spec.clone(), task.clone(), self.root.clone());
                    blocking(move || coverage_check(&spec, &task, &root)).await?
                }
            };
            if failure.is_some() {
                return Ok(failure);
            }
        }
        Ok(None)
    }

    fn lint_check(&self, spec: &str, config: &Config) -> Result<Option<CheckFailure>> {
        let loaded = crate::store::load_spec(&self.spec_dir(spec))?;
        let errors: Vec<String> = crate::lint::lint_with(&loaded, LintOptions::from(config))
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let file = d.file.map(|f| f.display().to_string()).unwrap_or_default();
                format!("{file}:{}:{}: {} {}", d.line, d.column, d.code, d.message)
            })
            .collect();
        Ok((!errors.is_empty()).then(|| CheckFailure {
            check: RequiredCheck::Lint,
            message: format!(
                "required check `lint` failed: {} error-level finding(s) in spec `{spec}`",
                errors.len()
            ),
            evidence: errors.join("\n"),
        }))
    }

    /// The `[limits]` value `usage` (priced, when prices are known) goes
    /// past, if any.
    pub fn check_limits(&self, usage: &RunUsage) -> Option<LimitExceeded> {
        let limits = &self.policy.limits;
        let tokens = usage.total.total_tokens();
        if let Some(max) = limits.max_tokens.filter(|max| tokens > *max) {
            return Some(LimitExceeded {
                limit: "max_tokens",
                max: max.to_string(),
                used: format!("{tokens} tokens"),
            });
        }
        match (limits.max_cost, usage.cost_usd) {
            (Some(max), Some(cost)) if cost > max => Some(LimitExceeded {
                limit: "max_cost",
                max: format!("${max:.2}"),
                used: format!("${cost:.4}"),
            }),
            _ => None,
        }
    }
}

/// Runs the test command; a failure names it and its exit status.
async fn tests_check(
    workspace: &Workspace,
    repo: &str,
    config: &Config,
    cancel: &CancellationToken,
) -> Result<Option<CheckFailure>> {
    let repo_root = workspace.root(repo)?;
    let fail = |message: String, evidence: String| {
        Ok(Some(CheckFailure {
            check: RequiredCheck::Tests,
            message,
            evidence,
        }))
    };
    let Some(argv) = config.verifier.command.clone() else {
        return fail(
            "required check `tests` cannot run: no `[verifier] command` is configured".into(),
            String::new(),
        );
    };
    let line = argv.join(" ");
    if let Err(e) = workspace.check_command_in(repo, &argv) {
        return fail(
            format!("required check `tests` cannot run `{line}`: {e}"),
            String::new(),
        );
    }
    let output = crate::process::Command::new(argv)
        .cwd(repo_root)
        .without_secrets()
        .timeout(Duration::from_secs(config.verifier.timeout_secs))
        .run(cancel)
        .await;
    match output {
        Ok(out) if out.success() => Ok(None),
        Ok(out) => {
            let status = match (out.code, out.timed_out, out.cancelled) {
                (_, true, _) => "timed out".to_owned(),
                (_, _, true) => "was cancelled".to_owned(),
                (Some(code), ..) => format!("exited with status {code}"),
                (None, ..) => "was killed by a signal".to_owned(),
            };
            fail(
                format!("required check `tests` failed: `{line}` {status}"),
                format!("{}{}", out.stdout, out.stderr),
            )
        }
        Err(e) => fail(
            format!("required check `tests` failed: `{line}` did not run: {e}"),
            String::new(),
        ),
    }
}

/// Every criterion `task` names must have an annotated test of `spec`.
fn coverage_check(spec: &Spec, task: &Task, root: &Path) -> Result<Option<CheckFailure>> {
    let links = SpecLinks::new(spec);
    let wanted: Vec<String> = links
        .resolve_all(&task.requirements)
        .into_iter()
        .filter_map(|i| links.criteria().get(i).map(|c| c.id.to_string()))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let covered: BTreeSet<String> = annotations::scan_dir(root)?
        .iter()
        .filter(|a| annotations::belongs_to(a, &spec.name))
        .flat_map(|a| a.criteria.iter().map(ToString::to_string))
        .collect();
    let missing: Vec<String> = wanted
        .into_iter()
        .filter(|c| !covered.contains(c))
        .collect();
    Ok((!missing.is_empty()).then(|| CheckFailure {
        check: RequiredCheck::Coverage,
        message: format!(
            "required check `coverage` failed: no annotated test validates criteria {}",
            missing.join(", ")
        ),
        evidence: String::new(),
    }))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Backend(Box::new(e)))?
}
