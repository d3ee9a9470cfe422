//! Git per task: the run's `kiro/<spec>` branches prepared when the tasks
//! start, and one commit per finished task, made after its mark and before
//! its checkpoint (see [`crate::pipeline::branches`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{blocking, Run};
use crate::checkpoint::FileChange;
use crate::error::{Error, Result};
use crate::pipeline::branches::{recorded_commits, sync_branch, task_message, RepoBranch};
use crate::spec::Task;
use crate::stage::RepoCommit;

/// The git side of a run: the repositories it commits to.
#[derive(Debug)]
pub(super) struct RunGit {
    /// Every repository of the workspace that is a git work tree, in
    /// workspace order; `prepared` once its branch is checked out.
    repos: Vec<RepoBranch>,
}

impl Run<'_> {
    /// Prepares per-task commits before the first task runs: every git work
    /// tree among `used` (the tasks' repositories) and the repository
    /// holding the spec is switched to `kiro/<spec>`. A new run refuses a
    /// work tree with changes it did not make; a resumed one first moves
    /// each branch back to the commits its last checkpoint records.
    ///
    /// Off when the pipeline or `[git] commits` says so; with
    /// `commits = true`, a used repository that is not a work tree is an
    /// error, and a repository inside a larger work tree is committed to;
    /// unset, only repositories at the top of a work tree are.
    pub(super) async fn start_git(&mut self, used: &[Arc<[String]>]) -> Result<()> {
        let enabled = self.pipeline.git.or(self.pipeline.config.git.commits);
        if enabled == Some(false) || self.git.is_some() {
            return Ok(());
        }
        let ws = self.options.workspace.clone();
        let spec = self.artifacts.spec.name.clone();
        let run = self.run_id.to_string();
        let resumed = self.options.resume.is_some();
        let recorded = recorded_commits(&self.artifacts);
        let mut wanted: BTreeSet<String> = used.iter().flat_map(|r| r.iter().cloned()).collect();
        if let Some(dir) = self.spec_dir.as_ref().and_then(|d| d.canonicalize().ok()) {
            for repo in ws.repos() {
                if ws.root(repo).is_ok_and(|root| dir.starts_with(root)) {
                    wanted.insert(repo.to_owned());
                }
            }
        }
        let git = blocking(move || {
            let mut repos = Vec::new();
            for name in ws.repos() {
                let opened = RepoBranch::open(&ws, name, enabled == Some(true))?;
                let Some(repo) = opened else {
                    if enabled == Some(true) && wanted.contains(name) {
                        return Err(Error::NotAGitRepo {
                            path: ws.root(name)?.to_owned(),
                        });
                    }
                    continue;
                };
                repos.push(repo);
            }
            // Every repository is checked before any branch is switched, so
            // that a refusal leaves all of them as they were. A resumed run
            // continues from the tree its crash or stop left.
            if !resumed {
                for repo in repos.iter().filter(|r| wanted.contains(&r.name)) {
                    repo.check_clean()?;
                }
            }
            let branch = crate::git::branch_name(&spec);
            for repo in repos.iter_mut().filter(|r| wanted.contains(&r.name)) {
                repo.prepare(&spec)?;
                if resumed {
                    sync_branch(&repo.git, &branch, &run, &recorded, true)?;
                }
            }
            Ok(RunGit { repos })
        })
        .await?;
        if !git.repos.is_empty() {
            self.git = Some(git);
        }
        Ok(())
    }

    /// Whether finished tasks are committed.
    pub(super) fn commits_tasks(&self) -> bool {
        self.git.is_some()
    }

    /// Commits a finished task in every repository it was `assigned` to or
    /// that `files` (its checkpoint's changes) touch: exactly those paths,
    /// or an empty commit where it changed nothing. Without a checkpoint
    /// store (`files` is `None`) what is dirty in those repositories is
    /// committed. Returns the commits, one per repository, for the task's
    /// outcome.
    pub(super) async fn commit_task(
        &mut self,
        task: &Task,
        assigned: &[String],
        files: Option<&[FileChange]>,
    ) -> Result<Vec<RepoCommit>> {
        let Some(git) = self.git.as_mut() else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = assigned.to_vec();
        if let Some(files) = files {
            for change in files {
                if !names.contains(&change.repo) {
                    names.push(change.repo.clone());
                }
            }
        }
        let mut work = Vec::new();
        for name in &names {
            let Some(repo) = git.repos.iter().find(|r| &r.name == name) else {
                continue;
            };
            let paths = files.map(|files| {
                files
                    .iter()
                    .filter(|c| &c.repo == name)
                    .map(|c| c.path.clone())
                    .collect::<Vec<_>>()
            });
            work.push((repo.clone(), paths));
        }
        if work.is_empty() {
            return Ok(Vec::new());
        }
        let spec = self.artifacts.spec.name.clone();
        let run = self.run_id.to_string();
        let task = task.clone();
        let audit = self.pipeline.audit.clone();
        let done = blocking(move || {
            // The audit head as of this commit: every entry written so far
            // (the gates and phases before this task) is anchored by it.
            let head = audit.as_ref().map(|log| log.head()).transpose()?;
            let message = task_message(&spec, &run, &task, head.as_ref());
            let mut done = Vec::new();
            for (mut repo, paths) in work {
                if !repo.prepared {
                    // A repository no task was assigned to, changed anyway:
                    // its branch starts here; the change is the task's.
                    repo.prepare(&spec)?;
                }
                let paths = match paths {
                    Some(paths) => paths,
                    None => repo.dirty_for_commit(&spec)?,
                };
                let commit = repo.commit(&paths, &message)?;
                done.push((repo.name.clone(), commit));
            }
            Ok(done)
        })
        .await?;
        let mut commits = Vec::with_capacity(done.len());
        for (name, commit) in done {
            if let Some(repo) = git.repos.iter_mut().find(|r| r.name == name) {
                repo.prepared = true;
            }
            commits.push(RepoCommit { repo: name, commit });
        }
        Ok(commits)
    }
}
