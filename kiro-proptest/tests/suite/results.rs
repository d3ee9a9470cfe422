//! `kiro_proptest::results` and `kiro_proptest::verifier` (feature
//! `engine`): what a run of a spec's properties stores, and the verify
//! phase that runs them before its inner verifier. The targets are
//! `python3 -c` one-liners speaking JSON lines, so no file is needed.
#![cfg(feature = "engine")]

use std::path::Path;

use kiro_core::spec::{CorrectnessProperty, CriterionId, DesignDoc, PropertySpec, Spec};
use kiro_core::stage::{PipelineEvent, StageContext, StageError, Verifier};
use kiro_core::verify::properties::PropertyResults;
use kiro_core::verify::{CriterionStatus, TestStatus};
use kiro_core::workspace::{Policy, Workspace};
use kiro_proptest::results::{PbtStatus, SpecRun};
use kiro_proptest::verifier::{StoredProperties, WithProperties};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A JSON-lines program answering every op with `expr` (Python, over the
/// request's `input` as `x`).
fn answering(expr: &str) -> serde_json::Value {
    let program = format!(
        "import json, sys\n\
         for line in sys.stdin:\n\
         \x20   x = json.loads(line)['input']\n\
         \x20   print(json.dumps({expr}), flush=True)\n"
    );
    json!({"process": ["python3", "-c", program]})
}

/// Property `id` validating criterion `1.<id>`: a no-error property on
/// integers whose target answers `expr`.
fn property(id: &str, expr: &str) -> CorrectnessProperty {
    let formal: PropertySpec = serde_json::from_value(json!({
        "kind": "no-error", "ops": ["f"],
        "input": {"type": "integer", "minimum": 0, "maximum": 1000},
        "target": answering(expr)
    }))
    .unwrap();
    CorrectnessProperty {
        id: id.into(),
        title: format!("property {id}"),
        validates: vec![CriterionId::new(format!("1.{id}"))],
        formal: Some(formal),
        ..Default::default()
    }
}

/// Criteria 1.1 and 1.2, which properties 1 and 2 validate, and 1.3, which
/// none does.
const REQUIREMENTS: &str = "# Requirements Document\n\n## Requirements\n\n\
### Requirement 1: Numbers\n\n#### Acceptance Criteria\n\n\
1. THE service SHALL accept small numbers\n\
2. THE service SHALL accept large numbers\n\
3. THE service SHALL answer within a second\n";

fn spec(properties: Vec<CorrectnessProperty>) -> Spec {
    Spec {
        name: "nums".into(),
        requirements: Some(kiro_core::format::parse_requirements(REQUIREMENTS).value),
        design: Some(DesignDoc {
            properties,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Property id → (status, seed) of the stored results.
fn stored(root: &Path) -> Vec<(String, TestStatus, Option<u64>)> {
    PropertyResults::load(root, "nums")
        .unwrap()
        .unwrap()
        .results
        .into_iter()
        .map(|r| (r.property.to_string(), r.status, r.seed))
        .collect()
}

const OK: &str = "{'ok': x}";
/// Refuses numbers from 500 on: the shrunk counterexample is 500.
const REFUSES_LARGE: &str = "{'ok': x} if x < 500 else {'error': 'too large'}";

#[test]
fn a_partial_run_keeps_the_other_results_and_drops_properties_that_left_the_design() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let both = spec(vec![property("1", OK), property("2", REFUSES_LARGE)]);
    let ran = SpecRun::new().seed(1).run(root, &both).unwrap();
    assert_eq!(ran.status(), PbtStatus::Failed);
    assert_eq!(ran.results[1].counterexample, Some(json!(500)));
    ran.save(root, &both).unwrap();
    assert_eq!(
        stored(root),
        [
            ("1".into(), TestStatus::Passed, Some(1)),
            ("2".into(), TestStatus::Failed, Some(1))
        ]
    );

    // Only property 1 again, with another seed: 2 keeps its result.
    let ran = SpecRun::new()
        .properties(["1"])
        .seed(2)
        .run(root, &both)
        .unwrap();
    assert_eq!(ran.results.len(), 1);
    ran.save(root, &both).unwrap();
    assert_eq!(
        stored(root),
        [
            ("1".into(), TestStatus::Passed, Some(2)),
            ("2".into(), TestStatus::Failed, Some(1))
        ]
    );

    // Property 2 is gone from the design: its result goes with it.
    let one = spec(vec![property("1", OK)]);
    let ran = SpecRun::new().seed(3).run(root, &one).unwrap();
    ran.save(root, &one).unwrap();
    assert_eq!(stored(root), [("1".into(), TestStatus::Passed, Some(3))]);
}

/// A context over a workspace at `root` whose events go to the returned
/// receiver.
fn context(
    root: &Path,
    policy: Policy,
    cancel: CancellationToken,
) -> (
    StageContext,
    tokio::sync::mpsc::UnboundedReceiver<PipelineEvent>,
) {
    let ws = Workspace::builder()
        .repo("main", root)
        .policy(policy)
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cx = StageContext::builder(ws)
        .spec_name("nums")
        .node("verify")
        .events(kiro_core::stage::EventSink::new(tx))
        .cancel(cancel)
        .build();
    (cx, rx)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_verify_phase_runs_the_properties_then_the_inner_verifier_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = spec(vec![property("1", OK), property("2", REFUSES_LARGE)]);
    let (cx, mut events) = context(root, Policy::permissive(), CancellationToken::new());
    let report = runtime()
        .block_on(
            WithProperties::new(StoredProperties)
                .seed(9)
                .verify(&spec, &[], &cx),
        )
        .unwrap();
    let verdicts: Vec<(String, CriterionStatus)> = report
        .criteria
        .iter()
        .map(|c| (c.criterion.to_string(), c.status))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("1.1".into(), CriterionStatus::Passed),
            ("1.2".into(), CriterionStatus::Failed),
            ("1.3".into(), CriterionStatus::Untested)
        ]
    );
    let evidence = &report.criteria[1].evidence[0];
    assert_eq!(evidence.test, "kiro_pbt__nums__property_2");
    assert_eq!(evidence.status, Some(TestStatus::Failed));
    let excerpt = evidence.excerpt.as_deref().unwrap_or_default();
    assert!(excerpt.contains("minimal failing input: 500"), "{excerpt}");
    assert_eq!(
        stored(root),
        [
            ("1".into(), TestStatus::Passed, Some(9)),
            ("2".into(), TestStatus::Failed, Some(9))
        ]
    );
    let mut messages = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let PipelineEvent::Message { node, text } = event {
            assert_eq!(node, "verify");
            messages.push(text);
        }
    }
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[1].starts_with("property 2 (property 2) FAILED: counterexample 500; "),
        "{messages:?}"
    );
}

#[test]
fn a_cancelled_verify_phase_stores_nothing_and_a_denied_command_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = spec(vec![property("1", OK)]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let (cx, _events) = context(root, Policy::permissive(), cancel);
    let result = runtime().block_on(WithProperties::new(StoredProperties).verify(&spec, &[], &cx));
    assert!(matches!(result, Err(StageError::Cancelled)), "{result:?}");
    assert!(PropertyResults::load(root, "nums").unwrap().is_none());

    // The workspace's policy allows only `sh`: python3 is not started.
    let policy = Policy {
        commands: vec!["sh".into()],
        ..Policy::permissive()
    };
    let (cx, _events) = context(root, policy, CancellationToken::new());
    runtime()
        .block_on(WithProperties::new(StoredProperties).verify(&spec, &[], &cx))
        .unwrap();
    let results = PropertyResults::load(root, "nums")
        .unwrap()
        .unwrap()
        .results;
    assert_eq!(results[0].status, TestStatus::Errored);
    let message = results[0].message.as_deref().unwrap_or_default();
    assert!(message.starts_with("not run: "), "{message}");
}
