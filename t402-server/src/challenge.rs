//! Everything a challenge is made of: a route's requirements for a request (built once per
//! `/supported` answer for fixed routes), the `PaymentRequired` naming the resource, its encoded
//! header (reused while a fixed route is asked for the same URL), the v1 body for v1 clients,
//! and the paywall page for browsers.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http::header::{ACCEPT, HOST, USER_AGENT};
use http::request::Parts;
use t402_core::wire::{PaymentRequiredV1, PaymentRequirementsV1};
use t402_core::{
    PROTOCOL_VERSION, PaymentRequired, PaymentRequirements, Price, Reason, ResourceInfo, VersionKey,
};

use crate::config::{PaymentOption, Route};
use crate::error::{ChallengeBody, ConfigError, PaymentError};
use crate::headers::required_header;
use crate::hooks::ChallengeEvent;
use crate::paywall::{OfferView, is_browser};
use crate::state::{BuiltOffers, CachedChallenge, LayerState, PricedRoute};

/// A route's requirements for one request, and the `/supported` generation they were built from
/// (fixed routes only).
#[derive(Clone)]
pub(crate) struct Offers {
    pub(crate) built: Arc<BuiltOffers>,
    generation: Option<u64>,
    url: String,
    version_key: VersionKey,
}

impl Offers {
    /// The route's requirements for this request: built once per `/supported` answer for a
    /// fixed route, per request otherwise.
    pub(crate) async fn for_request(
        state: &LayerState,
        priced: &PricedRoute,
        parts: &Parts,
    ) -> Result<Self, PaymentError> {
        let route = &priced.route;
        let url = resource_url(route, parts);
        let version_key = state.version_key;
        let generation = if route.is_fixed() {
            let generation = state.facilitators.generation().await?;
            let cached = priced
                .built
                .read()
                .unwrap_or_else(|poison| poison.into_inner())
                .as_ref()
                .filter(|(built_from, _)| *built_from == generation)
                .map(|(_, built)| built.clone());
            if let Some(built) = cached {
                return Ok(Self {
                    built,
                    generation: Some(generation),
                    url,
                    version_key,
                });
            }
            Some(generation)
        } else {
            None
        };
        let mut built = BuiltOffers {
            accepts: Vec::with_capacity(route.options.len()),
            v1: Vec::new(),
            extensions: None,
        };
        for option in &route.options {
            let (requirements, declared) = build_requirements(state, option, parts).await?;
            if let Some(declared) = declared {
                built
                    .extensions
                    .get_or_insert_with(Default::default)
                    .extend(declared);
            }
            if state.serves_v1 && serves_v1(state, &requirements).await? {
                built.v1.push(built.accepts.len());
            }
            built.accepts.push(requirements);
        }
        let built = Arc::new(built);
        if let Some(generation) = generation {
            *priced
                .built
                .write()
                .unwrap_or_else(|poison| poison.into_inner()) = Some((generation, built.clone()));
        }
        Ok(Self {
            built,
            generation,
            url,
            version_key,
        })
    }

    /// The route's requirements for this request.
    pub(crate) fn accepts(&self) -> &[PaymentRequirements] {
        &self.built.accepts
    }

    /// The resource the offers are for.
    pub(crate) fn resource(&self, route: &Route) -> ResourceInfo {
        ResourceInfo::new(self.url.clone())
            .with_description(route.description.clone())
            .with_mime_type(route.mime_type.clone())
    }

    /// The challenge naming this resource, with `error` as its error text.
    pub(crate) fn payment_required(&self, route: &Route, error: &str) -> PaymentRequired {
        let mut required = PaymentRequired::new(self.resource(route), self.built.accepts.clone())
            .with_error(error)
            .with_version_key(self.version_key);
        required.extensions.clone_from(&self.built.extensions);
        required
    }

    /// The offers a v1 client may pay, as a v1 402 body with `error` as its error text; `None`
    /// when there are none.
    pub(crate) fn payment_required_v1(
        &self,
        route: &Route,
        error: &str,
    ) -> Option<PaymentRequiredV1> {
        if self.built.v1.is_empty() {
            return None;
        }
        let resource = self.resource(route);
        let accepts = self
            .built
            .v1
            .iter()
            .filter_map(|&index| {
                PaymentRequirementsV1::from_v2(&self.built.accepts[index], &resource).ok()
            })
            .collect();
        Some(
            PaymentRequiredV1::new(accepts)
                .with_error(error)
                .with_version_key(self.version_key),
        )
    }

    /// The v1 offer a v1 payment of `scheme` on the v1 `network` name pays, as the reference v1
    /// servers match it (scheme and network; the first such offer).
    pub(crate) fn find_v1(&self, scheme: &str, network: &str) -> Option<&PaymentRequirements> {
        self.built
            .v1
            .iter()
            .map(|&index| &self.built.accepts[index])
            .find(|offer| offer.scheme == scheme && offer.network.legacy_name() == Some(network))
    }

    /// A refusal of a presented payment: the challenge again with `status` and the reason as
    /// its error, and the reason with `message` in the body when there is a message (in the v1
    /// body, beside the v1 offers, when v1 is offered).
    pub(crate) fn refusal(
        &self,
        route: &Route,
        status: StatusCode,
        reason: Reason,
        message: Option<String>,
    ) -> PaymentError {
        let header = required_header(&self.payment_required(route, reason.as_str()));
        let body = match (self.payment_required_v1(route, reason.as_str()), message) {
            (Some(mut v1), message) => {
                if let Some(message) = message {
                    v1.unknown.insert("message".into(), message.into());
                }
                if let Some(code) = reason.code() {
                    v1.unknown.insert("code".into(), code.to_string().into());
                }
                ChallengeBody::V1 {
                    body: json_bytes(&v1),
                    reason: Some(reason),
                }
            }
            (None, Some(message)) => ChallengeBody::Detail(reason, message),
            (None, None) => ChallengeBody::Empty,
        };
        PaymentError::challenge(status, header, body)
    }

    /// The 402 for a request without payment: the paywall page for browsers, else the JSON
    /// challenge, whose encoded header is reused while a fixed route is asked for the same URL.
    fn unpaid(self, state: &LayerState, priced: &PricedRoute, parts: &Parts) -> PaymentError {
        let route = &priced.route;
        let text = Reason::PaymentRequiredText.as_str();
        if let Some(paywall) = state.paywall.as_ref().filter(|_| wants_html(parts)) {
            let required = self.payment_required(route, text);
            let page = paywall.render(&required, &offer_views(state, route, &required));
            return PaymentError::challenge(
                StatusCode::PAYMENT_REQUIRED,
                required_header(&required),
                ChallengeBody::Page(page),
            );
        }
        let encode = |offers: &Self| {
            let header = required_header(&offers.payment_required(route, text));
            let v1_body = offers
                .payment_required_v1(route, text)
                .map(|v1| json_bytes(&v1));
            (header, v1_body)
        };
        let (header, v1_body) = match self.generation {
            Some(generation) => {
                let cached = priced
                    .challenge
                    .read()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .as_ref()
                    .filter(|c| c.generation == generation && c.url == self.url)
                    .map(|c| (c.header.clone(), c.v1_body.clone()));
                match cached {
                    Some(encoded) => encoded,
                    None => {
                        let (header, v1_body) = encode(&self);
                        *priced
                            .challenge
                            .write()
                            .unwrap_or_else(|poison| poison.into_inner()) = Some(CachedChallenge {
                            generation,
                            url: self.url,
                            header: header.clone(),
                            v1_body: v1_body.clone(),
                        });
                        (header, v1_body)
                    }
                }
            }
            None => encode(&self),
        };
        let body = match v1_body {
            Some(body) => ChallengeBody::V1 { body, reason: None },
            None => ChallengeBody::Empty,
        };
        PaymentError::challenge(StatusCode::PAYMENT_REQUIRED, header, body)
    }
}

/// Compact JSON of a wire message.
fn json_bytes<T: serde::Serialize>(value: &T) -> Bytes {
    // Wire types always serialize.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// Whether an offer is also made to v1 clients: its network has a v1 name and a facilitator
/// supports the v1 kind.
async fn serves_v1(
    state: &LayerState,
    requirements: &PaymentRequirements,
) -> Result<bool, PaymentError> {
    let Some(name) = requirements.network.legacy_name() else {
        return Ok(false);
    };
    Ok(state
        .facilitators
        .kind(1, &requirements.scheme, name)
        .await?
        .is_some())
}

/// The answer to a priced request that carries no payment, without involving the inner service.
/// The hooks hear of it.
pub(crate) async fn unpaid(state: &LayerState, route_index: usize, parts: &Parts) -> PaymentError {
    let priced = &state.routes[route_index];
    let answer = match state.initialize().await {
        Err(err) => PaymentError::Config(err),
        Ok(()) => match Offers::for_request(state, priced, parts).await {
            Ok(offers) => offers.unpaid(state, priced, parts),
            Err(err) => err,
        },
    };
    if let Some(metrics) = &state.metrics {
        metrics.challenge(priced.pattern.as_str());
    }
    state.hooks.on_challenge(&ChallengeEvent {
        method: &parts.method,
        uri: &parts.uri,
        route: priced.pattern.as_str(),
        status: answer.status(),
    });
    answer
}

/// Builds the requirements of one option for this request: price and payee resolved, the asset
/// amount from the scheme, `extra` merged (the scheme's first, the option's over it), then
/// completed with what the owning facilitator's supported kind says (fee payer, facilitator
/// address).
async fn build_requirements(
    state: &LayerState,
    option: &PaymentOption,
    parts: &Parts,
) -> Result<(PaymentRequirements, Option<t402_core::JsonObject>), PaymentError> {
    let missing = |err: ConfigError| PaymentError::Config(err);
    let mechanism = state
        .mechanism(&option.scheme, &option.network)
        .ok_or_else(|| {
            missing(ConfigError::MissingScheme {
                scheme: option.scheme.clone(),
                network: option.network.to_string(),
            })
        })?;
    let request_error =
        |message: String| PaymentError::server(Reason::InvalidPaymentRequirements, message);
    let price: Price = option
        .price
        .resolve(parts)
        .map_err(|err| request_error(err.to_string()))?;
    let pay_to = option
        .pay_to
        .resolve(parts)
        .map_err(|err| request_error(err.to_string()))?;
    let asset_amount = mechanism
        .parse_price(&price, &option.network)
        .map_err(|err| request_error(format!("price of {}: {err}", option.network)))?;
    let mut requirements = PaymentRequirements::new(
        option.scheme.clone(),
        option.network.clone(),
        asset_amount.amount,
        asset_amount.asset,
        pay_to,
        option.max_timeout_seconds,
    );
    let mut extra = asset_amount.extra.unwrap_or_default();
    if let Some(overrides) = &option.extra {
        for (key, value) in overrides {
            extra.insert(key.clone(), value.clone());
        }
    }
    if !extra.is_empty() {
        requirements = requirements.with_extra(extra);
    }
    let offered = state
        .facilitators
        .kind(PROTOCOL_VERSION, &option.scheme, option.network.as_str())
        .await?
        .ok_or_else(|| {
            missing(ConfigError::MissingFacilitator {
                scheme: option.scheme.clone(),
                network: option.network.to_string(),
            })
        })?;
    let requirements = mechanism
        .enhance_requirements(requirements, &offered.kind, &offered.extensions)
        .map_err(|err| request_error(err.to_string()))?;
    let declared = mechanism.extension_declarations(&requirements, &offered.extensions);
    Ok((requirements, declared))
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

/// The offers as a reader of the paywall page should see them: amounts in token units where
/// the decimals are known.
fn offer_views(state: &LayerState, route: &Route, required: &PaymentRequired) -> Vec<OfferView> {
    required
        .accepts
        .iter()
        .zip(&route.options)
        .map(|(requirements, option)| {
            let decimals = option.decimals.or_else(|| {
                state
                    .mechanism(&requirements.scheme, &requirements.network)
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
                decimals,
                payable: browser_payable(requirements),
            }
        })
        .collect()
}

/// Whether the paywall's wallet script can pay an offer: `exact` on an EVM chain over EIP-3009
/// (the token's EIP-712 name and version in `extra`; not Permit2).
fn browser_payable(requirements: &PaymentRequirements) -> bool {
    requirements.scheme == "exact"
        && requirements.network.eip155_chain_id().is_some()
        && requirements.extra_str("name").is_some()
        && requirements.extra_str("version").is_some()
        && requirements.extra_str("assetTransferMethod") != Some("permit2")
}

/// The token's name when it is the network's default asset, else its address.
fn asset_label(requirements: &PaymentRequirements) -> String {
    match t402_core::asset::default_asset(&requirements.network) {
        Some(info) if info.address.eq_ignore_ascii_case(&requirements.asset) => {
            info.eip712_name.unwrap_or(info.address).to_owned()
        }
        _ => requirements
            .extra_str("name")
            .map(str::to_owned)
            .unwrap_or_else(|| requirements.asset.clone()),
    }
}
