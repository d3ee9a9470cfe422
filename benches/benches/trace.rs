//! Trace + verify on a large workspace: one spec with 2,000 acceptance
//! criteria (200 requirements × 10 criteria, with a design of 200
//! correctness properties and a plan of 200 tasks), 20,000 annotated test
//! files in Rust, Python and TypeScript (about 2 KB each, one test per file
//! with one to three `Feature: big, Property N` + `Validates: Requirements
//! ...` pairs on it, some ranges, some orphans), and a JUnit report with one
//! result per test (20,000; some failed, some skipped).
//!
//! The workload is generated once per run into a temporary folder,
//! deterministically (a fixed-seed generator, no system randomness), so two
//! runs measure the same bytes. Measured, each on a warm page cache:
//! - `scan`: [`scan_dir`] over the whole tree (every file read);
//! - `trace_coverage`: [`TraceGraph::build`] + [`Coverage::compute`] from
//!   the scanned annotations, results and report;
//! - `verify`: read the JUnit file, [`parse_junit`], [`build_report`];
//! - `end_to_end`: all of it from disk, as `kiro verify` + `kiro trace`
//!   would: load the spec, scan, parse the JUnit file, build the report,
//!   build the trace graph, compute coverage;
//! - `ripgrep_floor`: when `rg` is on `PATH`, `rg -c "Validates:|Feature:"`
//!   over the same tree, the lower bound for "find every annotation"
//!   (process start included, as in a shell).
//!
//! With `KIRO_TRACE_WORKLOAD=<dir>` the benchmark runs on that folder
//! instead (for example the output of
//! `../shared/bench/gen_trace_workload.py`): the spec is the first folder
//! under `<dir>/.kiro/specs`, and the JUnit report is `<dir>/junit.xml`
//! when present, else the generated one. The shared generator's files
//! declare no tests, so there no result matches an annotation; the scan and
//! the graph are the same amount of work.
//!
//! Run: `cargo bench -p kiro-benches --bench trace`
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use kiro_core::trace::build_report;
use kiro_core::trace::{Coverage, TraceGraph};
use kiro_core::verify::annotations::{scan_dir, Annotation};
use kiro_core::verify::junit::parse_junit;
use kiro_core::verify::{RunInfo, TestResult, VerificationReport};
use kiro_core::Spec;

/// The spec's name, as written in `Feature:` annotations.
const SPEC: &str = "big";
/// Requirements of the generated spec.
const REQUIREMENTS: usize = 200;
/// Acceptance criteria per requirement (2,000 in all).
const CRITERIA_PER: usize = 10;
/// Annotated test files, and test results.
const FILES: usize = 20_000;
/// Files per folder, as in the shared generator (`group000` .. `group099`).
const GROUPS: usize = 100;
/// Lines of test body per file, which brings a file to about 2 KB.
const BODY_LINES: usize = 22;

/// SplitMix64: a tiny fixed-seed generator, so the workload is the same on
/// every run and every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy)]
enum Lang {
    Rust,
    Python,
    Script,
}

impl Lang {
    fn of(i: usize) -> Lang {
        match i % 3 {
            0 => Lang::Rust,
            1 => Lang::Python,
            _ => Lang::Script,
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Script => "typescript",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Lang::Rust => "rs",
            Lang::Python => "py",
            Lang::Script => "ts",
        }
    }
}

fn write_spec(spec_dir: &Path) {
    fs::create_dir_all(spec_dir).unwrap();
    let mut req = String::from(
        "# Requirements Document\n\n## Introduction\n\nA generated service.\n\n## Requirements\n\n",
    );
    for r in 1..=REQUIREMENTS {
        writeln!(
            req,
            "### Requirement {r}: Capability {r}\n\n**User Story:** As a user, I want capability {r}, \
             so that I get value {r}.\n\n#### Acceptance Criteria\n"
        )
        .unwrap();
        for c in 1..=CRITERIA_PER {
            writeln!(
                req,
                "{c}. WHEN event {r}.{c} happens, THE Service SHALL produce outcome {r}.{c} within {} ms.",
                c * 10
            )
            .unwrap();
        }
        req.push('\n');
    }
    fs::write(spec_dir.join("requirements.md"), req).unwrap();

    let mut design = String::from(
        "# Design Document\n\n## Overview\n\nGenerated.\n\n## Correctness Properties\n\n",
    );
    for r in 1..=REQUIREMENTS {
        writeln!(
            design,
            "### Property {r}: Outcome {r} holds\n\n*For any* event of requirement {r}, the outcome \
             holds.\n\n**Validates: Requirements {r}.1, {r}.2**\n"
        )
        .unwrap();
    }
    fs::write(spec_dir.join("design.md"), design).unwrap();

    let mut tasks = String::from("# Implementation Plan\n\n");
    for r in 1..=REQUIREMENTS {
        writeln!(
            tasks,
            "- [ ] {r}. Implement capability {r}\n  - _Requirements: {r}.1–{r}.{CRITERIA_PER}_\n"
        )
        .unwrap();
    }
    fs::write(spec_dir.join("tasks.md"), tasks).unwrap();
}

/// How a generated test ends, decided by the same generator as its file.
#[derive(Clone, Copy)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// Writes the test files and returns each test's outcome, in file order.
fn write_tests(root: &Path, rng: &mut Rng) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(FILES);
    for g in 0..GROUPS {
        for lang in [Lang::Rust, Lang::Python, Lang::Script] {
            fs::create_dir_all(root.join(format!("tests/{}/group{g:03}", lang.dir()))).unwrap();
        }
    }
    for i in 0..FILES {
        let lang = Lang::of(i);
        let (cm, indent) = match lang {
            Lang::Rust => ("///", ""),
            Lang::Python => ("#", ""),
            Lang::Script => ("//", "  "),
        };
        let mut annotations = String::new();
        for _ in 0..rng.range(1, 3) {
            let r = rng.range(1, REQUIREMENTS);
            let reference = if rng.chance(1) {
                format!("{}.1", REQUIREMENTS + 50)
            } else if rng.chance(10) {
                let c = rng.range(1, CRITERIA_PER - 2);
                format!("{r}.{c}-{r}.{}", c + 2)
            } else {
                format!("{r}.{}", rng.range(1, CRITERIA_PER))
            };
            writeln!(
                annotations,
                "{indent}{cm} **Feature: {SPEC}, Property {r}: Outcome {r} holds**\n\
                 {indent}{cm} **Validates: Requirements {reference}**"
            )
            .unwrap();
        }
        let body_line = match lang {
            Lang::Rust => "    let value = compute(input); assert_eq!(value, expected, \"mismatch for {}\", input);\n",
            Lang::Python => "    value = compute(data); assert value == expected, f\"mismatch for {data}\"  # noqa\n",
            Lang::Script => "    const value = compute(input); expect(value).toEqual(expected); // mismatch check\n",
        };
        let body = body_line.repeat(BODY_LINES);
        let text = match lang {
            Lang::Rust => format!(
                "//! Generated test file {i}.\n\nuse crate::support::*;\n\n{annotations}#[test]\nfn check_{i:05}() {{\n{body}}}\n"
            ),
            Lang::Python => format!(
                "\"\"\"Generated test file {i}.\"\"\"\nfrom support import *\n\n\n{annotations}def test_case_{i:05}():\n{body}"
            ),
            Lang::Script => format!(
                "// Generated test file {i}.\nimport {{ compute }} from '../support';\n\n\
                 describe('suite {i:05}', () => {{\n{annotations}  it('handles case {i:05}', () => {{\n{body}  }});\n}});\n"
            ),
        };
        let rel = format!(
            "tests/{}/group{:03}/test_{i:05}.{}",
            lang.dir(),
            i % GROUPS,
            lang.ext()
        );
        fs::write(root.join(rel), text).unwrap();
        outcomes.push(if rng.chance(4) {
            Outcome::Failed
        } else if rng.chance(2) {
            Outcome::Skipped
        } else {
            Outcome::Passed
        });
    }
    outcomes
}

/// A JUnit report with one test case per outcome, named the way each
/// runner names them: cargo-nextest (`module::fn`), pytest (dotted module
/// as the class, the function as the name) and jest-junit (`<describe>
/// <it>` as both).
fn junit_xml(outcomes: &[Outcome]) -> String {
    let mut suites: [String; 3] = Default::default();
    let mut counts = [(0usize, 0usize, 0usize); 3];
    for (i, outcome) in outcomes.iter().enumerate() {
        let lang = Lang::of(i);
        let slot = i % 3;
        let g = i % GROUPS;
        let (name, classname) = match lang {
            Lang::Rust => (
                format!("test_{i:05}::check_{i:05}"),
                "kiro-bench::generated".to_owned(),
            ),
            Lang::Python => (
                format!("test_case_{i:05}"),
                format!("tests.python.group{g:03}.test_{i:05}"),
            ),
            Lang::Script => {
                let full = format!("suite {i:05} handles case {i:05}");
                (full.clone(), full)
            }
        };
        let out = &mut suites[slot];
        counts[slot].0 += 1;
        write!(
            out,
            "    <testcase name=\"{name}\" classname=\"{classname}\" time=\"0.004\""
        )
        .unwrap();
        match outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Skipped => {
                counts[slot].2 += 1;
                out.push_str(">\n      <skipped/>\n    </testcase>\n");
            }
            Outcome::Failed => {
                counts[slot].1 += 1;
                write!(
                    out,
                    ">\n      <failure message=\"assertion failed: value == expected\" type=\"assert\">\
                     left: {i}\nright: {}\nat {}:{}</failure>\n      <system-out>running case {i}\n</system-out>\n    </testcase>\n",
                    i + 1,
                    lang.ext(),
                    12
                )
                .unwrap();
            }
        }
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"generated\">\n",
    );
    for (slot, body) in suites.iter().enumerate() {
        let (tests, failures, skipped) = counts[slot];
        let name = ["rust", "python", "typescript"][slot];
        writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\">\n{body}  </testsuite>"
        )
        .unwrap();
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Where the benchmark reads from; the temporary folder, when one was made,
/// lives as long as this.
struct Workload {
    _tmp: Option<tempfile::TempDir>,
    _junit_tmp: Option<tempfile::TempDir>,
    root: PathBuf,
    spec_dir: PathBuf,
    junit: PathBuf,
}

fn workload() -> Workload {
    let started = Instant::now();
    if let Some(dir) = std::env::var_os("KIRO_TRACE_WORKLOAD") {
        let root = PathBuf::from(dir);
        let mut specs: Vec<PathBuf> = fs::read_dir(root.join(".kiro/specs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        specs.sort();
        let spec_dir = specs.into_iter().next().expect("no spec under .kiro/specs");
        let own = root.join("junit.xml");
        let (junit_tmp, junit) = if own.is_file() {
            (None, own)
        } else {
            let tmp = tempfile::tempdir().unwrap();
            let mut rng = Rng(1);
            let outcomes: Vec<Outcome> = (0..FILES)
                .map(|_| match rng.next() % 100 {
                    0..=3 => Outcome::Failed,
                    4..=5 => Outcome::Skipped,
                    _ => Outcome::Passed,
                })
                .collect();
            let path = tmp.path().join("junit.xml");
            fs::write(&path, junit_xml(&outcomes)).unwrap();
            (Some(tmp), path)
        };
        eprintln!(
            "trace bench: workload {} (KIRO_TRACE_WORKLOAD)",
            root.display()
        );
        return Workload {
            _tmp: None,
            _junit_tmp: junit_tmp,
            root,
            spec_dir,
            junit,
        };
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let spec_dir = root.join(".kiro/specs").join(SPEC);
    write_spec(&spec_dir);
    let mut rng = Rng(1);
    let outcomes = write_tests(&root, &mut rng);
    let junit = root.join("target/junit.xml");
    fs::create_dir_all(junit.parent().unwrap()).unwrap();
    fs::write(&junit, junit_xml(&outcomes)).unwrap();
    eprintln!(
        "trace bench: generated {FILES} test files in {:.2?} at {}",
        started.elapsed(),
        root.display()
    );
    Workload {
        _tmp: Some(tmp),
        _junit_tmp: None,
        root,
        spec_dir,
        junit,
    }
}

fn run_info() -> RunInfo {
    RunInfo {
        command: "cargo nextest run".into(),
        exit_code: Some(100),
        per_test_results: true,
    }
}

fn verify(
    spec: &Spec,
    annotations: &[Annotation],
    junit: &Path,
) -> (Vec<TestResult>, VerificationReport) {
    let xml = fs::read_to_string(junit).unwrap();
    let results = parse_junit(&xml, junit).unwrap();
    let report = build_report(spec, annotations, &results, run_info());
    (results, report)
}

/// The whole `kiro verify` + `kiro trace` path, from disk; returns the
/// number of coverage findings so nothing is optimised away.
fn end_to_end(w: &Workload) -> usize {
    let spec = Spec::load(&w.spec_dir).unwrap();
    let annotations = scan_dir(&w.root).unwrap();
    let (results, report) = verify(&spec, &annotations, &w.junit);
    let graph = TraceGraph::build(&spec, &annotations, &results, &BTreeMap::new());
    let findings = Coverage::compute(&spec, &graph, Some(&report), None);
    black_box(&report);
    findings.len()
}

fn rg_available() -> bool {
    Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ripgrep(root: &Path) -> usize {
    let out = Command::new("rg")
        .args(["-c", "--no-messages", "Validates:|Feature:"])
        .arg(root)
        .output()
        .unwrap();
    out.stdout.len()
}

fn bench_trace(c: &mut Criterion) {
    let w = workload();
    let spec = Spec::load(&w.spec_dir).unwrap();
    // Warm the page cache and show what one pass finds, so the numbers
    // below are known to measure real work.
    let annotations = scan_dir(&w.root).unwrap();
    let (results, report) = verify(&spec, &annotations, &w.junit);
    let graph = TraceGraph::build(&spec, &annotations, &results, &BTreeMap::new());
    let findings = Coverage::compute(&spec, &graph, Some(&report), None);
    let (passed, failed, untested) = report.counts();
    let started = Instant::now();
    let _ = end_to_end(&w);
    eprintln!(
        "trace bench: {} criteria, {} annotations on {} tests, {} results; \
         report {passed} passed / {failed} failed / {untested} untested; {} findings, {} unknown refs; \
         one end-to-end pass {:.2?}",
        spec.criteria().len(),
        annotations.len(),
        graph.tests().count(),
        results.len(),
        findings.len(),
        graph.unknown_refs().len(),
        started.elapsed(),
    );

    let mut group = c.benchmark_group("trace_verify");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("scan", |b| b.iter(|| scan_dir(black_box(&w.root)).unwrap()));
    group.bench_function("trace_coverage", |b| {
        b.iter(|| {
            let graph = TraceGraph::build(&spec, &annotations, &results, &BTreeMap::new());
            Coverage::compute(&spec, &graph, Some(&report), None)
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| verify(&spec, black_box(&annotations), &w.junit));
    });
    group.bench_function("end_to_end", |b| b.iter(|| end_to_end(&w)));
    if rg_available() {
        group.bench_function("ripgrep_floor", |b| b.iter(|| ripgrep(&w.root)));
    } else {
        eprintln!("skipped: ripgrep_floor (no `rg` on PATH)");
    }
    group.finish();
}

criterion_group!(benches, bench_trace);
criterion_main!(benches);
