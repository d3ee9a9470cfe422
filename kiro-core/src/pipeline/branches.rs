//! The `kiro/<spec>` branches of a run: preparing them when tasks start,
//! one commit per finished task, and moving them back with the checkpoints.
//!
//! Every branch move is derived from the checkpoint store, so it is
//! idempotent: a rollback moves each branch to the newest commit recorded
//! at or before its target checkpoint, a resumed run to the newest one
//! recorded at its last checkpoint ([`sync_branch`]). A commit the run
//! made that no checkpoint records (a crash between the commit and its
//! checkpoint) is thereby discarded, and its task runs again.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::git::{branch_name, CommitMessage, GitRepo};
use crate::spec::Task;
use crate::stage::{Artifacts, RepoCommit};
use crate::workspace::{is_kiro_record, Workspace};

/// How many commits [`sync_branch`] reads per `git log` call.
const LOG_PAGE: usize = 256;

/// How many dirty paths [`Error::DirtyRepo`] names.
const DIRTY_SHOWN: usize = 10;

/// A repository of the workspace that is a git work tree.
#[derive(Clone, Debug)]
pub(crate) struct RepoBranch {
    /// The workspace's name of the repository.
    pub name: String,
    /// Its work tree.
    pub git: GitRepo,
    /// Where the workspace's root of the repository lies inside the work
    /// tree (`""` when they are the same, else `sub/dir/`): what turns a
    /// workspace path into a git path.
    pub prefix: String,
    /// Whether its branch has been switched to for this run.
    pub prepared: bool,
}

impl RepoBranch {
    /// The repository `name` of `ws`, when its root is inside a git work
    /// tree; unless `nested`, only when its root is the work tree's top
    /// level (a workspace inside another project's checkout, such as an
    /// example folder, never gets that project's branch switched).
    pub(crate) fn open(ws: &Workspace, name: &str, nested: bool) -> Result<Option<RepoBranch>> {
        let root = ws.root(name)?;
        let git = match GitRepo::open(root) {
            Ok(git) => git,
            // Without git (or outside a work tree) there is nothing to commit to.
            Err(Error::NotAGitRepo { .. } | Error::GitMissing { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let prefix = match root.strip_prefix(git.root()) {
            Ok(rel) if rel.as_os_str().is_empty() => String::new(),
            Ok(rel) => format!("{}/", rel.to_string_lossy()),
            Err(_) => String::new(),
        };
        if !prefix.is_empty() && !nested {
            return Ok(None);
        }
        Ok(Some(RepoBranch {
            name: name.to_owned(),
            git,
            prefix,
            prepared: false,
        }))
    }

    /// The paths `git status` reports inside the workspace's root of the
    /// repository, relative to that root, kiro's own files (`.kiro/`) left
    /// out.
    fn dirty(&self) -> Result<Vec<String>> {
        Ok(self
            .git
            .status_porcelain()?
            .into_iter()
            .filter_map(|path| path.strip_prefix(&self.prefix).map(str::to_owned))
            .filter(|path| !path.starts_with(".kiro/") && !is_kiro_record(Path::new(path)))
            .collect())
    }

    /// Refuses a work tree with changes kiro did not make
    /// ([`Error::DirtyRepo`]): a run must not carry them into its commits.
    pub(crate) fn check_clean(&self) -> Result<()> {
        let mut dirty = self.dirty()?;
        if dirty.is_empty() {
            return Ok(());
        }
        dirty.sort();
        let more = dirty.len().saturating_sub(DIRTY_SHOWN);
        dirty.truncate(DIRTY_SHOWN);
        if more > 0 {
            dirty.push(format!("... ({more} more)"));
        }
        Err(Error::DirtyRepo {
            repo: self.name.clone(),
            root: self.git.root().to_owned(),
            paths: dirty,
        })
    }

    /// Switches the work tree to `kiro/<spec>`, creating the branch at
    /// `HEAD` when it does not exist (on a repository without commits, the
    /// first commit creates it).
    pub(crate) fn prepare(&mut self, spec: &str) -> Result<()> {
        let branch = branch_name(spec);
        if self.git.current_branch()?.as_deref() != Some(branch.as_str()) {
            let exists = self.git.resolve(&format!("refs/heads/{branch}"))?.is_some();
            if !exists {
                if let Some(head) = self.git.head()? {
                    self.git.create_branch(&branch, &head)?;
                }
            }
            self.git.switch(&branch)?;
        }
        self.prepared = true;
        Ok(())
    }

    /// Stages `paths` (workspace paths of this repository) and commits them
    /// with `message`, empty when nothing changed; returns the commit.
    pub(crate) fn commit(&self, paths: &[String], message: &CommitMessage) -> Result<String> {
        let paths: Vec<String> = paths
            .iter()
            .map(|p| format!("{}{p}", self.prefix))
            .collect();
        self.git.stage(&paths)?;
        self.git.commit(message)
    }

    /// The paths a run without a checkpoint store commits for a task: what
    /// is dirty now, `.kiro/` left out but the spec's own folder kept.
    pub(crate) fn dirty_for_commit(&self, spec: &str) -> Result<Vec<String>> {
        let spec_dir = format!(".kiro/specs/{spec}/");
        Ok(self
            .git
            .status_porcelain()?
            .into_iter()
            .filter_map(|path| path.strip_prefix(&self.prefix).map(str::to_owned))
            .filter(|path| !path.starts_with(".kiro/") || path.starts_with(&spec_dir))
            .collect())
    }
}

/// The message of a task's commit: `<id> <title>`, then the trailers
/// `Kiro-Spec`, `Kiro-Task`, `Kiro-Run`, `Validates` (the task's criteria)
/// and `Kiro-Audit-Head` (`<seq>:<line_hash>`, when the run has an audit
/// log).
pub(crate) fn task_message(
    spec: &str,
    run: &str,
    task: &Task,
    audit_head: Option<&crate::audit::AuditHead>,
) -> CommitMessage {
    let id = task
        .id
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let validates = task
        .requirements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut trailers = vec![
        ("Kiro-Spec".to_owned(), spec.to_owned()),
        ("Kiro-Task".to_owned(), id.clone()),
        ("Kiro-Run".to_owned(), run.to_owned()),
        ("Validates".to_owned(), validates),
    ];
    if let Some(head) = audit_head {
        trailers.push((
            "Kiro-Audit-Head".to_owned(),
            format!("{}:{}", head.seq, head.line_hash),
        ));
    }
    CommitMessage {
        subject: format!("{id} {}", task.title),
        trailers,
    }
}

/// Every commit the outcomes of `artifacts` record.
pub(crate) fn recorded_commits(artifacts: &Artifacts) -> HashSet<String> {
    artifacts
        .outcomes
        .values()
        .flat_map(|o| o.commits.iter().map(|c: &RepoCommit| c.commit.clone()))
        .collect()
}

/// Moves `branch` back over the commits of run `run` that `recorded` does
/// not hold: to the newest commit that is recorded or was not made by the
/// run (`Kiro-Run` trailer), deleting the branch when the run made all of
/// its commits. Idempotent; a branch that does not exist is left alone.
/// When `branch` is checked out the index follows, the files do not;
/// with `keep_index` the index stays too (a resumed run: what the discarded
/// commits changed goes into the next commit, the re-run task's).
pub(crate) fn sync_branch(
    git: &GitRepo,
    branch: &str,
    run: &str,
    recorded: &HashSet<String>,
    keep_index: bool,
) -> Result<()> {
    let Some(tip) = git.resolve(&format!("refs/heads/{branch}"))? else {
        return Ok(());
    };
    let mut skip = 0;
    let target = loop {
        let page = git.commits_page(&tip, skip, LOG_PAGE)?;
        let found = page
            .iter()
            .find(|c| recorded.contains(&c.id) || c.trailer("Kiro-Run") != Some(run));
        if let Some(commit) = found {
            break Some(commit.id.clone());
        }
        if page.len() < LOG_PAGE {
            break None;
        }
        skip += page.len();
    };
    if target.as_deref() == Some(tip.as_str()) {
        return Ok(());
    }
    if keep_index {
        git.reset_branch_soft(branch, target.as_deref())
    } else {
        git.reset_branch(branch, target.as_deref())
    }
}

/// [`sync_branch`] for `kiro/<spec>` in every repository of `ws` that is a
/// git work tree: how a rollback and a fork move the branches with the files.
pub(crate) fn sync_workspace(
    ws: &Workspace,
    spec: &str,
    run: &str,
    recorded: &HashSet<String>,
) -> Result<()> {
    let branch = branch_name(spec);
    for name in ws.repos() {
        if let Some(repo) = RepoBranch::open(ws, name, true)? {
            sync_branch(&repo.git, &branch, run, recorded, false)?;
        }
    }
    Ok(())
}
