//! Values per second from JSON Schemas, beside json-schema-faker's figures.
//!
//! `schema_gen/<schema>`: one generated value (`new_tree` + `current`) per
//! iteration from each of the three realistic schemas of
//! `../shared/bench/jsf/schemas/` (an order object, a recursive tree, a
//! patterned string), with `strategy_for`'s defaults (every value checked
//! against the schema before it is returned). Before criterion measures,
//! a summary as json-schema-faker's `run.js` prints it: 200 warm-up values,
//! then 5,000 timed ones, values per second, and how many of them fail
//! validation with formats asserted.
//!
//! Then the JSON-Schema-Test-Suite (drafts 7 and 2020-12, the satisfiable
//! cases, remotes registered): per case the strategy is built once and 20
//! values are timed one by one, as `run.js --n=20` does; printed are the
//! median microseconds per value over the cases whose values all validate,
//! the median build time per case, and the counts of cases with invalid
//! values and refused cases, with the final check on and off.
//!
//! The schemas and the suite are read from `../shared` beside the
//! repository; without it the benchmark prints why and measures nothing.
//!
//! Run: `cargo bench -p kiro-benches --bench schema_gen`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::collections::HashSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiro_proptest::schema::{Draft, Generator};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// `../shared` beside the repository, found from this package upwards.
fn shared() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared"))
        .find(|dir| dir.join("bench/jsf/schemas").is_dir())
}

/// A fixed-seed runner; proptest counts filter rejections over a runner's
/// whole life (65,536 by default, meant for one test's hundreds of cases),
/// and a benchmark draws millions of values from one.
fn runner() -> TestRunner {
    let config = Config {
        max_local_rejects: u32::MAX,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn realistic(c: &mut Criterion, dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut group = c.benchmark_group("schema_gen");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(5));
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let strategy = kiro_proptest::schema::strategy_for(&schema).unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let mut runner = runner();
        for _ in 0..200 {
            black_box(strategy.new_tree(&mut runner).unwrap().current());
        }
        let count = 5_000;
        let started = Instant::now();
        let values: Vec<Value> = (0..count)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        let invalid = values.iter().filter(|v| !validator.is_valid(v)).count();
        let distinct = values
            .iter()
            .map(Value::to_string)
            .collect::<HashSet<_>>()
            .len();
        println!(
            "{name}: {count} values in {seconds:.3} s = {:.0} values/s ({:.1} µs/value), {invalid} invalid (formats asserted), {distinct} distinct",
            count as f64 / seconds,
            seconds * 1e6 / count as f64
        );
        group.bench_function(name.trim_end_matches(".json"), |b| {
            b.iter(|| black_box(strategy.new_tree(&mut runner).unwrap().current()));
        });
    }
    group.finish();
}

/// The suite's `remotes/` documents under their `http://localhost:1234/`
/// URIs, without the folders of other drafts (as `run.js` registers them).
fn remotes(suite: &Path, draft: &str) -> Vec<(String, Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let root = suite.join("remotes");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let drafts = [
        "draft3",
        "draft4",
        "draft6",
        "draft7",
        "draft2019-09",
        "draft2020-12",
        "v1",
    ];
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            if drafts
                .iter()
                .any(|d| *d != draft && rel.starts_with(&format!("{d}/")))
            {
                return None;
            }
            let doc = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            Some((format!("http://localhost:1234/{rel}"), doc))
        })
        .collect()
}

fn suite(suite: &Path, verify: bool) {
    for (dir, draft, js_draft) in [
        ("draft7", Draft::Draft7, jsonschema::Draft::Draft7),
        (
            "draft2020-12",
            Draft::Draft202012,
            jsonschema::Draft::Draft202012,
        ),
    ] {
        let resources = remotes(suite, dir);
        let mut registry = jsonschema::Registry::new().draft(js_draft);
        for (uri, doc) in &resources {
            registry = registry.add(uri, doc).unwrap();
        }
        let registry = registry.prepare().unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(suite.join("tests").join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let (mut cases, mut ok, mut invalid, mut refused) = (0, 0, 0, 0);
        let (mut per_value, mut per_build) = (Vec::new(), Vec::new());
        for file in files {
            let groups: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for group in groups {
                if !group["tests"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["valid"] == true))
                {
                    continue;
                }
                cases += 1;
                let schema = &group["schema"];
                let mut generator = Generator::new().verify(verify);
                if schema.get("$schema").is_none() {
                    generator = generator.draft(draft);
                }
                for (uri, doc) in &resources {
                    generator = generator.resource(uri.clone(), doc.clone());
                }
                let started = Instant::now();
                let Ok(strategy) = generator.strategy(schema) else {
                    refused += 1;
                    continue;
                };
                per_build.push(started.elapsed().as_secs_f64() * 1e6);
                let validator = jsonschema::options()
                    .with_draft(js_draft)
                    .with_registry(&registry)
                    .build(schema)
                    .unwrap();
                let mut runner = runner();
                let mut times = Vec::new();
                let mut bad = 0;
                for _ in 0..20 {
                    let started = Instant::now();
                    let value = strategy.new_tree(&mut runner).map(|t| t.current());
                    times.push(started.elapsed().as_secs_f64() * 1e6);
                    bad += usize::from(value.map_or(true, |v| !validator.is_valid(&v)));
                }
                if bad == 0 {
                    ok += 1;
                    per_value.extend(times);
                } else {
                    invalid += 1;
                }
            }
        }
        println!(
            "suite {dir} (final check {}): {cases} cases, {ok} all-valid, {invalid} with invalid values, {refused} refused; median {:.1} µs per value, median {:.0} µs to build a strategy",
            if verify { "on" } else { "off" },
            median(&mut per_value),
            median(&mut per_build)
        );
    }
}

fn schema_gen(c: &mut Criterion) {
    let Some(shared) = shared() else {
        println!("schema_gen: ../shared/bench/jsf/schemas not found beside the repository; nothing measured");
        return;
    };
    realistic(c, &shared.join("bench/jsf/schemas"));
    let test_suite = shared.join("fixtures/json-schema-test-suite");
    if test_suite.join("tests").is_dir() {
        suite(&test_suite, true);
        suite(&test_suite, false);
    } else {
        println!(
            "schema_gen: {} not found; suite timings skipped",
            test_suite.display()
        );
    }
}

criterion_group!(benches, schema_gen);
criterion_main!(benches);
