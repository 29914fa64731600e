//! A corpus of crafted payment headers sent through the payment layer to the EVM facilitator on
//! anvil. Each one is refused with its status and reason, the handler never runs, and no balance
//! moves. Then one valid header sent 50 times at once is served once and settled once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use t402_core::codec::{Codec, PAYMENT_REQUIRED_HEADER};
use t402_core::{ClientMechanism, Network, NetworkPattern, PaymentPayload, PaymentRequired};
use t402_evm::chain::call_typed;
use t402_evm::contracts::IEip3009Token;
use t402_evm::eip3009::{Authorization, token_domain};
use t402_evm::{ExactEvmClient, ExactEvmPayload, ExactEvmServer};
use t402_server::{PaymentLayer, PaymentOption, Route};
use t402_testkit::{AnvilWorld, CHAIN, test_token_price};
use tower::ServiceExt;

const PRICE: u64 = 10_000;

struct Setup {
    world: AnvilWorld,
    app: Router,
    runs: Arc<AtomicUsize>,
    required: PaymentRequired,
}

async fn setup() -> Option<Setup> {
    let world = AnvilWorld::start().await?;
    let runs = Arc::new(AtomicUsize::new(0));
    let layer = PaymentLayer::builder()
        .facilitator(world.facilitator.clone())
        .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
        .route(
            "GET /paid",
            Route::new(
                PaymentOption::exact(
                    Network::eip155(CHAIN),
                    test_token_price(world.token, PRICE),
                    world.pay_to.to_checksum(None),
                )
                .max_timeout_seconds(300),
            ),
        )
        .build_and_initialize()
        .await
        .unwrap();
    let counter = runs.clone();
    let app = Router::new()
        .route(
            "/paid",
            axum::routing::get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "paid content"
            }),
        )
        .layer(layer);
    let response = send(&app, None).await;
    let required = required_of(&response.1).expect("a challenge");
    Some(Setup {
        world,
        app,
        runs,
        required,
    })
}

/// Status, headers and body text of a request carrying `header`.
async fn send(app: &Router, header: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get("/paid").header("host", "api.test");
    if let Some(header) = header {
        request = request.header("payment-signature", header);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn required_of(headers: &axum::http::HeaderMap) -> Option<PaymentRequired> {
    let value = headers.get(PAYMENT_REQUIRED_HEADER)?.to_str().ok()?;
    Codec::default().decode_payment_required(value).ok()
}

/// The reason a refusal carries: the JSON body's `error`, else the challenge's `error`.
fn reason_of(headers: &axum::http::HeaderMap, body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let Some(error) = value["error"].as_str()
    {
        return error.to_owned();
    }
    required_of(headers)
        .and_then(|required| required.error)
        .unwrap_or_default()
}

/// What a crafted header must get.
struct Case {
    what: String,
    header: String,
    status: StatusCode,
    /// Any of these reasons.
    reasons: Vec<&'static str>,
}

fn case(what: impl Into<String>, header: String, status: u16, reasons: &[&'static str]) -> Case {
    Case {
        what: what.into(),
        header,
        status: StatusCode::from_u16(status).unwrap(),
        reasons: reasons.to_vec(),
    }
}

fn encode(value: &Value) -> String {
    STANDARD.encode(value.to_string())
}

const MALFORMED: &[&str] = &["t402_malformed_payment_header"];
const NO_MATCH: &[&str] = &["No matching payment requirements"];

/// Headers that are not a payment at all.
fn malformed(valid: &Value) -> Vec<Case> {
    let mut cases = Vec::new();
    let text = valid.to_string();
    for (what, header) in [
        ("empty", String::new()),
        ("a space", " ".to_owned()),
        ("not base64", "not base64!".to_owned()),
        ("base64 of text", STANDARD.encode("hello")),
        ("base64 of a JSON array", STANDARD.encode("[1,2,3]")),
        ("base64 of a JSON string", STANDARD.encode("\"payment\"")),
        ("base64 of null", STANDARD.encode("null")),
        ("base64 of an empty object", STANDARD.encode("{}")),
        ("unpadded base64", {
            // A length that needs padding, so the unpadded form differs from the padded one.
            let padded_text = if text.len().is_multiple_of(3) {
                format!("{text} ")
            } else {
                text.clone()
            };
            STANDARD_NO_PAD.encode(padded_text)
        }),
        ("URL-safe base64", URL_SAFE.encode(format!("{text}~~~???"))),
        (
            "base64 with a BOM",
            STANDARD.encode(format!("\u{feff}{text}")),
        ),
        ("truncated base64", STANDARD.encode(&text)[..40].to_owned()),
        (
            "base64 of truncated JSON",
            STANDARD.encode(&text[..text.len() / 2]),
        ),
        ("JSON not encoded", text.clone()),
        ("over 32 KiB", STANDARD.encode("x".repeat(40 * 1024))),
        (
            "duplicate keys",
            STANDARD.encode(text.replacen('{', "{\"x402Version\":2,", 1)),
        ),
    ] {
        cases.push(case(format!("malformed: {what}"), header, 400, MALFORMED));
    }
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mut field_cases: Vec<(&str, Mutation)> = vec![
        (
            "no version",
            Box::new(|v| drop(v.as_object_mut().unwrap().remove("x402Version"))),
        ),
        (
            "version 1 in PAYMENT-SIGNATURE",
            Box::new(|v| v["x402Version"] = json!(1)),
        ),
        ("version 3", Box::new(|v| v["x402Version"] = json!(3))),
        (
            "version as a string",
            Box::new(|v| v["x402Version"] = json!("2")),
        ),
        ("version 2.0", Box::new(|v| v["x402Version"] = json!(2.0))),
        (
            "both keys disagreeing",
            Box::new(|v| v["t402Version"] = json!(1)),
        ),
        (
            "no payload",
            Box::new(|v| drop(v.as_object_mut().unwrap().remove("payload"))),
        ),
        ("payload an array", Box::new(|v| v["payload"] = json!([]))),
        (
            "no accepted",
            Box::new(|v| drop(v.as_object_mut().unwrap().remove("accepted"))),
        ),
        (
            "accepted a string",
            Box::new(|v| v["accepted"] = json!("exact")),
        ),
        (
            "accepted amount a number",
            Box::new(|v| v["accepted"]["amount"] = json!(10000)),
        ),
        (
            "accepted amount negative",
            Box::new(|v| v["accepted"]["amount"] = json!("-1")),
        ),
        (
            "accepted amount above 2^256",
            Box::new(|v| v["accepted"]["amount"] = json!("1".repeat(80))),
        ),
        (
            "accepted network not CAIP-2",
            Box::new(|v| v["accepted"]["network"] = json!("base")),
        ),
        (
            "accepted without scheme",
            Box::new(|v| drop(v["accepted"].as_object_mut().unwrap().remove("scheme"))),
        ),
        (
            "accepted timeout a string",
            Box::new(|v| v["accepted"]["maxTimeoutSeconds"] = json!("60")),
        ),
        (
            "accepted extra a string",
            Box::new(|v| v["accepted"]["extra"] = json!("USD Coin")),
        ),
    ];
    for (what, mutate) in field_cases.drain(..) {
        let mut value = valid.clone();
        mutate(&mut value);
        cases.push(case(
            format!("malformed: {what}"),
            encode(&value),
            400,
            MALFORMED,
        ));
    }
    cases
}

/// Well-formed payments whose `accepted` names no offer of the route.
fn mismatched(valid: &Value) -> Vec<Case> {
    let changes: Vec<(&str, &str, Value)> = vec![
        ("amount lower", "amount", json!("9999")),
        ("amount higher", "amount", json!("10001")),
        ("amount zero", "amount", json!("0")),
        (
            "another asset",
            "asset",
            json!(Address::repeat_byte(7).to_checksum(None)),
        ),
        (
            "another payee",
            "payTo",
            json!(Address::repeat_byte(8).to_checksum(None)),
        ),
        ("another network", "network", json!("eip155:8453")),
        (
            "a Solana network",
            "network",
            json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
        ),
        ("another scheme", "scheme", json!("upto")),
        ("a longer validity", "maxTimeoutSeconds", json!(86_400)),
        ("a shorter validity", "maxTimeoutSeconds", json!(1)),
        ("extra emptied", "extra", json!({})),
        (
            "extra renamed token",
            "extra",
            json!({"name": "Other", "version": "2"}),
        ),
        (
            "extra another version",
            "extra",
            json!({"name": "USD Coin", "version": "1"}),
        ),
        (
            "the zero payee",
            "payTo",
            json!(Address::ZERO.to_checksum(None)),
        ),
        (
            "a price in another unit",
            "amount",
            json!("10000000000000000"),
        ),
    ];
    changes
        .into_iter()
        .map(|(what, field, value)| {
            let mut payment = valid.clone();
            payment["accepted"][field] = value;
            case(format!("mismatch: {what}"), encode(&payment), 402, NO_MATCH)
        })
        .collect()
}

/// A payload signed by `signer` over `auth` (the route's token domain), in `valid`'s envelope.
fn signed_with(
    valid: &Value,
    signer: &PrivateKeySigner,
    auth: &Authorization,
    token: Address,
) -> Value {
    let domain = token_domain("USD Coin", "2", CHAIN, token);
    let signature = signer
        .sign_hash_sync(&auth.signing_hash(&domain))
        .unwrap()
        .as_bytes();
    let payload = ExactEvmPayload::new(Bytes::from(signature.to_vec()), *auth).to_object();
    let mut payment = valid.clone();
    payment["payload"] = Value::Object(payload);
    payment
}

/// Payments the facilitator must refuse: forged, altered, expired, unfunded.
fn forged(setup: &Setup, valid: &Value, auth: &Authorization) -> Vec<Case> {
    let token = setup.world.token;
    let payer = &setup.world.payer;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut cases = Vec::new();
    let resign = |what: &str, change: &dyn Fn(&mut Authorization), reasons: &[&'static str]| {
        let mut changed = *auth;
        change(&mut changed);
        case(
            format!("forged: {what}"),
            encode(&signed_with(valid, payer, &changed, token)),
            402,
            reasons,
        )
    };
    cases.push(resign(
        "value below the price",
        &|a| a.value = U256::from(PRICE - 1),
        &["invalid_exact_evm_payload_authorization_value_mismatch"],
    ));
    cases.push(resign(
        "value above the price",
        &|a| a.value = U256::from(PRICE + 1),
        &["invalid_exact_evm_payload_authorization_value_mismatch"],
    ));
    cases.push(resign(
        "to someone else",
        &|a| a.to = Address::repeat_byte(9),
        &["invalid_exact_evm_recipient_mismatch"],
    ));
    cases.push(resign(
        "expired",
        &|a| a.valid_before = U256::from(now - 10),
        &["invalid_exact_evm_payload_authorization_valid_before"],
    ));
    cases.push(resign(
        "expiring within seconds",
        &|a| a.valid_before = U256::from(now + 2),
        &["invalid_exact_evm_payload_authorization_valid_before"],
    ));
    cases.push(resign(
        "not yet valid",
        &|a| a.valid_after = U256::from(now + 3_600),
        &["invalid_exact_evm_payload_authorization_valid_after"],
    ));

    // Signed by someone else than `from`.
    let stranger = PrivateKeySigner::random();
    cases.push(case(
        "forged: signed by a stranger",
        encode(&signed_with(valid, &stranger, auth, token)),
        402,
        &[
            "invalid_exact_evm_payload_signature",
            "invalid_exact_evm_signature",
        ],
    ));
    // A stranger's own authorization: valid signature, no funds.
    let mut unfunded = *auth;
    unfunded.from = stranger.address();
    cases.push(case(
        "forged: an unfunded payer",
        encode(&signed_with(valid, &stranger, &unfunded, token)),
        402,
        &[
            "invalid_exact_evm_insufficient_balance",
            "invalid_exact_evm_transaction_simulation_failed",
        ],
    ));
    // Signed for another chain or token domain.
    for (what, domain) in [
        ("another chain", token_domain("USD Coin", "2", 1, token)),
        (
            "another token",
            token_domain("USD Coin", "2", CHAIN, Address::repeat_byte(3)),
        ),
        (
            "another token name",
            token_domain("USDC", "2", CHAIN, token),
        ),
        (
            "another token version",
            token_domain("USD Coin", "1", CHAIN, token),
        ),
    ] {
        let signature = payer.sign_hash_sync(&auth.signing_hash(&domain)).unwrap();
        let payload =
            ExactEvmPayload::new(Bytes::from(signature.as_bytes().to_vec()), *auth).to_object();
        let mut payment = valid.clone();
        payment["payload"] = Value::Object(payload);
        cases.push(case(
            format!("forged: signed for {what}"),
            encode(&payment),
            402,
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
            ],
        ));
    }

    // Tampering with the signed payload's fields after signing.
    let tampers: Vec<(&str, &str, Value, &[&'static str])> = vec![
        // The signature is checked before the terms (reference order), so tampering with a
        // signed term is a signature failure.
        (
            "value lowered",
            "value",
            json!("1"),
            &["invalid_exact_evm_signature"],
        ),
        (
            "nonce",
            "nonce",
            json!(B256::repeat_byte(1).to_string()),
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
            ],
        ),
        (
            "validBefore extended",
            "validBefore",
            json!((now + 250).to_string()),
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
            ],
        ),
        (
            "validAfter",
            "validAfter",
            json!("0"),
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
            ],
        ),
        (
            "from",
            "from",
            json!(Address::repeat_byte(4).to_checksum(None)),
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
            ],
        ),
        (
            "to",
            "to",
            json!(Address::repeat_byte(5).to_checksum(None)),
            &["invalid_exact_evm_signature"],
        ),
    ];
    for (what, field, value, reasons) in tampers {
        let mut payment = valid.clone();
        payment["payload"]["authorization"][field] = value;
        cases.push(case(
            format!("tampered: {what}"),
            encode(&payment),
            402,
            reasons,
        ));
    }

    // Signature bytes.
    let signature = valid["payload"]["signature"].as_str().unwrap().to_owned();
    let bytes: Bytes = signature.parse().unwrap();
    let mut variants: Vec<(String, String)> = vec![
        ("zero signature".into(), format!("0x{}", "00".repeat(65))),
        (
            "64 bytes".into(),
            Bytes::from(bytes[..64].to_vec()).to_string(),
        ),
        ("66 bytes".into(), format!("{signature}00")),
        ("v of the other parity, written 0 or 1".into(), {
            // 0/1 stand for 27/28: the other parity recovers another signer.
            let mut b = bytes.to_vec();
            b[64] = if bytes[64] == 27 { 1 } else { 0 };
            Bytes::from(b).to_string()
        }),
        ("v = 29".into(), {
            let mut b = bytes.to_vec();
            b[64] = 29;
            Bytes::from(b).to_string()
        }),
        ("high s".into(), {
            let n = U256::from_str_radix(
                "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
                16,
            )
            .unwrap();
            let s = U256::from_be_slice(&bytes[32..64]);
            let mut b = bytes.to_vec();
            b[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
            b[64] = if bytes[64] == 27 { 28 } else { 27 };
            Bytes::from(b).to_string()
        }),
        (
            "a short ERC-6492 suffix".into(),
            format!("{signature}{}", "64".repeat(32)),
        ),
    ];
    for flip in [0usize, 1, 2, 3, 5, 10, 20, 31, 32, 40, 45, 50, 60, 63] {
        let mut b = bytes.to_vec();
        b[flip] ^= 0x01;
        variants.push((
            format!("bit flipped in byte {flip}"),
            Bytes::from(b).to_string(),
        ));
    }
    for (what, value) in variants {
        let mut payment = valid.clone();
        payment["payload"]["signature"] = json!(value);
        cases.push(case(
            format!("signature: {what}"),
            encode(&payment),
            402,
            &[
                "invalid_exact_evm_payload_signature",
                "invalid_exact_evm_signature",
                "invalid_exact_evm_payload_undeployed_smart_wallet",
                "invalid_exact_evm_transaction_simulation_failed",
            ],
        ));
    }
    for (what, value) in [
        ("not hex", json!("0xzz")),
        ("without 0x", json!(signature.trim_start_matches("0x"))),
        ("a number", json!(12345)),
        ("odd length", json!(format!("{signature}0"))),
        ("empty", json!("")),
    ] {
        let mut payment = valid.clone();
        payment["payload"]["signature"] = value;
        cases.push(case(
            format!("signature: {what}"),
            encode(&payment),
            402,
            &[
                "invalid_exact_evm_payload",
                "invalid_exact_evm_payload_signature",
                "invalid_payload",
            ],
        ));
    }
    for (what, field, value) in [
        ("value a number", "value", json!(10000)),
        ("value negative", "value", json!("-10000")),
        ("value hex", "value", json!("0x2710")),
        ("nonce short", "nonce", json!("0x01")),
        ("nonce not hex", "nonce", json!("0xzz")),
        ("from not an address", "from", json!("0x1234")),
        ("validBefore a word", "validBefore", json!("tomorrow")),
    ] {
        let mut payment = valid.clone();
        payment["payload"]["authorization"][field] = value;
        cases.push(case(
            format!("authorization: {what}"),
            encode(&payment),
            402,
            &["invalid_exact_evm_payload", "invalid_payload"],
        ));
    }
    for (what, remove) in [
        ("no authorization", "authorization"),
        ("no signature", "signature"),
    ] {
        let mut payment = valid.clone();
        payment["payload"].as_object_mut().unwrap().remove(remove);
        cases.push(case(
            format!("payload: {what}"),
            encode(&payment),
            402,
            &["invalid_exact_evm_payload", "invalid_payload"],
        ));
    }
    cases
}

async fn token_balance(setup: &Setup, who: Address) -> U256 {
    call_typed(
        &setup.world.anvil.chain,
        setup.world.token,
        &IEip3009Token::balanceOfCall { account: who },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_headers_are_refused_and_one_valid_header_pays_once() {
    let Some(setup) = setup().await else { return };
    let accepted = setup.required.accepts[0].clone();
    let signed = ExactEvmClient::new(setup.world.payer.clone())
        .create_payload(2, &accepted, None)
        .await
        .unwrap();
    let payment = PaymentPayload::new(accepted.clone().into(), signed.payload.clone())
        .with_resource(setup.required.resource.clone());
    let valid = serde_json::to_value(&payment).unwrap();
    let auth = ExactEvmPayload::from_object(&signed.payload)
        .unwrap()
        .authorization;

    let mut cases = malformed(&valid);
    cases.extend(mismatched(&valid));
    cases.extend(forged(&setup, &valid, &auth));
    assert!(cases.len() >= 100, "only {} crafted headers", cases.len());

    let payer = setup.world.payer.address();
    let key_nonce = |setup: &Setup| {
        let chain = setup.world.anvil.chain.clone();
        async move {
            let number = chain
                .raw_request("eth_blockNumber", json!([]))
                .await
                .unwrap();
            u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        }
    };
    let block_before = key_nonce(&setup).await;
    let mut wrong = Vec::new();
    for case in &cases {
        let (status, headers, body) = send(&setup.app, Some(&case.header)).await;
        assert!(!body.contains("paid content"), "{}", case.what);
        let reason = reason_of(&headers, &body);
        if status != case.status || !case.reasons.contains(&reason.as_str()) {
            wrong.push(format!(
                "{}: {status} {reason:?}, expected {} {:?}",
                case.what, case.status, case.reasons
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(setup.runs.load(Ordering::SeqCst), 0, "a handler ran");
    assert_eq!(token_balance(&setup, payer).await, U256::from(1_000_000u64));
    assert_eq!(token_balance(&setup, setup.world.pay_to).await, U256::ZERO);
    assert_eq!(
        key_nonce(&setup).await,
        block_before,
        "a transaction was mined"
    );

    // One valid header, fifty times at once: served once, settled once.
    let header = STANDARD.encode(valid.to_string());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = setup.app.clone();
            let header = header.clone();
            tokio::spawn(async move { send(&app, Some(&header)).await })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        let (status, _, body) = task.await.unwrap();
        if status == StatusCode::OK {
            assert_eq!(body, "paid content");
            served += 1;
        } else {
            assert!(!body.contains("paid content"));
        }
    }
    assert_eq!(served, 1);
    assert_eq!(setup.runs.load(Ordering::SeqCst), 1, "the handler ran once");
    assert_eq!(
        token_balance(&setup, setup.world.pay_to).await,
        U256::from(PRICE)
    );
    assert_eq!(
        token_balance(&setup, payer).await,
        U256::from(1_000_000u64 - PRICE)
    );
    assert_eq!(
        key_nonce(&setup).await,
        block_before + 1,
        "exactly one transaction was mined"
    );
}
