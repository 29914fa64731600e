//! What can go wrong when paying for a request.

use t402_core::{Reason, SettleResponse};

use crate::ledger::OverBudget;
use crate::policy::Refusal;

/// Why a paid request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The 402 carried no challenge the client could read.
    #[error("malformed challenge: {0}")]
    MalformedChallenge(String),
    /// No offer passed the registered mechanisms and the spending policy.
    #[error("no acceptable offer: {}", .refusals.iter().map(|r| format!("#{}: {}", r.index, r.reason)).collect::<Vec<_>>().join("; "))]
    NoAcceptableOffer {
        /// Why each offer was refused.
        refusals: Vec<Refusal>,
    },
    /// Paying would exceed the budget.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// A before-pay hook declined.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The signer could not sign.
    #[error("signing failed: {0}")]
    Signing(#[source] t402_core::MechanismError),
    /// The server refused the payment (verification failed); nothing was charged.
    #[error("payment refused by the server (HTTP {status}): {reason}")]
    PaymentRefused {
        /// The HTTP status (402, or 412 for `permit2_allowance_required`).
        status: u16,
        /// The server's reason.
        reason: Reason,
    },
    /// The server accepted the payment but settlement failed; nothing was charged.
    #[error("settlement failed: {}", .0.error_reason.as_ref().map(Reason::as_str).unwrap_or("no reason given"))]
    SettlementFailed(Box<SettleResponse>),
    /// The request already carried a payment: the client does not pay twice.
    #[error("the request already carried a payment header")]
    AlreadyAttempted,
    /// The request could not be built (URL, header, body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The request failed in transport.
    #[error("transport: {0}")]
    Transport(#[source] t402_core::BoxError),
    /// A response body was larger than the limit (bytes).
    #[error("the response body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl ClientError {
    /// The protocol reason of this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::MalformedChallenge(_) => Reason::T402MalformedChallenge,
            Self::NoAcceptableOffer { .. } | Self::Declined(_) => Reason::T402NoAcceptableOffer,
            Self::OverBudget(_) => Reason::T402OverBudget,
            Self::Signing(_) => Reason::T402SigningFailed,
            Self::PaymentRefused { reason, .. } => reason.clone(),
            Self::SettlementFailed(settled) => settled
                .error_reason
                .clone()
                .unwrap_or(Reason::T402PaymentRefused),
            Self::AlreadyAttempted => Reason::T402PaymentAlreadyAttempted,
            Self::InvalidRequest(_)
            | Self::Transport(_)
            | Self::Timeout(_)
            | Self::BodyTooLarge(_) => Reason::UnexpectedVerifyError,
        }
    }
}
