//! kiro-memory's integration tests, one binary: one module per part of the
//! crate (store, recall, ingest, steering, eval). Add a module's `mod` line
//! at the end.
mod ingest;
mod steering;
