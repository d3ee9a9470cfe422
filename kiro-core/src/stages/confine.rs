//! One program's confinement: the [`LaunchPlan`] a [`Launcher`] gets for
//! it, and the [`SandboxReport`] of what the launcher put in force.
//!
//! [`Confiner`] is what every executor that runs a program on an agent's
//! behalf uses, so that a coding-agent CLI run by
//! [`CommandExecutor`](crate::stages::CommandExecutor) and a command a
//! model asked kiro-llm's agent to run are confined alike (see
//! [`crate::sandbox`] for what the kernel enforces): writes only
//! beneath the repository's writable roots, the private temporary
//! directory and the granted state directories; the parent-death signal;
//! a cgroup of its own where one can be made.
//!
//! ```
//! use kiro_core::sandbox::SandboxMode;
//! use kiro_core::stages::Confiner;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! // Without a launcher nothing confines the program, and the report says so.
//! let confiner = Confiner::new();
//! let (command, confined) = confiner.prepare(SandboxMode::BestEffort, dir.path(), &[], &["true".to_owned()])?;
//! let out = command.run(&tokio_util::sync::CancellationToken::new()).await?;
//! let report = confined.report(&out)?;
//! assert!(!report.landlock.is_enforced());
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::process::{Command, Output};
use crate::sandbox::cgroup::TaskCgroup;
use crate::sandbox::{
    landlock_support, LandlockState, LaunchPlan, Launcher, Notice, SandboxError, SandboxMode,
    SandboxReport, Support, WritableRoot, NOTICE_PREFIX,
};

/// How programs are confined: the launcher, the mode, the state
/// directories granted besides the repository. Cheap to clone; clones
/// share the counter that names their cgroups.
#[derive(Clone, Debug)]
#[must_use]
pub struct Confiner {
    launcher: Option<Launcher>,
    mode: Option<SandboxMode>,
    support: Option<Support>,
    state_dirs: Vec<PathBuf>,
    /// The next cgroup's number.
    cgroups: Arc<AtomicU64>,
}

impl Default for Confiner {
    fn default() -> Confiner {
        Confiner::new()
    }
}

impl Confiner {
    /// No launcher (programs run unconfined, which `enforce` refuses), the
    /// configured mode, no state directories.
    pub fn new() -> Confiner {
        Confiner {
            launcher: None,
            mode: None,
            support: None,
            state_dirs: Vec::new(),
            cgroups: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Runs programs through this launcher, which confines them before
    /// they start. The kiro CLI passes its own executable and hidden
    /// `__sandbox` subcommand.
    pub fn launcher(mut self, launcher: Launcher) -> Self {
        self.launcher = Some(launcher);
        self
    }

    /// Whether a launcher is set.
    pub fn has_launcher(&self) -> bool {
        self.launcher.is_some()
    }

    /// This mode instead of the one [`prepare`](Confiner::prepare) is given
    /// (`[policy] sandbox`).
    pub fn mode(mut self, mode: SandboxMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Takes this as the kernel's Landlock support instead of asking the
    /// kernel ([`landlock_support`]); only an unavailable one changes
    /// anything (it simulates a kernel without Landlock).
    pub fn landlock_support(mut self, support: Support) -> Self {
        self.support = Some(support);
        self
    }

    /// Also lets the program write beneath `dir`, an absolute directory
    /// outside the workspace (a tool's own state); one that does not exist
    /// is not granted.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dirs.push(dir.into());
        self
    }

    /// The command that runs `argv` in `root` confined to `roots` (the
    /// repository's [`writable_roots`](crate::workspace::Policy::writable_roots)),
    /// and the handle that turns its output into a report. `configured` is
    /// the mode unless [`mode`](Confiner::mode) set one. The command has
    /// its working directory and, when confined, `TMPDIR`, `TMP` and `TEMP`
    /// set to a private directory removed with the handle.
    ///
    /// # Errors
    ///
    /// In `enforce` mode, [`SandboxError::Refused`] (inside
    /// [`Error::Backend`]) without a launcher or without Landlock; an
    /// [`Error::Io`] when the repository root cannot be resolved or the
    /// temporary directory made.
    pub fn prepare(
        &self,
        configured: SandboxMode,
        root: &Path,
        roots: &[WritableRoot],
        argv: &[String],
    ) -> Result<(Command, Confined)> {
        let mode = self.mode.unwrap_or(configured);
        let support = match (&self.support, mode) {
            (_, SandboxMode::Off) => Support::unavailable("sandbox is off"),
            (Some(s), _) => s.clone(),
            (None, _) => landlock_support(),
        };
        if mode == SandboxMode::Enforce {
            if self.launcher.is_none() {
                return Err(refused(
                    "no launcher to confine the agent with (CommandExecutor::launcher)",
                ));
            }
            if let Some(reason) = support.abi.is_none().then(|| support.reason.clone()) {
                return Err(refused(
                    reason.unwrap_or_else(|| "Landlock unavailable".into()),
                ));
            }
        }
        let program = argv.first().cloned().unwrap_or_default();
        let Some(launcher) = &self.launcher else {
            return Ok((
                Command::new(argv).cwd(root),
                Confined {
                    mode,
                    program,
                    confinement: None,
                },
            ));
        };
        let c = self.confinement(mode, &support, root, roots)?;
        let mut cmd = Command::new(launcher.command_line(&c.plan, argv)).preamble(NOTICE_PREFIX);
        if let Ok(cg) = &c.cgroup {
            cmd = cmd.cgroup(cg.dir());
        }
        cmd = cmd.cwd(root);
        if let Some(temp) = &c.temp {
            for var in ["TMPDIR", "TMP", "TEMP"] {
                cmd = cmd.env(var, temp.path());
            }
        }
        Ok((
            cmd,
            Confined {
                mode,
                program,
                confinement: Some(c),
            },
        ))
    }

    /// The launch plan of one program in repository `root`.
    fn confinement(
        &self,
        mode: SandboxMode,
        support: &Support,
        root: &Path,
        roots: &[WritableRoot],
    ) -> Result<Confinement> {
        let mut plan = LaunchPlan::new(mode).landlock_support(support);
        let mut writable = Vec::new();
        let mut temp = None;
        // Without Landlock nothing is granted, so nothing is prepared either.
        if mode != SandboxMode::Off && support.abi.is_some() {
            let canon_root = root.canonicalize().map_err(|source| Error::Io {
                path: root.to_owned(),
                source,
            })?;
            for r in roots {
                match r {
                    WritableRoot::Dir(rel) => {
                        if let Some(dir) = grantable_dir(&canon_root, rel) {
                            plan = plan.writable_dir(dir);
                            writable.push(if rel.as_os_str().is_empty() {
                                "./".to_owned()
                            } else {
                                format!("{}/", rel.display())
                            });
                        }
                    }
                    WritableRoot::File(rel) => {
                        if let Some(file) = grantable_file(&canon_root, rel) {
                            plan = plan.writable_file(file);
                            writable.push(rel.display().to_string());
                        }
                    }
                }
            }
            for dir in &self.state_dirs {
                if let Some(canon) = dir
                    .is_absolute()
                    .then(|| dir.canonicalize().ok())
                    .flatten()
                    .filter(|d| d.is_dir())
                {
                    plan = plan.writable_dir(&canon);
                    writable.push(format!("{}/", canon.display()));
                }
            }
            let dir = tempfile::Builder::new()
                .prefix("kiro-task-")
                .tempdir()
                .map_err(|source| Error::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            plan = plan.temp_dir(dir.path());
            temp = Some(dir);
        }
        let cgroup = TaskCgroup::create(self.cgroups.fetch_add(1, Ordering::Relaxed));
        if let Ok(cg) = &cgroup {
            plan = plan.cgroup(cg.dir());
        }
        Ok(Confinement {
            plan,
            writable,
            temp,
            cgroup,
        })
    }
}

/// A prepared program's confinement: keeps its temporary directory and
/// cgroup alive until the program ended, then [reports](Confined::report)
/// what was in force.
#[derive(Debug)]
pub struct Confined {
    mode: SandboxMode,
    program: String,
    confinement: Option<Confinement>,
}

/// What the launcher gets for one program, and what is reported about it.
#[derive(Debug)]
struct Confinement {
    plan: LaunchPlan,
    /// The writable roots as reported (`src/`, `./`, `README.md`).
    writable: Vec<String>,
    /// The private temporary directory, removed when the program ends.
    temp: Option<tempfile::TempDir>,
    cgroup: std::result::Result<TaskCgroup, String>,
}

impl Confined {
    /// The private temporary directory the program may write (its
    /// `TMPDIR`), when it is confined.
    pub fn temp_dir(&self) -> Option<&Path> {
        self.confinement
            .as_ref()
            .and_then(|c| c.temp.as_ref())
            .map(tempfile::TempDir::path)
    }

    /// What was in force while the program ran, read from what the launcher
    /// said before starting it.
    ///
    /// # Errors
    ///
    /// [`SandboxError::Refused`] (inside [`Error::Backend`]) when the
    /// launcher refused, or when in `enforce` mode it said nothing;
    /// [`Error::Spawn`] when it could not start the program.
    pub fn report(self, out: &Output) -> Result<SandboxReport> {
        let mode = self.mode;
        let Some(c) = self.confinement else {
            return Ok(SandboxReport {
                mode,
                landlock: match mode {
                    SandboxMode::Off => LandlockState::Off,
                    _ => LandlockState::Unavailable {
                        reason: "no launcher configured".into(),
                    },
                },
                writable: Vec::new(),
                cgroup: None,
                cgroup_unavailable: Some("no launcher configured".into()),
                pdeathsig: false,
            });
        };
        let mut applied = None;
        for notice in out.preamble.iter().filter_map(|l| Notice::parse(l)) {
            match notice {
                Notice::Refused { reason } => return Err(refused(reason)),
                Notice::ExecFailed { reason, not_found } => {
                    let kind = if not_found {
                        std::io::ErrorKind::NotFound
                    } else {
                        std::io::ErrorKind::PermissionDenied
                    };
                    return Err(Error::Spawn {
                        program: self.program,
                        source: std::io::Error::new(kind, reason),
                    });
                }
                Notice::Applied {
                    landlock,
                    pdeathsig,
                    cgroup,
                } => applied = Some((landlock, pdeathsig, cgroup)),
            }
        }
        let Some((landlock, pdeathsig, joined)) = applied else {
            // The launcher writes its notice before it starts the program,
            // so without one the program did not start through it.
            let reason = "the launcher did not report what it put in force";
            if mode == SandboxMode::Enforce && !out.timed_out {
                return Err(refused(reason));
            }
            return Ok(SandboxReport {
                mode,
                landlock: LandlockState::Unavailable {
                    reason: reason.into(),
                },
                writable: Vec::new(),
                cgroup: None,
                cgroup_unavailable: Some(reason.into()),
                pdeathsig: false,
            });
        };
        let (cgroup, cgroup_unavailable) = match &c.cgroup {
            Ok(cg) if joined => (Some(cg.name().to_owned()), None),
            Ok(_) => (None, Some("the launcher could not join it".to_owned())),
            Err(why) => (None, Some(why.clone())),
        };
        Ok(SandboxReport {
            mode,
            writable: if landlock.is_enforced() {
                c.writable
            } else {
                Vec::new()
            },
            landlock,
            cgroup,
            cgroup_unavailable,
            pdeathsig,
        })
    }
}

/// A refusal of `enforce` mode.
fn refused(reason: impl Into<String>) -> Error {
    Error::Backend(Box::new(SandboxError::Refused {
        reason: reason.into(),
    }))
}

/// The absolute directory granted for `rel` (relative to the canonical
/// repository root), created when missing; `None` when it would lie outside
/// the repository (through a symbolic link) or is not a directory.
fn grantable_dir(canon_root: &Path, rel: &Path) -> Option<PathBuf> {
    let dir = canon_root.join(rel);
    if !dir.exists() {
        // Creating through a symbolic link that points out of the
        // repository would create directories elsewhere: the deepest
        // existing ancestor must resolve inside first.
        let existing = dir.ancestors().find(|a| a.exists())?;
        if !existing.canonicalize().ok()?.starts_with(canon_root) {
            return None;
        }
        std::fs::create_dir_all(&dir).ok()?;
    }
    let canon = dir.canonicalize().ok()?;
    (canon.starts_with(canon_root) && canon.is_dir()).then_some(canon)
}

/// The absolute file granted for `rel`; `None` unless it is an existing
/// file inside the repository.
fn grantable_file(canon_root: &Path, rel: &Path) -> Option<PathBuf> {
    let canon = canon_root.join(rel).canonicalize().ok()?;
    (canon.starts_with(canon_root) && canon.is_file()).then_some(canon)
}
