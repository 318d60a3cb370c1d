//! Charts of what the patterns did, drawn with plotters: SVG for the UI, PNG
//! for export. Each chart takes a plain input type (filled from the store's
//! models elsewhere) and implements [`Plot`]; [`render_svg`], [`render_png`]
//! and [`write_file`] turn any of them into an image.
//!
//! Text is measured and drawn with an embedded DejaVu Sans (see `theme`), so
//! a PNG looks the same on a machine with no fonts installed.

mod annotation;
mod breaker_timeline;
mod error;
pub mod from_store;
mod latency_histogram;
mod legend;
mod route_throughput;
mod saga_outcomes;
mod theme;
mod time;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use annotation::Annotation;
pub use breaker_timeline::{BreakerTimeline, StateChange};
pub use error::{PlotError, Result};
pub use latency_histogram::{LatencyBucket, LatencyHistogram, Percentiles};
pub use route_throughput::{RouteThroughput, ThroughputSeries};
pub use saga_outcomes::{OutcomeCounts, SagaOutcomes};
pub use time::{Sample, TimeRange};

/// What a chart's drawing returns: plotters' error for the backend in use.
pub type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
pub trait Plot {
    /// Draws the whole chart (title, axes, legend) onto `area`, which is
    /// already filled with the background colour.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// An image's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    /// Below this the axes, legend and title no longer fit.
    pub const MIN: Size = Size {
        width: 320,
        height: 200,
    };
    /// Bounds the RGB buffer of a PNG (8000² × 3 bytes = 192 MB).
    pub const MAX_SIDE: u32 = 8000;

    pub const fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    fn check(self) -> Result<(u32, u32)> {
        let fits = |v: u32, min: u32| (min..=Self::MAX_SIDE).contains(&v);
        if fits(self.width, Self::MIN.width) && fits(self.height, Self::MIN.height) {
            Ok((self.width, self.height))
        } else {
            Err(PlotError::Size {
                width: self.width,
                height: self.height,
            })
        }
    }
}

impl Default for Size {
    fn default() -> Self {
        Size::new(1000, 500)
    }
}

/// An image format we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format named by a file's extension (`.svg`, `.png`, any case).
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "svg" => Ok(Format::Svg),
            "png" => Ok(Format::Png),
            _ => Err(PlotError::UnknownFormat(path.to_owned())),
        }
    }
}

/// The chart as an SVG document.
pub fn render_svg(plot: &impl Plot, size: Size) -> Result<String> {
    let dims = size.check()?;
    theme::register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, dims).into_drawing_area();
        draw_on(plot, &root)?;
    }
    Ok(svg)
}

/// The chart as a PNG file's bytes (8-bit RGB).
pub fn render_png(plot: &impl Plot, size: Size) -> Result<Vec<u8>> {
    let (width, height) = size.check()?;
    theme::register_font();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_on(plot, &root)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The chart in `format`, as bytes.
pub fn render(plot: &impl Plot, size: Size, format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Svg => render_svg(plot, size).map(String::into_bytes),
        Format::Png => render_png(plot, size),
    }
}

/// Writes the chart to `path`, as SVG or PNG by its extension.
pub fn write_file(plot: &impl Plot, size: Size, path: &Path) -> Result<()> {
    let bytes = render(plot, size, Format::from_path(path)?)?;
    std::fs::write(path, bytes).map_err(|source| PlotError::Write {
        path: path.to_owned(),
        source,
    })
}

fn draw_on<DB: DrawingBackend>(plot: &impl Plot, root: &DrawingArea<DB, Shift>) -> Result<()> {
    let draw_error = |e: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(e.to_string());
    root.fill(&theme::BACKGROUND).map_err(draw_error)?;
    plot.draw(root).map_err(draw_error)?;
    root.present().map_err(draw_error)
}
