//! The fixture corpus (`../shared/fixtures`) is read at test time; tests that
//! use it skip with a message when it is absent. With
//! `KIRO_REQUIRE_FIXTURES=1` (which `.ci/run` sets) a missing corpus fails
//! the test instead, so that CI never passes by skipping.

/// Called where a test would skip for a missing corpus: panics when the
/// corpus is required, so the skip cannot go unnoticed.
pub fn missing(what: &std::path::Path) {
    if std::env::var_os("KIRO_REQUIRE_FIXTURES").is_some_and(|v| v == "1") {
        panic!(
            "KIRO_REQUIRE_FIXTURES=1 but the fixture corpus is missing at {}",
            what.display()
        );
    }
}
