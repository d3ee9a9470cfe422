//! A node's checkpoint, staged and committed, and the engine's own writes
//! (documents, task marks) that checkpoints record.

use super::{blocking, read_optional, spec_name, Run};
use crate::checkpoint::{Checkpoint, CheckpointId, FileChange};
use crate::error::{Error, Result};
use crate::format::set_task_status;
use crate::pipeline::record::{ChangeTracker, Recorded};
use crate::spec::TaskStatus;
use crate::stage::{NodeId, PipelineEvent};
use crate::store::{render_document, write_atomic, DocKind};

impl Run<'_> {
    /// Writes one document of the spec to its folder, when it has one.
    pub(super) fn save_doc(&mut self, kind: DocKind) -> Result<()> {
        let Some(dir) = &self.spec_dir else {
            return Ok(());
        };
        if self.artifacts.spec.name.is_empty() {
            self.artifacts.spec.name = spec_name(dir);
        }
        if let Some(text) = render_document(&self.artifacts.spec, kind) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            write_atomic(&dir.join(kind.file_name()), text.as_bytes())?;
            if kind == DocKind::Tasks {
                self.tasks_text = Some(text);
            }
        }
        Ok(())
    }

    /// Writes every document of the spec after a custom node changed it.
    pub(super) fn save_spec(&mut self) -> Result<()> {
        if let Some(dir) = &self.spec_dir {
            self.artifacts.spec.save(dir)?;
            self.tasks_text = read_optional(&dir.join(DocKind::Tasks.file_name()))?;
        }
        Ok(())
    }

    /// Writes the checkpoint of a node that has just completed, with the
    /// files changed since the previous checkpoint (after a rescan when
    /// `rescan`, else from the journal and the engine's own writes).
    ///
    /// `rec` is what the checkpoint keeps; `None` only without a store.
    pub(super) async fn record(
        &mut self,
        node: NodeId,
        rec: Option<Recorded>,
        rescan: bool,
    ) -> Result<()> {
        if rescan {
            self.rescan().await?;
        }
        self.stage(node, rec.as_ref().unwrap_or(&Recorded::Gate))?;
        self.commit().await
    }

    /// Builds the checkpoint of a node that has just completed and queues it
    /// for [`commit`](Self::commit).
    ///
    /// The caller has already written everything the node's completion
    /// changes on disk (its `[x]` mark, its documents) and, for a task that
    /// ran external processes, rescanned the workspace after they ended
    /// ([`rescan`](Self::rescan)). The checkpoint takes every change
    /// detected since the previous one, so its manifest is the tree as it
    /// was at this node's mark: the node's output is in it, and a task
    /// recorded later shows `[-]` or `[ ]`, never `[x]`. One node at a time,
    /// because several nodes finishing together each need the `tasks.md`
    /// of their own mark. The blobs of files the engine or the journal
    /// changed are stored here, before the log line that commits them.
    pub(super) fn stage(&mut self, node: NodeId, rec: &Recorded) -> Result<()> {
        let files = self.take_changes()?;
        self.stage_with(node, rec, files.unwrap_or_default())
    }

    /// The changes the next checkpoint takes (see [`stage`](Self::stage)),
    /// taken out now so that a task's commit stages exactly them; `None`
    /// without a store.
    pub(super) fn take_changes(&mut self) -> Result<Option<Vec<FileChange>>> {
        let Some(store) = self.pipeline.store.clone() else {
            return Ok(None);
        };
        Ok(Some(match &mut self.tracker {
            Some(tracker) => tracker.take(&self.options.workspace, store.as_ref())?,
            None => Vec::new(),
        }))
    }

    /// [`stage`](Self::stage) with the changes already taken
    /// ([`take_changes`](Self::take_changes)).
    pub(super) fn stage_with(
        &mut self,
        node: NodeId,
        rec: &Recorded,
        files: Vec<FileChange>,
    ) -> Result<()> {
        if self.pipeline.store.is_none() {
            self.completed.insert(node);
            return Ok(());
        }
        let name = node.to_string();
        let mut checkpoint = Checkpoint::new(
            self.run_id.clone(),
            CheckpointId::from_seq(self.next_checkpoint),
            name.as_str(),
        );
        self.next_checkpoint += 1;
        checkpoint.parent = self.parent.clone();
        checkpoint.artifacts = rec.to_value(&self.run_id, &name)?;
        checkpoint.files = files;
        checkpoint.tree = self.tracker.as_mut().and_then(ChangeTracker::take_tree);
        self.parent = Some(checkpoint.reference());
        self.completed.insert(node);
        self.staged.push(checkpoint);
        Ok(())
    }

    /// Rescans the workspace for changes made outside it, on the blocking
    /// pool; the next staged checkpoint takes them.
    pub(super) async fn rescan(&mut self) -> Result<()> {
        let (Some(store), Some(mut tracker)) = (self.pipeline.store.clone(), self.tracker.take())
        else {
            return Ok(());
        };
        let workspace = self.options.workspace.clone();
        let tracker = blocking(move || {
            tracker.rescan(&workspace, store.as_ref())?;
            Ok(tracker)
        })
        .await?;
        self.tracker = Some(tracker);
        Ok(())
    }

    /// Makes the staged checkpoints durable, in order, with one sync for all
    /// of them (the store's group commit), on the blocking pool: the tasks
    /// already running go on while the disk syncs.
    pub(super) async fn commit(&mut self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let staged = std::mem::take(&mut self.staged);
        let staged = match self.pipeline.store.clone() {
            Some(store) => {
                blocking(move || {
                    store.put_many(&staged)?;
                    Ok(staged)
                })
                .await?
            }
            None => staged,
        };
        if self.options.events.is_active() {
            for checkpoint in staged {
                self.options.events.send(PipelineEvent::CheckpointWritten {
                    checkpoint: checkpoint.reference(),
                    node: checkpoint.node,
                });
            }
        }
        Ok(())
    }

    /// Writes a task's mark in `tasks.md` (when the run has a spec folder),
    /// on the blocking pool (an atomic write syncs the file and its
    /// folder), and tells the change tracker the engine wrote it.
    pub(super) async fn set_mark(&mut self, path: &[usize], status: TaskStatus) -> Result<()> {
        let (Some(dir), Some(text)) = (&self.spec_dir, &self.tasks_text) else {
            return Ok(());
        };
        let new = set_task_status(text, path, status)?;
        if &new != text {
            let file = dir.join(DocKind::Tasks.file_name());
            let (target, bytes) = (file.clone(), new.clone().into_bytes());
            blocking(move || write_atomic(&target, &bytes)).await?;
            self.tasks_text = Some(new);
            if let Some(tracker) = &mut self.tracker {
                tracker.engine_wrote(&self.options.workspace, &file);
            }
        }
        Ok(())
    }
}
