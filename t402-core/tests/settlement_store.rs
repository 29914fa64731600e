//! The in-memory settlement store: one claim wins, records move claimed → sent → done, a
//! released claim can be claimed again, records expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use t402_core::{
    Claim, MemorySettlementStore, PaymentId, SettleResponse, SettlementRecord, SettlementStore,
};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // The memory store never waits: one poll finishes it.
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the memory store does not wait"),
    }
}

fn store_at(now: Arc<AtomicU64>) -> MemorySettlementStore {
    MemorySettlementStore::with_clock(Arc::new(move || now.load(Ordering::SeqCst)))
}

fn id(n: u32) -> PaymentId {
    PaymentId::from_parts(["exact", "eip155:8453", &n.to_string()])
}

#[test]
fn ids_join_their_parts() {
    assert_eq!(id(7).as_str(), "exact/eip155:8453/7");
    assert_eq!(id(7).to_string(), "exact/eip155:8453/7");
}

#[test]
fn the_first_claim_wins_and_later_ones_see_the_record() {
    let now = Arc::new(AtomicU64::new(1_000));
    let store = store_at(now);
    let payment = id(1);
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Existing(SettlementRecord::Claimed)
    );
    block_on(store.mark_sent(&payment, "0xabc")).unwrap();
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Existing(SettlementRecord::Sent {
            transaction: "0xabc".into()
        })
    );
    let done = SettleResponse::success("0xabc", "eip155:8453", "0xpayer");
    block_on(store.complete(&payment, &done)).unwrap();
    assert_eq!(
        block_on(store.get(&payment)).unwrap(),
        Some(SettlementRecord::Done(Box::new(done.clone())))
    );
    // A release after sending keeps the record: the payment was spent.
    block_on(store.release(&payment)).unwrap();
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Existing(SettlementRecord::Done(Box::new(done)))
    );
    // Other ids are untouched.
    assert_eq!(
        block_on(store.claim(&id(2), 2_000)).unwrap(),
        Claim::Claimed
    );
}

#[test]
fn a_released_claim_can_be_claimed_again() {
    let store = store_at(Arc::new(AtomicU64::new(1_000)));
    let payment = id(3);
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Claimed
    );
    block_on(store.release(&payment)).unwrap();
    assert_eq!(block_on(store.get(&payment)).unwrap(), None);
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Claimed
    );
}

#[test]
fn records_expire_and_are_swept() {
    let now = Arc::new(AtomicU64::new(1_000));
    let store = store_at(now.clone());
    assert_eq!(
        block_on(store.claim(&id(4), 1_010)).unwrap(),
        Claim::Claimed
    );
    now.store(1_010, Ordering::SeqCst);
    assert_eq!(block_on(store.get(&id(4))).unwrap(), None);
    assert_eq!(
        block_on(store.claim(&id(4), 1_020)).unwrap(),
        Claim::Claimed
    );

    // Many expired records are dropped once the store grows.
    for n in 0..1_000 {
        block_on(store.claim(&id(10 + n), 1_030)).unwrap();
    }
    now.store(1_031, Ordering::SeqCst);
    for n in 0..100 {
        block_on(store.claim(&id(5_000 + n), 9_999)).unwrap();
    }
    assert!(store.len() <= 101, "{} records left", store.len());
}

#[test]
fn concurrent_claims_of_one_id_have_one_winner() {
    let store = MemorySettlementStore::new();
    let payment = id(9);
    let winners: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    (0..100)
                        .filter(|_| {
                            block_on(store.claim(&payment, u64::MAX)).unwrap() == Claim::Claimed
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
}

#[test]
fn shared_stores_are_stores() {
    fn takes(_: &dyn SettlementStore) {}
    let shared: Arc<dyn SettlementStore> = Arc::new(MemorySettlementStore::new());
    takes(&shared);
}
