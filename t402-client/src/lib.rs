//! # t402-client
//!
//! Pays for HTTP requests answered `402 Payment Required`, within a spending policy.
//!
//! - [`Client`]: a reqwest-style client (`get`, `post`, headers, body, JSON, `send`) that, on
//!   402, reads the challenge (the `PAYMENT-REQUIRED` header, else a v1 body), chooses an offer,
//!   signs it and sends the request again once; the response carries the settlement
//!   [`Receipt`].
//! - [`Payer`]: the transport-free part (challenge, choice, signing, receipt) and the one
//!   pay-on-402 routine ([`Payer::pay_on_402`]), shared by the client, the tower layer
//!   ([`tower::PaymentClientLayer`]) and, with the `reqwest-middleware` feature, a
//!   reqwest-middleware middleware.
//!
//! Features: `client` (default) is [`Client`] over reqwest; `reqwest-middleware` adds the
//! middleware. Without them the crate has no HTTP client stack: the tower layer works over any
//! tower HTTP client (hyper's).
//! - [`SpendPolicy`] and [`Budget`]: networks, assets with their decimals and a cap per request,
//!   payee allow and deny lists, a budget per time window, a preference order. The default pays
//!   at most $0.10 per request in known USD stablecoins and nothing else.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{sync::Arc, time::Duration};
//! use alloy_signer_local::PrivateKeySigner;
//! use t402_client::{Budget, Client, Payer, SpendPolicy};
//! use t402_core::NetworkPattern;
//!
//! let signer: PrivateKeySigner = std::env::var("T402_KEY")?.parse()?;
//! let payer = Payer::new()
//!     .mechanism(NetworkPattern::parse("eip155:*")?, Arc::new(t402_evm::ExactEvmClient::new(signer)))
//!     .policy(
//!         SpendPolicy::new()
//!             .max_usd_per_request("$0.05")?
//!             .budget(Budget::new("$2.00", Duration::from_secs(3600))?),
//!     );
//! let client = Client::builder().payer(payer).build()?;
//! let response = client.get("https://api.example/weather").send().await?;
//! if let Some(receipt) = response.receipt() {
//!     println!("paid in {}", receipt.transaction.as_deref().unwrap_or(""));
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod hooks;
pub mod ledger;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
pub mod pay_on_402;
pub mod payer;
pub mod policy;
pub mod tower;

#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, PaidResponse, RequestBuilder, TransportRetry, same_origin_redirects,
};
pub use error::ClientError;
pub use hooks::{NoPayHooks, PayDecision, PayHooks};
pub use ledger::{Budget, OverBudget, Reservation};
pub use pay_on_402::{Paid, PaidAnswer, PayError, Unpaid};
pub use payer::{Challenge, Payer, PreparedPayment};
pub use policy::{AllowedAsset, Refusal, SpendPolicy};

/// The settlement receipt a server returns in `PAYMENT-RESPONSE`.
pub type Receipt = t402_core::SettleResponse;
