//! What the engine benchmarks share: an executor that does nothing, a flat
//! plan of `n` tasks and a permissive one-repository workspace.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kiro_core::spec::{Spec, Task};
use kiro_core::stage::{Executor, StageContext, StageError, TaskOutcome};
use kiro_core::workspace::{Policy, Workspace};

/// Does nothing: what is measured is the engine around it.
pub struct Noop;

#[async_trait]
impl Executor for Noop {
    async fn execute(
        &self,
        task: &Task,
        _spec: &Spec,
        _cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        Ok(TaskOutcome::done(task.id.clone().unwrap(), "ok"))
    }
}

/// A spec whose `tasks.md` lists `n` top-level tasks.
pub fn spec(n: usize) -> Spec {
    let mut md = String::from("# Implementation Plan\n\n");
    for i in 1..=n {
        md.push_str(&format!("- [ ] {i}. Task {i}\n"));
    }
    let tasks = kiro_core::format::parse_tasks(&md).value;
    assert_eq!(tasks.tasks.len(), n);
    Spec {
        name: "bench".into(),
        tasks: Some(tasks),
        ..Spec::default()
    }
}

/// One repository at `dir` that every stage may write.
pub fn workspace(dir: &Path) -> Arc<Workspace> {
    Arc::new(
        Workspace::builder()
            .repo("main", dir)
            .policy(Policy::permissive())
            .build()
            .unwrap(),
    )
}
