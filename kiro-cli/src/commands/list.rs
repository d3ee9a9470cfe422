//! `kiro spec list`: one line (or JSON object) per spec.

use std::process::ExitCode;

use anyhow::{bail, Result};
use kiro_core::spec::{Dialect, SpecKind, TaskStatus};
use kiro_core::store::LoadedSpec;
use serde::Serialize;

use crate::cli::TextOrJson;
use crate::output;
use crate::workspace::Workspace;

/// One row of `kiro spec list`; its JSON form is part of the CLI contract.
#[derive(Debug, Serialize)]
struct SpecSummary {
    name: String,
    /// The folder, relative to the workspace root.
    path: String,
    kind: SpecKind,
    dialect: Dialect,
    /// The documents present: `requirements`, `bugfix`, `design`, `tasks`.
    documents: Vec<kiro_core::store::DocKind>,
    requirements: usize,
    criteria: usize,
    properties: usize,
    tasks_done: usize,
    tasks_total: usize,
}

impl SpecSummary {
    fn new(ws: &Workspace, loaded: &LoadedSpec) -> SpecSummary {
        let spec = &loaded.spec;
        let tasks = spec
            .tasks
            .as_ref()
            .map(|t| t.all_tasks())
            .unwrap_or_default();
        SpecSummary {
            name: spec.name.clone(),
            path: ws.display(&loaded.dir).display().to_string(),
            kind: spec.kind,
            dialect: spec.dialect,
            documents: loaded.files.iter().map(|f| f.kind).collect(),
            requirements: spec
                .requirements
                .as_ref()
                .map_or(0, |r| r.requirements.len()),
            criteria: spec.criteria().len(),
            properties: spec.design.as_ref().map_or(0, |d| d.properties.len()),
            tasks_done: tasks
                .iter()
                .filter(|t| t.status == TaskStatus::Done)
                .count(),
            tasks_total: tasks.len(),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            SpecKind::Feature => "feature",
            SpecKind::Bugfix => "bugfix",
        }
    }

    fn dialect_name(&self) -> &'static str {
        match self.dialect {
            Dialect::Kiro => "kiro",
            Dialect::CcSdd => "cc-sdd",
        }
    }
}

/// An aligned table with a header line.
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
        out.push_str(&format!(
            "{:<width$}  {:<7}  {:<7}  {:>12}  {:>8}  {:>10}  {:>7}\n",
            r.name,
            r.kind_name(),
            r.dialect_name(),
            r.requirements,
            r.criteria,
            r.properties,
            format!("{}/{}", r.tasks_done, r.tasks_total),
        ));
    }
    out
}

/// Lists every spec of the workspace. A spec that cannot be loaded is
/// reported on stderr and the others are still listed; the exit status is then 2.
pub(super) fn run(ws: &Workspace, format: TextOrJson) -> Result<ExitCode> {
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for dir in ws.spec_dirs(&[])? {
        match ws.load(&dir) {
            Ok(loaded) => rows.push(SpecSummary::new(ws, &loaded)),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    match format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&rows)?)?,
        TextOrJson::Text if rows.is_empty() && failed == 0 => {
            eprintln!(
                "no specs in {}",
                ws.display(&kiro_core::store::specs_dir(ws.root()))
                    .display()
            );
        }
        TextOrJson::Text => {
            output::print(&table(&rows))?;
        }
    }
    if failed > 0 {
        bail!("{failed} spec(s) could not be loaded");
    }
    Ok(ExitCode::SUCCESS)
}
