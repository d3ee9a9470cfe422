//! Checking a generated document as `kiro lint` checks a spec folder, and
//! the findings the model is shown.

use std::fmt::Write as _;
use std::path::PathBuf;

use kiro_core::format::{parse_design, parse_requirements, parse_tasks};
use kiro_core::lint::{lint_with, LintOptions, Severity};
use kiro_core::spec::Spec;
use kiro_core::store::{DocKind, LoadedSpec, SourceFile};

/// The code of a finding kiro-llm's own checks make (the answer does not
/// read back as it was built), beside kiro lint's `K` codes.
pub(crate) const STRUCTURE: &str = "structure";

/// The code of a finding about a link the model wrote that is no id.
pub(crate) const LINK: &str = "link";

/// The most characters of an offending line shown to the model.
const MAX_SHOWN_LINE: usize = 300;

/// One reason an answer was refused, as the model is shown it and as a
/// failed stage's evidence lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// A kiro lint code (`K0012`), or `structure` / `link` for the stage's
    /// own checks.
    pub code: String,
    /// The file it is in, when not the stage's own document.
    pub file: Option<String>,
    /// The 1-based line; 0 when unknown.
    pub line: u32,
    /// What is wrong.
    pub message: String,
    /// The offending line as rendered; empty when unknown.
    pub source: String,
}

impl Finding {
    /// A finding of the stage's own checks, without a position.
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Finding {
        Finding {
            code: code.to_owned(),
            file: None,
            line: 0,
            message: message.into(),
            source: String::new(),
        }
    }

    /// The finding as one list item: code, place, message, then the
    /// offending line quoted.
    pub fn render(&self, file: &str) -> String {
        let file = self.file.as_deref().unwrap_or(file);
        let mut out = format!("- {} {file}", self.code);
        if self.line > 0 {
            let _ = write!(out, ":{}", self.line);
        }
        let _ = write!(out, ": {}", self.message);
        if !self.source.is_empty() {
            let shown: String = self.source.chars().take(MAX_SHOWN_LINE).collect();
            let _ = write!(out, "\n  offending line: {shown}");
        }
        out
    }
}

/// What a stage lints: the rendered documents of the spec as it will be
/// written, its own among them.
pub(crate) struct Review<'a> {
    /// The rendered documents, in workflow order.
    pub documents: Vec<(DocKind, String)>,
    /// The document the stage wrote; findings elsewhere are not its fault.
    pub own: DocKind,
    /// Warnings that block this stage's answer besides every error.
    pub blocking: &'a [&'a str],
    /// Codes that block wherever they point (a criterion no task covers
    /// points at requirements.md, but the plan is what must change).
    pub anywhere: &'a [&'a str],
    /// How a run orders tasks, for the plan rules.
    pub options: LintOptions,
}

impl Review<'_> {
    /// The blocking findings of `kiro lint` on the documents.
    pub fn findings(&self) -> Vec<Finding> {
        let mut spec = Spec::default();
        let mut files = Vec::new();
        for (kind, text) in &self.documents {
            match kind {
                DocKind::Requirements => spec.requirements = Some(parse_requirements(text).value),
                DocKind::Design => spec.design = Some(parse_design(text).value),
                DocKind::Tasks => spec.tasks = Some(parse_tasks(text).value),
                DocKind::Bugfix => continue,
            }
            files.push(SourceFile::parse(
                *kind,
                PathBuf::from(kind.file_name()),
                text.clone(),
            ));
        }
        let loaded = LoadedSpec {
            dir: PathBuf::new(),
            spec,
            files,
            metadata_issues: Vec::new(),
        };
        let own = PathBuf::from(self.own.file_name());
        lint_with(&loaded, self.options)
            .into_iter()
            .filter(|d| {
                let here = d.file.as_ref() == Some(&own);
                let blocks =
                    d.severity == Severity::Error || self.blocking.contains(&d.code.as_str());
                (here && blocks) || self.anywhere.contains(&d.code.as_str())
            })
            .map(|d| {
                let file = d
                    .file
                    .as_ref()
                    .and_then(|path| loaded.files.iter().find(|f| &f.path == path));
                let source = file
                    .and_then(|f| f.line(d.line as usize))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                Finding {
                    code: d.code,
                    file: d
                        .file
                        .filter(|path| path != &own)
                        .map(|path| path.to_string_lossy().into_owned()),
                    line: d.line,
                    message: d.message,
                    source,
                }
            })
            .collect()
    }
}
