//! Metered streaming on an in-process chain: a server-sent-events endpoint streams generated
//! tokens billed per token under an `upto` ceiling; the t402 client pays; the stream ends with
//! its receipt. `cargo run --example metered_stream`.
//!
//! The payer holds no ETH and has never approved Permit2: its client signs an EIP-2612 permit
//! alongside the `upto` authorization (the server declares the gas sponsoring its facilitator
//! settles), so the first payment needs nothing but the token.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::response::Response;
use axum::routing::get;
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Amount, AssetAmount, LocalFacilitator, Network, NetworkPattern, Price};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_server::{Meter, PaymentLayer, PaymentOption, Route};
use t402_upto::{UptoEvmClient, UptoEvmFacilitator, UptoEvmServer};

/// The chain id of the example's devnet.
pub const CHAIN: u64 = 31337;
const DECIMALS: u8 = 6;
/// The most one request may cost: 0.01 USDC.
pub const CEILING: u64 = 10_000;
/// The price of one token: 0.0005 USDC.
pub const PER_TOKEN: u64 = 500;
/// What the endpoint "generates".
const TEXT: &str = "Metered streams bill what they send and stop at the ceiling the payer signed";

/// What the example did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Tokens received.
    pub tokens: usize,
    /// The settled amount, atomic units.
    pub settled: Amount,
    /// The payer's token balance before and after.
    pub payer_balance: (U256, U256),
    /// The payee's token balance after.
    pub payee_balance: U256,
}

fn usdc(amount: impl Into<Amount>) -> String {
    amount.into().format_units(DECIMALS)
}

/// Streams [`TEXT`] word by word as server-sent events, one [`PER_TOKEN`] each on the meter.
async fn generate(Extension(meter): Extension<Meter>) -> Response {
    let words: Vec<String> = TEXT.split(' ').map(str::to_owned).collect();
    let events = futures_util::stream::iter(words).map(move |word| {
        meter.add(Amount::from(PER_TOKEN));
        Ok::<_, Infallible>(bytes::Bytes::from(format!(
            "event: token\ndata: {word}\n\n"
        )))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(events))
        .expect("a response")
}

use futures_util::StreamExt as _;

/// Runs the example, writing each step to `out`.
pub async fn run(out: &mut impl Write) -> Result<Outcome, Box<dyn std::error::Error>> {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", DECIMALS)?;
    let payer = PrivateKeySigner::random();
    devnet.mint(token, payer.address(), U256::from(1_000_000u64))?;
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(18)));
    let before = devnet.token_balance(token, payer.address()).await?;
    writeln!(
        out,
        "chain      in-process devnet, chain {CHAIN}; payer {} holds {} USDC, no ETH, no Permit2 allowance",
        payer.address().to_checksum(None),
        usdc(before)
    )?;

    let evm = Arc::new(ExactEvmFacilitator::new(
        devnet.clone(),
        FacilitatorSigners::new(CHAIN, [key])?,
    )?);
    let facilitator = LocalFacilitator::new().register(
        [Network::eip155(CHAIN)],
        Arc::new(UptoEvmFacilitator::new(evm)),
    );
    let pay_to: Address = PrivateKeySigner::random().address();
    let extra = serde_json::json!({"name": "USD Coin", "version": "2"});
    let price = Price::Asset(
        AssetAmount::new(token.to_checksum(None), CEILING.into())
            .with_extra(extra.as_object().cloned().unwrap_or_default()),
    );
    let option = PaymentOption::new(
        "upto",
        Network::eip155(CHAIN),
        price,
        pay_to.to_checksum(None),
    );
    let layer = PaymentLayer::builder()
        .facilitator(Arc::new(facilitator))
        .mechanism(NetworkPattern::parse("eip155:*")?, UptoEvmServer)
        .route("GET /generate", Route::new(option).metered())
        .build_and_initialize()
        .await?;
    let app = Router::new().route("/generate", get(generate)).layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    writeln!(
        out,
        "server     {base}/generate streams tokens at {} USDC each, up to {} USDC per request",
        usdc(PER_TOKEN),
        usdc(CEILING)
    )?;

    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*")?,
                    Arc::new(UptoEvmClient::new(payer.clone()).with_chain(devnet.clone())),
                )
                .policy(SpendPolicy::new().allow_asset(
                    Network::eip155(CHAIN),
                    &token.to_checksum(None),
                    DECIMALS,
                    Some("0.01"),
                )?),
        )
        .build()?;
    let response = client.get(&format!("{base}/generate")).send().await?;
    let text = response.text();
    let tokens: Vec<&str> = text
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("event: token\ndata: "))
        .collect();
    writeln!(
        out,
        "client     authorized a ceiling of {} USDC (upto over Permit2, with an EIP-2612 permit)",
        usdc(CEILING)
    )?;
    writeln!(
        out,
        "client     received {} tokens: {}",
        tokens.len(),
        tokens.join(" ")
    )?;
    let receipt = response
        .receipt()
        .cloned()
        .ok_or("the stream ended without a receipt")?;
    let settled = receipt.amount.unwrap_or_default();
    writeln!(
        out,
        "client     receipt event: settled {} USDC for {} tokens in {}",
        usdc(settled),
        tokens.len(),
        receipt.transaction.as_deref().unwrap_or("")
    )?;
    let after = devnet.token_balance(token, payer.address()).await?;
    let payee = devnet.token_balance(token, pay_to).await?;
    writeln!(
        out,
        "chain      payer {} -> {} USDC, payee {} USDC",
        usdc(before),
        usdc(after),
        usdc(payee)
    )?;
    Ok(Outcome {
        tokens: tokens.len(),
        settled,
        payer_balance: (before, after),
        payee_balance: payee,
    })
}
