//! Settlement records: the identity of a payment ([`PaymentId`]) and the store that remembers
//! what happened to it ([`SettlementStore`]), so a payment is served once and settled once.
//!
//! A record goes through these states:
//!
//! ```text
//!   claim ──► Claimed ──► Sent { transaction } ──► Done(SettleResponse)
//!                │
//!                └──► released (failed before anything was sent: the payer may pay again)
//! ```
//!
//! [`SettlementStore::claim`] is atomic: of any number of concurrent claims of one id, exactly
//! one gets [`Claim::Claimed`]; the others get [`Claim::Existing`] with the record as it stands.
//! Every record carries an expiry (Unix seconds, normally the authorization's own expiry plus a
//! margin) after which it is dropped: by then the payment can no longer move funds.
//!
//! [`MemorySettlementStore`] keeps records in this process. Backends shared by several
//! processes (Redis) implement the same trait in the crates that carry their client.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{BoxError, BoxFuture};
use crate::wire::SettleResponse;

/// The identity of one payment, the same however its bytes are re-encoded: for EIP-3009,
/// chain id, token, payer and nonce; for Solana, a hash of the transaction's message.
///
/// Mechanisms make it ([`FacilitatorMechanism::payment_id`](crate::FacilitatorMechanism::payment_id));
/// the text is opaque to everything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentId(String);

impl PaymentId {
    /// An id from its parts, joined with `/` (`"exact/eip155:8453/0xtoken/0xfrom/0xnonce"`).
    pub fn from_parts<I, S>(parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut text = String::new();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                text.push('/');
            }
            text.push_str(part.as_ref());
        }
        Self(text)
    }

    /// An id from its text, its parts already joined with `/`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is known of a payment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SettlementRecord {
    /// Someone holds the payment: it is being verified, served or settled.
    Claimed,
    /// A settlement transaction was signed and recorded (it may or may not have reached the
    /// chain yet).
    Sent {
        /// The transaction id (hash or signature).
        transaction: String,
    },
    /// Settlement finished; this is its answer.
    Done(Box<SettleResponse>),
}

/// The answer to [`SettlementStore::claim`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller now holds the payment.
    Claimed,
    /// Someone else holds it, or held it: the record as it stands.
    Existing(SettlementRecord),
}

/// Why a store could not answer (the store is down, timed out, ...). Callers fail closed: a
/// payment whose record cannot be read is neither served nor settled.
#[derive(Debug, thiserror::Error)]
#[error("settlement store unavailable: {0}")]
pub struct StoreError(#[source] pub BoxError);

impl StoreError {
    /// An error from any source.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self(source.into())
    }
}

/// Where settlement records live. Implementations must make [`claim`](Self::claim) atomic.
pub trait SettlementStore: Send + Sync {
    /// Claims `id` until `expires_at` (Unix seconds) unless a record exists.
    fn claim<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Records the transaction of a claimed payment, before it is broadcast.
    fn mark_sent<'a>(
        &'a self,
        id: &'a PaymentId,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records the final answer of a settlement.
    fn complete<'a>(
        &'a self,
        id: &'a PaymentId,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Drops the record of a settlement that moved nothing — a bare claim, or a transaction
    /// recorded and then refused by the node — so the payer may pay again. Only the holder of
    /// the claim calls it; a [`SettlementRecord::Done`] record is kept.
    fn release<'a>(&'a self, id: &'a PaymentId) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The record of `id`, if any.
    fn get<'a>(
        &'a self,
        id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<SettlementRecord>, StoreError>>;

    /// Adds one to the counter `id` (absent or expired counts as 0), kept until `expires_at`
    /// (Unix seconds, set when the counter is created), and returns the new value. Atomic: of
    /// any number of concurrent increments, on any instance sharing the store, each gets a
    /// different value. Counters use ids of their own, apart from settlement records.
    fn increment<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
}

impl<S: SettlementStore + ?Sized> SettlementStore for Arc<S> {
    fn claim<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        (**self).claim(id, expires_at)
    }
    fn mark_sent<'a>(
        &'a self,
        id: &'a PaymentId,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).mark_sent(id, transaction)
    }
    fn complete<'a>(
        &'a self,
        id: &'a PaymentId,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(id, response)
    }
    fn release<'a>(&'a self, id: &'a PaymentId) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(id)
    }
    fn get<'a>(
        &'a self,
        id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<SettlementRecord>, StoreError>> {
        (**self).get(id)
    }
    fn increment<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        (**self).increment(id, expires_at)
    }
}

/// Where a settling mechanism writes down its transaction before broadcasting it, so a retry —
/// in this process or another, after a crash — follows that transaction instead of sending
/// another. [`SendJournal::none`] records nothing (a facilitator used without a store).
#[derive(Clone, Copy)]
pub struct SendJournal<'a> {
    record: Option<(&'a dyn SettlementStore, &'a PaymentId)>,
}

impl fmt::Debug for SendJournal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendJournal")
            .field("payment", &self.record.map(|(_, id)| id))
            .finish()
    }
}

impl<'a> SendJournal<'a> {
    /// A journal that records nothing.
    pub fn none() -> Self {
        Self { record: None }
    }

    /// A journal writing to the record of `id` in `store` (which the caller has claimed).
    pub fn new(store: &'a dyn SettlementStore, id: &'a PaymentId) -> Self {
        Self {
            record: Some((store, id)),
        }
    }

    /// The payment recorded, if any.
    pub fn payment(&self) -> Option<&'a PaymentId> {
        self.record.map(|(_, id)| id)
    }

    /// Records `transaction` (a hash or signature) as sent. Called after signing and before
    /// broadcasting: when it fails, the mechanism must not broadcast.
    pub async fn sent(&self, transaction: &str) -> Result<(), StoreError> {
        match self.record {
            Some((store, id)) => store.mark_sent(id, transaction).await,
            None => Ok(()),
        }
    }
}

/// Whether a settlement answer names a transaction whose outcome is not known yet (no receipt
/// or confirmation before the deadline): its record stays [`SettlementRecord::Sent`] and a later
/// settlement follows the transaction rather than answering this again.
pub fn awaits_confirmation(response: &SettleResponse) -> bool {
    use crate::Reason;
    !response.success
        && response
            .transaction
            .as_deref()
            .is_some_and(|transaction| !transaction.is_empty())
        && matches!(
            response.error_reason,
            Some(
                Reason::InvalidExactEvmFailedToGetReceipt
                    | Reason::InvalidUptoEvmFailedToGetReceipt
                    | Reason::SettleExactSvmTransactionConfirmationTimedOut
                    | Reason::DuplicateSettlement
            )
        )
}

/// Reads the current time in Unix seconds.
pub type UnixClock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Settlement records in this process's memory: the default store. Expired records are dropped
/// as new claims arrive.
#[derive(Clone)]
pub struct MemorySettlementStore {
    inner: Arc<Mutex<Records>>,
    clock: UnixClock,
}

/// The records and when to sweep expired ones next.
///
/// Records are keyed by a 128-bit keyed hash of the payment id ([`Records::key`]) rather than
/// the id's text: a busy server holds hundreds of thousands of records (every payment of the
/// last few minutes), and one heap allocation per record slows every other allocation of the
/// process down. The two SipHash keys are random per store, so ids that collide cannot be
/// crafted, and chance collisions need about 2^64 records.
struct Records {
    by_id: HashMap<u128, (SettlementRecord, u64), BuildHasherDefault<KeyHasher>>,
    /// Counters: value and expiry.
    counters: HashMap<u128, (u64, u64), BuildHasherDefault<KeyHasher>>,
    keys: (RandomState, RandomState),
    sweep_at: usize,
}

/// Hashes a record key, already a keyed hash, by taking its low bits.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

impl Records {
    fn key(&self, id: &PaymentId) -> u128 {
        let high = self.keys.0.hash_one(id.as_str());
        let low = self.keys.1.hash_one(id.as_str());
        (u128::from(high) << 64) | u128::from(low)
    }
}

impl Default for MemorySettlementStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemorySettlementStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySettlementStore")
            .field("records", &self.len())
            .finish()
    }
}

/// The number of records at which the first sweep of expired ones runs.
const FIRST_SWEEP: usize = 1024;

impl MemorySettlementStore {
    /// An empty store reading the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(system_now))
    }

    /// An empty store reading time from `clock` (Unix seconds).
    pub fn with_clock(clock: UnixClock) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Records {
                by_id: HashMap::default(),
                counters: HashMap::default(),
                keys: (RandomState::new(), RandomState::new()),
                sweep_at: FIRST_SWEEP,
            })),
            clock,
        }
    }

    /// How many records are held (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim_now(&self, id: &PaymentId, expires_at: u64) -> Claim {
        let now = (self.clock)();
        let mut records = self.lock();
        if records.by_id.len() >= records.sweep_at {
            records.by_id.retain(|_, (_, expiry)| *expiry > now);
            records.sweep_at = (records.by_id.len() * 2).max(FIRST_SWEEP);
        }
        let key = records.key(id);
        match records.by_id.get(&key) {
            Some((record, expiry)) if *expiry > now => Claim::Existing(record.clone()),
            _ => {
                records
                    .by_id
                    .insert(key, (SettlementRecord::Claimed, expires_at));
                Claim::Claimed
            }
        }
    }

    fn increment_now(&self, id: &PaymentId, expires_at: u64) -> u64 {
        let now = (self.clock)();
        let mut records = self.lock();
        if records.counters.len() >= FIRST_SWEEP && records.counters.len() >= records.sweep_at {
            records.counters.retain(|_, (_, expiry)| *expiry > now);
        }
        let key = records.key(id);
        let entry = records.counters.entry(key).or_insert((0, expires_at));
        if entry.1 <= now {
            *entry = (0, expires_at);
        }
        entry.0 += 1;
        entry.0
    }

    fn update(&self, id: &PaymentId, record: SettlementRecord) {
        let mut records = self.lock();
        let key = records.key(id);
        if let Some(entry) = records.by_id.get_mut(&key) {
            entry.0 = record;
        }
    }

    fn get_now(&self, id: &PaymentId) -> Option<SettlementRecord> {
        let now = (self.clock)();
        let records = self.lock();
        records
            .by_id
            .get(&records.key(id))
            .filter(|(_, expiry)| *expiry > now)
            .map(|(record, _)| record.clone())
    }
}

impl SettlementStore for MemorySettlementStore {
    fn claim<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { Ok(self.claim_now(id, expires_at)) })
    }

    fn mark_sent<'a>(
        &'a self,
        id: &'a PaymentId,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.update(
                id,
                SettlementRecord::Sent {
                    transaction: transaction.to_owned(),
                },
            );
            Ok(())
        })
    }

    fn complete<'a>(
        &'a self,
        id: &'a PaymentId,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.update(id, SettlementRecord::Done(Box::new(response.clone())));
            Ok(())
        })
    }

    fn release<'a>(&'a self, id: &'a PaymentId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut records = self.lock();
            let key = records.key(id);
            if !matches!(
                records.by_id.get(&key),
                Some((SettlementRecord::Done(_), _))
            ) {
                records.by_id.remove(&key);
            }
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<SettlementRecord>, StoreError>> {
        Box::pin(async move { Ok(self.get_now(id)) })
    }
    fn increment<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.increment_now(id, expires_at)) })
    }
}
