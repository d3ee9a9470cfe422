//! [`GateName`]: the gates governance decides, by the name `.kiro/policy.toml`
//! and `kiro approve` use. It lives beside [`Gate`](super::Gate) (the
//! engine's gate) so that audit payloads and the governance module both
//! reach it from below.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::Phase;

/// A gate governance decides, as `policy.toml` and `kiro approve` name it.
///
/// `requirements`, `design` and `tasks` are the gates after those phases;
/// `execution` is checked at the tasks gate too (before the first task
/// runs) and at every Kiro "Checkpoint" task; `merge` is checked before the
/// run's branches are merged.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    /// After the requirements phase.
    Requirements,
    /// After the design phase.
    Design,
    /// After the tasks phase.
    Tasks,
    /// Before the first task, and at each checkpoint task.
    Execution,
    /// Before the run's work is merged.
    Merge,
}

impl GateName {
    /// Every gate, in pipeline order.
    pub const ALL: [GateName; 5] = [
        GateName::Requirements,
        GateName::Design,
        GateName::Tasks,
        GateName::Execution,
        GateName::Merge,
    ];

    /// The name `policy.toml` and `kiro approve` use.
    pub fn as_str(self) -> &'static str {
        match self {
            GateName::Requirements => "requirements",
            GateName::Design => "design",
            GateName::Tasks => "tasks",
            GateName::Execution => "execution",
            GateName::Merge => "merge",
        }
    }

    /// The gate after a document phase; `None` for execute and verify.
    pub fn of_phase(phase: Phase) -> Option<GateName> {
        match phase {
            Phase::Requirements => Some(GateName::Requirements),
            Phase::Design => Some(GateName::Design),
            Phase::Tasks => Some(GateName::Tasks),
            _ => None,
        }
    }
}

impl fmt::Display for GateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GateName {
    type Err = Error;

    fn from_str(s: &str) -> Result<GateName> {
        GateName::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| Error::UnknownGate { name: s.to_owned() })
    }
}
