//! How sagas ended, interval by interval: completed, compensated, failed and
//! still running, stacked, so a rise in compensations stands out at a glance.

use plotters::coord::Shift;
use plotters::prelude::*;
use switchyard_conventions::saga::SagaOutcome;

use super::annotation::{self, Annotation};
use super::legend::{LegendEntry, Swatch};
use super::theme;
use super::time::{TimeAxis, TimeRange, secs};
use super::{DrawResult, Plot};

/// What a saga outcomes chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaOutcomes {
    /// The saga definition, or `None` for every saga.
    pub saga_name: Option<String>,
    pub range: TimeRange,
    /// The length of every interval, in nanoseconds.
    pub interval_ns: i64,
    /// Intervals with at least one saga (others may be left out).
    pub intervals: Vec<OutcomeCounts>,
    /// Retries, compensations and other commands to mark.
    pub annotations: Vec<Annotation>,
}

/// How many sagas that started in one interval ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub start_unix_nano: i64,
    pub completed: u64,
    pub compensated: u64,
    pub failed: u64,
    pub running: u64,
}

impl OutcomeCounts {
    /// Bottom to top as stacked: the good news at the base.
    fn stack(&self) -> [(SagaOutcome, u64); 4] {
        [
            (SagaOutcome::Completed, self.completed),
            (SagaOutcome::Compensated, self.compensated),
            (SagaOutcome::Failed, self.failed),
            (SagaOutcome::Running, self.running),
        ]
    }

    fn total(&self) -> u64 {
        self.completed + self.compensated + self.failed + self.running
    }
}

impl SagaOutcomes {
    fn title(&self) -> String {
        match &self.saga_name {
            Some(name) => format!("Outcomes of saga {name}"),
            None => "Saga outcomes".to_owned(),
        }
    }
}

impl Plot for SagaOutcomes {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.range.is_empty()
            || self.interval_ns <= 0
            || self.intervals.iter().all(|i| i.total() == 0)
        {
            return theme::draw_no_data(root, &self.title(), &self.range.describe());
        }
        let (area, legend_area) = theme::frame(root, &self.title())?;
        let axis = TimeAxis::new(&self.range, theme::max_time_ticks(&area));
        let y = 0.0..theme::y_top(self.intervals.iter().map(|i| i.total() as f64));
        let mut chart = theme::time_chart(&area, &self.range, &axis, y.clone(), 0)?;
        let every =
            humantime::format_duration(std::time::Duration::from_nanos(self.interval_ns as u64));
        theme::time_mesh(&mut chart, &axis, &format!("sagas per {every}"))?;

        // A tenth of each interval left blank so neighbouring bars stay apart.
        let width = secs(self.interval_ns);
        let (start, end) = (
            secs(self.range.start_unix_nano),
            secs(self.range.end_unix_nano),
        );
        let mut bars = Vec::new();
        for interval in &self.intervals {
            let x0 = (secs(interval.start_unix_nano) + width * 0.05).max(start);
            let x1 = (secs(interval.start_unix_nano) + width * 0.95).min(end);
            if x1 <= x0 {
                continue;
            }
            let mut base = 0.0;
            for (outcome, count) in interval.stack() {
                if count > 0 {
                    let top = base + count as f64;
                    bars.push(Rectangle::new(
                        [(x0, base), (x1, top)],
                        theme::outcome_colour(outcome).filled(),
                    ));
                    base = top;
                }
            }
        }
        chart.draw_series(bars)?;
        annotation::draw(&mut chart, &self.annotations, &self.range, y)?;

        let legend: Vec<LegendEntry> = SagaOutcome::ALL
            .iter()
            .map(|&o| LegendEntry::new(o.as_str(), theme::outcome_colour(o), Swatch::Block))
            .collect();
        theme::draw_legend(&legend_area, &legend)
    }
}
