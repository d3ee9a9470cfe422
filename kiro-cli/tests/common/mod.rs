//! Helpers shared by the CLI integration tests: spawning the real `kiro`
//! binary and checking what it printed.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `kiro <args>` in `dir`, with no standard input and both output streams
/// captured.
pub fn kiro_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiro"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The exit code (a test fails if the process was killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts the exit status, showing both streams when it differs.
#[track_caller]
pub fn expect_code(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

pub mod model;

/// Spec `lists` for the `kiro pbt run` tests: a list codec whose design has
/// a round trip (criterion 1.1) and a no-error property (1.2) on the
/// JSON-lines program `codec.py` (see [`write_list_codec`]), and a property
/// with only a Rust binding (1.3), which `kiro pbt run` leaves to `kiro pbt
/// gen`.
pub mod lists {
    use std::fs;
    use std::path::Path;

    pub const REQUIREMENTS: &str = "\
# Requirements Document

## Requirements

### Requirement 1: List codec

#### Acceptance Criteria

1. THE codec SHALL decode what it encodes
2. THE codec SHALL encode every list of integers
3. THE codec SHALL decode in linear time
";

    pub const DESIGN: &str = "\
# Design Document

## Overview

Lists of integers as comma-separated text.

## Correctness Properties

### Property 1: Round trip

*For any* list, decoding its encoding SHALL return it.

```json kiro-property
{\"kind\": \"round-trip\", \"ops\": [\"encode\", \"decode\"],
 \"input\": {\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": -100, \"maximum\": 100}, \"maxItems\": 8},
 \"target\": {\"process\": [\"python3\", \"codec.py\"]}}
```

**Validates: Requirements 1.1**

### Property 2: Encoding never fails

*For any* list, encoding SHALL succeed.

```json kiro-property
{\"kind\": \"no-error\", \"ops\": [\"encode\"],
 \"input\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}},
 \"target\": {\"process\": [\"python3\", \"codec.py\"]}}
```

**Validates: Requirements 1.2**

### Property 3: Rust decoder agrees

*For any* text, the Rust decoder SHALL agree with the reference.

```json kiro-property
{\"kind\": \"no-error\", \"ops\": [\"decode\"], \"rust\": {\"f\": \"crate::decode\"}}
```

**Validates: Requirements 1.3**
";

    pub const TASKS: &str = "\
# Implementation Plan

- [ ] 1. Write the list codec
  - _Requirements: 1.1, 1.2_
";

    /// Writes `.kiro/specs/lists/{requirements,design}.md` (and `tasks.md`
    /// when `with_tasks`) under `root`.
    pub fn write_spec(root: &Path, with_tasks: bool) {
        let dir = root.join(".kiro/specs/lists");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("requirements.md"), REQUIREMENTS).unwrap();
        fs::write(dir.join("design.md"), DESIGN).unwrap();
        if with_tasks {
            fs::write(dir.join("tasks.md"), TASKS).unwrap();
        }
    }

    /// Writes `codec.py` under `root`: one JSON request per line on stdin,
    /// one answer per line on stdout. With `buggy`, `decode` loses the
    /// sign of negative numbers (the smallest counterexample of the round
    /// trip is `[-1]`).
    pub fn write_list_codec(root: &Path, buggy: bool) {
        let number = if buggy { "abs(int(x))" } else { "int(x)" };
        let script = format!(
            "import json, sys\n\
             \n\
             def encode(xs):\n    return \",\".join(str(x) for x in xs)\n\
             \n\
             def decode(s):\n    return [{number} for x in s.split(\",\")] if s else []\n\
             \n\
             for line in sys.stdin:\n\
             \x20   request = json.loads(line)\n\
             \x20   try:\n\
             \x20       out = {{\"encode\": encode, \"decode\": decode}}[request[\"op\"]](request[\"input\"])\n\
             \x20       answer = {{\"ok\": out}}\n\
             \x20   except Exception as e:\n\
             \x20       answer = {{\"error\": str(e)}}\n\
             \x20   print(json.dumps(answer), flush=True)\n"
        );
        fs::write(root.join("codec.py"), script).unwrap();
    }
}
