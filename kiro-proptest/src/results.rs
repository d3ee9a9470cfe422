//! A spec's executable properties run as `kiro pbt run` and the pipeline's
//! verify phase run them, and their results stored for `kiro verify` and
//! `kiro trace` (feature `engine`).
//!
//! [`SpecRun`] picks the properties (every executable one, or those asked
//! for), checks each with the [`Runner`](crate::Runner) on the target its
//! block names (stored counterexamples under `.kiro/pbt-regressions/`
//! replayed first), and returns a [`PbtRun`]: one
//! [`PropertyResult`] per property, the shape kiro-core stores in
//! `.kiro/pbt/<spec>.json` ([`PbtRun::save`]) and reads back as test
//! results, so that a failing property fails the criteria it validates with
//! its shrunk counterexample as evidence.
//!
//! Which properties run:
//!
//! - a property with a `json kiro-property` block and a `target` (a
//!   JSON-lines process run in the workspace root, or an HTTP endpoint);
//! - a block without a `target` but with a `rust` binding is checked by the
//!   Rust test `kiro pbt gen` writes, not here: it is listed as skipped
//!   (and asking for it by id is an error);
//! - a block without either has nothing to call: it runs and errors;
//! - with a [`Policy`](SpecRun::policy), a process target (or reference)
//!   whose command the policy does not allow errors without running.
//!
//! A property *fails* when a case breaks it (a crash or timeout of the
//! target included) and *errors* when it cannot be checked (an input schema
//! kiro cannot generate from, a block that lacks what its kind needs, a
//! denied command); both count against the criteria it validates.
//!
//! ```
//! use kiro_core::spec::{CorrectnessProperty, DesignDoc, PropertyKind, PropertySpec, Spec};
//! use kiro_proptest::results::{PbtRunError, PbtStatus, SpecRun};
//!
//! let formal: PropertySpec = serde_json::from_value(serde_json::json!({
//!     "kind": "no-error", "ops": ["f"], "input": {"type": "integer"},
//!     "rust": {"f": "crate::f"}
//! }))?;
//! let spec = Spec {
//!     name: "demo".into(),
//!     design: Some(DesignDoc {
//!         properties: vec![CorrectnessProperty {
//!             id: "1".into(),
//!             title: "f accepts every integer".into(),
//!             formal: Some(formal),
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! // A Rust binding without a target is for `kiro pbt gen`, not for a run.
//! let err = SpecRun::new().run(std::path::Path::new("."), &spec).unwrap_err();
//! assert!(matches!(err, PbtRunError::NothingToRun { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiro_core::spec::{CorrectnessProperty, PropertyId, PropertySpec, PropertyTarget, Spec};
use kiro_core::verify::properties::{PropertyResult, PropertyResults, PROPERTY_RESULTS_DIR};
use kiro_core::verify::TestStatus;
use kiro_core::workspace::Policy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::report::{Outcome, PropertyReport};
use crate::runner::SpecProperties;

/// Why a spec's properties could not be run or their results stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PbtRunError {
    /// No correctness property of the spec has a `json kiro-property` block.
    #[error(
        "spec `{spec}` has no executable correctness property: give a property a \
         ```json kiro-property block after its statement"
    )]
    NoExecutableProperty {
        /// The spec's name.
        spec: String,
    },
    /// Every executable property names only a Rust binding, which runs as
    /// the test `kiro pbt gen` writes.
    #[error(
        "no property of spec `{spec}` has a target kiro can call: properties {} name only a \
         Rust binding; run the tests `kiro pbt gen {spec}` writes for them",
        rust_only.join(", ")
    )]
    NothingToRun {
        /// The spec's name.
        spec: String,
        /// The properties with only a Rust binding.
        rust_only: Vec<String>,
    },
    /// A property was asked for that the design does not define.
    #[error("spec `{spec}` has no correctness property {id} (it has: {known})")]
    UnknownProperty {
        /// The spec's name.
        spec: String,
        /// The id asked for.
        id: String,
        /// The ids the design defines, comma-separated (`none` without any).
        known: String,
    },
    /// A property was asked for that has no `json kiro-property` block.
    #[error(
        "property {id} of spec `{spec}` is not executable: it has no ```json kiro-property block"
    )]
    NotExecutable {
        /// The spec's name.
        spec: String,
        /// The property's id.
        id: String,
    },
    /// A property was asked for whose block names a Rust binding and no
    /// target.
    #[error(
        "property {id} of spec `{spec}` has no target kiro can call, only a Rust binding: \
         run the test `kiro pbt gen {spec} --property {id}` writes for it"
    )]
    RustOnly {
        /// The spec's name.
        spec: String,
        /// The property's id.
        id: String,
    },
    /// The run was stopped (cancelled) before every property was checked;
    /// nothing is reported.
    #[error("the run of the properties of spec `{spec}` was stopped")]
    Stopped {
        /// The spec's name.
        spec: String,
    },
    /// The results could not be stored.
    #[error("cannot store the property results of spec `{spec}`: {source}")]
    Save {
        /// The spec's name.
        spec: String,
        /// Why.
        source: kiro_core::Error,
    },
}

/// How to run a spec's properties: which, how many cases, which seed, under
/// which command policy. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct SpecRun {
    properties: Vec<PropertyId>,
    cases: Option<u32>,
    seed: Option<u64>,
    policy: Option<Policy>,
    max_shrink_time: Option<Duration>,
}

/// A property left out of a run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedProperty {
    /// The property's number.
    pub property: PropertyId,
    /// Its title.
    pub title: String,
    /// Why it did not run.
    pub reason: String,
}

/// How many properties ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PbtTotals {
    /// Every case held.
    pub passed: usize,
    /// A case broke the property.
    pub failed: usize,
    /// The property could not be checked.
    pub errored: usize,
}

/// The overall verdict of a run, for an exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbtStatus {
    /// Every property that ran passed.
    Passed,
    /// At least one property failed.
    Failed,
    /// None failed, and at least one could not be checked.
    Errored,
}

/// What a run of a spec's properties found: the JSON of `kiro pbt run
/// --format json` (`kiro schema pbt`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PbtRun {
    /// The spec's name.
    pub spec: String,
    /// The seed every property's cases were generated from: `kiro pbt run
    /// <spec> --seed <seed>` generates the same cases.
    pub seed: u64,
    /// When the run started (RFC 3339, UTC).
    pub ran_at: String,
    /// Where [`PbtRun::save`] stores the results, relative to the
    /// workspace root.
    pub file: String,
    /// Counts of `results` by status.
    pub totals: PbtTotals,
    /// One result per property run, in the design's order: what `kiro
    /// verify` and `kiro trace` read.
    pub results: Vec<PropertyResult>,
    /// Executable properties this run left out (a Rust binding and no
    /// target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedProperty>,
    /// Problems that did not change a verdict (an unreadable regressions
    /// file, a failure that could not be stored), each naming its property.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The runner's full reports (every call of a failing case), parallel
    /// to `results`; not part of the JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub reports: Vec<PropertyReport>,
}

impl SpecRun {
    /// Every runnable executable property, a random seed, each property's
    /// own number of cases (or the runner's default), no command policy.
    pub fn new() -> SpecRun {
        SpecRun::default()
    }

    /// Runs only these properties (in the design's order); each must
    /// exist, have a block and a target.
    pub fn properties<I, S>(mut self, ids: I) -> SpecRun
    where
        I: IntoIterator<Item = S>,
        S: Into<PropertyId>,
    {
        self.properties = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Runs `cases` generated cases per property, whatever the property
    /// asks for.
    pub fn cases(mut self, cases: u32) -> SpecRun {
        self.cases = Some(cases);
        self
    }

    /// Generates every property's cases from `seed` instead of a random one.
    pub fn seed(mut self, seed: u64) -> SpecRun {
        self.seed = Some(seed);
        self
    }

    /// Runs a process target (or oracle reference) only when `policy`
    /// allows its command; a denied one errors naming the command.
    pub fn policy(mut self, policy: Policy) -> SpecRun {
        self.policy = Some(policy);
        self
    }

    /// Bounds the shrinking of each failure (the runner's default is 30 s).
    pub fn max_shrink_time(mut self, limit: Duration) -> SpecRun {
        self.max_shrink_time = Some(limit);
        self
    }

    /// Whether running `spec` with these options would check anything: it
    /// has a property with a block and a target (or, with
    /// [`properties`](SpecRun::properties), it is asked for one).
    pub fn has_work(&self, spec: &Spec) -> bool {
        self.select(spec).is_ok()
    }

    /// Runs the properties of `spec`, whose process targets run in
    /// `workspace_root` and whose stored counterexamples are under its
    /// `.kiro/pbt-regressions/`. Nothing is stored in `.kiro/pbt/`: see
    /// [`PbtRun::save`].
    ///
    /// # Errors
    ///
    /// [`PbtRunError::UnknownProperty`], [`NotExecutable`](PbtRunError::NotExecutable)
    /// and [`RustOnly`](PbtRunError::RustOnly) for a property asked for
    /// that cannot run; [`NoExecutableProperty`](PbtRunError::NoExecutableProperty)
    /// and [`NothingToRun`](PbtRunError::NothingToRun) when the spec has
    /// nothing to run. A property that runs and cannot be checked is not an
    /// error: its result says `errored`.
    pub fn run(&self, workspace_root: &Path, spec: &Spec) -> Result<PbtRun, PbtRunError> {
        self.run_until(workspace_root, spec, &|| false)
    }

    /// [`run`](SpecRun::run), asking `stop` before each property; once it
    /// answers `true` the run ends with [`PbtRunError::Stopped`] (a
    /// property already started runs to its end: the runner is synchronous).
    ///
    /// # Errors
    ///
    /// As [`run`](SpecRun::run), and [`PbtRunError::Stopped`].
    pub fn run_until(
        &self,
        workspace_root: &Path,
        spec: &Spec,
        stop: &dyn Fn() -> bool,
    ) -> Result<PbtRun, PbtRunError> {
        let selection = self.select(spec)?;
        let ran_at = kiro_core::checkpoint::now_rfc3339();
        let suite = SpecProperties::from_spec(spec, workspace_root);
        let mut runner = suite.runner();
        if let Some(seed) = self.seed {
            runner = runner.seed(seed);
        }
        if let Some(cases) = self.cases {
            runner = runner.cases(cases);
        }
        if let Some(limit) = self.max_shrink_time {
            runner = runner.max_shrink_time(limit);
        }
        let seed = runner.seed_value();

        let mut run = PbtRun {
            spec: spec.name.clone(),
            seed,
            ran_at,
            file: format!("{PROPERTY_RESULTS_DIR}/{}.json", spec.name),
            totals: PbtTotals::default(),
            results: Vec::new(),
            skipped: selection.skipped,
            warnings: Vec::new(),
            reports: Vec::new(),
        };
        for property in selection.run {
            if stop() {
                return Err(PbtRunError::Stopped {
                    spec: spec.name.clone(),
                });
            }
            let started = Instant::now();
            let report = match self.denied(property) {
                Some(reason) => aborted(spec, property, seed, reason),
                // Every selected property has a block, so the suite knows it.
                None => match suite.check(&runner, property.id.as_str()) {
                    Ok(report) => report,
                    Err(e) => aborted(spec, property, seed, e.to_string()),
                },
            };
            let result = property_result(&report, Some(started.elapsed()));
            match result.status {
                TestStatus::Passed => run.totals.passed += 1,
                TestStatus::Failed => run.totals.failed += 1,
                _ => run.totals.errored += 1,
            }
            run.warnings.extend(
                report
                    .warnings
                    .iter()
                    .map(|w| format!("property {}: {w}", report.property)),
            );
            run.results.push(result);
            run.reports.push(report);
        }
        Ok(run)
    }

    /// The properties to run and those skipped, or why none can run.
    fn select<'s>(&self, spec: &'s Spec) -> Result<Selection<'s>, PbtRunError> {
        let all: Vec<&CorrectnessProperty> =
            spec.design.iter().flat_map(|d| &d.properties).collect();
        let name = || spec.name.clone();
        if !self.properties.is_empty() {
            for id in &self.properties {
                let Some(property) = all.iter().find(|p| &p.id == id) else {
                    let known: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
                    return Err(PbtRunError::UnknownProperty {
                        spec: name(),
                        id: id.to_string(),
                        known: if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        },
                    });
                };
                match &property.formal {
                    None => {
                        return Err(PbtRunError::NotExecutable {
                            spec: name(),
                            id: id.to_string(),
                        })
                    }
                    Some(formal) if rust_only(formal) => {
                        return Err(PbtRunError::RustOnly {
                            spec: name(),
                            id: id.to_string(),
                        })
                    }
                    Some(_) => {}
                }
            }
            let run = all
                .into_iter()
                .filter(|p| self.properties.contains(&p.id))
                .collect();
            return Ok(Selection {
                run,
                skipped: Vec::new(),
            });
        }
        let mut run = Vec::new();
        let mut skipped = Vec::new();
        for property in all {
            match &property.formal {
                None => {}
                Some(formal) if rust_only(formal) => skipped.push(SkippedProperty {
                    property: property.id.clone(),
                    title: property.title.clone(),
                    reason: format!(
                        "no target, only a Rust binding: checked by the test `kiro pbt gen {}` writes",
                        spec.name
                    ),
                }),
                Some(_) => run.push(property),
            }
        }
        if run.is_empty() {
            if skipped.is_empty() {
                return Err(PbtRunError::NoExecutableProperty { spec: name() });
            }
            return Err(PbtRunError::NothingToRun {
                spec: name(),
                rust_only: skipped.iter().map(|s| s.property.to_string()).collect(),
            });
        }
        Ok(Selection { run, skipped })
    }

    /// Why the policy refuses a command of the property, if it does.
    fn denied(&self, property: &CorrectnessProperty) -> Option<String> {
        let policy = self.policy.as_ref()?;
        let formal = property.formal.as_ref()?;
        let target = formal.target.iter().cloned();
        let reference = formal.reference.iter().filter_map(|r| r.target());
        target.chain(reference).find_map(|t| match t {
            PropertyTarget::Process(argv) => policy
                .check_command(&argv)
                .err()
                .map(|e| format!("not run: {e} (the workspace's [policy] commands)")),
            PropertyTarget::Http(_) => None,
        })
    }
}

/// The properties a run checks and those it leaves out.
struct Selection<'s> {
    run: Vec<&'s CorrectnessProperty>,
    skipped: Vec<SkippedProperty>,
}

/// A block kiro cannot call: a Rust binding and no target.
fn rust_only(formal: &PropertySpec) -> bool {
    formal.target.is_none() && formal.rust.is_some()
}

/// The report of a property that did not run.
fn aborted(
    spec: &Spec,
    property: &CorrectnessProperty,
    seed: u64,
    reason: String,
) -> PropertyReport {
    PropertyReport {
        spec: Some(spec.name.clone()),
        property: property.id.clone(),
        title: property.title.clone(),
        kind: property
            .formal
            .as_ref()
            .map_or(kiro_core::spec::PropertyKind::NoError, |f| f.kind),
        validates: property.validates.clone(),
        seed,
        replayed: 0,
        cases: 0,
        shrink_steps: 0,
        outcome: Outcome::Aborted { reason },
        warnings: Vec::new(),
    }
}

/// A runner's report as the result kiro-core stores: `passed`, `failed`
/// (with the shrunk counterexample, the message, and every call of the
/// failing case with its answer as `output`) or `errored` (an aborted
/// property, with the reason). `cases` counts stored counterexamples
/// replayed and generated cases.
///
/// ```
/// use kiro_core::spec::PropertyKind;
/// use kiro_core::verify::TestStatus;
/// use kiro_proptest::results::property_result;
/// use kiro_proptest::target::from_fn;
/// use kiro_proptest::{Property, Runner};
/// use serde_json::json;
///
/// let property = Property::builder("2", PropertyKind::NoError)
///     .title("small numbers are accepted")
///     .ops(["check"])
///     .input(json!({"type": "integer", "minimum": 0, "maximum": 1000}))
///     .validates(["1.2"])
///     .build()?;
/// let check = from_fn(|_: &str, x: &serde_json::Value| match x.as_i64() {
///     Some(n) if n < 10 => Ok(json!(true)),
///     _ => Err("too large".to_string()),
/// });
/// let report = Runner::new().seed(3).check(&property, &check);
/// let result = property_result(&report, None);
/// assert_eq!(result.status, TestStatus::Failed);
/// assert_eq!(result.counterexample, Some(json!(10)));
/// assert_eq!(result.seed, Some(3));
/// assert_eq!(result.validates[0].as_str(), "1.2");
/// # Ok::<(), kiro_proptest::property::PropertyError>(())
/// ```
pub fn property_result(report: &PropertyReport, duration: Option<Duration>) -> PropertyResult {
    let (status, message, counterexample, output) = match &report.outcome {
        Outcome::Passed => (TestStatus::Passed, None, None, None),
        Outcome::Failed(c) => {
            let message = if c.replayed {
                format!(
                    "{} (a stored counterexample from .kiro/pbt-regressions, replayed first)",
                    c.message
                )
            } else {
                c.message.clone()
            };
            let output = if c.calls.is_empty() {
                None
            } else {
                serde_json::to_value(&c.calls).ok()
            };
            (
                TestStatus::Failed,
                Some(message),
                Some(c.input.clone()),
                output,
            )
        }
        Outcome::Aborted { reason } => (TestStatus::Errored, Some(reason.clone()), None, None),
    };
    PropertyResult {
        property: report.property.clone(),
        title: report.title.clone(),
        validates: report.validates.clone(),
        status,
        cases: report.cases.saturating_add(report.replayed),
        seed: Some(report.seed),
        message,
        counterexample,
        output,
        duration_ms: duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

impl PbtRun {
    /// The verdict over every property run: failed if any failed, else
    /// errored if any could not be checked, else passed.
    pub fn status(&self) -> PbtStatus {
        if self.totals.failed > 0 {
            PbtStatus::Failed
        } else if self.totals.errored > 0 {
            PbtStatus::Errored
        } else {
            PbtStatus::Passed
        }
    }

    /// Stores the results in `.kiro/pbt/<spec>.json` under
    /// `workspace_root` atomically, where `kiro verify`, `kiro trace` and
    /// the pipeline's verify phase read them, and returns the file's path.
    ///
    /// The file holds this run's results and, for properties of `spec`
    /// this run did not select that are still runnable, their results from
    /// the file before (results of properties no longer in the design, or
    /// no longer runnable, are dropped); in the design's order. A file that
    /// cannot be read is replaced.
    ///
    /// # Errors
    ///
    /// [`PbtRunError::Save`] when the file cannot be written.
    pub fn save(&self, workspace_root: &Path, spec: &Spec) -> Result<PathBuf, PbtRunError> {
        let earlier = PropertyResults::load(workspace_root, &self.spec)
            .ok()
            .flatten()
            .map(|r| r.results)
            .unwrap_or_default();
        let mut results = Vec::new();
        for property in spec.design.iter().flat_map(|d| &d.properties) {
            let runnable = property.formal.as_ref().is_some_and(|f| !rust_only(f));
            if !runnable {
                continue;
            }
            let kept = self
                .results
                .iter()
                .chain(&earlier)
                .find(|r| r.property == property.id);
            if let Some(result) = kept {
                results.push(result.clone());
            }
        }
        let stored = PropertyResults {
            spec: self.spec.clone(),
            ran_at: self.ran_at.clone(),
            results,
        };
        stored
            .save(workspace_root)
            .map_err(|source| PbtRunError::Save {
                spec: self.spec.clone(),
                source,
            })
    }
}
