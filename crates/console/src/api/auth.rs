//! Who may call the API.
//!
//! - **Off loopback** the API needs a token: `Authorization: Bearer TOKEN` or
//!   `?token=TOKEN` (a browser's `EventSource` cannot set headers), compared in
//!   constant time. Without a token the console refuses to listen there at all.
//! - **On loopback without a token** anyone on this machine may call it, but a web page
//!   on the internet must not: with DNS rebinding, `evil.example` can resolve to
//!   127.0.0.1 and the browser will send that page's requests to us, with
//!   `Host: evil.example:PORT`. So requests must name a loopback host (or the listen
//!   address) in `Host`, and, when a browser sends `Origin`, the page must come from one
//!   too. A cross-site `fetch` to 127.0.0.1 directly carries the foreign `Origin`, which
//!   is refused the same way (it could otherwise trip breakers with a "simple" POST).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::error::ApiError;
use crate::clusters::Secret;

/// Why the API cannot listen as asked.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "refusing to serve the API on {0} (beyond loopback) without a token: set --token \
         (or SWITCHYARD_UI_TOKEN), or listen on 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    #[error("the API token is empty")]
    EmptyToken,
}

/// The API's access rule, fixed at start.
#[derive(Debug, Clone)]
pub struct Access {
    listen: SocketAddr,
    token: Option<Arc<Secret>>,
}

impl Access {
    /// The rule for an API listening on `listen`: a token is required off loopback.
    pub fn new(listen: SocketAddr, token: Option<Secret>) -> Result<Access, AccessError> {
        if token.as_ref().is_some_and(|t| t.expose().is_empty()) {
            return Err(AccessError::EmptyToken);
        }
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(AccessError::TokenRequired(listen));
        }
        Ok(Access {
            listen,
            token: token.map(Arc::new),
        })
    }

    /// Whether callers must present a token.
    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
        match &self.token {
            Some(token) => {
                let presented = bearer(headers)
                    .map(str::to_owned)
                    .or_else(|| query_token(query));
                let matches = presented
                    .is_some_and(|p| bool::from(p.as_bytes().ct_eq(token.expose().as_bytes())));
                if matches {
                    Ok(())
                } else {
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "a valid token is required: Authorization: Bearer TOKEN, or ?token=TOKEN",
                    ))
                }
            }
            None => self.check_local(headers),
        }
    }

    /// The DNS-rebinding guard (see the module's comment).
    fn check_local(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let forbidden = |what: &str| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                format!(
                    "{what} is not this machine: without a token the API answers only \
                     pages and clients on loopback"
                ),
            )
        };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !self.is_local_authority(host) {
            return Err(forbidden(&format!("Host {host:?}")));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                // Tauri's webview pages (tauri://localhost and the like) are local too.
                .or_else(|| origin.strip_prefix("tauri://"));
            if !authority.is_some_and(|a| self.is_local_authority(a)) {
                return Err(forbidden(&format!("Origin {origin:?}")));
            }
        }
        Ok(())
    }

    /// `localhost`, a loopback IP or the listen address, with any port.
    fn is_local_authority(&self, authority: &str) -> bool {
        let host = match authority.rsplit_once(':') {
            // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`; a bare `::1` has no port.
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        host.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == self.listen.ip())
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn query_token(query: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query?)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "token").then_some(v))
}

/// Middleware: refuses requests that [`Access`] does not let through.
pub(crate) async fn require(State(access): State<Access>, req: Request, next: Next) -> Response {
    match access.check(req.headers(), req.uri().query()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            let mut response = e.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn off_loopback_needs_a_token() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(matches!(
            Access::new(any, None),
            Err(AccessError::TokenRequired(_))
        ));
        assert!(Access::new(any, Some(Secret::new("t"))).is_ok());
        assert!(Access::new(any, Some(Secret::new(""))).is_err());
        assert!(Access::new("127.0.0.1:1".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn tokens_come_as_bearer_or_query() {
        let access = Access::new("0.0.0.0:1".parse().unwrap(), Some(Secret::new("s3"))).unwrap();
        let none = HeaderMap::new();
        assert!(access.check(&none, None).is_err());
        assert!(access.check(&none, Some("token=s3")).is_ok());
        assert!(access.check(&none, Some("a=1&token=nope")).is_err());
        let auth = headers(&[(header::AUTHORIZATION, "Bearer s3")]);
        assert!(access.check(&auth, None).is_ok());
        let wrong = headers(&[(header::AUTHORIZATION, "Bearer s4")]);
        assert_eq!(
            access.check(&wrong, None).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn without_a_token_only_local_hosts_and_origins_pass() {
        let access = Access::new("127.0.0.1:8080".parse().unwrap(), None).unwrap();
        let ok = |pairs: &[(header::HeaderName, &str)]| access.check(&headers(pairs), None).is_ok();
        assert!(ok(&[(header::HOST, "127.0.0.1:8080")]));
        assert!(ok(&[(header::HOST, "localhost:8080")]));
        assert!(ok(&[(header::HOST, "[::1]:8080")]));
        assert!(ok(&[
            (header::HOST, "localhost:8080"),
            (header::ORIGIN, "http://localhost:5173")
        ]));
        assert!(ok(&[
            (header::HOST, "localhost:8080"),
            (header::ORIGIN, "tauri://localhost")
        ]));
        assert!(!ok(&[(header::HOST, "evil.example:8080")]));
        assert!(!ok(&[]));
        assert!(!ok(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "https://evil.example")
        ]));
        assert!(!ok(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "null")
        ]));
    }
}
