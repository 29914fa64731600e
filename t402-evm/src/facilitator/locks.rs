//! [`PayerLocks`]: one settlement per payer at a time, so a nonce check and the send that
//! follows cannot interleave with another settlement of the same authorization.

use std::hash::{Hash, Hasher};

use alloy_primitives::Address;
use tokio::sync::{Mutex, MutexGuard};

/// Payers hash onto this many locks.
pub(crate) const PAYER_LOCK_STRIPES: usize = 64;

/// Striped locks keyed by payer.
pub(crate) struct PayerLocks {
    stripes: Box<[Mutex<()>]>,
}

impl PayerLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..PAYER_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for `payer`'s lock.
    pub(crate) async fn lock(&self, payer: Address) -> MutexGuard<'_, ()> {
        self.stripes[stripe_of(payer)].lock().await
    }
}

/// The payer's lock stripe (`DefaultHasher::new` has fixed keys, so a payer always maps to the
/// same stripe).
fn stripe_of(payer: Address) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    payer.hash(&mut hasher);
    (hasher.finish() % PAYER_LOCK_STRIPES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payer_always_maps_to_the_same_stripe() {
        let payer = Address::repeat_byte(7);
        assert_eq!(stripe_of(payer), stripe_of(payer));
        assert!(stripe_of(payer) < PAYER_LOCK_STRIPES);
    }
}
