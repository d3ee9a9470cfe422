//! A scripted HTTP/1.1 server on 127.0.0.1: the n-th request gets the n-th
//! reply (the last one repeats), every request is recorded, and replies can
//! be delayed, streamed in pieces or cut off, which a mock library cannot
//! do byte for byte.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body's bytes as sent (a SigV4 signature covers them).
    pub raw: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A piece of a reply body, or a pause.
#[derive(Clone, Debug)]
pub enum Part {
    Bytes(Vec<u8>),
    Pause(Duration),
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Sent before the status line.
    pub delay: Duration,
    pub parts: Vec<Part>,
    /// Chunked transfer encoding (each `Bytes` part one chunk) instead of
    /// `Content-Length`.
    pub chunked: bool,
    /// Close the connection without the terminating chunk.
    pub cut: bool,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::text(status, "application/json", &body.to_string())
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            delay: Duration::ZERO,
            parts: vec![Part::Bytes(body.as_bytes().to_vec())],
            chunked: false,
            cut: false,
        }
    }

    /// A server-sent event stream sent in the given pieces.
    pub fn sse(pieces: Vec<Part>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            delay: Duration::ZERO,
            parts: pieces,
            chunked: true,
            cut: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn cut(mut self) -> Reply {
        self.cut = true;
        self
    }
}

pub struct Server {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    max_in_flight: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Starts a server answering with `replies` in order; its base URL
    /// ends in `/v1`.
    pub async fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let replies = Arc::new(replies);
        let (recorded, max) = (Arc::clone(&requests), Arc::clone(&max_in_flight));
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (recorded, max, in_flight, count, replies) = (
                    Arc::clone(&recorded),
                    Arc::clone(&max),
                    Arc::clone(&in_flight),
                    Arc::clone(&count),
                    Arc::clone(&replies),
                );
                tokio::spawn(async move {
                    serve(socket, recorded, max, in_flight, count, replies).await;
                });
            }
        });
        Server {
            base_url: format!("http://{addr}/v1"),
            requests,
            max_in_flight,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The most requests the server was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut socket: TcpStream,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    max: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    count: Arc<AtomicUsize>,
    replies: Arc<Vec<Reply>>,
) {
    // One request per connection: every reply says `Connection: close`.
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let n = count.fetch_add(1, Ordering::SeqCst);
    recorded.lock().unwrap().push(request);
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max.fetch_max(now, Ordering::SeqCst);
    let reply = replies.get(n).or_else(|| replies.last()).cloned().unwrap();
    let _ = write_reply(&mut socket, &reply).await;
    in_flight.fetch_sub(1, Ordering::SeqCst);
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let raw = buffer[head_end..head_end + length].to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Some(Recorded {
        method,
        path,
        headers,
        body,
        raw,
    })
}

async fn write_reply(socket: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    tokio::time::sleep(reply.delay).await;
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nconnection: close\r\n",
        reply.status
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.chunked {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    } else {
        let length: usize = reply
            .parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len(),
                Part::Pause(_) => 0,
            })
            .sum();
        head.push_str(&format!("content-length: {length}\r\n\r\n"));
    }
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await?;
    for part in &reply.parts {
        match part {
            Part::Pause(d) => tokio::time::sleep(*d).await,
            Part::Bytes(bytes) if reply.chunked => {
                socket
                    .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
                    .await?;
                socket.write_all(bytes).await?;
                socket.write_all(b"\r\n").await?;
                socket.flush().await?;
            }
            Part::Bytes(bytes) => {
                socket.write_all(bytes).await?;
                socket.flush().await?;
            }
        }
    }
    if reply.chunked && !reply.cut {
        socket.write_all(b"0\r\n\r\n").await?;
    }
    socket.flush().await?;
    socket.shutdown().await
}
