//! The client paying a server built from the reference TypeScript packages (`@x402/express`
//! 2.27 with the reference EVM facilitator, in node, pinned in package-lock.json) on anvil.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Network, NetworkPattern};
use t402_evm::ExactEvmClient;
use t402_evm::anvil::{ANVIL_CHAIN, Anvil};

/// Kills the node server on drop.
struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_client_pays_the_reference_express_server() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if !root.join("node_modules/@x402/express").exists() {
        if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
            eprintln!("skipped: @x402/express is not installed (T402_SKIP_EXTERNAL is set)");
            return;
        }
        panic!("@x402/express is not installed: run `npm ci` at the repository root");
    }
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    anvil.install_multicall3().await;
    let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
    let payer = PrivateKeySigner::random();
    anvil
        .mint(token, payer.address(), U256::from(1_000_000u64))
        .await;
    let facilitator_key = PrivateKeySigner::random();
    anvil
        .set_balance(
            facilitator_key.address(),
            U256::from(10u64).pow(U256::from(19)),
        )
        .await;
    let pay_to = Address::random();
    let config = json!({
        "rpcUrl": anvil.url,
        "facilitatorKey": format!("0x{}", alloy_primitives::hex::encode(facilitator_key.to_bytes())),
        "token": token.to_checksum(None),
        "payTo": pay_to.to_checksum(None),
        "amount": "10000",
        "chainId": ANVIL_CHAIN,
    });
    let mut child = Command::new("node")
        .arg("scripts/x402-express-server.mjs")
        .arg(config.to_string())
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().unwrap();
    let node = Node(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let port = serde_json::from_str::<Value>(&line).expect("the server prints its port")["port"]
        .as_u64()
        .unwrap();

    let payer_mechanism = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmClient::new(payer.clone())),
        )
        .policy(
            SpendPolicy::new()
                .allow_asset(
                    Network::eip155(ANVIL_CHAIN),
                    &token.to_checksum(None),
                    6,
                    Some("0.05"),
                )
                .unwrap(),
        );
    let client = Client::builder().payer(payer_mechanism).build().unwrap();
    let response = client
        .get(&format!("http://127.0.0.1:{port}/weather"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    let body: Value = response.json().unwrap();
    assert_eq!(body["from"], "express");
    let receipt = response
        .receipt()
        .expect("the reference server sends a receipt");
    assert!(receipt.success);
    assert_eq!(receipt.network, "eip155:31337");
    let balance = t402_evm::chain::call_typed(
        &anvil.chain,
        token,
        &t402_evm::contracts::IEip3009Token::balanceOfCall { account: pay_to },
    )
    .await
    .unwrap();
    assert_eq!(balance, U256::from(10_000u64));
    drop(node);
}
