//! `LlmConfig` from `[llm]` and an injected environment.

use std::collections::HashMap;
use std::time::Duration;

use kiro_core::config::Config;
use kiro_llm::{LlmConfig, LlmError, Provider};

/// A config file, the environment, and what it resolves to.
type Case<T> = (&'static str, &'static [(&'static str, &'static str)], T);

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve(toml: &str, vars: &[(&str, &str)]) -> Result<LlmConfig, LlmError> {
    let file = Config::parse(toml, ".kiro/config.toml").unwrap();
    LlmConfig::resolve(&file.llm, &env(vars))
}

/// (provider, model, base URL, key) of a resolved config.
type Summary<'a> = (Provider, &'a str, &'a str, Option<&'a str>);

fn summary(config: &LlmConfig) -> Summary<'_> {
    (
        config.provider,
        &config.model,
        &config.base_url,
        config.api_key.as_ref().map(|k| k.expose()),
    )
}

#[test]
fn file_environment_and_presets() {
    let file = "[llm]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n";
    let cases: &[Case<Summary<'static>>] = &[
        (file, &[("OPENAI_API_KEY", "sk-1")], (Provider::Openai, "gpt-4o-mini", "https://api.openai.com/v1", Some("sk-1"))),
        // Environment wins over the file; ollama is the local preset, keyless.
        (file, &[("KIRO_LLM_PROVIDER", "Ollama"), ("KIRO_LLM_MODEL", "qwen3")],
         (Provider::Ollama, "qwen3", "http://localhost:11434/v1", None)),
        // An OpenAI-compatible server of one's own needs no key.
        (file, &[("KIRO_LLM_BASE_URL", "http://127.0.0.1:8000/v1")],
         (Provider::Openai, "gpt-4o-mini", "http://127.0.0.1:8000/v1", None)),
        ("[llm]\nprovider = \"anthropic\"\nmodel = \"claude\"\n", &[("ANTHROPIC_API_KEY", "ak")],
         (Provider::Anthropic, "claude", "https://api.anthropic.com", Some("ak"))),
        // api_key_env replaces the provider's variable.
        ("[llm]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://h/v1\"\napi_key_env = \"VLLM_KEY\"\n",
         &[("VLLM_KEY", " v-key\n"), ("OPENAI_API_KEY", "not-this")],
         (Provider::Openai, "m", "http://h/v1", Some("v-key"))),
        // Nothing in the file: everything from the environment.
        ("", &[("KIRO_LLM_PROVIDER", "bedrock"), ("KIRO_LLM_MODEL", "anthropic.claude-v2")],
         (Provider::Bedrock, "anthropic.claude-v2", "", None)),
    ];
    for (toml, vars, expected) in cases {
        let config = resolve(toml, vars).unwrap();
        assert_eq!(summary(&config), *expected, "{toml:?} {vars:?}");
    }
    let config = resolve(
        "[llm]\nprovider = \"ollama\"\nmodel = \"m\"\nmax_concurrency = 9\ntimeout_secs = 7\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        (config.max_concurrency, config.timeout),
        (9, Duration::from_secs(7))
    );
}

#[test]
fn errors_name_the_setting_or_variable() {
    let openai = "[llm]\nprovider = \"openai\"\nmodel = \"m\"\n";
    let cases: &[Case<&str>] = &[
        (openai, &[], "openai needs an API key: set the environment variable OPENAI_API_KEY"),
        (openai, &[("OPENAI_API_KEY", "  ")], "openai needs an API key: set the environment variable OPENAI_API_KEY"),
        ("[llm]\nprovider = \"anthropic\"\nmodel = \"m\"\n", &[], "anthropic needs an API key: set the environment variable ANTHROPIC_API_KEY"),
        ("[llm]\nprovider = \"ollama\"\nmodel = \"m\"\napi_key_env = \"MINE\"\n", &[], "ollama needs an API key: set the environment variable MINE"),
        ("[llm]\nmodel = \"m\"\n", &[], "invalid llm setting [llm] provider: no provider configured; set it in [llm] or KIRO_LLM_PROVIDER"),
        ("[llm]\nprovider = \"ollama\"\n", &[], "invalid llm setting [llm] model: no model configured; set it in [llm] or KIRO_LLM_MODEL"),
        (openai, &[("KIRO_LLM_PROVIDER", "gemini")], "invalid llm setting KIRO_LLM_PROVIDER: unknown provider \"gemini\"; expected one of openai, anthropic, bedrock, ollama"),
        (openai, &[("KIRO_LLM_BASE_URL", "localhost:8000"), ("OPENAI_API_KEY", "k")], "invalid llm setting base_url: \"localhost:8000\" is not an http:// or https:// URL"),
    ];
    for (toml, vars, expected) in cases {
        let error = resolve(toml, vars).unwrap_err();
        assert_eq!(error.to_string(), *expected, "{toml:?} {vars:?}");
    }
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let key = "sk-proj-SECRET-abcdef123456";
    let config = resolve(
        "[llm]\nprovider = \"openai\"\nmodel = \"m\"\n",
        &[("OPENAI_API_KEY", key)],
    )
    .unwrap();
    let client = kiro_llm::connect(&config).unwrap();
    let provider = kiro_llm::OpenAiCompatible::new(&config.base_url, "m")
        .unwrap()
        .api_key(config.api_key.clone().unwrap());
    let reliable = kiro_llm::Reliable::new(provider.clone());
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{provider:?}"),
        format!("{reliable:?}"),
        format!("{}", config.api_key.as_ref().unwrap()),
    ] {
        assert!(!shown.contains(key) && !shown.contains("SECRET"), "{shown}");
    }
    assert!(format!("{config:?}").contains("[redacted]"));
    drop(client);
}
