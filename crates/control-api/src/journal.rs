//! Paging the configuration journal: which entries a `ListJournal` request gets.

use crate::proto;

/// The entries after `since_seq` (0: all kept), oldest first; at most `limit` of them
/// (0: no limit): the first ones after `since_seq` when it is set, so a client pages
/// forward from the last seq it saw, else the newest.
pub fn page(
    entries: Vec<proto::JournalEntry>,
    since_seq: u64,
    limit: u32,
) -> Vec<proto::JournalEntry> {
    let mut after: Vec<_> = entries.into_iter().filter(|e| e.seq > since_seq).collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit == 0 || after.len() <= limit {
        return after;
    }
    if since_seq > 0 {
        after.truncate(limit);
        after
    } else {
        after.split_off(after.len() - limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(seqs: std::ops::RangeInclusive<u64>) -> Vec<proto::JournalEntry> {
        seqs.map(|seq| proto::JournalEntry {
            seq,
            ..Default::default()
        })
        .collect()
    }

    fn seqs(entries: &[proto::JournalEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn pages_forward_from_a_seq_and_takes_the_newest_without_one() {
        assert_eq!(seqs(&page(entries(1..=5), 0, 0)), [1, 2, 3, 4, 5]);
        assert_eq!(seqs(&page(entries(1..=5), 0, 2)), [4, 5]);
        assert_eq!(seqs(&page(entries(1..=5), 2, 0)), [3, 4, 5]);
        assert_eq!(seqs(&page(entries(1..=5), 2, 2)), [3, 4]);
        assert_eq!(seqs(&page(entries(1..=5), 5, 2)), Vec::<u64>::new());
    }
}
