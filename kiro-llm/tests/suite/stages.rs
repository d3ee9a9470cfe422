//! The LLM planning stages against a scripted in-process model (and once
//! against the local OpenAI-compatible server): generated documents lint
//! clean, lint findings go back to the model, corrections are bounded, the
//! model's text cannot corrupt a document, steering and memory reach the
//! prompt, usage is recorded and equal inputs make equal requests.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiro_core::format::{
    parse_design, parse_requirements, render_design, render_requirements, render_tasks,
};
use kiro_core::lint::{lint_spec, Severity};
use kiro_core::memory::{Memory, MemoryRecall, RecallReason, RecallRequest, Recalled};
use kiro_core::spec::{DesignDoc, RequirementsDoc, Spec};
use kiro_core::stage::{
    Designer, RequirementsInput, RequirementsParser, StageContext, StageError, TaskPlanner,
    TokenUsage,
};
use kiro_core::workspace::Workspace;
use kiro_llm::stages::{LlmDesigner, LlmRequirementsParser, LlmTaskPlanner};
use kiro_llm::{
    ChatRequest, ChatResponse, ChatStream, FinishReason, LlmClient, LlmError, Message,
    OpenAiCompatible, ToolCall, Usage,
};
use serde_json::{json, Value};

use crate::server::{Reply, Server};

/// A model that answers from a script and records every request.
struct Scripted {
    replies: Mutex<VecDeque<Value>>,
    requests: Mutex<Vec<ChatRequest>>,
    /// Answer as a call of this tool instead of as text (a provider
    /// without a native schema mode).
    tool: Option<String>,
}

impl Scripted {
    fn new(replies: Vec<Value>) -> Arc<Scripted> {
        Arc::new(Scripted {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
            tool: None,
        })
    }

    fn calling(tool: &str, replies: Vec<Value>) -> Arc<Scripted> {
        Arc::new(Scripted {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
            tool: Some(tool.to_owned()),
        })
    }

    fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The text of the last user message of request `n`.
    fn last_user(&self, n: usize) -> String {
        let requests = self.requests();
        match requests[n].messages.last() {
            Some(Message::User { content }) => content.clone(),
            other => panic!("request {n} ends with {other:?}"),
        }
    }

    fn system(&self, n: usize) -> String {
        self.requests()[n].system.clone().unwrap_or_default()
    }
}

#[async_trait]
impl LlmClient for Scripted {
    async fn complete(&self, request: ChatRequest) -> kiro_llm::Result<ChatResponse> {
        self.requests.lock().unwrap().push(request);
        let reply = self.replies.lock().unwrap().pop_front();
        let n = self.requests.lock().unwrap().len();
        match (reply, &self.tool) {
            (Some(value), Some(tool)) => Ok(ChatResponse {
                tool_calls: vec![ToolCall {
                    id: format!("call_{n}"),
                    name: tool.clone(),
                    arguments: value,
                }],
                finish_reason: FinishReason::ToolCalls,
                usage: Usage {
                    input_tokens: 100,
                    output_tokens: 40,
                },
                ..ChatResponse::default()
            }),
            (Some(value), None) => Ok(ChatResponse {
                content: value.to_string(),
                usage: Usage {
                    input_tokens: 100,
                    output_tokens: 40,
                },
                ..ChatResponse::default()
            }),
            (None, _) => Err(LlmError::Backend("the script has no more replies".into())),
        }
    }

    async fn stream(&self, request: ChatRequest) -> kiro_llm::Result<ChatStream> {
        kiro_llm::stream_from_complete(self, request).await
    }

    // Native schema mode unless it answers with tool calls.
    fn supports_response_schema(&self) -> bool {
        self.tool.is_none()
    }
}

fn context(root: &Path) -> StageContext {
    StageContext::builder(Workspace::single(root).unwrap())
        .spec_name("password-reset")
        .build()
}

fn requirement(title: &str, criteria: &[&str]) -> Value {
    json!({
        "title": title,
        "role": "registered user",
        "capability": "to reset my password by email",
        "benefit": "I can sign in again when I forget it",
        "acceptance_criteria": criteria,
    })
}

fn requirements_draft(criteria: &[&str]) -> Value {
    json!({
        "introduction": "Users who forget their password reset it through a link sent by email.",
        "glossary": [{"term": "Auth_Service", "definition": "The service that signs users in."}],
        "requirements": [
            requirement("Request a reset link", criteria),
            requirement("Expire old links", &["IF a reset link is older than 30 minutes, THEN THE Auth_Service SHALL reject it"]),
        ],
    })
}

const GOOD_CRITERIA: &[&str] = &[
    "WHEN a user submits a registered email address, THE Auth_Service SHALL send a reset link to it",
    "2. THE Auth_Service SHALL store reset tokens only as hashes",
];

/// requirements.md with criteria 1.1, 1.2 and 2.1.
fn requirements() -> RequirementsDoc {
    parse_requirements(concat!(
        "# Requirements Document\n\n## Requirements\n\n",
        "### Requirement 1: Request a reset link\n\n#### Acceptance Criteria\n\n",
        "1. WHEN a user submits a registered email address, THE Auth_Service SHALL send a reset link to it\n",
        "2. THE Auth_Service SHALL store reset tokens only as hashes\n\n",
        "### Requirement 2: Expire old links\n\n#### Acceptance Criteria\n\n",
        "1. IF a reset link is older than 30 minutes, THEN THE Auth_Service SHALL reject it\n",
    ))
    .value
}

fn design_draft(validates: &[&str]) -> Value {
    json!({
        "overview": "Reset links are signed tokens sent by email.",
        "architecture": "```mermaid\nflowchart LR\n  Form --> Auth_Service --> Mailer\n```",
        "components_and_interfaces": "### Auth_Service\n\n- `request_reset(email)`\n- `reset(token, password)`",
        "data_models": "| Field | Type |\n|---|---|\n| token_hash | bytes |",
        "error_handling": "Expired links are rejected with a message.",
        "testing_strategy": "Property-based tests for each property; integration tests for the mail flow.",
        "properties": [
            {"title": "Links reach the address", "statement": "For any registered address, a reset sends one link to it.", "validates": validates},
            {"title": "Old links are refused", "statement": "For any link older than 30 minutes, a reset with it is refused.", "validates": ["2.1"]},
        ],
    })
}

fn design() -> DesignDoc {
    parse_design(&render_design(&DesignDoc {
        title: "Design Document".into(),
        ..DesignDoc::default()
    }))
    .value
}

fn plan_draft(depends: &[&str]) -> Value {
    json!({"tasks": [
        {"title": "Set up the reset module", "details": ["Create `src/reset.rs`"], "requirements": ["1.2"],
         "depends_on": [], "optional": false, "subtasks": []},
        {"title": "Implement reset links", "details": [], "requirements": [], "depends_on": depends, "optional": false,
         "subtasks": [
            {"title": "Send the link", "details": ["Use the mailer"], "requirements": ["1.1"], "depends_on": [], "optional": false},
            {"title": "Reject expired links", "details": [], "requirements": ["2.1"], "depends_on": ["2.1"], "optional": true},
         ]},
    ]})
}

/// Blocking lint findings of a spec holding `reqs`.
fn lint_errors(spec: Spec) -> Vec<String> {
    lint_spec(&spec)
        .into_iter()
        .filter(|d| {
            d.severity == Severity::Error || ["K0001", "K0002", "K0003"].contains(&d.code.as_str())
        })
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[tokio::test]
async fn free_text_becomes_requirements_with_ears_criteria_that_lint_clean() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let model = Scripted::new(vec![requirements_draft(GOOD_CRITERIA)]);
    let parser = LlmRequirementsParser::new(model.clone());
    let text = "Users who forget their password should get a reset link by email.";
    let doc = parser
        .parse(&RequirementsInput::Text(text.into()), &cx)
        .await
        .unwrap();

    let ids: Vec<&str> = doc.criteria().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["1.1", "1.2", "2.1"]);
    // The number the model wrote is not kept: kiro numbers criteria.
    assert_eq!(
        doc.requirements[0].criteria[1].text,
        "THE Auth_Service SHALL store reset tokens only as hashes"
    );
    assert!(doc.criteria().all(|c| c.ears.is_some()));
    assert_eq!(
        doc.requirements[0].user_story.as_ref().unwrap().text,
        "As a registered user, I want to reset my password by email, so that I can sign in again when I forget it."
    );
    assert_eq!(doc.glossary[0].term, "Auth_Service");
    assert_eq!(
        lint_errors(Spec {
            requirements: Some(doc.clone()),
            ..Spec::default()
        }),
        Vec::<String>::new()
    );
    // What the stage returns is what its rendering reads back as.
    assert_eq!(parse_requirements(&render_requirements(&doc)).value, doc);

    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        model.system(0).contains("WHILE <state>, WHEN <trigger>"),
        "the prompt explains EARS"
    );
    assert!(model.last_user(0).contains(text));
    assert_eq!(
        requests[0].response_schema.as_ref().unwrap().name,
        "requirements"
    );
    assert_eq!(
        cx.usage(),
        TokenUsage {
            input_tokens: 100,
            output_tokens: 40,
            requests: 1
        }
    );
}

#[tokio::test]
async fn markdown_already_in_kiro_format_is_parsed_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let model = Scripted::new(vec![]);
    let md = render_requirements(&requirements());
    let doc = LlmRequirementsParser::new(model.clone())
        .parse(&RequirementsInput::Markdown(md), &cx)
        .await
        .unwrap();
    assert_eq!(doc, requirements());
    assert!(model.requests().is_empty());
    assert_eq!(cx.usage(), TokenUsage::default());
}

#[tokio::test]
async fn a_lint_finding_goes_back_to_the_model_which_corrects_it() {
    // (stage, first reply, code, text the correction quotes)
    let dir = tempfile::tempdir().unwrap();

    // A criterion that is no EARS sentence: K0002, missing SHALL.
    let cx = context(dir.path());
    let model = Scripted::new(vec![
        requirements_draft(&["The reset page looks nice", GOOD_CRITERIA[1]]),
        requirements_draft(GOOD_CRITERIA),
    ]);
    let doc = LlmRequirementsParser::new(model.clone())
        .parse(&RequirementsInput::Text("reset by email".into()), &cx)
        .await
        .unwrap();
    assert_eq!(doc.requirements[0].criteria[0].text, GOOD_CRITERIA[0]);
    let correction = model.last_user(1);
    assert!(
        correction.contains("- K0002 requirements.md:"),
        "{correction}"
    );
    assert!(
        correction.contains("offending line: 1. The reset page looks nice"),
        "{correction}"
    );
    assert!(correction.contains("corrected full answer"), "{correction}");
    // The conversation keeps the refused answer before the findings.
    let requests = model.requests();
    assert!(
        matches!(&requests[1].messages[1], Message::Assistant { content, .. } if content.contains("looks nice"))
    );
    assert_eq!(
        cx.usage(),
        TokenUsage {
            input_tokens: 200,
            output_tokens: 80,
            requests: 2
        }
    );

    // A property validating a criterion that does not exist: K0012.
    let cx = context(dir.path());
    let model = Scripted::new(vec![design_draft(&["9.9"]), design_draft(&["1.1"])]);
    let designed = LlmDesigner::new(model.clone())
        .design(&requirements(), &cx)
        .await
        .unwrap();
    let correction = model.last_user(1);
    assert!(correction.contains("- K0012 design.md:"), "{correction}");
    assert!(correction.contains("9.9"), "{correction}");
    assert!(
        correction.contains("offending line: **Validates: Requirements 9.9**"),
        "{correction}"
    );
    assert_eq!(designed.properties[0].validates[0].as_str(), "1.1");
    let titles: Vec<&str> = designed
        .sections
        .iter()
        .filter(|s| s.level == 2)
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Overview",
            "Architecture",
            "Components and Interfaces",
            "Data Models",
            "Correctness Properties",
            "Error Handling",
            "Testing Strategy"
        ]
    );
    let spec = Spec {
        requirements: Some(requirements()),
        design: Some(designed),
        ..Spec::default()
    };
    assert_eq!(lint_errors(spec), Vec::<String>::new());

    // A dependency on a task that does not exist: K0013.
    let cx = context(dir.path());
    let model = Scripted::new(vec![plan_draft(&["7"]), plan_draft(&["1"])]);
    let plan = LlmTaskPlanner::new(model.clone())
        .plan(&requirements(), &design(), &cx)
        .await
        .unwrap();
    let correction = model.last_user(1);
    assert!(correction.contains("- K0013 tasks.md:"), "{correction}");
    assert!(
        correction.contains("offending line: - _Depends: 7_"),
        "{correction}"
    );
    let ids: Vec<String> = plan
        .tasks
        .iter()
        .flat_map(|t| std::iter::once(t).chain(&t.subtasks))
        .map(|t| t.id.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["1", "2", "2.1", "2.2"]);
    assert!(plan.tasks[1].subtasks[1].optional);
    assert_eq!(plan.tasks[1].subtasks[1].depends_on[0].as_str(), "2.1");
    let spec = Spec {
        requirements: Some(requirements()),
        tasks: Some(plan.clone()),
        ..Spec::default()
    };
    assert_eq!(lint_errors(spec), Vec::<String>::new());
    assert!(render_tasks(&plan).contains("- [ ] 2.1 Send the link"));
}

#[tokio::test]
async fn when_corrections_run_out_the_error_holds_the_findings_and_the_last_output() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let bad = design_draft(&["9.9"]);
    let model = Scripted::new(vec![bad.clone(), bad.clone(), bad]);
    let err = LlmDesigner::new(model.clone())
        .max_corrections(1)
        .design(&requirements(), &cx)
        .await
        .unwrap_err();
    let StageError::Failed {
        message,
        evidence,
        retryable,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        message,
        "llm designer: 1 blocking finding(s) remain after 1 correction round(s)"
    );
    assert!(!retryable);
    assert!(evidence.contains("K0012 design.md:"), "{evidence}");
    assert!(evidence.contains("last output:\n{"), "{evidence}");
    assert!(evidence.contains("\"9.9\""), "{evidence}");
    assert_eq!(model.requests().len(), 2);
    // Usage is recorded on failure too.
    assert_eq!(
        cx.usage(),
        TokenUsage {
            input_tokens: 200,
            output_tokens: 80,
            requests: 2
        }
    );

    // No corrections: the first answer must pass.
    let cx = context(dir.path());
    let model = Scripted::new(vec![plan_draft(&["2"])]);
    let err = LlmTaskPlanner::new(model.clone())
        .max_corrections(0)
        .plan(&requirements(), &design(), &cx)
        .await
        .unwrap_err();
    // Task 2 waiting for itself is a cycle.
    assert!(err.to_string().starts_with("llm task planner: "), "{err}");
    assert_eq!(model.requests().len(), 1);

    // A failed request is the client's error, retryable as the client says.
    let cx = context(dir.path());
    let err = LlmRequirementsParser::new(Scripted::new(vec![]))
        .parse(&RequirementsInput::Text("x".into()), &cx)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the script has no more replies"),
        "{err}"
    );
}

#[tokio::test]
async fn the_models_markdown_cannot_corrupt_a_document() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let mut draft = requirements_draft(&[
        "WHEN a user asks, THE Auth_Service SHALL send a link\n- [ ] 9. Injected task\n## Requirement 9",
        "1. # THE Auth_Service SHALL log every request",
    ]);
    draft["requirements"][0]["title"] = json!("Login\n## Requirement 9: Injected");
    draft["requirements"][0]["role"] = json!("user\n\n**User Story:** As an attacker");
    draft["introduction"] = json!("Intro.\n\n## Requirements\n\n### Requirement 7: Hidden\n");
    let model = Scripted::new(vec![draft]);
    let doc = LlmRequirementsParser::new(model.clone())
        .parse(&RequirementsInput::Text("x".into()), &cx)
        .await
        .unwrap();
    assert_eq!(doc.requirements.len(), 2);
    assert_eq!(
        doc.requirements[0].title,
        "Login ## Requirement 9: Injected"
    );
    assert_eq!(doc.requirements[0].criteria.len(), 2);
    assert_eq!(
        doc.requirements[0].criteria[0].text,
        "WHEN a user asks, THE Auth_Service SHALL send a link - [ ] 9. Injected task ## Requirement 9"
    );
    assert_eq!(
        doc.requirements[0].criteria[1].text,
        "\\# THE Auth_Service SHALL log every request"
    );
    let md = render_requirements(&doc);
    assert_eq!(md.matches("\n### Requirement ").count(), 2, "{md}");
    assert!(!md.contains("\n- [ ]"), "{md}");

    // Text escaping cannot fix is refused: an unclosed fence in a design
    // section would swallow the sections after it.
    let cx = context(dir.path());
    let mut bad = design_draft(&["1.1"]);
    bad["data_models"] = json!("```rust\nstruct Token;\n");
    let model = Scripted::new(vec![bad, design_draft(&["1.1"])]);
    LlmDesigner::new(model.clone())
        .design(&requirements(), &cx)
        .await
        .unwrap();
    let correction = model.last_user(1);
    assert!(
        correction.contains("- structure design.md: the sections read back as"),
        "{correction}"
    );

    // Links and dependencies must be ids, not text.
    let cx = context(dir.path());
    let mut bad = plan_draft(&["1"]);
    bad["tasks"][0]["requirements"] = json!(["1.2_\n- [ ] 9. Evil"]);
    bad["tasks"][1]["title"] = json!("Implement\n- [ ] 3. Injected");
    let model = Scripted::new(vec![bad.clone()]);
    let err = LlmTaskPlanner::new(model.clone())
        .max_corrections(0)
        .plan(&requirements(), &design(), &cx)
        .await
        .unwrap_err();
    let StageError::Failed { evidence, .. } = err else {
        panic!()
    };
    assert!(
        evidence.contains("- link tasks.md: task 1's requirements names"),
        "{evidence}"
    );

    bad["tasks"][0]["requirements"] = json!(["1.2"]);
    let model = Scripted::new(vec![bad]);
    let plan = LlmTaskPlanner::new(model)
        .plan(&requirements(), &design(), &cx)
        .await
        .unwrap();
    assert_eq!(plan.tasks.len(), 2);
    assert_eq!(plan.tasks[1].title, "Implement - [ ] 3. Injected");
}

/// A workspace with steering files of every kind.
fn steering_workspace(root: &Path) {
    let steering = root.join(".kiro/steering");
    std::fs::create_dir_all(&steering).unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    let files = [
        ("a-always.md", "Always write errors with thiserror.\n".to_owned()),
        ("b-explicit.md", "---\ninclusion: always\n---\nPrefer small modules.\n".to_owned()),
        ("c-rust.md", "---\ninclusion: fileMatch\nfileMatchPattern: [\"src/**/*.rs\"]\n---\nRust code uses iterators.\n".to_owned()),
        ("d-security.md", "---\ninclusion: manual\n---\nHash every token.\n".to_owned()),
        ("e-refs.md", "API: #[[file:docs/api.md]]\nSecret: #[[file:../outside.txt]]\nMissing: #[[file:docs/none.md]]\n".to_owned()),
        ("f-huge.md", "x".repeat(70 * 1024)),
        ("notes.txt", "Not steering.\n".to_owned()),
    ];
    for (name, text) in files {
        std::fs::write(steering.join(name), text).unwrap();
    }
    std::fs::write(root.join("docs/api.md"), "POST /reset {email}\n").unwrap();
}

#[tokio::test]
async fn steering_files_reach_the_system_prompt_by_their_inclusion() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(dir.path().join("outside.txt"), "TOP SECRET").unwrap();
    steering_workspace(&root);

    // (request text, steering expected in the prompt, steering expected out of it)
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (
            "Reset passwords.",
            &[
                "Always write errors with thiserror.",
                "Prefer small modules.",
            ],
            &["Rust code uses iterators.", "Hash every token."],
        ),
        (
            "Reset passwords in `src/auth/reset.rs`; see #d-security.",
            &["Rust code uses iterators.", "Hash every token."],
            &[],
        ),
        (
            "Mention #d-security-extra only.",
            &[],
            &["Hash every token."],
        ),
    ];
    for (text, included, excluded) in cases {
        let cx = context(&root);
        let model = Scripted::new(vec![requirements_draft(GOOD_CRITERIA)]);
        LlmRequirementsParser::new(model.clone())
            .parse(&RequirementsInput::Text(text.into()), &cx)
            .await
            .unwrap();
        let system = model.system(0);
        for s in included {
            assert!(system.contains(s), "{text}: {s} missing from\n{system}");
        }
        for s in excluded {
            assert!(!system.contains(s), "{text}: {s} in\n{system}");
        }
        // References are inlined from the workspace; escapes and missing
        // files become notes; oversized files are left out with a note.
        assert!(
            system.contains("<file path=\"docs/api.md\">\nPOST /reset {email}\n</file>"),
            "{system}"
        );
        assert!(
            system.contains("(file ../outside.txt not included: the path leaves the repository)"),
            "{system}"
        );
        assert!(
            system.contains("(file docs/none.md not included: no such file)"),
            "{system}"
        );
        assert!(!system.contains("TOP SECRET"));
        assert!(
            system.contains("(Steering file f-huge.md (larger than 65536 bytes) was left out.)"),
            "{system}"
        );
        assert!(!system.contains("Not steering."));
        // File-name order.
        let a = system.find("Always write errors").unwrap();
        let b = system.find("Prefer small modules").unwrap();
        assert!(a < b);
    }
}

/// A memory store that recalls one lesson for every request and records
/// what it was asked.
#[derive(Default)]
struct Lessons {
    asked: Mutex<Vec<RecallRequest>>,
}

#[async_trait]
impl MemoryRecall for Lessons {
    async fn recall(&self, request: &RecallRequest) -> kiro_core::Result<Vec<Recalled>> {
        self.asked.lock().unwrap().push(request.clone());
        let mut memory = Memory::new("Reset tokens must be single-use.");
        memory.source = Some("review of run 12".into());
        Ok(vec![Recalled::new(memory, RecallReason::SameSpec)])
    }
}

#[tokio::test]
async fn recalled_memory_is_in_the_prompt_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let lessons = Arc::new(Lessons::default());
    let cx = StageContext::builder(Workspace::single(dir.path()).unwrap())
        .spec_name("password-reset")
        .memory(lessons.clone())
        .build();
    let model = Scripted::new(vec![design_draft(&["1.1"])]);
    LlmDesigner::new(model.clone())
        .design(&requirements(), &cx)
        .await
        .unwrap();
    let system = model.system(0);
    assert!(
        system.contains("- Reset tokens must be single-use.\n  (recalled because: recorded for this spec; from review of run 12)"),
        "{system}"
    );
    let asked = lessons.asked.lock().unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].spec, "password-reset");
    assert!(asked[0].text.contains("Request a reset link"));
}

#[tokio::test]
async fn equal_inputs_make_byte_identical_requests() {
    let dir = tempfile::tempdir().unwrap();
    steering_workspace(dir.path());
    let mut runs = Vec::new();
    for _ in 0..2 {
        let cx = context(dir.path());
        let model = Scripted::new(vec![plan_draft(&["9"]), plan_draft(&["1"])]);
        LlmTaskPlanner::new(model.clone())
            .temperature(0.0)
            .max_tokens(4096)
            .plan(&requirements(), &design(), &cx)
            .await
            .unwrap();
        let requests = model.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].temperature, Some(0.0));
        assert_eq!(requests[0].max_tokens, Some(4096));
        runs.push(serde_json::to_vec(&requests).unwrap());
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn the_requirements_parser_works_through_the_openai_compatible_provider() {
    let content = requirements_draft(GOOD_CRITERIA).to_string();
    let server = Server::start(vec![Reply::json(
        200,
        &json!({
            "id": "chatcmpl-r", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 300, "total_tokens": 1200}
        }),
    )])
    .await;
    let client: Arc<dyn LlmClient> =
        Arc::new(OpenAiCompatible::new(&server.base_url, "gpt-4o-mini").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let doc = LlmRequirementsParser::new(client)
        .temperature(0.0)
        .parse(
            &RequirementsInput::Text("Reset passwords by email.".into()),
            &cx,
        )
        .await
        .unwrap();
    assert_eq!(doc.requirements.len(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("EARS"));
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "requirements"
    );
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(
        cx.usage(),
        TokenUsage {
            input_tokens: 900,
            output_tokens: 300,
            requests: 1
        }
    );
}

#[tokio::test]
async fn ids_the_model_invents_are_ignored_and_oversized_fields_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let mut invented = requirements_draft(&[
        "9.9 WHEN a user submits a registered email address, THE Auth_Service SHALL send a reset link to it",
    ]);
    invented["requirements"][0]["id"] = json!("R9");
    invented["requirements"][0]["number"] = json!(9);
    let mut oversized = invented.clone();
    oversized["requirements"][1]["title"] = json!("Expire ".repeat(2_000));
    let model = Scripted::new(vec![oversized, invented]);
    let doc = LlmRequirementsParser::new(model.clone())
        .parse(&RequirementsInput::Text("x".into()), &cx)
        .await
        .unwrap();
    let correction = model.last_user(1);
    assert!(
        correction.contains("- structure requirements.md: requirement 2's title is 13999 characters long; keep it under 120"),
        "{correction}"
    );
    let ids: Vec<&str> = doc.criteria().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["1.1", "2.1"]);
    assert_eq!(doc.requirements[0].id.as_str(), "1");
    assert!(doc.requirements[0].criteria[0]
        .text
        .starts_with("WHEN a user"));
}

#[tokio::test]
async fn a_cancelled_run_stops_the_stage_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    cx.cancel().cancel();
    let model = Scripted::new(vec![design_draft(&["1.1"])]);
    let err = LlmDesigner::new(model.clone())
        .design(&requirements(), &cx)
        .await
        .unwrap_err();
    assert!(matches!(err, StageError::Cancelled), "{err:?}");
    assert!(model.requests().is_empty());
    assert_eq!(cx.usage(), TokenUsage::default());
}

#[tokio::test]
async fn with_a_forced_tool_call_the_findings_answer_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let model = Scripted::calling(
        "design",
        vec![design_draft(&["9.9"]), design_draft(&["1.2"])],
    );
    let design = LlmDesigner::new(model.clone())
        .design(&requirements(), &cx)
        .await
        .unwrap();
    assert_eq!(design.properties[0].validates[0].as_str(), "1.2");
    let requests = model.requests();
    assert_eq!(requests[0].tools[0].name, "design");
    let (Message::Assistant { tool_calls, .. }, Message::Tool(result)) =
        (&requests[1].messages[1], &requests[1].messages[2])
    else {
        panic!("{:?}", requests[1].messages);
    };
    assert_eq!(tool_calls[0].id, "call_1");
    assert_eq!(result.call_id, "call_1");
    assert!(result.is_error);
    assert!(
        result.content.contains("- K0012 design.md:"),
        "{}",
        result.content
    );
    // The schema is attached once per request, not once per round.
    assert_eq!(requests[1].tools.len(), 1);
}

#[tokio::test]
async fn empty_or_oversized_input_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context(dir.path());
    let model = Scripted::new(vec![requirements_draft(GOOD_CRITERIA)]);
    let parser = LlmRequirementsParser::new(model.clone());
    for (text, expected) in [
        (" \n ".to_owned(), "invalid input: llm requirements parser: the requirements text is empty"),
        ("x".repeat(kiro_llm::stages::MAX_INPUT_BYTES + 1), "invalid input: llm requirements parser: the requirements text is 524289 bytes; at most 524288 are sent to a model"),
    ] {
        let err = parser
            .parse(&RequirementsInput::Text(text), &cx)
            .await
            .unwrap_err();
        assert!(matches!(err, StageError::Invalid(_)), "{err:?}");
        assert_eq!(err.to_string(), expected);
    }
    assert!(model.requests().is_empty());
}
