//! The LLM-backed stages for `kiro run` and `kiro spec new --llm`: which
//! model (the `[llm]` section under the `KIRO_LLM_*` overrides), its
//! response cache, and the token usage report printed after a run.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use kiro_core::config::Config;
use kiro_core::project::RunSetup;
use kiro_core::stage::{RunUsage, TokenUsage};
use kiro_core::stages::CommandExecutor;
use kiro_llm::acp::AcpExecutor;
use kiro_llm::agent::AgentExecutor;
use kiro_llm::stages::{LlmDesigner, LlmRequirementsParser, LlmTaskPlanner};
use kiro_llm::{CacheConfig, LlmClient, LlmConfig, ProcessEnv};

/// The configured model, connected.
pub(crate) struct Model {
    /// Provider, model name and limits, after the environment's overrides.
    pub(crate) config: LlmConfig,
    /// The client: cache (when on), then retries, limits and the budget.
    pub(crate) client: Arc<dyn LlmClient>,
}

/// Whether a run uses the model: `--llm` and `--no-llm` decide, otherwise
/// a provider named in `[llm]` or `KIRO_LLM_PROVIDER` does.
pub(crate) fn wanted(config: &Config, llm: bool, no_llm: bool) -> bool {
    if no_llm {
        return false;
    }
    llm || config.llm.provider.is_some()
        || std::env::var_os(kiro_llm::config::PROVIDER_ENV).is_some_and(|v| !v.is_empty())
}

/// Connects to the model the workspace at `root` configures.
pub(crate) fn connect(root: &Path, file: &Config) -> Result<Model> {
    let config = LlmConfig::resolve(&file.llm, &ProcessEnv)
        .context("cannot use the model of [llm] (see `kiro llm check`)")?;
    let cache = CacheConfig::resolve(&file.llm, root, &ProcessEnv)
        .context("cannot use the response cache of [llm]")?;
    let client = kiro_llm::connect_cached(&config, cache).context("cannot build the LLM client")?;
    Ok(Model { config, client })
}

/// `setup` with the model writing requirements, design and tasks; tasks
/// run by kiro's own agent unless the workspace configured an `[executor]`
/// (the agent CLI its owner chose wins).
pub(crate) fn with_stages(setup: RunSetup, model: &Model, file: &Config) -> RunSetup {
    let client = &model.client;
    let setup = setup
        .requirements(LlmRequirementsParser::new(client.clone()))
        .designer(LlmDesigner::new(client.clone()))
        .planner(LlmTaskPlanner::new(client.clone()));
    if CommandExecutor::from_config(&file.executor).is_some() || file.executor.acp.is_some() {
        return setup;
    }
    // The agent's commands are confined as an agent CLI would be.
    let agent = AgentExecutor::new(client.clone());
    setup.executor(match crate::engine::launcher() {
        Some(launcher) => agent.launcher(launcher),
        None => agent,
    })
}

/// The Agent Client Protocol agent `[executor] acp` names, if any, with the
/// executor's timeout (0: none).
pub(crate) fn acp_executor(file: &Config) -> Option<AcpExecutor> {
    let (program, args) = file.executor.acp.as_ref()?.split_first()?;
    let executor = AcpExecutor::new(program.clone()).args(args.iter().cloned());
    Some(match file.executor.timeout_secs {
        0 => executor,
        secs => executor.timeout(Duration::from_secs(secs)),
    })
}

/// The usage report printed after a run: a total line (with the cost when
/// `[llm.prices]` knows the model), then what each phase and task spent.
/// Empty when the run spent nothing on a model.
pub(crate) fn usage_report(usage: &RunUsage) -> String {
    if usage.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let model = usage
        .model
        .as_deref()
        .map_or_else(String::new, |m| format!(" ({m})"));
    let cost = usage.cost_usd.map_or_else(
        || ", no price for the model in [llm.prices]".to_owned(),
        |c| format!(", estimated ${c:.4}"),
    );
    let t = &usage.total;
    let _ = writeln!(
        out,
        "model usage{model}: {} tokens ({} in, {} out) in {} requests{cost}",
        t.total_tokens(),
        t.input_tokens,
        t.output_tokens,
        t.requests
    );
    // Phases in the order they run, then custom nodes by name.
    let mut phases: Vec<(&String, &TokenUsage)> = usage.phases.iter().collect();
    phases.sort_by_key(|(name, _)| {
        let rank = ["requirements", "design", "tasks", "verify"]
            .iter()
            .position(|p| p == name);
        (rank.unwrap_or(usize::MAX), name.as_str())
    });
    let parts: Vec<String> = phases
        .into_iter()
        .map(|(phase, u)| part(phase, u))
        .chain(
            usage
                .tasks
                .iter()
                .map(|(id, u)| part(&format!("task {id}"), u)),
        )
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(out, "  {}", parts.join(" · "));
    }
    out
}

fn part(name: &str, usage: &TokenUsage) -> String {
    format!("{name} {}", usage.total_tokens())
}
