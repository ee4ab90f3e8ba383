//! `faultline serve`: browse the store over HTTP. `/` is the store index, regenerated on
//! every request so new runs appear; every other path is a file under the store, and a run
//! folder without its `index.html` gets one rendered on first visit.
//!
//! It serves only files inside the store folder (paths are canonicalised and checked), and
//! binds to loopback unless `--host` says otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::cli::ServeArgs;
use crate::exit::bad_input;

struct Store {
    root: PathBuf,
}

/// Run `faultline serve` until interrupted.
pub async fn run(args: &ServeArgs) -> Result<()> {
    if !args.store.is_dir() {
        bad_input!(
            "{} is not a store folder: run `faultline test` first, or give --store DIR",
            args.store.display()
        );
    }
    let root = std::fs::canonicalize(&args.store)?;
    let state = Arc::new(Store { root });
    let app = Router::new().fallback(serve_path).with_state(state);
    let addr = format!("{}:{}", args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => bad_input!("cannot listen on {addr} ({e}): give another --port"),
    };
    println!("serving {} at http://{addr}/", args.store.display());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the web server failed")
}

async fn serve_path(State(store): State<Arc<Store>>, uri: Uri) -> Response {
    let store = store.clone();
    let path = uri.path().to_string();
    tokio::task::spawn_blocking(move || respond(&store.root, &path))
        .await
        .unwrap_or_else(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")))
}

fn respond(root: &Path, request_path: &str) -> Response {
    let relative = request_path.trim_start_matches('/');
    let relative = percent_decode(relative);
    if relative.is_empty() || relative == "index.html" {
        return match faultline_reports::render_store_index(root) {
            Ok(index) => file(&index),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let Ok(path) = std::fs::canonicalize(root.join(&relative)) else {
        return text(StatusCode::NOT_FOUND, format!("no {relative} in the store"));
    };
    if !path.starts_with(root) {
        return text(StatusCode::FORBIDDEN, "outside the store".to_string());
    }
    if path.is_dir() {
        let index = path.join("index.html");
        if !index.is_file() && path.join("history.jsonl").is_file() {
            if let Err(e) = faultline_reports::render_run(&path) {
                return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
            }
        }
        if index.is_file() {
            // Redirect so relative links in the page resolve inside the run folder.
            if !request_path.ends_with('/') {
                return (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, format!("{request_path}/"))],
                )
                    .into_response();
            }
            return file(&index);
        }
        return text(StatusCode::NOT_FOUND, format!("{relative} has no report"));
    }
    file(&path)
}

fn file(path: &Path) -> Response {
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    };
    match std::fs::read(path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(e) => text(StatusCode::NOT_FOUND, format!("{}: {e}", path.display())),
    }
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

fn percent_decode(text: &str) -> String {
    crate::escapes::unescape(text, b'%', 2, 16)
}
