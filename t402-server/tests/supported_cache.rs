//! The `/supported` cache under load and failure: one fetch however many requests wait, and the
//! last good answer served for a bounded time while the facilitator cannot be asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use t402_core::error::BoxFuture;
use t402_core::wire::{FacilitatorRequest, SupportedKind};
use t402_core::{
    Facilitator, FacilitatorError, ProtocolVersion, SettleResponse, SupportedResponse,
    VerifyResponse, VersionKey,
};
use t402_server::facilitator::Facilitators;

/// Lists one kind; counts `/supported` calls, each taking a while; fails when told to.
#[derive(Default)]
struct Slow {
    calls: AtomicUsize,
    failing: AtomicBool,
}

impl Facilitator for Slow {
    fn verify<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(async { Err(FacilitatorError::Unavailable("not here".into())) })
    }
    fn settle<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async { Err(FacilitatorError::Unavailable("not here".into())) })
    }
    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.failing.load(Ordering::SeqCst) {
                return Err(FacilitatorError::Unavailable("connection refused".into()));
            }
            let mut answer = SupportedResponse::default();
            answer.kinds.push(SupportedKind::new(
                ProtocolVersion::new(2, VersionKey::X402),
                "exact",
                "eip155:84532",
            ));
            Ok(answer)
        })
    }
}

async fn ask_concurrently(facilitators: &Arc<Facilitators>, n: usize) -> Vec<bool> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let facilitators = facilitators.clone();
            tokio::spawn(async move {
                facilitators
                    .kind(2, "exact", "eip155:84532")
                    .await
                    .map(|kind| kind.is_some())
                    .unwrap_or(false)
            })
        })
        .collect();
    let mut found = Vec::new();
    for task in tasks {
        found.push(task.await.unwrap());
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_fetch_supported_once() {
    let slow = Arc::new(Slow::default());
    let facilitators = Arc::new(Facilitators::new(vec![slow.clone()]));
    assert!(ask_concurrently(&facilitators, 20).await.iter().all(|f| *f));
    assert_eq!(slow.calls.load(Ordering::SeqCst), 1);

    // Expired: the next wave fetches once again.
    facilitators.invalidate();
    assert!(ask_concurrently(&facilitators, 20).await.iter().all(|f| *f));
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_serves_the_last_good_answer_once_tried() {
    let slow = Arc::new(Slow::default());
    let facilitators = Arc::new(Facilitators::new(vec![slow.clone()]));
    assert!(ask_concurrently(&facilitators, 1).await[0]);
    slow.failing.store(true, Ordering::SeqCst);
    facilitators.invalidate();
    // Twenty waiters, one failed attempt, and every one served from the last good answer.
    assert!(ask_concurrently(&facilitators, 20).await.iter().all(|f| *f));
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2);

    // Without a grace period, the failure is the answer, still after one attempt per wave.
    let slow = Arc::new(Slow::default());
    let facilitators =
        Arc::new(Facilitators::new(vec![slow.clone()]).with_stale_for(Duration::ZERO));
    assert!(ask_concurrently(&facilitators, 1).await[0]);
    slow.failing.store(true, Ordering::SeqCst);
    facilitators.invalidate();
    assert!(
        ask_concurrently(&facilitators, 20)
            .await
            .iter()
            .all(|f| !*f)
    );
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2);
}
