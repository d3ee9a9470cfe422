//! [`OpenAiCompatible`]: the Chat Completions API (`POST {base}/chat/completions`)
//! as spoken by OpenAI, Ollama, vLLM, llama.cpp server and LM Studio.
//!
//! The request carries the system prompt as the first `system` message,
//! tools as `function` tools, `response_format: json_schema` for a
//! [`ResponseSchema`], and `stream_options.include_usage` when streaming so
//! that usage arrives in the last chunk. Streams are server-sent events:
//! `data:` lines that may be split anywhere across network reads (even
//! inside a UTF-8 character), events separated by blank lines, and
//! `data: [DONE]` at the end; a stream that ends without `[DONE]` is an
//! [`LlmError::StreamDropped`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chat::{
    parse_arguments, ChatChunk, ChatRequest, ChatResponse, FinishReason, Message, ResponseSchema,
    ToolCall, ToolChoice, Usage,
};
use crate::client::{ChatStream, LlmClient};
use crate::config::Secret;
use crate::error::{LlmError, Result, RetryAfter};
use crate::sse::{error_chain, excerpt, http_client};

/// A client of an OpenAI-compatible chat completions server. Cheap to
/// clone (the connection pool is shared); `Debug` shows no key.
#[derive(Clone)]
pub struct OpenAiCompatible {
    http: reqwest::Client,
    url: String,
    /// `url` parsed once, when it parses: reqwest would otherwise parse
    /// the text on every request (a few percent of a request's cost on a
    /// local server). `None` leaves the text to reqwest, whose error then
    /// says what is wrong with it, as before.
    parsed_url: Option<reqwest::Url>,
    model: String,
    api_key: Option<Secret>,
    name: String,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// A client for `model` at `base_url` (which ends in `/v1`; the request
    /// goes to `{base_url}/chat/completions`).
    ///
    /// ```
    /// use kiro_llm::{OpenAiCompatible, Secret};
    ///
    /// let client = OpenAiCompatible::new("http://localhost:11434/v1", "qwen3")?
    ///     .api_key(Secret::new("sk-test"))
    ///     .name("ollama");
    /// assert!(!format!("{client:?}").contains("sk-test"));
    /// # Ok::<(), kiro_llm::LlmError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] when the HTTP client cannot be built (no TLS
    /// roots) or the URL is not `http(s)://`.
    pub fn new(base_url: &str, model: impl Into<String>) -> Result<OpenAiCompatible> {
        let http = http_client(Some(base_url))?;
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Ok(OpenAiCompatible {
            http,
            url: url.clone(),
            parsed_url: reqwest::Url::parse(&url).ok(),
            model: model.into(),
            api_key: None,
            name: "openai".to_owned(),
        })
    }

    /// Sends `Authorization: Bearer <key>` with every request.
    #[must_use]
    pub fn api_key(mut self, key: Secret) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Names the provider in errors (`openai`, `ollama`, ...).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The request body for `request` (public so that callers can see
    /// exactly what is sent, and hash it).
    pub fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for message in &request.messages {
            messages.push(match message {
                Message::User { content } => json!({"role": "user", "content": content}),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    let mut m = Map::new();
                    m.insert("role".into(), json!("assistant"));
                    // OpenAI wants `content: null`, not "", beside tool calls.
                    m.insert(
                        "content".into(),
                        if content.is_empty() && !tool_calls.is_empty() {
                            Value::Null
                        } else {
                            json!(content)
                        },
                    );
                    if !tool_calls.is_empty() {
                        let calls: Vec<Value> = tool_calls.iter().map(wire_tool_call).collect();
                        m.insert("tool_calls".into(), Value::Array(calls));
                    }
                    Value::Object(m)
                }
                Message::Tool(result) => json!({
                    "role": "tool",
                    "tool_call_id": result.call_id,
                    "content": result.content,
                }),
            });
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("messages".into(), Value::Array(messages));
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters,
                    }})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
            let choice = match &request.tool_choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            };
            body.insert("tool_choice".into(), choice);
        }
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t));
        }
        // `max_tokens` rather than `max_completion_tokens`: every
        // OpenAI-compatible server reads it.
        if let Some(n) = request.max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if !request.stop.is_empty() {
            body.insert("stop".into(), json!(request.stop));
        }
        if let Some(ResponseSchema {
            name,
            schema,
            strict,
        }) = &request.response_schema
        {
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {
                    "name": name, "schema": schema, "strict": strict,
                }}),
            );
        }
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Value::Object(body)
    }

    /// Sends the body; a non-2xx answer becomes [`LlmError::Status`].
    async fn send(&self, body: &Value) -> Result<reqwest::Response> {
        let mut builder = match &self.parsed_url {
            Some(url) => self.http.post(url.clone()),
            None => self.http.post(&self.url),
        }
        .json(body);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let response = builder.send().await.map_err(|e| self.connection(&e))?;
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
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| excerpt(&text));
        Err(LlmError::Status {
            provider: self.name.clone(),
            status: status.as_u16(),
            message: self.redact(&message),
            retry_after,
        })
    }

    fn connection(&self, error: &reqwest::Error) -> LlmError {
        // reqwest's message names the URL but never headers, so the key
        // cannot appear; redact anyway in case a base URL embeds it.
        LlmError::Connection {
            provider: self.name.clone(),
            url: self.redact(&self.url),
            message: self.redact(&error_chain(error)),
        }
    }

    fn invalid(&self, message: String) -> LlmError {
        LlmError::InvalidResponse {
            provider: self.name.clone(),
            message: self.redact(&message),
        }
    }

    /// Removes the key from text a server sent back.
    fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => key.scrub(text),
            None => text.to_owned(),
        }
    }

    /// Reads a whole (non-streamed) completion.
    fn read_completion(&self, body: &Value) -> Result<ChatResponse> {
        let choice = body
            .pointer("/choices/0")
            .ok_or_else(|| self.invalid(format!("no choices in {}", excerpt(&body.to_string()))))?;
        let message = choice
            .get("message")
            .ok_or_else(|| self.invalid("the first choice has no message".to_owned()))?;
        let content = message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut tool_calls = Vec::new();
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
            let name = text("/function/name")
                .ok_or_else(|| self.invalid("a tool call without a function name".to_owned()))?;
            tool_calls.push(ToolCall {
                id: text("/id").unwrap_or_default().to_owned(),
                name: name.to_owned(),
                arguments: parse_arguments(text("/function/arguments").unwrap_or_default()),
            });
        }
        Ok(ChatResponse {
            content,
            tool_calls,
            finish_reason: choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(finish_reason)
                .unwrap_or_default(),
            usage: body.get("usage").map(read_usage).unwrap_or_default(),
        })
    }
}

#[async_trait]
impl LlmClient for OpenAiCompatible {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let response = self.send(&self.body(&request, false)).await?;
        let bytes = response.bytes().await.map_err(|e| self.connection(&e))?;
        if let Some(response) = read_plain_completion(&bytes) {
            return Ok(response);
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.invalid(format!(
                "{e} in {}",
                excerpt(&String::from_utf8_lossy(&bytes))
            ))
        })?;
        if let Some(message) = body.pointer("/error/message").and_then(Value::as_str) {
            return Err(self.invalid(format!("error in a 2xx answer: {message}")));
        }
        self.read_completion(&body)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let response = self.send(&self.body(&request, true)).await?;
        let state = SseState {
            client: self.clone(),
            body: Box::pin(response.bytes_stream()),
            lines: LineBuffer::default(),
            data: String::new(),
            pending: VecDeque::new(),
            error: None,
            events: 0,
            done: false,
            finished: false,
        };
        Ok(Box::pin(futures_util::stream::unfold(state, next_chunk)))
    }

    /// `response_format: json_schema` (OpenAI, vLLM, llama.cpp server,
    /// LM Studio and Ollama all accept it).
    fn supports_response_schema(&self) -> bool {
        true
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Where an SSE stream is: unread bytes, the event being assembled, and
/// chunks read but not yet handed out.
struct SseState {
    client: OpenAiCompatible,
    body: ByteStream,
    lines: LineBuffer,
    data: String,
    pending: VecDeque<ChatChunk>,
    /// The error that ends the stream once `pending` is handed out.
    error: Option<LlmError>,
    events: usize,
    done: bool,
    finished: bool,
}

async fn next_chunk(mut state: SseState) -> Option<(Result<ChatChunk>, SseState)> {
    loop {
        if let Some(chunk) = state.pending.pop_front() {
            return Some((Ok(chunk), state));
        }
        if let Some(error) = state.error.take() {
            return Some((Err(error), state));
        }
        if state.finished {
            return None;
        }
        // Handle every complete line already buffered before reading more.
        if let Some(line) = state.lines.next_line() {
            if let Err(error) = state.line(&line) {
                state.fail(error);
            }
            continue;
        }
        match state.body.next().await {
            Some(Ok(bytes)) => state.lines.extend(&bytes),
            Some(Err(error)) => {
                let error = if state.events == 0 {
                    state.client.connection(&error)
                } else {
                    state.dropped()
                };
                state.fail(error);
            }
            None => {
                // A last event without its blank line still counts, but a
                // stream without `[DONE]` is incomplete.
                let rest = state.lines.rest();
                let result = if rest.is_empty() {
                    Ok(())
                } else {
                    state.line(&rest)
                };
                match result.and_then(|()| state.line("")) {
                    Err(error) => state.fail(error),
                    Ok(()) if !state.done => {
                        let error = state.dropped();
                        state.fail(error);
                    }
                    Ok(()) => state.finished = true,
                }
            }
        }
    }
}

impl SseState {
    /// Ends the stream with `error` after the chunks already read.
    fn fail(&mut self, error: LlmError) {
        self.error = Some(error);
        self.finished = true;
    }

    fn dropped(&self) -> LlmError {
        LlmError::StreamDropped {
            provider: self.client.name.clone(),
            received: self.events,
        }
    }

    /// Handles one line of the event stream.
    fn line(&mut self, line: &str) -> Result<()> {
        if self.done {
            return Ok(());
        }
        if line.is_empty() {
            if self.data.is_empty() {
                return Ok(());
            }
            let data = std::mem::take(&mut self.data);
            return self.event(&data);
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        if field == "data" {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value);
        }
        Ok(())
    }

    /// Handles one event's data.
    fn event(&mut self, data: &str) -> Result<()> {
        if data.trim() == "[DONE]" {
            self.done = true;
            self.finished = true;
            return Ok(());
        }
        self.events += 1;
        let value: Value = serde_json::from_str(data).map_err(|e| {
            self.client
                .invalid(format!("{e} in stream event {}", excerpt(data)))
        })?;
        if let Some(error) = value.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(self
                .client
                .invalid(format!("error in the stream: {message}")));
        }
        for choice in value
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let delta = choice.get("delta");
            if let Some(text) = delta
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.pending.push_back(ChatChunk::Text {
                    text: text.to_owned(),
                });
            }
            for call in delta
                .and_then(|d| d.get("tool_calls"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| usize::try_from(i).ok())
                    .unwrap_or(0);
                let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
                if let Some(name) = text("/function/name") {
                    self.pending.push_back(ChatChunk::ToolCallStart {
                        index,
                        id: text("/id").unwrap_or_default().to_owned(),
                        name: name.to_owned(),
                    });
                }
                if let Some(arguments) = text("/function/arguments").filter(|a| !a.is_empty()) {
                    self.pending.push_back(ChatChunk::ToolCallDelta {
                        index,
                        arguments: arguments.to_owned(),
                    });
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.pending.push_back(ChatChunk::Finish {
                    reason: finish_reason(reason),
                });
            }
        }
        if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
            self.pending.push_back(ChatChunk::Usage {
                usage: read_usage(usage),
            });
        }
        Ok(())
    }
}

/// Bytes received but not yet split into lines. Lines are cut at `\n`
/// (a preceding `\r` is dropped) on bytes, so a UTF-8 character split
/// across two reads is joined before it is decoded.
#[derive(Default)]
struct LineBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl LineBuffer {
    fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(bytes);
    }

    fn next_line(&mut self) -> Option<String> {
        let rest = self.bytes.get(self.start..)?;
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = rest.get(..end).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line).into_owned();
        self.start += end + 1;
        Some(text)
    }

    fn rest(&mut self) -> String {
        let rest = self.bytes.get(self.start..).unwrap_or_default();
        let text = String::from_utf8_lossy(rest)
            .trim_end_matches('\r')
            .to_owned();
        self.bytes.clear();
        self.start = 0;
        text
    }
}

/// The parts of a chat completion a [`ChatResponse`] is made of, read
/// straight from the body: no JSON tree is built, strings without escapes
/// are borrowed and every other field is skipped (the client-overhead
/// benchmark measured the tree at about a tenth of a request's cost on a
/// local server).
#[derive(Deserialize)]
struct WireCompletion<'a> {
    #[serde(borrow)]
    choices: Vec<WireChoice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct WireChoice<'a> {
    #[serde(borrow)]
    message: Option<WireMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<WireToolCall<'a>>>,
}

#[derive(Deserialize)]
struct WireToolCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<WireFunction<'a>>,
}

#[derive(Deserialize)]
struct WireFunction<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The reply in a well-formed completion body, read as
/// [`OpenAiCompatible::read_completion`] reads it; `None` for anything
/// else (an `error` member, no choice or message, a tool call without a
/// name, a field of another type), which then takes the general path with
/// its tolerance and its error messages, so both paths give the same
/// result.
fn read_plain_completion(bytes: &[u8]) -> Option<ChatResponse> {
    let wire: WireCompletion<'_> = serde_json::from_slice(bytes).ok()?;
    if wire.error.is_some() {
        return None;
    }
    let choice = wire.choices.into_iter().next()?;
    let message = choice.message?;
    let mut tool_calls = Vec::new();
    for call in message.tool_calls.unwrap_or_default() {
        let function = call.function?;
        tool_calls.push(ToolCall {
            id: call.id.map(Cow::into_owned).unwrap_or_default(),
            name: function.name?.into_owned(),
            arguments: parse_arguments(function.arguments.as_deref().unwrap_or_default()),
        });
    }
    let usage = wire.usage.map_or_else(Usage::default, |u| Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens: u.completion_tokens.unwrap_or(0),
    });
    Some(ChatResponse {
        content: message.content.map(Cow::into_owned).unwrap_or_default(),
        tool_calls,
        finish_reason: choice
            .finish_reason
            .as_deref()
            .map(finish_reason)
            .unwrap_or_default(),
        usage,
    })
}

fn wire_tool_call(call: &ToolCall) -> Value {
    // OpenAI sends and expects arguments as a JSON string; a value that
    // was kept as raw text goes back as that text.
    let arguments = match &call.arguments {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    };
    json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn read_usage(usage: &Value) -> Usage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct read gives what the general path gives, or declines.
    fn check(body: &str, direct: bool) {
        let client = OpenAiCompatible::new("http://127.0.0.1:1/v1", "m").unwrap();
        let fast = read_plain_completion(body.as_bytes());
        assert_eq!(fast.is_some(), direct, "{body}");
        if let Some(fast) = fast {
            let value: Value = serde_json::from_str(body).unwrap();
            assert_eq!(fast, client.read_completion(&value).unwrap(), "{body}");
        }
    }

    #[test]
    fn the_direct_read_matches_the_general_path() {
        let cases = [
            (
                r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"you\"\n"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"function":{"name":"g","arguments":"not json"}}]},"finish_reason":"tool_calls"}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":"x"},"finish_reason":null}],"usage":null}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":"x"},"finish_reason":"eos"}],"usage":{"prompt_tokens":1}}"#,
                true,
            ),
            // Declined: the general path's tolerance or error applies.
            (
                r#"{"choices":[{"message":{"content":[{"type":"text","text":"x"}]}}]}"#,
                false,
            ),
            (
                r#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1.5}}"#,
                false,
            ),
            (
                r#"{"choices":[{"message":{"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}}]}"#,
                false,
            ),
            (r#"{"choices":[],"error":{"message":"overloaded"}}"#, false),
            (r#"{"choices":[]}"#, false),
            (r#"{"choices":[{"finish_reason":"stop"}]}"#, false),
            ("not json", false),
        ];
        for (body, direct) in cases {
            check(body, direct);
        }
    }
}
