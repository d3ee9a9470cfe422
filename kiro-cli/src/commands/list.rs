//! `kiro spec list`: one line (or JSON object) per folder under `.kiro/specs/`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use kiro_core::escape::escape_control;
use kiro_core::spec::{Dialect, SpecKind, TaskStatus};
use kiro_core::store::{self, FolderState, LoadedSpec, SpecFolder};
use serde::Serialize;

use crate::cli::TextOrJson;
use crate::output;
use crate::workspace::Workspace;

/// What a listed folder is: the `status` field of the JSON rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    /// A spec with at least one document.
    Ok,
    /// No document yet (only `brief.md`, `plan.md`, `.config.kiro`, ...).
    Incomplete,
    /// The folder could not be loaded.
    Error,
}

/// One row of `kiro spec list`; its JSON form is part of the CLI contract.
#[derive(Debug, Serialize)]
struct SpecSummary {
    name: String,
    /// The folder, relative to the workspace root.
    path: String,
    status: Status,
    /// `null` only when the folder could not be loaded.
    kind: Option<SpecKind>,
    /// `null` only when the folder could not be loaded.
    dialect: Option<Dialect>,
    /// The documents present: `requirements`, `bugfix`, `design`, `tasks`.
    documents: Vec<store::DocKind>,
    requirements: usize,
    criteria: usize,
    properties: usize,
    tasks_done: usize,
    tasks_total: usize,
    /// What the folder holds: its entries, sorted, sub-folders ending in `/`.
    files: Vec<String>,
    /// Why the folder could not be loaded; `null` otherwise.
    error: Option<String>,
}

impl SpecSummary {
    fn new(ws: &Workspace, folder: &SpecFolder) -> SpecSummary {
        let mut row = SpecSummary {
            name: folder.name.clone(),
            path: ws.display(&folder.dir).display().to_string(),
            status: Status::Ok,
            kind: None,
            dialect: None,
            documents: Vec::new(),
            requirements: 0,
            criteria: 0,
            properties: 0,
            tasks_done: 0,
            tasks_total: 0,
            files: folder.contents.clone(),
            error: None,
        };
        match &folder.state {
            FolderState::Spec(loaded) => row.counts(loaded),
            FolderState::Incomplete(loaded) => {
                row.status = Status::Incomplete;
                row.counts(loaded);
            }
            FolderState::Failed(e) => {
                row.status = Status::Error;
                row.error = Some(relative_error(ws, &folder.dir, e));
            }
        }
        row
    }

    fn counts(&mut self, loaded: &LoadedSpec) {
        let spec = &loaded.spec;
        let tasks = spec
            .tasks
            .as_ref()
            .map(|t| t.all_tasks())
            .unwrap_or_default();
        self.kind = Some(spec.kind);
        self.dialect = Some(spec.dialect);
        self.documents = loaded.files.iter().map(|f| f.kind).collect();
        self.requirements = spec
            .requirements
            .as_ref()
            .map_or(0, |r| r.requirements.len());
        self.criteria = spec.criteria().len();
        self.properties = spec.design.as_ref().map_or(0, |d| d.properties.len());
        self.tasks_done = tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Done)
            .count();
        self.tasks_total = tasks.len();
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Some(SpecKind::Feature) => "feature",
            Some(SpecKind::Bugfix) => "bugfix",
            None => "-",
        }
    }

    fn dialect_name(&self) -> &'static str {
        match self.dialect {
            Some(Dialect::Kiro) => "kiro",
            Some(Dialect::CcSdd) => "cc-sdd",
            None => "-",
        }
    }
}

/// An error's message with the folder's absolute path made
/// workspace-relative, like every other path `spec list` prints.
fn relative_error(ws: &Workspace, dir: &Path, e: &kiro_core::Error) -> String {
    let absolute = dir.display().to_string();
    let relative = ws.display(dir).display().to_string();
    e.to_string().replace(&absolute, &relative)
}

/// An aligned table with a header line. Incomplete and failed folders show
/// `-` for their counts and say what they hold or why they failed at the end
/// of the line.
fn table(rows: &[SpecSummary]) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .chain(std::iter::once("NAME".len()))
        .max()
        .unwrap_or_default();
    let mut out = format!(
        "{:<width$}  {:<7}  {:<7}  {:>12}  {:>8}  {:>10}  {:>7}\n",
        "NAME", "KIND", "DIALECT", "REQUIREMENTS", "CRITERIA", "PROPERTIES", "TASKS"
    );
    for r in rows {
        let line = match r.status {
            Status::Ok => format!(
                "{:<width$}  {:<7}  {:<7}  {:>12}  {:>8}  {:>10}  {:>7}",
                r.name,
                r.kind_name(),
                r.dialect_name(),
                r.requirements,
                r.criteria,
                r.properties,
                format!("{}/{}", r.tasks_done, r.tasks_total),
            ),
            Status::Incomplete | Status::Error => {
                let note = match (&r.error, r.files.is_empty()) {
                    (Some(e), _) => format!("error: {e}"),
                    (None, true) => "incomplete: empty folder".to_owned(),
                    (None, false) => format!("incomplete: {}", r.files.join(", ")),
                };
                format!(
                    "{:<width$}  {:<7}  {:<7}  {:>12}  {:>8}  {:>10}  {:>7}  {note}",
                    r.name,
                    r.kind_name(),
                    r.dialect_name(),
                    "-",
                    "-",
                    "-",
                    "-",
                )
            }
        };
        // Folder names and load errors come from the file system: a name
        // holding a newline or an escape sequence must not forge rows.
        out.push_str(&escape_control(&line));
        out.push('\n');
    }
    out
}

/// Lists every folder under `.kiro/specs/`: specs, incomplete specs (no
/// document yet, listed with what they hold) and folders that cannot be
/// loaded (listed with their error, which is also printed on stderr).
///
/// Exit status: 0 when every folder is a spec or an incomplete one, 1 when
/// at least one folder could not be loaded (every other folder is still
/// listed), 2 when nothing could be listed (no workspace, `.kiro/specs`
/// unreadable).
pub(super) fn run(ws: &Workspace, format: TextOrJson) -> Result<ExitCode> {
    let folders = store::spec_folders_with(ws.root(), &ws.load_options()?).map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot list the specs of {}", ws.root().display()))
    })?;
    let rows: Vec<SpecSummary> = folders.iter().map(|f| SpecSummary::new(ws, f)).collect();
    for row in &rows {
        if let Some(e) = &row.error {
            let message = format!("error: cannot load spec {}: {e}", row.path);
            eprintln!("{}", escape_control(&message));
        }
    }
    match format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&rows)?)?,
        TextOrJson::Text if rows.is_empty() => {
            eprintln!(
                "no specs in {}",
                ws.display(&store::specs_dir(ws.root())).display()
            );
        }
        TextOrJson::Text => output::print(&table(&rows))?,
    }
    Ok(super::status(
        rows.iter().all(|r| r.status != Status::Error),
    ))
}
