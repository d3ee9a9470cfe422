//! [`MemoryStore`]: the SQLite file, its connection and every operation on it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use crate::error::{MemoryError, Result};
use crate::model::{
    AddOutcome, ListFilter, MemoryId, MemoryRecord, NewMemory, RecallContext, RecalledMemory,
    Scope, SearchHit, Source,
};
use crate::reconcile::{self, Relation};
use crate::rows::{
    compile_glob, get_record, now_ms, query_records, query_records_bare, record_from_row,
    selective_query, sources_of, GlobCache, MEMORY_COLUMNS,
};
use crate::schema;
use crate::text;

/// Where [`MemoryStore::open_workspace`] keeps the database, relative to the workspace root.
pub const DEFAULT_DB_PATH: &str = ".kiro/memory.db";

/// How long a write waits for another process's write to finish before
/// it fails with `database is locked`.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many stored memories of the same scope a new one is compared with:
/// the best full-text matches, since a duplicate or a contradiction shares
/// most of its words.
const RECONCILE_CANDIDATES: usize = 32;

/// The most memories a new one's candidate query matches (see
/// [`selective_query`]): a duplicate or a contradiction shares its rarer
/// words, so the common ones need not be searched.
const RECONCILE_MAX_DOCS: usize = 300;

/// How many words of a new memory make its candidate query.
const RECONCILE_QUERY_TERMS: usize = 24;

/// Configuration of a [`MemoryStore`]: built with [`MemoryStore::builder`].
#[derive(Clone, Debug)]
pub struct MemoryStoreBuilder {
    busy_timeout: Duration,
    merge_threshold: f32,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        MemoryStoreBuilder {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            merge_threshold: reconcile::DEFAULT_MERGE_THRESHOLD,
        }
    }
}

impl MemoryStoreBuilder {
    /// How long a write waits for other writers (default [`DEFAULT_BUSY_TIMEOUT`]).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The similarity from which a new memory merges into an existing one
    /// (default [`reconcile::DEFAULT_MERGE_THRESHOLD`]; see [`reconcile`]).
    #[must_use]
    pub fn merge_threshold(mut self, threshold: f32) -> Self {
        self.merge_threshold = threshold;
        self
    }

    /// Opens (creating it and its directory if needed) the database at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<MemoryStore> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| MemoryError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| MemoryError::Open {
            path: path.to_owned(),
            source,
        })?;
        self.setup(conn, Some(path.to_owned()))
    }

    /// Opens a private in-memory database (for tests and dry runs).
    pub fn open_in_memory(self) -> Result<MemoryStore> {
        let conn = Connection::open_in_memory().map_err(|source| MemoryError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        self.setup(conn, None)
    }

    fn setup(self, mut conn: Connection, path: Option<PathBuf>) -> Result<MemoryStore> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(":memory:"));
        let open_err = |source| MemoryError::Open {
            path: shown.clone(),
            source,
        };
        // The busy timeout first: switching to WAL itself takes a lock
        // another process may hold.
        conn.busy_timeout(self.busy_timeout).map_err(open_err)?;
        // WAL lets readers run beside the one writer; NORMAL sync is
        // durable against process crashes (the WAL is written before a
        // commit returns) and only loses the last commits on power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        schema::migrate(&mut conn)?;
        Ok(MemoryStore {
            conn: Mutex::new(conn),
            globs: GlobCache::default(),
            path,
            merge_threshold: self.merge_threshold,
        })
    }
}

/// A memory store: one SQLite database, shared by every process that opens
/// the same file (WAL, writes in IMMEDIATE transactions behind a busy
/// timeout) and by every thread that shares the store (`Send + Sync`; one
/// connection behind a mutex, since each operation takes milliseconds).
///
/// ```
/// use kiro_memory::{Kind, MemoryStore, NewMemory, RecallContext, Scope};
///
/// let store = MemoryStore::open_in_memory()?;
/// store.add(NewMemory::new("Use thiserror for errors in library crates").kind(Kind::Rule))?;
/// store.add(NewMemory::new("Parsers return diagnostics, never panic").scope(Scope::Path("src/parse/**".into())))?;
///
/// let recalled = store.recall(&RecallContext::new("add a parser for tasks").path("src/parse/tasks.rs"), 500)?;
/// assert_eq!(recalled.len(), 2);
/// # Ok::<(), kiro_memory::MemoryError>(())
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    conn: Mutex<Connection>,
    globs: GlobCache,
    path: Option<PathBuf>,
    merge_threshold: f32,
}

impl MemoryStore {
    /// The builder, for a busy timeout or merge threshold of your own.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    /// Opens (creating it if needed) the database at `path`, with the defaults.
    pub fn open(path: impl AsRef<Path>) -> Result<MemoryStore> {
        MemoryStore::builder().open(path)
    }

    /// Opens the workspace's database, `<root>/.kiro/memory.db`.
    pub fn open_workspace(root: impl AsRef<Path>) -> Result<MemoryStore> {
        MemoryStore::open(root.as_ref().join(DEFAULT_DB_PATH))
    }

    /// Opens a private in-memory database.
    pub fn open_in_memory() -> Result<MemoryStore> {
        MemoryStore::builder().open_in_memory()
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The connection. A thread that panicked while holding it cannot have
    /// left a transaction open (dropping a transaction rolls it back), so a
    /// poisoned lock is taken as it is.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a memory, unless it merges into a near-identical current one
    /// of the same scope; a contradicted current memory of the same scope
    /// is superseded. [`reconcile`] states the rules.
    ///
    /// Errors: [`MemoryError::InvalidField`] for empty content or a
    /// confidence that is not a number, [`MemoryError::InvalidGlob`] for a
    /// bad path scope, [`MemoryError::Sqlite`] when the write fails.
    pub fn add(&self, new: NewMemory) -> Result<AddOutcome> {
        let mut outcomes = self.add_batch([new])?;
        outcomes
            .pop()
            .ok_or_else(|| MemoryError::invalid_field("new", "batch", "", "one outcome per memory"))
    }

    /// [Adds](MemoryStore::add) memories in order, in one transaction: all
    /// or none are stored (an invalid one fails the batch before anything
    /// is written), and one commit serves them all, which is what makes
    /// ingesting a pull request's comments fast. Later memories of the
    /// batch merge into or supersede earlier ones as with separate adds.
    pub fn add_batch<I>(&self, memories: I) -> Result<Vec<AddOutcome>>
    where
        I: IntoIterator<Item = NewMemory>,
    {
        let memories: Vec<NewMemory> = memories.into_iter().collect();
        for new in &memories {
            validate(new)?;
        }
        let now = now_ms();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(MemoryError::sqlite("begin a write"))?;
        let mut outcomes = Vec::with_capacity(memories.len());
        for new in &memories {
            outcomes.push(self.add_in(&tx, new, now)?);
        }
        tx.commit().map_err(MemoryError::sqlite("commit a write"))?;
        Ok(outcomes)
    }

    /// One validated memory added inside a write transaction.
    fn add_in(&self, tx: &Transaction<'_>, new: &NewMemory, now: i64) -> Result<AddOutcome> {
        let content = new.content.trim();
        let valid_from = new.valid_from.unwrap_or(now);
        let title = if new.title.trim().is_empty() {
            default_title(content)
        } else {
            new.title.trim().to_owned()
        };
        let confidence = new.confidence.clamp(0.0, 1.0);
        // Compare with the closest current memories of the same scope.
        let mut duplicate: Option<(MemoryRecord, f32)> = None;
        let mut contradicted: Vec<MemoryRecord> = Vec::new();
        for existing in reconcile_candidates(tx, content, &new.scope)? {
            match reconcile::relate(content, &existing.content, self.merge_threshold) {
                Relation::Contradicts => contradicted.push(existing),
                Relation::Duplicate(similarity) => {
                    if duplicate
                        .as_ref()
                        .is_none_or(|(_, best)| similarity > *best)
                    {
                        duplicate = Some((existing, similarity));
                    }
                }
                Relation::Unrelated => {}
            }
        }

        let outcome = if !contradicted.is_empty() {
            // A newer current memory contradicting this one wins: history
            // ingested out of order stores the old guidance as superseded.
            let newer = contradicted
                .iter()
                .filter(|old| old.valid_from > valid_from)
                .min_by_key(|old| old.valid_from);
            if let Some(newer) = newer {
                let id = insert(
                    tx,
                    new,
                    &title,
                    content,
                    confidence,
                    now,
                    valid_from,
                    Some((newer.valid_from, newer.id)),
                )?;
                AddOutcome::Outdated { id, by: newer.id }
            } else {
                let id = insert(tx, new, &title, content, confidence, now, valid_from, None)?;
                let mut old = Vec::new();
                for record in &contradicted {
                    tx.execute(
                        "UPDATE memories SET invalid_at = ?1, superseded_by = ?2, updated_at = ?3 \
                         WHERE id = ?4",
                        params![valid_from, id.0, now, record.id.0],
                    )
                    .map_err(MemoryError::sqlite("supersede a memory"))?;
                    old.push(record.id);
                }
                AddOutcome::Superseded { id, old }
            }
        } else if let Some((existing, similarity)) = duplicate {
            // Noisy-or: two independent sources saying the same thing make
            // it likelier than either alone.
            let merged = 1.0 - (1.0 - existing.confidence) * (1.0 - confidence);
            tx.execute(
                "UPDATE memories SET confidence = ?1, updated_at = ?2, \
                 valid_from = MIN(valid_from, ?3) WHERE id = ?4",
                params![f64::from(merged), now, valid_from, existing.id.0],
            )
            .map_err(MemoryError::sqlite("merge a memory"))?;
            let known = sources_of(tx, existing.id)?;
            for source in &new.sources {
                if !known.contains(source) {
                    insert_source(tx, existing.id, source)?;
                }
            }
            AddOutcome::Merged {
                into: existing.id,
                similarity,
            }
        } else {
            let id = insert(tx, new, &title, content, confidence, now, valid_from, None)?;
            AddOutcome::Inserted { id }
        };
        Ok(outcome)
    }

    /// The memory with this id, current or superseded; `None` if there is none.
    pub fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>> {
        let conn = self.conn();
        get_record(&conn, id)
    }

    /// The memory with this id if it held at `time_ms` (unix ms).
    pub fn get_as_of(&self, id: MemoryId, time_ms: i64) -> Result<Option<MemoryRecord>> {
        Ok(self.get(id)?.filter(|m| m.valid_at(time_ms)))
    }

    /// The memories the filter selects, oldest first: the current ones by
    /// default, those valid at a time with [`ListFilter::as_of`].
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<MemoryRecord>> {
        let mut sql = format!("SELECT {MEMORY_COLUMNS} FROM memories m WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(time) = filter.as_of {
            sql.push_str(" AND m.valid_from <= ? AND (m.invalid_at IS NULL OR m.invalid_at > ?)");
            args.push(time.into());
            args.push(time.into());
        } else if !filter.include_superseded {
            sql.push_str(" AND m.invalid_at IS NULL");
        }
        if let Some(kind) = filter.kind {
            sql.push_str(" AND m.kind = ?");
            args.push(kind.as_str().to_owned().into());
        }
        if let Some(scope) = &filter.scope {
            sql.push_str(" AND m.scope_kind = ? AND m.scope_value = ?");
            args.push(scope.kind_str().to_owned().into());
            args.push(scope.value_str().to_owned().into());
        }
        sql.push_str(" ORDER BY m.id");
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        }
        let conn = self.conn();
        query_records(
            &conn,
            &sql,
            rusqlite::params_from_iter(args),
            "list memories",
        )
    }

    /// Full-text search over titles and contents of current memories, best
    /// BM25 first. Any text is a valid query: its words are searched (any
    /// of them), never its FTS5 syntax.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(fts) = text::fts_query(query, 64) else {
            return Ok(Vec::new());
        };
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {MEMORY_COLUMNS}, best.score FROM \
                 (SELECT rowid AS id, rank AS score FROM memories_fts \
                  WHERE memories_fts MATCH ?1 ORDER BY rank) AS best \
                 JOIN memories m ON m.id = best.id WHERE m.invalid_at IS NULL \
                 ORDER BY best.score LIMIT ?2"
            ))
            .map_err(MemoryError::sqlite("search"))?;
        let rows = stmt
            .query_map(
                params![fts, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| Ok((record_from_row(row)?, row.get::<_, f64>(14)?)),
            )
            .map_err(MemoryError::sqlite("search"))?;
        let mut hits = Vec::new();
        for row in rows {
            let (record, bm25) = row.map_err(MemoryError::sqlite("search"))?;
            let mut memory = record?;
            memory.sources = sources_of(&conn, memory.id)?;
            hits.push(SearchHit {
                memory,
                score: -bm25,
            });
        }
        Ok(hits)
    }

    /// Deletes a memory and its sources for good; `false` if there was none.
    /// Memories it superseded keep their `invalid_at` but lose the link.
    pub fn forget(&self, id: MemoryId) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(MemoryError::sqlite("begin a write"))?;
        let deleted = tx
            .execute("DELETE FROM memories WHERE id = ?1", params![id.0])
            .map_err(MemoryError::sqlite("forget a memory"))?;
        tx.commit().map_err(MemoryError::sqlite("commit a write"))?;
        Ok(deleted > 0)
    }

    /// The memories most relevant to a task, within `budget_tokens`, each
    /// with why it was chosen; see [`crate::recall`] for the ranking.
    /// Recalled memories have their use count and last use updated.
    pub fn recall(
        &self,
        context: &RecallContext,
        budget_tokens: u32,
    ) -> Result<Vec<RecalledMemory>> {
        let mut conn = self.conn();
        crate::recall::recall(&mut conn, &self.globs, context, budget_tokens)
    }

    /// Runs SQLite's `PRAGMA integrity_check` (and the full-text index's
    /// own check): [`MemoryError::Corrupt`] with what it found, if anything.
    pub fn check_integrity(&self) -> Result<()> {
        let conn = self.conn();
        let mut problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(MemoryError::sqlite("check integrity"))?;
        problems.retain(|p| p != "ok");
        if let Err(e) = conn.execute(
            "INSERT INTO memories_fts(memories_fts) VALUES ('integrity-check')",
            [],
        ) {
            problems.push(format!("full-text index: {e}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MemoryError::Corrupt {
                path: self
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(":memory:")),
                problems,
            })
        }
    }

    /// How many memories are stored, current and superseded.
    pub fn count(&self) -> Result<u64> {
        let conn = self.conn();
        conn.query_row("SELECT COUNT(*) FROM memories", [], |row| row.get(0))
            .map_err(MemoryError::sqlite("count memories"))
    }
}

/// Checks what [`MemoryStore::add`] refuses before anything is written.
fn validate(new: &NewMemory) -> Result<()> {
    if new.content.trim().is_empty() {
        return Err(MemoryError::invalid_field(
            "new",
            "content",
            &new.content,
            "some text",
        ));
    }
    if !new.confidence.is_finite() {
        return Err(MemoryError::invalid_field(
            "new",
            "confidence",
            &new.confidence.to_string(),
            "a number from 0 to 1",
        ));
    }
    if let Scope::Path(glob) = &new.scope {
        compile_glob(glob)?;
    }
    Ok(())
}

/// The first line of a text, cut to 80 characters.
fn default_title(content: &str) -> String {
    let line = content.lines().next().unwrap_or(content).trim();
    if line.chars().count() <= 80 {
        line.to_owned()
    } else {
        let mut cut: String = line.chars().take(79).collect();
        cut.push('…');
        cut
    }
}

#[allow(clippy::too_many_arguments)] // One row's columns; a struct would only rename them.
fn insert(
    tx: &Transaction<'_>,
    new: &NewMemory,
    title: &str,
    content: &str,
    confidence: f32,
    now: i64,
    valid_from: i64,
    superseded: Option<(i64, MemoryId)>,
) -> Result<MemoryId> {
    let prefix = match &new.scope {
        Scope::Path(glob) => schema::glob_prefix(glob),
        _ => String::new(),
    };
    tx.execute(
        "INSERT INTO memories (title, content, kind, scope_kind, scope_value, scope_prefix, \
         created_at, updated_at, valid_from, invalid_at, superseded_by, confidence) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11)",
        params![
            title,
            content,
            new.kind.as_str(),
            new.scope.kind_str(),
            new.scope.value_str(),
            prefix,
            now,
            valid_from,
            superseded.map(|(at, _)| at),
            superseded.map(|(_, by)| by.0),
            f64::from(confidence),
        ],
    )
    .map_err(MemoryError::sqlite("add a memory"))?;
    let id = MemoryId(tx.last_insert_rowid());
    let mut seen: Vec<&Source> = Vec::new();
    for source in &new.sources {
        if !seen.contains(&source) {
            insert_source(tx, id, source)?;
            seen.push(source);
        }
    }
    Ok(id)
}

fn insert_source(tx: &Transaction<'_>, id: MemoryId, source: &Source) -> Result<()> {
    let pr = source.pr.map(|pr| i64::try_from(pr).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO sources (memory_id, url, author, commit_sha, pr) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.0, source.url, source.author, source.commit, pr],
    )
    .map_err(MemoryError::sqlite("add a source"))?;
    Ok(())
}

/// The current memories of `scope` whose text shares words with `content`,
/// best BM25 first.
fn reconcile_candidates(
    conn: &Connection,
    content: &str,
    scope: &Scope,
) -> Result<Vec<MemoryRecord>> {
    let Some(fts) = selective_query(conn, content, RECONCILE_QUERY_TERMS, RECONCILE_MAX_DOCS)?
    else {
        return Ok(Vec::new());
    };
    // Ranked inside FTS5, then filtered by scope: the best matches of any
    // scope are few enough (at most RECONCILE_MAX_DOCS matched) to read.
    let sql = format!(
        "SELECT {MEMORY_COLUMNS} FROM \
         (SELECT rowid AS id, rank FROM memories_fts WHERE memories_fts MATCH ?1 \
          ORDER BY rank LIMIT 200) AS best \
         JOIN memories m ON m.id = best.id \
         WHERE m.scope_kind = ?2 AND m.scope_value = ?3 AND m.invalid_at IS NULL \
         ORDER BY best.rank LIMIT ?4"
    );

    query_records_bare(
        conn,
        &sql,
        params![
            fts,
            scope.kind_str(),
            scope.value_str(),
            RECONCILE_CANDIDATES as i64
        ],
        "find similar memories",
    )
}
