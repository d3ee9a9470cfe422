//! kiro-proptest's integration tests, in one binary (a test binary compiles
//! the whole crate, so there is only one), one module per part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod codegen;
mod conformance;
mod results;
mod runner;
