//! Load on loopback: requests per second of a bare axum route, of an unpriced route behind the
//! payment layer, of the 402 challenge, and of paid requests settled through the in-process
//! facilitator on the devnet (no network), each measured with the same load generator in the
//! same run.
//!
//! `cargo bench -p t402-server --bench loopback_load` (`T402_LOAD_SECONDS`, default 5;
//! `T402_LOAD_CONNECTIONS`, default 32; `T402_LOAD_ROUNDS`, default 3; `T402_LOAD_PAYMENTS`,
//! default 2000).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use serde_json::json;
use t402_core::codec::{Codec, encode_header};
use t402_core::{
    AssetAmount, ClientMechanism, LocalFacilitator, Network, NetworkPattern, PaymentPayload, Price,
};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_server::{PaymentLayer, PaymentOption, Route};

const CHAIN: u64 = 31337;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn main() {
    let seconds = t402_testkit::env_number("T402_LOAD_SECONDS", 5);
    let connections = t402_testkit::env_number("T402_LOAD_CONNECTIONS", 32);
    let payments = t402_testkit::env_number("T402_LOAD_PAYMENTS", 2000);
    let rounds = t402_testkit::env_number("T402_LOAD_ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let devnet = Arc::new(Devnet::new(CHAIN));
        let token = devnet
            .deploy_test_token("USD Coin", "2", "USDC", 6)
            .unwrap();
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(u64::MAX))
            .unwrap();
        let key = PrivateKeySigner::random();
        devnet.fund(key.address(), U256::from(10u64).pow(U256::from(24)));
        let evm = ExactEvmFacilitator::new(
            devnet.clone(),
            FacilitatorSigners::new(CHAIN, [key]).unwrap(),
        )
        .unwrap();
        let facilitator = LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm));
        let mut extra = serde_json::Map::new();
        extra.insert("name".into(), json!("USD Coin"));
        extra.insert("version".into(), json!("2"));
        let price = Price::Asset(
            AssetAmount::new(token.to_checksum(None), 1000u64.into()).with_extra(extra),
        );
        let option = PaymentOption::exact(
            Network::eip155(CHAIN),
            price,
            Address::random().to_checksum(None),
        );
        let layer = PaymentLayer::builder()
            .facilitator(facilitator)
            .mechanism(
                NetworkPattern::parse("eip155:*").unwrap(),
                Arc::new(ExactEvmServer),
            )
            .route("GET /paid", Route::new(option))
            .build_and_initialize()
            .await
            .unwrap();

        let handler = || async { "hello" };
        let bare = serve(Router::new().route("/bare", get(handler))).await;
        let guarded = serve(
            Router::new()
                .route("/free", get(handler))
                .route("/paid", get(handler))
                .layer(layer),
        )
        .await;

        // Rounds alternate the three runs so drift affects them alike; medians are reported.
        let (mut bares, mut frees, mut challenges) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            bares.push(t402_testkit::request_rate(&format!("{bare}/bare"), 200, connections, seconds).await);
            frees.push(t402_testkit::request_rate(&format!("{guarded}/free"), 200, connections, seconds).await);
            challenges.push(t402_testkit::request_rate(&format!("{guarded}/paid"), 402, connections, seconds).await);
        }
        let (bare_rps, free_rps, challenge_rps) =
            (t402_testkit::median(bares), t402_testkit::median(frees), t402_testkit::median(challenges));

        let challenge = reqwest::get(format!("{guarded}/paid")).await.unwrap();
        let required = Codec::default()
            .decode_payment_required(challenge.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(payer);
        let mut signed = Vec::with_capacity(payments as usize);
        for _ in 0..payments {
            let payload = client.create_payload(2, &accepted, None).await.unwrap();
            signed.push(encode_header(&PaymentPayload::new(
                accepted.clone().into(),
                payload.payload,
            )));
        }
        let paid_rps = t402_testkit::paid_rate(&format!("{guarded}/paid"), signed, connections).await;

        println!(
            "loopback load: {connections} connections, {seconds} s per run, median of {rounds} rounds"
        );
        println!("  bare axum route            {bare_rps:>10.0} req/s  (baseline)");
        println!(
            "  unpriced route, layered    {free_rps:>10.0} req/s  {:.2}x",
            free_rps / bare_rps
        );
        println!(
            "  402 challenge              {challenge_rps:>10.0} req/s  {:.2}x",
            challenge_rps / bare_rps
        );
        println!(
            "  paid (verify+settle)       {paid_rps:>10.0} req/s  {:.4}x  ({payments} payments)",
            paid_rps / bare_rps
        );
    });
}
