//! The whole pipeline offline, from requirements text to a verified result:
//! EARS text → requirements.md → design.md → tasks.md → a scripted "agent"
//! (`agent.py`, run by `CommandExecutor` once per task) → `python3 -m
//! unittest` (run by `CommandVerifier`), traced back to every criterion.
//!
//! Run: `cargo run -p kiro-examples --example quickstart` (needs `python3`).
//! It works in a temporary folder and prints where, so nothing in the
//! repository changes.

use std::path::Path;

use kiro_core::checkpoint::FileCheckpointStore;
use kiro_core::pipeline::{NodeStatus, Pipeline, PipelineEvent, RunOptions};
use kiro_core::stage::{EventSink, RequirementsInput};
use kiro_core::stages::{CommandExecutor, CommandVerifier};
use kiro_core::workspace::{Policy, Workspace};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("quickstart");
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let text = std::fs::read_to_string(here.join("requirements.txt"))?;
    let agent = here.join("agent.py");

    let workspace = Workspace::builder()
        .repo("main", root)
        .policy(Policy {
            writable: vec!["**".into()],
            commands: vec!["python3".into()],
        })
        .build()?;
    let pipeline = Pipeline::builder()
        .executor(CommandExecutor::new([
            "python3".into(),
            agent.display().to_string(),
        ]))
        .verifier(CommandVerifier::new([
            "python3", "-m", "unittest", "discover", "-s", "tests",
        ]))
        .store(FileCheckpointStore::new(root))
        .build();

    // Print each node as it ends.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let PipelineEvent::NodeFinished {
                node,
                status,
                summary,
                ..
            } = event
            {
                let mark = match status {
                    NodeStatus::Done => "done",
                    NodeStatus::Failed => "FAILED",
                    NodeStatus::Skipped => "skipped",
                };
                println!("{node:<12} {mark:<8} {summary}");
            }
        }
    });

    let options = RunOptions::new(workspace, root.join(".kiro/specs/slugs"))
        .input(RequirementsInput::Text(text))
        .include_optional(true)
        .events(EventSink::new(tx));
    let summary = pipeline.run(options).await?;
    printer.await?;

    println!("\nrun {} ended: {:?}", summary.run_id, summary.status);
    if let Some(report) = &summary.artifacts.report {
        for c in &report.criteria {
            println!("criterion {:<5} {:?}", c.criterion.as_str(), c.status);
        }
        let (passed, failed, untested) = report.counts();
        println!("{passed} passed, {failed} failed, {untested} untested");
    }
    println!("spec and code written under {}", root.display());
    // Keep the folder when asked, to look at the generated files.
    if std::env::var_os("KIRO_KEEP").is_some() {
        let _ = dir.keep();
    }
    Ok(())
}
