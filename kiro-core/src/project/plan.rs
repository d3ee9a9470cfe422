//! `run --plan`: the task graph of a spec's `tasks.md` as plain rows, so
//! that a front end shows what a run would do without touching the
//! engine's graph type.

use super::{Project, ProjectError, Result};
use crate::config::TaskOrder;
use crate::pipeline::TaskKind;
use crate::plan::Plan;
use crate::spec::TaskStatus;
use crate::store::{DocKind, LoadedSpec};

/// The plan of a spec: its task nodes in the order a run visits them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanView {
    /// The spec's name.
    pub spec: String,
    /// How tasks without declared dependencies are ordered.
    pub order: TaskOrder,
    /// The task nodes, in document order (parents before their sub-tasks).
    pub nodes: Vec<PlanNode>,
}

/// One task node of a [`PlanView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanNode {
    /// The task's id, or its position (`3.2`) when it has none.
    pub id: String,
    /// 0 for a top-level task, 1 for its sub-tasks, and so on.
    pub depth: usize,
    /// Its mark in `tasks.md`.
    pub status: TaskStatus,
    /// Whether it is optional (`- [ ]*`).
    pub optional: bool,
    /// Whether the executor runs it, it waits for its sub-tasks, or it is
    /// a checkpoint the approver decides.
    pub kind: TaskKind,
    /// Its title, as written.
    pub title: String,
    /// The ids of the nodes it waits for, in natural order (`2.9` before
    /// `2.10`).
    pub waits_for: Vec<String>,
}

impl Project {
    /// The task graph a run of `loaded` would execute, in the configured
    /// order; an ambiguous plan (duplicate ids, unknown dependencies,
    /// cycles) is the engine's error, each issue placed on its line of
    /// `tasks.md`.
    pub fn plan(&self, loaded: &LoadedSpec) -> Result<PlanView> {
        let Some(tasks) = &loaded.spec.tasks else {
            return Err(ProjectError::NoTasks {
                spec: loaded.spec.name.clone(),
            });
        };
        let lines = loaded.file(DocKind::Tasks).map(|f| &f.source_map);
        let order = self.config.pipeline.order;
        let graph = Plan::new(tasks, order).into_graph(lines)?;
        let nodes = graph
            .nodes()
            .map(|(n, node)| {
                // An edge `a -> b` means that `b` waits for `a`.
                let mut waits_for: Vec<String> = graph
                    .dependencies(n)
                    .map(|d| graph[d].id.to_string())
                    .collect();
                waits_for.sort_by_key(|id| natural(id));
                waits_for.dedup();
                PlanNode {
                    id: node.id.to_string(),
                    depth: node.path.len().saturating_sub(1),
                    status: node.task.status,
                    optional: node.task.optional,
                    kind: node.kind,
                    title: node.task.title.clone(),
                    waits_for,
                }
            })
            .collect();
        Ok(PlanView {
            spec: loaded.spec.name.clone(),
            order,
            nodes,
        })
    }
}

/// Sort key that orders `2.10` after `2.9`.
fn natural(id: &str) -> Vec<(u64, String)> {
    id.split('.')
        .map(|part| (part.parse().unwrap_or(u64::MAX), part.to_owned()))
        .collect()
}
