//! Tasks run by hand through the project layer (`kiro task`, the MCP
//! server): which tasks are ready, starting and completing one, and the
//! checkpoint that lets `kiro rollback` undo it.

use std::path::Path;

use kiro_core::audit::AuditKind;
use kiro_core::checkpoint::CheckpointRef;
use kiro_core::config::{Config, TaskOrder};
use kiro_core::project::{Project, ProjectError, ReadyKind};

const REQUIREMENTS: &str = "# Requirements Document\n\n## Requirements\n\n\
### Requirement 1: Notes\n\n#### Acceptance Criteria\n\n\
1. WHEN a user saves a note, THE App SHALL store it\n\
2. WHEN a user deletes a note, THE App SHALL remove it\n";

/// A workspace with one spec `notes` whose tasks.md is `tasks`.
fn workspace(tasks: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("requirements.md"), REQUIREMENTS).unwrap();
    std::fs::write(spec.join("tasks.md"), tasks).unwrap();
    dir
}

fn project(root: &Path, order: TaskOrder) -> Project {
    let mut config = Config::default();
    config.pipeline.order = order;
    Project::builder(root).config(config).open().unwrap()
}

fn ready_ids(project: &Project) -> Vec<String> {
    let dir = project.spec_dir("notes").unwrap();
    let spec = project.load_spec(&dir).unwrap().spec;
    project
        .ready_tasks(&spec)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect()
}

fn tasks_md(root: &Path) -> String {
    std::fs::read_to_string(root.join(".kiro/specs/notes/tasks.md")).unwrap()
}

#[test]
fn ready_tasks_follow_the_plan() {
    // (tasks.md, order, ready ids)
    let cases: &[(&str, TaskOrder, &[&str])] = &[
        (
            "- [ ] 1. Store\n  - [ ] 1.1 Model\n  - [ ] 1.2 Save\n- [ ] 2. Delete\n",
            TaskOrder::Document,
            &["1.1"],
        ),
        (
            "- [ ] 1. Store\n  - [x] 1.1 Model\n  - [ ] 1.2 Save\n- [ ] 2. Delete\n",
            TaskOrder::Document,
            &["1.2"],
        ),
        (
            "- [ ] 1. Store\n  - [x] 1.1 Model\n  - [x] 1.2 Save\n- [ ] 2. Delete\n",
            TaskOrder::Document,
            &["2"],
        ),
        // A started task is still listed (in progress).
        (
            "- [-] 1. Store\n- [ ] 2. Delete\n",
            TaskOrder::Document,
            &["1"],
        ),
        // An optional task not done does not hold up the next one.
        (
            "- [ ]* 1. Docs\n- [ ] 2. Delete\n",
            TaskOrder::Document,
            &["1", "2"],
        ),
        // Declared order: only `_Depends:` orders tasks.
        (
            "- [ ] 1. Store\n- [ ] 2. Delete\n- [ ] 3. Sync\n  - _Depends: 1_\n",
            TaskOrder::Declared,
            &["1", "2"],
        ),
        (
            "- [x] 1. Store\n- [ ] 2. Delete\n- [ ] 3. Sync\n  - _Depends: 1_\n",
            TaskOrder::Declared,
            &["2", "3"],
        ),
        (
            "- [x] 1. Store\n- [x] 2. Delete\n",
            TaskOrder::Document,
            &[],
        ),
    ];
    for (tasks, order, want) in cases {
        let ws = workspace(tasks);
        assert_eq!(ready_ids(&project(ws.path(), *order)), *want, "{tasks}");
    }
}

#[test]
fn a_ready_task_carries_its_brief_and_criteria() {
    let ws = workspace(
        "- [ ] 1. Store notes\n  - Write the repository\n  - _Requirements: 1.1_\n\
         - [ ] 2. Checkpoint - review the storage\n",
    );
    let project = project(ws.path(), TaskOrder::Document);
    let spec = project
        .load_spec(&project.spec_dir("notes").unwrap())
        .unwrap()
        .spec;
    let ready = project.ready_tasks(&spec).unwrap();
    assert_eq!(ready.len(), 1);
    let task = &ready[0];
    assert_eq!(task.title, "Store notes");
    assert_eq!(task.kind, ReadyKind::Task);
    assert!(
        task.brief.starts_with("# Task 1: Store notes\n"),
        "{}",
        task.brief
    );
    assert_eq!(task.criteria.len(), 1);
    assert_eq!(task.criteria[0].id, "1.1");
    assert_eq!(
        task.criteria[0].text,
        "WHEN a user saves a note, THE App SHALL store it"
    );
    project.complete_task("notes", "1", "stored").unwrap();
    let spec = project
        .load_spec(&project.spec_dir("notes").unwrap())
        .unwrap()
        .spec;
    let ready = project.ready_tasks(&spec).unwrap();
    assert_eq!(ready[0].kind, ReadyKind::Checkpoint);
}

#[test]
fn start_refuses_tasks_that_are_not_ready() {
    let ws = workspace("- [ ] 1. Store\n  - [ ] 1.1 Model\n  - [ ] 1.2 Save\n- [x] 2. Delete\n");
    let project = project(ws.path(), TaskOrder::Document);
    let before = tasks_md(ws.path());
    match project.start_task("notes", "1.2") {
        Err(ProjectError::TaskNotReady {
            task, waiting_for, ..
        }) => assert_eq!((task.as_str(), waiting_for.as_str()), ("1.2", "1.1")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        project.start_task("notes", "1"),
        Err(ProjectError::ParentTask { .. })
    ));
    assert!(matches!(
        project.start_task("notes", "2"),
        Err(ProjectError::TaskAlreadyDone { .. })
    ));
    assert!(matches!(
        project.start_task("notes", "9"),
        Err(ProjectError::UnknownTask { .. })
    ));
    assert!(matches!(
        project.start_task("nope", "1"),
        Err(ProjectError::UnknownSpec { .. })
    ));
    assert!(matches!(
        project.complete_task("notes", "1.2", "x"),
        Err(ProjectError::TaskNotReady { .. })
    ));
    let message = project.start_task("notes", "1.2").unwrap_err().to_string();
    assert!(message.contains("waits for task 1.1"), "{message}");
    // A refused call changes nothing.
    assert_eq!(tasks_md(ws.path()), before);
    assert!(project.checkpoints(Some("notes")).unwrap().runs.is_empty());
}

#[test]
fn start_then_complete_marks_checkpoints_audits_and_rolls_back() {
    let ws = workspace("# Plan\n\n- [ ] 1. Store\n  - [ ] 1.1 Model\n  - [ ] 1.2 Save\n");
    let root = ws.path();
    std::fs::write(root.join("keep.txt"), "v1\n").unwrap();
    let project = project(root, TaskOrder::Document);

    let started = project.start_task("notes", "1.1").unwrap();
    assert!(started.newly_started);
    assert!(tasks_md(root).contains("  - [-] 1.1 Model\n"));
    // Starting again keeps the baseline.
    assert!(!project.start_task("notes", "1.1").unwrap().newly_started);

    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/model.rs"), "pub struct Note;\n").unwrap();
    std::fs::write(root.join("keep.txt"), "v2\n").unwrap();
    let done = project
        .complete_task("notes", "1.1", "model written")
        .unwrap();
    assert_eq!(done.task, "1.1");
    assert_eq!(
        done.files,
        [".kiro/specs/notes/tasks.md", "keep.txt", "src/model.rs"]
    );
    assert!(done.parents_done.is_empty());
    assert_eq!(done.ready, ["1.2"]);
    assert!(tasks_md(root).contains("  - [x] 1.1 Model\n"));

    // The second task, completed without being started, ends the parent.
    std::fs::write(root.join("src/save.rs"), "pub fn save() {}\n").unwrap();
    let second = project.complete_task("notes", "1.2", "saving").unwrap();
    assert_eq!(second.parents_done, ["1"]);
    assert!(second.ready.is_empty());
    assert_eq!(
        tasks_md(root),
        "# Plan\n\n- [x] 1. Store\n  - [x] 1.1 Model\n  - [x] 1.2 Save\n"
    );
    assert!(
        second.files.contains(&"src/save.rs".to_owned()),
        "{:?}",
        second.files
    );

    // One run: the manual node, then a checkpoint per task and the parent.
    let list = project.checkpoints(Some("notes")).unwrap();
    assert_eq!(list.runs.len(), 1);
    let nodes: Vec<&str> = list.runs[0]
        .checkpoints
        .iter()
        .map(|c| c.node.as_str())
        .collect();
    assert_eq!(nodes, ["node manual", "task 1.1", "task 1.2", "task 1"]);

    // Both completions are in the audit log.
    let entries = project.audit_log().unwrap().entries().unwrap();
    let tasks: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == AuditKind::Task)
        .map(|e| e.data["task"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tasks, ["1.1", "1.2"]);
    assert_eq!(done.audit_seq + 1, second.audit_seq);

    // Rolling back to the first task's parent undoes both tasks.
    let to: CheckpointRef = done.parent.parse().unwrap();
    project.rollback(&to).unwrap();
    assert_eq!(
        tasks_md(root),
        "# Plan\n\n- [ ] 1. Store\n  - [ ] 1.1 Model\n  - [ ] 1.2 Save\n"
    );
    assert!(!root.join("src/model.rs").exists());
    assert!(!root.join("src/save.rs").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("keep.txt")).unwrap(),
        "v1\n"
    );
}

#[test]
fn a_task_checkpoint_alone_is_undone_by_rolling_back_to_its_parent() {
    let ws = workspace("- [ ] 1. Store\n- [ ] 2. Delete\n");
    let root = ws.path();
    let project = project(root, TaskOrder::Document);
    std::fs::write(root.join("a.txt"), "one\n").unwrap();
    project.complete_task("notes", "1", "first").unwrap();
    project.start_task("notes", "2").unwrap();
    std::fs::write(root.join("b.txt"), "two\n").unwrap();
    let second = project.complete_task("notes", "2", "second").unwrap();
    assert_eq!(second.files, [".kiro/specs/notes/tasks.md", "b.txt"]);
    project.rollback(&second.parent.parse().unwrap()).unwrap();
    assert_eq!(tasks_md(root), "- [x] 1. Store\n- [ ] 2. Delete\n");
    assert!(root.join("a.txt").exists());
    assert!(!root.join("b.txt").exists());
}
