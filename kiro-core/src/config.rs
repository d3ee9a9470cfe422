//! The workspace configuration file, `.kiro/config.toml`.
//!
//! Every key is optional and has a default, so a missing file, an empty file
//! and the fully commented template that `kiro init` writes all mean
//! [`Config::default()`]. Anything the file says must be understood: an
//! unknown key (at any level) or a value of the wrong type is an
//! [`Error::Config`] naming the file, line and column and what was expected,
//! because a silently ignored typo (`fail-fast = true`) would change what a
//! run does without anyone noticing.
//!
//! ```
//! use kiro_core::config::{Config, TaskOrder};
//!
//! let text = "[pipeline]\njobs = 8\norder = \"declared\"\n\n[executor]\ncommand = [\"my-agent\", \"-\"]\n";
//! let config = Config::parse(text, ".kiro/config.toml")?;
//! assert_eq!(config.pipeline.jobs, 8);
//! assert_eq!(config.pipeline.order, TaskOrder::Declared);
//! assert_eq!(config.executor.command, Some(vec!["my-agent".to_string(), "-".to_string()]));
//!
//! let err = Config::parse("[pipeline]\nfail-fast = true\n", ".kiro/config.toml").unwrap_err();
//! assert!(err.to_string().starts_with(".kiro/config.toml:2:1: unknown field `fail-fast`"));
//! # Ok::<(), kiro_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::sandbox::SandboxMode;

/// Where the config file lives, relative to the workspace root.
pub const CONFIG_PATH: &str = ".kiro/config.toml";

/// The whole `.kiro/config.toml`.
// Not `Eq`: `[llm.prices]` holds decimal prices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[pipeline]`: how the engine schedules nodes.
    pub pipeline: PipelineConfig,
    /// `[executor]`: the command run once per task.
    pub executor: ExecutorConfig,
    /// `[verifier]`: the test command run after the tasks.
    pub verifier: VerifierConfig,
    /// `[policy]`: what tasks may write and run.
    pub policy: PolicyConfig,
    /// `[limits]`: how much kiro reads.
    pub limits: LimitsConfig,
    /// `[checkpoints]`: where the checkpoint store lives.
    pub checkpoints: CheckpointsConfig,
    /// `[llm]`: which model the LLM-backed stages use (read by `kiro-llm`).
    pub llm: LlmSection,
    /// `[git]`: per-task commits on `kiro/<spec>` branches.
    pub git: GitConfig,
}

/// `[git]`: whether a run commits each finished task on the branch
/// `kiro/<spec>` of every git work tree it uses (see [`crate::git`]).
///
/// ```
/// use kiro_core::config::Config;
///
/// let config = Config::parse("[git]\ncommits = false\n", ".kiro/config.toml")?;
/// assert_eq!(config.git.commits, Some(false));
/// assert_eq!(Config::default().git.commits, None);
/// # Ok::<(), kiro_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GitConfig {
    /// `true`: commit each finished task; `false`: never touch git; unset
    /// (the default): commit in the repositories that are git work trees.
    pub commits: Option<bool>,
}

/// `[llm]`: the model behind the LLM-backed stages. kiro-core only reads
/// and checks it; the `kiro-llm` crate resolves it (environment overrides
/// `KIRO_LLM_PROVIDER`, `KIRO_LLM_MODEL`, `KIRO_LLM_BASE_URL`, the API key
/// from the environment) and talks to the provider. Every key is optional.
/// API keys are never written here: `api_key_env` names the variable that
/// holds one.
///
/// ```
/// use kiro_core::config::{Config, LlmProvider};
///
/// let text = "[llm]\nprovider = \"ollama\"\nmodel = \"qwen3\"\nmax_concurrency = 2\n";
/// let config = Config::parse(text, ".kiro/config.toml")?;
/// assert_eq!(config.llm.provider, Some(LlmProvider::Ollama));
/// assert_eq!(config.llm.max_concurrency, Some(2));
/// assert!(Config::parse("[llm]\napi_key = \"sk-...\"\n", ".kiro/config.toml").is_err());
/// # Ok::<(), kiro_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSection {
    /// The provider; `None` when the file does not choose one.
    pub provider: Option<LlmProvider>,
    /// The model name as the provider spells it (`gpt-4o-mini`,
    /// `claude-sonnet-4-5`, a Bedrock model id).
    pub model: Option<String>,
    /// The provider's address; `None` for the provider's own (an
    /// OpenAI-style base ends in `/v1`, Anthropic's is the host root).
    pub base_url: Option<String>,
    /// The environment variable holding the API key, instead of the
    /// provider's usual one (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`).
    pub api_key_env: Option<String>,
    /// How many requests may be in flight at once (at least 1).
    #[serde(deserialize_with = "optional_at_least_one")]
    #[schemars(range(min = 1))]
    pub max_concurrency: Option<usize>,
    /// Seconds before one request is abandoned (at least 1).
    #[serde(deserialize_with = "optional_at_least_one_u64")]
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
    /// The response cache: `off`, `read-write` (record) or `replay-only`
    /// (offline; a request not recorded is an error); `None` for off.
    pub cache: Option<LlmCacheMode>,
    /// The response cache's folder, relative to the workspace root;
    /// `None` for `.kiro/llm-cache`.
    pub cache_dir: Option<PathBuf>,
    /// What each model costs, by model name as `model` spells it
    /// (`[llm.prices."gpt-4o-mini"] input = 0.15, output = 0.6`): the run's
    /// cost estimate multiplies its token usage by the row of the model
    /// that ran. kiro ships no prices of its own, because they change.
    pub prices: BTreeMap<String, ModelPrice>,
}

/// `[llm.prices."<model>"]`: a model's price in US dollars per million
/// tokens.
///
/// ```
/// use kiro_core::config::ModelPrice;
/// use kiro_core::stage::TokenUsage;
///
/// let price = ModelPrice { input: 3.0, output: 15.0 };
/// let usage = TokenUsage { input_tokens: 200_000, output_tokens: 10_000, requests: 4 };
/// assert!((price.cost(&usage) - 0.75).abs() < 1e-9);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Dollars per million input (prompt) tokens.
    #[serde(deserialize_with = "non_negative")]
    #[schemars(range(min = 0))]
    pub input: f64,
    /// Dollars per million output (generated) tokens.
    #[serde(deserialize_with = "non_negative")]
    #[schemars(range(min = 0))]
    pub output: f64,
}

impl ModelPrice {
    /// The price of `usage` in US dollars.
    pub fn cost(&self, usage: &crate::spec::TokenUsage) -> f64 {
        // Token counts stay far below 2^52, where f64 is exact.
        #[allow(clippy::cast_precision_loss)]
        let (input, output) = (usage.input_tokens as f64, usage.output_tokens as f64);
        (input * self.input + output * self.output) / 1_000_000.0
    }
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    let n = f64::deserialize(d)?;
    if !n.is_finite() || n < 0.0 {
        return Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Float(n),
            &"a price of at least 0 dollars per million tokens",
        ));
    }
    Ok(n)
}

/// `[llm] cache`: whether replies are recorded and replayed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LlmCacheMode {
    /// Every request goes to the provider; nothing is stored.
    #[default]
    Off,
    /// A recorded reply is replayed; any other request goes to the
    /// provider and its reply is recorded.
    ReadWrite,
    /// Only recorded replies; a request not recorded is an error and
    /// nothing reaches the provider (offline CI).
    ReplayOnly,
}

impl LlmCacheMode {
    /// Every mode.
    pub const ALL: [LlmCacheMode; 3] = [
        LlmCacheMode::Off,
        LlmCacheMode::ReadWrite,
        LlmCacheMode::ReplayOnly,
    ];

    /// The name written in the config file and in `KIRO_LLM_CACHE`.
    pub fn as_str(self) -> &'static str {
        match self {
            LlmCacheMode::Off => "off",
            LlmCacheMode::ReadWrite => "read-write",
            LlmCacheMode::ReplayOnly => "replay-only",
        }
    }
}

/// A provider named in `[llm] provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// OpenAI's chat completions, or any server speaking them.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// AWS Bedrock's Converse API.
    Bedrock,
    /// A local Ollama server through its OpenAI-compatible API.
    Ollama,
}

impl LlmProvider {
    /// Every provider, in the order the documentation lists them.
    pub const ALL: [LlmProvider; 4] = [
        LlmProvider::Openai,
        LlmProvider::Anthropic,
        LlmProvider::Bedrock,
        LlmProvider::Ollama,
    ];

    /// The name written in the config file and in `KIRO_LLM_PROVIDER`.
    pub fn as_str(self) -> &'static str {
        match self {
            LlmProvider::Openai => "openai",
            LlmProvider::Anthropic => "anthropic",
            LlmProvider::Bedrock => "bedrock",
            LlmProvider::Ollama => "ollama",
        }
    }
}

/// `[checkpoints]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointsConfig {
    /// The directory of the checkpoint store, its run locks and the audit
    /// log's recorded heads; `None` (the default) is `.kiro/runs` in the
    /// workspace. A leading `~/` is the home directory, a relative path is
    /// relative to the workspace root. Set it to a directory outside the
    /// workspace where agents run unconfined (no Landlock), so that a task's
    /// `rm -rf .kiro` cannot take the run's history with it.
    pub dir: Option<PathBuf>,
}

impl CheckpointsConfig {
    /// The store directory for the workspace at `root`: `dir` resolved
    /// (home, then the workspace root), else `<root>/.kiro/runs`.
    pub fn resolve(&self, root: &Path) -> PathBuf {
        match &self.dir {
            None => root.join(".kiro").join("runs"),
            Some(dir) => match (dir.strip_prefix("~"), std::env::var_os("HOME")) {
                (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
                _ => root.join(dir),
            },
        }
    }
}

/// `[pipeline]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// How many nodes may run at the same time (at least 1; default 4).
    #[serde(deserialize_with = "at_least_one")]
    #[schemars(range(min = 1))]
    pub jobs: usize,
    /// Stop the whole run at the first failed task (default `false`: only the
    /// failed task's dependents are skipped).
    pub fail_fast: bool,
    /// How task dependencies are derived (default [`TaskOrder::Document`]).
    pub order: TaskOrder,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            jobs: 4,
            fail_fast: false,
            order: TaskOrder::Document,
        }
    }
}

pub use crate::spec::TaskOrder;

/// `[executor]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// The program and its arguments (no shell), run once per task with the
    /// task brief on standard input; `None` when no executor is configured.
    #[serde(deserialize_with = "non_empty_argv")]
    pub command: Option<Vec<String>>,
    /// A coding-agent CLI kiro knows how to run non-interactively, instead
    /// of `command` (the file may set one of the two, not both); `None` when
    /// no preset is chosen. See [`AgentPreset`] and
    /// [`stages::preset`](crate::stages::preset) for the command line each
    /// expands to.
    pub preset: Option<AgentPreset>,
    /// A coding agent that speaks the Agent Client Protocol over standard
    /// input and output (`["gemini", "--experimental-acp"]`,
    /// `["claude-code-acp"]`), run once per task instead of `command`: kiro
    /// answers its file, terminal and permission requests through the
    /// workspace policy (kiro-llm's `AcpExecutor`, which `kiro run` uses).
    /// The file may set only one of `command`, `preset` and `acp`.
    #[serde(deserialize_with = "non_empty_argv")]
    pub acp: Option<Vec<String>>,
    /// Seconds before a task is stopped and counted as failed (default 1800).
    pub timeout_secs: u64,
    /// Directories outside the workspace the agent keeps its own state in
    /// (`~/.cache/my-agent`; a leading `~/` is the home directory), which
    /// the sandbox lets it write besides the policy's writable paths. Empty
    /// by default: a confined agent writes only its repository's writable
    /// paths and a private temporary directory. See
    /// [`CommandExecutor::state_dir`](crate::stages::CommandExecutor::state_dir).
    pub state_dirs: Vec<PathBuf>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            command: None,
            preset: None,
            acp: None,
            timeout_secs: 1800,
            state_dirs: Vec::new(),
        }
    }
}

/// A coding-agent CLI that `[executor] preset` names, written in the
/// config file by its kebab-case name (`preset = "claude-code"`).
///
/// This type only names the tool; the command line each one expands to, and
/// where it reads the task brief, are documented and built in
/// [`stages::preset`](crate::stages::preset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentPreset {
    /// Anthropic's Claude Code (`claude`).
    ClaudeCode,
    /// OpenAI's Codex CLI (`codex`).
    Codex,
    /// Google's Gemini CLI (`gemini`).
    Gemini,
    /// Aider (`aider`).
    Aider,
    /// Kiro CLI (`kiro-cli`).
    KiroCli,
}

impl AgentPreset {
    /// Every preset, in the order the documentation lists them.
    pub const ALL: [AgentPreset; 5] = [
        AgentPreset::ClaudeCode,
        AgentPreset::Codex,
        AgentPreset::Gemini,
        AgentPreset::Aider,
        AgentPreset::KiroCli,
    ];

    /// The name `preset = "..."` uses (`claude-code`).
    pub fn name(self) -> &'static str {
        match self {
            AgentPreset::ClaudeCode => "claude-code",
            AgentPreset::Codex => "codex",
            AgentPreset::Gemini => "gemini",
            AgentPreset::Aider => "aider",
            AgentPreset::KiroCli => "kiro-cli",
        }
    }
}

impl std::fmt::Display for AgentPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `[verifier]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierConfig {
    /// The test command (program and arguments, no shell); `None` when no
    /// verifier is configured.
    #[serde(deserialize_with = "non_empty_argv")]
    pub command: Option<Vec<String>>,
    /// A JUnit XML report written by the test command, relative to the
    /// workspace root; when absent, only the exit status counts.
    pub junit: Option<PathBuf>,
    /// Seconds before the test command is stopped (default 900).
    pub timeout_secs: u64,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            command: None,
            junit: None,
            timeout_secs: 900,
        }
    }
}

/// `[policy]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Globs (relative to the workspace root) of the paths tasks may write;
    /// `None` when the file does not restrict them.
    pub writable: Option<Vec<String>>,
    /// Names of the programs tasks may run; `None` when the file does not
    /// restrict them.
    pub commands: Option<Vec<String>>,
    /// Whether the kernel confines an executor's writes to `writable`
    /// (Landlock): `"enforce"` refuses to run an agent it cannot confine,
    /// `"best-effort"` (the default) confines where the kernel allows, `"off"`
    /// never does. See [`crate::sandbox`].
    pub sandbox: SandboxMode,
}

/// `[limits]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// The most bytes kiro reads from one input: a spec document, a
    /// `--from` file or standard input (default 16 MiB,
    /// [`crate::store::DEFAULT_MAX_INPUT_BYTES`]). A larger input is an
    /// error naming it, never a partial read.
    #[serde(deserialize_with = "at_least_one_byte")]
    #[schemars(range(min = 1))]
    pub max_input_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_input_bytes: crate::store::DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

impl LimitsConfig {
    /// The input limit in force: the value of the
    /// [`KIRO_MAX_INPUT_BYTES`](crate::store::MAX_INPUT_BYTES_ENV)
    /// environment variable when it is set (`env` is its value; a plain
    /// number of bytes, or with a `KiB`, `MiB` or `GiB` suffix), else
    /// `max_input_bytes`. The environment wins so that one command can read
    /// a larger file without editing the workspace's config.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimit`] when `env` is not a positive number of bytes.
    ///
    /// ```
    /// use kiro_core::config::LimitsConfig;
    ///
    /// let limits = LimitsConfig { max_input_bytes: 1000 };
    /// assert_eq!(limits.resolve(None)?, 1000);
    /// assert_eq!(limits.resolve(Some("64 MiB"))?, 64 << 20);
    /// assert!(limits.resolve(Some("lots")).is_err());
    /// # Ok::<(), kiro_core::Error>(())
    /// ```
    pub fn resolve(&self, env: Option<&str>) -> Result<u64> {
        let Some(value) = env else {
            return Ok(self.max_input_bytes);
        };
        let invalid = || Error::InvalidLimit {
            name: crate::store::MAX_INPUT_BYTES_ENV.to_owned(),
            value: value.to_owned(),
        };
        let text = value.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let scale: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(invalid()),
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|n| *n > 0)
            .ok_or_else(invalid)
    }
}

/// Rejects `max_input_bytes = 0`, which would refuse every file.
fn at_least_one_byte<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Unsigned(0),
            &"a number of bytes of at least 1",
        ));
    }
    Ok(n)
}

/// Rejects `jobs = 0`, which would make a run wait forever.
fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Unsigned(0),
            &"an integer of at least 1",
        ));
    }
    Ok(n)
}

/// Rejects `max_concurrency = 0`, which would never send a request.
fn optional_at_least_one<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<usize>, D::Error> {
    at_least_one(d).map(Some)
}

/// Rejects `timeout_secs = 0`, which would abandon every request.
fn optional_at_least_one_u64<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Unsigned(0),
            &"a number of seconds of at least 1",
        ));
    }
    Ok(Some(n))
}

/// Rejects `command = []`, which names no program to run.
fn non_empty_argv<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    let argv = Vec::<String>::deserialize(d)?;
    if argv.is_empty() || argv.first().is_some_and(String::is_empty) {
        return Err(serde::de::Error::invalid_length(
            0,
            &"a non-empty array of strings whose first element names a program",
        ));
    }
    Ok(Some(argv))
}

impl Config {
    /// Reads a config file; a missing file means the defaults. The file is
    /// read with the default input limit (its own `[limits]` cannot apply
    /// before it is read).
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        match crate::store::read_text_file(path, crate::store::DEFAULT_MAX_INPUT_BYTES)? {
            Some(text) => Config::parse(&text, path),
            None => Ok(Config::default()),
        }
    }

    /// Reads `<root>/.kiro/config.toml`; a missing file means the defaults.
    pub fn load_workspace(root: impl AsRef<Path>) -> Result<Config> {
        Config::load(root.as_ref().join(CONFIG_PATH))
    }

    /// Parses the text of a config file; `path` only names the file in errors.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| config_error(text, path.as_ref(), &e))?;
        let e = &config.executor;
        if [e.command.is_some(), e.preset.is_some(), e.acp.is_some()]
            .iter()
            .filter(|set| **set)
            .count()
            > 1
        {
            return Err(command_and_preset(text, path.as_ref()));
        }
        Ok(config)
    }

    /// Renders the configuration as TOML (every key, defaults included).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Backend(Box::new(e)))
    }
}

/// Lint checks the plan in the order the workspace's runs use. The impl
/// lives here, not in `lint`, because lint sits below the configuration:
/// a linter built without the `engine` feature has no `Config`.
///
/// ```
/// use kiro_core::config::Config;
/// use kiro_core::lint::LintOptions;
/// use kiro_core::spec::TaskOrder;
///
/// let config = Config::parse("[pipeline]\norder = \"declared\"\n", ".kiro/config.toml")?;
/// assert_eq!(LintOptions::from(&config), LintOptions::default().order(TaskOrder::Declared));
/// # Ok::<(), kiro_core::Error>(())
/// ```
impl From<&Config> for crate::lint::LintOptions {
    fn from(config: &Config) -> Self {
        crate::lint::LintOptions::default().order(config.pipeline.order)
    }
}

/// Turns a TOML error into [`Error::Config`], locating its span in `text`.
pub(crate) fn config_error(text: &str, path: &Path, e: &toml::de::Error) -> Error {
    let offset = e.span().map_or(0, |span| span.start);
    let (line, column) = line_col(text, offset);
    // The toml crate joins "what was found" and "what was expected" in one
    // message: serde's form is "..., expected X", the TOML parser's form puts
    // "expected X" on its own line. Splitting them lets callers show each.
    let raw = e.message().trim();
    let (message, expected) = if let Some((found, expected)) = raw.split_once(", expected ") {
        (found.trim().to_owned(), Some(expected.trim().to_owned()))
    } else if let Some((found, expected)) = raw.split_once("\nexpected ") {
        (found.trim().to_owned(), Some(expected.trim().to_owned()))
    } else {
        (raw.to_owned(), None)
    };
    Error::Config {
        path: path.to_owned(),
        line,
        column,
        message: message.replace('\n', "; "),
        expected,
    }
}

/// Where `[executor]`'s `command` and `preset` values start in the text:
/// read again only to place the error when both are set, because serde's
/// derive sees one field at a time and cannot say where a pair conflicts.
#[derive(Deserialize)]
struct ExecutorSpans {
    #[serde(default)]
    executor: Option<ExecutorKeySpans>,
}

#[derive(Deserialize)]
struct ExecutorKeySpans {
    command: Option<toml::Spanned<toml::Value>>,
    preset: Option<toml::Spanned<toml::Value>>,
    acp: Option<toml::Spanned<toml::Value>>,
}

/// [`Error::Config`] for an `[executor]` that sets more than one of
/// `command`, `preset` and `acp`, at whichever the file writes last (the
/// one that contradicts what was already said), naming the first two set.
fn command_and_preset(text: &str, path: &Path) -> Error {
    let mut set: Vec<(&str, usize)> = toml::from_str::<ExecutorSpans>(text)
        .ok()
        .and_then(|s| s.executor)
        .map(|e| {
            [("command", e.command), ("preset", e.preset), ("acp", e.acp)]
                .into_iter()
                .filter_map(|(key, v)| v.map(|v| (key, v.span().start)))
                .collect()
        })
        .unwrap_or_default();
    let offset = set.iter().map(|(_, at)| *at).max().unwrap_or(0);
    set.sort_by_key(|(key, _)| ["command", "preset", "acp"].iter().position(|k| k == key));
    let (first, second) = match set.as_slice() {
        [(a, _), (b, _), ..] => (*a, *b),
        _ => ("command", "preset"),
    };
    let (line, column) = line_col(text, offset);
    Error::Config {
        path: path.to_owned(),
        line,
        column,
        message: format!("`[executor]` sets both `{first}` and `{second}`"),
        expected: Some(
            "one of `command`, `preset` and `acp`: each is a whole way of running the agent"
                .to_owned(),
        ),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    #[test]
    fn limits_section() {
        let config = Config::parse("[limits]\nmax_input_bytes = 1024\n", "c.toml").unwrap();
        assert_eq!(config.limits.max_input_bytes, 1024);
        assert_eq!(
            Config::default().limits.max_input_bytes,
            crate::store::DEFAULT_MAX_INPUT_BYTES
        );
        for bad in [
            "max_input_bytes = 0",
            "max_input_bytes = -1",
            "max_bytes = 5",
        ] {
            let err = Config::parse(&format!("[limits]\n{bad}\n"), "c.toml").unwrap_err();
            assert!(matches!(err, Error::Config { line: 2, .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn llm_section() {
        let text = "[llm]\nprovider = \"anthropic\"\nmodel = \"m\"\nbase_url = \"http://h\"\napi_key_env = \"MY_KEY\"\nmax_concurrency = 3\ntimeout_secs = 30\n";
        let config = Config::parse(text, "c.toml").unwrap();
        assert_eq!(
            config.llm,
            LlmSection {
                provider: Some(LlmProvider::Anthropic),
                model: Some("m".into()),
                base_url: Some("http://h".into()),
                api_key_env: Some("MY_KEY".into()),
                max_concurrency: Some(3),
                timeout_secs: Some(30),
                cache: None,
                cache_dir: None,
                prices: BTreeMap::new(),
            }
        );
        let text = "[llm]\nmodel = \"m\"\n[llm.prices.m]\ninput = 0.15\noutput = 0.6\n";
        let llm = Config::parse(text, "c.toml").unwrap().llm;
        assert_eq!(
            llm.prices.get("m"),
            Some(&ModelPrice {
                input: 0.15,
                output: 0.6
            })
        );
        for bad in [
            "[llm.prices.m]\ninput = -1.0\noutput = 1.0\n",
            "[llm.prices.m]\ninput = 1.0\n",
            "[llm.prices.m]\ninput = 1.0\noutput = 1.0\ncurrency = \"eur\"\n",
        ] {
            assert!(Config::parse(bad, "c.toml").is_err(), "{bad}");
        }
        let text = "[llm]\ncache = \"replay-only\"\ncache_dir = \"rec\"\n";
        let llm = Config::parse(text, "c.toml").unwrap().llm;
        assert_eq!(llm.cache, Some(LlmCacheMode::ReplayOnly));
        assert_eq!(llm.cache_dir, Some(PathBuf::from("rec")));
        for mode in LlmCacheMode::ALL {
            let text = format!("[llm]\ncache = \"{}\"\n", mode.as_str());
            assert_eq!(
                Config::parse(&text, "c.toml").unwrap().llm.cache,
                Some(mode)
            );
        }
        assert_eq!(Config::default().llm, LlmSection::default());
        for provider in LlmProvider::ALL {
            let text = format!("[llm]\nprovider = \"{}\"\n", provider.as_str());
            assert_eq!(
                Config::parse(&text, "c.toml").unwrap().llm.provider,
                Some(provider)
            );
        }
        for bad in [
            "provider = \"gemini\"",
            "max_concurrency = 0",
            "timeout_secs = 0",
            "api_key = \"sk-secret\"",
            "cache = \"replay\"",
        ] {
            let err = Config::parse(&format!("[llm]\n{bad}\n"), "c.toml").unwrap_err();
            assert!(matches!(err, Error::Config { line: 2, .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn environment_overrides_the_limit() {
        let limits = LimitsConfig { max_input_bytes: 5 };
        for (env, expected) in [
            (None, Some(5)),
            (Some("7"), Some(7)),
            (Some(" 2KiB "), Some(2048)),
            (Some("3 GiB"), Some(3 << 30)),
            (Some("1B"), Some(1)),
            (Some("0"), None),
            (Some(""), None),
            (Some("1.5MiB"), None),
            (Some("12 MB"), None),
            (Some("99999999999999999999"), None),
            (Some("18446744073709551615 GiB"), None),
        ] {
            let got = limits.resolve(env).ok();
            assert_eq!(got, expected, "{env:?}");
        }
        let err = limits.resolve(Some("lots")).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid KIRO_MAX_INPUT_BYTES=\"lots\""),
            "{err}"
        );
    }
}
