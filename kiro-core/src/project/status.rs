//! `status`: a spec's tasks and progress, and where its latest run is.

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use super::{Project, Result};
use crate::checkpoint::CheckpointStore;
use crate::git::{branch_name, GitRepo};
use crate::pipeline;
use crate::redact::Redactor;
use crate::spec::{Task, TaskStatus};
use crate::stage::{OutcomeStatus, RunUsage, TaskOutcome};
use crate::store::{DocKind, LoadedSpec};
use crate::workspace::is_kiro_record;

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
    /// Every repository of the workspace (`.kiro/workspace.toml`, or the
    /// one at the root), in the manifest's order.
    pub repos: Vec<RepoStatus>,
}

/// One repository of [`StatusReport::repos`]: where it is and, when it is a
/// git work tree, its branch, head, the spec's run commits and dirty files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RepoStatus {
    /// The repository's name (`[repos.<name>]`; `main` for the root).
    pub name: String,
    /// Its folder as `.kiro/workspace.toml` gives it: relative to the
    /// project root (`.` for the root itself, `../api`) or absolute.
    pub root: String,
    /// Whether tasks that name no repository run here.
    pub default: bool,
    /// The checked-out branch; `null` when detached or not a git work tree.
    pub branch: Option<String>,
    /// The commit checked out (full id); `null` before the first commit or
    /// outside git.
    pub head: Option<String>,
    /// The commits kiro made for the spec on its run branch `kiro/<spec>`
    /// (those with the `Kiro-Spec: <spec>` trailer, down to the first
    /// without it), newest first, each `<short id> <subject>`; empty
    /// without that branch.
    pub run_commits: Vec<String>,
    /// Files git reports changed or untracked under the repository's
    /// folder (kiro's own records left out), relative to it, sorted.
    pub dirty: Vec<String>,
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
        let repos = self.repo_statuses(&name);
        Ok(StatusReport {
            spec: name,
            path: path.display().to_string(),
            documents: loaded.files.iter().map(|f| f.kind).collect(),
            tasks,
            progress,
            run,
            repos,
        })
    }

    /// The state of every repository; git is asked only about folders in a
    /// work tree, and a git that fails leaves the fields it would fill empty
    /// (status is a report, not a check).
    fn repo_statuses(&self, spec: &str) -> Vec<RepoStatus> {
        let default = self.manifest.default_repo();
        self.manifest
            .repos
            .iter()
            .map(|repo| {
                let git = git_state(&repo.root, spec);
                RepoStatus {
                    name: repo.name.clone(),
                    root: repo.path.clone(),
                    default: repo.name == default,
                    branch: git.branch,
                    head: git.head,
                    run_commits: git.run_commits,
                    dirty: git.dirty,
                }
            })
            .collect()
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

/// How many commits of `kiro/<spec>` status reads per `git log` call, and
/// at most in all: a run branch is as long as the run's tasks, and status
/// must stay quick on a branch someone grew by hand.
const LOG_PAGE: usize = 200;
const MAX_RUN_COMMITS: usize = 10_000;

/// What git says about a repository folder.
#[derive(Default)]
struct GitState {
    branch: Option<String>,
    head: Option<String>,
    run_commits: Vec<String>,
    dirty: Vec<String>,
}

/// Branch, head, run commits and dirty files of the work tree holding
/// `root`; all empty when `root` is in none (or git cannot run, or fails:
/// status is a report, and a field it cannot fill stays empty).
fn git_state(root: &Path, spec: &str) -> GitState {
    let Some(git) = GitRepo::discover(root) else {
        return GitState::default();
    };
    // Paths git reports are relative to the work tree's top, which may be
    // above the repository's folder.
    let prefix = match root.strip_prefix(git.root()) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", rel.to_string_lossy()),
        _ => String::new(),
    };
    let mut dirty: Vec<String> = git
        .status_porcelain()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.strip_prefix(prefix.as_str()).map(str::to_owned))
        .filter(|p| !is_kiro_record(Path::new(p)))
        .collect();
    dirty.sort();
    dirty.dedup();
    GitState {
        branch: git.current_branch().ok().flatten(),
        head: git.head().ok().flatten(),
        run_commits: run_commits(&git, spec),
        dirty,
    }
}

/// The commits of the run branch `kiro/<spec>` made for the spec, newest
/// first, as `<short id> <subject>`: the branch's commits down to the first
/// one without the `Kiro-Spec: <spec>` trailer every per-task commit
/// carries, which is where the branch left its base.
fn run_commits(git: &GitRepo, spec: &str) -> Vec<String> {
    let branch = branch_name(spec);
    if !matches!(git.resolve(&branch), Ok(Some(_))) {
        return Vec::new();
    }
    let mut out = Vec::new();
    while out.len() < MAX_RUN_COMMITS {
        let Ok(page) = git.commits_page(&branch, out.len(), LOG_PAGE) else {
            break;
        };
        let full = page.len() == LOG_PAGE;
        for commit in page {
            if commit.trailer("Kiro-Spec") != Some(spec) {
                return out;
            }
            let short = commit.id.get(..7).unwrap_or(&commit.id);
            out.push(format!("{short} {}", commit.subject));
        }
        if !full {
            break;
        }
    }
    out
}
