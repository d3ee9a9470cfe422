//! A test identity provider: keys generated once per test binary, the JWKS
//! that publishes them, and ID tokens signed (or forged) with them. Shared
//! by kiro-core's `identity` tests and kiro-cli's `enterprise/identity`.
#![allow(dead_code)]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::elliptic_curve::Generate as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

/// The issuer and audience every test token and config uses.
pub const ISSUER: &str = "https://idp.test";
/// The audience.
pub const AUDIENCE: &str = "kiro";
/// The `kid` of the RSA key and of the P-256 key in [`jwks`].
pub const RSA_KID: &str = "rsa-1";
/// The `kid` of the P-256 key.
pub const EC_KID: &str = "ec-1";

/// The RSA key, generated once: 2048-bit key generation takes seconds in
/// a debug build.
pub fn rsa_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(rsa::PrivateKey::generate)
}

/// The P-256 key.
pub fn ec_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(p256::ecdsa::SigningKey::generate)
}

/// Another P-256 key, not in the JWKS (a forger's).
pub fn other_ec_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(p256::ecdsa::SigningKey::generate)
}

/// The RSA public key as a JWK.
pub fn rsa_jwk() -> Value {
    let public = rsa_key().to_public_key();
    json!({
        "kty": "RSA", "kid": RSA_KID, "alg": "RS256", "use": "sig",
        "n": B64.encode(public.n_bytes()), "e": B64.encode(public.e_bytes()),
    })
}

/// The P-256 public key as a JWK.
pub fn ec_jwk() -> Value {
    let point = ec_key().verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({
        "kty": "EC", "crv": "P-256", "kid": EC_KID, "use": "sig",
        "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65]),
    })
}

/// The provider's JWKS: both keys.
pub fn jwks() -> String {
    json!({ "keys": [rsa_jwk(), ec_jwk()] }).to_string()
}

/// Valid claims for a token issued at `now`, valid for an hour.
pub fn claims(now: u64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "user-42",
        "email": "alice@example.com", "name": "Alice",
        "groups": ["release-managers", "dev"],
        "iat": now, "nbf": now, "exp": now + 3600,
    })
}

/// `header.payload` in base64url.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// An RS256 token signed with [`rsa_key`].
pub fn rs256(kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let input = signing_input(&header, claims);
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(rsa_key().clone());
    let signature: rsa::pkcs1v15::Signature =
        rsa::signature::Signer::sign(&signer, input.as_bytes());
    let bytes: Box<[u8]> = rsa::signature::SignatureEncoding::to_bytes(&signature);
    format!("{input}.{}", B64.encode(bytes))
}

/// An ES256 token signed with `key`, with header `header` (`alg` set to
/// ES256 unless the header names one).
pub fn es256_with(key: &p256::ecdsa::SigningKey, mut header: Value, claims: &Value) -> String {
    if header.get("alg").is_none() {
        header["alg"] = json!("ES256");
    }
    let input = signing_input(&header, claims);
    let signature: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(key, input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

/// An ES256 token signed with [`ec_key`].
pub fn es256(kid: Option<&str>, claims: &Value) -> String {
    let header = match kid {
        Some(kid) => json!({ "kid": kid }),
        None => json!({}),
    };
    es256_with(ec_key(), header, claims)
}

/// An unsigned token (`alg: none`, empty signature).
pub fn unsigned(claims: &Value) -> String {
    format!("{}.", signing_input(&json!({ "alg": "none" }), claims))
}

/// The key-confusion forgery: HS256 with the RSA public key's JWK `n`
/// bytes as the HMAC secret, `kid` naming the RSA key. A verifier that
/// picks the algorithm from the header and the key from the JWKS would
/// accept it.
pub fn hs256_with_public_key(claims: &Value) -> String {
    use sha2::Digest as _;
    let secret = rsa_key().to_public_key().n_bytes().to_vec();
    let input = signing_input(&json!({ "alg": "HS256", "kid": RSA_KID }), claims);
    // HMAC-SHA256 (RFC 2104) by hand: the tests need no HMAC crate.
    let mut key = if secret.len() > 64 {
        sha2::Sha256::digest(&secret).to_vec()
    } else {
        secret
    };
    key.resize(64, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(input.as_bytes())
        .finalize();
    let mac = sha2::Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!("{input}.{}", B64.encode(mac))
}

/// `token` with one byte of its signature changed.
pub fn flip_signature_byte(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = B64.decode(signature).unwrap();
    bytes[10] ^= 0x01;
    format!("{input}.{}", B64.encode(bytes))
}
