//! The database schema and its migrations.
//!
//! `PRAGMA user_version` holds the schema version; [`migrate`] runs every
//! step after it, in one IMMEDIATE transaction per step, so that processes
//! opening the same file at once migrate it once and a failed step leaves
//! the previous version. Steps are only ever appended: a released step's
//! SQL never changes (its text is a test fixture).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{MemoryError, Result};

/// One migration step: the SQL that takes the schema from `version - 1` to
/// `version`, then an optional fix-up in Rust for what SQL cannot compute.
struct Step {
    version: u32,
    sql: &'static str,
    fixup: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

/// Version 1, the first schema: memories and their sources, no full-text
/// index. Times are unix milliseconds (UTC).
const V1: &str = "
CREATE TABLE memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_value TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    valid_from INTEGER NOT NULL,
    invalid_at INTEGER,
    superseded_by INTEGER REFERENCES memories(id) ON DELETE SET NULL,
    confidence REAL NOT NULL,
    use_count INTEGER NOT NULL DEFAULT 0,
    last_used INTEGER
);
CREATE INDEX memories_scope ON memories(scope_kind, scope_value);
CREATE TABLE sources (
    memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    url TEXT,
    author TEXT,
    commit_sha TEXT,
    pr INTEGER
);
CREATE INDEX sources_memory ON sources(memory_id);
";

/// Version 2: the FTS5 index over title and content (external content,
/// kept in step by triggers, Porter-stemmed, ranked by BM25 with titles
/// weighing twice), each path glob's literal directory prefix (so that
/// recall finds the globs that can match a path through an index instead
/// of testing every glob), and an index of current memories by scope, kind
/// and confidence (so that a scope's best memories are read in order).
const V2: &str = "
CREATE VIRTUAL TABLE memories_fts USING fts5(
    title, content,
    content='memories', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, title, content) VALUES (new.id, new.title, new.content);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, title, content)
        VALUES ('delete', old.id, old.title, old.content);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF title, content ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, title, content)
        VALUES ('delete', old.id, old.title, old.content);
    INSERT INTO memories_fts(rowid, title, content) VALUES (new.id, new.title, new.content);
END;
INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
INSERT INTO memories_fts(memories_fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)');
ALTER TABLE memories ADD COLUMN scope_prefix TEXT NOT NULL DEFAULT '';
CREATE INDEX memories_scope_prefix ON memories(scope_kind, scope_prefix) WHERE invalid_at IS NULL;
CREATE INDEX memories_scope_rank ON memories(scope_kind, scope_value, kind, confidence)
    WHERE invalid_at IS NULL;
";

/// Fills `scope_prefix` for the path-scoped memories of a version-1 database.
fn fill_scope_prefixes(conn: &Connection) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT id, scope_value FROM memories WHERE scope_kind = 'path'")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = conn.prepare("UPDATE memories SET scope_prefix = ?1 WHERE id = ?2")?;
    for (id, glob) in rows {
        update.execute(rusqlite::params![glob_prefix(&glob), id])?;
    }
    Ok(())
}

const STEPS: &[Step] = &[
    Step {
        version: 1,
        sql: V1,
        fixup: None,
    },
    Step {
        version: 2,
        sql: V2,
        fixup: Some(fill_scope_prefixes),
    },
];

/// The schema version this code creates and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// The literal directory prefix of a path glob: everything up to the last
/// `/` before its first glob metacharacter (`src/parse/**/*.rs` →
/// `src/parse/`, `**/*.rs` → empty, `Cargo.toml` → `Cargo.toml`). Every
/// path the glob matches starts with it.
pub(crate) fn glob_prefix(glob: &str) -> String {
    match glob.find(['*', '?', '[', '{', '\\']) {
        None => glob.to_owned(),
        Some(meta) => match glob[..meta].rfind('/') {
            Some(slash) => glob[..=slash].to_owned(),
            None => String::new(),
        },
    }
}

/// Brings the database to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    for step in STEPS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| MemoryError::Migration {
                version: step.version,
                source,
            })?;
        // Read inside the write transaction: another process may have
        // migrated between our check and our lock.
        let current: u32 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|source| MemoryError::Migration {
                version: step.version,
                source,
            })?;
        if current > SCHEMA_VERSION {
            return Err(MemoryError::FutureSchema {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current >= step.version {
            continue;
        }
        let run = || -> rusqlite::Result<()> {
            tx.execute_batch(step.sql)?;
            if let Some(fixup) = step.fixup {
                fixup(&tx)?;
            }
            tx.pragma_update(None, "user_version", step.version)?;
            Ok(())
        };
        run().map_err(|source| MemoryError::Migration {
            version: step.version,
            source,
        })?;
        tx.commit().map_err(|source| MemoryError::Migration {
            version: step.version,
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_prefixes_are_literal_directories() {
        for (glob, prefix) in [
            ("src/parse/**/*.rs", "src/parse/"),
            ("**/*.rs", ""),
            ("Cargo.toml", "Cargo.toml"),
            ("kiro-core/src/fo*.rs", "kiro-core/src/"),
            ("src/{a,b}/x.rs", "src/"),
        ] {
            assert_eq!(glob_prefix(glob), prefix, "{glob}");
        }
    }

    #[test]
    fn steps_are_numbered_in_order_up_to_the_current_version() {
        let versions: Vec<u32> = STEPS.iter().map(|s| s.version).collect();
        let expected: Vec<u32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
