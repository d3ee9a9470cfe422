//! JSON-RPC 2.0 over newline-delimited JSON, as ACP frames it: one message
//! per line on the agent's standard input and output.
//!
//! Messages are read as [`serde_json::Value`] first and classified by their
//! members (`method` with or without `id`, `id` with `result` or `error`),
//! because an agent is free to add members (`_meta`) and a hostile one to
//! send anything: classification never fails on extra fields, and a line
//! that is not a JSON-RPC message at all is a typed error.

use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use super::AcpError;

/// JSON-RPC "method not found".
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "invalid params": the request's parameters do not fit the method.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "internal error".
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// ACP's "resource not found" (a file the agent asked to read is missing).
pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;
/// The code kiro answers a request refused by the workspace policy with. ACP
/// reserves no code for "forbidden"; -32000..-32099 is JSON-RPC's range for
/// implementation-defined server errors, of which ACP uses -32000
/// (`auth_required`) and -32002 (`resource_not_found`), so a policy refusal
/// takes -32001.
pub(crate) const POLICY_DENIED: i64 = -32001;

/// A JSON-RPC error object, as kiro sends it back to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn denied(message: impl Into<String>) -> RpcError {
        RpcError::new(POLICY_DENIED, message)
    }

    pub(crate) fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }
}

/// One message from the agent.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A request kiro must answer (`fs/read_text_file`, `terminal/create`...).
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification (`session/update`).
    Notification { method: String, params: Value },
    /// The answer to one of kiro's requests.
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
}

/// Classifies one line; `excerpt` of the line goes into the error.
pub(crate) fn parse_message(line: &[u8]) -> Result<Incoming, AcpError> {
    let malformed = |reason: String| AcpError::Malformed {
        excerpt: excerpt(&String::from_utf8_lossy(line), 200),
        reason,
    };
    let value: Value = serde_json::from_slice(line).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(malformed("not a JSON object".into()));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(malformed("missing \"jsonrpc\": \"2.0\"".into()));
    }
    let id = obj.remove("id");
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(malformed("\"method\" is not a string".into()));
        };
        let params = obj.remove("params").unwrap_or(Value::Null);
        return Ok(match id {
            Some(id) => Incoming::Request { id, method, params },
            None => Incoming::Notification { method, params },
        });
    }
    let Some(id) = id else {
        return Err(malformed("neither a request nor a response".into()));
    };
    if let Some(error) = obj.remove("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        let mut message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some(data) = error.get("data").filter(|d| !d.is_null()) {
            message = format!("{message} ({})", excerpt(&data.to_string(), 500));
        }
        return Ok(Incoming::Response {
            id,
            result: Err(RpcError { code, message }),
        });
    }
    match obj.remove("result") {
        Some(result) => Ok(Incoming::Response {
            id,
            result: Ok(result),
        }),
        None => Err(malformed(
            "a response without \"result\" or \"error\"".into(),
        )),
    }
}

/// The line of a request kiro sends.
pub(crate) fn request(id: u64, method: &str, params: &Value) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
}

/// The line of a notification kiro sends.
pub(crate) fn notification(method: &str, params: &Value) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
}

/// The line answering the agent's request `id`.
pub(crate) fn response(id: &Value, result: &Result<Value, RpcError>) -> Vec<u8> {
    line(&match result {
        Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}),
        Err(e) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
        }
    })
}

fn line(value: &Value) -> Vec<u8> {
    // serde_json escapes control characters inside strings, so the
    // serialised text never holds a raw line break.
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

/// Writes one framed message and flushes it.
pub(crate) async fn send<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> Result<(), AcpError> {
    let write = async {
        out.write_all(bytes).await?;
        out.flush().await
    };
    write.await.map_err(|source| AcpError::Io {
        what: "writing to the agent's standard input",
        source,
    })
}

/// Reads newline-delimited lines of at most `max` bytes.
///
/// Cancel safe: a partly read line stays in the reader, so dropping
/// [`LineReader::next_line`] inside a `select!` loses nothing.
pub(crate) struct LineReader<R> {
    inner: R,
    line: Vec<u8>,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner,
            line: Vec::new(),
            max,
        }
    }

    /// The next line without its line break (`None` at the end of the
    /// stream); an over-long line is [`AcpError::LineTooLong`], read no
    /// further than the limit.
    pub(crate) async fn next_line(&mut self) -> Result<Option<Vec<u8>>, AcpError> {
        loop {
            let buf = self.inner.fill_buf().await.map_err(|source| AcpError::Io {
                what: "reading the agent's standard output",
                source,
            })?;
            if buf.is_empty() {
                // A last line without a line break still counts.
                return Ok((!self.line.is_empty()).then(|| std::mem::take(&mut self.line)));
            }
            let (taken, end) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if self.line.len().saturating_add(taken) > self.max {
                return Err(AcpError::LineTooLong { limit: self.max });
            }
            self.line
                .extend_from_slice(buf.get(..taken).unwrap_or_default());
            self.inner.consume(if end { taken + 1 } else { taken });
            if end {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
        }
    }
}

/// At most `max` bytes of `text` (cut at a character boundary), with `…`
/// when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: &str) {
        let got = match parse_message(line.as_bytes()) {
            Ok(Incoming::Request { id, method, params }) => {
                format!("request {id} {method} {params}")
            }
            Ok(Incoming::Notification { method, params }) => {
                format!("notification {method} {params}")
            }
            Ok(Incoming::Response { id, result: Ok(v) }) => format!("response {id} ok {v}"),
            Ok(Incoming::Response { id, result: Err(e) }) => {
                format!("response {id} error {} {}", e.code, e.message)
            }
            Err(e) => format!("error {e}"),
        };
        assert_eq!(got, expected, "line {line}");
    }

    #[test]
    fn classifies_messages() {
        check(
            r#"{"jsonrpc":"2.0","id":3,"method":"fs/read_text_file","params":{"path":"/a"}}"#,
            r#"request 3 fs/read_text_file {"path":"/a"}"#,
        );
        check(
            r#"{"jsonrpc":"2.0","method":"session/update","params":{}}"#,
            "notification session/update {}",
        );
        check(
            r#"{"jsonrpc":"2.0","id":"x","result":null}"#,
            r#"response "x" ok null"#,
        );
        check(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"auth required","data":"login"}}"#,
            r#"response 1 error -32000 auth required ("login")"#,
        );
        check(
            "not json",
            "error malformed message from the agent (expected ident at line 1 column 2): not json",
        );
        check(
            "[1]",
            "error malformed message from the agent (not a JSON object): [1]",
        );
        check(
            r#"{"id":1,"result":{}}"#,
            r#"error malformed message from the agent (missing "jsonrpc": "2.0"): {"id":1,"result":{}}"#,
        );
        check(
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"error malformed message from the agent (a response without "result" or "error"): {"jsonrpc":"2.0","id":1}"#,
        );
        check(
            r#"{"jsonrpc":"2.0","method":7}"#,
            r#"error malformed message from the agent ("method" is not a string): {"jsonrpc":"2.0","method":7}"#,
        );
    }

    #[tokio::test]
    async fn reads_bounded_lines() {
        let input: &[u8] = b"one\r\ntwo\n\nlast";
        let mut r = LineReader::new(input, 8);
        let mut got = Vec::new();
        while let Some(line) = r.next_line().await.unwrap() {
            got.push(String::from_utf8(line).unwrap());
        }
        assert_eq!(got, ["one", "two", "", "last"]);

        let long: &[u8] = b"0123456789\n";
        let err = LineReader::new(long, 8).next_line().await.unwrap_err();
        assert!(matches!(err, AcpError::LineTooLong { limit: 8 }), "{err}");
    }

    #[test]
    fn excerpts_cut_at_char_boundaries() {
        assert_eq!(excerpt("héllo", 2), "h…");
        assert_eq!(excerpt("hello", 5), "hello");
    }
}
