//! The payment flow of one priced request (design §4, protocol reference §1.2 and §2.3).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderName, USER_AGENT};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use t402_core::codec::PAYMENT_SIGNATURE_HEADER;
use t402_core::error::BoxError;
use t402_core::wire::{FacilitatorRequest, VerifyRequest};
use t402_core::{
    Amount, Facilitator, PaymentPayload, PaymentRequired, PaymentRequirements, Reason,
    ResourceInfo, SettleResponse,
};
use tower_service::Service;

use crate::PaymentBody;
use crate::config::{Route, SettleMode};
use crate::hooks::{HookDecision, PaymentEvent, PaymentFailure, SettlementAmount, VerifiedPayment};
use crate::layer::{CachedChallenge, Shared};
use crate::paywall::{OfferView, is_browser};
use crate::requirements::{BuildError, build, find_accepted};
use crate::response::{
    SETTLEMENT_OVERRIDES_HEADER, attach_settlement, challenge, challenge_with_header,
    facilitator_error, full, json_error, required_header, settlement_failed,
    strip_internal_headers,
};

/// One of the layer's own responses as a response of the service.
fn own<B>(response: Response<Full<Bytes>>) -> Response<PaymentBody<B>> {
    response.map(Either::Right)
}

/// Runs the flow for a request to route `route_index`. `inner` was polled ready.
pub(crate) async fn handle<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<ReqBody>,
    route_index: usize,
) -> Result<Response<PaymentBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let route = &shared.routes[route_index].1;
    if let Err(response) = ensure_initialized(&shared).await {
        return Ok(own(*response));
    }
    let (mut parts, body) = request.into_parts();

    // The route's requirements for this request.
    let (accepts, generation) = match route_requirements(&shared, route_index, &parts).await {
        Ok(built) => built,
        Err(response) => return Ok(own(*response)),
    };
    let url = resource_url(route, &parts);
    let required = |error: &str| payment_required(route, url.clone(), &accepts, error);

    // No payment: the challenge.
    let Some(header) = parts.headers.get(PAYMENT_SIGNATURE_HEADER) else {
        return Ok(own(challenge_unpaid(
            &shared,
            route_index,
            &parts,
            &accepts,
            generation,
            url,
        )));
    };
    let decoded = header
        .to_str()
        .map_err(|_| "the payment header is not ASCII".to_string())
        .and_then(|value| {
            shared
                .codec
                .decode_payment_signature(value)
                .map_err(|err| err.to_string())
        });
    let payment: PaymentPayload = match decoded {
        Ok(payment) => payment,
        Err(message) => {
            let reason = Reason::T402MalformedPaymentHeader;
            let required = required(reason.as_str());
            return Ok(own(challenge(
                StatusCode::BAD_REQUEST,
                &required,
                None,
                Some((&reason, &message)),
            )));
        }
    };
    let Some(matched) = find_accepted(&accepts, &payment.accepted).cloned() else {
        let reason = Reason::NoMatchingRequirements;
        return Ok(own(challenge(
            StatusCode::PAYMENT_REQUIRED,
            &required(reason.as_str()),
            None,
            None,
        )));
    };
    let event = PaymentEvent {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        payment,
        requirements: matched.clone(),
    };

    // Verification.
    if let HookDecision::Abort { reason, message } = shared.hooks.before_verify(&event).await {
        shared
            .hooks
            .on_failure(
                &event,
                &PaymentFailure::Aborted {
                    reason: reason.clone(),
                },
            )
            .await;
        return Ok(own(challenge(
            StatusCode::PAYMENT_REQUIRED,
            &required(reason.as_str()),
            None,
            Some((&reason, &message)),
        )));
    }
    let facilitator_request =
        FacilitatorRequest::V2(VerifyRequest::new(event.payment.clone(), matched.clone()));
    let verified = match shared.facilitators.verify(&facilitator_request).await {
        Ok(verified) => verified,
        Err(err) => {
            tracing::warn!(error = %err, "verification could not be done");
            let failure = PaymentFailure::Facilitator {
                reason: err.reason(),
                message: err.to_string(),
            };
            shared.hooks.on_failure(&event, &failure).await;
            return Ok(own(facilitator_error(&err)));
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
        shared
            .hooks
            .on_failure(&event, &PaymentFailure::Refused(verified.clone()))
            .await;
        let message = verified.invalid_message.clone().unwrap_or_default();
        return Ok(own(challenge(
            status,
            &required(reason.as_str()),
            None,
            Some((&reason, &message)),
        )));
    }
    shared.hooks.after_verify(&event, &verified).await;
    parts.extensions.insert(VerifiedPayment {
        payer: verified.payer.clone(),
        amount: matched.amount,
        asset: matched.asset.clone(),
        network: matched.network.clone(),
        scheme: matched.scheme.clone(),
        requirements: matched.clone(),
    });
    let request = Request::from_parts(parts, body);

    match route.settle_mode {
        SettleMode::BeforeHandler => {
            let settled = match settle(&shared, &event, &matched).await {
                Ok(settled) => settled,
                Err(response) => return Ok(own(*response)),
            };
            let response = inner.call(request).await?;
            let (mut response_parts, body) = response.into_parts();
            strip_internal_headers(&mut response_parts.headers);
            attach_settlement(&mut response_parts.headers, &settled);
            Ok(Response::from_parts(response_parts, Either::Left(body)))
        }
        _ => {
            let response = inner.call(request).await?;
            let (mut response_parts, body) = response.into_parts();
            if response_parts.status.as_u16() >= 400 {
                // The handler failed: nothing is charged.
                strip_internal_headers(&mut response_parts.headers);
                return Ok(Response::from_parts(response_parts, Either::Left(body)));
            }
            if response_parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"))
            {
                return Ok(own(json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &Reason::InvalidPaymentRequirements,
                    "the handler streams (text/event-stream) on a route that settles after it; \
                     mark the route streaming with SettleMode::BeforeHandler",
                )));
            }
            let bytes = match Limited::new(body, route.max_buffered_bytes).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(err) => {
                    let too_large = err
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some();
                    let (reason, message) = if too_large {
                        (
                            Reason::T402ResponseTooLarge,
                            format!(
                                "the response exceeds the {} bytes held until settlement",
                                route.max_buffered_bytes
                            ),
                        )
                    } else {
                        (
                            Reason::UnexpectedSettleError,
                            format!("the handler's body failed: {err}"),
                        )
                    };
                    return Ok(own(json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &reason,
                        &message,
                    )));
                }
            };
            let mut to_settle = matched.clone();
            match used_amount(&mut response_parts) {
                Ok(Some(used)) if used.as_u256() <= matched.amount.as_u256() => {
                    to_settle.amount = used;
                }
                Ok(Some(used)) => {
                    return Ok(own(json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &Reason::UptoAmountExceedsPermitted,
                        &format!(
                            "the handler reported {used}, above the authorized {}",
                            matched.amount
                        ),
                    )));
                }
                Ok(None) => {}
                Err(message) => {
                    return Ok(own(json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &Reason::InvalidPaymentRequirements,
                        &message,
                    )));
                }
            }
            let settled = match settle(&shared, &event, &to_settle).await {
                Ok(settled) => settled,
                Err(response) => return Ok(own(*response)),
            };
            attach_settlement(&mut response_parts.headers, &settled);
            Ok(Response::from_parts(
                response_parts,
                Either::Right(full(bytes)),
            ))
        }
    }
}

/// The flow of a request that carries no payment: the challenge, without involving the inner
/// service.
pub(crate) async fn unpaid<ReqBody>(
    shared: Arc<Shared>,
    request: Request<ReqBody>,
    route_index: usize,
) -> Response<Full<Bytes>> {
    if let Err(response) = ensure_initialized(&shared).await {
        return *response;
    }
    let (parts, _body) = request.into_parts();
    let (accepts, generation) = match route_requirements(&shared, route_index, &parts).await {
        Ok(built) => built,
        Err(response) => return *response,
    };
    let url = resource_url(&shared.routes[route_index].1, &parts);
    challenge_unpaid(&shared, route_index, &parts, &accepts, generation, url)
}

/// Checks the routes against the facilitators once; on failure, the error response.
async fn ensure_initialized(shared: &Shared) -> Result<(), Box<Response<Full<Bytes>>>> {
    let Err(err) = shared.initialize().await else {
        return Ok(());
    };
    tracing::error!(error = %err, "payment layer cannot serve its routes");
    let status = match &err {
        crate::ConfigError::FacilitatorUnavailable(t402_core::FacilitatorError::Timeout(_)) => {
            StatusCode::GATEWAY_TIMEOUT
        }
        crate::ConfigError::FacilitatorUnavailable(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Err(Box::new(json_error(
        status,
        &err.reason(),
        &err.to_string(),
    )))
}

/// The 402 for a request without payment: the paywall page for browsers, else the JSON
/// challenge, whose encoded header is reused while a fixed route is asked for the same URL.
fn challenge_unpaid(
    shared: &Shared,
    route_index: usize,
    parts: &Parts,
    accepts: &[PaymentRequirements],
    generation: Option<u64>,
    url: String,
) -> Response<Full<Bytes>> {
    let route = &shared.routes[route_index].1;
    let required =
        |url: String| payment_required(route, url, accepts, Reason::PaymentRequiredText.as_str());
    let browser = shared.paywall.is_some() && wants_html(parts);
    if let (false, Some(generation)) = (browser, generation) {
        let slot = &shared.challenges[route_index];
        let cached = slot
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .as_ref()
            .filter(|c| c.generation == generation && c.url == url)
            .map(|c| c.header.clone());
        if let Some(header) = cached {
            return challenge_with_header(header);
        }
        let header = required_header(&required(url.clone()));
        *slot.write().unwrap_or_else(|poison| poison.into_inner()) = Some(CachedChallenge {
            generation,
            url,
            header: header.clone(),
        });
        return challenge_with_header(header);
    }
    let required = required(url);
    let html = paywall_page(shared, route, parts, &required);
    challenge(StatusCode::PAYMENT_REQUIRED, &required, html, None)
}

/// The route's requirements for this request: built once per `/supported` answer for a fixed
/// route, per request otherwise. On failure, the error response.
async fn route_requirements(
    shared: &Shared,
    route_index: usize,
    parts: &Parts,
) -> Result<(Arc<Vec<PaymentRequirements>>, Option<u64>), Box<Response<Full<Bytes>>>> {
    let route = &shared.routes[route_index].1;
    let cacheable = route.is_fixed();
    let generation = if cacheable {
        let generation = shared
            .facilitators
            .generation()
            .await
            .map_err(|err| Box::new(facilitator_error(&err)))?;
        let cached = shared.built[route_index]
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .as_ref()
            .filter(|(built_from, _)| *built_from == generation)
            .map(|(_, accepts)| accepts.clone());
        if let Some(accepts) = cached {
            return Ok((accepts, Some(generation)));
        }
        Some(generation)
    } else {
        None
    };
    let mut accepts = Vec::with_capacity(route.options.len());
    for option in &route.options {
        match build(option, parts, &shared.mechanisms, &shared.facilitators).await {
            Ok(requirements) => accepts.push(requirements),
            Err(BuildError::Config(err)) => {
                return Err(Box::new(json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &err.reason(),
                    &err.to_string(),
                )));
            }
            Err(BuildError::Request(message)) => {
                return Err(Box::new(json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &Reason::InvalidPaymentRequirements,
                    &message,
                )));
            }
            Err(BuildError::Facilitator(err)) => return Err(Box::new(facilitator_error(&err))),
        }
    }
    let accepts = Arc::new(accepts);
    if let Some(generation) = generation {
        *shared.built[route_index]
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = Some((generation, accepts.clone()));
    }
    Ok((accepts, generation))
}

/// Settles; on failure the response to send instead of the content.
async fn settle(
    shared: &Shared,
    event: &PaymentEvent,
    requirements: &PaymentRequirements,
) -> Result<SettleResponse, Box<Response<Full<Bytes>>>> {
    let network = event.payment.accepted.network.to_string();
    if let HookDecision::Abort { reason, message } = shared.hooks.before_settle(event).await {
        shared
            .hooks
            .on_failure(
                event,
                &PaymentFailure::Aborted {
                    reason: reason.clone(),
                },
            )
            .await;
        let refused = SettleResponse::failure(reason, network, None).with_message(message);
        return Err(Box::new(settlement_failed(&refused)));
    }
    let request = FacilitatorRequest::V2(VerifyRequest::new(
        event.payment.clone(),
        requirements.clone(),
    ));
    match shared.facilitators.settle(&request).await {
        Ok(settled) if settled.success => {
            shared.hooks.after_settle(event, &settled).await;
            Ok(settled)
        }
        Ok(failed) => {
            tracing::warn!(reason = ?failed.error_reason, "settlement failed");
            shared
                .hooks
                .on_failure(event, &PaymentFailure::SettlementFailed(failed.clone()))
                .await;
            Err(Box::new(settlement_failed(&failed)))
        }
        Err(err) => {
            tracing::error!(error = %err, "settlement could not be done");
            let failure = PaymentFailure::Facilitator {
                reason: err.reason(),
                message: err.to_string(),
            };
            shared.hooks.on_failure(event, &failure).await;
            Err(Box::new(facilitator_error(&err)))
        }
    }
}

/// The amount a handler reported as used: [`SettlementAmount`] in the response extensions, or
/// the `Settlement-Overrides` header (`{"amount": "…"}`), which is removed either way.
fn used_amount(parts: &mut http::response::Parts) -> Result<Option<Amount>, String> {
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
    match value.get("amount").and_then(serde_json::Value::as_str) {
        Some(text) => Amount::parse(text)
            .map(Some)
            .map_err(|err| format!("Settlement-Overrides amount: {err}")),
        None => Ok(None),
    }
}

/// Whether the request comes from a browser that wants a page.
fn wants_html(parts: &Parts) -> bool {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    is_browser(header(ACCEPT), header(USER_AGENT))
}

/// The resource URL: the route's when configured, else the request's.
fn resource_url(route: &Route, parts: &Parts) -> String {
    route.resource.clone().unwrap_or_else(|| request_url(parts))
}

/// The challenge of `route` for the resource at `url`.
fn payment_required(
    route: &Route,
    url: String,
    accepts: &[PaymentRequirements],
    error: &str,
) -> PaymentRequired {
    let resource = ResourceInfo::new(url)
        .with_description(route.description.clone())
        .with_mime_type(route.mime_type.clone());
    PaymentRequired::new(resource, accepts.to_vec()).with_error(error)
}

fn request_url(parts: &Parts) -> String {
    if parts.uri.scheme().is_some() {
        return parts.uri.to_string();
    }
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let scheme = match parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{scheme}://{host}{path}")
}

/// The paywall page when a browser asks and a paywall is configured.
fn paywall_page(
    shared: &Shared,
    route: &Route,
    parts: &Parts,
    required: &PaymentRequired,
) -> Option<String> {
    let paywall = shared.paywall.as_ref()?;
    if !wants_html(parts) {
        return None;
    }
    let offers: Vec<OfferView> = required
        .accepts
        .iter()
        .zip(&route.options)
        .map(|(requirements, option)| {
            let decimals = option.decimals.or_else(|| {
                shared
                    .mechanisms
                    .find(2, &requirements.scheme, &requirements.network)
                    .and_then(|m| m.asset_decimals(&requirements.asset, &requirements.network))
            });
            let (amount, asset) = match decimals {
                Some(decimals) => (
                    requirements.amount.format_units(decimals),
                    asset_label(requirements),
                ),
                None => (
                    requirements.amount.to_string(),
                    format!("atomic units of {}", requirements.asset),
                ),
            };
            OfferView {
                amount,
                asset,
                network: requirements.network.to_string(),
                pay_to: requirements.pay_to.clone(),
                scheme: requirements.scheme.clone(),
            }
        })
        .collect();
    Some(paywall.render(required, &offers))
}

/// The token's name when it is the network's default asset, else its address.
fn asset_label(requirements: &PaymentRequirements) -> String {
    match t402_core::asset::default_asset(&requirements.network) {
        Some(info) if info.address.eq_ignore_ascii_case(&requirements.asset) => {
            info.eip712_name.unwrap_or(info.address).to_string()
        }
        _ => requirements
            .extra_str("name")
            .map(str::to_string)
            .unwrap_or_else(|| requirements.asset.clone()),
    }
}
