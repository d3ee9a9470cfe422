//! A second shrinking pass over the failing JSON value itself.
//!
//! proptest shrinks through the generator's value trees, which is fast but
//! only locally minimal: its collection shrinker deletes elements before
//! it simplifies them and never goes back, so `"a\\"` can simplify to
//! `"\\\\"` after the deletions are over, and a generator built another
//! way shrinks another way. This pass makes the result 1-minimal whatever
//! the generator: it retries the failing case without each array element,
//! string character and object key, and with each number moved toward
//! zero, keeping a candidate only when it is still an input of the right
//! side of the schema and still fails, until no candidate fails or the
//! deadline passes.

use std::time::Instant;

use serde_json::{Map, Number, Value};

use super::check::{Case, Checker, Failure};
use crate::target::Target;

/// Which inputs a candidate must be: valid ones, or (for
/// `rejects-invalid`) invalid ones.
pub(crate) struct Domain {
    pub validator: jsonschema::Validator,
    pub valid: bool,
}

impl Domain {
    fn admits(&self, value: &Value) -> bool {
        self.validator.is_valid(value) == self.valid
    }
}

/// Shrinks `case` (which fails with `failure`) while candidates keep
/// failing; returns the smallest case, its failure and the steps taken.
pub(crate) fn minimize<T: Target + ?Sized>(
    checker: &Checker<'_, T>,
    domain: &Domain,
    mut case: Case,
    mut failure: Failure,
    deadline: Instant,
) -> (Case, Failure, u32) {
    let mut steps = 0u32;
    'outer: loop {
        for input in candidates(&case.input) {
            if Instant::now() >= deadline {
                break 'outer;
            }
            if !domain.admits(&input) {
                continue;
            }
            steps = steps.saturating_add(1);
            let candidate = Case {
                input,
                shuffle: case.shuffle,
            };
            if let Err(smaller) = checker.evaluate(&candidate) {
                case = candidate;
                failure = smaller;
                continue 'outer;
            }
        }
        break;
    }
    (case, failure, steps)
}

/// Values one step simpler than `value`, simplest first.
fn candidates(value: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                let mut fewer = items.clone();
                fewer.remove(i);
                out.push(Value::Array(fewer));
            }
            for (i, item) in items.iter().enumerate() {
                for simpler in candidates(item) {
                    let mut changed = items.clone();
                    changed[i] = simpler;
                    out.push(Value::Array(changed));
                }
            }
        }
        Value::Object(map) => {
            for key in map.keys() {
                let mut fewer = map.clone();
                fewer.remove(key);
                out.push(Value::Object(fewer));
            }
            for (key, item) in map {
                for simpler in candidates(item) {
                    let mut changed: Map<String, Value> = map.clone();
                    changed.insert(key.clone(), simpler);
                    out.push(Value::Object(changed));
                }
            }
        }
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            for i in 0..chars.len() {
                let mut fewer = chars.clone();
                fewer.remove(i);
                out.push(Value::String(fewer.into_iter().collect()));
            }
        }
        Value::Number(n) => out.extend(toward_zero(n)),
        Value::Bool(true) => out.push(Value::Bool(false)),
        Value::Bool(false) | Value::Null => {}
    }
    out
}

/// 0, half the number, and one step closer to zero (integers), or the
/// number truncated (floats).
fn toward_zero(n: &Number) -> Vec<Value> {
    if let Some(i) = n.as_i64() {
        if i == 0 {
            return Vec::new();
        }
        let mut out = vec![Value::from(0)];
        for c in [i / 2, i - i.signum()] {
            if c != 0 && !out.contains(&Value::from(c)) {
                out.push(Value::from(c));
            }
        }
        return out;
    }
    if let Some(u) = n.as_u64() {
        return vec![Value::from(0), Value::from(u / 2), Value::from(u - 1)];
    }
    match n.as_f64() {
        Some(f) if f.fract() != 0.0 && f.is_finite() => {
            vec![Value::from(0), Value::from(f.trunc())]
        }
        Some(f) if f != 0.0 => vec![Value::from(0)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn candidates_are_one_step_simpler() {
        let cases = [
            (json!("ab"), vec![json!("b"), json!("a")]),
            (json!([1, 0]), vec![json!([0]), json!([1]), json!([0, 0])]),
            (json!({"a": true}), vec![json!({}), json!({"a": false})]),
            (json!(-7), vec![json!(0), json!(-3), json!(-6)]),
            (json!(2.5), vec![json!(0), json!(2.0)]),
            (json!(1), vec![json!(0)]),
            (json!(null), vec![]),
            (json!(0), vec![]),
        ];
        for (value, expected) in cases {
            assert_eq!(candidates(&value), expected, "{value}");
        }
    }
}
