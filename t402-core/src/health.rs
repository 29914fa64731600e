//! How a facilitator's chains are doing: each node answers, and what each signer holds of the
//! chain's native token (to pay gas or fees). Served by the facilitator service's `/health` and
//! its metrics.

use serde::Serialize;

use crate::amount::Amount;

/// One chain a facilitator serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChainHealth {
    /// The network (CAIP-2).
    pub network: String,
    /// Why the node could not be used; `None` when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The signers (fee payers) and their native balances.
    pub signers: Vec<SignerFunds>,
}

impl ChainHealth {
    /// A chain whose node answered, with its signers' funds.
    pub fn up(network: impl Into<String>, signers: Vec<SignerFunds>) -> Self {
        Self {
            network: network.into(),
            error: None,
            signers,
        }
    }

    /// A chain whose node could not be used.
    pub fn down(network: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            network: network.into(),
            error: Some(error.into()),
            signers: Vec::new(),
        }
    }

    /// Whether the node answered.
    pub fn is_up(&self) -> bool {
        self.error.is_none()
    }
}

/// What a signer holds of the chain's native token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SignerFunds {
    /// The signer's address.
    pub address: String,
    /// The balance in atomic units (wei, lamports).
    pub balance: Amount,
    /// The native token's decimals (18 for ETH, 9 for SOL).
    pub decimals: u8,
}

impl SignerFunds {
    /// `balance` atomic units held by `address`, of a token with `decimals`.
    pub fn new(address: impl Into<String>, balance: Amount, decimals: u8) -> Self {
        Self {
            address: address.into(),
            balance,
            decimals,
        }
    }

    /// The balance in whole tokens, as a float (for metrics).
    pub fn in_tokens(&self) -> f64 {
        self.balance
            .format_units(self.decimals)
            .parse()
            .unwrap_or(f64::NAN)
    }
}
