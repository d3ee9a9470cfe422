//! Parse and render throughput of the Kiro markdown format, side by side with
//! a bare `pulldown-cmark` parse of the same bytes (the floor: kiro's parser
//! runs pulldown-cmark once and builds the model on top of it).
//!
//! Run: `cargo bench -p kiro-benches --bench spec_format`
//!
//! Inputs: the largest spec of `../shared/fixtures/kiro-specs` (by total size
//! of its documents; skipped with a message when the folder is absent) and a
//! generated 5 MB spec (requirements + design + tasks in Kiro's shape).
#![allow(missing_docs)] // criterion's macros generate undocumented items.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kiro_core::format;
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
}

criterion_group! {
    name = format_benches;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(format_benches);
