//! The facilitator's transaction signers for one chain: several keys, each with its own nonce
//! sequence, so concurrent settlements do not queue behind one account.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::Signer;
use t402_core::{SendJournal, StoreError};
use tokio::sync::{Mutex, MutexGuard};

use crate::chain::{ChainError, EvmChain, Fees};
use crate::secp::FastKey;

/// Why a signer could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerSetupError {
    /// No signer was given.
    #[error("a facilitator needs at least one signer")]
    Empty,
    /// The signer is bound to another chain.
    #[error("signer {address} is bound to chain {signer_chain}, not {chain}")]
    WrongChain {
        /// The signer's address.
        address: Address,
        /// The chain the signer is bound to.
        signer_chain: u64,
        /// The facilitator's chain.
        chain: u64,
    },
    /// The same address was given twice (its nonces would collide).
    #[error("signer {0} was given twice")]
    Duplicate(Address),
}

/// Why a transaction was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The node refused or could not be reached.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The signer failed.
    #[error("signing the transaction failed: {0}")]
    Signing(#[source] alloy_signer::Error),
    /// The settlement record could not be written, so the signed transaction was not broadcast.
    #[error("the transaction was not broadcast: {0}")]
    Journal(#[source] StoreError),
    /// A transaction was asked to be sent from an address this facilitator holds no key for.
    #[error("this facilitator holds no key for {0}")]
    UnknownSender(Address),
    /// The broadcast failed in transit (no answer, a timeout): the node may have received the
    /// transaction, so it must be watched for, not sent again.
    #[error("the broadcast of {} got no answer: {source}", sent.hash)]
    Unconfirmed {
        /// The transaction, signed and possibly received.
        sent: SentTransaction,
        /// What failed.
        #[source]
        source: ChainError,
    },
}

type DynSigner = dyn Signer + Send + Sync;

struct Key {
    signer: Box<DynSigner>,
    /// A local key's copy that signs through libsecp256k1 ([`crate::secp`]).
    fast: Option<FastKey>,
    address: Address,
    /// The next nonce to use; `None` until read from the chain, and again after a failed send
    /// (the node's pending count is then the truth).
    next_nonce: Mutex<Option<u64>>,
}

/// The facilitator's signer keys on one chain.
pub struct FacilitatorSigners {
    chain_id: u64,
    keys: Vec<Key>,
    next: AtomicUsize,
}

impl fmt::Debug for FacilitatorSigners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacilitatorSigners")
            .field("chain_id", &self.chain_id)
            .field("addresses", &self.addresses())
            .finish()
    }
}

/// A transaction to sign and send.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outgoing {
    /// The key to send from (`None`: an idle one).
    pub from: Option<Address>,
    /// The callee.
    pub to: Address,
    /// Wei sent along.
    pub value: U256,
    /// The calldata.
    pub data: Bytes,
    /// The gas limit.
    pub gas_limit: u64,
    /// The fees.
    pub fees: Fees,
}

impl Outgoing {
    /// A call of `to` with `data`, from an idle key, carrying no value.
    pub fn call(to: Address, data: Bytes, gas_limit: u64, fees: Fees) -> Self {
        Self {
            from: None,
            to,
            value: U256::ZERO,
            data,
            gas_limit,
            fees,
        }
    }

    /// Sent from `from`.
    #[must_use]
    pub fn from(mut self, from: Address) -> Self {
        self.from = Some(from);
        self
    }

    /// Carrying `wei`.
    #[must_use]
    pub fn value(mut self, wei: U256) -> Self {
        self.value = wei;
        self
    }
}

/// A transaction the node accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentTransaction {
    /// Its hash.
    pub hash: B256,
    /// The facilitator address that sent it.
    pub sender: Address,
    /// The nonce it used.
    pub nonce: u64,
}

impl FacilitatorSigners {
    /// Binds `signers` to `chain_id`. A signer already bound to another chain is refused; an
    /// unbound one is bound.
    pub fn new<S>(
        chain_id: u64,
        signers: impl IntoIterator<Item = S>,
    ) -> Result<Self, SignerSetupError>
    where
        S: Signer + Send + Sync + 'static,
    {
        let mut keys: Vec<Key> = Vec::new();
        for mut signer in signers {
            let address = signer.address();
            match signer.chain_id() {
                Some(bound) if bound != chain_id => {
                    return Err(SignerSetupError::WrongChain {
                        address,
                        signer_chain: bound,
                        chain: chain_id,
                    });
                }
                Some(_) => {}
                None => signer.set_chain_id(Some(chain_id)),
            }
            if keys.iter().any(|key| key.address == address) {
                return Err(SignerSetupError::Duplicate(address));
            }
            keys.push(Key {
                fast: FastKey::of(&signer),
                signer: Box::new(signer),
                address,
                next_nonce: Mutex::new(None),
            });
        }
        if keys.is_empty() {
            return Err(SignerSetupError::Empty);
        }
        Ok(Self {
            chain_id,
            keys,
            next: AtomicUsize::new(0),
        })
    }

    /// The chain the signers are bound to.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The signer addresses, in the order given.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.iter().map(|key| key.address).collect()
    }

    /// The first signer's address (the sender of simulations and gas estimates).
    pub fn primary(&self) -> Address {
        self.keys[0].address
    }

    /// A free key if one is idle, else the next in turn; returned with its nonce lock held.
    async fn acquire(&self) -> (&Key, MutexGuard<'_, Option<u64>>) {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.keys.len();
        for offset in 0..count {
            let key = &self.keys[(start + offset) % count];
            if let Ok(guard) = key.next_nonce.try_lock() {
                return (key, guard);
            }
        }
        let key = &self.keys[start % count];
        (key, key.next_nonce.lock().await)
    }

    /// Signs and sends a call of `to` with `data` from one of the keys. Nonces are handed out
    /// under the key's lock, so concurrent sends never reuse one. After a failed send the key
    /// re-reads its nonce from the chain, and a send refused for a stale nonce (the key was used
    /// elsewhere) is retried once with the chain's nonce: a refused transaction was not accepted,
    /// so sending again cannot pay twice.
    pub async fn send(
        &self,
        chain: &dyn EvmChain,
        to: Address,
        data: Bytes,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<SentTransaction, SendError> {
        self.send_journaled(chain, to, data, gas_limit, fees, SendJournal::none())
            .await
    }

    /// [`send`](Self::send), writing each signed transaction's hash to `journal` before it is
    /// broadcast (claim before send): whatever happens after, a retry finds the hash. A journal
    /// that cannot be written broadcasts nothing.
    pub async fn send_journaled(
        &self,
        chain: &dyn EvmChain,
        to: Address,
        data: Bytes,
        gas_limit: u64,
        fees: Fees,
        journal: SendJournal<'_>,
    ) -> Result<SentTransaction, SendError> {
        let call = Outgoing {
            from: None,
            to,
            value: U256::ZERO,
            data,
            gas_limit,
            fees,
        };
        self.send_outgoing(chain, call, journal).await
    }

    /// Signs and sends `call` (from the key it names, else an idle one), writing the hash to
    /// `journal` before the broadcast, as [`send_journaled`](Self::send_journaled).
    pub async fn send_outgoing(
        &self,
        chain: &dyn EvmChain,
        call: Outgoing,
        journal: SendJournal<'_>,
    ) -> Result<SentTransaction, SendError> {
        let Outgoing {
            from,
            to,
            value,
            data,
            gas_limit,
            fees,
        } = call;
        let (key, mut next_nonce) = match from {
            None => self.acquire().await,
            Some(address) => {
                let key = self
                    .keys
                    .iter()
                    .find(|key| key.address == address)
                    .ok_or(SendError::UnknownSender(address))?;
                (key, key.next_nonce.lock().await)
            }
        };
        let mut retried = false;
        loop {
            let cached = *next_nonce;
            let nonce = match cached {
                Some(nonce) => nonce,
                None => chain.nonce(key.address).await?,
            };
            let tx = TxEip1559 {
                chain_id: self.chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: fees.max_fee_per_gas,
                max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                to: TxKind::Call(to),
                value,
                access_list: Default::default(),
                input: data.clone(),
            };
            let signed_hash = match &key.fast {
                Some(fast) => Ok(fast.sign(&tx.signature_hash())),
                None => key.signer.sign_hash(&tx.signature_hash()).await,
            };
            let signature = match signed_hash {
                Ok(signature) => signature,
                Err(err) => {
                    *next_nonce = Some(nonce);
                    return Err(SendError::Signing(err));
                }
            };
            let signed = tx.into_signed(signature);
            let sent = SentTransaction {
                hash: *signed.hash(),
                sender: key.address,
                nonce,
            };
            if let Err(err) = journal.sent(&sent.hash.to_string()).await {
                *next_nonce = Some(nonce);
                return Err(SendError::Journal(err));
            }
            let raw: Bytes = TxEnvelope::Eip1559(signed).encoded_2718().into();
            let mut broadcast = chain.send_raw_transaction(raw.clone()).await;
            let unanswered = matches!(&broadcast, Err(err) if is_in_transit(err));
            if unanswered {
                // No answer: the node may or may not have it. The same signed bytes again cannot
                // pay twice (one hash, one nonce); whatever this answers, the transaction is
                // watched for, never replaced.
                broadcast = chain.send_raw_transaction(raw).await;
            }
            match broadcast {
                Ok(hash) => {
                    if hash != sent.hash {
                        tracing::error!(recorded = %sent.hash, node = %hash, "the node names the transaction differently");
                    }
                    *next_nonce = Some(nonce + 1);
                    return Ok(sent);
                }
                Err(err) => {
                    *next_nonce = None;
                    if unanswered || is_in_transit(&err) {
                        return Err(SendError::Unconfirmed { sent, source: err });
                    }
                    if cached.is_some() && !retried && is_nonce_refusal(&err) {
                        retried = true;
                        continue;
                    }
                    return Err(SendError::Chain(err));
                }
            }
        }
    }
}

/// Whether a failed broadcast may still have reached the node (no answer was read).
fn is_in_transit(err: &ChainError) -> bool {
    matches!(err, ChainError::Transport { .. } | ChainError::Timeout(_))
}

fn is_nonce_refusal(err: &ChainError) -> bool {
    match err {
        ChainError::Rejected { message } | ChainError::Node { message, .. } => {
            message.to_ascii_lowercase().contains("nonce")
        }
        _ => false,
    }
}
