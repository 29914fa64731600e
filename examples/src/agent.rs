//! An agent that pays several APIs within one budget and keeps a ledger of what it paid.
//!
//! Three paid APIs (weather, news, research), each with its own price and payee, run on loopback
//! over one in-process devnet and facilitator. The agent works through a plan of calls with one
//! client whose spending policy holds a budget of 0.30 USDC per hour: it pays while the budget
//! allows, and a call that would go over is refused before anything is signed.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use serde_json::json;
use t402_client::{Budget, Client, Payer, SpendPolicy};
use t402_core::{AssetAmount, Facilitator, LocalFacilitator, Network, NetworkPattern, Price};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_server::{PaymentLayer, PaymentOption, Route};

/// The chain id of the agent's devnet.
pub const CHAIN: u64 = 31337;
const DECIMALS: u8 = 6;

/// The agent's budget per hour, in USDC.
pub const BUDGET: &str = "0.30";

/// One API the agent calls: its path and its price in atomic units (6 decimals).
const APIS: [(&str, u64); 3] = [("weather", 10_000), ("news", 50_000), ("research", 250_000)];

/// The agent's plan: which API to call, in order.
const PLAN: [&str; 7] = [
    "weather", "news", "weather", "news", "research", "weather", "news",
];

/// One line of the agent's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// The API called.
    pub api: String,
    /// What was paid (atomic units), zero when nothing was.
    pub paid: u64,
    /// The settlement transaction, or why nothing was paid.
    pub outcome: Result<String, String>,
}

/// What the agent did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Every call, in order.
    pub ledger: Vec<LedgerLine>,
    /// What the budget says was spent in the window.
    pub budget_spent: String,
    /// The agent's balance before and after, atomic units.
    pub balance: (U256, U256),
}

fn usdc(atomic: u64) -> String {
    t402_core::Amount::from(atomic).format_units(DECIMALS)
}

/// Starts one paid API on loopback; returns its URL.
async fn serve_api(
    name: &'static str,
    price: u64,
    token: Address,
    facilitator: Arc<dyn Facilitator>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut extra = serde_json::Map::new();
    extra.insert("name".into(), json!("USD Coin"));
    extra.insert("version".into(), json!("2"));
    let option = PaymentOption::exact(
        Network::eip155(CHAIN),
        Price::Asset(AssetAmount::new(token.to_checksum(None), price.into()).with_extra(extra)),
        PrivateKeySigner::random().address().to_checksum(None),
    );
    let layer = PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(NetworkPattern::parse("eip155:*")?, ExactEvmServer)
        .route(&format!("GET /{name}"), Route::new(option))
        .build_and_initialize()
        .await?;
    let app = Router::new()
        .route(
            &format!("/{name}"),
            get(move || async move { format!("the {name}") }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/{name}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Runs the agent's plan, writing each call and then the ledger to `out`.
pub async fn run(out: &mut impl Write) -> Result<Run, Box<dyn std::error::Error>> {
    // The chain, the facilitator, and three paid APIs.
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", DECIMALS)?;
    let agent = PrivateKeySigner::random();
    devnet.mint(token, agent.address(), U256::from(1_000_000u64))?;
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(18)));
    let evm = ExactEvmFacilitator::new(devnet.clone(), FacilitatorSigners::new(CHAIN, [key])?)?;
    let facilitator: Arc<dyn Facilitator> =
        Arc::new(LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm)));
    let mut urls = std::collections::HashMap::new();
    for (name, price) in APIS {
        let url = serve_api(name, price, token, facilitator.clone()).await?;
        writeln!(out, "api        {url} costs {} USDC", usdc(price))?;
        urls.insert(name, (url, price));
    }

    // The agent: one client, one budget for everything it calls.
    let budget = Budget::new(BUDGET, Duration::from_secs(3600))?;
    let client = Client::builder()
        .payer(
            Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*")?,
                    Arc::new(ExactEvmClient::new(agent.clone())),
                )
                .policy(
                    SpendPolicy::new()
                        .allow_asset(
                            Network::eip155(CHAIN),
                            &token.to_checksum(None),
                            DECIMALS,
                            Some("0.25"),
                        )?
                        .budget(budget.clone()),
                ),
        )
        .build()?;
    let balance_before = devnet.token_balance(token, agent.address()).await?;
    writeln!(
        out,
        "agent      {} holds {} USDC; budget {BUDGET} USDC per hour",
        agent.address().to_checksum(None),
        usdc(balance_before.to::<u64>())
    )?;

    let mut ledger = Vec::new();
    for api in PLAN {
        let (url, price) = &urls[api];
        let line = match client.get(url).send().await {
            Ok(response) if response.status().is_success() => {
                let transaction = response
                    .receipt()
                    .and_then(|receipt| receipt.transaction.clone())
                    .unwrap_or_default();
                LedgerLine {
                    api: api.to_owned(),
                    paid: *price,
                    outcome: Ok(transaction),
                }
            }
            Ok(response) => LedgerLine {
                api: api.to_owned(),
                paid: 0,
                outcome: Err(format!("answered {}", response.status().as_u16())),
            },
            Err(err) => LedgerLine {
                api: api.to_owned(),
                paid: 0,
                outcome: Err(format!(
                    "{}: {err}",
                    err.reason()
                        .code()
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                )),
            },
        };
        match &line.outcome {
            Ok(transaction) => writeln!(
                out,
                "agent      {api:<9} paid {:>5} USDC  {transaction}",
                usdc(line.paid)
            )?,
            Err(why) => writeln!(out, "agent      {api:<9} not paid: {why}")?,
        }
        ledger.push(line);
    }

    let balance_after = devnet.token_balance(token, agent.address()).await?;
    let total: u64 = ledger.iter().map(|line| line.paid).sum();
    writeln!(out, "ledger     api        paid (USDC)  outcome")?;
    for line in &ledger {
        let outcome = match &line.outcome {
            Ok(transaction) => format!("settled {transaction}"),
            Err(why) => format!("refused: {why}"),
        };
        writeln!(
            out,
            "ledger     {:<10} {:>11}  {outcome}",
            line.api,
            usdc(line.paid)
        )?;
    }
    writeln!(
        out,
        "ledger     total {} USDC of a {BUDGET} budget (the budget counts {}); on chain {} -> {} USDC",
        usdc(total),
        budget.spent(),
        usdc(balance_before.to::<u64>()),
        usdc(balance_after.to::<u64>())
    )?;
    Ok(Run {
        ledger,
        budget_spent: budget.spent(),
        balance: (balance_before, balance_after),
    })
}
