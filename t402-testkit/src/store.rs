//! [`UnreachableStore`]: a settlement store whose every operation fails, as a store that is
//! down does, counting the calls made to it.

use std::sync::atomic::{AtomicUsize, Ordering};

use t402_core::error::BoxFuture;
use t402_core::{Claim, PaymentId, SettleResponse, SettlementRecord, SettlementStore, StoreError};

/// A settlement store that cannot be reached.
#[derive(Debug, Default)]
pub struct UnreachableStore {
    calls: AtomicUsize,
}

impl UnreachableStore {
    /// How many operations were asked of it.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn refuse<'a, T: Send + 'a>(&'a self) -> BoxFuture<'a, Result<T, StoreError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(StoreError::new("connection refused")) })
    }
}

impl SettlementStore for UnreachableStore {
    fn claim<'a>(&'a self, _: &'a PaymentId, _: u64) -> BoxFuture<'a, Result<Claim, StoreError>> {
        self.refuse()
    }
    fn mark_sent<'a>(
        &'a self,
        _: &'a PaymentId,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.refuse()
    }
    fn complete<'a>(
        &'a self,
        _: &'a PaymentId,
        _: &'a SettleResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.refuse()
    }
    fn release<'a>(&'a self, _: &'a PaymentId) -> BoxFuture<'a, Result<(), StoreError>> {
        self.refuse()
    }
    fn get<'a>(
        &'a self,
        _: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<SettlementRecord>, StoreError>> {
        self.refuse()
    }
    fn increment<'a>(&'a self, _: &'a PaymentId, _: u64) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.refuse()
    }
}
