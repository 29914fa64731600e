//! A paid request on Solana end to end on an in-process runtime (litesvm running the real SPL
//! Token program): a facilitator that pays the fees, an axum server pricing a route in a token,
//! and a client that pays with an SPL `TransferChecked`, each step printed.

use std::io::Write;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{AssetAmount, LocalFacilitator, Network, NetworkPattern, Price};
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_svm::litesvm::LiteSvmRuntime;
use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};
use t402_svm::{ExactSvmClient, ExactSvmFacilitator, ExactSvmServer};

/// Solana devnet's CAIP-2 name; the runtime is in process, the name only labels the offers.
pub const NETWORK: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";

/// What the example did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The settlement transaction's signature.
    pub transaction: String,
    /// The payer's and the payee's token amounts after.
    pub amounts: (u64, u64),
}

fn key_of(signing: &SigningKey) -> Pubkey {
    Pubkey(signing.verifying_key().to_bytes())
}

fn random_key() -> SigningKey {
    SigningKey::from_bytes(&alloy_primitives::B256::random().0)
}

/// Runs the example, writing each step to `out`.
pub async fn run(out: &mut impl Write) -> Result<Run, Box<dyn std::error::Error>> {
    let network: Network = NETWORK.parse()?;
    let runtime = Arc::new(LiteSvmRuntime::new());
    let fee_payer = random_key();
    let payer = random_key();
    let payee = key_of(&random_key());
    let mint = key_of(&random_key());
    runtime.airdrop(&key_of(&fee_payer), 1_000_000_000)?;
    runtime.create_mint(&mint, 6, &TOKEN_PROGRAM);
    let source = runtime.create_token_account(&key_of(&payer), &mint, 5_000_000, &TOKEN_PROGRAM);
    let destination = runtime.create_token_account(&payee, &mint, 0, &TOKEN_PROGRAM);
    writeln!(
        out,
        "chain      in-process Solana runtime (litesvm); mint {mint}; payer {} holds 5.00",
        key_of(&payer)
    )?;

    // The facilitator pays the fees with its own key.
    let facilitator =
        ExactSvmFacilitator::new(network.clone(), runtime.clone(), vec![fee_payer.clone()])?;
    let local = LocalFacilitator::new().register([network.clone()], Arc::new(facilitator));
    writeln!(out, "facilitator fee payer {}", key_of(&fee_payer))?;

    // The server prices GET /report at 0.01 of the token.
    let layer = PaymentLayer::builder()
        .facilitator(local)
        .mechanism(NetworkPattern::parse("solana:*")?, ExactSvmServer)
        .route(
            "GET /report",
            Route::new(PaymentOption::exact(
                network.clone(),
                Price::Asset(AssetAmount::new(mint.to_string(), 10_000u64.into())),
                payee.to_string(),
            )),
        )
        .build_and_initialize()
        .await?;
    let app = axum::Router::new()
        .route(
            "/report",
            axum::routing::get(|| async { "the report, paid on Solana" }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/report", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    writeln!(out, "server     {url} costs 0.01, paid to {payee}")?;

    // The client builds, signs and pays.
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("solana:*")?,
                    Arc::new(ExactSvmClient::new(payer.clone(), runtime.clone())),
                )
                .policy(SpendPolicy::new().allow_asset(
                    network,
                    &mint.to_string(),
                    6,
                    Some("0.05"),
                )?),
        )
        .build()?;
    let response = client.get(&url).send().await?;
    let receipt = response.receipt().ok_or("no settlement receipt")?;
    let transaction = receipt.transaction.clone().unwrap_or_default();
    writeln!(
        out,
        "client     GET /report -> {}: {}",
        response.status().as_u16(),
        response.text()
    )?;
    writeln!(out, "client     settled in transaction {transaction}")?;
    let amounts = (
        runtime.token_amount(&source).unwrap_or_default(),
        runtime.token_amount(&destination).unwrap_or_default(),
    );
    writeln!(
        out,
        "chain      payer 5.00 -> {}, payee 0.00 -> {}",
        t402_core::Amount::from(amounts.0).format_units(6),
        t402_core::Amount::from(amounts.1).format_units(6)
    )?;
    Ok(Run {
        transaction,
        amounts,
    })
}
