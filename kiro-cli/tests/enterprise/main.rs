//! End-to-end tests of issue 16's enterprise features (multi-repository
//! workspaces, git per task, governance, verified identity, MCP, CI output),
//! one module per part; each spawns the real `kiro` binary.

// Test helpers assert by unwrapping and panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod ci;
mod governance;
mod identity;
mod mcp;
mod multirepo;
#[path = "../../../kiro-core/tests/support/oidc.rs"]
mod oidc;
