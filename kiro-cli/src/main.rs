//! `kiro`: the command line for Kiro specs (`.kiro/specs/<feature>/`).
//!
//! The binary is deliberately thin: it parses arguments, finds the
//! workspace, calls `kiro-core` and prints. Every behaviour worth testing
//! on its own lives in the library.
//!
//! Exit status is a contract: 0 success, 1 findings (`spec lint` at or above
//! the `--deny` level, `spec fmt --check` with files to reformat, a
//! `spec list` with a folder that cannot be loaded, a `run`
//! that failed, a `verify` with a failed criterion or, under
//! `--require-coverage`, an untested one, an `audit verify` that found the
//! chain broken), 2 usage, workspace or I/O errors, printed to stderr as
//! `error: ...`, 3 a `run` stopped at an unapproved gate, 130 a `run`
//! interrupted by Ctrl-C.

mod cli;
mod commands;
mod engine;
mod jwks;
mod mcp;
mod models;
mod output;
mod step_summary;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

/// Exit status for usage, workspace and I/O errors (clap uses it for usage errors too).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    // `kiro __sandbox ...` is the launcher kiro runs each agent through
    // (kiro_core::sandbox): it must restrict itself before anything else
    // runs, so it is dispatched before clap, and it is not a command for
    // people (hidden from help).
    let mut args = std::env::args_os();
    if args
        .nth(1)
        .is_some_and(|a| a == engine::LAUNCHER_SUBCOMMAND)
    {
        return kiro_core::sandbox::launcher_main(args);
    }
    // On bad usage clap prints its message and exits with status 2 itself.
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
