//! Finding the workspace root and the spec folders named on the command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kiro_core::config::{Config, LimitsConfig};
use kiro_core::store::{self, LoadOptions, LoadedSpec};

/// The workspace a command works in: an absolute, canonical root holding `.kiro/`.
pub(crate) struct Workspace {
    root: PathBuf,
    cwd: PathBuf,
}

impl Workspace {
    /// Uses `--workspace DIR` when given, else the nearest ancestor of the
    /// current directory that holds `.kiro/`.
    pub(crate) fn locate(explicit: Option<&Path>) -> Result<Workspace> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let root = match explicit {
            Some(dir) => {
                let dir = cwd.join(dir);
                if !dir.join(".kiro").is_dir() {
                    bail!(
                        "{} is not a kiro workspace (it has no .kiro/ folder); run `kiro init` there first",
                        dir.display()
                    );
                }
                dir
            }
            None => store::find_workspace_root(&cwd).with_context(|| {
                format!(
                    "no kiro workspace in {} or any parent directory (no .kiro/ folder found); \
                     run `kiro init` or pass --workspace DIR",
                    cwd.display()
                )
            })?,
        };
        // Canonical paths let every printed path be made relative to the root,
        // whether a spec was named or given as a (relative) path.
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", root.display()))?;
        Ok(Workspace { root, cwd })
    }

    /// The root folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the root when it lies inside it, else unchanged.
    pub(crate) fn display<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }

    /// The spec folders named by `args`, or every spec when `args` is empty.
    pub(crate) fn spec_dirs(&self, args: &[String]) -> Result<Vec<PathBuf>> {
        if args.is_empty() {
            return store::list_specs(&self.root)
                .with_context(|| format!("cannot list the specs of {}", self.root.display()));
        }
        args.iter().map(|a| self.spec_dir(a)).collect()
    }

    /// Resolves one `<SPEC>` argument (a name or a path) to an existing folder.
    pub(crate) fn spec_dir(&self, arg: &str) -> Result<PathBuf> {
        let resolved = store::resolve_spec(&self.root, arg);
        let dir = self.cwd.join(resolved);
        if !dir.is_dir() {
            let known = store::list_specs(&self.root).unwrap_or_default();
            let names: Vec<String> = known
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            let hint = if names.is_empty() {
                "the workspace has no specs yet; create one with `kiro spec new <NAME>`".to_owned()
            } else {
                format!("known specs: {}", names.join(", "))
            };
            bail!(
                "unknown spec `{arg}`: no folder {} ({hint})",
                self.display(&dir).display()
            );
        }
        dir.canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))
    }

    /// Loads a spec folder, with its path in the error message.
    pub(crate) fn load(&self, dir: &Path) -> Result<LoadedSpec> {
        let options = self.load_options()?;
        store::load_spec_with(dir, &options)
            .with_context(|| format!("cannot load spec {}", self.display(dir).display()))
    }

    /// How this workspace reads its inputs: the input limit of
    /// `KIRO_MAX_INPUT_BYTES` when set, else of `[limits]` in
    /// `.kiro/config.toml` (read only then, so that the variable works
    /// even where the config cannot be read).
    pub(crate) fn load_options(&self) -> Result<LoadOptions> {
        let env = std::env::var(store::MAX_INPUT_BYTES_ENV).ok();
        let limits = match env {
            Some(_) => LimitsConfig::default(),
            None => {
                Config::load_workspace(&self.root)
                    .context("cannot read the input limit from the workspace config")?
                    .limits
            }
        };
        Ok(LoadOptions {
            max_input_bytes: limits.resolve(env.as_deref())?,
        })
    }
}
