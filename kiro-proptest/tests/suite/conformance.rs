//! Conformance of `kiro_proptest::schema` over the JSON-Schema-Test-Suite
//! (`../shared/fixtures/json-schema-test-suite`, drafts 7 and 2020-12, not
//! `optional/`): for every case with at least one valid test instance, 50
//! values from a fixed seed, each validated with the `jsonschema` crate as
//! the suite expects (default options: formats are annotations in
//! 2020-12), and every step of shrinking the first value validated too.
//!
//! Generation runs with `verify(false)`, so the values counted are those
//! construction makes, not those the final check lets through. The test
//! fails on any invalid value, on a strategy that cannot make 50 values, and
//! when the refused cases differ from [`REFUSED`], the pinned list of the
//! cases the generator declines, each with its reason (so a case that starts
//! passing must leave the list).

// Test helpers fail the test by panicking, like the tests themselves
// (clippy.toml allows it only inside #[test] functions).
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiro_proptest::schema::{Draft, Generator};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

const VALUES_PER_CASE: usize = 50;
const SHRINK_STEPS: usize = 100;

/// Cases the generator refuses: (draft, file, case description, reason).
const REFUSED: &[(&str, &str, &str, &str)] = &[];

/// The suite, found by walking up from the crate to a `shared` folder beside
/// an ancestor (the repository layout puts it next to the worktree).
fn suite() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/fixtures/json-schema-test-suite"))
        .find(|dir| dir.join("tests").is_dir())
}

/// The suite's `remotes/` documents under their `http://localhost:1234/`
/// URIs, without the folders of other drafts.
fn remotes(suite: &Path, draft: &str) -> Vec<(String, Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let root = suite.join("remotes");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let others = [
        "draft3",
        "draft4",
        "draft6",
        "draft7",
        "draft2019-09",
        "draft2020-12",
        "v1",
    ];
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            let foreign = others
                .iter()
                .any(|o| *o != draft && rel.starts_with(&format!("{o}/")));
            if foreign {
                return None;
            }
            let doc = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            Some((format!("http://localhost:1234/{rel}"), doc))
        })
        .collect()
}

#[derive(Default, Debug)]
struct Counts {
    cases: usize,
    ok: usize,
    invalid: usize,
    refused: usize,
    gave_up: usize,
    values: usize,
    shrink_steps: usize,
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

#[test]
fn generated_values_validate_across_the_test_suite() {
    let Some(suite) = suite() else {
        let reason = "JSON-Schema-Test-Suite not found (expected ../shared/fixtures/json-schema-test-suite beside the repository)";
        assert!(
            std::env::var("KIRO_REQUIRE_FIXTURES").as_deref() != Ok("1"),
            "{reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    };
    let mut failures = Vec::new();
    let mut refused_now = BTreeMap::new();
    for (dir, draft, js_draft) in [
        ("draft7", Draft::Draft7, jsonschema::Draft::Draft7),
        (
            "draft2020-12",
            Draft::Draft202012,
            jsonschema::Draft::Draft202012,
        ),
    ] {
        let resources = remotes(&suite, dir);
        let mut registry = jsonschema::Registry::new().draft(js_draft);
        for (uri, doc) in &resources {
            registry = registry.add(uri, doc).expect("remote URI");
        }
        let registry = registry.prepare().expect("remotes registry");
        let mut files: Vec<PathBuf> = std::fs::read_dir(suite.join("tests").join(dir))
            .expect("suite folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut counts = Counts::default();
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let groups: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&file).expect("read case file"))
                    .expect("case file is JSON");
            for group in groups {
                let satisfiable = group["tests"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["valid"] == true));
                if !satisfiable {
                    continue;
                }
                counts.cases += 1;
                let description = group["description"].as_str().unwrap_or_default().to_owned();
                let schema = &group["schema"];
                let started = std::time::Instant::now();
                let mut generator = Generator::new().verify(false);
                // Draft 7 files have no `$schema`; a schema that names its own
                // dialect is read as that dialect.
                if schema.get("$schema").is_none() {
                    generator = generator.draft(draft);
                }
                for (uri, doc) in &resources {
                    generator = generator.resource(uri.clone(), doc.clone());
                }
                let strategy = match generator.strategy(schema) {
                    Ok(strategy) => strategy,
                    Err(error) => {
                        counts.refused += 1;
                        refused_now
                            .insert((dir, name.clone(), description.clone()), error.to_string());
                        continue;
                    }
                };
                let built = started.elapsed();
                let validator = jsonschema::options()
                    .with_draft(js_draft)
                    .with_registry(&registry)
                    .build(schema)
                    .unwrap_or_else(|e| panic!("{dir}/{name} {description}: validator: {e}"));
                let mut runner = runner();
                let mut invalid = None;
                let mut gave_up = None;
                for i in 0..VALUES_PER_CASE {
                    let mut tree = match strategy.new_tree(&mut runner) {
                        Ok(tree) => tree,
                        Err(reason) => {
                            gave_up = Some(reason.to_string());
                            break;
                        }
                    };
                    counts.values += 1;
                    let value = tree.current();
                    if !validator.is_valid(&value) {
                        invalid.get_or_insert(value);
                        continue;
                    }
                    if i == 0 {
                        // Shrinking as if every value failed the property:
                        // each step must still be valid.
                        for _ in 0..SHRINK_STEPS {
                            if !tree.simplify() {
                                break;
                            }
                            counts.shrink_steps += 1;
                            let step = tree.current();
                            if !validator.is_valid(&step) {
                                invalid.get_or_insert(step);
                                break;
                            }
                        }
                    }
                }
                if std::env::var_os("KIRO_CONFORMANCE_TIMES").is_some() {
                    eprintln!(
                        "{:>8.1} ms (build {:.1}) {dir}/{name} {description}",
                        started.elapsed().as_secs_f64() * 1e3,
                        built.as_secs_f64() * 1e3
                    );
                }
                match (invalid, gave_up) {
                    (Some(value), _) => {
                        counts.invalid += 1;
                        failures.push(format!(
                            "{dir}/{name} {description:?}: invalid value {value}"
                        ));
                    }
                    (None, Some(reason)) => {
                        counts.gave_up += 1;
                        failures.push(format!("{dir}/{name} {description:?}: gave up: {reason}"));
                    }
                    (None, None) => counts.ok += 1,
                }
            }
        }
        eprintln!(
            "{dir}: {} cases: {} ok, {} with invalid values, {} refused, {} gave up; {} values, {} shrink steps, all checked",
            counts.cases, counts.ok, counts.invalid, counts.refused, counts.gave_up, counts.values, counts.shrink_steps
        );
    }
    let pinned: BTreeMap<(&str, String, String), &str> = REFUSED
        .iter()
        .map(|(d, f, c, r)| ((*d, (*f).to_owned(), (*c).to_owned()), *r))
        .collect();
    for ((dir, file, case), error) in &refused_now {
        if !pinned.contains_key(&(*dir, file.clone(), case.clone())) {
            failures.push(format!(
                "{dir}/{file} {case:?}: refused but not on the list: {error}"
            ));
        }
    }
    for (dir, file, case) in pinned.keys() {
        if !refused_now.contains_key(&(*dir, file.clone(), case.clone())) {
            failures.push(format!("{dir}/{file} {case:?}: on the refused list but now generated; remove it from REFUSED"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Checks that `schema` is refused with an error containing `expected`.
fn check_refused(schema: Value, expected: &str) {
    match kiro_proptest::schema::strategy_for(&schema) {
        Ok(_) => panic!("{schema}: expected a refusal containing {expected:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(expected),
                "{schema}: {message:?} lacks {expected:?}"
            );
        }
    }
}

#[test]
fn refusals_name_the_keyword_and_where_it_is() {
    use serde_json::json;
    check_refused(
        json!({"type": "string", "maxLenght": 3}),
        "unknown keyword `maxLenght` at #",
    );
    check_refused(
        json!({"properties": {"a": {"type": "string", "format": "phone"}}}),
        "`format` at #/properties/a: unknown format `phone`",
    );
    check_refused(
        json!({"properties": {"a": {"pattern": "x(?=y)"}}}),
        "`pattern` at #/properties/a: `x(?=y)`: lookarounds and backreferences",
    );
    check_refused(
        json!({"type": "string", "pattern": "(unclosed"}),
        "invalid schema at #",
    );
    check_refused(
        json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
        "unsupported `$schema`",
    );
    check_refused(
        json!({"$ref": "http://example.com/x.json"}),
        "unresolved reference",
    );
    check_refused(json!(false), "no value satisfies the schema");
    check_refused(
        json!({"type": "integer", "minimum": 5, "maximum": 3}),
        "no value satisfies the schema",
    );
    check_refused(
        json!({"type": "object", "required": ["a"], "properties": {"a": false}}),
        "no value satisfies the schema",
    );
    check_refused(
        json!({"type": "array", "items": {"enum": [0, 1, 2]}, "uniqueItems": true, "minItems": 4}),
        "no value satisfies the schema",
    );
    // Only an infinitely nested value would do.
    check_refused(
        json!({"$defs": {"n": {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"}),
        "no value satisfies the schema",
    );
}

/// Every value of `schema` (and every shrink step of the first ten)
/// validates with formats asserted; returns the values.
fn check_valid(schema: &Value, count: usize) -> Vec<Value> {
    let strategy =
        kiro_proptest::schema::strategy_for(schema).unwrap_or_else(|e| panic!("{schema}: {e}"));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("test schema compiles");
    let mut runner = runner();
    let mut values = Vec::new();
    for i in 0..count {
        let mut tree = strategy.new_tree(&mut runner).expect("a value");
        let value = tree.current();
        assert!(
            validator.is_valid(&value),
            "{schema}: invalid value {value}"
        );
        if i < 10 {
            while tree.simplify() {
                let step = tree.current();
                assert!(
                    validator.is_valid(&step),
                    "{schema}: invalid shrink step {step}"
                );
            }
        }
        values.push(value);
    }
    values
}

#[test]
fn realistic_schemas_make_valid_values_with_formats_asserted() {
    use serde_json::json;
    let invoice = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["number", "issued", "lines", "contact"],
        "properties": {
            "number": {"type": "string", "pattern": "^INV-[0-9]{6}$"},
            "issued": {"type": "string", "format": "date-time"},
            "due": {"type": "string", "format": "date"},
            "contact": {
                "type": "object",
                "required": ["email"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "site": {"type": "string", "format": "uri"},
                    "host": {"type": "string", "format": "hostname"},
                    "ip": {"type": "string", "format": "ipv4"}
                },
                "additionalProperties": false
            },
            "lines": {
                "type": "array", "minItems": 1, "maxItems": 5,
                "items": {
                    "type": "object",
                    "required": ["id", "qty", "price"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                        "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
                        "note": {"type": "string", "maxLength": 40}
                    },
                    "additionalProperties": false
                }
            },
            "labels": {"type": "array", "items": {"enum": ["paid", "late", "disputed"]}, "uniqueItems": true},
            "ref": {"type": ["string", "null"], "pattern": "^[A-Z0-9]{4,8}$"}
        },
        "additionalProperties": false
    });
    let values = check_valid(&invoice, 300);
    assert!(
        values.iter().any(|v| v.get("due").is_some())
            && values.iter().any(|v| v.get("due").is_none())
    );
    let draft7 = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"node": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}, "kids": {"type": "array", "items": {"$ref": "#/definitions/node"}}},
            "additionalProperties": false}},
        "type": "array",
        "items": [{"$ref": "#/definitions/node"}, {"type": "integer"}],
        "additionalItems": false
    });
    check_valid(&draft7, 300);
    let mixed = json!({
        "type": "object",
        "properties": {"kind": {"enum": ["a", "b"]}},
        "required": ["kind"],
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"required": ["alpha"], "properties": {"alpha": {"type": "integer", "multipleOf": 7}}},
        "else": {"required": ["beta"], "properties": {"beta": {"type": "string", "minLength": 2, "maxLength": 2}}},
        "patternProperties": {"^x-": {"type": "boolean"}},
        "dependentRequired": {"alpha": ["kind"]},
        "unevaluatedProperties": false
    });
    check_valid(&mixed, 300);
}

#[test]
fn shrinking_ends_at_a_minimal_valid_value() {
    use proptest::test_runner::TestError;
    use serde_json::json;
    let schema = json!({
        "type": "object",
        "required": ["id", "items"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
            "items": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 10}},
            "note": {"type": "string"}
        },
        "additionalProperties": false
    });
    let strategy = kiro_proptest::schema::strategy_for(&schema).expect("schema");
    let mut runner = runner();
    // A property every value fails: shrinking must end at the smallest value.
    let outcome = runner.run(&strategy, |_| {
        Err(proptest::test_runner::TestCaseError::fail("always"))
    });
    let Err(TestError::Fail(_, minimal)) = outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    assert!(jsonschema::is_valid(&schema, &minimal), "{minimal}");
    assert_eq!(minimal["items"], json!([10]), "{minimal}");
    assert!(minimal.get("note").is_none(), "{minimal}");
    assert_eq!(minimal.as_object().map(|o| o.len()), Some(2), "{minimal}");
}
