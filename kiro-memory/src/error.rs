//! The crate's one error type.

use std::path::PathBuf;

/// What failed in a memory store, with the file, record or field it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The database file could not be opened or set up (WAL, busy timeout).
    #[error("cannot open memory database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A directory for the database could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A migration step failed; the database stays at the version before it.
    #[error("cannot migrate memory database to schema version {version}: {source}")]
    Migration {
        /// The schema version the failed step leads to.
        version: u32,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database was written by a newer kiro-memory than this one.
    #[error(
        "memory database has schema version {found}, this kiro-memory knows up to {supported}"
    )]
    FutureSchema {
        /// The database's `user_version`.
        found: u32,
        /// The newest version this code migrates to.
        supported: u32,
    },
    /// A query or update failed.
    #[error("memory store cannot {operation}: {source}")]
    Sqlite {
        /// What the store was doing ("add a memory", "recall").
        operation: &'static str,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A stored or given field holds a value the model does not accept.
    #[error("memory {id}: field `{field}` is {value:?}, expected {expected}")]
    InvalidField {
        /// The memory's id, or `new` for one not stored yet.
        id: String,
        /// The field's name.
        field: &'static str,
        /// The value found (cut to 80 characters).
        value: String,
        /// What the field must hold.
        expected: &'static str,
    },
    /// A path-glob scope is not a valid glob.
    #[error("invalid path glob {glob:?} in a memory's scope: {source}")]
    InvalidGlob {
        /// The glob.
        glob: String,
        /// What globset said.
        source: globset::Error,
    },
    /// The database failed its integrity check.
    #[error("memory database {path} is damaged: {}", problems.join("; "))]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What `PRAGMA integrity_check` reported.
        problems: Vec<String>,
    },
    /// No memory has this id.
    #[error("no memory with id {0}")]
    NotFound(crate::model::MemoryId),
    /// A file to ingest could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// An ingest input (GitHub JSON) could not be read.
    #[error("{source_name}:{line}:{column}: expected {expected}: {message}")]
    Parse {
        /// The input's name (a file, a URL).
        source_name: String,
        /// The line where reading stopped (1-based).
        line: usize,
        /// The column where reading stopped (1-based).
        column: usize,
        /// What the input should have held.
        expected: &'static str,
        /// What the parser said.
        message: String,
    },
    /// A GitHub REST API request failed.
    #[error("GitHub API {url}: {failure}")]
    GitHub {
        /// The URL requested (never holds the token); empty when no
        /// request was made.
        url: String,
        /// What went wrong.
        failure: crate::github::GitHubFailure,
    },
    /// An integrator's own error (an LLM distiller's, a remote store's).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl MemoryError {
    /// A [`MemoryError::Sqlite`] for `operation`, to use with `map_err`.
    pub(crate) fn sqlite(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> MemoryError {
        move |source| MemoryError::Sqlite { operation, source }
    }

    /// A [`MemoryError::InvalidField`] whose value is cut to 80 characters,
    /// so a hostile megabyte does not end up in a log line.
    pub(crate) fn invalid_field(
        id: impl ToString,
        field: &'static str,
        value: &str,
        expected: &'static str,
    ) -> MemoryError {
        MemoryError::InvalidField {
            id: id.to_string(),
            field,
            value: value.chars().take(80).collect(),
            expected,
        }
    }
}

/// A result whose error is a [`MemoryError`].
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;
