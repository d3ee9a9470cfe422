//! The response cache: record against the local server, replay with the
//! server gone, stable hashes, typed misses and corrupt entries.

use std::collections::HashMap;
use std::path::Path;

use futures_util::StreamExt;
use kiro_core::config::Config;
use kiro_llm::cache::{request_hash, CacheConfig, CacheMode, CachedClient, ReplyKind};
use kiro_llm::{
    ChatChunk, ChatRequest, LlmClient, LlmError, Message, OpenAiCompatible, Secret, ToolSpec,
};
use serde_json::{json, Value};

use crate::server::{Part, Reply, Server};

const KEY: &str = "sk-cache-test-secret-42";

fn cached(base_url: &str, dir: &Path, mode: CacheMode) -> CachedClient<OpenAiCompatible> {
    let inner = OpenAiCompatible::new(base_url, "gpt-4o-mini")
        .unwrap()
        .api_key(Secret::new(KEY));
    let config = CacheConfig::builder("unused").dir(dir).mode(mode).build();
    CachedClient::new(inner, "openai", "gpt-4o-mini", config)
}

fn completion(content: &str) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-c", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        }),
    )
}

/// OpenAI's stream of a short text reply, usage and `[DONE]`.
fn stream_reply(done: bool) -> Reply {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1741569952,
               "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut text = String::new();
    for event in [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Bon"}), Value::Null),
        chunk(json!({"content": "jour"}), Value::Null),
        chunk(json!({}), json!("stop")),
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1741569952,
               "model": "gpt-4o-mini", "choices": [],
               "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}}),
    ] {
        text.push_str(&format!("data: {event}\n\n"));
    }
    if done {
        text.push_str("data: [DONE]\n\n");
    }
    Reply::sse(vec![Part::Bytes(text.into_bytes())])
}

async fn chunks(client: &dyn LlmClient, request: ChatRequest) -> Vec<ChatChunk> {
    let mut stream = client.stream(request).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.push(chunk.unwrap());
    }
    out
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_recorded_session_replays_byte_for_byte_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let complete_request = ChatRequest::user("Say hi").temperature(0.0);
    let stream_request = ChatRequest::user("Say hi in French");

    let server = Server::start(vec![completion("Hi!"), stream_reply(true)]).await;
    let base_url = server.base_url.clone();
    let recorder = cached(&base_url, dir.path(), CacheMode::ReadWrite);
    let recorded = recorder.complete(complete_request.clone()).await.unwrap();
    let recorded_chunks = chunks(&recorder, stream_request.clone()).await;
    assert_eq!(recorded.content, "Hi!");
    assert_eq!(recorded_chunks.len(), 4, "{recorded_chunks:?}");
    // Read-write serves a recorded request from the cache.
    assert_eq!(
        recorder.complete(complete_request.clone()).await.unwrap(),
        recorded
    );
    assert_eq!(server.requests().len(), 2);

    // The entries are human-readable JSON holding the request beside the
    // reply, named by the hash.
    let complete_hash = recorder.hash(ReplyKind::Complete, &complete_request);
    let stream_hash = recorder.hash(ReplyKind::Stream, &stream_request);
    let mut expected = vec![
        format!("{complete_hash}.json"),
        format!("{stream_hash}.json"),
    ];
    expected.sort();
    assert_eq!(entries(dir.path()), expected);
    let text = std::fs::read_to_string(recorder.entry_path(&complete_hash)).unwrap();
    assert!(text.contains("\n  \"request\": {"), "{text}");
    let entry: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(entry["response"]["content"], "Hi!");
    assert_eq!(entry["request"]["messages"][0]["content"], "Say hi");
    assert!(!text.contains(KEY));

    drop(server);
    let replayer = cached(&base_url, dir.path(), CacheMode::ReplayOnly);
    let replayed = replayer.complete(complete_request).await.unwrap();
    let replayed_chunks = chunks(&replayer, stream_request).await;
    assert_eq!(
        serde_json::to_string(&replayed).unwrap(),
        serde_json::to_string(&recorded).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&replayed_chunks).unwrap(),
        serde_json::to_string(&recorded_chunks).unwrap()
    );
    // Nothing reached the (stopped) provider: in off mode it fails.
    let off = cached(&base_url, dir.path(), CacheMode::Off);
    let err = off.complete(ChatRequest::user("Say hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::Connection { .. }), "{err:?}");
}

#[tokio::test]
async fn a_miss_in_replay_only_names_the_request_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![completion("never")]).await;
    let client = cached(&server.base_url, dir.path(), CacheMode::ReplayOnly);
    let request = ChatRequest::user("Plan the   parser\nwith tests").system("s");
    let err = client.complete(request.clone()).await.unwrap_err();
    let LlmError::CacheMiss { hash, summary } = &err else {
        panic!("expected CacheMiss, got {err:?}");
    };
    assert_eq!(*hash, client.hash(ReplyKind::Complete, &request));
    assert_eq!(
        summary,
        "openai gpt-4o-mini, 1 messages, last: \"Plan the parser with tests\""
    );
    assert!(err.to_string().contains(hash.as_str()), "{err}");
    let err = client.stream(request).await.err().unwrap();
    assert!(matches!(err, LlmError::CacheMiss { .. }), "{err:?}");
    assert!(server.requests().is_empty());
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn a_broken_stream_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![stream_reply(false)]).await;
    let client = cached(&server.base_url, dir.path(), CacheMode::ReadWrite);
    let mut stream = client.stream(ChatRequest::user("hi")).await.unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    assert!(
        matches!(last, Some(Err(LlmError::StreamDropped { .. }))),
        "{last:?}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn the_hash_ignores_key_order_and_is_stable_across_runs() {
    let tool = |parameters: &str| ToolSpec {
        name: "search".into(),
        description: "Search the code".into(),
        parameters: serde_json::from_str(parameters).unwrap(),
    };
    let request = |parameters: &str| {
        ChatRequest::user("Find the parser")
            .system("Be brief")
            .tool(tool(parameters))
            .temperature(0.5)
    };
    let a = request(
        r#"{"type": "object", "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["q"]}"#,
    );
    let b = request(
        r#"{"required": ["q"], "properties": {"limit": {"type": "integer"}, "q": {"type": "string"}}, "type": "object"}"#,
    );
    let hash = |r: &ChatRequest| request_hash("openai", "gpt-4o-mini", ReplyKind::Complete, r);
    assert_eq!(hash(&a), hash(&b));
    // Pinned: a change to the key's format must be deliberate (it orphans
    // every recording). The value is what Python's
    // `json.dumps(key, sort_keys=True, separators=(",", ":"))` hashes to,
    // so another implementation can find the entries too.
    assert_eq!(
        hash(&a),
        "869c40f5dfabd586f41b2eb849ccb3be6d19e911206b85d31670c4e0156cde7b"
    );
    for changed in [
        a.clone().temperature(0.7),
        a.clone().message(Message::user("more")),
        a.clone().system("Be long"),
        a.clone().max_tokens(10),
        request(r#"{"type": "object"}"#),
    ] {
        assert_ne!(hash(&changed), hash(&a), "{changed:?}");
    }
    assert_ne!(
        request_hash("ollama", "gpt-4o-mini", ReplyKind::Complete, &a),
        hash(&a)
    );
}

#[tokio::test]
async fn a_corrupt_entry_is_an_error_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![completion("fresh")]).await;
    let request = ChatRequest::user("hi");
    for mode in [CacheMode::ReadWrite, CacheMode::ReplayOnly] {
        let client = cached(&server.base_url, dir.path(), mode);
        let path = client.entry_path(&client.hash(ReplyKind::Complete, &request));
        for (bad, says) in [
            ("{\"version\": 1, \"hash\": ", "is not a cache entry"),
            ("[]", "is not a cache entry"),
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = client.complete(request.clone()).await.unwrap_err();
            let LlmError::Cache {
                path: named,
                message,
            } = &err
            else {
                panic!("expected Cache, got {err:?}");
            };
            assert_eq!(named, &path);
            assert!(message.contains(says), "{message}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
        // An entry moved to another request's name is caught too.
        let other = client.hash(ReplyKind::Complete, &ChatRequest::user("other"));
        let entry = json!({"version": 1, "hash": other, "kind": "complete", "provider": "openai",
                           "model": "gpt-4o-mini", "request": request, "response": {"content": "x",
                           "tool_calls": [], "finish_reason": "stop", "usage": {"input_tokens": 0, "output_tokens": 0}}});
        std::fs::write(&path, entry.to_string()).unwrap();
        let err = client.complete(request.clone()).await.unwrap_err();
        assert!(
            matches!(&err, LlmError::Cache { message, .. } if message.contains(&other)),
            "{err:?}"
        );
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn concurrent_writers_of_one_entry_leave_one_whole_entry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![completion("same")]).await;
    let client = std::sync::Arc::new(cached(&server.base_url, dir.path(), CacheMode::ReadWrite));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = std::sync::Arc::clone(&client);
        tasks.push(tokio::spawn(async move {
            client.complete(ChatRequest::user("race")).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().content, "same");
    }
    let hash = client.hash(ReplyKind::Complete, &ChatRequest::user("race"));
    // No temporary file is left behind, and the entry reads back.
    assert_eq!(entries(dir.path()), vec![format!("{hash}.json")]);
    let replay = cached(&server.base_url, dir.path(), CacheMode::ReplayOnly);
    assert_eq!(
        replay
            .complete(ChatRequest::user("race"))
            .await
            .unwrap()
            .content,
        "same"
    );
}

#[test]
fn config_from_llm_section_and_environment_and_no_key_in_debug() {
    let root = Path::new("/ws");
    let section = |text: &str| Config::parse(text, ".kiro/config.toml").unwrap().llm;
    let env = |value: Option<&str>| -> HashMap<String, String> {
        value
            .map(|v| HashMap::from([("KIRO_LLM_CACHE".to_string(), v.to_string())]))
            .unwrap_or_default()
    };
    let cases = [
        ("", None, CacheMode::Off, "/ws/.kiro/llm-cache"),
        (
            "[llm]\ncache = \"read-write\"\n",
            None,
            CacheMode::ReadWrite,
            "/ws/.kiro/llm-cache",
        ),
        (
            "[llm]\ncache = \"read-write\"\ncache_dir = \"ci/rec\"\n",
            Some("Replay-Only"),
            CacheMode::ReplayOnly,
            "/ws/ci/rec",
        ),
        (
            "[llm]\ncache = \"replay-only\"\n",
            Some("off"),
            CacheMode::Off,
            "/ws/.kiro/llm-cache",
        ),
        ("", Some(" "), CacheMode::Off, "/ws/.kiro/llm-cache"),
    ];
    for (text, var, mode, dir) in cases {
        let config = CacheConfig::resolve(&section(text), root, &env(var)).unwrap();
        assert_eq!(
            (config.mode, config.dir.as_path()),
            (mode, Path::new(dir)),
            "{text} {var:?}"
        );
    }
    let err = CacheConfig::resolve(&section(""), root, &env(Some("replay"))).unwrap_err();
    assert!(
        matches!(&err, LlmError::Config { setting, .. } if setting == "KIRO_LLM_CACHE"),
        "{err:?}"
    );

    let client = cached(
        "http://127.0.0.1:9/v1",
        Path::new("/tmp/x"),
        CacheMode::ReadWrite,
    );
    let debug = format!("{client:?}");
    assert!(debug.contains("CachedClient"), "{debug}");
    assert!(!debug.contains(KEY), "{debug}");
}
