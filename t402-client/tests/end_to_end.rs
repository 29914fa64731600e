//! The client paying a t402 server for real: the EVM facilitator on the in-process devnet and on
//! anvil, through `Client`, the tower layer over hyper, and the reqwest middleware.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use t402_client::tower::PaymentClientLayer;
use t402_client::{Budget, Client, Payer, Receipt, SpendPolicy};
use t402_core::{AssetAmount, Facilitator, LocalFacilitator, Network, NetworkPattern, Price};
use t402_evm::chain::EvmChain;
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_server::{PaymentLayer, PaymentOption, Route};
use tower::{Service, ServiceBuilder, ServiceExt};

const CHAIN: u64 = 31337;
const PRICE: u64 = 10_000;

/// Serves a priced `/report` paid in `token` through `facilitator`; returns its URL.
async fn serve(token: Address, pay_to: Address, facilitator: Arc<dyn Facilitator>) -> String {
    let mut extra = serde_json::Map::new();
    extra.insert("name".into(), json!("USD Coin"));
    extra.insert("version".into(), json!("2"));
    let price =
        Price::Asset(AssetAmount::new(token.to_checksum(None), PRICE.into()).with_extra(extra));
    let layer = PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmServer),
        )
        .route(
            "GET /report",
            Route::new(PaymentOption::exact(
                Network::eip155(CHAIN),
                price,
                pay_to.to_checksum(None),
            )),
        )
        .build_and_initialize()
        .await
        .unwrap();
    let app = Router::new()
        .route("/report", get(|| async { "the report" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn payer_for(signer: PrivateKeySigner, token: Address) -> Payer {
    Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmClient::new(signer)),
        )
        .policy(
            SpendPolicy::new()
                .allow_asset(
                    Network::eip155(CHAIN),
                    &token.to_checksum(None),
                    6,
                    Some("0.05"),
                )
                .unwrap()
                .budget(Budget::new("1", Duration::from_secs(3600)).unwrap()),
        )
}

/// Pays `url` through the tower layer over hyper; returns the receipt.
async fn pay_with_tower(url: &str, payer: Payer) -> Receipt {
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut service = ServiceBuilder::new()
        .layer(PaymentClientLayer::new(payer))
        .service(hyper);
    let request = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response
        .extensions()
        .get::<Receipt>()
        .cloned()
        .expect("a receipt");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "the report");
    receipt
}

/// Pays `url` through the reqwest middleware; returns the receipt.
async fn pay_with_middleware(url: &str, payer: Payer) -> Receipt {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t402_client::middleware::PaymentMiddleware::new(payer))
        .build();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response
        .extensions()
        .get::<Receipt>()
        .cloned()
        .expect("a receipt");
    assert_eq!(response.text().await.unwrap(), "the report");
    receipt
}

struct Devworld {
    devnet: Arc<Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
    url: String,
}

async fn devworld() -> Devworld {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet
        .deploy_test_token("USD Coin", "2", "USDC", 6)
        .unwrap();
    let payer = PrivateKeySigner::random();
    devnet
        .mint(token, payer.address(), U256::from(1_000_000u64))
        .unwrap();
    let key = PrivateKeySigner::random();
    devnet.fund(key.address(), U256::from(10u64).pow(U256::from(19)));
    let evm = ExactEvmFacilitator::new(
        devnet.clone(),
        FacilitatorSigners::new(CHAIN, [key]).unwrap(),
    )
    .unwrap();
    let facilitator =
        Arc::new(LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm)));
    let pay_to = Address::random();
    let url = serve(token, pay_to, facilitator).await;
    Devworld {
        devnet,
        token,
        payer,
        pay_to,
        url,
    }
}

#[tokio::test]
async fn client_pays_on_the_devnet() {
    let world = devworld().await;
    let client = Client::builder()
        .payer(payer_for(world.payer.clone(), world.token))
        .build()
        .unwrap();
    let response = client.get(&world.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "the report");
    let receipt = response.receipt().expect("a receipt");
    assert!(receipt.success);
    let hash = receipt.transaction.as_deref().unwrap().parse().unwrap();
    assert!(world.devnet.receipt(hash).await.unwrap().unwrap().success);
    assert_eq!(
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap(),
        U256::from(PRICE)
    );
}

#[tokio::test]
async fn the_tower_layer_pays_over_hyper() {
    let world = devworld().await;
    let receipt = pay_with_tower(&world.url, payer_for(world.payer.clone(), world.token)).await;
    assert!(receipt.success);
    assert_eq!(
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap(),
        U256::from(PRICE)
    );
}

#[tokio::test]
async fn the_reqwest_middleware_pays() {
    let world = devworld().await;
    let receipt =
        pay_with_middleware(&world.url, payer_for(world.payer.clone(), world.token)).await;
    assert!(receipt.success);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t402_client::middleware::PaymentMiddleware::new(payer_for(
            world.payer.clone(),
            world.token,
        )))
        .build();

    // A per-request policy that refuses the token: nothing is paid.
    let refused = client
        .get(&world.url)
        .with_extension(SpendPolicy::new())
        .send()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no acceptable offer"),
        "{refused}"
    );
    assert_eq!(
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap(),
        U256::from(PRICE)
    );
}

#[tokio::test]
async fn client_tower_layer_and_middleware_pay_on_anvil() {
    let Some(anvil) = t402_evm::anvil::Anvil::start().await else {
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
    let evm = ExactEvmFacilitator::new(
        anvil.chain.clone(),
        FacilitatorSigners::new(CHAIN, [key]).unwrap(),
    )
    .unwrap()
    .with_receipt_poll_interval(Duration::from_millis(20));
    let facilitator =
        Arc::new(LocalFacilitator::new().register([Network::eip155(CHAIN)], Arc::new(evm)));
    let pay_to = Address::random();
    let url = serve(token, pay_to, facilitator).await;
    let client = Client::builder()
        .payer(payer_for(payer.clone(), token))
        .build()
        .unwrap();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut receipts = vec![response.receipt().cloned().expect("a receipt")];
    receipts.push(pay_with_tower(&url, payer_for(payer.clone(), token)).await);
    receipts.push(pay_with_middleware(&url, payer_for(payer, token)).await);
    for receipt in receipts {
        let hash = receipt.transaction.as_deref().unwrap().parse().unwrap();
        assert!(anvil.chain.receipt(hash).await.unwrap().unwrap().success);
    }
    let balance = t402_evm::chain::call_typed(
        &anvil.chain,
        token,
        &t402_evm::contracts::IEip3009Token::balanceOfCall { account: pay_to },
    )
    .await
    .unwrap();
    assert_eq!(balance, U256::from(3 * PRICE));
}
