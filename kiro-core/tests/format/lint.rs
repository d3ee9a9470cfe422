//! Lint rules on small inline specs: every rule has cases that fire it and
//! cases that must not, plus position, rendering and SARIF schema tests.
//!
//! A fixture is the text of a spec folder: `//- <file name>` lines start a
//! file; text before the first marker is `requirements.md`.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use kiro_core::lint::{
    lint, lint_spec, render_human, render_json, render_sarif, Diagnostic, Severity, ESCAPE_CLAUSES,
    RULES, VAGUE_TERMS,
};
use kiro_core::store::{load_spec, LoadedSpec};

use crate::fixtures;

/// Writes a fixture into a temporary spec folder and loads it.
fn load(fixture: &str) -> (tempfile::TempDir, LoadedSpec) {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let mut name = "requirements.md".to_owned();
    let mut text = String::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in fixture.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("//- ") {
            if !text.trim().is_empty() {
                files.push((name.clone(), std::mem::take(&mut text)));
            }
            text.clear();
            name = rest.trim().to_owned();
        } else {
            text.push_str(line);
        }
    }
    if !text.trim().is_empty() {
        files.push((name, text));
    }
    for (name, text) in files {
        std::fs::write(spec_dir.join(name), text).unwrap();
    }
    let spec = load_spec(&spec_dir).unwrap();
    (dir, spec)
}

fn diagnostics(fixture: &str) -> Vec<Diagnostic> {
    let (_dir, spec) = load(fixture);
    lint(&spec)
}

fn show(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{} {}:{} {}", d.code, d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `code` fires on the fixture.
#[track_caller]
fn check_fires(fixture: &str, code: &str) {
    let found = diagnostics(fixture);
    assert!(
        found.iter().any(|d| d.code == code),
        "{code} did not fire on\n{fixture}\nfound:\n{}",
        show(&found)
    );
}

/// Asserts that `code` does not fire on the fixture.
#[track_caller]
fn check_clean(fixture: &str, code: &str) {
    let found = diagnostics(fixture);
    assert!(
        !found.iter().any(|d| d.code == code),
        "{code} fired on\n{fixture}\nfound:\n{}",
        show(&found)
    );
}

/// Asserts the one diagnostic with `code`: its message, line, column and end column.
#[track_caller]
fn check_at(
    fixture: &str,
    code: &str,
    message: &str,
    line: u32,
    column: u32,
    end_column: Option<u32>,
) {
    let found = diagnostics(fixture);
    let hits: Vec<&Diagnostic> = found.iter().filter(|d| d.code == code).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {code}, found:\n{}",
        show(&found)
    );
    let d = hits[0];
    assert_eq!(
        (d.message.as_str(), d.line, d.column, d.end_column),
        (message, line, column, end_column),
        "{code} on\n{fixture}"
    );
    assert!(d.file.as_ref().is_some_and(|f| f.is_absolute()));
}

/// A requirements document with one requirement whose criteria are the
/// lines of `criteria` (numbered `1.`, `2.`, ...). Criterion `n` is on line `8 + n`.
fn req(criteria: &str) -> String {
    let mut out = String::from(
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Demo\n\n#### Acceptance Criteria\n\n",
    );
    for (i, line) in criteria.lines().enumerate() {
        out.push_str(&format!("{}. {line}\n", i + 1));
    }
    out
}

/// A bugfix document with one clause per group.
fn bugfix(current: &str, expected: &str, unchanged: &str) -> String {
    format!(
        "//- bugfix.md\n# Bugfix Requirements Document\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n\
         1.1 {current}\n\n### Expected Behavior (Correct)\n\n2.1 {expected}\n\n\
         ### Unchanged Behavior (Regression Prevention)\n\n3.1 {unchanged}\n"
    )
}

/// A fixture with two requirements (1.1, 1.2, 2.1) and the given extra files.
fn two_reqs(rest: &str) -> String {
    format!(
        "{}\n### Requirement 2: More\n\n#### Acceptance Criteria\n\n1. THE App SHALL stop\n{rest}",
        req("THE App SHALL start\nTHE App SHALL log")
    )
}

const GOOD: &str = "WHEN a user signs in, THE Auth_Service SHALL create a session";

#[test]
fn k0001_not_ears() {
    check_fires(
        &req("After login, the app SHALL show the home page"),
        "K0001",
    );
    check_fires(&req("WHEN the user clicks SHALL open"), "K0001");
    check_fires(&req("SHALL do it"), "K0001");
    check_fires(
        &bugfix("the app crashes", "Once saved, the app SHALL close", GOOD),
        "K0001",
    );
    check_clean(&req(GOOD), "K0001");
    check_clean(&req("THE App SHALL start"), "K0001");
    check_clean(
        &req("While offline, when the user saves, the editor shall queue the change"),
        "K0001",
    );
    check_clean(&req("WHEN 用户点击 THEN 系统 SHALL 显示主页"), "K0001");
    check_clean(&req("The page loads in 2 s"), "K0001");
    check_clean(&bugfix("After login SHALL crash", GOOD, GOOD), "K0001");
}

#[test]
fn k0002_missing_shall() {
    check_fires(&req("The page loads in 2 s"), "K0002");
    check_fires(&req("WHEN x THEN the page is shown"), "K0002");
    check_fires(&req("The system must log every request"), "K0002");
    check_fires(
        &req("WHEN ユーザーが検索を実行 THEN 結果ページに遷移する"),
        "K0002",
    );
    check_fires(
        &bugfix("the app crashes", "the app does not crash", GOOD),
        "K0002",
    );
    check_clean(&req(GOOD), "K0002");
    check_clean(&req("the app shall start"), "K0002");
    check_clean(
        &req("QUANDO o usuário acessa o painel ENTÃO o sistema DEVE exibir as especialidades"),
        "K0002",
    );
    check_clean(
        &req("CUANDO el usuario inicie sesión ENTONCES el sistema DEBERÁ mostrar la página"),
        "K0002",
    );
    check_clean(&req("WHEN 用户点击 THEN 系统必须显示主页"), "K0002");
    check_clean(
        &req("RAGバックエンドAPIは、POSTエンドポイントを提供すること"),
        "K0002",
    );
    check_clean(
        &bugfix("WHEN a user saves THEN the app crashes", GOOD, GOOD),
        "K0002",
    );
}

/// Lints criteria written in one language (ISO 639-1 `code`): each states
/// its obligation with the language's modal verb, so no rule fires on them
/// (K0002 least of all) and the requirements parser reads each one as EARS
/// in that language; each sentence of `without_modal` describes instead of
/// requiring, and still gets K0002.
#[track_caller]
fn check_language(code: &str, criteria: &[&str], without_modal: &[&str]) {
    let (_dir, spec) = load(&req(&criteria.join("\n")));
    let found = lint(&spec);
    assert!(found.is_empty(), "{code}: findings on\n{}", show(&found));
    let doc = spec.spec.requirements.as_ref().unwrap();
    let read = &doc.requirements[0].criteria;
    assert_eq!(read.len(), criteria.len(), "{code}");
    for c in read {
        let ears = c.ears.as_ref();
        assert_eq!(
            ears.and_then(|e| e.language.as_deref()),
            Some(code),
            "{code}: {:?} read as {ears:?}",
            c.text
        );
    }
    for text in without_modal {
        check_fires(&req(text), "K0002");
    }
}

#[test]
fn k0002_german() {
    check_language(
        "de",
        &[
            "WENN ein Administrator einen Benutzer sperrt, DANN MUSS das System alle Sitzungen beenden",
            "Das Dashboard SOLL die Anzahl offener Tickets anzeigen",
            "FALLS der Export fehlschlägt, MUSS der Exportdienst den Grund anzeigen",
            "SOLANGE die Wartung läuft, müssen die Server neue Anfragen ablehnen",
        ],
        &["WENN der Benutzer klickt, DANN wird die Seite geladen"],
    );
}

#[test]
fn k0002_french() {
    check_language(
        "fr",
        &[
            "QUAND un administrateur bloque un compte, LE système DOIT fermer toutes ses sessions",
            "Le tableau de bord doit afficher le nombre de tickets ouverts",
            "SI l'export échoue, ALORS LE service d'export DOIT afficher le motif de l'échec",
            "LES serveurs DEVRONT refuser les connexions non chiffrées",
        ],
        &["QUAND l'utilisateur clique, la page se charge"],
    );
}

#[test]
fn k0002_spanish() {
    check_language(
        "es",
        &[
            "CUANDO un administrador bloquea una cuenta, el sistema DEBE cerrar todas sus sesiones",
            "El panel DEBERÁ mostrar el número de tickets abiertos",
            "SI la exportación falla, ENTONCES el servicio de exportación DEBE mostrar el motivo",
            "MIENTRAS dure el mantenimiento, los servidores DEBERÁN rechazar nuevas solicitudes",
        ],
        &["CUANDO el usuario hace clic, la página se carga"],
    );
}

#[test]
fn k0002_portuguese() {
    check_language(
        "pt",
        &[
            "QUANDO um administrador bloqueia uma conta ENTÃO o sistema DEVE encerrar todas as sessões",
            "O painel DEVERÁ exibir o número de chamados abertos",
            "SE a exportação falhar, ENTÃO o serviço de exportação DEVE exibir o motivo",
            "ENQUANTO durar a manutenção, os servidores DEVEM recusar novas requisições",
        ],
        &["QUANDO o usuário clica, a página é carregada"],
    );
}

#[test]
fn k0002_italian() {
    check_language(
        "it",
        &[
            "QUANDO un amministratore blocca un account, il sistema DEVE chiudere tutte le sessioni",
            "La dashboard DOVRÀ mostrare il numero di ticket aperti",
            "SE l'esportazione fallisce, ALLORA il servizio di esportazione DEVE mostrare il motivo",
            "MENTRE è in corso la manutenzione, i server DEVONO rifiutare nuove richieste",
        ],
        &["QUANDO l'utente fa clic, la pagina viene caricata"],
    );
}

#[test]
fn k0002_russian() {
    check_language(
        "ru",
        &[
            "КОГДА администратор блокирует учётную запись, система ДОЛЖНА завершить все её сеансы",
            "Панель управления ДОЛЖНА показывать число открытых заявок",
            "ЕСЛИ экспорт не удался, ТО служба экспорта ДОЛЖНА показать причину ошибки",
            "ПОКА идёт обслуживание, серверы должны отклонять новые запросы",
        ],
        &["КОГДА пользователь нажимает кнопку, страница загружается"],
    );
}

#[test]
fn k0002_chinese() {
    check_language(
        "zh",
        &[
            "当管理员封禁账号时，系统应终止该账号的所有会话",
            "仪表盘必须显示未关闭工单的数量",
            "如果导出失败，那么导出服务应当显示失败原因",
            "在系统维护期间，服务器应该拒绝新的请求",
            "支付服务不得在日志中记录银行卡号",
        ],
        &[
            "当用户点击按钮时，页面加载完成",
            // `响应` (respond) and `应用` (application) hold no modal verb.
            "系统响应用户的请求",
            "应用启动后显示首页",
        ],
    );
}

#[test]
fn k0002_japanese() {
    check_language(
        "ja",
        &[
            "管理者がアカウントを停止したとき、システムはそのアカウントの全セッションを終了しなければならない",
            "ダッシュボードは未対応チケットの件数を表示すること。",
            "エクスポートに失敗した場合、エクスポートサービスは失敗理由を表示するものとする",
            "メンテナンス中は、サーバーは新しいリクエストを拒否する必要がある",
            "決済サービスはカード番号をログに記録してはならない",
        ],
        &[
            "ユーザーがボタンを押したとき、ページが表示される",
            "WHEN ユーザーが検索を実行 THEN 結果ページに遷移する",
        ],
    );
}

#[test]
fn k0002_korean() {
    check_language(
        "ko",
        &[
            "관리자가 계정을 정지할 때, 시스템은 해당 계정의 모든 세션을 종료해야 한다",
            "대시보드는 미처리 티켓 수를 표시해야 합니다",
            "내보내기가 실패한 경우, 내보내기 서비스는 실패 원인을 표시하여야 한다",
            "결제 서비스는 카드 번호를 로그에 기록해서는 안 된다",
        ],
        &["사용자가 버튼을 클릭할 때, 페이지가 로드된다"],
    );
}

#[test]
fn k0003_multiple_shall() {
    check_fires(&req("THE App SHALL start and SHALL log"), "K0003");
    check_fires(
        &req("WHEN x THEN the system SHALL a; the option SHALL be removed"),
        "K0003",
    );
    check_fires(
        &bugfix("x", "WHEN x THEN the system SHALL a and SHALL b", GOOD),
        "K0003",
    );
    check_clean(&req(GOOD), "K0003");
    check_clean(&req("THE App SHALL NOT crash"), "K0003");
    check_clean(&req("THE App SHALL print `shall`"), "K0003");
    check_clean(&req("THE Marshall_Service SHALL run"), "K0003");
    check_clean(&bugfix("the app SHALL a and SHALL b", GOOD, GOOD), "K0003");
}

#[test]
fn k0004_vague_terms() {
    for term in VAGUE_TERMS {
        check_fires(
            &req(&format!("THE App SHALL be {term} for all users")),
            "K0004",
        );
    }
    check_fires(&req("THE App SHALL be FAST"), "K0004");
    check_fires(&req("THE App SHALL be **fast**"), "K0004");
    check_fires(&bugfix("x", GOOD, "THE App SHALL stay fast"), "K0004");
    check_clean(&req(GOOD), "K0004");
    check_clean(&req("THE App SHALL respond within 200 ms"), "K0004");
    check_clean(&req("THE App SHALL serve breakfast menus"), "K0004");
    check_clean(&req("THE Player SHALL fast-forward by 10 s"), "K0004");
    check_clean(
        &req("THE App SHALL call `fast_path()` and `simple`"),
        "K0004",
    );
    check_clean(&req("THE App SHALL list colours, sizes, etcetera"), "K0004");
    check_clean(
        &bugfix("the app is slow and not user-friendly", GOOD, GOOD),
        "K0004",
    );
}

#[test]
fn k0005_escape_clauses() {
    for clause in ESCAPE_CLAUSES {
        check_fires(
            &req(&format!("THE App SHALL cache results {clause}")),
            "K0005",
        );
    }
    check_fires(&req("Where possible, THE App SHALL cache results"), "K0005");
    check_fires(&req("THE App SHALL, if possible, retry"), "K0005");
    check_fires(&req("THE App SHALL retry (if possible)."), "K0005");
    check_clean(&req(GOOD), "K0005");
    check_clean(
        &req("IF possible duplicates exist, THEN THE App SHALL merge them"),
        "K0005",
    );
    check_clean(
        &req("WHERE the feature is enabled, THE App SHALL cache results"),
        "K0005",
    );
    check_clean(&bugfix("the app retries if possible", GOOD, GOOD), "K0005");
}

#[test]
fn k0006_placeholders() {
    check_fires(&req("THE App SHALL store TBD"), "K0006");
    check_fires(&req("TODO: decide what THE App SHALL do"), "K0006");
    check_fires(&req("THE App SHALL use a format to be determined"), "K0006");
    check_fires(&req("THE App SHALL do X (FIXME)"), "K0006");
    check_fires(&req(GOOD).replace("Demo", "Demo TBD"), "K0006");
    check_fires(&bugfix("TBC", GOOD, GOOD), "K0006");
    check_fires(
        &format!(
            "{}//- tasks.md\n- [ ] 1. TODO write it\n  - _Requirements: 1.1_\n",
            req(GOOD)
        ),
        "K0006",
    );
    check_fires(
        &format!("{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: Sessions\n\nTBD\n\n**Validates: Requirements 1.1**\n", req(GOOD)),
        "K0006",
    );
    check_clean(&req(GOOD), "K0006");
    check_clean(
        &req("WHEN a user adds a todo, THE App SHALL save it"),
        "K0006",
    );
    check_clean(&req("THE App SHALL list the TBDs"), "K0006");
}

#[test]
fn k0007_duplicate_ids() {
    let dup_req = format!(
        "{}\n### Requirement 1: Again\n\n#### Acceptance Criteria\n\n1. {GOOD}\n",
        req(GOOD)
    );
    check_fires(&dup_req, "K0007");
    // One finding for the duplicated requirement, none for its criteria.
    assert_eq!(
        diagnostics(&dup_req)
            .iter()
            .filter(|d| d.code == "K0007")
            .count(),
        1
    );
    check_fires(
        &format!("{}//- tasks.md\n- [ ] 1. A\n- [ ] 1. B\n", req(GOOD)),
        "K0007",
    );
    check_fires(
        &format!(
            "{}//- tasks.md\n- [ ] 1. A\n  - [ ] 1.1 B\n  - [ ] 1.1 C\n",
            req(GOOD)
        ),
        "K0007",
    );
    check_fires(
        "//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: A\n\nx\n\n### Property 1: B\n\ny\n",
        "K0007",
    );
    check_fires(&bugfix("x", GOOD, GOOD).replace("3.1 ", "2.1 "), "K0007");
    check_clean(&two_reqs(""), "K0007");
    check_clean(
        &format!(
            "{}//- tasks.md\n- [ ] 1. A\n  - [ ] 1.1 B\n- [ ] 2. C\n",
            req(GOOD)
        ),
        "K0007",
    );
    check_clean(&bugfix("x", GOOD, GOOD), "K0007");
}

#[test]
fn k0008_duplicate_glossary_terms() {
    let glossary = |entries: &str| {
        format!("# Requirements Document\n\n## Glossary\n\n{entries}\n## Requirements\n\n### Requirement 1: Demo\n\n#### Acceptance Criteria\n\n1. {GOOD}\n")
    };
    check_fires(
        &glossary("- **Auth_Service**: signs users in\n- **Auth_Service**: again\n"),
        "K0008",
    );
    check_fires(&glossary("- **Session**: a\n- **session**: b\n"), "K0008");
    check_clean(
        &glossary("- **Auth_Service**: signs users in\n- **Session**: a login\n"),
        "K0008",
    );
}

#[test]
fn k0009_undefined_criterion() {
    let tasks = |links: &str| {
        format!(
            "{}//- tasks.md\n- [ ] 1. Build\n  - _Requirements: {links}_\n",
            two_reqs("")
        )
    };
    check_fires(&tasks("9.9"), "K0009");
    check_fires(&tasks("1.1, 1.3"), "K0009");
    check_fires(&tasks("3"), "K0009");
    check_clean(&tasks("1.1, 1.2, 2.1"), "K0009");
    check_clean(&tasks("1.1–1.2"), "K0009");
    check_clean(&tasks("2"), "K0009");
    check_clean(
        "//- tasks.md\n- [ ] 1. Build\n  - _Requirements: 9.9_\n",
        "K0009",
    );
    check_clean(
        "# Requirements Document\n//- tasks.md\n- [ ] 1. Build\n  - _Requirements: 9.9_\n",
        "K0009",
    );
    check_clean(
        &format!(
            "{}//- tasks.md\n- [ ] 1. Fix\n  - _Requirements: 2.1, 1.1_\n",
            bugfix("x", GOOD, GOOD)
        ),
        "K0009",
    );
}

#[test]
fn k0010_uncovered_criterion() {
    let with_tasks = |links: &str| {
        format!(
            "{}//- tasks.md\n- [ ] 1. Build\n  - _Requirements: {links}_\n",
            two_reqs("")
        )
    };
    check_fires(&with_tasks("1.1, 2.1"), "K0010");
    check_fires(&with_tasks("2"), "K0010");
    check_clean(&with_tasks("1.1, 1.2, 2.1"), "K0010");
    check_clean(&with_tasks("1, 2"), "K0010");
    check_clean(&with_tasks("All"), "K0010");
    check_clean(&two_reqs(""), "K0010");
    // Covered through a property the task tests.
    check_clean(
        &two_reqs(
            "//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n**Validates: Requirements 1.1, 1.2**\n\
             //- tasks.md\n- [ ] 1. Build\n  - _Requirements: 2.1_\n- [ ] 2. Test\n  - **Property 1: P**\n",
        ),
        "K0010",
    );
    // Bugfix: expected and unchanged clauses need a task, the defect does not.
    let fix = |links: &str| {
        format!(
            "{}//- tasks.md\n- [ ] 1. Fix\n  - _Requirements: {links}_\n",
            bugfix("x", GOOD, GOOD)
        )
    };
    check_fires(&fix("2.1"), "K0010");
    check_clean(&fix("2.1, 3.1"), "K0010");
}

#[test]
fn k0011_property_validates_nothing() {
    let design = |validates: &str| {
        format!("{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\n*For any* x, THE App SHALL y.\n\n{validates}", req(GOOD))
    };
    check_fires(&design(""), "K0011");
    check_clean(&design("**Validates: Requirements 1.1**\n"), "K0011");
}

#[test]
fn k0012_property_undefined_criterion() {
    let design = |ids: &str| {
        format!("{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n**Validates: Requirements {ids}**\n", req(GOOD))
    };
    check_fires(&design("9.9"), "K0012");
    check_fires(&design("1.1, 4"), "K0012");
    check_clean(&design("1.1"), "K0012");
    check_clean(&design("1"), "K0012");
    check_clean("//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n**Validates: Requirements 9.9**\n", "K0012");
}

#[test]
fn k0013_missing_dependency() {
    let tasks = |deps: &str| {
        format!("//- tasks.md\n- [ ] 1. A\n- [ ] 2. B\n  - [ ] 2.1 C\n  - _Depends: {deps}_\n")
    };
    check_fires(&tasks("9"), "K0013");
    check_fires(&tasks("1, 2.7"), "K0013");
    check_clean(&tasks("1"), "K0013");
    check_clean(&tasks("2.1"), "K0013");
}

#[test]
fn k0014_dependency_cycle() {
    check_at(
        "//- tasks.md\n- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n  - _Depends: 1_\n",
        "K0014",
        "dependency cycle: 1 -> 2 -> 1",
        2,
        15,
        Some(16),
    );
    check_fires("//- tasks.md\n- [ ] 1. A\n  - _Depends: 1_\n", "K0014");
    let three = "//- tasks.md\n- [ ] 1. A\n  - _Depends: 3_\n- [ ] 2. B\n  - _Depends: 1_\n- [ ] 3. C\n  - _Depends: 2_\n";
    let found = diagnostics(three);
    let cycles: Vec<&str> = found
        .iter()
        .filter(|d| d.code == "K0014")
        .map(|d| d.message.as_str())
        .collect();
    // As `run` names it: each task waits for the one before it (2 for 1, 3
    // for 2, 1 for 3).
    assert_eq!(cycles, ["dependency cycle: 1 -> 2 -> 3 -> 1"]);
    check_clean(
        "//- tasks.md\n- [ ] 1. A\n- [ ] 2. B\n  - _Depends: 1_\n- [ ] 3. C\n  - _Depends: 1, 2_\n",
        "K0014",
    );
    check_clean("//- tasks.md\n- [ ] 1. A\n  - _Depends: 9_\n", "K0014");
}

#[test]
fn k0015_format() {
    check_fires(
        "//- tasks.md\n# Implementation Plan\n\n- [ ] 1. A\n- [?] 2. B\n",
        "K0015",
    );
    check_clean(
        "//- tasks.md\n# Implementation Plan\n\n- [ ] 1. A\n",
        "K0015",
    );
}

#[test]
fn k0016_undefined_property() {
    let spec = |design: bool| {
        let mut s = req(GOOD);
        if design {
            s.push_str("//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n**Validates: Requirements 1.1**\n");
        }
        s.push_str("//- tasks.md\n- [ ] 1. Test\n  - **Property 3: Q**\n  - _Requirements: 1.1_\n- [ ] 2. Test\n  - **Property 1: P**\n");
        s
    };
    check_fires(&spec(true), "K0016");
    check_clean(&spec(false), "K0016");
    assert_eq!(
        diagnostics(&spec(true))
            .iter()
            .filter(|d| d.code == "K0016")
            .count(),
        1
    );
}

#[test]
fn a_clean_spec_has_no_findings() {
    let fixture = format!(
        "{}//- design.md\n# Design\n\n## Overview\n\nText.\n\n## Correctness Properties\n\n### Property 1: Sessions\n\n*For any* valid credentials, THE Auth_Service SHALL create one session.\n\n**Validates: Requirements 1.1**\n\
         //- tasks.md\n# Implementation Plan\n\n- [ ] 1. Build sign-in\n  - _Requirements: 1.1_\n- [ ] 2. Test sessions\n  - **Property 1: Sessions**\n  - _Depends: 1_\n",
        req(GOOD)
    );
    let found = diagnostics(&fixture);
    assert!(found.is_empty(), "{}", show(&found));
}

#[test]
fn positions_point_at_the_offending_word() {
    check_at(
        &req("THE App SHALL be fast"),
        "K0004",
        "vague term \"fast\" in criterion 1.1",
        9,
        21,
        Some(25),
    );
    // Hard-wrapped criterion: the clause is on the continuation line.
    check_at(
        &req("THE App SHALL log").replace("log\n", "log\n   every attempt if possible\n"),
        "K0005",
        "escape clause \"if possible\" in criterion 1.1",
        10,
        18,
        Some(29),
    );
    check_at(
        &req("THE App SHALL a and SHALL b"),
        "K0003",
        "criterion 1.1 has 2 SHALLs",
        9,
        24,
        Some(29),
    );
    check_at(
        &req("The page loads in 2 s"),
        "K0002",
        "criterion 1.1 has no SHALL",
        9,
        4,
        Some(25),
    );
    // Columns count characters, not bytes.
    check_at(
        &req("WHEN 用户点击 THEN 系统 SHALL 快速 and fast"),
        "K0004",
        "vague term \"fast\" in criterion 1.1",
        9,
        35,
        Some(39),
    );
    check_at(
        &format!(
            "{}//- tasks.md\n- [ ] 1. Build\n  - _Requirements: 1.12, 1.1_\n",
            req(GOOD)
        ),
        "K0009",
        "task 1 references criterion 1.12, which is not defined",
        2,
        20,
        Some(24),
    );
}

#[test]
fn lint_spec_has_no_positions() {
    let (_dir, loaded) = load(&format!(
        "{}//- tasks.md\n- [ ] 1. A\n  - _Depends: 9_\n",
        req("THE App SHALL be fast")
    ));
    let found = lint_spec(&loaded.spec);
    let codes: Vec<&str> = found.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["K0004", "K0010", "K0013"]);
    assert!(found
        .iter()
        .all(|d| d.file.is_none() && d.line == 0 && d.column == 0 && d.end_column.is_none()));
}

#[test]
fn diagnostics_are_sorted_and_severities_follow_the_rules() {
    let found = diagnostics(&format!(
        "{}//- tasks.md\n- [ ] 1. A\n  - _Depends: 9_\n  - _Requirements: 9.9_\n",
        req("THE App SHALL be fast\nWHEN x THEN y\nTHE App SHALL a and SHALL b etc.")
    ));
    let keys: Vec<_> = found
        .iter()
        .map(|d| (d.file.clone(), d.line, d.column, d.code.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for d in &found {
        let rule = RULES.iter().find(|r| r.code == d.code).unwrap();
        assert_eq!(d.severity, rule.severity, "{}", d.code);
    }
    assert!(found.iter().any(|d| d.severity == Severity::Error));
}

/// Makes file paths relative to `base`, as a CLI run from the workspace root would.
fn relative(diagnostics: Vec<Diagnostic>, base: &Path) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|mut d| {
            d.file = d
                .file
                .map(|f| f.strip_prefix(base).map(Path::to_path_buf).unwrap_or(f));
            d
        })
        .collect()
}

#[test]
fn human_output_snapshot() {
    let (dir, spec) = load(&format!(
        "{}//- tasks.md\n# Implementation Plan\n\n- [ ] 1. Build\n  - _Requirements: 1.1, 1.9_\n",
        req("WHEN a user signs in, THE Auth_Service SHALL respond fast\nTHE 系统 SHALL 显示 etc.")
    ));
    let base = dir.path().to_path_buf();
    let found = relative(lint(&spec), &base);
    let source = move |p: &Path| std::fs::read_to_string(base.join(p)).ok();
    let text = render_human(&found, &source, false);
    let expected = "\
warning[K0004]: vague term \"fast\" in criterion 1.1
 --> demo/requirements.md:9:57
  |
9 | 1. WHEN a user signs in, THE Auth_Service SHALL respond fast
  |                                                         ^^^^
  |
  = help: replace it with something a test can check: a number, a limit, a list, a named standard

warning[K0010]: criterion 1.2 is not covered by any task
  --> demo/requirements.md:10:4
   |
10 | 2. THE 系统 SHALL 显示 etc.
   |    ^^^^^^^^^^^^^^^^^^^^^^^^
   |
   = help: link it from the task that implements it: `_Requirements: 1.2_`

warning[K0004]: vague term \"etc.\" in criterion 1.2
  --> demo/requirements.md:10:20
   |
10 | 2. THE 系统 SHALL 显示 etc.
   |                        ^^^^
   |
   = help: replace it with something a test can check: a number, a limit, a list, a named standard

error[K0009]: task 1 references criterion 1.9, which is not defined
 --> demo/tasks.md:4:25
  |
4 |   - _Requirements: 1.1, 1.9_
  |                         ^^^
  |
  = help: fix the `_Requirements:` link or add the criterion to the requirements

1 error, 3 warnings
";
    assert_eq!(text, expected, "got:\n{text}");
    // Colour wraps the same text in ANSI escapes.
    let coloured = render_human(&found, &|_| None, true);
    assert!(
        coloured.contains("\x1b[1;33mwarning[K0004]\x1b[0m"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b[1;31merror[K0009]\x1b[0m"),
        "{coloured}"
    );
}

#[test]
fn human_output_without_positions() {
    let d = Diagnostic {
        code: "K0014".into(),
        severity: Severity::Error,
        message: "dependency cycle: 1 -> 2 -> 1".into(),
        help: Some("remove one `_Depends:` link of the cycle".into()),
        file: None,
        line: 0,
        column: 0,
        end_column: None,
    };
    let text = render_human(
        &[
            d.clone(),
            Diagnostic {
                file: Some(PathBuf::from("tasks.md")),
                ..d
            },
        ],
        &|_| None,
        false,
    );
    assert_eq!(
        text,
        "error[K0014]: dependency cycle: 1 -> 2 -> 1\n  = help: remove one `_Depends:` link of the cycle\n\n\
         error[K0014]: dependency cycle: 1 -> 2 -> 1\n --> tasks.md\n  = help: remove one `_Depends:` link of the cycle\n\n\
         2 errors, 0 warnings\n"
    );
}

fn several_findings() -> (tempfile::TempDir, Vec<Diagnostic>) {
    let (dir, spec) = load(&format!(
        "{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: P\n\nx\n\n\
         //- tasks.md\n- [ ] 1. A\n  - _Depends: 2_\n  - _Requirements: 7.1_\n- [ ] 2. B\n  - _Depends: 1_\n- [?] 3. C\n",
        req("THE App SHALL be fast if possible\nWHEN x THEN y\nTHE App SHALL a and SHALL b TBD\nAfter x, the App SHALL y")
    ));
    let base = dir.path().to_path_buf();
    let found = relative(lint(&spec), &base);
    (dir, found)
}

#[test]
fn json_output_round_trips() {
    let (_dir, found) = several_findings();
    let json = render_json(&found);
    let back: Vec<Diagnostic> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, found);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first = &value[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "code",
        "severity",
        "message",
        "help",
        "file",
        "line",
        "column",
        "end_column",
    ] {
        assert!(keys.contains(&key), "{key} missing in {first}");
    }
    assert_eq!(render_json(&[]), "[]");
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let (_dir, found) = several_findings();
    let codes: std::collections::BTreeSet<&str> = found.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.len() >= 8, "{codes:?}");
    let log = render_sarif(&found, "1.2.3");
    let schema_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/sarif-2.1.0.json"
    ))
    .unwrap();
    // The published schema's `language` pattern has a stray `]` that the regex
    // check rejects; use its evident intent (see schemas/README.md).
    let stray = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert!(schema_text.contains(stray));
    let schema_text = schema_text.replace(stray, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["version"], "1.2.3");
    // Every rule, then the load error's.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RULES.len() + 1);
    assert_eq!(rules[RULES.len()]["id"], "K0000");
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), found.len());
    for (result, d) in results.iter().zip(&found) {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(RULES[index].code, d.code);
        assert_eq!(result["ruleId"], d.code.as_str());
        assert_eq!(result["level"], d.severity.as_str());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("demo/") && !uri.contains('\\'), "{uri}");
        assert_eq!(location["region"]["startLine"], d.line);
    }
    // A deliberately broken log is rejected, so the validation above means something.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn corpus_lints_without_panics_and_with_sane_positions() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        fixtures::missing(dir);
        eprintln!("skipped: fixtures not found at {}", dir.display());
        return;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        if !entry.path().is_dir() {
            continue;
        }
        let Ok(spec) = load_spec(&entry.path()) else {
            continue;
        };
        let found = lint(&spec);
        for d in &found {
            assert!(RULES.iter().any(|r| r.code == d.code));
            let file = d.file.as_ref().expect("corpus diagnostics have files");
            let text = std::fs::read_to_string(file).unwrap();
            let lines = text.split('\n').count() as u32;
            assert!(d.line <= lines, "{d:?}");
            if let Some(end) = d.end_column {
                assert!(end >= d.column && d.column >= 1, "{d:?}");
            }
        }
        let rendered = render_human(&found, &kiro_core::lint::read_source, false);
        assert!(rendered.ends_with("warnings\n") || rendered.ends_with("warning\n"));
        let sarif = render_sarif(&found, "0.0.0");
        assert_eq!(
            sarif["runs"][0]["results"].as_array().unwrap().len(),
            found.len()
        );
        total += found.len();
    }
    assert!(total > 0);
}

mod never_panics {
    use kiro_core::lint::{lint_spec, render_human, render_sarif};
    use kiro_core::spec::{
        AcceptanceCriterion, CriterionId, Requirement, RequirementId, RequirementsDoc, Spec, Task,
        TaskId, TaskList,
    };
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "WHEN ",
            "THE ",
            "SHALL ",
            "shall ",
            "fast ",
            "etc.",
            "if possible",
            "TBD ",
            "`",
            "，",
            "用户",
            " ",
            "\n",
            "1.1",
            "-",
            "_",
        ]);
        prop::collection::vec(atoms, 0..20).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn lint_spec_never_panics(
            texts in prop::collection::vec(words(), 0..6),
            deps in prop::collection::vec((0u8..6, 0u8..6), 0..10),
        ) {
            let criteria = texts
                .iter()
                .enumerate()
                .map(|(i, t)| AcceptanceCriterion { id: CriterionId::new(format!("1.{}", i % 3)), text: t.clone(), ears: None })
                .collect();
            let mut tasks: Vec<Task> = (0..6)
                .map(|i| Task { id: Some(TaskId::new(i.to_string())), title: "t".into(), ..Task::default() })
                .collect();
            for (from, to) in deps {
                tasks[from as usize].depends_on.push(TaskId::new(to.to_string()));
            }
            let spec = Spec {
                requirements: Some(RequirementsDoc {
                    requirements: vec![Requirement { id: RequirementId::new("1"), criteria, ..Requirement::default() }],
                    ..RequirementsDoc::default()
                }),
                tasks: Some(TaskList { tasks, ..TaskList::default() }),
                ..Spec::default()
            };
            let found = lint_spec(&spec);
            let _ = render_human(&found, &|_| None, true);
            let _ = render_sarif(&found, "0");
        }
    }
}

// ---------------------------------------------------------------------------
// The plan: lint reports what `run` refuses (issue 11, item 7). The graph
// lint checks is the one `run` builds, with its implicit edges (a parent
// waits for its sub-tasks; in document order a task waits for the one
// before it), so a cycle through them is reported as `run` names it.

#[test]
fn k0018_unreadable_depends() {
    let tasks =
        |deps: &str| format!("//- tasks.md\n- [ ] 1. A\n- [ ] 2. B\n  - _Depends: {deps}_\n");
    check_at(
        &tasks("task one"),
        "K0018",
        "task 2 depends on \"task one\", which names no task",
        3,
        15,
        Some(23),
    );
    // One item of a list that is not a task id is not read either.
    check_at(
        &tasks("1, the schema"),
        "K0018",
        "task 2 depends on \"the schema\", which names no task",
        3,
        18,
        Some(28),
    );
    check_fires(&tasks("v2"), "K0018");
    check_fires(&tasks("none"), "K0018");
    for readable in ["1", "1, 1.1", "Task 1", "1 (the schema)", "1; 1.1", "", "-"] {
        check_clean(&tasks(readable), "K0018");
    }
    let found = diagnostics(&tasks("task one"));
    let d = found.iter().find(|d| d.code == "K0018").unwrap();
    assert_eq!(d.severity, Severity::Error);
    let help = d.help.as_deref().unwrap();
    assert!(
        help.contains("`1.2`") && help.contains("`1, 2.3`"),
        "{help}"
    );
}

#[test]
fn a_sub_task_depending_on_its_parent_is_a_cycle() {
    check_at(
        "//- tasks.md\n- [ ] 1. A\n- [ ] 2. B\n  - [ ] 2.1 C\n    - _Depends: 2_\n  - [ ] 2.2 D\n",
        "K0014",
        "dependency cycle: 2 -> 2.1 -> 2",
        4,
        17,
        Some(18),
    );
    let found = diagnostics(
        "//- tasks.md\n- [ ] 1. A\n- [ ] 2. B\n  - [ ] 2.1 C\n    - _Depends: 2_\n  - [ ] 2.2 D\n",
    );
    let help = found
        .iter()
        .find(|d| d.code == "K0014")
        .and_then(|d| d.help.clone())
        .unwrap();
    assert!(help.contains("2 waits for its sub-task 2.1"), "{help}");
}

#[test]
fn in_document_order_a_dependency_on_a_later_task_is_a_cycle() {
    // Task 2 waits for task 1 (the one before it), task 1 for task 2.
    let fixture = "//- tasks.md\n- [ ] 1. A\n  - _Depends: 2_\n- [ ] 2. B\n";
    check_at(
        fixture,
        "K0014",
        "dependency cycle: 1 -> 2 -> 1",
        2,
        15,
        Some(16),
    );
    // In declared order only `_Depends:` orders tasks.
    let (_dir, loaded) = load(fixture);
    let declared = kiro_core::lint::lint_with(
        &loaded,
        kiro_core::lint::LintOptions::default().order(kiro_core::config::TaskOrder::Declared),
    );
    assert!(
        !declared.iter().any(|d| d.code == "K0014"),
        "{}",
        show(&declared)
    );
}

/// Lint and `run` read a plan through one builder: on any task tree, lint's
/// plan errors are exactly the problems a run refuses the plan for, and a
/// plan lint finds none in is one a run accepts.
mod lint_and_run_agree {
    use kiro_core::config::TaskOrder;
    use kiro_core::lint::{lint_spec_with, LintOptions};
    use kiro_core::pipeline::TaskGraph;
    use kiro_core::spec::{Spec, Task, TaskId, TaskList};
    use kiro_core::Error;
    use proptest::prelude::*;

    const PLAN_CODES: [&str; 4] = ["K0007", "K0013", "K0014", "K0018"];

    /// Tasks `1`..`n` with up to three sub-tasks each, some renumbered to
    /// an id already used, and `_Depends:` items naming any task, a
    /// missing one (`9`) or none (`x`).
    fn plans() -> impl Strategy<Value = (TaskList, TaskOrder)> {
        let shape = prop::collection::vec(0usize..4, 1..5);
        let picks = prop::collection::vec((0usize..40, 0usize..40, 0usize..6), 0..8);
        let dup = prop::option::of((0usize..40, 0usize..40));
        let order = prop_oneof![Just(TaskOrder::Document), Just(TaskOrder::Declared)];
        (shape, picks, dup, order).prop_map(|(shape, picks, dup, order)| {
            let task = |id: String| Task {
                title: format!("Task {id}"),
                id: Some(TaskId::new(id)),
                ..Task::default()
            };
            let mut tasks: Vec<Task> = shape
                .iter()
                .enumerate()
                .map(|(i, &subs)| {
                    let mut t = task((i + 1).to_string());
                    t.subtasks = (1..=subs).map(|j| task(format!("{}.{j}", i + 1))).collect();
                    t
                })
                .collect();
            let paths: Vec<(usize, Option<usize>)> = shape
                .iter()
                .enumerate()
                .flat_map(|(i, &subs)| {
                    std::iter::once((i, None)).chain((0..subs).map(move |j| (i, Some(j))))
                })
                .collect();
            let ids: Vec<String> = paths
                .iter()
                .map(|(i, j)| match j {
                    None => (i + 1).to_string(),
                    Some(j) => format!("{}.{}", i + 1, j + 1),
                })
                .collect();
            for (from, to, kind) in picks {
                let t = task_at(&mut tasks, paths[from % paths.len()]);
                match kind {
                    0 => t.unreadable_depends.push("x".into()),
                    1 => t.depends_on.push(TaskId::new("9")),
                    _ => t.depends_on.push(TaskId::new(ids[to % ids.len()].clone())),
                }
            }
            if let Some((a, b)) = dup {
                let id = ids[b % ids.len()].clone();
                task_at(&mut tasks, paths[a % paths.len()]).id = Some(TaskId::new(id));
            }
            (
                TaskList {
                    tasks,
                    ..TaskList::default()
                },
                order,
            )
        })
    }

    fn task_at(tasks: &mut [Task], (i, j): (usize, Option<usize>)) -> &mut Task {
        let t = &mut tasks[i];
        match j {
            None => t,
            Some(j) => &mut t.subtasks[j],
        }
    }

    proptest! {
        #[test]
        fn lint_reports_what_run_refuses((list, order) in plans()) {
            let spec = Spec { tasks: Some(list.clone()), ..Spec::default() };
            let mut linted: Vec<(String, String)> = lint_spec_with(&spec, LintOptions::default().order(order))
                .into_iter()
                .filter(|d| PLAN_CODES.contains(&d.code.as_str()))
                .map(|d| (d.code, d.message))
                .collect();
            linted.sort();
            let mut refused: Vec<(String, String)> = match TaskGraph::build(&list, order) {
                Ok(_) => Vec::new(),
                Err(Error::AmbiguousPlan { problems }) => problems
                    .into_iter()
                    .map(|p| (p.code.to_owned(), p.message))
                    .collect(),
                Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other}"))),
            };
            refused.sort();
            prop_assert_eq!(linted, refused);
        }
    }
}

// Large inputs (issue 11, item 12): lint reads each criterion once for every
// word list and looks up lines and source-map entries through indexes, so a
// large file is linted in time linear in its size (see the `lint/*`
// benchmarks for figures). These tests check that the indexed paths place
// findings exactly where the small cases do.

/// A requirements file of `n` requirements, each with a vague term, a
/// placeholder and an escape clause in its second criterion.
fn large_requirements(n: usize) -> String {
    let mut text = String::from("# Requirements Document\n\n## Requirements\n");
    for i in 1..=n {
        text.push_str(&format!(
            "\n### Requirement {i}: Operation {i}\n\n#### Acceptance Criteria\n\n\
             1. WHEN request {i} arrives, THE Store SHALL persist it\n\
             2. WHEN request {i} fails, THE Store SHALL respond fast with code TBD where possible.\n"
        ));
    }
    text
}

#[test]
fn findings_of_a_large_file_point_at_their_lines() {
    let n = 3_000;
    let text = large_requirements(n);
    let (_dir, spec) = load(&text);
    let found = lint(&spec);
    assert_eq!(found.len(), 3 * n, "{}", show(&found[..6]));
    // Three header lines, then seven per requirement; the last line is
    // requirement n's second criterion.
    let last = &found[found.len() - 3..];
    let line = 3 + 7 * n as u32;
    let source_line = text.lines().nth(line as usize - 1).unwrap();
    let column = |word: &str| source_line.find(word).unwrap() as u32 + 1;
    let at: Vec<(u32, u32, &str)> = last
        .iter()
        .map(|d| (d.line, d.column, d.code.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            (line, column("fast"), "K0004"),
            (line, column("TBD"), "K0006"),
            (line, column("where possible"), "K0005")
        ],
        "{}",
        show(last)
    );
    let source = |_: &Path| Some(text.clone());
    let human = render_human(&found[found.len() - 1..], &source, false);
    assert!(
        human.contains(&format!(
            "{line} | 2. WHEN request {n} fails, THE Store SHALL respond fast with code TBD where possible."
        )),
        "{human}"
    );
}

/// A criterion of one long line, dense with terms inside and outside code
/// spans: each term is reported once, at its first occurrence outside code
/// (`fast` only as the last word, `simple` never).
#[test]
fn a_long_single_line_criterion() {
    let chunk = " keep the `fast` path robust where possible and `simple`,";
    let line = format!(
        "1. WHEN a batch arrives, THE Store SHALL{} be fast",
        chunk.repeat(20_000)
    );
    let text = format!(
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Batches\n\n#### Acceptance Criteria\n\n{line}\n"
    );
    let found = diagnostics(&text);
    let codes: Vec<(&str, u32, u32)> = found
        .iter()
        .map(|d| (d.code.as_str(), d.line, d.column))
        .collect();
    // `fast` and `simple` are in code until the last word.
    let column = |word: &str| line.find(word).unwrap() as u32 + 1;
    let fast = line.rfind("fast").unwrap() as u32 + 1;
    assert_eq!(
        codes,
        [
            ("K0004", 9, column("robust")),
            ("K0005", 9, column("where possible")),
            ("K0004", 9, fast)
        ],
        "{}",
        show(&found)
    );
}

// ---------------------------------------------------------------------------
// Load errors in machine output (issue 11, item 11): a spec that cannot be
// loaded is a K0000 error diagnostic, a SARIF result and a failed invocation
// with a notification, so that no output of it looks clean.

/// The SARIF 2.1.0 schema's complaints about `log`.
fn sarif_schema_errors(log: &serde_json::Value) -> Vec<String> {
    let schema_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/sarif-2.1.0.json"
    ))
    .unwrap();
    let stray = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    let schema_text = schema_text.replace(stray, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn load_errors_are_diagnostics_results_and_notifications() {
    use kiro_core::lint::LOAD_ERROR;

    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("demo");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(
        spec_dir.join("requirements.md"),
        b"# Requirements Document\n\n## Introduction\n\nNa\xefve\n",
    )
    .unwrap();
    let error = load_spec(&spec_dir).unwrap_err();
    let d = Diagnostic::load_error(&spec_dir, &error);
    assert_eq!(
        (d.code.as_str(), d.severity, d.line, d.column),
        ("K0000", Severity::Error, 5, 3)
    );
    assert_eq!(
        d.file.as_deref(),
        Some(spec_dir.join("requirements.md").as_path())
    );
    assert_eq!(d.message, "spec not loaded: not UTF-8 text (byte 44)");
    assert_eq!(d.help.as_deref(), Some("save the file as UTF-8"));
    assert_eq!((LOAD_ERROR.code, LOAD_ERROR.name), ("K0000", "load-error"));
    assert!(RULES.iter().all(|r| r.code != LOAD_ERROR.code));

    // Errors without a file of their own name the spec folder.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let d2 = Diagnostic::load_error(&empty, &load_spec(&empty).unwrap_err());
    assert_eq!(d2.file.as_deref(), Some(empty.as_path()));
    assert_eq!((d2.line, d2.column), (0, 0));

    // JSON: the diagnostic like any other.
    let json: serde_json::Value =
        serde_json::from_str(&render_json(std::slice::from_ref(&d))).unwrap();
    assert_eq!(json[0]["code"], "K0000");
    assert_eq!(json[0]["severity"], "error");
    assert_eq!(json[0]["line"], 5);

    // SARIF: a result with its rule, and a failed invocation naming it.
    let (_other, mut found) = several_findings();
    found.insert(0, d);
    let log = render_sarif(&found, "1.2.3");
    let errors = sarif_schema_errors(&log);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let run = &log["runs"][0];
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "K0000");
    assert_eq!(result["level"], "error");
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "K0000");
    assert_eq!(
        run["tool"]["driver"]["rules"][index]["defaultConfiguration"]["level"],
        "error"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({ "startLine": 5, "startColumn": 3 })
    );
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0]["message"]["text"],
        "spec not loaded: not UTF-8 text (byte 44)"
    );
    assert_eq!(notes[0]["associatedRule"]["index"], index);
    assert_eq!(notes[0]["locations"], result["locations"]);

    // Human output shows it as an error.
    let human = render_human(&found[..1], &|_| None, false);
    assert!(
        human.starts_with("error[K0000]: spec not loaded"),
        "{human}"
    );
    assert!(human.ends_with("1 error, 0 warnings\n"), "{human}");
}

// ---------------------------------------------------------------------------
// The `kiro-property` block (K0019 to K0025).
// ---------------------------------------------------------------------------

/// A spec whose design has one property with `json` as its block, after
/// the statement: the block's first JSON line is line 10 of design.md.
fn with_block(json: &str) -> String {
    format!(
        "{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: Codec\n\n*For any* s, decode(encode(s)) SHALL equal s.\n\n```json kiro-property\n{json}\n```\n\n**Validates: Requirements 1.1**\n",
        req(GOOD)
    )
}

/// The block rules' diagnostics on `with_block(json)`, as
/// `code line:column-end message`.
#[track_caller]
fn check_block(json: &str, expected: &[&str]) {
    let found = diagnostics(&with_block(json));
    let got: Vec<String> = found
        .iter()
        .filter(|d| ("K0019"..="K0025").contains(&d.code.as_str()))
        .map(|d| {
            format!(
                "{} {}:{}-{} {}",
                d.code,
                d.line,
                d.column,
                d.end_column.unwrap_or(0),
                d.message
            )
        })
        .collect();
    assert_eq!(
        got,
        expected,
        "block rules on\n{json}\nall:\n{}",
        show(&found)
    );
    for d in found
        .iter()
        .filter(|d| ("K0019"..="K0025").contains(&d.code.as_str()))
    {
        assert_eq!(d.severity, Severity::Error);
        if d.code == "K0020" || d.code == "K0024" {
            assert!(d.help.is_some(), "{d:?}");
        }
    }
}

/// Valid blocks of every kind draw no block diagnostic.
#[test]
fn valid_property_blocks_are_clean() {
    for json in [
        r##"{"kind": "round-trip", "ops": ["encode", "decode"], "input": {"type": "string", "maxLength": 200}, "target": {"process": ["python3", "codec.py"]}}"##,
        r##"{"kind": "idempotent", "ops": ["normalize"], "target": {"http": "https://localhost:8080"}}"##,
        r##"{"kind": "invariant", "ops": ["sort"], "input": {"type": "array", "items": {"type": "integer"}}, "output": {"type": "array", "minItems": 0}}"##,
        r##"{"kind": "oracle", "ops": ["sqrt"], "input": {"type": "number", "minimum": 0, "exclusiveMaximum": 1e9}, "reference": {"op": "sqrt", "process": ["python3", "ref.py"]}}"##,
        r##"{"kind": "oracle", "ops": ["sqrt"], "rust": {"f": "crate::sqrt", "reference": "f64::sqrt"}}"##,
        r##"{"kind": "permutation-invariant", "ops": ["sum"], "input": {"type": "array", "items": [{"type": "integer"}], "additionalItems": false}, "cases": 500}"##,
        r##"{"kind": "no-error", "ops": ["parse"], "input": {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}}"##,
        r##"{"kind": "rejects-invalid", "ops": ["parse"], "input": {"type": ["string", "null"], "pattern": "^a", "format": "email", "x-note": 3}}"##,
    ] {
        check_block(json, &[]);
    }
}

#[test]
fn k0019_property_block_json() {
    check_block(
        "{\"kind\": \"no-error\",\n \"ops\": [\"f\"],}",
        &["K0019 11:15-16 property 1: kiro-property block is not JSON: trailing comma"],
    );
    // Columns count characters, also after a non-ASCII one.
    check_block(
        "{\"kind\": \"über\",,}",
        &["K0019 10:17-18 property 1: kiro-property block is not JSON: key must be a string"],
    );
    check_block(
        "not json",
        &["K0019 10:2-3 property 1: kiro-property block is not JSON: expected ident"],
    );
    // What the walk does not look for, serde still refuses: its words.
    check_block(
        "{\"kind\": \"no-error\", \"kind\": \"no-error\", \"ops\": [\"f\"]}",
        &["K0019 10:1-2 property 1: kiro-property block does not read as a property: duplicate field `kind`"],
    );
    check_block(
        "[\"round-trip\"]",
        &["K0019 10:1-2 property 1: kiro-property block is not a JSON object: [\"round-trip\"]"],
    );
}

#[test]
fn k0020_property_kind() {
    check_block(
        "{\"kind\": \"roundtrip\", \"ops\": [\"f\"]}",
        &["K0020 10:2-8 property 1: unknown kind \"roundtrip\""],
    );
    check_block(
        "{\"ops\": [\"f\"]}",
        &["K0020 10:1-2 property 1: kiro-property block has no kind"],
    );
    check_block(
        "{\"kind\": 3, \"ops\": [\"f\"]}",
        &["K0020 10:2-8 property 1: kind must be a string, found 3"],
    );
    let found = diagnostics(&with_block("{\"kind\": \"roundtrip\", \"ops\": [\"f\"]}"));
    let help = found
        .iter()
        .find(|d| d.code == "K0020")
        .and_then(|d| d.help.clone());
    assert_eq!(
        help.as_deref(),
        Some("the kinds are round-trip, idempotent, invariant, oracle, permutation-invariant, no-error, rejects-invalid")
    );
}

#[test]
fn k0021_property_field() {
    check_block(
        "{\"kind\": \"no-error\",\n \"opps\": [\"f\"], \"ops\": [\"f\"]}",
        &["K0021 11:2-8 property 1: unknown field \"opps\" in the kiro-property block"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"target\": {\"process\": [\"x\"], \"timeout\": 5},\n \"rust\": {\"f\": 3, \"h\": \"x\"},\n \"cases\": 0}",
        &[
            "K0021 11:31-40 property 1: unknown field \"timeout\" in the target",
            "K0021 12:11-14 property 1: rust.f must be a string, found 3",
            "K0021 12:19-22 property 1: unknown field \"h\" in the rust binding",
            "K0021 13:2-9 property 1: cases must be a whole number from 1 to 4294967295, found 0",
        ],
    );
}

#[test]
fn k0022_property_ops() {
    check_block(
        "{\"kind\": \"round-trip\",\n \"ops\": [\"encode\"]}",
        &["K0022 11:2-7 property 1: round-trip property needs 2 ops, found 1"],
    );
    check_block(
        "{\"kind\": \"idempotent\"}",
        &["K0022 10:1-2 property 1: idempotent property needs 1 op, found 0"],
    );
    check_block(
        "{\"kind\": \"idempotent\", \"ops\": \"trim\"}",
        &["K0022 10:24-29 property 1: ops must be an array of operation names, found \"trim\""],
    );
    check_block(
        "{\"kind\": \"round-trip\", \"ops\": [\"a\", \"\"]}",
        &["K0022 10:37-39 property 1: op 2 must be a non-empty name, found \"\""],
    );
}

#[test]
fn k0023_property_target() {
    check_block(
        "{\"kind\": \"oracle\", \"ops\": [\"f\"]}",
        &["K0023 10:1-2 property 1: oracle property has no reference"],
    );
    check_block(
        "{\"kind\": \"oracle\", \"ops\": [\"f\"],\n \"reference\": {\"op\": \"f\", \"process\": [\"a\"], \"http\": \"http://x\"}}",
        &["K0023 11:2-13 property 1: reference names both process and http"],
    );
    check_block(
        "{\"kind\": \"oracle\", \"ops\": [\"f\"],\n \"reference\": {\"process\": [\"a\"]}}",
        &["K0023 11:2-13 property 1: reference has no op"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"target\": {\"process\": []}}",
        &["K0023 11:13-22 property 1: target process has no program to run"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"target\": {\"http\": \"ftp://host/api\"}}",
        &["K0023 11:13-19 property 1: target url \"ftp://host/api\" does not start with http:// or https://"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"target\": {}}",
        &["K0023 11:2-10 property 1: target names neither process nor http"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"target\": [\"python3\"]}",
        &["K0023 11:2-10 property 1: target must be an object, found [\"python3\"]"],
    );
}

#[test]
fn k0024_property_output() {
    check_block(
        "{\"kind\": \"invariant\", \"ops\": [\"sort\"]}",
        &["K0024 10:1-2 property 1: invariant property has no output schema"],
    );
    check_block(
        "{\"kind\": \"invariant\", \"ops\": [\"sort\"], \"output\": null}",
        &["K0024 10:1-2 property 1: invariant property has no output schema"],
    );
}

#[test]
fn k0025_property_schema() {
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"],\n \"input\": 3}",
        &["K0025 11:2-9 property 1: input schema: a schema must be an object or a boolean, found 3"],
    );
    check_block(
        "{\"kind\": \"no-error\", \"ops\": [\"f\"], \"input\": {\n  \"type\": \"strng\",\n  \"minLength\": \"3\",\n  \"required\": \"id\",\n  \"properties\": [],\n  \"items\": {\"type\": [\"integer\", \"float\"]},\n  \"anyOf\": []\n}}",
        &[
            "K0025 11:3-9 property 1: input schema: type \"strng\" is not a JSON type",
            "K0025 12:3-14 property 1: input schema: minLength must be a non-negative integer, found \"3\"",
            "K0025 13:3-13 property 1: input schema: required must be an array of property names, found \"id\"",
            "K0025 14:3-15 property 1: input schema: properties must be an object of schemas, found []",
            "K0025 15:33-40 property 1: input schema at /items: type \"float\" is not a JSON type",
            "K0025 16:3-10 property 1: input schema: anyOf must be a non-empty array of schemas, found []",
        ],
    );
    check_block(
        "{\"kind\": \"invariant\", \"ops\": [\"f\"],\n \"input\": {\"minLength\": 5, \"maxLength\": 3},\n \"output\": {\"properties\": {\"n\": {\"exclusiveMinimum\": 2, \"exclusiveMaximum\": 2}, \"m\": {\"$ref\": \"#/$defs/none\"}}}}",
        &[
            "K0025 11:12-23 property 1: input schema: minLength 5 and maxLength 3 leave no value",
            "K0025 12:34-52 property 1: output schema at /properties/n: exclusiveMinimum 2 and exclusiveMaximum 2 leave no value",
            "K0025 12:87-93 property 1: output schema at /properties/m: $ref \"#/$defs/none\" points at nothing in the schema",
        ],
    );
}

/// Every problem of a block is reported, also without positions, and a
/// block in the notes or outside the canonical places is checked too.
#[test]
fn property_blocks_report_every_problem_wherever_they_stand() {
    let json = "{\"kind\": \"round-trip\", \"ops\": [\"f\"], \"extra\": 1, \"input\": {\"type\": \"text\"}}";
    let (_dir, spec) = load(&with_block(json));
    let mut codes: Vec<String> = lint_spec(&spec.spec).into_iter().map(|d| d.code).collect();
    codes.retain(|c| ("K0019"..="K0025").contains(&c.as_str()));
    assert_eq!(codes, ["K0021", "K0022", "K0025"]);

    let in_notes = format!(
        "{}//- design.md\n# Design\n\n## Correctness Properties\n\n### Property 1: Codec\n\nS.\n\n**Validates: Requirements 1.1**\n\nNotes.\n\n~~~json kiro-property\n{{\"kind\": \"sorted\"}}\n~~~\n",
        req(GOOD)
    );
    check_at(
        &in_notes,
        "K0020",
        "property 1: unknown kind \"sorted\"",
        14,
        2,
        Some(8),
    );
}

/// The snippet under a block diagnostic is the JSON line at fault.
#[test]
fn property_block_diagnostics_show_the_json_line() {
    let (dir, spec) = load(&with_block(
        "{\"kind\": \"no-error\",\n \"ops\": [\"f\"], \"cases\": -1}",
    ));
    let found: Vec<Diagnostic> = lint(&spec)
        .into_iter()
        .filter(|d| d.code == "K0021")
        .collect();
    let text = render_human(
        &relative(found, dir.path()),
        &|p: &Path| std::fs::read_to_string(dir.path().join(p)).ok(),
        false,
    );
    assert!(text.contains(" \"ops\": [\"f\"], \"cases\": -1}"), "{text}");
    assert!(text.contains("demo/design.md:11:16"), "{text}");
}
