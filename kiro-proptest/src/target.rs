//! Targets: the code a property calls.
//!
//! A [`Target`] answers a named operation on a JSON input with a value or
//! an error message ([`Reply`]); anything else (a crash, a timeout, a
//! response that breaks the protocol, a server error) is a [`TargetError`],
//! which fails the property whatever its kind. Three implementations:
//!
//! - [`FnTarget`] ([`from_fn`]): a Rust closure, for code in the same
//!   program;
//! - [`ProcessTarget`]: a program in any language speaking JSON lines on
//!   stdin/stdout, started once and kept alive across cases;
//! - [`HttpTarget`]: an HTTP endpoint, `POST <base>/<op>` with the input as
//!   the JSON body.
//!
//! [`from_spec`] builds the target a `json kiro-property` block names.

mod http;
mod process;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kiro_core::spec::PropertyTarget;
use serde_json::Value;

pub use http::HttpTarget;
pub use process::ProcessTarget;

/// What a target answered: the operation's value, or the error it reported.
///
/// An error *reply* is an answer, not a failure: `rejects-invalid`
/// properties expect one, and the other kinds decide whether one is
/// acceptable.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// The operation succeeded with this value (`{"ok": ..}`, HTTP 2xx).
    Ok(Value),
    /// The operation refused the input with this message
    /// (`{"error": ".."}`, HTTP 4xx).
    Error(String),
}

/// A system under test: calls a named operation with a JSON input.
///
/// The runner calls it once per operation per case, from one thread at a
/// time, in case order; the same target may serve several properties. An
/// implementation must answer with a [`Reply`] when the operation ran, and
/// return a [`TargetError`] only when the target itself broke (the call
/// could not be made or its answer could not be read): those fail the
/// property whatever its kind, and the runner keeps going with the next
/// case, so a target that can recover (restart a process) should.
///
/// Forwarded through `&T`, `Box<T>` and `Arc<T>`.
///
/// ```
/// use kiro_proptest::target::{Reply, Target, TargetError};
/// use serde_json::{json, Value};
///
/// /// Reverses strings; refuses everything else.
/// struct Reverse;
///
/// impl Target for Reverse {
///     fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
///         Ok(match (op, input.as_str()) {
///             ("reverse", Some(s)) => Reply::Ok(json!(s.chars().rev().collect::<String>())),
///             ("reverse", None) => Reply::Error("expected a string".into()),
///             _ => Reply::Error(format!("unknown op {op}")),
///         })
///     }
/// }
///
/// assert_eq!(Reverse.call("reverse", &json!("ab"))?, Reply::Ok(json!("ba")));
/// # Ok::<(), TargetError>(())
/// ```
pub trait Target {
    /// Calls operation `op` with `input`.
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError>;
}

impl<T: Target + ?Sized> Target for &T {
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        (**self).call(op, input)
    }
}

impl<T: Target + ?Sized> Target for Box<T> {
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        (**self).call(op, input)
    }
}

impl<T: Target + ?Sized> Target for Arc<T> {
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        (**self).call(op, input)
    }
}

/// Why a call failed without an answer. Each variant fails the property.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program (`argv[0]`).
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The target was given no program to run.
    #[error("the process target has an empty argv")]
    EmptyArgv,
    /// The program exited (or closed its stdout) before answering.
    #[error("the process exited before answering ({status}); stderr tail:\n{stderr}")]
    Exited {
        /// Its exit status, as the OS reports it.
        status: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// No answer within the per-call timeout; the process was killed and
    /// is restarted on the next call.
    #[error("no answer to `{op}` within {after:?}; stderr tail:\n{stderr}")]
    Timeout {
        /// The operation called.
        op: String,
        /// The timeout.
        after: Duration,
        /// The last lines the process wrote to stderr.
        stderr: String,
    },
    /// The answer was not one JSON line `{"ok": ..}` or `{"error": ".."}`
    /// (or, over HTTP, a 2xx body that is not JSON).
    #[error("protocol error: {reason}: {answer}")]
    Protocol {
        /// What was expected.
        reason: String,
        /// The answer received (shortened).
        answer: String,
    },
    /// Writing the request to the program or reading its answer failed.
    #[error("i/o with the target failed: {0}")]
    Io(#[source] std::io::Error),
    /// The HTTP endpoint answered with a server error (5xx) or a status
    /// that is neither success nor client error.
    #[error("POST {url} answered {status}: {body}")]
    HttpStatus {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The response body (shortened).
        body: String,
    },
    /// The HTTP request could not be made (connection refused, timeout,
    /// malformed response).
    #[error("POST {url} failed: {message}")]
    Http {
        /// The URL called.
        url: String,
        /// The client's message.
        message: String,
    },
    /// An integrator's target failed in its own way.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// A target made of a Rust closure; see [`from_fn`].
pub struct FnTarget<F>(F);

/// A target calling `f(op, input)`: `Ok(value)` is [`Reply::Ok`], `Err(message)`
/// is [`Reply::Error`]. A panic in `f` fails the case like a crash.
///
/// ```
/// use kiro_proptest::target::{from_fn, Reply, Target};
/// use serde_json::json;
///
/// let double = from_fn(|_op: &str, input: &serde_json::Value| {
///     input.as_i64().map(|n| json!(n * 2)).ok_or_else(|| "expected an integer".to_string())
/// });
/// assert_eq!(double.call("double", &json!(21))?, Reply::Ok(json!(42)));
/// assert_eq!(double.call("double", &json!("x"))?, Reply::Error("expected an integer".into()));
/// # Ok::<(), kiro_proptest::target::TargetError>(())
/// ```
pub fn from_fn<F>(f: F) -> FnTarget<F>
where
    F: Fn(&str, &Value) -> Result<Value, String>,
{
    FnTarget(f)
}

impl<F> Target for FnTarget<F>
where
    F: Fn(&str, &Value) -> Result<Value, String>,
{
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        Ok(match (self.0)(op, input) {
            Ok(value) => Reply::Ok(value),
            Err(message) => Reply::Error(message),
        })
    }
}

impl<F> std::fmt::Debug for FnTarget<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnTarget")
    }
}

/// The target a `json kiro-property` block names: a [`ProcessTarget`] run
/// in `workspace_root` (argv relative to it), or an [`HttpTarget`].
///
/// ```
/// use kiro_core::spec::PropertyTarget;
/// let target = kiro_proptest::target::from_spec(
///     &PropertyTarget::Process(vec!["python3".into(), "codec.py".into()]),
///     std::path::Path::new("."),
/// );
/// # let _ = target;
/// ```
pub fn from_spec(target: &PropertyTarget, workspace_root: &Path) -> Arc<dyn Target + Send + Sync> {
    match target {
        PropertyTarget::Process(argv) => {
            Arc::new(ProcessTarget::new(argv.iter().cloned()).current_dir(workspace_root))
        }
        PropertyTarget::Http(base) => Arc::new(HttpTarget::new(base.clone())),
    }
}

/// `text` cut to about `max` bytes (on a character boundary), with an
/// ellipsis when cut, for answers quoted in errors.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
