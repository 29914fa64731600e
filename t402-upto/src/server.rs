//! The selling side of `upto`: prices become ceilings over Permit2, completed with the address of
//! the facilitator that will settle.

use t402_core::{
    AssetAmount, JsonObject, MechanismError, Network, PaymentRequirements, Price, PriceError,
    Reason, ServerMechanism, SupportedKind,
};
use t402_evm::ExactEvmServer;

use crate::{FACILITATOR_ADDRESS, UPTO};

/// Server mechanism for scheme `upto` on EVM chains. Money prices use the network's default
/// stablecoin like `exact`; every offer moves by Permit2 (`assetTransferMethod: "permit2"`) and
/// names the facilitator's settling address from its `/supported` kind (`extra.facilitatorAddress`).
#[derive(Debug, Clone, Copy, Default)]
pub struct UptoEvmServer;

impl ServerMechanism for UptoEvmServer {
    fn scheme(&self) -> &str {
        UPTO
    }

    fn payment_id(
        &self,
        payment: &t402_core::PaymentPayload,
        requirements: &PaymentRequirements,
    ) -> Option<t402_core::PaymentId> {
        t402_evm::permit2::permit2_payment_id(UPTO, &payment.payload, requirements)
    }

    fn parse_price(&self, price: &Price, network: &Network) -> Result<AssetAmount, PriceError> {
        let amount = ExactEvmServer.parse_price(price, network)?;
        let mut extra = amount.extra.clone().unwrap_or_default();
        extra.insert("assetTransferMethod".into(), "permit2".into());
        Ok(amount.with_extra(extra))
    }

    fn enhance_requirements(
        &self,
        mut requirements: PaymentRequirements,
        kind: &SupportedKind,
        _facilitator_extensions: &[String],
    ) -> Result<PaymentRequirements, MechanismError> {
        let address = kind
            .extra
            .as_ref()
            .and_then(|extra| extra.get(FACILITATOR_ADDRESS))
            .cloned()
            .ok_or_else(|| MechanismError::InvalidRequirements {
                reason: Reason::InvalidPaymentRequirements,
                message: format!(
                    "the facilitator's upto kind on {} names no facilitatorAddress",
                    requirements.network
                ),
            })?;
        requirements.set_extra_field(FACILITATOR_ADDRESS, address);
        Ok(requirements)
    }

    fn extension_declarations(
        &self,
        requirements: &PaymentRequirements,
        facilitator_extensions: &[String],
    ) -> Option<JsonObject> {
        ExactEvmServer.extension_declarations(requirements, facilitator_extensions)
    }
}
