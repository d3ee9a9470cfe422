//! `status`: a spec's tasks and progress, and where its latest run is.

use std::path::Path;

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
    /// Its folder, absolute.
    pub root: String,
    /// Whether tasks that name no repository run here.
    pub default: bool,
    /// The checked-out branch; `null` when detached or not a git work tree.
    pub branch: Option<String>,
    /// The commit checked out (full id); `null` before the first commit or
    /// outside git.
    pub head: Option<String>,
    /// The commits of the spec's run branch `kiro/<spec>` that no other
    /// branch has, newest first, each `<short id> <subject>`; empty
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
                    root: repo.root.display().to_string(),
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

/// The branch a run of `spec` commits to in each repository it touches
/// (issue 16's `kiro/<spec>`, created by the per-task commits).
fn run_branch(spec: &str) -> String {
    format!("kiro/{spec}")
}

/// What git says about a repository folder.
#[derive(Default)]
struct GitState {
    branch: Option<String>,
    head: Option<String>,
    run_commits: Vec<String>,
    dirty: Vec<String>,
}

/// Branch, head, run commits and dirty files of the work tree holding
/// `root`; all empty when `root` is in none.
fn git_state(root: &Path, spec: &str) -> GitState {
    let inside = git(root, &["rev-parse", "--is-inside-work-tree"]);
    if inside.as_deref().map(str::trim) != Some("true") {
        return GitState::default();
    }
    let line = |args: &[&str]| {
        git(root, args)
            .map(|out| out.trim().to_owned())
            .filter(|out| !out.is_empty())
    };
    let branch_ref = format!("refs/heads/{}", run_branch(spec));
    let run_commits = match line(&["rev-parse", "-q", "--verify", &branch_ref]) {
        Some(_) => {
            let exclude = format!("--exclude={branch_ref}");
            git(
                root,
                &[
                    "log",
                    "--format=%h %s",
                    &branch_ref,
                    "--not",
                    &exclude,
                    "--branches",
                ],
            )
            .map(|out| out.lines().map(str::to_owned).collect())
            .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut dirty: Vec<String> = git(
        root,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            ".",
        ],
    )
    .map(|out| porcelain_paths(&out))
    .unwrap_or_default();
    // Porcelain paths are relative to the work tree's top, which may be
    // above the repository's folder.
    if let Some(prefix) = line(&["rev-parse", "--show-prefix"]) {
        dirty = dirty
            .into_iter()
            .filter_map(|p| p.strip_prefix(prefix.as_str()).map(str::to_owned))
            .collect();
    }
    dirty.retain(|p| !crate::workspace::is_kiro_record(Path::new(p)));
    dirty.sort();
    dirty.dedup();
    GitState {
        branch: line(&["symbolic-ref", "-q", "--short", "HEAD"]),
        head: line(&["rev-parse", "-q", "--verify", "HEAD"]),
        run_commits,
        dirty,
    }
}

/// The paths of `git status --porcelain=v1 -z`: entries `XY path` ended by
/// NUL, a rename or copy followed by its source path, which is skipped.
fn porcelain_paths(out: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = out.split('\0');
    while let Some(entry) = entries.next() {
        let (Some(code), Some(path)) = (entry.get(..2), entry.get(3..)) else {
            continue;
        };
        paths.push(path.to_owned());
        if code.contains('R') || code.contains('C') {
            entries.next();
        }
    }
    paths
}

/// Runs `git -C root <args>` and returns its standard output when it
/// succeeds. User configuration that would change what is read (hooks do
/// not run for these read-only commands; an fsmonitor would) is overridden,
/// status takes no index lock, and `GIT_*` variables that would point git
/// at another repository are cleared.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args([
            "--no-optional-locks",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.quotePath=false",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain() {
        for (out, expected) in [
            ("", &[][..]),
            (
                " M src/lib.rs\0?? new file.txt\0",
                &["src/lib.rs", "new file.txt"][..],
            ),
            (
                "R  new.rs\0old.rs\0 D gone.rs\0",
                &["new.rs", "gone.rs"][..],
            ),
        ] {
            assert_eq!(porcelain_paths(out), expected, "{out:?}");
        }
    }
}
