//! A facilitator inside your own axum app: the facilitator service's routes (`/verify`,
//! `/settle`, `/supported`, `/health`) nested under `/x402` beside the app's own routes, with
//! settlements recorded (detached from callers, idempotent across retries), then a paid API that
//! uses it over HTTP and a client that pays.

use std::io::Write;
use std::sync::Arc;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{LocalFacilitator, MemorySettlementStore, Network, NetworkPattern};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};
use t402_server::facilitator::{HttpFacilitator, RecordedFacilitator};

use crate::paid_api::{Pricing, payment_layer, router};

/// The chain id of the example's devnet.
pub const CHAIN: u64 = 31337;

/// What the example did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The facilitator's `/supported` answer, as JSON.
    pub supported: serde_json::Value,
    /// The app's own route's answer.
    pub status: String,
    /// The paid request's settlement transaction.
    pub transaction: String,
}

/// Runs the example, writing each step to `out`.
pub async fn run(out: &mut impl Write) -> Result<Run, Box<dyn std::error::Error>> {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
    let payer = PrivateKeySigner::random();
    devnet.mint(token, payer.address(), U256::from(1_000_000u64))?;
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(18)));

    // The facilitator: EIP-3009 on the devnet, its settlements recorded in memory.
    let evm = ExactEvmFacilitator::new(devnet.clone(), FacilitatorSigners::new(CHAIN, [key])?)?;
    let local = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));
    let recorded = RecordedFacilitator::new(local, MemorySettlementStore::new());

    // Your app: its own routes, and the facilitator under /x402.
    let app = Router::new()
        .route("/status", get(|| async { "all systems go" }))
        .nest("/x402", t402_server::facilitator_router(Arc::new(recorded)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let facilitator_url = format!("{base}/x402");
    writeln!(
        out,
        "app        {base}/status, facilitator at {facilitator_url}"
    )?;
    let status = reqwest::get(format!("{base}/status")).await?.text().await?;
    let supported: serde_json::Value = reqwest::get(format!("{facilitator_url}/supported"))
        .await?
        .json()
        .await?;
    writeln!(out, "app        GET /status -> {status}")?;
    writeln!(out, "app        GET /x402/supported -> {supported}")?;

    // A paid API using that facilitator over HTTP.
    let pricing = Pricing {
        network: Network::eip155(CHAIN),
        token: token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: 6,
        pay_to: PrivateKeySigner::random().address().to_checksum(None),
    };
    let layer = payment_layer(&pricing, Arc::new(HttpFacilitator::new(&facilitator_url)?)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(layer)).await;
    });

    // A client pays for it.
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*")?,
                    Arc::new(ExactEvmClient::new(payer)),
                )
                .policy(SpendPolicy::new().allow_asset(
                    Network::eip155(CHAIN),
                    &token.to_checksum(None),
                    6,
                    Some("0.10"),
                )?),
        )
        .build()?;
    let response = client.get(&format!("{api}/weather")).send().await?;
    let transaction = response
        .receipt()
        .and_then(|receipt| receipt.transaction.clone())
        .ok_or("no settlement receipt")?;
    writeln!(
        out,
        "client     GET {api}/weather -> {}, settled through {facilitator_url} in {transaction}",
        response.status().as_u16()
    )?;
    Ok(Run {
        supported,
        status,
        transaction,
    })
}
