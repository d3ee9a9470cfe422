//! The pipeline's verify phase with a spec's executable properties (feature
//! `engine`).
//!
//! kiro-core's verifiers read a spec's property results from
//! `.kiro/pbt/<spec>.json` but cannot produce them: running a property
//! needs this crate, which depends on kiro-core. [`WithProperties`] closes
//! the loop: it runs the spec's properties ([`SpecRun`]), stores their
//! results, then asks the verifier it wraps, which reads them with the
//! test results of its own command. [`StoredProperties`] is the verifier to
//! wrap when no test command is configured: it judges the criteria from the
//! stored property results alone.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kiro_core::project::ProjectError> {
//! use kiro_core::project::{Project, RunSetup};
//! use kiro_proptest::verifier::{StoredProperties, WithProperties};
//!
//! let project = Project::open(".")?;
//! let mut setup = RunSetup::new(project.spec_dir("codec")?).approve_all();
//! setup = match project.verifier() {
//!     Some(tests) => setup.verifier(WithProperties::new(tests)),
//!     None => setup.verifier(WithProperties::new(StoredProperties)),
//! };
//! let summary = project.run(setup).await?;
//! # let _ = summary;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use async_trait::async_trait;
use kiro_core::spec::Spec;
use kiro_core::stage::{PipelineEvent, StageContext, StageError, TaskOutcome, Verifier};
use kiro_core::trace::build_report;
use kiro_core::verify::properties::PropertyResults;
use kiro_core::verify::{RunInfo, VerificationReport};

use crate::report::Outcome;
use crate::results::{PbtRun, PbtRunError, SpecRun};

/// A verifier that first runs the spec's executable properties and stores
/// their results (`.kiro/pbt/<spec>.json` in the workspace's first
/// repository), then returns what the inner verifier reports, which reads
/// them: a failing property fails the criteria it validates.
///
/// The properties run on a blocking thread (the runner is synchronous),
/// under the workspace's command policy, with a random seed unless
/// [`seed`](WithProperties::seed) sets one; each property's verdict is sent
/// as a progress message. Cancellation is noticed between properties. A
/// spec with nothing to run (no block with a target) goes straight to the
/// inner verifier. Storing the results failing is a verification error.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// use kiro_core::spec::Spec;
/// use kiro_core::stage::{StageContext, Verifier};
/// use kiro_core::workspace::{Policy, Workspace};
/// use kiro_proptest::verifier::{StoredProperties, WithProperties};
///
/// let dir = tempfile::tempdir()?;
/// let ws = Workspace::builder().repo("main", dir.path()).policy(Policy::permissive()).build()?;
/// let cx = StageContext::builder(ws).spec_name("empty").build();
/// let spec = Spec { name: "empty".into(), ..Default::default() };
/// // Nothing to run: the inner verifier alone answers.
/// let report = WithProperties::new(StoredProperties).seed(1).verify(&spec, &[], &cx).await?;
/// assert!(report.criteria.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct WithProperties<V> {
    inner: V,
    run: SpecRun,
}

impl<V> WithProperties<V> {
    /// Runs the properties, then verifies with `inner`.
    pub fn new(inner: V) -> WithProperties<V> {
        WithProperties {
            inner,
            run: SpecRun::new(),
        }
    }

    /// Runs `cases` cases per property.
    pub fn cases(mut self, cases: u32) -> WithProperties<V> {
        self.run = self.run.cases(cases);
        self
    }

    /// Generates every property's cases from `seed`.
    pub fn seed(mut self, seed: u64) -> WithProperties<V> {
        self.run = self.run.seed(seed);
        self
    }

    /// The wrapped verifier.
    pub fn inner(&self) -> &V {
        &self.inner
    }
}

#[async_trait]
impl<V: Verifier> Verifier for WithProperties<V> {
    async fn verify(
        &self,
        spec: &Spec,
        outcomes: &[TaskOutcome],
        cx: &StageContext,
    ) -> Result<VerificationReport, StageError> {
        if self.run.has_work(spec) {
            let root = workspace_root(cx)?;
            let run = self.run.clone().policy(cx.workspace().policy().clone());
            let owned = spec.clone();
            let at = root.clone();
            let cancel = cx.cancel().clone();
            let ran = tokio::task::spawn_blocking(move || {
                run.run_until(&at, &owned, &|| cancel.is_cancelled())
            })
            .await
            .map_err(|e| StageError::failed(format!("the property runner stopped: {e}")))?;
            let ran = match ran {
                Ok(ran) => ran,
                Err(PbtRunError::Stopped { .. }) => return Err(StageError::Cancelled),
                Err(e) => return Err(StageError::failed(e.to_string())),
            };
            announce(&ran, cx);
            ran.save(&root, spec)
                .map_err(|e| StageError::failed(e.to_string()))?;
        }
        self.inner.verify(spec, outcomes, cx).await
    }
}

/// One progress message per property: its verdict, and for a failure the
/// counterexample and the seed.
fn announce(ran: &PbtRun, cx: &StageContext) {
    for report in &ran.reports {
        let text = match &report.outcome {
            Outcome::Passed => format!(
                "property {} ({}) passed after {} cases",
                report.property, report.title, report.cases
            ),
            Outcome::Failed(c) => format!(
                "property {} ({}) FAILED: counterexample {}; {} (seed {})",
                report.property,
                report.title,
                serde_json::to_string(&c.input).unwrap_or_default(),
                c.message,
                report.seed
            ),
            Outcome::Aborted { reason } => format!(
                "property {} ({}) could not run: {reason}",
                report.property, report.title
            ),
        };
        cx.events().send(PipelineEvent::Message {
            node: cx.node().to_owned(),
            text,
        });
    }
}

/// The root of the workspace's first repository, where process targets run
/// and results are stored (the project root for `kiro run`).
fn workspace_root(cx: &StageContext) -> Result<PathBuf, StageError> {
    let ws = cx.workspace();
    let repo = ws
        .repos()
        .next()
        .ok_or_else(|| StageError::Invalid("the workspace has no repository".into()))?;
    Ok(ws.root(repo)?.to_owned())
}

/// A verifier that judges the criteria from the stored property results
/// alone (`.kiro/pbt/<spec>.json` in the workspace's first repository):
/// what the verify phase uses when no test command is configured. Criteria
/// no property validates are untested.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// use kiro_core::spec::Spec;
/// use kiro_core::stage::{StageContext, Verifier};
/// use kiro_core::workspace::{Policy, Workspace};
/// use kiro_proptest::verifier::StoredProperties;
///
/// let dir = tempfile::tempdir()?;
/// let ws = Workspace::builder().repo("main", dir.path()).policy(Policy::permissive()).build()?;
/// let cx = StageContext::builder(ws).spec_name("empty").build();
/// let spec = Spec { name: "empty".into(), ..Default::default() };
/// let report = StoredProperties.verify(&spec, &[], &cx).await?;
/// assert!(report.is_success());
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StoredProperties;

#[async_trait]
impl Verifier for StoredProperties {
    async fn verify(
        &self,
        spec: &Spec,
        _outcomes: &[TaskOutcome],
        cx: &StageContext,
    ) -> Result<VerificationReport, StageError> {
        let root = workspace_root(cx)?;
        let info = RunInfo {
            command: String::new(),
            exit_code: None,
            per_test_results: true,
        };
        Ok(match PropertyResults::load(&root, &spec.name)? {
            Some(stored) => build_report(spec, &stored.annotations(), &stored.test_results(), info),
            None => {
                cx.events().send(PipelineEvent::Message {
                    node: cx.node().to_owned(),
                    text: "no test command configured and no property results: \
                           every criterion is untested"
                        .into(),
                });
                build_report(spec, &[], &[], info)
            }
        })
    }
}
