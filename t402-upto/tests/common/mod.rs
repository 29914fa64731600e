//! What the layer suites of `upto` share: the devnet with the permit token and an `upto`
//! facilitator, the layer and offer for a ceiling, and the paying client.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use alloy_primitives::U256;
use axum::Router;
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Facilitator, LocalFacilitator, Network, NetworkPattern};
use t402_server::{PaymentLayer, PaymentLayerBuilder, PaymentOption};
use t402_testkit::PermitDevnet;
use t402_upto::{UptoEvmClient, UptoEvmFacilitator, UptoEvmServer};

/// The devnet's chain id.
pub const CHAIN: u64 = 31337;

/// The permit-token devnet and an in-process facilitator serving `upto` on it.
pub struct World {
    chain: PermitDevnet,
    pub facilitator: Arc<dyn Facilitator>,
}

impl std::ops::Deref for World {
    type Target = PermitDevnet;

    fn deref(&self) -> &PermitDevnet {
        &self.chain
    }
}

impl World {
    pub fn new() -> Self {
        let chain = PermitDevnet::new();
        let facilitator = LocalFacilitator::new().register(
            [Network::eip155(CHAIN)],
            Arc::new(UptoEvmFacilitator::new(chain.evm.clone())),
        );
        Self {
            chain,
            facilitator: Arc::new(facilitator),
        }
    }

    /// A layer settling `upto` through the world's facilitator.
    pub fn layer(&self) -> PaymentLayerBuilder {
        PaymentLayer::builder()
            .facilitator(self.facilitator.clone())
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), UptoEvmServer)
    }

    /// An `upto` offer of `ceiling` atomic units of the permit token, paid to the world's payee.
    pub fn option(&self, ceiling: u64) -> PaymentOption {
        PaymentOption::new(
            "upto",
            Network::eip155(CHAIN),
            self.price(ceiling),
            self.pay_to.to_checksum(None),
        )
    }

    /// Pays the permit token, at most 0.1 per request.
    pub fn policy(&self) -> SpendPolicy {
        SpendPolicy::new()
            .allow_asset(
                Network::eip155(CHAIN),
                &self.token.to_checksum(None),
                6,
                Some("0.1"),
            )
            .unwrap()
    }

    /// The world's payer paying `upto` within [`policy`](Self::policy).
    pub fn payer(&self) -> Payer {
        Payer::new()
            .mechanism(
                NetworkPattern::parse("eip155:*").unwrap(),
                Arc::new(UptoEvmClient::new(self.payer.clone())),
            )
            .policy(self.policy())
    }

    /// The t402 client with [`payer`](Self::payer).
    pub fn client(&self) -> Client {
        Client::builder().payer(self.payer()).build().unwrap()
    }

    /// What the payee received.
    pub async fn received(&self) -> U256 {
        self.balance(self.pay_to).await
    }
}

/// Serves `app` on a loopback port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}
