//! `kiro spec lint`: diagnostics as human text, JSON or SARIF, and an exit
//! status chosen by `--deny`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use kiro_core::lint::{self, Diagnostic, Severity};

use crate::cli::{DenyLevel, LintArgs, LintFormat};
use crate::output;
use crate::workspace::Workspace;

/// Lints the chosen specs and prints every finding. Exits 1 when a finding
/// reaches the deny level; a spec that cannot be loaded is reported on
/// stderr, the others are still linted, and the exit status is 2.
pub(super) fn run(ws: &Workspace, args: &LintArgs) -> Result<ExitCode> {
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    // Sources by their workspace-relative path, for the snippets of human output.
    let mut sources: HashMap<PathBuf, String> = HashMap::new();
    let mut failed = 0usize;
    for dir in ws.spec_dirs(&args.specs)? {
        let loaded = match ws.load(&dir) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
                continue;
            }
        };
        for mut d in lint::lint(&loaded) {
            d.file = d.file.map(|f| ws.display(&f).to_path_buf());
            diagnostics.push(d);
        }
        for file in loaded.files {
            sources.insert(ws.display(&file.path).to_path_buf(), file.text);
        }
    }

    match args.format {
        LintFormat::Human => {
            let root = ws.root().to_path_buf();
            let source = |p: &Path| {
                sources
                    .get(p)
                    .cloned()
                    .or_else(|| std::fs::read_to_string(root.join(p)).ok())
            };
            output::print(&lint::render_human(&diagnostics, &source, use_color()))?;
        }
        LintFormat::Json => output::println(&lint::render_json(&diagnostics))?,
        LintFormat::Sarif => {
            let sarif = lint::render_sarif(&diagnostics, env!("CARGO_PKG_VERSION"));
            output::println(&serde_json::to_string_pretty(&sarif)?)?;
        }
    }

    if failed > 0 {
        bail!("{failed} spec(s) could not be loaded");
    }
    let threshold = match args.deny {
        DenyLevel::Errors => Severity::Error,
        DenyLevel::Warnings => Severity::Warning,
        DenyLevel::Notes => Severity::Note,
    };
    Ok(super::status(
        diagnostics.iter().all(|d| d.severity < threshold),
    ))
}

/// Colour only for a terminal, and never when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>).
fn use_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}
