//! Both protocol families and v1 clients on one server, on the in-process devnet with chain id
//! 84532 (v1 name `base-sepolia`): the version keys challenges are written with, payments named
//! with either key, and v1 serving (`{"x402Version": 1, "accepts"}` body, `X-PAYMENT`,
//! `X-PAYMENT-RESPONSE`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::U256;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use common::{body_text, get_with};
use serde_json::{Value, json};
use t402_core::codec::encode_header;
use t402_core::error::BoxFuture;
use t402_core::wire::{PaymentPayloadV1, PaymentRequirementsV1};
use t402_core::{
    ClientMechanism, Network, NetworkPattern, PaymentPayload, PaymentRequirements, Reason,
    VersionKey,
};
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::{HookDecision, PaymentEvent, PaymentHooks, PaymentLayer, PaymentOption, Route};
use t402_testkit::DevnetWorld;

const BASE_SEPOLIA: u64 = 84532;
const PRICE: u64 = 10_000;

struct Setup {
    world: DevnetWorld,
    handled: Arc<AtomicUsize>,
}

impl Setup {
    fn new() -> Self {
        Self {
            world: DevnetWorld::with_chain_id(BASE_SEPOLIA),
            handled: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn builder(&self) -> t402_server::PaymentLayerBuilder {
        let option = PaymentOption::exact(
            Network::eip155(BASE_SEPOLIA),
            t402_testkit::test_token_price(self.world.token, PRICE),
            self.world.pay_to.to_checksum(None),
        )
        .max_timeout_seconds(60);
        PaymentLayer::builder()
            .facilitator(self.world.facilitator.clone())
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
            .route("GET /paid", Route::new(option).description("A paid report"))
            .without_paywall()
    }

    fn app(&self, builder: t402_server::PaymentLayerBuilder) -> Router {
        let handled = self.handled.clone();
        Router::new()
            .route(
                "/paid",
                get(move || async move {
                    handled.fetch_add(1, Ordering::SeqCst);
                    "the paid content"
                }),
            )
            .layer(builder.build().unwrap())
    }

    fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    async fn paid_to(&self) -> U256 {
        self.world
            .devnet
            .token_balance(self.world.token, self.world.pay_to)
            .await
            .unwrap()
    }

    /// The payload a client signs for `requirements`.
    async fn sign(&self, requirements: &PaymentRequirements) -> t402_core::wire::JsonObject {
        ExactEvmClient::new(self.world.payer.clone())
            .create_payload(2, requirements, None)
            .await
            .unwrap()
            .payload
    }
}

/// The JSON of a base64 header.
fn header_json(response: &axum::http::Response<axum::body::Body>, name: &str) -> Value {
    let text = response.headers()[name].to_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn version_keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|key| key.ends_with("402Version"))
        .collect()
}

#[tokio::test]
async fn challenges_name_the_version_with_both_keys_unless_configured() {
    let setup = Setup::new();
    for (key, expected) in [
        (None, vec!["x402Version", "t402Version"]),
        (Some(VersionKey::Both), vec!["x402Version", "t402Version"]),
        (Some(VersionKey::X402), vec!["x402Version"]),
        (Some(VersionKey::T402), vec!["t402Version"]),
    ] {
        let builder = match key {
            Some(key) => setup.builder().version_key(key),
            None => setup.builder(),
        };
        let app = setup.app(builder);
        let response = get_with(&app, "/paid", &[]).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
        let header = header_json(&response, "payment-required");
        assert_eq!(version_keys(&header), expected, "header with {key:?}");
        for key in &expected {
            assert_eq!(header[key], 2);
        }
        let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(version_keys(&body), expected, "v1 body with {key:?}");
        for key in &expected {
            assert_eq!(body[key], 1);
        }
    }
}

#[tokio::test]
async fn payments_named_with_either_key_are_accepted_and_disagreeing_keys_refused() {
    let setup = Setup::new();
    let app = setup.app(setup.builder());
    let required = common::required_of(&get_with(&app, "/paid", &[]).await);
    let offer = required.accepts[0].clone();

    for (n, key) in [VersionKey::T402, VersionKey::X402, VersionKey::Both]
        .into_iter()
        .enumerate()
    {
        let payment = PaymentPayload::new(offer.clone().into(), setup.sign(&offer).await)
            .with_version_key(key);
        let header = encode_header(&payment);
        let response = get_with(&app, "/paid", &[("payment-signature", &header)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{key:?}");
        assert!(response.headers().contains_key("payment-response"));
        assert_eq!(setup.paid_to().await, U256::from(PRICE * (n as u64 + 1)));
    }

    let payment = PaymentPayload::new(offer.clone().into(), setup.sign(&offer).await);
    let mut value = serde_json::to_value(&payment).unwrap();
    value["t402Version"] = json!(1);
    let header = base64::engine::general_purpose::STANDARD.encode(value.to_string());
    let response = get_with(&app, "/paid", &[("payment-signature", &header)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], Reason::T402MalformedPaymentHeader.as_str());
    assert_eq!(setup.handled(), 3);
}

#[tokio::test]
async fn a_v1_client_reads_the_body_pays_with_x_payment_and_gets_x_payment_response() {
    let setup = Setup::new();
    let app = setup.app(setup.builder());
    let unpaid = get_with(&app, "/paid", &[]).await;
    assert_eq!(unpaid.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(unpaid.headers().contains_key("payment-required"));
    let body: Value = serde_json::from_str(&body_text(unpaid).await).unwrap();
    assert_eq!(body["error"], "Payment required");
    let offer = &body["accepts"][0];
    assert_eq!(offer["scheme"], "exact");
    assert_eq!(offer["network"], "base-sepolia");
    assert_eq!(offer["maxAmountRequired"], PRICE.to_string());
    assert_eq!(offer["resource"], "http://api.test/paid");
    assert_eq!(offer["description"], "A paid report");
    assert_eq!(offer["mimeType"], "");
    assert_eq!(offer["payTo"], setup.world.pay_to.to_checksum(None));
    assert_eq!(offer["asset"], setup.world.token.to_checksum(None));
    assert_eq!(offer["maxTimeoutSeconds"], 60);
    assert_eq!(offer["extra"], json!({"name": "USD Coin", "version": "2"}));

    let v1: PaymentRequirementsV1 = serde_json::from_value(offer.clone()).unwrap();
    let (requirements, _) = v1.to_v2().unwrap();
    let payment = PaymentPayloadV1::new("exact", "base-sepolia", setup.sign(&requirements).await);
    let response = get_with(&app, "/paid", &[("x-payment", &encode_header(&payment))]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("payment-response"));
    let settled = header_json(&response, "x-payment-response");
    assert_eq!(settled["success"], true);
    assert_eq!(settled["network"], "base-sepolia");
    assert!(settled["transaction"].as_str().unwrap().starts_with("0x"));
    let expose = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(expose.contains("X-PAYMENT-RESPONSE") && expose.contains("PAYMENT-RESPONSE"));
    assert_eq!(body_text(response).await, "the paid content");
    assert_eq!(setup.paid_to().await, U256::from(PRICE));

    // The same signed authorization again, now as v2: the replay guard names it the same way.
    let again = PaymentPayload::new(requirements.clone().into(), payment.payload.clone());
    let replayed = get_with(
        &app,
        "/paid",
        &[("payment-signature", &encode_header(&again))],
    )
    .await;
    assert_eq!(replayed.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = serde_json::from_str(&body_text(replayed).await).unwrap();
    assert_eq!(body["error"], Reason::T402PaymentReplayed.as_str());
    assert_eq!(setup.handled(), 1);
}

#[tokio::test]
async fn a_refused_v1_payment_gets_the_v1_offers_with_the_reason() {
    let setup = Setup::new();
    let app = setup.app(setup.builder());
    let body: Value =
        serde_json::from_str(&body_text(get_with(&app, "/paid", &[]).await).await).unwrap();
    let v1: PaymentRequirementsV1 = serde_json::from_value(body["accepts"][0].clone()).unwrap();
    let (mut cheaper, _) = v1.to_v2().unwrap();
    cheaper.amount = 1u64.into();
    let payment = PaymentPayloadV1::new("exact", "base-sepolia", setup.sign(&cheaper).await);
    let response = get_with(&app, "/paid", &[("x-payment", &encode_header(&payment))]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let required = header_json(&response, "payment-required");
    let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["x402Version"], 1);
    let reason = body["error"].as_str().unwrap();
    assert_eq!(required["error"], reason, "the v2 header says the same");
    assert!(Reason::parse(reason).code().is_some(), "{reason}");
    assert_eq!(
        body["code"],
        Reason::parse(reason).code().unwrap().to_string()
    );
    assert_eq!(body["accepts"][0]["network"], "base-sepolia");

    // A network the route does not offer: no matching requirements.
    let elsewhere = PaymentPayloadV1::new("exact", "base", payment.payload.clone());
    let response = get_with(&app, "/paid", &[("x-payment", &encode_header(&elsewhere))]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], Reason::NoMatchingRequirements.as_str());

    // Not base64 JSON: 400 with the v1 offers.
    let response = get_with(&app, "/paid", &[("x-payment", "%%%")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], Reason::T402MalformedPaymentHeader.as_str());
    assert_eq!(body["accepts"][0]["network"], "base-sepolia");
    assert_eq!(setup.handled(), 0);
    assert_eq!(setup.paid_to().await, U256::ZERO);
}

struct RefuseSettlement;

impl PaymentHooks for RefuseSettlement {
    fn before_settle<'a>(&'a self, _event: &'a PaymentEvent) -> BoxFuture<'a, HookDecision> {
        Box::pin(async {
            HookDecision::Abort {
                reason: Reason::Other("settlement_refused".into()),
                message: "not today".into(),
            }
        })
    }
}

#[tokio::test]
async fn a_failed_v1_settlement_is_answered_in_x_payment_response() {
    let setup = Setup::new();
    let app = setup.app(setup.builder().hooks(RefuseSettlement));
    let body: Value =
        serde_json::from_str(&body_text(get_with(&app, "/paid", &[]).await).await).unwrap();
    let v1: PaymentRequirementsV1 = serde_json::from_value(body["accepts"][0].clone()).unwrap();
    let (requirements, _) = v1.to_v2().unwrap();
    let payment = PaymentPayloadV1::new("exact", "base-sepolia", setup.sign(&requirements).await);
    let response = get_with(&app, "/paid", &[("x-payment", &encode_header(&payment))]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(!response.headers().contains_key("payment-response"));
    let settled = header_json(&response, "x-payment-response");
    assert_eq!(settled["success"], false);
    assert_eq!(settled["network"], "base-sepolia");
    assert_eq!(setup.paid_to().await, U256::ZERO);
}

#[tokio::test]
async fn without_v1_the_body_is_empty_and_x_payment_is_not_read() {
    let setup = Setup::new();
    let app = setup.app(setup.builder().without_v1());
    let unpaid = get_with(&app, "/paid", &[]).await;
    assert_eq!(unpaid.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body_text(unpaid).await, "{}");

    let unpaid = get_with(&app, "/paid", &[]).await;
    let offer = common::required_of(&unpaid).accepts[0].clone();
    let payment = PaymentPayloadV1::new("exact", "base-sepolia", setup.sign(&offer).await);
    let response = get_with(&app, "/paid", &[("x-payment", &encode_header(&payment))]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body_text(response).await, "{}");
    assert_eq!(setup.handled(), 0);
    assert_eq!(setup.paid_to().await, U256::ZERO);
}
