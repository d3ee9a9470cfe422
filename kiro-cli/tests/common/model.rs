//! A scripted OpenAI-compatible model on 127.0.0.1 for the end-to-end
//! tests: `POST /v1/chat/completions` answered by a closure over the
//! request's JSON, every request kept for the test to inspect, and a stop
//! that closes the port (so a replayed run provably sends nothing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};

type Respond = dyn Fn(&Value) -> Value + Send + Sync;

/// The running server.
pub struct ModelServer {
    /// The OpenAI-style base URL, ending in `/v1`.
    pub base: String,
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Starts a server whose reply to each request body is `respond(body)`
    /// (a whole chat completion object, see [`completion`]).
    pub fn start(respond: impl Fn(&Value) -> Value + Send + Sync + 'static) -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let respond: Arc<Respond> = Arc::new(respond);
        let (log, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { return };
                let (log, respond) = (log.clone(), respond.clone());
                std::thread::spawn(move || serve(stream, &log, respond.as_ref()));
            }
        });
        ModelServer {
            base: format!("http://{addr}/v1"),
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request body received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }

    /// Stops accepting and closes the port.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and drops the
        // listener.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Answers the requests of one connection (keep-alive) until it closes.
fn serve(stream: TcpStream, log: &Mutex<Vec<Value>>, respond: &Respond) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = if request_line.starts_with("POST /v1/chat/completions ") {
            match serde_json::from_slice::<Value>(&body) {
                Ok(request) => {
                    log.lock().unwrap().push(request.clone());
                    ("200 OK", respond(&request))
                }
                Err(e) => (
                    "400 Bad Request",
                    json!({ "error": { "message": e.to_string() } }),
                ),
            }
        } else {
            (
                "404 Not Found",
                json!({ "error": { "message": request_line.trim() } }),
            )
        };
        let reply = reply.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(reply.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// A chat completion whose message is `message` (`{"role": "assistant",
/// ...}`), with usage.
pub fn completion(message: Value, prompt_tokens: u64, completion_tokens: u64) -> Value {
    let finish = if message.get("tool_calls").is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    json!({
        "id": "chatcmpl-e2e",
        "object": "chat.completion",
        "created": 1,
        "model": "e2e-model",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    })
}

/// An assistant message with text.
pub fn text(content: &str) -> Value {
    json!({ "role": "assistant", "content": content })
}

/// An assistant message calling tools: `(id, name, arguments)`.
pub fn tool_calls(calls: &[(&str, &str, Value)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| {
            json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": args.to_string() }
            })
        })
        .collect();
    json!({ "role": "assistant", "content": null, "tool_calls": calls })
}
