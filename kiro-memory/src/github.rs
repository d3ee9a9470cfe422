//! A pull request's review feedback, fetched from the GitHub REST API.
//!
//! [`GitHubClient`] reads `GET /repos/{owner}/{repo}/pulls/{n}/comments`
//! and `GET /repos/{owner}/{repo}/pulls/{n}/reviews`, 100 items a page,
//! following the `Link: <…>; rel="next"` header until the last page, and
//! parses the items with [`crate::ingest::parse_github`]. It
//! is blocking (`ureq`), so the crate needs no async runtime.
//!
//! - **Base URL**: `https://api.github.com` by default; GitHub Enterprise
//!   Server is `https://HOST/api/v3` ([`GitHubClientBuilder::base_url`]).
//! - **Token**: [`GitHubClient::from_env`] reads `GITHUB_TOKEN` (and
//!   `GITHUB_API_URL` for the base URL when set). The token
//!   goes only in the `Authorization` header of requests to the base URL's
//!   origin: a `next` link to another origin is an error, not a request
//!   that would hand the token to a stranger. [`Token`]'s `Debug` prints
//!   `***`, and no error carries it.
//! - **Headers**: `Accept: application/vnd.github+json`,
//!   `X-GitHub-Api-Version` ([`DEFAULT_API_VERSION`] unless set), a
//!   `User-Agent` (GitHub refuses requests without one).
//! - **Failures** are [`MemoryError::GitHub`] with a [`GitHubFailure`]:
//!   rate limited (403/429 with `x-ratelimit-remaining: 0` or
//!   `retry-after`), forbidden (401/403), not found (404, also what GitHub
//!   answers for a private repository without access), another status,
//!   a transport failure, or a broken pagination.
//!
//! ```no_run
//! use kiro_memory::github::{GitHubClient, PullRequest};
//!
//! let client = GitHubClient::from_env();
//! let pr: PullRequest = "rust-lang/cargo#12345".parse()?;
//! let feedback = client.feedback(&pr)?;
//! println!("{} comments and reviews", feedback.len());
//! # Ok::<(), kiro_memory::MemoryError>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::MemoryError;
use crate::ingest::{parse_github, IngestReport, Ingestor, ReviewComment};
use crate::{MemoryStore, Result};

/// The public GitHub API.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// The REST API version asked for: the one every GitHub Enterprise Server
/// release since 3.9 also serves.
pub const DEFAULT_API_VERSION: &str = "2022-11-28";

/// The most pages followed for one list: 100 pages of 100 items is more
/// review feedback than any pull request has, and a server that links
/// pages in a circle must not keep the client busy forever.
pub const MAX_PAGES: usize = 100;

/// The largest page body read, in bytes.
const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// An API token. Its `Debug` hides it; nothing in this crate displays it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token.
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A pull request: `OWNER/REPO#N`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PullRequest {
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repo: String,
    /// The pull request's number.
    pub number: u64,
}

impl fmt::Display for PullRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.owner, self.repo, self.number)
    }
}

impl FromStr for PullRequest {
    type Err = MemoryError;

    /// Parses `OWNER/REPO#N`; owner and repository names are GitHub's
    /// (ASCII letters, digits, `-`, `_`, `.`), so they are safe in a URL path.
    fn from_str(s: &str) -> Result<PullRequest> {
        let invalid = || MemoryError::GitHub {
            url: String::new(),
            failure: GitHubFailure::InvalidPullRequest(s.chars().take(80).collect()),
        };
        let (repo_path, number) = s.trim().split_once('#').ok_or_else(invalid)?;
        let (owner, repo) = repo_path.split_once('/').ok_or_else(invalid)?;
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 100
                && n != "."
                && n != ".."
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !name_ok(owner) || !name_ok(repo) {
            return Err(invalid());
        }
        let number = number
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(invalid)?;
        Ok(PullRequest {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            number,
        })
    }
}

pub use crate::error::GitHubFailure;

/// Reads review feedback from the GitHub REST API (see the [module](self)).
#[derive(Debug)]
pub struct GitHubClient {
    base: String,
    origin: String,
    token: Option<Token>,
    api_version: String,
    agent: ureq::Agent,
}

/// Configures a [`GitHubClient`].
#[derive(Debug)]
pub struct GitHubClientBuilder {
    base: String,
    token: Option<Token>,
    api_version: String,
    timeout: Duration,
}

impl GitHubClientBuilder {
    /// The API's base URL (`https://HOST/api/v3` for GitHub Enterprise Server).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> GitHubClientBuilder {
        self.base = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Authenticates with `token`.
    #[must_use]
    pub fn token(mut self, token: Token) -> GitHubClientBuilder {
        self.token = Some(token);
        self
    }

    /// Asks for this REST API version (default [`DEFAULT_API_VERSION`]).
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> GitHubClientBuilder {
        self.api_version = version.into();
        self
    }

    /// Gives up on a request after `timeout` (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> GitHubClientBuilder {
        self.timeout = timeout;
        self
    }

    /// The client.
    pub fn build(self) -> GitHubClient {
        let config = ureq::Agent::config_builder()
            // Statuses are answers to classify, not transport errors.
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .user_agent(concat!("kiro-memory/", env!("CARGO_PKG_VERSION")))
            .build();
        GitHubClient {
            origin: origin(&self.base).to_owned(),
            base: self.base,
            token: self.token,
            api_version: self.api_version,
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

impl GitHubClient {
    /// A builder for the public API, without a token.
    pub fn builder() -> GitHubClientBuilder {
        GitHubClientBuilder {
            base: DEFAULT_BASE_URL.to_owned(),
            token: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }

    /// A client configured from the environment: the token in
    /// `GITHUB_TOKEN`, if set, and the API at `GITHUB_API_URL` (which
    /// GitHub Actions sets, to the Enterprise Server's API there), else the
    /// public API.
    pub fn from_env() -> GitHubClient {
        let mut builder = GitHubClient::builder();
        if let Some(url) = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            builder = builder.base_url(url);
        }
        if let Some(token) = std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            builder = builder.token(Token::new(token.trim()));
        }
        builder.build()
    }

    /// The pull request's review comments (on lines of the diff), every page.
    pub fn review_comments(&self, pr: &PullRequest) -> Result<Vec<ReviewComment>> {
        self.list(pr, "comments")
    }

    /// The pull request's reviews that have a body, every page.
    pub fn reviews(&self, pr: &PullRequest) -> Result<Vec<ReviewComment>> {
        self.list(pr, "reviews")
    }

    /// Review comments, then reviews: everything a reviewer said.
    pub fn feedback(&self, pr: &PullRequest) -> Result<Vec<ReviewComment>> {
        let mut all = self.review_comments(pr)?;
        all.extend(self.reviews(pr)?);
        Ok(all)
    }

    /// Fetches the pull request's [feedback](GitHubClient::feedback) and
    /// ingests it into `store` with `ingestor`: what
    /// `kiro memory ingest --github OWNER/REPO#N` does.
    pub fn ingest(
        &self,
        pr: &PullRequest,
        ingestor: &Ingestor,
        store: &MemoryStore,
    ) -> Result<IngestReport> {
        let feedback = self.feedback(pr)?;
        ingestor.ingest(store, &feedback)
    }

    /// Every page of `/repos/{owner}/{repo}/pulls/{n}/{what}`.
    fn list(&self, pr: &PullRequest, what: &str) -> Result<Vec<ReviewComment>> {
        let first = format!(
            "{}/repos/{}/{}/pulls/{}/{what}?per_page=100",
            self.base, pr.owner, pr.repo, pr.number
        );
        let mut url = first;
        let mut seen: Vec<String> = Vec::new();
        let mut items = Vec::new();
        loop {
            if seen.len() >= MAX_PAGES {
                return Err(self.fail(
                    &url,
                    GitHubFailure::Pagination(format!("more than {MAX_PAGES} pages")),
                ));
            }
            let (body, next) = self.page(&url)?;
            let parsed = parse_github(&url, &body)
                .map_err(|e| self.fail(&url, GitHubFailure::Body(e.to_string())))?;
            items.extend(parsed.comments);
            seen.push(url.clone());
            match next {
                None => return Ok(items),
                Some(next) => {
                    if origin(&next) != self.origin {
                        return Err(self.fail(
                            &url,
                            GitHubFailure::Pagination(format!(
                                "next page {next:?} is not on {}",
                                self.origin
                            )),
                        ));
                    }
                    if seen.contains(&next) {
                        return Err(self.fail(
                            &url,
                            GitHubFailure::Pagination(format!(
                                "next page {next:?} was already read"
                            )),
                        ));
                    }
                    url = next;
                }
            }
        }
    }

    /// One page: its body and its `next` link.
    fn page(&self, url: &str) -> Result<(String, Option<String>)> {
        let mut request = self
            .agent
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", &self.api_version);
        if let Some(Token(token)) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut response = request
            .call()
            .map_err(|e| self.fail(url, GitHubFailure::Transport(e.to_string())))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let next = header("link").as_deref().and_then(next_link);
        let remaining = header("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse().ok());
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_string()
            .map_err(|e| self.fail(url, GitHubFailure::Transport(e.to_string())))?;
        let failure = match status {
            200..=299 => return Ok((body, next)),
            403 | 429
                if status == 429 || remaining.as_deref() == Some("0") || retry_after.is_some() =>
            {
                GitHubFailure::RateLimited { reset, retry_after }
            }
            401 | 403 => GitHubFailure::Forbidden {
                status,
                message: api_message(&body),
            },
            404 => GitHubFailure::NotFound,
            _ => GitHubFailure::Status {
                status,
                message: api_message(&body),
            },
        };
        Err(self.fail(url, failure))
    }

    fn fail(&self, url: &str, failure: GitHubFailure) -> MemoryError {
        MemoryError::GitHub {
            url: url.to_owned(),
            failure,
        }
    }
}

/// The `rel="next"` target of a `Link` header
/// (`<https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            p.trim().strip_prefix("rel=").is_some_and(|rel| {
                rel.trim_matches('"')
                    .split_whitespace()
                    .any(|r| r == "next")
            })
        });
        is_next.then(|| target.to_owned())
    })
}

/// GitHub's `{"message": …}` or the body, cut to 200 printable characters.
fn api_message(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    message
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}
