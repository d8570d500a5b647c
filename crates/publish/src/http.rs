//! HTTP details shared by every output: validators (ETag / 304, Last-Modified), cache policy and
//! security headers. The cache policy: every response must be revalidated (`no-cache`), so no
//! correctly behaving cache can show a killed or superseded story once the origin has changed.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use verbatim_item::sha256_hex;

/// Only our own stylesheet and script (`/static/live.js`, which opens `/events`); no inline
/// script or style, no other origin but images.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' https: http: data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the security headers to every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::CACHE_CONTROL, "no-cache");
    response
}

/// Adds `Last-Modified` to successful responses that carry a validator: the newest change to
/// any story. It is never earlier than the change that produced the response, so a cache that
/// revalidates with it cannot be told a superseded or killed story is fresh.
pub async fn last_modified(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if response.status().is_success()
        && response.headers().contains_key(header::ETAG)
        && !response.headers().contains_key(header::LAST_MODIFIED)
    {
        let newest = state
            .store
            .last_change()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(chrono::Utc::now);
        set_last_modified(&mut response, newest);
    }
    response
}

/// Sets `Last-Modified` (handlers that know a later time than the middleware would read set it
/// themselves).
pub fn set_last_modified(response: &mut Response, time: chrono::DateTime<chrono::Utc>) {
    let http_date = time.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&http_date) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
}

/// The strong ETag of a body.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &sha256_hex(body)[..32])
}

/// A response with a strong ETag over its body; answers 304 when the client already has it.
pub fn with_etag(
    request_headers: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<axum::body::Bytes>,
) -> Response {
    let body: axum::body::Bytes = body.into();
    let etag = etag_of(&body);
    with_known_etag(request_headers, status, content_type, body, &etag)
}

/// [`with_etag`] with the ETag already computed (cached pages keep theirs).
pub fn with_known_etag(
    request_headers: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    body: axum::body::Bytes,
    etag: &str,
) -> Response {
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|candidate| candidate.trim() == etag || candidate.trim() == "*")
        });
    let mut builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CONTENT_TYPE, content_type);
    if matches && status == StatusCode::OK {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::NOT_MODIFIED.into_response());
    }
    builder
        .status(status)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub const HTML: &str = "text/html; charset=utf-8";
pub const JSON: &str = "application/json";

/// A plain-text error for failures that are ours, logged with the detail.
pub fn internal_error(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
        .into_response()
}
