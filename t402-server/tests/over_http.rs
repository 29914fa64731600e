//! The same flow with the facilitator behind its HTTP service: the app and the facilitator run
//! as separate servers on loopback, the app reaching the facilitator with `HttpFacilitator`.

mod common;

use std::sync::Arc;

use alloy_primitives::U256;
use common::*;
use serde_json::{Value, json};
use t402_core::codec::Codec;
use t402_core::{Facilitator, Reason};
use t402_server::facilitator::HttpFacilitator;
use t402_server::facilitator_router;
use tokio::net::TcpListener;

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}")
}

struct Stack {
    world: World,
    app_url: String,
    facilitator_url: String,
    http: reqwest::Client,
}

async fn stack() -> Stack {
    let world = World::new();
    let facilitator_url = serve(facilitator_router(world.facilitator.clone())).await;
    let remote = HttpFacilitator::new(&facilitator_url).unwrap();
    let app = world.app(world.builder_with(Arc::new(remote)));
    let app_url = serve(app).await;
    Stack {
        world,
        app_url,
        facilitator_url,
        http: reqwest::Client::new(),
    }
}

impl Stack {
    async fn get(&self, path: &str, payment: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.app_url));
        if let Some(payment) = payment {
            request = request.header("PAYMENT-SIGNATURE", payment);
        }
        request.send().await.unwrap()
    }

    async fn payment_for(&self, path: &str) -> String {
        let challenge = self.get(path, None).await;
        assert_eq!(challenge.status(), 402);
        let header = challenge.headers()["payment-required"]
            .to_str()
            .unwrap()
            .to_owned();
        let required = Codec::default().decode_payment_required(&header).unwrap();
        self.world.pay(&required).await
    }
}

#[tokio::test]
async fn a_paid_request_through_the_facilitator_service() {
    let stack = stack().await;
    let payment = stack.payment_for("/paid").await;
    let response = stack.get("/paid", Some(&payment)).await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["payment-response"]
        .to_str()
        .unwrap()
        .to_owned();
    let settled = Codec::default().decode_payment_response(&header).unwrap();
    assert!(settled.success);
    assert!(settled.transaction.unwrap().starts_with("0x"));
    assert!(response.text().await.unwrap().starts_with(SECRET));
    assert_eq!(
        stack.world.balance(stack.world.pay_to).await,
        U256::from(PRICE)
    );
}

#[tokio::test]
async fn refusals_and_failures_through_the_facilitator_service() {
    let stack = stack().await;
    // Handler failure: no settlement.
    let payment = stack.payment_for("/fail").await;
    let response = stack.get("/fail", Some(&payment)).await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("payment-response").is_none());
    // Failed settlement: 402 and no content.
    let payment = stack.payment_for("/slow").await;
    let response = stack.get("/slow", Some(&payment)).await;
    assert_eq!(response.status(), 402);
    let header = response.headers()["payment-response"]
        .to_str()
        .unwrap()
        .to_owned();
    let settled = Codec::default().decode_payment_response(&header).unwrap();
    assert_eq!(
        settled.error_reason,
        Some(Reason::InvalidExactEvmPayloadAuthorizationValidBefore)
    );
    assert_eq!(response.text().await.unwrap(), "{}");
    assert_eq!(stack.world.balance(stack.world.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn a_facilitator_that_went_away_means_502() {
    let world = World::new();
    // Supported answers come from the real facilitator; verify goes to a closed port.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let remote = HttpFacilitator::new(&format!("http://{closed}"))
        .unwrap()
        .with_retry(t402_server::facilitator::RetryPolicy::new(
            2,
            std::time::Duration::from_millis(10),
        ));
    struct SupportedHere {
        real: Arc<dyn Facilitator>,
        remote: HttpFacilitator,
    }
    impl Facilitator for SupportedHere {
        fn verify<'a>(
            &'a self,
            request: &'a t402_core::wire::FacilitatorRequest,
        ) -> t402_core::error::BoxFuture<
            'a,
            Result<t402_core::VerifyResponse, t402_core::FacilitatorError>,
        > {
            self.remote.verify(request)
        }
        fn settle<'a>(
            &'a self,
            request: &'a t402_core::wire::FacilitatorRequest,
        ) -> t402_core::error::BoxFuture<
            'a,
            Result<t402_core::SettleResponse, t402_core::FacilitatorError>,
        > {
            self.remote.settle(request)
        }
        fn supported(
            &self,
        ) -> t402_core::error::BoxFuture<
            '_,
            Result<t402_core::SupportedResponse, t402_core::FacilitatorError>,
        > {
            self.real.supported()
        }
    }
    let app = world.app(world.builder_with(Arc::new(SupportedHere {
        real: world.facilitator.clone(),
        remote,
    })));
    let app_url = serve(app).await;
    let http = reqwest::Client::new();
    let challenge = http.get(format!("{app_url}/paid")).send().await.unwrap();
    let header = challenge.headers()["payment-required"]
        .to_str()
        .unwrap()
        .to_owned();
    let payment = world
        .pay(&Codec::default().decode_payment_required(&header).unwrap())
        .await;
    let response = http
        .get(format!("{app_url}/paid"))
        .header("PAYMENT-SIGNATURE", payment)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "t402_facilitator_unavailable");
    assert_eq!(world.handled(), 0);
}

#[tokio::test]
async fn the_facilitator_service_answers_supported_health_and_bad_requests() {
    let stack = stack().await;
    let http = &stack.http;
    let base = &stack.facilitator_url;

    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let supported: Value = http
        .get(format!("{base}/supported"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kind = &supported["kinds"][0];
    assert_eq!(kind["scheme"], "exact");
    assert_eq!(kind["network"], "eip155:31337");
    assert_eq!(kind["x402Version"], 2);
    assert!(
        supported["signers"]["eip155:*"][0]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );

    for (body, what) in [
        ("not json".to_owned(), "not JSON"),
        (
            r#"{"paymentPayload": {}, "paymentPayload": {}}"#.to_owned(),
            "duplicate keys",
        ),
        (json!({"paymentRequirements": {}}).to_string(), "no payload"),
    ] {
        let response = http
            .post(format!("{base}/verify"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{what}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid_payload"),
            "{what}"
        );
    }

    let huge = "x".repeat(128 * 1024);
    let response = http
        .post(format!("{base}/settle"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"pad": "{huge}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn an_invalid_payment_is_answered_200_with_a_reason() {
    let stack = stack().await;
    let payment = stack.payment_for("/paid").await;
    let decoded = Codec::default().decode_payment_signature(&payment).unwrap();
    let mut requirements = decoded.accepted.requirements().clone();
    requirements.amount = 1u64.into();
    let body = json!({
        "x402Version": 2,
        "paymentPayload": decoded,
        "paymentRequirements": requirements,
    });
    for endpoint in ["verify", "settle"] {
        let response = stack
            .http
            .post(format!("{}/{endpoint}", stack.facilitator_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{endpoint}");
        let answer: Value = response.json().await.unwrap();
        let reason = answer
            .get("invalidReason")
            .or_else(|| answer.get("errorReason"))
            .unwrap();
        assert_eq!(
            reason,
            "invalid_exact_evm_payload_authorization_value_mismatch"
        );
        if endpoint == "settle" {
            assert_eq!(answer["success"], false);
            assert_eq!(answer["network"], "eip155:31337");
            assert!(answer["payer"].is_string());
        }
    }
}
