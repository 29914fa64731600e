//! Permit2 (`assetTransferMethod: "permit2"`): the typed data a payer signs for the x402 proxies,
//! the payload as it travels, the offline checks, and the gas-sponsoring extensions (protocol
//! reference §5.6, §7.2, §9.5, §9.6).
//!
//! One [`Permit2Authorization`] serves both schemes: the `exact` proxy's witness is
//! `Witness(address to,uint256 validAfter)`; the `upto` proxy's adds the facilitator that may
//! settle, `Witness(address to,address facilitator,uint256 validAfter)`.

mod extensions;
mod payload;
mod verify;

use alloy_primitives::{Address, B256, U256, address};
use alloy_sol_types::{Eip712Domain, SolStruct};

pub use extensions::{
    EIP2612_GAS_SPONSORING, ERC20_APPROVAL_GAS_SPONSORING, Eip2612Permit, Erc20Approval,
    SponsoringError, check_eip2612, check_erc20_approval, eip2612_digest,
};
pub use payload::{Permit2Payload, is_permit2_payload, permit2_payment_id};
pub use verify::{
    Permit2Rules, Permit2Verification, check_permit2_message, check_permit2_terms,
    verify_permit2_offline,
};

/// Where Permit2 lives on every chain (and where test chains install our Permit2-compatible
/// contract, [`crate::contracts::TestContract::Permit2`]).
pub const PERMIT2: Address = address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");

/// The x402 `exact` Permit2 proxy: the spender of `exact` Permit2 payments.
pub const EXACT_PERMIT2_PROXY: Address = address!("0x402085c248EeA27D92E8b30b2C58ed07f9E20001");

/// The x402 `upto` Permit2 proxy: the spender of `upto` payments.
pub const UPTO_PERMIT2_PROXY: Address = address!("0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002");

/// `keccak256` of the `exact` `PermitWitnessTransferFrom` type.
pub const EXACT_PERMIT_WITNESS_TYPEHASH: B256 =
    alloy_primitives::b256!("ebc156cd23678a74c94df13d772ef5478420637f0c94bd10d509e1dc98f521c7");

/// `keccak256` of the `upto` `PermitWitnessTransferFrom` type.
pub const UPTO_PERMIT_WITNESS_TYPEHASH: B256 =
    alloy_primitives::b256!("51dff6974ad4388c499e7fcfe838d2bd767162553a144098ce20ea661d70c2ee");

/// The EIP-712 structs of the `exact` proxy.
pub mod exact_types {
    alloy_sol_types::sol! {
        /// Token and most amount.
        #[derive(Debug, PartialEq, Eq)]
        struct TokenPermissions { address token; uint256 amount; }
        /// What the payer binds: the recipient and the start of validity.
        #[derive(Debug, PartialEq, Eq)]
        struct Witness { address to; uint256 validAfter; }
        /// The signed message.
        #[derive(Debug, PartialEq, Eq)]
        struct PermitWitnessTransferFrom {
            TokenPermissions permitted;
            address spender;
            uint256 nonce;
            uint256 deadline;
            Witness witness;
        }
    }
}

/// The EIP-712 structs of the `upto` proxy.
pub mod upto_types {
    alloy_sol_types::sol! {
        /// Token and most amount.
        #[derive(Debug, PartialEq, Eq)]
        struct TokenPermissions { address token; uint256 amount; }
        /// What the payer binds: the recipient, the facilitator that may settle, the start of
        /// validity.
        #[derive(Debug, PartialEq, Eq)]
        struct Witness { address to; address facilitator; uint256 validAfter; }
        /// The signed message.
        #[derive(Debug, PartialEq, Eq)]
        struct PermitWitnessTransferFrom {
            TokenPermissions permitted;
            address spender;
            uint256 nonce;
            uint256 deadline;
            Witness witness;
        }
    }
}

/// Permit2's EIP-712 domain on `chain_id`: `{name: "Permit2", chainId, verifyingContract}`, no
/// version.
pub fn permit2_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain::new(
        Some("Permit2".into()),
        None,
        Some(U256::from(chain_id)),
        Some(PERMIT2),
        None,
    )
}

/// The witness: recipient and start of validity, plus the facilitator for `upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Witness {
    /// The recipient.
    pub to: Address,
    /// The facilitator allowed to settle (`upto` only).
    pub facilitator: Option<Address>,
    /// Not valid before this Unix time.
    pub valid_after: U256,
}

impl Witness {
    /// The `exact` witness.
    pub fn exact(to: Address, valid_after: U256) -> Self {
        Self {
            to,
            facilitator: None,
            valid_after,
        }
    }

    /// The `upto` witness.
    pub fn upto(to: Address, facilitator: Address, valid_after: U256) -> Self {
        Self {
            to,
            facilitator: Some(facilitator),
            valid_after,
        }
    }
}

/// A Permit2 `PermitWitnessTransferFrom` with typed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Permit2Authorization {
    /// The payer (token owner).
    pub from: Address,
    /// The token.
    pub token: Address,
    /// The permitted amount (the most, for `upto`).
    pub amount: U256,
    /// Who may spend: the x402 proxy.
    pub spender: Address,
    /// An unordered Permit2 nonce (any unused 256-bit value).
    pub nonce: U256,
    /// Not valid after this Unix time.
    pub deadline: U256,
    /// The witness.
    pub witness: Witness,
}

impl Permit2Authorization {
    /// An authorization from its fields.
    pub fn new(
        from: Address,
        token: Address,
        amount: U256,
        spender: Address,
        nonce: U256,
        deadline: U256,
        witness: Witness,
    ) -> Self {
        Self {
            from,
            token,
            amount,
            spender,
            nonce,
            deadline,
            witness,
        }
    }

    /// The EIP-712 struct hash.
    pub fn struct_hash(&self) -> B256 {
        match self.witness.facilitator {
            None => self.exact_typed().eip712_hash_struct(),
            Some(facilitator) => self.upto_typed(facilitator).eip712_hash_struct(),
        }
    }

    /// The digest the payer signs on `chain_id` (the domain's separator remembered:
    /// [`crate::eip712::signing_digest`]).
    pub fn signing_hash(&self, chain_id: u64) -> B256 {
        crate::eip712::signing_digest(&permit2_domain(chain_id), self.struct_hash())
    }

    fn exact_typed(&self) -> exact_types::PermitWitnessTransferFrom {
        exact_types::PermitWitnessTransferFrom {
            permitted: exact_types::TokenPermissions {
                token: self.token,
                amount: self.amount,
            },
            spender: self.spender,
            nonce: self.nonce,
            deadline: self.deadline,
            witness: exact_types::Witness {
                to: self.witness.to,
                validAfter: self.witness.valid_after,
            },
        }
    }

    fn upto_typed(&self, facilitator: Address) -> upto_types::PermitWitnessTransferFrom {
        upto_types::PermitWitnessTransferFrom {
            permitted: upto_types::TokenPermissions {
                token: self.token,
                amount: self.amount,
            },
            spender: self.spender,
            nonce: self.nonce,
            deadline: self.deadline,
            witness: upto_types::Witness {
                to: self.witness.to,
                facilitator,
                validAfter: self.witness.valid_after,
            },
        }
    }

    /// The `permit` argument of the proxies' `settle`.
    pub fn permit_transfer_from(&self) -> crate::contracts::PermitTransferFrom {
        crate::contracts::PermitTransferFrom {
            permitted: crate::contracts::TokenPermissions {
                token: self.token,
                amount: self.amount,
            },
            nonce: self.nonce,
            deadline: self.deadline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolStruct;

    #[test]
    fn typehashes_match_the_reference() {
        let exact = Permit2Authorization {
            from: Address::ZERO,
            token: Address::ZERO,
            amount: U256::ZERO,
            spender: Address::ZERO,
            nonce: U256::ZERO,
            deadline: U256::ZERO,
            witness: Witness::exact(Address::ZERO, U256::ZERO),
        };
        assert_eq!(
            exact.exact_typed().eip712_type_hash(),
            EXACT_PERMIT_WITNESS_TYPEHASH
        );
        assert_eq!(
            exact.upto_typed(Address::ZERO).eip712_type_hash(),
            UPTO_PERMIT_WITNESS_TYPEHASH
        );
        assert_eq!(
            exact.exact_typed().permitted.eip712_type_hash(),
            alloy_primitives::b256!(
                "618358ac3db8dc274f0cd8829da7e234bd48cd73c4a740aede1adec9846d06a1"
            )
        );
        assert_eq!(
            exact.exact_typed().witness.eip712_type_hash(),
            alloy_primitives::b256!(
                "d97b3239a7f32295517bd14cb074edfdd188dfe5eb42f802bb26d4fd1eb12c37"
            )
        );
        assert_eq!(
            exact.upto_typed(Address::ZERO).witness.eip712_type_hash(),
            alloy_primitives::b256!(
                "d4171c445a74218b01d4fd8af34ff1106580ea1e36ff837e64484bfaa2253b75"
            )
        );
        // No version in the domain.
        assert_eq!(
            permit2_domain(1).encode_type(),
            "EIP712Domain(string name,uint256 chainId,address verifyingContract)"
        );
    }
}
