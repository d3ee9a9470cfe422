//! `kiro mcp` driven by three clients: rmcp's own client over stdio, a
//! hand-written newline-delimited JSON-RPC client over stdio, and plain
//! HTTP requests against the streamable HTTP transport.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Value};

use crate::common::{expect_code, kiro_cmd, stdout};

const REQUIREMENTS: &str = "# Requirements Document\n\n## Requirements\n\n\
### Requirement 1: Notes\n\n#### Acceptance Criteria\n\n\
1. WHEN a user saves a note, THE App SHALL store it\n\
2. WHEN a user deletes a note, THE App SHALL remove it\n";

const TASKS: &str = "# Implementation Plan\n\n\
- [ ] 1. Store notes\n  - [ ] 1.1 Write the model\n    - _Requirements: 1.1_\n  \
- [ ] 1.2 Save notes\n    - _Requirements: 1.1_\n\
- [ ] 2. Delete notes\n  - _Requirements: 1.2_\n";

/// A workspace after `kiro init` with spec `notes`, a test annotated for
/// 1.1, and a verifier that reports it passing.
pub(crate) fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    expect_code(&kiro_cmd(dir.path(), &["init"]).output().unwrap(), 0);
    let spec = dir.path().join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("requirements.md"), REQUIREMENTS).unwrap();
    std::fs::write(spec.join("tasks.md"), TASKS).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/notes.rs"),
        "// Validates: Requirements 1.1\n#[test]\nfn stores_a_note() {}\n",
    )
    .unwrap();
    let junit = "<testsuites><testsuite name=\"all\" tests=\"1\">\
                 <testcase name=\"stores_a_note\" classname=\"tests::notes\"/>\
                 </testsuite></testsuites>";
    let script = serde_json::to_string(&format!("printf '%s' '{junit}' > junit.xml")).unwrap();
    let config = dir.path().join(".kiro/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    if let Some(at) = text.find("\n[verifier]") {
        text.truncate(at);
    }
    text.push_str(&format!(
        "\n[verifier]\ncommand = [\"sh\", \"-c\", {script}]\njunit = \"junit.xml\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    dir
}

fn arguments(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn structured(result: &CallToolResult) -> &Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_runs_a_spec_to_completion() {
    let ws = workspace();
    let root = ws.path().to_owned();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kiro")).configure(|cmd| {
        cmd.arg("mcp").current_dir(&root).env("KIRO_ACTOR", "agent");
    });
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();

    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    for name in [
        "list_specs",
        "show_spec",
        "lint_spec",
        "next_tasks",
        "start_task",
        "complete_task",
        "trace",
        "verify",
        "add_memory",
    ] {
        assert!(tools.contains(&name.to_owned()), "{name} in {tools:?}");
    }
    // No memory store yet: recall is not offered.
    assert!(!tools.contains(&"recall_memory".to_owned()));

    let call = |name: &'static str, args: Value| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(arguments(args)))
                .await
                .unwrap()
        }
    };

    // The agent loop: take the first ready task, start it, write code,
    // complete it, until nothing is ready.
    let mut order = Vec::new();
    loop {
        let next = call("next_tasks", json!({ "spec": "notes", "limit": 1 })).await;
        let tasks = structured(&next)["tasks"].as_array().unwrap().clone();
        let Some(task) = tasks.first() else { break };
        let id = task["id"].as_str().unwrap().to_owned();
        assert!(task["brief"]
            .as_str()
            .unwrap()
            .contains(&format!("# Task {id}")));
        let started = call("start_task", json!({ "spec": "notes", "task": id })).await;
        assert_eq!(structured(&started)["task"]["status"], "in_progress");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join(format!("src/task_{id}.rs")), format!("// {id}\n")).unwrap();
        let done = call(
            "complete_task",
            json!({ "spec": "notes", "task": id, "summary": format!("did {id}") }),
        )
        .await;
        let files = structured(&done)["files"].as_array().unwrap().clone();
        assert!(
            files.contains(&json!(format!("src/task_{id}.rs"))),
            "{files:?}"
        );
        order.push(id);
        assert!(order.len() < 10, "the loop does not end: {order:?}");
    }
    assert_eq!(order, ["1.1", "1.2", "2"]);
    let tasks = std::fs::read_to_string(root.join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(!tasks.contains("[ ]") && !tasks.contains("[-]"), "{tasks}");
    assert_eq!(tasks.matches("[x]").count(), 4, "{tasks}");

    // A checkpoint per task, as `kiro checkpoint list` shows.
    let out = kiro_cmd(&root, &["checkpoint", "list", "--format", "json"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let nodes: Vec<&str> = list[0]["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["node"].as_str().unwrap())
        .collect();
    for task in ["task 1.1", "task 1.2", "task 1", "task 2"] {
        assert!(nodes.contains(&task), "{task} in {nodes:?}");
    }

    // Trace: the files each task changed; verify: 1.1 passes, 1.2 untested.
    let trace = call("trace", json!({ "spec": "notes" })).await;
    let files = structured(&trace)["task_files"]["2"]
        .as_array()
        .unwrap()
        .clone();
    assert!(files.contains(&json!("src/task_2.rs")), "{files:?}");
    let verify = call("verify", json!({ "spec": "notes" })).await;
    let rows: BTreeMap<String, String> = structured(&verify)["matrix"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["criterion"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(rows["1.1"], "passed");
    assert_eq!(rows["1.2"], "untested");

    // A task already done is a tool error, not a protocol error.
    let again = client
        .call_tool(
            CallToolRequestParams::new("start_task")
                .with_arguments(arguments(json!({ "spec": "notes", "task": "2" }))),
        )
        .await
        .unwrap();
    assert_eq!(again.is_error, Some(true));

    // Resources: every document, readable.
    let resources = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "kiro://specs/notes/requirements.md",
            "kiro://specs/notes/tasks.md"
        ]
    );
    client.cancel().await.unwrap();
}

/// A hand-written JSON-RPC client over the server's stdio.
struct LineClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl LineClient {
    fn spawn(root: &Path) -> LineClient {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiro"))
            .arg("mcp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        LineClient {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and returns the response with its id; every line on
    /// standard output must be a JSON-RPC message.
    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed stdout"
            );
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON-RPC frame on stdout ({e}): {line}"));
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message["id"] == json!(id) {
                return message;
            }
        }
    }
}

impl Drop for LineClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_line_client_gets_schema_errors_and_tool_errors() {
    let ws = workspace();
    let mut client = LineClient::spawn(ws.path());
    let init = client.request(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "line-client", "version": "1" }
        }),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "kiro", "{init}");
    client.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    let list = client.request(2, "tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap();
    let next = tools.iter().find(|t| t["name"] == "next_tasks").unwrap();
    assert_eq!(next["inputSchema"]["required"], json!(["spec"]), "{next}");
    assert_eq!(next["inputSchema"]["additionalProperties"], json!(false));

    // (arguments, the field the error must name)
    let bad = [
        (json!({ "spec": 42 }), "spec"),
        (json!({}), "spec"),
        (json!({ "spec": "notes", "colour": "red" }), "colour"),
        (json!({ "spec": "notes", "limit": "two" }), "limit"),
        (json!({ "spec": "notes", "limit": 0 }), "limit"),
    ];
    for (i, (args, field)) in bad.into_iter().enumerate() {
        let id = 10 + i as u64;
        let reply = client.request(
            id,
            "tools/call",
            json!({ "name": "next_tasks", "arguments": args }),
        );
        let error = &reply["error"];
        assert_eq!(error["code"], -32602, "{args}: {reply}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`")),
            "{args}: {reply}"
        );
        assert_eq!(error["data"]["fields"], json!([field]), "{reply}");
    }

    // A use case that fails is a tool error with the typed error's message.
    let reply = client.request(
        20,
        "tools/call",
        json!({ "name": "show_spec", "arguments": { "spec": "nope" } }),
    );
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unknown spec `nope`"), "{text}");
    let reply = client.request(
        21,
        "tools/call",
        json!({ "name": "start_task", "arguments": { "spec": "notes", "task": "2" } }),
    );
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("waits for task 1"), "{reply}");

    // An unknown tool is an invalid-params error; the session goes on.
    let reply = client.request(
        22,
        "tools/call",
        json!({ "name": "rm_rf", "arguments": {} }),
    );
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    let reply = client.request(
        23,
        "resources/read",
        json!({ "uri": "kiro://specs/notes/tasks.md" }),
    );
    assert_eq!(reply["result"]["contents"][0]["text"], TASKS, "{reply}");
}

#[test]
fn streamable_http_serves_a_call_on_loopback_only() {
    let ws = workspace();
    let refused = kiro_cmd(ws.path(), &["mcp", "--http", "0.0.0.0:0"])
        .output()
        .unwrap();
    expect_code(&refused, 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_kiro"))
        .args(["mcp", "--http", "127.0.0.1:0"])
        .current_dir(ws.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("kiro mcp: listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();

    let post = |body: Value, session: Option<&str>| {
        let mut request = ureq::post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18");
        if let Some(session) = session {
            request = request.header("Mcp-Session-Id", session);
        }
        request.send(body.to_string()).unwrap()
    };
    let mut init = post(
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "http-client", "version": "1" } } }),
        None,
    );
    let session = init
        .headers()
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = rpc_body(&init.body_mut().read_to_string().unwrap());
    assert_eq!(body["result"]["serverInfo"]["name"], "kiro");
    post(
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        Some(&session),
    );
    let mut reply = post(
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": { "name": "list_specs", "arguments": {} } }),
        Some(&session),
    );
    let body = rpc_body(&reply.body_mut().read_to_string().unwrap());
    assert_eq!(
        body["result"]["structuredContent"]["specs"][0]["name"], "notes",
        "{body}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The JSON-RPC response in an HTTP body: plain JSON, or the `data:` line
/// of an SSE stream that carries a response.
fn rpc_body(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC response in {text:?}"))
}
