//! The git work trees of a run, through the `git` command-line program.
//!
//! kiro commits each finished task on a branch `kiro/<spec>` of every
//! repository the task used, and moves those branches back on rollback.
//! [`GitRepo`] is the small set of git operations that needs: open a work
//! tree, read its head, branches, log (with trailers) and dirty paths, and
//! create/switch branches, stage paths, commit and move a branch.
//!
//! It runs the `git` program rather than linking a git library: the user's
//! configuration, credentials, worktree and repository formats are honoured
//! exactly as their own git does, there is no C build nor a large dependency,
//! and the operations are few and coarse (one process each is cheap next to
//! an agent's task). Every call is made so that nothing outside the call can
//! change what it does:
//!
//! - the program gets an argument vector, never a shell line, and paths come
//!   after `--` or on standard input (`-z`);
//! - `-c core.hooksPath=/dev/null -c commit.gpgsign=false -c core.pager=cat
//!   -c core.quotePath=false`: no user hook runs, no signing prompt, no pager,
//!   paths printed as they are;
//! - the variables that point git at another repository (`GIT_DIR`,
//!   `GIT_WORK_TREE`, `GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY`, ...) are
//!   removed, `LC_ALL=C` keeps messages parseable, `GIT_TERMINAL_PROMPT=0`
//!   keeps git from asking anything;
//! - a commit made in a repository with no `user.name`/`user.email` is made
//!   as `kiro <kiro@localhost>`, for that command only;
//! - commit messages go through standard input (`-F -`), so a task title can
//!   never become an option.
//!
//! Everything here blocks: async callers run it in `spawn_blocking`.
//!
//! ```no_run
//! use kiro_core::git::GitRepo;
//!
//! let repo = GitRepo::open("../api")?;
//! for commit in repo.commits("kiro/auth")? {
//!     println!("{} {} {:?}", commit.id, commit.subject, commit.trailers);
//! }
//! # Ok::<(), kiro_core::Error>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The prefix of the branches kiro works on: `kiro/<spec>`.
pub const BRANCH_PREFIX: &str = "kiro/";

/// Environment variables that would make git work on another repository,
/// index or object store than the one asked for; each call removes them.
const REDIRECTING_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_REPLACE_REF_BASE",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
];

/// Configuration every call sets, in `-c` form.
const FIXED_CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "commit.gpgsign=false",
    "tag.gpgsign=false",
    "core.pager=cat",
    // A monitor command in the repository's configuration would run on
    // every status; automatic maintenance would run `gc` in a commit.
    "core.fsmonitor=false",
    "gc.auto=0",
    "maintenance.auto=false",
    // `kiro/<spec>` tracks nothing; with `branch.autoSetupMerge=always` a
    // new branch would write its upstream into `.git/config`, which the
    // configuration guard would then take for a planted change.
    "branch.autoSetupMerge=false",
    "core.quotePath=false",
    "advice.detachedHead=false",
];

/// How many bytes of git's standard error an [`Error::Git`] keeps.
const STDERR_EXCERPT: usize = 2048;

/// The branch kiro works on for `spec`: `kiro/<spec>`.
pub fn branch_name(spec: &str) -> String {
    format!("{BRANCH_PREFIX}{spec}")
}

/// One commit as [`GitRepo::commits`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The full commit id (hex).
    pub id: String,
    /// The first line of the message.
    pub subject: String,
    /// The trailers of the message (`Key: value` lines of its last
    /// paragraph, as git parses them), in order, unfolded.
    pub trailers: Vec<(String, String)>,
}

impl CommitInfo {
    /// The value of the first trailer named `key` (compared ignoring ASCII case).
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// A commit message kiro writes: a subject line and trailers.
///
/// Both are sanitised when rendered ([`CommitMessage::render`]): control
/// characters (newlines included) become spaces, runs of white space one
/// space, so no value can add a line, a paragraph or a trailer of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitMessage {
    /// The first line (`<task id> <title>` for a task).
    pub subject: String,
    /// `Key: value` trailers, in order.
    pub trailers: Vec<(String, String)>,
}

impl CommitMessage {
    /// The message text: the subject, a blank line and one `Key: value` line
    /// per trailer (keys reduced to letters, digits and `-`; empty values
    /// dropped), ending with a newline.
    pub fn render(&self) -> String {
        let mut subject = one_line(&self.subject);
        if subject.is_empty() {
            subject = "kiro".to_owned();
        }
        let mut text = subject;
        text.push('\n');
        let mut first = true;
        for (key, value) in &self.trailers {
            let key: String = key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            let value = one_line(value);
            if key.is_empty() || value.is_empty() {
                continue;
            }
            if first {
                text.push('\n');
                first = false;
            }
            text.push_str(&key);
            text.push_str(": ");
            text.push_str(&value);
            text.push('\n');
        }
        text
    }
}

/// `text` on one line: control characters and runs of white space become a
/// single space, and the ends are trimmed.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A git work tree, driven through the `git` program.
///
/// Opening it captures the repository's `.git` link and `config` files;
/// every later call first checks they are unchanged and otherwise fails
/// with [`Error::GitConfigChanged`], so a command configured there after
/// kiro opened the repository (a filter driver an agent planted) never runs.
#[derive(Clone, Debug)]
pub struct GitRepo {
    /// The top-level directory of the work tree.
    root: PathBuf,
    /// Whether commits need kiro's fallback identity (`user.name` or
    /// `user.email` is not configured).
    needs_identity: bool,
    /// The repository's configuration files as they were when it was
    /// opened; every later command first checks they are unchanged.
    guard: ConfigGuard,
}

/// The bytes of the files that decide which programs git runs (the `.git`
/// link of a linked work tree, `config`, `config.worktree`), captured when
/// a [`GitRepo`] is opened. Hooks, pagers and fsmonitor are off for every
/// call, but a filter driver (`filter.<name>.clean`) defined in the
/// repository's configuration would still run when files are staged: an
/// agent allowed to write the whole work tree could plant one, and kiro's
/// own `git` would run it outside the sandbox. So a change of these files
/// stops kiro's git work in that repository ([`Error::GitConfigChanged`]).
#[derive(Clone, Default)]
struct ConfigGuard {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

/// Names the guarded files only: a configuration can hold credentials
/// (`http.extraHeader`), which must not reach a log.
impl std::fmt::Debug for ConfigGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.files.iter().map(|(path, _)| path))
            .finish()
    }
}

impl ConfigGuard {
    /// Reads the guarded files of the work tree at `root`, whose git
    /// directory and common directory git reported.
    fn capture(root: &Path, git_dir: &Path, common_dir: &Path) -> ConfigGuard {
        let mut paths = vec![
            root.join(".git"),
            git_dir.join("config"),
            git_dir.join("config.worktree"),
        ];
        if common_dir != git_dir {
            paths.push(common_dir.join("config"));
            paths.push(common_dir.join("config.worktree"));
        }
        ConfigGuard {
            files: paths
                .into_iter()
                .map(|path| {
                    let bytes = guarded_bytes(&path);
                    (path, bytes)
                })
                .collect(),
        }
    }

    /// The first guarded file whose bytes differ from the captured ones.
    fn changed(&self) -> Option<&Path> {
        self.files
            .iter()
            .find(|(path, bytes)| guarded_bytes(path) != *bytes)
            .map(|(path, _)| path.as_path())
    }
}

/// A guarded file's bytes: `None` when absent, a marker for a directory
/// (the usual `.git`), the contents otherwise (a link file or a config).
fn guarded_bytes(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.is_dir() {
        return Some(b"<dir>".to_vec());
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ok()?;
        return Some(format!("<link>{}", target.display()).into_bytes());
    }
    // A config file larger than this is not one git wrote; its length and
    // time stand for it rather than reading it whole.
    if meta.len() > 1 << 20 {
        return Some(format!("<large>{}:{:?}", meta.len(), meta.modified().ok()).into_bytes());
    }
    std::fs::read(path).ok()
}

impl GitRepo {
    /// Opens the work tree that contains `dir` (its top level becomes
    /// [`GitRepo::root`]). Fails with [`Error::NotAGitRepo`] when `dir` is not
    /// inside a git work tree (a bare repository included), and with
    /// [`Error::GitMissing`] when the `git` program cannot be run.
    pub fn open(dir: impl AsRef<Path>) -> Result<GitRepo> {
        let dir = dir.as_ref();
        let out = raw(
            dir,
            &["rev-parse", "--is-inside-work-tree", "--show-toplevel"],
            None,
        )?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut lines = stdout.lines();
        if !out.status.success() || lines.next() != Some("true") {
            return Err(Error::NotAGitRepo {
                path: dir.to_owned(),
            });
        }
        let root = match lines.next() {
            Some(top) if !top.is_empty() => PathBuf::from(top),
            _ => {
                return Err(Error::NotAGitRepo {
                    path: dir.to_owned(),
                })
            }
        };
        let dirs = raw(
            &root,
            &[
                "rev-parse",
                "--path-format=absolute",
                "--git-dir",
                "--git-common-dir",
            ],
            None,
        )?;
        let dirs_text = String::from_utf8_lossy(&dirs.stdout);
        let mut dir_lines = dirs_text.lines();
        let (Some(git_dir), Some(common_dir)) = (dir_lines.next(), dir_lines.next()) else {
            return Err(Error::NotAGitRepo {
                path: dir.to_owned(),
            });
        };
        let guard = ConfigGuard::capture(&root, Path::new(git_dir), Path::new(common_dir));
        let mut repo = GitRepo {
            root,
            needs_identity: false,
            guard,
        };
        repo.needs_identity =
            repo.config("user.name")?.is_none() || repo.config("user.email")?.is_none();
        Ok(repo)
    }

    /// The work tree containing `dir`, or `None` when there is none or git
    /// cannot be run.
    pub fn discover(dir: impl AsRef<Path>) -> Option<GitRepo> {
        GitRepo::open(dir).ok()
    }

    /// The top-level directory of the work tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit `HEAD` points at, or `None` when the current branch has no
    /// commit yet (a fresh `git init`).
    pub fn head(&self) -> Result<Option<String>> {
        self.resolve("HEAD")
    }

    /// The commit `rev` names, or `None` when it names none.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>> {
        check_rev(rev)?;
        let spec = format!("{rev}^{{commit}}");
        let out = self.output(
            &["rev-parse", "-q", "--verify", "--end-of-options", &spec],
            None,
        )?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(first_line(&out.stdout))
    }

    /// The checked-out branch (`main`, `kiro/auth`), or `None` on a detached
    /// `HEAD`. An unborn branch is named too.
    pub fn current_branch(&self) -> Result<Option<String>> {
        let out = self.output(&["symbolic-ref", "-q", "--short", "HEAD"], None)?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(first_line(&out.stdout))
    }

    /// The local branches whose names start with `prefix` (all with `""`),
    /// sorted by name.
    pub fn branches(&self, prefix: &str) -> Result<Vec<String>> {
        let text = self.run(
            &["for-each-ref", "--format=%(refname:strip=2)", "refs/heads/"],
            None,
        )?;
        let mut names: Vec<String> = text
            .lines()
            .filter(|name| name.starts_with(prefix))
            .map(str::to_owned)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The commits reachable from `rev` (a branch, a commit, or a range such
    /// as `main..kiro/auth`), newest first, with their trailers. `HEAD` of a
    /// repository without commits has none.
    pub fn commits(&self, rev: &str) -> Result<Vec<CommitInfo>> {
        check_rev(rev)?;
        if rev == "HEAD" && self.head()?.is_none() {
            return Ok(Vec::new());
        }
        self.log(rev, &[])
    }

    /// At most `max` of the commits [`GitRepo::commits`] lists, after
    /// skipping the `skip` newest: reads a long history a page at a time.
    pub fn commits_page(&self, rev: &str, skip: usize, max: usize) -> Result<Vec<CommitInfo>> {
        check_rev(rev)?;
        let (skip, max) = (format!("--skip={skip}"), format!("--max-count={max}"));
        self.log(rev, &[&skip, &max])
    }

    fn log(&self, rev: &str, options: &[&str]) -> Result<Vec<CommitInfo>> {
        // One record per commit (RS-terminated), fields separated by NUL;
        // trailers as git parses them, one `Key: value` per line.
        let mut args = vec![
            "log",
            "--format=%H%x00%s%x00%(trailers:only=true,unfold=true)%x1e",
        ];
        args.extend_from_slice(options);
        args.extend_from_slice(&["--end-of-options", rev, "--"]);
        let text = self.run(&args, None)?;
        Ok(parse_log(&text))
    }

    /// The paths `git status` reports (modified, staged, untracked, deleted,
    /// both sides of a rename), relative to [`GitRepo::root`], ignored
    /// files left out.
    pub fn status_porcelain(&self) -> Result<Vec<String>> {
        let text = self.run(
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--no-renames",
            ],
            None,
        )?;
        let mut paths = Vec::new();
        for entry in text.split('\0') {
            if let Some(path) = entry.get(3..) {
                if !path.is_empty() {
                    paths.push(path.to_owned());
                }
            }
        }
        Ok(paths)
    }

    /// Creates branch `name` at `commit` (fails when it exists).
    pub fn create_branch(&self, name: &str, commit: &str) -> Result<()> {
        check_rev(name)?;
        check_rev(commit)?;
        self.run(
            &["branch", "--no-track", "--end-of-options", name, commit],
            None,
        )?;
        Ok(())
    }

    /// Checks out branch `name`. Switching between two branches at the same
    /// commit only moves `HEAD`; otherwise git updates the work tree and
    /// refuses to overwrite local changes. On a repository without commits,
    /// `HEAD` is pointed at `name` so that the first commit creates it.
    pub fn switch(&self, name: &str) -> Result<()> {
        check_rev(name)?;
        let refname = format!("refs/heads/{name}");
        let target = self.resolve(&refname)?;
        let head = self.head()?;
        if target.is_none() || target == head {
            // The same commit (or none yet): moving HEAD changes no file and
            // no index entry, whatever is dirty.
            self.run(&["symbolic-ref", "HEAD", &refname], None)?;
            return Ok(());
        }
        self.run(&["switch", "--no-guess", "--end-of-options", name], None)?;
        Ok(())
    }

    /// Stages exactly `paths` (relative to [`GitRepo::root`]): added and
    /// modified files are added, missing ones removed from the index, paths
    /// neither on disk nor in the index skipped, and untracked paths the
    /// repository's ignore rules match left out (as `git add` would).
    pub fn stage(&self, paths: &[String]) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut input = Vec::new();
        for path in paths {
            input.extend_from_slice(path.as_bytes());
            input.push(0);
        }
        // `check-ignore` names the untracked paths the ignore rules match;
        // exit 1 means none is.
        let out = self.output(&["check-ignore", "-z", "--stdin"], Some(&input))?;
        let ignored: Vec<&str> = match out.status.code() {
            Some(0) => std::str::from_utf8(&out.stdout)
                .unwrap_or_default()
                .split('\0')
                .filter(|p| !p.is_empty())
                .collect(),
            Some(1) => Vec::new(),
            status => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(self.error(&["check-ignore"], status, &stderr));
            }
        };
        if !ignored.is_empty() {
            input.clear();
            for path in paths.iter().filter(|p| !ignored.contains(&p.as_str())) {
                input.extend_from_slice(path.as_bytes());
                input.push(0);
            }
            if input.is_empty() {
                return Ok(());
            }
        }
        self.run(
            &[
                "update-index",
                "--add",
                "--remove",
                "--ignore-missing",
                "-z",
                "--stdin",
            ],
            Some(&input),
        )?;
        Ok(())
    }

    /// Commits the index with `message` (empty commits allowed) and returns
    /// the new commit's id.
    pub fn commit(&self, message: &CommitMessage) -> Result<String> {
        let text = message.render();
        self.run(
            &[
                "commit",
                "-q",
                "--allow-empty",
                "--no-verify",
                "--cleanup=verbatim",
                "-F",
                "-",
            ],
            Some(text.as_bytes()),
        )?;
        self.head()?
            .ok_or_else(|| self.error(&["commit"], None, "no HEAD after commit"))
    }

    /// Moves branch `name` to `commit` (`None`: deletes it, so that the
    /// next commit starts it again). When `name` is checked out, the index
    /// follows (`git reset --mixed`): the work tree is left as it is, for
    /// kiro's rollback to restore.
    pub fn reset_branch(&self, name: &str, commit: Option<&str>) -> Result<()> {
        self.move_branch(name, commit, "--mixed")
    }

    /// [`GitRepo::reset_branch`] that keeps the index (`git reset --soft`):
    /// what the commits after `commit` changed stays staged, for the next
    /// commit to take.
    pub fn reset_branch_soft(&self, name: &str, commit: Option<&str>) -> Result<()> {
        self.move_branch(name, commit, "--soft")
    }

    fn move_branch(&self, name: &str, commit: Option<&str>, mode: &str) -> Result<()> {
        check_rev(name)?;
        let refname = format!("refs/heads/{name}");
        let current = self.current_branch()?.as_deref() == Some(name);
        match commit {
            Some(commit) => {
                check_rev(commit)?;
                if current {
                    self.run(
                        &["reset", "-q", mode, "--end-of-options", commit, "--"],
                        None,
                    )?;
                } else {
                    self.run(&["update-ref", "--end-of-options", &refname, commit], None)?;
                }
            }
            None => {
                if self.resolve(&refname)?.is_some() {
                    self.run(&["update-ref", "-d", "--end-of-options", &refname], None)?;
                }
                if current && mode == "--mixed" {
                    self.run(&["read-tree", "--empty"], None)?;
                }
            }
        }
        Ok(())
    }

    /// The value of configuration `key`, or `None` when it is not set.
    fn config(&self, key: &str) -> Result<Option<String>> {
        let out = self.output(&["config", "--get", key], None)?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(first_line(&out.stdout).filter(|v| !v.is_empty()))
    }

    /// Runs git and returns its standard output; a non-zero exit is an
    /// [`Error::Git`].
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String> {
        let out = self.output(args, stdin)?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(self.error(args, out.status.code(), &stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs git in the work tree, with the fallback identity when needed.
    fn output(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<std::process::Output> {
        if let Some(path) = self.guard.changed() {
            return Err(Error::GitConfigChanged {
                repo: self.root.clone(),
                path: path.to_owned(),
            });
        }
        if self.needs_identity {
            let mut all = vec!["-c", "user.name=kiro", "-c", "user.email=kiro@localhost"];
            all.extend_from_slice(args);
            raw(&self.root, &all, stdin)
        } else {
            raw(&self.root, args, stdin)
        }
    }

    fn error(&self, args: &[&str], status: Option<i32>, stderr: &str) -> Error {
        let mut excerpt = stderr.trim().to_owned();
        if excerpt.len() > STDERR_EXCERPT {
            let mut cut = STDERR_EXCERPT;
            while !excerpt.is_char_boundary(cut) {
                cut -= 1;
            }
            excerpt.truncate(cut);
            excerpt.push_str(" [...]");
        }
        Error::Git {
            repo: self.root.clone(),
            args: args.join(" "),
            status,
            stderr: excerpt,
        }
    }
}

/// Refuses a revision or branch name that git could read as an option.
fn check_rev(rev: &str) -> Result<()> {
    if rev.is_empty() || rev.starts_with('-') || rev.contains('\0') {
        return Err(Error::InvalidId {
            id: rev.to_owned(),
            reason: "not a git revision".to_owned(),
        });
    }
    Ok(())
}

/// Runs `git -C dir <fixed config> args` with the redirecting variables
/// removed.
fn raw(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<std::process::Output> {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir);
    for config in FIXED_CONFIG {
        command.arg("-c").arg(config);
    }
    command
        .args(args)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for name in REDIRECTING_ENV {
        command.env_remove(name);
    }
    let mut child = command
        .spawn()
        .map_err(|source| Error::GitMissing { source })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // git reads its whole input before writing much, so writing first
        // cannot deadlock on the output pipes. A write error means git
        // exited early; its status and stderr say why.
        let _ = pipe.write_all(bytes);
    }
    child.wait_with_output().map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .map(|line| line.trim().to_owned())
}

/// Reads `git log` output of the format [`GitRepo::commits`] asks for.
fn parse_log(text: &str) -> Vec<CommitInfo> {
    let mut commits = Vec::new();
    for record in text.split('\u{1e}') {
        let record = record.trim_start_matches('\n');
        if record.is_empty() {
            continue;
        }
        let mut fields = record.splitn(3, '\0');
        let (Some(id), Some(subject)) = (fields.next(), fields.next()) else {
            continue;
        };
        let trailers = fields
            .next()
            .unwrap_or("")
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                Some((key.trim().to_owned(), value.trim().to_owned()))
            })
            .collect();
        commits.push(CommitInfo {
            id: id.to_owned(),
            subject: subject.to_owned(),
            trailers,
        });
    }
    commits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_line(input: &str, expected: &str) {
        assert_eq!(one_line(input), expected);
    }

    #[test]
    fn one_line_removes_line_breaks_and_controls() {
        check_line("plain", "plain");
        check_line("  two\nlines  ", "two lines");
        check_line("a\r\n\r\nKiro-Task: 9", "a Kiro-Task: 9");
        check_line("tab\tand\u{7}bell", "tab and bell");
        check_line("\n\n", "");
        check_line("unicode \u{2028} sep", "unicode sep");
    }

    #[track_caller]
    fn check_message(subject: &str, trailers: &[(&str, &str)], expected: &str) {
        let message = CommitMessage {
            subject: subject.to_owned(),
            trailers: trailers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        assert_eq!(message.render(), expected);
    }

    #[test]
    fn messages_keep_subject_and_trailers_on_their_lines() {
        check_message("1 Add login", &[], "1 Add login\n");
        check_message(
            "1 Add login",
            &[("Kiro-Spec", "auth"), ("Validates", "1.1, 1.2")],
            "1 Add login\n\nKiro-Spec: auth\nValidates: 1.1, 1.2\n",
        );
        // A title cannot add a paragraph or a trailer of its own.
        check_message(
            "2 Evil\n\nKiro-Run: forged",
            &[("Kiro-Task", "2\nKiro-Run: forged")],
            "2 Evil Kiro-Run: forged\n\nKiro-Task: 2 Kiro-Run: forged\n",
        );
        // Keys keep letters, digits and dashes only; empty values are dropped.
        check_message(
            "",
            &[("Kiro Spec:\n", "x"), ("Validates", " "), ("", "y")],
            "kiro\n\nKiroSpec: x\n",
        );
    }

    #[test]
    fn revisions_that_look_like_options_are_refused() {
        for rev in ["", "-x", "--output=/tmp/f", "a\0b"] {
            assert!(check_rev(rev).is_err(), "{rev:?}");
        }
        for rev in ["HEAD", "kiro/auth", "main..kiro/auth", "0123abc"] {
            assert!(check_rev(rev).is_ok(), "{rev:?}");
        }
    }

    #[test]
    fn log_records_are_split_into_commits_and_trailers() {
        let text = "abc\u{0}1 Add\u{0}Kiro-Spec: auth\nValidates: 1.1, 1.2\n\u{1e}\ndef\u{0}init\u{0}\u{1e}\n";
        let commits = parse_log(text);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].id, "abc");
        assert_eq!(commits[0].trailer("kiro-spec"), Some("auth"));
        assert_eq!(commits[0].trailer("Validates"), Some("1.1, 1.2"));
        assert_eq!(commits[1].subject, "init");
        assert!(commits[1].trailers.is_empty());
    }
}
