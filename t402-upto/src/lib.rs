#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod facilitator;
mod server;

pub use client::UptoEvmClient;
pub use facilitator::UptoEvmFacilitator;
pub use server::UptoEvmServer;

/// The scheme name.
pub const UPTO: &str = "upto";

/// The key of the facilitator address in the `/supported` kind's `extra` and in the
/// requirements' `extra`.
pub const FACILITATOR_ADDRESS: &str = "facilitatorAddress";
