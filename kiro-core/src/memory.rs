//! The seam for recalled memory: what a memory store gives a stage before it
//! works on a task.
//!
//! kiro-core keeps no memory itself. A memory crate implements
//! [`MemoryRecall`]; the engine asks it once per task with a
//! [`RecallRequest`] (the task's text, the paths it names, the workspace's
//! repositories and the spec) and a token budget, and hands the answer to
//! the stages as `StageContext::recalled` (with the `engine` feature). Each answer is a [`Recalled`]: the
//! [`Memory`] and the [`RecallReason`] it was chosen for, so that a prompt
//! can say why a lesson is there and a reviewer can tell a stale one.
//!
//! This module needs no async runtime, so a memory crate can depend on
//! kiro-core without its `engine` feature.
//!
//! ```
//! use async_trait::async_trait;
//! use kiro_core::memory::{Memory, MemoryRecall, RecallReason, RecallRequest, Recalled};
//!
//! /// Recalls every lesson that names a path the task names.
//! struct Lessons(Vec<(String, String)>);
//!
//! #[async_trait]
//! impl MemoryRecall for Lessons {
//!     async fn recall(&self, request: &RecallRequest) -> kiro_core::Result<Vec<Recalled>> {
//!         Ok(self
//!             .0
//!             .iter()
//!             .filter(|(path, _)| request.paths.iter().any(|p| p.to_str() == Some(path.as_str())))
//!             .map(|(path, text)| Recalled::new(Memory::new(text.clone()), RecallReason::Path(path.into())))
//!             .collect())
//!     }
//! }
//!
//! let task = kiro_core::format::parse_tasks("- [ ] 1. Fix the parser in `src/parse.rs`\n").value.tasks[0].clone();
//! let request = RecallRequest::for_task("login", &task).budget_tokens(100);
//! assert_eq!(request.paths, [std::path::PathBuf::from("src/parse.rs")]);
//!
//! let lessons = Lessons(vec![("src/parse.rs".into(), "Parsers never fail: return diagnostics.".into())]);
//! let recalled = block_on(kiro_core::memory::recall_within(&lessons, &request))?;
//! assert_eq!(recalled[0].reason, RecallReason::Path("src/parse.rs".into()));
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     // A one-future executor, so that the example needs no runtime.
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     let mut f = std::pin::pin!(f);
//! #     loop {
//! #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
//! #             return v;
//! #         }
//! #     }
//! # }
//! # Ok::<(), kiro_core::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Task, TaskId};
use crate::Result;

/// How many tokens of memory a task gets when nobody says otherwise: room
/// for a handful of lessons without crowding out the task itself.
pub const DEFAULT_BUDGET_TOKENS: u32 = 2_000;

/// What a recall is for: one task of one spec, and how much may come back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallRequest {
    /// The spec's name (its folder under `.kiro/specs/`).
    pub spec: String,
    /// The task's id, when the request is for a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    /// The task's text: its title, then its detail lines.
    pub text: String,
    /// Paths the task names (its code spans that read as paths), relative
    /// to a repository as written.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// The workspace's repository names; the first is the one the task
    /// runs in (the engine puts the task's repositories first), or the
    /// default one.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// The most tokens the recalled memories may take together (see
    /// [`Recalled::tokens`]).
    pub budget_tokens: u32,
}

impl RecallRequest {
    /// The request for a task of a spec: its id, its text and the paths its
    /// code spans name, with the [default budget](DEFAULT_BUDGET_TOKENS).
    pub fn for_task(spec: impl Into<String>, task: &Task) -> RecallRequest {
        let mut text = task.title.clone();
        for line in &task.details {
            text.push('\n');
            text.push_str(line);
        }
        let mut paths: Vec<PathBuf> = Vec::new();
        for path in code_spans(&text).filter(|s| reads_as_path(s)) {
            let path = PathBuf::from(path);
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        RecallRequest {
            spec: spec.into(),
            task: task.id.clone(),
            text,
            paths,
            repositories: Vec::new(),
            budget_tokens: DEFAULT_BUDGET_TOKENS,
        }
    }

    /// Sets the token budget.
    #[must_use]
    pub fn budget_tokens(mut self, tokens: u32) -> Self {
        self.budget_tokens = tokens;
        self
    }

    /// Sets the repositories.
    #[must_use]
    pub fn repositories<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.repositories = names.into_iter().map(Into::into).collect();
        self
    }
}

/// The contents of closed inline code spans (`` `like this` ``) of a text.
fn code_spans(text: &str) -> impl Iterator<Item = &str> {
    let parts: Vec<&str> = text.split('`').collect();
    // Odd parts are inside backticks; the last one is only if it was closed.
    let closed = parts.len().saturating_sub(1);
    parts.into_iter().take(closed).skip(1).step_by(2)
}

/// Whether a code span reads as a relative path: one word, and either a
/// directory separator or a file extension (`src/lib.rs`, `Cargo.toml`),
/// but not a version or section number (`1.2`).
fn reads_as_path(span: &str) -> bool {
    if span.is_empty() || span.chars().any(char::is_whitespace) || span.contains("://") {
        return false;
    }
    if span.contains('/') {
        return true;
    }
    span.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && ext.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// One remembered piece of earlier work: a lesson, a review comment, a
/// convention of the repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Memory {
    /// The store's id for it, when it has one (to cite or forget it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The text a stage shows its agent.
    pub text: String,
    /// Where it came from (a review, a run id, a file), for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Memory {
    /// A memory with only its text.
    pub fn new(text: impl Into<String>) -> Memory {
        Memory {
            text: text.into(),
            ..Memory::default()
        }
    }
}

/// Why a memory was recalled for a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecallReason {
    /// It was recorded for this task of this spec.
    SameTask,
    /// It was recorded for another task of this spec.
    SameSpec,
    /// It concerns a path the task names.
    Path(PathBuf),
    /// Its text is similar to the task's, with a score from 0 to 1.
    Similar(f32),
    /// The store recalls it for every task (a repository convention).
    Always,
    /// Another reason, in the store's words.
    Other(String),
}

impl fmt::Display for RecallReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecallReason::SameTask => f.write_str("recorded for this task"),
            RecallReason::SameSpec => f.write_str("recorded for this spec"),
            RecallReason::Path(path) => write!(f, "concerns {}", path.display()),
            RecallReason::Similar(score) => write!(f, "similar text ({score:.2})"),
            RecallReason::Always => f.write_str("recalled for every task"),
            RecallReason::Other(reason) => f.write_str(reason),
        }
    }
}

/// A memory recalled for a request, with why and what it costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Recalled {
    /// The memory.
    pub memory: Memory,
    /// Why it was recalled.
    pub reason: RecallReason,
    /// The tokens it takes in a prompt: the store's own count, or
    /// [`estimate_tokens`] of its text.
    pub tokens: u32,
}

impl Recalled {
    /// A recalled memory whose size is [estimated](estimate_tokens) from its text.
    pub fn new(memory: Memory, reason: RecallReason) -> Recalled {
        let tokens = estimate_tokens(&memory.text);
        Recalled {
            memory,
            reason,
            tokens,
        }
    }
}

/// A tokenizer-free estimate of a text's tokens: one per four bytes,
/// rounded up, which errs large for English and CJK alike, so a budget it
/// keeps is kept by real tokenizers too.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

/// Recalls what earlier work taught about a task.
///
/// The caller (the engine, once per task, before the executor runs it)
/// passes a request whose `budget_tokens` bounds the answer. The
/// implementor returns the memories it finds relevant, most relevant
/// first, each with the reason it was chosen; an empty list when it knows
/// nothing. It should stay within the budget; [`recall_within`], which the
/// engine uses, keeps the longest prefix of the answer that fits, so a
/// memory that would overflow it and everything after it are dropped.
///
/// An `Err` (use [`Error::Backend`](crate::Error::Backend) for a store's
/// own errors) fails the task's attempt, as an executor error does: a store
/// that prefers to run without memory when it is unreachable returns
/// `Ok(vec![])` instead. Implementations must be cheap to share
/// (`Send + Sync`, behind an `Arc`); the trait is forwarded through `&T`,
/// `Box<T>` and `Arc<T>`. [`NoMemory`] is the default: it recalls nothing.
#[async_trait]
pub trait MemoryRecall: Send + Sync {
    /// The memories relevant to `request`, most relevant first.
    async fn recall(&self, request: &RecallRequest) -> Result<Vec<Recalled>>;
}

#[async_trait]
impl<T: MemoryRecall + ?Sized> MemoryRecall for &T {
    async fn recall(&self, request: &RecallRequest) -> Result<Vec<Recalled>> {
        (**self).recall(request).await
    }
}

#[async_trait]
impl<T: MemoryRecall + ?Sized> MemoryRecall for Box<T> {
    async fn recall(&self, request: &RecallRequest) -> Result<Vec<Recalled>> {
        (**self).recall(request).await
    }
}

#[async_trait]
impl<T: MemoryRecall + ?Sized> MemoryRecall for Arc<T> {
    async fn recall(&self, request: &RecallRequest) -> Result<Vec<Recalled>> {
        (**self).recall(request).await
    }
}

/// Shown as the trait's name: stores rarely have a useful `Debug`, and the
/// stage context that holds one must be `Debug`.
impl fmt::Debug for dyn MemoryRecall + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn MemoryRecall")
    }
}

/// Recalls nothing: the default, when no memory store is configured.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMemory;

#[async_trait]
impl MemoryRecall for NoMemory {
    async fn recall(&self, _request: &RecallRequest) -> Result<Vec<Recalled>> {
        Ok(Vec::new())
    }
}

/// Asks `memory` and keeps the longest prefix of its answer whose tokens
/// fit `request.budget_tokens`: the budget holds whatever the store does.
pub async fn recall_within<M: MemoryRecall + ?Sized>(
    memory: &M,
    request: &RecallRequest,
) -> Result<Vec<Recalled>> {
    let mut recalled = memory.recall(request).await?;
    let mut used: u32 = 0;
    let fits = recalled
        .iter()
        .take_while(|r| match used.checked_add(r.tokens) {
            Some(total) if total <= request.budget_tokens => {
                used = total;
                true
            }
            _ => false,
        })
        .count();
    recalled.truncate(fits);
    Ok(recalled)
}

#[cfg(test)]
mod tests {
    // Tests state their expectations with unwrap; a failure is the test failing.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::format::parse_tasks;

    /// Runs a future that never waits on anything (every recall here is
    /// ready at once), so these tests need no async runtime.
    fn ready<F: std::future::Future>(f: F) -> F::Output {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[track_caller]
    fn check_paths(task_md: &str, expected: &[&str]) {
        let task = parse_tasks(task_md).value.tasks.remove(0);
        let request = RecallRequest::for_task("s", &task);
        let got: Vec<&str> = request.paths.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(got, expected, "{task_md}");
    }

    #[test]
    fn a_task_names_the_paths_of_its_code_spans() {
        check_paths("- [ ] 1. Edit `src/lib.rs`\n", &["src/lib.rs"]);
        check_paths("- [ ] 1. Bump `Cargo.toml` to `1.2`\n", &["Cargo.toml"]);
        check_paths(
            "- [ ] 1. A\n  - Touch `a/b.rs` and `c/`\n  - Again `a/b.rs`\n",
            &["a/b.rs", "c/"],
        );
        check_paths("- [ ] 1. Call `foo()` or `x y`\n", &[]);
        check_paths("- [ ] 1. See `https://example.com/x`\n", &[]);
        check_paths("- [ ] 1. Unclosed `src/lib.rs\n", &[]);
    }

    #[test]
    fn a_request_carries_the_task_and_its_text() {
        let task = parse_tasks("- [ ] 2.1 Add login\n  - Use `auth.rs`\n  - _Requirements: 1.1_\n")
            .value
            .tasks
            .remove(0);
        let request = RecallRequest::for_task("login", &task).repositories(["app"]);
        assert_eq!(request.spec, "login");
        assert_eq!(request.task.as_ref().map(TaskId::as_str), Some("2.1"));
        assert_eq!(request.text, "Add login\nUse `auth.rs`");
        assert_eq!(request.repositories, ["app"]);
        assert_eq!(request.budget_tokens, DEFAULT_BUDGET_TOKENS);
    }

    /// Answers with fixed memories of the given token sizes.
    struct FixedSizes(Vec<u32>);

    #[async_trait]
    impl MemoryRecall for FixedSizes {
        async fn recall(&self, _request: &RecallRequest) -> Result<Vec<Recalled>> {
            Ok(self
                .0
                .iter()
                .map(|&tokens| Recalled {
                    memory: Memory::new(format!("{tokens}")),
                    reason: RecallReason::Always,
                    tokens,
                })
                .collect())
        }
    }

    #[test]
    fn the_budget_keeps_the_longest_prefix_that_fits() {
        let check = |sizes: &[u32], budget: u32, kept: &[u32]| {
            let request = RecallRequest::default().budget_tokens(budget);
            let got: Vec<u32> = ready(recall_within(&FixedSizes(sizes.to_vec()), &request))
                .unwrap()
                .iter()
                .map(|r| r.tokens)
                .collect();
            assert_eq!(got, kept, "{sizes:?} within {budget}");
        };
        check(&[10, 20, 30], 60, &[10, 20, 30]);
        check(&[10, 20, 30], 59, &[10, 20]);
        // Most relevant first: a later, smaller memory does not jump the queue.
        check(&[10, 50, 5], 30, &[10]);
        check(&[10], 0, &[]);
        check(&[u32::MAX, 1], u32::MAX, &[u32::MAX]);
        check(&[], 10, &[]);
    }

    /// Recalls through `M` itself, so that each pointer's forwarding impl is the one called.
    fn ask<M: MemoryRecall>(memory: M, request: &RecallRequest) -> usize {
        ready(memory.recall(request)).unwrap().len()
    }

    #[test]
    fn memory_is_forwarded_through_pointers() {
        let request = RecallRequest::default().budget_tokens(100);
        let lessons = FixedSizes(vec![1, 2]);
        assert_eq!(ask(&lessons, &request), 2);
        assert_eq!(ask(Box::new(FixedSizes(vec![1])), &request), 1);
        let shared: Arc<dyn MemoryRecall> = Arc::new(lessons);
        assert_eq!(ask(shared.clone(), &request), 2);
        assert_eq!(ask(Arc::new(NoMemory), &request), 0);
        assert_eq!(format!("{shared:?}"), "dyn MemoryRecall");
    }

    #[test]
    fn estimates_err_large() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Three CJK characters are nine bytes: three tokens at least.
        assert_eq!(estimate_tokens("需求书"), 3);
    }

    #[test]
    fn reasons_read_as_sentences_and_round_trip() {
        assert_eq!(
            RecallReason::Path("src/a.rs".into()).to_string(),
            "concerns src/a.rs"
        );
        let r = Recalled::new(Memory::new("Keep parsers total."), RecallReason::SameSpec);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"memory":{"text":"Keep parsers total."},"reason":{"kind":"same_spec"},"tokens":5}"#
        );
        assert_eq!(serde_json::from_str::<Recalled>(&json).unwrap(), r);
    }
}
