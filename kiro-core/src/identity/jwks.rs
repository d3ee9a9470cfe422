//! The identity provider's public keys (RFC 7517 JSON Web Key Set), reduced
//! to the keys kiro can verify with: RSA (RS256) and P-256 (ES256).

use base64::Engine as _;
use serde::Deserialize;

use super::{IdentityError, MAX_JWKS_BYTES};

/// The smallest RSA modulus accepted, in bits: shorter keys can be
/// factored, and no identity provider publishes them.
const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits (what the `rsa` crate checks
/// by default; it bounds the verification cost).
const MAX_RSA_BITS: usize = 4096;

/// base64url as JWS and JWK use it: no padding written; padding tolerated
/// on input, because some providers pad JWK fields.
pub(super) const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// A set of verification keys, parsed once ([`Jwks::from_json`]).
///
/// Keys kiro cannot use are left out rather than refused, because providers
/// publish encryption keys and other curves beside their signing keys: keys
/// with `use` other than `sig`, key types other than `RSA` and `EC`, and
/// curves other than P-256. A usable key type with broken parameters is an
/// error, so a damaged JWKS is noticed rather than silently empty.
#[derive(Clone, Debug)]
pub struct Jwks {
    pub(super) keys: Vec<Key>,
}

/// One usable key.
#[derive(Clone, Debug)]
pub(super) struct Key {
    /// The `kid`.
    pub(super) kid: Option<String>,
    /// The `alg` the JWK declares, if any.
    pub(super) alg: Option<String>,
    /// The key material.
    pub(super) material: Material,
}

/// The key material, by type.
#[derive(Clone, Debug)]
pub(super) enum Material {
    /// An RSA public key (for RS256).
    Rsa(rsa::PublicKey),
    /// A P-256 public key (for ES256).
    P256(p256::ecdsa::VerifyingKey),
}

impl Material {
    /// The JWK `kty` of the key.
    pub(super) fn kty(&self) -> &'static str {
        match self {
            Material::Rsa(_) => "RSA",
            Material::P256(_) => "EC",
        }
    }

    /// The JWS algorithm this key verifies.
    pub(super) fn algorithm(&self) -> &'static str {
        match self {
            Material::Rsa(_) => "RS256",
            Material::P256(_) => "ES256",
        }
    }
}

/// A JWK as published; only the members kiro reads.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

impl Jwks {
    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// # Errors
    /// [`IdentityError::TooLarge`] over [`MAX_JWKS_BYTES`];
    /// [`IdentityError::Jwks`] when it is not a JWKS, an RSA or P-256 key
    /// has missing or invalid parameters, or no usable key remains.
    pub fn from_json(bytes: &[u8]) -> Result<Jwks, IdentityError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(IdentityError::TooLarge {
                what: "JWKS",
                size: bytes.len(),
                limit: MAX_JWKS_BYTES,
            });
        }
        let raw: RawJwks = serde_json::from_slice(bytes).map_err(|e| IdentityError::Jwks {
            reason: format!("not a JWKS document: {e}"),
        })?;
        let mut keys = Vec::new();
        for (index, jwk) in raw.keys.into_iter().enumerate() {
            if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
                continue;
            }
            let name = jwk.kid.clone().unwrap_or_else(|| format!("#{}", index + 1));
            let material = match jwk.kty.as_str() {
                "RSA" => Material::Rsa(rsa_key(&jwk, &name)?),
                "EC" if jwk.crv.as_deref() == Some("P-256") => {
                    Material::P256(p256_key(&jwk, &name)?)
                }
                _ => continue,
            };
            keys.push(Key {
                kid: jwk.kid,
                alg: jwk.alg,
                material,
            });
        }
        if keys.is_empty() {
            return Err(IdentityError::Jwks {
                reason: "no RSA or P-256 signing key".to_owned(),
            });
        }
        Ok(Jwks { keys })
    }

    /// How many usable keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no usable key (never true for a parsed JWKS).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of its usable keys, in document order (`None` for a key
    /// without one).
    pub fn key_ids(&self) -> Vec<Option<&str>> {
        self.keys.iter().map(|k| k.kid.as_deref()).collect()
    }
}

/// Decodes one base64url member of a key.
fn member(value: Option<&String>, what: &str, key: &str) -> Result<Vec<u8>, IdentityError> {
    let value = value.ok_or_else(|| IdentityError::Jwks {
        reason: format!("key {key}: `{what}` is missing"),
    })?;
    B64.decode(value).map_err(|e| IdentityError::Jwks {
        reason: format!("key {key}: `{what}` is not base64url: {e}"),
    })
}

fn rsa_key(jwk: &RawJwk, name: &str) -> Result<rsa::PublicKey, IdentityError> {
    let n = member(jwk.n.as_ref(), "n", name)?;
    let e = member(jwk.e.as_ref(), "e", name)?;
    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS + 8).contains(&bits) {
        return Err(IdentityError::Jwks {
            reason: format!(
                "key {name}: RSA modulus of about {bits} bits (accepted: {MIN_RSA_BITS} to {MAX_RSA_BITS})"
            ),
        });
    }
    rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&n),
        rsa::BoxedUint::from_be_slice_vartime(&e),
    )
    .map_err(|e| IdentityError::Jwks {
        reason: format!("key {name}: invalid RSA key: {e}"),
    })
}

fn p256_key(jwk: &RawJwk, name: &str) -> Result<p256::ecdsa::VerifyingKey, IdentityError> {
    let x = member(jwk.x.as_ref(), "x", name)?;
    let y = member(jwk.y.as_ref(), "y", name)?;
    if x.len() != 32 || y.len() != 32 {
        return Err(IdentityError::Jwks {
            reason: format!("key {name}: P-256 coordinates must be 32 bytes each"),
        });
    }
    // The uncompressed SEC1 point: 0x04, x, y.
    let mut point = Vec::with_capacity(65);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| IdentityError::Jwks {
        reason: format!("key {name}: not a point on P-256"),
    })
}
