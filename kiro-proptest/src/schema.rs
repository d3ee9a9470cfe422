//! JSON Schema to proptest strategies.
//!
//! TEMPORARY (branch i13-C): a small stand-in for engineer A's module so
//! the runner can be built and tested; the merge takes A's file. Only
//! [`strategy_for`] and [`SchemaError`] are used outside this file.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// A schema the generator cannot model.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A keyword or keyword value this generator does not support.
    #[error("unsupported schema keyword `{keyword}` at {pointer}")]
    Unsupported {
        /// The keyword.
        keyword: String,
        /// JSON pointer of the schema holding it.
        pointer: String,
    },
}

/// A strategy generating values valid against `schema`.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let strategy = kiro_proptest::schema::strategy_for(&serde_json::json!({"type": "integer", "minimum": 3}))?;
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let value = strategy.new_tree(&mut runner).map_err(|e| e.to_string())?.current();
/// assert!(value.as_i64().is_some_and(|n| n >= 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn strategy_for(schema: &Value) -> Result<BoxedStrategy<Value>, SchemaError> {
    build(schema, "")
}

fn unsupported(keyword: &str, pointer: &str) -> SchemaError {
    SchemaError::Unsupported {
        keyword: keyword.to_owned(),
        pointer: if pointer.is_empty() {
            "/".into()
        } else {
            pointer.into()
        },
    }
}

const KNOWN: &[&str] = &[
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "additionalProperties",
    "title",
    "description",
    "$schema",
];

fn build(schema: &Value, pointer: &str) -> Result<BoxedStrategy<Value>, SchemaError> {
    let obj = match schema {
        Value::Bool(true) => return Ok(any_scalar()),
        Value::Object(o) => o,
        _ => return Err(unsupported("schema", pointer)),
    };
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(unsupported(k, pointer));
    }
    if let Some(v) = obj.get("const") {
        return Ok(Just(v.clone()).boxed());
    }
    if let Some(Value::Array(options)) = obj.get("enum") {
        if options.is_empty() {
            return Err(unsupported("enum", pointer));
        }
        return Ok(proptest::sample::select(options.clone()).boxed());
    }
    let uint = |k: &str| obj.get(k).and_then(Value::as_u64).map(|n| n as usize);
    let int = |k: &str| obj.get(k).and_then(Value::as_i64);
    match obj.get("type").and_then(Value::as_str) {
        None => Ok(any_scalar()),
        Some("null") => Ok(Just(Value::Null).boxed()),
        Some("boolean") => Ok(any::<bool>().prop_map(Value::Bool).boxed()),
        Some("integer") => {
            let lo = int("minimum").unwrap_or(-1000);
            let hi = int("maximum").unwrap_or(1000);
            if lo > hi {
                return Err(unsupported("minimum", pointer));
            }
            Ok((lo..=hi).prop_map(Value::from).boxed())
        }
        Some("number") => Ok((-1000.0f64..1000.0).prop_map(Value::from).boxed()),
        Some("string") => {
            if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
                let anchored = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$'));
                let Some(body) = anchored else {
                    return Err(unsupported("pattern", pointer));
                };
                return proptest::string::string_regex(&format!("(?s:{body})"))
                    .map(|s| s.prop_map(Value::String).boxed())
                    .map_err(|_| unsupported("pattern", pointer));
            }
            let lo = uint("minLength").unwrap_or(0);
            let hi = uint("maxLength").unwrap_or(lo + 20);
            Ok(proptest::collection::vec(any::<char>(), lo..=hi.max(lo))
                .prop_map(|cs| Value::String(cs.into_iter().collect()))
                .boxed())
        }
        Some("array") => {
            let item = match obj.get("items") {
                Some(s) => build(s, &format!("{pointer}/items"))?,
                None => any_scalar(),
            };
            let lo = uint("minItems").unwrap_or(0);
            let hi = uint("maxItems").unwrap_or(lo + 8);
            Ok(proptest::collection::vec(item, lo..=hi.max(lo))
                .prop_map(Value::Array)
                .boxed())
        }
        Some("object") => {
            let required: Vec<&str> = obj
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut fields: Vec<(String, bool, BoxedStrategy<Value>)> = Vec::new();
            if let Some(Value::Object(props)) = obj.get("properties") {
                for (name, sub) in props {
                    let s = build(sub, &format!("{pointer}/properties/{name}"))?;
                    fields.push((name.clone(), required.contains(&name.as_str()), s));
                }
            }
            let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
                .into_iter()
                .map(|(name, req, s)| {
                    let pair = s.prop_map(move |v| Some((name.clone(), v)));
                    if req {
                        pair.boxed()
                    } else {
                        prop_oneof![Just(None), pair].boxed()
                    }
                })
                .collect();
            Ok(parts
                .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect::<Map<_, _>>()))
                .boxed())
        }
        Some(other) => Err(unsupported(other, pointer)),
    }
}

fn any_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,8}".prop_map(Value::String),
    ]
    .boxed()
}
