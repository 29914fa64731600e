//! The errors of the payment layer: [`ConfigError`] (the configuration cannot be served) and
//! [`PaymentError`] (a request on the payment path answered by the layer), with the one place
//! where an answer becomes a response.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;
use t402_core::codec::{PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER, encode_header};
use t402_core::{FacilitatorError, Reason, SettleResponse};

use crate::headers::{base64_value, expose_payment_headers};
use crate::route::RoutePatternError;

/// Why the payment layer cannot serve its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A route pattern does not parse.
    #[error("route `{pattern}`: {source}")]
    InvalidPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: RoutePatternError,
    },
    /// A streaming route settles after its handler: its content would reach the client before
    /// the payment is settled.
    #[error(
        "route `{route}` streams, so it must settle before its handler (SettleMode::BeforeHandler)"
    )]
    StreamingSettlesAfter {
        /// The route pattern.
        route: String,
    },
    /// A route has no payment option.
    #[error("route `{route}` has no payment option")]
    NoPaymentOption {
        /// The route pattern.
        route: String,
    },
    /// No facilitator was configured.
    #[error("no facilitator is configured")]
    NoFacilitator,
    /// No server mechanism is registered for a route's scheme and network.
    #[error("missing_scheme: no server mechanism for scheme `{scheme}` on {network}")]
    MissingScheme {
        /// The scheme.
        scheme: String,
        /// The network.
        network: String,
    },
    /// No facilitator supports a route's scheme and network.
    #[error("missing_facilitator: no facilitator supports scheme `{scheme}` on {network}")]
    MissingFacilitator {
        /// The scheme.
        scheme: String,
        /// The network.
        network: String,
    },
    /// The facilitators could not be asked what they support.
    #[error("facilitators unavailable: {0}")]
    FacilitatorUnavailable(#[source] FacilitatorError),
    /// Several routes are misconfigured.
    #[error("{}", .0.iter().map(|(route, err)| format!("route `{route}`: {err}")).collect::<Vec<_>>().join("; "))]
    Routes(Vec<(String, ConfigError)>),
}

impl ConfigError {
    /// The protocol reason of this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::MissingScheme { .. } => Reason::MissingScheme,
            Self::MissingFacilitator { .. } => Reason::MissingFacilitator,
            Self::FacilitatorUnavailable(err) => err.reason(),
            Self::Routes(errors) => errors
                .first()
                .map(|(_, err)| err.reason())
                .unwrap_or(Reason::MissingFacilitator),
            _ => Reason::InvalidPaymentRequirements,
        }
    }
}

/// What a 402-family answer carries besides its `PAYMENT-REQUIRED` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChallengeBody {
    /// `{}`: the plain challenge.
    Empty,
    /// `{"error", "message", "code"}`: why the payment was refused.
    Detail(Reason, String),
    /// The paywall page, for browsers.
    Page(String),
    /// The v1 challenge (`{"x402Version": 1, "error", "accepts"}`, with `message` and `code`
    /// beside them for a refusal), for v1 clients; `reason` is the refusal's.
    V1 {
        /// The JSON body.
        body: Bytes,
        /// Why a presented payment was refused.
        reason: Option<Reason>,
    },
}

/// Why a request on the payment path is answered by the layer (or the facilitator service)
/// instead of the handler. Each variant is one kind of answer; [`PaymentError::into_response`]
/// is the one place that turns it into status, headers and body.
#[derive(Debug)]
#[non_exhaustive]
pub enum PaymentError {
    /// The route's challenge: 402 when payment is missing or refused, 412 when a Permit2
    /// allowance is missing, 400 for a malformed payment header. Carries `PAYMENT-REQUIRED`.
    Challenge(Box<Challenge>),
    /// Settlement failed or was refused: 402 with `PAYMENT-RESPONSE` (`success: false`); the
    /// handler's content is not sent.
    SettlementFailed(Box<SettleResponse>),
    /// A facilitator the layer relies on failed: 502, or 504 when it did not answer in time.
    Facilitator(FacilitatorError),
    /// The layer's configuration cannot serve the route: 500 (502/504 when the facilitators
    /// could not be asked).
    Config(ConfigError),
    /// The paid request could not be completed on this server (the handler's body failed or is
    /// too large, a usage report is unreadable or above the authorized amount): 500.
    Server {
        /// The protocol reason.
        reason: Reason,
        /// What happened.
        message: String,
    },
    /// A facilitator service request is malformed: 400.
    BadRequest {
        /// The protocol reason.
        reason: Reason,
        /// What is wrong.
        message: String,
    },
    /// The facilitator service cannot do its work (chain node down): 503, 504 on timeout, 400
    /// for a request it cannot take.
    ServiceUnavailable(FacilitatorError),
    /// The settlement store (replay guard) cannot be reached: 503, nothing is served.
    StoreUnavailable(t402_core::StoreError),
    /// The facilitator service needs an API key and the request has no valid one: 401 with
    /// `WWW-Authenticate: Bearer`.
    Unauthorized,
    /// The API key is over its rate limit: 429 with `Retry-After`.
    RateLimited {
        /// How long until a request is admitted again.
        retry_after: std::time::Duration,
    },
}

/// A challenge answer: status, the encoded `PAYMENT-REQUIRED` value and the body.
#[derive(Debug)]
pub struct Challenge {
    pub(crate) status: StatusCode,
    pub(crate) header: HeaderValue,
    pub(crate) body: ChallengeBody,
}

impl Challenge {
    /// The HTTP status of the challenge.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl PaymentError {
    /// A challenge with `status`, an encoded `PAYMENT-REQUIRED` value and `body`.
    pub(crate) fn challenge(status: StatusCode, header: HeaderValue, body: ChallengeBody) -> Self {
        Self::Challenge(Box::new(Challenge {
            status,
            header,
            body,
        }))
    }

    /// A 500 for the paid request.
    pub(crate) fn server(reason: Reason, message: impl Into<String>) -> Self {
        Self::Server {
            reason,
            message: message.into(),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Challenge(challenge) => challenge.status,
            Self::SettlementFailed(_) => StatusCode::PAYMENT_REQUIRED,
            Self::Facilitator(FacilitatorError::Timeout(_))
            | Self::Config(ConfigError::FacilitatorUnavailable(FacilitatorError::Timeout(_)))
            | Self::ServiceUnavailable(FacilitatorError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            Self::Facilitator(_) | Self::Config(ConfigError::FacilitatorUnavailable(_)) => {
                StatusCode::BAD_GATEWAY
            }
            Self::Config(_) | Self::Server { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadRequest { .. }
            | Self::ServiceUnavailable(FacilitatorError::InvalidRequest { .. }) => {
                StatusCode::BAD_REQUEST
            }
            Self::ServiceUnavailable(_) | Self::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The protocol reason of the answer, when it has one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::Challenge(challenge) => match &challenge.body {
                ChallengeBody::Detail(reason, _) => Some(reason.clone()),
                ChallengeBody::V1 { reason, .. } => reason.clone(),
                _ => None,
            },
            Self::SettlementFailed(settled) => settled.error_reason.clone(),
            Self::Facilitator(err) | Self::ServiceUnavailable(err) => Some(err.reason()),
            Self::Config(err) => Some(err.reason()),
            Self::Server { reason, .. } | Self::BadRequest { reason, .. } => Some(reason.clone()),
            Self::StoreUnavailable(_) => Some(Reason::T402SettlementStoreUnavailable),
            Self::Unauthorized => Some(Reason::T402Unauthorized),
            Self::RateLimited { .. } => Some(Reason::T402RateLimited),
        }
    }

    /// The answer: status, JSON body (`{"error": reason, "message", "code"}` for errors; `{}`,
    /// the v1 challenge or the paywall page for challenges) and the payment headers.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let mut extra_header = None;
        let (body, content_type, payment_header) = match self {
            Self::Challenge(challenge) => {
                let Challenge { header, body, .. } = *challenge;
                let (body, content_type) = match body {
                    ChallengeBody::Empty => (Bytes::from_static(b"{}"), JSON),
                    ChallengeBody::Detail(reason, message) => (error_json(&reason, &message), JSON),
                    ChallengeBody::Page(page) => (Bytes::from(page), HTML),
                    ChallengeBody::V1 { body, .. } => (body, JSON),
                };
                (body, content_type, Some((PAYMENT_REQUIRED_HEADER, header)))
            }
            Self::SettlementFailed(settled) => (
                Bytes::from_static(b"{}"),
                JSON,
                Some((
                    PAYMENT_RESPONSE_HEADER,
                    base64_value(encode_header(&*settled)),
                )),
            ),
            Self::Facilitator(err) | Self::ServiceUnavailable(err) => {
                (error_json(&err.reason(), &err.to_string()), JSON, None)
            }
            Self::Config(err) => (error_json(&err.reason(), &err.to_string()), JSON, None),
            Self::Server { reason, message } | Self::BadRequest { reason, message } => {
                (error_json(&reason, &message), JSON, None)
            }
            Self::StoreUnavailable(err) => (
                error_json(&Reason::T402SettlementStoreUnavailable, &err.to_string()),
                JSON,
                None,
            ),
            Self::Unauthorized => {
                extra_header = Some((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
                (
                    error_json(
                        &Reason::T402Unauthorized,
                        "send a valid API key as `Authorization: Bearer <key>`",
                    ),
                    JSON,
                    None,
                )
            }
            Self::RateLimited { retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                extra_header = Some((RETRY_AFTER, HeaderValue::from(seconds.max(1))));
                (
                    error_json(
                        &Reason::T402RateLimited,
                        &format!("retry in {} ms", retry_after.as_millis()),
                    ),
                    JSON,
                    None,
                )
            }
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some((name, value)) = payment_header {
            headers.insert(name, value);
        }
        if let Some((name, value)) = extra_header {
            headers.insert(name, value);
        }
        expose_payment_headers(headers);
        response
    }
}

impl From<FacilitatorError> for PaymentError {
    fn from(err: FacilitatorError) -> Self {
        Self::Facilitator(err)
    }
}

impl From<ConfigError> for PaymentError {
    fn from(err: ConfigError) -> Self {
        Self::Config(err)
    }
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Challenge(challenge) => write!(f, "payment required ({})", challenge.status),
            Self::SettlementFailed(settled) => write!(
                f,
                "settlement failed: {}",
                settled
                    .error_reason
                    .as_ref()
                    .map(Reason::as_str)
                    .unwrap_or("unknown")
            ),
            Self::Facilitator(err) | Self::ServiceUnavailable(err) => err.fmt(f),
            Self::Config(err) => err.fmt(f),
            Self::Server { reason, message } | Self::BadRequest { reason, message } => {
                write!(f, "{reason}: {message}")
            }
            Self::StoreUnavailable(err) => err.fmt(f),
            Self::Unauthorized => f.write_str("no valid API key"),
            Self::RateLimited { retry_after } => {
                write!(f, "rate limited for {} ms", retry_after.as_millis())
            }
        }
    }
}

impl std::error::Error for PaymentError {}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

/// `{"error": reason, "message": …, "code": "T402-…"}`.
fn error_json(reason: &Reason, message: &str) -> Bytes {
    let mut body = serde_json::json!({"error": reason.as_str(), "message": message});
    if let Some(code) = reason.code() {
        body["code"] = serde_json::json!(code.to_string());
    }
    Bytes::from(body.to_string())
}
