//! Random specs generated from the model render to Kiro markdown and parse
//! back to the same model: requirements, design and tasks, LF and CRLF, and
//! through `Spec::save` / `Spec::load` on disk.

// Tests assert by panicking; the library-code lints do not apply here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiro_core::format::{
    parse_design, parse_requirements, parse_tasks, render_design, render_requirements, render_tasks,
};
use kiro_core::spec::{
    AcceptanceCriterion, CorrectnessProperty, CriterionId, DesignDoc, Ears, FormalPlace,
    GlossaryEntry, PropertyId, PropertyKind, PropertyReference, PropertySpec, PropertyTarget,
    Requirement, RequirementGroup, RequirementId, RequirementsDoc, RustBinding, Section, Spec,
    Task, TaskForm, TaskId, TaskList, TaskStatus, TextStyle, UserStory,
};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "store",
    "client",
    "value",
    "key",
    "request",
    "index",
    "cache",
    "user",
    "report",
    "token",
    "session",
    "page",
    "数据",
    "缓存",
    "データ",
    "valor",
    "página",
    "`put()`",
    "200",
    "ms",
];

fn sentence(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 1..=max).prop_map(|w| w.join(" "))
}

fn criterion_text() -> impl Strategy<Value = String> {
    let system = proptest::sample::select(&["Store", "Auth_Service", "system"][..]);
    (0usize..5, sentence(5), sentence(6), system).prop_map(|(shape, cond, resp, sys)| match shape {
        0 => format!("WHEN {cond}, THE {sys} SHALL {resp}"),
        1 => format!("THE {sys} SHALL {resp}"),
        2 => format!("IF {cond}, THEN THE {sys} SHALL {resp}"),
        3 => format!("WHILE {cond}, THE {sys} SHALL {resp}"),
        _ => format!("WHEN {cond} THEN the {sys} SHALL {resp}"),
    })
}

fn requirement(index: usize) -> impl Strategy<Value = Requirement> {
    let id = (index + 1).to_string();
    (
        prop_oneof![Just(String::new()), sentence(4)],
        proptest::option::of((sentence(2), sentence(3), sentence(3))),
        proptest::collection::vec(criterion_text(), 1..5),
    )
        .prop_map(move |(title, story, criteria)| Requirement {
            id: RequirementId::new(id.clone()),
            title,
            user_story: story.map(|(role, capability, benefit)| UserStory {
                text: format!("As a {role}, I want {capability}, so that {benefit}"),
                role: Some(role.into()),
                capability: Some(capability.into()),
                benefit: Some(benefit.into()),
                ..UserStory::default()
            }),
            criteria: criteria
                .into_iter()
                .enumerate()
                .map(|(k, text)| AcceptanceCriterion {
                    id: CriterionId::new(format!("{}.{}", id, k + 1)),
                    ears: Ears::parse(&text),
                    text,
                })
                .collect(),
            ..Requirement::default()
        })
}

fn requirements_doc() -> impl Strategy<Value = RequirementsDoc> {
    (1usize..5)
        .prop_flat_map(|n| {
            let reqs: Vec<_> = (0..n).map(requirement).collect();
            (
                proptest::option::of(sentence(12)),
                proptest::collection::vec(("[A-Z][a-z]{2,6}_[A-Z][a-z]{2,6}", sentence(6)), 0..4),
                reqs,
                any::<bool>(),
                // A second `##` group opening before one of the later
                // requirements, with an optional preface.
                proptest::option::of((1..n.max(2), proptest::option::of(sentence(5)))),
                // `## Requirement N` documents with no container.
                any::<bool>(),
            )
        })
        .prop_map(|(introduction, glossary, requirements, crlf, group, top)| {
            // A group needs the container, which top-level requirements lack.
            let group = group.filter(|_| !top);
            let mut seen = Vec::new();
            let groups = group
                .filter(|(before, _)| *before < requirements.len())
                .map(|(before, preface)| RequirementGroup {
                    before,
                    title: "Non-functional group".into(),
                    preface: preface.unwrap_or_default(),
                })
                .into_iter()
                .collect();
            RequirementsDoc {
                groups,
                requirement_level: top.then_some(2),
                title: "Requirements Document".into(),
                introduction,
                glossary: glossary
                    .into_iter()
                    .filter(|(t, _)| {
                        let fresh = !seen.contains(t);
                        seen.push(t.clone());
                        fresh
                    })
                    .map(|(term, definition)| GlossaryEntry {
                        term,
                        definition,
                        separator: None,
                    })
                    .collect(),
                requirements,
                style: TextStyle { crlf },
                ..RequirementsDoc::default()
            }
        })
}

const OPS: &[&str] = &["encode", "decode", "normalize", "sort", "parse"];

/// JSON Schemas for a property's input and output.
fn schema() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(true)),
        (0u64..300).prop_map(|n| json!({"type": "string", "maxLength": n})),
        Just(
            json!({"type": "array", "items": {"type": "integer", "minimum": -5}, "uniqueItems": true})
        ),
        Just(
            json!({"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}, "required": ["id"]})
        ),
        Just(json!({"enum": ["a", 1, null]})),
    ]
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        proptest::sample::select(&["python3", "codec.py", "--json", "./bin/tool"][..]),
        1..3,
    )
    .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn target() -> impl Strategy<Value = PropertyTarget> {
    prop_oneof![
        argv().prop_map(PropertyTarget::Process),
        (1024u16..9000).prop_map(|port| PropertyTarget::Http(format!("http://127.0.0.1:{port}"))),
    ]
}

/// An executable property: every kind, with the ops, output and reference
/// it needs, and the optional fields sometimes.
fn property_spec() -> impl Strategy<Value = PropertySpec> {
    (
        proptest::sample::select(&PropertyKind::ALL[..]),
        proptest::collection::vec(proptest::sample::select(OPS), 2),
        schema(),
        schema(),
        proptest::option::of(target()),
        target(),
        proptest::option::of("[a-z]{1,8}"),
        proptest::option::of(1u32..1000),
    )
        .prop_map(
            |(kind, ops, input, output, target, reference, rust, cases)| PropertySpec {
                kind,
                ops: ops[..kind.ops_needed()]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                input,
                output: (kind == PropertyKind::Invariant).then_some(output),
                target,
                reference: (kind == PropertyKind::Oracle).then(|| {
                    let (process, http) = match reference {
                        PropertyTarget::Process(argv) => (Some(argv), None),
                        PropertyTarget::Http(url) => (None, Some(url)),
                    };
                    PropertyReference {
                        op: "reference".into(),
                        process,
                        http,
                    }
                }),
                rust: rust.map(|name| RustBinding {
                    input_type: Some("String".into()),
                    f: Some(format!("crate::{name}")),
                    ..RustBinding::default()
                }),
                cases,
            },
        )
}

/// A property's block: the spec, whether it stands after the validates
/// line, and whether it is written compactly (kept in `formal_source`)
/// rather than in the canonical layout.
fn formal() -> impl Strategy<Value = Option<(PropertySpec, bool, bool)>> {
    proptest::option::of((property_spec(), any::<bool>(), any::<bool>()))
}

fn design_doc(criteria: Vec<CriterionId>) -> impl Strategy<Value = DesignDoc> {
    let validates = proptest::sample::subsequence(criteria.clone(), 0..=criteria.len().min(3));
    (
        sentence(10),
        proptest::collection::vec((sentence(4), sentence(8), validates, formal()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(overview, props, crlf)| {
            let mut sections = vec![Section {
                title: "Overview".into(),
                level: 2,
                body: overview,
            }];
            let properties_after = if props.is_empty() {
                None
            } else {
                sections.push(Section {
                    title: "Correctness Properties".into(),
                    level: 2,
                    body: String::new(),
                });
                Some(1)
            };
            DesignDoc {
                title: "Design Document".into(),
                sections,
                properties: props
                    .into_iter()
                    .enumerate()
                    .map(|(i, (title, statement, validates, formal))| {
                        let mut p = CorrectnessProperty {
                            id: PropertyId::new((i + 1).to_string()),
                            title,
                            statement: format!("*For any* {statement}, the system SHALL hold."),
                            validates,
                            ..CorrectnessProperty::default()
                        };
                        if let Some((spec, after_validates, compact)) = formal {
                            // Without a validates line, a block after it
                            // is a block after the statement.
                            if after_validates && !p.validates.is_empty() {
                                p.formal_place = FormalPlace::AfterValidates;
                            }
                            if compact {
                                let json = serde_json::to_string(&spec).unwrap();
                                p.formal_source =
                                    Some(format!("```json kiro-property\n{json}\n```"));
                            }
                            p.formal = Some(spec);
                        }
                        p
                    })
                    .collect(),
                properties_after,
                style: TextStyle { crlf },
                ..DesignDoc::default()
            }
        })
}

fn status() -> impl Strategy<Value = TaskStatus> {
    prop_oneof![
        Just(TaskStatus::NotStarted),
        Just(TaskStatus::InProgress),
        Just(TaskStatus::Queued),
        Just(TaskStatus::Done),
    ]
}

fn task_list(criteria: Vec<CriterionId>, properties: usize) -> impl Strategy<Value = TaskList> {
    let links = proptest::sample::subsequence(criteria.clone(), 0..=criteria.len().min(4));
    let sub = (
        sentence(5),
        proptest::collection::vec(sentence(6), 0..3),
        links.clone(),
        any::<bool>(),
        status(),
        proptest::option::of(1..=properties.max(1)),
    );
    // How a task with sub-tasks is written: indented, flat (`- [ ] 2.1`
    // under `- [ ] 2.`), or as a group heading with or without a checkbox.
    let form = prop_oneof![
        Just(TaskForm::Item),
        Just(TaskForm::FlatItem),
        (2u8..=4, any::<bool>())
            .prop_map(|(level, checkbox)| TaskForm::Heading { level, checkbox }),
    ];
    let top = (
        sentence(5),
        proptest::collection::vec(sentence(6), 0..3),
        links,
        status(),
        proptest::collection::vec(sub, 0..3),
        any::<bool>(),
        form,
        any::<bool>(),
    );
    (proptest::collection::vec(top, 1..5), any::<bool>()).prop_map(move |(tops, crlf)| {
        let tasks = tops
            .into_iter()
            .enumerate()
            .map(
                |(i, (title, details, requirements, status, subs, depends, form, parallel))| {
                    let id = (i + 1).to_string();
                    let mut task = Task {
                        id: Some(TaskId::new(id.clone())),
                        title,
                        details,
                        requirements,
                        status,
                        parallel,
                        depends_on: if depends && i > 0 {
                            vec![TaskId::new(i.to_string())]
                        } else {
                            Vec::new()
                        },
                        subtasks: subs
                            .into_iter()
                            .enumerate()
                            .map(
                                |(j, (title, details, requirements, optional, status, prop))| {
                                    Task {
                                        id: Some(TaskId::new(format!("{id}.{}", j + 1))),
                                        title,
                                        details,
                                        requirements,
                                        optional,
                                        status,
                                        properties: prop
                                            .filter(|_| properties > 0)
                                            .map(|p| vec![PropertyId::new(p.to_string())])
                                            .unwrap_or_default(),
                                        ..Task::default()
                                    }
                                },
                            )
                            .collect(),
                        ..Task::default()
                    };
                    // A form only shows with sub-tasks; a group heading
                    // without a checkbox shows its sub-tasks' status.
                    if !task.subtasks.is_empty() {
                        task.form = form;
                    }
                    if matches!(
                        task.form,
                        TaskForm::Heading {
                            checkbox: false,
                            ..
                        }
                    ) {
                        let subs = &task.subtasks;
                        task.status = if subs.iter().all(|t| t.status == TaskStatus::Done) {
                            TaskStatus::Done
                        } else if subs.iter().any(|t| t.status != TaskStatus::NotStarted) {
                            TaskStatus::InProgress
                        } else {
                            TaskStatus::NotStarted
                        };
                    }
                    task
                },
            )
            .collect();
        TaskList {
            title: "Implementation Plan".into(),
            tasks,
            style: TextStyle { crlf },
            ..TaskList::default()
        }
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    requirements_doc()
        .prop_flat_map(|reqs| {
            let criteria: Vec<CriterionId> = reqs.criteria().map(|c| c.id.clone()).collect();
            (Just(reqs), design_doc(criteria.clone()), Just(criteria))
        })
        .prop_flat_map(|(reqs, design, criteria)| {
            let properties = design.properties.len();
            (Just(reqs), Just(design), task_list(criteria, properties))
        })
        .prop_map(|(requirements, design, tasks)| Spec {
            name: "generated".into(),
            requirements: Some(requirements),
            design: Some(design),
            tasks: Some(tasks),
            ..Spec::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_specs_round_trip_through_markdown(spec in spec()) {
        let reqs = spec.requirements.as_ref().unwrap();
        let md = render_requirements(reqs);
        prop_assert_eq!(&parse_requirements(&md).value, reqs, "requirements.md:\n{}", md);

        let design = spec.design.as_ref().unwrap();
        let md = render_design(design);
        prop_assert_eq!(&parse_design(&md).value, design, "design.md:\n{}", md);

        let tasks = spec.tasks.as_ref().unwrap();
        let md = render_tasks(tasks);
        prop_assert_eq!(&parse_tasks(&md).value, tasks, "tasks.md:\n{}", md);
    }

    /// The model's JSON, executable properties included, is described by
    /// the JSON Schema `kiro schema spec` prints.
    #[test]
    fn generated_specs_validate_against_the_model_schema(spec in spec()) {
        let json = serde_json::to_value(&spec).unwrap();
        let errors: Vec<String> = spec_schema().iter_errors(&json).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:?}\n{}", errors, json);
        prop_assert_eq!(serde_json::from_value::<Spec>(json).unwrap(), spec);
    }

    #[test]
    fn generated_specs_round_trip_through_disk(spec in spec()) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("generated");
        spec.save(&target).unwrap();
        prop_assert_eq!(Spec::load(&target).unwrap(), spec);
    }
}

/// The validator of `schema_for!(Spec)`, built once per test binary.
fn spec_schema() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(Spec)).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    })
}
