//! The file tools' work: bounded reads, listings, searches and exact edits,
//! every path resolved through the [`Workspace`].
//!
//! Bounds are the point: a model may ask for a 2 GB file, a file that is
//! one endless line, or a search that matches every line of the
//! repository, and each answer must still fit in a prompt and take
//! bounded time.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use kiro_core::workspace::{JournalEntry, Workspace};

use super::tools::{clip, ToolError};

/// Paths the agent may not read, list, search or write, whatever the
/// policy: the repository's git internals (remote URLs can hold
/// credentials, a hook written there runs at the next commit) and kiro's
/// own records of runs, which the workspace's snapshots skip too.
fn is_protected(rel: &Path) -> bool {
    rel.starts_with(".git") || kiro_core::workspace::is_kiro_record(rel)
}

/// How many bytes `read_file` reads at most looking for its window, so a
/// request for line 10 million of a huge file ends in bounded time.
const SCAN_LIMIT: u64 = 64 * 1024 * 1024;

/// How much of one line `read_file` shows; longer lines (minified code,
/// data) are cut with a note.
const MAX_LINE_BYTES: usize = 2000;

/// The largest file `edit_file` rewrites (it holds the file in memory).
const MAX_EDIT_BYTES: u64 = 8 * 1024 * 1024;

/// How many matches `search` reports at most.
const MAX_HITS: usize = 100;

/// Files larger than this are not searched (generated code, data).
const MAX_SEARCH_FILE_BYTES: u64 = 1024 * 1024;

/// How many entries `list_dir` shows at most.
const MAX_ENTRIES: usize = 1000;

/// A resolved path: absolute, and relative to the repository root.
struct Located {
    abs: PathBuf,
    rel: PathBuf,
    root: PathBuf,
}

fn locate(ws: &Workspace, repo: &str, path: &str) -> Result<Located, ToolError> {
    let abs = ws.resolve(repo, path)?;
    let root = ws.root(repo)?.to_path_buf();
    let rel = abs
        .strip_prefix(&root)
        .map(Path::to_owned)
        .unwrap_or_default();
    if is_protected(&rel) {
        return Err(ToolError::Protected {
            path: path.to_owned(),
        });
    }
    Ok(Located { abs, rel, root })
}

fn io_error(path: &str, e: &std::io::Error) -> ToolError {
    if e.kind() == ErrorKind::NotFound {
        ToolError::NotFound {
            path: path.to_owned(),
        }
    } else {
        ToolError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}

/// Refuses a path the policy does not let the agent write, or a protected
/// one, before any work.
pub(super) fn check_writable(ws: &Workspace, repo: &str, path: &str) -> Result<(), ToolError> {
    locate(ws, repo, path)?;
    if ws.is_writable(repo, path)? {
        Ok(())
    } else {
        Err(ToolError::NotWritable {
            path: path.to_owned(),
        })
    }
}

/// Lines `start..` (from 1) of a file, at most `limit` of them and `budget`
/// bytes of output, numbered, decoded lossily.
pub(super) fn read(
    ws: &Workspace,
    repo: &str,
    path: &str,
    start: u64,
    limit: Option<u64>,
    budget: usize,
) -> Result<String, ToolError> {
    let at = locate(ws, repo, path)?;
    let meta = fs::metadata(&at.abs).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(ToolError::WrongKind {
            path: path.to_owned(),
            what: "is a folder; use list_dir",
        });
    }
    // Opening a named pipe or a device could block for ever.
    if !meta.is_file() {
        return Err(ToolError::WrongKind {
            path: path.to_owned(),
            what: "is not a regular file",
        });
    }
    let file = File::open(&at.abs).map_err(|e| io_error(path, &e))?;
    let window = Window::read(
        BufReader::new(file.take(SCAN_LIMIT)),
        start,
        limit.unwrap_or(u64::MAX),
        budget,
    )
    .map_err(|e| io_error(path, &e))?;
    let size = meta.len();
    if window.shown == 0 {
        if size == 0 {
            return Ok(format!("{path}: empty file"));
        }
        if window.scanned >= SCAN_LIMIT {
            return Err(ToolError::BeyondScan {
                path: path.to_owned(),
                line: start,
                limit: SCAN_LIMIT,
            });
        }
        return Ok(format!(
            "{path}: the file has {} lines; nothing from line {start} on",
            window.next - 1
        ));
    }
    let last = start + window.shown - 1;
    let mut header = format!("{path} ({size} bytes), lines {start}-{last}");
    if window.more || (window.scanned >= SCAN_LIMIT && size > SCAN_LIMIT) {
        header.push_str(&format!(
            "; more follows: call read_file with offset={}",
            window.next
        ));
    }
    Ok(format!("{header}\n{}", window.text))
}

/// What [`Window::read`] found.
#[derive(Debug, Default)]
struct Window {
    /// The numbered lines.
    text: String,
    /// How many lines were shown.
    shown: u64,
    /// The number of the line after the last one shown (or after the last
    /// line of the file).
    next: u64,
    /// Whether lines remain after the window.
    more: bool,
    /// How many bytes were read.
    scanned: u64,
}

impl Window {
    /// Reads from `reader` (already bounded by the caller) the window of
    /// lines `start..start + limit` that fits in `budget` bytes, holding at
    /// most one cut line in memory.
    fn read(
        mut reader: impl BufRead,
        start: u64,
        limit: u64,
        budget: usize,
    ) -> std::io::Result<Window> {
        let mut window = Window {
            next: 1,
            ..Window::default()
        };
        // The current line's kept bytes, and whether it was cut.
        let mut line: Vec<u8> = Vec::new();
        let mut cut = false;
        let mut in_line = false;
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (piece, ends_line) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (buf.get(..i).unwrap_or_default(), true),
                None => (buf, false),
            };
            let used = piece.len() + usize::from(ends_line);
            in_line = true;
            if window.next >= start {
                let room = MAX_LINE_BYTES.saturating_sub(line.len());
                if piece.len() > room {
                    cut = true;
                }
                line.extend_from_slice(piece.get(..piece.len().min(room)).unwrap_or_default());
            }
            reader.consume(used);
            window.scanned += used as u64;
            if !ends_line {
                continue;
            }
            in_line = false;
            if window.next >= start && !window.push(&line, cut, budget) {
                window.more = true;
                return Ok(window);
            }
            line.clear();
            cut = false;
            window.next += 1;
            if window.shown >= limit {
                window.more = !reader.fill_buf()?.is_empty();
                return Ok(window);
            }
        }
        // A last line without a line break.
        if in_line && window.next >= start {
            if window.push(&line, cut, budget) {
                window.next += 1;
            } else {
                window.more = true;
            }
        }
        Ok(window)
    }

    /// Appends one numbered line if it fits in `budget` (the first line
    /// always does, shortened if need be); `false` when it did not fit.
    fn push(&mut self, line: &[u8], cut: bool, budget: usize) -> bool {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let mut entry = format!("{:>6}\t{text}", self.next);
        if cut {
            entry.push_str(" [line cut]");
        }
        entry.push('\n');
        if self.text.len() + entry.len() > budget {
            if self.shown > 0 {
                return false;
            }
            let mut kept = clip(&entry, budget.saturating_sub(12)).to_owned();
            kept.push_str(" [line cut]\n");
            entry = kept;
        }
        self.text.push_str(&entry);
        self.shown += 1;
        true
    }
}

/// The entries of a folder, sorted by name: `name/` for folders, `name -> target`
/// for symbolic links, `name (N bytes)` for files.
pub(super) fn list(
    ws: &Workspace,
    repo: &str,
    path: &str,
    budget: usize,
) -> Result<String, ToolError> {
    let at = locate(ws, repo, path)?;
    let meta = fs::metadata(&at.abs).map_err(|e| io_error(path, &e))?;
    if !meta.is_dir() {
        return Err(ToolError::WrongKind {
            path: path.to_owned(),
            what: "is a file; use read_file",
        });
    }
    let mut entries: Vec<(String, String)> = Vec::new();
    for entry in fs::read_dir(&at.abs).map_err(|e| io_error(path, &e))? {
        let entry = entry.map_err(|e| io_error(path, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let shown = match entry.file_type() {
            Ok(t) if t.is_symlink() => {
                let target = fs::read_link(entry.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                format!("{name} -> {target}")
            }
            Ok(t) if t.is_dir() => format!("{name}/"),
            _ => {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{name} ({size} bytes)")
            }
        };
        entries.push((name, shown));
    }
    entries.sort();
    let total = entries.len();
    let shown_path = if at.rel.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        at.rel.display().to_string()
    };
    let mut out = format!("{shown_path}: {total} entries\n");
    for (i, (_, line)) in entries.iter().enumerate() {
        if i >= MAX_ENTRIES || out.len() + line.len() + 1 > budget {
            out.push_str(&format!("[{} more entries not shown]\n", total - i));
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// Lines of the repository's text files under `path` matching `pattern`,
/// honouring `.gitignore`, as `path:line: text`.
pub(super) fn search(
    ws: &Workspace,
    repo: &str,
    pattern: &str,
    path: &str,
    budget: usize,
) -> Result<String, ToolError> {
    // A size limit keeps a hostile pattern from compiling into a huge automaton.
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ToolError::Pattern(e.to_string()))?;
    let at = locate(ws, repo, path)?;
    if fs::symlink_metadata(&at.abs).is_err() {
        return Err(ToolError::NotFound {
            path: path.to_owned(),
        });
    }
    let root = at.root.clone();
    let wanted = at.abs.clone();
    let whole = wanted == root;
    let filter_root = root.clone();
    let mut builder = ignore::WalkBuilder::new(&root);
    // As the workspace's snapshots walk: from the root, so the root's
    // .gitignore applies to a sub-folder too, pruning what is off the way.
    builder
        .hidden(false)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.depth() == 0 {
                return true;
            }
            let rel = e.path().strip_prefix(&filter_root).unwrap_or(e.path());
            let name = e.file_name();
            if is_protected(rel) || name == "target" || name == "node_modules" {
                return false;
            }
            whole || e.path().starts_with(&wanted) || wanted.starts_with(e.path())
        });
    let mut out = String::new();
    let mut hits = 0usize;
    let mut skipped = 0usize;
    let mut full = false;
    'files: for entry in builder.build() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) || !entry.path().starts_with(&at.abs) {
            continue;
        }
        let too_big = entry
            .metadata()
            .map(|m| m.len() > MAX_SEARCH_FILE_BYTES)
            .unwrap_or(true);
        if too_big {
            skipped += 1;
            continue;
        }
        let Ok(bytes) = fs::read(entry.path()) else {
            continue;
        };
        // Text only: a NUL near the start marks a binary file, as git decides.
        if bytes.iter().take(8000).any(|&b| b == 0) {
            continue;
        }
        let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if !regex.is_match(line) {
                continue;
            }
            let hit = format!("{}:{}: {}\n", rel.display(), n + 1, clip(line.trim(), 200));
            if hits >= MAX_HITS || out.len() + hit.len() > budget {
                full = true;
                break 'files;
            }
            out.push_str(&hit);
            hits += 1;
        }
    }
    if hits == 0 {
        out.push_str("no matches\n");
    }
    if full {
        out.push_str(&format!(
            "[stopped after {hits} matches: narrow the pattern or the path]\n"
        ));
    }
    if skipped > 0 {
        out.push_str(&format!(
            "[{skipped} files larger than {MAX_SEARCH_FILE_BYTES} bytes not searched]\n"
        ));
    }
    Ok(out)
}

/// Replaces the one occurrence of `old` in a file with `new`, through
/// [`Workspace::write`].
pub(super) fn edit(
    ws: &Workspace,
    repo: &str,
    path: &str,
    old: &str,
    new: &str,
) -> Result<JournalEntry, ToolError> {
    let at = locate(ws, repo, path)?;
    check_writable(ws, repo, path)?;
    if old.is_empty() {
        return Err(ToolError::BadArguments {
            tool: "edit_file",
            message: "`old` is empty; use write_file to create a file".to_owned(),
        });
    }
    let meta = fs::metadata(&at.abs).map_err(|e| io_error(path, &e))?;
    if !meta.is_file() {
        return Err(ToolError::WrongKind {
            path: path.to_owned(),
            what: "is not a regular file",
        });
    }
    if meta.len() > MAX_EDIT_BYTES {
        return Err(ToolError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            limit: MAX_EDIT_BYTES,
            operation: "edit_file",
        });
    }
    let bytes = ws.read(repo, path)?;
    let text = String::from_utf8(bytes).map_err(|_| ToolError::NotUtf8 {
        path: path.to_owned(),
    })?;
    let count = text.matches(old).count();
    if count != 1 {
        let hint = if count == 0 {
            "copy it exactly from read_file output, without line numbers"
        } else {
            "include more of the surrounding lines to make it unique"
        };
        return Err(ToolError::EditMatches {
            path: path.to_owned(),
            count,
            hint,
        });
    }
    let edited = text.replacen(old, new, 1);
    Ok(ws.write(repo, path, edited.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::Window;

    fn check(text: &str, start: u64, limit: u64, budget: usize, expected: &str, more: bool) {
        let window = Window::read(text.as_bytes(), start, limit, budget).unwrap_or_default();
        assert_eq!(
            window.text, expected,
            "{text:?} from {start}, {limit} lines, {budget} bytes"
        );
        assert_eq!(window.more, more, "more for {text:?} from {start}");
    }

    #[test]
    fn windows_are_numbered_lines_within_bounds() {
        check(
            "a\nb\nc\n",
            1,
            u64::MAX,
            1000,
            "     1\ta\n     2\tb\n     3\tc\n",
            false,
        );
        check(
            "a\nb\nc",
            2,
            u64::MAX,
            1000,
            "     2\tb\n     3\tc\n",
            false,
        );
        check("a\nb\nc\n", 2, 1, 1000, "     2\tb\n", true);
        check(
            "a\r\nb\r\n",
            1,
            u64::MAX,
            1000,
            "     1\ta\n     2\tb\n",
            false,
        );
        // The budget stops at a whole line.
        check("aaaa\nbbbb\n", 1, u64::MAX, 12, "     1\taaaa\n", true);
        check("a\n", 5, u64::MAX, 1000, "", false);
        check("", 1, u64::MAX, 1000, "", false);
    }

    #[test]
    fn long_lines_are_cut() {
        let long = "x".repeat(5000);
        let window = Window::read(format!("{long}\nend\n").as_bytes(), 1, u64::MAX, 100_000)
            .unwrap_or_default();
        assert!(window.text.contains(" [line cut]\n"), "{}", window.text);
        assert!(window.text.ends_with("     2\tend\n"), "{}", window.text);
        assert!(window.text.len() < 2100, "{}", window.text.len());
    }
}
