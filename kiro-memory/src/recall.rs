//! Recall: the memories most relevant to a task, within a token budget.
//!
//! **Candidates** come from two places, current memories only:
//! - text: an FTS5 query for any of the task's words (its text and the
//!   file stems of its paths; stopwords out, at most [`QUERY_TERMS`] words,
//!   quoted so that no text can inject FTS5 syntax; rarest words first
//!   while they match at most [`MAX_MATCHED`] memories together), the best
//!   [`TEXT_CANDIDATES`] by BM25 (titles weigh twice as much as contents);
//! - scope (the [`SCOPE_CANDIDATES`] most confident of each scope and
//!   kind): global rules and preferences, rules and preferences of the
//!   context's repositories, memories of the context's spec, and
//!   path-scoped memories whose glob matches a path the task names (found
//!   through each glob's literal directory prefix, then matched with
//!   globset).
//!
//! **Filters**: a memory scoped to a repository or a spec is dropped when
//! the context names repositories (or a spec) and not that one; a
//! path-scoped memory whose glob matches none of the task's paths counts
//! its text similarity at [`PATH_MISMATCH_FACTOR`] only.
//!
//! **Score** = [`W_TEXT`] × similarity + [`W_SCOPE`] × scope match +
//! [`W_CONFIDENCE`] × confidence + [`W_RECENCY`] × recency, where
//! similarity is BM25 `s` mapped to `s / (s + BM25_HALF)` (0 to 1, a
//! half at [`BM25_HALF`]), scope match is 1 for a matching path glob, 0.8
//! for the same spec, 0.6 for a global or repository rule or preference,
//! and recency halves every [`RECENCY_HALF_LIFE_DAYS`] since the memory was
//! last updated or used.
//!
//! **Budget**: best first, a memory whose tokens
//! ([`estimate_tokens`] of its content) no longer fit is skipped and
//! smaller ones after it may still be taken, so the answer fits whole.
//! Each recalled memory gets its use count and last use bumped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kiro_core::memory::{estimate_tokens, RecallReason};
use rusqlite::{params_from_iter, Connection, TransactionBehavior};

use crate::error::{MemoryError, Result};
use crate::model::{Kind, MemoryId, MemoryRecord, RecallContext, RecalledMemory, Scope};
use crate::rows::{
    now_ms, query_records_bare, record_from_row, selective_query, sources_of_many, GlobCache,
    MEMORY_COLUMNS,
};

/// Most words in a recall's full-text query.
pub const QUERY_TERMS: usize = 32;
/// The most memories the text query matches: its words are chosen rarest
/// first until they match this many together (see the module's doc).
pub const MAX_MATCHED: usize = 500;
/// Most text candidates ranked.
pub const TEXT_CANDIDATES: usize = 100;
/// Most scope candidates of each scope and kind (global rules, the spec's
/// lessons, ...) and of path globs ranked.
pub const SCOPE_CANDIDATES: usize = 50;
/// The BM25 score at which text similarity is one half.
pub const BM25_HALF: f64 = 4.0;
/// Weight of text similarity.
pub const W_TEXT: f64 = 1.0;
/// Weight of scope match.
pub const W_SCOPE: f64 = 0.6;
/// Weight of confidence.
pub const W_CONFIDENCE: f64 = 0.2;
/// Weight of recency.
pub const W_RECENCY: f64 = 0.1;
/// Recency halves every this many days.
pub const RECENCY_HALF_LIFE_DAYS: f64 = 90.0;
/// What text similarity counts for a path-scoped memory whose glob matches
/// none of the task's paths (when the task names paths).
pub const PATH_MISMATCH_FACTOR: f64 = 0.5;

const SCOPE_PATH: f64 = 1.0;
const SCOPE_SPEC: f64 = 0.8;
const SCOPE_RULE: f64 = 0.6;

/// A reason a memory was chosen, with what it adds to the score.
type WeightedReason = (f64, RecallReason);

#[derive(Debug)]
struct Candidate {
    record: MemoryRecord,
    bm25: Option<f64>,
    path: Option<PathBuf>,
    spec: bool,
    rule: bool,
}

/// The directory prefixes a path-glob's literal prefix can be for `path`:
/// empty, each ancestor directory with its `/`, and the path itself.
fn prefixes(path: &Path) -> Vec<String> {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = vec![String::new()];
    for (i, c) in text.char_indices() {
        if c == '/' {
            out.push(text[..=i].to_owned());
        }
    }
    out.push(text);
    out
}

fn is_rule(kind: Kind) -> bool {
    matches!(kind, Kind::Rule | Kind::Preference)
}

pub(crate) fn recall(
    conn: &mut Connection,
    globs: &GlobCache,
    context: &RecallContext,
    budget_tokens: u32,
) -> Result<Vec<RecalledMemory>> {
    let now = context.now.unwrap_or_else(now_ms);
    let mut candidates: HashMap<i64, Candidate> = HashMap::new();
    let new_candidate = |record: MemoryRecord| Candidate {
        record,
        bm25: None,
        path: None,
        spec: false,
        rule: false,
    };

    // Text candidates.
    let mut query_text = context.text.clone();
    for path in &context.paths {
        if let Some(stem) = path.file_stem() {
            query_text.push(' ');
            query_text.push_str(&stem.to_string_lossy());
        }
    }
    if let Some(fts) = selective_query(conn, &query_text, QUERY_TERMS, MAX_MATCHED)? {
        // Rank inside FTS5 first (`rank` is the configured BM25), then read
        // only the best rows: joining before the sort would read every
        // matching memory.
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {MEMORY_COLUMNS}, best.score FROM \
                 (SELECT rowid AS id, rank AS score FROM memories_fts \
                  WHERE memories_fts MATCH ?1 ORDER BY rank LIMIT {TEXT_CANDIDATES}) AS best \
                 JOIN memories m ON m.id = best.id WHERE m.invalid_at IS NULL"
            ))
            .map_err(MemoryError::sqlite("recall"))?;
        let rows = stmt
            .query_map([fts], |row| {
                Ok((record_from_row(row)?, row.get::<_, f64>(14)?))
            })
            .map_err(MemoryError::sqlite("recall"))?;
        for row in rows {
            let (record, bm25) = row.map_err(MemoryError::sqlite("recall"))?;
            let record = record?;
            let id = record.id.0;
            candidates
                .entry(id)
                .or_insert_with(|| new_candidate(record))
                .bm25 = Some(-bm25);
        }
    }

    // The best memories of a scope and kind, read in confidence order
    // through the `memories_scope_rank` index.
    let by_scope = |scope_kind: &str, value: &str, kind: Kind| -> Result<Vec<MemoryRecord>> {
        let sql = format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.invalid_at IS NULL \
             AND m.scope_kind = ?1 AND m.scope_value = ?2 AND m.kind = ?3 \
             ORDER BY m.confidence DESC LIMIT {SCOPE_CANDIDATES}"
        );
        query_records_bare(
            conn,
            &sql,
            rusqlite::params![scope_kind, value, kind.as_str()],
            "recall",
        )
    };
    let mut rules: Vec<MemoryRecord> = Vec::new();
    for kind in [Kind::Rule, Kind::Preference] {
        rules.extend(by_scope("global", "", kind)?);
        for repo in &context.repositories {
            rules.extend(by_scope("repository", repo, kind)?);
        }
    }
    let mut of_spec: Vec<MemoryRecord> = Vec::new();
    if let Some(spec) = &context.spec {
        for kind in Kind::ALL {
            of_spec.extend(by_scope("spec", spec, kind)?);
        }
    }
    for record in rules {
        let id = record.id.0;
        candidates
            .entry(id)
            .or_insert_with(|| new_candidate(record))
            .rule = true;
    }
    for record in of_spec {
        let id = record.id.0;
        candidates
            .entry(id)
            .or_insert_with(|| new_candidate(record))
            .spec = true;
    }

    // Path-scoped memories whose glob can match a path of the task.
    if !context.paths.is_empty() {
        let mut all: Vec<String> = Vec::new();
        for path in &context.paths {
            for prefix in prefixes(path) {
                if !all.contains(&prefix) {
                    all.push(prefix);
                }
            }
        }
        let sql = format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.invalid_at IS NULL \
             AND m.scope_kind = 'path' AND m.scope_prefix IN ({}) \
             ORDER BY m.confidence DESC, m.id LIMIT {SCOPE_CANDIDATES}",
            vec!["?"; all.len()].join(", ")
        );
        for record in query_records_bare(conn, &sql, params_from_iter(&all), "recall")? {
            let id = record.id.0;
            candidates
                .entry(id)
                .or_insert_with(|| new_candidate(record));
        }
    }

    // Glob matches (for text candidates too) and scope filters.
    let unix_paths: Vec<String> = context
        .paths
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let mut ranked: Vec<(f64, Vec<WeightedReason>, Candidate)> = Vec::new();
    for (_, mut candidate) in candidates {
        let mut text_factor = 1.0;
        match &candidate.record.scope {
            Scope::Repository(repo) => {
                if !context.repositories.is_empty() && !context.repositories.contains(repo) {
                    continue;
                }
            }
            Scope::Spec(spec) => match &context.spec {
                Some(wanted) if wanted != spec => continue,
                Some(_) => candidate.spec = true,
                None => {}
            },
            Scope::Path(glob) => {
                candidate.path = globs
                    .first_match(glob, &unix_paths)
                    .and_then(|i| context.paths.get(i).cloned());
                if candidate.path.is_none() {
                    if !context.paths.is_empty() {
                        text_factor = PATH_MISMATCH_FACTOR;
                    }
                    if candidate.bm25.is_none() {
                        continue;
                    }
                }
            }
            Scope::Global => {}
        }
        let record = &candidate.record;
        let mut parts: Vec<WeightedReason> = Vec::new();
        if let Some(path) = &candidate.path {
            parts.push((W_SCOPE * SCOPE_PATH, RecallReason::Path(path.clone())));
        }
        if candidate.spec {
            parts.push((W_SCOPE * SCOPE_SPEC, RecallReason::SameSpec));
        }
        if candidate.rule && is_rule(record.kind) {
            let reason = match &record.scope {
                Scope::Repository(repo) => {
                    RecallReason::Other(format!("a {} of repository {repo}", record.kind))
                }
                _ => RecallReason::Always,
            };
            parts.push((W_SCOPE * SCOPE_RULE, reason));
        }
        if let Some(s) = candidate.bm25 {
            let similarity = s.max(0.0) / (s.max(0.0) + BM25_HALF);
            if similarity > 0.0 {
                // Reported as the similarity itself; a mismatched path only
                // weighs it less in the score.
                #[allow(clippy::cast_possible_truncation)] // 0..1 fits f32.
                let shown = similarity as f32;
                parts.push((
                    W_TEXT * similarity * text_factor,
                    RecallReason::Similar(shown),
                ));
            }
        }
        if parts.is_empty() {
            continue;
        }
        let last = record
            .last_used
            .map_or(record.updated_at, |u| u.max(record.updated_at));
        let age_days = (now.saturating_sub(last)).max(0) as f64 / 86_400_000.0;
        let recency = 0.5_f64.powf(age_days / RECENCY_HALF_LIFE_DAYS);
        let score = parts.iter().map(|(w, _)| w).sum::<f64>()
            + W_CONFIDENCE * f64::from(record.confidence)
            + W_RECENCY * recency;
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.push((score, parts, candidate));
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.record.id.cmp(&b.2.record.id)));

    let limit = context.limit.unwrap_or(usize::MAX);
    let mut used: u32 = 0;
    let mut out: Vec<RecalledMemory> = Vec::new();
    for (score, parts, candidate) in ranked {
        if out.len() >= limit {
            break;
        }
        let tokens = estimate_tokens(&candidate.record.content);
        let Some(total) = used.checked_add(tokens).filter(|t| *t <= budget_tokens) else {
            continue;
        };
        used = total;
        out.push(RecalledMemory {
            memory: candidate.record,
            reasons: parts.into_iter().map(|(_, r)| r).collect(),
            score,
            tokens,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }

    let ids: Vec<MemoryId> = out.iter().map(|r| r.memory.id).collect();
    let mut sources = sources_of_many(conn, &ids)?;
    for recalled in &mut out {
        recalled.memory.sources = sources.remove(&recalled.memory.id).unwrap_or_default();
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(MemoryError::sqlite("begin a write"))?;
    let sql = format!(
        "UPDATE memories SET use_count = use_count + 1, last_used = ? WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let args = std::iter::once(now).chain(ids.iter().map(|id| id.0));
    tx.execute(&sql, params_from_iter(args))
        .map_err(MemoryError::sqlite("record a recall"))?;
    tx.commit().map_err(MemoryError::sqlite("commit a write"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_ancestors_and_the_path() {
        assert_eq!(
            prefixes(Path::new("src/parse/tasks.rs")),
            ["", "src/", "src/parse/", "src/parse/tasks.rs"]
        );
        assert_eq!(prefixes(Path::new("Cargo.toml")), ["", "Cargo.toml"]);
    }
}
