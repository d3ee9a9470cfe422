//! kiro-proptest's integration tests, in one binary (a test binary compiles
//! the whole crate, so there is only one).

mod conformance;
