//! The example API on the in-process devnet: two priced routes and a free one.
//!
//! ```sh
//! cargo run -p t402-examples --example paid_api
//! curl -i http://127.0.0.1:4021/weather     # 402 with a PAYMENT-REQUIRED challenge
//! curl -i http://127.0.0.1:4021/health      # free
//! ```
//!
//! `T402_ADDR` sets the listening address (default `127.0.0.1:4021`).

use std::sync::Arc;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use t402_core::{LocalFacilitator, Network};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_examples::paid_api::{Pricing, payment_layer, router};

const CHAIN: u64 = 31337;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let app = router(payment_layer(&pricing, Arc::new(facilitator)).await?);
    let addr = std::env::var("T402_ADDR").unwrap_or_else(|_| "127.0.0.1:4021".into());
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
