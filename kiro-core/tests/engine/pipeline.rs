//! The engine: scheduling, failures, gates, cancellation, checkpoints,
//! resume, rollback and fork, with in-process stages, and with concurrent
//! `sh -c` commands for what checkpoints hold when tasks race.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiro_core::checkpoint::{CheckpointStore, FileCheckpointStore};
use kiro_core::config::TaskOrder;
use kiro_core::pipeline::{
    fork, rollback, NodePolicy, Pipeline, PipelineEvent, RunOptions, RunStatus,
};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{
    Approval, Approver, Artifacts, EventSink, Executor, Gate, Node, OutcomeStatus, Phase,
    RequirementsInput, StageContext, StageError, TaskOutcome, TokenUsage,
};
use kiro_core::workspace::{Policy, Workspace};
use kiro_core::Error;
use tokio_util::sync::CancellationToken;

use crate::whole_tree;

/// What the test executor does for one task id.
#[derive(Clone, Debug)]
enum Act {
    Sleep(u64),
    Fail,
    /// Fails with a retryable error this many times, then succeeds.
    Flaky(u32),
    /// Writes a file through the workspace.
    Write(&'static str, &'static str),
    /// Waits until the run is cancelled.
    Block,
}

#[derive(Default)]
struct Log {
    spans: Vec<(String, Instant, Instant)>,
    calls: HashMap<String, u32>,
}

#[derive(Clone, Default)]
struct TestExecutor {
    acts: HashMap<String, Act>,
    log: Arc<Mutex<Log>>,
}

impl TestExecutor {
    fn with(acts: &[(&str, Act)]) -> TestExecutor {
        TestExecutor {
            acts: acts
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            log: Arc::default(),
        }
    }
    fn calls(&self, id: &str) -> u32 {
        self.log.lock().unwrap().calls.get(id).copied().unwrap_or(0)
    }
    fn spans(&self) -> BTreeMap<String, (Instant, Instant)> {
        self.log
            .lock()
            .unwrap()
            .spans
            .iter()
            .map(|(k, a, b)| (k.clone(), (*a, *b)))
            .collect()
    }
}

#[async_trait]
impl Executor for TestExecutor {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        let n = {
            let mut log = self.log.lock().unwrap();
            let c = log.calls.entry(id.to_string()).or_default();
            *c += 1;
            *c
        };
        let start = Instant::now();
        let r = match self.acts.get(id.as_str()).cloned().unwrap_or(Act::Sleep(0)) {
            Act::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(TaskOutcome::done(id.clone(), "ok"))
            }
            Act::Fail => Ok(TaskOutcome::failed(id.clone(), "exit 1", "boom")),
            Act::Flaky(k) if n <= k => Err(StageError::transient("busy")),
            Act::Flaky(_) => Ok(TaskOutcome::done(id.clone(), "ok")),
            Act::Write(path, text) => {
                cx.workspace().write("main", path, text.as_bytes())?;
                Ok(TaskOutcome::done(id.clone(), "written"))
            }
            Act::Block => {
                cx.cancel().cancelled().await;
                Err(StageError::Cancelled)
            }
        };
        self.log
            .lock()
            .unwrap()
            .spans
            .push((id.to_string(), start, Instant::now()));
        r
    }
}

fn spec_with_tasks(tasks_md: &str) -> Spec {
    Spec {
        name: "demo".into(),
        tasks: Some(kiro_core::format::parse_tasks(tasks_md).value),
        ..Spec::default()
    }
}

fn workspace(dir: &Path) -> Arc<Workspace> {
    Arc::new(
        Workspace::builder()
            .repo("main", dir)
            .policy(Policy::permissive())
            .build()
            .unwrap(),
    )
}

fn overlap(a: (Instant, Instant), b: (Instant, Instant)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

const FLAT: &str = "# Plan\n\n- [ ] 1. One\n- [ ] 2. Two\n- [ ] 3. Three\n";

#[tokio::test]
async fn independent_tasks_overlap_and_dependent_ones_never_do() {
    let dir = tempfile::tempdir().unwrap();
    let acts = [
        ("1", Act::Sleep(150)),
        ("2", Act::Sleep(150)),
        ("3", Act::Sleep(150)),
    ];
    // Declared order: no dependencies, all three run at once.
    let ex = TestExecutor::with(&acts);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .order(TaskOrder::Declared)
        .jobs(4)
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(FLAT))
                .until(Phase::Execute),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let spans = ex.spans();
    assert!(overlap(spans["1"], spans["2"]) && overlap(spans["2"], spans["3"]));

    // Document order: each waits for the one before.
    let ex = TestExecutor::with(&acts);
    let p = Pipeline::builder().executor(ex.clone()).jobs(4).build();
    p.run(
        RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(FLAT)).until(Phase::Execute),
    )
    .await
    .unwrap();
    let spans = ex.spans();
    assert!(spans["1"].1 <= spans["2"].0 && spans["2"].1 <= spans["3"].0);
}

#[tokio::test]
async fn jobs_limit_concurrency_and_depends_and_parallel_markers_shape_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    // 2 and 3 depend only on 1; 4 (P) runs beside 3; 5 waits for all.
    let md = "# Plan\n\n- [ ] 1. Base\n- [ ] 2. Left\n  - _Depends: 1_\n- [ ] 3. Right\n  - _Depends: 1_\n- [ ] 4. Side (P)\n- [ ] 5. Join\n  - _Depends: 2, 3, 4_\n";
    let spec = spec_with_tasks(md);
    assert!(
        spec.tasks.as_ref().unwrap().tasks[3].parallel,
        "(P) is parsed"
    );
    let acts: Vec<(&str, Act)> = ["1", "2", "3", "4", "5"]
        .iter()
        .map(|id| (*id, Act::Sleep(120)))
        .collect();
    let ex = TestExecutor::with(&acts);
    let p = Pipeline::builder().executor(ex.clone()).jobs(3).build();
    let s = p
        .run(RunOptions::in_memory(workspace(dir.path()), spec).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let sp = ex.spans();
    for later in ["2", "3", "4"] {
        assert!(sp["1"].1 <= sp[later].0, "{later} waits for 1");
        assert!(sp[later].1 <= sp["5"].0, "5 waits for {later}");
    }
    assert!(overlap(sp["2"], sp["3"]) && overlap(sp["3"], sp["4"]));

    // With one job nothing overlaps.
    let ex = TestExecutor::with(&acts);
    let p = Pipeline::builder().executor(ex.clone()).jobs(1).build();
    p.run(RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md)).until(Phase::Execute))
        .await
        .unwrap();
    let sp: Vec<_> = ex.spans().into_values().collect();
    for (i, a) in sp.iter().enumerate() {
        for b in &sp[i + 1..] {
            assert!(!overlap(*a, *b));
        }
    }
}

#[tokio::test]
async fn a_cycle_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let md = "# Plan\n\n- [ ] 1. A\n  - _Depends: 3_\n- [ ] 2. B\n  - _Depends: 1_\n- [ ] 3. C\n  - _Depends: 2_\n";
    let p = Pipeline::builder()
        .executor(TestExecutor::default())
        .build();
    let err = p
        .run(RunOptions::in_memory(
            workspace(dir.path()),
            spec_with_tasks(md),
        ))
        .await
        .unwrap_err();
    // 1 waits for 3, 3 for 2, 2 for 1: the path follows the edges, and the
    // problem is shown on task 1's `_Depends:` line (line 4).
    assert_eq!(
        problems(&err),
        [(
            "K0014",
            "1".into(),
            4,
            "dependency cycle: 1 -> 2 -> 3 -> 1".into()
        )]
    );
    assert!(err.to_string().contains("->"), "{err}");

    let md = "# Plan\n\n- [ ] 1. A\n  - _Depends: 9_\n";
    let err = p
        .run(RunOptions::in_memory(
            workspace(dir.path()),
            spec_with_tasks(md),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        problems(&err),
        [(
            "K0013",
            "1".into(),
            4,
            "task 1 depends on task 9, which does not exist".into()
        )]
    );
}

/// The problems of an [`Error::AmbiguousPlan`]: (code, task, line, message).
#[track_caller]
fn problems(err: &Error) -> Vec<(&'static str, String, u32, String)> {
    match err {
        Error::AmbiguousPlan { problems } => problems
            .iter()
            .map(|p| (p.code, p.task.clone(), p.line, p.message.clone()))
            .collect(),
        other => panic!("expected an ambiguous plan, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_task_skips_its_dependents_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let md = "# Plan\n\n- [ ] 1. Fails\n- [ ] 2. Needs 1\n  - _Depends: 1_\n- [ ] 3. Needs 2\n  - _Depends: 2_\n- [ ] 4. Independent\n  - _Depends: _\n";
    let ex = TestExecutor::with(&[("1", Act::Fail)]);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .order(TaskOrder::Declared)
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md)).until(Phase::Execute),
        )
        .await
        .unwrap();
    assert!(
        matches!(s.status, RunStatus::Failed { .. }),
        "{:?}",
        s.status
    );
    let o = &s.artifacts.outcomes;
    assert_eq!(o["1"].status, OutcomeStatus::Failed);
    assert_eq!(o["1"].evidence, "boom");
    assert_eq!(o["2"].status, OutcomeStatus::Skipped);
    assert_eq!(o["3"].status, OutcomeStatus::Skipped);
    assert_eq!(o["4"].status, OutcomeStatus::Done);
    assert_eq!((ex.calls("2"), ex.calls("3"), ex.calls("4")), (0, 0, 1));

    // Fail-fast: nothing after the failure starts.
    let md = "# Plan\n\n- [ ] 1. Fails\n- [ ] 2. Next\n";
    let ex = TestExecutor::with(&[("1", Act::Fail)]);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .order(TaskOrder::Declared)
        .jobs(1)
        .fail_fast(true)
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md)).until(Phase::Execute),
        )
        .await
        .unwrap();
    assert!(matches!(s.status, RunStatus::Failed { ref reason } if reason.contains("fail-fast")));
    assert_eq!(ex.calls("2"), 0);
}

#[tokio::test]
async fn timeouts_fail_and_retries_recover() {
    let dir = tempfile::tempdir().unwrap();
    let md = "# Plan\n\n- [ ] 1. Slow\n- [ ] 2. Flaky\n  - _Depends: _\n";
    let ex = TestExecutor::with(&[("1", Act::Sleep(5_000)), ("2", Act::Flaky(2))]);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .order(TaskOrder::Declared)
        .task_policy(NodePolicy {
            timeout: Some(Duration::from_millis(200)),
            retries: 2,
            backoff: Duration::from_millis(1),
        })
        .build();
    let started = Instant::now();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md)).until(Phase::Execute),
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    let o = &s.artifacts.outcomes;
    assert_eq!(o["1"].status, OutcomeStatus::Failed);
    assert!(o["1"].summary.contains("timed out"), "{}", o["1"].summary);
    assert_eq!(o["1"].attempts, 3, "timeouts are retried");
    assert_eq!(o["2"].status, OutcomeStatus::Done);
    assert_eq!(o["2"].attempts, 3);
    assert_eq!(ex.calls("2"), 3);
}

struct RejectAt(Phase);

#[async_trait]
impl Approver for RejectAt {
    async fn approve(&self, gate: &Gate, _a: &Artifacts) -> Result<Approval, StageError> {
        Ok(match gate {
            Gate::Phase { phase } if *phase == self.0 => Approval::Rejected {
                reason: "needs review".into(),
            },
            Gate::Checkpoint { .. } if self.0 == Phase::Execute => Approval::Rejected {
                reason: "tests red".into(),
            },
            _ => Approval::Approved,
        })
    }
}

const TEXT: &str = "- WHEN a user saves a note, THE Notes_App SHALL store the note.\n- THE Notes_App SHALL keep notes for 30 days.\n";

#[tokio::test]
async fn gates_stop_the_run_and_resume_continues_after_approval() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    let spec_dir = dir.path().join(".kiro/specs/notes");
    let store = Arc::new(FileCheckpointStore::new(dir.path()));
    let p = Pipeline::builder()
        .approver(RejectAt(Phase::Design))
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::new(ws.clone(), &spec_dir)
                .input(RequirementsInput::Text(TEXT.into()))
                .until(Phase::Tasks),
        )
        .await
        .unwrap();
    match &s.status {
        RunStatus::Stopped { gate, reason } => {
            assert_eq!(
                gate,
                &Gate::Phase {
                    phase: Phase::Design
                }
            );
            assert_eq!(reason, "needs review");
        }
        other => panic!("{other:?}"),
    }
    assert!(spec_dir.join("requirements.md").is_file());
    assert!(spec_dir.join("design.md").is_file());
    assert!(
        !spec_dir.join("tasks.md").exists(),
        "stopped before planning"
    );

    // Approved now: resuming plans the tasks and reuses the design.
    let p = Pipeline::builder().shared_store(store.clone()).build();
    let design_before = std::fs::read(spec_dir.join("design.md")).unwrap();
    let s = p
        .run(
            RunOptions::new(ws, &spec_dir)
                .until(Phase::Tasks)
                .resume(s.run_id),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert!(spec_dir.join("tasks.md").is_file());
    assert_eq!(
        std::fs::read(spec_dir.join("design.md")).unwrap(),
        design_before
    );
    let tasks = Spec::load(&spec_dir).unwrap().tasks.unwrap();
    let covered: Vec<String> = tasks
        .all_tasks()
        .iter()
        .flat_map(|t| t.requirements.iter().map(|c| c.to_string()))
        .collect();
    assert!(covered.contains(&"1.1".to_string()) && covered.contains(&"1.2".to_string()));
}

#[tokio::test]
async fn checkpoint_tasks_are_gates_and_marks_follow_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let md = "# Implementation Plan\n\n- [x] 1. Done before\n- [ ] 2. Build\n  - [ ] 2.1 Part\n  - [ ]* 2.2 Optional test\n- [ ] 3. Checkpoint - Ensure all tests pass\n- [ ] 4. After\n";
    std::fs::write(spec_dir.join("tasks.md"), md).unwrap();
    let ex = TestExecutor::default();
    let p = Pipeline::builder()
        .executor(ex.clone())
        .approver(RejectAt(Phase::Execute))
        .build();
    let s = p
        .run(RunOptions::new(workspace(dir.path()), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert!(matches!(
        s.status,
        RunStatus::Stopped {
            gate: Gate::Checkpoint { .. },
            ..
        }
    ));
    assert_eq!(ex.calls("1"), 0, "[x] tasks are not re-run");
    assert_eq!(ex.calls("2.1"), 1);
    assert_eq!(ex.calls("2.2"), 0, "optional tasks are skipped");
    assert_eq!(ex.calls("3"), 0, "checkpoints are not commands");
    assert_eq!(ex.calls("4"), 0, "nothing runs past a rejected gate");
    let after = std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap();
    assert_eq!(
        after,
        "# Implementation Plan\n\n- [x] 1. Done before\n- [x] 2. Build\n  - [x] 2.1 Part\n  - [ ]* 2.2 Optional test\n- [ ] 3. Checkpoint - Ensure all tests pass\n- [ ] 4. After\n"
    );

    // Approving everything, with optional tasks included, finishes the plan.
    let ex = TestExecutor::default();
    let p = Pipeline::builder().executor(ex.clone()).build();
    let s = p
        .run(
            RunOptions::new(workspace(dir.path()), &spec_dir)
                .until(Phase::Execute)
                .include_optional(true),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert_eq!((ex.calls("2.1"), ex.calls("2.2"), ex.calls("4")), (0, 1, 1));
    let after = std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap();
    assert!(!after.contains("[ ]"), "{after}");
}

/// Writes the tasks' marks as seen while running, to prove `[-]` is written.
struct MarkSpy {
    dir: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Executor for MarkSpy {
    async fn execute(
        &self,
        task: &Task,
        _s: &Spec,
        _cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let text = std::fs::read_to_string(self.dir.join("tasks.md")).unwrap();
        self.seen.lock().unwrap().push(text);
        Ok(TaskOutcome::done(task.id.clone().unwrap(), "ok"))
    }
}

#[tokio::test]
async fn a_running_task_is_marked_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("spec");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(spec_dir.join("tasks.md"), "# Plan\n\n- [ ] 1. Only\n").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::builder()
        .executor(MarkSpy {
            dir: spec_dir.clone(),
            seen: seen.clone(),
        })
        .build();
    p.run(RunOptions::new(workspace(dir.path()), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[0], "# Plan\n\n- [-] 1. Only\n");
    assert_eq!(
        std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap(),
        "# Plan\n\n- [x] 1. Only\n"
    );
}

#[tokio::test]
async fn cancellation_stops_cleanly_and_resume_runs_only_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path()));
    let md = "# Plan\n\n- [ ] 1. Quick\n- [ ] 2. Blocks until cancelled\n- [ ] 3. Later\n";
    let ex = TestExecutor::with(&[("2", Act::Block)]);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .shared_store(store.clone())
        .build();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(&e, PipelineEvent::NodeStarted { node, .. } if node == "task 2") {
                c2.cancel();
            }
        }
    });
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md))
                .until(Phase::Execute)
                .events(EventSink::new(tx))
                .cancel(cancel),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Cancelled);
    assert_eq!(ex.calls("3"), 0);

    let ex2 = TestExecutor::default();
    let p = Pipeline::builder()
        .executor(ex2.clone())
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md))
                .until(Phase::Execute)
                .resume(s.run_id),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert_eq!((ex2.calls("1"), ex2.calls("2"), ex2.calls("3")), (0, 1, 1));
}

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel.starts_with(".kiro") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Makes one external-looking change per task, outside the workspace API.
struct Mutator;

#[async_trait]
impl Executor for Mutator {
    async fn execute(
        &self,
        task: &Task,
        _s: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let root = cx.workspace().root("main")?.to_owned();
        match task.id.as_ref().unwrap().as_str() {
            "1" => std::fs::write(root.join("src/new.rs"), "// created\n").unwrap(),
            "2" => std::fs::write(root.join("src/lib.rs"), "// edited\n").unwrap(),
            "3" => std::fs::remove_file(root.join("README")).unwrap(),
            _ => {}
        }
        Ok(TaskOutcome::done(task.id.clone().unwrap(), "ok"))
    }
}

#[tokio::test]
async fn rollback_restores_files_exactly_and_fork_keeps_the_old_branch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "// original\n").unwrap();
    std::fs::write(root.join("README"), "readme\n").unwrap();
    let before = tree(root);
    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = workspace(root);
    let p = Pipeline::builder()
        .executor(Mutator)
        .shared_store(store.clone())
        .build();
    let md = "# Plan\n\n- [ ] 1. Create\n- [ ] 2. Edit\n- [ ] 3. Delete\n";
    let s = p
        .run(RunOptions::in_memory(ws.clone(), spec_with_tasks(md)).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let after = tree(root);
    assert_ne!(before, after);

    let cps = store.list(&s.run_id).unwrap();
    let at = |node: &str| cps.iter().find(|c| c.node == node).unwrap().reference();
    // Back to the state after task 1: the file it created stays, the edit
    // and the deletion are undone.
    let (_, rb) = rollback(store.as_ref(), &ws, &at("task 1")).unwrap();
    let mut expected = before.clone();
    expected.insert("src/new.rs".into(), b"// created\n".to_vec());
    assert_eq!(tree(root), expected);

    // Resuming after the rollback redoes tasks 2 and 3 only.
    let s2 = p
        .run(
            RunOptions::in_memory(ws.clone(), spec_with_tasks(md))
                .until(Phase::Execute)
                .resume(rb.run_id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(s2.status, RunStatus::Completed);
    assert_eq!(tree(root), after);

    // Fork from the very first checkpoint: everything undone, a new run,
    // and the old run's checkpoints untouched.
    let old = store.list(&s.run_id).unwrap();
    let first = old
        .iter()
        .find(|c| c.node == "task 1")
        .unwrap()
        .parent
        .clone()
        .unwrap();
    let (_, f) = fork(store.as_ref(), &ws, &first).unwrap();
    assert_ne!(f.run_id, s.run_id);
    assert_eq!(tree(root), before);
    assert_eq!(store.list(&s.run_id).unwrap(), old);
    let s3 = p
        .run(
            RunOptions::in_memory(ws.clone(), spec_with_tasks(md))
                .until(Phase::Execute)
                .resume(f.run_id),
        )
        .await
        .unwrap();
    assert_eq!(s3.status, RunStatus::Completed);
    assert_eq!(tree(root), after);
}

struct Counter {
    name: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Node for Counter {
    fn name(&self) -> &str {
        self.name
    }
    async fn run(&self, artifacts: &mut Artifacts, _cx: &StageContext) -> Result<(), StageError> {
        let n = artifacts.spec.tasks.as_ref().map_or(0, |t| t.tasks.len());
        self.seen.lock().unwrap().push(format!("{}:{n}", self.name));
        artifacts.set(self.name, &n)
    }
}

#[tokio::test]
async fn custom_nodes_run_around_phases_and_keep_typed_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::builder()
        .node_before(
            Phase::Tasks,
            Counter {
                name: "before-tasks",
                seen: seen.clone(),
            },
        )
        .node_after(
            Phase::Tasks,
            Counter {
                name: "after-tasks",
                seen: seen.clone(),
            },
        )
        .build();
    let s = p
        .run(
            RunOptions::new(workspace(dir.path()), dir.path().join("spec"))
                .input(RequirementsInput::Text(TEXT.into()))
                .until(Phase::Tasks),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], "before-tasks:0");
    assert!(seen[1].starts_with("after-tasks:") && seen[1] != "after-tasks:0");
    assert_eq!(s.artifacts.get::<usize>("before-tasks").unwrap(), Some(0));
}

#[tokio::test]
async fn existing_documents_are_reused_unless_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("spec");
    let ws = workspace(dir.path());
    let p = Pipeline::builder().build();
    p.run(
        RunOptions::new(ws.clone(), &spec_dir)
            .input(RequirementsInput::Text(TEXT.into()))
            .until(Phase::Design),
    )
    .await
    .unwrap();
    let custom = "# Design Document\n\n## Overview\n\nHand written.\n";
    std::fs::write(spec_dir.join("design.md"), custom).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    p.run(
        RunOptions::new(ws.clone(), &spec_dir)
            .until(Phase::Design)
            .events(EventSink::new(tx)),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(spec_dir.join("design.md")).unwrap(),
        custom
    );
    let mut reused = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let PipelineEvent::PhaseReused { phase } = e {
            reused.push(phase);
        }
    }
    assert_eq!(reused, [Phase::Requirements, Phase::Design]);
    p.run(
        RunOptions::new(ws, &spec_dir)
            .until(Phase::Design)
            .regenerate(Phase::Design),
    )
    .await
    .unwrap();
    assert!(std::fs::read_to_string(spec_dir.join("design.md"))
        .unwrap()
        .contains("Correctness Properties"));
}

#[tokio::test]
async fn checkpoints_record_files_written_through_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path()));
    let ex = TestExecutor::with(&[("1", Act::Write("out/a.txt", "A"))]);
    let p = Pipeline::builder()
        .executor(ex)
        .external_changes(false)
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::in_memory(
                workspace(dir.path()),
                spec_with_tasks("# P\n\n- [ ] 1. Write\n- [ ] 2. Nothing\n"),
            )
            .until(Phase::Execute),
        )
        .await
        .unwrap();
    let cps = store.list(&s.run_id).unwrap();
    let t1 = cps.iter().find(|c| c.node == "task 1").unwrap();
    assert_eq!(t1.files.len(), 1);
    assert_eq!(t1.files[0].path, "out/a.txt");
    let t2 = cps.iter().find(|c| c.node == "task 2").unwrap();
    assert!(t2.files.is_empty());
    assert_eq!(s.checkpoint.unwrap(), t2.reference());
}

#[tokio::test]
async fn resume_reruns_failed_tasks_and_their_skipped_dependents_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path()));
    let md = "# Plan\n\n- [ ] 1. Fine\n- [ ] 2. Fails once\n- [ ] 3. After\n";
    let ex = TestExecutor::with(&[("2", Act::Fail)]);
    let p = Pipeline::builder()
        .executor(ex.clone())
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md)).until(Phase::Execute),
        )
        .await
        .unwrap();
    assert!(matches!(s.status, RunStatus::Failed { .. }));
    assert_eq!(s.artifacts.outcomes["3"].status, OutcomeStatus::Skipped);

    let ex2 = TestExecutor::default();
    let p = Pipeline::builder()
        .executor(ex2.clone())
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md))
                .until(Phase::Execute)
                .resume(s.run_id),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert_eq!((ex2.calls("1"), ex2.calls("2"), ex2.calls("3")), (0, 1, 1));
    assert_eq!(s.artifacts.outcomes["2"].status, OutcomeStatus::Done);
}

#[tokio::test]
async fn the_audit_log_records_gates_phases_and_verdicts() {
    use kiro_core::audit::{AuditKind, AuditLog};
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let p = Pipeline::builder()
        .approver(RejectAt(Phase::Tasks))
        .audit(log.clone())
        .build();
    let s = p
        .run(
            RunOptions::new(workspace(dir.path()), dir.path().join("spec"))
                .input(RequirementsInput::Text(TEXT.into())),
        )
        .await
        .unwrap();
    assert!(matches!(s.status, RunStatus::Stopped { .. }));
    let kinds: Vec<AuditKind> = log.entries().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::Phase,
            AuditKind::Approval,
            AuditKind::Phase,
            AuditKind::Approval,
            AuditKind::Phase,
            AuditKind::Rejection,
        ]
    );
    assert!(log.verify().unwrap().is_intact());

    // Approving and finishing records the verdict.
    let p = Pipeline::builder()
        .executor(TestExecutor::default())
        .audit(log.clone())
        .build();
    p.run(RunOptions::new(workspace(dir.path()), dir.path().join("spec")).until(Phase::Verify))
        .await
        .unwrap();
    let last = log.entries().unwrap().pop().unwrap();
    assert_eq!(last.kind, AuditKind::Verification);
    assert_eq!(last.data["untested"], 2);
    // The one payload shape of a verification entry, whoever writes it.
    assert_eq!(last.data["source"], "pipeline");
    assert_eq!(last.data["criteria"], 2);
    assert_eq!(last.data["untested_criteria"].as_array().unwrap().len(), 2);
    assert!(matches!(
        last.event().unwrap(),
        kiro_core::audit::AuditEvent::Verification(_)
    ));
    assert!(log.verify().unwrap().is_intact());
}

#[tokio::test]
async fn journaled_writes_roll_back_without_a_workspace_rescan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "before the run\n").unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path()));
    let ws = workspace(dir.path());
    let ex = TestExecutor::with(&[
        ("1", Act::Write("out/a.txt", "one")),
        ("2", Act::Write("out/a.txt", "two")),
        ("3", Act::Write("keep.txt", "edited")),
    ]);
    let p = Pipeline::builder()
        .executor(ex)
        .external_changes(false)
        .shared_store(store.clone())
        .build();
    let md = "# P\n\n- [ ] 1. A\n- [ ] 2. B\n- [ ] 3. C\n";
    let s = p
        .run(RunOptions::in_memory(ws.clone(), spec_with_tasks(md)).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let cps = store.list(&s.run_id).unwrap();
    let at = |node: &str| cps.iter().find(|c| c.node == node).unwrap().reference();
    rollback(store.as_ref(), &ws, &at("task 1")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/a.txt")).unwrap(),
        "one"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "before the run\n"
    );
    let first = cps
        .iter()
        .find(|c| c.node == "task 1")
        .unwrap()
        .parent
        .clone()
        .unwrap();
    rollback(store.as_ref(), &ws, &first).unwrap();
    assert!(!dir.path().join("out/a.txt").exists());
}

/// A seeded xorshift generator: every run of a seed makes the same choices.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Two groups of sub-tasks, tasks with and without `_Depends`: leaves run
/// concurrently and finish in a seed-dependent order, parents settle as soon
/// as their last sub-task does.
const CONCURRENT_PLAN: &str = "# Plan\n\n\
- [ ] 1. Models\n  - [ ] 1.1 User\n  - [ ] 1.2 Note\n  - [ ] 1.3 Tag\n\
- [ ] 2. Store\n\
- [ ] 3. Api\n  - _Depends: 1.1_\n\
- [ ] 4. Views\n  - [ ] 4.1 List\n    - _Depends: 2_\n  - [ ] 4.2 Detail\n\
- [ ] 5. Docs\n  - _Depends: 1, 3_\n";

const LEAVES: [&str; 8] = ["1.1", "1.2", "1.3", "2", "3", "4.1", "4.2", "5"];

/// Every task's subtasks (none for a leaf).
fn sub_tasks(id: &str) -> &'static [&'static str] {
    match id {
        "1" => &["1.1", "1.2", "1.3"],
        "4" => &["4.1", "4.2"],
        _ => &[],
    }
}

/// A `sh -c` script that, per task, sleeps a seeded few milliseconds, writes
/// `out/<id>.a`, sleeps again and writes `out/<id>.b`, then appends its id
/// to a log outside the workspace (which no rollback rewinds).
fn racing_script(seed: u64, ran_log: &Path) -> String {
    let mut rng = Rng::new(seed);
    let mut arms = String::new();
    for id in LEAVES {
        let (a, b) = (rng.below(7), rng.below(7));
        arms.push_str(&format!("  {id}) a=0.00{a} b=0.00{b} ;;\n"));
    }
    format!(
        "case \"$KIRO_TASK_ID\" in\n{arms}esac\nmkdir -p out\n\
         sleep $a\nprintf 'a %s {seed}\\n' \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.a\"\n\
         sleep $b\nprintf 'b %s {seed}\\n' \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.b\"\n\
         echo \"$KIRO_TASK_ID\" >> '{}'\n",
        ran_log.display()
    )
}

/// Task id → mark, from a `tasks.md` text.
fn marks(md: &str) -> BTreeMap<String, kiro_core::spec::TaskStatus> {
    fn walk(tasks: &[Task], out: &mut BTreeMap<String, kiro_core::spec::TaskStatus>) {
        for t in tasks {
            out.insert(t.id.clone().unwrap().to_string(), t.status);
            walk(&t.subtasks, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&kiro_core::format::parse_tasks(md).value.tasks, &mut out);
    out
}

/// Checks, in the tree as it is, the state a rollback to `node`'s checkpoint
/// must give when `recorded` are the tasks whose checkpoints come at or
/// before it: `node` and every recorded task are `[x]` with their output
/// files complete, and no other task is `[x]`.
fn check_rolled_back(root: &Path, seed: u64, node: &str, recorded: &[String]) {
    let md = std::fs::read_to_string(root.join(".kiro/specs/race/tasks.md")).unwrap();
    let marks = marks(&md);
    let ctx = format!("seed {seed}, rolled back to {node}, recorded {recorded:?}:\n{md}");
    for (id, status) in &marks {
        let done = *status == kiro_core::spec::TaskStatus::Done;
        assert_eq!(done, recorded.contains(id), "task {id} mark; {ctx}");
    }
    let mut leaves: Vec<&str> = Vec::new();
    for id in recorded {
        match sub_tasks(id) {
            [] => leaves.push(id),
            subs => leaves.extend(subs.iter().copied()),
        }
    }
    for id in leaves {
        for part in ["a", "b"] {
            let file = root.join(format!("out/{id}.{part}"));
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert_eq!(
                text,
                format!("{part} {id} {seed}\n"),
                "{}; {ctx}",
                file.display()
            );
        }
    }
}

/// One seed: a run of concurrent shell commands, a rollback to every task
/// checkpoint in turn, then a resume from a seeded one.
async fn checkpoints_under_concurrency(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec_dir = root.join(".kiro/specs/race");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(spec_dir.join("tasks.md"), CONCURRENT_PLAN).unwrap();
    let ran_log = logs.path().join("ran.log");
    let ws = workspace(root);
    let store = Arc::new(
        FileCheckpointStore::new(root)
            .with_durability(kiro_core::checkpoint::Durability::ProcessCrash),
    );
    let jobs = 2 + (seed % 3) as usize;
    let p = Pipeline::builder()
        .executor(
            kiro_core::stages::CommandExecutor::new(["sh", "-c", &racing_script(seed, &ran_log)])
                .timeout(Duration::from_secs(20)),
        )
        .order(TaskOrder::Declared)
        .jobs(jobs)
        .shared_store(store.clone())
        .build();
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed, "seed {seed}");

    let cps = store.list(&s.run_id).unwrap();
    let tasks: Vec<(String, kiro_core::checkpoint::CheckpointRef)> = cps
        .iter()
        .filter_map(|c| Some((c.node.strip_prefix("task ")?.to_owned(), c.reference())))
        .collect();
    assert_eq!(
        tasks.len(),
        LEAVES.len() + 2,
        "seed {seed}: one checkpoint per task"
    );
    for (i, (id, at)) in tasks.iter().enumerate() {
        rollback(store.as_ref(), &ws, at).unwrap();
        let recorded: Vec<String> = tasks[..=i].iter().map(|(id, _)| id.clone()).collect();
        check_rolled_back(root, seed, id, &recorded);
    }

    // Resuming from a seeded checkpoint runs exactly the tasks recorded after it.
    let k = Rng::new(seed ^ 0xA5).below(tasks.len() as u64) as usize;
    let (rb_id, rb_at) = &tasks[k];
    let (_, rb) = rollback(store.as_ref(), &ws, rb_at).unwrap();
    std::fs::remove_file(&ran_log).unwrap();
    let s = p
        .run(
            RunOptions::new(ws.clone(), &spec_dir)
                .until(Phase::Execute)
                .resume(rb.run_id),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed, "seed {seed}");
    let mut ran: Vec<String> = std::fs::read_to_string(&ran_log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    ran.sort();
    let mut expected: Vec<String> = tasks[k + 1..]
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| sub_tasks(id).is_empty())
        .collect();
    expected.sort();
    assert_eq!(ran, expected, "seed {seed}: resumed after {rb_id}");
    let all: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    check_rolled_back(root, seed, "the end", &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_checkpoint_holds_its_output_and_marks_under_concurrency() {
    for seed in 1..=20 {
        checkpoints_under_concurrency(seed).await;
    }
}

/// Without rescans (`external_changes(false)`), a task's checkpoint takes
/// its files from the journal and its `[x]` from the engine's own write of
/// `tasks.md`: rolling back to it shows exactly the tasks recorded by then.
#[tokio::test]
async fn journaled_checkpoints_hold_the_task_marks_of_their_moment() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec_dir = root.join(".kiro/specs/race");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let md = "# Plan\n\n- [ ] 1. A\n  - [ ] 1.1 A1\n  - [ ] 1.2 A2\n- [ ] 2. B\n- [ ] 3. C\n";
    std::fs::write(spec_dir.join("tasks.md"), md).unwrap();
    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = workspace(root);
    let ex = TestExecutor::with(&[
        ("1.1", Act::Write("out/1.1", "one.one")),
        ("1.2", Act::Write("out/1.2", "one.two")),
        ("2", Act::Write("out/2", "two")),
        ("3", Act::Write("out/3", "three")),
    ]);
    let p = Pipeline::builder()
        .executor(ex)
        .order(TaskOrder::Declared)
        .jobs(4)
        .external_changes(false)
        .shared_store(store.clone())
        .build();
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let tasks: Vec<(String, kiro_core::checkpoint::CheckpointRef)> = store
        .list(&s.run_id)
        .unwrap()
        .iter()
        .filter_map(|c| Some((c.node.strip_prefix("task ")?.to_owned(), c.reference())))
        .collect();
    assert_eq!(tasks.len(), 5);
    let written = |id: &str| match id {
        "1.1" => Some("one.one"),
        "1.2" => Some("one.two"),
        "2" => Some("two"),
        "3" => Some("three"),
        _ => None,
    };
    for (i, (node, at)) in tasks.iter().enumerate() {
        rollback(store.as_ref(), &ws, at).unwrap();
        let recorded: Vec<&str> = tasks[..=i].iter().map(|(id, _)| id.as_str()).collect();
        let text = std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap();
        for (id, status) in marks(&text) {
            let done = status == kiro_core::spec::TaskStatus::Done;
            assert_eq!(
                done,
                recorded.contains(&id.as_str()),
                "{id} at {node}:\n{text}"
            );
            // A task not recorded yet may have written already (it is then
            // shown in progress); a recorded one has its output.
            if let (true, Some(content)) = (done, written(&id)) {
                let on_disk = std::fs::read_to_string(root.join("out").join(&id)).ok();
                assert_eq!(on_disk.as_deref(), Some(content), "out/{id} at {node}");
            }
        }
    }
}

/// A `tasks.md` that scans do not see (ignored) is not workspace content: its
/// marks never enter a checkpoint, so no rollback deletes or rewrites it.
#[tokio::test]
async fn an_ignored_tasks_file_never_enters_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join(".gitignore"), "/specs/\n").unwrap();
    let spec_dir = root.join("specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(spec_dir.join("tasks.md"), FLAT).unwrap();
    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = workspace(root);
    let p = Pipeline::builder()
        .executor(TestExecutor::with(&[("1", Act::Write("out.txt", "x"))]))
        .external_changes(false)
        .shared_store(store.clone())
        .build();
    // Verify rescans the workspace after the journaled task checkpoints.
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Verify))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let cps = store.list(&s.run_id).unwrap();
    let paths: Vec<&str> = cps
        .iter()
        .flat_map(|c| c.files.iter().map(|f| f.path.as_str()))
        .collect();
    assert_eq!(paths, ["out.txt"]);
    let first = cps.iter().find(|c| c.node == "task 1").unwrap();
    rollback(store.as_ref(), &ws, first.parent.as_ref().unwrap()).unwrap();
    assert!(!root.join("out.txt").exists());
    let text = std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap();
    assert!(!text.contains("[ ]"), "{text}");
}

// ---------------------------------------------------------------------------
// The plan (issue 11, item 7): `run` refuses a plan that lint reports as
// ambiguous, before doing anything, and a parent is done only when
// something under it was.

/// Runs the spec folder `spec_dir` holding `tasks_md` up to the execute
/// phase with a checkpoint store; the error, the executor and the store.
async fn run_plan(
    root: &Path,
    tasks_md: &str,
) -> (
    Result<kiro_core::pipeline::RunSummary, Error>,
    TestExecutor,
    Arc<FileCheckpointStore>,
) {
    let spec_dir = root.join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(spec_dir.join("tasks.md"), tasks_md).unwrap();
    let ex = TestExecutor::default();
    let store = Arc::new(FileCheckpointStore::new(root));
    let p = Pipeline::builder()
        .executor(ex.clone())
        .shared_store(store.clone())
        .build();
    let r = p
        .run(RunOptions::new(workspace(root), &spec_dir).until(Phase::Execute))
        .await;
    (r, ex, store)
}

#[tokio::test]
async fn an_ambiguous_plan_is_refused_before_anything_runs() {
    // (tasks.md, (code, task, line, message) of the one problem)
    let cases = [
        // Duplicate ids: both would run and count as one outcome.
        (
            "# Plan\n\n- [ ] 1. A\n- [ ] 2. B\n- [ ] 2. C\n",
            ("K0007", "2", 5, "duplicate task id \"2\""),
        ),
        // A `_Depends:` value that names no task would be dropped.
        (
            "# Plan\n\n- [ ] 1. A\n- [ ] 2. B\n  - _Depends: task one_\n",
            (
                "K0018",
                "2",
                5,
                "task 2 depends on \"task one\", which names no task",
            ),
        ),
        (
            "# Plan\n\n- [ ] 1. A\n  - _Depends: 9_\n",
            (
                "K0013",
                "1",
                4,
                "task 1 depends on task 9, which does not exist",
            ),
        ),
        // A sub-task depending on its own parent, which waits for it.
        (
            "# Plan\n\n- [ ] 1. A\n- [ ] 2. B\n  - [ ] 2.1 C\n    - _Depends: 2_\n",
            ("K0014", "2", 6, "dependency cycle: 2 -> 2.1 -> 2"),
        ),
    ];
    for (md, (code, task, line, message)) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (r, ex, store) = run_plan(dir.path(), md).await;
        let err = r.expect_err(md);
        assert_eq!(
            problems(&err),
            [(code, task.to_owned(), line, message.to_owned())],
            "{md}"
        );
        assert!(
            err.to_string()
                .contains(&format!("tasks.md:{line}: {code} {message}")),
            "{err}"
        );
        assert!(ex.log.lock().unwrap().calls.is_empty(), "{md}: a task ran");
        assert!(store.runs().unwrap().is_empty(), "{md}: a run was recorded");
        let after = std::fs::read_to_string(dir.path().join(".kiro/specs/demo/tasks.md")).unwrap();
        assert_eq!(after, md, "tasks.md was written");
    }

    // Every problem is named, in document order.
    let dir = tempfile::tempdir().unwrap();
    let md = "# Plan\n\n- [ ] 1. A\n  - _Depends: one_\n- [ ] 1. B\n";
    let (r, _, _) = run_plan(dir.path(), md).await;
    let found: Vec<(&str, u32)> = problems(&r.unwrap_err())
        .into_iter()
        .map(|(code, _, line, _)| (code, line))
        .collect();
    assert_eq!(found, [("K0018", 4), ("K0007", 5)]);
}

#[tokio::test]
async fn lint_errors_that_leave_the_plan_clear_do_not_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(
        spec_dir.join("requirements.md"),
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Demo\n\n#### Acceptance Criteria\n\n1. THE App SHALL be fast\n",
    )
    .unwrap();
    // K0009 (a link to an undefined criterion) is an error, and K0004 a
    // warning, but neither changes what runs or in which order.
    let md = "# Plan\n\n- [ ] 1. A\n  - _Requirements: 9.9_\n";
    let (r, ex, _) = run_plan(dir.path(), md).await;
    let loaded = kiro_core::store::load_spec(&spec_dir).unwrap();
    let codes: Vec<String> = kiro_core::lint::lint(&loaded)
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert!(codes.contains(&"K0009".to_owned()), "{codes:?}");
    assert_eq!(r.unwrap().status, RunStatus::Completed);
    assert_eq!(ex.calls("1"), 1);
}

/// Plans the tasks of a `tasks.md` text, whatever the requirements.
struct FixedPlanner(&'static str);

#[async_trait]
impl kiro_core::stage::TaskPlanner for FixedPlanner {
    async fn plan(
        &self,
        _reqs: &kiro_core::spec::RequirementsDoc,
        _design: &kiro_core::spec::DesignDoc,
        _cx: &StageContext,
    ) -> Result<kiro_core::spec::TaskList, StageError> {
        Ok(kiro_core::format::parse_tasks(self.0).value)
    }
}

#[tokio::test]
async fn a_plan_made_during_the_run_is_checked_before_its_tasks_start() {
    let dir = tempfile::tempdir().unwrap();
    let ex = TestExecutor::default();
    let p = Pipeline::builder()
        .executor(ex.clone())
        .planner(FixedPlanner("# Plan\n\n- [ ] 1. A\n- [ ] 1. B\n"))
        .build();
    let spec = spec_with_tasks("# Plan\n\n- [ ] 1. Old\n");
    let err = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec)
                .regenerate(Phase::Tasks)
                .until(Phase::Execute),
        )
        .await
        .unwrap_err();
    // The line is that of `tasks.md` as the engine writes the plan (a blank
    // line between tasks).
    assert_eq!(
        problems(&err),
        [("K0007", "1".into(), 5, "duplicate task id \"1\"".into())]
    );
    assert!(ex.log.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn a_parent_whose_sub_tasks_are_all_optional_is_not_done_when_none_ran() {
    let md = "# Plan\n\n- [ ] 1. Build\n- [ ] 2. Tests\n  - [ ]* 2.1 Unit tests\n  - [ ]* 2.2 Property tests\n- [ ] 3. Ship\n";
    let dir = tempfile::tempdir().unwrap();
    let (r, ex, _) = run_plan(dir.path(), md).await;
    let s = r.unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert_eq!((ex.calls("2.1"), ex.calls("2.2"), ex.calls("3")), (0, 0, 1));
    let tasks_md = dir.path().join(".kiro/specs/demo/tasks.md");
    assert_eq!(
        std::fs::read_to_string(&tasks_md).unwrap(),
        "# Plan\n\n- [x] 1. Build\n- [ ] 2. Tests\n  - [ ]* 2.1 Unit tests\n  - [ ]* 2.2 Property tests\n- [x] 3. Ship\n"
    );
    // Nothing is counted for it: one outcome per task that ran.
    let mut ran: Vec<&str> = s.artifacts.outcomes.keys().map(String::as_str).collect();
    ran.sort_unstable();
    assert_eq!(ran, ["1", "3"]);

    // With optional tasks included they run, and then the parent is done.
    let p = Pipeline::builder()
        .executor(TestExecutor::default())
        .build();
    let s = p
        .run(
            RunOptions::new(workspace(dir.path()), dir.path().join(".kiro/specs/demo"))
                .until(Phase::Execute)
                .include_optional(true),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    assert!(!std::fs::read_to_string(&tasks_md).unwrap().contains("[ ]"));

    // One optional sub-task done before is enough: something under it was done.
    let dir = tempfile::tempdir().unwrap();
    let (r, _, _) = run_plan(
        dir.path(),
        "# Plan\n\n- [ ] 1. Tests\n  - [x]* 1.1 Unit tests\n  - [ ]* 1.2 Property tests\n",
    )
    .await;
    assert_eq!(r.unwrap().status, RunStatus::Completed);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".kiro/specs/demo/tasks.md")).unwrap(),
        "# Plan\n\n- [x] 1. Tests\n  - [x]* 1.1 Unit tests\n  - [ ]* 1.2 Property tests\n"
    );
}

// ---------------------------------------------------------------------------
// Exact rollback and policy detection (issue 11, items 1 and 4).

/// A workspace of one repository with these writable globs, any command.
fn policed(dir: &Path, writable: &[&str]) -> Arc<Workspace> {
    Arc::new(
        Workspace::builder()
            .repo("main", dir)
            .policy(Policy {
                writable: writable.iter().map(|g| g.to_string()).collect(),
                commands: vec!["*".into()],
            })
            .build()
            .unwrap(),
    )
}

/// Changes modes and links outside the workspace API, one task at a time.
#[cfg(unix)]
struct ModesAndLinks;

#[cfg(unix)]
#[async_trait]
impl Executor for ModesAndLinks {
    async fn execute(
        &self,
        task: &Task,
        _s: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let root = cx.workspace().root("main")?.to_owned();
        match task.id.as_ref().unwrap().as_str() {
            "1" => {
                std::fs::write(root.join("src/tool.sh"), "#!/bin/sh\necho 2\n").unwrap();
                whole_tree::chmod(&root.join("src/tool.sh"), 0o755);
                std::os::unix::fs::symlink("lib.rs", root.join("src/link")).unwrap();
            }
            "2" => {
                // A mode change alone, and a link retargeted.
                whole_tree::chmod(&root.join("src/data.txt"), 0o600);
                std::fs::remove_file(root.join("src/link")).unwrap();
                std::os::unix::fs::symlink("data.txt", root.join("src/link")).unwrap();
            }
            _ => {}
        }
        Ok(TaskOutcome::done(task.id.clone().unwrap(), "ok"))
    }
}

#[cfg(unix)]
#[tokio::test]
async fn modes_and_links_are_recorded_as_they_were_and_rolled_back_exactly() {
    use kiro_core::checkpoint::FileState;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "// lib\n").unwrap();
    std::fs::write(root.join("src/tool.sh"), "#!/bin/sh\necho 1\n").unwrap();
    std::fs::write(root.join("src/data.txt"), "data\n").unwrap();
    whole_tree::chmod(&root.join("src/tool.sh"), 0o644);
    whole_tree::chmod(&root.join("src/data.txt"), 0o644);
    let spec_dir = root.join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(
        spec_dir.join("tasks.md"),
        "# Plan\n\n- [ ] 1. One\n- [ ] 2. Two\n",
    )
    .unwrap();
    let before = whole_tree::capture(root);

    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = policed(root, &["src/**"]);
    let p = Pipeline::builder()
        .executor(ModesAndLinks)
        .shared_store(store.clone())
        .build();
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let after = whole_tree::capture(root);

    let cps = store.list(&s.run_id).unwrap();
    let cp = |node: &str| cps.iter().find(|c| c.node == node).unwrap().clone();
    let change = |node: &str, path: &str| {
        cp(node)
            .files
            .into_iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{node} did not record {path}"))
    };
    let mode = |state: &FileState| match state {
        FileState::Present { mode, .. } => *mode,
        other => panic!("{other:?}"),
    };
    // The mode before is the file's own mode before the task (0644), never
    // the one it has after (the bug recorded 0644 files as executable).
    let tool = change("task 1", "src/tool.sh");
    assert_eq!((mode(&tool.before), mode(&tool.state)), (0o644, 0o755));
    let link = change("task 1", "src/link");
    assert_eq!(
        link.state,
        FileState::Symlink {
            target: "lib.rs".into()
        }
    );
    assert_eq!(link.before, FileState::Deleted);
    let data = change("task 2", "src/data.txt");
    assert_eq!((mode(&data.before), mode(&data.state)), (0o644, 0o600));
    assert_eq!(
        change("task 2", "src/link").state,
        FileState::Symlink {
            target: "data.txt".into()
        }
    );

    // Back to before task 1: contents, modes and links exactly as before.
    let start = cp("task 1").parent.unwrap();
    rollback(store.as_ref(), &ws, &start).unwrap();
    whole_tree::assert_same(
        &whole_tree::capture(root),
        &before,
        "rolled back to the start",
    );
    // And forward again to the end of the run.
    let (_, fwd) = rollback(store.as_ref(), &ws, &cp("task 2").reference()).unwrap();
    whole_tree::assert_same(
        &whole_tree::capture(root),
        &after,
        "rolled forward to the end",
    );
    // The rollback's checkpoint records what it changed: the link it made
    // again, and the contents it replaced (kept in the store).
    let recorded = store.get(&fwd.run_id, &fwd.id).unwrap();
    let link = recorded
        .files
        .iter()
        .find(|f| f.path == "src/link")
        .unwrap();
    assert_eq!(link.before, FileState::Deleted);
    assert_eq!(
        link.state,
        FileState::Symlink {
            target: "data.txt".into()
        }
    );
    // Rollbacks chain: from the end to task 1, then to the start again.
    rollback(store.as_ref(), &ws, &cp("task 1").reference()).unwrap();
    let at_task1 = whole_tree::capture(root);
    assert_eq!(
        at_task1["src/link"],
        whole_tree::Entry::Link("lib.rs".into())
    );
    rollback(store.as_ref(), &ws, &start).unwrap();
    whole_tree::assert_same(
        &whole_tree::capture(root),
        &before,
        "back at the start again",
    );
}

#[tokio::test]
async fn files_written_after_the_last_checkpoint_are_undone_by_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "// lib\n").unwrap();
    let spec_dir = root.join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let md = "# Plan\n\n- [ ] 1. One\n- [ ] 2. Two\n";
    std::fs::write(spec_dir.join("tasks.md"), md).unwrap();
    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = policed(root, &["src/**"]);
    let p = Pipeline::builder()
        .executor(TestExecutor::with(&[(
            "1",
            Act::Write("src/one.rs", "1\n"),
        )]))
        .shared_store(store.clone())
        .build();
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let cps = store.list(&s.run_id).unwrap();
    let task1 = cps.iter().find(|c| c.node == "task 1").unwrap().reference();
    let end = whole_tree::capture(root);

    // What a task killed half-way leaves after the last checkpoint: a
    // half-written new file, an edited file, a stale `[-]` mark, a folder.
    std::fs::create_dir_all(root.join("src/gen")).unwrap();
    std::fs::write(root.join("src/gen/half.rs"), "fn half(").unwrap();
    std::fs::write(root.join("src/lib.rs"), "// edited, never checkpointed\n").unwrap();
    std::fs::write(
        spec_dir.join("tasks.md"),
        md.replace("[ ] 2.", "[-] 2.").replace("[ ] 1.", "[x] 1."),
    )
    .unwrap();
    // Out of the run's reach (not writable, never recorded): left alone.
    std::fs::write(root.join("notes.txt"), "mine\n").unwrap();

    let latest = store.latest(&s.run_id).unwrap().unwrap().reference();
    let (report, _) = rollback(store.as_ref(), &ws, &latest).unwrap();
    let mut expected = end.clone();
    expected.insert(
        "notes.txt".into(),
        whole_tree::capture(root)["notes.txt"].clone(),
    );
    whole_tree::assert_same(
        &whole_tree::capture(root),
        &expected,
        "rolled back to the last checkpoint",
    );
    assert!(!root.join("src/gen").exists());
    assert!(report
        .removed
        .contains(&("main".into(), "src/gen/half.rs".into())));

    // Back to task 1 as well: only what its checkpoint held.
    rollback(store.as_ref(), &ws, &task1).unwrap();
    let tasks = std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap();
    assert!(
        tasks.contains("[x] 1.") && tasks.contains("[ ] 2."),
        "{tasks}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("src/lib.rs")).unwrap(),
        "// lib\n"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn writes_outside_the_writable_globs_fail_the_task_and_are_reverted() {
    use kiro_core::checkpoint::FileState;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("README.md"), "# The readme\n").unwrap();
    std::fs::write(root.join("src/lib.rs"), "// lib\n").unwrap();
    let spec_dir = root.join(".kiro/specs/demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(
        spec_dir.join("tasks.md"),
        "# Plan\n\n- [ ] 1. Agent\n- [ ] 2. Next\n",
    )
    .unwrap();
    let before = whole_tree::capture(root);
    let agent = "if [ \"$KIRO_TASK_ID\" = 1 ]; then \
                 echo pwned > README.md; echo ok > src/ok.txt; ln -s /etc/shadow src/link; fi";
    let store = Arc::new(FileCheckpointStore::new(root));
    let ws = policed(root, &["src/**"]);
    let p = Pipeline::builder()
        .executor(kiro_core::stages::CommandExecutor::new(["sh", "-c", agent]))
        .shared_store(store.clone())
        .build();
    let s = p
        .run(RunOptions::new(ws.clone(), &spec_dir).until(Phase::Execute))
        .await
        .unwrap();

    let RunStatus::Failed { reason } = &s.status else {
        panic!("the run must fail: {:?}", s.status)
    };
    assert!(reason.contains("task 1"), "{reason}");
    let outcome = &s.artifacts.outcomes["1"];
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    for needle in [
        "README.md (outside the writable globs)",
        "src/link (symlink to /etc/shadow outside the workspace)",
    ] {
        assert!(
            outcome.summary.contains(needle),
            "{needle} in {}",
            outcome.summary
        );
    }
    assert!(
        !outcome.summary.contains("src/ok.txt"),
        "{}",
        outcome.summary
    );
    // Reverted: README.md back to its bytes, the link gone. The allowed
    // write stays, as any failed task's writes do.
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "# The readme\n"
    );
    assert!(std::fs::symlink_metadata(root.join("src/link")).is_err());
    assert_eq!(
        std::fs::read_to_string(root.join("src/ok.txt")).unwrap(),
        "ok\n"
    );
    let mut expected = before.clone();
    expected.insert(
        "src/ok.txt".into(),
        whole_tree::capture(root)["src/ok.txt"].clone(),
    );
    // The marks in tasks.md are the engine's, whatever task 2 did.
    expected.remove(".kiro/specs/demo/tasks.md");
    let mut now = whole_tree::capture(root);
    now.remove(".kiro/specs/demo/tasks.md");
    whole_tree::assert_same(&now, &expected, "after the run");

    // The checkpoint holds the reverted tree: no README change, no link.
    let cps = store.list(&s.run_id).unwrap();
    let task1 = cps.iter().find(|c| c.node == "task 1").unwrap();
    let paths: Vec<&str> = task1.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"src/ok.txt"), "{paths:?}");
    assert!(
        !paths.contains(&"README.md") && !paths.contains(&"src/link"),
        "{paths:?}"
    );
    let tree = kiro_core::checkpoint::tree_at(store.as_ref(), &task1.reference())
        .unwrap()
        .unwrap();
    assert!(!tree.contains_key(&("main".to_string(), "src/link".to_string())));
    assert!(matches!(
        tree.get(&("main".to_string(), "README.md".to_string())),
        Some(FileState::Present { .. })
    ));
}

// ---------------------------------------------------------------------------
// Embedding kiro-core through the project layer (issue 12): a program opens
// a `Project`, runs a spec with its own executor, rolls back through the
// library, and the audit log records the rollback, as `kiro rollback` does.
// ---------------------------------------------------------------------------

mod embedding {
    use kiro_core::audit::{Actor, ActorSource, AuditEvent, AuditKind, RollbackAudit};
    use kiro_core::pipeline::RunStatus;
    use kiro_core::project::{Project, ProjectError, Resume, RunSetup};
    use kiro_core::stage::Phase;

    use super::{Act, TestExecutor};

    const TASKS: &str = "\
# Implementation Plan

- [ ] 1. Write the model
- [ ] 2. Write the view
";

    /// A workspace with spec `notes` (only `tasks.md`: the run starts
    /// from the plan) and no `.kiro/config.toml`.
    fn workspace() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".kiro/specs/notes");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tasks.md"), TASKS).unwrap();
        root
    }

    fn project(root: &std::path::Path) -> Project {
        Project::builder(root)
            .actor(Actor {
                name: "embedder".into(),
                source: ActorSource::Caller,
            })
            .open()
            .unwrap()
    }

    #[tokio::test]
    async fn a_program_runs_rolls_back_and_the_audit_log_records_it() {
        let root = workspace();
        let project = project(root.path());
        let dir = project.spec_dir("notes").unwrap();
        let executor = TestExecutor::with(&[
            ("1", Act::Write("model.rs", "struct Note;\n")),
            ("2", Act::Write("view.rs", "fn show() {}\n")),
        ]);
        let summary = project
            .run(RunSetup::new(&dir).executor(executor).approve_all())
            .await
            .unwrap();
        assert_eq!(summary.status, RunStatus::Completed);
        assert!(root.path().join("view.rs").is_file());

        // The status the CLI prints: both tasks done by the run.
        let status = project.status(&project.load_spec(&dir).unwrap()).unwrap();
        assert_eq!((status.progress.done, status.progress.total), (2, 2));
        let run = status.run.as_ref().unwrap();
        assert_eq!(run.id, summary.run_id.to_string());

        // Back to the checkpoint after task 1: task 2's file goes.
        let list = project.checkpoints(Some("notes")).unwrap();
        let target = list.runs[0]
            .checkpoints
            .iter()
            .find(|c| c.node == "task 1")
            .map(|c| c.reference.parse().unwrap())
            .unwrap();
        let done = project.rollback(&target).unwrap();
        assert!(root.path().join("model.rs").is_file());
        assert!(!root.path().join("view.rs").exists());
        assert_eq!(done.spec.as_deref(), Some("notes"));

        // The library wrote the audit entry, typed, by the embedder.
        let entries = project.audit_log().unwrap().entries().unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.kind, AuditKind::Rollback);
        assert_eq!(last.actor, "embedder");
        assert_eq!(last.spec.as_deref(), Some("notes"));
        assert_eq!(last.run.as_deref(), Some(target.run_id.as_str()));
        assert_eq!(last, &done.entry);
        assert_eq!(
            last.event().unwrap(),
            AuditEvent::Rollback(RollbackAudit::new(&target, &done.new, &done.report))
        );
        assert!(done.report.removed.iter().any(|(_, p)| p == "view.rs"));
        assert!(project.audit_log().unwrap().verify().unwrap().is_intact());

        // A fork is recorded the same way, under the new run.
        let forked = project.fork(&target).unwrap();
        let entries = project.audit_log().unwrap().entries().unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.kind, AuditKind::Fork);
        assert_eq!(last.run.as_deref(), Some(forked.new.run_id.as_str()));
    }

    #[tokio::test]
    async fn use_case_failures_are_typed_and_name_what_they_concern() {
        let root = workspace();
        let project = project(root.path());
        let dir = project.spec_dir("notes").unwrap();
        // The plan a run would follow: document order, 2 after 1.
        let plan = project.plan(&project.load_spec(&dir).unwrap()).unwrap();
        let rows: Vec<(&str, usize, Vec<String>)> = plan
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.depth, n.waits_for.clone()))
            .collect();
        assert_eq!(rows, [("1", 0, vec![]), ("2", 0, vec!["1".to_owned()])]);
        // No `[executor]` and none given: refused before anything runs.
        match project.run(RunSetup::new(&dir).approve_all()).await {
            Err(ProjectError::NoExecutor { spec }) => assert_eq!(spec, "notes"),
            other => panic!("expected NoExecutor, got {other:?}"),
        }
        assert!(project.checkpoints(None).unwrap().runs.is_empty());
        // Up to the plan, no executor is needed.
        let summary = project
            .run(RunSetup::new(&dir).until(Phase::Tasks).approve_all())
            .await
            .unwrap();
        assert_eq!(summary.status, RunStatus::Completed);
        // No `[verifier]`: verification that runs the tests is refused.
        let spec = project.load_spec(&dir).unwrap().spec;
        let e = project
            .verify(&dir, &spec, Default::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProjectError::NoVerifier { spec } if spec == "notes"),
            "{e:?}"
        );
        // A resumed run must work on the spec named.
        std::fs::create_dir_all(root.path().join(".kiro/specs/other")).unwrap();
        std::fs::write(root.path().join(".kiro/specs/other/tasks.md"), TASKS).unwrap();
        let other = project.spec_dir("other").unwrap();
        let e = project
            .prepare_run(RunSetup::new(&other).resume(Resume::Run(summary.run_id.clone())))
            .unwrap_err();
        assert!(
            matches!(&e, ProjectError::RunOfOtherSpec { other, spec, .. } if other == "notes" && spec == "other"),
            "{e:?}"
        );
        assert!(matches!(
            project.spec_dir("missing"),
            Err(ProjectError::UnknownSpec { known, .. }) if known == ["notes", "other"]
        ));
        // No library error tells the user which file to edit.
        for e in [
            ProjectError::NoExecutor {
                spec: "notes".into(),
            },
            ProjectError::NoVerifier {
                spec: "notes".into(),
            },
        ] {
            assert!(!e.to_string().contains("config.toml"), "{e}");
        }
    }

    #[test]
    fn a_store_inside_the_workspace_is_refused() {
        let root = workspace();
        for (dir, refused) in [
            ("state", true),
            (".kiro/runs", false),
            ("../outside", false),
        ] {
            let r = Project::builder(root.path()).store_dir(dir).open();
            assert_eq!(
                matches!(r, Err(ProjectError::StoreInsideWorkspace { .. })),
                refused,
                "{dir}"
            );
        }
    }
}

// --- Memory recall (issue 12, item 7): the engine asks the store once per task.

/// Remembers a lesson per path and records every request it gets.
#[derive(Default)]
struct PathLessons {
    requests: Mutex<Vec<kiro_core::memory::RecallRequest>>,
    /// Fails every recall when set.
    down: bool,
}

#[async_trait]
impl kiro_core::memory::MemoryRecall for PathLessons {
    async fn recall(
        &self,
        request: &kiro_core::memory::RecallRequest,
    ) -> kiro_core::Result<Vec<kiro_core::memory::Recalled>> {
        use kiro_core::memory::{Memory, RecallReason, Recalled};
        self.requests.lock().unwrap().push(request.clone());
        if self.down {
            return Err(Error::Backend("memory store unreachable".into()));
        }
        // Three lessons per path, each 10 tokens: the budget decides how many stay.
        Ok(request
            .paths
            .iter()
            .flat_map(|p| {
                (1..=3).map(move |i| Recalled {
                    memory: Memory::new(format!("lesson {i} on {}", p.display())),
                    reason: RecallReason::Path(p.clone()),
                    tokens: 10,
                })
            })
            .collect())
    }
}

/// A task id and the texts of the memories it was given.
type Seen = (String, Vec<String>);

/// Records what each task saw in `StageContext::recalled`, per attempt.
#[derive(Clone, Default)]
struct RecallSpy {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Tasks that fail their first attempt with a retryable error.
    flaky: Vec<&'static str>,
}

#[async_trait]
impl Executor for RecallSpy {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        let texts = cx
            .recalled()
            .iter()
            .map(|r| r.memory.text.clone())
            .collect();
        self.seen.lock().unwrap().push((id.to_string(), texts));
        if self.flaky.contains(&id.as_str()) && cx.attempt() == 1 {
            return Err(StageError::transient("busy"));
        }
        Ok(TaskOutcome::done(id, "ok"))
    }
}

#[tokio::test]
async fn each_task_gets_what_memory_recalls_for_it_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(PathLessons::default());
    let spy = RecallSpy {
        flaky: vec!["1"],
        ..RecallSpy::default()
    };
    let p = Pipeline::builder()
        .executor(spy.clone())
        .task_policy(NodePolicy {
            timeout: None,
            retries: 1,
            backoff: Duration::from_millis(1),
        })
        .build();
    let md = "# Plan\n\n- [ ] 1. Fix `src/parse.rs`\n- [ ] 2. Document it\n";
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md))
                .until(Phase::Execute)
                .memory(memory.clone())
                .memory_budget(25),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);

    // One request per task (not per attempt), naming the task, its paths and the repository.
    let requests = memory.requests.lock().unwrap().clone();
    let asked: Vec<(Option<&str>, Vec<&Path>, &[String])> = requests
        .iter()
        .map(|r| {
            (
                r.task.as_ref().map(|t| t.as_str()),
                r.paths.iter().map(PathBuf::as_path).collect(),
                r.repositories.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            (
                Some("1"),
                vec![Path::new("src/parse.rs")],
                &["main".to_string()][..]
            ),
            (Some("2"), vec![], &["main".to_string()][..]),
        ]
    );
    assert!(requests
        .iter()
        .all(|r| r.spec == "demo" && r.budget_tokens == 25));

    // A budget of 25 tokens holds two of the three 10-token lessons; both
    // attempts of task 1 see them.
    let lessons: Vec<String> = (1..=2)
        .map(|i| format!("lesson {i} on src/parse.rs"))
        .collect();
    assert_eq!(
        *spy.seen.lock().unwrap(),
        [
            ("1".to_string(), lessons.clone()),
            ("1".to_string(), lessons),
            ("2".to_string(), vec![]),
        ]
    );
}

#[tokio::test]
async fn a_failing_memory_store_fails_the_task_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(PathLessons {
        down: true,
        ..PathLessons::default()
    });
    let spy = RecallSpy::default();
    let p = Pipeline::builder()
        .executor(spy.clone())
        .order(TaskOrder::Declared)
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(FLAT))
                .until(Phase::Execute)
                .memory(memory),
        )
        .await
        .unwrap();
    assert!(
        matches!(s.status, RunStatus::Failed { .. }),
        "{:?}",
        s.status
    );
    // No executor ran: the recall came first and failed each task.
    assert!(spy.seen.lock().unwrap().is_empty());
    let outcome = &s.artifacts.outcomes["1"];
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert!(
        outcome.summary.contains("memory store unreachable"),
        "{}",
        outcome.summary
    );
}

/// A file store that counts its group commits and, when asked, blocks the
/// calling thread in each one as a slow disk's `fdatasync` would.
struct SlowStore {
    inner: Arc<FileCheckpointStore>,
    commit_delay: Duration,
    commits: Arc<Mutex<Vec<(Instant, Instant)>>>,
}

impl CheckpointStore for SlowStore {
    fn create_run(&self) -> kiro_core::Result<kiro_core::checkpoint::RunId> {
        self.inner.create_run()
    }
    fn put(&self, checkpoint: &kiro_core::checkpoint::Checkpoint) -> kiro_core::Result<()> {
        self.put_many(std::slice::from_ref(checkpoint))
    }
    fn put_many(&self, checkpoints: &[kiro_core::checkpoint::Checkpoint]) -> kiro_core::Result<()> {
        let start = Instant::now();
        // A blocking sleep, not an await: what a slow sync does to a thread.
        std::thread::sleep(self.commit_delay);
        let result = self.inner.put_many(checkpoints);
        self.commits.lock().unwrap().push((start, Instant::now()));
        result
    }
    fn get(
        &self,
        run: &kiro_core::checkpoint::RunId,
        id: &kiro_core::checkpoint::CheckpointId,
    ) -> kiro_core::Result<kiro_core::checkpoint::Checkpoint> {
        self.inner.get(run, id)
    }
    fn list(
        &self,
        run: &kiro_core::checkpoint::RunId,
    ) -> kiro_core::Result<Vec<kiro_core::checkpoint::Checkpoint>> {
        self.inner.list(run)
    }
    fn runs(&self) -> kiro_core::Result<Vec<kiro_core::checkpoint::RunId>> {
        self.inner.runs()
    }
    fn put_blob(&self, bytes: &[u8]) -> kiro_core::Result<kiro_core::checkpoint::BlobId> {
        self.inner.put_blob(bytes)
    }
    fn get_blob(&self, id: &kiro_core::checkpoint::BlobId) -> kiro_core::Result<Vec<u8>> {
        self.inner.get_blob(id)
    }
}

/// A slow checkpoint sync runs off the async worker: on a single-threaded
/// runtime, a task that is ready and running beside it goes on and ends
/// while the sync still blocks. Were the sync on the worker thread, the
/// task could only start after it (it would end 50 ms after the sync).
#[tokio::test(flavor = "current_thread")]
async fn a_slow_checkpoint_sync_does_not_delay_a_running_task() {
    let dir = tempfile::tempdir().unwrap();
    let commits = Arc::new(Mutex::new(Vec::new()));
    let store = SlowStore {
        inner: Arc::new(FileCheckpointStore::new(dir.path())),
        commit_delay: Duration::from_millis(1500),
        commits: commits.clone(),
    };
    // Task 1 ends at once and its checkpoint takes 1.5 s to commit; task 2,
    // independent, was started beside it and needs 50 ms.
    let ex = TestExecutor::with(&[("1", Act::Sleep(0)), ("2", Act::Sleep(50))]);
    let summary = Pipeline::builder()
        .executor(ex.clone())
        .store(store)
        .external_changes(false)
        .order(TaskOrder::Declared)
        .jobs(2)
        .build()
        .run(
            RunOptions::in_memory(
                workspace(dir.path()),
                spec_with_tasks("- [ ] 1. One\n- [ ] 2. Two\n"),
            )
            .until(Phase::Execute),
        )
        .await
        .unwrap();
    assert_eq!(summary.status, RunStatus::Completed);
    let spans = ex.spans();
    let commits = commits.lock().unwrap().clone();
    // The commit of task 1's checkpoint: the first one that starts after
    // task 1 ended (the tasks phase committed before either started).
    let (commit_start, commit_end) = commits
        .iter()
        .copied()
        .find(|(start, _)| *start >= spans["1"].1)
        .unwrap();
    let task_two = spans["2"];
    assert!(
        task_two.1 < commit_end,
        "task 2 ended {:?} after task 1's commit began, which took {:?}",
        task_two.1 - commit_start,
        commit_end - commit_start
    );
}

/// The durability budget with the file store and `Durability::PowerLoss`:
/// one `fdatasync` of the run log per chain node, one per batch in a
/// fan-out, counted by the store itself. The difference between two run
/// sizes cancels the per-run syncs (run directory, log creation).
#[tokio::test]
async fn durable_checkpoints_cost_one_sync_per_chain_node_and_one_per_batch() {
    async fn syncs(order: TaskOrder, tasks: usize) -> (u64, usize) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FileCheckpointStore::new(dir.path()));
        let md: String = (1..=tasks)
            .map(|i| format!("- [ ] {i}. Task {i}\n"))
            .collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let summary = Pipeline::builder()
            .executor(TestExecutor::default())
            .shared_store(store.clone())
            .external_changes(false)
            .order(order)
            .jobs(4)
            .build()
            .run(
                RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(&md))
                    .until(Phase::Execute)
                    .events(EventSink::new(tx)),
            )
            .await
            .unwrap();
        assert_eq!(summary.status, RunStatus::Completed);
        let mut checkpoints = 0;
        while let Ok(event) = rx.try_recv() {
            if matches!(event, PipelineEvent::CheckpointWritten { .. }) {
                checkpoints += 1;
            }
        }
        (store.syncs_issued(), checkpoints)
    }
    // A chain: every node is its own batch.
    let (small, small_checkpoints) = syncs(TaskOrder::Document, 10).await;
    let (large, large_checkpoints) = syncs(TaskOrder::Document, 30).await;
    assert_eq!(large_checkpoints - small_checkpoints, 20);
    assert_eq!(large - small, 20, "syncs for 20 more chain nodes");
    // A fan-out of no-op tasks: they finish in batches of up to `jobs`,
    // and a batch is one sync.
    let (small, _) = syncs(TaskOrder::Declared, 10).await;
    let (large, large_checkpoints) = syncs(TaskOrder::Declared, 30).await;
    assert!(
        large - small <= 20,
        "{} syncs for 20 more fan-out nodes",
        large - small
    );
    assert!(
        large < large_checkpoints as u64,
        "{large} syncs for {large_checkpoints} checkpoints"
    );
}

/// Panics in its task, at once or after its first await.
struct Panics {
    after_await: bool,
}

#[async_trait]
impl Executor for Panics {
    async fn execute(
        &self,
        _task: &Task,
        _spec: &Spec,
        _cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        if self.after_await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("executor bug");
    }
}

/// A panicking executor stops the run with `Error::StagePanicked`, whether
/// the task panics in the poll that starts it (run in place) or later (on
/// its own tokio task).
#[tokio::test]
async fn a_panicking_executor_stops_the_run_with_an_error() {
    for after_await in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let result = Pipeline::builder()
            .executor(Panics { after_await })
            .build()
            .run(
                RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(FLAT))
                    .until(Phase::Execute),
            )
            .await;
        assert!(
            matches!(result, Err(Error::StagePanicked { .. })),
            "after_await {after_await}: {result:?}"
        );
    }
}

/// The template designer, spending tokens as a model would.
struct MeteredDesigner;

#[async_trait]
impl kiro_core::stage::Designer for MeteredDesigner {
    async fn design(
        &self,
        reqs: &kiro_core::spec::RequirementsDoc,
        cx: &StageContext,
    ) -> Result<kiro_core::spec::DesignDoc, StageError> {
        cx.record_usage(TokenUsage {
            input_tokens: 100,
            output_tokens: 40,
            requests: 1,
        });
        kiro_core::stages::TemplateDesigner.design(reqs, cx).await
    }
}

/// Spends tokens on every attempt; fails retryably on a task's first.
struct MeteredExecutor {
    tried: Mutex<std::collections::BTreeSet<String>>,
}

#[async_trait]
impl Executor for MeteredExecutor {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        cx.record_usage(TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            requests: 1,
        });
        let id = task.id.clone().unwrap();
        let first = self.tried.lock().unwrap().insert(id.to_string());
        if first {
            return Err(StageError::transient("rate limited"));
        }
        Ok(TaskOutcome::done(id, "ok"))
    }
}

#[tokio::test]
async fn model_usage_is_kept_per_phase_and_per_task_over_attempts_in_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path().join("store")));
    let p = Pipeline::builder()
        .designer(MeteredDesigner)
        .executor(MeteredExecutor {
            tried: Mutex::default(),
        })
        .task_policy(NodePolicy {
            retries: 1,
            backoff: Duration::ZERO,
            ..NodePolicy::default()
        })
        .shared_store(store.clone())
        .build();
    let s = p
        .run(
            RunOptions::new(workspace(dir.path()), dir.path().join("spec"))
                .input(RequirementsInput::Text(TEXT.into()))
                .until(Phase::Execute),
        )
        .await
        .unwrap();
    assert_eq!(s.status, RunStatus::Completed);
    let design = TokenUsage {
        input_tokens: 100,
        output_tokens: 40,
        requests: 1,
    };
    assert_eq!(s.artifacts.usage.get("design"), Some(&design));
    // The deterministic stages spent nothing and are not listed.
    assert_eq!(s.artifacts.usage.len(), 1);
    // Parents settle without the executor and spend nothing.
    let ran: Vec<_> = s
        .artifacts
        .outcomes
        .values()
        .filter(|o| o.summary == "ok")
        .collect();
    assert!(!ran.is_empty());
    for outcome in &ran {
        assert_eq!(outcome.attempts, 2);
        assert_eq!(
            outcome.usage,
            Some(TokenUsage {
                input_tokens: 20,
                output_tokens: 10,
                requests: 2
            })
        );
    }
    let tasks = ran.len() as u64;
    assert_eq!(s.artifacts.total_usage().total_tokens(), 140 + 30 * tasks);
    // What the last checkpoint holds is what a resumed run and `kiro status`
    // read back.
    let (stored, _) =
        kiro_core::pipeline::state_at(store.as_ref(), &s.checkpoint.unwrap()).unwrap();
    assert_eq!(stored.usage, s.artifacts.usage);
    assert_eq!(stored.total_usage(), s.artifacts.total_usage());
}

// --- Recalled memory in the checkpoints (issue 15, item 3): which memories a
// task was given, and why, stays with its outcome.

/// Cites a lesson per path by id, and one convention without an id whose
/// text is longer than a record keeps.
struct CitedLessons;

#[async_trait]
impl kiro_core::memory::MemoryRecall for CitedLessons {
    async fn recall(
        &self,
        request: &kiro_core::memory::RecallRequest,
    ) -> kiro_core::Result<Vec<kiro_core::memory::Recalled>> {
        use kiro_core::memory::{Memory, RecallReason, Recalled};
        let mut out: Vec<Recalled> = request
            .paths
            .iter()
            .map(|p| Recalled {
                memory: Memory {
                    id: Some(format!("m-{}", p.display())),
                    ..Memory::new(format!("lesson on {}", p.display()))
                },
                reason: RecallReason::Path(p.clone()),
                tokens: 10,
            })
            .collect();
        out.push(Recalled {
            memory: Memory::new("é".repeat(150)),
            reason: RecallReason::Always,
            tokens: 10,
        });
        Ok(out)
    }
}

#[tokio::test]
async fn the_memories_recalled_for_a_task_are_kept_in_its_checkpoint() {
    use kiro_core::stage::RecallRecord;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileCheckpointStore::new(dir.path().join("store")));
    let p = Pipeline::builder()
        .executor(TestExecutor::with(&[("2", Act::Fail)]))
        .order(TaskOrder::Declared)
        .shared_store(store.clone())
        .build();
    let md = "# Plan\n\n- [ ] 1. Fix `src/parse.rs`\n- [ ] 2. Break `src/lex.rs`\n";
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(md))
                .until(Phase::Execute)
                .memory(Arc::new(CitedLessons))
                .memory_budget(25),
        )
        .await
        .unwrap();
    let cited = |path: &str| RecallRecord {
        id: Some(format!("m-{path}")),
        reason: format!("concerns {path}"),
        tokens: 10,
        text: None,
    };
    // The id-less convention is kept by its text, cut on a character
    // boundary within the limit (each `é` is two bytes).
    let convention = RecallRecord {
        id: None,
        reason: "recalled for every task".into(),
        tokens: 10,
        text: Some("é".repeat(RecallRecord::TEXT_LIMIT / 2)),
    };
    // What a resumed run, `kiro status` and `kiro checkpoint show` read back
    // is the stored chain, not the run's memory of it; a failed task keeps
    // what it was told too.
    let (stored, _) =
        kiro_core::pipeline::state_at(store.as_ref(), &s.checkpoint.unwrap()).unwrap();
    assert_eq!(stored.outcomes["1"].status, OutcomeStatus::Done);
    assert_eq!(
        stored.outcomes["1"].recalled,
        [cited("src/parse.rs"), convention.clone()]
    );
    assert_eq!(stored.outcomes["2"].status, OutcomeStatus::Failed);
    assert_eq!(
        stored.outcomes["2"].recalled,
        [cited("src/lex.rs"), convention]
    );
    // The checkpoint's JSON names the memory by id, for `kiro memory show`.
    let json = serde_json::to_value(&stored.outcomes["1"]).unwrap();
    assert_eq!(json["recalled"][0]["id"], "m-src/parse.rs");
}

#[tokio::test]
async fn without_a_memory_store_an_outcome_records_no_recall() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pipeline::builder()
        .executor(TestExecutor::with(&[]))
        .build();
    let s = p
        .run(
            RunOptions::in_memory(workspace(dir.path()), spec_with_tasks(FLAT))
                .until(Phase::Execute),
        )
        .await
        .unwrap();
    let outcome = &s.artifacts.outcomes["1"];
    assert!(outcome.recalled.is_empty());
    // Old checkpoints, written before the field existed, still read.
    assert!(!serde_json::to_string(outcome).unwrap().contains("recalled"));
}
