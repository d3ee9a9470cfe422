//! kiro-llm's integration tests, one module per part, in one binary.
fn main() {}
