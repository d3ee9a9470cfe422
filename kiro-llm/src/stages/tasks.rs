//! [`LlmTaskPlanner`]: requirements and design to a numbered task list.

use async_trait::async_trait;
use kiro_core::format::{parse_tasks, render_design, render_requirements, render_tasks};
use kiro_core::lint::LintOptions;
use kiro_core::spec::{CriterionId, DesignDoc, RequirementsDoc, Task, TaskId, TaskList};
use kiro_core::stage::{StageContext, StageError, TaskPlanner};
use kiro_core::store::DocKind;
use schemars::JsonSchema;
use serde::Deserialize;

use super::guidance::{guidance, paths_in};
use super::review::{Finding, Review, STRUCTURE};
use super::{
    bounded, count_field, feature, generate, line_field, link_id, stage_builder, system_prompt,
    Ask, Checked, Settings,
};

const PROMPT: &str = include_str!("../../prompts/tasks.md");
const STAGE: &str = "llm task planner";
const TITLE: &str = "Implementation Plan";

/// Warnings that refuse a generated plan besides every error in tasks.md
/// (unknown links, unknown or cyclic dependencies, duplicate ids): a
/// placeholder (`K0006`) and a format finding (`K0015`).
const BLOCKING: &[&str] = &["K0006", "K0015"];

/// Codes that refuse a plan wherever they point: a criterion no task
/// covers (`K0010`) points at requirements.md, but the plan must change.
const ANYWHERE: &[&str] = &["K0010"];

const MAX_TASKS: usize = 60;
const MAX_SUBTASKS: usize = 20;
const MAX_DETAILS: usize = 12;
const MAX_LINKS: usize = 40;
const MAX_TITLE: usize = 200;
const MAX_DETAIL: usize = 400;

/// Plans the implementation through a chat model: numbered tasks (with
/// sub-tasks) linked to the criteria they implement by `_Requirements`
/// and ordered by `_Depends` (see [the module docs](super) for the loop
/// every LLM stage runs). Unknown links, unknown or cyclic dependencies
/// and criteria no task covers go back to the model.
#[derive(Clone, Debug)]
pub struct LlmTaskPlanner {
    settings: Settings,
}

stage_builder!(LlmTaskPlanner);

#[async_trait]
impl TaskPlanner for LlmTaskPlanner {
    async fn plan(
        &self,
        reqs: &RequirementsDoc,
        design: &DesignDoc,
        cx: &StageContext,
    ) -> Result<TaskList, StageError> {
        let requirements = render_requirements(reqs);
        let design = render_design(design);
        let both = format!(
            "requirements.md:\n\n{}\n\ndesign.md:\n\n{}\n",
            requirements.trim_end(),
            design.trim_end()
        );
        bounded(STAGE, "requirements and design", &both)?;
        let guidance = guidance(cx, &both, &paths_in(&both)).await?;
        let ask = Ask {
            stage: STAGE,
            file: DocKind::Tasks.file_name(),
            system: system_prompt(PROMPT, &guidance),
            user: format!("Feature: {}\n\n{both}", feature(cx)),
            schema_name: "plan",
        };
        let options = LintOptions::from(cx.config());
        generate(&self.settings, cx, ask, |draft: PlanDraft| {
            check(draft, &requirements, &design, options)
        })
        .await
    }
}

/// What the model answers: tasks without ids.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PlanDraft {
    /// The tasks in order; kiro numbers them 1, 2, ...
    #[schemars(length(min = 1, max = 60))]
    tasks: Vec<TaskDraft>,
}

/// A top-level task.
#[derive(Debug, Deserialize, JsonSchema)]
struct TaskDraft {
    /// What to do, imperative, one line, no number.
    title: String,
    /// Details, one line each.
    #[schemars(length(max = 12))]
    details: Vec<String>,
    /// Criterion ids (`1.2`) or requirement ids (`3`) it implements.
    requirements: Vec<String>,
    /// Ids of tasks that must be done first (`1`, `2.1`), by the numbering
    /// kiro gives: tasks 1, 2, ... and sub-tasks N.1, N.2, ...
    depends_on: Vec<String>,
    /// Whether the task may be skipped (tests beyond the core).
    optional: bool,
    /// Sub-tasks, numbered N.1, N.2, ...
    #[schemars(length(max = 20))]
    subtasks: Vec<SubtaskDraft>,
}

/// A sub-task (no deeper nesting).
#[derive(Debug, Deserialize, JsonSchema)]
struct SubtaskDraft {
    /// What to do, imperative, one line, no number.
    title: String,
    /// Details, one line each.
    #[schemars(length(max = 12))]
    details: Vec<String>,
    /// Criterion ids (`1.2`) or requirement ids (`3`) it implements.
    requirements: Vec<String>,
    /// Ids of tasks that must be done first.
    depends_on: Vec<String>,
    /// Whether the task may be skipped.
    optional: bool,
}

fn check(
    draft: PlanDraft,
    requirements: &str,
    design: &str,
    options: LintOptions,
) -> Checked<TaskList> {
    let mut findings = Vec::new();
    let built = build(draft, &mut findings);
    if !findings.is_empty() {
        return Err(findings);
    }
    let text = render_tasks(&built);
    let read = parse_tasks(&text).value;
    compare(&built.tasks, &read.tasks, &mut findings);
    let review = Review {
        documents: vec![
            (DocKind::Requirements, requirements.to_owned()),
            (DocKind::Design, design.to_owned()),
            (DocKind::Tasks, text),
        ],
        own: DocKind::Tasks,
        blocking: BLOCKING,
        anywhere: ANYWHERE,
        options,
    };
    findings.extend(review.findings());
    if findings.is_empty() {
        Ok(read)
    } else {
        Err(findings)
    }
}

/// The fields a task and a sub-task share.
struct Fields<'a> {
    title: &'a str,
    details: &'a [String],
    requirements: &'a [String],
    depends_on: &'a [String],
    optional: bool,
}

fn task(id: String, f: Fields<'_>, findings: &mut Vec<Finding>) -> Task {
    let what = format!("task {id}");
    count_field(
        findings,
        &format!("{what}'s details"),
        f.details,
        MAX_DETAILS,
    );
    count_field(
        findings,
        &format!("{what}'s requirements"),
        f.requirements,
        MAX_LINKS,
    );
    count_field(
        findings,
        &format!("{what}'s depends_on"),
        f.depends_on,
        MAX_LINKS,
    );
    let details = f
        .details
        .iter()
        .take(MAX_DETAILS)
        .map(|d| {
            line_field(
                findings,
                &format!("a detail of {what}"),
                d,
                MAX_DETAIL,
                false,
            )
        })
        .filter(|d| !d.is_empty())
        .collect();
    let requirements = f
        .requirements
        .iter()
        .take(MAX_LINKS)
        .filter_map(|r| link_id(findings, &format!("{what}'s requirements"), r))
        .map(CriterionId::new)
        .collect();
    let depends_on = f
        .depends_on
        .iter()
        .take(MAX_LINKS)
        .filter_map(|d| link_id(findings, &format!("{what}'s depends_on"), d))
        .map(TaskId::new)
        .collect();
    Task {
        title: line_field(
            findings,
            &format!("{what}'s title"),
            f.title,
            MAX_TITLE,
            true,
        ),
        id: Some(TaskId::new(&id)),
        details,
        requirements,
        depends_on,
        optional: f.optional,
        ..Task::default()
    }
}

fn build(draft: PlanDraft, findings: &mut Vec<Finding>) -> TaskList {
    count_field(findings, "tasks", &draft.tasks, MAX_TASKS);
    let mut tasks = Vec::new();
    for (i, t) in draft.tasks.iter().take(MAX_TASKS).enumerate() {
        let n = i + 1;
        count_field(
            findings,
            &format!("task {n}'s subtasks"),
            &t.subtasks,
            MAX_SUBTASKS,
        );
        let fields = Fields {
            title: &t.title,
            details: &t.details,
            requirements: &t.requirements,
            depends_on: &t.depends_on,
            optional: t.optional,
        };
        let mut top = task(n.to_string(), fields, findings);
        for (k, s) in t.subtasks.iter().take(MAX_SUBTASKS).enumerate() {
            let fields = Fields {
                title: &s.title,
                details: &s.details,
                requirements: &s.requirements,
                depends_on: &s.depends_on,
                optional: s.optional,
            };
            top.subtasks
                .push(task(format!("{n}.{}", k + 1), fields, findings));
        }
        tasks.push(top);
    }
    TaskList {
        title: TITLE.to_owned(),
        tasks,
        ..TaskList::default()
    }
}

/// Where the read-back tasks differ from the built ones: ids, titles,
/// links, dependencies and nesting must survive the rendering.
fn compare(built: &[Task], read: &[Task], findings: &mut Vec<Finding>) {
    if built.len() != read.len() {
        findings.push(Finding::new(
            STRUCTURE,
            format!(
                "{} tasks were written but their markdown reads as {}: a field holds markdown that starts a task",
                built.len(),
                read.len()
            ),
        ));
        return;
    }
    for (b, r) in built.iter().zip(read) {
        let key = |t: &Task| {
            (
                t.id.clone(),
                t.title.clone(),
                t.requirements.clone(),
                t.depends_on.clone(),
                t.optional,
            )
        };
        if key(b) != key(r) {
            let id = b.id.as_ref().map_or("?", |id| id.as_str());
            findings.push(Finding::new(
                STRUCTURE,
                format!("task {id} does not read back as written: remove the markdown that changes the document's layout"),
            ));
        }
        compare(&b.subtasks, &r.subtasks, findings);
    }
}
