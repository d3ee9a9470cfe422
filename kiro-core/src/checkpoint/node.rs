//! Names of the nodes of a run, as a type.
//!
//! A checkpoint log line and a pipeline event name their node in text
//! (`task 2.1`, `gate design`); [`NodeId`] is that text parsed once, so that
//! the engine, resume, rollback and trace match on variants instead of
//! building and cutting strings. Its [`Display`](fmt::Display) and
//! [`FromStr`] are exact inverses and write exactly the text kiro has
//! always stored, so logs written before these types existed read the same.
//! It lives beside the checkpoints that store it (below the stage contracts,
//! which re-export it as `stage::NodeId`), so the trace reads which task a
//! checkpoint belongs to without a string prefix of its own.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::spec::{Phase, TaskId};

use super::CheckpointId;

/// One node of a run: a phase, a gate, a task, a custom node, or the first
/// checkpoint of a fork or a rollback.
///
/// ```
/// use kiro_core::checkpoint::NodeId;
/// use kiro_core::spec::Phase;
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
    /// An integrator's `Node` (`stage::Node`), by its name (`node lint`).
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
}
