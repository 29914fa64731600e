//! The facilitator HTTP service: `POST /verify`, `POST /settle`, `GET /supported`, `GET /health`,
//! serving any [`Facilitator`].
//!
//! Failed checks are answered 200 with `isValid: false` / `success: false` and a reason; a body
//! that is not a request is 400 `{"error": reason, "message": …, "code": …}`; a facilitator that
//! cannot do its work (chain node down) is 503, or 504 when it ran out of time. Errors become
//! responses through [`PaymentError`], as the payment layer's do. Feature `facilitator-service`
//! (on by default).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use t402_core::json::from_slice_strict;
use t402_core::wire::FacilitatorRequest;
use t402_core::{Facilitator, FacilitatorError, Reason};

use crate::error::PaymentError;

/// The default limit on request bodies.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The routes of the facilitator service over `facilitator`, with the default body limit.
pub fn facilitator_router(facilitator: Arc<dyn Facilitator>) -> Router {
    facilitator_router_with_limit(facilitator, DEFAULT_MAX_REQUEST_BYTES)
}

/// The routes of the facilitator service with a body limit of `max_request_bytes`.
pub fn facilitator_router_with_limit(
    facilitator: Arc<dyn Facilitator>,
    max_request_bytes: usize,
) -> Router {
    Router::new()
        .route("/verify", post(verify))
        .route("/settle", post(settle))
        .route("/supported", get(supported))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .with_state(facilitator)
}

/// The service's errors go through the layer's one error-to-response conversion.
fn error_response(error: PaymentError) -> Response {
    error.into_response().map(axum::body::Body::new)
}

/// Reads a request body; the error is the message of a 400.
fn read_request(body: &Bytes) -> Result<FacilitatorRequest, String> {
    let value: Value = from_slice_strict(body).map_err(|err| err.to_string())?;
    FacilitatorRequest::from_json(value).map_err(|err| err.to_string())
}

fn bad_request(message: String) -> Response {
    error_response(PaymentError::BadRequest {
        reason: Reason::InvalidPayload,
        message,
    })
}

fn failure(err: FacilitatorError) -> Response {
    tracing::warn!(error = %err, "facilitator request failed");
    error_response(PaymentError::ServiceUnavailable(err))
}

/// Reads the body and answers with what `call` returns: 200 with the protocol answer, 400 for a
/// body that is not a request, 503/504 when the facilitator cannot work.
async fn answer<T, F>(body: &Bytes, call: F) -> Response
where
    T: serde::Serialize,
    F: AsyncFnOnce(&FacilitatorRequest) -> Result<T, FacilitatorError>,
{
    let request = match read_request(body) {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    match call(&request).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(err) => failure(err),
    }
}

async fn verify(State(facilitator): State<Arc<dyn Facilitator>>, body: Bytes) -> Response {
    answer(&body, async |request| facilitator.verify(request).await).await
}

async fn settle(State(facilitator): State<Arc<dyn Facilitator>>, body: Bytes) -> Response {
    answer(&body, async |request| facilitator.settle(request).await).await
}

async fn supported(State(facilitator): State<Arc<dyn Facilitator>>) -> Response {
    match facilitator.supported().await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(err) => failure(err),
    }
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}
