//! The in-memory settlement store: one claim wins, records move claimed → sent → done, a
//! released claim can be claimed again, records expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use t402_core::settlement::awaits_confirmation;
use t402_core::{
    Claim, MemorySettlementStore, PaymentId, Reason, SendJournal, SettleResponse, SettlementRecord,
    SettlementStore,
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
    // A release after the answer was recorded keeps the record: the payment was spent.
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
fn a_transaction_refused_after_it_was_recorded_is_released_with_its_claim() {
    let store = store_at(Arc::new(AtomicU64::new(1_000)));
    let payment = id(4);
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Claimed
    );
    block_on(store.mark_sent(&payment, "0xrefused")).unwrap();
    block_on(store.release(&payment)).unwrap();
    assert_eq!(
        block_on(store.claim(&payment, 2_000)).unwrap(),
        Claim::Claimed
    );
}

#[test]
fn a_send_journal_records_the_transaction_of_its_payment_only() {
    let store = store_at(Arc::new(AtomicU64::new(1_000)));
    let (payment, other) = (id(5), id(6));
    for claimed in [&payment, &other] {
        assert_eq!(
            block_on(store.claim(claimed, 2_000)).unwrap(),
            Claim::Claimed
        );
    }
    let journal = SendJournal::new(&store, &payment);
    assert_eq!(journal.payment(), Some(&payment));
    block_on(journal.sent("0xfeed")).unwrap();
    assert_eq!(
        block_on(store.get(&payment)).unwrap(),
        Some(SettlementRecord::Sent {
            transaction: "0xfeed".into()
        })
    );
    assert_eq!(
        block_on(store.get(&other)).unwrap(),
        Some(SettlementRecord::Claimed)
    );
    // A journal without a store records nothing and never fails.
    assert_eq!(SendJournal::none().payment(), None);
    block_on(SendJournal::none().sent("0xfeed")).unwrap();
}

#[test]
fn only_unconfirmed_answers_with_a_transaction_await_confirmation() {
    let network = "eip155:8453";
    let with_transaction = |reason: Reason| {
        let mut response = SettleResponse::failure(reason, network, None);
        response.transaction = Some("0xabc".into());
        response
    };
    assert!(awaits_confirmation(&with_transaction(
        Reason::InvalidExactEvmFailedToGetReceipt
    )));
    assert!(awaits_confirmation(&with_transaction(
        Reason::SettleExactSvmTransactionConfirmationTimedOut
    )));
    // A reverted transaction is final; an answer with no transaction sent nothing.
    assert!(!awaits_confirmation(&with_transaction(
        Reason::InvalidExactEvmTransactionFailed
    )));
    assert!(!awaits_confirmation(&SettleResponse::failure(
        Reason::InvalidExactEvmFailedToGetReceipt,
        network,
        None
    )));
    assert!(!awaits_confirmation(&SettleResponse::success(
        "0xabc", network, "0xpayer"
    )));
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

#[test]
fn counters_count_from_one_and_start_again_once_expired() {
    let now = Arc::new(AtomicU64::new(1_000));
    let store = store_at(now.clone());
    let counter = PaymentId::from_parts(["entitlement", "abc"]);
    for expected in 1..=3 {
        assert_eq!(
            block_on(store.increment(&counter, 1_100)).unwrap(),
            expected
        );
    }
    let other = PaymentId::from_parts(["entitlement", "def"]);
    assert_eq!(block_on(store.increment(&other, 1_100)).unwrap(), 1);
    // A counter is no settlement record.
    assert_eq!(block_on(store.get(&counter)).unwrap(), None);
    now.store(1_100, Ordering::SeqCst);
    assert_eq!(
        block_on(store.increment(&counter, 1_200)).unwrap(),
        1,
        "expired: counted again from one"
    );
}
