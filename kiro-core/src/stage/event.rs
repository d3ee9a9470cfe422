//! Progress events a run streams while it works.
//!
//! They live with the stage contracts, below the engine, because stages
//! send them too (through [`EventSink`](super::EventSink)); the engine
//! re-exports them as `pipeline::PipelineEvent`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Approval, Gate, Phase};
use crate::checkpoint::CheckpointRef;

/// How a node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// It did its work.
    Done,
    /// It failed (after its retries).
    Failed,
    /// It did not run: a dependency failed, it is optional, its document
    /// already existed, or it was done in an earlier run.
    Skipped,
}

/// One thing that happened in a run, in the order it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PipelineEvent {
    /// The run began (or resumed).
    RunStarted {
        /// The run's id.
        run_id: String,
        /// The spec's name.
        spec: String,
        /// Whether it continues an earlier run.
        resumed: bool,
    },
    /// The task graph was built: how many nodes will run.
    GraphBuilt {
        /// Task nodes, including parents and gates.
        tasks: usize,
        /// Of them, how many are already done or skipped before starting.
        settled: usize,
    },
    /// A node started an attempt.
    NodeStarted {
        /// The node (`design`, `task 2.1`).
        node: String,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A node's attempt failed and will be retried.
    NodeRetrying {
        /// The node.
        node: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// A node ended.
    NodeFinished {
        /// The node.
        node: String,
        /// How.
        status: NodeStatus,
        /// One line: the outcome summary, the error, or why it was skipped.
        summary: String,
        /// Wall time in milliseconds.
        duration_ms: u64,
    },
    /// A phase was used as it was on disk instead of being regenerated.
    PhaseReused {
        /// The phase.
        phase: Phase,
    },
    /// A gate was decided.
    GateDecided {
        /// The gate.
        gate: Gate,
        /// The decision.
        approval: Approval,
    },
    /// A checkpoint was stored.
    CheckpointWritten {
        /// Where.
        checkpoint: CheckpointRef,
        /// After which node.
        node: String,
    },
    /// Tasks settled so far out of all task nodes.
    Progress {
        /// Done, failed or skipped.
        settled: usize,
        /// All task nodes.
        total: usize,
    },
    /// A stage's own message.
    Message {
        /// The node that sent it.
        node: String,
        /// The text.
        text: String,
    },
}
