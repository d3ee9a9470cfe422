//! `kiro spec fmt`: rewrite documents in canonical Kiro form.

use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::store;

use crate::cli::FmtArgs;
use crate::output;
use crate::workspace::Workspace;

/// Renders every document of the chosen specs canonically and writes the
/// ones whose bytes change (or, with `--check`, lists them and exits 1).
/// Files kiro does not model are never touched.
pub(super) fn run(ws: &Workspace, args: &FmtArgs) -> Result<ExitCode> {
    let mut differing = 0usize;
    for dir in ws.spec_dirs(&args.specs)? {
        let loaded = ws.load(&dir)?;
        for file in &loaded.files {
            let Some(canonical) = store::render_file(&loaded.spec, file) else {
                continue;
            };
            if canonical == file.text {
                continue;
            }
            differing += 1;
            let shown = ws.display(&file.path).display().to_string();
            if args.check {
                output::println(&shown)?;
            } else {
                store::write_atomic(&file.path, canonical.as_bytes())
                    .with_context(|| format!("cannot rewrite {shown}"))?;
                output::println(&format!("formatted {shown}"))?;
            }
        }
    }
    Ok(super::status(!args.check || differing == 0))
}
