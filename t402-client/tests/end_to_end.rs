//! The client paying a t402 server for real: the EVM facilitator on the in-process devnet and on
//! anvil, through `Client`, the tower layer over hyper, and the reqwest middleware.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use t402_client::tower::PaymentClientLayer;
use t402_client::{Budget, Client, Payer, Receipt, SpendPolicy};
use t402_core::{Network, NetworkPattern};
use t402_evm::ExactEvmClient;
use t402_evm::chain::EvmChain;
use t402_testkit::{AnvilWorld, CHAIN, DevnetWorld, REPORT_PRICE as PRICE, serve_priced_report};
use tower::{Service, ServiceBuilder, ServiceExt};

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

/// The devnet world with the priced report served on loopback.
struct Devworld {
    devnet: Arc<t402_evm::devnet::Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
    url: String,
}

async fn devworld() -> Devworld {
    let world = DevnetWorld::new();
    let url = serve_priced_report(world.token, world.pay_to, world.facilitator).await;
    Devworld {
        devnet: world.devnet,
        token: world.token,
        payer: world.payer,
        pay_to: world.pay_to,
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
    let Some(AnvilWorld {
        anvil,
        token,
        payer,
        pay_to,
        facilitator,
        ..
    }) = AnvilWorld::start().await
    else {
        return;
    };
    let url = serve_priced_report(token, pay_to, facilitator).await;
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
