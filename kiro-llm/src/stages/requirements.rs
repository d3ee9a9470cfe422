//! [`LlmRequirementsParser`]: free text to user stories with EARS criteria.

use async_trait::async_trait;
use kiro_core::format::{parse_requirements, render_requirements};
use kiro_core::lint::LintOptions;
use kiro_core::spec::{
    AcceptanceCriterion, CriterionId, Ears, GlossaryEntry, Requirement, RequirementId,
    RequirementsDoc, UserStory,
};
use kiro_core::stage::{RequirementsInput, RequirementsParser, StageContext, StageError};
use kiro_core::store::DocKind;
use schemars::JsonSchema;
use serde::Deserialize;

use super::guidance::{guidance, paths_in};
use super::review::{Finding, Review, STRUCTURE};
use super::{
    block_field, bounded, count_field, feature, generate, line_field, stage_builder, system_prompt,
    Ask, Checked, Settings,
};

const PROMPT: &str = include_str!("../../prompts/requirements.md");
const STAGE: &str = "llm requirements parser";
const TITLE: &str = "Requirements Document";

/// Warnings that refuse a generated requirements document besides every
/// error: the model is asked for EARS criteria, so a criterion that is not
/// one (`K0001`-`K0003`) is a mistake to correct, not a user's choice to
/// respect; a placeholder (`K0006`) is unfinished work; a format finding
/// (`K0015`) means the text did not read back as Kiro's format.
const BLOCKING: &[&str] = &["K0001", "K0002", "K0003", "K0006", "K0015"];

const MAX_REQUIREMENTS: usize = 60;
const MAX_CRITERIA: usize = 25;
const MAX_TERMS: usize = 40;
const MAX_TITLE: usize = 120;
const MAX_CRITERION: usize = 600;
const MAX_STORY_PART: usize = 400;
const MAX_INTRODUCTION: usize = 4_000;

/// Turns a free-text request into Kiro requirements: numbered requirements,
/// each with a user story and EARS acceptance criteria, through a chat
/// model (see [the module docs](super) for the loop every LLM stage runs).
///
/// [`RequirementsInput::Markdown`] that already reads as Kiro requirements
/// (at least one requirement) is parsed by kiro-core's deterministic
/// parser, without a request: the user wrote the spec. Other markdown and
/// [`RequirementsInput::Text`] go to the model.
///
/// ```no_run
/// use std::sync::Arc;
/// use kiro_core::stage::{RequirementsInput, RequirementsParser, StageContext};
/// use kiro_llm::stages::LlmRequirementsParser;
///
/// # async fn run(client: Arc<dyn kiro_llm::LlmClient>, cx: StageContext) -> Result<(), kiro_core::stage::StageError> {
/// let parser = LlmRequirementsParser::new(client).max_corrections(1);
/// let doc = parser.parse(&RequirementsInput::Text("Users can reset their password by email.".into()), &cx).await?;
/// println!("{} requirements", doc.requirements.len());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LlmRequirementsParser {
    settings: Settings,
}

stage_builder!(LlmRequirementsParser);

#[async_trait]
impl RequirementsParser for LlmRequirementsParser {
    async fn parse(
        &self,
        input: &RequirementsInput,
        cx: &StageContext,
    ) -> Result<RequirementsDoc, StageError> {
        if let RequirementsInput::Markdown(md) = input {
            let doc = parse_requirements(md).value;
            if !doc.requirements.is_empty() {
                return Ok(doc);
            }
        }
        let text = bounded(STAGE, "requirements text", input.text())?;
        let guidance = guidance(cx, text, &paths_in(text)).await?;
        let ask = Ask {
            stage: STAGE,
            file: DocKind::Requirements.file_name(),
            system: system_prompt(PROMPT, &guidance),
            user: format!(
                "Feature: {}\n\nThe request, as the user wrote it:\n\n{}\n",
                feature(cx),
                text.trim()
            ),
            schema_name: "requirements",
        };
        let options = LintOptions::from(cx.config());
        generate(&self.settings, cx, ask, |draft: RequirementsDraft| {
            check(draft, options)
        })
        .await
    }
}

/// What the model answers: requirements without ids.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RequirementsDraft {
    /// One or two paragraphs: what the feature is, for whom, and why.
    #[schemars(length(max = 4000))]
    introduction: String,
    /// The domain terms the criteria use, each defined once (may be empty).
    #[schemars(length(max = 40))]
    glossary: Vec<TermDraft>,
    /// The requirements in order; kiro numbers them 1, 2, ...
    #[schemars(length(min = 1, max = 60))]
    requirements: Vec<RequirementDraft>,
}

/// A glossary entry.
#[derive(Debug, Deserialize, JsonSchema)]
struct TermDraft {
    /// The term, as the criteria spell it.
    term: String,
    /// What it means here, one sentence.
    definition: String,
}

/// One requirement.
#[derive(Debug, Deserialize, JsonSchema)]
struct RequirementDraft {
    /// A short title, a few words, no number.
    title: String,
    /// The user story's role, without an article (`registered user`).
    role: String,
    /// What the role wants (`to reset my password by email`).
    capability: String,
    /// Why (`I can sign in again when I forget it`).
    benefit: String,
    /// EARS sentences, one per criterion, without numbers; kiro numbers
    /// them N.1, N.2, ...
    #[schemars(length(min = 1, max = 25))]
    acceptance_criteria: Vec<String>,
}

/// The draft as a document, checked: built, rendered, read back, compared
/// and linted.
fn check(draft: RequirementsDraft, options: LintOptions) -> Checked<RequirementsDoc> {
    let mut findings = Vec::new();
    let built = build(draft, &mut findings);
    if !findings.is_empty() {
        return Err(findings);
    }
    let text = render_requirements(&built);
    let read = parse_requirements(&text).value;
    findings.extend(compare(&built, &read));
    let review = Review {
        documents: vec![(DocKind::Requirements, text)],
        own: DocKind::Requirements,
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

fn build(draft: RequirementsDraft, findings: &mut Vec<Finding>) -> RequirementsDoc {
    count_field(
        findings,
        "requirements",
        &draft.requirements,
        MAX_REQUIREMENTS,
    );
    count_field(findings, "glossary", &draft.glossary, MAX_TERMS);
    let introduction = block_field(
        findings,
        "the introduction",
        &draft.introduction,
        7,
        MAX_INTRODUCTION,
    );
    let glossary = draft
        .glossary
        .iter()
        .take(MAX_TERMS)
        .enumerate()
        .map(|(i, t)| GlossaryEntry {
            term: line_field(
                findings,
                &format!("glossary term {}", i + 1),
                &t.term,
                MAX_TITLE,
                true,
            ),
            definition: line_field(
                findings,
                &format!("the definition of glossary term {}", i + 1),
                &t.definition,
                MAX_CRITERION,
                true,
            ),
            separator: None,
        })
        .collect();
    let mut requirements = Vec::new();
    for (i, r) in draft.requirements.iter().take(MAX_REQUIREMENTS).enumerate() {
        let n = i + 1;
        let what = format!("requirement {n}");
        count_field(
            findings,
            &format!("{what}'s acceptance_criteria"),
            &r.acceptance_criteria,
            MAX_CRITERIA,
        );
        let title = line_field(
            findings,
            &format!("{what}'s title"),
            &r.title,
            MAX_TITLE,
            true,
        );
        let part = |findings: &mut Vec<Finding>, name: &str, text: &str| {
            line_field(
                findings,
                &format!("{what}'s {name}"),
                text,
                MAX_STORY_PART,
                true,
            )
        };
        let role = part(findings, "role", &r.role);
        let capability = part(findings, "capability", &r.capability);
        let benefit = part(findings, "benefit", &r.benefit);
        let benefit = benefit.trim_end_matches('.');
        let story = UserStory {
            text: format!(
                "As {}, I want {capability}, so that {benefit}.",
                with_article(&role)
            ),
            ..UserStory::default()
        };
        let mut criteria = Vec::new();
        for (k, c) in r.acceptance_criteria.iter().take(MAX_CRITERIA).enumerate() {
            let id = format!("{n}.{}", k + 1);
            let text = line_field(
                findings,
                &format!("criterion {id}"),
                strip_number(c),
                MAX_CRITERION,
                true,
            );
            criteria.push(AcceptanceCriterion {
                id: CriterionId::new(&id),
                ears: Ears::parse(&text),
                text,
            });
        }
        requirements.push(Requirement {
            id: RequirementId::new(n.to_string()),
            title,
            user_story: Some(story),
            criteria,
            ..Requirement::default()
        });
    }
    RequirementsDoc {
        title: TITLE.to_owned(),
        introduction: (!introduction.is_empty()).then_some(introduction),
        glossary,
        requirements,
        ..RequirementsDoc::default()
    }
}

/// A criterion without the list number a model may have written (`1. `,
/// `2.3 `, `- `): kiro numbers criteria itself.
fn strip_number(text: &str) -> &str {
    let t = text.trim_start();
    let t = t.strip_prefix("- ").unwrap_or(t);
    let digits = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    if digits.len() < t.len() && digits.starts_with([' ', ')']) {
        return digits.trim_start_matches(')').trim_start();
    }
    t
}

/// Where the read-back document differs from the built one: text that
/// still changed the document's structure after escaping.
fn compare(built: &RequirementsDoc, read: &RequirementsDoc) -> Vec<Finding> {
    let mut out = Vec::new();
    let differs = |what: String| {
        Finding::new(
            STRUCTURE,
            format!("{what} does not read back as written: remove the markdown that changes the document's layout"),
        )
    };
    if built.requirements.len() != read.requirements.len() {
        out.push(Finding::new(
            STRUCTURE,
            format!(
                "the answer has {} requirements but its markdown reads as {}: a field holds markdown that starts a new requirement",
                built.requirements.len(),
                read.requirements.len()
            ),
        ));
        return out;
    }
    if built.introduction.as_deref().map(str::trim) != read.introduction.as_deref().map(str::trim) {
        out.push(differs("the introduction".to_owned()));
    }
    let terms = |d: &RequirementsDoc| {
        d.glossary
            .iter()
            .map(|g| (g.term.clone(), g.definition.clone()))
            .collect::<Vec<_>>()
    };
    if terms(built) != terms(read) {
        out.push(differs("the glossary".to_owned()));
    }
    for (b, r) in built.requirements.iter().zip(&read.requirements) {
        if b.title != r.title {
            out.push(differs(format!("requirement {}'s title", b.id)));
        }
        let story = |x: &Requirement| x.user_story.as_ref().map(|s| s.text.clone());
        if story(b) != story(r) {
            out.push(differs(format!("requirement {}'s user story", b.id)));
        }
        let criteria = |x: &Requirement| {
            x.criteria
                .iter()
                .map(|c| (c.id.clone(), c.text.clone()))
                .collect::<Vec<_>>()
        };
        if criteria(b) != criteria(r) {
            out.push(differs(format!(
                "requirement {}'s acceptance criteria",
                b.id
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_criterion_loses_the_number_a_model_gave_it() {
        let cases = [
            ("1. WHEN a, THE S SHALL b", "WHEN a, THE S SHALL b"),
            ("2.3 THE S SHALL b", "THE S SHALL b"),
            ("4) IF x THEN THE S SHALL y", "IF x THEN THE S SHALL y"),
            ("- THE S SHALL b", "THE S SHALL b"),
            ("THE S SHALL keep 2 copies", "THE S SHALL keep 2 copies"),
            ("3D models SHALL load", "3D models SHALL load"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_number(input), expected, "{input:?}");
        }
    }
}

/// `role` with the indefinite article English reads before it (`a user`,
/// `an admin`, `an hourly worker`), or as the model wrote it when it
/// already starts with an article.
fn with_article(role: &str) -> String {
    let lower = role.to_lowercase();
    if ["a ", "an ", "the "].iter().any(|a| lower.starts_with(a)) {
        return role.to_owned();
    }
    // The sound decides, not the letter: "a user", "a one-time buyer",
    // "an hour", "an SRE"... the common cases of role names, not all of
    // English.
    let consonant_sound = ["uni", "use", "usu", "uti", "eu", "one", "once"];
    let silent_h = ["hour", "honest", "honor", "honour", "heir"];
    let vowel = lower.starts_with(['a', 'e', 'i', 'o', 'u']);
    let an = (vowel && !consonant_sound.iter().any(|p| lower.starts_with(p)))
        || silent_h.iter().any(|p| lower.starts_with(p));
    format!("{} {role}", if an { "an" } else { "a" })
}

#[cfg(test)]
mod article_tests {
    use super::with_article;

    #[test]
    fn the_article_follows_the_sound() {
        for (role, expected) in [
            ("user", "a user"),
            ("admin", "an admin"),
            ("editor", "an editor"),
            ("unit manager", "a unit manager"),
            ("one-time buyer", "a one-time buyer"),
            ("hourly worker", "an hourly worker"),
            ("hiring manager", "a hiring manager"),
            ("European customer", "a European customer"),
            ("an operator", "an operator"),
            ("The owner", "The owner"),
        ] {
            assert_eq!(with_article(role), expected, "{role}");
        }
    }
}
