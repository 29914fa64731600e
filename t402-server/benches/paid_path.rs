//! The paid path on loopback, as a deployment runs it: requests per second of a bare axum route,
//! of the 402 challenge, and of paid requests (verify, handler, settle over HTTP) with the replay
//! guard on — each with the same load generator, in alternating rounds of the same run. Paid
//! requests are measured twice: against a facilitator that answers at once with fixed bytes (it
//! costs nothing here, as one on another machine would: the API server alone is measured), and
//! against t402's facilitator service (`facilitator_router` over a stub mechanism) on the same
//! machine, which also reads every request.
//!
//! The machine's speed drifts: rounds are short (every payment is signed before the first), and
//! each round's ratios are taken to its own bare run.
//!
//! `cargo bench -p t402-server --bench paid_path` (`T402_LOAD_SECONDS`, default 2;
//! `T402_LOAD_CONNECTIONS`, default 32; `T402_LOAD_ROUNDS`, default 5; `T402_LOAD_PAYMENTS`,
//! default 10000 per paid run; `T402_LOAD_ONLY=paid`, `paid-service`, `402` or `bare` runs only those
//! requests, for a profiler).

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
    let seconds = t402_testkit::env_number("T402_LOAD_SECONDS", 2);
    let connections = t402_testkit::env_number("T402_LOAD_CONNECTIONS", 32);
    let rounds = t402_testkit::env_number("T402_LOAD_ROUNDS", 5);
    let payments = t402_testkit::env_number("T402_LOAD_PAYMENTS", 10000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // Two facilitators, each its own HTTP service: fixed answers, and the facilitator
        // service over a stub.
        let fixed = serve(t402_testkit::fixed_answer_facilitator()).await;
        let service = serve(t402_server::facilitator_router(Arc::new(StubFacilitator))).await;
        // The API: a bare route and two priced ones, one per facilitator (the replay guard on,
        // in memory).
        let api = serve(
            Router::new()
                .route("/paid", get(|| async { "hello" }))
                .layer(priced_layer("GET /paid", &fixed).await)
                .merge(
                    Router::new()
                        .route("/paid-service", get(|| async { "hello" }))
                        .layer(priced_layer("GET /paid-service", &service).await),
                )
                .route("/bare", get(|| async { "hello" })),
        )
        .await;
        let challenge = reqwest::get(format!("{api}/paid")).await.unwrap();
        let required = Codec::default()
            .decode_payment_required(challenge.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(PrivateKeySigner::random());

        let sign = |count: u64| {
            let (client, accepted) = (&client, &accepted);
            async move {
                let mut signed = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let payload = client.create_payload(2, accepted, None).await.unwrap();
                    signed.push(encode_header(&PaymentPayload::new(
                        accepted.clone().into(),
                        payload.payload,
                    )));
                }
                signed
            }
        };
        let paid_url = format!("{api}/paid");
        let service_url = format!("{api}/paid-service");

        // `T402_LOAD_ONLY=paid`, `paid-service`, `402` or `bare` runs only those requests (for a
        // profiler).
        let only = std::env::var("T402_LOAD_ONLY").unwrap_or_default();
        match only.as_str() {
            "bare" => {
                let rate =
                    t402_testkit::request_rate(&format!("{api}/bare"), 200, connections, seconds)
                        .await;
                println!("bare axum route {rate:>10.0} req/s");
                return;
            }
            "402" => {
                let rate = t402_testkit::request_rate(&paid_url, 402, connections, seconds).await;
                println!("402 challenge {rate:>10.0} req/s");
                return;
            }
            "paid" | "paid-service" => {
                let url = if only == "paid" { &paid_url } else { &service_url };
                let mut rates = Vec::new();
                for round in 1..=rounds {
                    let rate = t402_testkit::paid_rate(url, sign(payments).await, connections).await;
                    eprintln!("round {round}: {only} {rate:.0} req/s");
                    rates.push(rate);
                }
                println!("{only} (verify+settle) {:>10.0} req/s", median(rates));
                return;
            }
            _ => {}
        }

        // Every payment is signed before the first round, so that a round is short.
        let mut batches = Vec::with_capacity(2 * rounds as usize);
        for _ in 0..2 * rounds {
            batches.push(sign(payments).await);
        }
        let (mut bare, mut unpaid, mut paid, mut through_service) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 1..=rounds {
            bare.push(
                t402_testkit::request_rate(&format!("{api}/bare"), 200, connections, seconds).await,
            );
            unpaid.push(
                t402_testkit::request_rate(&paid_url, 402, connections, seconds).await,
            );
            paid.push(t402_testkit::paid_rate(&paid_url, batches.pop().unwrap(), connections).await);
            through_service.push(
                t402_testkit::paid_rate(&service_url, batches.pop().unwrap(), connections).await,
            );
            let last = |rates: &[f64]| rates[rates.len() - 1];
            eprintln!(
                "round {round}: bare {:.0}, 402 {:.0}, paid {:.0}, paid through the service {:.0} \
                 req/s",
                last(&bare),
                last(&unpaid),
                last(&paid),
                last(&through_service),
            );
        }
        // The machine's speed drifts between rounds: each round's ratio is taken to its own
        // bare run, and the median of those ratios is reported beside the median rates.
        let ratios = |rates: &[f64]| median(rates.iter().zip(&bare).map(|(r, b)| r / b).collect());
        let (unpaid_ratio, paid_ratio, service_ratio) =
            (ratios(&unpaid), ratios(&paid), ratios(&through_service));
        let (bare, unpaid, paid, through_service) = (
            median(bare),
            median(unpaid),
            median(paid),
            median(through_service),
        );
        println!(
            "paid path: {connections} connections, {seconds} s runs, {payments} payments, \
             median of {rounds} rounds (rates) and of the rounds' ratios; facilitators over HTTP"
        );
        println!("  bare axum route                       {bare:>10.0} req/s  (baseline)");
        println!("  402 challenge                         {unpaid:>10.0} req/s  {unpaid_ratio:.3}x");
        println!("  paid, facilitator answering at once   {paid:>10.0} req/s  {paid_ratio:.3}x");
        println!(
            "  paid, through the facilitator service {through_service:>10.0} req/s  {service_ratio:.3}x"
        );
    });
}

/// A payment layer pricing `route` (`exact` on [`CHAIN`]), with the facilitator at `url`.
async fn priced_layer(route: &str, url: &str) -> PaymentLayer {
    PaymentLayer::builder()
        .facilitator(HttpFacilitator::new(url).unwrap())
        .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
        .route(
            route,
            Route::new(PaymentOption::exact(
                Network::eip155(CHAIN),
                test_token_price(Address::repeat_byte(7), 1000),
                Address::repeat_byte(9).to_checksum(None),
            )),
        )
        .build_and_initialize()
        .await
        .unwrap()
}
