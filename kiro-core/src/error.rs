//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `kiro-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file does not follow the Kiro format at a position (strict mode).
    #[error("{}:{line}:{column}: {message} (expected {expected})", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What was found.
        message: String,
        /// What was expected.
        expected: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (`.config.kiro`, `spec.json`) is not valid JSON.
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// A file is not UTF-8 text.
    #[error("{}: not UTF-8 text (byte {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A directory is not a spec folder.
    #[error("{}: not a spec folder (expected requirements.md, bugfix.md, design.md or tasks.md)", path.display())]
    NotASpec {
        /// The directory.
        path: PathBuf,
    },
    /// A spec name is not usable as a folder name.
    #[error("invalid spec name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// A task path (`[top, sub, ...]` indexes) names no task of a `tasks.md`.
    #[error("no task at path {path:?}")]
    TaskNotFound {
        /// The path that was looked up.
        path: Vec<usize>,
    },
    /// An integrator's error.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
