//! TEMPORARY STUB: EARS classification.
use crate::spec::Ears;

impl Ears {
    /// Classifies a criterion.
    pub fn parse(text: &str) -> Option<Ears> {
        let _ = text;
        None
    }
}
