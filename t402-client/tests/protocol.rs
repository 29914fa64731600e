//! The client against scripted servers (wiremock, and a raw socket server for dropped
//! connections): every protocol path of paying.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use t402_client::{Budget, Client, ClientError, Payer, SpendPolicy, TransportRetry};
use t402_core::codec::{Codec, encode_header};
use t402_core::error::BoxFuture;
use t402_core::{
    NetworkPattern, PaymentRequired, PaymentRequirements, Reason, ResourceInfo, SettleResponse,
};
use t402_testkit::CountingClient;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE_SEPOLIA_USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAYEE: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

fn offer(amount: &str) -> PaymentRequirements {
    serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:84532", "amount": amount,
        "asset": BASE_SEPOLIA_USDC, "payTo": PAYEE, "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"}
    }))
    .unwrap()
}

fn challenge_header(amount: &str) -> String {
    encode_header(
        &PaymentRequired::new(
            ResourceInfo::new("http://api.test/weather"),
            vec![offer(amount)],
        )
        .with_error("Payment required"),
    )
}

fn client_with(policy: SpendPolicy) -> (Client, Arc<AtomicUsize>) {
    let (mechanism, signed) = CountingClient::new();
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(mechanism),
        )
        .policy(policy);
    let client = Client::builder()
        .payer(payer)
        .transport_retry(TransportRetry::new(3, Duration::from_millis(10)))
        .build()
        .unwrap();
    (client, signed)
}

fn success_receipt() -> String {
    encode_header(&SettleResponse::success("0xabc", "eip155:84532", "0xpayer"))
}

async fn paid_server(paid: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/weather"))
        .and(header_exists("payment-signature"))
        .respond_with(paid)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/weather"))
        .respond_with(
            ResponseTemplate::new(402)
                .insert_header("PAYMENT-REQUIRED", challenge_header("10000"))
                .set_body_string("{}"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_v2_challenge_is_paid_once_and_the_receipt_read() {
    let server = paid_server(
        ResponseTemplate::new(200)
            .insert_header("PAYMENT-RESPONSE", success_receipt())
            .set_body_string("sunny"),
    )
    .await;
    let (client, signed) = client_with(SpendPolicy::new());
    let response = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "sunny");
    assert_eq!(
        response.receipt().unwrap().transaction.as_deref(),
        Some("0xabc")
    );
    assert_eq!(signed.load(Ordering::SeqCst), 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let header = requests[1]
        .headers
        .get("payment-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let payment = Codec::default().decode_payment_signature(header).unwrap();
    // `accepted` is the server's offer, verbatim.
    assert_eq!(
        serde_json::to_value(&payment.accepted).unwrap(),
        serde_json::to_value(offer("10000")).unwrap()
    );
    assert_eq!(payment.resource.unwrap().url, "http://api.test/weather");
    assert_eq!(payment.payload["authorization"]["value"], "10000");
}

#[tokio::test]
async fn a_v1_body_challenge_is_paid_with_x_payment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("x-payment"))
        .respond_with(ResponseTemplate::new(200).set_body_string("v1 content"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "x402Version": 1,
            "error": "X-PAYMENT header is required",
            // An offer on a network this client does not know comes first: the payment must
            // still name the network of the offer it pays.
            "accepts": [{
                "scheme": "exact", "network": "some-unknown-chain", "maxAmountRequired": "10000",
                "resource": "http://api.test/weather", "description": "", "mimeType": "",
                "payTo": PAYEE, "maxTimeoutSeconds": 60, "asset": BASE_SEPOLIA_USDC,
                "extra": {"name": "USDC", "version": "2"}
            }, {
                "scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000",
                "resource": "http://api.test/weather", "description": "", "mimeType": "",
                "payTo": PAYEE, "maxTimeoutSeconds": 60, "asset": BASE_SEPOLIA_USDC,
                "extra": {"name": "USDC", "version": "2"}
            }]
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let (client, _) = client_with(SpendPolicy::new());
    let response = client.get(&server.uri()).send().await.unwrap();
    assert_eq!(response.text(), "v1 content");
    let requests = server.received_requests().await.unwrap();
    let header = requests[1]
        .headers
        .get("x-payment")
        .unwrap()
        .to_str()
        .unwrap();
    let payment = Codec::default().decode_x_payment(header).unwrap();
    assert_eq!(payment.network, "base-sepolia");
    assert_eq!(payment.scheme, "exact");
    let json: Value = serde_json::to_value(&payment).unwrap();
    assert_eq!(json["x402Version"], 1);
}

#[tokio::test]
async fn a_malformed_challenge_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(402)
                .insert_header("PAYMENT-REQUIRED", "not-base64!")
                .set_body_string("{}"),
        )
        .mount(&server)
        .await;
    let (client, signed) = client_with(SpendPolicy::new());
    let err = client.get(&server.uri()).send().await.unwrap_err();
    assert!(matches!(err, ClientError::MalformedChallenge(_)), "{err:?}");
    assert_eq!(err.reason(), Reason::T402MalformedChallenge);
    assert_eq!(signed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_402_after_paying_is_a_refusal_with_the_servers_reason() {
    let refused = encode_header(
        &PaymentRequired::new(
            ResourceInfo::new("http://api.test/weather"),
            vec![offer("10000")],
        )
        .with_error("invalid_exact_evm_insufficient_balance"),
    );
    let server =
        paid_server(ResponseTemplate::new(402).insert_header("PAYMENT-REQUIRED", refused)).await;
    let (client, signed) = client_with(SpendPolicy::new());
    let err = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap_err();
    match &err {
        ClientError::PaymentRefused {
            status: 402,
            reason,
        } => {
            assert_eq!(*reason, Reason::InvalidExactEvmInsufficientBalance)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(signed.load(Ordering::SeqCst), 1, "no second payment");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_settlement_is_reported() {
    let failed = encode_header(&SettleResponse::failure(
        Reason::InvalidExactEvmTransactionFailed,
        "eip155:84532",
        Some("0xpayer".into()),
    ));
    let server =
        paid_server(ResponseTemplate::new(402).insert_header("PAYMENT-RESPONSE", failed)).await;
    let (client, _) = client_with(SpendPolicy::new());
    let err = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::SettlementFailed(_)), "{err:?}");
    assert_eq!(err.reason(), Reason::InvalidExactEvmTransactionFailed);
}

#[tokio::test]
async fn a_412_asks_for_a_permit2_allowance() {
    let refused = encode_header(
        &PaymentRequired::new(
            ResourceInfo::new("http://api.test/weather"),
            vec![offer("10000")],
        )
        .with_error("permit2_allowance_required"),
    );
    let server =
        paid_server(ResponseTemplate::new(412).insert_header("PAYMENT-REQUIRED", refused)).await;
    let (client, _) = client_with(SpendPolicy::new());
    let err = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap_err();
    match err {
        ClientError::PaymentRefused {
            status: 412,
            reason,
        } => {
            assert_eq!(reason, Reason::Permit2AllowanceRequired)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_sends_a_receipt() {
    let server = paid_server(ResponseTemplate::new(200).set_body_string("content")).await;
    let budget = Budget::new("$1", Duration::from_secs(60)).unwrap();
    let (client, _) = client_with(SpendPolicy::new().budget(budget.clone()));
    let response = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text(), "content");
    assert!(response.receipt().is_none());
    assert!(response.paid().is_some());
    // Paid without a receipt: the amount stays counted.
    assert_eq!(budget.spent(), "0.01");
}

#[tokio::test]
async fn an_offer_above_the_cap_is_refused_with_its_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(402)
                .insert_header("PAYMENT-REQUIRED", challenge_header("150000")),
        )
        .mount(&server)
        .await;
    let (client, signed) = client_with(SpendPolicy::new());
    let err = client.get(&server.uri()).send().await.unwrap_err();
    match &err {
        ClientError::NoAcceptableOffer { refusals } => {
            assert_eq!(refusals.len(), 1);
            assert!(
                refusals[0].reason.contains("$0.15"),
                "{}",
                refusals[0].reason
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(signed.load(Ordering::SeqCst), 0);
    // The owner can raise the cap for one request.
    let err = client
        .get(&server.uri())
        .policy(SpendPolicy::new().max_usd_per_request("$0.20").unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::PaymentRefused { .. }), "{err:?}");
    assert_eq!(signed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_that_already_carries_a_payment_is_not_paid_again() {
    let server = paid_server(ResponseTemplate::new(402)).await;
    let (client, signed) = client_with(SpendPolicy::new());
    let err = client
        .get(&format!("{}/weather", server.uri()))
        .header("PAYMENT-SIGNATURE", "e30=")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::AlreadyAttempted));
    assert_eq!(signed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_hundred_concurrent_requests_within_a_budget_of_ten_payments() {
    let server = paid_server(
        ResponseTemplate::new(200)
            .insert_header("PAYMENT-RESPONSE", success_receipt())
            .set_body_string("ok"),
    )
    .await;
    // $0.10 in the window: ten payments of $0.01.
    let budget = Budget::new("$0.10", Duration::from_secs(3600)).unwrap();
    let (client, signed) = client_with(SpendPolicy::new().budget(budget.clone()));
    let url = format!("{}/weather", server.uri());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(&url).send().await })
        })
        .collect();
    let (mut paid, mut over) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(response) => {
                assert_eq!(response.status(), 200);
                paid += 1;
            }
            Err(ClientError::OverBudget(_)) => over += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((paid, over), (10, 90));
    assert_eq!(signed.load(Ordering::SeqCst), 10);
    assert_eq!(budget.spent(), "0.1");
}

/// A raw HTTP server: answers 402 to a request without payment, drops the connection of the
/// first paid request, answers 200 to the next. Returns the payment headers it saw.
async fn flaky_server() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/weather", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let mut paid_requests = 0;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 64 * 1024];
            let n = socket.read(&mut buffer).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..n]).to_string();
            let payment = request
                .lines()
                .find_map(|line| line.strip_prefix("payment-signature: "))
                .map(str::to_owned);
            let reply = match payment {
                None => format!(
                    "HTTP/1.1 402 Payment Required\r\nPAYMENT-REQUIRED: {}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}",
                    challenge_header("10000")
                ),
                Some(payment) => {
                    record.lock().unwrap().push(payment);
                    paid_requests += 1;
                    if paid_requests == 1 {
                        drop(socket);
                        continue;
                    }
                    "HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npaid"
                        .to_owned()
                }
            };
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_dropped_connection_is_retried_with_the_same_payment() {
    let (url, seen) = flaky_server().await;
    let (client, signed) = client_with(SpendPolicy::new());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.text(), "paid");
    assert_eq!(signed.load(Ordering::SeqCst), 1, "one signature");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "the paid request was sent twice");
    assert_eq!(seen[0], seen[1], "with the same payment");
}

/// Declines payments above half a cent and records receipts.
#[derive(Clone, Default)]
struct Careful {
    receipts: Arc<std::sync::Mutex<Vec<bool>>>,
}

impl t402_client::PayHooks for Careful {
    fn before_pay<'a>(
        &'a self,
        offer: &'a PaymentRequirements,
        _url: &'a str,
    ) -> BoxFuture<'a, t402_client::PayDecision> {
        Box::pin(async move {
            if offer.amount.as_u256() > alloy_primitives::U256::from(5_000u64) {
                t402_client::PayDecision::Decline("above half a cent: ask the owner".into())
            } else {
                t402_client::PayDecision::Approve
            }
        })
    }

    fn after_pay<'a>(
        &'a self,
        _offer: &'a PaymentRequirements,
        receipt: Option<&'a t402_client::Receipt>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.receipts
                .lock()
                .unwrap()
                .push(receipt.is_some_and(|r| r.success));
        })
    }
}

#[tokio::test]
async fn hooks_decline_before_signing_and_see_the_receipt() {
    let server = paid_server(
        ResponseTemplate::new(200)
            .insert_header("PAYMENT-RESPONSE", success_receipt())
            .set_body_string("ok"),
    )
    .await;
    let (mechanism, signed) = CountingClient::new();
    let hooks = Careful::default();
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(mechanism),
        )
        .hooks(hooks.clone());
    let client = Client::builder().payer(payer).build().unwrap();
    // The server asks 0.01: declined, nothing signed.
    let err = client
        .get(&format!("{}/weather", server.uri()))
        .send()
        .await
        .unwrap_err();
    match &err {
        ClientError::Declined(reason) => assert!(reason.contains("ask the owner")),
        other => panic!("{other:?}"),
    }
    assert_eq!(signed.load(Ordering::SeqCst), 0);
    assert!(hooks.receipts.lock().unwrap().is_empty());

    // A cheaper offer is approved, and the receipt reaches the after-pay hook.
    let cheap = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("payment-signature"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("PAYMENT-RESPONSE", success_receipt()),
        )
        .with_priority(1)
        .mount(&cheap)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(402).insert_header("PAYMENT-REQUIRED", challenge_header("5000")),
        )
        .with_priority(2)
        .mount(&cheap)
        .await;
    client.get(&cheap.uri()).send().await.unwrap();
    assert_eq!(signed.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.receipts.lock().unwrap().as_slice(), &[true]);
}

#[tokio::test]
async fn bodies_are_read_within_their_limits() {
    // The client's own limit on what it reads.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 4096]))
        .mount(&server)
        .await;
    let payer = Payer::new();
    let client = Client::builder()
        .payer(payer)
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let err = client.get(&server.uri()).send().await.unwrap_err();
    assert!(matches!(err, ClientError::BodyTooLarge(1024)), "{err:?}");
    let client = Client::builder().max_body_bytes(4096).build().unwrap();
    assert_eq!(
        client
            .get(&server.uri())
            .send()
            .await
            .unwrap()
            .bytes()
            .len(),
        4096
    );

    // A v1 challenge larger than the limit on challenge bodies is not read whole: through the
    // middleware it is a malformed challenge, and nothing is signed.
    let server = MockServer::start().await;
    let mut huge = json!({"x402Version": 1, "error": "", "accepts": []});
    huge["padding"] = json!("p".repeat(t402_client::pay_on_402::MAX_CHALLENGE_BODY));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(402).set_body_json(huge))
        .mount(&server)
        .await;
    let (mechanism, signed) = CountingClient::new();
    let payer = Payer::new().mechanism(NetworkPattern::parse("eip155:*").unwrap(), mechanism);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t402_client::middleware::PaymentMiddleware::new(payer))
        .build();
    let err = http.get(server.uri()).send().await.unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("malformed challenge"), "{text}");
    assert_eq!(signed.load(Ordering::SeqCst), 0);
}

/// The version keys of a JSON object, in order.
fn version_keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap()
        .keys()
        .filter(|key| key.ends_with("402Version"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_payment_names_the_version_with_the_key_of_its_challenge() {
    let v2 = |key: t402_core::VersionKey| {
        encode_header(
            &PaymentRequired::new(
                ResourceInfo::new("http://api.test/weather"),
                vec![offer("10000")],
            )
            .with_version_key(key),
        )
    };
    let v1_body = |keys: Value| {
        let mut body = json!({
            "error": "X-PAYMENT header is required",
            "accepts": [{
                "scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000",
                "resource": "http://api.test/weather", "description": "", "mimeType": "",
                "payTo": PAYEE, "maxTimeoutSeconds": 60, "asset": BASE_SEPOLIA_USDC,
                "extra": {"name": "USDC", "version": "2"}
            }]
        });
        for (key, value) in keys.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    use t402_core::VersionKey::{Both, T402, X402};
    let cases = [
        (
            "payment-signature",
            Some(v2(T402)),
            Value::Null,
            vec!["t402Version"],
        ),
        (
            "payment-signature",
            Some(v2(X402)),
            Value::Null,
            vec!["x402Version"],
        ),
        (
            "payment-signature",
            Some(v2(Both)),
            Value::Null,
            vec!["x402Version"],
        ),
        (
            "x-payment",
            None,
            v1_body(json!({"t402Version": 1})),
            vec!["t402Version"],
        ),
        (
            "x-payment",
            None,
            v1_body(json!({"x402Version": 1, "t402Version": 1})),
            vec!["x402Version"],
        ),
    ];
    for (payment_header, challenge, body, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/weather"))
            .and(header_exists(payment_header))
            .respond_with(ResponseTemplate::new(200).set_body_string("sunny"))
            .with_priority(1)
            .mount(&server)
            .await;
        let mut unpaid = ResponseTemplate::new(402);
        unpaid = match &challenge {
            Some(header) => unpaid.insert_header("PAYMENT-REQUIRED", header.as_str()),
            None => unpaid.set_body_json(body.clone()),
        };
        Mock::given(method("GET"))
            .and(path("/weather"))
            .respond_with(unpaid)
            .with_priority(2)
            .mount(&server)
            .await;
        let (client, _) = client_with(SpendPolicy::new());
        let response = client
            .get(&format!("{}/weather", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{payment_header} {body}");
        let requests = server.received_requests().await.unwrap();
        let sent = requests[1]
            .headers
            .get(payment_header)
            .unwrap()
            .to_str()
            .unwrap();
        let payment: Value = Codec::default()
            .decode_header(
                if payment_header == "x-payment" {
                    t402_core::codec::HeaderKind::XPayment
                } else {
                    t402_core::codec::HeaderKind::PaymentSignature
                },
                sent,
            )
            .unwrap();
        assert_eq!(version_keys(&payment), expected, "{payment_header} {body}");
    }
}
