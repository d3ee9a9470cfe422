//! [`Anthropic`]: the Messages API (`POST {base}/v1/messages`, where the
//! base is the host root, e.g. `https://api.anthropic.com`).
//!
//! Every request carries `x-api-key` and `anthropic-version: 2023-06-01`.
//! The system prompt is the top-level `system` field; tool calls are
//! `tool_use` blocks of the assistant turn and tool results `tool_result`
//! blocks of the following user turn (consecutive user-side messages are
//! merged into one turn, as the API requires). `max_tokens` is mandatory
//! here, so a request without one gets [`DEFAULT_MAX_TOKENS`].
//!
//! Anthropic has no native JSON Schema mode, so a
//! [`ChatRequest::response_schema`] becomes a forced call of a tool named
//! after the schema whose input schema is the schema; the call's input is
//! handed back as the reply's text (and not as a tool call), so a caller
//! reads structured output the same way from every provider. Such a
//! request's own `tool_choice` is overridden, and the schema must describe
//! an object, as tool inputs are objects.
//!
//! Streams are server-sent events: `message_start` (input usage),
//! `content_block_start` / `content_block_delta` (`text_delta`,
//! `input_json_delta`) / `content_block_stop`, `message_delta` (stop
//! reason and output usage), `ping`, `error` and `message_stop`, the end
//! marker; a stream that ends before `message_stop` is an
//! [`LlmError::StreamDropped`]. An `error` event for overload or rate
//! limiting becomes a retryable [`LlmError::Status`] (529 or 429).
//!
//! Usage counts cache reads and writes as input tokens: they are prompt
//! tokens the budget must see.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::chat::{
    ChatChunk, ChatRequest, ChatResponse, FinishReason, Message, ToolCall, ToolChoice, Usage,
};
use crate::client::{ChatStream, LlmClient};
use crate::config::Secret;
use crate::error::{LlmError, Result, RetryAfter};
use crate::sse::{error_chain, excerpt, http_client, sse_stream, EventHandler, SseEvent};

/// The `anthropic-version` header sent with every request.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` for a request that sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A client of Anthropic's Messages API. Cheap to clone (the connection
/// pool is shared); `Debug` shows no key.
#[derive(Clone)]
pub struct Anthropic {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Secret,
    default_max_tokens: u32,
}

impl fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anthropic")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("default_max_tokens", &self.default_max_tokens)
            .finish_non_exhaustive()
    }
}

const NAME: &str = "anthropic";

impl Anthropic {
    /// A client for `model` at `base_url` (the host root: the request goes
    /// to `{base_url}/v1/messages`), sending `api_key`.
    ///
    /// ```
    /// use kiro_llm::{Anthropic, Secret};
    ///
    /// let client = Anthropic::new("https://api.anthropic.com", "claude-sonnet-4-5", Secret::new("sk-ant-test"))?
    ///     .default_max_tokens(1024);
    /// assert!(!format!("{client:?}").contains("sk-ant-test"));
    /// # Ok::<(), kiro_llm::LlmError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] when the URL is not `http(s)://` or the HTTP
    /// client cannot be built.
    pub fn new(base_url: &str, model: impl Into<String>, api_key: Secret) -> Result<Anthropic> {
        let http = http_client(Some(base_url))?;
        Ok(Anthropic {
            http,
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            model: model.into(),
            api_key,
            default_max_tokens: DEFAULT_MAX_TOKENS,
        })
    }

    /// Sets `max_tokens` for requests that set none.
    #[must_use]
    pub fn default_max_tokens(mut self, n: u32) -> Self {
        self.default_max_tokens = n;
        self
    }

    /// The request body for `request` (public so that callers can see
    /// exactly what is sent, and hash it).
    pub fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert(
            "max_tokens".into(),
            json!(request.max_tokens.unwrap_or(self.default_max_tokens)),
        );
        if let Some(system) = &request.system {
            body.insert("system".into(), json!(system));
        }
        body.insert("messages".into(), Value::Array(wire_messages(request)));
        let mut tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        let mut choice = match &request.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
        if let Some(schema) = &request.response_schema {
            tools.push(json!({
                "name": schema.name,
                "description": "Give your answer by calling this tool with it as the input.",
                "input_schema": schema.schema,
            }));
            choice = json!({"type": "tool", "name": schema.name});
        }
        if !tools.is_empty() {
            body.insert("tools".into(), Value::Array(tools));
            body.insert("tool_choice".into(), choice);
        }
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if !request.stop.is_empty() {
            body.insert("stop_sequences".into(), json!(request.stop));
        }
        if stream {
            body.insert("stream".into(), json!(true));
        }
        Value::Object(body)
    }

    async fn send(&self, body: &Value) -> Result<reqwest::Response> {
        let response = self
            .http
            .post(&self.url)
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(body)
            .send()
            .await
            .map_err(|e| self.connection(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(RetryAfter::parse);
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| error_message(&v))
            .unwrap_or_else(|| excerpt(&text));
        Err(LlmError::Status {
            provider: NAME.to_owned(),
            status: status.as_u16(),
            message: self.redact(&message),
            retry_after,
        })
    }

    fn connection(&self, error: &reqwest::Error) -> LlmError {
        LlmError::Connection {
            provider: NAME.to_owned(),
            url: self.redact(&self.url),
            message: self.redact(&error_chain(error)),
        }
    }

    fn invalid(&self, message: &str) -> LlmError {
        LlmError::InvalidResponse {
            provider: NAME.to_owned(),
            message: self.redact(message),
        }
    }

    /// Removes the key from text a server sent back.
    fn redact(&self, text: &str) -> String {
        self.api_key.scrub(text)
    }

    fn read_message(&self, body: &Value, structured: Option<&str>) -> Result<ChatResponse> {
        let blocks = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.invalid(&format!("no content in {}", excerpt(&body.to_string())))
            })?;
        let mut response = ChatResponse::default();
        let mut answered = false;
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(text) = block.get("text").and_then(Value::as_str) {
                        response.content.push_str(text);
                    }
                }
                Some("tool_use") => {
                    let text = |key: &str| block.get(key).and_then(Value::as_str);
                    let name = text("name")
                        .ok_or_else(|| self.invalid("a tool_use block without a name"))?;
                    let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                    if structured == Some(name) {
                        // The forced answer tool: its input is the reply.
                        response.content = input.to_string();
                        answered = true;
                    } else {
                        response.tool_calls.push(ToolCall {
                            id: text("id").unwrap_or_default().to_owned(),
                            name: name.to_owned(),
                            arguments: input,
                        });
                    }
                }
                // Thinking and other blocks are not part of the answer.
                _ => {}
            }
        }
        let reason = body
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(stop_reason)
            .unwrap_or_default();
        response.finish_reason = if answered && reason == FinishReason::ToolCalls {
            FinishReason::Stop
        } else {
            reason
        };
        response.usage = body.get("usage").map(read_usage).unwrap_or_default();
        Ok(response)
    }
}

#[async_trait]
impl LlmClient for Anthropic {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let response = self.send(&self.body(&request, false)).await?;
        let bytes = response.bytes().await.map_err(|e| self.connection(&e))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.invalid(&format!(
                "{e} in {}",
                excerpt(&String::from_utf8_lossy(&bytes))
            ))
        })?;
        if body.get("type").and_then(Value::as_str) == Some("error") {
            let message = error_message(&body).unwrap_or_default();
            return Err(self.invalid(&format!("error in a 2xx answer: {message}")));
        }
        let structured = request.response_schema.as_ref().map(|s| s.name.as_str());
        self.read_message(&body, structured)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let response = self.send(&self.body(&request, true)).await?;
        let handler = StreamHandler {
            client: self.clone(),
            structured: request.response_schema.map(|s| s.name),
            blocks: HashMap::new(),
            input_usage: Usage::default(),
            answered: false,
            done: false,
        };
        Ok(sse_stream(response, handler))
    }
}

/// What a content block of a stream is.
enum Block {
    Text,
    Tool,
    /// The forced answer tool: its input deltas are the reply's text.
    Answer,
    Other,
}

struct StreamHandler {
    client: Anthropic,
    structured: Option<String>,
    blocks: HashMap<usize, Block>,
    /// Input usage from `message_start`, reported with the output usage of
    /// `message_delta`.
    input_usage: Usage,
    answered: bool,
    done: bool,
}

impl EventHandler for StreamHandler {
    fn event(&mut self, event: &SseEvent, out: &mut VecDeque<ChatChunk>) -> Result<()> {
        let value: Value = serde_json::from_str(&event.data).map_err(|e| {
            self.client
                .invalid(&format!("{e} in stream event {}", excerpt(&event.data)))
        })?;
        // The `type` field names the event as the `event:` line does; it is
        // the one that is always there.
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event.name);
        let index = value
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(usage) = value.pointer("/message/usage") {
                    self.input_usage = read_usage(usage);
                }
            }
            "content_block_start" => {
                let block = value.get("content_block").unwrap_or(&Value::Null);
                let text = |key: &str| block.get(key).and_then(Value::as_str);
                let kind = match text("type") {
                    Some("text") => {
                        if let Some(t) = text("text").filter(|t| !t.is_empty()) {
                            out.push_back(ChatChunk::Text { text: t.to_owned() });
                        }
                        Block::Text
                    }
                    Some("tool_use") => {
                        let name = text("name").unwrap_or_default();
                        if self.structured.as_deref() == Some(name) {
                            self.answered = true;
                            Block::Answer
                        } else {
                            out.push_back(ChatChunk::ToolCallStart {
                                index,
                                id: text("id").unwrap_or_default().to_owned(),
                                name: name.to_owned(),
                            });
                            Block::Tool
                        }
                    }
                    _ => Block::Other,
                };
                self.blocks.insert(index, kind);
            }
            "content_block_delta" => {
                let delta = value.get("delta").unwrap_or(&Value::Null);
                let text = |key: &str| {
                    delta
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                };
                match (self.blocks.get(&index), text("text"), text("partial_json")) {
                    (Some(Block::Text), Some(text), _) => out.push_back(ChatChunk::Text { text }),
                    (Some(Block::Tool), _, Some(arguments)) => {
                        out.push_back(ChatChunk::ToolCallDelta { index, arguments });
                    }
                    (Some(Block::Answer), _, Some(text)) => {
                        out.push_back(ChatChunk::Text { text });
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    let reason = match stop_reason(reason) {
                        FinishReason::ToolCalls if self.answered => FinishReason::Stop,
                        other => other,
                    };
                    out.push_back(ChatChunk::Finish { reason });
                }
                if let Some(usage) = value.get("usage") {
                    // Output tokens here are the running total; input
                    // tokens, when present, too.
                    let delta = read_usage(usage);
                    let usage = Usage {
                        input_tokens: self.input_usage.input_tokens.max(delta.input_tokens),
                        output_tokens: delta.output_tokens,
                    };
                    out.push_back(ChatChunk::Usage { usage });
                }
            }
            "message_stop" => self.done = true,
            "error" => return Err(stream_error(&value)),
            // `ping`, `content_block_stop` and event types added later.
            _ => {}
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.done
    }

    fn dropped(&self, received: usize) -> LlmError {
        LlmError::StreamDropped {
            provider: NAME.to_owned(),
            received,
        }
    }

    fn connection(&self, error: &reqwest::Error) -> LlmError {
        self.client.connection(error)
    }
}

/// Consecutive user-side messages (user text and tool results) merged into
/// one `user` turn of content blocks.
fn wire_messages(request: &ChatRequest) -> Vec<Value> {
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message {
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for call in tool_calls {
                    // Tool input must be an object; arguments kept as raw
                    // text (not JSON) go back as an empty input.
                    let input = match &call.arguments {
                        Value::Object(_) => call.arguments.clone(),
                        _ => json!({}),
                    };
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                ("assistant", blocks)
            }
            Message::Tool(result) => {
                let mut block = json!({"type": "tool_result", "tool_use_id": result.call_id, "content": result.content});
                if result.is_error {
                    block["is_error"] = json!(true);
                }
                ("user", vec![block])
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role && role == "user" => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn error_message(body: &Value) -> Option<String> {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An `error` event: overload and rate limits keep their HTTP status so
/// that a stream that fails before its first chunk is retried.
fn stream_error(value: &Value) -> LlmError {
    let message = error_message(value).unwrap_or_else(|| value.to_string());
    let status = match value.pointer("/error/type").and_then(Value::as_str) {
        Some("overloaded_error") => Some(529),
        Some("rate_limit_error") => Some(429),
        Some("api_error") => Some(500),
        _ => None,
    };
    match status {
        Some(status) => LlmError::Status {
            provider: NAME.to_owned(),
            status,
            message,
            retry_after: None,
        },
        None => LlmError::InvalidResponse {
            provider: NAME.to_owned(),
            message: format!("error in the stream: {message}"),
        },
    }
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn read_usage(usage: &Value) -> Usage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("input_tokens")
            .saturating_add(n("cache_creation_input_tokens"))
            .saturating_add(n("cache_read_input_tokens")),
        output_tokens: n("output_tokens"),
    }
}
