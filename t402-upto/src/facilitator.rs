//! The facilitator side of `upto`: verification and settlement on the chain and with the keys of
//! a [`ExactEvmFacilitator`], so `exact` and `upto` share nonces, locks and records.

use std::sync::Arc;

use t402_core::error::BoxFuture;
use t402_core::mechanism::FacilitatorMechanism;
use t402_core::{
    FacilitatorError, JsonObject, Network, NetworkPattern, PaymentId, SendJournal, SettleRequest,
    SettleResponse, VerifyRequest, VerifyResponse,
};
use t402_evm::ExactEvmFacilitator;

use crate::{FACILITATOR_ADDRESS, UPTO};

/// Scheme `upto` on one EVM chain, served by an [`ExactEvmFacilitator`]'s chain and keys.
///
/// `/supported` names the first key as `extra.facilitatorAddress` (the reference picks one at
/// random; one stable address lets servers cache their requirements); a payment naming any key
/// of the facilitator is accepted, and its settlement is sent from that key (the proxy requires
/// `msg.sender == witness.facilitator`).
#[derive(Debug, Clone)]
pub struct UptoEvmFacilitator {
    evm: Arc<ExactEvmFacilitator>,
}

impl UptoEvmFacilitator {
    /// `upto` on `evm`'s chain with its keys.
    pub fn new(evm: Arc<ExactEvmFacilitator>) -> Self {
        Self { evm }
    }

    /// The EVM facilitator underneath.
    pub fn evm(&self) -> &Arc<ExactEvmFacilitator> {
        &self.evm
    }
}

impl FacilitatorMechanism for UptoEvmFacilitator {
    fn scheme(&self) -> &str {
        UPTO
    }

    fn family(&self) -> NetworkPattern {
        NetworkPattern::family_of(self.evm.network())
    }

    fn kind_extra(&self, _network: &Network) -> Option<JsonObject> {
        let mut extra = JsonObject::new();
        extra.insert(
            FACILITATOR_ADDRESS.into(),
            ExactEvmFacilitator::signers(&self.evm)
                .primary()
                .to_checksum(None)
                .into(),
        );
        Some(extra)
    }

    fn signers(&self, network: &Network) -> Vec<String> {
        FacilitatorMechanism::signers(self.evm.as_ref(), network)
    }

    fn extensions(&self) -> Vec<String> {
        FacilitatorMechanism::extensions(self.evm.as_ref())
    }

    fn payment_id(&self, request: &VerifyRequest) -> Option<PaymentId> {
        t402_evm::permit2::permit2_payment_id(
            UPTO,
            &request.payment_payload.payload,
            &request.payment_requirements,
        )
    }

    fn verify<'a>(
        &'a self,
        request: &'a VerifyRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(self.evm.verify_upto(request))
    }

    fn settle<'a>(
        &'a self,
        request: &'a SettleRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async move {
            Ok(self
                .evm
                .settle_upto_journaled(request, SendJournal::none())
                .await)
        })
    }

    fn settle_journaled<'a>(
        &'a self,
        request: &'a SettleRequest,
        journal: SendJournal<'a>,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async move { Ok(self.evm.settle_upto_journaled(request, journal).await) })
    }

    fn follow<'a>(
        &'a self,
        request: &'a SettleRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        Box::pin(self.evm.follow_transaction(request, transaction))
    }

    fn health<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, t402_core::health::ChainHealth> {
        FacilitatorMechanism::health(self.evm.as_ref(), network)
    }
}
