//! The identity provider's keys for verifying ID tokens: read from the
//! `jwks_file` or fetched from the `jwks_url` of `[identity]` in
//! `.kiro/policy.toml`. This is the CLI's side of identity: kiro-core
//! verifies tokens but never goes to the network.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use kiro_core::identity::{Jwks, OidcConfig, MAX_JWKS_BYTES};

/// How long fetching the JWKS may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How many same-host redirects are followed.
const MAX_REDIRECTS: usize = 3;

/// The JWKS `config` names: its `jwks_file` (relative to `base`, the
/// workspace root) when set, else its `jwks_url`.
///
/// The URL must be `https`, or `http` on `127.0.0.1`, `[::1]` or
/// `localhost` (a JWKS fetched in the clear could be swapped for an
/// attacker's keys). The fetch gives up after 10 s, reads at most 1 MiB,
/// and follows redirects only to the same scheme, host and port.
///
/// # Errors
/// Neither source set, the file unreadable, the URL refused or failing,
/// or the document not a usable JWKS; messages name the file or URL.
pub(crate) fn load_jwks(config: &OidcConfig, base: &Path) -> Result<Jwks> {
    if let Some(file) = &config.jwks_file {
        let path = base.join(file);
        let bytes = read_capped(&path)?;
        return Jwks::from_json(&bytes).with_context(|| format!("JWKS file {}", path.display()));
    }
    let Some(url) = &config.jwks_url else {
        bail!("`[identity]` in .kiro/policy.toml names neither `jwks_file` nor `jwks_url`");
    };
    let bytes = fetch(url)?;
    Jwks::from_json(&bytes).with_context(|| format!("JWKS from {url}"))
}

/// A JWKS file's bytes, reading at most one byte past the limit.
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the JWKS file {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_JWKS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the JWKS file {}", path.display()))?;
    Ok(bytes)
}

/// Where a URL points: scheme, host and port, checked against the
/// transport rule.
#[derive(PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

fn origin(url: &str) -> Result<Origin> {
    let uri: ureq::http::Uri = url
        .parse()
        .with_context(|| format!("invalid JWKS URL {url}"))?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        bail!("invalid JWKS URL {url}: no host");
    }
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
    match scheme.as_str() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            bail!("JWKS URL {url} must use https (http is accepted only on 127.0.0.1 or localhost)")
        }
    }
    Ok(Origin {
        scheme,
        host,
        port: uri.port_u16(),
    })
}

/// Fetches a JWKS document, following same-origin redirects only.
fn fetch(url: &str) -> Result<Vec<u8>> {
    let start = origin(url)?;
    let config = ureq::Agent::config_builder()
        // Redirects are followed below, after their target is checked.
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(FETCH_TIMEOUT))
        .user_agent(concat!("kiro/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let mut response = agent
            .get(&current)
            .header("Accept", "application/json")
            .call()
            .with_context(|| format!("cannot fetch the JWKS from {current}"))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("JWKS URL {current} redirects without a Location"))?;
            let next = if location.starts_with('/') && !location.starts_with("//") {
                let uri: ureq::http::Uri = current.parse()?;
                let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
                format!("{}://{authority}{location}", start.scheme)
            } else {
                location.to_owned()
            };
            if origin(&next).ok().as_ref() != Some(&start) {
                bail!("JWKS URL {current} redirects to another host ({next}); refused");
            }
            current = next;
            continue;
        }
        if !(200..300).contains(&status) {
            bail!("cannot fetch the JWKS from {current}: HTTP status {status}");
        }
        return response
            .body_mut()
            .with_config()
            .limit(MAX_JWKS_BYTES as u64)
            .read_to_vec()
            .with_context(|| {
                format!("cannot read the JWKS from {current} (at most {MAX_JWKS_BYTES} bytes)")
            });
    }
    bail!("JWKS URL {url} redirects more than {MAX_REDIRECTS} times")
}
