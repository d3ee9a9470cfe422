//! The memory model: plain data that crosses the store's boundary.
//!
//! Times are unix milliseconds (UTC) everywhere: in these types and in the
//! database, where they sort and compare as integers.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use kiro_core::memory::RecallReason;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::MemoryError;

/// A store's id for a memory: its SQLite rowid, never reused.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct MemoryId(pub i64);

impl fmt::Display for MemoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for MemoryId {
    type Err = MemoryError;

    fn from_str(s: &str) -> Result<MemoryId, MemoryError> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(MemoryId)
            .ok_or_else(|| MemoryError::invalid_field("?", "id", s, "a positive integer"))
    }
}

/// What sort of knowledge a memory is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A rule of the project that holds for every change ("never unwrap in
    /// library code"); global rules are recalled for every task.
    Rule,
    /// A preference of the team ("prefer `thiserror` over `anyhow`").
    Preference,
    /// A fact about the code base ("the parser lives in `kiro-core/src/format`").
    Fact,
    /// A lesson learnt from earlier work, typically a review comment.
    #[default]
    Lesson,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 4] = [Kind::Rule, Kind::Preference, Kind::Fact, Kind::Lesson];

    /// The kind's name as stored and shown (`rule`, `preference`, `fact`, `lesson`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rule => "rule",
            Kind::Preference => "preference",
            Kind::Fact => "fact",
            Kind::Lesson => "lesson",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = MemoryError;

    fn from_str(s: &str) -> Result<Kind, MemoryError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                MemoryError::invalid_field("?", "kind", s, "rule, preference, fact or lesson")
            })
    }
}

/// Where a memory applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Scope {
    /// Everywhere.
    #[default]
    Global,
    /// One repository of the workspace, by name.
    Repository(String),
    /// Files matching a glob relative to a repository (`src/**/*.rs`,
    /// `kiro-core/src/format.rs`), in globset's syntax with `/` literal.
    Path(String),
    /// One spec, by its folder name under `.kiro/specs/`.
    Spec(String),
}

impl Scope {
    /// The scope's kind as stored (`global`, `repository`, `path`, `spec`).
    pub fn kind_str(&self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Repository(_) => "repository",
            Scope::Path(_) => "path",
            Scope::Spec(_) => "spec",
        }
    }

    /// The scope's value as stored: the name or glob, empty for global.
    pub fn value_str(&self) -> &str {
        match self {
            Scope::Global => "",
            Scope::Repository(v) | Scope::Path(v) | Scope::Spec(v) => v,
        }
    }

    /// The scope from its stored kind and value.
    pub fn from_parts(kind: &str, value: &str) -> Result<Scope, MemoryError> {
        match kind {
            "global" => Ok(Scope::Global),
            "repository" => Ok(Scope::Repository(value.to_owned())),
            "path" => Ok(Scope::Path(value.to_owned())),
            "spec" => Ok(Scope::Spec(value.to_owned())),
            other => Err(MemoryError::invalid_field(
                "?",
                "scope",
                other,
                "global, repository, path or spec",
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            other => write!(f, "{}:{}", other.kind_str(), other.value_str()),
        }
    }
}

/// Where a memory came from: a review comment, a commit, a note. A merged
/// memory keeps every source it was merged from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// The comment's or note's URL (`html_url` of a GitHub review comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who said it (`user.login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The commit it was said about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The pull request's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
}

impl Source {
    /// A source with only a URL.
    pub fn url(url: impl Into<String>) -> Source {
        Source {
            url: Some(url.into()),
            ..Source::default()
        }
    }

    /// Sets the author.
    #[must_use]
    pub fn author(mut self, author: impl Into<String>) -> Source {
        self.author = Some(author.into());
        self
    }

    /// Sets the commit.
    #[must_use]
    pub fn commit(mut self, commit: impl Into<String>) -> Source {
        self.commit = Some(commit.into());
        self
    }

    /// Sets the pull request's number.
    #[must_use]
    pub fn pr(mut self, pr: u64) -> Source {
        self.pr = Some(pr);
        self
    }

    /// One line for a reader: the URL, else the PR, commit and author known.
    pub fn describe(&self) -> String {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let mut parts = Vec::new();
        if let Some(pr) = self.pr {
            parts.push(format!("PR #{pr}"));
        }
        if let Some(commit) = &self.commit {
            parts.push(format!("commit {commit}"));
        }
        if let Some(author) = &self.author {
            parts.push(format!("by {author}"));
        }
        parts.join(" ")
    }
}

/// A stored memory, current or superseded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryRecord {
    /// The store's id.
    pub id: MemoryId,
    /// A one-line title (the content's first line when none was given).
    pub title: String,
    /// The guidance itself, as a stage shows it to its agent.
    pub content: String,
    /// What sort of knowledge it is.
    pub kind: Kind,
    /// Where it applies.
    pub scope: Scope,
    /// Where it came from; several after merges.
    pub sources: Vec<Source>,
    /// When it was stored (unix ms).
    pub created_at: i64,
    /// When it was last changed or merged into (unix ms).
    pub updated_at: i64,
    /// From when it holds (unix ms): the time of the comment it came from.
    pub valid_from: i64,
    /// From when it no longer holds (unix ms), when it was superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_at: Option<i64>,
    /// The memory that superseded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<MemoryId>,
    /// How sure the store is that it holds, from 0 to 1; merges raise it.
    pub confidence: f32,
    /// How many times it was recalled.
    pub use_count: u64,
    /// When it was last recalled (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
}

impl MemoryRecord {
    /// Whether it holds at `time` (unix ms): valid from before it, not yet invalid.
    pub fn valid_at(&self, time: i64) -> bool {
        self.valid_from <= time && self.invalid_at.is_none_or(|end| time < end)
    }

    /// Whether it holds now: nothing superseded it.
    pub fn is_current(&self) -> bool {
        self.invalid_at.is_none()
    }

    /// The memory as kiro-core's seam carries it: its content, id and first source.
    pub fn to_core(&self) -> kiro_core::memory::Memory {
        kiro_core::memory::Memory {
            id: Some(self.id.to_string()),
            text: self.content.clone(),
            source: self.sources.first().map(Source::describe),
        }
    }
}

/// The confidence of a memory nobody said otherwise about.
pub const DEFAULT_CONFIDENCE: f32 = 0.5;

/// A memory to [add](crate::MemoryStore::add), built with [`NewMemory::new`]
/// and its setters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct NewMemory {
    /// The title; empty means the content's first line, cut to 80 characters.
    pub title: String,
    /// The guidance.
    pub content: String,
    /// Its kind (default: lesson).
    pub kind: Kind,
    /// Its scope (default: global).
    pub scope: Scope,
    /// Where it came from.
    pub sources: Vec<Source>,
    /// Confidence from 0 to 1 (default [`DEFAULT_CONFIDENCE`]).
    pub confidence: f32,
    /// From when it holds (unix ms); `None` means when it is added. Ingest
    /// sets the comment's time, so that a later comment supersedes an
    /// earlier one whatever order they are ingested in.
    pub valid_from: Option<i64>,
}

impl NewMemory {
    /// A global lesson with this content.
    pub fn new(content: impl Into<String>) -> NewMemory {
        NewMemory {
            title: String::new(),
            content: content.into(),
            kind: Kind::Lesson,
            scope: Scope::Global,
            sources: Vec::new(),
            confidence: DEFAULT_CONFIDENCE,
            valid_from: None,
        }
    }

    /// Sets the title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> NewMemory {
        self.title = title.into();
        self
    }

    /// Sets the kind.
    #[must_use]
    pub fn kind(mut self, kind: Kind) -> NewMemory {
        self.kind = kind;
        self
    }

    /// Sets the scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> NewMemory {
        self.scope = scope;
        self
    }

    /// Adds a source.
    #[must_use]
    pub fn source(mut self, source: Source) -> NewMemory {
        self.sources.push(source);
        self
    }

    /// Sets the confidence (clamped to 0..=1 when stored).
    #[must_use]
    pub fn confidence(mut self, confidence: f32) -> NewMemory {
        self.confidence = confidence;
        self
    }

    /// Sets from when it holds (unix ms).
    #[must_use]
    pub fn valid_from(mut self, time_ms: i64) -> NewMemory {
        self.valid_from = Some(time_ms);
        self
    }
}

/// What [`add`](crate::MemoryStore::add) did with a new memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AddOutcome {
    /// Stored as a new memory.
    Inserted {
        /// The new memory.
        id: MemoryId,
    },
    /// Near-identical to a current memory of the same scope: merged into it
    /// (its sources added, its confidence raised); nothing new stored.
    Merged {
        /// The memory it was merged into.
        into: MemoryId,
        /// The similarity that decided it, from 0 to 1.
        similarity: f32,
    },
    /// Stored, and it contradicts older memories of the same scope, which
    /// now end where it starts (`invalid_at`, `superseded_by`).
    Superseded {
        /// The new memory.
        id: MemoryId,
        /// The memories it superseded.
        old: Vec<MemoryId>,
    },
    /// Stored, but a newer current memory of the same scope contradicts it
    /// (history ingested out of order): it is stored already superseded.
    Outdated {
        /// The new, already superseded memory.
        id: MemoryId,
        /// The newer memory that supersedes it.
        by: MemoryId,
    },
}

impl AddOutcome {
    /// The memory the new one lives in: the stored one, or the one it merged into.
    pub fn id(&self) -> MemoryId {
        match self {
            AddOutcome::Inserted { id }
            | AddOutcome::Superseded { id, .. }
            | AddOutcome::Outdated { id, .. } => *id,
            AddOutcome::Merged { into, .. } => *into,
        }
    }
}

/// Which memories [`list`](crate::MemoryStore::list) returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListFilter {
    /// Only this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Only this exact scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Memories valid at this time (unix ms) instead of the current ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<i64>,
    /// Superseded memories too (ignored with `as_of`).
    #[serde(default)]
    pub include_superseded: bool,
    /// At most this many, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl ListFilter {
    /// Current memories of every kind and scope.
    pub fn new() -> ListFilter {
        ListFilter::default()
    }

    /// Only this kind.
    #[must_use]
    pub fn kind(mut self, kind: Kind) -> ListFilter {
        self.kind = Some(kind);
        self
    }

    /// Only this scope.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> ListFilter {
        self.scope = Some(scope);
        self
    }

    /// The memories valid at `time_ms` rather than now.
    #[must_use]
    pub fn as_of(mut self, time_ms: i64) -> ListFilter {
        self.as_of = Some(time_ms);
        self
    }

    /// Superseded memories too.
    #[must_use]
    pub fn include_superseded(mut self, yes: bool) -> ListFilter {
        self.include_superseded = yes;
        self
    }

    /// At most `n`.
    #[must_use]
    pub fn limit(mut self, n: usize) -> ListFilter {
        self.limit = Some(n);
        self
    }
}

/// A [`search`](crate::MemoryStore::search) hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchHit {
    /// The memory.
    pub memory: MemoryRecord,
    /// Its BM25 relevance (higher is better; SQLite's `bm25()` negated).
    pub score: f64,
}

/// What a task is about, for [`recall`](crate::MemoryStore::recall).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecallContext {
    /// The task's text.
    pub text: String,
    /// The paths the task names, relative to a repository.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// The workspace's repositories; memories scoped to another are not recalled.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// The spec; memories scoped to another spec are not recalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// At most this many memories, whatever the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The time recency is measured from (unix ms); `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
}

impl RecallContext {
    /// A context with only the task's text.
    pub fn new(text: impl Into<String>) -> RecallContext {
        RecallContext {
            text: text.into(),
            ..RecallContext::default()
        }
    }

    /// Adds a path the task names.
    #[must_use]
    pub fn path(mut self, path: impl Into<PathBuf>) -> RecallContext {
        self.paths.push(path.into());
        self
    }

    /// Adds a repository.
    #[must_use]
    pub fn repository(mut self, name: impl Into<String>) -> RecallContext {
        self.repositories.push(name.into());
        self
    }

    /// Sets the spec.
    #[must_use]
    pub fn spec(mut self, spec: impl Into<String>) -> RecallContext {
        self.spec = Some(spec.into());
        self
    }

    /// Sets the most memories returned.
    #[must_use]
    pub fn limit(mut self, n: usize) -> RecallContext {
        self.limit = Some(n);
        self
    }

    /// Measures recency from `time_ms` instead of now (for reproducible rankings).
    #[must_use]
    pub fn now(mut self, time_ms: i64) -> RecallContext {
        self.now = Some(time_ms);
        self
    }
}

impl From<&kiro_core::memory::RecallRequest> for RecallContext {
    fn from(request: &kiro_core::memory::RecallRequest) -> RecallContext {
        RecallContext {
            text: request.text.clone(),
            paths: request.paths.clone(),
            repositories: request.repositories.clone(),
            spec: (!request.spec.is_empty()).then(|| request.spec.clone()),
            limit: None,
            now: None,
        }
    }
}

/// A memory [recalled](crate::MemoryStore::recall) for a context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecalledMemory {
    /// The memory (its `use_count` and `last_used` as before this recall).
    pub memory: MemoryRecord,
    /// Every reason it was chosen, the strongest first.
    pub reasons: Vec<RecallReason>,
    /// Its rank score (see [`crate::recall`]); higher is more relevant.
    pub score: f64,
    /// Its content's tokens ([`kiro_core::memory::estimate_tokens`]).
    pub tokens: u32,
}
