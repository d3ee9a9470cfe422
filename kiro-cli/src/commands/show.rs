//! `kiro spec show`: a spec as a readable outline or as JSON.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use kiro_core::escape::escape_control;
use kiro_core::redact::Redactor;
use kiro_core::spec::{
    AcceptanceCriterion, Dialect, EarsPattern, Spec, SpecKind, Task, TaskStatus,
};
use kiro_core::store::{self, FolderState};
use kiro_core::Error;

use crate::cli::{ShowArgs, TextOrJson};
use crate::output;
use crate::workspace::Workspace;

/// Prints one spec. A folder of `.kiro/specs/` with no document yet (only
/// `brief.md`, `.config.kiro`, ...) is shown as incomplete, with what it
/// holds; any other folder without a document is an error.
pub(super) fn run(ws: &Workspace, args: &ShowArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let in_specs = dir.parent() == Some(store::specs_dir(ws.root()).as_path());
    let folder = store::open_spec_folder(&dir);
    let (loaded, holds) = match folder.state {
        FolderState::Spec(loaded) => (loaded, None),
        FolderState::Incomplete(loaded) if in_specs => (loaded, Some(folder.contents)),
        // Outside `.kiro/specs`, a folder without a document is not a spec.
        FolderState::Incomplete(_) => {
            return Err(cannot_load(ws, &dir, Error::NotASpec { path: dir.clone() }))
        }
        FolderState::Failed(e) => return Err(cannot_load(ws, &dir, e)),
    };
    let redactor = Redactor::from_env();
    match args.format {
        TextOrJson::Json => {
            let mut value = serde_json::to_value(&loaded.spec)?;
            redactor.redact_value(&mut value);
            output::println(&serde_json::to_string_pretty(&value)?)?;
        }
        TextOrJson::Text => {
            let path = ws.display(&loaded.dir).display().to_string();
            let mut text = outline(&loaded.spec, &path);
            if let Some(holds) = holds {
                let holds = if holds.is_empty() {
                    "nothing".to_owned()
                } else {
                    escape_control(&holds.join(", ")).into_owned()
                };
                let _ = writeln!(
                    text,
                    "\nIncomplete: no requirements.md, bugfix.md, design.md or tasks.md yet \
                     (the folder holds {holds})"
                );
            }
            // Every field is escaped as the outline is built; the secrets
            // are replaced in the finished text, whose line breaks are all
            // the outline's own.
            output::print(&redactor.redact(&text))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The error of a folder that cannot be shown, with its path (as `ws.load` words it).
fn cannot_load(ws: &Workspace, dir: &Path, e: Error) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("cannot load spec {}", ws.display(dir).display()))
}

/// Collapses line breaks and runs of spaces, for one-line display of
/// hard-wrapped text, and escapes the control characters left (an escape
/// sequence in a title must not reach the terminal).
fn one_line(text: &str) -> String {
    escape_control(&text.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}

/// An id or name, with its control characters escaped.
fn shown(text: &str) -> Cow<'_, str> {
    escape_control(text)
}

fn ears_label(criterion: &AcceptanceCriterion) -> &'static str {
    match criterion.ears.as_ref().map(|e| e.pattern) {
        Some(EarsPattern::Ubiquitous) => "ubiquitous",
        Some(EarsPattern::EventDriven) => "event-driven",
        Some(EarsPattern::StateDriven) => "state-driven",
        Some(EarsPattern::Unwanted) => "unwanted",
        Some(EarsPattern::Optional) => "optional",
        Some(EarsPattern::Complex) => "complex",
        None => "not EARS",
    }
}

fn push_criterion(out: &mut String, indent: &str, c: &AcceptanceCriterion) {
    let _ = writeln!(
        out,
        "{indent}{} [{}] {}",
        shown(c.id.as_str()),
        ears_label(c),
        one_line(&c.text)
    );
}

/// The text outline: requirements with criteria and their EARS pattern,
/// bugfix groups, properties with what they validate, and the task tree.
fn outline(spec: &Spec, path: &str) -> String {
    let kind = match spec.kind {
        SpecKind::Feature => "feature",
        SpecKind::Bugfix => "bugfix",
    };
    let dialect = match spec.dialect {
        Dialect::Kiro => "kiro",
        Dialect::CcSdd => "cc-sdd",
    };
    let mut out = format!(
        "{} ({kind}, {dialect}) {}\n",
        shown(&spec.name),
        shown(path)
    );

    if let Some(doc) = &spec.requirements {
        let _ = writeln!(out, "\n{}", heading(&doc.title, "Requirements"));
        for r in &doc.requirements {
            let title = one_line(&r.title);
            let id = shown(r.id.as_str());
            if title.is_empty() {
                let _ = writeln!(out, "  Requirement {id}");
            } else {
                let _ = writeln!(out, "  Requirement {id}: {title}");
            }
            if let Some(story) = &r.user_story {
                let _ = writeln!(out, "    User story: {}", one_line(&story.text));
            }
            for c in &r.criteria {
                push_criterion(&mut out, "    ", c);
            }
        }
    }

    if let Some(doc) = &spec.bugfix {
        let _ = writeln!(out, "\n{}", heading(&doc.title, "Bugfix"));
        for g in &doc.groups {
            let _ = writeln!(out, "  {}", one_line(&g.title));
            for c in &g.clauses {
                push_criterion(&mut out, "    ", c);
            }
        }
    }

    if let Some(doc) = &spec.design {
        let _ = writeln!(
            out,
            "\n{} ({} sections, {} properties)",
            heading(&doc.title, "Design"),
            doc.sections.len(),
            doc.properties.len()
        );
        for p in &doc.properties {
            let validates: Vec<&str> = p.validates.iter().map(|c| c.as_str()).collect();
            let validates = if validates.is_empty() {
                "validates nothing".to_owned()
            } else {
                format!("validates {}", shown(&validates.join(", ")))
            };
            let _ = writeln!(
                out,
                "  Property {}: {} ({validates})",
                shown(p.id.as_str()),
                one_line(&p.title)
            );
        }
    }

    if let Some(list) = &spec.tasks {
        let all = list.all_tasks();
        let done = all.iter().filter(|t| t.status == TaskStatus::Done).count();
        let _ = writeln!(
            out,
            "\n{} ({done}/{} done)",
            heading(&list.title, "Tasks"),
            all.len()
        );
        for t in &list.tasks {
            push_task(&mut out, t, 1);
        }
    }
    out
}

/// A document title, or a fallback when the file has none.
fn heading(title: &str, fallback: &str) -> String {
    let title = one_line(title);
    if title.is_empty() {
        fallback.to_owned()
    } else {
        title
    }
}

fn push_task(out: &mut String, task: &Task, depth: usize) {
    let indent = "  ".repeat(depth);
    let optional = if task.optional { "*" } else { "" };
    let id = task
        .id
        .as_ref()
        .map(|i| format!("{} ", shown(i.as_str())))
        .unwrap_or_default();
    let mut links = Vec::new();
    if !task.requirements.is_empty() {
        let ids: Vec<&str> = task.requirements.iter().map(|c| c.as_str()).collect();
        links.push(format!("requirements {}", ids.join(", ")));
    }
    if !task.properties.is_empty() {
        let ids: Vec<&str> = task.properties.iter().map(|p| p.as_str()).collect();
        links.push(format!("properties {}", ids.join(", ")));
    }
    if !task.depends_on.is_empty() {
        let ids: Vec<&str> = task.depends_on.iter().map(|t| t.as_str()).collect();
        links.push(format!("depends on {}", ids.join(", ")));
    }
    if task.parallel {
        links.push("parallel".to_owned());
    }
    let links = if links.is_empty() {
        String::new()
    } else {
        format!("  ({})", shown(&links.join("; ")))
    };
    let _ = writeln!(
        out,
        "{indent}[{}]{optional} {id}{}{links}",
        task.status.mark(),
        one_line(&task.title)
    );
    for sub in &task.subtasks {
        push_task(out, sub, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiro_core::spec::{TaskId, TaskList};

    #[test]
    fn outline_shows_task_tree_with_status() {
        let spec = Spec {
            name: "demo".into(),
            tasks: Some(TaskList {
                title: "Implementation Plan".into(),
                tasks: vec![Task {
                    id: Some(TaskId::new("1")),
                    title: "Build\n  it".into(),
                    status: TaskStatus::Done,
                    subtasks: vec![Task {
                        id: Some(TaskId::new("1.1")),
                        title: "Test it".into(),
                        optional: true,
                        depends_on: vec![TaskId::new("1")],
                        ..Task::default()
                    }],
                    ..Task::default()
                }],
                ..TaskList::default()
            }),
            ..Spec::default()
        };
        let text = outline(&spec, ".kiro/specs/demo");
        assert_eq!(
            text,
            "demo (feature, kiro) .kiro/specs/demo\n\
             \n\
             Implementation Plan (1/2 done)\n  \
             [x] 1 Build it\n    \
             [ ]* 1.1 Test it  (depends on 1)\n"
        );
    }
}
