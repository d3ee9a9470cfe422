//! Stored counterexamples, replayed before new cases.
//!
//! A failure found by generation is appended to
//! `<dir>/<spec>/<property>.json` (conventionally `dir` is
//! `.kiro/pbt-regressions`); the next run of the property replays every
//! stored case first, so a bug once found stays found whatever the seed.
//! Files are written atomically (temporary file, `fsync`, `rename`, folder
//! `fsync`) and are meant to be committed with the code.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The conventional folder, relative to the workspace root.
pub const DEFAULT_DIR: &str = ".kiro/pbt-regressions";

/// One property's stored counterexamples (the file's JSON).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RegressionFile {
    /// The property number.
    pub property: String,
    /// Its title when stored (for people reading the file).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The cases, oldest first.
    pub cases: Vec<StoredCase>,
}

/// A stored failing case.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredCase {
    /// The input.
    pub input: Value,
    /// For permutation-invariant properties: the shuffle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<u64>,
    /// Why it failed when found.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The seed of the run that found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Why a regressions file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RegressionError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a regressions file.
    #[error("{} is not a regressions file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kiro_core::Error,
    },
}

/// The regressions folder of a workspace.
///
/// ```
/// use kiro_proptest::regressions::{RegressionStore, StoredCase};
/// let dir = tempfile::tempdir()?;
/// let store = RegressionStore::new(dir.path());
/// let case = StoredCase { input: serde_json::json!("\\"), shuffle: None, message: "no round trip".into(), seed: Some(1) };
/// store.record(Some("codec"), "1", "round trip", &case)?;
/// store.record(Some("codec"), "1", "round trip", &case)?; // already there: kept once
/// assert_eq!(store.load(Some("codec"), "1")?, vec![case]);
/// assert!(store.path(Some("codec"), "1").ends_with("codec/1.json"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RegressionStore {
    dir: PathBuf,
}

impl RegressionStore {
    /// The store under `dir` (e.g. `<workspace>/.kiro/pbt-regressions`).
    pub fn new(dir: impl Into<PathBuf>) -> RegressionStore {
        RegressionStore { dir: dir.into() }
    }

    /// The file of a property: `<dir>/<spec>/<property>.json`, or
    /// `<dir>/<property>.json` without a spec; names are reduced to
    /// letters, digits, `.`, `-` and `_` so no id escapes the folder.
    pub fn path(&self, spec: Option<&str>, property: &str) -> PathBuf {
        let mut path = self.dir.clone();
        if let Some(spec) = spec {
            path.push(file_name(spec));
        }
        path.push(format!("{}.json", file_name(property)));
        path
    }

    /// The stored cases of a property (none when it has no file).
    pub fn load(
        &self,
        spec: Option<&str>,
        property: &str,
    ) -> Result<Vec<StoredCase>, RegressionError> {
        Ok(read(&self.path(spec, property))?.cases)
    }

    /// Adds a case to a property's file unless an equal input is already
    /// stored.
    pub fn record(
        &self,
        spec: Option<&str>,
        property: &str,
        title: &str,
        case: &StoredCase,
    ) -> Result<(), RegressionError> {
        let path = self.path(spec, property);
        let mut file = read(&path)?;
        if file
            .cases
            .iter()
            .any(|c| c.input == case.input && c.shuffle == case.shuffle)
        {
            return Ok(());
        }
        file.property = property.to_owned();
        file.title = title.to_owned();
        file.cases.push(case.clone());
        let mut text =
            serde_json::to_string_pretty(&file).map_err(|source| RegressionError::Parse {
                path: path.clone(),
                source,
            })?;
        text.push('\n');
        kiro_core::store::write_atomic(&path, text.as_bytes())
            .map_err(|source| RegressionError::Write { path, source })
    }
}

fn read(path: &Path) -> Result<RegressionFile, RegressionError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| RegressionError::Parse {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegressionFile::default()),
        Err(source) => Err(RegressionError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// `name` with every character outside `[A-Za-z0-9._-]` replaced by `_`,
/// and a leading dot too (no hidden files, no `..`).
fn file_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        for (name, expected) in [
            ("1", "1"),
            ("3a", "3a"),
            ("..", "_.."),
            ("../x", "_.._x"),
            ("a/b", "a_b"),
            ("", "_"),
            ("Ω 2", "__2"),
        ] {
            assert_eq!(file_name(name), expected, "{name}");
        }
    }
}
