//! Random specs generated from the model render to Kiro markdown and parse
//! back to the same model: requirements, design and tasks, LF and CRLF, and
//! through `Spec::save` / `Spec::load` on disk.

// Tests assert by panicking; the library-code lints do not apply here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiro_core::format::{
    parse_design, parse_requirements, parse_tasks, render_design, render_requirements, render_tasks,
};
use kiro_core::spec::{
    AcceptanceCriterion, CorrectnessProperty, CriterionId, DesignDoc, Ears, GlossaryEntry,
    PropertyId, Requirement, RequirementGroup, RequirementId, RequirementsDoc, Section, Spec, Task,
    TaskForm, TaskId, TaskList, TaskStatus, TextStyle, UserStory,
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

fn design_doc(criteria: Vec<CriterionId>) -> impl Strategy<Value = DesignDoc> {
    let validates = proptest::sample::subsequence(criteria.clone(), 0..=criteria.len().min(3));
    (
        sentence(10),
        proptest::collection::vec((sentence(4), sentence(8), validates), 0..4),
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
                    .map(|(i, (title, statement, validates))| CorrectnessProperty {
                        id: PropertyId::new((i + 1).to_string()),
                        title,
                        statement: format!("*For any* {statement}, the system SHALL hold."),
                        validates,
                        ..CorrectnessProperty::default()
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

    #[test]
    fn generated_specs_round_trip_through_disk(spec in spec()) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("generated");
        spec.save(&target).unwrap();
        prop_assert_eq!(Spec::load(&target).unwrap(), spec);
    }
}
