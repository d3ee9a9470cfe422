//! `.kiro/workspace.toml`: the repositories a project's runs work on.
//!
//! ```toml
//! [repos.api]
//! path = "../api"          # relative to the project root (the folder holding `.kiro/`), or absolute
//! default = true           # tasks that name no repository and mention none of its paths run here
//! description = "REST API" # optional
//!
//! [repos.web]
//! path = "../web"
//! ```
//!
//! Without the file a project is one repository, [`DEFAULT_REPO`], at its
//! root, as before. With it, the project root is a repository only when an
//! entry says `path = "."`; otherwise it is added anyway as repository
//! [`DEFAULT_REPO`] (after the declared ones, and never the default unless
//! no entry is), because the spec's own files live there: the engine marks
//! tasks in `tasks.md` and checkpoints record those marks through the
//! workspace, which only sees files inside a repository.
//!
//! Every error is an [`Error::Config`] naming the file, line and column of
//! the entry at fault: an unknown key, a name outside `[A-Za-z0-9_-]`, a
//! missing `path`, a path that does not exist or is not a folder, two
//! entries for the same folder (after resolving symlinks), one repository
//! inside another (the project root included, when it is a repository),
//! and a second `default = true`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Policy, WorkspaceBuilder, DEFAULT_REPO};
use crate::config::{config_error, line_col};
use crate::error::{Error, Result};

/// Where the manifest lives, relative to the project root.
pub const MANIFEST_PATH: &str = ".kiro/workspace.toml";

/// One repository of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoEntry {
    /// The name tasks use (`_Repos: api_`): the key of `[repos.<name>]`.
    pub name: String,
    /// The `path` as written (`"../api"`); `"."` for the project root.
    pub path: String,
    /// The repository's folder, canonical (symlinks resolved).
    pub root: PathBuf,
    /// `default = true`.
    pub default: bool,
    /// The optional `description`.
    pub description: Option<String>,
    /// `true` for the project root added as [`DEFAULT_REPO`] because no
    /// entry named it (see the module docs).
    pub implicit: bool,
}

/// The repositories of a project: `.kiro/workspace.toml` read and checked,
/// or the single repository at the root when the file is absent.
///
/// ```
/// use kiro_core::workspace::WorkspaceManifest;
///
/// let dir = tempfile::tempdir()?;
/// let root = dir.path().join("project");
/// std::fs::create_dir_all(root.join(".kiro"))?;
/// std::fs::create_dir_all(dir.path().join("api"))?;
/// std::fs::write(
///     root.join(".kiro/workspace.toml"),
///     "[repos.api]\npath = \"../api\"\ndefault = true\n",
/// )?;
/// let manifest = WorkspaceManifest::load(&root)?;
/// assert_eq!(manifest.names(), ["api", "main"]); // the root is added as `main`
/// assert_eq!(manifest.default_repo(), "api");
/// let ws = manifest.builder().build()?;
/// assert_eq!(ws.default_repo(), "api");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceManifest {
    /// The repositories in the order the file lists them, then the project
    /// root when it was added implicitly.
    pub repos: Vec<RepoEntry>,
    /// The manifest file, `None` when the project has none.
    pub file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    repos: BTreeMap<Spanned<String>, Spanned<RawRepo>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    path: Option<Spanned<String>>,
    #[serde(default)]
    default: Option<Spanned<bool>>,
    #[serde(default)]
    description: Option<String>,
}

impl WorkspaceManifest {
    /// The manifest of a project without `.kiro/workspace.toml`: one
    /// repository, [`DEFAULT_REPO`], at `root`.
    pub fn single(root: impl AsRef<Path>) -> Result<WorkspaceManifest> {
        let root = root.as_ref();
        Ok(WorkspaceManifest {
            repos: vec![RepoEntry {
                name: DEFAULT_REPO.to_owned(),
                path: ".".to_owned(),
                root: canonical(root)?,
                default: false,
                description: None,
                implicit: true,
            }],
            file: None,
        })
    }

    /// Reads `<root>/.kiro/workspace.toml`; an absent file is
    /// [`WorkspaceManifest::single`].
    pub fn load(root: impl AsRef<Path>) -> Result<WorkspaceManifest> {
        let root = root.as_ref();
        let file = root.join(MANIFEST_PATH);
        match crate::store::read_text_file(&file, crate::store::DEFAULT_MAX_INPUT_BYTES)? {
            Some(text) => WorkspaceManifest::parse(&text, root, &file),
            None => WorkspaceManifest::single(root),
        }
    }

    /// Parses a manifest's text; relative paths are taken from `root`, and
    /// `file` names the manifest in errors.
    pub fn parse(
        text: &str,
        root: impl AsRef<Path>,
        file: impl AsRef<Path>,
    ) -> Result<WorkspaceManifest> {
        let (root, file) = (root.as_ref(), file.as_ref());
        let raw: RawManifest = toml::from_str(text).map_err(|e| config_error(text, file, &e))?;
        let at = |offset: usize, message: String, expected: Option<&str>| {
            let (line, column) = line_col(text, offset);
            Error::Config {
                path: file.to_owned(),
                line,
                column,
                message,
                expected: expected.map(str::to_owned),
            }
        };
        let project = canonical(root)?;
        // The map is sorted by name; the file's order decides which entry is
        // "first" (the default when none says so), so restore it.
        let mut entries: Vec<(Spanned<String>, Spanned<RawRepo>)> = raw.repos.into_iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);

        let mut repos: Vec<RepoEntry> = Vec::with_capacity(entries.len() + 1);
        // Where each entry's key and default flag stand, for later errors.
        let mut key_at: Vec<usize> = Vec::with_capacity(entries.len());
        let mut default_at: Option<(String, usize)> = None;
        for (name, repo) in entries {
            let name_at = name.span().start;
            let name = name.into_inner();
            if !is_repo_name(&name) {
                return Err(at(
                    name_at,
                    format!("repository name {name:?} has characters other than letters, digits, `_` and `-`"),
                    Some("a name of ASCII letters, digits, `_` and `-`"),
                ));
            }
            let repo = repo.into_inner();
            let Some(path) = repo.path else {
                return Err(at(
                    name_at,
                    format!("repository {name:?} has no `path`"),
                    Some("`path = \"<folder>\"`, relative to the project root or absolute"),
                ));
            };
            let path_at = path.span().start;
            let path = path.into_inner();
            let joined = if Path::new(&path).is_absolute() {
                PathBuf::from(&path)
            } else {
                root.join(&path)
            };
            let repo_root = match fs::canonicalize(&joined) {
                Ok(c) if c.is_dir() => c,
                Ok(_) => {
                    return Err(at(
                        path_at,
                        format!("repository {name:?}: {} is not a folder", joined.display()),
                        None,
                    ))
                }
                Err(e) => {
                    return Err(at(
                        path_at,
                        format!("repository {name:?}: {}: {e}", joined.display()),
                        Some("an existing folder"),
                    ))
                }
            };
            let default = match repo.default {
                Some(flag) if *flag.get_ref() => {
                    let flag_at = flag.span().start;
                    if let Some((first, _)) = &default_at {
                        return Err(at(
                            flag_at,
                            format!(
                                "repositories {first:?} and {name:?} both say `default = true`"
                            ),
                            Some("at most one default repository"),
                        ));
                    }
                    default_at = Some((name.clone(), flag_at));
                    true
                }
                _ => false,
            };
            for other in &repos {
                let clash = if other.root == repo_root {
                    Some("are the same folder")
                } else if repo_root.starts_with(&other.root) || other.root.starts_with(&repo_root) {
                    Some("are nested, one inside the other")
                } else {
                    None
                };
                if let Some(clash) = clash {
                    return Err(at(
                        path_at,
                        format!(
                            "repositories {:?} ({}) and {name:?} ({}) {clash}",
                            other.name,
                            other.root.display(),
                            repo_root.display()
                        ),
                        Some("each repository in a folder of its own"),
                    ));
                }
            }
            key_at.push(name_at);
            repos.push(RepoEntry {
                name,
                path,
                root: repo_root,
                default,
                description: repo.description,
                implicit: false,
            });
        }

        if !repos.iter().any(|r| r.root == project) {
            // The spec files must be inside a repository (see the module
            // docs), so the root joins as `main`: a name an entry cannot
            // take then, and a root no entry may sit inside.
            for (r, &offset) in repos.iter().zip(&key_at) {
                if r.name == DEFAULT_REPO {
                    return Err(at(
                        offset,
                        format!("repository name {DEFAULT_REPO:?} is the project root's when no entry has `path = \".\"`"),
                        Some(&format!("another name, or `path = \".\"` for {DEFAULT_REPO:?}")),
                    ));
                }
                if r.root.starts_with(&project) {
                    return Err(at(
                        offset,
                        format!(
                            "repository {:?} ({}) is inside the project root, which is repository {DEFAULT_REPO:?}",
                            r.name,
                            r.root.display()
                        ),
                        Some("a folder outside the project root"),
                    ));
                }
            }
            repos.push(RepoEntry {
                name: DEFAULT_REPO.to_owned(),
                path: ".".to_owned(),
                root: project,
                default: false,
                description: None,
                implicit: true,
            });
        }
        Ok(WorkspaceManifest {
            repos,
            file: Some(file.to_owned()),
        })
    }

    /// The repository tasks work in when they name none: the one with
    /// `default = true`, else the first.
    pub fn default_repo(&self) -> &str {
        self.repos
            .iter()
            .find(|r| r.default)
            .or_else(|| self.repos.first())
            .map_or(DEFAULT_REPO, |r| r.name.as_str())
    }

    /// The repository names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.repos.iter().map(|r| r.name.as_str()).collect()
    }

    /// The entry named `name`.
    pub fn repo(&self, name: &str) -> Option<&RepoEntry> {
        self.repos.iter().find(|r| r.name == name)
    }

    /// The repository whose folder holds `path` (absolute), if any.
    pub fn repo_of(&self, path: &Path) -> Option<&RepoEntry> {
        self.repos.iter().find(|r| path.starts_with(&r.root))
    }

    /// A [`WorkspaceBuilder`] with these repositories and their default,
    /// under the default (read-only) policy; set a [`Policy`] before
    /// building.
    pub fn builder(&self) -> WorkspaceBuilder {
        let mut builder = self
            .repos
            .iter()
            .fold(super::Workspace::builder(), |b, r| b.repo(&r.name, &r.root))
            .policy(Policy::default());
        if let Some(default) = self.repos.iter().find(|r| r.default) {
            builder = builder.default_repo(&default.name);
        }
        builder
    }
}

/// `[A-Za-z0-9_-]+`.
fn is_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn canonical(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        for (name, ok) in [
            ("api", true),
            ("web-app_2", true),
            ("", false),
            ("a b", false),
            ("a.b", false),
            ("é", false),
        ] {
            assert_eq!(is_repo_name(name), ok, "{name:?}");
        }
    }
}
