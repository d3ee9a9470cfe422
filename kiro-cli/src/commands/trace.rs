//! `kiro trace`: the trace graph of a spec flattened into the verification
//! matrix (criterion → tasks, properties, tests, results), with the files
//! each task changed and the coverage findings.
//!
//! The matrix goes through the same renderers as `kiro verify`
//! ([`kiro_core::report`]), so both commands show criteria alike; the
//! findings are appended in the text and markdown formats and are a field
//! of the JSON object.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::checkpoint::FileKey;
use kiro_core::pipeline;
use kiro_core::report::{self, Format, Matrix, RenderOptions};
use kiro_core::spec::TaskId;
use kiro_core::trace::{task_files_from_checkpoints, Coverage, Finding, LinkLock, TraceGraph};
use kiro_core::workspace::DEFAULT_REPO;
use serde::Serialize;

use crate::cli::TraceArgs;
use crate::engine;
use crate::output;
use crate::results;
use crate::workspace::Workspace;

/// `kiro trace --format json` (part of the CLI contract).
#[derive(Debug, Serialize)]
struct TraceOutput<'a> {
    /// The matrix, as `kiro verify --format json` prints it.
    matrix: &'a Matrix,
    /// Where the results came from (`kiro verify`, `run RUN@ID`); `null`
    /// when no verification is known.
    results: Option<&'a str>,
    /// Task id → files its checkpoints changed (`path`, or `repo:path` in
    /// another repository), from the latest run.
    task_files: BTreeMap<String, Vec<String>>,
    /// The coverage findings.
    findings: &'a [Finding],
}

/// Runs `kiro trace`.
pub(super) fn run(ws: &Workspace, args: &TraceArgs) -> Result<ExitCode> {
    let root = ws.root();
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;

    let annotations = results::annotations(root)?;
    let found = results::latest(root, &spec.name)?;
    let report = found.as_ref().map(|f| &f.report);
    let test_results = report.map(|r| r.tests.as_slice()).unwrap_or_default();
    let store = engine::checkpoint_store(ws)?;
    let task_files = match pipeline::latest_run(&store, &spec.name)
        .context("cannot read the checkpoint store")?
    {
        Some(run) => task_files_from_checkpoints(&store, &run)
            .with_context(|| format!("cannot read the checkpoints of run {run}"))?,
        None => BTreeMap::new(),
    };
    let graph = TraceGraph::build(&spec, &annotations, test_results, &task_files);
    let lock = LinkLock::load(root, &spec.name)
        .with_context(|| format!("cannot read the link lock of spec `{}`", spec.name))?;
    let findings = Coverage::compute(&spec, &graph, report, Some(&lock));
    let matrix = Matrix::from_graph(&graph);

    let format = engine::report_format(args.format);
    let to_file = args.output.is_some();
    let text = match format {
        Format::Json => {
            let out = TraceOutput {
                matrix: &matrix,
                results: found.as_ref().map(|f| f.source.as_str()),
                task_files: task_files
                    .iter()
                    .map(|(task, files)| (task.to_string(), files.iter().map(label).collect()))
                    .collect(),
                findings: &findings,
            };
            let mut text = serde_json::to_string_pretty(&out)?;
            text.push('\n');
            text
        }
        Format::Terminal | Format::Markdown => {
            let color = format == Format::Terminal && output::color(to_file);
            let mut text = report::render(&matrix, format, RenderOptions { color });
            text.push_str(&files_section(&task_files, format));
            text.push_str(&findings_section(&findings, format));
            text
        }
        Format::Junit | Format::Csv | Format::Html => {
            let text = report::render(&matrix, format, RenderOptions::default());
            if !findings.is_empty() {
                eprintln!(
                    "{} coverage findings (see `kiro trace {} --format text`)",
                    findings.len(),
                    args.spec
                );
            }
            text
        }
    };
    output::emit(args.output.as_deref(), &text)?;
    if let Some(path) = &args.output {
        output::println(&format!(
            "trace of spec `{}` written to {}: {} criteria, {} findings",
            spec.name,
            path.display(),
            matrix.totals.criteria,
            findings.len()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `path`, or `repo:path` outside the default repository.
fn label((repo, path): &FileKey) -> String {
    if repo == DEFAULT_REPO {
        path.clone()
    } else {
        format!("{repo}:{path}")
    }
}

/// The files each task changed, for the text and markdown formats.
fn files_section(task_files: &BTreeMap<TaskId, Vec<FileKey>>, format: Format) -> String {
    let mut out = String::new();
    if task_files.is_empty() {
        return out;
    }
    let md = format == Format::Markdown;
    out.push_str(if md {
        "\n## Files changed by tasks\n\n"
    } else {
        "\nFiles changed by tasks (latest run):\n"
    });
    for (task, files) in task_files {
        let files: Vec<String> = files.iter().map(label).collect();
        if md {
            let _ = writeln!(out, "- task {task}: {}", backticked(&files));
        } else {
            let _ = writeln!(out, "  task {task}: {}", files.join(", "));
        }
    }
    out
}

fn backticked(files: &[String]) -> String {
    files
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The coverage findings, for the text and markdown formats.
fn findings_section(findings: &[Finding], format: Format) -> String {
    let md = format == Format::Markdown;
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str(if md {
            "\n## Coverage findings\n\nNone.\n"
        } else {
            "\nCoverage: no findings\n"
        });
        return out;
    }
    let _ = write!(
        out,
        "{}",
        if md {
            format!("\n## Coverage findings ({})\n\n", findings.len())
        } else {
            format!("\nCoverage findings ({}):\n", findings.len())
        }
    );
    for f in findings {
        let severity = f.severity.as_str();
        let kind = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let at = f
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        if md {
            let _ = writeln!(out, "- **{severity}** `{kind}`: {}{at}", f.message);
        } else {
            let _ = writeln!(out, "  {severity}[{kind}]: {}{at}", f.message);
        }
    }
    out
}
