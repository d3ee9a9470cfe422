//! Link resolution over a spec alone: which acceptance criteria a task's
//! `_Requirements:` line, a property's `Validates:` line or any other id
//! list names.
//!
//! This is the one place where a requirement-level id (`6`, meaning every
//! criterion of requirement 6) is expanded, where a task's `All` is read and
//! where the first definition of a duplicated id wins. The trace graph
//! (`trace::TraceGraph`) is built from it, and lint's coverage rule
//! (K0010) reads it directly, because lint sits below the evidence layer and
//! needs nothing but the spec. Verdicts, report matrices and coverage
//! findings all come from the graph, so every consumer agrees on what links
//! what.
//!
//! ```
//! use kiro_core::format::{parse_design, parse_requirements, parse_tasks};
//! use kiro_core::links::SpecLinks;
//! use kiro_core::spec::CriterionId;
//! use kiro_core::Spec;
//!
//! let req = concat!(
//!     "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n",
//!     "#### Acceptance Criteria\n\n1. THE system SHALL log in\n2. THE system SHALL log out\n",
//! );
//! let tasks = "# Implementation Plan\n\n- [ ] 1. Build login\n  - _Requirements: 1_\n";
//! let spec = Spec {
//!     name: "auth".into(),
//!     requirements: Some(parse_requirements(req).value),
//!     tasks: Some(parse_tasks(tasks).value),
//!     ..Spec::default()
//! };
//! let links = SpecLinks::new(&spec);
//! // `1` names both criteria of requirement 1.
//! assert_eq!(links.resolve(&CriterionId::new("1")), [0, 1]);
//! assert_eq!(links.tasks()[0].criteria, [0, 1]);
//! assert_eq!(links.implemented(), [true, true]);
//! ```

use std::collections::HashMap;

use crate::spec::{AcceptanceCriterion, CorrectnessProperty, RequirementId, Spec, Task, TaskId};

/// The links of one correctness property.
#[derive(Clone, Debug)]
pub struct PropertyLinks<'s> {
    /// The property (its first definition when the id repeats).
    pub property: &'s CorrectnessProperty,
    /// Indexes into [`SpecLinks::criteria`] of the criteria it validates,
    /// in the order its `Validates:` line names them, without duplicates.
    pub criteria: Vec<usize>,
}

/// An id a task names that the spec does not define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnknownLink {
    /// A criterion or requirement id of `_Requirements:`, as written.
    Criterion(String),
    /// A property number the task tests.
    Property(String),
}

/// The links of one numbered task.
#[derive(Clone, Debug)]
pub struct TaskLinks<'s> {
    /// The task (its first definition when the id repeats).
    pub task: &'s Task,
    /// Its number.
    pub id: &'s TaskId,
    /// Whether its `_Requirements:` line reads `All` (and names nothing
    /// else): it implements every criterion.
    pub all: bool,
    /// Indexes into [`SpecLinks::criteria`] its `_Requirements:` line
    /// names (every criterion for `All`), in link order, without duplicates.
    pub criteria: Vec<usize>,
    /// Indexes into [`SpecLinks::properties`] of the properties it tests.
    pub properties: Vec<usize>,
    /// Ids it names that the spec does not define. Criterion ids are only
    /// checked when the spec has criteria, property numbers only when it
    /// has a design: against a missing document every link would be unknown.
    pub unknown: Vec<UnknownLink>,
}

/// The resolved links of a spec. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct SpecLinks<'s> {
    criteria: Vec<&'s AcceptanceCriterion>,
    by_id: HashMap<&'s str, usize>,
    by_requirement: HashMap<RequirementId, Vec<usize>>,
    properties: Vec<PropertyLinks<'s>>,
    property_index: HashMap<&'s str, usize>,
    tasks: Vec<TaskLinks<'s>>,
}

impl<'s> SpecLinks<'s> {
    /// Resolves every link of `spec`.
    pub fn new(spec: &'s Spec) -> SpecLinks<'s> {
        let mut links = SpecLinks::default();
        for c in spec.criteria() {
            if links.by_id.contains_key(c.id.as_str()) {
                // A duplicate id (lint K0007) keeps its first definition.
                continue;
            }
            let i = links.criteria.len();
            links.criteria.push(c);
            links.by_id.insert(c.id.as_str(), i);
            links
                .by_requirement
                .entry(c.id.requirement())
                .or_default()
                .push(i);
        }
        for p in spec.design.iter().flat_map(|d| &d.properties) {
            if links.property_index.contains_key(p.id.as_str()) {
                continue;
            }
            // Undefined criteria in a property are lint K0012's business.
            let criteria = links.resolve_all(&p.validates);
            links
                .property_index
                .insert(p.id.as_str(), links.properties.len());
            links.properties.push(PropertyLinks {
                property: p,
                criteria,
            });
        }
        let has_criteria = !links.criteria.is_empty();
        let has_design = spec.design.is_some();
        let mut seen_tasks: HashMap<&str, ()> = HashMap::new();
        for task in spec.tasks.iter().flat_map(|t| t.all_tasks()) {
            let Some(id) = &task.id else {
                continue;
            };
            if seen_tasks.insert(id.as_str(), ()).is_some() {
                continue;
            }
            let all = says_all(task);
            let mut unknown = Vec::new();
            let criteria = if all {
                (0..links.criteria.len()).collect()
            } else {
                let mut out = Vec::new();
                for cid in &task.requirements {
                    let hits = links.resolve(cid);
                    if hits.is_empty() && has_criteria {
                        unknown.push(UnknownLink::Criterion(cid.to_string()));
                    }
                    push_new(&mut out, hits);
                }
                out
            };
            let mut properties = Vec::new();
            for pid in &task.properties {
                match links.property_index.get(pid.as_str()) {
                    Some(&p) => push_new(&mut properties, &[p]),
                    None if has_design => unknown.push(UnknownLink::Property(pid.to_string())),
                    None => {}
                }
            }
            links.tasks.push(TaskLinks {
                task,
                id,
                all,
                criteria,
                properties,
                unknown,
            });
        }
        links
    }

    /// Every criterion of the spec (the first definition of each id), in
    /// document order: requirements' criteria, then bugfix clauses.
    pub fn criteria(&self) -> &[&'s AcceptanceCriterion] {
        &self.criteria
    }

    /// The index of a criterion by its exact id.
    pub fn criterion(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The criteria an id names: one criterion, or for a requirement-level
    /// id (no dot, `6`) every criterion of that requirement, in document
    /// order; empty when the spec defines none.
    pub fn resolve(&self, id: &crate::spec::CriterionId) -> &[usize] {
        if id.is_requirement_level() {
            self.by_requirement
                .get(&id.requirement())
                .map(Vec::as_slice)
                .unwrap_or_default()
        } else {
            self.by_id
                .get(id.as_str())
                .map(std::slice::from_ref)
                .unwrap_or_default()
        }
    }

    /// The criteria a list of ids names, in order, without duplicates.
    pub fn resolve_all(&self, ids: &[crate::spec::CriterionId]) -> Vec<usize> {
        let mut out = Vec::new();
        for id in ids {
            push_new(&mut out, self.resolve(id));
        }
        out
    }

    /// Every correctness property (first definition of each id), in
    /// document order.
    pub fn properties(&self) -> &[PropertyLinks<'s>] {
        &self.properties
    }

    /// The index of a property by its number.
    pub fn property(&self, id: &str) -> Option<usize> {
        self.property_index.get(id).copied()
    }

    /// Every numbered task (first definition of each id), in document order.
    pub fn tasks(&self) -> &[TaskLinks<'s>] {
        &self.tasks
    }

    /// Per criterion (same indexes as [`criteria`](Self::criteria)), whether
    /// a task implements it: by naming it, its requirement or `All`, or by
    /// testing a property that validates it.
    pub fn implemented(&self) -> Vec<bool> {
        let mut out = vec![false; self.criteria.len()];
        let mut mark = |i: usize| {
            if let Some(slot) = out.get_mut(i) {
                *slot = true;
            }
        };
        for t in &self.tasks {
            t.criteria.iter().copied().for_each(&mut mark);
            for &p in &t.properties {
                if let Some(p) = self.properties.get(p) {
                    p.criteria.iter().copied().for_each(&mut mark);
                }
            }
        }
        out
    }
}

/// Whether a task's `_Requirements:` line reads `All` rather than naming ids.
fn says_all(task: &Task) -> bool {
    task.requirements.is_empty()
        && task.requirements_source.as_deref().is_some_and(|s| {
            s.split(|c: char| !c.is_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case("all"))
        })
}

fn push_new(out: &mut Vec<usize>, items: &[usize]) {
    for &i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{parse_design, parse_requirements, parse_tasks};
    use crate::spec::CriterionId;

    const REQ: &str = "# Requirements Document\n\n## Requirements\n\n\
        ### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE App SHALL a\n2. THE App SHALL b\n\n\
        ### Requirement 2: B\n\n#### Acceptance Criteria\n\n1. THE App SHALL c\n";

    fn spec(design: &str, tasks: &str) -> Spec {
        Spec {
            name: "s".into(),
            requirements: Some(parse_requirements(REQ).value),
            design: (!design.is_empty()).then(|| parse_design(design).value),
            tasks: Some(parse_tasks(&format!("# Implementation Plan\n\n{tasks}")).value),
            ..Spec::default()
        }
    }

    /// The criteria (as ids) that `ids` resolve to.
    fn check_resolve(ids: &str, expected: &[&str]) {
        let s = spec("", "");
        let links = SpecLinks::new(&s);
        let ids: Vec<CriterionId> = ids.split(", ").map(CriterionId::new).collect();
        let got: Vec<&str> = links
            .resolve_all(&ids)
            .into_iter()
            .map(|i| links.criteria()[i].id.as_str())
            .collect();
        assert_eq!(got, expected, "{ids:?}");
    }

    #[test]
    fn resolves_criteria_and_whole_requirements_once() {
        check_resolve("1.2", &["1.2"]);
        check_resolve("1", &["1.1", "1.2"]);
        check_resolve("2, 1.1", &["2.1", "1.1"]);
        check_resolve("1.1, 1", &["1.1", "1.2"]);
        check_resolve("9.9", &[]);
        check_resolve("9", &[]);
    }

    /// A task's criteria (ids), whether it reads `All`, and its unknown links.
    fn check_task(
        design: &str,
        tasks: &str,
        criteria: &[&str],
        all: bool,
        unknown: &[UnknownLink],
    ) {
        let s = spec(design, tasks);
        let links = SpecLinks::new(&s);
        let t = &links.tasks()[0];
        let got: Vec<&str> = t
            .criteria
            .iter()
            .map(|&i| links.criteria()[i].id.as_str())
            .collect();
        assert_eq!(got, criteria, "{tasks}");
        assert_eq!(t.all, all, "{tasks}");
        assert_eq!(t.unknown, unknown, "{tasks}");
    }

    #[test]
    fn reads_task_links() {
        let design = "# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n\
                      **Validates: Requirements 2**\n";
        check_task(
            "",
            "- [ ] 1. A\n  - _Requirements: 1.2, 2_\n",
            &["1.2", "2.1"],
            false,
            &[],
        );
        check_task(
            "",
            "- [ ] 1. A\n  - _Requirements: All_\n",
            &["1.1", "1.2", "2.1"],
            true,
            &[],
        );
        check_task(
            "",
            "- [ ] 1. A\n  - _Requirements: 1.1, 7.1, 8_\n",
            &["1.1"],
            false,
            &[
                UnknownLink::Criterion("7.1".into()),
                UnknownLink::Criterion("8".into()),
            ],
        );
        // Property numbers are checked only against a design.
        check_task("", "- [ ] 1. A\n  - **Property 4: Q**\n", &[], false, &[]);
        check_task(
            design,
            "- [ ] 1. A\n  - **Property 4: Q**\n",
            &[],
            false,
            &[UnknownLink::Property("4".into())],
        );
    }

    #[test]
    fn implemented_counts_property_links() {
        let design = "# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n\
                      **Validates: Requirements 2**\n";
        let s = spec(
            design,
            "- [ ] 1. A\n  - **Property 1: P**\n- [ ] 2. B\n  - _Requirements: 1.1_\n",
        );
        let links = SpecLinks::new(&s);
        assert_eq!(links.properties()[0].criteria, [2]);
        assert_eq!(links.tasks()[0].properties, [0]);
        assert_eq!(links.implemented(), [true, false, true]);
    }

    #[test]
    fn a_duplicate_id_keeps_its_first_definition() {
        let s = spec(
            "",
            "- [ ] 1. A\n  - _Requirements: 1.1_\n- [ ] 1. Again\n  - _Requirements: 2.1_\n",
        );
        let links = SpecLinks::new(&s);
        assert_eq!(links.tasks().len(), 1);
        assert_eq!(links.tasks()[0].task.title, "A");
    }
}
