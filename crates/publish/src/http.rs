//! HTTP details shared by every output: validators (ETag / 304, Last-Modified), cache policy and
//! security headers. The cache policy: every response must be revalidated (`no-cache`), so no
//! correctly behaving cache can show a killed or superseded story once the origin has changed.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use verbatim_item::sha256_hex;
use verbatim_store::Store;

/// Only our own stylesheet and script (`/static/live.js`, which opens `/events`); no inline
/// script or style, no other origin but images.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' https: http: data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The policy every response passes through, in one middleware whose state is only the store
/// (a request clones one `Arc`, not the application state): the security headers, and
/// `Last-Modified` on successful responses that carry a validator and have none yet — the newest
/// change to any story. It is never earlier than the change that produced the response, so a
/// cache that revalidates with it cannot be told a superseded or killed story is fresh.
pub async fn policy(State(store): State<Arc<dyn Store>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status().is_success()
        && response.headers().contains_key(header::ETAG)
        && !response.headers().contains_key(header::LAST_MODIFIED)
    {
        let newest = store
            .last_change()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(chrono::Utc::now);
        set_last_modified(&mut response, newest);
    }
    security_headers(response.headers_mut());
    response
}

/// Adds the security headers a response does not set itself.
fn security_headers(headers: &mut HeaderMap) {
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
}

/// Sets `Last-Modified` (handlers that know a later time than the middleware would read set it
/// themselves).
pub fn set_last_modified(response: &mut Response, time: chrono::DateTime<chrono::Utc>) {
    if let Some(value) = http_date(time) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
}

/// A time as an HTTP date header value.
pub fn http_date(time: chrono::DateTime<chrono::Utc>) -> Option<HeaderValue> {
    HeaderValue::from_str(&time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
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
    let matches = etag_matches(request_headers, etag);
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

/// Whether the request's `If-None-Match` names this ETag (or `*`).
pub fn etag_matches(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|candidate| candidate.trim() == etag || candidate.trim() == "*")
        })
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
