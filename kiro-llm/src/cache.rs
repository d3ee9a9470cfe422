//! [`CachedClient`]: an on-disk response cache in front of any client, which
//! doubles as record / replay: record a real session once
//! ([`CacheMode::ReadWrite`]), then replay it offline in CI
//! ([`CacheMode::ReplayOnly`]) with byte-for-byte the same replies.
//!
//! An entry is found by [`request_hash`]: the SHA-256 of a canonical JSON
//! (object keys sorted, no whitespace) of the provider, the model, whether
//! the reply was streamed, and the whole [`ChatRequest`] (system prompt,
//! messages, tools, tool choice, response schema, temperature, token limit,
//! stop sequences). The hash is the same across runs, machines and the key
//! order of any JSON in the request (tool parameters, schemas).
//!
//! Each entry is one pretty-printed JSON file `<dir>/<hash>.json` holding
//! the request beside its reply, so a reviewer can read what was asked and
//! answered, and a diff of a recording shows what changed. A complete reply
//! is stored as its [`ChatResponse`]; a streamed one as its [`ChatChunk`]s
//! in order, replayed in the same order (only a stream that ended without
//! error is recorded). Entries are written atomically (a temporary file,
//! `fsync`, `rename`, `fsync` of the folder), so a crash never leaves half
//! an entry and concurrent writers of one entry each replace it whole.
//!
//! Configuration: `[llm] cache = "off" | "read-write" | "replay-only"` and
//! `[llm] cache_dir` (default `.kiro/llm-cache`, relative to the workspace
//! root), with `KIRO_LLM_CACHE` overriding the mode.
//!
//! ```no_run
//! use kiro_llm::cache::{CacheConfig, CacheMode, CachedClient};
//! use kiro_llm::{ChatRequest, LlmClient, LlmConfig, ProcessEnv};
//!
//! # async fn run() -> kiro_llm::Result<()> {
//! let config = LlmConfig::load_workspace(".", &ProcessEnv)?;
//! let cache = CacheConfig::builder(".").mode(CacheMode::ReplayOnly).build();
//! let client = CachedClient::for_config(kiro_llm::connect(&config)?, &config, cache);
//! let reply = client.complete(ChatRequest::user("Say hi")).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use kiro_core::config::LlmCacheMode as CacheMode;
use kiro_core::config::LlmSection;

use crate::chat::{ChatChunk, ChatRequest, ChatResponse, Message};
use crate::client::{ChatStream, LlmClient};
use crate::config::{EnvSource, LlmConfig};
use crate::error::{LlmError, Result};

/// Overrides `[llm] cache`.
pub const CACHE_ENV: &str = "KIRO_LLM_CACHE";
/// The cache's folder under the workspace root when `[llm] cache_dir` does
/// not say.
pub const DEFAULT_CACHE_DIR: &str = ".kiro/llm-cache";
/// The format of entries this build writes and reads; part of the hash,
/// so a new format never reads an old entry as its own.
pub const ENTRY_VERSION: u32 = 1;

/// Where the cache lives and how it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether replies are recorded and replayed.
    pub mode: CacheMode,
    /// The folder holding the entries.
    pub dir: PathBuf,
}

impl CacheConfig {
    /// A builder for the cache of the workspace at `root`: mode off, folder
    /// `<root>/.kiro/llm-cache`.
    pub fn builder(root: impl AsRef<Path>) -> CacheConfigBuilder {
        CacheConfigBuilder {
            config: CacheConfig {
                mode: CacheMode::Off,
                dir: root.as_ref().join(DEFAULT_CACHE_DIR),
            },
        }
    }

    /// The cache `[llm]` describes for the workspace at `root`, with
    /// `KIRO_LLM_CACHE` overriding the mode.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::path::Path;
    /// use kiro_core::config::Config;
    /// use kiro_llm::cache::{CacheConfig, CacheMode};
    ///
    /// let file = Config::parse("[llm]\ncache = \"read-write\"\ncache_dir = \"rec\"\n", ".kiro/config.toml")?;
    /// let env = HashMap::from([("KIRO_LLM_CACHE".to_string(), "replay-only".to_string())]);
    /// let cache = CacheConfig::resolve(&file.llm, Path::new("/ws"), &env)?;
    /// assert_eq!(cache.mode, CacheMode::ReplayOnly);
    /// assert_eq!(cache.dir, Path::new("/ws/rec"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] naming `KIRO_LLM_CACHE` when it holds no mode.
    pub fn resolve(section: &LlmSection, root: &Path, env: &dyn EnvSource) -> Result<CacheConfig> {
        let mode = match env.var(CACHE_ENV).filter(|v| !v.trim().is_empty()) {
            Some(name) => parse_cache_mode(&name, CACHE_ENV)?,
            None => section.cache.unwrap_or_default(),
        };
        let dir = match &section.cache_dir {
            Some(dir) => root.join(dir),
            None => root.join(DEFAULT_CACHE_DIR),
        };
        Ok(CacheConfig { mode, dir })
    }
}

/// Builds a [`CacheConfig`].
#[derive(Clone, Debug)]
pub struct CacheConfigBuilder {
    config: CacheConfig,
}

impl CacheConfigBuilder {
    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: CacheMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Sets the folder (used as given, not joined to the root).
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.dir = dir.into();
        self
    }

    /// The config.
    pub fn build(self) -> CacheConfig {
        self.config
    }
}

/// Reads a cache mode (`off`, `read-write`, `replay-only`, any case).
///
/// # Errors
///
/// [`LlmError::Config`] naming `setting` when the name is none of them.
pub fn parse_cache_mode(name: &str, setting: &str) -> Result<CacheMode> {
    let wanted = name.trim();
    CacheMode::ALL
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(wanted))
        .ok_or_else(|| LlmError::Config {
            setting: setting.to_owned(),
            message: format!(
                "unknown cache mode {wanted:?}; expected one of {}",
                CacheMode::ALL.map(CacheMode::as_str).join(", ")
            ),
        })
}

/// How a reply was asked for: a complete reply and a stream of the same
/// request are separate entries, because a stream is replayed chunk by
/// chunk as it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// [`LlmClient::complete`].
    Complete,
    /// [`LlmClient::stream`].
    Stream,
}

/// The hash an entry is stored under: lower-case hex SHA-256 of the
/// canonical JSON of `{version, provider, model, kind, request}`.
///
/// ```
/// use kiro_llm::cache::{request_hash, ReplyKind};
/// use kiro_llm::ChatRequest;
///
/// let a = request_hash("openai", "gpt-4o-mini", ReplyKind::Complete, &ChatRequest::user("hi"));
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, request_hash("openai", "gpt-4o", ReplyKind::Complete, &ChatRequest::user("hi")));
/// assert_ne!(a, request_hash("openai", "gpt-4o-mini", ReplyKind::Stream, &ChatRequest::user("hi")));
/// ```
pub fn request_hash(provider: &str, model: &str, kind: ReplyKind, request: &ChatRequest) -> String {
    let key = serde_json::json!({
        "version": ENTRY_VERSION,
        "provider": provider,
        "model": model,
        "kind": kind,
        "request": request,
    });
    let mut canonical = String::new();
    write_canonical(&key, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `value` as JSON with object keys in byte order and no whitespace; the
/// order does not depend on how the map was built (nor on serde_json's
/// `preserve_order` feature, which another crate of a build may turn on).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// One file of the cache.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    version: u32,
    hash: String,
    kind: ReplyKind,
    provider: String,
    model: String,
    /// Kept for the reader of the file; the hash is what finds it.
    request: ChatRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<ChatResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chunks: Option<Vec<ChatChunk>>,
}

/// A recorded reply.
enum Recorded {
    Response(ChatResponse),
    Chunks(Vec<ChatChunk>),
}

/// A client with a response cache in front (see the module docs). Put it
/// outside [`crate::Reliable`]: a replayed reply sends no request, so it
/// takes no concurrency permit and counts no tokens against the budget.
#[derive(Debug)]
pub struct CachedClient<C> {
    inner: C,
    provider: String,
    model: String,
    config: CacheConfig,
}

impl<C: LlmClient> CachedClient<C> {
    /// `inner` behind the cache `config`; `provider` and `model` name what
    /// `inner` talks to, and are part of every hash.
    pub fn new(
        inner: C,
        provider: impl Into<String>,
        model: impl Into<String>,
        config: CacheConfig,
    ) -> CachedClient<C> {
        CachedClient {
            inner,
            provider: provider.into(),
            model: model.into(),
            config,
        }
    }

    /// `inner` behind the cache, with provider and model from `llm`.
    pub fn for_config(inner: C, llm: &LlmConfig, config: CacheConfig) -> CachedClient<C> {
        CachedClient::new(inner, llm.provider.as_str(), llm.model.clone(), config)
    }

    /// The cache's settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The hash `request` is stored under when asked for as `kind`.
    pub fn hash(&self, kind: ReplyKind, request: &ChatRequest) -> String {
        request_hash(&self.provider, &self.model, kind, request)
    }

    /// The file of the entry with `hash`.
    pub fn entry_path(&self, hash: &str) -> PathBuf {
        self.config.dir.join(format!("{hash}.json"))
    }

    /// The recorded reply, `None` when there is none.
    async fn lookup(&self, kind: ReplyKind, hash: &str) -> Result<Option<Recorded>> {
        let path = self.entry_path(hash);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cache_error(&path, format!("cannot be read: {e}"))),
        };
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| cache_error(&path, format!("is not a cache entry: {e}")))?;
        if entry.version != ENTRY_VERSION {
            let message = format!(
                "has format version {}; this build reads {ENTRY_VERSION}",
                entry.version
            );
            return Err(cache_error(&path, message));
        }
        if entry.hash != hash || entry.kind != kind {
            let message = format!("holds request {} ({:?})", entry.hash, entry.kind);
            return Err(cache_error(&path, message));
        }
        match (kind, entry.response, entry.chunks) {
            (ReplyKind::Complete, Some(response), _) => Ok(Some(Recorded::Response(response))),
            (ReplyKind::Stream, _, Some(chunks)) => Ok(Some(Recorded::Chunks(chunks))),
            _ => Err(cache_error(&path, "has no recorded reply".to_owned())),
        }
    }

    /// The error of a request not recorded in replay-only mode.
    fn miss(&self, hash: String, request: &ChatRequest) -> LlmError {
        let last = match request.messages.last() {
            Some(Message::User { content }) | Some(Message::Assistant { content, .. }) => {
                excerpt(content)
            }
            Some(Message::Tool(result)) => format!("tool result {}", result.call_id),
            None => "no messages".to_owned(),
        };
        LlmError::CacheMiss {
            hash,
            summary: format!(
                "{} {}, {} messages, last: {last}",
                self.provider,
                self.model,
                request.messages.len()
            ),
        }
    }

    fn entry(&self, hash: &str, kind: ReplyKind, request: ChatRequest) -> Entry {
        Entry {
            version: ENTRY_VERSION,
            hash: hash.to_owned(),
            kind,
            provider: self.provider.clone(),
            model: self.model.clone(),
            request,
            response: None,
            chunks: None,
        }
    }
}

/// The start of a message, on one line, for an error.
fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &line[..cut]),
        None => format!("{line:?}"),
    }
}

fn cache_error(path: &Path, message: String) -> LlmError {
    LlmError::Cache {
        path: path.to_owned(),
        message,
    }
}

/// Writes `entry` atomically to `path`, off the async threads.
async fn store(path: PathBuf, entry: Entry) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(&entry)
        .map_err(|e| cache_error(&path, format!("cannot be serialised: {e}")))?;
    let target = path.clone();
    tokio::task::spawn_blocking(move || kiro_core::store::write_atomic(&target, &bytes))
        .await
        .map_err(|e| cache_error(&path, format!("write task failed: {e}")))?
        .map_err(|e| cache_error(&path, format!("cannot be written: {e}")))
}

#[async_trait]
impl<C: LlmClient> LlmClient for CachedClient<C> {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        if self.config.mode == CacheMode::Off {
            return self.inner.complete(request).await;
        }
        let hash = self.hash(ReplyKind::Complete, &request);
        if let Some(Recorded::Response(response)) = self.lookup(ReplyKind::Complete, &hash).await? {
            return Ok(response);
        }
        if self.config.mode == CacheMode::ReplayOnly {
            return Err(self.miss(hash, &request));
        }
        let response = self.inner.complete(request.clone()).await?;
        let mut entry = self.entry(&hash, ReplyKind::Complete, request);
        entry.response = Some(response.clone());
        store(self.entry_path(&hash), entry).await?;
        Ok(response)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        if self.config.mode == CacheMode::Off {
            return self.inner.stream(request).await;
        }
        let hash = self.hash(ReplyKind::Stream, &request);
        if let Some(Recorded::Chunks(chunks)) = self.lookup(ReplyKind::Stream, &hash).await? {
            return Ok(Box::pin(futures_util::stream::iter(
                chunks.into_iter().map(Ok),
            )));
        }
        if self.config.mode == CacheMode::ReplayOnly {
            return Err(self.miss(hash, &request));
        }
        let inner = self.inner.stream(request.clone()).await?;
        let path = self.entry_path(&hash);
        let entry = self.entry(&hash, ReplyKind::Stream, request);
        // Chunks pass through as they come and are kept; when the stream
        // ends cleanly the entry is written before the end is reported, so
        // a caller that saw the end finds the recording on disk. A stream
        // that fails is not recorded.
        let state = (inner, Some((path, entry, Vec::new())));
        let stream = futures_util::stream::unfold(state, |(mut inner, mut recording)| async move {
            let (path, mut entry, mut chunks) = recording.take()?;
            match inner.next().await {
                Some(Ok(chunk)) => {
                    chunks.push(chunk.clone());
                    Some((Ok(chunk), (inner, Some((path, entry, chunks)))))
                }
                Some(Err(error)) => Some((Err(error), (inner, None))),
                None => {
                    entry.chunks = Some(chunks);
                    match store(path, entry).await {
                        Ok(()) => None,
                        Err(error) => Some((Err(error), (inner, None))),
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }

    fn supports_response_schema(&self) -> bool {
        self.inner.supports_response_schema()
    }
}
