//! Detecting changes made by external processes: snapshots, a hash cache, diffs.
//!
//! A snapshot walks a repository (respecting `.gitignore`, always skipping
//! `.git/`, `target/`, `node_modules/`, `.kiro/runs/`, `.kiro/trace/` and
//! `.kiro/audit.jsonl`) and records each
//! file's size, modification time, SHA-256 and permission bits, and each
//! symbolic link's target (links are never followed, so a link to a file
//! outside the repository is seen as a link, never read). The [`HashCache`] remembers the
//! hash of every `(path, size, mtime)` it saw, so a re-scan of an unchanged
//! tree costs one `stat` per file and no reads.

use crate::store::TEMP_PREFIX;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::write_atomic;

/// Directory names skipped at any depth, whatever `.gitignore` says.
const SKIPPED_DIRS: [&str; 3] = [".git", "target", "node_modules"];

/// Kiro's own run store, skipped so checkpoints never scan themselves.
const RUNS_DIR: &str = ".kiro/runs";

/// Kiro's records about the work rather than the work itself: the trace
/// lock and stored reports. A rollback must not rewind them.
const TRACE_DIR: &str = ".kiro/trace";

/// The audit log: append-only, so a rollback must never restore an older copy.
const AUDIT_FILE: &str = ".kiro/audit.jsonl";

/// Whether `rel` (relative to a repository root) is one of kiro's own
/// records (the run store, the trace folder, the audit log), which
/// snapshots skip and rollbacks never rewind, and which no agent may read
/// or write.
///
/// ```
/// use std::path::Path;
/// use kiro_core::workspace::is_kiro_record;
///
/// assert!(is_kiro_record(Path::new(".kiro/runs/r1/log.jsonl")));
/// assert!(is_kiro_record(Path::new(".kiro/audit.jsonl")));
/// assert!(!is_kiro_record(Path::new(".kiro/specs/a/tasks.md")));
/// ```
pub fn is_kiro_record(rel: &Path) -> bool {
    [RUNS_DIR, TRACE_DIR, AUDIT_FILE]
        .iter()
        .any(|record| rel.starts_with(record))
}

/// Files modified this close to the scan are hashed but not cached: a later
/// write within the file system's timestamp granularity could keep size and
/// mtime unchanged (git's "racily clean" problem). Two seconds covers FAT.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What a snapshot knows about one file or symbolic link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Size in bytes (of a link: of its target text).
    pub size: u64,
    /// Modification time (of a link: of the link itself).
    pub mtime: Mtime,
    /// SHA-256 of the contents (of a link: of its target text), lower-case hex.
    pub sha256: String,
    /// Permission bits, masked with [`MODE_MASK`](crate::checkpoint::MODE_MASK)
    /// (`0o644`, `0o755`); 0 for a link. Snapshots saved before modes were
    /// kept read as `0o644`.
    #[serde(default = "default_mode")]
    pub mode: u32,
    /// For a symbolic link, its target as written in the link (never
    /// followed; lossy when not UTF-8); `None` for a regular file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink: Option<String>,
}

fn default_mode() -> u32 {
    crate::checkpoint::DEFAULT_MODE
}

impl FileStat {
    /// Whether `other` is the same file: same kind, contents (or link
    /// target) and mode. Size and mtime are not compared.
    pub fn same_as(&self, other: &FileStat) -> bool {
        self.sha256 == other.sha256 && self.mode == other.mode && self.symlink == other.symlink
    }
}

/// A modification time as seconds and nanoseconds relative to the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mtime {
    /// Whole seconds since the epoch (negative before it).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Mtime {
    /// The modification time in a file's metadata (the epoch when the
    /// platform has none).
    pub(crate) fn of(meta: &fs::Metadata) -> Mtime {
        meta.modified()
            .map_or(Mtime { secs: 0, nanos: 0 }, Mtime::from_system_time)
    }

    fn from_system_time(t: SystemTime) -> Mtime {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Mtime {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                // Before the epoch: keep the ordering by counting backwards.
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Mtime {
                        secs: -secs,
                        nanos: 0,
                    }
                } else {
                    Mtime {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - d.subsec_nanos(),
                    }
                }
            }
        }
    }
}

/// The files of one repository at one moment, keyed by path relative to its root.
///
/// ```
/// use kiro_core::workspace::Workspace;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one")?;
/// let ws = Workspace::single(dir.path())?;
/// let before = ws.snapshot("main")?;
/// std::fs::write(dir.path().join("b.txt"), "two")?;
/// std::fs::remove_file(dir.path().join("a.txt"))?;
/// let changes = before.diff(&ws.snapshot("main")?);
/// assert_eq!(changes.created, vec![std::path::PathBuf::from("b.txt")]);
/// assert_eq!(changes.deleted, vec![std::path::PathBuf::from("a.txt")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The repository name.
    pub repo: String,
    /// Every file found, relative path → stat and hash.
    pub files: BTreeMap<PathBuf, FileStat>,
}

impl Snapshot {
    /// What changed from `self` (before) to `other` (after). A file counts as
    /// modified when its contents, its mode, or its kind (file or link) or
    /// link target differ; a new mtime alone is no change.
    pub fn diff(&self, other: &Snapshot) -> Changes {
        let mut changes = Changes::default();
        for (path, after) in &other.files {
            match self.files.get(path) {
                None => changes.created.push(path.clone()),
                Some(before) if !before.same_as(after) => {
                    changes.modified.push(path.clone());
                }
                Some(_) => {}
            }
        }
        changes.deleted = self
            .files
            .keys()
            .filter(|p| !other.files.contains_key(*p))
            .cloned()
            .collect();
        changes
    }
}

/// The difference between two snapshots; each list sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Files that exist only in the later snapshot.
    pub created: Vec<PathBuf>,
    /// Files whose contents, mode, kind or link target differ.
    pub modified: Vec<PathBuf>,
    /// Files that exist only in the earlier snapshot.
    pub deleted: Vec<PathBuf>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.modified.is_empty() && self.deleted.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CacheEntry {
    size: u64,
    mtime: Mtime,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<PathBuf, CacheEntry>,
}

const CACHE_VERSION: u32 = 1;

/// Remembers file hashes by `(absolute path, size, mtime)` across scans and runs.
///
/// Shared by reference between threads; [`HashCache::hashed`] counts the files
/// whose contents were actually read, which is how tests prove that a re-scan
/// of an unchanged tree reads nothing.
#[derive(Debug, Default)]
pub struct HashCache {
    entries: Mutex<HashMap<PathBuf, CacheEntry>>,
    hashed: AtomicU64,
}

impl HashCache {
    /// An empty cache.
    pub fn new() -> HashCache {
        HashCache::default()
    }

    /// Reads a cache saved by [`HashCache::save`]; a missing file gives an empty cache.
    pub fn load(path: impl AsRef<Path>) -> Result<HashCache> {
        let path = path.as_ref();
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashCache::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let file: CacheFile = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if file.version != CACHE_VERSION {
            // An unknown layout is only a cold cache, not an error.
            return Ok(HashCache::new());
        }
        Ok(HashCache {
            entries: Mutex::new(file.entries.into_iter().collect()),
            hashed: AtomicU64::new(0),
        })
    }

    /// Writes the cache as JSON, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let entries = self
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let file = CacheFile {
            version: CACHE_VERSION,
            entries,
        };
        let json = serde_json::to_vec(&file).map_err(|e| Error::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        write_atomic(path, &json)
    }

    /// How many files this cache has hashed (read) since it was created or loaded.
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// How many hashes the cache holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no hash.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, CacheEntry>> {
        // A panic while holding the lock cannot leave a half-written entry
        // (inserts are single calls), so a poisoned map is still valid.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hash of `path`, from the cache when size and mtime match, else read.
    fn hash(&self, path: &Path, size: u64, mtime: Mtime, racy_since: Mtime) -> Result<String> {
        if let Some(e) = self.lock().get(path) {
            if e.size == size && e.mtime == mtime {
                return Ok(e.sha256.clone());
            }
        }
        let sha256 = hash_file(path)?;
        self.hashed.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.lock();
        if mtime < racy_since {
            entries.insert(
                path.to_owned(),
                CacheEntry {
                    size,
                    mtime,
                    sha256: sha256.clone(),
                },
            );
        } else {
            entries.remove(path);
        }
        Ok(sha256)
    }
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Streams a file through SHA-256 without loading it whole.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

/// The files and symbolic links under `dir` (inside the repository `root`),
/// as absolute paths in `Path` order, with the walk rules described in the
/// module doc. Links are listed with their own metadata and never followed
/// (a link to a directory is not descended into); what they point to inside
/// the repository is listed at its own path.
pub(crate) fn walk(root: &Path, dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>> {
    let runs = root.join(RUNS_DIR);
    let trace = root.join(TRACE_DIR);
    let audit = root.join(AUDIT_FILE);
    let whole = dir == root;
    let wanted = dir.to_owned();
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        // Depth-first in name order is exactly `Path` order, so the result
        // needs no sort and a `BTreeMap` builds from it in linear time.
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.depth() == 0 {
                return true;
            }
            if !e.file_type().is_some_and(|t| t.is_dir()) {
                return e.path() != audit;
            }
            let name = e.file_name();
            if SKIPPED_DIRS.iter().any(|d| name == *d) || e.path() == runs || e.path() == trace {
                return false;
            }
            // The walk starts at the root even for a sub-folder so the
            // root's `.gitignore` applies; folders off the way to `dir` are pruned.
            whole || e.path().starts_with(&wanted) || wanted.starts_with(e.path())
        });
    let mut files = Vec::new();
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => match e.io_error() {
                Some(io) => {
                    return Err(Error::Io {
                        path: dir.to_owned(),
                        source: std::io::Error::new(io.kind(), e.to_string()),
                    })
                }
                // A malformed `.gitignore` line is not a reason to stop scanning.
                None => continue,
            },
        };
        if !entry
            .file_type()
            .is_some_and(|t| t.is_file() || t.is_symlink())
            || !(whole || entry.path().starts_with(dir))
        {
            continue;
        }
        // Temporary files of an atomic write in progress are not content.
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX))
        {
            continue;
        }
        // `symlink_metadata`: a link is described, never followed.
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            // Removed (or renamed away) between listing and stat: not there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(Error::Io {
                    path: entry.path().to_owned(),
                    source,
                })
            }
        };
        files.push((entry.into_path(), meta));
    }
    Ok(files)
}

/// Scans a repository whose canonical root is `root`.
pub(crate) fn snapshot(repo: &str, root: &Path, cache: &HashCache) -> Result<Snapshot> {
    let racy_since = Mtime::from_system_time(
        SystemTime::now()
            .checked_sub(RACY_WINDOW)
            .unwrap_or(UNIX_EPOCH),
    );
    let mut files = Vec::new();
    for (abs, meta) in walk(root, root)? {
        let Ok(rel) = abs.strip_prefix(root).map(Path::to_owned) else {
            continue;
        };
        let mtime = meta
            .modified()
            .map(Mtime::from_system_time)
            .map_err(|source| Error::Io {
                path: abs.clone(),
                source,
            })?;
        if meta.file_type().is_symlink() {
            let target = match fs::read_link(&abs) {
                Ok(t) => t.to_string_lossy().into_owned(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Io { path: abs, source }),
            };
            files.push((
                rel,
                FileStat {
                    size: u64::try_from(target.len()).unwrap_or(u64::MAX),
                    mtime,
                    sha256: sha256_hex(target.as_bytes()),
                    mode: 0,
                    symlink: Some(target),
                },
            ));
            continue;
        }
        let size = meta.len();
        let sha256 = match cache.hash(&abs, size, mtime, racy_since) {
            Ok(h) => h,
            // Deleted between the walk and the read: it is simply not there.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue
            }
            Err(e) => return Err(e),
        };
        files.push((
            rel,
            FileStat {
                size,
                mtime,
                sha256,
                mode: crate::checkpoint::mode_of(&meta),
                symlink: None,
            },
        ));
    }
    Ok(Snapshot {
        repo: repo.to_owned(),
        files: files.into_iter().collect(),
    })
}
