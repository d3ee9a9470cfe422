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
//! Streaming (`converse-stream`, AWS's binary event-stream framing) is not
//! implemented yet: [`Bedrock`]'s `stream` returns
//! [`LlmError::Unsupported`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, ChatResponse, FinishReason, Message, ToolCall, ToolChoice, Usage};
use crate::client::{ChatStream, LlmClient};
use crate::config::{EnvSource, Secret};
use crate::error::{LlmError, Result, RetryAfter};
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

    /// The URL of `operation` (`converse`) for this model.
    fn url(&self, operation: &str) -> String {
        format!(
            "{}/model/{}/{operation}",
            self.endpoint,
            encode_path_segment(&self.model)
        )
    }

    /// Signs and sends the body; a non-2xx answer becomes
    /// [`LlmError::Status`].
    async fn send(&self, url: &str, body: Vec<u8>) -> Result<reqwest::Response> {
        let headers = self.sign(url, &body)?;
        let mut builder = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json");
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
    /// `body` to `url` with the JSON content headers `send` adds.
    fn sign(&self, url: &str, body: &[u8]) -> Result<Vec<(String, String)>> {
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
        let signed_headers = [
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
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
            let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            response.usage = Usage {
                input_tokens: n("inputTokens")
                    .saturating_add(n("cacheReadInputTokens"))
                    .saturating_add(n("cacheWriteInputTokens")),
                output_tokens: n("outputTokens"),
            };
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
        let response = self.send(&url, body).await?;
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

    /// Not implemented yet: [`LlmError::Unsupported`] (see the module
    /// docs). [`crate::stream_from_complete`] gives a stream of a
    /// complete reply instead.
    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream> {
        Err(LlmError::Unsupported {
            provider: NAME.to_owned(),
            operation: "streaming (converse-stream)".to_owned(),
        })
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

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}
