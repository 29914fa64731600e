//! The error and future types shared by every trait of t402-core: [`BoxError`], [`BoxFuture`]
//! and [`FacilitatorError`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::reason::Reason;

/// A boxed, sendable future, as returned by the mechanism, facilitator and store traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed error from a chain crate or transport, kept as the source of t402 errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a facilitator could not answer. A payment that fails its checks is not an error: it is an
/// `Ok` answer with `isValid: false` or `success: false`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FacilitatorError {
    /// The request is malformed beyond what a reason in the answer can express.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// The protocol reason.
        reason: Reason,
        /// What is wrong.
        message: String,
    },
    /// The facilitator (or the chain node behind it) could not be reached.
    #[error("facilitator unreachable: {0}")]
    Unavailable(#[source] BoxError),
    /// No answer in time.
    #[error("facilitator did not answer within {0:?}")]
    Timeout(Duration),
    /// A remote facilitator answered with an HTTP error and no protocol answer.
    #[error("facilitator answered HTTP {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The error text it gave.
        message: String,
    },
    /// A remote facilitator's answer could not be read.
    #[error("facilitator's answer is malformed: {0}")]
    MalformedResponse(String),
    /// A failure inside the facilitator (chain node error, signer error, ...).
    #[error("{reason}: {source}")]
    Internal {
        /// The protocol reason.
        reason: Reason,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl FacilitatorError {
    /// The protocol reason for this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidRequest { reason, .. } | Self::Internal { reason, .. } => reason.clone(),
            Self::Unavailable(_) | Self::Http { .. } | Self::MalformedResponse(_) => {
                Reason::T402FacilitatorUnavailable
            }
            Self::Timeout(_) => Reason::T402FacilitatorTimeout,
        }
    }
}
