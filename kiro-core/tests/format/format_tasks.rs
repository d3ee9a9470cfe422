//! `tasks.md` parsing and rendering: canonical inputs render byte for byte,
//! other spellings normalise and are then stable, the model reads what Kiro
//! and cc-sdd write, status edits touch one byte, and every fixture of the
//! corpus round-trips without losing a word.
//!
//! The corpus checks are skipped, with a message, when `../shared` is not
//! checked out beside the repo.

// Tests state their expectations with unwrap/expect/panic; a failure is the
// test failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kiro_core::format::{parse_tasks, render_tasks, set_task_status, Locator};
use kiro_core::spec::{PropertyId, Task, TaskForm, TaskList, TaskStatus};
use kiro_core::Error;

use crate::fixtures;

// ---------------------------------------------------------------------------
// Rendering: `check(input, expected)` parses `input`, renders it and compares
// with `expected` (`None`: the input is canonical and must come back byte for
// byte). The rendering must then parse to the same model and render to
// itself.

fn check(input: &str, expected: Option<&str>) {
    let parsed = parse_tasks(input);
    let out = render_tasks(&parsed.value);
    let expected = expected.unwrap_or(input);
    assert_eq!(out, expected, "render of {input:?}");
    let again = parse_tasks(&out);
    assert_eq!(
        again.value, parsed.value,
        "model changed after render of {input:?}"
    );
    assert_eq!(
        render_tasks(&again.value),
        out,
        "second render of {input:?}"
    );
}

#[test]
fn canonical_inputs_render_byte_for_byte() {
    let cases = [
        // The shape of the format module's doctest.
        "# Implementation Plan\n\n- [ ] 1. Build the parser\n  - Use pulldown-cmark\n  - _Requirements: 1.1, 1.2_\n",
        // Kiro: a group task directly followed by its sub-tasks, blank lines between sub-tasks.
        "# Implementation Plan\n\n## Tasks\n\n- [x] 1. Group\n  - [x] 1.1 First\n    - Detail\n    - _Requirements: 1.1_\n\n  - [ ]* 1.2 Optional test\n    - **Property 2: Round trip**\n    - **Validates: Requirements 1.1**\n\n- [-] 2. Next\n  - Ensure all tests pass\n\n## Notes\n\n- Tasks marked with `*` are optional\n",
        // Details, then a blank line, then sub-tasks.
        "# Plan\n\n- [x] 1. Helper\n  - Define a pure function\n  - Apply the rules:\n    - If present, resolve it\n    - Else return `'—'`\n  - _Requirements: 1.5, 1.6_\n\n  - [ ]* 1.1 Property test\n    - **Property 3: Unit label resolution**\n",
        // Every mark, optional done tasks, unnumbered tasks.
        "# Plan\n\n- [ ] 1. Not started\n\n- [-] 2. In progress\n\n- [~] 3. Queued\n\n- [x] 4. Done\n  - [x]* 4.1 Optional done\n\n## 检查点\n\n- [x] 检查点1：基础设施完成\n  - 数据库配置完成\n\n- [ ] 所有测试用例通过\n",
        // Old Kiro / cc-sdd flat sub-tasks.
        "# Implementation Plan\n\n- [ ] 4. Build product management\n- [ ] 4.1 Create listing\n  - Implement table\n  - _Requirements: 1.1, 1.7_\n\n- [ ] 4.2 Implement forms\n  - _Requirements: 1.2_\n\n- [ ] 5. Inventory\n- [ ] 5.1 Tracking\n",
        // cc-sdd: group headings, (P) markers, requirement-level links, boundary and depends lines.
        "# Implementation Plan\n\n## 1. Foundation\n\n- [ ] 1.1 (P) Environment setup\n  - Pin the Python version\n  - _Boundary: app/config_\n  - _Requirements: 6_\n\n- [ ] 1.2 Tooling\n  - _Requirements: 6, 7_\n  - _Depends: 1.1_\n\n## 2. Integration\n\n- [ ] 2.1 (P) Embeddings client\n",
        // cc-sdd group headings: `(P)` after the title, `_Label: ..._` lines
        // under the heading, a checkbox or none, optional groups.
        "# Implementation Plan\n\n## 1. Foundation (P)\n\n_Boundary: config, logging_\n_Requirements: 1.1_\n\n- [ ] 1.1 (P) Setup\n  - _Requirements: 6_\n\n- [ ] 1.2 Tooling\n\n## [x] 2. Checked group\n\n- [x] 2.1 Only\n\n#### 3.1* Optional group\n\n- [ ]* 3.1.1 Benchmarks\n\n## Notes\n\nDone.\n",
        // A group heading's body: bullets, prose, then its link lines.
        "## 2. Integration\n\n- Make sure Docker runs\n- Read the API notes\n\nProse about the group.\n\n_Depends: 1_\n\n- [ ] 2.1 Client\n",
        // Flat sub-tasks over three levels, numbered under their parents.
        "# Plan\n\n- [ ] 2. Build\n- [ ] 2.1 First part\n- [ ] 2.1.1 Deeper\n\n- [ ] 2.2 Second part\n  - _Requirements: 1.1_\n\n---\n\n- [ ] 2.3 After a rule\n\n- [ ] 3. Next\n",
        // Localised and range links are kept as written.
        "# 实现计划\n\n- [x] 1. 项目初始化\n  - 创建项目结构\n  - _需求: 无_\n\n- [x] 2. 数据库\n  - _需求: 需求14, 需求16_\n\n- [ ] 3. Datos\n  - _Requisitos: 2.2, 2.4_\n\n- [ ] 4. Ranges\n  - _Requirements: 1.1–1.7, 2.1-2.3_\n\n- [ ] 5. All\n  - _Requirements: All_\n\n- [ ] 6. Descoped\n  - _Requirements: 12 (descope record)_\n",
        // Hard-wrapped titles and links keep their line breaks.
        "# Plan\n\n- [x] 1. **Shared foundation**: `client_config`,\n    `signing`, `http_client`\n  - Create the config header\n  - _Requirements: 3.1–3.3, 4.1–4.3,\n    9.1–9.2_\n",
        // Non-list content inside a task item is kept in place as a block detail.
        "# Plan\n\n- [ ] 0. **Spike**\n\n  Run against vendor documentation\n  and record findings.\n\n  - Verify the notes exist\n\n  ```cmake\n  find_package(AWSSDK)\n  ```\n\n  - _Requirements: 1.3_\n",
        // No title, no final section.
        "- [ ] 1. Only a task\n",
        // Three-level ids under group headings (tight lists normalise, so loose here).
        "# 任务列表\n\n#### 1.1 协调器测试\n\n- [ ] 1.1.1 缺失行测试\n\n- [-] 1.1.4 分支覆盖\n\n---\n\n**任务状态**: 待开始\n",
        // No checkbox at all: everything is preamble.
        "# Implementation Tasks\n\n## Phase 1\n\n### Task 1.1: Project Initialization ✅\n**Status**: COMPLETED\n",
        // A `- [ ]` inside a code block is not a task.
        "# Plan\n\n```md\n- [ ] 1. Not a task\n```\n\n- [ ] 1. Real task\n",
        // A numbered list under a task stays one block.
        "# Plan\n\n- [x] 1. Exploration test\n  - **Scoped approach**:\n    1. Parse the spec\n    2. Assert the scheme\n\n  1. First numbered\n  2. Second numbered\n",
        // CRLF canonical input stays CRLF.
        "# Plan\r\n\r\n- [ ] 1. Task\r\n  - Detail\r\n",
    ];
    for case in cases {
        check(case, None);
    }
}

#[test]
fn non_canonical_inputs_normalise() {
    let cases: &[(&str, &str)] = &[
        // No final newline, several final newlines.
        ("# P\n\n- [ ] 1. A", "# P\n\n- [ ] 1. A\n"),
        ("# P\n\n- [ ] 1. A\n\n\n", "# P\n\n- [ ] 1. A\n"),
        // CRLF without final newline.
        ("# P\r\n\r\n- [ ] 1. A\r\n  - d", "# P\r\n\r\n- [ ] 1. A\r\n  - d\r\n"),
        // Blank-line runs and whitespace-only lines.
        (
            "# P\n\n\n\n- [x] 1. A\n\n\n  - d\n  \n- [ ] 2. B\n",
            "# P\n\n- [x] 1. A\n  - d\n\n- [ ] 2. B\n",
        ),
        // Tight sibling lists.
        (
            "# P\n\n- [ ] 1. A\n  - [ ] 1.1 B\n  - [ ] 1.2 C\n- [ ] 2. D\n",
            "# P\n\n- [ ] 1. A\n  - [ ] 1.1 B\n\n  - [ ] 1.2 C\n\n- [ ] 2. D\n",
        ),
        // Kiro bugfix specs put a blank line before the first sub-task.
        (
            "# P\n\n- [x] 3. Fix\n\n  - [x] 3.1 Sub\n",
            "# P\n\n- [x] 3. Fix\n  - [x] 3.1 Sub\n",
        ),
        // `*` and `+` bullets, `[X]`.
        ("* [X] 1. A\n  + d\n", "- [x] 1. A\n  - d\n"),
        // cc-sdd's `7.9*` optional marker and a trailing `(P)`.
        ("- [ ] 7.9* (P) Perf\n", "- [ ]* 7.9 (P) Perf\n"),
        ("- [ ] 2.1 Client (P)\n", "- [ ] 2.1 (P) Client\n"),
        // Ids with or without their dot.
        ("- [ ] 1 One\n- [ ] 1.1. Sub\n", "- [ ] 1. One\n- [ ] 1.1 Sub\n"),
        // One-space indented tasks with two-space details (the details belong to the task).
        (
            "# P\n\n - [x] 1. A\n  - d\n  - _Requirements: 6.3_\n\n - [x] 2. B\n  - [x] 2.1 C\n    - e\n",
            "# P\n\n- [x] 1. A\n  - d\n  - _Requirements: 6.3_\n\n- [x] 2. B\n  - [x] 2.1 C\n    - e\n",
        ),
        // Details written after the sub-tasks move before them.
        (
            "- [ ] 0. Spike\n  - [x] 0.1 Sign\n  - Verify notes\n  - _Requirements: 1.3_\n",
            "- [ ] 0. Spike\n  - Verify notes\n  - _Requirements: 1.3_\n\n  - [x] 0.1 Sign\n",
        ),
        // The requirements line goes last, the depends line after it.
        (
            "- [ ] 1. A\n  - _Depends: 2_\n  - _Requirements: 1.1_\n  - d\n",
            "- [ ] 1. A\n  - d\n  - _Requirements: 1.1_\n  - _Depends: 2_\n",
        ),
        // Group headings: `(P)` moves after the title, the id gets its dot
        // (or loses it), a closing `#` run goes, the body is set off by a
        // blank line, bullet link lines become lines and the requirements
        // line goes last.
        (
            "## 1. (P) Foundation\n- [ ] 1.1 A\n",
            "## 1. Foundation (P)\n\n- [ ] 1.1 A\n",
        ),
        (
            "## 1 Foundation ##\n- [ ] 1.1 A\n#### 1.2. Sub group\n- [X] 1.2.1 B\n",
            "## 1. Foundation\n\n- [ ] 1.1 A\n\n#### 1.2 Sub group\n\n- [x] 1.2.1 B\n",
        ),
        (
            "## 1. G\n_Requirements: 1.1_\n_Boundary: core_\n- _Depends: 0_\n- [ ] 1.1 A\n",
            "## 1. G\n\n_Boundary: core_\n_Requirements: 1.1_\n_Depends: 0_\n\n- [ ] 1.1 A\n",
        ),
        // A task with an indented sub-task and a flat one writes both indented.
        (
            "- [ ] 1. A\n  - [ ] 1.1 B\n- [ ] 1.2 C\n",
            "- [ ] 1. A\n  - [ ] 1.1 B\n\n  - [ ] 1.2 C\n",
        ),
        // Hard-wrapped title continuation lines are re-indented under the task.
        ("- [ ] 1. Long\ntitle\n", "- [ ] 1. Long\n  title\n"),
    ];
    for (input, expected) in cases {
        check(input, Some(expected));
    }
}

// ---------------------------------------------------------------------------
// The model: `check_model(input, expected)` compares a compact outline of
// the parsed tasks, one line per task:
// `<path> <form> <id|-> [<mark>]<*> <(P)> <title> | req=<ids> src=<source> | dep=<ids> | props=<ids> | details=<n>`,
// where the form is empty for a checkbox item with indented sub-tasks,
// `flat` for one with sub-tasks at its indentation, and `##` (`##[]` with a
// checkbox) for a group heading of that level.

fn outline(list: &TaskList) -> Vec<String> {
    fn walk(task: &Task, path: &str, out: &mut Vec<String>) {
        let form = match task.form {
            TaskForm::Item => String::new(),
            TaskForm::FlatItem => "flat ".to_owned(),
            TaskForm::Heading { level, checkbox } => format!(
                "{}{} ",
                "#".repeat(usize::from(level)),
                if checkbox { "[]" } else { "" }
            ),
        };
        let mut line = format!(
            "{path} {form}{} [{}]{}{} {}",
            task.id.as_ref().map_or("-", |i| i.as_str()),
            task.status.mark(),
            if task.optional { "*" } else { "" },
            if task.parallel { " (P)" } else { "" },
            task.title.replace('\n', "⏎"),
        );
        if !task.requirements.is_empty() || task.requirements_source.is_some() {
            let ids: Vec<&str> = task.requirements.iter().map(|c| c.as_str()).collect();
            line.push_str(&format!(" | req={}", ids.join(",")));
            if let Some(src) = &task.requirements_source {
                line.push_str(&format!(" src={src}"));
            }
        }
        if !task.depends_on.is_empty() || task.depends_source.is_some() {
            let ids: Vec<&str> = task.depends_on.iter().map(|c| c.as_str()).collect();
            line.push_str(&format!(" | dep={}", ids.join(",")));
        }
        if !task.properties.is_empty() {
            let ids: Vec<&str> = task.properties.iter().map(|c| c.as_str()).collect();
            line.push_str(&format!(" | props={}", ids.join(",")));
        }
        if !task.details.is_empty() {
            line.push_str(&format!(" | details={}", task.details.len()));
        }
        if !task.before.is_empty() {
            line.push_str(&format!(" | before={}", task.before.replace('\n', "⏎")));
        }
        out.push(line);
        for (i, sub) in task.subtasks.iter().enumerate() {
            walk(sub, &format!("{path}.{i}"), out);
        }
    }
    let mut out = Vec::new();
    for (i, t) in list.tasks.iter().enumerate() {
        walk(t, &i.to_string(), &mut out);
    }
    out
}

fn check_model(input: &str, expected: &[&str]) {
    let parsed = parse_tasks(input);
    assert_eq!(outline(&parsed.value), expected, "outline of {input:?}");
}

#[test]
fn model_reads_kiro_and_cc_sdd_tasks() {
    check_model(
        "# P\n\n- [x] 1. Group\n  - [ ]* 1.1 Test (Property 2)\n    - **Property 2: Edit validation**\n    - _Requirements: 6.1, 6.7_\n",
        &[
            "0 1 [x] Group",
            "0.0 1.1 [ ]* Test (Property 2) | req=6.1,6.7 | props=2 | details=1",
        ],
    );
    check_model(
        "- [X] 1. Done\n- [-] 2. Going\n- [~] 3. Queued\n- [x]* 4. Optional\n",
        &[
            "0 1 [x] Done",
            "1 2 [-] Going",
            "2 3 [~] Queued",
            "3 4 [x]* Optional",
        ],
    );
    check_model(
        "- [x] 检查点1：基础设施完成\n- [ ] 所有测试用例通过\n- [ ] 2024 plan\n- [ ] 1.5x faster\n",
        &[
            "0 - [x] 检查点1：基础设施完成",
            "1 - [ ] 所有测试用例通过",
            "2 2024 [ ] plan",
            "3 - [ ] 1.5x faster",
        ],
    );
    check_model(
        "- [ ] 1.1 (P) Setup\n  - _Requirements: 6_\n- [ ] 7.9* (P) Perf\n- [ ] 2.1 Client (P)\n",
        &[
            "0 1.1 [ ] (P) Setup | req=6",
            "1 7.9 [ ]* (P) Perf",
            "2 2.1 [ ] (P) Client",
        ],
    );
    check_model(
        "- [ ] 1. a\n  - _需求: 1.1_\n- [ ] 2. b\n  - _Requisitos: 2.2, 2.4_\n- [ ] 3. c\n  - _Requirements: 1.1–1.3_\n- [ ] 4. d\n  - _Requirements: All_\n- [ ] 5. e\n  - _需求: 无_\n- [ ] 6. f\n  - _Requirements: 12 (descope record)_\n- [ ] 7. g\n  - _Requirements: 1.1, 1.2_\n",
        &[
            "0 1 [ ] a | req=1.1 src=_需求: 1.1_",
            "1 2 [ ] b | req=2.2,2.4 src=_Requisitos: 2.2, 2.4_",
            "2 3 [ ] c | req=1.1,1.2,1.3 src=_Requirements: 1.1–1.3_",
            "3 4 [ ] d | req= src=_Requirements: All_",
            "4 5 [ ] e | req= src=_需求: 无_",
            "5 6 [ ] f | req=12 src=_Requirements: 12 (descope record)_",
            "6 7 [ ] g | req=1.1,1.2",
        ],
    );
    check_model(
        "- [ ] 1. a\n  - _Boundary: app/api_\n  - _Depends: 4.1, 5_\n  - _Requirements: 1.1_\n",
        &["0 1 [ ] a | req=1.1 | dep=4.1,5 | details=1"],
    );
    // Properties from titles, detail lines, localised words; not from
    // `Property-based` or `MyProperty 3`.
    check_model(
        "- [x] 1. Property 1: Bug Condition\n  - **Feature: x, Property 3: Stable**\n  - **属性 4: 一致性**\n  - Property-based tests, MyProperty 9\n  - mirror unchanged (design Property 1)\n",
        &["0 1 [x] Property 1: Bug Condition | props=1,3,4 | details=4"],
    );
    // Headings that are not task groups and prose between tasks go into
    // `before`; the preamble and epilogue hold the rest.
    check_model(
        "# P\n\nOverview.\n\n## Phase one\n\n- [ ] 1. A\n\n---\n\n#### Later\n- [ ] 2. B\n\n## Notes\n\n- note\n",
        &["0 1 [ ] A", "1 2 [ ] B | before=---⏎⏎#### Later"],
    );
    // Text between tasks that numbers a heading is not a group when the
    // next task is not numbered under it.
    let parsed =
        parse_tasks("## 1. Overview\n\nText.\n\n## 2. Tasks\n\n- [ ] 1. Build\n- [ ] 2. Ship\n")
            .value;
    assert_eq!(outline(&parsed), ["0 1 [ ] Build", "1 2 [ ] Ship"]);
    assert_eq!(parsed.preamble, "## 1. Overview\n\nText.\n\n## 2. Tasks");
    // Hard-wrapped titles keep their line breaks (continuation dedented).
    check_model(
        "- [x] 1. **Foundation**: `a`,\n      `b`\n\n  - Create it\n",
        &["0 1 [x] **Foundation**: `a`,⏎    `b` | details=1"],
    );
    // Details after sub-tasks and paragraphs inside the item are details.
    check_model(
        "- [ ] 0. Spike\n\n  Run it.\n\n  - [x] 0.1 Sign\n  - Verify\n  - _Requirements: 1.3_\n",
        &["0 0 [ ] Spike | req=1.3 | details=2", "0.0 0.1 [x] Sign"],
    );
}

#[test]
fn group_headings_are_parent_tasks() {
    // A heading numbered like a task, followed by tasks numbered under it,
    // is their parent: id, `(P)`, checkbox or status derived from the
    // sub-tasks (done when all are, in progress when one has started),
    // `_Label: ..._` lines and bullets under it as its details and links.
    check_model(
        "# Plan\n\n## 1. Foundation (P)\n\n_Boundary: config, logging_\n_Requirements: 1.1_\n_Depends: 0_\n\n- [x] 1.1 (P) Setup\n  - _Requirements: 6_\n\n- [ ] 1.2 Tooling\n\n## [ ] 2. Checked group\n\n- [x] 2.1 Only\n\n#### 3.1 Three-level group\n- [x] 3.1.1 A\n- [x] 3.1.2 B\n\n### 4. Not started\n\n- Check the quota\n\nProse.\n\n- [ ] 4.1 C\n\n## Notes\n",
        &[
            "0 ## 1 [-] (P) Foundation | req=1.1 | dep=0 | details=1",
            "0.0 1.1 [x] (P) Setup | req=6",
            "0.1 1.2 [ ] Tooling",
            "1 ##[] 2 [ ] Checked group",
            "1.0 2.1 [x] Only",
            "2 #### 3.1 [x] Three-level group",
            "2.0 3.1.1 [x] A",
            "2.1 3.1.2 [x] B",
            "3 ### 4 [ ] Not started | details=2",
            "3.0 4.1 [ ] C",
        ],
    );
    let list =
        parse_tasks("## 1. G\n\n- Check the quota\n\nProse.\n\n_Boundary: api_\n\n- [ ] 1.1 C\n")
            .value;
    assert_eq!(
        list.tasks[0].details,
        ["Check the quota", "\nProse.", "_Boundary: api_"]
    );
    assert_eq!(list.tasks[0].boundary.as_deref(), Some("api"));
    // Nested group headings, numbered under each other.
    check_model(
        "## 1. Outer\n\n### 1.1 Inner\n\n- [ ] 1.1.1 A\n\n- [ ] 1.2 B\n",
        &[
            "0 ## 1 [ ] Outer",
            "0.0 ### 1.1 [ ] Inner",
            "0.0.0 1.1.1 [ ] A",
            "0.1 1.2 [ ] B",
        ],
    );
}

/// A task's boundary (cc-sdd's `_Boundary: <name>_`) is a typed field whose
/// line stays where it was written; editing the field rewrites, adds or
/// drops that line.
#[test]
fn boundaries_are_typed_and_edits_render() {
    let src = "# Plan\n\n## 1. Storage (P)\n\n_Boundary: StorageService_\n_Requirements: 1.1_\n\n- [ ] 1.1 Schema\n  - _Boundary: Migrations_\n  - _Requirements: 1.1_\n";
    check(src, None);
    let mut list = parse_tasks(src).value;
    let group = &list.tasks[0];
    assert!(group.parallel);
    assert_eq!(group.id.as_ref().map(|i| i.as_str()), Some("1"));
    assert_eq!(group.boundary.as_deref(), Some("StorageService"));
    assert_eq!(group.subtasks[0].boundary.as_deref(), Some("Migrations"));

    list.tasks[0].boundary = Some("BlobStore".into());
    list.tasks[0].subtasks[0].boundary = None;
    let out = render_tasks(&list);
    assert!(out.contains("_Boundary: BlobStore_\n"), "{out}");
    assert!(!out.contains("Migrations"), "{out}");
    let again = parse_tasks(&out).value;
    assert_eq!(again.tasks[0].boundary.as_deref(), Some("BlobStore"));
    assert_eq!(again.tasks[0].subtasks[0].boundary, None);
    assert_eq!(render_tasks(&again), out);

    let mut list = parse_tasks("# Plan\n\n- [ ] 1. A\n").value;
    list.tasks[0].boundary = Some("Api".into());
    let out = render_tasks(&list);
    assert_eq!(out, "# Plan\n\n- [ ] 1. A\n  - _Boundary: Api_\n");
    let again = parse_tasks(&out).value;
    assert_eq!(again.tasks[0].boundary.as_deref(), Some("Api"));
    assert_eq!(render_tasks(&again), out);
}

/// A task's repositories (`_Repos: api, web_`, issue 16) are a typed field
/// like the boundary: read in every spelling, the line kept byte for byte
/// where it stands, and an edit of the field rewrites, adds or drops it.
#[test]
fn repos_are_typed_and_round_trip() {
    for (line, expected) in [
        ("_Repos: api, web_", &["api", "web"][..]),
        ("_Repos: api_", &["api"]),
        ("_repositories: `api`; web_", &["api", "web"]),
        ("_Repo: api web_", &["api", "web"]),
        ("_Repos:_", &[]),
    ] {
        let src = format!(
            "# Plan\n\n- [ ] 1. A\n  - Edit the code\n  - {line}\n  - _Requirements: 1.1_\n"
        );
        let list = parse_tasks(&src).value;
        assert_eq!(list.tasks[0].repos, expected, "{line}");
        assert_eq!(
            render_tasks(&list),
            src,
            "{line}: the line is kept as written"
        );
    }
    // Under a group heading, as its own line; the sub-task's stands apart.
    let src = "# Plan\n\n## 1. Cross-repo (P)\n\n_Repos: api, web_\n_Requirements: 1.1_\n\n- [ ] 1.1 Schema\n  - _Repos: api_\n";
    check(src, None);
    let mut list = parse_tasks(src).value;
    assert_eq!(list.tasks[0].repos, ["api", "web"]);
    assert_eq!(list.tasks[0].subtasks[0].repos, ["api"]);
    assert!(list.tasks[0]
        .details
        .contains(&"_Repos: api, web_".to_owned()));

    // Edits: rewritten with the label as written, dropped, added.
    list.tasks[0].repos = vec!["web".into()];
    list.tasks[0].subtasks[0].repos.clear();
    let out = render_tasks(&list);
    assert!(out.contains("\n_Repos: web_\n"), "{out}");
    assert!(!out.contains("_Repos: api"), "{out}");
    let again = parse_tasks(&out).value;
    assert_eq!(again.tasks[0].repos, ["web"]);
    assert!(again.tasks[0].subtasks[0].repos.is_empty());
    assert_eq!(render_tasks(&again), out);

    let mut list = parse_tasks("# Plan\n\n- [ ] 1. A\n  - _Repositories: api_\n- [ ] 2. B\n").value;
    list.tasks[0].repos = vec!["api".into(), "web".into()];
    list.tasks[1].repos = vec!["web".into()];
    let out = render_tasks(&list);
    assert_eq!(
        out,
        "# Plan\n\n- [ ] 1. A\n  - _Repositories: api, web_\n\n- [ ] 2. B\n  - _Repos: web_\n"
    );
    let again = parse_tasks(&out).value;
    assert_eq!(again.tasks[0].repos, ["api", "web"]);
    assert_eq!(again.tasks[1].repos, ["web"]);
    assert_eq!(render_tasks(&again), out);

    // The JSON model leaves the field out when empty and reads it back.
    let json = serde_json::to_value(&again.tasks[1]).unwrap();
    assert_eq!(json["repos"], serde_json::json!(["web"]));
    assert!(serde_json::to_value(Task::default())
        .unwrap()
        .get("repos")
        .is_none());
}

#[test]
fn flat_sub_tasks_are_sub_tasks_by_their_numbers() {
    // At the same indentation, `2.1` after `2` is a sub-task of `2`, and
    // `2.1.1` one of `2.1`; the first sub-task decides how they are written.
    check_model(
        "- [ ] 2. Build\n- [ ] 2.1 First part\n- [ ] 2.1.1 Deeper\n- [x] 2.2 Second part\n- [ ] 3. Next\n- [ ] 30.1 Not under 3\n",
        &[
            "0 flat 2 [ ] Build",
            "0.0 flat 2.1 [ ] First part",
            "0.0.0 2.1.1 [ ] Deeper",
            "0.1 2.2 [x] Second part",
            "1 3 [ ] Next",
            "2 30.1 [ ] Not under 3",
        ],
    );
    // Inside a task item too, and after indented sub-tasks.
    check_model(
        "- [ ] 1. A\n  - [ ] 1.1 B\n  - [ ] 1.1.1 C\n- [ ] 1.2 D\n",
        &[
            "0 1 [ ] A",
            "0.0 flat 1.1 [ ] B",
            "0.0.0 1.1.1 [ ] C",
            "0.1 1.2 [ ] D",
        ],
    );
    // Text between flat tasks stays in place; an unnumbered task ends the
    // group (a sub-task after it has nothing to belong to).
    check_model(
        "- [ ] 4. Group\n- [ ] 4.1 A\n\n---\n\n- [ ] 4.2 B\n- [ ] Checkpoint\n- [ ] 4.3 C\n",
        &[
            "0 flat 4 [ ] Group",
            "0.0 4.1 [ ] A",
            "0.1 4.2 [ ] B | before=---",
            "1 - [ ] Checkpoint",
            "2 4.3 [ ] C",
        ],
    );
    // Text before a flat task whose parent writes its sub-tasks indented
    // would join that parent's item once written there: the task stays a
    // sibling, and reads back as one.
    check_model(
        "- [ ] 1. A\n  - [ ] 1.1 B\n\nProse.\n\n- [ ] 1.2 C\n",
        &["0 1 [ ] A", "0.0 1.1 [ ] B", "1 1.2 [ ] C | before=Prose."],
    );
}

#[test]
fn every_lexicon_word_is_read() {
    check_model(
        "- [ ] 1. a\n  - _Требования: 1.1_\n- [ ] 2. b\n  - _Anforderungen: 2.1_\n- [ ] 3. c\n  - _요구사항: 3.1_\n- [ ] 4. d\n  - _requirements: 4.1_\n  - _Dependencies: 1_\n",
        &[
            "0 1 [ ] a | req=1.1 src=_Требования: 1.1_",
            "1 2 [ ] b | req=2.1 src=_Anforderungen: 2.1_",
            "2 3 [ ] c | req=3.1 src=_요구사항: 3.1_",
            "3 4 [ ] d | req=4.1 src=_requirements: 4.1_ | dep=1",
        ],
    );
    // Every property word, in order of mention; a word in lower case is
    // prose (the template designer writes it so), a word glued to a letter
    // is another word.
    check_model(
        "- [ ] 1. Eigenschaft 3 and Свойство 4\n  - 속성 5, Propriété 6, Proprietà 7\n  - 性质 8; 性質 9; Propiedad 10, プロパティ11\n  - property 12 is prose; MyEigenschaft 13 is glued\n",
        &["0 1 [ ] Eigenschaft 3 and Свойство 4 | props=3,4,5,6,7,8,9,10,11 | details=3"],
    );
}

#[test]
fn details_keep_nested_bullets_and_blocks() {
    let src = "- [ ] 1. A\n  - Apply rules:\n    - If present\n      resolve\n    - Else skip\n  - Plain\n\n  Paragraph under the task\n  over two lines.\n\n  ```sh\n  cargo test\n  ```\n";
    let task = &parse_tasks(src).value.tasks[0];
    assert_eq!(
        task.details,
        [
            "Apply rules:\n- If present\n  resolve\n- Else skip",
            "Plain",
            "\nParagraph under the task\nover two lines.\n\n```sh\ncargo test\n```",
        ]
    );
}

#[test]
fn unmentioned_property_renders_as_marker_and_reads_back() {
    let mut list =
        parse_tasks("# P\n\n- [ ] 1. Test\n  - Use proptest\n  - _Requirements: 1.1_\n").value;
    list.tasks[0].properties.push(PropertyId::new("7"));
    let out = render_tasks(&list);
    assert_eq!(
        out,
        "# P\n\n- [ ] 1. Test\n  - Use proptest\n  - **Property 7**\n  - _Requirements: 1.1_\n"
    );
    let back = parse_tasks(&out).value;
    assert_eq!(back, list);
    assert_eq!(back.tasks[0].details, ["Use proptest"]);
    // A marker line that is not the only mention of its property is a detail.
    let twice = parse_tasks("- [ ] 1. Test (Property 7)\n  - **Property 7**\n").value;
    assert_eq!(twice.tasks[0].details, ["**Property 7**"]);
    assert_eq!(twice.tasks[0].properties, [PropertyId::new("7")]);
}

#[test]
fn edited_typed_fields_win_over_source_lines() {
    let mut list = parse_tasks("- [ ] 1. A\n  - _需求: 1.1–1.3_\n  - _Depends: Task 4_\n").value;
    assert_eq!(
        render_tasks(&list),
        "- [ ] 1. A\n  - _需求: 1.1–1.3_\n  - _Depends: Task 4_\n"
    );
    let task = &mut list.tasks[0];
    task.requirements.pop();
    task.depends_on.clear();
    task.status = TaskStatus::Done;
    task.title = "B".into();
    assert_eq!(
        render_tasks(&list),
        "- [x] 1. B\n  - _Requirements: 1.1, 1.2_\n"
    );
}

#[test]
fn diagnostics_report_and_keep_text() {
    let src = "- [ ] 1. A\n  - [?] odd mark\n- [ ] 2. B\n  - [ ] 3.1 Misnumbered\n";
    let parsed = parse_tasks(src);
    let messages: Vec<(u32, &str)> = parsed
        .diagnostics
        .iter()
        .map(|d| (d.position.line, d.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (2, "unknown task mark `[?]`, kept as text"),
            (
                4,
                "sub-task `3.1` is not numbered under its parent task `2`, kept as written"
            ),
        ]
    );
    assert_eq!(parsed.value.tasks[0].details, ["[?] odd mark"]);
    assert_eq!(
        parsed.value.tasks[1].subtasks[0]
            .id
            .as_ref()
            .unwrap()
            .as_str(),
        "3.1"
    );
    assert_eq!(
        render_tasks(&parsed.value),
        src.replace("- [ ] 2. B\n", "\n- [ ] 2. B\n")
    );
    assert!(parsed.strict("tasks.md").is_err());

    // Checkbox tasks nested in a list item that is not a task stay text.
    let src = "- **Phase 1**\n  - [ ] 1.1 Setup\n\n- [ ] 2. B\n  - Steps:\n    - [x] a\n";
    let parsed = parse_tasks(src);
    let lines: Vec<u32> = parsed.diagnostics.iter().map(|d| d.position.line).collect();
    assert_eq!(lines, [2, 6]);
    assert_eq!(parsed.value.all_tasks().len(), 1);
    assert_eq!(parsed.value.preamble, "- **Phase 1**\n  - [ ] 1.1 Setup");
    assert_eq!(parsed.value.tasks[0].details, ["Steps:\n- [x] a"]);
    assert_eq!(render_tasks(&parsed.value), src);
}

#[test]
fn source_map_locates_tasks_and_links() {
    let src =
        "# P\n\n- [ ] 1. A\n  - d\n  - _Requirements: 1.1_\n  - _Depends: 2_\n\n  - [ ] 1.1 B\n";
    let map = parse_tasks(src).source_map;
    let at = |l: Locator| map.get(&l).map(|p| (p.line, p.column));
    assert_eq!(at(Locator::Title), Some((1, 1)));
    assert_eq!(at(Locator::Task { path: [0].into() }), Some((3, 1)));
    assert_eq!(
        at(Locator::TaskRequirements { path: [0].into() }),
        Some((5, 3))
    );
    assert_eq!(at(Locator::TaskDepends { path: [0].into() }), Some((6, 3)));
    assert_eq!(
        at(Locator::Task {
            path: [0, 0].into()
        }),
        Some((8, 3))
    );

    // Flat sub-tasks and group headings are located where they are written.
    let src =
        "- [ ] 2. Build\n- [ ] 2.1 Part\n\n## 3. Group\n\n_Requirements: 1.1_\n\n- [ ] 3.1 A\n";
    let map = parse_tasks(src).source_map;
    let at = |l: Locator| map.get(&l).map(|p| (p.line, p.column));
    assert_eq!(
        at(Locator::Task {
            path: [0, 0].into()
        }),
        Some((2, 1))
    );
    assert_eq!(at(Locator::Task { path: [1].into() }), Some((4, 1)));
    assert_eq!(
        at(Locator::TaskRequirements { path: [1].into() }),
        Some((6, 1))
    );
    assert_eq!(
        at(Locator::Task {
            path: [1, 0].into()
        }),
        Some((8, 1))
    );
}

// ---------------------------------------------------------------------------
// Status edits: `check_status(src, path, status, expected)`.

fn check_status(src: &str, path: &[usize], status: TaskStatus, expected: &str) {
    let out = set_task_status(src, path, status).unwrap();
    assert_eq!(out, expected, "set {path:?} to {status:?} in {src:?}");
}

#[test]
fn status_edits_change_only_the_mark() {
    let src = "# 计划\r\n\r\n- [ ] 1. 构建\r\n  - [ ]* 1.1 测试 `- [ ]`\r\n\r\n```\r\n- [ ] 9. fake\r\n```\r\n- [X] 2. Done";
    check_status(
        src,
        &[0],
        TaskStatus::InProgress,
        &src.replacen("- [ ] 1.", "- [-] 1.", 1),
    );
    check_status(
        src,
        &[0, 0],
        TaskStatus::Done,
        &src.replacen("- [ ]* 1.1", "- [x]* 1.1", 1),
    );
    check_status(
        src,
        &[1],
        TaskStatus::Queued,
        &src.replacen("[X] 2.", "[~] 2.", 1),
    );
    check_status(src, &[1], TaskStatus::Done, src);
    check_status("- [x] 1. A\n", &[0], TaskStatus::NotStarted, "- [ ] 1. A\n");
    // Flat sub-tasks and group headings: a heading's checkbox is its mark;
    // without one there is nothing to write (its status is its sub-tasks').
    let groups = "- [ ] 2. Build\n- [ ] 2.1 Part\n\n## 3. Group\n\n- [ ] 3.1 A\n\n## [ ] 4. Boxed\n- [ ] 4.1 B\n";
    check_status(
        groups,
        &[0, 0],
        TaskStatus::Done,
        &groups.replacen("[ ] 2.1", "[x] 2.1", 1),
    );
    check_status(
        groups,
        &[1, 0],
        TaskStatus::Done,
        &groups.replacen("[ ] 3.1", "[x] 3.1", 1),
    );
    check_status(groups, &[1], TaskStatus::Done, groups);
    check_status(
        groups,
        &[2],
        TaskStatus::InProgress,
        &groups.replacen("## [ ] 4.", "## [-] 4.", 1),
    );
    for path in [&[2][..], &[0, 1], &[0, 0, 0], &[]] {
        match set_task_status(src, path, TaskStatus::Done) {
            Err(Error::TaskNotFound { path: p }) => assert_eq!(p, path),
            other => panic!("expected TaskNotFound for {path:?}, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The fixture corpus.

fn fixture_tasks() -> Option<Vec<(String, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/kiro-specs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        fixtures::missing(&dir);
        eprintln!(
            "skipped: Kiro fixture corpus not found at {} (check out ../shared beside the repo)",
            dir.display()
        );
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("tasks.md"))
        .collect();
    paths.sort();
    let files: Vec<(String, String)> = paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let name = p.parent()?.file_name()?.to_string_lossy().into_owned();
            Some((name, text))
        })
        .collect();
    Some(files)
}

/// A task line as a person would count them: `- [.]` or `* [.]`.
fn is_task_line(line: &str) -> bool {
    let t = line.trim_start();
    let b = t.as_bytes();
    b.len() >= 5 && matches!(b[0], b'-' | b'*') && b[1] == b' ' && b[2] == b'[' && {
        let close = t
            .get(3..)
            .and_then(|s| s.char_indices().nth(1))
            .map(|(i, _)| i + 3);
        close.is_some_and(|c| b.get(c) == Some(&b']'))
    }
}

/// The id of a task line (`- [ ] 2.1 Title` gives `2.1`).
fn task_line_id(line: &str) -> Option<&str> {
    let rest = line
        .trim_start()
        .get(5..)?
        .trim_start_matches('*')
        .trim_start();
    let id = rest.split(' ').next()?.trim_end_matches(['.', '*']);
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '.')).then_some(id)
}

/// Group headings as a person would count them: a heading line starting
/// with a task number whose next task (line or group heading) is numbered
/// under it.
fn group_heading_count(src: &str) -> usize {
    let mut next: Option<String> = None;
    let mut count = 0;
    for line in src.lines().rev() {
        if is_task_line(line) {
            next = task_line_id(line).map(str::to_owned);
        } else if let Some(text) = line.strip_prefix('#') {
            let text = text.trim_start_matches('#').trim_start();
            let text = text.strip_prefix("[ ] ").unwrap_or(text);
            let id = text.split(' ').next().unwrap_or("").trim_end_matches('.');
            let numbered = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '.');
            if numbered
                && next
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&format!("{id}.")))
            {
                count += 1;
                next = Some(id.to_owned());
            }
        }
    }
    count
}

/// Whether some task stands after a sibling (or that sibling's last
/// sub-task, and so on down) whose number it is numbered under.
fn beside_its_parent(tasks: &[Task]) -> Option<String> {
    for (i, task) in tasks.iter().enumerate().skip(1) {
        let Some(id) = &task.id else { continue };
        let mut open = Some(&tasks[i - 1]);
        while let Some(t) = open {
            if t.before.is_empty()
                && t.id
                    .as_ref()
                    .is_some_and(|p| id.as_str().starts_with(&format!("{p}.")))
            {
                return Some(id.to_string());
            }
            open = t.subtasks.last();
        }
    }
    tasks.iter().find_map(|t| beside_its_parent(&t.subtasks))
}

fn is_requirements_line(line: &str) -> bool {
    let t = line.trim_start();
    [
        "- _Requirements",
        "- _需求",
        "- _Requisitos",
        "* _Requirements",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// Whitespace-separated words, without pure markdown markers (`-`, `[x]`,
/// `**`, `#`) and with emphasis and list punctuation trimmed from the ends.
fn words(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for token in text.split_whitespace() {
        let t = token.trim_end_matches('*');
        let checkbox = t.len() == 3 && t.starts_with('[') && t.ends_with(']');
        if checkbox || token == "[" || token == "]" {
            continue;
        }
        let w = token.trim_matches(|c: char| "*_#>-+|.:".contains(c));
        if !w.is_empty() {
            *out.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn fixtures_round_trip_without_losing_words() {
    let Some(files) = fixture_tasks() else { return };
    assert!(
        files.len() >= 30,
        "expected the whole corpus, found {}",
        files.len()
    );
    let mut identical = Vec::new();
    for (name, src) in &files {
        let parsed = parse_tasks(src);
        let list = &parsed.value;
        let all = list.all_tasks();

        let expected_tasks =
            src.lines().filter(|l| is_task_line(l)).count() + group_heading_count(src);
        assert_eq!(all.len(), expected_tasks, "{name}: task count");
        // The hierarchy is complete: no task is left beside the task its
        // number puts it under.
        assert_eq!(
            beside_its_parent(&list.tasks),
            None,
            "{name}: flat sub-task"
        );
        let expected_links = src.lines().filter(|l| is_requirements_line(l)).count();
        let linked = all
            .iter()
            .filter(|t| !t.requirements.is_empty() || t.requirements_source.is_some())
            .count();
        assert_eq!(
            linked, expected_links,
            "{name}: tasks with requirements links"
        );

        let out = render_tasks(list);
        let again = parse_tasks(&out);
        assert_eq!(
            &again.value, list,
            "{name}: render(parse(x)) parses to another model"
        );
        assert_eq!(
            render_tasks(&again.value),
            out,
            "{name}: second render differs"
        );
        assert_eq!(
            out.contains("\r\n"),
            src.contains("\r\n"),
            "{name}: line endings"
        );

        let have = words(&out);
        for (word, n) in words(src) {
            let m = have.get(&word).copied().unwrap_or(0);
            assert!(
                m >= n,
                "{name}: word {word:?} appears {n} times in the input, {m} in the output"
            );
        }
        if out == *src {
            identical.push(name.clone());
        }
        eprintln!(
            "{name}: {} tasks ({} top-level), {} with requirements links, {} diagnostics, byte-identical: {}",
            all.len(),
            list.tasks.len(),
            linked,
            parsed.diagnostics.len(),
            out == *src
        );
    }
    eprintln!(
        "{} of {} fixture files render byte-identically",
        identical.len(),
        files.len()
    );
    // Kiro's own canonical files must come back byte for byte.
    for name in [
        "01-project-edit-delete",
        "02-chatbot-template-variants",
        "03-special-reinforcement-chart",
        "19-zh-user-authentication-ears",
    ] {
        assert!(
            identical.iter().any(|n| n == name),
            "{name} should render byte-identically"
        );
    }
}

#[test]
fn fixture_status_edits_touch_one_byte() {
    let Some(files) = fixture_tasks() else { return };
    for (name, src) in &files {
        let list = parse_tasks(src).value;
        let mut paths = Vec::new();
        fn collect(tasks: &[Task], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            for (i, t) in tasks.iter().enumerate() {
                prefix.push(i);
                out.push(prefix.clone());
                collect(&t.subtasks, prefix, out);
                prefix.pop();
            }
        }
        collect(&list.tasks, &mut Vec::new(), &mut paths);
        // Every task of small files; an even sample (first and last
        // included) of large ones, which keeps the test fast in debug builds.
        let step = paths.len().div_ceil(12).max(1);
        let last = paths.last().cloned();
        let sample: Vec<Vec<usize>> = paths.into_iter().step_by(step).chain(last).collect();
        fn at<'a>(tasks: &'a mut [Task], path: &[usize]) -> &'a mut Task {
            let (first, rest) = path.split_first().unwrap();
            let t = &mut tasks[*first];
            if rest.is_empty() {
                t
            } else {
                at(&mut t.subtasks, rest)
            }
        }
        /// A group heading without a checkbox is done when all its
        /// sub-tasks are, in progress when one has started.
        fn derive(tasks: &mut [Task]) {
            for t in tasks {
                derive(&mut t.subtasks);
                if matches!(
                    t.form,
                    TaskForm::Heading {
                        checkbox: false,
                        ..
                    }
                ) {
                    let started = t
                        .subtasks
                        .iter()
                        .any(|s| s.status != TaskStatus::NotStarted);
                    let done = t.subtasks.iter().all(|s| s.status == TaskStatus::Done);
                    t.status = match (done, started) {
                        (true, _) => TaskStatus::Done,
                        (false, true) => TaskStatus::InProgress,
                        (false, false) => TaskStatus::NotStarted,
                    };
                }
            }
        }
        for path in sample {
            let out = set_task_status(src, &path, TaskStatus::Queued).unwrap();
            assert_eq!(out.len(), src.len(), "{name} {path:?}");
            let changed = out.bytes().zip(src.bytes()).filter(|(a, b)| a != b).count();
            let mut expected = list.clone();
            let target = at(&mut expected.tasks, &path);
            if matches!(
                target.form,
                TaskForm::Heading {
                    checkbox: false,
                    ..
                }
            ) {
                assert_eq!(
                    out, *src,
                    "{name} {path:?}: a heading without checkbox has no mark"
                );
                continue;
            }
            assert_eq!(
                changed,
                usize::from(target.status != TaskStatus::Queued),
                "{name} {path:?}"
            );
            target.status = TaskStatus::Queued;
            derive(&mut expected.tasks);
            let mut edited = parse_tasks(&out).value;
            assert_eq!(at(&mut edited.tasks, &path).status, TaskStatus::Queued);
            assert_eq!(edited, expected, "{name} {path:?}: only the status changes");
        }
    }
}

// ---------------------------------------------------------------------------
// `_Depends:` items that name no task are kept in `Task::unreadable_depends`
// (lint K0018, and `run` refuses the plan), never dropped; the line itself
// renders byte for byte.

#[test]
fn depends_items_that_name_no_task_are_kept() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("task one", &[], &["task one"]),
        ("1, task two", &["1"], &["task two"]),
        ("1; none", &["1"], &["none"]),
        ("v2", &[], &["v2"]),
        ("1.2a, 1", &["1"], &["1.2a"]),
        ("1，任务二", &["1"], &["任务二"]),
        // Words around an id are notes; an item without letters or digits says nothing.
        ("Task 1", &["1"], &[]),
        ("1 (the schema)", &["1"], &[]),
        ("1、2", &["1", "2"], &[]),
        ("1.1–1.3", &["1.1", "1.2", "1.3"], &[]),
        ("-", &[], &[]),
    ];
    for (value, ids, unreadable) in cases {
        let src = format!("- [ ] 1. A\n\n- [ ] 2. B\n  - _Depends: {value}_\n");
        check(&src, None);
        let task = &parse_tasks(&src).value.tasks[1];
        let read: Vec<&str> = task.depends_on.iter().map(|d| d.as_str()).collect();
        assert_eq!(
            (read.as_slice(), task.unreadable_depends.as_slice()),
            (
                *ids,
                &unreadable.iter().map(|u| u.to_string()).collect::<Vec<_>>()[..]
            ),
            "{value:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Generated documents. Structured ones are built the way real files are
// (top-level blocks separated by blank lines, task items with indented
// children) and must keep the full round-trip contract; free ones glue
// arbitrary pieces together and must never make the parser panic nor lose
// a word.

mod generated {
    use super::*;
    use proptest::prelude::*;

    const TASK_LINES: &[&str] = &[
        "- [ ] 1. Task\n",
        "- [x]* 2 Done task\n",
        "* [X] 3.1. Star bullet\n",
        " - [-] 4. Indented one\n",
        "- [~] 7.9* (P) cc-sdd\n",
        "- [ ] Unnumbered (P)\n",
        "- [ ] 5. Wrapped\n      title line\n",
        "- [ ]\n",
        "- [ ] 1.1 Flat sub\n",
        "- [x] 1.1.1 Flat deep\n",
    ];

    const CHILDREN: &[&str] = &[
        "\n",
        "  - [ ] 1.1 Sub\n",
        "  - [ ]* 1.2 Property 3 test\n",
        "    - [ ] 1.2.1 Deep\n",
        "    - sub detail\n",
        "  - detail\n",
        "  - [?] odd\n",
        "  - **Property 4**\n",
        "  - _Requirements: 1.1–1.3_\n",
        "  - _需求: 无_\n",
        "  - _Depends: 1.1_\n",
        "  - _Boundary: api_\n",
        "      nested continuation\n",
        "  1. numbered detail\n",
        "\n  Paragraph in item\n",
        "\n  ```\n  - [ ] 9. in code\n  ```\n",
        "\n  | a | b |\n  |---|---|\n",
        "\n  > quoted - [ ] 6. item\n",
        "\n  <!-- comment -->\n",
    ];

    const BLOCKS: &[&str] = &[
        "## 1. Group\n",
        "#### 2.1 Small group\n",
        "## [x] 1. Checked group (P)\n",
        "### 1.1 Sub group\n",
        "_Boundary: core_\n_Requirements: 1.1_\n",
        "Prose line\nsecond line\n",
        "- plain item\n- [?] odd\n",
        "1. numbered\n2. list\n",
        "```\n- [ ] 5. in code\n```\n",
        "---\n",
        "> quote\n",
        "| a | b |\n|---|---|\n",
        "需求 中文 ✅\n",
    ];

    fn task_block() -> impl Strategy<Value = String> {
        (
            prop::sample::select(TASK_LINES),
            prop::collection::vec(prop::sample::select(CHILDREN), 0..8),
        )
            .prop_map(|(line, children)| {
                let children = children.concat();
                // Children of the one-space indented task sit one space deeper
                // (its content column); the two-space reading is checked by
                // `non_canonical_inputs_normalise`.
                if line.starts_with(' ') {
                    let shifted: Vec<String> = children
                        .split_inclusive('\n')
                        .map(|l| {
                            if l.trim().is_empty() {
                                l.to_owned()
                            } else {
                                format!(" {l}")
                            }
                        })
                        .collect();
                    format!("{line}{}", shifted.concat())
                } else {
                    format!("{line}{children}")
                }
            })
    }

    fn structured() -> impl Strategy<Value = String> {
        let block = prop_oneof![
            3 => task_block(),
            1 => prop::sample::select(BLOCKS).prop_map(str::to_owned),
        ];
        (
            any::<bool>(),
            prop::collection::vec(block, 0..10),
            any::<bool>(),
        )
            .prop_map(|(title, blocks, crlf)| {
                let mut doc = if title {
                    "# Plan\n\n".to_owned()
                } else {
                    String::new()
                };
                doc.push_str(&blocks.join("\n"));
                if crlf {
                    doc = doc.replace('\n', "\r\n");
                }
                doc
            })
    }

    fn free() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(TASK_LINES),
            prop::sample::select(CHILDREN),
            prop::sample::select(BLOCKS),
            prop::sample::select(
                &[
                    "\t- [ ] 8. tab\n",
                    "-\n",
                    "  ---\n",
                    "lazy\n",
                    "\r\n",
                    "  \n"
                ][..]
            ),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 1500,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn keeps_words(src: &str, out: &str) -> Result<(), TestCaseError> {
        let have = words(out);
        for (word, n) in words(src) {
            let m = have.get(&word).copied().unwrap_or(0);
            prop_assert!(m >= n, "word {:?} lost ({} -> {})", word, n, m);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn structured_documents_round_trip(src in structured()) {
            let parsed = parse_tasks(&src);
            let out = render_tasks(&parsed.value);
            let again = parse_tasks(&out);
            prop_assert_eq!(&again.value, &parsed.value, "model changed; rendered:\n{}", out);
            prop_assert_eq!(render_tasks(&again.value), out.clone());
            keeps_words(&src, &out)?;
        }

        #[test]
        fn free_documents_never_panic_nor_lose_words(src in free()) {
            let parsed = parse_tasks(&src);
            let out = render_tasks(&parsed.value);
            keeps_words(&src, &out)?;
            let _ = render_tasks(&parse_tasks(&out).value);
        }
    }
}
