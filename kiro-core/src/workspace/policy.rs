//! What a run may change: writable path globs and allowed commands.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sandbox::WritableRoot;

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

    /// What a kernel sandbox can grant for the writable globs: the
    /// directories and files, relative to a repository root, beneath which
    /// writes are allowed ([`crate::sandbox`]).
    ///
    /// A glob with a wildcard grants its literal directory prefix: `src/**`
    /// and `src/*.rs` grant the directory `src`, `docs/api/*.md` the
    /// directory `docs/api`, and a glob that starts with a wildcard (`**`,
    /// `*.md`, `{src,tests}/**`) the repository root. A glob without one
    /// names a single path and grants that file when it exists (it can then
    /// be rewritten in place, not created, removed or replaced by a rename,
    /// which need rights on its directory). This is coarser than the
    /// globs (the kernel binds directory hierarchies, not patterns), never
    /// finer. A glob with `..`, `.` or an absolute path grants nothing: it
    /// would reach outside the repository. A root inside another granted
    /// directory is left out, so the list is minimal and sorted.
    ///
    /// ```
    /// use kiro_core::sandbox::WritableRoot;
    /// use kiro_core::workspace::Policy;
    ///
    /// let policy = Policy {
    ///     writable: vec!["src/**".into(), "src/gen/*.rs".into(), "docs/*.md".into(), "README.md".into()],
    ///     ..Policy::default()
    /// };
    /// assert_eq!(policy.writable_roots(), [
    ///     WritableRoot::File("README.md".into()),
    ///     WritableRoot::Dir("docs".into()),
    ///     WritableRoot::Dir("src".into()),
    /// ]);
    /// ```
    pub fn writable_roots(&self) -> Vec<WritableRoot> {
        let mut roots: Vec<WritableRoot> = self
            .writable
            .iter()
            .filter_map(|glob| writable_root(glob))
            .collect();
        roots.sort_by(|a, b| a.path().cmp(b.path()));
        roots.dedup();
        let dirs: Vec<PathBuf> = roots
            .iter()
            .filter_map(|r| match r {
                WritableRoot::Dir(d) => Some(d.clone()),
                WritableRoot::File(_) => None,
            })
            .collect();
        // `Path::starts_with` compares whole components, and the empty path
        // (the root) is a prefix of every path.
        roots.retain(|r| {
            !dirs
                .iter()
                .any(|d| d != r.path() && r.path().starts_with(d))
        });
        roots
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

/// The root one writable glob grants, if any.
fn writable_root(glob: &str) -> Option<WritableRoot> {
    let parts: Vec<&str> = glob.split('/').collect();
    let literal = parts
        .iter()
        .take_while(|p| !p.contains(['*', '?', '[', ']', '{', '}', '\\']))
        .count();
    let whole = literal == parts.len();
    // The last part of a glob with a wildcard is a file pattern even when
    // literal (`src/**` has none; `src/x/` ends in an empty part).
    let dir_parts = parts.get(..literal).unwrap_or_default();
    let mut path = PathBuf::new();
    for part in dir_parts.iter().filter(|p| !p.is_empty()) {
        let mut components = Path::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(c)), None) => path.push(c),
            _ => return None,
        }
    }
    if glob.starts_with('/') {
        return None;
    }
    if whole {
        if glob.ends_with('/') || path.as_os_str().is_empty() {
            // `src/` matches nothing globset would ever be asked about.
            return None;
        }
        return Some(WritableRoot::File(path));
    }
    Some(WritableRoot::Dir(path))
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

#[cfg(test)]
mod tests {
    use super::Policy;
    use crate::sandbox::WritableRoot;

    fn check(globs: &[&str], expected: &[&str]) {
        let policy = Policy {
            writable: globs.iter().map(|g| (*g).to_owned()).collect(),
            ..Policy::default()
        };
        let got: Vec<String> = policy
            .writable_roots()
            .iter()
            .map(|r| match r {
                WritableRoot::Dir(d) => format!("{}/", d.display()),
                WritableRoot::File(f) => f.display().to_string(),
            })
            .collect();
        assert_eq!(got, expected, "{globs:?}");
    }

    #[test]
    fn writable_roots_are_the_literal_directory_prefixes() {
        check(&["src/**"], &["src/"]);
        check(&["src/*.rs"], &["src/"]);
        check(&["docs/api/*.md"], &["docs/api/"]);
        check(&["src/**/*.rs", "tests/**"], &["src/", "tests/"]);
        check(&["**"], &["/"]);
        check(&["*.md"], &["/"]);
        check(&["{src,tests}/**"], &["/"]);
        check(&["src/[ab]/x"], &["src/"]);
        check(
            &["README.md", "docs/guide.md"],
            &["README.md", "docs/guide.md"],
        );
    }

    #[test]
    fn nested_and_duplicate_roots_are_left_out() {
        check(&["src/**", "src/gen/**", "src/lib.rs", "src/**"], &["src/"]);
        check(&["**", "src/**", "README.md"], &["/"]);
        check(&["srcx/**", "src/**"], &["src/", "srcx/"]);
    }

    #[test]
    fn globs_reaching_outside_the_repository_grant_nothing() {
        check(
            &["../outside/**", "/etc/**", "./src/**", "a/../b/**", "src/"],
            &[],
        );
        check(&[], &[]);
    }
}
