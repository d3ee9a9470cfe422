//! Matching test results to annotated tests by name.
//!
//! Used by the trace graph, and through it by the verdicts: a function test
//! matches a result one of whose name segments (`a::b::c`, `pkg.Class.m`,
//! `TestX/sub`, `test_x[param]`) is the function name; an `it`/`test` case
//! matches a result whose name ends with its title after a word boundary; a
//! `describe` suite matches a result whose name or class contains its title
//! as whole words. When several results match, those from the annotation's
//! file are preferred. Unlike a scan per test, every lookup except the rare
//! suite is one hash-map probe, so that tens of thousands of tests match in
//! linear time.

use std::collections::{HashMap, HashSet};

use crate::verify::annotations::TestDeclKind;
use crate::verify::TestResult;

/// Results indexed by name segment and by name suffix.
pub(crate) struct ResultIndex<'r> {
    results: &'r [TestResult],
    by_segment: HashMap<&'r str, Vec<usize>>,
    by_suffix: HashMap<&'r str, Vec<usize>>,
}

impl<'r> ResultIndex<'r> {
    pub(crate) fn new(results: &'r [TestResult]) -> Self {
        let mut by_segment: HashMap<&'r str, Vec<usize>> = HashMap::new();
        let mut by_suffix: HashMap<&'r str, Vec<usize>> = HashMap::new();
        for (i, r) in results.iter().enumerate() {
            let mut seen: HashSet<&str> = HashSet::new();
            for seg in segments(&r.name) {
                if seen.insert(seg) {
                    by_segment.entry(seg).or_default().push(i);
                }
            }
            for suffix in boundary_suffixes(&r.name) {
                by_suffix.entry(suffix).or_default().push(i);
            }
        }
        Self {
            results,
            by_segment,
            by_suffix,
        }
    }

    /// Indexes into the results of the test named `name`, declared as
    /// `kind` in `file`.
    pub(crate) fn matches(&self, name: &str, kind: TestDeclKind, file: &str) -> Vec<usize> {
        let candidates: Vec<usize> = match kind {
            TestDeclKind::Function => self.by_segment.get(name).cloned().unwrap_or_default(),
            TestDeclKind::Case => {
                if name.is_empty() {
                    Vec::new()
                } else {
                    self.by_suffix.get(name).cloned().unwrap_or_default()
                }
            }
            // Suites are rare (an annotation on a `describe` block), so a
            // scan of the results is affordable for them.
            TestDeclKind::Suite => self
                .results
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    contains_title(&r.name, name)
                        || r.classname
                            .as_deref()
                            .is_some_and(|c| contains_title(c, name))
                })
                .map(|(i, _)| i)
                .collect(),
        };
        if candidates.len() <= 1 {
            return candidates;
        }
        let near: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.results.get(i).is_some_and(|r| same_place(r, file)))
            .collect();
        if near.is_empty() {
            candidates
        } else {
            near
        }
    }
}

/// The parts of a runner's test name that may be a function name.
fn segments(name: &str) -> impl Iterator<Item = &str> {
    name.split([':', '.', '/', '#', '(', '[', ')', ']', '\\'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The whole name and every suffix of it that starts right after a word
/// boundary (`Auth logs in` gives `Auth logs in`, `logs in`, `in`): the
/// titles of `it`/`test` cases it can end with.
fn boundary_suffixes(name: &str) -> Vec<&str> {
    let mut out = vec![name];
    for (at, c) in name.char_indices() {
        let boundary = c.is_whitespace() || matches!(c, '>' | '›' | '/' | ':' | '.' | '#' | '|');
        if boundary {
            if let Some(rest) = name.get(at + c.len_utf8()..) {
                if !rest.is_empty() {
                    out.push(rest);
                }
            }
        }
    }
    out
}

/// `Auth logs in` contains the title `Auth` as whole words.
fn contains_title(name: &str, title: &str) -> bool {
    if title.is_empty() {
        return false;
    }
    name.match_indices(title).any(|(at, _)| {
        let before = name.get(..at).and_then(|s| s.chars().next_back());
        let after = name.get(at + title.len()..).and_then(|s| s.chars().next());
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Whether a result comes from the annotation's file: same file, or the
/// file's stem is part of its class or name.
fn same_place(r: &TestResult, ann_file: &str) -> bool {
    if let Some(f) = &r.file {
        let f = f.replace('\\', "/");
        let f = f.trim_start_matches("./");
        if ann_file.ends_with(f) || f.ends_with(ann_file) {
            return true;
        }
    }
    let file_name = ann_file.rsplit('/').next().unwrap_or(ann_file);
    let stem = file_name.split('.').next().unwrap_or(file_name);
    if stem.is_empty() {
        return false;
    }
    let in_name = segments(&r.name).any(|s| s == stem);
    let in_class = r
        .classname
        .as_deref()
        .is_some_and(|c| segments(c).any(|s| s == stem));
    in_name || in_class
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::TestStatus;

    fn result(name: &str) -> TestResult {
        TestResult {
            name: name.into(),
            classname: None,
            file: None,
            line: None,
            status: TestStatus::Passed,
            message: None,
            output: String::new(),
            duration_ms: None,
        }
    }

    #[test]
    fn matches_by_segment_suffix_and_suite_title() {
        let rs = [
            result("auth::tests::login_works"),
            result("Auth logs in"),
            result("Auth › logs out"),
            result("test_x[param]"),
            result("Authority logs in twice"),
        ];
        let idx = ResultIndex::new(&rs);
        assert_eq!(
            idx.matches("login_works", TestDeclKind::Function, "a.rs"),
            [0]
        );
        assert_eq!(idx.matches("logs in", TestDeclKind::Case, "a.ts"), [1]);
        assert_eq!(idx.matches("logs out", TestDeclKind::Case, "a.ts"), [2]);
        assert_eq!(idx.matches("test_x", TestDeclKind::Function, "a.py"), [3]);
        assert_eq!(idx.matches("Auth", TestDeclKind::Suite, "a.ts"), [1, 2]);
        assert!(idx.matches("", TestDeclKind::Case, "a.ts").is_empty());
    }
}
