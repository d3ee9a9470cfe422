//! Spec lint: diagnostics with stable codes, rendered as rustc-like text,
//! JSON or SARIF 2.1.0.
//!
//! [`lint`] checks a spec folder as loaded by [`crate::store::load_spec`]
//! and points each finding at a file, line and column; [`lint_spec`] checks
//! a model built in memory (no positions). Both return diagnostics sorted by
//! file, line, column and code. [`render_human`], [`render_json`] and
//! [`render_sarif`] turn them into output.
//!
//! # Rules
//!
//! Codes are stable: a rule keeps its code forever and a retired code is
//! never reused. [`RULES`] is the table, in code order:
//!
//! | Code | Name | Severity | Fires when |
//! |---|---|---|---|
//! | K0000 | `load-error` | error | a spec could not be loaded: a file cannot be read, is not UTF-8 or is over the input limit ([`LOAD_ERROR`], [`Diagnostic::load_error`]; not in [`RULES`]) |
//! | K0001 | `not-ears` | warning | a criterion has a SHALL but follows no EARS pattern |
//! | K0002 | `missing-shall` | warning | a criterion has no SHALL, nor the modal verb of another language (`MUSS`, `DEVE`, `应`, `しなければならない`, `해야 한다`: [`crate::lexicon::ears`]) |
//! | K0003 | `multiple-shall` | warning | a criterion has more than one SHALL |
//! | K0004 | `vague-term` | warning | a criterion uses a vague term ([`VAGUE_TERMS`]) |
//! | K0005 | `escape-clause` | warning | a criterion has an escape clause ([`ESCAPE_CLAUSES`]) |
//! | K0006 | `placeholder` | warning | text holds TBD, TODO, TBC, FIXME, XXX or "to be determined" |
//! | K0007 | `duplicate-id` | error | two requirements, criteria, properties or tasks share an id |
//! | K0008 | `duplicate-glossary-term` | warning | the glossary defines a term twice |
//! | K0009 | `undefined-criterion` | error | a task links a criterion or requirement that is not defined |
//! | K0010 | `uncovered-criterion` | warning | no task covers a criterion (only when the spec has tasks) |
//! | K0011 | `property-validates-nothing` | warning | a correctness property names no criterion |
//! | K0012 | `property-undefined-criterion` | error | a property validates a criterion that is not defined |
//! | K0013 | `missing-dependency` | error | a task depends on a task that does not exist |
//! | K0014 | `dependency-cycle` | error | tasks wait for each other in a circle, as a run orders them (see below) |
//! | K0015 | `format` | warning | the parser could not read part of a file as the Kiro format |
//! | K0016 | `undefined-property` | error | a task tests a property that design.md does not define |
//! | K0017 | `unreadable-metadata` | note | part of `.config.kiro` or `spec.json` could not be read (the spec still loads) |
//! | K0018 | `unreadable-depends` | error | an item of a `_Depends:` line names no task (`_Depends: task one_`) |
//! | K0019 | `property-block-json` | error | a property's `kiro-property` block is not JSON (at the line and column of the error), not an object, or does not read as a property for a reason no rule below names |
//! | K0020 | `property-kind` | error | the block has no `kind`, or one that is not a kind ([`crate::spec::PropertyKind`]; the help lists them) |
//! | K0021 | `property-field` | error | the block, its `target`, `reference` or `rust` has an unknown field, or `rust` or `cases` a value of the wrong type |
//! | K0022 | `property-ops` | error | `ops` is not an array of names, or not as many as the kind calls (two for `round-trip`, one otherwise) |
//! | K0023 | `property-target` | error | `target` or `reference` is malformed (both or neither of `process` and `http`, an empty argv, a URL not starting with `http://` or `https://`, a reference without `op`), or an `oracle` has no reference (nor `rust.reference`) |
//! | K0024 | `property-output` | error | an `invariant` has no `output` schema |
//! | K0025 | `property-schema` | error | a schema in `input` or `output` is neither an object nor a boolean, has a `type` that is no JSON type, a known keyword with a value of the wrong JSON type (`"minLength": "3"`, `required` not an array of strings, `properties` not an object), bounds that leave no value (`minLength` above `maxLength`), or a local `$ref` that points at nothing |
//!
//! The property rules (K0019 to K0025) check the block each correctness
//! property renders ([`crate::format::formal_block`]). They walk its JSON
//! value by value, so that every problem is reported, each at the line (and
//! column) of the member that is wrong inside the block; the JSON Schemas
//! are checked for what needs no JSON Schema library.
//!
//! Criteria are the acceptance criteria of `requirements.md` and, in a
//! bugfix spec, the clauses of the *Expected* and *Unchanged* behaviour
//! groups. *Current behaviour* clauses describe the defect, so only K0006
//! applies to them. A criterion is covered (K0010) when a task links it, its
//! whole requirement (`_Requirements: 6_`), or a property that validates it,
//! or when a task's link reads `All`. Link checks (K0009, K0012) run only
//! when the spec defines at least one requirement, and K0016 only when it
//! has a design: against an empty or missing document every link would be
//! reported.
//!
//! The plan rules (K0007 for task ids, K0013, K0014, K0018) check the graph
//! a run executes, built by [`crate::plan::Plan`], the engine's own
//! builder: a parent waits for its sub-tasks and, in document order (the
//! default, [`LintOptions::order`]), a task without `_Depends:` waits for
//! the one before it, so a sub-task that depends on its parent, or a task
//! that depends on a later one, is a cycle. A run refuses a plan with any
//! of these errors ([`crate::Error::AmbiguousPlan`]), naming the same
//! problems; lint's other errors do not stop a run.
//!
//! ```
//! use kiro_core::lint::{lint_spec, Severity};
//! use kiro_core::spec::{AcceptanceCriterion, CriterionId, Requirement, RequirementId, RequirementsDoc, Spec};
//!
//! let criterion = AcceptanceCriterion {
//!     id: CriterionId::new("1.1"),
//!     text: "THE App SHALL start fast".into(),
//!     ears: None,
//! };
//! let spec = Spec {
//!     requirements: Some(RequirementsDoc {
//!         requirements: vec![Requirement { id: RequirementId::new("1"), criteria: vec![criterion], ..Requirement::default() }],
//!         ..RequirementsDoc::default()
//!     }),
//!     ..Spec::default()
//! };
//! let diagnostics = lint_spec(&spec);
//! assert_eq!(diagnostics.len(), 1);
//! assert_eq!(diagnostics[0].code, "K0004");
//! assert_eq!(diagnostics[0].severity, Severity::Warning);
//! assert_eq!(diagnostics[0].message, "vague term \"fast\" in criterion 1.1");
//! ```

mod checks;
mod metadata;
mod plan;
mod property;
mod render;
mod terms;

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

use crate::format::Locator;
use crate::spec::{Spec, TaskOrder};
use crate::store::{DocKind, LoadedSpec, SourceFile};

pub use render::{render_human, render_json, render_sarif, LOAD_ERROR};
pub use terms::{ESCAPE_CLAUSES, PLACEHOLDERS, PLACEHOLDER_PHRASES, VAGUE_TERMS};

/// How serious a diagnostic is. Ordered `Note < Warning < Error`, so that
/// `--deny warnings` can keep every diagnostic `>= Severity::Warning`.
///
/// ```
/// use kiro_core::lint::Severity;
///
/// assert!(Severity::Note < Severity::Warning && Severity::Warning < Severity::Error);
/// assert_eq!(serde_json::to_string(&Severity::Warning).unwrap(), "\"warning\"");
/// ```
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The spec is wrong: a broken link, a duplicate id, a cycle.
    Error,
    /// The spec is weak: a criterion that is hard to test or not traced.
    Warning,
    /// Worth knowing, nothing to fix.
    Note,
}

impl Severity {
    /// The lower-case name: `error`, `warning`, `note` (also SARIF's level).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Severity::Note => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lint rule: its stable code, a kebab-case name, the severity its
/// diagnostics carry, and a one-line summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `K0001`...; never renumbered.
    pub code: &'static str,
    /// Kebab-case name, e.g. `vague-term`.
    pub name: &'static str,
    /// Severity of its diagnostics.
    pub severity: Severity,
    /// What the rule checks, one sentence.
    pub summary: &'static str,
}

/// Every rule, in code order (see the [module documentation](self) for the table).
///
/// ```
/// use kiro_core::lint::{Severity, RULES};
///
/// let errors: Vec<&str> = RULES.iter().filter(|r| r.severity == Severity::Error).map(|r| r.code).collect();
/// assert!(errors.contains(&"K0014"));
/// ```
pub const RULES: &[Rule] = &[
    Rule {
        code: "K0001",
        name: "not-ears",
        severity: Severity::Warning,
        summary: "An acceptance criterion has a SHALL but follows no EARS pattern.",
    },
    Rule {
        code: "K0002",
        name: "missing-shall",
        severity: Severity::Warning,
        summary: "An acceptance criterion states no obligation with SHALL.",
    },
    Rule {
        code: "K0003",
        name: "multiple-shall",
        severity: Severity::Warning,
        summary:
            "An acceptance criterion has more than one SHALL; each should be testable on its own.",
    },
    Rule {
        code: "K0004",
        name: "vague-term",
        severity: Severity::Warning,
        summary: "An acceptance criterion uses a vague or unmeasurable term.",
    },
    Rule {
        code: "K0005",
        name: "escape-clause",
        severity: Severity::Warning,
        summary: "An acceptance criterion has an escape clause such as \"if possible\".",
    },
    Rule {
        code: "K0006",
        name: "placeholder",
        severity: Severity::Warning,
        summary: "Text holds a placeholder such as TBD or TODO.",
    },
    Rule {
        code: "K0007",
        name: "duplicate-id",
        severity: Severity::Error,
        summary: "Two requirements, criteria, properties or tasks share an id.",
    },
    Rule {
        code: "K0008",
        name: "duplicate-glossary-term",
        severity: Severity::Warning,
        summary: "The glossary defines a term more than once.",
    },
    Rule {
        code: "K0009",
        name: "undefined-criterion",
        severity: Severity::Error,
        summary: "A task links a criterion or requirement that is not defined.",
    },
    Rule {
        code: "K0010",
        name: "uncovered-criterion",
        severity: Severity::Warning,
        summary: "No task covers an acceptance criterion.",
    },
    Rule {
        code: "K0011",
        name: "property-validates-nothing",
        severity: Severity::Warning,
        summary: "A correctness property validates no criterion.",
    },
    Rule {
        code: "K0012",
        name: "property-undefined-criterion",
        severity: Severity::Error,
        summary: "A correctness property validates a criterion that is not defined.",
    },
    Rule {
        code: "K0013",
        name: "missing-dependency",
        severity: Severity::Error,
        summary: "A task depends on a task that does not exist.",
    },
    Rule {
        code: "K0014",
        name: "dependency-cycle",
        severity: Severity::Error,
        summary: "Task dependencies form a cycle.",
    },
    Rule {
        code: "K0015",
        name: "format",
        severity: Severity::Warning,
        summary: "Part of a file could not be read as the Kiro format; it is kept verbatim.",
    },
    Rule {
        code: "K0016",
        name: "undefined-property",
        severity: Severity::Error,
        summary: "A task tests a correctness property that the design does not define.",
    },
    Rule {
        code: "K0017",
        name: "unreadable-metadata",
        severity: Severity::Note,
        summary: "Part of `.config.kiro` or `spec.json` could not be read; the file is kept byte for byte.",
    },
    Rule {
        code: "K0018",
        name: "unreadable-depends",
        severity: Severity::Error,
        summary: "An item of a `_Depends:` line names no task, so the order of the plan is unknown.",
    },
    Rule {
        code: "K0019",
        name: "property-block-json",
        severity: Severity::Error,
        summary: "A property's `kiro-property` block is not a JSON object of a property.",
    },
    Rule {
        code: "K0020",
        name: "property-kind",
        severity: Severity::Error,
        summary: "A property's `kiro-property` block has no kind or an unknown one.",
    },
    Rule {
        code: "K0021",
        name: "property-field",
        severity: Severity::Error,
        summary: "A property's `kiro-property` block has an unknown field or a field of the wrong type.",
    },
    Rule {
        code: "K0022",
        name: "property-ops",
        severity: Severity::Error,
        summary: "A property's `ops` are malformed or not as many as its kind calls.",
    },
    Rule {
        code: "K0023",
        name: "property-target",
        severity: Severity::Error,
        summary: "A property's `target` or `reference` is malformed, or an oracle has no reference.",
    },
    Rule {
        code: "K0024",
        name: "property-output",
        severity: Severity::Error,
        summary: "An invariant property has no `output` schema.",
    },
    Rule {
        code: "K0025",
        name: "property-schema",
        severity: Severity::Error,
        summary: "A property's `input` or `output` JSON Schema is malformed or admits no value.",
    },
];

/// The rule with this code.
///
/// ```
/// assert_eq!(kiro_core::lint::rule("K0004").map(|r| r.name), Some("vague-term"));
/// ```
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// One finding.
///
/// The serde form (used by [`render_json`]) is an object with every field
/// present: `code`, `severity` (`"error"`, `"warning"` or `"note"`),
/// `message`, `help` (string or `null`), `file` (string or `null`), `line`
/// and `column` (1-based, `0` when unknown) and `end_column` (the column
/// just past the span, or `null`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The rule's code, e.g. `K0004`.
    pub code: String,
    /// The rule's severity.
    pub severity: Severity,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The file, when known.
    #[serde(serialize_with = "serialize_path")]
    pub file: Option<PathBuf>,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
    /// The column just past the end of the span, on the same line.
    pub end_column: Option<u32>,
}

/// Paths are written as (lossy) UTF-8 text so that serialisation never fails.
fn serialize_path<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_str(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// What to underline, searched in the source from the element's line on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Needle {
    /// Nothing: point at the element.
    None,
    /// The element's text from its start to the end of its first line.
    Line(String),
    /// The `nth` (0-based) whole-word occurrence of a term.
    Term {
        /// The term.
        text: String,
        /// Compare case-insensitively.
        case: terms::Case,
        /// Which occurrence.
        nth: usize,
    },
    /// An id (`1.2`), which must not be part of a longer id.
    Id(String),
    /// Text as written (an unreadable `_Depends:` item): its first occurrence.
    Text(String),
    /// A known place: `line` lines below the element's line (which must be
    /// the first locator's), the bytes `bytes` of that line.
    At {
        /// Lines below the element's line.
        line: usize,
        /// Byte range in that line.
        bytes: Range<usize>,
    },
}

/// Where a finding belongs: a document and the elements to look up in its
/// source map (the first one recorded wins).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct At {
    pub doc: DocKind,
    pub locators: Vec<Locator>,
    /// How many lines from the element's line the needle may be on.
    pub lines: usize,
}

/// A finding before it is placed in a file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub at: Option<At>,
    pub needle: Needle,
}

impl Finding {
    fn diagnostic(&self) -> Diagnostic {
        Diagnostic {
            code: self.code.to_owned(),
            severity: rule(self.code).map_or(Severity::Warning, |r| r.severity),
            message: self.message.clone(),
            help: self.help.clone(),
            file: None,
            line: 0,
            column: 0,
            end_column: None,
        }
    }
}

/// Lints a spec model without source positions: every diagnostic has
/// `file: None` and line and column `0`. Format diagnostics (K0015) and
/// metadata notes (K0017) come from loading the files, so only from [`lint`].
///
/// ```
/// use kiro_core::lint::lint_spec;
/// use kiro_core::spec::{Spec, Task, TaskId, TaskList};
///
/// let task = |id: &str, dep: &str| Task {
///     id: Some(TaskId::new(id)),
///     title: "Step".into(),
///     depends_on: vec![TaskId::new(dep)],
///     ..Task::default()
/// };
/// let spec = Spec {
///     tasks: Some(TaskList { tasks: vec![task("1", "2"), task("2", "1")], ..TaskList::default() }),
///     ..Spec::default()
/// };
/// let found = lint_spec(&spec);
/// assert_eq!(found[0].code, "K0014");
/// assert_eq!(found[0].message, "dependency cycle: 1 -> 2 -> 1");
/// ```
pub fn lint_spec(spec: &Spec) -> Vec<Diagnostic> {
    lint_spec_with(spec, LintOptions::default())
}

/// [`lint_spec`] for a spec run as `options` say.
pub fn lint_spec_with(spec: &Spec, options: LintOptions) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = findings(spec, options)
        .iter()
        .map(Finding::diagnostic)
        .collect();
    sort(&mut out);
    out
}

/// What lint assumes about how the spec is run; the default is a run with
/// the default configuration.
///
/// With the `engine` feature, `LintOptions::from(&config)` reads them from
/// a workspace's `.kiro/config.toml` (`kiro_core::config`).
///
/// ```
/// use kiro_core::lint::LintOptions;
/// use kiro_core::spec::TaskOrder;
///
/// assert_eq!(LintOptions::default().order, TaskOrder::Document);
/// assert_eq!(LintOptions::default().order(TaskOrder::Declared).order, TaskOrder::Declared);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LintOptions {
    /// How a run orders the tasks (`[pipeline] order`): the plan rules
    /// check the graph a run in this order executes.
    pub order: TaskOrder,
}

impl LintOptions {
    /// Checks the plan as a run in `order` executes it.
    pub fn order(mut self, order: TaskOrder) -> Self {
        self.order = order;
        self
    }
}

/// The findings of every check: the document checks, then the plan's
/// (duplicate task ids, unknown dependencies, cycles), from the graph
/// builder a run uses.
fn findings(spec: &Spec, options: LintOptions) -> Vec<Finding> {
    let mut out: Vec<Finding> = checks::findings(spec);
    out.extend(plan::findings(spec, options.order));
    out
}

/// Lints a loaded spec folder, pointing each diagnostic at its file, line and
/// column (at the offending word where it can be found in the source line).
///
/// ```
/// use kiro_core::lint::lint;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("tasks.md"), "- [ ] 1. Build it\n  - _Depends: 7_\n")?;
/// let spec = kiro_core::store::load_spec(dir.path())?;
/// for d in lint(&spec) {
///     println!("{}:{}:{}: {} {}", d.file.unwrap_or_default().display(), d.line, d.column, d.code, d.message);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lint(spec: &LoadedSpec) -> Vec<Diagnostic> {
    lint_with(spec, LintOptions::default())
}

/// [`lint`] for a spec run as `options` say (pass the workspace's
/// configuration, `LintOptions::from(&config)`, so that the plan rules see the order its runs use).
pub fn lint_with(spec: &LoadedSpec, options: LintOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for finding in findings(&spec.spec, options) {
        out.push(place(&finding, spec));
    }
    for file in &spec.files {
        for d in &file.diagnostics {
            let mut diagnostic = Finding {
                code: "K0015",
                message: d.message.clone(),
                help: (!d.expected.is_empty()).then(|| format!("expected {}", d.expected)),
                at: None,
                needle: Needle::None,
            }
            .diagnostic();
            diagnostic.file = Some(file.path.clone());
            diagnostic.line = d.position.line;
            diagnostic.column = d.position.column;
            out.push(diagnostic);
        }
    }
    out.extend(metadata::diagnostics(spec));
    sort(&mut out);
    out
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.code).cmp(&(&b.file, b.line, b.column, &b.code))
    });
}

/// Gives a finding its file and position.
fn place(finding: &Finding, spec: &LoadedSpec) -> Diagnostic {
    let mut d = finding.diagnostic();
    let Some(at) = &finding.at else {
        return d;
    };
    let Some(file) = spec.file(at.doc) else {
        return d;
    };
    d.file = Some(file.path.clone());
    let Some((which, position)) = at
        .locators
        .iter()
        .enumerate()
        .find_map(|(i, l)| file.source_map.get(l).map(|p| (i, p)))
    else {
        return d;
    };
    d.line = position.line;
    d.column = position.column;
    if which > 0 && matches!(finding.needle, Needle::At { .. }) {
        // The place is relative to the first element, which is not there.
        return d;
    }
    if let Some((line, column, end)) = locate(file, position.line, at.lines, &finding.needle) {
        d.line = line;
        d.column = column;
        d.end_column = Some(end);
    }
    d
}

fn char_column(line: &str, byte: usize) -> u32 {
    line.get(..byte).map_or(0, |s| s.chars().count()) as u32 + 1
}

/// Finds the needle from `first_line` on (at most `lines` lines) and returns
/// its line, column and end column.
fn locate(
    file: &SourceFile,
    first_line: u32,
    lines: usize,
    needle: &Needle,
) -> Option<(u32, u32, u32)> {
    // Lines come from the file's line index: splitting the whole text for
    // each finding made lint quadratic in the file's size.
    let start = (first_line as usize).checked_sub(1)?;
    let window: Vec<&str> = (start + 1..start + 1 + lines.max(1))
        .map_while(|n| file.line(n))
        .collect();
    let found = |offset: usize, line: &str, r: Range<usize>| {
        let number = (start + offset + 1) as u32;
        Some((number, char_column(line, r.start), char_column(line, r.end)))
    };
    match needle {
        Needle::None => None,
        Needle::Line(text) => {
            let line = *window.first()?;
            let probe: String = text
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .chars()
                .take(16)
                .collect();
            let from = if probe.is_empty() {
                None
            } else {
                line.find(probe.as_str())
            };
            let from = from.unwrap_or_else(|| line.len() - line.trim_start().len());
            let end = line.trim_end().len().max(from);
            found(0, line, from..end)
        }
        Needle::Term { text, case, nth } => {
            let mut seen = 0;
            for (offset, line) in window.iter().enumerate() {
                for r in terms::find_term(line, text, *case) {
                    if seen == *nth {
                        return found(offset, line, r);
                    }
                    seen += 1;
                }
            }
            None
        }
        Needle::Id(id) => {
            for (offset, line) in window.iter().enumerate() {
                if let Some(r) = find_id(line, id) {
                    return found(offset, line, r);
                }
            }
            None
        }
        Needle::At { line: below, bytes } => {
            let number = start + 1 + below;
            let line = file.line(number)?;
            let from = floor_boundary(line, bytes.start);
            let to = floor_boundary(line, bytes.end).max(from);
            Some((
                number as u32,
                char_column(line, from),
                char_column(line, to),
            ))
        }
        Needle::Text(text) => {
            for (offset, line) in window.iter().enumerate() {
                if let Some(at) = line.find(text.as_str()).filter(|_| !text.is_empty()) {
                    return found(offset, line, at..at + text.len());
                }
            }
            None
        }
    }
}

/// `at` moved back to a char boundary of `line` (and into it).
fn floor_boundary(line: &str, at: usize) -> usize {
    let mut at = at.min(line.len());
    while !line.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The first occurrence of `id` in `line` that is not part of a longer id
/// or word (`1.1` is not found in `1.12` or `v1.1`).
fn find_id(line: &str, id: &str) -> Option<Range<usize>> {
    let mut from = 0;
    while let Some(rel) = line.get(from..)?.find(id) {
        let at = from + rel;
        let end = at + id.len();
        let before = line.get(..at).and_then(|s| s.chars().next_back());
        let rest = line.get(end..).unwrap_or("");
        let mut after = rest.chars();
        let next = after.next();
        // `_` is markdown emphasis around links (`_Requirements: 1.1_`), not part of an id.
        let continues = next.is_some_and(char::is_alphanumeric)
            || (next == Some('.') && after.next().is_some_and(|c| c.is_ascii_digit()));
        let glued = before.is_some_and(|c| c.is_alphanumeric() || c == '.');
        if !continues && !glued {
            return Some(at..end);
        }
        from = at + id.len().max(1);
    }
    None
}

/// Reads a file for [`render_human`]'s snippets: a helper for callers that
/// render diagnostics of files on disk.
///
/// ```
/// use kiro_core::lint::{read_source, render_human};
///
/// let text = render_human(&[], &read_source, false);
/// assert_eq!(text, "0 errors, 0 warnings\n");
/// ```
pub fn read_source(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_numbered_in_order_and_unique() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.code, format!("K{:04}", i + 1));
            assert!(r.summary.ends_with('.'), "{}", r.code);
        }
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
    }

    #[test]
    fn ids_are_found_whole() {
        assert_eq!(find_id("_Requirements: 1.12, 1.1_", "1.1"), Some(21..24));
        assert_eq!(find_id("v1.1 and 11", "1"), None);
        assert_eq!(find_id("- [ ] 2. Build", "2"), Some(6..7));
        assert_eq!(find_id("needs 2.1.3", "2.1"), None);
    }
}
