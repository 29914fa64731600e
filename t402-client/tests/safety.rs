//! What a dishonest or careless server can get from a paying client: authorizations without a
//! charge to the budget, payments that outlive any sensible window, a payment header sent to
//! another origin, a v1 payment naming another offer's network.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use t402_client::{Budget, Client, ClientError, Payer, SpendPolicy};
use t402_core::codec::encode_header;
use t402_core::{
    NetworkPattern, PaymentRequired, PaymentRequirements, Reason, ResourceInfo, SettleResponse,
};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAYEE: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

fn offer(timeout: u64) -> PaymentRequirements {
    serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": USDC, "payTo": PAYEE, "maxTimeoutSeconds": timeout,
        "extra": {"name": "USDC", "version": "2"}
    }))
    .unwrap()
}

fn challenge(timeout: u64, error: &str) -> String {
    encode_header(
        &PaymentRequired::new(ResourceInfo::new("http://api.test/x"), vec![offer(timeout)])
            .with_error(error),
    )
}

fn client_with(policy: SpendPolicy) -> (Client, Arc<AtomicUsize>) {
    let (mechanism, signed) = t402_testkit::CountingClient::new();
    let payer = Payer::new()
        .mechanism(NetworkPattern::parse("eip155:*").unwrap(), mechanism)
        .policy(policy);
    let client = Client::builder().payer(payer).build().unwrap();
    (client, signed)
}

/// Budget for exactly three payments of 0.01.
fn three_payments() -> SpendPolicy {
    SpendPolicy::new().budget(Budget::new("0.03", Duration::from_secs(3600)).unwrap())
}

/// A server answering unpaid requests with a challenge and paid ones with `paid`.
async fn serve_paid(timeout: u64, paid: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("payment-signature"))
        .respond_with(paid)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(402)
                .insert_header("PAYMENT-REQUIRED", challenge(timeout, "Payment required")),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_bare_402_after_paying_keeps_the_budget_spent() {
    // The server collects signed authorizations and answers each with a bare challenge: the
    // authorizations stay valid, so each counts.
    let server = serve_paid(
        60,
        ResponseTemplate::new(402).insert_header(
            "PAYMENT-REQUIRED",
            challenge(60, "invalid_exact_evm_signature"),
        ),
    )
    .await;
    let (client, signed) = client_with(three_payments());
    for _ in 0..3 {
        let err = client.get(&server.uri()).send().await.unwrap_err();
        assert!(matches!(err, ClientError::PaymentRefused { .. }), "{err:?}");
    }
    let err = client.get(&server.uri()).send().await.unwrap_err();
    assert!(matches!(err, ClientError::OverBudget(_)), "{err:?}");
    assert_eq!(signed.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_error_status_without_a_receipt_keeps_the_budget_spent() {
    let server = serve_paid(60, ResponseTemplate::new(500).set_body_string("oops")).await;
    let (client, signed) = client_with(three_payments());
    for _ in 0..3 {
        assert_eq!(
            client.get(&server.uri()).send().await.unwrap().status(),
            500
        );
    }
    let err = client.get(&server.uri()).send().await.unwrap_err();
    assert!(matches!(err, ClientError::OverBudget(_)), "{err:?}");
    assert_eq!(signed.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_receipt_of_a_failed_settlement_gives_the_budget_back() {
    let failed = SettleResponse::failure(
        Reason::InvalidExactEvmInsufficientBalance,
        "eip155:84532",
        None,
    );
    let server = serve_paid(
        60,
        ResponseTemplate::new(402).insert_header("PAYMENT-RESPONSE", encode_header(&failed)),
    )
    .await;
    let (client, signed) = client_with(three_payments());
    for _ in 0..5 {
        let err = client.get(&server.uri()).send().await.unwrap_err();
        assert!(matches!(err, ClientError::SettlementFailed(_)), "{err:?}");
    }
    assert_eq!(signed.load(Ordering::SeqCst), 5);

    // A "nonce already used" receipt means our payment was spent: it stays counted.
    let used = SettleResponse::failure(
        Reason::InvalidExactEvmNonceAlreadyUsed,
        "eip155:84532",
        None,
    );
    let server = serve_paid(
        60,
        ResponseTemplate::new(402).insert_header("PAYMENT-RESPONSE", encode_header(&used)),
    )
    .await;
    let (client, _) = client_with(three_payments());
    for _ in 0..3 {
        client.get(&server.uri()).send().await.unwrap_err();
    }
    let err = client.get(&server.uri()).send().await.unwrap_err();
    assert!(matches!(err, ClientError::OverBudget(_)), "{err:?}");
}

#[tokio::test]
async fn offers_valid_too_long_are_not_signed() {
    let paid = ResponseTemplate::new(200).set_body_string("content");
    let server = serve_paid(86_400, paid.clone()).await;
    let (client, signed) = client_with(SpendPolicy::new());
    let err = client.get(&server.uri()).send().await.unwrap_err();
    match &err {
        ClientError::NoAcceptableOffer { refusals } => {
            assert!(refusals[0].reason.contains("maxTimeoutSeconds"), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(signed.load(Ordering::SeqCst), 0);
    // The cap is the owner's to raise.
    let (client, signed) = client_with(SpendPolicy::new().max_timeout_seconds(86_400));
    assert_eq!(
        client.get(&server.uri()).send().await.unwrap().status(),
        200
    );
    assert_eq!(signed.load(Ordering::SeqCst), 1);
    // Reference offers (60 to 300 seconds) pass the default.
    let server = serve_paid(300, paid).await;
    let (client, _) = client_with(SpendPolicy::new());
    assert_eq!(
        client.get(&server.uri()).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn a_payment_never_follows_a_redirect_to_another_origin() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("elsewhere"))
        .mount(&elsewhere)
        .await;
    let server = serve_paid(
        60,
        ResponseTemplate::new(307).insert_header("location", format!("{}/x", elsewhere.uri())),
    )
    .await;
    let (client, _) = client_with(SpendPolicy::new());
    let response = client.get(&server.uri()).send().await.unwrap();
    assert_eq!(response.status(), 307);
    for request in elsewhere.received_requests().await.unwrap() {
        assert!(
            !request.headers.contains_key("payment-signature"),
            "the payment went to another origin"
        );
    }

    // Within the origin, a redirect is followed with the payment.
    let same = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/moved"))
        .and(header_exists("payment-signature"))
        .respond_with(ResponseTemplate::new(200).set_body_string("moved content"))
        .with_priority(1)
        .mount(&same)
        .await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .and(header_exists("payment-signature"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/moved"))
        .with_priority(1)
        .mount(&same)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(402)
                .insert_header("PAYMENT-REQUIRED", challenge(60, "Payment required")),
        )
        .with_priority(2)
        .mount(&same)
        .await;
    let response = client
        .get(&format!("{}/x", same.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text(), "moved content");
}
