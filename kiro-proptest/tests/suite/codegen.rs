//! `kiro_proptest::codegen`: the Rust test file a spec's executable
//! properties become. The file is compared with a golden copy, read back
//! with kiro's annotation scanner (which must link every test to its
//! property and criteria), and compiled and run for real in a small cargo
//! project: passing properties pass, a seeded bug fails with a shrunk
//! counterexample.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kiro_core::spec::{CorrectnessProperty, CriterionId, DesignDoc, PropertyId, Spec};
use kiro_core::verify::annotations::{scan_file, AnnotationKind, Scope};
use kiro_proptest::codegen::RustTests;

/// A correctness property with the `json kiro-property` block `block`
/// (`None`: a property without one).
fn property(
    id: &str,
    title: &str,
    statement: &str,
    validates: &[&str],
    block: Option<&str>,
) -> CorrectnessProperty {
    CorrectnessProperty {
        id: PropertyId::new(id),
        title: title.to_owned(),
        statement: statement.to_owned(),
        validates: validates.iter().map(CriterionId::new).collect(),
        formal: block.map(|b| {
            serde_json::from_str(b).unwrap_or_else(|e| panic!("block of property {id}: {e}"))
        }),
        ..Default::default()
    }
}

fn spec(name: &str, properties: Vec<CorrectnessProperty>) -> Spec {
    Spec {
        name: name.to_owned(),
        design: Some(DesignDoc {
            title: "Design Document".to_owned(),
            properties,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every kind, both input sources (Rust types, schemas) and every callee
/// (Rust functions, a process shared by three properties, an HTTP
/// endpoint, a reference on another target), titles and statements that
/// need escaping, and a property without a block.
fn every_kind() -> Spec {
    spec(
        "codec",
        vec![
            property(
                "1",
                "Hex round trip",
                "*For any* bytes, decoding their hex encoding SHALL return them.",
                &["1.1", "1.2"],
                Some(
                    r#"{"kind": "round-trip", "ops": ["encode", "decode"],
                        "rust": {"input_type": "Vec<u8>", "f": "crate::hex::encode", "g": "crate::hex::decode"}}"#,
                ),
            ),
            property(
                "2",
                "Normalise: Validates: nothing \"quoted\"\nsecond line",
                "*For any* text, normalising twice\nSHALL equal normalising once.\n\nRequirements: 9.9 is not a link.",
                &["2.1"],
                Some(
                    r#"{"kind": "idempotent", "ops": ["normalize"],
                        "input": {"type": "string", "maxLength": 20},
                        "rust": {"f": "text::normalize"}, "cases": 250}"#,
                ),
            ),
            property(
                "3",
                "Encoded text is lower-case hex",
                "",
                &["1.3"],
                Some(
                    r###"{"kind": "invariant", "ops": ["encode"],
                         "input": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
                         "output": {"type": "string", "pattern": "^[0-9a-f]*$", "description": "no \"# or \"## inside"},
                         "target": {"process": ["python3", "tests/data/codec.py", "--mode=\"strict\""]}}"###,
                ),
            ),
            property(
                "4",
                "Sorting agrees with the reference",
                "",
                &["3.1", "3.2"],
                Some(
                    r#"{"kind": "oracle", "ops": ["sort"],
                        "input": {"type": "array", "items": {"type": "integer"}},
                        "target": {"http": "http://127.0.0.1:8080/api"},
                        "reference": {"op": "sorted", "process": ["python3", "reference.py"]}}"#,
                ),
            ),
            property(
                "5",
                "Order does not matter",
                "",
                &["3.3"],
                Some(
                    r#"{"kind": "permutation-invariant", "ops": ["sum"],
                        "rust": {"input_type": "Vec<u32>", "f": "stats::sum"}}"#,
                ),
            ),
            property(
                "6",
                "Valid hex always decodes",
                "",
                &["1.4"],
                Some(
                    r#"{"kind": "no-error", "ops": ["decode"],
                        "input": {"type": "string", "pattern": "^([0-9a-f]{2})*$"},
                        "target": {"process": ["python3", "tests/data/codec.py", "--mode=\"strict\""]}}"#,
                ),
            ),
            property(
                "7",
                "Bad hex is refused",
                "",
                &["1.5"],
                Some(
                    r#"{"kind": "rejects-invalid", "ops": ["decode"],
                        "input": {"type": "string", "pattern": "^([0-9a-f]{2})*$"},
                        "target": {"process": ["python3", "tests/data/codec.py", "--mode=\"strict\""]},
                        "cases": 500}"#,
                ),
            ),
            property(
                "8",
                "Decoding is fast",
                "*For any* input, decoding SHALL take linear time.",
                &["4.1"],
                None,
            ),
            property(
                "9",
                "Sorted twice",
                "",
                &["3.4"],
                Some(
                    r#"{"kind": "oracle", "ops": ["sort"], "input": {"type": "array"},
                        "rust": {"f": "stats::sorted", "reference": "stats::sorted_reference"}}"#,
                ),
            ),
        ],
    )
}

/// Compares `actual` with `tests/data/codegen/<name>` (or writes it under
/// `KIRO_BLESS=1`), naming the first differing line.
#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/codegen")
        .join(name);
    if std::env::var_os("KIRO_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (KIRO_BLESS=1 writes it)",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n--- expected\n{}\n--- actual\n{}",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

#[test]
fn the_file_for_every_kind_matches_the_golden_copy() {
    let code = RustTests::new(&every_kind())
        .crate_name("codec_crate")
        .render()
        .unwrap();
    golden("every_kind.rs.golden", &code);
    let file = RustTests::new(&every_kind()).generate().unwrap();
    let tests: Vec<(&str, &str)> = file
        .tests
        .iter()
        .map(|t| (t.property.as_str(), t.name.as_str()))
        .collect();
    assert_eq!(
        tests,
        [
            ("1", "property_1_hex_round_trip"),
            (
                "2",
                "property_2_normalise_validates_nothing_quoted_second_line"
            ),
            ("3", "property_3_encoded_text_is_lower_case_hex"),
            ("4", "property_4_sorting_agrees_with_the_reference"),
            ("5", "property_5_order_does_not_matter"),
            ("6", "property_6_valid_hex_always_decodes"),
            ("7", "property_7_bad_hex_is_refused"),
            ("9", "property_9_sorted_twice"),
        ]
    );
    assert_eq!(file.skipped, [PropertyId::new("8")]);
    // Rendering is a function of the spec: a second rendering is the same.
    let again = RustTests::new(&every_kind())
        .crate_name("codec_crate")
        .render()
        .unwrap();
    assert_eq!(code, again);
}

#[test]
fn only_the_properties_asked_for_are_generated_in_design_order() {
    let code = RustTests::new(&every_kind())
        .properties([PropertyId::new("5"), PropertyId::new("1")])
        .default_cases(32)
        .render()
        .unwrap();
    let tests: Vec<&str> = code
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fn property_"))
        .filter_map(|l| l.split('(').next())
        .collect();
    assert_eq!(tests, ["1_hex_round_trip", "5_order_does_not_matter"]);
    // Property 8 has no block: named as not generated, whatever was asked.
    assert!(code.contains("//! Not generated: property 8 (Decoding is fast)"));
    assert!(!code.contains("property 2"), "{code}");
    assert_eq!(code.matches("ProptestConfig::with_cases(32)").count(), 2);
    // Without `crate_name`, paths are written as the spec gives them.
    assert!(code.contains("crate::hex::encode(&input)"));
    // No JSON, no target: the file needs neither serde_json nor targets.
    assert!(!code.contains("serde_json"), "{code}");
    assert!(!code.contains("kiro_proptest::target"), "{code}");
}

/// `code` as rustfmt (edition 2021, default settings) lays it out.
fn rustfmt(code: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rustfmt is part of the toolchain that builds kiro");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(code.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn rustfmt_leaves_generated_files_as_they_are() {
    // Targets whose constructor fits on a line and targets whose does not.
    let long = "x".repeat(60);
    let wide = spec(
        "wide",
        vec![
            property(
                "1",
                "Long argv",
                "",
                &["1.1"],
                Some(&format!(
                    r#"{{"kind": "no-error", "ops": ["f"], "input": {{"type": "string", "description": "{long}{long}"}},
                        "target": {{"process": ["python3", "{long}.py", "--flag"]}}}}"#
                )),
            ),
            property(
                "3",
                "Longer URL",
                "",
                &["1.3"],
                Some(&format!(
                    r#"{{"kind": "no-error", "ops": ["f"], "target": {{"http": "http://127.0.0.1:8080/{long}{long}"}}}}"#
                )),
            ),
            property(
                "4",
                "Longer argv",
                "",
                &["1.4"],
                Some(&format!(
                    r#"{{"kind": "no-error", "ops": ["f"], "target": {{"process": ["python3", "{long}{long}.py"]}}}}"#
                )),
            ),
            property(
                "2",
                "Long URL",
                "",
                &["1.2"],
                Some(&format!(
                    r#"{{"kind": "no-error", "ops": ["f"], "target": {{"http": "http://127.0.0.1:8080/{long}"}}}}"#
                )),
            ),
        ],
    );
    for spec in [every_kind(), wide, fixture_spec()] {
        let code = RustTests::new(&spec).render().unwrap();
        let formatted = rustfmt(&code);
        assert_eq!(
            code.lines().zip(formatted.lines()).find(|(a, b)| a != b),
            None,
            "rustfmt changes the file of spec {}",
            spec.name
        );
        assert_eq!(code, formatted);
    }
}

/// The links kiro's scanner reads from a generated file: test name →
/// (property, criteria).
fn scanned_links(code: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut links: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for a in scan_file("tests/codec_properties.rs", code) {
        assert_eq!(a.scope, Scope::Spec("codec".into()), "{a:?}");
        let test = a
            .test
            .as_ref()
            .unwrap_or_else(|| panic!("annotation on no test: {a:?}"));
        let entry = links.entry(test.name.clone()).or_default();
        match a.kind {
            AnnotationKind::Property => {
                assert_eq!(a.spec.as_deref(), Some("codec"));
                entry.0 = a.property.unwrap().as_str().to_owned();
            }
            AnnotationKind::Validates => {
                entry.1 = a.criteria.iter().map(|c| c.as_str().to_owned()).collect();
            }
            AnnotationKind::Requirements => panic!("unexpected annotation {a:?}"),
        }
    }
    links
}

#[test]
fn kiro_links_every_generated_test_to_its_property_and_criteria() {
    let spec = every_kind();
    let code = RustTests::new(&spec).render().unwrap();
    let links = scanned_links(&code);
    let expected: BTreeMap<String, (String, Vec<String>)> = [
        ("property_1_hex_round_trip", "1", &["1.1", "1.2"][..]),
        (
            "property_2_normalise_validates_nothing_quoted_second_line",
            "2",
            &["2.1"],
        ),
        ("property_3_encoded_text_is_lower_case_hex", "3", &["1.3"]),
        (
            "property_4_sorting_agrees_with_the_reference",
            "4",
            &["3.1", "3.2"],
        ),
        ("property_5_order_does_not_matter", "5", &["3.3"]),
        ("property_6_valid_hex_always_decodes", "6", &["1.4"]),
        ("property_7_bad_hex_is_refused", "7", &["1.5"]),
        ("property_9_sorted_twice", "9", &["3.4"]),
    ]
    .into_iter()
    .map(|(test, property, criteria)| {
        (
            test.to_owned(),
            (
                property.to_owned(),
                criteria.iter().map(|c| (*c).to_owned()).collect(),
            ),
        )
    })
    .collect();
    // Property 2's title says "Validates:" and its statement
    // "Requirements: 9.9": neither becomes a link, and its own link stays.
    assert_eq!(links, expected);
}

/// One spec change and the message `render` must fail with.
fn check_refused(
    change: impl FnOnce(&mut Spec),
    options: impl FnOnce(RustTests<'_>) -> RustTests<'_>,
    message: &str,
) {
    let mut spec = every_kind();
    change(&mut spec);
    let err = options(RustTests::new(&spec)).render().unwrap_err();
    assert!(
        err.to_string().contains(message),
        "expected {message:?} in {:?}",
        err.to_string()
    );
}

/// Replaces property 1's block.
fn block(json: &str) -> impl FnOnce(&mut Spec) + '_ {
    move |spec: &mut Spec| {
        let design = spec.design.as_mut().unwrap();
        design.properties[0].formal = Some(serde_json::from_str(json).unwrap());
    }
}

fn as_is(r: RustTests<'_>) -> RustTests<'_> {
    r
}

fn only(id: &str) -> impl FnOnce(RustTests<'_>) -> RustTests<'_> + '_ {
    move |r| r.properties([PropertyId::new(id)])
}

#[test]
fn what_cannot_become_a_test_is_refused_with_a_message_naming_it() {
    check_refused(
        |s| s.design = None,
        as_is,
        "spec `codec` has no executable correctness property",
    );
    check_refused(
        |s| {
            for p in &mut s.design.as_mut().unwrap().properties {
                p.formal = None;
            }
        },
        as_is,
        "has no executable correctness property",
    );
    check_refused(
        |_| {},
        only("12"),
        "spec `codec` has no correctness property 12 (it has: 1, 2, 3, 4, 5, 6, 7, 8, 9)",
    );
    check_refused(
        |_| {},
        only("8"),
        "property 8 of spec `codec` is not executable: it has no ```json kiro-property block",
    );
    check_refused(
        |s| s.name = "my codec".into(),
        as_is,
        "spec name `my codec` cannot be written",
    );
    check_refused(
        |s| s.name = "a,b".into(),
        as_is,
        "spec name `a,b` cannot be written",
    );
    check_refused(
        |_| {},
        |r| r.crate_name("my-codec"),
        "crate name `my-codec` is not a Rust identifier",
    );
    check_refused(
        block(r#"{"kind": "invariant", "ops": ["f"], "target": {"http": "http://x"}}"#),
        as_is,
        "property 1 (invariant): an invariant needs `output`",
    );
    check_refused(
        block(r#"{"kind": "round-trip", "ops": ["encode"], "target": {"http": "http://x"}}"#),
        as_is,
        "property 1 (round-trip): needs 2 ops in `ops`, has 1",
    );
    check_refused(
        block(r#"{"kind": "no-error", "ops": []}"#),
        as_is,
        "needs 1 op in `ops`, has 0",
    );
    check_refused(
        block(r#"{"kind": "no-error", "ops": ["f"]}"#),
        as_is,
        "property 1 (no-error): needs a `target`",
    );
    check_refused(
        block(r#"{"kind": "oracle", "ops": ["f"], "target": {"http": "http://x"}}"#),
        as_is,
        "an oracle needs `reference`",
    );
    check_refused(
        block(
            r#"{"kind": "oracle", "ops": ["f"], "target": {"http": "http://x"},
                "reference": {"op": "g", "http": "http://y", "process": ["y"]}}"#,
        ),
        as_is,
        "exactly one of `process` and `http`",
    );
    check_refused(
        block(r#"{"kind": "round-trip", "rust": {"input_type": "u8", "f": "enc"}}"#),
        as_is,
        "property 1 (round-trip): with `rust.f`, kind `round-trip` needs `rust.g`",
    );
    check_refused(
        block(r#"{"kind": "oracle", "rust": {"f": "fast"}}"#),
        as_is,
        "with `rust.f`, kind `oracle` needs `rust.reference`",
    );
    check_refused(
        block(r#"{"kind": "no-error", "ops": ["f"], "rust": {"input_type": "u8"}}"#),
        as_is,
        "`rust.input_type` needs `rust.f`",
    );
    check_refused(
        block(r#"{"kind": "rejects-invalid", "rust": {"input_type": "u8", "f": "parse"}}"#),
        as_is,
        "cannot take them from `rust.input_type`",
    );
    check_refused(
        block(r#"{"kind": "no-error", "rust": {"f": "encode(); std::process::exit(0)"}}"#),
        as_is,
        "property 1: `rust.f` is `encode(); std::process::exit(0)`, expected a Rust path",
    );
    check_refused(
        block(r#"{"kind": "no-error", "rust": {"input_type": "u8>(); x(<u8", "f": "f"}}"#),
        as_is,
        "`rust.input_type` is `u8>(); x(<u8`, expected a Rust type",
    );
    check_refused(
        block(r#"{"kind": "round-trip", "rust": {"f": "a", "g": "b\nc"}}"#),
        as_is,
        "`rust.g` is `b\\nc`",
    );
    check_refused(
        block(r#"{"kind": "no-error", "rust": {"f": "f"}, "cases": 0}"#),
        as_is,
        "property 1: `cases` is 0, expected at least 1",
    );
}

// ------------------------------------------------------------------------
// Compiling and running a generated file.

/// The library the generated tests check: a hex codec, sums, and a
/// normaliser with a seeded bug (it deduplicates before sorting, so equal
/// bytes that were apart end up adjacent and survive one pass).
const FIXTURE_LIB: &str = r#"//! The code under test of the generated property tests.

pub mod hex {
    pub fn encode(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str) -> Result<Vec<u8>, String> {
        if text.len() % 2 != 0 {
            return Err(format!("odd length {}", text.len()));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect()
    }

    pub fn encoded_len(bytes: &[u8]) -> Result<u32, std::num::TryFromIntError> {
        u32::try_from(bytes.len() * 2)
    }
}

pub mod stats {
    pub fn fast_sum(values: &[u32]) -> u64 {
        values.chunks(4).map(|c| c.iter().map(|v| u64::from(*v)).sum::<u64>()).sum()
    }

    pub fn naive_sum(values: &[u32]) -> u64 {
        let mut total = 0;
        for v in values {
            total += u64::from(*v);
        }
        total
    }
}

pub mod json {
    use serde_json::Value;

    /// The number of values in `value`, itself included.
    pub fn count(value: &Value) -> usize {
        1 + match value {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.values().map(count).sum(),
            _ => 0,
        }
    }

    /// [`count`] with an explicit stack.
    pub fn count_iterative(value: &Value) -> usize {
        let mut stack = vec![value];
        let mut n = 0;
        while let Some(v) = stack.pop() {
            n += 1;
            match v {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
        n
    }
}

/// Sorted distinct bytes (seeded bug: `dedup` runs before `sort`).
pub fn normalize(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.dedup();
    out.sort_unstable();
    out
}
"#;

/// The properties of the fixture library, all with Rust bindings.
fn fixture_spec() -> Spec {
    spec(
        "fixture",
        vec![
            property(
                "1",
                "Hex round trip",
                "",
                &["1.1"],
                Some(
                    r#"{"kind": "round-trip", "rust": {"input_type": "Vec<u8>",
                        "f": "crate::hex::encode", "g": "crate::hex::decode"}}"#,
                ),
            ),
            property(
                "2",
                "Normalising twice changes nothing",
                "",
                &["1.2"],
                Some(
                    r#"{"kind": "idempotent", "rust": {"input_type": "Vec<u8>", "f": "crate::normalize"}}"#,
                ),
            ),
            property(
                "3",
                "Hex is lower-case",
                "",
                &["1.3"],
                Some(
                    r#"{"kind": "invariant", "output": {"type": "string", "pattern": "^([0-9a-f]{2})*$"},
                        "rust": {"input_type": "Vec<u8>", "f": "crate::hex::encode"}}"#,
                ),
            ),
            property(
                "4",
                "Fast sum agrees with the naive sum",
                "",
                &["2.1"],
                Some(
                    r#"{"kind": "oracle", "rust": {"input_type": "Vec<u32>",
                        "f": "crate::stats::fast_sum", "reference": "crate::stats::naive_sum"}}"#,
                ),
            ),
            property(
                "5",
                "Sums ignore order",
                "",
                &["2.2"],
                Some(
                    r#"{"kind": "permutation-invariant", "rust": {"input_type": "Vec<u32>",
                        "f": "crate::stats::fast_sum"}}"#,
                ),
            ),
            property(
                "6",
                "Every length has an encoded length",
                "",
                &["1.4"],
                Some(
                    r#"{"kind": "no-error", "cases": 64,
                        "rust": {"input_type": "Vec<u8>", "f": "crate::hex::encoded_len"}}"#,
                ),
            ),
        ],
    )
}

/// A JSON-lines program for the properties on a process target: a hex
/// codec over arrays of bytes, sorting and sums, all correct.
const CODEC_PY: &str = r#"import json, re, sys

HEX = re.compile(r"(?:[0-9a-f]{2})*")


def encode(value):
    if not isinstance(value, list) or not all(type(b) is int and 0 <= b <= 255 for b in value):
        raise ValueError("expected an array of bytes")
    return "".join("%02x" % b for b in value)


def decode(text):
    if not isinstance(text, str) or not HEX.fullmatch(text):
        raise ValueError("expected lower-case hex")
    return list(bytes.fromhex(text))


OPS = {
    "encode": encode,
    "decode": decode,
    "sort": lambda v: sorted(v),
    "sorted": lambda v: [x for _, x in sorted((x, x) for x in v)],
    "sum": lambda v: sum(v),
}

for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = {"ok": OPS[request["op"]](request["input"])}
    except Exception as e:
        answer = {"error": str(e)}
    print(json.dumps(answer), flush=True)
"#;

/// Properties whose inputs come from schemas and whose ops run on the
/// process above (or a Rust function over JSON), all passing.
fn target_properties() -> Vec<CorrectnessProperty> {
    const TARGET: &str = r#""target": {"process": ["python3", "codec.py"]}"#;
    const BYTES: &str = r#"{"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}, "maxItems": 16}"#;
    const HEX: &str = r#"{"type": "string", "pattern": "^([0-9a-f]{2}){0,8}$"}"#;
    [
        ("7", "Process round trip", format!(r#"{{"kind": "round-trip", "ops": ["encode", "decode"], "input": {BYTES}, {TARGET}}}"#)),
        ("8", "Process output is hex", format!(r#"{{"kind": "invariant", "ops": ["encode"], "input": {BYTES}, "output": {HEX}, {TARGET}}}"#)),
        ("9", "Process decodes valid hex", format!(r#"{{"kind": "no-error", "ops": ["decode"], "input": {HEX}, {TARGET}}}"#)),
        ("10", "Process refuses bad hex", format!(r#"{{"kind": "rejects-invalid", "ops": ["decode"], "input": {HEX}, {TARGET}, "cases": 50}}"#)),
        ("11", "Process sort agrees", format!(r#"{{"kind": "oracle", "ops": ["sort"], "input": {BYTES}, {TARGET}, "reference": {{"op": "sorted", "process": ["python3", "codec.py"]}}}}"#)),
        ("12", "Process sum ignores order", format!(r#"{{"kind": "permutation-invariant", "ops": ["sum"], "input": {BYTES}, {TARGET}}}"#)),
        ("13", "JSON count agrees", r#"{"kind": "oracle", "input": {"type": "array", "maxItems": 4}, "rust": {"f": "crate::json::count", "reference": "crate::json::count_iterative"}}"#.to_owned()),
    ]
    .into_iter()
    .map(|(id, title, block)| property(id, title, "", &["3.1"], Some(&block)))
    .collect()
}

/// The workspace root (the folder holding `Cargo.lock`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn a_generated_file_compiles_and_its_tests_pass_or_fail_with_a_shrunk_counterexample() {
    let mut spec = fixture_spec();
    spec.design
        .as_mut()
        .unwrap()
        .properties
        .extend(target_properties());
    let code = RustTests::new(&spec)
        .crate_name("pbt_fixture")
        .render()
        .unwrap();
    // A kiro workspace with the crate one folder down: process targets run
    // in the workspace root, where `codec.py` is.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join(".kiro")).unwrap();
    fs::write(dir.path().join("codec.py"), CODEC_PY).unwrap();
    let root = &dir.path().join("fixture");
    let manifest = format!(
        "[package]\nname = \"pbt_fixture\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nserde_json = \"1\"\n\n\
         [dev-dependencies]\nkiro-proptest = {{ path = {:?} }}\nproptest = \"1\"\n\n[workspace]\n",
        Path::new(env!("CARGO_MANIFEST_DIR")).display().to_string()
    );
    fs::create_dir_all(root.join("src")).unwrap();
    fs::create_dir_all(root.join("tests")).unwrap();
    fs::write(root.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file pins the versions the workspace already
    // built and downloaded, so the build works offline.
    fs::copy(workspace_root().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    fs::write(root.join("src/lib.rs"), FIXTURE_LIB).unwrap();
    fs::write(root.join("tests/properties.rs"), &code).unwrap();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Under the workspace's target folder, so a second run reuses the build.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen-fixture");
    let out = Command::new(cargo)
        .args([
            "test",
            "--offline",
            "--quiet",
            "--test",
            "properties",
            "--",
            "--test-threads=2",
        ])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stderr.contains("error[E"),
        "the generated file does not compile:\n{shown}"
    );
    // libtest exits 101 when a test failed.
    assert_eq!(out.status.code(), Some(101), "{shown}");
    for passing in [
        "property_1_hex_round_trip",
        "property_3_hex_is_lower_case",
        "property_4_fast_sum_agrees_with_the_naive_sum",
        "property_5_sums_ignore_order",
        "property_6_every_length_has_an_encoded_length",
    ] {
        assert!(
            !stdout.contains(&format!("---- {passing} stdout")),
            "{passing} failed:\n{shown}"
        );
    }
    assert!(stdout.contains("12 passed; 1 failed"), "{shown}");
    assert!(
        stdout.contains("---- property_2_normalising_twice_changes_nothing stdout ----"),
        "{shown}"
    );
    // The bug needs two equal bytes with another between them: the shrunk
    // counterexample is exactly three bytes, the outer two equal.
    // proptest prints it with `{:#?}`: one element per line.
    let minimal = stdout
        .split("minimal failing input: input = ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no minimal failing input:\n{shown}"));
    let bytes: Vec<u8> = minimal
        .split(|c: char| !c.is_ascii_digit())
        .filter(|b| !b.is_empty())
        .map(|b| b.parse().unwrap())
        .collect();
    assert_eq!(bytes.len(), 3, "{minimal}");
    assert_eq!(bytes[0], bytes[2], "{minimal}");
    assert_ne!(bytes[0], bytes[1], "{minimal}");
}
