//! Coverage: the gaps of a [`TraceGraph`] as findings.
//!
//! | Kind | Severity | Fires when |
//! |---|---|---|
//! | `criterion_without_task` | warning | no task implements a criterion (only when the spec has tasks) |
//! | `criterion_without_test` | warning | no test checks a criterion, directly or through a property |
//! | `unknown_criterion_in_test` | error | an annotation names a criterion or requirement the spec does not define |
//! | `unknown_property_in_test` | error | a `Feature: <spec>, Property N` annotation names a property the design does not define |
//! | `unknown_criterion_in_task` | error | a task's `_Requirements:` names a criterion the spec does not define |
//! | `unknown_property_in_task` | error | a task tests a property the design does not define |
//! | `property_without_test` | warning | no test checks a correctness property |
//! | `failing_criterion` | error | a test linked to a criterion failed |
//! | `stale_link` | warning | a criterion's text changed after its link to a test was recorded in the [`LinkLock`] |
//! | `unattributed` | warning | an annotation belongs to no spec: no `Feature: <spec>` line scopes it and the workspace has several specs ([`Scope::Unattributed`](crate::verify::annotations::Scope::Unattributed)) |
//!
//! In a bugfix spec only the clauses of the *Expected* and *Unchanged*
//! behaviour groups need tasks and tests: *Current behaviour* clauses
//! describe the defect (as in lint K0010).
//!
//! # Stale links
//!
//! A test was written against the wording of a criterion. When the wording
//! changes, the test may no longer check what the criterion says. The
//! [`LinkLock`] at `.kiro/trace/<spec>.lock.json` holds, per (test,
//! criterion) link, the SHA-256 of the criterion's text when the link was
//! last recorded ([`LinkLock::record`]); a link whose recorded hash differs
//! from the current text's hash is stale until someone reviews the test and
//! records again. Links never recorded are not stale.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Referrer, TraceGraph};
use crate::error::{Error, Result};
use crate::spec::{BehaviorKind, CriterionId, PropertyId, Spec, TaskId};
use crate::verify::annotations::{Annotation, AnnotationKind};
use crate::verify::{CriterionStatus, TestStatus, VerificationReport};
use crate::workspace::sha256_hex;

/// How serious a coverage finding is. Coverage findings are never mere
/// notes, so unlike lint's severity there are two levels; both serialise
/// as lint's do (`"error"`, `"warning"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The trace is broken: a failing criterion, a link to nothing.
    Error,
    /// The trace has a gap: a criterion without a task or test, a stale or
    /// unattributed link.
    Warning,
}

impl Severity {
    /// The lower-case name: `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What a coverage finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// No task implements the criterion.
    CriterionWithoutTask,
    /// No test checks the criterion.
    CriterionWithoutTest,
    /// A test annotation names a criterion the spec does not define.
    UnknownCriterionInTest,
    /// A test annotation names a property the design does not define.
    UnknownPropertyInTest,
    /// A task links a criterion the spec does not define.
    UnknownCriterionInTask,
    /// A task tests a property the design does not define.
    UnknownPropertyInTask,
    /// No test checks the correctness property.
    PropertyWithoutTest,
    /// A test linked to the criterion failed.
    FailingCriterion,
    /// The criterion's text changed since its link to a test was recorded.
    StaleLink,
    /// A test annotation belongs to no spec: no `Feature:` line scopes it
    /// and the workspace has several specs, so it counts for none of them.
    Unattributed,
}

impl FindingKind {
    /// The severity findings of this kind carry.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::CriterionWithoutTask
            | FindingKind::CriterionWithoutTest
            | FindingKind::PropertyWithoutTest
            | FindingKind::StaleLink
            | FindingKind::Unattributed => Severity::Warning,
            FindingKind::UnknownCriterionInTest
            | FindingKind::UnknownPropertyInTest
            | FindingKind::UnknownCriterionInTask
            | FindingKind::UnknownPropertyInTask
            | FindingKind::FailingCriterion => Severity::Error,
        }
    }
}

/// A place in the workspace: a file relative to the workspace root and,
/// when known, a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    /// The file, `/`-separated.
    pub file: String,
    /// The 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// One coverage finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// How serious it is.
    pub severity: Severity,
    /// One lower-case sentence.
    pub message: String,
    /// The criterion concerned (for unknown references, the id as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<CriterionId>,
    /// The property concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<PropertyId>,
    /// The task concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    /// Where to look: the test's file and line, or the spec document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Finding {
    fn new(kind: FindingKind, message: String) -> Finding {
        Finding {
            kind,
            severity: kind.severity(),
            message,
            criterion: None,
            property: None,
            task: None,
            location: None,
        }
    }
}

/// Computes coverage findings; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct Coverage;

impl Coverage {
    /// The findings of `spec`'s graph, criteria first (in document order),
    /// then properties, then unknown references (tasks, then tests), then
    /// the workspace's unattributed annotations (by file and line).
    ///
    /// Failing criteria come from `report` when one is given, otherwise from
    /// the results in the graph. Stale links are only looked for with a
    /// `lock`.
    pub fn compute(
        spec: &Spec,
        graph: &TraceGraph,
        report: Option<&VerificationReport>,
        lock: Option<&LinkLock>,
    ) -> Vec<Finding> {
        let spec_dir = format!(".kiro/specs/{}", spec.name);
        let criteria_doc = if spec.requirements.is_none() && spec.bugfix.is_some() {
            format!("{spec_dir}/bugfix.md")
        } else {
            format!("{spec_dir}/requirements.md")
        };
        let at_doc = |file: &str| {
            Some(Location {
                file: file.to_owned(),
                line: None,
            })
        };
        // Clauses describing the defect need neither tasks nor tests.
        let exempt: HashSet<&CriterionId> = spec
            .bugfix
            .iter()
            .flat_map(|b| b.groups.iter())
            .filter(|g| !matches!(g.kind, BehaviorKind::Expected | BehaviorKind::Unchanged))
            .flat_map(|g| g.clauses.iter().map(|c| &c.id))
            .collect();
        let has_tasks = spec.tasks.as_ref().is_some_and(|t| !t.tasks.is_empty());
        let failing_from_report: BTreeMap<&CriterionId, Option<Location>> = report
            .map(|r| {
                r.criteria
                    .iter()
                    .filter(|c| c.status == CriterionStatus::Failed)
                    .map(|c| {
                        let at = c
                            .evidence
                            .iter()
                            .find(|e| {
                                matches!(e.status, Some(TestStatus::Failed | TestStatus::Errored))
                            })
                            .or_else(|| c.evidence.first())
                            .and_then(|e| {
                                e.file.as_ref().map(|f| Location {
                                    file: f.clone(),
                                    line: e.line,
                                })
                            });
                        (&c.criterion, at)
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut out = Vec::new();
        for (id, text) in graph.criteria() {
            let needs_links = !exempt.contains(id);
            if needs_links && has_tasks && graph.tasks_of(id).is_empty() {
                let mut f = Finding::new(
                    FindingKind::CriterionWithoutTask,
                    format!("criterion {id} is not implemented by any task"),
                );
                f.criterion = Some(id.clone());
                f.location = at_doc(&criteria_doc);
                out.push(f);
            }
            let links = graph.test_links(id);
            if needs_links && links.is_empty() {
                let mut f = Finding::new(
                    FindingKind::CriterionWithoutTest,
                    format!("criterion {id} is not checked by any test"),
                );
                f.criterion = Some(id.clone());
                f.location = at_doc(&criteria_doc);
                out.push(f);
            }
            let failing = match report {
                Some(_) => failing_from_report
                    .get(id)
                    .map(|at| (at.clone(), Vec::new())),
                None if graph.status_of(id) == CriterionStatus::Failed => {
                    let failed: Vec<_> = links
                        .iter()
                        .filter(|(t, _)| {
                            graph.results_of(&t.key).iter().any(|r| {
                                matches!(r.status, TestStatus::Failed | TestStatus::Errored)
                            })
                        })
                        .map(|(t, _)| *t)
                        .collect();
                    let at = failed.first().map(|t| Location {
                        file: t.key.file.clone(),
                        line: Some(t.key.line),
                    });
                    let names = failed
                        .iter()
                        .filter_map(|t| t.name.clone())
                        .collect::<Vec<_>>();
                    Some((at, names))
                }
                None => None,
            };
            if let Some((at, names)) = failing {
                let message = if names.is_empty() {
                    format!("criterion {id} fails: a linked test failed")
                } else {
                    format!("criterion {id} fails: {} failed", names.join(", "))
                };
                let mut f = Finding::new(FindingKind::FailingCriterion, message);
                f.criterion = Some(id.clone());
                f.location = at;
                out.push(f);
            }
            if let Some(lock) = lock {
                let now = LinkLock::hash(text);
                for (t, _) in &links {
                    let key = t.lock_key();
                    let Some(recorded) = lock.links.get(&key).and_then(|m| m.get(id)) else {
                        continue;
                    };
                    if *recorded != now {
                        let mut f = Finding::new(
                            FindingKind::StaleLink,
                            format!(
                                "criterion {id} changed since its link to test {} was recorded; \
                                 review the test and record the link again",
                                t.name.as_deref().unwrap_or(&key)
                            ),
                        );
                        f.criterion = Some(id.clone());
                        f.location = Some(Location {
                            file: t.key.file.clone(),
                            line: Some(t.key.line),
                        });
                        out.push(f);
                    }
                }
            }
        }
        for p in graph.properties() {
            if graph.tests_of_property(p).is_empty() {
                let mut f = Finding::new(
                    FindingKind::PropertyWithoutTest,
                    format!("property {p} is not checked by any test"),
                );
                f.property = Some(p.clone());
                f.location = at_doc(&format!("{spec_dir}/design.md"));
                out.push(f);
            }
        }
        let mut task_refs = Vec::new();
        let mut test_refs = Vec::new();
        for u in graph.unknown_refs() {
            match &u.referrer {
                Referrer::Task { task } => {
                    let (kind, message) = if u.property {
                        (
                            FindingKind::UnknownPropertyInTask,
                            format!(
                                "task {task} tests property {}, which the design does not define",
                                u.id
                            ),
                        )
                    } else {
                        (
                            FindingKind::UnknownCriterionInTask,
                            format!("task {task} links {}, which the spec does not define", u.id),
                        )
                    };
                    let mut f = Finding::new(kind, message);
                    f.task = Some(task.clone());
                    set_id(&mut f, u.property, &u.id);
                    f.location = at_doc(&format!("{spec_dir}/tasks.md"));
                    task_refs.push(f);
                }
                Referrer::Test { file, line } => {
                    let (kind, message) = if u.property {
                        (
                            FindingKind::UnknownPropertyInTest,
                            format!(
                                "{file}:{line} names property {}, which the design does not define",
                                u.id
                            ),
                        )
                    } else {
                        (
                            FindingKind::UnknownCriterionInTest,
                            format!(
                                "{file}:{line} names {}, which the spec does not define",
                                u.id
                            ),
                        )
                    };
                    let mut f = Finding::new(kind, message);
                    set_id(&mut f, u.property, &u.id);
                    f.location = Some(Location {
                        file: file.clone(),
                        line: Some(*line),
                    });
                    test_refs.push(f);
                }
            }
        }
        test_refs.sort_by(|a, b| {
            let key = |f: &Finding| f.location.as_ref().map(|l| (l.file.clone(), l.line));
            key(a).cmp(&key(b))
        });
        out.extend(task_refs);
        out.extend(test_refs);
        for a in graph.unattributed() {
            out.push(unattributed(a));
        }
        out
    }
}

/// The finding of an annotation that belongs to no spec.
fn unattributed(a: &Annotation) -> Finding {
    let ids = a
        .criteria
        .iter()
        .map(CriterionId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let label = match a.kind {
        AnnotationKind::Requirements => format!("Requirements: {ids}"),
        AnnotationKind::Validates => format!("Validates: Requirements {ids}"),
        AnnotationKind::Property => format!(
            "Property {}",
            a.property
                .as_ref()
                .map(PropertyId::as_str)
                .unwrap_or_default()
        ),
    };
    let mut f = Finding::new(
        FindingKind::Unattributed,
        format!(
            "{}:{} `{label}` belongs to no spec: the workspace has several and no \
             `Feature: <spec>` line scopes it (put one in its comment block or the file header)",
            a.file, a.line
        ),
    );
    if let [only] = a.criteria.as_slice() {
        f.criterion = Some(only.clone());
    }
    f.property.clone_from(&a.property);
    f.location = Some(Location {
        file: a.file.clone(),
        line: Some(a.line),
    });
    f
}

fn set_id(f: &mut Finding, property: bool, id: &str) {
    if property {
        f.property = Some(PropertyId::new(id));
    } else {
        f.criterion = Some(CriterionId::new(id));
    }
}

/// The recorded state of test-to-criterion links: per test (its
/// [`lock_key`](super::TraceTest::lock_key)) and criterion, the SHA-256 of
/// the criterion's text when the link was recorded. Stored as
/// `.kiro/trace/<spec>.lock.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkLock {
    /// The spec's name.
    pub spec: String,
    /// Test key → criterion → text hash (64 lower-case hex digits).
    #[serde(default)]
    pub links: BTreeMap<String, BTreeMap<CriterionId, String>>,
}

impl LinkLock {
    /// An empty lock for a spec.
    pub fn new(spec: impl Into<String>) -> LinkLock {
        LinkLock {
            spec: spec.into(),
            links: BTreeMap::new(),
        }
    }

    /// Where the lock of `spec` lives under a workspace root.
    pub fn path(root: &Path, spec: &str) -> PathBuf {
        root.join(".kiro")
            .join("trace")
            .join(format!("{spec}.lock.json"))
    }

    /// The hash recorded for a criterion text. Runs of whitespace count as
    /// one space and the ends are trimmed, so that re-wrapping a criterion
    /// or changing line endings does not make its links stale.
    pub fn hash(text: &str) -> String {
        let normal = text.split_whitespace().collect::<Vec<_>>().join(" ");
        sha256_hex(normal.as_bytes())
    }

    /// Reads the lock of `spec`; an absent file is an empty lock.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when `spec` is not a usable spec name,
    /// [`Error::Io`] when the file cannot be read, [`Error::Json`] when it
    /// is not a lock file.
    pub fn load(root: &Path, spec: &str) -> Result<LinkLock> {
        crate::store::validate_spec_name(spec)?;
        let path = Self::path(root, spec);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LinkLock::new(spec)),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let mut lock: LinkLock = serde_json::from_str(&text).map_err(|e| Error::Json {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if lock.spec.is_empty() {
            spec.clone_into(&mut lock.spec);
        }
        Ok(lock)
    }

    /// Records every current link of the graph with its criterion's current
    /// text hash. Links recorded earlier that the graph no longer has are
    /// kept, so that a partial scan does not forget them.
    pub fn record(&mut self, graph: &TraceGraph) {
        if self.spec.is_empty() {
            graph.spec().clone_into(&mut self.spec);
        }
        for (id, text) in graph.criteria() {
            let hash = Self::hash(text);
            for t in graph.tests_of(id) {
                self.links
                    .entry(t.lock_key())
                    .or_default()
                    .insert(id.clone(), hash.clone());
            }
        }
    }

    /// Whether the recorded link from `test_key` to `criterion` is stale
    /// against `text`; `None` when the link was never recorded.
    pub fn is_stale(&self, test_key: &str, criterion: &CriterionId, text: &str) -> Option<bool> {
        self.links
            .get(test_key)
            .and_then(|m| m.get(criterion))
            .map(|h| *h != Self::hash(text))
    }

    /// Writes the lock to `.kiro/trace/<spec>.lock.json` atomically, as
    /// pretty JSON with a final newline.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when the lock's spec name is not usable as a
    /// file name, [`Error::Io`] when writing fails.
    pub fn save(&self, root: &Path) -> Result<()> {
        crate::store::validate_spec_name(&self.spec)?;
        let path = Self::path(root, &self.spec);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        text.push('\n');
        crate::store::write_atomic(&path, text.as_bytes())
    }
}
