//! One run at a time per spec: an exclusive `flock` on
//! `.kiro/runs/<spec>.lock`, held for a whole run, rollback or fork.
//!
//! The kernel drops an `flock` with the process that holds it, so a lock
//! left by a killed kiro never blocks the next command; the file itself
//! stays (it only names the last holder).

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::{Error, Result};

/// An exclusive lock on one spec's runs; released when dropped.
///
/// ```
/// use kiro_core::checkpoint::SpecLock;
///
/// let dir = tempfile::tempdir()?;
/// let mut lock = SpecLock::acquire(dir.path(), "calc")?;
/// lock.set_run("20261207-0001")?;
/// // A second holder is refused, naming the first.
/// let err = SpecLock::acquire(dir.path(), "calc").unwrap_err();
/// assert!(err.to_string().contains("20261207-0001"), "{err}");
/// drop(lock);
/// assert!(SpecLock::acquire(dir.path(), "calc").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SpecLock {
    file: File,
    path: PathBuf,
    spec: String,
}

impl SpecLock {
    /// Takes the lock of `spec` in the store directory `runs_dir`
    /// (`<workspace>/.kiro/runs`), creating the directory when needed.
    ///
    /// # Errors
    /// [`Error::SpecLocked`] at once (no waiting) when another process or
    /// handle holds it, naming the holder as it recorded itself;
    /// [`Error::Io`] when the lock file cannot be opened.
    pub fn acquire(runs_dir: &Path, spec: &str) -> Result<SpecLock> {
        SpecLock::acquire_for(runs_dir, spec, None)
    }

    /// [`SpecLock::acquire`] for a holder that already knows its run (a
    /// resumed one): the run is recorded with the pid in the same write, so
    /// that a command refused a moment later names it.
    ///
    /// # Errors
    /// As [`SpecLock::acquire`].
    pub fn acquire_for(runs_dir: &Path, spec: &str, run: Option<&str>) -> Result<SpecLock> {
        fs::create_dir_all(runs_dir).map_err(io_err(runs_dir))?;
        let name: String = spec
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = runs_dir.join(format!("{name}.lock"));
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // What the holder wrote about itself; a partial read only
                // shortens the message.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::SpecLocked {
                    spec: spec.to_owned(),
                    holder: if holder.is_empty() {
                        "another kiro process".to_owned()
                    } else {
                        holder
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(200)
                            .collect()
                    },
                });
            }
            Err(TryLockError::Error(source)) => return Err(Error::Io { path, source }),
        }
        let mut lock = SpecLock {
            file,
            path,
            spec: spec.to_owned(),
        };
        lock.describe(run)?;
        Ok(lock)
    }

    /// Records the run the holder works on, so that a refused command can
    /// name it.
    ///
    /// # Errors
    /// [`Error::Io`] when the lock file cannot be written.
    pub fn set_run(&mut self, run: &str) -> Result<()> {
        self.describe(Some(run))
    }

    /// The spec this lock is for.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    fn describe(&mut self, run: Option<&str>) -> Result<()> {
        let pid = std::process::id();
        let text = match run {
            Some(run) => format!("run {run} (pid {pid})\n"),
            None => format!("pid {pid}\n"),
        };
        let path = &self.path;
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        // Written over the old text, then cut to length: a refused reader
        // never finds the file empty.
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(text.as_bytes()).map_err(io)?;
        self.file.set_len(text.len() as u64).map_err(io)
    }
}

impl Drop for SpecLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the
        // release immediate even if the handle were duplicated.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_per_spec() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = SpecLock::acquire(dir.path(), "a").unwrap();
        first.set_run("R1").unwrap();
        match SpecLock::acquire(dir.path(), "a") {
            Err(Error::SpecLocked { spec, holder }) => {
                assert_eq!(spec, "a");
                assert_eq!(holder, format!("run R1 (pid {})", std::process::id()));
            }
            other => panic!("{other:?}"),
        }
        // Another spec is independent.
        let _b = SpecLock::acquire(dir.path(), "b").unwrap();
        drop(first);
        SpecLock::acquire(dir.path(), "a").unwrap();
    }
}
