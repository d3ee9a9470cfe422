//! Steering files in and out of the store: what each `inclusion` becomes,
//! file references and their bounds, and export/import round trips.

// Tests state their expectations with unwrap; a failure is the test failing.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use kiro_memory::steering::{
    export_json, export_steering, import_json, import_steering, read_steering, read_steering_text,
    steering_files, SteeringOptions,
};
use kiro_memory::{
    AddOutcome, Kind, ListFilter, MemoryRecord, MemoryStore, NewMemory, RecallContext, Scope,
};

/// A workspace with these steering files (name, text).
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let steering = dir.path().join(".kiro/steering");
    std::fs::create_dir_all(&steering).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Reads one steering file and compares `(title, content, scope)` of the
/// memories it gives; every one is a rule.
#[track_caller]
fn check(name: &str, text: &str, expected: &[(&str, &str, Scope)]) {
    let read = read_steering_text(Path::new("."), name, text, &SteeringOptions::default());
    let got: Vec<(&str, &str, Scope)> = read
        .memories
        .iter()
        .map(|m| (m.title.as_str(), m.content.as_str(), m.scope.clone()))
        .collect();
    assert_eq!(got, expected, "{text:?}");
    assert!(read.memories.iter().all(|m| m.kind == Kind::Rule));
}

#[test]
fn each_inclusion_becomes_a_scope() {
    use Scope::*;
    check(
        "tech.md",
        "Use Rust 2021.\n",
        &[("tech", "Use Rust 2021.", Global)],
    );
    check(
        "tech.md",
        "---\ninclusion: always\n---\n# Tech stack\n\nRust.\n\n## Errors\n\nthiserror in libraries.\n",
        &[
            ("Tech stack", "Rust.", Global),
            ("Errors", "thiserror in libraries.", Global),
        ],
    );
    check(
        "rust.md",
        "---\ninclusion: fileMatch\nfileMatchPattern: \"src/**/*.rs\"\n---\nNo unwrap.\n",
        &[("rust", "No unwrap.", Path("src/**/*.rs".into()))],
    );
    // Several patterns are one alternation, which globset matches as any of them.
    check(
        "build.md",
        "---\ninclusion: fileMatch\nfileMatchPattern: [\"Cargo.toml\", '**/build.rs']\n---\nPin versions.\n",
        &[("build", "Pin versions.", Path("{Cargo.toml,**/build.rs}".into()))],
    );
    // Manual files are named by `#stem`, as Kiro's chat names them.
    check(
        "api-style.md",
        "---\ninclusion: manual\n---\n## REST\nPlural nouns.\n",
        &[("REST", "Plural nouns.", Spec("#api-style".into()))],
    );
    // fileMatch without a pattern is read as manual (kiro-core's rule).
    check(
        "odd.md",
        "---\ninclusion: fileMatch\n---\nX\n",
        &[("odd", "X", Spec("#odd".into()))],
    );
    // Empty sections and files give nothing.
    check("empty.md", "---\ninclusion: always\n---\n\n## A\n\n", &[]);
}

#[test]
fn a_manual_memory_is_not_recalled_for_a_spec_task() {
    let store = MemoryStore::open_in_memory().unwrap();
    let text = "---\ninclusion: manual\n---\nEndpoints use plural nouns.\n";
    for m in read_steering_text(
        Path::new("."),
        "api-style.md",
        text,
        &SteeringOptions::default(),
    )
    .memories
    {
        store.add(m).unwrap();
    }
    let ask = |spec: &str| {
        store
            .recall(
                &RecallContext::new("add the endpoints with plural nouns").spec(spec),
                1_000,
            )
            .unwrap()
            .len()
    };
    assert_eq!(ask("login"), 0, "a pipeline task names its spec");
    assert_eq!(ask("#api-style"), 1, "asked for by name");
}

#[test]
fn file_references_are_read_inside_the_workspace_only() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP SECRET").unwrap();
    let ws = workspace(&[
        ("docs/errors.md", "Errors are typed.\n"),
        ("big.txt", &"x".repeat(2_000)),
        (
            ".kiro/steering/refs.md",
            "See #[[file:docs/errors.md]].\nNot #[[file:../x]] nor #[[file:/etc/passwd]] nor #[[file:link/secret.txt]].\nAlso #[[file:big.txt]] and #[[file:missing.md]] and \\#[[file:docs/errors.md]].\n",
        ),
    ]);
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), ws.path().join("link")).unwrap();
    let read = read_steering(
        ws.path(),
        &SteeringOptions::default().max_reference_bytes(1_000),
    )
    .unwrap();
    assert_eq!(read.memories.len(), 1);
    let content = &read.memories[0].content;
    assert!(
        content.starts_with("See <file path=\"docs/errors.md\">\nErrors are typed.\n</file>."),
        "{content}"
    );
    assert!(!content.contains("TOP SECRET"), "{content}");
    assert!(!content.contains("root:"), "{content}");
    for why in [
        "(file ../x not included: the path leaves the workspace)",
        "(file /etc/passwd not included: the path leaves the workspace)",
        "(file big.txt not included: larger than 1000 bytes)",
        "(file missing.md not included: no such file)",
    ] {
        assert!(content.contains(why), "{why} in {content}");
    }
    #[cfg(unix)]
    assert!(content.contains("(file link/secret.txt not included: the path leaves the workspace)"));
    // An escaped reference stays text, one backslash less.
    assert!(
        content.ends_with("and #[[file:docs/errors.md]]."),
        "{content}"
    );
    // Each reference left out is noted with its file and line.
    let noted: Vec<(&str, Option<u32>)> = read
        .notes
        .iter()
        .map(|n| (n.subject.as_str(), n.line))
        .collect();
    assert_eq!(
        noted.len(),
        if cfg!(unix) { 5 } else { 4 },
        "{:?}",
        read.notes
    );
    assert!(noted.iter().all(|(s, _)| *s == "refs.md"));
    assert!(noted.contains(&("refs.md", Some(3))));

    // Lines are the file's own: after front matter, in a later section,
    // at a line's start.
    let text = "---\ninclusion: always\n---\n# T\n\n## A\nx\n## B\n\n#[[file:gone.md]]\n";
    let read = read_steering_text(ws.path(), "lines.md", text, &SteeringOptions::default());
    let lines: Vec<Option<u32>> = read.notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, [Some(10)], "{:?}", read.notes);
}

#[test]
fn unreadable_steering_files_are_skipped_with_a_note() {
    let ws = workspace(&[
        (".kiro/steering/huge.md", &"Be terse. ".repeat(200_000)),
        (".kiro/steering/ok.md", "Be kind.\n"),
        (".kiro/steering/notes.txt", "not steering"),
    ]);
    std::fs::write(ws.path().join(".kiro/steering/bin.md"), [0xff, 0xfe, 0x00]).unwrap();
    let read = read_steering(ws.path(), &SteeringOptions::default()).unwrap();
    let titles: Vec<&str> = read.memories.iter().map(|m| m.title.as_str()).collect();
    assert_eq!(titles, ["ok"]);
    let notes: Vec<String> = read
        .notes
        .iter()
        .map(|n| format!("{}: {}", n.subject, n.message))
        .collect();
    assert_eq!(
        notes,
        [
            "bin.md: skipped: not UTF-8 text",
            "huge.md: skipped: larger than 262144 bytes",
        ]
    );
    // No steering folder reads as none.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        read_steering(empty.path(), &SteeringOptions::default())
            .unwrap()
            .memories,
        []
    );
}

/// The `(title, content, scope, kind)` of the store's current memories, sorted.
fn contents(store: &MemoryStore) -> Vec<(String, String, Scope, Kind)> {
    let mut out: Vec<_> = store
        .list(&ListFilter::new())
        .unwrap()
        .into_iter()
        .map(|m: MemoryRecord| (m.title, m.content, m.scope, m.kind))
        .collect();
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out
}

#[test]
fn export_then_import_gives_back_what_steering_can_express() {
    let store = MemoryStore::open_in_memory().unwrap();
    let rules = [
        ("Errors", "Use thiserror in library crates.", Scope::Global),
        (
            "Headings inside",
            "Intro line.\n## Not a section\n\\## Escaped already\n# Top heading\n### Deeper",
            Scope::Global,
        ),
        (
            "References as text",
            "Read #[[file:docs/x.md]] yourself.\n#[[file:a.md]]\n\\#[[file:b.md]]",
            Scope::Path("src/**/*.rs".into()),
        ),
        (
            "Quotes",
            "Keep \"quotes\" and 'these'.",
            Scope::Path("docs/\"odd\"/*.md".into()),
        ),
        (
            "Alternation",
            "Pin versions.",
            Scope::Path("{Cargo.toml,**/build.rs}".into()),
        ),
        (
            "Manual",
            "Plural nouns for endpoints.",
            Scope::Spec("#api-style".into()),
        ),
        ("Unicode", "Prüfe die Eingabe — 需求书.", Scope::Global),
    ];
    for (title, content, scope) in &rules {
        store
            .add(
                NewMemory::new(*content)
                    .title(*title)
                    .kind(Kind::Rule)
                    .scope(scope.clone()),
            )
            .unwrap();
    }
    // Not expressible as steering: left out, with a note each (front
    // matter cannot quote a glob holding both quote characters).
    store
        .add(
            NewMemory::new("Both quotes.")
                .kind(Kind::Rule)
                .scope(Scope::Path("it's/\"x\"".into())),
        )
        .unwrap();
    store
        .add(
            NewMemory::new("Repo only.")
                .kind(Kind::Rule)
                .scope(Scope::Repository("app".into())),
        )
        .unwrap();
    store
        .add(
            NewMemory::new("Spec only.")
                .kind(Kind::Rule)
                .scope(Scope::Spec("login".into())),
        )
        .unwrap();

    let ws = tempfile::tempdir().unwrap();
    let report = export_steering(&store, &ws.path().join(".kiro/steering")).unwrap();
    assert_eq!(
        report.exported,
        rules.len(),
        "{:?} {:?}",
        report.notes,
        contents(&store)
    );
    assert_eq!(report.notes.len(), 3, "{:?}", report.notes);
    // One file per scope: global, three globs, one manual.
    assert_eq!(report.written.len(), 5, "{:?}", report.written);
    assert!(report.written.iter().any(|p| p.ends_with("api-style.md")));
    // Nothing but the files themselves (no temporary file left behind).
    assert_eq!(
        std::fs::read_dir(ws.path().join(".kiro/steering"))
            .unwrap()
            .count(),
        5
    );

    let back = MemoryStore::open_in_memory().unwrap();
    let imported = import_steering(&back, ws.path(), &SteeringOptions::default()).unwrap();
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);
    let mut expected: Vec<_> = rules
        .iter()
        .map(|(t, c, s)| (t.to_string(), c.to_string(), s.clone(), Kind::Rule))
        .collect();
    expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(contents(&back), expected);

    // Importing the same files again merges into what is there.
    let again = import_steering(&back, ws.path(), &SteeringOptions::default()).unwrap();
    assert!(
        again
            .outcomes
            .iter()
            .all(|o| matches!(o, AddOutcome::Merged { .. })),
        "{:?}",
        again.outcomes
    );
    assert_eq!(contents(&back), expected);
}

#[test]
fn exported_files_are_the_ones_import_reads() {
    let store = MemoryStore::open_in_memory().unwrap();
    store
        .add(
            NewMemory::new("No unwrap in library code.")
                .title("Panics")
                .kind(Kind::Rule),
        )
        .unwrap();
    store
        .add(
            NewMemory::new("Prefer iterators.")
                .title("Loops")
                .kind(Kind::Rule)
                .scope(Scope::Path("src/**/*.rs".into())),
        )
        .unwrap();
    let (files, notes) = steering_files(&store.list(&ListFilter::new()).unwrap());
    assert!(notes.is_empty());
    let texts: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (
                "memory-global.md",
                "---\ninclusion: always\n---\n\n## Panics\n\nNo unwrap in library code.\n\n"
            ),
            (
                files[1].name.as_str(),
                "---\ninclusion: fileMatch\nfileMatchPattern: \"src/**/*.rs\"\n---\n\n## Loops\n\nPrefer iterators.\n\n"
            ),
        ]
    );
    assert!(
        files[1].name.starts_with("memory-path-src-rs-"),
        "{}",
        files[1].name
    );
}

#[test]
fn json_export_round_trips_current_memories() {
    let store = MemoryStore::open_in_memory().unwrap();
    store
        .add(
            NewMemory::new("Use anyhow in library crates")
                .kind(Kind::Lesson)
                .source(
                    kiro_memory::Source::url("https://example.com/r/1")
                        .author("ana")
                        .pr(1),
                ),
        )
        .unwrap();
    store
        .add(NewMemory::new("Use thiserror in library crates").kind(Kind::Lesson))
        .unwrap();
    store
        .add(
            NewMemory::new("The parser lives in src/parse")
                .kind(Kind::Fact)
                .scope(Scope::Repository("app".into())),
        )
        .unwrap();
    let export = export_json(&store).unwrap();
    // Superseded history is exported too.
    assert_eq!(export.memories.len(), 3);
    assert_eq!(
        export.memories.iter().filter(|m| !m.is_current()).count(),
        1
    );
    let json = serde_json::to_string(&export).unwrap();
    let parsed: kiro_memory::steering::MemoryExport = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, export);

    let back = MemoryStore::open_in_memory().unwrap();
    import_json(&back, &parsed).unwrap();
    assert_eq!(contents(&back), contents(&store));
    let sources: Vec<_> = back
        .list(&ListFilter::new())
        .unwrap()
        .into_iter()
        .flat_map(|m| m.sources)
        .collect();
    assert!(
        sources.is_empty(),
        "the superseded memory's source went with it: {sources:?}"
    );

    // A newer export version is refused rather than half read.
    let future = kiro_memory::steering::MemoryExport {
        version: 99,
        ..parsed
    };
    let err = import_json(&back, &future).unwrap_err().to_string();
    assert!(err.contains("version"), "{err}");
}
