//! EIP-3009 `TransferWithAuthorization`: the typed data a payer signs, and its EIP-712 digest.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

use crate::error::PayloadError;

alloy_sol_types::sol! {
    /// The EIP-712 struct of EIP-3009 `transferWithAuthorization`.
    #[derive(Debug, PartialEq, Eq)]
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// `keccak256("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")`.
pub const TRANSFER_WITH_AUTHORIZATION_TYPEHASH: B256 =
    alloy_primitives::b256!("7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267");

/// The EIP-712 domain of an EIP-3009 token: `{name, version, chainId, verifyingContract}`.
pub fn token_domain(name: &str, version: &str, chain_id: u64, token: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(name.to_owned().into()),
        Some(version.to_owned().into()),
        Some(U256::from(chain_id)),
        Some(token),
        None,
    )
}

/// The `authorization` object of an EIP-3009 payload, as it travels: every field a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuthorizationJson {
    /// Payer address.
    pub from: String,
    /// Recipient address.
    pub to: String,
    /// Amount in atomic units, decimal.
    pub value: String,
    /// Unix seconds, decimal.
    pub valid_after: String,
    /// Unix seconds, decimal.
    pub valid_before: String,
    /// 32 bytes, `0x` hex.
    pub nonce: String,
}

/// An EIP-3009 authorization with typed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorization {
    /// Payer.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount in atomic units.
    pub value: U256,
    /// Not valid before this Unix time.
    pub valid_after: U256,
    /// Not valid from this Unix time on.
    pub valid_before: U256,
    /// Unique nonce.
    pub nonce: B256,
}

impl Authorization {
    /// An authorization from its fields.
    pub fn new(
        from: Address,
        to: Address,
        value: U256,
        valid_after: U256,
        valid_before: U256,
        nonce: B256,
    ) -> Self {
        Self {
            from,
            to,
            value,
            valid_after,
            valid_before,
            nonce,
        }
    }

    /// The EIP-712 struct.
    pub fn typed(&self) -> TransferWithAuthorization {
        TransferWithAuthorization {
            from: self.from,
            to: self.to,
            value: self.value,
            validAfter: self.valid_after,
            validBefore: self.valid_before,
            nonce: self.nonce,
        }
    }

    /// The EIP-712 struct hash.
    pub fn struct_hash(&self) -> B256 {
        self.typed().eip712_hash_struct()
    }

    /// The digest a payer signs under `domain` (its separator remembered:
    /// [`crate::eip712::signing_digest`]).
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        crate::eip712::signing_digest(domain, self.struct_hash())
    }

    /// The wire form: checksummed addresses, decimal numbers, lowercase hex nonce.
    pub fn to_json(&self) -> AuthorizationJson {
        AuthorizationJson {
            from: self.from.to_checksum(None),
            to: self.to.to_checksum(None),
            value: self.value.to_string(),
            valid_after: self.valid_after.to_string(),
            valid_before: self.valid_before.to_string(),
            nonce: self.nonce.to_string(),
        }
    }

    /// Parses the wire form strictly: `0x` + 40 hex addresses, decimal integers, `0x` + 64 hex
    /// nonce.
    pub fn from_json(json: &AuthorizationJson) -> Result<Self, PayloadError> {
        Ok(Self {
            from: parse_address("from", &json.from)?,
            to: parse_address("to", &json.to)?,
            value: parse_uint("value", &json.value)?,
            valid_after: parse_uint("validAfter", &json.valid_after)?,
            valid_before: parse_uint("validBefore", &json.valid_before)?,
            nonce: parse_b256("nonce", &json.nonce)?,
        })
    }
}

/// Parses `0x` followed by exactly `digits` hex digits (any case) into `T`.
fn parse_fixed_hex<T: std::str::FromStr>(
    field: &'static str,
    text: &str,
    digits: usize,
) -> Result<T, PayloadError> {
    let well_formed = text.len() == digits + 2
        && text.starts_with("0x")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    well_formed
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| PayloadError::Field {
            field,
            value: text.to_owned(),
        })
}

/// Parses `0x` + 40 hex digits (any case; the checksum is not required).
pub fn parse_address(field: &'static str, text: &str) -> Result<Address, PayloadError> {
    parse_fixed_hex(field, text, 40)
}

fn parse_b256(field: &'static str, text: &str) -> Result<B256, PayloadError> {
    parse_fixed_hex(field, text, 64)
}

/// Parses a decimal integer below 2^256.
pub(crate) fn parse_uint(field: &'static str, text: &str) -> Result<U256, PayloadError> {
    t402_core::Amount::parse(text)
        .map(|amount| amount.as_u256())
        .map_err(|_| PayloadError::Field {
            field,
            value: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn typehash_matches_the_standard() {
        assert_eq!(
            TransferWithAuthorization::eip712_type_hash(&TransferWithAuthorization {
                from: Address::ZERO,
                to: Address::ZERO,
                value: U256::ZERO,
                validAfter: U256::ZERO,
                validBefore: U256::ZERO,
                nonce: B256::ZERO,
            }),
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH
        );
    }

    #[test]
    fn spec_vector_hashes() {
        let domain = token_domain(
            "USDC",
            "2",
            84532,
            address!("036CbD53842c5426634e7929541eC2318f3dCF7e"),
        );
        assert_eq!(
            domain.hash_struct(),
            b256!("71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818")
        );
        let auth = Authorization::new(
            address!("857b06519E91e3A54538791bDbb0E22373e36b66"),
            address!("209693Bc6afc0C5328bA36FaF03C514EF312287C"),
            U256::from(10_000u64),
            U256::from(1_740_672_089u64),
            U256::from(1_740_672_154u64),
            b256!("f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"),
        );
        assert_eq!(
            auth.struct_hash(),
            b256!("49ad644555c7bdf3ea4fc022a4940ae5589b230b1dde0065c5504fa19bbe39a4")
        );
        assert_eq!(
            auth.signing_hash(&domain),
            b256!("f256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6")
        );
        let json = auth.to_json();
        assert_eq!(
            json.nonce,
            "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"
        );
        assert_eq!(Authorization::from_json(&json).unwrap(), auth);
    }

    #[test]
    fn strict_field_parsing() {
        let good = Authorization::new(
            Address::ZERO,
            Address::ZERO,
            U256::from(1),
            U256::ZERO,
            U256::from(9),
            B256::ZERO,
        )
        .to_json();
        let mut bad = good.clone();
        bad.from = "857b06519E91e3A54538791bDbb0E22373e36b66".into();
        assert!(Authorization::from_json(&bad).is_err());
        let mut bad = good.clone();
        bad.value = "1.5".into();
        assert!(Authorization::from_json(&bad).is_err());
        let mut bad = good.clone();
        bad.nonce = "0x1234".into();
        assert!(Authorization::from_json(&bad).is_err());
        let mut bad = good;
        bad.valid_before = "-9".into();
        assert!(Authorization::from_json(&bad).is_err());
    }
}
