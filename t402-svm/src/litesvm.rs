//! [`LiteSvmRuntime`]: an in-process Solana runtime (litesvm, running the real SPL Token and
//! Token-2022 programs) behind [`SolanaRpc`], so a facilitator settles and a client pays with no
//! validator and no network — the Solana counterpart of t402-evm's devnet (feature `litesvm`).
//!
//! Transactions cross into litesvm as Solana's own types ([`to_solana`]); that the conversion
//! keeps every byte is tested against solana-message's encoder (`tests/litesvm_wire.rs`).

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use litesvm::LiteSVM;
use solana_account::Account;
use solana_address::Address;
use solana_message::compiled_instruction::CompiledInstruction;
use solana_message::{MessageHeader, VersionedMessage, v0};
use solana_transaction::versioned::VersionedTransaction;
use t402_core::error::BoxFuture;

use crate::pubkey::{Pubkey, associated_token_address};
use crate::rpc::{AccountInfo, RpcError, SolanaRpc};
use crate::wire::{MessageV0, Transaction};

/// Lamports every account the runtime creates holds (rent-exempt for a token account).
const ACCOUNT_LAMPORTS: u64 = 10_000_000;

/// An in-process Solana runtime. Each transaction is executed as it is sent; the latest
/// blockhash is the only valid one ([`expire_blockhash`](Self::expire_blockhash) moves it).
pub struct LiteSvmRuntime {
    svm: Mutex<LiteSVM>,
    /// The ids of the transactions executed, so their status can be asked and a transaction
    /// sent again is accepted under its id, as a node does.
    executed: Mutex<HashSet<String>>,
}

impl fmt::Debug for LiteSvmRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteSvmRuntime").finish_non_exhaustive()
    }
}

impl Default for LiteSvmRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl LiteSvmRuntime {
    /// A fresh runtime with the SPL programs loaded.
    pub fn new() -> Self {
        Self {
            svm: Mutex::new(LiteSVM::new()),
            executed: Mutex::default(),
        }
    }

    /// The litesvm instance, for what this type does not wrap.
    pub fn svm(&self) -> MutexGuard<'_, LiteSVM> {
        self.svm.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn executed(&self) -> MutexGuard<'_, HashSet<String>> {
        self.executed
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Gives `key` `lamports` (a fee payer needs some).
    pub fn airdrop(&self, key: &Pubkey, lamports: u64) -> Result<(), RpcError> {
        self.svm()
            .airdrop(&address(key), lamports)
            .map(|_| ())
            .map_err(|failed| RpcError::Node(format!("{:?}", failed.err)))
    }

    /// Creates an initialized SPL mint at `mint` owned by `token_program` (Token or
    /// Token-2022), with `decimals`.
    pub fn create_mint(&self, mint: &Pubkey, decimals: u8, token_program: &Pubkey) {
        let mut data = vec![0u8; 82];
        data[36..44].copy_from_slice(&u64::MAX.to_le_bytes()); // supply
        data[44] = decimals;
        data[45] = 1; // initialized
        self.set_account(mint, data, token_program);
    }

    /// Creates `owner`'s associated token account for `mint` holding `amount`; returns its
    /// address.
    pub fn create_token_account(
        &self,
        owner: &Pubkey,
        mint: &Pubkey,
        amount: u64,
        token_program: &Pubkey,
    ) -> Pubkey {
        let account = associated_token_address(owner, mint, token_program);
        let mut data = vec![0u8; 165];
        data[..32].copy_from_slice(&mint.0);
        data[32..64].copy_from_slice(&owner.0);
        data[64..72].copy_from_slice(&amount.to_le_bytes());
        data[108] = 1; // initialized
        self.set_account(&account, data, token_program);
        account
    }

    fn set_account(&self, key: &Pubkey, data: Vec<u8>, owner: &Pubkey) {
        let account = Account {
            lamports: ACCOUNT_LAMPORTS,
            data,
            owner: address(owner),
            executable: false,
            rent_epoch: 0,
        };
        // Only a read-only or executable target refuses an account: neither is made here.
        let _ = self.svm().set_account(address(key), account);
    }

    /// The token amount a token account holds; `None` when it does not exist.
    pub fn token_amount(&self, account: &Pubkey) -> Option<u64> {
        let data = self.svm().get_account(&address(account))?.data;
        Some(u64::from_le_bytes(data.get(64..72)?.try_into().ok()?))
    }

    /// Moves to a new blockhash: transactions signed over the old one can no longer land.
    pub fn expire_blockhash(&self) {
        self.svm().expire_blockhash();
    }
}

/// A key as Solana's own type.
pub fn address(key: &Pubkey) -> Address {
    Address::new_from_array(key.0)
}

/// The same message in solana-message's types.
pub fn message_to_solana(message: &MessageV0) -> v0::Message {
    v0::Message {
        header: MessageHeader {
            num_required_signatures: message.header.num_required_signatures,
            num_readonly_signed_accounts: message.header.num_readonly_signed_accounts,
            num_readonly_unsigned_accounts: message.header.num_readonly_unsigned_accounts,
        },
        account_keys: message.account_keys.iter().map(address).collect(),
        recent_blockhash: solana_hash::Hash::new_from_array(message.recent_blockhash),
        instructions: message
            .instructions
            .iter()
            .map(|instruction| CompiledInstruction {
                program_id_index: instruction.program_id_index,
                accounts: instruction.accounts.clone(),
                data: instruction.data.clone(),
            })
            .collect(),
        address_table_lookups: vec![],
    }
}

/// The same transaction in Solana's own types.
pub fn to_solana(transaction: &Transaction) -> VersionedTransaction {
    VersionedTransaction {
        signatures: transaction
            .signatures
            .iter()
            .map(|signature| solana_signature::Signature::from(*signature))
            .collect(),
        message: VersionedMessage::V0(message_to_solana(&transaction.message)),
    }
}

impl SolanaRpc for LiteSvmRuntime {
    fn latest_blockhash(&self) -> BoxFuture<'_, Result<[u8; 32], RpcError>> {
        let hash = self.svm().latest_blockhash().to_bytes();
        Box::pin(async move { Ok(hash) })
    }

    fn account(&self, key: Pubkey) -> BoxFuture<'_, Result<Option<AccountInfo>, RpcError>> {
        let account = self.svm().get_account(&address(&key)).map(|account| {
            AccountInfo::new(
                Pubkey(account.owner.to_bytes()),
                account.data,
                account.lamports,
            )
        });
        Box::pin(async move { Ok(account) })
    }

    fn simulate(
        &self,
        transaction: Vec<u8>,
    ) -> BoxFuture<'_, Result<Result<(), String>, RpcError>> {
        let outcome = Transaction::deserialize(&transaction)
            .map_err(|err| err.to_string())
            .and_then(|tx| {
                self.svm()
                    .simulate_transaction(to_solana(&tx))
                    .map(|_| ())
                    .map_err(|failed| format!("{:?}", failed.err))
            });
        Box::pin(async move { Ok(outcome) })
    }

    fn send(&self, transaction: Vec<u8>) -> BoxFuture<'_, Result<String, RpcError>> {
        let outcome = Transaction::deserialize(&transaction)
            .map_err(|err| RpcError::Node(err.to_string()))
            .and_then(|tx| {
                let id = tx.id();
                // As a node sending without preflight: a transaction it already has is
                // accepted again under its id.
                if self.executed().contains(&id) {
                    return Ok(id);
                }
                self.svm()
                    .send_transaction(to_solana(&tx))
                    .map_err(|failed| RpcError::Node(format!("{:?}", failed.err)))?;
                self.executed().insert(id.clone());
                Ok(id)
            });
        Box::pin(async move { outcome })
    }

    fn status(
        &self,
        signature: String,
    ) -> BoxFuture<'_, Result<Option<Result<(), String>>, RpcError>> {
        let known = self.executed().contains(&signature);
        Box::pin(async move { Ok(known.then_some(Ok(()))) })
    }

    fn blockhash_valid(
        &self,
        blockhash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<bool>, RpcError>> {
        let latest = self.svm().latest_blockhash().to_bytes();
        Box::pin(async move { Ok(Some(blockhash == latest)) })
    }
}
