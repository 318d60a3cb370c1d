//! Command annotations: a dashed vertical marker with a label ("trip by
//! alice") at the time an operator acted, on every time chart, so the effect
//! of a command can be read off the lines beside it.

use std::ops::Range;

use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::theme;
use super::time::{TimeRange, TimeX, secs};

/// A labelled moment on a time chart, e.g. a command and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub time_unix_nano: i64,
    pub label: String,
}

impl Annotation {
    pub fn new(time_unix_nano: i64, label: impl Into<String>) -> Annotation {
        Annotation {
            time_unix_nano,
            label: label.into(),
        }
    }
}

/// The coordinates of every time chart: Unix seconds on round-time ticks, and a number.
pub(crate) type TimeCoord = Cartesian2d<TimeX, RangedCoordf64>;

/// Labels stagger over this many rows so that close commands stay legible.
const ROWS: usize = 3;

/// Draws the annotations that fall in `range` over `y`, labels at its top.
pub(crate) fn draw<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, TimeCoord>,
    annotations: &[Annotation],
    range: &TimeRange,
    y: Range<f64>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut shown: Vec<&Annotation> = annotations
        .iter()
        .filter(|a| range.contains(a.time_unix_nano))
        .collect();
    shown.sort_by_key(|a| a.time_unix_nano);
    let Range { start, end } = range.seconds();
    for (i, a) in shown.into_iter().enumerate() {
        let x = secs(a.time_unix_nano);
        chart.draw_series(DashedLineSeries::new(
            [(x, y.start), (x, y.end)],
            6,
            4,
            theme::TEXT.stroke_width(1),
        ))?;
        // Labels in the right quarter read leftwards so they stay inside the chart.
        let leftwards = x > start + (end - start) * 0.75;
        let (anchor, dx) = if leftwards {
            (HPos::Right, -5)
        } else {
            (HPos::Left, 5)
        };
        let style = theme::small().pos(Pos::new(anchor, VPos::Top));
        let dy = 4 + (i % ROWS) as i32 * 16;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, y.end)) + Text::new(a.label.clone(), (dx, dy), style),
        ))?;
    }
    Ok(())
}
