//! The labelled evaluation: review feedback of four repositories (Rust,
//! Python, TypeScript, Go; `tests/data/eval/*.comments.json` and
//! `*.reviews.json`, in the GitHub REST API's shapes) ingested into one
//! store, then 25 tasks (`tests/data/eval/tasks.json`), each labelled with
//! the comment ids whose lessons it should get, recalled top 5.
//!
//! recall@5 is, per task, the share of its labelled comments whose lesson
//! is among the five memories recalled, averaged over the tasks;
//! precision@5 is, per task, the share of the five recalled memories that
//! come from a labelled comment, averaged. A task labels one to three
//! comments (37 labels for 25 tasks), so precision@5 is bounded near 0.3
//! by the labels alone; R-precision (precision in the top *r*, *r* the
//! task's number of labels) says how well the relevant ones rank first.
//! Both are printed and held above the floors measured when the set was
//! written. Run with `--nocapture` to see the per-task table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiro_memory::ingest::{parse_github, Ingestor, Outcome, PathScope};
use kiro_memory::{MemoryId, MemoryStore, RecallContext};
use serde::Deserialize;

/// The repositories of the fixture set and their file stem under `eval/`.
const REPOSITORIES: &[(&str, &str)] = &[
    ("acme/ledger", "ledger"),
    ("acme/insights", "insights"),
    ("acme/storefront", "storefront"),
    ("acme/relay", "relay"),
];

/// The comments written as attacks on an agent: each must be rejected.
const INJECTIONS: &[u64] = &[1190, 2190, 2191, 3190, 3191, 4190, 4191];

/// recall@5 the ingest and recall must reach.
const RECALL_TARGET: f64 = 0.9;

/// precision@5 floor: measured 0.304 when the set was written (about 0.3 is
/// what the labels allow); a drop below it means recall now ranks more
/// unrelated lessons in the top five.
const PRECISION_FLOOR: f64 = 0.3;

/// R-precision floor, measured 0.873 with the default directory scope
/// when the set was written (0.693 with extension scopes).
const R_PRECISION_FLOOR: f64 = 0.8;

#[derive(Deserialize)]
struct Task {
    id: String,
    repository: String,
    spec: String,
    title: String,
    details: Vec<String>,
    paths: Vec<PathBuf>,
    relevant: Vec<u64>,
}

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/eval")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one run of the evaluation measured.
struct Measured {
    recall: f64,
    precision: f64,
    r_precision: f64,
    misses: Vec<String>,
}

/// Ingests the set with lessons scoped by `path_scope` and recalls for every task.
fn evaluate(path_scope: PathScope, verbose: bool) -> Measured {
    let store = MemoryStore::open_in_memory().unwrap();
    // Which comments each memory holds the lessons of (several after a merge).
    let mut origin: BTreeMap<MemoryId, BTreeSet<u64>> = BTreeMap::new();
    let mut with_lessons: BTreeSet<u64> = BTreeSet::new();
    let (mut comments, mut chatter, mut rejected) = (0, 0, BTreeSet::new());
    for (repository, stem) in REPOSITORIES {
        let ingestor = Ingestor::builder()
            .repository(*repository)
            .path_scope(path_scope)
            .build();
        for kind in ["comments", "reviews"] {
            let name = format!("{stem}.{kind}.json");
            let parsed = parse_github(&name, &data(&name)).unwrap();
            assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
            let report = ingestor.ingest(&store, &parsed.comments).unwrap();
            comments += parsed.comments.len();
            chatter += report.chatter();
            for item in &report.items {
                let id = item.comment.unwrap();
                if let Outcome::Rejected { .. } = item.outcome {
                    rejected.insert(id);
                }
                for memory in &item.memories {
                    origin.entry(*memory).or_default().insert(id);
                    with_lessons.insert(id);
                }
            }
        }
    }
    if verbose {
        println!(
            "ingested {comments} comments and reviews: {} memories from {} comments, {chatter} chatter, {} rejected",
            origin.len(),
            with_lessons.len(),
            rejected.len()
        );
    }
    assert!(
        comments >= 60,
        "the set needs at least 60 comments, has {comments}"
    );
    assert_eq!(
        rejected,
        INJECTIONS.iter().copied().collect(),
        "every injection attempt, nothing else, is rejected"
    );

    let tasks: Vec<Task> = serde_json::from_str(&data("tasks.json")).unwrap();
    assert_eq!(tasks.len(), 25);
    let (mut recall_sum, mut precision_sum, mut r_precision_sum) = (0.0, 0.0, 0.0);
    let mut misses = Vec::new();
    for task in &tasks {
        for id in &task.relevant {
            assert!(
                with_lessons.contains(id),
                "{}: labelled comment {id} gave no lesson",
                task.id
            );
        }
        let mut context =
            RecallContext::new(format!("{}\n{}", task.title, task.details.join("\n")))
                .repository(&task.repository)
                .spec(&task.spec)
                .limit(5);
        for path in &task.paths {
            context = context.path(path);
        }
        let recalled = store.recall(&context, 10_000).unwrap();
        assert!(recalled.len() <= 5);
        let from: Vec<&BTreeSet<u64>> = recalled.iter().map(|r| &origin[&r.memory.id]).collect();
        let found: BTreeSet<u64> = from.iter().flat_map(|ids| ids.iter().copied()).collect();
        let hits = task.relevant.iter().filter(|id| found.contains(id)).count();
        let relevant_recalled = from
            .iter()
            .filter(|ids| task.relevant.iter().any(|id| ids.contains(id)))
            .count();
        let r = task.relevant.len();
        let first_r: BTreeSet<u64> = from
            .iter()
            .take(r)
            .flat_map(|ids| ids.iter().copied())
            .collect();
        let r_precision = task
            .relevant
            .iter()
            .filter(|id| first_r.contains(id))
            .count() as f64
            / r as f64;
        r_precision_sum += r_precision;
        let recall = hits as f64 / r as f64;
        let precision = relevant_recalled as f64 / 5.0;
        recall_sum += recall;
        precision_sum += precision;
        if verbose {
            println!(
                "{} recall {recall:.2} precision {precision:.2} recalled {from:?}",
                task.id
            );
        }
        for id in task.relevant.iter().filter(|id| !found.contains(id)) {
            misses.push(format!("{}: comment {id} not in the top 5", task.id));
        }
    }
    let n = tasks.len() as f64;
    Measured {
        recall: recall_sum / n,
        precision: precision_sum / n,
        r_precision: r_precision_sum / n,
        misses,
    }
}

#[test]
fn recall_at_5_on_the_labelled_review_set() {
    // The other scopes are measured for comparison (the README reports
    // them); the targets hold for the default.
    for scope in [
        PathScope::Extension,
        PathScope::DirectoryAndExtension,
        PathScope::File,
    ] {
        let m = evaluate(scope, false);
        println!(
            "{scope:?}: recall@5 {:.3}, precision@5 {:.3}, R-precision {:.3}",
            m.recall, m.precision, m.r_precision
        );
    }
    let m = evaluate(PathScope::default(), true);
    println!(
        "{:?} (default): recall@5 {:.3}, precision@5 {:.3}, R-precision {:.3} over 25 tasks",
        PathScope::default(),
        m.recall,
        m.precision,
        m.r_precision
    );
    for miss in &m.misses {
        println!("miss: {miss}");
    }
    assert!(
        m.recall >= RECALL_TARGET,
        "recall@5 {:.3} < {RECALL_TARGET}: {:#?}",
        m.recall,
        m.misses
    );
    assert!(
        m.precision >= PRECISION_FLOOR,
        "precision@5 {:.3} < {PRECISION_FLOOR}",
        m.precision
    );
    assert!(
        m.r_precision >= R_PRECISION_FLOOR,
        "R-precision {:.3} < {R_PRECISION_FLOOR}",
        m.r_precision
    );
}
