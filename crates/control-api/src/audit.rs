//! The audit log: every command, who gave it, why, and how it ended.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::proto;
use crate::time::now_unix_ms;

/// One audited command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When (Unix epoch milliseconds).
    pub at_unix_ms: i64,
    /// The token's configured name, or [`crate::auth::UNKNOWN_CALLER`].
    pub caller: String,
    /// The RPC, e.g. `TripBreaker`.
    pub command: String,
    /// What it acted on.
    pub target: String,
    /// The caller's reason.
    pub reason: String,
    /// `ok` or the gRPC code in snake case, e.g. `not_found`.
    pub outcome: String,
    /// The error message, when it failed.
    pub detail: String,
}

impl AuditEntry {
    /// An entry stamped now.
    pub fn now(
        caller: &str,
        command: &str,
        target: &str,
        reason: &str,
        result: Result<(), &tonic::Status>,
    ) -> Self {
        let (outcome, detail) = match result {
            Ok(()) => ("ok".to_owned(), String::new()),
            Err(status) => (code_name(status.code()), status.message().to_owned()),
        };
        AuditEntry {
            at_unix_ms: now_unix_ms(),
            caller: caller.to_owned(),
            command: command.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
            outcome,
            detail,
        }
    }
}

impl From<AuditEntry> for proto::AuditEntry {
    fn from(e: AuditEntry) -> Self {
        proto::AuditEntry {
            at_unix_ms: e.at_unix_ms,
            caller: e.caller,
            command: e.command,
            target: e.target,
            reason: e.reason,
            outcome: e.outcome,
            detail: e.detail,
        }
    }
}

/// A gRPC code in snake case (`NotFound` → `not_found`).
fn code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, ch) in format!("{code:?}").chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// The most recent entries in memory (bounded), and every entry appended to a
/// JSON-lines file if one is configured.
#[derive(Debug)]
pub struct AuditLog {
    recent: Mutex<VecDeque<AuditEntry>>,
    capacity: usize,
    file: Option<Mutex<File>>,
}

impl AuditLog {
    /// Keeps the last `capacity` entries in memory only.
    pub fn in_memory(capacity: usize) -> Self {
        AuditLog {
            recent: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            file: None,
        }
    }

    /// Also appends every entry to `path` as one JSON object per line.
    pub fn with_file(capacity: usize, path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file: Some(Mutex::new(file)),
            ..AuditLog::in_memory(capacity)
        })
    }

    /// Records `entry`. A failing file write is logged, not returned: the command
    /// already happened and must not be reported as failed.
    pub fn record(&self, entry: AuditEntry) {
        if let Some(file) = &self.file {
            match serde_json::to_string(&entry) {
                Ok(mut line) => {
                    line.push('\n');
                    // One write of a short line to an O_APPEND file: blocking briefly
                    // is cheaper than handing it to another thread.
                    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(err) = file.write_all(line.as_bytes()) {
                        tracing::warn!(%err, "audit log file write failed");
                    }
                }
                Err(err) => tracing::warn!(%err, "audit entry not serializable"),
            }
        }
        tracing::info!(
            caller = %entry.caller,
            command = %entry.command,
            target = %entry.target,
            outcome = %entry.outcome,
            "control command"
        );
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(entry);
    }

    /// The last `limit` entries (all kept, if 0), oldest first.
    pub fn recent(&self, limit: usize) -> Vec<AuditEntry> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let skip = if limit == 0 {
            0
        } else {
            recent.len().saturating_sub(limit)
        };
        recent.iter().skip(skip).cloned().collect()
    }
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog::in_memory(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_entries_and_names_codes() {
        let log = AuditLog::in_memory(2);
        for target in ["a", "b", "c"] {
            let status = tonic::Status::not_found("gone");
            log.record(AuditEntry::now(
                "me",
                "TripBreaker",
                target,
                "why",
                Err(&status),
            ));
        }
        let kept = log.recent(0);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].target, "b");
        assert_eq!(kept[1].outcome, "not_found");
        assert_eq!(log.recent(1)[0].target, "c");
    }

    #[test]
    fn appends_json_lines() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::with_file(10, &path)?;
        log.record(AuditEntry::now(
            "me",
            "SetFault",
            "payments",
            "drill",
            Ok(()),
        ));
        let text = std::fs::read_to_string(&path)?;
        let value: serde_json::Value = serde_json::from_str(text.trim())?;
        assert_eq!(value["caller"], "me");
        assert_eq!(value["outcome"], "ok");
        Ok(())
    }
}
