//! The checks of a correctness property's `kiro-property` block (K0019 to
//! K0025): the block a property renders ([`formal_block`]) is read as JSON
//! and walked value by value, so every problem is reported (not only the
//! first one serde meets) at the line of the part that is wrong.
//!
//! The JSON Schemas in `input` and `output` are checked for what needs no
//! JSON Schema library: a schema is an object or a boolean, `type` names
//! JSON types, each keyword this module knows has a value of its JSON type,
//! bounds do not exclude every value (`minLength` above `maxLength`), and a
//! local `$ref` points at a part of the schema. Keywords it does not know
//! are annotations, as JSON Schema says, and pass.

use std::ops::Range;

use serde_json::{Map, Value};

use super::{At, Finding, Needle};
use crate::format::{formal_block, Locator};
use crate::spec::{CorrectnessProperty, PropertyKind};
use crate::store::DocKind;

/// The block is not JSON, not an object, or does not read as a property
/// for a reason no finer rule names.
const JSON: &str = "K0019";
/// `kind` is missing or not a kind.
const KIND: &str = "K0020";
/// A field is unknown or has the wrong JSON type.
const FIELD: &str = "K0021";
/// `ops` is malformed or has the wrong count for the kind.
const OPS: &str = "K0022";
/// `target` or `reference` is malformed, or an oracle has no reference.
const TARGET: &str = "K0023";
/// An invariant has no `output` schema.
const OUTPUT: &str = "K0024";
/// A schema in `input` or `output` is wrong.
const SCHEMA: &str = "K0025";

/// The fields of a block ([`crate::spec::PropertySpec`]).
const FIELDS: &[&str] = &[
    "kind",
    "ops",
    "input",
    "output",
    "target",
    "reference",
    "rust",
    "cases",
];
/// The fields of a target ([`crate::spec::PropertyTarget`]): exactly one.
const TARGET_FIELDS: &[&str] = &["process", "http"];
/// The fields of an oracle's reference ([`crate::spec::PropertyReference`]).
const REFERENCE_FIELDS: &[&str] = &["op", "process", "http"];
/// The fields of a Rust binding ([`crate::spec::RustBinding`]).
const RUST_FIELDS: &[&str] = &["input_type", "f", "g", "reference"];

/// The JSON types a schema's `type` names.
const TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];
/// Keywords whose value is a schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a non-empty array of schemas.
const SCHEMA_LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is an object of schemas.
const SCHEMA_MAP_KEYWORDS: &[&str] = &[
    "$defs",
    "definitions",
    "dependentSchemas",
    "patternProperties",
    "properties",
];
/// Keywords whose value is a non-negative integer.
const COUNT_KEYWORDS: &[&str] = &[
    "maxContains",
    "maxItems",
    "maxLength",
    "maxProperties",
    "minContains",
    "minItems",
    "minLength",
    "minProperties",
];
/// Keywords whose value is a number.
const NUMBER_KEYWORDS: &[&str] = &["exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum"];
/// Keywords whose value is a string.
const STRING_KEYWORDS: &[&str] = &[
    "$anchor",
    "$comment",
    "$dynamicAnchor",
    "$dynamicRef",
    "$id",
    "$ref",
    "$schema",
    "contentEncoding",
    "contentMediaType",
    "description",
    "format",
    "pattern",
    "title",
];
/// Keywords whose value is a boolean.
const BOOLEAN_KEYWORDS: &[&str] = &["deprecated", "readOnly", "uniqueItems", "writeOnly"];
/// Lower and upper bounds that together may exclude every value, and
/// whether equal bounds already do (one of them is exclusive).
const BOUNDS: &[(&str, &str, bool)] = &[
    ("minLength", "maxLength", false),
    ("minItems", "maxItems", false),
    ("minProperties", "maxProperties", false),
    ("minContains", "maxContains", false),
    ("minimum", "maximum", false),
    ("exclusiveMinimum", "exclusiveMaximum", true),
    ("minimum", "exclusiveMaximum", true),
    ("exclusiveMinimum", "maximum", true),
];

/// A step into a JSON value.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// One problem with a block, before it is placed in the file.
struct Issue {
    code: &'static str,
    message: String,
    help: Option<String>,
    /// Where in the JSON: a member's key, or an element (empty: the block).
    path: Vec<Step>,
}

/// Collects the issues of one block.
struct Checker<'a> {
    /// `property 3`, the start of every message.
    name: &'a str,
    issues: Vec<Issue>,
}

impl Checker<'_> {
    fn push(&mut self, code: &'static str, path: &[Step], message: String, help: Option<&str>) {
        self.issues.push(Issue {
            code,
            message: format!("{}: {message}", self.name),
            help: help.map(str::to_owned),
            path: path.to_vec(),
        });
    }
}

/// Checks property `index`'s block, if it has one.
pub(crate) fn check(index: usize, p: &CorrectnessProperty, out: &mut Vec<Finding>) {
    let Some(block) = formal_block(p) else {
        return;
    };
    let json = block.json();
    let name = format!("property {}", p.id);
    let place = |line: usize, bytes: Range<usize>| {
        let at = Some(At {
            doc: DocKind::Design,
            locators: vec![Locator::PropertyFormal { index }],
            lines: 1,
        });
        // The JSON starts on the line after the opening fence.
        (
            at,
            Needle::At {
                line: line + 1,
                bytes,
            },
        )
    };
    let value: Value = match serde_json::from_str(json) {
        Ok(value) => value,
        Err(e) => {
            let line = e.line().saturating_sub(1);
            let column = e.column().saturating_sub(1);
            let (at, needle) = place(line, column..column + 1);
            out.push(Finding {
                code: JSON,
                message: format!("{name}: kiro-property block is not JSON: {}", reason(&e)),
                help: Some("write one JSON object between the fences".into()),
                at,
                needle,
            });
            return;
        }
    };
    let mut checker = Checker {
        name: &name,
        issues: Vec::new(),
    };
    check_block(&value, &mut checker);
    if checker.issues.is_empty() {
        // A shape this walk does not know of: serde's own words.
        if let Err(e) = block.read() {
            checker.push(
                JSON,
                &[],
                format!(
                    "kiro-property block does not read as a property: {}",
                    reason(&e)
                ),
                None,
            );
        }
    }
    for issue in checker.issues {
        let range = find_path(json, &issue.path).unwrap_or(0..0);
        let line = json
            .get(..range.start)
            .map_or(0, |s| s.matches('\n').count());
        let line_start = json
            .get(..range.start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line_end = json
            .get(range.start..)
            .and_then(|s| s.find('\n'))
            .map_or(json.len(), |i| range.start + i);
        let end = range.end.min(line_end).max(range.start);
        let (at, needle) = place(line, range.start - line_start..end - line_start);
        out.push(Finding {
            code: issue.code,
            message: issue.message,
            help: issue.help,
            at,
            needle,
        });
    }
}

/// serde's message without the position it appends (the diagnostic has it).
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// A value as JSON, cut short.
fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= 40 {
        return text;
    }
    let cut: String = text.chars().take(37).collect();
    format!("{cut}...")
}

fn with(path: &[Step], step: Step) -> Vec<Step> {
    let mut out = path.to_vec();
    out.push(step);
    out
}

fn key(path: &[Step], name: &str) -> Vec<Step> {
    with(path, Step::Key(name.to_owned()))
}

/// Reports the members of `object` not in `known`.
fn unknown_fields(
    object: &Map<String, Value>,
    known: &[&str],
    path: &[Step],
    what: &str,
    checker: &mut Checker<'_>,
) {
    for name in object.keys() {
        if !known.contains(&name.as_str()) {
            checker.push(
                FIELD,
                &key(path, name),
                format!("unknown field \"{name}\" in {what}"),
                Some(&format!("{what} has the fields {}", known.join(", "))),
            );
        }
    }
}

/// A present member: `None` for a missing one or `null`, which serde
/// reads as absent for every optional field.
fn member<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).filter(|v| !v.is_null())
}

fn check_block(value: &Value, checker: &mut Checker<'_>) {
    let Some(object) = value.as_object() else {
        checker.push(
            JSON,
            &[],
            format!("kiro-property block is not a JSON object: {}", show(value)),
            Some("write `{\"kind\": ..., \"ops\": [...], \"input\": <JSON Schema>}`"),
        );
        return;
    };
    unknown_fields(object, FIELDS, &[], "the kiro-property block", checker);
    let kind = check_kind(object, checker);
    check_ops(object, kind, checker);
    if let Some(input) = object.get("input") {
        check_schema_root(input, &key(&[], "input"), "input", checker);
    }
    match member(object, "output") {
        Some(output) => check_schema_root(output, &key(&[], "output"), "output", checker),
        None if kind == Some(PropertyKind::Invariant) => checker.push(
            OUTPUT,
            &[],
            "invariant property has no output schema".into(),
            Some(
                "add `\"output\": <JSON Schema>`: every output of the op must validate against it",
            ),
        ),
        None => {}
    }
    if let Some(target) = member(object, "target") {
        check_target(target, &key(&[], "target"), "target", checker);
    }
    let rust_reference = member(object, "rust")
        .and_then(|r| r.get("reference"))
        .is_some_and(Value::is_string);
    match member(object, "reference") {
        Some(reference) => check_reference(reference, checker),
        None if kind == Some(PropertyKind::Oracle) && !rust_reference => checker.push(
            TARGET,
            &[],
            "oracle property has no reference".into(),
            Some("add `\"reference\": {\"op\": \"<name>\", \"process\": [argv...]}` (or `\"http\": \"<base url>\"`)"),
        ),
        None => {}
    }
    if let Some(rust) = member(object, "rust") {
        check_rust(rust, checker);
    }
    if let Some(cases) = member(object, "cases") {
        let fits = cases
            .as_u64()
            .is_some_and(|n| (1..=u64::from(u32::MAX)).contains(&n));
        if !fits {
            checker.push(
                FIELD,
                &key(&[], "cases"),
                format!(
                    "cases must be a whole number from 1 to {}, found {}",
                    u32::MAX,
                    show(cases)
                ),
                None,
            );
        }
    }
}

/// The property's kind, or `None` (reported) when it has none.
fn check_kind(object: &Map<String, Value>, checker: &mut Checker<'_>) -> Option<PropertyKind> {
    let names: Vec<&str> = PropertyKind::ALL.iter().map(|k| k.as_str()).collect();
    let help = format!("the kinds are {}", names.join(", "));
    let Some(kind) = object.get("kind") else {
        checker.push(
            KIND,
            &[],
            "kiro-property block has no kind".into(),
            Some(&help),
        );
        return None;
    };
    let path = key(&[], "kind");
    let Some(name) = kind.as_str() else {
        checker.push(
            KIND,
            &path,
            format!("kind must be a string, found {}", show(kind)),
            Some(&help),
        );
        return None;
    };
    let found = PropertyKind::ALL.into_iter().find(|k| k.as_str() == name);
    if found.is_none() {
        checker.push(KIND, &path, format!("unknown kind \"{name}\""), Some(&help));
    }
    found
}

fn check_ops(object: &Map<String, Value>, kind: Option<PropertyKind>, checker: &mut Checker<'_>) {
    let path = key(&[], "ops");
    let count = match object.get("ops") {
        None => 0,
        Some(Value::Array(ops)) => {
            for (i, op) in ops.iter().enumerate() {
                let fine = op.as_str().is_some_and(|s| !s.trim().is_empty());
                if !fine {
                    checker.push(
                        OPS,
                        &with(&path, Step::Index(i)),
                        format!("op {} must be a non-empty name, found {}", i + 1, show(op)),
                        None,
                    );
                }
            }
            ops.len()
        }
        Some(other) => {
            checker.push(
                OPS,
                &path,
                format!(
                    "ops must be an array of operation names, found {}",
                    show(other)
                ),
                None,
            );
            return;
        }
    };
    let Some(kind) = kind else {
        return;
    };
    let needed = kind.ops_needed();
    if count != needed {
        let help = if needed == 2 {
            "`\"ops\": [\"f\", \"g\"]` checks that g(f(x)) equals x"
        } else {
            "`\"ops\": [\"f\"]` names the operation the property calls"
        };
        let at = if object.contains_key("ops") {
            path
        } else {
            Vec::new()
        };
        checker.push(
            OPS,
            &at,
            format!(
                "{kind} property needs {needed} op{}, found {count}",
                if needed == 1 { "" } else { "s" }
            ),
            Some(help),
        );
    }
}

/// Checks `{"process": [argv...]}` or `{"http": "<url>"}` (a target, or
/// the part of a reference that says where it runs).
fn check_target(value: &Value, path: &[Step], what: &str, checker: &mut Checker<'_>) {
    let help = "a target is `{\"process\": [argv...]}` or `{\"http\": \"<base url>\"}`";
    let Some(object) = value.as_object() else {
        checker.push(
            TARGET,
            path,
            format!("{what} must be an object, found {}", show(value)),
            Some(help),
        );
        return;
    };
    unknown_fields(object, TARGET_FIELDS, path, &format!("the {what}"), checker);
    check_where(object, path, what, checker);
}

/// The `process` or `http` member of a target or reference: exactly one,
/// well formed.
fn check_where(object: &Map<String, Value>, path: &[Step], what: &str, checker: &mut Checker<'_>) {
    match (member(object, "process"), member(object, "http")) {
        (Some(argv), None) => check_argv(argv, &key(path, "process"), what, checker),
        (None, Some(url)) => check_url(url, &key(path, "http"), what, checker),
        (Some(_), Some(_)) => checker.push(
            TARGET,
            path,
            format!("{what} names both process and http"),
            Some("keep one: a program speaking JSON lines, or an HTTP endpoint"),
        ),
        (None, None) => checker.push(
            TARGET,
            path,
            format!("{what} names neither process nor http"),
            Some("add `\"process\": [argv...]` or `\"http\": \"<base url>\"`"),
        ),
    }
}

fn check_argv(argv: &Value, path: &[Step], what: &str, checker: &mut Checker<'_>) {
    let Some(args) = argv.as_array().filter(|a| a.iter().all(Value::is_string)) else {
        checker.push(
            TARGET,
            path,
            format!(
                "{what} process must be an array of strings (argv), found {}",
                show(argv)
            ),
            None,
        );
        return;
    };
    let program = args.first().and_then(Value::as_str).unwrap_or("");
    if program.trim().is_empty() {
        checker.push(
            TARGET,
            path,
            format!("{what} process has no program to run"),
            Some("name the program first: `[\"python3\", \"codec.py\"]`"),
        );
    }
}

fn check_url(url: &Value, path: &[Step], what: &str, checker: &mut Checker<'_>) {
    let Some(text) = url.as_str() else {
        checker.push(
            TARGET,
            path,
            format!("{what} http must be a URL string, found {}", show(url)),
            None,
        );
        return;
    };
    let lower = text.to_ascii_lowercase();
    let host = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme));
    match host {
        None => checker.push(
            TARGET,
            path,
            format!("{what} url \"{text}\" does not start with http:// or https://"),
            None,
        ),
        Some(rest) if rest.trim().is_empty() || rest.starts_with('/') => checker.push(
            TARGET,
            path,
            format!("{what} url \"{text}\" has no host"),
            None,
        ),
        Some(_) => {}
    }
}

fn check_reference(value: &Value, checker: &mut Checker<'_>) {
    let path = key(&[], "reference");
    let Some(object) = value.as_object() else {
        checker.push(
            TARGET,
            &path,
            format!("reference must be an object, found {}", show(value)),
            Some("a reference is `{\"op\": \"<name>\", \"process\": [argv...]}` or with `\"http\": \"<base url>\"`"),
        );
        return;
    };
    unknown_fields(object, REFERENCE_FIELDS, &path, "the reference", checker);
    match object.get("op") {
        Some(Value::String(op)) if !op.trim().is_empty() => {}
        Some(other) => checker.push(
            TARGET,
            &key(&path, "op"),
            format!(
                "reference op must be a non-empty name, found {}",
                show(other)
            ),
            None,
        ),
        None => checker.push(
            TARGET,
            &path,
            "reference has no op".into(),
            Some("name the operation the reference answers: `\"op\": \"encode\"`"),
        ),
    }
    check_where(object, &path, "reference", checker);
}

fn check_rust(value: &Value, checker: &mut Checker<'_>) {
    let path = key(&[], "rust");
    let Some(object) = value.as_object() else {
        checker.push(
            FIELD,
            &path,
            format!(
                "rust must be an object of Rust names, found {}",
                show(value)
            ),
            None,
        );
        return;
    };
    unknown_fields(object, RUST_FIELDS, &path, "the rust binding", checker);
    for name in RUST_FIELDS {
        if let Some(v) = member(object, name).filter(|v| !v.is_string()) {
            checker.push(
                FIELD,
                &key(&path, name),
                format!("rust.{name} must be a string, found {}", show(v)),
                None,
            );
        }
    }
}

/// Checks the schema `root` (the block's `input` or `output`).
fn check_schema_root(root: &Value, path: &[Step], what: &str, checker: &mut Checker<'_>) {
    let mut walk = SchemaWalk {
        root,
        base: path.len(),
        what,
        checker,
    };
    walk.schema(root, path);
}

/// A walk over one schema and its subschemas.
struct SchemaWalk<'a, 'c, 'n> {
    root: &'a Value,
    /// The length of the root's path, to name places in the schema.
    base: usize,
    what: &'a str,
    checker: &'c mut Checker<'n>,
}

impl SchemaWalk<'_, '_, '_> {
    /// Reports a problem of the schema at `schema`, placed at `at`.
    fn push(&mut self, schema: &[Step], at: &[Step], message: String, help: Option<&str>) {
        let inner = schema.get(self.base..).unwrap_or(&[]);
        let place = if inner.is_empty() {
            format!("{} schema", self.what)
        } else {
            let pointer: String = inner
                .iter()
                .map(|s| match s {
                    Step::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
                    Step::Index(i) => format!("/{i}"),
                })
                .collect();
            format!("{} schema at {pointer}", self.what)
        };
        self.checker
            .push(SCHEMA, at, format!("{place}: {message}"), help);
    }

    fn schema(&mut self, value: &Value, path: &[Step]) {
        let object = match value {
            Value::Bool(_) => return,
            Value::Object(object) => object,
            other => {
                self.push(
                    path,
                    path,
                    format!(
                        "a schema must be an object or a boolean, found {}",
                        show(other)
                    ),
                    None,
                );
                return;
            }
        };
        for (name, v) in object {
            let at = key(path, name);
            let name = name.as_str();
            if SCHEMA_KEYWORDS.contains(&name) {
                self.schema(v, &at);
            } else if SCHEMA_LIST_KEYWORDS.contains(&name) {
                self.schema_list(path, name, v, &at);
            } else if SCHEMA_MAP_KEYWORDS.contains(&name) {
                self.schema_map(path, name, v, &at);
            } else if COUNT_KEYWORDS.contains(&name) {
                let count = v.as_u64().is_some()
                    || v.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0);
                if !count {
                    self.wrong(path, name, "a non-negative integer", v, &at);
                }
            } else if NUMBER_KEYWORDS.contains(&name) {
                if !v.is_number() {
                    self.wrong(path, name, "a number", v, &at);
                }
            } else if STRING_KEYWORDS.contains(&name) {
                if !v.is_string() {
                    self.wrong(path, name, "a string", v, &at);
                } else if name == "$ref" {
                    self.reference(v.as_str().unwrap_or(""), path, &at);
                }
            } else if BOOLEAN_KEYWORDS.contains(&name) {
                if !v.is_boolean() {
                    self.wrong(path, name, "a boolean", v, &at);
                }
            } else {
                self.special(path, name, v, &at);
            }
        }
        self.bounds(object, path);
    }

    /// Keywords with a value of their own shape.
    fn special(&mut self, schema: &[Step], name: &str, v: &Value, at: &[Step]) {
        match name {
            "type" => self.types(schema, v, at),
            "multipleOf" if !v.as_f64().is_some_and(|f| f > 0.0) => {
                self.wrong(schema, name, "a number greater than 0", v, at);
            }
            "required" if !is_string_array(v) => {
                self.wrong(schema, name, "an array of property names", v, at);
            }
            "enum" | "examples" if !v.is_array() => {
                self.wrong(schema, name, "an array", v, at);
            }
            "items" => match v {
                // Draft 7 writes one schema per position.
                Value::Array(list) => {
                    for (i, item) in list.iter().enumerate() {
                        self.schema(item, &with(at, Step::Index(i)));
                    }
                }
                other => self.schema(other, at),
            },
            "dependentRequired" => match v.as_object() {
                Some(map) => {
                    for (k, names) in map {
                        if !is_string_array(names) {
                            self.wrong(
                                schema,
                                name,
                                "an object of arrays of property names",
                                names,
                                &key(at, k),
                            );
                        }
                    }
                }
                None => self.wrong(schema, name, "an object of arrays of property names", v, at),
            },
            "dependencies" => match v.as_object() {
                // Draft 7: a schema or the names a property requires.
                Some(map) => {
                    for (k, dependency) in map {
                        if !is_string_array(dependency) {
                            self.schema(dependency, &key(at, k));
                        }
                    }
                }
                None => self.wrong(schema, name, "an object", v, at),
            },
            // Annotations and keywords of other vocabularies pass.
            _ => {}
        }
    }

    fn wrong(&mut self, schema: &[Step], name: &str, expected: &str, found: &Value, at: &[Step]) {
        let message = format!("{name} must be {expected}, found {}", show(found));
        self.push(schema, at, message, None);
    }

    fn types(&mut self, schema: &[Step], v: &Value, at: &[Step]) {
        let help = format!("the types are {}", TYPES.join(", "));
        let names: Vec<(Vec<Step>, &Value)> = match v {
            Value::Array(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, t)| (with(at, Step::Index(i)), t))
                .collect(),
            Value::String(_) => vec![(at.to_vec(), v)],
            other => {
                self.push(
                    schema,
                    at,
                    format!(
                        "type must be a type name or a non-empty array of them, found {}",
                        show(other)
                    ),
                    Some(&help),
                );
                return;
            }
        };
        for (path, t) in names {
            match t.as_str() {
                Some(name) if TYPES.contains(&name) => {}
                _ => self.push(
                    schema,
                    &path,
                    format!("type {} is not a JSON type", show(t)),
                    Some(&help),
                ),
            }
        }
    }

    fn schema_list(&mut self, schema: &[Step], name: &str, v: &Value, at: &[Step]) {
        match v.as_array() {
            Some(list) if !list.is_empty() => {
                for (i, item) in list.iter().enumerate() {
                    self.schema(item, &with(at, Step::Index(i)));
                }
            }
            _ => self.wrong(schema, name, "a non-empty array of schemas", v, at),
        }
    }

    fn schema_map(&mut self, schema: &[Step], name: &str, v: &Value, at: &[Step]) {
        match v.as_object() {
            Some(map) => {
                for (k, item) in map {
                    self.schema(item, &key(at, k));
                }
            }
            None => self.wrong(schema, name, "an object of schemas", v, at),
        }
    }

    /// A local `$ref` (`#`, `#/$defs/node`) must point into the schema.
    fn reference(&mut self, target: &str, schema: &[Step], at: &[Step]) {
        let Some(fragment) = target.strip_prefix('#') else {
            return;
        };
        // `#name` is an anchor, which needs the whole resource to resolve.
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return;
        }
        if self.root.pointer(fragment).is_none() {
            self.push(
                schema,
                at,
                format!("$ref \"{target}\" points at nothing in the schema"),
                Some("define it under `$defs` (or `definitions`) of this schema"),
            );
        }
    }

    /// Bounds that no value can meet.
    fn bounds(&mut self, object: &Map<String, Value>, path: &[Step]) {
        for (low, high, strict) in BOUNDS {
            let (Some(a), Some(b)) = (
                object.get(*low).and_then(Value::as_f64),
                object.get(*high).and_then(Value::as_f64),
            ) else {
                continue;
            };
            if a > b || (*strict && a == b) {
                let (shown_a, shown_b) = (
                    object.get(*low).map(show).unwrap_or_default(),
                    object.get(*high).map(show).unwrap_or_default(),
                );
                self.push(
                    path,
                    &key(path, low),
                    format!("{low} {shown_a} and {high} {shown_b} leave no value"),
                    None,
                );
            }
        }
    }
}

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// The byte range in `json` (valid JSON) of what `path` names: a member's
/// key (quotes included), an element, or for an empty path the value's
/// first byte. `None` when the path is not there.
fn find_path(json: &str, path: &[Step]) -> Option<Range<usize>> {
    let mut scan = Scanner { json, at: 0 };
    scan.space();
    let mut found = scan.at..scan.at + 1;
    for step in path {
        scan.space();
        match step {
            Step::Key(name) => {
                scan.eat(b'{')?;
                loop {
                    scan.space();
                    let key = scan.string()?;
                    let read: String = serde_json::from_str(json.get(key.clone())?).ok()?;
                    scan.space();
                    scan.eat(b':')?;
                    scan.space();
                    if read == *name {
                        found = key;
                        break;
                    }
                    scan.value()?;
                    scan.space();
                    scan.eat(b',')?;
                }
            }
            Step::Index(n) => {
                scan.eat(b'[')?;
                for _ in 0..*n {
                    scan.value()?;
                    scan.space();
                    scan.eat(b',')?;
                }
                scan.space();
                let mut probe = Scanner { json, at: scan.at };
                found = probe.value()?;
            }
        }
    }
    Some(found)
}

/// A cursor over valid JSON that skips values without building them.
struct Scanner<'a> {
    json: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.json.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.at;
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(start..self.at);
                }
                _ => self.at += 1,
            }
        }
    }

    fn value(&mut self) -> Option<Range<usize>> {
        self.space();
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                self.space();
                if self.eat(close).is_none() {
                    loop {
                        if open == b'{' {
                            self.space();
                            self.string()?;
                            self.space();
                            self.eat(b':')?;
                        }
                        self.value()?;
                        self.space();
                        if self.eat(b',').is_none() {
                            self.eat(close)?;
                            break;
                        }
                    }
                }
            }
            _ => {
                while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.at += 1;
                }
            }
        }
        Some(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(schema: &Value) -> Vec<String> {
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        out.sort();
        out
    }

    /// The field lists are those of the model's types, so lint and the
    /// parser cannot disagree on what a block may hold.
    #[test]
    fn field_lists_match_the_model() {
        use crate::spec::{PropertyReference, PropertySpec, PropertyTarget, RustBinding};
        let schema = |s: schemars::Schema| serde_json::to_value(s).unwrap_or_default();
        assert_eq!(
            keys(&schema(schemars::schema_for!(PropertySpec))),
            sorted(FIELDS)
        );
        assert_eq!(
            keys(&schema(schemars::schema_for!(PropertyReference))),
            sorted(REFERENCE_FIELDS)
        );
        assert_eq!(
            keys(&schema(schemars::schema_for!(RustBinding))),
            sorted(RUST_FIELDS)
        );
        let mut targets: Vec<String> = [
            PropertyTarget::Process(Vec::new()),
            PropertyTarget::Http(String::new()),
        ]
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .filter_map(|v| v.as_object().and_then(|m| m.keys().next().cloned()))
        .collect();
        targets.sort();
        assert_eq!(targets, sorted(TARGET_FIELDS));
    }

    #[test]
    fn paths_are_found_in_the_text() {
        let json =
            "{\"a\": [1, {\"b\\u0063\": \"x\"}, [true]],\n \"d\": {\"e\": null}, \"f\": \"}\"}";
        for (path, found) in [
            (vec![], Some("{")),
            (vec![Step::Key("a".into())], Some("\"a\"")),
            (
                vec![Step::Key("d".into()), Step::Key("e".into())],
                Some("\"e\""),
            ),
            (vec![Step::Key("f".into())], Some("\"f\"")),
            (
                vec![
                    Step::Key("a".into()),
                    Step::Index(1),
                    Step::Key("bc".into()),
                ],
                Some("\"b\\u0063\""),
            ),
            (vec![Step::Key("a".into()), Step::Index(2)], Some("[true]")),
            (vec![Step::Key("a".into()), Step::Index(0)], Some("1")),
            (vec![Step::Key("z".into())], None),
            (vec![Step::Key("a".into()), Step::Index(3)], None),
        ] {
            let range = find_path(json, &path);
            assert_eq!(range.and_then(|r| json.get(r)), found, "{path:?}");
        }
    }
}
