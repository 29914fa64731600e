//! [`PendingTransactions`]: transactions sent whose receipt did not arrive in time, so a retried
//! settlement reports them instead of sending again. A record ends when its authorization
//! expires, since the transaction can no longer pay after that.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy_primitives::{Address, B256, U256};

/// Identifies one authorization: token, payer and nonce.
pub(crate) type AuthorizationKey = (Address, Address, B256);

/// A transaction sent without a receipt before the deadline.
#[derive(Debug, Clone, Copy)]
struct Pending {
    hash: B256,
    /// The authorization's `validBefore`.
    valid_before: U256,
}

/// The pending transactions of one facilitator.
#[derive(Default)]
pub(crate) struct PendingTransactions {
    by_key: Mutex<HashMap<AuthorizationKey, Pending>>,
}

impl PendingTransactions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AuthorizationKey, Pending>> {
        self.by_key
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The pending transaction of `key`, dropping records expired at `now`.
    pub(crate) fn get(&self, key: &AuthorizationKey, now: u64) -> Option<B256> {
        let mut pending = self.lock();
        pending.retain(|_, tx| tx.valid_before > U256::from(now));
        pending.get(key).map(|tx| tx.hash)
    }

    /// Records a sent transaction without a receipt.
    pub(crate) fn insert(&self, key: AuthorizationKey, hash: B256, valid_before: U256) {
        self.lock().insert(key, Pending { hash, valid_before });
    }

    /// Forgets a record once its receipt is known.
    pub(crate) fn remove(&self, key: &AuthorizationKey) {
        self.lock().remove(key);
    }

    /// How many records are still live at `now`.
    pub(crate) fn live(&self, now: u64) -> usize {
        let mut pending = self.lock();
        pending.retain(|_, tx| tx.valid_before > U256::from(now));
        pending.len()
    }
}
