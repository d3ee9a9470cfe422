//! The plan rules: what makes the task plan ambiguous, as a run sees it.
//!
//! Duplicate task ids (K0007), dependencies on missing tasks (K0013),
//! cycles (K0014) and unreadable `_Depends:` values (K0018) are the
//! [`PlanIssue`]s of [`crate::plan::Plan`], the builder of the graph a run
//! executes, so lint reports exactly what `kiro run` refuses: a cycle
//! through a parent and its sub-task, or through document order, included.

use super::{At, Finding, Needle};
use crate::format::{Locator, TaskPath};
use crate::plan::{Plan, PlanIssue};
use crate::spec::{Spec, TaskOrder};
use crate::store::DocKind;

/// A finding per issue of the spec's plan, in document order.
pub(crate) fn findings(spec: &Spec, order: TaskOrder) -> Vec<Finding> {
    let Some(list) = &spec.tasks else {
        return Vec::new();
    };
    let plan = Plan::new(list, order);
    plan.issues()
        .iter()
        .map(|issue| finding(&plan, issue))
        .collect()
}

fn finding(plan: &Plan<'_>, issue: &PlanIssue) -> Finding {
    let site = plan.site(issue);
    let task = TaskPath::from(site.path.as_slice());
    let mut locators = Vec::with_capacity(2);
    if site.depends_line {
        locators.push(Locator::TaskDepends { path: task.clone() });
    }
    locators.push(Locator::Task { path: task });
    Finding {
        code: issue.code(),
        message: plan.message(issue),
        help: Some(plan.help(issue)),
        at: Some(At {
            doc: DocKind::Tasks,
            locators,
            lines: 1,
        }),
        needle: if site.needle_is_id {
            Needle::Id(site.needle)
        } else {
            Needle::Text(site.needle)
        },
    }
}
