//! The running node's token total: what LLM-backed stages report through
//! [`StageContext::record_usage`](super::StageContext::record_usage) and the
//! engine keeps per phase and per task in the run's checkpoints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Artifacts;
use crate::config::ModelPrice;
use crate::spec::TokenUsage;

/// The running node's usage total, shared by the clones of its context.
#[derive(Clone, Debug, Default)]
pub(crate) struct UsageCell(Arc<Mutex<TokenUsage>>);

impl UsageCell {
    pub(crate) fn add(&self, usage: TokenUsage) {
        // A panic elsewhere while holding this lock left a plain number
        // behind: still a valid total.
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += usage;
    }

    pub(crate) fn get(&self) -> TokenUsage {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a run spent on models, per phase and per task, with a cost
/// estimate when the model's price is known: printed at the end of
/// `kiro run` and part of `kiro status --format json`.
///
/// ```
/// use std::collections::BTreeMap;
/// use kiro_core::config::ModelPrice;
/// use kiro_core::stage::{Artifacts, RunUsage, TokenUsage};
///
/// let mut artifacts = Artifacts::default();
/// artifacts.usage.insert("design".into(), TokenUsage { input_tokens: 900_000, output_tokens: 100_000, requests: 3 });
/// let prices = BTreeMap::from([("m".to_owned(), ModelPrice { input: 1.0, output: 5.0 })]);
/// let usage = RunUsage::of(&artifacts).priced(Some("m"), &prices);
/// assert_eq!(usage.total.total_tokens(), 1_000_000);
/// assert_eq!(usage.cost_usd, Some(1.4));
/// assert_eq!(RunUsage::of(&artifacts).priced(Some("other"), &prices).cost_usd, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunUsage {
    /// By phase or custom node name (`requirements`, `design`, `tasks`).
    pub phases: BTreeMap<String, TokenUsage>,
    /// By task id, over all of the task's attempts.
    pub tasks: BTreeMap<String, TokenUsage>,
    /// Everything together.
    pub total: TokenUsage,
    /// The model the estimate priced, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The estimated cost in US dollars, rounded to a hundredth of a cent;
    /// `None` when `[llm.prices]` has no row for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl RunUsage {
    /// The usage the artifacts hold, not priced.
    pub fn of(artifacts: &Artifacts) -> RunUsage {
        let tasks: BTreeMap<String, TokenUsage> = artifacts
            .outcomes
            .iter()
            .filter_map(|(id, o)| o.usage.map(|u| (id.clone(), u)))
            .collect();
        RunUsage {
            phases: artifacts.usage.clone(),
            total: artifacts.total_usage(),
            tasks,
            model: None,
            cost_usd: None,
        }
    }

    /// Whether the run spent nothing on a model (it used deterministic
    /// stages only).
    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    /// This usage priced as `model` by `prices` (`[llm.prices]`).
    #[must_use]
    pub fn priced(
        mut self,
        model: Option<&str>,
        prices: &BTreeMap<String, ModelPrice>,
    ) -> RunUsage {
        self.model = model.map(str::to_owned);
        self.cost_usd = model
            .and_then(|m| prices.get(m))
            .map(|price| (price.cost(&self.total) * 10_000.0).round() / 10_000.0);
        self
    }
}
