//! The `exact` EVM scheme payload (`{signature, authorization}`), to and from JSON.

use alloy_primitives::Bytes;
use serde::{Deserialize, Serialize};
use t402_core::JsonObject;

use crate::eip3009::{Authorization, AuthorizationJson};
use crate::error::PayloadError;

/// The `payload` of an `exact` EIP-3009 payment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExactEvmPayload {
    /// The signature: 65 bytes for an EOA, longer for ERC-1271 and ERC-6492 wallets.
    pub signature: Bytes,
    /// What was signed.
    pub authorization: Authorization,
}

#[derive(Serialize)]
struct PayloadJson {
    signature: String,
    authorization: AuthorizationJson,
}

impl ExactEvmPayload {
    /// A payload from its parts.
    pub fn new(signature: Bytes, authorization: Authorization) -> Self {
        Self {
            signature,
            authorization,
        }
    }

    /// Reads the payload object of a payment.
    pub fn from_object(payload: &JsonObject) -> Result<Self, PayloadError> {
        if payload.contains_key("permit2Authorization") {
            return Err(PayloadError::Permit2);
        }
        // Read by reference: verification is a hot path, so the payload object is not cloned.
        let signature = payload
            .get("signature")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| PayloadError::Shape("missing string field `signature`".into()))?;
        let authorization = payload
            .get("authorization")
            .ok_or_else(|| PayloadError::Shape("missing field `authorization`".into()))?;
        let authorization = AuthorizationJson::deserialize(authorization)
            .map_err(|err| PayloadError::Shape(err.to_string()))?;
        let hex = signature
            .strip_prefix("0x")
            .filter(|h| h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(PayloadError::SignatureHex)?;
        let signature =
            alloy_primitives::hex::decode(hex).map_err(|_| PayloadError::SignatureHex)?;
        Ok(Self {
            signature: signature.into(),
            authorization: Authorization::from_json(&authorization)?,
        })
    }

    /// The payload object as it travels.
    pub fn to_object(&self) -> JsonObject {
        let json = PayloadJson {
            signature: self.signature.to_string(),
            authorization: self.authorization.to_json(),
        };
        match serde_json::to_value(json).expect("payload serializes") {
            serde_json::Value::Object(object) => object,
            _ => unreachable!("a struct serializes to an object"),
        }
    }
}

/// The identity of an `exact` EIP-3009 payment: network, token, payer and nonce — what the token
/// itself uses to refuse a second transfer. `None` when the payload or the addresses do not
/// parse (such a payment fails verification anyway).
pub fn payment_id(request: &t402_core::VerifyRequest) -> Option<t402_core::PaymentId> {
    payment_id_of(
        &request.payment_payload.payload,
        &request.payment_requirements,
    )
}

/// [`payment_id`] from a payment's `payload` object and the requirements it pays: reads only
/// the authorization's `from` and `nonce` (the replay guard computes it on every paid request).
pub fn payment_id_of(
    payload: &JsonObject,
    requirements: &t402_core::PaymentRequirements,
) -> Option<t402_core::PaymentId> {
    let authorization = payload.get("authorization")?;
    let from: alloy_primitives::Address = authorization.get("from")?.as_str()?.parse().ok()?;
    let nonce: alloy_primitives::B256 = authorization.get("nonce")?.as_str()?.parse().ok()?;
    let token: alloy_primitives::Address = requirements.asset.parse().ok()?;
    Some(t402_core::PaymentId::from_parts([
        crate::verify::EXACT.to_owned(),
        requirements.network.to_string(),
        format!("{token:#x}"),
        format!("{from:#x}"),
        nonce.to_string(),
    ]))
}
