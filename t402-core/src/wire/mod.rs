//! The protocol's JSON messages, v2 and v1, with their exact field names.
//!
//! Every type keeps fields it does not know in `unknown`, so a message survives a decode and
//! re-encode without losing anything. `extra` and `extensions` are plain JSON. The version field is
//! read from `x402Version` or `t402Version` and written as the message's
//! [`VersionKey`](crate::VersionKey) says.

mod accepted;
mod de;
mod facilitator;
mod serde_helpers;
mod v1;
mod v2;

pub use accepted::Accepted;
pub use facilitator::{
    FacilitatorRequest, FacilitatorRequestError, SettleRequest, SettleResponse, SupportedKind,
    SupportedResponse, VerifyRequest, VerifyRequestV1, VerifyResponse,
};
pub use v1::{PaymentPayloadV1, PaymentRequiredV1, PaymentRequirementsV1};
pub use v2::{PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo};

/// A JSON object, as used for `extra`, `extensions`, scheme payloads and unknown fields.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
