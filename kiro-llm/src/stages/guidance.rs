//! The context block every prompt ends with: the workspace's steering files
//! that apply, and what the memory store recalls.
//!
//! Steering files are `.kiro/steering/*.md` of the workspace's default
//! (first) repository, read through [`Workspace`](kiro_core::workspace::Workspace)
//! and parsed with [`kiro_core::format::parse_steering`]. A file is
//! included when its `inclusion` is `always` (or it has no front matter),
//! when it is `fileMatch` and one of `paths` matches one of its globs, or
//! when it is `manual` and the text names it as `#<file stem>`. Files are
//! taken in file-name order, so equal inputs give equal prompts. Each
//! `#[[file:relative/path]]` in an included file is replaced by that
//! file's contents, read from the same repository (a path that leaves it
//! is refused) and bounded in size; references inside the referenced file
//! are left as written, so two files cannot include each other forever.
//! A file that is too large, not UTF-8 or unreadable is left out with a
//! note in its place rather than failing the stage: steering is advice.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};
use kiro_core::format::{file_references, parse_steering, Inclusion, SteeringDoc};
use kiro_core::memory::{recall_within, RecallRequest, Recalled, DEFAULT_BUDGET_TOKENS};
use kiro_core::spec::Task;
use kiro_core::stage::{StageContext, StageError};

/// Where steering files live in a repository.
pub const STEERING_DIR: &str = ".kiro/steering";

/// The largest steering file read. A steering file is a page of advice;
/// one this large is a mistake (or an attack) and would crowd out the task.
pub const MAX_STEERING_FILE_BYTES: u64 = 64 * 1024;

/// The largest file a `#[[file:...]]` reference inlines.
pub const MAX_REFERENCED_FILE_BYTES: u64 = 32 * 1024;

/// The most steering text one prompt carries, references included. The
/// prompt must leave the model room for the input and its answer, and
/// every request pays for these tokens again (a correction round resends
/// them): 48 KiB is about 12,000 tokens, a tenth of a common context
/// window. Files past the bound are named in a note instead.
pub const MAX_STEERING_BYTES: usize = 48 * 1024;

/// The context block for a prompt about `text` and `paths`: the steering
/// files that apply (see the module docs), then the memories recalled for
/// it with the reason each was recalled. Empty when there is neither.
///
/// Memory is what [`StageContext::recalled`] holds when the engine recalled
/// for the running task; otherwise the stage asks
/// [`StageContext::memory`] itself, for the spec and `text`, within the
/// default budget.
///
/// # Errors
///
/// [`StageError::Core`] when the memory store fails (a store that prefers
/// to run without memory returns nothing instead), or when the steering
/// folder cannot be listed.
pub async fn guidance(
    cx: &StageContext,
    text: &str,
    paths: &[PathBuf],
) -> Result<String, StageError> {
    let mut out = steering(cx, text, paths)?;
    let recalled = if cx.recalled().is_empty() {
        let request = RecallRequest {
            spec: cx.spec_name().to_owned(),
            task: None,
            text: text.to_owned(),
            paths: paths.to_vec(),
            repositories: cx.workspace().repos().map(str::to_owned).collect(),
            budget_tokens: DEFAULT_BUDGET_TOKENS,
        };
        recall_within(cx.memory().as_ref(), &request).await?
    } else {
        cx.recalled().to_vec()
    };
    out.push_str(&memory(&recalled));
    Ok(out)
}

/// The paths `text` names in code spans (`` `src/lib.rs` ``), which
/// `fileMatch` steering is matched against.
pub fn paths_in(text: &str) -> Vec<PathBuf> {
    // kiro-core reads a task's paths this way for memory recall; asking it
    // keeps one reading of "a code span that names a path".
    let task = Task {
        title: text.to_owned(),
        ..Task::default()
    };
    RecallRequest::for_task("", &task).paths
}

/// The steering part of [`guidance`] alone.
///
/// # Errors
///
/// [`StageError::Core`] when the steering folder exists but cannot be
/// listed.
pub fn steering(cx: &StageContext, text: &str, paths: &[PathBuf]) -> Result<String, StageError> {
    let ws = cx.workspace();
    let Some(repo) = ws.repos().next().map(str::to_owned) else {
        return Ok(String::new());
    };
    // `list` of a folder that does not exist is empty; it skips files the
    // repository's ignore files exclude, as every workspace scan does.
    let mut files: Vec<PathBuf> = ws
        .list(&repo, STEERING_DIR)?
        .into_iter()
        .filter(|p| p.parent() == Some(Path::new(STEERING_DIR)))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut out = String::new();
    let mut left_out: Vec<String> = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let body = match read_bounded(cx, &repo, &path, MAX_STEERING_FILE_BYTES) {
            Ok(text) => text,
            Err(why) => {
                left_out.push(format!("{name} ({why})"));
                continue;
            }
        };
        let doc = parse_steering(&name, &body).value;
        if !applies(&doc, text, paths) {
            continue;
        }
        let body = expand_references(cx, &repo, &doc.body);
        let mut section = String::new();
        let _ = write!(section, "### Steering: {name}\n\n{}\n\n", body.trim());
        if out.len() + section.len() > MAX_STEERING_BYTES {
            left_out.push(format!(
                "{name} (the steering in this prompt would exceed {MAX_STEERING_BYTES} bytes)"
            ));
            continue;
        }
        out.push_str(&section);
    }
    for note in &left_out {
        let _ = writeln!(out, "(Steering file {note} was left out.)");
    }
    if out.is_empty() {
        return Ok(out);
    }
    Ok(format!(
        "## Steering\n\nThe project's own guidance; follow it.\n\n{}\n",
        out.trim_end()
    ))
}

/// The memory part of [`guidance`]: each memory with why it was recalled.
fn memory(recalled: &[Recalled]) -> String {
    if recalled.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Memory\n\nLessons from earlier work on this workspace, most relevant first:\n\n",
    );
    for r in recalled {
        let text = r.memory.text.trim().replace('\n', "\n  ");
        let _ = write!(out, "- {text}\n  (recalled because: {}", r.reason);
        if let Some(source) = &r.memory.source {
            let _ = write!(out, "; from {source}");
        }
        out.push_str(")\n");
    }
    out
}

/// Whether a steering file belongs in a prompt about `text` and `paths`.
fn applies(doc: &SteeringDoc, text: &str, paths: &[PathBuf]) -> bool {
    match doc.inclusion {
        Inclusion::Always => true,
        Inclusion::FileMatch => {
            let mut set = GlobSetBuilder::new();
            // A pattern that is no glob matches nothing.
            for pattern in &doc.file_match_patterns {
                if let Ok(glob) = Glob::new(pattern) {
                    set.add(glob);
                }
            }
            set.build()
                .is_ok_and(|set| paths.iter().any(|p| set.is_match(p)))
        }
        Inclusion::Manual => mentions(text, doc.stem()),
    }
}

/// Whether `text` holds `#<stem>` as a whole token.
fn mentions(text: &str, stem: &str) -> bool {
    let needle = format!("#{stem}");
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
        !before.is_some_and(|c| part(c) || c == '#') && !after.is_some_and(part)
    })
}

/// `body` with each `#[[file:...]]` replaced by the file's contents, or by
/// a note saying why it could not be.
fn expand_references(cx: &StageContext, repo: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut last = 0;
    for reference in file_references(body) {
        out.push_str(&body[last..reference.range.start]);
        last = reference.range.end;
        match read_bounded(
            cx,
            repo,
            Path::new(&reference.path),
            MAX_REFERENCED_FILE_BYTES,
        ) {
            Ok(text) => {
                let _ = write!(
                    out,
                    "\n<file path=\"{}\">\n{}\n</file>\n",
                    reference.path,
                    text.trim_end()
                );
            }
            Err(why) => {
                let _ = write!(out, "(file {} not included: {why})", reference.path);
            }
        }
    }
    out.push_str(&body[last..]);
    out
}

/// A workspace file as text, at most `limit` bytes; the error is a short
/// reason for a note.
fn read_bounded(cx: &StageContext, repo: &str, path: &Path, limit: u64) -> Result<String, String> {
    // The reasons name no absolute path: they end up in a prompt.
    let abs = cx.workspace().resolve(repo, path).map_err(|e| match e {
        kiro_core::Error::PathEscape { .. } => "the path leaves the repository".to_owned(),
        _ => "the path cannot be resolved".to_owned(),
    })?;
    match kiro_core::store::read_text_file(&abs, limit) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Err("no such file".to_owned()),
        Err(kiro_core::Error::TooLarge { limit, .. }) => Err(format!("larger than {limit} bytes")),
        Err(kiro_core::Error::NotUtf8 { .. }) => Err("not UTF-8 text".to_owned()),
        Err(_) => Err("unreadable".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_file_is_named_as_a_whole_token() {
        let cases = [
            ("use #api-style here", true),
            ("#api-style", true),
            ("(#api-style)", true),
            ("#api-styles", false),
            ("x#api-style", false),
            ("##api-style", false),
            ("api-style", false),
        ];
        for (text, expected) in cases {
            assert_eq!(mentions(text, "api-style"), expected, "{text:?}");
        }
    }
}
