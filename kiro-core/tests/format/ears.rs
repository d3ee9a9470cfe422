//! EARS classification (`Ears::parse`) and the plain-text converter
//! (`requirements_from_text`): one-line cases through `check` helpers.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiro_core::ears::requirements_from_text;
use kiro_core::spec::{ClauseKeyword, ClauseKeyword::*, Ears, EarsPattern, EarsPattern::*};

use crate::fixtures;

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

/// Asserts the full EARS reading of a sentence whose modal verb is in the
/// language `language` (ISO 639-1), as [`check`] does.
#[track_caller]
fn check_in(
    language: &str,
    input: &str,
    pattern: EarsPattern,
    conditions: &[(ClauseKeyword, &str)],
    system: &str,
    response: &str,
) {
    check(input, pattern, conditions, system, response);
    let ears = Ears::parse(input).unwrap();
    assert_eq!(
        ears.language.as_deref(),
        Some(language),
        "language of {input:?}"
    );
}

#[test]
fn german() {
    let de = |input, pattern, conditions: &[_], system, response| {
        check_in("de", input, pattern, conditions, system, response)
    };
    de(
        "WENN der Benutzer auf „Speichern“ klickt, DANN SOLL das System die Änderungen speichern",
        EventDriven,
        &[(When, "der Benutzer auf „Speichern“ klickt")],
        "das System",
        "die Änderungen speichern",
    );
    de(
        "WÄHREND die Verbindung unterbrochen ist, MUSS die App Änderungen lokal zwischenspeichern",
        StateDriven,
        &[(While, "die Verbindung unterbrochen ist")],
        "die App",
        "Änderungen lokal zwischenspeichern",
    );
    de(
        "FALLS das Token abgelaufen ist, DANN MUSS der Auth_Service die Anfrage ablehnen",
        Unwanted,
        &[(If, "das Token abgelaufen ist")],
        "der Auth_Service",
        "die Anfrage ablehnen",
    );
    de(
        "SOFERN die Zwei-Faktor-Anmeldung aktiviert ist, SOLL das System einen Code per SMS senden",
        Optional,
        &[(Where, "die Zwei-Faktor-Anmeldung aktiviert ist")],
        "das System",
        "einen Code per SMS senden",
    );
    de(
        "Das System MUSS jede Anfrage protokollieren.",
        Ubiquitous,
        &[],
        "Das System",
        "jede Anfrage protokollieren.",
    );
    de(
        "SOLANGE der Editor offline ist, WENN der Benutzer speichert, SOLL der Editor die Änderung vormerken",
        Complex,
        &[(While, "der Editor offline ist"), (When, "der Benutzer speichert")],
        "der Editor",
        "die Änderung vormerken",
    );
    de(
        "wenn die Datei größer als 10 MB ist, dann muss der Upload-Dienst die Datei ablehnen",
        EventDriven,
        &[(When, "die Datei größer als 10 MB ist")],
        "der Upload-Dienst",
        "die Datei ablehnen",
    );
    check_none("WENN der Benutzer klickt, DANN wird die Seite angezeigt");
}

#[test]
fn french() {
    let fr = |input, pattern, conditions: &[_], system, response| {
        check_in("fr", input, pattern, conditions, system, response)
    };
    fr(
        "LORSQUE l'utilisateur clique sur Enregistrer, LE système DOIT sauvegarder les modifications",
        EventDriven,
        &[(When, "l'utilisateur clique sur Enregistrer")],
        "LE système",
        "sauvegarder les modifications",
    );
    fr(
        "Lorsqu'un utilisateur se déconnecte, le système doit supprimer sa session",
        EventDriven,
        &[(When, "un utilisateur se déconnecte")],
        "le système",
        "supprimer sa session",
    );
    fr(
        "PENDANT QUE la connexion est perdue, L'application DOIT conserver les brouillons localement",
        StateDriven,
        &[(While, "la connexion est perdue")],
        "L'application",
        "conserver les brouillons localement",
    );
    fr(
        "SI le jeton a expiré, ALORS LE service d'authentification DOIT refuser la requête",
        Unwanted,
        &[(If, "le jeton a expiré")],
        "LE service d'authentification",
        "refuser la requête",
    );
    fr(
        "OÙ l'export PDF est activé, LE système DOIT proposer un bouton de téléchargement",
        Optional,
        &[(Where, "l'export PDF est activé")],
        "LE système",
        "proposer un bouton de téléchargement",
    );
    // The negation moves to the response, which reads as an infinitive.
    fr(
        "LE système NE DOIT PAS enregistrer les mots de passe en clair",
        Ubiquitous,
        &[],
        "LE système",
        "NE PAS enregistrer les mots de passe en clair",
    );
    check_none("QUAND l'utilisateur clique, la page s'affiche");
}

#[test]
fn spanish() {
    let es = |input, pattern, conditions: &[_], system, response| {
        check_in("es", input, pattern, conditions, system, response)
    };
    es(
        "CUANDO el usuario inicie sesión ENTONCES el sistema DEBERÁ mostrar el panel principal",
        EventDriven,
        &[(When, "el usuario inicie sesión")],
        "el sistema",
        "mostrar el panel principal",
    );
    // No comma and no ENTONCES: the system starts at the last article.
    es(
        "CUANDO se cargue la página de inicio el sistema DEBERÁ mostrar el estado de conexión",
        EventDriven,
        &[(When, "se cargue la página de inicio")],
        "el sistema",
        "mostrar el estado de conexión",
    );
    es(
        "MIENTRAS la sincronización esté en curso, el sistema DEBE mostrar un indicador de progreso",
        StateDriven,
        &[(While, "la sincronización esté en curso")],
        "el sistema",
        "mostrar un indicador de progreso",
    );
    es(
        "SI el pago es rechazado, ENTONCES el sistema DEBE notificar al usuario",
        Unwanted,
        &[(If, "el pago es rechazado")],
        "el sistema",
        "notificar al usuario",
    );
    es(
        "DONDE el modo oscuro esté habilitado, la aplicación DEBE usar la paleta oscura",
        Optional,
        &[(Where, "el modo oscuro esté habilitado")],
        "la aplicación",
        "usar la paleta oscura",
    );
    es(
        "El sistema NO DEBE almacenar contraseñas en texto plano",
        Ubiquitous,
        &[],
        "El sistema",
        "NO almacenar contraseñas en texto plano",
    );
    check_none("CUANDO el usuario guarda, se muestra un mensaje");
}

#[test]
fn portuguese() {
    let pt = |input, pattern, conditions: &[_], system, response| {
        check_in("pt", input, pattern, conditions, system, response)
    };
    pt(
        "QUANDO o paciente acessa o painel ENTÃO o sistema DEVE exibir as especialidades disponíveis",
        EventDriven,
        &[(When, "o paciente acessa o painel")],
        "o sistema",
        "exibir as especialidades disponíveis",
    );
    pt(
        "ENQUANTO a consulta estiver em andamento, o sistema DEVE manter a chamada de vídeo ativa",
        StateDriven,
        &[(While, "a consulta estiver em andamento")],
        "o sistema",
        "manter a chamada de vídeo ativa",
    );
    pt(
        "SE não houver médicos disponíveis ENTÃO o sistema DEVE exibir o status Indisponível",
        Unwanted,
        &[(If, "não houver médicos disponíveis")],
        "o sistema",
        "exibir o status Indisponível",
    );
    pt(
        "ONDE o pagamento por PIX estiver habilitado, o sistema DEVERÁ gerar um QR code",
        Optional,
        &[(Where, "o pagamento por PIX estiver habilitado")],
        "o sistema",
        "gerar um QR code",
    );
    pt(
        "O sistema DEVE criptografar os dados do paciente",
        Ubiquitous,
        &[],
        "O sistema",
        "criptografar os dados do paciente",
    );
    // The modal in capitals is the EARS one, not the `deve` of the condition.
    pt(
        "QUANDO o usuário deve pagar uma taxa, o sistema DEVE exibir o valor",
        EventDriven,
        &[(When, "o usuário deve pagar uma taxa")],
        "o sistema",
        "exibir o valor",
    );
    check_none("QUANDO o usuário clica ENTÃO a página é exibida");
}

#[test]
fn italian() {
    let it = |input, pattern, conditions: &[_], system, response| {
        check_in("it", input, pattern, conditions, system, response)
    };
    // `DEVE` is Portuguese too: the other words make it Italian.
    it(
        "QUANDO l'utente preme Salva, il sistema DEVE salvare le modifiche",
        EventDriven,
        &[(When, "l'utente preme Salva")],
        "il sistema",
        "salvare le modifiche",
    );
    it(
        "MENTRE la rete non è disponibile, l'app DEVE mettere in coda le richieste",
        StateDriven,
        &[(While, "la rete non è disponibile")],
        "l'app",
        "mettere in coda le richieste",
    );
    it(
        "SE la password è errata, ALLORA il sistema DEVE mostrare un messaggio di errore",
        Unwanted,
        &[(If, "la password è errata")],
        "il sistema",
        "mostrare un messaggio di errore",
    );
    it(
        "DOVE è abilitata l'autenticazione a due fattori, il sistema DOVRÀ richiedere un codice",
        Optional,
        &[(Where, "è abilitata l'autenticazione a due fattori")],
        "il sistema",
        "richiedere un codice",
    );
    it(
        "Il sistema NON DEVE registrare le password in chiaro",
        Ubiquitous,
        &[],
        "Il sistema",
        "NON registrare le password in chiaro",
    );
    check_none("QUANDO l'utente preme Salva, il file viene salvato");
}

#[test]
fn russian() {
    let ru = |input, pattern, conditions: &[_], system, response| {
        check_in("ru", input, pattern, conditions, system, response)
    };
    ru(
        "КОГДА пользователь нажимает «Сохранить», система ДОЛЖНА сохранить изменения",
        EventDriven,
        &[(When, "пользователь нажимает «Сохранить»")],
        "система",
        "сохранить изменения",
    );
    ru(
        "ПОКА соединение отсутствует, приложение ДОЛЖНО хранить изменения локально",
        StateDriven,
        &[(While, "соединение отсутствует")],
        "приложение",
        "хранить изменения локально",
    );
    ru(
        "ЕСЛИ токен истёк, ТО сервис авторизации ДОЛЖЕН отклонить запрос",
        Unwanted,
        &[(If, "токен истёк")],
        "сервис авторизации",
        "отклонить запрос",
    );
    ru(
        "ГДЕ включена двухфакторная аутентификация, система ДОЛЖНА запрашивать код",
        Optional,
        &[(Where, "включена двухфакторная аутентификация")],
        "система",
        "запрашивать код",
    );
    ru(
        "Система НЕ ДОЛЖНА хранить пароли в открытом виде",
        Ubiquitous,
        &[],
        "Система",
        "НЕ хранить пароли в открытом виде",
    );
    check_none("КОГДА пользователь нажимает кнопку, открывается форма");
}

#[test]
fn chinese() {
    let zh = |input, pattern, conditions: &[_], system, response| {
        check_in("zh", input, pattern, conditions, system, response)
    };
    zh(
        "当用户点击保存按钮时，系统应保存当前的修改",
        EventDriven,
        &[(When, "用户点击保存按钮")],
        "系统",
        "保存当前的修改",
    );
    // `应用` (application) holds `应` but is no modal verb.
    zh(
        "在网络断开期间，应用必须将修改缓存在本地",
        StateDriven,
        &[(While, "网络断开")],
        "应用",
        "将修改缓存在本地",
    );
    zh(
        "如果令牌已过期，那么认证服务应拒绝该请求",
        Unwanted,
        &[(If, "令牌已过期")],
        "认证服务",
        "拒绝该请求",
    );
    zh(
        "在启用双因素认证的情况下，系统应发送短信验证码",
        Optional,
        &[(Where, "启用双因素认证")],
        "系统",
        "发送短信验证码",
    );
    zh(
        "系统应当在3秒内返回搜索结果。",
        Ubiquitous,
        &[],
        "系统",
        "在3秒内返回搜索结果。",
    );
    // A prohibition stays in the response; a negation before `应` moves there.
    zh(
        "系统不得以明文形式存储密码",
        Ubiquitous,
        &[],
        "系统",
        "不得以明文形式存储密码",
    );
    zh(
        "日志服务不应记录用户的密码",
        Ubiquitous,
        &[],
        "日志服务",
        "不记录用户的密码",
    );
    zh(
        "在离线状态下，当用户保存时，编辑器应将修改加入队列",
        Complex,
        &[(While, "离线"), (When, "用户保存")],
        "编辑器",
        "将修改加入队列",
    );
    zh(
        "当用户点击菜单时系统应展开子菜单",
        EventDriven,
        &[(When, "用户点击菜单")],
        "系统",
        "展开子菜单",
    );
    zh(
        "當使用者登入時，系統應顯示首頁",
        EventDriven,
        &[(When, "使用者登入")],
        "系統",
        "顯示首頁",
    );
    check_none("当用户点击保存按钮时，页面显示提示信息");
    check_none("系统响应用户的请求");
}

#[test]
fn japanese() {
    let ja = |input, pattern, conditions: &[_], system, response| {
        check_in("ja", input, pattern, conditions, system, response)
    };
    ja(
        "ユーザーが保存ボタンを押したとき、システムは変更内容を保存しなければならない",
        EventDriven,
        &[(When, "ユーザーが保存ボタンを押した")],
        "システム",
        "変更内容を保存",
    );
    ja(
        "ネットワークが切断されている間、アプリは変更をローカルに保持しなければならない。",
        StateDriven,
        &[(While, "ネットワークが切断されている")],
        "アプリ",
        "変更をローカルに保持",
    );
    ja(
        "認証トークンの有効期限が切れた場合、認証サービスはリクエストを拒否すること",
        Unwanted,
        &[(If, "認証トークンの有効期限が切れた")],
        "認証サービス",
        "リクエストを拒否",
    );
    ja(
        "二要素認証が有効な環境において、システムは確認コードを送信するものとする",
        Optional,
        &[(Where, "二要素認証が有効な環境")],
        "システム",
        "確認コードを送信",
    );
    // cc-sdd's form, with a closing note kept in the response.
    ja(
        "RAGバックエンドAPIは、最も関連性の高いチャンクを取得すること（k値は設定可能）",
        Ubiquitous,
        &[],
        "RAGバックエンドAPI",
        "最も関連性の高いチャンクを取得（k値は設定可能）",
    );
    ja(
        "システムはパスワードを平文で保存してはならない",
        Ubiquitous,
        &[],
        "システム",
        "パスワードを平文で保存してはならない",
    );
    ja(
        "オフラインの間、ユーザーが保存したとき、エディタは変更をキューに追加しなければならない",
        Complex,
        &[(While, "オフライン"), (When, "ユーザーが保存した")],
        "エディタ",
        "変更をキューに追加",
    );
    // English keywords around a Japanese modal ending (Kiro's older form).
    ja(
        "WHEN ユーザーがメッセージを送信したTHEN システムはメッセージを保存しなければならない",
        EventDriven,
        &[(When, "ユーザーがメッセージを送信した")],
        "システム",
        "メッセージを保存",
    );
    ja(
        "WHERE 入力欄にフォーカスがあるTHE システムはEnterキーで送信できなければならない",
        Optional,
        &[(Where, "入力欄にフォーカスがある")],
        "THE システム",
        "Enterキーで送信でき",
    );
    // A passive sentence: the subject particle closes the system.
    ja(
        "WHEN AI応答が生成されるTHEN ストリーミングレスポンスが適切に処理されなければならない",
        EventDriven,
        &[(When, "AI応答が生成される")],
        "ストリーミングレスポンス",
        "適切に処理され",
    );
    check_none("ユーザーが検索を実行したとき、結果ページに遷移する");
    // No system: Japanese may leave the subject out, EARS may not.
    check_none("WHEN AIが応答を表示するTHEN コンポーネントを使用して表示しなければならない");
    // `こと` ends an obligation only at the end of the sentence.
    check_none("システムは、ことの経緯を表示する");
}

#[test]
fn korean() {
    let ko = |input, pattern, conditions: &[_], system, response| {
        check_in("ko", input, pattern, conditions, system, response)
    };
    ko(
        "사용자가 저장 버튼을 클릭할 때, 시스템은 변경 사항을 저장해야 한다",
        EventDriven,
        &[(When, "사용자가 저장 버튼을 클릭할")],
        "시스템",
        "변경 사항을 저장",
    );
    ko(
        "네트워크 연결이 끊어진 동안, 앱은 변경 사항을 로컬에 보관해야 한다.",
        StateDriven,
        &[(While, "네트워크 연결이 끊어진")],
        "앱",
        "변경 사항을 로컬에 보관",
    );
    ko(
        "만약 결제가 실패하면, 결제 서비스는 오류 메시지를 표시해야 합니다",
        Unwanted,
        &[(If, "결제가 실패하면")],
        "결제 서비스",
        "오류 메시지를 표시",
    );
    ko(
        "인증 토큰이 만료된 경우, 인증 서비스는 요청을 거부하여야 한다",
        Unwanted,
        &[(If, "인증 토큰이 만료된")],
        "인증 서비스",
        "요청을 거부",
    );
    ko(
        "다크 모드가 활성화된 환경에서는, 앱은 어두운 색상을 사용해야 한다",
        Optional,
        &[(Where, "다크 모드가 활성화된 환경에서는")],
        "앱",
        "어두운 색상을 사용",
    );
    ko(
        "시스템은 모든 요청을 기록해야한다",
        Ubiquitous,
        &[],
        "시스템",
        "모든 요청을 기록",
    );
    ko(
        "시스템은 비밀번호를 평문으로 저장해서는 안 된다",
        Ubiquitous,
        &[],
        "시스템",
        "비밀번호를 평문으로 저장해서는 안 된다",
    );
    ko(
        "사용자가 로그인하면, 대시보드가 표시되어야 한다",
        EventDriven,
        &[(When, "사용자가 로그인하면")],
        "대시보드",
        "표시",
    );
    check_none("사용자가 로그인할 때, 대시보드가 표시된다");
}

#[test]
fn not_ears() {
    check_none("");
    check_none("The page loads fast");
    check_none("WHEN the user logs in THEN the dashboard is shown");
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
        fixtures::missing(dir);
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
            // Words of the other languages EARS is read in.
            "DEVE ",
            "deve ",
            "QUANDO ",
            "ENTÃO ",
            "o ",
            "NÃO ",
            "WENN ",
            "DANN ",
            "SOLL ",
            "das ",
            "l'",
            "当",
            "时",
            "应",
            "应用",
            "不得",
            "那么",
            "在",
            "情况下",
            "とき",
            "場合",
            "しなければならない",
            "すること",
            "（注）",
            "もし",
            "할 때",
            "은 ",
            "해야 한다",
            "만약 ",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn parse_and_convert_never_panic(text in ears_like()) {
            if let Some(e) = Ears::parse(&text) {
                prop_assert!(!e.system.is_empty());
                prop_assert!(!e.response.is_empty());
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
