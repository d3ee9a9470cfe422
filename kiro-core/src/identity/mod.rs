//! Who did something: a verified OIDC identity or a local, unverified name.
//!
//! An approval in the audit log names an actor. A name from `KIRO_ACTOR`,
//! git or the OS user is only a claim anyone can make; an OpenID Connect ID
//! token signed by the organisation's identity provider is a proof. This
//! module checks such tokens offline against the provider's published keys
//! (a JWKS document the caller fetched: kiro-core does no network I/O).
//!
//! ```
//! use kiro_core::identity::{Jwks, OidcConfig, OidcVerifier, IdentityError};
//!
//! let jwks = Jwks::from_json(br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
//!   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
//!   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#)?;
//! let config = OidcConfig::new("https://idp.example", "kiro");
//! let verifier = OidcVerifier::new(&config, jwks);
//! // An unsigned token is refused before anything else is read.
//! let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.";
//! assert!(matches!(verifier.verify(forged), Err(IdentityError::AlgorithmNotAllowed { .. })));
//! # Ok::<(), IdentityError>(())
//! ```
//!
//! What [`OidcVerifier::verify`] checks, in order: the token's size (at most
//! [`MAX_TOKEN_BYTES`]), its shape (three base64url parts), the header's
//! `alg` (RS256 or ES256 only: `none`, HMAC and everything else are
//! refused), the key (`kid` in the JWKS; without `kid`, the only key of the
//! algorithm's type), that the key's type and declared `alg` match the
//! header's (the key-confusion attack signs with HS256 and the public key
//! as the secret), the signature, then the claims: `iss`, `aud`, `exp`,
//! `nbf`, `iat` (with [`OidcConfig::leeway_seconds`]) and `sub`.

mod jwks;
mod verify;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use jwks::Jwks;
pub use verify::OidcVerifier;

/// The largest ID token accepted, in bytes. Real ID tokens are 1–2 KiB; the
/// limit stops a hostile file before any decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The clock skew allowed on `exp`, `nbf` and `iat` when the configuration
/// names none, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    /// Proven by an ID token whose signature, issuer, audience and validity
    /// period were checked.
    Verified(VerifiedIdentity),
    /// A name the local machine gave; a claim, not a proof.
    Local(LocalIdentity),
}

impl Identity {
    /// The name to show: a verified identity's email, else its name, else
    /// its subject; a local identity's user name.
    pub fn display_name(&self) -> String {
        match self {
            Identity::Verified(v) => v
                .email
                .clone()
                .or_else(|| v.name.clone())
                .unwrap_or_else(|| v.subject.clone()),
            Identity::Local(l) => l.user.clone(),
        }
    }

    /// Whether an ID token proves this identity.
    pub fn is_verified(&self) -> bool {
        matches!(self, Identity::Verified(_))
    }
}

/// An identity proven by an OIDC ID token: the claims kiro keeps, and the
/// token itself so the proof can be checked again later, offline
/// ([`OidcVerifier::reverify`]).
///
/// Its `Debug` shows the token only as `<jws …` and its last 8 characters:
/// a token is a bearer credential until it expires, and debug output ends
/// up in logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerifiedIdentity {
    /// The `iss` claim: the identity provider.
    pub issuer: String,
    /// The `sub` claim: the provider's stable id of the user.
    pub subject: String,
    /// The `email` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `name` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `groups` (or Cognito's `cognito:groups`) claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The audience the token was checked against (one of its `aud`).
    pub audience: String,
    /// The `exp` claim, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The `iat` claim, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<u64>,
    /// The header's `kid`: which of the provider's keys signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The header's `alg` (`RS256` or `ES256`).
    pub algorithm: String,
    /// The compact JWS, kept for offline re-checks.
    pub token: String,
}

impl std::fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("audience", &self.audience)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("token", &TokenTail(&self.token))
            .finish()
    }
}

/// Shows a token as `<jws …` and its last 8 characters (a signature's tail,
/// enough to tell two tokens apart, useless to replay).
struct TokenTail<'a>(&'a str);

impl std::fmt::Debug for TokenTail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail: String = {
            let chars: Vec<char> = self.0.chars().collect();
            chars[chars.len().saturating_sub(8)..].iter().collect()
        };
        write!(f, "<jws …{tail}>")
    }
}

/// A name the local machine gave, unverified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalIdentity {
    /// The user name.
    pub user: String,
    /// Where it came from: `KIRO_ACTOR`, `git` or `USER`.
    pub source: String,
}

/// How to verify ID tokens: the `[identity]` table of `.kiro/policy.toml`.
///
/// ```toml
/// [identity]
/// issuer = "https://token.actions.githubusercontent.com"
/// audience = "kiro"
/// jwks_url = "https://token.actions.githubusercontent.com/.well-known/jwks"
/// leeway_seconds = 60
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The expected `iss` claim, compared byte for byte.
    pub issuer: String,
    /// The audience that must be among the token's `aud`.
    pub audience: String,
    /// A JWKS file, relative to the workspace root; preferred over
    /// `jwks_url` when both are set (works offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// Where the provider publishes its JWKS (https, or http on
    /// 127.0.0.1/localhost). The CLI fetches it; kiro-core never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECONDS
}

impl OidcConfig {
    /// A configuration with the default leeway and no JWKS source.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_file: None,
            jwks_url: None,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }
}

/// Why an ID token or a JWKS was refused. Messages never contain the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The token or JWKS is larger than its limit ([`MAX_TOKEN_BYTES`],
    /// [`MAX_JWKS_BYTES`]).
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// `ID token` or `JWKS`.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The token is not a compact JWS with a JSON header and payload.
    #[error("malformed ID token: {part}: {reason}")]
    Malformed {
        /// `token`, `header`, `payload` or `signature`.
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The header's `alg` is not RS256 or ES256.
    #[error("algorithm `{alg}` is not allowed (only RS256 and ES256)")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// No key of the JWKS matches the token: its `kid` is not there, or it
    /// has none and the JWKS does not hold exactly one key of its type.
    #[error("no key in the JWKS for {}", match kid { Some(k) => format!("kid `{k}`"), None => "a token without kid".to_owned() })]
    UnknownKey {
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The key the `kid` names is of another type, or declares another
    /// algorithm, than the header's `alg` (key confusion).
    #[error("key `{kid}` is a {key} key, not usable with {alg}")]
    KeyMismatch {
        /// The key's `kid` (empty when the key has none).
        kid: String,
        /// The header's `alg`.
        alg: String,
        /// The key's type, and its declared algorithm if any.
        key: String,
    },
    /// The signature does not verify with the key.
    #[error("bad signature (key `{kid}`)")]
    BadSignature {
        /// The key's `kid` (empty when the key has none).
        kid: String,
    },
    /// `iss` is not the configured issuer.
    #[error("wrong issuer: expected `{expected}`, the token says `{found}`")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not contain the configured audience.
    #[error("wrong audience: expected `{expected}`, the token is for {found:?}")]
    WrongAudience {
        /// The configured audience.
        expected: String,
        /// The token's audiences.
        found: Vec<String>,
    },
    /// `exp` has passed (beyond the leeway).
    #[error("expired at {expires_at} (checked at {at}, leeway {leeway}s)")]
    Expired {
        /// The `exp` claim.
        expires_at: u64,
        /// The time checked against, seconds since the Unix epoch.
        at: u64,
        /// The leeway in seconds.
        leeway: u64,
    },
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("not yet valid: {claim} is {valid_from} (checked at {at}, leeway {leeway}s)")]
    NotYetValid {
        /// `nbf` or `iat`.
        claim: &'static str,
        /// The claim's value.
        valid_from: u64,
        /// The time checked against.
        at: u64,
        /// The leeway in seconds.
        leeway: u64,
    },
    /// A required claim (`sub`, `exp`, `iss`, `aud`) is absent or of the
    /// wrong type.
    #[error("claim `{claim}` is missing or not a {expected}")]
    MissingClaim {
        /// The claim.
        claim: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The JWKS document is unusable.
    #[error("invalid JWKS: {reason}")]
    Jwks {
        /// What is wrong.
        reason: String,
    },
}
