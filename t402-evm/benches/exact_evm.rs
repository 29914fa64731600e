//! Signing and offline verification of an EIP-3009 payment (and offline verification of a
//! Permit2 payment), beside the cost of one bare
//! secp256k1 public-key recovery and signing measured in the same run, on both backends: k256
//! (pure Rust) and libsecp256k1 (the default, feature `libsecp256k1`).

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;

use alloy_primitives::{Signature, U256, address, b256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, criterion_group, criterion_main};
use t402_core::codec::Codec;
use t402_core::{PaymentPayload, VerifyRequest};
use t402_evm::eip3009::{Authorization, token_domain};
use t402_evm::permit2::{Permit2Rules, verify_permit2_offline};
use t402_evm::verify::verify_offline;

/// The x402 v2 spec's `PAYMENT-SIGNATURE` example (its signature is genuine).
const SPEC_PAYMENT_SIGNATURE: &str = include_str!("spec_payment_signature.b64");
const SPEC_TIME: u64 = 1_740_672_100;

fn bench(c: &mut Criterion) {
    let payment: PaymentPayload = Codec::default()
        .decode_payment_signature(SPEC_PAYMENT_SIGNATURE.trim())
        .unwrap();
    let request = VerifyRequest::new(payment.clone(), payment.accepted.requirements().clone());
    let checked = verify_offline(&request, SPEC_TIME).unwrap();
    let signature = Signature::from_raw(&checked.payload.signature).unwrap();
    let digest = checked.digest;

    let mut group = c.benchmark_group("exact_evm");
    group.bench_function("bare_recovery_k256", |b| {
        b.iter(|| {
            let key = black_box(&signature)
                .recover_from_prehash(black_box(&digest))
                .unwrap();
            alloy_primitives::Address::from_public_key(&key)
        })
    });
    // alloy's recovery, on the backend this build uses (t402_evm::secp::BACKEND).
    group.bench_function(format!("bare_recovery_{}", t402_evm::secp::BACKEND), |b| {
        b.iter(|| {
            black_box(&signature)
                .recover_address_from_prehash(black_box(&digest))
                .unwrap()
        })
    });
    group.bench_function("verify_offline", |b| {
        b.iter(|| verify_offline(black_box(&request), SPEC_TIME).unwrap())
    });
    // The same for a Permit2 payment (parse, terms, EIP-712 digest of the nested witness
    // struct, recovery), signed by the client at SPEC_TIME.
    let permit2 = permit2_request();
    group.bench_function("verify_offline_permit2", |b| {
        b.iter(|| {
            verify_permit2_offline(black_box(&permit2), &Permit2Rules::EXACT, SPEC_TIME).unwrap()
        })
    });

    let signer: PrivateKeySigner =
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap();
    let domain = token_domain(
        "USDC",
        "2",
        84532,
        address!("036CbD53842c5426634e7929541eC2318f3dCF7e"),
    );
    let authorization = Authorization::new(
        signer.address(),
        address!("209693Bc6afc0C5328bA36FaF03C514EF312287C"),
        U256::from(10_000u64),
        U256::from(1_740_672_089u64),
        U256::from(1_740_672_154u64),
        b256!("f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"),
    );
    group.bench_function("bare_sign_k256", |b| {
        b.iter(|| signer.sign_hash_sync(black_box(&digest)).unwrap())
    });
    #[cfg(feature = "libsecp256k1")]
    {
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
    }
    // What the client does: the EIP-712 digest, the signature (through the build's backend for
    // a local key) and the payload object.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client = t402_evm::ExactEvmClient::new(signer.clone());
    group.bench_function("sign_authorization", |b| {
        b.iter(|| {
            runtime
                .block_on(client.sign(black_box(authorization), black_box(&domain)))
                .unwrap()
                .to_object()
        })
    });
    group.finish();
}

/// A Permit2 `exact` payment signed by the t402 client for the spec example's terms.
fn permit2_request() -> VerifyRequest {
    use t402_core::ClientMechanism;
    let requirements: t402_core::PaymentRequirements = serde_json::from_value(serde_json::json!({
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2", "assetTransferMethod": "permit2"}
    }))
    .unwrap();
    let signer: PrivateKeySigner =
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap();
    let client =
        t402_evm::ExactEvmClient::new(signer).with_clock(t402_evm::ManualClock::new(SPEC_TIME));
    let signed = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(client.create_payload(2, &requirements, None))
        .unwrap();
    let payment = PaymentPayload::new(requirements.clone().into(), signed.payload);
    let request = VerifyRequest::new(payment, requirements);
    verify_permit2_offline(&request, &Permit2Rules::EXACT, SPEC_TIME).expect("valid");
    request
}

criterion_group!(benches, bench);
criterion_main!(benches);
