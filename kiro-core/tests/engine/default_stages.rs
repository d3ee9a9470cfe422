//! The deterministic default stages' generators: `template_design` and
//! `trace_plan` over every fixture requirements document (round trip, lint,
//! traceability, determinism) and small inline cases with exact output.
//!
//! The fixture part is skipped, with a message, when `../shared` is not
//! checked out beside the repo.

// Tests assert by panicking; the library-code lints do not apply here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;

use kiro_core::format::{
    parse_design, parse_requirements, parse_tasks, render_design, render_tasks,
};
use kiro_core::lint::lint_spec;
use kiro_core::spec::{
    AcceptanceCriterion, CriterionId, DesignDoc, RequirementsDoc, Spec, TaskList,
};
use kiro_core::stages::template::{is_testable, template_design, trace_plan};

use crate::fixtures;

/// The lint rules the generated documents must never trigger.
const CLEAN_CODES: &[&str] = &[
    "K0006", "K0007", "K0009", "K0010", "K0011", "K0012", "K0013", "K0014", "K0016",
];

/// `(folder name, requirements.md text)` of every fixture that has one.
fn fixture_requirements() -> Option<Vec<(String, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/kiro-specs");
    let Ok(entries) = fs::read_dir(&dir) else {
        fixtures::missing(&dir);
        eprintln!(
            "skipped: Kiro fixture corpus not found at {} (check out ../shared beside the repo)",
            dir.display()
        );
        return None;
    };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("requirements.md").is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(p.join("requirements.md")).unwrap())
        })
        .collect();
    out.sort();
    Some(out)
}

fn requirements(src: &str) -> RequirementsDoc {
    parse_requirements(src).value
}

fn generate(feature: &str, reqs: &RequirementsDoc) -> (DesignDoc, TaskList) {
    let design = template_design(feature, reqs);
    let plan = trace_plan(reqs, &design);
    (design, plan)
}

/// Render -> parse gives the model back, without diagnostics, and the
/// render is a fixed point.
#[track_caller]
fn check_round_trip(name: &str, design: &DesignDoc, plan: &TaskList) {
    let text = render_design(design);
    let parsed = parse_design(&text);
    assert!(
        parsed.diagnostics.is_empty(),
        "{name}: design diagnostics {:?}",
        parsed.diagnostics
    );
    assert_eq!(
        &parsed.value, design,
        "{name}: design does not read back\n{text}"
    );
    assert_eq!(
        render_design(&parsed.value),
        text,
        "{name}: design render is not a fixed point"
    );

    let text = render_tasks(plan);
    let parsed = parse_tasks(&text);
    assert!(
        parsed.diagnostics.is_empty(),
        "{name}: tasks diagnostics {:?}",
        parsed.diagnostics
    );
    assert_eq!(
        &parsed.value, plan,
        "{name}: tasks do not read back\n{text}"
    );
    assert_eq!(
        render_tasks(&parsed.value),
        text,
        "{name}: tasks render is not a fixed point"
    );
}

/// The generated documents add no finding of [`CLEAN_CODES`] to what the
/// requirements alone already have (a fixture's own duplicate ids or
/// placeholders are not the generators' doing).
#[track_caller]
fn check_lint_clean(name: &str, reqs: &RequirementsDoc, design: &DesignDoc, plan: &TaskList) {
    let base = Spec {
        name: name.to_owned(),
        requirements: Some(reqs.clone()),
        ..Spec::default()
    };
    let mut before: Vec<(String, String)> = lint_spec(&base)
        .into_iter()
        .map(|d| (d.code, d.message))
        .collect();
    let full = Spec {
        design: Some(design.clone()),
        tasks: Some(plan.clone()),
        ..base
    };
    let mut added = Vec::new();
    for d in lint_spec(&full) {
        let key = (d.code.clone(), d.message.clone());
        if let Some(i) = before.iter().position(|b| *b == key) {
            before.remove(i);
        } else if CLEAN_CODES.contains(&d.code.as_str()) {
            added.push(format!("{} {}", d.code, d.message));
        }
    }
    assert!(
        added.is_empty(),
        "{name}: generated documents add lint findings: {added:#?}"
    );
}

/// Every testable criterion has exactly one property, in order; every
/// property has one optional test task linked to it and to its criteria;
/// every criterion is linked by a task.
#[track_caller]
fn check_traceability(name: &str, reqs: &RequirementsDoc, design: &DesignDoc, plan: &TaskList) {
    let testable: Vec<&AcceptanceCriterion> = reqs.criteria().filter(|c| is_testable(c)).collect();
    assert_eq!(
        design.properties.len(),
        testable.len(),
        "{name}: one property per testable criterion"
    );
    for (p, c) in design.properties.iter().zip(&testable) {
        assert_eq!(p.validates, vec![c.id.clone()], "{name}: property {}", p.id);
    }
    let tasks = plan.all_tasks();
    for p in &design.properties {
        let tests: Vec<_> = tasks
            .iter()
            .filter(|t| t.properties.contains(&p.id))
            .collect();
        assert_eq!(
            tests.len(),
            1,
            "{name}: property {} needs exactly one test task",
            p.id
        );
        let t = tests[0];
        assert!(
            t.optional,
            "{name}: test task of property {} is optional",
            p.id
        );
        assert_eq!(
            t.requirements, p.validates,
            "{name}: test task of property {}",
            p.id
        );
        assert!(
            !t.depends_on.is_empty(),
            "{name}: test task of property {} has dependencies",
            p.id
        );
    }
    for c in reqs.criteria() {
        assert!(
            tasks.iter().any(|t| t.requirements.contains(&c.id)),
            "{name}: criterion {} is not linked by any task",
            c.id
        );
    }
    let last = plan.tasks.last().unwrap();
    assert!(
        last.is_checkpoint(),
        "{name}: the plan ends with a checkpoint"
    );
}

#[test]
fn fixtures_generate_round_trippable_lint_clean_traced_documents() {
    let Some(fixtures) = fixture_requirements() else {
        return;
    };
    assert!(
        fixtures.len() >= 25,
        "expected the full corpus, found {}",
        fixtures.len()
    );
    let mut properties = 0;
    for (name, src) in &fixtures {
        let reqs = requirements(src);
        let (design, plan) = generate(name, &reqs);
        check_round_trip(name, &design, &plan);
        check_lint_clean(name, &reqs, &design, &plan);
        check_traceability(name, &reqs, &design, &plan);

        // Determinism: the same input gives the same model and bytes.
        let (design2, plan2) = generate(name, &reqs);
        assert_eq!(design, design2, "{name}: design is not deterministic");
        assert_eq!(plan, plan2, "{name}: plan is not deterministic");
        assert_eq!(render_design(&design), render_design(&design2));
        assert_eq!(render_tasks(&plan), render_tasks(&plan2));
        properties += design.properties.len();
    }
    eprintln!("{} fixtures, {properties} properties", fixtures.len());
    // The corpus is mostly EARS: most of it must yield properties.
    assert!(
        properties > 100,
        "only {properties} properties over the corpus"
    );
}

#[track_caller]
fn check_statement(criterion: &str, title: &str, statement: &str) {
    let c = AcceptanceCriterion {
        id: CriterionId::new("1.1"),
        text: criterion.to_owned(),
        ears: None,
    };
    assert!(is_testable(&c), "{criterion:?} should be testable");
    let reqs = RequirementsDoc {
        title: "Requirements Document".into(),
        requirements: vec![kiro_core::spec::Requirement {
            id: "1".into(),
            title: "One".into(),
            criteria: vec![c],
            ..Default::default()
        }],
        ..Default::default()
    };
    let design = template_design("demo", &reqs);
    let p = &design.properties[0];
    assert_eq!(
        (p.title.as_str(), p.statement.as_str()),
        (title, statement),
        "{criterion:?}"
    );
}

#[test]
fn statements_per_ears_pattern() {
    check_statement(
        "THE Auth_Service SHALL hash every stored password",
        "Hash every stored password",
        "*For any* input and state, the Auth_Service shall hash every stored password.",
    );
    check_statement(
        "WHEN a user submits valid credentials, THE Auth_Service SHALL create a session.",
        "Create a session",
        "*For any* case where a user submits valid credentials, the Auth_Service shall create a session.",
    );
    check_statement(
        "WHILE the device is offline, THE Editor SHALL queue every change",
        "Queue every change",
        "*For any* event while the device is offline, the Editor shall queue every change.",
    );
    check_statement(
        "IF the token has expired, THEN THE Auth_Service SHALL reject the request",
        "Reject the request",
        "*For any* input where the token has expired, the Auth_Service shall reject the request.",
    );
    check_statement(
        "WHERE dark mode is enabled, THE UI SHALL render light text on a dark background",
        "Render light text on a dark background",
        "*For any* configuration where dark mode is enabled, the UI shall render light text on a dark background.",
    );
    check_statement(
        "WHILE offline, WHEN the user saves, THE Editor SHALL queue the change",
        "Queue the change",
        "*For any* case while offline and when the user saves, the Editor shall queue the change.",
    );
    check_statement(
        "the API shall not log secrets",
        "Never log secrets",
        "*For any* input and state, the API shall not log secrets.",
    );
    check_statement(
        "THE API SHALL NOT return **Property 3** values from the `cache`",
        "Never return property 3 values from the cache",
        "*For any* input and state, the API shall not return **Property 3** values from the `cache`.",
    );
    check_statement(
        "WHEN 用户点击登录 THEN 系统 SHALL 显示主页",
        "显示主页",
        "*For any* case where 用户点击登录, 系统 shall 显示主页.",
    );
}

#[test]
fn testability() {
    let c = |text: &str| AcceptanceCriterion {
        id: CriterionId::new("1.1"),
        text: text.to_owned(),
        ears: None,
    };
    assert!(is_testable(&c("THE App SHALL start within 2 seconds")));
    assert!(!is_testable(&c("THE App SHALL start fast")), "vague term");
    assert!(
        !is_testable(&c("THE App SHALL support TBD formats")),
        "placeholder"
    );
    assert!(
        !is_testable(&c("The app starts within 2 seconds")),
        "no SHALL"
    );
    assert!(!is_testable(&c("SHALL start")), "no system");
    // A vague word inside a code span is not vague prose.
    assert!(is_testable(&c("THE CLI SHALL accept the `--fast` flag")));
}

const SMALL: &str = "# Requirements Document

## Introduction

A notes app.

## Glossary

- **Note_Store**: where notes live

## Requirements

### Requirement 1: Save notes

**User Story:** As a writer, I want to save notes, so that I keep them.

#### Acceptance Criteria

1. WHEN the writer saves a note, THE Note_Store SHALL persist it
2. IF the disk is full, THEN THE Note_Store SHALL report an error
3. THE Note_Store SHALL be fast

### Requirement 2: TBD
";

#[test]
fn small_spec_design() {
    let reqs = requirements(SMALL);
    let (design, plan) = generate("notes", &reqs);
    check_round_trip("small", &design, &plan);
    check_lint_clean("small", &reqs, &design, &plan);
    check_traceability("small", &reqs, &design, &plan);
    let expected = "# Design Document

## Overview

This document describes the design of the `notes` feature. It addresses these requirements:

- Requirement 1: Save notes
- Requirement 2

## Architecture

The `notes` feature is built from the components its acceptance criteria name as responding systems, listed under Components and Interfaces. Each component owns the behaviour of the criteria that name it, so that every criterion has one place where it is implemented and one test that checks it. Components depend on each other only through the interfaces listed below.

## Components and Interfaces

One component per system the acceptance criteria name, with the criteria its interface must satisfy:

- The **Note_Store** component: criteria 1.1, 1.2, 1.3

## Data Models

Each domain entity the requirements name becomes a type with the fields its criteria read or change; values that cross a component boundary are plain data. Domain terms from the glossary: Note_Store.

## Correctness Properties

Each property below is derived from one testable acceptance criterion and must hold for every input that criterion describes. Property-based tests check them, as the testing strategy describes.

### Property 1: Persist it

*For any* case where the writer saves a note, the Note_Store shall persist it.

**Validates: Requirements 1.1**

### Property 2: Report an error

*For any* input where the disk is full, the Note_Store shall report an error.

**Validates: Requirements 1.2**

## Error Handling

Errors are reported to the caller with enough context to act on them; no failure is ignored silently. These criteria describe the unwanted conditions to handle:

- Criterion 1.2 (checked by Property 2)

## Testing Strategy

Unit tests check concrete examples and edge cases of each acceptance criterion. Property-based tests check the correctness properties, one test per property, each run over many generated inputs and annotated with `Feature: notes, Property N: <title>` so that a failure names the property it breaks.

Criteria that are not testable as written, to restate before they are implemented: 1.3.
";
    assert_eq!(render_design(&design), expected);
}

#[test]
fn small_spec_plan() {
    let reqs = requirements(SMALL);
    let (_, plan) = generate("notes", &reqs);
    let expected = "# Implementation Plan

- [ ] 1. Set up project structure and core interfaces
  - Create the modules for the components named in the design
  - Define the interfaces and data types of the Components and Interfaces and Data Models sections
  - Add a property-based testing library to the test dependencies

- [ ] 2. Implement Save notes
  - _Depends: 1_

  - [ ] 2.1 Implement criterion 1.1: Persist it
    - Satisfy the criterion as written in the requirements and cover its concrete examples with unit tests
    - _Requirements: 1.1_

  - [ ] 2.2 Implement criterion 1.2: Report an error
    - Satisfy the criterion as written in the requirements and cover its concrete examples with unit tests
    - _Requirements: 1.2_

  - [ ] 2.3 Implement criterion 1.3
    - Criterion 1.3 is not testable as written: restate it as an EARS sentence (WHEN, WHILE, IF or WHERE, then THE system SHALL) without vague terms, then implement it
    - _Requirements: 1.3_

  - [ ]* 2.4 Write property test for Property 1: Persist it
    - Annotate the test with the property it checks, as the testing strategy describes
    - _Requirements: 1.1_
    - _Depends: 2.1_

  - [ ]* 2.5 Write property test for Property 2: Report an error
    - Annotate the test with the property it checks, as the testing strategy describes
    - _Requirements: 1.2_
    - _Depends: 2.2_

- [ ] 3. Implement requirement 2
  - Implement the behaviour the requirement describes
  - _Requirements: 2_
  - _Depends: 1_

- [ ] 4. Checkpoint - Ensure all tests pass
  - Run the whole test suite, property tests included, and resolve every failure before the plan is done
  - _Depends: 2, 3_
";
    assert_eq!(render_tasks(&plan), expected);
}

#[test]
fn empty_requirements() {
    let reqs = requirements("# Requirements Document\n");
    let (design, plan) = generate("empty", &reqs);
    check_round_trip("empty", &design, &plan);
    check_lint_clean("empty", &reqs, &design, &plan);
    assert!(design.properties.is_empty());
    assert_eq!(design.properties_after, None);
    let ids: Vec<_> = plan
        .tasks
        .iter()
        .map(|t| t.id.clone().unwrap().as_str().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2"]);
    assert_eq!(plan.tasks[1].depends_on[0].as_str(), "1");
}

#[test]
fn properties_outside_the_requirements_still_get_tests() {
    // A design edited by hand may hold a property whose criterion the
    // requirements do not define; the plan still tests it.
    let reqs = requirements(SMALL);
    let mut design = template_design("notes", &reqs);
    let mut extra = design.properties[0].clone();
    extra.id = "3".into();
    extra.validates = vec![CriterionId::new("9.9")];
    design.properties.push(extra);
    let plan = trace_plan(&reqs, &design);
    let tests: Vec<_> = plan
        .all_tasks()
        .into_iter()
        .filter(|t| t.properties.iter().any(|p| p.as_str() == "3"))
        .collect();
    assert_eq!(tests.len(), 1);
    assert!(plan.tasks.last().unwrap().is_checkpoint());
}
