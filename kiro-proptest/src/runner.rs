//! The runner: generates cases, checks a property on a target, shrinks
//! failures and keeps them.
//!
//! [`Runner::check`] runs one property: first every stored counterexample
//! of it (see [`crate::regressions`]), then `cases` generated inputs from a
//! seeded proptest `TestRunner`; the first failing case is shrunk by
//! proptest, then by a deletion pass over the JSON value that makes it
//! 1-minimal whatever the generator (no element, character or key can go,
//! no number can move toward zero), both bounded together by
//! [`Runner::max_shrink_time`]; the counterexample is stored and reported
//! with the answers of each call ([`PropertyReport`]).
//!
//! [`SpecProperties`] loads a spec's executable properties and their
//! targets, for programs and `#[test]`s that check a spec without the CLI;
//! [`spec_tests!`](crate::spec_tests) turns them into one test each.

mod check;
mod minimize;
mod suite;

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kiro_core::spec::PropertyKind;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::property::{compile, invalid_strategy, Property};
use crate::regressions::{RegressionStore, StoredCase};
use crate::report::{Counterexample, Outcome, PropertyReport};
use crate::schema::strategy_for;
use crate::target::Target;

pub use suite::{SpecProperties, SuiteError};

use check::{Case, Checker, Failure};
use minimize::{minimize, Domain};

/// Cases per property unless the property or the caller says otherwise.
pub const DEFAULT_CASES: u32 = 100;

/// Checks properties against targets; configured with chained setters.
///
/// ```
/// use kiro_proptest::property::Property;
/// use kiro_proptest::runner::Runner;
/// use kiro_proptest::target::from_fn;
/// use kiro_core::spec::PropertyKind;
/// use serde_json::{json, Value};
/// use std::time::Duration;
///
/// let property = Property::builder("1", PropertyKind::RoundTrip)
///     .title("hex decoding inverts hex encoding")
///     .ops(["encode", "decode"])
///     .input(json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}))
///     .validates(["1.1"])
///     .build()?;
/// let codec = from_fn(|op: &str, input: &Value| match op {
///     "encode" => Ok(json!(input.as_array().into_iter().flatten()
///         .map(|b| format!("{:02x}", b.as_u64().unwrap_or(0))).collect::<String>())),
///     _ => {
///         let text = input.as_str().ok_or("expected a string")?;
///         (0..text.len()).step_by(2)
///             .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map(|b| json!(b)).map_err(|e| e.to_string()))
///             .collect::<Result<Vec<_>, _>>().map(Value::Array)
///     }
/// });
/// let report = Runner::new()
///     .cases(256)
///     .seed(42)
///     .max_shrink_time(Duration::from_secs(5))
///     .check(&property, &codec);
/// assert!(report.passed(), "{report}");
/// assert_eq!((report.cases, report.seed), (256, 42));
/// # Ok::<(), kiro_proptest::property::PropertyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Runner {
    cases: Option<u32>,
    seed: u64,
    max_shrink_time: Duration,
    max_shrink_iters: u32,
    regressions: Option<RegressionStore>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl Runner {
    /// A runner with a random seed (see [`Runner::seed_value`]), the
    /// property's number of cases or [`DEFAULT_CASES`], shrinking bounded
    /// to 30 s and 10,000 steps, and no regressions folder.
    pub fn new() -> Runner {
        Runner {
            cases: None,
            seed: random_seed(),
            max_shrink_time: Duration::from_secs(30),
            max_shrink_iters: 10_000,
            regressions: None,
        }
    }

    /// Runs `cases` generated cases per property, over what the property
    /// asks for.
    pub fn cases(mut self, cases: u32) -> Runner {
        self.cases = Some(cases);
        self
    }

    /// Generates from `seed`: the same seed, property and target give the
    /// same cases and the same counterexample.
    pub fn seed(mut self, seed: u64) -> Runner {
        self.seed = seed;
        self
    }

    /// The seed in use (random unless [`Runner::seed`] set it), to print so
    /// a run can be repeated.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    /// Stops shrinking after this long and reports the smallest failure so
    /// far (each shrink step is a call to the target, which may be slow).
    pub fn max_shrink_time(mut self, limit: Duration) -> Runner {
        self.max_shrink_time = limit;
        self
    }

    /// Stops shrinking after this many steps.
    pub fn max_shrink_iters(mut self, limit: u32) -> Runner {
        self.max_shrink_iters = limit;
        self
    }

    /// Stores failures under `dir` (usually the workspace's
    /// [`.kiro/pbt-regressions`](crate::regressions::DEFAULT_DIR)) and
    /// replays stored ones before generating.
    pub fn regressions_dir(mut self, dir: impl Into<PathBuf>) -> Runner {
        self.regressions = Some(RegressionStore::new(dir));
        self
    }

    /// Checks `property` against `target` (an oracle's reference is the
    /// property's own). Never panics on a failing target: every outcome is
    /// in the report.
    pub fn check<T: Target + ?Sized>(&self, property: &Property, target: &T) -> PropertyReport {
        let mut report = PropertyReport {
            spec: property.spec.clone(),
            property: property.id.clone(),
            title: property.title.clone(),
            kind: property.kind,
            validates: property.validates.clone(),
            seed: self.seed,
            replayed: 0,
            cases: 0,
            shrink_steps: 0,
            outcome: Outcome::Passed,
            warnings: Vec::new(),
        };
        let checker = match property
            .validate()
            .map_err(|e| e.to_string())
            .and_then(|()| Checker::new(property, target))
        {
            Ok(checker) => checker,
            Err(reason) => {
                report.outcome = Outcome::Aborted { reason };
                return report;
            }
        };

        if let Some(failure) = self.replay(property, &checker, &mut report) {
            report.outcome = failure;
            return report;
        }

        let strategy = match case_strategy(property, &checker) {
            Ok(strategy) => strategy,
            Err(reason) => {
                report.outcome = Outcome::Aborted { reason };
                return report;
            }
        };
        let config = Config {
            cases: self.cases.or(property.cases).unwrap_or(DEFAULT_CASES),
            max_shrink_time: u32::try_from(self.max_shrink_time.as_millis()).unwrap_or(u32::MAX),
            max_shrink_iters: self.max_shrink_iters,
            failure_persistence: None,
            verbose: 0,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(self.seed));
        let mut runner = TestRunner::new_with_rng(config, rng);

        let cases = Cell::new(0u32);
        let shrink_steps = Cell::new(0u32);
        let last_failure: RefCell<Option<(Case, Failure)>> = RefCell::new(None);
        let failed_at = Cell::new(None);
        let result = runner.run(&strategy, |case| {
            let counter = if last_failure.borrow().is_some() {
                &shrink_steps
            } else {
                &cases
            };
            counter.set(counter.get().saturating_add(1));
            match checker.evaluate(&case) {
                Ok(()) => Ok(()),
                Err(failure) => {
                    if failed_at.get().is_none() {
                        failed_at.set(Some(Instant::now()));
                    }
                    let reason = failure.message.clone();
                    *last_failure.borrow_mut() = Some((case, failure));
                    Err(TestCaseError::fail(reason))
                }
            }
        });
        report.cases = cases.get();
        report.shrink_steps = shrink_steps.get();

        match result {
            Ok(()) => {}
            Err(TestError::Abort(reason)) => {
                let reason = if property.kind == PropertyKind::RejectsInvalid {
                    format!("no input outside the schema could be generated ({reason})")
                } else {
                    format!("generation gave up: {reason}")
                };
                report.outcome = Outcome::Aborted { reason };
            }
            Err(TestError::Fail(reason, case)) => {
                // Shrinking ends on the smallest failing case, normally
                // the last that failed; otherwise ask again.
                let failure = match last_failure.into_inner() {
                    Some((last, failure)) if last == case => Some(failure),
                    _ => checker.evaluate(&case).err(),
                };
                let (case, failure) = match failure {
                    Some(failure) => {
                        let started = failed_at.get().unwrap_or_else(Instant::now);
                        let (case, failure, steps) =
                            self.minimize(property, &checker, case, failure, started);
                        report.shrink_steps = report.shrink_steps.saturating_add(steps);
                        (case, failure)
                    }
                    None => {
                        let message = format!("{reason} (did not fail again when repeated)");
                        let failure = Failure {
                            calls: Vec::new(),
                            message,
                        };
                        (case, failure)
                    }
                };
                self.store(property, &case, &failure, &mut report);
                report.outcome = Outcome::Failed(Box::new(Counterexample {
                    input: case.input,
                    calls: failure.calls,
                    message: failure.message,
                    replayed: false,
                }));
            }
        }
        report
    }

    /// The second shrinking pass ([`minimize`]), within what is left of
    /// the shrink time counted from the first failure.
    fn minimize<T: Target + ?Sized>(
        &self,
        property: &Property,
        checker: &Checker<'_, T>,
        case: Case,
        failure: Failure,
        first_failure: Instant,
    ) -> (Case, Failure, u32) {
        let Ok(validator) = compile(&property.input) else {
            return (case, failure, 0);
        };
        let domain = Domain {
            validator,
            valid: property.kind != PropertyKind::RejectsInvalid,
        };
        minimize(
            checker,
            &domain,
            case,
            failure,
            first_failure + self.max_shrink_time,
        )
    }

    /// Runs the stored counterexamples; the outcome of the first that still
    /// fails.
    fn replay<T: Target + ?Sized>(
        &self,
        property: &Property,
        checker: &Checker<'_, T>,
        report: &mut PropertyReport,
    ) -> Option<Outcome> {
        let store = self.regressions.as_ref()?;
        let stored = match store.load(property.spec.as_deref(), property.id.as_str()) {
            Ok(stored) => stored,
            Err(e) => {
                report.warnings.push(e.to_string());
                return None;
            }
        };
        for stored in stored {
            report.replayed += 1;
            let case = Case {
                input: stored.input,
                shuffle: stored.shuffle,
            };
            if let Err(failure) = checker.evaluate(&case) {
                return Some(Outcome::Failed(Box::new(Counterexample {
                    input: case.input,
                    calls: failure.calls,
                    message: failure.message,
                    replayed: true,
                })));
            }
        }
        None
    }

    fn store(
        &self,
        property: &Property,
        case: &Case,
        failure: &Failure,
        report: &mut PropertyReport,
    ) {
        let Some(store) = &self.regressions else {
            return;
        };
        let stored = StoredCase {
            input: case.input.clone(),
            shuffle: case.shuffle,
            message: failure.message.clone(),
            seed: Some(self.seed),
        };
        if let Err(e) = store.record(
            property.spec.as_deref(),
            property.id.as_str(),
            &property.title,
            &stored,
        ) {
            report.warnings.push(e.to_string());
        }
    }
}

/// The generator of a property's cases: valid inputs, invalid ones for
/// `rejects-invalid`, with a shuffle for `permutation-invariant`.
fn case_strategy<T: Target + ?Sized>(
    property: &Property,
    checker: &Checker<'_, T>,
) -> Result<BoxedStrategy<Case>, String> {
    let inputs = if property.kind == PropertyKind::RejectsInvalid {
        let validator = compile(&property.input)?;
        invalid_strategy(&property.input, Arc::new(validator))
    } else {
        strategy_for(&property.input)
    }
    .map_err(|e| e.to_string())?;
    Ok(if checker.shuffles() {
        (inputs, any::<u64>())
            .prop_map(|(input, shuffle)| Case {
                input,
                shuffle: Some(shuffle),
            })
            .boxed()
    } else {
        inputs
            .prop_map(|input| Case {
                input,
                shuffle: None,
            })
            .boxed()
    })
}

/// A seed nobody chose: the process's random hash keys over the clock.
fn random_seed() -> u64 {
    RandomState::new().hash_one(SystemTime::now())
}

/// The 32 bytes of a ChaCha seed, spread from 64 bits with splitmix64.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}
