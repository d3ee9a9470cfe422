//! Properties, targets and the runner (issue 13, points 3–6).
//!
//! The fixture is `tests/data/textkit/`: a workspace whose spec's design
//! holds ten executable properties, and `textkit.py`, a JSON-lines program
//! with a correct implementation and ten seeded bugs (`TEXTKIT_BUG`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiro_core::spec::{PropertyKind, PropertySpec, Spec};
use kiro_proptest::property::{Property, PropertyError};
use kiro_proptest::report::{CallResult, Outcome, PropertyReport};
use kiro_proptest::runner::{Runner, SpecProperties};
use kiro_proptest::target::{from_fn, HttpTarget, ProcessTarget, Reply, Target, TargetError};
use serde_json::{json, Value};

/// Fixed so a failure here can be repeated; the properties must hold (and
/// the bugs be caught) for any seed, and `SEEDS` tries a few.
const SEEDS: [u64; 2] = [13, 2024];

fn textkit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/textkit")
}

/// The textkit spec, with every property's `json kiro-property` block.
///
/// The design parser reads the blocks once engineer B's part of issue 13
/// lands; until then (`formal` still `None`) this reads each block after
/// its property heading, so the spec file stays the one source.
fn textkit_spec() -> Spec {
    let dir = textkit_root().join(".kiro/specs/textkit");
    let mut spec = Spec::load(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("design.md")).unwrap();
    let blocks = blocks_by_property(&text);
    let design = spec.design.as_mut().unwrap();
    assert_eq!(
        design.properties.len(),
        10,
        "the fixture has ten properties"
    );
    for property in &mut design.properties {
        let block: PropertySpec = serde_json::from_str(&blocks[property.id.as_str()]).unwrap();
        match &property.formal {
            // The parser read it: it must read what is written.
            Some(formal) => assert_eq!(formal, &block, "property {}", property.id),
            None => property.formal = Some(block),
        }
    }
    spec
}

fn blocks_by_property(design: &str) -> BTreeMap<String, String> {
    let mut blocks = BTreeMap::new();
    let mut current = None;
    let mut block: Option<String> = None;
    for line in design.lines() {
        if let Some(rest) = line.strip_prefix("### Property ") {
            current = rest.split(':').next().map(str::to_owned);
        } else if line.starts_with("```json kiro-property") {
            block = Some(String::new());
        } else if line.starts_with("```") {
            if let (Some(id), Some(text)) = (&current, block.take()) {
                blocks.insert(id.clone(), text);
            }
        } else if let Some(text) = &mut block {
            text.push_str(line);
            text.push('\n');
        }
    }
    blocks
}

fn textkit_property(spec: &Spec, id: &str) -> Property {
    let written = spec
        .design
        .as_ref()
        .unwrap()
        .properties
        .iter()
        .find(|p| p.id == id)
        .unwrap();
    Property::from_spec_in(written, &textkit_root()).unwrap()
}

fn textkit(bug: Option<&str>) -> ProcessTarget {
    let target = ProcessTarget::new(["python3", "textkit.py"]).current_dir(textkit_root());
    match bug {
        Some(bug) => target.env("TEXTKIT_BUG", bug),
        None => target,
    }
}

/// Elements of an array, characters of a string, keys of an object, 1
/// for a scalar: the size the sizes below are in.
fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::String(s) => s.chars().count(),
        Value::Object(map) => map.len(),
        _ => 1,
    }
}

// ---------------------------------------------------------------------------
// The seeded-bugs fixture (the issue's Done-when).

#[test]
fn the_correct_textkit_passes_every_property_of_its_spec() {
    let spec = textkit_spec();
    let suite = SpecProperties::from_spec(&spec, textkit_root());
    assert_eq!(suite.ids().count(), 10);
    for seed in SEEDS {
        for report in suite.check_all(&Runner::new().seed(seed)) {
            assert!(report.passed(), "{report}");
            assert_eq!(report.cases, 100, "the default number of cases: {report}");
            assert!(!report.validates.is_empty(), "{report}");
            assert_eq!(report.spec.as_deref(), Some("textkit"));
        }
    }
}

/// Each seeded bug, the property that must catch it, and the size of the
/// minimal counterexample (`size`), or the counterexample itself.
enum Minimal {
    Size(usize),
    AtMost(usize),
    Exactly(Value),
}

#[test]
fn every_seeded_bug_is_caught_with_a_minimal_counterexample() {
    use Minimal::{AtMost, Exactly, Size};
    let cases: &[(&str, &str, Minimal)] = &[
        // A backslash alone does not survive the round trip.
        ("wrong-escape", "1", Exactly(json!("\\"))),
        // Selection sort needs three records to swap two equal keys.
        ("unstable-sort", "2", Size(3)),
        ("sort-off-by-one", "2", Size(2)),
        // One element, and it is lost.
        ("lost-element", "3", Size(1)),
        // Two equal elements make the loop spin: a timeout.
        ("dedupe-hang", "4", Size(2)),
        // Three inner spaces: once-replaced leaves two.
        ("normalize-once", "5", Exactly(json!("a   a"))),
        // The empty list crashes the process.
        ("crash-on-empty", "6", Exactly(json!([]))),
        // A fourth item makes a chunk of four.
        ("chunk-off-by-one", "8", Size(4)),
        // Two elements always have the same middle pair; three do not.
        ("median-unsorted", "9", Size(3)),
        // int() accepts a bare number (size 1) or a literal of two
        // characters ("00", "+0", " 0"), whichever the mutations reach.
        ("lenient-parse", "10", AtMost(2)),
    ];
    let spec = textkit_spec();
    for seed in SEEDS {
        for (bug, id, minimal) in cases {
            let property = textkit_property(&spec, id);
            // A hang costs one timeout per shrink step: keep it short, yet
            // far above an answer's time on a loaded machine.
            let timeout = if *bug == "dedupe-hang" { 1_000 } else { 5_000 };
            let target = textkit(Some(bug)).timeout(Duration::from_millis(timeout));
            let report = Runner::new().seed(seed).check(&property, &target);
            let counterexample = report
                .counterexample()
                .unwrap_or_else(|| panic!("{bug} not caught by property {id}:\n{report}"));
            match minimal {
                Size(n) => assert_eq!(size(&counterexample.input), *n, "{bug}:\n{report}"),
                AtMost(n) => assert!(size(&counterexample.input) <= *n, "{bug}:\n{report}"),
                Exactly(v) => assert_eq!(&counterexample.input, v, "{bug}:\n{report}"),
            }
            assert!(report.cases <= 100, "{report}");
        }
    }
}

#[test]
fn a_crash_is_a_failure_with_the_stderr_tail_and_the_process_restarts() {
    let spec = textkit_spec();
    let target = textkit(Some("crash-on-empty"));
    let report = Runner::new()
        .seed(1)
        .check(&textkit_property(&spec, "6"), &target);
    let counterexample = report.counterexample().unwrap();
    let CallResult::Failure(message) = &counterexample.calls[0].result else {
        panic!("{report}");
    };
    assert!(message.contains("exited"), "{message}");
    assert!(
        message.contains("ValueError: min() arg is an empty sequence"),
        "{message}"
    );
    // The next call starts the program again.
    let starts = target.starts();
    assert_eq!(
        target.call("median", &json!([3, 1, 2])).unwrap(),
        Reply::Ok(json!(2))
    );
    assert_eq!(target.starts(), starts + 1);
}

#[test]
fn a_process_target_is_started_once_for_all_cases() {
    let spec = textkit_spec();
    let target = textkit(None);
    let runner = Runner::new().seed(5);
    for id in ["1", "3", "5", "9"] {
        assert!(runner.check(&textkit_property(&spec, id), &target).passed());
    }
    assert_eq!(target.starts(), 1);
}

// ---------------------------------------------------------------------------
// Process targets.

/// A Python JSON-lines program from `body` (a function `answer(op, x)`
/// returning the answer dict), in a temporary folder.
fn python(body: &str) -> (tempfile::TempDir, ProcessTarget) {
    let dir = tempfile::tempdir().unwrap();
    let program = format!(
        "import json, sys, time, os\n{body}\nfor line in sys.stdin:\n    r = json.loads(line)\n    \
         sys.stdout.write(json.dumps(answer(r['op'], r['input'])) + '\\n')\n    sys.stdout.flush()\n"
    );
    std::fs::write(dir.path().join("prog.py"), program).unwrap();
    let target = ProcessTarget::new(["python3", "prog.py"]).current_dir(dir.path());
    (dir, target)
}

#[test]
fn a_process_target_classifies_answers_and_failures() {
    let (_dir, target) = python(
        "def answer(op, x):\n    \
           if op == 'echo': return {'ok': x}\n    \
           if op == 'refuse': return {'error': 'no ' + str(x)}\n    \
           if op == 'cwd': return {'ok': open('marker.txt').read()}\n    \
           if op == 'noise': print('debug output'); return {'ok': 1}\n    \
           if op == 'sleep': time.sleep(30); return {'ok': 1}\n    \
           if op == 'die': sys.stderr.write('fatal: asked to die\\n'); sys.exit(3)\n    \
           return {'result': x}",
    );
    std::fs::write(_dir.path().join("marker.txt"), "here").unwrap();
    // Generous for a loaded machine; the sleeping op sleeps far longer.
    let target = target.timeout(Duration::from_secs(3));
    let expect = |op: &str, input: Value, check: &dyn Fn(Result<Reply, TargetError>) -> bool| {
        let answer = target.call(op, &input);
        let shown = format!("{answer:?}");
        assert!(check(answer), "{op}: {shown}");
    };
    expect("echo", json!({"a": [1, "x"]}), &|r| {
        r.unwrap() == Reply::Ok(json!({"a": [1, "x"]}))
    });
    expect("refuse", json!(7), &|r| {
        r.unwrap() == Reply::Error("no 7".into())
    });
    // Runs in the given working directory.
    expect("cwd", json!(null), &|r| {
        r.unwrap() == Reply::Ok(json!("here"))
    });
    assert_eq!(target.starts(), 1, "kept alive across calls");
    // A line that is not an answer: protocol error, then a fresh process.
    expect("noise", json!(null), &|r| {
        matches!(r, Err(TargetError::Protocol { .. }))
    });
    expect("echo", json!(2), &|r| r.unwrap() == Reply::Ok(json!(2)));
    assert_eq!(target.starts(), 2);
    expect("other", json!(1), &|r| {
        matches!(r, Err(TargetError::Protocol { .. }))
    });
    // A timeout kills the program and names the op.
    let started = Instant::now();
    expect(
        "sleep",
        json!(null),
        &|r| matches!(r, Err(TargetError::Timeout { ref op, .. }) if op == "sleep"),
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // An exit reports its status and stderr.
    expect("die", json!(null), &|r| match r {
        Err(TargetError::Exited { status, stderr }) => {
            status.contains('3') && stderr.contains("fatal: asked to die")
        }
        _ => false,
    });
    expect("echo", json!("back"), &|r| {
        r.unwrap() == Reply::Ok(json!("back"))
    });
    assert_eq!(target.starts(), 5);
}

#[test]
fn a_program_that_cannot_start_fails_the_property_with_its_reason() {
    let target = ProcessTarget::new(["/nonexistent/kiro-proptest-program"]);
    let property = Property::builder("1", PropertyKind::NoError)
        .ops(["f"])
        .input(json!({"type": "integer"}))
        .build()
        .unwrap();
    let report = Runner::new().seed(1).check(&property, &target);
    let counterexample = report.counterexample().unwrap();
    assert!(
        matches!(&counterexample.calls[0].result, CallResult::Failure(m) if m.contains("cannot start")),
        "{report}"
    );
    assert!(matches!(
        ProcessTarget::new(Vec::<String>::new()).call("f", &json!(1)),
        Err(TargetError::EmptyArgv)
    ));
}

// ---------------------------------------------------------------------------
// HTTP targets, against a real server on 127.0.0.1.

/// A tiny HTTP/1.1 server: `/double` doubles an integer (400 otherwise),
/// `/boom` is a 500, `/text` a 200 that is not JSON, `/empty` a 204.
/// Counts the requests it served.
fn http_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let (status, text) = match path {
                "/api/double" => match input.as_i64() {
                    Some(n) => ("200 OK", json!(n * 2).to_string()),
                    None => (
                        "400 Bad Request",
                        r#"{"error": "expected an integer"}"#.into(),
                    ),
                },
                "/api/boom" => ("500 Internal Server Error", "database down".into()),
                "/api/text" => ("200 OK", "plain words".into()),
                "/api/empty" => ("204 No Content", String::new()),
                _ => ("404 Not Found", String::new()),
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (format!("{base}/api/"), served)
}

#[test]
fn an_http_target_maps_statuses_to_answers_and_failures() {
    let (base, served) = http_server();
    let target = HttpTarget::with_timeout(&base, Duration::from_secs(5));
    assert_eq!(
        target.call("double", &json!(21)).unwrap(),
        Reply::Ok(json!(42))
    );
    assert_eq!(
        target.call("double", &json!("x")).unwrap(),
        Reply::Error("expected an integer".into())
    );
    assert_eq!(
        target.call("missing", &json!(1)).unwrap(),
        Reply::Error("HTTP 404".into())
    );
    assert_eq!(
        target.call("empty", &json!(1)).unwrap(),
        Reply::Ok(Value::Null)
    );
    assert!(matches!(
        target.call("boom", &json!(1)),
        Err(TargetError::HttpStatus { status: 500, ref body, .. }) if body == "database down"
    ));
    assert!(matches!(
        target.call("text", &json!(1)),
        Err(TargetError::Protocol { .. })
    ));
    assert_eq!(served.load(Ordering::SeqCst), 6);

    // A property over HTTP: doubling never refuses an integer, and every
    // integer-looking mistake is refused.
    let runner = Runner::new().seed(3).cases(40);
    let no_error = Property::builder("1", PropertyKind::NoError)
        .ops(["double"])
        .input(json!({"type": "integer", "minimum": -1000, "maximum": 1000}))
        .build()
        .unwrap();
    assert!(runner.check(&no_error, &target).passed());
    let failing = Property::builder("2", PropertyKind::NoError)
        .ops(["boom"])
        .input(json!({"type": "integer"}))
        .build()
        .unwrap();
    let report = runner.check(&failing, &target);
    let counterexample = report.counterexample().unwrap();
    assert!(matches!(&counterexample.calls[0].result, CallResult::Failure(m) if m.contains("500")));
}

#[test]
fn an_unreachable_http_target_is_a_failure() {
    // Bound then dropped: nothing listens on the port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target =
        HttpTarget::with_timeout(format!("http://127.0.0.1:{port}"), Duration::from_secs(2));
    assert!(matches!(
        target.call("f", &json!(1)),
        Err(TargetError::Http { .. })
    ));
}

// ---------------------------------------------------------------------------
// Kinds, from Rust.

fn check_rust<F>(property: &Property, f: F) -> PropertyReport
where
    F: Fn(&str, &Value) -> Result<Value, String>,
{
    Runner::new()
        .seed(11)
        .cases(100)
        .check(property, &from_fn(f))
}

fn ints() -> Value {
    json!({"type": "array", "maxItems": 8, "items": {"type": "integer", "minimum": -50, "maximum": 50}})
}

type RustFn = dyn Fn(&str, &Value) -> Result<Value, String>;

#[test]
fn each_kind_passes_a_correct_target_and_fails_a_broken_one() {
    let sorted = |xs: &Value| {
        let mut v: Vec<i64> = xs
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        v.sort();
        json!(v)
    };
    struct Case {
        property: Property,
        good: Box<RustFn>,
        bad: Box<RustFn>,
    }
    let reference = from_fn(move |_op: &str, xs: &Value| Ok(sorted(xs)));
    let cases = vec![
        Case {
            // Numbers by value: an encoder writing 3.0 for 3 still round-trips.
            property: Property::builder("rt", PropertyKind::RoundTrip)
                .ops(["enc", "dec"])
                .input(ints())
                .build()
                .unwrap(),
            good: Box::new(|op, x| {
                Ok(match op {
                    "enc" => json!(x.to_string()),
                    _ => serde_json::from_str(x.as_str().unwrap()).unwrap(),
                })
            }),
            bad: Box::new(|op, x| {
                Ok(match op {
                    "enc" => json!(x.to_string().replace('-', "")),
                    _ => serde_json::from_str(x.as_str().unwrap()).unwrap(),
                })
            }),
        },
        Case {
            property: Property::builder("idem", PropertyKind::Idempotent)
                .ops(["sort"])
                .input(ints())
                .build()
                .unwrap(),
            good: Box::new(move |_, x| Ok(sorted(x))),
            bad: Box::new(|_, x| {
                let mut v = x.as_array().unwrap().clone();
                let turn = usize::from(!v.is_empty());
                v.rotate_left(turn);
                Ok(json!(v))
            }),
        },
        Case {
            property: Property::builder("inv", PropertyKind::Invariant)
                .ops(["sort"])
                .input(ints())
                .output(json!({"type": "array", "items": {"type": "integer"}}))
                .predicate(|x, y| {
                    let same = x.as_array().unwrap().len() == y.as_array().unwrap().len();
                    same.then_some(())
                        .ok_or_else(|| "the length changed".into())
                })
                .build()
                .unwrap(),
            good: Box::new(move |_, x| Ok(sorted(x))),
            bad: Box::new(move |_, x| {
                let mut v = sorted(x).as_array().unwrap().clone();
                v.dedup();
                Ok(json!(v))
            }),
        },
        Case {
            property: Property::builder("oracle", PropertyKind::Oracle)
                .ops(["sort"])
                .input(ints())
                .reference("sort", reference)
                .build()
                .unwrap(),
            good: Box::new(move |_, x| Ok(sorted(x))),
            bad: Box::new(move |_, x| {
                let mut v = sorted(x).as_array().unwrap().clone();
                v.reverse();
                Ok(json!(v))
            }),
        },
        Case {
            property: Property::builder("perm", PropertyKind::PermutationInvariant)
                .ops(["sum"])
                .input(ints())
                .build()
                .unwrap(),
            good: Box::new(|_, x| {
                Ok(json!(x
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .sum::<i64>()))
            }),
            bad: Box::new(|_, x| Ok(x.as_array().unwrap().first().cloned().unwrap_or(json!(0)))),
        },
        Case {
            property: Property::builder("noerr", PropertyKind::NoError)
                .ops(["max"])
                .input(ints())
                .build()
                .unwrap(),
            good: Box::new(|_, x| {
                Ok(x.as_array()
                    .unwrap()
                    .iter()
                    .max_by_key(|v| v.as_i64())
                    .cloned()
                    .unwrap_or(Value::Null))
            }),
            bad: Box::new(|_, x| {
                x.as_array()
                    .unwrap()
                    .iter()
                    .max_by_key(|v| v.as_i64())
                    .cloned()
                    .ok_or("empty".into())
            }),
        },
        Case {
            property: Property::builder("rej", PropertyKind::RejectsInvalid)
                .ops(["age"])
                .input(json!({"type": "integer", "minimum": 0, "maximum": 150}))
                .build()
                .unwrap(),
            good: Box::new(|_, x| match x.as_i64() {
                Some(n) if (0..=150).contains(&n) && x.is_i64() => Ok(json!(n)),
                _ => Err("not an age".into()),
            }),
            bad: Box::new(|_, x| match x.as_f64() {
                Some(n) if n >= 0.0 => Ok(json!(n)),
                _ => Err("not an age".into()),
            }),
        },
    ];
    for case in cases {
        let good = check_rust(&case.property, &*case.good);
        assert!(good.passed(), "{good}");
        let bad = check_rust(&case.property, &*case.bad);
        assert!(bad.counterexample().is_some(), "{bad}");
    }
}

#[test]
fn a_panicking_rust_target_fails_the_case_with_its_message() {
    let property = Property::builder("1", PropertyKind::NoError)
        .ops(["f"])
        .input(json!({"type": "integer", "minimum": 0, "maximum": 1000}))
        .build()
        .unwrap();
    let report = check_rust(&property, |_, x| {
        if x.as_i64().unwrap() >= 10 {
            panic!("too big: {x}");
        }
        Ok(x.clone())
    });
    let counterexample = report.counterexample().unwrap();
    assert_eq!(counterexample.input, json!(10), "{report}");
    assert!(
        matches!(&counterexample.calls[0].result, CallResult::Failure(m) if m.contains("too big: 10"))
    );
}

#[test]
fn properties_that_cannot_run_are_refused_when_built() {
    type Check = fn(&PropertyError) -> bool;
    let cases: Vec<(kiro_proptest::property::PropertyBuilder, Check)> = vec![
        (
            Property::builder("1", PropertyKind::RoundTrip).ops(["encode"]),
            |e| {
                matches!(
                    e,
                    PropertyError::Ops {
                        expected: 2,
                        found: 1,
                        ..
                    }
                )
            },
        ),
        (Property::builder("2", PropertyKind::NoError), |e| {
            matches!(
                e,
                PropertyError::Ops {
                    expected: 1,
                    found: 0,
                    ..
                }
            )
        }),
        (
            Property::builder("3", PropertyKind::Invariant).ops(["f"]),
            |e| matches!(e, PropertyError::MissingOutput { .. }),
        ),
        (
            Property::builder("4", PropertyKind::Oracle).ops(["f"]),
            |e| matches!(e, PropertyError::MissingReference { .. }),
        ),
        (
            Property::builder("5", PropertyKind::NoError)
                .ops(["f"])
                .input(json!({"type": "integer", "minimum": 5, "maximum": 1})),
            |e| matches!(e, PropertyError::Input { .. }),
        ),
        (
            Property::builder("6", PropertyKind::Invariant)
                .ops(["f"])
                .output(json!({"type": "no-such-type"})),
            |e| {
                matches!(
                    e,
                    PropertyError::InvalidSchema {
                        which: "output",
                        ..
                    }
                )
            },
        ),
    ];
    for (builder, check) in cases {
        let error = builder.build().unwrap_err();
        assert!(check(&error), "{error}");
    }
}

#[test]
fn rejects_invalid_without_invalid_inputs_is_not_run() {
    let property = Property::builder("1", PropertyKind::RejectsInvalid)
        .ops(["f"])
        .input(json!(true))
        .build()
        .unwrap();
    let report = check_rust(&property, |_, _| Err("no".into()));
    assert!(
        matches!(&report.outcome, Outcome::Aborted { reason } if reason.contains("outside the schema")),
        "{report}"
    );
}

// ---------------------------------------------------------------------------
// The runner: seeds, shrinking bound, regressions.

fn strict_positive() -> Property {
    Property::builder("7", PropertyKind::NoError)
        .title("positives are accepted")
        .ops(["check"])
        .input(json!({"type": "integer", "minimum": 0, "maximum": 100000}))
        .validates(["4.2", "4.3"])
        .spec("numbers")
        .build()
        .unwrap()
}

fn refuses_from(limit: i64) -> impl Target {
    from_fn(move |_: &str, x: &Value| {
        let n = x.as_i64().unwrap();
        if n >= limit {
            Err(format!("{n} is too large"))
        } else {
            Ok(json!(n))
        }
    })
}

#[test]
fn the_same_seed_gives_the_same_report_and_the_report_names_the_criteria() {
    let first = Runner::new()
        .seed(99)
        .check(&strict_positive(), &refuses_from(777));
    let second = Runner::new()
        .seed(99)
        .check(&strict_positive(), &refuses_from(777));
    assert_eq!(first, second);
    let counterexample = first.counterexample().unwrap();
    assert_eq!(counterexample.input, json!(777), "{first}");
    assert_eq!(
        counterexample.calls[0].result,
        CallResult::Error("777 is too large".into())
    );
    assert_eq!(first.validates, ["4.2", "4.3"]);
    assert_eq!(first.seed, 99);
    assert!(first.shrink_steps > 0);

    // The JSON form the CLI prints: the verdict is a tag.
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(json["outcome"]["verdict"], "failed");
    assert_eq!(json["outcome"]["input"], 777);
    assert_eq!(
        serde_json::from_value::<PropertyReport>(json).unwrap(),
        first
    );
    let text = first.to_string();
    assert!(
        text.contains("numbers: Property 7 (no-error): positives are accepted — FAILED"),
        "{text}"
    );
    assert!(text.contains("validates: 4.2, 4.3"), "{text}");

    // Seeds differ when not given.
    assert_ne!(Runner::new().seed_value(), Runner::new().seed_value());
}

#[test]
fn shrinking_stops_at_its_time_bound() {
    // Every failing call takes 20 ms and shrinking a 50-item array takes
    // hundreds of calls: the bound cuts it short.
    let property = Property::builder("1", PropertyKind::NoError)
        .ops(["f"])
        .input(json!({"type": "array", "minItems": 50, "maxItems": 60,
                      "items": {"type": "integer", "minimum": 0, "maximum": 1000}}))
        .build()
        .unwrap();
    let started = Instant::now();
    let report = Runner::new()
        .seed(4)
        .max_shrink_time(Duration::from_millis(300))
        .check(&property, &refuses_slowly());
    assert!(report.counterexample().is_some(), "{report}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Refuses arrays holding an item of 10 or more, 20 ms per refusal.
fn refuses_slowly() -> impl Target {
    from_fn(|_: &str, x: &Value| {
        if x.as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_i64().unwrap() >= 10)
        {
            std::thread::sleep(Duration::from_millis(20));
            Err("too large".into())
        } else {
            Ok(json!(null))
        }
    })
}

#[test]
fn failures_are_stored_and_replayed_first() {
    let dir = tempfile::tempdir().unwrap();
    let regressions = dir.path().join(".kiro/pbt-regressions");
    let runner = Runner::new().seed(1).regressions_dir(&regressions);
    let found = runner.check(&strict_positive(), &refuses_from(777));
    assert_eq!(found.counterexample().unwrap().input, json!(777));
    let file = regressions.join("numbers/7.json");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["cases"][0]["input"], 777, "{stored}");
    assert_eq!(stored["property"], "7");

    // Another seed, a target failing only on 777 exactly: generation alone
    // would hardly hit it, the stored case does at once.
    let only_777 = from_fn(|_: &str, x: &Value| {
        if x == &json!(777) {
            Err("still broken".into())
        } else {
            Ok(x.clone())
        }
    });
    let replayed = Runner::new()
        .seed(2)
        .regressions_dir(&regressions)
        .check(&strict_positive(), &only_777);
    let counterexample = replayed.counterexample().unwrap();
    assert!(counterexample.replayed, "{replayed}");
    assert_eq!((replayed.replayed, replayed.cases), (1, 0));

    // Fixed: the stored case passes, then the generated ones run.
    let fixed = Runner::new()
        .seed(2)
        .regressions_dir(&regressions)
        .check(&strict_positive(), &refuses_from(i64::MAX));
    assert!(fixed.passed(), "{fixed}");
    assert_eq!((fixed.replayed, fixed.cases), (1, 100));

    // A second failure is appended, the first kept.
    let between = from_fn(|_: &str, x: &Value| match x.as_i64().unwrap() {
        1000.. => Err("in the gap".into()),
        n => Ok(json!(n)),
    });
    let second = runner.check(&strict_positive(), &between);
    assert_eq!(
        second.counterexample().unwrap().input,
        json!(1000),
        "{second}"
    );
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["cases"].as_array().unwrap().len(), 2, "{stored}");

    // An unreadable file is a warning, not a stop.
    std::fs::write(&file, "not json").unwrap();
    let warned = runner.check(&strict_positive(), &refuses_from(i64::MAX));
    assert!(warned.passed());
    assert!(
        warned.warnings[0].contains("not a regressions file"),
        "{warned}"
    );
}

// ---------------------------------------------------------------------------
// The embedding macro: one test per property of the textkit spec.

fn textkit_suite() -> SpecProperties {
    SpecProperties::from_spec(&textkit_spec(), textkit_root())
}

kiro_proptest::spec_tests!(textkit_suite();
    textkit_property_1_escape_round_trip => "1",
    textkit_property_10_parse_int_rejects_invalid => "10",
);

#[test]
fn a_suite_reports_unknown_ids_and_properties_without_a_target() {
    let suite = textkit_suite();
    assert!(suite.check(&Runner::new(), "42").is_err());

    let mut spec = textkit_spec();
    let design = spec.design.as_mut().unwrap();
    design.properties.truncate(1);
    design.properties[0].formal.as_mut().unwrap().target = None;
    let untargeted = SpecProperties::from_spec(&spec, textkit_root());
    let report = untargeted.check(&Runner::new(), "1").unwrap();
    assert!(
        matches!(report.outcome, Outcome::Aborted { .. }),
        "{report}"
    );
    // With a Rust target given, it runs.
    let escaper = from_fn(|op: &str, x: &Value| {
        Ok(if op == "escape" {
            json!(format!("<{}>", x.as_str().unwrap()))
        } else {
            json!(x.as_str().unwrap().trim_matches(['<', '>']))
        })
    });
    let report = SpecProperties::from_spec(&spec, textkit_root())
        .target(escaper)
        .check(&Runner::new().seed(8), "1")
        .unwrap();
    assert!(report.passed(), "{report}");
}
