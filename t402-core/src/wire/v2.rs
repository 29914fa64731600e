//! Protocol v2 messages: the 402 challenge and the client's payment.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Accepted, JsonObject};
use crate::amount::Amount;
use crate::network::Network;
use crate::version::VersionKey;

/// What a paid resource is (`PaymentRequired.resource`, `PaymentPayload.resource`).
/// Read by `wire::de` (field by field, unknown fields kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ResourceInfo {
    /// The resource's URL.
    pub url: String,
    /// A human description (servers may send `""`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type of the resource (servers may send `""`).
    #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl ResourceInfo {
    /// A resource with a URL and no description or MIME type.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            description: None,
            mime_type: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

/// One way to pay for a resource (an element of `accepts`, and the `accepted` echo).
/// Read by `wire::de` (field by field, unknown fields kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PaymentRequirements {
    /// Payment scheme, `exact` or `upto`.
    pub scheme: String,
    /// CAIP-2 network.
    pub network: Network,
    /// Amount in atomic units (for `upto`: the maximum at verify, the charge at settle).
    pub amount: Amount,
    /// Token contract (EVM) or mint (Solana).
    pub asset: String,
    /// Recipient address.
    #[serde(rename = "payTo")]
    pub pay_to: String,
    /// How long the payment may take, in seconds.
    #[serde(rename = "maxTimeoutSeconds")]
    pub max_timeout_seconds: u64,
    /// Scheme-specific data (EVM `name`/`version`, SVM `feePayer`/`memo`, ...); an object or
    /// `null`, absent when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentRequirements {
    /// Requirements with no `extra`.
    pub fn new(
        scheme: impl Into<String>,
        network: Network,
        amount: Amount,
        asset: impl Into<String>,
        pay_to: impl Into<String>,
        max_timeout_seconds: u64,
    ) -> Self {
        Self {
            scheme: scheme.into(),
            network,
            amount,
            asset: asset.into(),
            pay_to: pay_to.into(),
            max_timeout_seconds,
            extra: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets `extra`.
    #[must_use]
    pub fn with_extra(mut self, extra: JsonObject) -> Self {
        self.extra = Some(Value::Object(extra));
        self
    }

    /// `extra` as an object, when it is one.
    pub fn extra_object(&self) -> Option<&JsonObject> {
        self.extra.as_ref().and_then(Value::as_object)
    }

    /// A string field of `extra`.
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra_object()?.get(key)?.as_str()
    }

    /// Sets one field of `extra`, creating the object when needed.
    pub fn set_extra_field(&mut self, key: impl Into<String>, value: Value) {
        match &mut self.extra {
            Some(Value::Object(extra)) => {
                extra.insert(key.into(), value);
            }
            slot => {
                let mut extra = JsonObject::new();
                extra.insert(key.into(), value);
                *slot = Some(Value::Object(extra));
            }
        }
    }
}

/// The 402 challenge: what the resource costs and how it may be paid (`PAYMENT-REQUIRED`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentRequired {
    /// The key naming the protocol version (always 2) when written.
    #[serde(flatten, with = "crate::version::fixed::v2")]
    pub version_key: VersionKey,
    /// Why payment is required (`"Payment required"`, a verification failure reason, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource being paid for.
    pub resource: ResourceInfo,
    /// The accepted ways to pay.
    pub accepts: Vec<PaymentRequirements>,
    /// Extension declarations, keyed by extension name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<JsonObject>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentRequired {
    /// A challenge for `resource` offering `accepts`, written with `x402Version`.
    pub fn new(resource: ResourceInfo, accepts: Vec<PaymentRequirements>) -> Self {
        Self {
            version_key: VersionKey::default(),
            error: None,
            resource,
            accepts,
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the `error` text.
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Sets the version key used when written.
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = key;
        self
    }
}

/// The client's signed payment (`PAYMENT-SIGNATURE`).
/// Read by `wire::de` (field by field, unknown fields kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PaymentPayload {
    /// The key naming the protocol version (always 2) when written.
    #[serde(flatten, serialize_with = "crate::version::fixed::v2::serialize")]
    pub version_key: VersionKey,
    /// The resource paid for, copied from the challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceInfo>,
    /// The requirements the client chose, exactly as the server sent them.
    pub accepted: Accepted,
    /// The scheme's signed payload (EIP-3009 authorization, Solana transaction, ...).
    pub payload: JsonObject,
    /// Extension data echoed from the challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<JsonObject>,
    /// Fields this version does not know, kept for the round trip.
    #[serde(flatten)]
    pub unknown: JsonObject,
}

impl PaymentPayload {
    /// A payment for `accepted` carrying the scheme's `payload`.
    pub fn new(accepted: Accepted, payload: JsonObject) -> Self {
        Self {
            version_key: VersionKey::default(),
            resource: None,
            accepted,
            payload,
            extensions: None,
            unknown: JsonObject::new(),
        }
    }

    /// Sets the resource.
    #[must_use]
    pub fn with_resource(mut self, resource: ResourceInfo) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Sets the version key used when written.
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = key;
        self
    }
}
