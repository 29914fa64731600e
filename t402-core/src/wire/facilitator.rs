//! The facilitator interface's messages: verify and settle requests and answers, and `/supported`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{
    JsonObject, PaymentPayload, PaymentPayloadV1, PaymentRequirements, PaymentRequirementsV1,
};
use crate::amount::Amount;
use crate::network::{Network, NetworkError};
use crate::reason::Reason;
use crate::version::{ProtocolVersion, VersionError};

/// A v2 `/verify` or `/settle` request body.
/// Read by `wire::de` (field by field, unknown fields kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VerifyRequest {
    /// The top-level version, when the sender wrote one (older peers do not; the payload's
    /// version is the one that counts).
    #[serde(flatten, serialize_with = "crate::version::optional::serialize")]
    pub version: Option<ProtocolVersion>,
    /// The client's payment.
    #[serde(rename = "paymentPayload")]
    pub payment_payload: PaymentPayload,
    /// The server's requirements the payment is checked against.
    #[serde(rename = "paymentRequirements")]
    pub payment_requirements: PaymentRequirements,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

/// `/settle` takes the same body as `/verify`.
pub type SettleRequest = VerifyRequest;

impl VerifyRequest {
    /// A request whose top-level version copies the payload's.
    pub fn new(payment_payload: PaymentPayload, payment_requirements: PaymentRequirements) -> Self {
        Self {
            version: Some(ProtocolVersion::new(
                crate::PROTOCOL_VERSION,
                payment_payload.version_key,
            )),
            payment_payload,
            payment_requirements,
            unknown: JsonObject::new(),
        }
    }
}

/// A v1 `/verify` or `/settle` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyRequestV1 {
    /// The top-level version, when the sender wrote one.
    #[serde(flatten, with = "crate::version::optional")]
    pub version: Option<ProtocolVersion>,
    /// The client's payment.
    #[serde(rename = "paymentPayload")]
    pub payment_payload: PaymentPayloadV1,
    /// The server's requirements.
    #[serde(rename = "paymentRequirements")]
    pub payment_requirements: PaymentRequirementsV1,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl VerifyRequestV1 {
    /// A request whose top-level version copies the payload's.
    pub fn new(
        payment_payload: PaymentPayloadV1,
        payment_requirements: PaymentRequirementsV1,
    ) -> Self {
        Self {
            version: Some(ProtocolVersion::new(1, payment_payload.version_key)),
            payment_payload,
            payment_requirements,
            unknown: JsonObject::new(),
        }
    }

    /// The v2 form of this request: requirements converted, and the payment's `accepted` built
    /// from them with the payload's own scheme and network, so that the scheme's checks see any
    /// disagreement between the two.
    pub fn to_v2(&self) -> Result<VerifyRequest, NetworkError> {
        let (requirements, resource) = self.payment_requirements.to_v2()?;
        let mut accepted = requirements.clone();
        accepted.scheme = self.payment_payload.scheme.clone();
        accepted.network = Network::parse_lenient(&self.payment_payload.network)?;
        let payload = PaymentPayload::new(accepted.into(), self.payment_payload.payload.clone())
            .with_resource(resource)
            .with_version_key(self.payment_payload.version_key);
        Ok(VerifyRequest::new(payload, requirements))
    }
}

/// A `/verify` or `/settle` body of either protocol version, told apart by the payment payload's
/// version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per payment; boxing would only add an allocation
pub enum FacilitatorRequest {
    /// Protocol v2.
    V2(VerifyRequest),
    /// Protocol v1.
    V1(VerifyRequestV1),
}

impl FacilitatorRequest {
    /// The protocol version of the payment payload.
    pub fn version(&self) -> u32 {
        match self {
            Self::V2(_) => 2,
            Self::V1(_) => 1,
        }
    }

    /// Reads a request from JSON, choosing the version from `paymentPayload`.
    pub fn from_json(value: Value) -> Result<Self, FacilitatorRequestError> {
        let number = Self::version_of(
            value.get("paymentPayload"),
            value.get("paymentRequirements").is_some(),
        )?;
        Ok(match number {
            2 => Self::V2(serde_json::from_value(value)?),
            _ => Self::V1(serde_json::from_value(value)?),
        })
    }

    /// The version (2 or 1) of a request whose payment payload is `payload`, once both parts
    /// are known to be present.
    fn version_of(
        payload: Option<&Value>,
        has_requirements: bool,
    ) -> Result<u32, FacilitatorRequestError> {
        let payload = payload.ok_or(FacilitatorRequestError::MissingField("paymentPayload"))?;
        if !has_requirements {
            return Err(FacilitatorRequestError::MissingField("paymentRequirements"));
        }
        match ProtocolVersion::of_json(payload)?.number {
            found @ (1 | 2) => Ok(found),
            found => Err(VersionError::Unexpected { expected: 2, found }.into()),
        }
    }
}

impl FacilitatorRequest {
    /// Reads a request from JSON bytes, refusing duplicate keys, choosing the version from
    /// `paymentPayload`: the same answers as [`from_json`](Self::from_json) over
    /// [`from_slice_strict`](crate::json::from_slice_strict), without building a JSON value of
    /// the whole body first.
    pub fn from_slice_strict(bytes: &[u8]) -> Result<Self, FacilitatorRequestError> {
        // Most requests are v2. The v2 reader refuses repeated keys by itself (`wire::de`) and
        // succeeds only if the payload says version 2: a v2 request that reads is read in one
        // pass. Anything else is checked, and its version peeked, to read it or say why not.
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(request) = serde_json::from_str::<VerifyRequest>(text)
        {
            return Ok(Self::V2(request));
        }
        let text = crate::json::check_unique_keys(bytes)?;
        let peek: Peek = serde_json::from_str(text)?;
        let number = Self::version_of(peek.payload.as_ref(), peek.requirements)?;
        Ok(match number {
            2 => Self::V2(serde_json::from_str(text)?),
            _ => Self::V1(serde_json::from_str(text)?),
        })
    }
}

/// The top level of a request as far as choosing its version needs: the payment payload's
/// version fields (an object holding only them, `null` when the payload is not an object) and
/// whether requirements are present. Everything else is skipped unread.
struct Peek {
    payload: Option<Value>,
    requirements: bool,
}

impl Peek {
    const EMPTY: Self = Self {
        payload: None,
        requirements: false,
    };
}

impl<'de> Deserialize<'de> for Peek {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};

        struct TopLevel;
        impl<'de> Visitor<'de> for TopLevel {
            type Value = Peek;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peek, A::Error> {
                let mut peek = Peek::EMPTY;
                while let Some(key) = map.next_key_seed(crate::json::KeySeed)? {
                    match key.as_ref() {
                        "paymentPayload" => {
                            peek.payload =
                                Some(map.next_value::<crate::version::VersionFields>()?.0);
                        }
                        "paymentRequirements" => {
                            // Present, even as `null`, as `from_json`'s `get` sees it.
                            map.next_value::<IgnoredAny>()?;
                            peek.requirements = true;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(peek)
            }
            // Not an object: nothing is present, as `from_json`'s `get` sees it.
            crate::json::visit_non_objects!('de, Peek => Peek::EMPTY);
        }
        deserializer.deserialize_any(TopLevel)
    }
}

/// Why a `/verify` or `/settle` body was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FacilitatorRequestError {
    /// A required top-level field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// The payload's version is missing, malformed or unsupported.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A field has the wrong type or a required field is missing.
    #[error("invalid request: {0}")]
    Json(#[from] serde_json::Error),
    /// Not JSON, or an object repeats a key.
    #[error(transparent)]
    Strict(#[from] crate::json::StrictJsonError),
}

impl Serialize for FacilitatorRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::V2(request) => request.serialize(serializer),
            Self::V1(request) => request.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FacilitatorRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_json(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The answer to `/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyResponse {
    /// Whether the payment is valid.
    #[serde(rename = "isValid")]
    pub is_valid: bool,
    /// Why it is not (a reason code).
    #[serde(
        rename = "invalidReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub invalid_reason: Option<Reason>,
    /// Human detail about the failure.
    #[serde(
        rename = "invalidMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub invalid_message: Option<String>,
    /// The paying address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// Extension data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<JsonObject>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl VerifyResponse {
    /// A valid payment by `payer`.
    pub fn valid(payer: impl Into<String>) -> Self {
        Self {
            is_valid: true,
            invalid_reason: None,
            invalid_message: None,
            payer: Some(payer.into()),
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// An invalid payment, with the reason and (when known) the payer.
    pub fn invalid(reason: Reason, payer: Option<String>) -> Self {
        Self {
            is_valid: false,
            invalid_reason: Some(reason),
            invalid_message: None,
            payer,
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the human detail.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.invalid_message = Some(message.into());
        self
    }
}

/// The answer to `/settle`, also carried by `PAYMENT-RESPONSE` and `X-PAYMENT-RESPONSE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SettleResponse {
    /// Whether the payment was settled.
    pub success: bool,
    /// Why it was not (a reason code).
    #[serde(
        rename = "errorReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_reason: Option<Reason>,
    /// Human detail about the failure.
    #[serde(
        rename = "errorMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_message: Option<String>,
    /// The transaction hash (EVM) or signature (Solana); `""` when nothing was sent. Some peers
    /// omit it on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// The network: CAIP-2 in v2, a legacy name in v1.
    pub network: String,
    /// The paying address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// The amount actually settled (always set by `upto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Extension data (receipts, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<JsonObject>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl SettleResponse {
    /// A successful settlement.
    pub fn success(
        transaction: impl Into<String>,
        network: impl Into<String>,
        payer: impl Into<String>,
    ) -> Self {
        Self {
            success: true,
            error_reason: None,
            error_message: None,
            payer: Some(payer.into()),
            transaction: Some(transaction.into()),
            network: network.into(),
            amount: None,
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// A failed settlement: `transaction` is `""`, and `network` and `payer` are filled so the
    /// answer is complete.
    pub fn failure(reason: Reason, network: impl Into<String>, payer: Option<String>) -> Self {
        Self {
            success: false,
            error_reason: Some(reason),
            error_message: None,
            payer,
            transaction: Some(String::new()),
            network: network.into(),
            amount: None,
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the human detail.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Sets the settled amount.
    #[must_use]
    pub fn with_amount(mut self, amount: Amount) -> Self {
        self.amount = Some(amount);
        self
    }

    /// The network as CAIP-2 (legacy names are mapped).
    pub fn caip2_network(&self) -> Result<Network, NetworkError> {
        Network::parse_lenient(&self.network)
    }
}

/// One (version, scheme, network) a facilitator can verify and settle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupportedKind {
    /// The protocol version and the key naming it.
    #[serde(flatten)]
    pub version: ProtocolVersion,
    /// Payment scheme.
    pub scheme: String,
    /// CAIP-2 network (v2 kinds) or legacy name (v1 kinds).
    pub network: String,
    /// Scheme data servers copy into requirements (SVM `feePayer`, upto `facilitatorAddress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<JsonObject>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl SupportedKind {
    /// A kind with no `extra`.
    pub fn new(
        version: ProtocolVersion,
        scheme: impl Into<String>,
        network: impl Into<String>,
    ) -> Self {
        Self {
            version,
            scheme: scheme.into(),
            network: network.into(),
            extra: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets `extra`.
    #[must_use]
    pub fn with_extra(mut self, extra: JsonObject) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The network as CAIP-2 (legacy names are mapped).
    pub fn caip2_network(&self) -> Result<Network, NetworkError> {
        Network::parse_lenient(&self.network)
    }
}

/// The answer to `GET /supported`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupportedResponse {
    /// What the facilitator verifies and settles.
    pub kinds: Vec<SupportedKind>,
    /// Extension keys the facilitator implements (absent from v1 facilitators).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Signer addresses by network family pattern (`eip155:*` → addresses).
    #[serde(default)]
    pub signers: BTreeMap<String, Vec<String>>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl SupportedResponse {
    /// The kind for (version, scheme, network), when listed.
    pub fn find(&self, version: u32, scheme: &str, network: &str) -> Option<&SupportedKind> {
        self.kinds.iter().find(|kind| {
            kind.version.number == version && kind.scheme == scheme && kind.network == network
        })
    }
}
