//! A paid MCP tool on an in-process chain: an rmcp server whose `get_weather` tool costs
//! 0.01 USDC, called by the paying MCP client over an in-memory transport, each step printed.
//! `cargo run --example mcp_paid_tool`.

use std::io::Write;
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::{ClientHandler, ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use t402_client::{Payer, SpendPolicy};
use t402_core::{Facilitator, LocalFacilitator, Network, NetworkPattern, SettleResponse};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_mcp::{McpPayError, PaidTool, PaidTools, PayingClient, codec};

/// The chain id of the example's devnet.
pub const CHAIN: u64 = 31337;

/// A weather server written with rmcp's macros, unaware of payments.
#[derive(Clone, Debug)]
pub struct Weather {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Weather {
    /// The server.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "The weather in Paris")]
    async fn get_weather(&self) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "Paris: sunny, 21 °C",
        )]))
    }
}

impl Default for Weather {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Weather {}

#[derive(Clone, Default)]
struct Agent;
impl ClientHandler for Agent {}

/// What the example did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The tool's answer.
    pub answer: String,
    /// The settlement.
    pub settlement: SettleResponse,
    /// The payee's balance after, atomic units.
    pub payee_balance: U256,
}

/// An in-process facilitator for `devnet` with its own funded key.
pub fn devnet_facilitator(
    devnet: &Arc<Devnet>,
) -> Result<Arc<dyn Facilitator>, Box<dyn std::error::Error>> {
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(18)));
    let evm = ExactEvmFacilitator::new(devnet.clone(), FacilitatorSigners::new(CHAIN, [key])?)?;
    Ok(Arc::new(
        LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm)),
    ))
}

/// The weather server with `get_weather` priced at 0.01 of `token` (a test USDC on the devnet),
/// paid to `pay_to`, verified and settled by `facilitator`. The same wrapper serves any rmcp
/// transport: in memory here, stdio in the `mcp-weather-stdio` binary, streamable HTTP in
/// `tests/mcp_transports.rs`.
pub fn paid_weather(
    facilitator: Arc<dyn Facilitator>,
    token: Address,
    pay_to: Address,
) -> Result<PaidTools<Weather>, Box<dyn std::error::Error>> {
    let mut extra = serde_json::Map::new();
    extra.insert("name".into(), "USD Coin".into());
    extra.insert("version".into(), "2".into());
    let price = t402_core::Price::Asset(
        t402_core::AssetAmount::new(token.to_checksum(None), 10_000u64.into()).with_extra(extra),
    );
    let tool = PaidTool::priced(
        "get_weather",
        &ExactEvmServer,
        &price,
        Network::eip155(CHAIN),
        pay_to.to_checksum(None),
        60,
    )?
    .description("The weather in Paris");
    Ok(PaidTools::new(Weather::new(), facilitator).tool(tool))
}

/// A payer signing with `key`, allowed at most 0.05 of the test token `token` (a 6-decimal
/// USDC on the devnet's chain) per call.
pub fn weather_payer(
    key: PrivateKeySigner,
    token: &str,
) -> Result<Payer, Box<dyn std::error::Error>> {
    Ok(Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*")?,
            Arc::new(ExactEvmClient::new(key)),
        )
        .policy(SpendPolicy::new().allow_asset(Network::eip155(CHAIN), token, 6, Some("0.05"))?))
}

/// Runs the example, writing each step to `out`.
pub async fn run(out: &mut impl Write) -> Result<Outcome, Box<dyn std::error::Error>> {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
    let payer = PrivateKeySigner::random();
    devnet.mint(token, payer.address(), U256::from(1_000_000u64))?;
    let facilitator = devnet_facilitator(&devnet)?;
    writeln!(
        out,
        "chain      in-process devnet, chain {CHAIN}; test USDC at {}",
        token.to_checksum(None)
    )?;

    // The server: the weather tool, priced at 0.01 of the test token.
    let pay_to: Address = PrivateKeySigner::random().address();
    let server = paid_weather(facilitator, token, pay_to)?;
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    writeln!(
        out,
        "server     MCP tool get_weather costs 0.01 USDC, paid to {}",
        pay_to.to_checksum(None)
    )?;

    // The agent: an MCP client that pays within 0.05 per call.
    let running = Agent.serve(client_side).await?;
    let payer = weather_payer(payer.clone(), &token.to_checksum(None))?;
    let unpaid = running
        .peer()
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await?;
    if let Some(required) = codec::read_payment_required(&unpaid) {
        writeln!(
            out,
            "client     tools/call get_weather -> payment required: {} atomic units on {}",
            required["accepts"][0]["amount"].as_str().unwrap_or("?"),
            required["accepts"][0]["network"].as_str().unwrap_or("?")
        )?;
    }
    let paying = PayingClient::new(running.peer().clone(), payer);
    let paid = match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Ok(paid) => paid,
        Err(McpPayError::Refused { reason, .. }) => return Err(format!("refused: {reason}").into()),
        Err(err) => return Err(err.into()),
    };
    let answer = paid
        .result
        .content
        .first()
        .and_then(|content| content.as_text())
        .map(|text| text.text.clone())
        .unwrap_or_default();
    let settlement = paid.settlement.ok_or("no settlement in the result")?;
    writeln!(
        out,
        "client     paid with _meta[\"x402/payment\"] -> {answer}"
    )?;
    writeln!(
        out,
        "client     _meta[\"x402/payment-response\"]: success={} transaction {}",
        settlement.success,
        settlement.transaction.as_deref().unwrap_or("")
    )?;
    let payee_balance = devnet.token_balance(token, pay_to).await?;
    writeln!(
        out,
        "chain      payee holds {} USDC",
        t402_core::Amount::from(payee_balance).format_units(6)
    )?;
    Ok(Outcome {
        answer,
        settlement,
        payee_balance,
    })
}
