//! The OpenAI-compatible provider against a local server speaking OpenAI's
//! real JSON and SSE formats.

use futures_util::StreamExt;
use kiro_llm::{
    collect_stream, ChatChunk, ChatRequest, FinishReason, LlmClient, LlmError, Message,
    OpenAiCompatible, ResponseSchema, Secret, ToolCall, ToolChoice, ToolResult, ToolSpec, Usage,
};
use serde_json::{json, Value};

use crate::server::{Part, Reply, Server};

const KEY: &str = "sk-test-0123456789abcdef";

fn client(server: &Server) -> OpenAiCompatible {
    OpenAiCompatible::new(&server.base_url, "gpt-4o-mini")
        .unwrap()
        .api_key(Secret::new(KEY))
}

/// A conversation using every part of the request type.
fn full_request() -> ChatRequest {
    ChatRequest::user("What is the weather in Paris?")
        .system("You are terse.")
        .message(Message::Assistant {
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: json!({"city": "Paris"}),
            }],
        })
        .message(Message::Tool(ToolResult {
            call_id: "call_1".into(),
            content: "18°C, clear".into(),
            is_error: false,
        }))
        .tool(ToolSpec {
            name: "weather".into(),
            description: "Current weather in a city".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        })
        .tool_choice(ToolChoice::Tool("weather".into()))
        .temperature(0.25)
        .max_tokens(100)
        .stop("END")
        .response_schema(ResponseSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
            strict: true,
        })
}

fn expected_body() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, clear"}
        ],
        "tools": [{"type": "function", "function": {
            "name": "weather", "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "temperature": 0.25,
        "max_tokens": 100,
        "stop": ["END"],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "properties": {"text": {"type": "string"}}}, "strict": true
        }}
    })
}

/// OpenAI's response to a request that ends in tool calls (two parallel
/// calls, one with arguments that are not JSON).
fn tool_call_completion() -> Value {
    json!({
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Lyon\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":"}}
                ]
            },
            "logprobs": null, "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_06737a9306"
    })
}

fn text_completion(content: &str, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-xyz", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    })
}

#[tokio::test]
async fn complete_sends_the_exact_request_and_reads_tool_calls() {
    let server = Server::start(vec![Reply::json(200, &tool_call_completion())]).await;
    let response = client(&server).complete(full_request()).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, expected_body());

    assert_eq!(response.content, "");
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 82,
            output_tokens: 17
        }
    );
    assert_eq!(
        response.tool_calls,
        vec![
            ToolCall {
                id: "call_a".into(),
                name: "weather".into(),
                arguments: json!({"city": "Lyon"})
            },
            // Arguments that are not JSON are kept as text for the tool loop.
            ToolCall {
                id: "call_b".into(),
                name: "weather".into(),
                arguments: json!("{\"city\":")
            },
        ]
    );
}

#[tokio::test]
async fn finish_reasons_and_tool_choices_map_to_the_wire() {
    for (wire, reason) in [
        ("stop", FinishReason::Stop),
        ("length", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
        ("tool_calls", FinishReason::ToolCalls),
        ("something_new", FinishReason::Other("something_new".into())),
    ] {
        let server = Server::start(vec![Reply::json(200, &text_completion("hi", wire))]).await;
        let response = client(&server)
            .complete(ChatRequest::user("x"))
            .await
            .unwrap();
        assert_eq!(response.finish_reason, reason, "{wire}");
        assert_eq!(response.content, "hi");
    }
    let server = Server::start(vec![Reply::json(200, &text_completion("ok", "stop"))]).await;
    let tool = ToolSpec {
        name: "t".into(),
        description: "d".into(),
        parameters: json!({"type": "object"}),
    };
    for (choice, wire) in [
        (ToolChoice::Auto, json!("auto")),
        (ToolChoice::None, json!("none")),
        (ToolChoice::Required, json!("required")),
    ] {
        let request = ChatRequest::user("x")
            .tool(tool.clone())
            .tool_choice(choice);
        client(&server).complete(request).await.unwrap();
        assert_eq!(server.requests().last().unwrap().body["tool_choice"], wire);
    }
    // Without tools, neither tools nor tool_choice is sent; without a key,
    // no Authorization header.
    let plain = OpenAiCompatible::new(&server.base_url, "m").unwrap();
    plain.complete(ChatRequest::user("x")).await.unwrap();
    let last = server.requests().pop().unwrap();
    assert_eq!(
        last.body,
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    );
    assert_eq!(last.header("authorization"), None);
}

/// OpenAI's stream for a reply with text, then a tool call whose
/// arguments arrive in pieces, then the usage chunk and `[DONE]`.
fn stream_events() -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1741569952,
               "model": "gpt-4o-mini", "system_fingerprint": "fp_1",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
               "usage": null})
    };
    let events = [
        chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        chunk(json!({"content": "Il fait "}), Value::Null),
        chunk(json!({"content": "beau — 18°C"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_x", "type": "function",
                                     "function": {"name": "weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Nice\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1741569952,
               "model": "gpt-4o-mini", "choices": [],
               "usage": {"prompt_tokens": 20, "completion_tokens": 11, "total_tokens": 31}}),
    ];
    let mut text = String::from(": keep-alive comment\n\n");
    for event in events {
        text.push_str(&format!("data: {event}\r\n\r\n"));
    }
    text.push_str("data: [DONE]\n\n");
    text
}

/// Splits `text` into pieces of `size` bytes, cutting lines and UTF-8
/// characters anywhere.
fn pieces(text: &str, size: usize) -> Vec<Part> {
    text.as_bytes()
        .chunks(size)
        .map(|c| Part::Bytes(c.to_vec()))
        .collect()
}

#[tokio::test]
async fn stream_survives_any_split_of_the_event_stream() {
    let events = stream_events();
    for size in [1, 2, 3, 7, 64, events.len()] {
        let server = Server::start(vec![Reply::sse(pieces(&events, size))]).await;
        let stream = client(&server)
            .stream(ChatRequest::user("weather?"))
            .await
            .unwrap();
        let chunks: Vec<ChatChunk> = stream.map(Result::unwrap).collect().await;
        assert_eq!(
            chunks,
            vec![
                ChatChunk::Text {
                    text: "Il fait ".into()
                },
                ChatChunk::Text {
                    text: "beau — 18°C".into()
                },
                ChatChunk::ToolCallStart {
                    index: 0,
                    id: "call_x".into(),
                    name: "weather".into()
                },
                ChatChunk::ToolCallDelta {
                    index: 0,
                    arguments: "{\"ci".into()
                },
                ChatChunk::ToolCallDelta {
                    index: 0,
                    arguments: "ty\":\"Nice\"}".into()
                },
                ChatChunk::Finish {
                    reason: FinishReason::ToolCalls
                },
                ChatChunk::Usage {
                    usage: Usage {
                        input_tokens: 20,
                        output_tokens: 11
                    }
                },
            ],
            "pieces of {size} bytes"
        );
        let body = &server.requests()[0].body;
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }
    let server = Server::start(vec![Reply::sse(pieces(&events, 5))]).await;
    let response = collect_stream(
        client(&server)
            .stream(ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.content, "Il fait beau — 18°C");
    assert_eq!(response.tool_calls[0].arguments, json!({"city": "Nice"}));
    assert_eq!(response.usage.total(), 31);
}

#[tokio::test]
async fn a_stream_that_breaks_off_is_an_error_after_the_chunks_received() {
    let events = stream_events();
    let cut_at = events.find("tool_calls").unwrap();
    let head = &events[..cut_at];
    for (what, reply) in [
        // The connection drops mid-event (no terminating chunk).
        ("dropped connection", Reply::sse(pieces(head, 50)).cut()),
        // The body ends cleanly but without `[DONE]`.
        (
            "no [DONE]",
            Reply::sse(pieces(&events.replace("data: [DONE]\n\n", ""), 50)),
        ),
    ] {
        let server = Server::start(vec![reply]).await;
        let mut stream = client(&server)
            .stream(ChatRequest::user("x"))
            .await
            .unwrap();
        let mut texts = Vec::new();
        let error = loop {
            match stream.next().await {
                Some(Ok(ChatChunk::Text { text })) => texts.push(text),
                Some(Ok(_)) => {}
                Some(Err(error)) => break error,
                None => panic!("{what}: the stream ended without an error"),
            }
        };
        assert!(
            matches!(error, LlmError::StreamDropped { .. }),
            "{what}: {error}"
        );
        assert!(error.is_retryable());
        assert_eq!(texts, ["Il fait ", "beau — 18°C"], "{what}");
        assert!(
            stream.next().await.is_none(),
            "{what}: nothing follows the error"
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_invalid_responses() {
    let cases = [
        Reply::text(
            200,
            "application/json",
            "{\"id\": \"chatcmpl\", \"choices\": [",
        ),
        Reply::text(200, "text/html", "<html>gateway</html>"),
        Reply::json(200, &json!({"id": "x", "choices": []})),
        Reply::json(
            200,
            &json!({"error": {"message": "overloaded", "type": "server_error"}}),
        ),
    ];
    for reply in cases {
        let server = Server::start(vec![reply.clone()]).await;
        let error = client(&server)
            .complete(ChatRequest::user("x"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, LlmError::InvalidResponse { .. }),
            "{reply:?}: {error}"
        );
        assert!(!error.is_retryable());
    }
    let server = Server::start(vec![Reply::sse(pieces(
        "data: {\"choices\": [\n\ndata: [DONE]\n\n",
        8,
    ))])
    .await;
    let mut stream = client(&server)
        .stream(ChatRequest::user("x"))
        .await
        .unwrap();
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(error, LlmError::InvalidResponse { .. }), "{error}");
}

#[tokio::test]
async fn error_statuses_carry_the_servers_message_without_the_key() {
    let body = json!({"error": {
        "message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
    let server = Server::start(vec![Reply::json(401, &body)]).await;
    let client = client(&server);
    let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
    match &error {
        LlmError::Status {
            status,
            message,
            retry_after,
            ..
        } => {
            assert_eq!(*status, 401);
            assert!(
                message.starts_with("Incorrect API key provided: [redacted]."),
                "{message}"
            );
            assert_eq!(*retry_after, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.is_retryable());
    let shown = format!("{error} {error:?} {client:?}");
    assert!(!shown.contains(KEY), "{shown}");
    // Streaming reports the status before any chunk.
    let error = client.stream(ChatRequest::user("x")).await.err().unwrap();
    assert!(
        matches!(error, LlmError::Status { status: 401, .. }),
        "{error}"
    );
    // A body that is not JSON is quoted.
    let server = Server::start(vec![Reply::text(502, "text/plain", "bad gateway")]).await;
    let error = self::client(&server)
        .complete(ChatRequest::user("x"))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "openai answered 502: bad gateway");
}
