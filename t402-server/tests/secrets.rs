//! An RPC URL carries an API key; a chain node that cannot be reached must not put it in any
//! answer (the facilitator service's bodies, the layer's bodies and headers, settlement
//! messages) or any log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use t402_core::codec::encode_header;
use t402_core::{
    ClientMechanism, LocalFacilitator, Network, NetworkPattern, PaymentPayload,
    PaymentRequirements, Price,
};
use t402_evm::chain::RpcChain;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_server::{PaymentLayer, PaymentOption, Route};
use tower::ServiceExt;

const KEY: &str = "SECRETKEY4b1d2";
const QUERY_KEY: &str = "SECRETQUERY77";

/// Log lines, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(KEY) && !text.contains(QUERY_KEY),
        "{what} carries the RPC key: {text}"
    );
}

async fn text_of(response: axum::response::Response) -> String {
    let mut text = format!("{:?}", response.headers());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    text.push_str(&String::from_utf8_lossy(&body));
    for value in text.clone().split(['"', ' ']) {
        // Decode base64 header values too.
        if let Ok(bytes) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value)
        {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[tokio::test]
async fn an_unreachable_rpc_url_leaks_its_key_nowhere() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let url = format!("http://user:{KEY}@127.0.0.1:1/v2/{KEY}?apikey={QUERY_KEY}");
    let chain = RpcChain::new(&url, 84532)
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    assert_clean("the chain's Debug", &format!("{chain:?}"));
    let evm = ExactEvmFacilitator::new(
        chain,
        FacilitatorSigners::new(84532, [PrivateKeySigner::random()]).unwrap(),
    )
    .unwrap();
    let facilitator =
        Arc::new(LocalFacilitator::new().register([Network::eip155(84532)], Arc::new(evm)));

    // A payment that passes every offline check, so the chain is asked.
    let requirements: PaymentRequirements = serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 300,
        "extra": {"name": "USDC", "version": "2"}
    }))
    .unwrap();
    let signed = ExactEvmClient::new(PrivateKeySigner::random())
        .create_payload(2, &requirements, None)
        .await
        .unwrap();
    let payment = PaymentPayload::new(requirements.clone().into(), signed.payload);
    let request = json!({
        "x402Version": 2,
        "paymentPayload": payment,
        "paymentRequirements": requirements,
    });

    // The facilitator service: /verify and /settle.
    let service = t402_server::facilitator_router(facilitator.clone());
    for endpoint in ["/verify", "/settle"] {
        let response = service
            .clone()
            .oneshot(
                Request::post(endpoint)
                    .header("content-type", "application/json")
                    .body(Body::from(request.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_clean(endpoint, &text_of(response).await);
    }

    // The payment layer in front of a route, settling through the same facilitator.
    let layer = PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
        .route(
            "GET /paid",
            Route::new(PaymentOption::exact(
                Network::eip155(84532),
                Price::money("$0.01").unwrap(),
                "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            )),
        )
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/paid", axum::routing::get(|| async { "content" }))
        .layer(layer);
    let response = app
        .oneshot(
            Request::get("/paid")
                .header("payment-signature", encode_header(&payment))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());
    assert_clean("the layer's answer", &text_of(response).await);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty(), "nothing was logged");
    assert_clean("the logs", &logs);
}
