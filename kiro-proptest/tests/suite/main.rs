//! kiro-proptest's integration tests: one binary, one module per part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod codegen;
