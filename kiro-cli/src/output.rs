//! Writing to standard output without panicking when the reader goes away.
//!
//! `println!` panics on a closed pipe (`kiro spec list | head -1`), so every
//! command writes through [`print`](fn@print), which treats a broken pipe as the
//! reader's wish to stop rather than as an error.

use std::io::{ErrorKind, Write};

use anyhow::{Context, Result};

/// Writes `text` to standard output as is.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// [`print()`] for text holding untrusted strings (node names, paths, link
/// targets): the control characters of each line are shown escaped, so
/// that a value cannot add rows or send terminal escape sequences.
pub(crate) fn print_escaped(text: &str) -> Result<()> {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&kiro_core::escape::escape_control(line));
        out.push('\n');
    }
    print(&out)
}

/// Writes `text` and a newline to standard output.
pub(crate) fn println(text: &str) -> Result<()> {
    print(&format!("{text}\n"))
}

/// Writes `text` to the file `path` when given (creating its parent
/// folders), else to standard output.
pub(crate) fn emit(path: Option<&std::path::Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => print(text),
    }
}

/// Whether the terminal format should use colour: standard output is a
/// terminal, nothing is written to a file, and `NO_COLOR` is unset.
pub(crate) fn color(to_file: bool) -> bool {
    use std::io::IsTerminal;
    !to_file
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
