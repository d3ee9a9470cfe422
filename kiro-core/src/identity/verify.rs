//! ID-token verification: header, key choice, signature, then claims.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::jwks::{Key, Material, B64};
use super::{IdentityError, Jwks, OidcConfig, VerifiedIdentity, MAX_TOKEN_BYTES};

/// Checks OIDC ID tokens against one issuer, audience and key set.
///
/// It holds no clock and no network access: [`verify`](Self::verify) reads
/// the system time, [`verify_at`](Self::verify_at) takes it, and the keys
/// come in as a parsed [`Jwks`].
#[derive(Clone, Debug)]
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    leeway: u64,
    jwks: Jwks,
}

/// A decoded token whose signature verified, before its claims are checked.
struct Signed<'t> {
    token: &'t str,
    alg: &'static str,
    kid: Option<String>,
    claims: Map<String, Value>,
}

impl OidcVerifier {
    /// A verifier for `config`'s issuer, audience and leeway, with `jwks`'s
    /// keys.
    pub fn new(config: &OidcConfig, jwks: Jwks) -> OidcVerifier {
        OidcVerifier {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_seconds,
            jwks,
        }
    }

    /// Verifies `token` now (surrounding whitespace, such as a token file's
    /// trailing newline, is ignored).
    ///
    /// # Errors
    /// One [`IdentityError`] variant per failed check; see the module docs
    /// for their order.
    pub fn verify(&self, token: &str) -> Result<VerifiedIdentity, IdentityError> {
        self.verify_at(token, now_unix())
    }

    /// Verifies `token` as if the time were `now_unix` (seconds since the
    /// Unix epoch).
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_at(&self, token: &str, now_unix: u64) -> Result<VerifiedIdentity, IdentityError> {
        let signed = self.check_signature(token.trim())?;
        self.check_claims(signed, now_unix)
    }

    /// Re-checks a token kept in the audit log: signature, issuer and
    /// audience as [`verify`](Self::verify), and validity at `at_unix`, the
    /// time the log recorded for the approval, not now. An expired token
    /// still proves who approved back then; a token that was not valid at
    /// that time (used after it expired, or before it was issued) does not.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), with times compared to `at_unix`.
    pub fn reverify(&self, token: &str, at_unix: u64) -> Result<VerifiedIdentity, IdentityError> {
        self.verify_at(token, at_unix)
    }

    /// The token's shape, header, key choice and signature; nothing in the
    /// payload is believed before this succeeds.
    fn check_signature<'t>(&self, token: &'t str) -> Result<Signed<'t>, IdentityError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(IdentityError::TooLarge {
                what: "ID token",
                size: token.len(),
                limit: MAX_TOKEN_BYTES,
            });
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("token", "not three dot-separated parts"));
        };
        let header = json_object("header", header_b64)?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            _ => return Err(malformed("header", "no `alg` string")),
        };
        let alg: &'static str = match alg {
            "RS256" => "RS256",
            "ES256" => "ES256",
            other => {
                return Err(IdentityError::AlgorithmNotAllowed {
                    alg: other.to_owned(),
                })
            }
        };
        // Extensions the token says must be understood cannot be: refuse
        // (RFC 7515 section 4.1.11).
        if header.contains_key("crit") {
            return Err(malformed("header", "`crit` extensions are not supported"));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(malformed("header", "`kid` is not a string")),
        };
        let key = self.key_for(kid.as_deref(), alg)?;
        let signature = B64
            .decode(signature_b64)
            .map_err(|e| malformed("signature", &format!("not base64url: {e}")))?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        if !signature_verifies(&key.material, signing_input.as_bytes(), &signature) {
            return Err(IdentityError::BadSignature {
                kid: key.kid.clone().unwrap_or_default(),
            });
        }
        let claims = json_object("payload", payload_b64)?;
        Ok(Signed {
            token,
            alg,
            kid,
            claims,
        })
    }

    /// The key that must have signed a token with this `kid` and `alg`.
    fn key_for(&self, kid: Option<&str>, alg: &str) -> Result<&Key, IdentityError> {
        let key = match kid {
            Some(kid) => self
                .jwks
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let mut of_type = self
                    .jwks
                    .keys
                    .iter()
                    .filter(|k| k.material.algorithm() == alg);
                match (of_type.next(), of_type.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        let key = key.ok_or_else(|| IdentityError::UnknownKey {
            kid: kid.map(str::to_owned),
        })?;
        let declared_other = key.alg.as_deref().is_some_and(|a| a != alg);
        if key.material.algorithm() != alg || declared_other {
            let mut described = key.material.kty().to_owned();
            if let Some(a) = &key.alg {
                described.push_str(&format!(" ({a})"));
            }
            return Err(IdentityError::KeyMismatch {
                kid: key.kid.clone().unwrap_or_default(),
                alg: alg.to_owned(),
                key: described,
            });
        }
        Ok(key)
    }

    /// The claims of a token whose signature verified, checked at `now`.
    fn check_claims(
        &self,
        signed: Signed<'_>,
        now: u64,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let claims = &signed.claims;
        let issuer = string_claim(claims, "iss")?.ok_or(IdentityError::MissingClaim {
            claim: "iss",
            expected: "string",
        })?;
        if issuer != self.issuer {
            return Err(IdentityError::WrongIssuer {
                expected: self.issuer.clone(),
                found: issuer,
            });
        }
        let audiences = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(IdentityError::MissingClaim {
                    claim: "aud",
                    expected: "string or array of strings",
                })?,
            _ => {
                return Err(IdentityError::MissingClaim {
                    claim: "aud",
                    expected: "string or array of strings",
                })
            }
        };
        if !audiences.contains(&self.audience) {
            return Err(IdentityError::WrongAudience {
                expected: self.audience.clone(),
                found: audiences,
            });
        }
        let leeway = self.leeway;
        let expires_at = time_claim(claims, "exp")?.ok_or(IdentityError::MissingClaim {
            claim: "exp",
            expected: "number",
        })?;
        if now >= expires_at.saturating_add(leeway) {
            return Err(IdentityError::Expired {
                expires_at,
                at: now,
                leeway,
            });
        }
        let issued_at = time_claim(claims, "iat")?;
        for (claim, value) in [("nbf", time_claim(claims, "nbf")?), ("iat", issued_at)] {
            if let Some(from) = value {
                if from > now.saturating_add(leeway) {
                    return Err(IdentityError::NotYetValid {
                        claim,
                        valid_from: from,
                        at: now,
                        leeway,
                    });
                }
            }
        }
        let subject = string_claim(claims, "sub")?
            .filter(|s| !s.is_empty())
            .ok_or(IdentityError::MissingClaim {
                claim: "sub",
                expected: "non-empty string",
            })?;
        let groups = ["groups", "cognito:groups"]
            .iter()
            .find_map(|name| claims.get(*name).and_then(Value::as_array))
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(VerifiedIdentity {
            issuer,
            subject,
            email: string_claim(claims, "email")?,
            name: string_claim(claims, "name")?,
            groups,
            audience: self.audience.clone(),
            expires_at,
            issued_at,
            key_id: signed.kid,
            algorithm: signed.alg.to_owned(),
            token: signed.token.to_owned(),
        })
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn malformed(part: &'static str, reason: &str) -> IdentityError {
    IdentityError::Malformed {
        part,
        reason: reason.to_owned(),
    }
}

/// Decodes a base64url part holding a JSON object.
fn json_object(part: &'static str, b64: &str) -> Result<Map<String, Value>, IdentityError> {
    let bytes = B64
        .decode(b64)
        .map_err(|e| malformed(part, &format!("not base64url: {e}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(part, "not a JSON object")),
        Err(e) => Err(malformed(part, &format!("not JSON: {e}"))),
    }
}

/// A string claim: `None` when absent, an error when of another type.
fn string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, IdentityError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::MissingClaim {
            claim: name,
            expected: "string",
        }),
    }
}

/// A NumericDate claim (seconds, possibly fractional: RFC 7519 section 2),
/// rounded down; `None` when absent, an error when not a non-negative
/// number.
fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, IdentityError> {
    let wrong = IdentityError::MissingClaim {
        claim: name,
        expected: "number",
    };
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => {
                // Truncation toward zero is the intent; the value is finite
                // and non-negative, and `as` saturates at u64::MAX.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(Some(f as u64))
            }
            _ => Err(wrong),
        },
        Some(_) => Err(wrong),
    }
}

/// Whether `signature` over `input` verifies with `key`: RS256 is
/// RSASSA-PKCS1-v1_5 with SHA-256, ES256 is ECDSA P-256 with SHA-256 and
/// the 64-byte `r || s` signature JWS uses (RFC 7518 section 3.4).
fn signature_verifies(key: &Material, input: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    match key {
        Material::Rsa(public) => {
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return false;
            };
            let verifying = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(public.clone());
            rsa::signature::Verifier::verify(&verifying, input, &signature).is_ok()
        }
        Material::P256(public) => {
            let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else {
                return false;
            };
            public.verify(input, &signature).is_ok()
        }
    }
}
