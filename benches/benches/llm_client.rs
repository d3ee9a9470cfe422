//! LLM client overhead per request, kiro-llm beside `async-openai`, on the
//! same local server in the same process.
//!
//! The server is a minimal HTTP/1.1 server on 127.0.0.1 (tokio, keep-alive,
//! `TCP_NODELAY`) that reads each request whole and answers one fixed
//! OpenAI chat completion, so what is measured is the client's own cost:
//! building and serialising the request, the HTTP exchange through its
//! connection pool, reading and deserialising the reply. Clients:
//! - `kiro_raw`: [`OpenAiCompatible`] alone;
//! - `kiro_reliable`: what [`kiro_llm::connect`] returns for an `openai`
//!   config (the same client inside `Reliable`: retry policy, concurrency
//!   limit set to 64 so that it does not cap the load, per-request timeout,
//!   usage meter);
//! - `async_openai`: `async_openai::Client::with_config(OpenAIConfig::new()
//!   .with_api_base(..))`, `chat().create(..)` (its default backoff on).
//!
//! One measured iteration is one request; at concurrency C, C tokio tasks
//! share the iterations, so criterion's throughput (elements/s) is requests
//! per second. Each client's reply is checked once before measuring.
//!
//! Run: `cargo bench -p kiro-benches --bench llm_client -- --warm-up-time 1 --measurement-time 3`,
//! or `KIRO_LLM_BENCH_ROUNDS=15 cargo bench -p kiro-benches --bench llm_client`
//! for interleaved rounds (see [`rounds`]).
#![allow(missing_docs)] // criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A broken setup should stop the benchmark loudly.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use kiro_llm::{ChatRequest, LlmClient, LlmConfig, OpenAiCompatible, Provider, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const MODEL: &str = "gpt-4o-mini";
const PROMPT: &str = "Say hello in five words.";
const REPLY: &str = "Hello there, how are you?";
const KEY: &str = "sk-bench-0123456789";

/// The server's one answer: a chat completion as OpenAI sends it.
fn completion() -> String {
    serde_json::json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1_741_569_952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": REPLY, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
    .to_string()
}

/// Starts the server; its OpenAI-style base URL (ending in `/v1`).
async fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = completion();
    let response: Arc<[u8]> = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
    .into();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            tokio::spawn(connection(socket, Arc::clone(&response)));
        }
    });
    format!("http://{addr}/v1")
}

/// Answers every request on one kept-alive connection.
async fn connection(mut socket: TcpStream, response: Arc<[u8]>) {
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = std::str::from_utf8(&buffer[..head_end]).unwrap();
        let length: usize = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, value)| value.trim().parse().unwrap());
        while buffer.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

type Call = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn kiro_call(client: Arc<dyn LlmClient>) -> Call {
    let request = ChatRequest::user(PROMPT).max_tokens(16);
    Arc::new(move || {
        let (client, request) = (Arc::clone(&client), request.clone());
        Box::pin(async move {
            let reply = client.complete(request).await.unwrap();
            assert_eq!(reply.content.len(), REPLY.len());
        })
    })
}

fn async_openai_call(client: async_openai::Client<OpenAIConfig>) -> Call {
    let client = Arc::new(client);
    let request: CreateChatCompletionRequest = CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .max_tokens(16u32)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content(PROMPT)
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap();
    Arc::new(move || {
        let (client, request) = (Arc::clone(&client), request.clone());
        Box::pin(async move {
            let reply = client.chat().create(request).await.unwrap();
            let content = reply.choices[0].message.content.as_deref().unwrap();
            assert_eq!(content.len(), REPLY.len());
        })
    })
}

/// `iters` requests by `concurrency` tasks; the time they took.
async fn drive(call: &Call, iters: u64, concurrency: usize) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let workers = usize::try_from(iters).map_or(concurrency, |n| n.min(concurrency));
    for _ in 0..workers {
        let (call, next) = (Arc::clone(call), Arc::clone(&next));
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < iters {
                call().await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

/// The three clients at the server, each reply checked once.
fn clients(runtime: &Runtime) -> [(&'static str, Call); 3] {
    let base_url = runtime.block_on(start_server());
    let raw: Arc<dyn LlmClient> = Arc::new(
        OpenAiCompatible::new(&base_url, MODEL)
            .unwrap()
            .api_key(Secret::new(KEY)),
    );
    let config = LlmConfig::builder(Provider::Openai, MODEL)
        .base_url(base_url.clone())
        .api_key(Secret::new(KEY))
        .max_concurrency(64)
        .build()
        .unwrap();
    let reliable = kiro_llm::connect(&config).unwrap();
    let openai = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(KEY),
    );
    let clients = [
        ("kiro_raw", kiro_call(raw)),
        ("kiro_reliable", kiro_call(reliable)),
        ("async_openai", async_openai_call(openai)),
    ];
    for (_, call) in &clients {
        runtime.block_on(call());
    }
    clients
}

const CONCURRENCY: [usize; 2] = [1, 64];

fn llm_client(c: &mut Criterion) {
    // The multi-threaded runtime an application would use; the server runs
    // on it too, as a local model server would share the machine.
    let runtime = Runtime::new().unwrap();
    let clients = clients(&runtime);
    for concurrency in CONCURRENCY {
        let mut group = c.benchmark_group(format!("llm_client/concurrency_{concurrency}"));
        group.throughput(Throughput::Elements(1));
        for (name, call) in &clients {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| runtime.block_on(drive(call, iters, concurrency)));
            });
        }
        group.finish();
    }
}

/// Interleaved rounds, for a machine shared with other work, where two
/// criterion runs minutes apart differ by more than the clients do: each
/// round measures every client once (`requests` requests, the order
/// rotated each round), so load that comes and goes hits all of them alike;
/// the medians of requests/s and of each round's ratio to `async_openai`
/// are printed.
fn rounds(rounds: usize, requests: u64) {
    let runtime = Runtime::new().unwrap();
    let clients = clients(&runtime);
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    for concurrency in CONCURRENCY {
        for (_, call) in &clients {
            runtime.block_on(drive(call, requests / 4, concurrency));
        }
        let mut rates = vec![Vec::new(); clients.len()];
        let mut ratios = vec![Vec::new(); clients.len()];
        for round in 0..rounds {
            let mut rate = vec![0.0; clients.len()];
            for k in 0..clients.len() {
                let i = (round + k) % clients.len();
                let took = runtime.block_on(drive(&clients[i].1, requests, concurrency));
                rate[i] = requests as f64 / took.as_secs_f64();
            }
            let baseline = rate[clients.len() - 1];
            for i in 0..clients.len() {
                rates[i].push(rate[i]);
                ratios[i].push(rate[i] / baseline);
            }
        }
        for (i, (name, _)) in clients.iter().enumerate() {
            println!(
                "concurrency {concurrency:>2}  {name:<14} median {:>8.0} req/s  ratio to async_openai {:.3}",
                median(&mut rates[i]),
                median(&mut ratios[i])
            );
        }
    }
}

criterion_group!(benches, llm_client);

fn main() {
    // `KIRO_LLM_BENCH_ROUNDS=15` (optionally `KIRO_LLM_BENCH_REQUESTS`,
    // default 3000) runs the interleaved comparison instead of criterion.
    if let Ok(n) = std::env::var("KIRO_LLM_BENCH_ROUNDS") {
        let requests =
            std::env::var("KIRO_LLM_BENCH_REQUESTS").map_or(3000, |r| r.parse().unwrap());
        rounds(n.parse().unwrap(), requests);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
