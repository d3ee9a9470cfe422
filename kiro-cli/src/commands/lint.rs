//! `kiro spec lint`: diagnostics as human text, JSON or SARIF, and an exit
//! status chosen by `--deny`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use kiro_core::lint::{self, Diagnostic, Severity};
use kiro_core::store;

use crate::cli::{DenyLevel, LintArgs, LintFormat};
use crate::output;
use crate::workspace::Workspace;

/// Lints the chosen specs and prints every finding. Exits 1 when a finding
/// reaches the deny level; a spec that cannot be loaded is reported on
/// stderr and as a `K0000` error in the output (so that a JSON or SARIF
/// report of it never looks clean), the others are still linted, and the
/// exit status is 2.
pub(super) fn run(ws: &Workspace, args: &LintArgs) -> Result<ExitCode> {
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    // Sources by their workspace-relative path, for the snippets of human output.
    let mut sources: HashMap<PathBuf, String> = HashMap::new();
    let mut failed = 0usize;
    let options = ws.load_options()?;
    // Plan rules check the graph a run would build, in the configured order.
    let lint_options = lint::LintOptions::from(&crate::engine::config(ws)?);
    for dir in ws.spec_dirs(&args.specs)? {
        let loaded = match store::load_spec_with(&dir, &options) {
            Ok(l) => l,
            Err(e) => {
                let message = format!(
                    "error: cannot load spec {}: {e}",
                    ws.display(&dir).display()
                );
                eprintln!("{}", kiro_core::escape::escape_control(&message));
                let mut d = Diagnostic::load_error(&dir, &e);
                d.file = d.file.map(|f| ws.display(&f).to_path_buf());
                diagnostics.push(d);
                failed += 1;
                continue;
            }
        };
        for mut d in lint::lint_with(&loaded, lint_options) {
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
            let limit = options.max_input_bytes;
            let source = |p: &Path| {
                sources
                    .get(p)
                    .cloned()
                    .or_else(|| store::read_text_file(&root.join(p), limit).ok().flatten())
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
    let ok = diagnostics.iter().all(|d| d.severity < threshold);
    crate::step_summary::lint(&diagnostics, !ok);
    Ok(super::status(ok))
}

/// Colour only for a terminal, and never when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>).
fn use_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}
