//! TEMPORARY STUB: store.
