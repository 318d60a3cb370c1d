//! Picking an instance: round robin or the power of two choices over the instances
//! that are healthy, skipping those already tried by this request when others are
//! left; the first whose breaker admits the call wins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::Rng;
use switchyard_resilience::breaker::Permit;

use crate::cluster::{Cluster, Instance};
use crate::config::BalancerKind;

/// An instance and its breaker's permission for one call.
pub(crate) type Pick<'a> = (&'a Arc<Instance>, Permit<'a>);

pub(crate) fn pick<'a>(cluster: &'a Cluster, tried: &[SocketAddr]) -> Option<Pick<'a>> {
    let healthy: Vec<&'a Arc<Instance>> = cluster
        .instances
        .iter()
        .filter(|i| i.is_healthy())
        .collect();
    let fresh: Vec<&'a Arc<Instance>> = healthy
        .iter()
        .copied()
        .filter(|i| !tried.contains(&i.addr))
        .collect();
    // A retry goes elsewhere when it can, else back to an instance already tried.
    let candidates = if fresh.is_empty() { healthy } else { fresh };
    if candidates.is_empty() {
        return None;
    }
    let order = match cluster.balancer {
        BalancerKind::RoundRobin => {
            let start = cluster.next.fetch_add(1, Ordering::Relaxed);
            round_robin_order(candidates.len(), start)
        }
        BalancerKind::LeastOutstanding => {
            let load: Vec<usize> = candidates.iter().map(|i| i.outstanding()).collect();
            two_choices_order(&load, &mut rand::rng())
        }
    };
    order.into_iter().find_map(|index| {
        let instance = candidates[index];
        instance
            .breaker
            .try_acquire()
            .ok()
            .map(|permit| (instance, permit))
    })
}

/// Indices in rotation from `start`.
fn round_robin_order(len: usize, start: usize) -> Vec<usize> {
    (0..len).map(|k| (start + k) % len).collect()
}

/// Two random distinct indices, the less loaded first, then the others as fallbacks.
fn two_choices_order(load: &[usize], rng: &mut impl Rng) -> Vec<usize> {
    let len = load.len();
    if len == 1 {
        return vec![0];
    }
    let a = rng.random_range(0..len);
    let b = (a + rng.random_range(1..len)) % len;
    let (first, second) = if load[b] < load[a] { (b, a) } else { (a, b) };
    let mut order = vec![first, second];
    order.extend((0..len).filter(|i| *i != first && *i != second));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_rotates() {
        assert_eq!(round_robin_order(3, 4), vec![1, 2, 0]);
    }

    #[test]
    fn two_choices_prefers_the_idle_of_the_pair() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let order = two_choices_order(&[5, 0], &mut rng);
            assert_eq!(order, vec![1, 0]);
        }
        for _ in 0..100 {
            let order = two_choices_order(&[3, 9, 1], &mut rng);
            assert_eq!(order.len(), 3);
            assert_ne!(order[0], 1, "the busiest never wins a pair");
        }
    }
}
