//! [`Bedrock`]: Amazon Bedrock's Converse API
//! (`POST {endpoint}/model/{modelId}/converse`), signed with AWS
//! Signature Version 4 by the `aws-sigv4` crate (AWS's own signer, the one
//! the AWS SDK uses, so the canonical request and its double-encoded path
//! follow the service's rules without kiro restating them).
//!
//! Credentials and region come from the standard AWS variables, read
//! through an [`EnvSource`]: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! optional `AWS_SESSION_TOKEN`, and `AWS_REGION` (else
//! `AWS_DEFAULT_REGION`). The endpoint is
//! `https://bedrock-runtime.{region}.amazonaws.com` unless a base URL is
//! given. Model ids with a `:` (`anthropic.claude-3-5-haiku-20241022-v1:0`)
//! are percent-encoded in the path.
//!
//! The request carries `system: [{text}]`, `messages` of `{text}`,
//! `{toolUse}` and `{toolResult}` blocks (consecutive user-side messages
//! merged into one user turn), `inferenceConfig` and `toolConfig`.
//! Converse has no "no tool" choice: [`ToolChoice::None`] leaves the tools
//! out unless the conversation already holds tool blocks (which require
//! them), where the model then decides. As with Anthropic, a
//! [`ChatRequest::response_schema`] becomes a forced call of a tool named
//! after the schema, whose input is handed back as the reply's text.
//!
//! Streams come from `POST {endpoint}/model/{modelId}/converse-stream`
//! (signed the same way, `accept: application/vnd.amazon.eventstream`),
//! whose body is AWS's binary event-stream framing, each frame checked by
//! its CRCs. Events map onto [`ChatChunk`]s as the other providers' do:
//! `contentBlockDelta` text is [`ChatChunk::Text`]; `contentBlockStart`
//! with a `toolUse` (id, name) is [`ChatChunk::ToolCallStart`] and its
//! input fragments are [`ChatChunk::ToolCallDelta`]s, indexed by
//! `contentBlockIndex` (the forced answer tool's fragments are text);
//! `messageStop` is [`ChatChunk::Finish`], the end marker; `metadata`,
//! which follows it, is [`ChatChunk::Usage`]. `messageStart`,
//! `contentBlockStop` and unknown events make no chunk. An exception frame
//! (`:message-type: exception`) becomes the error the same exception gets
//! from `converse` (`throttlingException` a retryable 429,
//! `serviceUnavailableException` 503, `modelStreamErrorException` the
//! model's own status); when it is the stream's first frame, `stream`
//! itself returns it, so [`crate::Reliable`] retries it. A body that ends
//! before `messageStop`, or inside a frame, is an
//! [`LlmError::StreamDropped`]; a frame whose CRC or length is wrong is an
//! [`LlmError::InvalidResponse`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Map, Value};

use crate::chat::{
    ChatChunk, ChatRequest, ChatResponse, FinishReason, Message, ToolCall, ToolChoice, Usage,
};
use crate::client::{ChatStream, LlmClient};
use crate::config::{EnvSource, Secret};
use crate::error::{LlmError, Result, RetryAfter};
use crate::eventstream::{frame_stream, Frame, FrameHandler};
use crate::reliability::{Clock, TokioClock};
use crate::sse::{error_chain, excerpt, http_client};

/// The access key variable.
pub const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";
/// The secret key variable.
pub const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token variable (temporary credentials).
pub const SESSION_TOKEN_ENV: &str = "AWS_SESSION_TOKEN";
/// The region variable.
pub const REGION_ENV: &str = "AWS_REGION";
/// The region variable read when [`REGION_ENV`] is unset.
pub const DEFAULT_REGION_ENV: &str = "AWS_DEFAULT_REGION";

/// The SigV4 service name of the Bedrock runtime.
const SERVICE: &str = "bedrock";
const NAME: &str = "bedrock";
/// The `accept` of `converse`.
const JSON: &str = "application/json";
/// The `accept` of `converse-stream`, and its answer's content type.
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// AWS credentials. Every part prints as `[redacted]`.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    access_key_id: Secret,
    secret_access_key: Secret,
    session_token: Option<Secret>,
}

impl AwsCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    ) -> AwsCredentials {
        AwsCredentials {
            access_key_id: Secret::new(access_key_id),
            secret_access_key,
            session_token,
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
    /// `AWS_SESSION_TOKEN`.
    ///
    /// # Errors
    ///
    /// [`LlmError::MissingApiKey`] naming the first of the two required
    /// variables that is unset or empty.
    pub fn from_env(env: &dyn EnvSource) -> Result<AwsCredentials> {
        let set = |name: &str| {
            env.var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| {
            set(name).ok_or_else(|| LlmError::MissingApiKey {
                provider: NAME.to_owned(),
                variable: name.to_owned(),
            })
        };
        Ok(AwsCredentials {
            access_key_id: Secret::new(required(ACCESS_KEY_ENV)?),
            secret_access_key: Secret::new(required(SECRET_KEY_ENV)?),
            session_token: set(SESSION_TOKEN_ENV).map(Secret::new),
        })
    }
}

/// The region from `AWS_REGION`, else `AWS_DEFAULT_REGION`.
///
/// # Errors
///
/// [`LlmError::Config`] when neither is set.
pub fn region_from_env(env: &dyn EnvSource) -> Result<String> {
    [REGION_ENV, DEFAULT_REGION_ENV]
        .iter()
        .find_map(|name| {
            env.var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .ok_or_else(|| LlmError::Config {
            setting: REGION_ENV.to_owned(),
            message: format!("bedrock needs a region: set {REGION_ENV} or {DEFAULT_REGION_ENV}"),
        })
}

/// A client of the Bedrock Converse API. Cheap to clone; `Debug` shows no
/// credential.
#[derive(Clone)]
pub struct Bedrock {
    http: reqwest::Client,
    endpoint: String,
    model: String,
    region: String,
    credentials: AwsCredentials,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Bedrock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bedrock")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Bedrock {
    /// A client for `model` in `region` at the region's endpoint.
    ///
    /// ```
    /// use kiro_llm::{AwsCredentials, Bedrock, Secret};
    ///
    /// let credentials = AwsCredentials::new("AKIDEXAMPLE", Secret::new("wJalrXUtnFEMI"), None);
    /// let client = Bedrock::new("eu-west-1", "anthropic.claude-3-5-haiku-20241022-v1:0", credentials)?;
    /// assert!(!format!("{client:?}").contains("wJalrXUtnFEMI"));
    /// assert!(!format!("{client:?}").contains("AKIDEXAMPLE"));
    /// # Ok::<(), kiro_llm::LlmError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] when the region is empty or the HTTP client
    /// cannot be built.
    pub fn new(
        region: &str,
        model: impl Into<String>,
        credentials: AwsCredentials,
    ) -> Result<Bedrock> {
        let region = region.trim();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(LlmError::Config {
                setting: REGION_ENV.to_owned(),
                message: format!("{region:?} is not an AWS region"),
            });
        }
        let http = http_client(None)?;
        Ok(Bedrock {
            http,
            endpoint: format!("https://bedrock-runtime.{region}.amazonaws.com"),
            model: model.into(),
            region: region.to_owned(),
            credentials,
            clock: Arc::new(TokioClock),
        })
    }

    /// A client with credentials and region from the AWS variables; a
    /// non-empty `base_url` replaces the region's endpoint.
    ///
    /// # Errors
    ///
    /// As [`AwsCredentials::from_env`], [`region_from_env`] and
    /// [`Bedrock::endpoint`].
    pub fn from_env(
        base_url: &str,
        model: impl Into<String>,
        env: &dyn EnvSource,
    ) -> Result<Bedrock> {
        let credentials = AwsCredentials::from_env(env)?;
        let client = Bedrock::new(&region_from_env(env)?, model, credentials)?;
        if base_url.is_empty() {
            Ok(client)
        } else {
            client.endpoint(base_url)
        }
    }

    /// Sends requests to `url` (a VPC endpoint, a proxy, a test server)
    /// instead of the region's endpoint.
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] when the URL is not `http(s)://`.
    pub fn endpoint(mut self, url: &str) -> Result<Bedrock> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Config {
                setting: "base_url".to_owned(),
                message: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        url.trim_end_matches('/').clone_into(&mut self.endpoint);
        Ok(self)
    }

    /// Takes the signing time from `clock` (tests fix it).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The request body for `request` (public so that callers can see
    /// exactly what is sent, and hash it).
    pub fn body(&self, request: &ChatRequest) -> Value {
        let mut body = Map::new();
        body.insert("messages".into(), Value::Array(wire_messages(request)));
        if let Some(system) = &request.system {
            body.insert("system".into(), json!([{"text": system}]));
        }
        let mut inference = Map::new();
        if let Some(n) = request.max_tokens {
            inference.insert("maxTokens".into(), json!(n));
        }
        if let Some(t) = request.temperature {
            inference.insert("temperature".into(), json!(t));
        }
        if !request.stop.is_empty() {
            inference.insert("stopSequences".into(), json!(request.stop));
        }
        if !inference.is_empty() {
            body.insert("inferenceConfig".into(), Value::Object(inference));
        }
        let spec = |name: &str, description: &str, schema: &Value| json!({"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}});
        let mut tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| spec(&t.name, &t.description, &t.parameters))
            .collect();
        let mut choice = match &request.tool_choice {
            ToolChoice::Auto | ToolChoice::None => None,
            ToolChoice::Required => Some(json!({"any": {}})),
            ToolChoice::Tool(name) => Some(json!({"tool": {"name": name}})),
        };
        if request.tool_choice == ToolChoice::None && !has_tool_blocks(request) {
            tools.clear();
        } else if request.tool_choice == ToolChoice::Auto {
            choice = Some(json!({"auto": {}}));
        }
        if let Some(schema) = &request.response_schema {
            tools.push(spec(
                &schema.name,
                "Give your answer by calling this tool with it as the input.",
                &schema.schema,
            ));
            choice = Some(json!({"tool": {"name": schema.name}}));
        }
        if !tools.is_empty() {
            let mut config = Map::new();
            config.insert("tools".into(), Value::Array(tools));
            if let Some(choice) = choice {
                config.insert("toolChoice".into(), choice);
            }
            body.insert("toolConfig".into(), Value::Object(config));
        }
        Value::Object(body)
    }

    /// The URL of `operation` (`converse`, `converse-stream`) for this
    /// model.
    fn url(&self, operation: &str) -> String {
        format!(
            "{}/model/{}/{operation}",
            self.endpoint,
            encode_path_segment(&self.model)
        )
    }

    /// Signs and sends the body, asking for `accept`; a non-2xx answer
    /// becomes [`LlmError::Status`].
    async fn send(&self, url: &str, body: Vec<u8>, accept: &str) -> Result<reqwest::Response> {
        let headers = self.sign(url, &body, accept)?;
        let mut builder = self
            .http
            .post(url)
            .header("content-type", JSON)
            .header("accept", accept);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| self.connection(url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(RetryAfter::parse);
        // `x-amzn-ErrorType: ThrottlingException:http://internal...`
        let kind = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(':').next())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| excerpt(&text));
        let message = match kind {
            Some(kind) if !kind.is_empty() => format!("{kind}: {message}"),
            _ => message,
        };
        Err(LlmError::Status {
            provider: NAME.to_owned(),
            status: status.as_u16(),
            message: self.redact(&message),
            retry_after,
        })
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with temporary credentials) for a POST of
    /// `body` to `url` with the content headers `send` adds.
    fn sign(&self, url: &str, body: &[u8], accept: &str) -> Result<Vec<(String, String)>> {
        let failed = |message: String| LlmError::Config {
            setting: "aws credentials".to_owned(),
            message,
        };
        let credentials = Credentials::new(
            self.credentials.access_key_id.expose(),
            self.credentials.secret_access_key.expose(),
            self.credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            None,
            "kiro-llm",
        );
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(self.clock.now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let signed_headers = [("content-type", JSON), ("accept", accept)];
        let request = SignableRequest::new(
            "POST",
            url,
            signed_headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| failed(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| failed(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }

    fn connection(&self, url: &str, error: &reqwest::Error) -> LlmError {
        LlmError::Connection {
            provider: NAME.to_owned(),
            url: url.to_owned(),
            message: self.redact(&error_chain(error)),
        }
    }

    fn invalid(&self, message: &str) -> LlmError {
        LlmError::InvalidResponse {
            provider: NAME.to_owned(),
            message: self.redact(message),
        }
    }

    /// Removes the credentials from text a server sent back.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        let secrets = [
            Some(&self.credentials.secret_access_key),
            self.credentials.session_token.as_ref(),
            Some(&self.credentials.access_key_id),
        ];
        for secret in secrets.into_iter().flatten() {
            if !secret.expose().is_empty() {
                text = text.replace(secret.expose(), "[redacted]");
            }
        }
        text
    }

    /// An exception frame of a stream (`:exception-type` and a payload
    /// with `message`) as the error the same exception gets from
    /// `converse`. A `modelStreamErrorException` carries the model's own
    /// status (`originalStatusCode`), which says better than its 424
    /// whether trying again may help (a model overloaded, 529, may).
    fn exception(&self, frame: &Frame, payload: &Value) -> LlmError {
        let kind = frame.header(":exception-type");
        let text = |key: &str| payload.get(key).and_then(Value::as_str);
        let message = text("message")
            .or_else(|| text("Message"))
            .or_else(|| text("originalMessage"))
            .map_or_else(
                || excerpt(&String::from_utf8_lossy(&frame.payload)),
                str::to_owned,
            );
        let original = payload
            .get("originalStatusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (400..600).contains(s));
        let status = match kind {
            "modelStreamErrorException" => original.or(exception_status(kind)),
            _ => exception_status(kind),
        };
        let message = self.redact(&format!("{kind}: {message}"));
        match status {
            Some(status) => LlmError::Status {
                provider: NAME.to_owned(),
                status,
                message,
                retry_after: None,
            },
            None => self.invalid(&format!("exception in the stream: {message}")),
        }
    }

    fn read_output(&self, body: &Value, structured: Option<&str>) -> Result<ChatResponse> {
        let blocks = body
            .pointer("/output/message/content")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.invalid(&format!(
                    "no output message in {}",
                    excerpt(&body.to_string())
                ))
            })?;
        let mut response = ChatResponse::default();
        let mut answered = false;
        for block in blocks {
            if let Some(text) = block.get("text").and_then(Value::as_str) {
                response.content.push_str(text);
            } else if let Some(call) = block.get("toolUse") {
                let text = |key: &str| call.get(key).and_then(Value::as_str);
                let name =
                    text("name").ok_or_else(|| self.invalid("a toolUse block without a name"))?;
                let input = call.get("input").cloned().unwrap_or_else(|| json!({}));
                if structured == Some(name) {
                    response.content = input.to_string();
                    answered = true;
                } else {
                    response.tool_calls.push(ToolCall {
                        id: text("toolUseId").unwrap_or_default().to_owned(),
                        name: name.to_owned(),
                        arguments: input,
                    });
                }
            }
            // Reasoning and other blocks are not part of the answer.
        }
        let reason = body
            .get("stopReason")
            .and_then(Value::as_str)
            .map(stop_reason)
            .unwrap_or_default();
        response.finish_reason = if answered && reason == FinishReason::ToolCalls {
            FinishReason::Stop
        } else {
            reason
        };
        if let Some(usage) = body.get("usage") {
            response.usage = read_usage(usage);
        }
        Ok(response)
    }
}

#[async_trait]
impl LlmClient for Bedrock {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let url = self.url("converse");
        let body = serde_json::to_vec(&self.body(&request)).map_err(|e| LlmError::Config {
            setting: "request".to_owned(),
            message: e.to_string(),
        })?;
        let response = self.send(&url, body, JSON).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.connection(&url, &e))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.invalid(&format!(
                "{e} in {}",
                excerpt(&String::from_utf8_lossy(&bytes))
            ))
        })?;
        let structured = request.response_schema.as_ref().map(|s| s.name.as_str());
        self.read_output(&body, structured)
    }

    /// `converse-stream` (see the module docs). Waits for the first
    /// chunk, so that an exception the service sends before any output
    /// (throttling) is returned here, where [`crate::Reliable`] retries it.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        use futures_util::StreamExt;

        let url = self.url("converse-stream");
        let body = serde_json::to_vec(&self.body(&request)).map_err(|e| LlmError::Config {
            setting: "request".to_owned(),
            message: e.to_string(),
        })?;
        let response = self.send(&url, body, EVENT_STREAM).await?;
        // A JSON answer (a proxy, a gateway's error page) would otherwise
        // be reported as a checksum mismatch.
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with(JSON) {
            let text = response.text().await.unwrap_or_default();
            return Err(self.invalid(&format!(
                "a JSON answer where an event stream was expected: {}",
                excerpt(&text)
            )));
        }
        let handler = StreamHandler {
            client: self.clone(),
            structured: request.response_schema.map(|s| s.name),
            blocks: HashMap::new(),
            answered: false,
            stopped: false,
            metered: false,
        };
        let mut stream = frame_stream(response, handler);
        match stream.next().await {
            Some(Err(error)) => Err(error),
            Some(Ok(first)) => Ok(Box::pin(
                futures_util::stream::iter([Ok(first)]).chain(stream),
            )),
            None => Ok(stream),
        }
    }
}

/// What a content block of a stream is (text blocks have no start event).
enum Block {
    Tool,
    /// The forced answer tool: its input fragments are the reply's text.
    Answer,
}

struct StreamHandler {
    client: Bedrock,
    structured: Option<String>,
    blocks: HashMap<usize, Block>,
    answered: bool,
    /// `messageStop`, the end marker, has arrived.
    stopped: bool,
    /// `metadata`, which follows `messageStop`, has arrived.
    metered: bool,
}

impl FrameHandler for StreamHandler {
    fn frame(&mut self, frame: &Frame, out: &mut VecDeque<ChatChunk>) -> Result<()> {
        let payload = || -> Result<Value> {
            serde_json::from_slice(&frame.payload).map_err(|e| {
                self.client.invalid(&format!(
                    "{e} in stream event {}",
                    excerpt(&String::from_utf8_lossy(&frame.payload))
                ))
            })
        };
        match frame.header(":message-type") {
            "event" => {}
            "exception" => {
                return Err(self.client.exception(frame, &payload().unwrap_or_default()))
            }
            "error" => {
                return Err(self.client.invalid(&format!(
                    "error in the stream: {}: {}",
                    frame.header(":error-code"),
                    frame.header(":error-message")
                )))
            }
            other => {
                return Err(self
                    .client
                    .invalid(&format!("unknown event-stream message type {other:?}")))
            }
        }
        let value = payload()?;
        let index = value
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        match frame.header(":event-type") {
            "contentBlockStart" => {
                if let Some(tool) = value.pointer("/start/toolUse") {
                    let text =
                        |key: &str| tool.get(key).and_then(Value::as_str).unwrap_or_default();
                    let name = text("name");
                    if self.structured.as_deref() == Some(name) {
                        self.answered = true;
                        self.blocks.insert(index, Block::Answer);
                    } else {
                        out.push_back(ChatChunk::ToolCallStart {
                            index,
                            id: text("toolUseId").to_owned(),
                            name: name.to_owned(),
                        });
                        self.blocks.insert(index, Block::Tool);
                    }
                }
            }
            "contentBlockDelta" => {
                let delta = value.get("delta").unwrap_or(&Value::Null);
                let text = |pointer: &str| {
                    delta
                        .pointer(pointer)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                };
                if let Some(text) = text("/text") {
                    out.push_back(ChatChunk::Text { text });
                } else if let Some(arguments) = text("/toolUse/input") {
                    match self.blocks.get(&index) {
                        Some(Block::Answer) => out.push_back(ChatChunk::Text { text: arguments }),
                        // A fragment of a block that never started is
                        // kept (the collector files it under an empty
                        // name) rather than dropped.
                        Some(Block::Tool) | None => {
                            out.push_back(ChatChunk::ToolCallDelta { index, arguments });
                        }
                    }
                }
                // Reasoning deltas are not part of the answer.
            }
            "messageStop" => {
                let reason = value
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(stop_reason)
                    .unwrap_or_default();
                let reason = match reason {
                    FinishReason::ToolCalls if self.answered => FinishReason::Stop,
                    other => other,
                };
                out.push_back(ChatChunk::Finish { reason });
                self.stopped = true;
            }
            "metadata" => {
                if let Some(usage) = value.get("usage") {
                    out.push_back(ChatChunk::Usage {
                        usage: read_usage(usage),
                    });
                }
                self.metered = true;
            }
            // `messageStart`, `contentBlockStop` and event types added
            // later.
            _ => {}
        }
        Ok(())
    }

    fn complete(&self) -> bool {
        self.stopped
    }

    fn done(&self) -> bool {
        self.stopped && self.metered
    }

    fn dropped(&self, received: usize) -> LlmError {
        LlmError::StreamDropped {
            provider: NAME.to_owned(),
            received,
        }
    }

    fn invalid(&self, message: &str) -> LlmError {
        self.client.invalid(message)
    }

    fn connection(&self, error: &reqwest::Error) -> LlmError {
        LlmError::Connection {
            provider: NAME.to_owned(),
            url: self.client.url("converse-stream"),
            message: self.client.redact(&error_chain(error)),
        }
    }
}

fn has_tool_blocks(request: &ChatRequest) -> bool {
    request.messages.iter().any(|m| match m {
        Message::Assistant { tool_calls, .. } => !tool_calls.is_empty(),
        Message::Tool(_) => true,
        Message::User { .. } => false,
    })
}

/// Consecutive user-side messages (user text and tool results) merged into
/// one `user` turn.
fn wire_messages(request: &ChatRequest) -> Vec<Value> {
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message {
            Message::User { content } => ("user", vec![json!({"text": content})]),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"text": content}));
                }
                for call in tool_calls {
                    // Tool input must be an object; arguments kept as raw
                    // text (not JSON) go back as an empty input.
                    let input = match &call.arguments {
                        Value::Object(_) => call.arguments.clone(),
                        _ => json!({}),
                    };
                    blocks.push(json!({"toolUse": {"toolUseId": call.id, "name": call.name, "input": input}}));
                }
                ("assistant", blocks)
            }
            Message::Tool(result) => {
                let mut block =
                    json!({"toolUseId": result.call_id, "content": [{"text": result.content}]});
                if result.is_error {
                    block["status"] = json!("error");
                }
                ("user", vec![json!({"toolResult": block})])
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

/// A path segment percent-encoded as RFC 3986 unreserved-only.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Converse's usage; cache reads and writes are prompt tokens the budget
/// must see.
fn read_usage(usage: &Value) -> Usage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("inputTokens")
            .saturating_add(n("cacheReadInputTokens"))
            .saturating_add(n("cacheWriteInputTokens")),
        output_tokens: n("outputTokens"),
    }
}

/// The HTTP status Bedrock gives an exception when it answers with one
/// instead of a stream (its API reference), so that a stream's exception
/// is retried exactly when the same failure of `converse` would be.
fn exception_status(kind: &str) -> Option<u16> {
    let status = match kind {
        "throttlingException" | "modelNotReadyException" => 429,
        "serviceUnavailableException" => 503,
        "internalServerException" => 500,
        "modelTimeoutException" => 408,
        "validationException" => 400,
        "accessDeniedException" => 403,
        "resourceNotFoundException" => 404,
        "modelErrorException" | "modelStreamErrorException" => 424,
        _ => return None,
    };
    Some(status)
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}
