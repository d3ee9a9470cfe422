//! Keeping secrets out of what kiro stores and prints.
//!
//! An agent that prints its API key, a test that logs a password, an error
//! message that quotes a token: all of it would otherwise end up in the run
//! log under `.kiro/runs/`, in the audit log and on the terminal. A
//! [`Redactor`] knows the values of the environment variables whose names
//! look like secrets and replaces every occurrence of them with
//! `[redacted:NAME]`.
//!
//! A name looks like a secret ([`is_secret_name`], ASCII case-insensitive)
//! when it ends in `_KEY`, `_TOKEN` or `_SECRET`, contains `PASSWORD`, or is
//! one of the AWS credentials `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
//! and `AWS_SESSION_TOKEN`. Values shorter than [`MIN_SECRET_LEN`] bytes are
//! ignored: `DEBUG_TOKEN=1` or `USE_KEY=true` would otherwise redact every
//! `1` and `true` in every report, and a secret that short protects nothing.
//!
//! The environment is passed in (an iterator of name/value pairs), so tests
//! and embedding programs choose what counts; [`Redactor::from_env`] reads
//! the process environment.
//!
//! ```
//! use kiro_core::redact::Redactor;
//!
//! let r = Redactor::new([("OPENAI_API_KEY", "sk-live-1234567890"), ("DEBUG_TOKEN", "1")]);
//! assert_eq!(
//!     r.redact("using sk-live-1234567890 (debug 1)"),
//!     "using [redacted:OPENAI_API_KEY] (debug 1)"
//! );
//! ```

use std::borrow::Cow;
use std::fmt;

use memchr::memmem;
use serde_json::Value;

/// Values shorter than this many bytes are never redacted (see the module
/// documentation for why).
pub const MIN_SECRET_LEN: usize = 6;

/// Names that do not follow the suffix rules but are secrets.
const SECRET_NAMES: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];
const SECRET_SUFFIXES: [&str; 3] = ["_KEY", "_TOKEN", "_SECRET"];
const SECRET_INFIX: &str = "PASSWORD";

/// Whether an environment variable's name says it holds a secret:
/// `*_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*` or an AWS credential,
/// ignoring ASCII case.
///
/// ```
/// use kiro_core::redact::is_secret_name;
///
/// assert!(is_secret_name("OPENAI_API_KEY"));
/// assert!(is_secret_name("db_password_file"));
/// assert!(!is_secret_name("KEYBOARD"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAMES.contains(&upper.as_str())
        || SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s))
        || upper.contains(SECRET_INFIX)
}

/// One secret value and the name it is replaced by.
struct Secret {
    name: String,
    value: String,
}

/// Replaces the values of secret-looking environment variables with
/// `[redacted:NAME]`.
///
/// Matching is exact and byte-wise; where the values of two variables
/// overlap in a text, the occurrence that starts first wins, and of two
/// starting at the same place the longer. A value held by several variables
/// is named after the first of them in alphabetical order. `Debug` shows the
/// names only, never the values.
#[derive(Default)]
pub struct Redactor {
    /// Longest value first, values unique.
    secrets: Vec<Secret>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl Clone for Redactor {
    fn clone(&self) -> Redactor {
        Redactor {
            secrets: self
                .secrets
                .iter()
                .map(|s| Secret {
                    name: s.name.clone(),
                    value: s.value.clone(),
                })
                .collect(),
        }
    }
}

impl Redactor {
    /// A redactor that changes nothing.
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// A redactor for the secret-looking variables among `env` (name,
    /// value pairs); other variables and values shorter than
    /// [`MIN_SECRET_LEN`] are ignored.
    pub fn new<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Redactor
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut found: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, value)| {
                is_secret_name(name.as_ref()) && value.as_ref().len() >= MIN_SECRET_LEN
            })
            .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_owned()))
            .collect();
        found.sort();
        let mut secrets: Vec<Secret> = Vec::with_capacity(found.len());
        for (name, value) in found {
            if !secrets.iter().any(|s| s.value == value) {
                secrets.push(Secret { name, value });
            }
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
        Redactor { secrets }
    }

    /// A redactor for this process's environment (variables whose name or
    /// value is not UTF-8 are skipped).
    pub fn from_env() -> Redactor {
        Redactor::new(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The names of the variables whose values are redacted, longest value
    /// first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(|s| s.name.as_str())
    }

    /// `text` with every secret value replaced by `[redacted:NAME]`;
    /// borrowed when there is none in it.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        // Every occurrence of every value, then the leftmost (and, at one
        // place, longest) of each overlapping group.
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        for (i, secret) in self.secrets.iter().enumerate() {
            for start in memmem::find_iter(text.as_bytes(), secret.value.as_bytes()) {
                hits.push((start, start + secret.value.len(), i));
            }
        }
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        hits.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, i) in hits {
            if start < at {
                continue;
            }
            // Values are whole strings, so a match starts and ends on
            // character boundaries; `get` keeps that an assumption checked
            // rather than a panic.
            let (Some(before), Some(secret)) = (text.get(at..start), self.secrets.get(i)) else {
                continue;
            };
            out.push_str(before);
            out.push_str("[redacted:");
            out.push_str(&secret.name);
            out.push(']');
            at = end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// `text` as it may be printed on a terminal: secrets redacted, then
    /// control characters escaped ([`crate::escape::escape_control`]).
    /// Every untrusted string a command prints goes through this.
    ///
    /// ```
    /// use kiro_core::redact::Redactor;
    ///
    /// let r = Redactor::new([("GITHUB_TOKEN", "ghp_0123456789")]);
    /// assert_eq!(
    ///     r.for_terminal("token ghp_0123456789\n\u{1b}[2J"),
    ///     "token [redacted:GITHUB_TOKEN]\\n\\u{1b}[2J"
    /// );
    /// ```
    pub fn for_terminal(&self, text: &str) -> String {
        crate::escape::escape_control(&self.redact(text)).into_owned()
    }

    /// Redacts every string in a JSON value, object keys included.
    pub fn redact_value(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(redacted) = self.redact(s) {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                let needs_new_keys = map.keys().any(|k| matches!(self.redact(k), Cow::Owned(_)));
                if needs_new_keys {
                    let old = std::mem::take(map);
                    for (k, mut v) in old {
                        self.redact_value(&mut v);
                        map.insert(self.redact(&k).into_owned(), v);
                    }
                } else {
                    map.values_mut().for_each(|v| self.redact_value(v));
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names() {
        let cases = [
            ("OPENAI_API_KEY", true),
            ("openai_api_key", true),
            ("GITHUB_TOKEN", true),
            ("CLIENT_SECRET", true),
            ("DB_PASSWORD", true),
            ("PASSWORD", true),
            ("my_password_file", true),
            ("AWS_ACCESS_KEY_ID", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("AWS_SESSION_TOKEN", true),
            ("aws_access_key_id", true),
            ("KEY", false),
            ("TOKEN", false),
            ("KEYBOARD", false),
            ("TOKENIZER_PATH", false),
            ("SECRETS_DIR", false),
            ("PATH", false),
            ("HOME", false),
            ("KIRO_ACTOR", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_secret_name(name), expected, "{name}");
        }
    }

    fn check(env: &[(&str, &str)], input: &str, expected: &str) {
        let r = Redactor::new(env.iter().copied());
        assert_eq!(r.redact(input), expected, "env {env:?}, input {input:?}");
    }

    #[test]
    fn redacts_values_of_secret_variables_only() {
        let key = ("OPENAI_API_KEY", "sk-abcdef123456");
        check(&[key], "", "");
        check(&[key], "no secret here", "no secret here");
        check(
            &[key],
            "key=sk-abcdef123456; again sk-abcdef123456.",
            "key=[redacted:OPENAI_API_KEY]; again [redacted:OPENAI_API_KEY].",
        );
        check(&[key], "sk-abcdef12345", "sk-abcdef12345");
        // Not a secret-looking name: left alone.
        check(&[("HOME", "/home/alice")], "/home/alice", "/home/alice");
        // Too short to be worth redacting.
        check(&[("DEBUG_TOKEN", "12345")], "12345 true", "12345 true");
        check(
            &[("DEBUG_TOKEN", "123456")],
            "a123456b",
            "a[redacted:DEBUG_TOKEN]b",
        );
        // Non-ASCII around and inside values.
        check(
            &[("DB_PASSWORD", "pässwörd-日本")],
            "日本 pässwörd-日本!",
            "日本 [redacted:DB_PASSWORD]!",
        );
    }

    #[test]
    fn overlapping_and_shared_values() {
        // One value contains another: the longer match wins where both start.
        check(
            &[("A_TOKEN", "secret-1"), ("B_TOKEN", "secret-1-extended")],
            "secret-1-extended secret-1",
            "[redacted:B_TOKEN] [redacted:A_TOKEN]",
        );
        // Overlapping values: the leftmost wins.
        check(
            &[("A_KEY", "abcdef"), ("B_KEY", "defghi")],
            "abcdefghi",
            "[redacted:A_KEY]ghi",
        );
        // The same value under two names: named after the first name.
        check(
            &[("Z_KEY", "same-value"), ("A_KEY", "same-value")],
            "same-value",
            "[redacted:A_KEY]",
        );
    }

    #[test]
    fn redacts_json_strings_and_keys() {
        let r = Redactor::new([("X_SECRET", "hunter2hunter2")]);
        let mut v = json!({
            "summary": "printed hunter2hunter2",
            "list": ["a", "hunter2hunter2", 3, null, true],
            "hunter2hunter2": { "nested": "x hunter2hunter2 y" },
        });
        r.redact_value(&mut v);
        assert_eq!(
            v,
            json!({
                "summary": "printed [redacted:X_SECRET]",
                "list": ["a", "[redacted:X_SECRET]", 3, null, true],
                "[redacted:X_SECRET]": { "nested": "x [redacted:X_SECRET] y" },
            })
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let r = Redactor::new([("X_SECRET", "hunter2hunter2")]);
        let debug = format!("{r:?}");
        assert!(debug.contains("X_SECRET"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(Redactor::none().is_empty());
        assert_eq!(r.clone().names().collect::<Vec<_>>(), ["X_SECRET"]);
    }
}
