//! The GitHub client against a local server that answers like the REST
//! API: pages linked with `Link` headers, statuses for rate limits,
//! missing access and missing pull requests.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use kiro_memory::github::{next_link, GitHubClient, GitHubFailure, PullRequest, Token};
use kiro_memory::ingest::Ingestor;
use kiro_memory::{ListFilter, MemoryError, MemoryStore};
use serde_json::json;

/// One request the server saw: its target and its headers (names lower-cased).
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, String);

/// Serves `answer(target, base)` on 127.0.0.1 until the test ends; returns
/// the base URL and the requests seen.
fn serve(
    answer: impl Fn(&str, &str) -> Answer + Send + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, origin) = (seen.clone(), base.clone());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            handle(stream, &origin, &answer, &log);
        }
    });
    (base, seen)
}

fn handle(
    mut stream: TcpStream,
    origin: &str,
    answer: &impl Fn(&str, &str) -> Answer,
    log: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
        }
    }
    log.lock().unwrap().push(Seen {
        target: target.clone(),
        headers,
    });
    let (status, extra, body) = answer(&target, origin);
    let mut response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in extra {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    stream.write_all(response.as_bytes()).unwrap();
}

/// A review comment as the API returns it.
fn comment(id: u64, path: &str, body: &str) -> serde_json::Value {
    json!({
        "url": format!("https://api.github.com/repos/acme/ledger/pulls/comments/{id}"),
        "pull_request_review_id": 7000,
        "id": id,
        "node_id": format!("PRRC_{id}"),
        "diff_hunk": "@@ -1,4 +1,5 @@",
        "path": path,
        "position": 3,
        "original_position": 3,
        "commit_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "original_commit_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "user": {"login": "priya-n", "id": 7, "type": "User"},
        "body": body,
        "created_at": "2024-05-02T10:00:00Z",
        "updated_at": "2024-05-02T10:00:00Z",
        "html_url": format!("https://github.com/acme/ledger/pull/42#discussion_r{id}"),
        "pull_request_url": "https://api.github.com/repos/acme/ledger/pulls/42",
        "author_association": "MEMBER",
        "start_line": null,
        "line": 10,
        "original_line": 10,
        "side": "RIGHT"
    })
}

/// The `Link` header GitHub sends for page `page` of `last` (links use the
/// `/repositories/{id}` form, as GitHub's do).
fn link(origin: &str, what: &str, page: u32, last: u32) -> String {
    let url = |p: u32| {
        format!("<{origin}/api/v3/repositories/1296269/pulls/42/{what}?per_page=100&page={p}>")
    };
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    parts.join(", ")
}

/// Three pages of review comments and one page of reviews.
fn github(target: &str, origin: &str) -> Answer {
    let page = target
        .split("&page=")
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1);
    if target.contains("/pulls/42/comments") {
        let body = match page {
            1 => json!([
                comment(
                    1,
                    "src/db/pool.rs",
                    "Never hold a pool connection across an `.await`."
                ),
                comment(2, "src/db/pool.rs", "LGTM")
            ]),
            2 => json!([comment(
                3,
                "src/api/handlers.rs",
                "Don't `unwrap()` on request input."
            )]),
            _ => json!([comment(
                4,
                "src/error.rs",
                "Prefer `thiserror` over `anyhow` in the library."
            )]),
        };
        let headers = vec![("link".to_owned(), link(origin, "comments", page, 3))];
        return (200, headers, body.to_string());
    }
    if target.contains("/pulls/42/reviews") {
        let body = json!([
            {"id": 80, "user": {"login": "dtanaka"}, "body": "Keep pull requests small.", "state": "CHANGES_REQUESTED",
             "html_url": "https://github.com/acme/ledger/pull/42#pullrequestreview-80",
             "pull_request_url": "https://api.github.com/repos/acme/ledger/pulls/42",
             "submitted_at": "2024-05-02T11:00:00Z", "commit_id": "0f1e2d3c"},
            {"id": 81, "user": {"login": "eli-w"}, "body": "", "state": "APPROVED", "submitted_at": "2024-05-03T11:00:00Z"}
        ]);
        return (200, Vec::new(), body.to_string());
    }
    (404, Vec::new(), json!({"message": "Not Found"}).to_string())
}

fn client(base: &str) -> GitHubClient {
    GitHubClient::builder()
        .base_url(format!("{base}/api/v3/"))
        .token(Token::new("ghp_secret123"))
        .build()
}

fn pr(text: &str) -> PullRequest {
    text.parse().unwrap()
}

#[test]
fn follows_pages_and_sends_the_api_headers() {
    let (base, seen) = serve(github);
    let feedback = client(&base).feedback(&pr("acme/ledger#42")).unwrap();
    let ids: Vec<Option<u64>> = feedback.iter().map(|c| c.id).collect();
    assert_eq!(ids, [Some(1), Some(2), Some(3), Some(4), Some(80)]);
    assert_eq!(feedback[2].path.as_deref(), Some("src/api/handlers.rs"));
    assert_eq!(
        feedback[4].review_state.as_deref(),
        Some("CHANGES_REQUESTED")
    );

    let seen = seen.lock().unwrap().clone();
    let targets: Vec<&str> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v3/repos/acme/ledger/pulls/42/comments?per_page=100",
            "/api/v3/repositories/1296269/pulls/42/comments?per_page=100&page=2",
            "/api/v3/repositories/1296269/pulls/42/comments?per_page=100&page=3",
            "/api/v3/repos/acme/ledger/pulls/42/reviews?per_page=100",
        ]
    );
    for request in &seen {
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert_eq!(
            request.header("authorization"),
            Some("Bearer ghp_secret123")
        );
        assert!(request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("kiro-memory/")));
    }
}

#[test]
fn a_pull_request_is_ingested_into_a_store() {
    let (base, _) = serve(github);
    let store = MemoryStore::open_in_memory().unwrap();
    let ingestor = Ingestor::builder().repository("ledger").build();
    let report = client(&base)
        .ingest(&pr("acme/ledger#42"), &ingestor, &store)
        .unwrap();
    // Comments 1, 3 and 4 and review 80 teach; comment 2 is "LGTM".
    assert_eq!((report.stored(), report.chatter()), (4, 1));
    let scopes: Vec<String> = store
        .list(&ListFilter::new())
        .unwrap()
        .into_iter()
        .map(|m| m.scope.to_string())
        .collect();
    assert_eq!(
        scopes,
        [
            "path:src/db/**",
            "path:src/api/**",
            "path:src/**",
            "repository:ledger"
        ]
    );
}

#[test]
fn without_a_token_no_authorization_is_sent() {
    let (base, seen) = serve(github);
    let client = GitHubClient::builder()
        .base_url(format!("{base}/api/v3"))
        .api_version("2026-03-10")
        .build();
    client.reviews(&pr("acme/ledger#42")).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(seen[0].header("x-github-api-version"), Some("2026-03-10"));
}

/// The failure of a request the server answers with `status` and `headers`.
fn failure(status: u16, headers: &[(&str, &str)], body: &str) -> GitHubFailure {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let body = body.to_owned();
    let (base, _) = serve(move |_, _| (status, headers.clone(), body.clone()));
    match client(&base).review_comments(&pr("acme/ledger#42")) {
        Err(MemoryError::GitHub { failure, url }) => {
            assert!(url.starts_with(&base), "{url}");
            failure
        }
        other => panic!("expected a GitHub error, got {other:?}"),
    }
}

#[test]
fn statuses_are_typed_failures() {
    let limited = r#"{"message": "API rate limit exceeded for user ID 7."}"#;
    assert_eq!(
        failure(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1714650000")
            ],
            limited
        ),
        GitHubFailure::RateLimited {
            reset: Some(1_714_650_000),
            retry_after: None
        }
    );
    assert_eq!(
        failure(429, &[("retry-after", "60")], limited),
        GitHubFailure::RateLimited {
            reset: None,
            retry_after: Some(60)
        }
    );
    assert_eq!(
        failure(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message": "Resource not accessible by integration"}"#
        ),
        GitHubFailure::Forbidden {
            status: 403,
            message: "Resource not accessible by integration".into()
        }
    );
    assert_eq!(
        failure(401, &[], r#"{"message": "Bad credentials"}"#),
        GitHubFailure::Forbidden {
            status: 401,
            message: "Bad credentials".into()
        }
    );
    assert_eq!(
        failure(404, &[], r#"{"message": "Not Found"}"#),
        GitHubFailure::NotFound
    );
    assert_eq!(
        failure(502, &[], "<html>bad gateway</html>"),
        GitHubFailure::Status {
            status: 502,
            message: "<html>bad gateway</html>".into()
        }
    );
    assert!(matches!(
        failure(200, &[], "{not json"),
        GitHubFailure::Body(_)
    ));
}

#[test]
fn a_next_link_to_another_origin_is_not_followed() {
    // A second server stands for the stranger: it must see no request.
    let (stranger, stranger_seen) = serve(|_, _| (200, Vec::new(), "[]".to_owned()));
    let next = format!("<{stranger}/steal?page=2>; rel=\"next\"");
    let (base, _) = serve(move |_, _| {
        (
            200,
            vec![("link".to_owned(), next.clone())],
            "[]".to_owned(),
        )
    });
    let err = client(&base)
        .review_comments(&pr("acme/ledger#42"))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            MemoryError::GitHub {
                failure: GitHubFailure::Pagination(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(stranger_seen.lock().unwrap().is_empty());
}

#[test]
fn a_page_loop_ends_in_an_error() {
    let (base, seen) = serve(|target, origin| {
        let next = format!("<{origin}{target}>; rel=\"next\"");
        (200, vec![("link".to_owned(), next)], "[]".to_owned())
    });
    let err = client(&base)
        .review_comments(&pr("acme/ledger#42"))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            MemoryError::GitHub {
                failure: GitHubFailure::Pagination(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn the_token_is_never_shown() {
    let (base, _) = serve(|_, _| {
        (
            401,
            Vec::new(),
            r#"{"message": "Bad credentials"}"#.to_owned(),
        )
    });
    let client = client(&base);
    assert!(
        !format!("{client:?}").contains("ghp_secret123"),
        "{client:?}"
    );
    let err = client.reviews(&pr("acme/ledger#42")).unwrap_err();
    assert!(!err.to_string().contains("ghp_secret123"), "{err}");
    assert!(!format!("{err:?}").contains("ghp_secret123"), "{err:?}");
}

#[test]
fn pull_request_references() {
    let parsed: PullRequest = "rust-lang/cargo#12345".parse().unwrap();
    assert_eq!(
        (parsed.owner.as_str(), parsed.repo.as_str(), parsed.number),
        ("rust-lang", "cargo", 12345)
    );
    assert_eq!(parsed.to_string(), "rust-lang/cargo#12345");
    for bad in [
        "cargo#1",
        "rust-lang/cargo",
        "a/b#0",
        "a/b#x",
        "../b#1",
        "a/b c#1",
        "a/b/c#1",
        "a/b#1?x=1",
    ] {
        assert!(bad.parse::<PullRequest>().is_err(), "{bad}");
    }
}

#[test]
fn link_headers() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            r#"<https://api.github.com/repositories/1/pulls/2/comments?page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/comments?page=5>; rel="last""#,
            Some("https://api.github.com/repositories/1/pulls/2/comments?page=2"),
        ),
        (
            r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#,
            None,
        ),
        (
            r#"<https://x/?page=3>; rel=next"#,
            Some("https://x/?page=3"),
        ),
        ("", None),
        ("garbage", None),
    ];
    for (header, expected) in cases {
        assert_eq!(next_link(header).as_deref(), *expected, "{header}");
    }
}
