//! The task plan: the graph of `tasks.md` that a run executes, and what
//! makes it ambiguous.
//!
//! [`Plan::new`] is the one builder of the task graph. The engine
//! (`pipeline`) runs its [`TaskGraph`], and lint ([`crate::lint`])
//! reports its [`PlanIssue`]s, so that `kiro spec lint` and `kiro run` never
//! disagree about a plan: a cycle lint reports is the cycle `run` refuses,
//! named the same way, and a plan lint finds no plan error in is one `run`
//! accepts. This module sits below both (it needs only the model, the
//! format), so neither imports the other for it.
//!
//! The graph has one node per task and an edge `a -> b` when `b` waits for
//! `a`:
//!
//! - a parent waits for its sub-tasks ([`Edge::SubTask`]): the executor
//!   never runs a task with sub-tasks, whatever its form (indented, flat
//!   `- [ ] 2.` then `- [ ] 2.1`, or a cc-sdd group heading `## 2. Title`),
//!   and it is done when they are;
//! - a task waits for the tasks its `_Depends:` line names, and a sub-task
//!   for those its parents' lines name ([`Edge::Depends`]);
//! - a checkpoint task (`Checkpoint - ...`) waits for every task above it
//!   ([`Edge::Gate`]);
//! - in document order ([`TaskOrder::Document`], the default), a task
//!   without a `_Depends:` line waits for the task before it, or shares its
//!   predecessor's waits when marked `(P)` ([`Edge::Order`]).
//!
//! The plan is ambiguous, and a run refuses it ([`Error::AmbiguousPlan`]),
//! when two tasks share an id (K0007: both would run and count as one),
//! when a `_Depends:` item names no task (K0018) or a task that does not
//! exist (K0013), or when the edges form a cycle (K0014), implicit edges
//! included: a sub-task that depends on its own parent waits for a task
//! that waits for it.
//!
//! ```
//! use kiro_core::spec::TaskOrder;
//! use kiro_core::format::parse_tasks;
//! use kiro_core::plan::Plan;
//!
//! let tasks = parse_tasks("- [ ] 1. A\n- [ ] 2. B\n  - [ ] 2.1 C\n    - _Depends: 2_\n");
//! let plan = Plan::new(&tasks.value, TaskOrder::Document);
//! let problems = plan.problems(Some(&tasks.source_map));
//! assert_eq!(problems[0].code, "K0014");
//! assert_eq!(problems[0].message, "dependency cycle: 2 -> 2.1 -> 2");
//! assert_eq!(problems[0].line, 4);
//! assert!(plan.into_graph(Some(&tasks.source_map)).is_err());
//! ```

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

mod dag;

use dag::Dag;

use crate::error::{Error, Result};
use crate::format::{parse_tasks, render_tasks, Locator, SourceMap, TaskPath};
use crate::spec::{is_numbered_under, Task, TaskId, TaskList, TaskOrder};

pub use crate::error::PlanProblem;

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

/// A task node's place in a [`TaskGraph`]. Indices are dense: a graph of
/// `n` tasks numbers them `0..n` in document order, so [`index`](Self::index)
/// can index a vector of per-task state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskIndex(usize);

impl TaskIndex {
    /// The position of the task in document order, from 0.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Why an edge `a -> b` makes `b` wait for `a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edge {
    /// `b` is the parent of sub-task `a`.
    SubTask,
    /// A `_Depends:` line names `a`: `b`'s own, or that of `written_on`, a
    /// parent of `b` whose dependencies its sub-tasks inherit.
    Depends {
        /// The task whose `_Depends:` line it is.
        written_on: TaskIndex,
    },
    /// `b` is a checkpoint and `a` a task above it.
    Gate,
    /// Document order: `a` is the task before `b` (or, for a `(P)` task,
    /// one its predecessor waits for).
    Order,
}

impl Edge {
    /// Which edge is kept when a task waits for another for several
    /// reasons: the one written in the file first.
    fn rank(self) -> u8 {
        match self {
            Edge::Depends { .. } => 0,
            Edge::SubTask => 1,
            Edge::Gate => 2,
            Edge::Order => 3,
        }
    }
}

/// The task DAG: an edge `a -> b` means `b` waits for `a`.
///
/// Nodes are [`TaskNode`]s, numbered by [`TaskIndex`] in document order
/// (parents before their sub-tasks); index the graph with one
/// (`graph[index]`). The graph library behind it is not part of the API.
#[derive(Clone, Debug, Default)]
pub struct TaskGraph {
    dag: Dag,
    order: Vec<TaskIndex>,
}

impl std::ops::Index<TaskIndex> for TaskGraph {
    type Output = TaskNode;

    fn index(&self, index: TaskIndex) -> &TaskNode {
        self.dag.node(index)
    }
}

impl TaskGraph {
    /// Builds and checks the graph of a task list: [`Plan::new`], then
    /// [`Plan::into_graph`] with lines of `tasks.md` as kiro renders the list.
    ///
    /// [`Error::AmbiguousPlan`] names every problem of the plan (duplicate
    /// ids, unreadable or missing dependencies, cycles). A list built with
    /// sub-tasks beside their parent (`2.1` a sibling after `2`, which a
    /// planner may produce) is arranged as `tasks.md` reads back once it is
    /// written, so that parents are never sent to the executor and node
    /// paths name the tasks of the file.
    pub fn build(list: &TaskList, order: TaskOrder) -> Result<TaskGraph> {
        Plan::new(list, order).into_graph(None)
    }

    /// Number of task nodes.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The nodes in document order (parents before their sub-tasks).
    pub fn order(&self) -> &[TaskIndex] {
        &self.order
    }

    /// The nodes with their indices, in document order.
    pub fn nodes(&self) -> impl Iterator<Item = (TaskIndex, &TaskNode)> + '_ {
        self.order.iter().map(|&n| (n, &self[n]))
    }

    /// Every edge `(a, b, why)`: `b` waits for `a`.
    pub fn edges(&self) -> impl Iterator<Item = (TaskIndex, TaskIndex, Edge)> + '_ {
        self.dag.edges()
    }

    /// The nodes a node waits for.
    pub fn dependencies(&self, n: TaskIndex) -> impl Iterator<Item = TaskIndex> + '_ {
        self.dag.incoming(n).map(|(a, _)| a)
    }

    /// The nodes waiting for a node.
    pub fn dependents(&self, n: TaskIndex) -> impl Iterator<Item = TaskIndex> + '_ {
        self.dag.outgoing(n).map(|(b, _)| b)
    }

    /// The sub-tasks of a parent node (none for a leaf or gate).
    pub fn subtasks(&self, n: TaskIndex) -> impl Iterator<Item = TaskIndex> + '_ {
        self.dag
            .incoming(n)
            .filter(|(_, e)| *e == Edge::SubTask)
            .map(|(a, _)| a)
    }

    /// The strongly connected groups of two or more nodes, each as one
    /// closed path through its first node in document order (a shortest
    /// cycle, following the edges), in document order of those nodes.
    fn cycles(&self) -> Vec<Vec<TaskIndex>> {
        let mut out: Vec<Vec<TaskIndex>> = self
            .dag
            .components()
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .filter_map(|scc| {
                let start = scc.iter().copied().min()?;
                let members: HashSet<TaskIndex> = scc.into_iter().collect();
                Some(self.cycle_through(start, &members))
            })
            .collect();
        out.sort_unstable_by_key(|path| path.first().copied());
        out
    }

    /// A shortest cycle through `start` inside one strongly connected component.
    fn cycle_through(&self, start: TaskIndex, members: &HashSet<TaskIndex>) -> Vec<TaskIndex> {
        let mut prev: HashMap<TaskIndex, TaskIndex> = HashMap::new();
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
                if let Entry::Vacant(e) = prev.entry(next) {
                    e.insert(n);
                    queue.push_back(next);
                }
            }
        }
        vec![start, start]
    }
}

/// One reason a plan is ambiguous, in terms of the plan's graph. Lint turns
/// each into a diagnostic and [`Plan::problems`] into a [`PlanProblem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanIssue {
    /// K0007: `node` has the id of `first`, a task above it.
    DuplicateId {
        /// The later task.
        node: TaskIndex,
        /// The first task with the id.
        first: TaskIndex,
    },
    /// K0018: an item of `node`'s `_Depends:` line names no task.
    UnreadableDepends {
        /// The task with the line.
        node: TaskIndex,
        /// The item as written (`task one`).
        value: String,
    },
    /// K0013: `node`'s `_Depends:` line names a task that does not exist.
    UnknownDependency {
        /// The task with the line.
        node: TaskIndex,
        /// The missing id.
        dependency: TaskId,
    },
    /// K0014: the tasks of `path` wait for each other in a circle.
    Cycle {
        /// A closed path, first and last equal, following the edges (each
        /// task waits for the one before it): `2 -> 2.1 -> 2`.
        path: Vec<TaskIndex>,
        /// The edge between each two neighbours of `path`.
        edges: Vec<Edge>,
    },
}

impl PlanIssue {
    /// The lint rule that reports it.
    pub fn code(&self) -> &'static str {
        match self {
            PlanIssue::DuplicateId { .. } => "K0007",
            PlanIssue::UnknownDependency { .. } => "K0013",
            PlanIssue::Cycle { .. } => "K0014",
            PlanIssue::UnreadableDepends { .. } => "K0018",
        }
    }
}

/// Where in `tasks.md` an issue is shown: a task, its `_Depends:` line or
/// not, and the text to point at on that line (what lint underlines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IssueSite {
    /// The task's path of indices in the task list.
    pub path: Vec<usize>,
    /// Whether the issue is on the task's `_Depends:` line.
    pub depends_line: bool,
    /// The text to point at: an id (`2`), or an unreadable item (`task one`).
    pub needle: String,
    /// Whether `needle` is an id (matched whole) or text.
    pub needle_is_id: bool,
}

/// A task list analysed as a run would execute it: its [`TaskGraph`] and
/// its [`PlanIssue`]s. Building never fails; [`Plan::into_graph`] refuses
/// a plan with issues.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    list: Cow<'a, TaskList>,
    graph: TaskGraph,
    issues: Vec<PlanIssue>,
}

impl<'a> Plan<'a> {
    /// Analyses a task list for a run in `order`.
    ///
    /// A list built with sub-tasks beside their parent is first re-read as
    /// `tasks.md` reads back once written (see [`TaskGraph::build`]).
    pub fn new(list: &'a TaskList, order: TaskOrder) -> Plan<'a> {
        let list = if lists_subtasks_beside_parents(&list.tasks) {
            Cow::Owned(parse_tasks(&render_tasks(list)).value)
        } else {
            Cow::Borrowed(list)
        };
        let mut b = Builder::default();
        for (i, task) in list.tasks.iter().enumerate() {
            b.add(task, vec![i], &[]);
        }
        let Builder {
            mut g,
            by_id,
            pending,
            parents,
            mut issues,
        } = b;

        // Dependencies on tasks that do not exist, reported on the line
        // that names them (not again on each sub-task inheriting them).
        for &node in &g.order {
            for dep in &g[node].task.depends_on {
                if !by_id.contains_key(dep.as_str()) {
                    issues.push(PlanIssue::UnknownDependency {
                        node,
                        dependency: dep.clone(),
                    });
                }
            }
        }

        for (parent, children) in &parents {
            for child in children {
                g.dag.add_edge(*child, *parent, Edge::SubTask);
            }
        }

        // Sequence points: leaves and gates in document order.
        let mut previous: Option<TaskIndex> = None;
        let mut previous_deps: Vec<TaskIndex> = Vec::new();
        let mut done_so_far: Vec<TaskIndex> = Vec::new();
        for Pending {
            node,
            explicit,
            parallel,
        } in pending
        {
            let mut deps: Vec<(TaskIndex, Edge)> = explicit
                .iter()
                .filter_map(|(dep, written_on)| {
                    let d = by_id.get(dep.as_str())?.0;
                    Some((
                        d,
                        Edge::Depends {
                            written_on: *written_on,
                        },
                    ))
                })
                .collect();
            let kind = g[node].kind;
            let own_explicit = !g[node].task.depends_on.is_empty();
            if kind == TaskKind::Gate {
                // A checkpoint waits for everything written before it.
                deps.extend(done_so_far.iter().map(|d| (*d, Edge::Gate)));
            } else if order == TaskOrder::Document && !own_explicit {
                if parallel {
                    deps.extend(previous_deps.iter().map(|d| (*d, Edge::Order)));
                } else {
                    deps.extend(previous.map(|d| (d, Edge::Order)));
                }
            }
            deps.sort_unstable_by_key(|(d, e)| (*d, e.rank()));
            deps.dedup_by_key(|(d, _)| *d);
            for &(d, edge) in &deps {
                if d == node {
                    issues.push(PlanIssue::Cycle {
                        path: vec![node, node],
                        edges: vec![edge],
                    });
                } else {
                    g.dag.add_edge(d, node, edge);
                }
            }
            previous = Some(node);
            previous_deps = deps.into_iter().map(|(d, _)| d).collect();
            done_so_far.push(node);
        }

        for path in g.cycles() {
            let edges = path
                .windows(2)
                .filter_map(|w| g.dag.edge(w[0], w[1]))
                .collect();
            issues.push(PlanIssue::Cycle { path, edges });
        }
        let mut plan = Plan {
            list,
            graph: g,
            issues,
        };
        // Document order of the place each issue is shown, then code.
        let mut keyed: Vec<((usize, &'static str), PlanIssue)> = std::mem::take(&mut plan.issues)
            .into_iter()
            .map(|i| ((plan.site_node(&i).index(), i.code()), i))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        plan.issues = keyed.into_iter().map(|(_, i)| i).collect();
        plan
    }

    /// The graph, cycles and all: what a run would execute once the issues
    /// are fixed.
    pub fn graph(&self) -> &TaskGraph {
        &self.graph
    }

    /// What makes the plan ambiguous, in document order; empty when a run
    /// can execute it.
    pub fn issues(&self) -> &[PlanIssue] {
        &self.issues
    }

    /// The graph, or [`Error::AmbiguousPlan`] naming every issue with its
    /// line (see [`Plan::problems`]).
    pub fn into_graph(self, lines: Option<&SourceMap>) -> Result<TaskGraph> {
        if self.issues.is_empty() {
            return Ok(self.graph);
        }
        Err(Error::AmbiguousPlan {
            problems: self.problems(lines),
        })
    }

    /// Each issue as the run's error names it: code, task, line, message.
    ///
    /// Lines come from `lines`, the source map of the `tasks.md` the list
    /// was parsed from; without it (or when the list had to be re-read),
    /// from `tasks.md` as kiro renders the list, which is the file itself
    /// whenever kiro wrote it or it is in the canonical form.
    pub fn problems(&self, lines: Option<&SourceMap>) -> Vec<PlanProblem> {
        if self.issues.is_empty() {
            return Vec::new();
        }
        let rendered;
        let map = match (lines, &self.list) {
            (Some(map), Cow::Borrowed(_)) => map,
            _ => {
                rendered = parse_tasks(&render_tasks(&self.list)).source_map;
                &rendered
            }
        };
        self.issues
            .iter()
            .map(|issue| {
                let site = self.site(issue);
                let task = TaskPath::from(site.path.as_slice());
                let depends = Locator::TaskDepends { path: task.clone() };
                let line = site
                    .depends_line
                    .then(|| map.get(&depends))
                    .flatten()
                    .or_else(|| map.get(&Locator::Task { path: task }))
                    .map_or(0, |p| p.line);
                let about = match issue {
                    PlanIssue::Cycle { path, .. } => path.first().copied(),
                    _ => Some(self.site_node(issue)),
                };
                PlanProblem {
                    code: issue.code(),
                    task: about.map_or_else(String::new, |n| self.graph[n].id.to_string()),
                    line,
                    message: self.message(issue),
                }
            })
            .collect()
    }

    /// What is wrong, lower-case: lint's message.
    pub fn message(&self, issue: &PlanIssue) -> String {
        match issue {
            PlanIssue::DuplicateId { node, .. } => {
                format!("duplicate task id \"{}\"", self.id(*node))
            }
            PlanIssue::UnreadableDepends { node, value } => {
                format!(
                    "{} depends on \"{value}\", which names no task",
                    self.name(*node)
                )
            }
            PlanIssue::UnknownDependency { node, dependency } => format!(
                "{} depends on task {dependency}, which does not exist",
                self.name(*node)
            ),
            PlanIssue::Cycle { path, .. } => {
                let ids: Vec<&str> = path.iter().map(|n| self.id(*n)).collect();
                format!("dependency cycle: {}", ids.join(" -> "))
            }
        }
    }

    /// How to fix it: lint's help. For a cycle through edges that no
    /// `_Depends:` line of the task itself states, it says why each task
    /// waits for the one before it.
    pub fn help(&self, issue: &PlanIssue) -> String {
        match issue {
            PlanIssue::DuplicateId { .. } => "task ids must be unique: renumber one of them".into(),
            PlanIssue::UnreadableDepends { .. } => {
                "write the ids of the tasks it waits for: one (`1.2`) or a list (`1, 2.3`)".into()
            }
            PlanIssue::UnknownDependency { .. } => {
                "fix the `_Depends:` link or add the task".into()
            }
            PlanIssue::Cycle { path, edges } => {
                let fix = "remove one `_Depends:` link of the cycle";
                let own = path
                    .windows(2)
                    .zip(edges)
                    .all(|(w, e)| *e == Edge::Depends { written_on: w[1] });
                if own {
                    return fix.into();
                }
                let why: Vec<String> = path
                    .windows(2)
                    .zip(edges)
                    .map(|(w, e)| self.why(w[0], w[1], *e))
                    .collect();
                let declared = if edges.contains(&Edge::Order) {
                    " (or set `order = \"declared\"` under `[pipeline]` in .kiro/config.toml)"
                } else {
                    ""
                };
                format!("{}: {fix}{declared}", why.join(", "))
            }
        }
    }

    /// Where the issue is shown in `tasks.md`.
    ///
    /// A cycle is shown on the `_Depends:` line of one of its edges (there
    /// is always one: implicit edges alone never close a cycle), pointing
    /// at the id it names.
    pub(crate) fn site(&self, issue: &PlanIssue) -> IssueSite {
        let node = self.site_node(issue);
        let path = self.graph[node].path.clone();
        match issue {
            PlanIssue::DuplicateId { node, .. } => IssueSite {
                path,
                depends_line: false,
                needle: self.id(*node).to_owned(),
                needle_is_id: true,
            },
            PlanIssue::UnreadableDepends { value, .. } => IssueSite {
                path,
                depends_line: true,
                needle: value.clone(),
                needle_is_id: false,
            },
            PlanIssue::UnknownDependency { dependency, .. } => IssueSite {
                path,
                depends_line: true,
                needle: dependency.to_string(),
                needle_is_id: true,
            },
            PlanIssue::Cycle { path: cycle, edges } => {
                let named = depends_edge(cycle, edges)
                    .map_or_else(|| cycle.get(1).copied().unwrap_or(node), |(from, _)| from);
                IssueSite {
                    path,
                    depends_line: true,
                    needle: self.id(named).to_owned(),
                    needle_is_id: true,
                }
            }
        }
    }

    /// The node whose task the issue is shown on.
    fn site_node(&self, issue: &PlanIssue) -> TaskIndex {
        match issue {
            PlanIssue::DuplicateId { node, .. }
            | PlanIssue::UnreadableDepends { node, .. }
            | PlanIssue::UnknownDependency { node, .. } => *node,
            PlanIssue::Cycle { path, edges } => match depends_edge(path, edges) {
                Some((_, written_on)) => written_on,
                None => path.first().copied().unwrap_or_default(),
            },
        }
    }

    fn id(&self, n: TaskIndex) -> &str {
        self.graph[n].id.as_str()
    }

    /// `task 2.1`, or `task "Title"` for a task without an id.
    fn name(&self, n: TaskIndex) -> String {
        let node = &self.graph[n];
        match &node.task.id {
            Some(id) => format!("task {id}"),
            None => format!(
                "task \"{}\"",
                node.task
                    .title
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }

    /// Why `b` waits for `a`.
    fn why(&self, a: TaskIndex, b: TaskIndex, edge: Edge) -> String {
        let (a_id, b_id) = (self.id(a), self.id(b));
        match edge {
            Edge::Depends { written_on } if written_on == b => {
                format!("{b_id} depends on {a_id}")
            }
            Edge::Depends { written_on } => format!(
                "{b_id} inherits the dependency of {} on {a_id}",
                self.id(written_on)
            ),
            Edge::SubTask => format!("{b_id} waits for its sub-task {a_id}"),
            Edge::Gate => format!("checkpoint {b_id} waits for {a_id} above it"),
            Edge::Order => format!("{b_id} follows {a_id} in document order"),
        }
    }
}

/// The `_Depends:` edge of a cycle to show it on: (the task it names, the
/// task whose line it is). The last one along the path, so that a cycle of
/// `_Depends:` lines alone is shown on its first task's line, naming the
/// task that one waits for.
fn depends_edge(path: &[TaskIndex], edges: &[Edge]) -> Option<(TaskIndex, TaskIndex)> {
    path.windows(2).zip(edges).rev().find_map(|(w, e)| match e {
        Edge::Depends { written_on } => Some((w[0], *written_on)),
        _ => None,
    })
}

/// A leaf or gate waiting for its edges.
struct Pending {
    node: TaskIndex,
    /// Ids from `_Depends:` lines, its own and its parents', each with the
    /// node whose line names it.
    explicit: Vec<(TaskId, TaskIndex)>,
    /// cc-sdd's `(P)`.
    parallel: bool,
}

/// One pass over the task tree: nodes in document order, their ids, the
/// dependencies to resolve once every id is known, and the issues found
/// on the way.
#[derive(Default)]
struct Builder {
    g: TaskGraph,
    /// Id -> (node, whether the id is written rather than a position).
    by_id: HashMap<String, (TaskIndex, bool)>,
    /// Leaves and gates, whose dependencies are resolved once every id is known.
    pending: Vec<Pending>,
    parents: Vec<(TaskIndex, Vec<TaskIndex>)>,
    issues: Vec<PlanIssue>,
}

impl Builder {
    fn add(
        &mut self,
        task: &Task,
        path: Vec<usize>,
        inherited: &[(TaskId, TaskIndex)],
    ) -> TaskIndex {
        let written = task.id.is_some();
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
        let node = self.g.dag.add_node(TaskNode {
            id: id.clone(),
            path: path.clone(),
            kind,
            task: without_subtasks(task),
        });
        self.g.order.push(node);
        // A written id wins over a position that happens to read the same
        // (`3`, the third task, unnumbered), so `_Depends: 3` names task 3.
        match self.by_id.entry(id.as_str().to_owned()) {
            Entry::Vacant(e) => {
                e.insert((node, written));
            }
            Entry::Occupied(mut e) => match (e.get().1, written) {
                (true, true) => self.issues.push(PlanIssue::DuplicateId {
                    node,
                    first: e.get().0,
                }),
                (false, true) => {
                    e.insert((node, true));
                }
                (_, false) => {}
            },
        }
        for value in &task.unreadable_depends {
            self.issues.push(PlanIssue::UnreadableDepends {
                node,
                value: value.clone(),
            });
        }

        let mut explicit: Vec<(TaskId, TaskIndex)> = inherited.to_vec();
        explicit.extend(task.depends_on.iter().map(|d| (d.clone(), node)));
        if kind == TaskKind::Parent {
            let mut children = Vec::with_capacity(task.subtasks.len());
            for (i, sub) in task.subtasks.iter().enumerate() {
                let mut p = path.clone();
                p.push(i);
                children.push(self.add(sub, p, &explicit));
            }
            self.parents.push((node, children));
        } else {
            self.pending.push(Pending {
                node,
                explicit,
                parallel: task.parallel,
            });
        }
        node
    }
}

/// A copy of a task without its sub-tasks (each node holds its own task;
/// cloning the whole subtree for every parent would copy a deep plan many
/// times). Every field is named, so a new one cannot be forgotten.
fn without_subtasks(task: &Task) -> Task {
    let Task {
        id,
        title,
        details,
        requirements,
        requirements_source,
        properties,
        optional,
        parallel,
        status,
        depends_on,
        depends_source,
        unreadable_depends,
        subtasks: _,
        before,
        form,
        boundary,
        repos,
    } = task;
    Task {
        id: id.clone(),
        title: title.clone(),
        details: details.clone(),
        requirements: requirements.clone(),
        requirements_source: requirements_source.clone(),
        properties: properties.clone(),
        optional: *optional,
        parallel: *parallel,
        status: *status,
        depends_on: depends_on.clone(),
        depends_source: depends_source.clone(),
        unreadable_depends: unreadable_depends.clone(),
        subtasks: Vec::new(),
        before: before.clone(),
        form: *form,
        boundary: boundary.clone(),
        repos: repos.clone(),
    }
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

    use super::*;

    /// The problems of a `tasks.md` in `order`, one line each: `code line
    /// task: message`, lines from the file's own source map.
    fn problems(md: &str, order: TaskOrder) -> Vec<String> {
        let parsed = parse_tasks(md);
        Plan::new(&parsed.value, order)
            .problems(Some(&parsed.source_map))
            .iter()
            .map(|p| format!("{} {} {}: {}", p.code, p.line, p.task, p.message))
            .collect()
    }

    #[track_caller]
    fn check(md: &str, order: TaskOrder, expected: &[&str]) {
        assert_eq!(problems(md, order), expected, "{md}");
    }

    use TaskOrder::{Declared, Document};

    #[test]
    fn issues_are_those_of_the_graph_a_run_executes() {
        check("- [ ] 1. A\n- [ ] 2. B\n  - _Depends: 1_\n", Document, &[]);
        check(
            "- [ ] 1. A\n  - _Depends: 1_\n",
            Document,
            &["K0014 2 1: dependency cycle: 1 -> 1"],
        );
        // The sub-tasks inherit their parent's dependency on one of them.
        check(
            "- [ ] 1. A\n  - _Depends: 1.1_\n  - [ ] 1.1 B\n",
            Document,
            &["K0014 2 1.1: dependency cycle: 1.1 -> 1.1"],
        );
        // A sub-task waiting for its parent, which waits for it.
        check(
            "- [ ] 1. A\n  - [ ] 1.1 B\n    - _Depends: 1_\n",
            Declared,
            &["K0014 3 1: dependency cycle: 1 -> 1.1 -> 1"],
        );
        // In document order task 2 waits for task 1, the task before it.
        let forward = "- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n";
        check(
            forward,
            Document,
            &["K0014 2 1: dependency cycle: 1 -> 2 -> 1"],
        );
        check(forward, Declared, &[]);
        // A checkpoint waits for every task above it.
        check(
            "- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. Checkpoint - all tests pass\n",
            Declared,
            &["K0014 2 1: dependency cycle: 1 -> 2 -> 1"],
        );
        // A missing dependency is reported on the line naming it, once.
        check(
            "- [ ] 1. A\n  - _Depends: 9_\n  - [ ] 1.1 B\n  - [ ] 1.2 C\n",
            Document,
            &["K0013 2 1: task 1 depends on task 9, which does not exist"],
        );
        // Every cycle, in document order.
        check(
            "- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n  - _Depends: 1_\n- [ ] 3. C\n  - _Depends: 4_\n- [ ] 4. D\n  - _Depends: 3_\n",
            Declared,
            &[
                "K0014 2 1: dependency cycle: 1 -> 2 -> 1",
                "K0014 6 3: dependency cycle: 3 -> 4 -> 3",
            ],
        );
        check(
            "- [ ] 1. A\n  - _Depends: one, 2_\n- [ ] 1. B\n- [ ] 2. C\n",
            Declared,
            &[
                "K0018 2 1: task 1 depends on \"one\", which names no task",
                "K0007 3 1: duplicate task id \"1\"",
            ],
        );
    }

    #[test]
    fn help_says_why_each_task_of_a_cycle_waits() {
        let help = |md: &str, order| {
            let list = parse_tasks(md).value;
            let plan = Plan::new(&list, order);
            plan.help(&plan.issues()[0])
        };
        assert_eq!(
            help(
                "- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n  - _Depends: 1_\n",
                Declared
            ),
            "remove one `_Depends:` link of the cycle"
        );
        assert_eq!(
            help("- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n", Document),
            "2 follows 1 in document order, 1 depends on 2: remove one `_Depends:` link of \
             the cycle (or set `order = \"declared\"` under `[pipeline]` in .kiro/config.toml)"
        );
        assert_eq!(
            help("- [ ] 1. A\n  - [ ] 1.1 B\n    - _Depends: 1_\n", Declared),
            "1.1 depends on 1, 1 waits for its sub-task 1.1: remove one `_Depends:` link of the cycle"
        );
        assert_eq!(
            help("- [ ] 1. A\n  - _Depends: 1.1_\n  - [ ] 1.1 B\n", Declared),
            "1.1 inherits the dependency of 1 on 1.1: remove one `_Depends:` link of the cycle"
        );
        assert_eq!(
            help(
                "- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. Checkpoint - review\n",
                Declared
            ),
            "checkpoint 2 waits for 1 above it, 1 depends on 2: remove one `_Depends:` link of the cycle"
        );
    }

    #[test]
    fn a_written_id_wins_over_a_position_that_reads_the_same() {
        // The unnumbered first task is `1` by position; `_Depends: 1` names
        // the task numbered 1, and neither is a duplicate of the other.
        let list = parse_tasks("- [ ] Setup\n- [ ] 1. A\n- [ ] 2. B\n  - _Depends: 1_\n").value;
        let plan = Plan::new(&list, Declared);
        assert_eq!(plan.issues(), []);
        let g = plan.graph();
        let two = g.order[2];
        let waits: Vec<&str> = g
            .dependencies(two)
            .map(|d| g[d].task.title.as_str())
            .collect();
        assert_eq!(waits, ["A"]);
    }

    #[test]
    fn lines_come_from_the_file_when_its_source_map_is_given() {
        // Not canonical (no blank line after the title): rendered, the
        // duplicate would be on line 5.
        let md = "# Plan\n- [ ] 1. A\n- [ ] 1. B\n";
        let parsed = parse_tasks(md);
        let plan = Plan::new(&parsed.value, Document);
        assert_eq!(plan.problems(Some(&parsed.source_map))[0].line, 3);
        assert_eq!(plan.problems(None)[0].line, 5);
        match plan.into_graph(Some(&parsed.source_map)) {
            Err(Error::AmbiguousPlan { problems }) => assert_eq!(
                problems[0].to_string(),
                "tasks.md:3: K0007 duplicate task id \"1\""
            ),
            other => panic!("expected an ambiguous plan, got {other:?}"),
        }
    }

    #[test]
    fn long_chains_do_not_overflow_the_stack() {
        // In document order a plan is one chain; a recursive strongly
        // connected components search would go one frame per task.
        let n = 50_000;
        let task = |i: usize| Task {
            id: Some(TaskId::new(i.to_string())),
            title: "t".into(),
            ..Task::default()
        };
        let mut list = TaskList {
            tasks: (1..=n).map(task).collect(),
            ..TaskList::default()
        };
        assert_eq!(Plan::new(&list, Document).issues(), []);
        list.tasks[0].depends_on.push(TaskId::new(n.to_string()));
        let plan = Plan::new(&list, Document);
        match plan.issues() {
            [PlanIssue::Cycle { path, .. }] => assert_eq!(path.len(), n + 1),
            other => panic!("expected one cycle, got {} issues", other.len()),
        }
    }
}
