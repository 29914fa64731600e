//! The `t402` binary: decode of every spec header, inspect and pay against a t402 server on the
//! devnet, and the facilitator command serving a t402 server over loopback on anvil.

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use assert_cmd::Command;
use serde_json::Value;
use t402_core::{Network, NetworkPattern};
use t402_testkit::{CHAIN, DevnetWorld, serve_priced_report};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../t402-core/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn t402() -> Command {
    Command::cargo_bin("t402").unwrap()
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

fn key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", alloy_primitives::hex::encode(key.to_bytes()))
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

/// Kills the facilitator process on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        r#"listen = "127.0.0.1:0"
store_url_env = "T402_TEST_STORE_URL"

[[chains]]
network = "eip155:31337"
rpc_url_env = "T402_TEST_RPC_URL"
key_envs = ["T402_TEST_KEY_1", "T402_TEST_KEY_2"]
receipt_timeout_secs = 30
"#,
    )
    .unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("t402"))
        .args(["facilitator", "--config"])
        .arg(&config)
        .env("T402_TEST_RPC_URL", &anvil.url)
        .env("T402_TEST_STORE_URL", redis.url())
        .env("T402_TEST_KEY_1", key_hex(&keys[0]))
        .env("T402_TEST_KEY_2", key_hex(&keys[1]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Child(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("facilitator listening on ")
        .expect("the facilitator prints its address")
        .to_owned();

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
