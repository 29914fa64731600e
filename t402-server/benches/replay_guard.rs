//! What the replay guard costs on the paid path: paid requests per second on loopback through a
//! stub facilitator (answering valid and success at once, in process), with no guard, with the
//! in-memory store and with Redis (a redis-server of the bench's own, when installed), in
//! alternating rounds of the same run.
//!
//! `cargo bench -p t402-server --features redis --bench replay_guard`
//! (`T402_GUARD_PAYMENTS` per mode and round, default 5000; `T402_GUARD_ROUNDS`, default 3;
//! `T402_LOAD_CONNECTIONS`, default 32).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use t402_core::codec::{Codec, encode_header};
use t402_core::error::BoxFuture;
use t402_core::wire::{FacilitatorRequest, SupportedKind};
use t402_core::{
    ClientMechanism, Facilitator, FacilitatorError, MemorySettlementStore, Network, NetworkPattern,
    PaymentPayload, ProtocolVersion, SettleResponse, SupportedResponse, VerifyResponse, VersionKey,
};
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::{PaymentLayer, PaymentLayerBuilder, PaymentOption, Route};
use t402_testkit::{CHAIN, serve, test_token_price};

/// Says yes at once.
struct Stub;

impl Facilitator for Stub {
    fn verify<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(async { Ok(VerifyResponse::valid("0xpayer")) })
    }
    fn settle<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async {
            Ok(SettleResponse::success(
                "0x01",
                format!("eip155:{CHAIN}"),
                "0xpayer",
            ))
        })
    }
    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async {
            let mut answer = SupportedResponse::default();
            answer.kinds.push(SupportedKind::new(
                ProtocolVersion::new(2, VersionKey::X402),
                "exact",
                format!("eip155:{CHAIN}"),
            ));
            Ok(answer)
        })
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn builder(token: Address) -> PaymentLayerBuilder {
    PaymentLayer::builder()
        .facilitator(Stub)
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

/// Paid requests per second: each payment sent once, `connections` at a time.
async fn paid_rate(url: &str, payments: Vec<String>, connections: u64) -> f64 {
    let client = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(payments));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, queue, done) =
                (client.clone(), url.to_owned(), queue.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let Some(payment) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let response = client
                        .get(&url)
                        .header("PAYMENT-SIGNATURE", payment)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                    response.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let payments = env_number("T402_GUARD_PAYMENTS", 5000);
    let rounds = env_number("T402_GUARD_ROUNDS", 3);
    let connections = env_number("T402_LOAD_CONNECTIONS", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let token = Address::repeat_byte(7);
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
        for _ in 0..rounds {
            for (index, (_, base)) in modes.iter().enumerate() {
                let mut signed = Vec::with_capacity(payments as usize);
                for _ in 0..payments {
                    let payload = client.create_payload(2, &accepted, None).await.unwrap();
                    signed.push(encode_header(&PaymentPayload::new(
                        accepted.clone().into(),
                        payload.payload,
                    )));
                }
                results[index].push(paid_rate(&format!("{base}/paid"), signed, connections).await);
            }
        }
        println!(
            "replay guard: paid requests through a stub facilitator, {connections} connections, \
             {payments} payments per run, median of {rounds} rounds"
        );
        let baseline = median(results[0].clone());
        for ((name, _), values) in modes.iter().zip(results) {
            let rps = median(values);
            println!("  {name:<18} {rps:>10.0} req/s  {:.3}x", rps / baseline);
        }
        if redis.is_none() {
            println!("  (redis-server not installed: no Redis run)");
        }
    });
}
