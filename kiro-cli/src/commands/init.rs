//! `kiro init`: create the `.kiro/` layout, never overwriting anything.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::output;

/// The commented defaults written to a new `.kiro/config.toml`. Every line is
/// a comment so that the file documents the settings of later features
/// without changing behaviour until someone opts in.
const CONFIG_TEMPLATE: &str = r#"# kiro workspace configuration.
#
# Every setting is commented out and shows its default; uncomment a line to
# change it. Secrets never go here: kiro reads them from environment variables.

# [pipeline]
# # How many tasks may run at the same time.
# jobs = 4
# # Stop the whole run at the first failed task. When false, only the tasks
# # that depend on the failed one are skipped.
# fail_fast = false
# # "document": each task waits for the one written before it (safe for
# # specs written for Kiro); "declared": only explicit `_Depends:_` links.
# order = "document"

# [executor]
# # Command run once per task, in the workspace root, with the task brief on
# # standard input. This is how an external coding agent is plugged in.
# command = ["my-agent", "--task", "-"]
# # Or instead a known agent CLI: preset = "claude-code" | "codex" | "gemini" | "aider" | "kiro-cli"
# # Seconds before a task is stopped and counted as failed.
# timeout_secs = 1800
# # Directories outside the workspace the agent keeps its own state in, which
# # the sandbox lets it write (a leading ~/ is your home directory).
# state_dirs = ["~/.cache/my-agent"]

# [verifier]
# # Test command run after the tasks.
# command = ["cargo", "test"]
# # JUnit XML report written by the test command, used to map tests to criteria.
# junit = "target/junit.xml"
# timeout_secs = 900

# [policy]
# # Paths (globs relative to the workspace root) that tasks may write.
# writable = ["src/**", "tests/**"]
# # Programs that tasks may run.
# commands = ["cargo", "git"]
# # Kernel confinement of the agent's writes (Linux Landlock): "enforce"
# # refuses to run an agent it cannot confine, "best-effort" confines where
# # the kernel allows, "off" never does.
# sandbox = "best-effort"

# [llm]
# # The model behind the LLM-backed stages: with a provider set, `kiro run`
# # has it write requirements, design and tasks, and run tasks through kiro's
# # agent unless [executor] names one. KIRO_LLM_PROVIDER, KIRO_LLM_MODEL and
# # KIRO_LLM_BASE_URL override these. "openai" | "anthropic" | "bedrock" | "ollama"
# provider = "openai"
# model = "gpt-4o-mini"
# # The key is read from this variable (default OPENAI_API_KEY / ANTHROPIC_API_KEY).
# api_key_env = "OPENAI_API_KEY"
# max_concurrency = 4
# timeout_secs = 120
# # "off", "read-write" (record replies) or "replay-only" (offline CI).
# cache = "off"
# # Dollars per million tokens, for the cost estimate after a run.
# [llm.prices."gpt-4o-mini"]
# input = 0.15
# output = 0.6

# [checkpoints]
# # Where the checkpoint store, run locks and audit heads live (default
# # .kiro/runs). A directory outside the workspace keeps the run history out of
# # reach of an unconfined agent's `rm -rf .kiro`.
# dir = "~/.local/state/kiro/my-project"

# [limits]
# # The most bytes kiro reads from one input (a spec document, a --from file,
# # standard input); KIRO_MAX_INPUT_BYTES overrides it for one command.
# max_input_bytes = 16777216
"#;

/// Creates `.kiro/specs/`, `.kiro/steering/` and `.kiro/config.toml` under
/// `--workspace DIR` or the current directory.
pub(super) fn run(workspace: Option<&Path>) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = workspace.map_or_else(|| cwd.clone(), |dir| cwd.join(dir));
    let kiro = root.join(".kiro");

    for sub in ["specs", "steering"] {
        let dir = kiro.join(sub);
        let existed = dir.is_dir();
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if !existed {
            output::println(&format!("created .kiro/{sub}/"))?;
        }
    }

    let config = kiro.join("config.toml");
    // `create_new` makes "never overwrite" hold even if another process
    // writes the file between a check and the write.
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config)
    {
        Ok(mut file) => {
            file.write_all(CONFIG_TEMPLATE.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", config.display()))?;
            output::println("created .kiro/config.toml")?;
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            output::println(".kiro/config.toml already exists; left unchanged")?;
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", config.display()));
        }
    }
    ignore_local_state(&root)?;
    output::println(&format!("kiro workspace ready in {}", root.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// What `kiro init` keeps out of version control: state that is local to
/// one machine and may quote agents' and tests' output.
const IGNORED: [(&str, &str); 3] = [
    (
        ".kiro/runs/",
        "checkpoints, run logs, spec locks and audit heads",
    ),
    (
        ".kiro/trace/*.report.json",
        "the results `kiro verify` stored",
    ),
    (".kiro-tmp-*", "temporary files of interrupted writes"),
];

/// The comment above the lines `kiro init` adds to `.gitignore`.
const IGNORE_HEADER: &str = "# kiro: local state (see `kiro init`)";

/// Adds the patterns of [`IGNORED`] that `.gitignore` lacks to the end of
/// `<root>/.gitignore` (creating it if needed, keeping what it holds) and
/// says what it did. Asks nothing: these files never belong in a commit.
fn ignore_local_state(root: &Path) -> Result<()> {
    let path = root.join(".gitignore");
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let text = existing.as_deref().unwrap_or_default();
    let (updated, added) = with_ignored(text);
    if added.is_empty() {
        output::println(".gitignore already ignores kiro's local state; left unchanged")?;
        return Ok(());
    }
    kiro_core::store::write_atomic(&path, updated.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let verb = if existing.is_some() {
        "added to"
    } else {
        "created"
    };
    for (pattern, what) in IGNORED.iter().filter(|(p, _)| added.contains(p)) {
        output::println(&format!("{verb} .gitignore: {pattern} ({what})"))?;
    }
    Ok(())
}

/// `text` (a `.gitignore`) with the patterns of [`IGNORED`] it lacks
/// appended under [`IGNORE_HEADER`], and those patterns. A pattern counts
/// as present when a line says the same with or without a leading `/` or
/// trailing `/`, so running `kiro init` again adds nothing.
fn with_ignored(text: &str) -> (String, Vec<&'static str>) {
    let normal = |line: &str| {
        line.trim()
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_owned()
    };
    let present: Vec<String> = text.lines().map(normal).collect();
    let added: Vec<&'static str> = IGNORED
        .iter()
        .map(|(pattern, _)| *pattern)
        .filter(|pattern| !present.contains(&normal(pattern)))
        .collect();
    if added.is_empty() {
        return (text.to_owned(), added);
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !present.iter().any(|line| line == IGNORE_HEADER) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(IGNORE_HEADER);
        out.push('\n');
    }
    for pattern in &added {
        out.push_str(pattern);
        out.push('\n');
    }
    (out, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_gets_the_missing_patterns_once() {
        let all = ".kiro/runs/\n.kiro/trace/*.report.json\n.kiro-tmp-*\n";
        let cases: [(&str, &str, usize); 5] = [
            ("", &format!("{IGNORE_HEADER}\n{all}"), 3),
            (
                "target/",
                &format!("target/\n\n{IGNORE_HEADER}\n{all}"),
                3,
            ),
            (
                "/.kiro/runs\n*.log\n",
                &format!(
                    "/.kiro/runs\n*.log\n\n{IGNORE_HEADER}\n.kiro/trace/*.report.json\n.kiro-tmp-*\n"
                ),
                2,
            ),
            (all, all, 0),
            (
                &format!("x\n\n{IGNORE_HEADER}\n.kiro/runs/\n"),
                &format!(
                    "x\n\n{IGNORE_HEADER}\n.kiro/runs/\n.kiro/trace/*.report.json\n.kiro-tmp-*\n"
                ),
                2,
            ),
        ];
        for (input, expected, added) in cases {
            let (out, patterns) = with_ignored(input);
            assert_eq!(out, expected, "{input:?}");
            assert_eq!(patterns.len(), added, "{input:?}");
            // Idempotent: a second pass adds nothing.
            assert_eq!(with_ignored(&out), (out.clone(), Vec::new()), "{input:?}");
        }
    }
}
