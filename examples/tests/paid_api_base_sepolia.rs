//! The example API configured as `docs/src/base-sepolia.md` runs it: priced in Base Sepolia's
//! USDC and paid to the given address, with a remote facilitator (a stand-in for
//! `https://x402.org/facilitator`, which this machine cannot reach, answering `/supported`).

use std::sync::Arc;

use serde_json::json;
use t402_core::Network;
use t402_core::codec::Codec;
use t402_examples::paid_api::{Pricing, payment_layer, router};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn the_walkthrough_api_asks_for_base_sepolia_usdc() {
    let facilitator = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/supported"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kinds": [{"x402Version": 2, "scheme": "exact", "network": "eip155:84532"}],
            "extensions": [], "signers": {}
        })))
        .mount(&facilitator)
        .await;
    let pay_to = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
    let pricing = Pricing::default_usdc(Network::eip155(84532), pay_to).unwrap();
    let remote = t402_server::facilitator::HttpFacilitator::new(&facilitator.uri()).unwrap();
    let app = router(payment_layer(&pricing, Arc::new(remote)).await.unwrap());
    let response = app
        .oneshot(
            axum::http::Request::get("/weather")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 402);
    let challenge = Codec::default()
        .decode_payment_required(response.headers()["payment-required"].as_bytes())
        .unwrap();
    let offer = &challenge.accepts[0];
    assert_eq!(offer.network.as_str(), "eip155:84532");
    assert_eq!(offer.asset, "0x036CbD53842c5426634e7929541eC2318f3dCF7e");
    assert_eq!(offer.pay_to, pay_to);
    assert_eq!(
        offer.amount,
        t402_core::Amount::from(1_000u64),
        "0.001 USDC"
    );
    assert_eq!(offer.extra_str("name"), Some("USDC"));
    assert_eq!(offer.extra_str("version"), Some("2"));
}
