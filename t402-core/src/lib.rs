#![doc = include_str!("../README.md")]
//!
//! Modules:
//! - [`wire`]: the messages; [`codec`]: base64 header encoding and strict decoding; [`json`]:
//!   duplicate-key-refusing JSON reading.
//! - [`network`], [`amount`], [`price`], [`asset`]: identifiers and money.
//! - [`reason`]: reason strings and their stable `T402-NNNN` codes; [`redact`]: URLs cut out of
//!   messages (API keys).
//! - [`mechanism`], [`registry`], [`facilitator`]: the extension points and the in-process
//!   facilitator; [`error`]: the error and future types they share.
//! - [`settlement`]: payment ids and the settlement-record store (replay guard, idempotent
//!   settlement).
//! - [`version`]: the `x402Version`/`t402Version` key.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod amount;
pub mod asset;
pub mod codec;
pub mod error;
pub mod facilitator;
pub mod health;
pub mod json;
pub mod mechanism;
pub mod network;
pub mod price;
pub mod reason;
pub mod redact;
pub mod registry;
pub mod settlement;
pub mod version;
pub mod wire;

pub use amount::{Amount, AmountError};
pub use error::{BoxError, BoxFuture, FacilitatorError};
pub use facilitator::{Facilitator, LocalFacilitator};
pub use mechanism::{
    ClientMechanism, FacilitatorMechanism, MechanismError, SchemePayload, ServerMechanism,
};
pub use network::{Network, NetworkError, NetworkPattern};
pub use price::{AssetAmount, Money, Price, PriceError};
pub use reason::{Reason, T402Code};
pub use registry::MechanismRegistry;
pub use settlement::{
    Claim, MemorySettlementStore, PaymentId, SendJournal, SettlementRecord, SettlementStore,
    StoreError,
};
pub use version::{ProtocolVersion, VersionError, VersionKey};
pub use wire::{
    Accepted, FacilitatorRequest, JsonObject, PaymentPayload, PaymentPayloadV1, PaymentRequired,
    PaymentRequiredV1, PaymentRequirements, PaymentRequirementsV1, ResourceInfo, SettleRequest,
    SettleResponse, SupportedKind, SupportedResponse, VerifyRequest, VerifyRequestV1,
    VerifyResponse,
};

/// The protocol version t402 speaks by default.
pub const PROTOCOL_VERSION: u32 = 2;
