//! The WebSub subscriber's callback (`/websub/{source}`): a hub's verification of a subscription
//! (GET, answered with its challenge) and its content deliveries (POST, checked against the
//! subscription's HMAC secret by the binary's `WebSubSink`).

use crate::AppState;
use crate::api::{IngestError, PushReceipt};
use crate::http::internal_error;
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;

/// A hub's verification request (WebSub §5.3): `hub.mode` is `subscribe`, `unsubscribe` or
/// `denied`.
#[derive(Debug, Clone)]
pub struct WebSubVerification {
    pub mode: String,
    pub topic: String,
    pub challenge: Option<String>,
    pub lease_seconds: Option<i64>,
    pub reason: Option<String>,
}

/// The binary's side of WebSub (subscription state and ingest).
#[async_trait]
pub trait WebSubSink: Send + Sync {
    /// Confirms (`Some(challenge)`) or refuses (`None`) a verification request.
    async fn verify(&self, source: &str, request: &WebSubVerification) -> Option<String>;
    /// A delivery; `signature` is the `X-Hub-Signature` value (`sha256=…`, `sha1=…`, …).
    async fn deliver(
        &self,
        source: &str,
        signature: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PushReceipt, IngestError>;
}

/// The longest challenge echoed back.
const MAX_CHALLENGE: usize = 1024;

pub async fn verify(
    State(state): State<AppState>,
    Path(source): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(sink) = &state.websub else {
        return (StatusCode::NOT_FOUND, "WebSub is not enabled").into_response();
    };
    let request = WebSubVerification {
        mode: params.get("hub.mode").cloned().unwrap_or_default(),
        topic: params.get("hub.topic").cloned().unwrap_or_default(),
        challenge: params
            .get("hub.challenge")
            .filter(|challenge| challenge.len() <= MAX_CHALLENGE)
            .cloned(),
        lease_seconds: params
            .get("hub.lease_seconds")
            .and_then(|value| value.parse().ok()),
        reason: params.get("hub.reason").cloned(),
    };
    match sink.verify(&source, &request).await {
        Some(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such subscription").into_response(),
    }
}

pub async fn deliver(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(sink) = &state.websub else {
        return (StatusCode::NOT_FOUND, "WebSub is not enabled").into_response();
    };
    let signature = headers
        .get("x-hub-signature")
        .and_then(|value| value.to_str().ok());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    match sink.deliver(&source, signature, content_type, body).await {
        Ok(receipt) => (StatusCode::ACCEPTED, axum::Json(receipt)).into_response(),
        // WebSub §7: a delivery whose signature does not match is acknowledged (so the hub does
        // not retry it for ever) and ignored.
        Err(IngestError::Unauthorized | IngestError::UnknownSource(_)) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "accepted": [], "ignored": "no subscription or a bad signature" })),
        )
            .into_response(),
        Err(IngestError::BadInput(message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({ "error": message })),
        )
            .into_response(),
        Err(IngestError::RateLimited { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, "too many deliveries").into_response()
        }
        Err(IngestError::Internal(message)) => internal_error(message),
    }
}
