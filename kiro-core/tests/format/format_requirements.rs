//! `requirements.md` parsing and rendering: canonical inputs render byte for
//! byte, other inputs normalise and then stay stable, every recognised
//! variation reads into the model, and every fixture folder round-trips
//! without losing a word.
//!
//! The fixture checks are skipped, with a message, when `../shared` is not
//! checked out beside the repo.

// Tests state their expectations with unwrap/expect/panic; a failure is the
// test failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;

use kiro_core::format::{parse_requirements, render_requirements, Locator, Position};
use kiro_core::spec::{Anchor, Ears, RequirementsDoc};
use proptest::prelude::*;

use crate::fixtures;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn parse(src: &str) -> RequirementsDoc {
    parse_requirements(src).value
}

/// Checks the round-trip contract on any input and returns the first render.
fn round_trip(src: &str) -> String {
    let first = parse(src);
    let rendered = render_requirements(&first);
    let again = parse(&rendered);
    assert_eq!(
        again, first,
        "render(parse(x)) must parse to the same model\n{rendered}"
    );
    assert_eq!(
        render_requirements(&again),
        rendered,
        "second render must be identical"
    );
    rendered
}

/// `src` renders as `expected` (itself canonical), and stays there.
fn check(src: &str, expected: &str) {
    let rendered = round_trip(src);
    assert_eq!(rendered, expected, "\n--- input ---\n{src}");
    assert_eq!(
        round_trip(expected),
        expected,
        "expected output is not canonical"
    );
}

/// `src` is canonical: it renders byte for byte.
fn check_canonical(src: &str) {
    check(src, src);
}

fn messages(src: &str) -> Vec<String> {
    parse_requirements(src)
        .diagnostics
        .into_iter()
        .map(|d| d.message)
        .collect()
}

const EN: &str = "# Requirements Document

## Introduction

Lets users sign in.

## Glossary

- **Auth_Service**: The service that checks credentials
- **Session**: A signed-in period

## Requirements

### Requirement 1: Login

**User Story:** As a user, I want to sign in, so that I see my data.

#### Acceptance Criteria

1. WHEN a user submits valid credentials, THE Auth_Service SHALL create a Session
2. IF the password is wrong, THEN THE Auth_Service SHALL reject the attempt

### Requirement 2: Logout

**User Story:** As a user, I want to sign out, so that nobody else uses my Session.

#### Acceptance Criteria

1. WHEN a user signs out, THE Auth_Service SHALL end the Session
";

// ---------------------------------------------------------------------------
// Canonical inputs render byte for byte
// ---------------------------------------------------------------------------

#[test]
fn canonical_english() {
    check_canonical(EN);
}

#[test]
fn canonical_localised() {
    // Chinese: localised headings, full-width colons in headings, story and glossary.
    check_canonical("# 需求文档\n\n## 简介\n\n登录功能。\n\n## 术语表\n\n- **Auth_Service**：认证服务\n\n## 需求\n\n### 需求 1：登录\n\n**用户故事：** 作为用户，我想登录，以便查看数据。\n\n#### 验收标准\n\n1. WHEN 用户提交凭据时，THE Auth_Service SHALL 创建会话\n");
    // Chinese with ASCII colons and unnumbered titles.
    check_canonical("# 需求文档\n\n## 需求\n\n### 需求 1\n\n**用户故事:** 作为用户，我希望登录\n\n#### 验收标准\n\n1. THE 系统 SHALL 登录\n");
    // Japanese (cc-sdd).
    check_canonical("# Requirements Document\n\n## 導入\n\nこの機能は検索です。\n\n## 要件\n\n### 要件1: 検索\n\n**ユーザーストーリー:** ユーザーとして検索したい。\n\n#### 受け入れ基準\n\n1. WHEN ユーザーが送信したTHEN システムは検索しなければならない\n");
    // Spanish.
    check_canonical("# Documento de Requisitos\n\n## Introducción\n\nPágina de inicio.\n\n## Requisitos\n\n### Requisito 1\n\n**Historia de Usuario:** Como usuario, quiero ver la página.\n\n#### Criterios de Aceptación\n\n1. CUANDO el usuario entre ENTONCES el sistema DEBERÁ mostrar la página\n");
    // Portuguese.
    check_canonical("# Documento de Requisitos\n\n## Introdução\n\nConsultas.\n\n## Requisitos\n\n### Requisito 1\n\n**História do Usuário:** Como paciente, eu quero agendar.\n\n#### Critérios de Aceitação\n\n1. QUANDO o usuário agenda ENTÃO o sistema DEVE confirmar\n");
    // cc-sdd English: `**Objective:**`.
    check_canonical("# Requirements Document\n\n## Requirements\n\n### Requirement 1: Albums\n\n**Objective:** As a user, I want albums, so that I can organise photos\n\n#### Acceptance Criteria\n\n1. WHEN a user creates an album THEN the App SHALL save it\n");
}

#[test]
fn canonical_shapes() {
    let cases = [
        // Old format, no glossary, numbered requirement without title.
        "# Requirements Document\n\n## Introduction\n\nAdmin tools.\n\n## Requirements\n\n### Requirement 1\n\n**User Story:** As an admin, I want a dashboard, so that I see sales\n\n#### Acceptance Criteria\n\n1. WHEN an admin logs in THEN the system SHALL show the dashboard\n",
        // Hard-wrapped criteria and glossary definitions keep their line breaks.
        "# Requirements Document\n\n## Glossary\n\n- **Hook**: A script run by git\n  before each commit.\n\n## Requirements\n\n### Requirement 1\n\n**User Story:** As a developer, I want a hook\nthat formats code, so that style stays consistent.\n\n#### Acceptance Criteria\n\n1. WHEN a commit is made, THE Hook SHALL check\n   the staged files only.\n10. THE Hook SHALL print\n    the offending paths.\n",
        // Unknown sections before and after every known part.
        "# Requirements Document\n\n## Project Description (Input)\n\nBuild a chat API.\n\n## Introduction\n\nChat.\n\n## Roles\n\n- admins\n\n## Glossary\n\n- **API**: The service\n\n## Permissions\n\nAll users.\n\n## Requirements\n\n### Requirement 1: Chat\n\n#### Acceptance Criteria\n\n1. THE API SHALL answer\n\n## Appendix\n\n### Notes\n\nMore.\n",
        // Thematic breaks after the glossary and after a requirement.
        "# Requirements Document\n\n## Glossary\n\n- **A**: a\n\n---\n\n## Requirements\n\n### Requirement 1: One\n\n#### Acceptance Criteria\n\n1. THE A SHALL work\n\n---\n\n### Requirement 2: Two\n\n#### Acceptance Criteria\n\n1. THE A SHALL rest\n",
        // Sub-headings and prose between criteria stay in place, as does
        // context prose between the story and the criteria.
        "# Requirements Document\n\n## Requirements\n\n### Requirement 16: Tests\n\n**User Story:** As a developer, I need tests, so that bugs are caught.\n\nEvery test MUST report its cost.\n\n#### Acceptance Criteria\n\n##### Unit tests\n\n1. A unit test SHALL check the config.\n\n##### Integration tests\n\nThese rules apply:\n\n2. Each fixture SHALL use a UUID.\n3. Each fixture SHALL clean up.\n",
        // A loose list (a criterion holding a table) keeps blank lines.
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Config\n\n#### Acceptance Criteria\n\n1. A struct SHALL be defined with:\n\n   | Field | Type |\n   |---|---|\n   | `region` | `String` |\n\n2. The struct SHALL be an aggregate.\n",
        // A requirement without criteria keeps its prose.
        "# Requirements Document\n\n## Requirements\n\n### Requirement 12: Certificates — DESCOPED\n\n**Descoped by decision.** Nothing to build.\n\nThe number is kept.\n",
        // Each glossary entry keeps its separator.
        "# Requirements Document\n\n## Glossary\n\n- **A**：甲\n- **B**: b\n- **C**:c\n- **D**：\n- **E**:\n\n## Requirements\n",
        // Empty glossary and empty criteria headings are kept.
        "# Requirements Document\n\n## Glossary\n\n## Requirements\n\n### Requirement 1: Later\n\n#### Acceptance Criteria\n",
        // Preamble between the title and the first section, preface in the container.
        "# Requirements Document\n\n**specVersion**: 2025-08-15\n\n## Requirements\n\nAll requirements are in scope.\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE App SHALL start\n",
        // CRLF line endings are kept.
        "# Requirements Document\r\n\r\n## Requirements\r\n\r\n### Requirement 1: Login\r\n\r\n#### Acceptance Criteria\r\n\r\n1. THE App SHALL log in\r\n2. THE App SHALL log out\r\n",
        // Repeated numbers are kept as written.
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Numbers\n\n#### Acceptance Criteria\n\n1. THE App SHALL one\n2. THE App SHALL two\n2. THE App SHALL two again\n",
        // An empty file stays empty.
        "",
    ];
    for src in cases {
        check_canonical(src);
    }
}

// ---------------------------------------------------------------------------
// Non-canonical inputs normalise, then stay stable
// ---------------------------------------------------------------------------

#[test]
fn normalisation() {
    let cases: &[(&str, &str)] = &[
        // Extra blank lines between blocks.
        (
            "# T\n\n\n\n## Requirements\n\n\n### Requirement 1: A\n\n\n\n#### Acceptance Criteria\n\n\n1. THE A SHALL b\n\n\n",
            "# T\n\n## Requirements\n\n### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n",
        ),
        // No final newline.
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b",
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n",
        ),
        // CRLF without a final newline.
        (
            "# T\r\n\r\n## Requirements\r\n\r\n### Requirement 1\r\n\r\n#### Acceptance Criteria\r\n\r\n1. THE A SHALL b",
            "# T\r\n\r\n## Requirements\r\n\r\n### Requirement 1\r\n\r\n#### Acceptance Criteria\r\n\r\n1. THE A SHALL b\r\n",
        ),
        // No blank line after headings (cc-sdd).
        (
            "# T\n\n## Introduction\nIntro.\n\n## Requirements\n\n### Requirement 1: A\n**Objective:** As a user, I want a, so that b\n\n#### Acceptance Criteria\n1. THE A SHALL b\n",
            "# T\n\n## Introduction\n\nIntro.\n\n## Requirements\n\n### Requirement 1: A\n\n**Objective:** As a user, I want a, so that b\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n",
        ),
        // `*` bullets, `1)` markers, lazy continuation lines, setext title.
        (
            "T\n=\n\n## Glossary\n\n* **A**: a\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1) THE A SHALL b\nand c\n",
            "# T\n\n## Glossary\n\n- **A**: a\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n   and c\n",
        ),
        // Colon outside the story label; colon inside the glossary term.
        (
            "# T\n\n## Glossary\n\n- **A:** a\n\n## Requirements\n\n### Requirement 1\n\n**User Story**: As a user, I want a, so that b\n",
            "# T\n\n## Glossary\n\n- **A**: a\n\n## Requirements\n\n### Requirement 1\n\n**User Story:** As a user, I want a, so that b\n",
        ),
        // Criteria without their heading get one; a story after prose moves up.
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\nContext first.\n\n**User Story:** As a user, I want a, so that b\n\n1. THE A SHALL b\n",
            "# T\n\n## Requirements\n\n### Requirement 1\n\n**User Story:** As a user, I want a, so that b\n\nContext first.\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n",
        ),
        // Loose criteria without inner blank lines become tight.
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n\n2. THE A SHALL c\n",
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n2. THE A SHALL c\n",
        ),
        // Trailing spaces after the last line of a section body.
        (
            "# T  \n\n## Introduction\n\nText.   \n\n## Requirements\n",
            "# T\n\n## Introduction\n\nText.\n\n## Requirements\n",
        ),
    ];
    for (src, expected) in cases {
        check(src, expected);
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[test]
fn reads_the_english_model() {
    let doc = parse(EN);
    assert_eq!(doc.title, "Requirements Document");
    assert_eq!(doc.introduction.as_deref(), Some("Lets users sign in."));
    assert_eq!(doc.glossary.len(), 2);
    assert_eq!(doc.glossary[0].term, "Auth_Service");
    assert_eq!(
        doc.glossary[0].definition,
        "The service that checks credentials"
    );
    assert!(doc.headings.is_default());
    let ids: Vec<&str> = doc.criteria().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["1.1", "1.2", "2.1"]);
    let r = &doc.requirements[0];
    assert_eq!((r.id.as_str(), r.title.as_str()), ("1", "Login"));
    assert_eq!(r.heading_source, None);
    assert_eq!(r.criteria_heading, None);
    let story = r.user_story.as_ref().unwrap();
    assert_eq!(story.label, None);
    assert_eq!(story.role.as_deref(), Some("user"));
    assert_eq!(story.capability.as_deref(), Some("to sign in"));
    assert_eq!(story.benefit.as_deref(), Some("I see my data"));
    for c in doc.criteria() {
        assert_eq!(c.ears, Ears::parse(&c.text), "{}", c.id);
    }
    assert!(parse_requirements(EN).diagnostics.is_empty());
}

#[test]
fn keeps_localised_spellings() {
    let doc = parse("# 需求文档\n\n## 简介\n\n文字\n\n## 术语表\n\n- **A**：甲\n\n## 需求\n\n### 需求 1：登录\n\n**用户故事：** 作为用户，我想登录\n\n#### 验收标准\n\n1. THE A SHALL 登录\n");
    assert_eq!(doc.headings.introduction.as_deref(), Some("简介"));
    assert_eq!(doc.headings.glossary.as_deref(), Some("术语表"));
    assert_eq!(doc.headings.requirements.as_deref(), Some("需求"));
    assert_eq!(doc.glossary[0].separator.as_deref(), Some("："));
    let r = &doc.requirements[0];
    assert_eq!((r.id.as_str(), r.title.as_str()), ("1", "登录"));
    assert_eq!(r.heading_source.as_deref(), Some("### 需求 1：登录"));
    assert_eq!(r.criteria_heading.as_deref(), Some("验收标准"));
    let story = r.user_story.as_ref().unwrap();
    assert_eq!(story.label.as_deref(), Some("用户故事："));
    assert_eq!(story.text, "作为用户，我想登录");
    assert_eq!(story.role, None, "only the English story shape is split");
    assert_eq!(r.criteria[0].id.as_str(), "1.1");
}

#[test]
fn requirement_heading_variants() {
    let cases: &[(&str, &str, &str)] = &[
        ("### Requirement 1: Edit", "1", "Edit"),
        ("### Requirement 12", "12", ""),
        ("### 需求 3：快速创建", "3", "快速创建"),
        ("### 需求 4: 代码修改", "4", "代码修改"),
        ("### 要件2: Research Agent機能", "2", "Research Agent機能"),
        ("### Requisito 10", "10", ""),
        ("### 1. 缺失行测试补全", "1", "缺失行测试补全"),
        (
            "### Requirement 3: `aws_ec2` Config",
            "3",
            "`aws_ec2` Config",
        ),
        ("### Requirement 7 — Descoped", "7", "Descoped"),
    ];
    for (line, id, title) in cases {
        let src = format!("# T\n\n## Requirements\n\n{line}\n");
        let doc = parse(&src);
        let r = &doc.requirements[0];
        assert_eq!((r.id.as_str(), r.title.as_str()), (*id, *title), "{line}");
        round_trip(&src);
    }
}

#[test]
fn story_label_variants() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        (
            "**User Story:** As a user, I want x, so that y",
            None,
            Some("user"),
        ),
        (
            "**Objective:** As an operator, I want x, so that y",
            Some("Objective:"),
            Some("operator"),
        ),
        ("**用户故事：** 作为用户", Some("用户故事："), None),
        ("**用户故事:** 作为用户", Some("用户故事:"), None),
        (
            "**ユーザーストーリー:** ユーザーとして",
            Some("ユーザーストーリー:"),
            None,
        ),
        (
            "**Historia de Usuario:** Como usuario",
            Some("Historia de Usuario:"),
            None,
        ),
        (
            "**História do Usuário:** Como paciente",
            Some("História do Usuário:"),
            None,
        ),
        ("**User Story:** As a user, I want x", None, None),
    ];
    for (line, label, role) in cases {
        let src = format!("# T\n\n## Requirements\n\n### Requirement 1\n\n{line}\n");
        let doc = parse(&src);
        let story = doc.requirements[0]
            .user_story
            .as_ref()
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(story.label.as_deref(), *label, "{line}");
        assert_eq!(story.role.as_deref(), *role, "{line}");
        check_canonical(&src);
    }
    // A bold paragraph with another label is not a story.
    let doc = parse("# T\n\n## Requirements\n\n### Requirement 1\n\n**Note:** later\n");
    assert_eq!(doc.requirements[0].user_story, None);
    assert_eq!(doc.requirements[0].preface, "**Note:** later");
}

#[test]
fn criteria_ids_are_the_written_numbers() {
    let doc = parse("# T\n\n## Requirements\n\n### Requirement 4\n\n#### Acceptance Criteria\n\n1. THE A SHALL a\n2. THE A SHALL b\n\nMore rules:\n\n8. THE A SHALL c\n");
    let ids: Vec<&str> = doc.criteria().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["4.1", "4.2", "4.8"]);
    let r = &doc.requirements[0];
    assert_eq!(r.interludes.len(), 1);
    assert_eq!(r.interludes[0].before, 2);
    assert_eq!(r.interludes[0].markdown, "More rules:");
    assert!(r.notes.is_empty());
}

#[test]
fn sections_are_placed_after_the_part_they_followed() {
    let src = "# T\n\nPre.\n\n## A\n\na\n\n## Introduction\n\ni\n\n## B\n\nb\n\n## Requirements\n\n## C\n\nc\n\n# D\n\nd\n";
    let doc = parse(src);
    assert_eq!(doc.preamble, "Pre.");
    let placed: Vec<(&str, u8, Anchor)> = doc
        .sections
        .iter()
        .map(|s| (s.section.title.as_str(), s.section.level, s.after))
        .collect();
    assert_eq!(
        placed,
        [
            ("A", 2, Anchor::Start),
            ("B", 2, Anchor::Introduction),
            ("C", 2, Anchor::Requirements),
            ("D", 1, Anchor::Requirements),
        ]
    );
    check_canonical(src);
}

#[test]
fn structure_recognises_unknown_titles() {
    // A container whose `###` headings carry numbers, and a glossary made of
    // term bullets, under titles kiro does not know.
    let src = "# T\n\n## Vocabulary\n\n- **A**: a\n- **B**: b\n\n## What we build\n\n### Story 1: One\n\n#### Acceptance Criteria\n\n1. THE A SHALL x\n\n### Story 2: Two\n";
    let doc = parse(src);
    assert_eq!(doc.glossary.len(), 2);
    assert_eq!(doc.headings.glossary.as_deref(), Some("Vocabulary"));
    assert_eq!(doc.headings.requirements.as_deref(), Some("What we build"));
    assert_eq!(doc.requirements.len(), 2);
    assert_eq!(
        doc.requirements[1].heading_source.as_deref(),
        Some("### Story 2: Two")
    );
    check_canonical(src);
    // Unnumbered `###` headings do not make a container.
    let doc = parse("# T\n\n## Plan\n\n### Goals\n\nx\n");
    assert!(doc.requirements.is_empty());
    assert_eq!(doc.sections.len(), 1);
}

#[test]
fn edits_win_over_verbatim_spellings() {
    let mut doc = parse(
        "# 需求文档\n\n## 需求\n\n### 需求 1：登录\n\n#### 验收标准\n\n1. THE A SHALL 登录\n",
    );
    doc.requirements[0].title = "注册".into();
    doc.requirements[0].criteria[0].text = "THE A SHALL 注册".into();
    let out = render_requirements(&doc);
    assert_eq!(
        out,
        "# 需求文档\n\n## 需求\n\n### 需求 1：注册\n\n#### 验收标准\n\n1. THE A SHALL 注册\n"
    );
    let mut doc = parse(EN);
    doc.requirements[1].id = "5".into();
    assert!(render_requirements(&doc).contains("\n### Requirement 5: Logout\n"));
}

#[test]
fn source_map_positions() {
    let parsed = parse_requirements(EN);
    let at = |l: Locator| parsed.source_map.get(&l).map(|p| (p.line, p.column));
    assert_eq!(at(Locator::Title), Some((1, 1)));
    assert_eq!(at(Locator::GlossaryEntry { index: 1 }), Some((10, 1)));
    assert_eq!(at(Locator::Requirement { index: 0 }), Some((14, 1)));
    assert_eq!(
        at(Locator::Criterion {
            requirement: 0,
            index: 1
        }),
        Some((21, 1))
    );
    assert_eq!(at(Locator::Requirement { index: 1 }), Some((23, 1)));
    // Columns count characters, not bytes.
    let parsed = parse_requirements(
        "# 需求\n\n## 需求\n\n### 需求 1\n\n#### 验收标准\n\n   1. THE A SHALL b\n",
    );
    assert_eq!(
        parsed.source_map.get(&Locator::Criterion {
            requirement: 0,
            index: 0
        }),
        Some(Position { line: 9, column: 4 })
    );
}

#[test]
fn diagnostics() {
    let cases: &[(&str, &[&str])] = &[
        (EN, &[]),
        ("", &[]),
        (
            "# T\n\n## Requirements\n\n### Notes\n\nText.\n",
            &["requirement heading has no number"],
        ),
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n2.\n",
            &["acceptance criterion is empty"],
        ),
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. a\n3. b\n",
            &["criterion number 3 does not follow 1"],
        ),
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n2. a\n",
            &["criteria start at 2, not 1"],
        ),
        (
            "# T\n\n## Glossary\n\n- **A**: a\n- plain\n\n## Requirements\n",
            &["glossary item is not a term entry"],
        ),
        ("# T\n\n## Introduction\n\nx\n", &["no requirements section"]),
        ("Text.\n\n## Requirements\n", &["document has no `#` title"]),
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n1. a\n",
            &["numbered list before the acceptance criteria heading is read as criteria"],
        ),
        (
            "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n- a\n",
            &["bullet list in acceptance criteria is kept as notes"],
        ),
        // Duplicate glossary terms are lint's business, not the parser's.
        ("# T\n\n## Glossary\n\n- **A**: a\n- **A**: b\n\n## Requirements\n", &[]),
    ];
    for (src, expected) in cases {
        assert_eq!(messages(src), *expected, "{src}");
        round_trip(src);
    }
    let d = &parse_requirements("# T\n\n## Requirements\n\n### Notes\n").diagnostics[0];
    assert_eq!((d.position.line, d.position.column), (5, 1));
    assert_eq!(d.expected, "`### Requirement <N>: <title>`");
}

#[test]
fn nothing_is_dropped_from_odd_inputs() {
    let cases = [
        "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Notes\n\n1. not a criterion\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n\n#### Acceptance Criteria\n\n1. again\n",
        "# T\n\n## Glossary\n\nIntro prose.\n\n- **A**: a\n- plain item\n- **B**: b\n\n1. numbered\n\n## Requirements\n",
        "# T\n\n## Requirements\n\n### Requirement 1\n\n```\n### not a heading\n1. not a criterion\n```\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n",
        "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n1. THE A SHALL b\n\n   - nested detail\n\n       indented code\n",
        "## Requirements\n\n### Requirement 1\n\n> quoted\n\n<!-- comment -->\n\n[ref]: http://example.com\n",
        "# T\n\n## Requirements\n\n### Requirement 1\n\n#### Acceptance Criteria\n\n  - indented bullet\n  - second\n\n1. THE A SHALL b\n",
        "\n\n   \n",
        "# \n\n## \n\n### \n\n#### \n",
    ];
    for src in cases {
        let out = round_trip(src);
        assert_words_kept(src, &out);
    }
}

/// Lines and fragments that exercise every branch of the reader, in any order.
fn fragment() -> impl Strategy<Value = String> {
    let lines: &[&str] = &[
        "\n",
        "\n\n",
        "\r\n",
        "\r",
        "# T\n",
        "## Requirements\n",
        "## Glossary\n",
        "## Introduction\n",
        "## 需求\n",
        "## 术语表\n",
        "## Other\n",
        "### Requirement 1: A\n",
        "### 需求 2：乙\n",
        "### 1. A\n",
        "### Notes\n",
        "#### Acceptance Criteria\n",
        "#### 验收标准\n",
        "#### Other\n",
        "##### Sub\n",
        "**User Story:** As a u, I want w, so that b\n",
        "**用户故事：** 作为\n",
        "**Objective:** x\n",
        "1. THE A SHALL b\n",
        "2. x\n",
        "10. y\n   cont\n",
        "1.\n",
        "1) z\n",
        "- **T**: d\n",
        "- **T**：d\n",
        "- **A:** b\n",
        "- plain\n",
        "* b\n",
        "  - nested\n",
        "---\n",
        "```\n",
        "~~~\n",
        "    code\n",
        "\tTabbed\n",
        "   ",
        "Para text\n",
        "| a | b |\n|---|---|\n",
        "> q\n",
        "<!-- open\n",
        "<pre>\n",
        "[r]: http://x\n",
        "T\n===\n",
        "====\n",
        "# Title #\n",
    ];
    prop_oneof![
        proptest::sample::select(lines).prop_map(str::to_owned),
        "[#*_`\\[\\]x0-9. \n:|>\t-]{1,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The round-trip contract holds for any arrangement of Kiro-ish lines,
    /// and no word is lost.
    #[test]
    fn contract_holds_for_generated_documents(parts in proptest::collection::vec(fragment(), 0..24)) {
        let src = parts.concat();
        let out = round_trip(&src);
        assert_words_kept(&src, &out);
    }
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn fixtures_root() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ))
}

fn fixture_files(name: &str) -> Vec<(String, String)> {
    let root = fixtures_root();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(name).is_file())
        .map(|p| {
            let folder = p.file_name().unwrap().to_string_lossy().into_owned();
            (folder, std::fs::read_to_string(p.join(name)).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Words of a markdown text, without emphasis marks and pure markers.
fn words(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for token in text.split_whitespace() {
        let t: String = token.chars().filter(|c| *c != '*').collect();
        let marker = t.chars().all(|c| "-+#>|:=_".contains(c))
            || (t.ends_with(['.', ')']) && t[..t.len() - 1].chars().all(|c| c.is_ascii_digit()));
        if !t.is_empty() && !marker {
            *out.entry(t).or_insert(0) += 1;
        }
    }
    out
}

fn assert_words_kept(input: &str, output: &str) {
    let have = words(output);
    for (word, n) in words(input) {
        let m = have.get(&word).copied().unwrap_or(0);
        assert!(
            m >= n,
            "word {word:?} appears {n} times in the input, {m} in the output"
        );
    }
}

/// Lines outside fenced code, CRLF removed.
fn lines(src: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in src.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push(String::new());
            continue;
        }
        out.push(if fenced {
            String::new()
        } else {
            line.to_owned()
        });
    }
    out
}

fn heading(line: &str, level: usize) -> Option<&str> {
    let hashes = "#".repeat(level);
    line.strip_prefix(&hashes)?.strip_prefix(' ')
}

fn has_number(title: &str) -> bool {
    title.chars().any(|c| c.is_ascii_digit())
}

/// Independent count, by line scanning: criteria per requirement heading
/// with a number, in the requirements container.
fn count_by_lines(src: &str) -> Vec<usize> {
    const CONTAINER: &[&str] = &["requirements", "需求", "要件", "requisitos"];
    const ACCEPTANCE: &[&str] = &[
        "acceptance criteria",
        "验收标准",
        "受け入れ基準",
        "criterios de aceptación",
        "critérios de aceitação",
    ];
    let lines = lines(src);
    let h2: Vec<usize> = (0..lines.len())
        .filter(|&i| heading(&lines[i], 2).is_some() || heading(&lines[i], 1).is_some())
        .collect();
    let section = |k: usize| {
        let start = h2[k];
        let end = h2.get(k + 1).copied().unwrap_or(lines.len());
        start..end
    };
    let h3_in = |r: std::ops::Range<usize>| -> Vec<usize> {
        r.filter(|&i| heading(&lines[i], 3).is_some()).collect()
    };
    let by_keyword = (0..h2.len()).find(|&k| {
        heading(&lines[h2[k]], 2)
            .is_some_and(|t| CONTAINER.contains(&t.trim().to_lowercase().as_str()))
    });
    let by_structure = || {
        (0..h2.len()).find(|&k| {
            let h3 = h3_in(section(k));
            heading(&lines[h2[k]], 2).is_some()
                && !h3.is_empty()
                && h3
                    .iter()
                    .all(|&i| has_number(heading(&lines[i], 3).unwrap_or("")))
        })
    };
    let Some(k) = by_keyword.or_else(by_structure) else {
        return Vec::new();
    };
    let range = section(k);
    let h3 = h3_in(range.clone());
    let mut out = Vec::new();
    for (j, &start) in h3.iter().enumerate() {
        if !has_number(heading(&lines[start], 3).unwrap_or("")) {
            continue;
        }
        let end = h3.get(j + 1).copied().unwrap_or(range.end);
        let mut in_criteria = false;
        let mut n = 0;
        for line in &lines[start + 1..end] {
            if let Some(t) = heading(line, 4) {
                in_criteria = ACCEPTANCE.contains(&t.trim().to_lowercase().as_str());
                continue;
            }
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            if in_criteria
                && digits > 0
                && (line[digits..].starts_with(". ") || line[digits..].starts_with(") "))
            {
                n += 1;
            }
        }
        out.push(n);
    }
    out
}

/// Fixtures Kiro wrote in canonical form: they render byte for byte.
const BYTE_IDENTICAL: &[&str] = &[
    "01-", "03-", "04-", "05-", "06-", "07-", "10-", "12-", "18-", "19-", "21-", "22-", "24-",
    "26-",
];

#[test]
fn fixtures_round_trip() {
    let files = fixture_files("requirements.md");
    if files.is_empty() {
        fixtures::missing(&fixtures_root());
        eprintln!("skipped: no fixtures at {}", fixtures_root().display());
        return;
    }
    let mut report = Vec::new();
    for (folder, src) in &files {
        let parsed = parse_requirements(src);
        let doc = &parsed.value;

        // Counts, against independent line scanning.
        let expected = count_by_lines(src);
        let numbered: Vec<usize> = doc
            .requirements
            .iter()
            .filter(|r| !r.id.as_str().is_empty())
            .map(|r| r.criteria.len())
            .collect();
        assert_eq!(numbered, expected, "{folder}: criteria per requirement");

        // Every element is located, at a line that shows it.
        let src_lines = lines(src);
        for (index, r) in doc.requirements.iter().enumerate() {
            let p = parsed
                .source_map
                .get(&Locator::Requirement { index })
                .unwrap();
            assert!(
                src_lines[p.line as usize - 1].starts_with("### "),
                "{folder}: requirement {index}"
            );
            for (ci, c) in r.criteria.iter().enumerate() {
                let p = parsed
                    .source_map
                    .get(&Locator::Criterion {
                        requirement: index,
                        index: ci,
                    })
                    .unwrap();
                let line = src_lines[p.line as usize - 1].trim_start();
                let n = c.id.as_str().rsplit('.').next().unwrap();
                assert!(
                    line.starts_with(&format!("{n}.")),
                    "{folder}: criterion {} at {line:?}",
                    c.id
                );
                assert_eq!(c.ears, Ears::parse(&c.text), "{folder}: {}", c.id);
            }
        }
        for index in 0..doc.glossary.len() {
            let p = parsed
                .source_map
                .get(&Locator::GlossaryEntry { index })
                .unwrap();
            assert!(
                src_lines[p.line as usize - 1]
                    .trim_start()
                    .starts_with("- **"),
                "{folder}: glossary {index}"
            );
        }

        // The round-trip contract, and no word lost.
        let rendered = round_trip(src);
        assert_words_kept(src, &rendered);
        assert_eq!(
            rendered.contains("\r\n"),
            src.contains("\r\n"),
            "{folder}: line endings"
        );
        if BYTE_IDENTICAL.iter().any(|p| folder.starts_with(p)) {
            assert_eq!(
                &rendered, src,
                "{folder}: canonical fixture must render byte for byte"
            );
        }
        report.push(format!(
            "{folder}: {} requirements, {} criteria, {} glossary terms, {} other sections, {} diagnostics",
            doc.requirements.len(),
            doc.criteria().count(),
            doc.glossary.len(),
            doc.sections.len(),
            parsed.diagnostics.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        files.len() >= 29,
        "expected the fixture corpus, found {} files",
        files.len()
    );
}

#[test]
fn fixture_details() {
    let files = fixture_files("requirements.md");
    if files.is_empty() {
        fixtures::missing(&fixtures_root());
        eprintln!("skipped: no fixtures at {}", fixtures_root().display());
        return;
    }
    let get = |prefix: &str| {
        let (_, src) = files.iter().find(|(f, _)| f.starts_with(prefix)).unwrap();
        parse_requirements(src)
    };
    // The empty file of folder 26.
    let empty = get("26-");
    assert_eq!(empty.value, RequirementsDoc::default());
    assert!(empty.diagnostics.is_empty());
    assert_eq!(render_requirements(&empty.value), "");
    // Hard-wrapped criteria keep their line breaks (folder 10).
    let wrapped = get("10-").value;
    assert!(wrapped.requirements[0].criteria[0].text.contains('\n'));
    assert!(wrapped
        .requirements
        .iter()
        .all(|r| r.title.is_empty() && r.heading_source.is_none()));
    // CRLF files remember it (13, 21, 22).
    for p in ["13-", "21-", "22-"] {
        assert!(get(p).value.style.crlf, "{p}");
    }
    // Localised headings (18: Chinese, 28: Portuguese, 29: Spanish, 34: Japanese).
    assert_eq!(
        get("18-").value.headings.glossary.as_deref(),
        Some("术语表")
    );
    let zh = get("19-").value;
    assert!(zh
        .glossary
        .iter()
        .all(|e| e.separator.as_deref() == Some("：")));
    assert_eq!(
        get("28-").value.requirements[0].criteria_heading.as_deref(),
        Some("Critérios de Aceitação")
    );
    assert_eq!(
        get("29-").value.headings.requirements.as_deref(),
        Some("Requisitos")
    );
    assert_eq!(
        get("34-").value.requirements[0].heading_source.as_deref(),
        Some("### 要件1: ChatUIインターフェース")
    );
    // cc-sdd: `## Project Description (Input)` before the introduction.
    let cc = get("31-").value;
    assert_eq!(cc.sections[0].section.title, "Project Description (Input)");
    assert_eq!(cc.sections[0].after, Anchor::Start);
    assert_eq!(
        cc.requirements[0]
            .user_story
            .as_ref()
            .unwrap()
            .label
            .as_deref(),
        Some("Objective:")
    );
    // Sub-headings between criteria stay in place (08, 09: Requirement 16).
    let big = get("08-").value;
    let r16 = big
        .requirements
        .iter()
        .find(|r| r.id.as_str() == "16")
        .unwrap();
    assert!(r16
        .interludes
        .iter()
        .any(|i| i.before == 0 && i.markdown.starts_with("##### Concept satisfaction")));
    // Unknown sections after the requirements (24) and between glossary and requirements (20).
    assert!(get("24-")
        .value
        .sections
        .iter()
        .all(|s| s.after == Anchor::Requirements || s.after == Anchor::Introduction));
    assert_eq!(get("20-").value.sections[0].after, Anchor::Glossary);
}

// ---------------------------------------------------------------------------
// Structure over words: specs in many languages (own fixtures under
// tests/data/requirements/)
// ---------------------------------------------------------------------------

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/requirements")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every language fixture reads with the exact requirement ids and
/// criteria counts, whatever its criteria heading says (known words,
/// `Acceptatiecriteria`, `Kabul Kriterleri`, `Checks`, none at all), and
/// renders back byte for byte.
#[test]
fn specs_in_many_languages_read_by_structure() {
    let cases: &[(&str, &[(&str, usize)])] = &[
        ("en.md", &[("1", 3), ("2", 2), ("3", 2)]),
        ("fr.md", &[("1", 3), ("2", 2)]),
        ("de.md", &[("1", 3), ("2", 4)]),
        ("ko.md", &[("1", 2), ("2", 3)]),
        ("ru.md", &[("1", 2), ("2", 3)]),
        ("it.md", &[("1", 2), ("2", 2)]),
        ("nl.md", &[("1", 3), ("2", 1)]),
        ("pl.md", &[("1", 3), ("2", 2)]),
        ("tr.md", &[("1", 2), ("2", 3)]),
        ("es.md", &[("1", 2), ("2", 2)]),
        ("pt.md", &[("1", 3), ("2", 1)]),
        ("zh.md", &[("1", 3), ("2", 2)]),
        ("top-level.md", &[("1", 2), ("2", 1)]),
        (
            "ja.md",
            &[("1", 2), ("2", 2), ("3", 2), ("3A", 1), ("4", 2)],
        ),
    ];
    for (file, expected) in cases {
        let src = data(file);
        let doc = parse(&src);
        let got: Vec<(&str, usize)> = doc
            .requirements
            .iter()
            .map(|r| (r.id.as_str(), r.criteria.len()))
            .collect();
        assert_eq!(&got, expected, "{file}");
        for r in &doc.requirements {
            for (k, c) in r.criteria.iter().enumerate() {
                assert_eq!(c.id.as_str(), format!("{}.{}", r.id, k + 1), "{file}");
                assert!(!c.text.is_empty(), "{file}: {}", c.id);
            }
        }
        assert_eq!(render_requirements(&doc), src, "{file}: not byte-stable");
        round_trip(&src);
    }
}

/// Requirements grouped under several `##` sections all belong to the
/// model, in order; the groups keep their place; a later `##` section whose
/// numbers restart is another list, kept verbatim.
#[test]
fn requirements_under_several_groups_are_all_read() {
    let doc = parse(&data("ja.md"));
    let titles: Vec<(&str, usize, bool)> = doc
        .groups
        .iter()
        .map(|g| (g.title.as_str(), g.before, g.preface.is_empty()))
        .collect();
    assert_eq!(
        titles,
        [
            ("補足", 2, false),
            ("UI/UX要件", 2, true),
            ("非機能要件", 4, true)
        ]
    );
    assert_eq!(doc.headings.requirements.as_deref(), Some("機能要件"));
    let kept: Vec<&str> = doc
        .sections
        .iter()
        .map(|s| s.section.title.as_str())
        .collect();
    assert_eq!(kept, ["実装順の提案"]);
    assert_eq!(doc.sections[0].after, Anchor::Requirements);
    // A later section with fresh numbers but headings of another shape is
    // not a group.
    let roadmap = "# R\n\n## Requirements\n\n### Requirement 1: A\n\n#### Acceptance Criteria\n\n1. THE X SHALL y\n\n## Roadmap\n\n### Phase 5: Later\n\nText.\n";
    let other = parse(roadmap);
    assert_eq!(other.requirements.len(), 1);
    assert!(other.groups.is_empty());
    assert_eq!(render_requirements(&other), roadmap);
    // The lettered requirement and its criterion are addressable.
    let req = doc
        .requirements
        .iter()
        .find(|r| r.id.as_str() == "3A")
        .unwrap();
    assert_eq!(req.title, "履歴表示");
    assert_eq!(req.criteria[0].id.as_str(), "3A.1");
}

/// `## Requirement N` documents (no container) are read at that level;
/// numbered `##` chapters without a story or criteria are not requirements.
#[test]
fn requirements_at_the_second_level() {
    let doc = parse(&data("top-level.md"));
    assert_eq!(doc.requirement_level, Some(2));
    assert!(doc.headings.requirements.is_none());
    let chapters = "# Plan\n\n## 1. Overview\n\nText.\n\n## 2. Steps\n\n1. one\n2. two\n";
    let doc = parse(chapters);
    assert!(doc.requirements.is_empty());
    assert_eq!(doc.sections.len(), 2);
    assert_eq!(render_requirements(&doc), chapters);
}

#[test]
fn lettered_requirement_ids() {
    let cases: &[(&str, Option<&str>)] = &[
        ("### Requirement 16A: Late addition", Some("16A")),
        ("### 要件27B：追加", Some("27B")),
        ("### Requirement 3D Graphics", None),
        ("### 2D rendering", None),
    ];
    for (heading, expected) in cases {
        let src = format!(
            "# R\n\n## Requirements\n\n{heading}\n\n#### Acceptance Criteria\n\n1. THE X SHALL y\n"
        );
        let doc = parse(&src);
        let id = doc.requirements.first().map(|r| r.id.as_str().to_owned());
        let id = id.filter(|i| !i.is_empty());
        assert_eq!(id.as_deref(), *expected, "{heading}");
    }
}

/// The criteria heading is chosen by structure: with a named heading and
/// another sub-heading, both holding numbered lists, the named one wins;
/// a requirement with a numbered list under any sub-heading has criteria.
#[test]
fn criteria_heading_by_structure() {
    let src = "# R\n\n## Requirements\n\n### Requirement 1: A\n\n**User Story:** As a u, I want x, so that y\n\n#### Steps\n\n1. open\n2. close\n\n#### Acceptance Criteria\n\n1. THE X SHALL y\n";
    let doc = parse(src);
    let r = &doc.requirements[0];
    assert_eq!(r.criteria.len(), 1);
    assert_eq!(r.criteria[0].text, "THE X SHALL y");
    // The section before the criteria stays above them.
    assert!(
        r.preface.starts_with("#### Steps\n\n1. open"),
        "{}",
        r.preface
    );
    assert_eq!(render_requirements(&doc), src);

    // Without any sub-heading, the numbered list after the story is the
    // criteria (the formatter then adds the heading).
    let src = "# R\n\n## Requirements\n\n### Requirement 1: A\n\n**User Story:** As a u, I want x, so that y\n\n1. THE X SHALL y\n2. THE X SHALL z\n";
    assert_eq!(parse(src).requirements[0].criteria.len(), 2);
    round_trip(src);
}

proptest! {
    /// A requirement whose only numbered list sits under a sub-heading in
    /// any words never comes out without criteria, and the count is exact.
    #[test]
    fn numbered_list_under_any_sub_heading_is_the_criteria(
        heading in "[\\p{L}][\\p{L} '’]{0,24}",
        n in 1usize..6,
        preface in proptest::option::of("[a-z ]{1,20}"),
    ) {
        let heading = heading.trim().to_owned();
        prop_assume!(!heading.is_empty());
        let items: Vec<String> = (1..=n).map(|k| format!("{k}. THE System SHALL do thing {k}")).collect();
        let preface = preface.map(|p| format!("{}\n\n", p.trim())).filter(|p| !p.trim().is_empty()).unwrap_or_default();
        let src = format!(
            "# R\n\n## Requirements\n\n### Requirement 1: A\n\n**User Story:** As a u, I want x, so that y\n\n#### {heading}\n\n{preface}{}\n",
            items.join("\n")
        );
        let doc = parse(&src);
        prop_assert_eq!(doc.requirements.len(), 1);
        prop_assert_eq!(doc.requirements[0].criteria.len(), n);
        round_trip(&src);
    }
}

// ---------------------------------------------------------------------------
// Byte order mark (issue 11, item 11)
// ---------------------------------------------------------------------------

/// A UTF-8 byte order mark (editors on Windows write one) is not text: the
/// `#` after it is the title, every parser reads the document as it reads it
/// without the mark, and positions are those an editor shows. The model does
/// not hold the mark: renderings are canonical, without it (kiro's file writes
/// keep a file's mark, see `store`).
#[test]
fn a_byte_order_mark_is_not_text() {
    use kiro_core::format::{
        parse_bugfix, parse_design, parse_tasks, render_bugfix, render_design, render_tasks,
    };
    let plain = "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Login\n\n#### Acceptance Criteria\n\n1. WHEN a user logs in, THE App SHALL show the home page\n";
    for src in [plain.to_owned(), plain.replace('\n', "\r\n")] {
        let bom = format!("\u{feff}{src}");
        let (a, b) = (parse_requirements(&src), parse_requirements(&bom));
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
        assert_eq!(b.value, a.value);
        assert_eq!(b.source_map.entries, a.source_map.entries);
        assert_eq!(render_requirements(&b.value), src);
    }

    let design = "# Design Document\n\n## Overview\n\nText.\n";
    let d = parse_design(&format!("\u{feff}{design}"));
    assert_eq!(d.value, parse_design(design).value);
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    assert_eq!(render_design(&d.value), design);

    let tasks = "# Implementation Plan\n\n- [ ] 1. Build it\n";
    let t = parse_tasks(&format!("\u{feff}{tasks}"));
    assert_eq!(t.value, parse_tasks(tasks).value);
    assert_eq!(t.source_map.entries, parse_tasks(tasks).source_map.entries);
    assert_eq!(render_tasks(&t.value), tasks);

    let bugfix = "# Bugfix Requirements Document\n\n## Introduction\n\nIt breaks.\n";
    let f = parse_bugfix(&format!("\u{feff}{bugfix}"));
    assert_eq!(f.value, parse_bugfix(bugfix).value);
    assert_eq!(f.diagnostics, parse_bugfix(bugfix).diagnostics);
    assert_eq!(render_bugfix(&f.value), bugfix);

    // Only a mark at the very start is one: elsewhere it is text, kept.
    let inner = "# Requirements Document\n\n## Introduction\n\n\u{feff}Zero width.\n";
    assert_eq!(render_requirements(&parse(inner)), inner);
}
