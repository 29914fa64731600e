//! Hooks around verification and settlement, and what the handler learns of the payment.

use http::{Method, Uri};
use t402_core::error::BoxFuture;
use t402_core::{
    Amount, Network, PaymentPayload, PaymentRequirements, Reason, SettleResponse, VerifyResponse,
};

/// One payment going through the layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaymentEvent {
    /// The request method.
    pub method: Method,
    /// The request URI.
    pub uri: Uri,
    /// The client's payment.
    pub payment: PaymentPayload,
    /// The route requirement it matched.
    pub requirements: PaymentRequirements,
}

/// A priced request answered with a challenge because it carried no payment.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ChallengeEvent<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request URI.
    pub uri: &'a Uri,
    /// The pattern of the priced route it matched.
    pub route: &'a str,
    /// The status answered: 402, or an error status when no challenge could be built (the
    /// facilitators are down, the configuration cannot be served).
    pub status: http::StatusCode,
}

/// What a before-hook decides.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookDecision {
    /// Go on.
    Continue,
    /// Stop: the payment is refused with this reason (402).
    Abort {
        /// The reason given to the client.
        reason: Reason,
        /// A human detail.
        message: String,
    },
}

/// How a payment failed, for [`PaymentHooks::on_failure`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PaymentFailure {
    /// The facilitator refused the payment.
    Refused(VerifyResponse),
    /// Settlement failed.
    SettlementFailed(SettleResponse),
    /// The facilitator could not be used.
    Facilitator {
        /// The reason.
        reason: Reason,
        /// What happened.
        message: String,
    },
    /// A before-hook aborted.
    Aborted {
        /// The hook's reason.
        reason: Reason,
    },
}

/// Hooks called by the payment layer. Every method has a default that does nothing.
pub trait PaymentHooks: Send + Sync + 'static {
    /// A priced request without payment was answered (normally 402 with the challenge). Called
    /// on the request's path: keep it cheap (count it, log it) and never block.
    fn on_challenge(&self, _event: &ChallengeEvent<'_>) {}

    /// Before the facilitator verifies; [`HookDecision::Abort`] refuses the payment.
    fn before_verify<'a>(&'a self, _event: &'a PaymentEvent) -> BoxFuture<'a, HookDecision> {
        Box::pin(async { HookDecision::Continue })
    }

    /// After a successful verification.
    fn after_verify<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        _response: &'a VerifyResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Before settlement; [`HookDecision::Abort`] refuses it (the handler's response is dropped).
    fn before_settle<'a>(&'a self, _event: &'a PaymentEvent) -> BoxFuture<'a, HookDecision> {
        Box::pin(async { HookDecision::Continue })
    }

    /// After a successful settlement.
    fn after_settle<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        _response: &'a SettleResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// After any failure of a presented payment.
    fn on_failure<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        _failure: &'a PaymentFailure,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl PaymentHooks for NoHooks {}

/// Put in the request's extensions once the payment is verified: the handler can read who paid
/// what.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedPayment {
    /// The payer the facilitator reported.
    pub payer: Option<String>,
    /// The amount authorized, in atomic units of `asset`.
    pub amount: Amount,
    /// The asset.
    pub asset: String,
    /// The network.
    pub network: Network,
    /// The scheme.
    pub scheme: String,
    /// The requirement the payment matched.
    pub requirements: PaymentRequirements,
}

/// Put in the response's extensions by a handler of an `upto` route: the amount actually used,
/// which is what gets settled (at most the authorized amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementAmount(pub Amount);
