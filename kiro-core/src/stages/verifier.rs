//! [`CommandVerifier`]: runs the test command and maps its results to
//! acceptance criteria through the annotations in test sources.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::VerifierConfig;
use crate::error::Error;
use crate::process::Command;
use crate::spec::Spec;
use crate::stage::{StageContext, StageError, TaskOutcome, Verifier};
use crate::trace::build_report;
use crate::verify::annotations::{attribute, scan_dir};
use crate::verify::cargo_test::parse_cargo_test;
use crate::verify::junit::parse_junit;
use crate::verify::properties::PropertyResults;
use crate::verify::{RunInfo, TestResult, VerificationReport};

/// Runs the configured test command (argv, no shell) in a workspace
/// repository, reads per-test results from a JUnit XML report when one is
/// configured or from `cargo test` output otherwise, and links them to
/// criteria through `Validates: Requirements ...`, `Requirements: ...` and
/// `Feature: <spec>, Property N` annotations found in the workspace's
/// sources. Without per-test results, the exit status decides for every
/// annotated criterion.
///
/// The JUnit file is removed before the command runs, so a stale report
/// from an earlier run is never read as this run's result.
///
/// ```no_run
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use kiro_core::spec::Spec;
/// use kiro_core::stage::{StageContext, Verifier};
/// use kiro_core::stages::CommandVerifier;
/// use kiro_core::workspace::{Policy, Workspace};
///
/// let ws = Workspace::builder().repo("main", ".").policy(Policy::permissive()).build()?;
/// let cx = StageContext::builder(ws).spec_name("login").build();
/// let spec = Spec::load(".kiro/specs/login")?;
/// let verifier = CommandVerifier::new(["cargo", "nextest", "run", "--profile", "ci"])
///     .junit("target/nextest/ci/junit.xml");
/// let report = verifier.verify(&spec, &[], &cx).await?;
/// println!("{:?}", report.counts());
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct CommandVerifier {
    argv: Vec<String>,
    junit: Option<PathBuf>,
    timeout: Option<Duration>,
    repo: Option<String>,
}

impl CommandVerifier {
    /// A verifier running this command line.
    pub fn new<I, S>(argv: I) -> CommandVerifier
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandVerifier {
            argv: argv.into_iter().map(Into::into).collect(),
            junit: None,
            timeout: None,
            repo: None,
        }
    }

    /// The verifier `[verifier]` describes; `None` when no command is set.
    pub fn from_config(cfg: &VerifierConfig) -> Option<CommandVerifier> {
        let argv = cfg.command.clone()?;
        let mut v = CommandVerifier::new(argv).timeout(Duration::from_secs(cfg.timeout_secs));
        v.junit = cfg.junit.clone();
        Some(v)
    }

    /// Reads per-test results from this JUnit XML file (relative to the
    /// repository root) after the command ran.
    #[must_use]
    pub fn junit(mut self, path: impl Into<PathBuf>) -> Self {
        self.junit = Some(path.into());
        self
    }

    /// Stops the command (its whole process group) after this long.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs in this workspace repository (default: the first).
    #[must_use]
    pub fn repo(mut self, name: impl Into<String>) -> Self {
        self.repo = Some(name.into());
        self
    }
}

#[async_trait]
impl Verifier for CommandVerifier {
    async fn verify(
        &self,
        spec: &Spec,
        _outcomes: &[TaskOutcome],
        cx: &StageContext,
    ) -> Result<VerificationReport, StageError> {
        let ws = cx.workspace();
        ws.check_command(&self.argv)?;
        let repo = super::repo_or_first(cx, self.repo.as_ref());
        let root = ws.root(&repo)?.to_owned();
        let junit = match &self.junit {
            Some(rel) => {
                let path = ws.resolve(&repo, rel)?;
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(Error::Io { path, source }.into()),
                }
                Some(path)
            }
            None => None,
        };
        let mut cmd = Command::new(self.argv.clone())
            .cwd(&root)
            .env("KIRO_WORKSPACE", root.as_os_str())
            .env("KIRO_SPEC", spec.name.clone())
            .env(
                "KIRO_RUN_ID",
                cx.run_id().map(ToString::to_string).unwrap_or_default(),
            );
        if let Some(t) = self.timeout {
            cmd = cmd.timeout(t);
        }
        let out = cmd.run(cx.cancel()).await?;
        if out.cancelled {
            return Err(StageError::Cancelled);
        }
        if out.timed_out {
            return Err(StageError::Timeout(self.timeout.unwrap_or_default()));
        }
        let results: Vec<TestResult> = match &junit {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(xml) => parse_junit(&xml, path)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StageError::Failed {
                        message: format!(
                            "the test command did not write its JUnit report {}",
                            path.display()
                        ),
                        evidence: out.stderr.clone(),
                        retryable: false,
                    })
                }
                Err(source) => {
                    return Err(Error::Io {
                        path: path.clone(),
                        source,
                    }
                    .into())
                }
            },
            None => parse_cargo_test(&format!("{}\n{}", out.stdout, out.stderr)),
        };
        let mut annotations = Vec::new();
        let mut specs: Vec<String> = Vec::new();
        for r in ws.repos() {
            let root = ws.root(r)?;
            annotations.extend(scan_dir(root)?);
            specs.extend(
                crate::store::list_specs(root)?
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned()),
            );
        }
        // A repository without `.kiro/specs` of its own scopes its
        // annotations by the workspace's specs: with several specs, an
        // annotation no `Feature:` line scopes counts for none of them.
        specs.sort();
        specs.dedup();
        attribute(&mut annotations, &specs);
        // The spec's executable properties (`kiro pbt run`) are tests too.
        let mut results = results;
        if let Some(properties) = PropertyResults::load(&root, &spec.name)? {
            properties.add_to(&mut annotations, &mut results);
        }
        let info = RunInfo {
            command: self.argv.join(" "),
            exit_code: out.code,
            per_test_results: !results.is_empty(),
        };
        Ok(build_report(spec, &annotations, &results, info))
    }
}
