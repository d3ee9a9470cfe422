//! Recall: candidates by text and scope, filters, ranking, the token
//! budget, use counts, and the `MemoryRecall` seam.

use kiro_core::memory::{MemoryRecall, RecallReason, RecallRequest};
use kiro_memory::{Kind, MemoryStore, NewMemory, RecallContext, RecalledMemory, Scope};

/// A fixed "now" for reproducible recency (2026-01-01T00:00:00Z).
const NOW: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;

/// A store with a realistic handful of lessons, all added at `NOW - 1 day`.
fn lessons() -> MemoryStore {
    let store = MemoryStore::open_in_memory().unwrap();
    let add = |m: NewMemory| {
        store.add(m.valid_from(NOW - DAY)).unwrap();
    };
    add(
        NewMemory::new("Library crates define one thiserror error enum; anyhow only in the CLI")
            .kind(Kind::Rule),
    );
    add(
        NewMemory::new("Parsers never fail hard: return the value and diagnostics")
            .scope(Scope::Path("kiro-core/src/format/**".into())),
    );
    add(NewMemory::new(
        "Snapshot tests for the HTML report live in tests/report",
    ));
    add(NewMemory::new(
        "Retry HTTP requests with exponential backoff and jitter",
    ));
    add(
        NewMemory::new("The login spec stores sessions in Redis, not in cookies")
            .scope(Scope::Spec("login".into())),
    );
    add(
        NewMemory::new("Release builds of the app use the musl target")
            .kind(Kind::Preference)
            .scope(Scope::Repository("app".into())),
    );
    add(
        NewMemory::new("Benchmarks run with criterion and short measurement times in CI")
            .scope(Scope::Repository("tools".into())),
    );
    store
}

fn recall(store: &MemoryStore, context: RecallContext, budget: u32) -> Vec<RecalledMemory> {
    store.recall(&context.now(NOW), budget).unwrap()
}

/// The first words of each recalled memory, best first.
fn heads(recalled: &[RecalledMemory]) -> Vec<String> {
    recalled
        .iter()
        .map(|r| {
            r.memory
                .content
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn global_rules_come_for_every_task_and_similar_text_ranks_first() {
    let store = lessons();
    let got = recall(
        &store,
        RecallContext::new("Add retry with backoff to the HTTP client"),
        2_000,
    );
    assert_eq!(heads(&got), ["Retry HTTP", "Library crates"]);
    assert!(
        matches!(got[0].reasons[..], [RecallReason::Similar(s)] if s > 0.3),
        "{:?}",
        got[0].reasons
    );
    assert_eq!(got[1].reasons, [RecallReason::Always]);
    assert!(got[0].score > got[1].score);
}

#[test]
fn path_globs_match_the_task_paths() {
    let store = lessons();
    let check = |path: &str, expected: bool| {
        let got = recall(
            &store,
            RecallContext::new("Handle a new block kind").path(path),
            2_000,
        );
        let parser = got.iter().find(|r| r.memory.content.starts_with("Parsers"));
        assert_eq!(parser.is_some(), expected, "{path}: {:?}", heads(&got));
        if let Some(parser) = parser {
            assert_eq!(parser.reasons[0], RecallReason::Path(path.into()));
        }
    };
    check("kiro-core/src/format/tasks.rs", true);
    check("kiro-core/src/format/deep/er.rs", true);
    check("kiro-core/src/lint.rs", false);
    check("kiro-cli/src/format/x.rs", false);
}

#[test]
fn a_path_scoped_lesson_is_still_found_by_its_words_when_the_task_names_no_path() {
    let store = lessons();
    let got = recall(
        &store,
        RecallContext::new("the parsers return diagnostics"),
        2_000,
    );
    assert_eq!(heads(&got)[0], "Parsers never");
}

#[test]
fn repository_and_spec_scopes_filter() {
    let store = lessons();
    let texts = |context: RecallContext| heads(&recall(&store, context, 2_000));
    // The app's preference comes for the app, never for another repository.
    assert!(texts(RecallContext::new("cut a release").repository("app"))
        .contains(&"Release builds".to_owned()));
    assert!(
        !texts(RecallContext::new("release builds").repository("tools"))
            .contains(&"Release builds".to_owned())
    );
    // A repository lesson found by its words is dropped for another repository.
    assert!(
        texts(RecallContext::new("criterion benchmarks").repository("tools"))
            .contains(&"Benchmarks run".to_owned())
    );
    assert!(
        !texts(RecallContext::new("criterion benchmarks").repository("app"))
            .contains(&"Benchmarks run".to_owned())
    );
    // The spec's memory comes for its spec, whatever the text, and never for another.
    let login = recall(
        &store,
        RecallContext::new("add a logout button").spec("login"),
        2_000,
    );
    let spec = login
        .iter()
        .find(|r| r.memory.content.starts_with("The login"))
        .unwrap();
    assert_eq!(spec.reasons[0], RecallReason::SameSpec);
    assert!(
        !texts(RecallContext::new("sessions in redis").spec("billing"))
            .contains(&"The login".to_owned())
    );
}

#[test]
fn superseded_memories_are_not_recalled() {
    let store = MemoryStore::open_in_memory().unwrap();
    store
        .add(NewMemory::new("Use anyhow for errors in library crates").valid_from(1))
        .unwrap();
    store
        .add(NewMemory::new("Use thiserror for errors in library crates").valid_from(2))
        .unwrap();
    let got = recall(
        &store,
        RecallContext::new("errors in library crates: anyhow or thiserror?"),
        1_000,
    );
    assert_eq!(heads(&got), ["Use thiserror"]);
}

#[test]
fn the_budget_holds_and_a_memory_too_big_is_skipped_for_smaller_ones() {
    let store = MemoryStore::open_in_memory().unwrap();
    let big = format!("Cache invalidation notes: {}", "details ".repeat(200));
    store.add(NewMemory::new(big).confidence(1.0)).unwrap();
    store
        .add(NewMemory::new("Cache keys include the schema version"))
        .unwrap();
    store
        .add(NewMemory::new("Cache entries expire after a day"))
        .unwrap();
    let check = |budget: u32, expected: &[&str]| {
        let got = recall(&store, RecallContext::new("cache invalidation"), budget);
        let total: u32 = got.iter().map(|r| r.tokens).sum();
        assert!(total <= budget, "{total} > {budget}");
        let mut heads = heads(&got);
        heads.sort();
        assert_eq!(heads, expected, "budget {budget}");
    };
    check(
        10_000,
        &["Cache entries", "Cache invalidation", "Cache keys"],
    );
    check(30, &["Cache entries", "Cache keys"]);
    check(10, &["Cache keys"]);
    check(0, &[]);
    // A limit caps the count whatever the budget.
    assert_eq!(
        recall(&store, RecallContext::new("cache").limit(1), 10_000).len(),
        1
    );
}

#[test]
fn recall_counts_uses() {
    let store = lessons();
    let first = recall(&store, RecallContext::new("retry backoff"), 2_000);
    let id = first[0].memory.id;
    assert_eq!(first[0].memory.use_count, 0);
    recall(&store, RecallContext::new("retry backoff"), 2_000);
    let record = store.get(id).unwrap().unwrap();
    assert_eq!((record.use_count, record.last_used), (2, Some(NOW)));
}

#[test]
fn confidence_breaks_ties_between_equally_similar_memories() {
    let store = MemoryStore::open_in_memory().unwrap();
    // Same words, different scopes so that they are not merged.
    for (scope, confidence) in [("a", 0.2), ("b", 0.9)] {
        store
            .add(
                NewMemory::new("Vendor the protobuf files")
                    .confidence(confidence)
                    .scope(Scope::Repository(scope.into())),
            )
            .unwrap();
    }
    let got = recall(&store, RecallContext::new("protobuf files"), 1_000);
    assert_eq!(got.len(), 2);
    assert!(got[0].memory.confidence > got[1].memory.confidence);
}

/// Runs a future that never waits (the store answers at once), so the
/// trait is tested without an async runtime.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn the_store_serves_kiro_cores_recall_seam_within_its_budget() {
    let store = std::sync::Arc::new(lessons());
    let task = kiro_core::format::parse_tasks(
        "- [ ] 2. Teach the parser a new block\n  - Edit `kiro-core/src/format/tasks.rs`\n",
    )
    .value
    .tasks
    .remove(0);
    let request = RecallRequest::for_task("login", &task)
        .repositories(["app"])
        .budget_tokens(60);
    let recalled = ready(kiro_core::memory::recall_within(&store, &request)).unwrap();
    // Everything the store returned fits: recall_within dropped nothing.
    let direct = ready(MemoryRecall::recall(&store, &request)).unwrap();
    assert_eq!(recalled.len(), direct.len());
    assert!(recalled.iter().map(|r| r.tokens).sum::<u32>() <= 60);
    let parser = recalled
        .iter()
        .find(|r| r.memory.text.starts_with("Parsers"))
        .unwrap();
    assert_eq!(
        parser.reason,
        RecallReason::Path("kiro-core/src/format/tasks.rs".into())
    );
    assert!(parser.memory.id.is_some());
}
