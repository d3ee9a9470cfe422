//! Writing the Rust test file: first every property becomes a checked
//! [`Test`] (or an error naming what its block lacks), then the file is
//! written from those, so nothing is half-written when a property is
//! refused.

use kiro_core::escape::escape_control;
use kiro_core::spec::{CorrectnessProperty, PropertyKind, PropertySpec, PropertyTarget};

use super::names::{self, Idents};
use super::{CodegenError, GeneratedTest, RustTests, TestFile};

/// One property, checked, with everything its test needs.
struct Test<'a> {
    property: &'a CorrectnessProperty,
    kind: PropertyKind,
    /// The test function's name.
    name: String,
    cases: u32,
    /// How inputs are generated.
    input: Input,
    /// For invariants: the output schema as compact JSON.
    output: Option<String>,
    calls: Calls,
}

/// Where a test's inputs come from.
enum Input {
    /// `any::<T>()`.
    Typed(String),
    /// The JSON schema (compact JSON) given to `strategy_for`; for
    /// `rejects-invalid`, already negated.
    Schema(String),
}

/// What a test calls.
enum Calls {
    /// Rust functions, by path (`f`, then `g` or the reference).
    Rust { f: String, second: Option<String> },
    /// Ops of targets: the op names and an index into the file's targets
    /// (the reference of an oracle may live on another target).
    Target {
        target: usize,
        f: String,
        second: Option<(usize, String)>,
    },
}

/// The Rust expression that calls `op` with `&arg`: a `Result<_, String>`
/// in both forms (the target form may `?` out a failed call).
fn call(calls_on: &CallOn<'_>, arg: &str) -> String {
    match calls_on {
        CallOn::Rust(path) => format!("kiro_proptest::outcome!({path}(&{arg}))"),
        CallOn::Target(index, op) => format!(
            "reply({}().call({}, &{arg}))?",
            target_fn(*index),
            names::str_literal(op)
        ),
    }
}

/// One callee: a Rust function or an op on a target.
enum CallOn<'a> {
    Rust(&'a str),
    Target(usize, &'a str),
}

impl CallOn<'_> {
    /// How the callee is named in failure messages.
    fn label(&self) -> String {
        match self {
            CallOn::Rust(path) => names::str_literal(path),
            CallOn::Target(_, op) => names::str_literal(op),
        }
    }
}

fn target_fn(index: usize) -> String {
    format!("target_{}", index + 1)
}

pub(super) fn render(options: &RustTests<'_>) -> Result<TestFile, CodegenError> {
    let spec = options.spec;
    let properties: &[CorrectnessProperty] = spec
        .design
        .as_ref()
        .map_or(&[], |d| d.properties.as_slice());
    // The options first: they are wrong whatever the spec says.
    if let Some(krate) = &options.crate_name {
        if !names::is_ident(krate) {
            return Err(CodegenError::CrateName {
                name: escape_control(krate).into_owned(),
            });
        }
    }
    let selected = select(options, properties)?;
    // The scanner reads `Feature: <spec>,` up to the comma and refuses a
    // name with spaces.
    let readable = !spec.name.is_empty()
        && !spec
            .name
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || kiro_core::escape::is_unsafe_char(c));
    if !readable {
        return Err(CodegenError::SpecName {
            spec: escape_control(&spec.name).into_owned(),
        });
    }
    let mut idents = Idents::default();
    let mut targets: Vec<PropertyTarget> = Vec::new();
    let mut tests = Vec::with_capacity(selected.len());
    for (property, formal) in &selected {
        tests.push(plan(options, property, formal, &mut idents, &mut targets)?);
    }
    // The properties the design leaves unexecutable; those left out by
    // asking for others are not mentioned.
    let skipped: Vec<&CorrectnessProperty> =
        properties.iter().filter(|p| p.formal.is_none()).collect();
    Ok(TestFile {
        code: write_file(&spec.name, &command(options), &tests, &targets, &skipped),
        tests: tests
            .iter()
            .map(|t| GeneratedTest {
                property: t.property.id.clone(),
                name: t.name.clone(),
            })
            .collect(),
        skipped: skipped.iter().map(|p| p.id.clone()).collect(),
    })
}

/// The properties to generate, in document order, with their blocks.
fn select<'a>(
    options: &RustTests<'_>,
    properties: &'a [CorrectnessProperty],
) -> Result<Vec<(&'a CorrectnessProperty, &'a PropertySpec)>, CodegenError> {
    let spec = &options.spec.name;
    for id in &options.only {
        match properties.iter().find(|p| p.id == *id) {
            None => {
                let known: Vec<&str> = properties.iter().map(|p| p.id.as_str()).collect();
                return Err(CodegenError::UnknownProperty {
                    spec: spec.clone(),
                    id: escape_control(id.as_str()).into_owned(),
                    known: if known.is_empty() {
                        "none".to_owned()
                    } else {
                        escape_control(&known.join(", ")).into_owned()
                    },
                });
            }
            Some(p) if p.formal.is_none() => {
                return Err(CodegenError::NotExecutable {
                    spec: spec.clone(),
                    id: escape_control(id.as_str()).into_owned(),
                })
            }
            Some(_) => {}
        }
    }
    let selected: Vec<_> = properties
        .iter()
        .filter(|p| options.only.is_empty() || options.only.contains(&p.id))
        .filter_map(|p| p.formal.as_ref().map(|f| (p, f)))
        .collect();
    if selected.is_empty() {
        return Err(CodegenError::NoExecutableProperties { spec: spec.clone() });
    }
    Ok(selected)
}

/// Checks one property's block and decides its test's shape.
fn plan<'a>(
    options: &RustTests<'_>,
    property: &'a CorrectnessProperty,
    formal: &PropertySpec,
    idents: &mut Idents,
    targets: &mut Vec<PropertyTarget>,
) -> Result<Test<'a>, CodegenError> {
    let id = escape_control(property.id.as_str()).into_owned();
    let kind = formal.kind;
    let incomplete = |reason: String| CodegenError::Incomplete {
        id: id.clone(),
        kind,
        reason,
    };
    let cases = formal.cases.unwrap_or(options.default_cases);
    if cases == 0 {
        return Err(CodegenError::NoCases { id });
    }
    let output = match (kind, &formal.output) {
        (PropertyKind::Invariant, Some(schema)) => Some(schema.to_string()),
        (PropertyKind::Invariant, None) => {
            return Err(incomplete(
                "an invariant needs `output`, the JSON Schema every output validates against"
                    .into(),
            ))
        }
        _ => None,
    };
    let krate = options.crate_name.as_deref();
    let binding = formal.rust.as_ref();
    let rust_name = |field: &'static str, value: &str, path: bool| {
        let ok = if path {
            names::is_path(value)
        } else {
            names::is_type(value)
        };
        if ok {
            Ok(names::rename_crate(value, krate))
        } else {
            Err(CodegenError::RustName {
                id: id.clone(),
                field,
                value: escape_control(value).into_owned(),
                expected: if path {
                    "a Rust path such as `codec::encode`"
                } else {
                    "a Rust type such as `Vec<u8>`"
                },
            })
        }
    };
    let schema_input = || {
        let schema = if kind == PropertyKind::RejectsInvalid {
            serde_json::json!({ "not": formal.input })
        } else {
            formal.input.clone()
        };
        Input::Schema(schema.to_string())
    };
    let (input, calls) = match binding.and_then(|b| b.f.as_deref().map(|f| (b, f))) {
        Some((b, f)) => {
            let f = rust_name("f", f, true)?;
            let input = match &b.input_type {
                Some(_) if kind == PropertyKind::RejectsInvalid => {
                    return Err(incomplete(
                        "rejects-invalid generates inputs outside the input schema, so it \
                         cannot take them from `rust.input_type`"
                            .into(),
                    ))
                }
                Some(ty) => Input::Typed(rust_name("input_type", ty, false)?),
                None => schema_input(),
            };
            let second = match kind {
                PropertyKind::RoundTrip => {
                    Some(("g", b.g.as_deref(), "the function that undoes `rust.f`"))
                }
                PropertyKind::Oracle => Some((
                    "reference",
                    b.reference.as_deref(),
                    "the reference function `rust.f` must agree with",
                )),
                _ => None,
            };
            let second = match second {
                None => None,
                Some((field, Some(path), _)) => Some(rust_name(field, path, true)?),
                Some((field, None, what)) => {
                    return Err(incomplete(format!(
                        "with `rust.f`, kind `{kind}` needs `rust.{field}`, {what}"
                    )))
                }
            };
            (input, Calls::Rust { f, second })
        }
        None => {
            if let Some(b) = binding {
                let stray = [
                    ("input_type", b.input_type.is_some()),
                    ("g", b.g.is_some()),
                    ("reference", b.reference.is_some()),
                ]
                .into_iter()
                .find(|(_, set)| *set);
                if let Some((field, _)) = stray {
                    return Err(incomplete(format!(
                        "`rust.{field}` needs `rust.f`, the function the test calls"
                    )));
                }
            }
            let needed = kind.ops_needed();
            if formal.ops.len() < needed {
                return Err(incomplete(format!(
                    "needs {needed} op{} in `ops`, has {}",
                    if needed == 1 { "" } else { "s" },
                    formal.ops.len()
                )));
            }
            let Some(target) = &formal.target else {
                return Err(incomplete(
                    "needs a `target` (`{\"process\": [argv...]}` or `{\"http\": \"<url>\"}`) \
                     or a `rust` binding naming the functions to call"
                        .into(),
                ));
            };
            let target = target_index(targets, target);
            let f = formal.ops.first().cloned().unwrap_or_default();
            let second = match kind {
                PropertyKind::RoundTrip => {
                    Some((target, formal.ops.get(1).cloned().unwrap_or_default()))
                }
                PropertyKind::Oracle => {
                    let reference = formal.reference.as_ref();
                    let Some((place, op)) =
                        reference.and_then(|r| r.target().map(|t| (t, r.op.clone())))
                    else {
                        return Err(incomplete(
                            "an oracle needs `reference`: its `op` and exactly one of `process` and `http`"
                                .into(),
                        ));
                    };
                    Some((target_index(targets, &place), op))
                }
                _ => None,
            };
            (schema_input(), Calls::Target { target, f, second })
        }
    };
    Ok(Test {
        property,
        kind,
        name: idents.test_name(property.id.as_str(), &property.title),
        cases,
        input,
        output,
        calls,
    })
}

/// The index of `target` among the file's targets, added when new: tests
/// that name the same program or endpoint share one.
fn target_index(targets: &mut Vec<PropertyTarget>, target: &PropertyTarget) -> usize {
    match targets.iter().position(|t| t == target) {
        Some(i) => i,
        None => {
            targets.push(target.clone());
            targets.len() - 1
        }
    }
}

/// A file being written, line by line.
#[derive(Default)]
struct Out(String);

impl Out {
    fn line(&mut self, indent: usize, text: &str) {
        if !text.is_empty() {
            for _ in 0..indent {
                self.0.push_str("    ");
            }
            self.0.push_str(text);
        }
        self.0.push('\n');
    }
}

/// The `kiro` command line that writes the same file again.
fn command(options: &RustTests<'_>) -> String {
    let mut command = format!("kiro pbt gen {} --lang rust", options.spec.name);
    if let Some(krate) = &options.crate_name {
        command.push_str(" --crate ");
        command.push_str(krate);
    }
    for id in &options.only {
        command.push_str(" --property ");
        command.push_str(&names::comment_text(id.as_str()));
    }
    command
}

fn write_file(
    spec: &str,
    command: &str,
    tests: &[Test<'_>],
    targets: &[PropertyTarget],
    skipped: &[&CorrectnessProperty],
) -> String {
    let mut out = Out::default();
    let json = tests.iter().any(|t| matches!(t.input, Input::Schema(_)));
    let header = [
        format!("//! Property-based tests of the `{spec}` spec's correctness properties."),
        "//!".to_owned(),
        format!("//! Generated by `{command}`"),
        "//! from the `json kiro-property` blocks of the spec's design.md: change the".to_owned(),
        "//! properties there and generate the file again rather than editing it.".to_owned(),
        "//! Each test names the property and the acceptance criteria it validates,".to_owned(),
        "//! so `kiro trace` and `kiro verify` link it.".to_owned(),
        "//!".to_owned(),
        format!(
            "//! Dev-dependencies: `proptest`, `kiro-proptest`{}.",
            if json { ", `serde_json`" } else { "" }
        ),
    ];
    for line in header {
        out.line(0, &line);
    }
    for p in skipped {
        out.line(
            0,
            &format!(
                "//! Not generated: property {} ({}), which has no `json kiro-property` block.",
                names::comment_text(p.id.as_str()),
                names::comment_text(&p.title)
            ),
        );
    }
    out.line(0, "");
    if json {
        // Generated tests stop at once on a schema that is not JSON or that
        // `strategy_for` refuses: no case could run without it.
        out.line(0, "#![allow(clippy::expect_used, clippy::panic)]");
        out.line(0, "");
    }
    // In the order rustfmt sorts them, so that formatting the file leaves
    // it as it is.
    out.line(0, "use kiro_proptest::codegen::runtime as rt;");
    if !targets.is_empty() {
        let mut types = Vec::new();
        if targets.iter().any(|t| matches!(t, PropertyTarget::Http(_))) {
            types.push("HttpTarget");
        }
        if targets
            .iter()
            .any(|t| matches!(t, PropertyTarget::Process(_)))
        {
            types.push("ProcessTarget");
        }
        types.extend(["Reply", "Target", "TargetError"]);
        out.line(
            0,
            &format!("use kiro_proptest::target::{{{}}};", types.join(", ")),
        );
    }
    out.line(0, "use proptest::prelude::*;");
    if json {
        out.line(0, "use serde_json::Value;");
    }
    if !targets.is_empty() {
        out.line(0, "use std::sync::OnceLock;");
    }
    if json {
        out.line(0, "");
        for line in INPUTS_FN {
            out.line(0, line);
        }
    }
    if !targets.is_empty() {
        out.line(0, "");
        for line in REPLY_FN {
            out.line(0, line);
        }
    }
    for (index, target) in targets.iter().enumerate() {
        out.line(0, "");
        write_target(&mut out, index, target);
    }
    for test in tests {
        out.line(0, "");
        write_test(&mut out, spec, test);
    }
    out.0
}

/// Generates the inputs of schema-driven tests; written into files that
/// have any.
const INPUTS_FN: [&str; 6] = [
    "/// Inputs generated from a JSON Schema (given as JSON text).",
    "fn inputs(schema: &str) -> BoxedStrategy<Value> {",
    "    let schema: Value = serde_json::from_str(schema).expect(\"the schema is JSON\");",
    "    kiro_proptest::schema::strategy_for(&schema)",
    "        .unwrap_or_else(|e| panic!(\"cannot generate inputs from {schema}: {e}\"))",
    "}",
];

/// Turns a target's answer into the outcome the tests compare; written
/// into files that call targets.
const REPLY_FN: [&str; 9] = [
    "/// What a target answered: its value, or the error it reported. A call",
    "/// that got no answer (a crash, a timeout, a broken protocol) fails the case.",
    "fn reply(answer: Result<Reply, TargetError>) -> Result<Result<Value, String>, TestCaseError> {",
    "    match answer {",
    "        Ok(Reply::Ok(value)) => Ok(Ok(value)),",
    "        Ok(Reply::Error(message)) => Ok(Err(message)),",
    "        Err(failure) => Err(TestCaseError::fail(failure.to_string())),",
    "    }",
    "}",
];

/// rustfmt's line width: a line the emitter builds from spec text is laid
/// out the way rustfmt would lay it out at this width.
const WIDTH: usize = 100;

/// A function returning the shared target: started on first use, kept for
/// every later case and test.
fn write_target(out: &mut Out, index: usize, target: &PropertyTarget) {
    let (doc, ty) = match target {
        PropertyTarget::Process(argv) => (
            format!(
                "/// The program `{}`, run in the workspace root.",
                names::comment_text(&argv.join(" "))
            ),
            "ProcessTarget",
        ),
        PropertyTarget::Http(url) => (
            format!("/// The HTTP endpoint `{}`.", names::comment_text(url)),
            "HttpTarget",
        ),
    };
    out.line(0, &doc);
    out.line(0, &format!("fn {}() -> &'static {ty} {{", target_fn(index)));
    out.line(
        1,
        &format!("static TARGET: OnceLock<{ty}> = OnceLock::new();"),
    );
    // rustfmt keeps a constructor on one line when it fits, else puts its
    // arguments one per line, unless one of them cannot fit even so: then
    // it leaves the line as it is.
    let fits = |indent: usize, text: &str| indent * 4 + text.len() <= WIDTH;
    match target {
        PropertyTarget::Process(argv) => {
            let args: Vec<String> = argv.iter().map(|a| names::str_literal(a)).collect();
            let one_line = format!("ProcessTarget::new([{}])", args.join(", "));
            out.line(1, "TARGET.get_or_init(|| {");
            if fits(2, &one_line) || !args.iter().all(|a| fits(3, &format!("{a},"))) {
                out.line(2, &one_line);
                out.line(
                    3,
                    ".current_dir(rt::workspace_root(env!(\"CARGO_MANIFEST_DIR\")))",
                );
            } else {
                out.line(2, "ProcessTarget::new([");
                for arg in &args {
                    out.line(3, &format!("{arg},"));
                }
                out.line(2, "])");
                out.line(
                    2,
                    ".current_dir(rt::workspace_root(env!(\"CARGO_MANIFEST_DIR\")))",
                );
            }
            out.line(1, "})");
        }
        PropertyTarget::Http(url) => {
            let url = names::str_literal(url);
            let one_line = format!("TARGET.get_or_init(|| HttpTarget::new({url}))");
            let arg = format!("{url},");
            if fits(1, &one_line) || !fits(3, &arg) {
                out.line(1, &one_line);
            } else {
                out.line(1, "TARGET.get_or_init(|| {");
                out.line(2, "HttpTarget::new(");
                out.line(3, &arg);
                out.line(2, ")");
                out.line(1, "})");
            }
        }
    }
    out.line(0, "}");
}

fn write_test(out: &mut Out, spec: &str, test: &Test<'_>) {
    let p = test.property;
    let strategy = match &test.input {
        Input::Typed(ty) => format!("any::<{ty}>()"),
        Input::Schema(schema) => format!("inputs({})", names::raw_literal(schema)),
    };
    let args = if test.kind == PropertyKind::PermutationInvariant {
        match &test.input {
            Input::Typed(_) => format!(
                "(input, shuffled) in {strategy}.prop_flat_map(|input| (Just(input.clone()), Just(input).prop_shuffle()))"
            ),
            Input::Schema(_) => format!("(input, shuffled) in rt::shuffled({strategy})"),
        }
    } else {
        format!("input in {strategy}")
    };
    out.line(0, "proptest! {");
    out.line(
        1,
        &format!(
            "#![proptest_config(ProptestConfig::with_cases({}))]",
            test.cases
        ),
    );
    out.line(0, "");
    out.line(
        1,
        &format!(
            "/// **Feature: {spec}, Property {}: {}**",
            names::comment_text(p.id.as_str()),
            names::comment_text(&p.title)
        ),
    );
    let statement: Vec<String> = p.statement.lines().map(names::comment_text).collect();
    let statement = trim_blank(&statement);
    if !statement.is_empty() {
        out.line(1, "///");
        for line in statement {
            out.line(1, format!("/// {line}").trim_end());
        }
    }
    if test.kind == PropertyKind::RejectsInvalid {
        out.line(1, "///");
        out.line(
            1,
            "/// The inputs are generated outside the input schema (`not`).",
        );
    }
    if !p.validates.is_empty() {
        let ids: Vec<String> = p
            .validates
            .iter()
            .map(|c| names::comment_text(c.as_str()))
            .collect();
        out.line(1, "///");
        out.line(
            1,
            &format!("/// **Validates: Requirements {}**", ids.join(", ")),
        );
    }
    out.line(1, "#[test]");
    out.line(1, &format!("fn {}({args}) {{", test.name));
    for line in body(test) {
        out.line(2, &line);
    }
    out.line(1, "}");
    out.line(0, "}");
}

/// `lines` without leading and trailing blank ones.
fn trim_blank(lines: &[String]) -> &[String] {
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    lines.get(start..end).unwrap_or_default()
}

/// The statements of a test's body, by kind.
fn body(test: &Test<'_>) -> Vec<String> {
    let (f, second) = match &test.calls {
        Calls::Rust { f, second } => (CallOn::Rust(f), second.as_deref().map(CallOn::Rust)),
        Calls::Target { target, f, second } => (
            CallOn::Target(*target, f),
            second.as_ref().map(|(t, op)| CallOn::Target(*t, op)),
        ),
    };
    let ok = |on: &CallOn<'_>, arg: &str| format!("rt::ok({}, {})?", on.label(), call(on, arg));
    let mut lines = Vec::new();
    match test.kind {
        PropertyKind::RoundTrip => {
            let g = second.as_ref().unwrap_or(&f);
            lines.push(format!("let output = {};", ok(&f, "input")));
            lines.push(format!("let back = {};", ok(g, "output")));
            lines.push("prop_assert_eq!(back, input);".to_owned());
        }
        PropertyKind::Idempotent => {
            lines.push(format!("let once = {};", ok(&f, "input")));
            lines.push(format!("let twice = {};", ok(&f, "once")));
            lines.push("prop_assert_eq!(twice, once);".to_owned());
        }
        PropertyKind::Invariant => {
            let schema = test.output.as_deref().unwrap_or("true");
            lines.push(format!(
                "static OUTPUT: rt::OutputSchema = rt::OutputSchema::new({});",
                names::raw_literal(schema)
            ));
            lines.push(format!("let output = {};", ok(&f, "input")));
            lines.push("OUTPUT.check(&output)?;".to_owned());
        }
        PropertyKind::Oracle => {
            let reference = second.as_ref().unwrap_or(&f);
            lines.push(format!(
                "rt::agree({}, {}, {}, {})?;",
                f.label(),
                call(&f, "input"),
                reference.label(),
                call(reference, "input")
            ));
        }
        PropertyKind::PermutationInvariant => {
            lines.push(format!("let original = {};", ok(&f, "input")));
            lines.push(format!("let permuted = {};", ok(&f, "shuffled")));
            lines.push("prop_assert_eq!(permuted, original);".to_owned());
        }
        PropertyKind::NoError => {
            lines.push(format!("{};", ok(&f, "input")));
        }
        PropertyKind::RejectsInvalid => {
            lines.push(format!(
                "rt::rejected({}, {})?;",
                f.label(),
                call(&f, "input")
            ));
        }
    }
    lines
}
