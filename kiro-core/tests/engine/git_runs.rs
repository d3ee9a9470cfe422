//! Git per task: the `git` wrapper on real repositories created by the test,
//! and runs that commit each finished task on `kiro/<spec>` in every
//! repository they use.

use std::path::Path;
use std::process::Command;

use kiro_core::git::{CommitMessage, GitRepo};
use kiro_core::Error;

/// Runs git in `dir` with a fixed identity and no user configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new repository at `dir` on branch `main`, with one commit of `files`
/// (none: no commit at all).
fn init_repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    if !files.is_empty() {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "initial"]);
    }
}

#[test]
fn git_wrapper_reads_head_branches_log_and_status() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("api");
    init_repo(&dir, &[("src/lib.rs", "// lib\n")]);
    let repo = GitRepo::open(dir.join("src")).unwrap();
    assert_eq!(repo.root(), dir.canonicalize().unwrap());
    let initial = repo.head().unwrap().unwrap();
    assert_eq!(repo.current_branch().unwrap().as_deref(), Some("main"));
    assert!(repo.status_porcelain().unwrap().is_empty());

    repo.create_branch("kiro/auth", &initial).unwrap();
    repo.switch("kiro/auth").unwrap();
    assert_eq!(repo.branches("kiro/").unwrap(), ["kiro/auth"]);
    assert_eq!(repo.branches("").unwrap(), ["kiro/auth", "main"]);

    std::fs::write(dir.join("src/lib.rs"), "// changed\n").unwrap();
    std::fs::write(dir.join("new file.txt"), "new\n").unwrap();
    std::fs::write(dir.join("untouched.txt"), "not staged\n").unwrap();
    let mut dirty = repo.status_porcelain().unwrap();
    dirty.sort();
    assert_eq!(dirty, ["new file.txt", "src/lib.rs", "untouched.txt"]);

    // Stage exactly the given paths; a path neither on disk nor in the
    // index is skipped, an untracked one the ignore rules match left out.
    std::fs::write(dir.join(".git/info/exclude"), "*.log\n").unwrap();
    std::fs::write(dir.join("debug.log"), "noise\n").unwrap();
    repo.stage(&[
        "src/lib.rs".into(),
        "new file.txt".into(),
        "gone.txt".into(),
        "debug.log".into(),
    ])
    .unwrap();
    let message = CommitMessage {
        subject: "1 Add login\n\nKiro-Run: forged".into(),
        trailers: vec![
            ("Kiro-Spec".into(), "auth".into()),
            ("Validates".into(), "1.1, 1.2".into()),
        ],
    };
    let id = repo.commit(&message).unwrap();
    assert_eq!(repo.head().unwrap().as_deref(), Some(id.as_str()));
    assert_eq!(repo.status_porcelain().unwrap(), ["untouched.txt"]);

    let in_commit = git(&dir, &["show", "--format=", "--name-only", &id]);
    assert_eq!(in_commit, "new file.txt\nsrc/lib.rs\n");

    let log = repo.commits("kiro/auth").unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, id);
    assert_eq!(log[0].subject, "1 Add login Kiro-Run: forged");
    assert_eq!(
        log[0].trailers,
        [
            ("Kiro-Spec".to_owned(), "auth".to_owned()),
            ("Validates".to_owned(), "1.1, 1.2".to_owned())
        ]
    );
    assert_eq!(log[1].id, initial);
    assert_eq!(repo.commits("main..kiro/auth").unwrap().len(), 1);

    // Moving the checked-out branch back resets the index, not the files.
    repo.reset_branch("kiro/auth", Some(&initial)).unwrap();
    assert_eq!(repo.head().unwrap().as_deref(), Some(initial.as_str()));
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "// changed\n"
    );
    let mut dirty = repo.status_porcelain().unwrap();
    dirty.sort();
    assert_eq!(dirty, ["new file.txt", "src/lib.rs", "untouched.txt"]);
}

#[test]
fn git_wrapper_handles_unborn_heads_and_refuses_non_repositories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("web");
    init_repo(&dir, &[]);
    let repo = GitRepo::open(&dir).unwrap();
    assert_eq!(repo.head().unwrap(), None);
    assert!(repo.commits("HEAD").unwrap().is_empty());
    // The first commit creates the branch HEAD names.
    repo.switch("kiro/auth").unwrap();
    assert_eq!(repo.current_branch().unwrap().as_deref(), Some("kiro/auth"));
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    repo.stage(&["a.txt".into()]).unwrap();
    let id = repo
        .commit(&CommitMessage {
            subject: "1 First".into(),
            trailers: vec![],
        })
        .unwrap();
    assert_eq!(repo.branches("").unwrap(), ["kiro/auth"]);
    assert_eq!(repo.commits("kiro/auth").unwrap()[0].id, id);

    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    assert!(matches!(
        GitRepo::open(&plain),
        Err(Error::NotAGitRepo { .. })
    ));
    assert!(GitRepo::discover(&plain).is_none());
    assert!(matches!(
        repo.commits("--output=/tmp/x"),
        Err(Error::InvalidId { .. })
    ));
}

// ---------------------------------------------------------------------------
// Runs on three repositories.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiro_core::audit::AuditLog;
use kiro_core::checkpoint::{CheckpointStore, FileCheckpointStore};
use kiro_core::config::TaskOrder;
use kiro_core::pipeline::{rollback, Pipeline, RunOptions, RunStatus, RunSummary};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, OutcomeStatus, Phase, StageContext, StageError, TaskOutcome};
use kiro_core::workspace::{Policy, Workspace};

use crate::whole_tree;

const REPOS: [&str; 3] = ["api", "web", "db"];
const SPEC: &str = "shop";
const BRANCH: &str = "kiro/shop";

/// Three tasks across the three repositories, each depending on the one
/// before; the spec lives in `api`.
const TASKS: &str = "# Implementation Plan

- [ ] 1. Add the orders table
  - _Repos: db_
  - _Requirements: 1.1_
- [ ] 2. Serve orders from the API
  - _Repos: api_
  - _Requirements: 1.1, 1.2_
  - _Depends: 1_
- [ ] 3. Show orders on the web page
  - _Repos: web, api_
  - _Requirements: 1.2_
  - _Depends: 2_
";

/// What the executor does for a task.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// Writes `task-<id>.txt` in each of the task's repositories.
    Write,
    /// Fails without writing.
    Fail,
    /// Writes its file, then plants a filter driver the way an agent allowed
    /// to write the whole work tree could: `.gitattributes` mapping every
    /// file to it and its command in the repository's `.git/config`.
    PlantFilter,
    /// Captures every repository (tree and `git log`), then writes: the
    /// state of the previous task's checkpoint.
    CaptureThenWrite,
}

/// Every repository's work tree (without `.git`) and `kiro/shop` log.
type Captured = HashMap<String, (whole_tree::Tree, Vec<String>)>;

#[derive(Clone, Default)]
struct Writer {
    acts: HashMap<String, Act>,
    roots: HashMap<String, PathBuf>,
    captured: Arc<Mutex<Option<Captured>>>,
}

#[async_trait]
impl Executor for Writer {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap();
        let act = self.acts.get(id.as_str()).copied().unwrap_or(Act::Write);
        if act == Act::Fail {
            return Ok(TaskOutcome::failed(id, "exit 1", "boom"));
        }
        if act == Act::CaptureThenWrite {
            *self.captured.lock().unwrap() = Some(capture_all(&self.roots));
        }
        if act == Act::PlantFilter {
            let repo = cx.task_repos()[0].clone();
            let root = &self.roots[&repo];
            let marker = root.parent().unwrap().join("filter-ran");
            let mut config = std::fs::OpenOptions::new()
                .append(true)
                .open(root.join(".git/config"))
                .unwrap();
            use std::io::Write as _;
            writeln!(
                config,
                "[filter \"evil\"]\n\tclean = sh -c 'touch {}; cat'",
                marker.display()
            )
            .unwrap();
            cx.workspace()
                .write(&repo, ".gitattributes", b"* filter=evil\n")?;
        }
        for repo in cx.task_repos() {
            let text = format!("task {id}\n");
            cx.workspace()
                .write(repo, format!("task-{id}.txt"), text.as_bytes())?;
        }
        Ok(TaskOutcome::done(id, "written"))
    }
}

struct Repos {
    _tmp: tempfile::TempDir,
    roots: HashMap<String, PathBuf>,
    ws: Arc<Workspace>,
    store: Arc<FileCheckpointStore>,
    audit: AuditLog,
    spec_dir: PathBuf,
}

impl Repos {
    /// Three repositories, each with an initial commit on `main`; the spec
    /// is committed in `api`, the checkpoint store and audit log live
    /// outside all three.
    fn new() -> Repos {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let mut roots = HashMap::new();
        for name in REPOS {
            let root = base.join(name);
            let spec = format!(".kiro/specs/{SPEC}/tasks.md");
            let files: Vec<(&str, &str)> = match name {
                "api" => vec![("src/lib.rs", "// api\n"), (spec.as_str(), TASKS)],
                "web" => vec![("index.html", "<html></html>\n")],
                _ => vec![("schema.sql", "create table t (id int);\n")],
            };
            init_repo(&root, &files);
            roots.insert(name.to_owned(), root);
        }
        let mut builder = Workspace::builder().policy(Policy::permissive());
        for name in REPOS {
            builder = builder.repo(name, &roots[name]);
        }
        let hub = base.join("hub");
        std::fs::create_dir_all(&hub).unwrap();
        Repos {
            ws: Arc::new(builder.build().unwrap()),
            store: Arc::new(FileCheckpointStore::at(base.join("store"))),
            audit: AuditLog::open(&hub).unwrap(),
            spec_dir: roots["api"].join(".kiro/specs").join(SPEC),
            roots,
            _tmp: tmp,
        }
    }

    fn pipeline(&self, writer: &Writer) -> Pipeline {
        Pipeline::builder()
            .executor(writer.clone())
            .shared_store(self.store.clone())
            .audit(self.audit.clone())
            .order(TaskOrder::Declared)
            .build()
    }

    fn writer(&self, acts: &[(&str, Act)]) -> Writer {
        Writer {
            acts: acts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            roots: self.roots.clone(),
            captured: Arc::default(),
        }
    }

    async fn run(&self, writer: &Writer, resume: Option<&RunSummary>) -> RunSummary {
        let mut options = RunOptions::new(self.ws.clone(), &self.spec_dir).until(Phase::Execute);
        if let Some(before) = resume {
            options = options.resume(before.run_id.clone());
        }
        self.pipeline(writer).run(options).await.unwrap()
    }

    /// The commits of the run on `kiro/shop` (since `main`), oldest first.
    fn run_commits(&self, repo: &str) -> Vec<kiro_core::git::CommitInfo> {
        let git = GitRepo::open(&self.roots[repo]).unwrap();
        let mut commits = git.commits(&format!("main..{BRANCH}")).unwrap();
        commits.reverse();
        commits
    }

    fn tasks_of(&self, repo: &str) -> Vec<String> {
        self.run_commits(repo)
            .iter()
            .map(|c| c.trailer("Kiro-Task").unwrap_or_default().to_owned())
            .collect()
    }

    /// `git status` paths, kiro's own records aside.
    fn dirty(&self, repo: &str) -> Vec<String> {
        let git = GitRepo::open(&self.roots[repo]).unwrap();
        git.status_porcelain().unwrap()
    }
}

fn capture_all(roots: &HashMap<String, PathBuf>) -> Captured {
    roots
        .iter()
        .map(|(name, root)| {
            let mut tree = whole_tree::capture(root);
            tree.retain(|path, _| !path.starts_with(".git/"));
            let log = git(root, &["log", "--format=%H %s", BRANCH])
                .lines()
                .map(str::to_owned)
                .collect();
            (name.clone(), (tree, log))
        })
        .collect()
}

#[tokio::test]
async fn git_runs_commit_each_task_once_with_trailers_in_every_repository() {
    let repos = Repos::new();
    let writer = repos.writer(&[]);
    let summary = repos.run(&writer, None).await;
    assert_eq!(summary.status, RunStatus::Completed);
    let run = summary.run_id.to_string();

    // Each repository is on the run's branch, with one commit per task
    // that used it: the spec's repository holds every task's mark.
    let expected: [(&str, &[&str]); 3] =
        [("api", &["1", "2", "3"]), ("web", &["3"]), ("db", &["1"])];
    for (repo, tasks) in expected {
        let git = GitRepo::open(&repos.roots[repo]).unwrap();
        assert_eq!(
            git.current_branch().unwrap().as_deref(),
            Some(BRANCH),
            "{repo}"
        );
        assert_eq!(repos.tasks_of(repo), tasks, "{repo}");
        assert!(
            repos.dirty(repo).is_empty(),
            "{repo}: {:?}",
            repos.dirty(repo)
        );
    }
    let titles = [
        ("1", "1 Add the orders table", "1.1"),
        ("2", "2 Serve orders from the API", "1.1, 1.2"),
        ("3", "3 Show orders on the web page", "1.2"),
    ];
    let mut audit_seqs = Vec::new();
    for commit in repos.run_commits("api") {
        let task = commit.trailer("Kiro-Task").unwrap();
        let (_, subject, validates) = titles.iter().find(|(id, _, _)| *id == task).unwrap();
        assert_eq!(commit.subject, *subject);
        assert_eq!(commit.trailer("Kiro-Spec"), Some(SPEC));
        assert_eq!(commit.trailer("Kiro-Run"), Some(run.as_str()));
        assert_eq!(commit.trailer("Validates"), Some(*validates));
        // The audit log's head at commit time: `<seq>:<sha-256 hex>`.
        let head = commit.trailer("Kiro-Audit-Head").unwrap();
        let (seq, hash) = head.split_once(':').unwrap();
        assert_eq!(hash.len(), 64, "{head}");
        audit_seqs.push(seq.parse::<u64>().unwrap());
    }
    assert!(
        audit_seqs.windows(2).all(|w| w[0] <= w[1]),
        "{audit_seqs:?}"
    );
    assert!(audit_seqs[0] > 0, "the gates before the tasks are anchored");

    // Each commit holds exactly its task's files (and the tasks.md mark).
    let files = |repo: &str, commit: &str| {
        let mut files: Vec<String> = git(
            &repos.roots[repo],
            &["show", "--format=", "--name-only", commit],
        )
        .lines()
        .map(str::to_owned)
        .collect();
        files.sort();
        files
    };
    let web = repos.run_commits("web");
    assert_eq!(files("web", &web[0].id), ["task-3.txt"]);
    let api = repos.run_commits("api");
    let tasks_md = format!(".kiro/specs/{SPEC}/tasks.md");
    assert_eq!(files("api", &api[0].id), std::slice::from_ref(&tasks_md));
    assert_eq!(
        files("api", &api[1].id),
        [tasks_md.clone(), "task-2.txt".into()]
    );

    // The outcomes (and so the checkpoints) record the commits.
    let outcome = &summary.artifacts.outcomes["3"];
    let mut recorded: Vec<(String, String)> = outcome
        .commits
        .iter()
        .map(|c| (c.repo.clone(), c.commit.clone()))
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            ("api".to_owned(), api[2].id.clone()),
            ("web".to_owned(), web[0].id.clone())
        ]
    );
}

#[tokio::test]
async fn git_runs_skip_the_dependents_of_a_failure_in_other_repositories() {
    let repos = Repos::new();
    let writer = repos.writer(&[("2", Act::Fail)]);
    let summary = repos.run(&writer, None).await;
    assert!(
        matches!(summary.status, RunStatus::Failed { .. }),
        "{:?}",
        summary.status
    );
    assert_eq!(
        summary.artifacts.outcomes["2"].status,
        OutcomeStatus::Failed
    );
    // Task 1 is committed where it worked; task 2 failed and task 3 was
    // skipped: no commit for either, in any repository.
    assert_eq!(repos.tasks_of("db"), ["1"]);
    assert_eq!(repos.tasks_of("api"), ["1"]);
    assert!(repos.tasks_of("web").is_empty());
    assert!(!repos.roots["web"].join("task-3.txt").exists());
    assert!(repos.dirty("web").is_empty());
}

#[tokio::test]
async fn git_runs_roll_back_every_repository_to_the_same_checkpoint() {
    let repos = Repos::new();
    let writer = repos.writer(&[("3", Act::CaptureThenWrite)]);
    let summary = repos.run(&writer, None).await;
    assert_eq!(summary.status, RunStatus::Completed);
    let mut at_task_2 = writer.captured.lock().unwrap().take().unwrap();
    // Captured as task 3 started, its `[-]` mark already written; the
    // checkpoint of task 2 holds it as `[ ]`.
    let tasks_md = format!(".kiro/specs/{SPEC}/tasks.md");
    let marked = TASKS
        .replace("- [ ] 1.", "- [x] 1.")
        .replace("- [ ] 2.", "- [x] 2.");
    at_task_2.get_mut("api").unwrap().0.insert(
        tasks_md.clone(),
        whole_tree::Entry::File {
            sha256: kiro_core::workspace::sha256_hex(marked.as_bytes()),
            mode: 0o644,
        },
    );

    let checkpoints = repos.store.list(&summary.run_id).unwrap();
    let task_2 = checkpoints
        .iter()
        .find(|c| c.node == "task 2")
        .unwrap()
        .reference();
    rollback(repos.store.as_ref(), &repos.ws, &task_2).unwrap();

    let now = capture_all(&repos.roots);
    for repo in REPOS {
        let (tree, log) = &now[repo];
        let (want_tree, want_log) = &at_task_2[repo];
        whole_tree::assert_same(tree, want_tree, repo);
        assert_eq!(log, want_log, "{repo}");
        assert!(
            repos.dirty(repo).is_empty(),
            "{repo}: {:?}",
            repos.dirty(repo)
        );
    }
    assert_eq!(repos.tasks_of("web"), Vec::<String>::new());
    assert_eq!(repos.tasks_of("api"), ["1", "2"]);

    // Rolling back again to the same checkpoint changes nothing.
    rollback(repos.store.as_ref(), &repos.ws, &task_2).unwrap();
    assert_eq!(capture_all(&repos.roots), now);
}

#[tokio::test]
async fn git_runs_resumed_after_a_crash_between_commit_and_checkpoint_redo_the_task() {
    let repos = Repos::new();
    let summary = repos.run(&repos.writer(&[("3", Act::Fail)]), None).await;
    assert!(matches!(summary.status, RunStatus::Failed { .. }));
    let run = summary.run_id.to_string();
    // What a crash after task 3's commit and before its checkpoint leaves:
    // its file written and committed on the branch, no checkpoint for it.
    let web = &repos.roots["web"];
    std::fs::write(web.join("task-3.txt"), "task 3\n").unwrap();
    git(web, &["add", "task-3.txt"]);
    let trailers = format!(
        "3 Show orders on the web page\n\nKiro-Spec: {SPEC}\nKiro-Task: 3\nKiro-Run: {run}\n"
    );
    git(web, &["commit", "-q", "-m", &trailers]);
    let orphan = git(web, &["rev-parse", "HEAD"]).trim().to_owned();

    let resumed = repos.run(&repos.writer(&[]), Some(&summary)).await;
    assert_eq!(resumed.status, RunStatus::Completed);
    // The orphan commit is gone; task 3 has exactly one commit, the
    // resumed run's, holding its file.
    let commits = repos.run_commits("web");
    assert_eq!(commits.len(), 1);
    assert_ne!(commits[0].id, orphan);
    assert_eq!(commits[0].trailer("Kiro-Task"), Some("3"));
    assert_eq!(
        git(web, &["show", "--format=", "--name-only", &commits[0].id]).trim(),
        "task-3.txt"
    );
    assert_eq!(repos.tasks_of("api"), ["1", "2", "3"]);
    assert_eq!(repos.tasks_of("db"), ["1"]);
    for repo in REPOS {
        assert!(
            repos.dirty(repo).is_empty(),
            "{repo}: {:?}",
            repos.dirty(repo)
        );
    }
}

#[tokio::test]
async fn git_runs_refuse_a_dirty_repository_and_can_be_turned_off() {
    let repos = Repos::new();
    std::fs::write(repos.roots["db"].join("schema.sql"), "-- edited by hand\n").unwrap();
    let writer = repos.writer(&[]);
    let options = RunOptions::new(repos.ws.clone(), &repos.spec_dir).until(Phase::Execute);
    match repos.pipeline(&writer).run(options).await {
        Err(Error::DirtyRepo { repo, paths, .. }) => {
            assert_eq!(repo, "db");
            assert_eq!(paths, ["schema.sql"]);
        }
        other => panic!("expected a dirty-repository error, got {other:?}"),
    }
    // Nothing ran, nothing was committed.
    assert!(!repos.roots["db"].join("task-1.txt").exists());

    // With commits off, the run goes ahead and git is left alone.
    let pipeline = Pipeline::builder()
        .executor(writer.clone())
        .shared_store(repos.store.clone())
        .order(TaskOrder::Declared)
        .git(false)
        .build();
    let options = RunOptions::new(repos.ws.clone(), &repos.spec_dir).until(Phase::Execute);
    let summary = pipeline.run(options).await.unwrap();
    assert_eq!(summary.status, RunStatus::Completed);
    for repo in REPOS {
        let git = GitRepo::open(&repos.roots[repo]).unwrap();
        assert_eq!(git.current_branch().unwrap().as_deref(), Some("main"));
        assert!(git.branches("kiro/").unwrap().is_empty());
    }
}

#[tokio::test]
async fn git_runs_never_run_a_filter_a_task_planted_in_the_git_configuration() {
    let repos = Repos::new();
    let writer = repos.writer(&[("1", Act::PlantFilter)]);
    let options = RunOptions::new(repos.ws.clone(), &repos.spec_dir).until(Phase::Execute);
    let result = repos.pipeline(&writer).run(options).await;
    let marker = repos.roots["api"].parent().unwrap().join("filter-ran");
    assert!(
        !marker.exists(),
        "kiro's git ran the filter command a task planted"
    );
    // The run does not go on committing in that repository: it stops with
    // the error naming the configuration file.
    let message = match result {
        Err(e) => e.to_string(),
        Ok(summary) => format!("{:?}", summary.status),
    };
    assert!(
        message.contains(".git/config") && message.contains("changed"),
        "{message}"
    );
    // Task 1 planted the filter in `db`; the run stopped there, so the
    // later tasks never ran or committed anywhere.
    assert!(repos.tasks_of("web").is_empty());
    assert!(!repos.roots["web"].join("task-3.txt").exists());
}
