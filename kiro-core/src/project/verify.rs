//! `verify`: run the configured test command (or read existing results),
//! judge every acceptance criterion, and record the verdict: the link lock,
//! the stored report and the audit entry.
//!
//! A verification that ran the tests keeps its report at
//! `.kiro/trace/<spec>.report.json` (next to the link lock), so that
//! `trace` and a later verification without running see results of runs
//! made outside the pipeline.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{Project, ProjectError, Result};
use crate::audit::{AuditEvent, Entry, NewEntry, VerificationAudit};
use crate::checkpoint::{now_rfc3339, CheckpointStore};
use crate::error::Error;
use crate::pipeline;
use crate::report::Matrix;
use crate::spec::Spec;
use crate::stage::{StageContext, StageError, Verifier};
use crate::stages::CommandVerifier;
use crate::trace::{build_report, with_property_results};
use crate::trace::{LinkLock, TraceGraph};
use crate::verify::annotations::{scan_dir, Annotation, Scope};
use crate::verify::junit::parse_junit;
use crate::verify::properties::PropertyResults;
use crate::verify::{RunInfo, VerificationReport};

/// Where stored reports live, relative to the workspace root.
pub const STORED_REPORT_DIR: &str = ".kiro/trace";

/// A report a verification stored, with the time it was made
/// (`.kiro/trace/<spec>.report.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    /// When the verification ran, RFC 3339 UTC.
    pub verified_at: String,
    /// The report.
    pub report: VerificationReport,
}

/// Where the verdicts of a [`Verification`] come from. Its `Display` is
/// the `source` of the audit entry ([`VerificationAudit::source`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultsSource {
    /// The test command ran now (`run`).
    Run,
    /// An existing JUnit file, relative to the root (`junit <path>`).
    Junit(PathBuf),
    /// The report the last verification stored (`kiro verify`).
    Stored,
    /// The report at a run's last checkpoint (`run <RUN@ID>`).
    Checkpoint(String),
    /// Only the spec's executable properties ran (`kiro pbt run`).
    Properties,
}

impl fmt::Display for ResultsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultsSource::Run => f.write_str("run"),
            ResultsSource::Junit(path) => write!(f, "junit {}", path.display()),
            ResultsSource::Stored => f.write_str("kiro verify"),
            ResultsSource::Checkpoint(at) => write!(f, "run {at}"),
            ResultsSource::Properties => f.write_str("kiro pbt run"),
        }
    }
}

/// How [`Project::verify`] gets its results.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Report existing results instead of running the tests: the
    /// configured JUnit file when it exists, else the latest stored or run
    /// report. The link lock and the stored report are left as they are.
    pub no_run: bool,
    /// Stops the test command (its whole process group) when cancelled.
    pub cancel: CancellationToken,
}

/// A test link whose criterion changed since the link was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleLink {
    /// The test's key in the link lock.
    pub test: String,
    /// The criterion's id.
    pub criterion: String,
}

/// What a verification found and recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    /// The report, secrets redacted.
    pub report: VerificationReport,
    /// The matrix every report format renders (`kiro verify --format
    /// json` prints it; `kiro schema verify` is its schema).
    pub matrix: Matrix,
    /// Where the verdicts come from.
    pub source: ResultsSource,
    /// Links that were stale before this verification recorded them anew.
    pub stale: Vec<StaleLink>,
    /// Annotations that belong to no spec (`file:line`): the workspace has
    /// several specs and no `Feature:` line scopes them, so they counted
    /// for no criterion.
    pub unattributed: Vec<String>,
    /// The audit entry recorded.
    pub entry: Entry,
}

impl Project {
    /// Verifies `spec` (in `spec_dir`): runs the configured test command
    /// (or reads existing results with [`VerifyOptions::no_run`]), and
    /// records the verdict in the audit log. A run of the tests also
    /// updates the spec's link lock and stores the report. Returns `None`
    /// when the command was cancelled; nothing is recorded then.
    pub async fn verify(
        &self,
        spec_dir: &Path,
        spec: &Spec,
        options: VerifyOptions,
    ) -> Result<Option<Verification>> {
        let (report, source) = if options.no_run {
            self.existing_results(spec)?
        } else {
            let Some(verifier) = CommandVerifier::from_config(&self.config.verifier) else {
                return Err(ProjectError::NoVerifier {
                    spec: spec.name.clone(),
                });
            };
            match self
                .run_verifier(spec_dir, spec, &verifier, options.cancel)
                .await?
            {
                Some(report) => (report, ResultsSource::Run),
                None => return Ok(None),
            }
        };
        // Test output may echo a secret from the environment: no report,
        // stored file or audit entry may carry it.
        let report = self.redacted(report)?;
        let matrix = Matrix::build(spec, &report);
        let annotations = self.annotations()?;
        // Only a run of the tests makes the current criterion texts the ones
        // the tests were checked against; reading old results does not.
        let mut stale = Vec::new();
        if !options.no_run {
            stale = self.update_link_lock(spec, &report, &annotations)?;
            self.store_report(&spec.name, &report)?;
        }
        let audit = VerificationAudit::from_report(&report, source.to_string())
            .with_stale_links(stale.len());
        let entry = self.audit_log()?.append(
            NewEntry::event(AuditEvent::Verification(audit)).with_spec(spec.name.clone()),
        )?;
        let unattributed = annotations
            .iter()
            .filter(|a| a.scope == Scope::Unattributed)
            .map(|a| format!("{}:{}", a.file, a.line))
            .collect();
        Ok(Some(Verification {
            report,
            matrix,
            source,
            stale,
            unattributed,
            entry,
        }))
    }

    /// The existing results of `spec`: the configured JUnit file when it
    /// exists, else the latest stored or run report
    /// ([`latest_results`](Project::latest_results)).
    pub fn existing_results(&self, spec: &Spec) -> Result<(VerificationReport, ResultsSource)> {
        let (report, source) = self.existing_test_results(spec)?;
        // Properties that ran since (`kiro pbt run`) count with their
        // latest results.
        match PropertyResults::load(&self.root, &spec.name)? {
            Some(properties) => {
                let annotations = self.annotations()?;
                let report = with_property_results(spec, &report, &annotations, &properties);
                Ok((report, source))
            }
            None => Ok((report, source)),
        }
    }

    /// [`existing_results`](Project::existing_results) before the stored
    /// property results are added.
    fn existing_test_results(&self, spec: &Spec) -> Result<(VerificationReport, ResultsSource)> {
        if let Some(rel) = &self.config.verifier.junit {
            let path = self.root.join(rel);
            if path.is_file() {
                let annotations = self.annotations()?;
                let report = from_junit(spec, &path, &annotations)?;
                return Ok((report, ResultsSource::Junit(rel.clone())));
            }
        }
        if let Some(found) = self.latest_results(&spec.name)? {
            return Ok(found);
        }
        // Only properties ran: their results are the report.
        if PropertyResults::load(&self.root, &spec.name)?.is_some() {
            let info = RunInfo {
                command: String::new(),
                exit_code: None,
                per_test_results: true,
            };
            return Ok((
                build_report(spec, &[], &[], info),
                ResultsSource::Properties,
            ));
        }
        Err(ProjectError::NoResults {
            spec: spec.name.clone(),
            junit: self.config.verifier.junit.clone(),
        })
    }

    /// The most recent report of the spec named `spec`: the one the last
    /// verification stored or the one at the last checkpoint of the spec's
    /// latest run, whichever is newer; `None` when there is neither.
    pub fn latest_results(
        &self,
        spec: &str,
    ) -> Result<Option<(VerificationReport, ResultsSource)>> {
        let path = self.stored_report_path(spec);
        let stored: Option<StoredReport> = match std::fs::read_to_string(&path) {
            Ok(text) => {
                Some(
                    serde_json::from_str(&text).map_err(|e| ProjectError::StoredReport {
                        path: path.clone(),
                        message: e.to_string(),
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::Io { path, source }.into()),
        };
        let from_run = self.run_report(spec)?;
        // Both times are RFC 3339 UTC with milliseconds, so they compare as strings.
        Ok(match (stored, from_run) {
            (Some(s), Some((at, found))) if at.as_str() > s.verified_at.as_str() => Some(found),
            (Some(s), _) => Some((s.report, ResultsSource::Stored)),
            (None, Some((_, found))) => Some(found),
            (None, None) => None,
        })
    }

    /// `.kiro/trace/<spec>.report.json`.
    pub fn stored_report_path(&self, spec: &str) -> PathBuf {
        self.root
            .join(STORED_REPORT_DIR)
            .join(format!("{spec}.report.json"))
    }

    /// Every test annotation in the workspace's sources.
    pub fn annotations(&self) -> Result<Vec<Annotation>> {
        Ok(scan_dir(&self.root)?)
    }

    /// The report at the last checkpoint of the spec's latest run, with
    /// that checkpoint's time.
    fn run_report(
        &self,
        spec: &str,
    ) -> Result<Option<(String, (VerificationReport, ResultsSource))>> {
        let store = self.store.as_ref();
        let Some(run) = pipeline::latest_run(store, spec)? else {
            return Ok(None);
        };
        let checkpoints = store.list(&run)?;
        let Some(last) = checkpoints.last() else {
            return Ok(None);
        };
        let at = last.reference();
        let (artifacts, _) = pipeline::state_at(store, &at)?;
        Ok(artifacts.report.map(|report| {
            (
                last.created_at.clone(),
                (report, ResultsSource::Checkpoint(at.to_string())),
            )
        }))
    }

    /// Runs the test command through [`CommandVerifier`].
    async fn run_verifier(
        &self,
        spec_dir: &Path,
        spec: &Spec,
        verifier: &CommandVerifier,
        cancel: CancellationToken,
    ) -> Result<Option<VerificationReport>> {
        let cx = StageContext::builder(Arc::new(self.workspace()?))
            .config(self.config.clone())
            .spec_name(spec.name.clone())
            .spec_dir(spec_dir.to_owned())
            .node("verify")
            .cancel(cancel)
            .build();
        match verifier.verify(spec, &[], &cx).await {
            Ok(report) => Ok(Some(report)),
            Err(StageError::Cancelled) => Ok(None),
            Err(source) => Err(ProjectError::Verifier {
                spec: spec.name.clone(),
                source: Box::new(source),
            }),
        }
    }

    /// Records the links of the spec's trace graph in its link lock, and
    /// returns the links that were stale before.
    fn update_link_lock(
        &self,
        spec: &Spec,
        report: &VerificationReport,
        annotations: &[Annotation],
    ) -> Result<Vec<StaleLink>> {
        let graph = TraceGraph::build(
            spec,
            annotations,
            &report.tests,
            &std::collections::BTreeMap::new(),
        );
        let mut lock = LinkLock::load(&self.root, &spec.name)?;
        let mut stale = Vec::new();
        for (id, text) in graph.criteria() {
            for test in graph.tests_of(id) {
                let key = test.lock_key();
                if lock.is_stale(&key, id, text) == Some(true) {
                    stale.push(StaleLink {
                        test: key,
                        criterion: id.to_string(),
                    });
                }
            }
        }
        lock.record(&graph);
        lock.save(&self.root)?;
        Ok(stale)
    }

    /// Stores the report of a verification that ran the tests, atomically,
    /// with secrets redacted.
    fn store_report(&self, spec: &str, report: &VerificationReport) -> Result<()> {
        let path = self.stored_report_path(spec);
        let stored = StoredReport {
            verified_at: now_rfc3339(),
            report: report.clone(),
        };
        let json = |e: serde_json::Error| Error::Backend(Box::new(e));
        let mut value = serde_json::to_value(&stored).map_err(json)?;
        self.redactor.redact_value(&mut value);
        let mut text = serde_json::to_string_pretty(&value).map_err(json)?;
        text.push('\n');
        crate::store::write_atomic(&path, text.as_bytes())?;
        Ok(())
    }

    /// `report` with the values of secret-named environment variables
    /// replaced in every string it holds (test names, output excerpts).
    fn redacted(&self, report: VerificationReport) -> Result<VerificationReport> {
        if self.redactor.is_empty() {
            return Ok(report);
        }
        let json = |e: serde_json::Error| Error::Backend(Box::new(e));
        let mut value = serde_json::to_value(&report).map_err(json)?;
        self.redactor.redact_value(&mut value);
        Ok(serde_json::from_value(value).map_err(json)?)
    }
}

/// The report built from an existing JUnit file, without running anything.
fn from_junit(spec: &Spec, path: &Path, annotations: &[Annotation]) -> Result<VerificationReport> {
    let xml = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let results = parse_junit(&xml, path)?;
    let info = RunInfo {
        command: String::new(),
        exit_code: None,
        // The file holds per-test results even when it lists no test: an
        // empty report means nothing ran, not that the run's exit code decides.
        per_test_results: true,
    };
    Ok(build_report(spec, annotations, &results, info))
}
