//! Errors, in two families: [`ConfigError`] for a configuration that is refused (with
//! the line and the reason), and [`Error`] for operations on a gateway.

use std::net::SocketAddr;

/// Result of gateway operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration that cannot be applied: where and why.
///
/// `line` is 1-based; 0 when the problem has no place in a file (a config built in code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}{}{message}", if .field.is_empty() { "" } else { ": " })]
pub struct ConfigError {
    /// The line of the offending value, 1-based (0: unknown).
    pub line: usize,
    /// The field, as a path (`route[1].cluster`); empty for syntax errors.
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

/// An operation on a gateway failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration was refused; the running one stays.
    #[error("configuration refused: {0}")]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A worker thread (or its event loop) could not be started.
    #[error("cannot start a gateway worker: {0}")]
    Worker(std::io::Error),
    /// No route of that name.
    #[error("no route named {name:?}")]
    UnknownRoute {
        /// The name asked for.
        name: String,
    },
    /// The route sends all traffic to one cluster: it has no weights or shadow.
    #[error("route {name:?} has no traffic split")]
    NotSplit {
        /// The route's name.
        name: String,
    },
    /// No journal entry with that sequence number (never, or dropped as too old).
    #[error("no journal entry #{seq}")]
    UnknownJournalEntry {
        /// The number asked for.
        seq: u64,
    },
    /// The entry is the gateway's first configuration: there is nothing before it.
    #[error("journal entry #{seq} is the first configuration: nothing to go back to")]
    NothingBefore {
        /// The number asked for.
        seq: u64,
    },
    /// A percentage above 100.
    #[error("{value} is not a percentage (0 to 100)")]
    Percent {
        /// The value given.
        value: u8,
    },
}
