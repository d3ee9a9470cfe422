//! The use cases of a kiro workspace, for every front end: the `kiro` CLI,
//! a program embedding kiro-core, a later MCP server.
//!
//! A [`Project`] is a workspace root with its `.kiro/config.toml`, its
//! checkpoint store, its audit log and its spec locks. It loads specs,
//! builds the configured pipeline and runs it, and answers `status`,
//! `trace`, `verify`, `checkpoint list`, `rollback` and `fork` with typed
//! results whose JSON is what the CLI prints ([`StatusReport`],
//! [`TraceReport`], [`CheckpointList`], and the verification [`Matrix`]
//! of a [`Verification`]). Whatever a front end must not forget lives
//! here: the spec lock around a rollback or fork, the audit entry of each
//! rollback, fork and verification, the link lock and the stored report of
//! a verification, and redaction of secrets in what is stored.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kiro_core::project::ProjectError> {
//! use kiro_core::project::{Project, RunSetup};
//!
//! let project = Project::open("path/to/workspace")?;
//! let dir = project.spec_dir("login")?;
//! let summary = project.run(RunSetup::new(&dir).approve_all()).await?;
//! let status = project.status(&project.load_spec(&dir)?)?;
//! println!("{} of {} tasks done", status.progress.done, status.progress.total);
//! if let Some(last) = summary.checkpoint {
//!     // Rolled back, spec locked and audited, as `kiro rollback` does.
//!     project.rollback(&last)?;
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are [`ProjectError`]s: the crate's [`Error`] for what failed
//! below, and one variant per use-case failure, each naming the spec, run
//! or file it concerns. None of them tells the user how to change the
//! configuration: that advice depends on the front end, which adds it.
//!
//! [`Matrix`]: crate::report::Matrix

mod anchors;
mod approve;
mod checkpoints;
mod plan;
mod status;
mod tasks;
mod trace;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use checkpoints::{
    CheckpointList, CheckpointRow, ForkOutcome, RollbackOutcome, RunCheckpoints,
};
pub use plan::{PlanNode, PlanView};
pub use status::{Progress, RepoStatus, RunState, StatusReport, TaskRow, VerificationCounts};
pub use tasks::{CompletedTask, CriterionText, ReadyKind, ReadyTask, StartedTask};
pub use trace::TraceReport;
pub use verify::{
    ResultsSource, StaleLink, StoredReport, Verification, VerifyOptions, STORED_REPORT_DIR,
};

use crate::audit::{Actor, AuditLog};
use crate::checkpoint::{CheckpointStore, FileCheckpointStore, RunId, SpecLock};
use crate::config::{Config, PolicyConfig};
use crate::error::Error;
use crate::pipeline::{self, Pipeline, RunOptions, RunSummary};
use crate::redact::Redactor;
use crate::sandbox::Launcher;
use crate::stage::{
    Approver, AutoApprove, Designer, Executor, Phase, RequirementsParser, TaskPlanner, Verifier,
};
use crate::stages::{CommandExecutor, CommandVerifier};
use crate::store::{self, LoadOptions, LoadedSpec};
use crate::workspace::{Policy, Workspace, WorkspaceManifest};

/// What a use case of [`Project`] can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A lower layer failed (I/O, a corrupt store, a locked spec...).
    #[error(transparent)]
    Core(#[from] Error),
    /// The configured checkpoint directory lies inside the workspace (and
    /// is not `.kiro/runs`), where the scan after every task would take the
    /// store for task output.
    #[error(
        "the checkpoint directory {} lies inside the workspace {}, where every task's changes are scanned",
        dir.display(),
        root.display()
    )]
    StoreInsideWorkspace {
        /// The configured directory.
        dir: PathBuf,
        /// The workspace root.
        root: PathBuf,
    },
    /// No spec folder of that name under `.kiro/specs/`.
    #[error("unknown spec `{name}`: no folder {}", dir.display())]
    UnknownSpec {
        /// The name asked for.
        name: String,
        /// Where the folder would be.
        dir: PathBuf,
        /// The specs the workspace has.
        known: Vec<String>,
    },
    /// The run would execute tasks, and no executor is configured or given.
    #[error("no executor is configured to run the tasks of spec `{spec}`")]
    NoExecutor {
        /// The spec.
        spec: String,
    },
    /// The spec has no `tasks.md`, so it has no plan yet.
    #[error("spec `{spec}` has no tasks.md yet")]
    NoTasks {
        /// The spec.
        spec: String,
    },
    /// Verification was asked to run the tests, and no test command is
    /// configured.
    #[error("no test command is configured to verify spec `{spec}`")]
    NoVerifier {
        /// The spec.
        spec: String,
    },
    /// The test command could not run or its results could not be read.
    #[error("cannot verify spec `{spec}`: {source}")]
    Verifier {
        /// The spec.
        spec: String,
        /// What the verifier reported.
        source: Box<crate::stage::StageError>,
    },
    /// Verification was asked to report existing results, and there are
    /// none: no JUnit file (`junit`, the configured one, if any, does not
    /// exist), no stored report, no run that verified the spec.
    #[error("no results to report for spec `{spec}`")]
    NoResults {
        /// The spec.
        spec: String,
        /// The configured JUnit file, which does not exist.
        junit: Option<PathBuf>,
    },
    /// A run asked to be resumed works on another spec.
    #[error("run {run} works on spec `{other}`, not `{spec}`")]
    RunOfOtherSpec {
        /// The run.
        run: RunId,
        /// The spec it works on.
        other: String,
        /// The spec named for the resumed run.
        spec: String,
    },
    /// A stored verification report cannot be read back.
    #[error("{}: not a stored verification report: {message}", path.display())]
    StoredReport {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A governance use case (`approve`, `approvals`) in a workspace
    /// without `.kiro/policy.toml`.
    #[error("no governance policy: {} does not exist", path.display())]
    NoPolicy {
        /// Where the policy file would be.
        path: PathBuf,
    },
    /// No task of that id in the spec's plan.
    #[error("spec `{spec}` has no task {task}")]
    UnknownTask {
        /// The spec.
        spec: String,
        /// The task id asked for.
        task: String,
    },
    /// The task waits for another that is not done.
    #[error("task {task} of spec `{spec}` is not ready: it waits for task {waiting_for}")]
    TaskNotReady {
        /// The spec.
        spec: String,
        /// The task.
        task: String,
        /// The first dependency that is not done.
        waiting_for: String,
    },
    /// The task has sub-tasks: it is done when they are.
    #[error("task {task} of spec `{spec}` has sub-tasks: start and complete those instead")]
    ParentTask {
        /// The spec.
        spec: String,
        /// The task.
        task: String,
    },
    /// The task is already `[x]`.
    #[error("task {task} of spec `{spec}` is already done")]
    TaskAlreadyDone {
        /// The spec.
        spec: String,
        /// The task.
        task: String,
    },
    /// A rollback or fork changed the workspace but its audit entry could
    /// not be written.
    #[error("the {what} is done, but it could not be recorded in the audit log {}: {source}", log.display())]
    Unrecorded {
        /// `rollback` or `fork`.
        what: String,
        /// The audit log.
        log: PathBuf,
        /// Why the append failed.
        source: Box<Error>,
    },
}

/// The result of a [`Project`] use case.
pub type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// A kiro workspace and the use cases that work on it.
///
/// Cheap to keep for a session: it holds the configuration read at
/// [`open`](Project::open) and the handles built from it; every use case
/// reads the specs, the store and the log afresh.
#[derive(Debug)]
pub struct Project {
    root: PathBuf,
    config: Config,
    runs_dir: PathBuf,
    store: Arc<FileCheckpointStore>,
    actor: Option<Actor>,
    redactor: Redactor,
    load_options: LoadOptions,
    manifest: WorkspaceManifest,
}

/// Options for [`Project::builder`]; every one has the CLI's default.
#[derive(Debug)]
pub struct ProjectBuilder {
    root: PathBuf,
    config: Option<Config>,
    store_dir: Option<PathBuf>,
    actor: Option<Actor>,
    redactor: Option<Redactor>,
    load_options: Option<LoadOptions>,
}

impl ProjectBuilder {
    /// Uses this configuration instead of reading `.kiro/config.toml`.
    pub fn config(mut self, config: Config) -> ProjectBuilder {
        self.config = Some(config);
        self
    }

    /// Keeps the checkpoint store, spec locks and audit heads in `dir`
    /// instead of `[checkpoints] dir` (or `.kiro/runs`). A directory
    /// inside the workspace other than `.kiro/runs` is refused.
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> ProjectBuilder {
        self.store_dir = Some(dir.into());
        self
    }

    /// Records every audit entry as made by `actor` instead of the one
    /// `KIRO_ACTOR`, git or the OS user names.
    pub fn actor(mut self, actor: Actor) -> ProjectBuilder {
        self.actor = Some(actor);
        self
    }

    /// Redacts with `redactor` instead of the secret-named variables of
    /// the environment ([`Redactor::from_env`]).
    pub fn redactor(mut self, redactor: Redactor) -> ProjectBuilder {
        self.redactor = Some(redactor);
        self
    }

    /// Reads specs with these options instead of the configured `[limits]`
    /// (and `KIRO_MAX_INPUT_BYTES`).
    pub fn load_options(mut self, options: LoadOptions) -> ProjectBuilder {
        self.load_options = Some(options);
        self
    }

    /// Reads the configuration (unless given) and opens the project.
    pub fn open(self) -> Result<Project> {
        // A canonical root lets every path the project reports be made
        // relative to it, whether a spec was named or given as a path.
        let root = self.root.canonicalize().map_err(|source| Error::Io {
            path: self.root.clone(),
            source,
        })?;
        let config = match self.config {
            Some(config) => config,
            None => Config::load_workspace(&root)?,
        };
        let dir = lexical(&match self.store_dir {
            Some(dir) if dir.is_relative() => root.join(dir),
            Some(dir) => dir,
            None => config.checkpoints.resolve(&root),
        });
        let lexical_root = lexical(&root);
        if dir.starts_with(&lexical_root) && dir != lexical_root.join(".kiro").join("runs") {
            return Err(ProjectError::StoreInsideWorkspace {
                dir,
                root: lexical_root,
            });
        }
        let manifest = WorkspaceManifest::load(&root)?;
        // The other repositories are scanned after every task as well.
        if let Some(repo) = manifest
            .repos
            .iter()
            .find(|r| r.root != root && lexical(&dir).starts_with(&r.root))
        {
            return Err(ProjectError::StoreInsideWorkspace {
                dir,
                root: repo.root.clone(),
            });
        }
        let load_options = match self.load_options {
            Some(options) => options,
            None => {
                let env = std::env::var(store::MAX_INPUT_BYTES_ENV).ok();
                LoadOptions {
                    max_input_bytes: config.limits.resolve(env.as_deref())?,
                }
            }
        };
        Ok(Project {
            store: Arc::new(FileCheckpointStore::at(&dir)),
            runs_dir: dir,
            root,
            config,
            actor: self.actor,
            redactor: self.redactor.unwrap_or_else(Redactor::from_env),
            load_options,
            manifest,
        })
    }
}

impl Project {
    /// Opens the workspace at `root` (the folder holding `.kiro/`) with
    /// the defaults; see [`Project::builder`] for the options.
    pub fn open(root: impl Into<PathBuf>) -> Result<Project> {
        Project::builder(root).open()
    }

    /// A builder for a project at `root`.
    pub fn builder(root: impl Into<PathBuf>) -> ProjectBuilder {
        ProjectBuilder {
            root: root.into(),
            config: None,
            store_dir: None,
            actor: None,
            redactor: None,
            load_options: None,
        }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The directory of the checkpoint store, spec locks and audit heads.
    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    /// The checkpoint store.
    pub fn store(&self) -> &Arc<FileCheckpointStore> {
        &self.store
    }

    /// The redactor applied to what the project stores and to the reports
    /// it returns.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// How specs are read (the input limit).
    pub fn load_options(&self) -> &LoadOptions {
        &self.load_options
    }

    /// The audit log `.kiro/audit.jsonl`, its heads kept in
    /// [`runs_dir`](Project::runs_dir), entries made by the project's actor.
    pub fn audit_log(&self) -> Result<AuditLog> {
        let log = AuditLog::open(&self.root)?
            .with_heads_dir(Some(self.runs_dir.clone()))
            .with_redactor(self.redactor.clone());
        Ok(match &self.actor {
            Some(actor) => log.with_actor(actor.clone())?,
            None => log,
        })
    }

    /// The engine's view of the workspace: the repositories of
    /// `.kiro/workspace.toml` (one repository, `main`, at the root without
    /// it; see [`WorkspaceManifest`]) with its default repository, under
    /// the policy `[policy]` describes.
    pub fn workspace(&self) -> Result<Workspace> {
        Ok(self
            .manifest
            .builder()
            .policy(policy(&self.config.policy))
            .build()?)
    }

    /// The repositories of the project, read from `.kiro/workspace.toml`
    /// when the project was opened.
    pub fn manifest(&self) -> &WorkspaceManifest {
        &self.manifest
    }

    /// The spec folders under `.kiro/specs/`, sorted.
    pub fn spec_dirs(&self) -> Result<Vec<PathBuf>> {
        Ok(store::list_specs(&self.root)?)
    }

    /// The folder of the spec named `name` (`.kiro/specs/<name>`), which
    /// must exist.
    pub fn spec_dir(&self, name: &str) -> Result<PathBuf> {
        store::validate_spec_name(name)?;
        let dir = store::specs_dir(&self.root).join(name);
        if dir.is_dir() {
            return Ok(dir);
        }
        let known = self
            .spec_dirs()
            .unwrap_or_default()
            .iter()
            .map(|d| spec_name(d))
            .collect();
        Err(ProjectError::UnknownSpec {
            name: name.to_owned(),
            dir,
            known,
        })
    }

    /// Loads the spec in `dir` with the project's input limit.
    pub fn load_spec(&self, dir: &Path) -> Result<LoadedSpec> {
        Ok(store::load_spec_with(dir, &self.load_options)?)
    }

    /// The latest run of the spec named `spec`, if any.
    pub fn latest_run(&self, spec: &str) -> Result<Option<RunId>> {
        Ok(pipeline::latest_run(self.store.as_ref(), spec)?)
    }

    /// Takes the spec's lock (one run, rollback or fork of a spec at a
    /// time), naming `run` as the work it does when known.
    pub fn lock_spec(&self, spec: &str, run: Option<&RunId>) -> Result<SpecLock> {
        Ok(SpecLock::acquire_for(
            &self.runs_dir,
            spec,
            run.map(RunId::as_str),
        )?)
    }

    /// The verifier `[verifier]` configures (its test command), if any: the
    /// one a run uses unless its [`RunSetup::verifier`] replaces it, for a
    /// front end that wraps it (`kiro run` adds the spec's executable
    /// properties, which kiro-core cannot run itself).
    pub fn verifier(&self) -> Option<CommandVerifier> {
        CommandVerifier::from_config(&self.config.verifier)
    }

    /// Prepares a run of a spec as configured: the run to resume (checked
    /// to exist and to work on this spec), the spec's lock, and the
    /// pipeline with the configured store, audit log, executor and verifier
    /// (or those `setup` gives) and policy.
    pub fn prepare_run(&self, setup: RunSetup) -> Result<PreparedRun> {
        let name = spec_name(&setup.spec_dir);
        let (resume, resume_missing) = match setup.resume {
            Resume::New => (None, false),
            Resume::Latest => {
                let latest = self.latest_run(&name)?;
                let missing = latest.is_none();
                (latest, missing)
            }
            Resume::Run(run) => {
                self.store.list(&run)?;
                if let Some(other) = pipeline::run_spec(self.store.as_ref(), &run)? {
                    if other != name {
                        return Err(ProjectError::RunOfOtherSpec {
                            run,
                            other,
                            spec: name,
                        });
                    }
                }
                (Some(run), false)
            }
        };
        let lock = self.lock_spec(&name, resume.as_ref())?;
        let audit = self.audit_log()?;
        // An actor the log would refuse stops the run before any work.
        audit.actor()?;
        let mut builder = Pipeline::builder()
            .config(self.config.clone())
            .shared_store(self.store.clone())
            .audit(audit);
        if let Some(jobs) = setup.jobs {
            builder = builder.jobs(jobs);
        }
        if let Some(parser) = setup.requirements {
            builder = builder.requirements(parser);
        }
        if let Some(designer) = setup.designer {
            builder = builder.designer(designer);
        }
        if let Some(planner) = setup.planner {
            builder = builder.planner(planner);
        }
        match (
            setup.executor,
            CommandExecutor::from_config(&self.config.executor),
        ) {
            (Some(executor), _) => builder = builder.executor(executor),
            (None, Some(executor)) => {
                builder = builder.executor(match setup.launcher {
                    Some(launcher) => executor.launcher(launcher),
                    None => executor,
                });
            }
            (None, None) if setup.until >= Phase::Execute => {
                return Err(ProjectError::NoExecutor { spec: name });
            }
            (None, None) => {}
        }
        // Without a verifier the engine reports every criterion untested.
        match (setup.verifier, self.verifier()) {
            (Some(verifier), _) => builder = builder.verifier(verifier),
            (None, Some(verifier)) => builder = builder.verifier(verifier),
            (None, None) => {}
        }
        if let Some(approver) = setup.approver {
            builder = builder.approver(approver);
        }
        // With a policy, its gates are decided by the approvals in the
        // audit log whatever approver the caller set (`--yes` included).
        let mut workspace = self.workspace()?;
        if let Some(governance) = self.governance()? {
            // `[repos.<name>] commands` narrows what may run there.
            for (repo, rules) in &governance.policy().repos {
                if let Some(commands) = &rules.commands {
                    workspace = workspace.with_repo_commands(repo.clone(), commands.clone());
                }
            }
            builder = builder.governance(governance);
        }
        let mut options = RunOptions::new(workspace, setup.spec_dir).until(setup.until);
        if let Some(run) = &resume {
            options = options.resume(run.clone());
        }
        Ok(PreparedRun {
            pipeline: builder.build(),
            options,
            lock,
            resume,
            resume_missing,
        })
    }

    /// Prepares and runs a spec ([`prepare_run`](Project::prepare_run)),
    /// holding its lock until the run ends.
    pub async fn run(&self, setup: RunSetup) -> Result<RunSummary> {
        let prepared = self.prepare_run(setup)?;
        let summary = prepared.pipeline.run(prepared.options).await?;
        drop(prepared.lock);
        Ok(summary)
    }
}

/// Which run a [`RunSetup`] continues.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Resume {
    /// A new run.
    #[default]
    New,
    /// The spec's latest run, or a new one when it has none.
    Latest,
    /// This run.
    Run(RunId),
}

/// What [`Project::prepare_run`] builds a run from.
pub struct RunSetup {
    spec_dir: PathBuf,
    until: Phase,
    resume: Resume,
    jobs: Option<usize>,
    launcher: Option<Launcher>,
    requirements: Option<Arc<dyn RequirementsParser>>,
    designer: Option<Arc<dyn Designer>>,
    planner: Option<Arc<dyn TaskPlanner>>,
    executor: Option<Arc<dyn Executor>>,
    verifier: Option<Arc<dyn Verifier>>,
    approver: Option<Arc<dyn Approver>>,
}

impl std::fmt::Debug for RunSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSetup")
            .field("spec_dir", &self.spec_dir)
            .field("until", &self.until)
            .field("resume", &self.resume)
            .field("jobs", &self.jobs)
            .field("requirements", &self.requirements.is_some())
            .field("designer", &self.designer.is_some())
            .field("planner", &self.planner.is_some())
            .field("executor", &self.executor.is_some())
            .field("verifier", &self.verifier.is_some())
            .field("approver", &self.approver.is_some())
            .finish_non_exhaustive()
    }
}

impl RunSetup {
    /// A new run of the spec in `spec_dir` through every phase, with the
    /// configured executor and the pipeline's default approver.
    pub fn new(spec_dir: impl Into<PathBuf>) -> RunSetup {
        RunSetup {
            spec_dir: spec_dir.into(),
            until: Phase::Verify,
            resume: Resume::New,
            jobs: None,
            launcher: None,
            requirements: None,
            designer: None,
            planner: None,
            executor: None,
            verifier: None,
            approver: None,
        }
    }

    /// Stops after this phase.
    pub fn until(mut self, phase: Phase) -> RunSetup {
        self.until = phase;
        self
    }

    /// Continues a run instead of starting one.
    pub fn resume(mut self, resume: Resume) -> RunSetup {
        self.resume = resume;
        self
    }

    /// Runs at most `jobs` tasks at once.
    pub fn jobs(mut self, jobs: usize) -> RunSetup {
        self.jobs = Some(jobs);
        self
    }

    /// Confines each agent of the configured `[executor]` with this
    /// sandbox launcher (the CLI passes itself).
    pub fn launcher(mut self, launcher: Launcher) -> RunSetup {
        self.launcher = Some(launcher);
        self
    }

    /// Writes requirements with `parser` instead of the deterministic
    /// [`StandardRequirementsParser`](crate::stages::StandardRequirementsParser)
    /// (an LLM-backed one from `kiro-llm`, say).
    pub fn requirements(mut self, parser: impl RequirementsParser + 'static) -> RunSetup {
        self.requirements = Some(Arc::new(parser));
        self
    }

    /// Designs with `designer` instead of the deterministic
    /// [`TemplateDesigner`](crate::stages::TemplateDesigner).
    pub fn designer(mut self, designer: impl Designer + 'static) -> RunSetup {
        self.designer = Some(Arc::new(designer));
        self
    }

    /// Plans tasks with `planner` instead of the deterministic
    /// [`TracePlanner`](crate::stages::TracePlanner).
    pub fn planner(mut self, planner: impl TaskPlanner + 'static) -> RunSetup {
        self.planner = Some(Arc::new(planner));
        self
    }

    /// Runs tasks with `executor` instead of the configured `[executor]`.
    pub fn executor(mut self, executor: impl Executor + 'static) -> RunSetup {
        self.executor = Some(Arc::new(executor));
        self
    }

    /// Verifies with `verifier` instead of the configured `[verifier]`
    /// ([`Project::verifier`], which a wrapper may hold).
    pub fn verifier(mut self, verifier: impl Verifier + 'static) -> RunSetup {
        self.verifier = Some(Arc::new(verifier));
        self
    }

    /// Decides gates with `approver`.
    pub fn approver(mut self, approver: impl Approver + 'static) -> RunSetup {
        self.approver = Some(Arc::new(approver));
        self
    }

    /// Approves every gate ([`AutoApprove`]).
    pub fn approve_all(self) -> RunSetup {
        self.approver(AutoApprove)
    }
}

/// A run ready to start: run `pipeline` with `options` (adding events,
/// cancellation, input...) while holding `lock`.
#[derive(Debug)]
pub struct PreparedRun {
    /// The configured pipeline.
    pub pipeline: Pipeline,
    /// The run's options: workspace, spec folder, phase to stop after, and
    /// the run to resume.
    pub options: RunOptions,
    /// The spec's lock; dropping it lets another run of the spec start.
    pub lock: SpecLock,
    /// The run resumed, if any.
    pub resume: Option<RunId>,
    /// [`Resume::Latest`] found no run to resume, so the run is new.
    pub resume_missing: bool,
}

/// The policy `[policy]` describes. A list the file leaves out does not
/// restrict anything: a workspace whose owner wrote no policy trusts the
/// executor it configured, as it trusts any program it runs by hand.
pub fn policy(config: &PolicyConfig) -> Policy {
    let open = Policy::permissive();
    Policy {
        writable: config.writable.clone().unwrap_or(open.writable),
        commands: config.commands.clone().unwrap_or(open.commands),
    }
}

/// The spec name of a spec folder (its folder name), as the engine records
/// it.
pub fn spec_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `path` with `.` and `..` components resolved lexically (links are not
/// followed: the store directory may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
