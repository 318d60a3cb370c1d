//! Endpoints over the console's models: saga search, one saga's flow and the aggregate
//! flow per saga name, breaker history, plots. Each model adds its own module beside
//! this one with a `routes()` like the others, merged here; the router mounts this
//! under `/api` with the same state, auth and error answers as the rest.

use axum::Router;

use super::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
