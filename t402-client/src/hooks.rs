//! Hooks around a payment: approve it before signing (for example by asking a person), and see
//! its receipt after.

use t402_core::PaymentRequirements;
use t402_core::error::BoxFuture;

use crate::Receipt;

/// What a before-pay hook decides.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayDecision {
    /// Pay.
    Approve,
    /// Do not pay; the request fails with [`ClientError::Declined`](crate::ClientError).
    Decline(String),
}

/// Hooks of the paying client. Every method has a default that does nothing.
pub trait PayHooks: Send + Sync + 'static {
    /// Before a payment is signed for `url`.
    fn before_pay<'a>(
        &'a self,
        _offer: &'a PaymentRequirements,
        _url: &'a str,
    ) -> BoxFuture<'a, PayDecision> {
        Box::pin(async { PayDecision::Approve })
    }

    /// After the paid request came back (the receipt is `None` when the server sent none).
    fn after_pay<'a>(
        &'a self,
        _offer: &'a PaymentRequirements,
        _receipt: Option<&'a Receipt>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPayHooks;

impl PayHooks for NoPayHooks {}
