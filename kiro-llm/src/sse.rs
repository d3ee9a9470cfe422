//! Server-sent events for the providers that name their events
//! (Anthropic's `event: message_start` ...): a byte-level decoder that
//! survives events split anywhere across network reads, and the stream
//! loop that turns a response body into [`ChatChunk`]s through a
//! provider's [`EventHandler`].
//!
//! It also holds what every provider's HTTP code shares: the client
//! constructor, body excerpts and error chains for messages.
//!
//! A stream ends well only when the handler says the provider's end marker
//! arrived; a body that ends before it is reported by the handler as a
//! dropped stream, never as a silently short reply.

use std::collections::VecDeque;

use futures_util::StreamExt;

use crate::chat::ChatChunk;
use crate::client::ChatStream;
use crate::error::{LlmError, Result};

/// How much of an unreadable or error body an error quotes.
const BODY_EXCERPT: usize = 512;

/// One event: its `event:` name (empty when it had none) and its `data:`
/// lines joined by `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) name: String,
    pub(crate) data: String,
}

/// Bytes received but not yet split into events. Lines are cut at `\n`
/// (a preceding `\r` dropped) on bytes, so a UTF-8 character split across
/// two reads is joined before it is decoded.
#[derive(Default)]
pub(crate) struct SseDecoder {
    bytes: Vec<u8>,
    start: usize,
    event: SseEvent,
    has_data: bool,
}

impl SseDecoder {
    /// Adds bytes read from the body.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes so far hold one.
    pub(crate) fn next_event(&mut self) -> Option<SseEvent> {
        while let Some(line) = self.next_line() {
            if let Some(event) = self.line(&line) {
                return Some(event);
            }
        }
        None
    }

    /// At the end of the body: the last event when it lacked its blank
    /// line.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        let rest = self.bytes.get(self.start..).unwrap_or_default();
        let rest = String::from_utf8_lossy(rest)
            .trim_end_matches('\r')
            .to_owned();
        self.bytes.clear();
        self.start = 0;
        if !rest.is_empty() {
            if let Some(event) = self.line(&rest) {
                return Some(event);
            }
        }
        self.line("")
    }

    fn next_line(&mut self) -> Option<String> {
        let rest = self.bytes.get(self.start..)?;
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = rest.get(..end).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line).into_owned();
        self.start += end + 1;
        Some(text)
    }

    /// Handles one line; a blank line completes the event being read.
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let had_data = std::mem::take(&mut self.has_data);
            return had_data.then_some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => value.clone_into(&mut self.event.name),
            "data" => {
                if self.has_data {
                    self.event.data.push('\n');
                }
                self.event.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

/// What a provider does with its events.
pub(crate) trait EventHandler: Send + 'static {
    /// Handles one event, queueing the chunks it makes.
    fn event(&mut self, event: &SseEvent, out: &mut VecDeque<ChatChunk>) -> Result<()>;
    /// Whether the provider's end marker has arrived.
    fn done(&self) -> bool;
    /// The error for a body that ended (or broke) before the end marker,
    /// after `received` events.
    fn dropped(&self, received: usize) -> LlmError;
    /// The error for a body that broke before any event.
    fn connection(&self, error: &reqwest::Error) -> LlmError;
}

struct State<H> {
    handler: H,
    body: std::pin::Pin<Box<dyn futures_core::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    decoder: SseDecoder,
    pending: VecDeque<ChatChunk>,
    error: Option<LlmError>,
    events: usize,
    finished: bool,
}

impl<H: EventHandler> State<H> {
    fn fail(&mut self, error: LlmError) {
        self.error = Some(error);
        self.finished = true;
    }

    fn handle(&mut self, event: &SseEvent) {
        self.events += 1;
        match self.handler.event(event, &mut self.pending) {
            Err(error) => self.fail(error),
            Ok(()) if self.handler.done() => self.finished = true,
            Ok(()) => {}
        }
    }
}

/// The chunks of an SSE response body, read through `handler`.
pub(crate) fn sse_stream<H: EventHandler>(response: reqwest::Response, handler: H) -> ChatStream {
    let state = State {
        handler,
        body: Box::pin(response.bytes_stream()),
        decoder: SseDecoder::default(),
        pending: VecDeque::new(),
        error: None,
        events: 0,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, next_chunk))
}

async fn next_chunk<H: EventHandler>(mut state: State<H>) -> Option<(Result<ChatChunk>, State<H>)> {
    loop {
        if let Some(chunk) = state.pending.pop_front() {
            return Some((Ok(chunk), state));
        }
        if let Some(error) = state.error.take() {
            return Some((Err(error), state));
        }
        if state.finished {
            return None;
        }
        if let Some(event) = state.decoder.next_event() {
            state.handle(&event);
            continue;
        }
        match state.body.next().await {
            Some(Ok(bytes)) => state.decoder.push(&bytes),
            Some(Err(error)) => {
                let error = if state.events == 0 {
                    state.handler.connection(&error)
                } else {
                    state.handler.dropped(state.events)
                };
                state.fail(error);
            }
            None => {
                if let Some(event) = state.decoder.finish() {
                    state.handle(&event);
                }
                if !state.finished {
                    let error = state.handler.dropped(state.events);
                    state.fail(error);
                }
            }
        }
    }
}

/// The start of a body, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    let mut end = text.len().min(BODY_EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.get(..end).unwrap_or_default();
    if end < text.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

/// The HTTP client of a provider; `base_url`, when the provider takes one,
/// must be `http://` or `https://`.
pub(crate) fn http_client(base_url: Option<&str>) -> Result<reqwest::Client> {
    if let Some(url) = base_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Config {
                setting: "base_url".to_owned(),
                message: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
    }
    reqwest::Client::builder()
        .build()
        .map_err(|e| LlmError::Config {
            setting: "http client".to_owned(),
            message: e.to_string(),
        })
}

/// An error with its sources (reqwest's own message is often just "error
/// sending request").
pub(crate) fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            while let Some(event) = decoder.next_event() {
                out.push(event);
            }
        }
        out.extend(decoder.finish());
        out
    }

    #[test]
    fn named_events_survive_any_split_and_crlf() {
        let text = "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n: comment\n\nevent: delta\ndata: a\ndata: é\n\n";
        let whole = events(&[text.as_bytes()]);
        let expected = vec![
            SseEvent {
                name: "ping".into(),
                data: "{\"type\": \"ping\"}".into(),
            },
            SseEvent {
                name: "delta".into(),
                data: "a\né".into(),
            },
        ];
        assert_eq!(whole, expected);
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(events(&[a, b]), expected, "split at byte {cut}");
        }
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_kept() {
        let got = events(&[b"event: message_stop\ndata: {}"]);
        assert_eq!(
            got,
            vec![SseEvent {
                name: "message_stop".into(),
                data: "{}".into()
            }]
        );
    }
}
