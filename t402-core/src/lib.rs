//! # t402-core
//!
//! The foundation of the t402 crates: the x402 protocol's wire types (v2 and v1), the header
//! codec, networks, exact money arithmetic, the default asset table, reason codes, and the traits
//! through which schemes and facilitators plug in. It performs no I/O and depends on no chain
//! library, async runtime or HTTP stack.
//!
//! ```
//! use t402_core::codec::{Codec, encode_header};
//! use t402_core::{Amount, Network, PaymentRequired, PaymentRequirements, ResourceInfo};
//!
//! // A server's challenge: 0.01 USDC on Base Sepolia.
//! let usdc = t402_core::asset::default_asset(&Network::eip155(84532)).unwrap();
//! let price = usdc.amount_of(&"$0.01".parse()?)?;
//! let offer = PaymentRequirements::new(
//!     "exact",
//!     Network::eip155(84532),
//!     price.amount,
//!     price.asset,
//!     "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
//!     60,
//! )
//! .with_extra(price.extra.unwrap_or_default());
//! let challenge = PaymentRequired::new(ResourceInfo::new("https://api.example.com/data"), vec![offer]);
//!
//! // On the wire it is base64 of compact JSON, decoded strictly on the other side.
//! let header = encode_header(&challenge);
//! let received = Codec::default().decode_payment_required(&header)?;
//! assert_eq!(received.accepts[0].amount, Amount::from(10_000u64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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

pub mod amount;
pub mod asset;
pub mod codec;
pub mod error;
pub mod facilitator;
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
