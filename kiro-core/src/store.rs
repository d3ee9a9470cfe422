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
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::{self, FormatDiagnostic, SourceMap};
use crate::spec::{Dialect, KiroConfig, Spec, SpecKind};

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
}

impl LoadedSpec {
    /// The source of one document, if the folder has it.
    pub fn file(&self, kind: DocKind) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.kind == kind)
    }
}

fn read_text(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| Error::NotUtf8 {
                path: path.to_owned(),
                offset: e.utf8_error().valid_up_to(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> Error {
    Error::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Parses `.config.kiro`, keeping the raw text.
pub fn parse_config(path: &Path, raw: String) -> Result<KiroConfig> {
    let value: serde_json::Value = serde_json::from_str(&raw).map_err(|e| json_error(path, &e))?;
    let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(KiroConfig {
        spec_id: field("specId"),
        workflow_type: field("workflowType"),
        spec_type: field("specType"),
        raw,
    })
}

/// Files larger than this are not kept in [`Spec::extra_files`].
const MAX_EXTRA_FILE: u64 = 4 * 1024 * 1024;

/// Reads a spec folder: every document, parsed, with its source.
///
/// Errors when the folder cannot be read, holds none of the four documents,
/// a document is not UTF-8, or `.config.kiro` / `spec.json` is not JSON.
/// Markdown that does not follow the Kiro format is not an error: it is kept
/// verbatim and reported in [`SourceFile::diagnostics`].
pub fn load_spec(dir: &Path) -> Result<LoadedSpec> {
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
        let Some(text) = read_text(&path)? else {
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
        files.push(SourceFile {
            kind,
            path,
            text,
            source_map,
            diagnostics,
        });
    }
    if files.is_empty() {
        return Err(Error::NotASpec {
            path: dir.to_owned(),
        });
    }

    let config_path = dir.join(CONFIG_FILE);
    if let Some(raw) = read_text(&config_path)? {
        spec.config = Some(parse_config(&config_path, raw)?);
    }
    read_extra_files(dir, &mut spec)?;

    spec.dialect = if spec.extra_files.contains_key("spec.json") {
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
    })
}

/// Keeps the folder's other text files (cc-sdd's `spec.json`, `research.md`, ...)
/// byte for byte. Binary or very large files are left where they are and not
/// modelled; saving never deletes them.
fn read_extra_files(dir: &Path, spec: &mut Spec) -> Result<()> {
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
        if is_doc || file_name == CONFIG_FILE {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.len() > MAX_EXTRA_FILE {
            continue;
        }
        let path = entry.path();
        let Ok(bytes) = fs::read(&path) else { continue };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if file_name == "spec.json" {
            // cc-sdd's phase approvals: a broken file is an error worth a line number.
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| json_error(&path, &e))?;
        }
        spec.extra_files.insert(file_name, text);
    }
    Ok(())
}

/// Renders one document of a spec, if the spec has it.
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
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiro-tmp-")
        .tempfile_in(&dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(&dir)
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

impl Spec {
    /// Reads a spec folder (see [`load_spec`]) and returns the model only.
    pub fn load(dir: impl AsRef<Path>) -> Result<Spec> {
        load_spec(dir.as_ref()).map(|l| l.spec)
    }

    /// Writes the spec to a folder: each document rendered canonically,
    /// `.config.kiro` and extra files byte for byte. Each file is replaced
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
                if write_if_changed(&path, text.as_bytes())? {
                    written.push(path);
                }
            }
        }
        if let Some(config) = &self.config {
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
        Ok(written)
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
        if path.is_dir()
            && DocKind::ALL
                .iter()
                .any(|k| path.join(k.file_name()).is_file())
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
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
    fn broken_config_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
        fs::write(dir.path().join(CONFIG_FILE), "{\n  \"specId\": \n").unwrap();
        let err = load_spec(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(".config.kiro:3:"), "{msg}");
    }

    #[test]
    fn not_a_spec_and_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load_spec(dir.path()), Err(Error::NotASpec { .. })));
        fs::write(dir.path().join("tasks.md"), b"ok\xff\xfe").unwrap();
        assert!(matches!(
            load_spec(dir.path()),
            Err(Error::NotUtf8 { offset: 2, .. })
        ));
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
}
