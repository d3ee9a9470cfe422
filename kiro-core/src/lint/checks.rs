//! The checks: a spec model in, findings (not yet placed in files) out.

use std::collections::{HashMap, HashSet};

use super::terms::{self, Case, Hit, List, Terms, AFTER_ESCAPE};
use super::{At, Finding, Needle};
use crate::format::{Locator, TaskPath};
use crate::links::SpecLinks;
use crate::spec::{AcceptanceCriterion, BehaviorKind, Ears, Spec, Task};
use crate::store::DocKind;

/// Every finding of every check, in document order.
pub(crate) fn findings(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    let index = Index::new(spec);
    let terms = Terms::new();
    requirements(spec, &terms, &mut out);
    bugfix(spec, &terms, &mut out);
    design(spec, &index, &terms, &mut out);
    tasks(spec, &index, &terms, &mut out);
    coverage(spec, &mut out);
    out
}

/// What the spec defines, for link checks.
struct Index<'a> {
    /// `true` when the spec's requirements or bugfix document defines at
    /// least one requirement, so that links can be checked at all.
    has_criteria_doc: bool,
    criteria: HashSet<&'a str>,
    requirements: HashSet<String>,
    has_design: bool,
    properties: HashSet<&'a str>,
}

impl<'a> Index<'a> {
    fn new(spec: &'a Spec) -> Self {
        let mut criteria = HashSet::new();
        let mut requirements = HashSet::new();
        if let Some(doc) = &spec.requirements {
            for r in &doc.requirements {
                requirements.insert(r.id.as_str().to_owned());
            }
        }
        for c in spec.criteria() {
            criteria.insert(c.id.as_str());
            requirements.insert(c.id.requirement().as_str().to_owned());
        }
        let mut properties = HashSet::new();
        if let Some(design) = &spec.design {
            for p in &design.properties {
                properties.insert(p.id.as_str());
            }
        }
        // An empty or unreadable requirements file defines nothing, and
        // reporting every link against it would bury the one real problem.
        let has_criteria_doc = !requirements.is_empty();
        Index {
            has_criteria_doc,
            criteria,
            requirements,
            has_design: spec.design.is_some(),
            properties,
        }
    }

    /// A link names a defined criterion, or (without a dot) a defined requirement.
    fn defines(&self, id: &str) -> bool {
        if id.contains('.') {
            self.criteria.contains(id)
        } else {
            self.requirements.contains(id)
        }
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A lines budget for an element whose text is `text`: its own lines plus
/// some slack for the markup around it.
fn span_lines(text: &str) -> usize {
    text.lines().count().max(1) + 2
}

fn at(doc: DocKind, locators: Vec<Locator>, lines: usize) -> Option<At> {
    Some(At {
        doc,
        locators,
        lines,
    })
}

fn term(text: &str, case: Case) -> Needle {
    Needle::Term {
        text: text.to_owned(),
        case,
        nth: 0,
    }
}

/// Checks one acceptance criterion. `quality` is off for bugfix clauses
/// that describe the defect: only placeholders are reported there.
///
/// The criterion is read once for every word list ([`Terms::scan`]), so a
/// check costs time linear in the criterion's length whatever the number of
/// terms; findings then come in the lexicon's order, one per term.
fn criterion(
    c: &AcceptanceCriterion,
    place: Option<At>,
    quality: bool,
    terms: &Terms,
    out: &mut Vec<Finding>,
) {
    let text = collapse(&c.text);
    let id = c.id.as_str();
    let hits = terms.scan(&text);
    if quality {
        let shalls = hits
            .iter()
            .filter(|h| {
                terms
                    .terms()
                    .get(h.term)
                    .is_some_and(|t| t.list == List::Shall)
            })
            .count();
        if shalls == 0 {
            if !terms::has_localised_modal(&text) {
                out.push(Finding {
                    code: "K0002",
                    message: format!("criterion {id} has no SHALL"),
                    help: Some(
                        "state what the system must do as `THE <system> SHALL <response>`, \
                         with a WHEN/WHILE/IF/WHERE condition in front if it has one"
                            .into(),
                    ),
                    at: place.clone(),
                    needle: Needle::Line(c.text.clone()),
                });
            }
        } else {
            if Ears::parse(&text).is_none() {
                out.push(Finding {
                    code: "K0001",
                    message: format!("criterion {id} does not follow an EARS pattern"),
                    help: Some(
                        "write `WHEN <trigger>, THE <system> SHALL <response>` (or WHILE <state>, \
                         IF <condition> THEN, WHERE <feature>), or `THE <system> SHALL <response>`"
                            .into(),
                    ),
                    at: place.clone(),
                    needle: Needle::Line(c.text.clone()),
                });
            }
            if shalls > 1 {
                out.push(Finding {
                    code: "K0003",
                    message: format!("criterion {id} has {shalls} SHALLs"),
                    help: Some("split it into one criterion per SHALL so that each can be tested on its own".into()),
                    at: place.clone(),
                    needle: Needle::Term {
                        text: "shall".into(),
                        case: Case::Insensitive,
                        nth: 1,
                    },
                });
            }
        }
        // Per term: whether it occurs, and whether one occurrence stands as
        // an escape clause of its own.
        let mut found = vec![false; terms.terms().len()];
        let mut escapes = vec![false; terms.terms().len()];
        for h in &hits {
            if let Some(f) = found.get_mut(h.term) {
                *f = true;
            }
            if let Some(e) = escapes.get_mut(h.term) {
                *e = *e || stands_alone(&text, &h.range);
            }
        }
        let listed = |list: List| {
            terms
                .terms()
                .iter()
                .enumerate()
                .filter(move |(_, t)| t.list == list)
        };
        for (i, t) in listed(List::Vague) {
            let vague = t.text;
            if found.get(i).copied().unwrap_or(false) {
                out.push(Finding {
                    code: "K0004",
                    message: format!("vague term \"{vague}\" in criterion {id}"),
                    help: Some(
                        "replace it with something a test can check: a number, a limit, a list, a named standard"
                            .into(),
                    ),
                    at: place.clone(),
                    needle: term(vague, Case::Insensitive),
                });
            }
        }
        for (i, t) in listed(List::Escape) {
            let escape = t.text;
            if escapes.get(i).copied().unwrap_or(false) {
                out.push(Finding {
                    code: "K0005",
                    message: format!("escape clause \"{escape}\" in criterion {id}"),
                    help: Some(
                        "an escape clause lets an implementation skip the requirement: \
                         say exactly when the behaviour is required, or drop the clause"
                            .into(),
                    ),
                    at: place.clone(),
                    needle: term(escape, Case::Insensitive),
                });
            }
        }
    }
    placeholder_hits(&hits, terms, &format!("criterion {id}"), place, out);
}

/// Whether the escape clause at `range` of `text` is a clause of its own:
/// followed by the end, punctuation, a capitalised word or an article, not
/// by a lower-case word it qualifies (`IF possible duplicates exist` is a
/// real condition). Reads one word past the clause, not the rest of the text.
fn stands_alone(text: &str, range: &std::ops::Range<usize>) -> bool {
    let rest = text.get(range.end..).unwrap_or("");
    if !rest.starts_with(char::is_whitespace) {
        return true;
    }
    let word: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    let lower_word = word.chars().next().is_some_and(char::is_lowercase);
    !lower_word || AFTER_ESCAPE.contains(&word.as_str())
}

/// Reports TBD/TODO-like placeholders in `text`, naming `what` holds them.
fn placeholders(text: &str, what: &str, place: Option<At>, terms: &Terms, out: &mut Vec<Finding>) {
    placeholder_hits(&terms.scan(text), terms, what, place, out);
}

/// Reports the placeholders among `hits`, once per placeholder, in the
/// lexicon's order.
fn placeholder_hits(
    hits: &[Hit],
    terms: &Terms,
    what: &str,
    place: Option<At>,
    out: &mut Vec<Finding>,
) {
    for (i, t) in terms.terms().iter().enumerate() {
        if t.list != List::Placeholder || !hits.iter().any(|h| h.term == i) {
            continue;
        }
        out.push(Finding {
            code: "K0006",
            message: format!("placeholder \"{}\" in {what}", t.text),
            help: Some("finish this text before the spec is implemented".into()),
            at: place.clone(),
            needle: term(t.text, t.case),
        });
    }
}

/// Reports ids seen before. `items` yields (id, locator) in document order.
fn duplicates<'a>(
    kind: &str,
    doc: DocKind,
    items: impl IntoIterator<Item = (&'a str, Locator)>,
    skip: &HashSet<String>,
    out: &mut Vec<Finding>,
) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    for (id, locator) in items {
        if id.is_empty() || skip.contains(id) {
            continue;
        }
        if !seen.insert(id.to_owned()) {
            reported.insert(id.to_owned());
            out.push(Finding {
                code: "K0007",
                message: format!("duplicate {kind} id \"{id}\""),
                help: Some(format!("{kind} ids must be unique: renumber one of them")),
                at: at(doc, vec![locator], 1),
                needle: Needle::Id(id.to_owned()),
            });
        }
    }
    reported
}

fn requirements(spec: &Spec, terms: &Terms, out: &mut Vec<Finding>) {
    let Some(doc) = &spec.requirements else {
        return;
    };
    let doc_kind = DocKind::Requirements;
    let dup_requirements = duplicates(
        "requirement",
        doc_kind,
        doc.requirements
            .iter()
            .enumerate()
            .map(|(index, r)| (r.id.as_str(), Locator::Requirement { index })),
        &HashSet::new(),
        out,
    );
    // Criteria of a duplicated requirement repeat its ids; that is one finding, not many.
    duplicates(
        "criterion",
        doc_kind,
        doc.requirements
            .iter()
            .enumerate()
            .flat_map(|(requirement, r)| {
                r.criteria.iter().enumerate().map(move |(index, c)| {
                    (c.id.as_str(), Locator::Criterion { requirement, index })
                })
            }),
        &doc.requirements
            .iter()
            .flat_map(|r| r.criteria.iter())
            .filter(|c| dup_requirements.contains(c.id.requirement().as_str()))
            .map(|c| c.id.as_str().to_owned())
            .collect(),
        out,
    );

    let mut terms_seen: HashMap<String, ()> = HashMap::new();
    for (index, entry) in doc.glossary.iter().enumerate() {
        let key = collapse(&entry.term).to_lowercase();
        let place = at(
            doc_kind,
            vec![Locator::GlossaryEntry { index }],
            span_lines(&entry.definition),
        );
        if terms_seen.insert(key, ()).is_some() {
            out.push(Finding {
                code: "K0008",
                message: format!("glossary term \"{}\" is defined more than once", entry.term),
                help: Some("keep one definition and merge the other into it".into()),
                at: place.clone(),
                needle: term(&entry.term, Case::Insensitive),
            });
        }
        placeholders(
            &entry.definition,
            &format!("the glossary entry \"{}\"", entry.term),
            place,
            terms,
            out,
        );
    }

    for (ri, r) in doc.requirements.iter().enumerate() {
        let heading = at(doc_kind, vec![Locator::Requirement { index: ri }], 1);
        placeholders(
            &r.title,
            &format!("the title of requirement {}", r.id),
            heading,
            terms,
            out,
        );
        if let Some(story) = &r.user_story {
            let place = at(
                doc_kind,
                vec![Locator::Requirement { index: ri }],
                span_lines(&story.text) + 4,
            );
            placeholders(
                &story.text,
                &format!("the user story of requirement {}", r.id),
                place,
                terms,
                out,
            );
        }
        for (ci, c) in r.criteria.iter().enumerate() {
            let place = at(
                doc_kind,
                vec![Locator::Criterion {
                    requirement: ri,
                    index: ci,
                }],
                span_lines(&c.text),
            );
            criterion(c, place, true, terms, out);
        }
    }
}

/// Whether a bugfix group's clauses are criteria (what the fix must do or keep).
fn is_criteria_group(kind: BehaviorKind) -> bool {
    matches!(kind, BehaviorKind::Expected | BehaviorKind::Unchanged)
}

fn bugfix(spec: &Spec, terms: &Terms, out: &mut Vec<Finding>) {
    let Some(doc) = &spec.bugfix else {
        return;
    };
    duplicates(
        "criterion",
        DocKind::Bugfix,
        doc.groups.iter().enumerate().flat_map(|(group, g)| {
            g.clauses
                .iter()
                .enumerate()
                .map(move |(index, c)| (c.id.as_str(), Locator::Clause { group, index }))
        }),
        &HashSet::new(),
        out,
    );
    for (gi, g) in doc.groups.iter().enumerate() {
        for (ci, c) in g.clauses.iter().enumerate() {
            let place = at(
                DocKind::Bugfix,
                vec![Locator::Clause {
                    group: gi,
                    index: ci,
                }],
                span_lines(&c.text),
            );
            criterion(c, place, is_criteria_group(g.kind), terms, out);
        }
    }
}

fn design(spec: &Spec, index: &Index<'_>, terms: &Terms, out: &mut Vec<Finding>) {
    let Some(doc) = &spec.design else {
        return;
    };
    duplicates(
        "property",
        DocKind::Design,
        doc.properties
            .iter()
            .enumerate()
            .map(|(index, p)| (p.id.as_str(), Locator::Property { index })),
        &HashSet::new(),
        out,
    );
    for (pi, p) in doc.properties.iter().enumerate() {
        let heading = vec![Locator::Property { index: pi }];
        let validates_line = vec![
            Locator::PropertyValidates { index: pi },
            Locator::Property { index: pi },
        ];
        if p.validates.is_empty() {
            out.push(Finding {
                code: "K0011",
                message: format!("property {} validates no criterion", p.id),
                help: Some(
                    "name the criteria it checks: `**Validates: Requirements 1.1, 2.3**`".into(),
                ),
                at: at(DocKind::Design, heading.clone(), 1),
                needle: Needle::Line(p.heading_source.clone().unwrap_or_default()),
            });
        } else if index.has_criteria_doc {
            for c in &p.validates {
                if !index.defines(c.as_str()) {
                    out.push(Finding {
                        code: "K0012",
                        message: format!(
                            "property {} validates {}, which is not defined",
                            p.id,
                            describe_link(c.as_str())
                        ),
                        help: Some(
                            "fix the `Validates:` line or add the criterion to the requirements"
                                .into(),
                        ),
                        at: at(DocKind::Design, validates_line.clone(), 1),
                        needle: Needle::Id(c.as_str().to_owned()),
                    });
                }
            }
        }
        let text = format!("{}\n{}", p.title, p.statement);
        placeholders(
            &text,
            &format!("property {}", p.id),
            at(DocKind::Design, heading, span_lines(&text) + 2),
            terms,
            out,
        );
        super::property::check(pi, p, out);
    }
}

/// `criterion 1.2` or, for a requirement-level link, `requirement 6`.
fn describe_link(id: &str) -> String {
    if id.contains('.') {
        format!("criterion {id}")
    } else {
        format!("requirement {id}")
    }
}

/// Every task with its locator path, depth first.
fn walk_tasks<'a>(tasks: &'a [Task], prefix: &mut Vec<usize>, out: &mut Vec<(TaskPath, &'a Task)>) {
    for (i, task) in tasks.iter().enumerate() {
        prefix.push(i);
        out.push((TaskPath::from(prefix.as_slice()), task));
        walk_tasks(&task.subtasks, prefix, out);
        prefix.pop();
    }
}

fn task_name(task: &Task) -> String {
    match &task.id {
        Some(id) => format!("task {id}"),
        None => format!("task \"{}\"", collapse(&task.title)),
    }
}

fn tasks(spec: &Spec, index: &Index<'_>, terms: &Terms, out: &mut Vec<Finding>) {
    let Some(list) = &spec.tasks else {
        return;
    };
    let mut all = Vec::new();
    walk_tasks(&list.tasks, &mut Vec::new(), &mut all);
    // Duplicate task ids (K0007), unknown dependencies (K0013) and cycles
    // (K0014) are the plan's: `lint::plan` reports them from the graph a
    // run builds, so that lint and run never disagree.
    let doc = DocKind::Tasks;
    for (path, task) in &all {
        let name = task_name(task);
        let line = vec![Locator::Task { path: path.clone() }];
        let body = format!("{}\n{}", task.title, task.details.join("\n"));
        placeholders(
            &body,
            &name,
            at(doc, line.clone(), span_lines(&body) + 2),
            terms,
            out,
        );
        let requirements_line = vec![
            Locator::TaskRequirements { path: path.clone() },
            Locator::Task { path: path.clone() },
        ];
        if index.has_criteria_doc {
            for c in &task.requirements {
                if !index.defines(c.as_str()) {
                    out.push(Finding {
                        code: "K0009",
                        message: format!("{name} references {}, which is not defined", describe_link(c.as_str())),
                        help: Some("fix the `_Requirements:` link or add the criterion to the requirements".into()),
                        at: at(doc, requirements_line.clone(), 1),
                        needle: Needle::Id(c.as_str().to_owned()),
                    });
                }
            }
        }
        if index.has_design {
            for p in &task.properties {
                if !index.properties.contains(p.as_str()) {
                    out.push(Finding {
                        code: "K0016",
                        message: format!(
                            "{name} tests property {p}, which the design does not define"
                        ),
                        help: Some(
                            "fix the property number or add the property to design.md".into(),
                        ),
                        at: at(doc, line.clone(), span_lines(&body) + 2),
                        needle: term(&format!("Property {p}"), Case::Insensitive),
                    });
                }
            }
        }
    }
}

/// K0010 from the spec's resolved links ([`SpecLinks`]), the same
/// resolution the trace graph is built from, so that lint and `kiro trace`
/// never disagree on which criteria a task implements.
fn coverage(spec: &Spec, out: &mut Vec<Finding>) {
    let has_tasks = spec
        .tasks
        .as_ref()
        .is_some_and(|t| !t.all_tasks().is_empty());
    if !has_tasks {
        return;
    }
    let links = SpecLinks::new(spec);
    let implemented = links.implemented();
    let is_covered = |c: &AcceptanceCriterion| {
        links
            .criterion(c.id.as_str())
            .and_then(|i| implemented.get(i).copied())
            .unwrap_or(false)
    };
    let mut report = |c: &AcceptanceCriterion, place: Option<At>| {
        if !is_covered(c) {
            out.push(Finding {
                code: "K0010",
                message: format!("criterion {} is not covered by any task", c.id),
                help: Some(format!(
                    "link it from the task that implements it: `_Requirements: {}_`",
                    c.id
                )),
                at: place,
                needle: Needle::Line(c.text.clone()),
            });
        }
    };
    if let Some(doc) = &spec.requirements {
        for (ri, r) in doc.requirements.iter().enumerate() {
            for (ci, c) in r.criteria.iter().enumerate() {
                let locator = Locator::Criterion {
                    requirement: ri,
                    index: ci,
                };
                report(c, at(DocKind::Requirements, vec![locator], 1));
            }
        }
    }
    if let Some(doc) = &spec.bugfix {
        for (gi, g) in doc.groups.iter().enumerate() {
            if !is_criteria_group(g.kind) {
                continue;
            }
            for (ci, c) in g.clauses.iter().enumerate() {
                report(
                    c,
                    at(
                        DocKind::Bugfix,
                        vec![Locator::Clause {
                            group: gi,
                            index: ci,
                        }],
                        1,
                    ),
                );
            }
        }
    }
}
