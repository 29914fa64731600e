//! Shared by the litesvm tests: the same keys, messages and transactions in Solana's own types,
//! and SPL account layouts.

#![allow(dead_code, unreachable_pub, unused_imports)]

use ed25519_dalek::SigningKey;
use litesvm::LiteSVM;
use solana_account::Account;
pub use t402_svm::litesvm::{address, message_to_solana as their_message, to_solana as theirs};
use t402_svm::pubkey::Pubkey;

pub fn key_of(signing: &SigningKey) -> Pubkey {
    Pubkey(signing.verifying_key().to_bytes())
}

/// An SPL mint (82-byte base layout, valid for Token and Token-2022).
pub fn mint_data(decimals: u8, supply: u64) -> Vec<u8> {
    let mut data = vec![0u8; 82];
    data[36..44].copy_from_slice(&supply.to_le_bytes());
    data[44] = decimals;
    data[45] = 1; // initialized
    data
}

/// An SPL token account (165-byte base layout).
pub fn token_account_data(mint: &Pubkey, owner: &Pubkey, amount: u64) -> Vec<u8> {
    let mut data = vec![0u8; 165];
    data[..32].copy_from_slice(&mint.0);
    data[32..64].copy_from_slice(&owner.0);
    data[64..72].copy_from_slice(&amount.to_le_bytes());
    data[108] = 1; // initialized
    data
}

pub fn amount_of(svm: &LiteSVM, account: &Pubkey) -> u64 {
    let data = svm.get_account(&address(account)).unwrap().data;
    u64::from_le_bytes(data[64..72].try_into().unwrap())
}

pub fn set(svm: &mut LiteSVM, key: &Pubkey, data: Vec<u8>, owner: &Pubkey) {
    svm.set_account(
        address(key),
        Account {
            lamports: 10_000_000,
            data,
            owner: address(owner),
            executable: false,
            rent_epoch: 0,
        },
    )
    .unwrap();
}
