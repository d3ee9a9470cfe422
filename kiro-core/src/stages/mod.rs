//! The default stages: deterministic, offline, always available.
//!
//! | Stage | Trait | What it does |
//! |---|---|---|
//! | [`MarkdownRequirementsParser`] | [`RequirementsParser`] | reads Kiro's `requirements.md` |
//! | [`EarsTextParser`] | [`RequirementsParser`] | plain text or bullet lists of EARS sentences |
//! | [`StandardRequirementsParser`] | [`RequirementsParser`] | either of the two, by input kind |
//! | [`TemplateDesigner`] | [`Designer`] | design skeleton, one property per testable criterion |
//! | [`TracePlanner`] | [`TaskPlanner`] | tasks per requirement, a test task per property |
//! | [`CommandExecutor`] | [`Executor`](crate::stage::Executor) | runs a configured command per task, or a known agent CLI ([`preset`]) |
//! | [`CommandVerifier`] | [`Verifier`](crate::stage::Verifier) | runs the test command and maps results to criteria |

pub mod command;
mod confine;
pub mod preset;
pub mod template;
mod verifier;

use async_trait::async_trait;

use crate::ears::requirements_from_text;
use crate::format::parse_requirements;
use crate::spec::{DesignDoc, RequirementsDoc, TaskList};
use crate::stage::{
    Designer, RequirementsInput, RequirementsParser, StageContext, StageError, TaskPlanner,
};

pub use command::{task_brief, BriefInput, CommandExecutor, MAX_BRIEF_ARGUMENT_BYTES};
pub use confine::{Confined, Confiner};
pub use preset::{preset_command, PresetCommand, PRESET_INSTRUCTION};
pub use template::{is_testable, template_design, trace_plan};
pub use verifier::CommandVerifier;

/// The repository a command stage runs in: the one it was given, else the
/// running task's first repository ([`StageContext::task_repos`]), else the
/// workspace's default one.
fn repo_or_first(cx: &StageContext, repo: Option<&String>) -> String {
    repo.cloned().unwrap_or_else(|| cx.task_repo().to_owned())
}

/// Fails with [`StageError::Invalid`] when a document holds no requirement.
fn non_empty(doc: RequirementsDoc) -> Result<RequirementsDoc, StageError> {
    if doc.requirements.is_empty() {
        return Err(StageError::invalid(
            "the requirements input holds no requirement",
        ));
    }
    Ok(doc)
}

/// Reads requirements in Kiro's markdown format; plain text is an error.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use kiro_core::stage::{RequirementsInput, RequirementsParser, StageContext};
/// use kiro_core::stages::MarkdownRequirementsParser;
///
/// let dir = tempfile::tempdir()?;
/// let cx = StageContext::builder(kiro_core::workspace::Workspace::single(dir.path())?).build();
/// let md = "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Save\n\n#### Acceptance Criteria\n\n1. WHEN a user saves, THE App SHALL store the note\n";
/// let doc = MarkdownRequirementsParser.parse(&RequirementsInput::Markdown(md.into()), &cx).await?;
/// assert_eq!(doc.requirements[0].criteria[0].id.as_str(), "1.1");
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkdownRequirementsParser;

#[async_trait]
impl RequirementsParser for MarkdownRequirementsParser {
    async fn parse(
        &self,
        input: &RequirementsInput,
        _cx: &StageContext,
    ) -> Result<RequirementsDoc, StageError> {
        match input {
            RequirementsInput::Markdown(md) => non_empty(parse_requirements(md).value),
            RequirementsInput::Text(_) => Err(StageError::invalid(
                "expected Kiro requirements markdown, got plain text",
            )),
        }
    }
}

/// Turns plain prose or a bullet list of EARS sentences into requirements:
/// one requirement per paragraph or group, one criterion per sentence or
/// bullet (see [`requirements_from_text`]).
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use kiro_core::stage::{RequirementsInput, RequirementsParser, StageContext};
/// use kiro_core::stages::EarsTextParser;
///
/// let dir = tempfile::tempdir()?;
/// let cx = StageContext::builder(kiro_core::workspace::Workspace::single(dir.path())?).build();
/// let text = "- WHEN a user saves a note, THE App SHALL store it.\n- THE App SHALL keep notes for 30 days.\n";
/// let doc = EarsTextParser.parse(&RequirementsInput::Text(text.into()), &cx).await?;
/// assert_eq!(doc.requirements[0].criteria.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct EarsTextParser;

#[async_trait]
impl RequirementsParser for EarsTextParser {
    async fn parse(
        &self,
        input: &RequirementsInput,
        _cx: &StageContext,
    ) -> Result<RequirementsDoc, StageError> {
        non_empty(requirements_from_text(
            "Requirements Document",
            input.text(),
        ))
    }
}

/// [`MarkdownRequirementsParser`] for markdown input, [`EarsTextParser`] for text.
#[derive(Clone, Copy, Debug, Default)]
pub struct StandardRequirementsParser;

#[async_trait]
impl RequirementsParser for StandardRequirementsParser {
    async fn parse(
        &self,
        input: &RequirementsInput,
        cx: &StageContext,
    ) -> Result<RequirementsDoc, StageError> {
        match input {
            RequirementsInput::Markdown(_) => MarkdownRequirementsParser.parse(input, cx).await,
            RequirementsInput::Text(_) => EarsTextParser.parse(input, cx).await,
        }
    }
}

/// A design skeleton in Kiro's layout with one correctness property per
/// testable criterion ([`template_design`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TemplateDesigner;

#[async_trait]
impl Designer for TemplateDesigner {
    async fn design(
        &self,
        reqs: &RequirementsDoc,
        cx: &StageContext,
    ) -> Result<DesignDoc, StageError> {
        let feature = if cx.spec_name().is_empty() {
            "feature"
        } else {
            cx.spec_name()
        };
        Ok(template_design(feature, reqs))
    }
}

/// Tasks grouped by requirement, a property-test task per property, with
/// dependencies and `_Requirements` links covering every criterion
/// ([`trace_plan`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TracePlanner;

#[async_trait]
impl TaskPlanner for TracePlanner {
    async fn plan(
        &self,
        reqs: &RequirementsDoc,
        design: &DesignDoc,
        _cx: &StageContext,
    ) -> Result<TaskList, StageError> {
        Ok(trace_plan(reqs, design))
    }
}
