//! The facilitator HTTP service: `POST /verify`, `POST /settle`, `GET /supported`, `GET /health`
//! and, when metrics are on, `GET /metrics`, serving any [`Facilitator`].
//!
//! Failed checks are answered 200 with `isValid: false` / `success: false` and a reason; a body
//! that is not a request is 400 `{"error": reason, "message": …, "code": …}`; a facilitator that
//! cannot do its work (chain node down) is 503, or 504 when it ran out of time. With API keys, a
//! request without a valid `Authorization: Bearer <key>` is 401 (`t402_unauthorized`); with a
//! rate limit, a key over it gets 429 (`t402_rate_limited`) with `Retry-After`. Errors become
//! responses through [`PaymentError`], as the payment layer's do. Every answer carries an
//! `x-request-id` (the caller's, or a new UUID), and every request is logged in a `tracing` span
//! with that id, the key's name, the network, scheme, payer, outcome and duration. Feature
//! `facilitator-service` (on by default).
//!
//! ```no_run
//! # async fn run(facilitator: std::sync::Arc<dyn t402_core::Facilitator>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::num::NonZeroU32;
//! use t402_server::facilitator_service::{ApiKeys, FacilitatorService, RateLimit};
//!
//! let keys = ApiKeys::named([("partner-a", std::env::var("PARTNER_A_KEY")?)])?;
//! let router = FacilitatorService::new(facilitator)
//!     .api_keys(keys)
//!     .rate_limit(RateLimit::new(NonZeroU32::new(20).unwrap(), NonZeroU32::new(40).unwrap()))
//!     .with_metrics()
//!     .router();
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:4020").await?;
//! axum::serve(listener, router).await?;
//! # Ok(()) }
//! ```

mod auth;
mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use t402_core::health::ChainHealth;
use t402_core::wire::FacilitatorRequest;
use t402_core::{Facilitator, FacilitatorError, Reason, SettleResponse, VerifyResponse};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

use auth::{ANONYMOUS, Limiter};
pub use auth::{ApiKeyError, ApiKeys, RateLimit};
use metrics::{RequestLabels, ServiceMetrics};

use crate::error::PaymentError;

/// The default limit on request bodies.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The routes of the facilitator service over `facilitator`, with the default body limit, no
/// API keys, no rate limit and no metrics: [`FacilitatorService`] configures those.
pub fn facilitator_router(facilitator: Arc<dyn Facilitator>) -> Router {
    FacilitatorService::new(facilitator).router()
}

/// The routes of the facilitator service with a body limit of `max_request_bytes`.
pub fn facilitator_router_with_limit(
    facilitator: Arc<dyn Facilitator>,
    max_request_bytes: usize,
) -> Router {
    FacilitatorService::new(facilitator)
        .max_request_bytes(max_request_bytes)
        .router()
}

/// Configures the facilitator service: API keys, a rate limit, metrics, the body limit.
#[must_use]
pub struct FacilitatorService {
    facilitator: Arc<dyn Facilitator>,
    max_request_bytes: usize,
    api_keys: Option<ApiKeys>,
    rate_limit: Option<RateLimit>,
    metrics: bool,
}

impl std::fmt::Debug for FacilitatorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacilitatorService")
            .field("max_request_bytes", &self.max_request_bytes)
            .field("api_keys", &self.api_keys)
            .field("rate_limit", &self.rate_limit)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl FacilitatorService {
    /// The service over `facilitator`: open to anyone, no rate limit, no metrics.
    pub fn new(facilitator: Arc<dyn Facilitator>) -> Self {
        Self {
            facilitator,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            api_keys: None,
            rate_limit: None,
            metrics: false,
        }
    }

    /// Sets the limit on request bodies (default [`DEFAULT_MAX_REQUEST_BYTES`]).
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Requires one of `keys` as `Authorization: Bearer <key>` on every endpoint but `/health`.
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// Limits `/verify`, `/settle` and `/supported` per API key (or for everyone together
    /// without keys).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Counts requests, outcomes, durations and settlements in flight, served at `/metrics` in
    /// the Prometheus (OpenMetrics) text format, behind the API keys when there are keys.
    pub fn with_metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// The axum router.
    pub fn router(self) -> Router {
        let metrics = self.metrics.then(ServiceMetrics::new);
        let state = ServiceState {
            facilitator: self.facilitator,
            metrics: metrics.clone(),
        };
        let guard = Guard {
            keys: self.api_keys,
            limiter: self.rate_limit.map(Limiter::new),
            metrics,
        };
        let mut guarded = Router::new()
            .route("/verify", post(verify))
            .route("/settle", post(settle))
            .route("/supported", get(supported));
        if state.metrics.is_some() {
            guarded = guarded.route("/metrics", get(metrics_text));
        }
        let guarded = guarded.route_layer(middleware::from_fn_with_state(guard, admit));
        Router::new()
            .merge(guarded)
            .route("/health", get(health))
            .route("/health/live", get(live))
            .layer(DefaultBodyLimit::max(self.max_request_bytes))
            .with_state(state)
            .layer(middleware::from_fn(request_span))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
    }
}

#[derive(Clone)]
struct ServiceState {
    facilitator: Arc<dyn Facilitator>,
    metrics: Option<ServiceMetrics>,
}

/// Who may pass, and how often.
#[derive(Clone)]
struct Guard {
    keys: Option<ApiKeys>,
    limiter: Option<Limiter>,
    metrics: Option<ServiceMetrics>,
}

/// The name of the API key a request came with (`anonymous` without keys).
#[derive(Debug, Clone)]
struct KeyName(String);

/// Every request runs in a span naming its request id.
async fn request_span(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "facilitator_request",
        request_id = %id,
        key = tracing::field::Empty,
        method = %request.method(),
        path = %request.uri().path(),
    );
    next.run(request).instrument(span).await
}

/// Admits a request with a valid key (when keys are configured) within its rate limit.
async fn admit(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let key = match &guard.keys {
        None => ANONYMOUS.to_owned(),
        Some(keys) => match keys.authenticate(request.headers()) {
            Some(name) => name.to_owned(),
            None => {
                if let Some(metrics) = &guard.metrics {
                    metrics.refused("unauthorized", ANONYMOUS);
                }
                tracing::info!("refused: no valid API key");
                return error_response(PaymentError::Unauthorized);
            }
        },
    };
    tracing::Span::current().record("key", key.as_str());
    if let Some(limiter) = &guard.limiter
        && request.uri().path() != "/metrics"
        && let Err(retry_after) = limiter.check(&key)
    {
        if let Some(metrics) = &guard.metrics {
            metrics.refused("rate_limited", &key);
        }
        tracing::info!(key = %key, "refused: rate limited");
        return error_response(PaymentError::RateLimited { retry_after });
    }
    request.extensions_mut().insert(KeyName(key));
    next.run(request).await
}

/// The service's errors go through the layer's one error-to-response conversion.
fn error_response(error: PaymentError) -> Response {
    error.into_response().map(axum::body::Body::new)
}

/// Reads a request body; the error is the message of a 400.
fn read_request(body: &Bytes) -> Result<FacilitatorRequest, String> {
    FacilitatorRequest::from_slice_strict(body).map_err(|err| err.to_string())
}

fn failure(err: FacilitatorError) -> Response {
    tracing::warn!(error = %err, "facilitator request failed");
    error_response(PaymentError::ServiceUnavailable(err))
}

/// The network and scheme a request names.
fn kind_of(request: &FacilitatorRequest) -> (String, String) {
    match request {
        FacilitatorRequest::V2(r) => (
            r.payment_requirements.network.to_string(),
            r.payment_requirements.scheme.clone(),
        ),
        FacilitatorRequest::V1(r) => (
            r.payment_requirements.network.clone(),
            r.payment_requirements.scheme.clone(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// What the logs and metrics say of an answer.
trait Outcome {
    fn outcome(&self) -> String;
    fn payer(&self) -> Option<&str>;
    fn transaction(&self) -> Option<&str> {
        None
    }
}

impl Outcome for VerifyResponse {
    fn outcome(&self) -> String {
        match (&self.is_valid, &self.invalid_reason) {
            (true, _) => "valid".into(),
            (false, Some(reason)) => reason.as_str().to_owned(),
            (false, None) => "invalid".into(),
        }
    }
    fn payer(&self) -> Option<&str> {
        self.payer.as_deref()
    }
}

impl Outcome for SettleResponse {
    fn outcome(&self) -> String {
        match (&self.success, &self.error_reason) {
            (true, _) => "success".into(),
            (false, Some(reason)) => reason.as_str().to_owned(),
            (false, None) => "failed".into(),
        }
    }
    fn payer(&self) -> Option<&str> {
        self.payer.as_deref()
    }
    fn transaction(&self) -> Option<&str> {
        self.transaction.as_deref()
    }
}

/// Reads the body and answers with what `call` returns: 200 with the protocol answer, 400 for a
/// body that is not a request, 503/504 when the facilitator cannot work. Logs and counts it.
async fn answer<T, F>(
    state: &ServiceState,
    endpoint: &'static str,
    key: &str,
    body: &Bytes,
    call: F,
) -> Response
where
    T: serde::Serialize + Outcome,
    F: AsyncFnOnce(&FacilitatorRequest) -> Result<T, FacilitatorError>,
{
    let started = Instant::now();
    let (request, network, scheme, payment) = match read_request(body) {
        Ok(request) => {
            let (network, scheme) = kind_of(&request);
            // Named for the log line only: not worked out when nobody listens.
            let payment = tracing::enabled!(tracing::Level::INFO)
                .then(|| state.facilitator.payment_id(&request))
                .flatten();
            (Ok(request), network, scheme, payment)
        }
        Err(message) => (Err(message), String::new(), String::new(), None),
    };
    let (response, outcome, payer, transaction) = match request {
        Err(message) => (
            error_response(PaymentError::BadRequest {
                reason: Reason::InvalidPayload,
                message,
            }),
            "bad_request".to_owned(),
            None,
            None,
        ),
        Ok(request) => match call(&request).await {
            Ok(answer) => {
                let outcome = answer.outcome();
                let payer = answer.payer().map(str::to_owned);
                let transaction = answer.transaction().map(str::to_owned);
                (
                    axum::Json(answer).into_response(),
                    outcome,
                    payer,
                    transaction,
                )
            }
            Err(err) => {
                let outcome = err.reason().as_str().to_owned();
                (failure(err), outcome, None, None)
            }
        },
    };
    let elapsed = started.elapsed();
    tracing::info!(
        endpoint,
        key,
        network = %network,
        scheme = %scheme,
        payment = %payment.as_ref().map(ToString::to_string).unwrap_or_default(),
        payer = payer.as_deref().unwrap_or(""),
        transaction = transaction.as_deref().unwrap_or(""),
        outcome = %outcome,
        duration_ms = duration_ms(elapsed),
        "answered"
    );
    if let Some(metrics) = &state.metrics {
        metrics.answered(
            RequestLabels {
                endpoint,
                network,
                scheme,
                outcome,
            },
            elapsed,
        );
    }
    response
}

fn duration_ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

fn key_of(request: &Option<axum::Extension<KeyName>>) -> String {
    request
        .as_ref()
        .map(|key| key.0.0.clone())
        .unwrap_or_else(|| ANONYMOUS.to_owned())
}

async fn verify(
    State(state): State<ServiceState>,
    key: Option<axum::Extension<KeyName>>,
    body: Bytes,
) -> Response {
    let facilitator = state.facilitator.clone();
    answer(&state, "verify", &key_of(&key), &body, async |request| {
        facilitator.verify(request).await
    })
    .await
}

async fn settle(
    State(state): State<ServiceState>,
    key: Option<axum::Extension<KeyName>>,
    body: Bytes,
) -> Response {
    let facilitator = state.facilitator.clone();
    let _in_flight = state.metrics.as_ref().map(ServiceMetrics::settling);
    answer(&state, "settle", &key_of(&key), &body, async |request| {
        facilitator.settle(request).await
    })
    .await
}

async fn supported(State(state): State<ServiceState>) -> Response {
    let started = Instant::now();
    let response = match state.facilitator.supported().await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(err) => failure(err),
    };
    if let Some(metrics) = &state.metrics {
        metrics.supported(started.elapsed());
    }
    response
}

async fn metrics_text(State(state): State<ServiceState>) -> Response {
    // The route exists only with metrics.
    let Some(metrics) = &state.metrics else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    if let Ok(chains) = check_chains(&state).await {
        metrics.chains(&chains);
    }
    metrics.scrape().into_response()
}

/// How long `/health` (and a `/metrics` scrape) waits for the chains.
const CHAIN_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

async fn check_chains(state: &ServiceState) -> Result<Vec<ChainHealth>, String> {
    tokio::time::timeout(CHAIN_CHECK_TIMEOUT, state.facilitator.health())
        .await
        .map_err(|_| format!("the chains did not answer within {CHAIN_CHECK_TIMEOUT:?}"))
}

/// Each chain's node answers, with the signers' native balances: 200 when every node answered,
/// else 503. Open to anyone (no API key), like `/health/live`.
async fn health(State(state): State<ServiceState>) -> Response {
    let (status, body) = match check_chains(&state).await {
        Ok(chains) => {
            if let Some(metrics) = &state.metrics {
                metrics.chains(&chains);
            }
            let up = chains.iter().all(ChainHealth::is_up);
            let status = if up {
                http::StatusCode::OK
            } else {
                http::StatusCode::SERVICE_UNAVAILABLE
            };
            (
                status,
                json!({"status": if up { "ok" } else { "unhealthy" }, "chains": chains}),
            )
        }
        Err(error) => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unhealthy", "error": error}),
        ),
    };
    (status, axum::Json(body)).into_response()
}

/// The process answers (a liveness probe): no chain is asked.
async fn live() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}
