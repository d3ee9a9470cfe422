//! The task graph of one run: one node per task, edges from sub-task order,
//! document order and `_Depends`, checked for cycles before anything runs.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::config::TaskOrder;
use crate::error::{Error, Result};
use crate::spec::{Task, TaskId, TaskList};

/// What a task node does when it becomes ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// A task without sub-tasks: the executor runs it.
    Leaf,
    /// A task with sub-tasks: done when they are.
    Parent,
    /// A Kiro "Checkpoint - ..." task: the approver decides.
    Gate,
}

/// One task of the graph.
#[derive(Clone, Debug)]
pub struct TaskNode {
    /// The task's id, or its position (`3.2`) when it has none.
    pub id: TaskId,
    /// Its path of indices in the task list (`[2, 1]`), for status writes.
    pub path: Vec<usize>,
    /// What it does.
    pub kind: TaskKind,
    /// The task itself, without its sub-tasks.
    pub task: Task,
}

impl TaskNode {
    /// The node's name in events and checkpoints (`task 2.1`).
    pub fn name(&self) -> String {
        format!("task {}", self.id)
    }
}

/// The task DAG: an edge `a -> b` means `b` waits for `a`.
#[derive(Clone, Debug, Default)]
pub struct TaskGraph {
    /// The petgraph graph; node weights are [`TaskNode`]s in document order.
    pub graph: StableDiGraph<TaskNode, ()>,
    /// Node indices in document order (parents before their sub-tasks).
    pub order: Vec<NodeIndex>,
}

impl TaskGraph {
    /// Builds and checks the graph of a task list.
    ///
    /// [`Error::UnknownDependency`] when `_Depends` names a task that does
    /// not exist, [`Error::TaskCycle`] naming the tasks of a cycle.
    pub fn build(list: &TaskList, order: TaskOrder) -> Result<TaskGraph> {
        let mut g = TaskGraph::default();
        let mut by_id: HashMap<String, NodeIndex> = HashMap::new();
        // (node, own explicit deps, inherited explicit deps, parallel)
        let mut pending: Vec<(NodeIndex, Vec<TaskId>, bool)> = Vec::new();
        let mut parents: Vec<(NodeIndex, Vec<NodeIndex>)> = Vec::new();
        for (i, task) in list.tasks.iter().enumerate() {
            add(
                &mut g,
                &mut by_id,
                &mut pending,
                &mut parents,
                task,
                vec![i],
                &[],
            );
        }
        for (parent, children) in &parents {
            for child in children {
                g.graph.add_edge(*child, *parent, ());
            }
        }

        // Sequence points: leaves and gates in document order.
        let mut previous: Option<NodeIndex> = None;
        let mut previous_deps: Vec<NodeIndex> = Vec::new();
        let mut done_so_far: Vec<NodeIndex> = Vec::new();
        for (node, explicit, parallel) in pending {
            let mut deps = Vec::with_capacity(explicit.len());
            for dep in &explicit {
                let d =
                    by_id
                        .get(dep.as_str())
                        .copied()
                        .ok_or_else(|| Error::UnknownDependency {
                            task: g.graph[node].id.to_string(),
                            dependency: dep.to_string(),
                        })?;
                deps.push(d);
            }
            let kind = g.graph[node].kind;
            let own_explicit = !g.graph[node].task.depends_on.is_empty();
            if kind == TaskKind::Gate {
                // A checkpoint waits for everything written before it.
                deps.extend(done_so_far.iter().copied());
            } else if order == TaskOrder::Document && !own_explicit {
                if parallel {
                    deps.extend(previous_deps.iter().copied());
                } else {
                    deps.extend(previous);
                }
            }
            deps.sort_unstable();
            deps.dedup();
            for d in &deps {
                if *d != node {
                    g.graph.add_edge(*d, node, ());
                } else {
                    return Err(Error::TaskCycle {
                        cycle: vec![g.graph[node].id.to_string(), g.graph[node].id.to_string()],
                    });
                }
            }
            previous = Some(node);
            previous_deps = deps;
            done_so_far.push(node);
        }
        g.check_acyclic()?;
        Ok(g)
    }

    /// Number of task nodes.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The nodes a node waits for.
    pub fn dependencies(&self, n: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .edges_directed(n, Direction::Incoming)
            .map(|e| e.source())
    }

    /// The nodes waiting for a node.
    pub fn dependents(&self, n: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .edges_directed(n, Direction::Outgoing)
            .map(|e| e.target())
    }

    /// Fails with the tasks of the first cycle, written as a closed path
    /// (`2.1 -> 3 -> 2.1`).
    fn check_acyclic(&self) -> Result<()> {
        for scc in tarjan_scc(&self.graph) {
            if scc.len() < 2 {
                continue;
            }
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let start = scc
                .iter()
                .copied()
                .min_by_key(|n| self.order.iter().position(|o| o == n))
                .unwrap_or(scc[0]);
            let path = self.cycle_through(start, &members);
            return Err(Error::TaskCycle {
                cycle: path
                    .into_iter()
                    .map(|n| self.graph[n].id.to_string())
                    .collect(),
            });
        }
        Ok(())
    }

    /// A shortest cycle through `start` inside one strongly connected component.
    fn cycle_through(&self, start: NodeIndex, members: &HashSet<NodeIndex>) -> Vec<NodeIndex> {
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for next in self.dependents(n) {
                if !members.contains(&next) {
                    continue;
                }
                if next == start {
                    // Walk back from `n` to `start`, then read it forwards.
                    let mut back = Vec::new();
                    let mut at = n;
                    while at != start {
                        back.push(at);
                        at = prev.get(&at).copied().unwrap_or(start);
                    }
                    let mut path = vec![start];
                    path.extend(back.into_iter().rev());
                    path.push(start);
                    return path;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(next) {
                    e.insert(n);
                    queue.push_back(next);
                }
            }
        }
        vec![start, start]
    }
}

fn add(
    g: &mut TaskGraph,
    by_id: &mut HashMap<String, NodeIndex>,
    pending: &mut Vec<(NodeIndex, Vec<TaskId>, bool)>,
    parents: &mut Vec<(NodeIndex, Vec<NodeIndex>)>,
    task: &Task,
    path: Vec<usize>,
    inherited: &[TaskId],
) -> NodeIndex {
    let id = task.id.clone().unwrap_or_else(|| {
        TaskId::new(
            path.iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join("."),
        )
    });
    let kind = if !task.subtasks.is_empty() {
        TaskKind::Parent
    } else if task.is_checkpoint() {
        TaskKind::Gate
    } else {
        TaskKind::Leaf
    };
    let mut own = task.clone();
    own.subtasks = Vec::new();
    let node = g.graph.add_node(TaskNode {
        id: id.clone(),
        path: path.clone(),
        kind,
        task: own,
    });
    g.order.push(node);
    by_id.entry(id.as_str().to_owned()).or_insert(node);

    let mut explicit: Vec<TaskId> = inherited.to_vec();
    explicit.extend(task.depends_on.iter().cloned());
    if kind == TaskKind::Parent {
        let mut children = Vec::with_capacity(task.subtasks.len());
        for (i, sub) in task.subtasks.iter().enumerate() {
            let mut p = path.clone();
            p.push(i);
            children.push(add(g, by_id, pending, parents, sub, p, &explicit));
        }
        parents.push((node, children));
    } else {
        pending.push((node, explicit, task.parallel));
    }
    node
}
