//! Requests to send: a few encoded once, then copied with fresh trace ids for
//! each send, so the load client spends almost no CPU beside the server.

use std::collections::{HashMap, HashSet};

use prost::Message as _;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use switchyard_testkit as kit;

/// One encoded request and where each of its trace ids and timestamps sit
/// in the bytes.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) bytes: Vec<u8>,
    /// Per trace: the offsets of its 16-byte id.
    traces: Vec<Vec<usize>>,
    /// Offsets of the fixed64 span and event timestamps.
    times: Vec<usize>,
    /// When the template's timestamps were taken.
    pub(crate) created: u64,
}

impl Template {
    /// A copy with new random trace ids and timestamps moved to now, as a
    /// live service would send (spans arrive roughly in time order).
    pub(crate) fn fresh(&self, rng: &mut impl rand::RngCore) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        let shift = kit::now_nanos() - self.created;
        for &at in &self.times {
            let field: [u8; 8] = bytes[at..at + 8].try_into().expect("8 bytes");
            let moved = u64::from_le_bytes(field) + shift;
            bytes[at..at + 8].copy_from_slice(&moved.to_le_bytes());
        }
        let mut id = [0u8; 16];
        for offsets in &self.traces {
            rng.fill_bytes(&mut id);
            id[0] |= 1;
            for &at in offsets {
                bytes[at..at + 16].copy_from_slice(&id);
            }
        }
        bytes
    }
}

/// `count` templates of `spans` spans each (10 attributes, 2 events per span).
pub(crate) fn templates(count: usize, spans: usize) -> Vec<Template> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    (0..count)
        .map(|_| {
            let created = kit::now_nanos() - rng.random_range(0..1_000_000);
            let request = kit::load_request(&mut rng, spans, created);
            let bytes = request.encode_to_vec();
            // One pass over the bytes finds every trace id and timestamp.
            let mut ids: Vec<[u8; 16]> = Vec::new();
            for span in &request.resource_spans[0].scope_spans[0].spans {
                let id: [u8; 16] = span.trace_id[..].try_into().expect("16 bytes");
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            let trace_of: HashMap<[u8; 16], usize> =
                ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            let mut traces = vec![Vec::new(); ids.len()];
            for (at, window) in bytes.windows(16).enumerate() {
                if let Some(&t) = trace_of.get(window) {
                    traces[t].push(at);
                }
            }
            let wanted: HashSet<u64> = request.resource_spans[0].scope_spans[0]
                .spans
                .iter()
                .flat_map(|s| {
                    [s.start_time_unix_nano, s.end_time_unix_nano]
                        .into_iter()
                        .chain(s.events.iter().map(|e| e.time_unix_nano))
                })
                .collect();
            let times = bytes
                .windows(8)
                .enumerate()
                .filter(|(_, w)| {
                    wanted.contains(&u64::from_le_bytes((*w).try_into().expect("8 bytes")))
                })
                .map(|(at, _)| at)
                .collect();
            Template {
                bytes,
                traces,
                times,
                created,
            }
        })
        .collect()
}

/// A fast random source for ids.
pub(crate) fn fast_rng() -> rand::rngs::SmallRng {
    let mut seed = rand::rng();
    rand::rngs::SmallRng::seed_from_u64(seed.next_u64())
}
