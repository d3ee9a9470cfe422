//! An integrator's own stages: an `Executor` that writes files through the
//! sandboxed `Workspace`, and an extra `Node` after the task list that
//! refuses plans leaving a criterion uncovered.
//!
//! Run: `cargo run -p kiro-examples --example custom_stage`

use std::collections::BTreeSet;

use async_trait::async_trait;
use kiro_core::pipeline::{Pipeline, RunOptions};
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{
    Artifacts, Executor, Node, Phase, RequirementsInput, StageContext, StageError, TaskOutcome,
};
use kiro_core::workspace::{Policy, Workspace};

/// Writes one note per task under `notes/`; a real one would call a model.
struct NoteTaker;

#[async_trait]
impl Executor for NoteTaker {
    async fn execute(
        &self,
        task: &Task,
        spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().unwrap_or_default();
        let note = format!("{}: {}\n", spec.name, task.title);
        cx.workspace()
            .write("main", format!("notes/{id}.txt"), note.as_bytes())?;
        Ok(TaskOutcome::done(id, "note written"))
    }
}

/// Fails the run when a criterion has no task, before anything executes.
struct CoverageGate;

#[async_trait]
impl Node for CoverageGate {
    fn name(&self) -> &str {
        "coverage-gate"
    }

    async fn run(&self, artifacts: &mut Artifacts, _cx: &StageContext) -> Result<(), StageError> {
        let tasks = artifacts.spec.tasks.iter().flat_map(|t| t.all_tasks());
        let covered: BTreeSet<String> = tasks
            .flat_map(|t| t.requirements.iter().map(|c| c.to_string()))
            .collect();
        let criteria = artifacts.spec.criteria();
        let missing: Vec<&str> = criteria
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| !covered.contains(*id))
            .collect();
        if !missing.is_empty() {
            return Err(StageError::failed(format!(
                "uncovered criteria: {}",
                missing.join(", ")
            )));
        }
        artifacts.set("covered", &covered.len())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let workspace = Workspace::builder()
        .repo("main", dir.path())
        .policy(Policy {
            writable: vec!["notes/**".into(), ".kiro/**".into()],
            commands: vec![],
        })
        .build()?;
    let pipeline = Pipeline::builder()
        .executor(NoteTaker)
        .external_changes(false)
        .node_after(Phase::Tasks, CoverageGate)
        .build();
    let text = "- WHEN a reader opens a link, THE Shortener SHALL redirect within 100 ms.\n\
                - IF a link has expired, THEN THE Shortener SHALL answer 410 Gone.\n";
    let options = RunOptions::new(workspace, dir.path().join(".kiro/specs/links"))
        .input(RequirementsInput::Text(text.into()))
        .until(Phase::Execute);
    let summary = pipeline.run(options).await?;
    println!("status: {:?}", summary.status);
    let covered: Option<usize> = summary.artifacts.get("covered")?;
    println!("criteria covered: {covered:?}");
    for (task, outcome) in &summary.artifacts.outcomes {
        println!("task {task:<5} {:?} {}", outcome.status, outcome.summary);
    }
    Ok(())
}
