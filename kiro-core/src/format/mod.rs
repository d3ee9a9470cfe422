//! The Kiro markdown format: parse and render `requirements.md`, `bugfix.md`,
//! `design.md` and `tasks.md` as Kiro (and cc-sdd) write them.
//!
//! Parsing never fails: each `parse_*` function returns the document it could
//! build, a [`SourceMap`] locating every recognised element, and
//! [`FormatDiagnostic`]s for what it could not read. Nothing is dropped:
//! content the parser does not understand is kept verbatim in the model and
//! rendered back in place. [`Parsed::strict`] turns diagnostics into an error.
//!
//! Rendering is canonical and stable: `render(parse(x))` parses to the same
//! model, a second round trip changes nothing, and a file already in
//! canonical form renders byte for byte as it was. CRLF files stay CRLF.
//!
//! ```
//! use kiro_core::format::{parse_tasks, render_tasks};
//!
//! let src = "# Implementation Plan\n\n- [ ] 1. Build the parser\n  - Use pulldown-cmark\n  - _Requirements: 1.1, 1.2_\n";
//! let parsed = parse_tasks(src);
//! let task = &parsed.value.tasks[0];
//! assert_eq!(task.title, "Build the parser");
//! assert_eq!(task.requirements.len(), 2);
//! assert_eq!(render_tasks(&parsed.value), src);
//! ```

mod bugfix;
mod design;
mod formal;
pub(crate) mod markdown;
pub(crate) mod refs;
mod requirements;
mod steering;
mod tasks;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::Error;

pub use bugfix::{parse_bugfix, render_bugfix};
pub use design::{parse_design, render_design};
pub use formal::{formal_block, FormalBlock};
pub use refs::{format_id_list, parse_id_list};
pub use requirements::{parse_requirements, render_requirements};
pub use steering::{file_references, parse_steering, FileReference, Inclusion, SteeringDoc};
pub use tasks::{parse_tasks, render_tasks, set_task_status};

/// A 1-based position in a source file (column counted in characters).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Which element of a parsed document a [`Position`] belongs to. Indexes are
/// positions in the model's vectors (so duplicate ids stay distinguishable).
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Locator {
    /// The `#` title line.
    Title,
    /// A glossary entry, by index.
    GlossaryEntry {
        /// Index in `RequirementsDoc::glossary`.
        index: usize,
    },
    /// A requirement heading, by index.
    Requirement {
        /// Index in `RequirementsDoc::requirements`.
        index: usize,
    },
    /// An acceptance criterion line.
    Criterion {
        /// Index of the requirement.
        requirement: usize,
        /// Index of the criterion in it.
        index: usize,
    },
    /// A bugfix clause line.
    Clause {
        /// Index in `BugfixDoc::groups`.
        group: usize,
        /// Index of the clause in the group.
        index: usize,
    },
    /// A correctness property heading.
    Property {
        /// Index in `DesignDoc::properties`.
        index: usize,
    },
    /// A property's `Validates:` line.
    PropertyValidates {
        /// Index in `DesignDoc::properties`.
        index: usize,
    },
    /// The opening fence of a property's `kiro-property` block; the block's
    /// JSON starts on the next line.
    PropertyFormal {
        /// Index in `DesignDoc::properties`.
        index: usize,
    },
    /// A task line; the path indexes top-level tasks then sub-tasks.
    Task {
        /// `[top, sub, subsub...]`.
        path: TaskPath,
    },
    /// A task's `_Requirements:_` line.
    TaskRequirements {
        /// Task path.
        path: TaskPath,
    },
    /// A task's `_Depends:_` line.
    TaskDepends {
        /// Task path.
        path: TaskPath,
    },
}

/// The path of a task in a [`crate::spec::TaskList`]: the index of the
/// top-level task, then of the sub-task in it, and so on. Serialised as a
/// JSON array of numbers.
///
/// Paths are short, so they are stored inline (up to three levels, more
/// spill to the heap): a parsed task list records two or three per task.
///
/// ```
/// use kiro_core::format::TaskPath;
///
/// let path = TaskPath::from([1, 0]);
/// assert_eq!(path.as_slice(), [1, 0]);
/// assert_eq!(serde_json::to_string(&path).unwrap(), "[1,0]");
/// ```
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(transparent)]
pub struct TaskPath(#[schemars(with = "Vec<usize>")] SmallVec<[usize; 3]>);

impl TaskPath {
    /// The indexes, outermost first.
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }
}

impl std::ops::Deref for TaskPath {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl From<&[usize]> for TaskPath {
    fn from(path: &[usize]) -> Self {
        TaskPath(SmallVec::from_slice(path))
    }
}

impl<const N: usize> From<[usize; N]> for TaskPath {
    fn from(path: [usize; N]) -> Self {
        TaskPath(SmallVec::from_slice(&path))
    }
}

impl From<Vec<usize>> for TaskPath {
    fn from(path: Vec<usize>) -> Self {
        TaskPath(SmallVec::from_vec(path))
    }
}

/// Where each recognised element of a document was found.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct SourceMap {
    /// Element positions in document order.
    pub entries: Vec<(Locator, Position)>,
    /// A lookup index over `entries`, built on the first [`SourceMap::get`].
    #[serde(skip)]
    #[schemars(skip)]
    index: LocatorIndex,
}

impl SourceMap {
    /// An empty map with room for `n` entries (a parser's estimate).
    pub(crate) fn with_capacity(n: usize) -> SourceMap {
        SourceMap {
            entries: Vec::with_capacity(n),
            index: LocatorIndex::default(),
        }
    }

    /// Records an element's position.
    pub fn insert(&mut self, locator: Locator, position: Position) {
        self.entries.push((locator, position));
    }

    /// The position of an element, if it was recorded (the first one
    /// recorded, if several were).
    ///
    /// Lint looks up one element per finding, and a linear search made that
    /// quadratic in the document's size, so the first lookup indexes the
    /// entries. The index follows `entries` when entries are added; a hit
    /// is checked against `entries`, and a stale one falls back to a search.
    ///
    /// ```
    /// use kiro_core::format::{parse_requirements, Locator};
    ///
    /// let parsed = parse_requirements("# Requirements Document\n\n## Requirements\n\n### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE App SHALL start\n");
    /// let at = parsed.source_map.get(&Locator::Criterion { requirement: 0, index: 0 }).unwrap();
    /// assert_eq!((at.line, at.column), (9, 1));
    /// assert_eq!(parsed.source_map.get(&Locator::Criterion { requirement: 0, index: 1 }), None);
    /// ```
    pub fn get(&self, locator: &Locator) -> Option<Position> {
        let search = || {
            self.entries
                .iter()
                .inspect(|_| examined(1))
                .find(|(l, _)| l == locator)
                .map(|(_, p)| *p)
        };
        let Ok(mut guard) = self.index.0.lock() else {
            return search();
        };
        let fresh = guard
            .as_ref()
            .is_some_and(|(len, _)| *len == self.entries.len());
        if !fresh {
            examined(self.entries.len());
            let mut map = HashMap::with_capacity(self.entries.len());
            for (i, (l, _)) in self.entries.iter().enumerate() {
                map.entry(l.clone()).or_insert(i);
            }
            *guard = Some((self.entries.len(), map));
        }
        let hit = guard
            .as_ref()
            .and_then(|(_, map)| map.get(locator).copied());
        drop(guard);
        match hit.and_then(|i| self.entries.get(i)) {
            Some((l, p)) if l == locator => Some(*p),
            Some(_) => search(),
            None => None,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Entries [`SourceMap::get`] read on this thread (tests count work
    /// with it instead of timing it).
    static EXAMINED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts entries read by [`SourceMap::get`] (in tests only).
fn examined(n: usize) {
    #[cfg(test)]
    EXAMINED.with(|c| c.set(c.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// [`SourceMap::get`]'s index: each locator's first entry, with the number
/// of entries it was built from. A cache, not data: clones start empty and
/// it takes no part in equality.
#[derive(Default)]
struct LocatorIndex(Mutex<Option<(usize, HashMap<Locator, usize>)>>);

impl Clone for LocatorIndex {
    fn clone(&self) -> Self {
        LocatorIndex::default()
    }
}

impl PartialEq for LocatorIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for LocatorIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocatorIndex")
    }
}

/// Something the parser could not read as the Kiro format expects. The
/// content is still kept verbatim in the model.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct FormatDiagnostic {
    /// Where.
    pub position: Position,
    /// What was found, lower-case, e.g. `requirement heading has no number`.
    pub message: String,
    /// What was expected, e.g. `### Requirement <N>: <title>`.
    pub expected: String,
}

/// A parse result: the document, where its parts are, and what could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed<T> {
    /// The document.
    pub value: T,
    /// Element positions, for diagnostics.
    pub source_map: SourceMap,
    /// What could not be read as expected (kept verbatim in `value`).
    pub diagnostics: Vec<FormatDiagnostic>,
}

impl<T> Parsed<T> {
    /// Strict mode: the document if nothing was reported, else the first
    /// diagnostic as an error naming `file`.
    pub fn strict(self, file: impl Into<PathBuf>) -> Result<T, Error> {
        match self.diagnostics.into_iter().next() {
            None => Ok(self.value),
            Some(d) => Err(Error::Syntax {
                file: file.into(),
                line: d.position.line,
                column: d.position.column,
                message: d.message,
                expected: d.expected,
            }),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looking up every element of a large map reads each entry a bounded
    /// number of times (a linear search per lookup read n² of them), the
    /// first recorded position wins, and entries added later are found.
    #[test]
    fn lookups_do_not_scan_the_map() {
        let n = 20_000;
        let mut map = SourceMap::default();
        for i in 0..n {
            map.insert(
                Locator::Requirement { index: i },
                Position {
                    line: i as u32 + 1,
                    column: 1,
                },
            );
        }
        map.insert(
            Locator::Requirement { index: 0 },
            Position { line: 0, column: 9 },
        );
        EXAMINED.with(|c| c.set(0));
        for i in 0..n {
            let at = map.get(&Locator::Requirement { index: i });
            assert_eq!(at.map(|p| p.line), Some(i as u32 + 1));
        }
        assert_eq!(map.get(&Locator::Title), None);
        let work = EXAMINED.with(std::cell::Cell::get);
        assert!(work <= 2 * (n + 1), "{work} entries read for {n} lookups");

        map.insert(Locator::Title, Position { line: 7, column: 1 });
        assert_eq!(map.get(&Locator::Title).map(|p| p.line), Some(7));
        let copy = map.clone();
        assert_eq!(copy, map);
        assert_eq!(
            copy.get(&Locator::Requirement { index: 5 }).map(|p| p.line),
            Some(6)
        );
    }
}
