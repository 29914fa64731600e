//! [`RecordedFacilitator`]: settlement records around a facilitator, so `/settle` is idempotent
//! across retries, cancellations and replicas sharing one store.
//!
//! A settlement claims the payment's record first. The one that claims it settles in a task of
//! its own — a caller that goes away (a dropped connection, a cancelled request) does not stop
//! it — writing the transaction to the record after signing it and before broadcasting it
//! (claim before send), then the answer. A settlement of a payment already claimed sends
//! nothing: it waits (bounded) for the recorded answer, following the recorded transaction on
//! chain meanwhile — so a retry after the settling process died, or after a receipt timeout,
//! reports the transaction that went out — and every caller of one payment gets the same answer
//! from one transaction.
//!
//! Records are kept under `settle/<payment id>`, apart from a server's replay guard using the
//! same store.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use t402_core::error::BoxFuture;
use t402_core::settlement::awaits_confirmation;
use t402_core::wire::FacilitatorRequest;
use t402_core::{
    Claim, Facilitator, FacilitatorError, LocalFacilitator, PaymentId, Reason, SendJournal,
    SettleResponse, SettlementRecord, SettlementStore, SupportedResponse, VerifyResponse,
};

/// How long a settlement of a payment already in flight waits for its answer by default.
pub const DEFAULT_SETTLEMENT_WAIT: Duration = Duration::from_secs(90);

/// How often a waiting settlement reads the record.
const POLL: Duration = Duration::from_millis(50);

/// A waiting settlement follows a recorded transaction on chain every this many reads.
const FOLLOW_EVERY: u32 = 5;

/// Names the payment of a request.
pub type PaymentIdOf = Arc<dyn Fn(&FacilitatorRequest) -> Option<PaymentId> + Send + Sync>;

/// A facilitator whose settlements are recorded in a [`SettlementStore`].
pub struct RecordedFacilitator<F> {
    inner: Arc<F>,
    store: Arc<dyn SettlementStore>,
    payment_id: PaymentIdOf,
    wait: Duration,
    settlements: tokio_util::task::TaskTracker,
}

impl<F> Clone for RecordedFacilitator<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            store: self.store.clone(),
            payment_id: self.payment_id.clone(),
            wait: self.wait,
            settlements: self.settlements.clone(),
        }
    }
}

impl<F> fmt::Debug for RecordedFacilitator<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedFacilitator")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl RecordedFacilitator<LocalFacilitator> {
    /// Records the settlements of `local` in `store`, naming payments as its mechanisms do.
    pub fn new(local: LocalFacilitator, store: impl SettlementStore + 'static) -> Self {
        let local = Arc::new(local);
        let names = local.clone();
        Self::with_payment_id(
            local,
            store,
            Arc::new(move |request: &FacilitatorRequest| names.payment_id(request)),
        )
    }
}

impl<F: Facilitator + 'static> RecordedFacilitator<F> {
    /// Records the settlements of `inner` in `store`, naming payments with `payment_id`.
    pub fn with_payment_id(
        inner: Arc<F>,
        store: impl SettlementStore + 'static,
        payment_id: PaymentIdOf,
    ) -> Self {
        Self {
            inner,
            store: Arc::new(store),
            payment_id,
            wait: DEFAULT_SETTLEMENT_WAIT,
            settlements: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Settlements running now (each in a task of its own, which a caller going away does not
    /// stop).
    pub fn settlements_in_flight(&self) -> usize {
        self.settlements.len()
    }

    /// Waits, at most `within`, for the settlements in flight to finish and be recorded: for a
    /// graceful shutdown, after the server stopped taking requests. `true` when none is left.
    pub async fn drain(&self, within: Duration) -> bool {
        self.settlements.close();
        let drained = tokio::time::timeout(within, self.settlements.wait())
            .await
            .is_ok();
        self.settlements.reopen();
        drained
    }

    /// Sets how long a settlement of a payment in flight waits for its answer (default
    /// [`DEFAULT_SETTLEMENT_WAIT`]).
    #[must_use]
    pub fn with_settlement_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The facilitator recorded.
    pub fn inner(&self) -> &Arc<F> {
        &self.inner
    }

    async fn settle_recorded(
        &self,
        request: &FacilitatorRequest,
    ) -> Result<SettleResponse, FacilitatorError> {
        let Some(payment) = (self.payment_id)(request) else {
            return self.inner.settle(request).await;
        };
        let id = PaymentId::from_parts(["settle", payment.as_str()]);
        let expires_at = expiry_of(request);
        // A store that cannot be reached stops the settlement before anything is sent.
        let claim =
            self.store
                .claim(&id, expires_at)
                .await
                .map_err(|err| FacilitatorError::Internal {
                    reason: Reason::T402SettlementStoreUnavailable,
                    source: Box::new(err),
                })?;
        match claim {
            Claim::Claimed => self.settle_detached(id, request.clone()).await,
            Claim::Existing(record) => Ok(self.wait_for(&id, record, request).await),
            _ => Err(FacilitatorError::Unavailable(
                "unknown settlement record".into(),
            )),
        }
    }

    /// Settles in a task of its own and records the answer; the caller awaits it, but its going
    /// away does not stop the settlement.
    async fn settle_detached(
        &self,
        id: PaymentId,
        request: FacilitatorRequest,
    ) -> Result<SettleResponse, FacilitatorError> {
        let inner = self.inner.clone();
        let store = self.store.clone();
        let task = self.settlements.spawn(async move {
            let journal = SendJournal::new(store.as_ref(), &id);
            let outcome = inner.settle_journaled(&request, journal).await;
            let recorded = match &outcome {
                // Sent, outcome not known yet: the record stays `sent`, later calls follow it.
                Ok(settled) if awaits_confirmation(settled) => {
                    let transaction = settled.transaction.as_deref().unwrap_or_default();
                    store.mark_sent(&id, transaction).await
                }
                Ok(settled) if sent(settled) => store.complete(&id, settled).await,
                // Nothing was sent: the payment may be presented again.
                Ok(_) => store.release(&id).await,
                // Unknown whether anything was sent: the record stays until it expires.
                Err(_) => Ok(()),
            };
            if let Err(err) = recorded {
                tracing::warn!(payment = %id, error = %err, "settlement record not updated");
            }
            outcome
        });
        task.await.map_err(|err| FacilitatorError::Internal {
            reason: Reason::UnexpectedSettleError,
            source: Box::new(err),
        })?
    }

    /// The answer of a settlement already claimed: the recorded one, waited for while in flight.
    async fn wait_for(
        &self,
        id: &PaymentId,
        mut record: SettlementRecord,
        request: &FacilitatorRequest,
    ) -> SettleResponse {
        let deadline = Instant::now() + self.wait;
        let mut reads = 0u32;
        loop {
            match &record {
                SettlementRecord::Done(settled) => return (**settled).clone(),
                SettlementRecord::Sent { transaction } if reads.is_multiple_of(FOLLOW_EVERY) => {
                    if let Some(settled) = self.follow(id, request, transaction).await {
                        return settled;
                    }
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                break;
            }
            reads = reads.wrapping_add(1);
            tokio::time::sleep(POLL).await;
            match self.store.get(id).await {
                Ok(Some(next)) => record = next,
                // Released (nothing sent) or expired: no recorded answer to give.
                Ok(None) => break,
                Err(_) => {}
            }
        }
        let mut answer =
            SettleResponse::failure(Reason::DuplicateSettlement, network_of(request), None)
                .with_message("this payment is being or was settled by another request");
        if let SettlementRecord::Sent { transaction } = record {
            answer.transaction = Some(transaction);
        }
        answer
    }

    /// The final answer of a recorded transaction, recorded for the next caller; `None` while
    /// it is pending (or the chain cannot be read).
    async fn follow(
        &self,
        id: &PaymentId,
        request: &FacilitatorRequest,
        transaction: &str,
    ) -> Option<SettleResponse> {
        let settled = match self.inner.follow(request, transaction).await {
            Ok(Some(settled)) if !awaits_confirmation(&settled) => settled,
            Ok(_) => return None,
            Err(err) => {
                tracing::debug!(payment = %id, error = %err, "recorded transaction not followed");
                return None;
            }
        };
        if let Err(err) = self.store.complete(id, &settled).await {
            tracing::warn!(payment = %id, error = %err, "settlement record not updated");
        }
        Some(settled)
    }
}

/// Whether a settlement answer says a transaction went out (then its record is kept, else the
/// claim is released).
pub(crate) fn sent(settled: &SettleResponse) -> bool {
    settled.success
        || settled
            .transaction
            .as_deref()
            .is_some_and(|transaction| !transaction.is_empty())
}

fn network_of(request: &FacilitatorRequest) -> String {
    match request {
        FacilitatorRequest::V2(request) => request.payment_requirements.network.to_string(),
        FacilitatorRequest::V1(request) => request.payment_requirements.network.clone(),
        _ => String::new(),
    }
}

/// When the record of a request's payment may go: after its validity (`maxTimeoutSeconds`)
/// plus a margin.
fn expiry_of(request: &FacilitatorRequest) -> u64 {
    let validity = match request {
        FacilitatorRequest::V2(request) => request.payment_requirements.max_timeout_seconds,
        FacilitatorRequest::V1(request) => request.payment_requirements.max_timeout_seconds,
        _ => 3_600,
    };
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_add(validity)
        .saturating_add(600)
}

impl<F: Facilitator + 'static> Facilitator for RecordedFacilitator<F> {
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        self.inner.verify(request)
    }

    fn settle<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(self.settle_recorded(request))
    }

    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        self.inner.supported()
    }

    fn health(&self) -> BoxFuture<'_, Vec<t402_core::health::ChainHealth>> {
        self.inner.health()
    }

    fn payment_id(&self, request: &FacilitatorRequest) -> Option<PaymentId> {
        (self.payment_id)(request)
    }
}
