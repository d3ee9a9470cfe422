//! kiro-memory at scale: recall latency with 1k, 10k and 100k memories,
//! ingest (add) rate, and database size per memory.
//!
//! The memories are generated deterministically (a fixed-seed generator):
//! review-style lessons, rules, preferences and facts built from templates
//! over a vocabulary of crates, modules, tools and concerns, each naming a
//! function of its own, so that they vary like real ones (some merge into
//! others and some supersede others, as real ones do). Scopes: about half
//! path globs (`crates/<crate>/src/<module>/**`, `**/*.rs`-like), a third
//! global, the rest repositories and specs; global rules and preferences
//! are about 1% (a real store has dozens, not thousands). Each database is
//! built once per run in a temporary folder through `add_batch` (1,000 per
//! transaction); the 100k build is the ingest measurement.
//!
//! Measured:
//! - `recall/{1k,10k,100k}`: one `recall` (2,000-token budget) for one of
//!   25 task contexts in turn (text and one or two paths), use counts
//!   bumped as in real use;
//! - `add/single`: one `add` into the 10k database (its own transaction);
//! - printed once: p50/p95 recall latency per size over 500 recalls, the
//!   batched ingest rate, and the database file's size per memory.
//!
//! `KIRO_MEMORY_BENCH_SIZES=1000,10000` picks other sizes (default
//! `1000,10000,100000`).
//!
//! Run: `cargo bench -p kiro-benches --bench memory_recall`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kiro_memory::{Kind, MemoryStore, NewMemory, RecallContext, Scope, Source};

/// splitmix64: a fixed-seed generator, so two runs build the same memories.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const CRATES: &[&str] = &[
    "billing",
    "auth",
    "gateway",
    "storage",
    "search",
    "parser",
    "scheduler",
    "notifier",
    "ledger",
    "catalog",
    "inventory",
    "payments",
    "reports",
    "telemetry",
    "cli",
    "sync",
];
const MODULES: &[&str] = &[
    "handler", "client", "config", "model", "cache", "retry", "codec", "session", "queue", "index",
    "migrate", "export", "import", "limits", "audit", "render",
];
const TOOLS: &[&str] = &[
    "thiserror",
    "anyhow",
    "tracing",
    "log",
    "serde",
    "tokio",
    "rayon",
    "reqwest",
    "ureq",
    "sqlx",
    "rusqlite",
    "clap",
    "insta",
    "proptest",
    "criterion",
    "bytes",
    "smallvec",
    "parking_lot",
    "dashmap",
    "chrono",
    "time",
    "uuid",
];
const CONCERNS: &[&str] = &[
    "error handling",
    "logging",
    "serialization",
    "retries",
    "timeouts",
    "configuration",
    "pagination",
    "caching",
    "rate limiting",
    "input validation",
    "date handling",
    "snapshot tests",
    "property tests",
    "benchmarks",
    "connection pooling",
    "backpressure",
];
const BAD: &[&str] = &[
    "unwrap results",
    "block the async runtime",
    "hold a lock across an await",
    "log secrets",
    "clone large buffers",
    "panic on bad input",
    "use global state",
    "ignore the error",
    "allocate in the hot loop",
    "shell out to git",
];
const GOOD: &[&str] = &[
    "run cargo fmt",
    "run clippy with -D warnings",
    "update the changelog",
    "add a regression test",
    "bump the schema version",
    "document the public items",
    "check the migration on a copy",
    "rebase on main",
];
const EVENTS: &[&str] = &[
    "committing",
    "opening a pull request",
    "releasing",
    "merging",
];
const WORDS: &[&str] = &[
    "parse", "load", "store", "fetch", "apply", "render", "merge", "split", "index", "flush",
    "open", "close", "encode", "decode", "verify", "sign", "read", "write", "scan", "plan",
];
const SPECS: &[&str] = &[
    "login",
    "invoices",
    "search-ui",
    "export-csv",
    "rate-limits",
];
const REPOS: &[&str] = &["app", "platform", "tools"];

fn function_name(rng: &mut Rng, n: usize) -> String {
    format!("{}_{}_{n}", rng.pick(WORDS), rng.pick(MODULES))
}

/// The `n`th generated memory.
fn memory(rng: &mut Rng, n: usize) -> NewMemory {
    let krate = rng.pick(CRATES);
    let module = rng.pick(MODULES);
    let func = function_name(rng, n);
    let content = match rng.below(6) {
        0 => format!(
            "Use {} for {} in `{func}` of the {krate} crate.",
            rng.pick(TOOLS),
            rng.pick(CONCERNS)
        ),
        1 => format!(
            "Never {} in `{func}`: the {module} path of {krate} is hot and reviewers flagged it.",
            rng.pick(BAD)
        ),
        2 => format!(
            "Prefer {} over {} for {} in {krate}::{module}, see `{func}`.",
            rng.pick(TOOLS),
            rng.pick(TOOLS),
            rng.pick(CONCERNS)
        ),
        3 => format!("Always {} before {} changes to `{func}`.", rng.pick(GOOD), rng.pick(EVENTS)),
        4 => format!(
            "The {krate} {module} keeps its {} state in `{func}`; change it only through the {} API.",
            rng.pick(CONCERNS),
            rng.pick(MODULES)
        ),
        _ => format!(
            "`{func}` in {krate} must handle {} explicitly: a reviewer found a bug where {} was skipped.",
            rng.pick(CONCERNS),
            rng.pick(CONCERNS)
        ),
    };
    let (scope, kind) = match rng.below(100) {
        0 => (Scope::Global, Kind::Rule),
        1..=33 => (
            Scope::Global,
            if rng.below(3) == 0 {
                Kind::Fact
            } else {
                Kind::Lesson
            },
        ),
        34..=43 => (Scope::Repository(rng.pick(REPOS).to_owned()), Kind::Lesson),
        44..=48 => (Scope::Spec(rng.pick(SPECS).to_owned()), Kind::Lesson),
        49..=89 => (
            Scope::Path(format!("crates/{krate}/src/{module}/**")),
            Kind::Lesson,
        ),
        _ => (
            Scope::Path(format!("crates/{krate}/src/{module}.rs")),
            Kind::Preference,
        ),
    };
    NewMemory::new(content)
        .kind(kind)
        .scope(scope)
        .confidence(0.3 + (rng.below(60) as f32) / 100.0)
        .valid_from(1_700_000_000_000 + n as i64 * 60_000)
        .source(
            Source::url(format!(
                "https://github.com/acme/{krate}/pull/{}#discussion_r{n}",
                n / 7
            ))
            .author(format!("reviewer{}", rng.below(40)))
            .pr((n / 7) as u64),
        )
}

/// 25 task contexts, as `RecallRequest::for_task` would make them.
fn contexts() -> Vec<RecallContext> {
    let mut rng = Rng(25);
    (0..25)
        .map(|i| {
            let krate = rng.pick(CRATES);
            let module = rng.pick(MODULES);
            let mut context = RecallContext::new(format!(
                "{}. Add {} to the {krate} {module}: {} the {} records and report errors",
                i + 1,
                rng.pick(CONCERNS),
                rng.pick(WORDS),
                rng.pick(MODULES)
            ))
            .path(format!("crates/{krate}/src/{module}/mod.rs"))
            .repository(rng.pick(REPOS))
            .spec(rng.pick(SPECS));
            if i % 2 == 0 {
                context = context.path(format!("crates/{}/src/lib.rs", rng.pick(CRATES)));
            }
            context
        })
        .collect()
}

/// Builds a database of `n` memories in `dir`; returns it, the ingest time
/// and the file's size once closed.
fn build(dir: &Path, n: usize) -> (PathBuf, Duration, u64) {
    let path = dir.join(format!("memory-{n}.db"));
    let store = MemoryStore::open(&path).unwrap();
    let mut rng = Rng(42);
    let started = Instant::now();
    let mut made = 0;
    while made < n {
        let batch: Vec<NewMemory> = (made..(made + 1_000).min(n))
            .map(|i| memory(&mut rng, i))
            .collect();
        made += batch.len();
        store.add_batch(batch).unwrap();
    }
    let took = started.elapsed();
    drop(store); // The last connection's close checkpoints the WAL into the file.
    let size = std::fs::metadata(&path).unwrap().len();
    (path, took, size)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn memory_recall(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let contexts = contexts();
    let mut group = c.benchmark_group("memory");
    let sizes: Vec<usize> = std::env::var("KIRO_MEMORY_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".to_owned())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    for n in sizes {
        let label = if n % 1_000 == 0 {
            format!("{}k", n / 1_000)
        } else {
            n.to_string()
        };
        let (path, took, size) = build(dir.path(), n);
        let store = MemoryStore::open(&path).unwrap();
        let current = store.list(&kiro_memory::ListFilter::new()).unwrap().len();
        // A first pass warms SQLite's page cache, as a long-running kiro would be.
        for context in &contexts {
            store.recall(context, 2_000).unwrap();
        }
        let mut samples: Vec<Duration> = Vec::with_capacity(500);
        let mut returned = 0;
        for i in 0..500 {
            let started = Instant::now();
            let got = store.recall(&contexts[i % contexts.len()], 2_000).unwrap();
            samples.push(started.elapsed());
            returned += got.len();
        }
        samples.sort();
        eprintln!(
            "memory {label}: ingest {n} in {:.2?} ({:.0} memories/s, batches of 1,000); \
             {current} current after merges/supersessions; db {:.1} MiB, {:.0} bytes/memory; \
             recall p50 {:.2?} p95 {:.2?} max {:.2?}, {:.1} memories per recall",
            took,
            n as f64 / took.as_secs_f64(),
            size as f64 / 1_048_576.0,
            size as f64 / n as f64,
            percentile(&samples, 0.5),
            percentile(&samples, 0.95),
            samples[samples.len() - 1],
            returned as f64 / 500.0,
        );
        let mut i = 0;
        group.bench_function(format!("recall/{label}"), |b| {
            b.iter(|| {
                i += 1;
                black_box(store.recall(&contexts[i % contexts.len()], 2_000).unwrap())
            })
        });
        if n == 10_000 {
            let mut rng = Rng(7);
            let mut k = n;
            group.bench_function("add/single", |b| {
                b.iter(|| {
                    k += 1;
                    black_box(store.add(memory(&mut rng, k)).unwrap())
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = memory_recall
}
criterion_main!(benches);
