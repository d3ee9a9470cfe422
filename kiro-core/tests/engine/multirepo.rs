//! Multi-repository projects (issue 16): `.kiro/workspace.toml` read and
//! checked (every error placed at its line), and runs whose tasks execute in
//! the repository they name, inherit, mention or default to, across
//! repositories that depend on each other.
#![cfg(unix)]

use std::path::PathBuf;

use kiro_core::audit::{Actor, ActorSource};
use kiro_core::pipeline::RunStatus;
use kiro_core::project::{Project, ProjectError, RunSetup};
use kiro_core::stage::{OutcomeStatus, Phase};
use kiro_core::workspace::{WorkspaceManifest, DEFAULT_REPO, MANIFEST_PATH};
use kiro_core::Error;

/// A temporary folder holding `project/` (with `.kiro/`) and the sibling
/// repositories `api/` and `web/`.
struct Layout {
    _dir: tempfile::TempDir,
    base: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        for repo in ["project/.kiro/specs/cross", "api/db", "web/src"] {
            std::fs::create_dir_all(base.join(repo)).unwrap();
        }
        // A file only `api` has, for inference by existence.
        std::fs::write(base.join("api/db/schema.sql"), "create table t();\n").unwrap();
        std::fs::write(base.join("web/src/app.ts"), "export {};\n").unwrap();
        Layout { _dir: dir, base }
    }

    fn root(&self) -> PathBuf {
        self.base.join("project")
    }

    fn repo(&self, name: &str) -> PathBuf {
        if name == DEFAULT_REPO {
            self.root()
        } else {
            self.base.join(name)
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A project with repositories `api` and `web` (the default), a
    /// command executor running `script` under `sh`, and `tasks.md`.
    fn project(&self, script: &str, tasks: &str) -> Project {
        self.write(
            MANIFEST_PATH,
            "[repos.api]\npath = \"../api\"\ndescription = \"REST API\"\n\n\
             [repos.web]\npath = \"../web\"\ndefault = true\n",
        );
        let command = serde_json::to_string(&["sh", "-c", script]).unwrap();
        self.write(
            ".kiro/config.toml",
            &format!(
                "[executor]\ncommand = {command}\n\n[policy]\ncommands = [\"sh\"]\nwritable = [\"**\"]\nsandbox = \"off\"\n"
            ),
        );
        self.write(".kiro/specs/cross/tasks.md", tasks);
        Project::builder(self.root())
            .actor(Actor {
                name: "tester".into(),
                source: ActorSource::Caller,
            })
            .open()
            .unwrap()
    }

    /// What the script below left in `repo` for `task`: the folder it ran
    /// in and `KIRO_REPOS`, or `None` when it did not run there.
    fn ran(&self, repo: &str, task: &str) -> Option<String> {
        std::fs::read_to_string(self.repo(repo).join(format!("ran-{task}.txt"))).ok()
    }
}

/// Writes the working folder and `KIRO_REPOS` into `ran-<task>.txt` where the
/// command runs, and checks `KIRO_WORKSPACE` is that folder.
const RECORD: &str = "test \"$(pwd -P)\" = \"$KIRO_WORKSPACE\" || exit 9; \
                      printf '%s %s\\n' \"$(pwd -P)\" \"$KIRO_REPOS\" > \"ran-$KIRO_TASK_ID.txt\"";

const TASKS: &str = "\
# Implementation Plan

- [ ] 1. API endpoint
  - _Repos: api_
- [ ] 2. Web page
  - _Repos: web_
- [ ] 3. Migrate `db/schema.sql`
- [ ] 4. Add the route in api/src/routes.rs
- [ ] 5. Write the release notes
- [ ] 6. Wire both sides
  - _Repos: api, web_
- [ ] 7. Group on the API
  - _Repos: api_
  - [ ] 7.1 Child task
";

#[tokio::test]
async fn each_task_runs_in_the_root_of_its_repository() {
    let layout = Layout::new();
    let project = layout.project(RECORD, TASKS);
    let ws = project.workspace().unwrap();
    assert_eq!(ws.repos().collect::<Vec<_>>(), ["api", "web", DEFAULT_REPO]);
    assert_eq!(ws.default_repo(), "web");

    let dir = project.spec_dir("cross").unwrap();
    let summary = project
        .run(RunSetup::new(&dir).until(Phase::Execute).approve_all())
        .await
        .unwrap();
    assert_eq!(
        summary.status,
        RunStatus::Completed,
        "{:?}",
        summary.artifacts.outcomes
    );

    let line = |repo: &str, repos: &str| format!("{} {repos}\n", layout.repo(repo).display());
    for (task, repo, repos) in [
        ("1", "api", "api"),     // named
        ("2", "web", "web"),     // named
        ("3", "api", "api"),     // `db/schema.sql` exists only in api
        ("4", "api", "api"),     // first path component names the repository
        ("5", "web", "web"),     // nothing says: the default repository
        ("6", "api", "api,web"), // the first named runs it; KIRO_REPOS lists all
        ("7.1", "api", "api"),   // inherited from the parent
    ] {
        assert_eq!(
            layout.ran(repo, task),
            Some(line(repo, repos)),
            "task {task}"
        );
        for other in ["api", "web", DEFAULT_REPO].iter().filter(|r| **r != repo) {
            assert_eq!(
                layout.ran(other, task),
                None,
                "task {task} ran in {other} too"
            );
        }
    }
    // The engine's marks went to the spec's own repository, the root.
    let tasks = std::fs::read_to_string(dir.join("tasks.md")).unwrap();
    assert_eq!(tasks.matches("- [x]").count(), 8, "{tasks}");
}

#[tokio::test]
async fn a_failure_in_one_repository_skips_its_dependents_in_another() {
    let layout = Layout::new();
    let script = format!("if [ \"$KIRO_TASK_ID\" = 2 ]; then exit 3; fi; {RECORD}");
    let tasks = "\
# Implementation Plan

- [ ] 1. Web styling
  - _Repos: web_
- [ ] 2. Break the API
  - _Repos: api_
- [ ] 3. Web client of the API
  - _Repos: web_
  - _Depends: 2_
- [ ] 4. API follow-up of the client
  - _Repos: api_
  - _Depends: 3_
";
    let project = layout.project(&script, tasks);
    let dir = project.spec_dir("cross").unwrap();
    let summary = project
        .run(RunSetup::new(&dir).until(Phase::Execute).approve_all())
        .await
        .unwrap();
    assert!(
        matches!(summary.status, RunStatus::Failed { .. }),
        "{:?}",
        summary.status
    );
    let status = |id: &str| summary.artifacts.outcomes.get(id).map(|o| o.status);
    assert_eq!(status("1"), Some(OutcomeStatus::Done));
    assert!(layout.ran("web", "1").is_some());
    assert_eq!(status("2"), Some(OutcomeStatus::Failed));
    // Its dependent in web, and that one's in api, never ran.
    for (task, repo) in [("3", "web"), ("4", "api")] {
        assert_ne!(status(task), Some(OutcomeStatus::Done), "task {task}");
        assert_eq!(layout.ran(repo, task), None, "task {task} ran");
    }
    let text = std::fs::read_to_string(dir.join("tasks.md")).unwrap();
    assert!(text.contains("- [x] 1. Web styling"), "{text}");
    assert!(text.contains("- [ ] 3. Web client"), "{text}");
}

#[tokio::test]
async fn a_task_naming_an_unknown_repository_stops_the_run_before_any_task() {
    let layout = Layout::new();
    let tasks = "\
# Implementation Plan

- [ ] 1. Fine
  - _Repos: api_
- [ ] 2. Group
  - _Repos: mobile_
  - [ ] 2.1 Inherits the unknown name
";
    let project = layout.project(RECORD, tasks);
    let dir = project.spec_dir("cross").unwrap();
    let err = project
        .run(RunSetup::new(&dir).until(Phase::Execute).approve_all())
        .await
        .unwrap_err();
    match err {
        ProjectError::Core(Error::UnknownTaskRepo { task, repo, known }) => {
            assert_eq!((task.as_str(), repo.as_str()), ("2", "mobile"));
            assert_eq!(known, ["api", "web", DEFAULT_REPO]);
        }
        other => panic!("expected UnknownTaskRepo, got {other:?}"),
    }
    assert_eq!(layout.ran("api", "1"), None, "nothing ran");
    let text = std::fs::read_to_string(dir.join("tasks.md")).unwrap();
    assert_eq!(text, tasks, "no task was marked");
}

/// Each case: manifest text, the line and column of the error, and words
/// its message holds. `api/`, `web/` and `project/` exist; `project/inner`
/// is created for the nesting case.
#[test]
fn manifest_errors_name_the_file_line_and_column() {
    let layout = Layout::new();
    std::fs::create_dir_all(layout.root().join("inner")).unwrap();
    std::fs::write(layout.base.join("a-file"), "").unwrap();
    for (text, line, column, words) in [
        ("[repos.api]\npath = \"../api\"\ncolour = \"red\"\n", 3, 1, &["colour"][..]),
        ("[repos.api]\ndescription = \"x\"\n", 1, 8, &["\"api\"", "no `path`"]),
        ("[repos.\"a b\"]\npath = \"../api\"\n", 1, 8, &["\"a b\""]),
        ("[repos.api]\npath = \"../nope\"\n", 2, 8, &["\"api\"", "nope"]),
        ("[repos.api]\npath = \"../a-file\"\n", 2, 8, &["not a folder"]),
        (
            "[repos.api]\npath = \"../api\"\n[repos.again]\npath = \"../web/../api\"\n",
            4,
            8,
            &["\"api\"", "\"again\"", "same folder"],
        ),
        (
            "[repos.web]\npath = \"../web\"\n[repos.src]\npath = \"../web/src\"\n",
            4,
            8,
            &["\"web\"", "\"src\"", "nested"],
        ),
        (
            "[repos.api]\npath = \"../api\"\ndefault = true\n\n[repos.web]\npath = \"../web\"\ndefault = true\n",
            7,
            11,
            &["\"api\"", "\"web\"", "default"],
        ),
        ("[repos.inner]\npath = \"inner\"\n", 1, 8, &["\"inner\"", "inside the project root"]),
        ("[repos.main]\npath = \"../api\"\n", 1, 8, &["\"main\""]),
        ("[repos.api]\npath = 3\n", 2, 8, &["string"]),
    ] {
        let file = layout.root().join(MANIFEST_PATH);
        let err = WorkspaceManifest::parse(text, layout.root(), &file).unwrap_err();
        let Error::Config {
            path,
            line: l,
            column: c,
            ..
        } = &err
        else {
            panic!("{text}: not a config error: {err:?}");
        };
        assert_eq!(path, &file, "{text}");
        assert_eq!((*l, *c), (line, column), "{text}: {err}");
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("{}:{line}:{column}: ", file.display())), "{shown}");
        for word in words {
            assert!(shown.contains(word), "{text}: {shown:?} lacks {word}");
        }
    }
}

#[test]
fn manifests_that_are_accepted() {
    let layout = Layout::new();
    let root = layout.root();
    let file = root.join(MANIFEST_PATH);
    let names = |m: &WorkspaceManifest| m.names().iter().map(|n| n.to_string()).collect::<Vec<_>>();

    // No file: today's single repository at the root.
    let single = WorkspaceManifest::load(&root).unwrap();
    assert_eq!(names(&single), [DEFAULT_REPO]);
    assert_eq!(single.file, None);
    assert_eq!(single.repos[0].root, root);

    // File order decides "first"; the root joins as `main`, last.
    let m = WorkspaceManifest::parse(
        "[repos.web]\npath = \"../web\"\n[repos.api]\npath = \"../api\"\ndescription = \"REST\"\n",
        &root,
        &file,
    )
    .unwrap();
    assert_eq!(names(&m), ["web", "api", DEFAULT_REPO]);
    assert_eq!(m.default_repo(), "web");
    assert!(m.repos[2].implicit);
    assert_eq!(m.repo("api").unwrap().description.as_deref(), Some("REST"));
    assert_eq!(m.repo("api").unwrap().root, layout.repo("api"));

    // `path = "."` makes the root a named repository; absolute paths work.
    let abs = layout.repo("api").display().to_string();
    let m = WorkspaceManifest::parse(
        &format!("[repos.app]\npath = \".\"\n[repos.api]\npath = {abs:?}\ndefault = true\n"),
        &root,
        &file,
    )
    .unwrap();
    assert_eq!(names(&m), ["app", "api"]);
    assert_eq!(m.default_repo(), "api");
    assert!(m.repos.iter().all(|r| !r.implicit));
    let ws = m.builder().build().unwrap();
    assert_eq!(ws.default_repo(), "api");
    assert_eq!(ws.root("app").unwrap(), root.as_path());

    // An empty file is the root alone, named `main`.
    let m = WorkspaceManifest::parse("", &root, &file).unwrap();
    assert_eq!(names(&m), [DEFAULT_REPO]);
}

#[test]
fn a_project_with_a_bad_manifest_does_not_open() {
    let layout = Layout::new();
    layout.write(MANIFEST_PATH, "[repos.api]\npath = \"../missing\"\n");
    let err = Project::open(layout.root()).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("workspace.toml:2:8"), "{shown}");
}

/// Outside the engine, an executor follows the context's task repositories;
/// `CommandExecutor::repo` still wins, and `KIRO_REPOS` lists the one the
/// command runs in first.
#[tokio::test]
async fn the_command_executor_follows_the_task_repositories_of_its_context() {
    use kiro_core::spec::{Spec, Task, TaskId};
    use kiro_core::stage::{Executor, StageContext};
    use kiro_core::stages::CommandExecutor;
    use kiro_core::workspace::{Policy, Workspace};

    let layout = Layout::new();
    let ws = Workspace::builder()
        .repo("api", layout.repo("api"))
        .repo("web", layout.repo("web"))
        .default_repo("web")
        .policy(Policy {
            commands: vec!["sh".into()],
            ..Policy::default()
        })
        .build()
        .unwrap();
    let task = Task {
        id: Some(TaskId::new("1")),
        title: "X".into(),
        ..Task::default()
    };
    let script = "printf '%s %s' \"$(pwd -P)\" \"$KIRO_REPOS\"";
    let ws = std::sync::Arc::new(ws);
    for (repos, pinned, expected) in [
        (&[][..], None, ("web", "web")),
        (&["api", "web"][..], None, ("api", "api,web")),
        (&["api", "web"][..], Some("web"), ("web", "web,api")),
    ] {
        let cx = StageContext::builder(ws.clone())
            .task_repos(repos.iter().copied())
            .build();
        let mut exec = CommandExecutor::new(["sh", "-c", script]);
        if let Some(repo) = pinned {
            exec = exec.repo(repo);
        }
        let outcome = exec.execute(&task, &Spec::default(), &cx).await.unwrap();
        let (repo, list) = expected;
        assert_eq!(
            outcome.summary,
            format!("{} {list}", layout.repo(repo).display()),
            "{repos:?} {pinned:?}"
        );
    }
}
