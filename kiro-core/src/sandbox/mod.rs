//! Confining an agent the kernel way: Linux Landlock for writes, the
//! parent-death signal and a cgroup for its lifetime.
//!
//! A [`Policy`](crate::workspace::Policy) binds what stages write through the
//! [`Workspace`](crate::workspace::Workspace) API; an external agent run by
//! [`CommandExecutor`](crate::stages::CommandExecutor) writes with its own
//! system calls. This module makes the kernel enforce the policy on it:
//!
//! - **Writes** (Linux 5.13+, Landlock): the agent may create, write, remove,
//!   rename, truncate or link files only beneath the directories its
//!   repository's writable globs name ([`Policy::writable_roots`](crate::workspace::Policy::writable_roots)), a private
//!   temporary directory (its `TMPDIR`) and `/dev` (for `/dev/null`,
//!   `/dev/tty`). Reading and executing stay allowed everywhere. Landlock
//!   binds directory hierarchies, so it is coarser than globs: `docs/*.md`
//!   lets the agent write any file under `docs/`. The after-the-fact change
//!   detection of the workspace catches what the globs forbid inside those
//!   directories.
//! - **Lifetime**: the agent gets `SIGKILL` when kiro dies (the parent-death
//!   signal), and where a cgroup v2 subtree is writable each task runs in a
//!   cgroup of its own, so processes that left the task's process group
//!   (`setsid`) are stopped with the task.
//!
//! With `writable = ["src/**"]`, `.kiro/` (the checkpoint store and audit
//! log) is out of the agent's reach; with `**`, or no `writable` at all, the
//! whole repository is writable, `.kiro/` included.
//!
//! What this does not stop: reading any file the user can read, network
//! access, writes made on the agent's behalf by other processes it talks to
//! (a Unix socket to a daemon, signals), writes to already-open descriptors
//! it inherited (only its standard streams), and anything on kernels
//! without Landlock in `best-effort` mode. Setuid programs gain no
//! privileges under Landlock (`no_new_privs`).
//!
//! The restrictions are applied by a small launcher that runs between kiro
//! and the agent: kiro starts the launcher, which restricts itself and then
//! `exec`s the agent, which inherits everything. The launcher is the same
//! program as kiro, started with a hidden subcommand ([`Launcher`]); a program
//! embedding kiro-core passes its own executable and calls
//! [`launcher_main`] from its `main` when it sees that subcommand.
//!
//! Linux sends the parent-death signal when the *thread* that started the
//! launcher exits, not the process: run the executor on threads that outlive
//! its tasks (tokio's runtime workers do; a `spawn_blocking` thread that goes
//! idle may exit while its agent runs, and the agent would be killed).
//!
//! [`SandboxMode`] (`[policy] sandbox` in `.kiro/config.toml`) chooses what
//! happens where Landlock is unavailable: `enforce` refuses to run the
//! agent, `best-effort` (the default) runs it unconfined and says so, `off`
//! never confines writes. Each task outcome records what was in force
//! ([`SandboxReport`]).
//!
//! ```
//! use kiro_core::sandbox::{landlock_support, SandboxMode};
//!
//! let mode: SandboxMode = "best-effort".parse()?;
//! assert_eq!(mode, SandboxMode::default());
//! // Asking the kernel does not restrict the caller.
//! let support = landlock_support();
//! assert_eq!(support.abi.is_some(), support.reason.is_none());
//! # Ok::<(), kiro_core::Error>(())
//! ```

pub mod cgroup;
mod landlock;
mod launcher;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[allow(unused_imports, reason = "linked from the module docs")]
pub use launcher::{
    launch, launcher_main, LaunchPlan, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_REFUSED,
};

/// The first bytes of every line the launcher writes to standard error
/// before the agent starts; kiro takes those lines out of the agent's output.
pub const NOTICE_PREFIX: &str = "kiro-sandbox: ";

/// What happens to an agent's writes (`[policy] sandbox`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Writes are confined by Landlock; where that is impossible (another
    /// kernel, no launcher, a partial ruleset) the agent does not run.
    Enforce,
    /// Writes are confined by Landlock where the kernel allows; elsewhere
    /// the agent runs unconfined and the task's report says so.
    #[default]
    BestEffort,
    /// Writes are never confined (the parent-death signal and the task's
    /// cgroup still apply).
    Off,
}

impl SandboxMode {
    /// The spelling of `.kiro/config.toml`: `enforce`, `best-effort` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Enforce => "enforce",
            SandboxMode::BestEffort => "best-effort",
            SandboxMode::Off => "off",
        }
    }
}

impl fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxMode {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(SandboxMode::Enforce),
            "best-effort" => Ok(SandboxMode::BestEffort),
            "off" => Ok(SandboxMode::Off),
            other => Err(crate::Error::Backend(Box::new(SandboxError::Usage {
                message: format!(
                    "unknown sandbox mode {other:?} (expected enforce, best-effort or off)"
                ),
            }))),
        }
    }
}

/// A path beneath which a kernel sandbox lets an agent write, relative to a
/// repository root ([`Policy::writable_roots`](crate::workspace::Policy::writable_roots)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WritableRoot {
    /// A directory hierarchy; the empty path is the repository root.
    Dir(PathBuf),
    /// A single file.
    File(PathBuf),
}

impl WritableRoot {
    /// The path, relative to the repository root.
    pub fn path(&self) -> &Path {
        match self {
            WritableRoot::Dir(p) | WritableRoot::File(p) => p,
        }
    }
}

/// Whether this kernel can confine writes with Landlock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Support {
    /// The Landlock ABI version kiro would use, when Landlock is available.
    pub abi: Option<u32>,
    /// Why it is not, when it is not.
    pub reason: Option<String>,
}

impl Support {
    /// Landlock is available with this ABI version.
    pub fn available(abi: u32) -> Support {
        Support {
            abi: Some(abi),
            reason: None,
        }
    }

    /// Landlock is not available, for this reason. Handing this to
    /// [`CommandExecutor::landlock_support`](crate::stages::CommandExecutor::landlock_support)
    /// simulates a kernel without Landlock (the launcher then behaves as on
    /// one too), which is how the refusal of `enforce` is tested.
    pub fn unavailable(reason: impl Into<String>) -> Support {
        Support {
            abi: None,
            reason: Some(reason.into()),
        }
    }
}

/// Asks the kernel which Landlock ABI it offers, without restricting the
/// caller. On other systems than Linux, Landlock is unavailable.
pub fn landlock_support() -> Support {
    landlock::support()
}

/// What confined a task's agent, as recorded on its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SandboxReport {
    /// The mode the task ran under.
    pub mode: SandboxMode,
    /// Whether Landlock confined the agent's writes.
    pub landlock: LandlockState,
    /// The directories (and files) the agent could write, relative to its
    /// repository root (`.` for the root itself), with a trailing `/` for
    /// directories; the private temporary directory and `/dev` are not
    /// listed. Empty when writes were not confined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<String>,
    /// The task's cgroup (its path in the cgroup v2 hierarchy), when the
    /// agent ran in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// Why the agent ran without a cgroup of its own, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_unavailable: Option<String>,
    /// The agent was set to get `SIGKILL` when kiro dies.
    pub pdeathsig: bool,
}

/// Whether Landlock confined an agent's writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LandlockState {
    /// Every write right kiro asked for was enforced.
    Enforced {
        /// The Landlock ABI version in force.
        abi: u32,
    },
    /// Some write rights were enforced; the kernel does not know the others
    /// (only in best-effort mode: `enforce` refuses this).
    Partial {
        /// The Landlock ABI version in force.
        abi: u32,
    },
    /// Writes were not confined, although the mode asked for it.
    Unavailable {
        /// Why (no Landlock in this kernel, no launcher, a failed call).
        reason: String,
    },
    /// Writes were not confined because the mode is `off`.
    Off,
}

impl LandlockState {
    /// Whether the agent's writes were confined (fully or partly).
    pub fn is_enforced(&self) -> bool {
        matches!(
            self,
            LandlockState::Enforced { .. } | LandlockState::Partial { .. }
        )
    }
}

impl SandboxReport {
    /// The report in one line without the cgroup's name, so that the tasks
    /// of a run that were confined alike read alike: `landlock enforced (ABI
    /// 7), writable: src/ and a private temp dir; cgroup: own; parent-death
    /// signal: on`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = self.write(&mut out, false);
        out
    }

    fn write(&self, f: &mut impl fmt::Write, cgroup_name: bool) -> fmt::Result {
        match &self.landlock {
            LandlockState::Enforced { abi } => write!(f, "landlock enforced (ABI {abi})")?,
            LandlockState::Partial { abi } => {
                write!(f, "landlock partly enforced (ABI {abi})")?;
            }
            LandlockState::Unavailable { reason } => {
                write!(f, "landlock not enforced ({reason}); writes unconfined")?;
            }
            LandlockState::Off => write!(f, "landlock off (sandbox = \"off\")")?,
        }
        if self.landlock.is_enforced() {
            let writable = if self.writable.is_empty() {
                "nothing in the repository".to_owned()
            } else {
                self.writable.join(", ")
            };
            write!(f, ", writable: {writable} and a private temp dir")?;
        }
        match (&self.cgroup, &self.cgroup_unavailable) {
            (Some(cg), _) if cgroup_name => write!(f, "; cgroup: {cg}")?,
            (Some(_), _) => write!(f, "; cgroup: own")?,
            (None, Some(why)) => write!(f, "; no cgroup ({why})")?,
            (None, None) => write!(f, "; no cgroup")?,
        }
        let pdeathsig = if self.pdeathsig { "on" } else { "off" };
        write!(f, "; parent-death signal: {pdeathsig}")
    }
}

impl fmt::Display for SandboxReport {
    /// One line: `landlock enforced (ABI 7), writable: src/ and a private
    /// temp dir; cgroup: /kiro-1-1; parent-death signal: on`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, true)
    }
}

/// Errors of the sandbox: a refused launch, a launcher used wrongly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// `[policy] sandbox = "enforce"` and the agent cannot be confined.
    #[error("sandbox refused to run the agent: {reason} (policy sandbox = \"enforce\"; set it to \"best-effort\" to run unconfined)")]
    Refused {
        /// Why confinement is impossible here.
        reason: String,
    },
    /// The launcher's command line is not one kiro writes.
    #[error("kiro sandbox launcher: {message}")]
    Usage {
        /// What is wrong with it.
        message: String,
    },
}

/// How to start the launcher: a program and the arguments that make it one
/// (for the kiro CLI, `current_exe()` and its hidden `__sandbox` subcommand).
///
/// The launcher's own arguments ([`LaunchPlan::to_args`]) and the agent's
/// command line follow `prefix`. The program must call [`launcher_main`]
/// with them and return its exit code, doing nothing else first: anything
/// it does before runs unconfined and, with a multi-threaded runtime, in
/// threads Landlock would not restrict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    program: PathBuf,
    prefix: Vec<OsString>,
}

impl Launcher {
    /// The launcher is `program` started with `prefix` as its first arguments.
    pub fn new<I, S>(program: impl Into<PathBuf>, prefix: I) -> Launcher
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Launcher {
            program: program.into(),
            prefix: prefix.into_iter().map(Into::into).collect(),
        }
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The full command line that launches `agent` under `plan`.
    pub fn command_line<S: AsRef<OsStr>>(&self, plan: &LaunchPlan, agent: &[S]) -> Vec<OsString> {
        let mut argv = vec![self.program.clone().into_os_string()];
        argv.extend(self.prefix.iter().cloned());
        argv.extend(plan.to_args());
        argv.push("--".into());
        argv.extend(agent.iter().map(|a| a.as_ref().to_owned()));
        argv
    }
}

/// What the launcher says on its first line of standard error: what it put
/// in force, or why it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Notice {
    /// The restrictions are in force; the agent is started next.
    Applied {
        landlock: LandlockState,
        pdeathsig: bool,
        cgroup: bool,
    },
    /// The launcher did not start the agent (`enforce` could not be met).
    Refused { reason: String },
    /// Starting the agent failed (the restrictions were in force).
    ExecFailed { reason: String, not_found: bool },
}

impl Notice {
    /// The line the launcher writes, newline included.
    pub(crate) fn line(&self) -> String {
        // Serialising plain enums of strings and integers cannot fail; the
        // fallback keeps the protocol readable if it ever did.
        let json = serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"refused\":{{\"reason\":\"{e}\"}}}}"));
        format!("{NOTICE_PREFIX}{json}\n")
    }

    /// Reads a line the launcher wrote (with or without its prefix).
    pub(crate) fn parse(line: &str) -> Option<Notice> {
        let json = line.strip_prefix(NOTICE_PREFIX).unwrap_or(line);
        serde_json::from_str(json.trim()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_use_the_config_spelling() {
        for (text, mode) in [
            ("enforce", SandboxMode::Enforce),
            ("best-effort", SandboxMode::BestEffort),
            ("off", SandboxMode::Off),
        ] {
            assert_eq!(text.parse::<SandboxMode>().ok(), Some(mode));
            assert_eq!(mode.to_string(), text);
            assert_eq!(
                serde_json::to_string(&mode).ok(),
                Some(format!("\"{text}\""))
            );
        }
        assert!("strict".parse::<SandboxMode>().is_err());
    }

    #[test]
    fn notices_round_trip_through_their_line() {
        let notices = [
            Notice::Applied {
                landlock: LandlockState::Enforced { abi: 7 },
                pdeathsig: true,
                cgroup: false,
            },
            Notice::Refused {
                reason: "no \"landlock\"\nhere".into(),
            },
            Notice::ExecFailed {
                reason: "not found".into(),
                not_found: true,
            },
        ];
        for n in notices {
            let line = n.line();
            assert!(line.starts_with(NOTICE_PREFIX) && line.ends_with('\n'));
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(Notice::parse(&line), Some(n));
        }
        assert_eq!(Notice::parse("kiro-sandbox: hello"), None);
    }

    #[test]
    fn a_report_reads_as_one_line() {
        let report = SandboxReport {
            mode: SandboxMode::BestEffort,
            landlock: LandlockState::Enforced { abi: 7 },
            writable: vec!["src/".into()],
            cgroup: Some("/kiro-1-1".into()),
            cgroup_unavailable: None,
            pdeathsig: true,
        };
        assert_eq!(
            report.to_string(),
            "landlock enforced (ABI 7), writable: src/ and a private temp dir; \
             cgroup: /kiro-1-1; parent-death signal: on"
        );
        assert_eq!(
            report.summary(),
            "landlock enforced (ABI 7), writable: src/ and a private temp dir; \
             cgroup: own; parent-death signal: on"
        );
        let unconfined = SandboxReport {
            landlock: LandlockState::Unavailable {
                reason: "no launcher".into(),
            },
            writable: Vec::new(),
            cgroup: None,
            cgroup_unavailable: Some("read-only".into()),
            pdeathsig: false,
            ..report
        };
        assert_eq!(
            unconfined.to_string(),
            "landlock not enforced (no launcher); writes unconfined; \
             no cgroup (read-only); parent-death signal: off"
        );
    }
}
