//! A program speaking JSON lines, started once and kept alive.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{shorten, Reply, Target, TargetError};

/// How much of a program's stderr a failure quotes.
const STDERR_TAIL: usize = 4096;
/// How much of an unreadable answer a protocol error quotes.
const ANSWER_QUOTE: usize = 200;

/// A program speaking JSON lines: one request `{"op": "<name>", "input":
/// <json>}` per line on its stdin, one answer `{"ok": <json>}` or
/// `{"error": "<message>"}` per line on its stdout (blank lines are
/// skipped), stderr free for logs.
///
/// The program starts on the first call and serves every later one, so its
/// start-up cost is paid once; it is started again on the call after it
/// dies. A crash, a call that takes longer than the timeout (the program
/// is then killed) or an answer that breaks the protocol (killed too: the
/// stream can no longer be trusted) is a [`TargetError`] quoting the end of
/// its stderr. Dropping the target kills the program.
///
/// Calls to the first instance may also take [`startup_timeout`] until it
/// answers (a cold start of an interpreter or a JIT on a loaded machine is
/// not the operation's time); restarts are warm and get the plain timeout,
/// so a program that hangs on some input costs one timeout per case while
/// a failure shrinks.
///
/// [`startup_timeout`]: ProcessTarget::startup_timeout
///
/// ```no_run
/// use kiro_proptest::target::{ProcessTarget, Reply, Target};
/// use serde_json::json;
/// use std::time::Duration;
///
/// let codec = ProcessTarget::new(["python3", "codec.py"])
///     .current_dir("tools")
///     .env("CODEC_STRICT", "1")
///     .timeout(Duration::from_secs(2));
/// let reply = codec.call("encode", &json!("a,b"))?;
/// assert!(matches!(reply, Reply::Ok(_)));
/// # Ok::<(), kiro_proptest::target::TargetError>(())
/// ```
pub struct ProcessTarget {
    argv: Vec<String>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    startup_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: Option<Running>,
    starts: u64,
    /// Whether the start-up allowance is over: the first instance
    /// answered, or a later one started.
    warm: bool,
}

/// One live instance of the program.
struct Running {
    child: Child,
    stdin: ChildStdin,
    /// Lines of stdout, read on a thread so a call can wait with a timeout.
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    /// Disconnects when the stderr reader reached end of file.
    stderr_done: Receiver<()>,
}

impl ProcessTarget {
    /// A target running `argv` (program and arguments); nothing starts
    /// before the first call. Default timeout 10 s per call, plus 10 s for
    /// start-up.
    pub fn new<I, S>(argv: I) -> ProcessTarget
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ProcessTarget {
            argv: argv.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
            timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(10),
            state: Mutex::new(State::default()),
        }
    }

    /// Runs the program in `dir` (the workspace root for spec targets);
    /// a relative program path is looked up from there too.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> ProcessTarget {
        self.dir = Some(dir.into());
        self
    }

    /// Sets an environment variable for the program (it inherits the rest).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> ProcessTarget {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The longest a call may wait for its answer.
    pub fn timeout(mut self, timeout: Duration) -> ProcessTarget {
        self.timeout = timeout;
        self
    }

    /// Extra time calls to the first instance may take until it answers.
    pub fn startup_timeout(mut self, timeout: Duration) -> ProcessTarget {
        self.startup_timeout = timeout;
        self
    }

    /// How many times the program was started (1 after any number of
    /// calls to a program that never died).
    pub fn starts(&self) -> u64 {
        self.lock().starts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a dead process,
        // which the next call notices and replaces.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spawn(&self) -> Result<Running, TargetError> {
        let (program, args) = self.argv.split_first().ok_or(TargetError::EmptyArgv)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let spawn_error = |source| TargetError::Spawn {
            program: program.clone(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_error(std::io::Error::other("no pipes to the child")));
        };

        let (line_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        if line_tx.send(Ok(line)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = line_tx.send(Err(e));
                        break;
                    }
                }
            }
        });

        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        let (done_tx, stderr_done) = mpsc::channel::<()>();
        let sink = Arc::clone(&tail);
        thread::spawn(move || {
            let _done = done_tx;
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut tail = sink.lock().unwrap_or_else(PoisonError::into_inner);
                tail.extend(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        });

        Ok(Running {
            child,
            stdin,
            lines,
            stderr: tail,
            stderr_done,
        })
    }
}

impl Running {
    /// The end of what the program wrote to stderr, after waiting briefly
    /// for the reader to drain it (the program has exited or was killed).
    fn stderr_tail(&self) -> String {
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(200));
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = tail.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }

    /// Kills the program (if still running) and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The program closed its stdout: wait a moment for it to exit on its
    /// own (so its real status is reported), then kill it.
    fn exited(mut self) -> TargetError {
        let deadline = Instant::now() + Duration::from_millis(500);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    self.kill();
                    break "killed after closing its stdout".to_owned();
                }
            }
        };
        TargetError::Exited {
            status,
            stderr: self.stderr_tail(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Target for ProcessTarget {
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        let mut state = self.lock();
        let mut running = match state.running.take() {
            Some(running) => running,
            None => {
                let running = self.spawn()?;
                state.starts += 1;
                state.warm |= state.starts > 1;
                running
            }
        };

        let mut request = serde_json::to_vec(&serde_json::json!({"op": op, "input": input}))
            .map_err(|e| TargetError::Io(e.into()))?;
        request.push(b'\n');
        if running
            .stdin
            .write_all(&request)
            .and_then(|()| running.stdin.flush())
            .is_err()
        {
            // A broken pipe: the program is gone.
            return Err(running.exited());
        }

        let budget = if state.warm {
            self.timeout
        } else {
            self.timeout + self.startup_timeout
        };
        let deadline = Instant::now() + budget;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match running.lines.recv_timeout(wait) {
                Ok(Ok(line)) if line.trim().is_empty() => continue,
                Ok(Ok(line)) => {
                    return match parse_answer(&line) {
                        Ok(reply) => {
                            state.warm = true;
                            state.running = Some(running);
                            Ok(reply)
                        }
                        // `running` drops here: killed, restarted next call.
                        Err(e) => Err(e),
                    };
                }
                Ok(Err(e)) => {
                    running.kill();
                    return Err(TargetError::Io(e));
                }
                Err(RecvTimeoutError::Disconnected) => return Err(running.exited()),
                Err(RecvTimeoutError::Timeout) => {
                    running.kill();
                    return Err(TargetError::Timeout {
                        op: op.to_owned(),
                        after: budget,
                        stderr: running.stderr_tail(),
                    });
                }
            }
        }
    }
}

/// One answer line: `{"ok": <json>}` or `{"error": "<message>"}`.
fn parse_answer(line: &str) -> Result<Reply, TargetError> {
    let protocol = |reason: &str| TargetError::Protocol {
        reason: reason.to_owned(),
        answer: shorten(line.trim_end(), ANSWER_QUOTE),
    };
    let value: Value = serde_json::from_str(line).map_err(|_| protocol("the line is not JSON"))?;
    let Value::Object(mut map) = value else {
        return Err(protocol(r#"expected {"ok": ..} or {"error": ".."}"#));
    };
    if map.len() != 1 {
        return Err(protocol(r#"expected exactly one key, "ok" or "error""#));
    }
    if let Some(ok) = map.remove("ok") {
        return Ok(Reply::Ok(ok));
    }
    match map.remove("error") {
        Some(Value::String(message)) => Ok(Reply::Error(message)),
        Some(_) => Err(protocol(r#""error" must be a string"#)),
        None => Err(protocol(r#"expected {"ok": ..} or {"error": ".."}"#)),
    }
}

impl std::fmt::Debug for ProcessTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTarget")
            .field("argv", &self.argv)
            .field("dir", &self.dir)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_strictly() {
        let cases: &[(&str, Option<Reply>)] = &[
            (r#"{"ok": [1, 2]}"#, Some(Reply::Ok(json!([1, 2])))),
            (r#"{"ok": null}"#, Some(Reply::Ok(Value::Null))),
            (r#"{"error": "bad"}"#, Some(Reply::Error("bad".into()))),
            (r#"{"error": 3}"#, None),
            (r#"{"ok": 1, "error": "x"}"#, None),
            (r#"{"result": 1}"#, None),
            ("[1]", None),
            ("hello", None),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_answer(line).ok(), *expected, "{line}");
        }
    }
}
