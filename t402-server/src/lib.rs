#![doc = include_str!("../README.md")]
//!
//! Parts:
//!
//! - [`PaymentLayer`]: a tower layer configured with priced routes. A request without payment
//!   gets 402 with a `PAYMENT-REQUIRED` challenge (an HTML page for browsers); a paid request is
//!   verified by the facilitator, the handler runs, and the payment is settled before its
//!   response is released with `PAYMENT-RESPONSE`. Unpriced routes pass straight through.
//! - [`facilitator`]: facilitator clients: [`HttpFacilitator`](facilitator::HttpFacilitator)
//!   (timeouts, retries where safe, auth headers), any in-process
//!   [`Facilitator`](t402_core::Facilitator), and several with precedence.
//! - [`facilitator_router`]: the facilitator HTTP service (`/verify`, `/settle`, `/supported`,
//!   `/health`) over any `Facilitator`.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod error;
pub mod facilitator;
#[cfg(feature = "facilitator-service")]
pub mod facilitator_service;
pub mod hooks;
pub mod metrics;
pub mod paywall;
pub mod route;
pub mod store;

mod accepted;
mod challenge;
mod future;
mod headers;
mod layer;
mod metered;
mod paid;
mod replay;
mod service;
mod state;

pub use config::{Dynamic, PaymentOption, Route, SettleMode};
pub use error::{Challenge, ConfigError, PaymentError};
#[cfg(feature = "facilitator-service")]
pub use facilitator_service::{facilitator_router, facilitator_router_with_limit};
pub use future::PaymentFuture;
pub use headers::SETTLEMENT_OVERRIDES_HEADER;
pub use hooks::{
    ChallengeEvent, HookDecision, NoHooks, PaymentEvent, PaymentFailure, PaymentHooks,
    SettlementAmount, VerifiedPayment,
};
pub use layer::{PaymentLayer, PaymentLayerBuilder};
pub use metered::{Meter, PAYMENT_RESPONSE_TRAILER, ResponseBody};
pub use paywall::Paywall;
pub use service::PaymentService;

/// The body of the responses the layer returns: the inner service's own body, passed through
/// or metered (`Left`), or bytes the layer wrote or held until settlement (`Right`).
pub type PaymentBody<B> =
    http_body_util::Either<metered::ResponseBody<B>, http_body_util::Full<bytes::Bytes>>;
