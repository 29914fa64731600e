//! The Solana node operations the client and the facilitator need, as a small interface: a
//! JSON-RPC backend and test adapters implement it.

use std::fmt;

use t402_core::error::BoxFuture;

use crate::pubkey::Pubkey;

/// An account as the client needs it: its owner program and data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountInfo {
    /// The owning program.
    pub owner: Pubkey,
    /// The account data.
    pub data: Vec<u8>,
    /// Its balance in lamports.
    pub lamports: u64,
}

impl AccountInfo {
    /// An account owned by `owner` holding `data` and `lamports`.
    pub fn new(owner: Pubkey, data: Vec<u8>, lamports: u64) -> Self {
        Self {
            owner,
            data,
            lamports,
        }
    }
}

/// What a node call failed with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The node could not be reached or did not answer in time.
    #[error("node unavailable: {0}")]
    Unavailable(String),
    /// The node answered with an error.
    #[error("node error: {0}")]
    Node(String),
}

/// The node operations of the `exact` scheme on Solana.
pub trait SolanaRpc: Send + Sync + fmt::Debug {
    /// The latest blockhash.
    fn latest_blockhash(&self) -> BoxFuture<'_, Result<[u8; 32], RpcError>>;

    /// An account, `None` when it does not exist.
    fn account(&self, key: Pubkey) -> BoxFuture<'_, Result<Option<AccountInfo>, RpcError>>;

    /// Simulates a fully signed transaction (signatures verified, blockhash not replaced):
    /// `Ok(Err(why))` when it would fail.
    fn simulate(&self, transaction: Vec<u8>)
    -> BoxFuture<'_, Result<Result<(), String>, RpcError>>;

    /// Submits a fully signed transaction; returns its base58 signature.
    fn send(&self, transaction: Vec<u8>) -> BoxFuture<'_, Result<String, RpcError>>;

    /// The status of a submitted transaction: `None` while unknown, `Some(Ok(()))` once confirmed,
    /// `Some(Err(why))` when it failed.
    fn status(
        &self,
        signature: String,
    ) -> BoxFuture<'_, Result<Option<Result<(), String>>, RpcError>>;

    /// Whether a transaction with this recent blockhash can still land: `Some(false)` once the
    /// blockhash has expired, `None` when the node cannot tell (settlement then waits until its
    /// deadline and reports the transaction pending).
    fn blockhash_valid(
        &self,
        _blockhash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<bool>, RpcError>> {
        Box::pin(async { Ok(None) })
    }
}

/// The decimals of an SPL mint's data (Token and Token-2022 share the base layout).
pub fn mint_decimals(data: &[u8]) -> Option<u8> {
    (data.len() >= 82 && data[45] == 1).then(|| data[44])
}

impl<T: SolanaRpc + ?Sized> SolanaRpc for std::sync::Arc<T> {
    fn latest_blockhash(&self) -> BoxFuture<'_, Result<[u8; 32], RpcError>> {
        (**self).latest_blockhash()
    }

    fn account(&self, key: Pubkey) -> BoxFuture<'_, Result<Option<AccountInfo>, RpcError>> {
        (**self).account(key)
    }

    fn simulate(
        &self,
        transaction: Vec<u8>,
    ) -> BoxFuture<'_, Result<Result<(), String>, RpcError>> {
        (**self).simulate(transaction)
    }

    fn send(&self, transaction: Vec<u8>) -> BoxFuture<'_, Result<String, RpcError>> {
        (**self).send(transaction)
    }

    fn status(
        &self,
        signature: String,
    ) -> BoxFuture<'_, Result<Option<Result<(), String>>, RpcError>> {
        (**self).status(signature)
    }

    fn blockhash_valid(
        &self,
        blockhash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<bool>, RpcError>> {
        (**self).blockhash_valid(blockhash)
    }
}
