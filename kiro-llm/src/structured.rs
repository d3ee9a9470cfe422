//! Structured output: ask a model for a value of a Rust type, check what it
//! sends against the type's JSON Schema, and have it repair its mistakes.
//!
//! [`structured`] (or [`StructuredExt::structured`] on any client) derives
//! the schema with `schemars::schema_for!(T)` and asks for it in one of two
//! ways ([`SchemaMode`]): natively, as the request's
//! [`ResponseSchema`] (OpenAI's `response_format: json_schema`), when the
//! client says it can ([`LlmClient::supports_response_schema`]); else as a
//! forced call of a tool whose parameters are the schema, which every
//! provider with tool calling honours. The reply is then read leniently (a
//! bare JSON value, a fenced ```` ```json ```` block, or JSON after a line of
//! prose), validated with the `jsonschema` crate against the full schema,
//! and deserialised. On any failure the model's output and the list of
//! errors are sent back, up to [`StructuredOptions::max_repairs`] times;
//! after that the call fails with [`LlmError::InvalidOutput`], which holds
//! the last raw output and its errors.
//!
//! Providers' strict modes accept only a subset of JSON Schema (OpenAI's:
//! every object closed with `additionalProperties: false`, every property
//! required, no length, range or format keywords). [`strict_schema`] turns
//! a schemars schema into that subset when it can: optional properties
//! become required but nullable, and the keywords the subset lacks are left
//! out of what the provider sees. Nothing is lost, because validation here
//! always uses the full schema. A schema that cannot be expressed in the
//! subset (maps, `allOf`, arbitrary JSON) is sent with `strict: false`.
//!
//! ```no_run
//! use kiro_llm::{ChatRequest, LlmClient, StructuredExt};
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Verdict {
//!     ok: bool,
//!     reason: String,
//! }
//!
//! # async fn run(client: &dyn LlmClient) -> kiro_llm::Result<()> {
//! let verdict: Verdict = client
//!     .structured(ChatRequest::user("Is 17 prime? Answer ok and reason."))
//!     .await?;
//! println!("{} because {}", verdict.ok, verdict.reason);
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::chat::{
    ChatRequest, ChatResponse, FinishReason, Message, ResponseSchema, ToolChoice, ToolResult,
    ToolSpec, Usage,
};
use crate::client::LlmClient;
use crate::error::{LlmError, Result};

/// Repair attempts after the first request when the options do not say.
pub const DEFAULT_MAX_REPAIRS: u32 = 2;

/// The most schema violations listed back to the model (and kept in the
/// error): a model cannot act on a hundred at once, and the first ones
/// usually explain the rest.
const MAX_LISTED_ERRORS: usize = 20;

/// The property a non-object value is wrapped in when it travels as tool
/// arguments, which must be an object.
const WRAPPED_VALUE: &str = "value";

/// How the schema reaches the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SchemaMode {
    /// [`SchemaMode::Native`] when the client
    /// [supports it](LlmClient::supports_response_schema), else
    /// [`SchemaMode::ToolCall`].
    #[default]
    Auto,
    /// The request's [`ChatRequest::response_schema`]; the reply's text is
    /// the value.
    Native,
    /// One tool whose parameters are the schema, and a tool choice forcing
    /// its call; the call's arguments are the value.
    ToolCall,
}

/// How [`structured_with`] asks and how often it lets the model repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructuredOptions {
    /// Requests sent after the first when the output is invalid (0: no
    /// repair).
    pub max_repairs: u32,
    /// How the schema reaches the model.
    pub mode: SchemaMode,
    /// The schema's (and tool's) name; `None` for the type's schema name,
    /// with characters providers refuse replaced by `_`.
    pub name: Option<String>,
}

impl Default for StructuredOptions {
    fn default() -> StructuredOptions {
        StructuredOptions {
            max_repairs: DEFAULT_MAX_REPAIRS,
            mode: SchemaMode::Auto,
            name: None,
        }
    }
}

impl StructuredOptions {
    /// Sets how many repair requests may follow the first.
    #[must_use]
    pub fn max_repairs(mut self, n: u32) -> Self {
        self.max_repairs = n;
        self
    }

    /// Sets how the schema reaches the model.
    #[must_use]
    pub fn mode(mut self, mode: SchemaMode) -> Self {
        self.mode = mode;
        self
    }

    /// Names the schema (`[a-zA-Z0-9_-]{1,64}`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A value the model produced, with how it got there.
#[derive(Clone, Debug, PartialEq)]
pub struct Structured<T> {
    /// The value.
    pub value: T,
    /// The JSON text it was read from.
    pub raw: String,
    /// Requests sent (1 when the first answer was valid).
    pub attempts: u32,
    /// Tokens used by all of them.
    pub usage: Usage,
    /// The last response, as the provider returned it.
    pub response: ChatResponse,
}

/// Asks `client` for a `T` with the default options and returns it.
///
/// # Errors
///
/// As [`structured_with`].
pub async fn structured<T, C>(client: &C, request: ChatRequest) -> Result<T>
where
    T: JsonSchema + DeserializeOwned,
    C: LlmClient + ?Sized,
{
    Ok(
        structured_with::<T, C>(client, request, &StructuredOptions::default())
            .await?
            .value,
    )
}

/// Asks `client` for a `T` (see the module docs): the request is sent with
/// the schema attached, and resent with the errors up to
/// `options.max_repairs` times.
///
/// # Errors
///
/// [`LlmError::InvalidOutput`] when no reply was valid; the client's error
/// when a request fails; [`LlmError::Config`] when `T`'s schema is not a
/// schema the validator accepts.
pub async fn structured_with<T, C>(
    client: &C,
    request: ChatRequest,
    options: &StructuredOptions,
) -> Result<Structured<T>>
where
    T: JsonSchema + DeserializeOwned,
    C: LlmClient + ?Sized,
{
    let target = std::any::type_name::<T>().to_owned();
    let schema = serde_json::to_value(schemars::schema_for!(T)).map_err(|e| LlmError::Config {
        setting: "response schema".to_owned(),
        message: format!("the schema of {target} is not JSON: {e}"),
    })?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| schema_name(&T::schema_name()));
    let validator = jsonschema::validator_for(&schema).map_err(|e| LlmError::Config {
        setting: "response schema".to_owned(),
        message: format!("the schema of {target} is invalid: {e}"),
    })?;
    let native = match options.mode {
        SchemaMode::Auto => client.supports_response_schema(),
        SchemaMode::Native => true,
        SchemaMode::ToolCall => false,
    };
    let ask = Ask::new(&schema, name, native);
    let mut request = ask.attach(request);
    let mut attempts = 0u32;
    let mut usage = Usage::default();
    loop {
        attempts = attempts.saturating_add(1);
        let response = client.complete(request.clone()).await?;
        usage += response.usage;
        let output = ask.read(&response);
        let checked = output.value.clone().and_then(|value| {
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .take(MAX_LISTED_ERRORS)
                .map(|e| format!("at {}: {e}", pointer(&e.instance_path().to_string())))
                .collect();
            if !errors.is_empty() {
                return Err(errors);
            }
            serde_json::from_value::<T>(value)
                .map_err(|e| vec![format!("does not deserialise into {target}: {e}")])
        });
        match checked {
            Ok(value) => {
                return Ok(Structured {
                    value,
                    raw: output.raw,
                    attempts,
                    usage,
                    response,
                })
            }
            Err(mut errors) => {
                if response.finish_reason == FinishReason::Length {
                    errors.push("the reply was cut off at the token limit".to_owned());
                }
                if attempts > options.max_repairs {
                    return Err(LlmError::InvalidOutput {
                        target,
                        attempts,
                        raw: output.raw,
                        errors,
                    });
                }
                ask.repair(&mut request, &response, &errors);
            }
        }
    }
}

/// [`structured`] and [`structured_with`] as methods of every client.
#[async_trait]
pub trait StructuredExt: LlmClient {
    /// [`structured`] on this client.
    async fn structured<T>(&self, request: ChatRequest) -> Result<T>
    where
        T: JsonSchema + DeserializeOwned + Send,
    {
        structured::<T, Self>(self, request).await
    }

    /// [`structured_with`] on this client.
    async fn structured_with<T>(
        &self,
        request: ChatRequest,
        options: &StructuredOptions,
    ) -> Result<Structured<T>>
    where
        T: JsonSchema + DeserializeOwned + Send,
    {
        structured_with::<T, Self>(self, request, options).await
    }
}

impl<C: LlmClient + ?Sized> StructuredExt for C {}

/// How one structured request is asked and its replies read.
struct Ask {
    name: String,
    native: bool,
    /// What the provider sees: the strict form when there is one.
    wire: Value,
    strict: bool,
    /// Whether the value travels wrapped in `{"value": ...}` (tool mode
    /// with a schema that is not an object).
    wrapped: bool,
}

/// What a reply held.
struct Output {
    /// The JSON text as the model wrote it.
    raw: String,
    /// The value, or why there is none.
    value: std::result::Result<Value, Vec<String>>,
}

impl Ask {
    fn new(schema: &Value, name: String, native: bool) -> Ask {
        let mut schema = schema.clone();
        if let Some(map) = schema.as_object_mut() {
            // Draft markers mean nothing to providers and some refuse them.
            map.remove("$schema");
        }
        let wrapped = !native && !is_object_schema(&schema);
        if wrapped {
            schema = wrap_in_object(schema);
        }
        let (wire, strict) = match strict_schema(&schema) {
            Some(strict) => (strict, true),
            None => (schema, false),
        };
        Ask {
            name,
            native,
            wire,
            strict,
            wrapped,
        }
    }

    fn attach(&self, mut request: ChatRequest) -> ChatRequest {
        if self.native {
            request.response_schema = Some(ResponseSchema {
                name: self.name.clone(),
                schema: self.wire.clone(),
                strict: self.strict,
            });
        } else {
            request.tools.push(ToolSpec {
                name: self.name.clone(),
                description: "Give your answer as this tool's arguments.".to_owned(),
                parameters: self.wire.clone(),
            });
            request.tool_choice = ToolChoice::Tool(self.name.clone());
        }
        request
    }

    fn read(&self, response: &ChatResponse) -> Output {
        let call = (!self.native)
            .then(|| response.tool_calls.iter().find(|c| c.name == self.name))
            .flatten();
        let (raw, value) = match call {
            // Argument text that was not JSON arrives as a JSON string
            // (see `ToolCall::arguments`); it may still be fenced JSON.
            Some(call) => match &call.arguments {
                Value::String(text) => (text.clone(), extract_json(text)),
                value => (value.to_string(), Ok(value.clone())),
            },
            None if !self.native && response.content.trim().is_empty() => {
                let error = format!("you did not call the tool {}", self.name);
                return Output {
                    raw: String::new(),
                    value: Err(vec![error]),
                };
            }
            // A model that answered in text instead of calling the tool
            // may still have written the value.
            None => (response.content.clone(), extract_json(&response.content)),
        };
        let value = value.map_err(|e| vec![e]).and_then(|value| {
            if !self.wrapped {
                return Ok(value);
            }
            match value {
                Value::Object(mut map) => map.remove(WRAPPED_VALUE).ok_or_else(|| {
                    vec![format!("the arguments have no {WRAPPED_VALUE:?} property")]
                }),
                _ => Err(vec!["the arguments are not a JSON object".to_owned()]),
            }
        });
        Output { raw, value }
    }

    /// Appends the model's reply and the errors to the conversation. In
    /// tool mode the errors are the tool's result, because every provider
    /// requires each tool call to be answered before the next turn.
    fn repair(&self, request: &mut ChatRequest, response: &ChatResponse, errors: &[String]) {
        let mut feedback = String::from("Your answer does not match the required JSON Schema:\n");
        for error in errors {
            let _ = writeln!(feedback, "- {error}");
        }
        request.messages.push(Message::from_response(response));
        if response.tool_calls.is_empty() {
            feedback.push_str(if self.native {
                "Reply again with only the corrected JSON value."
            } else {
                "Call the tool again with corrected arguments."
            });
            request.messages.push(Message::user(feedback));
            return;
        }
        feedback.push_str("Call the tool again with corrected arguments.");
        for call in &response.tool_calls {
            let content = if call.name == self.name {
                feedback.clone()
            } else {
                format!("There is no tool {}; call {}.", call.name, self.name)
            };
            request.messages.push(Message::Tool(ToolResult {
                call_id: call.id.clone(),
                content,
                is_error: true,
            }));
        }
    }
}

/// Reads the JSON value in a model's text: the whole text, else the first
/// fenced block (```` ```json ```` or bare ```` ``` ````), else the first
/// value starting at a `{` or `[` (prose before it and after it ignored).
///
/// ```
/// use kiro_llm::structured::extract_json;
/// use serde_json::json;
///
/// assert_eq!(extract_json(" {\"a\": 1} "), Ok(json!({"a": 1})));
/// assert_eq!(extract_json("Here:\n```json\n[1, 2]\n```\nDone."), Ok(json!([1, 2])));
/// assert_eq!(extract_json("Sure! {\"a\": true} Hope it helps."), Ok(json!({"a": true})));
/// assert!(extract_json("no JSON here").is_err());
/// ```
///
/// # Errors
///
/// The JSON syntax error of the whole text, when no reading finds a value.
pub fn extract_json(text: &str) -> std::result::Result<Value, String> {
    let trimmed = text.trim();
    let whole_error = match serde_json::from_str::<Value>(trimmed) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    if let Some(block) = fenced_block(trimmed) {
        if let Ok(value) = serde_json::from_str::<Value>(block.trim()) {
            return Ok(value);
        }
    }
    // A bounded number of starts: prose such as "[note]" may come first.
    for (start, _) in trimmed.match_indices(['{', '[']).take(16) {
        let mut values = serde_json::Deserializer::from_str(&trimmed[start..]).into_iter::<Value>();
        if let Some(Ok(value)) = values.next() {
            return Ok(value);
        }
    }
    if trimmed.is_empty() {
        return Err("the reply is empty; expected a JSON value".to_owned());
    }
    Err(format!("the reply is not JSON: {whole_error}"))
}

/// The text inside the first ```` ``` ```` fence (after its info string),
/// up to the closing fence or the end of the text.
fn fenced_block(text: &str) -> Option<&str> {
    let open = text.find("```")?;
    let after = &text[open + 3..];
    let body = &after[after.find('\n')? + 1..];
    Some(body.find("```").map_or(body, |end| &body[..end]))
}

/// A JSON pointer as shown to the model; the root's is empty.
fn pointer(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

/// `name` with every character outside `[a-zA-Z0-9_-]` replaced by `_`,
/// cut to 64 characters (`Vec<Task>` becomes `Array_of_Task`-like names
/// from schemars; generic brackets would be refused).
fn schema_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "response".to_owned()
    } else {
        cleaned
    }
}

fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

/// `{"type": "object", "properties": {"value": schema}, "required":
/// ["value"]}`, keeping the definitions at the root where `$ref`s point.
fn wrap_in_object(mut schema: Value) -> Value {
    let mut wrapper = Map::new();
    if let Some(map) = schema.as_object_mut() {
        for key in ["$defs", "definitions"] {
            if let Some(defs) = map.remove(key) {
                wrapper.insert(key.to_owned(), defs);
            }
        }
    }
    wrapper.insert("type".into(), json!("object"));
    wrapper.insert("properties".into(), json!({ WRAPPED_VALUE: schema }));
    wrapper.insert("required".into(), json!([WRAPPED_VALUE]));
    Value::Object(wrapper)
}

/// Keywords outside OpenAI's strict subset that only narrow what is valid:
/// dropped from what the provider sees, still checked here.
const NARROWING_KEYWORDS: [&str; 20] = [
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "propertyNames",
    "patternProperties",
    "default",
];

/// Keywords the strict subset cannot express at all.
const UNSUPPORTED_KEYWORDS: [&str; 8] = [
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
];

/// The schema in the subset providers' strict modes accept (OpenAI's
/// structured outputs): the root an object; every object closed
/// (`additionalProperties: false`) with every property required, those
/// that were optional made nullable; `oneOf` as `anyOf`; length, range,
/// format and default keywords left out. `None` when the schema has parts
/// the subset cannot express: an open object (a map or arbitrary JSON), a
/// `true` schema, `allOf`, `not`, conditionals.
///
/// ```
/// use kiro_llm::structured::strict_schema;
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": {"name": {"type": "string", "minLength": 1}, "note": {"type": "string"}},
///     "required": ["name"]
/// });
/// assert_eq!(strict_schema(&schema), Some(json!({
///     "type": "object",
///     "properties": {"name": {"type": "string"}, "note": {"type": ["string", "null"]}},
///     "required": ["name", "note"],
///     "additionalProperties": false
/// })));
/// assert_eq!(strict_schema(&json!({"type": "object", "additionalProperties": {"type": "integer"}})), None);
/// ```
pub fn strict_schema(schema: &Value) -> Option<Value> {
    if !is_object_schema(schema) {
        return None;
    }
    strict_node(schema)
}

fn strict_node(schema: &Value) -> Option<Value> {
    let Value::Object(map) = schema else {
        // `true` admits anything: not expressible. (`false` never appears
        // in a schema worth asking for.)
        return None;
    };
    if UNSUPPORTED_KEYWORDS.iter().any(|k| map.contains_key(*k)) {
        return None;
    }
    let mut out = Map::new();
    for (key, value) in map {
        if NARROWING_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                let Value::Object(children) = value else {
                    return None;
                };
                let mut strict = Map::new();
                for (name, child) in children {
                    strict.insert(name.clone(), strict_node(child)?);
                }
                Value::Object(strict)
            }
            "items" | "additionalItems" => strict_node(value)?,
            "anyOf" | "oneOf" | "prefixItems" => {
                let Value::Array(children) = value else {
                    return None;
                };
                Value::Array(children.iter().map(strict_node).collect::<Option<_>>()?)
            }
            // A schema for the extra properties is a map: not expressible;
            // `false` is what strict mode wants anyway.
            "additionalProperties" => match value {
                Value::Bool(false) => continue,
                _ => return None,
            },
            _ => value.clone(),
        };
        let key = if key == "oneOf" {
            "anyOf"
        } else {
            key.as_str()
        };
        out.insert(key.to_owned(), value);
    }
    let is_object =
        map.get("type").and_then(Value::as_str) == Some("object") || map.contains_key("properties");
    if is_object {
        let Some(Value::Object(properties)) = out.get_mut("properties") else {
            // An object without properties is arbitrary JSON.
            return None;
        };
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut all = Vec::with_capacity(properties.len());
        for (name, child) in properties.iter_mut() {
            if !required.contains(&name.as_str()) {
                *child = nullable(std::mem::take(child));
            }
            all.push(json!(name));
        }
        out.insert("required".into(), Value::Array(all));
        out.insert("additionalProperties".into(), json!(false));
    }
    Some(Value::Object(out))
}

/// `schema` admitting `null` too.
fn nullable(mut schema: Value) -> Value {
    let admits_null = |t: &Value| match t {
        Value::String(s) => s == "null",
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    if let Some(map) = schema.as_object_mut() {
        // An enum lists its values: adding a type would not admit null.
        let has_enum = map.contains_key("enum");
        match map.get_mut("type") {
            Some(t) if admits_null(t) => return schema,
            Some(Value::String(single)) if !has_enum => {
                let single = std::mem::take(single);
                map.insert("type".into(), json!([single, "null"]));
                return schema;
            }
            Some(Value::Array(types)) if !has_enum => {
                types.push(json!("null"));
                return schema;
            }
            _ => {}
        }
        if let Some(Value::Array(branches)) = map.get("anyOf") {
            if branches
                .iter()
                .any(|b| b.get("type").is_some_and(admits_null))
            {
                return schema;
            }
        }
    }
    json!({"anyOf": [schema, {"type": "null"}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_json_from_model_text() {
        let cases: [(&str, Option<Value>); 9] = [
            ("{\"a\":1}", Some(json!({"a": 1}))),
            ("  [true]\n", Some(json!([true]))),
            ("```json\n{\"a\":1}\n```", Some(json!({"a": 1}))),
            ("```\n{\"a\":1}\n```", Some(json!({"a": 1}))),
            (
                "Result:\n```JSON\n{\"a\": [1]}\n```\nthanks",
                Some(json!({"a": [1]})),
            ),
            ("[note] here it is: {\"a\":2}", Some(json!({"a": 2}))),
            ("\"just a string\"", Some(json!("just a string"))),
            ("{\"a\":", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(extract_json(text).ok(), expected, "{text:?}");
        }
    }

    #[test]
    fn strict_schema_cases() {
        let cases = [
            // Nested objects and definitions are closed too.
            (
                json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "required": ["a"],
                       "$defs": {"A": {"type": "object", "properties": {"n": {"type": "integer", "format": "uint32", "minimum": 0}}}}}),
                Some(
                    json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "required": ["a"],
                       "additionalProperties": false,
                       "$defs": {"A": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}},
                                       "required": ["n"], "additionalProperties": false}}}),
                ),
            ),
            // oneOf becomes anyOf; an optional enum becomes anyOf with null.
            (
                json!({"type": "object", "properties": {"k": {"enum": ["x", "y"], "type": "string"}, "v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}, "required": ["v"]}),
                Some(json!({"type": "object", "properties": {
                    "k": {"anyOf": [{"enum": ["x", "y"], "type": "string"}, {"type": "null"}]},
                    "v": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "required": ["k", "v"], "additionalProperties": false})),
            ),
            // An already nullable optional property is left as it is.
            (
                json!({"type": "object", "properties": {"o": {"type": ["string", "null"]}}}),
                Some(
                    json!({"type": "object", "properties": {"o": {"type": ["string", "null"]}}, "required": ["o"], "additionalProperties": false}),
                ),
            ),
            (json!({"type": "array", "items": {"type": "string"}}), None),
            (
                json!({"type": "object", "properties": {"m": {"type": "object"}}, "required": ["m"]}),
                None,
            ),
            (json!({"type": "object", "properties": {"a": true}}), None),
            (
                json!({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}}),
                None,
            ),
        ];
        for (schema, expected) in cases {
            assert_eq!(strict_schema(&schema), expected, "{schema}");
        }
    }

    #[test]
    fn schema_names_are_accepted_by_providers() {
        assert_eq!(schema_name("Array_of_Task"), "Array_of_Task");
        assert_eq!(schema_name("Map<String, u32>"), "Map_String__u32_");
        assert_eq!(schema_name(""), "response");
        assert_eq!(schema_name(&"x".repeat(100)).len(), 64);
    }
}
