//! The screen every ingested text passes before it can become a memory:
//! text that talks to an agent instead of about code is rejected.
//!
//! A memory ends up in an agent's prompt, so a review comment is untrusted
//! input aimed at a future agent. The screen rejects, with a
//! [`Rejection`] the caller can show:
//!
//! - instructions addressed to an agent ("ignore previous instructions",
//!   "you are now …", chat-template markers such as `<|im_start|>`);
//! - shell commands that are dangerous to run blindly: remote content piped
//!   into an interpreter (`curl … | sh`), destructive commands (`rm -rf /`,
//!   `mkfs`, `dd of=/dev/…`), reverse shells, reads of credentials sent
//!   elsewhere. Ordinary commands ("run `cargo fmt`") are guidance and pass;
//! - encoded blobs (long base64 runs) a reader cannot check;
//! - hidden text: bidirectional overrides (Trojan Source) and Unicode tag
//!   characters, which show a reader something other than what an agent reads;
//! - bodies longer than the configured limit.
//!
//! Zero-width characters and other control characters are removed before
//! matching ([`clean`]), so `ig\u{200b}nore previous instructions` is caught
//! too. The screen runs on the raw comment (hidden HTML comments included)
//! and again on every lesson a distiller returns, so a pluggable distiller
//! cannot let through what the screen would stop.

use std::fmt;

use regex::{Regex, RegexSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a text was refused as a memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// It addresses an agent ("ignore previous instructions", "you are now").
    AgentInstruction,
    /// It holds a shell command that is dangerous to run blindly.
    ShellCommand,
    /// It holds a long encoded blob (base64) nobody can read.
    EncodedBlob,
    /// It hides text from a reader (bidi overrides, tag characters).
    HiddenText,
    /// It is longer than the limit.
    TooLong,
}

impl RejectReason {
    /// A short phrase for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            RejectReason::AgentInstruction => "reads as instructions to an agent",
            RejectReason::ShellCommand => "holds a shell command that is dangerous to run blindly",
            RejectReason::EncodedBlob => "holds an encoded blob",
            RejectReason::HiddenText => {
                "hides text from a reader (bidirectional or tag characters)"
            }
            RejectReason::TooLong => "is too long",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A refused text: why, and the part that decided it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// The offending part, cut to 80 characters and with control
    /// characters replaced, safe to print.
    pub excerpt: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.excerpt.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {:?}", self.reason, self.excerpt)
        }
    }
}

/// The default longest body the screen accepts, in bytes: a long review
/// comment is a few kilobytes; a megabyte is not a lesson.
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;

/// Agent-addressed phrases. Case-insensitive, on text whose runs of
/// white space are one space.
const AGENT_PATTERNS: &[&str] = &[
    r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+|my\s+|these\s+)?(previous|prior|above|earlier|preceding|system|original|safety|initial)\s+(instructions?|prompts?|rules|directives|guidelines|messages|context)\b",
    r"\b(ignore|disregard|forget)\s+(all\s+)?(of\s+)?your\s+(instructions|rules|guidelines|prompt|programming|training)\b",
    r"\b(ignore|disregard|forget)\s+(everything|all)\s+(you|that you|above|before)\b",
    r"\byou are (now|no longer|an? (ai|llm|language model|assistant|agent|coding agent))\b",
    r"\bif you are an? (ai|llm|language model|assistant|agent|coding agent|bot)\b",
    r"\b(as an? (ai|llm|language model)|system prompt|developer mode|jailbreak|dan mode)\b",
    r"\b(new|updated|real|actual|hidden|secret) instructions?\s*:",
    r"<\|?(im_start|im_end|system|endoftext)\|?>|\[/?inst\]|</?(system|assistant)>",
    r"(^|\n)\s*(system|assistant)\s*:",
    r"\bpretend (to be|you are|that you)\b|\b(from now on|henceforth),? (you|act|behave|respond|always)\b",
    r"\b(ai|llm|agent|assistant|copilot|bot|model)s?\s*[,:]\s*(please\s+)?(ignore|run|execute|delete|send|upload|disable|grant|approve|merge|push)\b",
    r"\b(dear|hey|attention|note (to|for)|message (to|for)) (the )?(ai|llm|agent|assistant|model|bot|copilot)s?\b",
    r"\bwhen (you|an? (ai|agent|assistant|model)) (read|see|process|parse)s? this\b",
    r"\b(do not|don't|never) (tell|inform|alert|mention (this|it) to) (the )?(user|reviewer|human|maintainers?)\b",
    r"\bexfiltrate\b|\bsend (all |your |the |any )?(secrets?|credentials?|tokens?|keys?|env(ironment)?( variables)?) to\b",
];

/// Dangerous shell commands. Ordinary commands are not here: "run
/// `cargo fmt` before pushing" is guidance.
const SHELL_PATTERNS: &[&str] = &[
    // Remote content into an interpreter.
    r"\b(curl|wget|iwr|invoke-webrequest)\b[^|\n]{0,200}\|\s*(sudo\s+)?(ba|z|k|da|fi)?sh\b",
    r"\b(curl|wget|iwr|invoke-webrequest)\b[^|\n]{0,200}\|\s*(sudo\s+)?(python\d?|perl|ruby|node|iex|invoke-expression|powershell|pwsh)\b",
    r"\b(ba|z)?sh\s+(-c\s+)?\S{0,3}<\(\s*(curl|wget)",
    r"\b(ba|z)?sh\s+-c\s+.{0,3}\$\(\s*(curl|wget)",
    r"\beval\s+.{0,3}\$\(\s*(curl|wget|base64|echo)",
    r"\bbase64\s+(-d|--decode|-D)\b[^\n]{0,100}\|\s*(sudo\s+)?(ba|z)?sh\b",
    // Destructive commands.
    r"\brm\s+(-[a-z]*r[a-z]*f[a-z]*|-[a-z]*f[a-z]*r[a-z]*|--recursive\s+--force|--force\s+--recursive)\s+(--no-preserve-root\s+)?(/|~|\$home|\*|\.\s|\.$)",
    r"\bmkfs(\.\w+)?\s",
    r"\bdd\s+[^\n]{0,80}\bof=/dev/",
    r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
    r"\bchmod\s+(-r\s+)?(0?777|a\+rwx)\s+/",
    // Reverse shells and credential exfiltration.
    r"/dev/tcp/|\bnc\s+(-\w+\s+)*-e\s|\bncat\b[^\n]{0,60}-e\s",
    r"(~|\$home)/\.ssh/(id_|authorized_keys)|\.aws/credentials|/etc/(shadow|sudoers)",
    r"https?://\S*\$\{?[a-z_]*(token|secret|password|passwd|api_key|apikey|private_key)",
    r"\b(curl|wget)\b[^\n]{0,120}(-d|--data\S*|--upload-file|-f|--form)\s+\S*(\$\{?[a-z_]*(token|secret|password|key)|@~|@/)",
    r"\b(env|printenv)\s*\|\s*(curl|wget|nc)\b",
    r"\bpowershell(\.exe)?\s+[^\n]{0,40}-(e|enc|encodedcommand)\s",
];

/// The compiled screen. Build one and reuse it: compiling the patterns is
/// the expensive part; screening is linear in the text.
#[derive(Clone, Debug)]
pub struct Screen {
    agent: RegexSet,
    shell: RegexSet,
    patterns: Vec<Regex>,
    max_bytes: usize,
}

impl Screen {
    /// A screen accepting bodies up to [`DEFAULT_MAX_BYTES`].
    pub fn new() -> Screen {
        Screen::with_max_bytes(DEFAULT_MAX_BYTES)
    }

    /// A screen accepting bodies up to `max_bytes`.
    pub fn with_max_bytes(max_bytes: usize) -> Screen {
        let build = |patterns: &[&str]| {
            patterns
                .iter()
                .map(|p| format!("(?i){p}"))
                .collect::<Vec<_>>()
        };
        let agent = build(AGENT_PATTERNS);
        let shell = build(SHELL_PATTERNS);
        // The patterns are constants checked by the tests; a failure to
        // compile one would be a bug here, so it falls back to a set that
        // matches nothing rather than panicking in library code.
        let set =
            |patterns: &[String]| RegexSet::new(patterns).unwrap_or_else(|_| RegexSet::empty());
        let patterns = agent
            .iter()
            .chain(shell.iter())
            .filter_map(|p| Regex::new(p).ok())
            .collect();
        Screen {
            agent: set(&agent),
            shell: set(&shell),
            patterns,
            max_bytes,
        }
    }

    /// The longest body accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks a text; `Err` says why it must not become a memory.
    pub fn check(&self, text: &str) -> Result<(), Rejection> {
        if text.len() > self.max_bytes {
            return Err(Rejection {
                reason: RejectReason::TooLong,
                excerpt: format!("{} bytes, the limit is {}", text.len(), self.max_bytes),
            });
        }
        if let Some(c) = text.chars().find(|c| is_hidden(*c)) {
            return Err(Rejection {
                reason: RejectReason::HiddenText,
                excerpt: format!("U+{:04X}", u32::from(c)),
            });
        }
        let cleaned = clean(text);
        let flat = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
        // Line-anchored patterns need the line breaks, so each set runs on
        // the cleaned text and on its flattened form.
        for (set, reason) in [
            (&self.agent, RejectReason::AgentInstruction),
            (&self.shell, RejectReason::ShellCommand),
        ] {
            for candidate in [cleaned.as_str(), flat.as_str()] {
                if set.is_match(candidate) {
                    return Err(Rejection {
                        reason,
                        excerpt: self.excerpt(candidate),
                    });
                }
            }
        }
        if let Some(blob) = encoded_blob(&cleaned) {
            return Err(Rejection {
                reason: RejectReason::EncodedBlob,
                excerpt: safe_excerpt(blob),
            });
        }
        Ok(())
    }

    /// The first matching part of `text`, for the rejection.
    fn excerpt(&self, text: &str) -> String {
        self.patterns
            .iter()
            .find_map(|p| p.find(text))
            .map(|m| safe_excerpt(m.as_str()))
            .unwrap_or_default()
    }
}

impl Default for Screen {
    fn default() -> Screen {
        Screen::new()
    }
}

/// Characters that make a reader see something other than what a program
/// reads: bidirectional embeddings, overrides and isolates, and the tag
/// block (invisible ASCII look-alikes).
fn is_hidden(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{E0000}'..='\u{E007F}')
}

/// The text without zero-width characters and control characters other
/// than line breaks and tabs, which only serve to split words a pattern
/// would otherwise see.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
            ) && (!c.is_control() || matches!(c, '\n' | '\t'))
        })
        .collect()
}

/// A run of at least 60 base64 characters with upper case, lower case and
/// digits, and few slashes (a long path is not a blob). Hex runs (commit
/// ids) lack upper case and pass.
fn encoded_blob(text: &str) -> Option<&str> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut start = None;
    let check = |from: usize, to: usize| -> Option<&str> {
        let run = text.get(from..to)?;
        let upper = run.chars().filter(char::is_ascii_uppercase).count();
        let lower = run.chars().filter(char::is_ascii_lowercase).count();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let slashes = run.chars().filter(|c| *c == '/').count();
        (run.len() >= 60 && upper >= 4 && lower >= 4 && digits >= 2 && slashes * 16 <= run.len())
            .then_some(run)
    };
    for (i, c) in text.char_indices() {
        match (is_b64(c), start) {
            (true, None) => start = Some(i),
            (false, Some(from)) => {
                if let Some(run) = check(from, i) {
                    return Some(run);
                }
                start = None;
            }
            _ => {}
        }
    }
    start.and_then(|from| check(from, text.len()))
}

/// At most 80 characters of `text`, control characters shown as `?`.
fn safe_excerpt(text: &str) -> String {
    text.chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
