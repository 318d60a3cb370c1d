//! Requests per second through one gateway route, one line per target
//! (legacy and new during a strangler-fig migration) or per status class.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::annotation::{self, Annotation};
use super::legend::{LegendEntry, Swatch};
use super::theme;
use super::time::{Sample, TimeAxis, TimeRange};
use super::{DrawResult, Plot};

/// What a route throughput chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteThroughput {
    pub route: String,
    pub range: TimeRange,
    /// One line each, in legend order.
    pub series: Vec<ThroughputSeries>,
    /// Weight changes and other commands to mark.
    pub annotations: Vec<Annotation>,
}

/// One line: a target's (or status class's) requests per second.
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputSeries {
    /// The legend's label, e.g. `legacy`, `new` or `5xx`.
    pub name: String,
    pub points: Vec<Sample>,
}

impl ThroughputSeries {
    pub fn new(name: impl Into<String>, points: Vec<Sample>) -> ThroughputSeries {
        ThroughputSeries {
            name: name.into(),
            points,
        }
    }
}

impl RouteThroughput {
    fn title(&self) -> String {
        format!("Throughput of route {}", self.route)
    }
}

impl Plot for RouteThroughput {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.range.is_empty() || self.series.iter().all(|s| s.points.is_empty()) {
            return theme::draw_no_data(root, &self.title(), &self.range.describe());
        }
        let (area, legend_area) = theme::frame(root, &self.title())?;
        let axis = TimeAxis::new(&self.range, theme::max_time_ticks(&area));
        let all = self.series.iter().flat_map(|s| &s.points);
        let y = 0.0..theme::y_top(all.map(|p| p.value));
        let mut chart = theme::time_chart(&area, &self.range, &axis, y.clone(), 0)?;
        theme::time_mesh(&mut chart, &axis, "requests/s")?;

        let mut legend = Vec::new();
        for (i, series) in self.series.iter().enumerate() {
            let colour = theme::series_colour(i);
            let mut points: Vec<(f64, f64)> = series.points.iter().map(Sample::point).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(LineSeries::new(points, colour.stroke_width(2)))?;
            legend.push(LegendEntry::new(&series.name, colour, Swatch::Line));
        }
        annotation::draw(&mut chart, &self.annotations, &self.range, y)?;
        theme::draw_legend(&legend_area, &legend)
    }
}
