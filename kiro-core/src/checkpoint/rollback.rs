//! Rewriting repository trees from one [`Manifest`] to another.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use super::{CheckpointStore, FileKey, FileState, Manifest};
use crate::error::{io_err, Error, Result};

/// What [`rollback_files`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// Files written (restored, recreated, or with their mode changed).
    pub written: Vec<FileKey>,
    /// Files removed.
    pub removed: Vec<FileKey>,
}

/// Rewrites the files of `roots` (repository name → root directory) so that
/// every file either manifest mentions is as `target` says: files the target
/// does not mention go back to their state before the run first touched them
/// (so files created later are removed, edited ones restored), files the
/// target has as present are written from their blobs (recreating deleted
/// ones) with their executable bit, and files the target has as deleted are
/// removed. Files neither manifest mentions are not touched; directories left
/// empty by a removal are removed up to the repository root.
///
/// `current` is the manifest of the tree as it is now (usually
/// [`CheckpointStore::materialize`] of the latest checkpoint) and `target` the
/// manifest to return to. Paths must be relative and stay inside their root
/// ([`Error::PathEscape`] otherwise, also when a directory on the way is a
/// symbolic link); a repository missing from `roots` is
/// [`Error::UnknownRepo`]. Each file is replaced atomically; the rollback as
/// a whole is not, but running it again after a failure finishes it.
pub fn rollback_files<S: CheckpointStore + ?Sized>(
    store: &S,
    current: &Manifest,
    target: &Manifest,
    roots: &HashMap<String, PathBuf>,
) -> Result<RollbackReport> {
    let keys: BTreeSet<&FileKey> = current.keys().chain(target.keys()).collect();
    let mut wanted = Vec::with_capacity(keys.len());
    for key in keys {
        let state = match (target.get(key), current.get(key)) {
            (Some(t), _) => &t.state,
            (None, Some(c)) => &c.before,
            (None, None) => continue,
        };
        let root = roots.get(&key.0).ok_or_else(|| Error::UnknownRepo {
            repo: key.0.clone(),
        })?;
        let path = resolve(root, &key.0, &key.1)?;
        wanted.push((key, path, root, state));
    }

    let mut report = RollbackReport::default();
    // Removals first, so that a file replaced by a directory of the same
    // name (or the reverse) can be restored.
    for (key, path, root, state) in &wanted {
        if matches!(state, FileState::Deleted) && remove(path, root)? {
            report.removed.push((*key).clone());
        }
    }
    for (key, path, _, state) in &wanted {
        if let FileState::Present { blob, executable } = state {
            if !same_file(path, blob, *executable)? {
                let bytes = store.get_blob(blob)?;
                if let Ok(meta) = fs::symlink_metadata(path) {
                    if meta.file_type().is_symlink() {
                        fs::remove_file(path).map_err(io_err(path))?;
                    }
                }
                crate::store::write_atomic(path, &bytes)?;
                set_executable(path, *executable)?;
                report.written.push((*key).clone());
            }
        }
    }
    Ok(report)
}

/// Joins a manifest path to its root, refusing anything that could leave it.
fn resolve(root: &Path, repo: &str, rel: &str) -> Result<PathBuf> {
    let escape = |reason: &str| Error::PathEscape {
        repo: repo.to_owned(),
        path: PathBuf::from(rel),
        reason: reason.to_owned(),
    };
    let rel_path = Path::new(rel);
    if rel.is_empty() {
        return Err(escape("empty path"));
    }
    let mut path = root.to_owned();
    let mut components = rel_path.components().peekable();
    while let Some(c) = components.next() {
        match c {
            Component::Normal(name) => {
                path.push(name);
                // Directories on the way must be real directories: a
                // symbolic link could point outside the root.
                if components.peek().is_some() {
                    if let Ok(meta) = fs::symlink_metadata(&path) {
                        if meta.file_type().is_symlink() {
                            return Err(escape("a directory on the way is a symbolic link"));
                        }
                    }
                }
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(escape("`..` component")),
            Component::RootDir | Component::Prefix(_) => return Err(escape("absolute path")),
        }
    }
    Ok(path)
}

/// Whether the file already has this content and mode (so it is not
/// rewritten, which keeps rollback cheap and mtimes stable).
fn same_file(path: &Path, blob: &super::BlobId, executable: bool) -> Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    if is_executable(&meta) != executable {
        return Ok(false);
    }
    let bytes = fs::read(path).map_err(io_err(path))?;
    Ok(super::BlobId::of(&bytes) == *blob)
}

/// Removes a file (or symbolic link) if present, then the directories it
/// leaves empty up to `root`. Returns whether something was removed.
fn remove(path: &Path, root: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(true)
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> Result<()> {
    // No executable bit outside Unix.
    Ok(())
}
