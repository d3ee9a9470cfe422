//! Which repositories of the workspace each task works in.
//!
//! A task's repositories are, in this order of preference: the names of its
//! `_Repos:` line ([`Task::repos`]); its parent's (inherited down the task
//! tree by a sub-task that names none); the repositories the paths of its
//! brief point into ([`infer_repos`]); the workspace's default repository.
//! The first one is where its executor runs. A name the workspace does not
//! know stops the run before any task starts ([`Error::UnknownTaskRepo`]).

use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::memory::RecallRequest;
use crate::plan::TaskGraph;
use crate::spec::Task;
use crate::workspace::Workspace;

/// The paths a task's title and details mention: its code spans that read
/// as paths (`` `api/src/lib.rs` ``, `` `Cargo.toml` ``), then words outside
/// them with a `/` (`web/index.html`), trailing punctuation trimmed; each
/// once, in order. URLs, absolute paths and paths with `..` are left out:
/// they name nothing inside a repository.
///
/// ```
/// use kiro_core::pipeline::task_paths;
/// use kiro_core::spec::Task;
///
/// let task = Task {
///     title: "Add the `api/src/routes.rs` handler and call it from web/app.ts.".into(),
///     ..Task::default()
/// };
/// assert_eq!(task_paths(&task), ["api/src/routes.rs", "web/app.ts"]);
/// ```
pub fn task_paths(task: &Task) -> Vec<String> {
    let request = RecallRequest::for_task("", task);
    let mut out: Vec<String> = Vec::new();
    let mut push = |path: &str| {
        let path = path.strip_prefix("./").unwrap_or(path);
        let inside = !path.is_empty()
            && !path.contains("://")
            && Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if inside && !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    };
    for path in &request.paths {
        if let Some(path) = path.to_str() {
            push(path);
        }
    }
    for word in request.text.split_whitespace() {
        let word = word.trim_matches(|c: char| {
            matches!(
                c,
                '`' | '\''
                    | '"'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | ','
                    | '.'
                    | ';'
                    | ':'
                    | '!'
                    | '?'
                    | '*'
                    | '_'
            )
        });
        if word.contains('/') {
            push(word);
        }
    }
    out
}

/// The repositories a task that names none works in, from the paths it
/// mentions ([`task_paths`]): a path whose first component is a repository
/// name (`api/src/lib.rs` → `api`) belongs to that repository; another
/// belongs to the one repository where it `exists`, and to none when it
/// exists in several or none. Each repository once, in order of mention;
/// empty when no path says.
///
/// `repos` are the workspace's names; `exists(repo, path)` says whether
/// `path` is there in `repo` (the engine asks the workspace, which refuses
/// paths leading out of the repository).
///
/// ```
/// use kiro_core::pipeline::infer_repos;
/// use kiro_core::spec::Task;
///
/// let task = Task { title: "Fix `web/app.ts` and `schema.sql`".into(), ..Task::default() };
/// let exists = |repo: &str, path: &str| repo == "api" && path == "schema.sql";
/// assert_eq!(infer_repos(&task, &["api", "web"], exists), ["web", "api"]);
/// ```
pub fn infer_repos(
    task: &Task,
    repos: &[&str],
    exists: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in task_paths(task) {
        let first = path.split('/').next().unwrap_or_default();
        let found = if path.contains('/') && repos.contains(&first) {
            Some(first)
        } else {
            let mut holding = repos.iter().filter(|r| exists(r, &path));
            match (holding.next(), holding.next()) {
                (Some(only), None) => Some(*only),
                _ => None,
            }
        };
        if let Some(repo) = found {
            if !out.iter().any(|r| r == repo) {
                out.push(repo.to_owned());
            }
        }
    }
    out
}

/// The repositories of every task of `graph`, by [`TaskIndex`] position
/// (see the module docs), checked against the workspace: a name it does not
/// know is [`Error::UnknownTaskRepo`].
///
/// [`TaskIndex`]: crate::plan::TaskIndex
pub(crate) fn assign(graph: &TaskGraph, ws: &Workspace) -> Result<Vec<Arc<[String]>>> {
    let known: Vec<&str> = ws.repos().collect();
    // Named repositories by task path; parents come before their
    // sub-tasks in document order, so a sub-task finds its parent's here.
    let mut named: HashMap<&[usize], Vec<String>> = HashMap::new();
    let mut out = Vec::with_capacity(graph.len());
    for (_, node) in graph.nodes() {
        let own = unique(&node.task.repos);
        let explicit = if own.is_empty() {
            node.path
                .split_last()
                .and_then(|(_, parent)| named.get(parent))
                .cloned()
                .unwrap_or_default()
        } else {
            own
        };
        if let Some(unknown) = explicit.iter().find(|r| !known.contains(&r.as_str())) {
            return Err(Error::UnknownTaskRepo {
                task: node.id.to_string(),
                repo: unknown.clone(),
                known: known.iter().map(|r| (*r).to_owned()).collect(),
            });
        }
        let repos = if !explicit.is_empty() {
            explicit.clone()
        } else {
            let inferred = infer_repos(&node.task, &known, |repo, path| {
                ws.resolve(repo, path).is_ok_and(|p| p.exists())
            });
            if inferred.is_empty() {
                vec![ws.default_repo().to_owned()]
            } else {
                inferred
            }
        };
        named.insert(node.path.as_slice(), explicit);
        out.push(Arc::from(repos));
    }
    Ok(out)
}

/// `names` without repeats, in order.
fn unique(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(title: &str, details: &[&str]) -> Task {
        Task {
            title: title.to_owned(),
            details: details.iter().map(|d| (*d).to_owned()).collect(),
            ..Task::default()
        }
    }

    /// `exists` for a fixed listing of (repo, path).
    fn listing<'a>(files: &'a [(&'a str, &'a str)]) -> impl Fn(&str, &str) -> bool + 'a {
        move |repo, path| files.iter().any(|(r, p)| *r == repo && *p == path)
    }

    #[test]
    fn paths_mentioned() {
        for (title, details, expected) in [
            ("Edit `api/src/lib.rs`", &[][..], &["api/src/lib.rs"][..]),
            ("Edit web/app.ts, then test", &[], &["web/app.ts"]),
            ("Edit `./web/app.ts`", &[], &["web/app.ts"]),
            ("Update `Cargo.toml`", &[], &["Cargo.toml"]),
            ("See https://example.com/a/b", &[], &[]),
            ("Not `../other/x.rs` nor /etc/passwd", &[], &[]),
            ("Version 1.2 of the API", &[], &[]),
            ("Title", &["Touch `web/a.ts` and web/a.ts"], &["web/a.ts"]),
        ] {
            assert_eq!(task_paths(&task(title, details)), expected, "{title:?}");
        }
    }

    #[test]
    fn inference() {
        let repos = ["api", "web", "main"];
        let files = [
            ("api", "schema.sql"),
            ("api", "README.md"),
            ("web", "README.md"),
            ("web", "src/app.ts"),
        ];
        for (title, expected) in [
            ("Add `api/src/routes.rs`", &["api"][..]),
            ("Change `web/x.ts` then `api/y.rs`", &["web", "api"]),
            ("Migrate `schema.sql`", &["api"]),
            ("Fix `src/app.ts`", &["web"]),
            ("Update `README.md` everywhere", &[]),
            ("Do `unknown/file.rs`", &[]),
            ("No paths at all", &[]),
            ("Twice `api/a.rs` `api/b.rs`", &["api"]),
        ] {
            let got = infer_repos(&task(title, &[]), &repos, listing(&files));
            assert_eq!(got, expected, "{title:?}");
        }
    }
}
