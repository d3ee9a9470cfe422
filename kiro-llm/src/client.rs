//! The [`LlmClient`] trait every provider and layer implements.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::Stream;

use crate::chat::{ChatChunk, ChatRequest, ChatResponse, ChunkCollector};
use crate::error::Result;

/// A streamed reply: chunks in order, then the end of the stream. An `Err`
/// item ends the reply (nothing follows it); a stream that simply ends has
/// delivered the whole reply.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk>> + Send>>;

/// A chat model behind some provider.
///
/// The caller hands a complete [`ChatRequest`]; the model's name and the
/// provider's address belong to the client. An implementor must be
/// `Send + Sync` (one client serves a whole run, shared between tasks), hold
/// no API key in its `Debug` output, and report failures as
/// [`LlmError`](crate::LlmError): [`LlmError::is_retryable`](crate::LlmError::is_retryable)
/// tells the `Reliable` layer whether to try again.
/// `stream` must end with an error, never silently, when the provider's
/// stream breaks off before its end marker.
///
/// A minimal implementation, an echo model:
///
/// ```
/// use async_trait::async_trait;
/// use kiro_llm::{ChatRequest, ChatResponse, ChatStream, LlmClient, Message, Result};
///
/// struct Echo;
///
/// #[async_trait]
/// impl LlmClient for Echo {
///     async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
///         let content = match request.messages.last() {
///             Some(Message::User { content }) => content.clone(),
///             _ => String::new(),
///         };
///         Ok(ChatResponse { content, ..ChatResponse::default() })
///     }
///
///     async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
///         kiro_llm::stream_from_complete(self, request).await
///     }
/// }
/// ```
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// Sends the request and waits for the whole reply.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse>;

    /// Sends the request and returns the reply as it is generated. Errors
    /// before the first chunk (refused request, bad status) are returned
    /// here; later ones arrive as stream items.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream>;

    /// Whether the provider holds a reply to
    /// [`ChatRequest::response_schema`] natively (OpenAI's `json_schema`
    /// response format). When `false`, [`crate::structured`] asks for a
    /// forced tool call instead. Layers forward their inner client's answer.
    fn supports_response_schema(&self) -> bool {
        false
    }
}

/// A stream made from a complete reply (text, tool calls, usage, finish),
/// for clients that cannot stream.
pub async fn stream_from_complete<C: LlmClient + ?Sized>(
    client: &C,
    request: ChatRequest,
) -> Result<ChatStream> {
    let response = client.complete(request).await?;
    let mut chunks = Vec::new();
    if !response.content.is_empty() {
        chunks.push(Ok(ChatChunk::Text {
            text: response.content,
        }));
    }
    for (index, call) in response.tool_calls.into_iter().enumerate() {
        chunks.push(Ok(ChatChunk::ToolCallStart {
            index,
            id: call.id,
            name: call.name,
        }));
        chunks.push(Ok(ChatChunk::ToolCallDelta {
            index,
            arguments: call.arguments.to_string(),
        }));
    }
    chunks.push(Ok(ChatChunk::Usage {
        usage: response.usage,
    }));
    chunks.push(Ok(ChatChunk::Finish {
        reason: response.finish_reason,
    }));
    Ok(Box::pin(futures_util::stream::iter(chunks)))
}

/// Reads a stream to its end and folds it into a [`ChatResponse`]; the
/// first error item is returned.
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatResponse> {
    use futures_util::StreamExt;

    let mut collector = ChunkCollector::default();
    while let Some(chunk) = stream.next().await {
        collector.push(chunk?);
    }
    Ok(collector.finish())
}

#[async_trait]
impl<T: LlmClient + ?Sized> LlmClient for &T {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }

    fn supports_response_schema(&self) -> bool {
        (**self).supports_response_schema()
    }
}

#[async_trait]
impl<T: LlmClient + ?Sized> LlmClient for Box<T> {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }

    fn supports_response_schema(&self) -> bool {
        (**self).supports_response_schema()
    }
}

#[async_trait]
impl<T: LlmClient + ?Sized> LlmClient for Arc<T> {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }

    fn supports_response_schema(&self) -> bool {
        (**self).supports_response_schema()
    }
}
