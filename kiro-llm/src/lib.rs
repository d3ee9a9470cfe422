//! LLM clients for kiro: one provider-neutral chat API over the providers
//! kiro speaks, with retries, a concurrency limit, timeouts and a token
//! budget as a layer any provider gets.
//!
//! ```ignore
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
//! - [`chat`] — the neutral request, response and stream chunk types;
//! - [`client`] — the [`LlmClient`] trait and stream helpers;
//! - `config` — `LlmConfig` from `[llm]` and the environment, `Secret`;
//! - `openai` — the OpenAI-compatible chat completions provider (OpenAI,
//!   Ollama, vLLM, llama.cpp server, LM Studio);
//! - `reliability` — `Reliable`, the retry / concurrency / timeout /
//!   budget layer, and the shareable `UsageMeter`;
//! - [`error`] — [`LlmError`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chat;
pub mod client;
pub mod error;

pub use chat::{
    ChatChunk, ChatRequest, ChatResponse, ChunkCollector, FinishReason, Message, ResponseSchema,
    ToolCall, ToolChoice, ToolResult, ToolSpec, Usage,
};
pub use client::{collect_stream, stream_from_complete, ChatStream, LlmClient};
pub use error::{LlmError, Result, RetryAfter};
