#![doc = include_str!("../README.md")]
//!
//! [`ExactSvmClient`] builds and signs the payment transaction; [`verify::verify_offline`] runs
//! the facilitator's checks that need no node. Settlement and the JSON-RPC backend build on them.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod facilitator;
pub mod instructions;
#[cfg(feature = "json-rpc")]
pub mod json_rpc;
#[cfg(feature = "litesvm")]
pub mod litesvm;
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
