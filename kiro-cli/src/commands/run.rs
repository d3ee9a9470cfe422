//! `kiro run`: a spec through the pipeline, with progress, approval gates,
//! Ctrl-C handling and an exit status per outcome; `--plan` prints the task
//! graph instead.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressStyle};
use kiro_core::checkpoint::{RunId, SpecLock};
use kiro_core::pipeline::{NodeStatus, PipelineEvent, RunStatus, RunSummary, TaskKind};
use kiro_core::project::{ProjectError, Resume, RunSetup};
use kiro_core::redact::Redactor;
use kiro_core::stage::{
    Approval, Approver, Artifacts, EventSink, Gate, OutcomeStatus, Phase, RequirementsInput,
    RunUsage, StageError,
};
use kiro_proptest::verifier::{StoredProperties, WithProperties};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::engine;
use crate::models;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when a task, stage or criterion failed.
const EXIT_FAILED: u8 = 1;
/// Exit status when the run stopped at a gate that was not approved.
const EXIT_STOPPED: u8 = 3;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_CANCELLED: u8 = 130;

/// Runs `kiro run`.
pub(super) fn run(ws: &Workspace, args: &RunArgs) -> Result<ExitCode> {
    if args.plan {
        return plan(ws, args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_pipeline(ws, args))
}

async fn run_pipeline(ws: &Workspace, args: &RunArgs) -> Result<ExitCode> {
    let spec_dir = engine::spec_dir_for_run(ws, &args.spec, args.from.is_some())?;
    let name = engine::spec_name(&spec_dir);
    let project = engine::project(ws)?;
    let until = engine::phase(args.until);
    let resume = match args.resume.as_deref() {
        None => Resume::New,
        Some("") => Resume::Latest,
        Some(id) => Resume::Run(RunId::new(id).with_context(|| format!("`{id}` is not a run id"))?),
    };
    let mut setup = RunSetup::new(&spec_dir).until(until).resume(resume);
    if let Some(jobs) = args.jobs {
        setup = setup.jobs(usize::from(jobs));
    }
    if let Some(launcher) = engine::launcher() {
        setup = setup.launcher(launcher);
    }
    // The verify phase runs the spec's executable properties and stores
    // their results before the configured test command (if any) reads them.
    setup = match project.verifier() {
        Some(tests) => setup.verifier(WithProperties::new(tests)),
        None => setup.verifier(WithProperties::new(StoredProperties)),
    };
    // The model writes the documents and runs the tasks when the
    // workspace or the flags ask for it.
    let file = project.config().clone();
    let model = if models::wanted(&file, args.llm, args.no_llm) {
        Some(models::connect(ws.root(), &file)?)
    } else {
        None
    };
    // An ACP agent runs the tasks when the workspace names one.
    if let Some(acp) = models::acp_executor(&file) {
        setup = setup.executor(acp);
    }
    if let Some(model) = &model {
        setup = models::with_stages(setup, model, &file);
    }
    let bar: SharedBar = Arc::default();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    setup = if args.yes {
        setup.approve_all()
    } else if interactive {
        setup.approver(PromptApprover {
            bar: bar.clone(),
            spec_dir: ws.display(&spec_dir).display().to_string(),
        })
    } else {
        setup.approver(NonInteractive)
    };
    let prepared = project.prepare_run(setup).map_err(|e| match e {
        e @ ProjectError::RunOfOtherSpec { .. } => engine::explain(e),
        e @ (ProjectError::NoExecutor { .. } | ProjectError::StoreInsideWorkspace { .. }) => {
            engine::explain(e)
        }
        e => engine::explain(e).context(format!("cannot run spec `{name}`")),
    })?;
    if prepared.resume_missing {
        eprintln!("no earlier run of spec `{name}` to resume; starting a new run");
    }
    // The run names itself in the lock once it has an id (a resumed run
    // is named from the start); the lock goes with this process, even
    // when it is killed.
    let lock = Arc::new(std::sync::Mutex::new(prepared.lock));
    let engine = prepared.pipeline;

    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let mut options = prepared
        .options
        .include_optional(args.include_optional)
        .events(EventSink::new(tx))
        .cancel(cancel.clone());
    if let Some(path) = &args.from {
        options = options.input(requirements_input(&super::read_input(ws, path)?));
    }
    // The workspace's memory store, once `kiro memory` made one, recalls
    // lessons for each task; the run's checkpoints record which.
    let memory_db = ws.root().join(kiro_memory::store::DEFAULT_DB_PATH);
    if memory_db.is_file() {
        let store = kiro_memory::MemoryStore::open(&memory_db)
            .with_context(|| format!("cannot open the memory store {}", memory_db.display()))?;
        options = options.memory(Arc::new(store));
    }
    for phase in &args.regenerate {
        options = options.regenerate(engine::phase(*phase));
    }

    let reporter = tokio::spawn(report(
        rx,
        bar.clone(),
        std::io::stderr().is_terminal(),
        lock.clone(),
        Redactor::from_env(),
    ));
    let interrupts = tokio::spawn(interrupts(cancel.clone()));
    let result = engine.run(options).await;
    interrupts.abort();
    // The engine drops its event senders when the run ends, which ends the
    // reporter; the timeout only guards against a sender kept elsewhere.
    let _ = tokio::time::timeout(Duration::from_secs(2), reporter).await;
    if let Ok(mut bar) = bar.lock() {
        if let Some(b) = bar.take() {
            b.finish_and_clear();
        }
    }
    let summary = result.with_context(|| format!("cannot run spec `{name}`"))?;
    let usage = RunUsage::of(&summary.artifacts).priced(
        model.as_ref().map(|m| m.config.model.as_str()),
        &file.llm.prices,
    );
    let report = models::usage_report(&usage);
    if !report.is_empty() {
        output::print(&report)?;
    }
    let governed = ws.root().join(kiro_core::governance::POLICY_PATH).is_file();
    conclude(&summary, &args.spec, governed)
}

/// Prints the summary line and what to do next; returns the exit status.
/// A failure's reason may quote an agent, so it is redacted and escaped.
fn conclude(summary: &RunSummary, spec: &str, governed: bool) -> Result<ExitCode> {
    let redactor = Redactor::from_env();
    let shown = |text: &str| redactor.for_terminal(text);
    let spec = &shown(spec);
    let run = &summary.run_id;
    let checkpoint = summary
        .checkpoint
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    let counts = outcome_counts(&summary.artifacts);
    let (status, code) = match &summary.status {
        RunStatus::Completed => ("completed".to_owned(), ExitCode::SUCCESS),
        RunStatus::Failed { reason } => {
            eprintln!("error: {}", shown(reason));
            eprintln!(
                "fix the cause, then continue with `kiro run {spec} --resume {run}` \
                 (finished tasks are not run again)"
            );
            ("failed".to_owned(), ExitCode::from(EXIT_FAILED))
        }
        RunStatus::Stopped { gate, reason } => {
            let gate = shown(&gate.to_string());
            eprintln!("stopped at {gate}: {}", shown(reason));
            if governed {
                // `--yes` cannot pass a gate `.kiro/policy.toml` governs:
                // the reason names the `kiro approve` command.
                eprintln!("once it is approved, continue with `kiro run {spec} --resume`");
            } else {
                eprintln!(
                    "to approve it and continue, run `kiro run {spec} --resume --yes`, \
                     or `kiro run {spec} --resume` in a terminal to be asked at each gate"
                );
            }
            (format!("stopped at {gate}"), ExitCode::from(EXIT_STOPPED))
        }
        RunStatus::Cancelled => {
            eprintln!(
                "interrupted; finished tasks are checkpointed. \
                 Continue with `kiro run {spec} --resume {run}`"
            );
            ("interrupted".to_owned(), ExitCode::from(EXIT_CANCELLED))
        }
    };
    output::println(&format!(
        "run {run} {status}: {counts}; last checkpoint {checkpoint}"
    ))?;
    Ok(code)
}

/// `N done, N failed, N skipped` over the run's task outcomes.
pub(super) fn outcome_counts(artifacts: &Artifacts) -> String {
    let count = |s: OutcomeStatus| {
        artifacts
            .outcomes
            .values()
            .filter(|o| o.status == s)
            .count()
    };
    format!(
        "{} tasks done, {} failed, {} skipped",
        count(OutcomeStatus::Done),
        count(OutcomeStatus::Failed),
        count(OutcomeStatus::Skipped)
    )
}

/// Kiro markdown when the text starts with a heading, else plain text or
/// EARS bullet lines.
fn requirements_input(text: &str) -> RequirementsInput {
    if text.trim_start().starts_with('#') {
        RequirementsInput::Markdown(text.to_owned())
    } else {
        RequirementsInput::Text(text.to_owned())
    }
}

/// Cancels the run on the first Ctrl-C, so that the engine stops after
/// checkpointing what finished; a second Ctrl-C quits at once.
async fn interrupts(cancel: CancellationToken) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    eprintln!(
        "\ninterrupted: stopping after checkpointing the finished tasks \
         (press Ctrl-C again to quit at once)"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(i32::from(EXIT_CANCELLED));
    }
}

/// The progress bar, shared with the approver so that a prompt can hide it.
type SharedBar = Arc<Mutex<Option<ProgressBar>>>;

/// Prints the event stream: a progress bar of the tasks on a terminal (with
/// the notable events above it), plain lines otherwise.
async fn report(
    mut rx: UnboundedReceiver<PipelineEvent>,
    bar: SharedBar,
    tty: bool,
    lock: Arc<std::sync::Mutex<SpecLock>>,
    redactor: Redactor,
) {
    while let Some(event) = rx.recv().await {
        if let PipelineEvent::RunStarted { run_id, .. } = &event {
            // Naming the run in the lock file is a courtesy to a refused
            // command; the lock holds without it.
            if let Ok(mut l) = lock.lock() {
                let _ = l.set_run(&run_id.to_string());
            }
        }
        if tty {
            if let PipelineEvent::GraphBuilt { tasks, settled } = &event {
                let b = ProgressBar::new(*tasks as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks {wide_msg}",
                ) {
                    b.set_style(style);
                }
                b.set_position(*settled as u64);
                b.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut slot) = bar.lock() {
                    *slot = Some(b);
                }
                continue;
            }
            let current = bar.lock().ok().and_then(|b| b.clone());
            if let Some(b) = &current {
                match &event {
                    PipelineEvent::Progress { settled, total } => {
                        b.set_length(*total as u64);
                        b.set_position(*settled as u64);
                        continue;
                    }
                    PipelineEvent::NodeStarted { node, .. } => {
                        b.set_message(redactor.for_terminal(node));
                        continue;
                    }
                    _ => {}
                }
            }
            if let Some(line) = describe(&event, &redactor) {
                match &current {
                    Some(b) => b.println(line),
                    None => eprintln!("{line}"),
                }
            }
        } else if let Some(line) = describe(&event, &redactor) {
            eprintln!("{line}");
        }
    }
}

/// One line for an event, or `None` for events too frequent to print
/// (checkpoints, progress counts). Node names, summaries, errors and
/// messages come from specs and agents: secrets are redacted and control
/// characters escaped, so one event is always one line.
fn describe(event: &PipelineEvent, redactor: &Redactor) -> Option<String> {
    describe_raw(event).map(|line| redactor.for_terminal(&line))
}

/// One line for an event, before redaction and escaping.
fn describe_raw(event: &PipelineEvent) -> Option<String> {
    Some(match event {
        PipelineEvent::RunStarted {
            run_id,
            spec,
            resumed,
        } => {
            let verb = if *resumed { "resumed" } else { "started" };
            format!("run {run_id} {verb} (spec {spec})")
        }
        PipelineEvent::GraphBuilt { tasks, settled } => {
            format!("{tasks} task nodes, {settled} already settled")
        }
        PipelineEvent::NodeStarted { node, attempt } if *attempt > 1 => {
            format!("{node} started (attempt {attempt})")
        }
        PipelineEvent::NodeStarted { node, .. } => format!("{node} started"),
        PipelineEvent::NodeRetrying {
            node,
            attempt,
            error,
        } => format!("{node} attempt {attempt} failed, retrying: {error}"),
        PipelineEvent::NodeFinished {
            node,
            status,
            summary,
            duration_ms,
        } => {
            let secs = *duration_ms as f64 / 1000.0;
            match status {
                NodeStatus::Done => format!("{node} done ({secs:.1}s)"),
                NodeStatus::Failed => format!("{node} failed ({secs:.1}s): {summary}"),
                NodeStatus::Skipped => format!("{node} skipped: {summary}"),
            }
        }
        PipelineEvent::PhaseReused { phase } => {
            format!("{phase}: using the existing document")
        }
        PipelineEvent::GateDecided { gate, approval } => match approval {
            Approval::Approved => format!("{gate}: approved"),
            Approval::Rejected { reason } => format!("{gate}: not approved ({reason})"),
        },
        PipelineEvent::Message { node, text } => format!("{node}: {text}"),
        _ => return None,
    })
}

/// Rejects every gate: without `--yes` and without a terminal to ask in,
/// nobody has approved anything.
struct NonInteractive;

#[async_trait]
impl Approver for NonInteractive {
    async fn approve(&self, _gate: &Gate, _artifacts: &Artifacts) -> Result<Approval, StageError> {
        Ok(Approval::Rejected {
            reason: "no terminal to ask in and --yes not given".into(),
        })
    }
}

/// Asks on the terminal at each gate.
struct PromptApprover {
    bar: SharedBar,
    /// The spec folder, relative to the workspace, to name the document.
    spec_dir: String,
}

impl PromptApprover {
    fn question(&self, gate: &Gate) -> String {
        let question = match gate {
            Gate::Phase { phase } => {
                let file = match phase {
                    Phase::Requirements => "requirements.md",
                    Phase::Design => "design.md",
                    _ => "tasks.md",
                };
                format!("Approve {phase} ({}/{file})? [y/N] ", self.spec_dir)
            }
            Gate::Checkpoint { task, title } => {
                format!("Continue past task {task} ({title})? [y/N] ")
            }
        };
        // The title and the folder come from the spec and the file system.
        Redactor::from_env().for_terminal(&question)
    }
}

#[async_trait]
impl Approver for PromptApprover {
    async fn approve(&self, gate: &Gate, _artifacts: &Artifacts) -> Result<Approval, StageError> {
        // The events sent before the gate are printed by another task; a
        // moment's wait lets them appear above the question, not below it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let question = self.question(gate);
        let bar = self.bar.lock().ok().and_then(|b| b.clone());
        let answer = tokio::task::spawn_blocking(move || {
            let ask = || {
                eprint!("{question}");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            };
            match bar {
                Some(b) => b.suspend(ask),
                None => ask(),
            }
        })
        .await
        .map_err(|e| StageError::failed(format!("cannot ask for approval: {e}")))?
        .map_err(|e| StageError::failed(format!("cannot read the answer: {e}")))?;
        let answer = answer.trim().to_ascii_lowercase();
        Ok(if answer == "y" || answer == "yes" {
            Approval::Approved
        } else {
            Approval::Rejected {
                reason: "declined at the prompt".into(),
            }
        })
    }
}

/// Prints the task graph of the spec's `tasks.md` without running anything.
fn plan(ws: &Workspace, args: &RunArgs) -> Result<ExitCode> {
    let project = engine::project(ws)?;
    let dir = ws.spec_dir(&args.spec)?;
    let loaded = ws.load(&dir)?;
    let plan = project.plan(&loaded).map_err(|e| match e {
        ProjectError::NoTasks { spec } => anyhow::anyhow!(
            "spec `{spec}` has no tasks.md yet; create it with `kiro run {} --until tasks`",
            args.spec
        ),
        e => engine::explain(e).context(format!(
            "the tasks of spec `{}` do not form a graph",
            loaded.spec.name
        )),
    })?;
    let order = match plan.order {
        kiro_core::config::TaskOrder::Document => "document",
        kiro_core::config::TaskOrder::Declared => "declared",
    };
    let mut out = format!(
        "{}: {} task nodes ({order} order; a task waits for the ones listed)\n",
        one_line(&plan.spec),
        plan.nodes.len()
    );
    for node in &plan.nodes {
        let waits = if node.waits_for.is_empty() {
            "nothing".to_owned()
        } else {
            node.waits_for.join(", ")
        };
        let _ = writeln!(
            out,
            "{}[{}]{} {} {}: {}; waits for {waits}",
            "  ".repeat(node.depth + 1),
            node.status.mark(),
            if node.optional { "*" } else { "" },
            node.id,
            kind_name(node.kind, node.optional),
            one_line(&node.title),
        );
    }
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn kind_name(kind: TaskKind, optional: bool) -> &'static str {
    match kind {
        TaskKind::Leaf if optional => "optional task",
        TaskKind::Leaf => "task",
        TaskKind::Parent => "parent",
        TaskKind::Gate => "gate",
    }
}

/// The text on one line, with the control characters left escaped (a task
/// title must not drive the terminal).
fn one_line(text: &str) -> String {
    kiro_core::escape::escape_control(&text.split_whitespace().collect::<Vec<_>>().join(" "))
        .into_owned()
}
