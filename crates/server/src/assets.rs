//! The web UI, built by Vite into `ui/dist` and embedded in the binary, so `ccscope serve` is a
//! single file. Unknown paths get `index.html` (the UI routes with `#/…`).

use axum::{
    extract::Request,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../../ui/dist/"]
struct Ui;

pub async fn serve(request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    if path.starts_with("api/") {
        return (StatusCode::NOT_FOUND, "no such API route").into_response();
    }
    let (file, name) = match Ui::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (file, path),
        None => match Ui::get("index.html") {
            Some(file) => (file, "index.html"),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "the web UI is not built into this binary",
                )
                    .into_response();
            }
        },
    };
    let mime = file.metadata.mimetype().to_owned();
    // Hashed asset names never change content; index.html must always be fetched anew.
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-store"
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        file.data.into_owned(),
    )
        .into_response()
}
