//! The added cost of git per task: a 1,000-task spec run with and without a
//! commit per finished task.
//!
//! Each run works in a fresh git repository (one initial commit) holding the
//! spec folder `.kiro/specs/bench/`, with a file checkpoint store outside it
//! and an executor that writes one small file per task through the
//! workspace. `commits`: every task is committed on `kiro/bench` (its file
//! and its `tasks.md` mark, plus the trailers); `no-commits`: the same run
//! with `PipelineBuilder::git(false)`. One measured iteration is one whole
//! run (the repository set-up is not timed), so the per-task added cost is
//! the difference of the two divided by 1,000 (criterion also prints each as
//! a throughput in tasks per second).
//!
//! Most of a run without commits is the two atomic (synced) rewrites of
//! `tasks.md` per task; the commits add four `git` processes per task
//! (`check-ignore`, `update-index`, `commit`, `rev-parse`).
//!
//! Run: `cargo bench -p kiro-benches --bench task_commits`
//! (`KIRO_BENCH_TASKS=100` for a shorter run).
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use kiro_core::checkpoint::{Durability, FileCheckpointStore};
use kiro_core::pipeline::{Pipeline, RunOptions, RunStatus};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, Phase, StageContext, StageError, TaskOutcome};
use kiro_core::workspace::{Policy, Workspace};
use tokio::runtime::Runtime;

/// Tasks per run (the shape); `KIRO_BENCH_TASKS` sets another
/// number for a quicker measurement of the same per-task cost.
const TASKS: usize = 1000;

fn tasks() -> usize {
    std::env::var("KIRO_BENCH_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(TASKS)
}

/// Writes `out/t<id>.txt` in the task's repository.
struct WriteOne;

#[async_trait]
impl Executor for WriteOne {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        cx.workspace().write(
            cx.task_repo(),
            format!("out/t{id}.txt"),
            format!("task {id}\n").as_bytes(),
        )?;
        Ok(TaskOutcome::done(id, "written"))
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A fresh repository at `dir/repo` with the spec committed, and the store
/// directory `dir/store`.
fn setup(dir: &Path, tasks_md: &str) {
    let repo = dir.join("repo");
    let spec = repo.join(".kiro/specs/bench");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("tasks.md"), tasks_md).unwrap();
    std::fs::write(repo.join("README"), "bench\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
}

fn timed_run(rt: &Runtime, commits: bool, tasks_md: &str) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), tasks_md);
    let repo = dir.path().join("repo");
    let ws = Arc::new(
        Workspace::builder()
            .repo("main", &repo)
            .policy(Policy::permissive())
            .build()
            .unwrap(),
    );
    let store =
        FileCheckpointStore::at(dir.path().join("store")).with_durability(Durability::ProcessCrash);
    let pipeline = Pipeline::builder()
        .executor(WriteOne)
        .store(store)
        .external_changes(false)
        .git(commits)
        .build();
    let options = RunOptions::new(ws, repo.join(".kiro/specs/bench")).until(Phase::Execute);
    let start = Instant::now();
    let summary = rt.block_on(pipeline.run(options)).unwrap();
    let took = start.elapsed();
    assert_eq!(summary.status, RunStatus::Completed);
    took
}

fn task_commits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let count = tasks();
    let mut tasks_md = String::from("# Implementation Plan\n\n");
    for i in 1..=count {
        tasks_md.push_str(&format!("- [ ] {i}. Task {i}\n  - _Requirements: 1.1_\n"));
    }
    let mut g = c.benchmark_group("task_commits");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(count as u64));
    for (name, commits) in [("no-commits", false), ("commits", true)] {
        g.bench_function(BenchmarkId::new(format!("run_{count}_tasks"), name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| timed_run(&rt, commits, &tasks_md)).sum())
        });
    }
    g.finish();
}

criterion_group!(benches, task_commits);
criterion_main!(benches);
