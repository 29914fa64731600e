//! The paying side: builds and signs the transaction of protocol reference §6.3.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha256};
use t402_core::error::BoxFuture;
use t402_core::mechanism::{ClientMechanism, MechanismError, SchemePayload};
use t402_core::wire::JsonObject;
use t402_core::{PaymentRequirements, Reason};

use crate::instructions::{PaymentTransfer, compile, payment_instructions};
use crate::pubkey::{Pubkey, TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use crate::rpc::{SolanaRpc, mint_decimals};
use crate::verify::EXACT;
use crate::wire::Transaction;

/// The compute unit limit the reference client asks for.
pub const DEFAULT_COMPUTE_UNIT_LIMIT: u32 = 20_000;
/// The compute unit price the reference client offers, in micro-lamports.
pub const DEFAULT_COMPUTE_UNIT_PRICE: u64 = 1;

/// Signs Solana `exact` payments with an ed25519 key, reading mints and blockhashes from `rpc`.
pub struct ExactSvmClient<R> {
    key: SigningKey,
    rpc: R,
    counter: AtomicU64,
}

impl<R: fmt::Debug> fmt::Debug for ExactSvmClient<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactSvmClient")
            .field("payer", &self.payer())
            .field("rpc", &self.rpc)
            .finish()
    }
}

fn invalid(reason: Reason, message: impl Into<String>) -> MechanismError {
    MechanismError::InvalidRequirements {
        reason,
        message: message.into(),
    }
}

impl<R> ExactSvmClient<R> {
    /// A client paying with `key`.
    pub fn new(key: SigningKey, rpc: R) -> Self {
        Self {
            key,
            rpc,
            counter: AtomicU64::new(0),
        }
    }

    /// The payer (transfer authority).
    pub fn payer(&self) -> Pubkey {
        Pubkey(self.key.verifying_key().to_bytes())
    }
}

/// The longest `extra.memo` the client puts in a payment, in bytes.
pub const MAX_MEMO_BYTES: usize = 256;

impl<R: SolanaRpc> ExactSvmClient<R> {
    /// 16 bytes written as 32 hex characters, distinct per payment, for the memo when the
    /// requirements give none (so equal payments are distinct transactions).
    fn unique_memo(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.payer().0);
        hasher.update(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .to_le_bytes(),
        );
        hasher.update(self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let digest = hasher.finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The signed transaction paying `requirements`, in base64.
    pub async fn build(
        &self,
        requirements: &PaymentRequirements,
    ) -> Result<String, MechanismError> {
        let fee_payer: Pubkey = requirements
            .extra_str("feePayer")
            .ok_or_else(|| {
                invalid(
                    Reason::InvalidExactSvmPayloadMissingFeePayer,
                    "extra.feePayer is missing",
                )
            })?
            .parse()
            .map_err(|_| {
                invalid(
                    Reason::InvalidExactSvmPayloadMissingFeePayer,
                    "extra.feePayer is not a key",
                )
            })?;
        let mint: Pubkey = requirements
            .asset
            .parse()
            .map_err(|_| invalid(Reason::InvalidPaymentRequirements, "asset is not a mint"))?;
        let pay_to: Pubkey = requirements
            .pay_to
            .parse()
            .map_err(|_| invalid(Reason::InvalidPaymentRequirements, "payTo is not a key"))?;
        let amount = requirements
            .amount
            .to_u128()
            .and_then(|a| u64::try_from(a).ok())
            .ok_or_else(|| invalid(Reason::InvalidPaymentRequirements, "amount above u64"))?;
        let chain = |err: crate::rpc::RpcError| MechanismError::Chain(Box::new(err));
        let mint_account = self
            .rpc
            .account(mint)
            .await
            .map_err(chain)?
            .ok_or_else(|| {
                invalid(
                    Reason::InvalidPaymentRequirements,
                    format!("mint {mint} does not exist"),
                )
            })?;
        let token_program = mint_account.owner;
        if token_program != TOKEN_PROGRAM && token_program != TOKEN_2022_PROGRAM {
            return Err(invalid(
                Reason::InvalidPaymentRequirements,
                format!("{mint} is owned by {token_program}, not Token or Token-2022"),
            ));
        }
        let decimals = mint_decimals(&mint_account.data).ok_or_else(|| {
            invalid(
                Reason::InvalidPaymentRequirements,
                format!("{mint} is not a mint"),
            )
        })?;
        let blockhash = self.rpc.latest_blockhash().await.map_err(chain)?;
        let payer = self.payer();
        let memo_text = match requirements.extra_str("memo") {
            // The reference client's limit: a longer memo is refused, not truncated.
            Some(text) if text.len() > MAX_MEMO_BYTES => {
                return Err(invalid(
                    Reason::InvalidPaymentRequirements,
                    format!(
                        "extra.memo is {} bytes, above the {MAX_MEMO_BYTES} a payment may carry",
                        text.len()
                    ),
                ));
            }
            Some(text) => text.to_owned(),
            None => self.unique_memo(),
        };
        let transfer = PaymentTransfer {
            token_program,
            mint,
            decimals,
            payer,
            pay_to,
            amount,
        };
        let instructions = payment_instructions(
            &transfer,
            DEFAULT_COMPUTE_UNIT_LIMIT,
            DEFAULT_COMPUTE_UNIT_PRICE,
            memo_text.as_bytes(),
        );
        let message = compile(fee_payer, &instructions, blockhash);
        let mut transaction = Transaction::unsigned(message);
        let signing = |err: crate::wire::WireError| MechanismError::Signing(Box::new(err));
        transaction.sign(&self.key).map_err(signing)?;
        Ok(STANDARD.encode(transaction.serialize().map_err(signing)?))
    }
}

impl<R: SolanaRpc + 'static> ClientMechanism for ExactSvmClient<R> {
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
            let transaction = self.build(requirements).await?;
            let mut payload = JsonObject::new();
            payload.insert("transaction".into(), json!(transaction));
            Ok(SchemePayload::new(payload))
        })
    }
}
