//! An HTTP endpoint: `POST <base>/<op>` with the input as JSON body.

use std::time::Duration;

use serde_json::Value;

use super::{shorten, Reply, Target, TargetError};

/// How much of a response body an error quotes.
const BODY_QUOTE: usize = 500;

/// An HTTP endpoint: each call is `POST <base>/<op>` with the input as the
/// JSON body (`Content-Type: application/json`).
///
/// A 2xx answer is [`Reply::Ok`] with the body parsed as JSON (an empty
/// body is `null`); a 4xx answer is [`Reply::Error`] with the body's
/// `"error"` string when it is a JSON object holding one, else the body
/// text; a 5xx answer, a connection failure or a timeout is a
/// [`TargetError`]. Connections are kept alive between calls. Plain
/// `http://` only: the client is built without TLS, as the services a
/// property run exercises are local.
///
/// ```no_run
/// use kiro_proptest::target::{HttpTarget, Target};
/// let service = HttpTarget::new("http://127.0.0.1:8080/api");
/// let reply = service.call("normalize", &serde_json::json!("  a  b "))?;
/// # Ok::<(), kiro_proptest::target::TargetError>(())
/// ```
pub struct HttpTarget {
    base: String,
    agent: ureq::Agent,
}

impl HttpTarget {
    /// A target posting to `<base>/<op>`; 10 s per request.
    pub fn new(base: impl Into<String>) -> HttpTarget {
        HttpTarget::with_timeout(base, Duration::from_secs(10))
    }

    /// A target whose requests time out after `timeout` (connection,
    /// request and response together).
    pub fn with_timeout(base: impl Into<String>, timeout: Duration) -> HttpTarget {
        let config = ureq::Agent::config_builder()
            // 4xx and 5xx are answers to classify, not transport errors.
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        HttpTarget {
            base: base.into().trim_end_matches('/').to_owned(),
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Target for HttpTarget {
    fn call(&self, op: &str, input: &Value) -> Result<Reply, TargetError> {
        let url = format!("{}/{}", self.base, op);
        let http = |message: String| TargetError::Http {
            url: url.clone(),
            message,
        };
        let body = serde_json::to_vec(input).map_err(|e| TargetError::Io(e.into()))?;
        let mut response = self
            .agent
            .post(&url)
            .content_type("application/json")
            .send(&body[..])
            .map_err(|e| http(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| http(e.to_string()))?;
        match status {
            200..=299 if text.trim().is_empty() => Ok(Reply::Ok(Value::Null)),
            200..=299 => {
                serde_json::from_str(&text)
                    .map(Reply::Ok)
                    .map_err(|_| TargetError::Protocol {
                        reason: format!(
                            "POST {url} answered {status} with a body that is not JSON"
                        ),
                        answer: shorten(&text, BODY_QUOTE),
                    })
            }
            400..=499 => Ok(Reply::Error(error_message(&text, status))),
            _ => Err(TargetError::HttpStatus {
                url,
                status,
                body: shorten(&text, BODY_QUOTE),
            }),
        }
    }
}

/// The message of a 4xx answer: `{"error": "<message>"}`'s message, else
/// the body, else the status.
fn error_message(body: &str, status: u16) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) {
        if let Some(Value::String(message)) = map.get("error") {
            return message.clone();
        }
    }
    match body.trim() {
        "" => format!("HTTP {status}"),
        text => shorten(text, BODY_QUOTE),
    }
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}
