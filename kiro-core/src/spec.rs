//! The spec model: plain data for a Kiro spec and its documents.
//!
//! A [`Spec`] is one folder under `.kiro/specs/<name>/`. Its documents are
//! [`RequirementsDoc`] (`requirements.md`), [`BugfixDoc`] (`bugfix.md`, for
//! bugfix specs), [`DesignDoc`] (`design.md`) and [`TaskList`] (`tasks.md`).
//! Every type is plain data with public fields, `serde` and `schemars`
//! derives and no hidden behaviour; parsing and rendering live in
//! [`crate::format`], loading and saving in [`crate::store`].
//!
//! # Verbatim fields
//!
//! Real Kiro files vary in wording (localised headings such as `### 需求 1：…`,
//! `**验证：需求 1.1**`, `_Requisitos: 2.2_`) and in link spelling (ranges like
//! `1.1–1.7`). The model keeps the meaning in typed fields (ids, titles, link
//! lists) and, only where the source line differs from what the canonical
//! renderer would write, the original line in a `*_source` field. The
//! renderer writes the original line back as long as it still parses to the
//! same typed values, so editing a typed field always wins and unedited
//! files keep their wording. Content the parser does not understand is kept
//! verbatim as markdown in `body`/`notes`/`before` fields, in place.
//!
//! ```
//! use kiro_core::spec::{CriterionId, RequirementId};
//!
//! let id = CriterionId::new("2.3");
//! assert_eq!(id.requirement(), RequirementId::new("2"));
//! assert_eq!(id.to_string(), "2.3");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// Some model fields hold these types (short strings and single EARS
// conditions are stored inline); re-exported so that code building a model
// needs no version-matched dependency of its own.
pub use compact_str::CompactString;
pub use smallvec::SmallVec;

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        // Serialised as a plain JSON string. Ids are short (`"12.3"`), so
        // they are stored inline (`CompactString`), without a heap
        // allocation each: a parsed spec holds thousands of them. (A plain
        // comment, not a doc line, so the JSON schemas keep their wording.)
        $(#[$meta])*
        #[derive(
            Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
        )]
        #[serde(transparent)]
        pub struct $name(CompactString);

        impl $name {
            /// Wraps a string as this id.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(CompactString::new(id))
            }

            /// The id as written, e.g. `"1.2"`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(CompactString::from(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_newtype!(
    /// A requirement number as written in its heading: `"1"`, `"12"`.
    RequirementId
);
id_newtype!(
    /// An acceptance criterion: `"<requirement>.<n>"`, e.g. `"1.2"`.
    ///
    /// Links in tasks may also name a whole requirement (`"6"`), which is
    /// represented by a `CriterionId` without a dot.
    CriterionId
);
id_newtype!(
    /// A correctness property number: `"1"`.
    PropertyId
);
id_newtype!(
    /// A task number as written: `"2"`, `"2.1"`, `"1.1.4"`.
    TaskId
);

impl CriterionId {
    /// `"<requirement>.<number>"`, built in place (inline for short ids).
    pub(crate) fn join(requirement: &str, number: &str) -> CriterionId {
        let mut id = CompactString::with_capacity(requirement.len() + 1 + number.len());
        id.push_str(requirement);
        id.push('.');
        id.push_str(number);
        CriterionId(id)
    }

    /// The requirement this criterion belongs to (the part before the last dot).
    ///
    /// A requirement-level link (`"6"`) is its own requirement.
    pub fn requirement(&self) -> RequirementId {
        match self.0.rsplit_once('.') {
            Some((req, _)) => RequirementId::new(req),
            None => RequirementId::new(&self.0),
        }
    }

    /// `true` when this id names a whole requirement rather than one criterion.
    pub fn is_requirement_level(&self) -> bool {
        !self.0.contains('.')
    }
}

impl TaskId {
    /// The parent task id (`"2.1"` -> `"2"`), if any.
    pub fn parent(&self) -> Option<TaskId> {
        self.0.rsplit_once('.').map(|(p, _)| TaskId::new(p))
    }
}

/// Whether a spec builds a feature or fixes a bug (Kiro's `specType`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpecKind {
    /// `requirements.md` + `design.md` + `tasks.md`.
    #[default]
    Feature,
    /// `bugfix.md` + `design.md` + `tasks.md`.
    Bugfix,
}

/// Which tool wrote the spec folder. Both share the `.kiro/specs` layout.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// AWS Kiro (optional `.config.kiro`).
    #[default]
    Kiro,
    /// cc-sdd (`spec.json` with phase approvals, `research.md`, `(P)` markers).
    CcSdd,
}

/// One spec folder: `.kiro/specs/<name>/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Spec {
    /// Folder name, e.g. `"user-authentication"`.
    pub name: String,
    /// Feature or bugfix spec.
    #[serde(default)]
    pub kind: SpecKind,
    /// Kiro or cc-sdd.
    #[serde(default)]
    pub dialect: Dialect,
    /// `requirements.md` (feature specs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<RequirementsDoc>,
    /// `bugfix.md` (bugfix specs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bugfix: Option<BugfixDoc>,
    /// `design.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<DesignDoc>,
    /// `tasks.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskList>,
    /// Kiro's `.config.kiro`, kept byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<KiroConfig>,
    /// Other files of the folder that kiro does not model (`spec.json`,
    /// `research.md`, ...), by file name, kept byte for byte.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_files: BTreeMap<String, String>,
}

/// Kiro's `.config.kiro`: the fields kiro could read from it, and the file as read.
///
/// Kiro writes one line of JSON, `{"specId": "<uuid>", "workflowType":
/// "requirements-first", "specType": "feature"}`, but real folders also hold
/// JSON with a UTF-8 byte order mark, pretty-printed or commented JSON, extra
/// keys (`createdAt`, `featureName`, `extends`, ...), other JSON shapes and
/// plain `key=value` or `key: value` lines. [`crate::store::parse_config`]
/// reads what it can; what it cannot read becomes a lint note (K0017), never
/// a load error. `raw` is the truth: [`Spec::save`] writes it back byte for
/// byte and never re-renders the typed fields.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct KiroConfig {
    /// `specId` (usually a UUID, not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_id: Option<String>,
    /// `workflowType`: `"requirements-first"`, `"design-first"`, ... as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_type: Option<String>,
    /// `specType`: `"feature"`, `"bugfix"`, ... as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_type: Option<String>,
    /// Every other top-level key, by name as written, with its value (a
    /// `key=value` line's value is a JSON string). A known key whose value is
    /// not a string is kept here too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, serde_json::Value>,
    /// How the file is written.
    #[serde(default)]
    pub syntax: ConfigSyntax,
    /// The file exactly as read; written back unchanged on save (unless `lossy`).
    pub raw: String,
    /// The file is not UTF-8 (or is UTF-16), so `raw` is only a decoding of
    /// it: [`Spec::save`] never writes such a config and the file on disk stays
    /// as it is.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lossy: bool,
}

/// How a `.config.kiro` file is written, as far as kiro could tell.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSyntax {
    /// A JSON object, as Kiro writes it (a byte order mark, comments and
    /// trailing commas are tolerated).
    #[default]
    Json,
    /// `key=value` or `key: value` lines, with `#`, `//` or `;` comments.
    KeyValue,
    /// Nothing but white space (and comments).
    Empty,
    /// Not read in full: broken JSON (the `"key": value` pairs that could be
    /// found are kept), JSON that is not an object, or text with no
    /// `key=value` line.
    Unreadable,
}

/// Line-ending and final-newline conventions of a source file, kept so that
/// a CRLF file stays CRLF when rendered.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TextStyle {
    /// The file used `\r\n` line endings.
    #[serde(default, skip_serializing_if = "is_false")]
    pub crlf: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A markdown section the parser keeps as it is.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Section {
    /// Heading text without the `#` marks.
    pub title: String,
    /// Heading level (1-6).
    pub level: u8,
    /// Markdown between this heading and the next section, verbatim,
    /// without leading or trailing blank lines.
    pub body: String,
}

/// `requirements.md`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct RequirementsDoc {
    /// The `#` title, e.g. `"Requirements Document"`.
    pub title: String,
    /// Markdown between the title and the first `##` section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preamble: String,
    /// The introduction section's body (markdown), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<String>,
    /// Glossary terms, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub glossary: Vec<GlossaryEntry>,
    /// Markdown of the glossary section that is not a term entry (prose,
    /// a closing `---`), kept verbatim after the entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub glossary_notes: String,
    /// Markdown between the requirements heading and the first requirement,
    /// kept verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requirements_preface: String,
    /// The requirements, in order, whichever `##` section they sit under.
    pub requirements: Vec<Requirement>,
    /// Further `##` sections the requirements are grouped under (after the
    /// first one, whose spelling is [`RequirementsHeadings::requirements`]),
    /// each placed before the requirement it opens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<RequirementGroup>,
    /// Other sections, each placed after the part it followed in the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<PlacedSection>,
    /// Heading spellings when they differ from the English defaults.
    #[serde(default, skip_serializing_if = "RequirementsHeadings::is_default")]
    pub headings: RequirementsHeadings,
    /// The heading level of the requirements when it is not 3: `Some(2)`
    /// for documents written as `## Requirement 1` sections (criteria under
    /// `###`) with no `## Requirements` container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement_level: Option<u8>,
    /// Line endings of the source.
    #[serde(default)]
    pub style: TextStyle,
}

/// Heading spellings of a requirements document (`## 术语表`, `## Requisitos`, ...).
///
/// `None` means the English default (`Introduction`, `Glossary`,
/// `Requirements`, `Acceptance Criteria`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct RequirementsHeadings {
    /// The introduction heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<String>,
    /// The glossary heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glossary: Option<String>,
    /// The heading above all requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
}

impl RequirementsHeadings {
    /// `true` when every heading is the English default.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Where an unrecognised section sat in a requirements document.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// Right after the title and preamble.
    #[default]
    Start,
    /// After the introduction.
    Introduction,
    /// After the glossary.
    Glossary,
    /// After the requirements.
    Requirements,
}

/// A section kept verbatim, with the part of the document it followed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct PlacedSection {
    /// The section.
    #[serde(flatten)]
    pub section: Section,
    /// The known part it follows.
    #[serde(default)]
    pub after: Anchor,
}

/// One glossary term: `- **Term**: definition`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct GlossaryEntry {
    /// The term, without emphasis marks.
    pub term: String,
    /// Its definition (markdown).
    pub definition: String,
    /// What separates the term from the definition as written, when not
    /// `": "` (Chinese files write a full-width `"："`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// One requirement: `### Requirement 1: Title`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Requirement {
    /// The number in the heading.
    pub id: RequirementId,
    /// The heading title after the number; empty for `### Requirement 1`.
    #[serde(default)]
    pub title: String,
    /// The heading line as written, when it differs from the canonical
    /// `### Requirement <id>: <title>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_source: Option<String>,
    /// `**User Story:** As a ..., I want ..., so that ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_story: Option<UserStory>,
    /// Markdown between the heading and the acceptance criteria heading that
    /// is not the story (context paragraphs), kept verbatim after the story.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preface: String,
    /// The acceptance criteria heading as written, when not `Acceptance Criteria`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria_heading: Option<String>,
    /// The acceptance criteria.
    pub criteria: Vec<AcceptanceCriterion>,
    /// Markdown that stood between acceptance criteria (`##### Unit tests`
    /// sub-headings, prose between numbered lists), kept verbatim in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interludes: Vec<Interlude>,
    /// Markdown of the requirement section after the criteria (a closing
    /// `---`, other `####` sections), kept verbatim after the criteria.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// A `##` section that continues the requirements under another heading
/// (`## 非機能要件` after `## 機能要件`). The requirements it holds stay in
/// [`RequirementsDoc::requirements`]; the group only says where its heading
/// and preface are written.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct RequirementGroup {
    /// Index in [`RequirementsDoc::requirements`] of the first requirement
    /// written after the group's heading (the number of requirements when
    /// the group holds none and nothing follows it).
    pub before: usize,
    /// The heading text, as written.
    pub title: String,
    /// Markdown between the heading and the group's first requirement,
    /// verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preface: String,
}

/// Markdown kept in place among a requirement's acceptance criteria.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Interlude {
    /// Index in [`Requirement::criteria`] of the criterion the markdown
    /// stands before.
    pub before: usize,
    /// The markdown, verbatim.
    pub markdown: String,
}

/// A user story. `role`, `capability` and `benefit` are filled when the text
/// follows `As a <role>, I want <capability>, so that <benefit>`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct UserStory {
    /// The whole story text after the label.
    pub text: String,
    /// The story label as written between the `**` marks, colon included
    /// (`Objective:`, `用户故事：`); `None` for the default `User Story:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    // The three parts are short phrases, stored inline when they fit (24
    // bytes): a spec has one story per requirement.
    /// Who wants it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<CompactString>,
    /// What they want.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<CompactString>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benefit: Option<CompactString>,
}

/// One acceptance criterion.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct AcceptanceCriterion {
    /// `"<requirement>.<n>"`.
    pub id: CriterionId,
    /// The criterion text; hard-wrapped criteria keep their line breaks.
    pub text: String,
    /// The EARS reading of `text`, when it follows an EARS pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ears: Option<Ears>,
}

/// An EARS (Easy Approach to Requirements Syntax) reading of a criterion.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Ears {
    /// Which pattern the sentence follows.
    pub pattern: EarsPattern,
    /// Preconditions, triggers and features, in order.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    #[schemars(with = "Vec<Clause>")]
    pub conditions: SmallVec<[Clause; 1]>,
    /// The system that shall respond (`the Edit_Lambda`, `the system`).
    pub system: CompactString,
    /// What the system shall do: the text after `SHALL` (or after the
    /// modal verb), or in Japanese and Korean word order the text between
    /// the system's topic particle and the closing modal ending.
    pub response: String,
    /// The ISO 639-1 code of the language whose modal verb states the
    /// obligation (`de` for `MUSS`, `ja` for `しなければならない`); `None` for
    /// English `SHALL`, whatever the language of the rest of the sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<CompactString>,
}

/// The EARS patterns.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EarsPattern {
    /// `The <system> shall <response>`.
    Ubiquitous,
    /// `When <trigger>, the <system> shall <response>`.
    EventDriven,
    /// `While <state>, the <system> shall <response>`.
    StateDriven,
    /// `If <condition>, then the <system> shall <response>`.
    Unwanted,
    /// `Where <feature>, the <system> shall <response>`.
    Optional,
    /// More than one kind of condition.
    Complex,
}

/// One EARS condition clause.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    /// The keyword that opens the clause.
    pub keyword: ClauseKeyword,
    /// The clause text without the keyword.
    pub text: String,
}

/// EARS condition keywords.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ClauseKeyword {
    /// Optional feature.
    Where,
    /// State.
    While,
    /// Event trigger.
    When,
    /// Unwanted behaviour.
    If,
}

/// `bugfix.md`: current, expected and unchanged behaviour, as Kiro writes it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct BugfixDoc {
    /// The `#` title, e.g. `"Bugfix Requirements Document"`.
    pub title: String,
    /// Markdown between the title and the first `##` section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preamble: String,
    /// The introduction body, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<String>,
    /// Markdown between the analysis heading and the first group, kept verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub analysis_preface: String,
    /// The behaviour groups (`### Current Behavior (Defect)` ...), in order.
    pub groups: Vec<BehaviorGroup>,
    /// Other sections, kept verbatim after the part they followed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<PlacedSection>,
    /// The heading above the groups as written (default `Bug Analysis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_heading: Option<String>,
    /// The introduction heading as written, when not `Introduction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction_heading: Option<String>,
    /// Line endings of the source.
    #[serde(default)]
    pub style: TextStyle,
}

/// What a group of bugfix clauses describes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BehaviorKind {
    /// The defect as it happens today.
    Current,
    /// What should happen instead.
    Expected,
    /// Behaviour the fix must not change.
    Unchanged,
    /// A group whose heading kiro does not recognise.
    Other,
}

/// One behaviour group: a heading and numbered clauses (`1.1 WHEN ...`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BehaviorGroup {
    /// Current, expected or unchanged.
    pub kind: BehaviorKind,
    /// The heading text, e.g. `"Current Behavior (Defect)"`.
    pub title: String,
    /// The clauses; ids are criterion ids (`"2.1"`).
    pub clauses: Vec<AcceptanceCriterion>,
    /// Markdown in the group that is not a clause, kept verbatim after them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// `design.md`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DesignDoc {
    /// The `#` title, e.g. `"Design Document: Project Edit & Delete"`.
    pub title: String,
    /// Markdown between the title and the first section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preamble: String,
    /// Every section in document order (any heading level), bodies verbatim.
    /// Correctness properties are not sections: they live in `properties`
    /// and are rendered after the section named by `properties_after`.
    pub sections: Vec<Section>,
    /// The correctness properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<CorrectnessProperty>,
    /// Index into `sections` of the section the properties follow
    /// (usually `## Correctness Properties`). `None` with properties present
    /// renders a new `## Correctness Properties` section at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties_after: Option<usize>,
    /// Line endings of the source.
    #[serde(default)]
    pub style: TextStyle,
}

/// A correctness property: a statement that must hold for all inputs, linked
/// to the criteria it validates.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct CorrectnessProperty {
    /// The property number.
    pub id: PropertyId,
    /// The title after `Property N:`.
    pub title: String,
    /// The heading line as written, when it differs from the canonical
    /// `### Property <id>: <title>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_source: Option<String>,
    /// The statement (markdown), e.g. `*For any* ... SHALL ...`.
    pub statement: String,
    /// Criteria it validates (`**Validates: Requirements 1.1, 2.3**`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validates: Vec<CriterionId>,
    /// The validates line as written, when it differs from the canonical form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validates_source: Option<String>,
    /// Markdown after the validates line, kept verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// The machine-checkable form that `kiro-proptest` runs: the JSON of
    /// the property's ```` ```json kiro-property ```` block (see
    /// [`PropertySpec`]). `None` when the property has no block, or when its
    /// block does not read as a `PropertySpec` (then `formal_source` keeps
    /// it and lint says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formal: Option<PropertySpec>,
    /// The `kiro-property` block as written, fence lines included, when it
    /// is not the block the renderer writes for `formal` (other spacing,
    /// key order or fence), or when its JSON does not read as a
    /// [`PropertySpec`] (`formal` is then `None`). It is written back while
    /// it still reads as `formal` (or, invalid, while `formal` is `None`),
    /// so editing `formal` wins. Empty for a block in the statement or
    /// notes ([`FormalPlace::InText`]), which keep it themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formal_source: Option<String>,
    /// Where the `kiro-property` block stands in the property.
    #[serde(default, skip_serializing_if = "FormalPlace::is_default")]
    pub formal_place: FormalPlace,
}

/// Where a property's `kiro-property` block stands in `design.md`.
///
/// The parser lifts a block out of the property's text when it sits at one
/// of the two usual places with the layout the renderer writes, and leaves
/// it in the statement or notes otherwise, so that a document renders byte
/// for byte either way.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FormalPlace {
    /// Right after the statement, before the validates line: where the
    /// renderer writes a block set in code.
    #[default]
    AfterStatement,
    /// Right after the validates line, before the notes.
    AfterValidates,
    /// Elsewhere in the statement or the notes, which keep it verbatim;
    /// `formal` is read from there and a changed `formal` replaces it there.
    InText,
}

impl FormalPlace {
    /// `true` for the default place (serde skips it).
    pub fn is_default(&self) -> bool {
        *self == FormalPlace::AfterStatement
    }
}

/// The machine-checkable form of a correctness property: what `kiro-proptest`
/// generates and runs.
///
/// In `design.md` it is a fenced block with the info string
/// `json kiro-property` after the property's statement:
///
/// ````markdown
/// ```json kiro-property
/// {"kind": "round-trip", "ops": ["encode", "decode"],
///  "input": {"type": "string", "maxLength": 200},
///  "target": {"process": ["python3", "codec.py"]}}
/// ```
/// ````
///
/// The block's JSON is this type (unknown fields are refused, so a typo is
/// reported rather than ignored); `kind` decides which other fields a
/// property needs ([`PropertyKind::ops_needed`]).
///
/// ```
/// use kiro_core::spec::{PropertyKind, PropertySpec, PropertyTarget};
///
/// let spec: PropertySpec = serde_json::from_str(
///     r#"{"kind": "idempotent", "ops": ["normalize"], "input": {"type": "string"},
///         "target": {"http": "http://127.0.0.1:8080"}}"#,
/// )?;
/// assert_eq!(spec.kind, PropertyKind::Idempotent);
/// assert_eq!(spec.target, Some(PropertyTarget::Http("http://127.0.0.1:8080".into())));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// What the property asserts.
    pub kind: PropertyKind,
    /// The operations it calls, by name: `[f, g]` for a round trip
    /// (`g(f(x)) == x`), `[f]` for the other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<String>,
    /// JSON Schema (draft 7 or 2020-12) of the generated inputs; `true`
    /// (any JSON value) when absent.
    #[serde(default = "any_value")]
    pub input: serde_json::Value,
    /// For [`PropertyKind::Invariant`]: JSON Schema every output of `f`
    /// validates against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// What is tested. `None` leaves it to the program that runs the
    /// property (a Rust closure, a target given on the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PropertyTarget>,
    /// For [`PropertyKind::Oracle`]: the reference implementation whose
    /// answers `f` must equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<PropertyReference>,
    /// Rust names for generated tests (`kiro pbt gen --lang rust`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust: Option<RustBinding>,
    /// Number of cases, when the property wants other than the runner's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<u32>,
}

fn any_value() -> serde_json::Value {
    serde_json::Value::Bool(true)
}

/// The kinds of executable correctness property.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyKind {
    /// `g(f(x)) == x` (ops `[f, g]`).
    RoundTrip,
    /// `f(f(x)) == f(x)`.
    Idempotent,
    /// Every output of `f` validates against the `output` schema.
    Invariant,
    /// `f(x) == reference(x)`, the reference another target.
    Oracle,
    /// `f(x) == f(shuffle(x))` for array inputs.
    PermutationInvariant,
    /// `f` returns a value, never an error, for every valid input.
    NoError,
    /// `f` returns an error for every input generated from the negated
    /// input schema.
    RejectsInvalid,
}

impl PropertyKind {
    /// Every kind, in the order above.
    pub const ALL: [PropertyKind; 7] = [
        PropertyKind::RoundTrip,
        PropertyKind::Idempotent,
        PropertyKind::Invariant,
        PropertyKind::Oracle,
        PropertyKind::PermutationInvariant,
        PropertyKind::NoError,
        PropertyKind::RejectsInvalid,
    ];

    /// The name written in a `kiro-property` block (`round-trip`).
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyKind::RoundTrip => "round-trip",
            PropertyKind::Idempotent => "idempotent",
            PropertyKind::Invariant => "invariant",
            PropertyKind::Oracle => "oracle",
            PropertyKind::PermutationInvariant => "permutation-invariant",
            PropertyKind::NoError => "no-error",
            PropertyKind::RejectsInvalid => "rejects-invalid",
        }
    }

    /// How many `ops` the kind calls: 2 for a round trip, 1 otherwise.
    pub fn ops_needed(self) -> usize {
        match self {
            PropertyKind::RoundTrip => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for PropertyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the operations of a property run.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum PropertyTarget {
    /// A program speaking JSON lines on stdin/stdout (`argv`, run in the
    /// workspace root): `{"op": .., "input": ..}` in, `{"ok": ..}` or
    /// `{"error": ".."}` out.
    Process(Vec<String>),
    /// An HTTP endpoint: `POST <base>/<op>` with the input as JSON body.
    Http(String),
}

/// The reference implementation of an oracle property: the operation to
/// call and where (exactly one of `process` and `http`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PropertyReference {
    /// The operation's name on the reference target.
    pub op: String,
    /// A program speaking JSON lines (as [`PropertyTarget::Process`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Vec<String>>,
    /// An HTTP endpoint (as [`PropertyTarget::Http`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
}

impl PropertyReference {
    /// The reference as a target; `None` unless exactly one of `process`
    /// and `http` is given.
    pub fn target(&self) -> Option<PropertyTarget> {
        match (&self.process, &self.http) {
            (Some(argv), None) => Some(PropertyTarget::Process(argv.clone())),
            (None, Some(url)) => Some(PropertyTarget::Http(url.clone())),
            _ => None,
        }
    }
}

/// Rust names a generated test uses instead of the schema-driven strategy
/// and a target: `{"input_type": "Vec<u8>", "f": "crate::codec::encode",
/// "g": "crate::codec::decode"}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct RustBinding {
    /// The input's Rust type, generated with `proptest::arbitrary::any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<String>,
    /// The path of the function the first op names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<String>,
    /// The path of the second function (round trip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<String>,
    /// The path of the reference function (oracle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `tasks.md`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct TaskList {
    /// The `#` title, e.g. `"Implementation Plan"`. Empty when the file has none.
    #[serde(default)]
    pub title: String,
    /// Markdown between the title and the first task (overview, `## Tasks`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preamble: String,
    /// Top-level tasks in order; sub-tasks nest.
    pub tasks: Vec<Task>,
    /// Markdown after the last task (notes), verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub epilogue: String,
    /// Line endings of the source.
    #[serde(default)]
    pub style: TextStyle,
}

/// How a run orders the tasks of a `tasks.md` that do not say what they
/// wait for (`[pipeline] order` in `.kiro/config.toml`).
///
/// Part of the model, not of the configuration, because the plan and lint
/// read a task list through it too, with or without a configuration file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskOrder {
    /// Each task waits for the one written before it, unless it declares its
    /// own dependencies; safe for specs written for Kiro.
    #[default]
    Document,
    /// Only explicit `_Depends:_` links order tasks.
    Declared,
}

/// Task progress, Kiro's checkbox marks.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// `[ ]`
    #[default]
    NotStarted,
    /// `[-]`
    InProgress,
    /// `[~]` (queued or partially done; some Kiro versions write it).
    Queued,
    /// `[x]`
    Done,
}

impl TaskStatus {
    /// The character between the brackets.
    pub fn mark(self) -> char {
        match self {
            TaskStatus::NotStarted => ' ',
            TaskStatus::InProgress => '-',
            TaskStatus::Queued => '~',
            TaskStatus::Done => 'x',
        }
    }

    /// Reads a checkbox character; `X` is accepted as done.
    pub fn from_mark(c: char) -> Option<TaskStatus> {
        match c {
            ' ' => Some(TaskStatus::NotStarted),
            '-' => Some(TaskStatus::InProgress),
            '~' => Some(TaskStatus::Queued),
            'x' | 'X' => Some(TaskStatus::Done),
            _ => None,
        }
    }
}

/// How a task is written in `tasks.md`: the shape of its line and where its
/// sub-tasks sit. Parsing records it so that rendering keeps the shape of
/// the file; the meaning (a parent and its sub-tasks) is the same in every
/// form.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskForm {
    /// `- [ ] 2. Title`, its sub-tasks indented under it.
    #[default]
    Item,
    /// `- [ ] 2. Title`, its sub-tasks at its own indentation and numbered
    /// under it (`- [ ] 2.1 ...` on the next line), as old Kiro and cc-sdd
    /// write them.
    FlatItem,
    /// A group heading, `## 2. Title (P)`, as newer cc-sdd writes it: its
    /// sub-tasks are the checkbox items numbered under it that follow.
    Heading {
        /// The number of `#`, 1-6.
        level: u8,
        /// Whether the heading has a checkbox (`## [x] 2. Title`). Without
        /// one, the status is derived from the sub-tasks: done when all are
        /// done, in progress when one has started, else not started.
        checkbox: bool,
    },
}

impl TaskForm {
    /// `true` for [`TaskForm::Item`], the form written when none is recorded.
    pub fn is_item(&self) -> bool {
        *self == TaskForm::Item
    }
}

/// One task: `- [ ] 2.1 Title` with detail bullets and links.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Task {
    /// The task number; `None` for an unnumbered checkbox (`- [ ] Checkpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<TaskId>,
    /// The title after the number (markdown, one line or more).
    pub title: String,
    /// Detail bullets, each verbatim (nested bullets included, dedented).
    /// `_Requirements:_` and `_Depends:_` lines are not details.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Criteria (or whole requirements) this task implements,
    /// from `_Requirements: 1.1, 1.2_` (ranges expanded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<CriterionId>,
    /// The requirements line as written, when it differs from the canonical
    /// `_Requirements: <ids>_` (ranges, `All`, localised labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements_source: Option<String>,
    /// Correctness properties this task tests, read from `Property N` in
    /// the details; a property not named in any detail is rendered as
    /// an extra `**Property N**` detail so that it is never lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyId>,
    /// `- [ ]*`: optional (tests, docs) and skipped unless asked for.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// cc-sdd's `(P)`: may run alongside its predecessor.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parallel: bool,
    /// Checkbox state.
    #[serde(default)]
    pub status: TaskStatus,
    /// Explicit dependencies from `_Depends: 4.1, 5_`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<TaskId>,
    /// The depends line as written, when it differs from the canonical form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_source: Option<String>,
    /// The items of the `_Depends:` list that name no task (`task one` in
    /// `_Depends: 1, task one_`), trimmed, as the parser found them. The
    /// line itself stays in [`Task::depends_source`]; these are kept so
    /// that lint (K0018) and the engine can refuse a plan whose order kiro
    /// could not read, instead of dropping a dependency silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable_depends: Vec<String>,
    /// Sub-tasks: the tasks indented under this one or, at the same
    /// indentation, numbered under it (`2.1` after `2`). A task with
    /// sub-tasks is done when they are; the executor never runs it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtasks: Vec<Task>,
    /// Markdown that stood between the previous task and this one
    /// (headings that are not task groups, prose), kept verbatim in place.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
    /// How the task is written: a checkbox item with indented or flat
    /// sub-tasks, or a group heading.
    #[serde(default, skip_serializing_if = "TaskForm::is_item")]
    pub form: TaskForm,
    /// The component the task is confined to: cc-sdd's `_Boundary: <name>_`
    /// line. The line stays in [`Task::details`] where it was written; this
    /// field is its value, and an edit of it rewrites (or adds, or drops)
    /// that line when rendering; read back, an added line is in `details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// The repositories of the workspace the task works in, from a
    /// `_Repos: api, web_` line (names of `.kiro/workspace.toml`'s
    /// `[repos.<name>]`). Like [`Task::boundary`], the line stays in
    /// [`Task::details`] where it was written; this field is its value, and
    /// an edit of it rewrites (or adds, or drops) that line when rendering.
    /// Empty: the engine infers the repositories from the task's paths, its
    /// parent's, or takes the workspace's default one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
}

impl Task {
    /// `true` for Kiro's "Checkpoint - ..." gate tasks, which are not commands.
    pub fn is_checkpoint(&self) -> bool {
        let t = self.title.trim_start();
        let lower = t.to_lowercase();
        lower.starts_with("checkpoint")
            || t.starts_with("检查点")
            || t.starts_with("チェックポイント")
    }

    /// This task and all sub-tasks, depth first.
    pub fn walk(&self) -> Vec<&Task> {
        let mut out = vec![self];
        for s in &self.subtasks {
            out.extend(s.walk());
        }
        out
    }
}

/// `true` when task id `id` is numbered under `parent`: `2.1` and `2.1.3`
/// under `2`, not `21` nor `2` itself. This is how a sub-task written at its
/// parent's indentation is told from a sibling.
///
/// ```
/// use kiro_core::spec::is_numbered_under;
///
/// assert!(is_numbered_under("2.1.3", "2"));
/// assert!(!is_numbered_under("21", "2"));
/// ```
pub fn is_numbered_under(id: &str, parent: &str) -> bool {
    id.strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('.'))
}

impl TaskList {
    /// Every task, depth first, in document order.
    pub fn all_tasks(&self) -> Vec<&Task> {
        self.tasks.iter().flat_map(Task::walk).collect()
    }
}

impl RequirementsDoc {
    /// Every acceptance criterion, in document order.
    pub fn criteria(&self) -> impl Iterator<Item = &AcceptanceCriterion> {
        self.requirements.iter().flat_map(|r| r.criteria.iter())
    }
}

impl BugfixDoc {
    /// Every clause of every group, in document order.
    pub fn clauses(&self) -> impl Iterator<Item = &AcceptanceCriterion> {
        self.groups.iter().flat_map(|g| g.clauses.iter())
    }
}

impl Spec {
    /// Every criterion the spec defines: requirements' criteria, or the
    /// bugfix clauses for a bugfix spec.
    pub fn criteria(&self) -> Vec<&AcceptanceCriterion> {
        let mut out: Vec<&AcceptanceCriterion> = Vec::new();
        if let Some(r) = &self.requirements {
            out.extend(r.criteria());
        }
        if let Some(b) = &self.bugfix {
            out.extend(b.clauses());
        }
        out
    }
}

/// A phase of the pipeline, in the order they run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Requirements text or markdown becomes a [`RequirementsDoc`].
    Requirements,
    /// The requirements become a [`DesignDoc`].
    Design,
    /// Requirements and design become a [`TaskList`].
    Tasks,
    /// Each task runs through the executor (`stage::Executor`).
    Execute,
    /// The verifier (`stage::Verifier`) checks every acceptance criterion.
    Verify,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Requirements,
        Phase::Design,
        Phase::Tasks,
        Phase::Execute,
        Phase::Verify,
    ];

    /// The lower-case name used in the CLI and in checkpoints (`design`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Requirements => "requirements",
            Phase::Design => "design",
            Phase::Tasks => "tasks",
            Phase::Execute => "execute",
            Phase::Verify => "verify",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Phase {
    type Err = UnknownPhase;

    /// Reads a phase name, in any case (`design`, `Design`).
    fn from_str(s: &str) -> Result<Phase, UnknownPhase> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPhase(s.to_owned()))
    }
}

/// Text that names no [`Phase`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown phase {0:?} (expected requirements, design, tasks, execute or verify)")]
pub struct UnknownPhase(pub String);

/// Tokens and requests a node spent on a model.
///
/// ```
/// use kiro_core::stage::TokenUsage;
///
/// let a = TokenUsage { input_tokens: 120, output_tokens: 30, requests: 1 };
/// let total = a + TokenUsage { input_tokens: 80, output_tokens: 20, requests: 1 };
/// assert_eq!(total.total_tokens(), 250);
/// assert!(TokenUsage::default().is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct TokenUsage {
    /// Prompt tokens, summed over every request.
    #[serde(default)]
    pub input_tokens: u64,
    /// Generated tokens, summed over every request.
    #[serde(default)]
    pub output_tokens: u64,
    /// How many requests reached the model (replayed ones included).
    #[serde(default)]
    pub requests: u64,
}

impl TokenUsage {
    /// Input and output tokens together.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Whether nothing was spent.
    pub fn is_empty(&self) -> bool {
        *self == TokenUsage::default()
    }
}

impl std::ops::Add for TokenUsage {
    type Output = TokenUsage;

    fn add(self, other: TokenUsage) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            requests: self.requests.saturating_add(other.requests),
        }
    }
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, other: TokenUsage) {
        *self = *self + other;
    }
}

impl std::iter::Sum for TokenUsage {
    fn sum<I: Iterator<Item = TokenUsage>>(iter: I) -> TokenUsage {
        iter.fold(TokenUsage::default(), std::ops::Add::add)
    }
}
