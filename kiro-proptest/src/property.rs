//! Executable correctness properties.
//!
//! A [`Property`] says what must hold for every input its `input` schema
//! generates; its [`PropertyKind`] decides which operations it calls and
//! what it compares:
//!
//! | kind | ops | holds when |
//! |---|---|---|
//! | `round-trip` | `[f, g]` | `g(f(x)) == x` |
//! | `idempotent` | `[f]` | `f(f(x)) == f(x)` |
//! | `invariant` | `[f]` | `f(x)` validates against `output`, and the Rust predicate (if any) accepts `(x, f(x))` |
//! | `oracle` | `[f]` | `f(x)` and `reference(x)` give the same value, or both refuse `x` |
//! | `permutation-invariant` | `[f]` | `f(x)` and `f(shuffle(x))` give the same value, or both refuse (arrays are shuffled; other inputs are passed as they are) |
//! | `no-error` | `[f]` | `f(x)` is a value, not an error |
//! | `rejects-invalid` | `[f]` | `f(y)` is an error for inputs `y` *outside* the schema |
//!
//! Values compare as JSON, numbers by value (`1` equals `1.0`), so targets
//! in other languages can answer in their own number style. A target
//! failure (crash, timeout) fails every kind.
//!
//! Build one from a spec's [`CorrectnessProperty`] with
//! [`Property::from_spec`], or from Rust with [`Property::builder`].

mod invalid;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use kiro_core::spec::{CorrectnessProperty, CriterionId, PropertyId, PropertyKind};
use serde_json::Value;

use crate::schema::{strategy_for, SchemaError};
use crate::target::{self, Target};

pub(crate) use invalid::invalid_strategy;

/// A Rust check of an invariant: `Ok(())` when `output` is right for
/// `input`, else why not.
pub type Predicate = Arc<dyn Fn(&Value, &Value) -> Result<(), String> + Send + Sync>;

/// An executable correctness property. See the [module docs](self) for the
/// kinds.
///
/// ```
/// use kiro_proptest::property::Property;
/// use kiro_core::spec::PropertyKind;
/// use serde_json::json;
///
/// let property = Property::builder("3", PropertyKind::Invariant)
///     .title("sorting keeps the length")
///     .ops(["sort"])
///     .input(json!({"type": "array", "items": {"type": "integer"}}))
///     .predicate(|input, output| {
///         let same = input.as_array().map(Vec::len) == output.as_array().map(Vec::len);
///         if same { Ok(()) } else { Err("length changed".into()) }
///     })
///     .validates(["1.2"])
///     .build()?;
/// assert_eq!(property.kind, PropertyKind::Invariant);
/// # Ok::<(), kiro_proptest::property::PropertyError>(())
/// ```
#[derive(Clone)]
pub struct Property {
    /// The property number in the spec (`"1"`), or any name.
    pub id: PropertyId,
    /// What it asserts, in words.
    pub title: String,
    /// What it checks.
    pub kind: PropertyKind,
    /// The operations it calls (two for a round trip, one otherwise).
    pub ops: Vec<String>,
    /// JSON Schema of the generated inputs.
    pub input: Value,
    /// For invariants: JSON Schema every output validates against.
    pub output: Option<Value>,
    /// For invariants: a Rust check over input and output.
    pub predicate: Option<Predicate>,
    /// For oracles: the reference implementation.
    pub reference: Option<Reference>,
    /// The acceptance criteria it validates.
    pub validates: Vec<CriterionId>,
    /// Cases to run when the runner is not told a number.
    pub cases: Option<u32>,
    /// The spec it belongs to (names its regressions file's folder).
    pub spec: Option<String>,
}

/// An oracle's reference: the operation to call on another target.
#[derive(Clone)]
pub struct Reference {
    /// The operation's name on the reference target.
    pub op: String,
    /// The reference implementation.
    pub target: Arc<dyn Target + Send + Sync>,
}

/// Why a property cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    /// The correctness property has no `json kiro-property` block.
    #[error("property {id} has no `json kiro-property` block")]
    NotExecutable {
        /// The property.
        id: PropertyId,
    },
    /// The kind calls a different number of operations.
    #[error("property {id}: a {kind} property calls {expected} op(s), found {found}")]
    Ops {
        /// The property.
        id: PropertyId,
        /// Its kind.
        kind: PropertyKind,
        /// How many the kind calls.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// An invariant has neither an output schema nor a predicate.
    #[error("property {id}: an invariant needs an `output` schema or a predicate")]
    MissingOutput {
        /// The property.
        id: PropertyId,
    },
    /// An oracle has no usable reference.
    #[error("property {id}: an oracle needs a `reference` with an op and exactly one of `process` and `http`")]
    MissingReference {
        /// The property.
        id: PropertyId,
    },
    /// Values cannot be generated from the input schema.
    #[error("property {id}: cannot generate inputs: {source}")]
    Input {
        /// The property.
        id: PropertyId,
        /// The generator's reason.
        source: SchemaError,
    },
    /// A schema is not valid JSON Schema.
    #[error("property {id}: the {which} schema is invalid: {message}")]
    InvalidSchema {
        /// The property.
        id: PropertyId,
        /// `input` or `output`.
        which: &'static str,
        /// The validator's message.
        message: String,
    },
}

impl Property {
    /// A builder for a property of `kind`, input schema `true` (any value)
    /// until [`PropertyBuilder::input`] says otherwise.
    pub fn builder(id: impl Into<PropertyId>, kind: PropertyKind) -> PropertyBuilder {
        PropertyBuilder {
            property: Property {
                id: id.into(),
                title: String::new(),
                kind,
                ops: Vec::new(),
                input: Value::Bool(true),
                output: None,
                predicate: None,
                reference: None,
                validates: Vec::new(),
                cases: None,
                spec: None,
            },
        }
    }

    /// The property a spec's correctness property describes with its
    /// `json kiro-property` block (`formal`); an oracle's process reference
    /// runs in the current directory (see [`Property::from_spec_in`]).
    ///
    /// ```
    /// use kiro_core::spec::{CorrectnessProperty, PropertySpec};
    /// use kiro_proptest::property::Property;
    ///
    /// let formal: PropertySpec = serde_json::from_str(
    ///     r#"{"kind": "idempotent", "ops": ["normalize"], "input": {"type": "string"}}"#,
    /// )?;
    /// let written = CorrectnessProperty {
    ///     id: "2".into(),
    ///     title: "Normalising twice changes nothing".into(),
    ///     validates: vec!["1.3".into()],
    ///     formal: Some(formal),
    ///     ..Default::default()
    /// };
    /// let property = Property::from_spec(&written)?;
    /// assert_eq!(property.ops, ["normalize"]);
    /// assert_eq!(property.validates, written.validates);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_spec(property: &CorrectnessProperty) -> Result<Property, PropertyError> {
        Property::from_spec_in(property, Path::new("."))
    }

    /// As [`Property::from_spec`], with an oracle's process reference run
    /// in `workspace_root`, as the spec format says.
    pub fn from_spec_in(
        property: &CorrectnessProperty,
        workspace_root: &Path,
    ) -> Result<Property, PropertyError> {
        let id = property.id.clone();
        let formal = property
            .formal
            .as_ref()
            .ok_or_else(|| PropertyError::NotExecutable { id: id.clone() })?;
        let reference = match &formal.reference {
            None => None,
            Some(r) => {
                let target = r
                    .target()
                    .ok_or_else(|| PropertyError::MissingReference { id: id.clone() })?;
                Some(Reference {
                    op: r.op.clone(),
                    target: target::from_spec(&target, workspace_root),
                })
            }
        };
        let built = Property {
            id,
            title: property.title.clone(),
            kind: formal.kind,
            ops: formal.ops.clone(),
            input: formal.input.clone(),
            output: formal.output.clone(),
            predicate: None,
            reference,
            validates: property.validates.clone(),
            cases: formal.cases,
            spec: None,
        };
        built.validate()?;
        Ok(built)
    }

    /// Checks that the property can run: the ops its kind calls, what its
    /// kind needs (output or predicate, reference), and its schemas.
    pub fn validate(&self) -> Result<(), PropertyError> {
        let id = || self.id.clone();
        let expected = self.kind.ops_needed();
        if self.ops.len() != expected {
            return Err(PropertyError::Ops {
                id: id(),
                kind: self.kind,
                expected,
                found: self.ops.len(),
            });
        }
        match self.kind {
            PropertyKind::Invariant if self.output.is_none() && self.predicate.is_none() => {
                return Err(PropertyError::MissingOutput { id: id() });
            }
            PropertyKind::Oracle if self.reference.is_none() => {
                return Err(PropertyError::MissingReference { id: id() });
            }
            _ => {}
        }
        // Built only to surface a schema the generator refuses when the
        // property is built rather than at its first run.
        let _ = strategy_for(&self.input)
            .map_err(|source| PropertyError::Input { id: id(), source })?;
        compile(&self.input).map_err(|message| PropertyError::InvalidSchema {
            id: id(),
            which: "input",
            message,
        })?;
        if let Some(output) = &self.output {
            compile(output).map_err(|message| PropertyError::InvalidSchema {
                id: id(),
                which: "output",
                message,
            })?;
        }
        Ok(())
    }
}

/// A validator for `schema` (formats asserted: a schema that says
/// `"format": "email"` means it).
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Property")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("kind", &self.kind)
            .field("ops", &self.ops)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("predicate", &self.predicate.as_ref().map(|_| "<closure>"))
            .field("reference", &self.reference.as_ref().map(|r| &r.op))
            .field("validates", &self.validates)
            .field("cases", &self.cases)
            .field("spec", &self.spec)
            .finish()
    }
}

/// Builds a [`Property`] from Rust; see [`Property::builder`].
#[derive(Debug)]
pub struct PropertyBuilder {
    property: Property,
}

impl PropertyBuilder {
    /// What the property asserts, in words.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.property.title = title.into();
        self
    }

    /// The operations it calls.
    pub fn ops<I, S>(mut self, ops: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.property.ops = ops.into_iter().map(Into::into).collect();
        self
    }

    /// JSON Schema of the generated inputs.
    pub fn input(mut self, schema: Value) -> Self {
        self.property.input = schema;
        self
    }

    /// For invariants: JSON Schema every output must validate against.
    pub fn output(mut self, schema: Value) -> Self {
        self.property.output = Some(schema);
        self
    }

    /// For invariants: a check over input and output (with an output
    /// schema, both must accept).
    pub fn predicate<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Value, &Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.property.predicate = Some(Arc::new(predicate));
        self
    }

    /// For oracles: the reference implementation, operation `op` of
    /// `target`.
    pub fn reference<T>(mut self, op: impl Into<String>, target: T) -> Self
    where
        T: Target + Send + Sync + 'static,
    {
        self.property.reference = Some(Reference {
            op: op.into(),
            target: Arc::new(target),
        });
        self
    }

    /// The acceptance criteria it validates (`"1.2"`).
    pub fn validates<I, S>(mut self, criteria: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<CriterionId>,
    {
        self.property.validates = criteria.into_iter().map(Into::into).collect();
        self
    }

    /// Cases to run when the runner is not told a number.
    pub fn cases(mut self, cases: u32) -> Self {
        self.property.cases = Some(cases);
        self
    }

    /// The spec it belongs to.
    pub fn spec(mut self, spec: impl Into<String>) -> Self {
        self.property.spec = Some(spec.into());
        self
    }

    /// The property, once [`Property::validate`] accepts it.
    pub fn build(self) -> Result<Property, PropertyError> {
        self.property.validate()?;
        Ok(self.property)
    }
}
