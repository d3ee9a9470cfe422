//! The layer test: every top-level module sits in one layer and imports
//! (`crate::module`) only modules of lower layers, or of its own layer
//! without a cycle. ARCHITECTURE.md states the same order.
//!
//! A test module of the library rather than an integration test, so that it
//! runs in every feature set (`cargo test --lib`, minimal build included)
//! without linking a test binary of its own. It reads the sources, not the
//! compiled crate: modules behind a feature are checked in every build.

// Tests state their expectations with unwrap/panic; a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may import its own layer and those
/// before it.
///
/// The order differs from issue 12's first sketch (contracts → engine →
/// evidence) where the code shows a better one: the stage contracts hand
/// stages a `Workspace`, a `Config` and a `RunId`, and the `Verifier`
/// contract returns a `VerificationReport` whose verdicts the trace
/// resolver computes, so the runtime services and the evidence sit below
/// the contracts, and the engine (which writes the audit log) above them.
const LAYERS: &[(&str, &[&str])] = &[
    // Plain data and the crate's error.
    ("model", &["spec", "error"]),
    // Reading and writing text: markdown, EARS, the word list, widths, escaping.
    (
        "text",
        &["lexicon", "format", "ears", "text", "escape", "redact"],
    ),
    // What is checked on a spec alone: its plan, its links, lint, and the store that loads it.
    ("checks", &["plan", "links", "store", "lint"]),
    // What a run works through: configuration, sandbox, processes, checkpoints, workspace.
    (
        "runtime",
        &[
            "sandbox",
            "config",
            "process",
            "checkpoint",
            "workspace",
            "identity",
            "git",
        ],
    ),
    // Test results, the trace resolver and its verdicts, and the report renderers.
    ("evidence", &["verify", "trace", "report"]),
    // The seams integrators implement: the stage traits and memory recall.
    ("contracts", &["memory", "stage"]),
    // The engine, its default stages, and the audit log it writes.
    ("engine", &["audit", "governance", "pipeline", "stages"]),
    // The use cases a program embedding kiro-core calls.
    ("project", &["project"]),
];

/// Modules of [`LAYERS`] that other branches of issue 12 add. Each must be
/// absent: once it exists, its entry here fails the test and is removed.
///
/// - `links`: the trace resolver's leaf (trace/verify/report engineer).
/// - `project`: the project layer (project engineer).
const NOT_YET_PRESENT: &[&str] = &[];

/// Imports that break the order today, each removed by another part of
/// issue 12 (the lead empties this list after merging them). An entry that
/// no longer matches an import fails the test, so the list cannot outlive
/// the violations it excuses.
const KNOWN_VIOLATIONS: &[(&str, &str, &str)] = &[];

/// The top-level modules of `src/` and, for each, the modules it imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push(entry.unwrap().path());
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "layers" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let deps = graph.entry(top.clone()).or_default();
        for dep in crate_paths(&code_of(&text)) {
            if dep != top {
                deps.insert(dep);
            }
        }
    }
    graph
}

/// The code of a source file that builds into the library: comments (doc
/// comments included: a doc link is not an import) and the trailing
/// `#[cfg(test)] mod tests` removed.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string (a URL) is rare in paths that matter;
            // cutting the rest of such a line can only hide an import, and
            // imports are written one per line by rustfmt.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every `crate::` path, groups included:
/// `use crate::{a::b, c::{d, e}}` names `a` and `c`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `foo_crate::x` is another path; only a `crate` keyword counts.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start_of_item = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => start_of_item = true,
                    c if depth == 1 && start_of_item && (c.is_alphabetic() || c == '_') => {
                        out.insert(ident(&group[i..]));
                        start_of_item = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Where each module sits: (layer index, layer name).
fn layer_of() -> BTreeMap<&'static str, (usize, &'static str)> {
    let mut out = BTreeMap::new();
    for (i, (name, modules)) in LAYERS.iter().enumerate() {
        for m in *modules {
            assert!(out.insert(*m, (i, *name)).is_none(), "{m} is in two layers");
        }
    }
    out
}

/// The problems of a module graph against [`LAYERS`]: modules without a
/// layer, imports of a higher layer, cycles inside a layer, each except
/// those `allowed`; plus allowed imports that are not there.
fn check_layers(
    graph: &BTreeMap<String, BTreeSet<String>>,
    allowed: &[(&str, &str, &str)],
) -> Vec<String> {
    let layers = layer_of();
    let mut problems = Vec::new();
    let is_allowed = |from: &str, to: &str| allowed.iter().any(|(f, t, _)| *f == from && *t == to);
    for (module, deps) in graph {
        let Some(&(level, layer)) = layers.get(module.as_str()) else {
            problems.push(format!(
                "module `{module}` is in no layer: add it to LAYERS"
            ));
            continue;
        };
        for dep in deps {
            // `crate::Error`, `crate::Result` and re-exports at the root
            // are the model's; names the graph does not know are not modules.
            let Some(&(dep_level, dep_layer)) = layers.get(dep.as_str()) else {
                continue;
            };
            if dep_level > level && !is_allowed(module, dep) {
                problems.push(format!(
                    "`{module}` ({layer}) imports `{dep}` ({dep_layer}), a higher layer"
                ));
            }
        }
    }
    // Same-layer imports must not go round: follow them, skipping allowed ones.
    for (module, deps) in graph {
        for dep in deps {
            let same_layer =
                layers.get(module.as_str()).map(|l| l.0) == layers.get(dep.as_str()).map(|l| l.0);
            if same_layer && !is_allowed(module, dep) && reaches(graph, dep, module, &is_allowed) {
                problems.push(format!(
                    "`{module}` and `{dep}` import each other (a cycle)"
                ));
            }
        }
    }
    for (from, to, who) in allowed {
        if !graph.get(*from).is_some_and(|deps| deps.contains(*to)) {
            problems.push(format!(
                "allowed violation `{from}` -> `{to}` ({who}) is gone: remove it from KNOWN_VIOLATIONS"
            ));
        }
    }
    problems
}

/// Whether `to` is reachable from `from` by imports that are not allowed
/// violations.
fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    is_allowed: &dyn Fn(&str, &str) -> bool,
) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if !seen.insert(m.clone()) {
            continue;
        }
        for dep in graph.get(&m).into_iter().flatten() {
            if !is_allowed(&m, dep) {
                stack.push(dep.clone());
            }
        }
    }
    false
}

#[test]
fn no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    let mut problems = check_layers(&graph, KNOWN_VIOLATIONS);
    let layers = layer_of();
    for module in layers.keys() {
        let present = graph.contains_key(*module);
        let pending = NOT_YET_PRESENT.contains(module);
        if present && pending {
            problems.push(format!(
                "`{module}` exists now: remove it from NOT_YET_PRESENT"
            ));
        } else if !present && !pending {
            problems.push(format!("`{module}` is in LAYERS but not in src/"));
        }
    }
    assert!(
        problems.is_empty(),
        "layer order broken:\n  {}",
        problems.join("\n  ")
    );
}

/// The checker itself, on small graphs: it must be able to fail.
#[test]
fn the_checker_finds_each_kind_of_break() {
    let graph = |edges: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
            .collect()
    };
    let check = |edges: &[(&str, &[&str])], allowed: &[(&str, &str, &str)], expected: &[&str]| {
        assert_eq!(check_layers(&graph(edges), allowed), expected, "{edges:?}");
    };
    check(&[("lint", &["spec", "store"]), ("spec", &[])], &[], &[]);
    check(
        &[("lint", &["report"]), ("report", &[])],
        &[],
        &["`lint` (checks) imports `report` (evidence), a higher layer"],
    );
    check(
        &[("lint", &["report"]), ("report", &[])],
        &[("lint", "report", "someone")],
        &[],
    );
    check(
        &[("lint", &[]), ("report", &[])],
        &[("lint", "report", "someone")],
        &["allowed violation `lint` -> `report` (someone) is gone: remove it from KNOWN_VIOLATIONS"],
    );
    check(
        &[("trace", &["verify"]), ("verify", &["trace"])],
        &[],
        &[
            "`trace` and `verify` import each other (a cycle)",
            "`verify` and `trace` import each other (a cycle)",
        ],
    );
    check(
        &[("trace", &["verify"]), ("verify", &["trace"])],
        &[("verify", "trace", "someone")],
        &[],
    );
    check(
        &[("gadget", &["spec"])],
        &[],
        &["module `gadget` is in no layer: add it to LAYERS"],
    );
}

#[test]
fn crate_paths_are_read_from_uses_groups_and_inline_paths() {
    let check = |code: &str, expected: &[&str]| {
        let got: Vec<String> = crate_paths(&code_of(code)).into_iter().collect();
        assert_eq!(got, expected, "{code}");
    };
    check("use crate::spec::Spec;", &["spec"]);
    check(
        "use crate::{a::b, c::{d, e}, f};\nuse crate::g;",
        &["a", "c", "f", "g"],
    );
    check("let x = crate::store::read(p)?;", &["store"]);
    check("use my_crate::x; // crate::lint::Severity", &[]);
    check("/// See [`crate::report`].\nfn f() {}", &[]);
    check(
        "use crate::spec;\n#[cfg(test)]\nmod tests {\n    use crate::report;\n}\n",
        &["spec"],
    );
    check(
        "pub use crate::{\n    error::Error,\n    memory,\n};",
        &["error", "memory"],
    );
}
