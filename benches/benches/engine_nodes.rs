//! Per-node engine overhead as JSON lines, in the shape of the peer
//! baselines in `../shared/bench` (`dagrs_overhead.rs` prints µs per node
//! for a chain and a fan-out of N no-op nodes), so that kiro and its peers
//! can be run back to back and compared as ratios.
//!
//! For each shape (chain: document order; fan-out: declared order, default
//! `jobs`) and store (none; the file store with `Durability::PowerLoss`) it
//! runs an in-memory spec of N no-op tasks `RUNS` times and prints the
//! median and best wall time per node of a whole `Pipeline::run` (plan
//! check, graph build and run), and for the file store the syncs the store
//! issued per node (`FileCheckpointStore::syncs_issued`).
//!
//! Run: `cargo bench -p kiro-benches --bench engine_nodes -- 1000` (add `none` to
//! skip the durable runs).
#![allow(missing_docs)] // A benchmark binary, not an API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiro_core::checkpoint::FileCheckpointStore;
use kiro_core::config::TaskOrder;
use kiro_core::pipeline::{Pipeline, RunOptions, RunStatus};
use kiro_core::stage::Phase;

#[path = "support/engine.rs"]
mod support;
use support::{spec, workspace, Noop};

/// Whole runs measured per case (after one warm-up run).
const RUNS: usize = 15;

fn main() {
    // `cargo bench` passes `--bench`; the first number is N.
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    // `none` as an argument measures only the runs without a store (for a
    // profiler: the durable runs are dominated by the disk).
    let stores: &[bool] = if std::env::args().any(|a| a == "none") {
        &[false]
    } else {
        &[false, true]
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spec = spec(n);
    for (shape, order) in [
        ("chain", TaskOrder::Document),
        ("fanout", TaskOrder::Declared),
    ] {
        for &durable in stores {
            let dir = tempfile::tempdir().unwrap();
            let ws = workspace(dir.path());
            let store = Arc::new(FileCheckpointStore::new(dir.path()));
            let mut builder = Pipeline::builder()
                .executor(Noop)
                .order(order)
                .external_changes(false);
            if durable {
                builder = builder.shared_store(store.clone());
            }
            let pipeline = builder.build();
            let mut times: Vec<Duration> = Vec::new();
            let mut syncs = 0;
            for run in 0..=RUNS {
                let options = RunOptions::in_memory(ws.clone(), spec.clone()).until(Phase::Execute);
                let before = store.syncs_issued();
                let start = Instant::now();
                let summary = rt.block_on(pipeline.run(options)).unwrap();
                let took = start.elapsed();
                assert_eq!(summary.status, RunStatus::Completed);
                if run > 0 {
                    times.push(took);
                    syncs = store.syncs_issued() - before;
                }
            }
            times.sort();
            let per_node = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
            println!(
                "{{\"kiro\":\"engine\",\"shape\":\"{shape}\",\"store\":\"{}\",\"n\":{n},\"us_per_node_median\":{:.2},\"us_per_node_best\":{:.2},\"syncs_per_node\":{:.3}}}",
                if durable { "file-powerloss" } else { "none" },
                per_node(times[times.len() / 2]),
                per_node(times[0]),
                syncs as f64 / n as f64,
            );
        }
    }
}
