//! Executable correctness properties for Kiro specs.
//!
//! A correctness property in `design.md` says what must hold for all
//! inputs; with a `json kiro-property` block it names its kind, its input
//! schema and its target, and this crate turns it into a property-based test
//! that runs hundreds of generated cases and shrinks a failure to a minimal
//! counterexample mapped to the acceptance criteria it validates.
//!
//! ```
//! use kiro_proptest::{Property, Runner};
//! use kiro_proptest::target::from_fn;
//! use kiro_core::spec::PropertyKind;
//! use serde_json::{json, Value};
//!
//! let property = Property::builder("1", PropertyKind::Idempotent)
//!     .title("trimming twice is trimming once")
//!     .ops(["trim"])
//!     .input(json!({"type": "string", "maxLength": 20}))
//!     .validates(["1.1"])
//!     .build()?;
//! let trim = from_fn(|_op: &str, x: &Value| Ok(json!(x.as_str().unwrap_or("").trim())));
//! let report = Runner::new().cases(256).seed(1).check(&property, &trim);
//! assert!(report.passed(), "{report}");
//! # Ok::<(), kiro_proptest::property::PropertyError>(())
//! ```
//!
//! - [`schema`]: JSON Schema (drafts 7 and 2020-12) to proptest strategies
//!   whose every value validates against the schema.
//! - [`property`]: [`Property`], its kinds and how one is built from a
//!   spec's `CorrectnessProperty` or from Rust.
//! - [`target`]: what a property calls: a Rust closure, a JSON-lines
//!   process, an HTTP endpoint.
//! - [`runner`]: [`Runner`] (seeded cases, shrinking, regressions replayed
//!   first) and [`SpecProperties`] / [`spec_tests!`] for a whole spec.
//! - [`report`]: [`PropertyReport`], the typed verdict.
//! - [`regressions`]: stored counterexamples under `.kiro/pbt-regressions/`.
//! - [`codegen`]: a spec's executable properties as a Rust test file, one
//!   `proptest!` test per property, annotated so `kiro trace` links it.
//! - `results` (feature `engine`): a spec's properties run as `kiro pbt
//!   run` runs them, their results stored for `kiro verify` and `kiro trace`.
//! - `verifier` (feature `engine`): the pipeline's verify phase running the
//!   spec's properties before the verifier it wraps.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codegen;
pub mod property;
pub mod regressions;
pub mod report;
#[cfg(feature = "engine")]
pub mod results;
pub mod runner;
pub mod schema;
pub mod target;
#[cfg(feature = "engine")]
pub mod verifier;

pub use property::Property;
pub use report::PropertyReport;
pub use runner::{Runner, SpecProperties};
