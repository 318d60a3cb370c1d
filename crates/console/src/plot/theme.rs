//! The look shared by every chart: the embedded font, a colour-blind-safe
//! palette (Okabe & Ito) with fixed meanings for states and outcomes, text
//! sizes, and the frame of title, chart and legend.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use switchyard_conventions::breaker::BreakerState;
use switchyard_conventions::saga::SagaOutcome;

use super::legend::{self, LegendEntry};

/// DejaVu Sans, embedded: plotters' other font path (font-kit) finds fonts
/// through fontconfig at run time, and fails to draw any text on a machine
/// without them; this one renders the same everywhere.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family every text style names; SVG viewers substitute their own sans.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters, once per process.
pub(crate) fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // Bold and italic fall back to this regular face.
        for family in [FAMILY, "serif", "monospace"] {
            let registered = plotters::style::register_font(family, FontStyle::Normal, FONT);
            // A bad font would fail every draw with "FontUnavailable"; the
            // tests draw, so this cannot reach a user.
            debug_assert!(registered.is_ok(), "the embedded font parses");
        }
    });
}

pub(crate) const BACKGROUND: RGBColor = WHITE;
pub(crate) const TEXT: RGBColor = RGBColor(34, 34, 34);
pub(crate) const MUTED: RGBColor = RGBColor(110, 110, 110);

// Okabe & Ito's palette, distinguishable with every common colour-vision deficiency.
pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(crate) const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
pub(crate) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(crate) const GREY: RGBColor = RGBColor(150, 150, 150);

/// Colours for the n-th of several like series (targets, status classes).
pub(crate) fn series_colour(index: usize) -> RGBColor {
    const CYCLE: [RGBColor; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, BLACK];
    CYCLE[index % CYCLE.len()]
}

/// Open is red, closed green, half-open the amber between them; the states
/// an operator sets get colours of their own.
pub(crate) fn state_colour(state: BreakerState) -> RGBColor {
    match state {
        BreakerState::Closed => GREEN,
        BreakerState::Open => VERMILLION,
        BreakerState::HalfOpen => ORANGE,
        BreakerState::ForcedOpen => PURPLE,
        BreakerState::Disabled => GREY,
        BreakerState::ObserveOnly => SKY_BLUE,
    }
}

/// Completed is green, failed red, compensated (undone, not lost) amber.
pub(crate) fn outcome_colour(outcome: SagaOutcome) -> RGBColor {
    match outcome {
        SagaOutcome::Completed => GREEN,
        SagaOutcome::Compensated => ORANGE,
        SagaOutcome::Failed => VERMILLION,
        SagaOutcome::Running => SKY_BLUE,
    }
}

pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&TEXT)
}

// plotters draws text at about 0.8 of the size it is given.
pub(crate) fn title() -> TextStyle<'static> {
    text(25.0)
}

pub(crate) fn axis_labels() -> TextStyle<'static> {
    text(15.0)
}

pub(crate) fn axis_description() -> TextStyle<'static> {
    text(16.0)
}

pub(crate) fn small() -> TextStyle<'static> {
    text(14.0)
}

/// An axis number without a needless `.0`: 100, 2.5, 0.25.
pub(crate) fn number(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').to_owned()
    }
}

/// Pixel sizes of the chart's label areas.
pub(crate) const X_LABEL_AREA: u32 = 50;
pub(crate) const Y_LABEL_AREA: u32 = 70;
pub(crate) const MARGIN: u32 = 12;

/// A chart's area and its legend's.
type ChartAndLegend<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Splits `root` into the chart and its legend, under the title.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title_text: &str,
) -> Result<ChartAndLegend<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let body = root.titled(title_text, title())?;
    let (width, _) = body.dim_in_pixel();
    let legend_width = (width / 5).clamp(150, 230);
    Ok(body.split_horizontally(width - legend_width))
}

/// How many time labels fit across a chart area without crowding.
pub(crate) fn max_time_ticks<DB: DrawingBackend>(chart: &DrawingArea<DB, Shift>) -> usize {
    let (width, _) = chart.dim_in_pixel();
    (width.saturating_sub(Y_LABEL_AREA * 2) / 90).max(2) as usize
}

/// A titled frame that says there is nothing to show, and for when.
pub(crate) fn draw_no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title_text: &str,
    detail: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let body = root
        .titled(title_text, title())?
        .margin(MARGIN, MARGIN, MARGIN, MARGIN);
    let (w, h) = body.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    body.draw(&Rectangle::new(
        [(0, 0), (w - 1, h - 1)],
        MUTED.stroke_width(1),
    ))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    body.draw_text(
        "no data in this range",
        &text(22.0).pos(centre),
        (w / 2, h / 2 - 14),
    )?;
    body.draw_text(
        detail,
        &small().color(&MUTED).pos(centre),
        (w / 2, h / 2 + 16),
    )?;
    Ok(())
}

/// Draws the legend in its area.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    legend::draw(area, entries, &small())
}

/// The top of a y axis for these values: a tenth of headroom above the
/// largest, and 1 when there is nothing above zero.
pub(crate) fn y_top(values: impl IntoIterator<Item = f64>) -> f64 {
    let max = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

/// Starts a time chart on `area`: x over `range` with `axis`'s ticks, y over `y`.
pub(crate) fn time_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    range: &super::TimeRange,
    axis: &super::time::TimeAxis,
    y: std::ops::Range<f64>,
    right_label_area: u32,
) -> Result<ChartContext<'a, DB, super::annotation::TimeCoord>, DrawingAreaErrorKind<DB::ErrorType>>
{
    ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .right_y_label_area_size(right_label_area)
        .build_cartesian_2d(super::time::TimeX::new(range, axis.clone()), y)
}

/// Draws a time chart's grid, tick labels and axis titles.
pub(crate) fn time_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, super::annotation::TimeCoord>,
    axis: &super::time::TimeAxis,
    y_description: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        .x_desc(axis.description())
        .y_desc(y_description)
        .y_label_formatter(&number)
        .label_style(axis_labels())
        .axis_desc_style(axis_description())
        .light_line_style(BACKGROUND)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
}
