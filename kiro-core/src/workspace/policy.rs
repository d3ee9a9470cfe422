//! What a run may change: writable path globs and allowed commands.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which paths stages may write and which commands they may run.
///
/// `writable` holds globs matched against paths relative to a repository
/// root, with `/` as separator: `*` stays inside one folder, `**` crosses
/// folders (`src/**` is everything under `src`, `**/*.rs` every Rust file).
/// `commands` lists what may run: an entry without spaces is a program name,
/// matched against the base name of `argv[0]` (`cargo` allows
/// `/usr/bin/cargo build`); an entry with spaces is an argv prefix
/// (`cargo test` allows `cargo test --all` but not `cargo publish`); `*`
/// allows everything. Both lists empty (the default) means read-only and no
/// commands: permissions are granted, never assumed.
///
/// ```
/// use kiro_core::workspace::Policy;
///
/// let policy = Policy {
///     writable: vec!["src/**".into(), "*.md".into()],
///     commands: vec!["cargo test".into(), "npm".into()],
/// };
/// assert!(policy.is_writable("src/lib/mod.rs")?);
/// assert!(!policy.is_writable("Cargo.toml")?);
/// assert!(policy.check_command(&["cargo", "test", "--all"]).is_ok());
/// assert!(policy.check_command(&["/usr/bin/npm", "ci"]).is_ok());
/// assert!(policy.check_command(&["cargo", "publish"]).is_err());
/// # Ok::<(), kiro_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Globs of writable paths, relative to a repository root.
    pub writable: Vec<String>,
    /// Allowed programs (`cargo`) or argv prefixes (`cargo test`); `*` allows all.
    pub commands: Vec<String>,
}

impl Policy {
    /// A policy that allows writing every path and running every command.
    pub fn permissive() -> Policy {
        Policy {
            writable: vec!["**".into()],
            commands: vec!["*".into()],
        }
    }

    /// Compiles the writable globs (what [`crate::workspace::Workspace`] does once at build time).
    pub fn writable_set(&self) -> Result<WritableSet> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.writable {
            // A literal separator keeps `*` inside one folder, as in `.gitignore`.
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| Error::InvalidGlob {
                    pattern: pattern.clone(),
                    message: e.kind().to_string(),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| Error::InvalidGlob {
            pattern: self.writable.join(", "),
            message: e.to_string(),
        })?;
        Ok(WritableSet { set })
    }

    /// Whether `path` (relative to a repository root) matches a writable glob.
    ///
    /// Compiles the globs on each call; hold a [`WritableSet`] to check many paths.
    pub fn is_writable(&self, path: impl AsRef<Path>) -> Result<bool> {
        Ok(self.writable_set()?.matches(path))
    }

    /// Allows `argv` when an entry of `commands` names its program or an argv prefix.
    ///
    /// Returns [`Error::CommandDenied`] naming the command otherwise, and for an empty `argv`.
    pub fn check_command<S: AsRef<str>>(&self, argv: &[S]) -> Result<()> {
        if self.allows(argv) {
            Ok(())
        } else {
            let command = argv.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
            Err(Error::CommandDenied { command })
        }
    }

    fn allows<S: AsRef<str>>(&self, argv: &[S]) -> bool {
        let Some((program, args)) = argv.split_first() else {
            return false;
        };
        let program = program.as_ref();
        let base = Path::new(program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(program);
        self.commands.iter().any(|entry| {
            let mut words = entry.split_whitespace();
            match words.next() {
                None => false,
                Some("*") => words.next().is_none(),
                Some(first) if first == program || first == base => {
                    let rest: Vec<&str> = words.collect();
                    rest.len() <= args.len()
                        && rest
                            .iter()
                            .zip(args)
                            .all(|(want, got)| *want == got.as_ref())
                }
                Some(_) => false,
            }
        })
    }
}

/// Compiled writable globs of a [`Policy`].
#[derive(Clone, Debug)]
pub struct WritableSet {
    set: GlobSet,
}

impl WritableSet {
    /// Whether `path` (relative to a repository root) matches a writable glob.
    pub fn matches(&self, path: impl AsRef<Path>) -> bool {
        // globset normalises `\` to `/` on Windows, so globs are written with `/` everywhere.
        self.set.is_match(path.as_ref())
    }
}
