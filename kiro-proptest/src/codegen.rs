//! Rust test code from a spec's executable correctness properties.
//!
//! [`RustTests`] turns every correctness property of a spec's design that
//! has a `json kiro-property` block ([`CorrectnessProperty::formal`]) into
//! one `proptest!` test, in a file that `cargo test` compiles and runs as it
//! is (this is what `kiro pbt gen <SPEC> --lang rust` prints). Each test:
//!
//! - carries the doc comments Kiro writes, `/// **Feature: <spec>, Property
//!   N: <title>**` and `/// **Validates: Requirements 1.2, 3.1**`, so that
//!   `kiro trace` and `kiro verify` link the test (and its result) to the
//!   property and to the criteria it validates;
//! - runs `ProptestConfig::with_cases(100)`, or the property's `cases`;
//! - with a `rust` binding (`{"input_type": "Vec<u8>", "f":
//!   "codec::encode", "g": "codec::decode"}`), generates inputs with
//!   `any::<input_type>()` and calls the named functions directly, each
//!   with a reference to its input (`f(&input)`); a function may return a
//!   value or a `Result`, whose `Err` counts as the operation's error;
//!   without `input_type`, the input is a `serde_json::Value` from the
//!   input schema;
//! - otherwise, generates `serde_json::Value` inputs from the property's
//!   input schema with [`strategy_for`](crate::schema::strategy_for) and
//!   calls its ops on the property's target (a JSON-lines process, run in
//!   the workspace root, or an HTTP endpoint) through this crate's targets.
//!
//! The output is deterministic: properties in document order, identifiers
//! derived from the property's id and title (ASCII, unique within the
//! file), titles and statements in comments on one line each with control
//! characters escaped and annotation labels defused, strings and schemas
//! as Rust literals. Everything named in the spec that lands in code (Rust
//! paths and types) is checked to be a plain path or type first, so a spec
//! cannot inject code into the file.
//!
//! ```
//! use kiro_core::spec::{CorrectnessProperty, CriterionId, DesignDoc, PropertyId, Spec};
//! use kiro_proptest::codegen::RustTests;
//!
//! let formal = serde_json::from_str(
//!     r#"{"kind": "idempotent", "ops": ["normalize"],
//!         "rust": {"input_type": "String", "f": "text::normalize"}}"#,
//! )?;
//! let property = CorrectnessProperty {
//!     id: PropertyId::new("1"),
//!     title: "Normalising twice changes nothing".into(),
//!     validates: vec![CriterionId::new("2.1")],
//!     formal: Some(formal),
//!     ..Default::default()
//! };
//! let spec = Spec {
//!     name: "text".into(),
//!     design: Some(DesignDoc { properties: vec![property], ..Default::default() }),
//!     ..Default::default()
//! };
//! let code = RustTests::new(&spec).render()?;
//! assert!(code.contains("/// **Feature: text, Property 1: Normalising twice changes nothing**"));
//! assert!(code.contains("/// **Validates: Requirements 2.1**"));
//! assert!(code.contains("fn property_1_normalising_twice_changes_nothing(input in any::<String>())"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`CorrectnessProperty::formal`]: kiro_core::spec::CorrectnessProperty::formal

mod emit;
mod names;
pub mod runtime;

use kiro_core::spec::{PropertyId, PropertyKind, Spec};

/// The number of cases a generated test runs when its property names none.
pub const DEFAULT_CASES: u32 = 100;

/// Why a spec's properties could not be turned into tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// No correctness property of the spec has a `json kiro-property` block.
    #[error(
        "spec `{spec}` has no executable correctness property: give a property a \
         ```json kiro-property block after its statement"
    )]
    NoExecutableProperties {
        /// The spec's name.
        spec: String,
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
    /// The spec's name cannot stand in a `Feature: <spec>, ...` annotation.
    #[error(
        "spec name `{spec}` cannot be written in a `Feature:` annotation: \
         expected a name without spaces, commas or control characters"
    )]
    SpecName {
        /// The spec's name, control characters escaped.
        spec: String,
    },
    /// A property's block lacks something its kind needs, or combines
    /// fields that do not go together.
    #[error("property {id} ({kind}): {reason}")]
    Incomplete {
        /// The property's id.
        id: String,
        /// The property's kind.
        kind: PropertyKind,
        /// What is missing or wrong, naming the field.
        reason: String,
    },
    /// A `rust` binding field is not a Rust path (for functions) or type
    /// (for `input_type`) that can be written into code as it is.
    #[error("property {id}: `rust.{field}` is `{value}`, expected {expected}")]
    RustName {
        /// The property's id.
        id: String,
        /// The field: `input_type`, `f`, `g` or `reference`.
        field: &'static str,
        /// The value, control characters escaped.
        value: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// The crate name given for an integration test is not a Rust identifier.
    #[error("crate name `{name}` is not a Rust identifier (write `my_codec` for the package `my-codec`)")]
    CrateName {
        /// The name, control characters escaped.
        name: String,
    },
    /// A property runs no cases.
    #[error("property {id}: `cases` is 0, expected at least 1")]
    NoCases {
        /// The property's id.
        id: String,
    },
}

/// Renders a spec's executable properties as a Rust test file; see the
/// [module docs](self) for what the file holds.
///
/// ```
/// use kiro_core::spec::Spec;
/// use kiro_proptest::codegen::{CodegenError, RustTests};
///
/// // A spec without a design has nothing to generate.
/// let spec = Spec { name: "empty".into(), ..Default::default() };
/// assert!(matches!(
///     RustTests::new(&spec).render(),
///     Err(CodegenError::NoExecutableProperties { .. })
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct RustTests<'a> {
    spec: &'a Spec,
    only: Vec<PropertyId>,
    default_cases: u32,
    crate_name: Option<String>,
}

impl<'a> RustTests<'a> {
    /// Tests for every executable property of `spec`, with
    /// [`DEFAULT_CASES`] cases where a property names no number.
    pub fn new(spec: &'a Spec) -> Self {
        RustTests {
            spec,
            only: Vec::new(),
            default_cases: DEFAULT_CASES,
            crate_name: None,
        }
    }

    /// Only these properties (in the design's order, whatever the order
    /// here); each must exist and be executable, else [`render`](Self::render)
    /// fails naming it. Empty means every executable property.
    pub fn properties(mut self, ids: impl IntoIterator<Item = PropertyId>) -> Self {
        self.only = ids.into_iter().collect();
        self
    }

    /// The number of cases of a property whose block has no `cases`.
    pub fn default_cases(mut self, cases: u32) -> Self {
        self.default_cases = cases;
        self
    }

    /// The file is an integration test (`tests/*.rs`) of the library crate
    /// `name` (as written in Rust, `my_codec`): Rust paths of the bindings
    /// that start with `crate::` name that crate instead, since `crate` is
    /// the test itself there. Without it, paths are written as given, which
    /// suits a test module inside the library.
    pub fn crate_name(mut self, name: impl Into<String>) -> Self {
        self.crate_name = Some(name.into());
        self
    }

    /// The test file.
    ///
    /// # Errors
    /// - [`CodegenError::NoExecutableProperties`] when no property (of
    ///   those asked for) has a `json kiro-property` block;
    /// - [`CodegenError::UnknownProperty`] / [`CodegenError::NotExecutable`]
    ///   for a property asked for that does not exist / has no block;
    /// - [`CodegenError::SpecName`], [`CodegenError::Incomplete`],
    ///   [`CodegenError::RustName`], [`CodegenError::NoCases`] when a test
    ///   cannot be written for what the spec says.
    pub fn render(&self) -> Result<String, CodegenError> {
        self.generate().map(|file| file.code)
    }

    /// The test file with what it holds: the test written for each
    /// property, and the properties left out for want of a block.
    ///
    /// # Errors
    /// As [`render`](Self::render).
    pub fn generate(&self) -> Result<TestFile, CodegenError> {
        emit::render(self)
    }
}

/// A generated test file and what it holds; see [`RustTests::generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestFile {
    /// The Rust source.
    pub code: String,
    /// One test per property, in the file's order.
    pub tests: Vec<GeneratedTest>,
    /// The properties of the design that have no `json kiro-property`
    /// block, in document order (the file's header names them).
    pub skipped: Vec<PropertyId>,
}

/// One generated test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GeneratedTest {
    /// The property it checks.
    pub property: PropertyId,
    /// The test function's name (what `cargo test` reports).
    pub name: String,
}
