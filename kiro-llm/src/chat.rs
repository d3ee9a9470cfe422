//! The provider-neutral conversation: [`ChatRequest`] in, [`ChatResponse`]
//! (or a stream of [`ChatChunk`]s) out.
//!
//! The types are shaped so that each maps onto the three wire formats kiro
//! speaks without losing anything:
//!
//! | here | OpenAI chat completions | Anthropic Messages | Bedrock Converse |
//! |---|---|---|---|
//! | `system` | a first `system` message | top-level `system` | top-level `system: [{text}]` |
//! | [`Message::User`] | `user` message | `user` text block | `user` `{text}` block |
//! | [`Message::Assistant`] | `assistant` with `tool_calls` | `assistant` text + `tool_use` blocks | `assistant` `{text}` + `{toolUse}` |
//! | [`Message::Tool`] | one `tool` message per result | `tool_result` blocks in one `user` turn | `{toolResult}` blocks in one `user` turn |
//! | [`ToolSpec`] | `tools[].function` | `tools[]` with `input_schema` | `toolConfig.tools[].toolSpec` |
//! | [`ToolChoice`] | `tool_choice` | `tool_choice` | `toolConfig.toolChoice` |
//! | `response_schema` | `response_format: json_schema` | (a forced tool call) | (a forced tool call) |
//! | [`Usage`] | `prompt_tokens` / `completion_tokens` | `input_tokens` / `output_tokens` | `inputTokens` / `outputTokens` |
//!
//! Tool-call arguments are JSON values here even though OpenAI sends them as
//! a string: Anthropic and Bedrock send objects, and a caller should not have
//! to know which provider answered. Consecutive [`Message::Tool`] results are
//! merged into one user turn by the providers that require it.
//!
//! Every type is plain data with serde derives, so a request can be hashed,
//! cached and replayed (its JSON is stable: fields in declaration order).

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to a chat model: everything but the model's name and the
/// provider's address, which belong to the client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The system prompt, if any.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call (default
    /// [`ToolChoice::Auto`]; ignored when `tools` is empty).
    pub tool_choice: ToolChoice,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// The most tokens the model may generate; `None` leaves the
    /// provider's default (providers that require a value use their own).
    pub max_tokens: Option<u32>,
    /// Sequences that end generation when produced.
    pub stop: Vec<String>,
    /// A JSON Schema the reply's text must match, where the provider has a
    /// native structured-output mode.
    pub response_schema: Option<ResponseSchema>,
}

impl ChatRequest {
    /// A request holding one user message.
    ///
    /// ```
    /// use kiro_llm::{ChatRequest, Message};
    ///
    /// let request = ChatRequest::user("Say hi").system("Be brief").max_tokens(16);
    /// assert_eq!(request.messages, vec![Message::user("Say hi")]);
    /// assert_eq!(request.system.as_deref(), Some("Be brief"));
    /// ```
    pub fn user(text: impl Into<String>) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user(text)],
            ..ChatRequest::default()
        }
    }

    /// Sets the system prompt.
    #[must_use]
    pub fn system(mut self, text: impl Into<String>) -> ChatRequest {
        self.system = Some(text.into());
        self
    }

    /// Appends a message.
    #[must_use]
    pub fn message(mut self, message: Message) -> ChatRequest {
        self.messages.push(message);
        self
    }

    /// Adds a tool the model may call.
    #[must_use]
    pub fn tool(mut self, tool: ToolSpec) -> ChatRequest {
        self.tools.push(tool);
        self
    }

    /// Sets the tool choice.
    #[must_use]
    pub fn tool_choice(mut self, choice: ToolChoice) -> ChatRequest {
        self.tool_choice = choice;
        self
    }

    /// Sets the sampling temperature.
    #[must_use]
    pub fn temperature(mut self, temperature: f32) -> ChatRequest {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the most tokens the model may generate.
    #[must_use]
    pub fn max_tokens(mut self, max_tokens: u32) -> ChatRequest {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Adds a stop sequence.
    #[must_use]
    pub fn stop(mut self, sequence: impl Into<String>) -> ChatRequest {
        self.stop.push(sequence.into());
        self
    }

    /// Asks for a reply matching a JSON Schema.
    #[must_use]
    pub fn response_schema(mut self, schema: ResponseSchema) -> ChatRequest {
        self.response_schema = Some(schema);
        self
    }
}

/// One turn of the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// What the user (or kiro on its behalf) says.
    User {
        /// The text.
        content: String,
    },
    /// What the model said before: text, tool calls, or both.
    Assistant {
        /// The text (may be empty when the turn is only tool calls).
        content: String,
        /// The tools it called, in order.
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answering an earlier
    /// [`Message::Assistant`]'s [`ToolCall`].
    Tool(ToolResult),
}

impl Message {
    /// A user message.
    pub fn user(text: impl Into<String>) -> Message {
        Message::User {
            content: text.into(),
        }
    }

    /// An assistant message with text only.
    pub fn assistant(text: impl Into<String>) -> Message {
        Message::Assistant {
            content: text.into(),
            tool_calls: Vec::new(),
        }
    }

    /// The assistant turn a response was, to send back in the next request.
    pub fn from_response(response: &ChatResponse) -> Message {
        Message::Assistant {
            content: response.content.clone(),
            tool_calls: response.tool_calls.clone(),
        }
    }

    /// A tool result.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message::Tool(ToolResult {
            call_id: call_id.into(),
            content: content.into(),
            is_error: false,
        })
    }
}

/// A tool the model may call: a name, what it does, and the JSON Schema of
/// its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by (`[a-zA-Z0-9_-]{1,64}` is accepted by
    /// every provider).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// The JSON Schema (an object schema) of the arguments.
    pub parameters: Value,
}

/// Whether and which tool the model must call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call the named tool.
    Tool(String),
}

/// A call the model made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call, echoed in the [`ToolResult`].
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments. When a provider returned argument text that is not
    /// JSON, this is that text as a JSON string, so a tool loop can tell
    /// the model what was wrong instead of failing the request.
    pub arguments: Value,
}

/// The result of running a [`ToolCall`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The [`ToolCall::id`] this answers.
    pub call_id: String,
    /// What the tool returned (or the error it met), as text.
    pub content: String,
    /// Whether the tool failed (Anthropic and Bedrock mark such results).
    pub is_error: bool,
}

/// A JSON Schema the reply's text must match (OpenAI's `json_schema`
/// response format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseSchema {
    /// A name for the schema (`[a-zA-Z0-9_-]{1,64}`).
    pub name: String,
    /// The schema itself.
    pub schema: Value,
    /// Whether the provider must follow the schema exactly (OpenAI's
    /// `strict`, which supports only a subset of JSON Schema).
    pub strict: bool,
}

/// The model's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text (empty when the model only called tools).
    pub content: String,
    /// The tools it called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// The tokens this request used.
    pub usage: Usage,
}

/// Why the model stopped generating.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its turn or produced a stop sequence.
    #[default]
    Stop,
    /// It reached the token limit: the text is cut off.
    Length,
    /// It stopped to have its tool calls run.
    ToolCalls,
    /// A content filter or guardrail stopped it.
    ContentFilter,
    /// A reason this crate does not model, as the provider spelled it.
    Other(String),
}

/// Tokens used, by one request or summed over many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt (system, messages, tools).
    pub input_tokens: u64,
    /// Tokens the model generated.
    pub output_tokens: u64,
}

impl Usage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

/// One item of a streamed reply. Text and tool-call arguments arrive in
/// pieces; [`ChunkCollector`] folds them back into a [`ChatResponse`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatChunk {
    /// More text.
    Text {
        /// The new text.
        text: String,
    },
    /// A tool call begins.
    ToolCallStart {
        /// Which call of this reply (the provider's index; later deltas
        /// name the same index).
        index: usize,
        /// The provider's id of the call.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// More of a tool call's argument JSON (a fragment, not valid JSON on
    /// its own).
    ToolCallDelta {
        /// The call's index, as in [`ChatChunk::ToolCallStart`].
        index: usize,
        /// The next piece of argument text.
        arguments: String,
    },
    /// The tokens the request used (sent once, usually last).
    Usage {
        /// The usage.
        usage: Usage,
    },
    /// Generation stopped.
    Finish {
        /// Why.
        reason: FinishReason,
    },
}

/// Folds [`ChatChunk`]s into the [`ChatResponse`] they make up.
///
/// ```
/// use kiro_llm::{ChatChunk, ChunkCollector, FinishReason};
///
/// let mut collector = ChunkCollector::default();
/// collector.push(ChatChunk::Text { text: "Hel".into() });
/// collector.push(ChatChunk::Text { text: "lo".into() });
/// collector.push(ChatChunk::Finish { reason: FinishReason::Stop });
/// assert_eq!(collector.finish().content, "Hello");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChunkCollector {
    response: ChatResponse,
    /// Tool calls by stream index, in the order they started, with their
    /// argument text still unparsed.
    calls: Vec<(usize, ToolCall, String)>,
}

impl ChunkCollector {
    /// Adds one chunk.
    pub fn push(&mut self, chunk: ChatChunk) {
        match chunk {
            ChatChunk::Text { text } => self.response.content.push_str(&text),
            ChatChunk::ToolCallStart { index, id, name } => {
                let call = ToolCall {
                    id,
                    name,
                    arguments: Value::Null,
                };
                self.calls.push((index, call, String::new()));
            }
            ChatChunk::ToolCallDelta { index, arguments } => {
                // A delta for a call that never started is kept under an
                // empty name rather than dropped: the model's text is data.
                match self.calls.iter_mut().rev().find(|(i, _, _)| *i == index) {
                    Some((_, _, text)) => text.push_str(&arguments),
                    None => {
                        let call = ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: Value::Null,
                        };
                        self.calls.push((index, call, arguments));
                    }
                }
            }
            ChatChunk::Usage { usage } => self.response.usage += usage,
            ChatChunk::Finish { reason } => self.response.finish_reason = reason,
        }
    }

    /// The response the chunks made up.
    pub fn finish(mut self) -> ChatResponse {
        self.response.tool_calls = self
            .calls
            .into_iter()
            .map(|(_, mut call, text)| {
                call.arguments = parse_arguments(&text);
                call
            })
            .collect();
        self.response
    }
}

/// Reads a tool call's argument text: JSON when it is (an empty text is an
/// empty object, as models send for tools without parameters), else the
/// text itself as a JSON string.
pub(crate) fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
