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
use kiro_core::report::{self, Format, RenderOptions};
use kiro_core::trace::Finding;

use crate::cli::TraceArgs;
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Runs `kiro trace`: [`Project::trace`](kiro_core::project::Project::trace)
/// rendered in the chosen format.
pub(super) fn run(ws: &Workspace, args: &TraceArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;
    let trace = engine::project(ws)?
        .trace(&spec)
        .map_err(engine::explain)
        .with_context(|| format!("cannot trace spec `{}`", spec.name))?;

    let format = engine::report_format(args.format);
    let to_file = args.output.is_some();
    let text = match format {
        Format::Json => trace.to_json()?,
        Format::Terminal | Format::Markdown => {
            let color = format == Format::Terminal && output::color(to_file);
            let mut text = report::render(&trace.matrix, format, RenderOptions { color });
            text.push_str(&files_section(&trace.task_files, format));
            text.push_str(&findings_section(&trace.findings, format));
            text
        }
        Format::Junit | Format::Csv | Format::Html => {
            let text = report::render(&trace.matrix, format, RenderOptions::default());
            if !trace.findings.is_empty() {
                eprintln!(
                    "{} coverage findings (see `kiro trace {} --format text`)",
                    trace.findings.len(),
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
            trace.matrix.totals.criteria,
            trace.findings.len()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The files each task changed, for the text and markdown formats.
fn files_section(task_files: &BTreeMap<String, Vec<String>>, format: Format) -> String {
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
        if md {
            let _ = writeln!(out, "- task {task}: {}", backticked(files));
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
