//! [`Reliable`], the layer that gives any [`LlmClient`] retries, a
//! concurrency limit, a per-request timeout and a token budget, and
//! [`UsageMeter`], the run's shared token count.
//!
//! Retries use exponential backoff with full jitter (a delay drawn
//! uniformly from zero to `base * 2^attempt`, capped at `max_delay`), so
//! that many tasks throttled at once do not retry in lockstep. When the
//! server says when to come back (`Retry-After`, seconds or an HTTP date),
//! that wait is used instead; a wait longer than
//! [`RetryPolicy::max_retry_after`] ends the retries with the server's
//! error rather than stalling the run. Only errors
//! [`LlmError::is_retryable`] calls so are retried. A stream is retried
//! only until it starts: once chunks have reached the caller, a broken
//! stream is the caller's error, because replaying it would repeat text.
//!
//! Time goes through a [`Clock`], so tests observe the delays without
//! sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::chat::{ChatChunk, ChatRequest, ChatResponse, Usage};
use crate::client::{ChatStream, LlmClient};
use crate::error::{LlmError, Result};

/// Requests in flight at once when the config does not say.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Seconds before a request is abandoned when the config does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;

/// How failed requests are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most requests sent for one call, the first included (1 means
    /// no retry).
    pub max_attempts: u32,
    /// The backoff cap of the first retry; it doubles with each retry.
    pub base_delay: Duration,
    /// The largest backoff cap.
    pub max_delay: Duration,
    /// The longest `Retry-After` wait honoured; a longer one ends the
    /// retries with the server's error.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 500 ms doubling up to 30 s, `Retry-After` up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff cap before retry number `retry` (0 for the first):
    /// `base_delay * 2^retry`, at most `max_delay`.
    pub fn cap(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// The time source of [`Reliable`]: the wall clock for `Retry-After` dates
/// and the sleep between attempts.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The real clock: `SystemTime::now` and `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Tokens used by a run, shared by every client and task of it (clones
/// share the count), with an optional budget.
///
/// The budget is checked before each request and usage is known only after
/// it, so requests already in flight when the budget runs out still finish:
/// a run may exceed its budget by at most the replies of its concurrent
/// requests, never by a request sent afterwards.
///
/// ```
/// use kiro_llm::{Usage, UsageMeter};
///
/// let meter = UsageMeter::with_budget(100);
/// meter.record(Usage { input_tokens: 60, output_tokens: 50 });
/// assert_eq!(meter.total().total(), 110);
/// assert!(meter.check().is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct UsageMeter {
    inner: Arc<MeterInner>,
}

#[derive(Debug, Default)]
struct MeterInner {
    input: AtomicU64,
    output: AtomicU64,
    requests: AtomicU64,
    budget: Option<u64>,
}

impl UsageMeter {
    /// A meter without a budget.
    pub fn new() -> UsageMeter {
        UsageMeter::default()
    }

    /// A meter that refuses requests once `tokens` (input plus output)
    /// have been used.
    pub fn with_budget(tokens: u64) -> UsageMeter {
        UsageMeter {
            inner: Arc::new(MeterInner {
                budget: Some(tokens),
                ..MeterInner::default()
            }),
        }
    }

    /// Adds one request's usage.
    pub fn record(&self, usage: Usage) {
        self.inner
            .input
            .fetch_add(usage.input_tokens, Ordering::Relaxed);
        self.inner
            .output
            .fetch_add(usage.output_tokens, Ordering::Relaxed);
    }

    /// The tokens used so far.
    pub fn total(&self) -> Usage {
        Usage {
            input_tokens: self.inner.input.load(Ordering::Relaxed),
            output_tokens: self.inner.output.load(Ordering::Relaxed),
        }
    }

    /// How many requests were sent (retries included).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The budget, if any.
    pub fn budget(&self) -> Option<u64> {
        self.inner.budget
    }

    /// Whether another request may be sent.
    ///
    /// # Errors
    ///
    /// [`LlmError::BudgetExceeded`] once the budget is used up.
    pub fn check(&self) -> Result<()> {
        let Some(budget) = self.inner.budget else {
            return Ok(());
        };
        let used = self.total().total();
        if used >= budget {
            return Err(LlmError::BudgetExceeded { used, budget });
        }
        Ok(())
    }

    fn count_request(&self) {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// Wraps a client with retries, a concurrency limit, a per-request timeout
/// and usage metering. Cloning is cheap; clones share the limit and meter.
///
/// ```
/// use std::time::Duration;
/// use kiro_llm::{Reliable, RetryPolicy, UsageMeter};
/// # use kiro_llm::{ChatRequest, ChatResponse, ChatStream, LlmClient};
/// # struct Model;
/// # #[async_trait::async_trait]
/// # impl LlmClient for Model {
/// #     async fn complete(&self, _: ChatRequest) -> kiro_llm::Result<ChatResponse> { Ok(ChatResponse::default()) }
/// #     async fn stream(&self, r: ChatRequest) -> kiro_llm::Result<ChatStream> { kiro_llm::stream_from_complete(self, r).await }
/// # }
///
/// let meter = UsageMeter::with_budget(200_000);
/// let client = Reliable::new(Model)
///     .max_concurrency(8)
///     .timeout(Duration::from_secs(60))
///     .retry(RetryPolicy::default())
///     .meter(meter.clone());
/// ```
pub struct Reliable<C> {
    inner: Arc<C>,
    provider: String,
    permits: Arc<Semaphore>,
    limit: usize,
    timeout: Duration,
    retry: RetryPolicy,
    meter: UsageMeter,
    clock: Arc<dyn Clock>,
    /// Jitter source: a per-layer generator, not a global one.
    rng: Arc<Mutex<fastrand::Rng>>,
}

impl<C> Clone for Reliable<C> {
    fn clone(&self) -> Self {
        Reliable {
            inner: Arc::clone(&self.inner),
            provider: self.provider.clone(),
            permits: Arc::clone(&self.permits),
            limit: self.limit,
            timeout: self.timeout,
            retry: self.retry.clone(),
            meter: self.meter.clone(),
            clock: Arc::clone(&self.clock),
            rng: Arc::clone(&self.rng),
        }
    }
}

impl<C> std::fmt::Debug for Reliable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reliable")
            .field("provider", &self.provider)
            .field("max_concurrency", &self.limit)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("meter", &self.meter)
            .finish_non_exhaustive()
    }
}

impl<C: LlmClient> Reliable<C> {
    /// Wraps `inner` with the defaults: 4 requests at once, a 120 s
    /// timeout, [`RetryPolicy::default`], a fresh meter without budget.
    pub fn new(inner: C) -> Reliable<C> {
        Reliable {
            inner: Arc::new(inner),
            provider: "llm".to_owned(),
            permits: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENCY)),
            limit: DEFAULT_MAX_CONCURRENCY,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            retry: RetryPolicy::default(),
            meter: UsageMeter::new(),
            clock: Arc::new(TokioClock),
            rng: Arc::new(Mutex::new(fastrand::Rng::new())),
        }
    }

    /// Names the provider in this layer's own errors (timeouts).
    #[must_use]
    pub fn provider(mut self, name: impl Into<String>) -> Self {
        self.provider = name.into();
        self
    }

    /// Sets how many requests may be in flight at once (0 counts as 1).
    #[must_use]
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.limit = n.max(1);
        self.permits = Arc::new(Semaphore::new(self.limit));
        self
    }

    /// Sets the per-request timeout: for `complete`, the whole request;
    /// for `stream`, the wait for the stream to start and for each chunk.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Counts usage into `meter` (and stops at its budget).
    #[must_use]
    pub fn meter(mut self, meter: UsageMeter) -> Self {
        self.meter = meter;
        self
    }

    /// Replaces the clock (tests use one that records sleeps).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the jitter, for reproducible delays.
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
        self
    }

    /// The meter this layer counts into.
    pub fn usage_meter(&self) -> &UsageMeter {
        &self.meter
    }

    /// The wait before retry number `retry` after `error`, or `None` when
    /// the error must not be retried.
    fn delay_before(&self, retry: u32, error: &LlmError) -> Option<Duration> {
        if !error.is_retryable() {
            return None;
        }
        if let Some(after) = error.retry_after() {
            let wait = after.delay_from(self.clock.now());
            return (wait <= self.retry.max_retry_after).then_some(wait);
        }
        let cap = self.retry.cap(retry);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        let nanos = match self.rng.lock() {
            Ok(mut rng) => rng.u64(0..=cap_nanos),
            // A poisoned lock only means another thread panicked while
            // drawing a number; the cap itself is a safe delay.
            Err(_) => cap_nanos,
        };
        Some(Duration::from_nanos(nanos))
    }

    /// Runs `attempt` under the retry policy; each attempt first checks
    /// the budget and is counted.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let attempts = self.retry.max_attempts.max(1);
        let mut sent = 0u32;
        loop {
            self.meter.check()?;
            self.meter.count_request();
            sent += 1;
            let error = match tokio::time::timeout(self.timeout, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => LlmError::Timeout {
                    provider: self.provider.clone(),
                    after: self.timeout,
                },
            };
            let delay = if sent < attempts {
                self.delay_before(sent - 1, &error)
            } else {
                None
            };
            match delay {
                Some(delay) => self.clock.sleep(delay).await,
                None if sent > 1 && error.is_retryable() => {
                    return Err(LlmError::RetriesExhausted {
                        attempts: sent,
                        last: Box::new(error),
                    })
                }
                None => return Err(error),
            }
        }
    }
}

#[async_trait]
impl<C: LlmClient + 'static> LlmClient for Reliable<C> {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| LlmError::Backend(Box::new(e)))?;
        let response = self
            .with_retries(|| self.inner.complete(request.clone()))
            .await;
        drop(permit);
        let response = response?;
        self.meter.record(response.usage);
        Ok(response)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| LlmError::Backend(Box::new(e)))?;
        let inner = self
            .with_retries(|| self.inner.stream(request.clone()))
            .await?;
        let meter = self.meter.clone();
        let timeout = self.timeout;
        let provider = self.provider.clone();
        // The permit lives as long as the stream: a request streaming its
        // reply is still in flight.
        let state = (inner, meter, Some(permit), false);
        let stream =
            futures_util::stream::unfold(state, move |(mut inner, meter, permit, ended)| {
                let provider = provider.clone();
                async move {
                    if ended {
                        return None;
                    }
                    match tokio::time::timeout(timeout, inner.next()).await {
                        Ok(Some(Ok(chunk))) => {
                            if let ChatChunk::Usage { usage } = &chunk {
                                meter.record(*usage);
                            }
                            Some((Ok(chunk), (inner, meter, permit, false)))
                        }
                        Ok(Some(Err(error))) => Some((Err(error), (inner, meter, None, true))),
                        Ok(None) => None,
                        Err(_) => Some((
                            Err(LlmError::Timeout {
                                provider,
                                after: timeout,
                            }),
                            (inner, meter, None, true),
                        )),
                    }
                }
            });
        Ok(Box::pin(stream))
    }

    fn supports_response_schema(&self) -> bool {
        self.inner.supports_response_schema()
    }
}
