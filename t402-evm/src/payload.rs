//! The `exact` EVM scheme payload (`{signature, authorization}`), to and from JSON.

use alloy_primitives::Bytes;
use serde::{Deserialize, Serialize};
use t402_core::JsonObject;

use crate::eip3009::{Authorization, AuthorizationJson};
use crate::error::PayloadError;
use crate::verify::EXACT;

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
    let Some(authorization) = payload.get("authorization") else {
        return crate::permit2::permit2_payment_id(EXACT, payload, requirements);
    };
    let from = authorization.get("from")?.as_str()?;
    let nonce = authorization.get("nonce")?.as_str()?;
    let token = requirements.asset.as_str();
    let network = requirements.network.as_str();
    // Built in one buffer, hex lowercased: the id is computed on every paid request.
    let mut text = String::with_capacity(EXACT.len() + network.len() + 3 * 67);
    text.push_str(EXACT);
    text.push('/');
    text.push_str(network);
    for (hex, bytes) in [(token, 20), (from, 20), (nonce, 32)] {
        text.push('/');
        push_lower_hex(&mut text, hex, bytes)?;
    }
    Some(t402_core::PaymentId::new(text))
}

/// Appends `hex` (exactly `bytes` bytes, `0x` prefix optional, as the address and hash parsers
/// accept it) as `0x` and lowercase digits; `None` when it is not that.
fn push_lower_hex(text: &mut String, hex: &str, bytes: usize) -> Option<()> {
    let digits = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    if digits.len() != bytes * 2 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.push_str("0x");
    let start = text.len();
    text.push_str(digits);
    text[start..].make_ascii_lowercase();
    Some(())
}

#[cfg(test)]
mod payment_id_tests {
    use super::*;

    fn requirements(asset: &str) -> t402_core::PaymentRequirements {
        serde_json::from_value(serde_json::json!({
            "scheme": "exact", "network": "eip155:8453", "amount": "1", "asset": asset,
            "payTo": "0x0000000000000000000000000000000000000001", "maxTimeoutSeconds": 60
        }))
        .unwrap()
    }

    fn payload(from: &str, nonce: &str) -> JsonObject {
        serde_json::from_value(serde_json::json!({
            "signature": "0x", "authorization": {"from": from, "nonce": nonce}
        }))
        .unwrap()
    }

    #[test]
    fn spellings_of_one_authorization_are_one_id_and_what_parses_as_an_address_names_one() {
        let token = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
        let from = "0x857b06519E91e3A54538791bDbb0E22373e36b66";
        let nonce = format!("0x{}", "Ab".repeat(32));
        let id = payment_id_of(&payload(from, &nonce), &requirements(token)).unwrap();
        assert_eq!(
            id.as_str(),
            format!(
                "exact/eip155:8453/{}/{}/{}",
                token.to_lowercase(),
                from.to_lowercase(),
                nonce.to_lowercase()
            )
        );
        // Case and a missing prefix do not make another payment.
        let other_spelling = payment_id_of(
            &payload(
                &from[2..].to_uppercase(),
                &nonce.to_uppercase().replace("0X", "0x"),
            ),
            &requirements(&token.to_lowercase()),
        );
        assert_eq!(other_spelling, Some(id.clone()));
        // Every form the authorization parser reads has an id: a payment that can verify is
        // always guarded.
        for (from, nonce) in [
            (from.to_owned(), nonce.clone()),
            (from[2..].to_owned(), nonce[2..].to_owned()),
        ] {
            let parsed: Result<alloy_primitives::Address, _> = from.parse();
            let parsed_nonce: Result<alloy_primitives::B256, _> = nonce.parse();
            assert!(parsed.is_ok() && parsed_nonce.is_ok());
            assert!(payment_id_of(&payload(&from, &nonce), &requirements(token)).is_some());
        }
        // Not an address or not a 32-byte nonce: no id (and no valid payment).
        assert_eq!(
            payment_id_of(&payload("0x1234", &nonce), &requirements(token)),
            None
        );
        assert_eq!(
            payment_id_of(&payload(from, "0x12"), &requirements(token)),
            None
        );
        assert_eq!(
            payment_id_of(
                &payload(&from.replace('5', "g"), &nonce),
                &requirements(token)
            ),
            None
        );
    }
}
