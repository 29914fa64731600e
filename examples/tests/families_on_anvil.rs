//! Both protocol families and protocol v1, on anvil, with the packages from the committed npm
//! lockfile: the t402 TypeScript packages (`@t402/core` 2.0.0, `@t402/evm` 2.2.0), which name the
//! version `t402Version`, and the v1 x402 packages (`x402-fetch` and `x402-express` 1.2.0), which
//! read the 402 body and pay with `X-PAYMENT`. The @x402 2.27 family is tested in
//! `paid_api_on_anvil.rs` and `t402-client/tests/reference_server.rs`.

use std::sync::Arc;

use alloy_primitives::U256;
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Facilitator, NetworkPattern, VersionKey};
use t402_evm::ExactEvmClient;
use t402_examples::paid_api::{Pricing, payment_layer, router};
use t402_server::facilitator::HttpFacilitator;
use t402_server::facilitator_service::facilitator_router;
use t402_testkit::{
    AnvilWorld, NodeServer, node_command, npm_package_installed, private_key_hex, serve,
};

/// Base Sepolia's chain id: its v1 name, `base-sepolia`, is one v1 clients know.
const BASE_SEPOLIA: u64 = 84532;

/// The price of the example's `GET /weather`, in atomic units of the 6-decimal test token.
const WEATHER_PRICE: u64 = 1_000;

fn pricing(world: &AnvilWorld) -> Pricing {
    Pricing {
        network: world.network(),
        token: world.token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: 6,
        pay_to: world.pay_to.to_checksum(None),
    }
}

/// The example API paid through `facilitator`; returns its base URL.
async fn serve_example(world: &AnvilWorld, facilitator: Arc<dyn Facilitator>) -> String {
    let layer = payment_layer(&pricing(world), facilitator)
        .await
        .expect("the layer initializes");
    serve(router(layer)).await
}

/// The t402 client paying with the world's payer, within 0.05 of the test token.
fn t402_client(world: &AnvilWorld) -> Client {
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmClient::new(world.payer.clone())),
        )
        .policy(
            SpendPolicy::new()
                .allow_asset(
                    world.network(),
                    &world.token.to_checksum(None),
                    6,
                    Some("0.05"),
                )
                .unwrap(),
        );
    Client::builder().payer(payer).build().unwrap()
}

/// A funded key for a facilitator running in node.
async fn node_facilitator_key(world: &AnvilWorld) -> String {
    let key = alloy_signer_local::PrivateKeySigner::random();
    world
        .anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    private_key_hex(&key)
}

#[tokio::test]
async fn a_t402_family_client_pays_the_example_api() {
    if !npm_package_installed("@t402/core") {
        return;
    }
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let base = serve_example(&world, world.facilitator.clone()).await;
    let paid = node_command(
        "t402-packages.mjs",
        json!({
            "command": "fetch",
            "url": format!("{base}/weather"),
            "privateKey": private_key_hex(&world.payer),
            "network": world.network().to_string(),
        }),
    )
    .await;
    assert_eq!(
        paid["challengeKeys"],
        json!(["x402Version", "t402Version"]),
        "the challenge names the version with both keys"
    );
    assert_eq!(paid["status"], 200, "{paid}");
    let body: Value = serde_json::from_str(paid["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["forecast"], "sunny");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(WEATHER_PRICE)
    );
}

/// A server run by `script` (started with `config` and the URL of a t402 facilitator service
/// on the world's chain, as `facilitatorUrl`) sells `GET /weather` for 10000 atomic units; the
/// t402 client pays it. Returns the body's `from` and the receipt.
async fn t402_client_pays_a_node_server(
    world: &AnvilWorld,
    package: &str,
    script: &str,
    mut config: Value,
) -> Option<(Value, t402_client::Receipt)> {
    if !npm_package_installed(package) {
        return None;
    }
    let facilitator = serve(facilitator_router(world.facilitator.clone())).await;
    config["facilitatorUrl"] = json!(facilitator);
    config["token"] = json!(world.token.to_checksum(None));
    config["payTo"] = json!(world.pay_to.to_checksum(None));
    config["amount"] = json!("10000");
    let server = NodeServer::spawn(script, config).await;
    let response = t402_client(world)
        .get(&format!("{}/weather", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    let body: Value = response.json().unwrap();
    let receipt = response
        .receipt()
        .expect("the server sends a receipt")
        .clone();
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(10_000u64)
    );
    Some((body["from"].clone(), receipt))
}

#[tokio::test]
async fn the_t402_client_pays_a_t402_family_server_that_settles_through_the_t402_facilitator() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let config = json!({"command": "server", "network": world.network().to_string()});
    if let Some((from, _)) =
        t402_client_pays_a_node_server(&world, "@t402/core", "t402-packages.mjs", config).await
    {
        assert_eq!(from, "@t402");
    }
}

/// A t402 server (the example API) whose facilitator is the reference facilitator of `family`
/// over HTTP, paid by the t402 client; the facilitator client speaks `expected_key`, learned
/// from the facilitator's `/supported`.
async fn a_t402_server_settles_through_the_facilitator_of(family: &str, expected_key: VersionKey) {
    let package = if family == "t402" {
        "@t402/core"
    } else {
        "@x402/core"
    };
    if !npm_package_installed(package) {
        return;
    }
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let node = NodeServer::spawn(
        "facilitator-http.mjs",
        json!({
            "family": family,
            "rpcUrl": world.anvil.url,
            "privateKey": node_facilitator_key(&world).await,
            "network": world.network().to_string(),
        }),
    )
    .await;
    let remote = HttpFacilitator::new(&node.url()).unwrap();
    let base = serve_example(&world, Arc::new(remote.clone())).await;
    assert_eq!(
        remote.version_key(),
        expected_key,
        "learned from the facilitator's /supported"
    );
    let response = t402_client(&world)
        .get(&format!("{base}/weather"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    let receipt = response.receipt().expect("a receipt");
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(WEATHER_PRICE)
    );
}

#[tokio::test]
async fn a_t402_server_settles_through_the_t402_family_facilitator() {
    a_t402_server_settles_through_the_facilitator_of("t402", VersionKey::T402).await;
}

#[tokio::test]
async fn a_t402_server_settles_through_the_x402_reference_facilitator_over_http() {
    a_t402_server_settles_through_the_facilitator_of("x402", VersionKey::X402).await;
}

#[tokio::test]
async fn the_t402_client_pays_an_x402_reference_server_that_settles_through_the_t402_facilitator() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let config = json!({"rpcUrl": world.anvil.url, "chainId": world.chain_id});
    if let Some((from, _)) =
        t402_client_pays_a_node_server(&world, "@x402/express", "x402-express-server.mjs", config)
            .await
    {
        assert_eq!(from, "express");
    }
}

#[tokio::test]
async fn a_v1_client_pays_the_example_api_with_x_payment() {
    if !npm_package_installed("x402-fetch") {
        return;
    }
    let Some(world) = AnvilWorld::start_on_chain(BASE_SEPOLIA).await else {
        return;
    };
    let base = serve_example(&world, world.facilitator.clone()).await;

    let unpaid = reqwest::get(format!("{base}/weather")).await.unwrap();
    assert_eq!(unpaid.status(), 402);
    assert!(unpaid.headers().contains_key("payment-required"));
    let body: Value = unpaid.json().await.unwrap();
    assert_eq!(body["x402Version"], 1, "{body}");
    assert_eq!(body["accepts"][0]["network"], "base-sepolia");
    assert_eq!(body["accepts"][0]["maxAmountRequired"], "1000");

    let paid = node_command(
        "x402-v1.mjs",
        json!({
            "command": "fetch",
            "url": format!("{base}/weather"),
            "privateKey": private_key_hex(&world.payer),
            "network": "base-sepolia",
            "maxValue": "100000",
        }),
    )
    .await;
    assert_eq!(paid["status"], 200, "{paid}");
    let body: Value = serde_json::from_str(paid["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["forecast"], "sunny");
    assert_eq!(paid["paymentResponse"]["success"], true, "{paid}");
    assert_eq!(paid["paymentResponse"]["network"], "base-sepolia");
    assert_eq!(
        world.token_balance(world.pay_to).await,
        U256::from(WEATHER_PRICE)
    );
}

#[tokio::test]
async fn the_t402_client_pays_a_v1_express_server_through_the_t402_facilitator() {
    let Some(world) = AnvilWorld::start_on_chain(BASE_SEPOLIA).await else {
        return;
    };
    let config = json!({"command": "server", "network": "base-sepolia"});
    if let Some((from, receipt)) =
        t402_client_pays_a_node_server(&world, "x402-express", "x402-v1.mjs", config).await
    {
        assert_eq!(from, "x402-express v1");
        assert_eq!(receipt.network, "base-sepolia");
    }
}
