//! `exact` over Permit2 with the reference implementation (`@x402/evm` 2.27 with viem, from the
//! committed npm lockfile) on anvil, where our Permit2-compatible contract and the x402 proxies
//! sit at the canonical addresses the reference hard-codes; the token is the permit token
//! (ERC-20 + EIP-2612, no EIP-3009).
//!
//! - the reference fetch client pays our server (settling through our facilitator) over Permit2,
//!   with an allowance and, from a wallet without one, with EIP-2612 gas sponsoring;
//! - our client pays the reference express server (reference facilitator in process);
//! - the reference facilitator verifies and settles our client's Permit2 payload (plain and with
//!   EIP-2612 sponsoring).

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{AssetAmount, ClientMechanism, Facilitator, NetworkPattern, PaymentPayload, Price};
use t402_evm::chain::call_typed;
use t402_evm::contracts::IErc20;
use t402_evm::permit2::{EIP2612_GAS_SPONSORING, PERMIT2};
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_testkit::{AnvilWorld, NodeServer, npm_package_installed, private_key_hex, serve};

const NAME: &str = t402_testkit::PERMIT_TOKEN_NAME;
const VERSION: &str = t402_testkit::PERMIT_TOKEN_VERSION;
const PRICE: u64 = 2_500;

struct PermitWorld {
    world: AnvilWorld,
    token: Address,
}

impl PermitWorld {
    async fn start() -> Option<Self> {
        if !npm_package_installed("@x402/evm") {
            return None;
        }
        let world = AnvilWorld::start().await?;
        let token = world.deploy_permit_token().await;
        Some(Self { world, token })
    }

    /// A payer holding 1 token, with gas money, that has approved Permit2 when `approved`.
    async fn payer(&self, approved: bool) -> PrivateKeySigner {
        self.world.permit_payer(self.token, approved).await
    }

    fn extra(&self) -> serde_json::Map<String, Value> {
        json!({"name": NAME, "version": VERSION, "assetTransferMethod": "permit2"})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Our server selling `GET /weather` over Permit2, settling through our facilitator.
    async fn serve(&self) -> String {
        let facilitator: Arc<dyn Facilitator> = self.world.facilitator.clone();
        let price = Price::Asset(
            AssetAmount::new(self.token.to_checksum(None), PRICE.into()).with_extra(self.extra()),
        );
        let layer = PaymentLayer::builder()
            .facilitator(facilitator)
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
            .route(
                "GET /weather",
                Route::new(PaymentOption::exact(
                    self.world.network(),
                    price,
                    self.world.pay_to.to_checksum(None),
                )),
            )
            .build_and_initialize()
            .await
            .expect("the layer initializes");
        let app = Router::new()
            .route("/weather", get(|| async { r#"{"forecast":"sunny"}"# }))
            .layer(layer);
        format!("{}/weather", serve(app).await)
    }

    async fn balance(&self, who: Address) -> U256 {
        self.world.balance_of(self.token, who).await
    }

    async fn allowance(&self, owner: Address) -> U256 {
        call_typed(
            &self.world.anvil.chain,
            self.token,
            &IErc20::allowanceCall {
                owner,
                spender: PERMIT2,
            },
        )
        .await
        .unwrap()
    }

    async fn reference_fetch(&self, url: &str, payer: &PrivateKeySigner) -> Value {
        t402_testkit::reference_json(json!({
            "command": "fetch",
            "url": url,
            "privateKey": private_key_hex(payer),
            "rpcUrl": self.world.anvil.url,
            "allowedAsset": {
                "network": self.world.network().to_string(),
                "asset": self.token.to_checksum(None),
                "maxAmountPerPayment": PRICE.to_string(),
            },
        }))
        .await
    }
}

#[tokio::test]
async fn the_reference_client_pays_our_server_over_permit2_with_and_without_eip2612() {
    let Some(world) = PermitWorld::start().await else {
        return;
    };
    let url = world.serve().await;

    // With an allowance: a plain Permit2 payment.
    let payer = world.payer(true).await;
    let paid = world.reference_fetch(&url, &payer).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(world.balance(world.world.pay_to).await, U256::from(PRICE));

    // No allowance: our challenge declares EIP-2612 sponsoring (our facilitator lists it), the
    // reference client signs a permit, our facilitator settles with settleWithPermit.
    let payer = world.payer(false).await;
    let paid = world.reference_fetch(&url, &payer).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(
        world.balance(world.world.pay_to).await,
        U256::from(2 * PRICE)
    );
    assert_eq!(
        world.allowance(payer.address()).await,
        U256::ZERO,
        "the permit's allowance was spent"
    );
}

#[tokio::test]
async fn our_client_pays_the_reference_express_server_over_permit2() {
    let Some(world) = PermitWorld::start().await else {
        return;
    };
    let facilitator_key = world.world.funded_key().await;
    let server = NodeServer::spawn(
        "x402-express-server.mjs",
        json!({
            "rpcUrl": world.world.anvil.url,
            "facilitatorKey": private_key_hex(&facilitator_key),
            "token": world.token.to_checksum(None),
            "payTo": world.world.pay_to.to_checksum(None),
            "amount": PRICE.to_string(),
            "chainId": world.world.chain_id,
            "tokenName": NAME,
            "tokenVersion": VERSION,
            "permit2": true,
            "eip2612": true,
        }),
    )
    .await;
    // A payer without an allowance: our client reads the chain and signs an EIP-2612 permit
    // because the reference server declares the extension.
    let payer = world.payer(false).await;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*").unwrap(),
                    Arc::new(
                        ExactEvmClient::new(payer.clone())
                            .with_chain(world.world.anvil.chain.clone()),
                    ),
                )
                .policy(
                    SpendPolicy::new()
                        .allow_asset(
                            world.world.network(),
                            &world.token.to_checksum(None),
                            6,
                            Some("0.01"),
                        )
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let url = format!("{}/weather", server.url());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.receipt().cloned().expect("a receipt");
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(world.balance(world.world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn the_reference_facilitator_settles_our_permit2_payloads() {
    let Some(world) = PermitWorld::start().await else {
        return;
    };
    let facilitator_key = world.world.funded_key().await;
    let requirements: t402_core::PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact",
        "network": world.world.network().to_string(),
        "amount": PRICE.to_string(),
        "asset": world.token.to_checksum(None),
        "payTo": world.world.pay_to.to_checksum(None),
        "maxTimeoutSeconds": 120,
        "extra": world.extra(),
    }))
    .unwrap();
    let declared: t402_core::JsonObject = serde_json::from_value(json!({
        EIP2612_GAS_SPONSORING: {"info": {"description": "offered", "version": "1"}}
    }))
    .unwrap();
    for approved in [true, false] {
        let payer = world.payer(approved).await;
        let client = ExactEvmClient::new(payer.clone()).with_chain(world.world.anvil.chain.clone());
        let signed = client
            .create_payload(2, &requirements, Some(&declared))
            .await
            .unwrap();
        assert_eq!(
            signed.extensions.is_some(),
            !approved,
            "a permit only without an allowance"
        );
        let mut payment = PaymentPayload::new(requirements.clone().into(), signed.payload);
        payment.extensions = signed.extensions;
        let before = world.balance(world.world.pay_to).await;
        let answer = t402_testkit::reference_json(json!({
            "command": "facilitate",
            "rpcUrl": world.world.anvil.url,
            "privateKey": private_key_hex(&facilitator_key),
            "payment": payment,
            "requirements": requirements,
        }))
        .await;
        assert_eq!(answer["verify"]["isValid"], true, "{answer}");
        assert_eq!(answer["settle"]["success"], true, "{answer}");
        assert_eq!(
            world.balance(world.world.pay_to).await,
            before + U256::from(PRICE)
        );
    }
}

#[tokio::test]
async fn the_reference_client_signs_what_our_facilitator_settles_and_network_names_agree() {
    let Some(world) = PermitWorld::start().await else {
        return;
    };
    let payer = world.payer(true).await;
    let requirements = json!({
        "scheme": "exact",
        "network": world.world.network().to_string(),
        "amount": PRICE.to_string(),
        "asset": world.token.to_checksum(None),
        "payTo": world.world.pay_to.to_checksum(None),
        "maxTimeoutSeconds": 120,
        "extra": world.extra(),
    });
    let signed = t402_testkit::reference_json(
        json!({"command": "sign", "privateKey": private_key_hex(&payer), "requirements": requirements}),
    )
    .await;
    // The reference writes the nonce in decimal and the proxy as spender.
    let auth = &signed["payload"]["permit2Authorization"];
    assert!(
        auth["nonce"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit()),
        "{auth}"
    );
    assert_eq!(
        auth["spender"],
        t402_evm::permit2::EXACT_PERMIT2_PROXY.to_checksum(None)
    );
    let payment: PaymentPayload = serde_json::from_value(signed).unwrap();
    let request =
        t402_core::VerifyRequest::new(payment, serde_json::from_value(requirements).unwrap());
    let request = t402_core::FacilitatorRequest::V2(request);
    let verified = world.world.facilitator.verify(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = world.world.facilitator.settle(&request).await.unwrap();
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_payer_without_an_allowance_and_no_sponsoring_gets_412_with_the_reason() {
    let Some(world) = PermitWorld::start().await else {
        return;
    };
    let url = world.serve().await;
    // Our client without a chain to read signs a plain Permit2 payload; the facilitator's
    // simulation finds no allowance and the server answers 412.
    let payer = world.payer(false).await;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*").unwrap(),
                    Arc::new(ExactEvmClient::new(payer.clone())),
                )
                .policy(
                    SpendPolicy::new()
                        .allow_asset(
                            world.world.network(),
                            &world.token.to_checksum(None),
                            6,
                            Some("0.01"),
                        )
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("status: 412") && text.contains("Permit2AllowanceRequired"),
        "{text}"
    );
    assert_eq!(world.balance(world.world.pay_to).await, U256::ZERO);
}
