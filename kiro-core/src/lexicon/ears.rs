//! EARS words: the English keywords [`crate::ears`] scans for, and the
//! condition words, modal verbs and particles of the other languages it
//! reads EARS sentences in.
//!
//! An EARS sentence has the same parts in every language: condition
//! clauses, the responding system, a modal verb stating the obligation and
//! the response. Languages differ in where the parts stand, which
//! [`WordOrder`] and [`Language::spaced`] describe, and in the words that
//! mark them, which the other fields of [`Language`] list:
//!
//! | Language | Example |
//! |---|---|
//! | German | `WENN der Benutzer speichert, DANN SOLL das System die Änderung sichern` |
//! | French | `LORSQUE l'utilisateur enregistre, LE système DOIT sauvegarder` |
//! | Spanish | `CUANDO el usuario guarda ENTONCES el sistema DEBERÁ guardar` |
//! | Portuguese | `QUANDO o usuário salva ENTÃO o sistema DEVE salvar` |
//! | Italian | `QUANDO l'utente salva, il sistema DEVE salvare` |
//! | Russian | `КОГДА пользователь сохраняет, система ДОЛЖНА сохранить` |
//! | Chinese | `当用户保存时，系统应保存更改` |
//! | Japanese | `ユーザーが保存したとき、システムは変更を保存しなければならない` |
//! | Korean | `사용자가 저장할 때, 시스템은 변경 사항을 저장해야 한다` |
//!
//! Words of spaced languages are lower-case and match whole words in any
//! case; words of Chinese and Japanese match as substrings, and Korean
//! endings as word endings. A space inside an entry matches any run of
//! spaces, none included (`해야 한다` and `해야한다`).
//!
//! ```
//! use kiro_core::lexicon::ears::{language, LANGUAGES};
//!
//! assert_eq!(language("pt").map(|l| l.modals.contains(&"deve")), Some(true));
//! assert!(LANGUAGES.iter().all(|l| !l.modals.is_empty()));
//! ```

use crate::spec::ClauseKeyword::{self, If, When, Where, While};

// ---------------------------------------------------------------------------
// English.
// ---------------------------------------------------------------------------

/// The event keyword, lower-case (every English keyword matches as a
/// whole ASCII word in any case).
pub const WHEN: &str = "when";
/// The state keyword.
pub const WHILE: &str = "while";
/// The optional-feature keyword.
pub const WHERE: &str = "where";
/// The unwanted-behaviour keyword.
pub const IF: &str = "if";
/// The word that may close the last condition (`IF x, THEN THE y SHALL`).
pub const THEN: &str = "then";
/// The article that opens the system (`THE Auth_Service`).
pub const THE: &str = "the";
/// The modal verb of an English EARS sentence.
pub const SHALL: &str = "shall";

/// Every English keyword, in the order of [`WHEN`] ... [`SHALL`].
pub const KEYWORDS: [&str; 7] = [WHEN, WHILE, WHERE, IF, THEN, THE, SHALL];

/// The keywords that open an English EARS sentence.
pub const SENTENCE_OPENERS: &[&str] = &[WHEN, WHILE, WHERE, IF, THE];

/// Words that join two condition clauses (`WHILE x AND WHEN y`).
pub const CONJUNCTIONS: &[&str] = &["and", "or"];

/// Words that open a condition EARS spells differently (`AFTER x` is
/// `WHEN x`, `UNLESS x` is `IF NOT x`, `DURING x` is `WHILE x`). A sentence
/// starting with one of them is not an EARS sentence, even with a SHALL.
pub const NON_EARS_OPENERS: &[&str] = &[
    "after",
    "as soon as",
    "before",
    "during",
    "in case",
    "once",
    "provided",
    "unless",
    "until",
    "upon",
    "whenever",
];

// ---------------------------------------------------------------------------
// Other languages.
// ---------------------------------------------------------------------------

/// Where a language puts the modal verb, which decides how a sentence
/// splits into system and response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordOrder {
    /// `<conditions> <system> <modal> <response>` (German, the Romance
    /// languages, Russian, Chinese). German may also put the modal first
    /// (`DANN SOLL das System ...`): the system then follows it.
    ModalBeforeResponse,
    /// `<conditions> <system><topic> <response><modal>`: the modal is a
    /// verb ending that closes the sentence, and a topic particle closes the
    /// system (Japanese `システムは`, Korean `시스템은`).
    ModalLast,
}

/// The script a language is written in, which tells the languages that
/// share characters apart: Japanese text holds kana, Chinese text Han
/// characters only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// Latin or Cyrillic letters: the language is tried on any text.
    Alphabetic,
    /// Han characters without kana or Hangul.
    Han,
    /// Japanese kana (with or without Han characters).
    Kana,
    /// Korean Hangul.
    Hangul,
}

/// The EARS words of one language other than English.
///
/// Tables a language does not use are empty. Where two entries of a table
/// can match at the same place, the reader takes the longest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Language {
    /// ISO 639-1 code (`de`, `ja`), as in [`crate::spec::Ears::language`].
    pub code: &'static str,
    /// The script the language is written in.
    pub script: Script,
    /// Words are separated by spaces, so entries match whole words.
    pub spaced: bool,
    /// Where the modal verb stands.
    pub order: WordOrder,
    /// Characters that separate clauses.
    pub separators: &'static [char],
    /// Words that open a condition clause, and the condition each states.
    pub openers: &'static [(&'static str, ClauseKeyword)],
    /// Words that start like an opener but open no condition (`当前`, "current").
    pub not_openers: &'static [&'static str],
    /// Words that close a condition clause (`时`, `とき`, `때`), and the
    /// condition they state when no opener does (`None`: they only close).
    pub closers: &'static [(&'static str, Option<ClauseKeyword>)],
    /// Words that end like a closer but close no condition (`常時`, "always").
    pub not_closers: &'static [&'static str],
    /// `(opener, closer, condition)`: an opener whose meaning the closer
    /// decides (`在…情况下` is an optional feature, `在…期间` a state).
    pub refinements: &'static [(&'static str, &'static str, ClauseKeyword)],
    /// Words that close the last condition and open the system (`DANN`, `ENTÃO`, `那么`).
    pub then: &'static [&'static str],
    /// Words that join two condition clauses (`UND`, `E`).
    pub conjunctions: &'static [&'static str],
    /// Modal verbs (or endings) that state an obligation wherever they stand.
    pub modals: &'static [&'static str],
    /// Modal endings that state an obligation only at the end of the
    /// sentence (before a closing parenthetical note): `こと` elsewhere is
    /// the noun "thing".
    pub final_modals: &'static [&'static str],
    /// Words that state a prohibition (`不得`, `てはならない`). They count as
    /// modal verbs but stay in the response, which would otherwise state
    /// the opposite.
    pub prohibitions: &'static [&'static str],
    /// Words that contain a modal verb but are none (`应用`, "application").
    pub not_modals: &'static [&'static str],
    /// Light verbs dropped with a modal ending that follows them, so that
    /// the response ends with the verbal noun (`表示しなければならない` reads `表示`).
    pub light_verbs: &'static [&'static str],
    /// Negations that stand before the modal verb (`NE DOIT PAS`, `不应`);
    /// they move to the front of the response.
    pub negations: &'static [&'static str],
    /// Articles: where no comma or then-word ends the last condition, the
    /// system starts at the last article, and after a German modal the
    /// system is an article and a noun.
    pub articles: &'static [&'static str],
    /// Particles that close the system in a [`WordOrder::ModalLast`] language.
    pub topics: &'static [&'static str],
    /// Subject particles, which close the system when no topic particle
    /// does (passive sentences: `レスポンスが処理されなければならない`).
    pub subjects: &'static [&'static str],
}

/// The empty tables the languages below fill in.
const NONE: Language = Language {
    code: "",
    script: Script::Alphabetic,
    spaced: true,
    order: WordOrder::ModalBeforeResponse,
    separators: &[',', ';'],
    openers: &[],
    not_openers: &[],
    closers: &[],
    not_closers: &[],
    refinements: &[],
    then: &[],
    conjunctions: &[],
    modals: &[],
    final_modals: &[],
    prohibitions: &[],
    not_modals: &[],
    light_verbs: &[],
    negations: &[],
    articles: &[],
    topics: &[],
    subjects: &[],
};

/// German: `WENN <Auslöser>, DANN SOLL <System> <Reaktion>`, `<System> MUSS <Reaktion>`.
pub const GERMAN: Language = Language {
    code: "de",
    openers: &[
        ("wenn", When),
        ("sobald", When),
        ("während", While),
        ("solange", While),
        ("falls", If),
        ("sofern", Where),
        ("wo", Where),
    ],
    then: &["dann"],
    conjunctions: &["und", "oder"],
    modals: &["muss", "muß", "müssen", "soll", "sollen"],
    articles: &[
        "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem",
    ],
    ..NONE
};

/// French: `LORSQUE <déclencheur>, LE <système> DOIT <réponse>`.
pub const FRENCH: Language = Language {
    code: "fr",
    openers: &[
        ("quand", When),
        ("lorsque", When),
        ("lorsqu'", When),
        ("lorsqu’", When),
        ("pendant que", While),
        ("tant que", While),
        ("si", If),
        ("au cas où", If),
        ("où", Where),
        ("là où", Where),
    ],
    then: &["alors"],
    conjunctions: &["et", "ou"],
    modals: &["doit", "doivent", "devra", "devront"],
    negations: &["ne", "n'", "n’"],
    articles: &["le", "la", "les", "l'", "l’", "un", "une"],
    ..NONE
};

/// Spanish: `CUANDO <disparador> ENTONCES EL <sistema> DEBERÁ <respuesta>`.
pub const SPANISH: Language = Language {
    code: "es",
    openers: &[
        ("cuando", When),
        ("mientras", While),
        ("si", If),
        ("en caso de que", If),
        ("donde", Where),
    ],
    then: &["entonces"],
    conjunctions: &["y", "e", "o", "u"],
    modals: &["debe", "deben", "deberá", "deberán"],
    negations: &["no"],
    articles: &["el", "la", "los", "las", "un", "una"],
    ..NONE
};

/// Portuguese: `QUANDO <gatilho> ENTÃO O <sistema> DEVE <resposta>`.
pub const PORTUGUESE: Language = Language {
    code: "pt",
    openers: &[
        ("quando", When),
        ("enquanto", While),
        ("se", If),
        ("caso", If),
        ("onde", Where),
    ],
    then: &["então", "entao"],
    conjunctions: &["e", "ou"],
    modals: &["deve", "devem", "deverá", "deverão"],
    negations: &["não", "nao"],
    articles: &["o", "a", "os", "as", "um", "uma"],
    ..NONE
};

/// Italian: `QUANDO <evento>, IL <sistema> DEVE <risposta>`.
pub const ITALIAN: Language = Language {
    code: "it",
    openers: &[
        ("quando", When),
        ("mentre", While),
        ("finché", While),
        ("se", If),
        ("qualora", If),
        ("dove", Where),
    ],
    then: &["allora"],
    conjunctions: &["e", "ed", "o", "oppure"],
    modals: &["deve", "devono", "dovrà", "dovranno"],
    negations: &["non"],
    articles: &[
        "il", "lo", "la", "i", "gli", "le", "l'", "l’", "un", "uno", "una",
    ],
    ..NONE
};

/// Russian: `КОГДА <событие>, <система> ДОЛЖНА <реакция>`.
pub const RUSSIAN: Language = Language {
    code: "ru",
    openers: &[
        ("когда", When),
        ("пока", While),
        ("в то время как", While),
        ("если", If),
        ("где", Where),
    ],
    then: &["то", "тогда"],
    conjunctions: &["и", "или"],
    modals: &[
        "должен",
        "должна",
        "должно",
        "должны",
        "обязан",
        "обязана",
        "обязано",
        "обязаны",
    ],
    negations: &["не"],
    ..NONE
};

/// Chinese (simplified and traditional): `当<触发>时，<系统>应<响应>`,
/// `如果<条件>，那么<系统>应<响应>`, `在<状态>期间，…`, `在<特性>的情况下，…`.
pub const CHINESE: Language = Language {
    code: "zh",
    script: Script::Han,
    spaced: false,
    separators: &['，', ',', '；', ';'],
    openers: &[
        ("当", When),
        ("當", When),
        ("每当", When),
        ("每當", When),
        ("如果", If),
        ("假如", If),
        ("倘若", If),
        ("若", If),
        ("在", While),
    ],
    not_openers: &[
        "当前", "當前", "当地", "當地", "当天", "當天", "当日", "當日", "当月", "當月", "当年",
        "當年", "当中", "當中", "当然", "當然", "若干", "在线", "在線", "在于", "在於",
    ],
    closers: &[
        ("时", None),
        ("時", None),
        ("的时候", None),
        ("的時候", None),
        ("时候", None),
        ("時候", None),
        ("期间", None),
        ("期間", None),
        ("过程中", None),
        ("過程中", None),
        ("状态下", None),
        ("狀態下", None),
        ("情况下", None),
        ("情況下", None),
        ("的情况下", None),
        ("的情況下", None),
        ("的话", None),
        ("的話", None),
    ],
    not_closers: &[
        "同时", "同時", "及时", "及時", "实时", "實時", "随时", "隨時", "定时", "定時", "超时",
        "超時", "临时", "臨時", "准时", "準時", "按时", "按時", "即时", "即時", "小时", "小時",
    ],
    refinements: &[
        ("在", "情况下", Where),
        ("在", "情況下", Where),
        ("在", "的情况下", Where),
        ("在", "的情況下", Where),
        ("当", "期间", While),
        ("當", "期間", While),
        ("当", "过程中", While),
        ("當", "過程中", While),
    ],
    then: &["那么", "那麼", "则", "則"],
    conjunctions: &["并且", "並且", "而且", "或者", "且", "或"],
    modals: &[
        "必须", "必須", "应当", "應當", "应该", "應該", "应", "應", "须", "須",
    ],
    prohibitions: &["不得"],
    not_modals: &[
        "应用", "應用", "响应", "響應", "对应", "對應", "适应", "適應", "反应", "反應", "供应",
        "供應", "相应", "相應", "回应", "回應", "效应", "效應", "感应", "感應", "呼应", "呼應",
        "顺应", "順應", "答应", "答應", "应答", "應答", "应急", "應急", "无须", "無須", "毋须",
        "毋須", "须知", "須知",
    ],
    negations: &["不"],
    ..NONE
};

/// Japanese: `<トリガー>とき、<システム>は<応答>しなければならない`, cc-sdd's
/// `…した時、<システム>は…すること`, with `場合` (unwanted behaviour), `間`
/// (state) and `において` (optional feature).
pub const JAPANESE: Language = Language {
    code: "ja",
    script: Script::Kana,
    spaced: false,
    order: WordOrder::ModalLast,
    separators: &['、', '，', ','],
    openers: &[("もし", If), ("万一", If), ("仮に", If)],
    closers: &[
        ("とき", Some(When)),
        ("ときは", Some(When)),
        ("ときに", Some(When)),
        ("ときには", Some(When)),
        ("時", Some(When)),
        ("時は", Some(When)),
        ("時に", Some(When)),
        ("時には", Some(When)),
        ("際", Some(When)),
        ("際は", Some(When)),
        ("際に", Some(When)),
        ("際には", Some(When)),
        ("すると", Some(When)),
        ("したら", Some(When)),
        ("場合", Some(If)),
        ("場合は", Some(If)),
        ("場合には", Some(If)),
        ("なら", Some(If)),
        ("ならば", Some(If)),
        ("間", Some(While)),
        ("間は", Some(While)),
        ("間に", Some(While)),
        ("の間", Some(While)),
        ("の間は", Some(While)),
        ("あいだ", Some(While)),
        ("あいだは", Some(While)),
        ("中は", Some(While)),
        ("において", Some(Where)),
        ("においては", Some(Where)),
    ],
    not_closers: &[
        "常時", "随時", "同時", "当時", "即時", "定時", "日時", "一時", "時間", "期間", "空間",
        "人間", "年間", "月間", "週間", "区間", "瞬間", "中間", "夜間", "昼間", "民間",
    ],
    conjunctions: &["かつ", "または"],
    modals: &[
        "なければならない",
        "ねばならない",
        "ものとする",
        "必要がある",
        "べきである",
    ],
    final_modals: &["こと", "べき"],
    prohibitions: &[
        "てはならない",
        "ではならない",
        "てはいけない",
        "ではいけない",
    ],
    light_verbs: &["する", "し"],
    topics: &["は"],
    subjects: &["が"],
    ..NONE
};

/// Korean: `<트리거>할 때, <시스템>은 <응답>해야 한다`, with `경우` (unwanted
/// behaviour), `동안` (state) and `에서는` (optional feature).
pub const KOREAN: Language = Language {
    code: "ko",
    script: Script::Hangul,
    order: WordOrder::ModalLast,
    separators: &[',', '，'],
    openers: &[("만약", If), ("만일", If)],
    closers: &[
        ("때", Some(When)),
        ("때에", Some(When)),
        ("때는", Some(When)),
        ("때에는", Some(When)),
        ("면", Some(When)),
        ("동안", Some(While)),
        ("동안에", Some(While)),
        ("동안에는", Some(While)),
        ("중에", Some(While)),
        ("중에는", Some(While)),
        ("경우", Some(If)),
        ("경우에", Some(If)),
        ("경우에는", Some(If)),
        ("에서는", Some(Where)),
    ],
    not_closers: &[
        "화면", "측면", "반면", "표면", "전면", "후면", "정면", "단면", "지면", "방면", "국면",
        "내면", "외면",
    ],
    conjunctions: &["그리고", "또는"],
    modals: &[
        "야 한다",
        "야 합니다",
        "야 함",
        "야 하며",
        "야 하고",
        "야 하는",
        "야 된다",
        "야 됩니다",
    ],
    prohibitions: &[
        "서는 안 된다",
        "서는 안 됩니다",
        "서는 안 됨",
        "면 안 된다",
        "면 안 됩니다",
    ],
    light_verbs: &["하여", "해", "되어", "돼"],
    topics: &["은", "는"],
    subjects: &["이", "가"],
    ..NONE
};

/// Every language kiro reads EARS in besides English, spaced languages
/// first. Languages sharing a modal verb (Portuguese and Italian `deve`)
/// are told apart by their other words.
pub const LANGUAGES: &[Language] = &[
    GERMAN, FRENCH, SPANISH, PORTUGUESE, ITALIAN, RUSSIAN, CHINESE, JAPANESE, KOREAN,
];

/// The language with this ISO 639-1 code.
///
/// ```
/// assert_eq!(kiro_core::lexicon::ears::language("ko").map(|l| l.topics), Some(&["은", "는"][..]));
/// ```
pub fn language(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word table of every language, with its name.
    fn tables(l: &Language) -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            ("openers", l.openers.iter().map(|(w, _)| *w).collect()),
            ("not_openers", l.not_openers.to_vec()),
            ("closers", l.closers.iter().map(|(w, _)| *w).collect()),
            ("not_closers", l.not_closers.to_vec()),
            ("then", l.then.to_vec()),
            ("conjunctions", l.conjunctions.to_vec()),
            ("modals", l.modals.to_vec()),
            ("final_modals", l.final_modals.to_vec()),
            ("prohibitions", l.prohibitions.to_vec()),
            ("not_modals", l.not_modals.to_vec()),
            ("light_verbs", l.light_verbs.to_vec()),
            ("negations", l.negations.to_vec()),
            ("articles", l.articles.to_vec()),
            ("topics", l.topics.to_vec()),
            ("subjects", l.subjects.to_vec()),
        ]
    }

    /// Entries are lower-case (matching folds the text, not the table),
    /// non-empty and unique; codes are unique; every language has modal
    /// verbs and condition words.
    #[test]
    fn tables_are_lower_case_unique_and_complete() {
        for (i, l) in LANGUAGES.iter().enumerate() {
            assert_eq!(l.code.len(), 2, "{}", l.code);
            assert!(!LANGUAGES[..i].iter().any(|o| o.code == l.code));
            assert!(!l.modals.is_empty(), "{}", l.code);
            assert!(!l.openers.is_empty() || !l.closers.is_empty());
            for (name, table) in tables(l) {
                for (j, w) in table.iter().enumerate() {
                    assert!(!w.trim().is_empty(), "{} {name}", l.code);
                    assert_eq!(*w, w.to_lowercase(), "{} {name}", l.code);
                    assert!(!table[..j].contains(w), "{} {name}: {w} twice", l.code);
                }
            }
        }
    }

    /// A `not_*` entry must contain a word of the table it exempts from,
    /// or it exempts nothing.
    #[test]
    fn exceptions_contain_the_word_they_except() {
        for l in LANGUAGES {
            for w in l.not_openers {
                assert!(l.openers.iter().any(|(o, _)| w.starts_with(o)), "{w}");
            }
            for w in l.not_closers {
                assert!(l.closers.iter().any(|(c, _)| w.ends_with(c)), "{w}");
            }
            for w in l.not_modals {
                assert!(l.modals.iter().any(|m| w.contains(m)), "{w}");
            }
        }
    }

    #[test]
    fn english_keywords_are_lower_case_ascii() {
        for w in KEYWORDS
            .iter()
            .chain(SENTENCE_OPENERS)
            .chain(NON_EARS_OPENERS)
        {
            assert!(w.is_ascii() && *w == w.to_lowercase(), "{w}");
        }
    }
}
