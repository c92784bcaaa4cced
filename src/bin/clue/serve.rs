//! `clue serve`: the static page (`www/`), the wasm package (`pkg/`) and the default model
//! (`models/`) over HTTP, with `application/wasm` for `.wasm`, the cross-origin isolation
//! headers (COOP/COEP) that shared memory and precise timers in the page need, and the page's
//! Content-Security-Policy on every response.
//!
//! The policy is the page's own, read from the `<meta>` tag of `www/index.html` (the embed view,
//! `embed.html`, carries the same one), so a static host that sends no headers and this server
//! enforce the same one. `--model-host` widens its `connect-src` by origins that serve models, in
//! the header and in the pages' tags alike (both are enforced, so both must name them).
//!
//! It serves only what is meant to be served: every response says `X-Content-Type-Options:
//! nosniff`, a path with a segment starting with `.` (`.git/`, `.env`) is not found, and a
//! symlink that leads out of its root (`www/`, `pkg/`, `models/`) is not followed.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Serves `root`'s `www/` at `/`, `pkg/` at `/pkg/` and `models/` at `/models/` until Ctrl-C;
/// `model_hosts` are origins the page may fetch models from besides its own and Hugging Face.
pub fn run(host: IpAddr, port: u16, root: &Path, model_hosts: &[String]) -> Result<(), String> {
    let www = root.join("www");
    let index_path = www.join("index.html");
    if !index_path.is_file() {
        return Err(format!(
            "{} has no index.html: run clue serve from the repository root or pass --root",
            www.display()
        ));
    }
    let index = std::fs::read_to_string(&index_path)
        .map_err(|e| format!("{}: {e}", index_path.display()))?;
    let page =
        Page::new(&index, model_hosts).map_err(|e| format!("{}: {e}", index_path.display()))?;
    if !root.join("pkg").join("clue.js").is_file() {
        eprintln!(
            "clue: warning: {} has no clue.js yet; build it with scripts/build-wasm",
            root.join("pkg").display()
        );
    }
    let app = router(root, page);
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

/// The page as served: `index.html` with its policy widened by the model hosts, and that policy.
struct Page {
    html: String,
    policy: HeaderValue,
    model_hosts: Vec<String>,
}

impl Page {
    fn new(index: &str, model_hosts: &[String]) -> Result<Page, String> {
        let marker = r#"http-equiv="Content-Security-Policy""#;
        let meta = index.find(marker).ok_or(
            "no <meta http-equiv=\"Content-Security-Policy\"> tag: the page's privacy rests on it",
        )?;
        let content = index[meta..]
            .find(r#"content=""#)
            .map(|at| meta + at + r#"content=""#.len())
            .ok_or("the Content-Security-Policy <meta> tag has no content")?;
        let end = index[content..]
            .find('"')
            .map(|at| content + at)
            .ok_or("the Content-Security-Policy <meta> tag's content is not closed")?;
        let policy = with_model_hosts(&index[content..end], model_hosts)?;
        let html = format!("{}{policy}{}", &index[..content], &index[end..]);
        let policy = HeaderValue::from_str(&policy)
            .map_err(|_| "the Content-Security-Policy is not a valid header value".to_string())?;
        Ok(Page {
            html,
            policy,
            model_hosts: model_hosts.to_vec(),
        })
    }
}

/// `policy` with `hosts` (each an http(s) origin: scheme, host and port, nothing more) added to
/// its `connect-src` directive.
fn with_model_hosts(policy: &str, hosts: &[String]) -> Result<String, String> {
    for host in hosts {
        let origin = host
            .strip_prefix("https://")
            .or_else(|| host.strip_prefix("http://"));
        let valid = origin.is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !valid {
            return Err(format!(
                "--model-host {host:?} is not an origin such as https://models.example.org \
                 (scheme and host, no path)"
            ));
        }
    }
    if hosts.is_empty() {
        return Ok(policy.to_string());
    }
    let mut found = false;
    let directives: Vec<String> = policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|directive| {
            if directive.split_whitespace().next() == Some("connect-src") {
                found = true;
                format!("{directive} {}", hosts.join(" "))
            } else {
                directive.to_string()
            }
        })
        .collect();
    if !found {
        return Err("the Content-Security-Policy has no connect-src directive to widen".into());
    }
    Ok(directives.join("; "))
}

/// The directories served, canonical, with the URL prefix each is served under.
struct Roots {
    /// `(prefix, directory)`, the longest prefix first; `""` is `www/`.
    dirs: Vec<(&'static str, PathBuf)>,
}

impl Roots {
    fn new(root: &Path) -> Roots {
        let dir = |name: &str| {
            let path = root.join(name);
            std::fs::canonicalize(&path).unwrap_or(path)
        };
        Roots {
            dirs: vec![
                ("/pkg/", dir("pkg")),
                ("/models/", dir("models")),
                ("/", dir("www")),
            ],
        }
    }

    /// Whether `path` (decoded) may be served: no dot segment, and if it names an existing
    /// file, that file's real location lies inside the root it is served from.
    async fn allows(&self, path: &str) -> bool {
        if path.split('/').any(|segment| segment.starts_with('.')) {
            return false;
        }
        let Some((prefix, dir)) = self.dirs.iter().find(|(p, _)| path.starts_with(p)) else {
            return false;
        };
        let file = dir.join(&path[prefix.len()..]);
        match tokio::fs::canonicalize(&file).await {
            Ok(real) => real.starts_with(dir),
            // Nothing there: the file server answers 404 itself.
            Err(_) => true,
        }
    }
}

/// Answers 404 for what [`Roots::allows`] refuses, before the file server sees it.
async fn guard(
    axum::extract::State(roots): axum::extract::State<Arc<Roots>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = percent_encoding::percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    if roots.allows(&path).await {
        next.run(request).await
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

/// The routes and headers, separate from the listener so the layout is readable at a glance.
fn router(root: &Path, page: Page) -> Router {
    let roots = Arc::new(Roots::new(root));
    // Model weights are already compressed by quantization; gzip would only burn CPU.
    let compress =
        DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream"));
    // The pages are read again on each request, so an edited page shows on reload as every
    // other file does; the policy header is index.html's as read at start (restart after
    // changing it).
    let page_route = |file: &str| {
        let path = root.join("www").join(file);
        let hosts = page.model_hosts.clone();
        axum::routing::get(move || {
            let (path, hosts) = (path.clone(), hosts.clone());
            async move {
                let page = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|html| Page::new(&html, &hosts));
                match page {
                    Ok(page) => Ok(axum::response::Html(page.html)),
                    Err(e) => Err((
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("{}: {e}", path.display()),
                    )),
                }
            }
        })
    };
    Router::new()
        .route("/", page_route("index.html"))
        .route("/index.html", page_route("index.html"))
        .route("/embed.html", page_route("embed.html"))
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/models", ServeDir::new(root.join("models")))
        .fallback_service(ServeDir::new(root.join("www")))
        .layer(axum::middleware::from_fn_with_state(roots, guard))
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
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
        // Every response, the worker's script and the 404s included, carries the policy.
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("content-security-policy"),
            page.policy,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"<head><meta http-equiv="Content-Security-Policy"
        content="default-src 'self'; connect-src 'self' https://huggingface.co"></head>"#;

    #[test]
    fn model_hosts_widen_connect_src_in_the_header_and_the_page() {
        let page = Page::new(INDEX, &["https://models.example".into()]).unwrap();
        let policy =
            "default-src 'self'; connect-src 'self' https://huggingface.co https://models.example";
        assert_eq!(page.policy.to_str().unwrap(), policy);
        assert!(page.html.contains(&format!(r#"content="{policy}""#)));
        let plain = Page::new(INDEX, &[]).unwrap();
        assert_eq!(plain.html, INDEX);
    }

    /// The embed view is bound by the very policy of the full page.
    #[test]
    fn every_page_has_the_same_policy() {
        let index = Page::new(include_str!("../../../www/index.html"), &[]).unwrap();
        let embed = Page::new(include_str!("../../../www/embed.html"), &[]).unwrap();
        assert_eq!(index.policy, embed.policy);
    }

    #[test]
    fn a_page_without_a_policy_or_a_host_that_is_no_origin_is_refused() {
        let missing = Page::new("<title>t</title>", &[]).err().unwrap();
        assert!(missing.contains("Content-Security-Policy"), "{missing}");
        for host in [
            "models.example",
            "https://models.example/path",
            "https://",
            "ftp://x",
        ] {
            let error = Page::new(INDEX, &[host.into()]).err().unwrap();
            assert!(error.contains("--model-host"), "{host}: {error}");
        }
    }
}
