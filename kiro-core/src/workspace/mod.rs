//! Sandboxed, journaled access to the repositories a run works on.
//!
//! A [`Workspace`] is one or more named repositories. Every path a stage
//! gives it is resolved inside the repository root: absolute paths and `..`
//! escapes are refused, and so is any path whose existing part leads out of
//! the root through a symlink (a symlink pointing elsewhere inside the root
//! is fine). Writes go through [`crate::store::write_atomic`], only where the
//! [`Policy`] allows, and each one is recorded in a journal with the hashes
//! of the file before and after. [`Workspace::snapshot`] and
//! [`Snapshot::diff`] detect what external processes (a coding agent CLI, a
//! test run) changed, reading only files whose size or mtime moved.
//!
//! Resolution checks the file system at the moment of the call; a process
//! that swaps a folder for a symlink between the check and the access is
//! outside what this sandbox defends against (it guards stages, not attackers
//! with concurrent write access to the repository).

mod manifest;
mod policy;
mod scan;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use manifest::{RepoEntry, WorkspaceManifest, MANIFEST_PATH};
pub use policy::{Policy, WritableSet};
pub use scan::{is_kiro_record, sha256_hex, Changes, FileStat, HashCache, Mtime, Snapshot};

use crate::error::{Error, Result};
use crate::store::write_atomic;

/// The repository name [`Workspace::single`] uses.
pub const DEFAULT_REPO: &str = "main";

/// One write or removal made through a [`Workspace`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The repository name.
    pub repo: String,
    /// The file, relative to the repository root (after resolving symlinks).
    pub path: PathBuf,
    /// SHA-256 of the file before, `None` if it did not exist.
    pub before: Option<String>,
    /// SHA-256 of the file after, `None` if it was removed.
    pub after: Option<String>,
    /// When the change was made, in milliseconds since the Unix epoch.
    pub time_ms: u64,
}

#[derive(Debug)]
struct Repo {
    name: String,
    /// Canonical, so containment checks compare like with like.
    root: PathBuf,
}

/// Named repositories with sandboxed paths, a write policy and a journal.
///
/// ```
/// use kiro_core::workspace::{Policy, Workspace};
///
/// let app = tempfile::tempdir()?;
/// let docs = tempfile::tempdir()?;
/// let ws = Workspace::builder()
///     .repo("app", app.path())
///     .repo("docs", docs.path())
///     .policy(Policy { writable: vec!["src/**".into()], ..Policy::default() })
///     .build()?;
///
/// ws.write("app", "src/main.rs", b"fn main() {}\n")?;
/// assert_eq!(ws.read("app", "src/main.rs")?, b"fn main() {}\n");
/// assert!(ws.write("app", "Cargo.toml", b"").is_err()); // not writable
/// assert!(ws.read("app", "../secret").is_err()); // outside the root
/// assert!(ws.read("nope", "x").is_err()); // unknown repository
///
/// let journal = ws.journal();
/// assert_eq!(journal[0].path, std::path::Path::new("src/main.rs"));
/// assert_eq!(journal[0].before, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Workspace {
    repos: Vec<Repo>,
    /// The index in `repos` of the default repository, when one was named.
    default: Option<usize>,
    policy: Policy,
    writable: WritableSet,
    journal: Mutex<Vec<JournalEntry>>,
    journal_file: Option<PathBuf>,
    cache: Arc<HashCache>,
    /// Per repository, the programs allowed there on top of `policy`
    /// (`.kiro/policy.toml` `[repos.<name>] commands`).
    repo_commands: BTreeMap<String, Policy>,
}

/// Builds a [`Workspace`]; see [`Workspace::builder`].
#[derive(Debug, Default)]
pub struct WorkspaceBuilder {
    repos: Vec<(String, PathBuf)>,
    default: Option<String>,
    policy: Policy,
    journal_file: Option<PathBuf>,
    cache: Option<Arc<HashCache>>,
}

impl WorkspaceBuilder {
    /// Adds a repository under `name`; its root must be an existing folder.
    pub fn repo(mut self, name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        self.repos.push((name.into(), root.into()));
        self
    }

    /// Names the repository tasks work in when they name none (default:
    /// the first one added); it must be one of the repositories added.
    pub fn default_repo(mut self, name: impl Into<String>) -> Self {
        self.default = Some(name.into());
        self
    }

    /// Sets the policy (default: nothing writable, no commands).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Also appends every journal entry as one JSON line to this file.
    pub fn journal_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal_file = Some(path.into());
        self
    }

    /// Uses this hash cache for snapshots (default: a new, empty one).
    pub fn hash_cache(mut self, cache: Arc<HashCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Checks the repositories and compiles the policy.
    pub fn build(self) -> Result<Workspace> {
        if self.repos.is_empty() {
            return Err(Error::InvalidWorkspace {
                reason: "no repository".into(),
            });
        }
        let mut repos: Vec<Repo> = Vec::with_capacity(self.repos.len());
        for (name, root) in self.repos {
            if repos.iter().any(|r| r.name == name) {
                return Err(Error::InvalidWorkspace {
                    reason: format!("repository {name:?} given twice"),
                });
            }
            let canonical = fs::canonicalize(&root).map_err(|source| Error::Io {
                path: root.clone(),
                source,
            })?;
            if !canonical.is_dir() {
                return Err(Error::InvalidWorkspace {
                    reason: format!("{}: repository root is not a folder", root.display()),
                });
            }
            repos.push(Repo {
                name,
                root: canonical,
            });
        }
        let default = match &self.default {
            Some(name) => Some(repos.iter().position(|r| &r.name == name).ok_or_else(|| {
                Error::InvalidWorkspace {
                    reason: format!("default repository {name:?} is not one of the repositories"),
                }
            })?),
            None => None,
        };
        let writable = self.policy.writable_set()?;
        Ok(Workspace {
            repos,
            default,
            policy: self.policy,
            writable,
            journal: Mutex::new(Vec::new()),
            journal_file: self.journal_file,
            cache: self.cache.unwrap_or_default(),
            repo_commands: BTreeMap::new(),
        })
    }
}

impl Workspace {
    /// Starts a builder.
    pub fn builder() -> WorkspaceBuilder {
        WorkspaceBuilder::default()
    }

    /// One repository named [`DEFAULT_REPO`] (`main`), with the default (read-only) policy.
    pub fn single(root: impl Into<PathBuf>) -> Result<Workspace> {
        Workspace::builder().repo(DEFAULT_REPO, root).build()
    }

    /// The repository names, in the order they were added.
    pub fn repos(&self) -> impl Iterator<Item = &str> {
        self.repos.iter().map(|r| r.name.as_str())
    }

    /// The repository tasks work in when they name none: the one
    /// [`WorkspaceBuilder::default_repo`] named (`default = true` in
    /// `.kiro/workspace.toml`), else the first one added.
    pub fn default_repo(&self) -> &str {
        self.default
            .and_then(|i| self.repos.get(i))
            .or_else(|| self.repos.first())
            .map_or(DEFAULT_REPO, |r| r.name.as_str())
    }

    /// The canonical root of a repository.
    pub fn root(&self, repo: &str) -> Result<&Path> {
        self.repo(repo).map(|r| r.root.as_path())
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy's writable globs, compiled once when the workspace was built.
    pub fn writable_set(&self) -> &WritableSet {
        &self.writable
    }

    /// The hash cache snapshots use (save it with [`HashCache::save`] to reuse it next run).
    pub fn hash_cache(&self) -> &Arc<HashCache> {
        &self.cache
    }

    fn repo(&self, name: &str) -> Result<&Repo> {
        self.repos
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| Error::UnknownRepo {
                repo: name.to_owned(),
            })
    }

    /// The absolute path of `path` inside `repo`, with symlinks of its existing part resolved.
    ///
    /// Refuses ([`Error::PathEscape`]) absolute paths, `..` that climbs above
    /// the root, and paths whose existing part resolves outside the root
    /// (including a dangling symlink, whose target could be created outside).
    pub fn resolve(&self, repo: &str, path: impl AsRef<Path>) -> Result<PathBuf> {
        let repo = self.repo(repo)?;
        resolve_in(repo, path.as_ref())
    }

    /// `path` resolved and made relative to the repository root.
    fn locate(&self, repo: &str, path: &Path) -> Result<(&Repo, PathBuf, PathBuf)> {
        let r = self.repo(repo)?;
        let abs = resolve_in(r, path)?;
        let rel = abs
            .strip_prefix(&r.root)
            .map(Path::to_owned)
            .map_err(|_| escape(r, path, "resolves outside the repository root"))?;
        Ok((r, abs, rel))
    }

    /// Reads a file of a repository.
    pub fn read(&self, repo: &str, path: impl AsRef<Path>) -> Result<Vec<u8>> {
        let (_, abs, _) = self.locate(repo, path.as_ref())?;
        fs::read(&abs).map_err(|source| Error::Io { path: abs, source })
    }

    /// Whether the policy lets stages write `path` of `repo` (after resolving symlinks).
    pub fn is_writable(&self, repo: &str, path: impl AsRef<Path>) -> Result<bool> {
        let (_, _, rel) = self.locate(repo, path.as_ref())?;
        Ok(self.writable.matches(&rel))
    }

    /// Writes a file atomically where the policy allows it, creating folders, and journals it.
    ///
    /// The policy is checked against the resolved path, so a symlink cannot
    /// lend its writable name to a protected file.
    pub fn write(&self, repo: &str, path: impl AsRef<Path>, bytes: &[u8]) -> Result<JournalEntry> {
        let (r, abs, rel) = self.writable_target(repo, path.as_ref())?;
        let before = existing_hash(&abs)?;
        write_atomic(&abs, bytes)?;
        self.record(r, rel, before, Some(sha256_hex(bytes)))
    }

    /// Removes a file where the policy allows it, and journals it.
    pub fn remove(&self, repo: &str, path: impl AsRef<Path>) -> Result<JournalEntry> {
        let (r, abs, rel) = self.writable_target(repo, path.as_ref())?;
        let before = Some(scan::hash_file(&abs)?);
        fs::remove_file(&abs).map_err(|source| Error::Io { path: abs, source })?;
        self.record(r, rel, before, None)
    }

    fn writable_target(&self, repo: &str, path: &Path) -> Result<(&Repo, PathBuf, PathBuf)> {
        let (r, abs, rel) = self.locate(repo, path)?;
        if !self.writable.matches(&rel) {
            return Err(Error::NotWritable {
                repo: r.name.clone(),
                path: rel,
            });
        }
        Ok((r, abs, rel))
    }

    /// The files under `dir` of `repo` (`""` for all), recursively, relative
    /// to the repository root and sorted, with the rules of [`Workspace::snapshot`].
    pub fn list(&self, repo: &str, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let (r, abs, _) = self.locate(repo, dir.as_ref())?;
        // Links are not listed: reading one follows it, which `read`
        // checks against the root on its own.
        Ok(scan::walk(&r.root, &abs)?
            .into_iter()
            .filter(|(_, meta)| meta.is_file())
            .filter_map(|(file, _)| file.strip_prefix(&r.root).map(Path::to_owned).ok())
            .collect())
    }

    /// Checks a command line against the policy ([`Policy::check_command`]).
    pub fn check_command<S: AsRef<str>>(&self, argv: &[S]) -> Result<()> {
        self.policy.check_command(argv)
    }

    /// Narrows the commands allowed in repository `repo` to `commands` (in
    /// the forms of [`Policy::commands`]): a command there must be allowed
    /// by the workspace policy *and* by this list
    /// ([`check_command_in`](Workspace::check_command_in)).
    #[must_use]
    pub fn with_repo_commands(
        mut self,
        repo: impl Into<String>,
        commands: Vec<String>,
    ) -> Workspace {
        self.repo_commands.insert(
            repo.into(),
            Policy {
                writable: Vec::new(),
                commands,
            },
        );
        self
    }

    /// [`check_command`](Workspace::check_command) for a command run in
    /// repository `repo`: also checked against that repository's list, if
    /// it has one ([`with_repo_commands`](Workspace::with_repo_commands)).
    ///
    /// ```
    /// use kiro_core::workspace::Workspace;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let ws = Workspace::single(dir.path())?.with_repo_commands("main", vec!["cargo".into()]);
    /// let open = Workspace::builder().repo("main", dir.path()).policy(kiro_core::workspace::Policy::permissive()).build()?;
    /// let ws_open = open.with_repo_commands("main", vec!["cargo".into()]);
    /// assert!(ws_open.check_command_in("main", &["cargo", "test"]).is_ok());
    /// assert!(ws_open.check_command_in("main", &["npm", "test"]).is_err());
    /// assert!(ws.check_command_in("main", &["cargo"]).is_err()); // the workspace policy still applies
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::CommandDenied`] when either list refuses it.
    pub fn check_command_in<S: AsRef<str>>(&self, repo: &str, argv: &[S]) -> Result<()> {
        self.policy.check_command(argv)?;
        match self.repo_commands.get(repo) {
            Some(list) => list.check_command(argv),
            None => Ok(()),
        }
    }

    /// [`check_agent_command`](Workspace::check_agent_command) for a
    /// command run in repository `repo`, also checked against its list.
    ///
    /// # Errors
    /// As [`check_agent_command`](Workspace::check_agent_command).
    pub fn check_agent_command_in<S: AsRef<str>>(&self, repo: &str, argv: &[S]) -> Result<()> {
        self.check_agent_command(argv)?;
        match self.repo_commands.get(repo) {
            Some(list) => list.check_command(argv),
            None => Ok(()),
        }
    }

    /// [`check_command`](Workspace::check_command) for a command an agent
    /// chose (a model's tool call, an ACP agent's terminal): also refuses a
    /// program given as a relative path or as a path inside a repository
    /// of the workspace. The policy matches a program by its file name, so
    /// without this `./src/cargo`, a file the agent may have just written,
    /// would run as `cargo`. An installed program by name or absolute path
    /// outside the workspace is judged by the policy alone.
    ///
    /// ```
    /// use kiro_core::workspace::{Policy, Workspace};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let policy = Policy { writable: vec!["src/**".into()], commands: vec!["cargo".into()] };
    /// let ws = Workspace::builder().repo("main", dir.path()).policy(policy).build()?;
    /// assert!(ws.check_agent_command(&["cargo", "test"]).is_ok());
    /// assert!(ws.check_agent_command(&["/usr/bin/cargo", "test"]).is_ok());
    /// assert!(ws.check_agent_command(&["./src/cargo"]).is_err());
    /// let inside = dir.path().join("src/cargo");
    /// assert!(ws.check_agent_command(&[inside.to_str().unwrap()]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_agent_command<S: AsRef<str>>(&self, argv: &[S]) -> Result<()> {
        if let Some(program) = argv.first().map(AsRef::as_ref) {
            if program.contains('/') {
                let path = Path::new(program);
                let inside = path.is_relative()
                    || self.repos.iter().any(|r| {
                        path.starts_with(&r.root)
                            || std::fs::canonicalize(path)
                                .is_ok_and(|real| real.starts_with(&r.root))
                    });
                if inside {
                    let command = argv.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
                    return Err(Error::CommandDenied { command });
                }
            }
        }
        self.policy.check_command(argv)
    }

    /// Every file of `repo` with size, mtime, SHA-256 and permission bits,
    /// and every symbolic link with its target (described, never followed,
    /// not hashed through), using the workspace's [`HashCache`].
    ///
    /// Honours `.gitignore` (and `.ignore`, `.git/info/exclude`), and always
    /// skips `.git/`, `target/`, `node_modules/`, `.kiro/runs/`, `.kiro/trace/`
    /// and `.kiro/audit.jsonl` (kiro's own records, which a rollback must not
    /// rewind). Files
    /// whose size and mtime match the cache are not read.
    pub fn snapshot(&self, repo: &str) -> Result<Snapshot> {
        let r = self.repo(repo)?;
        scan::snapshot(&r.name, &r.root, &self.cache)
    }

    /// How many writes and removals were made through this workspace; a
    /// cheap way to learn whether anything was written since a given moment.
    pub fn journal_len(&self) -> usize {
        self.lock_journal().len()
    }

    /// The journal entries from index `start` on (those made after
    /// [`journal_len`](Self::journal_len) returned `start`).
    pub fn journal_since(&self, start: usize) -> Vec<JournalEntry> {
        self.lock_journal()
            .get(start..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// The writes and removals made through this workspace, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.lock_journal().clone()
    }

    /// Reads a journal file written through [`WorkspaceBuilder::journal_file`].
    ///
    /// A last line cut short (a crash in the middle of an append) is ignored.
    pub fn read_journal(path: impl AsRef<Path>) -> Result<Vec<JournalEntry>> {
        let path = path.as_ref();
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut entries = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(entry) => entries.push(entry),
                Err(_) if !complete && i + 1 == lines.len() => {}
                Err(e) => {
                    return Err(Error::Json {
                        path: path.to_owned(),
                        line: i + 1,
                        column: e.column(),
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(entries)
    }

    fn lock_journal(&self) -> MutexGuard<'_, Vec<JournalEntry>> {
        // Entries are pushed whole, so a poisoned journal is still consistent.
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(
        &self,
        repo: &Repo,
        path: PathBuf,
        before: Option<String>,
        after: Option<String>,
    ) -> Result<JournalEntry> {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let entry = JournalEntry {
            repo: repo.name.clone(),
            path,
            before,
            after,
            time_ms,
        };
        // Holding the lock across the append keeps file order equal to memory order.
        let mut journal = self.lock_journal();
        if let Some(file) = &self.journal_file {
            append_line(file, &entry)?;
        }
        journal.push(entry.clone());
        Ok(entry)
    }
}

/// Appends one JSON line with a single `write` so concurrent appenders never interleave.
fn append_line(file: &Path, entry: &JournalEntry) -> Result<()> {
    let io = |source| Error::Io {
        path: file.to_owned(),
        source,
    };
    let mut line = serde_json::to_vec(entry).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(io)?;
    f.write_all(&line).map_err(io)?;
    // The file write itself was fsynced by `write_atomic`; the journal line
    // that describes it must survive a crash as well.
    f.sync_data().map_err(io)
}

fn existing_hash(abs: &Path) -> Result<Option<String>> {
    match scan::hash_file(abs) {
        Ok(h) => Ok(Some(h)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn escape(repo: &Repo, path: &Path, reason: &str) -> Error {
    Error::PathEscape {
        repo: repo.name.clone(),
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Resolves `path` inside `repo.root`; see [`Workspace::resolve`].
fn resolve_in(repo: &Repo, path: &Path) -> Result<PathBuf> {
    // Lexical pass: no root or prefix, and `..` may only undo earlier components.
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {
                return Err(escape(repo, path, "absolute path"));
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(escape(repo, path, "`..` climbs above the repository root"));
                }
            }
            Component::Normal(p) => parts.push(p),
        }
    }
    // File system pass: canonicalise the deepest existing ancestor (this
    // follows every symlink on the way) and check it is still under the root.
    let mut existing = parts.len();
    let mut candidate: PathBuf = repo.root.iter().chain(parts.iter().copied()).collect();
    loop {
        match fs::symlink_metadata(&candidate) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && existing > 0 => {
                existing -= 1;
                candidate.pop();
            }
            Err(source) => {
                return Err(Error::Io {
                    path: candidate,
                    source,
                })
            }
        }
    }
    let canonical = match fs::canonicalize(&candidate) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(escape(repo, path, "dangling symlink"));
        }
        Err(source) => {
            return Err(Error::Io {
                path: candidate,
                source,
            })
        }
    };
    if !canonical.starts_with(&repo.root) {
        return Err(escape(
            repo,
            path,
            &format!("symlink leads to {}", canonical.display()),
        ));
    }
    let rest = parts.get(existing..).unwrap_or_default();
    Ok(rest.iter().fold(canonical, |acc, p| acc.join(p)))
}
