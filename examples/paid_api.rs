//! The example API on the in-process devnet: two priced routes and a free one.
//!
//! ```sh
//! cargo run -p t402-examples --example paid_api
//! curl -i http://127.0.0.1:4021/weather     # 402 with a PAYMENT-REQUIRED challenge
//! curl -i http://127.0.0.1:4021/health      # free
//! ```
//!
//! `T402_ADDR` sets the listening address (default `127.0.0.1:4021`).
//!
//! On Base Sepolia with a remote facilitator instead of the devnet (`docs/src/base-sepolia.md`):
//!
//! ```sh
//! T402_FACILITATOR_URL=https://x402.org/facilitator T402_PAY_TO=0xYourAddress \
//!     cargo run -p t402-examples --example paid_api
//! ```

use std::sync::Arc;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use t402_core::{LocalFacilitator, Network};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_examples::paid_api::{Pricing, metered_app};

const CHAIN: u64 = 31337;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("T402_ADDR").unwrap_or_else(|_| "127.0.0.1:4021".into());
    if let Ok(url) = std::env::var("T402_FACILITATOR_URL") {
        return on_base_sepolia(&url, &addr).await;
    }
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(19)));
    let evm = ExactEvmFacilitator::new(devnet.clone(), FacilitatorSigners::new(CHAIN, [key])?)?;
    let facilitator = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));

    let pricing = Pricing {
        network: Network::eip155(CHAIN),
        token: token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: 6,
        pay_to: PrivateKeySigner::random().address().to_checksum(None),
    };
    let app = metered_app(&pricing, Arc::new(facilitator)).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "paid API on http://{} (devnet chain {CHAIN}, token {token})",
        listener.local_addr()?
    );
    println!("  GET /weather      0.001 USDC");
    println!("  GET /report/:id   0.01 USDC");
    println!("  GET /health       free");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The same API on Base Sepolia, priced in its USDC, verified and settled by the facilitator at
/// `url`, paid to `$T402_PAY_TO`.
async fn on_base_sepolia(url: &str, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let pay_to = std::env::var("T402_PAY_TO").map_err(|_| "set T402_PAY_TO to your address")?;
    let network = Network::eip155(84532);
    let pricing =
        Pricing::default_usdc(network.clone(), &pay_to).ok_or("no USDC on the network")?;
    let facilitator = t402_server::facilitator::HttpFacilitator::new(url)?;
    let app = metered_app(&pricing, Arc::new(facilitator)).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "paid API on http://{} ({network}, USDC {}, paid to {pay_to}, facilitator {url})",
        listener.local_addr()?,
        pricing.token
    );
    println!("  GET /weather      0.001 USDC");
    println!("  GET /report/:id   0.01 USDC");
    axum::serve(listener, app).await?;
    Ok(())
}
