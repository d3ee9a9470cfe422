//! The `Reliable` layer over the OpenAI-compatible provider and a local
//! server: retries, `Retry-After`, timeouts, the concurrency limit and the
//! token budget. Sleeps between retries go to a recording clock, so no
//! test waits for a backoff.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use kiro_llm::{
    ChatRequest, Clock, LlmClient, LlmError, OpenAiCompatible, Reliable, RetryPolicy, UsageMeter,
};
use serde_json::{json, Value};

use crate::server::{Part, Reply, Server};

/// A clock fixed at a known time that records sleeps and returns at once.
#[derive(Default)]
struct RecordingClock {
    sleeps: Mutex<Vec<Duration>>,
}

/// The recording clock's "now": 2026-01-01T00:00:00Z.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.sleeps.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

fn ok(tokens: u64) -> Reply {
    Reply::json(
        200,
        &json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens / 2, "completion_tokens": tokens - tokens / 2, "total_tokens": tokens}}),
    )
}

fn status(code: u16) -> Reply {
    let kind = if code == 429 {
        "rate_limit_exceeded"
    } else {
        "server_error"
    };
    Reply::json(
        code,
        &json!({"error": {"message": format!("status {code}"), "type": kind, "param": null, "code": null}}),
    )
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(350),
        max_retry_after: Duration::from_secs(60),
    }
}

fn reliable(
    server: &Server,
    retry: RetryPolicy,
) -> (Reliable<OpenAiCompatible>, Arc<RecordingClock>) {
    let clock = Arc::new(RecordingClock::default());
    let provider = OpenAiCompatible::new(&server.base_url, "m").unwrap();
    let client = Reliable::new(provider)
        .provider("openai")
        .retry(retry)
        .timeout(Duration::from_secs(10))
        .clock(clock.clone())
        .jitter_seed(7);
    (client, clock)
}

fn sleeps(clock: &RecordingClock) -> Vec<Duration> {
    clock.sleeps.lock().unwrap().clone()
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let in_five_seconds = httpdate::fmt_http_date(now() + Duration::from_secs(5));
    let cases = [
        ("seconds", "2", Duration::from_secs(2)),
        ("date", in_five_seconds.as_str(), Duration::from_secs(5)),
        (
            "date in the past",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            Duration::ZERO,
        ),
    ];
    for (what, header, expected) in cases {
        let server = Server::start(vec![status(429).header("retry-after", header), ok(10)]).await;
        let (client, clock) = reliable(&server, policy(3));
        let response = client.complete(ChatRequest::user("x")).await.unwrap();
        assert_eq!(response.content, "done", "{what}");
        assert_eq!(sleeps(&clock), [expected], "{what}");
        assert_eq!(server.requests().len(), 2, "{what}");
        assert_eq!(client.usage_meter().requests(), 2, "{what}");
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
    let server = Server::start(vec![status(429).header("retry-after", "3600"), ok(10)]).await;
    let (client, clock) = reliable(&server, policy(3));
    let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Status { status: 429, .. }),
        "{error}"
    );
    assert!(sleeps(&clock).is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_back_off_exponentially_with_full_jitter() {
    let server = Server::start(vec![status(500), status(502), status(503), ok(10)]).await;
    let (client, clock) = reliable(&server, policy(4));
    client.complete(ChatRequest::user("x")).await.unwrap();
    let waited = sleeps(&clock);
    assert_eq!(waited.len(), 3);
    // Caps: 100 ms, 200 ms, then 400 ms limited to max_delay (350 ms).
    for (delay, cap) in waited.iter().zip([100, 200, 350]) {
        assert!(*delay <= Duration::from_millis(cap), "{waited:?}");
    }
    // Full jitter draws, it does not always wait the cap.
    assert_ne!(waited, [100, 200, 350].map(Duration::from_millis));
    // Every attempt sent the same request.
    let bodies: Vec<Value> = server.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_and_name_the_last_error() {
    let server = Server::start(vec![status(503)]).await;
    let (client, clock) = reliable(&server, policy(3));
    let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
    match &error {
        LlmError::RetriesExhausted { attempts, last } => {
            assert_eq!(*attempts, 3);
            assert!(
                matches!(**last, LlmError::Status { status: 503, .. }),
                "{last}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "gave up after 3 attempts: openai answered 503: status 503"
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(sleeps(&clock).len(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for code in [400, 401, 403, 404, 422] {
        let server = Server::start(vec![status(code), ok(10)]).await;
        let (client, clock) = reliable(&server, policy(4));
        let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
        assert!(
            matches!(error, LlmError::Status { status, .. } if status == code),
            "{error}"
        );
        assert_eq!(server.requests().len(), 1, "{code}");
        assert!(sleeps(&clock).is_empty());
    }
}

#[tokio::test]
async fn connection_errors_are_retried() {
    // A port nothing listens on: bind, note it, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let clock = Arc::new(RecordingClock::default());
    let client = Reliable::new(OpenAiCompatible::new(&url, "m").unwrap())
        .retry(policy(2))
        .clock(clock.clone());
    let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
    match &error {
        LlmError::RetriesExhausted { attempts: 2, last } => {
            assert!(matches!(**last, LlmError::Connection { .. }), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sleeps(&clock).len(), 1);
}

#[tokio::test]
async fn slow_responses_time_out_and_are_retried() {
    let server = Server::start(vec![ok(10).delay(Duration::from_secs(3)), ok(10)]).await;
    let (client, _) = reliable(&server, policy(2));
    let client = client.timeout(Duration::from_millis(200));
    let response = client.complete(ChatRequest::user("x")).await.unwrap();
    assert_eq!(response.content, "done");
    assert_eq!(server.requests().len(), 2);

    let server = Server::start(vec![ok(10).delay(Duration::from_secs(3))]).await;
    let (client, _) = reliable(&server, RetryPolicy::none());
    let client = client.timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = client.complete(ChatRequest::user("x")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(error.to_string(), "openai did not answer within 200ms");
}

#[tokio::test]
async fn a_stalled_stream_times_out_between_chunks() {
    let event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n";
    let reply = Reply::sse(vec![
        Part::Bytes(event.as_bytes().to_vec()),
        Part::Pause(Duration::from_secs(3)),
        Part::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]);
    let server = Server::start(vec![reply]).await;
    let (client, _) = reliable(&server, RetryPolicy::none());
    let client = client.timeout(Duration::from_millis(300));
    let mut stream = client.stream(ChatRequest::user("x")).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(error, LlmError::Timeout { .. }), "{error}");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn streams_are_retried_until_they_start_and_count_usage() {
    let events = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n\
                  data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\n\
                  data: [DONE]\n\n";
    let server = Server::start(vec![
        status(429).header("retry-after", "1"),
        Reply::sse(vec![Part::Bytes(events.as_bytes().to_vec())]),
    ])
    .await;
    let (client, clock) = reliable(&server, policy(3));
    let response = kiro_llm::collect_stream(client.stream(ChatRequest::user("x")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(response.content, "hi");
    assert_eq!(sleeps(&clock), [Duration::from_secs(1)]);
    assert_eq!(client.usage_meter().total().total(), 6);
}

#[tokio::test]
async fn concurrency_is_limited() {
    let server = Server::start(vec![ok(2).delay(Duration::from_millis(150))]).await;
    let (client, _) = reliable(&server, RetryPolicy::none());
    let client = client.max_concurrency(2);
    let calls = (0..6).map(|_| {
        let client = client.clone();
        async move { client.complete(ChatRequest::user("x")).await }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.requests().len(), 6);
    assert_eq!(server.max_in_flight(), 2);
}

#[tokio::test]
async fn the_budget_is_shared_and_stops_further_requests() {
    let server = Server::start(vec![ok(20)]).await;
    let meter = UsageMeter::with_budget(30);
    let (first, _) = reliable(&server, policy(3));
    let (second, _) = reliable(&server, policy(3));
    let (first, second) = (first.meter(meter.clone()), second.meter(meter.clone()));
    first.complete(ChatRequest::user("x")).await.unwrap();
    second.complete(ChatRequest::user("x")).await.unwrap();
    let error = first.complete(ChatRequest::user("x")).await.unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::BudgetExceeded {
                used: 40,
                budget: 30
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "token budget exhausted: 40 of 30 tokens used"
    );
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 2);
    assert_eq!(meter.total().total(), 40);
}

#[tokio::test]
async fn connect_builds_the_layered_client_from_config() {
    let server = Server::start(vec![status(500), ok(8)]).await;
    let config = kiro_llm::LlmConfig::builder(kiro_llm::Provider::Ollama, "qwen3")
        .base_url(&server.base_url)
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(1),
            ..policy(2)
        })
        .token_budget(100)
        .build()
        .unwrap();
    let client = kiro_llm::connect(&config).unwrap();
    let response = client.complete(ChatRequest::user("x")).await.unwrap();
    assert_eq!(response.usage.total(), 8);
    assert_eq!(server.requests()[1].body["model"], json!("qwen3"));
    // Anthropic and Bedrock are built too (their own modules test them);
    // Anthropic without a key is refused.
    let config = kiro_llm::LlmConfig::builder(kiro_llm::Provider::Anthropic, "m")
        .base_url("http://h")
        .build()
        .unwrap();
    assert!(matches!(
        kiro_llm::connect(&config).err(),
        Some(LlmError::MissingApiKey { .. })
    ));
}
