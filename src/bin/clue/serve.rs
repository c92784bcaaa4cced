//! `clue serve`: the static page (`www/`), the wasm package (`pkg/`) and the default model
//! (`models/`) over HTTP, with `application/wasm` for `.wasm` and the cross-origin isolation
//! headers (COOP/COEP) that shared memory and precise timers in the page need.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Serves `root`'s `www/` at `/`, `pkg/` at `/pkg/` and `models/` at `/models/` until Ctrl-C.
pub fn run(host: IpAddr, port: u16, root: &Path) -> Result<(), String> {
    let www = root.join("www");
    if !www.join("index.html").is_file() {
        return Err(format!(
            "{} has no index.html: run clue serve from the repository root or pass --root",
            www.display()
        ));
    }
    if !root.join("pkg").join("clue.js").is_file() {
        eprintln!(
            "clue: warning: {} has no clue.js yet; build it with scripts/build-wasm",
            root.join("pkg").display()
        );
    }
    let app = router(root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
            .await
            .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        // The one line scripts and tests wait for; flushed because stdout may be a pipe.
        println!("Serving the CLUE page at http://{address}/");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}

/// The routes and headers, separate from the listener so the layout is readable at a glance.
fn router(root: &Path) -> Router {
    // Model weights are already compressed by quantization; gzip would only burn CPU.
    let compress =
        DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream"));
    Router::new()
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/models", ServeDir::new(root.join("models")))
        .fallback_service(ServeDir::new(root.join("www")))
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}
