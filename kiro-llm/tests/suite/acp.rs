//! `AcpExecutor` against `tests/data/acp_agent.py`, an ACP agent written
//! from the protocol's specification, one scenario per test.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiro_core::format::parse_tasks;
use kiro_core::spec::Spec;
use kiro_core::stage::{
    Executor, OutcomeStatus, StageContext, StageError, TaskOutcome, TokenUsage,
};
use kiro_core::workspace::{Policy, Workspace};
use kiro_llm::acp::{AcpError, AcpExecutor};
use tokio_util::sync::CancellationToken;

const AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/acp_agent.py");

/// A repository whose `src/` is writable and where `echo` and `sleep` may run, inside
/// a parent folder the agent must not reach.
struct Repo {
    parent: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("repo");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("README.md"), "first\nsecond\nthird\n").unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(parent.path().join("secret.txt"), "secret\n").unwrap();
        Repo { parent }
    }

    fn root(&self) -> PathBuf {
        self.parent.path().join("repo")
    }

    fn cx(&self, cancel: CancellationToken) -> StageContext {
        let ws = Workspace::builder()
            .repo("main", self.root())
            .policy(Policy {
                writable: vec!["src/**".into()],
                commands: vec!["echo".into(), "sleep".into()],
            })
            .build()
            .unwrap();
        StageContext::builder(Arc::new(ws)).cancel(cancel).build()
    }
}

fn agent(scenario: &str) -> AcpExecutor {
    AcpExecutor::new("python3")
        .args([AGENT])
        .env("ACP_SCENARIO", scenario)
        .timeout(Duration::from_secs(30))
}

fn spec() -> Spec {
    let tasks = "# Implementation Plan\n\n- [ ] 1. Write the output\n  - Copy line two of README.md into src/out.txt\n";
    Spec {
        name: "acp".into(),
        tasks: Some(parse_tasks(tasks).value),
        ..Spec::default()
    }
}

async fn run(exec: &AcpExecutor, cx: &StageContext) -> Result<TaskOutcome, StageError> {
    let spec = spec();
    let task = spec.tasks.as_ref().unwrap().tasks[0].clone();
    exec.execute(&task, &spec, cx).await
}

/// Runs a scenario that must end its turn, and returns the outcome.
async fn outcome(scenario: &str, repo: &Repo) -> TaskOutcome {
    let cx = repo.cx(CancellationToken::new());
    run(&agent(scenario), &cx).await.unwrap()
}

fn assert_contains(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
}

#[tokio::test]
async fn a_task_runs_end_to_end_through_the_workspace() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let out = run(&agent("done").env("ACP_USAGE", "120,30"), &cx)
        .await
        .unwrap();
    assert_eq!(out.status, OutcomeStatus::Done, "{out:#?}");
    assert_eq!(out.task.as_str(), "1");
    assert_eq!(
        out.summary,
        "Working on the task. (1 file written, 1 command, 0 refused)"
    );
    assert_eq!(
        std::fs::read_to_string(repo.root().join("src/out.txt")).unwrap(),
        "line two was second\n"
    );
    let journal = cx.workspace().journal();
    assert_eq!(journal.len(), 1, "{journal:?}");
    assert_eq!(journal[0].path, Path::new("src/out.txt"));
    assert_eq!(journal[0].before, None);
    assert_contains(
        &out.evidence,
        &[
            "stop reason: end_turn\n",
            "permissions:\n- allowed \"Write src/out.txt\" (yes)\n",
            "files written:\n- src/out.txt\n",
            "commands:\n- echo hello from echo\n",
            "tool calls:\n- Read README.md (read, completed) [call-1]\n",
            "plan:\n- [completed] read the notes\n- [in_progress] write the output\n",
            "agent:\nWorking on the task.\nThe command said: hello from echo\n",
        ],
    );
    assert!(!out.evidence.contains("refused:"), "{}", out.evidence);
    assert_eq!(
        cx.usage(),
        TokenUsage {
            input_tokens: 120,
            output_tokens: 30,
            requests: 1
        }
    );
}

#[tokio::test]
async fn writes_and_reads_outside_the_writable_set_are_refused_and_the_agent_sees_why() {
    let repo = Repo::new();
    let out = outcome("escape", &repo).await;
    assert_eq!(out.status, OutcomeStatus::Done);
    assert!(!repo.parent.path().join("outside.txt").exists());
    assert_eq!(
        std::fs::read_to_string(repo.root().join("Cargo.toml")).unwrap(),
        "[package]\n"
    );
    // The agent echoes the error messages it received.
    let agent_said = out.evidence.split("agent:\n").nth(1).unwrap();
    assert_contains(
        agent_said,
        &[
            "write refused: main: ../outside.txt: path outside the repository",
            "outside.txt: outside the workspace",
            "write refused: main: Cargo.toml: not writable under the workspace policy",
            "read refused: main: ../secret.txt: path outside the repository",
        ],
    );
    assert!(!agent_said.contains("no error"), "{agent_said}");
    assert!(!agent_said.contains("secret\n"), "{agent_said}");
    // Every refusal is listed in the evidence, by method.
    let refused = out
        .evidence
        .lines()
        .filter(|l| l.starts_with("- fs/"))
        .count();
    assert_eq!(refused, 4, "{}", out.evidence);
    assert!(out
        .summary
        .ends_with("(0 files written, 0 commands, 4 refused)"));
}

#[tokio::test]
async fn commands_the_policy_does_not_allow_are_refused() {
    let repo = Repo::new();
    // Even a file named like an allowed command, inside the repository.
    std::fs::write(repo.root().join("src/echo"), "#!/bin/sh\ntouch pwned\n").unwrap();
    let out = outcome("command-denied", &repo).await;
    assert_eq!(out.status, OutcomeStatus::Done);
    assert!(repo.root().join("src").exists());
    assert!(!repo.root().join("pwned").exists());
    assert_contains(
        &out.evidence,
        &[
            "command refused: command \"rm -rf src\" is not allowed by the workspace policy",
            "command refused: command \"./src/echo hi\" is not allowed by the workspace policy",
            "- terminal/create: command \"rm -rf src\" is not allowed",
        ],
    );
    assert!(!out.evidence.contains("commands:\n"), "{}", out.evidence);
}

#[tokio::test]
async fn permission_requests_are_decided_by_the_policy() {
    let repo = Repo::new();
    let out = outcome("permission-rejected", &repo).await;
    assert_eq!(out.status, OutcomeStatus::Done);
    assert_contains(
        &out.evidence,
        &[
            "Edit Cargo.toml: reject\n",
            "Clean up: reject\n",
            "- rejected \"Edit Cargo.toml\": Cargo.toml: not writable under the workspace policy",
            "- rejected \"Clean up\": command \"rm -rf /\" is not allowed by the workspace policy",
        ],
    );
}

#[tokio::test]
async fn a_refusal_fails_the_task_with_the_reason() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let out = run(&agent("refusal"), &cx).await.unwrap();
    // An agent that reports no usage counts nothing.
    assert_eq!(cx.usage(), TokenUsage::default());
    assert_eq!(out.status, OutcomeStatus::Failed);
    assert_eq!(
        out.summary,
        "the agent refused the task (stopReason \"refusal\")"
    );
    assert_contains(&out.evidence, &["I will not do this."]);
}

fn acp_error(err: StageError) -> AcpError {
    match err {
        StageError::Backend(e) => *e.downcast::<AcpError>().unwrap(),
        other => panic!("expected an ACP error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_agent_crashing_mid_turn_is_a_typed_error_with_its_stderr() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let err = run(&agent("crash"), &cx).await.unwrap_err();
    match acp_error(err) {
        AcpError::AgentExited { status, stderr } => {
            assert_eq!(status, "exit code 3");
            assert_eq!(stderr, "agent failure: out of cheese\n");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_from_the_agent_is_a_typed_error_not_a_hang() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let started = Instant::now();
    let err = run(&agent("malformed"), &cx).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    match acp_error(err) {
        AcpError::Malformed { excerpt, .. } => assert_eq!(excerpt, "this is not json"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_file_larger_than_the_read_limit_is_refused() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let out = run(&agent("big-read").read_limit(8), &cx).await.unwrap();
    assert_contains(
        &out.evidence,
        &["read refused: README.md: 19 bytes, more than the 8 bytes kiro lets an agent read at once"],
    );
}

#[tokio::test]
async fn a_message_longer_than_the_limit_is_a_typed_error_not_a_hang() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let started = Instant::now();
    let err = run(&agent("flood").max_message_bytes(4096), &cx)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(acp_error(err), AcpError::LineTooLong { limit: 4096 }),
        "wrong error"
    );
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_refused_not_queued() {
    let repo = Repo::new();
    let out = outcome("many-requests", &repo).await;
    assert_contains(&out.evidence, &["exited: 16, busy: 4\n"]);
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let repo = Repo::new();
    let cx = repo.cx(CancellationToken::new());
    let err = run(&AcpExecutor::new("/nonexistent/acp-agent"), &cx)
        .await
        .unwrap_err();
    assert!(matches!(acp_error(err), AcpError::Spawn { .. }));
}

/// Whether process `pid` is gone (reaped, not a zombie), waiting up to 5 s.
async fn gone(pid: u32) -> bool {
    for _ in 0..50 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.contains(") Z ") => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    false
}

/// The process ids of the agent and of its helper.
async fn pids_of(file: &Path) -> Vec<u32> {
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(file) {
            return text
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent never wrote its process ids");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn cancellation_sends_session_cancel_then_kills_the_agent_and_its_helpers() {
    let repo = Repo::new();
    let pid_file = repo.parent.path().join("agent.pid");
    let cancel = CancellationToken::new();
    let cx = repo.cx(cancel.clone());
    let exec = agent("hang")
        .env("ACP_PID_FILE", pid_file.to_str().unwrap())
        .cancel_grace(Duration::from_millis(300));
    let task = tokio::spawn(async move { run(&exec, &cx).await });
    let pids = pids_of(&pid_file).await;
    assert_eq!(pids.len(), 2);
    let started = Instant::now();
    cancel.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, StageError::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    for pid in pids {
        assert!(gone(pid).await, "process {pid} still running");
    }
    let received = std::fs::read_to_string(pid_file.with_extension("pid.received")).unwrap();
    assert_eq!(received, "session/cancel {\"sessionId\": \"sess-1\"}\n");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_cancelled_agent_that_ends_its_turn_is_not_waited_for_and_gets_no_permission() {
    let repo = Repo::new();
    let pid_file = repo.parent.path().join("agent.pid");
    let cancel = CancellationToken::new();
    let cx = repo.cx(cancel.clone());
    let exec = agent("cooperative")
        .env("ACP_PID_FILE", pid_file.to_str().unwrap())
        .cancel_grace(Duration::from_secs(20));
    let task = tokio::spawn(async move { run(&exec, &cx).await });
    let pids = pids_of(&pid_file).await;
    let started = Instant::now();
    cancel.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, StageError::Cancelled), "{err:?}");
    // The turn ended well inside the grace period.
    assert!(started.elapsed() < Duration::from_secs(10));
    let answer = std::fs::read_to_string(pid_file.with_extension("pid.received")).unwrap();
    assert_eq!(answer, r#"{"outcome": {"outcome": "cancelled"}}"#);
    assert!(gone(pids[0]).await);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_agent_past_the_timeout_is_killed_with_its_helpers() {
    let repo = Repo::new();
    let pid_file = repo.parent.path().join("agent.pid");
    let cx = repo.cx(CancellationToken::new());
    let exec = agent("hang")
        .env("ACP_PID_FILE", pid_file.to_str().unwrap())
        .timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = run(&exec, &cx).await.unwrap_err();
    assert!(
        matches!(err, StageError::Timeout(t) if t == Duration::from_secs(2)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    for pid in pids_of(&pid_file).await {
        assert!(gone(pid).await, "process {pid} still running");
    }
}
