//! Why a node was skipped, as a type (the node itself is a
//! [`NodeId`](crate::checkpoint::NodeId)).

use std::fmt;

use crate::spec::TaskId;

/// Why a task node did not run.
///
/// Its [`Display`](fmt::Display) is the summary a
/// [`PipelineEvent::NodeFinished`](super::PipelineEvent::NodeFinished) and a
/// skipped [`TaskOutcome`](super::TaskOutcome) carry, as before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// An optional task (`- [ ]*`) in a run that leaves them out, or a
    /// parent none of whose sub-tasks ran. Not recorded, so a later run
    /// with optional tasks runs it.
    Optional,
    /// A task it waits for failed.
    DependencyFailed(TaskId),
    /// A task it waits for was itself skipped for a failure.
    DependencySkipped(TaskId),
}

impl SkipReason {
    /// Whether the skip is kept as an outcome of the run: a skip caused by
    /// a failure is, an optional task is not (so it stays `[ ]` and out of
    /// the summary).
    pub fn is_recorded(&self) -> bool {
        !matches!(self, SkipReason::Optional)
    }

    /// Whether the tasks that wait for this one are skipped too.
    pub fn blocks_dependents(&self) -> bool {
        matches!(
            self,
            SkipReason::DependencyFailed(_) | SkipReason::DependencySkipped(_)
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Optional => f.write_str("optional"),
            SkipReason::DependencyFailed(id) => write!(f, "dependency {id} failed"),
            SkipReason::DependencySkipped(id) => write!(f, "dependency {id} was skipped"),
        }
    }
}

#[cfg(test)]
mod tests {
    // Tests state their expectations with unwrap; a failure is the test failing.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn skip_reasons_keep_their_summaries() {
        let id = TaskId::new("3");
        let cases = [
            (SkipReason::Optional, "optional", false, false),
            (
                SkipReason::DependencyFailed(id.clone()),
                "dependency 3 failed",
                true,
                true,
            ),
            (
                SkipReason::DependencySkipped(id),
                "dependency 3 was skipped",
                true,
                true,
            ),
        ];
        for (reason, text, recorded, blocks) in cases {
            assert_eq!(reason.to_string(), text);
            assert_eq!(reason.is_recorded(), recorded, "{text}");
            assert_eq!(reason.blocks_dependents(), blocks, "{text}");
        }
    }
}
