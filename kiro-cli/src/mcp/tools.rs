//! The tools of `kiro mcp`: one input type per tool (its JSON Schema is
//! the tool's `inputSchema` and validates every call before use), and the
//! project use case each one calls.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use kiro_core::lint;
use kiro_core::project::{Project, VerifyOptions};
use kiro_memory::{MemoryStore, NewMemory, RecallContext};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::engine;

/// `list_specs`: no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// The arguments of the tools that work on one spec.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecArgs {
    /// The spec's name (its folder under `.kiro/specs/`).
    pub(crate) spec: String,
}

/// `next_tasks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextTasksArgs {
    /// The spec's name.
    pub(crate) spec: String,
    /// At most this many tasks (default: all ready ones).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(crate) limit: Option<u32>,
}

/// `start_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartTaskArgs {
    /// The spec's name.
    pub(crate) spec: String,
    /// The task's id (`2.1`), as `next_tasks` gives it.
    pub(crate) task: String,
}

/// `complete_task`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteTaskArgs {
    /// The spec's name.
    pub(crate) spec: String,
    /// The task's id.
    pub(crate) task: String,
    /// One line on what was done: kept in the task's checkpoint and the
    /// audit log.
    pub(crate) summary: String,
}

/// `verify`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyArgs {
    /// The spec's name.
    pub(crate) spec: String,
    /// Report the existing results (the configured JUnit file, else the
    /// latest stored verification) instead of running the test command.
    #[serde(default)]
    pub(crate) no_run: bool,
}

/// `recall_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecallArgs {
    /// What the memories should be about (a task's text, say).
    pub(crate) query: String,
    /// Prefer memories scoped to this spec.
    #[serde(default)]
    pub(crate) spec: Option<String>,
    /// At most this many memories.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(crate) limit: Option<u32>,
}

/// `add_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddMemoryArgs {
    /// The lesson, rule, preference or fact, in a few sentences.
    pub(crate) text: String,
    /// A short title (default: from the text).
    #[serde(default)]
    pub(crate) title: Option<String>,
    /// `rule`, `preference`, `fact` or `lesson` (default `lesson`).
    #[serde(default)]
    pub(crate) kind: Option<MemoryKind>,
}

/// The kind of a memory, as `kiro memory add --kind` takes it.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MemoryKind {
    /// A rule to follow.
    Rule,
    /// A preference.
    Preference,
    /// A fact about the code.
    Fact,
    /// A lesson learnt.
    Lesson,
}

/// One tool: its name, description and input schema (with the validator
/// built from it).
pub(crate) struct ToolSpec {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) schema: Value,
    pub(crate) validator: jsonschema::Validator,
    /// Listed only when the workspace has a memory store.
    pub(crate) needs_memory: bool,
}

fn spec_of<T: JsonSchema>(
    name: &'static str,
    description: &'static str,
    needs_memory: bool,
) -> Result<ToolSpec> {
    let mut schema = serde_json::to_value(schemars::schema_for!(T))?;
    if let Some(map) = schema.as_object_mut() {
        // The meta-schema and title are noise in a tool list.
        map.remove("$schema");
        map.remove("title");
    }
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| anyhow!("the input schema of tool `{name}` is invalid: {e}"))?;
    Ok(ToolSpec {
        name,
        description,
        schema,
        validator,
        needs_memory,
    })
}

/// Every tool kiro serves.
pub(crate) fn catalogue() -> Result<Vec<ToolSpec>> {
    Ok(vec![
        spec_of::<NoArgs>(
            "list_specs",
            "List the specs of the workspace with their documents and task progress.",
            false,
        )?,
        spec_of::<SpecArgs>(
            "show_spec",
            "Show a spec: its documents (requirements, design, tasks) and its status.",
            false,
        )?,
        spec_of::<SpecArgs>(
            "lint_spec",
            "Lint a spec's documents (EARS criteria, links, plan) and return the findings.",
            false,
        )?,
        spec_of::<NextTasksArgs>(
            "next_tasks",
            "The tasks of a spec ready to work on now (dependencies done), each with its brief, \
             acceptance criteria and properties. Work spec-first: start_task, implement, \
             complete_task.",
            false,
        )?,
        spec_of::<StartTaskArgs>(
            "start_task",
            "Start a ready task: marks it [-] in tasks.md and records a baseline of the \
             workspace so its changes can be checkpointed and rolled back.",
            false,
        )?,
        spec_of::<CompleteTaskArgs>(
            "complete_task",
            "Complete a task: marks it [x], writes a checkpoint with the files changed since it \
             started and records it in the audit log. Returns the tasks ready next.",
            false,
        )?,
        spec_of::<SpecArgs>(
            "trace",
            "Trace a spec: each acceptance criterion with its tasks, properties, tests and \
             results, the files each task changed, and coverage findings.",
            false,
        )?,
        spec_of::<VerifyArgs>(
            "verify",
            "Run the configured test command and judge every acceptance criterion as passed, \
             failed or untested.",
            false,
        )?,
        spec_of::<RecallArgs>(
            "recall_memory",
            "Recall lessons, rules and facts from the workspace memory relevant to a text.",
            true,
        )?,
        spec_of::<AddMemoryArgs>(
            "add_memory",
            "Store a lesson, rule, preference or fact in the workspace memory \
             (.kiro/memory.db, created if needed).",
            false,
        )?,
    ])
}

/// Why a call did not produce a result.
pub(crate) enum CallError {
    /// The arguments do not match the tool's schema (JSON-RPC -32602).
    InvalidParams {
        /// The message, naming the field.
        message: String,
        /// The fields at fault, as JSON pointers into the arguments.
        fields: Vec<String>,
    },
    /// The tool ran and failed: a tool result with `isError: true`.
    Tool(String),
}

impl From<anyhow::Error> for CallError {
    fn from(e: anyhow::Error) -> CallError {
        CallError::Tool(format!("{e:#}"))
    }
}

/// Checks `args` against the tool's schema; the error names every field
/// at fault (a missing or unknown one by name, a wrong one by its path).
pub(crate) fn validate(tool: &ToolSpec, args: &Value) -> Result<(), CallError> {
    let mut fields = Vec::new();
    let mut messages = Vec::new();
    for error in tool.validator.iter_errors(args) {
        let field = match error.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                property.as_str().unwrap_or_default().to_owned()
            }
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                unexpected.join(", ")
            }
            _ => error
                .instance_path()
                .as_str()
                .trim_start_matches('/')
                .to_owned(),
        };
        messages.push(if field.is_empty() {
            error.to_string()
        } else {
            format!("`{field}`: {error}")
        });
        fields.push(field);
    }
    if messages.is_empty() {
        return Ok(());
    }
    Err(CallError::InvalidParams {
        message: format!(
            "invalid arguments for tool `{}`: {}",
            tool.name,
            messages.join("; ")
        ),
        fields,
    })
}

fn parse<T: DeserializeOwned>(args: Value) -> Result<T, CallError> {
    // The schema check passed, so this fails only where serde is stricter
    // than the schema; still an argument error.
    serde_json::from_value(args).map_err(|e| CallError::InvalidParams {
        message: format!("invalid arguments: {e}"),
        fields: Vec::new(),
    })
}

/// Runs the tool `name` with validated `args`.
pub(crate) async fn call(
    project: Arc<Project>,
    name: &str,
    args: Value,
) -> Result<Value, CallError> {
    match name {
        "list_specs" => {
            let _: NoArgs = parse(args)?;
            blocking(move || list_specs(&project)).await
        }
        "show_spec" => {
            let a: SpecArgs = parse(args)?;
            blocking(move || show_spec(&project, &a.spec)).await
        }
        "lint_spec" => {
            let a: SpecArgs = parse(args)?;
            blocking(move || lint_spec(&project, &a.spec)).await
        }
        "next_tasks" => {
            let a: NextTasksArgs = parse(args)?;
            blocking(move || {
                let dir = project.spec_dir(&a.spec).map_err(engine::explain)?;
                let spec = project.load_spec(&dir).map_err(engine::explain)?.spec;
                let mut ready = project.ready_tasks(&spec).map_err(engine::explain)?;
                if let Some(limit) = a.limit {
                    ready.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                }
                Ok(json!({ "spec": a.spec, "tasks": ready }))
            })
            .await
        }
        "start_task" => {
            let a: StartTaskArgs = parse(args)?;
            blocking(move || {
                let started = project
                    .start_task(&a.spec, &a.task)
                    .map_err(engine::explain)?;
                Ok(serde_json::to_value(started)?)
            })
            .await
        }
        "complete_task" => {
            let a: CompleteTaskArgs = parse(args)?;
            blocking(move || {
                let done = project
                    .complete_task(&a.spec, &a.task, &a.summary)
                    .map_err(engine::explain)?;
                Ok(serde_json::to_value(done)?)
            })
            .await
        }
        "trace" => {
            let a: SpecArgs = parse(args)?;
            blocking(move || {
                let dir = project.spec_dir(&a.spec).map_err(engine::explain)?;
                let spec = project.load_spec(&dir).map_err(engine::explain)?.spec;
                let report = project.trace(&spec).map_err(engine::explain)?;
                Ok(serde_json::to_value(report)?)
            })
            .await
        }
        "verify" => {
            let a: VerifyArgs = parse(args)?;
            let dir = project.spec_dir(&a.spec).map_err(engine::explain)?;
            let spec = project.load_spec(&dir).map_err(engine::explain)?.spec;
            let options = VerifyOptions {
                no_run: a.no_run,
                cancel: CancellationToken::new(),
            };
            let verification = project
                .verify(&dir, &spec, options)
                .await
                .map_err(engine::explain)?
                .ok_or_else(|| CallError::Tool("the verification was cancelled".to_owned()))?;
            Ok(json!({
                "spec": a.spec,
                "results": verification.source.to_string(),
                "matrix": verification.matrix,
            }))
        }
        "recall_memory" => {
            let a: RecallArgs = parse(args)?;
            blocking(move || recall(&project, a)).await
        }
        "add_memory" => {
            let a: AddMemoryArgs = parse(args)?;
            blocking(move || add_memory(&project, a)).await
        }
        other => Err(CallError::InvalidParams {
            message: format!("unknown tool `{other}`"),
            fields: Vec::new(),
        }),
    }
}

/// Runs blocking work (file locks, fsyncs, scans) off the async workers.
async fn blocking<F>(f: F) -> Result<Value, CallError>
where
    F: FnOnce() -> Result<Value> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(CallError::from),
        Err(e) => Err(CallError::Tool(format!("the tool failed: {e}"))),
    }
}

fn list_specs(project: &Project) -> Result<Value> {
    let mut specs = Vec::new();
    for dir in project.spec_dirs().map_err(engine::explain)? {
        let name = kiro_core::project::spec_name(&dir);
        let entry = match project.load_spec(&dir) {
            Ok(loaded) => {
                let status = project.status(&loaded).map_err(engine::explain)?;
                json!({
                    "name": name,
                    "documents": status.documents,
                    "progress": status.progress,
                })
            }
            Err(e) => json!({ "name": name, "error": format!("{:#}", engine::explain(e)) }),
        };
        specs.push(entry);
    }
    Ok(json!({ "specs": specs }))
}

fn show_spec(project: &Project, name: &str) -> Result<Value> {
    let dir = project.spec_dir(name).map_err(engine::explain)?;
    let loaded = project.load_spec(&dir).map_err(engine::explain)?;
    let status = project.status(&loaded).map_err(engine::explain)?;
    let documents: Vec<Value> = loaded
        .files
        .iter()
        .map(|f| {
            let file = file_name(&f.path);
            json!({
                "file": file,
                "uri": super::resource_uri(name, &file),
                "text": f.text,
            })
        })
        .collect();
    Ok(json!({ "status": status, "documents": documents }))
}

fn lint_spec(project: &Project, name: &str) -> Result<Value> {
    let dir = project.spec_dir(name).map_err(engine::explain)?;
    let loaded = project.load_spec(&dir).map_err(engine::explain)?;
    let mut findings = lint::lint_with(&loaded, lint::LintOptions::from(project.config()));
    for d in &mut findings {
        d.file = d.file.take().map(|f| {
            f.strip_prefix(project.root())
                .map(Path::to_path_buf)
                .unwrap_or(f)
        });
    }
    let errors = findings
        .iter()
        .filter(|d| d.severity == lint::Severity::Error)
        .count();
    let rendered: Value = serde_json::from_str(&lint::render_json(&findings))
        .context("cannot read back the lint findings")?;
    Ok(json!({ "spec": name, "errors": errors, "findings": rendered }))
}

fn memory_store(project: &Project, create: bool) -> Result<MemoryStore> {
    let db = project.root().join(".kiro").join("memory.db");
    if !create && !db.exists() {
        return Err(anyhow!(
            "the workspace has no memory store (.kiro/memory.db); add a memory first"
        ));
    }
    MemoryStore::open_workspace(project.root()).context("cannot open the memory store")
}

fn recall(project: &Project, a: RecallArgs) -> Result<Value> {
    let mut context = RecallContext::new(a.query);
    if let Some(spec) = a.spec {
        context = context.spec(spec);
    }
    if let Some(limit) = a.limit {
        context = context.limit(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let recalled = memory_store(project, false)?
        .recall(&context, kiro_core::memory::DEFAULT_BUDGET_TOKENS)
        .context("cannot recall")?;
    Ok(json!({ "memories": recalled }))
}

fn add_memory(project: &Project, a: AddMemoryArgs) -> Result<Value> {
    let mut new = NewMemory::new(a.text);
    if let Some(kind) = a.kind {
        let kind = match kind {
            MemoryKind::Rule => "rule",
            MemoryKind::Preference => "preference",
            MemoryKind::Fact => "fact",
            MemoryKind::Lesson => "lesson",
        };
        new = new.kind(kind.parse().map_err(|_| anyhow!("unknown kind {kind}"))?);
    }
    if let Some(title) = a.title {
        new = new.title(title);
    }
    let outcome = memory_store(project, true)?
        .add(new)
        .context("cannot add the memory")?;
    Ok(serde_json::to_value(outcome)?)
}

/// The file name of a document path.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
