//! Shared by the litesvm tests: the same keys, messages and transactions in Solana's own types,
//! and SPL account layouts.

#![allow(dead_code, unreachable_pub)]

use ed25519_dalek::SigningKey;
use litesvm::LiteSVM;
use solana_account::Account;
use solana_address::Address;
use solana_message::compiled_instruction::CompiledInstruction as TheirInstruction;
use solana_message::{MessageHeader as TheirHeader, VersionedMessage, v0};
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use t402_svm::pubkey::Pubkey;
use t402_svm::wire::{MessageV0, Transaction};

pub fn address(key: &Pubkey) -> Address {
    Address::new_from_array(key.0)
}

pub fn key_of(signing: &SigningKey) -> Pubkey {
    Pubkey(signing.verifying_key().to_bytes())
}

/// The same message in solana-message's types.
pub fn their_message(message: &MessageV0) -> v0::Message {
    v0::Message {
        header: TheirHeader {
            num_required_signatures: message.header.num_required_signatures,
            num_readonly_signed_accounts: message.header.num_readonly_signed_accounts,
            num_readonly_unsigned_accounts: message.header.num_readonly_unsigned_accounts,
        },
        account_keys: message.account_keys.iter().map(address).collect(),
        recent_blockhash: solana_hash::Hash::new_from_array(message.recent_blockhash),
        instructions: message
            .instructions
            .iter()
            .map(|i| TheirInstruction {
                program_id_index: i.program_id_index,
                accounts: i.accounts.clone(),
                data: i.data.clone(),
            })
            .collect(),
        address_table_lookups: vec![],
    }
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

/// The same transaction in Solana's own types.
pub fn theirs(transaction: &Transaction) -> VersionedTransaction {
    VersionedTransaction {
        signatures: transaction
            .signatures
            .iter()
            .map(|s| Signature::from(*s))
            .collect(),
        message: VersionedMessage::V0(their_message(&transaction.message)),
    }
}
