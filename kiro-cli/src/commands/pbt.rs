//! `kiro pbt gen`: a spec's executable correctness properties as a test
//! file ([`kiro_proptest::codegen`]).

use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::escape::escape_control;
use kiro_core::spec::PropertyId;
use kiro_proptest::codegen::RustTests;

use crate::cli::{PbtGenArgs, PbtLang};
use crate::output;
use crate::workspace::Workspace;

/// Prints the test file, or writes it atomically to `--out` and prints
/// what it holds. A spec whose properties cannot become tests is an error
/// (exit 2) naming the property and what its block lacks.
pub(super) fn gen(ws: &Workspace, args: &PbtGenArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;
    let file = match args.lang {
        PbtLang::Rust => {
            let mut tests =
                RustTests::new(&spec).properties(args.properties.iter().map(PropertyId::new));
            if let Some(name) = &args.crate_name {
                tests = tests.crate_name(name);
            }
            tests.generate()?
        }
    };
    let Some(path) = &args.out else {
        output::print(&file.code)?;
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    kiro_core::store::write_atomic(path, file.code.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let ids = |ids: &mut dyn Iterator<Item = &PropertyId>| {
        ids.map(PropertyId::as_str).collect::<Vec<_>>().join(", ")
    };
    let mut summary = format!(
        "{}: {} test{} for spec `{}` (properties {})",
        path.display(),
        file.tests.len(),
        if file.tests.len() == 1 { "" } else { "s" },
        spec.name,
        ids(&mut file.tests.iter().map(|t| &t.property)),
    );
    if !file.skipped.is_empty() {
        summary.push_str(&format!(
            "; without a kiro-property block: {}",
            ids(&mut file.skipped.iter())
        ));
    }
    output::println(&escape_control(&summary))?;
    Ok(ExitCode::SUCCESS)
}
