//! What a property run found: [`PropertyReport`].
//!
//! Plain data (serde), so the CLI prints it as JSON and `kiro verify` /
//! `kiro trace` read verdicts from it; [`std::fmt::Display`] renders it for
//! people.

use std::fmt;

use kiro_core::spec::{CriterionId, PropertyId, PropertyKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The result of checking one property.
///
/// ```
/// use kiro_proptest::property::Property;
/// use kiro_proptest::runner::Runner;
/// use kiro_proptest::target::from_fn;
/// use kiro_core::spec::PropertyKind;
/// use serde_json::json;
///
/// let property = Property::builder("1", PropertyKind::NoError)
///     .ops(["halve"])
///     .input(json!({"type": "integer", "minimum": 0, "maximum": 100}))
///     .validates(["2.1"])
///     .build()?;
/// // A seeded bug: refuses numbers over 50.
/// let halve = from_fn(|_op: &str, x: &serde_json::Value| {
///     let n = x.as_i64().unwrap_or(0);
///     if n <= 50 { Ok(json!(n / 2)) } else { Err(format!("{n} is too large")) }
/// });
/// let report = Runner::new().seed(7).check(&property, &halve);
/// let failure = report.counterexample().ok_or("expected a failure")?;
/// assert_eq!(failure.input, json!(51)); // shrunk to the smallest failing input
/// assert_eq!(report.validates[0].as_str(), "2.1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PropertyReport {
    /// The spec the property belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// The property number.
    pub property: PropertyId,
    /// Its title.
    pub title: String,
    /// Its kind.
    pub kind: PropertyKind,
    /// The criteria it validates: failed by a failure, supported by a pass.
    pub validates: Vec<CriterionId>,
    /// The seed of the generated cases; the same seed generates the same
    /// cases.
    pub seed: u64,
    /// Stored counterexamples replayed before generating.
    pub replayed: u32,
    /// Generated cases run (including the failing one, not shrink steps).
    pub cases: u32,
    /// Cases run while shrinking the failure.
    pub shrink_steps: u32,
    /// The verdict.
    pub outcome: Outcome,
    /// Problems that did not stop the run (an unreadable regressions file,
    /// a failure that could not be stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A property's verdict.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Outcome {
    /// Every case held.
    Passed,
    /// A case broke the property; the counterexample is the smallest
    /// failing input shrinking found.
    Failed(Box<Counterexample>),
    /// The property could not be checked (its schema cannot be generated
    /// from, no invalid input could be found, no target); no verdict on
    /// the criteria.
    Aborted {
        /// Why.
        reason: String,
    },
}

/// A failing case: the input, what each call answered and why that breaks
/// the property.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// The generated input (after shrinking).
    pub input: Value,
    /// The calls made, in order, with their answers.
    pub calls: Vec<Call>,
    /// Why the answers break the property.
    pub message: String,
    /// Whether it is a stored counterexample that still fails.
    #[serde(default)]
    pub replayed: bool,
}

/// One call of an operation during a case.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Call {
    /// The operation.
    pub op: String,
    /// Which target answered: `"target"`, or `"reference"` for an oracle's.
    #[serde(default = "default_role", skip_serializing_if = "is_target")]
    pub on: String,
    /// Its input.
    pub input: Value,
    /// Its answer.
    pub result: CallResult,
}

fn default_role() -> String {
    "target".to_owned()
}

fn is_target(role: &str) -> bool {
    role == "target"
}

/// What a call gave.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum CallResult {
    /// A value.
    Ok(Value),
    /// An error reply (the operation refused the input).
    Error(String),
    /// The target broke: crash, timeout, protocol error, panic.
    Failure(String),
}

impl PropertyReport {
    /// Whether every case held.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }

    /// The counterexample, when the property failed.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match &self.outcome {
            Outcome::Failed(c) => Some(c),
            _ => None,
        }
    }

    /// Panics with the rendered report unless the property passed: the
    /// one-line assertion of a `#[test]` that embeds the runner.
    #[allow(
        clippy::panic,
        reason = "a test assertion: panicking is how it fails the test"
    )]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for PropertyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.spec {
            Some(spec) => format!("{spec}: Property {}", self.property),
            None => format!("Property {}", self.property),
        };
        let verdict = match &self.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "FAILED",
            Outcome::Aborted { .. } => "not run",
        };
        writeln!(
            f,
            "{name} ({}): {} — {verdict} after {} case(s){}, seed {}",
            self.kind,
            self.title,
            self.cases,
            if self.replayed > 0 {
                format!(" and {} stored", self.replayed)
            } else {
                String::new()
            },
            self.seed
        )?;
        if !self.validates.is_empty() {
            let ids: Vec<&str> = self.validates.iter().map(|c| c.as_str()).collect();
            writeln!(f, "  validates: {}", ids.join(", "))?;
        }
        match &self.outcome {
            Outcome::Passed => {}
            Outcome::Aborted { reason } => writeln!(f, "  reason: {reason}")?,
            Outcome::Failed(c) => {
                let origin = if c.replayed {
                    "stored counterexample"
                } else {
                    "counterexample"
                };
                writeln!(
                    f,
                    "  {origin}: {} (after {} shrink step(s))",
                    compact(&c.input),
                    self.shrink_steps
                )?;
                for call in &c.calls {
                    let on = if call.on == "target" {
                        String::new()
                    } else {
                        format!(" [{}]", call.on)
                    };
                    let result = match &call.result {
                        CallResult::Ok(v) => format!("ok {}", compact(v)),
                        CallResult::Error(e) => format!("error {e:?}"),
                        CallResult::Failure(e) => format!("FAILURE {e}"),
                    };
                    writeln!(f, "  {}{on}({}) → {result}", call.op, compact(&call.input))?;
                }
                writeln!(f, "  {}", c.message)?;
            }
        }
        for warning in &self.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}

/// A value as one line of JSON.
fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}
