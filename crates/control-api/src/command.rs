//! Who asked for a command and why: what every backend command receives.

use std::time::Duration;

/// The context of one operator command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The caller: the configured name of the token that authenticated.
    pub by: String,
    /// Why, in the operator's words.
    pub reason: String,
    /// For overrides: how long they last (`None`: until released).
    pub ttl: Option<Duration>,
}

impl Command {
    /// A command without a time to live.
    pub fn new(by: impl Into<String>, reason: impl Into<String>) -> Self {
        Command {
            by: by.into(),
            reason: reason.into(),
            ttl: None,
        }
    }

    /// Makes the override expire after `ttl`.
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }
}
