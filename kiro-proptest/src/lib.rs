//! Executable correctness properties for Kiro specs.
//!
//! A correctness property in `design.md` says what must hold for all
//! inputs; with a `json kiro-property` block it names its kind, its input
//! schema and its target, and this crate turns it into a property-based test
//! that runs hundreds of generated cases and shrinks a failure to a minimal
//! counterexample mapped to the acceptance criteria it validates.
//!
//! - [`schema`]: JSON Schema (drafts 7 and 2020-12) to proptest strategies
//!   whose every value validates against the schema.
//! - [`codegen`]: a spec's executable properties as a Rust test file, one
//!   `proptest!` test per property, annotated so `kiro trace` links it.
pub mod codegen;
pub mod schema;
