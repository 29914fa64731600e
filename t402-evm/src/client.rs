//! The paying side: signs EIP-3009 authorizations with any alloy signer.

use std::fmt;
use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U256};
use alloy_signer::Signer;
use alloy_sol_types::Eip712Domain;
use t402_core::{
    BoxFuture, ClientMechanism, JsonObject, MechanismError, PaymentRequirements, Reason,
    SchemePayload,
};

use crate::clock::{Clock, SystemClock};
use crate::eip3009::{Authorization, parse_address, token_domain};
use crate::payload::ExactEvmPayload;
use crate::secp::FastKey;
use crate::verify::EXACT;

/// How far `validAfter` is set in the past, to allow for clock skew (the reference client's
/// value).
pub const VALID_AFTER_SKEW_SECS: u64 = 600;

/// Client mechanism for scheme `exact` on EVM chains: signs `TransferWithAuthorization` with any
/// [`alloy_signer::Signer`] (a local key, a hardware wallet, a remote signer).
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use alloy_signer_local::PrivateKeySigner;
/// use t402_core::ClientMechanism;
/// use t402_evm::ExactEvmClient;
///
/// let client = ExactEvmClient::new(PrivateKeySigner::random());
/// # let requirements: t402_core::PaymentRequirements = serde_json::from_str(r#"{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}"#)?;
/// let signed = client.create_payload(2, &requirements, None).await?;
/// assert!(signed.payload.contains_key("signature"));
/// # Ok(()) }
/// ```
pub struct ExactEvmClient<S> {
    signer: S,
    /// A local key's copy that signs through libsecp256k1 ([`crate::secp`]).
    fast: Option<FastKey>,
    clock: Arc<dyn Clock>,
}

impl<S: Signer> fmt::Debug for ExactEvmClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactEvmClient")
            .field("address", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl<S: Signer + Send + Sync + 'static> ExactEvmClient<S> {
    /// A client signing with `signer`, using the system clock.
    pub fn new(signer: S) -> Self {
        Self {
            fast: FastKey::of(&signer),
            signer,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses another clock (tests, devnets with a set time).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The paying address.
    pub fn address(&self) -> alloy_primitives::Address {
        self.signer.address()
    }

    /// Signs `authorization` under `domain`.
    pub async fn sign(
        &self,
        authorization: Authorization,
        domain: &Eip712Domain,
    ) -> Result<ExactEvmPayload, MechanismError> {
        let digest = authorization.signing_hash(domain);
        let signature = match &self.fast {
            Some(fast) => fast.sign(&digest),
            None => self
                .signer
                .sign_hash(&digest)
                .await
                .map_err(|err| MechanismError::Signing(Box::new(err)))?,
        };
        Ok(ExactEvmPayload::new(
            Bytes::copy_from_slice(&signature.as_bytes()),
            authorization,
        ))
    }

    /// The authorization and domain for `requirements`, with a fresh random nonce.
    pub fn authorization_for(
        &self,
        requirements: &PaymentRequirements,
    ) -> Result<(Authorization, Eip712Domain), MechanismError> {
        let invalid = |reason: Reason, message: String| MechanismError::InvalidRequirements {
            reason,
            message,
        };
        if requirements.scheme != EXACT {
            return Err(invalid(
                Reason::InvalidExactEvmScheme,
                format!("scheme `{}` is not `exact`", requirements.scheme),
            ));
        }
        if requirements
            .extra_str("assetTransferMethod")
            .is_some_and(|m| m != "eip3009")
        {
            return Err(invalid(
                Reason::UnsupportedPayloadType,
                "only the EIP-3009 transfer method is supported".into(),
            ));
        }
        let chain_id = requirements
            .network
            .eip155_chain_id()
            .ok_or_else(|| MechanismError::UnsupportedNetwork(requirements.network.clone()))?;
        let (Some(name), Some(version)) = (
            requirements.extra_str("name"),
            requirements.extra_str("version"),
        ) else {
            return Err(invalid(
                Reason::InvalidExactEvmMissingEip712Domain,
                format!(
                    "EIP-712 domain parameters (name, version) are required in payment requirements for asset {}",
                    requirements.asset
                ),
            ));
        };
        let token = parse_address("asset", &requirements.asset)
            .map_err(|err| invalid(Reason::InvalidPaymentRequirements, err.to_string()))?;
        let to = parse_address("payTo", &requirements.pay_to)
            .map_err(|err| invalid(Reason::InvalidPaymentRequirements, err.to_string()))?;
        let now = self.clock.now();
        let authorization = Authorization::new(
            self.signer.address(),
            to,
            requirements.amount.as_u256(),
            U256::from(now.saturating_sub(VALID_AFTER_SKEW_SECS)),
            U256::from(now.saturating_add(requirements.max_timeout_seconds)),
            B256::random(),
        );
        Ok((authorization, token_domain(name, version, chain_id, token)))
    }
}

impl<S: Signer + Send + Sync + 'static> ClientMechanism for ExactEvmClient<S> {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn create_payload<'a>(
        &'a self,
        _version: u32,
        requirements: &'a PaymentRequirements,
        _extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>> {
        Box::pin(async move {
            let (authorization, domain) = self.authorization_for(requirements)?;
            let payload = self.sign(authorization, &domain).await?;
            Ok(SchemePayload::new(payload.to_object()))
        })
    }
}
