//! Multi-row INSERT statements.
//!
//! sqlx runs each statement on the connection's worker thread and waits for
//! the answer, so one statement per row would cost a thread round trip per
//! row. Instead rows go in groups of up to [`MAX_ROWS`] per statement. Group
//! sizes are powers of two so only a handful of distinct statements exist and
//! all of them stay in sqlx's prepared-statement cache.

/// Rows per statement at most: 21,504 values for spans, under SQLite's limit
/// of 32,766 bound values per statement.
pub(crate) const MAX_ROWS: usize = 1024;

pub(super) const SPAN_COLUMNS: &[&str] = &[
    "id",
    "segment",
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "flags",
    "name",
    "kind",
    "start_time",
    "end_time",
    "status_code",
    "status_message",
    "resource_id",
    "scope_id",
    "attributes",
    "events",
    "links",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
];

pub(super) const POINT_COLUMNS: &[&str] = &[
    "id",
    "metric_id",
    "time",
    "start_time",
    "attributes",
    "flags",
    "int_value",
    "double_value",
    "count",
    "sum",
    "min",
    "max",
    "buckets",
    "exemplars",
];

pub(super) const LOG_COLUMNS: &[&str] = &[
    "id",
    "resource_id",
    "scope_id",
    "time",
    "time_unix_nano",
    "observed_time_unix_nano",
    "severity_number",
    "severity_text",
    "body",
    "attributes",
    "dropped_attributes_count",
    "flags",
    "trace_id",
    "span_id",
    "event_name",
];

/// The statements for one table, indexed by log2 of the row count.
#[derive(Debug)]
pub(super) struct InsertStatements {
    by_log2: Vec<String>,
}

impl InsertStatements {
    pub(super) fn new(table: &str, columns: &[&str]) -> Self {
        let row = format!("({})", vec!["?"; columns.len()].join(","));
        // OR FAIL instead of the default ABORT: a failing row fails the whole
        // transaction anyway, and without ABORT's statement-level rollback
        // SQLite needs no statement journal (a copy of every page touched).
        let head = format!(
            "INSERT OR FAIL INTO {table} ({}) VALUES ",
            columns.join(",")
        );
        let by_log2 = (0..=MAX_ROWS.trailing_zeros())
            .map(|k| {
                let rows = vec![row.as_str(); 1 << k].join(",");
                format!("{head}{rows}")
            })
            .collect();
        Self { by_log2 }
    }

    /// The statement for exactly `rows` rows; `rows` must be a power of two.
    pub(super) fn for_rows(&self, rows: usize) -> &str {
        debug_assert!(rows.is_power_of_two() && rows <= MAX_ROWS);
        &self.by_log2[rows.trailing_zeros() as usize]
    }
}

/// Splits `0..n` into ranges of power-of-two length, the largest first.
pub(crate) fn chunks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = n - start;
        if left == 0 {
            return None;
        }
        let len = if left >= MAX_ROWS {
            MAX_ROWS
        } else {
            1 << (usize::BITS - 1 - left.leading_zeros())
        };
        let range = start..start + len;
        start += len;
        Some(range)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_in_power_of_two_pieces() {
        for n in [0, 1, 2, 3, 255, 256, 257, 700, 1024] {
            let pieces: Vec<_> = chunks(n).collect();
            assert_eq!(pieces.iter().map(|r| r.len()).sum::<usize>(), n);
            assert!(
                pieces
                    .iter()
                    .all(|r| r.len().is_power_of_two() && r.len() <= MAX_ROWS)
            );
            assert!(pieces.windows(2).all(|w| w[0].end == w[1].start));
        }
        assert_eq!(
            chunks(700).map(|r| r.len()).collect::<Vec<_>>(),
            [512, 128, 32, 16, 8, 4]
        );
    }

    #[test]
    fn statements_have_one_placeholder_per_value() {
        let s = InsertStatements::new("logs", LOG_COLUMNS);
        assert_eq!(s.for_rows(4).matches('?').count(), 4 * LOG_COLUMNS.len());
        assert!(
            s.for_rows(1)
                .starts_with("INSERT OR FAIL INTO logs (id,resource_id,")
        );
    }
}
