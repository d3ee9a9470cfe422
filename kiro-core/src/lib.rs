//! Spec-driven development as a library: the Kiro spec model, its markdown
//! format, EARS parsing and linting.
//!
//! ```
//! use kiro_core::format::parse_requirements;
//! use kiro_core::spec::EarsPattern;
//!
//! let src = concat!(
//!     "# Requirements Document\n\n",
//!     "## Requirements\n\n",
//!     "### Requirement 1: Login\n\n",
//!     "**User Story:** As a user, I want to sign in, so that I see my data.\n\n",
//!     "#### Acceptance Criteria\n\n",
//!     "1. WHEN a user submits valid credentials, THE Auth_Service SHALL create a session\n",
//! );
//! let doc = parse_requirements(src).value;
//! let c = &doc.requirements[0].criteria[0];
//! assert_eq!(c.id.as_str(), "1.1");
//! assert_eq!(c.ears.as_ref().map(|e| e.pattern), Some(EarsPattern::EventDriven));
//! ```
//!
//! # Features
//! - `engine` (default): running specs and the evidence a run leaves (the
//!   modules of the second list below), with tokio, petgraph's scheduler,
//!   toml, globset, ignore, sha2, quick-xml and nix.
//! - `landlock` (default, implies `engine`): Landlock write confinement of
//!   agents on Linux; without it the sandbox reports Landlock unavailable.
//!
//! With `default-features = false`, kiro-core is the model, the format,
//! EARS, lint, the store and the memory seam, and needs no async runtime.
//!
//! # Modules
//! - [`spec`]: the model: [`spec::Spec`] and its documents, plain serde/schemars data.
//! - [`format`](mod@format): parse and render `requirements.md`, `bugfix.md`, `design.md`, `tasks.md`.
//! - [`lexicon`]: the one word list every parser, the template designer and lint use.
//! - [`ears`]: classify acceptance criteria into EARS patterns.
//! - [`lint`]: diagnostics (stable `K0001`... codes) as human text, JSON and SARIF 2.1.0.
//! - [`store`]: load and save `.kiro/specs/<name>/` folders atomically.
//! - [`plan`]: the task graph of `tasks.md` and what makes it ambiguous, shared by lint and
//!   the engine so that both read a plan the same way.
//! - [`memory`]: the `MemoryRecall` seam: what a memory store recalls for a task.
//! - [`redact`]: secret values of the environment replaced by `[redacted:NAME]`.
//! - [`escape`]: control characters shown visibly in terminal output.
//!
//! With the `engine` feature:
#![cfg_attr(
    feature = "engine",
    doc = r#"
- [`config`]: `.kiro/config.toml`, typed, with errors that point at the line.
- [`stage`]: one async trait per stage (`RequirementsParser`, `Designer`, `TaskPlanner`,
  `Executor`, `Verifier`), plus `Node` and `Approver`, and the `StageContext` they get.
- [`stages`]: the default, deterministic stages, and `CommandExecutor`/`CommandVerifier`
  that plug in any agent CLI and test runner.
- [`pipeline`]: the engine: phases, gates, a petgraph task DAG run concurrently on tokio,
  checkpoints, resume, rollback and fork.
- [`process`]: external commands with timeouts that kill the whole process group.
- [`sandbox`]: Landlock write confinement, parent-death signal and per-task cgroups for agents.
- [`verify`]: test annotations, JUnit and `cargo test` results, per-criterion verdicts.
- [`trace`]: the requirement → criterion → property → task → file → test graph and coverage.
- [`report`]: the traceability matrix and its renderers.
- [`audit`]: the append-only, hash-chained audit log, with its heads kept under `.kiro/runs/`.
- [`git`]: the git work trees of a run (branch `kiro/<spec>`, a commit per task) through the `git` program.
- [`checkpoint`]: crash-safe checkpoints of runs, content-addressed blobs, rollback and fork.
- [`workspace`]: sandboxed, journaled file access to named repositories, policy, change scans.
- [`project`]: the use cases of a workspace (run, status, verify, trace, rollback, fork),
  audited and locked, with the JSON types the CLI prints.
"#
)]
#![cfg_attr(
    not(feature = "engine"),
    doc = r#"
`config`, `git`, `stage`, `stages`, `pipeline`, `process`, `sandbox`, `verify`, `trace`, `report`,
`audit`, `checkpoint`, `workspace` and `project` (not in this build).
"#
)]
//!
//! kiro-core performs no network I/O; stages touch files only through
//! `workspace::Workspace` or commands its policy allows.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Always built: the model, its markdown format, EARS, lint, the store and
// the seams sibling crates implement. Nothing here needs an async runtime.
pub mod ears;
mod error;
pub mod escape;
pub mod format;
pub mod lexicon;
pub mod links;
pub mod lint;
pub mod memory;
pub mod plan;
pub mod redact;
pub mod spec;
pub mod store;
mod text;

// The `engine` feature: running specs and the evidence a run leaves.
#[cfg(feature = "engine")]
pub mod audit;
#[cfg(feature = "engine")]
pub mod checkpoint;
#[cfg(feature = "engine")]
pub mod config;
#[cfg(feature = "engine")]
pub mod git;
#[cfg(feature = "engine")]
pub mod governance;
#[cfg(feature = "engine")]
pub mod identity;
#[cfg(feature = "engine")]
pub mod pipeline;
#[cfg(feature = "engine")]
pub mod process;
#[cfg(feature = "engine")]
pub mod project;
#[cfg(feature = "engine")]
pub mod report;
#[cfg(feature = "engine")]
pub mod sandbox;
#[cfg(feature = "engine")]
pub mod stage;
#[cfg(feature = "engine")]
pub mod stages;
#[cfg(feature = "engine")]
pub mod trace;
#[cfg(feature = "engine")]
pub mod verify;
#[cfg(feature = "engine")]
pub mod workspace;

#[cfg(test)]
mod layers;

pub use error::{Error, Result};
pub use spec::Spec;

/// The README's Rust examples, compiled and run as doctests (they use the
/// engine).
#[cfg(all(doctest, feature = "engine"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
