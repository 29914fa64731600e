//! Idempotent settlement across replicas: two facilitator replicas (each with its own key) on one
//! anvil share one settlement store; one payment is settled on both at once, each request
//! cancelled after a random 0–500 ms, round after round. Exactly one transaction per payment, and
//! a final `/settle` answers with its hash and `success: true`. A settlement whose receipt did not
//! come in time is followed by the next call, on any replica, instead of being sent again. With
//! the in-memory store shared in process, and with Redis.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use serde_json::json;
use t402_core::{Facilitator, LocalFacilitator, MemorySettlementStore, Reason, SettlementStore};
use t402_server::facilitator::RecordedFacilitator;
use t402_testkit::AnvilWorld;

const PRICE: u64 = 1_000;
const ROUNDS: usize = 50;

/// A deterministic stream of delays in 0..500 ms.
struct Delays(u64);

impl Delays {
    fn next(&mut self) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        Duration::from_millis((self.0 >> 33) % 500)
    }
}

async fn replica(
    world: &AnvilWorld,
    store: Arc<dyn SettlementStore>,
) -> RecordedFacilitator<LocalFacilitator> {
    RecordedFacilitator::new(world.replica(Duration::from_secs(60)).await, store)
}

async fn rounds_pay_once_each(world: &AnvilWorld, store: Arc<dyn SettlementStore>) {
    let replicas = [
        Arc::new(replica(world, store.clone()).await),
        Arc::new(replica(world, store).await),
    ];
    let mut delays = Delays(7);
    for round in 0..ROUNDS {
        let request = world.payment(PRICE).await;
        let before = world.block_number().await;
        let tasks: Vec<_> = replicas
            .iter()
            .map(|replica| {
                let (replica, request, delay) = (replica.clone(), request.clone(), delays.next());
                tokio::spawn(
                    async move { tokio::time::timeout(delay, replica.settle(&request)).await },
                )
            })
            .collect();
        for task in tasks {
            let _ = task.await.unwrap();
        }
        // Whatever was cancelled, the final settlement answers with the one transaction.
        let last = replicas[round % 2].settle(&request).await.unwrap();
        assert!(last.success, "round {round}: {last:?}");
        assert!(last.transaction.as_deref().unwrap().starts_with("0x"));
        let again = replicas[(round + 1) % 2].settle(&request).await.unwrap();
        assert_eq!(again, last, "round {round}: the same answer everywhere");
        assert_eq!(
            world.block_number().await,
            before + 1,
            "round {round}: exactly one transaction"
        );
    }
    let balance = world.token_balance(world.pay_to).await;
    assert_eq!(balance, U256::from(PRICE * ROUNDS as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_a_memory_store_settle_each_payment_once() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    rounds_pay_once_each(&world, Arc::new(MemorySettlementStore::new())).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_redis_settle_each_payment_once() {
    let Some(redis) = t402_testkit::redis::RedisServer::start() else {
        return;
    };
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let store = t402_server::store::RedisSettlementStore::connect(&redis.url())
        .await
        .unwrap();
    rounds_pay_once_each(&world, Arc::new(store)).await;
}

async fn a_pending_settlement_is_followed_not_sent_again(
    world: &AnvilWorld,
    store: Arc<dyn SettlementStore>,
) {
    let impatient = RecordedFacilitator::new(
        world.replica(Duration::from_millis(300)).await,
        store.clone(),
    );
    let other = Arc::new(replica(world, store).await);
    let request = world.payment(PRICE).await;
    let before = world.block_number().await;
    // No block comes: the first settlement broadcasts and gives up waiting for the receipt.
    world.set_automine(false).await;
    let pending = impatient.settle(&request).await.unwrap();
    assert!(!pending.success, "{pending:?}");
    assert_eq!(
        pending.error_reason,
        Some(Reason::InvalidExactEvmFailedToGetReceipt)
    );
    let hash = pending.transaction.clone().unwrap();
    // The next settlement, on another replica, follows the recorded transaction.
    let followed = {
        let (other, request) = (other.clone(), request.clone());
        tokio::spawn(async move { other.settle(&request).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.mine().await;
    let settled = tokio::time::timeout(Duration::from_secs(30), followed)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    world.set_automine(true).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.transaction.as_deref(), Some(&*hash));
    assert_eq!(world.block_number().await, before + 1);
    let block = world
        .anvil
        .chain
        .raw_request("eth_getBlockByNumber", json!(["latest", false]))
        .await
        .unwrap();
    assert_eq!(
        block["transactions"],
        json!([hash]),
        "one transaction, the first one"
    );
    // Every replica now answers with the recorded outcome.
    assert_eq!(impatient.settle(&request).await.unwrap(), settled);
    assert_eq!(world.token_balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_settlement_in_a_memory_store_is_followed_not_sent_again() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    a_pending_settlement_is_followed_not_sent_again(&world, Arc::new(MemorySettlementStore::new()))
        .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_settlement_in_redis_is_followed_not_sent_again() {
    let Some(redis) = t402_testkit::redis::RedisServer::start() else {
        return;
    };
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let store = t402_server::store::RedisSettlementStore::connect(&redis.url())
        .await
        .unwrap();
    a_pending_settlement_is_followed_not_sent_again(&world, Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facilitator_whose_store_is_down_answers_503_and_sends_nothing() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let recorded = RecordedFacilitator::new(
        world.replica(Duration::from_secs(60)).await,
        t402_testkit::UnreachableStore::default(),
    );
    let base = t402_testkit::serve(t402_server::facilitator_router(Arc::new(recorded))).await;
    let before = world.block_number().await;
    let response = reqwest::Client::new()
        .post(format!("{base}/settle"))
        .json(&world.payment(PRICE).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "t402_settlement_store_unavailable", "{body}");
    assert_eq!(world.block_number().await, before, "nothing was sent");
}
