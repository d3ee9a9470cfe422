//! The Kiro fixture corpus (`../shared/fixtures/kiro-specs`): every spec
//! folder loads without error, saves and reloads to the same model, a second
//! save changes no byte, and dialect files are kept byte for byte.
//!
//! Skipped, with a message, when `../shared` is not checked out beside the repo.

// Tests assert by panicking; the library-code lints do not apply here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use kiro_core::spec::{Dialect, SpecKind};
use kiro_core::store::{load_spec, DocKind};

#[path = "support/fixtures.rs"]
mod fixtures;

fn fixture_specs() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/kiro-specs");
    let Ok(entries) = fs::read_dir(&dir) else {
        fixtures::missing(&dir);
        eprintln!(
            "skipped: Kiro fixture corpus not found at {} (check out ../shared beside the repo)",
            dir.display()
        );
        return None;
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Some(out)
}

#[test]
fn every_fixture_spec_loads_and_round_trips() {
    let Some(specs) = fixture_specs() else { return };
    assert!(
        specs.len() >= 30,
        "expected the full corpus, found {}",
        specs.len()
    );
    let mut rows = Vec::new();
    for dir in &specs {
        let loaded = load_spec(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let spec = &loaded.spec;

        let out = tempfile::tempdir().unwrap();
        let target = out.path().join(&spec.name);
        spec.save(&target).unwrap();
        let again = load_spec(&target).unwrap();
        assert_eq!(
            &again.spec,
            spec,
            "{}: save + load changed the model",
            dir.display()
        );

        // A second save of the reloaded model writes nothing new.
        let written = again.spec.save(&target).unwrap();
        assert!(
            written.is_empty(),
            "{}: second save rewrote {written:?}",
            dir.display()
        );

        // Dialect files stay byte for byte.
        for name in spec.extra_files.keys() {
            assert_eq!(
                fs::read(dir.join(name)).unwrap(),
                fs::read(target.join(name)).unwrap(),
                "{}: {name} changed",
                dir.display()
            );
        }
        // Canonical files render byte-identically: a document whose rendering
        // equals its source must still equal it after the round trip.
        for file in &loaded.files {
            let saved = fs::read_to_string(target.join(file.kind.file_name())).unwrap();
            let resaved = kiro_core::store::render_document(&again.spec, file.kind).unwrap();
            assert_eq!(
                saved,
                resaved,
                "{}: {:?} not stable",
                dir.display(),
                file.kind
            );
        }

        let criteria = spec.criteria().len();
        let properties = spec.design.as_ref().map_or(0, |d| d.properties.len());
        let tasks = spec.tasks.as_ref().map_or(0, |t| t.all_tasks().len());
        let links = spec.tasks.as_ref().map_or(0, |t| {
            t.all_tasks()
                .iter()
                .filter(|t| !t.requirements.is_empty() || t.requirements_source.is_some())
                .count()
        });
        let canonical = loaded
            .files
            .iter()
            .filter(|f| {
                kiro_core::store::render_document(spec, f.kind).as_deref() == Some(f.text.as_str())
            })
            .count();
        rows.push(format!(
            "{:<48} {:>3} req {:>4} crit {:>3} prop {:>4} task {:>4} link  {}/{} canonical",
            dir.file_name().unwrap().to_string_lossy(),
            spec.requirements
                .as_ref()
                .map_or(0, |r| r.requirements.len()),
            criteria,
            properties,
            tasks,
            links,
            canonical,
            loaded.files.len()
        ));
    }
    eprintln!("{}", rows.join("\n"));
}

#[test]
fn dialects_and_kinds_are_recognised() {
    let Some(specs) = fixture_specs() else { return };
    for dir in &specs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let spec = load_spec(dir).unwrap().spec;
        if name.contains("ccsdd") {
            assert_eq!(spec.dialect, Dialect::CcSdd, "{name}");
        } else {
            assert_eq!(spec.dialect, Dialect::Kiro, "{name}");
        }
        let expected = if name.contains("bugfix") {
            SpecKind::Bugfix
        } else {
            SpecKind::Feature
        };
        assert_eq!(spec.kind, expected, "{name}");
        if dir.join(DocKind::Bugfix.file_name()).exists() {
            assert!(spec.bugfix.is_some(), "{name}");
        }
    }
}
