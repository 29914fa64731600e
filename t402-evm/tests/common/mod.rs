//! Shared setup of the chain-backed tests: payments signed by the real client, and a chain
//! wrapper that injects node faults (hidden receipts, refused sends) around a real backend.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use t402_core::error::BoxFuture;
use t402_core::{ClientMechanism, PaymentPayload, PaymentRequirements, VerifyRequest};
use t402_evm::chain::{CallRequest, ChainError, EvmChain, Fees, TxReceipt};
use t402_evm::eip3009::{Authorization, token_domain};
use t402_evm::{Clock, ExactEvmClient, ExactEvmPayload};

/// Token amount of the payments (0.01 of a 6-decimal token).
pub const PRICE: u64 = 10_000;

/// Requirements for `amount` of `token` on `chain_id`, paid to `pay_to`.
pub fn requirements(
    chain_id: u64,
    token: Address,
    pay_to: Address,
    name: &str,
    version: &str,
) -> PaymentRequirements {
    serde_json::from_value(json!({
        "scheme": "exact",
        "network": format!("eip155:{chain_id}"),
        "amount": PRICE.to_string(),
        "asset": token.to_checksum(None),
        "payTo": pay_to.to_checksum(None),
        "maxTimeoutSeconds": 60,
        "extra": {"name": name, "version": version},
    }))
    .unwrap()
}

/// The payment the reference-order client signs for `requirements` at the clock's time.
pub async fn signed_request(
    payer: &PrivateKeySigner,
    clock: impl Clock,
    requirements: &PaymentRequirements,
) -> VerifyRequest {
    let client = ExactEvmClient::new(payer.clone()).with_clock(clock);
    let signed = client
        .create_payload(2, requirements, None)
        .await
        .expect("client signs");
    VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), signed.payload),
        requirements.clone(),
    )
}

/// An authorization from `from` for `requirements`, valid around `now`, with a random nonce.
pub fn authorization(from: Address, requirements: &PaymentRequirements, now: u64) -> Authorization {
    Authorization::new(
        from,
        requirements.pay_to.parse().unwrap(),
        requirements.amount.as_u256(),
        U256::from(now - 600),
        U256::from(now + 60),
        B256::random(),
    )
}

/// The digest a payer signs for `auth` under `requirements`' token domain.
pub fn digest(auth: &Authorization, requirements: &PaymentRequirements) -> B256 {
    let chain_id = requirements.network.eip155_chain_id().unwrap();
    let domain = token_domain(
        requirements.extra_str("name").unwrap(),
        requirements.extra_str("version").unwrap(),
        chain_id,
        requirements.asset.parse().unwrap(),
    );
    auth.signing_hash(&domain)
}

/// The test wallet's 66-byte signature: `0x01 || owner's r || s || v`.
pub fn wallet_signature(owner: &PrivateKeySigner, digest: &B256) -> Bytes {
    let mut out = vec![0x01];
    out.extend_from_slice(&owner.sign_hash_sync(digest).unwrap().as_bytes());
    out.into()
}

/// A request carrying `signature` over `auth`.
pub fn request_with(
    requirements: &PaymentRequirements,
    auth: Authorization,
    signature: Bytes,
) -> VerifyRequest {
    let payload = ExactEvmPayload::new(signature, auth).to_object();
    VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), payload),
        requirements.clone(),
    )
}

/// The same ECDSA signature with `s' = n - s` and the other parity: it recovers the same signer
/// but is the malleable (high-s) twin that must be refused.
pub fn high_s_twin(signature: &Bytes) -> Bytes {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&signature[32..64]);
    let mut twin = signature.to_vec();
    twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    twin[64] = if signature[64] == 27 { 28 } else { 27 };
    twin.into()
}

/// Replaces the payload's signature by its high-s twin.
pub fn use_high_s(request: &mut VerifyRequest) {
    let signature: Bytes = request.payment_payload.payload["signature"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    request.payment_payload.payload["signature"] =
        serde_json::Value::String(high_s_twin(&signature).to_string());
}

/// A real chain with faults a test switches on.
#[derive(Debug)]
pub struct Faulty<C> {
    pub inner: C,
    /// Receipts are not found while set.
    pub hide_receipts: AtomicBool,
    /// This many sends get no answer, as if the connection dropped (the node never sees them).
    pub refuse_sends: AtomicUsize,
    /// This many sends are refused by the node.
    pub reject_sends: AtomicUsize,
    /// Gas estimates answer this instead of asking the chain (lets a reverting transaction
    /// through to the chain).
    pub fixed_gas: Option<u64>,
    /// A settlement record read at each broadcast, with what was read (and the hash sent).
    pub watched: Option<(t402_core::MemorySettlementStore, t402_core::PaymentId)>,
    pub seen_at_send: std::sync::Mutex<Vec<(B256, Option<t402_core::SettlementRecord>)>>,
}

impl<C> Faulty<C> {
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            hide_receipts: AtomicBool::new(false),
            refuse_sends: AtomicUsize::new(0),
            reject_sends: AtomicUsize::new(0),
            fixed_gas: None,
            watched: None,
            seen_at_send: Default::default(),
        }
    }
}

impl<C: EvmChain> EvmChain for Faulty<C> {
    fn chain_id(&self) -> u64 {
        self.inner.chain_id()
    }
    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        self.inner.call(call)
    }
    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>> {
        match self.fixed_gas {
            Some(gas) => Box::pin(async move { Ok(gas) }),
            None => self.inner.estimate_gas(call),
        }
    }
    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        self.inner.code(address)
    }
    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>> {
        self.inner.balance(address)
    }
    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>> {
        self.inner.nonce(address)
    }
    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>> {
        self.inner.fees()
    }
    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>> {
        let take = |count: &AtomicUsize| {
            count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        Box::pin(async move {
            if let Some((store, id)) = &self.watched {
                use t402_core::SettlementStore;
                let record = store.get(id).await.unwrap();
                let hash = alloy_primitives::keccak256(&raw);
                self.seen_at_send.lock().unwrap().push((hash, record));
            }
            if take(&self.refuse_sends) {
                return Err(ChainError::Transport {
                    message: "connection reset by peer".into(),
                    source: None,
                });
            }
            if take(&self.reject_sends) {
                return Err(ChainError::Rejected {
                    message: "insufficient funds for gas * price + value".into(),
                });
            }
            self.inner.send_raw_transaction(raw).await
        })
    }
    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>> {
        if self.hide_receipts.load(Ordering::SeqCst) {
            return Box::pin(async { Ok(None) });
        }
        self.inner.receipt(hash)
    }
}

/// Shares a faulty chain between the facilitator and the test.
pub type SharedFaulty<C> = Arc<Faulty<C>>;
