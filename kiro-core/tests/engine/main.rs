//! The engine's integration tests in one binary (each test binary links the
//! whole crate, so CI spends its time linking): audit log, checkpoints, the
//! command executor and sandbox, config, default stages, the pipeline,
//! processes, reports, trace, verify and the workspace.
// Test helpers assert by unwrapping and panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod checkpoint;
mod command_executor;
mod config;
mod default_stages;
mod governance;
mod pipeline;
mod process;
mod report;
mod trace;
mod verify;
mod workspace;

// Helpers shared by the modules above.
#[path = "../support/fixtures.rs"]
mod fixtures;
mod git_runs;
mod identity;
mod multirepo;
#[path = "../support/oidc.rs"]
mod oidc;
mod tasks_usecase;
#[path = "../support/tree.rs"]
mod whole_tree;
