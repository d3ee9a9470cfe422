//! `kiro llm check`: one tiny request to the configured model.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use kiro_llm::{connect, ChatRequest, LlmConfig, ProcessEnv};
use serde::Serialize;

use crate::cli::{LlmCheckArgs, TextOrJson};
use crate::workspace::Workspace;

/// What `kiro llm check --format json` prints.
#[derive(Debug, Serialize)]
struct Check {
    provider: String,
    model: String,
    base_url: String,
    ok: bool,
    latency_ms: u64,
    input_tokens: u64,
    output_tokens: u64,
    /// The reply, or the error.
    reply: String,
}

/// The request: short, cheap, and answerable by any chat model.
const PROMPT: &str = "Reply with the single word: ok";

pub(super) fn check(ws: &Workspace, args: &LlmCheckArgs) -> Result<ExitCode> {
    let config = LlmConfig::load_workspace(ws.root(), &ProcessEnv)
        .context("cannot read the [llm] configuration")?;
    let client = connect(&config).context("cannot build the LLM client")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let request = ChatRequest::user(PROMPT).max_tokens(16);
    let started = Instant::now();
    let answer = runtime.block_on(client.complete(request));
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut check = Check {
        provider: config.provider.as_str().to_owned(),
        model: config.model.clone(),
        base_url: config.base_url.clone(),
        ok: answer.is_ok(),
        latency_ms,
        input_tokens: 0,
        output_tokens: 0,
        reply: String::new(),
    };
    match &answer {
        Ok(response) => {
            check.input_tokens = response.usage.input_tokens;
            check.output_tokens = response.usage.output_tokens;
            check.reply = response.content.trim().to_owned();
        }
        // kiro-llm's errors never hold the key (providers scrub echoes).
        Err(error) => check.reply = error.to_string(),
    }
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&check)?),
        TextOrJson::Text => {
            let at = if check.base_url.is_empty() {
                String::new()
            } else {
                format!(" at {}", check.base_url)
            };
            if check.ok {
                println!(
                    "{} {}{at}: answered in {} ms, {} input + {} output tokens: {:?}",
                    check.provider,
                    check.model,
                    check.latency_ms,
                    check.input_tokens,
                    check.output_tokens,
                    check.reply
                );
            } else {
                eprintln!(
                    "{} {}{at}: failed after {} ms: {}",
                    check.provider, check.model, check.latency_ms, check.reply
                );
            }
        }
    }
    Ok(if check.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
