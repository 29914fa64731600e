#![doc = include_str!("../README.md")]
//!
//! Parts:
//!
//! - [`ExactEvmClient`]: signs payments with any [`alloy_signer::Signer`];
//! - [`ExactEvmServer`]: turns `"$0.01"` into an amount of the network's default token;
//! - [`verify::verify_offline`]: every check of a payment that needs no chain, in the reference
//!   facilitator's order with its reason strings (scheme, EIP-712 domain, network, signature with
//!   high-s refused, recipient, validity window, exact amount);
//! - [`ExactEvmFacilitator`]: verification and settlement on a chain.
//!
//! The facilitator side is [`ExactEvmFacilitator`]: the same checks with the chain's help
//! (ERC-1271 and ERC-6492 wallets, simulation and its diagnosis) and settlement with
//! [`FacilitatorSigners`], through an [`chain::EvmChain`] backend: [`chain::RpcChain`]
//! (JSON-RPC) or, with the `devnet` feature, `devnet::Devnet` (an in-process revm chain).
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "anvil")]
pub mod anvil;
pub mod chain;
pub mod clock;
pub mod contracts;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod eip3009;
pub mod eip712;
pub mod error;
pub mod facilitator;
pub mod payload;
pub mod permit2;
pub mod secp;
pub mod signature;
pub mod verify;

mod client;
mod server;

pub use client::{APPROVAL_GAS_LIMIT, ExactEvmClient, VALID_AFTER_SKEW_SECS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::PayloadError;
pub use facilitator::{ExactEvmFacilitator, FacilitatorSigners};
pub use payload::ExactEvmPayload;
pub use server::ExactEvmServer;
