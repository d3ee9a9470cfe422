//! Tasks run by hand: which tasks are ready, starting one (`[ ]` → `[-]`)
//! and completing it (`[x]`, a checkpoint, an audit entry). `kiro task
//! next|start|done` and the MCP server's `next_tasks`, `start_task` and
//! `complete_task` call these, so a person and a coding agent follow the
//! same rules as a run: readiness is [`Plan`]'s, the checkpoints are those a
//! run writes, and `kiro rollback` undoes a task.
//!
//! A task's changes are measured between two scans of the workspace: the
//! baseline stored when it starts (kept in its run's folder,
//! `manual/<task>.json` naming the stored tree) and the tree when it is
//! done. Tasks worked on at the same time therefore share changes: the
//! first completed takes whatever the others wrote before it.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Project, ProjectError, Result};
use crate::audit::{AuditEvent, NewEntry, TaskAudit};
use crate::checkpoint::{put_tree, tree_at, BlobId, CheckpointStore, RunId};
use crate::error::Error;
use crate::format::set_task_status;
use crate::links::SpecLinks;
use crate::pipeline;
use crate::plan::{Plan, TaskGraph, TaskIndex, TaskKind};
use crate::spec::{Spec, TaskId, TaskStatus};
use crate::stage::{Artifacts, OutcomeStatus, TaskOutcome};
use crate::stages::task_brief;
use crate::store::{self, DocKind};

/// A task whose dependencies are settled and that is not done: what
/// `kiro task next` lists and the MCP tool `next_tasks` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReadyTask {
    /// The task's id (`2.1`), or its position when it has none.
    pub id: String,
    /// Its title, on one line.
    pub title: String,
    /// `task`, or `checkpoint` for a Kiro "Checkpoint - ..." task (a
    /// review point: completing it says the review was done).
    pub kind: ReadyKind,
    /// `not_started`, or `in_progress` once started.
    pub status: TaskStatus,
    /// Whether it is optional (`- [ ]*`): a run skips it unless asked.
    pub optional: bool,
    /// What an executor is told ([`task_brief`]): the task, its details,
    /// the criteria and properties it implements.
    pub brief: String,
    /// The acceptance criteria it implements, resolved to their text.
    pub criteria: Vec<CriterionText>,
    /// The correctness properties it names.
    pub properties: Vec<String>,
    /// The repositories the task names (`_Repos: api, web_`); empty when
    /// it names none (a run then infers them from its brief, else uses
    /// the default repository).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
}

/// What kind of work a [`ReadyTask`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyKind {
    /// A task to implement.
    Task,
    /// A Kiro "Checkpoint - ..." review task.
    Checkpoint,
}

/// One acceptance criterion of a [`ReadyTask`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CriterionText {
    /// The criterion's id (`1.2`).
    pub id: String,
    /// Its EARS text.
    pub text: String,
}

/// What [`Project::start_task`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StartedTask {
    /// The spec.
    pub spec: String,
    /// The task, now `in_progress`, with its brief.
    pub task: ReadyTask,
    /// The run whose checkpoints will record it.
    pub run: String,
    /// `false` when the task was already `in_progress` (its baseline is
    /// kept as it was).
    pub newly_started: bool,
}

/// What [`Project::complete_task`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompletedTask {
    /// The spec.
    pub spec: String,
    /// The task, now `done`.
    pub task: String,
    /// Its checkpoint, `run@id`: `kiro rollback` to its parent undoes it.
    pub checkpoint: String,
    /// The checkpoint it follows, `run@id`.
    pub parent: String,
    /// The files changed since the task started (`path`, or `repo:path` in
    /// another repository).
    pub files: Vec<String>,
    /// Parent tasks that became done with it (all their sub-tasks are).
    pub parents_done: Vec<String>,
    /// The sequence number of the audit entry recorded.
    pub audit_seq: u64,
    /// The tasks ready now, by id.
    pub ready: Vec<String>,
}

/// What a started task keeps in its run's folder until it is completed.
#[derive(Debug, Serialize, Deserialize)]
struct StartRecord {
    /// The stored tree the task's changes are measured from.
    baseline: String,
    /// When it started, milliseconds since the Unix epoch.
    started_ms: u64,
}

/// The folder of a run's started-task records.
const MANUAL_DIR: &str = "manual";

/// The plan of a spec with, per task node, whether it is done and whether
/// it is settled (done, or optional and skippable), as a run decides.
struct Readiness {
    graph: TaskGraph,
    done: Vec<bool>,
    settled: Vec<bool>,
}

impl Readiness {
    fn new(project: &Project, spec: &Spec) -> Result<Readiness> {
        let Some(list) = &spec.tasks else {
            return Err(ProjectError::NoTasks {
                spec: spec.name.clone(),
            });
        };
        let graph = Plan::new(list, project.config.pipeline.order).into_graph(None)?;
        let n = graph.len();
        let mut done = vec![false; n];
        let mut settled = vec![false; n];
        // Sub-tasks come after their parent in index order, so walking
        // backwards settles every child before its parent.
        let mut nodes: Vec<TaskIndex> = graph.nodes().map(|(idx, _)| idx).collect();
        nodes.sort_unstable();
        for &idx in nodes.iter().rev() {
            let i = idx.index();
            let node = &graph[idx];
            let marked = node.task.status == TaskStatus::Done;
            match node.kind {
                TaskKind::Parent => {
                    let subs: Vec<usize> = graph.subtasks(idx).map(TaskIndex::index).collect();
                    let all_settled = subs.iter().all(|&s| settled[s]);
                    let any_done = subs.iter().any(|&s| done[s]);
                    done[i] = marked || (all_settled && any_done);
                    // A parent whose sub-tasks are all skipped is skipped
                    // too, and holds up nothing (as in a run).
                    settled[i] = done[i] || (all_settled && !any_done);
                }
                TaskKind::Leaf | TaskKind::Gate => {
                    done[i] = marked;
                    settled[i] = marked || node.task.optional;
                }
            }
        }
        Ok(Readiness {
            graph,
            done,
            settled,
        })
    }

    fn find(&self, spec: &str, id: &str) -> Result<TaskIndex> {
        self.graph
            .nodes()
            .find(|(_, node)| node.id.as_str() == id)
            .map(|(idx, _)| idx)
            .ok_or_else(|| ProjectError::UnknownTask {
                spec: spec.to_owned(),
                task: id.to_owned(),
            })
    }

    /// The first dependency of `n` that is not settled, if any.
    fn waiting_for(&self, n: TaskIndex) -> Option<TaskIndex> {
        self.graph
            .dependencies(n)
            .find(|d| !self.settled[d.index()])
    }

    fn is_ready(&self, n: TaskIndex) -> bool {
        self.graph[n].kind != TaskKind::Parent
            && !self.done[n.index()]
            && self.waiting_for(n).is_none()
    }

    /// Ready task nodes in plan order.
    fn ready(&self) -> Vec<TaskIndex> {
        self.graph
            .order()
            .iter()
            .copied()
            .filter(|&n| self.is_ready(n))
            .collect()
    }

    /// Refuses a task that cannot be started or completed now.
    fn check(&self, spec: &str, n: TaskIndex) -> Result<()> {
        let node = &self.graph[n];
        let task = node.id.to_string();
        if node.kind == TaskKind::Parent {
            return Err(ProjectError::ParentTask {
                spec: spec.to_owned(),
                task,
            });
        }
        if self.done[n.index()] {
            return Err(ProjectError::TaskAlreadyDone {
                spec: spec.to_owned(),
                task,
            });
        }
        if let Some(dep) = self.waiting_for(n) {
            return Err(ProjectError::TaskNotReady {
                spec: spec.to_owned(),
                task,
                waiting_for: self.graph[dep].id.to_string(),
            });
        }
        Ok(())
    }

    fn describe(&self, spec: &Spec, n: TaskIndex) -> ReadyTask {
        let node = &self.graph[n];
        let links = SpecLinks::new(spec);
        let criteria = links
            .resolve_all(&node.task.requirements)
            .into_iter()
            .filter_map(|i| links.criteria().get(i))
            .map(|c| CriterionText {
                id: c.id.to_string(),
                text: c.text.clone(),
            })
            .collect();
        ReadyTask {
            id: node.id.to_string(),
            title: node
                .task
                .title
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            kind: if node.kind == TaskKind::Gate {
                ReadyKind::Checkpoint
            } else {
                ReadyKind::Task
            },
            status: node.task.status,
            optional: node.task.optional,
            brief: task_brief(&node.task, spec),
            criteria,
            repos: node.task.repos.clone(),
            properties: node
                .task
                .properties
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

impl Project {
    /// The tasks of `spec` ready to work on, in plan order: leaf tasks (and
    /// checkpoint tasks) not done whose dependencies are done, or optional
    /// and not done, as a run would settle them ([`Plan`]'s edges: document
    /// order, `_Depends:`, sub-tasks, checkpoints). A task already started
    /// is listed too, as `in_progress`.
    pub fn ready_tasks(&self, spec: &Spec) -> Result<Vec<ReadyTask>> {
        let readiness = Readiness::new(self, spec)?;
        Ok(readiness
            .ready()
            .into_iter()
            .map(|n| readiness.describe(spec, n))
            .collect())
    }

    /// Starts task `id` of the spec named `spec`: marks it `[-]` in
    /// tasks.md (an atomic write, under the spec's lock) after storing a
    /// baseline of the workspace, so that [`complete_task`] can record what
    /// the task changed. The run that records it is the spec's latest, or a
    /// new one (first node `node manual`). A task that is not ready is
    /// refused, naming the dependency it waits for; starting a task already
    /// in progress changes nothing.
    ///
    /// [`complete_task`]: Project::complete_task
    pub fn start_task(&self, spec: &str, id: &str) -> Result<StartedTask> {
        let dir = self.spec_dir(spec)?;
        let _lock = self.lock_spec(spec, None)?;
        let loaded = self.load_spec(&dir)?;
        let readiness = Readiness::new(self, &loaded.spec)?;
        let n = readiness.find(spec, id)?;
        readiness.check(spec, n)?;
        let store = self.store.as_ref();
        let workspace = self.workspace()?;
        let (run, newly_started) = match self.latest_run(spec)? {
            // Already started: keep its baseline. A record left behind by a
            // task whose mark a rollback reset is replaced.
            Some(run)
                if readiness.graph[n].task.status == TaskStatus::InProgress
                    && self.start_record(&run, id)?.is_some() =>
            {
                (run, false)
            }
            latest => {
                let baseline = pipeline::baseline_tree(store, &workspace)?;
                let run = match latest {
                    Some(run) => run,
                    None => {
                        pipeline::open_manual_run(
                            store,
                            Artifacts::new(loaded.spec.clone()),
                            baseline.clone(),
                        )?
                        .run_id
                    }
                };
                let record = StartRecord {
                    baseline: baseline.as_str().to_owned(),
                    started_ms: now_ms(),
                };
                let path = self.start_record_path(&run, id)?;
                let bytes =
                    serde_json::to_vec_pretty(&record).map_err(|e| Error::Backend(Box::new(e)))?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                store::write_atomic(&path, &bytes)?;
                (run, true)
            }
        };
        let path = readiness.graph[n].path.clone();
        self.set_marks(&dir, &[path], TaskStatus::InProgress)?;
        let mut task = readiness.describe(&loaded.spec, n);
        task.status = TaskStatus::InProgress;
        Ok(StartedTask {
            spec: spec.to_owned(),
            task,
            run: run.to_string(),
            newly_started,
        })
    }

    /// Completes task `id` of the spec named `spec` with a one-line
    /// `summary`: marks it `[x]` (and every parent whose sub-tasks are now
    /// all done), writes its checkpoint in the spec's latest run (the files
    /// changed since [`start_task`] stored its baseline, or since the run's
    /// latest checkpoint for a task never started) and appends an audit
    /// `task` entry, all under the spec's lock. A task that is not ready is
    /// refused as by [`start_task`].
    ///
    /// [`start_task`]: Project::start_task
    pub fn complete_task(&self, spec: &str, id: &str, summary: &str) -> Result<CompletedTask> {
        let dir = self.spec_dir(spec)?;
        let _lock = self.lock_spec(spec, None)?;
        let log = self.audit_log()?;
        log.actor()?;
        let loaded = self.load_spec(&dir)?;
        let readiness = Readiness::new(self, &loaded.spec)?;
        let n = readiness.find(spec, id)?;
        readiness.check(spec, n)?;
        let store = self.store.as_ref();
        let workspace = self.workspace()?;
        let (run, record) = match self.latest_run(spec)? {
            Some(run) => {
                let record = self.start_record(&run, id)?;
                (run, record)
            }
            None => {
                let baseline = pipeline::baseline_tree(store, &workspace)?;
                let first = pipeline::open_manual_run(
                    store,
                    Artifacts::new(loaded.spec.clone()),
                    baseline.clone(),
                )?;
                let record = StartRecord {
                    baseline: baseline.as_str().to_owned(),
                    started_ms: now_ms(),
                };
                (first.run_id, Some(record))
            }
        };
        let latest = store
            .latest(&run)?
            .ok_or_else(|| Error::RunNotFound {
                run: run.to_string(),
            })?
            .reference();
        let baseline = match &record {
            Some(record) => BlobId::new(record.baseline.clone())?,
            None => match tree_at(store, &latest)? {
                Some(tree) => put_tree(store, &tree)?,
                None => pipeline::baseline_tree(store, &workspace)?,
            },
        };

        // The marks first: the checkpoint's tree then shows the task `[x]`.
        let node_path = readiness.graph[n].path.clone();
        self.set_marks(&dir, std::slice::from_ref(&node_path), TaskStatus::Done)?;
        let parents = self.complete_parents(&dir)?;
        let files = pipeline::changes_since(store, &workspace, &baseline)?;
        let labels = files
            .iter()
            .map(|f| crate::audit::file_label(&(f.repo.clone(), f.path.clone())))
            .collect();
        let task_id = readiness.graph[n].id.clone();
        let mut outcome = TaskOutcome::done(task_id.clone(), summary);
        outcome.duration_ms = record
            .as_ref()
            .map_or(0, |r| now_ms().saturating_sub(r.started_ms));
        let checkpoint =
            pipeline::record_manual_task(store, &latest, outcome, files, Some(baseline))?;
        let mut last = checkpoint.clone();
        for parent in &parents {
            let outcome = TaskOutcome::done(parent.clone(), "all sub-tasks done");
            last = pipeline::record_manual_task(store, &last, outcome, Vec::new(), None)?;
        }
        if record.is_some() {
            let path = self.start_record_path(&run, id)?;
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Io { path, source }.into()),
            }
        }
        let entry = log.append(
            NewEntry::event(AuditEvent::Task(TaskAudit {
                task: task_id.to_string(),
                status: OutcomeStatus::Done,
                summary: summary.to_owned(),
            }))
            .with_spec(spec)
            .with_run(run.to_string()),
        )?;
        let reloaded = self.load_spec(&dir)?;
        let ready = self
            .ready_tasks(&reloaded.spec)?
            .into_iter()
            .map(|t| t.id)
            .collect();
        Ok(CompletedTask {
            spec: spec.to_owned(),
            task: task_id.to_string(),
            checkpoint: checkpoint.to_string(),
            parent: latest.to_string(),
            files: labels,
            parents_done: parents.iter().map(ToString::to_string).collect(),
            audit_seq: entry.seq,
            ready,
        })
    }

    /// Marks `[x]` every parent task whose sub-tasks are now done, deepest
    /// first; returns their ids.
    fn complete_parents(&self, dir: &Path) -> Result<Vec<TaskId>> {
        let mut done = Vec::new();
        loop {
            let loaded = self.load_spec(dir)?;
            let readiness = Readiness::new(self, &loaded.spec)?;
            let next = readiness.graph.order().iter().rev().copied().find(|&p| {
                let node = &readiness.graph[p];
                node.kind == TaskKind::Parent
                    && node.task.status != TaskStatus::Done
                    && readiness.done[p.index()]
            });
            let Some(p) = next else {
                return Ok(done);
            };
            let node = &readiness.graph[p];
            if done.contains(&node.id) {
                // The mark did not take (a parent kiro cannot mark): stop
                // rather than loop.
                return Ok(done);
            }
            self.set_marks(dir, std::slice::from_ref(&node.path), TaskStatus::Done)?;
            done.push(node.id.clone());
        }
    }

    /// Rewrites the marks of the tasks at `paths` in tasks.md, atomically
    /// and only when the text changes.
    fn set_marks(&self, dir: &Path, paths: &[Vec<usize>], status: TaskStatus) -> Result<()> {
        let file = dir.join(DocKind::Tasks.file_name());
        let Some(text) = store::read_text_file(&file, self.load_options.max_input_bytes)? else {
            return Err(ProjectError::NoTasks {
                spec: super::spec_name(dir),
            });
        };
        let mut new = text.clone();
        for path in paths {
            new = set_task_status(&new, path, status)?;
        }
        if new != text {
            store::write_atomic(&file, new.as_bytes())?;
        }
        Ok(())
    }

    fn start_record_path(&self, run: &RunId, task: &str) -> Result<PathBuf> {
        // Task ids are digits and dots (or a position), never a path; the
        // check keeps a strange one from naming another file.
        if task.is_empty()
            || !task
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            || task.starts_with('.')
        {
            return Err(Error::InvalidId {
                id: task.to_owned(),
                reason: "a task id is letters, digits, dots, dashes and underscores".to_owned(),
            }
            .into());
        }
        Ok(self
            .store
            .run_dir(run)?
            .join(MANUAL_DIR)
            .join(format!("{task}.json")))
    }

    fn start_record(&self, run: &RunId, task: &str) -> Result<Option<StartRecord>> {
        let path = self.start_record_path(run, task)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                Error::Backend(format!("{}: {e}", path.display()).into())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }.into()),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
