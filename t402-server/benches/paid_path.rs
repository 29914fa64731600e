//! The paid path on loopback, as a deployment runs it: requests per second of a bare axum route,
//! of the 402 challenge, and of paid requests (verify, handler, settle) whose facilitator is a
//! separate HTTP service answering at once (`facilitator_router` over a stub), with the replay
//! guard on — each with the same load generator, in alternating rounds of the same run.
//!
//! `cargo bench -p t402-server --bench paid_path` (`T402_LOAD_SECONDS`, default 5;
//! `T402_LOAD_CONNECTIONS`, default 32; `T402_LOAD_ROUNDS`, default 3; `T402_LOAD_PAYMENTS`,
//! default 20000; `T402_LOAD_ONLY=paid` or `bare` runs only those requests, for a profiler).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use std::sync::Arc;

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use t402_core::codec::{Codec, encode_header};
use t402_core::{ClientMechanism, Network, NetworkPattern, PaymentPayload};
use t402_evm::{ExactEvmClient, ExactEvmServer};
use t402_server::facilitator::HttpFacilitator;
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_testkit::{CHAIN, StubFacilitator, median, serve, test_token_price};

fn main() {
    let seconds = t402_testkit::env_number("T402_LOAD_SECONDS", 5);
    let connections = t402_testkit::env_number("T402_LOAD_CONNECTIONS", 32);
    let rounds = t402_testkit::env_number("T402_LOAD_ROUNDS", 3);
    let payments = t402_testkit::env_number("T402_LOAD_PAYMENTS", 20000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // The facilitator: its own HTTP service.
        let facilitator = serve(t402_server::facilitator_router(Arc::new(StubFacilitator))).await;
        // The API: a bare route and a priced one (the replay guard on, in memory).
        let token = Address::repeat_byte(7);
        let layer = PaymentLayer::builder()
            .facilitator(HttpFacilitator::new(&facilitator).unwrap())
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
            .route(
                "GET /paid",
                Route::new(PaymentOption::exact(
                    Network::eip155(CHAIN),
                    test_token_price(token, 1000),
                    Address::repeat_byte(9).to_checksum(None),
                )),
            )
            .build_and_initialize()
            .await
            .unwrap();
        let api = serve(
            Router::new()
                .route("/paid", get(|| async { "hello" }))
                .layer(layer)
                .route("/bare", get(|| async { "hello" })),
        )
        .await;
        let challenge = reqwest::get(format!("{api}/paid")).await.unwrap();
        let required = Codec::default()
            .decode_payment_required(challenge.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(PrivateKeySigner::random());

        let (mut bare, mut unpaid, mut paid) = (Vec::new(), Vec::new(), Vec::new());
        // `T402_LOAD_ONLY=paid` runs only the paid requests, `bare` only the bare route (for a
        // profiler).
        let only = std::env::var("T402_LOAD_ONLY").unwrap_or_default();
        if only == "bare" {
            let rate =
                t402_testkit::request_rate(&format!("{api}/bare"), 200, connections, seconds).await;
            println!("bare axum route {rate:>10.0} req/s");
            return;
        }
        let only_paid = only == "paid";
        for _ in 0..rounds {
            if !only_paid {
                bare.push(
                    t402_testkit::request_rate(&format!("{api}/bare"), 200, connections, seconds)
                        .await,
                );
                unpaid.push(
                    t402_testkit::request_rate(&format!("{api}/paid"), 402, connections, seconds)
                        .await,
                );
            }
            let mut signed = Vec::with_capacity(payments as usize);
            for _ in 0..payments {
                let payload = client.create_payload(2, &accepted, None).await.unwrap();
                signed.push(encode_header(&PaymentPayload::new(
                    accepted.clone().into(),
                    payload.payload,
                )));
            }
            paid.push(t402_testkit::paid_rate(&format!("{api}/paid"), signed, connections).await);
            if only_paid {
                eprintln!(
                    "round {}: paid {:.0} req/s",
                    paid.len(),
                    paid[paid.len() - 1]
                );
            } else {
                let round = bare.len();
                eprintln!(
                    "round {round}: bare {:.0}, 402 {:.0}, paid {:.0} req/s",
                    bare[round - 1],
                    unpaid[round - 1],
                    paid[round - 1]
                );
            }
        }
        if only_paid {
            println!("paid (verify+settle) {:>10.0} req/s", median(paid));
            return;
        }
        // The machine's speed drifts between rounds: each round's ratio is taken to its own
        // bare run, and the median of those ratios is reported beside the median rates.
        let ratios = |rates: &[f64]| median(rates.iter().zip(&bare).map(|(r, b)| r / b).collect());
        let (unpaid_ratio, paid_ratio) = (ratios(&unpaid), ratios(&paid));
        let (bare, unpaid, paid) = (median(bare), median(unpaid), median(paid));
        println!(
            "paid path: {connections} connections, {seconds} s runs, {payments} payments, \
             median of {rounds} rounds (rates) and of the rounds' ratios; facilitator over HTTP \
             answering at once"
        );
        println!("  bare axum route        {bare:>10.0} req/s  (baseline)");
        println!("  402 challenge          {unpaid:>10.0} req/s  {unpaid_ratio:.3}x");
        println!("  paid (verify+settle)   {paid:>10.0} req/s  {paid_ratio:.3}x");
    });
}
