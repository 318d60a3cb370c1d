//! API keys for the receiver: a primary and a secondary, so a key can be
//! rotated without a moment when senders are refused.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// The header (HTTP) or metadata key (gRPC) that carries the key.
pub const API_KEY_HEADER: &str = "x-otlp-api-key";

/// Accepted API keys; with none set, every request is accepted.
#[derive(Clone, Default)]
pub struct ApiKeys {
    primary: Option<String>,
    secondary: Option<String>,
}

impl ApiKeys {
    /// Keys that are empty strings count as unset.
    pub fn new(primary: Option<String>, secondary: Option<String>) -> Self {
        let set = |k: Option<String>| k.filter(|k| !k.is_empty());
        Self {
            primary: set(primary),
            secondary: set(secondary),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.primary.is_some() || self.secondary.is_some()
    }

    /// Whether `presented` opens the door. Compared in constant time, and
    /// against both keys every time, so timing says nothing about either.
    pub fn allows(&self, presented: Option<&[u8]>) -> bool {
        if !self.is_enabled() {
            return true;
        }
        let Some(presented) = presented else {
            return false;
        };
        let matches = |key: &Option<String>| {
            key.as_ref()
                .is_some_and(|k| bool::from(k.as_bytes().ct_eq(presented)))
        };
        let primary = matches(&self.primary);
        let secondary = matches(&self.secondary);
        primary | secondary
    }
}

/// Never prints the keys themselves.
impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("primary", &self.primary.as_ref().map(|_| "<redacted>"))
            .field("secondary", &self.secondary.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_keys_open_and_nothing_else_does() {
        let keys = ApiKeys::new(Some("new-key".into()), Some("old-key".into()));
        assert!(keys.allows(Some(b"new-key")));
        assert!(keys.allows(Some(b"old-key")));
        assert!(!keys.allows(Some(b"new-ke")));
        assert!(!keys.allows(Some(b"")));
        assert!(!keys.allows(None));
        assert!(!format!("{keys:?}").contains("key\""));
        assert!(!format!("{keys:?}").contains("new-key"));
    }

    #[test]
    fn without_keys_everything_is_allowed() {
        let keys = ApiKeys::new(Some(String::new()), None);
        assert!(!keys.is_enabled());
        assert!(keys.allows(None));
    }
}
