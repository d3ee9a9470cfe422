//! Checks a small run-length codec against the executable correctness
//! properties of the spec written for it, from Rust, without the CLI: the
//! way a crate embeds kiro-proptest in its own tests.
//!
//! The spec is `examples/pbt_codec/.kiro/specs/rle-codec/`; its design's
//! properties carry `json kiro-property` blocks and name no target, so this
//! program hands the codec's functions to the runner as a Rust target. It
//! also adds a property written in Rust (a predicate over input and output),
//! then shows what a bug looks like: a decoder with an off-by-one is caught
//! and shrunk to a minimal counterexample, mapped to the criterion it breaks.
//!
//! Run it with `cargo run -p kiro-examples --example pbt_codec` (set
//! `PBT_SEED=<n>` to repeat a run); it exits non-zero if a property of the
//! correct codec fails or the bug goes unnoticed.

use std::path::Path;
use std::process::ExitCode;

use kiro_core::spec::PropertyKind;
use kiro_proptest::target::{from_fn, Target};
use kiro_proptest::{Property, Runner, SpecProperties};
use serde_json::Value;

/// The codec under test: runs of lowercase letters as `<count><letter>`.
mod codec {
    /// `aaab` → `3a1b`; refuses anything but lowercase ASCII letters.
    pub fn encode(text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if !c.is_ascii_lowercase() {
                return Err(format!("cannot encode {c:?}: only lowercase letters"));
            }
            let mut run = 1;
            while chars.peek() == Some(&c) && run < 999 {
                chars.next();
                run += 1;
            }
            out.push_str(&format!("{run}{c}"));
        }
        Ok(out)
    }

    /// `3a1b` → `aaab`; refuses anything that is not runs of a count from 1
    /// to 999 (no leading zero) and a lowercase letter.
    pub fn decode(encoded: &str) -> Result<String, String> {
        decode_with(encoded, 0)
    }

    /// A decoder with a seeded off-by-one: each run one letter short.
    pub fn decode_off_by_one(encoded: &str) -> Result<String, String> {
        decode_with(encoded, 1)
    }

    fn decode_with(encoded: &str, short: usize) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = encoded;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (count, tail) = rest.split_at(digits);
            let mut tail = tail.chars();
            let letter = tail.next().filter(char::is_ascii_lowercase);
            let run: usize = match (count.parse(), letter) {
                (Ok(n @ 1..=999), Some(_)) if !count.starts_with('0') => n,
                _ => return Err(format!("malformed run at {rest:?}")),
            };
            out.extend(std::iter::repeat_n(letter.unwrap_or('a'), run - short));
            rest = tail.as_str();
        }
        Ok(out)
    }
}

/// The codec as a target: ops `encode` and `decode` over JSON strings.
fn codec_target(decode: fn(&str) -> Result<String, String>) -> impl Target + Send + Sync {
    from_fn(move |op: &str, input: &Value| {
        let text = input.as_str().ok_or("expected a string")?;
        match op {
            "encode" => codec::encode(text).map(Value::String),
            "decode" => decode(text).map(Value::String),
            other => Err(format!("unknown op {other}")),
        }
    })
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pbt_codec");
    let suite = match SpecProperties::load(&root, "rle-codec") {
        Ok(suite) => suite.target(codec_target(codec::decode)),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runner = match std::env::var("PBT_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => Runner::new().seed(seed),
        None => Runner::new(),
    }
    .cases(256);
    println!(
        "seed {} (PBT_SEED={0} repeats this run)\n",
        runner.seed_value()
    );

    let mut ok = true;
    let ids: Vec<&str> = suite.ids().collect();
    if ids.len() != 4 {
        eprintln!("expected the spec's 4 executable properties, found {ids:?}");
        return ExitCode::FAILURE;
    }
    for report in suite.check_all(&runner) {
        print!("{report}");
        ok &= report.passed();
    }

    // A property written in Rust, beside the spec's.
    let shorter = Property::builder("R1", PropertyKind::Invariant)
        .title("an encoding is at most twice as long as its text")
        .ops(["encode"])
        .input(serde_json::json!({"type": "string", "pattern": "^[a-z]{0,40}$"}))
        .predicate(|input, output| {
            let (n, m) = (
                input.as_str().map_or(0, str::len),
                output.as_str().map_or(0, str::len),
            );
            if m <= 2 * n {
                Ok(())
            } else {
                Err(format!("{m} bytes for {n}"))
            }
        })
        .validates(["1.2"])
        .build();
    match shorter {
        Ok(property) => {
            let report = runner.check(&property, &codec_target(codec::decode));
            print!("{report}");
            ok &= report.passed();
        }
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }

    // The same spec against a decoder with a bug: the round trip catches it
    // and shrinks the input to a single letter.
    println!("\nWith an off-by-one in the decoder:");
    let buggy = SpecProperties::load(&root, "rle-codec")
        .map(|s| s.target(codec_target(codec::decode_off_by_one)));
    match buggy.map(|suite| suite.check(&runner, "1")) {
        Ok(Ok(report)) => {
            print!("{report}");
            let minimal = report
                .counterexample()
                .is_some_and(|c| c.input.as_str().map(str::len) == Some(1));
            if !minimal {
                eprintln!("expected a one-letter counterexample");
                ok = false;
            }
        }
        Ok(Err(e)) => {
            eprintln!("{e}");
            ok = false;
        }
        Err(e) => {
            eprintln!("{e}");
            ok = false;
        }
    }

    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
