//! The Permit2 payload as it travels: `{signature, permit2Authorization}`.

use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use t402_core::JsonObject;

use super::{Permit2Authorization, Witness};
use crate::eip3009::{parse_address, parse_uint};
use crate::error::PayloadError;

#[derive(Serialize, Deserialize)]
struct PermittedJson {
    token: String,
    amount: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WitnessJson {
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facilitator: Option<String>,
    valid_after: String,
}

#[derive(Serialize, Deserialize)]
struct AuthorizationJson {
    from: String,
    permitted: PermittedJson,
    spender: String,
    nonce: String,
    deadline: String,
    witness: WitnessJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadJson {
    signature: String,
    permit2_authorization: AuthorizationJson,
}

/// The `payload` of a Permit2 payment (`exact` or `upto`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Permit2Payload {
    /// The payer's signature over the Permit2 typed data.
    pub signature: Bytes,
    /// What was signed.
    pub authorization: Permit2Authorization,
}

/// Whether a scheme payload is a Permit2 payload (the facilitator tells the two EVM payloads
/// apart by shape, as the reference does).
pub fn is_permit2_payload(payload: &JsonObject) -> bool {
    payload.contains_key("permit2Authorization")
}

impl Permit2Payload {
    /// A payload from its parts.
    pub fn new(signature: Bytes, authorization: Permit2Authorization) -> Self {
        Self {
            signature,
            authorization,
        }
    }

    /// Reads a payment's payload object strictly: addresses `0x` + 40 hex, decimal amounts and
    /// times, the nonce decimal or `0x` hex (the reference writes decimal, its spec example hex).
    pub fn from_object(payload: &JsonObject) -> Result<Self, PayloadError> {
        let signature = payload
            .get("signature")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| PayloadError::Shape("missing string field `signature`".into()))?;
        let authorization = payload
            .get("permit2Authorization")
            .ok_or_else(|| PayloadError::Shape("missing field `permit2Authorization`".into()))?;
        let json = AuthorizationJson::deserialize(authorization)
            .map_err(|err| PayloadError::Shape(err.to_string()))?;
        let hex = signature
            .strip_prefix("0x")
            .filter(|h| h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(PayloadError::SignatureHex)?;
        let signature =
            alloy_primitives::hex::decode(hex).map_err(|_| PayloadError::SignatureHex)?;
        let facilitator = json
            .witness
            .facilitator
            .as_deref()
            .map(|text| parse_address("witness.facilitator", text))
            .transpose()?;
        Ok(Self {
            signature: signature.into(),
            authorization: Permit2Authorization {
                from: parse_address("from", &json.from)?,
                token: parse_address("permitted.token", &json.permitted.token)?,
                amount: parse_uint("permitted.amount", &json.permitted.amount)?,
                spender: parse_address("spender", &json.spender)?,
                nonce: parse_nonce(&json.nonce)?,
                deadline: parse_uint("deadline", &json.deadline)?,
                witness: Witness {
                    to: parse_address("witness.to", &json.witness.to)?,
                    facilitator,
                    valid_after: parse_uint("witness.validAfter", &json.witness.valid_after)?,
                },
            },
        })
    }

    /// The payload object as it travels: checksummed addresses, decimal numbers (the nonce
    /// too, as the reference client writes it).
    pub fn to_object(&self) -> JsonObject {
        let auth = &self.authorization;
        let json = PayloadJson {
            signature: self.signature.to_string(),
            permit2_authorization: AuthorizationJson {
                from: auth.from.to_checksum(None),
                permitted: PermittedJson {
                    token: auth.token.to_checksum(None),
                    amount: auth.amount.to_string(),
                },
                spender: auth.spender.to_checksum(None),
                nonce: auth.nonce.to_string(),
                deadline: auth.deadline.to_string(),
                witness: WitnessJson {
                    to: auth.witness.to.to_checksum(None),
                    facilitator: auth.witness.facilitator.map(|a| a.to_checksum(None)),
                    valid_after: auth.witness.valid_after.to_string(),
                },
            },
        };
        match serde_json::to_value(json).expect("payload serializes") {
            serde_json::Value::Object(object) => object,
            _ => unreachable!("a struct serializes to an object"),
        }
    }
}

fn parse_nonce(text: &str) -> Result<U256, PayloadError> {
    match text.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.len() <= 64 => {
            U256::from_str_radix(hex, 16).map_err(|_| PayloadError::Field {
                field: "nonce",
                value: text.to_owned(),
            })
        }
        Some(_) => Err(PayloadError::Field {
            field: "nonce",
            value: text.to_owned(),
        }),
        None => parse_uint("nonce", text),
    }
}

/// The identity of a Permit2 payment: network, payer and Permit2 nonce — what Permit2 itself
/// uses to refuse a second transfer (its nonces are per owner, across tokens and spenders).
/// `None` when the payload does not parse.
pub fn permit2_payment_id(
    scheme: &str,
    payload: &JsonObject,
    requirements: &t402_core::PaymentRequirements,
) -> Option<t402_core::PaymentId> {
    let authorization = payload.get("permit2Authorization")?;
    let from: Address = authorization.get("from")?.as_str()?.parse().ok()?;
    let nonce = parse_nonce(authorization.get("nonce")?.as_str()?).ok()?;
    Some(t402_core::PaymentId::new(format!(
        "{scheme}/{}/permit2/{}/{nonce:#x}",
        requirements.network,
        alloy_primitives::hex::encode_prefixed(from),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    fn sample() -> Permit2Payload {
        Permit2Payload::new(
            Bytes::from(vec![7u8; 65]),
            Permit2Authorization {
                from: address!("0x857b06519E91e3A54538791bDbb0E22373e36b66"),
                token: address!("0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
                amount: U256::from(10_000u64),
                spender: super::super::EXACT_PERMIT2_PROXY,
                nonce: U256::MAX - U256::from(5u8),
                deadline: U256::from(1_740_672_154u64),
                witness: Witness::exact(
                    address!("0x209693Bc6afc0C5328bA36FaF03C514EF312287C"),
                    U256::from(1_740_672_089u64),
                ),
            },
        )
    }

    #[test]
    fn round_trips_in_the_reference_shape() {
        let payload = sample();
        let object = payload.to_object();
        let text = serde_json::to_string(&object).unwrap();
        assert!(text.contains(r#""permitted":{"token":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","amount":"10000"}"#), "{text}");
        assert!(text.contains(r#""witness":{"to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","validAfter":"1740672089"}"#), "{text}");
        assert!(text.contains(&format!(r#""nonce":"{}""#, U256::MAX - U256::from(5u8))));
        assert!(is_permit2_payload(&object));
        assert_eq!(Permit2Payload::from_object(&object).unwrap(), payload);
    }

    #[test]
    fn hex_nonces_read_as_their_number_and_name_the_same_payment() {
        let payload = sample();
        let mut object = payload.to_object();
        let requirements: t402_core::PaymentRequirements =
            serde_json::from_value(serde_json::json!({
                "scheme": "exact", "network": "eip155:84532", "amount": "10000",
                "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60
            }))
            .unwrap();
        let id = permit2_payment_id("exact", &object, &requirements).unwrap();
        object["permit2Authorization"]["nonce"] =
            format!("{:#x}", payload.authorization.nonce).into();
        assert_eq!(Permit2Payload::from_object(&object).unwrap(), payload);
        assert_eq!(
            permit2_payment_id("exact", &object, &requirements).unwrap(),
            id
        );
        object["permit2Authorization"]["nonce"] = "0x".into();
        assert!(Permit2Payload::from_object(&object).is_err());
        object["permit2Authorization"]["nonce"] = "-1".into();
        assert!(Permit2Payload::from_object(&object).is_err());
    }
}
