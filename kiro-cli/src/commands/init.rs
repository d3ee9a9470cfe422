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
# # Seconds before a task is stopped and counted as failed.
# timeout_secs = 1800

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
    output::println(&format!("kiro workspace ready in {}", root.display()))?;
    Ok(ExitCode::SUCCESS)
}
