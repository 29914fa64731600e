//! The paying side of `upto`: a Permit2 authorization of the ceiling, through the `upto` proxy,
//! naming the facilitator that may settle.

use alloy_signer::Signer;
use t402_core::{
    BoxFuture, ClientMechanism, JsonObject, MechanismError, PaymentRequirements, Reason,
    SchemePayload,
};
use t402_evm::ExactEvmClient;
use t402_evm::chain::EvmChain;
use t402_evm::permit2::UPTO_PERMIT2_PROXY;

use crate::{FACILITATOR_ADDRESS, UPTO};

/// Client mechanism for scheme `upto` on EVM chains (protocol reference §7.2): signs a Permit2
/// `PermitWitnessTransferFrom` of `requirements.amount` (the ceiling) with the `upto` proxy as
/// spender and `Witness(to, facilitator, validAfter)`, the facilitator taken from
/// `extra.facilitatorAddress`.
pub struct UptoEvmClient<S> {
    inner: ExactEvmClient<S>,
}

impl<S: Signer> std::fmt::Debug for UptoEvmClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UptoEvmClient")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: Signer + Send + Sync + 'static> UptoEvmClient<S> {
    /// A client signing with `signer` on the system clock.
    pub fn new(signer: S) -> Self {
        Self {
            inner: ExactEvmClient::new(signer),
        }
    }

    /// Reads time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl t402_evm::Clock) -> Self {
        self.inner = self.inner.with_clock(clock);
        self
    }

    /// Reads the payer's allowance from `chain` for Permit2 gas sponsoring (see
    /// [`ExactEvmClient::with_chain`]).
    #[must_use]
    pub fn with_chain(mut self, chain: impl EvmChain + 'static) -> Self {
        self.inner = self.inner.with_chain(chain);
        self
    }

    /// The paying address.
    pub fn address(&self) -> alloy_primitives::Address {
        self.inner.address()
    }
}

impl<S: Signer + Send + Sync + 'static> ClientMechanism for UptoEvmClient<S> {
    fn scheme(&self) -> &str {
        UPTO
    }

    fn create_payload<'a>(
        &'a self,
        _version: u32,
        requirements: &'a PaymentRequirements,
        extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>> {
        Box::pin(async move {
            let invalid = |reason: Reason, message: String| MechanismError::InvalidRequirements {
                reason,
                message,
            };
            if requirements.scheme != UPTO {
                return Err(invalid(
                    Reason::InvalidUptoEvmScheme,
                    format!("scheme `{}` is not `upto`", requirements.scheme),
                ));
            }
            let facilitator = requirements
                .extra_str(FACILITATOR_ADDRESS)
                .ok_or_else(|| {
                    invalid(
                        Reason::InvalidPaymentRequirements,
                        "upto requirements must name extra.facilitatorAddress".into(),
                    )
                })?
                .parse()
                .map_err(|_| {
                    invalid(
                        Reason::InvalidPaymentRequirements,
                        "extra.facilitatorAddress is not an address".into(),
                    )
                })?;
            let (authorization, chain_id) = self.inner.permit2_authorization(
                requirements,
                UPTO_PERMIT2_PROXY,
                Some(facilitator),
            )?;
            self.inner
                .pay_permit2(authorization, chain_id, requirements, extensions)
                .await
        })
    }
}
