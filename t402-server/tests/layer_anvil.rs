//! The payment layer with the EVM facilitator on a real anvil node over JSON-RPC: paid, handler
//! failure, failed settlement, facilitator down.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{Scripted, body_text, get_with, required_of, settlement_of};
use serde_json::json;
use t402_core::{
    ClientMechanism, Facilitator, FacilitatorError, Network, NetworkPattern, PaymentPayload,
    PaymentRequired, Reason,
};
use t402_evm::anvil::{ANVIL_CHAIN, Anvil};
use t402_evm::chain::call_typed;
use t402_evm::contracts::IEip3009Token;
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::{PaymentLayer, PaymentOption, Route};

struct Setup {
    anvil: Arc<Anvil>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
    facilitator: Arc<dyn Facilitator>,
    handled: Arc<AtomicUsize>,
}

async fn setup() -> Option<Setup> {
    let world = t402_testkit::AnvilWorld::start().await?;
    Some(Setup {
        anvil: world.anvil,
        token: world.token,
        payer: world.payer,
        pay_to: world.pay_to,
        facilitator: world.facilitator,
        handled: Arc::new(AtomicUsize::new(0)),
    })
}

impl Setup {
    fn app(&self, facilitator: Arc<dyn Facilitator>) -> Router {
        let price = t402_testkit::test_token_price(self.token, 10_000);
        let option = PaymentOption::exact(
            Network::eip155(ANVIL_CHAIN),
            price,
            self.pay_to.to_checksum(None),
        )
        .max_timeout_seconds(300);
        let layer = PaymentLayer::builder()
            .facilitator(facilitator)
            .mechanism(
                NetworkPattern::parse("eip155:*").unwrap(),
                Arc::new(ExactEvmServer),
            )
            .route("GET /paid", Route::new(option.clone()))
            .route("GET /fail", Route::new(option.clone()))
            .route("GET /slow", Route::new(option))
            .build()
            .unwrap();
        let (h1, h2, h3) = (
            self.handled.clone(),
            self.handled.clone(),
            self.handled.clone(),
        );
        let anvil = self.anvil.clone();
        Router::new()
            .route(
                "/paid",
                get(move || async move {
                    h1.fetch_add(1, Ordering::SeqCst);
                    "paid content"
                }),
            )
            .route(
                "/fail",
                get(move || async move {
                    h2.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
                }),
            )
            .route(
                "/slow",
                get(move || async move {
                    h3.fetch_add(1, Ordering::SeqCst);
                    // The chain moves an hour ahead while the handler works: the authorization
                    // has expired by the time it is settled.
                    anvil
                        .chain
                        .raw_request("evm_increaseTime", json!([3600]))
                        .await
                        .unwrap();
                    anvil
                        .chain
                        .raw_request("evm_mine", json!([]))
                        .await
                        .unwrap();
                    "slow content"
                }),
            )
            .layer(layer)
    }

    async fn pay(&self, required: &PaymentRequired) -> String {
        let accepted = required.accepts[0].clone();
        let signed = ExactEvmClient::new(self.payer.clone())
            .create_payload(2, &accepted, None)
            .await
            .unwrap();
        t402_core::codec::encode_header(&PaymentPayload::new(accepted.into(), signed.payload))
    }

    async fn balance(&self, who: Address) -> U256 {
        call_typed(
            &self.anvil.chain,
            self.token,
            &IEip3009Token::balanceOfCall { account: who },
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn paid_failed_handler_and_failed_settlement_on_anvil() {
    let Some(setup) = setup().await else { return };
    let app = setup.app(setup.facilitator.clone());

    let payment = setup
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let settled = settlement_of(&response);
    assert!(settled.success);
    assert!(settled.transaction.unwrap().starts_with("0x"));
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(10_000u64));

    let payment = setup
        .pay(&required_of(&get_with(&app, "/fail", &[]).await))
        .await;
    let response = get_with(&app, "/fail", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get("payment-response").is_none());
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(10_000u64));

    let payment = setup
        .pay(&required_of(&get_with(&app, "/slow", &[]).await))
        .await;
    let response = get_with(&app, "/slow", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let settled = settlement_of(&response);
    assert!(!settled.success);
    assert_eq!(
        settled.error_reason,
        Some(Reason::InvalidExactEvmPayloadAuthorizationValidBefore)
    );
    let body = body_text(response).await;
    assert!(!body.contains("slow content"));
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(10_000u64));
    assert_eq!(setup.handled.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_facilitator_down_means_502_on_anvil_too() {
    let Some(setup) = setup().await else { return };
    let mut scripted = Scripted::new(setup.facilitator.clone());
    scripted.verify_error = Some(|| FacilitatorError::Unavailable("connection refused".into()));
    let app = setup.app(Arc::new(scripted));
    let payment = setup
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(setup.handled.load(Ordering::SeqCst), 0);
    assert_eq!(setup.balance(setup.pay_to).await, U256::ZERO);
}
