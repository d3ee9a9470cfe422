//! kiro-memory's integration tests, one binary: one module per part of the
//! crate (store, recall, ingest, steering, eval). Add a module's `mod` line
//! at the end.

// Tests state their expectations with unwrap; a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod eval;
mod github;
mod ingest;
mod recall;
mod steering;
mod store;
