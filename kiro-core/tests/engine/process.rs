//! `kiro_core::process::Command` against real processes (`sh`, `sleep`, `cat`).
#![cfg(unix)]
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use kiro_core::process::{Command, Output};
use kiro_core::Error;
use tokio_util::sync::CancellationToken;

/// Runs a shell script (in `dir` when given) and fails the test if it takes
/// longer than 20 s: a hang is a bug, not a slow test.
async fn sh(script: &str, dir: Option<&Path>, tweak: impl FnOnce(Command) -> Command) -> Output {
    let mut cmd = Command::new(["sh", "-c", script]);
    if let Some(dir) = dir {
        cmd = cmd.cwd(dir);
    }
    let cmd = tweak(cmd);
    tokio::time::timeout(Duration::from_secs(20), cmd.run(&CancellationToken::new()))
        .await
        .expect("run hung")
        .expect("run failed")
}

/// Whether a process exists and is not a zombie (an exited process nobody
/// has reaped yet counts as gone).
fn alive(pid: i32) -> bool {
    if Path::new("/proc/self").exists() {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => {
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.trim().chars().next());
                !matches!(state, Some('Z' | 'X'))
            }
        }
    } else {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

/// Waits up to 3 s for a process to disappear.
async fn gone_soon(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !alive(pid)
}

/// Reads a pid a script wrote, waiting for the file to appear.
async fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn exit_codes_are_reported() {
    let out = sh("exit 3", None, |c| c).await;
    assert_eq!(out.code, Some(3));
    assert_eq!(out.signal, None);
    assert!(!out.success());
    assert!(!out.timed_out && !out.cancelled);

    let out = sh("exit 0", None, |c| c).await;
    assert_eq!(out.code, Some(0));
    assert!(out.success());

    let out = sh("kill -9 $$", None, |c| c).await;
    assert_eq!(out.code, None);
    assert_eq!(out.signal, Some(9));
    assert!(!out.success());
}

#[tokio::test]
async fn stdout_and_stderr_are_captured_separately() {
    let out = sh("echo out; echo err >&2; echo more", None, |c| c).await;
    assert_eq!(out.stdout, "out\nmore\n");
    assert_eq!(out.stderr, "err\n");
}

#[tokio::test]
async fn cwd_and_env_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let out = sh("echo \"$KIRO_TEST_VAR\"; pwd -P", Some(dir.path()), |c| {
        c.env("KIRO_TEST_VAR", "hello there")
    })
    .await;
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(
        out.stdout,
        format!("hello there\n{}\n", canonical.display())
    );
}

#[tokio::test]
async fn output_beyond_the_limit_keeps_the_tail_with_a_note() {
    let script = "i=0; while [ $i -lt 500 ]; do echo line$i; echo err$i >&2; i=$((i+1)); done";
    let out = sh(script, None, |c| c.capture_limit(100)).await;
    assert!(out.stdout.starts_with("[kiro: "), "{:?}", out.stdout);
    assert!(out.stdout.contains("earlier bytes not kept]\n"));
    assert!(
        out.stdout.ends_with("line498\nline499\n"),
        "{:?}",
        out.stdout
    );
    let (_, kept) = out.stdout.split_once('\n').unwrap();
    assert_eq!(kept.len(), 100);
    assert!(out.stderr.ends_with("err499\n"));

    // The note counts exactly what was dropped.
    let total: usize = (0..500).map(|i| format!("line{i}\n").len()).sum();
    assert!(out
        .stdout
        .starts_with(&format!("[kiro: {} earlier", total - 100)));
}

#[tokio::test]
async fn large_output_does_not_block_the_child() {
    // Far more than a pipe buffer, on both streams at once.
    let out = sh(
        "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2; echo done",
        None,
        |c| c,
    )
    .await;
    assert!(out.success());
    assert!(out.stdout.ends_with("done\n"));
    assert!(out.stdout.len() < 70 * 1024);
}

#[tokio::test]
async fn output_that_is_not_utf8_is_converted_lossily() {
    let out = sh("printf 'a\\377b'", None, |c| c).await;
    assert_eq!(out.stdout, "a\u{FFFD}b");
}

#[tokio::test]
async fn stdin_is_delivered() {
    let input = "hello\nwörld\n".repeat(10_000);
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(["cat"])
            .stdin(input.clone().into_bytes())
            .capture_limit(1 << 20)
            .run(&CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, input);
}

#[tokio::test]
async fn without_stdin_the_child_reads_end_of_file() {
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(["cat"]).run(&CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, "");
}

#[tokio::test]
async fn stdin_the_child_never_reads_does_not_hang() {
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(["true"])
            .stdin(vec![b'x'; 1 << 20])
            .run(&CancellationToken::new()),
    )
    .await
    .expect("hung on unread stdin")
    .unwrap();
    assert!(out.success());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = sh(
        "sleep 30 & echo $! > pidfile; wait",
        Some(dir.path()),
        |c| c.timeout(Duration::from_millis(500)),
    )
    .await;
    assert!(out.timed_out);
    assert!(!out.cancelled);
    assert!(!out.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = read_pid(&dir.path().join("pidfile")).await;
    assert!(
        gone_soon(pid).await,
        "grandchild {pid} survived the timeout"
    );
}

#[tokio::test]
async fn a_group_ignoring_sigterm_gets_sigkill_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = sh(
        "trap '' TERM; sleep 30 & echo $! > pidfile; wait",
        Some(dir.path()),
        |c| {
            c.timeout(Duration::from_millis(300))
                .kill_grace(Duration::from_millis(300))
        },
    )
    .await;
    assert!(out.timed_out);
    assert_eq!(out.signal, Some(9));
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = read_pid(&dir.path().join("pidfile")).await;
    assert!(gone_soon(pid).await, "grandchild {pid} survived SIGKILL");
}

#[tokio::test]
async fn background_processes_left_after_exit_are_stopped() {
    // The background sleep keeps stdout open; the run must not wait for it.
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = sh(
        "sleep 30 & echo $! > pidfile; echo bye",
        Some(dir.path()),
        |c| c,
    )
    .await;
    assert!(out.success());
    assert_eq!(out.stdout, "bye\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = read_pid(&dir.path().join("pidfile")).await;
    assert!(
        gone_soon(pid).await,
        "background process {pid} was left running"
    );
}

#[tokio::test]
async fn cancel_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(["sh", "-c", "sleep 30 & echo $! > pidfile; wait"])
            .cwd(dir.path())
            .run(&cancel),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(out.cancelled);
    assert!(!out.timed_out);
    assert!(!out.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = read_pid(&dir.path().join("pidfile")).await;
    assert!(
        gone_soon(pid).await,
        "grandchild {pid} survived cancellation"
    );
}

#[tokio::test]
async fn a_token_cancelled_before_the_run_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let out = Command::new(["sh", "-c", "touch ran"])
        .cwd(dir.path())
        .run(&cancel)
        .await
        .unwrap();
    assert!(out.cancelled);
    assert!(!dir.path().join("ran").exists());
}

#[tokio::test]
async fn dropping_the_future_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let fut = Command::new([
        "sh",
        "-c",
        "echo $$ > shpid; sleep 30 & echo $! > pidfile; wait",
    ])
    .cwd(dir.path())
    .run(&cancel);
    // What the engine's per-node timeout does: the future is dropped.
    let res = tokio::time::timeout(Duration::from_millis(500), fut).await;
    assert!(res.is_err(), "the command should still have been running");
    let sh_pid = read_pid(&dir.path().join("shpid")).await;
    let pid = read_pid(&dir.path().join("pidfile")).await;
    assert!(gone_soon(pid).await, "grandchild {pid} survived the drop");
    assert!(gone_soon(sh_pid).await, "child {sh_pid} survived the drop");
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let err = Command::new(["kiro-no-such-program-xyz", "arg"])
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    match &err {
        Error::Spawn { program, source } => {
            assert_eq!(program, "kiro-no-such-program-xyz");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Spawn, got {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("cannot run \"kiro-no-such-program-xyz\": "));

    let err = Command::new(Vec::<String>::new())
        .run(&CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }));
}

#[tokio::test]
async fn duration_is_measured() {
    let out = sh("sleep 0.2", None, |c| c).await;
    assert!(out.duration >= Duration::from_millis(200));
    assert!(out.duration < Duration::from_secs(10));
}

// ---------------------------------------------------------------------------
// Launcher preamble and task cgroups (issue 11, item 1)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_preamble_is_taken_out_of_stderr() {
    let out = sh(
        "echo 'kiro-sandbox: one' >&2; echo agent >&2; echo 'kiro-sandbox: not mine' >&2",
        None,
        |c| c.preamble("kiro-sandbox: "),
    )
    .await;
    assert_eq!(out.preamble, ["kiro-sandbox: one"]);
    assert_eq!(out.stderr, "agent\nkiro-sandbox: not mine\n");
    // Without the option, standard error is untouched.
    let out = sh("echo 'kiro-sandbox: one' >&2", None, |c| c).await;
    assert!(out.preamble.is_empty());
    assert_eq!(out.stderr, "kiro-sandbox: one\n");
}

/// A script that joins the cgroup `$CG`, starts a process that leaves its
/// process group with `setsid` and writes `escaped` a moment later, and
/// exits once that process is out of the group.
const ESCAPE: &str = "echo $$ > \"$CG/cgroup.procs\" || exit 3; \
    setsid sh -c 'touch left; sleep 0.4; touch escaped' </dev/null >/dev/null 2>&1 & \
    while [ ! -e left ]; do sleep 0.01; done; exit 0";

#[tokio::test]
async fn a_cgroup_stops_processes_that_left_the_process_group() {
    use kiro_core::sandbox::cgroup::TaskCgroup;
    let cgroup = match TaskCgroup::create(1) {
        Ok(cg) => cg,
        Err(why) => {
            eprintln!("skipped: no writable cgroup v2 here ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let out = sh(ESCAPE, Some(dir.path()), |c| {
        c.env("CG", cgroup.dir()).cgroup(cgroup.dir())
    })
    .await;
    assert!(out.success(), "{out:?}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !dir.path().join("escaped").exists(),
        "a process that left the group outlived the run"
    );
    let cg_dir = cgroup.dir().to_owned();
    drop(cgroup);
    assert!(!cg_dir.exists(), "the task cgroup was not removed");

    // The same escape without `Command::cgroup` goes on running: the group
    // signals do not reach it.
    let control = TaskCgroup::create(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = sh(ESCAPE, Some(dir.path()), |c| c.env("CG", control.dir())).await;
    assert!(out.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dir.path().join("escaped").exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        dir.path().join("escaped").exists(),
        "the control did not escape"
    );
}

#[tokio::test]
async fn the_task_cgroups_of_a_dead_kiro_are_killed_and_removed() {
    use kiro_core::sandbox::cgroup::TaskCgroup;
    // A cgroup as a SIGKILLed kiro leaves it: named after a pid that no
    // longer exists, with a process its task started still inside.
    let probe = match TaskCgroup::create(1) {
        Ok(cg) => cg,
        Err(why) => {
            eprintln!("skipped: no writable cgroup v2 here ({why})");
            return;
        }
    };
    let parent = probe.dir().parent().unwrap().to_owned();
    drop(probe);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let orphan = parent.join(format!("kiro-{dead_pid}-7"));
    std::fs::create_dir(&orphan).unwrap();
    let mut leftover = std::process::Command::new("sh")
        .args(["-c", "echo $$ > \"$1/cgroup.procs\" && exec sleep 30", "sh"])
        .arg(&orphan)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(orphan.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the leftover never joined");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The next kiro that makes a task cgroup cleans up.
    let next = TaskCgroup::create(1).unwrap();
    assert!(!orphan.exists(), "the orphaned cgroup was not removed");
    let status = leftover.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    drop(next);
}

#[tokio::test]
async fn without_secrets_hides_inherited_keys_and_keeps_the_rest() {
    // Set once for this test binary; the name is used nowhere else.
    std::env::set_var("KIRO_PROCESS_TEST_API_KEY", "sk-inherited-123456");
    std::env::set_var("KIRO_PROCESS_TEST_PLAIN", "visible");
    let script = "echo \"${KIRO_PROCESS_TEST_API_KEY:-none} ${KIRO_PROCESS_TEST_PLAIN:-none} ${GIVEN_TOKEN:-none}\"";
    let shown = sh(script, None, |c| c).await;
    assert_eq!(shown.stdout.trim(), "sk-inherited-123456 visible none");
    let hidden = sh(script, None, |c| {
        c.without_secrets().env("GIVEN_TOKEN", "explicit")
    })
    .await;
    assert_eq!(hidden.stdout.trim(), "none visible explicit");
}
