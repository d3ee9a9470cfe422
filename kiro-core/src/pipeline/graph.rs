//! The task graph of one run: one node per task, edges from sub-task order,
//! document order and `_Depends`, checked before anything runs.
//!
//! The graph is built by [`crate::plan`], the one builder lint uses too, so
//! that a plan `kiro spec lint` accepts is one a run executes, and a cycle
//! or duplicate id lint reports is the one a run refuses
//! ([`Error::AmbiguousPlan`](crate::Error::AmbiguousPlan)).
//!
//! A task with sub-tasks is a parent: the executor never runs it, and it is
//! done when its sub-tasks are, whether they are indented under it, written
//! at its indentation and numbered under it (`- [ ] 2.` then `- [ ] 2.1`),
//! or under a cc-sdd group heading (`## 2. Title`). Parsing nests all three
//! the same way, so the graph sees one shape.

pub use crate::plan::{TaskGraph, TaskIndex, TaskKind, TaskNode};

#[cfg(test)]
mod tests {
    // Tests state their expectations with unwrap; a failure is the test failing.
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::config::TaskOrder;
    use crate::format::set_task_status;
    use crate::format::{parse_tasks, render_tasks};
    use crate::pipeline::{Pipeline, RunOptions};
    use crate::spec::{Spec, TaskStatus};
    use crate::spec::{Task, TaskId, TaskList};
    use crate::stage::{Executor, Phase, StageContext, StageError, TaskOutcome};
    use crate::workspace::{Policy, Workspace};

    /// The nodes (`id kind path`, document order) and edges (`a -> b`,
    /// sorted) of a list's graph.
    fn shape(list: &TaskList) -> (Vec<String>, Vec<String>) {
        let g = TaskGraph::build(list, TaskOrder::Document).unwrap();
        let nodes = g
            .nodes()
            .map(|(_, t)| format!("{} {:?} {:?}", t.id, t.kind, t.path))
            .collect();
        let mut edges: Vec<String> = g
            .edges()
            .map(|(a, b, _)| format!("{} -> {}", g[a].id, g[b].id))
            .collect();
        edges.sort();
        (nodes, edges)
    }

    #[test]
    fn flat_and_heading_groups_are_parents_like_nested_ones() {
        let nested = "- [ ] 1. Setup\n\n- [ ] 2. Build\n  - [ ] 2.1 First\n\n  - [ ] 2.2 Second\n\n- [ ] 3. Ship\n";
        let expected = shape(&parse_tasks(nested).value);
        assert_eq!(
            expected.0,
            [
                "1 Leaf [0]",
                "2 Parent [1]",
                "2.1 Leaf [1, 0]",
                "2.2 Leaf [1, 1]",
                "3 Leaf [2]"
            ]
        );
        assert_eq!(
            expected.1,
            ["1 -> 2.1", "2.1 -> 2", "2.1 -> 2.2", "2.2 -> 2", "2.2 -> 3"]
        );
        for src in [
            "- [ ] 1. Setup\n\n- [ ] 2. Build\n- [ ] 2.1 First\n\n- [ ] 2.2 Second\n\n- [ ] 3. Ship\n",
            "- [ ] 1. Setup\n\n## 2. Build\n\n- [ ] 2.1 First\n\n- [ ] 2.2 Second\n\n- [ ] 3. Ship\n",
        ] {
            assert_eq!(shape(&parse_tasks(src).value), expected, "{src}");
        }
    }

    #[test]
    fn a_model_built_flat_gets_the_hierarchy_and_paths_of_its_file() {
        // A planner may list sub-tasks beside their parent.
        let task = |id: &str| Task {
            id: Some(TaskId::new(id)),
            title: format!("Task {id}"),
            ..Task::default()
        };
        let list = TaskList {
            tasks: ["1", "2", "2.1", "2.2", "3"].map(task).to_vec(),
            ..TaskList::default()
        };
        let (nodes, _) = shape(&list);
        assert_eq!(
            nodes,
            [
                "1 Leaf [0]",
                "2 Parent [1]",
                "2.1 Leaf [1, 0]",
                "2.2 Leaf [1, 1]",
                "3 Leaf [2]"
            ]
        );
        // The path names the task in the file the engine writes.
        let md = render_tasks(&list);
        let out = set_task_status(&md, &[1, 0], TaskStatus::Done).unwrap();
        assert_eq!(out, md.replace("- [ ] 2.1 ", "- [x] 2.1 "));
    }

    /// Records the ids it is asked to run.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    #[async_trait]
    impl Executor for Recorder {
        async fn execute(
            &self,
            task: &Task,
            _spec: &Spec,
            _cx: &StageContext,
        ) -> std::result::Result<TaskOutcome, StageError> {
            let id = task.id.clone().unwrap_or_default();
            self.0.lock().unwrap().push(id.to_string());
            Ok(TaskOutcome::done(id, "ok"))
        }
    }

    #[tokio::test]
    async fn parents_written_flat_or_as_headings_never_reach_the_executor() {
        let dir = tempfile::tempdir().unwrap();
        let spec_dir = dir.path().join("spec");
        std::fs::create_dir_all(&spec_dir).unwrap();
        let md = "# Plan\n\n- [ ] 1. Build\n- [ ] 1.1 First part\n\n- [ ] 1.2 Second part\n\n## 2. Group (P)\n\n- [ ] 2.1 Client\n\n## [ ] 3. Boxed\n\n- [ ] 3.1 Server\n";
        std::fs::write(spec_dir.join("tasks.md"), md).unwrap();
        let workspace = Workspace::builder()
            .repo("main", dir.path())
            .policy(Policy::permissive())
            .build()
            .unwrap();
        let ran = Recorder::default();
        Pipeline::builder()
            .executor(ran.clone())
            .build()
            .run(RunOptions::new(Arc::new(workspace), &spec_dir).until(Phase::Execute))
            .await
            .unwrap();
        assert_eq!(*ran.0.lock().unwrap(), ["1.1", "1.2", "2.1", "3.1"]);
        // Each parent is done once its sub-tasks are: a checkbox is marked,
        // a heading without one has nothing to mark.
        assert_eq!(
            std::fs::read_to_string(spec_dir.join("tasks.md")).unwrap(),
            md.replace("[ ]", "[x]")
        );
    }
}
