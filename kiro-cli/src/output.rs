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

/// Writes `text` and a newline to standard output.
pub(crate) fn println(text: &str) -> Result<()> {
    print(&format!("{text}\n"))
}
