//! A spec's executable properties with their targets, ready to check.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiro_core::spec::{CriterionId, PropertyId, PropertyKind, PropertyTarget, Spec};

use super::Runner;
use crate::property::Property;
use crate::regressions::DEFAULT_DIR;
use crate::report::{Outcome, PropertyReport};
use crate::target::{self, Target};

/// Why a spec's properties could not be loaded or checked.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The spec folder could not be read.
    #[error("cannot load the spec in {}: {source}", dir.display())]
    Load {
        /// The spec folder.
        dir: PathBuf,
        /// Why.
        source: kiro_core::Error,
    },
    /// No property of the spec has that id.
    #[error("spec {spec} has no property {id}")]
    UnknownProperty {
        /// The spec.
        spec: String,
        /// The id asked for.
        id: String,
    },
}

/// The executable properties of a spec (those of its `design.md` with a
/// `json kiro-property` block), each with the target its block names, so a
/// program or a `#[test]` checks a spec without the CLI.
///
/// Process targets run in the workspace root and are shared by the
/// properties that name the same argv (one process each); properties whose
/// block names no target use the one given with
/// [`SpecProperties::target`]. A property whose block cannot run (wrong
/// ops, a schema the generator refuses) is kept and reported as
/// [`Outcome::Aborted`].
///
/// ```no_run
/// use kiro_proptest::runner::SpecProperties;
///
/// let suite = SpecProperties::load(".", "codec")?;
/// for report in suite.check_all(&suite.runner().cases(256)) {
///     println!("{report}");
/// }
/// # Ok::<(), kiro_proptest::runner::SuiteError>(())
/// ```
pub struct SpecProperties {
    spec: String,
    root: PathBuf,
    entries: Vec<Entry>,
    targets: Vec<(PropertyTarget, Arc<dyn Target + Send + Sync>)>,
    default_target: Option<Arc<dyn Target + Send + Sync>>,
}

struct Entry {
    id: PropertyId,
    title: String,
    kind: PropertyKind,
    validates: Vec<CriterionId>,
    property: Result<Property, String>,
    target: Option<PropertyTarget>,
}

impl SpecProperties {
    /// Loads `.kiro/specs/<spec>` of the workspace at `workspace_root`.
    pub fn load(
        workspace_root: impl AsRef<Path>,
        spec: &str,
    ) -> Result<SpecProperties, SuiteError> {
        let root = workspace_root.as_ref();
        let dir = kiro_core::store::specs_dir(root).join(spec);
        let loaded =
            kiro_core::store::load_spec(&dir).map_err(|source| SuiteError::Load { dir, source })?;
        Ok(SpecProperties::from_spec(&loaded.spec, root))
    }

    /// The properties of a spec already in memory, whose targets run in
    /// `workspace_root`.
    pub fn from_spec(spec: &Spec, workspace_root: impl Into<PathBuf>) -> SpecProperties {
        let root = workspace_root.into();
        let mut suite = SpecProperties {
            spec: spec.name.clone(),
            root,
            entries: Vec::new(),
            targets: Vec::new(),
            default_target: None,
        };
        let properties = spec.design.iter().flat_map(|d| &d.properties);
        for written in properties {
            let Some(formal) = &written.formal else {
                continue;
            };
            let property = Property::from_spec_in(written, &suite.root)
                .map(|mut p| {
                    p.spec = Some(spec.name.clone());
                    p
                })
                .map_err(|e| e.to_string());
            if let Some(target) = &formal.target {
                if !suite.targets.iter().any(|(t, _)| t == target) {
                    let made = target::from_spec(target, &suite.root);
                    suite.targets.push((target.clone(), made));
                }
            }
            suite.entries.push(Entry {
                id: written.id.clone(),
                title: written.title.clone(),
                kind: formal.kind,
                validates: written.validates.clone(),
                property,
                target: formal.target.clone(),
            });
        }
        suite
    }

    /// The target of properties whose block names none (a Rust
    /// implementation, say).
    pub fn target<T: Target + Send + Sync + 'static>(mut self, target: T) -> SpecProperties {
        self.default_target = Some(Arc::new(target));
        self
    }

    /// The spec's name.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The ids of the executable properties, in document order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.id.as_str())
    }

    /// A runner storing failures in the workspace's
    /// [`.kiro/pbt-regressions`](DEFAULT_DIR).
    pub fn runner(&self) -> Runner {
        Runner::new().regressions_dir(self.root.join(DEFAULT_DIR))
    }

    /// Checks property `id` with `runner`.
    pub fn check(&self, runner: &Runner, id: &str) -> Result<PropertyReport, SuiteError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.id.as_str() == id)
            .ok_or_else(|| SuiteError::UnknownProperty {
                spec: self.spec.clone(),
                id: id.to_owned(),
            })?;
        Ok(self.check_entry(runner, entry))
    }

    /// Checks every property, in document order.
    pub fn check_all(&self, runner: &Runner) -> Vec<PropertyReport> {
        self.entries
            .iter()
            .map(|entry| self.check_entry(runner, entry))
            .collect()
    }

    fn check_entry(&self, runner: &Runner, entry: &Entry) -> PropertyReport {
        let aborted = |reason: String| PropertyReport {
            spec: Some(self.spec.clone()),
            property: entry.id.clone(),
            title: entry.title.clone(),
            kind: entry.kind,
            validates: entry.validates.clone(),
            seed: runner.seed_value(),
            replayed: 0,
            cases: 0,
            shrink_steps: 0,
            outcome: Outcome::Aborted { reason },
            warnings: Vec::new(),
        };
        let property = match &entry.property {
            Ok(property) => property,
            Err(reason) => return aborted(reason.clone()),
        };
        let target = match &entry.target {
            Some(wanted) => self
                .targets
                .iter()
                .find(|(t, _)| t == wanted)
                .map(|(_, made)| made),
            None => self.default_target.as_ref(),
        };
        match target {
            Some(target) => runner.check(property, target),
            None => aborted("the property names no target and none was given".into()),
        }
    }
}

impl std::fmt::Debug for SpecProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecProperties")
            .field("spec", &self.spec)
            .field("root", &self.root)
            .field(
                "properties",
                &self.entries.iter().map(|e| &e.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One `#[test]` per property of a spec: each checks its property with the
/// suite's [`runner`](SpecProperties::runner) and fails with the report.
///
/// ```
/// use kiro_proptest::runner::SpecProperties;
/// use kiro_proptest::target::from_fn;
///
/// /// The spec's properties, with the Rust functions they call.
/// fn suite() -> SpecProperties {
///     SpecProperties::load(env!("CARGO_MANIFEST_DIR"), "codec")
///         .expect("the codec spec loads")
///         .target(from_fn(|op: &str, input: &serde_json::Value| match op {
///             "encode" => Ok(input.clone()),
///             _ => Ok(input.clone()),
///         }))
/// }
///
/// kiro_proptest::spec_tests!(suite();
///     encode_then_decode => "1",
///     normalize_is_idempotent => "2",
/// );
/// ```
#[macro_export]
macro_rules! spec_tests {
    ($suite:expr; $($name:ident => $id:literal),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                let suite = $suite;
                match suite.check(&suite.runner(), $id) {
                    Ok(report) => report.assert_passed(),
                    Err(error) => panic!("{error}"),
                }
            }
        )+
    };
}
