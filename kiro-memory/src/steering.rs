//! Kiro steering files in and out of the store, and the store as JSON.
//!
//! **Import** reads `.kiro/steering/*.md` (parsed with kiro-core's
//! [`parse_steering`]) into rules, one per `## ` section of a file (the text
//! before the first section is one more, titled by the file's `# ` heading
//! or its name), so that recall can pick the part a task needs instead of a
//! whole file that would not fit the budget. The file's `inclusion` gives
//! the scope:
//!
//! | `inclusion` | Memory |
//! |---|---|
//! | `always` (or no front matter) | [`Kind::Rule`], [`Scope::Global`]: recalled for every task |
//! | `fileMatch` | [`Kind::Rule`], [`Scope::Path`] of the pattern (several patterns: `{a,b}`) |
//! | `manual` | [`Kind::Rule`], [`Scope::Spec`]`("#<file stem>")`: recalled only for a "spec" of that name, which the pipeline never asks for (spec folders do not start with `#`), so it is kept and listed but reaches a prompt only when asked for by name (`kiro memory recall --spec '#<stem>'`) |
//!
//! Each `#[[file:path]]` reference is replaced at import by the file's
//! contents, read from the workspace root: at most
//! [`SteeringOptions::max_reference_bytes`] each, never an absolute path, a
//! `..` step or a link that leads out of the workspace (those become a note
//! in the memory and in [`SteeringRead::notes`]).
//!
//! **Export** writes the current memories steering can express (global,
//! path-glob and manual scopes) as one file per scope, each memory a `## `
//! section, atomically; repository- and spec-scoped memories are left out
//! (export them as JSON). The files round-trip: importing them gives back
//! the same title, content and scope of every memory exported, and rules
//! as the kind (steering has no kinds). Lines of a memory that would read
//! as a section heading (`## `) or a file reference are written with one
//! more leading backslash, which import removes.
//!
//! ```
//! use kiro_memory::steering::{read_steering_text, steering_files, SteeringOptions};
//! use kiro_memory::{MemoryStore, Scope};
//!
//! let text = "---\ninclusion: fileMatch\nfileMatchPattern: \"src/**/*.rs\"\n---\n# Rust\n\n## Errors\n\nUse thiserror in libraries.\n";
//! let read = read_steering_text(std::path::Path::new("."), "rust.md", text, &SteeringOptions::default());
//! assert_eq!(read.memories.len(), 1);
//! assert_eq!(read.memories[0].title, "Errors");
//! assert_eq!(read.memories[0].scope, Scope::Path("src/**/*.rs".into()));
//!
//! let store = MemoryStore::open_in_memory()?;
//! store.add(read.memories[0].clone())?;
//! let (files, _left_out) = steering_files(&store.list(&Default::default())?);
//! assert!(files[0].text.contains("## Errors\n\nUse thiserror in libraries.\n"));
//! # Ok::<(), kiro_memory::MemoryError>(())
//! ```

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use kiro_core::format::{file_references, parse_steering, Inclusion};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{MemoryError, Result};
use crate::model::{AddOutcome, Kind, ListFilter, MemoryRecord, NewMemory, Scope};
use crate::store::MemoryStore;

/// The steering folder, relative to the workspace root.
pub const STEERING_DIR: &str = ".kiro/steering";

/// The prefix of a manual file's spec scope: `#api-style` for `api-style.md`,
/// as Kiro's chat names a manual steering file.
pub const MANUAL_PREFIX: char = '#';

/// Bounds on what an import reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SteeringOptions {
    /// The largest steering file read (default 256 KiB); a larger one is
    /// skipped with a note.
    pub max_file_bytes: u64,
    /// The largest referenced file included (default 64 KiB).
    pub max_reference_bytes: u64,
    /// The most steering files read (default 200).
    pub max_files: usize,
}

impl Default for SteeringOptions {
    fn default() -> Self {
        SteeringOptions {
            max_file_bytes: 256 * 1024,
            max_reference_bytes: 64 * 1024,
            max_files: 200,
        }
    }
}

impl SteeringOptions {
    /// Sets the largest steering file read.
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets the largest referenced file included.
    #[must_use]
    pub fn max_reference_bytes(mut self, bytes: u64) -> Self {
        self.max_reference_bytes = bytes;
        self
    }

    /// Sets the most steering files read.
    #[must_use]
    pub fn max_files(mut self, files: usize) -> Self {
        self.max_files = files;
        self
    }
}

/// Something an import or export could not do as asked, for the reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SteeringNote {
    /// The steering file (its name), or the memory (`memory 12`), concerned.
    pub subject: String,
    /// 1-based line in the file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What happened.
    pub message: String,
}

impl SteeringNote {
    fn new(subject: impl Into<String>, line: Option<u32>, message: impl Into<String>) -> Self {
        SteeringNote {
            subject: subject.into(),
            line,
            message: message.into(),
        }
    }
}

/// What reading steering files gave: the memories to add, and notes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SteeringRead {
    /// One per section of each file, in file then section order.
    pub memories: Vec<NewMemory>,
    /// Files skipped, references not included, front matter misread.
    pub notes: Vec<SteeringNote>,
}

/// What [`import_steering`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// What the store did with each memory read, in order.
    pub outcomes: Vec<AddOutcome>,
    /// What the read noted.
    pub notes: Vec<SteeringNote>,
}

/// Reads every `*.md` file directly under `<root>/.kiro/steering`, in name
/// order. A missing folder reads as none; a file that cannot be read (too
/// large, not UTF-8, a link out of the workspace) is skipped with a note.
///
/// Errors: [`MemoryError::Io`] when the folder exists but cannot be listed.
pub fn read_steering(root: &Path, options: &SteeringOptions) -> Result<SteeringRead> {
    let dir = root.join(STEERING_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SteeringRead::default()),
        Err(source) => return Err(MemoryError::Io { path: dir, source }),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| MemoryError::Io {
            path: dir.clone(),
            source,
        })?;
        // A name that is not UTF-8 cannot be a scope or a `#stem`.
        if let Some(name) = entry.file_name().to_str() {
            if name.ends_with(".md") && !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    let mut read = SteeringRead::default();
    if names.len() > options.max_files {
        read.notes.push(SteeringNote::new(
            STEERING_DIR,
            None,
            format!(
                "{} steering files; only the first {} were read",
                names.len(),
                options.max_files
            ),
        ));
        names.truncate(options.max_files);
    }
    for name in names {
        let path = dir.join(&name);
        match read_inside(root, &path, options.max_file_bytes) {
            Ok(text) => {
                let file = read_steering_text(root, &name, &text, options);
                read.memories.extend(file.memories);
                read.notes.extend(file.notes);
            }
            Err(why) => read
                .notes
                .push(SteeringNote::new(&name, None, format!("skipped: {why}"))),
        }
    }
    Ok(read)
}

/// Reads one steering file's text, named `name` (its file name: a manual
/// file's scope is its stem), resolving its file references under `root`.
/// Never fails: what it cannot read is noted (see the module docs).
pub fn read_steering_text(
    root: &Path,
    name: &str,
    text: &str,
    options: &SteeringOptions,
) -> SteeringRead {
    let parsed = parse_steering(name, text);
    let mut read = SteeringRead::default();
    for d in &parsed.diagnostics {
        read.notes.push(SteeringNote::new(
            name,
            Some(d.position.line),
            d.message.clone(),
        ));
    }
    let doc = parsed.value;
    let scopes: Vec<Scope> = match doc.inclusion {
        Inclusion::Always => vec![Scope::Global],
        Inclusion::Manual => vec![Scope::Spec(format!("{MANUAL_PREFIX}{}", doc.stem()))],
        Inclusion::FileMatch => {
            let mut valid = Vec::new();
            for pattern in &doc.file_match_patterns {
                match globset::Glob::new(pattern) {
                    Ok(_) => valid.push(pattern.clone()),
                    Err(e) => read.notes.push(SteeringNote::new(
                        name,
                        None,
                        format!("fileMatchPattern {pattern:?} is not a glob ({e}); left out"),
                    )),
                }
            }
            path_scopes(&valid)
        }
    };
    let fallback_title = doc.stem().to_owned();
    // The lines before the body (front matter, a byte-order mark's line),
    // so that notes name the file's own line numbers.
    let head = text.len().saturating_sub(doc.body.len());
    let head_lines = text.get(..head).map_or(0, |h| h.matches('\n').count());
    for (title, body, start) in sections(&doc.body, &fallback_title) {
        let first_line = head_lines + start + 1;
        let content = resolve_references(root, name, &body, first_line, options, &mut read.notes);
        if content.trim().is_empty() {
            continue;
        }
        for scope in &scopes {
            read.memories.push(
                NewMemory::new(content.trim().to_owned())
                    .title(title.clone())
                    .kind(Kind::Rule)
                    .scope(scope.clone()),
            );
        }
    }
    read
}

/// Reads the workspace's steering files into `store`: each memory is added
/// as [`MemoryStore::add`] does, so importing the same files again merges
/// into what the first import stored instead of duplicating it.
pub fn import_steering(
    store: &MemoryStore,
    root: &Path,
    options: &SteeringOptions,
) -> Result<ImportReport> {
    let read = read_steering(root, options)?;
    let mut report = ImportReport {
        outcomes: Vec::with_capacity(read.memories.len()),
        notes: read.notes,
    };
    for memory in read.memories {
        report.outcomes.push(store.add(memory)?);
    }
    Ok(report)
}

/// The scopes of a `fileMatch` file's patterns: one glob, several joined as
/// one `{a,b}` alternation, or, when a pattern holds `{`, `}` or `,` (which
/// an alternation cannot nest), one scope per pattern.
fn path_scopes(patterns: &[String]) -> Vec<Scope> {
    match patterns {
        [] => Vec::new(),
        [one] => vec![Scope::Path(one.clone())],
        many if many.iter().any(|p| p.contains(['{', '}', ','])) => {
            many.iter().map(|p| Scope::Path(p.clone())).collect()
        }
        many => vec![Scope::Path(format!("{{{}}}", many.join(",")))],
    }
}

/// Whether a line opens a `## ` section; its title if so.
fn section_title(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("##")?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix([' ', '\t']).map(str::trim)
}

/// Whether a line is a `# ` heading; its text if so.
fn file_title(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix([' ', '\t']).map(str::trim)
}

/// The number of backslashes `line` starts with, and the rest.
fn leading_backslashes(line: &str) -> (usize, &str) {
    let rest = line.trim_start_matches('\\');
    (line.len() - rest.len(), rest)
}

/// Whether the text after a line's backslashes is what export escapes at
/// a line's start: a section heading.
fn escapable(rest: &str) -> bool {
    section_title(rest).is_some()
}

/// A body split into `(title, text, first line)` sections at its `## `
/// lines, the first line being the 0-based line of the body where the
/// text starts; the text before the first section is one more, titled by
/// a leading `# ` heading (which is not kept in its text) or `fallback`.
/// Escaped lines lose one backslash.
fn sections(body: &str, fallback: &str) -> Vec<(String, String, usize)> {
    let mut out: Vec<(String, String, usize)> = Vec::new();
    let mut title = fallback.to_owned();
    let mut text = String::new();
    let mut start = 0;
    let mut preamble = true;
    for (number, line) in body.lines().enumerate() {
        if let Some(t) = section_title(line) {
            out.push((std::mem::take(&mut title), std::mem::take(&mut text), start));
            title = t.to_owned();
            start = number + 1;
            preamble = false;
            continue;
        }
        if preamble && text.trim().is_empty() {
            if let Some(t) = file_title(line) {
                if !t.is_empty() {
                    title = t.to_owned();
                    text.clear();
                    start = number + 1;
                    continue;
                }
            }
        }
        let (slashes, rest) = leading_backslashes(line);
        if slashes > 0 && escapable(rest) {
            text.push_str(&line[1..]);
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    out.push((title, text, start));
    out.retain(|(_, text, _)| !text.trim().is_empty());
    out
}

/// `body` with each `#[[file:path]]` replaced by the file's contents, or by
/// a note of why it could not be. A reference preceded by a backslash is
/// an escaped one (see [`steering_files`]): it loses that backslash and
/// stays as text.
fn resolve_references(
    root: &Path,
    name: &str,
    body: &str,
    first_line: usize,
    options: &SteeringOptions,
    notes: &mut Vec<SteeringNote>,
) -> String {
    let mut out = String::with_capacity(body.len());
    let mut last = 0;
    for reference in file_references(body) {
        if body[..reference.range.start].ends_with('\\') {
            // Escaped: one backslash less, and the reference as text.
            out.push_str(&body[last..reference.range.start - 1]);
            out.push_str(&body[reference.range.clone()]);
            last = reference.range.end;
            continue;
        }
        out.push_str(&body[last..reference.range.start]);
        last = reference.range.end;
        let line =
            u32::try_from(first_line + body[..reference.range.start].matches('\n').count()).ok();
        match reference_path(root, &reference.path)
            .and_then(|path| read_inside(root, &path, options.max_reference_bytes))
        {
            Ok(text) => {
                let _ = write!(
                    out,
                    "<file path=\"{}\">\n{}\n</file>",
                    reference.path,
                    text.trim_end()
                );
            }
            Err(why) => {
                let _ = write!(out, "(file {} not included: {why})", reference.path);
                notes.push(SteeringNote::new(
                    name,
                    line,
                    format!("file reference {:?} not included: {why}", reference.path),
                ));
            }
        }
    }
    out.push_str(&body[last..]);
    out
}

/// A reference's path under `root`: relative, without `..` steps.
fn reference_path(root: &Path, written: &str) -> std::result::Result<PathBuf, String> {
    let path = Path::new(written);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("the path leaves the workspace".into());
    }
    Ok(root.join(path))
}

/// A file's text, at most `limit` bytes, if the file (links followed) lies
/// inside `root`; the error is a short reason for a note.
fn read_inside(root: &Path, path: &Path, limit: u64) -> std::result::Result<String, String> {
    let real_root = root
        .canonicalize()
        .map_err(|_| "the workspace root cannot be resolved".to_owned())?;
    let real = match path.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no such file".into()),
        Err(_) => return Err("the path cannot be resolved".into()),
    };
    if !real.starts_with(&real_root) {
        return Err("the path leaves the workspace".into());
    }
    match kiro_core::store::read_text_file(&real, limit) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Err("no such file".into()),
        Err(kiro_core::Error::TooLarge { limit, .. }) => Err(format!("larger than {limit} bytes")),
        Err(kiro_core::Error::NotUtf8 { .. }) => Err("not UTF-8 text".into()),
        Err(_) => Err("unreadable".into()),
    }
}

/// One steering file export writes: its name in the steering folder and
/// its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SteeringFile {
    /// The file name (`memory-global.md`).
    pub name: String,
    /// The whole file, front matter and sections.
    pub text: String,
    /// The memories it holds, in order.
    pub memories: Vec<crate::model::MemoryId>,
}

/// The steering files for `memories` (current ones; superseded ones are
/// history, not guidance), one per scope, and a note for each memory left
/// out: scoped to a repository or a spec, a glob front matter cannot hold,
/// a manual name that is no file name, or one whose file would not read
/// back the same.
///
/// Names: `memory-global.md` (inclusion `always`), `memory-path-<glob
/// slug>-<hash>.md` (`fileMatch`), `<stem>.md` for a manual `#<stem>`.
pub fn steering_files(memories: &[MemoryRecord]) -> (Vec<SteeringFile>, Vec<SteeringNote>) {
    let mut groups: Vec<(Scope, Vec<&MemoryRecord>)> = Vec::new();
    let mut notes = Vec::new();
    for memory in memories.iter().filter(|m| m.is_current()) {
        let expressible = match &memory.scope {
            Scope::Global | Scope::Path(_) => true,
            Scope::Spec(name) => name.starts_with(MANUAL_PREFIX),
            Scope::Repository(_) => false,
        };
        if !expressible {
            notes.push(SteeringNote::new(
                format!("memory {}", memory.id),
                None,
                format!(
                    "scope {} has no steering equivalent; export it as JSON",
                    memory.scope
                ),
            ));
            continue;
        }
        match groups.iter_mut().find(|(scope, _)| *scope == memory.scope) {
            Some((_, group)) => group.push(memory),
            None => groups.push((memory.scope.clone(), vec![memory])),
        }
    }
    let mut files: Vec<SteeringFile> = Vec::new();
    for (scope, group) in groups {
        let Some((name, front)) = file_head(&scope) else {
            for m in &group {
                notes.push(SteeringNote::new(
                    format!("memory {}", m.id),
                    None,
                    format!("scope {scope} cannot be written as a steering file name or pattern"),
                ));
            }
            continue;
        };
        if files.iter().any(|f| f.name == name) {
            for m in &group {
                notes.push(SteeringNote::new(
                    format!("memory {}", m.id),
                    None,
                    format!("its file {name} is already another scope's"),
                ));
            }
            continue;
        }
        let mut text = front;
        let mut kept = Vec::new();
        for memory in group {
            let section = section_text(memory);
            // Written only if it reads back as itself: the check that makes
            // export and import inverse whatever the memory holds.
            let back = read_steering_text(
                Path::new(""),
                &name,
                &format!("{text}{section}"),
                &SteeringOptions::default(),
            );
            let same = back.memories.last().is_some_and(|m| {
                m.title == memory.title.trim()
                    && m.content == memory.content.trim()
                    && m.scope == memory.scope
            }) && back.memories.len() == kept.len() + 1;
            if same {
                text.push_str(&section);
                kept.push(memory.id);
            } else {
                notes.push(SteeringNote::new(
                    format!("memory {}", memory.id),
                    None,
                    "its title or content would not read back the same from a steering file; export it as JSON",
                ));
            }
        }
        if !kept.is_empty() {
            files.push(SteeringFile {
                name,
                text,
                memories: kept,
            });
        }
    }
    (files, notes)
}

/// A memory as a steering section: its title as a `## ` heading, then its
/// content with escapable lines given one more backslash.
fn section_text(memory: &MemoryRecord) -> String {
    let title: String = memory
        .title
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = format!("## {title}\n\n");
    for line in memory.content.trim().lines() {
        let (_, rest) = leading_backslashes(line);
        if escapable(rest) {
            out.push('\\');
        }
        out.push_str(line);
        out.push('\n');
    }
    // Every reference gets one more backslash, which import removes
    // instead of reading the file (see `resolve_references`).
    let mut escaped = String::with_capacity(out.len());
    let mut last = 0;
    for reference in file_references(&out) {
        escaped.push_str(&out[last..reference.range.start]);
        escaped.push('\\');
        last = reference.range.start;
    }
    escaped.push_str(&out[last..]);
    escaped.push('\n');
    escaped
}

/// A scope's file name and front matter, or `None` when steering cannot
/// hold it.
fn file_head(scope: &Scope) -> Option<(String, String)> {
    match scope {
        Scope::Global => Some((
            "memory-global.md".into(),
            "---\ninclusion: always\n---\n\n".into(),
        )),
        Scope::Spec(name) => {
            let stem = name.strip_prefix(MANUAL_PREFIX)?;
            let safe = !stem.is_empty()
                && !stem.starts_with('.')
                && stem
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
            safe.then(|| {
                (
                    format!("{stem}.md"),
                    "---\ninclusion: manual\n---\n\n".into(),
                )
            })
        }
        Scope::Path(glob) => {
            let quote = if !glob.contains('"') {
                '"'
            } else if !glob.contains('\'') {
                '\''
            } else {
                return None;
            };
            if glob.is_empty() || glob.chars().any(char::is_control) {
                return None;
            }
            let front = format!(
                "---\ninclusion: fileMatch\nfileMatchPattern: {quote}{glob}{quote}\n---\n\n"
            );
            // The front matter must read back as this one pattern.
            let doc = parse_steering("x.md", &front).value;
            if doc.inclusion != Inclusion::FileMatch || doc.file_match_patterns != [glob.clone()] {
                return None;
            }
            Some((format!("memory-path-{}.md", slug(glob)), front))
        }
        Scope::Repository(_) => None,
    }
}

/// A file-name-safe form of a glob, made unique by a hash of the glob.
fn slug(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let hash = glob.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{}-{hash:08x}", out.trim_matches('-'))
}

/// What [`export_steering`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The files written, in order.
    pub written: Vec<PathBuf>,
    /// How many memories they hold.
    pub exported: usize,
    /// Memories left out, and why.
    pub notes: Vec<SteeringNote>,
}

/// Writes the store's current memories as steering files into `dir`
/// (created if needed), each [atomically](kiro_core::store::write_atomic):
/// a file of the same name is replaced, other files are left alone.
///
/// Errors: [`MemoryError::Io`] when a file cannot be written.
pub fn export_steering(store: &MemoryStore, dir: &Path) -> Result<ExportReport> {
    let memories = store.list(&ListFilter::new())?;
    let (files, notes) = steering_files(&memories);
    let mut report = ExportReport {
        notes,
        ..ExportReport::default()
    };
    for file in files {
        let path = dir.join(&file.name);
        kiro_core::store::write_atomic(&path, file.text.as_bytes()).map_err(|e| match e {
            kiro_core::Error::Io { path, source } => MemoryError::Io { path, source },
            other => MemoryError::Backend(Box::new(other)),
        })?;
        report.exported += file.memories.len();
        report.written.push(path);
    }
    Ok(report)
}

/// The version of [`MemoryExport`]'s shape.
pub const EXPORT_VERSION: u32 = 1;

/// The store as JSON (`kiro memory export --format json`): every memory,
/// superseded ones included, as [`MemoryRecord`]s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryExport {
    /// [`EXPORT_VERSION`].
    pub version: u32,
    /// The memories, oldest first.
    pub memories: Vec<MemoryRecord>,
}

/// Every memory of the store, current and superseded.
pub fn export_json(store: &MemoryStore) -> Result<MemoryExport> {
    Ok(MemoryExport {
        version: EXPORT_VERSION,
        memories: store.list(&ListFilter::new().include_superseded(true))?,
    })
}

/// Adds an export's current memories to `store` (title, content, kind,
/// scope, sources, confidence and `valid_from` kept; ids, use counts and
/// times are the new store's). Superseded memories are history and are not
/// imported; importing an export twice merges instead of duplicating.
///
/// Errors: [`MemoryError::InvalidField`] for a newer export version, and
/// what [`MemoryStore::add`] returns.
pub fn import_json(store: &MemoryStore, export: &MemoryExport) -> Result<Vec<AddOutcome>> {
    if export.version > EXPORT_VERSION {
        return Err(MemoryError::invalid_field(
            "export",
            "version",
            &export.version.to_string(),
            "an export version this kiro-memory knows (1)",
        ));
    }
    let mut outcomes = Vec::new();
    for record in export.memories.iter().filter(|m| m.is_current()) {
        let mut new = NewMemory::new(record.content.clone())
            .title(record.title.clone())
            .kind(record.kind)
            .scope(record.scope.clone())
            .confidence(record.confidence)
            .valid_from(record.valid_from);
        for source in &record.sources {
            new = new.source(source.clone());
        }
        outcomes.push(store.add(new)?);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_at_level_two_headings_only() {
        let check = |body: &str, expected: &[(&str, &str)]| {
            let got = sections(body, "file");
            let got: Vec<(&str, &str)> =
                got.iter().map(|(t, x, _)| (t.as_str(), x.trim())).collect();
            assert_eq!(got, expected, "{body:?}");
        };
        check("Be terse.\n", &[("file", "Be terse.")]);
        check("# Tech\n\nRust.\n", &[("Tech", "Rust.")]);
        check(
            "# Tech\nIntro\n## A\nx\n### Sub\ny\n## B\nz\n",
            &[("Tech", "Intro"), ("A", "x\n### Sub\ny"), ("B", "z")],
        );
        check("## Empty\n\n## Full\nx\n", &[("Full", "x")]);
        check("##NoSpace\n", &[("file", "##NoSpace")]);
        check("\\## Not a section\n", &[("file", "## Not a section")]);
        check("\\\\## Two\n", &[("file", "\\## Two")]);
        check("\\# shell\n", &[("file", "\\# shell")]);
    }

    #[test]
    fn slugs_are_safe_and_distinct() {
        let a = slug("src/**/*.rs");
        let b = slug("src/*/*.rs");
        assert!(a.starts_with("src-rs-"), "{a}");
        assert_ne!(a, b);
        assert!(slug("../../etc")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn several_patterns_join_unless_they_cannot() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            path_scopes(&p(&["a/*.rs", "b.toml"])),
            [Scope::Path("{a/*.rs,b.toml}".into())]
        );
        assert_eq!(
            path_scopes(&p(&["{a,b}/*.rs", "c"])),
            [Scope::Path("{a,b}/*.rs".into()), Scope::Path("c".into())]
        );
    }
}
