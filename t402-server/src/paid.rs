//! A priced request that carries a payment (design §4, protocol reference §1.2 and §2.3), as
//! small steps: [`accept`] (offers, decode, match), [`verify`], then the handler and [`settle`]
//! in the route's order.
//!
//! A v1 payment (`X-PAYMENT`) takes the same steps: it is matched to a v1 offer by scheme and
//! network, seen by hooks and the replay guard in v2 form, sent to the facilitator as v1, and
//! answered with `X-PAYMENT-RESPONSE`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use t402_core::error::BoxError;
use t402_core::wire::{
    FacilitatorRequest, PaymentPayloadV1, PaymentRequirementsV1, ResourceInfo, VerifyRequest,
    VerifyRequestV1,
};
use t402_core::{Amount, Facilitator, PaymentPayload, PaymentRequirements, Reason, SettleResponse};
use tower_service::Service;

use crate::PaymentBody;
use crate::accepted::find_accepted;
use crate::challenge::Offers;
use crate::config::SettleMode;
use crate::error::PaymentError;
use crate::headers::{
    SETTLEMENT_OVERRIDES_HEADER, attach_settlement, settlement_as_v1, strip_internal_headers,
};
use crate::hooks::{HookDecision, PaymentEvent, PaymentFailure, SettlementAmount, VerifiedPayment};
use crate::metered::{Meter, ResponseBody};
use crate::replay::{self, Outcome};
use crate::state::{LayerState, PricedRoute};

/// One of the layer's own answers as a response of the service.
fn answer<B>(error: PaymentError) -> Response<PaymentBody<B>> {
    error.into_response().map(Either::Right)
}

/// A payment header as presented.
pub(crate) enum Presented {
    /// `PAYMENT-SIGNATURE`: a v2 payment.
    V2(HeaderValue),
    /// `X-PAYMENT`: a v1 payment.
    V1(HeaderValue),
}

/// A payment matched to one of the route's requirements.
#[derive(Clone)]
struct Accepted {
    offers: Offers,
    event: PaymentEvent,
    /// The payment as the v1 client sent it, and the resource of the v1 offers.
    v1: Option<(PaymentPayloadV1, ResourceInfo)>,
}

impl Accepted {
    /// The facilitator request for this payment against `requirements`: v2, or v1 for a v1
    /// payment.
    fn facilitator_request(&self, requirements: &PaymentRequirements) -> FacilitatorRequest {
        match &self.v1 {
            None => FacilitatorRequest::V2(VerifyRequest::new(
                self.event.payment.clone(),
                requirements.clone(),
            )),
            Some((payment, resource)) => {
                // A v1 offer's network has a v1 name (that is how it was matched).
                let v1 = PaymentRequirementsV1::from_v2(requirements, resource)
                    .expect("a v1 offer's network has a v1 name");
                FacilitatorRequest::V1(VerifyRequestV1::new(payment.clone(), v1))
            }
        }
    }

    /// The network as the payment named it (the v1 name for a v1 payment).
    fn network_name(&self) -> String {
        match &self.v1 {
            Some((payment, _)) => payment.network.clone(),
            None => self.event.payment.accepted.network.to_string(),
        }
    }
}

/// Runs a paid request to route `route_index` whose payment header is `presented`. `inner` was
/// polled ready.
pub(crate) async fn handle<S, ReqBody, ResBody>(
    state: Arc<LayerState>,
    inner: S,
    request: Request<ReqBody>,
    route_index: usize,
    presented: Presented,
) -> Result<Response<PaymentBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let priced = &state.routes[route_index];
    let (parts, body) = request.into_parts();
    let accepted = match accept(&state, priced, &parts, &presented).await {
        Ok(accepted) => accepted,
        Err(error) => return Ok(answer(error)),
    };
    let refuse_replay = || {
        accepted.offers.refusal(
            &priced.route,
            StatusCode::PAYMENT_REQUIRED,
            Reason::T402PaymentReplayed,
            Some("this payment was already presented".into()),
        )
    };
    let claimed = match replay::claim(&state, &accepted.event, refuse_replay).await {
        Ok(claimed) => claimed,
        Err(error) => return Ok(answer(error)),
    };
    let (response, outcome) = serve(
        &state,
        priced,
        inner,
        parts,
        body,
        &accepted,
        claimed.as_ref(),
    )
    .await;
    if let Some(claimed) = claimed {
        // Only a release writes (before answering, so the payer's next presentation finds it):
        // a paid request costs one store round trip, its claim.
        claimed.finish(outcome).await;
    }
    if accepted.v1.is_some() {
        return response.map(|mut response| {
            settlement_as_v1(response.headers_mut());
            response
        });
    }
    response
}

/// Verification, the handler and settlement, in the route's order; with how the payment ended
/// for its claim.
async fn serve<S, ReqBody, ResBody>(
    state: &Arc<LayerState>,
    priced: &PricedRoute,
    mut inner: S,
    mut parts: Parts,
    body: ReqBody,
    accepted: &Accepted,
    claimed: Option<&replay::Claimed>,
) -> (Result<Response<PaymentBody<ResBody>>, S::Error>, Outcome)
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let requirements = &accepted.event.requirements;
    // One request for verification and settlement (unless usage changes the amount).
    let facilitator_request = accepted.facilitator_request(requirements);
    let verified = match verify(state, priced, accepted, &facilitator_request).await {
        Ok(verified) => verified,
        Err(error) => return (Ok(answer(error)), Outcome::Release),
    };
    parts.extensions.insert(VerifiedPayment {
        payer: verified.payer,
        amount: requirements.amount,
        asset: requirements.asset.clone(),
        network: requirements.network.clone(),
        scheme: requirements.scheme.clone(),
        requirements: requirements.clone(),
    });
    let request = Request::from_parts(parts, body);

    let settling = || {
        if let Some(claimed) = claimed {
            claimed.settling();
        }
    };
    if priced.route.settle_mode == SettleMode::BeforeHandler {
        settling();
        let settled = match settle(
            state,
            priced.pattern.as_str(),
            accepted,
            &facilitator_request,
        )
        .await
        {
            Ok(settled) => settled,
            Err(error) => {
                let outcome = settle_outcome(&error);
                return (Ok(answer(error)), outcome);
            }
        };
        let outcome = Outcome::of_settlement(&settled);
        let response = match inner.call(request).await {
            Ok(response) => response,
            Err(err) => return (Err(err), outcome),
        };
        let (mut parts, body) = response.into_parts();
        strip_internal_headers(&mut parts.headers);
        attach_settlement(&mut parts.headers, &settled);
        return (
            Ok(Response::from_parts(
                parts,
                Either::Left(ResponseBody::plain(body)),
            )),
            outcome,
        );
    }

    if priced.route.settle_mode == SettleMode::Metered {
        return serve_metered(state, priced, inner, request, accepted, claimed).await;
    }

    let response = match inner.call(request).await {
        Ok(response) => response,
        Err(err) => return (Err(err), Outcome::Release),
    };
    let (mut parts, body) = response.into_parts();
    if parts.status.as_u16() >= 400 {
        // The handler failed: nothing is charged.
        strip_internal_headers(&mut parts.headers);
        return (
            Ok(Response::from_parts(
                parts,
                Either::Left(ResponseBody::plain(body)),
            )),
            Outcome::Release,
        );
    }
    let held = hold_response(priced, &parts, body)
        .await
        .and_then(|bytes| used_requirements(&mut parts, requirements).map(|used| (bytes, used)));
    let (bytes, used) = match held {
        Ok(held) => held,
        Err(error) => return (Ok(answer(error)), Outcome::Release),
    };
    settling();
    let used_request;
    let settle_request = match used {
        None => &facilitator_request,
        Some(to_settle) => {
            used_request = accepted.facilitator_request(&to_settle);
            &used_request
        }
    };
    match settle(state, priced.pattern.as_str(), accepted, settle_request).await {
        Ok(settled) => {
            attach_settlement(&mut parts.headers, &settled);
            (
                Ok(Response::from_parts(parts, Either::Right(Full::new(bytes)))),
                Outcome::of_settlement(&settled),
            )
        }
        Err(error) => {
            let outcome = settle_outcome(&error);
            (Ok(answer(error)), outcome)
        }
    }
}

/// A metered route: the handler runs with a [`Meter`] in its request extensions and its response
/// streams at once; the body settles what the meter counted when it ends (or is dropped) and
/// sends the receipt last. The payment stays claimed: it is spent once its stream started.
async fn serve_metered<S, ReqBody, ResBody>(
    state: &Arc<LayerState>,
    priced: &PricedRoute,
    mut inner: S,
    mut request: Request<ReqBody>,
    accepted: &Accepted,
    claimed: Option<&replay::Claimed>,
) -> (Result<Response<PaymentBody<ResBody>>, S::Error>, Outcome)
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let ceiling = accepted.event.requirements.clone();
    let meter = Meter::new(ceiling.amount);
    request.extensions_mut().insert(meter.clone());
    if let Some(claimed) = claimed {
        claimed.settling();
    }
    let response = match inner.call(request).await {
        Ok(response) => response,
        Err(err) => return (Err(err), Outcome::Release),
    };
    let (mut parts, body) = response.into_parts();
    strip_internal_headers(&mut parts.headers);
    if parts.status.as_u16() >= 400 {
        // The handler failed before streaming: nothing is charged.
        return (
            Ok(Response::from_parts(
                parts,
                Either::Left(ResponseBody::plain(body)),
            )),
            Outcome::Release,
        );
    }
    let sse = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    // The receipt is appended: the length is no longer the handler's.
    parts.headers.remove(http::header::CONTENT_LENGTH);
    if !sse {
        parts.headers.insert(
            http::header::TRAILER,
            http::HeaderValue::from_static(crate::metered::PAYMENT_RESPONSE_TRAILER),
        );
    }
    let state = Arc::clone(state);
    let pattern = priced.pattern.as_str().to_owned();
    let accepted = accepted.clone();
    let settle: crate::metered::Settle = Box::new(move |used| {
        Box::pin(async move {
            let mut to_settle = ceiling;
            to_settle.amount = used;
            let request = accepted.facilitator_request(&to_settle);
            match settle(&state, &pattern, &accepted, &request).await {
                Ok(settled) => Some(settled),
                Err(PaymentError::SettlementFailed(failed)) => {
                    tracing::error!(reason = ?failed.error_reason, used = %used, "a metered stream's settlement failed");
                    Some(*failed)
                }
                Err(err) => {
                    tracing::error!(error = %err, used = %used, "a metered stream could not be settled");
                    None
                }
            }
        })
    });
    let body = ResponseBody::metered(body, meter, settle, sse);
    (
        Ok(Response::from_parts(parts, Either::Left(body))),
        Outcome::Keep,
    )
}

/// How a failed settlement leaves the payment: a settlement answer says whether a transaction
/// went out; a facilitator that failed leaves it unknown.
fn settle_outcome(error: &PaymentError) -> Outcome {
    match error {
        PaymentError::SettlementFailed(settled) => Outcome::of_settlement(settled),
        _ => Outcome::Keep,
    }
}

/// The route's offers for this request, the payment decoded, and the offer it pays (the one
/// its `accepted` names; for v1, the first v1 offer of its scheme and network). A malformed
/// header is a 400 with the challenge; an unknown offer a 402.
async fn accept(
    state: &LayerState,
    priced: &PricedRoute,
    parts: &Parts,
    presented: &Presented,
) -> Result<Accepted, PaymentError> {
    if let Err(err) = state.initialize().await {
        tracing::error!(error = %err, "payment layer cannot serve its routes");
        return Err(err.into());
    }
    let offers = Offers::for_request(state, priced, parts).await?;
    let route = &priced.route;
    let malformed = |message: String| {
        offers.refusal(
            route,
            StatusCode::BAD_REQUEST,
            Reason::T402MalformedPaymentHeader,
            Some(message),
        )
    };
    let unmatched = || {
        offers.refusal(
            route,
            StatusCode::PAYMENT_REQUIRED,
            Reason::NoMatchingRequirements,
            None,
        )
    };
    // Borrowed: the header is read where it is.
    fn text(header: &HeaderValue) -> Result<&str, String> {
        header
            .to_str()
            .map_err(|_| "the payment header is not ASCII".to_owned())
    }
    let (payment, matched, v1) = match presented {
        Presented::V2(header) => {
            let payment: PaymentPayload = text(header)
                .and_then(|value| {
                    state
                        .codec
                        .decode_payment_signature(value)
                        .map_err(|err| err.to_string())
                })
                .map_err(malformed)?;
            let Some(matched) = find_accepted(offers.accepts(), &payment.accepted).cloned() else {
                return Err(unmatched());
            };
            (payment, matched, None)
        }
        Presented::V1(header) => {
            let v1: PaymentPayloadV1 = text(header)
                .and_then(|value| {
                    state
                        .codec
                        .decode_x_payment(value)
                        .map_err(|err| err.to_string())
                })
                .map_err(malformed)?;
            let Some(matched) = offers.find_v1(&v1.scheme, &v1.network).cloned() else {
                return Err(unmatched());
            };
            let resource = offers.resource(route);
            let payment = PaymentPayload::new(matched.clone().into(), v1.payload.clone())
                .with_resource(resource.clone())
                .with_version_key(v1.version_key);
            (payment, matched, Some((v1, resource)))
        }
    };
    let event = PaymentEvent {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        payment,
        requirements: matched,
    };
    Ok(Accepted { offers, event, v1 })
}

/// The before-verify hook, then the facilitator's verification. A refusal is the challenge
/// again with the reason (412 for a missing Permit2 allowance).
async fn verify(
    state: &LayerState,
    priced: &PricedRoute,
    accepted: &Accepted,
    request: &FacilitatorRequest,
) -> Result<t402_core::VerifyResponse, PaymentError> {
    let Accepted { offers, event, .. } = accepted;
    let route = &priced.route;
    if let HookDecision::Abort { reason, message } = state.hooks.before_verify(event).await {
        let failure = PaymentFailure::Aborted {
            reason: reason.clone(),
        };
        report_failure(state, priced.pattern.as_str(), event, &failure).await;
        return Err(offers.refusal(route, StatusCode::PAYMENT_REQUIRED, reason, Some(message)));
    }
    let started = std::time::Instant::now();
    let verified = state.facilitators.verify(request).await;
    if let Some(metrics) = &state.metrics {
        metrics.facilitator_call("verify", started.elapsed());
    }
    let verified = match verified {
        Ok(verified) => verified,
        Err(err) => {
            tracing::warn!(error = %err, "verification could not be done");
            let failure = PaymentFailure::Facilitator {
                reason: err.reason(),
                message: err.to_string(),
            };
            report_failure(state, priced.pattern.as_str(), event, &failure).await;
            return Err(err.into());
        }
    };
    if !verified.is_valid {
        let reason = verified
            .invalid_reason
            .clone()
            .unwrap_or(Reason::VerificationFailed);
        let status = if reason == Reason::Permit2AllowanceRequired {
            StatusCode::PRECONDITION_FAILED
        } else {
            StatusCode::PAYMENT_REQUIRED
        };
        let failure = PaymentFailure::Refused(verified.clone());
        report_failure(state, priced.pattern.as_str(), event, &failure).await;
        let message = verified.invalid_message.clone().unwrap_or_default();
        return Err(offers.refusal(route, status, reason, Some(message)));
    }
    state.hooks.after_verify(event, &verified).await;
    Ok(verified)
}

/// The handler's successful response held until settlement, within the route's limit. A
/// streaming response on a route that settles after its handler is refused: its content would
/// go out before the payment is settled.
async fn hold_response<B>(
    priced: &PricedRoute,
    parts: &http::response::Parts,
    body: B,
) -> Result<Bytes, PaymentError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = priced.route.max_buffered_bytes;
    if parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
    {
        return Err(PaymentError::server(
            Reason::InvalidPaymentRequirements,
            "the handler streams (text/event-stream) on a route that settles after it; \
             mark the route streaming with SettleMode::BeforeHandler",
        ));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err)
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(PaymentError::server(
                Reason::T402ResponseTooLarge,
                format!("the response exceeds the {limit} bytes held until settlement"),
            ))
        }
        Err(err) => Err(PaymentError::server(
            Reason::UnexpectedSettleError,
            format!("the handler's body failed: {err}"),
        )),
    }
}

/// The requirements to settle when the handler reported a used amount (at most the authorized
/// amount): the matched ones with that amount; `None` when it reported none (the matched ones
/// are settled as they are).
fn used_requirements(
    parts: &mut http::response::Parts,
    matched: &PaymentRequirements,
) -> Result<Option<PaymentRequirements>, PaymentError> {
    match used_amount(parts, matched) {
        Ok(Some(used)) if used.as_u256() <= matched.amount.as_u256() => {
            let mut to_settle = matched.clone();
            to_settle.amount = used;
            Ok(Some(to_settle))
        }
        Ok(Some(used)) => {
            // Never capped silently: the handler's report is wrong, nothing is settled.
            tracing::error!(used = %used, ceiling = %matched.amount, "the handler reported usage above the authorized ceiling; nothing settled");
            Err(PaymentError::server(
                Reason::UptoAmountExceedsPermitted,
                format!(
                    "the handler reported {used}, above the authorized {}",
                    matched.amount
                ),
            ))
        }
        Ok(None) => Ok(None),
        Err(message) => Err(PaymentError::server(
            Reason::InvalidPaymentRequirements,
            message,
        )),
    }
}

/// The before-settle hook, then settlement. A failure is 402 with `PAYMENT-RESPONSE`
/// (`success: false`), or 502/504 when the facilitator could not be used.
async fn settle(
    state: &LayerState,
    route: &str,
    accepted: &Accepted,
    request: &FacilitatorRequest,
) -> Result<SettleResponse, PaymentError> {
    let event = &accepted.event;
    let network = accepted.network_name();
    if let HookDecision::Abort { reason, message } = state.hooks.before_settle(event).await {
        let failure = PaymentFailure::Aborted {
            reason: reason.clone(),
        };
        report_failure(state, route, event, &failure).await;
        let refused = SettleResponse::failure(reason, network, None).with_message(message);
        return Err(PaymentError::SettlementFailed(Box::new(refused)));
    }
    let started = std::time::Instant::now();
    let settled = state.facilitators.settle(request).await;
    if let Some(metrics) = &state.metrics {
        metrics.facilitator_call("settle", started.elapsed());
    }
    match settled {
        Ok(settled) if settled.success => {
            if let Some(metrics) = &state.metrics {
                metrics.paid(route, &accepted.network_name(), &event.requirements.scheme);
            }
            state.hooks.after_settle(event, &settled).await;
            Ok(settled)
        }
        Ok(failed) => {
            tracing::warn!(reason = ?failed.error_reason, "settlement failed");
            let failure = PaymentFailure::SettlementFailed(failed.clone());
            report_failure(state, route, event, &failure).await;
            Err(PaymentError::SettlementFailed(Box::new(failed)))
        }
        Err(err) => {
            tracing::error!(error = %err, "settlement could not be done");
            let failure = PaymentFailure::Facilitator {
                reason: err.reason(),
                message: err.to_string(),
            };
            report_failure(state, route, event, &failure).await;
            Err(err.into())
        }
    }
}

/// The amount a handler reported as used: [`SettlementAmount`] in the response extensions, or
/// the `Settlement-Overrides` header (`{"amount": "1000" | "50%" | "$0.05"}`, read as the
/// reference reads it), which is removed either way.
fn used_amount(
    parts: &mut http::response::Parts,
    matched: &PaymentRequirements,
) -> Result<Option<Amount>, String> {
    let header = parts
        .headers
        .remove(HeaderName::from_static(SETTLEMENT_OVERRIDES_HEADER));
    if let Some(SettlementAmount(amount)) = parts.extensions.remove::<SettlementAmount>() {
        return Ok(Some(amount));
    }
    let Some(header) = header else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_slice(header.as_bytes())
        .map_err(|err| format!("unreadable Settlement-Overrides header: {err}"))?;
    let decimals = t402_core::asset::known_decimals(&matched.network, &matched.asset).unwrap_or(6);
    match value.get("amount").and_then(serde_json::Value::as_str) {
        Some(text) => t402_core::price::settlement_amount(text, &matched.amount, decimals)
            .map(Some)
            .map_err(|err| format!("Settlement-Overrides amount: {err}")),
        None => Ok(None),
    }
}

/// Tells the metrics and the hooks how a payment failed.
async fn report_failure(
    state: &LayerState,
    route: &str,
    event: &PaymentEvent,
    failure: &PaymentFailure,
) {
    if let Some(metrics) = &state.metrics {
        let (stage, reason) = match failure {
            PaymentFailure::Refused(verified) => (
                "verify",
                verified
                    .invalid_reason
                    .as_ref()
                    .map_or("invalid", Reason::as_str),
            ),
            PaymentFailure::SettlementFailed(settled) => (
                "settle",
                settled
                    .error_reason
                    .as_ref()
                    .map_or("failed", Reason::as_str),
            ),
            PaymentFailure::Facilitator { reason, .. } => ("facilitator", reason.as_str()),
            PaymentFailure::Aborted { reason } => ("aborted", reason.as_str()),
        };
        metrics.failure(route, stage, reason);
    }
    state.hooks.on_failure(event, failure).await;
}
