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

use crate::chain::{EvmChain, call_typed};
use crate::clock::{Clock, SystemClock};
use crate::contracts::IErc20;
use crate::eip3009::{Authorization, parse_address, token_domain};
use crate::payload::ExactEvmPayload;
use crate::permit2::{
    EIP2612_GAS_SPONSORING, ERC20_APPROVAL_GAS_SPONSORING, EXACT_PERMIT2_PROXY, Eip2612Permit,
    Erc20Approval, PERMIT2, Permit2Authorization, Permit2Payload, Witness, eip2612_digest,
};
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
    /// Where Permit2 payments read the payer's allowance and nonces (gas sponsoring).
    chain: Option<Arc<dyn EvmChain>>,
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
            chain: None,
        }
    }

    /// Reads the payer's Permit2 allowance, EIP-2612 nonce and account nonce from `chain` when
    /// paying over Permit2: with it, a payer without an allowance signs an EIP-2612 permit or an
    /// approval transaction when the server offers gas sponsoring, and gets a clear error (naming
    /// `t402 approve-permit2`) when it does not. Without it, Permit2 payloads are signed as they
    /// are and a missing allowance is the facilitator's `permit2_allowance_required`.
    #[must_use]
    pub fn with_chain(mut self, chain: impl EvmChain + 'static) -> Self {
        self.chain = Some(Arc::new(chain));
        self
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
        let signature = self
            .sign_digest(&authorization.signing_hash(domain))
            .await?;
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
        if let Some(method) = requirements
            .extra_str("assetTransferMethod")
            .filter(|m| *m != "eip3009")
        {
            return Err(invalid(
                Reason::UnsupportedPayloadType,
                format!("transfer method `{method}` is not EIP-3009"),
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

impl<S: Signer + Send + Sync + 'static> ExactEvmClient<S> {
    async fn sign_digest(
        &self,
        digest: &B256,
    ) -> Result<alloy_primitives::Signature, MechanismError> {
        match &self.fast {
            Some(fast) => Ok(fast.sign(digest)),
            None => self
                .signer
                .sign_hash(digest)
                .await
                .map_err(|err| MechanismError::Signing(Box::new(err))),
        }
    }

    /// The Permit2 authorization for `requirements` (protocol reference §5.6): a random 256-bit
    /// nonce, `validAfter = now − 600`, `deadline = now + maxTimeoutSeconds`, the exact proxy as
    /// spender.
    pub fn permit2_authorization_for(
        &self,
        requirements: &PaymentRequirements,
    ) -> Result<(Permit2Authorization, u64), MechanismError> {
        if requirements.scheme != EXACT {
            return Err(MechanismError::InvalidRequirements {
                reason: Reason::InvalidExactEvmScheme,
                message: format!("scheme `{}` is not `exact`", requirements.scheme),
            });
        }
        self.permit2_authorization(requirements, EXACT_PERMIT2_PROXY, None)
    }

    /// A Permit2 authorization for `requirements` with `spender` as the proxy and, for `upto`,
    /// the `facilitator` that may settle in the witness; with the chain id to sign it on.
    pub fn permit2_authorization(
        &self,
        requirements: &PaymentRequirements,
        spender: alloy_primitives::Address,
        facilitator: Option<alloy_primitives::Address>,
    ) -> Result<(Permit2Authorization, u64), MechanismError> {
        let invalid = |reason: Reason, message: String| MechanismError::InvalidRequirements {
            reason,
            message,
        };
        let chain_id = requirements
            .network
            .eip155_chain_id()
            .ok_or_else(|| MechanismError::UnsupportedNetwork(requirements.network.clone()))?;
        let token = parse_address("asset", &requirements.asset)
            .map_err(|err| invalid(Reason::InvalidPaymentRequirements, err.to_string()))?;
        let to = parse_address("payTo", &requirements.pay_to)
            .map_err(|err| invalid(Reason::InvalidPaymentRequirements, err.to_string()))?;
        let now = self.clock.now();
        let valid_after = U256::from(now.saturating_sub(VALID_AFTER_SKEW_SECS));
        let authorization = Permit2Authorization {
            from: self.signer.address(),
            token,
            amount: requirements.amount.as_u256(),
            spender,
            nonce: U256::from_be_bytes(B256::random().0),
            deadline: U256::from(now.saturating_add(requirements.max_timeout_seconds)),
            witness: match facilitator {
                Some(facilitator) => Witness::upto(to, facilitator, valid_after),
                None => Witness::exact(to, valid_after),
            },
        };
        Ok((authorization, chain_id))
    }

    /// Signs a Permit2 authorization on `chain_id`.
    pub async fn sign_permit2(
        &self,
        authorization: Permit2Authorization,
        chain_id: u64,
    ) -> Result<Permit2Payload, MechanismError> {
        let signature = self
            .sign_digest(&authorization.signing_hash(chain_id))
            .await?;
        Ok(Permit2Payload::new(
            Bytes::copy_from_slice(&signature.as_bytes()),
            authorization,
        ))
    }

    async fn permit2_payment(
        &self,
        requirements: &PaymentRequirements,
        server_extensions: Option<&JsonObject>,
    ) -> Result<SchemePayload, MechanismError> {
        let (authorization, chain_id) = self.permit2_authorization_for(requirements)?;
        self.pay_permit2(authorization, chain_id, requirements, server_extensions)
            .await
    }

    /// Signs `authorization` and, with a chain to read (see [`with_chain`](Self::with_chain))
    /// and an allowance to Permit2 short of the amount, adds the gas sponsoring the server
    /// declares in `server_extensions` (EIP-2612 first, then the approval transaction), else
    /// fails with `permit2_allowance_required`. Shared by `exact` and `upto`.
    pub async fn pay_permit2(
        &self,
        authorization: Permit2Authorization,
        chain_id: u64,
        requirements: &PaymentRequirements,
        server_extensions: Option<&JsonObject>,
    ) -> Result<SchemePayload, MechanismError> {
        let payload = self.sign_permit2(authorization, chain_id).await?;
        let mut signed = SchemePayload::new(payload.to_object());
        let Some(chain) = &self.chain else {
            return Ok(signed);
        };
        let payer = authorization.from;
        let token = authorization.token;
        let allowance = call_typed(
            chain.as_ref(),
            token,
            &IErc20::allowanceCall {
                owner: payer,
                spender: PERMIT2,
            },
        )
        .await
        .map_err(chain_error)?;
        if allowance >= authorization.amount {
            return Ok(signed);
        }
        let offered = |key: &str| server_extensions.is_some_and(|e| e.contains_key(key));
        let domain = (
            requirements.extra_str("name"),
            requirements.extra_str("version"),
        );
        if offered(EIP2612_GAS_SPONSORING)
            && let (Some(name), Some(version)) = domain
        {
            let nonce = call_typed(chain.as_ref(), token, &IErc20::noncesCall { owner: payer })
                .await
                .map_err(chain_error)?;
            let digest = eip2612_digest(
                name,
                version,
                chain_id,
                token,
                payer,
                PERMIT2,
                authorization.amount,
                nonce,
                authorization.deadline,
            );
            let signature = self.sign_digest(&digest).await?;
            let permit = Eip2612Permit {
                from: payer,
                asset: token,
                spender: PERMIT2,
                amount: authorization.amount,
                nonce,
                deadline: authorization.deadline,
                signature: Bytes::copy_from_slice(&signature.as_bytes()),
            };
            signed.extensions = Some(permit.to_extensions());
            return Ok(signed);
        }
        if offered(ERC20_APPROVAL_GAS_SPONSORING) {
            let approval = self.sign_approval(chain.as_ref(), token).await?;
            signed.extensions = Some(approval.to_extensions());
            return Ok(signed);
        }
        Err(MechanismError::InvalidRequirements {
            reason: Reason::Permit2AllowanceRequired,
            message: format!(
                "{payer} has not approved Permit2 for {token} and the server offers no gas                  sponsoring: run `t402 approve-permit2 {} {token}` once",
                requirements.network
            ),
        })
    }

    /// Signs, and does not send, `approve(Permit2, max)` on `token` as an EIP-1559 transaction
    /// (70,000 gas, the chain's fees): what `erc20ApprovalGasSponsoring` carries.
    pub async fn sign_approval(
        &self,
        chain: &dyn EvmChain,
        token: alloy_primitives::Address,
    ) -> Result<Erc20Approval, MechanismError> {
        use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
        use alloy_eips::eip2718::Encodable2718;
        use alloy_sol_types::SolCall;
        let payer = self.signer.address();
        let nonce = chain.nonce(payer).await.map_err(chain_error)?;
        let fees = chain.fees().await.map_err(chain_error)?;
        let tx = TxEip1559 {
            chain_id: chain.chain_id(),
            nonce,
            gas_limit: APPROVAL_GAS_LIMIT,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to: alloy_primitives::TxKind::Call(token),
            value: U256::ZERO,
            access_list: Default::default(),
            input: IErc20::approveCall {
                spender: PERMIT2,
                value: U256::MAX,
            }
            .abi_encode()
            .into(),
        };
        let signature = self.sign_digest(&tx.signature_hash()).await?;
        let raw: Bytes = TxEnvelope::Eip1559(tx.clone().into_signed(signature))
            .encoded_2718()
            .into();
        Ok(Erc20Approval {
            from: payer,
            asset: token,
            amount: U256::MAX,
            signed_transaction: raw,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.max_fee_per_gas,
            nonce,
        })
    }
}

/// A read of the chain failed while paying.
fn chain_error(err: crate::chain::ChainError) -> MechanismError {
    MechanismError::Chain(Box::new(err))
}

/// The gas limit of a signed approval (the reference client's).
pub const APPROVAL_GAS_LIMIT: u64 = 70_000;

impl<S: Signer + Send + Sync + 'static> ClientMechanism for ExactEvmClient<S> {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn create_payload<'a>(
        &'a self,
        _version: u32,
        requirements: &'a PaymentRequirements,
        extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>> {
        Box::pin(async move {
            if requirements.extra_str("assetTransferMethod") == Some("permit2") {
                return self.permit2_payment(requirements, extensions).await;
            }
            let (authorization, domain) = self.authorization_for(requirements)?;
            let payload = self.sign(authorization, &domain).await?;
            Ok(SchemePayload::new(payload.to_object()))
        })
    }
}
