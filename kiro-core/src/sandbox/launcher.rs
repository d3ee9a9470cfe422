//! The launcher: the process between kiro and an agent that restricts
//! itself and then becomes the agent.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use super::landlock::{restrict, Grants};
use super::{cgroup, LandlockState, Notice, SandboxError, SandboxMode, Support};

/// The launcher's exit status when it did not start the agent because the
/// sandbox could not be put in force (or its command line was wrong).
pub const EXIT_REFUSED: u8 = 125;
/// The launcher's exit status when the agent exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: u8 = 126;
/// The launcher's exit status when the agent's program was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// What the launcher puts in force before it starts the agent; written as
/// the launcher's arguments by [`LaunchPlan::to_args`] and read back by
/// [`launcher_main`].
///
/// ```
/// use kiro_core::sandbox::{LaunchPlan, SandboxMode};
///
/// let plan = LaunchPlan::new(SandboxMode::Enforce)
///     .writable_dir("/work/repo/src")
///     .temp_dir("/tmp/kiro-task-1");
/// let mut args = plan.to_args();
/// args.extend(["--".into(), "sh".into(), "-c".into(), "make".into()]);
/// let (back, agent) = LaunchPlan::parse(args)?;
/// assert_eq!(back, plan);
/// assert_eq!(agent, ["sh", "-c", "make"]);
/// # Ok::<(), kiro_core::sandbox::SandboxError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct LaunchPlan {
    mode: SandboxMode,
    parent: u32,
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    temp: Option<PathBuf>,
    cgroup: Option<PathBuf>,
    unavailable: Option<String>,
}

impl LaunchPlan {
    /// A plan in this mode that grants no writes yet, for a launcher whose
    /// parent is the calling process.
    pub fn new(mode: SandboxMode) -> LaunchPlan {
        LaunchPlan {
            mode,
            parent: std::process::id(),
            dirs: Vec::new(),
            files: Vec::new(),
            temp: None,
            cgroup: None,
            unavailable: None,
        }
    }

    /// Lets the agent write beneath this directory (an absolute path).
    pub fn writable_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Lets the agent write (not create or remove) this existing file.
    pub fn writable_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.files.push(file.into());
        self
    }

    /// The agent's private temporary directory, writable like the others.
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp = Some(dir.into());
        self
    }

    /// The cgroup directory the launcher moves itself (and so the agent) into.
    pub fn cgroup(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup = Some(dir.into());
        self
    }

    /// Makes the launcher act as on a kernel with this Landlock support:
    /// an unavailable one is taken at its word (a test hook for kernels
    /// without Landlock; it can only ever loosen nothing, since the launcher
    /// then applies no rules and `enforce` refuses).
    pub fn landlock_support(mut self, support: &Support) -> Self {
        self.unavailable = match support.abi {
            Some(_) => None,
            None => Some(
                support
                    .reason
                    .clone()
                    .unwrap_or_else(|| "Landlock unavailable".to_owned()),
            ),
        };
        self
    }

    /// The mode.
    pub fn mode(&self) -> SandboxMode {
        self.mode
    }

    /// The launcher's arguments for this plan (the agent's command line
    /// follows them after `--`).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--mode".into(),
            self.mode.as_str().into(),
            "--parent".into(),
            self.parent.to_string().into(),
        ];
        for d in &self.dirs {
            args.extend(["--writable-dir".into(), d.clone().into_os_string()]);
        }
        for f in &self.files {
            args.extend(["--writable-file".into(), f.clone().into_os_string()]);
        }
        if let Some(t) = &self.temp {
            args.extend(["--temp".into(), t.clone().into_os_string()]);
        }
        if let Some(c) = &self.cgroup {
            args.extend(["--cgroup".into(), c.clone().into_os_string()]);
        }
        if let Some(why) = &self.unavailable {
            args.extend(["--landlock-unavailable".into(), why.into()]);
        }
        args
    }

    /// Reads what [`LaunchPlan::to_args`] wrote, followed by `--` and the
    /// agent's command line, which is returned with the plan.
    pub fn parse<I, S>(args: I) -> Result<(LaunchPlan, Vec<OsString>), SandboxError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let usage = |message: String| SandboxError::Usage { message };
        let mut args = args.into_iter().map(Into::into);
        let mut plan = LaunchPlan {
            parent: 0,
            ..LaunchPlan::new(SandboxMode::default())
        };
        loop {
            let Some(flag) = args.next() else {
                return Err(usage("no `--` before the agent's command line".into()));
            };
            if flag == "--" {
                break;
            }
            let mut value = || {
                args.next()
                    .ok_or_else(|| usage(format!("{} needs a value", flag.to_string_lossy())))
            };
            match flag.to_str() {
                Some("--mode") => {
                    let v = value()?;
                    plan.mode = match v.to_str() {
                        Some("enforce") => SandboxMode::Enforce,
                        Some("best-effort") => SandboxMode::BestEffort,
                        Some("off") => SandboxMode::Off,
                        _ => return Err(usage(format!("unknown mode {v:?}"))),
                    };
                }
                Some("--parent") => {
                    let v = value()?;
                    plan.parent = v
                        .to_str()
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| usage(format!("--parent {v:?} is not a process id")))?;
                }
                Some("--writable-dir") => plan.dirs.push(value()?.into()),
                Some("--writable-file") => plan.files.push(value()?.into()),
                Some("--temp") => plan.temp = Some(value()?.into()),
                Some("--cgroup") => plan.cgroup = Some(value()?.into()),
                Some("--landlock-unavailable") => {
                    plan.unavailable = Some(value()?.to_string_lossy().into_owned());
                }
                _ => return Err(usage(format!("unknown argument {flag:?}"))),
            }
        }
        let agent: Vec<OsString> = args.collect();
        if agent.is_empty() {
            return Err(usage("no agent command line after `--`".into()));
        }
        if plan.parent == 0 {
            return Err(usage("--parent is required".into()));
        }
        Ok((plan, agent))
    }
}

/// The launcher's whole life: call it from `main` with the arguments that
/// follow the launcher's prefix, and return what it returns.
///
/// In order, it
/// 1. sets the parent-death signal to `SIGKILL`, then exits at once if its
///    parent is no longer the process that planned the launch (kiro died
///    before the signal was armed);
/// 2. moves itself into the task's cgroup, if the plan names one;
/// 3. restricts its writes with Landlock (unless the mode is `off`) to the
///    plan's directories and files, the temporary directory and `/dev`;
/// 4. writes one line starting with [`NOTICE_PREFIX`](super::NOTICE_PREFIX)
///    to standard error saying what is in force, and `exec`s the agent,
///    which inherits all of it.
///
/// It returns only when it did not become the agent: [`EXIT_REFUSED`] when
/// `enforce` could not be met (or the arguments are wrong), with a notice
/// saying why; [`EXIT_NOT_FOUND`] or [`EXIT_CANNOT_EXECUTE`] when the agent
/// could not be executed. Only the calling thread is restricted, so the
/// program must not have started other threads that go on running (a
/// process that `exec`s has only the calling thread afterwards).
pub fn launcher_main<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    ExitCode::from(launch(args))
}

/// [`launcher_main`] with the exit status as a number, for a caller that
/// must exit by [`std::process::exit`] (a test harness, say).
pub fn launch<I, S>(args: I) -> u8
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let (plan, agent) = match LaunchPlan::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => return refuse(e.to_string()),
    };

    let pdeathsig = set_parent_death_signal();
    if pdeathsig && parent_id() != plan.parent {
        // The parent died between our start and arming the signal: nobody
        // is waiting for this agent, and nobody would stop it.
        return refuse(format!(
            "kiro (pid {}) exited before the agent started",
            plan.parent
        ));
    }

    let cgroup = plan
        .cgroup
        .as_deref()
        .is_some_and(|dir| cgroup::join(dir).is_ok());

    let landlock = match (plan.mode, &plan.unavailable) {
        (SandboxMode::Off, _) => LandlockState::Off,
        (_, Some(reason)) => LandlockState::Unavailable {
            reason: reason.clone(),
        },
        _ => {
            let dirs: Vec<PathBuf> = plan.dirs.iter().chain(&plan.temp).cloned().collect();
            let grants = Grants {
                dirs: &dirs,
                files: &plan.files,
            };
            restrict(&grants).unwrap_or_else(|reason| LandlockState::Unavailable { reason })
        }
    };
    if plan.mode == SandboxMode::Enforce {
        match &landlock {
            LandlockState::Enforced { .. } => {}
            LandlockState::Partial { abi } => {
                return refuse(format!(
                    "Landlock ABI {abi} cannot enforce every write restriction kiro asks for"
                ))
            }
            LandlockState::Unavailable { reason } => return refuse(reason.clone()),
            LandlockState::Off => return refuse("Landlock is off".to_owned()),
        }
    }

    notify(&Notice::Applied {
        landlock,
        pdeathsig,
        cgroup,
    });
    let error = exec(&agent);
    let not_found = error.kind() == std::io::ErrorKind::NotFound;
    notify(&Notice::ExecFailed {
        reason: format!("cannot run {:?}: {error}", agent_name(&agent)),
        not_found,
    });
    if not_found {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_EXECUTE
    }
}

fn agent_name(agent: &[OsString]) -> String {
    agent
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn refuse(reason: String) -> u8 {
    notify(&Notice::Refused { reason });
    EXIT_REFUSED
}

/// Writes a notice in one call, so that it is one line on the pipe.
fn notify(notice: &Notice) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(notice.line().as_bytes());
    let _ = stderr.flush();
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal() -> bool {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal() -> bool {
    false
}

#[cfg(unix)]
fn parent_id() -> u32 {
    std::os::unix::process::parent_id()
}

#[cfg(not(unix))]
fn parent_id() -> u32 {
    0
}

/// Replaces this process with the agent; returns only on failure.
#[cfg(unix)]
fn exec(agent: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = agent.split_first() else {
        return std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line");
    };
    std::process::Command::new(program).args(args).exec()
}

/// Without `exec`, the launcher runs the agent as its child and exits with
/// its status (nothing is restricted there anyway).
#[cfg(not(unix))]
fn exec(agent: &[OsString]) -> std::io::Error {
    let Some((program, args)) = agent.split_first() else {
        return std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line");
    };
    match std::process::Command::new(program).args(args).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(LaunchPlan, Vec<OsString>), String> {
        LaunchPlan::parse(args.iter().copied()).map_err(|e| e.to_string())
    }

    #[test]
    fn plans_round_trip_through_their_arguments() {
        let plan = LaunchPlan::new(SandboxMode::Off)
            .writable_dir("/r/src")
            .writable_dir("/r/docs dir")
            .writable_file("/r/README.md")
            .temp_dir("/tmp/t")
            .cgroup("/sys/fs/cgroup/kiro-1-1")
            .landlock_support(&Support::unavailable("simulated"));
        let mut args = plan.to_args();
        args.extend(["--".into(), "agent".into(), "--mode".into()]);
        let (back, agent) = LaunchPlan::parse(args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, plan);
        // What follows `--` is the agent's, even when it looks like a flag.
        assert_eq!(agent, ["agent", "--mode"]);
    }

    #[test]
    fn wrong_command_lines_are_usage_errors() {
        let cases: [(&[&str], &str); 6] = [
            (&["--mode", "enforce", "--parent", "1"], "no `--`"),
            (&["--mode", "enforce", "--parent", "1", "--"], "no agent"),
            (
                &["--mode", "strict", "--parent", "1", "--", "a"],
                "unknown mode",
            ),
            (&["--parent", "x", "--", "a"], "not a process id"),
            (&["--mode", "off", "--", "a"], "--parent is required"),
            (&["--bogus", "--", "a"], "unknown argument"),
        ];
        for (args, fragment) in cases {
            let e = parse(args).err().unwrap_or_default();
            assert!(e.contains(fragment), "{args:?}: {e:?} lacks {fragment:?}");
        }
    }
}
