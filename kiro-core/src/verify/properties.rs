//! Results of a spec's executable correctness properties, as one more
//! source of test results.
//!
//! `kiro pbt run` (through `kiro-proptest`) runs the properties of a spec
//! whose `design.md` gives them a `kiro-property` block, and stores what it
//! found in `.kiro/pbt/<spec>.json` ([`PropertyResults::save`]). Every
//! verification of the spec then counts them: the default verifier
//! (`stages::CommandVerifier`, used by `kiro verify` and the pipeline's verify
//! phase), `kiro verify --no-run` and `kiro trace` read the file and add each
//! property as a test linked to the property, so that through the design
//! it validates its criteria: a failing property fails them, with its
//! shrunk counterexample as evidence; a passing one is evidence for them.
//!
//! ```
//! use kiro_core::spec::{CriterionId, PropertyId};
//! use kiro_core::verify::properties::{PropertyResult, PropertyResults};
//! use kiro_core::verify::TestStatus;
//!
//! let results = PropertyResults {
//!     spec: "codec".into(),
//!     ran_at: "2026-12-07T10:00:00.000Z".into(),
//!     results: vec![PropertyResult {
//!         property: PropertyId::new("1"),
//!         title: "Round trip".into(),
//!         validates: vec![CriterionId::new("1.1")],
//!         status: TestStatus::Failed,
//!         cases: 12,
//!         seed: Some(7),
//!         message: Some("decode(encode(x)) != x".into()),
//!         counterexample: Some(serde_json::json!("\"")),
//!         output: None,
//!         duration_ms: Some(3),
//!     }],
//! };
//! let tests = results.test_results();
//! assert_eq!(tests[0].status, TestStatus::Failed);
//! assert!(tests[0].output.contains("minimal failing input: \"\\\"\""));
//! let annotations = results.annotations();
//! assert_eq!(annotations[0].property, Some(PropertyId::new("1")));
//! ```

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::annotations::{Annotation, AnnotationKind, Scope, TestDecl, TestDeclKind};
use super::{TestResult, TestStatus};
use crate::error::{Error, Result};
use crate::spec::{CriterionId, PropertyId};

/// Where property results live, relative to the workspace root.
pub const PROPERTY_RESULTS_DIR: &str = ".kiro/pbt";

/// The results of one run of a spec's executable properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PropertyResults {
    /// The spec's name (its folder).
    pub spec: String,
    /// When the properties ran (RFC 3339, UTC).
    pub ran_at: String,
    /// One result per property that ran, in the design's order.
    pub results: Vec<PropertyResult>,
}

/// How one property ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PropertyResult {
    /// The property's number in `design.md`.
    pub property: PropertyId,
    /// Its title.
    pub title: String,
    /// The criteria it validates, as its `Validates:` line says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validates: Vec<CriterionId>,
    /// `passed`, `failed` (a case broke the property), or `errored` (it
    /// could not run: a target that would not start, a schema kiro cannot
    /// generate from).
    pub status: TestStatus,
    /// Cases run, the failing one included.
    pub cases: u32,
    /// The seed of the run, to reproduce it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Why it failed or errored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The shrunk input of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<serde_json::Value>,
    /// What the target returned for the counterexample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// How long the property took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl PropertyResults {
    /// `.kiro/pbt/<spec>.json` under `root`.
    pub fn path(root: &Path, spec: &str) -> PathBuf {
        root.join(PROPERTY_RESULTS_DIR).join(format!("{spec}.json"))
    }

    /// The stored results of `spec`, or `None` when its properties never ran.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for an unusable spec name, [`Error::Io`] when
    /// the file cannot be read, [`Error::Json`] when it is not a results file.
    pub fn load(root: &Path, spec: &str) -> Result<Option<PropertyResults>> {
        crate::store::validate_spec_name(spec)?;
        let path = Self::path(root, spec);
        let Some(text) =
            crate::store::read_text_file(&path, crate::store::DEFAULT_MAX_INPUT_BYTES)?
        else {
            return Ok(None);
        };
        let results = serde_json::from_str(&text).map_err(|e| Error::Json {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Ok(Some(results))
    }

    /// Stores the results under `root` atomically (temporary file, fsync,
    /// rename) and returns the file's path.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for an unusable spec name, [`Error::Io`] when
    /// the file cannot be written.
    pub fn save(&self, root: &Path) -> Result<PathBuf> {
        crate::store::validate_spec_name(&self.spec)?;
        let path = Self::path(root, &self.spec);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        text.push('\n');
        crate::store::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The file the results are read from, relative to the root, as
    /// annotations and test results name it.
    fn file(&self) -> String {
        format!("{PROPERTY_RESULTS_DIR}/{}.json", self.spec)
    }

    /// One annotation per property: a test named [`test_name`] in the
    /// results file, linked to the property (and through the design to the
    /// criteria it validates), scoped to the spec.
    pub fn annotations(&self) -> Vec<Annotation> {
        let file = self.file();
        self.results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
                Annotation {
                    file: file.clone(),
                    line,
                    kind: AnnotationKind::Property,
                    criteria: Vec::new(),
                    property: Some(r.property.clone()),
                    property_title: Some(r.title.clone()),
                    spec: Some(self.spec.clone()),
                    test: Some(TestDecl {
                        name: test_name(&self.spec, &r.property),
                        line,
                        kind: TestDeclKind::Function,
                    }),
                    scope: Scope::Spec(self.spec.clone()),
                    block_line: line,
                }
            })
            .collect()
    }

    /// One test result per property, named as its annotation's test; a
    /// failure's output carries the counterexample as proptest prints it
    /// (`minimal failing input: ...`) so the report keeps it.
    pub fn test_results(&self) -> Vec<TestResult> {
        let file = self.file();
        self.results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut output = String::new();
                if let Some(ce) = &r.counterexample {
                    output.push_str(&format!("minimal failing input: {ce}\n"));
                }
                if let Some(out) = &r.output {
                    output.push_str(&format!("output: {out}\n"));
                }
                if let Some(seed) = r.seed {
                    output.push_str(&format!("seed: {seed}, cases: {}\n", r.cases));
                }
                super::bound_output(&mut output);
                TestResult {
                    name: test_name(&self.spec, &r.property),
                    classname: Some(format!("kiro pbt {}", self.spec)),
                    file: Some(file.clone()),
                    line: Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                    status: r.status,
                    message: r.message.clone(),
                    output,
                    duration_ms: r.duration_ms,
                }
            })
            .collect()
    }
}

/// The test name a property's result carries:
/// `kiro_pbt__<spec>__property_<id>`, every character outside
/// `[A-Za-z0-9_]` written as `_`, so that it is one name segment no test
/// runner's own test shares.
pub fn test_name(spec: &str, property: &PropertyId) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!(
        "kiro_pbt__{}__property_{}",
        clean(spec),
        clean(property.as_str())
    )
}

/// Whether a test result is a property's (named by [`test_name`]).
pub fn is_property_result(result: &TestResult) -> bool {
    result.name.starts_with("kiro_pbt__")
}

impl PropertyResults {
    /// Adds these results to a verification's annotations and test
    /// results, replacing any property results of an earlier run.
    pub fn add_to(&self, annotations: &mut Vec<Annotation>, results: &mut Vec<TestResult>) {
        let file = self.file();
        annotations.retain(|a| a.file != file);
        results.retain(|r| !is_property_result(r));
        annotations.extend(self.annotations());
        results.extend(self.test_results());
    }
}
