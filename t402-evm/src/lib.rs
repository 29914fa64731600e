//! # t402-evm
//!
//! Scheme `exact` on EVM chains over EIP-3009 `transferWithAuthorization`.
//!
//! - [`ExactEvmClient`]: signs payments with any [`alloy_signer::Signer`];
//! - [`ExactEvmServer`]: turns `"$0.01"` into an amount of the network's default token;
//! - [`verify::verify_offline`]: every check of a payment that needs no chain, in the reference
//!   facilitator's order with its reason strings (scheme, EIP-712 domain, network, signature with
//!   high-s refused, recipient, validity window, exact amount);
//! - [`ExactEvmFacilitator`]: verification and settlement on a chain.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alloy_signer_local::PrivateKeySigner;
//! use t402_core::{ClientMechanism, PaymentPayload, PaymentRequirements, VerifyRequest};
//! use t402_evm::{ExactEvmClient, ManualClock, verify::verify_offline};
//!
//! let requirements: PaymentRequirements = serde_json::from_str(r#"{
//!     "scheme": "exact", "network": "eip155:84532", "amount": "10000",
//!     "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
//!     "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
//!     "extra": {"name": "USDC", "version": "2"}}"#)?;
//! let clock = ManualClock::new(1_750_000_000);
//! let client = ExactEvmClient::new(PrivateKeySigner::random()).with_clock(clock.clone());
//! let signed = client.create_payload(2, &requirements, None).await?;
//!
//! let payment = PaymentPayload::new(requirements.clone().into(), signed.payload);
//! let checked = verify_offline(&VerifyRequest::new(payment, requirements), clock.now())
//!     .map_err(|rejection| rejection.message)?;
//! assert_eq!(checked.payer(), client.address());
//! # Ok(()) }
//! # use t402_evm::Clock;
//! ```
//!
//! The facilitator side is [`ExactEvmFacilitator`]: the same checks with the chain's help
//! (ERC-1271 and ERC-6492 wallets, simulation and its diagnosis) and settlement with
//! [`FacilitatorSigners`], through an [`chain::EvmChain`] backend: [`chain::RpcChain`]
//! (JSON-RPC) or, with the `devnet` feature, `devnet::Devnet` (an in-process revm chain).

#[cfg(feature = "anvil")]
pub mod anvil;
pub mod chain;
pub mod clock;
pub mod contracts;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod eip3009;
pub mod error;
pub mod facilitator;
pub mod payload;
pub mod secp;
pub mod signature;
pub mod verify;

mod client;
mod server;

pub use client::{ExactEvmClient, VALID_AFTER_SKEW_SECS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::PayloadError;
pub use facilitator::{ExactEvmFacilitator, FacilitatorSigners};
pub use payload::ExactEvmPayload;
pub use server::ExactEvmServer;
