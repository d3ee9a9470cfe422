//! `status`: a spec's tasks and progress, and where its latest run is.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Project, Result};
use crate::checkpoint::CheckpointStore;
use crate::pipeline;
use crate::redact::Redactor;
use crate::spec::{Task, TaskStatus};
use crate::stage::{OutcomeStatus, RunUsage, TaskOutcome};
use crate::store::{DocKind, LoadedSpec};

/// The status of one spec: `kiro status --format json` prints it (see
/// [`StatusReport::to_json`]) and `kiro schema status` its schema.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct StatusReport {
    /// The spec's name.
    pub spec: String,
    /// Its folder, relative to the workspace root.
    pub path: String,
    /// The documents present, in workflow order.
    #[schemars(with = "Vec<DocumentName>")]
    pub documents: Vec<DocKind>,
    /// Every task, depth first in document order.
    pub tasks: Vec<TaskRow>,
    /// Counts over `tasks`.
    pub progress: Progress,
    /// The latest run of the spec, if there is one with a checkpoint.
    pub run: Option<RunState>,
}

/// A document's name in [`StatusReport::documents`] (the schema of
/// [`DocKind`]'s JSON).
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum DocumentName {
    Requirements,
    Bugfix,
    Design,
    Tasks,
}

/// One task of [`StatusReport::tasks`].
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TaskRow {
    /// The task's id; `null` for a task without a number.
    pub id: Option<String>,
    /// Its title, on one line.
    pub title: String,
    /// `not_started`, `in_progress`, `queued` or `done`: the mark in tasks.md.
    pub status: TaskStatus,
    /// Whether it is optional (`- [ ]*`).
    pub optional: bool,
    /// 0 for a top-level task, 1 for its sub-tasks, and so on.
    pub depth: usize,
    /// The outcome the latest run recorded for this task, if any.
    pub outcome: Option<OutcomeStatus>,
}

/// Task counts of [`StatusReport::progress`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Progress {
    /// Tasks marked done.
    pub done: usize,
    /// Tasks marked in progress.
    pub in_progress: usize,
    /// Tasks not started (or queued).
    pub not_started: usize,
    /// All tasks.
    pub total: usize,
}

/// The latest run of [`StatusReport::run`].
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct RunState {
    /// The run id.
    pub id: String,
    /// Its last checkpoint, `run@id`.
    pub checkpoint: String,
    /// The node that wrote it.
    pub node: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
    /// How many checkpoints the run has.
    pub checkpoints: usize,
    /// The nodes completed as of that checkpoint, sorted.
    pub completed: Vec<String>,
    /// The task outcomes as of that checkpoint, by task id.
    pub outcomes: Vec<TaskOutcome>,
    /// Verification counts, once the verify phase ran.
    pub verification: Option<VerificationCounts>,
    /// Tokens the run spent on models per phase and task, priced by
    /// `[llm.prices]` for `[llm] model`; absent when it spent none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<RunUsage>,
}

/// Verdict counts of [`RunState::verification`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct VerificationCounts {
    /// Criteria passed.
    pub passed: usize,
    /// Criteria failed.
    pub failed: usize,
    /// Criteria no test covers.
    pub untested: usize,
}

impl StatusReport {
    /// The JSON `kiro status --format json` prints: pretty, object keys
    /// sorted, secrets replaced (outcome summaries quote what agents
    /// printed, and older run logs were not redacted when written).
    pub fn to_json(&self, redactor: &Redactor) -> serde_json::Result<String> {
        // Through `Value`, whose maps sort their keys: the printed order is
        // alphabetical, as it has been since the format was first published.
        let mut value = serde_json::to_value(self)?;
        redactor.redact_value(&mut value);
        serde_json::to_string_pretty(&value)
    }
}

impl Project {
    /// The status of a loaded spec: its documents, its tasks with their
    /// marks and the outcomes of the latest run, and where that run is.
    pub fn status(&self, loaded: &LoadedSpec) -> Result<StatusReport> {
        let name = super::spec_name(&loaded.dir);
        let store = self.store.as_ref();
        let run = match pipeline::latest_run(store, &name)? {
            Some(id) => match store.latest(&id)? {
                Some(last) => {
                    let (artifacts, completed) = pipeline::state_at(store, &last.reference())?;
                    let usage = RunUsage::of(&artifacts);
                    let usage = (!usage.is_empty()).then(|| {
                        usage.priced(self.config.llm.model.as_deref(), &self.config.llm.prices)
                    });
                    Some(RunState {
                        id: id.to_string(),
                        checkpoint: last.reference().to_string(),
                        node: last.node.clone(),
                        created_at: last.created_at.clone(),
                        checkpoints: store.list(&id)?.len(),
                        completed: completed.into_iter().collect(),
                        outcomes: artifacts.outcomes.into_values().collect(),
                        usage,
                        verification: artifacts.report.map(|r| {
                            let (passed, failed, untested) = r.counts();
                            VerificationCounts {
                                passed,
                                failed,
                                untested,
                            }
                        }),
                    })
                }
                None => None,
            },
            None => None,
        };
        let mut tasks = Vec::new();
        if let Some(list) = &loaded.spec.tasks {
            for t in &list.tasks {
                push_rows(&mut tasks, t, 0, run.as_ref());
            }
        }
        let mut progress = Progress {
            total: tasks.len(),
            ..Progress::default()
        };
        for t in &tasks {
            match t.status {
                TaskStatus::Done => progress.done += 1,
                TaskStatus::InProgress => progress.in_progress += 1,
                TaskStatus::NotStarted | TaskStatus::Queued => progress.not_started += 1,
            }
        }
        let path = loaded.dir.strip_prefix(&self.root).unwrap_or(&loaded.dir);
        Ok(StatusReport {
            spec: name,
            path: path.display().to_string(),
            documents: loaded.files.iter().map(|f| f.kind).collect(),
            tasks,
            progress,
            run,
        })
    }
}

fn push_rows(out: &mut Vec<TaskRow>, task: &Task, depth: usize, run: Option<&RunState>) {
    let id = task.id.as_ref().map(ToString::to_string);
    let outcome = id.as_deref().and_then(|id| {
        run.and_then(|r| r.outcomes.iter().find(|o| o.task.as_str() == id))
            .map(|o| o.status)
    });
    out.push(TaskRow {
        id,
        title: task.title.split_whitespace().collect::<Vec<_>>().join(" "),
        status: task.status,
        optional: task.optional,
        depth,
        outcome,
    });
    for sub in &task.subtasks {
        push_rows(out, sub, depth + 1, run);
    }
}
