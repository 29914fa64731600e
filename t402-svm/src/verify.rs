//! The checks of an `exact` Solana payment that need no chain (protocol reference §6.4, steps 1
//! to 16, in the reference facilitator's order with its reason strings), plus the rules the spec
//! requires and the reference skips: the transaction's fee payer is `extra.feePayer`, appears in
//! no instruction's accounts and is not the transfer source; and the transfer authority's
//! signature verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use t402_core::{Reason, VerifyRequest, VerifyResponse};

use crate::instructions::{
    parse_compute_unit_limit, parse_compute_unit_price, parse_transfer_checked,
};
use crate::pubkey::{
    COMPUTE_BUDGET_PROGRAM, LIGHTHOUSE_PROGRAM, MEMO_PROGRAM, Pubkey, TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM, associated_token_address_remembered,
};
use crate::wire::Transaction;

/// The scheme name.
pub const EXACT: &str = "exact";

/// The highest compute unit price accepted, in micro-lamports (5 lamports per unit).
pub const MAX_COMPUTE_UNIT_PRICE: u64 = 5_000_000;

/// The highest compute unit limit accepted: a token transfer with a memo uses a few tens of
/// thousands; the fee payer pays the priority fee on the limit asked, not on what was used.
pub const MAX_COMPUTE_UNIT_LIMIT: u32 = 200_000;

/// The highest priority fee (limit × price) accepted, in lamports: what one settlement may cost
/// the fee payer above the base fee.
pub const MAX_PRIORITY_FEE_LAMPORTS: u64 = 50_000;

/// A payment that passed every offline check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SvmVerification {
    /// The decoded transaction (the fee payer's slot still empty).
    pub transaction: Transaction,
    /// The transfer authority (the payer).
    pub payer: Pubkey,
    /// The fee payer named by the requirements and the transaction.
    pub fee_payer: Pubkey,
    /// Token or Token-2022.
    pub token_program: Pubkey,
    /// The amount transferred.
    pub amount: u64,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The protocol reason.
    pub reason: Reason,
    /// What was wrong.
    pub message: String,
    /// The payer, once known (`""` before, as the reference answers).
    pub payer: Option<String>,
}

impl Rejection {
    fn new(reason: Reason, message: impl Into<String>, payer: Option<&Pubkey>) -> Self {
        Self {
            reason,
            message: message.into(),
            payer: payer.map(Pubkey::to_string),
        }
    }

    /// The `/verify` answer.
    pub fn to_verify_response(&self) -> VerifyResponse {
        VerifyResponse::invalid(
            self.reason.clone(),
            Some(self.payer.clone().unwrap_or_default()),
        )
        .with_message(self.message.clone())
    }
}

fn ordinal_reason(index: usize) -> Reason {
    match index {
        3 => Reason::InvalidExactSvmPayloadUnknownFourthInstruction,
        4 => Reason::InvalidExactSvmPayloadUnknownFifthInstruction,
        5 => Reason::InvalidExactSvmPayloadUnknownSixthInstruction,
        _ => Reason::InvalidExactSvmPayloadUnknownOptionalInstruction,
    }
}

/// Runs the offline checks. `signers` are the facilitator's fee-payer keys.
pub fn verify_offline(
    request: &VerifyRequest,
    signers: &[Pubkey],
) -> Result<SvmVerification, Rejection> {
    let accepted = &request.payment_payload.accepted;
    let required = &request.payment_requirements;
    // 1–2. Scheme and network.
    if accepted.scheme != EXACT || required.scheme != EXACT {
        return Err(Rejection::new(
            Reason::UnsupportedScheme,
            "scheme must be `exact`",
            None,
        ));
    }
    if accepted.network != required.network {
        return Err(Rejection::new(
            Reason::NetworkMismatch,
            format!(
                "payment is for {}, requirements for {}",
                accepted.network, required.network
            ),
            None,
        ));
    }
    // 3–4. The fee payer is named and is ours.
    let Some(fee_payer_text) = required.extra_str("feePayer") else {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadMissingFeePayer,
            "requirements.extra.feePayer is missing",
            None,
        ));
    };
    let fee_payer: Pubkey = fee_payer_text.parse().map_err(|_| {
        Rejection::new(
            Reason::InvalidExactSvmPayloadMissingFeePayer,
            "extra.feePayer is not a key",
            None,
        )
    })?;
    if !signers.contains(&fee_payer) {
        return Err(Rejection::new(
            Reason::FeePayerNotManagedByFacilitator,
            format!("{fee_payer} is not a fee payer of this facilitator"),
            None,
        ));
    }
    // 5. Decode.
    let transaction = request
        .payment_payload
        .payload
        .get("transaction")
        .and_then(|v| v.as_str())
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or("payload.transaction is not standard base64")
        .and_then(|bytes| Transaction::deserialize(&bytes).map_err(|_| "not a v0 transaction"))
        .map_err(|message| {
            Rejection::new(
                Reason::InvalidExactSvmPayloadTransactionCouldNotBeDecoded,
                message,
                None,
            )
        })?;
    let message = &transaction.message;
    // The fee payer's slot is ours to fill: a client-chosen value there would make variants of
    // one payment that differ in bytes.
    if transaction.signatures.first() != Some(&[0u8; 64]) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransaction,
            "the fee payer's signature slot must be empty",
            None,
        ));
    }
    let mut keys = message.account_keys.clone();
    keys.sort_unstable_by_key(|key| key.0);
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransaction,
            "an account key appears twice",
            None,
        ));
    }
    if !message.address_table_lookups.is_empty() {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransaction,
            "address-table lookups are not accepted",
            None,
        ));
    }
    if message.fee_payer() != Some(&fee_payer) {
        return Err(Rejection::new(
            Reason::InvalidExactSolanaFeePayerMismatch,
            "the transaction's fee payer is not extra.feePayer",
            None,
        ));
    }
    let program_of = |index: usize| message.key(message.instructions[index].program_id_index);
    // 6. Instruction count.
    let count = message.instructions.len();
    if !(3..=6).contains(&count) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionInstructionsLength,
            format!("{count} instructions, expected 3 to 6"),
            None,
        ));
    }
    // 7. Compute limit, bounded.
    let limit = (program_of(0) == Some(&COMPUTE_BUDGET_PROGRAM))
        .then(|| parse_compute_unit_limit(&message.instructions[0].data))
        .flatten()
        .ok_or_else(|| {
            Rejection::new(
                Reason::InvalidExactSvmPayloadTransactionInstructionsComputeLimitInstruction,
                "instruction 0 is not SetComputeUnitLimit",
                None,
            )
        })?;
    if limit > MAX_COMPUTE_UNIT_LIMIT {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputeLimitInstruction,
            format!("a limit of {limit} compute units is above {MAX_COMPUTE_UNIT_LIMIT}"),
            None,
        ));
    }
    // 8. Compute price, bounded.
    let price = (program_of(1) == Some(&COMPUTE_BUDGET_PROGRAM))
        .then(|| parse_compute_unit_price(&message.instructions[1].data))
        .flatten()
        .ok_or_else(|| {
            Rejection::new(
                Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstruction,
                "instruction 1 is not SetComputeUnitPrice",
                None,
            )
        })?;
    if price > MAX_COMPUTE_UNIT_PRICE {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstructionTooHigh,
            format!("{price} micro-lamports per unit is above {MAX_COMPUTE_UNIT_PRICE}"),
            None,
        ));
    }
    let priority_fee = u128::from(limit) * u128::from(price) / 1_000_000;
    if priority_fee > u128::from(MAX_PRIORITY_FEE_LAMPORTS) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstructionTooHigh,
            format!(
                "a priority fee of {priority_fee} lamports is above {MAX_PRIORITY_FEE_LAMPORTS}"
            ),
            None,
        ));
    }
    // 9–10. The transfer.
    let transfer = &message.instructions[2];
    let token_program = program_of(2)
        .filter(|program| **program == TOKEN_PROGRAM || **program == TOKEN_2022_PROGRAM)
        .copied();
    let parsed = parse_transfer_checked(&transfer.data);
    let (Some(token_program), Some((amount, _decimals)), [source, mint, destination, authority]) =
        (token_program, parsed, transfer.accounts.as_slice())
    else {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadNoTransferInstruction,
            "instruction 2 is not a Token or Token-2022 TransferChecked",
            None,
        ));
    };
    let key = |index: &u8| message.key(*index).copied().unwrap_or_default();
    let (source, mint, destination, payer) =
        (key(source), key(mint), key(destination), key(authority));
    // 11. The fee payer does not pay: it is not the authority.
    if signers.contains(&payer) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionFeePayerTransferringFunds,
            "the facilitator's fee payer would be transferring funds",
            Some(&payer),
        ));
    }
    // Exactly two signers: the fee payer, then the transfer authority. Any other signer would
    // be a key whose signature the fee payer pays for.
    if message.header.num_required_signatures != 2 || message.account_keys.get(1) != Some(&payer) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransaction,
            "the signers must be exactly the fee payer and the transfer authority",
            Some(&payer),
        ));
    }
    // 12. Mint.
    let asset: Option<Pubkey> = required.asset.parse().ok();
    if asset != Some(mint) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadMintMismatch,
            format!(
                "transfer of mint {mint}, requirements ask for {}",
                required.asset
            ),
            Some(&payer),
        ));
    }
    // The source is the authority's own token account for the mint (so never one of the fee
    // payer's, whatever the authority).
    if source != associated_token_address_remembered(&payer, &mint, &token_program) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionFeePayerTransferringFunds,
            format!("the source {source} is not the authority's token account for the mint"),
            Some(&payer),
        ));
    }
    // 13. Destination: the payee's associated token account under the transfer's program.
    let pay_to: Option<Pubkey> = required.pay_to.parse().ok();
    // The payee recurs from payment to payment (and payers often do): accounts are derived
    // once.
    let expected =
        pay_to.map(|owner| associated_token_address_remembered(&owner, &mint, &token_program));
    if expected != Some(destination) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadRecipientMismatch,
            format!("transfer to {destination}, not the payee's token account"),
            Some(&payer),
        ));
    }
    // 14. Exact amount.
    if required.amount.to_u128() != Some(u128::from(amount)) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadAmountMismatch,
            format!(
                "transfer of {amount}, requirements ask for {}",
                required.amount
            ),
            Some(&payer),
        ));
    }
    // 15. Optional instructions: Memo or Lighthouse only.
    let mut memos = Vec::new();
    for index in 3..count {
        match program_of(index) {
            Some(program) if *program == MEMO_PROGRAM => {
                memos.push(&message.instructions[index].data)
            }
            Some(program) if *program == LIGHTHOUSE_PROGRAM => {}
            _ => {
                return Err(Rejection::new(
                    ordinal_reason(index),
                    format!("instruction {index} is neither Memo nor Lighthouse"),
                    Some(&payer),
                ));
            }
        }
    }
    // 16. Memo, when the requirements carry one.
    if let Some(expected) = required.extra_str("memo") {
        let [memo] = memos.as_slice() else {
            return Err(Rejection::new(
                Reason::InvalidExactSvmPayloadMemoCount,
                format!("{} memo instructions, expected exactly one", memos.len()),
                Some(&payer),
            ));
        };
        if std::str::from_utf8(memo) != Ok(expected) {
            return Err(Rejection::new(
                Reason::InvalidExactSvmPayloadMemoMismatch,
                "the memo differs from extra.memo",
                Some(&payer),
            ));
        }
    }
    // The spec's rules the reference skips: the fee payer is in no instruction's accounts
    // (compared by key, whatever its index).
    if message.instructions.iter().any(|instruction| {
        instruction
            .accounts
            .iter()
            .any(|index| message.key(*index) == Some(&fee_payer))
    }) {
        return Err(Rejection::new(
            Reason::InvalidExactSvmPayloadTransactionFeePayerIncludedInInstructionAccounts,
            "the fee payer appears in an instruction's accounts",
            Some(&payer),
        ));
    }
    // The authority's signature (the reference leaves this to simulation).
    let slot = message
        .account_keys
        .iter()
        .take(usize::from(message.header.num_required_signatures))
        .position(|key| *key == payer);
    if !slot.is_some_and(|slot| transaction.verify_slot(slot)) {
        return Err(Rejection::new(
            Reason::TransactionSimulationFailed,
            "the transfer authority's signature does not verify",
            Some(&payer),
        ));
    }
    Ok(SvmVerification {
        transaction,
        payer,
        fee_payer,
        token_program,
        amount,
    })
}

/// The identity of an `exact` Solana payment: a SHA-256 of the transaction's message bytes,
/// which every signature covers — so re-signed or re-encoded variants of one payment share it.
/// `None` when the payload holds no readable transaction.
pub fn payment_id(request: &VerifyRequest) -> Option<t402_core::PaymentId> {
    payment_id_of(
        &request.payment_payload.payload,
        &request.payment_requirements,
    )
}

/// [`payment_id`] from a payment's `payload` object and the requirements it pays.
pub fn payment_id_of(
    payload: &t402_core::JsonObject,
    requirements: &t402_core::PaymentRequirements,
) -> Option<t402_core::PaymentId> {
    use sha2::{Digest, Sha256};
    let encoded = payload
        .get("transaction")
        .and_then(serde_json::Value::as_str)?;
    let bytes = STANDARD.decode(encoded).ok()?;
    let transaction = Transaction::deserialize(&bytes).ok()?;
    let message = transaction.message.serialize().ok()?;
    let digest = Sha256::digest(&message);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(t402_core::PaymentId::from_parts([
        EXACT.to_owned(),
        requirements.network.to_string(),
        hex,
    ]))
}
