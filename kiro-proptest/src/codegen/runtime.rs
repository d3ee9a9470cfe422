//! What the tests [`RustTests`](super::RustTests) writes call at run time.
//!
//! A generated test states its property in a few lines and leaves the
//! plumbing here: turning a function's return value (a plain value or a
//! `Result`) into one outcome ([`outcome!`](crate::outcome)), failing a case
//! with a message that names the operation ([`ok`], [`rejected`],
//! [`agree`]), checking an output against the property's output schema
//! ([`OutputSchema`]), pairing an array input with a shuffled copy
//! ([`shuffled`]) and finding the workspace root a process target runs in
//! ([`workspace_root`]). Hand-written tests may use it too.
//!
//! ```
//! use kiro_proptest::codegen::runtime as rt;
//!
//! fn decode(text: &str) -> Result<u8, std::num::ParseIntError> {
//!     text.parse()
//! }
//! fn double(n: &u8) -> u16 {
//!     u16::from(*n) * 2
//! }
//!
//! // A `Result` keeps its error (shown with `Display`); a plain value is `Ok`.
//! assert_eq!(kiro_proptest::outcome!(decode("7")), Ok(7));
//! assert!(kiro_proptest::outcome!(decode("x")).is_err());
//! assert_eq!(kiro_proptest::outcome!(double(&4)), Ok(8));
//! assert!(rt::ok("decode", kiro_proptest::outcome!(decode("x"))).is_err());
//! ```

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::Serialize;
use serde_json::Value;

/// The outcome of calling a function under test: `Ok` with what it
/// returned, or `Err` with its error's message.
///
/// Functions under test return either a value or a `Result`, and a
/// generated test cannot know which; `outcome!(f(&input))` turns both into
/// a `Result<T, String>`: an `Err(e)` becomes `Err` with `e`'s `Display`
/// (or `Debug` when it has no `Display`), anything else is `Ok`.
///
/// ```
/// let parsed: Result<i32, String> = kiro_proptest::outcome!("12".parse::<i32>());
/// assert_eq!(parsed, Ok(12));
/// let failed: Result<i32, String> = kiro_proptest::outcome!("x".parse::<i32>());
/// assert_eq!(failed, Err("invalid digit found in string".to_owned()));
/// let plain: Result<usize, String> = kiro_proptest::outcome!("abc".len());
/// assert_eq!(plain, Ok(3));
/// ```
#[macro_export]
macro_rules! outcome {
    ($call:expr) => {{
        // Method resolution picks the first of these whose receiver fits,
        // trying `&&Outcome` before `&&&Outcome` before `&Outcome`
        // (autoref specialisation): a `Result` with a `Display` error, then
        // one with a `Debug` error, then any value.
        #[allow(unused_imports)]
        use $crate::codegen::runtime::{
            FromDebugError as _, FromDisplayError as _, FromValue as _,
        };
        (&&$crate::codegen::runtime::Outcome::new($call)).take_outcome()
    }};
}

/// A value on its way to an outcome; see [`outcome!`](crate::outcome).
pub struct Outcome<T>(Cell<Option<T>>);

impl<T> Outcome<T> {
    /// Wraps a function's return value.
    pub fn new(value: T) -> Self {
        Outcome(Cell::new(Some(value)))
    }

    fn take(&self) -> Result<T, String> {
        self.0
            .take()
            .ok_or_else(|| "the outcome was already taken".to_owned())
    }
}

/// [`outcome!`](crate::outcome) for a `Result` whose error has `Display`.
pub trait FromDisplayError {
    /// The success type.
    type Value;
    /// `Ok` as is, the error as its message.
    fn take_outcome(&self) -> Result<Self::Value, String>;
}

impl<T, E: fmt::Display> FromDisplayError for &Outcome<Result<T, E>> {
    type Value = T;
    fn take_outcome(&self) -> Result<T, String> {
        self.take()?.map_err(|e| e.to_string())
    }
}

/// [`outcome!`](crate::outcome) for a `Result` whose error has only `Debug`.
pub trait FromDebugError {
    /// The success type.
    type Value;
    /// `Ok` as is, the error as its `Debug` form.
    fn take_outcome(&self) -> Result<Self::Value, String>;
}

impl<T, E: fmt::Debug> FromDebugError for &&Outcome<Result<T, E>> {
    type Value = T;
    fn take_outcome(&self) -> Result<T, String> {
        self.take()?.map_err(|e| format!("{e:?}"))
    }
}

/// [`outcome!`](crate::outcome) for a plain value.
pub trait FromValue {
    /// The value's type.
    type Value;
    /// Always `Ok`.
    fn take_outcome(&self) -> Result<Self::Value, String>;
}

impl<T> FromValue for Outcome<T> {
    type Value = T;
    fn take_outcome(&self) -> Result<T, String> {
        self.take()
    }
}

/// The value of `outcome`, or a failed case saying that `op` returned an
/// error on a valid input.
///
/// # Errors
/// A [`TestCaseError::Fail`] when `outcome` is an error.
pub fn ok<T>(op: &str, outcome: Result<T, String>) -> Result<T, TestCaseError> {
    outcome.map_err(|e| TestCaseError::fail(format!("`{op}` returned an error: {e}")))
}

/// Passes when `outcome` is an error: `op` refused an input outside the
/// schema.
///
/// # Errors
/// A [`TestCaseError::Fail`] showing what `op` returned when it accepted
/// the input.
pub fn rejected<T: fmt::Debug>(op: &str, outcome: Result<T, String>) -> Result<(), TestCaseError> {
    match outcome {
        Err(_) => Ok(()),
        Ok(value) => Err(TestCaseError::fail(format!(
            "`{op}` accepted an input outside the schema and returned {value:?}"
        ))),
    }
}

/// Passes when `op` and `reference` agree: equal values, or both an error
/// (their messages may differ).
///
/// # Errors
/// A [`TestCaseError::Fail`] showing both outcomes when they disagree.
pub fn agree<T: PartialEq + fmt::Debug>(
    op: &str,
    actual: Result<T, String>,
    reference: &str,
    expected: Result<T, String>,
) -> Result<(), TestCaseError> {
    match (&actual, &expected) {
        (Ok(a), Ok(e)) if a == e => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        _ => Err(TestCaseError::fail(format!(
            "`{op}` returned {actual:?} where `{reference}` returned {expected:?}"
        ))),
    }
}

/// Each value of `inputs` paired with a copy whose array elements are
/// shuffled (a value that is not an array is paired with itself), for
/// permutation-invariant properties over JSON inputs.
///
/// ```
/// use kiro_proptest::codegen::runtime::shuffled;
/// use proptest::prelude::*;
/// use proptest::strategy::ValueTree;
/// use proptest::test_runner::TestRunner;
/// use serde_json::{json, Value};
///
/// let pairs = shuffled(Just(json!([1, 2, 3])).boxed());
/// let mut runner = TestRunner::deterministic();
/// let (input, copy) = pairs.new_tree(&mut runner).unwrap().current();
/// assert_eq!(input, json!([1, 2, 3]));
/// let mut sorted: Vec<i64> = copy.as_array().unwrap().iter().filter_map(Value::as_i64).collect();
/// sorted.sort();
/// assert_eq!(sorted, [1, 2, 3]);
/// ```
pub fn shuffled(inputs: BoxedStrategy<Value>) -> BoxedStrategy<(Value, Value)> {
    inputs
        .prop_flat_map(|input| match input {
            Value::Array(items) => {
                let original = Value::Array(items.clone());
                (
                    Just(original),
                    Just(items).prop_shuffle().prop_map(Value::Array),
                )
                    .boxed()
            }
            other => (Just(other.clone()), Just(other)).boxed(),
        })
        .boxed()
}

/// The JSON Schema every output of an invariant property validates
/// against, compiled on first use (a `static` per property in generated
/// code).
///
/// ```
/// use kiro_proptest::codegen::runtime::OutputSchema;
///
/// static HEX: OutputSchema = OutputSchema::new(r#"{"type": "string", "pattern": "^[0-9a-f]*$"}"#);
/// assert!(HEX.check("00ff").is_ok());
/// assert!(HEX.check("xyz").is_err());
/// assert!(HEX.check(&12).is_err());
/// ```
pub struct OutputSchema {
    json: &'static str,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

impl OutputSchema {
    /// The schema given as JSON text.
    pub const fn new(json: &'static str) -> Self {
        OutputSchema {
            json,
            validator: OnceLock::new(),
        }
    }

    /// Checks one output: serialised to JSON, it must validate.
    ///
    /// # Errors
    /// A [`TestCaseError::Fail`] with the output and every validation
    /// error, or saying that the output does not serialise to JSON or that
    /// the schema itself is not a valid JSON Schema.
    pub fn check<T: Serialize + ?Sized>(&self, output: &T) -> Result<(), TestCaseError> {
        let validator = self
            .validator
            .get_or_init(|| {
                let schema: Value = serde_json::from_str(self.json)
                    .map_err(|e| format!("the output schema is not JSON: {e}"))?;
                jsonschema::validator_for(&schema)
                    .map_err(|e| format!("the output schema is not a valid JSON Schema: {e}"))
            })
            .as_ref()
            .map_err(|e| TestCaseError::fail(e.clone()))?;
        let value = serde_json::to_value(output).map_err(|e| {
            TestCaseError::fail(format!("the output does not serialise to JSON: {e}"))
        })?;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{e} (at {at})")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(TestCaseError::fail(format!(
                "the output {value} does not match the output schema: {}",
                errors.join("; ")
            )))
        }
    }
}

impl fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputSchema")
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

/// The kiro workspace a generated test belongs to: the nearest folder at
/// or above `manifest_dir` (pass `env!("CARGO_MANIFEST_DIR")`) that holds
/// `.kiro/`, else `manifest_dir` itself. Process targets run there, as
/// `kiro pbt run` runs them.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir_all(dir.path().join(".kiro"))?;
/// std::fs::create_dir_all(dir.path().join("crates/codec"))?;
/// let manifest = dir.path().join("crates/codec");
/// let root = kiro_proptest::codegen::runtime::workspace_root(manifest.to_str().unwrap());
/// assert_eq!(root, dir.path());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    let start = Path::new(manifest_dir);
    kiro_core::store::find_workspace_root(start).unwrap_or_else(|| start.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_values_and_results() {
        #[derive(Debug)]
        struct OnlyDebug;
        let plain: Result<u8, String> = crate::outcome!(3u8);
        assert_eq!(plain, Ok(3));
        let shown: Result<u8, String> = crate::outcome!(Err::<u8, _>("bad input"));
        assert_eq!(shown, Err("bad input".to_owned()));
        let debugged: Result<u8, String> = crate::outcome!(Err::<u8, _>(OnlyDebug));
        assert_eq!(debugged, Err("OnlyDebug".to_owned()));
        let nested: Result<Option<u8>, String> = crate::outcome!(Some(1u8));
        assert_eq!(nested, Ok(Some(1)));
    }

    #[test]
    fn verdicts_name_the_operation() {
        let failed = ok::<u8>("codec::decode", Err("odd length".into())).unwrap_err();
        assert!(failed
            .to_string()
            .contains("`codec::decode` returned an error: odd length"));
        assert!(rejected::<u8>("parse", Err("no".into())).is_ok());
        let accepted = rejected("parse", Ok(7)).unwrap_err();
        assert!(accepted
            .to_string()
            .contains("`parse` accepted an input outside the schema and returned 7"));
        for (actual, expected, agrees) in [
            (Ok(1), Ok(1), true),
            (Err("a".to_owned()), Err("b".to_owned()), true),
            (Ok(1), Ok(2), false),
            (Ok(1), Err("b".to_owned()), false),
            (Err("a".to_owned()), Ok(1), false),
        ] {
            assert_eq!(agree("f", actual, "g", expected).is_ok(), agrees);
        }
    }

    #[test]
    fn output_schema_reports_every_error_and_a_bad_schema() {
        static SHAPE: OutputSchema = OutputSchema::new(
            r#"{"type": "object", "required": ["id"], "properties": {"n": {"minimum": 0}}}"#,
        );
        assert!(SHAPE.check(&serde_json::json!({"id": 1, "n": 2})).is_ok());
        let message = SHAPE
            .check(&serde_json::json!({"n": -1}))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("\"id\" is a required property"),
            "{message}"
        );
        assert!(message.contains("(at /n)"), "{message}");
        static BROKEN: OutputSchema = OutputSchema::new("{not json");
        assert!(BROKEN
            .check(&1)
            .unwrap_err()
            .to_string()
            .contains("the output schema is not JSON"));
    }
}
