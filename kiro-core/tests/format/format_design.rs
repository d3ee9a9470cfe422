//! `design.md` parsing and rendering: canonical input renders byte for byte,
//! other spellings normalise once and then stay put, correctness properties
//! are read in every shape the fixture corpus shows, and over the corpus no
//! property, validates line or word is lost.
//!
//! The corpus (`../shared/fixtures/kiro-specs`) is read at test time; its
//! tests are skipped with a message when it is absent.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use kiro_core::format::{parse_design, render_design, Locator, Position};
use kiro_core::spec::{
    CorrectnessProperty, CriterionId, DesignDoc, FormalPlace, PropertyId, PropertySpec, Section,
};

use crate::fixtures;

/// Renders `input` and checks it against `expected`; the rendering must parse
/// back to the same model and render again unchanged.
fn check(input: &str, expected: &str) {
    let parsed = parse_design(input).value;
    let out = render_design(&parsed);
    assert_eq!(out, expected, "rendering of {input:?}");
    let again = parse_design(&out).value;
    assert_eq!(
        again, parsed,
        "model changed after a round trip of {input:?}"
    );
    assert_eq!(
        render_design(&again),
        out,
        "second rendering differs for {input:?}"
    );
}

/// One line per property: `id|title|validates|statement|notes`, plus the
/// kept sources when present.
fn summary(p: &CorrectnessProperty) -> String {
    let ids: Vec<&str> = p.validates.iter().map(CriterionId::as_str).collect();
    let mut s = format!(
        "{}|{}|{}|{}|{}",
        p.id,
        p.title,
        ids.join(","),
        p.statement,
        p.notes
    );
    if let Some(h) = &p.heading_source {
        s.push_str(&format!("|h={h}"));
    }
    if let Some(v) = &p.validates_source {
        s.push_str(&format!("|v={v}"));
    }
    s
}

fn check_props(input: &str, expected: &[&str]) {
    let doc = parse_design(input).value;
    let got: Vec<String> = doc.properties.iter().map(summary).collect();
    assert_eq!(got, expected, "properties of {input:?}");
}

/// Section titles with levels, and `properties_after`.
fn check_sections(input: &str, expected: &[&str], after: Option<usize>) {
    let doc = parse_design(input).value;
    let got: Vec<String> = doc
        .sections
        .iter()
        .map(|s| format!("{}:{}", s.level, s.title))
        .collect();
    assert_eq!(got, expected, "sections of {input:?}");
    assert_eq!(doc.properties_after, after, "properties_after of {input:?}");
}

/// Diagnostics as `line:column message`.
fn check_diagnostics(input: &str, expected: &[&str]) {
    let got: Vec<String> = parse_design(input)
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.position, d.message))
        .collect();
    assert_eq!(got, expected, "diagnostics of {input:?}");
}

const CANONICAL: &str = "# Design Document: Edit\n\n## Overview\n\nText.\n\n## Correctness Properties\n\n*A property is a characteristic.*\n\n### Property 1: Partial update preserves fields\n\n*For any* project, editing SHALL keep omitted fields.\n\n**Validates: Requirements 1.1, 6.6**\n\n### Property 2: Validation\n\n*For any* input, the validator SHALL accept iff valid.\n\n**Validates: Requirements 1.6**\n\n## Error Handling\n\n- 400 on bad input\n";

#[test]
fn canonical_documents_render_byte_for_byte() {
    for src in [
        CANONICAL,
        "# Design\n",
        "# Design\n\n## Overview\n",
        "# Design\n\nIntro paragraph.\n\n## Overview\n\nText.\n",
        "## Overview\n\nNo title here.\n",
        "Preamble without title.\n\n## A\n\nx\n",
        "# Design\n\n## A\n\n### A.1\n\n#### A.1.1\n\nDeep.\n\n# Second H1\n\nBody.\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: Only heading\n",
        "# D\n\n## Correctness Properties\n\n### Property 1\n\nNo title.\n\n**Validates: Requirements 2.1**\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: No link\n\nJust a statement.\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\n**Validates: Requirements 5.3, 8.2**\n\nExplanation after the link.\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nS.\n\n**Validates: Requirements 1.1**\n\n---\n\n### Property 2: U\n\nS2.\n\n**Validates: Requirements 1.2**\n\n---\n\n## Error Handling\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nFirst paragraph.\n\nSecond paragraph.\n\n**Validates: Requirements 4.4, 4.5**\n\n## Next\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nS.\n\n**Validates: Requirements 1.1**\n\n**How**:\n- generate\n- check\n\n## Next\n",
        "# D\n\n## Properties\n\n### Property 1: `code` in *title*\n\nS.\n\n**Validates: Requirements 1.1**\n",
        "# D\n\n## Code\n\n```md\n### Property 9: inside code\n**Validates: Requirements 9.9**\n```\n",
    ] {
        check(src, src);
    }
}

#[test]
fn non_canonical_layout_normalises_then_stays() {
    for (src, expected) in [
        // CRLF is kept, but blank-line runs between blocks are not.
        ("# D\r\n\r\n\r\n## A\r\nText.\r\n", "# D\r\n\r\n## A\r\n\r\nText.\r\n"),
        ("# D\n\n## A\n\nText.", "# D\n\n## A\n\nText.\n"),
        ("# D\n\n## A\n\nText.\n\n\n\n", "# D\n\n## A\n\nText.\n"),
        ("#   D  \n## A ##\nx\n", "# D\n\n## A\n\nx\n"),
        ("D\n===\n\nA\n---\n\nx\n", "# D\n\n## A\n\nx\n"),
        ("", "\n"),
        // Blank lines inside a body are the body's own.
        ("# D\n\n## A\n\nx\n\n\ny\n", "# D\n\n## A\n\nx\n\n\ny\n"),
        // A validates line right under the heading (kythira style).
        (
            "# D\n\n## Correctness Properties\n\n### Property 1: T\n**Validates: Requirements 5.3**\n\nWhy.\n",
            "# D\n\n## Correctness Properties\n\n### Property 1: T\n\n**Validates: Requirements 5.3**\n\nWhy.\n",
        ),
        // Bold properties with statement and link in one paragraph.
        (
            "# D\n\n## Correctness Properties\n\n**Property 1: Inventory**\n*For any* dir, all files SHALL be listed\n**Validates: Requirements 1.1, 1.2**\n",
            "# D\n\n## Correctness Properties\n\n**Property 1: Inventory**\n\n*For any* dir, all files SHALL be listed\n\n**Validates: Requirements 1.1, 1.2**\n",
        ),
        // Plain bugfix properties.
        (
            "# D\n\n## Correctness Properties\n\nProperty 1: Bug Condition - Compliance\n\n_For any_ input where the bug holds, the fix SHALL comply.\n\n**Validates: Requirements 2.1, 2.2**\n",
            "# D\n\n## Correctness Properties\n\nProperty 1: Bug Condition - Compliance\n\n_For any_ input where the bug holds, the fix SHALL comply.\n\n**Validates: Requirements 2.1, 2.2**\n",
        ),
        // A property line in the middle of a paragraph splits it.
        (
            "# D\n\n## Correctness Properties\n\nIntro line\nProperty 1: T\nS\n**Validates: Requirements 1.1**\nAfter\n",
            "# D\n\n## Correctness Properties\n\nIntro line\n\nProperty 1: T\n\nS\n\n**Validates: Requirements 1.1**\n\nAfter\n",
        ),
        // The title's trailing `#` survives the ATX rendering.
        ("# D\n\nA #\n---\n", "# D\n\n## A # #\n"),
    ] {
        check(src, expected);
    }
}

#[test]
fn property_shapes() {
    let doc = |body: &str| format!("# D\n\n## Correctness Properties\n\n{body}\n");
    for (body, expected) in [
        (
            "### Property 1: Title\n\n*For any* x SHALL y.\n\n**Validates: Requirements 1.1, 2.3**",
            vec!["1|Title|1.1,2.3|*For any* x SHALL y.|"],
        ),
        (
            "#### Property 2: Deeper\n\nS.\n\n**Validates: Requirements 1.1**",
            vec!["2|Deeper|1.1|S.||h=#### Property 2: Deeper"],
        ),
        (
            "### 属性1：任务状态单调性\n**验证需求**: 需求2, 需求16\n\n*对于任何任务*\n\n**实现方式**:\n- 生成",
            vec!["1|任务状态单调性|2,16||*对于任何任务*\n\n**实现方式**:\n- 生成|h=### 属性1：任务状态单调性|v=**验证需求**: 需求2, 需求16"],
        ),
        (
            "**属性 1：每日重复间隔一致性**\n*对于任何*规则\n**验证：需求 1.2**",
            vec!["1|每日重复间隔一致性|1.2|*对于任何*规则||h=**属性 1：每日重复间隔一致性**|v=**验证：需求 1.2**"],
        ),
        (
            "### Propriedade 3: Sessão\n\nS.\n\n**Validates:** Requirements 1.1–1.3",
            vec!["3|Sessão|1.1,1.2,1.3|S.||h=### Propriedade 3: Sessão|v=**Validates:** Requirements 1.1–1.3"],
        ),
        (
            "**Property 4:** Label only\n\nS.\n\n_Validates: 4.1_",
            vec!["4|Label only|4.1|S.||h=**Property 4:** Label only|v=_Validates: 4.1_"],
        ),
        (
            "**Property 5**: Colon outside\n\nS.\n\n**Validates: Requirement 8.3.**",
            vec!["5|Colon outside|8.3|S.||h=**Property 5**: Colon outside|v=**Validates: Requirement 8.3.**"],
        ),
        (
            "Property 1: Fault Condition - Left aligned\n\n_For any_ list, items SHALL align.\n\n**Validates: Requirements 2.1**\n\nProperty 2: Preservation - Rest unchanged\n\n_For any_ other input, output SHALL be identical.\n\n**Validates: Requirements 3.1**",
            vec![
                "1|Fault Condition - Left aligned|2.1|_For any_ list, items SHALL align.||h=Property 1: Fault Condition - Left aligned",
                "2|Preservation - Rest unchanged|3.1|_For any_ other input, output SHALL be identical.||h=Property 2: Preservation - Rest unchanged",
            ],
        ),
        (
            "**Property 1: Bullets**\n- *For any* x\n- SHALL y\n\n**Validates: Requirements 1.1**",
            vec!["1|Bullets|1.1|- *For any* x\n- SHALL y||h=**Property 1: Bullets**"],
        ),
        (
            "### Property 2: Inline link\nIdentical to the sibling (Requirement 8.3). **Validates: Requirement 8.3.**\n\nMore notes.",
            vec!["2|Inline link|8.3|Identical to the sibling (Requirement 8.3). **Validates: Requirement 8.3.**|More notes."],
        ),
        (
            "### Property 1.2: Dotted id\n\nS.",
            vec!["1.2|Dotted id||S.|"],
        ),
        (
            "### Property 1: No link\n\nS.\n\nMore.",
            vec!["1|No link||S.\n\nMore.|"],
        ),
        (
            "### Property 1: Words only\n\nS.\n\n**Validates: All requirements**",
            vec!["1|Words only||S.||v=**Validates: All requirements**"],
        ),
    ] {
        check_props(&doc(body), &expected);
        // Every shape is stable after one normalisation.
        let once = render_design(&parse_design(&doc(body)).value);
        check(&once, &once);
    }
}

#[test]
fn headings_that_are_not_properties() {
    for src in [
        "# D\n\n## Testing\n\n### Property-Based Tests\n\nUse fast-check.\n",
        "# D\n\n## Testing\n\n### 属性测试框架\n\nx\n",
        "# D\n\n## Correctness Properties\n\n**Property Reflection:**\n- Properties 1.1 and 1.2 overlap\n",
        "# D\n\n## Correctness Properties\n\nProperty 1 holds whenever x.\n",
        "# D\n\n## Testing\n\n1. **Property 1**: Generate data\n2. **Property 2**: Check\n",
        "# D\n\n## Testing\n\n| Property | Tag |\n|---|---|\n| Property 1: X | t |\n",
        "# D\n\n## Testing\n\n**Property 1 — Minor cap:**\nText.\n",
    ] {
        let doc = parse_design(src).value;
        assert!(doc.properties.is_empty(), "{src:?} gave {:?}", doc.properties);
        check(src, src);
    }
}

#[test]
fn where_properties_live() {
    // Group headings inside the properties section stay in place, in the
    // notes of the property before them.
    let grouped = "# D\n\n## 正确性属性\n\n### 重复事件属性\n\n**属性 1：A**\n*对于任何*x\n**验证：需求 1.2**\n\n### 搜索属性\n\n**属性 2：B**\n*对于任何*y\n**验证：需求 4.1**\n\n## 错误处理\n\nz\n";
    check_sections(
        grouped,
        &["2:正确性属性", "3:重复事件属性", "2:错误处理"],
        Some(1),
    );
    check_props(
        grouped,
        &[
            "1|A|1.2|*对于任何*x|### 搜索属性|h=**属性 1：A**|v=**验证：需求 1.2**",
            "2|B|4.1|*对于任何*y||h=**属性 2：B**|v=**验证：需求 4.1**",
        ],
    );
    let once = render_design(&parse_design(grouped).value);
    check(&once, &once);

    // Properties at the level of the section heading, after a reflection
    // sub-section; the next sibling heading ends them.
    let siblings = "# D\n\n### Correctness Properties\n\nIntro.\n\n#### Property Reflection\n\nMerged 1.1 and 1.2.\n\n---\n\n### Property 1: A\n\nS.\n\n**Validates: Requirements 1.1**\n\n---\n\n### Error Handling\n\nE.\n";
    check_sections(
        siblings,
        &[
            "3:Correctness Properties",
            "4:Property Reflection",
            "3:Error Handling",
        ],
        Some(1),
    );
    check_props(siblings, &["1|A|1.1|S.|---|h=### Property 1: A"]);
    check(siblings, siblings);

    // A deeper heading after the last property is a section of its own.
    let trailing = "# D\n\n## Correctness Properties\n\n### Property 1: A\n\nS.\n\n#### Notes\n\nN.\n\n## Next\n";
    check_sections(
        trailing,
        &["2:Correctness Properties", "4:Notes", "2:Next"],
        Some(0),
    );
    check(trailing, trailing);

    // The run inside a correctness section wins over earlier property-like
    // headings, which stay sections.
    let earlier = "# D\n\n## Testing\n\n### Property 1: Old\n\nx\n\n## Correctness Properties\n\n### Property 1: New\n\nS.\n";
    check_sections(
        earlier,
        &["2:Testing", "3:Property 1: Old", "2:Correctness Properties"],
        Some(2),
    );
    check_props(earlier, &["1|New||S.|"]);
    check(earlier, earlier);

    // Without a correctness section, the first property under any section.
    let plain = "# D\n\n## Props\n\n### Property 1: A\n\nS.\n\n## Next\n";
    check_sections(plain, &["2:Props", "2:Next"], Some(0));
    check(plain, plain);

    // A property before every section is left in the preamble.
    let early = "# D\n\n### Property 1: A\n\nS.\n";
    check_sections(early, &["3:Property 1: A"], None);
    check_props(early, &[]);
    check(early, early);
}

#[test]
fn generated_models_render_consistently() {
    let property = |id: &str, validates: &[&str]| CorrectnessProperty {
        id: PropertyId::new(id),
        title: format!("Title {id}"),
        statement: format!("*For any* input {id}, the system SHALL hold."),
        validates: validates.iter().map(|v| CriterionId::new(*v)).collect(),
        ..CorrectnessProperty::default()
    };
    // No section to follow: a `## Correctness Properties` section is added
    // at the end and read back as the section the properties follow.
    let doc = DesignDoc {
        title: "Design Document".into(),
        sections: vec![Section {
            title: "Overview".into(),
            level: 2,
            body: "Text.".into(),
        }],
        properties: vec![property("1", &["1.1", "1.2"]), property("2", &[])],
        ..DesignDoc::default()
    };
    let out = render_design(&doc);
    assert_eq!(
        out,
        "# Design Document\n\n## Overview\n\nText.\n\n## Correctness Properties\n\n### Property 1: Title 1\n\n*For any* input 1, the system SHALL hold.\n\n**Validates: Requirements 1.1, 1.2**\n\n### Property 2: Title 2\n\n*For any* input 2, the system SHALL hold.\n"
    );
    let back = parse_design(&out).value;
    let mut expected = doc.clone();
    expected.sections.push(Section {
        title: "Correctness Properties".into(),
        level: 2,
        body: String::new(),
    });
    expected.properties_after = Some(1);
    assert_eq!(back, expected);
    check(&out, &out);

    // Notes of a property without a validates line read back as part of
    // its statement.
    let mut unlinked = expected.clone();
    unlinked.properties[1].notes = "Notes.".into();
    let back = parse_design(&render_design(&unlinked)).value;
    assert_eq!(
        back.properties[1].statement,
        "*For any* input 2, the system SHALL hold.\n\nNotes."
    );
    assert_eq!(back.properties[1].notes, "");

    // Properties after a level-3 section get level-4 headings.
    let mut nested = expected.clone();
    nested.sections[1].level = 3;
    let out = render_design(&nested);
    assert!(out.contains("\n#### Property 1: Title 1\n"), "{out}");
    assert_eq!(parse_design(&out).value, nested);
}

#[test]
fn paragraphs_split_only_where_the_rest_stays_a_paragraph() {
    let doc = |body: &str| format!("# D\n\n## Correctness Properties\n\n{body}\n");
    for (body, expected) in [
        // `<tag>` would open an HTML block on its own: no property here.
        ("**Property 1: A**\n<foo>\nS", vec![]),
        // `2. x` continues the paragraph but would open a list on its own.
        ("Property 1: A\n2. step", vec![]),
        (
            "Property 1: A\nS\n**Validates: Requirements 1.1**\n2. step",
            vec!["1|A||S\n**Validates: Requirements 1.1**\n2. step||h=Property 1: A"],
        ),
        // Once a line cannot be split off, later lines of its paragraph are
        // not split off either.
        (
            "### Property 1: A\n\nS\n\n**Validates: Requirements 1.1**\n    **Validates: Requirements 1.2**",
            vec!["1|A||S\n\n**Validates: Requirements 1.1**\n    **Validates: Requirements 1.2**|"],
        ),
        // Continuation lines that stay a paragraph split fine.
        (
            "Property 1: A\n  S\n**Validates: Requirements 1.1**\nN",
            vec!["1|A|1.1|  S|N|h=Property 1: A"],
        ),
    ] {
        check_props(&doc(body), &expected);
        let once = render_design(&parse_design(&doc(body)).value);
        check(&once, &once);
    }
}

#[test]
fn edited_typed_fields_win_over_kept_lines() {
    let src = "# D\n\n## Correctness Properties\n\n**Property 1: Old title**\n\nS.\n\n_Validates: 1.1–1.2_\n";
    let mut doc = parse_design(src).value;
    assert_eq!(render_design(&doc), src);
    doc.properties[0].title = "New title".into();
    doc.properties[0].validates.push(CriterionId::new("3.1"));
    assert_eq!(
        render_design(&doc),
        "# D\n\n## Correctness Properties\n\n### Property 1: New title\n\nS.\n\n**Validates: Requirements 1.1, 1.2, 3.1**\n"
    );

    // An inline fragment that no longer matches gets a canonical line.
    let inline = "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nBecause. **Validates: Requirements 6.4.**\n";
    let mut doc = parse_design(inline).value;
    check(inline, inline);
    doc.properties[0].validates = vec![CriterionId::new("7.1")];
    let out = render_design(&doc);
    assert!(
        out.ends_with("**Validates: Requirements 6.4.**\n\n**Validates: Requirements 7.1**\n"),
        "{out}"
    );
    assert_eq!(parse_design(&out).value, doc);
}

#[test]
fn diagnostics_and_source_map() {
    check_diagnostics(
        "# D\n\n## Correctness Properties\n\n### Property A: Unnumbered\n\nS.\n",
        &["5:1 property heading has no number"],
    );
    check_diagnostics(
        "# D\n\n## Correctness Properties\n\n### 属性：无编号\n",
        &["5:1 property heading has no number"],
    );
    check_diagnostics(
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nS.\n\n**Validates: All requirements**\n",
        &["9:1 validates line names no requirement"],
    );
    for src in [
        CANONICAL,
        "# D\n\n### Property-Based Tests\n\n### Property Reflection\n",
        "# D\n\n### 属性测试：说明\n\n### Property Reflection: merged 1.1 and 1.2\n",
        "# D\n\n## Correctness Properties\n\n### Property 1: T\n\nS.\n",
    ] {
        check_diagnostics(src, &[]);
    }

    let parsed = parse_design("# D\r\n\r\n## Correctness Properties\r\n\r\n**Property 1: A**\r\nS\r\n**Validates: Requirements 1.1**\r\n\r\n### Property 2: B\r\n\r\nX **Validates: Requirements 2.1**\r\n");
    let at = |l: Locator| parsed.source_map.get(&l);
    let p = |line, column| Some(Position { line, column });
    assert_eq!(at(Locator::Title), p(1, 1));
    assert_eq!(at(Locator::Property { index: 0 }), p(5, 1));
    assert_eq!(at(Locator::PropertyValidates { index: 0 }), p(7, 1));
    assert_eq!(at(Locator::Property { index: 1 }), p(9, 1));
    assert_eq!(at(Locator::PropertyValidates { index: 1 }), p(11, 3));
    assert!(parsed.value.style.crlf);
}

#[test]
fn strict_mode_reports_the_first_diagnostic() {
    let err = parse_design("# D\n\n## P\n\n### Property X: T\n")
        .strict("design.md")
        .unwrap_err();
    assert!(err.to_string().contains("design.md"), "{err}");
}

// ---------------------------------------------------------------------------
// The fixture corpus.

fn fixture_designs() -> Option<Vec<(String, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/kiro-specs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        fixtures::missing(&dir);
        eprintln!(
            "skipped: Kiro fixture corpus not found at {} (check out ../shared beside the repo)",
            dir.display()
        );
        return None;
    };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("design.md")).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), text))
        })
        .collect();
    out.sort();
    Some(out)
}

/// Lines outside fenced code, for the independent counts below.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push(t);
        }
    }
    out
}

/// Whether a line starts a property in one of the supported shapes, read
/// with plain string handling rather than the parser's code.
fn starts_property(line: &str) -> bool {
    let heading = line.starts_with('#');
    let mut t = line.trim_start_matches('#').trim_start();
    let bold = t.starts_with("**");
    t = t.trim_start_matches('*');
    let Some(word) = ["Property", "Propriedade", "属性", "プロパティ"]
        .iter()
        .find(|w| t.starts_with(**w))
    else {
        return false;
    };
    let rest = t[word.len()..].trim_start();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return false;
    }
    let after = rest[digits..].trim_start().trim_start_matches('*');
    after.starts_with(':') || after.starts_with('：') || ((heading || bold) && after.is_empty())
}

fn is_validates_line(line: &str) -> bool {
    let labels = ["**Validates", "_Validates", "**验证："];
    labels.iter().any(|l| line.starts_with(l))
        || line.starts_with("**验证需求**")
        || (line.contains(" **Validates:") && line.ends_with("**"))
}

fn tokens(text: &str) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for t in text.split_whitespace() {
        if t.chars().all(|c| matches!(c, '#' | '-' | '=' | '*' | '_')) {
            continue;
        }
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

#[test]
fn fixture_corpus_round_trips_and_keeps_everything() {
    let Some(designs) = fixture_designs() else {
        return;
    };
    assert!(
        designs.len() >= 30,
        "expected the full corpus, found {}",
        designs.len()
    );
    let mut rows = Vec::new();
    for (name, src) in &designs {
        let parsed = parse_design(src);
        let doc = &parsed.value;
        let lines = prose_lines(src);

        let expected_props = lines.iter().filter(|l| starts_property(l)).count();
        assert_eq!(
            doc.properties.len(),
            expected_props,
            "{name}: property count"
        );
        let expected_links = lines.iter().filter(|l| is_validates_line(l)).count();
        let links = doc
            .properties
            .iter()
            .filter(|p| !p.validates.is_empty() || p.validates_source.is_some())
            .count();
        assert_eq!(links, expected_links, "{name}: validates count");
        if !doc.properties.is_empty() {
            assert!(
                doc.properties_after.is_some(),
                "{name}: properties without a section"
            );
        }

        let out = render_design(doc);
        let again = parse_design(&out).value;
        assert_eq!(&again, doc, "{name}: render + parse changed the model");
        assert_eq!(
            render_design(&again),
            out,
            "{name}: second rendering differs"
        );
        assert_eq!(
            out.contains("\r\n"),
            src.contains("\r\n"),
            "{name}: line endings"
        );

        let have = tokens(&out);
        for (word, n) in tokens(src) {
            let got = have.get(word).copied().unwrap_or(0);
            assert!(
                got >= n,
                "{name}: word {word:?} appears {n} times in the input, {got} in the output"
            );
        }
        rows.push(format!(
            "{name:<48} {:>3} properties {:>3} linked {:>3} sections {:>2} diagnostics{}",
            doc.properties.len(),
            links,
            doc.sections.len(),
            parsed.diagnostics.len(),
            if out == *src { "  canonical" } else { "" }
        ));
    }
    eprintln!("{}", rows.join("\n"));
}

// ---------------------------------------------------------------------------
// The `kiro-property` block.
// ---------------------------------------------------------------------------

/// A design with one property whose body (after the heading) is `body`.
fn with_body(body: &str) -> String {
    format!("# Design\n\n## Correctness Properties\n\n### Property 1: Codec round trip\n\n{body}\n")
}

const STATEMENT: &str = "*For any* string, decode(encode(s)) SHALL equal s.";
const VALIDATES: &str = "**Validates: Requirements 1.1**";
const BLOCK: &str = "```json kiro-property\n{\"kind\": \"round-trip\", \"ops\": [\"encode\", \"decode\"],\n \"input\": {\"type\": \"string\", \"maxLength\": 200},\n \"target\": {\"process\": [\"python3\", \"codec.py\"]}}\n```";

/// The property's block as the model holds it: `formal` (its kind and ops,
/// or `-`), `formal_source` (`=` when it is the text written, `-` when
/// none) and `formal_place`, plus where the statement and notes are.
fn formal_summary(p: &CorrectnessProperty, written: &str) -> String {
    let formal = p.formal.as_ref().map_or("-".to_owned(), |f| {
        format!("{} {}", f.kind, f.ops.join(","))
    });
    let source = match p.formal_source.as_deref() {
        None => "-",
        Some(s) if s == written => "=",
        Some(_) => "other",
    };
    format!(
        "{formal}|{source}|{:?}|statement {}|notes {}",
        p.formal_place,
        p.statement.len(),
        p.notes.len()
    )
}

/// Documents with a block that render byte for byte, with what the model
/// holds: the block is lifted out of the text after the statement or after
/// the validates line, and stays in the text elsewhere.
#[test]
fn property_blocks_render_byte_for_byte() {
    let s = STATEMENT.len();
    let in_text = |text: &str| text.len();
    let notes = "Notes on the encoding.";
    for (body, expected) in [
        // After the statement, before the validates line.
        (
            format!("{STATEMENT}\n\n{BLOCK}\n\n{VALIDATES}"),
            format!("round-trip encode,decode|=|AfterStatement|statement {s}|notes 0"),
        ),
        // After the validates line, then notes.
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{BLOCK}\n\n{notes}"),
            format!(
                "round-trip encode,decode|=|AfterValidates|statement {s}|notes {}",
                notes.len()
            ),
        ),
        // In the notes, after other text: the notes keep it.
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}\n\n{BLOCK}"),
            format!(
                "round-trip encode,decode|-|InText|statement {s}|notes {}",
                in_text(&format!("{notes}\n\n{BLOCK}"))
            ),
        ),
        // Inside the statement.
        (
            format!("{STATEMENT}\n\n{BLOCK}\n\nMore statement.\n\n{VALIDATES}"),
            format!(
                "round-trip encode,decode|-|InText|statement {}|notes 0",
                in_text(&format!("{STATEMENT}\n\n{BLOCK}\n\nMore statement."))
            ),
        ),
        // No validates line: the block ends the statement.
        (
            format!("{STATEMENT}\n\n{BLOCK}"),
            format!("round-trip encode,decode|=|AfterStatement|statement {s}|notes 0"),
        ),
        // Only a block.
        (
            BLOCK.to_owned(),
            "round-trip encode,decode|=|AfterStatement|statement 0|notes 0".to_owned(),
        ),
        // A fence that interrupts the statement's paragraph stays in it.
        (
            format!("{STATEMENT}\n{BLOCK}\n\n{VALIDATES}"),
            format!(
                "round-trip encode,decode|-|InText|statement {}|notes 0",
                s + 1 + BLOCK.len()
            ),
        ),
    ] {
        let src = with_body(&body);
        check(&src, &src);
        let doc = parse_design(&src).value;
        assert_eq!(doc.properties.len(), 1, "{src}");
        let p = &doc.properties[0];
        assert_eq!(formal_summary(p, BLOCK), expected, "{src}");
        assert_eq!(p.validates.len(), usize::from(body.contains(VALIDATES)));
    }
}

/// Fences and info strings in every form CommonMark and the rule allow are
/// read; the block is kept exactly as written.
#[test]
fn property_block_fences_are_read_in_every_form() {
    let json = "{\"kind\": \"no-error\", \"ops\": [\"parse\"]}";
    for block in [
        format!("```json kiro-property\n{json}\n```"),
        format!("````json kiro-property\n{json}\n````"),
        format!("~~~json kiro-property\n{json}\n~~~"),
        format!("```   JSON   Kiro-Property\n{json}\n```"),
        format!("  ```json kiro-property\n  {json}\n  ```"),
        format!("```json kiro-property\n{json}\n`````"),
        "```json kiro-property\n{\n  \"ops\": [\"parse\"],\n  \"kind\": \"no-error\"\n}\n```"
            .to_owned(),
    ] {
        let src = with_body(&format!("{STATEMENT}\n\n{block}\n\n{VALIDATES}"));
        check(&src, &src);
        let p = &parse_design(&src).value.properties[0];
        assert_eq!(
            formal_summary(p, &block),
            format!(
                "no-error parse|=|AfterStatement|statement {}|notes 0",
                STATEMENT.len()
            ),
            "{block}"
        );
    }
    // Not a `kiro-property` block: other info strings, a code block inside
    // a list item, an indented code block. The text keeps them, unread.
    for block in [
        format!("```json\n{json}\n```"),
        format!("```json kiro-property extra\n{json}\n```"),
        format!("- item\n\n  ```json kiro-property\n  {json}\n  ```"),
        format!("    ```json kiro-property\n    {json}\n    ```"),
    ] {
        let src = with_body(&format!("{STATEMENT}\n\n{block}\n\n{VALIDATES}"));
        check(&src, &src);
        let p = &parse_design(&src).value.properties[0];
        assert_eq!(
            formal_summary(p, &block),
            format!(
                "-|-|AfterStatement|statement {}|notes 0",
                STATEMENT.len() + 2 + block.len()
            ),
            "{block}"
        );
    }
}

/// A block whose JSON does not read as a property is kept verbatim in
/// `formal_source` (with `formal` empty) and renders as written.
#[test]
fn invalid_property_blocks_are_kept() {
    for json in [
        "{\"kind\": \"round-trip\", \"ops\": [\"a\", \"b\"],}",
        "{\"kind\": \"roundtrip\"}",
        "{\"kind\": \"oracle\", \"opps\": [\"f\"]}",
        "not json",
        "",
    ] {
        let block = format!("```json kiro-property\n{json}\n```");
        for body in [
            format!("{STATEMENT}\n\n{block}\n\n{VALIDATES}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{block}"),
        ] {
            let src = with_body(&body);
            check(&src, &src);
            let p = &parse_design(&src).value.properties[0];
            assert_eq!(p.formal, None, "{src}");
            assert_eq!(p.formal_source.as_deref(), Some(block.as_str()), "{src}");
        }
    }
    // An unclosed fence runs to the end of the document.
    let src = with_body(&format!("{STATEMENT}\n\n{VALIDATES}\n\n```json kiro-property\n{{\"kind\": \"no-error\", \"ops\": [\"f\"]}}"));
    check(&src, &src);
    let p = &parse_design(&src).value.properties[0];
    assert_eq!(
        p.formal.as_ref().map(|f| f.ops.clone()),
        Some(vec!["f".to_owned()])
    );
}

/// Blocks in other documents shapes: bold property lines in one
/// paragraph, CRLF line endings, several properties.
#[test]
fn property_blocks_in_paragraph_properties_and_crlf() {
    let block = "```json kiro-property\n{\"kind\": \"idempotent\", \"ops\": [\"normalize\"]}\n```";
    let statement = "*For any* path, normalize(normalize(p)) SHALL equal normalize(p).";
    let src = format!("# Design\n\n## Correctness Properties\n\n**Property 1: Normalise is idempotent**\n{statement}\n**Validates: Requirements 2.1**\n\n{block}\n\n**Property 2: Other**\n*For any* x, f SHALL hold.\n**Validates: Requirements 2.2**\n");
    let doc = parse_design(&src).value;
    assert_eq!(doc.properties.len(), 2);
    assert_eq!(
        formal_summary(&doc.properties[0], block),
        format!(
            "idempotent normalize|=|AfterValidates|statement {}|notes 0",
            statement.len()
        )
    );
    assert_eq!(doc.properties[1].formal, None);
    let out = render_design(&doc);
    assert!(
        out.contains(&format!(
            "**Validates: Requirements 2.1**\n\n{block}\n\n**Property 2"
        )),
        "{out}"
    );
    check(&out, &out);

    let crlf = with_body(&format!("{STATEMENT}\n\n{BLOCK}\n\n{VALIDATES}")).replace('\n', "\r\n");
    check(&crlf, &crlf);
    let p = &parse_design(&crlf).value.properties[0];
    assert_eq!(
        formal_summary(p, BLOCK),
        format!(
            "round-trip encode,decode|=|AfterStatement|statement {}|notes 0",
            STATEMENT.len()
        )
    );
}

fn spec(json: serde_json::Value) -> PropertySpec {
    serde_json::from_value(json).unwrap()
}

/// A program that sets, changes or clears `formal` gets the canonical block
/// where the old one stood (after the statement when there was none), and
/// a second round trip changes nothing.
#[test]
fn changing_formal_writes_the_canonical_block_in_place() {
    let new = spec(
        serde_json::json!({"kind": "idempotent", "ops": ["trim"], "input": {"type": "string", "maxLength": 3}}),
    );
    let canonical = "```json kiro-property\n{\n  \"kind\": \"idempotent\",\n  \"ops\": [\n    \"trim\"\n  ],\n  \"input\": {\n    \"maxLength\": 3,\n    \"type\": \"string\"\n  }\n}\n```";
    let notes = "Notes.";
    let invalid = "```json kiro-property\n{\"kind\": \"nope\"}\n```";
    for (body, set, cleared) in [
        // No block yet: it goes after the statement.
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}"),
            format!("{STATEMENT}\n\n{canonical}\n\n{VALIDATES}\n\n{notes}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}"),
        ),
        (
            format!("{STATEMENT}\n\n{BLOCK}\n\n{VALIDATES}\n\n{notes}"),
            format!("{STATEMENT}\n\n{canonical}\n\n{VALIDATES}\n\n{notes}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}"),
        ),
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{BLOCK}\n\n{notes}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{canonical}\n\n{notes}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}"),
        ),
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}\n\n{BLOCK}\n\nLast."),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}\n\n{canonical}\n\nLast."),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{notes}\n\nLast."),
        ),
        (
            format!("{STATEMENT}\n\n{BLOCK}\n\nMore.\n\n{VALIDATES}"),
            format!("{STATEMENT}\n\n{canonical}\n\nMore.\n\n{VALIDATES}"),
            format!("{STATEMENT}\n\nMore.\n\n{VALIDATES}"),
        ),
        // An invalid block is replaced by the one a program sets; clearing
        // `formal` keeps it (it never was `formal`).
        (
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{invalid}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{canonical}"),
            format!("{STATEMENT}\n\n{VALIDATES}\n\n{invalid}"),
        ),
    ] {
        let src = with_body(&body);
        let mut doc = parse_design(&src).value;
        doc.properties[0].formal = Some(new.clone());
        let out = render_design(&doc);
        assert_eq!(out, with_body(&set), "setting formal in {src}");
        check(&out, &out);
        let again = parse_design(&out).value;
        assert_eq!(again.properties[0].formal.as_ref(), Some(&new));
        // A canonical block on its own needs no source.
        if again.properties[0].formal_place != FormalPlace::InText {
            assert_eq!(again.properties[0].formal_source, None, "{out}");
        }

        doc.properties[0].formal = None;
        let out = render_design(&doc);
        assert_eq!(out, with_body(&cleared), "clearing formal in {src}");
        check(&out, &out);
    }
}

/// A model built in code renders its block after the statement and reads
/// back as the same model.
#[test]
fn formal_set_in_code_round_trips() {
    let doc = DesignDoc {
        title: "Design".into(),
        properties: vec![CorrectnessProperty {
            id: PropertyId::new("1"),
            title: "Sorted".into(),
            statement: "*For any* list, sort SHALL return it ordered.".into(),
            validates: vec![CriterionId::new("1.1")],
            formal: Some(spec(serde_json::json!({
                "kind": "invariant",
                "ops": ["sort"],
                "input": {"type": "array", "items": {"type": "integer"}},
                "output": {"type": "array"},
                "target": {"http": "http://127.0.0.1:8080"},
                "cases": 50
            }))),
            ..CorrectnessProperty::default()
        }],
        ..DesignDoc::default()
    };
    let out = render_design(&doc);
    assert!(
        out.contains("ordered.\n\n```json kiro-property\n{\n  \"kind\": \"invariant\",\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  \"cases\": 50\n}\n```\n\n**Validates: Requirements 1.1**\n"),
        "{out}"
    );
    let mut again = parse_design(&out).value;
    assert_eq!(again.properties_after, Some(0));
    again.properties_after = None;
    again.sections.clear();
    assert_eq!(again, doc);
}

/// Where each block opens is in the source map; blocks no property reads
/// are reported.
#[test]
fn property_block_positions_and_diagnostics() {
    let src = format!(
        "# Design\n\n```json kiro-property\n{{}}\n```\n\n## Correctness Properties\n\n### Property 1: A\n\nS.\n\n  ```json kiro-property\n{{\"kind\": \"no-error\", \"ops\": [\"f\"]}}\n  ```\n\n{VALIDATES}\n\n```json kiro-property\n{{}}\n```\n\n### Property 2: B\n\nS.\n\n{VALIDATES}\n\n~~~json kiro-property\n{{}}\n~~~\n"
    );
    let parsed = parse_design(&src);
    let at = |l| parsed.source_map.get(&l);
    let p = |line, column| Some(Position { line, column });
    assert_eq!(at(Locator::PropertyFormal { index: 0 }), p(13, 3));
    assert_eq!(at(Locator::PropertyValidates { index: 0 }), p(17, 1));
    assert_eq!(at(Locator::PropertyFormal { index: 1 }), p(29, 1));
    check_diagnostics(
        &src,
        &[
            "3:1 kiro-property block outside a correctness property is not read",
            "19:1 second kiro-property block of a property is not read",
        ],
    );
    check(&src, &src);
}
