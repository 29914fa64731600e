#![doc = include_str!("../README.md")]
//!
//! Parts:
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
#![cfg_attr(docsrs, feature(doc_cfg))]

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
pub mod sse;
pub mod tower;

#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, PaidResponse, RequestBuilder, TransportRetry, same_origin_redirects,
};
pub use error::ClientError;
pub use hooks::{NoPayHooks, PayDecision, PayHooks};
pub use ledger::{Budget, OverBudget, Reservation};
pub use pay_on_402::{Paid, PaidAnswer, PayError, Unpaid};
pub use payer::{Challenge, Payer, PreparedPayment, SignedPayment};
pub use policy::{AllowedAsset, Refusal, SpendPolicy};

/// The settlement receipt a server returns in `PAYMENT-RESPONSE`.
pub type Receipt = t402_core::SettleResponse;
