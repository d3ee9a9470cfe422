//! `bugfix.md` parsing and rendering: canonical inputs render byte for byte,
//! other inputs normalise and then stay stable, clause shapes read into the
//! model, and every bugfix fixture round-trips without losing a word.

// Tests state their expectations with unwrap/expect/panic; a failure is the
// test failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;

use kiro_core::format::{parse_bugfix, render_bugfix, Locator, Position};
use kiro_core::spec::{Anchor, BehaviorKind, BugfixDoc, Ears};
use proptest::prelude::*;

use crate::fixtures;

fn parse(src: &str) -> BugfixDoc {
    parse_bugfix(src).value
}

/// Checks the round-trip contract on any input and returns the first render.
fn round_trip(src: &str) -> String {
    let first = parse(src);
    let rendered = render_bugfix(&first);
    let again = parse(&rendered);
    assert_eq!(
        again, first,
        "render(parse(x)) must parse to the same model\n{rendered}"
    );
    assert_eq!(
        render_bugfix(&again),
        rendered,
        "second render must be identical"
    );
    rendered
}

/// `src` renders as `expected` (itself canonical), and stays there.
fn check(src: &str, expected: &str) {
    assert_eq!(round_trip(src), expected, "\n--- input ---\n{src}");
    assert_eq!(
        round_trip(expected),
        expected,
        "expected output is not canonical"
    );
}

fn check_canonical(src: &str) {
    check(src, src);
}

/// `(kind, [clause ids])` per group.
fn shape(src: &str) -> Vec<(BehaviorKind, Vec<String>)> {
    parse(src)
        .groups
        .iter()
        .map(|g| (g.kind, g.clauses.iter().map(|c| c.id.to_string()).collect()))
        .collect()
}

const KIRO: &str = "# Bugfix Requirements Document

## Introduction

The server hangs when a download stalls.

## Bug Analysis

### Current Behavior (Defect)

1.1 WHEN a download stalls THEN the system blocks the event loop

1.2 WHEN every mirror stalls THEN the system stops answering

### Expected Behavior (Correct)

2.1 WHEN a download stalls for 15 seconds THEN the system SHALL abort it and try the next mirror

### Unchanged Behavior (Regression Prevention)

3.1 WHEN the file is cached THEN the system SHALL CONTINUE TO serve it from disk
";

#[test]
fn canonical_inputs() {
    let cases = [
        KIRO,
        // Chinese text under the English headings Kiro writes.
        "# Bugfix Requirements Document\n\n## Introduction\n\n服务器被阻塞。\n\n影响范围：所有客户端。\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN `scanCourses()` 读取损坏文件 THEN `fs.readFileSync` 同步阻塞\n\n### Expected Behavior (Correct)\n\n2.1 WHEN 读取失败 THEN 系统 SHALL 跳过该文件\n",
        // Localised headings are kept.
        "# 缺陷需求文档\n\n## 简介\n\n说明。\n\n## 缺陷分析\n\n### 当前行为（缺陷）\n\n1.1 WHEN 超时 THEN 系统挂起\n\n### 预期行为（正确）\n\n2.1 WHEN 超时 THEN 系统 SHALL 中止\n\n### 不变行为（回归预防）\n\n3.1 WHEN 正常 THEN 系统 SHALL CONTINUE TO 工作\n",
        // Unknown sections at every anchor; a preface in the analysis; notes in a group.
        "# Bugfix Requirements Document\n\n## Context\n\nTicket 42.\n\n## Introduction\n\nIntro.\n\n## Reproduction\n\nSteps.\n\n## Bug Analysis\n\nThree groups follow.\n\n### Current Behavior (Defect)\n\n1.1 WHEN x THEN y\n\nSee the log excerpt below.\n\n### Root Cause\n\n4.1 WHEN z THEN w\n\n## Appendix\n\nLogs.\n",
        // Hard-wrapped clause.
        "# Bugfix Requirements Document\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN the timeout exceeds\n2.5 seconds THEN the system hangs\n",
        // CRLF.
        "# Bugfix Requirements Document\r\n\r\n## Bug Analysis\r\n\r\n### Current Behavior (Defect)\r\n\r\n1.1 WHEN x THEN y\r\n",
        // Empty clause, empty analysis heading kept.
        "# Bugfix Requirements Document\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1\n",
        "# Bugfix Requirements Document\n\n## Bug Analysis\n",
        "",
    ];
    for src in cases {
        check_canonical(src);
    }
}

#[test]
fn normalisation() {
    let cases: &[(&str, &str)] = &[
        // Several clauses in one paragraph, bold ids, colons after ids.
        (
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n1.1 WHEN a THEN b\n1.2 WHEN c THEN d\n\n**1.3** WHEN e THEN f\n\n1.4: WHEN g THEN h",
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN a THEN b\n\n1.2 WHEN c THEN d\n\n1.3 WHEN e THEN f\n\n1.4 WHEN g THEN h\n",
        ),
        // Clauses written as list items, with and without ids.
        (
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n- 1.1 WHEN a THEN b\n- 1.2 WHEN c THEN d\n\n### Expected Behavior (Correct)\n\n1. WHEN a THEN the system SHALL e\n2. WHEN c THEN the system SHALL f\n",
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN a THEN b\n\n1.2 WHEN c THEN d\n\n### Expected Behavior (Correct)\n\n2.1 WHEN a THEN the system SHALL e\n\n2.2 WHEN c THEN the system SHALL f\n",
        ),
        // Extra blank lines, prose before clauses moves after them.
        (
            "# B\n\n\n## Bug Analysis\n\n\n### Current Behavior (Defect)\n\nObserved in production:\n\n\n1.1 WHEN a THEN b\n\n\n",
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN a THEN b\n\nObserved in production:\n",
        ),
    ];
    for (src, expected) in cases {
        check(src, expected);
    }
}

#[test]
fn reads_the_model() {
    let doc = parse(KIRO);
    assert_eq!(doc.title, "Bugfix Requirements Document");
    assert_eq!(
        doc.introduction.as_deref(),
        Some("The server hangs when a download stalls.")
    );
    assert_eq!(doc.analysis_heading, None);
    assert_eq!(doc.introduction_heading, None);
    assert_eq!(
        shape(KIRO),
        [
            (
                BehaviorKind::Current,
                vec!["1.1".to_owned(), "1.2".to_owned()]
            ),
            (BehaviorKind::Expected, vec!["2.1".to_owned()]),
            (BehaviorKind::Unchanged, vec!["3.1".to_owned()]),
        ]
    );
    assert_eq!(doc.groups[0].title, "Current Behavior (Defect)");
    assert_eq!(
        doc.groups[0].clauses[0].text,
        "WHEN a download stalls THEN the system blocks the event loop"
    );
    for c in doc.clauses() {
        assert_eq!(c.ears, Ears::parse(&c.text), "{}", c.id);
    }
    assert!(parse_bugfix(KIRO).diagnostics.is_empty());
}

#[test]
fn group_kinds_and_headings() {
    let cases: &[(&str, BehaviorKind)] = &[
        ("Current Behavior (Defect)", BehaviorKind::Current),
        ("Current Behaviour", BehaviorKind::Current),
        ("Expected Behavior (Correct)", BehaviorKind::Expected),
        (
            "Unchanged Behavior (Regression Prevention)",
            BehaviorKind::Unchanged,
        ),
        ("当前行为", BehaviorKind::Current),
        ("预期行为", BehaviorKind::Expected),
        ("不变行为", BehaviorKind::Unchanged),
        ("現在の動作", BehaviorKind::Current),
        ("Comportamiento esperado", BehaviorKind::Expected),
        ("Comportamento inalterado", BehaviorKind::Unchanged),
        ("Root Cause", BehaviorKind::Other),
    ];
    for (title, kind) in cases {
        let src = format!("# B\n\n## Bug Analysis\n\n### {title}\n\n1.1 WHEN a THEN b\n");
        assert_eq!(parse(&src).groups[0].kind, *kind, "{title}");
        check_canonical(&src);
    }
    // The analysis section is found by its groups when its title is unknown.
    let doc = parse("# B\n\n## Findings\n\n### Current Behavior (Defect)\n\n1.1 WHEN a THEN b\n");
    assert_eq!(doc.analysis_heading.as_deref(), Some("Findings"));
    assert_eq!(doc.groups.len(), 1);
}

#[test]
fn sections_keep_their_place() {
    let doc = parse("# B\n\n## Context\n\nc\n\n## Introduction\n\ni\n\n## Steps\n\ns\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1 WHEN a THEN b\n\n## Appendix\n\na\n");
    let placed: Vec<(&str, Anchor)> = doc
        .sections
        .iter()
        .map(|s| (s.section.title.as_str(), s.after))
        .collect();
    assert_eq!(
        placed,
        [
            ("Context", Anchor::Start),
            ("Steps", Anchor::Introduction),
            ("Appendix", Anchor::Requirements),
        ]
    );
}

#[test]
fn source_map_and_diagnostics() {
    let parsed = parse_bugfix(KIRO);
    let at = |l: Locator| parsed.source_map.get(&l);
    assert_eq!(at(Locator::Title), Some(Position { line: 1, column: 1 }));
    assert_eq!(
        at(Locator::Clause { group: 0, index: 1 }),
        Some(Position {
            line: 13,
            column: 1
        })
    );
    assert_eq!(
        at(Locator::Clause { group: 2, index: 0 }),
        Some(Position {
            line: 21,
            column: 1
        })
    );

    let cases: &[(&str, &[&str])] = &[
        (KIRO, &[]),
        ("", &[]),
        (
            "# B\n\n## Introduction\n\nx\n",
            &["no bug analysis section"],
        ),
        (
            "# B\n\n## Bug Analysis\n\n### Root Cause\n\n1.1 WHEN a THEN b\n",
            &["behaviour group heading is not recognised"],
        ),
        (
            "# B\n\n## Bug Analysis\n\n### Current Behavior (Defect)\n\n1.1\n",
            &["bugfix clause is empty"],
        ),
        ("Text\n\n## Bug Analysis\n", &["document has no `#` title"]),
    ];
    for (src, expected) in cases {
        let got: Vec<String> = parse_bugfix(src)
            .diagnostics
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(got, *expected, "{src}");
    }
}

#[test]
fn edits_render() {
    let mut doc = parse(KIRO);
    let text = "WHEN a download stalls THEN the system SHALL retry";
    doc.groups[1].clauses[0].text = text.into();
    // `ears` is derived from the text; re-parsing derives it again.
    doc.groups[1].clauses[0].ears = Ears::parse(text);
    let out = render_bugfix(&doc);
    assert!(out.contains("\n2.1 WHEN a download stalls THEN the system SHALL retry\n"));
    assert_eq!(parse(&out), doc);
}

fn fragment() -> impl Strategy<Value = String> {
    let lines: &[&str] = &[
        "\n",
        "\n\n",
        "\r\n",
        "# B\n",
        "## Introduction\n",
        "## Bug Analysis\n",
        "## 缺陷分析\n",
        "## Findings\n",
        "## Other\n",
        "### Current Behavior (Defect)\n",
        "### Expected Behavior (Correct)\n",
        "### Unchanged Behavior (Regression Prevention)\n",
        "### Root Cause\n",
        "#### Sub\n",
        "1.1 WHEN x THEN y\n",
        "1.2 WHEN z\n",
        "2.5 seconds\n",
        "**2.1** WHEN a\n",
        "3.1: WHEN b\n",
        "1.1\n",
        "- 1.1 WHEN a\n",
        "- note\n",
        "1. WHEN c\n",
        "  - nested\n",
        "    code\n",
        "```\n",
        "Para\n",
        "T\n===\n",
        "---\n",
        "<!-- c\n",
        "[r]: http://x\n",
    ];
    prop_oneof![
        proptest::sample::select(lines).prop_map(str::to_owned),
        "[#*_`\\[\\]x0-9. \n:|>\t-]{1,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The round-trip contract holds for any arrangement of bugfix-ish
    /// lines, and no word is lost.
    #[test]
    fn contract_holds_for_generated_documents(parts in proptest::collection::vec(fragment(), 0..24)) {
        let src = parts.concat();
        let out = round_trip(&src);
        let have = words(&out);
        for (w, n) in words(&src) {
            assert!(have.get(&w).copied().unwrap_or(0) >= n, "word {w:?} lost from {src:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn fixtures_root() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ))
}

fn words(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for token in text.split_whitespace() {
        let t: String = token.chars().filter(|c| *c != '*').collect();
        let digits = t.trim_end_matches(['.', ')']);
        let marker = t.chars().all(|c| "-+#>|:=_".contains(c))
            || (digits.len() + 1 == t.len() && digits.chars().all(|c| c.is_ascii_digit()));
        if t.is_empty() || marker {
            continue;
        }
        // Clause ids render without the punctuation some authors put after
        // them (`1.1:` and `1.1.` become `1.1`).
        let id = t.trim_end_matches([':', '.']);
        let t = if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '.') {
            id.to_owned()
        } else {
            t
        };
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

/// Independent count by line scanning: `(### headings, clause lines)` in
/// the analysis section.
fn count_by_lines(src: &str) -> (usize, usize) {
    let mut in_analysis = false;
    let (mut groups, mut clauses) = (0, 0);
    for line in src.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(t) = line.strip_prefix("## ") {
            in_analysis = t.trim() == "Bug Analysis";
        } else if in_analysis && line.starts_with("### ") {
            groups += 1;
        } else if in_analysis {
            let digits = line.trim_start_matches('*');
            let id: String = digits
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if id.contains('.') && id.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                clauses += 1;
            }
        }
    }
    (groups, clauses)
}

#[test]
fn fixtures_round_trip() {
    let Ok(entries) = std::fs::read_dir(fixtures_root()) else {
        fixtures::missing(&fixtures_root());
        eprintln!("skipped: no fixtures at {}", fixtures_root().display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("bugfix.md"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut report = Vec::new();
    for path in &files {
        let folder = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let src = std::fs::read_to_string(path).unwrap();
        let parsed = parse_bugfix(&src);
        let doc = &parsed.value;
        let (groups, clauses) = count_by_lines(&src);
        assert_eq!(doc.groups.len(), groups, "{folder}: groups");
        assert_eq!(doc.clauses().count(), clauses, "{folder}: clauses");
        assert!(
            doc.groups.iter().all(|g| g.kind != BehaviorKind::Other),
            "{folder}"
        );
        assert!(
            parsed.diagnostics.is_empty(),
            "{folder}: {:?}",
            parsed.diagnostics
        );
        let lines: Vec<&str> = src.lines().collect();
        for (gi, g) in doc.groups.iter().enumerate() {
            for (ci, c) in g.clauses.iter().enumerate() {
                assert!(
                    c.id.as_str().starts_with(&format!("{}.", gi + 1)),
                    "{folder}: {}",
                    c.id
                );
                assert_eq!(c.ears, Ears::parse(&c.text), "{folder}: {}", c.id);
                let p = parsed
                    .source_map
                    .get(&Locator::Clause {
                        group: gi,
                        index: ci,
                    })
                    .unwrap();
                assert!(
                    lines[p.line as usize - 1].starts_with(c.id.as_str()),
                    "{folder}: {}",
                    c.id
                );
            }
        }
        let rendered = round_trip(&src);
        // Kiro's bugfix files are canonical: byte for byte.
        assert_eq!(rendered, src, "{folder}");
        let have = words(&rendered);
        for (w, n) in words(&src) {
            assert!(
                have.get(&w).copied().unwrap_or(0) >= n,
                "{folder}: word {w:?} lost"
            );
        }
        let kinds: Vec<String> = doc
            .groups
            .iter()
            .map(|g| format!("{:?} {}", g.kind, g.clauses.len()))
            .collect();
        report.push(format!("{folder}: {}", kinds.join(", ")));
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(files.len(), 4, "expected the four bugfix fixtures");
}
