//! Errors of rendering a plot.

/// Why a plot could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The requested image size is too small to lay out or too large to allocate.
    #[error("a plot must be {min_w}x{min_h} to {max}x{max} pixels, not {width}x{height}", min_w = super::Size::MIN.width, min_h = super::Size::MIN.height, max = super::Size::MAX_SIDE)]
    Size { width: u32, height: u32 },
    /// The output file's extension names no format we write.
    #[error("cannot tell the image format of {0:?}: name it .svg or .png")]
    UnknownFormat(std::path::PathBuf),
    /// plotters failed to draw (a backend or font error).
    #[error("drawing the plot failed: {0}")]
    Draw(String),
    #[error("encoding the PNG failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("writing {path:?} failed: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, PlotError>;
