//! Inputs outside a schema, for `rejects-invalid` properties.
//!
//! Two sources, both kept only when the validator says the value is
//! invalid: small mutations of valid values (a wrong type somewhere, a
//! string one character longer, a missing required key, one item too many:
//! the near misses a parser gets wrong), and values generated from
//! `{"not": schema}` when the generator supports it (far misses). Valid
//! values and the mutation choice shrink, so a counterexample shrinks to a
//! small valid value with a simple mutation.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::schema::{strategy_for, SchemaError};

/// Invalid inputs for `schema`, judged by `validator`.
pub(crate) fn invalid_strategy(
    schema: &Value,
    validator: Arc<jsonschema::Validator>,
) -> Result<BoxedStrategy<Value>, SchemaError> {
    let valid = strategy_for(schema)?;
    let judge = Arc::clone(&validator);
    let mutated = (valid, any::<u64>())
        .prop_filter_map("mutation left the value valid", move |(value, choice)| {
            let candidate = mutate(value, choice);
            (!judge.is_valid(&candidate)).then_some(candidate)
        })
        .boxed();
    // The negated schema is a second source only where the generator can
    // model it; mutations alone still cover every schema.
    match strategy_for(&json!({"not": schema})) {
        Ok(negated) => {
            let negated = negated
                .prop_filter("negated schema gave a valid value", move |v| {
                    !validator.is_valid(v)
                })
                .boxed();
            Ok(prop_oneof![3 => mutated, 1 => negated].boxed())
        }
        Err(_) => Ok(mutated),
    }
}

/// A deterministic stream of choices from one generated number, so that a
/// mutation shrinks with that number.
struct Choices(u64);

impl Choices {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // Lossless on 64-bit targets; on narrower ones the modulo still
        // yields an index below `n`.
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `value` with one change, somewhere inside it.
fn mutate(value: Value, choice: u64) -> Value {
    let mut choices = Choices(choice);
    mutate_at(value, &mut choices, 0)
}

fn mutate_at(value: Value, choices: &mut Choices, depth: usize) -> Value {
    // Go one level down half of the time, so nested parts get wrong too.
    let descend = depth < 8 && choices.below(2) == 0;
    match value {
        Value::Array(mut items) if descend && !items.is_empty() => {
            let i = choices.below(items.len());
            let item = std::mem::take(&mut items[i]);
            items[i] = mutate_at(item, choices, depth + 1);
            Value::Array(items)
        }
        Value::Object(mut map) if descend && !map.is_empty() => {
            let i = choices.below(map.len());
            if let Some(slot) = map.values_mut().nth(i) {
                let inner = std::mem::take(slot);
                *slot = mutate_at(inner, choices, depth + 1);
            }
            Value::Object(map)
        }
        other => mutate_here(other, choices),
    }
}

/// Values of every JSON type, for "wrong type" mutations.
fn other_types() -> [Value; 9] {
    [
        Value::Null,
        json!(0),
        json!(""),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("a"),
        json!([]),
        json!({}),
    ]
}

fn mutate_here(value: Value, choices: &mut Choices) -> Value {
    if choices.below(3) == 0 {
        let others = other_types();
        return others[choices.below(others.len())].clone();
    }
    match value {
        Value::Null => json!(false),
        Value::Bool(b) => json!(if b { "true" } else { "false" }),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            match choices.below(6) {
                0 => json!(x + 1.0),
                1 => json!(x - 1.0),
                2 => json!(x + 0.5),
                3 => json!(-x - 1.0),
                4 => json!(x * 1000.0 + 1.0),
                _ => json!(x.to_string()),
            }
        }
        Value::String(mut s) => {
            match choices.below(6) {
                0 => s.push([' ', 'x', '0', '\n', '-', '\\'][choices.below(6)]),
                1 => s.insert(0, [' ', '+', '0', 'x'][choices.below(4)]),
                2 => {
                    s.pop();
                }
                3 => s.clear(),
                4 => s = s.repeat(2),
                _ => s = format!("{s}{s}{s}{s}{s}"),
            }
            Value::String(s)
        }
        Value::Array(mut items) => {
            match choices.below(3) {
                0 => {
                    items.pop();
                }
                1 => {
                    let copy = items.first().cloned().unwrap_or(Value::Null);
                    items.push(copy);
                }
                _ => items.push(Value::Null),
            }
            Value::Array(items)
        }
        Value::Object(mut map) => {
            let i = choices.below(map.len() + 1);
            match map.keys().nth(i).cloned() {
                Some(key) => {
                    map.remove(&key);
                }
                None => {
                    map.insert("unexpected".to_owned(), Value::Null);
                }
            }
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Every value the strategy yields is invalid, for several schemas.
    #[test]
    fn only_invalid_values_come_out() {
        let schemas = [
            json!({"type": "string", "pattern": "^[0-9]{1,3}$"}),
            json!({"type": "integer", "minimum": 0, "maximum": 10}),
            json!({"type": "array", "items": {"type": "boolean"}, "maxItems": 3}),
            json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
        ];
        for schema in schemas {
            let validator = Arc::new(crate::property::compile(&schema).unwrap());
            let strategy = invalid_strategy(&schema, Arc::clone(&validator)).unwrap();
            let mut runner = TestRunner::deterministic();
            for _ in 0..200 {
                let value = strategy.new_tree(&mut runner).unwrap().current();
                assert!(
                    !validator.is_valid(&value),
                    "{value} is valid against {schema}"
                );
            }
        }
    }
}
