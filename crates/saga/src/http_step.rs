//! A step (or compensation) that calls a participant over HTTP: a templated request, a
//! success check, and a classification of failures into retryable and permanent.
//!
//! Every request carries `Idempotency-Key: {cx.idempotency_key}` (the same for every
//! attempt of the step in one phase, so the participant can make repeats harmless) and the
//! step span's W3C trace headers (`traceparent`, `tracestate`), plus
//! `content-type: application/json` when there is a body.
//!
//! Failures: connection errors, timeouts, 5xx, 408 and 429 are [`StepError::Retryable`];
//! other statuses outside the accepted set, a failed JSON-pointer check, a template with
//! no value and a URL that does not parse are [`StepError::Permanent`].
//!
//! No per-request timeout is set: the orchestrator bounds each attempt with the step's
//! timeout. The client only has a connect timeout. Plain `http` only: the crate builds
//! reqwest without TLS (participants are reached directly or through the sidecar).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::step::{StepAction, StepContext, StepError};
use crate::template::{BodyTemplate, Scope, Template};

/// How long to wait for a TCP connection before counting the attempt as retryable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a response body quoted in an error message.
const EXCERPT_CHARS: usize = 200;

/// Whether this build can call `https` URLs.
pub const HTTPS_SUPPORTED: bool = false;

/// Headers the step sets itself; a definition may not set them.
pub const RESERVED_HEADERS: [&str; 3] = ["idempotency-key", "traceparent", "tracestate"];

/// The methods an HTTP step may use.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// A client for HTTP steps: one per loaded definition file, shared by all its steps.
pub fn build_client() -> Result<Client, reqwest::Error> {
    Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        // A redirect would turn a POST into a GET and hide where the effect happened; a
        // step names the participant's real URL, so a 3xx is an error like any other.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// When a response counts as success.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuccessCriteria {
    /// Accepted status codes; empty means any 2xx.
    pub status: Vec<u16>,
    /// A JSON pointer (RFC 6901, `/a/0/b`) into the output that must be present, and
    /// equal `equals` when that is given.
    pub json_pointer: Option<String>,
    pub equals: Option<Value>,
}

impl SuccessCriteria {
    fn accepts(&self, status: StatusCode) -> bool {
        if self.status.is_empty() {
            status.is_success()
        } else {
            self.status.contains(&status.as_u16())
        }
    }

    /// `None` when the output passes the pointer check; else why not.
    fn check_output(&self, output: &Value) -> Option<String> {
        let pointer = self.json_pointer.as_deref()?;
        match (output.pointer(pointer), &self.equals) {
            (None, _) => Some(format!("response has no value at {pointer}")),
            (Some(found), Some(expected)) if !json_equal(found, expected) => Some(format!(
                "response {pointer} is {found}, expected {expected}"
            )),
            _ => None,
        }
    }
}

/// Equality where numbers compare by value (TOML `1` equals JSON `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

/// An HTTP call as a [`StepAction`].
pub struct HttpStep {
    client: Client,
    method: Method,
    url: Template,
    headers: Vec<(HeaderName, Template)>,
    body: Option<BodyTemplate>,
    success: SuccessCriteria,
}

impl fmt::Debug for HttpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's Debug is noise; the request shape is what identifies the step.
        f.debug_struct("HttpStep")
            .field("method", &self.method)
            .field("url", &self.url.source())
            .field("headers", &self.headers)
            .field("body", &self.body.is_some())
            .field("success", &self.success)
            .finish()
    }
}

impl HttpStep {
    /// A request with no body, no extra headers, accepting any 2xx.
    pub fn new(client: Client, method: Method, url: Template) -> Self {
        HttpStep {
            client,
            method,
            url,
            headers: Vec::new(),
            body: None,
            success: SuccessCriteria::default(),
        }
    }

    pub fn header(mut self, name: HeaderName, value: Template) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn body(mut self, body: BodyTemplate) -> Self {
        self.body = Some(body);
        self
    }

    pub fn success(mut self, success: SuccessCriteria) -> Self {
        self.success = success;
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn url(&self) -> &Template {
        &self.url
    }

    /// The request this attempt sends: URL, headers and body, rendered.
    fn render(&self, cx: &StepContext) -> Result<(Url, HeaderMap, Option<Vec<u8>>), StepError> {
        let scope = Scope::from_context(cx);
        let rendered = |e: crate::template::RenderError| StepError::permanent(e.to_string());

        let url_text = self.url.render_string(&scope).map_err(rendered)?;
        let url = Url::parse(&url_text)
            .map_err(|e| StepError::permanent(format!("url {url_text:?} does not parse: {e}")))?;
        match url.scheme() {
            "http" => {}
            "https" if HTTPS_SUPPORTED => {}
            other => {
                return Err(StepError::permanent(format!(
                    "url {url_text:?}: scheme {other:?} is not supported (http only)"
                )));
            }
        }

        let mut headers = HeaderMap::new();
        for (name, template) in &self.headers {
            let text = template.render_string(&scope).map_err(rendered)?;
            let value = HeaderValue::from_str(&text).map_err(|_| {
                StepError::permanent(format!("header {name}: {text:?} is not a valid value"))
            })?;
            headers.insert(name.clone(), value);
        }
        for (name, value) in &cx.trace_headers {
            // The propagator's output is well-formed; a bad entry is dropped rather than
            // failing a business step over telemetry.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let key = HeaderValue::from_str(&cx.idempotency_key).map_err(|_| {
            StepError::permanent(format!(
                "idempotency key {:?} is not a valid header value",
                cx.idempotency_key
            ))
        })?;
        headers.insert(HeaderName::from_static("idempotency-key"), key);

        let body = match &self.body {
            None => None,
            Some(template) => {
                let value = template.render(&scope).map_err(rendered)?;
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                // Serialising a `Value` cannot fail (its keys are strings).
                Some(serde_json::to_vec(&value).unwrap_or_default())
            }
        };
        Ok((url, headers, body))
    }
}

#[async_trait]
impl StepAction for HttpStep {
    async fn run(&self, cx: StepContext) -> Result<Value, StepError> {
        let (url, headers, body) = self.render(&cx)?;
        let target = format!("{} {}", self.method, url);
        let mut request = self
            .client
            .request(self.method.clone(), url)
            .headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| classify_send_error(&target, &e))?;

        let status = response.status();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_none_or(|value| value.to_ascii_lowercase().contains("json"));
        let bytes = response.bytes().await.map_err(|e| {
            // The participant answered but the body broke off: it may have acted, and
            // the idempotency key makes a repeat safe.
            StepError::retryable(format!("{target}: reading the {status} response: {e}"))
        })?;

        if !self.success.accepts(status) {
            let message = format!("{target}: status {status}: {}", excerpt(&bytes));
            return Err(if is_retryable_status(status) {
                StepError::Retryable(message)
            } else {
                StepError::Permanent(message)
            });
        }

        let parsed = if is_json && !bytes.is_empty() {
            serde_json::from_slice::<Value>(&bytes).ok()
        } else {
            None
        };
        let output = parsed.unwrap_or_else(
            || json!({"status": status.as_u16(), "body": String::from_utf8_lossy(&bytes)}),
        );
        if let Some(reason) = self.success.check_output(&output) {
            // The participant answered and said no: asking again gets the same answer.
            return Err(StepError::Permanent(format!("{target}: {reason}")));
        }
        Ok(output)
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn classify_send_error(target: &str, error: &reqwest::Error) -> StepError {
    // The error's own Display repeats the URL; the chain below it has the cause.
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_builder() {
        StepError::Permanent(format!("{target}: {reason}"))
    } else {
        // Connection refused or reset, connect timeout, a dropped request: the
        // participant may come back, and a repeat is harmless thanks to the key.
        StepError::Retryable(format!("{target}: {reason}"))
    }
}

/// The start of a body for an error message, on one line.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt(b"  bad\n request "), "bad request");
        assert_eq!(excerpt(b""), "(empty body)");
        let long = "é".repeat(500);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn pointer_checks_compare_numbers_by_value() {
        let criteria = SuccessCriteria {
            status: Vec::new(),
            json_pointer: Some("/n".into()),
            equals: Some(json!(1)),
        };
        assert_eq!(criteria.check_output(&json!({"n": 1.0})), None);
        assert!(criteria.check_output(&json!({"n": 2})).is_some());
        assert!(criteria.check_output(&json!({})).is_some());
    }
}
