//! The text layer's integration tests in one binary: EARS, the four
//! document formats, parser fuzzing, lint and the model's JSON round trip.
//! The fixture corpus check stays its own binary (`tests/corpus.rs`), which
//! CI runs with its output shown.
// Test helpers assert by unwrapping and panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ears;
mod format_bugfix;
mod format_design;
mod format_requirements;
mod format_tasks;
mod fuzz_parsers;
mod lint;
mod model_roundtrip;

// Helpers shared by the modules above.
#[path = "../support/fixtures.rs"]
mod fixtures;
