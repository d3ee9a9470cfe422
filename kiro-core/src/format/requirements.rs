//! TEMPORARY STUB: replaced by the real parser.
use super::{Parsed, SourceMap};
use crate::spec::RequirementsDoc;

/// Parses `requirements.md`.
pub fn parse_requirements(src: &str) -> Parsed<RequirementsDoc> {
    let _ = src;
    Parsed { value: RequirementsDoc::default(), source_map: SourceMap::default(), diagnostics: Vec::new() }
}

/// Renders `requirements.md`.
pub fn render_requirements(doc: &RequirementsDoc) -> String {
    let _ = doc;
    String::new()
}
