//! Replays the saved fuzz corpora (`fuzz/corpus/<target>/`) through the fuzz targets' bodies as
//! ordinary tests: every input the fuzzer kept, and every crash it once found (kept under
//! `fuzz/regressions/<target>/`), must run without a panic. No fuzzing happens here;
//! `scripts/fuzz` fuzzes.

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    t402_testkit::workspace_root().join("fuzz")
}

#[test]
fn every_saved_input_runs_cleanly() {
    let mut replayed = 0;
    for (name, target) in t402_testkit::fuzz::TARGETS {
        let mut inputs = 0;
        for folder in ["corpus", "regressions"] {
            let dir = fuzz_dir().join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name} panicked on {}", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "no saved inputs for {name}");
        replayed += inputs;
    }
    eprintln!("replayed {replayed} saved inputs");
}

/// Writes the seed inputs of each target into its corpus (`scripts/fuzz --seed`): the spec's
/// headers and a Solana payment as the client builds it, so the fuzzer starts from well-formed
/// inputs.
#[test]
#[ignore = "writes files; run by scripts/fuzz --seed"]
fn write_seeds() {
    use base64::Engine;
    use t402_svm::instructions::{PaymentTransfer, compile, payment_instructions};
    use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};

    let fixtures = t402_testkit::workspace_root().join("t402-core/tests/fixtures");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    };
    let v2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("x402-v2-http.json")).unwrap())
            .unwrap();
    for (name, header) in v2["headers"].as_object().unwrap() {
        write(
            "payment_headers",
            name,
            header["base64"].as_str().unwrap().as_bytes(),
        );
        write(
            "evm_payload",
            name,
            header["decoded"].as_str().unwrap().as_bytes(),
        );
    }
    let v1 = std::fs::read_to_string(fixtures.join("x402-v1-http.json")).unwrap();
    write("payment_headers", "v1-fixture", v1.as_bytes());
    let payment: serde_json::Value = serde_json::from_str(
        v2["headers"]["payment_signature"]["decoded"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let request = serde_json::json!({
        "x402Version": 2,
        "paymentPayload": payment,
        "paymentRequirements": payment["accepted"],
    });
    write("facilitator_request", "evm", request.to_string().as_bytes());
    write(
        "evm_payload",
        "signature",
        payment["payload"]["signature"].as_str().unwrap().as_bytes(),
    );

    let (fee_payer, payer, payee, mint) = (
        Pubkey([1; 32]),
        Pubkey([2; 32]),
        Pubkey([3; 32]),
        Pubkey([4; 32]),
    );
    let transfer = PaymentTransfer {
        token_program: TOKEN_PROGRAM,
        mint,
        decimals: 6,
        payer,
        pay_to: payee,
        amount: 1000,
    };
    let message = compile(
        fee_payer,
        &payment_instructions(&transfer, 20_000, 1, b"seed"),
        [5; 32],
    );
    let bytes = t402_svm::wire::Transaction::unsigned(message)
        .serialize()
        .unwrap();
    write("svm_transaction", "payment", &bytes);
    let mut svm_payment = payment.clone();
    svm_payment["payload"] = serde_json::json!({
        "transaction": base64::engine::general_purpose::STANDARD.encode(&bytes)
    });
    svm_payment["accepted"]["network"] =
        serde_json::json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
    let svm_request = serde_json::json!({
        "x402Version": 2,
        "paymentPayload": svm_payment,
        "paymentRequirements": svm_payment["accepted"],
    });
    write(
        "facilitator_request",
        "svm",
        svm_request.to_string().as_bytes(),
    );
    for (name, text) in [
        ("param", "GET /report/:id\n/report/a%2Fb?x=1"),
        ("wildcards", "/api/*/raw/*\n/api/x/y/raw/z"),
        ("head", "GET /paid\n//paid/"),
    ] {
        write("route_matching", name, text.as_bytes());
    }
}
