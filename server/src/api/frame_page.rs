//! Serving the built frame (Trunk's `dist/`) and `embed.js`. Files are read into memory at
//! start, so a request can only ever name a file that exists there. The frame page gets a
//! CSP whose `frame-ancestors` are the session's allowed origins: a page of any other
//! origin cannot embed it.

use super::encoded::Encoded;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path as FsPath;

struct Asset {
    file: Encoded,
    content_type: &'static str,
}

/// The frame's files and `embed.js`, loaded once.
pub struct FramePage {
    index: Option<String>,
    /// CSP hashes of the inline module script Trunk writes to start the wasm.
    script_hashes: Vec<String>,
    assets: HashMap<String, Asset>,
    embed_js: Option<Encoded>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Hashes every inline `<script>` body, for `script-src 'sha256-…'`.
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body_and_more = &after[open_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains("src=") {
            let digest = Sha256::digest(&body_and_more.as_bytes()[..close]);
            hashes.push(format!("'sha256-{}'", STANDARD.encode(digest)));
        }
        rest = &body_and_more[close..];
    }
    hashes
}

impl FramePage {
    pub fn load(frame_dir: &FsPath, public_dir: &FsPath) -> FramePage {
        let mut assets = HashMap::new();
        let mut index = None;
        if let Ok(dir) = std::fs::read_dir(frame_dir) {
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(bytes) = std::fs::read(entry.path()) else {
                    continue;
                };
                if name == "index.html" {
                    index = String::from_utf8(bytes).ok();
                } else if entry.path().is_file() {
                    assets.insert(
                        name.clone(),
                        Asset {
                            file: Encoded::new(bytes),
                            content_type: content_type(&name),
                        },
                    );
                }
            }
        }
        if index.is_none() {
            tracing::warn!(dir = %frame_dir.display(), "no built frame found; run `trunk build --release`");
        }
        let script_hashes = index
            .as_deref()
            .map(inline_script_hashes)
            .unwrap_or_default();
        let embed_js = std::fs::read(public_dir.join("embed.js"))
            .ok()
            .map(Encoded::new);
        FramePage {
            index,
            script_hashes,
            assets,
            embed_js,
        }
    }

    fn csp(&self, ancestors: &[String]) -> String {
        let ancestors = if ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            ancestors.join(" ")
        };
        format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors {ancestors}",
            self.script_hashes.join(" ")
        )
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/frame/", get(index))
        .route("/frame/{*file}", get(asset))
        .route("/embed.js", get(embed_js))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FrameQuery {
    /// The session (`cs_…`) the frame is for: its allowed origins become the page's CSP
    /// `frame-ancestors`. Without a known session no page may embed the frame.
    session: Option<String>,
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The frame is not built. Run `trunk build --release`.",
    )
        .into_response()
}

/// The hosted card frame's page, to be embedded in an iframe by `embed.js`.
#[utoipa::path(
    get,
    path = "/frame/",
    tag = "static",
    operation_id = "frame_page",
    security(()),
    params(FrameQuery),
    responses(
        (status = 200, description = "The frame's HTML, with a `Content-Security-Policy` whose \
            `frame-ancestors` are the session's allowed origins.", body = String, content_type = "text/html"),
        (status = 500, description = "The session could not be looked up."),
        (status = 503, description = "The frame is not built on this gateway.", body = String, content_type = "text/plain"),
    )
)]
pub async fn index(State(state): State<AppState>, Query(q): Query<FrameQuery>) -> Response {
    let page = &state.frame_page;
    let Some(html) = page.index.clone() else {
        return not_built();
    };
    // Without a known session nobody may embed the frame.
    let ancestors = match q.session {
        Some(id) => match state.store.session(&id).await {
            Ok(Some(session)) => session.allowed_origins,
            Ok(None) => Vec::new(),
            Err(err) => {
                tracing::error!(error = %err, "frame page: session lookup failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        None => Vec::new(),
    };
    let csp = page.csp(&ancestors);
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("CSP is ASCII"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A file of the built frame (its wasm, JS and CSS); the router matches `/frame/{*file}`.
#[utoipa::path(
    get,
    path = "/frame/{file}",
    tag = "static",
    operation_id = "frame_asset",
    security(()),
    params(("file" = String, Path, description = "A file name of the built frame, with Trunk's \
        content hash; `index.html` is only served as `/frame/`.")),
    responses(
        (status = 200, description = "The file, cached immutably; its type follows its extension.",
            content_type = "application/octet-stream"),
        (status = 404, description = "No such file.", body = String, content_type = "text/plain"),
        (status = 503, description = "The frame is not built on this gateway.", body = String, content_type = "text/plain"),
    )
)]
pub async fn asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Response {
    let page = &state.frame_page;
    if file == "index.html" {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match page.assets.get(&file) {
        Some(asset) => {
            let (encoding, body) = asset.file.pick(&request);
            (
                encoding,
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    // Trunk puts a content hash in every asset name.
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                body,
            )
                .into_response()
        }
        None if page.index.is_none() => not_built(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The script a merchant's checkout page includes to mount the card frame.
#[utoipa::path(
    get,
    path = "/embed.js",
    tag = "static",
    operation_id = "embed_js",
    security(()),
    responses(
        (status = 200, description = "The script (CORS open, cached 5 minutes).", body = String, content_type = "text/javascript"),
        (status = 404, description = "`embed.js` is not installed on this gateway.", body = String, content_type = "text/plain"),
    )
)]
pub async fn embed_js(State(state): State<AppState>, request: HeaderMap) -> Response {
    match &state.frame_page.embed_js {
        Some(file) => {
            let (encoding, body) = file.pick(&request);
            (
                encoding,
                [
                    (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                body,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "embed.js not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_only_inline_scripts() {
        let html = r#"<script src="/a.js"></script><script type="module">boot()</script>"#;
        let hashes = super::inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        assert!(hashes[0].starts_with("'sha256-"));
    }
}
