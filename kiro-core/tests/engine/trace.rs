//! The trace graph and coverage on a fixture workspace built in a temp dir,
//! with tests in Rust, Python and TypeScript covering every link type and
//! every coverage finding; plus the Kiro fixture corpus
//! (`../shared/fixtures/kiro-specs`, skipped when absent).

// Tests assert by panicking; the library-code lints do not apply here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use kiro_core::checkpoint::{
    Checkpoint, CheckpointId, CheckpointStore, FileChange, FileCheckpointStore, FileState,
};
use kiro_core::format::{parse_design, parse_requirements, parse_tasks};
use kiro_core::report::{matrix_schema, Matrix};
use kiro_core::spec::{CriterionId, PropertyId, Spec, TaskId};
use kiro_core::store::load_spec;
use kiro_core::trace::{
    build_report, task_files_from_checkpoints, Coverage, Finding, FindingKind, LinkLock, Severity,
    TestKey, TraceGraph,
};
use kiro_core::verify::annotations::{scan_dir, scan_file, Annotation};
use kiro_core::verify::{CriterionStatus, RunInfo, TestResult, TestStatus};

use crate::fixtures;

const REQUIREMENTS: &str = "# Requirements Document

## Requirements

### Requirement 1: Cart

**User Story:** As a shopper, I want a cart, so that I can buy several things.

#### Acceptance Criteria

1. WHEN a shopper adds an item, THE Cart SHALL list the item
2. WHEN a shopper removes an item, THE Cart SHALL drop the item
3. THE Cart SHALL show the total

### Requirement 2: Payment

#### Acceptance Criteria

1. WHEN a shopper pays, THE Checkout SHALL charge the card once
2. IF the card is declined, THEN THE Checkout SHALL keep the cart

### Requirement 3: Receipts

#### Acceptance Criteria

1. THE Shop SHALL email a receipt
";

const DESIGN: &str = "# Design Document

## Overview

A shop.

## Correctness Properties

### Property 1: Cart total is the sum

*For any* cart, the total SHALL be the sum of its items.

**Validates: Requirements 1.1, 1.2**

### Property 2: Payment is idempotent

*For any* payment, paying twice SHALL charge once.

**Validates: Requirements 2.2**

### Property 3: Receipts are sent

*For any* order, a receipt SHALL be sent.

**Validates: Requirements 3.1**
";

const TASKS: &str = "# Implementation Plan

- [ ] 1. Build the cart
  - _Requirements: 1.1, 1.2_

- [ ] 2. Build the checkout
  - _Requirements: 2_

- [ ] 3. Build the ledger
  - Test Property 7
  - _Requirements: 9.9_
";

const RUST_TESTS: &str = "use shop::cart;

/// Validates: Requirements 1.1
#[test]
fn adds_item() {}

// **Validates: Requirements 1.2-1.3**
#[test]
fn removes_item() {}

// Feature: shop, Property 1: Cart total is the sum
#[test]
fn prop_total() {}
";

const PYTHON_TESTS: &str = "import shop

# Requirements: 2.1
def test_pay():
    assert shop.pay()


# **Validates: Requirements 8.1**
def test_ghost():
    pass


# Feature: shop, Property 9: Nobody wrote this property
def test_missing_property():
    pass


# Feature: other-spec, Property 1: Foreign
# Validates: Requirements 3.1
def test_foreign():
    pass


def test_refund():
    \"\"\"Validates: Requirements 2.2\"\"\"
    assert shop.refund()
";

const TS_TESTS: &str = "import { checkout } from '../src/checkout';

describe('checkout', () => {
  // **Validates: Requirements 2.1–2.2**
  it('charges the card', () => {
    expect(checkout()).toBe(true);
  });

  // Feature: shop, Property 2: Payment is idempotent
  test('pays once', () => {
    expect(checkout()).toBe(true);
  });
});
";

fn result(name: &str, status: TestStatus) -> TestResult {
    TestResult {
        name: name.into(),
        classname: None,
        file: None,
        line: None,
        status,
        message: (status == TestStatus::Failed).then(|| "assertion failed".to_owned()),
        output: String::new(),
        duration_ms: None,
    }
}

fn results() -> Vec<TestResult> {
    vec![
        result("cart::adds_item", TestStatus::Passed),
        result("cart::removes_item", TestStatus::Failed),
        result("cart::prop_total", TestStatus::Passed),
        result("tests/test_pay.py::test_pay", TestStatus::Passed),
        result("tests/test_pay.py::test_refund", TestStatus::Passed),
        result("checkout charges the card", TestStatus::Passed),
        result("checkout pays once", TestStatus::Passed),
    ]
}

/// A workspace with the `shop` spec and tests in three languages.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = root.join(".kiro/specs/shop");
    fs::create_dir_all(&spec).unwrap();
    fs::write(spec.join("requirements.md"), REQUIREMENTS).unwrap();
    fs::write(spec.join("design.md"), DESIGN).unwrap();
    fs::write(spec.join("tasks.md"), TASKS).unwrap();
    fs::create_dir_all(root.join("tests")).unwrap();
    fs::create_dir_all(root.join("web")).unwrap();
    fs::write(root.join("tests/cart.rs"), RUST_TESTS).unwrap();
    fs::write(root.join("tests/test_pay.py"), PYTHON_TESTS).unwrap();
    fs::write(root.join("web/checkout.test.ts"), TS_TESTS).unwrap();
    dir
}

fn load(root: &Path) -> (Spec, Vec<Annotation>) {
    let spec = load_spec(&root.join(".kiro/specs/shop")).unwrap().spec;
    let anns = scan_dir(root).unwrap();
    (spec, anns)
}

fn c(id: &str) -> CriterionId {
    CriterionId::new(id)
}

fn key(file: &str, line: u32) -> TestKey {
    TestKey {
        file: file.into(),
        line,
    }
}

fn names(graph: &TraceGraph, id: &str) -> Vec<String> {
    graph
        .tests_of(&c(id))
        .iter()
        .map(|t| t.name.clone().unwrap_or_default())
        .collect()
}

fn kinds_for(findings: &[Finding], kind: FindingKind) -> Vec<&Finding> {
    findings.iter().filter(|f| f.kind == kind).collect()
}

#[test]
fn every_link_type_is_traced() {
    let ws = workspace();
    let (spec, anns) = load(ws.path());
    let mut files = BTreeMap::new();
    files.insert(
        TaskId::new("1"),
        vec![("app".to_owned(), "src/cart.rs".to_owned())],
    );
    files.insert(
        TaskId::new("42"),
        vec![("app".to_owned(), "src/ignored.rs".to_owned())],
    );
    let graph = TraceGraph::build(&spec, &anns, &results(), &files);

    // `Validates:` in a Rust doc comment, with `**` and a hyphen range.
    assert_eq!(names(&graph, "1.1"), ["adds_item", "prop_total"]);
    assert_eq!(names(&graph, "1.2"), ["removes_item", "prop_total"]);
    assert_eq!(names(&graph, "1.3"), ["removes_item"]);
    // `Requirements: 2.1` in Python, an en dash range in TypeScript.
    assert_eq!(names(&graph, "2.1"), ["test_pay", "charges the card"]);
    // A Python docstring, the TypeScript range and a property annotation.
    assert_eq!(
        names(&graph, "2.2"),
        ["test_refund", "charges the card", "pays once"]
    );
    // The test tied to another spec is not linked.
    assert!(graph.tests_of(&c("3.1")).is_empty());
    assert!(graph
        .tests()
        .all(|t| t.name.as_deref() != Some("test_foreign")));

    // Property annotations link the property and, through it, its criteria.
    let links = graph.test_links(&c("1.1"));
    assert_eq!(links[0].1, None);
    assert_eq!(links[1].1, Some(&PropertyId::new("1")));
    let prop_tests: Vec<_> = graph
        .tests_of_property(&PropertyId::new("2"))
        .iter()
        .map(|t| t.name.clone().unwrap())
        .collect();
    assert_eq!(prop_tests, ["pays once"]);

    // Tasks: criterion ids, a requirement-level link.
    assert_eq!(graph.tasks_of(&c("1.1")), [&TaskId::new("1")]);
    assert_eq!(graph.tasks_of(&c("2.1")), [&TaskId::new("2")]);
    assert_eq!(graph.tasks_of(&c("2.2")), [&TaskId::new("2")]);
    assert!(graph.tasks_of(&c("1.3")).is_empty());
    assert_eq!(
        graph.files_of(&TaskId::new("1")),
        [&("app".to_owned(), "src/cart.rs".to_owned())]
    );
    assert!(graph.files_of(&TaskId::new("2")).is_empty());
    assert!(graph.files_of(&TaskId::new("42")).is_empty());

    // From a test back to its criteria, and to its results.
    let adds = graph
        .tests()
        .find(|t| t.name.as_deref() == Some("adds_item"))
        .unwrap();
    assert_eq!(adds.key, key("tests/cart.rs", 5));
    assert_eq!(graph.criteria_of_test(&adds.key), [&c("1.1")]);
    let prop = key("tests/cart.rs", 13);
    assert_eq!(graph.criteria_of_test(&prop), [&c("1.1"), &c("1.2")]);
    assert_eq!(
        graph.results_of(&adds.key)[0].name,
        "cart::adds_item".to_owned()
    );
    let charges = graph
        .tests()
        .find(|t| t.name.as_deref() == Some("charges the card"))
        .unwrap();
    assert_eq!(graph.criteria_of_test(&charges.key), [&c("2.1"), &c("2.2")]);
    assert_eq!(graph.results_of(&charges.key).len(), 1);

    // The verdicts of the report agree with the graph they are read from.
    let report = build_report(
        &spec,
        &anns,
        &results(),
        RunInfo {
            command: "test".into(),
            exit_code: Some(1),
            per_test_results: true,
        },
    );
    for row in &report.criteria {
        assert_eq!(
            graph.status_of(&row.criterion),
            row.status,
            "criterion {}",
            row.criterion
        );
    }
    assert_eq!(graph.status_of(&c("1.2")), CriterionStatus::Failed);
    assert_eq!(graph.status_of(&c("3.1")), CriterionStatus::Untested);
}

#[test]
fn matrix_has_one_row_per_criterion_and_a_schema() {
    let ws = workspace();
    let (spec, anns) = load(ws.path());
    let graph = TraceGraph::build(&spec, &anns, &results(), &BTreeMap::new());
    let m = Matrix::from_graph(&graph);
    assert_eq!(m.spec, "shop");
    let ids: Vec<&str> = m.rows.iter().map(|r| r.criterion.as_str()).collect();
    assert_eq!(ids, ["1.1", "1.2", "1.3", "2.1", "2.2", "3.1"]);
    let r12 = &m.rows[1];
    assert_eq!(r12.requirement.as_str(), "1");
    assert!(r12.text.contains("drop the item"));
    assert!(r12.ears.is_some());
    assert_eq!(r12.requirement_title, "Cart");
    assert_eq!(r12.tasks, [TaskId::new("1")]);
    assert_eq!(r12.properties, [PropertyId::new("1")]);
    assert_eq!(r12.status, CriterionStatus::Failed);
    assert_eq!(r12.tests[0].file.as_deref(), Some("tests/cart.rs"));
    assert_eq!(r12.tests[0].line, Some(9));
    assert_eq!(r12.tests[0].status, Some(TestStatus::Failed));
    assert!(
        r12.tests[1].test.ends_with(" (via property 1)"),
        "{}",
        r12.tests[1].test
    );
    // Property 3 is linked to 3.1 and its task via nothing: no task, no test.
    assert!(m.rows[5].tasks.is_empty() && m.rows[5].tests.is_empty());

    let json = serde_json::to_value(&m).unwrap();
    let back: Matrix = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, m);
    let schema = serde_json::to_value(matrix_schema()).unwrap();
    assert!(jsonschema::is_valid(&schema, &json));
}

#[test]
fn every_coverage_finding() {
    let ws = workspace();
    let (spec, anns) = load(ws.path());
    let graph = TraceGraph::build(&spec, &anns, &results(), &BTreeMap::new());
    let findings = Coverage::compute(&spec, &graph, None, None);

    let no_task = kinds_for(&findings, FindingKind::CriterionWithoutTask);
    let ids: Vec<_> = no_task
        .iter()
        .map(|f| f.criterion.clone().unwrap())
        .collect();
    assert_eq!(ids, [c("1.3"), c("3.1")]);
    assert_eq!(no_task[0].severity, Severity::Warning);
    assert_eq!(
        no_task[0].location.as_ref().unwrap().file,
        ".kiro/specs/shop/requirements.md"
    );

    let no_test = kinds_for(&findings, FindingKind::CriterionWithoutTest);
    assert_eq!(no_test.len(), 1);
    assert_eq!(no_test[0].criterion, Some(c("3.1")));

    let unknown = kinds_for(&findings, FindingKind::UnknownCriterionInTest);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].criterion, Some(c("8.1")));
    assert_eq!(unknown[0].severity, Severity::Error);
    assert_eq!(
        unknown[0].location.as_ref().unwrap().to_string(),
        "tests/test_pay.py:8"
    );

    let unknown_p = kinds_for(&findings, FindingKind::UnknownPropertyInTest);
    assert_eq!(unknown_p.len(), 1);
    assert_eq!(unknown_p[0].property, Some(PropertyId::new("9")));
    assert_eq!(
        unknown_p[0].location.as_ref().unwrap().to_string(),
        "tests/test_pay.py:13"
    );

    let in_task = kinds_for(&findings, FindingKind::UnknownCriterionInTask);
    assert_eq!(in_task.len(), 1);
    assert_eq!(in_task[0].task, Some(TaskId::new("3")));
    assert_eq!(in_task[0].criterion, Some(c("9.9")));
    assert!(
        in_task[0].message.contains("task 3"),
        "{}",
        in_task[0].message
    );

    let in_task_p = kinds_for(&findings, FindingKind::UnknownPropertyInTask);
    assert_eq!(in_task_p.len(), 1);
    assert_eq!(in_task_p[0].property, Some(PropertyId::new("7")));

    let no_prop_test = kinds_for(&findings, FindingKind::PropertyWithoutTest);
    assert_eq!(no_prop_test.len(), 1);
    assert_eq!(no_prop_test[0].property, Some(PropertyId::new("3")));

    let failing = kinds_for(&findings, FindingKind::FailingCriterion);
    let ids: Vec<_> = failing
        .iter()
        .map(|f| f.criterion.clone().unwrap())
        .collect();
    assert_eq!(ids, [c("1.2"), c("1.3")]);
    assert_eq!(
        failing[0].location.as_ref().unwrap().to_string(),
        "tests/cart.rs:9"
    );
    assert!(failing[0].message.contains("removes_item"));

    // The same failures come from a verification report.
    let report = build_report(
        &spec,
        &anns,
        &results(),
        RunInfo {
            command: "test".into(),
            exit_code: Some(1),
            per_test_results: true,
        },
    );
    let from_report = Coverage::compute(&spec, &graph, Some(&report), None);
    let failing2 = kinds_for(&from_report, FindingKind::FailingCriterion);
    assert_eq!(failing2.len(), 2);
    assert_eq!(
        failing2[0].location.as_ref().unwrap().to_string(),
        "tests/cart.rs:9"
    );

    // No lock, no stale links.
    assert!(kinds_for(&findings, FindingKind::StaleLink).is_empty());
    // The findings serialise.
    let json = serde_json::to_value(&findings).unwrap();
    let back: Vec<Finding> = serde_json::from_value(json).unwrap();
    assert_eq!(back, findings);
}

#[test]
fn stale_links_from_the_lock() {
    let ws = workspace();
    let root = ws.path();
    let (spec, anns) = load(root);
    let graph = TraceGraph::build(&spec, &anns, &[], &BTreeMap::new());

    // Absent lock: empty. Record, save, load back.
    let mut lock = LinkLock::load(root, "shop").unwrap();
    assert!(lock.links.is_empty());
    lock.record(&graph);
    lock.save(root).unwrap();
    let path = root.join(".kiro/trace/shop.lock.json");
    assert!(path.is_file());
    let lock = LinkLock::load(root, "shop").unwrap();
    assert_eq!(lock.links["tests/cart.rs#adds_item"].len(), 1);
    assert_eq!(
        lock.is_stale(
            "tests/cart.rs#adds_item",
            &c("1.1"),
            &spec.criteria()[0].text
        ),
        Some(false)
    );
    let fresh = Coverage::compute(&spec, &graph, None, Some(&lock));
    assert!(kinds_for(&fresh, FindingKind::StaleLink).is_empty());

    // Re-wrapping the text does not make a link stale; rewording does.
    let mut rewrapped = spec.clone();
    let req = rewrapped.requirements.as_mut().unwrap();
    req.requirements[0].criteria[0].text = req.requirements[0].criteria[0]
        .text
        .replace(" THE ", "\n   THE ");
    let g2 = TraceGraph::build(&rewrapped, &anns, &[], &BTreeMap::new());
    assert!(kinds_for(
        &Coverage::compute(&rewrapped, &g2, None, Some(&lock)),
        FindingKind::StaleLink
    )
    .is_empty());

    let mut edited = spec.clone();
    edited.requirements.as_mut().unwrap().requirements[0].criteria[0].text =
        "WHEN a shopper adds an item, THE Cart SHALL list it twice".into();
    let g3 = TraceGraph::build(&edited, &anns, &[], &BTreeMap::new());
    let findings = Coverage::compute(&edited, &g3, None, Some(&lock));
    let stale = kinds_for(&findings, FindingKind::StaleLink);
    let at: Vec<String> = stale
        .iter()
        .map(|f| f.location.as_ref().unwrap().to_string())
        .collect();
    // The direct link and the link through property 1.
    assert_eq!(at, ["tests/cart.rs:5", "tests/cart.rs:13"]);
    assert!(stale.iter().all(|f| f.criterion == Some(c("1.1"))));
    assert_eq!(stale[0].severity, Severity::Warning);

    // Recording again clears them.
    let mut lock = lock;
    lock.record(&g3);
    lock.save(root).unwrap();
    let lock = LinkLock::load(root, "shop").unwrap();
    assert!(kinds_for(
        &Coverage::compute(&edited, &g3, None, Some(&lock)),
        FindingKind::StaleLink
    )
    .is_empty());

    // A corrupt lock is a JSON error; a bad spec name is refused.
    fs::write(&path, "{ not json").unwrap();
    assert!(matches!(
        LinkLock::load(root, "shop"),
        Err(kiro_core::Error::Json { .. })
    ));
    assert!(LinkLock::load(root, "../x").is_err());
}

#[test]
fn task_files_follow_the_parent_chain_across_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let run = store.create_run().unwrap();
    let blob = store.put_blob(b"x\n").unwrap();
    let present = FileState::present(blob, 0o644);
    let put = |run: &kiro_core::checkpoint::RunId,
               seq: u64,
               node: &str,
               files: &[&str],
               parent: Option<&Checkpoint>| {
        let mut cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(seq), node);
        cp.parent = parent.map(Checkpoint::reference);
        for f in files {
            cp.files.push(FileChange::new("app", *f, present.clone()));
        }
        store.put(&cp).unwrap();
        cp
    };
    let c1 = put(&run, 1, "requirements", &[], None);
    let c2 = put(&run, 2, "task 1", &["src/cart.rs", "src/lib.rs"], Some(&c1));
    let c3 = put(&run, 3, "task 2", &["src/pay.rs", "src/cart.rs"], Some(&c2));
    let _c4 = put(&run, 4, "task 2", &["src/pay.rs"], Some(&c3));

    let files = task_files_from_checkpoints(&store, &run).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[&TaskId::new("1")],
        [
            ("app".to_owned(), "src/cart.rs".to_owned()),
            ("app".to_owned(), "src/lib.rs".to_owned())
        ]
    );
    assert_eq!(
        files[&TaskId::new("2")],
        [
            ("app".to_owned(), "src/pay.rs".to_owned()),
            ("app".to_owned(), "src/cart.rs".to_owned())
        ]
    );

    // A fork from task 1 inherits its files but not task 2's.
    let forked = store.fork(&run, &c2.id).unwrap();
    let first = store.latest(&forked).unwrap().unwrap();
    put(&forked, 2, "task 3", &["src/ledger.rs"], Some(&first));
    let files = task_files_from_checkpoints(&store, &forked).unwrap();
    let tasks: Vec<&str> = files.keys().map(TaskId::as_str).collect();
    assert_eq!(tasks, ["1", "3"]);
    assert_eq!(
        files[&TaskId::new("3")],
        [("app".to_owned(), "src/ledger.rs".to_owned())]
    );

    // An empty run has no files; an unknown run is an error.
    let empty = store.create_run().unwrap();
    assert!(task_files_from_checkpoints(&store, &empty)
        .unwrap()
        .is_empty());
    let unknown = kiro_core::checkpoint::RunId::new("nope").unwrap();
    assert!(task_files_from_checkpoints(&store, &unknown).is_err());
}

#[test]
fn a_spec_without_tasks_or_criteria_reports_no_link_noise() {
    // Without tasks.md no criterion lacks a task; without criteria no link
    // is unknown.
    let spec = Spec {
        name: "shop".into(),
        requirements: Some(parse_requirements(REQUIREMENTS).value),
        ..Spec::default()
    };
    let anns = scan_file("tests/cart.rs", RUST_TESTS);
    let graph = TraceGraph::build(&spec, &anns, &[], &BTreeMap::new());
    let findings = Coverage::compute(&spec, &graph, None, None);
    assert!(kinds_for(&findings, FindingKind::CriterionWithoutTask).is_empty());
    // Property annotations find no design: no link, no unknown property.
    assert!(kinds_for(&findings, FindingKind::UnknownPropertyInTest).is_empty());

    let empty = Spec {
        name: "shop".into(),
        tasks: Some(parse_tasks(TASKS).value),
        design: Some(parse_design(DESIGN).value),
        ..Spec::default()
    };
    let graph = TraceGraph::build(&empty, &anns, &[], &BTreeMap::new());
    let findings = Coverage::compute(&empty, &graph, None, None);
    assert!(kinds_for(&findings, FindingKind::UnknownCriterionInTest).is_empty());
    assert!(kinds_for(&findings, FindingKind::UnknownCriterionInTask).is_empty());
}

#[test]
fn fixture_specs_build_graphs() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ));
    let Ok(entries) = fs::read_dir(dir) else {
        fixtures::missing(dir);
        eprintln!("skipped: fixtures not found at {}", dir.display());
        return;
    };
    let anns = scan_dir(dir).unwrap();
    let mut built = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let spec = load_spec(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .spec;
        let graph = TraceGraph::build(&spec, &anns, &[], &BTreeMap::new());
        let matrix = Matrix::from_graph(&graph);
        assert_eq!(matrix.rows.len(), graph.criteria().count());
        let findings = Coverage::compute(&spec, &graph, None, None);
        serde_json::to_string(&findings).unwrap();
        // Lint and trace read the same links: the same criteria lack a task.
        let mut from_lint = lint_uncovered(&spec);
        from_lint.dedup();
        assert_eq!(
            from_lint,
            trace_uncovered(&findings),
            "{}: lint K0010 and trace disagree",
            path.display()
        );
        built += 1;
    }
    assert!(built >= 30, "built {built} graphs");
}

/// Synthesises a workload like `gen_trace_workload.py` in memory: many
/// criteria, tests named through ranges and properties.
fn synthetic(requirements: usize, per: usize, files: usize) -> (Spec, Vec<Annotation>) {
    let mut req = String::from("# Requirements Document\n\n## Requirements\n\n");
    let mut design = String::from("# Design Document\n\n## Correctness Properties\n\n");
    let mut tasks = String::from("# Implementation Plan\n\n");
    for r in 1..=requirements {
        req.push_str(&format!(
            "### Requirement {r}: Capability {r}\n\n#### Acceptance Criteria\n\n"
        ));
        for k in 1..=per {
            req.push_str(&format!(
                "{k}. WHEN event {r}.{k} happens, THE Service SHALL produce outcome {r}.{k}\n"
            ));
        }
        req.push('\n');
        design.push_str(&format!(
            "### Property {r}: Outcome {r}\n\n*For any* event, it holds.\n\n**Validates: Requirements {r}.1, {r}.2**\n\n"
        ));
        tasks.push_str(&format!(
            "- [ ] {r}. Implement {r}\n  - _Requirements: {r}.1–{r}.{per}_\n\n"
        ));
    }
    let spec = Spec {
        name: "big".into(),
        requirements: Some(parse_requirements(&req).value),
        design: Some(parse_design(&design).value),
        tasks: Some(parse_tasks(&tasks).value),
        ..Spec::default()
    };
    let mut anns = Vec::new();
    for i in 0..files {
        let r = i % requirements + 1;
        let k = (i / requirements) % per + 1;
        let src = format!(
            "// **Feature: big, Property {r}: Outcome {r}**\n// **Validates: Requirements {r}.{k}-{r}.{}**\n#[test]\nfn t{i}() {{}}\n",
            (k + 2).min(per)
        );
        anns.extend(scan_file(&format!("tests/f{i}.rs"), &src));
    }
    (spec, anns)
}

#[test]
fn a_large_workload_resolves_every_link() {
    let (spec, anns) = synthetic(200, 10, 5_000);
    let results: Vec<TestResult> = (0..5_000)
        .map(|i| result(&format!("f{i}::t{i}"), TestStatus::Passed))
        .collect();
    let graph = TraceGraph::build(&spec, &anns, &results, &BTreeMap::new());
    let findings = Coverage::compute(&spec, &graph, None, None);
    let matrix = Matrix::from_graph(&graph);
    assert_eq!(matrix.rows.len(), 2000);
    assert!(kinds_for(&findings, FindingKind::CriterionWithoutTest).is_empty());
    assert_eq!(graph.status_of(&c("1.1")), CriterionStatus::Passed);
    // Its speed is the `trace` benchmark's business (benches/benches/trace.rs).
}

// ------------------------------------------------------------ spec scoping

const CART_REQUIREMENTS: &str = "# Requirements Document

## Requirements

### Requirement 1: Totals

#### Acceptance Criteria

1. THE Cart SHALL show the sum of its lines
2. WHEN a line is removed, THE Cart SHALL drop its price from the total
3. THE Cart SHALL never show a negative total
4. WHILE the cart is empty, THE Cart SHALL show a total of zero

### Requirement 2: Discounts

#### Acceptance Criteria

1. WHEN a discount applies, THE Cart SHALL keep the total at or above zero
2. WHEN a full discount applies, THE Cart SHALL show a total of zero

### Requirement 3: Quantities

#### Acceptance Criteria

1. IF a quantity is zero, THEN THE Cart SHALL reject the line
2. IF a quantity exceeds 999, THEN THE Cart SHALL reject the line
";

const CART_DESIGN: &str = "# Design Document

## Correctness Properties

### Property 1: Totals add up

**Validates: Requirements 1.1, 1.2**

### Property 2: Discounts never make a total negative

**Validates: Requirements 2.1**

### Property 5: Quantities are positive

**Validates: Requirements 3.1**
";

/// Shares ids with the cart spec (3.1) and has ids the cart spec lacks.
const BILLING_REQUIREMENTS: &str = "# Requirements Document

## Requirements

### Requirement 3: Rounding

#### Acceptance Criteria

1. THE Invoice SHALL round totals to the cent

### Requirement 4: Receipts

#### Acceptance Criteria

1. THE Receipt SHALL list every line

### Requirement 6: Totals

#### Acceptance Criteria

1. THE Invoice SHALL never show a negative total
2. THE Invoice SHALL round half up
3. THE Invoice SHALL round once
";

/// A workspace with the given specs (name, requirements, design) and
/// every fixture of `tests/data/annotations` under `tests/`.
fn scoped_workspace(specs: &[(&str, &str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (name, req, design) in specs {
        let spec = root.join(".kiro/specs").join(name);
        fs::create_dir_all(&spec).unwrap();
        fs::write(spec.join("requirements.md"), req).unwrap();
        if let Some(design) = design {
            fs::write(spec.join("design.md"), design).unwrap();
        }
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/annotations");
    fs::create_dir_all(root.join("tests")).unwrap();
    for entry in fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, root.join("tests").join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// `file:line` of each test linked to a criterion, sorted.
fn test_places(graph: &TraceGraph, id: &str) -> Vec<String> {
    let mut out: Vec<String> = graph
        .tests_of(&c(id))
        .iter()
        .map(|t| format!("{}:{}", t.key.file, t.key.line))
        .collect();
    out.sort();
    out
}

fn places(findings: &[&Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f.location.as_ref().unwrap().to_string())
        .collect()
}

#[test]
fn several_specs_attribute_by_feature_lines_and_report_the_rest() {
    let ws = scoped_workspace(&[
        ("cart", CART_REQUIREMENTS, Some(CART_DESIGN)),
        ("billing", BILLING_REQUIREMENTS, None),
    ]);
    let root = ws.path();
    let anns = scan_dir(root).unwrap();
    let cart = load_spec(&root.join(".kiro/specs/cart")).unwrap().spec;
    let billing = load_spec(&root.join(".kiro/specs/billing")).unwrap().spec;

    let graph = TraceGraph::build(&cart, &anns, &[], &BTreeMap::new());
    // The module docstring's `Feature:` and `Validates:` lines are one
    // test of the file, keyed by its first annotation.
    assert_eq!(
        test_places(&graph, "1.1"),
        ["tests/describe_it.test.ts:6", "tests/module_docstring.py:3"]
    );
    // The unscoped annotation in an `it` body counts for no spec.
    assert_eq!(test_places(&graph, "1.4"), ["tests/module_docstring.py:20"]);
    // The Rust header scopes the tests below the strategy helpers; its
    // property links the file itself (line 1) through property 2.
    assert_eq!(
        test_places(&graph, "2.1"),
        ["tests/header_helpers.rs:1", "tests/header_helpers.rs:21"]
    );
    assert_eq!(names(&graph, "2.2"), ["full_discount_is_free"]);
    // Billing's 3.1 is not cart's 3.1.
    assert_eq!(
        test_places(&graph, "3.1"),
        ["tests/singular_test.go:11", "tests/singular_test.go:6"]
    );
    assert_eq!(names(&graph, "3.2"), ["TestQuantityMax"]);

    let findings = Coverage::compute(&cart, &graph, None, None);
    let lost = kinds_for(&findings, FindingKind::Unattributed);
    assert_eq!(
        places(&lost),
        [
            "tests/describe_it.test.ts:17",
            "tests/describe_it.test.ts:23"
        ]
    );
    assert_eq!(lost[0].severity, Severity::Warning);
    assert_eq!(lost[0].criterion, Some(c("1.4")));
    assert!(
        lost[0].message.contains("Feature: <spec>"),
        "{}",
        lost[0].message
    );
    // Billing's annotations raise no error in the cart spec.
    assert!(kinds_for(&findings, FindingKind::UnknownCriterionInTest).is_empty());
    assert!(kinds_for(&findings, FindingKind::UnknownPropertyInTest).is_empty());
    // The two unattributed criteria of cart are not hidden: 1.4 keeps its
    // Python test, and no criterion is covered by billing's tests.
    let uncovered = kinds_for(&findings, FindingKind::CriterionWithoutTest);
    assert_eq!(
        uncovered
            .iter()
            .map(|f| f.criterion.clone().unwrap())
            .collect::<Vec<_>>(),
        Vec::<CriterionId>::new()
    );

    let graph = TraceGraph::build(&billing, &anns, &[], &BTreeMap::new());
    assert_eq!(names(&graph, "3.1"), ["test_invoice_rounds_to_the_cent"]);
    assert_eq!(names(&graph, "4.1"), ["lists every line"]);
    assert_eq!(names(&graph, "6.1"), ["totalIsNeverNegative"]);
    // In a helper's body: the class's scope, on no test.
    assert_eq!(test_places(&graph, "6.2"), ["tests/InvoiceTest.java:14"]);
    assert_eq!(names(&graph, "6.3"), ["roundsHalfUp"]);
    let findings = Coverage::compute(&billing, &graph, None, None);
    assert!(kinds_for(&findings, FindingKind::UnknownCriterionInTest).is_empty());
    assert_eq!(kinds_for(&findings, FindingKind::Unattributed).len(), 2);
    assert!(kinds_for(&findings, FindingKind::CriterionWithoutTest).is_empty());

    // The report ignores them as the graph does.
    let report = build_report(
        &cart,
        &anns,
        &[],
        RunInfo {
            command: "test".into(),
            exit_code: Some(0),
            per_test_results: false,
        },
    );
    let c14 = report
        .criteria
        .iter()
        .find(|r| r.criterion == c("1.4"))
        .unwrap();
    let tests: Vec<&str> = c14.evidence.iter().map(|e| e.test.as_str()).collect();
    assert_eq!(tests, ["test_empty_cart"]);

    // The finding serialises with its kind, file and line.
    let json = serde_json::to_value(lost[0]).unwrap();
    assert_eq!(json["kind"], "unattributed");
    assert_eq!(json["location"]["file"], "tests/describe_it.test.ts");
    assert_eq!(json["location"]["line"], 17);
}

#[test]
fn one_spec_gets_every_unscoped_annotation() {
    let ws = scoped_workspace(&[("cart", CART_REQUIREMENTS, Some(CART_DESIGN))]);
    let root = ws.path();
    let anns = scan_dir(root).unwrap();
    let cart = load_spec(&root.join(".kiro/specs/cart")).unwrap().spec;
    let graph = TraceGraph::build(&cart, &anns, &[], &BTreeMap::new());
    assert_eq!(
        test_places(&graph, "1.4"),
        [
            "tests/describe_it.test.ts:15",
            "tests/module_docstring.py:20"
        ]
    );
    assert!(names(&graph, "1.2").contains(&"ignores removed lines".to_owned()));
    // Annotations scoped to a spec the workspace does not have stay out.
    assert_eq!(
        test_places(&graph, "3.1"),
        ["tests/singular_test.go:11", "tests/singular_test.go:6"]
    );
    let findings = Coverage::compute(&cart, &graph, None, None);
    assert!(kinds_for(&findings, FindingKind::Unattributed).is_empty());
    assert!(kinds_for(&findings, FindingKind::UnknownCriterionInTest).is_empty());
}

// ------------------------------------------------- one resolution, one answer

/// The criteria lint reports as K0010, in document order.
fn lint_uncovered(spec: &Spec) -> Vec<String> {
    kiro_core::lint::lint_spec(spec)
        .iter()
        .filter(|d| d.code == "K0010")
        .map(|d| {
            // "criterion 1.2 is not covered by any task"
            d.message.split(' ').nth(1).unwrap().to_owned()
        })
        .collect()
}

/// The criteria of `criterion_without_task` findings, in document order.
fn trace_uncovered(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.kind == FindingKind::CriterionWithoutTask)
        .map(|f| f.criterion.as_ref().unwrap().to_string())
        .collect()
}

#[test]
fn lint_and_trace_agree_on_which_criteria_lack_a_task() {
    const REQ: &str = "# Requirements Document\n\n## Requirements\n\n\
        ### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE App SHALL a\n2. THE App SHALL b\n\n\
        ### Requirement 2: B\n\n#### Acceptance Criteria\n\n1. THE App SHALL c\n2. THE App SHALL d\n";
    const DESIGN: &str = "# Design\n\n## Correctness Properties\n\n### Property 1: P\n\n\
        *For any* x, THE App SHALL y.\n\n**Validates: Requirements 2**\n";
    // (task lines, criteria without a task)
    let cases: &[(&str, &[&str])] = &[
        (
            "- [ ] 1. A\n  - _Requirements: 1.1_\n",
            &["1.2", "2.1", "2.2"],
        ),
        ("- [ ] 1. A\n  - _Requirements: 1_\n", &["2.1", "2.2"]),
        ("- [ ] 1. A\n  - _Requirements: All_\n", &[]),
        (
            "- [ ] 1. A\n  - _Requirements: 1.2, 9.9_\n",
            &["1.1", "2.1", "2.2"],
        ),
        // Through the property, which validates all of requirement 2.
        ("- [ ] 1. A\n  - **Property 1: P**\n", &["1.1", "1.2"]),
        (
            "- [ ] 1. A\n  - _Requirements: 1.1_\n  - [ ] 1.1 B\n    - _Requirements: 1.2_\n",
            &["2.1", "2.2"],
        ),
    ];
    for (tasks, expected) in cases {
        let spec = Spec {
            name: "s".into(),
            requirements: Some(parse_requirements(REQ).value),
            design: Some(parse_design(DESIGN).value),
            tasks: Some(parse_tasks(&format!("# Implementation Plan\n\n{tasks}")).value),
            ..Spec::default()
        };
        let graph = TraceGraph::build(&spec, &[], &[], &BTreeMap::new());
        let findings = Coverage::compute(&spec, &graph, None, None);
        assert_eq!(lint_uncovered(&spec), *expected, "lint, tasks:\n{tasks}");
        assert_eq!(
            trace_uncovered(&findings),
            *expected,
            "trace, tasks:\n{tasks}"
        );
        // The verification matrix lists the tasks that name a criterion; the
        // trace matrix also those reaching it through a property or `All`.
        let report = build_report(&spec, &[], &[], RunInfo::default());
        let verify = Matrix::build(&spec, &report);
        let trace = Matrix::from_graph(&graph);
        for (v, t) in verify.rows.iter().zip(&trace.rows) {
            assert!(v.tasks.iter().all(|task| t.tasks.contains(task)));
            assert_eq!(v.properties, t.properties);
            assert_eq!(v.requirement_title, t.requirement_title);
        }
    }
}
