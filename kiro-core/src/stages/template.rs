//! Deterministic design and plan generation from requirements.
//!
//! [`template_design`] writes a design skeleton in Kiro's section layout with
//! one correctness property per testable acceptance criterion, and
//! [`trace_plan`] writes an implementation plan that traces every criterion
//! and every property to a task. Both are pure functions of their inputs (no
//! I/O, no clock, no randomness), so the same requirements always give the
//! same documents; they back the `TemplateDesigner` and `TracePlanner`
//! default stages, which run without an LLM.
//!
//! # Property statements
//!
//! A property restates its criterion's EARS reading as a claim over all
//! inputs, one wording per pattern:
//!
//! | Pattern | Criterion | Statement |
//! |---|---|---|
//! | ubiquitous | `THE s SHALL r` | `*For any* input and state, the s shall r.` |
//! | event-driven | `WHEN x, THE s SHALL r` | `*For any* case where x, the s shall r.` |
//! | state-driven | `WHILE x, THE s SHALL r` | `*For any* event while x, the s shall r.` |
//! | unwanted | `IF x, THEN THE s SHALL r` | `*For any* input where x, the s shall r.` |
//! | optional | `WHERE x, THE s SHALL r` | `*For any* configuration where x, the s shall r.` |
//! | complex | `WHILE x, WHEN y, THE s SHALL r` | `*For any* case while x and when y, the s shall r.` |
//!
//! Several clauses of one kind are joined with `and`.
//!
//! # What is copied from the requirements
//!
//! Titles taken from the requirements (property titles, task titles, names
//! in the design's lists) are reduced to plain words: markdown marks are
//! dropped so that a heading or task line reads back as written, and
//! property words followed by a number (`Property 3`) are defused so that a
//! task never seems to test a property it does not. Statements keep the
//! criterion's wording. A requirement title holding a placeholder (`TBD`)
//! is replaced by `requirement N`, so that the generated documents never
//! carry a placeholder the requirements already have.

use std::borrow::Cow;

use crate::ears::{code_spans, is_word_char};
use crate::lexicon::{DEFAULT_PROPERTIES_HEADING, PROPERTY_WORDS};
use crate::lint::{PLACEHOLDERS, PLACEHOLDER_PHRASES, VAGUE_TERMS};
use crate::spec::{
    AcceptanceCriterion, ClauseKeyword, CorrectnessProperty, CriterionId, DesignDoc, Ears,
    EarsPattern, PropertyId, Requirement, RequirementsDoc, Section, Task, TaskId, TaskList,
};

/// The design title Kiro writes.
const DESIGN_TITLE: &str = "Design Document";
/// The tasks title Kiro writes.
const PLAN_TITLE: &str = "Implementation Plan";
/// The most words a derived title keeps.
const TITLE_WORDS: usize = 8;
/// The most columns a derived title takes (CJK titles have no spaces, and
/// each of their characters takes two columns).
const TITLE_WIDTH: usize = 60;

/// English words a cut title does not end on.
const TRAILING_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "is", "of", "on", "or",
    "that", "the", "to", "which", "with",
];

/// Whether a criterion can be checked by a test: it reads as an EARS
/// sentence with a responding system and a `SHALL` response, and it holds
/// no vague term ([`VAGUE_TERMS`]) and no placeholder ([`PLACEHOLDERS`],
/// [`PLACEHOLDER_PHRASES`]), since a test cannot pin down either.
///
/// The criterion's stored EARS reading is used when present; otherwise its
/// text is read with [`Ears::parse`].
///
/// ```
/// use kiro_core::spec::{AcceptanceCriterion, CriterionId};
/// # use kiro_core::stages::template::is_testable;
///
/// let c = |text: &str| AcceptanceCriterion { id: CriterionId::new("1.1"), text: text.into(), ears: None };
/// assert!(is_testable(&c("WHEN a user saves, THE Editor SHALL write the file")));
/// assert!(!is_testable(&c("WHEN a user saves, THE Editor SHALL respond quickly")));
/// assert!(!is_testable(&c("The editor saves files")));
/// ```
pub fn is_testable(c: &AcceptanceCriterion) -> bool {
    let Some(ears) = reading(c) else {
        return false;
    };
    if ears.system.trim().is_empty() || ears.response.trim().is_empty() {
        return false;
    }
    let text = collapse(&c.text);
    !VAGUE_TERMS.iter().any(|t| has_term(&text, t, false)) && !has_placeholder(&text)
}

/// A design skeleton for a feature: Kiro's design sections plus one
/// correctness property per testable criterion ([`is_testable`]), numbered
/// from 1 in document order, each validating its criterion.
///
/// The sections are Overview (the feature and its requirements by id and
/// title), Architecture, Components and Interfaces (the systems the criteria
/// name), Data Models (the glossary terms), Correctness Properties (followed
/// by the properties), Error Handling (the unwanted-behaviour criteria) and
/// Testing Strategy. No section holds a placeholder.
///
/// ```
/// use kiro_core::format::parse_requirements;
/// # use kiro_core::stages::template::template_design;
///
/// let reqs = parse_requirements(
///     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Save\n\n#### Acceptance Criteria\n\n1. WHEN a user saves, THE Editor SHALL write the file\n",
/// ).value;
/// let design = template_design("editor", &reqs);
/// let p = &design.properties[0];
/// assert_eq!(p.title, "Write the file");
/// assert_eq!(p.statement, "*For any* case where a user saves, the Editor shall write the file.");
/// assert_eq!(p.validates[0].as_str(), "1.1");
/// ```
pub fn template_design(feature: &str, reqs: &RequirementsDoc) -> DesignDoc {
    let feature_name = code_text(feature);
    let mut properties: Vec<CorrectnessProperty> = Vec::new();
    for c in reqs.criteria() {
        if let Some(p) = property_for(c, properties.len() + 1) {
            properties.push(p);
        }
    }

    let section = |title: &str, body: String| Section {
        title: title.to_owned(),
        level: 2,
        body,
    };
    let mut sections = vec![
        section("Overview", overview(&feature_name, reqs)),
        section("Architecture", architecture(&feature_name, reqs)),
        section("Components and Interfaces", components(reqs)),
        section("Data Models", data_models(reqs)),
        section(
            DEFAULT_PROPERTIES_HEADING,
            properties_intro(properties.is_empty()),
        ),
    ];
    let properties_after = (!properties.is_empty()).then(|| sections.len() - 1);
    sections.push(section("Error Handling", error_handling(reqs, &properties)));
    sections.push(section(
        "Testing Strategy",
        testing_strategy(&feature_name, reqs),
    ));

    DesignDoc {
        title: DESIGN_TITLE.to_owned(),
        sections,
        properties,
        properties_after,
        ..DesignDoc::default()
    }
}

/// An implementation plan that traces the requirements and the design.
///
/// Task 1 sets up the structure. Then each requirement gets a top-level
/// task `N. Implement <title>` (depending on task 1) with one sub-task per
/// criterion, linked by `_Requirements: R.n_`, followed by one optional
/// sub-task per correctness property that validates one of the
/// requirement's criteria: `Write property test for Property K: <title>`,
/// linked to the property's criteria and depending on their
/// implementation sub-tasks. A requirement without criteria links itself.
/// A closing `Checkpoint - Ensure all tests pass` depends on every
/// requirement task. Every criterion of `reqs` is linked by a task.
///
/// ```
/// use kiro_core::format::parse_requirements;
/// # use kiro_core::stages::template::{template_design, trace_plan};
///
/// let reqs = parse_requirements(
///     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Save\n\n#### Acceptance Criteria\n\n1. WHEN a user saves, THE Editor SHALL write the file\n",
/// ).value;
/// let plan = trace_plan(&reqs, &template_design("editor", &reqs));
/// let test = &plan.tasks[1].subtasks[1];
/// assert_eq!(test.title, "Write property test for Property 1: Write the file");
/// assert!(test.optional);
/// assert_eq!(test.depends_on[0].as_str(), "2.1");
/// ```
pub fn trace_plan(reqs: &RequirementsDoc, design: &DesignDoc) -> TaskList {
    let mut tasks = vec![setup_task()];
    let mut requirement_tasks: Vec<TaskId> = Vec::new();
    // A property is planned once, under the first requirement it validates.
    let mut planned = vec![false; design.properties.len()];
    for r in &reqs.requirements {
        let id = TaskId::new((tasks.len() + 1).to_string());
        let task = requirement_task(&id, r, design, &mut planned);
        requirement_tasks.push(id);
        tasks.push(task);
    }
    // Properties that validate no criterion of these requirements still
    // need a test; they go into one group of their own.
    if planned.iter().any(|done| !done) {
        let id = TaskId::new((tasks.len() + 1).to_string());
        let mut group = Task {
            id: Some(id.clone()),
            title: "Test the remaining correctness properties".to_owned(),
            depends_on: vec![TaskId::new("1")],
            ..Task::default()
        };
        for (p, done) in design.properties.iter().zip(&planned) {
            if !done {
                let sub = TaskId::new(format!("{id}.{}", group.subtasks.len() + 1));
                group.subtasks.push(property_task(sub, p, Vec::new()));
            }
        }
        requirement_tasks.push(id);
        tasks.push(group);
    }
    let checkpoint = Task {
        id: Some(TaskId::new((tasks.len() + 1).to_string())),
        title: "Checkpoint - Ensure all tests pass".to_owned(),
        details: vec![
            "Run the whole test suite, property tests included, and resolve every failure before the plan is done".to_owned(),
        ],
        depends_on: if requirement_tasks.is_empty() {
            vec![TaskId::new("1")]
        } else {
            requirement_tasks
        },
        ..Task::default()
    };
    tasks.push(checkpoint);
    TaskList {
        title: PLAN_TITLE.to_owned(),
        tasks,
        ..TaskList::default()
    }
}

/// The criterion's EARS reading: the stored one, or a fresh reading of its text.
fn reading(c: &AcceptanceCriterion) -> Option<Cow<'_, Ears>> {
    match &c.ears {
        Some(e) => Some(Cow::Borrowed(e)),
        None => Ears::parse(&c.text).map(Cow::Owned),
    }
}

/// The property for criterion `c`, numbered `number`, when `c` is testable.
fn property_for(c: &AcceptanceCriterion, number: usize) -> Option<CorrectnessProperty> {
    if !is_testable(c) {
        return None;
    }
    let ears = reading(c)?;
    Some(CorrectnessProperty {
        id: PropertyId::new(number.to_string()),
        title: property_title(c, &ears),
        statement: statement(&ears),
        validates: vec![c.id.clone()],
        ..CorrectnessProperty::default()
    })
}

/// A short title for a property: the response up to its first clause break
/// (comma, colon, parenthesis), at most [`TITLE_WORDS`] words and
/// [`TITLE_WIDTH`] columns, with a leading `not` read as `Never`.
fn property_title(c: &AcceptanceCriterion, ears: &Ears) -> String {
    let raw = collapse(&ears.response);
    let head = raw
        .split([',', '，', '、', ';', '；', ':', '：', '(', '（'])
        .map(str::trim)
        .find(|part| !part.is_empty())
        .unwrap_or("");
    let response = plain(head);
    let response = match response.split_once(' ') {
        Some((first, rest)) if first.eq_ignore_ascii_case("not") => format!("never {rest}"),
        _ => response,
    };
    let mut words: Vec<&str> = response.split_whitespace().take(TITLE_WORDS).collect();
    // A cut title should not end on a word that only leads into the next.
    while words.len() > 1
        && words.last().is_some_and(|w| {
            TRAILING_STOP_WORDS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(w))
        })
    {
        words.pop();
    }
    let words = words.join(" ");
    // Wide (CJK) characters take two columns, as in a terminal.
    let mut width = 0;
    let short: String = words
        .chars()
        .take_while(|ch| {
            width += if ch.is_ascii() { 1 } else { 2 };
            width <= TITLE_WIDTH
        })
        .collect();
    let short = trim_punctuation(short.trim());
    if short.is_empty() {
        return format!("Criterion {}", plain(c.id.as_str()));
    }
    // A title that starts with code (`aria-sort`) keeps its case.
    if head.starts_with('`') {
        short.to_owned()
    } else {
        capitalise(short)
    }
}

/// The property statement for an EARS reading (see the module docs).
fn statement(ears: &Ears) -> String {
    let system = collapse(&ears.system);
    let system = match system.get(..4) {
        Some(the) if the.eq_ignore_ascii_case("the ") => {
            format!("the {}", system.get(4..).unwrap_or(""))
        }
        _ => system,
    };
    let response = collapse(&ears.response);
    let response = match response.strip_prefix("NOT ") {
        Some(rest) => format!("not {rest}"),
        None => response,
    };
    let response = trim_punctuation(&response).to_owned();
    let joined = |keyword: Option<ClauseKeyword>| -> String {
        ears.conditions
            .iter()
            .map(|c| match keyword {
                Some(_) => collapse(&c.text),
                None => format!("{} {}", clause_word(c.keyword), collapse(&c.text)),
            })
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let scope = if ears.conditions.is_empty() {
        "input and state".to_owned()
    } else {
        match ears.pattern {
            EarsPattern::Ubiquitous | EarsPattern::EventDriven => {
                format!("case where {}", joined(Some(ClauseKeyword::When)))
            }
            EarsPattern::StateDriven => {
                format!("event while {}", joined(Some(ClauseKeyword::While)))
            }
            EarsPattern::Unwanted => format!("input where {}", joined(Some(ClauseKeyword::If))),
            EarsPattern::Optional => {
                format!("configuration where {}", joined(Some(ClauseKeyword::Where)))
            }
            EarsPattern::Complex => format!("case {}", joined(None)),
        }
    };
    format!("*For any* {scope}, {system} shall {response}.")
}

fn clause_word(k: ClauseKeyword) -> &'static str {
    match k {
        ClauseKeyword::When => "when",
        ClauseKeyword::While => "while",
        ClauseKeyword::If => "if",
        ClauseKeyword::Where => "where",
    }
}

fn overview(feature: &str, reqs: &RequirementsDoc) -> String {
    let mut body = format!("This document describes the design of the `{feature}` feature.");
    if reqs.requirements.is_empty() {
        body.push_str(" The requirements document defines no requirement yet.");
        return body;
    }
    body.push_str(" It addresses these requirements:\n");
    for r in &reqs.requirements {
        body.push_str(&format!("\n- Requirement {}", r.id));
        let title = requirement_title(r);
        if !title.is_empty() {
            body.push_str(": ");
            body.push_str(&title);
        }
    }
    body
}

fn architecture(feature: &str, reqs: &RequirementsDoc) -> String {
    let systems = systems(reqs);
    let mut body = if systems.is_empty() {
        format!(
            "The `{feature}` feature is built as one component, since its acceptance criteria name no responding system."
        )
    } else {
        format!(
            "The `{feature}` feature is built from the components its acceptance criteria name as responding systems, listed under Components and Interfaces."
        )
    };
    body.push_str(
        " Each component owns the behaviour of the criteria that name it, so that every criterion has one place where it is implemented and one test that checks it. Components depend on each other only through the interfaces listed below.",
    );
    body
}

fn components(reqs: &RequirementsDoc) -> String {
    let systems = systems(reqs);
    if systems.is_empty() {
        return "The acceptance criteria name no responding system. Define one interface per requirement, named after the requirement, with one operation per criterion.".to_owned();
    }
    let mut body = "One component per system the acceptance criteria name, with the criteria its interface must satisfy:\n".to_owned();
    for (name, ids) in systems {
        body.push_str(&format!(
            "\n- The **{name}** component: criteria {}",
            ids.join(", ")
        ));
    }
    body
}

fn data_models(reqs: &RequirementsDoc) -> String {
    let mut terms: Vec<String> = Vec::new();
    for entry in &reqs.glossary {
        let term = plain(&entry.term);
        if !term.is_empty() && !terms.contains(&term) && !has_placeholder(&term) {
            terms.push(term);
        }
    }
    let mut body = "Each domain entity the requirements name becomes a type with the fields its criteria read or change; values that cross a component boundary are plain data.".to_owned();
    if !terms.is_empty() {
        body.push_str(" Domain terms from the glossary: ");
        body.push_str(&terms.join(", "));
        body.push('.');
    }
    body
}

fn properties_intro(none: bool) -> String {
    if none {
        "No acceptance criterion is testable as written (an EARS sentence with a SHALL response and no vague term), so there are no properties yet. Restate the criteria to derive them.".to_owned()
    } else {
        "Each property below is derived from one testable acceptance criterion and must hold for every input that criterion describes. Property-based tests check them, as the testing strategy describes.".to_owned()
    }
}

fn error_handling(reqs: &RequirementsDoc, properties: &[CorrectnessProperty]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for c in reqs.criteria() {
        let unwanted = reading(c).is_some_and(|e| {
            e.pattern == EarsPattern::Unwanted
                || e.conditions.iter().any(|k| k.keyword == ClauseKeyword::If)
        });
        if !unwanted {
            continue;
        }
        let property = properties.iter().find(|p| p.validates.contains(&c.id));
        lines.push(match property {
            Some(p) => format!("- Criterion {} (checked by Property {})", c.id, p.id),
            None => format!("- Criterion {} (not testable as written)", c.id),
        });
    }
    let mut body = "Errors are reported to the caller with enough context to act on them; no failure is ignored silently.".to_owned();
    if lines.is_empty() {
        body.push_str(" No acceptance criterion describes an unwanted condition (IF ... THEN).");
    } else {
        body.push_str(" These criteria describe the unwanted conditions to handle:\n\n");
        body.push_str(&lines.join("\n"));
    }
    body
}

fn testing_strategy(feature: &str, reqs: &RequirementsDoc) -> String {
    let mut body = format!(
        "Unit tests check concrete examples and edge cases of each acceptance criterion. Property-based tests check the correctness properties, one test per property, each run over many generated inputs and annotated with `Feature: {feature}, Property N: <title>` so that a failure names the property it breaks."
    );
    let untestable: Vec<&str> = reqs
        .criteria()
        .filter(|c| !is_testable(c))
        .map(|c| c.id.as_str())
        .collect();
    if !untestable.is_empty() {
        body.push_str(&format!(
            "\n\nCriteria that are not testable as written, to restate before they are implemented: {}.",
            untestable.join(", ")
        ));
    }
    body
}

/// The responding systems of all criteria, in order of first mention, with
/// the criteria that name them. Names are compared without `the` and case.
fn systems(reqs: &RequirementsDoc) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for c in reqs.criteria() {
        let Some(ears) = reading(c) else {
            continue;
        };
        let system = collapse(&ears.system);
        let system = match system.get(..4) {
            Some(the) if the.eq_ignore_ascii_case("the ") => system.get(4..).unwrap_or(""),
            _ => system.as_str(),
        };
        let name = plain(system);
        if name.is_empty() || has_placeholder(&name) {
            continue;
        }
        let id = c.id.as_str().to_owned();
        match out
            .iter_mut()
            .find(|(n, _)| n.to_lowercase() == name.to_lowercase())
        {
            Some((_, ids)) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            None => out.push((name, vec![id])),
        }
    }
    out
}

/// The requirement's title as plain words, or empty when it has none or
/// holds a placeholder.
fn requirement_title(r: &Requirement) -> String {
    let title = plain(&r.title);
    if has_placeholder(&title) {
        String::new()
    } else {
        title
    }
}

fn setup_task() -> Task {
    Task {
        id: Some(TaskId::new("1")),
        title: "Set up project structure and core interfaces".to_owned(),
        details: vec![
            "Create the modules for the components named in the design".to_owned(),
            "Define the interfaces and data types of the Components and Interfaces and Data Models sections".to_owned(),
            "Add a property-based testing library to the test dependencies".to_owned(),
        ],
        ..Task::default()
    }
}

/// Whether `id` reads back from a `_Requirements:` line as itself.
fn linkable(id: &str) -> bool {
    crate::format::parse_id_list(id) == [id]
}

fn requirement_task(
    id: &TaskId,
    r: &Requirement,
    design: &DesignDoc,
    planned: &mut [bool],
) -> Task {
    let title = requirement_title(r);
    let mut task = Task {
        id: Some(id.clone()),
        title: if title.is_empty() {
            format!("Implement requirement {}", plain(r.id.as_str()))
        } else {
            format!("Implement {title}")
        },
        depends_on: vec![TaskId::new("1")],
        ..Task::default()
    };
    if r.criteria.is_empty() {
        task.details
            .push("Implement the behaviour the requirement describes".to_owned());
        if linkable(r.id.as_str()) {
            task.requirements = vec![CriterionId::new(r.id.as_str())];
        }
    }
    // Criterion id -> the sub-task that implements it.
    let mut implemented: Vec<(&CriterionId, TaskId)> = Vec::new();
    for c in &r.criteria {
        let sub = TaskId::new(format!("{id}.{}", task.subtasks.len() + 1));
        implemented.push((&c.id, sub.clone()));
        task.subtasks.push(criterion_task(sub, c, design));
    }
    for (index, p) in design.properties.iter().enumerate() {
        let Some(done) = planned.get_mut(index) else {
            continue;
        };
        let mut depends: Vec<TaskId> = Vec::new();
        for v in &p.validates {
            for (cid, sub) in &implemented {
                if *cid == v && !depends.contains(sub) {
                    depends.push(sub.clone());
                }
            }
        }
        if *done || depends.is_empty() {
            continue;
        }
        *done = true;
        let sub = TaskId::new(format!("{id}.{}", task.subtasks.len() + 1));
        task.subtasks.push(property_task(sub, p, depends));
    }
    task
}

fn criterion_task(id: TaskId, c: &AcceptanceCriterion, design: &DesignDoc) -> Task {
    let criterion = plain(c.id.as_str());
    let property = design
        .properties
        .iter()
        .find(|p| p.validates.contains(&c.id));
    let (title, detail) = match property {
        Some(p) => (
            format!("Implement criterion {criterion}: {}", defuse(&p.title)),
            "Satisfy the criterion as written in the requirements and cover its concrete examples with unit tests".to_owned(),
        ),
        None if is_testable(c) => (
            format!("Implement criterion {criterion}"),
            "Satisfy the criterion as written in the requirements and cover its concrete examples with unit tests".to_owned(),
        ),
        None => (
            format!("Implement criterion {criterion}"),
            format!("Criterion {criterion} is not testable as written: restate it as an EARS sentence (WHEN, WHILE, IF or WHERE, then THE system SHALL) without vague terms, then implement it"),
        ),
    };
    Task {
        id: Some(id),
        title,
        details: vec![detail],
        requirements: if linkable(c.id.as_str()) {
            vec![c.id.clone()]
        } else {
            Vec::new()
        },
        ..Task::default()
    }
}

fn property_task(id: TaskId, p: &CorrectnessProperty, depends_on: Vec<TaskId>) -> Task {
    let title = defuse(&plain(&p.title));
    Task {
        id: Some(id),
        title: format!("Write property test for Property {}: {title}", p.id),
        details: vec![
            "Annotate the test with the property it checks, as the testing strategy describes"
                .to_owned(),
        ],
        requirements: p
            .validates
            .iter()
            .filter(|c| linkable(c.as_str()))
            .cloned()
            .collect(),
        properties: vec![p.id.clone()],
        optional: true,
        depends_on,
        ..Task::default()
    }
}

/// Collapses whitespace runs into one space and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` reduced to plain words that read back the same in a heading, a
/// task line or a list item: markdown marks are dropped (an underscore only
/// when it does not join two word characters), whitespace collapses,
/// trailing punctuation goes and property mentions are defused.
fn plain(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let keep = match c {
            '_' => {
                let before = i.checked_sub(1).and_then(|j| chars.get(j));
                let after = chars.get(i + 1);
                before.is_some_and(|b| b.is_alphanumeric())
                    && after.is_some_and(|a| a.is_alphanumeric())
            }
            c if c.is_ascii() => {
                c.is_ascii_alphanumeric() || c.is_whitespace() || "-,./():;%+=?".contains(c)
            }
            c => !c.is_whitespace() || c == ' ',
        };
        if keep {
            out.push(c);
        } else if c.is_whitespace() || c == '"' {
            // A quote separates words (`名称"App"`); other marks are
            // emphasis or code around a word and vanish with it.
            out.push(' ');
        }
    }
    let collapsed = collapse(&out);
    defuse(trim_punctuation(&collapsed))
}

/// `text` made safe for a code span: no backticks, one line.
fn code_text(text: &str) -> String {
    let name = collapse(&text.replace('`', ""));
    if name.is_empty() {
        "unnamed".to_owned()
    } else {
        defuse(&name)
    }
}

/// Rewrites property mentions (`Property 3`, `属性3`) so that the tasks and
/// design parsers do not read them as links to properties.
fn defuse(text: &str) -> String {
    let mut out = text.to_owned();
    // Words with a case are lower-cased (the parsers read them capitalised
    // only); the others get a `#` before the number.
    let (cased, uncased): (Vec<&str>, Vec<&str>) =
        PROPERTY_WORDS.iter().partition(|w| w.to_lowercase() != **w);
    for word in cased {
        out = out.replace(word, &word.to_lowercase());
    }
    for word in uncased {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(word) {
            let end = at + word.len();
            result.push_str(rest.get(..end).unwrap_or(""));
            let after = rest.get(end..).unwrap_or("");
            let digits = after.trim_start_matches(' ');
            if digits.starts_with(|c: char| c.is_ascii_digit()) {
                result.push('#');
                rest = digits;
            } else {
                rest = after;
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn trim_punctuation(s: &str) -> &str {
    s.trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '.' | ',' | ';' | ':' | '。' | '，' | '；' | '：' | '!' | '！'
            )
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether `text` holds a placeholder the lint reports (rule K0006).
fn has_placeholder(text: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| has_term(text, p, true))
        || PLACEHOLDER_PHRASES.iter().any(|p| has_term(text, p, false))
}

/// Whether `term` occurs in `hay` as a whole word outside code spans,
/// matched as the lint matches it: a boundary is needed only on a side of
/// `term` that is a word character.
fn has_term(hay: &str, term: &str, case_sensitive: bool) -> bool {
    if term.is_empty() {
        return false;
    }
    let spans = code_spans(hay);
    let first_is_word = term.chars().next().is_some_and(is_word_char);
    let last_is_word = term.chars().next_back().is_some_and(is_word_char);
    hay.char_indices().any(|(i, _)| {
        let Some(candidate) = hay.get(i..i + term.len()) else {
            return false;
        };
        let equal = if case_sensitive {
            candidate == term
        } else {
            candidate.eq_ignore_ascii_case(term)
        };
        if !equal || spans.iter().any(|r| r.contains(&i)) {
            return false;
        }
        let before = hay.get(..i).and_then(|s| s.chars().next_back());
        let after = hay.get(i + term.len()..).and_then(|s| s.chars().next());
        !(first_is_word && before.is_some_and(is_word_char)
            || last_is_word && after.is_some_and(is_word_char))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defuse_breaks_property_mentions() {
        assert_eq!(defuse("see Property 3"), "see property 3");
        assert_eq!(defuse("属性 3 和 属性x"), "属性#3 和 属性x");
        assert_eq!(defuse("プロパティ12"), "プロパティ#12");
    }

    #[test]
    fn plain_drops_markdown() {
        assert_eq!(
            plain("**bold** `code` Edit_Lambda _x_."),
            "bold code Edit_Lambda x"
        );
        assert_eq!(plain("a # b [c](d) <e>"), "a b c(d) e");
        assert_eq!(plain("显示主页。"), "显示主页");
    }

    #[test]
    fn terms_match_whole_words() {
        assert!(has_term("be fast.", "fast", false));
        assert!(!has_term("breakfast", "fast", false));
        assert!(!has_term("a `fast` path", "fast", false));
        assert!(has_placeholder("value TBD"));
        assert!(!has_placeholder("a todo list"));
        assert!(has_placeholder("To be determined later"));
    }
}
