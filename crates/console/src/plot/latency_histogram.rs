//! How long spans of one name took: a histogram of durations with the
//! p50, p95 and p99 marked, in whichever unit (µs, ms, s) suits them.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{LegendEntry, Swatch};
use super::theme;
use super::{DrawResult, Plot};

/// What a latency histogram shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    pub span_name: String,
    pub buckets: Vec<LatencyBucket>,
    pub percentiles: Percentiles,
}

/// `count` spans lasted from `lower_ns` up to (not including) `upper_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyBucket {
    pub lower_ns: i64,
    pub upper_ns: i64,
    pub count: u64,
}

/// The percentiles to mark; any may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
    pub p99_ns: Option<i64>,
}

impl LatencyHistogram {
    /// `buckets` equal buckets from zero to the longest duration, and the
    /// exact (nearest-rank) percentiles of `durations_ns`.
    pub fn from_durations(
        span_name: impl Into<String>,
        durations_ns: &[i64],
        buckets: usize,
    ) -> LatencyHistogram {
        let mut sorted: Vec<i64> = durations_ns.iter().map(|&d| d.max(0)).collect();
        sorted.sort_unstable();
        let span_name = span_name.into();
        let Some(&longest) = sorted.last() else {
            return LatencyHistogram {
                span_name,
                buckets: Vec::new(),
                percentiles: Percentiles::default(),
            };
        };
        let n = buckets.max(1) as i64;
        // Wide enough that the longest duration falls inside the last bucket.
        let width = (longest / n + 1).max(1);
        let mut counts = vec![0u64; n as usize];
        for &d in &sorted {
            counts[((d / width) as usize).min(n as usize - 1)] += 1;
        }
        let rank = |p: f64| {
            let i = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            Some(sorted[i - 1])
        };
        LatencyHistogram {
            span_name,
            buckets: counts
                .into_iter()
                .enumerate()
                .map(|(i, count)| LatencyBucket {
                    lower_ns: i as i64 * width,
                    upper_ns: (i as i64 + 1) * width,
                    count,
                })
                .collect(),
            percentiles: Percentiles {
                p50_ns: rank(50.0),
                p95_ns: rank(95.0),
                p99_ns: rank(99.0),
            },
        }
    }

    fn title(&self) -> String {
        format!("Latency of {}", self.span_name)
    }

    fn marks(&self) -> [(&'static str, Option<i64>, RGBColor); 3] {
        let p = &self.percentiles;
        [
            ("p50", p.p50_ns, theme::GREEN),
            ("p95", p.p95_ns, theme::ORANGE),
            ("p99", p.p99_ns, theme::VERMILLION),
        ]
    }
}

/// A duration unit: its name and nanoseconds per unit.
#[derive(Debug, Clone, Copy)]
struct Unit(&'static str, f64);

impl Unit {
    /// The unit in which `longest_ns` reads as a number from 1 to 10,000.
    fn for_longest(longest_ns: i64) -> Unit {
        match longest_ns {
            ..1_000_000 => Unit("µs", 1e3),
            1_000_000..10_000_000_000 => Unit("ms", 1e6),
            _ => Unit("s", 1e9),
        }
    }

    fn of(self, ns: i64) -> f64 {
        ns as f64 / self.1
    }

    fn format(self, ns: i64) -> String {
        let v = self.of(ns);
        let digits = if v >= 100.0 {
            0
        } else if v >= 10.0 {
            1
        } else {
            2
        };
        format!("{v:.digits$} {}", self.0)
    }
}

impl Plot for LatencyHistogram {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.buckets.iter().all(|b| b.count == 0) {
            let detail = format!("no spans named {:?}", self.span_name);
            return theme::draw_no_data(root, &self.title(), &detail);
        }
        let marks = self.marks();
        let longest = self
            .buckets
            .iter()
            .map(|b| b.upper_ns)
            .chain(marks.iter().filter_map(|m| m.1))
            .max()
            .unwrap_or(1)
            .max(1);
        let unit = Unit::for_longest(longest);
        let shortest = self
            .buckets
            .iter()
            .map(|b| b.lower_ns)
            .min()
            .unwrap_or(0)
            .min(0);
        let y_top = theme::y_top(self.buckets.iter().map(|b| b.count as f64));

        let (area, legend_area) = theme::frame(root, &self.title())?;
        let mut chart = ChartBuilder::on(&area)
            .margin(theme::MARGIN)
            .x_label_area_size(theme::X_LABEL_AREA)
            .y_label_area_size(theme::Y_LABEL_AREA)
            .build_cartesian_2d(unit.of(shortest)..unit.of(longest), 0.0..y_top)?;
        chart
            .configure_mesh()
            .x_desc(format!("duration ({})", unit.0))
            .y_desc("spans per bucket")
            .x_label_formatter(&theme::number)
            .y_label_formatter(&theme::number)
            .label_style(theme::axis_labels())
            .axis_desc_style(theme::axis_description())
            .light_line_style(theme::BACKGROUND)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;

        chart.draw_series(self.buckets.iter().filter(|b| b.count > 0).map(|b| {
            Rectangle::new(
                [
                    (unit.of(b.lower_ns), 0.0),
                    (unit.of(b.upper_ns), b.count as f64),
                ],
                theme::SKY_BLUE.filled(),
            )
        }))?;
        chart.draw_series(self.buckets.iter().filter(|b| b.count > 0).map(|b| {
            Rectangle::new(
                [
                    (unit.of(b.lower_ns), 0.0),
                    (unit.of(b.upper_ns), b.count as f64),
                ],
                theme::BLUE.stroke_width(1),
            )
        }))?;

        let mut legend = vec![LegendEntry::new("spans", theme::SKY_BLUE, Swatch::Block)];
        for (name, at, colour) in marks {
            let Some(ns) = at else { continue };
            let x = unit.of(ns);
            chart.draw_series(DashedLineSeries::new(
                [(x, 0.0), (x, y_top)],
                6,
                4,
                colour.stroke_width(2),
            ))?;
            let style = theme::small().pos(Pos::new(HPos::Left, VPos::Top));
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, y_top)) + Text::new(name, (4, 4), style),
            ))?;
            legend.push(LegendEntry::new(
                format!("{name} {}", unit.format(ns)),
                colour,
                Swatch::Dashed,
            ));
        }
        theme::draw_legend(&legend_area, &legend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_buckets_and_exact_percentiles() {
        let durations: Vec<i64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        let h = LatencyHistogram::from_durations("GET /orders", &durations, 10);
        assert_eq!(h.buckets.len(), 10);
        assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), 100);
        assert!(h.buckets.last().unwrap().upper_ns > 100_000_000);
        assert_eq!(h.percentiles.p50_ns, Some(50_000_000));
        assert_eq!(h.percentiles.p95_ns, Some(95_000_000));
        assert_eq!(h.percentiles.p99_ns, Some(99_000_000));
    }

    #[test]
    fn no_durations_make_an_empty_histogram() {
        let h = LatencyHistogram::from_durations("x", &[], 10);
        assert!(h.buckets.is_empty());
        assert_eq!(h.percentiles, Percentiles::default());
    }

    #[test]
    fn units_suit_the_longest_duration() {
        assert_eq!(Unit::for_longest(900_000).0, "µs");
        assert_eq!(Unit::for_longest(2_500_000_000).0, "ms");
        assert_eq!(Unit::for_longest(25_000_000_000).0, "s");
        assert_eq!(Unit::for_longest(2_500_000).format(12_345_678), "12.3 ms");
    }
}
