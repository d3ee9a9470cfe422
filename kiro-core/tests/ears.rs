//! EARS classification (`Ears::parse`) and the plain-text converter
//! (`requirements_from_text`): one-line cases through `check` helpers.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiro_core::ears::requirements_from_text;
use kiro_core::spec::{ClauseKeyword, ClauseKeyword::*, Ears, EarsPattern, EarsPattern::*};

/// Asserts the full EARS reading of `input`.
#[track_caller]
fn check(
    input: &str,
    pattern: EarsPattern,
    conditions: &[(ClauseKeyword, &str)],
    system: &str,
    response: &str,
) {
    let ears = Ears::parse(input).unwrap_or_else(|| panic!("not read as EARS: {input:?}"));
    let got: Vec<(ClauseKeyword, &str)> = ears
        .conditions
        .iter()
        .map(|c| (c.keyword, c.text.as_str()))
        .collect();
    assert_eq!(ears.pattern, pattern, "pattern of {input:?}");
    assert_eq!(got, conditions, "conditions of {input:?}");
    assert_eq!(ears.system, system, "system of {input:?}");
    assert_eq!(ears.response, response, "response of {input:?}");
}

/// Asserts that `input` is not read as EARS.
#[track_caller]
fn check_none(input: &str) {
    assert_eq!(Ears::parse(input), None, "input: {input:?}");
}

#[test]
fn ubiquitous() {
    check(
        "THE System SHALL log every request",
        Ubiquitous,
        &[],
        "THE System",
        "log every request",
    );
    check(
        "The system shall log every request.",
        Ubiquitous,
        &[],
        "The system",
        "log every request.",
    );
    check(
        "the api shall respond",
        Ubiquitous,
        &[],
        "the api",
        "respond",
    );
    check(
        "`CMakeLists.txt` SHALL call `find_package(AWSSDK)`",
        Ubiquitous,
        &[],
        "`CMakeLists.txt`",
        "call `find_package(AWSSDK)`",
    );
    check(
        "An `aws_client_config` struct SHALL be defined in\n   `aws.hpp`",
        Ubiquitous,
        &[],
        "An `aws_client_config` struct",
        "be defined in `aws.hpp`",
    );
    check(
        "THE Template_Artifact names SHALL be: `a`, `b`",
        Ubiquitous,
        &[],
        "THE Template_Artifact names",
        "be: `a`, `b`",
    );
    check(
        "THE 桑基图系统 SHALL 为中文内容使用清晰的中文字体",
        Ubiquitous,
        &[],
        "THE 桑基图系统",
        "为中文内容使用清晰的中文字体",
    );
    check(
        "THE Login_Page SHALL 采用纵向居中布局",
        Ubiquitous,
        &[],
        "THE Login_Page",
        "采用纵向居中布局",
    );
    check(
        "Users shall be able to export data",
        Ubiquitous,
        &[],
        "Users",
        "be able to export data",
    );
}

#[test]
fn event_driven() {
    check(
        "WHEN a user logs in, THE Auth_Service SHALL create a session",
        EventDriven,
        &[(When, "a user logs in")],
        "THE Auth_Service",
        "create a session",
    );
    check(
        "WHEN a user logs in THEN the system SHALL create a session",
        EventDriven,
        &[(When, "a user logs in")],
        "the system",
        "create a session",
    );
    check(
        "When inquiry request is received, the RAG Backend API shall validate the payload",
        EventDriven,
        &[(When, "inquiry request is received")],
        "the RAG Backend API",
        "validate the payload",
    );
    check(
        "when x happens, the app shall y",
        EventDriven,
        &[(When, "x happens")],
        "the app",
        "y",
    );
    check(
        "When x happens then the app shall y",
        EventDriven,
        &[(When, "x happens")],
        "the app",
        "y",
    );
    check(
        "**WHEN** the user clicks **THEN** the system **SHALL** save",
        EventDriven,
        &[(When, "the user clicks")],
        "the system",
        "save",
    );
    // Commas inside the condition, and the last comma before THE wins.
    check(
        "WHEN a user submits a field (name, tags, or readme), THE Edit_Lambda SHALL overwrite metadata.json",
        EventDriven,
        &[(When, "a user submits a field (name, tags, or readme)")],
        "THE Edit_Lambda",
        "overwrite metadata.json",
    );
    // AND inside one condition.
    check(
        "WHEN the section is displayed AND the table is empty, THE Page SHALL NOT render a chart.",
        EventDriven,
        &[(When, "the section is displayed AND the table is empty")],
        "THE Page",
        "NOT render a chart.",
    );
    // No comma: the capital THE separates condition and system.
    check(
        "WHEN the page loads THE Photo Album Application SHALL show dates",
        EventDriven,
        &[(When, "the page loads")],
        "THE Photo Album Application",
        "show dates",
    );
    // No comma, lower case: the last `the` separates.
    check(
        "when the user logs in the dashboard shall open",
        EventDriven,
        &[(When, "the user logs in")],
        "the dashboard",
        "open",
    );
    // Hard-wrapped criterion.
    check("WHEN the repository is cloned THEN a `.clang-format` file SHALL exist at\n   the repository root", EventDriven, &[(When, "the repository is cloned")], "a `.clang-format` file", "exist at the repository root");
    check(
        "WHEN the call fails THEN `assess_quorum` SHALL\n   return an error",
        EventDriven,
        &[(When, "the call fails")],
        "`assess_quorum`",
        "return an error",
    );
    // Keywords inside code spans are text.
    check(
        "WHEN the `if` block is parsed, THE Parser SHALL keep `then`",
        EventDriven,
        &[(When, "the `if` block is parsed")],
        "THE Parser",
        "keep `then`",
    );
    // Several SHALLs: the response runs to the end.
    check(
        "WHEN x THEN the system SHALL a; the option SHALL be removed",
        EventDriven,
        &[(When, "x")],
        "the system",
        "a; the option SHALL be removed",
    );
    check(
        "WHEN a, WHEN b, THE S SHALL c",
        EventDriven,
        &[(When, "a"), (When, "b")],
        "THE S",
        "c",
    );
}

#[test]
fn state_driven_unwanted_optional() {
    check(
        "WHILE the request is in progress, THE Frontend SHALL display a spinner",
        StateDriven,
        &[(While, "the request is in progress")],
        "THE Frontend",
        "display a spinner",
    );
    check(
        "While response is being generated, the API shall keep the connection",
        StateDriven,
        &[(While, "response is being generated")],
        "the API",
        "keep the connection",
    );
    check(
        "WHILE dragging an album THE Photo Album Application SHALL show feedback",
        StateDriven,
        &[(While, "dragging an album")],
        "THE Photo Album Application",
        "show feedback",
    );
    check(
        "IF the name is taken, THEN THE Edit_Lambda SHALL return a 409 error",
        Unwanted,
        &[(If, "the name is taken")],
        "THE Edit_Lambda",
        "return a 409 error",
    );
    check(
        "If request payload is invalid, then the RAG Backend API shall return a 400 error",
        Unwanted,
        &[(If, "request payload is invalid")],
        "the RAG Backend API",
        "return a 400 error",
    );
    check(
        "IF an album contains no photos THEN the Photo Album Application SHALL allow deleting it",
        Unwanted,
        &[(If, "an album contains no photos")],
        "the Photo Album Application",
        "allow deleting it",
    );
    check(
        "IF the input is empty, THE Form SHALL show an error",
        Unwanted,
        &[(If, "the input is empty")],
        "THE Form",
        "show an error",
    );
    check(
        "WHERE a className prop is provided, THE XMLFileRenderer SHALL apply it",
        Optional,
        &[(Where, "a className prop is provided")],
        "THE XMLFileRenderer",
        "apply it",
    );
    check(
        "Where dark mode is enabled, the UI shall use dark colours",
        Optional,
        &[(Where, "dark mode is enabled")],
        "the UI",
        "use dark colours",
    );
}

#[test]
fn complex() {
    check(
        "WHILE offline, WHEN the user saves, THE Editor SHALL queue the change",
        Complex,
        &[(While, "offline"), (When, "the user saves")],
        "THE Editor",
        "queue the change",
    );
    check(
        "WHERE sync is enabled, WHILE online, WHEN a file changes, THE Client SHALL upload it",
        Complex,
        &[
            (Where, "sync is enabled"),
            (While, "online"),
            (When, "a file changes"),
        ],
        "THE Client",
        "upload it",
    );
    check(
        "WHILE a job runs AND WHEN it fails THE Runner SHALL retry",
        Complex,
        &[(While, "a job runs"), (When, "it fails")],
        "THE Runner",
        "retry",
    );
    check(
        "When the user saves, if the disk is full, the editor shall warn",
        Complex,
        &[(When, "the user saves"), (If, "the disk is full")],
        "the editor",
        "warn",
    );
    check(
        "WHILE logged in IF the token expires THEN THE App SHALL sign out",
        Complex,
        &[(While, "logged in"), (If, "the token expires")],
        "THE App",
        "sign out",
    );
}

#[test]
fn case_variants() {
    for input in [
        "WHEN x, THE S SHALL y",
        "When x, The S Shall y",
        "when x, the S shall y",
        "wHeN x, tHe S sHaLl y",
    ] {
        let e = Ears::parse(input).unwrap();
        assert_eq!(
            (
                e.pattern,
                e.conditions[0].text.as_str(),
                e.response.as_str()
            ),
            (EventDriven, "x", "y"),
            "{input}"
        );
    }
}

#[test]
fn non_english_sentences() {
    check(
        "WHEN 用户点击 THEN 系统 SHALL 显示主页",
        EventDriven,
        &[(When, "用户点击")],
        "系统",
        "显示主页",
    );
    check(
        "WHEN 用户创建或编辑事件 THEN CalenParse系统 SHALL 提供重复选项界面",
        EventDriven,
        &[(When, "用户创建或编辑事件")],
        "CalenParse系统",
        "提供重复选项界面",
    );
    check("WHEN 未登录用户启动 AccountRecord_App, THE Auth_State_Manager SHALL 从 Auth_Storage 读取标记", EventDriven, &[(When, "未登录用户启动 AccountRecord_App")], "THE Auth_State_Manager", "从 Auth_Storage 读取标记");
    check(
        "WHEN 系统加载时，THE 桑基图系统 SHALL 应用统一的字体",
        EventDriven,
        &[(When, "系统加载时")],
        "THE 桑基图系统",
        "应用统一的字体",
    );
    check(
        "WHILE 用户未勾选用户协议 Checkbox, THE Login_Page SHALL 将按钮设为禁用状态",
        StateDriven,
        &[(While, "用户未勾选用户协议 Checkbox")],
        "THE Login_Page",
        "将按钮设为禁用状态",
    );
    check(
        "WHEN 所有候选 URL 均超时（如 15 秒）THEN 系统 SHALL 返回 503",
        EventDriven,
        &[(When, "所有候选 URL 均超时（如 15 秒）")],
        "系统",
        "返回 503",
    );
    // Japanese word order: SHALL closes the sentence.
    check(
        "WHEN 比較テーブルを表示する THEN システムは適切な`<caption>`要素を含む SHALL",
        EventDriven,
        &[(When, "比較テーブルを表示する")],
        "システム",
        "適切な`<caption>`要素を含む",
    );
    check(
        "WHEN 並べ替え機能を提供する THEN システムは属性を設定する SHALL。",
        EventDriven,
        &[(When, "並べ替え機能を提供する")],
        "システム",
        "属性を設定する",
    );
    check(
        "IF 入力が空であるTHEN システムはエラーを表示する SHALL",
        Unwanted,
        &[(If, "入力が空である")],
        "システム",
        "エラーを表示する",
    );
    // Portuguese and Spanish prose with English keywords.
    check(
        "WHEN um usuário acessa a página de registro THEN o sistema SHALL exibir um formulário",
        EventDriven,
        &[(When, "um usuário acessa a página de registro")],
        "o sistema",
        "exibir um formulário",
    );
    check(
        "IF a senha é inválida, THEN THE Sistema SHALL exibir um erro",
        Unwanted,
        &[(If, "a senha é inválida")],
        "THE Sistema",
        "exibir um erro",
    );
    check(
        "WHEN el usuario inicia sesión THEN el sistema SHALL mostrar la página",
        EventDriven,
        &[(When, "el usuario inicia sesión")],
        "el sistema",
        "mostrar la página",
    );
}

#[test]
fn not_ears() {
    check_none("");
    check_none("The page loads fast");
    check_none("WHEN the user logs in THEN the dashboard is shown");
    check_none("QUANDO o usuário acessa o dashboard ENTÃO o sistema DEVE exibir especialidades");
    check_none("WHEN ユーザーが検索を実行 THEN /search ページに遷移する");
    check_none("SHALL do something");
    check_none("WHEN , THE system SHALL y");
    check_none("WHEN the user clicks SHALL open");
    check_none("WHEN 用户点击 系统 SHALL 显示");
    check_none("After a successful call, `decommission_node` SHALL return");
    check_none("Unless disabled, the system shall log");
    check_none("Once the upload completes, the app shall notify the user");
    check_none("WHEN x THEN y SHALL"); // nothing after SHALL and no は to split at
    check_none("The shallow copy is returned");
    check_none("Marshall the data");
}

#[test]
fn fixture_criteria_read_as_ears() {
    // Every English-keyword criterion of the corpus that has a SHALL and
    // starts with an EARS keyword reads as EARS.
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: fixtures not found at {}", dir.display());
        return;
    };
    let mut checked = 0;
    let mut failed = Vec::new();
    for entry in entries.flatten() {
        for name in ["requirements.md", "bugfix.md"] {
            let Ok(text) = std::fs::read_to_string(entry.path().join(name)) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                let Some((num, rest)) = t.split_once(' ') else {
                    continue;
                };
                if !num
                    .trim_end_matches('.')
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                {
                    continue;
                }
                // Hard-wrapped criteria continue on indented lines.
                let mut rest = rest.trim().to_owned();
                for next in lines.iter().skip(i + 1) {
                    let starts_item = next
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_digit() || c == '-');
                    if next.trim().is_empty() || !next.starts_with(' ') || starts_item {
                        break;
                    }
                    rest.push('\n');
                    rest.push_str(next);
                }
                let rest = rest.as_str();
                let opens = ["WHEN ", "IF ", "WHILE ", "WHERE ", "THE "]
                    .iter()
                    .any(|k| rest.starts_with(k));
                if !opens
                    || !rest
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w.eq_ignore_ascii_case("shall"))
                {
                    continue;
                }
                checked += 1;
                if Ears::parse(rest).is_none() {
                    failed.push(format!(
                        "{}/{name}: {rest}",
                        entry.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {checked} not read:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(checked > 100, "only {checked} criteria checked");
}

/// Asserts the shape of a converted document: `(title, [criterion texts])` per requirement.
#[track_caller]
fn check_text(input: &str, introduction: Option<&str>, expected: &[(&str, &[&str])]) {
    let doc = requirements_from_text("", input);
    assert_eq!(
        doc.introduction.as_deref(),
        introduction,
        "introduction of {input:?}"
    );
    let got: Vec<(String, Vec<String>)> = doc
        .requirements
        .iter()
        .map(|r| {
            (
                r.title.clone(),
                r.criteria.iter().map(|c| c.text.clone()).collect(),
            )
        })
        .collect();
    let want: Vec<(String, Vec<String>)> = expected
        .iter()
        .map(|(t, cs)| (t.to_string(), cs.iter().map(|c| c.to_string()).collect()))
        .collect();
    assert_eq!(got, want, "input: {input:?}");
    // Ids are sequential.
    for (i, r) in doc.requirements.iter().enumerate() {
        assert_eq!(r.id.as_str(), (i + 1).to_string());
        for (j, c) in r.criteria.iter().enumerate() {
            assert_eq!(c.id.as_str(), format!("{}.{}", i + 1, j + 1));
            assert_eq!(c.ears, Ears::parse(&c.text));
        }
    }
}

#[test]
fn text_to_requirements() {
    check_text("", None, &[]);
    check_text("Just an idea.", Some("Just an idea."), &[]);
    check_text(
        "THE App SHALL start",
        None,
        &[("App", &["THE App SHALL start"])],
    );
    check_text(
        "- WHEN a, THE S SHALL b\n- THE S SHALL c\n",
        None,
        &[("A", &["WHEN a, THE S SHALL b", "THE S SHALL c"])],
    );
    check_text(
        "* [ ] THE S SHALL b\n  * THE S SHALL c\n",
        None,
        &[("S", &["THE S SHALL b", "THE S SHALL c"])],
    );
    check_text(
        "1. THE S SHALL b\n2. THE S SHALL c\n",
        None,
        &[("S", &["THE S SHALL b", "THE S SHALL c"])],
    );
    check_text(
        "THE A SHALL x\n\nTHE B SHALL y\n",
        None,
        &[("A", &["THE A SHALL x"]), ("B", &["THE B SHALL y"])],
    );
    check_text(
        "## Login\n\n- THE A SHALL x\n\n- THE A SHALL y\n\nTHE A SHALL z\n",
        None,
        &[(
            "Login",
            &["THE A SHALL x", "THE A SHALL y", "THE A SHALL z"],
        )],
    );
    check_text(
        "# Title\n\nIntro text.\n\n## One\n\nTHE A SHALL x\n",
        Some("# Title\n\nIntro text."),
        &[("One", &["THE A SHALL x"])],
    );
    check_text(
        "WHEN a user logs\nin, THE S SHALL b\nWHEN c, THE S SHALL d\n",
        None,
        &[(
            "A user logs in",
            &[
                "WHEN a user logs in, THE S SHALL b",
                "WHEN c, THE S SHALL d",
            ],
        )],
    );
    check_text(
        "1.1 WHEN a THEN the S SHALL b\n1.2 WHEN c THEN the S SHALL d\n",
        None,
        &[(
            "A",
            &["WHEN a THEN the S SHALL b", "WHEN c THEN the S SHALL d"],
        )],
    );
    check_text(
        "THE S SHALL a. THE S SHALL b! Notes here.",
        None,
        &[("S", &["THE S SHALL a.", "THE S SHALL b!"])],
    );
    check_text(
        "WHEN 用户点击 THEN 系统 SHALL 显示主页。WHEN 用户退出 THEN 系统 SHALL 返回登录页",
        None,
        &[(
            "用户点击",
            &[
                "WHEN 用户点击 THEN 系统 SHALL 显示主页。",
                "WHEN 用户退出 THEN 系统 SHALL 返回登录页",
            ],
        )],
    );
}

#[test]
fn text_prose_story_and_notes() {
    let doc = requirements_from_text(
        "Demo",
        "Intro one.\n\nIntro two.\n\n## Export\n\nAs a user, I want to export, so that I keep my data.\n\n- THE App SHALL export CSV\n\nSome remark.\n\n```\ncode\n```\n\n## Empty heading\n\nOnly prose here.\n",
    );
    assert_eq!(doc.title, "Demo");
    assert_eq!(
        doc.introduction.as_deref(),
        Some("Intro one.\n\nIntro two.")
    );
    assert_eq!(doc.requirements.len(), 1);
    let r = &doc.requirements[0];
    let story = r.user_story.as_ref().unwrap();
    assert_eq!(
        (
            story.role.as_deref(),
            story.capability.as_deref(),
            story.benefit.as_deref()
        ),
        (Some("user"), Some("export"), Some("I keep my data."))
    );
    assert_eq!(
        r.notes,
        "Some remark.\n\n```\ncode\n```\n\n## Empty heading\n\nOnly prose here."
    );
    assert_eq!(
        requirements_from_text("  ", "").title,
        "Requirements Document"
    );
}

#[test]
fn text_conversion_is_deterministic_and_crlf_safe() {
    let lf = "## A\n\n- WHEN x, THE S SHALL y\n\nTHE S SHALL z\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(
        requirements_from_text("t", lf),
        requirements_from_text("t", lf)
    );
    assert_eq!(
        requirements_from_text("t", lf),
        requirements_from_text("t", &crlf)
    );
}

mod never_panics {
    use kiro_core::ears::requirements_from_text;
    use kiro_core::spec::Ears;
    use proptest::prelude::*;

    /// Text made of EARS keywords, separators, markdown and multi-byte characters.
    fn ears_like() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "WHEN ",
            "when ",
            "WHILE ",
            "WHERE ",
            "IF ",
            "THEN ",
            "then ",
            "THE ",
            "the ",
            "SHALL ",
            "shall ",
            "NOT ",
            ", ",
            "，",
            "、",
            "。",
            ". ",
            "x ",
            "用户",
            "システムは",
            "`",
            "**",
            "(",
            ")",
            "\n",
            "- ",
            "1. ",
            "# ",
            "\r\n",
            "は",
            "After ",
            " ",
            "é",
            "🦀",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn parse_and_convert_never_panic(text in ears_like()) {
            if let Some(e) = Ears::parse(&text) {
                prop_assert!(!e.system.is_empty());
            }
            let doc = requirements_from_text("t", &text);
            for (i, r) in doc.requirements.iter().enumerate() {
                prop_assert_eq!(r.id.as_str(), (i + 1).to_string());
                prop_assert!(!r.criteria.is_empty());
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = Ears::parse(&text);
            let _ = requirements_from_text(&text, &text);
        }
    }
}
