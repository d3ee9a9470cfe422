//! The cost of one case on a process target: `ProcessTarget::call` (JSON
//! request written, answer read on a reader thread with a timeout, parsed
//! and classified) against a bare pipe round trip to the same program (the
//! same request line written, one line read back on the calling thread,
//! nothing parsed): the floor any JSON-lines runner pays, set by the
//! program itself. The issue's bar is a ratio of at most 2.
//!
//! Both talk to `kiro-proptest/tests/data/textkit/textkit.py` (Python
//! answering `normalize`), started once and kept alive, as the runner does.
//! A third measurement, `property_case`, is one case of an idempotent
//! property through the runner (two calls, comparison, case generation),
//! reported per case.
//!
//! Run: `cargo bench -p kiro-benches --bench pbt_target`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiro_core::spec::PropertyKind;
use kiro_proptest::target::{ProcessTarget, Reply, Target};
use kiro_proptest::{Property, Runner};
use serde_json::json;

fn textkit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kiro-proptest/tests/data/textkit")
}

const REQUEST: &str = r#"{"op": "normalize", "input": "a  b   c"}"#;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pbt_target");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));

    // The floor: the same program, the same line, read on this thread.
    let mut child = Command::new("python3")
        .arg("textkit.py")
        .current_dir(textkit_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    group.bench_function("bare_pipe", |b| {
        b.iter(|| {
            stdin.write_all(REQUEST.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
            stdin.flush().unwrap();
            line.clear();
            stdout.read_line(&mut line).unwrap();
            black_box(&line);
        })
    });
    drop(stdin);
    let _ = child.wait();

    let target = ProcessTarget::new(["python3", "textkit.py"]).current_dir(textkit_dir());
    let input = json!("a  b   c");
    assert_eq!(
        target.call("normalize", &input).unwrap(),
        Reply::Ok(json!("a b c"))
    );
    group.bench_function("process_target", |b| {
        b.iter(|| black_box(target.call("normalize", black_box(&input)).unwrap()))
    });

    // A whole case: generation, two calls (f(x), f(f(x))), comparison.
    // Runner::check runs `CASES` cases, so the time per element is per case.
    const CASES: u32 = 200;
    let property = Property::builder("1", PropertyKind::Idempotent)
        .ops(["normalize"])
        .input(json!({"type": "string", "pattern": "^[a ]{0,12}$"}))
        .build()
        .unwrap();
    let runner = Runner::new().seed(1).cases(CASES);
    group.throughput(Throughput::Elements(u64::from(CASES)));
    group.sample_size(20);
    group.bench_function("property_case", |b| {
        b.iter(|| assert!(runner.check(&property, &target).passed()))
    });
    group.finish();
    assert_eq!(target.starts(), 1, "the program stayed alive");
}

criterion_group!(benches, bench);
criterion_main!(benches);
