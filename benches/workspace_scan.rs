//! Cost of `Workspace::snapshot` as a repository grows: 1,000 and 10,000 files
//! with a warm hash cache, unchanged and with 10 files changed per scan, and a
//! cold scan (every file read) and a bare `read_dir` + `lstat` walk (the
//! floor) for contrast. The warm cases should cost about what the floor costs.
//!
//! Run: `cargo bench -p kiro-benches --bench workspace_scan`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kiro_core::workspace::{HashCache, Workspace};

/// Files per folder, so the tree has realistic depth and folder sizes.
const PER_DIR: usize = 100;
/// Files rewritten before each measured scan in the "changed" cases.
const CHANGED: usize = 10;

fn file_path(i: usize) -> PathBuf {
    PathBuf::from(format!("d{}/s{}/f{i}.txt", i / 1000, (i / PER_DIR) % 10))
}

/// A tree of `n` files of about 1 KB, with mtimes an hour old so the cache
/// trusts them (files touched in the last seconds are re-hashed on purpose).
fn make_tree(root: &Path, n: usize) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    let files = (0..n).map(|i| (file_path(i), format!("file {i}\n").repeat(100)));
    for (rel, contents) in
        std::iter::once((PathBuf::from(".gitignore"), "*.log\n".into())).chain(files)
    {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, contents).unwrap();
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
}

/// Rewrites `CHANGED` files with new contents and a distinct old mtime.
fn change_files(root: &Path, n: usize, round: u64) {
    let when = SystemTime::now() - Duration::from_secs(7200 + round);
    for k in 0..CHANGED {
        let i = (round as usize * CHANGED + k * 97) % n;
        let p = root.join(file_path(i));
        fs::write(&p, format!("round {round} file {i}\n").repeat(100)).unwrap();
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
}

/// The floor: a bare recursive `read_dir` with one `lstat` per file.
fn walk_and_stat(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            n += walk_and_stat(&entry.path());
        } else {
            black_box(fs::symlink_metadata(entry.path()).unwrap());
            n += 1;
        }
    }
    n
}

fn bench_scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("workspace_snapshot");
    group.sample_size(20);
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        make_tree(dir.path(), n);
        let cache = Arc::new(HashCache::new());
        let ws = Workspace::builder()
            .repo("main", dir.path())
            .hash_cache(Arc::clone(&cache))
            .build()
            .unwrap();
        // Warm the cache.
        assert_eq!(ws.snapshot("main").unwrap().files.len(), n + 1);

        group.bench_function(BenchmarkId::new("floor_read_dir_lstat", n), |b| {
            b.iter(|| walk_and_stat(dir.path()));
        });

        group.bench_function(BenchmarkId::new("warm_unchanged", n), |b| {
            b.iter(|| {
                let before = cache.hashed();
                let snap = ws.snapshot("main").unwrap();
                assert_eq!(cache.hashed(), before);
                black_box(snap)
            });
        });

        let mut round = 0u64;
        group.bench_function(BenchmarkId::new("warm_10_changed", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    change_files(dir.path(), n, round);
                    let before = cache.hashed();
                    let start = Instant::now();
                    let snap = ws.snapshot("main").unwrap();
                    total += start.elapsed();
                    assert_eq!(cache.hashed() - before, CHANGED as u64);
                    black_box(snap);
                }
                total
            });
        });

        group.bench_function(BenchmarkId::new("cold", n), |b| {
            b.iter(|| {
                let ws = Workspace::single(dir.path()).unwrap();
                black_box(ws.snapshot("main").unwrap())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
