//! The selling side on Solana: money prices in the network's default USDC, and requirements
//! completed with the facilitator's fee payer.

use t402_core::asset::default_asset;
use t402_core::mechanism::{MechanismError, ServerMechanism};
use t402_core::wire::SupportedKind;
use t402_core::{AssetAmount, Network, PaymentRequirements, Price, PriceError, Reason};

use crate::verify::EXACT;

/// Scheme `exact` on Solana, server side.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactSvmServer;

impl ServerMechanism for ExactSvmServer {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn payment_id(
        &self,
        payment: &t402_core::PaymentPayload,
        requirements: &t402_core::PaymentRequirements,
    ) -> Option<t402_core::PaymentId> {
        crate::verify::payment_id_of(&payment.payload, requirements)
    }

    fn parse_price(&self, price: &Price, network: &Network) -> Result<AssetAmount, PriceError> {
        match price {
            Price::Asset(amount) => Ok(amount.clone()),
            Price::Money(money) => default_asset(network)
                .filter(|_| network.is_solana())
                .ok_or_else(|| PriceError::NoDefaultAsset(network.to_string()))?
                .amount_of(money),
            _ => Err(PriceError::NoDefaultAsset(network.to_string())),
        }
    }

    /// Copies the facilitator's `feePayer` (from its `/supported` kind) into `extra`.
    fn enhance_requirements(
        &self,
        mut requirements: PaymentRequirements,
        kind: &SupportedKind,
        _facilitator_extensions: &[String],
    ) -> Result<PaymentRequirements, MechanismError> {
        let fee_payer = kind
            .extra
            .as_ref()
            .and_then(|extra| extra.get("feePayer"))
            .cloned()
            .ok_or_else(|| MechanismError::InvalidRequirements {
                reason: Reason::InvalidExactSvmPayloadMissingFeePayer,
                message: format!(
                    "the facilitator's kind for {} names no feePayer",
                    requirements.network
                ),
            })?;
        requirements.set_extra_field("feePayer", fee_payer);
        Ok(requirements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use t402_core::{Amount, Money};

    #[test]
    fn money_is_solana_usdc() {
        let mainnet: Network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".parse().unwrap();
        let amount = ExactSvmServer
            .parse_price(&Price::Money(Money::parse("0.01").unwrap()), &mainnet)
            .unwrap();
        assert_eq!(amount.asset, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
        assert_eq!(amount.amount, Amount::from(10_000u64));
        assert!(matches!(
            ExactSvmServer.parse_price(&Price::money("1").unwrap(), &Network::eip155(8453)),
            Err(PriceError::NoDefaultAsset(_))
        ));
    }
}
