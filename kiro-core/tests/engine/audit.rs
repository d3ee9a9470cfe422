//! The hash-chained audit log: format, chain, crash behaviour, concurrent
//! writers (threads and processes) and tamper detection.
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use kiro_core::audit::{
    resolve_actor, verify, verify_anchored, Actor, ActorSource, AuditHead, AuditKind, AuditLog,
    AuditProblem, AuditReport, Entry, NewEntry, AUDIT_PATH, GENESIS, HEADS_FILE,
};
use kiro_core::redact::Redactor;
use kiro_core::workspace::sha256_hex;
use kiro_core::Error;
use proptest::prelude::*;
use serde_json::json;

fn log_in(dir: &Path) -> AuditLog {
    AuditLog::open(dir).unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn intact(report: &AuditReport) -> u64 {
    match report {
        AuditReport::Intact { entries, .. } => *entries,
        AuditReport::Broken(b) => panic!("expected an intact log, got {b}"),
    }
}

fn broken_at(report: &AuditReport) -> (usize, AuditProblem) {
    let b = report
        .broken()
        .unwrap_or_else(|| panic!("expected a broken log, got {report}"));
    (b.line, b.problem.clone())
}

#[test]
fn append_read_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    assert_eq!(log.path(), dir.path().join(AUDIT_PATH));
    let a = log
        .append(
            NewEntry::new(AuditKind::Approval)
                .with_actor("alice")
                .with_spec("login")
                .with_data(json!({ "phase": "requirements" })),
        )
        .unwrap();
    let b = log
        .append(
            NewEntry::new(AuditKind::Phase)
                .with_actor("kiro")
                .with_spec("login")
                .with_run("run-1")
                .with_data(json!({ "phase": "design", "ok": true })),
        )
        .unwrap();
    let c = log
        .append(NewEntry::new("custom-event").with_actor("bob"))
        .unwrap();

    assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
    assert_eq!(a.prev, GENESIS);
    assert_eq!(c.kind, AuditKind::Other("custom-event".into()));
    assert_eq!(a.spec.as_deref(), Some("login"));
    assert_eq!(a.run, None);
    assert!(a.time.ends_with('Z') && a.time.contains('T'), "{}", a.time);

    let written = lines(log.path());
    assert_eq!(written.len(), 3);
    assert_eq!(b.prev, sha256_hex(written[0].as_bytes()));
    assert_eq!(c.prev, sha256_hex(written[1].as_bytes()));
    // The returned entry serializes back to exactly its line.
    for (entry, line) in [&a, &b, &c].into_iter().zip(&written) {
        assert_eq!(&serde_json::to_string(entry).unwrap(), line);
    }
    assert!(
        !written[0].contains("\"run\""),
        "absent fields are left out"
    );
    assert!(written[2].ends_with(&format!(",\"hash\":\"{}\"}}", c.hash)));

    assert_eq!(log.entries().unwrap(), vec![a, b, c.clone()]);
    let report = log.verify().unwrap();
    assert_eq!(intact(&report), 3);
    let head = log.head().unwrap();
    assert_eq!(
        head,
        AuditHead {
            seq: 3,
            line_hash: sha256_hex(written[2].as_bytes())
        }
    );
    assert_eq!(
        report,
        AuditReport::Intact {
            entries: 3,
            head: Some(head.clone()),
            heads_checked: 3,
        }
    );
    assert_eq!(intact(&verify_anchored(log.path(), &head).unwrap()), 3);
    assert_eq!(report.to_string(), "audit log intact: 3 entries");

    // Another handle on the same file continues the same chain.
    let d = log_in(dir.path())
        .append(NewEntry::new(AuditKind::Rollback).with_actor("carol"))
        .unwrap();
    assert_eq!(d.seq, 4);
    assert_eq!(d.prev, head.line_hash);
    assert_eq!(intact(&verify(log.path()).unwrap()), 4);
    // The log grew past the anchor: still fine.
    assert_eq!(intact(&log.verify_anchored(&head).unwrap()), 4);
}

#[test]
fn missing_log_is_empty_and_intact() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    assert_eq!(log.entries().unwrap(), Vec::<Entry>::new());
    assert_eq!(
        log.verify().unwrap(),
        AuditReport::Intact {
            entries: 0,
            head: None,
            heads_checked: 0,
        }
    );
    assert_eq!(
        log.head().unwrap(),
        AuditHead {
            seq: 0,
            line_hash: GENESIS.into()
        }
    );
    assert!(!log.path().exists(), "reading creates nothing");
}

#[test]
fn open_refuses_a_missing_root() {
    let dir = tempfile::tempdir().unwrap();
    let err = AuditLog::open(dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    assert!(matches!(AuditLog::open(&file), Err(Error::Io { .. })));
}

#[test]
fn kinds_serialize_as_snake_case_names() {
    let cases = [
        (AuditKind::Approval, "approval"),
        (AuditKind::Rejection, "rejection"),
        (AuditKind::Phase, "phase"),
        (AuditKind::Task, "task"),
        (AuditKind::Rollback, "rollback"),
        (AuditKind::Fork, "fork"),
        (AuditKind::Verification, "verification"),
        (AuditKind::Other("deploy".into()), "deploy"),
    ];
    for (kind, name) in cases {
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<AuditKind>(&format!("\"{name}\"")).unwrap(),
            kind
        );
        assert_eq!(kind.to_string(), name);
    }
    assert_eq!(AuditKind::from("approval"), AuditKind::Approval);
}

#[test]
fn actor_comes_from_kiro_actor_then_git_then_the_os_user() {
    fn check(env: &[(&str, &str)], git: Option<&str>, expected: (&str, &str)) {
        let lookup = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let actor = resolve_actor(lookup, || git.map(str::to_owned)).unwrap();
        assert_eq!(
            (actor.name.as_str(), actor.source.to_string().as_str()),
            expected,
            "env {env:?}, git {git:?}"
        );
    }
    let git = Some("alice@example.com\n");
    check(
        &[("KIRO_ACTOR", "ci-bot"), ("USER", "alice")],
        git,
        ("ci-bot", "env:KIRO_ACTOR"),
    );
    check(
        &[("USER", "alice")],
        git,
        ("alice@example.com", "git-config"),
    );
    check(
        &[("USER", "alice"), ("USERNAME", "ALICE")],
        None,
        ("alice", "os-user"),
    );
    check(&[("USERNAME", "bob")], Some("  "), ("bob", "os-user"));
    check(
        &[("KIRO_ACTOR", "  "), ("USER", "alice")],
        None,
        ("alice", "os-user"),
    );
    check(
        &[("KIRO_ACTOR", " carol ")],
        None,
        ("carol", "env:KIRO_ACTOR"),
    );
    check(&[], None, ("unknown", "unknown"));
}

#[test]
fn actor_names_with_control_characters_are_refused() {
    let forged = "mallory\n   2  2026-01-01T00:00:00.000Z  alice  approval";
    for bad in [
        forged,
        "eve\u{1b}[2J",
        "x\ry",
        "bidi\u{202e}kcatta",
        "del\u{7f}",
    ] {
        // From KIRO_ACTOR: refused, naming the variable, even though USER is fine.
        let env = |k: &str| match k {
            "KIRO_ACTOR" => Some(bad.to_owned()),
            "USER" => Some("alice".to_owned()),
            _ => None,
        };
        let err = resolve_actor(env, || None).unwrap_err();
        match &err {
            Error::InvalidActor { origin, value, .. } => {
                assert_eq!(origin, "env:KIRO_ACTOR");
                assert_eq!(value, bad.trim());
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("env:KIRO_ACTOR"), "{err}");
        // The message itself prints no raw control character.
        assert!(!err.to_string().contains('\u{1b}') && !err.to_string().contains('\n'));
        // From git config or the OS user: refused too.
        let err = resolve_actor(|_| None, || Some(bad.to_owned())).unwrap_err();
        assert!(matches!(&err, Error::InvalidActor { origin, .. } if origin == "git-config"));

        // Given by a program: the append is refused and nothing is written.
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path());
        let err = log
            .append(NewEntry::new(AuditKind::Approval).with_actor(bad))
            .unwrap_err();
        assert!(matches!(&err, Error::InvalidActor { origin, .. } if origin == "caller"));
        assert!(!log.path().exists());
        let bad_actor = Actor {
            name: bad.to_owned(),
            source: ActorSource::OsUser,
        };
        assert!(matches!(
            log_in(dir.path()).with_actor(bad_actor),
            Err(Error::InvalidActor { .. })
        ));
    }
}

#[test]
fn actor_source_is_recorded_next_to_the_actor() {
    let dir = tempfile::tempdir().unwrap();
    let os_user = Actor {
        name: "alice".into(),
        source: ActorSource::OsUser,
    };
    let log = log_in(dir.path()).with_actor(os_user).unwrap();
    let env = |k: &str| (k == "KIRO_ACTOR").then(|| "ci-bot".to_owned());
    let from_env = resolve_actor(env, || None).unwrap();
    let a = log.append(NewEntry::new(AuditKind::Phase)).unwrap();
    let b = log
        .append(NewEntry::new(AuditKind::Approval).with_identity(from_env))
        .unwrap();
    let c = log
        .append(NewEntry::new(AuditKind::Task).with_actor("kiro"))
        .unwrap();
    let cases = [
        (&a, "alice", ActorSource::OsUser, "os-user"),
        (
            &b,
            "ci-bot",
            ActorSource::Env("KIRO_ACTOR".into()),
            "env:KIRO_ACTOR",
        ),
        (&c, "kiro", ActorSource::Caller, "caller"),
    ];
    let written = lines(log.path());
    for ((entry, name, source, text), line) in cases.into_iter().zip(&written) {
        assert_eq!(entry.actor, name);
        assert_eq!(entry.actor_source.as_ref(), Some(&source));
        let field = format!(r#""actor":"{name}","actor_source":"{text}","kind""#);
        assert!(line.contains(&field), "{line}");
        assert_eq!(&serde_json::to_string(entry).unwrap(), line);
    }
    assert_eq!(log.entries().unwrap(), vec![a, b, c]);
    assert_eq!(intact(&log.verify().unwrap()), 3);
    // Unknown sources written by newer versions read back as they are.
    let other: ActorSource = serde_json::from_str(r#""oidc:github""#).unwrap();
    assert_eq!(other, ActorSource::Other("oidc:github".into()));
    assert_eq!(serde_json::to_string(&other).unwrap(), r#""oidc:github""#);
}

/// A line in the format kiro wrote before it recorded `actor_source`.
fn old_format_line(seq: u64, actor: &str, prev: &str) -> String {
    let body = format!(
        r#"{{"seq":{seq},"time":"2026-11-25T20:15:00.123Z","actor":"{actor}","kind":"approval","spec":"login","data":{{"phase":"requirements"}},"prev":"{prev}"}}"#
    );
    let hash = sha256_hex(body.as_bytes());
    format!("{},\"hash\":\"{hash}\"}}", body.strip_suffix('}').unwrap())
}

#[test]
fn logs_written_before_actor_sources_still_verify_and_grow() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let first = old_format_line(1, "alice", GENESIS);
    let second = old_format_line(2, "bob", &sha256_hex(first.as_bytes()));
    fs::create_dir_all(log.path().parent().unwrap()).unwrap();
    fs::write(log.path(), format!("{first}\n{second}\n")).unwrap();

    assert_eq!(
        log.verify().unwrap(),
        AuditReport::Intact {
            entries: 2,
            head: Some(AuditHead {
                seq: 2,
                line_hash: sha256_hex(second.as_bytes())
            }),
            heads_checked: 0,
        }
    );
    let old = log.entries().unwrap();
    assert_eq!(old[1].actor, "bob");
    assert_eq!(old[1].actor_source, None);

    let new = log
        .append(NewEntry::new(AuditKind::Task).with_actor("carol"))
        .unwrap();
    assert_eq!(
        (new.seq, new.prev.as_str()),
        (3, sha256_hex(second.as_bytes()).as_str())
    );
    let report = log.verify().unwrap();
    assert_eq!(intact(&report), 3);
    assert!(matches!(
        report,
        AuditReport::Intact {
            heads_checked: 1,
            ..
        }
    ));
}

#[test]
fn data_is_written_with_sorted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let e = log
        .append(
            NewEntry::new(AuditKind::Verification)
                .with_actor("a")
                .with_data(
                    json!({ "z": 1, "a": { "y": [ { "d": 1, "c": 2 } ], "b": null }, "ü": "日本" }),
                ),
        )
        .unwrap();
    let line = &lines(log.path())[0];
    assert!(
        line.contains(r#""data":{"a":{"b":null,"y":[{"c":2,"d":1}]},"z":1,"ü":"日本"}"#),
        "{line}"
    );
    assert_eq!(log.entries().unwrap(), vec![e]);
    assert_eq!(intact(&log.verify().unwrap()), 1);
}

#[test]
fn torn_last_line_is_reported_then_cut_off_by_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    for i in 0..3 {
        log.append(NewEntry::new(AuditKind::Task).with_data(json!({ "i": i })))
            .unwrap();
    }
    let whole = fs::read(log.path()).unwrap();
    // What a crash in the middle of the fourth append leaves behind.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .unwrap();
    f.write_all(br#"{"seq":4,"time":"2026-"#).unwrap();
    drop(f);

    let report = log.verify().unwrap();
    assert_eq!(broken_at(&report), (4, AuditProblem::Incomplete));
    assert_eq!(report.broken().unwrap().valid_entries, 3);
    assert_eq!(
        report.to_string(),
        "audit log broken at line 4: incomplete line (no newline)"
    );
    assert_eq!(log.entries().unwrap().len(), 3, "readers skip a torn line");
    assert_eq!(log.head().unwrap().seq, 3);

    let e = log.append(NewEntry::new(AuditKind::Task)).unwrap();
    assert_eq!(e.seq, 4);
    assert!(fs::read(log.path()).unwrap().starts_with(&whole));
    assert_eq!(intact(&log.verify().unwrap()), 4);
}

#[test]
fn append_refuses_to_extend_a_broken_last_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    for _ in 0..3 {
        log.append(NewEntry::new(AuditKind::Approval).with_actor("alice"))
            .unwrap();
    }
    let text = fs::read_to_string(log.path()).unwrap();
    // Rewrite the actor of the last entry only.
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    let (head, last) = text.split_at(cut);
    fs::write(
        log.path(),
        format!("{head}{}", last.replace("alice", "mallory")),
    )
    .unwrap();

    let err = log.append(NewEntry::new(AuditKind::Task)).unwrap_err();
    match &err {
        Error::CorruptAudit { line, message, .. } => {
            assert_eq!(*line, 3);
            assert!(message.contains("hash mismatch"), "{message}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(lines(log.path()).len(), 3, "nothing was appended");
    let (line, problem) = broken_at(&log.verify().unwrap());
    assert_eq!(line, 3);
    assert!(matches!(problem, AuditProblem::HashMismatch { .. }));

    // A last line that is not JSON at all.
    fs::write(log.path(), format!("{head}not json\n")).unwrap();
    let err = log.append(NewEntry::new(AuditKind::Task)).unwrap_err();
    assert!(matches!(err, Error::CorruptAudit { line: 3, .. }), "{err}");
    assert!(matches!(
        log.entries().unwrap_err(),
        Error::CorruptAudit { line: 3, .. }
    ));
}

#[test]
fn report_serializes_for_tools() {
    let report = AuditReport::Broken(kiro_core::audit::BrokenEntry {
        line: 7,
        valid_entries: 6,
        problem: AuditProblem::SeqMismatch {
            found: 9,
            expected: 7,
        },
    });
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(
        value,
        json!({ "status": "broken", "line": 7, "valid_entries": 6,
                "problem": { "problem": "seq_mismatch", "found": 9, "expected": 7 } })
    );
    assert_eq!(
        serde_json::from_value::<AuditReport>(value).unwrap(),
        report
    );
}

/// Checks that a log written by several writers at once is one unbroken
/// chain holding every writer's entries, each writer's in its own order.
fn check_concurrent_log(log: &AuditLog, writers: &[String], per_writer: u64) {
    let total = writers.len() as u64 * per_writer;
    assert_eq!(intact(&log.verify().unwrap()), total);
    let entries = log.entries().unwrap();
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    for writer in writers {
        let mine: Vec<u64> = entries
            .iter()
            .filter(|e| &e.actor == writer)
            .map(|e| e.data["i"].as_u64().unwrap())
            .collect();
        assert_eq!(mine, (0..per_writer).collect::<Vec<_>>(), "{writer}");
    }
}

#[test]
fn concurrent_threads_never_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let writers: Vec<String> = (0..8).map(|t| format!("thread-{t}")).collect();
    std::thread::scope(|s| {
        for writer in &writers {
            // Each thread its own handle, as separate components would have.
            let log = log_in(dir.path());
            s.spawn(move || {
                for i in 0..50 {
                    log.append(
                        NewEntry::new(AuditKind::Task)
                            .with_actor(writer.clone())
                            .with_data(json!({ "i": i, "pad": "x".repeat(i * 37) })),
                    )
                    .unwrap();
                }
            });
        }
    });
    check_concurrent_log(&log, &writers, 50);
}

const CHILD_LOG_ENV: &str = "KIRO_AUDIT_TEST_CHILD_LOG";
const CHILD_NAME_ENV: &str = "KIRO_AUDIT_TEST_CHILD_NAME";
const CHILD_APPENDS: u64 = 30;

/// Not a test on its own: when `concurrent_processes_never_fork_the_chain`
/// runs this test binary again with the environment set, this is the
/// writer process. Without the environment it does nothing.
#[test]
fn audit_writer_child() {
    let (Ok(path), Ok(name)) = (std::env::var(CHILD_LOG_ENV), std::env::var(CHILD_NAME_ENV)) else {
        return;
    };
    let log = AuditLog::at(path);
    for i in 0..CHILD_APPENDS {
        log.append(
            NewEntry::new(AuditKind::Phase)
                .with_actor(name.clone())
                .with_data(json!({ "i": i })),
        )
        .unwrap();
    }
}

#[test]
fn concurrent_processes_never_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(dir.path());
    let exe = std::env::current_exe().unwrap();
    let mut writers = Vec::new();
    let mut children = Vec::new();
    for p in 0..4 {
        let name = format!("process-{p}");
        children.push(
            Command::new(&exe)
                .args(["--exact", "audit::audit_writer_child", "--nocapture"])
                .env(CHILD_LOG_ENV, log.path())
                .env(CHILD_NAME_ENV, &name)
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        writers.push(name);
    }
    // This process writes at the same time.
    for i in 0..CHILD_APPENDS {
        log.append(
            NewEntry::new(AuditKind::Phase)
                .with_actor("parent")
                .with_data(json!({ "i": i })),
        )
        .unwrap();
    }
    writers.push("parent".into());
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    check_concurrent_log(&log, &writers, CHILD_APPENDS);
}

/// A way to damage a log.
#[derive(Clone, Debug)]
enum Tamper {
    /// Replace one byte of a line (never its newline) with another byte.
    Edit {
        line: usize,
        at: usize,
        byte: u8,
    },
    Delete(usize),
    Swap(usize, usize),
    Duplicate(usize),
    Truncate(usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(line, at, byte)| Tamper::Edit {
            line,
            at,
            byte
        }),
        any::<usize>().prop_map(Tamper::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap(a, b)),
        any::<usize>().prop_map(Tamper::Duplicate),
        any::<usize>().prop_map(Tamper::Truncate),
    ]
}

fn new_entry() -> impl Strategy<Value = NewEntry> {
    let kind = prop_oneof![
        Just(AuditKind::Approval),
        Just(AuditKind::Rejection),
        Just(AuditKind::Phase),
        Just(AuditKind::Task),
        Just(AuditKind::Rollback),
        Just(AuditKind::Fork),
        Just(AuditKind::Verification),
        "[a-z_]{1,8}".prop_map(AuditKind::from),
    ];
    (
        kind,
        "\\PC{1,8}",
        proptest::option::of("[a-z0-9-]{1,12}"),
        proptest::option::of("[a-z0-9-]{1,12}"),
        "\\PC{0,24}",
        any::<i64>(),
    )
        .prop_map(|(kind, actor, spec, run, text, n)| NewEntry {
            kind,
            // Line and paragraph separators are not in `\PC` but are
            // refused in actor names like control characters.
            actor: Some(actor.replace(['\u{2028}', '\u{2029}'], "_")),
            actor_source: None,
            spec,
            run,
            data: json!({ "text": text, "n": n, "list": [n, text] }),
        })
}

/// Applies a tampering to the lines of a log (each with its newline) and
/// returns the damaged file and the first damaged line (1-based): the line
/// `verify_anchored` must report.
fn apply(lines: &[Vec<u8>], t: &Tamper) -> (Vec<u8>, usize) {
    let n = lines.len();
    let mut out: Vec<Vec<u8>> = lines.to_vec();
    let first = match *t {
        Tamper::Edit { line, at, byte } => {
            let i = line % n;
            let bytes = &mut out[i];
            let at = at % (bytes.len() - 1);
            let old = bytes[at];
            let choices: Vec<u8> = (0..=255u8).filter(|&b| b != old && b != b'\n').collect();
            bytes[at] = choices[usize::from(byte) % choices.len()];
            i + 1
        }
        Tamper::Delete(i) => {
            let i = i % n;
            out.remove(i);
            i + 1
        }
        Tamper::Swap(a, b) => {
            if n == 1 {
                // Nothing to swap with: delete the line instead.
                out.remove(0);
                return (out.concat(), 1);
            }
            // Two different lines.
            let a = a % n;
            let b = (a + 1 + b % (n - 1)) % n;
            out.swap(a, b);
            a.min(b) + 1
        }
        Tamper::Duplicate(i) => {
            let i = i % n;
            out.insert(i + 1, out[i].clone());
            i + 2
        }
        Tamper::Truncate(t) => {
            let whole = out.concat();
            let t = t % whole.len();
            // Which line the cut falls in, and whether it falls between lines.
            let mut end = 0;
            let mut first = n + 1;
            for (k, line) in out.iter().enumerate() {
                if t == end {
                    first = k + 1;
                    break;
                }
                end += line.len();
                if t < end {
                    first = k + 1;
                    break;
                }
            }
            return (whole[..t].to_vec(), first);
        }
    };
    (out.concat(), first)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any single edit, deletion, swap, duplication or truncation of a log
    /// is detected at the first line it damages (with an anchor), and an
    /// untouched log always verifies.
    #[test]
    fn tampering_is_detected_at_the_first_damaged_line(
        entries in proptest::collection::vec(new_entry(), 1..10),
        t in tamper(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path());
        let mut appended = Vec::new();
        for e in entries {
            appended.push(log.append(e).unwrap());
        }
        let n = appended.len();
        let anchor = log.head().unwrap();
        prop_assert_eq!(
            log.verify().unwrap(),
            AuditReport::Intact { entries: n as u64, head: Some(anchor.clone()), heads_checked: n as u64 }
        );
        prop_assert_eq!(log.entries().unwrap(), appended);

        let bytes = fs::read(log.path()).unwrap();
        let lines: Vec<Vec<u8>> = bytes.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        prop_assert_eq!(lines.len(), n);
        let (damaged, first) = apply(&lines, &t);
        fs::write(log.path(), &damaged).unwrap();

        let anchored = log.verify_anchored(&anchor).unwrap();
        let b = anchored.broken();
        prop_assert!(b.is_some(), "{:?} not detected with an anchor", t);
        prop_assert_eq!(b.map(|b| b.line), Some(first), "{:?}: {}", t, anchored);
        prop_assert_eq!(b.map(|b| b.valid_entries), Some(first as u64 - 1));

        // The heads recorded at every append catch it at the same line.
        let witnessed = log.verify().unwrap();
        prop_assert_eq!(witnessed.broken().map(|b| b.line), Some(first), "{:?}: {}", t, witnessed);

        // Without an anchor, only lines cut off at the end go unnoticed.
        let plain = verify(log.path()).unwrap();
        match plain.broken() {
            Some(b) => prop_assert_eq!(b.line, first, "{:?}: {}", t, plain),
            None => {
                let complete = damaged.is_empty() || damaged.ends_with(b"\n");
                prop_assert!(complete, "{:?}", t);
                prop_assert_eq!(intact(&plain), first as u64 - 1, "{:?}", t);
                let missing = matches!(
                    anchored.broken().map(|b| &b.problem),
                    Some(AuditProblem::Missing { .. })
                );
                prop_assert!(missing, "{:?}: {}", t, anchored);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Heads: the attacks of issue 11 item 9, each reported as intact by a plain
// hash chain and as broken once the log is checked against its heads.

/// A log of three entries, the last two of run `run-1` (whose directory
/// exists, so that run keeps its own heads too).
fn witnessed_log(dir: &Path) -> AuditLog {
    let log = log_in(dir).with_redactor(Redactor::none());
    fs::create_dir_all(dir.join(".kiro/runs/run-1")).unwrap();
    log.append(NewEntry::new(AuditKind::Approval).with_actor("alice"))
        .unwrap();
    for i in 0..2 {
        log.append(
            NewEntry::new(AuditKind::Task)
                .with_actor("kiro")
                .with_run("run-1")
                .with_data(json!({ "i": i })),
        )
        .unwrap();
    }
    log
}

/// Entries with recomputed hashes, as an attacker with the library (or a
/// few lines of script) writes them: a log elsewhere, without heads.
fn forged_chain(existing: Option<&[u8]>, appended: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.jsonl");
    if let Some(bytes) = existing {
        fs::write(&path, bytes).unwrap();
    }
    let forger = AuditLog::at(&path).with_heads_dir(None);
    for _ in 0..appended {
        forger
            .append(NewEntry::new(AuditKind::Approval).with_actor("mallory"))
            .unwrap();
    }
    fs::read(&path).unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Attack {
    DeleteLastLine,
    AppendForgedLine,
    RewriteWholeChain,
    Empty,
    Delete,
    TruncateAndDropGlobalHeads,
}

fn attack(log: &AuditLog, attack: Attack) {
    let bytes = fs::read(log.path()).unwrap();
    let heads_dir = log.heads_dir().unwrap();
    match attack {
        Attack::DeleteLastLine | Attack::TruncateAndDropGlobalHeads => {
            let text = String::from_utf8(bytes).unwrap();
            let cut = text.trim_end().rfind('\n').unwrap() + 1;
            fs::write(log.path(), &text[..cut]).unwrap();
            if matches!(attack, Attack::TruncateAndDropGlobalHeads) {
                fs::remove_file(heads_dir.join(HEADS_FILE)).unwrap();
            }
        }
        Attack::AppendForgedLine => fs::write(log.path(), forged_chain(Some(&bytes), 1)).unwrap(),
        Attack::RewriteWholeChain => fs::write(log.path(), forged_chain(None, 3)).unwrap(),
        Attack::Empty => fs::write(log.path(), b"").unwrap(),
        Attack::Delete => fs::remove_file(log.path()).unwrap(),
    }
}

#[test]
fn attacks_a_plain_chain_misses_are_caught_by_the_recorded_heads() {
    let cases = [
        (
            Attack::DeleteLastLine,
            3,
            AuditProblem::Missing { expected_seq: 3 },
        ),
        (
            Attack::AppendForgedLine,
            4,
            AuditProblem::Unwitnessed {
                last_recorded_seq: 3,
            },
        ),
        (Attack::Empty, 1, AuditProblem::Missing { expected_seq: 3 }),
        (Attack::Delete, 1, AuditProblem::Missing { expected_seq: 3 }),
        // The run's own heads still know entry 3.
        (
            Attack::TruncateAndDropGlobalHeads,
            3,
            AuditProblem::Missing { expected_seq: 3 },
        ),
    ];
    for (a, line, problem) in cases {
        let dir = tempfile::tempdir().unwrap();
        let log = witnessed_log(dir.path());
        assert!(matches!(
            log.verify().unwrap(),
            AuditReport::Intact {
                entries: 3,
                heads_checked: 5,
                ..
            }
        ));
        attack(&log, a);
        assert!(
            verify(log.path()).unwrap().is_intact(),
            "{a:?}: the chain alone does not see it"
        );
        let report = log.verify().unwrap();
        assert_eq!(broken_at(&report), (line, problem), "{a:?}: {report}");
    }

    // A whole new chain in place of the old one: the first head differs.
    let dir = tempfile::tempdir().unwrap();
    let log = witnessed_log(dir.path());
    attack(&log, Attack::RewriteWholeChain);
    assert!(verify(log.path()).unwrap().is_intact());
    let (line, problem) = broken_at(&log.verify().unwrap());
    assert_eq!(line, 1);
    assert!(
        matches!(problem, AuditProblem::AnchorMismatch { .. }),
        "{problem}"
    );
    assert!(problem.to_string().contains("recorded head"), "{problem}");
}

#[test]
fn heads_are_appended_per_log_and_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = witnessed_log(dir.path());
    let runs = dir.path().join(".kiro/runs");
    let global = lines(&runs.join(HEADS_FILE));
    let per_run = lines(&runs.join("run-1").join(HEADS_FILE));
    assert_eq!((global.len(), per_run.len()), (3, 2));
    let written = lines(log.path());
    let head: AuditHead = serde_json::from_str(&global[2]).unwrap();
    assert_eq!(
        head,
        AuditHead {
            seq: 3,
            line_hash: sha256_hex(written[2].as_bytes())
        }
    );
    assert_eq!(per_run[1], global[2]);
    assert_eq!(log.head().unwrap(), head);

    // A head line torn by a crash is ignored, then cut off by the next append.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(runs.join(HEADS_FILE))
        .unwrap();
    f.write_all(br#"{"seq":4,"li"#).unwrap();
    drop(f);
    assert_eq!(intact(&log.verify().unwrap()), 3);
    log.append(NewEntry::new(AuditKind::Task).with_actor("kiro"))
        .unwrap();
    assert_eq!(lines(&runs.join(HEADS_FILE)).len(), 4);
    assert!(matches!(
        log.verify().unwrap(),
        AuditReport::Intact {
            entries: 4,
            heads_checked: 6,
            ..
        }
    ));

    // An edited head is not silently skipped.
    let text = fs::read_to_string(runs.join(HEADS_FILE)).unwrap();
    fs::write(
        runs.join(HEADS_FILE),
        text.replacen("{\"seq\":1", "{\"sq\":1", 1),
    )
    .unwrap();
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::CorruptAudit { path, line: 1, .. } if path.ends_with(HEADS_FILE)),
        "{err}"
    );

    // Without a heads directory nothing is recorded or checked.
    let dir = tempfile::tempdir().unwrap();
    let bare = log_in(dir.path()).with_heads_dir(None);
    bare.append(NewEntry::new(AuditKind::Task).with_actor("kiro"))
        .unwrap();
    assert!(!dir.path().join(".kiro/runs").exists());
    assert_eq!(bare.recorded_heads().unwrap(), Vec::<AuditHead>::new());
}

#[test]
fn secrets_are_redacted_before_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "sk-test-0123456789abcdef";
    let log = log_in(dir.path()).with_redactor(Redactor::new([("OPENAI_API_KEY", secret)]));
    let e = log
        .append(
            NewEntry::new(AuditKind::Task)
                .with_actor("kiro")
                .with_data(json!({ "summary": format!("agent said {secret}"), "list": [secret] })),
        )
        .unwrap();
    assert_eq!(
        e.data,
        json!({ "summary": "agent said [redacted:OPENAI_API_KEY]", "list": ["[redacted:OPENAI_API_KEY]"] })
    );
    let text = fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("[redacted:OPENAI_API_KEY]"));
    assert_eq!(intact(&log.verify().unwrap()), 1);
}

// ---------------------------------------------------------------------------
// Typed events: one payload type per kind (issue 12).
// ---------------------------------------------------------------------------

mod typed_events {
    use kiro_core::audit::{
        AuditEvent, AuditKind, AuditLog, ForkAudit, GateAudit, NewEntry, PhaseAudit, PhaseResult,
        RollbackAudit, TaskAudit, VerificationAudit,
    };
    use kiro_core::checkpoint::{CheckpointRef, RollbackReport};
    use kiro_core::stage::{Gate, OutcomeStatus, Phase};
    use kiro_core::verify::{CriterionResult, CriterionStatus, VerificationReport};
    use serde_json::{json, Value};

    fn events() -> Vec<AuditEvent> {
        let to: CheckpointRef = "20261207T084054.554Z-f95a@c000005".parse().unwrap();
        let new: CheckpointRef = "20261207T084054.554Z-f95a@c000009".parse().unwrap();
        let report = RollbackReport {
            written: vec![("main".into(), "src/a.rs".into())],
            removed: vec![("web".into(), "b.ts".into())],
        };
        vec![
            AuditEvent::Approval(GateAudit {
                gate: Gate::Phase {
                    phase: Phase::Design,
                },
                reason: None,
            }),
            AuditEvent::Rejection(GateAudit {
                gate: Gate::Phase {
                    phase: Phase::Tasks,
                },
                reason: Some("too big".into()),
            }),
            AuditEvent::Phase(PhaseAudit {
                phase: Phase::Requirements,
                result: PhaseResult::Failed,
                error: Some("parser failed".into()),
            }),
            AuditEvent::Task(TaskAudit {
                task: "2.1".into(),
                status: OutcomeStatus::Done,
                summary: "done".into(),
            }),
            AuditEvent::Rollback(RollbackAudit::new(&to, &new, &report)),
            AuditEvent::Fork(ForkAudit::new(&to, &new, &report)),
            AuditEvent::Verification(VerificationAudit {
                source: Some("run".into()),
                command: "cargo test".into(),
                exit_code: Some(101),
                criteria: 3,
                passed: 1,
                failed: 1,
                untested: 1,
                failed_criteria: vec!["1.2".into()],
                untested_criteria: vec!["2.1".into()],
                stale_links: 2,
            }),
            AuditEvent::Other {
                kind: "deploy".into(),
                data: json!({ "target": "staging" }),
            },
        ]
    }

    #[test]
    fn every_event_reads_back_from_the_log_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for event in events() {
            log.append(NewEntry::event(event).with_actor("alice"))
                .unwrap();
        }
        let read: Vec<AuditEvent> = log
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.event().unwrap())
            .collect();
        assert_eq!(read, events());
        assert!(log.verify().unwrap().is_intact());
    }

    /// (event, the `data` kiro wrote for it before events were typed).
    #[test]
    fn payloads_keep_the_shapes_written_before() {
        let cases = [
            (
                events()[0].clone(),
                json!({ "gate": { "kind": "phase", "phase": "design" }, "reason": null }),
            ),
            (
                events()[2].clone(),
                json!({ "phase": "requirements", "result": "failed", "error": "parser failed" }),
            ),
            (
                events()[4].clone(),
                json!({
                    "checkpoint": "20261207T084054.554Z-f95a@c000005",
                    "new_checkpoint": "20261207T084054.554Z-f95a@c000009",
                    "written": ["src/a.rs"],
                    "removed": ["web:b.ts"],
                }),
            ),
            (
                events()[5].clone(),
                json!({
                    "from": "20261207T084054.554Z-f95a@c000005",
                    "new_run": "20261207T084054.554Z-f95a",
                    "new_checkpoint": "20261207T084054.554Z-f95a@c000009",
                    "written": ["src/a.rs"],
                    "removed": ["web:b.ts"],
                }),
            ),
        ];
        for (event, data) in cases {
            assert_eq!(event.data(), data, "{event:?}");
            assert_eq!(AuditEvent::decode(&event.kind(), &data).unwrap(), event);
        }
    }

    #[test]
    fn old_verification_entries_of_both_producers_decode() {
        // What a pipeline's verify phase wrote before the shape was unified.
        let pipeline = json!({
            "passed": 2, "failed": 1, "untested": 4, "failed_criteria": ["2.1"],
            "command": "sh -c test", "exit_code": 1,
        });
        let AuditEvent::Verification(v) =
            AuditEvent::decode(&AuditKind::Verification, &pipeline).unwrap()
        else {
            panic!("not a verification");
        };
        assert_eq!(v.source, None);
        assert_eq!(v.criteria, 7);
        assert_eq!(v.failed_criteria, ["2.1"]);
        assert!(v.untested_criteria.is_empty());
        // What `kiro verify` wrote: the unified shape, byte for byte.
        let cli = json!({
            "source": "junit junit.xml", "command": "", "exit_code": null, "criteria": 7,
            "passed": 2, "failed": 1, "untested": 4, "failed_criteria": ["2.1"],
            "untested_criteria": ["1.3", "1.4", "2.2", "2.3"], "stale_links": 0,
        });
        let event = AuditEvent::decode(&AuditKind::Verification, &cli).unwrap();
        assert_eq!(event.data(), cli);
    }

    #[test]
    fn a_known_kind_with_another_shape_is_an_error_not_a_guess() {
        for (kind, data) in [
            (AuditKind::Rollback, json!({ "checkpoint": 3 })),
            (
                AuditKind::Phase,
                json!({ "phase": "design", "result": "maybe" }),
            ),
            (AuditKind::Verification, json!("all good")),
        ] {
            assert!(AuditEvent::decode(&kind, &data).is_err(), "{kind}: {data}");
        }
    }

    #[test]
    fn verification_audit_from_a_report_lists_failed_and_untested_criteria() {
        let criterion = |id: &str, status| CriterionResult {
            criterion: id.into(),
            status,
            ..CriterionResult::default()
        };
        let report = VerificationReport {
            command: "cargo test".into(),
            exit_code: Some(101),
            criteria: vec![
                criterion("1.1", CriterionStatus::Passed),
                criterion("1.2", CriterionStatus::Failed),
                criterion("2.1", CriterionStatus::Untested),
                criterion("2.2", CriterionStatus::Failed),
            ],
            ..VerificationReport::default()
        };
        let v = VerificationAudit::from_report(&report, "pipeline").with_stale_links(1);
        let data: Value = AuditEvent::Verification(v).data();
        assert_eq!(
            data,
            json!({
                "source": "pipeline", "command": "cargo test", "exit_code": 101, "criteria": 4,
                "passed": 1, "failed": 2, "untested": 1, "failed_criteria": ["1.2", "2.2"],
                "untested_criteria": ["2.1"], "stale_links": 1,
            })
        );
    }
}
