//! Verification: test annotations in six languages, JUnit reports of five
//! tools, `cargo test` output, and the mapping of results to criteria.
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use kiro_core::format::parse_requirements;
use kiro_core::spec::{
    AcceptanceCriterion, BehaviorGroup, BehaviorKind, BugfixDoc, CorrectnessProperty, CriterionId,
    DesignDoc, PropertyId, Spec, SpecKind,
};
use kiro_core::trace::build_report;
use kiro_core::verify::annotations::{
    attribute, same_spec, scan_dir, scan_file, Annotation, AnnotationKind, Scope, TestDeclKind,
};
use kiro_core::verify::cargo_test::parse_cargo_test;
use kiro_core::verify::junit::parse_junit;
use kiro_core::verify::{CriterionStatus, RunInfo, TestResult, TestStatus, VerificationReport};
use kiro_core::Error;
use proptest::prelude::*;

// ---------------------------------------------------------------- annotations

/// One expected annotation: kind, line, criteria, property, spec, test name
/// and declaration kind.
type Expect<'a> = (
    AnnotationKind,
    u32,
    &'a [&'a str],
    Option<&'a str>,
    Option<&'a str>,
    Option<(&'a str, TestDeclKind)>,
);

fn check_scan(path: &str, src: &str, expected: &[Expect<'_>]) {
    let found = scan_file(path, src);
    let got: Vec<Expect<'_>> = found
        .iter()
        .map(|a| {
            (
                a.kind,
                a.line,
                &[][..],
                a.property.as_ref().map(|p| p.as_str()),
                a.spec.as_deref(),
                a.test.as_ref().map(|t| (t.name.as_str(), t.kind)),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{path}: {found:#?}");
    for (a, (g, e)) in found.iter().zip(got.iter().zip(expected)) {
        let criteria: Vec<&str> = a.criteria.iter().map(CriterionId::as_str).collect();
        assert_eq!(criteria, e.2, "{path}: criteria of {a:?}");
        assert_eq!(
            (g.0, g.1, g.3, g.4, g.5),
            (e.0, e.1, e.3, e.4, e.5),
            "{path}: {a:?}"
        );
        assert_eq!(a.file, path);
    }
}

use AnnotationKind::{Property, Requirements, Validates};

use crate::fixtures;
use TestDeclKind::{Case, Function, Suite};

#[test]
fn annotations_rust() {
    let src = "\
use super::*;

/// Logging in works.
///
/// **Validates: Requirements 1.1, 1.2**
#[test]
fn login_works() {}

proptest! {
    // Feature: user-auth, Property 3: Sessions round-trip
    // _Validates: Requirements 2.1–2.3_
    #[test]
    fn prop_session_round_trip(x in any::<u32>()) {}
}

// Requirements: 4
#[test] fn inline_attr() {}

fn helper() { let s = \"Validates: Requirements 9.9\"; }
";
    check_scan(
        "src/auth.rs",
        src,
        &[
            (
                Validates,
                5,
                &["1.1", "1.2"],
                None,
                None,
                Some(("login_works", Function)),
            ),
            (
                Property,
                10,
                &[],
                Some("3"),
                Some("user-auth"),
                Some(("prop_session_round_trip", Function)),
            ),
            (
                Validates,
                11,
                &["2.1", "2.2", "2.3"],
                None,
                None,
                Some(("prop_session_round_trip", Function)),
            ),
            (
                Requirements,
                16,
                &["4"],
                None,
                None,
                Some(("inline_attr", Function)),
            ),
        ],
    );
    let anns = scan_file("src/auth.rs", src);
    assert_eq!(
        anns[1].property_title.as_deref(),
        Some("Sessions round-trip")
    );
}

#[test]
fn annotations_python() {
    let src = r#"
import pytest
from hypothesis import given, settings

# **Feature: user-auth, Property 1: Password hashing is one-way**
# **Validates: Requirements 1.3**
@settings(max_examples=100)
@given(st.text())
def test_hash_one_way(pw):
    pass

class TestLogin:
    async def test_login(self):
        """Validates: Requirements 2.1-2.2"""
        assert True

    def test_multi(self):
        """Checks things.

        Validates: Requirements 3.1
        """

    def test_after(self):
        pass
"#;
    check_scan(
        "tests/test_auth.py",
        src,
        &[
            (
                Property,
                5,
                &[],
                Some("1"),
                Some("user-auth"),
                Some(("test_hash_one_way", Function)),
            ),
            (
                Validates,
                6,
                &["1.3"],
                None,
                None,
                Some(("test_hash_one_way", Function)),
            ),
            (
                Validates,
                14,
                &["2.1", "2.2"],
                None,
                None,
                Some(("test_login", Function)),
            ),
            (
                Validates,
                20,
                &["3.1"],
                None,
                None,
                Some(("test_multi", Function)),
            ),
        ],
    );
}

#[test]
fn annotations_typescript() {
    let src = r#"
import fc from 'fast-check';

describe('Auth', () => {
  // Feature: user-auth, Property 2: Tokens expire
  it('rejects expired tokens', () => {
    fc.assert(fc.property(fc.nat(), (n) => true));
  });

  /**
   * Validates: Requirements 3.1
   */
  test.only("accepts \"fresh\" tokens", async () => {});
});

// Validates: Requirements 5
describe(`Session store`, () => {});
"#;
    check_scan(
        "src/auth.test.ts",
        src,
        &[
            (
                Property,
                5,
                &[],
                Some("2"),
                Some("user-auth"),
                Some(("rejects expired tokens", Case)),
            ),
            (
                Validates,
                11,
                &["3.1"],
                None,
                None,
                Some(("accepts \"fresh\" tokens", Case)),
            ),
            (
                Validates,
                16,
                &["5"],
                None,
                None,
                Some(("Session store", Suite)),
            ),
        ],
    );
}

#[test]
fn annotations_go() {
    let src = "\
package auth

// TestLogin checks the login flow.
// Validates: Requirements 1.1
func TestLogin(t *testing.T) {}

// Feature: user-auth, Property 4: Logout clears the session
func (s *suite) helper() {}
func TestLogout(t *testing.T) {}
";
    check_scan(
        "auth/auth_test.go",
        src,
        &[
            (
                Validates,
                4,
                &["1.1"],
                None,
                None,
                Some(("TestLogin", Function)),
            ),
            (
                Property,
                7,
                &[],
                Some("4"),
                Some("user-auth"),
                Some(("TestLogout", Function)),
            ),
        ],
    );
}

#[test]
fn annotations_java() {
    let src = "\
class AuthTest {
    /**
     * Feature: user-auth, Property 5: Lockout after failures
     * Validates: Requirements 6.1, 6.2
     */
    @Test
    @DisplayName(\"locks out\")
    public void locksOutAfterFailures() throws Exception {}

    // Validates: Requirements 6.3
    @Property
    boolean lockoutIsMonotonic(@ForAll int n) { return true; }
}
";
    check_scan(
        "src/test/java/com/example/AuthTest.java",
        src,
        &[
            (
                Property,
                3,
                &[],
                Some("5"),
                Some("user-auth"),
                Some(("locksOutAfterFailures", Function)),
            ),
            (
                Validates,
                4,
                &["6.1", "6.2"],
                None,
                None,
                Some(("locksOutAfterFailures", Function)),
            ),
            (
                Validates,
                10,
                &["6.3"],
                None,
                None,
                Some(("lockoutIsMonotonic", Function)),
            ),
        ],
    );
}

#[test]
fn annotations_kotlin() {
    let src = "\
class AuthTest {
    // Validates: Requirements 7.1
    @Test
    fun `logs in with valid credentials`() {}

    /** **Validates:** Requirements 7.2 */
    @Test internal fun logsOut() {}
}
";
    check_scan(
        "src/test/kotlin/AuthTest.kt",
        src,
        &[
            (
                Validates,
                2,
                &["7.1"],
                None,
                None,
                Some(("logs in with valid credentials", Function)),
            ),
            (
                Validates,
                6,
                &["7.2"],
                None,
                None,
                Some(("logsOut", Function)),
            ),
        ],
    );
}

#[test]
fn annotations_without_a_following_test() {
    check_scan(
        "src/lib.rs",
        "// Validates: Requirements 1.1\n\nconst X: u8 = 1;\n",
        &[(Validates, 1, &["1.1"], None, None, None)],
    );
    // No label at all, or a label with no ids.
    check_scan("src/lib.rs", "fn main() {}\n", &[]);
    check_scan("a.py", "# Requirements: numpy\ndef test_x(): pass\n", &[]);
}

// ------------------------------------------------------------ scoping

/// One expected annotation of a fixture under `tests/data/annotations`:
/// line, kind, criteria, property, the test it belongs to (`None`: the
/// file or a container) and its scope (`None`: unscoped).
type Scoped<'a> = (
    u32,
    AnnotationKind,
    &'a [&'a str],
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn fixture(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/annotations");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn scope_name(scope: &Scope) -> Option<&str> {
    match scope {
        Scope::Spec(s) => Some(s.as_str()),
        Scope::Unscoped => None,
        Scope::Unattributed => Some("<unattributed>"),
    }
}

fn check_scoped(name: &str, expected: &[Scoped<'_>]) {
    let found = scan_file(&format!("tests/{name}"), &fixture(name));
    let got: Vec<_> = found
        .iter()
        .map(|a| {
            (
                a.line,
                a.kind,
                a.criteria
                    .iter()
                    .map(CriterionId::as_str)
                    .collect::<Vec<_>>(),
                a.property.as_ref().map(PropertyId::as_str),
                a.test.as_ref().map(|t| t.name.as_str()),
                scope_name(&a.scope),
            )
        })
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|e| (e.0, e.1, e.2.to_vec(), e.3, e.4, e.5))
        .collect();
    assert_eq!(got, want, "{name}");
}

#[test]
fn scope_python_module_docstring() {
    // `Feature:` and, lines below in the same module docstring, `Validates:`:
    // both belong to the file, and the docstring's `Feature:` scopes the
    // whole file, a singular `Requirement` in a test body included.
    check_scoped(
        "module_docstring.py",
        &[
            (3, Property, &[], Some("1"), None, Some("cart")),
            (8, Validates, &["1.1", "1.2"], None, None, Some("cart")),
            (
                16,
                Validates,
                &["1.3"],
                None,
                Some("test_total_is_sum"),
                Some("cart"),
            ),
            (
                21,
                Validates,
                &["1.4"],
                None,
                Some("test_empty_cart"),
                Some("cart"),
            ),
        ],
    );
}

#[test]
fn scope_rust_file_header_past_strategy_helpers() {
    // The header is not the helpers' doc comment: it scopes the file, and
    // the `///` annotations belong to the tests inside `proptest!`. The
    // label in a string literal is no annotation.
    check_scoped(
        "header_helpers.rs",
        &[
            (1, Property, &[], Some("2"), None, Some("cart")),
            (
                19,
                Validates,
                &["2.1"],
                None,
                Some("discount_never_negative"),
                Some("cart"),
            ),
            (
                26,
                Validates,
                &["2.2"],
                None,
                Some("full_discount_is_free"),
                Some("cart"),
            ),
        ],
    );
}

#[test]
fn scope_python_def_far_above_its_docstring() {
    // Decorators and a multi-line signature put the `def` eight lines above
    // the annotation in its docstring; a free-standing `Feature:` comment
    // scopes the rest of the file; a label in a string is no annotation.
    check_scoped(
        "long_signature.py",
        &[
            (4, Property, &[], Some("3"), None, Some("billing")),
            (
                20,
                Validates,
                &["3.1"],
                None,
                Some("test_invoice_rounds_to_the_cent"),
                Some("billing"),
            ),
        ],
    );
}

#[test]
fn scope_typescript_annotations_inside_bodies() {
    // Inside an `it` body the annotation belongs to that `it`, not to the
    // next one; a `Feature:` on a `describe` scopes the tests inside it.
    check_scoped(
        "describe_it.test.ts",
        &[
            (
                5,
                Property,
                &[],
                Some("1"),
                Some("adds up the line prices"),
                Some("cart"),
            ),
            (
                17,
                Validates,
                &["1.4"],
                None,
                Some("is zero when empty"),
                None,
            ),
            (
                23,
                Validates,
                &["1.2"],
                None,
                Some("ignores removed lines"),
                None,
            ),
            (
                30,
                Property,
                &[],
                Some("4"),
                Some("receipts"),
                Some("billing"),
            ),
            (
                34,
                Validates,
                &["4.1"],
                None,
                Some("lists every line"),
                Some("billing"),
            ),
        ],
    );
}

#[test]
fn scope_go_singular_requirement() {
    // `Validates: Requirement 3.1` (singular) on a test's doc comment and in
    // a test's body; a label in a raw string is no annotation.
    check_scoped(
        "singular_test.go",
        &[
            (6, Property, &[], Some("5"), None, Some("cart")),
            (
                10,
                Validates,
                &["3.1"],
                None,
                Some("TestQuantityPositive"),
                Some("cart"),
            ),
            (
                18,
                Validates,
                &["3.2"],
                None,
                Some("TestQuantityMax"),
                Some("cart"),
            ),
        ],
    );
}

#[test]
fn scope_java_class_doc_and_helper_bodies() {
    // A class's Javadoc `Feature:` scopes its methods; an annotation in a
    // helper's body is not moved onto the next test.
    check_scoped(
        "InvoiceTest.java",
        &[
            (6, Property, &[], Some("6"), None, Some("billing")),
            (
                9,
                Validates,
                &["6.1"],
                None,
                Some("totalIsNeverNegative"),
                Some("billing"),
            ),
            (14, Validates, &["6.2"], None, None, Some("billing")),
            (
                20,
                Validates,
                &["6.3"],
                None,
                Some("roundsHalfUp"),
                Some("billing"),
            ),
        ],
    );
}

#[test]
fn scope_singular_forms() {
    // The singular label in every comment style.
    let cases: &[(&str, &str)] = &[
        (
            "a.rs",
            "/// **Validates: Requirement 13.1**\n#[test]\nfn t() {}\n",
        ),
        (
            "a.rs",
            "// _Validates: Requirement 13.1_\n#[test]\nfn t() {}\n",
        ),
        (
            "a.py",
            "def test_x():\n    \"\"\"Validates: Requirement 13.1\"\"\"\n",
        ),
        (
            "a.ts",
            "/** **Validates:** Requirement 13.1 */\nit('x', () => {});\n",
        ),
        ("a.kt", "// Validates: Requirement 13.1\n@Test fun x() {}\n"),
    ];
    for (path, src) in cases {
        let found = scan_file(path, src);
        assert_eq!(found.len(), 1, "{path}: {src:?}");
        let criteria: Vec<&str> = found[0].criteria.iter().map(CriterionId::as_str).collect();
        assert_eq!(criteria, ["13.1"], "{path}: {src:?}");
        assert_eq!(found[0].kind, Validates, "{path}: {src:?}");
        assert!(found[0].test.is_some(), "{path}: {src:?}");
    }
}

/// Path, source, line of the annotation looked at, its test, its scope.
type RuleCase<'a> = (&'a str, &'a str, u32, Option<&'a str>, Option<&'a str>);

#[test]
fn scope_rules_in_small_files() {
    let cases: &[RuleCase<'_>] = &[
        // A test-level `Feature:` scopes that test's other annotations only.
        (
            "a.rs",
            "// Feature: a, Property 1\n#[test]\nfn one() {\n    // Validates: Requirements 1.1\n}\n\n// Validates: Requirements 1.2\n#[test]\nfn two() {}\n",
            4,
            Some("one"),
            Some("a"),
        ),
        (
            "a.rs",
            "// Feature: a, Property 1\n#[test]\nfn one() {}\n\n// Validates: Requirements 1.2\n#[test]\nfn two() {}\n",
            5,
            Some("two"),
            None,
        ),
        // A file-level `Feature:` holds until the next file-level one.
        (
            "a.py",
            "# Feature: a\n\n# Validates: Requirements 1.1\ndef test_one(): pass\n\n# Feature: b\n\n# Validates: Requirements 1.2\ndef test_two(): pass\n",
            8,
            Some("test_two"),
            Some("b"),
        ),
        (
            "a.py",
            "# Feature: a\n\n# Validates: Requirements 1.1\ndef test_one(): pass\n\n# Feature: b\n\n# Validates: Requirements 1.2\ndef test_two(): pass\n",
            3,
            Some("test_one"),
            Some("a"),
        ),
        // A Python class docstring scopes its methods.
        (
            "a.py",
            "class TestA:\n    \"\"\"Feature: a, Property 2\"\"\"\n\n    def test_x(self):\n        \"\"\"Validates: Requirements 1.1\"\"\"\n",
            5,
            Some("test_x"),
            Some("a"),
        ),
        // A Rust `//!` module comment belongs to the file.
        ("a.rs", "//! Feature: a, Property 1\n#[test]\nfn one() {}\n", 1, None, Some("a")),
        // A `mod` doc comment scopes the tests inside the module.
        (
            "a.rs",
            "use x;\n// Feature: a\n#[cfg(test)]\nmod tests {\n    /// Validates: Requirements 1.1\n    #[test]\n    fn t() {}\n}\n",
            5,
            Some("t"),
            Some("a"),
        ),
        // Multi-line attributes and decorators sit between a doc comment
        // and its test.
        (
            "a.rs",
            "/// Validates: Requirements 1.1\n#[test_case(\n    1,\n    2\n)]\nfn t(n: u8) {}\n",
            1,
            Some("t"),
            None,
        ),
        (
            "a.java",
            "class A {\n    // Validates: Requirements 1.1\n    @ParameterizedTest\n    @ValueSource(ints = {\n        1, 2\n    })\n    void t(int n) {}\n}\n",
            2,
            Some("t"),
            None,
        ),
        // A comment on a helper belongs to the test just below it.
        (
            "a.rs",
            "use x;\n// Validates: Requirements 1.1\nfn helper() {}\n#[test]\nfn t() {}\n",
            2,
            Some("t"),
            None,
        ),
        // A label inside a multi-line string is no annotation; the one
        // after it is, and belongs to its test.
        (
            "a.rs",
            "const S: &str = \"\n// Validates: Requirements 9.9\n\";\n// Validates: Requirements 1.1\n#[test]\nfn t() {}\n",
            4,
            Some("t"),
            None,
        ),
    ];
    for (path, src, line, test, scope) in cases {
        let found = scan_file(path, src);
        assert!(
            found
                .iter()
                .all(|a| a.criteria.iter().all(|c| c.as_str() != "9.9")),
            "{src}"
        );
        let ann = found
            .iter()
            .find(|a| a.line == *line)
            .unwrap_or_else(|| panic!("no annotation on line {line}: {found:#?}"));
        assert_eq!(ann.test.as_ref().map(|t| t.name.as_str()), *test, "{src}");
        assert_eq!(scope_name(&ann.scope), *scope, "{src}");
    }
}

#[test]
fn attribution_to_a_workspace() {
    let src = fixture("describe_it.test.ts");
    let scopes = |specs: &[&str]| {
        let mut anns = scan_file("tests/describe_it.test.ts", &src);
        attribute(&mut anns, specs);
        anns.into_iter().map(|a| a.scope).collect::<Vec<_>>()
    };
    let spec = |s: &str| Scope::Spec(s.to_owned());
    // No workspace: unscoped annotations stay unscoped.
    assert_eq!(scopes(&[])[1], Scope::Unscoped);
    // One spec: they belong to it; names are matched case, `-`, `_` aside.
    assert_eq!(
        scopes(&["Cart"]),
        [
            spec("Cart"),
            spec("Cart"),
            spec("Cart"),
            spec("billing"),
            spec("billing")
        ]
    );
    // Several specs: they belong to none.
    assert_eq!(
        scopes(&["cart", "billing"]),
        [
            spec("cart"),
            Scope::Unattributed,
            Scope::Unattributed,
            spec("billing"),
            spec("billing")
        ]
    );
    assert!(same_spec("User_Auth", "user-auth"));
    assert!(same_spec(" user auth ", "USER-AUTH"));
    assert!(!same_spec("user-auth", "user-authz"));
}

// Fragments that stress the lexers: unbalanced quotes, braces and comment
// markers, docstrings, raw strings, attributes and labels.
const FRAGMENTS: &[&str] = &[
    "\n",
    "    ",
    "{",
    "}",
    ";",
    "(",
    ")",
    "\"",
    "'",
    "`",
    "\"\"\"",
    "'''",
    "/*",
    "*/",
    "//",
    "///",
    "//!",
    "#",
    "#[test]",
    "@Test",
    "r#\"",
    "\"#",
    "\\",
    "/x/",
    "fn t() ",
    "def test_a():",
    "class A:",
    "it('a', () => ",
    "describe('d', () => ",
    "func TestA(t *testing.T) ",
    "void m() ",
    "fun f() ",
    "mod m ",
    "Validates: Requirements 1.1",
    "Feature: s, Property 1",
    "Requirements: 2",
    "**",
    "é",
    "\r\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The scanner never panics, and what it reports points into the file.
    #[test]
    fn scan_file_never_panics(
        picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..120),
        ext in proptest::sample::select(vec!["rs", "py", "ts", "go", "java", "kt", "txt"]),
    ) {
        let text: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
        let lines = u32::try_from(text.lines().count()).unwrap();
        for a in scan_file(&format!("a.{ext}"), &text) {
            prop_assert!(a.line >= 1 && a.line <= lines);
            prop_assert!(a.block_line >= 1 && a.block_line <= a.line);
            if let Some(t) = &a.test {
                prop_assert!(t.line >= 1 && t.line <= lines);
            }
        }
    }
}

#[test]
fn scan_dir_walks_sources_and_skips_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, text: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let ann = b"// Validates: Requirements 1.1\n#[test]\nfn t() {}\n";
    write("tests/a.rs", ann);
    write(
        "web/b.test.ts",
        b"// Validates: Requirements 1.2\nit('b', () => {});\n",
    );
    write("target/debug/c.rs", ann);
    write("node_modules/x/d.js", ann);
    write(".kiro/runs/1/e.rs", ann);
    write("gen/f.rs", ann);
    write(".gitignore", b"gen/\n");
    write("notes.md", ann);
    write("bad.rs", b"// Validates: Requirements 1.1\n\xff\xfe\n");
    let found = scan_dir(root).unwrap();
    let files: Vec<&str> = found.iter().map(|a| a.file.as_str()).collect();
    assert_eq!(files, ["tests/a.rs", "web/b.test.ts"]);

    let missing = scan_dir(&root.join("nope"));
    assert!(matches!(missing, Err(Error::Io { .. })));
}

#[test]
fn scan_dir_fixtures() {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/kiro-specs"
    ));
    if !root.is_dir() {
        fixtures::missing(root);
        eprintln!("skipped: {} is absent", root.display());
        return;
    }
    scan_dir(root).unwrap();
    // The workspace itself, sources and tests included, scans cleanly too.
    scan_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))).unwrap();
}

#[test]
fn scan_dir_finds_the_annotated_files_among_many() {
    // 2,000 files of 4 KB in 50 directories, one in ten annotated (the
    // scan's speed is measured by the `trace` benchmark's `scan`).
    let dir = tempfile::tempdir().unwrap();
    let filler = "let x = compute(1, 2, 3); // some ordinary code\n".repeat(80);
    for i in 0..2000 {
        let sub = dir.path().join(format!("d{}", i % 50));
        std::fs::create_dir_all(&sub).unwrap();
        let mut text = filler.clone();
        if i % 10 == 0 {
            text.push_str("// Validates: Requirements 1.1\n#[test]\nfn t() {}\n");
        }
        std::fs::write(sub.join(format!("f{i}.rs")), text).unwrap();
    }
    let found = scan_dir(dir.path()).unwrap();
    assert_eq!(found.len(), 200);
    // Files 0, 10, 20, ...: each in directory d<i % 50>, with its line.
    let mut files: Vec<&str> = found.iter().map(|a| a.file.as_str()).collect();
    files.sort_unstable();
    assert_eq!(files[0], "d0/f0.rs");
    assert!(files.contains(&"d10/f1010.rs"), "{files:?}");
    assert!(found.iter().all(|a| a.line == 81));
}

// ---------------------------------------------------------------- JUnit

fn junit(xml: &str) -> Vec<TestResult> {
    parse_junit(xml, Path::new("report.xml")).unwrap()
}

/// name, classname, status, message.
fn brief(r: &[TestResult]) -> Vec<(&str, Option<&str>, TestStatus, Option<&str>)> {
    r.iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.classname.as_deref(),
                t.status,
                t.message.as_deref(),
            )
        })
        .collect()
}

#[test]
fn junit_nextest() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0" uuid="0f6c" timestamp="2024-01-01T00:00:00Z" time="0.051">
    <testsuite name="kiro-core::verify" tests="3" disabled="1" errors="0" failures="1">
        <testcase name="login_works" classname="kiro-core::verify" timestamp="2024-01-01T00:00:00Z" time="0.012">
        </testcase>
        <testcase name="tests::prop_round_trip" classname="kiro-core::verify" time="0.030">
            <failure type="test failure with exit code 101">thread 'tests::prop_round_trip' panicked at src/lib.rs:3:5:
Test failed: a &lt; b; minimal failing input: a = 0, b = 0</failure>
            <system-out>running 1 test</system-out>
            <system-err>thread panicked</system-err>
        </testcase>
        <testcase name="slow" classname="kiro-core::verify" time="0.000">
            <skipped/>
        </testcase>
    </testsuite>
</testsuites>"#;
    let r = junit(xml);
    assert_eq!(
        brief(&r),
        [
            (
                "login_works",
                Some("kiro-core::verify"),
                TestStatus::Passed,
                None
            ),
            (
                "tests::prop_round_trip",
                Some("kiro-core::verify"),
                TestStatus::Failed,
                Some("thread 'tests::prop_round_trip' panicked at src/lib.rs:3:5:")
            ),
            ("slow", Some("kiro-core::verify"), TestStatus::Skipped, None),
        ]
    );
    assert_eq!(r[0].duration_ms, Some(12));
    assert!(r[1].output.contains("minimal failing input: a = 0, b = 0"));
    assert!(r[1].output.contains("a < b"));
    assert!(r[1].output.contains("running 1 test"));
    assert!(r[1].output.contains("thread panicked"));
}

#[test]
fn junit_pytest() {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.120" timestamp="2024-01-01T00:00:00" hostname="ci"><testcase classname="tests.test_auth" name="test_login_works" file="tests/test_auth.py" line="11" time="0.002" /><testcase classname="tests.test_auth" name="test_hash[abc]" time="0.010"><failure message="AssertionError: assert 'x' == 'y'">def test_hash(pw):
&gt;       assert hash(pw) == "y"
E       AssertionError</failure></testcase><testcase classname="tests.test_auth" name="test_db" time="0.000"><skipped type="pytest.skip" message="no database">tests/test_auth.py:30: no database</skipped></testcase><testcase classname="tests.test_auth" name="test_fixture" time="0.001"><error message="failed on setup with &quot;KeyError&quot;">fixture error</error></testcase></testsuite></testsuites>"#;
    let r = junit(xml);
    assert_eq!(
        brief(&r),
        [
            (
                "test_login_works",
                Some("tests.test_auth"),
                TestStatus::Passed,
                None
            ),
            (
                "test_hash[abc]",
                Some("tests.test_auth"),
                TestStatus::Failed,
                Some("AssertionError: assert 'x' == 'y'")
            ),
            (
                "test_db",
                Some("tests.test_auth"),
                TestStatus::Skipped,
                Some("no database")
            ),
            (
                "test_fixture",
                Some("tests.test_auth"),
                TestStatus::Errored,
                Some("failed on setup with \"KeyError\"")
            ),
        ]
    );
    assert_eq!(r[0].file.as_deref(), Some("tests/test_auth.py"));
    assert_eq!(r[0].line, Some(11));
    assert!(r[1].output.contains("> "));
}

#[test]
fn junit_jest() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="1" errors="0" time="1.5">
  <testsuite name="Auth" errors="0" failures="1" skipped="0" timestamp="2024-01-01T00:00:00" time="1.2" tests="2">
    <testcase classname="Auth rejects expired tokens" name="Auth rejects expired tokens" time="0.004">
    </testcase>
    <testcase classname="Auth accepts &quot;fresh&quot; tokens" name="Auth accepts &quot;fresh&quot; tokens" time="0.01">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: true
Received: false
    at Object.&lt;anonymous&gt; (src/auth.test.ts:12:5)</failure>
    </testcase>
  </testsuite>
</testsuites>"#;
    let r = junit(xml);
    assert_eq!(r[0].status, TestStatus::Passed);
    assert_eq!(r[1].name, "Auth accepts \"fresh\" tokens");
    assert_eq!(r[1].status, TestStatus::Failed);
    assert_eq!(
        r[1].message.as_deref(),
        Some("Error: expect(received).toBe(expected) // Object.is equality")
    );
    assert!(r[1].output.contains("Object.<anonymous>"));
}

#[test]
fn junit_surefire() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.example.AuthTest" time="0.05" tests="3" errors="0" skipped="1" failures="1">
  <properties>
    <property name="java.version" value="21"/>
  </properties>
  <testcase name="locksOutAfterFailures" classname="com.example.AuthTest" time="0.02">
    <failure message="expected: &lt;3&gt; but was: &lt;2&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <3> but was: <2>
	at com.example.AuthTest.locksOutAfterFailures(AuthTest.java:8)]]></failure>
    <system-out><![CDATA[attempt 1
attempt 2]]></system-out>
  </testcase>
  <testcase name="lockoutIsMonotonic" classname="com.example.AuthTest" time="0.01"/>
  <testcase name="disabled" classname="com.example.AuthTest" time="0">
    <skipped message="not yet"/>
  </testcase>
</testsuite>"#;
    let r = junit(xml);
    assert_eq!(
        brief(&r),
        [
            (
                "locksOutAfterFailures",
                Some("com.example.AuthTest"),
                TestStatus::Failed,
                Some("expected: <3> but was: <2>")
            ),
            (
                "lockoutIsMonotonic",
                Some("com.example.AuthTest"),
                TestStatus::Passed,
                None
            ),
            (
                "disabled",
                Some("com.example.AuthTest"),
                TestStatus::Skipped,
                Some("not yet")
            ),
        ]
    );
    assert!(r[0].output.contains("AuthTest.java:8"));
    assert!(r[0].output.contains("attempt 2"));
}

#[test]
fn junit_go_junit_report() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1">
	<testsuite name="example.com/auth" tests="3" failures="1" errors="0" id="0" hostname="ci" time="0.003" timestamp="2024-01-01T00:00:00Z">
		<properties>
			<property name="go.version" value="go1.22.0"></property>
		</properties>
		<testcase name="TestLogin" classname="example.com/auth" time="0.000"></testcase>
		<testcase name="TestLogout" classname="example.com/auth" time="0.001">
			<failure message="Failed"><![CDATA[    auth_test.go:12: session still open]]></failure>
		</testcase>
		<testcase name="TestLogout/expired" classname="example.com/auth" time="0.000"></testcase>
		<system-out><![CDATA[ok  	example.com/auth	0.003s]]></system-out>
	</testsuite>
</testsuites>"#;
    let r = junit(xml);
    assert_eq!(
        brief(&r),
        [
            (
                "TestLogin",
                Some("example.com/auth"),
                TestStatus::Passed,
                None
            ),
            (
                "TestLogout",
                Some("example.com/auth"),
                TestStatus::Failed,
                Some("Failed")
            ),
            (
                "TestLogout/expired",
                Some("example.com/auth"),
                TestStatus::Passed,
                None
            ),
        ]
    );
    assert_eq!(r[1].output, "auth_test.go:12: session still open");
    // Suite-level output belongs to no test.
    assert!(r[2].output.is_empty());
}

#[test]
fn junit_nested_suites_and_fallbacks() {
    let xml = r#"<testsuites><testsuite name="outer" file="spec/a.js"><testsuite name="inner"><testcase name="x"/></testsuite><testcase name="y" time="bogus"/></testsuite></testsuites>"#;
    let r = junit(xml);
    assert_eq!(
        brief(&r),
        [
            ("x", Some("inner"), TestStatus::Passed, None),
            ("y", Some("outer"), TestStatus::Passed, None)
        ]
    );
    assert_eq!(r[1].file.as_deref(), Some("spec/a.js"));
    assert_eq!(r[1].duration_ms, None);
    assert!(junit("<testsuites/>").is_empty());
}

#[test]
fn junit_bad_xml_is_a_typed_error() {
    let check = |xml: &str, line: usize| match parse_junit(xml, Path::new("out/report.xml")) {
        Err(Error::Junit {
            path,
            line: got,
            message,
        }) => {
            assert_eq!(path, Path::new("out/report.xml"));
            assert_eq!(got, line, "{xml:?}: {message}");
            assert!(!message.is_empty());
            let shown = Error::Junit {
                path,
                line: got,
                message,
            }
            .to_string();
            assert!(
                shown.starts_with(&format!("out/report.xml:{line}: invalid JUnit XML")),
                "{shown}"
            );
        }
        other => panic!("{xml:?}: expected a JUnit error, got {other:?}"),
    };
    check(
        "<testsuites>\n<testsuite>\n<testcase name=\"a\">\n</testsuite>\n</testsuites>",
        4,
    );
    check("<testsuites>\n<testsuite>\n", 3);
    check("<html><body/></html>", 1);
    check("", 1);
    check(
        "<testsuite>\n<testcase name=\"a\">&bogus;</testcase></testsuite>",
        2,
    );
}

#[test]
fn junit_output_is_bounded() {
    let big = "x".repeat(100_000);
    let xml = format!("<testsuite><testcase name=\"a\"><failure message=\"m\">start {big} end</failure></testcase></testsuite>");
    let r = junit(&xml);
    assert!(r[0].output.len() <= kiro_core::verify::MAX_OUTPUT + 64);
    assert!(r[0].output.starts_with("start"));
    assert!(r[0].output.ends_with("end"));
}

// ---------------------------------------------------------------- cargo test

const CARGO_OUT: &str = "\
   Compiling auth v0.1.0 (/tmp/auth)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.50s
     Running unittests src/lib.rs (target/debug/deps/auth-1a2b3c)

running 4 tests
test tests::login_works ... ok
test tests::logout_works ... FAILED
test tests::prop_round_trip ... FAILED
test tests::slow ... ignored, needs a database

failures:

---- tests::logout_works stdout ----
closing session 7

thread 'tests::logout_works' panicked at src/lib.rs:20:9:
assertion `left == right` failed
  left: 1
 right: 0
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::prop_round_trip stdout ----
proptest: Saving this and future failures in proptest-regressions/lib.txt
thread 'tests::prop_round_trip' panicked at src/lib.rs:30:5:
Test failed: decode(encode(s)) != s at src/lib.rs:31; minimal failing input: s = \"\\u{0}\"
\tsuccesses: 12
\tlocal rejects: 0
\tglobal rejects: 0


failures:
    tests::logout_works
    tests::prop_round_trip

test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s

     Running tests/verify.rs (target/debug/deps/verify-4d5e6f)

running 1 test
test login_works ... ok <0.013s>

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

   Doc-tests auth

running 1 test
test src/lib.rs - login (line 5) ... ok
";

#[test]
fn cargo_test_output() {
    let r = parse_cargo_test(CARGO_OUT);
    assert_eq!(
        brief(&r),
        [
            ("tests::login_works", None, TestStatus::Passed, None),
            ("tests::logout_works", None, TestStatus::Failed, Some("assertion `left == right` failed")),
            (
                "tests::prop_round_trip",
                None,
                TestStatus::Failed,
                Some("Test failed: decode(encode(s)) != s at src/lib.rs:31; minimal failing input: s = \"\\u{0}\"")
            ),
            ("tests::slow", None, TestStatus::Skipped, Some("needs a database")),
            ("login_works", None, TestStatus::Passed, None),
            ("src/lib.rs - login (line 5)", None, TestStatus::Passed, None),
        ]
    );
    assert_eq!(r[0].file.as_deref(), Some("src/lib.rs"));
    assert_eq!(r[4].file.as_deref(), Some("tests/verify.rs"));
    assert_eq!(r[4].duration_ms, Some(13));
    assert_eq!(r[5].file, None);
    assert!(r[1].output.starts_with("closing session 7"));
    assert!(r[1].output.contains("right: 0"));
    assert!(r[2].output.contains("minimal failing input"));
    assert!(!r[2].output.contains("test result"));
}

#[test]
fn cargo_test_nocapture_output_between_name_and_verdict() {
    let out = "running 1 test\ntest tests::noisy ... hello from the test\nok\n";
    let r = parse_cargo_test(out);
    assert_eq!(
        brief(&r),
        [("tests::noisy", None, TestStatus::Passed, None)]
    );
    assert!(parse_cargo_test("").is_empty());
    assert!(parse_cargo_test("error[E0425]: cannot find value `x`\n").is_empty());
}

// ---------------------------------------------------------------- mapping

fn feature_spec() -> Spec {
    let req = "\
# Requirements Document

## Requirements

### Requirement 1: Login

#### Acceptance Criteria

1. WHEN a user logs in, THE system SHALL create a session
2. THE system SHALL hash passwords
3. THE system SHALL lock out after failures

### Requirement 2: Logout

#### Acceptance Criteria

1. WHEN a user logs out, THE system SHALL end the session
2. THE system SHALL clear cookies
";
    let design = DesignDoc {
        title: "Design".into(),
        properties: vec![CorrectnessProperty {
            id: PropertyId::new("1"),
            title: "Sessions".into(),
            statement: "For any session ...".into(),
            validates: vec![CriterionId::new("2.1"), CriterionId::new("2.2")],
            ..CorrectnessProperty::default()
        }],
        ..DesignDoc::default()
    };
    Spec {
        name: "user-auth".into(),
        requirements: Some(parse_requirements(req).value),
        design: Some(design),
        ..Spec::default()
    }
}

fn run(exit: i32, per_test: bool) -> RunInfo {
    RunInfo {
        command: "cargo test".into(),
        exit_code: Some(exit),
        per_test_results: per_test,
    }
}

fn statuses(report: &VerificationReport) -> Vec<(&str, CriterionStatus)> {
    report
        .criteria
        .iter()
        .map(|c| (c.criterion.as_str(), c.status))
        .collect()
}

use CriterionStatus::{Failed as F, Passed as P, Untested as U};

const RUST_TESTS: &str = "\
// Validates: Requirements 1.1
#[test]
fn login_works() {}

// Validates: Requirements 1.1, 1.2
#[test]
fn hash_and_login() {}

// Feature: user-auth, Property 1: Sessions
#[test]
fn prop_sessions() {}

// Feature: other-spec, Property 1: Unrelated
// Validates: Requirements 1.3
#[test]
fn other_spec_test() {}

// Feature: other-spec, Property 2: Unrelated
#[test]
fn other_spec_prop() {}
";

#[test]
fn mapping_pass_fail_untested_and_other_spec() {
    let spec = feature_spec();
    let anns = scan_file("src/auth.rs", RUST_TESTS);
    let results = parse_cargo_test(
        "running 4 tests\n\
         test auth::tests::login_works ... ok\n\
         test auth::tests::hash_and_login ... FAILED\n\
         test auth::tests::prop_sessions ... ok\n\
         test auth::tests::other_spec_test ... ok\n\
         \n---- auth::tests::hash_and_login stdout ----\n\
         thread 'auth::tests::hash_and_login' panicked at src/auth.rs:9:5:\n\
         Test failed: bad hash; minimal failing input: pw = \"\"\n",
    );
    let report = build_report(&spec, &anns, &results, run(101, true));
    // 1.1: one pass, one fail -> failed. 1.2: failed. 1.3: only linked from
    // another spec's test -> untested. 2.x: via property 1 -> passed.
    assert_eq!(
        statuses(&report),
        [("1.1", F), ("1.2", F), ("1.3", U), ("2.1", P), ("2.2", P)]
    );
    assert_eq!(report.counts(), (2, 2, 1));
    assert!(!report.is_success());
    assert_eq!(report.spec, "user-auth");
    assert_eq!(report.command, "cargo test");
    assert_eq!(report.exit_code, Some(101));
    assert_eq!(report.tests.len(), 4);

    let c11 = &report.criteria[0];
    assert_eq!(c11.evidence.len(), 2);
    // Failures come first, with the counterexample in the excerpt.
    assert_eq!(c11.evidence[0].test, "auth::tests::hash_and_login");
    assert_eq!(c11.evidence[0].status, Some(TestStatus::Failed));
    assert_eq!(c11.evidence[0].file.as_deref(), Some("src/auth.rs"));
    assert_eq!(c11.evidence[0].line, Some(7));
    assert!(c11.evidence[0]
        .excerpt
        .as_deref()
        .unwrap()
        .contains("minimal failing input: pw = \"\""));
    assert_eq!(c11.evidence[1].status, Some(TestStatus::Passed));
    assert_eq!(c11.evidence[1].excerpt, None);
    assert!(report.criteria[2].evidence.is_empty());
}

#[test]
fn mapping_untested_when_linked_test_has_no_result_or_was_skipped() {
    let spec = feature_spec();
    let anns = scan_file(
        "tests/auth.rs",
        "// Validates: Requirements 1.1\n#[test]\nfn login_works() {}\n\
         // Validates: Requirements 1.2\n#[test]\nfn hashing() {}\n",
    );
    let results = parse_cargo_test("test hashing ... ignored\n");
    let report = build_report(&spec, &anns, &results, run(0, true));
    assert_eq!(
        statuses(&report),
        [("1.1", U), ("1.2", U), ("1.3", U), ("2.1", U), ("2.2", U)]
    );
    assert_eq!(report.criteria[0].evidence[0].test, "login_works");
    assert_eq!(report.criteria[0].evidence[0].status, None);
    assert_eq!(
        report.criteria[1].evidence[0].status,
        Some(TestStatus::Skipped)
    );
    assert!(report.is_success());
}

#[test]
fn mapping_exit_status_only() {
    let spec = feature_spec();
    let anns = scan_file("src/auth.rs", RUST_TESTS);
    let pass = build_report(&spec, &anns, &[], run(0, false));
    assert_eq!(
        statuses(&pass),
        [("1.1", P), ("1.2", P), ("1.3", U), ("2.1", P), ("2.2", P)]
    );
    assert!(!pass.per_test_results);
    let fail = build_report(&spec, &anns, &[], run(1, false));
    assert_eq!(
        statuses(&fail),
        [("1.1", F), ("1.2", F), ("1.3", U), ("2.1", F), ("2.2", F)]
    );
    assert!(fail.criteria[0].evidence[0]
        .excerpt
        .as_deref()
        .unwrap()
        .contains("code 1"));
    let killed = build_report(
        &spec,
        &anns,
        &[],
        RunInfo {
            exit_code: None,
            ..run(0, false)
        },
    );
    assert_eq!(killed.criteria[0].status, F);
}

#[test]
fn mapping_ranges_and_requirement_level_ids() {
    let spec = feature_spec();
    let anns = scan_file(
        "tests/test_auth.py",
        "# Validates: Requirements 1.1–1.3\ndef test_all_login(): pass\n\
         # Requirements: 2\ndef test_logout(): pass\n",
    );
    let results = junit(
        r#"<testsuite name="pytest"><testcase classname="tests.test_auth" name="test_all_login"/><testcase classname="tests.test_auth" name="test_logout"><failure message="boom"/></testcase></testsuite>"#,
    );
    let report = build_report(&spec, &anns, &results, run(1, true));
    assert_eq!(
        statuses(&report),
        [("1.1", P), ("1.2", P), ("1.3", P), ("2.1", F), ("2.2", F)]
    );
    assert_eq!(
        report.criteria[3].evidence[0].excerpt.as_deref(),
        Some("boom")
    );
}

#[test]
fn mapping_script_and_jvm_names() {
    let spec = feature_spec();
    let mut anns = scan_file(
        "src/auth.test.ts",
        "describe('Auth', () => {\n  // Validates: Requirements 1.1\n  it('logs in', () => {});\n});\n\
         // Validates: Requirements 1.2\ndescribe('Hashing', () => {});\n",
    );
    anns.extend(scan_file(
        "src/test/kotlin/AuthTest.kt",
        "// Validates: Requirements 1.3\n@Test fun `locks out`() {}\n",
    ));
    anns.extend(scan_file(
        "auth/auth_test.go",
        "// Validates: Requirements 2.1\nfunc TestLogout(t *testing.T) {}\n",
    ));
    let results = junit(
        r#"<testsuites>
<testsuite name="Auth"><testcase classname="Auth logs in" name="Auth logs in"/></testsuite>
<testsuite name="Hashing"><testcase classname="Hashing is slow" name="Hashing is slow"><failure>too fast</failure></testcase></testsuite>
<testsuite name="AuthTest"><testcase classname="AuthTest" name="locks out()"/></testsuite>
<testsuite name="example.com/auth"><testcase classname="example.com/auth" name="TestLogout/expired"/></testsuite>
</testsuites>"#,
    );
    let report = build_report(&spec, &anns, &results, run(1, true));
    assert_eq!(
        statuses(&report),
        [("1.1", P), ("1.2", F), ("1.3", P), ("2.1", P), ("2.2", U)]
    );
}

#[test]
fn mapping_same_name_prefers_the_annotated_file() {
    let spec = feature_spec();
    let anns = scan_file(
        "tests/verify.rs",
        "// Validates: Requirements 1.1\n#[test]\nfn works() {}\n",
    );
    let results = vec![
        TestResult {
            name: "works".into(),
            classname: None,
            file: Some("tests/verify.rs".into()),
            line: None,
            status: TestStatus::Passed,
            message: None,
            output: String::new(),
            duration_ms: None,
        },
        TestResult {
            name: "other::works".into(),
            classname: None,
            file: Some("src/lib.rs".into()),
            line: None,
            status: TestStatus::Failed,
            message: None,
            output: String::new(),
            duration_ms: None,
        },
    ];
    let report = build_report(&spec, &anns, &results, run(1, true));
    assert_eq!(report.criteria[0].status, P);
    assert_eq!(report.criteria[0].evidence.len(), 1);
}

#[test]
fn mapping_bugfix_clauses() {
    let clause = |id: &str| AcceptanceCriterion {
        id: CriterionId::new(id),
        text: "WHEN x THEN y".into(),
        ears: None,
    };
    let spec = Spec {
        name: "fix-cache".into(),
        kind: SpecKind::Bugfix,
        bugfix: Some(BugfixDoc {
            title: "Bugfix Requirements Document".into(),
            groups: vec![
                BehaviorGroup {
                    kind: BehaviorKind::Current,
                    title: "Current".into(),
                    clauses: vec![clause("1.1")],
                    notes: String::new(),
                },
                BehaviorGroup {
                    kind: BehaviorKind::Expected,
                    title: "Expected".into(),
                    clauses: vec![clause("2.1")],
                    notes: String::new(),
                },
                BehaviorGroup {
                    kind: BehaviorKind::Unchanged,
                    title: "Unchanged".into(),
                    clauses: vec![clause("3.1")],
                    notes: String::new(),
                },
            ],
            ..BugfixDoc::default()
        }),
        ..Spec::default()
    };
    let anns = scan_file(
        "tests/cache.rs",
        "// Validates: Requirements 2.1, 3.1\n#[test]\nfn cache_fixed() {}\n",
    );
    let report = build_report(
        &spec,
        &anns,
        &parse_cargo_test("test cache_fixed ... ok\n"),
        run(0, true),
    );
    assert_eq!(statuses(&report), [("1.1", U), ("2.1", P), ("3.1", P)]);
}

#[test]
fn report_serialises_and_has_a_schema() {
    let spec = feature_spec();
    let anns: Vec<Annotation> = scan_file("src/auth.rs", RUST_TESTS);
    let report = build_report(&spec, &anns, &parse_cargo_test(CARGO_OUT), run(101, true));
    let json = serde_json::to_value(&report).unwrap();
    let back: VerificationReport = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, report);
    let schema = serde_json::to_value(schemars::schema_for!(VerificationReport)).unwrap();
    assert!(jsonschema::is_valid(&schema, &json));
    let ann_json = serde_json::to_value(&anns).unwrap();
    let back: Vec<Annotation> = serde_json::from_value(ann_json).unwrap();
    assert_eq!(back, anns);
}

#[test]
fn a_comment_block_on_no_test_is_one_test_named_by_its_first_line() {
    // Two annotations in one header comment, no test declaration after
    // them: one test for both criteria, named `file:line` of the block's
    // first line, the key the link lock records it under.
    let spec = feature_spec();
    let anns = scan_file(
        "tests/test_header.py",
        "# Validates: Requirements 1.1\n# Validates: Requirements 1.2\n\nimport os\n",
    );
    let report = build_report(&spec, &anns, &[], run(0, true));
    for id in ["1.1", "1.2"] {
        let c = report
            .criteria
            .iter()
            .find(|c| c.criterion.as_str() == id)
            .unwrap();
        assert_eq!(c.evidence.len(), 1, "{id}");
        assert_eq!(c.evidence[0].test, "tests/test_header.py:1", "{id}");
        assert_eq!(c.evidence[0].line, Some(1), "{id}");
        assert_eq!(c.status, CriterionStatus::Untested);
    }
    let graph = kiro_core::trace::TraceGraph::build(&spec, &anns, &[], &Default::default());
    let keys: Vec<String> = graph.tests().map(|t| t.lock_key()).collect();
    assert_eq!(keys, ["tests/test_header.py:1"]);
}

// ------------------------------------------------- executable properties

/// A spec whose property 1 validates criterion 1.1; 1.2 has no property.
fn property_workspace(verifier: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join(".kiro/specs/codec");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::write(
        spec_dir.join("requirements.md"),
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Codec\n\n#### Acceptance Criteria\n\n\
         1. WHEN text is encoded and decoded, THE Codec SHALL return the text\n\
         2. THE Codec SHALL reject bytes that are not UTF-8\n",
    )
    .unwrap();
    std::fs::write(
        spec_dir.join("design.md"),
        "# Design Document\n\n## Correctness Properties\n\n### Property 1: Round trip\n\n\
         *For any* text, decoding its encoding SHALL give the text.\n\n**Validates: Requirements 1.1**\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".kiro/config.toml"),
        format!("[verifier]\ncommand = {verifier}\n"),
    )
    .unwrap();
    (dir, spec_dir)
}

fn property_results(status: TestStatus) -> kiro_core::verify::properties::PropertyResults {
    use kiro_core::spec::PropertyId;
    use kiro_core::verify::properties::{PropertyResult, PropertyResults};
    PropertyResults {
        spec: "codec".into(),
        ran_at: "2026-12-07T10:00:00.000Z".into(),
        results: vec![PropertyResult {
            property: PropertyId::new("1"),
            title: "Round trip".into(),
            validates: vec![kiro_core::spec::CriterionId::new("1.1")],
            status,
            cases: 17,
            seed: Some(42),
            message: (status == TestStatus::Failed).then(|| "g(f(x)) != x".to_owned()),
            counterexample: (status == TestStatus::Failed).then(|| serde_json::json!("\\")),
            output: (status == TestStatus::Failed).then(|| serde_json::json!("")),
            duration_ms: Some(5),
        }],
    }
}

#[tokio::test]
async fn property_results_are_evidence_for_the_criteria_their_property_validates() {
    use kiro_core::project::{Project, VerifyOptions};
    use kiro_core::verify::properties::PropertyResults;

    // A test command that reports no test of its own and succeeds.
    let (dir, spec_dir) = property_workspace(r#"["sh", "-c", "exit 0"]"#);
    let path = property_results(TestStatus::Failed)
        .save(dir.path())
        .unwrap();
    assert!(path.ends_with(".kiro/pbt/codec.json"));
    assert_eq!(
        PropertyResults::load(dir.path(), "codec").unwrap(),
        Some(property_results(TestStatus::Failed))
    );

    let project = Project::open(dir.path()).unwrap();
    let spec = project.load_spec(&spec_dir).unwrap().spec;

    // `kiro trace`: no verification yet, the properties alone.
    let trace = project.trace(&spec).unwrap();
    assert_eq!(trace.results.as_deref(), Some("kiro pbt run"));
    let row = &trace.matrix.rows[0];
    assert_eq!(row.status, CriterionStatus::Failed, "{row:?}");
    assert_eq!(row.tests.len(), 1);
    assert!(
        row.tests[0].test.starts_with("kiro_pbt__codec__property_1"),
        "{row:?}"
    );
    assert_eq!(row.tests[0].status, Some(TestStatus::Failed));
    assert_eq!(trace.matrix.rows[1].status, CriterionStatus::Untested);

    // `kiro verify`: the command passes, the property still fails 1.1.
    let run = project
        .verify(&spec_dir, &spec, VerifyOptions::default())
        .await
        .unwrap()
        .unwrap();
    let verdict = |id: &str| {
        run.report
            .criteria
            .iter()
            .find(|c| c.criterion.as_str() == id)
            .unwrap()
            .status
    };
    assert_eq!(verdict("1.1"), CriterionStatus::Failed);
    assert_eq!(verdict("1.2"), CriterionStatus::Untested);
    // The shrunk counterexample is the evidence.
    let excerpt = run.report.criteria[0].evidence[0]
        .excerpt
        .as_deref()
        .unwrap();
    assert!(excerpt.contains("g(f(x)) != x"), "{excerpt}");
    assert!(
        excerpt.contains(r#"minimal failing input: "\\""#),
        "{excerpt}"
    );

    // A later `kiro pbt run` that passes replaces the failure, for
    // `verify --no-run` and `trace` alike.
    property_results(TestStatus::Passed)
        .save(dir.path())
        .unwrap();
    let again = project
        .verify(
            &spec_dir,
            &spec,
            VerifyOptions {
                no_run: true,
                ..VerifyOptions::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let c11 = &again.report.criteria[0];
    assert_eq!(c11.status, CriterionStatus::Passed, "{c11:?}");
    assert_eq!(c11.evidence.len(), 1, "the old failure is gone: {c11:?}");
    let trace = project.trace(&spec).unwrap();
    assert_eq!(trace.matrix.rows[0].status, CriterionStatus::Passed);
}

#[test]
fn a_corrupt_property_results_file_is_an_error_naming_it() {
    use kiro_core::verify::properties::PropertyResults;
    let (dir, _) = property_workspace(r#"["true"]"#);
    let path = dir.path().join(".kiro/pbt/codec.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"spec\": \"codec\",\n \"results\": 3}").unwrap();
    let err = PropertyResults::load(dir.path(), "codec").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("codec.json:2:"), "{text}");
    assert!(PropertyResults::load(dir.path(), "../x").is_err());
}
