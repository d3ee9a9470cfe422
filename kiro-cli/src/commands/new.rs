//! `kiro spec new`: start a spec folder with a `requirements.md`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use kiro_core::format;
use kiro_core::spec::{RequirementsDoc, Spec};
use kiro_core::stage::{RequirementsInput, RequirementsParser, RunUsage, StageContext};
use kiro_core::store;
use kiro_llm::stages::LlmRequirementsParser;

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
        Some(path) if args.llm => from_model(ws, name, super::read_input(ws, path)?)?,
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

/// The requirements the configured model writes from `text` (through
/// kiro-llm's parser, which lints them and has the model correct what
/// fails); prints what the model cost.
fn from_model(ws: &Workspace, name: &str, text: String) -> Result<RequirementsDoc> {
    let project = crate::engine::project(ws)?;
    let file = project.config().clone();
    let model = crate::models::connect(ws.root(), &file)?;
    let cx = StageContext::builder(project.workspace()?)
        .config(file.clone())
        .spec_name(name)
        .build();
    let parser = LlmRequirementsParser::new(model.client.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let doc = runtime
        .block_on(parser.parse(&RequirementsInput::Text(text), &cx))
        .with_context(|| format!("the model could not write the requirements of `{name}`"))?;
    let mut usage = RunUsage::default();
    usage.phases.insert("requirements".to_owned(), cx.usage());
    usage.total = cx.usage();
    let usage = usage.priced(Some(&model.config.model), &file.llm.prices);
    eprint!("{}", crate::models::usage_report(&usage));
    Ok(doc)
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
