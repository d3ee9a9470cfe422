//! LLM-backed planning stages: kiro-core's stage traits answered by a chat
//! model.
//!
//! | Stage | Trait | Asks the model for | Returns |
//! |---|---|---|---|
//! | [`LlmRequirementsParser`] | [`RequirementsParser`](kiro_core::stage::RequirementsParser) | user stories and EARS criteria from free text | `RequirementsDoc` |
//! | [`LlmDesigner`] | [`Designer`](kiro_core::stage::Designer) | Kiro's design sections and correctness properties | `DesignDoc` |
//! | [`LlmTaskPlanner`] | [`TaskPlanner`](kiro_core::stage::TaskPlanner) | numbered tasks with links and dependencies | `TaskList` |
//!
//! Every stage runs the same loop. The system prompt is a file under
//! `kiro-llm/prompts/` followed by the [guidance](guidance::guidance) block
//! (steering files and recalled memory). The model answers with a small
//! draft type of the stage's own through
//! [`structured_with`](crate::StructuredExt::structured_with), which
//! already repairs JSON that does not match the draft's schema. The draft
//! is then turned into kiro-core's spec types with ids kiro assigns (the
//! drafts have no id fields, and fields a model adds are ignored, so its
//! own numbering is never trusted), its one-line fields made inert
//! as markdown, rendered with kiro-core's formatter, parsed back, compared
//! with what was built (text that still changes the document's structure
//! is rejected), and linted with the checks `kiro lint` runs. Findings that
//! block (errors, and the warnings each stage names) go back to the model
//! in one message listing code, line, message and the offending line, for
//! at most [`max_corrections`](LlmDesigner::max_corrections) rounds; then
//! the stage fails with [`StageError::Failed`] whose evidence holds the
//! findings and the model's last output.
//!
//! The document returned is the one parsed back from the rendering, so
//! what a run writes to disk reads as exactly what the stage returned.
//! Equal inputs give byte-identical requests (prompts are fixed files,
//! steering is read in file-name order), so a recorded session replays
//! from [`CachedClient`](crate::CachedClient).
//!
//! A run of the project layer with every stage backed by the model (what
//! `kiro run` does when `[llm]` names a provider):
//!
//! ```no_run
//! use kiro_core::project::{Project, RunSetup};
//! use kiro_llm::stages::{LlmDesigner, LlmRequirementsParser, LlmTaskPlanner};
//! use kiro_llm::{AgentExecutor, LlmConfig, ProcessEnv};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let project = Project::open(".")?;
//! let client = kiro_llm::connect(&LlmConfig::resolve(&project.config().llm, &ProcessEnv)?)?;
//! let setup = RunSetup::new(".kiro/specs/notes")
//!     .requirements(LlmRequirementsParser::new(client.clone()))
//!     .designer(LlmDesigner::new(client.clone()))
//!     .planner(LlmTaskPlanner::new(client.clone()))
//!     .executor(AgentExecutor::new(client))
//!     .approve_all();
//! let summary = project.run(setup).await?;
//! println!("{} tokens", summary.artifacts.total_usage().total_tokens());
//! # Ok(())
//! # }
//! ```

mod design;
mod escape;
pub mod guidance;
mod requirements;
mod review;
mod tasks;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use kiro_core::stage::{StageContext, StageError, TokenUsage};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::chat::{ChatRequest, ChatResponse, Message, ToolResult};
use crate::client::{ChatStream, LlmClient};
use crate::error::LlmError;
use crate::structured::{StructuredExt, StructuredOptions};

pub use design::LlmDesigner;
pub use requirements::LlmRequirementsParser;
pub use review::Finding;
pub use tasks::LlmTaskPlanner;

/// Correction rounds after the first answer when the builder does not say.
pub const DEFAULT_MAX_CORRECTIONS: u32 = 2;

/// The most tokens a planning answer may take when the builder does not
/// say: a design document with a dozen properties fits, and every current
/// model of the providers kiro speaks accepts it as an output limit.
pub const DEFAULT_MAX_TOKENS: u32 = 8_192;

/// The largest input a stage sends (the requirements text, or the rendered
/// documents a later phase starts from). Larger input is refused before
/// any request: it would not fit a model's context with the prompt, and it
/// is far beyond any real spec.
pub const MAX_INPUT_BYTES: usize = 512 * 1024;

/// The most findings one correction message lists: a model fixes the
/// first ones and the rest are often their consequences.
const MAX_LISTED_FINDINGS: usize = 30;

/// The most bytes of the model's last output a failure's evidence keeps:
/// enough to read what went wrong, bounded whatever the model sent.
const MAX_EVIDENCE_OUTPUT: usize = 64 * 1024;

/// What the three stages share: the client and the builder's settings.
#[derive(Clone)]
struct Settings {
    client: Arc<dyn LlmClient>,
    max_corrections: u32,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
}

impl Settings {
    fn new(client: Arc<dyn LlmClient>) -> Settings {
        Settings {
            client,
            max_corrections: DEFAULT_MAX_CORRECTIONS,
            temperature: None,
            max_tokens: Some(DEFAULT_MAX_TOKENS),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("max_corrections", &self.max_corrections)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

/// The builder methods every stage has, written once.
macro_rules! stage_builder {
    ($stage:ident) => {
        impl $stage {
            /// A stage asking `client`, with [`DEFAULT_MAX_CORRECTIONS`](crate::stages::DEFAULT_MAX_CORRECTIONS)
            /// correction rounds, the provider's default temperature and
            /// at most [`DEFAULT_MAX_TOKENS`](crate::stages::DEFAULT_MAX_TOKENS) tokens per answer.
            pub fn new(client: std::sync::Arc<dyn $crate::client::LlmClient>) -> $stage {
                $stage {
                    settings: $crate::stages::Settings::new(client),
                }
            }

            /// Sets how many times the model may correct an answer the
            /// checks refused (0: the first answer must pass).
            #[must_use]
            pub fn max_corrections(mut self, rounds: u32) -> $stage {
                self.settings.max_corrections = rounds;
                self
            }

            /// Sets the sampling temperature.
            #[must_use]
            pub fn temperature(mut self, temperature: f32) -> $stage {
                self.settings.temperature = Some(temperature);
                self
            }

            /// Sets the most tokens one answer may take.
            #[must_use]
            pub fn max_tokens(mut self, tokens: u32) -> $stage {
                self.settings.max_tokens = Some(tokens);
                self
            }
        }
    };
}
pub(crate) use stage_builder;

/// One phase's request: what to ask, and how to check an answer.
struct Ask<'a> {
    /// The stage's name in messages (`llm designer`).
    stage: &'static str,
    /// The file the answer becomes (`design.md`), named in feedback.
    file: &'static str,
    system: String,
    user: String,
    /// The draft schema's name, as the provider sees it.
    schema_name: &'a str,
}

/// What checking a draft gave: the document, or why it is refused.
type Checked<T> = Result<T, Vec<Finding>>;

/// Asks for a `D`, checks it with `check`, and feeds the findings back
/// until an answer passes or the corrections are spent. Usage of every
/// response is recorded in `cx`, whatever the outcome.
async fn generate<D, T>(
    settings: &Settings,
    cx: &StageContext,
    ask: Ask<'_>,
    check: impl Fn(D) -> Checked<T> + Send + Sync,
) -> Result<T, StageError>
where
    D: JsonSchema + DeserializeOwned + Send,
    T: Send,
{
    let meter = Metered::new(settings.client.as_ref());
    let work = converse(settings, &meter, &ask, &check);
    let result = tokio::select! {
        biased;
        () = cx.cancel().cancelled() => Err(StageError::Cancelled),
        result = work => result,
    };
    record_usage(cx, meter.usage());
    result
}

async fn converse<D, T>(
    settings: &Settings,
    client: &Metered<'_>,
    ask: &Ask<'_>,
    check: &(impl Fn(D) -> Checked<T> + Send + Sync),
) -> Result<T, StageError>
where
    D: JsonSchema + DeserializeOwned + Send,
    T: Send,
{
    let mut request = ChatRequest::user(ask.user.clone()).system(ask.system.clone());
    request.temperature = settings.temperature;
    request.max_tokens = settings.max_tokens;
    let options = StructuredOptions::default().name(ask.schema_name);
    let mut round = 0u32;
    loop {
        let answer = client
            .structured_with::<D>(request.clone(), &options)
            .await
            .map_err(|e| llm_error(ask.stage, e))?;
        let findings = match check(answer.value) {
            Ok(done) => return Ok(done),
            Err(findings) => findings,
        };
        if round >= settings.max_corrections {
            let mut evidence = String::from("findings:\n");
            list_findings(&mut evidence, &findings, ask.file);
            let _ = write!(
                evidence,
                "\nlast output:\n{}",
                clip(&answer.raw, MAX_EVIDENCE_OUTPUT)
            );
            return Err(StageError::Failed {
                message: format!(
                    "{}: {} blocking finding(s) remain after {} correction round(s)",
                    ask.stage,
                    findings.len(),
                    round
                ),
                evidence,
                retryable: false,
            });
        }
        round += 1;
        correct(&mut request, &answer.response, ask.file, &findings);
    }
}

/// Appends the model's answer and the findings to the conversation. The
/// findings are a user message; when the answer was a tool call they are
/// that call's result instead, because every provider requires a tool
/// call to be answered before the conversation goes on.
fn correct(request: &mut ChatRequest, response: &ChatResponse, file: &str, findings: &[Finding]) {
    let mut text = format!(
        "Your answer, written as {file} and checked with `kiro lint`, has {} problem(s):\n",
        findings.len()
    );
    list_findings(&mut text, findings, file);
    text.push_str(
        "Answer again with the corrected full answer: every field, not only the ones that change.",
    );
    request.messages.push(Message::from_response(response));
    if response.tool_calls.is_empty() {
        request.messages.push(Message::user(text));
        return;
    }
    for call in &response.tool_calls {
        request.messages.push(Message::Tool(ToolResult {
            call_id: call.id.clone(),
            content: text.clone(),
            is_error: true,
        }));
    }
}

/// Writes the findings one per item, at most [`MAX_LISTED_FINDINGS`].
fn list_findings(out: &mut String, findings: &[Finding], file: &str) {
    for f in findings.iter().take(MAX_LISTED_FINDINGS) {
        let _ = writeln!(out, "{}", f.render(file));
    }
    if findings.len() > MAX_LISTED_FINDINGS {
        let _ = writeln!(
            out,
            "- ... and {} more",
            findings.len() - MAX_LISTED_FINDINGS
        );
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with a note
/// when it was cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}\n[... {} more bytes]",
        &text[..end],
        text.len() - end
    ))
}

/// A client error as the stage's: retryable when the client says so.
fn llm_error(stage: &str, error: LlmError) -> StageError {
    match error {
        LlmError::InvalidOutput {
            attempts,
            raw,
            errors,
            ..
        } => StageError::Failed {
            message: format!(
                "{stage}: the model's answer never matched the schema ({attempts} attempts)"
            ),
            evidence: format!(
                "errors:\n- {}\n\nlast output:\n{}",
                errors.join("\n- "),
                clip(&raw, MAX_EVIDENCE_OUTPUT)
            ),
            retryable: false,
        },
        other => StageError::Failed {
            message: format!("{stage}: {other}"),
            evidence: String::new(),
            retryable: other.is_retryable(),
        },
    }
}

/// Hands the stage's token usage to the engine, which stores it with the
/// node in the run's checkpoints.
fn record_usage(cx: &StageContext, usage: TokenUsage) {
    cx.record_usage(usage);
}

/// Counts the usage of every response that passes through it, including
/// the repair rounds inside `structured_with`, whose error does not say
/// what they cost.
struct Metered<'a> {
    inner: &'a dyn LlmClient,
    input: AtomicU64,
    output: AtomicU64,
    requests: AtomicU64,
}

impl<'a> Metered<'a> {
    fn new(inner: &'a dyn LlmClient) -> Metered<'a> {
        Metered {
            inner,
            input: AtomicU64::new(0),
            output: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn usage(&self) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input.load(Ordering::Relaxed),
            output_tokens: self.output.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
impl LlmClient for Metered<'_> {
    async fn complete(&self, request: ChatRequest) -> crate::Result<ChatResponse> {
        let response = self.inner.complete(request).await?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.input
            .fetch_add(response.usage.input_tokens, Ordering::Relaxed);
        self.output
            .fetch_add(response.usage.output_tokens, Ordering::Relaxed);
        Ok(response)
    }

    async fn stream(&self, request: ChatRequest) -> crate::Result<ChatStream> {
        crate::client::stream_from_complete(self, request).await
    }

    fn supports_response_schema(&self) -> bool {
        self.inner.supports_response_schema()
    }
}

/// Refuses input a stage would not send.
fn bounded<'t>(stage: &str, what: &str, text: &'t str) -> Result<&'t str, StageError> {
    if text.trim().is_empty() {
        return Err(StageError::invalid(format!("{stage}: the {what} is empty")));
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(StageError::invalid(format!(
            "{stage}: the {what} is {} bytes; at most {MAX_INPUT_BYTES} are sent to a model",
            text.len()
        )));
    }
    Ok(text)
}

/// The system prompt: the stage's prompt file, then the guidance block.
fn system_prompt(prompt: &str, guidance: &str) -> String {
    let guidance = guidance.trim();
    if guidance.is_empty() {
        return prompt.trim_end().to_owned();
    }
    format!("{}\n\n# Context\n\n{guidance}\n", prompt.trim_end())
}

/// The feature's name for a prompt: the spec's name, or `feature`.
fn feature(cx: &StageContext) -> &str {
    if cx.spec_name().is_empty() {
        "feature"
    } else {
        cx.spec_name()
    }
}

/// A one-line field of a draft, escaped ([`escape::inline`]), or a finding
/// when it is empty (and `required`) or longer than `max` characters.
fn line_field(
    findings: &mut Vec<Finding>,
    what: &str,
    text: &str,
    max: usize,
    required: bool,
) -> String {
    let out = escape::inline(text);
    let length = out.chars().count();
    if required && out.is_empty() {
        findings.push(Finding::new(review::STRUCTURE, format!("{what} is empty")));
    } else if length > max {
        findings.push(Finding::new(
            review::STRUCTURE,
            format!("{what} is {length} characters long; keep it under {max}"),
        ));
    }
    out
}

/// A markdown field of a draft ([`escape::block`] with headings at least
/// `min_level` deep), or a finding when it is longer than `max` characters.
fn block_field(
    findings: &mut Vec<Finding>,
    what: &str,
    text: &str,
    min_level: usize,
    max: usize,
) -> String {
    let out = escape::block(text, min_level);
    let length = out.chars().count();
    if length > max {
        findings.push(Finding::new(
            review::STRUCTURE,
            format!("{what} is {length} characters long; keep it under {max}"),
        ));
    }
    out
}

/// A finding when a list of a draft has more than `max` items.
fn count_field<T>(findings: &mut Vec<Finding>, what: &str, items: &[T], max: usize) {
    if items.len() > max {
        findings.push(Finding::new(
            review::STRUCTURE,
            format!(
                "{what} has {} items; at most {max} are accepted",
                items.len()
            ),
        ));
    }
}

/// An id the model wrote in a link (`1.2`, `3`, `2.1`): dot-separated
/// runs of ASCII letters and digits, at most 16 bytes. Anything else is a
/// finding, so that no text the model chose lands in a link line.
fn link_id(findings: &mut Vec<Finding>, what: &str, raw: &str) -> Option<String> {
    let id = raw.trim();
    let valid = !id.is_empty()
        && id.len() <= 16
        && id
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if valid {
        return Some(id.to_owned());
    }
    let shown: String = escape::inline(raw).chars().take(40).collect();
    findings.push(Finding::new(
        review::LINK,
        format!("{what} names {shown:?}, which is not an id such as 1.2"),
    ));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_clipped_at_a_character_boundary() {
        let cases = [
            ("short", 10, "short"),
            ("abcdef", 3, "abc\n[... 3 more bytes]"),
            ("ééé", 3, "é\n[... 4 more bytes]"),
        ];
        for (text, max, expected) in cases {
            assert_eq!(clip(text, max), expected, "{text:?}");
        }
    }

    #[test]
    fn a_long_list_of_findings_is_cut_with_a_count() {
        let findings: Vec<Finding> = (0..MAX_LISTED_FINDINGS + 3)
            .map(|i| Finding::new("K0009", format!("finding {i}")))
            .collect();
        let mut out = String::new();
        list_findings(&mut out, &findings, "tasks.md");
        assert_eq!(out.lines().count(), MAX_LISTED_FINDINGS + 1);
        assert!(out.starts_with("- K0009 tasks.md: finding 0\n"), "{out}");
        assert!(out.ends_with("- ... and 3 more\n"), "{out}");
    }
}
