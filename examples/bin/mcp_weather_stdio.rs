//! The paid `get_weather` tool served over stdio (newline-delimited JSON-RPC on stdin and
//! stdout), settling on its own in-process devnet: what an MCP host starts as a local server.
//!
//! `T402_MCP_PAYER=<address>` is given 1 test USDC on start, so a client holding that address's
//! key can pay. Everything the server says for people goes to stderr; stdout carries only MCP.
//!
//! `cargo run -p t402-examples --bin mcp-weather-stdio`

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use rmcp::ServiceExt;
use t402_evm::devnet::Devnet;
use t402_examples::mcp_paid_tool::{CHAIN, devnet_facilitator, paid_weather};

#[tokio::main]
async fn main() {
    if let Err(err) = serve().await {
        eprintln!("mcp-weather-stdio: {err}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
    if let Ok(payer) = std::env::var("T402_MCP_PAYER") {
        let payer: Address = payer.parse()?;
        devnet.mint(token, payer, U256::from(1_000_000u64))?;
        eprintln!("mcp-weather-stdio: 1 test USDC for {payer}");
    }
    let pay_to = Address::repeat_byte(0x42);
    let server = paid_weather(devnet_facilitator(&devnet)?, token, pay_to)?;
    eprintln!(
        "mcp-weather-stdio: get_weather costs 0.01 USDC ({}), chain {CHAIN}, over stdio",
        token.to_checksum(None)
    );
    server
        .serve(rmcp::transport::stdio())
        .await?
        .waiting()
        .await?;
    Ok(())
}
