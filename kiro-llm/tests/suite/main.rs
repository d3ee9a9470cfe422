//! kiro-llm's integration tests, one module per part, in one binary.

// Helpers outside #[test] functions (the server, clients) unwrap too:
// a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acp;
mod agent;
mod anthropic;
mod bedrock;
mod cache;
mod config;
mod openai;
mod reliability;
mod server;
mod stages;
mod structured;
