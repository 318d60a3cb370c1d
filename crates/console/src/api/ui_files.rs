//! The UI's files: the built front end (`ui/dist`), with `index.html` for every path
//! that is not a file so the UI's own routes (`/sagas/123`) load the app; or, when the
//! UI is not built, a page that says so and lists the API.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};

/// Where the UI comes from.
#[derive(Debug, Clone)]
pub enum UiFiles {
    /// A built UI: a directory with `index.html`.
    Dir(PathBuf),
    /// No UI: the built-in page.
    Missing,
}

impl UiFiles {
    /// `dir` if given (it must hold `index.html`), else `default` if it holds one, else
    /// [`UiFiles::Missing`].
    pub fn choose(dir: Option<&Path>, default: &Path) -> Result<UiFiles, std::io::Error> {
        match dir {
            Some(dir) if dir.join("index.html").is_file() => Ok(UiFiles::Dir(dir.to_owned())),
            Some(dir) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} has no index.html: build the UI first (cd ui && npm run build)",
                    dir.display()
                ),
            )),
            None if default.join("index.html").is_file() => Ok(UiFiles::Dir(default.to_owned())),
            None => Ok(UiFiles::Missing),
        }
    }

    pub(crate) fn router(&self) -> Router {
        match self {
            UiFiles::Dir(dir) => Router::new().fallback_service(
                ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))),
            ),
            UiFiles::Missing => Router::new().fallback(not_built),
        }
    }
}

async fn not_built() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(include_str!("not_built.html")),
    )
}
