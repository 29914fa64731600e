//! Idempotent settlement across replicas: two facilitator replicas (each with its own key) on one
//! anvil share one settlement store; one payment is settled on both at once, each request
//! cancelled after a random 0–500 ms, round after round. Exactly one transaction per payment, and
//! a final `/settle` answers with its hash and `success: true`. With the in-memory store shared
//! in process, and with Redis.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use t402_core::wire::FacilitatorRequest;
use t402_core::{
    ClientMechanism, Facilitator, LocalFacilitator, MemorySettlementStore, Network, PaymentPayload,
    PaymentRequirements, SettlementStore, VerifyRequest,
};
use t402_evm::chain::call_typed;
use t402_evm::contracts::IEip3009Token;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};
use t402_server::facilitator::RecordedFacilitator;
use t402_testkit::{AnvilWorld, CHAIN};

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
    let key = PrivateKeySigner::random();
    world
        .anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    let evm = ExactEvmFacilitator::new(
        world.anvil.chain.clone(),
        FacilitatorSigners::new(CHAIN, [key]).unwrap(),
    )
    .unwrap()
    .with_receipt_poll_interval(Duration::from_millis(20));
    let local = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));
    RecordedFacilitator::new(local, store)
}

async fn block_number(world: &AnvilWorld) -> u64 {
    let number = world
        .anvil
        .chain
        .raw_request("eth_blockNumber", json!([]))
        .await
        .unwrap();
    u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn rounds_pay_once_each(world: &AnvilWorld, store: Arc<dyn SettlementStore>) {
    let replicas = [
        Arc::new(replica(world, store.clone()).await),
        Arc::new(replica(world, store).await),
    ];
    let requirements: PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact", "network": format!("eip155:{CHAIN}"), "amount": PRICE.to_string(),
        "asset": world.token.to_checksum(None), "payTo": world.pay_to.to_checksum(None),
        "maxTimeoutSeconds": 300, "extra": {"name": "USD Coin", "version": "2"}
    }))
    .unwrap();
    let client = ExactEvmClient::new(world.payer.clone());
    let mut delays = Delays(7);
    for round in 0..ROUNDS {
        let signed = client.create_payload(2, &requirements, None).await.unwrap();
        let request = FacilitatorRequest::V2(VerifyRequest::new(
            PaymentPayload::new(requirements.clone().into(), signed.payload),
            requirements.clone(),
        ));
        let before = block_number(world).await;
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
            block_number(world).await,
            before + 1,
            "round {round}: exactly one transaction"
        );
    }
    let balance = call_typed(
        &world.anvil.chain,
        world.token,
        &IEip3009Token::balanceOfCall {
            account: world.pay_to,
        },
    )
    .await
    .unwrap();
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
