//! LLM stages, agents and clients for kiro: the planning stages and the
//! coding agents `kiro run` uses with a model ([`stages`], [`agent`],
//! [`acp`]), over one provider-neutral chat API with retries, a
//! concurrency limit, timeouts, a token budget and a record/replay cache as
//! layers any provider gets.
//!
//! ```no_run
//! use kiro_llm::{ChatRequest, LlmClient, LlmConfig, ProcessEnv};
//!
//! # async fn run() -> kiro_llm::Result<()> {
//! // `[llm]` of .kiro/config.toml, overridden by KIRO_LLM_* variables; the
//! // key comes from the environment only.
//! let config = LlmConfig::load_workspace(".", &ProcessEnv)?;
//! let client = kiro_llm::connect(&config)?;
//! let reply = client.complete(ChatRequest::user("Say hi").max_tokens(16)).await?;
//! println!("{} ({} tokens)", reply.content, reply.usage.total());
//! # Ok(())
//! # }
//! ```
//!
//! Modules:
//! - [`acp`] — [`AcpExecutor`], kiro's executor driving a coding agent
//!   over the Agent Client Protocol;
//! - [`agent`] — [`AgentExecutor`], kiro's own coding agent: a tool loop
//!   (read, list, search, write, edit, run) through the workspace policy;
//! - [`anthropic`] — the Anthropic Messages provider;
//! - [`bedrock`] — the Amazon Bedrock Converse provider (SigV4, streaming
//!   over `converse-stream`);
//! - [`chat`] — the neutral request, response and stream chunk types;
//! - [`client`] — the [`LlmClient`] trait and stream helpers;
//! - [`config`] — [`LlmConfig`] from `[llm]` and the environment, [`Secret`];
//! - [`openai`] — the OpenAI-compatible chat completions provider (OpenAI,
//!   Ollama, vLLM, llama.cpp server, LM Studio);
//! - [`reliability`] — [`Reliable`], the retry / concurrency / timeout /
//!   budget layer, and the shareable [`UsageMeter`];
//! - [`stages`] — the planning stages on a model: [`stages::LlmRequirementsParser`],
//!   [`stages::LlmDesigner`], [`stages::LlmTaskPlanner`], with steering and
//!   memory in their prompts ([`stages::guidance`]);
//! - [`structured`] — typed replies: a schema from `schemars`, native
//!   schema mode or a forced tool call, validation and repair
//!   ([`StructuredExt`]);
//! - [`cache`] — [`CachedClient`], the on-disk response cache that records
//!   and replays sessions;
//! - [`error`] — [`LlmError`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acp;
pub mod agent;
pub mod anthropic;
pub mod bedrock;
pub mod cache;
pub mod chat;
pub mod client;
pub mod config;
pub mod error;
mod eventstream;
pub mod openai;
pub mod reliability;
mod sse;
pub mod stages;
pub mod structured;

use std::sync::Arc;

pub use acp::{AcpError, AcpExecutor};
pub use agent::AgentExecutor;
pub use anthropic::Anthropic;
pub use bedrock::{AwsCredentials, Bedrock};
pub use cache::{CacheConfig, CacheMode, CachedClient};
pub use chat::{
    ChatChunk, ChatRequest, ChatResponse, ChunkCollector, FinishReason, Message, ResponseSchema,
    ToolCall, ToolChoice, ToolResult, ToolSpec, Usage,
};
pub use client::{collect_stream, stream_from_complete, ChatStream, LlmClient};
pub use config::{EnvSource, LlmConfig, LlmConfigBuilder, ProcessEnv, Provider, Secret};
pub use error::{LlmError, Result, RetryAfter};
pub use openai::OpenAiCompatible;
pub use reliability::{Clock, Reliable, RetryPolicy, TokioClock, UsageMeter};
pub use structured::{SchemaMode, Structured, StructuredExt, StructuredOptions};

/// The client `config` describes, wrapped in [`Reliable`] with its
/// concurrency limit, timeout, retry policy and a fresh [`UsageMeter`]
/// (with the config's token budget). Use [`connect_with_meter`] to share
/// one meter between clients.
///
/// # Errors
///
/// [`LlmError::UnsupportedProvider`] for a provider this build has no
/// client for; [`LlmError::Config`] when the client cannot be built.
pub fn connect(config: &LlmConfig) -> Result<Arc<dyn LlmClient>> {
    let meter = match config.token_budget {
        Some(tokens) => UsageMeter::with_budget(tokens),
        None => UsageMeter::new(),
    };
    connect_with_meter(config, meter)
}

/// [`connect`], counting usage into `meter` (whose budget applies instead
/// of the config's).
///
/// # Errors
///
/// As [`connect`].
pub fn connect_with_meter(config: &LlmConfig, meter: UsageMeter) -> Result<Arc<dyn LlmClient>> {
    let provider = config.provider;
    let client: Box<dyn LlmClient> = match provider {
        Provider::Openai | Provider::Ollama => {
            let mut client =
                OpenAiCompatible::new(&config.base_url, &config.model)?.name(provider.as_str());
            if let Some(key) = &config.api_key {
                client = client.api_key(key.clone());
            }
            Box::new(client)
        }
        Provider::Anthropic => {
            let key = config
                .api_key
                .clone()
                .ok_or_else(|| LlmError::MissingApiKey {
                    provider: provider.as_str().to_owned(),
                    variable: config::ANTHROPIC_KEY_ENV.to_owned(),
                })?;
            Box::new(Anthropic::new(&config.base_url, &config.model, key)?)
        }
        // Credentials and region come from the AWS variables, which
        // LlmConfig does not carry.
        Provider::Bedrock => Box::new(Bedrock::from_env(
            &config.base_url,
            &config.model,
            &ProcessEnv,
        )?),
    };
    Ok(Arc::new(
        Reliable::new(client)
            .provider(provider.as_str())
            .max_concurrency(config.max_concurrency)
            .timeout(config.timeout)
            .retry(config.retry.clone())
            .meter(meter),
    ))
}

/// [`connect`] with the response cache `cache` in front (nothing in front
/// when its mode is off): what `kiro run` uses, so that a session recorded
/// once replays offline with `replay-only`. The cache sits outside the
/// retry layer, so a replayed reply takes no concurrency permit and no
/// budget.
///
/// ```no_run
/// use kiro_llm::{CacheConfig, LlmConfig, ProcessEnv};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let file = kiro_core::config::Config::load_workspace(".")?;
/// let config = LlmConfig::resolve(&file.llm, &ProcessEnv)?;
/// let cache = CacheConfig::resolve(&file.llm, std::path::Path::new("."), &ProcessEnv)?;
/// let client = kiro_llm::connect_cached(&config, cache)?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`connect`].
pub fn connect_cached(config: &LlmConfig, cache: CacheConfig) -> Result<Arc<dyn LlmClient>> {
    let client = connect(config)?;
    if cache.mode == CacheMode::Off {
        return Ok(client);
    }
    Ok(Arc::new(CachedClient::for_config(client, config, cache)))
}
