//! The example API on a real anvil node with the facilitator on JSON-RPC: paid with t402's own
//! client code, and with the reference TypeScript client (`@x402/fetch` 2.27 with viem, pinned in
//! package-lock.json).

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use t402_core::codec::{Codec, encode_header};
use t402_core::{ClientMechanism, LocalFacilitator, Network, PaymentPayload};
use t402_evm::anvil::{ANVIL_CHAIN, Anvil};
use t402_evm::chain::{EvmChain, call_typed};
use t402_evm::contracts::IEip3009Token;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};
use t402_examples::paid_api::{Pricing, payment_layer, router};

struct Running {
    anvil: Anvil,
    token: Address,
    pay_to: Address,
    url: String,
}

async fn start() -> Option<Running> {
    let anvil = Anvil::start().await?;
    anvil.install_multicall3().await;
    let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
    let key = PrivateKeySigner::random();
    anvil
        .set_balance(key.address(), U256::from(10u64).pow(U256::from(19)))
        .await;
    let evm = ExactEvmFacilitator::new(
        anvil.chain.clone(),
        FacilitatorSigners::new(ANVIL_CHAIN, [key]).unwrap(),
    )
    .unwrap()
    .with_receipt_poll_interval(Duration::from_millis(20));
    let facilitator =
        LocalFacilitator::new().register([Network::eip155(ANVIL_CHAIN)], Arc::new(evm));
    let pay_to = Address::random();
    let pricing = Pricing {
        network: Network::eip155(ANVIL_CHAIN),
        token: token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: 6,
        pay_to: pay_to.to_checksum(None),
    };
    let app = router(
        payment_layer(&pricing, Arc::new(facilitator))
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Some(Running {
        anvil,
        token,
        pay_to,
        url,
    })
}

impl Running {
    async fn balance(&self, who: Address) -> U256 {
        call_typed(
            &self.anvil.chain,
            self.token,
            &IEip3009Token::balanceOfCall { account: who },
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn paid_unpaid_malformed_and_wrong_amount_on_anvil() {
    let Some(running) = start().await else { return };
    let payer = PrivateKeySigner::random();
    running
        .anvil
        .mint(running.token, payer.address(), U256::from(1_000_000u64))
        .await;
    let http = reqwest::Client::new();
    let url = format!("{}/report/42", running.url);

    let unpaid = http.get(&url).send().await.unwrap();
    assert_eq!(unpaid.status(), 402);
    let required = Codec::default()
        .decode_payment_required(unpaid.headers()["payment-required"].to_str().unwrap())
        .unwrap();
    assert_eq!(required.accepts[0].amount, 10_000u64.into());
    assert_eq!(required.resource.url, url);

    let malformed = http
        .get(&url)
        .header("PAYMENT-SIGNATURE", "%%%")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed.headers().get("payment-required").is_some());

    let client = ExactEvmClient::new(payer.clone());
    let mut cheaper = required.accepts[0].clone();
    cheaper.amount = 1u64.into();
    let signed = client.create_payload(2, &cheaper, None).await.unwrap();
    let wrong = encode_header(&PaymentPayload::new(cheaper.into(), signed.payload));
    let refused = http
        .get(&url)
        .header("PAYMENT-SIGNATURE", wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 402);
    let again = Codec::default()
        .decode_payment_required(refused.headers()["payment-required"].to_str().unwrap())
        .unwrap();
    assert_eq!(
        again.error.as_deref(),
        Some("No matching payment requirements")
    );

    let accepted = required.accepts[0].clone();
    let signed = client.create_payload(2, &accepted, None).await.unwrap();
    let payment = encode_header(&PaymentPayload::new(accepted.into(), signed.payload));
    let paid = http
        .get(&url)
        .header("PAYMENT-SIGNATURE", payment)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let settled = Codec::default()
        .decode_payment_response(paid.headers()["payment-response"].to_str().unwrap())
        .unwrap();
    assert!(settled.success);
    let receipt = running
        .anvil
        .chain
        .receipt(settled.transaction.unwrap().parse().unwrap())
        .await
        .unwrap()
        .expect("mined on anvil");
    assert!(receipt.success);
    let body: Value = paid.json().await.unwrap();
    assert_eq!(body["report"], "42");
    assert_eq!(body["paid_by"], payer.address().to_checksum(None));
    assert_eq!(running.balance(running.pay_to).await, U256::from(10_000u64));
}

#[tokio::test]
async fn the_reference_fetch_client_pays_the_example_api() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if !root.join("node_modules/@x402/fetch").exists() {
        if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
            eprintln!("skipped: @x402/fetch is not installed (T402_SKIP_EXTERNAL is set)");
            return;
        }
        panic!("@x402/fetch is not installed: run `npm ci` at the repository root");
    }
    let Some(running) = start().await else { return };
    let payer = PrivateKeySigner::random();
    running
        .anvil
        .mint(running.token, payer.address(), U256::from(1_000_000u64))
        .await;
    let input = json!({
        "command": "fetch",
        "url": format!("{}/weather", running.url),
        "privateKey": format!("0x{}", alloy_primitives::hex::encode(payer.to_bytes())),
        "allowedAsset": {
            "network": "eip155:31337",
            "asset": running.token.to_checksum(None),
            "maxAmountPerPayment": "1000",
        },
    });
    let output = t402_testkit::reference_script(input).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["forecast"], "sunny");
    assert_eq!(answer["paymentResponse"]["success"], true, "{answer}");
    assert_eq!(answer["paymentResponse"]["network"], "eip155:31337");
    assert_eq!(running.balance(running.pay_to).await, U256::from(1_000u64));
    assert_eq!(
        running.balance(payer.address()).await,
        U256::from(1_000_000u64 - 1_000)
    );
}

#[tokio::test]
async fn the_example_serves_its_metrics() {
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let pricing = Pricing {
        network: world.network(),
        token: world.token.to_checksum(None),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        decimals: 6,
        pay_to: world.pay_to.to_checksum(None),
    };
    let app = t402_examples::paid_api::metered_app(&pricing, world.facilitator.clone())
        .await
        .unwrap();
    let base = t402_testkit::serve(app).await;
    for _ in 0..2 {
        let unpaid = reqwest::get(format!("{base}/weather")).await.unwrap();
        assert_eq!(unpaid.status(), 402);
    }
    let scraped = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(scraped.status(), 200, "the metrics route is free");
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = scraped.text().await.unwrap();
    assert!(
        text.lines()
            .any(|line| line == r#"t402_server_challenges_total{route="GET /weather"} 2"#),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
}
