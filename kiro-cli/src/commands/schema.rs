//! `kiro schema`: JSON Schemas of the documents, of lint output, of the
//! verification matrix, and of the JSON of `status`, `trace`, `verify` and
//! `checkpoint list` (the output types of `kiro_core::project`) and of `pbt
//! run` (`kiro_proptest::results::PbtRun`) and of `memory list|show|search|recall`.

use std::process::ExitCode;

use anyhow::Result;
use kiro_core::project::{CheckpointList, StatusReport, TraceReport};
use kiro_core::spec::{BugfixDoc, DesignDoc, RequirementsDoc, Spec, TaskList};
use schemars::schema_for;

use crate::cli::SchemaKind;
use crate::output;

/// Prints the schema as pretty JSON.
pub(super) fn run(kind: SchemaKind) -> Result<ExitCode> {
    let schema = match kind {
        SchemaKind::Spec => schema_for!(Spec),
        SchemaKind::Requirements => schema_for!(RequirementsDoc),
        SchemaKind::Bugfix => schema_for!(BugfixDoc),
        SchemaKind::Design => schema_for!(DesignDoc),
        SchemaKind::Tasks => schema_for!(TaskList),
        SchemaKind::Diagnostics => schema_for!(Vec<kiro_core::lint::Diagnostic>),
        SchemaKind::Matrix | SchemaKind::Verify => kiro_core::report::matrix_schema(),
        SchemaKind::Status => schema_for!(StatusReport),
        SchemaKind::Trace => schema_for!(TraceReport),
        SchemaKind::Checkpoints => schema_for!(CheckpointList),
        SchemaKind::Pbt => schema_for!(kiro_proptest::results::PbtRun),
        SchemaKind::Memory => schema_for!(super::memory::MemoryListing),
    };
    output::println(&serde_json::to_string_pretty(&schema)?)?;
    Ok(ExitCode::SUCCESS)
}
