//! The Anthropic provider against a local server speaking the Messages
//! API's real JSON and SSE formats.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiro_llm::{
    collect_stream, Anthropic, ChatRequest, Clock, FinishReason, LlmClient, LlmConfig, LlmError,
    Message, Provider, Reliable, ResponseSchema, RetryAfter, RetryPolicy, Secret, ToolCall,
    ToolChoice, ToolResult, ToolSpec, Usage,
};
use serde_json::{json, Value};

use crate::server::{Part, Reply, Server};

const KEY: &str = "sk-ant-api03-test-0123456789";

/// Anthropic's base is the host root, not `/v1`.
pub(crate) fn host_root(server: &Server) -> String {
    server.base_url.trim_end_matches("/v1").to_owned()
}

fn client(server: &Server) -> Anthropic {
    Anthropic::new(&host_root(server), "claude-sonnet-4-5", Secret::new(KEY)).unwrap()
}

/// A clock that records sleeps and returns at once.
#[derive(Default)]
pub(crate) struct RecordingClock {
    pub(crate) sleeps: Mutex<Vec<Duration>>,
}

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.sleeps.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "weather".into(),
        description: "Current weather in a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

/// A conversation with every kind of turn: two tool results in a row and a
/// user message after them must share one user turn.
fn full_request() -> ChatRequest {
    ChatRequest::user("Weather in Paris and Lyon?")
        .system("You are terse.")
        .message(Message::Assistant {
            content: "Checking.".into(),
            tool_calls: vec![
                ToolCall {
                    id: "toolu_1".into(),
                    name: "weather".into(),
                    arguments: json!({"city": "Paris"}),
                },
                ToolCall {
                    id: "toolu_2".into(),
                    name: "weather".into(),
                    arguments: json!({"city": "Lyon"}),
                },
            ],
        })
        .message(Message::tool_result("toolu_1", "18°C, clear"))
        .message(Message::Tool(ToolResult {
            call_id: "toolu_2".into(),
            content: "service down".into(),
            is_error: true,
        }))
        .message(Message::user("Summarise."))
        .tool(weather_tool())
        .tool_choice(ToolChoice::Required)
        .temperature(0.5)
        .max_tokens(200)
        .stop("END")
}

fn expected_body() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Lyon?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Lyon"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, clear"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "service down", "is_error": true},
                {"type": "text", "text": "Summarise."}
            ]}
        ],
        "tools": [{"name": "weather", "description": "Current weather in a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        "tool_choice": {"type": "any"},
        "temperature": 0.5,
        "stop_sequences": ["END"]
    })
}

/// The Messages API's answer with text, a tool call and cache usage.
fn tool_use_message() -> Value {
    json!({
        "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "I'll check Nice."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "weather", "input": {"city": "Nice"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 472, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20,
                  "output_tokens": 91, "service_tier": "standard"}
    })
}

fn text_message(text: &str, stop: &str) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 6}
    })
}

#[tokio::test]
async fn complete_sends_the_exact_request_and_reads_tool_use() {
    let server = Server::start(vec![Reply::json(200, &tool_use_message())]).await;
    let response = client(&server).complete(full_request()).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, expected_body());

    assert_eq!(response.content, "I'll check Nice.");
    assert_eq!(
        response.tool_calls,
        vec![ToolCall {
            id: "toolu_01A09q90qw90lq917835lq9".into(),
            name: "weather".into(),
            arguments: json!({"city": "Nice"}),
        }]
    );
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 502,
            output_tokens: 91
        }
    );
}

#[tokio::test]
async fn defaults_tool_choices_and_stop_reasons_map_to_the_wire() {
    let cases = [
        (
            ToolChoice::Auto,
            json!({"type": "auto"}),
            "end_turn",
            FinishReason::Stop,
        ),
        (
            ToolChoice::None,
            json!({"type": "none"}),
            "stop_sequence",
            FinishReason::Stop,
        ),
        (
            ToolChoice::Tool("weather".into()),
            json!({"type": "tool", "name": "weather"}),
            "max_tokens",
            FinishReason::Length,
        ),
        (
            ToolChoice::Auto,
            json!({"type": "auto"}),
            "refusal",
            FinishReason::ContentFilter,
        ),
        (
            ToolChoice::Auto,
            json!({"type": "auto"}),
            "pause_turn",
            FinishReason::Other("pause_turn".into()),
        ),
    ];
    for (choice, wire, stop, reason) in cases {
        let server = Server::start(vec![Reply::json(200, &text_message("ok", stop))]).await;
        let request = ChatRequest::user("hi")
            .tool(weather_tool())
            .tool_choice(choice);
        let response = client(&server).complete(request).await.unwrap();
        let body = &server.requests()[0].body;
        assert_eq!(body["tool_choice"], wire);
        // The API requires max_tokens: a request without one gets the default.
        assert_eq!(body["max_tokens"], json!(4096));
        assert_eq!(response.finish_reason, reason, "stop_reason {stop}");
    }
    // Without tools there is neither `tools` nor `tool_choice`, nor a system.
    let server = Server::start(vec![Reply::json(200, &text_message("ok", "end_turn"))]).await;
    client(&server)
        .default_max_tokens(64)
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].body,
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    );
}

fn answer_schema() -> ResponseSchema {
    ResponseSchema {
        name: "answer".into(),
        schema: json!({"type": "object", "properties": {"city": {"type": "string"}, "temp": {"type": "number"}}, "required": ["city", "temp"]}),
        strict: true,
    }
}

#[tokio::test]
async fn structured_output_is_a_forced_tool_call_read_back_as_text() {
    let reply = json!({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "answer", "input": {"city": "Nice", "temp": 21.5}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 30, "output_tokens": 20}
    });
    let server = Server::start(vec![Reply::json(200, &reply)]).await;
    let request = ChatRequest::user("Weather in Nice as JSON")
        .tool(weather_tool())
        .response_schema(answer_schema());
    let response = client(&server).complete(request).await.unwrap();

    let body = &server.requests()[0].body;
    assert_eq!(body["tools"][1]["name"], "answer");
    assert_eq!(body["tools"][1]["input_schema"], answer_schema().schema);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "answer"})
    );
    assert!(body.get("response_format").is_none());

    let parsed: Value = serde_json::from_str(&response.content).unwrap();
    assert_eq!(parsed, json!({"city": "Nice", "temp": 21.5}));
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
}

/// A real Messages stream: text, then a tool call whose input arrives as
/// `input_json_delta` pieces, with pings and usage.
fn stream_events() -> String {
    [
        ("message_start", json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1}}})),
        ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ("ping", json!({"type": "ping"})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Héllo"}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", checking"}})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_s", "name": "weather", "input": {}}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Ni"}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ce\"}"}})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 15}})),
        ("message_stop", json!({"type": "message_stop"})),
    ]
    .iter()
    .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
    .collect()
}

fn pieces(text: &str, size: usize) -> Vec<Part> {
    text.as_bytes()
        .chunks(size)
        .map(|c| Part::Bytes(c.to_vec()))
        .collect()
}

#[tokio::test]
async fn stream_reads_text_tool_input_deltas_and_usage_at_any_split() {
    let events = stream_events();
    for size in [1, 7, 64, events.len()] {
        let server = Server::start(vec![Reply::sse(pieces(&events, size))]).await;
        let stream = client(&server)
            .stream(ChatRequest::user("hi").tool(weather_tool()))
            .await
            .unwrap();
        let response = collect_stream(stream).await.unwrap();
        assert_eq!(response.content, "Héllo, checking", "pieces of {size}");
        assert_eq!(
            response.tool_calls,
            vec![ToolCall {
                id: "toolu_s".into(),
                name: "weather".into(),
                arguments: json!({"city": "Nice"}),
            }]
        );
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            response.usage,
            Usage {
                input_tokens: 30,
                output_tokens: 15
            }
        );
        let body = &server.requests()[0].body;
        assert_eq!(body["stream"], json!(true));
    }
}

#[tokio::test]
async fn streamed_structured_output_arrives_as_text() {
    let events: String = [
        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": "c", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "answer", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Nice\","}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": " \"temp\": 21}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
        json!({"type": "message_stop"}),
    ]
    .iter()
    .map(|data| format!("event: {}\ndata: {data}\n\n", data["type"].as_str().unwrap()))
    .collect();
    let server = Server::start(vec![Reply::sse(pieces(&events, 16))]).await;
    let request = ChatRequest::user("as JSON").response_schema(answer_schema());
    let response = collect_stream(client(&server).stream(request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&response.content).unwrap(),
        json!({"city": "Nice", "temp": 21})
    );
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
}

#[tokio::test]
async fn a_stream_without_message_stop_or_with_an_error_event_fails() {
    let events = stream_events();
    let cut = events.find("event: message_delta").unwrap();
    let server = Server::start(vec![Reply::sse(pieces(&events[..cut], 50))]).await;
    let stream = client(&server)
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap();
    match collect_stream(stream).await {
        Err(LlmError::StreamDropped { provider, received }) => {
            assert_eq!(provider, "anthropic");
            assert_eq!(received, 11);
        }
        other => panic!("expected a dropped stream, got {other:?}"),
    }

    let overloaded = format!(
        "{}event: error\ndata: {}\n\n",
        &events[..cut],
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let server = Server::start(vec![Reply::sse(pieces(&overloaded, 50))]).await;
    let stream = client(&server)
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap();
    match collect_stream(stream).await {
        Err(error @ LlmError::Status { status: 529, .. }) => {
            assert!(error.is_retryable());
            assert!(error.to_string().contains("Overloaded"), "{error}");
        }
        other => panic!("expected the overload error, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_carry_the_message_without_the_key_and_malformed_bodies_are_invalid() {
    let server = Server::start(vec![Reply::json(
        401,
        &json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key {KEY}")}, "request_id": "req_1"}),
    )])
    .await;
    let error = client(&server)
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    match &error {
        LlmError::Status {
            provider,
            status,
            message,
            ..
        } => {
            assert_eq!((provider.as_str(), *status), ("anthropic", 401));
            assert_eq!(message, "invalid x-api-key [redacted]");
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert!(!error.is_retryable());
    assert!(!format!("{error} {error:?}").contains(KEY));

    let server = Server::start(vec![Reply::text(
        200,
        "application/json",
        "{\"id\": \"msg_",
    )])
    .await;
    let error = client(&server)
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::InvalidResponse { .. }),
        "{error:?}"
    );
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let client = Anthropic::new("https://api.anthropic.com", "claude", Secret::new(KEY)).unwrap();
    let config = LlmConfig::builder(Provider::Anthropic, "claude")
        .api_key(Secret::new(KEY))
        .build()
        .unwrap();
    for text in [
        format!("{client:?}"),
        format!("{config:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}

#[tokio::test]
async fn overload_and_rate_limits_are_retried_through_reliable() {
    let overloaded = Reply::json(
        529,
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let limited = Reply::json(
        429,
        &json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}),
    )
    .header("retry-after", "7");
    let server = Server::start(vec![
        overloaded,
        limited,
        Reply::json(200, &text_message("done", "end_turn")),
    ])
    .await;
    let clock = Arc::new(RecordingClock::default());
    let reliable = Reliable::new(client(&server))
        .provider("anthropic")
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(60),
        })
        .clock(clock.clone());
    let response = reliable.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.content, "done");
    assert_eq!(server.requests().len(), 3);
    let sleeps = clock.sleeps.lock().unwrap().clone();
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps[0] <= Duration::from_millis(100));
    assert_eq!(sleeps[1], Duration::from_secs(7));
    assert_eq!(reliable.usage_meter().total().total(), 18);
    assert_eq!(
        RetryAfter::parse("7"),
        Some(RetryAfter::Delay(Duration::from_secs(7)))
    );
}

#[tokio::test]
async fn connect_builds_an_anthropic_client_at_the_host_root() {
    let server = Server::start(vec![Reply::json(
        200,
        &text_message("hi there", "end_turn"),
    )])
    .await;
    let config = LlmConfig::builder(Provider::Anthropic, "claude-haiku-4-5")
        .base_url(host_root(&server))
        .api_key(Secret::new(KEY))
        .build()
        .unwrap();
    let client = kiro_llm::connect(&config).unwrap();
    let response = client.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.content, "hi there");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.body["model"], "claude-haiku-4-5");

    let keyless = LlmConfig::builder(Provider::Anthropic, "claude")
        .build()
        .unwrap();
    match kiro_llm::connect(&keyless) {
        Err(LlmError::MissingApiKey { variable, .. }) => assert_eq!(variable, "ANTHROPIC_API_KEY"),
        Err(other) => panic!("expected a missing key, got {other:?}"),
        Ok(_) => panic!("a client without a key"),
    }
}
