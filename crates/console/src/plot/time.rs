//! Time ranges, samples, and a time axis whose ticks fall on round clock times
//! and whose labels fit the range (seconds for minutes, dates for weeks).

use std::ops::Range;
use std::time::{Duration, SystemTime};

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;

/// A half-open time range `[start, end)` in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
}

impl TimeRange {
    pub const fn new(start_unix_nano: i64, end_unix_nano: i64) -> TimeRange {
        TimeRange {
            start_unix_nano,
            end_unix_nano,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.end_unix_nano <= self.start_unix_nano
    }

    pub(crate) fn contains(&self, t: i64) -> bool {
        (self.start_unix_nano..self.end_unix_nano).contains(&t)
    }

    /// The range in Unix seconds, the charts' x coordinate.
    pub(crate) fn seconds(&self) -> Range<f64> {
        secs(self.start_unix_nano)..secs(self.end_unix_nano)
    }

    /// "2026-11-26 11:00:00 – 12:00:00 UTC", for the no-data message.
    pub(crate) fn describe(&self) -> String {
        let (start, end) = (
            rfc3339(secs(self.start_unix_nano)),
            rfc3339(secs(self.end_unix_nano)),
        );
        let end = if start[..10] == end[..10] {
            &end[11..19]
        } else {
            &end.replace('T', " ")[..19]
        };
        format!("{} – {end} UTC", &start.replace('T', " ")[..19])
    }
}

/// One value of a time series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub time_unix_nano: i64,
    pub value: f64,
}

impl Sample {
    pub const fn new(time_unix_nano: i64, value: f64) -> Sample {
        Sample {
            time_unix_nano,
            value,
        }
    }

    /// The sample as a chart point (Unix seconds, value).
    pub(crate) fn point(&self) -> (f64, f64) {
        (secs(self.time_unix_nano), self.value)
    }
}

pub(crate) fn secs(unix_nano: i64) -> f64 {
    unix_nano as f64 / 1e9
}

/// Tick steps in seconds: round clock intervals, from a second to a month.
const STEPS: &[u64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800, 2_592_000,
];
const DAY: u64 = 86_400;

/// Where the ticks of a time axis go and how they are labelled.
#[derive(Debug, Clone)]
pub(crate) struct TimeAxis {
    step: u64,
    span: f64,
    start: f64,
    end: f64,
}

impl TimeAxis {
    /// An axis over `range` with at most `max_ticks` labelled ticks.
    pub(crate) fn new(range: &TimeRange, max_ticks: usize) -> TimeAxis {
        let Range { start, end } = range.seconds();
        let span = (end - start).max(1.0);
        let max_ticks = max_ticks.max(2) as f64;
        let step = STEPS
            .iter()
            .copied()
            .find(|&s| span / s as f64 <= max_ticks)
            .unwrap_or(*STEPS.last().unwrap_or(&DAY));
        TimeAxis {
            step,
            span,
            start,
            end,
        }
    }

    /// Tick positions in Unix seconds, on multiples of the step (so whole
    /// minutes, hours, and UTC midnights for days).
    pub(crate) fn ticks(&self) -> Vec<f64> {
        let step = self.step as f64;
        let mut t = (self.start / step).ceil() * step;
        let mut ticks = Vec::new();
        while t <= self.end {
            ticks.push(t);
            t += step;
        }
        ticks
    }

    /// A tick's label: `HH:MM:SS`, `HH:MM`, `MM-DD HH:MM` or `YYYY-MM-DD`.
    pub(crate) fn label(&self, t: f64) -> String {
        let s = rfc3339(t); // 2026-11-26T11:37:26Z
        if self.step >= DAY {
            s[..10].to_owned()
        } else if self.span > DAY as f64 {
            format!("{} {}", &s[5..10], &s[11..16])
        } else if self.step < 60 {
            s[11..19].to_owned()
        } else {
            s[11..16].to_owned()
        }
    }

    /// The axis title, with the date when every tick is on one day.
    pub(crate) fn description(&self) -> String {
        let (first, last) = (rfc3339(self.start), rfc3339(self.end));
        if self.span <= DAY as f64 && first[..10] == last[..10] {
            format!("time (UTC, {})", &first[..10])
        } else {
            "time (UTC)".to_owned()
        }
    }
}

/// The x coordinate of a time chart: Unix seconds, ticked and labelled by a [`TimeAxis`].
#[derive(Debug, Clone)]
pub(crate) struct TimeX {
    axis: TimeAxis,
    seconds: Range<f64>,
}

impl TimeX {
    pub(crate) fn new(range: &TimeRange, axis: TimeAxis) -> TimeX {
        TimeX {
            axis,
            seconds: range.seconds(),
        }
    }
}

impl Ranged for TimeX {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.seconds.clone()).map(value, limit)
    }

    /// The axis's ticks for labels and bold grid lines; no light grid lines.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.axis.ticks()
        }
    }

    fn range(&self) -> Range<f64> {
        self.seconds.clone()
    }
}

impl ValueFormatter<f64> for TimeX {
    fn format_ext(&self, value: &f64) -> String {
        self.axis.label(*value)
    }
}

fn rfc3339(unix_secs: f64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(unix_secs.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_26_11H: i64 = 1_795_690_800; // 2026-11-26T11:00:00Z

    fn axis(start_s: i64, span_s: i64) -> TimeAxis {
        let range = TimeRange::new(start_s * 1_000_000_000, (start_s + span_s) * 1_000_000_000);
        TimeAxis::new(&range, 8)
    }

    #[test]
    fn short_ranges_tick_on_round_seconds() {
        let a = axis(NOV_26_11H + 3, 60);
        let ticks = a.ticks();
        assert_eq!(a.step, 10);
        assert_eq!(a.label(ticks[0]), "11:00:10");
        assert_eq!(a.description(), "time (UTC, 2026-11-26)");
    }

    #[test]
    fn an_hour_ticks_on_round_minutes() {
        let a = axis(NOV_26_11H - 120, 3600);
        assert_eq!(a.step, 600);
        let labels: Vec<_> = a.ticks().iter().map(|&t| a.label(t)).collect();
        assert_eq!(labels[0], "11:00");
        assert!(labels.len() <= 8);
    }

    #[test]
    fn days_show_dates() {
        let a = axis(NOV_26_11H, 3 * 86_400);
        assert_eq!(a.label(a.ticks()[0]), "11-26 12:00");
        assert_eq!(a.description(), "time (UTC)");
        let a = axis(NOV_26_11H, 30 * 86_400);
        assert_eq!(a.label(a.ticks()[0]), "2026-12-03"); // weekly, on UTC midnights
    }

    #[test]
    fn ranges_describe_themselves() {
        let r = TimeRange::new(
            NOV_26_11H * 1_000_000_000,
            (NOV_26_11H + 3600) * 1_000_000_000,
        );
        assert_eq!(r.describe(), "2026-11-26 11:00:00 – 12:00:00 UTC");
    }
}
