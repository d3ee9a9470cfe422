//! MCP tool-call round trip over stdio: spawns `kiro mcp` on a workspace
//! with one spec of 200 tasks, initializes, then times N `tools/call`s of a
//! cheap tool (`list_specs`) and of `next_tasks` (loads the spec, builds
//! the plan, renders the briefs), one at a time, request written to
//! answer read, and prints p50 and p99.
//!
//! ```text
//! cargo bench -p kiro-cli --bench mcp_roundtrip          # N = 500
//! KIRO_BENCH_CALLS=2000 cargo bench -p kiro-cli --bench mcp_roundtrip
//! ```
// A benchmark asserts by unwrapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TASKS: usize = 200;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(".kiro/specs/bench");
    std::fs::create_dir_all(&spec).unwrap();
    let mut requirements = String::from("# Requirements Document\n\n## Requirements\n\n");
    let mut tasks = String::from("# Implementation Plan\n\n");
    for i in 1..=TASKS {
        requirements.push_str(&format!(
            "### Requirement {i}: Part {i}\n\n#### Acceptance Criteria\n\n\
             1. WHEN part {i} runs, THE App SHALL finish part {i}\n\n"
        ));
        tasks.push_str(&format!(
            "- [ ] {i}. Build part {i}\n  - Write the code of part {i}\n  - _Requirements: {i}.1_\n"
        ));
    }
    std::fs::write(spec.join("requirements.md"), requirements).unwrap();
    std::fs::write(spec.join("tasks.md"), tasks).unwrap();
    dir
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let calls: usize = std::env::var("KIRO_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let ws = workspace();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiro"))
        .arg("mcp")
        .current_dir(ws.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |message: Value| {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    };
    let mut id = 0u64;
    let mut call = |method: &str, params: Value| -> Value {
        if method.starts_with("notifications/") {
            // A notification has no id and no reply.
            send(json!({ "jsonrpc": "2.0", "method": method }));
            return Value::Null;
        }
        id += 1;
        send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "kiro mcp closed stdout"
            );
            let reply: Value = serde_json::from_str(&line).unwrap();
            if reply["id"] == json!(id) {
                assert!(reply.get("error").is_none(), "{reply}");
                return reply;
            }
        }
    };
    call(
        "initialize",
        json!({ "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": { "name": "bench", "version": "1" } }),
    );
    call("notifications/initialized", Value::Null);
    let mut rows = Vec::new();
    for (tool, args) in [
        ("list_specs", json!({})),
        ("next_tasks", json!({ "spec": "bench" })),
    ] {
        // Warm-up: the first calls pay for page faults and lazy setup.
        for _ in 0..10 {
            call("tools/call", json!({ "name": tool, "arguments": args }));
        }
        let mut times = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            let reply = call("tools/call", json!({ "name": tool, "arguments": args }));
            times.push(started.elapsed());
            assert_ne!(reply["result"]["isError"], json!(true), "{reply}");
        }
        times.sort();
        rows.push((tool, percentile(&times, 0.50), percentile(&times, 0.99)));
    }

    let _ = child.kill();
    let _ = child.wait();

    println!("MCP tools/call round trip over stdio ({calls} calls each, spec of {TASKS} tasks)");
    println!("| tool | p50 | p99 |");
    println!("|---|---:|---:|");
    for (tool, p50, p99) in rows {
        println!(
            "| {tool} | {:.3} ms | {:.3} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}
