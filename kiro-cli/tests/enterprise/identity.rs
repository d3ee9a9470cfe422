//! Verified identity and audit anchoring through the real `kiro` binary:
//! `kiro approve --id-token` against a JWKS served on 127.0.0.1 by the
//! test, the JWKS URL rules, `kiro audit verify --jwks` re-checking the
//! tokens of approvals offline, and `kiro audit verify --against-git`
//! catching a log rewritten with a valid chain.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use kiro_core::audit::{AuditKind, AuditLog, NewEntry};
use serde_json::{json, Value};

use crate::common::{expect_code, kiro_cmd, stderr, stdout};
use crate::oidc::{self, AUDIENCE, EC_KID, ISSUER, RSA_KID};

const TASKS: &str = "# Implementation Plan

- [ ] 1. Store notes
";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Serves `jwks` at `/jwks` on 127.0.0.1 for the rest of the test binary,
/// plus `/same` (a redirect to `/jwks`) and `/elsewhere` (a redirect to
/// the same server under another host name). Returns the base URL.
fn serve_jwks(jwks: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap_or_default();
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let response = match path {
                "/jwks" => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{jwks}",
                    jwks.len()
                ),
                "/same" => "HTTP/1.1 302 Found\r\nLocation: /jwks\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                "/elsewhere" => format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/jwks\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A workspace with spec `notes` and a policy whose `tasks` gate the
/// `lead` role (alice by email) approves, with ID tokens verified against
/// `jwks_line` (`jwks_url = ...` or `jwks_file = ...`).
fn workspace(jwks_line: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("tasks.md"), TASKS).unwrap();
    std::fs::write(
        dir.path().join(".kiro/policy.toml"),
        format!(
            "[identity]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n{jwks_line}\n\n\
             [roles]\nlead = [\"alice@example.com\"]\n\n[gates]\ntasks = [\"lead\"]\n"
        ),
    )
    .unwrap();
    dir
}

/// `kiro approve notes tasks --id-token <file holding token>`.
fn approve_with(root: &Path, token: &str) -> Output {
    let file = root.join("token.jwt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    kiro_cmd(
        root,
        &["approve", "notes", "tasks", "--id-token", "token.jwt"],
    )
    .env_remove("KIRO_ACTOR")
    .output()
    .unwrap()
}

fn with(changes: Value) -> Value {
    let mut claims = oidc::claims(now());
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

#[test]
fn approve_accepts_a_valid_token_and_refuses_every_forgery() {
    let base = serve_jwks(oidc::jwks());
    let dir = workspace(&format!("jwks_url = \"{base}/jwks\""));
    let root = dir.path();
    for token in [
        oidc::rs256(Some(RSA_KID), &oidc::claims(now())),
        oidc::es256(Some(EC_KID), &oidc::claims(now())),
    ] {
        let out = approve_with(root, &token);
        expect_code(&out, 0);
        assert!(
            stdout(&out).contains("alice@example.com"),
            "{}",
            stdout(&out)
        );
    }
    let es = |claims: &Value| oidc::es256(Some(EC_KID), claims);
    let forgeries = [
        (
            "bad signature",
            oidc::flip_signature_byte(&oidc::rs256(Some(RSA_KID), &oidc::claims(now()))),
            "bad signature",
        ),
        (
            "alg none",
            oidc::unsigned(&oidc::claims(now())),
            "algorithm `none`",
        ),
        (
            "HS256 key confusion",
            oidc::hs256_with_public_key(&oidc::claims(now())),
            "algorithm `HS256`",
        ),
        (
            "expired",
            es(&with(json!({ "exp": now() - 3600 }))),
            "expired",
        ),
        (
            "not yet valid",
            es(&with(json!({ "nbf": now() + 3600 }))),
            "not yet valid",
        ),
        (
            "wrong issuer",
            es(&with(json!({ "iss": "https://evil.test" }))),
            "wrong issuer",
        ),
        (
            "wrong audience",
            es(&with(json!({ "aud": "other" }))),
            "wrong audience",
        ),
        (
            "unknown kid",
            oidc::es256_with(
                oidc::ec_key(),
                json!({ "kid": "gone" }),
                &oidc::claims(now()),
            ),
            "no key in the JWKS for kid `gone`",
        ),
        (
            "signed by another key",
            oidc::es256_with(
                oidc::other_ec_key(),
                json!({ "kid": EC_KID }),
                &oidc::claims(now()),
            ),
            "bad signature",
        ),
    ];
    for (name, token, message) in forgeries {
        let out = approve_with(root, &token);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains(message), "{name}: {err}");
        assert!(!err.contains(&token), "{name}: the token is printed: {err}");
    }
    // Both accepted approvals keep tokens that re-verify offline, here
    // with the keys fetched again from the policy's URL.
    let out = kiro_cmd(root, &["audit", "verify", "--jwks"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("2 token-backed approvals re-verified"),
        "{}",
        stdout(&out)
    );
    // Against another provider's keys (same kids, other keys) the
    // approvals no longer verify: the log is broken at the first one.
    let mut other = oidc::ec_jwk();
    let point = oidc::other_ec_key().verifying_key().to_sec1_point(false);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    other["x"] = json!(b64.encode(&point.as_bytes()[1..33]));
    other["y"] = json!(b64.encode(&point.as_bytes()[33..65]));
    let mut other_rsa = oidc::rsa_jwk();
    other_rsa["kid"] = json!("unrelated");
    std::fs::write(
        root.join("other-jwks.json"),
        json!({ "keys": [other, other_rsa] }).to_string(),
    )
    .unwrap();
    let out = kiro_cmd(root, &["audit", "verify", "--jwks", "other-jwks.json"])
        .output()
        .unwrap();
    expect_code(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("approval identity rejected: the ID token no longer verifies"),
        "{text}"
    );
    assert!(text.contains("audit.jsonl:"), "{text}");
}

#[test]
fn the_jwks_url_must_be_https_or_loopback_and_redirect_only_to_itself() {
    let base = serve_jwks(oidc::jwks());
    let token = oidc::es256(Some(EC_KID), &oidc::claims(now()));
    let cases = [
        (format!("{base}/same"), 0, ""),
        (format!("{base}/elsewhere"), 2, "redirects to another host"),
        (format!("{base}/missing"), 2, "HTTP status 404"),
        (
            "http://example.invalid/jwks".to_owned(),
            2,
            "must use https",
        ),
    ];
    for (url, code, message) in cases {
        let dir = workspace(&format!("jwks_url = \"{url}\""));
        let out = approve_with(dir.path(), &token);
        expect_code(&out, code);
        assert!(stderr(&out).contains(message), "{url}: {}", stderr(&out));
        if code == 2 {
            assert!(
                stderr(&out).contains(&url),
                "the error names the URL: {}",
                stderr(&out)
            );
        }
    }
}

/// `git <args>` in `root`, without the user's configuration.
fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Kiro Test",
            "-c",
            "user.email=test@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn append(log: &AuditLog, texts: &[&str]) {
    for text in texts {
        log.append(
            NewEntry::new(AuditKind::Other("note".into()))
                .with_actor("ci")
                .with_data(json!({ "text": text })),
        )
        .unwrap();
    }
}

/// Commits on `kiro/notes` with the log's head as the trailer, as a run's
/// per-task commit does.
fn commit_head(root: &Path, log: &AuditLog, task: &str) {
    let head = log.head().unwrap();
    git(
        root,
        &[
            "commit",
            "--allow-empty",
            "-m",
            &format!(
                "{task} Task {task}\n\nKiro-Spec: notes\nKiro-Task: {task}\nKiro-Audit-Head: {}:{}",
                head.seq, head.line_hash
            ),
        ],
    );
}

#[test]
fn audit_verify_against_git_catches_a_log_rewritten_with_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".kiro/specs/notes")).unwrap();
    std::fs::write(root.join(".kiro/specs/notes/tasks.md"), TASKS).unwrap();
    std::fs::write(root.join(".gitignore"), ".kiro/\n").unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", ".gitignore"]);
    git(root, &["commit", "-q", "-m", "init"]);
    let verify = || {
        kiro_cmd(root, &["audit", "verify", "--against-git"])
            .output()
            .unwrap()
    };
    // No kiro/* branch yet: nothing anchors the log, which is a failure of
    // the check asked for, not a pass.
    let log = AuditLog::open(root).unwrap();
    append(&log, &["planned"]);
    let out = verify();
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("no Kiro-Audit-Head trailer"),
        "{}",
        stdout(&out)
    );

    git(root, &["switch", "-q", "-c", "kiro/notes"]);
    append(&log, &["task 1 done"]);
    commit_head(root, &log, "1");
    append(&log, &["task 2 done", "verified"]);
    commit_head(root, &log, "2");
    append(&log, &["after the last commit"]);
    git(root, &["switch", "-q", "main"]);

    let out = verify();
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("holds all 2 heads anchored in git commits"),
        "{}",
        stdout(&out)
    );

    // Rewrite the log wholesale with kiro's own API: a valid chain and
    // fresh recorded heads, so plain verification passes.
    std::fs::remove_file(log.path()).unwrap();
    std::fs::remove_dir_all(root.join(".kiro/runs")).unwrap();
    let forged = AuditLog::open(root).unwrap();
    append(
        &forged,
        &[
            "planned",
            "task 1 done",
            "task 2 skipped",
            "verified",
            "after",
        ],
    );
    let out = kiro_cmd(root, &["audit", "verify"]).output().unwrap();
    expect_code(&out, 0);

    let out = verify();
    expect_code(&out, 1);
    let text = stdout(&out);
    let first_commit = git(root, &["rev-parse", "kiro/notes~1"]);
    assert!(
        text.contains("audit.jsonl:2: contradicts Kiro-Audit-Head 2:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("main@{}", &first_commit[..12])),
        "{text}"
    );

    // JSON names the same anchor.
    let out = kiro_cmd(
        root,
        &["audit", "verify", "--against-git", "--format", "json"],
    )
    .output()
    .unwrap();
    expect_code(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["git"]["contradicted"]["head"]["seq"], 2);
    assert_eq!(
        report["git"]["report"]["problem"]["problem"],
        "anchor_mismatch"
    );
    assert_eq!(report["chain"]["status"], "intact");
}

/// Every `audit-heads.jsonl` under `dir`.
fn remove_recorded_heads(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            remove_recorded_heads(&path);
        } else if path.file_name().is_some_and(|n| n == "audit-heads.jsonl") {
            std::fs::remove_file(path).unwrap();
        }
    }
}

#[test]
fn the_heads_a_run_commits_anchor_its_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = root.join(".kiro/specs/notes");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(
        spec.join("requirements.md"),
        "# Requirements Document\n\n## Requirements\n\n### Requirement 1\n\n\
         **User Story:** As a user, I want notes, so that I remember things.\n\n\
         #### Acceptance Criteria\n\n\
         1. WHEN a user saves a note, THE Notes_App SHALL store the note.\n",
    )
    .unwrap();
    std::fs::write(
        spec.join("tasks.md"),
        "# Implementation Plan\n\n- [ ] 1. Store notes\n  - _Requirements: 1.1_\n\
         - [ ] 2. List notes\n  - _Requirements: 1.1_\n",
    )
    .unwrap();
    std::fs::write(
        root.join(".kiro/config.toml"),
        "[executor]\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n",
    )
    .unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "spec"]);
    let out = kiro_cmd(root, &["run", "notes", "--yes"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Kiro Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Kiro Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap();
    expect_code(&out, 0);
    let trailers = git(
        root,
        &[
            "log",
            "--format=%(trailers:key=Kiro-Audit-Head)",
            "kiro/notes",
        ],
    );
    assert!(trailers.contains("Kiro-Audit-Head: "), "{trailers}");

    let against_git = || {
        kiro_cmd(root, &["audit", "verify", "--against-git"])
            .output()
            .unwrap()
    };
    let out = against_git();
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("heads anchored in git commits"),
        "{}",
        stdout(&out)
    );

    // Rewrite the whole log and drop the recorded heads beside it.
    let log = AuditLog::open(root).unwrap();
    let entries = log.entries().unwrap().len();
    std::fs::remove_file(log.path()).unwrap();
    remove_recorded_heads(&root.join(".kiro/runs"));
    let texts: Vec<String> = (0..entries)
        .map(|i| format!("nothing happened {i}"))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    append(&AuditLog::open(root).unwrap(), &texts);
    expect_code(&kiro_cmd(root, &["audit", "verify"]).output().unwrap(), 0);
    let out = against_git();
    expect_code(&out, 1);
    assert!(
        stdout(&out).contains("contradicts Kiro-Audit-Head"),
        "{}",
        stdout(&out)
    );
}
