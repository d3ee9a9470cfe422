//! One case of one property: the calls its kind makes and the comparison.

use std::panic::{catch_unwind, AssertUnwindSafe};

use kiro_core::spec::PropertyKind;
use serde_json::Value;

use crate::property::{compile, Property};
use crate::report::{Call, CallResult};
use crate::target::{Reply, Target};

/// A generated case.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Case {
    /// The input.
    pub input: Value,
    /// The shuffle of a permutation-invariant case.
    pub shuffle: Option<u64>,
}

/// Why a case broke the property, with the calls that show it.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub calls: Vec<Call>,
    pub message: String,
}

/// A property bound to its target, with its output schema compiled once.
pub(crate) struct Checker<'a, T: ?Sized> {
    property: &'a Property,
    target: &'a T,
    output: Option<jsonschema::Validator>,
}

impl<'a, T: Target + ?Sized> Checker<'a, T> {
    pub fn new(property: &'a Property, target: &'a T) -> Result<Self, String> {
        let output = match (&property.output, property.kind) {
            (Some(schema), PropertyKind::Invariant) => Some(compile(schema)?),
            _ => None,
        };
        Ok(Checker {
            property,
            target,
            output,
        })
    }

    /// Whether cases carry a shuffle.
    pub fn shuffles(&self) -> bool {
        self.property.kind == PropertyKind::PermutationInvariant
    }

    /// Runs the case: `Ok` when the property holds for it.
    pub fn evaluate(&self, case: &Case) -> Result<(), Failure> {
        let mut log = Log::default();
        let verdict = self.verdict(case, &mut log);
        verdict.map_err(|message| Failure {
            calls: log.calls,
            message,
        })
    }

    fn verdict(&self, case: &Case, log: &mut Log) -> Result<(), String> {
        let p = self.property;
        let x = &case.input;
        let (f, g) = match p.ops.as_slice() {
            [f] => (f.as_str(), None),
            [f, g] => (f.as_str(), Some(g.as_str())),
            _ => return Err(format!("a {} property needs its ops", p.kind)),
        };
        match p.kind {
            PropertyKind::RoundTrip => {
                let g = g.unwrap_or(f);
                let y = log.value(self.target, "target", f, x)?;
                let z = log.value(self.target, "target", g, &y)?;
                if json_eq(&z, x) {
                    Ok(())
                } else {
                    Err(format!("{g}({f}(x)) is not x"))
                }
            }
            PropertyKind::Idempotent => {
                let y = log.value(self.target, "target", f, x)?;
                let z = log.value(self.target, "target", f, &y)?;
                if json_eq(&z, &y) {
                    Ok(())
                } else {
                    Err(format!("{f}({f}(x)) is not {f}(x)"))
                }
            }
            PropertyKind::Invariant => {
                let y = log.value(self.target, "target", f, x)?;
                if let Some(validator) = &self.output {
                    if let Some(error) = validator.iter_errors(&y).next() {
                        return Err(format!(
                            "{f}(x) breaks the output schema at {}: {error}",
                            pointer(&error.instance_path().to_string())
                        ));
                    }
                }
                match &p.predicate {
                    Some(predicate) => predicate(x, &y).map_err(|why| format!("{f}(x): {why}")),
                    None => Ok(()),
                }
            }
            PropertyKind::Oracle => {
                let Some(reference) = &p.reference else {
                    return Err("an oracle property needs a reference".into());
                };
                let mine = log.reply(self.target, "target", f, x)?;
                let theirs = log.reply(&*reference.target, "reference", &reference.op, x)?;
                agree(&mine, &theirs)
                    .map_err(|why| format!("{f}(x) and the reference's {}(x) {why}", reference.op))
            }
            PropertyKind::PermutationInvariant => {
                let first = log.reply(self.target, "target", f, x)?;
                let Value::Array(items) = x else {
                    return Ok(());
                };
                for (name, reordered) in reorderings(items, case.shuffle) {
                    let second = log.reply(self.target, "target", f, &Value::Array(reordered))?;
                    agree(&first, &second)
                        .map_err(|why| format!("{f}(x) and {f}({name} x) {why}"))?;
                }
                Ok(())
            }
            PropertyKind::NoError => log.value(self.target, "target", f, x).map(drop),
            PropertyKind::RejectsInvalid => match log.reply(self.target, "target", f, x)? {
                Reply::Error(_) => Ok(()),
                Reply::Ok(_) => Err(format!("{f} accepted an input outside the input schema")),
            },
        }
    }
}

/// The calls made during a case.
#[derive(Default)]
struct Log {
    calls: Vec<Call>,
}

impl Log {
    /// Calls `op`, records the answer, and returns it; a target failure
    /// (or a panic in a Rust target) is the case's failure.
    fn reply<T: Target + ?Sized>(
        &mut self,
        target: &T,
        on: &str,
        op: &str,
        input: &Value,
    ) -> Result<Reply, String> {
        let answer = catch_unwind(AssertUnwindSafe(|| target.call(op, input)));
        let (result, outcome) = match answer {
            Ok(Ok(Reply::Ok(v))) => (CallResult::Ok(v.clone()), Ok(Reply::Ok(v))),
            Ok(Ok(Reply::Error(e))) => (CallResult::Error(e.clone()), Ok(Reply::Error(e))),
            Ok(Err(e)) => {
                let message = e.to_string();
                (
                    CallResult::Failure(message.clone()),
                    Err(format!("{op} failed: {message}")),
                )
            }
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                (
                    CallResult::Failure(format!("panicked: {message}")),
                    Err(format!("{op} panicked: {message}")),
                )
            }
        };
        self.calls.push(Call {
            op: op.to_owned(),
            on: on.to_owned(),
            input: input.clone(),
            result,
        });
        outcome
    }

    /// As [`Log::reply`], where an error reply fails the case too: the
    /// input is valid, so the operation must accept it.
    fn value<T: Target + ?Sized>(
        &mut self,
        target: &T,
        on: &str,
        op: &str,
        input: &Value,
    ) -> Result<Value, String> {
        match self.reply(target, on, op, input)? {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(format!("{op} refused a valid input: {e}")),
        }
    }
}

/// Whether two answers agree: equal values, or both refusals (their
/// messages may differ); else why not.
fn agree(a: &Reply, b: &Reply) -> Result<(), String> {
    match (a, b) {
        (Reply::Ok(x), Reply::Ok(y)) if json_eq(x, y) => Ok(()),
        (Reply::Ok(_), Reply::Ok(_)) => Err("differ".into()),
        (Reply::Error(_), Reply::Error(_)) => Ok(()),
        (Reply::Ok(_), Reply::Error(_)) => Err("differ: only the second refused the input".into()),
        (Reply::Error(_), Reply::Ok(_)) => Err("differ: only the first refused the input".into()),
    }
}

/// JSON equality with numbers compared by value, so `1` equals `1.0`.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

/// The orders a permutation-invariant property compares against: three
/// fixed ones (reversed, rotated by one, first two swapped) and the
/// case's random shuffle. The fixed ones keep their meaning while an input
/// shrinks, which a random shuffle (whose seed means another order at
/// another length) does not, so failures shrink to minimal inputs; the
/// shuffle reaches the orders the fixed ones miss.
fn reorderings(items: &[Value], seed: Option<u64>) -> Vec<(&'static str, Vec<Value>)> {
    let mut orders = Vec::with_capacity(4);
    if items.len() < 2 {
        return orders;
    }
    let mut reversed = items.to_vec();
    reversed.reverse();
    orders.push(("reversed", reversed));
    let mut rotated = items.to_vec();
    rotated.rotate_left(1);
    orders.push(("rotated", rotated));
    let mut swapped = items.to_vec();
    swapped.swap(0, 1);
    orders.push(("swapped", swapped));
    if let Some(seed) = seed {
        orders.push(("shuffled", shuffle(items, seed)));
    }
    // Two items have only two orders; longer inputs may repeat one too.
    orders.dedup_by(|a, b| a.1 == b.1);
    orders.retain(|(_, order)| order.as_slice() != items);
    orders
}

/// `items` in the order a Fisher-Yates shuffle driven by `seed` gives.
fn shuffle(items: &[Value], seed: u64) -> Vec<Value> {
    let mut out = items.to_vec();
    let mut state = seed;
    for i in (1..out.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = (z % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

fn pointer(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        let cases = [
            (json!(1), json!(1.0), true),
            (json!([1, {"a": 2}]), json!([1.0, {"a": 2.0}]), true),
            (json!(-1), json!(18446744073709551615u64), false),
            (json!({"a": 1}), json!({"a": 1, "b": 2}), false),
            (json!("1"), json!(1), false),
            (json!(0.5), json!(0.5), true),
        ];
        for (a, b, equal) in cases {
            assert_eq!(json_eq(&a, &b), equal, "{a} vs {b}");
        }
    }

    #[test]
    fn shuffles_are_permutations_and_vary_with_the_seed() {
        let items: Vec<Value> = (0..6).map(|i| json!(i)).collect();
        let mut orders = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let mut shuffled = shuffle(&items, seed);
            orders.insert(format!("{shuffled:?}"));
            shuffled.sort_by_key(|v| v.as_i64());
            assert_eq!(shuffled, items);
        }
        assert!(orders.len() > 10, "{orders:?}");
    }
}
