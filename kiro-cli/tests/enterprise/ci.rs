//! The CI recipe `examples/ci/kiro.yml`: every `kiro` command it runs
//! exists with the flags it passes (checked against `kiro ... --help` and
//! by running it in a workspace), the SARIF upload reads the file verify
//! writes, and `GITHUB_STEP_SUMMARY` gets the summaries.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{code, expect_code, kiro_cmd, stdout};

const WORKFLOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ci/kiro.yml");

/// Every step of every job, in order.
fn steps() -> Vec<Value> {
    let text = std::fs::read_to_string(WORKFLOW).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    doc["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_array().unwrap().clone())
        .collect()
}

/// The `kiro ...` command lines of the workflow, split into words.
fn kiro_commands(steps: &[Value]) -> Vec<Vec<String>> {
    steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| l.starts_with("kiro "))
        .map(|l| {
            assert!(
                !l.contains(['"', '\'', '$', '|', '>', '&', ';']),
                "keep the recipe's kiro lines plain words: {l}"
            );
            l.split_whitespace().skip(1).map(str::to_owned).collect()
        })
        .collect()
}

/// `kiro <path> --help`.
fn help(dir: &Path, path: &[String]) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let out = kiro_cmd(dir, &args).output().unwrap();
    expect_code(&out, 0);
    stdout(&out)
}

/// The subcommands a help text lists.
fn subcommands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The long flags a help text lists.
fn flags(help: &str) -> BTreeSet<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .split('=')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn the_recipe_runs_commands_the_cli_accepts() {
    let ws = crate::mcp::workspace();
    let root = ws.path();
    std::fs::rename(
        root.join(".kiro/specs/notes"),
        root.join(".kiro/specs/my-feature"),
    )
    .unwrap();
    let steps = steps();

    // kiro is installed from this repository's CLI package.
    assert!(
        steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.contains("cargo install") && r.contains("kiro-cli")),
        "no step installs kiro"
    );

    let commands = kiro_commands(&steps);
    let names: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    assert!(
        names.iter().any(|c| c.starts_with("spec lint --deny")),
        "{names:?}"
    );
    let verify = commands
        .iter()
        .find(|c| c[0] == "verify")
        .unwrap_or_else(|| panic!("no verify step in {names:?}"));
    assert!(
        verify.windows(2).any(|w| w == ["--format", "sarif"]),
        "{verify:?}"
    );

    for command in &commands {
        // The command path, checked level by level against the help.
        let mut path: Vec<String> = Vec::new();
        for word in command {
            if word.starts_with('-') {
                break;
            }
            if subcommands(&help(root, &path)).contains(word) {
                path.push(word.clone());
            } else {
                break;
            }
        }
        assert!(
            !path.is_empty(),
            "`kiro {}` names no command",
            command.join(" ")
        );
        let known = flags(&help(root, &path));
        for word in command.iter().filter(|w| w.starts_with("--")) {
            assert!(
                known.contains(word),
                "`kiro {}`: {word} is not a flag of it",
                path.join(" ")
            );
        }
        // And the CLI accepts the whole line: findings (1) are fine, usage
        // errors (2) are not.
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let out = kiro_cmd(root, &args).output().unwrap();
        assert!(
            code(&out) == 0 || code(&out) == 1,
            "`kiro {}` exited {}: {}",
            command.join(" "),
            code(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The upload reads the file verify wrote, and it is a SARIF log.
    let output = verify
        .windows(2)
        .find(|w| w[0] == "--output" || w[0] == "-o")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| panic!("verify writes no file: {verify:?}"));
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .unwrap();
    assert_eq!(upload["with"]["sarif_file"].as_str(), Some(output.as_str()));
    assert_eq!(
        upload["if"].as_str(),
        Some("always()"),
        "upload even when verify fails"
    );
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(&output)).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 2);
}

#[test]
fn verify_and_lint_append_a_step_summary() {
    let ws = crate::mcp::workspace();
    let root = ws.path();
    let summary = root.join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = kiro_cmd(root, &["verify", "notes", "--format", "sarif"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    expect_code(&out, 0);
    // Standard output is the SARIF log alone.
    let sarif: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["none", "warning"]);

    let out = kiro_cmd(root, &["spec", "lint", "--deny", "warnings"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert!(code(&out) <= 1);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("earlier step\n### ✅ kiro verify `notes`\n"),
        "{text}"
    );
    assert!(text.contains("| 2 | 1 | 0 | 1 |"), "{text}");
    assert!(
        text.contains("| 1.2 | untested | WHEN a user deletes a note, THE App SHALL remove it |"),
        "{text}"
    );
    assert!(text.contains("kiro spec lint"), "{text}");

    // With --require-coverage the untested criterion fails the step and
    // the summary says so.
    let out = kiro_cmd(root, &["verify", "notes", "--no-run", "--require-coverage"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    expect_code(&out, 1);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("### ❌ kiro verify `notes`"), "{text}");
}

#[test]
fn task_commands_walk_a_spec_by_hand() {
    let ws = crate::mcp::workspace();
    let root = ws.path();
    let out = kiro_cmd(root, &["task", "next", "notes"]).output().unwrap();
    expect_code(&out, 0);
    assert!(
        stdout(&out).starts_with("1.1 Write the model\n    # Task 1.1"),
        "{}",
        stdout(&out)
    );
    let out = kiro_cmd(root, &["task", "start", "notes", "1.2"])
        .output()
        .unwrap();
    expect_code(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("waits for task 1.1"),
        "{out:?}"
    );
    expect_code(
        &kiro_cmd(root, &["task", "start", "notes", "1.1"])
            .output()
            .unwrap(),
        0,
    );
    let out = kiro_cmd(
        root,
        &[
            "task", "done", "notes", "1.1", "-m", "model", "--format", "json",
        ],
    )
    .output()
    .unwrap();
    expect_code(&out, 0);
    let done: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(done["ready"], serde_json::json!(["1.2"]));
    let tasks = std::fs::read_to_string(root.join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(tasks.contains("  - [x] 1.1 Write the model\n"), "{tasks}");
}
