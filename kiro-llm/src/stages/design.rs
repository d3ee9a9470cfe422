//! [`LlmDesigner`]: requirements to Kiro's design sections and correctness
//! properties.

use async_trait::async_trait;
use kiro_core::format::{parse_design, render_design, render_requirements};
use kiro_core::lexicon::DEFAULT_PROPERTIES_HEADING;
use kiro_core::lint::LintOptions;
use kiro_core::spec::{
    CorrectnessProperty, CriterionId, DesignDoc, PropertyId, RequirementsDoc, Section,
};
use kiro_core::stage::{Designer, StageContext, StageError};
use kiro_core::store::DocKind;
use schemars::JsonSchema;
use serde::Deserialize;

use super::guidance::{guidance, paths_in};
use super::review::{Finding, Review, STRUCTURE};
use super::{
    block_field, bounded, count_field, feature, generate, line_field, link_id, stage_builder,
    system_prompt, Ask, Checked, Settings,
};

const PROMPT: &str = include_str!("../../prompts/design.md");
const STAGE: &str = "llm designer";
const TITLE: &str = "Design Document";

/// Warnings that refuse a generated design besides every error: a
/// placeholder (`K0006`) is unfinished work, a property that validates
/// nothing (`K0011`) traces to nothing, and a format finding (`K0015`)
/// means the text did not read back as Kiro's format.
const BLOCKING: &[&str] = &["K0006", "K0011", "K0015"];

const MAX_PROPERTIES: usize = 60;
const MAX_LINKS: usize = 30;
const MAX_TITLE: usize = 120;
const MAX_STATEMENT: usize = 1_000;
const MAX_SECTION: usize = 20_000;

/// The property section's text before the properties.
const PROPERTIES_INTRO: &str = "A property is a characteristic or behavior that should hold true across all valid executions of the system. Each property below names the acceptance criteria it validates; property-based tests check them.";

/// Designs from requirements through a chat model: Kiro's design sections
/// (overview, architecture, components and interfaces, data models, error
/// handling, testing strategy) and correctness properties, each with
/// `Validates` links to existing criteria (see [the module docs](super)
/// for the loop every LLM stage runs; a link to a criterion the
/// requirements do not define is lint's K0012 and goes back to the model).
#[derive(Clone, Debug)]
pub struct LlmDesigner {
    settings: Settings,
}

stage_builder!(LlmDesigner);

#[async_trait]
impl Designer for LlmDesigner {
    async fn design(
        &self,
        reqs: &RequirementsDoc,
        cx: &StageContext,
    ) -> Result<DesignDoc, StageError> {
        let requirements = render_requirements(reqs);
        let requirements = bounded(STAGE, "requirements document", &requirements)?.to_owned();
        let guidance = guidance(cx, &requirements, &paths_in(&requirements)).await?;
        let ask = Ask {
            stage: STAGE,
            file: DocKind::Design.file_name(),
            system: system_prompt(PROMPT, &guidance),
            user: format!(
                "Feature: {}\n\nrequirements.md:\n\n{}\n",
                feature(cx),
                requirements.trim_end()
            ),
            schema_name: "design",
        };
        let options = LintOptions::from(cx.config());
        generate(&self.settings, cx, ask, |draft: DesignDraft| {
            check(draft, &requirements, options)
        })
        .await
    }
}

/// What the model answers: the sections' markdown and the properties
/// without ids.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct DesignDraft {
    /// Markdown: the feature, its goals and the approach.
    overview: String,
    /// Markdown: the parts and how they fit (a mermaid diagram is welcome).
    architecture: String,
    /// Markdown: each component, its responsibility and interface.
    components_and_interfaces: String,
    /// Markdown: the types and their fields.
    data_models: String,
    /// Markdown: the failures and how each is handled.
    error_handling: String,
    /// Markdown: unit, property-based and integration tests.
    testing_strategy: String,
    /// Correctness properties in order; kiro numbers them 1, 2, ...
    #[schemars(length(max = 60))]
    properties: Vec<PropertyDraft>,
}

/// One correctness property.
#[derive(Debug, Deserialize, JsonSchema)]
struct PropertyDraft {
    /// A short title, a few words, no number.
    title: String,
    /// One sentence starting `For any`: what holds for every input.
    statement: String,
    /// The acceptance criteria it validates, by id (`1.2`).
    #[schemars(length(min = 1, max = 30))]
    validates: Vec<String>,
}

fn check(draft: DesignDraft, requirements: &str, options: LintOptions) -> Checked<DesignDoc> {
    let mut findings = Vec::new();
    let built = build(draft, &mut findings);
    if !findings.is_empty() {
        return Err(findings);
    }
    let text = render_design(&built);
    let read = parse_design(&text).value;
    findings.extend(compare(&built, &read));
    let review = Review {
        documents: vec![
            (DocKind::Requirements, requirements.to_owned()),
            (DocKind::Design, text),
        ],
        own: DocKind::Design,
        blocking: BLOCKING,
        anywhere: &[],
        options,
    };
    findings.extend(review.findings());
    if findings.is_empty() {
        Ok(read)
    } else {
        Err(findings)
    }
}

fn build(draft: DesignDraft, findings: &mut Vec<Finding>) -> DesignDoc {
    count_field(findings, "properties", &draft.properties, MAX_PROPERTIES);
    let mut section = |title: &str, body: &str| Section {
        title: title.to_owned(),
        level: 2,
        body: block_field(
            findings,
            &format!("the {title} section"),
            body,
            3,
            MAX_SECTION,
        ),
    };
    let mut sections = vec![
        section("Overview", &draft.overview),
        section("Architecture", &draft.architecture),
        section(
            "Components and Interfaces",
            &draft.components_and_interfaces,
        ),
        section("Data Models", &draft.data_models),
        section(DEFAULT_PROPERTIES_HEADING, PROPERTIES_INTRO),
    ];
    let properties_after = sections.len() - 1;
    sections.push(section("Error Handling", &draft.error_handling));
    sections.push(section("Testing Strategy", &draft.testing_strategy));
    let mut properties = Vec::new();
    for (i, p) in draft.properties.iter().take(MAX_PROPERTIES).enumerate() {
        let n = i + 1;
        let what = format!("property {n}");
        count_field(
            findings,
            &format!("{what}'s validates"),
            &p.validates,
            MAX_LINKS,
        );
        let validates = p
            .validates
            .iter()
            .take(MAX_LINKS)
            .filter_map(|v| link_id(findings, &format!("{what}'s validates"), v))
            .map(CriterionId::new)
            .collect();
        properties.push(CorrectnessProperty {
            id: PropertyId::new(n.to_string()),
            title: line_field(
                findings,
                &format!("{what}'s title"),
                &p.title,
                MAX_TITLE,
                true,
            ),
            statement: line_field(
                findings,
                &format!("{what}'s statement"),
                &p.statement,
                MAX_STATEMENT,
                true,
            ),
            validates,
            ..CorrectnessProperty::default()
        });
    }
    DesignDoc {
        title: TITLE.to_owned(),
        properties_after: (!properties.is_empty()).then_some(properties_after),
        sections,
        properties,
        ..DesignDoc::default()
    }
}

/// Where the read-back design differs from the built one.
fn compare(built: &DesignDoc, read: &DesignDoc) -> Vec<Finding> {
    let mut out = Vec::new();
    let titles = |d: &DesignDoc| {
        d.sections
            .iter()
            .filter(|s| s.level <= 2)
            .map(|s| s.title.clone())
            .collect::<Vec<_>>()
    };
    if titles(built) != titles(read) {
        out.push(Finding::new(
            STRUCTURE,
            format!(
                "the sections read back as {:?} instead of {:?}: a section's markdown opens a section of its own or leaves a code fence open",
                titles(read),
                titles(built)
            ),
        ));
    }
    if built.properties.len() != read.properties.len() {
        out.push(Finding::new(
            STRUCTURE,
            format!(
                "the answer has {} properties but its markdown reads as {}: a field holds markdown that starts a property",
                built.properties.len(),
                read.properties.len()
            ),
        ));
        return out;
    }
    for (b, r) in built.properties.iter().zip(&read.properties) {
        if (&b.title, &b.statement, &b.validates) != (&r.title, &r.statement, &r.validates) {
            out.push(Finding::new(
                STRUCTURE,
                format!(
                    "property {} does not read back as written: remove the markdown that changes the document's layout",
                    b.id
                ),
            ));
        }
    }
    out
}
