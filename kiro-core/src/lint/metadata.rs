//! K0017: what kiro could not read in a spec's metadata files
//! (`.config.kiro`, `spec.json`). Kept apart from [`super::checks`], which
//! looks at the model: these findings come from loading, not from the spec.

use super::{Diagnostic, Finding, Needle};
use crate::store::LoadedSpec;

/// One note per [`crate::store::MetadataIssue`], at its file, line and column.
pub(super) fn diagnostics(spec: &LoadedSpec) -> impl Iterator<Item = Diagnostic> + '_ {
    spec.metadata_issues.iter().map(|issue| {
        let name = issue
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut d = Finding {
            code: "K0017",
            message: format!("{name} {}", issue.message),
            help: Some(format!(
                "{name} belongs to another tool; kiro keeps it byte for byte and never refuses the spec for it"
            )),
            at: None,
            needle: Needle::None,
        }
        .diagnostic();
        d.file = Some(issue.path.clone());
        d.line = issue.line;
        d.column = issue.column;
        d
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::{lint, rule, Severity};
    use crate::store::{load_spec, CONFIG_FILE, SPEC_JSON_FILE};

    #[test]
    fn unreadable_metadata_is_a_note_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tasks.md"), "- [ ] 1. x\n").unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "specType=bugfix\nnot a pair\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(SPEC_JSON_FILE), "{\n  \"phase\": ]\n}").unwrap();
        let found: Vec<_> = lint(&load_spec(dir.path()).unwrap())
            .into_iter()
            .filter(|d| d.code == "K0017")
            .collect();
        assert_eq!(rule("K0017").map(|r| r.severity), Some(Severity::Note));
        let shown: Vec<String> = found
            .iter()
            .map(|d| {
                let file = d.file.as_ref().and_then(|f| f.file_name()).unwrap();
                format!(
                    "{}:{}:{} {} {}",
                    file.to_string_lossy(),
                    d.line,
                    d.column,
                    d.severity,
                    d.message
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ".config.kiro:2:1 note .config.kiro line is neither JSON, `key=value` nor `key: value`; it was not read",
                "spec.json:2:12 note spec.json invalid JSON: expected value",
            ]
        );
    }
}
