//! The scripting commands of `t402`: keygen, address, balance, supported, completions, the
//! curl-like options of `pay` and `--json` everywhere (parsed as JSON).

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;
use t402_core::{Network, NetworkPattern};
use t402_evm::ExactEvmServer;
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_testkit::{CHAIN, DevnetWorld, serve, test_token_price};

mod common;
use common::{key_hex, t402};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("t402-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `t402` off the async runtime; returns exit code, stdout, stderr.
async fn run(args: Vec<String>, envs: Vec<(&'static str, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = t402()
            .args(&args)
            .envs(envs)
            .env_remove("T402_JSON")
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

#[test]
fn keygen_writes_a_private_file_and_address_reads_it_back() {
    let dir = temp_dir("keygen");
    for chain in ["evm", "solana"] {
        let file = dir.join(format!("{chain}.key"));
        let made = t402()
            .args(["--json", "keygen", "--chain", chain, "--out"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let made: Value = serde_json::from_slice(&made.stdout).unwrap();
        let address = made["address"].as_str().unwrap().to_owned();
        assert_eq!(made["chain"], chain);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{chain}");
        }
        let shown = t402()
            .args(["address", "--chain", chain, "--key-file"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(shown.status.success());
        assert_eq!(String::from_utf8(shown.stdout).unwrap().trim(), address);
        match chain {
            "evm" => {
                assert!(address.starts_with("0x") && address.len() == 42);
                let key = std::fs::read_to_string(&file).unwrap();
                let signer: PrivateKeySigner = key.trim().parse().unwrap();
                assert_eq!(signer.address().to_checksum(None), address);
            }
            _ => assert_eq!(bs58::decode(&address).into_vec().unwrap().len(), 32),
        }
        // An existing key is never overwritten by accident.
        t402()
            .args(["keygen", "--chain", chain, "--out"])
            .arg(&file)
            .assert()
            .code(1);
    }
    // The key from the environment; never from arguments.
    let key = PrivateKeySigner::random();
    let shown = t402()
        .args(["--json", "address"])
        .env("T402_PRIVATE_KEY", key_hex(&key))
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["address"], key.address().to_checksum(None));
    let missing = t402()
        .args(["--json", "address"])
        .env_remove("T402_PRIVATE_KEY")
        .env_remove("T402_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&missing.stderr).unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("T402_PRIVATE_KEY")
    );
    assert_eq!(error["exit"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_and_decode_as_json() {
    let bash = t402().args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(
        script.contains("_t402") && script.contains("keygen"),
        "{script}"
    );

    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../t402-core/tests/fixtures/x402-v2-http.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let header = fixture["headers"]["payment_required"]["base64"]
        .as_str()
        .unwrap();
    let decoded = t402().args(["--json", "decode", header]).output().unwrap();
    assert!(decoded.status.success());
    let decoded: Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert!(
        decoded["kind"]
            .as_str()
            .unwrap()
            .starts_with("PAYMENT-REQUIRED")
    );
    assert_eq!(decoded["value"]["x402Version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supported_and_balance_read_a_facilitator_and_a_chain() {
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let base = serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let (code, stdout, _) = run(args(&["supported", &base]), vec![]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("v2 exact on eip155:31337"), "{stdout}");
    let (_, stdout, _) = run(args(&["--json", "supported", &base]), vec![]).await;
    let supported: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(supported["kinds"][0]["network"], "eip155:31337");

    let token = world.token.to_checksum(None);
    let payer = world.payer.address().to_checksum(None);
    let rpc = vec![("T402_RPC_URL", world.anvil.url.clone())];
    let (code, stdout, stderr) = run(
        args(&[
            "--json",
            "balance",
            "eip155:31337",
            "--asset",
            &token,
            "--decimals",
            "6",
            "--address",
            &payer,
        ]),
        rpc.clone(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let balance: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(balance["atomic"], t402_testkit::PAYER_FUNDS.to_string());
    assert_eq!(balance["amount"], "1");
    assert_eq!(balance["address"], payer);
    // The holder from the key in the environment, as text.
    let (code, stdout, _) = run(
        args(&[
            "balance",
            "eip155:31337",
            "--asset",
            &token,
            "--decimals",
            "6",
        ]),
        vec![
            ("T402_RPC_URL", world.anvil.url.clone()),
            ("T402_PRIVATE_KEY", key_hex(&world.payer)),
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with(&format!("{payer} holds 1 ")), "{stdout}");
    // No RPC URL: an input error naming the variable.
    let (code, _, stderr) = run(
        args(&[
            "balance",
            "eip155:31337",
            "--asset",
            &token,
            "--address",
            &payer,
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("T402_RPC_URL"), "{stderr}");
}

/// An app with priced `POST /echo` (the body and `x-test` back), priced `GET /blob` (binary),
/// and free `GET /slow` (answers after 3 s).
async fn shop(world: &DevnetWorld) -> String {
    let option = PaymentOption::exact(
        Network::eip155(CHAIN),
        test_token_price(world.token, 10_000),
        world.pay_to.to_checksum(None),
    );
    let layer = PaymentLayer::builder()
        .facilitator(world.facilitator.clone())
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmServer),
        )
        .route("POST /echo", Route::new(option.clone()))
        .route("GET /blob", Route::new(option))
        .build_and_initialize()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: axum::http::HeaderMap, body: String| async move {
                let test = headers
                    .get("x-test")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                format!("echo {body} {test}")
            }),
        )
        .route(
            "/blob",
            get(|| async { vec![0u8, 159, 146, 150, 255, 10, 0] }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .layer(layer);
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_sends_a_method_headers_and_a_body_writes_binary_output_and_dry_runs() {
    let world = DevnetWorld::new();
    let base = shop(&world).await;
    let asset = format!("eip155:31337,{},6", world.token.to_checksum(None));
    let key = vec![("T402_PRIVATE_KEY", key_hex(&world.payer))];
    let paid_to = || async {
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap()
    };

    // A dry run says what it would pay and signs nothing.
    let (code, stdout, stderr) = run(
        args(&[
            "pay",
            &format!("{base}/echo"),
            "-d",
            "hi",
            "--asset",
            &asset,
            "--dry-run",
        ]),
        key.clone(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("would pay 10000 (atomic) on eip155:31337"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing was signed"));
    let (_, stdout, _) = run(
        args(&[
            "--json",
            "pay",
            &format!("{base}/echo"),
            "-d",
            "hi",
            "--asset",
            &asset,
            "--dry-run",
        ]),
        key.clone(),
    )
    .await;
    let dry: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["wouldPay"]["amount"], "10000");
    assert_eq!(paid_to().await, U256::ZERO);

    // -d makes it a POST; -H adds a header; the answer as JSON.
    let (code, stdout, stderr) = run(
        args(&[
            "--json",
            "pay",
            &format!("{base}/echo"),
            "-d",
            "hello",
            "-H",
            "X-Test: 42",
            "--asset",
            &asset,
        ]),
        key.clone(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["body"], "echo hello 42");
    assert_eq!(answer["receipt"]["success"], true);
    assert_eq!(answer["paid"]["network"], "eip155:31337");
    assert_eq!(paid_to().await, U256::from(10_000u64));

    // A body from a file, the method named.
    let dir = temp_dir("pay");
    let data = dir.join("data.txt");
    std::fs::write(&data, "from a file").unwrap();
    let (code, stdout, _) = run(
        args(&[
            "pay",
            "-X",
            "post",
            &format!("{base}/echo"),
            "-d",
            &format!("@{}", data.display()),
            "--asset",
            &asset,
        ]),
        key.clone(),
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("echo from a file"), "{stdout}");

    // Binary content, byte for byte, to a file.
    let out = dir.join("blob.bin");
    let (code, stdout, _) = run(
        args(&[
            "pay",
            &format!("{base}/blob"),
            "-o",
            &out.display().to_string(),
            "--asset",
            &asset,
        ]),
        key.clone(),
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("7 bytes written to"), "{stdout}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        vec![0u8, 159, 146, 150, 255, 10, 0]
    );
    assert_eq!(paid_to().await, U256::from(30_000u64));

    // Too slow for --timeout: a transport error.
    let (code, _, stderr) = run(
        args(&["pay", &format!("{base}/slow"), "--timeout", "1"]),
        key.clone(),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");

    // A malformed header is an input error.
    let (code, _, stderr) = run(
        args(&["pay", &format!("{base}/echo"), "-H", "no colon"]),
        key,
    )
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("Name: value"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_as_json() {
    let world = DevnetWorld::new();
    let base = shop(&world).await;
    let (code, stdout, _) = run(
        args(&["--json", "inspect", &format!("{base}/blob")]),
        vec![],
    )
    .await;
    assert_eq!(code, 0);
    let inspected: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspected["status"], 402);
    assert_eq!(inspected["version"], 2);
    assert_eq!(inspected["offers"][0]["amount"], "10000");
    assert_eq!(
        inspected["offers"][0]["payTo"],
        world.pay_to.to_checksum(None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_permit2_approves_the_canonical_permit2_for_a_token() {
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let token = world
        .anvil
        .deploy_permit_token("Permit Dollar", "1", "PUSD", 6)
        .await;
    let key = alloy_signer_local::PrivateKeySigner::random();
    world
        .anvil
        .set_balance(
            key.address(),
            alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(18)),
        )
        .await;
    let (code, stdout, stderr) = run(
        args(&[
            "--json",
            "approve-permit2",
            "eip155:31337",
            &token.to_checksum(None),
        ]),
        vec![
            ("T402_RPC_URL", world.anvil.url.clone()),
            ("T402_PRIVATE_KEY", key_hex(&key)),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        answer["allowance"],
        alloy_primitives::U256::MAX.to_string(),
        "{answer}"
    );
    assert_eq!(
        answer["spender"],
        "0x000000000022D473030F116dDEE9F6B43aC78BA3"
    );
    let allowance = t402_evm::chain::call_typed(
        &world.anvil.chain,
        token,
        &t402_evm::contracts::IErc20::allowanceCall {
            owner: key.address(),
            spender: t402_evm::permit2::PERMIT2,
        },
    )
    .await
    .unwrap();
    assert_eq!(allowance, alloy_primitives::U256::MAX);
    // Without the key: an input error, nothing sent.
    let (code, _, stderr) = run(
        args(&["approve-permit2", "eip155:31337", &token.to_checksum(None)]),
        vec![("T402_RPC_URL", world.anvil.url.clone())],
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
}
