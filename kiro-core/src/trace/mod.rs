//! The trace graph: requirement → acceptance criterion → correctness
//! property → task → files the task changed, and criterion/property → test
//! → test result.
//!
//! [`TraceGraph::build`] joins a spec, the annotations found in test source
//! ([`crate::verify::annotations`]), the results of a test run and the
//! files each task changed ([`task_files_from_checkpoints`]). Queries answer
//! "which tasks implement this criterion", "which tests check it", "which
//! files did this task touch" and "which criteria does this test cover".
//!
//! The graph is the only place where links are resolved: the links within
//! the spec come from [`crate::links::SpecLinks`] (requirement-level ids
//! expanded there, once), tests and results are joined here. Everything
//! that talks about links reads the graph: [`build_report`] (the verdicts),
//! [`coverage`] (the gaps, as findings) and the report matrices
//! (`report::Matrix::build`, `report::Matrix::from_graph`).
//! Within the evidence layer the order is `verify` (annotations, results,
//! report types) → `trace` (resolution, verdicts, coverage) → `report`
//! (rendering); no module imports one to its right.
//!
//! The edges point from the spec towards the evidence:
//!
//! | From | To | Why |
//! |---|---|---|
//! | requirement | criterion | the criterion belongs to the requirement |
//! | criterion | property | the property validates the criterion |
//! | criterion | task | the task's `_Requirements:` names the criterion, its requirement, or `All` |
//! | property | task | the task tests the property |
//! | task | file | a checkpoint of node `task <id>` changed the file |
//! | criterion | test | an annotation names the criterion, or a property that validates it |
//! | property | test | a `Feature: <spec>, Property N` annotation |
//! | test | result | the runner's result for the test, matched by name |
//!
//! ```
//! use std::collections::BTreeMap;
//! use kiro_core::format::{parse_requirements, parse_tasks};
//! use kiro_core::spec::{CriterionId, TaskId};
//! use kiro_core::trace::TraceGraph;
//! use kiro_core::verify::annotations::scan_file;
//! use kiro_core::Spec;
//!
//! let req = concat!(
//!     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n",
//!     "#### Acceptance Criteria\n\n1. THE system SHALL log in\n2. THE system SHALL log out\n",
//! );
//! let tasks = "# Implementation Plan\n\n- [ ] 1. Build login\n  - _Requirements: 1.1_\n";
//! let spec = Spec {
//!     name: "auth".into(),
//!     requirements: Some(parse_requirements(req).value),
//!     tasks: Some(parse_tasks(tasks).value),
//!     ..Spec::default()
//! };
//! let anns = scan_file("tests/auth.rs", "// Validates: Requirements 1.1\n#[test]\nfn login_works() {}\n");
//! let graph = TraceGraph::build(&spec, &anns, &[], &BTreeMap::new());
//! let c = CriterionId::new("1.1");
//! assert_eq!(graph.tasks_of(&c), [&TaskId::new("1")]);
//! assert_eq!(graph.tests_of(&c)[0].name.as_deref(), Some("login_works"));
//! assert!(graph.tests_of(&CriterionId::new("1.2")).is_empty());
//! ```

pub mod coverage;
pub(crate) mod results;
mod verdict;

use std::collections::{BTreeMap, HashMap, HashSet};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{ancestry, Checkpoint, CheckpointStore, FileKey, NodeId, RunId, RunLogs};
use crate::error::Result;
use crate::links::{SpecLinks, UnknownLink};
use crate::spec::{CriterionId, EarsPattern, PropertyId, RequirementId, Spec, TaskId};
use crate::verify::annotations::{Annotation, AnnotationKind, Scope, TestDeclKind};
use crate::verify::{CriterionStatus, TestResult, TestStatus};

pub use coverage::{Coverage, Finding, FindingKind, LinkLock, Location, Severity};
pub use verdict::{build_report, with_property_results};

/// Where a test sits: its file (relative to the scanned root, `/`
/// separators) and the 1-based line of its declaration, or of its first
/// annotation when no declaration follows it.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct TestKey {
    /// The source file.
    pub file: String,
    /// The 1-based line.
    pub line: u32,
}

/// An annotated test, as a node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceTest {
    /// Where it is.
    pub key: TestKey,
    /// The declared name (function name or `it`/`describe` title); `None`
    /// when no declaration follows the annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How it is declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TestDeclKind>,
}

impl TraceTest {
    /// The test's identity in a [`LinkLock`]: `file#name` for a named test,
    /// so that edits above it which move its line keep the lock valid, and
    /// `file:line` otherwise.
    pub fn lock_key(&self) -> String {
        match &self.name {
            Some(name) => format!("{}#{}", self.key.file, name),
            None => format!("{}:{}", self.key.file, self.key.line),
        }
    }
}

/// A node of the trace graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "node", rename_all = "snake_case")]
pub(crate) enum TraceNode {
    /// A requirement (or a bugfix behaviour group's number).
    Requirement {
        /// Its number.
        id: RequirementId,
        /// Its title; for a bugfix spec, the group heading.
        title: String,
    },
    /// An acceptance criterion (or bugfix clause).
    Criterion {
        /// Its id, `1.2`.
        id: CriterionId,
        /// Its text.
        text: String,
        /// Its EARS pattern, when it follows one.
        pattern: Option<EarsPattern>,
    },
    /// A correctness property of the design.
    Property {
        /// Its number.
        id: PropertyId,
        /// Its title.
        title: String,
    },
    /// A numbered task.
    Task {
        /// Its number.
        id: TaskId,
        /// Its title.
        title: String,
    },
    /// A workspace file a task changed.
    File {
        /// The repository name and the path in it.
        key: FileKey,
    },
    /// An annotated test.
    Test(TraceTest),
    /// A test result of the run.
    Result(TestResult),
}

/// An edge of the trace graph; see the table in the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TraceEdge {
    /// Requirement → criterion.
    HasCriterion,
    /// Criterion → property that validates it.
    ValidatedBy,
    /// Criterion → task, or property → task.
    ImplementedBy,
    /// Task → file.
    Changed,
    /// Criterion → test or property → test. `via` names the property when
    /// a criterion is linked only through a property annotation.
    TestedBy {
        /// The property the link goes through, if not direct.
        via: Option<PropertyId>,
    },
    /// Test → result.
    Produced,
}

/// What refers to an id the spec does not define.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Referrer {
    /// A test annotation at a file and line.
    Test {
        /// The source file.
        file: String,
        /// The 1-based line of the annotation.
        line: u32,
    },
    /// A task's `_Requirements:` line or `Property N` detail.
    Task {
        /// The task.
        task: TaskId,
    },
}

/// A reference to a criterion, requirement or property that the spec does
/// not define.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnknownRef {
    /// Who refers to it.
    pub referrer: Referrer,
    /// The id as written (`7.3`, `7`, or a property number).
    pub id: String,
    /// Whether `id` is a property number rather than a criterion id.
    pub property: bool,
}

/// The trace graph of one spec. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct TraceGraph {
    spec: String,
    graph: DiGraph<TraceNode, TraceEdge>,
    criteria: HashMap<CriterionId, NodeIndex>,
    /// Criteria in document order.
    criteria_order: Vec<NodeIndex>,
    properties: HashMap<PropertyId, NodeIndex>,
    properties_order: Vec<NodeIndex>,
    tasks: HashMap<TaskId, NodeIndex>,
    /// Tasks whose `_Requirements:` reads `All`.
    all_tasks: HashSet<NodeIndex>,
    requirements: HashMap<RequirementId, NodeIndex>,
    tests: HashMap<TestKey, NodeIndex>,
    unknown: Vec<UnknownRef>,
    unattributed: Vec<Annotation>,
}

/// The graph under construction. Criteria, properties and tasks come
/// resolved from [`SpecLinks`]; the tables map its indexes to nodes.
struct Builder {
    g: TraceGraph,
    /// Node of each criterion, by [`SpecLinks::criteria`] index.
    criterion_nodes: Vec<NodeIndex>,
    /// Node of each property, by [`SpecLinks::properties`] index.
    property_nodes: Vec<NodeIndex>,
    files: HashMap<FileKey, NodeIndex>,
    edges: HashMap<(NodeIndex, NodeIndex), EdgeIndex>,
}

impl Builder {
    fn edge(&mut self, from: NodeIndex, to: NodeIndex, weight: TraceEdge) {
        if let Some(&e) = self.edges.get(&(from, to)) {
            // A direct link wins over one through a property.
            if weight == (TraceEdge::TestedBy { via: None }) {
                if let Some(w) = self.g.graph.edge_weight_mut(e) {
                    *w = weight;
                }
            }
            return;
        }
        let e = self.g.graph.add_edge(from, to, weight);
        self.edges.insert((from, to), e);
    }

    /// The nodes of criteria, by [`SpecLinks`] indexes.
    fn criterion_nodes(&self, indexes: &[usize]) -> Vec<NodeIndex> {
        indexes
            .iter()
            .filter_map(|&i| self.criterion_nodes.get(i).copied())
            .collect()
    }
}

impl TraceGraph {
    /// Builds the graph of `spec`.
    ///
    /// `annotations` may come from a scan of a whole workspace: those tied
    /// to another spec by a `Feature: <other>, ...` annotation on the same
    /// test are left out, and so are those that belong to no spec.
    /// `results` are matched to annotated tests by name (a function name as
    /// a segment of the runner's name, an `it` title as its suffix, a suite
    /// title as whole words; results from the test's own file preferred). `task_files` maps task ids to the files their
    /// checkpoints changed ([`task_files_from_checkpoints`]); tasks the spec
    /// does not define are ignored. References to criteria, requirements
    /// or properties the spec does not define are kept in
    /// [`unknown_refs`](Self::unknown_refs), and the annotations that
    /// belong to no spec in [`unattributed`](Self::unattributed).
    pub fn build(
        spec: &Spec,
        annotations: &[Annotation],
        results: &[TestResult],
        task_files: &BTreeMap<TaskId, Vec<FileKey>>,
    ) -> TraceGraph {
        let links = SpecLinks::new(spec);
        let mut b = Builder {
            g: TraceGraph {
                spec: spec.name.clone(),
                ..TraceGraph::default()
            },
            criterion_nodes: Vec::new(),
            property_nodes: Vec::new(),
            files: HashMap::new(),
            edges: HashMap::new(),
        };
        add_criteria(&mut b, spec, &links);
        add_properties(&mut b, &links);
        add_tasks(&mut b, &links);
        for (task, files) in task_files {
            let Some(&t) = b.g.tasks.get(task) else {
                continue;
            };
            for key in files {
                let f = match b.files.get(key) {
                    Some(&f) => f,
                    None => {
                        let f = b.g.graph.add_node(TraceNode::File { key: key.clone() });
                        b.files.insert(key.clone(), f);
                        f
                    }
                };
                b.edge(t, f, TraceEdge::Changed);
            }
        }
        add_tests(&mut b, spec, &links, annotations);
        add_results(&mut b, results);
        b.g.unattributed = annotations
            .iter()
            .filter(|a| a.scope == Scope::Unattributed)
            .cloned()
            .collect();
        b.g
    }

    /// The spec's name.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// References to ids the spec does not define, in the order found
    /// (tasks first, then tests).
    pub fn unknown_refs(&self) -> &[UnknownRef] {
        &self.unknown
    }

    /// The annotations of the workspace that belong to no spec: no
    /// `Feature:` line scopes them and the workspace has several specs
    /// ([`Scope::Unattributed`]). They link nothing in any spec's graph.
    pub fn unattributed(&self) -> &[Annotation] {
        &self.unattributed
    }

    /// Whether the spec defines a criterion.
    pub fn has_criterion(&self, id: &CriterionId) -> bool {
        self.criteria.contains_key(id)
    }

    /// The node of a criterion.
    fn criterion(&self, id: &CriterionId) -> Option<NodeIndex> {
        self.criteria.get(id).copied()
    }

    /// Every criterion, in document order, with its text.
    pub fn criteria(&self) -> impl Iterator<Item = (&CriterionId, &str)> + '_ {
        self.criteria_order
            .iter()
            .filter_map(|&n| match self.graph.node_weight(n) {
                Some(TraceNode::Criterion { id, text, .. }) => Some((id, text.as_str())),
                _ => None,
            })
    }

    /// The EARS pattern of a criterion, when its text follows one.
    pub fn pattern_of(&self, criterion: &CriterionId) -> Option<EarsPattern> {
        match self
            .criterion(criterion)
            .and_then(|c| self.graph.node_weight(c))
        {
            Some(TraceNode::Criterion { pattern, .. }) => *pattern,
            _ => None,
        }
    }

    /// Every correctness property, in document order.
    pub fn properties(&self) -> impl Iterator<Item = &PropertyId> + '_ {
        self.properties_order
            .iter()
            .filter_map(|&n| match self.graph.node_weight(n) {
                Some(TraceNode::Property { id, .. }) => Some(id),
                _ => None,
            })
    }

    /// Every annotated test of the spec, in the order found.
    pub fn tests(&self) -> impl Iterator<Item = &TraceTest> + '_ {
        self.graph.node_weights().filter_map(|w| match w {
            TraceNode::Test(t) => Some(t),
            _ => None,
        })
    }

    /// Tasks that implement a criterion: those linking it (or its whole
    /// requirement, or `All`) and those testing a property that validates
    /// it, without duplicates, in link order.
    pub fn tasks_of(&self, criterion: &CriterionId) -> Vec<&TaskId> {
        let Some(c) = self.criterion(criterion) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut push = |n: NodeIndex| {
            if let Some(TraceNode::Task { id, .. }) = self.graph.node_weight(n) {
                if seen.insert(n) {
                    out.push(id);
                }
            }
        };
        for n in self.targets(c, |e| matches!(e, TraceEdge::ImplementedBy)) {
            push(n);
        }
        for p in self.targets(c, |e| matches!(e, TraceEdge::ValidatedBy)) {
            for n in self.targets(p, |e| matches!(e, TraceEdge::ImplementedBy)) {
                push(n);
            }
        }
        out
    }

    /// Tasks whose `_Requirements:` line names a criterion or its whole
    /// requirement, in document order: [`tasks_of`](Self::tasks_of)
    /// without the tasks that read `All` and those linked only through a
    /// property. The verification matrix lists these.
    pub fn linking_tasks_of(&self, criterion: &CriterionId) -> Vec<&TaskId> {
        let Some(c) = self.criterion(criterion) else {
            return Vec::new();
        };
        self.targets(c, |e| matches!(e, TraceEdge::ImplementedBy))
            .into_iter()
            .filter(|n| !self.all_tasks.contains(n))
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(TraceNode::Task { id, .. }) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// The title of a requirement (for a bugfix spec, of the behaviour
    /// group its clauses belong to); `None` when the spec has no criterion
    /// of it.
    pub fn requirement_title(&self, id: &RequirementId) -> Option<&str> {
        match self
            .requirements
            .get(id)
            .and_then(|&r| self.graph.node_weight(r))
        {
            Some(TraceNode::Requirement { title, .. }) => Some(title),
            _ => None,
        }
    }

    /// How a test's results ended: failed or errored if any did, else
    /// passed if any did, else skipped; `None` without a result.
    pub fn test_status_of(&self, test: &TestKey) -> Option<TestStatus> {
        self.tests.get(test).and_then(|&t| self.test_status(t))
    }

    /// Properties that validate a criterion.
    pub fn properties_of(&self, criterion: &CriterionId) -> Vec<&PropertyId> {
        let Some(c) = self.criterion(criterion) else {
            return Vec::new();
        };
        self.targets(c, |e| matches!(e, TraceEdge::ValidatedBy))
            .into_iter()
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(TraceNode::Property { id, .. }) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Tests that check a criterion, directly or through a property.
    pub fn tests_of(&self, criterion: &CriterionId) -> Vec<&TraceTest> {
        self.criterion(criterion)
            .map(|c| self.tests_of_node(c))
            .unwrap_or_default()
    }

    /// Tests linked to a criterion, each with the property the link goes
    /// through when it is not direct.
    pub fn test_links(&self, criterion: &CriterionId) -> Vec<(&TraceTest, Option<&PropertyId>)> {
        let Some(c) = self.criterion(criterion) else {
            return Vec::new();
        };
        let mut out: Vec<(&TraceTest, Option<&PropertyId>)> = self
            .graph
            .edges_directed(c, Direction::Outgoing)
            .filter_map(|e| match (e.weight(), self.graph.node_weight(e.target())) {
                (TraceEdge::TestedBy { via }, Some(TraceNode::Test(t))) => Some((t, via.as_ref())),
                _ => None,
            })
            .collect();
        // petgraph lists the newest edge first; links read best in the
        // order they were found.
        out.reverse();
        out
    }

    /// Tests that check a correctness property.
    pub fn tests_of_property(&self, property: &PropertyId) -> Vec<&TraceTest> {
        self.properties
            .get(property)
            .map(|&p| self.tests_of_node(p))
            .unwrap_or_default()
    }

    /// Files a task changed.
    pub fn files_of(&self, task: &TaskId) -> Vec<&FileKey> {
        let Some(&t) = self.tasks.get(task) else {
            return Vec::new();
        };
        self.targets(t, |e| matches!(e, TraceEdge::Changed))
            .into_iter()
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(TraceNode::File { key }) => Some(key),
                _ => None,
            })
            .collect()
    }

    /// Criteria a test checks, directly or through a property.
    pub fn criteria_of_test(&self, test: &TestKey) -> Vec<&CriterionId> {
        let Some(&t) = self.tests.get(test) else {
            return Vec::new();
        };
        let mut nodes: Vec<NodeIndex> = self
            .graph
            .edges_directed(t, Direction::Incoming)
            .map(|e| e.source())
            .collect();
        // Criteria were added in document order, so their indices sort so.
        nodes.sort_unstable();
        nodes
            .into_iter()
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(TraceNode::Criterion { id, .. }) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Results of a test.
    pub fn results_of(&self, test: &TestKey) -> Vec<&TestResult> {
        self.tests
            .get(test)
            .map(|&t| self.results_of_node(t))
            .unwrap_or_default()
    }

    /// The verdict on a criterion from the results in the graph: `Failed`
    /// when a linked test failed or errored, `Passed` when one passed and
    /// none failed, `Untested` otherwise.
    pub fn status_of(&self, criterion: &CriterionId) -> CriterionStatus {
        let mut status = CriterionStatus::Untested;
        for t in self
            .criterion(criterion)
            .map(|c| self.test_nodes(c))
            .unwrap_or_default()
        {
            match self.test_status(t) {
                Some(TestStatus::Failed | TestStatus::Errored) => return CriterionStatus::Failed,
                Some(TestStatus::Passed) => status = CriterionStatus::Passed,
                _ => {}
            }
        }
        status
    }

    /// Targets of the outgoing edges of `n` that pass `keep`, in insertion order.
    fn targets(&self, n: NodeIndex, keep: impl Fn(&TraceEdge) -> bool) -> Vec<NodeIndex> {
        let mut out: Vec<NodeIndex> = self
            .graph
            .edges_directed(n, Direction::Outgoing)
            .filter(|e| keep(e.weight()))
            .map(|e| e.target())
            .collect();
        out.reverse();
        out
    }

    fn test_nodes(&self, n: NodeIndex) -> Vec<NodeIndex> {
        self.targets(n, |e| matches!(e, TraceEdge::TestedBy { .. }))
    }

    fn tests_of_node(&self, n: NodeIndex) -> Vec<&TraceTest> {
        self.test_nodes(n)
            .into_iter()
            .filter_map(|t| match self.graph.node_weight(t) {
                Some(TraceNode::Test(t)) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn results_of_node(&self, t: NodeIndex) -> Vec<&TestResult> {
        self.targets(t, |e| matches!(e, TraceEdge::Produced))
            .into_iter()
            .filter_map(|r| match self.graph.node_weight(r) {
                Some(TraceNode::Result(r)) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The worst outcome among a test's results.
    fn test_status(&self, t: NodeIndex) -> Option<TestStatus> {
        let rank = |s: TestStatus| match s {
            TestStatus::Failed | TestStatus::Errored => 3,
            TestStatus::Passed => 2,
            TestStatus::Skipped => 1,
        };
        self.results_of_node(t)
            .into_iter()
            .map(|r| r.status)
            .max_by_key(|&s| rank(s))
    }

    /// The node weight of a test, by key.
    pub fn test(&self, key: &TestKey) -> Option<&TraceTest> {
        match self.tests.get(key).and_then(|&n| self.graph.node_weight(n)) {
            Some(TraceNode::Test(t)) => Some(t),
            _ => None,
        }
    }
}

fn add_criteria(b: &mut Builder, spec: &Spec, links: &SpecLinks<'_>) {
    let mut titles: HashMap<RequirementId, String> = HashMap::new();
    if let Some(doc) = &spec.requirements {
        for r in &doc.requirements {
            titles
                .entry(r.id.clone())
                .or_insert_with(|| r.title.clone());
        }
    }
    if let Some(doc) = &spec.bugfix {
        for g in &doc.groups {
            for c in &g.clauses {
                titles
                    .entry(c.id.requirement())
                    .or_insert_with(|| g.title.clone());
            }
        }
    }
    let mut requirements: HashMap<RequirementId, NodeIndex> = HashMap::new();
    for c in links.criteria() {
        let req_id = c.id.requirement();
        let r = match requirements.get(&req_id) {
            Some(&r) => r,
            None => {
                let r = b.g.graph.add_node(TraceNode::Requirement {
                    id: req_id.clone(),
                    title: titles.get(&req_id).cloned().unwrap_or_default(),
                });
                requirements.insert(req_id.clone(), r);
                b.g.requirements.insert(req_id, r);
                r
            }
        };
        let n = b.g.graph.add_node(TraceNode::Criterion {
            id: c.id.clone(),
            text: c.text.clone(),
            pattern: c.ears.as_ref().map(|e| e.pattern),
        });
        b.g.criteria.insert(c.id.clone(), n);
        b.g.criteria_order.push(n);
        b.criterion_nodes.push(n);
        b.edge(r, n, TraceEdge::HasCriterion);
    }
}

fn add_properties(b: &mut Builder, links: &SpecLinks<'_>) {
    for p in links.properties() {
        let n = b.g.graph.add_node(TraceNode::Property {
            id: p.property.id.clone(),
            title: p.property.title.clone(),
        });
        b.g.properties.insert(p.property.id.clone(), n);
        b.g.properties_order.push(n);
        b.property_nodes.push(n);
        for c in b.criterion_nodes(&p.criteria) {
            b.edge(c, n, TraceEdge::ValidatedBy);
        }
    }
}

fn add_tasks(b: &mut Builder, links: &SpecLinks<'_>) {
    for task in links.tasks() {
        let t = b.g.graph.add_node(TraceNode::Task {
            id: task.id.clone(),
            title: task.task.title.clone(),
        });
        b.g.tasks.insert(task.id.clone(), t);
        if task.all {
            b.g.all_tasks.insert(t);
        }
        for c in b.criterion_nodes(&task.criteria) {
            b.edge(c, t, TraceEdge::ImplementedBy);
        }
        for &p in &task.properties {
            if let Some(&p) = b.property_nodes.get(p) {
                b.edge(p, t, TraceEdge::ImplementedBy);
            }
        }
        for u in &task.unknown {
            let (id, property) = match u {
                UnknownLink::Criterion(id) => (id.clone(), false),
                UnknownLink::Property(id) => (id.clone(), true),
            };
            b.g.unknown.push(UnknownRef {
                referrer: Referrer::Task {
                    task: task.id.clone(),
                },
                id,
                property,
            });
        }
    }
}

fn add_tests(b: &mut Builder, spec: &Spec, links: &SpecLinks<'_>, annotations: &[Annotation]) {
    let own = crate::verify::own_annotations(spec, annotations);
    // Annotations on no test (a file header, a module docstring) that share
    // a comment block are one test, keyed by the first of them; without
    // block information, those on consecutive lines are.
    let loose: HashSet<(&str, u32)> = own
        .iter()
        .filter(|a| a.test.is_none() && a.block_line == 0)
        .map(|a| (a.file.as_str(), a.line))
        .collect();
    let mut block_first: HashMap<(&str, u32), u32> = HashMap::new();
    for a in own.iter().filter(|a| a.test.is_none() && a.block_line > 0) {
        block_first
            .entry((a.file.as_str(), a.block_line))
            .and_modify(|l| *l = (*l).min(a.line))
            .or_insert(a.line);
    }
    let has_criteria = !links.criteria().is_empty();
    let has_design = spec.design.is_some();
    for ann in own {
        let (key, name, kind) = match &ann.test {
            Some(t) => (
                TestKey {
                    file: ann.file.clone(),
                    line: t.line,
                },
                Some(t.name.clone()),
                Some(t.kind),
            ),
            None => {
                let mut line = ann.line;
                if let Some(&first) = block_first.get(&(ann.file.as_str(), ann.block_line)) {
                    line = first;
                }
                while line > 1 && loose.contains(&(ann.file.as_str(), line - 1)) {
                    line -= 1;
                }
                let key = TestKey {
                    file: ann.file.clone(),
                    line,
                };
                (key, None, None)
            }
        };
        let t = match b.g.tests.get(&key) {
            Some(&t) => t,
            None => {
                let t = b.g.graph.add_node(TraceNode::Test(TraceTest {
                    key: key.clone(),
                    name,
                    kind,
                }));
                b.g.tests.insert(key, t);
                t
            }
        };
        let referrer = || Referrer::Test {
            file: ann.file.clone(),
            line: ann.line,
        };
        match ann.kind {
            AnnotationKind::Validates | AnnotationKind::Requirements => {
                for cid in &ann.criteria {
                    let hits = b.criterion_nodes(links.resolve(cid));
                    if hits.is_empty() && has_criteria {
                        b.g.unknown.push(UnknownRef {
                            referrer: referrer(),
                            id: cid.to_string(),
                            property: false,
                        });
                    }
                    for c in hits {
                        b.edge(c, t, TraceEdge::TestedBy { via: None });
                    }
                }
            }
            AnnotationKind::Property => {
                let Some(pid) = &ann.property else {
                    continue;
                };
                let Some((p, validated)) = links
                    .property(pid.as_str())
                    .and_then(|i| Some((*b.property_nodes.get(i)?, links.properties().get(i)?)))
                else {
                    if has_design {
                        b.g.unknown.push(UnknownRef {
                            referrer: referrer(),
                            id: pid.to_string(),
                            property: true,
                        });
                    }
                    continue;
                };
                b.edge(p, t, TraceEdge::TestedBy { via: None });
                let criteria = b.criterion_nodes(&validated.criteria);
                for c in criteria {
                    b.edge(
                        c,
                        t,
                        TraceEdge::TestedBy {
                            via: Some(pid.clone()),
                        },
                    );
                }
            }
        }
    }
}

fn add_results(b: &mut Builder, results: &[TestResult]) {
    if results.is_empty() {
        return;
    }
    let index = results::ResultIndex::new(results);
    let tests: Vec<(NodeIndex, String, TestDeclKind, String)> =
        b.g.graph
            .node_indices()
            .filter_map(|n| match b.g.graph.node_weight(n) {
                Some(TraceNode::Test(TraceTest {
                    key,
                    name: Some(name),
                    kind: Some(kind),
                })) => Some((n, name.clone(), *kind, key.file.clone())),
                _ => None,
            })
            .collect();
    let mut nodes: HashMap<usize, NodeIndex> = HashMap::new();
    for (t, name, kind, file) in tests {
        for i in index.matches(&name, kind, &file) {
            let r = match nodes.get(&i) {
                Some(&r) => r,
                None => {
                    let Some(result) = results.get(i) else {
                        continue;
                    };
                    let r = b.g.graph.add_node(TraceNode::Result(result.clone()));
                    nodes.insert(i, r);
                    r
                }
            };
            b.edge(t, r, TraceEdge::Produced);
        }
    }
}

/// The files each task changed in a run, from its checkpoints.
///
/// Follows the parent chain back from the run's latest checkpoint, across
/// into the parent run of a fork, so that rolled-back branches do not count
/// and a fork inherits what its origin did. Checkpoints of nodes named
/// `task <id>` contribute their file changes; each file is listed once per
/// task, in the order first changed. A run without checkpoints gives an
/// empty map.
///
/// # Errors
/// [`Error::RunNotFound`](crate::Error::RunNotFound) for an unknown run, other store errors as the
/// store reports them, and [`Error::CheckpointNotFound`](crate::Error::CheckpointNotFound) when a parent link
/// names a checkpoint that does not exist.
pub fn task_files_from_checkpoints(
    store: &dyn CheckpointStore,
    run: &RunId,
) -> Result<BTreeMap<TaskId, Vec<FileKey>>> {
    let mut out: BTreeMap<TaskId, Vec<FileKey>> = BTreeMap::new();
    let own = store.list(run)?;
    let Some(latest) = own.last().map(Checkpoint::reference) else {
        return Ok(out);
    };
    // The run's own log, already read, is not read again for the chain.
    let mut known = RunLogs::new();
    known.insert(
        run.clone(),
        own.into_iter().map(|c| (c.id.clone(), c)).collect(),
    );
    let chain = ancestry(store, &latest, known)?;
    let mut seen: HashSet<(TaskId, FileKey)> = HashSet::new();
    for cp in chain.iter().rev() {
        let Ok(NodeId::Task(task)) = cp.node.parse::<NodeId>() else {
            continue;
        };
        for change in &cp.files {
            let key: FileKey = (change.repo.clone(), change.path.clone());
            if seen.insert((task.clone(), key.clone())) {
                out.entry(task.clone()).or_default().push(key);
            }
        }
    }
    Ok(out)
}
