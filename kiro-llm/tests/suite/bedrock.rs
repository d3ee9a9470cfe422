//! The Bedrock provider against a local server speaking the Converse API's
//! JSON, with the SigV4 signature recomputed here from the request the
//! server received (SHA-256 from `sha2`, HMAC written out below), not by
//! the signing crate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kiro_llm::{
    collect_stream, Bedrock, ChatChunk, ChatRequest, ChunkCollector, FinishReason, LlmClient,
    LlmError, Message, Reliable, ResponseSchema, RetryPolicy, ToolCall, ToolChoice, ToolResult,
    ToolSpec, Usage, UsageMeter,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::anthropic::RecordingClock;
use crate::server::{Part, Recorded, Reply, Server};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLEtoken";
const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

fn env(token: bool) -> HashMap<String, String> {
    let mut env = HashMap::from([
        ("AWS_ACCESS_KEY_ID".to_string(), ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), SECRET_KEY.to_string()),
        ("AWS_DEFAULT_REGION".to_string(), "us-east-1".to_string()),
    ]);
    if token {
        env.insert("AWS_SESSION_TOKEN".into(), TOKEN.into());
    }
    env
}

/// A client at the test server whose clock reads 2026-01-01T00:00:00Z.
fn client(server: &Server, token: bool) -> (Bedrock, Arc<RecordingClock>) {
    let clock = Arc::new(RecordingClock::default());
    let base = server.base_url.trim_end_matches("/v1");
    let client = Bedrock::from_env(base, MODEL, &env(token))
        .unwrap()
        .clock(clock.clone());
    (client, clock)
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

#[test]
fn the_tests_hmac_matches_rfc_4231() {
    assert_eq!(
        hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Checks the request's SigV4 `Authorization` against the signature
/// computed here from its method, path, signed headers and raw body.
fn assert_signed(request: &Recorded, signed_headers: &str) {
    let authorization = request.header("authorization").unwrap();
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/bedrock/aws4_request, SignedHeaders={signed_headers}, Signature="
    );
    let signature = authorization
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{authorization}"));
    assert_eq!(request.header("x-amz-date"), Some("20260101T000000Z"));

    // Services other than S3 sign the path encoded a second time.
    let canonical_uri = request.path.replace('%', "%25");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = request.header(name).unwrap_or_else(|| panic!("no {name}"));
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let canonical_request = format!(
        "POST\n{canonical_uri}\n\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(&request.raw)
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/bedrock/aws4_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), b"20260101");
    for part in ["us-east-1", "bedrock", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    assert_eq!(signature, hex(&hmac(&key, string_to_sign.as_bytes())));
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "weather".into(),
        description: "Current weather in a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

fn full_request() -> ChatRequest {
    ChatRequest::user("Weather in Paris?")
        .system("You are terse.")
        .message(Message::Assistant {
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "tooluse_1".into(),
                name: "weather".into(),
                arguments: json!({"city": "Paris"}),
            }],
        })
        .message(Message::Tool(ToolResult {
            call_id: "tooluse_1".into(),
            content: "timeout".into(),
            is_error: true,
        }))
        .message(Message::user("Try again."))
        .tool(weather_tool())
        .tool_choice(ToolChoice::Tool("weather".into()))
        .temperature(0.5)
        .max_tokens(300)
        .stop("END")
}

fn expected_body() -> Value {
    json!({
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "timeout"}], "status": "error"}},
                {"text": "Try again."}
            ]}
        ],
        "system": [{"text": "You are terse."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.5, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "weather", "description": "Current weather in a city",
                        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}],
            "toolChoice": {"tool": {"name": "weather"}}
        }
    })
}

/// Converse's answer with text and a tool call.
fn tool_use_output() -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Checking Nice."},
            {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "weather", "input": {"city": "Nice"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 403, "outputTokens": 61, "totalTokens": 464, "cacheReadInputTokens": 7, "cacheWriteInputTokens": 0},
        "metrics": {"latencyMs": 1218}
    })
}

fn text_output(text: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14},
        "metrics": {"latencyMs": 300}
    })
}

#[tokio::test]
async fn converse_sends_a_signed_exact_request_and_reads_tool_use() {
    let server = Server::start(vec![Reply::json(200, &tool_use_output())]).await;
    let (client, _) = client(&server, true);
    let response = client.complete(full_request()).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    );
    assert_eq!(request.body, expected_body());
    assert_eq!(request.header("x-amz-security-token"), Some(TOKEN));
    assert_signed(
        request,
        "accept;content-type;host;x-amz-date;x-amz-security-token",
    );

    assert_eq!(response.content, "Checking Nice.");
    assert_eq!(
        response.tool_calls,
        vec![ToolCall {
            id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q".into(),
            name: "weather".into(),
            arguments: json!({"city": "Nice"}),
        }]
    );
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 410,
            output_tokens: 61
        }
    );
}

#[tokio::test]
async fn without_a_session_token_the_signature_covers_fewer_headers() {
    let server = Server::start(vec![Reply::json(200, &text_output("hi"))]).await;
    let (client, _) = client(&server, false);
    let response = client.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.content, "hi");
    let request = &server.requests()[0];
    assert_eq!(request.header("x-amz-security-token"), None);
    assert_signed(request, "accept;content-type;host;x-amz-date");
    // No tools, no system, no inference settings: only the messages.
    assert_eq!(
        request.body,
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    );
}

#[tokio::test]
async fn structured_output_and_tool_choices_map_to_tool_config() {
    let reply = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_a", "name": "answer", "input": {"city": "Nice"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 20, "outputTokens": 9, "totalTokens": 29}
    });
    let server = Server::start(vec![Reply::json(200, &reply)]).await;
    let (bedrock, _) = client(&server, false);
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let request = ChatRequest::user("as JSON").response_schema(ResponseSchema {
        name: "answer".into(),
        schema: schema.clone(),
        strict: false,
    });
    let response = bedrock.complete(request).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&response.content).unwrap(),
        json!({"city": "Nice"})
    );
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(
        server.requests()[0].body["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "answer", "description": "Give your answer by calling this tool with it as the input.", "inputSchema": {"json": schema}}}],
               "toolChoice": {"tool": {"name": "answer"}}})
    );

    let cases = [
        (ToolChoice::Auto, Some(json!({"auto": {}}))),
        (ToolChoice::Required, Some(json!({"any": {}}))),
        (ToolChoice::None, None),
    ];
    for (choice, wire) in cases {
        let server = Server::start(vec![Reply::json(200, &text_output("ok"))]).await;
        let (bedrock, _) = client(&server, false);
        let request = ChatRequest::user("hi")
            .tool(weather_tool())
            .tool_choice(choice);
        bedrock.complete(request).await.unwrap();
        let body = &server.requests()[0].body;
        match wire {
            Some(wire) => assert_eq!(body["toolConfig"]["toolChoice"], wire),
            // Converse has no "none": the tools are left out.
            None => assert!(body.get("toolConfig").is_none(), "{body}"),
        }
    }
}

#[tokio::test]
async fn throttling_is_retried_and_errors_hide_the_credentials() {
    let throttled = Reply::json(
        429,
        &json!({"message": "Too many requests, please wait before trying again."}),
    )
    .header(
        "x-amzn-errortype",
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    );
    let unavailable = Reply::json(
        503,
        &json!({"message": "Bedrock is unable to process your request."}),
    )
    .header(
        "x-amzn-errortype",
        "ServiceUnavailableException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    );
    let server = Server::start(vec![
        throttled,
        unavailable,
        Reply::json(200, &text_output("done")),
    ])
    .await;
    let (bedrock, clock) = client(&server, true);
    let reliable = Reliable::new(bedrock)
        .provider("bedrock")
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(60),
        })
        .clock(clock.clone());
    let response = reliable.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.content, "done");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(clock.sleeps.lock().unwrap().len(), 2);
    for request in server.requests() {
        assert_signed(
            &request,
            "accept;content-type;host;x-amz-date;x-amz-security-token",
        );
    }

    let echo = Reply::json(403, &json!({"message": format!("The security token {TOKEN} for {ACCESS_KEY} is invalid. {SECRET_KEY}")}))
        .header("x-amzn-errortype", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/");
    let server = Server::start(vec![echo]).await;
    let (bedrock, _) = client(&server, true);
    let error = bedrock.complete(ChatRequest::user("hi")).await.unwrap_err();
    match &error {
        LlmError::Status {
            status, message, ..
        } => {
            assert_eq!(*status, 403);
            assert_eq!(
                message,
                "UnrecognizedClientException: The security token [redacted] for [redacted] is invalid. [redacted]"
            );
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert!(!error.is_retryable());
    let shown = format!("{error} {error:?} {bedrock:?}");
    for secret in [SECRET_KEY, TOKEN, ACCESS_KEY] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn environment_errors_name_the_variable() {
    let mut partial = env(false);
    partial.remove("AWS_SECRET_ACCESS_KEY");
    match Bedrock::from_env("", MODEL, &partial) {
        Err(LlmError::MissingApiKey { variable, .. }) => {
            assert_eq!(variable, "AWS_SECRET_ACCESS_KEY");
        }
        other => panic!("expected a missing key, got {other:?}"),
    }
    let mut regionless = env(false);
    regionless.remove("AWS_DEFAULT_REGION");
    assert!(matches!(
        Bedrock::from_env("", MODEL, &regionless),
        Err(LlmError::Config { .. })
    ));
    // AWS_REGION wins over AWS_DEFAULT_REGION and makes the endpoint.
    let mut both = env(false);
    both.insert("AWS_REGION".into(), "eu-west-3".into());
    let client = Bedrock::from_env("", MODEL, &both).unwrap();
    assert!(format!("{client:?}").contains("https://bedrock-runtime.eu-west-3.amazonaws.com"));
}

// ---------------------------------------------------------------------------
// converse-stream: AWS event-stream frames encoded here, from the format
// (prelude, string headers, payload, CRC32s computed below), not by the
// decoder's crate.

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_tests_crc32_matches_the_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

/// One event-stream frame with string headers (type 7).
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(u8::try_from(name.len()).unwrap());
        head.extend(name.as_bytes());
        head.push(7);
        head.extend(u16::try_from(value.len()).unwrap().to_be_bytes());
        head.extend(value.as_bytes());
    }
    let total = u32::try_from(12 + head.len() + payload.len() + 4).unwrap();
    let mut out = Vec::new();
    out.extend(total.to_be_bytes());
    out.extend(u32::try_from(head.len()).unwrap().to_be_bytes());
    out.extend(crc32(&out).to_be_bytes());
    out.extend(head);
    out.extend(payload);
    out.extend(crc32(&out).to_be_bytes());
    out
}

/// An event as Bedrock sends it.
fn event(kind: &str, payload: Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception frame as Bedrock sends it.
fn exception(kind: &str, payload: Value) -> Vec<u8> {
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// A text reply in events: start, two deltas (with the `p` padding field
/// Bedrock adds), stop, usage.
fn text_events() -> Vec<Vec<u8>> {
    vec![
        event(
            "messageStart",
            json!({"role": "assistant", "p": "abcdefgh"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}, "p": "abc"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("messageStop", json!({"stopReason": "end_turn"})),
        event(
            "metadata",
            json!({"usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14}, "metrics": {"latencyMs": 300}}),
        ),
    ]
}

/// Text, then a tool call whose input arrives in three fragments.
fn tool_use_events() -> Vec<Vec<u8>> {
    vec![
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Checking Nice."}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "weather"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"ci"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "ty\": \"Ni"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "ce\"}"}}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event("messageStop", json!({"stopReason": "tool_use"})),
        event(
            "metadata",
            json!({"usage": {"inputTokens": 403, "outputTokens": 61, "totalTokens": 464, "cacheReadInputTokens": 7}, "metrics": {"latencyMs": 1218}}),
        ),
    ]
}

/// An event-stream answer (chunked), each part one write.
fn event_stream(parts: Vec<Part>) -> Reply {
    Reply {
        status: 200,
        headers: vec![(
            "content-type".into(),
            "application/vnd.amazon.eventstream".into(),
        )],
        delay: Duration::ZERO,
        parts,
        chunked: true,
        cut: false,
    }
}

/// The frames as one write each.
fn whole(frames: &[Vec<u8>]) -> Vec<Part> {
    frames.iter().map(|f| Part::Bytes(f.clone())).collect()
}

/// What a stream gave: its chunks, then its error (from `stream` itself
/// when no chunk came first).
async fn streamed(
    client: &dyn LlmClient,
    request: ChatRequest,
) -> (Vec<ChatChunk>, Option<LlmError>) {
    let mut stream = match client.stream(request).await {
        Ok(stream) => stream,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => {
                // Nothing follows an error.
                assert!(stream.next().await.is_none());
                return (chunks, Some(error));
            }
        }
    }
    (chunks, None)
}

#[tokio::test]
async fn converse_stream_is_signed_and_maps_text_tool_use_and_usage() {
    let server = Server::start(vec![event_stream(whole(&tool_use_events()))]).await;
    let (bedrock, _) = client(&server, true);
    let (chunks, error) = streamed(&bedrock, full_request()).await;
    assert!(error.is_none(), "{error:?}");

    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    );
    assert_eq!(request.body, expected_body());
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_signed(
        request,
        "accept;content-type;host;x-amz-date;x-amz-security-token",
    );

    let call = |arguments: &str| ChatChunk::ToolCallDelta {
        index: 1,
        arguments: arguments.into(),
    };
    assert_eq!(
        chunks,
        vec![
            ChatChunk::Text {
                text: "Checking Nice.".into()
            },
            ChatChunk::ToolCallStart {
                index: 1,
                id: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q".into(),
                name: "weather".into()
            },
            call("{\"ci"),
            call("ty\": \"Ni"),
            call("ce\"}"),
            ChatChunk::Finish {
                reason: FinishReason::ToolCalls
            },
            ChatChunk::Usage {
                usage: Usage {
                    input_tokens: 410,
                    output_tokens: 61
                }
            },
        ]
    );
    // Folded, the stream is the reply `converse` gives for the same answer.
    let mut collector = ChunkCollector::default();
    chunks.into_iter().for_each(|c| collector.push(c));
    let server = Server::start(vec![Reply::json(200, &tool_use_output())]).await;
    let (bedrock, _) = client(&server, true);
    assert_eq!(
        collector.finish(),
        bedrock.complete(full_request()).await.unwrap()
    );
}

#[tokio::test]
async fn frames_split_across_writes_decode() {
    let bytes: Vec<u8> = text_events().concat();
    let expected = vec![
        ChatChunk::Text { text: "Hel".into() },
        ChatChunk::Text { text: "lo".into() },
        ChatChunk::Finish {
            reason: FinishReason::Stop,
        },
        ChatChunk::Usage {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 4,
            },
        },
    ];
    // Pieces of 1, 5, 13 and 64 bytes cut preludes, headers, payloads and
    // CRCs; the pause makes each piece its own read.
    for size in [1, 5, 13, 64] {
        let mut parts = Vec::new();
        for piece in bytes.chunks(size) {
            parts.push(Part::Bytes(piece.to_vec()));
            parts.push(Part::Pause(Duration::from_millis(1)));
        }
        let server = Server::start(vec![event_stream(parts)]).await;
        let (bedrock, _) = client(&server, false);
        let (chunks, error) = streamed(&bedrock, ChatRequest::user("hi")).await;
        assert!(error.is_none(), "pieces of {size}: {error:?}");
        assert_eq!(chunks, expected, "pieces of {size}");
        assert_signed(&server.requests()[0], "accept;content-type;host;x-amz-date");
    }
}

#[tokio::test]
async fn structured_output_streams_the_answer_tools_input_as_text() {
    let frames = vec![
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "answer"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"city\":"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": " \"Nice\"}"}}}),
        ),
        event("messageStop", json!({"stopReason": "tool_use"})),
    ];
    // No metadata: the stream may end after messageStop.
    let server = Server::start(vec![event_stream(whole(&frames))]).await;
    let (bedrock, _) = client(&server, false);
    let request = ChatRequest::user("as JSON").response_schema(ResponseSchema {
        name: "answer".into(),
        schema: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        strict: false,
    });
    let response = collect_stream(bedrock.stream(request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&response.content).unwrap(),
        json!({"city": "Nice"})
    );
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(response.usage, Usage::default());
}

/// What went wrong in a stream, as a test expects it.
#[derive(Debug)]
enum Broken {
    /// `StreamDropped` after this many frames.
    Dropped(usize),
    /// `InvalidResponse` whose message contains this.
    Invalid(&'static str),
    /// `Status` with this code and a message containing this.
    Status(u16, &'static str),
}

fn check_broken(name: &str, error: Option<LlmError>, expected: &Broken) {
    let error = error.unwrap_or_else(|| panic!("{name}: no error"));
    let shown = format!("{error} {error:?}");
    for secret in [SECRET_KEY, TOKEN, ACCESS_KEY] {
        assert!(!shown.contains(secret), "{name}: {shown}");
    }
    match (expected, &error) {
        (Broken::Dropped(n), LlmError::StreamDropped { received, .. }) => {
            assert_eq!(received, n, "{name}");
            assert!(error.is_retryable(), "{name}");
        }
        (Broken::Invalid(text), LlmError::InvalidResponse { message, .. }) => {
            assert!(message.contains(text), "{name}: {message}");
            assert!(!error.is_retryable(), "{name}");
        }
        (
            Broken::Status(code, text),
            LlmError::Status {
                status, message, ..
            },
        ) => {
            assert_eq!(status, code, "{name}: {message}");
            assert!(message.contains(text), "{name}: {message}");
        }
        _ => panic!("{name}: expected {expected:?}, got {error:?}"),
    }
}

#[tokio::test]
async fn broken_streams_are_typed_errors_never_short_replies() {
    let events = text_events();
    let mut bad_crc = events.clone();
    // The last byte of the payload of the second text delta.
    let delta = &mut bad_crc[2];
    let at = delta.len() - 5;
    delta[at] ^= 0x20;
    let mut bad_prelude = events.clone();
    bad_prelude[2][3] ^= 0x01;
    let mut huge = Vec::new();
    huge.extend((1u32 << 31).to_be_bytes());
    huge.extend(0u32.to_be_bytes());
    huge.extend(crc32(&huge).to_be_bytes());
    let half_stop = events[4][..events[4].len() / 2].to_vec();
    let hello = || ChatChunk::Text { text: "Hel".into() };
    let cases: Vec<(&str, Reply, Vec<ChatChunk>, Broken)> = vec![
        (
            "message crc",
            event_stream(whole(&bad_crc)),
            vec![hello()],
            Broken::Invalid("event stream frame 3: message checksum"),
        ),
        (
            "prelude crc",
            event_stream(whole(&bad_prelude)),
            vec![hello()],
            Broken::Invalid("event stream frame 3: prelude checksum mismatch"),
        ),
        (
            "a 2 GiB frame",
            event_stream(whole(&[events[0].clone(), events[1].clone(), huge])),
            vec![hello()],
            Broken::Invalid("frame length 2147483648"),
        ),
        (
            "cut inside messageStop",
            event_stream(whole(
                &[events[..4].to_vec(), vec![half_stop.clone()]].concat(),
            )),
            vec![hello(), ChatChunk::Text { text: "lo".into() }],
            Broken::Dropped(4),
        ),
        (
            "connection cut inside messageStop",
            event_stream(whole(&[events[..4].to_vec(), vec![half_stop]].concat())).cut(),
            vec![hello(), ChatChunk::Text { text: "lo".into() }],
            Broken::Dropped(4),
        ),
        (
            "no messageStop",
            event_stream(whole(&events[..4])),
            vec![hello(), ChatChunk::Text { text: "lo".into() }],
            Broken::Dropped(4),
        ),
        (
            "empty body",
            event_stream(Vec::new()),
            vec![],
            Broken::Dropped(0),
        ),
        (
            "model stream error mid-stream, with the model's status",
            event_stream(whole(&[
                events[0].clone(),
                events[1].clone(),
                exception(
                    "modelStreamErrorException",
                    json!({"message": "Model stream error", "originalStatusCode": 529, "originalMessage": "overloaded"}),
                ),
            ])),
            vec![hello()],
            Broken::Status(529, "modelStreamErrorException: Model stream error"),
        ),
        (
            "validation exception echoing the credentials",
            event_stream(whole(&[exception(
                "validationException",
                json!({"message": format!("bad token {TOKEN} for {ACCESS_KEY}")}),
            )])),
            vec![],
            Broken::Status(
                400,
                "validationException: bad token [redacted] for [redacted]",
            ),
        ),
        (
            "unknown exception",
            event_stream(whole(&[exception(
                "fooException",
                json!({"message": "new"}),
            )])),
            vec![],
            Broken::Invalid("exception in the stream: fooException: new"),
        ),
        (
            "an event that is not JSON",
            event_stream(whole(&[frame(
                &[
                    (":event-type", "contentBlockDelta"),
                    (":message-type", "event"),
                ],
                b"{not json",
            )])),
            vec![],
            Broken::Invalid("in stream event {not json"),
        ),
        (
            "a JSON answer",
            Reply::json(200, &text_output("hi")),
            vec![],
            Broken::Invalid("a JSON answer where an event stream was expected"),
        ),
        (
            "a 403 before the stream",
            Reply::json(403, &json!({"message": "denied"}))
                .header("x-amzn-errortype", "AccessDeniedException:http://internal"),
            vec![],
            Broken::Status(403, "AccessDeniedException: denied"),
        ),
    ];
    for (name, reply, expected_chunks, expected) in cases {
        let server = Server::start(vec![reply]).await;
        let (bedrock, _) = client(&server, true);
        let (chunks, error) = streamed(&bedrock, ChatRequest::user("hi")).await;
        assert_eq!(chunks, expected_chunks, "{name}");
        check_broken(name, error, &expected);
    }
}

#[tokio::test]
async fn a_throttling_exception_before_any_output_is_retried() {
    let throttled = event_stream(whole(&[exception(
        "throttlingException",
        json!({"message": "Too many requests, please wait before trying again."}),
    )]));
    let server = Server::start(vec![throttled.clone()]).await;
    let (bedrock, _) = client(&server, false);
    let (chunks, error) = streamed(&bedrock, ChatRequest::user("hi")).await;
    assert!(chunks.is_empty());
    let error = error.unwrap();
    assert!(error.is_retryable(), "{error:?}");
    check_broken(
        "throttled",
        Some(error),
        &Broken::Status(429, "throttlingException: Too many requests"),
    );

    let server = Server::start(vec![throttled, event_stream(whole(&text_events()))]).await;
    let (bedrock, clock) = client(&server, false);
    let meter = UsageMeter::new();
    let reliable = Reliable::new(bedrock)
        .provider("bedrock")
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(60),
        })
        .clock(clock.clone())
        .meter(meter.clone());
    let response = collect_stream(reliable.stream(ChatRequest::user("hi")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(response.content, "Hello");
    assert_eq!(response.usage.total(), 14);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(clock.sleeps.lock().unwrap().len(), 1);
    assert_eq!(meter.total().total(), 14);
}
