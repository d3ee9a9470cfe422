//! Loading and saving spec folders (`.kiro/specs/<name>/`), atomically.
//!
//! [`load_spec`] reads every document of a folder, parses it, and keeps the
//! source text, source map and parse diagnostics next to the model so that
//! [`crate::lint`] can point at lines. [`Spec::load`] and [`Spec::save`] are
//! the model-only shortcuts. Saving renders each document canonically and
//! replaces a file only when its bytes change, through a temporary file,
//! `fsync` and `rename`, so a crash leaves either the old or the new file.
//! Files kiro does not model (`.config.kiro`, cc-sdd's `spec.json` and
//! `research.md`, anything else) are written back byte for byte.
//!
//! Every input kiro reads (documents here, `--from` files and standard input
//! in the CLI, the config file) goes through [`read_text`]: UTF-8 text of
//! at most an input limit ([`DEFAULT_MAX_INPUT_BYTES`], or `[limits]
//! max_input_bytes` / `KIRO_MAX_INPUT_BYTES` through [`LoadOptions`]), with
//! errors that name the file and, for text that is not UTF-8, the line and
//! column. A UTF-8 byte order mark at the start of a document is not text:
//! the parsers read past it, and a file that has one keeps it when kiro
//! rewrites it ([`render_file`]).
//!
//! The metadata files (`.config.kiro`, `spec.json`) belong to other tools
//! and take many shapes, so they never stop a spec from loading: what kiro
//! cannot read in them becomes a [`MetadataIssue`] (a lint note), see
//! [`parse_config`]. [`spec_folders`] lists every folder under
//! `.kiro/specs/`, including the incomplete ones that hold no document yet
//! (only `brief.md`, `plan.md`, `.config.kiro`, ...) and those that cannot
//! be loaded, each with its error.
//!
//! ```
//! use kiro_core::spec::{Spec, TaskList, Task, TaskId};
//!
//! let dir = tempfile::tempdir()?;
//! let spec_dir = dir.path().join(".kiro/specs/demo");
//! let mut spec = Spec { name: "demo".into(), ..Spec::default() };
//! spec.tasks = Some(TaskList {
//!     title: "Implementation Plan".into(),
//!     tasks: vec![Task { id: Some(TaskId::new("1")), title: "Write it".into(), ..Task::default() }],
//!     ..TaskList::default()
//! });
//! spec.save(&spec_dir)?;
//! let loaded = Spec::load(&spec_dir)?;
//! assert_eq!(loaded.tasks, spec.tasks);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::markdown::{LineStarts, BOM};
use crate::format::{self, FormatDiagnostic, SourceMap};
use crate::spec::{Dialect, Spec, SpecKind};

mod metadata;

pub use metadata::{parse_config, MetadataIssue};

/// The documents of a spec folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// `requirements.md`
    Requirements,
    /// `bugfix.md`
    Bugfix,
    /// `design.md`
    Design,
    /// `tasks.md`
    Tasks,
}

impl DocKind {
    /// All kinds, in the order of the workflow.
    pub const ALL: [DocKind; 4] = [
        DocKind::Requirements,
        DocKind::Bugfix,
        DocKind::Design,
        DocKind::Tasks,
    ];

    /// The file name in a spec folder.
    pub fn file_name(self) -> &'static str {
        match self {
            DocKind::Requirements => "requirements.md",
            DocKind::Bugfix => "bugfix.md",
            DocKind::Design => "design.md",
            DocKind::Tasks => "tasks.md",
        }
    }
}

/// Kiro's per-spec config file.
pub const CONFIG_FILE: &str = ".config.kiro";

/// cc-sdd's per-spec metadata file (phase and approvals).
pub const SPEC_JSON_FILE: &str = "spec.json";

/// One document as read from disk.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    /// Which document.
    pub kind: DocKind,
    /// Its path.
    pub path: PathBuf,
    /// The text as read (line endings untouched).
    pub text: String,
    /// Where each element was found.
    pub source_map: SourceMap,
    /// What the parser could not read as expected.
    pub diagnostics: Vec<FormatDiagnostic>,
    /// Where each line of `text` starts, so that placing thousands of lint
    /// findings does not split the whole file once per finding.
    lines: LineStarts,
}

impl SourceFile {
    /// Parses `text` as the document `kind` (see [`crate::format`]), as
    /// [`load_spec`] does for each file it reads; `path` only names it.
    ///
    /// ```
    /// use kiro_core::store::{DocKind, SourceFile};
    ///
    /// let file = SourceFile::parse(DocKind::Tasks, "tasks.md".into(), "# Plan\r\n\r\n- [ ] 1. Build\r\n".into());
    /// assert!(file.diagnostics.is_empty());
    /// assert_eq!(file.line(3), Some("- [ ] 1. Build"));
    /// assert_eq!(file.line(5), None);
    /// ```
    pub fn parse(kind: DocKind, path: PathBuf, text: String) -> SourceFile {
        let (source_map, diagnostics) = match kind {
            DocKind::Requirements => {
                let p = format::parse_requirements(&text);
                (p.source_map, p.diagnostics)
            }
            DocKind::Bugfix => {
                let p = format::parse_bugfix(&text);
                (p.source_map, p.diagnostics)
            }
            DocKind::Design => {
                let p = format::parse_design(&text);
                (p.source_map, p.diagnostics)
            }
            DocKind::Tasks => {
                let p = format::parse_tasks(&text);
                (p.source_map, p.diagnostics)
            }
        };
        SourceFile::new(kind, path, text, source_map, diagnostics)
    }

    /// A document already parsed: its text, source map and diagnostics.
    pub fn new(
        kind: DocKind,
        path: PathBuf,
        text: String,
        source_map: SourceMap,
        diagnostics: Vec<FormatDiagnostic>,
    ) -> SourceFile {
        let lines = LineStarts::new(&text);
        SourceFile {
            kind,
            path,
            text,
            source_map,
            diagnostics,
            lines,
        }
    }

    /// Line `number` (1-based) of the text, without its line terminator;
    /// `None` for line 0 and past the end. Lines end at `\n` (a `\r`
    /// before it is dropped). The lines are indexed when the file is
    /// created, so looking one up costs no scan of the text.
    pub fn line(&self, number: usize) -> Option<&str> {
        self.lines.line(&self.text, number.checked_sub(1)?)
    }

    /// The number of lines of the text (one more than its `\n` count).
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }
}

/// A spec with the sources it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedSpec {
    /// The spec folder.
    pub dir: PathBuf,
    /// The model.
    pub spec: Spec,
    /// The documents that exist, in [`DocKind::ALL`] order.
    pub files: Vec<SourceFile>,
    /// What could not be read in `.config.kiro` and `spec.json` (lint notes,
    /// K0017); the files are still kept as they are.
    pub metadata_issues: Vec<MetadataIssue>,
}

impl LoadedSpec {
    /// The source of one document, if the folder has it.
    pub fn file(&self, kind: DocKind) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.kind == kind)
    }
}

/// How much kiro reads of one input (a spec document, a `--from` file or
/// standard input, the config file) unless told otherwise: 16 MiB, about
/// fifty times the largest real spec document seen, and small enough that
/// reading `/dev/zero` by mistake stops at once.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// The environment variable that sets the input limit, over
/// `[limits] max_input_bytes` of `.kiro/config.toml` (see
/// `config::LimitsConfig::resolve`).
pub const MAX_INPUT_BYTES_ENV: &str = "KIRO_MAX_INPUT_BYTES";

/// How [`load_spec_with`] and friends read files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// The most bytes read from one document; a larger one is
    /// [`Error::TooLarge`].
    pub max_input_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Reads UTF-8 text from `reader`, at most `limit` bytes: the one way kiro
/// reads user input, so that every input has the same limit and the same
/// errors. `path` names the input in errors (`-` for standard input).
///
/// Reading stops one byte past the limit, so an endless input (`/dev/zero`,
/// a pipe that never closes its write end while writing) fails as soon as
/// the limit is reached instead of filling memory.
///
/// # Errors
///
/// [`Error::TooLarge`] past the limit, [`Error::NotUtf8`] (with the line
/// and column of the first invalid byte) for text that is not UTF-8,
/// [`Error::Io`] when reading fails.
///
/// ```
/// use std::path::Path;
/// use kiro_core::{store::read_text, Error};
///
/// assert_eq!(read_text(&b"# Title\n"[..], Path::new("-"), 8)?, "# Title\n");
/// let err = read_text(std::io::repeat(b'x'), Path::new("-"), 1024).unwrap_err();
/// assert!(matches!(err, Error::TooLarge { limit: 1024, .. }));
/// let err = read_text(&b"ok\n\xff"[..], Path::new("-"), 8).unwrap_err();
/// assert!(err.to_string().starts_with("-:2:1: not UTF-8 text (byte 3)"));
/// # Ok::<(), kiro_core::Error>(())
/// ```
pub fn read_text(reader: impl Read, path: &Path, limit: u64) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(crate::error::io_err(path))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes)
        .map_err(|e| crate::error::not_utf8(path, e.as_bytes(), e.utf8_error().valid_up_to()))
}

/// [`read_text`] of a file; `None` when it does not exist.
///
/// # Errors
///
/// As [`read_text`]; opening a folder is an [`Error::Io`].
pub fn read_text_file(path: &Path, limit: u64) -> Result<Option<String>> {
    match fs::File::open(path) {
        Ok(file) => read_text(file, path, limit).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The name prefix of the temporary files [`write_atomic`] renames into
/// place. One left behind by a killed writer is never spec content.
pub(crate) const TEMP_PREFIX: &str = ".kiro-tmp-";

/// How old a leftover temporary file must be before [`Spec::save`] removes
/// it: a younger one may belong to a writer still at work.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(60);

/// Files larger than this are not kept in [`Spec::extra_files`].
const MAX_EXTRA_FILE: u64 = 4 * 1024 * 1024;

/// Reads a spec folder: every document, parsed, with its source.
///
/// Errors when the folder cannot be read, holds none of the four documents
/// ([`Error::NotASpec`]; see [`open_spec_folder`] for such folders), or a
/// document is not UTF-8 or cannot be read. Markdown that does not follow the
/// Kiro format is not an error: it is kept verbatim and reported in
/// [`SourceFile::diagnostics`]. Neither is a `.config.kiro` or `spec.json`
/// kiro cannot read: it is reported in [`LoadedSpec::metadata_issues`].
pub fn load_spec(dir: &Path) -> Result<LoadedSpec> {
    load_spec_with(dir, &LoadOptions::default())
}

/// [`load_spec`] with a chosen input limit: a document larger than
/// `options.max_input_bytes` is [`Error::TooLarge`], naming it.
pub fn load_spec_with(dir: &Path, options: &LoadOptions) -> Result<LoadedSpec> {
    load_folder(dir, true, options)
}

/// [`load_spec`], or, with `require_documents` false, whatever the folder
/// holds even when it has no document.
fn load_folder(dir: &Path, require_documents: bool, options: &LoadOptions) -> Result<LoadedSpec> {
    let meta = fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::NotASpec {
            path: dir.to_owned(),
        });
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut spec = Spec {
        name,
        ..Spec::default()
    };
    let mut files = Vec::new();
    for kind in DocKind::ALL {
        let path = dir.join(kind.file_name());
        let Some(text) = read_text_file(&path, options.max_input_bytes)? else {
            continue;
        };
        let (source_map, diagnostics) = match kind {
            DocKind::Requirements => {
                let p = format::parse_requirements(&text);
                spec.requirements = Some(p.value);
                (p.source_map, p.diagnostics)
            }
            DocKind::Bugfix => {
                let p = format::parse_bugfix(&text);
                spec.bugfix = Some(p.value);
                (p.source_map, p.diagnostics)
            }
            DocKind::Design => {
                let p = format::parse_design(&text);
                spec.design = Some(p.value);
                (p.source_map, p.diagnostics)
            }
            DocKind::Tasks => {
                let p = format::parse_tasks(&text);
                spec.tasks = Some(p.value);
                (p.source_map, p.diagnostics)
            }
        };
        files.push(SourceFile::new(kind, path, text, source_map, diagnostics));
    }
    if files.is_empty() && require_documents {
        return Err(Error::NotASpec {
            path: dir.to_owned(),
        });
    }

    let (config, mut metadata_issues) = metadata::read_config(&dir.join(CONFIG_FILE));
    spec.config = config;
    read_extra_files(dir, &mut spec, &mut metadata_issues)?;

    // The file's presence decides, readable or not: only cc-sdd writes it.
    spec.dialect =
        if spec.extra_files.contains_key(SPEC_JSON_FILE) || dir.join(SPEC_JSON_FILE).is_file() {
            Dialect::CcSdd
        } else {
            Dialect::Kiro
        };
    let config_says_bugfix = spec
        .config
        .as_ref()
        .and_then(|c| c.spec_type.as_deref())
        .is_some_and(|t| t.eq_ignore_ascii_case("bugfix"));
    spec.kind = if config_says_bugfix || spec.bugfix.is_some() {
        SpecKind::Bugfix
    } else {
        SpecKind::Feature
    };
    Ok(LoadedSpec {
        dir: dir.to_owned(),
        spec,
        files,
        metadata_issues,
    })
}

/// Keeps the folder's other text files (cc-sdd's `spec.json`, `research.md`, ...)
/// byte for byte. Binary or very large files are left where they are and not
/// modelled; saving never deletes them. `spec.json` is checked to be a JSON
/// object, and what is wrong with it becomes an issue, not an error.
fn read_extra_files(dir: &Path, spec: &mut Spec, issues: &mut Vec<MetadataIssue>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let is_doc = DocKind::ALL.iter().any(|k| k.file_name() == file_name);
        if is_doc || file_name == CONFIG_FILE || file_name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        if file_name == SPEC_JSON_FILE {
            match metadata::read_file(&path) {
                metadata::FileRead::Missing => {}
                metadata::FileRead::Unreadable(why) => issues.push(MetadataIssue {
                    path: path.clone(),
                    line: 0,
                    column: 0,
                    message: format!("{why}; kiro left it as it is"),
                }),
                metadata::FileRead::Bytes(bytes) => {
                    issues.extend(metadata::check_spec_json(&path, &bytes));
                    if let Ok(text) = String::from_utf8(bytes) {
                        spec.extra_files.insert(file_name, text);
                    }
                }
            }
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.len() > MAX_EXTRA_FILE {
            continue;
        }
        // The size was checked above, but the file may grow meanwhile.
        let Ok(Some(text)) = read_text_file(&path, MAX_EXTRA_FILE) else {
            continue;
        };
        spec.extra_files.insert(file_name, text);
    }
    Ok(())
}

/// Renders the document a source file holds, as it should be on disk: the
/// canonical text of [`render_document`], after the byte order mark the
/// file starts with, if any. The parsers read past a mark and the model
/// does not hold it, so a file keeps it through `kiro spec fmt` and
/// [`Spec::save`] and a canonical file with a mark is left as it is.
///
/// ```
/// use kiro_core::store::{render_file, DocKind, SourceFile};
/// use kiro_core::format::parse_tasks;
///
/// let text = "\u{feff}# Plan\n\n- [ ] 1. Build\n";
/// let file = SourceFile::parse(DocKind::Tasks, "tasks.md".into(), text.into());
/// let spec = kiro_core::Spec { tasks: Some(parse_tasks(text).value), ..Default::default() };
/// assert_eq!(render_file(&spec, &file).as_deref(), Some(text));
/// ```
pub fn render_file(spec: &Spec, file: &SourceFile) -> Option<String> {
    let text = render_document(spec, file.kind)?;
    Some(if file.text.starts_with(BOM) {
        format!("{BOM}{text}")
    } else {
        text
    })
}

/// Renders one document of a spec, if the spec has it (canonical: without
/// a byte order mark, see [`render_file`]).
pub fn render_document(spec: &Spec, kind: DocKind) -> Option<String> {
    match kind {
        DocKind::Requirements => spec.requirements.as_ref().map(format::render_requirements),
        DocKind::Bugfix => spec.bugfix.as_ref().map(format::render_bugfix),
        DocKind::Design => spec.design.as_ref().map(format::render_design),
        DocKind::Tasks => spec.tasks.as_ref().map(format::render_tasks),
    }
}

/// Writes a file atomically: a temporary file in the same folder, `fsync`,
/// `rename` over the target, then `fsync` of the folder so the rename itself
/// survives a crash.
///
/// The file keeps what the replaced one had: its permission bits always, and
/// its owner and group where the process may set them (root, or a group the
/// user belongs to); a new file gets the usual mode for new files (`0666`
/// less the umask), not a temporary file's private `0600`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io)?;
    let existing = fs::metadata(path).ok().filter(fs::Metadata::is_file);
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Passed to open(2), so the umask applies, as for any new file.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(io)?;
    #[cfg(unix)]
    if let Some(meta) = &existing {
        keep_mode_and_owner(tmp.as_file(), meta).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = &existing;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(&dir)
}

/// Gives `file` the mode of the file it replaces (exactly: `fchmod` does not
/// apply the umask) and its owner and group where the process may; a
/// refused `fchown` (an unprivileged user, another owner) leaves them as
/// the process's own, which is all it can do.
#[cfg(unix)]
fn keep_mode_and_owner(file: &fs::File, old: &fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mine = file.metadata()?;
    if mine.uid() != old.uid() || mine.gid() != old.gid() {
        match std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                // Not the owner's to give: try the group alone (a user may
                // hand a file to a group they belong to).
                let _ = std::os::unix::fs::fchown(file, None, Some(old.gid()));
            }
            Err(e) => return Err(e),
        }
    }
    // After chown, which may clear set-id bits.
    file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))
}

/// `fsync` of a folder, so that a rename or a new file in it survives a crash.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(crate::error::io_err(dir))
}

/// Directory handles cannot be synced on this platform; renames are still atomic.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Writes `bytes` unless the file already holds exactly them. Returns whether it wrote.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => Ok(false),
        _ => write_atomic(path, bytes).map(|()| true),
    }
}

/// Writes a document's canonical `text` unless the file already holds it,
/// after the byte order mark the replaced file starts with, if any (the
/// model does not hold the mark; see [`render_file`]). Returns whether it
/// wrote.
fn write_document(path: &Path, text: &str) -> Result<bool> {
    let existing = fs::read(path).ok();
    let keeps_bom = existing
        .as_deref()
        .is_some_and(|b| b.starts_with(BOM.to_string().as_bytes()));
    let bytes = if keeps_bom && !text.starts_with(BOM) {
        format!("{BOM}{text}").into_bytes()
    } else {
        text.as_bytes().to_vec()
    };
    if existing.as_deref() == Some(bytes.as_slice()) {
        return Ok(false);
    }
    write_atomic(path, &bytes).map(|()| true)
}

impl Spec {
    /// Reads a spec folder (see [`load_spec`]) and returns the model only.
    pub fn load(dir: impl AsRef<Path>) -> Result<Spec> {
        load_spec(dir.as_ref()).map(|l| l.spec)
    }

    /// Writes the spec to a folder: each document rendered canonically
    /// (after the byte order mark of the file it replaces, if it has one),
    /// `.config.kiro` (unless [`KiroConfig::lossy`](crate::spec::KiroConfig::lossy))
    /// and extra files byte for byte. Each file is replaced
    /// atomically and only when its content changes; files the spec does not
    /// hold are left alone. Returns the paths written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        for kind in DocKind::ALL {
            if let Some(text) = render_document(self, kind) {
                let path = dir.join(kind.file_name());
                if write_document(&path, &text)? {
                    written.push(path);
                }
            }
        }
        // A lossy config is only a decoding of the file: writing it would
        // change the file, so the file stays as it is.
        if let Some(config) = self.config.as_ref().filter(|c| !c.lossy) {
            let path = dir.join(CONFIG_FILE);
            if write_if_changed(&path, config.raw.as_bytes())? {
                written.push(path);
            }
        }
        for (name, text) in &self.extra_files {
            check_file_name(name)?;
            let path = dir.join(name);
            if write_if_changed(&path, text.as_bytes())? {
                written.push(path);
            }
        }
        remove_stale_temp_files(dir);
        Ok(written)
    }
}

/// Removes the temporary files a killed writer left in `dir` (named
/// [`TEMP_PREFIX`]`*`, older than [`STALE_TEMP`]). Best effort: a file that
/// cannot be removed is left for the next save, and is never read as
/// content meanwhile.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let stale = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_TEMP);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Refuses extra-file names that would write outside the spec folder.
fn check_file_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0');
    if bad {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "extra file names must be plain file names inside the spec folder".into(),
        });
    }
    Ok(())
}

/// Checks a new spec's name: a single folder name of letters, digits, `-`, `_`, `.`.
pub fn validate_spec_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name.starts_with('.') {
        Some("the name starts with a dot")
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("use letters, digits, '-', '_' and '.' only")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason: r.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The nearest ancestor of `start` (itself included) that holds a `.kiro/` folder.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".kiro").is_dir())
        .map(Path::to_path_buf)
}

/// The specs folder of a workspace: `<root>/.kiro/specs`.
pub fn specs_dir(root: &Path) -> PathBuf {
    root.join(".kiro").join("specs")
}

/// The spec folders under `<root>/.kiro/specs`, sorted by name. A folder
/// counts when it holds at least one of the four documents.
pub fn list_specs(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(sub_folders(root)?
        .into_iter()
        .filter(|(path, _)| {
            DocKind::ALL
                .iter()
                .any(|k| path.join(k.file_name()).is_file())
        })
        .map(|(path, _)| path)
        .collect())
}

/// The folders under `<root>/.kiro/specs`, sorted, each with whether its
/// name is hidden (starts with `.`); none when `.kiro/specs` does not exist.
fn sub_folders(root: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let dir = specs_dir(root);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            out.push((path, hidden));
        }
    }
    out.sort();
    Ok(out)
}

/// One folder under `.kiro/specs/`, whatever it holds: what [`spec_folders`]
/// and [`open_spec_folder`] return.
#[derive(Debug)]
pub struct SpecFolder {
    /// The folder.
    pub dir: PathBuf,
    /// The folder's name, e.g. `"user-authentication"`.
    pub name: String,
    /// Its entries by name, sorted; sub-folders end in `/`. Empty when the
    /// folder cannot be read.
    pub contents: Vec<String>,
    /// What loading it gave.
    pub state: FolderState,
}

/// What a folder under `.kiro/specs/` turned out to be.
#[derive(Debug)]
pub enum FolderState {
    /// A spec: at least one of the four documents, loaded as by [`load_spec`].
    Spec(Box<LoadedSpec>),
    /// No document yet, only files such as `brief.md`, `plan.md`,
    /// `.config.kiro`, `spec.json` or `research.md` (cc-sdd's first step, or
    /// an abandoned spec). The value holds what kiro could read: kind,
    /// dialect, config and extra files, no document.
    Incomplete(Box<LoadedSpec>),
    /// The folder cannot be loaded: a document is not UTF-8, a file or the
    /// folder itself cannot be read.
    Failed(Error),
}

impl SpecFolder {
    /// The loaded spec, complete or not; `None` when loading failed.
    pub fn loaded(&self) -> Option<&LoadedSpec> {
        match &self.state {
            FolderState::Spec(l) | FolderState::Incomplete(l) => Some(l),
            FolderState::Failed(_) => None,
        }
    }
}

/// Opens one folder: a spec, an incomplete spec or a folder that cannot be
/// loaded (never an `Err`: the error is the [`FolderState::Failed`] state).
///
/// ```
/// use kiro_core::store::{open_spec_folder, FolderState};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("brief.md"), "# Idea\n")?;
/// std::fs::write(dir.path().join(".config.kiro"), "specType=bugfix\n")?;
/// let folder = open_spec_folder(dir.path());
/// assert_eq!(folder.contents, [".config.kiro", "brief.md"]);
/// let FolderState::Incomplete(loaded) = &folder.state else { panic!("{:?}", folder.state) };
/// assert_eq!(loaded.spec.kind, kiro_core::spec::SpecKind::Bugfix);
///
/// std::fs::write(dir.path().join("tasks.md"), b"- [ ] 1. Caf\xe9\n")?;
/// assert!(matches!(open_spec_folder(dir.path()).state, FolderState::Failed(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_spec_folder(dir: &Path) -> SpecFolder {
    open_spec_folder_with(dir, &LoadOptions::default())
}

/// [`open_spec_folder`] with a chosen input limit (see [`load_spec_with`]).
pub fn open_spec_folder_with(dir: &Path, options: &LoadOptions) -> SpecFolder {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let contents = folder_contents(dir);
    let state = match load_folder(dir, false, options) {
        Ok(loaded) if loaded.files.is_empty() => FolderState::Incomplete(Box::new(loaded)),
        Ok(loaded) => FolderState::Spec(Box::new(loaded)),
        Err(e) => FolderState::Failed(e),
    };
    SpecFolder {
        dir: dir.to_owned(),
        name,
        contents,
        state,
    }
}

/// The entry names of a folder, sorted, sub-folders with a trailing `/`.
fn folder_contents(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                name + "/"
            } else {
                name
            }
        })
        .collect();
    out.sort();
    out
}

/// Every folder under `<root>/.kiro/specs`, sorted by name, opened with
/// [`open_spec_folder`]: specs, incomplete specs and folders that cannot be
/// loaded alike. Hidden folders (a name starting with `.`) are skipped.
/// Errors only when `.kiro/specs` exists but cannot be read; a workspace
/// without it has no folders.
pub fn spec_folders(root: &Path) -> Result<Vec<SpecFolder>> {
    spec_folders_with(root, &LoadOptions::default())
}

/// [`spec_folders`] with a chosen input limit (see [`load_spec_with`]).
pub fn spec_folders_with(root: &Path, options: &LoadOptions) -> Result<Vec<SpecFolder>> {
    Ok(sub_folders(root)?
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(path, _)| open_spec_folder_with(&path, options))
        .collect())
}

/// Resolves a `<SPEC>` argument: a path to a spec folder, or the name of a
/// folder under `<root>/.kiro/specs`.
pub fn resolve_spec(root: &Path, arg: &str) -> PathBuf {
    let as_path = Path::new(arg);
    let is_spec_dir = |p: &Path| DocKind::ALL.iter().any(|k| p.join(k.file_name()).is_file());
    if as_path.is_dir() && (is_spec_dir(as_path) || arg.contains('/')) {
        return as_path.to_owned();
    }
    specs_dir(root).join(arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rewrite keeps the replaced file's mode (whatever the umask) and,
    /// where the process may set it, its owner and group; a new file gets
    /// the mode any new file gets, not a temporary file's `0600`.
    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_mode_and_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        for kept in [0o664, 0o755, 0o600, 0o640] {
            let path = dir.path().join(format!("f{kept:o}.md"));
            fs::write(&path, "old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(kept)).unwrap();
            write_atomic(&path, b"new").unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"new");
            assert_eq!(mode(&path), kept, "{kept:o}");
        }
        let reference = dir.path().join("reference");
        fs::File::create(&reference).unwrap();
        let fresh = dir.path().join("fresh.md");
        write_atomic(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), mode(&reference));

        // As root, the owner of a file owned by someone else stays theirs.
        if fs::metadata(&reference).unwrap().uid() == 0 {
            let theirs = dir.path().join("theirs.md");
            fs::write(&theirs, "old").unwrap();
            std::os::unix::fs::chown(&theirs, Some(4321), Some(4322)).unwrap();
            fs::set_permissions(&theirs, fs::Permissions::from_mode(0o664)).unwrap();
            write_atomic(&theirs, b"new").unwrap();
            let meta = fs::metadata(&theirs).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
            assert_eq!(meta.permissions().mode() & 0o7777, 0o664);
        }
    }

    /// A temporary file left by a killed writer is not spec content, and a
    /// save removes it once it is stale (a fresh one may be in use).
    #[test]
    fn leftover_temp_files_are_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("requirements.md"),
            "# Requirements Document\n",
        )
        .unwrap();
        let stale = dir.path().join(".kiro-tmp-AbC123");
        let fresh = dir.path().join(".kiro-tmp-XyZ789");
        fs::write(&stale, "# half-written\n").unwrap();
        fs::write(&fresh, "# in use\n").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let spec = Spec::load(dir.path()).unwrap();
        assert!(spec.extra_files.is_empty(), "{:?}", spec.extra_files.keys());
        spec.save(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn config_and_extra_files_are_kept_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s");
        fs::create_dir_all(&src).unwrap();
        let config = "{\"specId\": \"abc\",  \"workflowType\": \"requirements-first\", \"specType\": \"bugfix\"}";
        fs::write(src.join(CONFIG_FILE), config).unwrap();
        fs::write(src.join("tasks.md"), "# Plan\n\n- [ ] 1. Do it\n").unwrap();
        fs::write(src.join("spec.json"), "{ \"phase\" : \"tasks\" }\n").unwrap();
        let loaded = load_spec(&src).unwrap();
        assert_eq!(loaded.spec.kind, SpecKind::Bugfix);
        assert_eq!(loaded.spec.dialect, Dialect::CcSdd);
        let cfg = loaded.spec.config.clone().unwrap();
        assert_eq!(cfg.spec_id.as_deref(), Some("abc"));
        let out = dir.path().join("out");
        loaded.spec.save(&out).unwrap();
        assert_eq!(fs::read_to_string(out.join(CONFIG_FILE)).unwrap(), config);
        assert_eq!(
            fs::read_to_string(out.join("spec.json")).unwrap(),
            "{ \"phase\" : \"tasks\" }\n"
        );
    }

    #[test]
    fn broken_config_is_a_note_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
        let config = "{\n  \"specType\": \"bugfix\",\n  \"specId\": \n";
        fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
        let loaded = load_spec(dir.path()).unwrap();
        assert_eq!(
            loaded.spec.kind,
            SpecKind::Bugfix,
            "what could be read is used"
        );
        let issue = &loaded.metadata_issues[..];
        assert_eq!(issue.len(), 1, "{issue:?}");
        assert_eq!(issue[0].path, dir.path().join(CONFIG_FILE));
        assert_eq!((issue[0].line, issue[0].column), (4, 1));
        assert!(
            issue[0].message.starts_with("invalid JSON: EOF"),
            "{issue:?}"
        );

        // Saving writes it back as it was, and a second save writes nothing.
        let out = dir.path().join("out");
        loaded.spec.save(&out).unwrap();
        assert_eq!(fs::read_to_string(out.join(CONFIG_FILE)).unwrap(), config);
        assert!(loaded.spec.save(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn not_a_spec_and_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load_spec(dir.path()), Err(Error::NotASpec { .. })));
        fs::write(dir.path().join("tasks.md"), b"ok\xff\xfe").unwrap();
        assert!(matches!(
            load_spec(dir.path()),
            Err(Error::NotUtf8 {
                offset: 2,
                line: 1,
                column: 3,
                ..
            })
        ));
    }

    /// Every input is read up to the limit: exactly the limit is read, one
    /// byte more is refused with the file and the limit named; an endless
    /// input (`/dev/zero`) stops at the limit at once.
    #[test]
    fn reads_stop_at_the_input_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.md");
        fs::write(&path, "x".repeat(100)).unwrap();
        assert_eq!(read_text_file(&path, 100).unwrap().unwrap().len(), 100);
        match read_text_file(&path, 99) {
            Err(Error::TooLarge { path: p, limit: 99 }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_text_file(&dir.path().join("none.md"), 1).unwrap(),
            None
        );
        #[cfg(unix)]
        assert!(matches!(
            read_text_file(Path::new("/dev/zero"), 1 << 20),
            Err(Error::TooLarge { limit: 1048576, .. })
        ));

        let options = LoadOptions {
            max_input_bytes: 99,
        };
        let err = load_spec_with(dir.path(), &options).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "requirements.md: larger than the input limit of 99 bytes; raise it with \
                 `max_input_bytes` under `[limits]` in .kiro/config.toml or the \
                 KIRO_MAX_INPUT_BYTES environment variable"
            ),
            "{err}"
        );
        let options = LoadOptions {
            max_input_bytes: 100,
        };
        assert!(load_spec_with(dir.path(), &options).is_ok());
        assert!(matches!(
            open_spec_folder_with(
                dir.path(),
                &LoadOptions {
                    max_input_bytes: 10
                }
            )
            .state,
            FolderState::Failed(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn source_file_lines() {
        let file = SourceFile::parse(
            DocKind::Tasks,
            PathBuf::from("tasks.md"),
            "# Plan\r\n\n- [ ] 1. x\nlast".into(),
        );
        let lines: Vec<_> = (0..=5).map(|n| file.line(n)).collect();
        assert_eq!(
            lines,
            [
                None,
                Some("# Plan"),
                Some(""),
                Some("- [ ] 1. x"),
                Some("last"),
                None
            ]
        );
        assert_eq!(file.line_count(), 4);
        let empty = SourceFile::parse(DocKind::Design, PathBuf::from("d.md"), String::new());
        assert_eq!((empty.line(1), empty.line_count()), (Some(""), 1));
    }

    /// A document starting with a byte order mark loads as without it (no
    /// "missing title"), and keeps it through a save: in place, byte for
    /// byte, and after an edit.
    #[test]
    fn a_byte_order_mark_is_kept_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.md");
        let text = "\u{feff}# Implementation Plan\r\n\r\n- [ ] 1. Build it\r\n";
        fs::write(&path, text).unwrap();
        let loaded = load_spec(dir.path()).unwrap();
        let file = loaded.file(DocKind::Tasks).unwrap();
        assert!(file.diagnostics.is_empty(), "{:?}", file.diagnostics);
        assert_eq!(file.line(1), Some("# Implementation Plan"));
        assert_eq!(render_file(&loaded.spec, file).as_deref(), Some(text));
        assert!(loaded.spec.save(dir.path()).unwrap().is_empty());
        assert_eq!(fs::read_to_string(&path).unwrap(), text);

        let mut spec = loaded.spec;
        if let Some(tasks) = spec.tasks.as_mut() {
            tasks.tasks[0].title = "Build it well".into();
        }
        spec.save(dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "\u{feff}# Implementation Plan\r\n\r\n- [ ] 1. Build it well\r\n"
        );
        // A new file gets none.
        let out = dir.path().join("out");
        spec.save(&out).unwrap();
        assert!(!fs::read_to_string(out.join("tasks.md"))
            .unwrap()
            .starts_with(BOM));
    }

    #[test]
    fn bugfix_kind_is_inferred_from_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("bugfix.md"),
            "# Bugfix Requirements Document\n",
        )
        .unwrap();
        assert_eq!(Spec::load(dir.path()).unwrap().kind, SpecKind::Bugfix);
    }

    #[test]
    fn spec_names() {
        assert!(validate_spec_name("user-auth_2").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a b"] {
            assert!(validate_spec_name(bad).is_err(), "{bad}");
        }
        assert!(check_file_name("../x").is_err());
    }

    #[test]
    fn save_skips_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tasks.md"), "# Plan\n\n- [ ] 1. Do it\n").unwrap();
        let spec = Spec::load(dir.path()).unwrap();
        let written = spec.save(dir.path()).unwrap();
        assert!(written.is_empty(), "{written:?}");
    }

    /// Every odd `.config.kiro` loads with its spec, gives the expected kind
    /// and number of notes, stays byte for byte on disk through an in-place
    /// save, and is copied exactly by a save elsewhere unless it is lossy.
    #[test]
    fn odd_configs_never_refuse_the_spec() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "{\"specType\": \"bugfix\"}"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        let huge = [
            b"{\"specType\": \"bugfix\", \"pad\": \"".as_slice(),
            &vec![b'x'; 2 << 20],
            b"\"}",
        ]
        .concat();
        // (name, bytes, bugfix kind expected, notes expected, copied by save)
        let cases: Vec<(&str, Vec<u8>, bool, usize, bool)> = vec![
            (
                "kiro",
                br#"{"specId": "a", "workflowType": "requirements-first", "specType": "bugfix"}"#
                    .to_vec(),
                true,
                0,
                true,
            ),
            (
                "bom",
                b"\xEF\xBB\xBF{\"specType\": \"bugfix\"}\r\n".to_vec(),
                true,
                0,
                true,
            ),
            (
                "key=value",
                b"specType=bugfix\nworkflowType=design-first\n".to_vec(),
                true,
                0,
                true,
            ),
            (
                "key: value",
                b"# by hand\nspecType: bugfix\n".to_vec(),
                true,
                0,
                true,
            ),
            ("array", b"[\"bugfix\"]".to_vec(), false, 1, true),
            ("string", b"\"bugfix\"".to_vec(), false, 1, true),
            (
                "nested",
                br#"{"spec": {"specType": "bugfix"}}"#.to_vec(),
                false,
                0,
                true,
            ),
            (
                "truncated",
                b"{\"specType\": \"bugfix\", \"spe".to_vec(),
                true,
                1,
                true,
            ),
            ("empty", Vec::new(), false, 0, true),
            (
                "latin-1",
                b"specType=bugfix\nowner=Jos\xE9\n".to_vec(),
                true,
                1,
                false,
            ),
            ("utf-16", utf16, true, 1, false),
            ("huge", huge, false, 1, false),
        ];
        for (name, bytes, bugfix, notes, copied) in cases {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
            fs::write(dir.path().join(CONFIG_FILE), &bytes).unwrap();
            let loaded = load_spec(dir.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let kind = if bugfix {
                SpecKind::Bugfix
            } else {
                SpecKind::Feature
            };
            assert_eq!(loaded.spec.kind, kind, "{name}");
            assert_eq!(
                loaded.metadata_issues.len(),
                notes,
                "{name}: {:?}",
                loaded.metadata_issues
            );
            for issue in &loaded.metadata_issues {
                assert_eq!(issue.path, dir.path().join(CONFIG_FILE), "{name}");
            }

            loaded.spec.save(dir.path()).unwrap();
            assert_eq!(
                fs::read(dir.path().join(CONFIG_FILE)).unwrap(),
                bytes,
                "{name}: rewritten"
            );
            let out = dir.path().join("out");
            loaded.spec.save(&out).unwrap();
            let copy = fs::read(out.join(CONFIG_FILE)).ok();
            if copied {
                assert_eq!(
                    copy.as_deref(),
                    Some(bytes.as_slice()),
                    "{name}: not copied exactly"
                );
                assert_eq!(
                    Spec::load(&out).unwrap().config,
                    loaded.spec.config,
                    "{name}: round trip"
                );
            } else {
                assert_eq!(
                    copy, None,
                    "{name}: a lossy or unread config must not be written"
                );
            }
        }
    }

    #[test]
    fn config_that_is_a_folder_is_a_note() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
        fs::create_dir(dir.path().join(CONFIG_FILE)).unwrap();
        let loaded = load_spec(dir.path()).unwrap();
        assert_eq!(loaded.spec.config, None);
        assert!(loaded.metadata_issues[0]
            .message
            .contains("not a regular file"));
    }

    #[test]
    fn broken_spec_json_is_a_note_and_kept() {
        let cases: [(&[u8], usize, bool); 4] = [
            (b"{ \"phase\": \"tasks\" }\n", 0, true),
            (b"\xEF\xBB\xBF{ \"phase\": \"tasks\" }\n", 0, true),
            (b"{ \"phase\": \n", 1, true),
            (b"{ \"phase\": \"t\xE2che\" }", 1, false),
        ];
        for (bytes, notes, kept) in cases {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
            fs::write(dir.path().join(SPEC_JSON_FILE), bytes).unwrap();
            let loaded = load_spec(dir.path()).unwrap();
            let label = String::from_utf8_lossy(bytes);
            assert_eq!(loaded.spec.dialect, Dialect::CcSdd, "{label}");
            assert_eq!(loaded.metadata_issues.len(), notes, "{label}");
            assert_eq!(
                loaded.spec.extra_files.contains_key(SPEC_JSON_FILE),
                kept,
                "{label}"
            );
            loaded.spec.save(dir.path()).unwrap();
            assert_eq!(
                fs::read(dir.path().join(SPEC_JSON_FILE)).unwrap(),
                bytes,
                "{label}"
            );
        }
    }

    /// Writes `files` into `<root>/.kiro/specs/<name>/`.
    fn folder(root: &Path, name: &str, files: &[(&str, &[u8])]) {
        let dir = specs_dir(root).join(name);
        fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in files {
            fs::write(dir.join(file), bytes).unwrap();
        }
    }

    #[test]
    fn spec_folders_lists_incomplete_and_failed_folders() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        assert!(spec_folders(root).unwrap().is_empty(), "no .kiro/specs yet");
        folder(
            root,
            "a-spec",
            &[("tasks.md", b"- [ ] 1. x\n"), (CONFIG_FILE, b"oops")],
        );
        folder(root, "b-brief", &[("brief.md", b"# Idea\n")]);
        folder(
            root,
            "c-cc-sdd",
            &[(SPEC_JSON_FILE, b"{}"), ("research.md", b"# R\n")],
        );
        folder(
            root,
            "d-config",
            &[(CONFIG_FILE, b"specType=bugfix\n"), ("plan.md", b"- x\n")],
        );
        folder(root, "e-empty", &[]);
        folder(
            root,
            "f-not-utf8",
            &[("requirements.md", b"# R\n\xff\n"), ("brief.md", b"ok")],
        );
        folder(root, ".hidden", &[("tasks.md", b"- [ ] 1. x\n")]);
        fs::write(specs_dir(root).join("stray.md"), "not a folder").unwrap();
        fs::create_dir_all(specs_dir(root).join("b-brief/assets")).unwrap();

        let folders = spec_folders(root).unwrap();
        let summary: Vec<String> = folders
            .iter()
            .map(|f| {
                let state = match &f.state {
                    FolderState::Spec(l) => format!("spec {:?} {:?}", l.spec.kind, l.spec.dialect),
                    FolderState::Incomplete(l) => {
                        assert!(l.files.is_empty());
                        format!("incomplete {:?} {:?}", l.spec.kind, l.spec.dialect)
                    }
                    FolderState::Failed(e) => {
                        format!("failed {}", matches!(e, Error::NotUtf8 { .. }))
                    }
                };
                format!("{} [{}] {state}", f.name, f.contents.join(" "))
            })
            .collect();
        assert_eq!(
            summary,
            [
                "a-spec [.config.kiro tasks.md] spec Feature Kiro",
                "b-brief [assets/ brief.md] incomplete Feature Kiro",
                "c-cc-sdd [research.md spec.json] incomplete Feature CcSdd",
                "d-config [.config.kiro plan.md] incomplete Bugfix Kiro",
                "e-empty [] incomplete Feature Kiro",
                "f-not-utf8 [brief.md requirements.md] failed true",
            ]
        );
        // An incomplete folder keeps what it holds, and `load_spec` still refuses it.
        let brief = folders[1].loaded().unwrap();
        assert_eq!(brief.spec.extra_files["brief.md"], "# Idea\n");
        assert!(matches!(
            load_spec(&folders[1].dir),
            Err(Error::NotASpec { .. })
        ));
        // The unreadable config of a loaded spec is a note, not a failure.
        assert_eq!(folders[0].loaded().unwrap().metadata_issues.len(), 1);
        assert!(folders[5].loaded().is_none());
        // `list_specs` (lint, fmt, ...) still sees only folders with documents.
        assert_eq!(list_specs(root).unwrap().len(), 3);
    }
}
