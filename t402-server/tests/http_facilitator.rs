//! The HTTP facilitator client against scripted remote peers (wiremock): both answer styles of
//! the ecosystem, retries only where they are safe, timeouts, and auth headers.

use std::time::{Duration, Instant};

use serde_json::json;
use t402_core::codec::Codec;
use t402_core::wire::{FacilitatorRequest, VerifyRequest};
use t402_core::{Facilitator, FacilitatorError, Reason};
use t402_server::facilitator::{Endpoint, HttpFacilitator, RetryPolicy};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The v2 spec's `PAYMENT-SIGNATURE` example, as a facilitator request.
fn request() -> FacilitatorRequest {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../t402-core/tests/fixtures/x402-v2-http.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let payment = Codec::default()
        .decode_payment_signature(
            fixture["headers"]["payment_signature"]["base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let requirements = payment.accepted.requirements().clone();
    FacilitatorRequest::V2(VerifyRequest::new(payment, requirements))
}

fn client(server: &MockServer) -> HttpFacilitator {
    HttpFacilitator::new(&format!("{}/facilitator/", server.uri()))
        .unwrap()
        .with_retry(RetryPolicy::new(3, Duration::from_millis(10)))
}

#[tokio::test]
async fn a_200_answer_is_read_and_the_request_has_the_spec_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"isValid": false, "invalidReason": "invalid_exact_evm_signature", "payer": "0xabc"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server).verify(&request()).await.unwrap();
    assert!(!answer.is_valid);
    assert_eq!(
        answer.invalid_reason,
        Some(Reason::InvalidExactEvmSignature)
    );
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["x402Version"], 2);
    assert!(sent["paymentPayload"]["payload"]["signature"].is_string());
    assert_eq!(sent["paymentRequirements"]["scheme"], "exact");
}

#[tokio::test]
async fn non_2xx_styles_of_other_facilitators_are_verdicts() {
    let server = MockServer::start().await;
    // TypeScript style: a protocol answer with an error status.
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"isValid": false, "invalidReason": "invalid_exact_evm_recipient_mismatch"}),
        ))
        .mount(&server)
        .await;
    // Go style: 500 with "<reason>: <message>".
    Mock::given(method("POST"))
        .and(path("/facilitator/settle"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": "invalid_exact_evm_nonce_already_used: nonce 0x01 is used"}),
        ))
        .mount(&server)
        .await;
    let facilitator = client(&server);
    let verified = facilitator.verify(&request()).await.unwrap();
    assert_eq!(
        verified.invalid_reason,
        Some(Reason::InvalidExactEvmRecipientMismatch)
    );
    let settled = facilitator.settle(&request()).await.unwrap();
    assert!(!settled.success);
    assert_eq!(
        settled.error_reason,
        Some(Reason::InvalidExactEvmNonceAlreadyUsed)
    );
    assert_eq!(settled.error_message.as_deref(), Some("nonce 0x01 is used"));
    assert_eq!(settled.network, "eip155:84532");
}

#[tokio::test]
async fn the_t402_error_shape_is_read_with_its_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/settle"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_payload",
            "message": "payload.signature is missing",
            "code": "T402-3001",
        })))
        .mount(&server)
        .await;
    let settled = client(&server).settle(&request()).await.unwrap();
    assert!(!settled.success);
    assert_eq!(settled.error_reason, Some(Reason::InvalidPayload));
    assert_eq!(
        settled.error_message.as_deref(),
        Some("payload.signature is missing")
    );
}

#[tokio::test]
async fn an_error_that_is_no_verdict_is_an_http_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/facilitator/settle"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"surprise\": true"))
        .mount(&server)
        .await;
    let facilitator = client(&server);
    match facilitator.verify(&request()).await {
        Err(FacilitatorError::Http {
            status: 503,
            message,
        }) => assert_eq!(message, "upstream down"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        facilitator.settle(&request()).await,
        Err(FacilitatorError::MalformedResponse(_))
    ));
}

#[tokio::test]
async fn verify_and_supported_retry_on_429_but_settle_never_does() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"isValid": true, "payer": "0xabc"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/facilitator/settle"))
        .respond_with(ResponseTemplate::new(429))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/facilitator/supported"))
        .respond_with(ResponseTemplate::new(429))
        .expect(3)
        .mount(&server)
        .await;
    let facilitator = client(&server);
    assert!(facilitator.verify(&request()).await.unwrap().is_valid);
    assert!(matches!(
        facilitator.settle(&request()).await,
        Err(FacilitatorError::Http { status: 429, .. })
    ));
    assert!(matches!(
        facilitator.supported().await,
        Err(FacilitatorError::Http { status: 429, .. })
    ));
}

#[tokio::test]
async fn a_slow_facilitator_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let facilitator = client(&server).with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let err = facilitator.verify(&request()).await.unwrap_err();
    assert!(matches!(err, FacilitatorError::Timeout(_)), "{err:?}");
    assert_eq!(err.reason(), Reason::T402FacilitatorTimeout);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn auth_headers_are_added_per_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/facilitator/supported"))
        .and(header("authorization", "Bearer supported-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"kinds": []})))
        .expect(1)
        .mount(&server)
        .await;
    let facilitator = client(&server).with_auth_headers(|endpoint| {
        let mut headers = reqwest::header::HeaderMap::new();
        let token = match endpoint {
            Endpoint::Supported => "Bearer supported-token",
            _ => "Bearer other",
        };
        headers.insert("authorization", token.parse().unwrap());
        headers
    });
    let supported = facilitator.supported().await.unwrap();
    assert!(supported.kinds.is_empty());
    assert!(format!("{facilitator:?}").contains("<headers hook>"));
}

/// The version keys of a JSON object.
fn keys_of(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|key| key.ends_with("402Version"))
        .collect()
}

#[tokio::test]
async fn requests_name_the_version_with_the_key_of_the_facilitators_supported_answer() {
    let verify_answer = json!({"isValid": true, "payer": "0xabc"});
    for (kinds_key, expected) in [
        ("t402Version", "t402Version"),
        ("x402Version", "x402Version"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/facilitator/supported"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kinds": [{kinds_key: 2, "scheme": "exact", "network": "eip155:84532"}],
                "extensions": [], "signers": {}
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/facilitator/verify"))
            .respond_with(ResponseTemplate::new(200).set_body_json(verify_answer.clone()))
            .mount(&server)
            .await;
        let facilitator = client(&server);
        assert_eq!(
            facilitator.version_key(),
            t402_core::VersionKey::X402,
            "before /supported"
        );
        facilitator.supported().await.unwrap();
        // The client's payment says x402Version; the facilitator reads `expected`.
        facilitator.verify(&request()).await.unwrap();
        let requests = server.received_requests().await.unwrap();
        let sent: serde_json::Value =
            serde_json::from_slice(&requests.last().unwrap().body).unwrap();
        assert_eq!(keys_of(&sent), vec![expected], "{sent}");
        assert_eq!(keys_of(&sent["paymentPayload"]), vec![expected], "{sent}");
        assert_eq!(sent[expected], 2);
        assert_eq!(sent["paymentPayload"][expected], 2);
    }

    // A key set on the client wins over the one learned.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/facilitator/verify"))
        .respond_with(ResponseTemplate::new(200).set_body_json(verify_answer))
        .mount(&server)
        .await;
    let both = client(&server).with_version_key(t402_core::VersionKey::Both);
    both.verify(&request()).await.unwrap();
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        keys_of(&sent["paymentPayload"]),
        vec!["x402Version", "t402Version"]
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_with_the_payment() {
    // The facilitator answers a redirect to another host: the payment must not travel there.
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"isValid": true})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    for endpoint in ["/facilitator/verify", "/facilitator/settle"] {
        Mock::given(method("POST"))
            .and(path(endpoint))
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("Location", format!("{}{endpoint}", elsewhere.uri())),
            )
            .mount(&server)
            .await;
    }
    let facilitator = client(&server);
    assert!(matches!(
        facilitator.verify(&request()).await,
        Err(FacilitatorError::Http { status: 307, .. })
    ));
    assert!(matches!(
        facilitator.settle(&request()).await,
        Err(FacilitatorError::Http { status: 307, .. })
    ));
    // `expect(0)` is checked when `elsewhere` is dropped; checked here too.
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_facilitator_is_unavailable_and_its_url_is_never_quoted() {
    // A port nobody listens on (bound, then closed), and a key in the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let facilitator = HttpFacilitator::new(&format!("http://127.0.0.1:{port}/k/sekret-key/"))
        .unwrap()
        .with_retry(RetryPolicy::new(2, Duration::from_millis(5)));
    for error in [
        facilitator.verify(&request()).await.unwrap_err(),
        facilitator.supported().await.unwrap_err(),
    ] {
        assert!(
            matches!(error, FacilitatorError::Unavailable(_)),
            "{error:?}"
        );
        // The whole chain of causes, shown and debugged.
        let mut shown = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            shown.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        assert!(!shown.contains("sekret-key"), "{shown}");
    }
}
