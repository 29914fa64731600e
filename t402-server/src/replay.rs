//! The replay guard: a payment is claimed in the settlement store before it is verified, so a
//! second presentation of it — while the first is in flight, or after it was paid — gets 402
//! `t402_payment_replayed` and never reaches the handler. A claim that ends without money moving
//! is released, so the payer may present the payment again; a paid one stays claimed until it
//! expires (after the payment's own validity), which is all a replay needs to be refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use t402_core::{Claim, PaymentId, SettleResponse, SettlementStore, StoreError};

use crate::error::PaymentError;
use crate::hooks::PaymentEvent;
use crate::state::LayerState;

/// How long past the payment's own validity its record is kept.
const RECORD_MARGIN_SECS: u64 = 60;

/// How a paid request ended, for its claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing was sent: the payer may present the payment again.
    Release,
    /// The payment is spent (a transaction was sent for it), or it is unknown whether anything
    /// was sent (the facilitator failed during settlement, the handler failed after
    /// settlement): the claim stays until it expires.
    Keep,
}

impl Outcome {
    /// The outcome of a settlement answer: kept once a transaction went out, else released.
    pub(crate) fn of_settlement(settled: &SettleResponse) -> Self {
        if crate::facilitator::sent(settled) {
            Self::Keep
        } else {
            Self::Release
        }
    }
}

/// A payment claimed for this request. A request that goes away (the client disconnected)
/// before settlement started releases its claim on drop, so the payer's retry is not refused as a
/// replay; once settlement started, the claim stays (it is unknown whether anything was sent).
pub(crate) struct Claimed {
    store: Arc<dyn SettlementStore>,
    id: PaymentId,
    settling: AtomicBool,
    finished: bool,
}

impl Claimed {
    /// Settlement is about to start: from now on the claim is kept if the request goes away.
    pub(crate) fn settling(&self) {
        self.settling.store(true, Ordering::Release);
    }

    /// Ends the claim as the request ended: released when nothing was sent, else kept as it is
    /// until it expires — the claim itself is the record that the payment is spent, so a paid
    /// request writes nothing more. A store that fails to release is logged: the claim then
    /// stays until it expires (the safe side).
    pub(crate) async fn finish(mut self, outcome: Outcome) {
        self.finished = true;
        if outcome == Outcome::Release
            && let Err(err) = self.store.release(&self.id).await
        {
            tracing::warn!(payment = %self.id, error = %err, "claim not released");
        }
    }
}

/// Claims the payment of `event` before it is verified. `Ok(None)` when there is no guard (or
/// the scheme names no payment id); a payment already claimed is the 402 refusal to send; a
/// store that cannot be reached is a 503 (nothing is served unguarded).
pub(crate) async fn claim(
    state: &LayerState,
    event: &PaymentEvent,
    refuse: impl FnOnce() -> PaymentError,
) -> Result<Option<Claimed>, PaymentError> {
    let Some(store) = &state.store else {
        return Ok(None);
    };
    let requirements = &event.requirements;
    let Some(id) = state
        .mechanism(&requirements.scheme, &requirements.network)
        .and_then(|mechanism| mechanism.payment_id(&event.payment, requirements))
    else {
        return Ok(None);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let expires_at = now
        .saturating_add(requirements.max_timeout_seconds)
        .saturating_add(RECORD_MARGIN_SECS);
    match store.claim(&id, expires_at).await {
        Ok(Claim::Claimed) => Ok(Some(Claimed {
            store: store.clone(),
            id,
            settling: AtomicBool::new(false),
            finished: false,
        })),
        Ok(_) => {
            tracing::info!(payment = %id, "payment presented again");
            Err(refuse())
        }
        Err(err) => Err(store_unavailable(err)),
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if self.finished || self.settling.load(Ordering::Acquire) {
            return;
        }
        // The request went away before settlement: nothing was sent, release the claim.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, id) = (self.store.clone(), self.id.clone());
            runtime.spawn(async move {
                if let Err(err) = store.release(&id).await {
                    tracing::warn!(payment = %id, error = %err, "claim not released");
                }
            });
        }
    }
}

fn store_unavailable(err: StoreError) -> PaymentError {
    tracing::error!(error = %err, "settlement store unavailable: refusing paid requests");
    PaymentError::StoreUnavailable(err)
}
