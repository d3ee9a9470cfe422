//! `kiro approve`, `kiro approvals` and `kiro run` under `.kiro/policy.toml`:
//! a local identity allowed or refused, and a run stopping at an
//! unapproved gate with exit 3 until the right role approves.

use std::path::Path;
use std::process::Output;

use crate::common::{expect_code, kiro_cmd, stderr, stdout};

const REQUIREMENTS: &str = "# Requirements Document

## Requirements

### Requirement 1

**User Story:** As a user, I want notes, so that I remember things.

#### Acceptance Criteria

1. WHEN a user saves a note, THE Notes_App SHALL store the note.
";

const TASKS: &str = "# Implementation Plan

- [ ] 1. Store notes
  - _Requirements: 1.1_
";

const POLICY: &str = "[identity]
allow_unverified = true

[roles]
lead = [\"user:ann\"]

[gates]
tasks = [\"lead\"]
";

/// A workspace with spec `notes`, the policy above and an executor that
/// does nothing.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("requirements.md"), REQUIREMENTS).unwrap();
    std::fs::write(spec.join("tasks.md"), TASKS).unwrap();
    std::fs::write(dir.path().join(".kiro/policy.toml"), POLICY).unwrap();
    std::fs::write(
        dir.path().join(".kiro/config.toml"),
        "[executor]\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n",
    )
    .unwrap();
    dir
}

/// `kiro <args>` in `root` as the local user `actor`.
fn kiro_as(root: &Path, actor: &str, args: &[&str]) -> Output {
    kiro_cmd(root, args)
        .env("KIRO_ACTOR", actor)
        .output()
        .unwrap()
}

#[test]
fn approve_with_a_local_identity_is_allowed_or_refused_by_role() {
    let dir = workspace();
    let refused = kiro_as(dir.path(), "bob", &["approve", "notes", "tasks"]);
    expect_code(&refused, 1);
    let err = stderr(&refused);
    assert!(
        err.contains(
            "approval of gate `tasks` of spec `notes` refused: bob is in none of the roles lead"
        ),
        "{err}"
    );
    assert!(err.contains("lead (user:ann)"), "{err}");

    let approved = kiro_as(dir.path(), "ann", &["approve", "notes", "tasks"]);
    expect_code(&approved, 0);
    assert!(stdout(&approved).contains("approved gate `tasks` of spec `notes` as ann"));

    let listed = kiro_as(
        dir.path(),
        "ann",
        &["approvals", "notes", "--format", "json"],
    );
    expect_code(&listed, 0);
    let records: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1);
    assert_eq!(records[0]["valid"], true);
    assert_eq!(records[0]["approval"]["identity"]["name"], "ann");

    // The refusal is in the audit log, before the approval.
    let log = std::fs::read_to_string(dir.path().join(".kiro/audit.jsonl")).unwrap();
    let kinds: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .collect();
    assert_eq!(kinds, ["\"policy_refusal\"", "\"policy_approval\""]);
}

#[test]
fn approve_without_a_policy_or_with_a_bad_gate_is_a_usage_error() {
    let dir = workspace();
    let bad_gate = kiro_as(dir.path(), "ann", &["approve", "notes", "deploy"]);
    expect_code(&bad_gate, 2);
    std::fs::remove_file(dir.path().join(".kiro/policy.toml")).unwrap();
    let no_policy = kiro_as(dir.path(), "ann", &["approve", "notes", "tasks"]);
    expect_code(&no_policy, 2);
    assert!(stderr(&no_policy).contains("policy.toml does not exist"));
}

#[test]
fn run_stops_at_an_unapproved_gate_with_exit_3_then_passes_after_approval() {
    let dir = workspace();
    let args = ["run", "notes", "--yes", "--until", "execute"];
    let stopped = kiro_as(dir.path(), "ann", &args);
    expect_code(&stopped, 3);
    let err = stderr(&stopped);
    assert!(err.contains("lead (user:ann)"), "{err}");
    assert!(err.contains("kiro approve notes tasks"), "{err}");
    let tasks = std::fs::read_to_string(dir.path().join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(tasks.contains("- [ ] 1."), "{tasks}");

    expect_code(
        &kiro_as(dir.path(), "ann", &["approve", "notes", "tasks"]),
        0,
    );
    let done = kiro_as(dir.path(), "ann", &args);
    expect_code(&done, 0);
    let tasks = std::fs::read_to_string(dir.path().join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(tasks.contains("- [x] 1."), "{tasks}");
}
