//! The chain interface the facilitator uses, and its backends.
//!
//! [`EvmChain`] is the small set of node operations settlement needs: read-only calls, code,
//! balances, nonces, fees, sending a signed transaction and reading its receipt. Two backends
//! implement it:
//!
//! - [`RpcChain`]: JSON-RPC over http or https through the alloy provider, with a timeout on every
//!   request;
//! - [`Devnet`](crate::devnet::Devnet) (feature `devnet`): an in-process chain on revm that runs
//!   the real contract code, mines every transaction at once and has a clock a test can set.

#[cfg(feature = "rpc")]
mod rpc;
#[cfg(feature = "rpc")]
mod transport;

use std::fmt;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use t402_core::error::{BoxError, BoxFuture};

#[cfg(feature = "rpc")]
pub use rpc::{DEFAULT_RPC_TIMEOUT, RpcChain};

/// A read-only call (`eth_call`) or a gas estimate (`eth_estimateGas`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CallRequest {
    /// The sender (`msg.sender`); `None` lets the node pick.
    pub from: Option<Address>,
    /// The contract called.
    pub to: Address,
    /// The calldata.
    pub data: Bytes,
}

impl CallRequest {
    /// A call of `to` with `data`.
    pub fn new(to: Address, data: impl Into<Bytes>) -> Self {
        Self {
            from: None,
            to,
            data: data.into(),
        }
    }

    /// A call of the typed function `call` on `to`.
    pub fn typed<C: SolCall>(to: Address, call: &C) -> Self {
        Self::new(to, call.abi_encode())
    }

    /// Sets the sender.
    #[must_use]
    pub fn from(mut self, from: Address) -> Self {
        self.from = Some(from);
        self
    }
}

/// Fees for an EIP-1559 transaction, in wei per gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

impl Fees {
    /// EIP-1559 fees, in wei per gas.
    pub fn new(max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> Self {
        Self {
            max_fee_per_gas,
            max_priority_fee_per_gas,
        }
    }
}

/// A mined transaction's receipt: what settlement needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxReceipt {
    /// The transaction hash.
    pub transaction_hash: B256,
    /// Whether execution succeeded (status 1).
    pub success: bool,
    /// The block it was mined in.
    pub block_number: u64,
    /// Gas used.
    pub gas_used: u64,
    /// The sender.
    pub from: Address,
    /// The called contract (`None` for a deployment).
    pub to: Option<Address>,
    /// The deployed contract, for a deployment.
    pub contract_address: Option<Address>,
}

/// What a chain operation failed with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The call or the gas estimate reverted.
    #[error("execution reverted: {message}")]
    Reverted {
        /// The revert data (an `Error(string)` or a custom error), empty when the node gave none.
        data: Bytes,
        /// The decoded `Error(string)` reason, or the node's message.
        message: String,
    },
    /// The node refused a transaction (nonce too low, fees, funds for gas, ...).
    #[error("transaction refused: {message}")]
    Rejected {
        /// The node's message.
        message: String,
    },
    /// The node answered with an error that is not a revert.
    #[error("node error {code}: {message}")]
    Node {
        /// The JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// The node could not be reached or its answer could not be read.
    #[error("chain transport failed: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The node did not answer within the configured time.
    #[error("the node did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The node serves another chain than the one configured.
    #[error("the node serves chain {actual}, expected {expected}")]
    WrongChain {
        /// The configured chain id.
        expected: u64,
        /// The node's chain id.
        actual: u64,
    },
}

impl ChainError {
    /// The revert reason text when this is a revert.
    pub fn revert_message(&self) -> Option<&str> {
        match self {
            Self::Reverted { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// Decodes revert data: `Error(string)` gives its text, `Panic(uint256)` its code, anything else
/// the hex of the data.
pub fn decode_revert(data: &[u8]) -> String {
    use alloy_sol_types::{Panic, Revert, SolError};
    if let Ok(revert) = Revert::abi_decode(data) {
        return revert.reason;
    }
    if let Ok(panic) = Panic::abi_decode(data) {
        return format!("panic {}", panic.code);
    }
    if let Some(name) = known_error(data) {
        return name;
    }
    if data.is_empty() {
        "reverted without data".into()
    } else {
        format!(
            "reverted with data 0x{}",
            alloy_primitives::hex::encode(data)
        )
    }
}

/// The name of a custom error of Permit2 or the x402 proxies (`InvalidNonce()`), which the
/// settlement maps to a reason.
fn known_error(data: &[u8]) -> Option<String> {
    use crate::contracts::{IPermit2, IPermit2ProxyErrors};
    use alloy_sol_types::SolInterface;
    if let Ok(error) = IPermit2::IPermit2Errors::abi_decode(data) {
        return Some(format!("{error:?}"));
    }
    IPermit2ProxyErrors::IPermit2ProxyErrorsErrors::abi_decode(data)
        .ok()
        .map(|error| format!("{error:?}"))
}

/// The node operations the facilitator needs. Implementations are cheap to share (`Arc`).
pub trait EvmChain: Send + Sync + fmt::Debug {
    /// The chain id the backend serves.
    fn chain_id(&self) -> u64;

    /// `eth_call` at the latest block.
    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>>;

    /// `eth_estimateGas`; a revert is [`ChainError::Reverted`].
    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>>;

    /// The code at `address` (empty for an account without code).
    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>>;

    /// The native balance of `address`, in wei.
    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>>;

    /// The next nonce of `address`, counting pending transactions.
    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>>;

    /// Current EIP-1559 fees.
    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>>;

    /// Submits a signed EIP-2718 transaction; returns its hash.
    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>>;

    /// The receipt of a transaction, `None` while it is not mined.
    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>>;
}

impl<C: EvmChain + ?Sized> EvmChain for std::sync::Arc<C> {
    fn chain_id(&self) -> u64 {
        (**self).chain_id()
    }
    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        (**self).call(call)
    }
    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>> {
        (**self).estimate_gas(call)
    }
    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        (**self).code(address)
    }
    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>> {
        (**self).balance(address)
    }
    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>> {
        (**self).nonce(address)
    }
    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>> {
        (**self).fees()
    }
    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>> {
        (**self).send_raw_transaction(raw)
    }
    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>> {
        (**self).receipt(hash)
    }
}

/// Typed read-only calls on any chain.
pub async fn call_typed<C: SolCall>(
    chain: &(impl EvmChain + ?Sized),
    to: Address,
    call: &C,
) -> Result<C::Return, ChainError> {
    let output = chain.call(CallRequest::typed(to, call)).await?;
    C::abi_decode_returns(&output).map_err(|err| ChainError::Transport {
        message: format!("undecodable answer of {}: {err}", C::SIGNATURE),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::{Revert, SolError};

    #[test]
    fn custom_errors_of_permit2_and_the_proxies_are_named() {
        use alloy_sol_types::SolError;
        let nonce = crate::contracts::IPermit2::InvalidNonce {}.abi_encode();
        assert!(
            decode_revert(&nonce).contains("InvalidNonce"),
            "{}",
            decode_revert(&nonce)
        );
        let expired = crate::contracts::IPermit2::SignatureExpired {
            signatureDeadline: U256::from(9u8),
        }
        .abi_encode();
        assert!(decode_revert(&expired).contains("SignatureExpired"));
        let early = crate::contracts::IPermit2ProxyErrors::PaymentTooEarly {}.abi_encode();
        assert!(decode_revert(&early).contains("PaymentTooEarly"));
    }

    #[test]
    fn revert_data_decodes_to_its_reason() {
        let data = Revert::from("FiatTokenV2: authorization is expired").abi_encode();
        assert_eq!(
            decode_revert(&data),
            "FiatTokenV2: authorization is expired"
        );
        assert_eq!(decode_revert(&[]), "reverted without data");
        assert_eq!(decode_revert(&[0xde, 0xad]), "reverted with data 0xdead");
    }
}
