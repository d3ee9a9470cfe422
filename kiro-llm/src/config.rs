//! [`LlmConfig`]: which provider, model and address to use, resolved from
//! `.kiro/config.toml`'s `[llm]` and the environment; [`Secret`], an API key
//! that never prints.
//!
//! Precedence, highest first: `KIRO_LLM_PROVIDER`, `KIRO_LLM_MODEL`,
//! `KIRO_LLM_BASE_URL`; then `[llm]`; then the provider's defaults. The API
//! key is read only from the environment: the variable `[llm] api_key_env`
//! names, else `OPENAI_API_KEY` (provider `openai`) or `ANTHROPIC_API_KEY`
//! (provider `anthropic`). Bedrock signs with the standard AWS variables and
//! Ollama needs no key. The environment is read through an [`EnvSource`],
//! so tests pass a map instead of touching the process environment.
//!
//! ```
//! use std::collections::HashMap;
//! use kiro_core::config::Config;
//! use kiro_llm::{LlmConfig, Provider};
//!
//! let file = Config::parse("[llm]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n", ".kiro/config.toml")?;
//! let env = HashMap::from([
//!     ("KIRO_LLM_PROVIDER".to_string(), "ollama".to_string()),
//!     ("KIRO_LLM_MODEL".to_string(), "qwen3".to_string()),
//! ]);
//! let config = LlmConfig::resolve(&file.llm, &env)?;
//! assert_eq!(config.provider, Provider::Ollama);
//! assert_eq!(config.model, "qwen3");
//! assert_eq!(config.base_url, "http://localhost:11434/v1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use kiro_core::config::LlmProvider as Provider;
use kiro_core::config::LlmSection;

use crate::error::{LlmError, Result};
use crate::reliability::RetryPolicy;
// The defaults belong to the reliability layer they parameterise; kept
// reachable here, where a reader of the configuration looks for them.
pub use crate::reliability::{DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT_SECS};

/// Overrides `[llm] provider`.
pub const PROVIDER_ENV: &str = "KIRO_LLM_PROVIDER";
/// Overrides `[llm] model`.
pub const MODEL_ENV: &str = "KIRO_LLM_MODEL";
/// Overrides `[llm] base_url`.
pub const BASE_URL_ENV: &str = "KIRO_LLM_BASE_URL";
/// OpenAI's API key variable.
pub const OPENAI_KEY_ENV: &str = "OPENAI_API_KEY";
/// Anthropic's API key variable.
pub const ANTHROPIC_KEY_ENV: &str = "ANTHROPIC_API_KEY";

/// Where environment variables come from.
pub trait EnvSource {
    /// The variable's value; `None` when unset (or not Unicode).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment, read at each call.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<T: EnvSource + ?Sized> EnvSource for &T {
    fn var(&self, name: &str) -> Option<String> {
        (**self).var(name)
    }
}

/// A secret (an API key): its `Debug` and `Display` print `[redacted]`,
/// and it has no serde impls, so it cannot reach a log, an error or a
/// checkpoint by accident. [`Secret::expose`] is the one way to the value.
///
/// ```
/// use kiro_llm::Secret;
///
/// let key = Secret::new("sk-live-1234");
/// assert_eq!(format!("{key} {key:?}"), "[redacted] Secret([redacted])");
/// assert_eq!(key.expose(), "sk-live-1234");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the value replaced by `[redacted]`
    /// (a server may echo a key back in an error message).
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(self.0.as_str(), "[redacted]")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Defaults that depend on the provider.
trait ProviderDefaults {
    fn default_base_url(self) -> &'static str;
    fn default_key_env(self) -> Option<&'static str>;
}

impl ProviderDefaults for Provider {
    fn default_base_url(self) -> &'static str {
        match self {
            Provider::Openai => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
            // Bedrock's address depends on the region, which its client
            // reads from the AWS variables; empty means "derive it".
            Provider::Bedrock => "",
            Provider::Ollama => "http://localhost:11434/v1",
        }
    }

    fn default_key_env(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some(OPENAI_KEY_ENV),
            Provider::Anthropic => Some(ANTHROPIC_KEY_ENV),
            Provider::Bedrock | Provider::Ollama => None,
        }
    }
}

/// Reads a provider name (`openai`, `anthropic`, `bedrock`, `ollama`,
/// any case).
///
/// # Errors
///
/// [`LlmError::Config`] naming `setting` when the name is none of them.
pub fn parse_provider(name: &str, setting: &str) -> Result<Provider> {
    let wanted = name.trim();
    Provider::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
        .ok_or_else(|| LlmError::Config {
            setting: setting.to_owned(),
            message: format!(
                "unknown provider {wanted:?}; expected one of {}",
                Provider::ALL.map(Provider::as_str).join(", ")
            ),
        })
}

/// Everything needed to build a client: provider, model, address, key and
/// the reliability settings. Build one with [`LlmConfig::builder`] or
/// [`LlmConfig::resolve`]; its `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// The provider.
    pub provider: Provider,
    /// The model name as the provider spells it.
    pub model: String,
    /// The provider's base URL (OpenAI-style bases end in `/v1`).
    pub base_url: String,
    /// The API key, when the provider takes one.
    pub api_key: Option<Secret>,
    /// How many requests may be in flight at once (at least 1).
    pub max_concurrency: usize,
    /// How long one request (or, streaming, the wait for each chunk) may
    /// take.
    pub timeout: Duration,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// The most tokens (input plus output) a run may use; `None` for no
    /// limit.
    pub token_budget: Option<u64>,
}

impl LlmConfig {
    /// A builder for `provider` and `model`, with the provider's default
    /// address and no key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiro_llm::{LlmConfig, Provider, Secret};
    ///
    /// let config = LlmConfig::builder(Provider::Openai, "gpt-4o-mini")
    ///     .base_url("http://127.0.0.1:8080/v1")
    ///     .api_key(Secret::new("sk-test"))
    ///     .timeout(Duration::from_secs(5))
    ///     .build()?;
    /// assert!(!format!("{config:?}").contains("sk-test"));
    /// # Ok::<(), kiro_llm::LlmError>(())
    /// ```
    pub fn builder(provider: Provider, model: impl Into<String>) -> LlmConfigBuilder {
        LlmConfigBuilder {
            config: LlmConfig {
                provider,
                model: model.into(),
                base_url: provider.default_base_url().to_owned(),
                api_key: None,
                max_concurrency: DEFAULT_MAX_CONCURRENCY,
                timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
                retry: RetryPolicy::default(),
                token_budget: None,
            },
        }
    }

    /// Resolves `[llm]` against the environment (see the module docs for
    /// the precedence).
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] when no provider or model is set anywhere or a
    /// variable holds an unknown provider; [`LlmError::MissingApiKey`] when
    /// the key variable is unset: always for an explicit `api_key_env` and
    /// for Anthropic, and for OpenAI at its own address (a self-hosted
    /// OpenAI-compatible server usually needs no key).
    pub fn resolve(section: &LlmSection, env: &dyn EnvSource) -> Result<LlmConfig> {
        let set = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
        let provider = match set(PROVIDER_ENV) {
            Some(name) => parse_provider(&name, PROVIDER_ENV)?,
            None => section.provider.ok_or_else(|| LlmError::Config {
                setting: "[llm] provider".to_owned(),
                message: format!("no provider configured; set it in [llm] or {PROVIDER_ENV}"),
            })?,
        };
        let model = set(MODEL_ENV)
            .or_else(|| section.model.clone())
            .ok_or_else(|| LlmError::Config {
                setting: "[llm] model".to_owned(),
                message: format!("no model configured; set it in [llm] or {MODEL_ENV}"),
            })?;
        let mut builder = LlmConfig::builder(provider, model);
        let base_url = set(BASE_URL_ENV).or_else(|| section.base_url.clone());
        let custom_address = base_url.is_some();
        if let Some(url) = base_url {
            builder = builder.base_url(url);
        }
        let key_env = section
            .api_key_env
            .as_deref()
            .or_else(|| provider.default_key_env());
        if let Some(variable) = key_env {
            match set(variable) {
                Some(key) => builder = builder.api_key(Secret::new(key.trim())),
                None => {
                    let required = section.api_key_env.is_some()
                        || provider == Provider::Anthropic
                        || (provider == Provider::Openai && !custom_address);
                    if required {
                        return Err(LlmError::MissingApiKey {
                            provider: provider.as_str().to_owned(),
                            variable: variable.to_owned(),
                        });
                    }
                }
            }
        }
        if let Some(n) = section.max_concurrency {
            builder = builder.max_concurrency(n);
        }
        if let Some(secs) = section.timeout_secs {
            builder = builder.timeout(Duration::from_secs(secs));
        }
        builder.build()
    }

    /// Reads `<root>/.kiro/config.toml` and resolves its `[llm]` section.
    ///
    /// # Errors
    ///
    /// [`LlmError::Backend`] with kiro-core's located error when the file
    /// cannot be read or parsed; otherwise as [`LlmConfig::resolve`].
    pub fn load_workspace(root: impl AsRef<Path>, env: &dyn EnvSource) -> Result<LlmConfig> {
        let config = kiro_core::config::Config::load_workspace(root)
            .map_err(|e| LlmError::Backend(Box::new(e)))?;
        LlmConfig::resolve(&config.llm, env)
    }
}

/// Builds an [`LlmConfig`]; [`LlmConfigBuilder::build`] checks it.
#[derive(Clone, Debug)]
pub struct LlmConfigBuilder {
    config: LlmConfig,
}

impl LlmConfigBuilder {
    /// Sets the base URL.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }

    /// Sets the API key.
    #[must_use]
    pub fn api_key(mut self, key: Secret) -> Self {
        self.config.api_key = Some(key);
        self
    }

    /// Sets how many requests may be in flight at once.
    #[must_use]
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.config.max_concurrency = n;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// Sets the run's token budget.
    #[must_use]
    pub fn token_budget(mut self, tokens: u64) -> Self {
        self.config.token_budget = Some(tokens);
        self
    }

    /// Checks and returns the config.
    ///
    /// # Errors
    ///
    /// [`LlmError::Config`] for an empty model, a zero concurrency or
    /// timeout, or a base URL that is not `http(s)://` (Bedrock may leave
    /// it empty).
    pub fn build(self) -> Result<LlmConfig> {
        let config = self.config;
        let invalid = |setting: &str, message: &str| LlmError::Config {
            setting: setting.to_owned(),
            message: message.to_owned(),
        };
        if config.model.trim().is_empty() {
            return Err(invalid("model", "the model name is empty"));
        }
        if config.max_concurrency == 0 {
            return Err(invalid("max_concurrency", "must be at least 1"));
        }
        if config.timeout.is_zero() {
            return Err(invalid("timeout", "must be longer than zero"));
        }
        let url = config.base_url.as_str();
        let empty_ok = config.provider == Provider::Bedrock && url.is_empty();
        if !(empty_ok || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Config {
                setting: "base_url".to_owned(),
                message: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        Ok(config)
    }
}
