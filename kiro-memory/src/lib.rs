//! Persistent memory for kiro: lessons from review feedback, rules and
//! steering, kept in a local SQLite file and recalled into prompts within
//! a token budget.
//!
//! ```
//! use kiro_memory::{AddOutcome, Kind, MemoryStore, NewMemory, RecallContext, Scope, Source};
//!
//! let store = MemoryStore::open_in_memory()?; // `open_workspace(root)` for `.kiro/memory.db`
//! let old = store.add(NewMemory::new("Use anyhow for errors in library crates"))?;
//! let new = store.add(
//!     NewMemory::new("Use thiserror for errors in library crates")
//!         .kind(Kind::Rule)
//!         .source(Source::url("https://github.com/o/r/pull/7#discussion_r1").author("ana").pr(7)),
//! )?;
//! // The later guidance supersedes the earlier one in the same scope.
//! assert_eq!(new, AddOutcome::Superseded { id: new.id(), old: vec![old.id()] });
//!
//! let recalled = store.recall(&RecallContext::new("define the error type of the parser crate"), 1_000)?;
//! assert_eq!(recalled.len(), 1);
//! assert!(recalled[0].memory.content.contains("thiserror"));
//! # Ok::<(), kiro_memory::MemoryError>(())
//! ```
//!
//! - [`model`]: the plain data: [`MemoryRecord`], [`NewMemory`], [`Kind`],
//!   [`Scope`], [`Source`], [`RecallContext`], [`RecalledMemory`].
//! - [`store`]: [`MemoryStore`]: the database (WAL, FTS5, migrations),
//!   add / get / list / search / forget / recall.
//! - [`reconcile`]: when a new memory merges into a stored one or
//!   supersedes it.
//! - [`recall`]: how recall chooses and ranks memories.
//! - [`ingest`]: review comments (GitHub's JSON) and notes turned into
//!   lessons: the [`Distiller`](ingest::Distiller) trait, its deterministic
//!   default, and the screen against agent-addressed content.
//! - [`github`]: a pull request's review comments and reviews from the
//!   GitHub REST API (paginated, blocking).
//! - [`steering`]: `.kiro/steering/*.md` and JSON to and from memories.
//! - [`error`]: the crate's error, [`MemoryError`].
//!
//! [`MemoryStore`] implements kiro-core's
//! [`MemoryRecall`], so the pipeline's
//! stages receive what it recalls. The store is synchronous; the trait's
//! async `recall` calls it directly (a recall takes milliseconds).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod github;
pub mod ingest;
pub mod model;
pub mod recall;
pub mod reconcile;
mod rows;
mod schema;
pub mod steering;
pub mod store;
mod text;

pub use error::{MemoryError, Result};
pub use model::{
    AddOutcome, Kind, ListFilter, MemoryId, MemoryRecord, NewMemory, RecallContext, RecalledMemory,
    Scope, SearchHit, Source,
};
pub use schema::SCHEMA_VERSION;
pub use store::{MemoryStore, MemoryStoreBuilder};

use async_trait::async_trait;
use kiro_core::memory::{MemoryRecall, RecallRequest, Recalled};

/// The pipeline's seam: a [`RecallRequest`] becomes a [`RecallContext`]
/// (text, paths, repositories, spec) and the store's answer becomes
/// kiro-core's [`Recalled`], each with its strongest reason. Store errors
/// are [`kiro_core::Error::Backend`].
#[async_trait]
impl MemoryRecall for MemoryStore {
    async fn recall(&self, request: &RecallRequest) -> kiro_core::Result<Vec<Recalled>> {
        let context = RecallContext::from(request);
        let recalled = MemoryStore::recall(self, &context, request.budget_tokens)
            .map_err(|e| kiro_core::Error::Backend(Box::new(e)))?;
        Ok(recalled
            .into_iter()
            .map(|r| Recalled {
                memory: r.memory.to_core(),
                reason: r
                    .reasons
                    .into_iter()
                    .next()
                    .unwrap_or(kiro_core::memory::RecallReason::Always),
                tokens: r.tokens,
            })
            .collect())
    }
}
