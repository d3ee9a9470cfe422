//! TEMPORARY STUB: lint.
