//! From a 402 to the paid retry's header (read the challenge, check the policy, choose, sign,
//! encode), beside the EVM client's signing alone and a bare secp256k1 signature on each backend
//! (k256, libsecp256k1), in one run.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use alloy_primitives::B256;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use serde_json::json;
use t402_client::{Payer, SpendPolicy};
use t402_core::codec::encode_header;
use t402_core::{
    ClientMechanism, NetworkPattern, PaymentRequired, PaymentRequirements, ResourceInfo,
};
use t402_evm::ExactEvmClient;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let offer: PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"}
    }))
    .unwrap();
    let challenge = PaymentRequired::new(
        ResourceInfo::new("https://api.example/weather"),
        vec![offer.clone()],
    )
    .with_error("Payment required");
    let mut headers = HeaderMap::new();
    headers.insert(
        "PAYMENT-REQUIRED",
        encode_header(&challenge).parse().unwrap(),
    );
    let signer = PrivateKeySigner::random();
    let evm = ExactEvmClient::new(signer.clone());
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmClient::new(signer.clone())),
        )
        .policy(SpendPolicy::new());
    let digest = B256::repeat_byte(7);

    let mut group = c.benchmark_group("pay_on_402");
    group.bench_function("bare_sign_k256", |b| {
        b.iter(|| signer.sign_hash_sync(black_box(&digest)).unwrap())
    });
    // The backend the EVM client signs a local key with (libsecp256k1 by default).
    let secret =
        secp256k1::SecretKey::from_byte_array(signer.credential().to_bytes().into()).unwrap();
    group.bench_function("bare_sign_libsecp256k1", |b| {
        b.iter(|| {
            secp256k1::SECP256K1
                .sign_ecdsa_recoverable(
                    secp256k1::Message::from_digest(black_box(digest).0),
                    &secret,
                )
                .serialize_compact()
        })
    });
    group.bench_function("evm_sign_authorization", |b| {
        b.iter(|| {
            runtime
                .block_on(evm.create_payload(2, black_box(&offer), None))
                .unwrap()
        })
    });
    group.bench_function("402_to_paid_header", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let challenge = payer.read_challenge(black_box(&headers), b"{}").unwrap();
                payer
                    .prepare(&challenge, "https://api.example/weather", None)
                    .await
                    .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
