//! The verification matrix as a SARIF 2.1.0 log, for code-scanning UIs
//! (GitHub's `upload-sarif`): one result per acceptance criterion, placed on
//! the criterion's line in `requirements.md`.
//!
//! Each verdict is a rule, so that a UI can filter by it: a failed
//! criterion is an `error`, an untested one a `warning`, and a passed one a
//! result of kind `pass` (level `none`, as SARIF requires of any kind other
//! than `fail`). A result's `partialFingerprints` name the spec and
//! criterion, so an alert follows its criterion when lines move.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::{Matrix, MatrixRow};
use crate::format::Locator;
use crate::store::{DocKind, LoadedSpec};
use crate::verify::{CriterionStatus, TestStatus};

const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The project's home page, SARIF's `tool.driver.informationUri`.
const INFORMATION_URI: &str = "https://github.com/kiro-rs/kiro";

/// Where a criterion is written: a file relative to the workspace root
/// (`/`-separated) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file, relative to the workspace root.
    pub uri: String,
    /// The line, from 1.
    pub line: u32,
}

/// Where each criterion of a loaded spec is written, by criterion id, with
/// paths relative to `root`. A spec's document (`requirements.md` or
/// `bugfix.md`) at line 1 stands for a criterion whose line is unknown
/// (bugfix criteria, a criterion the source map lacks): code-scanning UIs
/// need a location for every result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CriterionPlaces {
    /// By criterion id.
    pub places: BTreeMap<String, Place>,
    /// The document the criteria live in, line 1.
    pub document: Option<Place>,
}

impl CriterionPlaces {
    /// The places of `loaded`'s criteria, relative to `root`.
    pub fn of(loaded: &LoadedSpec, root: &Path) -> CriterionPlaces {
        let relative = |path: &Path| {
            let rel = path.strip_prefix(root).unwrap_or(path);
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        let mut out = CriterionPlaces::default();
        if let (Some(doc), Some(file)) = (
            &loaded.spec.requirements,
            loaded.file(DocKind::Requirements),
        ) {
            let uri = relative(&file.path);
            for (requirement, r) in doc.requirements.iter().enumerate() {
                for (index, c) in r.criteria.iter().enumerate() {
                    let at = file
                        .source_map
                        .get(&Locator::Criterion { requirement, index });
                    if let Some(at) = at {
                        out.places.entry(c.id.to_string()).or_insert(Place {
                            uri: uri.clone(),
                            line: at.line.max(1),
                        });
                    }
                }
            }
            out.document = Some(Place { uri, line: 1 });
        } else if let Some(file) = loaded.file(DocKind::Bugfix) {
            out.document = Some(Place {
                uri: relative(&file.path),
                line: 1,
            });
        }
        out
    }

    fn get(&self, criterion: &str) -> Option<&Place> {
        self.places.get(criterion).or(self.document.as_ref())
    }
}

/// One rule per verdict: (id, name, description, level, status).
const RULES: [(&str, &str, &str, &str, CriterionStatus); 3] = [
    (
        "kiro/criterion-failed",
        "CriterionFailed",
        "A test linked to the acceptance criterion failed.",
        "error",
        CriterionStatus::Failed,
    ),
    (
        "kiro/criterion-untested",
        "CriterionUntested",
        "No test result is linked to the acceptance criterion.",
        "warning",
        CriterionStatus::Untested,
    ),
    (
        "kiro/criterion-passed",
        "CriterionPassed",
        "Every test linked to the acceptance criterion passed.",
        "none",
        CriterionStatus::Passed,
    ),
];

/// The matrix as a SARIF 2.1.0 log (see the module doc).
pub fn sarif(matrix: &Matrix, places: &CriterionPlaces, tool_version: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, name, text, level, _)| {
            json!({
                "id": id,
                "name": name,
                "shortDescription": { "text": text },
                "defaultConfiguration": { "level": if *level == "none" { "note" } else { level } },
            })
        })
        .collect();
    let results: Vec<Value> = matrix
        .rows
        .iter()
        .map(|row| result(matrix, row, places))
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "kiro",
                    "version": tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "automationDetails": { "id": format!("kiro/verify/{}/", matrix.spec) },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn result(matrix: &Matrix, row: &MatrixRow, places: &CriterionPlaces) -> Value {
    let index = RULES
        .iter()
        .position(|r| r.4 == row.status)
        .unwrap_or_default();
    let (id, _, _, level, _) = RULES[index];
    let verdict = match row.status {
        CriterionStatus::Passed => "passed",
        CriterionStatus::Failed => "failed",
        CriterionStatus::Untested => "is untested",
    };
    let mut text = format!(
        "Acceptance criterion {} of spec `{}` {verdict}: {}",
        row.criterion,
        matrix.spec,
        row.text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let tests: Vec<String> = row
        .tests
        .iter()
        .map(|t| match t.status {
            Some(TestStatus::Passed) => format!("{} (passed)", t.test),
            Some(TestStatus::Failed) => format!("{} (failed)", t.test),
            Some(TestStatus::Skipped) => format!("{} (skipped)", t.test),
            Some(TestStatus::Errored) => format!("{} (errored)", t.test),
            None => t.test.clone(),
        })
        .collect();
    if !tests.is_empty() {
        text.push_str(&format!(" Tests: {}.", tests.join(", ")));
    }
    let mut result = json!({
        "ruleId": id,
        "ruleIndex": index,
        "level": level,
        "message": { "text": text },
        "partialFingerprints": {
            "kiroCriterion/v1": format!("{}/{}", matrix.spec, row.criterion),
        },
        "properties": {
            "requirement": row.requirement.as_str(),
            "criterion": row.criterion.as_str(),
            "tasks": row.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        },
    });
    if row.status == CriterionStatus::Passed {
        result["kind"] = json!("pass");
    }
    if let Some(place) = places.get(row.criterion.as_str()) {
        result["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": place.uri },
                "region": { "startLine": place.line },
            }
        }]);
    }
    result
}
