//! Governance (`.kiro/policy.toml`) through the project use cases: gates
//! that stop a run until the right role approves the current document,
//! refused approvals in the audit log, protected paths, required checks
//! before `[x]`, and usage limits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiro_core::audit::{Actor, ActorSource, AuditEvent, AuditKind};
use kiro_core::governance::{GateName, IdentityRecord};
use kiro_core::pipeline::RunStatus;
use kiro_core::project::{Project, ProjectError, RunSetup};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, Gate, Phase, StageContext, StageError, TaskOutcome, TokenUsage};
use kiro_core::Error;

const REQUIREMENTS: &str = "# Requirements Document

## Introduction

Notes.

## Requirements

### Requirement 1

**User Story:** As a user, I want notes, so that I remember things.

#### Acceptance Criteria

1. WHEN a user saves a note, THE Notes_App SHALL store the note.
2. WHEN a user deletes a note, THE Notes_App SHALL remove the note.
";

const TASKS: &str = "# Implementation Plan

- [ ] 1. Store notes
  - _Requirements: 1.1_

- [ ] 2. Delete notes
  - _Requirements: 1.2_
";

const ROLES: &str = "[identity]
allow_unverified = true

[roles]
lead = [\"user:ann\"]
security = [\"user:sam\"]
";

/// A workspace with spec `notes` (requirements and tasks), the policy
/// `ROLES` + `policy`, and `config` as `.kiro/config.toml`.
fn workspace(policy: &str, config: &str) -> (tempfile::TempDir, Project, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("requirements.md"), REQUIREMENTS).unwrap();
    std::fs::write(spec.join("tasks.md"), TASKS).unwrap();
    std::fs::write(
        dir.path().join(".kiro/policy.toml"),
        format!("{ROLES}{policy}"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".kiro/config.toml"), config).unwrap();
    let project = Project::open(dir.path()).unwrap();
    (dir, project, spec)
}

fn local(name: &str) -> IdentityRecord {
    IdentityRecord::local(&Actor {
        name: name.into(),
        source: ActorSource::Env("KIRO_ACTOR".into()),
    })
}

/// Writes files outside the workspace API (as an external agent does) and
/// spends `tokens` per task.
#[derive(Clone, Default)]
struct Agent {
    writes: Vec<(&'static str, &'static str)>,
    tokens: u64,
    ran: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Executor for Agent {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        self.ran.lock().unwrap().push(id.to_string());
        let root = cx.workspace().root("main")?.to_owned();
        if id.as_str() == "1" {
            for (path, text) in &self.writes {
                let abs = root.join(path);
                std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
                std::fs::write(abs, text).unwrap();
            }
        }
        cx.record_usage(TokenUsage {
            input_tokens: self.tokens,
            output_tokens: 0,
            requests: 1,
        });
        Ok(TaskOutcome::done(id, "ok"))
    }
}

/// Runs the spec to the end of its tasks with every gate "approved by the
/// user" (`--yes`): governance must decide regardless.
async fn run(
    project: &Project,
    spec: &Path,
    agent: &Agent,
) -> kiro_core::project::Result<RunStatus> {
    project
        .run(
            RunSetup::new(spec)
                .executor(agent.clone())
                .until(Phase::Execute)
                .approve_all(),
        )
        .await
        .map(|s| s.status)
}

/// The lines of tasks 1 and 2 in `tasks.md`, with their marks.
fn outcome(spec: &Path) -> (String, String) {
    let text = std::fs::read_to_string(spec.join("tasks.md")).unwrap();
    let first = text
        .lines()
        .find(|l| l.contains("1. Store"))
        .unwrap()
        .to_owned();
    let second = text
        .lines()
        .find(|l| l.contains("2. Delete"))
        .unwrap()
        .to_owned();
    (first, second)
}

#[test]
fn a_policy_error_names_its_line() {
    let (_dir, project, _) = workspace("[gates]\ntasks = [\"lead\", \"qa\"]\n", "");
    let err = project.governance().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("policy.toml:8:18: unknown role `qa`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_gate_without_approval_stops_the_run_until_the_role_approves() {
    let (_dir, project, spec) = workspace("[gates]\ntasks = [\"lead\"]\n", "");
    let agent = Agent::default();
    match run(&project, &spec, &agent).await.unwrap() {
        RunStatus::Stopped { gate, reason } => {
            assert_eq!(
                gate,
                Gate::Phase {
                    phase: Phase::Tasks
                }
            );
            assert!(reason.contains("lead (user:ann)"), "{reason}");
            assert!(reason.contains("kiro approve notes tasks"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(agent.ran.lock().unwrap().is_empty());
    let record = project
        .approve("notes", GateName::Tasks, local("ann"), None)
        .unwrap();
    assert_eq!(record.approval.roles, ["lead"]);
    assert_eq!(
        run(&project, &spec, &agent).await.unwrap(),
        RunStatus::Completed
    );
    assert_eq!(agent.ran.lock().unwrap().len(), 2);
    // The engine's marks (`[x]`) do not invalidate the approval.
    let approvals = project.approvals("notes").unwrap();
    assert!(approvals.iter().all(|a| a.valid), "{approvals:?}");
}

#[tokio::test]
async fn an_approval_from_a_wrong_role_is_refused_and_audited() {
    let (_dir, project, _) = workspace("[gates]\ntasks = [\"lead\"]\n", "");
    for (who, reason) in [("sam", "in none of the roles lead"), ("eve", "in none")] {
        let err = project
            .approve("notes", GateName::Tasks, local(who), None)
            .unwrap_err();
        match &err {
            ProjectError::Core(Error::ApprovalRefused {
                roles, reason: r, ..
            }) => {
                assert_eq!(roles, &["lead (user:ann)"]);
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("{other:?}"),
        }
    }
    let refusals: Vec<_> = project
        .audit_log()
        .unwrap()
        .entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::PolicyRefusal)
        .map(|e| match e.event().unwrap() {
            AuditEvent::PolicyRefusal(r) => (e.actor, r.identity.name, r.allowed_roles),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        refusals,
        [
            ("sam".into(), "sam".into(), vec!["lead".to_owned()]),
            ("eve".into(), "eve".into(), vec!["lead".to_owned()])
        ]
    );
    assert!(project.approvals("notes").unwrap().is_empty());
}

#[tokio::test]
async fn unverified_identities_are_refused_unless_the_policy_allows_them() {
    let (dir, project, _) = workspace("[gates]\ntasks = [\"lead\"]\n", "");
    let policy = std::fs::read_to_string(dir.path().join(".kiro/policy.toml")).unwrap();
    std::fs::write(
        dir.path().join(".kiro/policy.toml"),
        policy.replace("allow_unverified = true", "allow_unverified = false"),
    )
    .unwrap();
    let err = project
        .approve("notes", GateName::Tasks, local("ann"), None)
        .unwrap_err();
    assert!(err.to_string().contains("accepts only ID tokens"), "{err}");
}

#[tokio::test]
async fn editing_the_document_after_approval_invalidates_it() {
    let (_dir, project, spec) = workspace("[gates]\ntasks = [\"lead\"]\n", "");
    project
        .approve("notes", GateName::Tasks, local("ann"), None)
        .unwrap();
    std::fs::write(
        spec.join("tasks.md"),
        format!("{TASKS}\n- [ ] 3. Export notes\n  - _Requirements: 1.1_\n"),
    )
    .unwrap();
    let approvals = project.approvals("notes").unwrap();
    assert!(!approvals[0].valid);
    assert!(approvals[0]
        .problem
        .as_deref()
        .unwrap()
        .contains("the approved version of tasks.md changed"));
    let agent = Agent::default();
    match run(&project, &spec, &agent).await.unwrap() {
        RunStatus::Stopped { reason, .. } => {
            assert!(
                reason.contains("approved version of tasks.md changed"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(agent.ran.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_execution_gate_is_checked_before_the_first_task() {
    let (_dir, project, spec) = workspace("[gates]\nexecution = [\"security\"]\n", "");
    let agent = Agent::default();
    match run(&project, &spec, &agent).await.unwrap() {
        RunStatus::Stopped { reason, .. } => {
            assert!(reason.contains("gate `execution`"), "{reason}");
            assert!(reason.contains("security (user:sam)"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    project
        .approve("notes", GateName::Execution, local("sam"), None)
        .unwrap();
    assert_eq!(
        run(&project, &spec, &agent).await.unwrap(),
        RunStatus::Completed
    );
}

const PROTECTED: &str = "[[protected]]\npaths = [\"infra/**\"]\napprovers = [\"security\"]\n";

#[tokio::test]
async fn a_protected_path_needs_its_approval_or_the_change_is_reverted() {
    let (dir, project, spec) = workspace(PROTECTED, "");
    let agent = Agent {
        writes: vec![
            ("infra/main.tf", "resource\n"),
            ("src/notes.rs", "// notes\n"),
        ],
        ..Agent::default()
    };
    let status = run(&project, &spec, &agent).await.unwrap();
    let RunStatus::Failed { reason } = status else {
        panic!("{status:?}")
    };
    assert!(reason.contains("task 1 failed"), "{reason}");
    assert!(reason.contains("infra/main.tf"), "{reason}");
    assert!(reason.contains("infra/**"), "{reason}");
    assert!(reason.contains("security (user:sam)"), "{reason}");
    assert!(!dir.path().join("infra/main.tf").exists());
    // Only the protected change is reverted.
    assert!(dir.path().join("src/notes.rs").exists());
    let (first, _) = outcome(&spec);
    assert!(first.starts_with("- [ ]"), "{first}");

    // A lead's execution approval is not the rule's: still refused.
    let err = project
        .approve("notes", GateName::Execution, local("ann"), None)
        .unwrap_err();
    assert!(err.to_string().contains("security"), "{err}");
    project
        .approve("notes", GateName::Execution, local("sam"), None)
        .unwrap();
    assert_eq!(
        run(&project, &spec, &agent).await.unwrap(),
        RunStatus::Completed
    );
    assert!(dir.path().join("infra/main.tf").exists());
}

/// Runs with `[checks] required = [check]`, `config` as config.toml and
/// `files` written first; returns the status and the first task's line.
async fn with_check(
    check: &str,
    config: &str,
    files: &[(&str, &str)],
    tasks: Option<&str>,
) -> (RunStatus, String) {
    let (dir, project, spec) = workspace(&format!("[checks]\nrequired = [\"{check}\"]\n"), config);
    for (path, text) in files {
        let abs = dir.path().join(path);
        std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
        std::fs::write(abs, text).unwrap();
    }
    if let Some(tasks) = tasks {
        std::fs::write(spec.join("tasks.md"), tasks).unwrap();
    }
    let status = run(&project, &spec, &Agent::default()).await.unwrap();
    let (first, _) = outcome(&spec);
    (status, first)
}

#[tokio::test]
async fn each_required_check_blocks_done_until_it_passes() {
    let tests = |code: &str| format!("[verifier]\ncommand = [\"sh\", \"-c\", \"exit {code}\"]\n");
    let annotated = "// Validates: Requirements 1.1, 1.2\n#[test]\nfn notes() {}\n";
    let half = "// Validates: Requirements 1.1\n#[test]\nfn notes() {}\n";
    let dangling = TASKS.replace("_Requirements: 1.2_", "_Requirements: 9.9_");
    // (check, config, files, tasks.md, failure expected in the reason)
    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "tests",
            tests("1"),
            vec![],
            None,
            Some("required check `tests` failed"),
        ),
        (
            "tests",
            String::new(),
            vec![],
            None,
            Some("no `[verifier] command`"),
        ),
        ("tests", tests("0"), vec![], None, None),
        (
            "lint",
            String::new(),
            vec![],
            Some(&dangling),
            Some("required check `lint` failed"),
        ),
        ("lint", String::new(), vec![], None, None),
        (
            "coverage",
            String::new(),
            vec![],
            None,
            Some("validates criteria 1.1"),
        ),
        (
            "coverage",
            String::new(),
            vec![("tests/n.rs", half)],
            None,
            Some("criteria 1.2"),
        ),
        (
            "coverage",
            String::new(),
            vec![("tests/n.rs", annotated)],
            None,
            None,
        ),
    ];
    for (check, config, files, tasks, failure) in cases {
        let (status, first) = with_check(check, &config, &files, tasks).await;
        match failure {
            Some(want) => {
                let RunStatus::Failed { reason } = &status else {
                    panic!("{check}: {status:?}")
                };
                assert!(reason.contains(want), "{check}: {reason}");
                if want != "criteria 1.2" {
                    assert!(first.starts_with("- [ ]"), "{check}: {first}");
                }
            }
            None => {
                assert_eq!(status, RunStatus::Completed, "{check}");
                assert!(first.starts_with("- [x]"), "{check}: {first}");
            }
        }
    }
}

#[tokio::test]
async fn a_token_limit_stops_the_run_with_a_typed_error() {
    let (_dir, project, spec) =
        workspace("[limits]\nmax_tokens = 1500\n", "[pipeline]\njobs = 1\n");
    let agent = Agent {
        tokens: 1000,
        ..Agent::default()
    };
    let err = run(&project, &spec, &agent).await.unwrap_err();
    match &err {
        ProjectError::Core(Error::UsageLimitExceeded {
            limit, max, used, ..
        }) => {
            assert_eq!((*limit, max.as_str()), ("max_tokens", "1500"));
            assert_eq!(used, "2000 tokens");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(agent.ran.lock().unwrap().len(), 2);
    // Under the limit, the run completes.
    let (_dir, project, spec) = workspace("[limits]\nmax_tokens = 5000\n", "");
    assert_eq!(
        run(&project, &spec, &agent).await.unwrap(),
        RunStatus::Completed
    );
}

#[tokio::test]
async fn a_cost_limit_prices_usage_with_the_configured_model() {
    let config = "[llm]\nmodel = \"m\"\n[llm.prices.m]\ninput = 1000.0\noutput = 1000.0\n[pipeline]\njobs = 1\n";
    let (_dir, project, spec) = workspace("[limits]\nmax_cost = 1.5\n", config);
    let agent = Agent {
        tokens: 1000,
        ..Agent::default()
    };
    let err = run(&project, &spec, &agent).await.unwrap_err();
    assert!(
        matches!(&err, ProjectError::Core(Error::UsageLimitExceeded { limit, .. }) if *limit == "max_cost"),
        "{err}"
    );
    assert!(err.to_string().contains("$2.0000"), "{err}");
}

/// Approvals by ID token: members match by email, subject and groups; a
/// forged or expired token is an audited refusal; the approval keeps the
/// token for offline re-verification.
#[test]
fn id_token_approvals_match_claims_and_refuse_bad_tokens() {
    use crate::oidc;
    use kiro_core::identity::Jwks;

    let gates = "[gates]\ntasks = [\"lead\"]\ndesign = [\"release\"]\nrequirements = [\"owner\"]\n";
    let (dir, _project, spec) = workspace(gates, "");
    // Roles by group and subject beside those of `ROLES`, and an identity
    // table naming the test issuer.
    let text = std::fs::read_to_string(dir.path().join(".kiro/policy.toml"))
        .unwrap()
        .replace(
            "allow_unverified = true\n",
            &format!(
                "allow_unverified = false\nissuer = \"{}\"\naudience = \"{}\"\n",
                oidc::ISSUER,
                oidc::AUDIENCE
            ),
        )
        .replace(
            "security = [\"user:sam\"]\n",
            "security = [\"user:sam\"]\nrelease = [\"group:release-managers\"]\nowner = [\"sub:user-42\"]\n",
        );
    std::fs::write(dir.path().join(".kiro/policy.toml"), text).unwrap();
    std::fs::write(
        spec.join("design.md"),
        "# Design Document\n\n## Overview\n\nNotes.\n",
    )
    .unwrap();
    let project = Project::open(dir.path()).unwrap();
    let jwks = || Jwks::from_json(oidc::jwks().as_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = oidc::rs256(Some(oidc::RSA_KID), &oidc::claims(now));

    for gate in [GateName::Design, GateName::Requirements] {
        let record = project
            .approve_token("notes", gate, &token, jwks(), None)
            .unwrap();
        let id = &record.approval.identity;
        assert!(id.verified);
        assert_eq!(id.name, "alice@example.com");
        assert_eq!(id.token.as_deref(), Some(token.as_str()));
    }
    // alice is in no role of the tasks gate.
    let err = project
        .approve_token("notes", GateName::Tasks, &token, jwks(), None)
        .unwrap_err();
    assert!(
        err.to_string().contains("in none of the roles lead"),
        "{err}"
    );

    let mut expired = oidc::claims(now - 10_000);
    expired["exp"] = serde_json::json!(now - 5_000);
    let forged = oidc::es256_with(
        oidc::other_ec_key(),
        serde_json::json!({"alg": "ES256", "kid": oidc::EC_KID}),
        &oidc::claims(now),
    );
    for bad in [
        oidc::rs256(Some(oidc::RSA_KID), &expired),
        forged,
        oidc::unsigned(&oidc::claims(now)),
    ] {
        let err = project
            .approve_token("notes", GateName::Design, &bad, jwks(), None)
            .unwrap_err();
        assert!(
            err.to_string().contains("the ID token was refused"),
            "{err}"
        );
    }
    let entries = project.audit_log().unwrap().entries().unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "policy_approval",
            "policy_approval",
            "policy_refusal",
            "policy_refusal",
            "policy_refusal",
            "policy_refusal"
        ]
    );
    // A local identity is refused where only tokens are accepted.
    let err = project
        .approve("notes", GateName::Design, local("alice@example.com"), None)
        .unwrap_err();
    assert!(err.to_string().contains("accepts only ID tokens"), "{err}");
}

#[tokio::test]
async fn repository_commands_narrow_what_the_executor_may_run() {
    let config = "[executor]\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n";
    for (allowed, completes) in [("sh", true), ("cargo", false)] {
        let policy = format!("[repos.main]\ncommands = [\"{allowed}\"]\n");
        let (_dir, project, spec) = workspace(&policy, config);
        let status = project
            .run(RunSetup::new(&spec).until(Phase::Execute).approve_all())
            .await
            .unwrap()
            .status;
        if completes {
            assert_eq!(status, RunStatus::Completed, "{allowed}");
        } else {
            let RunStatus::Failed { reason } = &status else {
                panic!("{allowed}: {status:?}")
            };
            assert!(reason.contains("sh -c"), "{reason}");
        }
    }
}

#[test]
fn leaving_a_role_withdraws_ones_approvals() {
    let (dir, project, _) = workspace("[gates]\ntasks = [\"lead\"]\n", "");
    project
        .approve("notes", GateName::Tasks, local("ann"), None)
        .unwrap();
    assert!(project.approvals("notes").unwrap()[0].valid);
    let path = dir.path().join(".kiro/policy.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("lead = [\"user:ann\"]", "lead = [\"user:zed\"]"),
    )
    .unwrap();
    let after = project.approvals("notes").unwrap();
    assert!(!after[0].valid);
    let problem = after[0].problem.as_deref().unwrap();
    assert!(
        problem.contains("ann is no longer in a role that may approve"),
        "{problem}"
    );
}
