//! Strangler-fig traffic splitting: which side a client goes to, and whether a request
//! is shadowed. Pure functions plus the live, lock-free weights of one route.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// A side of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The system being replaced.
    Legacy,
    /// The system replacing it.
    New,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Legacy => Side::New,
            Side::New => Side::Legacy,
        }
    }

    /// `legacy` or `new`, the `route.target` of spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::New => "new",
        }
    }
}

/// FNV-1a: stable across processes and releases, so a client keeps its side when the
/// gateway restarts (std's hasher makes no such promise).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The client's bucket, 0 to 99. Clients below the weight go to the new side, so
/// raising the weight only moves clients from legacy to new, never back.
pub fn bucket(client_key: &str) -> u8 {
    // The finalizer spreads keys that differ only in their last bytes.
    let mut h = fnv1a(client_key.as_bytes());
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h % 100) as u8
}

/// The side `client_key` goes to at `weight` percent to the new side.
pub fn side_for(client_key: &str, weight: u8) -> Side {
    if bucket(client_key) < weight {
        Side::New
    } else {
        Side::Legacy
    }
}

/// Whether a request drawn at `roll` (0 to 99) is shadowed at `share` percent.
pub fn shadowed(roll: u8, share: u8) -> bool {
    roll < share
}

/// The live weights of one split route; survives applies of the configuration.
#[derive(Debug)]
pub(crate) struct SplitState {
    weight: AtomicU8,
    shadow: AtomicU8,
    /// The weight and shadow of the last config applied, to tell whether a new file
    /// changes them (and so overrides what the control API set).
    configured: std::sync::Mutex<(u8, u8)>,
    rolled_back: AtomicBool,
}

impl SplitState {
    pub(crate) fn new(weight: u8, shadow: u8) -> Self {
        SplitState {
            weight: AtomicU8::new(weight),
            shadow: AtomicU8::new(shadow),
            configured: std::sync::Mutex::new((weight, shadow)),
            rolled_back: AtomicBool::new(false),
        }
    }

    pub(crate) fn weight(&self) -> u8 {
        self.weight.load(Ordering::Relaxed)
    }

    pub(crate) fn shadow(&self) -> u8 {
        self.shadow.load(Ordering::Relaxed)
    }

    pub(crate) fn set_weight(&self, weight: u8) {
        self.weight.store(weight.min(100), Ordering::Relaxed);
    }

    pub(crate) fn set_shadow(&self, shadow: u8) {
        self.shadow.store(shadow.min(100), Ordering::Relaxed);
    }

    pub(crate) fn rolled_back(&self) -> bool {
        self.rolled_back.load(Ordering::Relaxed)
    }

    pub(crate) fn set_rolled_back(&self, rolled_back: bool) {
        self.rolled_back.store(rolled_back, Ordering::Relaxed);
    }

    /// A new config: its values win only where they changed since the last one.
    pub(crate) fn configure(&self, weight: u8, shadow: u8) {
        let mut configured = self
            .configured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if configured.0 != weight {
            self.set_weight(weight);
            self.set_rolled_back(false);
        }
        if configured.1 != shadow {
            self.set_shadow(shadow);
        }
        *configured = (weight, shadow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_honoured_over_many_clients() {
        for weight in [0u8, 10, 30, 50, 90, 100] {
            let new = (0..10_000)
                .filter(|i| side_for(&format!("user-{i}"), weight) == Side::New)
                .count();
            let expected = usize::from(weight) * 100;
            assert!(
                new.abs_diff(expected) <= 300,
                "weight {weight}: {new} of 10000 went new"
            );
        }
    }

    #[test]
    fn raising_the_weight_never_moves_a_client_back() {
        for i in 0..1_000 {
            let key = format!("client-{i}");
            let mut was_new = false;
            for weight in 0..=100 {
                let is_new = side_for(&key, weight) == Side::New;
                assert!(!was_new || is_new, "{key} went back at {weight}");
                was_new = is_new;
            }
        }
    }

    #[test]
    fn a_new_config_overrides_only_what_it_changes() {
        let state = SplitState::new(10, 0);
        state.set_weight(40);
        state.configure(10, 5);
        assert_eq!((state.weight(), state.shadow()), (40, 5));
        state.configure(20, 5);
        assert_eq!(state.weight(), 20);
    }
}
