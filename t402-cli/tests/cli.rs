//! The `t402` binary: decode of every spec header, inspect and pay against a t402 server on the
//! devnet, and the facilitator command serving a t402 server over loopback on anvil.

use std::process::Command as StdCommand;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::Value;
use t402_core::{Network, NetworkPattern};
use t402_testkit::{CHAIN, DevnetWorld, serve_priced_report};

mod common;
use common::{key_hex, start_facilitator, t402};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../t402-core/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn decode_recognises_every_spec_header() {
    let v2 = fixture("x402-v2-http.json");
    let v1 = fixture("x402-v1-http.json");
    let cases = [
        (&v2["headers"]["payment_required"], "PAYMENT-REQUIRED"),
        (&v2["headers"]["payment_signature"], "PAYMENT-SIGNATURE"),
        (
            &v2["headers"]["payment_response_success"],
            "PAYMENT-RESPONSE",
        ),
        (
            &v2["headers"]["payment_response_failure"],
            "PAYMENT-RESPONSE",
        ),
        (&v1["headers"]["x_payment"], "X-PAYMENT"),
        (
            &v1["headers"]["x_payment_response_success"],
            "X-PAYMENT-RESPONSE",
        ),
        (
            &v1["headers"]["x_payment_response_failure"],
            "X-PAYMENT-RESPONSE",
        ),
    ];
    for (header, kind) in cases {
        let output = t402()
            .args(["decode", header["base64"].as_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{kind}");
        let text = String::from_utf8(output.stdout).unwrap();
        let (first, json) = text.split_once('\n').unwrap();
        assert!(first.contains(kind), "{first}");
        let decoded: Value = serde_json::from_str(json).unwrap();
        let expected: Value = match &header["decoded"] {
            Value::String(text) => serde_json::from_str(text).unwrap(),
            other => other.clone(),
        };
        assert_eq!(decoded, expected, "{kind}");
    }
    // The v1 body, from standard input.
    let output = t402()
        .args(["decode", "-"])
        .write_stdin(match &v1["v1_body"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("kind: v1 402 body"));
}

#[test]
fn a_bad_value_is_one_line_with_a_code_and_exit_1() {
    let output = t402().args(["decode", "not base64!"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error [T402-"), "{stderr}");
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    for args in [
        &["--no-such-flag"][..],
        &["pay"][..],
        &["decode", "a", "b"][..],
        &["no-such-command"][..],
    ] {
        let output = t402().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    let help = t402().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("pay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_exits_non_zero_when_the_final_answer_is_an_error() {
    // An unpriced route that fails: nothing is paid, the answer is printed, the exit code says so.
    let app = axum::Router::new().route(
        "/broken",
        axum::routing::get(|| async { (axum::http::StatusCode::BAD_GATEWAY, "upstream down") }),
    );
    let base = t402_testkit::serve(app).await;
    let key = key_hex(&PrivateKeySigner::random());
    let output = tokio::task::spawn_blocking(move || {
        t402()
            .args(["pay", &format!("{base}/broken")])
            .env("T402_PRIVATE_KEY", key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("502 "), "{stdout}");
    assert!(stdout.contains("upstream down"), "{stdout}");
}

#[test]
fn a_facilitator_store_named_by_an_unset_variable_is_an_input_error() {
    let dir = std::env::temp_dir().join(format!("t402-cli-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nstore_url_env = \"T402_NO_SUCH_STORE\"\nchains = []\n",
    )
    .unwrap();
    let output = t402()
        .args(["facilitator", "--config"])
        .arg(&config)
        .env_remove("T402_NO_SUCH_STORE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("T402_NO_SUCH_STORE"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pay_never_reads_a_key_from_arguments() {
    let output = t402()
        .args(["pay", "http://127.0.0.1:1/x"])
        .env_remove("T402_PRIVATE_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("T402_PRIVATE_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_and_pay_a_server_on_the_devnet() {
    let DevnetWorld {
        devnet,
        token,
        payer,
        pay_to,
        facilitator,
    } = DevnetWorld::new();
    let url = serve_priced_report(token, pay_to, facilitator).await;

    let inspect_url = url.clone();
    let inspected = tokio::task::spawn_blocking(move || {
        t402().args(["inspect", &inspect_url]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(inspected.status.success());
    let table = String::from_utf8(inspected.stdout).unwrap();
    assert!(
        table.contains("scheme") && table.contains("payee"),
        "{table}"
    );
    assert!(
        table.contains("eip155:31337") && table.contains("10000 (atomic)"),
        "{table}"
    );
    assert!(table.contains(&pay_to.to_checksum(None)), "{table}");

    let asset = format!("eip155:31337,{},6", token.to_checksum(None));
    let (pay_url, payer_key) = (url.clone(), key_hex(&payer));
    let paid = tokio::task::spawn_blocking(move || {
        t402()
            .args(["pay", &pay_url, "--max", "0.05", "--asset", &asset])
            .env("T402_PRIVATE_KEY", payer_key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(paid.stdout).unwrap();
    assert!(
        paid.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&paid.stderr)
    );
    assert!(stdout.starts_with("200 "), "{stdout}");
    assert!(stdout.contains("settled: true (transaction 0x"), "{stdout}");
    assert!(stdout.contains("the report"));
    assert_eq!(
        devnet.token_balance(token, pay_to).await.unwrap(),
        U256::from(10_000u64)
    );

    // Above the cap: not paid, exit 3.
    let (pay_url, payer_key) = (url.clone(), key_hex(&payer));
    let asset = format!("eip155:31337,{},6", token.to_checksum(None));
    let refused = tokio::task::spawn_blocking(move || {
        t402()
            .args(["pay", &pay_url, "--max", "0.001", "--asset", &asset])
            .env("T402_PRIVATE_KEY", payer_key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("T402-1002"));
}

/// One chain and a settlement store named by variables; `receipt_timeout_secs` as given.
fn facilitator_config(
    dir: &std::path::Path,
    keys: usize,
    receipt_timeout_secs: u64,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let key_envs: Vec<String> = (1..=keys)
        .map(|n| format!("\"T402_TEST_KEY_{n}\""))
        .collect();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
store_url_env = "T402_TEST_STORE_URL"

[[chains]]
network = "eip155:31337"
rpc_url_env = "T402_TEST_RPC_URL"
key_envs = [{}]
receipt_timeout_secs = {receipt_timeout_secs}
"#,
            key_envs.join(", ")
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facilitator_command_serves_a_t402_server() {
    // Settlements are recorded in a Redis shared by replicas.
    let Some(redis) = t402_testkit::redis::RedisServer::start() else {
        return;
    };
    let Some(anvil) = t402_evm::anvil::Anvil::start().await else {
        return;
    };
    anvil.install_multicall3().await;
    let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
    let payer = PrivateKeySigner::random();
    anvil
        .mint(token, payer.address(), U256::from(1_000_000u64))
        .await;
    let keys = [PrivateKeySigner::random(), PrivateKeySigner::random()];
    for key in &keys {
        anvil
            .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
            .await;
    }
    let dir = std::env::temp_dir().join(format!("t402-cli-{}", std::process::id()));
    let config = facilitator_config(&dir, 2, 30);
    let facilitator = start_facilitator(
        &config,
        &[],
        &[
            ("T402_TEST_RPC_URL", anvil.url.clone()),
            ("T402_TEST_STORE_URL", redis.url()),
            ("T402_TEST_KEY_1", key_hex(&keys[0])),
            ("T402_TEST_KEY_2", key_hex(&keys[1])),
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
    assert_eq!(supported["kinds"][0]["network"], "eip155:31337");
    assert_eq!(
        supported["signers"]["eip155:*"].as_array().unwrap().len(),
        2
    );

    let remote = t402_server::facilitator::HttpFacilitator::new(&base).unwrap();
    let pay_to = Address::random();
    let url = serve_priced_report(token, pay_to, Arc::new(remote)).await;
    let client = t402_client::Client::builder()
        .payer(
            t402_client::Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*").unwrap(),
                    Arc::new(t402_evm::ExactEvmClient::new(payer)),
                )
                .policy(
                    t402_client::SpendPolicy::new()
                        .allow_asset(
                            Network::eip155(CHAIN),
                            &token.to_checksum(None),
                            6,
                            Some("0.05"),
                        )
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(60), client.get(&url).send())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.receipt().unwrap().success);
    let balance = t402_evm::chain::call_typed(
        &anvil.chain,
        token,
        &t402_evm::contracts::IEip3009Token::balanceOfCall { account: pay_to },
    )
    .await
    .unwrap();
    assert_eq!(balance, U256::from(10_000u64));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn rpc(anvil: &t402_evm::anvil::Anvil, method: &'static str, params: Value) -> Value {
    anvil.chain.raw_request(method, params).await.unwrap()
}

fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facilitator_killed_after_broadcasting_is_followed_by_its_restart_not_repeated() {
    use t402_core::Facilitator as _;
    let Some(redis) = t402_testkit::redis::RedisServer::start() else {
        return;
    };
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let anvil = &world.anvil;
    let key = PrivateKeySigner::random();
    anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    let dir = std::env::temp_dir().join(format!("t402-cli-restart-{}", std::process::id()));
    let config = facilitator_config(&dir, 1, 120);
    let envs = [
        ("T402_TEST_RPC_URL", anvil.url.clone()),
        ("T402_TEST_STORE_URL", redis.url()),
        ("T402_TEST_KEY_1", key_hex(&key)),
    ];
    // One payment, settled through the first process.
    let request = world.payment(1_000).await;

    // Blocks are mined only when asked: the broadcast transaction waits in the pool.
    world.set_automine(false).await;
    let first = start_facilitator(&config, &[], &envs).await;
    let settling = {
        let remote = t402_server::facilitator::HttpFacilitator::new(&first.base).unwrap();
        let request = request.clone();
        tokio::spawn(async move { remote.settle(&request).await })
    };
    let mut pending = 0;
    for _ in 0..200 {
        pending = quantity(&rpc(anvil, "txpool_status", serde_json::json!([])).await["pending"]);
        if pending > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(pending, 1, "the first process broadcast the transfer");
    // Killed right after broadcasting, before any receipt.
    drop(first);
    assert!(
        settling.await.unwrap().is_err(),
        "the first process is gone"
    );

    // Started again, the same settlement follows the recorded transaction.
    let second = start_facilitator(&config, &[], &envs).await;
    let retry = {
        let remote = t402_server::facilitator::HttpFacilitator::new(&second.base).unwrap();
        let request = request.clone();
        tokio::spawn(async move { remote.settle(&request).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.mine().await;
    let settled = tokio::time::timeout(Duration::from_secs(30), retry)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let block = rpc(
        anvil,
        "eth_getBlockByNumber",
        serde_json::json!(["latest", false]),
    )
    .await;
    let transactions = block["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 1, "nothing was sent twice: {block}");
    assert!(settled.success, "{settled:?}");
    assert_eq!(
        settled.transaction.as_deref(),
        transactions[0].as_str(),
        "the retry reports the original transaction"
    );
    assert_eq!(
        quantity(
            &rpc(
                anvil,
                "eth_getTransactionCount",
                serde_json::json!([key.address(), "pending"])
            )
            .await
        ),
        1,
        "the facilitator key sent one transaction"
    );
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(1_000u64)
    );
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facilitator_command_serves_v1_kinds_and_settles_for_a_v1_server() {
    if !t402_testkit::npm_package_installed("x402-express") {
        return;
    }
    // Base Sepolia's chain id: its v1 name is `base-sepolia`.
    let Some(anvil) = t402_evm::anvil::Anvil::start_with_chain_id(84532).await else {
        return;
    };
    anvil.install_multicall3().await;
    let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
    let payer = PrivateKeySigner::random();
    anvil
        .mint(token, payer.address(), U256::from(1_000_000u64))
        .await;
    let key = PrivateKeySigner::random();
    anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    let dir = std::env::temp_dir().join(format!("t402-cli-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        r#"listen = "127.0.0.1:0"

[[chains]]
network = "eip155:84532"
rpc_url_env = "T402_TEST_RPC_URL"
key_envs = ["T402_TEST_KEY"]
"#,
    )
    .unwrap();
    let facilitator = start_facilitator(
        &config,
        &[],
        &[
            ("T402_TEST_RPC_URL", anvil.url.clone()),
            ("T402_TEST_KEY", key_hex(&key)),
        ],
    )
    .await;
    let supported: Value = reqwest::get(format!("{}/supported", facilitator.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds = supported["kinds"].as_array().unwrap();
    let listed = |version: u64, network: &str| {
        kinds.iter().any(|kind| {
            kind["x402Version"] == version
                && kind["t402Version"] == version
                && kind["scheme"] == "exact"
                && kind["network"] == network
        })
    };
    assert!(listed(2, "eip155:84532"), "{supported}");
    assert!(listed(1, "base-sepolia"), "{supported}");
    // `upto` beside `exact` on EVM chains (v2), naming the key that settles.
    let upto = kinds
        .iter()
        .find(|kind| kind["scheme"] == "upto" && kind["network"] == "eip155:84532")
        .unwrap_or_else(|| panic!("no upto kind: {supported}"));
    assert_eq!(
        upto["extra"]["facilitatorAddress"],
        key.address().to_checksum(None)
    );
    assert!(
        supported["extensions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("eip2612GasSponsoring"))
    );

    let pay_to = Address::random();
    let server = t402_testkit::NodeServer::spawn(
        "x402-v1.mjs",
        serde_json::json!({
            "command": "server",
            "facilitatorUrl": facilitator.base,
            "network": "base-sepolia",
            "token": token.to_checksum(None),
            "payTo": pay_to.to_checksum(None),
            "amount": "10000",
        }),
    )
    .await;
    let client = t402_client::Client::builder()
        .payer(
            t402_client::Payer::new()
                .mechanism(
                    NetworkPattern::parse("eip155:*").unwrap(),
                    Arc::new(t402_evm::ExactEvmClient::new(payer)),
                )
                .policy(
                    t402_client::SpendPolicy::new()
                        .allow_asset(
                            Network::eip155(84532),
                            &token.to_checksum(None),
                            6,
                            Some("0.05"),
                        )
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let response = client
        .get(&format!("{}/weather", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    let receipt = response.receipt().expect("an X-PAYMENT-RESPONSE");
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.network, "base-sepolia");
    let balance = t402_evm::chain::call_typed(
        &anvil.chain,
        token,
        &t402_evm::contracts::IEip3009Token::balanceOfCall { account: pay_to },
    )
    .await
    .unwrap();
    assert_eq!(balance, U256::from(10_000u64));
    let _ = std::fs::remove_dir_all(&dir);
}

/// One chain on anvil, an API key from the environment, a grace period; no store.
fn keyed_config(dir: &std::path::Path, listen: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "{listen}"
api_key_envs = ["T402_TEST_API_KEY"]
shutdown_grace_secs = 30

[[chains]]
network = "eip155:31337"
rpc_url_env = "T402_TEST_RPC_URL"
key_envs = ["T402_TEST_KEY_1"]
"#
        ),
    )
    .unwrap();
    config
}

const API_KEY: &str = "a-test-api-key-of-some-length";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_settlement_stops_taking_requests_and_finishes_it() {
    use t402_core::Facilitator as _;
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let anvil = &world.anvil;
    let key = PrivateKeySigner::random();
    anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    let dir = std::env::temp_dir().join(format!("t402-cli-sigterm-{}", std::process::id()));
    // The file's address cannot be bound: --listen replaces it.
    let config = keyed_config(&dir, "203.0.113.1:4020");
    let envs = [
        ("T402_TEST_RPC_URL", anvil.url.clone()),
        ("T402_TEST_KEY_1", key_hex(&key)),
        ("T402_TEST_API_KEY", API_KEY.to_owned()),
    ];
    let mut facilitator = start_facilitator(&config, &["--listen", "127.0.0.1:0"], &envs).await;
    let base = facilitator.base.clone();
    let keyed = |endpoint: t402_server::facilitator::Endpoint| {
        let _ = endpoint;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {API_KEY}").parse().unwrap(),
        );
        headers
    };
    // Without the key: refused.
    let refused = reqwest::get(format!("{base}/supported")).await.unwrap();
    assert_eq!(refused.status(), 401);

    let request = world.payment(1_000).await;
    world.set_automine(false).await;
    let settling = {
        let remote = t402_server::facilitator::HttpFacilitator::new(&base)
            .unwrap()
            .with_auth_headers(keyed);
        tokio::spawn(async move { remote.settle(&request).await })
    };
    let mut pending = 0;
    for _ in 0..200 {
        pending = quantity(&rpc(anvil, "txpool_status", serde_json::json!([])).await["pending"]);
        if pending > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        pending, 1,
        "the transfer is broadcast and waits for a block"
    );

    // SIGTERM, as a container runtime sends it.
    let status = StdCommand::new("kill")
        .args(["-TERM", &facilitator.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // New connections are refused while the settlement in flight goes on.
    let mut refused_new = false;
    for _ in 0..100 {
        if reqwest::get(format!("{base}/health")).await.is_err() {
            refused_new = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused_new, "the listener is closed after SIGTERM");
    assert!(
        facilitator.child.try_wait().unwrap().is_none(),
        "the process waits for its settlement"
    );

    world.mine().await;
    let settled = tokio::time::timeout(Duration::from_secs(30), settling)
        .await
        .unwrap()
        .unwrap()
        .expect("the settlement in flight is answered");
    assert!(settled.success, "{settled:?}");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(1_000u64)
    );
    let exited = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = facilitator.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(
        exited
            .expect("the process exits after its settlement")
            .success()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connects_everything_prints_what_would_be_served_and_exits() {
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let key = PrivateKeySigner::random();
    let dir = std::env::temp_dir().join(format!("t402-cli-check-{}", std::process::id()));
    let config = keyed_config(&dir, "127.0.0.1:4020");
    let envs = [
        ("T402_TEST_RPC_URL", world.anvil.url.clone()),
        ("T402_TEST_KEY_1", key_hex(&key)),
        ("T402_TEST_API_KEY", API_KEY.to_owned()),
    ];
    let output = t402()
        .args(["facilitator", "--check", "--config"])
        .arg(&config)
        .envs(envs.iter().map(|(name, value)| (*name, value)))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("listen: 127.0.0.1:4020"), "{text}");
    assert!(text.contains("serves: v2 exact on eip155:31337"), "{text}");
    assert!(
        text.contains(&format!("signers (eip155:*): {}", key.address())),
        "{text}"
    );
    assert!(text.contains("settlement store: in memory"), "{text}");
    assert!(text.contains("API keys: 1"), "{text}");
    assert!(!text.contains(API_KEY), "keys are never printed");
    let output = t402()
        .args(["--json", "facilitator", "--check", "--config"])
        .arg(&config)
        .envs(envs.iter().map(|(name, value)| (*name, value)))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checked["valid"], true);
    assert_eq!(checked["kinds"][0]["network"], "eip155:31337");
    assert_eq!(checked["apiKeys"], 1);

    // A key the file names but the environment lacks: an input error, nothing served.
    t402()
        .args(["facilitator", "--check", "--config"])
        .arg(&config)
        .envs(envs[..2].iter().map(|(name, value)| (*name, value)))
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    // A node that cannot be reached: a transport error.
    t402()
        .args(["facilitator", "--check", "--config"])
        .arg(&config)
        .env("T402_TEST_RPC_URL", "http://127.0.0.1:9")
        .envs(envs[1..].iter().map(|(name, value)| (*name, value)))
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2);
    let _ = std::fs::remove_dir_all(&dir);
}
