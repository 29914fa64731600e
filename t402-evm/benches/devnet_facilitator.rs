//! The facilitator on the in-process devnet: `/verify` with simulation (revm running the real
//! token) and `/settle` (a signed transaction mined in a new block), beside the offline checks
//! measured in the same run.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use t402_core::{ClientMechanism, PaymentPayload, PaymentRequirements, VerifyRequest};
use t402_evm::devnet::Devnet;
use t402_evm::verify::verify_offline;
use t402_evm::{Clock, ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners, ManualClock};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_750_000_000;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(NOW);
    let devnet = Arc::new(Devnet::with_clock(CHAIN, clock.clone()));
    let token = devnet
        .deploy_test_token("USD Coin", "2", "USDC", 6)
        .unwrap();
    let payer = PrivateKeySigner::random();
    devnet
        .mint(token, payer.address(), U256::from(u64::MAX))
        .unwrap();
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(24)));
    let facilitator = ExactEvmFacilitator::new(
        devnet.clone(),
        FacilitatorSigners::new(CHAIN, [key]).unwrap(),
    )
    .unwrap()
    .with_clock(clock.clone());
    let requirements: PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:31337", "amount": "10000",
        "asset": token.to_checksum(None), "payTo": Address::random().to_checksum(None),
        "maxTimeoutSeconds": 60, "extra": {"name": "USD Coin", "version": "2"}
    }))
    .unwrap();
    let client = ExactEvmClient::new(payer).with_clock(clock.clone());
    let sign = || {
        runtime.block_on(async {
            let signed = client.create_payload(2, &requirements, None).await.unwrap();
            VerifyRequest::new(
                PaymentPayload::new(requirements.clone().into(), signed.payload),
                requirements.clone(),
            )
        })
    };
    let request = sign();

    let mut group = c.benchmark_group("devnet_facilitator");
    group.bench_function("verify_offline", |b| {
        b.iter(|| verify_offline(black_box(&request), clock.now()).unwrap())
    });
    group.bench_function("verify_with_simulation", |b| {
        b.iter(|| {
            let response = runtime.block_on(facilitator.verify_payment(black_box(&request)));
            assert!(response.unwrap().is_valid);
        })
    });
    group.bench_function("settle", |b| {
        b.iter_batched(
            sign,
            |request| {
                let response = runtime.block_on(facilitator.settle_payment(&request));
                assert!(response.success, "{response:?}");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
