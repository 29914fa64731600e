//! Building and signing a Solana payment, and verifying one without a node (decode, checks,
//! signature), beside one bare ed25519 verification in the same run.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde_json::json;
use t402_core::{PaymentPayload, PaymentRequirements, VerifyRequest};
use t402_svm::instructions::{PaymentTransfer, compile, payment_instructions};
use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};
use t402_svm::verify::verify_offline;
use t402_svm::wire::Transaction;

fn bench(c: &mut Criterion) {
    let fee_payer = Pubkey(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
    let authority = SigningKey::from_bytes(&[2; 32]);
    let payee = Pubkey(SigningKey::from_bytes(&[3; 32]).verifying_key().to_bytes());
    let mint: Pubkey = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
        .parse()
        .unwrap();
    let requirements: PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact", "network": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "amount": "1000",
        "asset": mint.to_string(), "payTo": payee.to_string(), "maxTimeoutSeconds": 60,
        "extra": {"feePayer": fee_payer.to_string()}
    }))
    .unwrap();
    // A payment by `authority`, signed and encoded as the payload carries it.
    let sign_payment = |authority: &SigningKey| {
        let transfer = PaymentTransfer {
            token_program: TOKEN_PROGRAM,
            mint,
            decimals: 6,
            payer: Pubkey(authority.verifying_key().to_bytes()),
            pay_to: payee,
            amount: 1000,
        };
        let instructions =
            payment_instructions(&transfer, 20_000, 1, b"0123456789abcdef0123456789abcdef");
        let message = compile(fee_payer, &instructions, [7; 32]);
        let mut transaction = Transaction::unsigned(message);
        transaction.sign(authority).unwrap();
        STANDARD.encode(transaction.serialize().unwrap())
    };
    let request_of = |encoded: String| {
        let mut payload = serde_json::Map::new();
        payload.insert("transaction".into(), json!(encoded));
        VerifyRequest::new(
            PaymentPayload::new(requirements.clone().into(), payload),
            requirements.clone(),
        )
    };
    let build = || sign_payment(&authority);
    let request = request_of(build());
    let signers = [fee_payer];
    let message = b"a message of about the size of a payment transaction";
    let signature = authority.sign(message);
    let verifying = authority.verifying_key();

    let mut group = c.benchmark_group("exact_svm");
    group.bench_function("bare_ed25519_verify", |b| {
        b.iter(|| {
            verifying
                .verify(black_box(message), black_box(&signature))
                .unwrap()
        })
    });
    group.bench_function("build_and_sign_payment", |b| b.iter(build));
    group.bench_function("verify_offline", |b| {
        b.iter(|| verify_offline(black_box(&request), &signers).unwrap())
    });
    // A new payer each time: more payers than verification remembers token accounts of, so
    // the payer's account is derived every time (the payee's is remembered).
    let payers = t402_svm::pubkey::REMEMBERED_ACCOUNTS * 5;
    let requests: Vec<VerifyRequest> = (0..payers)
        .map(|n| {
            let mut seed = [2u8; 32];
            seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
            request_of(sign_payment(&SigningKey::from_bytes(&seed)))
        })
        .collect();
    let mut next = requests.iter().cycle();
    group.bench_function("verify_offline_new_payer", |b| {
        b.iter(|| verify_offline(black_box(next.next().unwrap()), &signers).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
