//! Running one external program for a stage: no shell, bounded output, and
//! nothing left running afterwards.
//!
//! [`Command`] is what [`CommandExecutor`](crate::stages::command::CommandExecutor)
//! and the command-backed verifier use to run a coding agent CLI or a test
//! suite. It differs from [`std::process::Command`] in the ways a pipeline
//! needs:
//!
//! - The program runs in a process group of its own (on unix). When the run
//!   times out, is cancelled, or its future is dropped (the engine's per-node
//!   timeout drops it), the whole group is stopped: `SIGTERM` first, then
//!   `SIGKILL` after a short grace period ([`KILL_GRACE`]). Processes the
//!   program left running in its group after it exited are stopped the same
//!   way, so a task never leaves strays behind.
//! - Standard input is written while standard output and error are read, so
//!   a program that never reads its input cannot deadlock the run.
//! - Only the last [`DEFAULT_CAPTURE_LIMIT`] bytes of each stream are kept
//!   (the end of a log is where errors are), with a note saying how much was
//!   dropped; output that is not UTF-8 is converted lossily.
//!
//! A process that leaves its process group (a daemon calling `setsid`) is
//! outside what the group signals reach; if it keeps the output pipes open,
//! reading stops shortly after the program itself ended. Running the program
//! in a cgroup of its own ([`Command::cgroup`], see
//! [`sandbox::cgroup`](crate::sandbox::cgroup)) closes that gap: whatever is
//! left in the cgroup when the run ends is killed too.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use kiro_core::process::Command;
//! use tokio_util::sync::CancellationToken;
//!
//! let out = Command::new(["sh", "-c", "cat; echo done >&2"])
//!     .stdin(b"hello\n".to_vec())
//!     .run(&CancellationToken::new())
//!     .await?;
//! assert!(out.success());
//! assert_eq!(out.stdout, "hello\n");
//! assert_eq!(out.stderr, "done\n");
//! # Ok::<(), kiro_core::Error>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// How many bytes of each output stream [`Command`] keeps by default (64 KiB).
pub const DEFAULT_CAPTURE_LIMIT: usize = 64 * 1024;

/// How long a stopped process group gets between `SIGTERM` and `SIGKILL` by default.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long output is still read after the program ended and its group was
/// stopped; only a process that escaped the group can hold the pipes open
/// that long.
const DRAIN_AFTER_STOP: Duration = Duration::from_secs(1);

/// How many leading lines of standard error [`Command::preamble`] takes at most.
const PREAMBLE_LINES: usize = 4;

/// How long a preamble line may be before the stream is taken as ordinary output.
const PREAMBLE_LINE_BYTES: usize = 64 * 1024;

/// One external program to run, built step by step.
///
/// The environment is inherited, plus what [`Command::env`] adds. Standard
/// input is empty unless [`Command::stdin`] gives bytes. There is no time
/// limit unless [`Command::timeout`] sets one.
#[derive(Clone, Debug)]
#[must_use]
pub struct Command {
    argv: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    // Inherited variables the program must not see.
    hidden_secrets: bool,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    capture_limit: usize,
    grace: Duration,
    preamble: Option<String>,
    cgroup: Option<PathBuf>,
}

impl Command {
    /// A command line: `argv[0]` is the program (looked up in `PATH` when it
    /// has no `/`), the rest are its arguments, passed as they are.
    pub fn new<I, S>(argv: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            hidden_secrets: false,
            stdin: None,
            timeout: None,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            grace: KILL_GRACE,
            preamble: None,
            cgroup: None,
        }
    }

    /// Runs the program in this folder (default: the current folder).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable for the program.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the program without the inherited variables that hold secrets
    /// (names [`is_secret_name`](crate::redact::is_secret_name) recognises:
    /// `*_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*`, the AWS credentials), for
    /// commands a model chose: kiro's own API key must not be one `env`
    /// away from an agent. Variables set with [`Command::env`] are kept.
    ///
    /// ```
    /// use kiro_core::process::Command;
    ///
    /// // A command a model asked for: it sees no API key, whatever kiro's
    /// // own environment holds.
    /// let command = Command::new(["cargo", "test"]).without_secrets();
    /// # let _ = command;
    /// ```
    pub fn without_secrets(mut self) -> Self {
        self.hidden_secrets = true;
        self
    }

    /// Gives the program these bytes on standard input, then end of file.
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// Stops the program (and its process group) after this long; the
    /// output then has [`Output::timed_out`] set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps at most this many bytes of each of standard output and standard
    /// error: the last ones, after a note saying how many were dropped.
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.capture_limit = bytes;
        self
    }

    /// How long a process group that is being stopped gets between
    /// `SIGTERM` and `SIGKILL` (default [`KILL_GRACE`]).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Takes the leading lines of standard error that start with `prefix`
    /// (at most four) out of [`Output::stderr`] into [`Output::preamble`]:
    /// how a launcher that runs before the program (see
    /// [`sandbox`](crate::sandbox)) reports to kiro on the same pipe.
    pub fn preamble(mut self, prefix: impl Into<String>) -> Self {
        self.preamble = Some(prefix.into());
        self
    }

    /// Stops everything left in this cgroup v2 directory when the run ends
    /// (by itself, by timeout, cancellation or drop), after the process
    /// group: the program must have been placed in it (a launcher joins it
    /// before it starts the program). Creating and removing the cgroup is
    /// the caller's ([`TaskCgroup`](crate::sandbox::cgroup::TaskCgroup)).
    pub fn cgroup(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup = Some(dir.into());
        self
    }

    /// Runs the program to its end, its timeout, or `cancel`.
    ///
    /// A program that ran is `Ok` whatever its exit status; see
    /// [`Output::success`]. A cancelled token stops the program and returns
    /// an output with [`Output::cancelled`] set (a token cancelled before the
    /// call starts nothing). Dropping the returned future stops the
    /// program's process group as well. A program that cannot be started
    /// (not found, not executable, an empty command line) is
    /// [`Error::Spawn`].
    pub async fn run(self, cancel: &CancellationToken) -> Result<Output, Error> {
        let program = self
            .argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((prog, args)) = self.argv.split_first() else {
            return Err(Error::Spawn {
                program,
                source: io::Error::new(io::ErrorKind::InvalidInput, "empty command line"),
            });
        };
        if cancel.is_cancelled() {
            return Ok(Output {
                cancelled: true,
                ..Output::default()
            });
        }

        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.hidden_secrets {
            for (k, _) in std::env::vars_os() {
                if k.to_str().is_some_and(crate::redact::is_secret_name) {
                    cmd.env_remove(&k);
                }
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        #[cfg(unix)]
        cmd.process_group(0);
        // Without process groups, tokio's own kill is the best there is.
        #[cfg(not(unix))]
        cmd.kill_on_drop(true);

        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
        // Armed before the first await, so that dropping this future at any
        // later point stops the group.
        let mut guard = GroupGuard::new(&child, self.grace, self.cgroup.clone());

        let stdin_pipe = child.stdin.take();
        let stdout_pipe = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        let stdin_bytes = self.stdin.unwrap_or_default();
        let mut stdout = Tail::new(self.capture_limit);
        let mut stderr = Tail::new(self.capture_limit);
        let mut preamble = self.preamble.as_deref().map(Preamble::new);

        let (end, status) = {
            let io = async {
                tokio::join!(
                    feed(stdin_pipe, &stdin_bytes),
                    drain(stdout_pipe, &mut stdout, None),
                    drain(stderr_pipe, &mut stderr, preamble.as_mut()),
                );
            };
            tokio::pin!(io);
            let expiry = async {
                match self.timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(expiry);

            let mut io_done = false;
            let end = loop {
                tokio::select! {
                    () = &mut io, if !io_done => io_done = true,
                    status = child.wait() => break End::Exited(status.is_ok()),
                    () = &mut expiry => break End::TimedOut,
                    () = cancel.cancelled() => break End::Cancelled,
                }
            };
            // The group is stopped while its output is still being read, so
            // that a process blocked on a full pipe can take its signal.
            let stop = async {
                let status = stop_group(&mut child, guard.pgid(), self.grace).await;
                if let Some(dir) = &self.cgroup {
                    stop_cgroup(dir).await;
                }
                status
            };
            let status = if io_done {
                stop.await
            } else {
                let drain = tokio::time::timeout(self.grace + DRAIN_AFTER_STOP, &mut io);
                tokio::join!(stop, drain).0
            };
            (end, status)
        };
        guard.disarm();

        let status = status.map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
        if matches!(end, End::Exited(false)) {
            return Err(Error::Spawn {
                program,
                source: io::Error::other("waiting for the process failed"),
            });
        }
        Ok(Output {
            code: status.code(),
            signal: exit_signal(&status),
            stdout: stdout.into_string(),
            stderr: stderr.into_string(),
            timed_out: matches!(end, End::TimedOut),
            cancelled: matches!(end, End::Cancelled),
            duration: started.elapsed(),
            preamble: preamble.map(|p| p.lines).unwrap_or_default(),
        })
    }
}

/// What a finished [`Command`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code, when the program exited on its own (`None` when a
    /// signal ended it).
    pub code: Option<i32>,
    /// The signal that ended the program, on unix.
    pub signal: Option<i32>,
    /// The tail of standard output, lossily decoded, with a leading note
    /// when earlier bytes were dropped.
    pub stdout: String,
    /// The tail of standard error, like `stdout`.
    pub stderr: String,
    /// The program was stopped because its timeout passed.
    pub timed_out: bool,
    /// The program was stopped (or never started) because the run was cancelled.
    pub cancelled: bool,
    /// Wall time from start to end, including stopping the process group.
    pub duration: Duration,
    /// The leading lines of standard error [`Command::preamble`] took out,
    /// without their line breaks.
    pub preamble: Vec<String>,
}

impl Output {
    /// The program exited with code 0 by itself (no timeout, no cancellation).
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }
}

/// Why the wait for the program ended.
enum End {
    /// The program exited; `false` when waiting for it failed.
    Exited(bool),
    TimedOut,
    Cancelled,
}

/// The last `limit` bytes of a stream, and how many there were in all.
struct Tail {
    buf: Vec<u8>,
    limit: usize,
    total: u64,
}

impl Tail {
    fn new(limit: usize) -> Tail {
        Tail {
            buf: Vec::new(),
            limit,
            total: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len() as u64);
        self.buf.extend_from_slice(chunk);
        // Trimming only once the buffer holds twice the limit keeps the cost
        // of moving bytes linear in the output size.
        if self.buf.len() > self.limit.saturating_mul(2).max(8 * 1024) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        let excess = self.buf.len().saturating_sub(self.limit);
        self.buf.drain(..excess);
    }

    fn into_string(mut self) -> String {
        self.trim();
        let dropped = self.total.saturating_sub(self.buf.len() as u64);
        if dropped == 0 {
            return String::from_utf8_lossy(&self.buf).into_owned();
        }
        // The cut may fall inside a UTF-8 sequence; its continuation bytes
        // (at most three) would decode as replacement characters.
        let skip = self
            .buf
            .iter()
            .take(3)
            .take_while(|b| (**b & 0b1100_0000) == 0b1000_0000)
            .count();
        let kept = self.buf.get(skip..).unwrap_or_default();
        let dropped = dropped.saturating_add(skip as u64);
        format!(
            "[kiro: {dropped} earlier bytes not kept]\n{}",
            String::from_utf8_lossy(kept)
        )
    }
}

/// The leading lines of a stream that start with a prefix.
struct Preamble {
    prefix: Vec<u8>,
    pending: Vec<u8>,
    lines: Vec<String>,
    done: bool,
}

impl Preamble {
    fn new(prefix: &str) -> Preamble {
        Preamble {
            prefix: prefix.as_bytes().to_vec(),
            pending: Vec::new(),
            lines: Vec::new(),
            done: false,
        }
    }

    /// Takes a chunk of the stream; returns the bytes that are ordinary
    /// output (none while a line that may be a preamble line is incomplete).
    fn feed<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        if self.done {
            return Cow::Borrowed(chunk);
        }
        self.pending.extend_from_slice(chunk);
        loop {
            if self.lines.len() >= PREAMBLE_LINES {
                return self.finish();
            }
            let n = self.pending.len().min(self.prefix.len());
            if self.pending.get(..n) != self.prefix.get(..n) {
                return self.finish();
            }
            if n < self.prefix.len() {
                return Cow::Borrowed(&[]);
            }
            match memchr::memchr(b'\n', &self.pending) {
                Some(end) => {
                    let line: Vec<u8> = self.pending.drain(..=end).take(end).collect();
                    self.lines.push(String::from_utf8_lossy(&line).into_owned());
                }
                None if self.pending.len() > PREAMBLE_LINE_BYTES => return self.finish(),
                None => return Cow::Borrowed(&[]),
            }
        }
    }

    /// Ends the preamble: what is pending is ordinary output.
    fn finish<'a>(&mut self) -> Cow<'a, [u8]> {
        self.done = true;
        Cow::Owned(std::mem::take(&mut self.pending))
    }
}

/// Writes all of `bytes` to the program's standard input and closes it.
///
/// Write errors are ignored: a program that exits or closes its input
/// without reading it (a broken pipe) is not a failure of the run.
async fn feed<W: AsyncWrite + Unpin>(pipe: Option<W>, bytes: &[u8]) {
    if let Some(mut pipe) = pipe {
        let _ = pipe.write_all(bytes).await;
        let _ = pipe.shutdown().await;
    }
}

/// Reads a pipe to its end into `tail`, its leading lines into `preamble`
/// when one is given.
async fn drain<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    tail: &mut Tail,
    mut preamble: Option<&mut Preamble>,
) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut chunk = vec![0u8; 8 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let bytes = chunk.get(..n).unwrap_or_default();
                match preamble.as_deref_mut() {
                    Some(p) => tail.push(&p.feed(bytes)),
                    None => tail.push(bytes),
                }
            }
        }
    }
    if let Some(p) = preamble {
        tail.push(&p.finish());
    }
}

/// Kills what is left in the program's cgroup and waits (up to two
/// seconds) until it is empty.
async fn stop_cgroup(dir: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !crate::sandbox::cgroup::kill_once(dir) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(unix)]
fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_status: &ExitStatus) -> Option<i32> {
    None
}

/// The process group id of a child started with `process_group(0)`: its pid.
#[cfg(unix)]
type GroupId = nix::unistd::Pid;

#[cfg(not(unix))]
type GroupId = ();

/// Stops a process group when dropped while armed: the safety net for a
/// [`Command::run`] future that is dropped before it finished.
struct GroupGuard {
    pgid: Option<GroupId>,
    grace: Duration,
    /// The program's cgroup, killed on drop too.
    cgroup: Option<PathBuf>,
}

impl GroupGuard {
    #[cfg(unix)]
    fn new(child: &Child, grace: Duration, cgroup: Option<PathBuf>) -> GroupGuard {
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(nix::unistd::Pid::from_raw);
        GroupGuard {
            pgid,
            grace,
            cgroup,
        }
    }

    #[cfg(not(unix))]
    fn new(_child: &Child, grace: Duration, cgroup: Option<PathBuf>) -> GroupGuard {
        GroupGuard {
            pgid: None,
            grace,
            cgroup,
        }
    }

    fn pgid(&self) -> Option<GroupId> {
        self.pgid
    }

    /// The group has been dealt with; dropping the guard does nothing more.
    fn disarm(&mut self) {
        self.pgid = None;
        self.cgroup = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // Processes that left the group get no grace period: they are
        // outside what the program was asked to stop.
        if let Some(dir) = self.cgroup.take() {
            crate::sandbox::cgroup::kill_once(&dir);
        }
        #[cfg(unix)]
        if let Some(pgid) = self.pgid.take() {
            use nix::sys::signal::Signal;
            if !signal_group(pgid, Signal::SIGTERM) {
                return;
            }
            // Drop cannot wait, and the async runtime may be shutting down,
            // so a plain thread gives the group its grace period.
            let grace = self.grace;
            let spawned = std::thread::Builder::new()
                .name("kiro-process-reaper".into())
                .spawn(move || {
                    let deadline = Instant::now() + grace;
                    while group_exists(pgid) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(25));
                    }
                    signal_group(pgid, Signal::SIGKILL);
                });
            if spawned.is_err() {
                signal_group(pgid, Signal::SIGKILL);
            }
        }
        #[cfg(not(unix))]
        let _ = (self.pgid.take(), self.grace);
    }
}

/// Sends `signal` to the group; `false` when the group no longer exists.
#[cfg(unix)]
fn signal_group(pgid: nix::unistd::Pid, signal: nix::sys::signal::Signal) -> bool {
    !matches!(
        nix::sys::signal::killpg(pgid, signal),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Whether a process that has not exited is still in the group.
///
/// `killpg` with no signal also finds zombies: exited processes nobody has
/// reaped yet, which is common in containers whose first process does not
/// reap orphans. On Linux the group's members are looked up in `/proc` to
/// tell them apart, so that stopping does not wait out the grace period for
/// processes that are already dead.
#[cfg(unix)]
fn group_exists(pgid: nix::unistd::Pid) -> bool {
    if matches!(
        nix::sys::signal::killpg(pgid, None),
        Err(nix::errno::Errno::ESRCH)
    ) {
        return false;
    }
    #[cfg(target_os = "linux")]
    if let Some(live) = live_member(pgid.as_raw()) {
        return live;
    }
    true
}

/// Whether `/proc` shows a process of group `pgid` that is not a zombie;
/// `None` when `/proc` cannot be read.
#[cfg(target_os = "linux")]
fn live_member(pgid: i32) -> Option<bool> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; the command name may hold any
        // character, so fields are counted from its closing parenthesis.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        if pgrp == Some(pgid) && !matches!(state, Some("Z" | "X")) {
            return Some(true);
        }
    }
    Some(false)
}

/// Stops what is left of the program's process group and reaps the program.
///
/// `SIGTERM` goes to the group; the program and the rest of the group get
/// `grace` to exit before `SIGKILL`. When the program already exited and
/// left nothing behind, this only collects its status.
#[cfg(unix)]
async fn stop_group(
    child: &mut Child,
    pgid: Option<GroupId>,
    grace: Duration,
) -> io::Result<ExitStatus> {
    use nix::sys::signal::Signal;
    let Some(pgid) = pgid else {
        // Without an id the child was already reaped; its status is cached.
        return child.wait().await;
    };
    if signal_group(pgid, Signal::SIGTERM) {
        let deadline = tokio::time::Instant::now() + grace;
        let _ = tokio::time::timeout_at(deadline, child.wait()).await;
        while group_exists(pgid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if group_exists(pgid) {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
    child.wait().await
}

/// Stops the program (only the program: there are no process groups here)
/// and reaps it.
#[cfg(not(unix))]
async fn stop_group(
    child: &mut Child,
    _pgid: Option<GroupId>,
    _grace: Duration,
) -> io::Result<ExitStatus> {
    if let Ok(None) = child.try_wait() {
        let _ = child.start_kill();
    }
    child.wait().await
}

#[cfg(test)]
mod tests {
    use super::{Preamble, Tail};

    /// Feeds `chunks` and returns (preamble lines, ordinary output).
    fn preamble(prefix: &str, chunks: &[&str]) -> (Vec<String>, String) {
        let mut p = Preamble::new(prefix);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&p.feed(c.as_bytes()));
        }
        out.extend_from_slice(&p.finish());
        (p.lines, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn the_preamble_is_the_leading_lines_with_the_prefix() {
        let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            preamble("k: ", &["k: one\nk: two\nagent\nk: not me\n"]),
            (lines(&["k: one", "k: two"]), "agent\nk: not me\n".into())
        );
        // Split anywhere, even inside the prefix.
        assert_eq!(
            preamble("k: ", &["k", ": o", "ne\nag", "ent"]),
            (lines(&["k: one"]), "agent".into())
        );
        // No preamble at all, or a stream shorter than the prefix.
        assert_eq!(
            preamble("k: ", &["agent\n"]),
            (lines(&[]), "agent\n".into())
        );
        assert_eq!(preamble("k: ", &["k"]), (lines(&[]), "k".into()));
        // An unterminated line is ordinary output.
        assert_eq!(preamble("k: ", &["k: cut"]), (lines(&[]), "k: cut".into()));
        // At most four lines.
        assert_eq!(
            preamble("k: ", &["k: 1\nk: 2\nk: 3\nk: 4\nk: 5\n"]),
            (lines(&["k: 1", "k: 2", "k: 3", "k: 4"]), "k: 5\n".into())
        );
    }

    #[test]
    fn tail_keeps_the_end_and_notes_what_was_dropped() {
        let mut t = Tail::new(4);
        t.push(b"abcdef");
        t.push(b"gh");
        assert_eq!(t.into_string(), "[kiro: 4 earlier bytes not kept]\nefgh");

        let mut t = Tail::new(10);
        t.push(b"short");
        assert_eq!(t.into_string(), "short");
    }

    #[test]
    fn tail_does_not_start_inside_a_utf8_sequence() {
        let mut t = Tail::new(4);
        t.push("aé€".as_bytes()); // 1 + 2 + 3 bytes
        assert_eq!(t.into_string(), "[kiro: 3 earlier bytes not kept]\n€");
    }
}
