//! Edge authentication: API keys (`x-api-key`) and bearer JWTs (HS256, RS256). A
//! request without any accepted credential never reaches an upstream.

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::{AuthConfig, JwtConfig};

/// Why a request was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Denied {
    /// 401: no credential, or one that is not valid.
    Unauthenticated(&'static str),
    /// 403: a valid credential that this route does not accept.
    Forbidden(&'static str),
}

/// A route's compiled authentication.
pub(crate) struct Auth {
    api_keys: Vec<Vec<u8>>,
    jwt: Option<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys.
        f.debug_struct("Auth")
            .field("api_keys", &self.api_keys.len())
            .field("jwt", &self.jwt.is_some())
            .finish()
    }
}

impl Auth {
    /// Compiles a checked config (a key that no longer parses is a config error).
    pub(crate) fn new(config: &AuthConfig) -> Result<Self, String> {
        let jwt = config.jwt.as_ref().map(jwt_validation).transpose()?;
        Ok(Auth {
            api_keys: config
                .api_keys
                .iter()
                .map(|k| k.as_bytes().to_vec())
                .collect(),
            jwt,
        })
    }

    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if let Some(key) = headers.get("x-api-key") {
            if self
                .api_keys
                .iter()
                .any(|known| constant_time_eq(known, key.as_bytes()))
            {
                return Ok(());
            }
            if self.jwt.is_none() {
                return Err(Denied::Unauthenticated("invalid API key"));
            }
        }
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match (&self.jwt, bearer) {
            (Some((key, validation)), Some(token)) => {
                match jsonwebtoken::decode::<serde_json::Value>(token.trim(), key, validation) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(match e.kind() {
                        ErrorKind::InvalidAudience => {
                            Denied::Forbidden("token not issued for this audience")
                        }
                        ErrorKind::ExpiredSignature => Denied::Unauthenticated("token expired"),
                        _ => Denied::Unauthenticated("invalid token"),
                    }),
                }
            }
            _ if headers.contains_key("x-api-key") => {
                Err(Denied::Unauthenticated("invalid API key"))
            }
            _ => Err(Denied::Unauthenticated("credentials required")),
        }
    }
}

fn jwt_validation(config: &JwtConfig) -> Result<(DecodingKey, Validation), String> {
    let (key, algorithm) = match (&config.hs256_secret, &config.rs256_public_key) {
        (Some(secret), _) => (
            DecodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        ),
        (None, Some(pem)) => (
            DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())?,
            Algorithm::RS256,
        ),
        (None, None) => return Err("jwt needs a key".to_owned()),
    };
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    match &config.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
    }
    Ok((key, validation))
}

/// Compares without an early exit, so the time taken does not reveal how much of a
/// guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_keys() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn missing_and_wrong_keys_are_401() {
        let auth = Auth::new(&AuthConfig {
            api_keys: vec!["k1".into()],
            jwt: None,
        })
        .unwrap();
        let mut headers = HeaderMap::new();
        assert!(matches!(
            auth.check(&headers),
            Err(Denied::Unauthenticated(_))
        ));
        headers.insert("x-api-key", "nope".parse().unwrap());
        assert!(matches!(
            auth.check(&headers),
            Err(Denied::Unauthenticated(_))
        ));
        headers.insert("x-api-key", "k1".parse().unwrap());
        assert_eq!(auth.check(&headers), Ok(()));
    }
}
