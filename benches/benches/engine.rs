//! Engine overhead per node, and checkpoint cost as the workspace grows.
//!
//! `engine_overhead`: 1,000 no-op tasks as a chain (document order, each task
//! waits for the one before) and as a fan-out (declared order, no
//! dependencies, default `jobs`), each without a store and with a
//! [`FileCheckpointStore`] (one durable checkpoint per node, group-committed
//! per batch of nodes that finished together). One measured iteration is one
//! whole `Pipeline::run` of an in-memory spec, so per-node overhead is the
//! reported time divided by 1,000 (criterion also prints it as a throughput).
//!
//! `checkpoint_cost`: workspaces of 1,000 and 10,000 files with a warm hash
//! cache, an executor that writes one file per task through the workspace
//! (`external_changes(false)`, so only the journal tells the engine what
//! changed), and the file store. One measured iteration is the marginal cost
//! of one task plus its checkpoint: a run of one task minus the same run with
//! the task already done (no task, no checkpoint), so the per-run setup (the
//! baseline scan of the workspace) is not counted. One task per run, because
//! with two or more the engine scans the workspace for task N's checkpoint
//! while task N+1 runs, and the scan can fail on N+1's temporary file (see
//! the README). The same with a no-op executor is the control. The cost
//! should be the same at both sizes.
//!
//! Run: `cargo bench -p kiro-benches --bench engine`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use kiro_core::checkpoint::{Durability, FileCheckpointStore};
use kiro_core::config::TaskOrder;
use kiro_core::pipeline::{Pipeline, RunOptions, RunStatus};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, Phase, StageContext, StageError, TaskOutcome};
use kiro_core::workspace::Workspace;
use tokio::runtime::Runtime;

#[path = "support/engine.rs"]
mod support;
use support::{spec, workspace, Noop};

/// Tasks per run in the overhead benchmark (the shape).
const NODES: usize = 1000;
/// Files per folder in the generated workspaces.
const PER_DIR: usize = 100;

/// Writes one small file per task through the workspace, with contents that
/// differ on every call so that each checkpoint really has a changed file.
struct WriteOne {
    calls: AtomicU64,
}

#[async_trait]
impl Executor for WriteOne {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        cx.workspace().write(
            "main",
            format!("out/t{id}.txt"),
            format!("task {id} call {n}\n").as_bytes(),
        )?;
        Ok(TaskOutcome::done(id, "written"))
    }
}

/// The multi-threaded runtime an application would use (`#[tokio::main]`).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the spec's tasks once and returns the wall time of the whole run.
fn timed_run(rt: &Runtime, p: &Pipeline, ws: &Arc<Workspace>, spec: &Spec) -> Duration {
    let options = RunOptions::in_memory(ws.clone(), spec.clone()).until(Phase::Execute);
    let start = Instant::now();
    let summary = rt.block_on(p.run(options)).unwrap();
    let took = start.elapsed();
    assert_eq!(summary.status, RunStatus::Completed);
    took
}

fn engine_overhead(c: &mut Criterion) {
    let rt = runtime();
    let spec = spec(NODES);
    let mut g = c.benchmark_group("engine_overhead");
    // Flat sampling: every sample runs the same number of whole runs, which
    // keeps the slow (durable) cases to a few seconds each.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(NODES as u64));
    for (shape, order) in [
        ("chain", TaskOrder::Document),
        ("fanout", TaskOrder::Declared),
    ] {
        for store in ["none", "file", "file-nosync"] {
            let dir = tempfile::tempdir().unwrap();
            let ws = workspace(dir.path());
            let mut b = Pipeline::builder()
                .executor(Noop)
                .order(order)
                .external_changes(false);
            if store == "file" {
                b = b.store(FileCheckpointStore::new(dir.path()));
            }
            if store == "file-nosync" {
                b = b.store(
                    FileCheckpointStore::new(dir.path()).with_durability(Durability::ProcessCrash),
                );
            }
            let p = b.build();
            g.bench_function(BenchmarkId::new(shape, store), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| timed_run(&rt, &p, &ws, &spec)).sum())
            });
        }
    }
    g.finish();
}

fn file_path(i: usize) -> PathBuf {
    PathBuf::from(format!("d{}/s{}/f{i}.txt", i / 1000, (i / PER_DIR) % 10))
}

/// A tree of `n` files of about 1 KB with mtimes an hour old, so that the
/// hash cache trusts them once it has seen them.
fn make_tree(root: &Path, n: usize) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..n {
        let p = root.join(file_path(i));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, format!("file {i}\n").repeat(100)).unwrap();
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
}

fn checkpoint_cost(c: &mut Criterion) {
    let rt = runtime();
    let one = spec(1);
    // The same run with its one task already done: no task, no checkpoint,
    // but the same per-run setup (baseline scan of the workspace).
    let mut done = spec(1);
    if let Some(tasks) = &mut done.tasks {
        tasks.tasks[0].status = kiro_core::spec::TaskStatus::Done;
    }
    let mut g = c.benchmark_group("checkpoint_cost");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for files in [1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        make_tree(dir.path(), files);
        // One workspace for all runs keeps its hash cache warm, as a
        // long-lived process would.
        let ws = workspace(dir.path());
        for (name, writes) in [("write_1_file", true), ("no_write", false)] {
            let builder = Pipeline::builder();
            let builder = if writes {
                builder.executor(WriteOne {
                    calls: AtomicU64::new(0),
                })
            } else {
                builder.executor(Noop)
            };
            let p = builder
                .external_changes(false)
                .store(FileCheckpointStore::new(dir.path()))
                .build();
            // The first run stores a blob of every file; later runs only
            // look the blobs up.
            timed_run(&rt, &p, &ws, &one);
            g.bench_function(BenchmarkId::new(name, files), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let with = timed_run(&rt, &p, &ws, &one);
                            let without = timed_run(&rt, &p, &ws, &done);
                            // At 10,000 files the run-to-run noise of the
                            // baseline scan can exceed a no-op checkpoint;
                            // criterion refuses a zero sample, so a negative
                            // difference counts as 1 ns (read: below noise).
                            with.saturating_sub(without).max(Duration::from_nanos(1))
                        })
                        .sum()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, engine_overhead, checkpoint_cost);
criterion_main!(benches);
