//! The Bedrock provider against a local server speaking the Converse API's
//! JSON, with the SigV4 signature recomputed here from the request the
//! server received (SHA-256 from `sha2`, HMAC written out below), not by
//! the signing crate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kiro_llm::{
    AwsCredentials, Bedrock, ChatRequest, FinishReason, LlmClient, LlmError, Message, Reliable,
    ResponseSchema, RetryPolicy, Secret, ToolCall, ToolChoice, ToolResult, ToolSpec, Usage,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::anthropic::RecordingClock;
use crate::server::{Recorded, Reply, Server};

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
async fn environment_errors_name_the_variable_and_streaming_is_unsupported() {
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

    let credentials = AwsCredentials::new(ACCESS_KEY, Secret::new(SECRET_KEY), None);
    let client = Bedrock::new("us-east-1", MODEL, credentials).unwrap();
    match client.stream(ChatRequest::user("hi")).await {
        Err(error @ LlmError::Unsupported { .. }) => assert!(!error.is_retryable()),
        Err(other) => panic!("expected unsupported, got {other:?}"),
        Ok(_) => panic!("bedrock streaming is not implemented"),
    }
}
