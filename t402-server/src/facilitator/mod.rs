//! Facilitator clients: over HTTP (`HttpFacilitator`, feature `http-facilitator`), in-process (any
//! [`Facilitator`](t402_core::Facilitator), such as [`t402_core::LocalFacilitator`]), and several
//! with precedence ([`Facilitators`]); [`RecordedFacilitator`] makes settlement idempotent
//! through a settlement store.

#[cfg(feature = "http-facilitator")]
mod http;
mod precedence;
mod recorded;
#[cfg(feature = "http-facilitator")]
mod transport;

#[cfg(feature = "http-facilitator")]
pub use http::{
    AuthHeaders, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SETTLE_TIMEOUT, Endpoint, HttpFacilitator,
    HttpFacilitatorError, RetryPolicy,
};
pub use precedence::{DEFAULT_STALE_FOR, DEFAULT_SUPPORTED_TTL, Facilitators, OfferedKind};
pub(crate) use recorded::sent;
pub use recorded::{DEFAULT_SETTLEMENT_WAIT, PaymentIdOf, RecordedFacilitator};
