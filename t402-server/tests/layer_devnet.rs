//! The payment layer in an axum app, with the real EVM facilitator on the in-process devnet:
//! every status path of the request flow.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use alloy_primitives::U256;
use axum::http::StatusCode;
use common::*;
use t402_core::error::BoxFuture;
use t402_core::{FacilitatorError, Network, Reason, SettleResponse, VerifyResponse};
use t402_server::{
    ConfigError, HookDecision, PaymentEvent, PaymentHooks, PaymentLayer, PaymentOption, Route,
};

#[tokio::test]
async fn unpriced_routes_pass_through_untouched() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let response = get_with(&app, "/free", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("payment-required").is_none());
    assert!(
        response
            .headers()
            .get("access-control-expose-headers")
            .is_none()
    );
    assert_eq!(body_text(response).await, "free");
}

#[tokio::test]
async fn an_unpaid_request_gets_the_challenge() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let response = get_with(&app, "/paid?city=paris", &[]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let expose = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(expose.contains("PAYMENT-RESPONSE") && expose.contains("PAYMENT-REQUIRED"));
    let required = required_of(&response);
    assert_eq!(required.error.as_deref(), Some("Payment required"));
    assert_eq!(required.resource.url, "http://api.test/paid?city=paris");
    assert_eq!(
        required.resource.description.as_deref(),
        Some("A paid report")
    );
    let offer = &required.accepts[0];
    assert_eq!(offer.scheme, "exact");
    assert_eq!(offer.network, Network::eip155(CHAIN));
    assert_eq!(offer.amount, PRICE.into());
    assert_eq!(offer.asset, world.token.to_checksum(None));
    assert_eq!(offer.pay_to, world.pay_to.to_checksum(None));
    assert_eq!(offer.max_timeout_seconds, 60);
    assert_eq!(offer.extra_str("name"), Some("USD Coin"));
    assert_eq!(offer.extra_str("version"), Some("2"));
    // The wire shape: x402Version 2 and the spec's field names.
    let json = serde_json::to_value(&required).unwrap();
    assert_eq!(json["x402Version"], 2);
    assert!(json["accepts"][0]["payTo"].is_string());
    assert_eq!(body_text(response).await, "{}");
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn a_browser_gets_the_paywall_page_and_the_header() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let response = get_with(
        &app,
        "/paid",
        &[
            ("accept", "text/html,application/xhtml+xml"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(response.headers().get("payment-required").is_some());
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = body_text(response).await;
    // 10000 atomic units of a 6-decimal token are shown as 0.01, named from `extra`.
    assert!(page.contains("0.01 USD Coin"), "{page}");
    assert!(page.contains("eip155:31337"));
    assert!(page.contains(&world.pay_to.to_checksum(None)));
    assert!(page.contains("id=\"payment-required\""));
}

#[tokio::test]
async fn a_paid_request_is_served_settled_and_moves_the_balance() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let challenge = get_with(&app, "/paid", &[]).await;
    let payment = world.pay(&required_of(&challenge)).await;

    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let settled = settlement_of(&response);
    assert!(settled.success);
    assert_eq!(settled.network, "eip155:31337");
    let hash: alloy_primitives::B256 = settled.transaction.as_deref().unwrap().parse().unwrap();
    assert!(hash != alloy_primitives::B256::ZERO);
    let body = body_text(response).await;
    assert_eq!(
        body,
        format!("{SECRET} for {}", world.payer.address().to_checksum(None))
    );
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    assert_eq!(world.handled(), 1);

    // The same payment again: refused by the replay guard, handler not run.
    let replay = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(replay.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        required_of(&replay).error.as_deref(),
        Some("t402_payment_replayed")
    );
    assert_eq!(world.handled(), 1);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));

    // Without the guard (another instance with its own memory, say), verification refuses it:
    // the nonce is used.
    let unguarded = world.app(
        world
            .builder_with(world.facilitator.clone())
            .without_replay_guard(),
    );
    let replay = get_with(&unguarded, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(replay.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        required_of(&replay).error.as_deref(),
        Some("invalid_exact_evm_nonce_already_used")
    );
    assert_eq!(world.handled(), 1);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_malformed_payment_header_gets_400_with_a_challenge() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    for header in ["not base64!", "eyJ4NDAyVmVyc2lvbiI6Mn0", "e30="] {
        let response = get_with(&app, "/paid", &[("payment-signature", header)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{header}");
        let required = required_of(&response);
        assert_eq!(
            required.error.as_deref(),
            Some("t402_malformed_payment_header")
        );
        assert!(!required.accepts.is_empty());
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["error"], "t402_malformed_payment_header");
        assert_eq!(body["code"], "T402-2015");
    }
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn a_payment_for_other_terms_is_refused() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let mut required = required_of(&get_with(&app, "/paid", &[]).await);
    // The client pays half: its `accepted` matches no requirement of the route.
    required.accepts[0].amount = (PRICE / 2).into();
    let payment = world.pay(&required).await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        required_of(&response).error.as_deref(),
        Some("No matching payment requirements")
    );
    assert_eq!(world.handled(), 0);
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn a_payment_the_facilitator_refuses_gets_402_with_its_reason() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let required = required_of(&get_with(&app, "/paid", &[]).await);
    let payment = world.pay(&required).await;
    let mut decoded: t402_core::PaymentPayload = t402_core::codec::Codec::default()
        .decode_payment_signature(&payment)
        .unwrap();
    // Tamper with the signed value: the signature no longer matches.
    decoded.payload["authorization"]["value"] = serde_json::json!("20000");
    let tampered = t402_core::codec::encode_header(&decoded);
    let response = get_with(&app, "/paid", &[("payment-signature", &tampered)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        required_of(&response).error.as_deref(),
        Some("invalid_exact_evm_signature")
    );
    let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], "invalid_exact_evm_signature");
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn a_failing_handler_is_not_charged() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/fail", &[]).await))
        .await;
    let response = get_with(&app, "/fail", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get("payment-response").is_none());
    assert_eq!(body_text(response).await, "handler failed");
    assert_eq!(world.handled(), 1);
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
    assert_eq!(
        world.balance(world.payer.address()).await,
        U256::from(1_000_000u64)
    );
}

#[tokio::test]
async fn a_failed_settlement_gets_402_and_never_the_content() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/slow", &[]).await))
        .await;
    // The handler takes an hour (it moves the chain's clock): the authorization expires before
    // settlement.
    let response = get_with(&app, "/slow", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let settled = settlement_of(&response);
    assert!(!settled.success);
    assert_eq!(
        settled.error_reason,
        Some(Reason::InvalidExactEvmPayloadAuthorizationValidBefore)
    );
    assert_eq!(settled.network, "eip155:31337");
    assert_eq!(settled.payer, Some(world.payer.address().to_checksum(None)));
    let body = body_text(response).await;
    assert_eq!(body, "{}");
    assert!(!body.contains(SECRET));
    assert_eq!(world.handled(), 1);
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn an_unreachable_facilitator_means_502_and_no_handler() {
    let world = World::new();
    let mut scripted = Scripted::new(world.facilitator.clone());
    scripted.verify_error = Some(|| FacilitatorError::Unavailable("connection refused".into()));
    let app = world.app(world.builder_with(Arc::new(scripted)));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], "t402_facilitator_unavailable");
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn a_slow_facilitator_means_504_and_no_handler() {
    let world = World::new();
    let mut scripted = Scripted::new(world.facilitator.clone());
    scripted.verify_error = Some(|| FacilitatorError::Timeout(std::time::Duration::from_secs(10)));
    let app = world.app(world.builder_with(Arc::new(scripted)));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn permit2_allowance_required_gets_412() {
    let world = World::new();
    let mut scripted = Scripted::new(world.facilitator.clone());
    scripted.verify_answer =
        Some(|| VerifyResponse::invalid(Reason::Permit2AllowanceRequired, None));
    let app = world.app(world.builder_with(Arc::new(scripted)));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        required_of(&response).error.as_deref(),
        Some("permit2_allowance_required")
    );
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn settle_before_the_handler_when_the_route_says_so() {
    let world = World::new();
    let mut scripted = Scripted::new(world.facilitator.clone());
    scripted.settle_answer = Some(|| {
        SettleResponse::failure(
            Reason::InvalidExactEvmTransactionFailed,
            "eip155:31337",
            None,
        )
    });
    let failing = world.app(world.builder_with(Arc::new(scripted)));
    let payment = world
        .pay(&required_of(&get_with(&failing, "/before", &[]).await))
        .await;
    let response = get_with(&failing, "/before", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(!settlement_of(&response).success);
    assert_eq!(
        world.handled(),
        0,
        "settlement failed first: the handler never ran"
    );

    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/before", &[]).await))
        .await;
    let response = get_with(&app, "/before", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(settlement_of(&response).success);
    assert_eq!(body_text(response).await, SECRET);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_response_too_large_to_hold_is_not_sent_nor_charged() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/big", &[]).await))
        .await;
    let response = get_with(&app, "/big", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(body["error"], "t402_response_too_large");
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn internal_headers_never_reach_the_client() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/internal", &[]).await))
        .await;
    let response = get_with(&app, "/internal", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("settlement-overrides").is_none());
    assert!(settlement_of(&response).success);
}

#[tokio::test]
async fn supported_is_fetched_once_and_cached() {
    let world = World::new();
    let scripted = Arc::new(Scripted::new(world.facilitator.clone()));
    let app = world.app(world.builder_with(scripted.clone()));
    for _ in 0..5 {
        let response = get_with(&app, "/paid", &[]).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    }
    assert_eq!(scripted.supported_calls.load(Ordering::SeqCst), 1);
    // The reused challenge follows the URL asked for.
    for url in ["/paid?page=2", "/paid", "/paid?page=3"] {
        let response = get_with(&app, url, &[]).await;
        assert_eq!(
            required_of(&response).resource.url,
            format!("http://api.test{url}")
        );
    }
}

#[tokio::test]
async fn a_route_no_facilitator_supports_is_a_clear_error_at_initialisation() {
    let world = World::new();
    let base_mainnet = PaymentOption::exact(
        Network::eip155(8453),
        t402_core::Price::money("$0.01").unwrap(),
        world.pay_to.to_checksum(None),
    );
    let layer = world
        .builder_with(world.facilitator.clone())
        .route("GET /paid", Route::new(world.option()))
        .route("GET /elsewhere", Route::new(base_mainnet))
        .build()
        .unwrap();
    let err = layer.initialize().await.unwrap_err();
    assert_eq!(err.reason(), Reason::MissingFacilitator);
    let text = err.to_string();
    assert!(
        text.contains("GET /elsewhere") && text.contains("eip155:8453"),
        "{text}"
    );
}

#[tokio::test]
async fn a_streaming_route_must_settle_before_its_handler() {
    let world = World::new();
    let err = world
        .builder_with(world.facilitator.clone())
        .route("GET /events", Route::new(world.option()).streaming())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::StreamingSettlesAfter { .. }));
    assert!(
        world
            .builder_with(world.facilitator.clone())
            .route(
                "GET /events",
                Route::new(world.option())
                    .streaming()
                    .settle(t402_server::SettleMode::BeforeHandler)
            )
            .build()
            .is_ok()
    );
    assert!(matches!(
        PaymentLayer::builder()
            .route("GET /x", Route::new(world.option()))
            .build(),
        Err(ConfigError::NoFacilitator)
    ));
}

struct Refuser;

impl PaymentHooks for Refuser {
    fn before_verify<'a>(&'a self, event: &'a PaymentEvent) -> BoxFuture<'a, HookDecision> {
        Box::pin(async move {
            assert_eq!(event.uri.path(), "/paid");
            HookDecision::Abort {
                reason: Reason::Other("payer_blocked".into()),
                message: "this payer is blocked".into(),
            }
        })
    }
}

#[tokio::test]
async fn a_before_verify_hook_can_refuse() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()).hooks(Refuser));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        required_of(&response).error.as_deref(),
        Some("payer_blocked")
    );
    assert_eq!(world.handled(), 0);
}
