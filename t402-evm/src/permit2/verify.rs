//! The checks of a Permit2 payment that need no chain, in the reference facilitator's order and
//! with its reason strings (protocol reference §5.6 steps 1 to 9; §7.3 for `upto`).

use alloy_primitives::{Address, B256, U256};
use t402_core::{Reason, VerifyRequest};

use super::{EXACT_PERMIT2_PROXY, Permit2Payload, UPTO_PERMIT2_PROXY};
use crate::eip3009::parse_address;
use crate::signature::{SignatureError, recover_eoa};
use crate::verify::{Rejection, SignerCheck, VALID_BEFORE_BUFFER_SECS};

/// What differs between the `exact` and `upto` Permit2 checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Permit2Rules {
    /// The scheme name.
    pub scheme: &'static str,
    /// The proxy that must be the spender.
    pub spender: Address,
    /// The reason when a scheme is not this one.
    pub scheme_reason: Reason,
    /// The reason when the networks differ.
    pub network_reason: Reason,
}

impl Permit2Rules {
    /// `exact` over Permit2: a wrong scheme is `unsupported_payload_type`, as in the reference.
    pub const EXACT: Self = Self {
        scheme: "exact",
        spender: EXACT_PERMIT2_PROXY,
        scheme_reason: Reason::UnsupportedPayloadType,
        network_reason: Reason::InvalidExactEvmNetworkMismatch,
    };

    /// `upto`.
    pub const UPTO: Self = Self {
        scheme: "upto",
        spender: UPTO_PERMIT2_PROXY,
        scheme_reason: Reason::InvalidUptoEvmScheme,
        network_reason: Reason::InvalidUptoEvmNetworkMismatch,
    };
}

/// A Permit2 payment that passed every check that needs no chain.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Permit2Verification {
    /// The parsed payload.
    pub payload: Permit2Payload,
    /// The chain id from the network.
    pub chain_id: u64,
    /// The digest the payer signed.
    pub digest: B256,
    /// How the signature was established (a contract wallet's is left to Permit2 on chain).
    pub signer: SignerCheck,
}

impl Permit2Verification {
    /// The payer.
    pub fn payer(&self) -> Address {
        self.payload.authorization.from
    }
}

/// Every check of a Permit2 payment that needs no chain (steps 1 to 9) at time `now`.
pub fn verify_permit2_offline(
    request: &VerifyRequest,
    rules: &Permit2Rules,
    now: u64,
) -> Result<Permit2Verification, Rejection> {
    let (payload, chain_id) = check_permit2_message(request, rules)?;
    check_permit2_terms(payload, chain_id, request, rules, now, |_| Ok(()))
}

/// Steps 1 and 2 (scheme, network) and the reading of the payload.
pub fn check_permit2_message(
    request: &VerifyRequest,
    rules: &Permit2Rules,
) -> Result<(Permit2Payload, u64), Rejection> {
    let accepted = &request.payment_payload.accepted;
    let required = &request.payment_requirements;
    let payload = Permit2Payload::from_object(&request.payment_payload.payload)
        .map_err(|err| Rejection::new(Reason::UnsupportedPayloadType, err.to_string(), None))?;
    let payer = Some(payload.authorization.from);
    if accepted.scheme != rules.scheme || required.scheme != rules.scheme {
        return Err(Rejection::new(
            rules.scheme_reason.clone(),
            format!(
                "scheme must be `{}` (payment: `{}`, requirements: `{}`)",
                rules.scheme, accepted.scheme, required.scheme
            ),
            payer,
        ));
    }
    if accepted.network != required.network {
        return Err(Rejection::new(
            rules.network_reason.clone(),
            format!(
                "payment is for {}, requirements for {}",
                accepted.network, required.network
            ),
            payer,
        ));
    }
    let chain_id = required.network.eip155_chain_id().ok_or_else(|| {
        Rejection::new(
            Reason::InvalidNetwork,
            format!("{} is not an EVM chain", required.network),
            payer,
        )
    })?;
    Ok((payload, chain_id))
}

/// Steps 3 to 9 at time `now`: spender, recipient, deadline (one block of slack), start of
/// validity, exact amount (`amount` is the amount the permit must carry), token, signature.
/// `between` runs after the recipient check (the `upto` facilitator check goes there).
pub fn check_permit2_terms(
    payload: Permit2Payload,
    chain_id: u64,
    request: &VerifyRequest,
    rules: &Permit2Rules,
    now: u64,
    between: impl FnOnce(&Permit2Payload) -> Result<(), Rejection>,
) -> Result<Permit2Verification, Rejection> {
    let required = &request.payment_requirements;
    let auth = &payload.authorization;
    let payer = Some(auth.from);
    let invalid_requirements = |err: crate::PayloadError| {
        Rejection::new(Reason::InvalidPaymentRequirements, err.to_string(), payer)
    };
    let pay_to = parse_address("payTo", &required.pay_to).map_err(invalid_requirements)?;
    let asset = parse_address("asset", &required.asset).map_err(invalid_requirements)?;
    // 3. Spender.
    if auth.spender != rules.spender {
        return Err(Rejection::new(
            Reason::InvalidPermit2Spender,
            format!(
                "the permit's spender is {}, not the x402 proxy {}",
                auth.spender, rules.spender
            ),
            payer,
        ));
    }
    // 4. Recipient.
    if auth.witness.to != pay_to {
        return Err(Rejection::new(
            Reason::InvalidPermit2RecipientMismatch,
            format!(
                "the witness pays {}, requirements ask for {pay_to}",
                auth.witness.to
            ),
            payer,
        ));
    }
    between(&payload)?;
    // 5. Deadline, with one block of slack.
    if auth.deadline < U256::from(now.saturating_add(VALID_BEFORE_BUFFER_SECS)) {
        return Err(Rejection::new(
            Reason::Permit2DeadlineExpired,
            format!("the permit expires at {}, now is {now}", auth.deadline),
            payer,
        ));
    }
    // 6. Start of validity.
    if auth.witness.valid_after > U256::from(now) {
        return Err(Rejection::new(
            Reason::Permit2NotYetValid,
            format!(
                "the permit is valid from {}, now is {now}",
                auth.witness.valid_after
            ),
            payer,
        ));
    }
    // 7. Exact amount.
    if auth.amount != required.amount.as_u256() {
        return Err(Rejection::new(
            Reason::Permit2AmountMismatch,
            format!(
                "the permit is for {}, requirements ask for {}",
                auth.amount, required.amount
            ),
            payer,
        ));
    }
    // 8. Token.
    if auth.token != asset {
        return Err(Rejection::new(
            Reason::Permit2TokenMismatch,
            format!(
                "the permit moves {}, requirements ask for {asset}",
                auth.token
            ),
            payer,
        ));
    }
    // 9. Signature: a plain signature must recover to the payer; a longer one is a contract
    // wallet's, which Permit2 asks by ERC-1271 (the facilitator checks the wallet has code).
    let digest = auth.signing_hash(chain_id);
    let signer = check_signature(&payload, &digest)
        .map_err(|message| Rejection::new(Reason::InvalidPermit2Signature, message, payer))?;
    Ok(Permit2Verification {
        payload,
        chain_id,
        digest,
        signer,
    })
}

fn check_signature(payload: &Permit2Payload, digest: &B256) -> Result<SignerCheck, String> {
    let from = payload.authorization.from;
    let signature = &payload.signature;
    let full: [u8; 65] = match signature.len() {
        65 => signature.as_ref().try_into().expect("65 bytes"),
        // EIP-2098 compact form, which Permit2 accepts: the top bit of `vs` is the parity.
        64 => {
            let mut full = [0u8; 65];
            full[..64].copy_from_slice(signature);
            full[64] = 27 + (full[32] >> 7);
            full[32] &= 0x7f;
            full
        }
        n if n > 65 => {
            return Ok(SignerCheck::SmartWallet(
                crate::signature::UnwrappedSignature {
                    inner: signature.clone(),
                    deployment: None,
                },
            ));
        }
        n => return Err(format!("signature is {n} bytes, expected 65")),
    };
    match recover_eoa(digest, &full) {
        Ok(recovered) if recovered == from => Ok(SignerCheck::Eoa),
        Ok(recovered) => Err(format!("signature recovers to {recovered}, not {from}")),
        Err(SignatureError::HighS) => Err("high-s signature refused (malleable)".into()),
        Err(err) => Err(err.to_string()),
    }
}
