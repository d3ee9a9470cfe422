//! `.kiro/config.toml`: defaults, the `kiro init` template, typed errors.
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiro_core::config::{AgentPreset, Config, ExecutorConfig, PipelineConfig, TaskOrder};
use kiro_core::Error;

/// The `CONFIG_TEMPLATE` constant of `kiro init`, read from its source so that
/// this test follows the template when it changes.
fn init_template() -> String {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kiro-cli/src/commands/init.rs"
    ))
    .unwrap();
    let start = src.find("CONFIG_TEMPLATE: &str = r#\"").unwrap();
    let rest = &src[start..];
    let open = rest.find("r#\"").unwrap() + 3;
    let close = rest.find("\"#;").unwrap();
    rest[open..close].to_owned()
}

/// The template with every setting uncommented: `# [table]`, `# key = ...`
/// and `# # comment` lines lose their first `# `; prose stays commented.
fn uncomment(template: &str) -> String {
    let mut out = String::new();
    for line in template.lines() {
        let setting = line.strip_prefix("# ").filter(|rest| {
            rest.starts_with('[')
                || rest.starts_with('#')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        });
        out.push_str(setting.unwrap_or(line));
        out.push('\n');
    }
    out
}

fn check_err(text: &str, line: usize, column: usize, message_part: &str, expected_part: &str) {
    match Config::parse(text, ".kiro/config.toml") {
        Err(Error::Config {
            path,
            line: l,
            column: c,
            message,
            expected,
        }) => {
            assert_eq!(path, std::path::Path::new(".kiro/config.toml"));
            assert_eq!((l, c), (line, column), "position for {text:?}: {message}");
            assert!(
                message.contains(message_part),
                "{message:?} lacks {message_part:?}"
            );
            let expected = expected.unwrap_or_default();
            assert!(
                expected.contains(expected_part),
                "{expected:?} lacks {expected_part:?}"
            );
        }
        other => panic!("expected a config error for {text:?}, got {other:?}"),
    }
}

#[test]
fn empty_and_missing_files_are_defaults() {
    assert_eq!(Config::parse("", "c.toml").unwrap(), Config::default());
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Config::load(dir.path().join("none.toml")).unwrap(),
        Config::default()
    );
    assert_eq!(
        Config::load_workspace(dir.path()).unwrap(),
        Config::default()
    );
    let d = Config::default();
    assert_eq!(d.pipeline.jobs, 4);
    assert!(!d.pipeline.fail_fast);
    assert_eq!(d.pipeline.order, TaskOrder::Document);
    assert_eq!(d.executor.timeout_secs, 1800);
    assert_eq!(d.verifier.timeout_secs, 900);
    assert_eq!(d.executor.command, None);
    assert_eq!(d.policy.writable, None);
}

#[test]
fn init_template_is_the_defaults() {
    let template = init_template();
    assert!(template.contains("[pipeline]"));
    assert_eq!(
        Config::parse(&template, "c.toml").unwrap(),
        Config::default()
    );
}

#[test]
fn uncommented_init_template_parses_every_setting() {
    let text = uncomment(&init_template());
    let config = Config::parse(&text, "c.toml").unwrap();
    assert_eq!(config.pipeline, PipelineConfig::default());
    assert_eq!(
        config.executor,
        ExecutorConfig {
            command: Some(vec!["my-agent".into(), "--task".into(), "-".into()]),
            preset: None,
            acp: None,
            timeout_secs: 1800,
            state_dirs: vec!["~/.cache/my-agent".into()],
        }
    );
    assert_eq!(config.llm.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(config.llm.prices["gpt-4o-mini"].output, 0.6);
    assert_eq!(
        config.checkpoints.dir.as_deref(),
        Some(std::path::Path::new("~/.local/state/kiro/my-project"))
    );
    assert_eq!(config.limits.max_input_bytes, 16 * 1024 * 1024);
    assert_eq!(
        config.policy.sandbox,
        kiro_core::sandbox::SandboxMode::BestEffort
    );
    assert_eq!(
        config.verifier.command,
        Some(vec!["cargo".to_string(), "test".to_string()])
    );
    assert_eq!(
        config.verifier.junit.as_deref(),
        Some(std::path::Path::new("target/junit.xml"))
    );
    assert_eq!(config.verifier.timeout_secs, 900);
    assert_eq!(
        config.policy.writable,
        Some(vec!["src/**".to_string(), "tests/**".to_string()])
    );
    assert_eq!(
        config.policy.commands,
        Some(vec!["cargo".to_string(), "git".to_string()])
    );
}

#[test]
fn settings_round_trip_through_toml() {
    let mut config = Config::default();
    config.pipeline.jobs = 2;
    config.pipeline.fail_fast = true;
    config.pipeline.order = TaskOrder::Declared;
    config.executor.command = Some(vec!["agent".into()]);
    config.policy.commands = Some(vec!["cargo".into()]);
    let text = config.to_toml().unwrap();
    assert_eq!(Config::parse(&text, "c.toml").unwrap(), config);
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kiro/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "[pipeline]\njobs = 1\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().pipeline.jobs, 1);
    std::fs::write(&path, "[pipeline]\njobz = 1\n").unwrap();
    let err = Config::load_workspace(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(".kiro/config.toml:2:1: unknown field `jobz`"),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_errors_with_their_position() {
    check_err(
        "[pipeline]\nfail-fast = true\n",
        2,
        1,
        "unknown field `fail-fast`",
        "fail_fast",
    );
    check_err(
        "[pipelin]\njobs = 2\n",
        1,
        2,
        "unknown field `pipelin`",
        "pipeline",
    );
    check_err(
        "\n[executor]\ntimeout_secs = 1\n  shell = \"sh\"\n",
        4,
        3,
        "unknown field `shell`",
        "command",
    );
    check_err("top = 1\n", 1, 1, "unknown field `top`", "executor");
    check_err(
        "[policy]\nwritable = []\nnetwork = true\n",
        3,
        1,
        "unknown field `network`",
        "commands",
    );
    check_err(
        "[verifier]\njunit = \"x\"\nreport = \"x\"\n",
        3,
        1,
        "unknown field `report`",
        "junit",
    );
}

#[test]
fn wrong_types_are_errors_with_what_was_expected() {
    check_err(
        "[pipeline]\njobs = \"four\"\n",
        2,
        8,
        "invalid type: string \"four\"",
        "",
    );
    check_err(
        "[pipeline]\njobs = 0\n",
        2,
        8,
        "invalid value",
        "at least 1",
    );
    check_err(
        "[pipeline]\nfail_fast = 1\n",
        2,
        13,
        "invalid type: integer",
        "bool",
    );
    check_err(
        "[pipeline]\norder = \"random\"\n",
        2,
        9,
        "unknown variant `random`",
        "document",
    );
    check_err(
        "[executor]\ncommand = \"my-agent --task\"\n",
        2,
        11,
        "invalid type: string",
        "sequence",
    );
    check_err(
        "[executor]\ncommand = []\n",
        2,
        11,
        "invalid length 0",
        "non-empty array",
    );
    check_err(
        "[executor]\ntimeout_secs = -5\n",
        2,
        16,
        "invalid value",
        "u64",
    );
    check_err(
        "pipeline = 3\n",
        1,
        12,
        "invalid type: integer",
        "struct PipelineConfig",
    );
}

#[test]
fn syntax_errors_have_a_position() {
    match Config::parse("[pipeline]\njobs = \n", "c.toml") {
        Err(Error::Config { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
    match Config::parse("[pipeline\n", "c.toml") {
        Err(Error::Config { line, .. }) => assert_eq!(line, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    check_err(
        "# héllo wörld\n[pipeline]\nx = 1 \n",
        3,
        1,
        "unknown field `x`",
        "jobs",
    );
    check_err(
        "[pipeline]\njobs = 1 # ö\n  \"jöbs\" = 1\n",
        3,
        3,
        "unknown field `jöbs`",
        "jobs",
    );
    check_err(
        "[pipeline] # ö\njobs = 1\nfail_fast = \"ö\" \n",
        3,
        13,
        "invalid type",
        "bool",
    );
    check_err(
        "[policy]\nwritable = [\"ö\", 1]\n",
        2,
        18,
        "invalid type: integer",
        "string",
    );
}

#[test]
fn schema_names_every_table() {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
    let text = schema.to_string();
    for key in [
        "pipeline",
        "executor",
        "verifier",
        "policy",
        "fail_fast",
        "junit",
        "writable",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}

// `[executor] preset`: a known agent CLI instead of a command line.

#[test]
fn a_preset_is_read_by_its_name_and_round_trips() {
    for preset in AgentPreset::ALL {
        let text = format!("[executor]\npreset = \"{}\"\n", preset.name());
        let config = Config::parse(&text, "c.toml").unwrap();
        assert_eq!(config.executor.preset, Some(preset), "{text}");
        assert_eq!(config.executor.command, None);
        let again = Config::parse(&config.to_toml().unwrap(), "c.toml").unwrap();
        assert_eq!(again, config);
    }
    let names: Vec<String> = AgentPreset::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["claude-code", "codex", "gemini", "aider", "kiro-cli"]
    );
}

#[test]
fn an_unknown_preset_is_an_error_at_its_line_listing_the_valid_ones() {
    let text = "[executor]\ntimeout_secs = 60\npreset = \"cursor\"\n";
    let err = Config::parse(text, ".kiro/config.toml").unwrap_err();
    let Error::Config {
        line,
        column,
        ref message,
        ref expected,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((line, column), (3, 10), "{err}");
    assert!(message.contains("cursor"), "{message}");
    let expected = expected.as_deref().unwrap_or_default();
    for preset in AgentPreset::ALL {
        assert!(expected.contains(&format!("`{preset}`")), "{expected}");
    }
    // A preset is a name, not a command line.
    let err = Config::parse("[executor]\npreset = [\"claude\"]\n", "c.toml").unwrap_err();
    assert!(matches!(err, Error::Config { line: 2, .. }), "{err}");
}

#[test]
fn a_command_and_a_preset_together_are_an_error_at_the_later_one() {
    for (text, line, column) in [
        (
            "[executor]\ncommand = [\"my-agent\"]\ntimeout_secs = 5\npreset = \"codex\"\n",
            4,
            10,
        ),
        (
            "[executor]\npreset = \"gemini\"\n\n  command = [\"my-agent\", \"-\"]\n",
            4,
            13,
        ),
        (
            "executor = { preset = \"aider\", command = [\"a\"] }\n",
            1,
            42,
        ),
    ] {
        let err = Config::parse(text, ".kiro/config.toml").unwrap_err();
        assert!(
            matches!(err, Error::Config { line: l, column: c, .. } if (l, c) == (line, column)),
            "{text:?}: {err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!(
                ".kiro/config.toml:{line}:{column}: `[executor]` sets both `command` and `preset`"
            )),
            "{shown}"
        );
    }
}

#[test]
fn an_acp_agent_is_a_third_way_to_run_tasks_and_excludes_the_others() {
    let config = Config::parse(
        "[executor]\nacp = [\"gemini\", \"--experimental-acp\"]\n",
        ".kiro/config.toml",
    )
    .unwrap();
    assert_eq!(
        config.executor.acp,
        Some(vec!["gemini".to_owned(), "--experimental-acp".to_owned()])
    );
    // Not a command kiro runs with the brief on standard input.
    assert!(kiro_core::stages::CommandExecutor::from_config(&config.executor).is_none());
    // At the value the file writes last.
    for (text, first, second, at) in [
        (
            "[executor]\ncommand = [\"a\"]\nacp = [\"b\"]\n",
            "command",
            "acp",
            "3:7",
        ),
        (
            "[executor]\nacp = [\"b\"]\npreset = \"codex\"\n",
            "preset",
            "acp",
            "3:10",
        ),
    ] {
        let err = Config::parse(text, ".kiro/config.toml").unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!(
                ".kiro/config.toml:{at}: `[executor]` sets both `{first}` and `{second}`"
            )),
            "{shown}"
        );
    }
    assert!(Config::parse("[executor]\nacp = []\n", "c.toml").is_err());
}

#[test]
fn the_init_template_names_every_preset() {
    let template = init_template();
    let line = template
        .lines()
        .find(|l| l.contains("preset = "))
        .expect("a commented line naming the presets");
    assert!(
        line.starts_with("# # "),
        "a comment even uncommented: {line}"
    );
    for preset in AgentPreset::ALL {
        assert!(line.contains(&format!("\"{preset}\"")), "{line}");
    }
}
