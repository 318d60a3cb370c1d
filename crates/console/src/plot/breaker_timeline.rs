//! A breaker's state over time as coloured bands, with its failure rate and
//! the calls it rejected: when it opened, why (the rate crossed its
//! threshold), and what that cost callers.

use plotters::coord::Shift;
use plotters::prelude::*;
use switchyard_conventions::breaker::BreakerState;

use super::annotation::{self, Annotation};
use super::legend::{LegendEntry, Swatch};
use super::theme;
use super::time::{Sample, TimeAxis, TimeRange, secs};
use super::{DrawResult, Plot};

/// What a breaker state timeline shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerTimeline {
    pub breaker: String,
    pub range: TimeRange,
    /// Each state holds from its time until the next change (the last one
    /// until the range's end); a change before the range sets its start.
    pub states: Vec<StateChange>,
    /// The `breaker.failure_rate` gauge, in percent.
    pub failure_rate: Vec<Sample>,
    /// Calls rejected per second; drawn on a right-hand axis when given.
    pub rejected_per_s: Vec<Sample>,
    /// Commands and other moments to mark.
    pub annotations: Vec<Annotation>,
}

/// The breaker entered `state` at `time_unix_nano`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub time_unix_nano: i64,
    pub state: BreakerState,
}

impl StateChange {
    pub const fn new(time_unix_nano: i64, state: BreakerState) -> StateChange {
        StateChange {
            time_unix_nano,
            state,
        }
    }
}

const RATE_AXIS: std::ops::Range<f64> = 0.0..100.0;
/// The solid strip at the top of the chart that names the state at a glance.
const STRIP_FROM: f64 = 94.0;

impl BreakerTimeline {
    fn title(&self) -> String {
        format!("Breaker {}: state and failure rate", self.breaker)
    }

    fn has_data(&self) -> bool {
        !(self.states.is_empty() && self.failure_rate.is_empty() && self.rejected_per_s.is_empty())
    }

    /// `(from, to, state)` in Unix seconds, clipped to the range.
    fn bands(&self) -> Vec<(f64, f64, BreakerState)> {
        let mut changes = self.states.clone();
        changes.sort_by_key(|c| c.time_unix_nano);
        let (start, end) = (self.range.start_unix_nano, self.range.end_unix_nano);
        let mut bands = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            let from = change.time_unix_nano.max(start);
            let to = changes
                .get(i + 1)
                .map_or(end, |next| next.time_unix_nano)
                .min(end);
            if to > from {
                bands.push((secs(from), secs(to), change.state));
            }
        }
        bands
    }

    fn legend(&self, bands: &[(f64, f64, BreakerState)]) -> Vec<LegendEntry> {
        let mut entries = vec![LegendEntry::new(
            "failure rate (%)",
            theme::BLUE,
            Swatch::Line,
        )];
        if !self.rejected_per_s.is_empty() {
            entries.push(LegendEntry::new("rejected calls/s", BLACK, Swatch::Dashed));
        }
        for state in BreakerState::ALL {
            if bands.iter().any(|b| b.2 == *state) {
                entries.push(LegendEntry::new(
                    format!("state: {state}"),
                    theme::state_colour(*state),
                    Swatch::Block,
                ));
            }
        }
        entries
    }
}

impl Plot for BreakerTimeline {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.range.is_empty() || !self.has_data() {
            return theme::draw_no_data(root, &self.title(), &self.range.describe());
        }
        let (area, legend_area) = theme::frame(root, &self.title())?;
        let axis = TimeAxis::new(&self.range, theme::max_time_ticks(&area));
        let has_rejected = !self.rejected_per_s.is_empty();
        let right_area = if has_rejected { theme::Y_LABEL_AREA } else { 0 };
        let rejected_top = theme::y_top(self.rejected_per_s.iter().map(|s| s.value));
        let mut chart = theme::time_chart(&area, &self.range, &axis, RATE_AXIS, right_area)?
            .set_secondary_coord(self.range.seconds(), 0.0..rejected_top);
        theme::time_mesh(&mut chart, &axis, "failure rate (%)")?;
        if has_rejected {
            chart
                .configure_secondary_axes()
                .y_desc("rejected calls/s")
                .y_label_formatter(&theme::number)
                .label_style(theme::axis_labels())
                .axis_desc_style(theme::axis_description())
                .draw()?;
        }

        let bands = self.bands();
        chart.draw_series(bands.iter().map(|&(from, to, state)| {
            let colour = theme::state_colour(state);
            Rectangle::new([(from, 0.0), (to, STRIP_FROM)], colour.mix(0.18).filled())
        }))?;
        chart.draw_series(bands.iter().map(|&(from, to, state)| {
            let colour = theme::state_colour(state);
            Rectangle::new([(from, STRIP_FROM), (to, 100.0)], colour.filled())
        }))?;

        let rate = self
            .failure_rate
            .iter()
            .map(|s| (secs(s.time_unix_nano), s.value.clamp(0.0, 100.0)));
        chart.draw_series(LineSeries::new(rate, theme::BLUE.stroke_width(2)))?;
        if has_rejected {
            chart.draw_secondary_series(DashedLineSeries::new(
                self.rejected_per_s.iter().map(Sample::point),
                8,
                5,
                BLACK.stroke_width(2),
            ))?;
        }
        // Under the state strip, so the labels don't hide the state.
        annotation::draw(&mut chart, &self.annotations, &self.range, 0.0..STRIP_FROM)?;
        theme::draw_legend(&legend_area, &self.legend(&bands))
    }
}
