//! EIP-712 digests with remembered domain separators.
//!
//! A token's (or Permit2's) domain recurs in every payment made in it, and its separator costs
//! three keccak-256 hashes: about a tenth of an offline verification. The separator is a pure
//! function of the domain, so a remembered one is always right.

use std::sync::{OnceLock, PoisonError, RwLock};

use alloy_primitives::{B256, keccak256};
use alloy_sol_types::Eip712Domain;

/// How many domains [`domain_separator_remembered`] keeps (all are forgotten when the table is
/// full): a server or facilitator sees a few tokens on a few chains.
pub const REMEMBERED_DOMAINS: usize = 64;

/// `domain`'s separator (its EIP-712 struct hash), remembered.
pub fn domain_separator_remembered(domain: &Eip712Domain) -> B256 {
    static REMEMBERED: OnceLock<RwLock<Vec<(Eip712Domain, B256)>>> = OnceLock::new();
    let table = REMEMBERED.get_or_init(Default::default);
    // A poisoned table holds only correct separators: keep using it.
    if let Some((_, separator)) = table
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(known, _)| known == domain)
    {
        return *separator;
    }
    let separator = domain.separator();
    let mut remembered = table.write().unwrap_or_else(PoisonError::into_inner);
    if remembered.len() >= REMEMBERED_DOMAINS {
        remembered.clear();
    }
    remembered.push((domain.clone(), separator));
    separator
}

/// The EIP-712 digest of a struct whose hash is `struct_hash` under `domain`:
/// `keccak256(0x19 ‖ 0x01 ‖ separator ‖ struct_hash)`, the domain's separator remembered.
pub fn signing_digest(domain: &Eip712Domain, struct_hash: B256) -> B256 {
    let mut message = [0u8; 66];
    message[..2].copy_from_slice(&[0x19, 0x01]);
    message[2..34].copy_from_slice(domain_separator_remembered(domain).as_slice());
    message[34..].copy_from_slice(struct_hash.as_slice());
    keccak256(message)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};
    use alloy_sol_types::SolStruct;

    use super::*;
    use crate::eip3009::{Authorization, token_domain};

    #[test]
    fn remembered_digests_are_alloys_past_a_full_table() {
        let authorization = Authorization::new(
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            U256::from(10_000u64),
            U256::ZERO,
            U256::from(1_740_672_154u64),
            B256::repeat_byte(3),
        );
        // More domains than are kept, each asked twice (computed, then remembered).
        for round in 0..2 {
            for chain in 0..(REMEMBERED_DOMAINS as u64 + 10) {
                let domain = token_domain("USD Coin", "2", chain + 1, Address::repeat_byte(7));
                let expected = authorization.typed().eip712_signing_hash(&domain);
                assert_eq!(
                    signing_digest(&domain, authorization.struct_hash()),
                    expected,
                    "chain {chain}, round {round}"
                );
                assert_eq!(domain_separator_remembered(&domain), domain.separator());
            }
        }
        // Domains that differ only in name or version have their own separators.
        let usdc = token_domain("USDC", "2", 8453, Address::repeat_byte(7));
        let other = token_domain("USDC", "1", 8453, Address::repeat_byte(7));
        assert_ne!(
            domain_separator_remembered(&usdc),
            domain_separator_remembered(&other)
        );
        assert_eq!(domain_separator_remembered(&other), other.separator());
    }
}
