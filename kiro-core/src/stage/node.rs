//! Names of the nodes of a run and why a node was skipped, as types.
//!
//! A checkpoint log line and a [`PipelineEvent`](super::PipelineEvent)
//! name their node in text (`task 2.1`, `gate design`); [`NodeId`] is that
//! text parsed once, so that the engine, resume, rollback and trace match on
//! variants instead of building and cutting strings. Its [`Display`] and
//! [`FromStr`] are exact inverses and write exactly the text kiro has always
//! stored, so logs written before these types existed read the same.

use std::fmt;
use std::str::FromStr;

use crate::checkpoint::CheckpointId;
use crate::error::{Error, Result};
use crate::spec::TaskId;

use super::Phase;

/// One node of a run: a phase, a gate, a task, a custom node, or the first
/// checkpoint of a fork or a rollback.
///
/// ```
/// use kiro_core::stage::{NodeId, Phase};
/// use kiro_core::spec::TaskId;
///
/// let node: NodeId = "task 2.1".parse()?;
/// assert_eq!(node, NodeId::Task(TaskId::new("2.1")));
/// assert_eq!(NodeId::Gate(Phase::Design).to_string(), "gate design");
/// # Ok::<(), kiro_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeId {
    /// The requirements phase (`requirements`).
    Requirements,
    /// The design phase (`design`).
    Design,
    /// The tasks phase (`tasks`).
    Tasks,
    /// The approval gate after a phase (`gate design`).
    Gate(Phase),
    /// One task of the plan, or its checkpoint gate (`task 2.1`).
    Task(TaskId),
    /// Verification (`verify`).
    Verify,
    /// An integrator's [`Node`](super::Node), by its name (`node lint`).
    Custom(String),
    /// The first checkpoint of a forked run (`fork`).
    Fork,
    /// The checkpoint a rollback writes (`rollback to c000004`).
    RollbackTo(CheckpointId),
}

impl NodeId {
    /// The node of a document phase or of verification; `None` for
    /// [`Phase::Execute`], whose nodes are its tasks.
    pub fn phase(phase: Phase) -> Option<NodeId> {
        match phase {
            Phase::Requirements => Some(NodeId::Requirements),
            Phase::Design => Some(NodeId::Design),
            Phase::Tasks => Some(NodeId::Tasks),
            Phase::Execute => None,
            Phase::Verify => Some(NodeId::Verify),
        }
    }

    /// The task this node runs, for [`NodeId::Task`].
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            NodeId::Task(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Requirements => f.write_str(Phase::Requirements.as_str()),
            NodeId::Design => f.write_str(Phase::Design.as_str()),
            NodeId::Tasks => f.write_str(Phase::Tasks.as_str()),
            NodeId::Verify => f.write_str(Phase::Verify.as_str()),
            NodeId::Gate(phase) => write!(f, "gate {phase}"),
            NodeId::Task(id) => write!(f, "task {id}"),
            NodeId::Custom(name) => write!(f, "node {name}"),
            NodeId::Fork => f.write_str("fork"),
            NodeId::RollbackTo(id) => write!(f, "rollback to {id}"),
        }
    }
}

impl FromStr for NodeId {
    type Err = Error;

    /// Reads the text [`Display`](fmt::Display) writes, exactly (case and
    /// single spaces included); anything else is [`Error::UnknownNode`].
    fn from_str(text: &str) -> Result<NodeId> {
        let unknown = || Error::UnknownNode {
            node: text.to_owned(),
        };
        let phase = |name: &str| {
            Phase::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
                .ok_or_else(unknown)
        };
        match text {
            "requirements" => return Ok(NodeId::Requirements),
            "design" => return Ok(NodeId::Design),
            "tasks" => return Ok(NodeId::Tasks),
            "verify" => return Ok(NodeId::Verify),
            "fork" => return Ok(NodeId::Fork),
            _ => {}
        }
        if let Some(rest) = text.strip_prefix("gate ") {
            return phase(rest).map(NodeId::Gate);
        }
        if let Some(id) = text.strip_prefix("task ").filter(|id| !id.is_empty()) {
            return Ok(NodeId::Task(TaskId::new(id)));
        }
        if let Some(name) = text.strip_prefix("node ").filter(|n| !n.is_empty()) {
            return Ok(NodeId::Custom(name.to_owned()));
        }
        if let Some(id) = text.strip_prefix("rollback to ") {
            return CheckpointId::new(id)
                .map(NodeId::RollbackTo)
                .map_err(|_| unknown());
        }
        Err(unknown())
    }
}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        other.parse::<NodeId>().is_ok_and(|o| o == *self)
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

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
    fn node_ids_read_and_write_the_text_in_checkpoint_logs() {
        let cases = [
            ("requirements", NodeId::Requirements),
            ("design", NodeId::Design),
            ("tasks", NodeId::Tasks),
            ("verify", NodeId::Verify),
            ("gate requirements", NodeId::Gate(Phase::Requirements)),
            ("gate tasks", NodeId::Gate(Phase::Tasks)),
            ("task 2.1", NodeId::Task(TaskId::new("2.1"))),
            ("task 16A.2", NodeId::Task(TaskId::new("16A.2"))),
            ("node lint docs", NodeId::Custom("lint docs".into())),
            ("fork", NodeId::Fork),
            (
                "rollback to c000004",
                NodeId::RollbackTo(CheckpointId::from_seq(4)),
            ),
        ];
        for (text, node) in cases {
            assert_eq!(text.parse::<NodeId>().unwrap(), node, "{text}");
            assert_eq!(node.to_string(), text);
            assert!(node == text);
        }
    }

    #[test]
    fn other_text_is_no_node() {
        for text in [
            "",
            "task ",
            "node ",
            "Design",
            "gate execute-ish",
            "gate",
            "rollback",
            "rollback to ../x",
            "execute",
        ] {
            assert!(
                matches!(text.parse::<NodeId>(), Err(Error::UnknownNode { ref node }) if node == text),
                "{text:?}"
            );
        }
    }

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
