//! The checks of an EIP-3009 payment that need no chain, in the reference facilitator's order and
//! with its reason strings (protocol reference §5.3, steps 1 to 8).
//!
//! What is left for the chain is the simulation of `transferWithAuthorization` and, for contract
//! wallets, the signature itself (ERC-1271, or ERC-6492 for wallets not yet deployed).

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::Eip712Domain;
use t402_core::{Reason, VerifyRequest, VerifyResponse};

use crate::eip3009::{parse_address, token_domain};
use crate::error::PayloadError;
use crate::payload::ExactEvmPayload;
use crate::signature::{SignatureError, UnwrappedSignature, recover_eoa, unwrap_erc6492};

/// The scheme name.
pub const EXACT: &str = "exact";

/// `validBefore` must be at least this many seconds away (one block of slack).
pub const VALID_BEFORE_BUFFER_SECS: u64 = 6;

/// How the payer's signature was established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerCheck {
    /// A 65-byte ECDSA signature that recovers to `from`.
    Eoa,
    /// A contract-wallet signature (longer than 65 bytes, or not recovering to `from`): valid
    /// only if the wallet accepts it on chain (ERC-1271), after deployment when ERC-6492 data is
    /// present.
    SmartWallet(UnwrappedSignature),
}

/// A payment that passed every check that needs no chain.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OfflineVerification {
    /// The parsed payload.
    pub payload: ExactEvmPayload,
    /// The chain id from the network.
    pub chain_id: u64,
    /// The token contract.
    pub token: Address,
    /// The token's EIP-712 domain.
    pub domain: Eip712Domain,
    /// The digest the payer signed.
    pub digest: B256,
    /// How the signature was established.
    pub signer: SignerCheck,
}

impl OfflineVerification {
    /// The payer.
    pub fn payer(&self) -> Address {
        self.payload.authorization.from
    }
}

/// A failed check: the reason, a human message, and the payer when known.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The protocol reason.
    pub reason: Reason,
    /// What was wrong.
    pub message: String,
    /// The payer, once the payload has been read.
    pub payer: Option<Address>,
}

impl Rejection {
    /// A rejection for `reason`.
    pub fn new(reason: Reason, message: impl Into<String>, payer: Option<Address>) -> Self {
        Self {
            reason,
            message: message.into(),
            payer,
        }
    }

    /// The `/verify` answer for this rejection.
    pub fn to_verify_response(&self) -> VerifyResponse {
        VerifyResponse::invalid(self.reason.clone(), self.payer.map(|p| p.to_checksum(None)))
            .with_message(self.message.clone())
    }
}

/// Runs the offline checks of an `exact` EIP-3009 payment at time `now` (Unix seconds): steps 1
/// to 4 ([`check_message`]) then 5 to 8 ([`check_terms`]).
pub fn verify_offline(request: &VerifyRequest, now: u64) -> Result<OfflineVerification, Rejection> {
    let checked = check_message(request)?;
    check_terms(&checked, request, now)?;
    Ok(checked)
}

/// Steps 1 to 4: scheme, EIP-712 domain, network, and the signature as far as it can be checked
/// without a chain (a contract wallet's signature is left to the chain).
pub fn check_message(request: &VerifyRequest) -> Result<OfflineVerification, Rejection> {
    let accepted = &request.payment_payload.accepted;
    let required = &request.payment_requirements;

    // 1. Scheme.
    if accepted.scheme != EXACT || required.scheme != EXACT {
        return Err(Rejection::new(
            Reason::InvalidExactEvmScheme,
            format!(
                "scheme must be `exact` (payment: `{}`, requirements: `{}`)",
                accepted.scheme, required.scheme
            ),
            None,
        ));
    }
    // 2. EIP-712 domain.
    let (Some(name), Some(version)) = (required.extra_str("name"), required.extra_str("version"))
    else {
        return Err(Rejection::new(
            Reason::InvalidExactEvmMissingEip712Domain,
            "requirements.extra must carry the token's EIP-712 `name` and `version`",
            None,
        ));
    };
    // 3. Network.
    if accepted.network != required.network {
        return Err(Rejection::new(
            Reason::InvalidExactEvmNetworkMismatch,
            format!(
                "payment is for {}, requirements for {}",
                accepted.network, required.network
            ),
            None,
        ));
    }
    let chain_id = required.network.eip155_chain_id().ok_or_else(|| {
        Rejection::new(
            Reason::InvalidNetwork,
            format!("{} is not an EVM chain", required.network),
            None,
        )
    })?;
    let token = parse_address("asset", &required.asset)
        .map_err(|err| Rejection::new(Reason::InvalidPaymentRequirements, err.to_string(), None))?;
    parse_address("payTo", &required.pay_to)
        .map_err(|err| Rejection::new(Reason::InvalidPaymentRequirements, err.to_string(), None))?;
    let payload =
        ExactEvmPayload::from_object(&request.payment_payload.payload).map_err(|err| {
            let reason = match err {
                PayloadError::Permit2 => Reason::UnsupportedPayloadType,
                _ => Reason::InvalidExactEvmPayload,
            };
            Rejection::new(reason, err.to_string(), None)
        })?;
    let auth = &payload.authorization;
    let payer = Some(auth.from);

    // 4. Signature.
    let domain = token_domain(name, version, chain_id, token);
    let digest = auth.signing_hash(&domain);
    let signer = check_signature(&payload, &digest)
        .map_err(|message| Rejection::new(Reason::InvalidExactEvmSignature, message, payer))?;
    Ok(OfflineVerification {
        payload,
        chain_id,
        token,
        domain,
        digest,
        signer,
    })
}

/// Steps 5 to 8 at time `now`: recipient, validity window (with one block of slack), exact
/// amount.
pub fn check_terms(
    checked: &OfflineVerification,
    request: &VerifyRequest,
    now: u64,
) -> Result<(), Rejection> {
    let required = &request.payment_requirements;
    let auth = &checked.payload.authorization;
    let payer = Some(auth.from);
    let pay_to = parse_address("payTo", &required.pay_to)
        .map_err(|err| Rejection::new(Reason::InvalidPaymentRequirements, err.to_string(), None))?;
    // 5. Recipient.
    if auth.to != pay_to {
        return Err(Rejection::new(
            Reason::InvalidExactEvmRecipientMismatch,
            format!(
                "authorization pays {}, requirements ask for {pay_to}",
                auth.to
            ),
            payer,
        ));
    }
    // 6. Not expired (with one block of slack).
    if auth.valid_before < U256::from(now.saturating_add(VALID_BEFORE_BUFFER_SECS)) {
        return Err(Rejection::new(
            Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
            format!(
                "authorization expires at {}, now is {now}",
                auth.valid_before
            ),
            payer,
        ));
    }
    // 7. Already valid.
    if auth.valid_after > U256::from(now) {
        return Err(Rejection::new(
            Reason::InvalidExactEvmPayloadAuthorizationValidAfter,
            format!(
                "authorization is valid from {}, now is {now}",
                auth.valid_after
            ),
            payer,
        ));
    }
    // 8. Exact amount. The reason is the one the reference facilitators emit today (`@x402/evm`
    // 2.27 and Go); older TypeScript releases said `invalid_exact_evm_authorization_value`.
    if auth.value != required.amount.as_u256() {
        return Err(Rejection::new(
            Reason::InvalidExactEvmPayloadAuthorizationValueMismatch,
            format!(
                "authorization is for {}, requirements ask for {}",
                auth.value, required.amount
            ),
            payer,
        ));
    }
    Ok(())
}

/// Step 4: a 65-byte signature must recover to `from`; anything longer (or ERC-6492 wrapped) is a
/// contract-wallet signature left for the chain.
fn check_signature(payload: &ExactEvmPayload, digest: &B256) -> Result<SignerCheck, String> {
    let from = payload.authorization.from;
    let unwrapped = unwrap_erc6492(&payload.signature).map_err(|err| err.to_string())?;
    if unwrapped.deployment.is_none() && payload.signature.len() <= 65 {
        let bytes: &[u8; 65] = payload.signature.as_ref().try_into().map_err(|_| {
            format!(
                "signature is {} bytes, expected 65",
                payload.signature.len()
            )
        })?;
        return match recover_eoa(digest, bytes) {
            Ok(recovered) if recovered == from => Ok(SignerCheck::Eoa),
            Ok(recovered) => Err(format!("signature recovers to {recovered}, not {from}")),
            Err(SignatureError::HighS) => Err("high-s signature refused (malleable)".into()),
            Err(err) => Err(err.to_string()),
        };
    }
    Ok(SignerCheck::SmartWallet(unwrapped))
}
