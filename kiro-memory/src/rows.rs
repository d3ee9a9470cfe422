//! Reading memories out of the database: the column list, row decoding,
//! the queries the store and recall share, and the cache of compiled
//! path globs. Below both `store` and `recall`, so that neither imports
//! the other's internals.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::error::{MemoryError, Result};
use crate::model::{Kind, MemoryId, MemoryRecord, Scope, Source};
use crate::text;

/// The columns [`record_from_row`] reads, in order.
pub(crate) const MEMORY_COLUMNS: &str = "m.id, m.title, m.content, m.kind, m.scope_kind, \
     m.scope_value, m.created_at, m.updated_at, m.valid_from, m.invalid_at, m.superseded_by, \
     m.confidence, m.use_count, m.last_used";

/// The current time in unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

/// A path scope's glob, compiled; `/` is literal, as in `.gitignore`.
pub(crate) fn compile_glob(glob: &str) -> Result<globset::GlobMatcher> {
    globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|source| MemoryError::InvalidGlob {
            glob: glob.chars().take(200).collect(),
            source,
        })
}

pub(crate) fn get_record(conn: &Connection, id: MemoryId) -> Result<Option<MemoryRecord>> {
    let record = conn
        .prepare_cached(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.id = ?1"
        ))
        .and_then(|mut stmt| stmt.query_row(params![id.0], record_from_row).optional())
        .map_err(MemoryError::sqlite("read a memory"))?;
    match record {
        None => Ok(None),
        Some(record) => {
            let mut record = record?;
            record.sources = sources_of(conn, record.id)?;
            Ok(Some(record))
        }
    }
}

/// Runs a query selecting [`MEMORY_COLUMNS`] and reads each record with its sources.
pub(crate) fn query_records<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    args: P,
    operation: &'static str,
) -> Result<Vec<MemoryRecord>> {
    let mut records = query_records_bare(conn, sql, args, operation)?;
    for record in &mut records {
        record.sources = sources_of(conn, record.id)?;
    }
    Ok(records)
}

/// Runs a query selecting [`MEMORY_COLUMNS`], sources left empty: recall
/// reads the sources of the memories it returns only.
pub(crate) fn query_records_bare<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    args: P,
    operation: &'static str,
) -> Result<Vec<MemoryRecord>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(MemoryError::sqlite(operation))?;
    let rows = stmt
        .query_map(args, record_from_row)
        .map_err(MemoryError::sqlite(operation))?;
    let mut records = Vec::new();
    for row in rows {
        records.push(row.map_err(MemoryError::sqlite(operation))??);
    }
    Ok(records)
}

/// An FTS5 query for any of a text's words, keeping only the words that
/// narrow the search: words are counted (up to `max_docs + 1` matching
/// memories each, which reads row ids only), rarest first, and kept while
/// the memories they match together stay within `max_docs`; words no memory
/// has are left out. The rarest word is kept whatever its count. Common
/// words weigh little in BM25 (their IDF is low) but cost a score per
/// matching row, so this bounds a query's work at any store size without
/// changing which memory ranks first. `None` when no word matches.
pub(crate) fn selective_query(
    conn: &Connection,
    text: &str,
    max_terms: usize,
    max_docs: usize,
) -> Result<Option<String>> {
    let mut counted: Vec<(i64, String)> = Vec::new();
    let cap = i64::try_from(max_docs)
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    let mut stmt = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ?1 LIMIT ?2)",
        )
        .map_err(MemoryError::sqlite("count matching memories"))?;
    for term in text::query_terms(text, max_terms) {
        let n: i64 = stmt
            .query_row(params![text::fts_term(&term), cap], |row| row.get(0))
            .map_err(MemoryError::sqlite("count matching memories"))?;
        if n > 0 {
            counted.push((n, term));
        }
    }
    counted.sort_by_key(|(n, _)| *n);
    let mut kept: Vec<String> = Vec::new();
    let mut total: i64 = 0;
    for (n, term) in counted {
        if !kept.is_empty() && total.saturating_add(n) >= cap {
            break;
        }
        total = total.saturating_add(n);
        kept.push(term);
    }
    Ok(text::fts_any(&kept))
}

/// The sources of several memories, each memory's in the order they were added.
pub(crate) fn sources_of_many(
    conn: &Connection,
    ids: &[MemoryId],
) -> Result<std::collections::HashMap<MemoryId, Vec<Source>>> {
    let mut out: std::collections::HashMap<MemoryId, Vec<Source>> =
        std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT memory_id, url, author, commit_sha, pr FROM sources WHERE memory_id IN ({}) \
         ORDER BY rowid",
        vec!["?"; ids.len()].join(", ")
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(MemoryError::sqlite("read sources"))?;
    let rows = stmt
        .query_map(params_from_iter(ids.iter().map(|id| id.0)), |row| {
            Ok((
                MemoryId(row.get(0)?),
                Source {
                    url: row.get(1)?,
                    author: row.get(2)?,
                    commit: row.get(3)?,
                    pr: row
                        .get::<_, Option<i64>>(4)?
                        .and_then(|pr| u64::try_from(pr).ok()),
                },
            ))
        })
        .map_err(MemoryError::sqlite("read sources"))?;
    for row in rows {
        let (id, source) = row.map_err(MemoryError::sqlite("read sources"))?;
        out.entry(id).or_default().push(source);
    }
    Ok(out)
}

/// The sources of a memory, in the order they were added.
pub(crate) fn sources_of(conn: &Connection, id: MemoryId) -> Result<Vec<Source>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT url, author, commit_sha, pr FROM sources WHERE memory_id = ?1 ORDER BY rowid",
        )
        .map_err(MemoryError::sqlite("read sources"))?;
    let rows = stmt
        .query_map(params![id.0], |row| {
            Ok(Source {
                url: row.get(0)?,
                author: row.get(1)?,
                commit: row.get(2)?,
                pr: row
                    .get::<_, Option<i64>>(3)?
                    .and_then(|pr| u64::try_from(pr).ok()),
            })
        })
        .map_err(MemoryError::sqlite("read sources"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(MemoryError::sqlite("read sources"))
}

/// A record from a row of [`MEMORY_COLUMNS`] (sources left empty). The
/// outer result is SQLite's, the inner one the model's: a row another
/// program wrote with a kind we do not know is an [`MemoryError::InvalidField`].
pub(crate) fn record_from_row(row: &Row<'_>) -> rusqlite::Result<Result<MemoryRecord>> {
    let id = MemoryId(row.get(0)?);
    let kind: String = row.get(3)?;
    let scope_kind: String = row.get(4)?;
    let scope_value: String = row.get(5)?;
    let kind = match kind.parse::<Kind>() {
        Ok(kind) => kind,
        Err(_) => {
            return Ok(Err(MemoryError::invalid_field(
                id,
                "kind",
                &kind,
                "rule, preference, fact or lesson",
            )))
        }
    };
    let scope = match Scope::from_parts(&scope_kind, &scope_value) {
        Ok(scope) => scope,
        Err(_) => {
            return Ok(Err(MemoryError::invalid_field(
                id,
                "scope_kind",
                &scope_kind,
                "global, repository, path or spec",
            )))
        }
    };
    let use_count: i64 = row.get(12)?;
    Ok(Ok(MemoryRecord {
        id,
        title: row.get(1)?,
        content: row.get(2)?,
        kind,
        scope,
        sources: Vec::new(),
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        valid_from: row.get(8)?,
        invalid_at: row.get(9)?,
        superseded_by: row.get::<_, Option<i64>>(10)?.map(MemoryId),
        // Stored as REAL; the model keeps f32, which is all a confidence needs.
        #[allow(clippy::cast_possible_truncation)]
        confidence: row.get::<_, f64>(11)? as f32,
        use_count: u64::try_from(use_count).unwrap_or(0),
        last_used: row.get(13)?,
    }))
}

/// Compiled path-scope globs, by glob text: compiling one costs more than
/// the rest of a match, and the same globs come back every recall. Bounded:
/// emptied when it reaches [`GlobCache::CAPACITY`] globs.
#[derive(Debug, Default)]
pub(crate) struct GlobCache {
    globs: Mutex<HashMap<String, Option<globset::GlobMatcher>>>,
}

impl GlobCache {
    const CAPACITY: usize = 4_096;

    /// The first of `paths` that `glob` matches. A stored glob that does
    /// not compile matches nothing: recall must not fail on one bad row.
    pub(crate) fn first_match(&self, glob: &str, paths: &[String]) -> Option<usize> {
        let mut globs = self.globs.lock().unwrap_or_else(PoisonError::into_inner);
        if !globs.contains_key(glob) && globs.len() >= Self::CAPACITY {
            globs.clear();
        }
        let matcher = globs
            .entry(glob.to_owned())
            .or_insert_with(|| compile_glob(glob).ok());
        let matcher = matcher.as_ref()?;
        paths.iter().position(|p| matcher.is_match(p))
    }
}
