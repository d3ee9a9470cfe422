//! The phases in order (requirements, design, tasks, execute, verify),
//! the approval gate after each document phase, and the custom nodes
//! placed around them.

use std::sync::Arc;
use std::time::Instant;

use super::retry::{guarded, retrying};
use super::scheduler::Scheduler;
use super::{gate_node, proceed, Flow, Run};
use crate::audit::{AuditKind, VerificationAudit};
use crate::error::{Error, Result};
use crate::pipeline::record::Recorded;
use crate::pipeline::{Placement, RunStatus, TaskGraph, TaskKind};
use crate::spec::TaskStatus;
use crate::stage::{
    Approval, Gate, NodeId, NodeStatus, Phase, PipelineEvent, StageError, TaskOutcome,
};
use crate::store::DocKind;
use crate::verify::{CriterionResult, CriterionStatus, VerificationReport};

impl Run<'_> {
    /// Runs the phases up to the one asked for.
    pub(super) async fn phases(&mut self) -> Result<Flow> {
        for phase in Phase::ALL {
            if phase > self.options.until {
                break;
            }
            proceed!(self.custom_nodes(Placement::Before(phase)).await?);
            proceed!(match phase {
                Phase::Requirements | Phase::Design | Phase::Tasks => self.document(phase).await?,
                Phase::Execute => self.execute().await?,
                Phase::Verify => self.verify().await?,
            });
            proceed!(self.custom_nodes(Placement::After(phase)).await?);
            // Phases record their usage as they end; tasks are checked as
            // each settles (in the scheduler).
            if let Some(limit) = self.over_limit() {
                self.commit().await?;
                return Err(limit);
            }
            if phase < Phase::Execute && phase < self.options.until {
                proceed!(self.gate(Gate::Phase { phase }).await?);
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs an approver decision for a gate and records an approval.
    async fn gate(&mut self, gate: Gate) -> Result<Flow> {
        let name = gate_node(&gate);
        if self.completed.contains(&name) {
            return Ok(Flow::Continue);
        }
        proceed!(self.cancelled());
        let approval = match self.pipeline.approver.approve(&gate, &self.artifacts).await {
            Ok(a) => a,
            Err(e) => Approval::Rejected {
                reason: format!("approver failed: {e}"),
            },
        };
        self.options.events.send(PipelineEvent::GateDecided {
            gate: gate.clone(),
            approval: approval.clone(),
        });
        self.audit_gate(&gate, &approval).await?;
        match approval {
            Approval::Approved => {
                self.record(name, Some(Recorded::Gate), false).await?;
                Ok(Flow::Continue)
            }
            Approval::Rejected { reason } => Ok(Flow::Stop(RunStatus::Stopped { gate, reason })),
        }
    }

    /// Runs the custom nodes placed here, in the order they were added.
    async fn custom_nodes(&mut self, at: Placement) -> Result<Flow> {
        let nodes: Vec<_> = self
            .pipeline
            .nodes
            .iter()
            .filter(|(placement, _)| *placement == at)
            .map(|(_, n)| n.clone())
            .collect();
        for node in nodes {
            let id = NodeId::Custom(node.name().to_owned());
            if self.completed.contains(&id) {
                continue;
            }
            proceed!(self.cancelled());
            let name = id.to_string();
            let started = Instant::now();
            let mut artifacts = self.artifacts.clone();
            let cx = self.context.for_node(
                Arc::from(name.as_str()),
                1,
                Arc::new(self.artifacts.clone()),
            );
            self.options.events.send(PipelineEvent::NodeStarted {
                node: name.clone(),
                attempt: 1,
            });
            let result = guarded(
                self.pipeline.phase_policy,
                &self.cancel,
                node.run(&mut artifacts, &cx),
            )
            .await;
            match result {
                Ok(()) => {
                    self.artifacts = artifacts;
                    self.add_usage(&name, cx.usage());
                    self.finished(&id, NodeStatus::Done, "done".into(), started);
                    self.save_spec()?;
                    let rec = self.full();
                    self.record(id, rec, true).await?;
                }
                Err(e) => return Ok(self.stage_failed(&id, &e, started)),
            }
        }
        Ok(Flow::Continue)
    }

    /// Requirements, design or tasks: reuse the document or produce it.
    async fn document(&mut self, phase: Phase) -> Result<Flow> {
        let Some(id) = NodeId::phase(phase) else {
            return Ok(Flow::Continue);
        };
        if self.completed.contains(&id) {
            return Ok(Flow::Continue);
        }
        proceed!(self.cancelled());
        let name = id.to_string();
        let spec = &self.artifacts.spec;
        let has_requirements = spec.requirements.is_some() || spec.bugfix.is_some();
        let (exists, later_exists) = match phase {
            Phase::Requirements => (
                has_requirements,
                spec.design.is_some() || spec.tasks.is_some(),
            ),
            Phase::Design => (spec.design.is_some(), spec.tasks.is_some()),
            _ => (spec.tasks.is_some(), false),
        };
        let regenerate = self.options.regenerate.contains(&phase);
        // A spec that starts later in the chain (a hand-written tasks.md)
        // runs from there: a missing earlier document is not generated.
        if (exists || later_exists) && !regenerate {
            if exists {
                self.options
                    .events
                    .send(PipelineEvent::PhaseReused { phase });
                self.audit(
                    AuditKind::Phase,
                    serde_json::json!({ "phase": phase, "result": "reused" }),
                )
                .await?;
            }
            let rec = self.full();
            self.record(id, rec, false).await?;
            return Ok(Flow::Continue);
        }
        let reqs = spec.requirements.clone().unwrap_or_default();
        let design = spec.design.clone().unwrap_or_default();
        let started = Instant::now();
        self.options.events.send(PipelineEvent::NodeStarted {
            node: name.clone(),
            attempt: 1,
        });
        let cx = self.context.for_node(
            Arc::from(name.as_str()),
            1,
            Arc::new(self.artifacts.clone()),
        );
        let policy = self.pipeline.phase_policy;
        let result: std::result::Result<(), StageError> = match phase {
            Phase::Requirements => {
                let Some(input) = self.options.input.clone() else {
                    return Err(Error::NoRequirementsInput {
                        spec: self.artifacts.spec.name.clone(),
                    });
                };
                let parser = self.pipeline.requirements.clone();
                retrying(policy, &self.cancel, &self.options.events, &name, || {
                    parser.parse(&input, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.requirements = Some(doc))
            }
            Phase::Design => {
                let designer = self.pipeline.designer.clone();
                retrying(policy, &self.cancel, &self.options.events, &name, || {
                    designer.design(&reqs, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.design = Some(doc))
            }
            _ => {
                let planner = self.pipeline.planner.clone();
                retrying(policy, &self.cancel, &self.options.events, &name, || {
                    planner.plan(&reqs, &design, &cx)
                })
                .await
                .map(|doc| self.artifacts.spec.tasks = Some(doc))
            }
        };
        self.add_usage(&name, cx.usage());
        if let Err(e) = result {
            if !matches!(e, StageError::Cancelled) {
                self.audit(
                    AuditKind::Phase,
                    serde_json::json!({ "phase": phase, "result": "failed", "error": e.to_string() }),
                )
                .await?;
            }
            return Ok(self.stage_failed(&id, &e, started));
        }
        let kind = match phase {
            Phase::Requirements => DocKind::Requirements,
            Phase::Design => DocKind::Design,
            _ => DocKind::Tasks,
        };
        self.save_doc(kind)?;
        self.audit(
            AuditKind::Phase,
            serde_json::json!({ "phase": phase, "result": "written" }),
        )
        .await?;
        self.finished(&id, NodeStatus::Done, "written".into(), started);
        let rec = self.full();
        self.record(id, rec, true).await?;
        Ok(Flow::Continue)
    }

    /// Runs the verifier (or reports every criterion untested without one)
    /// and audits its verdicts.
    async fn verify(&mut self) -> Result<Flow> {
        let id = NodeId::Verify;
        if self.completed.contains(&id) {
            return Ok(Flow::Continue);
        }
        proceed!(self.cancelled());
        let name = id.to_string();
        let started = Instant::now();
        self.options.events.send(PipelineEvent::NodeStarted {
            node: name.clone(),
            attempt: 1,
        });
        let outcomes: Vec<TaskOutcome> = self.artifacts.outcomes.values().cloned().collect();
        let report = match &self.pipeline.verifier {
            Some(v) => {
                let cx = self.context.for_node(
                    Arc::from(name.as_str()),
                    1,
                    Arc::new(self.artifacts.clone()),
                );
                let spec = self.artifacts.spec.clone();
                let v = v.clone();
                let report = retrying(
                    self.pipeline.phase_policy,
                    &self.cancel,
                    &self.options.events,
                    &name,
                    || v.verify(&spec, &outcomes, &cx),
                )
                .await;
                self.add_usage(&name, cx.usage());
                match report {
                    Ok(r) => r,
                    Err(e) => return Ok(self.stage_failed(&id, &e, started)),
                }
            }
            None => {
                self.options.events.send(PipelineEvent::Message {
                    node: name.clone(),
                    text: "no verifier configured: every criterion is untested".into(),
                });
                VerificationReport {
                    criteria: self
                        .artifacts
                        .spec
                        .criteria()
                        .into_iter()
                        .map(|c| CriterionResult {
                            criterion: c.id.clone(),
                            status: CriterionStatus::Untested,
                            ..CriterionResult::default()
                        })
                        .collect(),
                    ..VerificationReport::default()
                }
            }
        };
        let status = if report.is_success() {
            NodeStatus::Done
        } else {
            NodeStatus::Failed
        };
        let failed = report
            .criteria
            .iter()
            .filter(|c| c.status == CriterionStatus::Failed)
            .count();
        // One payload shape for every producer of a verification entry
        // (`kiro verify` writes the same through `project`).
        let data = serde_json::to_value(VerificationAudit::from_report(&report, "pipeline"))
            .map_err(|e| Error::Backend(Box::new(e)))?;
        self.audit(AuditKind::Verification, data).await?;
        self.artifacts.report = Some(report);
        self.finished(&id, status, format!("{failed} criteria failed"), started);
        let rec = self.full();
        self.record(id, rec, true).await?;
        Ok(Flow::Continue)
    }

    /// Runs the task graph (see [`Scheduler`]).
    async fn execute(&mut self) -> Result<Flow> {
        let Some(list) = self.artifacts.spec.tasks.clone() else {
            return Ok(Flow::Continue);
        };
        let order = self.pipeline.config.pipeline.order;
        let checked = self
            .checked_plan
            .take()
            .and_then(|plan| plan.graph_of(&list, order));
        let graph = match checked {
            Some(graph) => graph,
            None => TaskGraph::build(&list, order)?,
        };
        // Every task's repositories are settled (and unknown names refused)
        // before the first task starts.
        let repos = crate::pipeline::repos::assign(&graph, &self.options.workspace)?;
        // Branches are switched (and, on resume, moved back to the last
        // checkpoint's commits) before any task changes a file.
        self.start_git(&repos).await?;
        let executor = match &self.pipeline.executor {
            Some(executor) => Some(executor.clone()),
            None => {
                let include_optional = self.options.include_optional;
                let left_to_run: Vec<String> = graph
                    .nodes()
                    .filter(|(_, node)| {
                        node.kind == TaskKind::Leaf
                            && node.task.status != TaskStatus::Done
                            && !self.completed.contains(&NodeId::Task(node.id.clone()))
                            && (include_optional || !node.task.optional)
                    })
                    .map(|(_, node)| node.id.to_string())
                    .collect();
                if !left_to_run.is_empty() {
                    return Err(Error::NoExecutor {
                        spec: self.artifacts.spec.name.clone(),
                        tasks: left_to_run,
                    });
                }
                None
            }
        };
        Scheduler::new(self, graph, repos, executor).run().await
    }
}
