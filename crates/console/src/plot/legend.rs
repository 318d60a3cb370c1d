//! A legend drawn in its own area beside the chart, so it never covers data
//! (plotters' built-in legend sits inside the plotting area).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How a legend entry's swatch is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    Line,
    Dashed,
    Block,
}

#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) colour: RGBColor,
    pub(crate) swatch: Swatch,
}

impl LegendEntry {
    pub(crate) fn new(label: impl Into<String>, colour: RGBColor, swatch: Swatch) -> LegendEntry {
        LegendEntry {
            label: label.into(),
            colour,
            swatch,
        }
    }
}

const ROW: i32 = 24;
const SWATCH: i32 = 22;

pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    style: &TextStyle<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let left = 12;
    let top = 24;
    let label_style = style.pos(Pos::new(HPos::Left, VPos::Center));
    for (i, entry) in entries.iter().enumerate() {
        let y = top + i as i32 * ROW;
        match entry.swatch {
            Swatch::Line => {
                area.draw(&PathElement::new(
                    [(left, y), (left + SWATCH, y)],
                    entry.colour.stroke_width(3),
                ))?;
            }
            Swatch::Dashed => {
                for x in (left..left + SWATCH).step_by(8) {
                    area.draw(&PathElement::new(
                        [(x, y), ((x + 5).min(left + SWATCH), y)],
                        entry.colour.stroke_width(3),
                    ))?;
                }
            }
            Swatch::Block => {
                area.draw(&Rectangle::new(
                    [(left, y - 7), (left + SWATCH, y + 7)],
                    entry.colour.filled(),
                ))?;
            }
        }
        area.draw_text(&entry.label, &label_style, (left + SWATCH + 8, y))?;
    }
    Ok(())
}
