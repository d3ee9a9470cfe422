//! The storage behind [`TaskGraph`](super::TaskGraph): nodes, edges and the
//! strongly connected components the cycle check needs.
//!
//! With the `engine` feature the graph is petgraph's `StableDiGraph`, the
//! graph the engine schedules on. Without it (a build that only parses and
//! lints specs) a plain adjacency list does the same job, so that such a
//! build does not pull petgraph in. Both give the same answers in the same
//! order: edges into or out of a node newest first, every edge in the order
//! added. The plan tests run in both builds (CI tests the minimal one).

use super::{Edge, TaskIndex, TaskNode};

#[cfg(feature = "engine")]
pub(super) use with_petgraph::Dag;
#[cfg(not(feature = "engine"))]
pub(super) use without_petgraph::Dag;

#[cfg(feature = "engine")]
mod with_petgraph {
    use petgraph::algo::kosaraju_scc;
    use petgraph::stable_graph::{NodeIndex, StableDiGraph};
    use petgraph::visit::{EdgeRef, IntoEdgeReferences};
    use petgraph::Direction;

    use super::{Edge, TaskIndex, TaskNode};

    fn ix(n: TaskIndex) -> NodeIndex {
        NodeIndex::new(n.index())
    }

    fn task(n: NodeIndex) -> TaskIndex {
        TaskIndex(n.index())
    }

    /// The task DAG as petgraph holds it.
    #[derive(Clone, Debug, Default)]
    pub(in crate::plan) struct Dag(StableDiGraph<TaskNode, Edge>);

    impl Dag {
        pub(in crate::plan) fn add_node(&mut self, node: TaskNode) -> TaskIndex {
            task(self.0.add_node(node))
        }

        pub(in crate::plan) fn add_edge(&mut self, a: TaskIndex, b: TaskIndex, edge: Edge) {
            self.0.add_edge(ix(a), ix(b), edge);
        }

        pub(in crate::plan) fn node(&self, n: TaskIndex) -> &TaskNode {
            &self.0[ix(n)]
        }

        pub(in crate::plan) fn edge(&self, a: TaskIndex, b: TaskIndex) -> Option<Edge> {
            let e = self.0.find_edge(ix(a), ix(b))?;
            self.0.edge_weight(e).copied()
        }

        pub(in crate::plan) fn edges(
            &self,
        ) -> impl Iterator<Item = (TaskIndex, TaskIndex, Edge)> + '_ {
            self.0
                .edge_references()
                .map(|e| (task(e.source()), task(e.target()), *e.weight()))
        }

        pub(in crate::plan) fn incoming(
            &self,
            n: TaskIndex,
        ) -> impl Iterator<Item = (TaskIndex, Edge)> + '_ {
            self.0
                .edges_directed(ix(n), Direction::Incoming)
                .map(|e| (task(e.source()), *e.weight()))
        }

        pub(in crate::plan) fn outgoing(
            &self,
            n: TaskIndex,
        ) -> impl Iterator<Item = (TaskIndex, Edge)> + '_ {
            self.0
                .edges_directed(ix(n), Direction::Outgoing)
                .map(|e| (task(e.target()), *e.weight()))
        }

        /// The strongly connected components, in no particular order.
        pub(in crate::plan) fn components(&self) -> Vec<Vec<TaskIndex>> {
            // Kosaraju's algorithm in petgraph walks with an explicit stack;
            // its Tarjan recurses once per node of a chain, and a plan in
            // document order is one long chain.
            kosaraju_scc(&self.0)
                .into_iter()
                .map(|scc| scc.into_iter().map(task).collect())
                .collect()
        }
    }
}

#[cfg(not(feature = "engine"))]
mod without_petgraph {
    use super::{Edge, TaskIndex, TaskNode};

    /// The task DAG as adjacency lists of edge numbers.
    #[derive(Clone, Debug, Default)]
    pub(in crate::plan) struct Dag {
        nodes: Vec<TaskNode>,
        edges: Vec<(TaskIndex, TaskIndex, Edge)>,
        /// Per node, the edges into it, oldest first.
        incoming: Vec<Vec<usize>>,
        /// Per node, the edges out of it, oldest first.
        outgoing: Vec<Vec<usize>>,
    }

    impl Dag {
        pub(in crate::plan) fn add_node(&mut self, node: TaskNode) -> TaskIndex {
            self.nodes.push(node);
            self.incoming.push(Vec::new());
            self.outgoing.push(Vec::new());
            TaskIndex(self.nodes.len() - 1)
        }

        pub(in crate::plan) fn add_edge(&mut self, a: TaskIndex, b: TaskIndex, edge: Edge) {
            let e = self.edges.len();
            self.edges.push((a, b, edge));
            if let Some(out) = self.outgoing.get_mut(a.index()) {
                out.push(e);
            }
            if let Some(into) = self.incoming.get_mut(b.index()) {
                into.push(e);
            }
        }

        pub(in crate::plan) fn node(&self, n: TaskIndex) -> &TaskNode {
            &self.nodes[n.index()]
        }

        pub(in crate::plan) fn edge(&self, a: TaskIndex, b: TaskIndex) -> Option<Edge> {
            self.outgoing
                .get(a.index())?
                .iter()
                .rev()
                .map(|&e| self.edges[e])
                .find(|&(_, to, _)| to == b)
                .map(|(_, _, edge)| edge)
        }

        pub(in crate::plan) fn edges(
            &self,
        ) -> impl Iterator<Item = (TaskIndex, TaskIndex, Edge)> + '_ {
            self.edges.iter().copied()
        }

        pub(in crate::plan) fn incoming(
            &self,
            n: TaskIndex,
        ) -> impl Iterator<Item = (TaskIndex, Edge)> + '_ {
            self.incoming
                .get(n.index())
                .into_iter()
                .flatten()
                .rev()
                .map(|&e| (self.edges[e].0, self.edges[e].2))
        }

        pub(in crate::plan) fn outgoing(
            &self,
            n: TaskIndex,
        ) -> impl Iterator<Item = (TaskIndex, Edge)> + '_ {
            self.outgoing
                .get(n.index())
                .into_iter()
                .flatten()
                .rev()
                .map(|&e| (self.edges[e].1, self.edges[e].2))
        }

        /// The strongly connected components, in no particular order
        /// (Kosaraju's algorithm with explicit stacks: a plan in document
        /// order is one long chain, too deep to recurse along).
        pub(in crate::plan) fn components(&self) -> Vec<Vec<TaskIndex>> {
            let n = self.nodes.len();
            // First pass: nodes in the order their depth-first walk along
            // outgoing edges finishes.
            let mut finished = Vec::with_capacity(n);
            let mut seen = vec![false; n];
            for root in 0..n {
                if seen[root] {
                    continue;
                }
                seen[root] = true;
                let mut stack = vec![(root, 0usize)];
                while let Some((node, next)) = stack.last_mut() {
                    let out = &self.outgoing[*node];
                    if let Some(&e) = out.get(*next) {
                        *next += 1;
                        let to = self.edges[e].1.index();
                        if !seen[to] {
                            seen[to] = true;
                            stack.push((to, 0));
                        }
                    } else {
                        finished.push(*node);
                        stack.pop();
                    }
                }
            }
            // Second pass: along incoming edges, last finished first; each
            // walk collects one component.
            let mut assigned = vec![false; n];
            let mut components = Vec::new();
            for &root in finished.iter().rev() {
                if assigned[root] {
                    continue;
                }
                assigned[root] = true;
                let mut component = Vec::new();
                let mut stack = vec![root];
                while let Some(node) = stack.pop() {
                    component.push(TaskIndex(node));
                    for &e in &self.incoming[node] {
                        let from = self.edges[e].0.index();
                        if !assigned[from] {
                            assigned[from] = true;
                            stack.push(from);
                        }
                    }
                }
                components.push(component);
            }
            components
        }
    }
}
