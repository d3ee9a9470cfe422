//! The task graph of one run: one node per task, edges from sub-task order,
//! document order and `_Depends`, checked for cycles before anything runs.
//!
//! A task with sub-tasks is a parent: the executor never runs it, and it is
//! done when its sub-tasks are, whether they are indented under it, written
//! at its indentation and numbered under it (`- [ ] 2.` then `- [ ] 2.1`),
//! or under a cc-sdd group heading (`## 2. Title`). Parsing nests all three
//! the same way, so the graph sees one shape.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::config::TaskOrder;
use crate::error::{Error, Result};
use crate::format::{parse_tasks, render_tasks};
use crate::spec::{is_numbered_under, Task, TaskId, TaskList};

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
    ///
    /// A list built with sub-tasks beside their parent (`2.1` a sibling
    /// after `2`, which a planner may produce) is arranged as `tasks.md`
    /// reads back once it is written, so that parents are never sent to the
    /// executor and node paths name the tasks of the file.
    pub fn build(list: &TaskList, order: TaskOrder) -> Result<TaskGraph> {
        let reread;
        let list = if lists_subtasks_beside_parents(&list.tasks) {
            reread = parse_tasks(&render_tasks(list)).value;
            &reread
        } else {
            list
        };
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

/// Whether a task of `tasks` (at any depth) stands after a task whose
/// number it is numbered under, or under that task's last sub-task, and so
/// on down: the parser would have made it a sub-task. Parsed lists never
/// do; models built flat may.
fn lists_subtasks_beside_parents(tasks: &[Task]) -> bool {
    let beside = |(i, task): (usize, &Task)| {
        let Some(id) = &task.id else {
            return false;
        };
        let mut open = i.checked_sub(1).and_then(|j| tasks.get(j));
        while let Some(t) = open {
            if t.id
                .as_ref()
                .is_some_and(|p| is_numbered_under(id.as_str(), p.as_str()))
            {
                return true;
            }
            open = t.subtasks.last();
        }
        false
    };
    tasks.iter().enumerate().any(beside)
        || tasks
            .iter()
            .any(|t| lists_subtasks_beside_parents(&t.subtasks))
}

#[cfg(test)]
mod tests {
    // Tests state their expectations with unwrap; a failure is the test failing.
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::format::set_task_status;
    use crate::pipeline::{Pipeline, RunOptions};
    use crate::spec::{Spec, TaskStatus};
    use crate::stage::{Executor, Phase, StageContext, StageError, TaskOutcome};
    use crate::workspace::{Policy, Workspace};

    /// The nodes (`id kind path`, document order) and edges (`a -> b`,
    /// sorted) of a list's graph.
    fn shape(list: &TaskList) -> (Vec<String>, Vec<String>) {
        let g = TaskGraph::build(list, TaskOrder::Document).unwrap();
        let nodes = g
            .order
            .iter()
            .map(|n| {
                let t = &g.graph[*n];
                format!("{} {:?} {:?}", t.id, t.kind, t.path)
            })
            .collect();
        let mut edges: Vec<String> = g
            .graph
            .edge_indices()
            .filter_map(|e| g.graph.edge_endpoints(e))
            .map(|(a, b)| format!("{} -> {}", g.graph[a].id, g.graph[b].id))
            .collect();
        edges.sort();
        (nodes, edges)
    }

    #[test]
    fn flat_and_heading_groups_are_parents_like_nested_ones() {
        let nested = "- [ ] 1. Setup\n\n- [ ] 2. Build\n  - [ ] 2.1 First\n\n  - [ ] 2.2 Second\n\n- [ ] 3. Ship\n";
        let expected = shape(&parse_tasks(nested).value);
        assert_eq!(
            expected.0,
            [
                "1 Leaf [0]",
                "2 Parent [1]",
                "2.1 Leaf [1, 0]",
                "2.2 Leaf [1, 1]",
                "3 Leaf [2]"
            ]
        );
        assert_eq!(
            expected.1,
            ["1 -> 2.1", "2.1 -> 2", "2.1 -> 2.2", "2.2 -> 2", "2.2 -> 3"]
        );
        for src in [
            "- [ ] 1. Setup\n\n- [ ] 2. Build\n- [ ] 2.1 First\n\n- [ ] 2.2 Second\n\n- [ ] 3. Ship\n",
            "- [ ] 1. Setup\n\n## 2. Build\n\n- [ ] 2.1 First\n\n- [ ] 2.2 Second\n\n- [ ] 3. Ship\n",
        ] {
            assert_eq!(shape(&parse_tasks(src).value), expected, "{src}");
        }
    }

    #[test]
    fn a_model_built_flat_gets_the_hierarchy_and_paths_of_its_file() {
        // A planner may list sub-tasks beside their parent.
        let task = |id: &str| Task {
            id: Some(TaskId::new(id)),
            title: format!("Task {id}"),
            ..Task::default()
        };
        let list = TaskList {
            tasks: ["1", "2", "2.1", "2.2", "3"].map(task).to_vec(),
            ..TaskList::default()
        };
        let (nodes, _) = shape(&list);
        assert_eq!(
            nodes,
            [
                "1 Leaf [0]",
                "2 Parent [1]",
                "2.1 Leaf [1, 0]",
                "2.2 Leaf [1, 1]",
                "3 Leaf [2]"
            ]
        );
        // The path names the task in the file the engine writes.
        let md = render_tasks(&list);
        let out = set_task_status(&md, &[1, 0], TaskStatus::Done).unwrap();
        assert_eq!(out, md.replace("- [ ] 2.1 ", "- [x] 2.1 "));
    }

    /// Records the ids it is asked to run.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    #[async_trait]
    impl Executor for Recorder {
        async fn execute(
            &self,
            task: &Task,
            _spec: &Spec,
            _cx: &StageContext,
        ) -> std::result::Result<TaskOutcome, StageError> {
            let id = task.id.clone().unwrap_or_default();
            self.0.lock().unwrap().push(id.to_string());
            Ok(TaskOutcome::done(id, "ok"))
        }
    }

    #[tokio::test]
    async fn parents_written_flat_or_as_headings_never_reach_the_executor() {
        let dir = tempfile::tempdir().unwrap();
        let spec_dir = dir.path().join("spec");
        std::fs::create_dir_all(&spec_dir).unwrap();
        let md = "# Plan\n\n- [ ] 1. Build\n- [ ] 1.1 First part\n\n- [ ] 1.2 Second part\n\n## 2. Group (P)\n\n- [ ] 2.1 Client\n\n## [ ] 3. Boxed\n\n- [ ] 3.1 Server\n";
        std::fs::write(spec_dir.join("tasks.md"), md).unwrap();
        let workspace = Workspace::builder()
            .repo("main", dir.path())
            .policy(Policy::permissive())
            .build()
            .unwrap();
        let ran = Recorder::default();
        Pipeline::builder()
            .executor(ran.clone())
            .build()
            .run(RunOptions::new(Arc::new(workspace), &spec_dir).until(Phase::Execute))
            .await
            .unwrap();
        assert_eq!(*ran.0.lock().unwrap(), ["1.1", "1.2", "2.1", "3.1"]);
        // Each parent is done once its sub-tasks are: a checkbox is marked,
        // a heading without one has nothing to mark.
        assert_eq!(
            std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap(),
            md.replace("[ ]", "[x]")
        );
    }
}
