//! The quickstart: a paid request end to end on an in-process chain, each step printed as it
//! happens.
//!
//! An in-process devnet (revm) runs the test token; a facilitator verifies and settles on it; an
//! axum server prices a route; a client pays for it. No node, no keys to set up, no network
//! beyond loopback.

use std::io::Write;
use std::sync::{Arc, Mutex};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use t402_client::{Client, PayDecision, PayHooks, Payer, Receipt, SpendPolicy};
use t402_core::codec::Codec;
use t402_core::error::BoxFuture;
use t402_core::{
    LocalFacilitator, Network, NetworkPattern, PaymentRequirements, SettleResponse, VerifyResponse,
};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};
use t402_server::{PaymentEvent, PaymentHooks};

use crate::paid_api::{Pricing, router};

/// The chain id of the quickstart's devnet.
pub const CHAIN: u64 = 31337;
const DECIMALS: u8 = 6;

/// What the quickstart did, for its callers and tests.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The settlement transaction.
    pub transaction: String,
    /// The payer's token balance before and after, in atomic units.
    pub payer_balance: (U256, U256),
    /// The payee's token balance before and after, in atomic units.
    pub payee_balance: (U256, U256),
    /// The paid response's body.
    pub body: String,
}

type Log = Arc<Mutex<Vec<String>>>;

/// Token units with at least two decimals (`10.00`, `9.99`, `0.015`).
fn units(amount: U256) -> String {
    let text = t402_core::Amount::from(amount).format_units(DECIMALS);
    match text.split_once('.') {
        None => format!("{text}.00"),
        Some((_, fraction)) if fraction.len() == 1 => format!("{text}0"),
        Some(_) => text,
    }
}

fn short(address: &str) -> String {
    if address.len() > 12 {
        format!("{}…{}", &address[..6], &address[address.len() - 4..])
    } else {
        address.to_owned()
    }
}

/// Prints the server side as it happens.
struct ServerSide(Log);

impl PaymentHooks for ServerSide {
    fn after_verify<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        response: &'a VerifyResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.lock().unwrap().push(format!(
                "server     the facilitator verified the payment from {} (signature, amount, window, simulation)",
                response.payer.as_deref().unwrap_or("?")
            ));
        })
    }

    fn after_settle<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.lock().unwrap().push(format!(
                "server     settled on {}: transaction {}",
                response.network,
                response.transaction.as_deref().unwrap_or("")
            ));
        })
    }
}

/// Prints the client side as it happens.
struct ClientSide(Log);

impl PayHooks for ClientSide {
    fn before_pay<'a>(
        &'a self,
        offer: &'a PaymentRequirements,
        url: &'a str,
    ) -> BoxFuture<'a, PayDecision> {
        Box::pin(async move {
            self.0.lock().unwrap().push(format!(
                "client     {url} asks {} USDC on {} to {}; within the policy (max 0.10 per request): signing an EIP-3009 authorization",
                offer.amount.format_units(DECIMALS),
                offer.network,
                short(&offer.pay_to)
            ));
            PayDecision::Approve
        })
    }

    fn after_pay<'a>(
        &'a self,
        _offer: &'a PaymentRequirements,
        receipt: Option<&'a Receipt>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let line = match receipt {
                Some(receipt) => format!(
                    "client     receipt: success={} transaction {}",
                    receipt.success,
                    receipt.transaction.as_deref().unwrap_or("")
                ),
                None => "client     the server sent no receipt".to_owned(),
            };
            self.0.lock().unwrap().push(line);
        })
    }
}

fn flush(log: &Log, out: &mut impl Write) -> std::io::Result<()> {
    for line in log.lock().unwrap().drain(..) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Runs the quickstart, writing each step to `out`.
pub async fn run(out: &mut impl Write) -> Result<Outcome, Box<dyn std::error::Error>> {
    let log: Log = Arc::default();

    // The chain: an in-process devnet with the test token.
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", DECIMALS)?;
    let payer = PrivateKeySigner::random();
    devnet.mint(token, payer.address(), U256::from(10_000_000u64))?;
    let facilitator_key = PrivateKeySigner::random();
    devnet.fund(
        facilitator_key.address(),
        U256::from(10u64).pow(U256::from(18)),
    );
    writeln!(
        out,
        "chain      in-process devnet (revm), chain {CHAIN}; token USDC at {}",
        token.to_checksum(None)
    )?;
    writeln!(
        out,
        "chain      payer {} holds {} USDC",
        payer.address().to_checksum(None),
        units(devnet.token_balance(token, payer.address()).await?)
    )?;

    // The facilitator and the server.
    let evm = ExactEvmFacilitator::new(
        devnet.clone(),
        FacilitatorSigners::new(CHAIN, [facilitator_key.clone()])?,
    )?;
    let facilitator = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));
    let pay_to: Address = PrivateKeySigner::random().address();
    let pricing = Pricing {
        network: Network::eip155(CHAIN),
        token: token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: DECIMALS,
        pay_to: pay_to.to_checksum(None),
    };
    let layer = crate::paid_api::payment_layer_with_hooks(
        &pricing,
        Arc::new(facilitator),
        ServerSide(log.clone()),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(layer)).await;
    });
    writeln!(
        out,
        "server     {base}/report/42 costs 0.01 USDC, paid to {}; facilitator {} settles",
        pay_to.to_checksum(None),
        facilitator_key.address().to_checksum(None)
    )?;

    // What an unpaid request gets.
    let unpaid = reqwest::get(format!("{base}/report/42")).await?;
    let header = unpaid
        .headers()
        .get("payment-required")
        .ok_or("the server sent no challenge")?
        .to_str()?
        .to_owned();
    let challenge = Codec::default().decode_payment_required(&header)?;
    let offer = &challenge.accepts[0];
    writeln!(
        out,
        "client     GET /report/42 -> {} {}: {} USDC on {} (asset {}, timeout {} s)",
        unpaid.status().as_u16(),
        challenge.error.as_deref().unwrap_or(""),
        offer.amount.format_units(DECIMALS),
        offer.network,
        short(&offer.asset),
        offer.max_timeout_seconds
    )?;

    // The paying client.
    let payer_balance_before = devnet.token_balance(token, payer.address()).await?;
    let payee_balance_before = devnet.token_balance(token, pay_to).await?;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*")?,
                    Arc::new(ExactEvmClient::new(payer.clone())),
                )
                .policy(SpendPolicy::new().allow_asset(
                    Network::eip155(CHAIN),
                    &token.to_checksum(None),
                    DECIMALS,
                    Some("0.10"),
                )?)
                .hooks(ClientSide(log.clone())),
        )
        .build()?;
    let response = client.get(&format!("{base}/report/42")).send().await?;
    flush(&log, out)?;
    let body = response.text();
    writeln!(
        out,
        "client     GET /report/42 with PAYMENT-SIGNATURE -> {}: {body}",
        response.status().as_u16()
    )?;
    let transaction = response
        .receipt()
        .and_then(|receipt| receipt.transaction.clone())
        .ok_or("no settlement receipt")?;
    let payer_balance_after = devnet.token_balance(token, payer.address()).await?;
    let payee_balance_after = devnet.token_balance(token, pay_to).await?;
    writeln!(
        out,
        "chain      payer {} -> {} USDC, payee {} -> {} USDC",
        units(payer_balance_before),
        units(payer_balance_after),
        units(payee_balance_before),
        units(payee_balance_after)
    )?;
    Ok(Outcome {
        transaction,
        payer_balance: (payer_balance_before, payer_balance_after),
        payee_balance: (payee_balance_before, payee_balance_after),
        body,
    })
}
