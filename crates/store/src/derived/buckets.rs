//! Log-scale duration buckets: the saga step results store a bucket beside each
//! duration so the aggregate flow can take percentiles from bucket counts (a
//! `GROUP BY` over a covering index) instead of reading every duration.
//!
//! Durations under 16 ns are their own bucket; above, each power of two is
//! split into 16 buckets, so a bucket is at most 1/16 (6.25 %) of its value
//! wide and its midpoint is within 3.2 % of any duration in it.

const SUB_BITS: u32 = 4;
const SUB: i64 = 1 << SUB_BITS;

/// The bucket of a duration in nanoseconds (negative counts as 0).
pub fn bucket(nanos: i64) -> i64 {
    let d = nanos.max(0);
    if d < SUB {
        return d;
    }
    let msb = 63 - i64::from(d.leading_zeros());
    let sub = (d >> (msb - i64::from(SUB_BITS))) & (SUB - 1);
    msb * SUB + sub
}

/// The durations a bucket holds: `[low, high)` in nanoseconds.
pub fn bounds(bucket: i64) -> (i64, i64) {
    if bucket < SUB {
        return (bucket, bucket + 1);
    }
    let msb = bucket / SUB;
    let sub = bucket % SUB;
    let shift = msb - i64::from(SUB_BITS);
    let low = (SUB + sub) << shift;
    (low, low + (1 << shift))
}

/// The value reported for a bucket: its midpoint.
pub fn representative(bucket: i64) -> i64 {
    let (low, high) = bounds(bucket);
    low + (high - low) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_falls_in_its_buckets_bounds() {
        for d in [
            0,
            1,
            15,
            16,
            17,
            31,
            32,
            1000,
            123_456_789,
            3_600_000_000_000,
            i64::MAX / 2,
        ] {
            let (low, high) = bounds(bucket(d));
            assert!(low <= d && d < high, "{d} not in [{low}, {high})");
            let mid = representative(bucket(d)) as f64;
            assert!(
                (mid - d as f64).abs() <= d as f64 * 0.032 + 1.0,
                "{d} vs {mid}"
            );
        }
    }

    #[test]
    fn buckets_grow_with_durations() {
        let mut last = -1;
        for d in (0..100_000).step_by(7) {
            let b = bucket(d);
            assert!(b >= last);
            last = b;
        }
    }
}
