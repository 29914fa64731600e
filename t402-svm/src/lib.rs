//! # t402-svm
//!
//! Scheme `exact` on Solana, built from the wire up: the v0 transaction format, program-derived
//! and associated token addresses (Token and Token-2022), the instructions a payment uses, signed
//! with ed25519-dalek.
//!
//! [`ExactSvmClient`] builds and signs the payment transaction; [`verify::verify_offline`] runs
//! the facilitator's checks that need no node. Settlement and the JSON-RPC backend build on them.
//!
//! ```
//! use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM, associated_token_address};
//!
//! let owner: Pubkey = "2wKupLR9q6wXYppw8Gr2NvWxKBUqm4PPJKkQfoxHDBg4".parse()?;
//! let usdc: Pubkey = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v".parse()?;
//! let ata = associated_token_address(&owner, &usdc, &TOKEN_PROGRAM);
//! assert!(!ata.is_on_curve());
//! # Ok::<(), t402_svm::pubkey::PubkeyError>(())
//! ```

pub mod facilitator;
pub mod instructions;
#[cfg(feature = "json-rpc")]
pub mod json_rpc;
pub mod pubkey;
pub mod rpc;
pub mod token2022;
pub mod verify;
pub mod wire;

mod client;
mod server;

pub use client::{
    DEFAULT_COMPUTE_UNIT_LIMIT, DEFAULT_COMPUTE_UNIT_PRICE, ExactSvmClient, MAX_MEMO_BYTES,
};
pub use facilitator::ExactSvmFacilitator;
pub use server::ExactSvmServer;
