//! `kiro spec new`: start a spec folder with a `requirements.md`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use kiro_core::format;
use kiro_core::spec::{RequirementsDoc, Spec};
use kiro_core::store;

use crate::cli::NewArgs;
use crate::output;
use crate::workspace::Workspace;

/// Creates `.kiro/specs/<name>/requirements.md` and prints its path.
pub(super) fn run(ws: &Workspace, args: &NewArgs) -> Result<ExitCode> {
    let name = args.name.as_str();
    store::validate_spec_name(name)?;
    let dir = store::specs_dir(ws.root()).join(name);
    if dir.exists() {
        bail!(
            "spec `{name}` already exists at {}; pick another name or edit it there",
            ws.display(&dir).display()
        );
    }
    let requirements = match &args.from {
        Some(path) => kiro_core::ears::requirements_from_text(name, &super::read_input(ws, path)?),
        None => template(name),
    };
    let spec = Spec {
        name: name.to_owned(),
        requirements: Some(requirements),
        ..Spec::default()
    };
    spec.save(&dir)
        .with_context(|| format!("cannot write spec `{name}`"))?;
    let file = dir.join(store::DocKind::Requirements.file_name());
    output::println(&ws.display(&file).display().to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// A one-requirement skeleton in Kiro's layout, with an EARS criterion to
/// copy from. It is parsed by `kiro-core` rather than built field by field so
/// that the typed fields (user story parts, EARS reading) are exactly what
/// the parser would read back. `{name}` is replaced by the spec name.
const TEMPLATE: &str = "\
# Requirements Document

## Introduction

Describe the {name} feature here: the problem it solves, who it is for, and what is out of scope.

## Requirements

### Requirement 1: Main capability

**User Story:** As a user, I want to describe the capability, so that the benefit is clear

#### Acceptance Criteria

1. WHEN a user starts the main action, THE System SHALL complete it and show the result
";

/// The template document for a spec called `name`.
fn template(name: &str) -> RequirementsDoc {
    format::parse_requirements(&TEMPLATE.replace("{name}", name)).value
}
