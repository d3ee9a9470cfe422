//! The command lines of `[executor] preset`: each coding-agent CLI kiro
//! knows, run non-interactively by [`CommandExecutor`] once per task, so a
//! user plugs in the agent they already have without learning its flags.
//!
//! | Preset | Command line | Where the brief goes |
//! |---|---|---|
//! | `claude-code` | `claude -p --permission-mode bypassPermissions --output-format text "<instruction>"` | standard input |
//! | `codex` | `codex exec --sandbox workspace-write --skip-git-repo-check --color never -` | standard input |
//! | `gemini` | `gemini --yolo --output-format text -p "<instruction>"` | standard input |
//! | `aider` | `aider --yes-always --no-auto-commits --no-dirty-commits --no-gitignore --no-pretty --no-check-update --chat-history-file /dev/null --input-history-file /dev/null --message "<brief>"` | the `--message` argument |
//! | `kiro-cli` | `kiro-cli chat --no-interactive --trust-all-tools` | standard input |
//!
//! `<instruction>` is [`PRESET_INSTRUCTION`]. Every flag is one the tool
//! documents for scripted use; the reason for each is on its
//! [`AgentPreset`] arm in [`preset_command`]. Three choices hold for all:
//!
//! - **Non-interactive.** Each tool runs one request and exits, printing its
//!   final answer on standard output, whose last line becomes the task's
//!   summary.
//! - **The brief on standard input where the tool reads it there**, so that
//!   its size is not bounded by the kernel's argument limit and it stays out
//!   of the process list; only Aider takes its message as an argument
//!   ([`BriefInput::Argument`]).
//! - **Actions approved without asking.** Nobody is at the terminal to
//!   approve a file edit or a test run, so each tool's own approval prompt is
//!   turned off; what bounds the agent is kiro's sandbox (Landlock confines
//!   writes to `[policy] writable`, and the after-task policy check reverts
//!   anything outside it). Run presets with `[policy] sandbox = "enforce"`
//!   where the kernel has Landlock; where it has not, the agent runs with
//!   your rights.
//!
//! Agents keep sessions and credentials in their home directories
//! (`~/.claude`, `~/.codex`, `~/.gemini`, `~/.kiro`); under Landlock, grant
//! the one your agent needs with `[executor] state_dirs`. A preset's
//! command line is fixed: for other flags (a model, a profile), write
//! `[executor] command` instead, starting from the line above.
//!
//! ```
//! use kiro_core::config::{AgentPreset, Config};
//! use kiro_core::stages::{BriefInput, CommandExecutor};
//!
//! let config = Config::parse("[executor]\npreset = \"codex\"\n", ".kiro/config.toml")?;
//! let exec = CommandExecutor::from_config(&config.executor).unwrap();
//! assert_eq!(exec.argv()[..2], ["codex", "exec"]);
//! assert_eq!(exec.brief(), BriefInput::Stdin);
//! assert_eq!(CommandExecutor::preset(AgentPreset::Aider).brief(), BriefInput::Argument);
//! # Ok::<(), kiro_core::Error>(())
//! ```

use crate::config::AgentPreset;

use super::command::{BriefInput, CommandExecutor};

/// The prompt argument of the presets whose tool reads piped standard input
/// as context for a prompt given on the command line (Claude Code, Gemini
/// CLI): it points the agent at the brief it reads there and asks for a
/// last line kiro keeps as the task's summary.
pub const PRESET_INSTRUCTION: &str = "Carry out the task described on standard input: \
     change the files of this repository as it asks, run what you need to check your work, \
     and end with one line that summarises what you did.";

/// A preset's command line and where its tool reads the brief.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresetCommand {
    /// The program and its arguments, without the brief.
    pub argv: &'static [&'static str],
    /// Standard input, or one more argument after `argv`.
    pub brief: BriefInput,
}

/// The command line `preset` expands to; the table in the
/// [module documentation](self) lists them all.
pub fn preset_command(preset: AgentPreset) -> PresetCommand {
    match preset {
        // Claude Code, "Run Claude Code programmatically" and the CLI
        // reference: `-p` (`--print`) runs one request non-interactively and
        // prints the result; `cat file | claude -p "query"` is the
        // documented form for piped content, the query being the
        // instruction. `--permission-mode bypassPermissions` (the same as
        // `--dangerously-skip-permissions`) approves edits and commands,
        // which print mode would otherwise refuse with nobody to ask; the
        // documentation reserves it for isolated environments, which kiro's
        // sandbox provides. `--output-format text` prints only the final
        // answer (not `json`/`stream-json`), so its last line is a summary.
        AgentPreset::ClaudeCode => PresetCommand {
            argv: &[
                "claude",
                "-p",
                "--permission-mode",
                "bypassPermissions",
                "--output-format",
                "text",
                PRESET_INSTRUCTION,
            ],
            brief: BriefInput::Stdin,
        },
        // Codex CLI, "Non-interactive mode" and the `codex exec` reference:
        // `codex exec` runs without the TUI, streams progress to standard
        // error and prints only the final agent message on standard output;
        // the prompt `-` reads the instructions from standard input.
        // `--sandbox workspace-write` lets it edit the working directory
        // and run commands inside Codex's own sandbox (`exec` never stops to
        // ask for approval; the default sandbox is read-only).
        // `--skip-git-repo-check` lets it run in a workspace that is not a
        // Git repository, and `--color never` keeps escape codes out of the
        // captured output.
        AgentPreset::Codex => PresetCommand {
            argv: &[
                "codex",
                "exec",
                "--sandbox",
                "workspace-write",
                "--skip-git-repo-check",
                "--color",
                "never",
                "-",
            ],
            brief: BriefInput::Stdin,
        },
        // Gemini CLI, "Headless mode" and "Automate tasks with headless
        // mode": `-p` (`--prompt`) runs headless, and piped standard input
        // is read as context for it (`cat error.log | gemini -p "..."`).
        // `--yolo` auto-approves every tool call (headless mode has no one
        // to confirm edits or shell commands); `--output-format text`
        // prints the final answer only.
        AgentPreset::Gemini => PresetCommand {
            argv: &[
                "gemini",
                "--yolo",
                "--output-format",
                "text",
                "-p",
                PRESET_INSTRUCTION,
            ],
            brief: BriefInput::Stdin,
        },
        // Aider, "Scripting aider" and the options reference: `--message`
        // sends one message, applies the edits and exits (Aider does not
        // read a message from standard input, so the brief is the
        // argument). `--yes-always` answers every confirmation (adding files
        // to the chat, creating them). kiro checkpoints and rolls back
        // changes itself, so Aider must not commit them (`--no-auto-commits`,
        // `--no-dirty-commits`) nor edit `.gitignore` (`--no-gitignore`),
        // and its chat and input histories go to `/dev/null`
        // (`--chat-history-file`, `--input-history-file`) instead of files
        // in the repository that the policy check would count as writes
        // outside the writable paths. `--no-pretty` keeps colours out of the
        // captured output and `--no-check-update` keeps a task off the
        // network for anything but the model.
        AgentPreset::Aider => PresetCommand {
            argv: &[
                "aider",
                "--yes-always",
                "--no-auto-commits",
                "--no-dirty-commits",
                "--no-gitignore",
                "--no-pretty",
                "--no-check-update",
                "--chat-history-file",
                "/dev/null",
                "--input-history-file",
                "/dev/null",
                "--message",
            ],
            brief: BriefInput::Argument,
        },
        // Kiro CLI, "Headless mode": `kiro-cli chat --no-interactive` runs
        // one instruction and exits; "when stdin is piped and no positional
        // argument is given, Kiro reads the full stream as the instruction".
        // `--trust-all-tools` approves its tool calls for the session (the
        // one trust flag whose meaning does not depend on the CLI's version;
        // `--trust-tools` takes tool names that changed between 2.x and 3.x).
        AgentPreset::KiroCli => PresetCommand {
            argv: &["kiro-cli", "chat", "--no-interactive", "--trust-all-tools"],
            brief: BriefInput::Stdin,
        },
    }
}

impl CommandExecutor {
    /// Runs the coding-agent CLI `preset` names, with the command line and
    /// brief placement of [`preset_command`] (see the
    /// [module documentation](crate::stages::preset)), without a time limit.
    pub fn preset(preset: AgentPreset) -> CommandExecutor {
        let command = preset_command(preset);
        CommandExecutor::new(command.argv.iter().copied()).brief_input(command.brief)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_runs_the_program_it_is_named_for() {
        for (preset, program) in [
            (AgentPreset::ClaudeCode, "claude"),
            (AgentPreset::Codex, "codex"),
            (AgentPreset::Gemini, "gemini"),
            (AgentPreset::Aider, "aider"),
            (AgentPreset::KiroCli, "kiro-cli"),
        ] {
            assert_eq!(preset_command(preset).argv.first(), Some(&program));
        }
    }
}
