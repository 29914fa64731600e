//! Solana interop with the reference TypeScript packages (`@x402/svm` 2.27.0 with `@solana/kit`,
//! `@x402/fetch` and `@x402/express` 2.27.0, pinned in package-lock.json), on a real Solana
//! runtime (litesvm running the SPL Token program) that the node side reaches over JSON-RPC
//! through the test kit's front.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{AssetAmount, LocalFacilitator, Network, NetworkPattern, Price};
use t402_server::{PaymentLayer, PaymentOption, Route, facilitator_router};
use t402_svm::litesvm::LiteSvmRuntime;
use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};
use t402_svm::{ExactSvmClient, ExactSvmFacilitator, ExactSvmServer};
use t402_testkit::{NodeServer, node_command, npm_package_installed, serve};

const DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
const PRICE: u64 = 10_000;

fn random_key() -> SigningKey {
    SigningKey::from_bytes(&alloy_primitives::B256::random().0)
}

fn key_of(key: &SigningKey) -> Pubkey {
    Pubkey(key.verifying_key().to_bytes())
}

/// A runtime with a funded fee payer, a mint, a payer holding 5 tokens and a payee's account.
struct Cluster {
    runtime: Arc<LiteSvmRuntime>,
    fee_payer: SigningKey,
    payer: SigningKey,
    payee: Pubkey,
    mint: Pubkey,
    source: Pubkey,
    destination: Pubkey,
}

impl Cluster {
    fn new() -> Self {
        let runtime = Arc::new(LiteSvmRuntime::new());
        let fee_payer = random_key();
        let payer = random_key();
        let payee = key_of(&random_key());
        let mint = key_of(&random_key());
        runtime.airdrop(&key_of(&fee_payer), 1_000_000_000).unwrap();
        runtime.create_mint(&mint, 6, &TOKEN_PROGRAM);
        let source =
            runtime.create_token_account(&key_of(&payer), &mint, 5_000_000, &TOKEN_PROGRAM);
        let destination = runtime.create_token_account(&payee, &mint, 0, &TOKEN_PROGRAM);
        Self {
            runtime,
            fee_payer,
            payer,
            payee,
            mint,
            source,
            destination,
        }
    }

    fn facilitator(&self) -> LocalFacilitator {
        let network: Network = DEVNET.parse().unwrap();
        let svm = ExactSvmFacilitator::new(
            network.clone(),
            self.runtime.clone(),
            vec![self.fee_payer.clone()],
        )
        .unwrap();
        LocalFacilitator::new().register([network], Arc::new(svm))
    }

    fn paid(&self) -> (Option<u64>, Option<u64>) {
        (
            self.runtime.token_amount(&self.source),
            self.runtime.token_amount(&self.destination),
        )
    }
}

#[tokio::test]
async fn the_reference_client_pays_a_t402_server_on_solana() {
    if !npm_package_installed("@x402/svm") {
        return;
    }
    let cluster = Cluster::new();
    let rpc_url = t402_testkit::solana::serve_rpc(cluster.runtime.clone()).await;
    let layer = PaymentLayer::builder()
        .facilitator(cluster.facilitator())
        .mechanism(NetworkPattern::parse("solana:*").unwrap(), ExactSvmServer)
        .route(
            "GET /report",
            Route::new(PaymentOption::exact(
                DEVNET.parse().unwrap(),
                Price::Asset(AssetAmount::new(cluster.mint.to_string(), PRICE.into())),
                cluster.payee.to_string(),
            )),
        )
        .build_and_initialize()
        .await
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/report",
            axum::routing::get(|| async { "the Solana report" }),
        )
        .layer(layer);
    let url = format!("{}/report", serve(app).await);
    let mut keypair = cluster.payer.to_bytes().to_vec();
    keypair.extend_from_slice(&cluster.payer.verifying_key().to_bytes());
    let paid = node_command(
        "x402-svm.mjs",
        json!({
            "command": "fetch",
            "url": url,
            "rpcUrl": rpc_url,
            "keypair": keypair,
            "mint": cluster.mint.to_string(),
            "network": DEVNET,
        }),
    )
    .await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["body"], "the Solana report");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(paid["paymentResponse"]["network"], DEVNET);
    assert_eq!(cluster.paid(), (Some(5_000_000 - PRICE), Some(PRICE)));
}

#[tokio::test]
async fn the_t402_client_pays_a_reference_server_on_solana() {
    if !npm_package_installed("@x402/svm") {
        return;
    }
    let cluster = Cluster::new();
    let facilitator = serve(facilitator_router(Arc::new(cluster.facilitator()))).await;
    let server = NodeServer::spawn(
        "x402-svm.mjs",
        json!({
            "command": "server",
            "facilitatorUrl": facilitator,
            "network": DEVNET,
            "mint": cluster.mint.to_string(),
            "payTo": cluster.payee.to_string(),
            "amount": PRICE.to_string(),
        }),
    )
    .await;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("solana:*").unwrap(),
                    Arc::new(ExactSvmClient::new(
                        cluster.payer.clone(),
                        cluster.runtime.clone(),
                    )),
                )
                .policy(
                    SpendPolicy::new()
                        .allow_asset(
                            DEVNET.parse().unwrap(),
                            &cluster.mint.to_string(),
                            6,
                            Some("0.05"),
                        )
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let response = client
        .get(&format!("{}/weather", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    let body: Value = response.json().unwrap();
    assert_eq!(body["from"], "express on solana");
    assert!(response.receipt().expect("a receipt").success);
    assert_eq!(cluster.paid(), (Some(5_000_000 - PRICE), Some(PRICE)));
}
