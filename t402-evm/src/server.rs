//! The selling side: prices in money become amounts of the network's default EIP-3009 token.

use t402_core::asset::{TransferMethod, default_asset};
use t402_core::{
    AssetAmount, MechanismError, Network, PaymentRequirements, Price, PriceError, ServerMechanism,
    SupportedKind,
};

use crate::permit2::{EIP2612_GAS_SPONSORING, ERC20_APPROVAL_GAS_SPONSORING};
use crate::verify::EXACT;
use t402_core::JsonObject;

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
                .filter(|asset| {
                    network.is_evm()
                        && matches!(
                            asset.transfer,
                            TransferMethod::Eip3009 | TransferMethod::Permit2 { .. }
                        )
                })
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

    /// Permit2 offers declare the gas sponsoring the facilitator settles, as the reference's
    /// `declareEip2612GasSponsoringExtension` / `declareErc20ApprovalGasSponsoringExtension` do.
    fn extension_declarations(
        &self,
        requirements: &PaymentRequirements,
        facilitator_extensions: &[String],
    ) -> Option<JsonObject> {
        if requirements.extra_str("assetTransferMethod") != Some("permit2") {
            return None;
        }
        let mut declared = JsonObject::new();
        for (key, description) in [
            (
                EIP2612_GAS_SPONSORING,
                "The facilitator accepts EIP-2612 gasless Permit to `Permit2` canonical contract.",
            ),
            (
                ERC20_APPROVAL_GAS_SPONSORING,
                "The facilitator broadcasts a pre-signed ERC-20 approve() transaction to grant \
                 Permit2 allowance.",
            ),
        ] {
            if facilitator_extensions.iter().any(|k| k == key) {
                declared.insert(
                    key.to_owned(),
                    serde_json::json!({"info": {"description": description, "version": "1"}}),
                );
            }
        }
        (!declared.is_empty()).then_some(declared)
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
        // A Permit2 token is priced with its transfer method; an unknown chain has no default.
        let permit2 = ExactEvmServer
            .parse_price(&Price::money("1").unwrap(), &Network::eip155(4326))
            .unwrap();
        assert_eq!(permit2.extra.unwrap()["assetTransferMethod"], "permit2");
        assert!(matches!(
            ExactEvmServer.parse_price(&Price::money("1").unwrap(), &Network::eip155(31337)),
            Err(PriceError::NoDefaultAsset(_))
        ));
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
