//! Protocol v1 messages (`X-PAYMENT`, `X-PAYMENT-RESPONSE` and the 402 JSON body).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serde_helpers::object_or_null;
use super::{JsonObject, PaymentRequirements, ResourceInfo};
use crate::amount::Amount;
use crate::network::{Network, NetworkError};
use crate::version::VersionKey;

/// The v1 402 body (`PaymentRequirementsResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentRequiredV1 {
    /// The key naming the protocol version (always 1) when written.
    #[serde(flatten, with = "crate::version::fixed::v1")]
    pub version_key: VersionKey,
    /// Why payment is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The accepted ways to pay.
    pub accepts: Vec<PaymentRequirementsV1>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentRequiredV1 {
    /// A v1 challenge offering `accepts`, written with `x402Version`.
    pub fn new(accepts: Vec<PaymentRequirementsV1>) -> Self {
        Self {
            version_key: VersionKey::default(),
            error: None,
            accepts,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the error text.
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Sets the key naming the version when written.
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = key;
        self
    }
}

/// One way to pay, in v1 form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentRequirementsV1 {
    /// Payment scheme.
    pub scheme: String,
    /// Legacy network name (`base-sepolia`, `solana-devnet`, ...).
    pub network: String,
    /// Amount in atomic units.
    #[serde(rename = "maxAmountRequired")]
    pub max_amount_required: Amount,
    /// Token contract or mint.
    pub asset: String,
    /// Recipient address.
    #[serde(rename = "payTo")]
    pub pay_to: String,
    /// The resource URL.
    pub resource: String,
    /// Human description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type of the resource.
    #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Output schema (an object or `null`).
    #[serde(
        rename = "outputSchema",
        default,
        deserialize_with = "object_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_schema: Option<Value>,
    /// How long the payment may take, in seconds.
    #[serde(rename = "maxTimeoutSeconds")]
    pub max_timeout_seconds: u64,
    /// Scheme-specific data (an object or `null`).
    #[serde(
        default,
        deserialize_with = "object_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub extra: Option<Value>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentRequirementsV1 {
    /// The CAIP-2 network of the legacy name.
    pub fn caip2_network(&self) -> Result<Network, NetworkError> {
        Network::parse_lenient(&self.network)
    }
}

/// The client's payment in v1 form (`X-PAYMENT`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentPayloadV1 {
    /// The key naming the protocol version (always 1) when written.
    #[serde(flatten, with = "crate::version::fixed::v1")]
    pub version_key: VersionKey,
    /// Payment scheme.
    pub scheme: String,
    /// Legacy network name.
    pub network: String,
    /// The scheme's signed payload.
    pub payload: JsonObject,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentRequirementsV1 {
    /// The v2 form: requirements plus the resource they describe.
    pub fn to_v2(&self) -> Result<(PaymentRequirements, ResourceInfo), NetworkError> {
        let requirements = PaymentRequirements {
            scheme: self.scheme.clone(),
            network: self.caip2_network()?,
            amount: self.max_amount_required,
            asset: self.asset.clone(),
            pay_to: self.pay_to.clone(),
            max_timeout_seconds: self.max_timeout_seconds,
            extra: self.extra.clone(),
            unknown: JsonObject::new(),
        };
        let resource = ResourceInfo {
            url: self.resource.clone(),
            description: self.description.clone(),
            mime_type: self.mime_type.clone(),
            unknown: JsonObject::new(),
        };
        Ok((requirements, resource))
    }

    /// The v1 form of v2 requirements for `resource`; the network must have a v1 name.
    pub fn from_v2(
        requirements: &PaymentRequirements,
        resource: &ResourceInfo,
    ) -> Result<Self, NetworkError> {
        Ok(Self {
            scheme: requirements.scheme.clone(),
            network: requirements.network.require_legacy_name()?.to_owned(),
            max_amount_required: requirements.amount,
            resource: resource.url.clone(),
            description: Some(resource.description.clone().unwrap_or_default()),
            mime_type: Some(resource.mime_type.clone().unwrap_or_default()),
            output_schema: None,
            pay_to: requirements.pay_to.clone(),
            max_timeout_seconds: requirements.max_timeout_seconds,
            asset: requirements.asset.clone(),
            extra: requirements.extra.clone(),
            unknown: JsonObject::new(),
        })
    }
}

impl PaymentPayloadV1 {
    /// A v1 payment of `scheme` on the v1 `network` name.
    pub fn new(scheme: impl Into<String>, network: impl Into<String>, payload: JsonObject) -> Self {
        Self {
            version_key: VersionKey::default(),
            scheme: scheme.into(),
            network: network.into(),
            payload,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the key naming the version when written.
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = key;
        self
    }
}
