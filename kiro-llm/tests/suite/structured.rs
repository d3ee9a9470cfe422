//! Structured output against the local OpenAI-compatible server: native
//! schema mode and forced tool calls, lenient reading, the repair loop and
//! the error after it.

use kiro_llm::{
    ChatRequest, LlmError, Message, OpenAiCompatible, SchemaMode, StructuredExt, StructuredOptions,
    ToolChoice,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::{Reply, Server};

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Task {
    title: String,
    /// Hours, at least one.
    #[schemars(range(min = 1))]
    hours: u32,
    note: Option<String>,
}

fn client(server: &Server) -> OpenAiCompatible {
    OpenAiCompatible::new(&server.base_url, "gpt-4o-mini").unwrap()
}

fn text_completion(content: &str) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-s", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
        }),
    )
}

fn tool_completion(id: &str, name: &str, arguments: &str) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-t", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
        }),
    )
}

fn task() -> Task {
    Task {
        title: "Write the parser".into(),
        hours: 3,
        note: None,
    }
}

#[tokio::test]
async fn native_mode_sends_a_strict_schema_and_reads_plain_fenced_or_prefixed_json() {
    for content in [
        r#"{"title": "Write the parser", "hours": 3, "note": null}"#,
        "```json\n{\"title\": \"Write the parser\", \"hours\": 3}\n```",
        "Here is the task:\n{\"title\": \"Write the parser\", \"hours\": 3} Let me know!",
    ] {
        let server = Server::start(vec![text_completion(content)]).await;
        let done = client(&server)
            .structured_with::<Task>(
                ChatRequest::user("Plan one task"),
                &StructuredOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(done.value, task(), "{content}");
        assert_eq!(done.attempts, 1);
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        // The provider sees OpenAI's strict subset: closed, every property
        // required, the optional one nullable, no range keyword.
        assert_eq!(
            requests[0].body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "Task", "strict": true, "schema": {
                "title": "Task", "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "hours": {"description": "Hours, at least one.", "type": "integer"},
                    "note": {"type": ["string", "null"]}
                },
                "required": ["hours", "note", "title"],
                "additionalProperties": false
            }}}),
            "{content}"
        );
        assert!(requests[0].body.get("tools").is_none());
    }
}

#[tokio::test]
async fn repair_succeeds_on_the_second_attempt_with_the_errors_sent_back() {
    // `hours: 0` is below the minimum kept out of the provider's schema but
    // checked here; the model fixes it when told.
    let first = r#"{"title": "Write the parser", "hours": 0}"#;
    let server = Server::start(vec![
        text_completion(first),
        text_completion(r#"{"title": "Write the parser", "hours": 3}"#),
    ])
    .await;
    let done = client(&server)
        .structured_with::<Task>(
            ChatRequest::user("Plan one task").system("Be precise."),
            &StructuredOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(done.value, task());
    assert_eq!(done.attempts, 2);
    assert_eq!(done.usage.total(), 60);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "Be precise."})
    );
    assert_eq!(
        messages[1],
        json!({"role": "user", "content": "Plan one task"})
    );
    assert_eq!(messages[2], json!({"role": "assistant", "content": first}));
    assert_eq!(messages[3]["role"], "user");
    let feedback = messages[3]["content"].as_str().unwrap();
    assert!(
        feedback.contains("at /hours: 0 is less than the minimum of 1"),
        "{feedback}"
    );
    // The repair request still asks for the schema.
    assert_eq!(
        requests[1].body["response_format"],
        requests[0].body["response_format"]
    );
}

#[tokio::test]
async fn gives_up_after_the_configured_repairs_with_the_last_output() {
    let server = Server::start(vec![
        text_completion("I cannot do that."),
        text_completion(r#"{"title": 7}"#),
    ])
    .await;
    let err = client(&server)
        .structured_with::<Task>(
            ChatRequest::user("Plan one task"),
            &StructuredOptions::default().max_repairs(1),
        )
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 2);
    let LlmError::InvalidOutput {
        target,
        attempts,
        raw,
        errors,
    } = &err
    else {
        panic!("expected InvalidOutput, got {err:?}");
    };
    assert!(target.ends_with("Task"), "{target}");
    assert_eq!(*attempts, 2);
    assert_eq!(raw, r#"{"title": 7}"#);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/title") && e.contains("not of type \"string\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"hours\" is a required property")),
        "{errors:?}"
    );
    assert!(err.to_string().contains("after 2 attempts"), "{err}");

    // The first reply was not JSON at all: that error went back as well.
    let feedback = server.requests()[1].body["messages"][2]["content"].clone();
    assert!(
        feedback.as_str().unwrap().contains("not JSON"),
        "{feedback}"
    );

    // No repair at all: one request.
    let server = Server::start(vec![text_completion("nope")]).await;
    let err = client(&server)
        .structured_with::<Task>(
            ChatRequest::user("Plan one task"),
            &StructuredOptions::default().max_repairs(0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::InvalidOutput { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn tool_call_mode_forces_the_tool_and_answers_the_call_with_the_errors() {
    let server = Server::start(vec![
        tool_completion("call_1", "Task", r#"{"title": "Write the parser"}"#),
        tool_completion(
            "call_2",
            "Task",
            r#"{"title": "Write the parser", "hours": 3, "note": null}"#,
        ),
    ])
    .await;
    let done = client(&server)
        .structured_with::<Task>(
            ChatRequest::user("Plan one task"),
            &StructuredOptions::default().mode(SchemaMode::ToolCall),
        )
        .await
        .unwrap();
    assert_eq!(done.value, task());
    assert_eq!(done.attempts, 2);

    let requests = server.requests();
    let body = &requests[0].body;
    assert!(body.get("response_format").is_none());
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "Task"}})
    );
    assert_eq!(body["tools"][0]["function"]["name"], "Task");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["additionalProperties"],
        false
    );
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[1]["tool_calls"][0]["id"], "call_1");
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], "call_1");
    let feedback = messages[2]["content"].as_str().unwrap();
    assert!(
        feedback.contains("\"hours\" is a required property"),
        "{feedback}"
    );
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Step {
    name: String,
}

#[tokio::test]
async fn a_non_object_type_travels_wrapped_in_tool_arguments() {
    let server = Server::start(vec![tool_completion(
        "call_1",
        "steps",
        r#"{"value": [{"name": "a"}, {"name": "b"}]}"#,
    )])
    .await;
    let steps: Vec<Step> = client(&server)
        .structured_with::<Vec<Step>>(
            ChatRequest::user("List the steps"),
            &StructuredOptions::default()
                .mode(SchemaMode::ToolCall)
                .name("steps"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(
        steps,
        vec![Step { name: "a".into() }, Step { name: "b".into() }]
    );
    let parameters = &server.requests()[0].body["tools"][0]["function"]["parameters"];
    assert_eq!(parameters["required"], json!(["value"]));
    assert_eq!(parameters["properties"]["value"]["type"], "array");
    // The definitions stay at the root, where `$ref` points.
    assert_eq!(
        parameters["properties"]["value"]["items"],
        json!({"$ref": "#/$defs/Step"})
    );
    assert!(parameters["$defs"]["Step"].is_object());
}

#[tokio::test]
async fn auto_mode_follows_the_client_capability() {
    // A client without native schema support: the default trait answer.
    struct Scripted(std::sync::Mutex<Vec<ChatRequest>>);

    #[async_trait::async_trait]
    impl kiro_llm::LlmClient for Scripted {
        async fn complete(&self, request: ChatRequest) -> kiro_llm::Result<kiro_llm::ChatResponse> {
            self.0.lock().unwrap().push(request);
            Ok(kiro_llm::ChatResponse {
                tool_calls: vec![kiro_llm::ToolCall {
                    id: "c".into(),
                    name: "Step".into(),
                    // Fenced JSON inside tool arguments is read too.
                    arguments: Value::String("```json\n{\"name\": \"x\"}\n```".into()),
                }],
                ..kiro_llm::ChatResponse::default()
            })
        }

        async fn stream(&self, request: ChatRequest) -> kiro_llm::Result<kiro_llm::ChatStream> {
            kiro_llm::stream_from_complete(self, request).await
        }
    }

    let scripted = Scripted(std::sync::Mutex::new(Vec::new()));
    let step: Step = scripted
        .structured(ChatRequest::user("one step"))
        .await
        .unwrap();
    assert_eq!(step, Step { name: "x".into() });
    let sent = scripted.0.lock().unwrap().clone();
    assert_eq!(sent[0].tool_choice, ToolChoice::Tool("Step".into()));
    assert!(sent[0].response_schema.is_none());
    assert_eq!(sent[0].messages, vec![Message::user("one step")]);

    // The OpenAI-compatible client has it: native mode.
    let server = Server::start(vec![text_completion(r#"{"name": "y"}"#)]).await;
    let step: Step = client(&server)
        .structured(ChatRequest::user("one step"))
        .await
        .unwrap();
    assert_eq!(step, Step { name: "y".into() });
    assert!(server.requests()[0].body.get("response_format").is_some());
}
