//! `upto` with the reference implementation (`@x402/evm` 2.27's upto scheme, from the committed
//! npm lockfile) on anvil, the `upto` proxy and Permit2 at their canonical addresses:
//!
//! - the reference client pays our metered route, settled by our facilitator and by the
//!   reference facilitator (over HTTP);
//! - our client pays a reference express server whose handler sets settlement overrides.

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{AssetAmount, Facilitator, LocalFacilitator, NetworkPattern, Price};
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_server::facilitator::HttpFacilitator;
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_testkit::{AnvilWorld, NodeServer, npm_package_installed, private_key_hex, serve};
use t402_upto::{UptoEvmClient, UptoEvmFacilitator, UptoEvmServer};

const NAME: &str = t402_testkit::PERMIT_TOKEN_NAME;
const VERSION: &str = t402_testkit::PERMIT_TOKEN_VERSION;
const CEILING: u64 = 40_000;

struct UptoWorld {
    world: AnvilWorld,
    token: Address,
}

impl UptoWorld {
    async fn start() -> Option<Self> {
        if !npm_package_installed("@x402/evm") {
            return None;
        }
        let world = AnvilWorld::start().await?;
        let token = world.deploy_permit_token().await;
        Some(Self { world, token })
    }

    /// A payer with 1 token and an allowance to Permit2.
    async fn payer(&self) -> PrivateKeySigner {
        self.world.permit_payer(self.token, true).await
    }

    async fn funded_key(&self) -> PrivateKeySigner {
        self.world.funded_key().await
    }

    /// Our facilitator on anvil serving `upto`.
    async fn our_facilitator(&self) -> Arc<dyn Facilitator> {
        let evm = Arc::new(
            ExactEvmFacilitator::new(
                self.world.anvil.chain.clone(),
                FacilitatorSigners::new(self.world.chain_id, [self.funded_key().await]).unwrap(),
            )
            .unwrap(),
        );
        Arc::new(LocalFacilitator::new().register(
            [self.world.network()],
            Arc::new(UptoEvmFacilitator::new(evm)),
        ))
    }

    /// Our server selling `GET /metered` for a ceiling of [`CEILING`]; the handler reports 40 %.
    async fn serve(&self, facilitator: Arc<dyn Facilitator>) -> String {
        self.serve_reporting(facilitator, r#"{"amount":"40%"}"#)
            .await
    }

    /// [`serve`](Self::serve) with the handler's `Settlement-Overrides` value.
    async fn serve_reporting(
        &self,
        facilitator: Arc<dyn Facilitator>,
        usage: &'static str,
    ) -> String {
        let extra = json!({"name": NAME, "version": VERSION});
        let price = Price::Asset(
            AssetAmount::new(self.token.to_checksum(None), CEILING.into())
                .with_extra(extra.as_object().unwrap().clone()),
        );
        let layer = PaymentLayer::builder()
            .facilitator(facilitator)
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), UptoEvmServer)
            .route(
                "GET /metered",
                Route::new(PaymentOption::new(
                    "upto",
                    self.world.network(),
                    price,
                    self.world.pay_to.to_checksum(None),
                )),
            )
            .build_and_initialize()
            .await
            .expect("the layer initializes");
        let app = Router::new()
            .route(
                "/metered",
                get(move || async move { ([("settlement-overrides", usage)], "metered") }),
            )
            .layer(layer);
        format!("{}/metered", serve(app).await)
    }

    async fn received(&self) -> U256 {
        self.world.balance_of(self.token, self.world.pay_to).await
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
                "maxAmountPerPayment": CEILING.to_string(),
            },
        }))
        .await
    }
}

#[tokio::test]
async fn the_reference_client_pays_our_metered_route_with_our_facilitator() {
    let Some(world) = UptoWorld::start().await else {
        return;
    };
    let url = world.serve(world.our_facilitator().await).await;
    let paid = world.reference_fetch(&url, &world.payer().await).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(
        paid["paymentResponse"]["amount"],
        (CEILING * 40 / 100).to_string(),
        "{paid}"
    );
    assert_eq!(world.received().await, U256::from(CEILING * 40 / 100));
}

#[tokio::test]
async fn the_reference_client_pays_our_metered_route_with_the_reference_facilitator() {
    let Some(world) = UptoWorld::start().await else {
        return;
    };
    let node = NodeServer::spawn(
        "facilitator-http.mjs",
        json!({
            "family": "x402",
            "rpcUrl": world.world.anvil.url,
            "privateKey": private_key_hex(&world.funded_key().await),
            "network": world.world.network().to_string(),
        }),
    )
    .await;
    let facilitator: Arc<dyn Facilitator> =
        Arc::new(HttpFacilitator::new(node.url().as_str()).unwrap());
    let url = world.serve(facilitator).await;
    let paid = world.reference_fetch(&url, &world.payer().await).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(world.received().await, U256::from(CEILING * 40 / 100));
}

#[tokio::test]
async fn our_client_pays_a_reference_server_that_sets_settlement_overrides() {
    let Some(world) = UptoWorld::start().await else {
        return;
    };
    let server = NodeServer::spawn(
        "x402-express-server.mjs",
        json!({
            "rpcUrl": world.world.anvil.url,
            "facilitatorKey": private_key_hex(&world.funded_key().await),
            "token": world.token.to_checksum(None),
            "payTo": world.world.pay_to.to_checksum(None),
            "amount": CEILING.to_string(),
            "chainId": world.world.chain_id,
            "tokenName": NAME,
            "tokenVersion": VERSION,
            "permit2": true,
            "scheme": "upto",
            "used": "1234",
        }),
    )
    .await;
    let payer = world.payer().await;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*").unwrap(),
                    Arc::new(UptoEvmClient::new(payer)),
                )
                .policy(
                    SpendPolicy::new()
                        .allow_asset(
                            world.world.network(),
                            &world.token.to_checksum(None),
                            6,
                            Some("0.05"),
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
    assert_eq!(receipt.amount, Some(t402_core::Amount::from(1_234u64)));
    assert_eq!(world.received().await, U256::from(1_234u64));
}

#[tokio::test]
async fn zero_usage_sends_no_transaction_on_anvil() {
    let Some(world) = UptoWorld::start().await else {
        return;
    };
    let url = world
        .serve_reporting(world.our_facilitator().await, r#"{"amount":"0"}"#)
        .await;
    let payer = world.payer().await;
    let before = world.world.block_number().await;
    let paid = world.reference_fetch(&url, &payer).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(paid["paymentResponse"]["amount"], "0", "{paid}");
    assert_eq!(paid["paymentResponse"]["transaction"], "", "{paid}");
    assert_eq!(world.world.block_number().await, before, "no transaction");
    assert_eq!(world.received().await, U256::ZERO);
}
