//! AWS event streams (`application/vnd.amazon.eventstream`), the binary
//! framing of Bedrock's `converse-stream`: a decoder that survives frames
//! split anywhere across network reads, and the stream loop that turns a
//! response body into [`ChatChunk`]s through a provider's
//! [`FrameHandler`].
//!
//! A frame is a 12-byte prelude (total length, headers length, prelude
//! CRC32), typed headers, a payload and a CRC32 of everything before it.
//! `aws-smithy-eventstream` (the AWS SDK's own codec) reads a frame's
//! headers and payload and checks both CRCs; this module only cuts the
//! body into frames. It does not use the crate's `MessageFrameDecoder`,
//! which waits for as many bytes as a prelude announces: here a prelude is
//! checked (its CRC, and a length of at most [`MAX_FRAME`]) as soon as its
//! 12 bytes arrive, so a corrupt or hostile length is an error at once
//! rather than up to 4 GiB of buffering.
//!
//! As with server-sent events, a stream ends well only when the handler
//! says the provider's end marker arrived; a body that ends before it, or
//! in the middle of a frame, is a dropped stream.

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::read_message_from;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::chat::ChatChunk;
use crate::client::ChatStream;
use crate::error::{LlmError, Result};

/// The largest frame accepted, in bytes. AWS caps event-stream messages at
/// 16 MiB; a model's delta is a few hundred bytes.
pub(crate) const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Total length, headers length, prelude CRC.
const PRELUDE: usize = 12;
/// A prelude and the message CRC, with no header and no payload.
const MIN_FRAME: usize = PRELUDE + 4;

/// One decoded frame: its string-valued headers (`:message-type`,
/// `:event-type`, `:exception-type`, `:content-type`, ...) and payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Frame {
    headers: Vec<(String, String)>,
    pub(crate) payload: Bytes,
}

impl Frame {
    /// The value of a string header; empty when the frame has none.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Bytes received but not yet cut into frames.
#[derive(Default)]
pub(crate) struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    /// Adds bytes read from the body.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Whether bytes of an incomplete frame are waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The next complete frame, `Ok(None)` when the bytes so far hold
    /// none; `Err` describes a frame that can never be read (bad CRC, bad
    /// length, malformed headers), after which the stream is unusable.
    pub(crate) fn next_frame(&mut self) -> std::result::Result<Option<Frame>, String> {
        let Some(prelude) = self.buffer.get(..PRELUDE) else {
            return Ok(None);
        };
        let word = |at: usize| {
            prelude
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_be_bytes)
        };
        let (total, prelude_crc) = (word(0), word(8));
        let computed = crc32fast::hash(prelude.get(..8).unwrap_or_default());
        if computed != prelude_crc {
            return Err(format!(
                "prelude checksum mismatch (computed {computed:#010x}, frame says {prelude_crc:#010x})"
            ));
        }
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        if !(MIN_FRAME..=MAX_FRAME).contains(&total) {
            return Err(format!(
                "frame length {total} outside {MIN_FRAME}..={MAX_FRAME} bytes"
            ));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let bytes = self.buffer.split_to(total).freeze();
        let message = read_message_from(bytes).map_err(|e| e.to_string())?;
        let headers = message
            .headers()
            .iter()
            .filter_map(|h| {
                let value = h.value().as_string().ok()?;
                Some((h.name().as_str().to_owned(), value.as_str().to_owned()))
            })
            .collect();
        Ok(Some(Frame {
            headers,
            payload: message.payload().clone(),
        }))
    }
}

/// What a provider does with its frames.
pub(crate) trait FrameHandler: Send + 'static {
    /// Handles one frame, queueing the chunks it makes; an exception frame
    /// becomes the error.
    fn frame(&mut self, frame: &Frame, out: &mut VecDeque<ChatChunk>) -> Result<()>;
    /// Whether the end marker has arrived, so the body may end.
    fn complete(&self) -> bool;
    /// Whether nothing more is expected, so reading stops.
    fn done(&self) -> bool;
    /// The error for a body that ended (or broke) before the end marker or
    /// inside a frame, after `received` frames.
    fn dropped(&self, received: usize) -> LlmError;
    /// The error for a frame that cannot be read.
    fn invalid(&self, message: &str) -> LlmError;
    /// The error for a body that broke before any frame.
    fn connection(&self, error: &reqwest::Error) -> LlmError;
}

struct State<H> {
    handler: H,
    body: std::pin::Pin<Box<dyn futures_core::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: FrameDecoder,
    pending: VecDeque<ChatChunk>,
    error: Option<LlmError>,
    frames: usize,
    finished: bool,
}

impl<H: FrameHandler> State<H> {
    fn fail(&mut self, error: LlmError) {
        self.error = Some(error);
        self.finished = true;
    }
}

/// The chunks of an event-stream response body, read through `handler`.
pub(crate) fn frame_stream<H: FrameHandler>(response: reqwest::Response, handler: H) -> ChatStream {
    let state = State {
        handler,
        body: Box::pin(response.bytes_stream()),
        decoder: FrameDecoder::default(),
        pending: VecDeque::new(),
        error: None,
        frames: 0,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, next_chunk))
}

async fn next_chunk<H: FrameHandler>(mut state: State<H>) -> Option<(Result<ChatChunk>, State<H>)> {
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
        match state.decoder.next_frame() {
            Ok(Some(frame)) => {
                state.frames += 1;
                match state.handler.frame(&frame, &mut state.pending) {
                    Err(error) => state.fail(error),
                    Ok(()) if state.handler.done() => state.finished = true,
                    Ok(()) => {}
                }
                continue;
            }
            Err(message) => {
                let error = state.handler.invalid(&format!(
                    "event stream frame {}: {message}",
                    state.frames + 1
                ));
                state.fail(error);
                continue;
            }
            Ok(None) => {}
        }
        match state.body.next().await {
            Some(Ok(bytes)) => state.decoder.push(&bytes),
            Some(Err(error)) => {
                let error = if state.frames == 0 && state.decoder.is_empty() {
                    state.handler.connection(&error)
                } else {
                    state.handler.dropped(state.frames)
                };
                state.fail(error);
            }
            None if state.decoder.is_empty() && state.handler.complete() => {
                state.finished = true;
            }
            None => {
                let error = state.handler.dropped(state.frames);
                state.fail(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame with string headers (type 7), encoded here from the format
    /// rather than by the codec under test.
    fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
        let mut head = Vec::new();
        for (name, value) in headers {
            head.push(u8::try_from(name.len()).unwrap());
            head.extend(name.as_bytes());
            head.push(7);
            head.extend(u16::try_from(value.len()).unwrap().to_be_bytes());
            head.extend(value.as_bytes());
        }
        let total = u32::try_from(PRELUDE + head.len() + payload.len() + 4).unwrap();
        let mut out = Vec::new();
        out.extend(total.to_be_bytes());
        out.extend(u32::try_from(head.len()).unwrap().to_be_bytes());
        out.extend(crc32fast::hash(&out).to_be_bytes());
        out.extend(head);
        out.extend(payload.as_bytes());
        out.extend(crc32fast::hash(&out).to_be_bytes());
        out
    }

    fn frames(pieces: &[&[u8]]) -> std::result::Result<Vec<Frame>, String> {
        let mut decoder = FrameDecoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            while let Some(frame) = decoder.next_frame()? {
                out.push(frame);
            }
        }
        Ok(out)
    }

    #[test]
    fn frames_survive_any_split() {
        let mut bytes = frame(&[(":event-type", "a")], "{\"x\":1}");
        bytes.extend(frame(
            &[(":event-type", "b"), (":message-type", "event")],
            "",
        ));
        let whole = frames(&[&bytes]).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].header(":event-type"), "a");
        assert_eq!(whole[0].payload.as_ref(), b"{\"x\":1}");
        assert_eq!(whole[1].header(":message-type"), "event");
        assert_eq!(whole[1].header(":exception-type"), "");
        for cut in 0..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(frames(&[a, b]).unwrap(), whole, "split at byte {cut}");
        }
    }

    #[test]
    fn a_bad_length_is_refused_from_the_prelude_alone() {
        // A prelude announcing 1 GiB, with a correct CRC: refused without
        // waiting for the bytes.
        let mut prelude = Vec::new();
        prelude.extend((1u32 << 30).to_be_bytes());
        prelude.extend(0u32.to_be_bytes());
        prelude.extend(crc32fast::hash(&prelude).to_be_bytes());
        let error = frames(&[&prelude]).unwrap_err();
        assert!(error.contains("frame length 1073741824"), "{error}");

        let mut bytes = frame(&[(":event-type", "a")], "{}");
        bytes[1] ^= 0x01;
        let error = frames(&[&bytes[..PRELUDE]]).unwrap_err();
        assert!(error.contains("prelude checksum"), "{error}");
    }
}
