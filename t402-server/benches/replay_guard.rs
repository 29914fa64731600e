//! What the replay guard costs on the paid path: paid requests per second on loopback through a
//! stub facilitator (answering valid and success at once, in process), with no guard, with the
//! in-memory store and with Redis (a redis-server of the bench's own, when installed), in
//! alternating rounds of the same run.
//!
//! Then, because a loopback run on a small machine varies by more than the guard costs, the same
//! paid request through the layer in process (no sockets, one thread), with criterion: no guard
//! and the in-memory store, each payment new (a fresh nonce; the stub does not check signatures).
//!
//! `cargo bench -p t402-server --features redis --bench replay_guard`
//! (`T402_GUARD_PAYMENTS` per mode and round, default 5000; `T402_GUARD_ROUNDS`, default 3;
//! `T402_LOAD_CONNECTIONS`, default 32).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use criterion::{BatchSize, Criterion};
use t402_core::codec::{Codec, encode_header};
use t402_core::{
    ClientMechanism, MemorySettlementStore, Network, NetworkPattern, PaymentPayload,
    PaymentRequirements,
};
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::{PaymentLayer, PaymentLayerBuilder, PaymentOption, Route};
use t402_testkit::{CHAIN, serve, test_token_price};
use tower::ServiceExt;

fn builder(token: Address) -> PaymentLayerBuilder {
    PaymentLayer::builder()
        .facilitator(t402_testkit::StubFacilitator)
        .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
        .route(
            "GET /paid",
            Route::new(PaymentOption::exact(
                Network::eip155(CHAIN),
                test_token_price(token, 1000),
                Address::repeat_byte(9).to_checksum(None),
            )),
        )
}

fn main() {
    let payments = t402_testkit::env_number("T402_GUARD_PAYMENTS", 5000);
    let rounds = t402_testkit::env_number("T402_GUARD_ROUNDS", 3);
    let connections = t402_testkit::env_number("T402_LOAD_CONNECTIONS", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = Address::repeat_byte(7);
    let accepted = runtime.block_on(async move {
        let handler = || async { "hello" };
        let app = |layer: PaymentLayer| Router::new().route("/paid", get(handler)).layer(layer);
        let mut modes: Vec<(&str, String)> = Vec::new();
        let unguarded = builder(token)
            .without_replay_guard()
            .build_and_initialize()
            .await
            .unwrap();
        modes.push(("no guard", serve(app(unguarded)).await));
        let memory = builder(token)
            .settlement_store(MemorySettlementStore::new())
            .build_and_initialize()
            .await
            .unwrap();
        modes.push(("in-memory store", serve(app(memory)).await));
        let redis = t402_testkit::redis::RedisServer::start();
        if let Some(redis) = &redis {
            let store = t402_server::store::RedisSettlementStore::connect(&redis.url())
                .await
                .unwrap();
            let layer = builder(token)
                .settlement_store(store)
                .build_and_initialize()
                .await
                .unwrap();
            modes.push(("Redis store", serve(app(layer)).await));
        }

        let challenge = reqwest::get(format!("{}/paid", modes[0].1)).await.unwrap();
        let required = Codec::default()
            .decode_payment_required(challenge.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(PrivateKeySigner::random());
        let mut results: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        for round in 0..rounds as usize {
            // Each round starts with another mode, so no mode always runs first or last.
            for step in 0..modes.len() {
                let index = (round + step) % modes.len();
                let base = &modes[index].1;
                let mut signed = Vec::with_capacity(payments as usize);
                for _ in 0..payments {
                    let payload = client.create_payload(2, &accepted, None).await.unwrap();
                    signed.push(encode_header(&PaymentPayload::new(
                        accepted.clone().into(),
                        payload.payload,
                    )));
                }
                results[index].push(
                    t402_testkit::paid_rate(&format!("{base}/paid"), signed, connections).await,
                );
            }
        }
        println!(
            "replay guard: paid requests through a stub facilitator, {connections} connections, \
             {payments} payments per run, median of {rounds} rounds (rate, and ratio to no guard \
             within each round)"
        );
        for ((name, _), values) in modes.iter().zip(&results) {
            let rps = t402_testkit::median(values.clone());
            let ratios = values
                .iter()
                .zip(&results[0])
                .map(|(rate, baseline)| rate / baseline)
                .collect();
            println!(
                "  {name:<18} {rps:>10.0} req/s  {:.3}x",
                t402_testkit::median(ratios)
            );
        }
        if redis.is_none() {
            println!("  (redis-server not installed: no Redis run)");
        }
        accepted
    });
    in_process(token, accepted);
}

/// The paid path in process: one request at a time through the layer, no guard vs the
/// in-memory store.
fn in_process(token: Address, accepted: PaymentRequirements) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let template = runtime
        .block_on(
            ExactEvmClient::new(PrivateKeySigner::random()).create_payload(2, &accepted, None),
        )
        .unwrap()
        .payload;
    let app = |builder: PaymentLayerBuilder| {
        let layer = runtime.block_on(builder.build_and_initialize()).unwrap();
        Router::new()
            .route("/paid", get(|| async { "hello" }))
            .layer(layer)
    };
    let modes = [
        (
            "in process, no guard",
            app(builder(token).without_replay_guard()),
        ),
        (
            "in process, in-memory store",
            app(builder(token).settlement_store(MemorySettlementStore::new())),
        ),
    ];
    let mut nonce = 0u64;
    let mut fresh_request = || {
        nonce += 1;
        let mut payload = template.clone();
        payload["authorization"]["nonce"] = format!("0x{nonce:064x}").into();
        let header = encode_header(&PaymentPayload::new(accepted.clone().into(), payload));
        axum::http::Request::get("/paid")
            .header("payment-signature", header)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("replay_guard");
    for (name, router) in &modes {
        group.bench_function(*name, |b| {
            b.iter_batched(
                &mut fresh_request,
                |request| {
                    let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
                    assert_eq!(response.status(), 200);
                    response
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    criterion.final_summary();
}
