//! A whole directory tree as tests compare it: every file and symbolic link
//! (relative path → kind, content hash, mode, link target), links described
//! and never followed. Shared by the checkpoint, pipeline and CLI tests
//! through `#[path]`, so that "the same tree" means one thing everywhere.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::collections::BTreeMap;
use std::path::Path;

/// One entry of a [`Tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: its SHA-256 (hex) and permission bits.
    File { sha256: String, mode: u32 },
    /// A symbolic link and its target, as written.
    Link(String),
}

/// Relative path (`/`-separated) → entry.
pub type Tree = BTreeMap<String, Entry>;

/// Captures the tree under `root`, leaving out kiro's own history
/// (`.kiro/runs`, `.kiro/audit.jsonl`), which a rollback adds to rather than
/// restores. Empty directories are not entries.
pub fn capture(root: &Path) -> Tree {
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Tree) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == ".kiro/runs" || rel == ".kiro/audit.jsonl" {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            out.insert(rel, Entry::Link(target.to_string_lossy().into_owned()));
        } else if meta.is_dir() {
            walk(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.insert(
                rel,
                Entry::File {
                    sha256: kiro_core::workspace::sha256_hex(&bytes),
                    mode: mode(&meta),
                },
            );
        }
    }
}

#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode(_meta: &std::fs::Metadata) -> u32 {
    0o644
}

/// Sets a file's permission bits.
#[cfg(unix)]
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Asserts two trees are equal, listing the paths that differ.
pub fn assert_same(actual: &Tree, expected: &Tree, context: &str) {
    if actual == expected {
        return;
    }
    let mut diffs = Vec::new();
    for (path, want) in expected {
        match actual.get(path) {
            None => diffs.push(format!("missing {path}: {want:?}")),
            Some(got) if got != want => diffs.push(format!("{path}: {got:?}, want {want:?}")),
            Some(_) => {}
        }
    }
    for (path, got) in actual {
        if !expected.contains_key(path) {
            diffs.push(format!("extra {path}: {got:?}"));
        }
    }
    panic!("{context}: trees differ:\n  {}", diffs.join("\n  "));
}
