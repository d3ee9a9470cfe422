//! CLI tests of the enterprise features (issue 16), one module per part:
//! the MCP server and the CI recipe (G4).
// Test helpers assert by unwrapping and panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod ci;
mod mcp;
