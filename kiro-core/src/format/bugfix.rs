//! TEMPORARY STUB: replaced by the real parser.
use super::{Parsed, SourceMap};
use crate::spec::BugfixDoc;

/// Parses `bugfix.md`.
pub fn parse_bugfix(src: &str) -> Parsed<BugfixDoc> {
    let _ = src;
    Parsed { value: BugfixDoc::default(), source_map: SourceMap::default(), diagnostics: Vec::new() }
}

/// Renders `bugfix.md`.
pub fn render_bugfix(doc: &BugfixDoc) -> String {
    let _ = doc;
    String::new()
}
