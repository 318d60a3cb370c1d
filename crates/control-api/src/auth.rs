//! Bearer tokens, one per caller name, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;
use tonic::metadata::MetadataMap;

/// The caller name written in the audit log when authentication failed.
pub const UNKNOWN_CALLER: &str = "unknown";

/// The tokens the server accepts, each with the caller name it stands for.
#[derive(Clone, Default)]
pub struct AuthConfig {
    tokens: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for AuthConfig {
    // Never print the tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let callers: Vec<&str> = self.tokens.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AuthConfig")
            .field("callers", &callers)
            .finish()
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// Not `Bearer <token>`.
    #[error("malformed authorization header (expected `Bearer <token>`)")]
    Malformed,
    /// No configured token matches.
    #[error("invalid bearer token")]
    Invalid,
}

impl AuthConfig {
    /// No tokens: every request is refused until one is added.
    pub fn new() -> Self {
        AuthConfig::default()
    }

    /// Accepts `token` as `caller`. Empty tokens are ignored: they would match a bare
    /// `Bearer ` header.
    pub fn token(mut self, caller: impl Into<String>, token: impl Into<String>) -> Self {
        let token = token.into();
        if !token.is_empty() {
            self.tokens.push((caller.into(), token.into_bytes()));
        }
        self
    }

    /// The caller whose token `metadata` carries.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<&str, AuthError> {
        let header = metadata
            .get("authorization")
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Malformed)?;
        let presented = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::Malformed)?
            .trim()
            .as_bytes();
        self.caller_for(presented).ok_or(AuthError::Invalid)
    }

    /// Compares against every token without stopping at the first match, so timing
    /// does not tell how many tokens there are or which one matched. (`ct_eq` on
    /// slices of different lengths returns early: a token's length may leak, its
    /// bytes do not.)
    fn caller_for(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for (caller, token) in &self.tokens {
            if bool::from(token.as_slice().ct_eq(presented)) && found.is_none() {
                found = Some(caller.as_str());
            }
        }
        found
    }
}

/// The tokens a running server accepts, replaceable while it runs (token rotation):
/// a removed token is refused from the next call on, and the watch streams it opened
/// end with `UNAUTHENTICATED`. Cheap to clone; every clone sees the same tokens.
#[derive(Debug, Clone)]
pub struct LiveAuth {
    tokens: std::sync::Arc<tokio::sync::watch::Sender<AuthConfig>>,
}

impl LiveAuth {
    /// Starts with `auth`.
    pub fn new(auth: AuthConfig) -> Self {
        LiveAuth {
            tokens: std::sync::Arc::new(tokio::sync::watch::Sender::new(auth)),
        }
    }

    /// Accepts `auth`'s tokens from now on, and only them.
    pub fn replace(&self, auth: AuthConfig) {
        self.tokens.send_replace(auth);
    }

    /// The caller whose token `metadata` carries, by the tokens in force.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<String, AuthError> {
        self.tokens
            .borrow()
            .authenticate(metadata)
            .map(str::to_owned)
    }

    /// Completes each time the tokens are replaced.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<AuthConfig> {
        self.tokens.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", value.parse().expect("ascii header"));
        m
    }

    #[test]
    fn matches_the_configured_caller() {
        let auth = AuthConfig::new()
            .token("alice", "a-token")
            .token("bob", "b-token");
        assert_eq!(auth.authenticate(&metadata("Bearer b-token")), Ok("bob"));
        assert_eq!(
            auth.authenticate(&metadata("Bearer nope")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            auth.authenticate(&metadata("Basic b-token")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.authenticate(&MetadataMap::new()),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn empty_tokens_never_match() {
        let auth = AuthConfig::new().token("nobody", "");
        assert_eq!(
            auth.authenticate(&metadata("Bearer ")),
            Err(AuthError::Invalid)
        );
    }
}
