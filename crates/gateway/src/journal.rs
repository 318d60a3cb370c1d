//! The configuration journal: every change applied to a gateway (a file, a config from
//! the control API, a weight or shadow set live, a ramp step or governor rollback, a
//! revert) with who made it, when, and a readable diff; any entry can be reverted.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Config;

/// How many entries a gateway keeps; older ones are dropped first.
pub const JOURNAL_CAPACITY: usize = 512;

/// The `who` of a weight moved along a ramp schedule without a budget.
pub const RAMP: &str = "ramp";
/// The `who` of a weight moved along a ramp gated by a governor, or rolled back by it.
pub const GOVERNOR: &str = "governor";

/// Where a change came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeSource {
    /// A configuration file, read from this path.
    File(PathBuf),
    /// A call on the gateway: the control API, or code.
    Api,
    /// The revert of the entry with this sequence number.
    Revert(u64),
    /// A split's ramp schedule or migration governor moved a weight by itself
    /// (`who` is `ramp` or `governor`), rollbacks included.
    Governor,
}

impl fmt::Display for ChangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeSource::File(path) => write!(f, "file {}", path.display()),
            ChangeSource::Api => f.write_str("api"),
            ChangeSource::Revert(seq) => write!(f, "revert of #{seq}"),
            ChangeSource::Governor => f.write_str("governor"),
        }
    }
}

/// One applied change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Increasing from 1, never reused.
    pub seq: u64,
    /// When it was applied.
    pub at: SystemTime,
    /// Who applied it (an operator, `agent`, a token's name).
    pub who: String,
    /// Where it came from.
    pub source: ChangeSource,
    /// What changed: a unified line diff of the configuration, then live weight and
    /// shadow changes as `route X weight 20 → 40`. Empty when nothing changed.
    pub diff: String,
}

/// Everything a revert needs to put back: the configuration and the live splits.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) config: Config,
    /// The configuration as TOML when it came as text: diffs are on the TOML when
    /// both sides have it, else on the debug form of both (one field per line).
    pub(crate) toml: Option<Arc<str>>,
    /// Live (weight, shadow) per split route.
    pub(crate) live: BTreeMap<String, (u8, u8)>,
}

/// An entry and the state before it.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) entry: JournalEntry,
    /// `None` for the gateway's first configuration: there is nothing to go back to.
    pub(crate) before: Option<Arc<Snapshot>>,
}

/// Readable differences between two states.
pub(crate) fn diff(before: Option<&Snapshot>, after: &Snapshot) -> String {
    let (old_text, new_text) = match (before, &after.toml) {
        (None, Some(new)) => (String::new(), new.to_string()),
        (
            Some(Snapshot {
                toml: Some(old), ..
            }),
            Some(new),
        ) => (old.to_string(), new.to_string()),
        (Some(old), _) => (
            format!("{:#?}\n", old.config),
            format!("{:#?}\n", after.config),
        ),
        (None, None) => (String::new(), format!("{:#?}\n", after.config)),
    };
    let mut out = similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(1)
        .to_string();
    let empty = BTreeMap::new();
    let old_live = before.map_or(&empty, |b| &b.live);
    for (route, &(weight, shadow)) in &after.live {
        let Some(&(old_weight, old_shadow)) = old_live.get(route) else {
            continue;
        };
        if old_weight != weight {
            out.push_str(&format!("route {route} weight {old_weight} → {weight}\n"));
        }
        if old_shadow != shadow {
            out.push_str(&format!("route {route} shadow {old_shadow} → {shadow}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(text: &str, live: &[(&str, u8, u8)]) -> Snapshot {
        Snapshot {
            config: Config::from_toml("").unwrap(),
            toml: Some(text.into()),
            live: live
                .iter()
                .map(|(r, w, s)| ((*r).to_owned(), (*w, *s)))
                .collect(),
        }
    }

    #[test]
    fn diffs_lines_and_live_weights() {
        let a = snapshot("a = 1\nb = 2\nc = 3\n", &[("shop", 20, 0)]);
        let b = snapshot("a = 1\nb = 5\nc = 3\n", &[("shop", 40, 10)]);
        let text = diff(Some(&a), &b);
        assert!(text.contains("-b = 2\n+b = 5\n"), "{text}");
        assert!(text.contains("route shop weight 20 → 40\n"), "{text}");
        assert!(text.contains("route shop shadow 0 → 10\n"), "{text}");
    }

    #[test]
    fn no_change_no_diff() {
        let a = snapshot("a = 1\n", &[("shop", 20, 0)]);
        assert_eq!(diff(Some(&a), &a.clone()), "");
    }

    #[test]
    fn first_entry_shows_the_whole_config_as_added() {
        let a = snapshot("a = 1\n", &[]);
        assert!(diff(None, &a).contains("+a = 1"));
    }
}
