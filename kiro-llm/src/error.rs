//! [`LlmError`], the one error type of the crate.

use std::time::{Duration, SystemTime};

/// Result with [`LlmError`].
pub type Result<T, E = LlmError> = std::result::Result<T, E>;

/// What went wrong talking to a model. No variant ever holds an API key:
/// providers remove the key from any text a server echoes back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The configuration is unusable (an unknown provider name, a bad URL,
    /// a zero limit); `setting` names the key or variable at fault.
    #[error("invalid llm setting {setting}: {message}")]
    Config {
        /// The setting at fault (`[llm] provider`, `KIRO_LLM_BASE_URL`, ...).
        setting: String,
        /// What is wrong with it.
        message: String,
    },
    /// The provider needs an API key and the variable that should hold it
    /// is unset or empty.
    #[error("{provider} needs an API key: set the environment variable {variable}")]
    MissingApiKey {
        /// The provider.
        provider: String,
        /// The environment variable read.
        variable: String,
    },
    /// The provider is known but this build has no client for it yet.
    #[error("the {provider} provider is not available in this build of kiro-llm")]
    UnsupportedProvider {
        /// The provider.
        provider: String,
    },
    /// The provider cannot do what was asked (for a client an integrator
    /// writes; kiro-llm's own providers support every operation); not
    /// retryable.
    #[error("{provider} does not support {operation} in this build of kiro-llm")]
    Unsupported {
        /// The provider.
        provider: String,
        /// What was asked.
        operation: String,
    },
    /// The server answered with an error status.
    #[error("{provider} answered {status}: {message}")]
    Status {
        /// The provider.
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// The error message from the body (or the start of the body).
        message: String,
        /// When the server said to retry (`Retry-After`).
        retry_after: Option<RetryAfter>,
    },
    /// The request never got an answer: connection refused or reset, DNS,
    /// TLS, or the body broke off while being read.
    #[error("{provider} request to {url} failed: {message}")]
    Connection {
        /// The provider.
        provider: String,
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// No answer within the per-request timeout (for a stream: no chunk
    /// within it).
    #[error("{provider} did not answer within {}ms", after.as_millis())]
    Timeout {
        /// The provider.
        provider: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered 2xx with a body that is not the provider's
    /// format (malformed JSON, missing fields).
    #[error("{provider} sent an unreadable response: {message}")]
    InvalidResponse {
        /// The provider.
        provider: String,
        /// What could not be read, with the start of the body.
        message: String,
    },
    /// A stream ended before the provider's end marker: the reply is
    /// incomplete.
    #[error("{provider} stream ended before it was complete ({received} events received)")]
    StreamDropped {
        /// The provider.
        provider: String,
        /// How many events arrived before it ended.
        received: usize,
    },
    /// The run's token budget is spent; no further request is sent.
    #[error("token budget exhausted: {used} of {budget} tokens used")]
    BudgetExceeded {
        /// Tokens used so far in the run.
        used: u64,
        /// The budget.
        budget: u64,
    },
    /// Every attempt failed with a retryable error; `last` is the final one.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many requests were sent.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<LlmError>,
    },
    /// An integrator's client failed.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The model's reply never matched the requested schema, after every
    /// repair attempt; `raw` is its last output and `errors` what was wrong
    /// with it.
    #[error("{target}: no valid output after {attempts} attempts; last errors: {}", errors.join("; "))]
    InvalidOutput {
        /// The Rust type asked for.
        target: String,
        /// How many requests were sent (the first and the repairs).
        attempts: u32,
        /// The last reply's JSON text (content, or tool-call arguments).
        raw: String,
        /// What was wrong with it: the JSON syntax error, each schema
        /// violation (with its JSON pointer), or the deserialisation error.
        errors: Vec<String>,
    },
    /// The response cache is in `replay-only` mode and holds no entry for
    /// this request.
    #[error("no recorded response for request {hash} ({summary}) in replay-only mode")]
    CacheMiss {
        /// The request's hash (the entry's file name without `.json`).
        hash: String,
        /// A short description of the request (model, last message).
        summary: String,
    },
    /// A cache entry could not be read or written, or is not a valid entry.
    #[error("llm cache entry {}: {message}", path.display())]
    Cache {
        /// The entry's file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl LlmError {
    /// Whether sending the same request again may succeed: 408, 409, 425,
    /// 429 and 5xx answers, connection failures, timeouts and dropped
    /// streams.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429) || (500..600).contains(status)
            }
            LlmError::Connection { .. }
            | LlmError::Timeout { .. }
            | LlmError::StreamDropped { .. } => true,
            _ => false,
        }
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            LlmError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A `Retry-After` header: a number of seconds or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// Retry after this long.
    Delay(Duration),
    /// Retry at this time.
    At(SystemTime),
}

impl RetryAfter {
    /// Reads a header value (`120`, `Fri, 31 Dec 1999 23:59:59 GMT`);
    /// `None` when it is neither form.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use kiro_llm::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::parse(" 3 "), Some(RetryAfter::Delay(Duration::from_secs(3))));
    /// assert_eq!(
    ///     RetryAfter::parse("Thu, 01 Jan 1970 00:01:00 GMT"),
    ///     Some(RetryAfter::At(UNIX_EPOCH + Duration::from_secs(60)))
    /// );
    /// assert_eq!(RetryAfter::parse("soon"), None);
    /// ```
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        // Some servers send fractional seconds; accept them rather than
        // ignoring the server's request.
        if let Ok(seconds) = value.parse::<f64>() {
            return Duration::try_from_secs_f64(seconds)
                .ok()
                .map(RetryAfter::Delay);
        }
        httpdate::parse_http_date(value).ok().map(RetryAfter::At)
    }

    /// How long to wait from `now` (zero for a date in the past).
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(delay) => *delay,
            RetryAfter::At(at) => at.duration_since(now).unwrap_or_default(),
        }
    }
}
