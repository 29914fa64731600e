//! `t402 gateway` on loopback: requests per second of a free route straight to the upstream and
//! through the gateway, and of paid requests through the gateway whose facilitator is a separate
//! HTTP service answering at once (a stub), with the replay guard on — the same load generator,
//! in alternating rounds of one run. The gateway is the release `t402` binary.
//!
//! `cargo bench -p t402-cli --bench gateway` (`T402_LOAD_SECONDS`, default 5;
//! `T402_LOAD_CONNECTIONS`, default 32; `T402_LOAD_ROUNDS`, default 3; `T402_LOAD_PAYMENTS`,
//! default 5000).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use t402_core::codec::{Codec, encode_header};
use t402_core::{ClientMechanism, PaymentPayload};
use t402_evm::ExactEvmClient;
use t402_testkit::{CHAIN, StubFacilitator, median, serve};

/// Kills the gateway on drop.
struct Gateway(std::process::Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let seconds = t402_testkit::env_number("T402_LOAD_SECONDS", 5);
    let connections = t402_testkit::env_number("T402_LOAD_CONNECTIONS", 32);
    let rounds = t402_testkit::env_number("T402_LOAD_ROUNDS", 3);
    let payments = t402_testkit::env_number("T402_LOAD_PAYMENTS", 5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let facilitator = serve(t402_server::facilitator_router(Arc::new(StubFacilitator))).await;
        let upstream = serve(
            Router::new()
                .route("/free", get(|| async { "hello" }))
                .route("/paid", get(|| async { "hello" })),
        )
        .await;
        let dir = std::env::temp_dir().join(format!("t402-gateway-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n\n[[facilitators]]\nurl = \"{facilitator}\"\n\n[[routes]]\npattern = \"GET /paid\"\nnetwork = \"eip155:{CHAIN}\"\npay_to = \"{}\"\namount = \"1000\"\nasset = \"{}\"\neip712_name = \"USD Coin\"\neip712_version = \"2\"\n",
                Address::repeat_byte(9).to_checksum(None),
                Address::repeat_byte(7).to_checksum(None),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_t402"))
            .args(["gateway", "--config"])
            .arg(&config)
            .env("T402_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _gateway = Gateway(child);
        let gateway = line
            .trim()
            .strip_prefix("gateway listening on ")
            .and_then(|rest| rest.split(',').next())
            .expect("the gateway prints its address")
            .to_owned();

        let challenge = reqwest::get(format!("{gateway}/paid")).await.unwrap();
        let required = Codec::default()
            .decode_payment_required(challenge.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(PrivateKeySigner::random());

        let (mut direct, mut through, mut paid) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            direct.push(
                t402_testkit::request_rate(&format!("{upstream}/free"), 200, connections, seconds)
                    .await,
            );
            through.push(
                t402_testkit::request_rate(&format!("{gateway}/free"), 200, connections, seconds)
                    .await,
            );
            let mut signed = Vec::with_capacity(payments as usize);
            for _ in 0..payments {
                let payload = client.create_payload(2, &accepted, None).await.unwrap();
                signed.push(encode_header(&PaymentPayload::new(
                    accepted.clone().into(),
                    payload.payload,
                )));
            }
            paid.push(t402_testkit::paid_rate(&format!("{gateway}/paid"), signed, connections).await);
        }
        let (direct, through, paid) = (median(direct), median(through), median(paid));
        println!("gateway on loopback ({rounds} rounds of {seconds} s, {connections} connections; medians)");
        println!("  free route, straight to the upstream: {direct:>9.0} req/s");
        println!("  free route, through the gateway:      {through:>9.0} req/s  ({:.3}x)", through / direct);
        println!("  paid route, through the gateway:      {paid:>9.0} req/s  ({:.3}x)", paid / direct);
        let _ = std::fs::remove_dir_all(&dir);
    });
}
