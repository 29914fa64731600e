//! The selling side: prices in money become amounts of the network's default EIP-3009 token.

use t402_core::asset::{TransferMethod, default_asset};
use t402_core::{
    AssetAmount, MechanismError, Network, PaymentRequirements, Price, PriceError, ServerMechanism,
    SupportedKind,
};

use crate::verify::EXACT;

/// Server mechanism for scheme `exact` on EVM chains.
///
/// Money prices (`"$0.01"`) are converted with the network's default stablecoin when it moves by
/// EIP-3009, filling `extra` with its EIP-712 `name` and `version`; explicit asset amounts pass
/// through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactEvmServer;

impl ServerMechanism for ExactEvmServer {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn payment_id(
        &self,
        payment: &t402_core::PaymentPayload,
        requirements: &t402_core::PaymentRequirements,
    ) -> Option<t402_core::PaymentId> {
        crate::payload::payment_id_of(&payment.payload, requirements)
    }

    fn parse_price(&self, price: &Price, network: &Network) -> Result<AssetAmount, PriceError> {
        match price {
            Price::Asset(amount) => Ok(amount.clone()),
            Price::Money(money) => default_asset(network)
                .filter(|asset| network.is_evm() && asset.transfer == TransferMethod::Eip3009)
                .ok_or_else(|| PriceError::NoDefaultAsset(network.to_string()))?
                .amount_of(money),
            _ => Err(PriceError::NoDefaultAsset(network.to_string())),
        }
    }

    fn enhance_requirements(
        &self,
        requirements: PaymentRequirements,
        _kind: &SupportedKind,
        _facilitator_extensions: &[String],
    ) -> Result<PaymentRequirements, MechanismError> {
        Ok(requirements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use t402_core::{Amount, Money};

    #[test]
    fn money_uses_the_default_token() {
        let base = Network::eip155(8453);
        let amount = ExactEvmServer
            .parse_price(&Price::Money(Money::parse("$0.25").unwrap()), &base)
            .unwrap();
        assert_eq!(amount.asset, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
        assert_eq!(amount.amount, Amount::from(250_000u64));
        assert_eq!(amount.extra.unwrap()["name"], "USD Coin");
        // A Permit2-only token and an unknown chain have no EIP-3009 default.
        for network in [Network::eip155(4326), Network::eip155(31337)] {
            assert!(matches!(
                ExactEvmServer.parse_price(&Price::money("1").unwrap(), &network),
                Err(PriceError::NoDefaultAsset(_))
            ));
        }
        let explicit = Price::asset(
            "0x0000000000000000000000000000000000000001",
            Amount::from(7u64),
        );
        assert_eq!(
            ExactEvmServer.parse_price(&explicit, &base).unwrap().amount,
            Amount::from(7u64)
        );
    }
}
