//! `t402 pay` and `t402 facilitator` on Solana: a t402 server whose facilitator is the
//! `t402 facilitator` process, paid by the `t402 pay` process, both speaking JSON-RPC to a real
//! Solana runtime (litesvm running the SPL Token program) through the test kit's JSON-RPC front.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use t402_core::{AssetAmount, Network, NetworkPattern, Price};
use t402_server::facilitator::HttpFacilitator;
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_svm::ExactSvmServer;
use t402_svm::litesvm::LiteSvmRuntime;
use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};

mod common;

const DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";

fn random_key() -> SigningKey {
    SigningKey::from_bytes(&alloy_primitives::B256::random().0)
}

fn key_of(key: &SigningKey) -> Pubkey {
    Pubkey(key.verifying_key().to_bytes())
}

/// The 64-byte keypair (secret, then public).
fn pair(key: &SigningKey) -> Vec<u8> {
    let mut bytes = key.to_bytes().to_vec();
    bytes.extend_from_slice(&key.verifying_key().to_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t402_pay_pays_on_solana_through_the_t402_facilitator() {
    let runtime = Arc::new(LiteSvmRuntime::new());
    let fee_payer = random_key();
    let payer = random_key();
    let payee = key_of(&random_key());
    let mint = key_of(&random_key());
    runtime.airdrop(&key_of(&fee_payer), 1_000_000_000).unwrap();
    runtime.create_mint(&mint, 6, &TOKEN_PROGRAM);
    let source = runtime.create_token_account(&key_of(&payer), &mint, 5_000_000, &TOKEN_PROGRAM);
    let destination = runtime.create_token_account(&payee, &mint, 0, &TOKEN_PROGRAM);
    let rpc_url = t402_testkit::solana::serve_rpc(runtime.clone()).await;

    // The facilitator process: a Solana cluster, its fee payer's key in base58.
    let dir = std::env::temp_dir().join(format!("t402-cli-solana-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n\n[[chains]]\nnetwork = \"{DEVNET}\"\nrpc_url_env = \"T402_TEST_SOLANA_RPC\"\nkey_envs = [\"T402_TEST_FEE_PAYER\"]\n"
        ),
    )
    .unwrap();
    let facilitator = common::start_facilitator(
        &config,
        &[],
        &[
            ("T402_TEST_SOLANA_RPC", rpc_url.clone()),
            (
                "T402_TEST_FEE_PAYER",
                bs58::encode(pair(&fee_payer)).into_string(),
            ),
        ],
    )
    .await;
    let base = facilitator.base.clone();
    let supported: Value = reqwest::get(format!("{base}/supported"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let networks: Vec<&str> = supported["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|kind| kind["network"].as_str())
        .collect();
    assert!(networks.contains(&DEVNET), "{supported}");
    assert!(networks.contains(&"solana-devnet"), "v1 kind: {supported}");
    assert_eq!(
        supported["kinds"][0]["extra"]["feePayer"],
        key_of(&fee_payer).to_string()
    );

    // Its health: the cluster answers, and the fee payer's SOL.
    let health: Value = reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let chain = &health["chains"][0];
    assert_eq!(chain["network"], DEVNET);
    assert_eq!(
        chain["signers"][0]["address"],
        key_of(&fee_payer).to_string()
    );
    assert_eq!(chain["signers"][0]["balance"], "1000000000");
    assert_eq!(chain["signers"][0]["decimals"], 9);

    // A t402 server selling /report for 0.01 of the token, through that facilitator.
    let network: Network = DEVNET.parse().unwrap();
    let layer = PaymentLayer::builder()
        .facilitator(HttpFacilitator::new(&base).unwrap())
        .mechanism(NetworkPattern::parse("solana:*").unwrap(), ExactSvmServer)
        .route(
            "GET /report",
            Route::new(PaymentOption::exact(
                network,
                Price::Asset(AssetAmount::new(mint.to_string(), 10_000u64.into())),
                payee.to_string(),
            )),
        )
        .build_and_initialize()
        .await
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/report",
            axum::routing::get(|| async { "the Solana report" }),
        )
        .layer(layer);
    let url = format!("{}/report", t402_testkit::serve(app).await);

    // `t402 pay`, with the payer's key as a JSON array in the environment and no EVM key.
    let asset = format!("{DEVNET},{mint},6");
    let key = serde_json::to_string(&pair(&payer)).unwrap();
    let rpc = rpc_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("t402")
            .unwrap()
            .args(["pay", &url, "--max", "0.05", "--asset", &asset])
            .env_remove("T402_PRIVATE_KEY")
            .env_remove("T402_KEY_FILE")
            .env("T402_SOLANA_KEY", key)
            .env("T402_SOLANA_RPC_URL", rpc)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("200 "), "{stdout}");
    assert!(stdout.contains("settled: true"), "{stdout}");
    assert!(stdout.contains("the Solana report"), "{stdout}");
    assert_eq!(runtime.token_amount(&destination), Some(10_000));
    assert_eq!(runtime.token_amount(&source), Some(4_990_000));

    // `t402 balance` reads the payee's token account over JSON-RPC.
    let output = assert_cmd::Command::cargo_bin("t402")
        .unwrap()
        .args([
            "--json",
            "balance",
            DEVNET,
            "--asset",
            &mint.to_string(),
            "--address",
            &payee.to_string(),
        ])
        .env("T402_RPC_URL", &rpc_url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let balance: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(balance["atomic"], "10000");
    assert_eq!(balance["decimals"], 6);
    assert_eq!(balance["amount"], "0.01");
    // The holder from the Solana key; no token account yet is 0.
    let output = assert_cmd::Command::cargo_bin("t402")
        .unwrap()
        .args(["balance", DEVNET, "--asset", &mint.to_string()])
        .env("T402_RPC_URL", &rpc_url)
        .env(
            "T402_SOLANA_KEY",
            bs58::encode(pair(&fee_payer)).into_string(),
        )
        .env_remove("T402_KEY_FILE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .starts_with(&format!("{} holds 0 ", key_of(&fee_payer))),
        "{output:?}"
    );

    // A Solana key without the cluster's URL is an input error naming the variable.
    let output = assert_cmd::Command::cargo_bin("t402")
        .unwrap()
        .args(["pay", "http://127.0.0.1:1/x"])
        .env_remove("T402_PRIVATE_KEY")
        .env_remove("T402_SOLANA_RPC_URL")
        .env(
            "T402_SOLANA_KEY",
            serde_json::to_string(&pair(&payer)).unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("T402_SOLANA_RPC_URL"));
    drop(facilitator);
    let _ = std::fs::remove_dir_all(&dir);
}
