//! Facilitator clients: over HTTP ([`HttpFacilitator`]), in-process (any
//! [`Facilitator`](t402_core::Facilitator), such as [`t402_core::LocalFacilitator`]), and several
//! with precedence ([`Facilitators`]).

mod http;
mod router;

pub use http::{
    AuthHeaders, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SETTLE_TIMEOUT, Endpoint, HttpFacilitator,
    HttpFacilitatorError, RetryPolicy,
};
pub use router::{DEFAULT_SUPPORTED_TTL, Facilitators, OfferedKind};
