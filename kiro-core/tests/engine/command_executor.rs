//! `CommandExecutor` running real `sh -c` scripts, and `task_brief` on a small inline spec.
#![cfg(unix)]
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use kiro_core::checkpoint::RunId;
use kiro_core::config::{AgentPreset, ExecutorConfig};
use kiro_core::format::{parse_bugfix, parse_design, parse_requirements, parse_tasks};
use kiro_core::spec::{Spec, SpecKind, Task, TaskId};
use kiro_core::stage::{Executor, OutcomeStatus, StageContext, StageError, TaskOutcome};
use kiro_core::stages::{task_brief, BriefInput, CommandExecutor, PRESET_INSTRUCTION};
use kiro_core::workspace::{Policy, Workspace};
use kiro_core::Error;
use tokio_util::sync::CancellationToken;

const REQUIREMENTS: &str = "\
# Requirements Document

## Introduction

A notes app.

## Requirements

### Requirement 1: Note storage

**User Story:** As a writer, I want my notes stored, so that I can read them later.

#### Acceptance Criteria

1. WHEN a user saves a note, THE Note_Store SHALL persist it
2. WHEN a user deletes a note, THE Note_Store SHALL remove it

### Requirement 2: Search

**User Story:** As a writer, I want to search notes, so that I find them fast.

#### Acceptance Criteria

1. WHEN a user types a query, THE Search_Index SHALL list matching notes
2. THE Search_Index SHALL rank exact matches first
";

const DESIGN: &str = "\
# Design Document

## Overview

Notes live in SQLite behind a small store.

## Architecture

Layered, nothing special.

## Note Store

Deletion (criterion 1.2) is a soft delete.

## Ranking

Uses BM25, no criterion named here but 1.23 and 11.2 appear.

## Search Pipeline

The whole Search feature goes here.

## Correctness Properties

### Property 1: Deleted notes stay gone

*For any* note, after delete it SHALL not be listed.

**Validates: Requirements 1.2**

### Property 2: Exact matches rank first

*For any* query, exact matches SHALL come first.

**Validates: Requirements 2.2**
";

const TASKS: &str = "\
# Implementation Plan

- [ ] 1. Storage
  - [ ] 1.1 Create the note table
    - Write the migration
    - _Requirements: 1.1_
  - [ ] 1.2 Implement soft delete
    - Add a deleted_at column
    - Filter deleted notes in queries
    - _Requirements: 1.2, 9.9_
    - _Depends: 1.1_

- [ ] 2. Build search
  - _Requirements: 2_
";

fn spec() -> Spec {
    Spec {
        name: "notes".into(),
        requirements: Some(parse_requirements(REQUIREMENTS).value),
        design: Some(parse_design(DESIGN).value),
        tasks: Some(parse_tasks(TASKS).value),
        ..Spec::default()
    }
}

fn find_task<'a>(spec: &'a Spec, id: &str) -> &'a Task {
    spec.tasks
        .as_ref()
        .unwrap()
        .all_tasks()
        .into_iter()
        .find(|t| t.id.as_ref().is_some_and(|i| i.as_str() == id))
        .unwrap()
}

fn task(id: &str, title: &str) -> Task {
    Task {
        id: Some(TaskId::new(id)),
        title: title.into(),
        ..Task::default()
    }
}

fn workspace(root: &Path, commands: &[&str]) -> Workspace {
    Workspace::builder()
        .repo("main", root)
        .policy(Policy {
            commands: commands.iter().map(|c| c.to_string()).collect(),
            ..Policy::default()
        })
        .build()
        .unwrap()
}

fn sh(script: &str) -> CommandExecutor {
    CommandExecutor::new(["sh", "-c", script])
}

async fn run(
    exec: &CommandExecutor,
    task: &Task,
    spec: &Spec,
    cx: &StageContext,
) -> Result<TaskOutcome, StageError> {
    tokio::time::timeout(Duration::from_secs(20), exec.execute(task, spec, cx))
        .await
        .expect("executor hung")
}

/// Whether a process exists and is not a zombie (an exited process nobody
/// has reaped yet counts as gone).
fn alive(pid: i32) -> bool {
    if !Path::new("/proc/self").exists() {
        return std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim().chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
    }
}

#[tokio::test]
async fn runs_in_the_repo_root_with_env_and_the_brief_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"]))
        .spec_name("ignored-when-the-spec-has-a-name")
        .run_id(RunId::new("run-7").unwrap())
        .build();
    let spec = spec();
    let t = find_task(&spec, "1.2");
    let script = "printf '%s|%s|%s|%s|%s\\n' \"$KIRO_WORKSPACE\" \"$KIRO_SPEC\" \"$KIRO_TASK_ID\" \
                  \"$KIRO_TASK_TITLE\" \"$KIRO_RUN_ID\" > env.txt; cat > brief.md; pwd -P > pwd.txt; \
                  echo working; echo; echo '  all done  '; echo";
    let outcome = run(&sh(script), t, &spec, &cx).await.unwrap();

    assert_eq!(outcome.status, OutcomeStatus::Done);
    assert_eq!(outcome.task, TaskId::new("1.2"));
    assert_eq!(outcome.summary, "all done");
    assert_eq!(outcome.evidence, "");

    let root = dir.path().canonicalize().unwrap();
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert_eq!(
        env,
        format!("{}|notes|1.2|Implement soft delete|run-7\n", root.display())
    );
    let pwd = std::fs::read_to_string(dir.path().join("pwd.txt")).unwrap();
    assert_eq!(pwd.trim_end(), root.display().to_string());
    let brief = std::fs::read_to_string(dir.path().join("brief.md")).unwrap();
    assert_eq!(brief, task_brief(t, &spec));
}

#[tokio::test]
async fn without_a_run_id_kiro_run_id_is_empty_and_the_context_names_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"]))
        .spec_name("from-context")
        .build();
    let script = "printf '[%s][%s]' \"$KIRO_RUN_ID\" \"$KIRO_SPEC\"";
    let outcome = run(&sh(script), &task("3", "Anything"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(outcome.summary, "[][from-context]");
}

#[tokio::test]
async fn extra_env_is_passed_but_kiro_variables_win() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let exec = sh("echo \"$AGENT_MODE/$KIRO_TASK_ID\"")
        .env("AGENT_MODE", "fast")
        .env("KIRO_TASK_ID", "spoofed");
    let outcome = run(&exec, &task("4.2", "X"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(outcome.summary, "fast/4.2");
}

#[tokio::test]
async fn silent_success_is_summarised_as_exit_0_and_duration_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let outcome = run(&sh("sleep 0.2"), &task("1", "Wait"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Done);
    assert_eq!(outcome.summary, "exit 0");
    assert!(outcome.duration_ms >= 200, "{}", outcome.duration_ms);
    assert!(outcome.duration_ms < 10_000);
}

#[tokio::test]
async fn long_last_lines_are_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let script = "i=0; while [ $i -lt 300 ]; do printf é; i=$((i+1)); done; echo";
    let outcome = run(&sh(script), &task("1", "Long"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(outcome.summary.chars().count(), 201);
    assert!(outcome.summary.ends_with('…'));
}

#[tokio::test]
async fn a_non_zero_exit_is_a_failed_outcome_with_stderr_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let outcome = run(
        &sh("echo progress; echo 'compile error: x' >&2; exit 4"),
        &task("2.1", "Break"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.summary, "exit 4");
    assert_eq!(outcome.evidence, "compile error: x");
    assert_eq!(outcome.task, TaskId::new("2.1"));

    // Without standard error, the end of standard output is the evidence.
    let outcome = run(
        &sh("echo only stdout; exit 1"),
        &task("2.2", "B"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(outcome.evidence, "only stdout");
}

#[tokio::test]
async fn evidence_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let script =
        "i=0; while [ $i -lt 3000 ]; do echo \"error line $i\" >&2; i=$((i+1)); done; exit 2";
    let outcome = run(&sh(script), &task("1", "Noisy"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert!(
        outcome.evidence.len() <= 17 * 1024,
        "{}",
        outcome.evidence.len()
    );
    assert!(outcome.evidence.ends_with("error line 2999"));
    assert!(outcome.evidence.starts_with("[kiro: "));
}

#[tokio::test]
async fn a_timeout_is_an_error_and_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let exec = sh("sleep 30 & echo $! > pidfile; wait").timeout(Duration::from_millis(500));
    let started = Instant::now();
    let err = run(&exec, &task("1", "Hang"), &Spec::default(), &cx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StageError::Timeout(d) if d == Duration::from_millis(500)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid: i32 = std::fs::read_to_string(dir.path().join("pidfile"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn cancellation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"]))
        .cancel(cancel.clone())
        .build();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let err = run(&sh("sleep 30"), &task("1", "Hang"), &Spec::default(), &cx)
        .await
        .unwrap_err();
    assert!(matches!(err, StageError::Cancelled), "{err:?}");
}

#[tokio::test]
async fn a_command_the_policy_denies_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    for commands in [&[][..], &["cargo"][..], &["sh -x"][..]] {
        let cx = StageContext::builder(workspace(dir.path(), commands)).build();
        let err = run(
            &sh("touch ran"),
            &task("1", "Denied"),
            &Spec::default(),
            &cx,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, StageError::Core(Error::CommandDenied { ref command }) if command == "sh -c touch ran"),
            "{err:?}"
        );
        assert!(!dir.path().join("ran").exists());
    }
}

#[tokio::test]
async fn a_missing_program_is_a_core_spawn_error() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["*"])).build();
    let exec = CommandExecutor::new(["kiro-no-such-agent-xyz"]);
    let err = run(&exec, &task("1", "X"), &Spec::default(), &cx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StageError::Core(Error::Spawn { ref program, .. }) if program == "kiro-no-such-agent-xyz"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_repo_option_picks_the_working_folder() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ws = Workspace::builder()
        .repo("app", a.path())
        .repo("docs", b.path())
        .policy(Policy {
            commands: vec!["sh".into()],
            ..Policy::default()
        })
        .build()
        .unwrap();
    let cx = StageContext::builder(ws).build();
    let pwd = "pwd -P";

    let first = run(&sh(pwd), &task("1", "X"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(
        first.summary,
        a.path().canonicalize().unwrap().display().to_string()
    );

    let docs = run(
        &sh(pwd).repo("docs"),
        &task("1", "X"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(
        docs.summary,
        b.path().canonicalize().unwrap().display().to_string()
    );

    let err = run(
        &sh(pwd).repo("nope"),
        &task("1", "X"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StageError::Core(Error::UnknownRepo { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_task_without_an_id_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["sh"])).build();
    let t = Task {
        title: "Unnumbered".into(),
        ..Task::default()
    };
    let err = run(&sh("true"), &t, &Spec::default(), &cx)
        .await
        .unwrap_err();
    assert!(matches!(err, StageError::Invalid(_)), "{err:?}");
}

#[test]
fn from_config_reads_command_and_timeout() {
    assert!(CommandExecutor::from_config(&ExecutorConfig::default()).is_none());
    let cfg = ExecutorConfig {
        command: Some(vec!["my-agent".into(), "-".into()]),
        preset: None,
        acp: None,
        timeout_secs: 42,
        state_dirs: vec!["~/.agent".into(), "/var/cache/agent".into()],
    };
    let exec = CommandExecutor::from_config(&cfg).unwrap();
    assert_eq!(exec.argv(), ["my-agent", "-"]);
    let dbg = format!("{exec:?}");
    assert!(dbg.contains("42s"), "{dbg}");
    // `~/` is the home directory; other paths are kept as written.
    let home = std::env::var("HOME").unwrap();
    assert!(dbg.contains(&format!("{home}/.agent")), "{dbg}");
    assert!(dbg.contains("/var/cache/agent"), "{dbg}");
}

#[test]
fn the_brief_holds_the_task_its_criteria_properties_and_design() {
    let spec = spec();
    let brief = task_brief(find_task(&spec, "1.2"), &spec);

    // The task and its context.
    assert!(
        brief.starts_with("# Task 1.2: Implement soft delete\n\n"),
        "{brief}"
    );
    assert!(brief.contains("- Spec: notes (feature)\n"), "{brief}");
    assert!(brief.contains("- Part of: task 1 (Storage)\n"), "{brief}");
    assert!(
        brief.contains("- Depends on: 1.1 (Create the note table)\n"),
        "{brief}"
    );
    assert!(brief.contains("- Requirements: 1.2, 9.9\n"), "{brief}");
    assert!(brief.contains("- Add a deleted_at column\n- Filter deleted notes in queries\n"));

    // The linked criterion with its requirement and story, and nothing else.
    assert!(
        brief.contains("### Requirement 1: Note storage\n"),
        "{brief}"
    );
    assert!(brief.contains("**User Story:** As a writer, I want my notes stored"));
    assert!(brief.contains("- 1.2: WHEN a user deletes a note, THE Note_Store SHALL remove it\n"));
    assert!(!brief.contains("1.1: WHEN a user saves"), "{brief}");
    assert!(!brief.contains("Requirement 2"), "{brief}");
    assert!(brief.contains("Not defined in the spec: 9.9\n"), "{brief}");

    // The property validating 1.2, not the one validating 2.2.
    assert!(
        brief.contains("### Property 1: Deleted notes stay gone\n"),
        "{brief}"
    );
    assert!(brief.contains("_Validates: Requirements 1.2_"), "{brief}");
    assert!(!brief.contains("Property 2"), "{brief}");

    // The overview and the section naming 1.2; not unrelated ones, nor a
    // section where 1.2 only appears inside other numbers.
    assert!(
        brief.contains("### Overview\n\nNotes live in SQLite"),
        "{brief}"
    );
    assert!(
        brief.contains("### Note Store\n\nDeletion (criterion 1.2)"),
        "{brief}"
    );
    assert!(!brief.contains("Architecture"), "{brief}");
    assert!(!brief.contains("Ranking"), "{brief}");
    assert!(!brief.contains("Search Pipeline"), "{brief}");

    // Sections come in a fixed order.
    let order = [
        "## Task\n",
        "## Requirements\n",
        "## Correctness properties\n",
        "## Design\n",
    ];
    let at: Vec<usize> = order.iter().map(|h| brief.find(h).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{brief}");

    // Deterministic.
    assert_eq!(brief, task_brief(find_task(&spec, "1.2"), &spec));
}

#[test]
fn a_whole_requirement_link_brings_all_its_criteria_and_sections_naming_it() {
    let spec = spec();
    let brief = task_brief(find_task(&spec, "2"), &spec);
    assert!(brief.starts_with("# Task 2: Build search\n"), "{brief}");
    assert!(!brief.contains("Part of:"), "{brief}");
    assert!(brief.contains("### Requirement 2: Search\n"));
    assert!(brief.contains("- 2.1: WHEN a user types a query"));
    assert!(brief.contains("- 2.2: THE Search_Index SHALL rank exact matches first"));
    assert!(!brief.contains("Not defined"), "{brief}");
    assert!(
        brief.contains("### Property 2: Exact matches rank first"),
        "{brief}"
    );
    assert!(!brief.contains("Property 1"), "{brief}");
    // "Search" is the requirement's title, and this section mentions it.
    assert!(brief.contains("### Search Pipeline\n"), "{brief}");
    assert!(!brief.contains("### Ranking"), "{brief}");
}

#[test]
fn a_requirement_title_mentioned_in_a_section_makes_it_relevant() {
    let mut spec = spec();
    let design = DESIGN.replace("The whole Search feature", "All of Note storage");
    spec.design = Some(parse_design(&design).value);
    let brief = task_brief(find_task(&spec, "1.1"), &spec);
    assert!(
        brief.contains("### Search Pipeline\n\nAll of Note storage"),
        "{brief}"
    );
    assert!(!brief.contains("## Correctness properties"), "{brief}");
}

#[test]
fn the_brief_of_a_bare_task_has_only_the_task() {
    let t = Task {
        details: vec!["Do the thing".into(), "\n```sh\nmake\n```".into()],
        ..task("7", "Lonely  task\ncontinued")
    };
    let brief = task_brief(&t, &Spec::default());
    assert_eq!(
        brief,
        "# Task 7: Lonely task continued\n\n## Task\n\nLonely  task\ncontinued\n\n- Do the thing\n\n```sh\nmake\n```\n"
    );
}

#[test]
fn a_bugfix_brief_quotes_the_linked_clauses() {
    let bugfix = "# Bugfix Requirements Document\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n\
                  1.1 WHEN the cache hangs THEN the server stops\n\n### Expected Behavior (Correct)\n\n\
                  2.1 WHEN the cache hangs THEN the system SHALL time out\n";
    let spec = Spec {
        name: "cache-hang".into(),
        kind: SpecKind::Bugfix,
        bugfix: Some(parse_bugfix(bugfix).value),
        ..Spec::default()
    };
    let t = Task {
        requirements: vec!["2.1".into()],
        ..task("1", "Add a timeout")
    };
    let brief = task_brief(&t, &spec);
    assert!(brief.contains("- Spec: cache-hang (bugfix)\n"), "{brief}");
    assert!(brief.contains("### Expected Behavior (Correct)\n\n- 2.1: WHEN the cache hangs THEN the system SHALL time out\n"), "{brief}");
    assert!(!brief.contains("Current Behavior"), "{brief}");

    let t = Task {
        requirements: vec!["1".into()],
        ..task("2", "Reproduce")
    };
    let brief = task_brief(&t, &spec);
    assert!(
        brief.contains("- 1.1: WHEN the cache hangs THEN the server stops\n"),
        "{brief}"
    );
    assert!(!brief.contains("Not defined"), "{brief}");
}

/// Annotations in a repository without `.kiro/specs` of its own are scoped
/// by the workspace's specs: with two specs, an annotation no `Feature:`
/// line scopes counts for neither, and a scoped one counts for its spec.
#[tokio::test]
async fn the_verifier_scopes_annotations_of_every_repository_by_the_workspace_specs() {
    use kiro_core::stage::Verifier;
    use kiro_core::stages::CommandVerifier;
    let app = tempfile::tempdir().unwrap();
    let lib = tempfile::tempdir().unwrap();
    for name in ["alpha", "beta"] {
        let dir = app.path().join(".kiro/specs").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("requirements.md"),
            "# Requirements Document\n\n## Requirements\n\n### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE System SHALL answer\n",
        )
        .unwrap();
    }
    std::fs::create_dir_all(lib.path().join("tests")).unwrap();
    std::fs::write(
        lib.path().join("tests/test_lib.py"),
        "# Validates: Requirements 1.1\ndef test_unscoped():\n    pass\n\n\n# Feature: alpha\n# Validates: Requirements 1.1\ndef test_scoped():\n    pass\n",
    )
    .unwrap();
    let ws = Workspace::builder()
        .repo("app", app.path())
        .repo("lib", lib.path())
        .policy(Policy {
            commands: vec!["sh".into()],
            ..Policy::default()
        })
        .build()
        .unwrap();
    let cx = StageContext::builder(ws).build();
    let verifier = CommandVerifier::new(["sh", "-c", "true"]);
    for (name, expected) in [("alpha", vec!["test_scoped"]), ("beta", vec![])] {
        let spec = Spec::load(app.path().join(".kiro/specs").join(name)).unwrap();
        let report = verifier.verify(&spec, &[], &cx).await.unwrap();
        let tests: Vec<&str> = report.criteria[0]
            .evidence
            .iter()
            .map(|e| e.test.as_str())
            .collect();
        assert_eq!(tests, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Sandbox: the agent under Landlock, enforce refusals, task cgroups
// (issue 11, item 1)
// ---------------------------------------------------------------------------

use kiro_core::config::Config;
use kiro_core::sandbox::{
    landlock_support, LandlockState, LaunchPlan, Launcher, SandboxError, SandboxMode, Support,
};

/// The name of the test that turns this test binary into the launcher.
const LAUNCHER_ENTRY: &str = "command_executor::sandbox_launcher_entry";

/// Not a test: when this binary is started as [`test_launcher`] says, it is
/// the sandbox launcher (as `kiro __sandbox` is for the CLI). libtest takes
/// every argument after `--` as a name filter, so the launcher's own
/// arguments pass through it untouched; run normally, it does nothing.
#[test]
#[ignore = "the launcher entry point of the sandbox tests, not a test"]
fn sandbox_launcher_entry() {
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip_while(|a| a != LAUNCHER_ENTRY)
        .skip(1)
        .collect();
    if args.is_empty() {
        return;
    }
    // `launcher_main` only returns when the agent did not start.
    std::process::exit(i32::from(kiro_core::sandbox::launch(args)));
}

/// This test binary, run as the launcher (a program embedding kiro-core
/// passes its own executable the same way).
fn test_launcher() -> Launcher {
    let exe = std::env::current_exe().unwrap();
    Launcher::new(
        exe,
        [
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
            "--",
            LAUNCHER_ENTRY,
        ],
    )
}

fn sandboxed_workspace(root: &Path, writable: &[&str]) -> Workspace {
    Workspace::builder()
        .repo("main", root)
        .policy(Policy {
            writable: writable.iter().map(|w| w.to_string()).collect(),
            commands: vec!["sh".into()],
        })
        .build()
        .unwrap()
}

/// `Some(reason)` when this kernel has no Landlock, printed as the skip reason.
fn no_landlock() -> Option<String> {
    let support = landlock_support();
    let reason = support.reason?;
    eprintln!("skipped: Landlock unavailable here ({reason})");
    Some(reason)
}

#[tokio::test]
async fn under_landlock_the_agent_writes_only_beneath_the_writable_directories() {
    if no_landlock().is_some() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(repo.join(".kiro/runs")).unwrap();
    std::fs::write(repo.join("README.md"), "original\n").unwrap();
    std::fs::write(repo.join(".kiro/runs/log.jsonl"), "{}\n").unwrap();
    // Outside both the repository and the agent's private temp dir.
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("target.txt"), "kept\n").unwrap();
    let script = format!(
        "{{ echo x > ../outside.txt; echo x > '{victim}/abs.txt'; echo x > README.md; \
           ln -s '{victim}/target.txt' src/link && echo x >> src/link; rm -rf .kiro; }} 2> src/errors; \
         echo ok > src/x; echo t > \"$TMPDIR/t\" && echo tmp-ok > src/tmp",
        victim = victim.path().display()
    );
    let cx = StageContext::builder(sandboxed_workspace(&repo, &["src/**"])).build();
    let exec = sh(&script).launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Confined"), &Spec::default(), &cx)
        .await
        .unwrap();

    let errors = std::fs::read_to_string(repo.join("src/errors")).unwrap();
    assert!(
        errors.matches("Permission denied").count() >= 4,
        "every write outside src/ fails with EACCES:\n{errors}"
    );
    assert!(!outer.path().join("outside.txt").exists());
    assert!(!victim.path().join("abs.txt").exists());
    assert_eq!(
        std::fs::read_to_string(repo.join("README.md")).unwrap(),
        "original\n"
    );
    // The symlink itself lies in src/, but writing through it does not.
    assert!(repo.join("src/link").is_symlink());
    assert_eq!(
        std::fs::read_to_string(victim.path().join("target.txt")).unwrap(),
        "kept\n"
    );
    // `rm -rf .kiro` cannot touch the checkpoint store.
    assert!(repo.join(".kiro/runs/log.jsonl").exists());
    assert_eq!(std::fs::read_to_string(repo.join("src/x")).unwrap(), "ok\n");
    assert_eq!(
        std::fs::read_to_string(repo.join("src/tmp")).unwrap(),
        "tmp-ok\n"
    );

    let report = outcome.sandbox.expect("the outcome records the sandbox");
    assert_eq!(report.mode, SandboxMode::BestEffort);
    assert!(
        matches!(report.landlock, LandlockState::Enforced { abi } if abi >= 1),
        "{report:?}"
    );
    assert_eq!(report.writable, ["src/"]);
    assert!(report.pdeathsig);
    assert!(report.cgroup.is_some() || report.cgroup_unavailable.is_some());
    assert!(report.to_string().starts_with("landlock enforced (ABI "));
}

#[tokio::test]
async fn a_missing_writable_directory_is_created_and_a_symlink_out_is_not_granted() {
    if no_landlock().is_some() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), repo.join("out")).unwrap();
    let cx = StageContext::builder(sandboxed_workspace(&repo, &["gen/**", "out/**"])).build();
    let exec =
        sh("echo made > gen/new.txt; echo x > out/escape.txt; true").launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Gen"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(repo.join("gen/new.txt")).unwrap(),
        "made\n"
    );
    assert!(!elsewhere.path().join("escape.txt").exists());
    assert_eq!(outcome.sandbox.unwrap().writable, ["gen/"]);
}

#[tokio::test]
async fn a_state_dir_outside_the_workspace_is_writable_only_when_granted() {
    if no_landlock().is_some() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let state = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(sandboxed_workspace(&repo, &["src/**"])).build();
    let script = format!(
        "echo s > '{}/session.json'; echo done > src/done",
        state.path().display()
    );

    // Not granted: the agent's own state write is refused like any other.
    run(
        &sh(&script).launcher(test_launcher()),
        &task("1", "A"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap();
    assert!(!state.path().join("session.json").exists());

    let exec = sh(&script)
        .launcher(test_launcher())
        .state_dir(state.path())
        .state_dir("relative/is/not/granted");
    let outcome = run(&exec, &task("2", "B"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(state.path().join("session.json")).unwrap(),
        "s\n"
    );
    let canon = state.path().canonicalize().unwrap();
    assert_eq!(
        outcome.sandbox.unwrap().writable,
        ["src/".to_owned(), format!("{}/", canon.display())]
    );
}

#[tokio::test]
async fn enforce_refuses_to_run_an_agent_it_cannot_confine() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(sandboxed_workspace(dir.path(), &["src/**"])).build();
    let unavailable = Support::unavailable("simulated kernel without Landlock");
    let cases = [
        (
            sh("touch ran")
                .sandbox(SandboxMode::Enforce)
                .landlock_support(unavailable.clone())
                .launcher(test_launcher()),
            "simulated kernel without Landlock",
        ),
        (sh("touch ran").sandbox(SandboxMode::Enforce), "no launcher"),
    ];
    for (exec, reason) in cases {
        let err = run(&exec, &task("1", "Refused"), &Spec::default(), &cx)
            .await
            .unwrap_err();
        let refused = match &err {
            StageError::Core(Error::Backend(inner)) => inner.downcast_ref::<SandboxError>(),
            _ => None,
        };
        assert!(
            matches!(refused, Some(SandboxError::Refused { reason: r }) if r.contains(reason)),
            "{err:?}"
        );
        assert!(err.to_string().contains("enforce"), "{err}");
        assert!(!dir.path().join("ran").exists(), "a refused agent ran");
    }

    // best-effort runs it unconfined and says why.
    let exec = sh("touch ran")
        .landlock_support(unavailable)
        .launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Unconfined"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert!(dir.path().join("ran").exists());
    let report = outcome.sandbox.unwrap();
    assert_eq!(
        report.landlock,
        LandlockState::Unavailable {
            reason: "simulated kernel without Landlock".into()
        }
    );
    assert!(report.writable.is_empty());
    assert_eq!(
        report.pdeathsig,
        cfg!(target_os = "linux"),
        "the launcher still arms the parent-death signal"
    );
}

#[test]
fn the_launcher_itself_refuses_enforce_without_landlock() {
    let dir = tempfile::tempdir().unwrap();
    let plan = LaunchPlan::new(SandboxMode::Enforce)
        .writable_dir(dir.path())
        .landlock_support(&Support::unavailable("simulated"));
    let launcher = test_launcher();
    let argv = launcher.command_line(&plan, &["sh", "-c", "touch ran"]);
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kiro-sandbox: {\"refused\":{\"reason\":\"simulated\"}}"),
        "{stderr}"
    );
    assert!(!dir.path().join("ran").exists());
}

#[tokio::test]
async fn the_sandbox_mode_comes_from_the_policy_config_unless_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse("[policy]\nsandbox = \"off\"\n", "config.toml").unwrap();
    assert_eq!(config.policy.sandbox, SandboxMode::Off);
    assert!(Config::parse("[policy]\nsandbox = \"strict\"\n", "config.toml").is_err());
    assert_eq!(Config::default().policy.sandbox, SandboxMode::BestEffort);

    let cx = StageContext::builder(sandboxed_workspace(dir.path(), &["src/**"]))
        .config(config)
        .build();
    let exec = sh("echo x > README.md").launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Off"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert!(
        dir.path().join("README.md").exists(),
        "off confines nothing"
    );
    assert_eq!(outcome.sandbox.unwrap().landlock, LandlockState::Off);

    if no_landlock().is_some() {
        return;
    }
    // The builder wins over the config.
    let exec = sh("echo y > README.md; true")
        .sandbox(SandboxMode::Enforce)
        .launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Enforced"), &Spec::default(), &cx)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "x\n"
    );
    let report = outcome.sandbox.unwrap();
    assert_eq!(report.mode, SandboxMode::Enforce);
    assert!(matches!(report.landlock, LandlockState::Enforced { .. }));
}

#[tokio::test]
async fn through_the_launcher_a_missing_agent_is_still_a_spawn_error() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["*"])).build();
    let exec = CommandExecutor::new(["kiro-no-such-agent-xyz"]).launcher(test_launcher());
    let err = run(&exec, &task("1", "X"), &Spec::default(), &cx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StageError::Core(Error::Spawn { ref program, ref source })
            if program == "kiro-no-such-agent-xyz" && source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
}

#[tokio::test]
async fn processes_that_leave_the_group_are_stopped_with_the_task() {
    if let Err(why) = kiro_core::sandbox::cgroup::TaskCgroup::create(1_000_000) {
        eprintln!("skipped: no writable cgroup v2 here ({why})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(sandboxed_workspace(dir.path(), &["**"])).build();
    let exec = sh(
        "setsid sh -c 'touch left; sleep 0.4; touch escaped' </dev/null >/dev/null 2>&1 & \
         while [ ! -e left ]; do sleep 0.01; done",
    )
    .launcher(test_launcher());
    let outcome = run(&exec, &task("1", "Daemon"), &Spec::default(), &cx)
        .await
        .unwrap();
    let report = outcome.sandbox.unwrap();
    assert!(report.cgroup.is_some(), "{report:?}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !dir.path().join("escaped").exists(),
        "a process that left the task's group outlived the task"
    );
}

// `[executor] preset`: each agent CLI run through the real executor, as a
// stand-in script of the same name placed first on `PATH`.

/// The arguments each preset's program must receive (after its name) and
/// where the brief goes: written out here rather than read from the preset
/// table, so that changing a documented flag is a deliberate edit of both.
fn documented_preset(preset: AgentPreset) -> (&'static str, Vec<&'static str>, BriefInput) {
    match preset {
        AgentPreset::ClaudeCode => (
            "claude",
            vec![
                "-p",
                "--permission-mode",
                "bypassPermissions",
                "--output-format",
                "text",
                PRESET_INSTRUCTION,
            ],
            BriefInput::Stdin,
        ),
        AgentPreset::Codex => (
            "codex",
            vec![
                "exec",
                "--sandbox",
                "workspace-write",
                "--skip-git-repo-check",
                "--color",
                "never",
                "-",
            ],
            BriefInput::Stdin,
        ),
        AgentPreset::Gemini => (
            "gemini",
            vec![
                "--yolo",
                "--output-format",
                "text",
                "-p",
                PRESET_INSTRUCTION,
            ],
            BriefInput::Stdin,
        ),
        AgentPreset::Aider => (
            "aider",
            vec![
                "--yes-always",
                "--no-auto-commits",
                "--no-dirty-commits",
                "--no-gitignore",
                "--no-pretty",
                "--no-check-update",
                "--chat-history-file",
                "/dev/null",
                "--input-history-file",
                "/dev/null",
                "--message",
            ],
            BriefInput::Argument,
        ),
        AgentPreset::KiroCli => (
            "kiro-cli",
            vec!["chat", "--no-interactive", "--trust-all-tools"],
            BriefInput::Stdin,
        ),
    }
}

/// Writes `<bin>/<program>`, a stand-in agent that records its arguments
/// (NUL-separated) and standard input under `agent/`, appends a line to
/// `src/lib.rs`, tries to write outside the writable paths, and prints a
/// summary line.
fn stand_in(bin: &Path, program: &str) {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        "#!/bin/sh\n\
         out=\"$KIRO_WORKSPACE/agent\"\n\
         : > \"$out/argv\"\n\
         for a in \"$@\"; do printf '%s\\0' \"$a\" >> \"$out/argv\"; done\n\
         cat > \"$out/stdin\"\n\
         echo '// {program} did task '\"$KIRO_TASK_ID\" >> \"$KIRO_WORKSPACE/src/lib.rs\"\n\
         {{ echo x > \"$KIRO_WORKSPACE/outside.txt\"; }} 2>/dev/null\n\
         echo \"{program}: done task $KIRO_TASK_ID\"\n"
    );
    let path = bin.join(program);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `bin` first, then the test's own `PATH`.
fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn preset_workspace(root: &Path, program: &str) -> Workspace {
    Workspace::builder()
        .repo("main", root)
        .policy(Policy {
            writable: vec!["src/**".into(), "agent/**".into()],
            commands: vec![program.into()],
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_preset_runs_its_agent_with_the_documented_command_line_and_brief() {
    let spec = spec();
    let t = find_task(&spec, "1.2");
    let brief = task_brief(t, &spec);
    for preset in AgentPreset::ALL {
        let (program, args, input) = documented_preset(preset);
        let bin = tempfile::tempdir().unwrap();
        stand_in(bin.path(), program);
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("agent")).unwrap();
        std::fs::create_dir_all(repo.path().join("src")).unwrap();
        std::fs::write(repo.path().join("src/lib.rs"), "// lib\n").unwrap();

        // Through the configuration, as `kiro run` builds it, and confined
        // as the CLI confines agents.
        let config = ExecutorConfig {
            preset: Some(preset),
            ..ExecutorConfig::default()
        };
        let exec = CommandExecutor::from_config(&config)
            .unwrap()
            .env("PATH", path_with(bin.path()))
            .launcher(test_launcher());
        assert_eq!(exec.brief(), input, "{preset}");
        let cx = StageContext::builder(preset_workspace(repo.path(), program)).build();
        let outcome = run(&exec, t, &spec, &cx).await.unwrap();

        assert_eq!(outcome.status, OutcomeStatus::Done, "{preset}: {outcome:?}");
        assert_eq!(outcome.summary, format!("{program}: done task 1.2"));
        let recorded = std::fs::read(repo.path().join("agent/argv")).unwrap();
        let mut got: Vec<String> = recorded
            .split(|b| *b == 0)
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect();
        assert_eq!(got.pop().as_deref(), Some(""), "NUL-terminated");
        let stdin = std::fs::read_to_string(repo.path().join("agent/stdin")).unwrap();
        let mut want: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match input {
            BriefInput::Stdin => assert_eq!(stdin, brief, "{preset}: the brief on stdin"),
            BriefInput::Argument => {
                want.push(brief.clone());
                assert_eq!(stdin, "", "{preset}: stdin is empty");
            }
        }
        assert_eq!(got, want, "{preset}");
        assert_eq!(
            std::fs::read_to_string(repo.path().join("src/lib.rs")).unwrap(),
            format!("// lib\n// {program} did task 1.2\n")
        );
        let report = outcome.sandbox.unwrap();
        if report.landlock.is_enforced() {
            assert!(!repo.path().join("outside.txt").exists(), "{preset}");
        }
    }
}

#[tokio::test]
async fn a_brief_too_long_for_an_argument_fails_before_the_agent_runs() {
    let bin = tempfile::tempdir().unwrap();
    stand_in(bin.path(), "aider");
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("agent")).unwrap();
    let cx = StageContext::builder(preset_workspace(repo.path(), "aider")).build();
    let exec = CommandExecutor::preset(AgentPreset::Aider).env("PATH", path_with(bin.path()));
    let huge = Task {
        details: vec!["word ".repeat(30_000)],
        ..task("7", "Write a lot")
    };
    let err = run(&exec, &huge, &Spec::default(), &cx).await.unwrap_err();
    let StageError::Invalid(why) = &err else {
        panic!("{err:?}")
    };
    assert!(why.contains("task 7") && why.contains("131071"), "{why}");
    assert!(!repo.path().join("agent/argv").exists(), "nothing ran");

    // The same task through a preset that reads standard input runs.
    stand_in(bin.path(), "codex");
    let cx = StageContext::builder(preset_workspace(repo.path(), "codex")).build();
    std::fs::create_dir_all(repo.path().join("src")).unwrap();
    let exec = CommandExecutor::preset(AgentPreset::Codex).env("PATH", path_with(bin.path()));
    let outcome = run(&exec, &huge, &Spec::default(), &cx).await.unwrap();
    assert_eq!(outcome.summary, "codex: done task 7");
    let stdin = std::fs::read_to_string(repo.path().join("agent/stdin")).unwrap();
    assert!(stdin.len() > 150_000, "{}", stdin.len());
}

#[tokio::test]
async fn a_preset_the_policy_does_not_allow_does_not_run_and_the_denial_omits_the_brief() {
    let dir = tempfile::tempdir().unwrap();
    let cx = StageContext::builder(workspace(dir.path(), &["claude"])).build();
    let err = run(
        &CommandExecutor::preset(AgentPreset::Aider),
        &task("1", "Secret plan"),
        &Spec::default(),
        &cx,
    )
    .await
    .unwrap_err();
    let StageError::Core(Error::CommandDenied { command }) = &err else {
        panic!("{err:?}")
    };
    assert!(command.starts_with("aider --yes-always "), "{command}");
    assert!(!command.contains("Secret plan"), "{command}");
}
