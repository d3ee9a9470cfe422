//! Load a Kiro spec folder, show how each acceptance criterion reads as EARS,
//! and lint it — the library calls behind `kiro spec show` and `kiro spec lint`.
//!
//! Run: `cargo run -p kiro-examples --example lint_spec [SPEC_DIR]`
//! (default: the demo spec `examples/demo/.kiro/specs/needs-work`).

use std::path::{Path, PathBuf};

use kiro_core::lint::{self, Severity};
use kiro_core::store::load_spec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/.kiro/specs/needs-work"),
        PathBuf::from,
    );
    let loaded = load_spec(&dir)?;

    for criterion in loaded.spec.criteria() {
        let pattern = criterion
            .ears
            .as_ref()
            .map_or_else(|| "not EARS".to_owned(), |e| format!("{:?}", e.pattern));
        println!("{:>5}  {:<12} {}", criterion.id, pattern, criterion.text);
    }
    println!();

    let diagnostics = lint::lint(&loaded);
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    print!("{}", lint::render_human(&diagnostics, &read, false));

    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    println!("{errors} error(s) in {}", dir.display());
    Ok(())
}
