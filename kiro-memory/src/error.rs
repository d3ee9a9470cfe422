//! The crate's one error type.

use std::fmt;
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
    NotFound(i64),
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
        failure: GitHubFailure,
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

/// Why a GitHub request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitHubFailure {
    /// The rate limit is spent; `reset` is when it refills (unix seconds,
    /// from `x-ratelimit-reset`), `retry_after` how long to wait (seconds).
    RateLimited {
        /// `x-ratelimit-reset`, when given.
        reset: Option<u64>,
        /// `retry-after`, when given.
        retry_after: Option<u64>,
    },
    /// 401 or 403: no token, a bad one, or one without access.
    Forbidden {
        /// The status.
        status: u16,
        /// GitHub's `message`, cut short.
        message: String,
    },
    /// 404: no such pull request, or a private repository the token cannot see.
    NotFound,
    /// Another unexpected status.
    Status {
        /// The status.
        status: u16,
        /// GitHub's `message` or the body, cut short.
        message: String,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    Transport(String),
    /// A page was not the JSON array GitHub sends.
    Body(String),
    /// A `next` link pointed elsewhere than the API's origin, or pages
    /// looped or went on past [`MAX_PAGES`](crate::github::MAX_PAGES).
    Pagination(String),
    /// Not `OWNER/REPO#N`.
    InvalidPullRequest(String),
}

impl fmt::Display for GitHubFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitHubFailure::RateLimited { reset, retry_after } => {
                f.write_str("rate limited")?;
                if let Some(seconds) = retry_after {
                    write!(f, ", retry after {seconds} s")?;
                }
                if let Some(reset) = reset {
                    write!(f, ", the limit resets at unix time {reset}")?;
                }
                Ok(())
            }
            GitHubFailure::Forbidden { status, message } => {
                write!(f, "access denied ({status}): {message}; is GITHUB_TOKEN set and allowed to read pull requests?")
            }
            GitHubFailure::NotFound => {
                f.write_str("not found (404): no such pull request, or a private repository the token cannot read")
            }
            GitHubFailure::Status { status, message } => write!(f, "unexpected status {status}: {message}"),
            GitHubFailure::Transport(message) => write!(f, "no answer: {message}"),
            GitHubFailure::Body(message) => write!(f, "unreadable page: {message}"),
            GitHubFailure::Pagination(message) => write!(f, "bad pagination: {message}"),
            GitHubFailure::InvalidPullRequest(text) => {
                write!(f, "{text:?} is not a pull request, expected OWNER/REPO#NUMBER")
            }
        }
    }
}
