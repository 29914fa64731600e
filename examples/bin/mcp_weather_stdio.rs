//! The paid `get_weather` tool served over stdio (newline-delimited JSON-RPC on stdin and
//! stdout): what an MCP host starts as a local server.
//!
//! By default it settles on its own in-process devnet, and `T402_MCP_PAYER=<address>` is given
//! 1 test USDC on start so that a client holding that address's key can pay. With
//! `T402_MCP_RPC_URL` (a node serving chain 31337, such as anvil), `T402_MCP_TOKEN` (an EIP-3009
//! token named "USD Coin", version "2") and `T402_MCP_FACILITATOR_KEY` (a key holding gas
//! money, from the environment, never the command line) it settles on that node instead.
//! Everything the server says for people goes to stderr; stdout carries only MCP.
//!
//! `cargo run -p t402-examples --bin mcp-weather-stdio`

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use rmcp::ServiceExt;
use t402_core::{Facilitator, LocalFacilitator, Network};
use t402_evm::chain::RpcChain;
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_examples::mcp_paid_tool::{CHAIN, devnet_facilitator, paid_weather};

#[tokio::main]
async fn main() {
    if let Err(err) = serve().await {
        eprintln!("mcp-weather-stdio: {err}");
        std::process::exit(1);
    }
}

type Error = Box<dyn std::error::Error>;

/// The token and a facilitator settling on the node at `T402_MCP_RPC_URL`.
fn on_node(url: &str) -> Result<(Address, Arc<dyn Facilitator>), Error> {
    let token: Address = std::env::var("T402_MCP_TOKEN")?.parse()?;
    let key: PrivateKeySigner = std::env::var("T402_MCP_FACILITATOR_KEY")?.parse()?;
    let evm = ExactEvmFacilitator::new(
        RpcChain::new(url, CHAIN)?,
        FacilitatorSigners::new(CHAIN, [key])?,
    )?;
    let facilitator = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));
    eprintln!("mcp-weather-stdio: settling on the node at the given RPC URL");
    Ok((token, Arc::new(facilitator)))
}

/// A devnet with a test token (1 of it for `T402_MCP_PAYER`) and a facilitator on it.
fn on_devnet() -> Result<(Address, Arc<dyn Facilitator>), Error> {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
    if let Ok(payer) = std::env::var("T402_MCP_PAYER") {
        let payer: Address = payer.parse()?;
        devnet.mint(token, payer, U256::from(1_000_000u64))?;
        eprintln!("mcp-weather-stdio: 1 test USDC for {payer}");
    }
    Ok((token, devnet_facilitator(&devnet)?))
}

async fn serve() -> Result<(), Error> {
    let (token, facilitator) = match std::env::var("T402_MCP_RPC_URL") {
        Ok(url) => on_node(&url)?,
        Err(_) => on_devnet()?,
    };
    let pay_to = match std::env::var("T402_MCP_PAY_TO") {
        Ok(pay_to) => pay_to.parse()?,
        Err(_) => Address::repeat_byte(0x42),
    };
    let server = paid_weather(facilitator, token, pay_to)?;
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
