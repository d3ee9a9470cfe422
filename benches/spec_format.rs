//! Parse and render throughput of the Kiro markdown format, side by side with
//! a bare `pulldown-cmark` parse of the same bytes (the floor: kiro's parser
//! runs pulldown-cmark once and builds the model on top of it).
//!
//! Run: `cargo bench -p kiro-benches --bench spec_format`
//!
//! Inputs: the largest spec of `../shared/fixtures/kiro-specs` (by total size
//! of its documents; skipped with a message when the folder is absent) and a
//! generated 5 MB spec (requirements + design + tasks in Kiro's shape).
//!
//! Lint is measured beside the parse of the same bytes (`lint/*` groups), on
//! the inputs that once made it superlinear: a 5 MiB `requirements.md` with
//! a finding in most requirements, a 1 MiB criterion on a single line full
//! of vague terms and inline code, and a 1 MiB criterion without SHALL full
//! of inline code (which made the parse superlinear too). The target is lint
//! within a few times parse on each, growing linearly with the input.
#![allow(missing_docs)] // criterion's macros generate undocumented items.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiro_core::format;
use kiro_core::lint;
use kiro_core::spec::Spec;
use kiro_core::store::{DocKind, LoadedSpec, SourceFile};
use pulldown_cmark::{Options, Parser};

struct Doc {
    requirements: String,
    design: String,
    tasks: String,
}

impl Doc {
    fn len(&self) -> usize {
        self.requirements.len() + self.design.len() + self.tasks.len()
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/kiro-specs")
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// The fixture spec with the most bytes across its three documents.
fn largest_fixture() -> Option<(String, Doc)> {
    let entries = fs::read_dir(fixtures_dir()).ok()?;
    let mut best: Option<(String, Doc)> = None;
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let doc = Doc {
            requirements: read(&dir, "requirements.md"),
            design: read(&dir, "design.md"),
            tasks: read(&dir, "tasks.md"),
        };
        if best.as_ref().is_none_or(|(_, b)| doc.len() > b.len()) {
            best = Some((entry.file_name().to_string_lossy().into_owned(), doc));
        }
    }
    best
}

/// A Kiro-shaped spec of about `target` bytes.
fn generated(target: usize) -> Doc {
    let mut requirements = String::from(
        "# Requirements Document\n\n## Introduction\n\nA generated spec for benchmarks.\n\n## Glossary\n\n- **Store**: the key-value store\n- **Client**: a caller of the store\n\n## Requirements\n",
    );
    let mut design = String::from(
        "# Design Document\n\n## Overview\n\nGenerated.\n\n## Correctness Properties\n",
    );
    let mut tasks = String::from("# Implementation Plan\n\n## Tasks\n");
    let mut n = 0;
    while requirements.len() + design.len() + tasks.len() < target {
        n += 1;
        requirements.push_str(&format!(
            "\n### Requirement {n}: Operation {n}\n\n**User Story:** As a Client, I want operation {n}, so that I can store value {n}.\n\n#### Acceptance Criteria\n\n"
        ));
        for c in 1..=6 {
            requirements.push_str(&format!(
                "{c}. WHEN a Client sends request {n}.{c} with a key of at most 256 bytes, THE Store SHALL persist the value and return its version within 50 ms\n"
            ));
        }
        design.push_str(&format!(
            "\n### Property {n}: Operation {n} round-trips\n\n*For any* key and value, writing then reading through operation {n} SHALL return the value written.\n\n**Validates: Requirements {n}.1, {n}.2, {n}.3**\n"
        ));
        tasks.push_str(&format!(
            "\n- [ ] {n}. Implement operation {n}\n  - Add the handler and its `Store` call\n  - _Requirements: {n}.1, {n}.2, {n}.3_\n\n  - [ ]* {n}.1 Write property test for operation {n}\n    - **Property {n}: Operation {n} round-trips**\n    - **Validates: Requirements {n}.1**\n"
        ));
    }
    Doc {
        requirements,
        design,
        tasks,
    }
}

/// A `requirements.md` of about `target` bytes in which most requirements
/// have findings: a vague term, an escape clause, a placeholder, a criterion
/// without SHALL, so that lint places thousands of diagnostics.
pub fn lint_requirements(target: usize) -> String {
    let mut text = String::from(
        "# Requirements Document\n\n## Introduction\n\nA generated spec for lint benchmarks.\n\n## Requirements\n",
    );
    let mut n = 0;
    while text.len() < target {
        n += 1;
        text.push_str(&format!(
            "\n### Requirement {n}: Operation {n}\n\n**User Story:** As a Client, I want operation {n}, so that I can store value {n}.\n\n#### Acceptance Criteria\n\n\
             1. WHEN a Client sends request {n} with a `key`, THE Store SHALL persist the value and return its version within 50 ms\n\
             2. WHEN request {n} fails, THE Store SHALL respond fast and keep a robust log where possible.\n\
             3. THE Store SHALL report the error code TBD to the Client\n\
             4. The Store returns the value of request {n} to the Client\n"
        ));
    }
    text
}

/// A `requirements.md` whose one criterion is a single line of about
/// `target` bytes, dense with vague terms, escape clauses and code spans.
pub fn single_line_requirements(target: usize) -> String {
    let mut line = String::from("1. WHEN a Client sends a batch, THE Store SHALL");
    let chunk = " return the `value` fast, keep a robust `log` where possible and stay simple etc.";
    while line.len() < target {
        line.push_str(chunk);
    }
    format!(
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Batches\n\n#### Acceptance Criteria\n\n{line}\n"
    )
}

/// A `requirements.md` whose one criterion is a single line of about
/// `target` bytes without SHALL (so lint looks for another language's modal
/// verb) and with many code spans: the reading of criteria in the parser and
/// in lint once compared every candidate word with every span.
pub fn no_shall_line_requirements(target: usize) -> String {
    let mut line = String::from("1. The Store returns");
    while line.len() < target {
        line.push_str(" the `value` of the data");
    }
    format!(
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Reads\n\n#### Acceptance Criteria\n\n{line}\n"
    )
}

/// A loaded spec of one `requirements.md`, parsed in memory as
/// [`kiro_core::store::load_spec`] would parse it from disk.
pub fn loaded_requirements(text: &str) -> LoadedSpec {
    let parsed = format::parse_requirements(text);
    LoadedSpec {
        dir: PathBuf::from("bench"),
        spec: Spec {
            name: "bench".into(),
            requirements: Some(parsed.value),
            ..Spec::default()
        },
        files: vec![SourceFile::new(
            DocKind::Requirements,
            PathBuf::from("bench/requirements.md"),
            text.to_owned(),
            parsed.source_map,
            parsed.diagnostics,
        )],
        metadata_issues: Vec::new(),
    }
}

fn bench_lint(c: &mut Criterion, label: &str, text: &str) {
    let mut group = c.benchmark_group(format!("lint/{label}"));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("kiro_parse", |b| {
        b.iter(|| black_box(format::parse_requirements(black_box(text))))
    });
    let loaded = loaded_requirements(text);
    eprintln!(
        "lint/{label}: {} bytes, {} diagnostics",
        text.len(),
        lint::lint(&loaded).len()
    );
    group.bench_function("kiro_lint", |b| {
        b.iter(|| black_box(lint::lint(black_box(&loaded))))
    });
    group.finish();
}

fn pulldown_events(text: &str) -> usize {
    Parser::new_ext(text, Options::ENABLE_TABLES)
        .into_offset_iter()
        .count()
}

fn bench_doc(c: &mut Criterion, label: &str, doc: &Doc) {
    let mut group = c.benchmark_group(format!("format/{label}"));
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.bench_function("pulldown_cmark_floor", |b| {
        b.iter(|| {
            black_box(pulldown_events(black_box(&doc.requirements)))
                + black_box(pulldown_events(black_box(&doc.design)))
                + black_box(pulldown_events(black_box(&doc.tasks)))
        })
    });
    group.bench_function("kiro_parse", |b| {
        b.iter(|| {
            let r = format::parse_requirements(black_box(&doc.requirements));
            let d = format::parse_design(black_box(&doc.design));
            let t = format::parse_tasks(black_box(&doc.tasks));
            black_box((r, d, t))
        })
    });
    let r = format::parse_requirements(&doc.requirements).value;
    let d = format::parse_design(&doc.design).value;
    let t = format::parse_tasks(&doc.tasks).value;
    group.bench_function("kiro_render", |b| {
        b.iter(|| {
            black_box(format::render_requirements(black_box(&r)));
            black_box(format::render_design(black_box(&d)));
            black_box(format::render_tasks(black_box(&t)))
        })
    });
    group.bench_function("kiro_parse_render", |b| {
        b.iter(|| {
            let r = format::parse_requirements(black_box(&doc.requirements)).value;
            let d = format::parse_design(black_box(&doc.design)).value;
            let t = format::parse_tasks(black_box(&doc.tasks)).value;
            black_box((
                format::render_requirements(&r),
                format::render_design(&d),
                format::render_tasks(&t),
            ))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    match largest_fixture() {
        Some((name, doc)) => {
            eprintln!("largest fixture: {name} ({} bytes)", doc.len());
            bench_doc(c, "largest_fixture", &doc);
        }
        None => eprintln!(
            "skipped: fixture benchmark ({} not found)",
            fixtures_dir().display()
        ),
    }
    let doc = generated(5 * 1024 * 1024);
    eprintln!("generated spec: {} bytes", doc.len());
    bench_doc(c, "generated_5mb", &doc);
    bench_lint(c, "requirements_5mib", &lint_requirements(5 * 1024 * 1024));
    bench_lint(
        c,
        "single_line_1mib",
        &single_line_requirements(1024 * 1024),
    );
    bench_lint(
        c,
        "no_shall_line_1mib",
        &no_shall_line_requirements(1024 * 1024),
    );
}

criterion_group! {
    name = format_benches;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(format_benches);
