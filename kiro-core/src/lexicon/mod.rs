//! The one lexicon: every word kiro knows in the documents it reads and
//! writes, in one place.
//!
//! kiro recognises a Kiro document by its structure (heading levels,
//! numbered lists, positions), never by a word alone: Kiro writes headings
//! in the user's language, so a word list always misses one. Words serve
//! two purposes only:
//!
//! - **naming** what kiro writes: the `DEFAULT_*` spellings below are the
//!   canonical English headings and labels the renderers and the template
//!   designer use;
//! - **telling apart** parts that have the same structure, where the
//!   structure alone cannot decide: the introduction and the glossary are
//!   both `##` sections; `_Requirements: 1.2_` and `_Depends: 1_` are both
//!   link lines. A word missing from a table then makes a part verbatim
//!   text (kept, never dropped), not lost content.
//!
//! Every parser (`format`), the template designer (`stages::template`) and
//! lint read their words from here, so they cannot disagree on what a word
//! means. Tables of heading words are lower-case and compared with
//! [`names`], which ignores case and leading symbols; tables of inline
//! labels are in the case Kiro writes them and compared case-insensitively
//! for ASCII words by their users.
//!
//! ```
//! use kiro_core::lexicon::{names, ACCEPTANCE};
//!
//! assert!(names("Critères d'acceptation", ACCEPTANCE));
//! assert!(names("✅ Acceptance Criteria:", ACCEPTANCE));
//! assert!(!names("Details", ACCEPTANCE));
//! ```

pub mod ears;
pub mod terms;

// ---------------------------------------------------------------------------
// Names kiro writes.
// ---------------------------------------------------------------------------

/// The heading of the introduction section kiro writes.
pub const DEFAULT_INTRODUCTION: &str = "Introduction";
/// The heading of the glossary section kiro writes.
pub const DEFAULT_GLOSSARY: &str = "Glossary";
/// The heading of the requirements container kiro writes.
pub const DEFAULT_REQUIREMENTS: &str = "Requirements";
/// The sub-heading of a requirement's acceptance criteria kiro writes.
pub const DEFAULT_ACCEPTANCE: &str = "Acceptance Criteria";
/// The bold label of a user story kiro writes (with its colon).
pub const DEFAULT_STORY_LABEL: &str = "User Story:";
/// The word kiro writes before a requirement number.
pub const DEFAULT_REQUIREMENT_LABEL: &str = "Requirement";
/// The label of a task's requirements link line kiro writes.
pub const DEFAULT_REQUIREMENTS_LINK: &str = "Requirements";
/// The label of a task's dependency line kiro writes.
pub const DEFAULT_DEPENDS_LINK: &str = "Depends";
/// The word kiro writes before a correctness property number.
pub const DEFAULT_PROPERTY: &str = "Property";
/// The label of a property's validates line kiro writes.
pub const DEFAULT_VALIDATES: &str = "Validates";
/// The heading of the correctness-properties section kiro writes.
pub const DEFAULT_PROPERTIES_HEADING: &str = "Correctness Properties";
/// The info string of a property's executable block (```` ```json
/// kiro-property ````), as kiro writes it; read as these words in any case
/// and spacing. Not a human word, but one a parser knows, so it lives here.
pub const PROPERTY_BLOCK_INFO: &str = "json kiro-property";
/// The heading of a bugfix document's introduction kiro writes.
pub const DEFAULT_BUG_INTRODUCTION: &str = "Introduction";
/// The heading of a bugfix document's analysis section kiro writes.
pub const DEFAULT_BUG_ANALYSIS: &str = "Bug Analysis";

// ---------------------------------------------------------------------------
// `requirements.md` headings (lower-case).
// ---------------------------------------------------------------------------

/// Spellings of the introduction heading (also of a bugfix document's).
pub const INTRODUCTION: &[&str] = &[
    "introduction",
    "overview",
    "简介",
    "介绍",
    "引言",
    "概述",
    "簡介",
    "介紹",
    "はじめに",
    "導入",
    "概要",
    "問題の概要",
    "소개",
    "개요",
    "introducción",
    "introduccion",
    "introdução",
    "introducao",
    "einführung",
    "einleitung",
    "überblick",
    "introduzione",
    "введение",
    "обзор",
];

/// Spellings of the glossary heading.
pub const GLOSSARY: &[&str] = &[
    "glossary",
    "terminology",
    "definitions",
    "术语表",
    "术语",
    "術語表",
    "词汇表",
    "名词解释",
    "用語集",
    "用語",
    "用語定義",
    "용어집",
    "용어 정의",
    "용어",
    "glosario",
    "glossário",
    "glossario",
    "glossaire",
    "terminología",
    "terminologia",
    "terminologie",
    "glossar",
    "begriffe",
    "begriffsbestimmungen",
    "глоссарий",
    "термины",
    "терминология",
];

/// Spellings of the heading above the requirements. Requirements are found
/// by their numbered headings wherever they sit; this word only names the
/// first container when a document has several `##` sections.
pub const REQUIREMENTS: &[&str] = &[
    "requirements",
    "functional requirements",
    "需求",
    "需求列表",
    "要件",
    "要求",
    "要求事項",
    "요구사항",
    "요구 사항",
    "requisitos",
    "requerimientos",
    "exigences",
    "anforderungen",
    "requisiti",
    "требования",
];

/// Words that may stand before a requirement number without a space
/// (`要件1`) or as the whole label, in requirement headings and in a task's
/// requirements link line (`_Requirements: 1.2_`, `_需求: 1.2_`).
pub const REQUIREMENT_LABELS: &[&str] = &[
    "requirements",
    "requirement",
    "reqs",
    "req",
    "需求",
    "要件",
    "要求",
    "요구사항",
    "requisitos",
    "requisito",
    "requerimientos",
    "requerimiento",
    "exigence",
    "exigences",
    "anforderung",
    "anforderungen",
    "требование",
    "требования",
];

/// Spellings of the acceptance-criteria sub-heading. The criteria are the
/// numbered list under the sub-heading that follows the user story,
/// whatever it says; this table only prefers a named heading when a
/// requirement has several.
pub const ACCEPTANCE: &[&str] = &[
    "acceptance criteria",
    "验收标准",
    "驗收標準",
    "验收准则",
    "受け入れ基準",
    "受入基準",
    "受け入れ条件",
    "受入条件",
    "인수 기준",
    "수용 기준",
    "승인 기준",
    "criterios de aceptación",
    "criterios de aceptacion",
    "critérios de aceitação",
    "criterios de aceitacao",
    "critérios de aceite",
    "critères d'acceptation",
    "critères d’acceptation",
    "critères d'acceptance",
    "akzeptanzkriterien",
    "abnahmekriterien",
    "criteri di accettazione",
    "критерии приемки",
    "критерии приёмки",
];

/// Bold labels that open a user story paragraph (no colon).
pub const STORY_LABELS: &[&str] = &[
    "user story",
    "objective",
    "story",
    "用户故事",
    "用戶故事",
    "ユーザーストーリー",
    "사용자 스토리",
    "historia de usuario",
    "historia del usuario",
    "história do usuário",
    "história de usuário",
    "historia de usuário",
    "récit utilisateur",
    "histoire utilisateur",
    "user-story",
    "storia utente",
    "пользовательская история",
];

// ---------------------------------------------------------------------------
// `bugfix.md` headings and behaviour groups (lower-case).
// ---------------------------------------------------------------------------

/// Spellings of a bugfix document's analysis heading.
pub const BUG_ANALYSIS: &[&str] = &[
    "bug analysis",
    "缺陷分析",
    "bug 分析",
    "bug分析",
    "问题分析",
    "错误分析",
    "バグ分析",
    "不具合分析",
    "análisis del error",
    "análisis de errores",
    "análisis del bug",
    "análise do bug",
    "análise de bugs",
    "análise do erro",
];

/// Words naming the current (defective) behaviour.
pub const BUG_CURRENT: &[&str] = &[
    "current behavior",
    "current behaviour",
    "defect",
    "当前行为",
    "现有行为",
    "实际行为",
    "現在の動作",
    "現在の挙動",
    "comportamiento actual",
    "comportamento atual",
    "comportamento actual",
];

/// Words naming the behaviour the fix must keep.
pub const BUG_UNCHANGED: &[&str] = &[
    "unchanged behavior",
    "unchanged behaviour",
    "regression",
    "不变行为",
    "保持不变",
    "回归",
    "変更されない動作",
    "変更しない動作",
    "sin cambios",
    "inalterado",
];

/// Words naming the expected (correct) behaviour.
pub const BUG_EXPECTED: &[&str] = &[
    "expected behavior",
    "expected behaviour",
    "correct",
    "预期行为",
    "期望行为",
    "正确行为",
    "期待される動作",
    "期待動作",
    "comportamiento esperado",
    "comportamento esperado",
];

// ---------------------------------------------------------------------------
// `design.md` and `tasks.md` inline labels (in the case Kiro writes them).
// ---------------------------------------------------------------------------

/// Words that open a correctness property (`Property 3: ...`) and that name
/// one in a task (`Property 3`). ASCII words match case-insensitively.
pub const PROPERTY_WORDS: &[&str] = &[
    "Property",
    "Propriedade",
    "Propiedad",
    "Propriété",
    "Eigenschaft",
    "Proprietà",
    "Свойство",
    "속성",
    "属性",
    "性质",
    "プロパティ",
    "性質",
];

/// Labels of a property's validates line (`**Validates: ...**`), longest
/// first within a first letter, so that a shorter label never shadows a
/// longer one.
pub const VALIDATES_LABELS: &[&str] = &[
    "Validates",
    "Validiert",
    "Validate",
    "Valida",
    "Valide",
    "验证",
    "驗證",
    "検証",
    "검증",
    "Проверяет",
];

/// Words that may stand between a validates label and its colon
/// (`**验证需求**:`, `Validates Requirements:`), lower-case.
pub const VALIDATES_SUFFIXES: &[&str] = &[
    "",
    "需求",
    "要件",
    "requirements",
    "requirement",
    "requisitos",
    "requisito",
];

/// Parts of a heading title that mark a correctness-properties section
/// (matched as substrings of the lower-cased title).
pub const PROPERTIES_SECTION_WORDS: &[&str] = &[
    "correctness",
    "正确性",
    "正確性",
    "corretude",
    "correção",
    "corrección",
    "exactitud",
    "korrektheit",
    "exactitude",
    "correttezza",
    "정확성",
    "корректност",
];

/// Labels of cc-sdd's component boundary line (`_Boundary: AuthService_`).
pub const BOUNDARY_LABELS: &[&str] = &["Boundary", "Boundaries", "境界", "边界", "責務境界"];

/// The label of a task's boundary line kiro writes.
pub const DEFAULT_BOUNDARY_LINK: &str = "Boundary";

/// Labels of a task's repositories line (`_Repos: api, web_`), naming
/// repositories of `.kiro/workspace.toml`.
pub const REPOS_LABELS: &[&str] = &["Repos", "Repositories", "Repo", "Repository"];

/// The label of a task's repositories line kiro writes.
pub const DEFAULT_REPOS_LINK: &str = "Repos";

/// Labels of cc-sdd's dependency line (`_Depends: 1.2_`).
pub const DEPENDS_LABELS: &[&str] = &["Depends", "Depends on", "Dependencies", "依存", "依赖"];

// ---------------------------------------------------------------------------
// Matching.
// ---------------------------------------------------------------------------

/// A heading title reduced for comparison with a table: without leading
/// symbols (emoji, numbering) and trailing colons.
pub fn keyword(title: &str) -> &str {
    let t = title.trim_start_matches(|c: char| !c.is_alphanumeric());
    t.trim().trim_end_matches([':', '：']).trim()
}

/// `true` when a heading title names one of the (lower-case) spellings of
/// `table`, ignoring case, leading symbols and a trailing colon.
///
/// ```
/// use kiro_core::lexicon::{names, GLOSSARY};
///
/// assert!(names("📖 Glossary:", GLOSSARY));
/// assert!(names("用語集", GLOSSARY));
/// ```
pub fn names(title: &str, table: &[&str]) -> bool {
    is_lowercase_entry(keyword(title), table)
}

/// `true` when `text`, lower-cased, is an entry of `table` (lower-case).
/// ASCII text, the usual case, is compared without a lower-cased copy.
pub fn is_lowercase_entry(text: &str, table: &[&str]) -> bool {
    if text.is_ascii() {
        return table.iter().any(|t| t.eq_ignore_ascii_case(text));
    }
    let lower = text.to_lowercase();
    table.iter().any(|t| *t == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Heading tables are lower-case (so [`names`] can compare in place) and
    /// no word is listed twice.
    #[test]
    fn heading_tables_are_lower_case_and_unique() {
        for table in [
            INTRODUCTION,
            GLOSSARY,
            REQUIREMENTS,
            REQUIREMENT_LABELS,
            ACCEPTANCE,
            STORY_LABELS,
            BUG_ANALYSIS,
            BUG_CURRENT,
            BUG_UNCHANGED,
            BUG_EXPECTED,
            VALIDATES_SUFFIXES,
            PROPERTIES_SECTION_WORDS,
        ] {
            for (i, w) in table.iter().enumerate() {
                assert_eq!(*w, w.to_lowercase(), "{w}");
                assert!(!table[..i].contains(w), "{w} twice");
            }
        }
    }

    #[test]
    fn names_ignores_case_symbols_and_colons() {
        let cases = [
            ("Acceptance Criteria", ACCEPTANCE, true),
            ("#### ACCEPTANCE CRITERIA", ACCEPTANCE, true),
            ("Akzeptanzkriterien:", ACCEPTANCE, true),
            ("인수 기준", ACCEPTANCE, true),
            ("Критерии приемки", ACCEPTANCE, true),
            ("Acceptance", ACCEPTANCE, false),
            ("🎯 Introduction", INTRODUCTION, true),
            ("Glossar", GLOSSARY, true),
        ];
        for (title, table, expected) in cases {
            assert_eq!(names(title, table), expected, "{title}");
        }
    }
}
