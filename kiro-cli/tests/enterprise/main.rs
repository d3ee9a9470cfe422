//! The enterprise features of issue 16 through the real `kiro` binary:
//! one module per part (the lead unions the `mod` lines).

// Test helpers assert by unwrapping and panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod governance;
mod identity;
#[path = "../../../kiro-core/tests/support/oidc.rs"]
mod oidc;
