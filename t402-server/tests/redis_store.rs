//! The Redis settlement store against a real redis-server: the store's semantics; two server
//! instances and two facilitator replicas on anvil sharing one payment's fate (1000 concurrent
//! presentations, one served, one transaction); and a Redis outage (paid requests refused with
//! 503, service back by itself when Redis returns).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use common::*;
use t402_core::{Claim, PaymentId, SettleResponse, SettlementRecord, SettlementStore};
use t402_server::store::RedisSettlementStore;
use t402_testkit::redis::RedisServer;

fn id(n: u32) -> PaymentId {
    PaymentId::from_parts(["exact", "eip155:31337", &n.to_string()])
}

fn far() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3_600
}

#[tokio::test]
async fn records_move_from_claimed_to_sent_to_done_and_unanswered_records_are_released() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisSettlementStore::connect(&redis.url()).await.unwrap();
    let other = RedisSettlementStore::connect(&redis.url()).await.unwrap();

    assert_eq!(store.claim(&id(1), far()).await.unwrap(), Claim::Claimed);
    assert_eq!(
        other.claim(&id(1), far()).await.unwrap(),
        Claim::Existing(SettlementRecord::Claimed),
        "another connection sees the claim"
    );
    store.mark_sent(&id(1), "0xabc").await.unwrap();
    assert_eq!(
        other.get(&id(1)).await.unwrap(),
        Some(SettlementRecord::Sent {
            transaction: "0xabc".into()
        })
    );
    let done = SettleResponse::success("0xabc", "eip155:31337", "0xpayer");
    store.complete(&id(1), &done).await.unwrap();
    // A release after the answer was recorded keeps the record: the payment was spent.
    other.release(&id(1)).await.unwrap();
    assert_eq!(
        other.claim(&id(1), far()).await.unwrap(),
        Claim::Existing(SettlementRecord::Done(Box::new(done)))
    );

    // A transaction recorded and then refused by the node is released with its claim.
    assert_eq!(store.claim(&id(5), far()).await.unwrap(), Claim::Claimed);
    store.mark_sent(&id(5), "0xrefused").await.unwrap();
    store.release(&id(5)).await.unwrap();
    assert_eq!(other.claim(&id(5), far()).await.unwrap(), Claim::Claimed);

    // A bare claim is released and can be claimed again.
    assert_eq!(store.claim(&id(2), far()).await.unwrap(), Claim::Claimed);
    other.release(&id(2)).await.unwrap();
    assert_eq!(other.get(&id(2)).await.unwrap(), None);
    assert_eq!(other.claim(&id(2), far()).await.unwrap(), Claim::Claimed);

    // An expired claim is gone.
    let now = far() - 3_600;
    assert_eq!(store.claim(&id(3), now + 1).await.unwrap(), Claim::Claimed);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(store.claim(&id(3), far()).await.unwrap(), Claim::Claimed);

    // Updates never bring back a record that is gone.
    store.mark_sent(&id(4), "0xdef").await.unwrap();
    assert_eq!(store.get(&id(4)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_claim_wins_across_connections() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(
            RedisSettlementStore::connect(&redis.url()).await.unwrap(),
        ));
    }
    let winners = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let store = stores[n % stores.len()].clone();
            let winners = winners.clone();
            tokio::spawn(async move {
                if store.claim(&id(9), far()).await.unwrap() == Claim::Claimed {
                    winners.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(winners.load(Ordering::SeqCst), 1);
}

/// A server instance on loopback: `GET /report` priced at [`PRICE`], its facilitator at
/// `facilitator` over HTTP, records in `store`; the handler counts its calls in `handled`.
async fn server_instance(
    world: &t402_testkit::AnvilWorld,
    facilitator: &str,
    store: RedisSettlementStore,
    handled: Arc<AtomicUsize>,
) -> String {
    let layer = t402_server::PaymentLayer::builder()
        .facilitator(Arc::new(
            t402_server::facilitator::HttpFacilitator::new(facilitator).unwrap(),
        ))
        .mechanism(
            t402_core::NetworkPattern::parse("eip155:*").unwrap(),
            t402_evm::ExactEvmServer,
        )
        .route(
            "GET /report",
            t402_server::Route::new(t402_server::PaymentOption::exact(
                t402_core::Network::eip155(CHAIN),
                t402_testkit::test_token_price(world.token, PRICE),
                world.pay_to.to_checksum(None),
            )),
        )
        .settlement_store(store)
        .build_and_initialize()
        .await
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/report",
            axum::routing::get(move || async move {
                handled.fetch_add(1, Ordering::SeqCst);
                "the report"
            }),
        )
        .layer(layer);
    t402_testkit::serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_and_two_replicas_sharing_redis_serve_and_settle_one_payment_once() {
    use t402_core::ClientMechanism;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let url = redis.url();
    let store = || RedisSettlementStore::connect(&url);
    // Two facilitator replicas (a key each) recording in Redis, each served over HTTP.
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let replica = t402_server::facilitator::RecordedFacilitator::new(
            world.replica(std::time::Duration::from_secs(60)).await,
            store().await.unwrap(),
        );
        replicas
            .push(t402_testkit::serve(t402_server::facilitator_router(Arc::new(replica))).await);
    }
    // Two server instances, each with its own replica, guarding with the same Redis.
    let handled = Arc::new(AtomicUsize::new(0));
    let mut instances = Vec::new();
    for replica in &replicas {
        let base = server_instance(&world, replica, store().await.unwrap(), handled.clone()).await;
        instances.push(format!("{base}/report"));
    }
    let http = reqwest::Client::new();
    let challenge = http.get(&instances[0]).send().await.unwrap();
    assert_eq!(challenge.status(), 402);
    let required = t402_core::codec::Codec::default()
        .decode_payment_required(challenge.headers()["payment-required"].as_bytes())
        .unwrap();
    let accepted = required.accepts[0].clone();
    let signed = t402_evm::ExactEvmClient::new(world.payer.clone())
        .create_payload(2, &accepted, None)
        .await
        .unwrap();
    let payment = t402_core::codec::encode_header(&t402_core::PaymentPayload::new(
        accepted.into(),
        signed.payload,
    ));
    let before = world.block_number().await;

    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let (http, url, payment) = (http.clone(), instances[n % 2].clone(), payment.clone());
            tokio::spawn(async move {
                let response = http
                    .get(&url)
                    .header("payment-signature", &payment)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let reason = response.headers().get("payment-required").map(|header| {
                    t402_core::codec::Codec::default()
                        .decode_payment_required(header.as_bytes())
                        .unwrap()
                        .error
                });
                (status, reason.flatten())
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => served += 1,
            (402, Some(reason)) => assert_eq!(reason, "t402_payment_replayed"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(served, 1);
    assert_eq!(
        handled.load(Ordering::SeqCst),
        1,
        "the handler ran once across both instances"
    );
    assert_eq!(world.block_number().await, before + 1, "one transaction");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        alloy_primitives::U256::from(PRICE),
        "the payee was credited once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_refuses_paid_requests_until_redis_returns() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let world = World::new();
    let store = RedisSettlementStore::connect(&redis.url())
        .await
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(500));
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .settlement_store(store),
    );
    // A run under way: one payment served.
    let first = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let served = get_with(&app, "/paid", &[("payment-signature", &first)]).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(world.handled(), 1);

    redis.stop();
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    for _ in 0..3 {
        let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body_text(response)
                .await
                .contains("t402_settlement_store_unavailable")
        );
    }
    assert_eq!(world.handled(), 1, "nothing served while Redis is down");
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::from(PRICE),
        "nothing settled while Redis is down"
    );

    // Redis is back: the same layer serves the same payment, without a restart.
    redis.resume();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = get_with(&app, "/paid", &[("payment-signature", &payment)])
            .await
            .status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
    assert_eq!(world.handled(), 2);
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::from(2 * PRICE)
    );
}

/// Commands Redis has processed so far (the `INFO` asking counts from the next call).
async fn commands_processed(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut connection)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_request_costs_one_redis_round_trip() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let world = World::new();
    let store = RedisSettlementStore::connect(&redis.url()).await.unwrap();
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .settlement_store(store),
    );
    let required = required_of(&get_with(&app, "/paid", &[]).await);
    let mut payments = Vec::new();
    for _ in 0..10 {
        payments.push(world.pay(&required).await);
    }
    let before = commands_processed(&redis.url()).await;
    for payment in &payments {
        let response = get_with(&app, "/paid", &[("payment-signature", payment)]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let after = commands_processed(&redis.url()).await;
    // The second INFO counts the first one.
    assert_eq!(after - before - 1, 10, "one command per paid request");
    // A replay is refused in one too.
    let before = commands_processed(&redis.url()).await;
    let replayed = get_with(&app, "/paid", &[("payment-signature", &payments[0])]).await;
    assert_eq!(replayed.status(), StatusCode::PAYMENT_REQUIRED);
    let after = commands_processed(&redis.url()).await;
    assert_eq!(after - before - 1, 1, "one command per replay");
}

#[tokio::test]
async fn counters_are_atomic_across_connections_and_expire() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(
            RedisSettlementStore::connect(&redis.url()).await.unwrap(),
        ));
    }
    let counter = PaymentId::from_parts(["entitlement", "shared"]);
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let store = stores[n % stores.len()].clone();
            let counter = counter.clone();
            tokio::spawn(async move { store.increment(&counter, far()).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=200).collect::<Vec<u64>>(),
        "each increment saw its own value"
    );
    // Created with an expiry in the past: gone at once, counted again from one.
    let short = PaymentId::from_parts(["entitlement", "short"]);
    assert_eq!(stores[0].increment(&short, 1).await.unwrap(), 1);
    assert_eq!(stores[0].increment(&short, far()).await.unwrap(), 1);
}
