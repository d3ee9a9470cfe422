//! End-to-end tests of issue 16's enterprise features (multi-repository
//! workspaces, git per task, governance, verified identity, MCP, CI output),
//! one module per part; each spawns the real `kiro` binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

#[path = "../common/mod.rs"]
mod common;

mod multirepo;
