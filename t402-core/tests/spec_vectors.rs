//! The protocol reference's examples: every header and JSON example decodes, and re-encodes to
//! equal JSON (and, for the headers, to the identical bytes).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use t402_core::codec::{Codec, HeaderKind, encode_header};
use t402_core::{
    Amount, Network, PaymentPayload, PaymentRequired, PaymentRequiredV1, PaymentRequirements,
    PaymentRequirementsV1, Reason, SettleResponse, SupportedResponse, VerifyResponse, VersionKey,
};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn header(fixture: &Value, name: &str) -> (String, String) {
    let h = &fixture["headers"][name];
    (
        h["base64"].as_str().unwrap().to_owned(),
        h["decoded"].as_str().unwrap().to_owned(),
    )
}

/// Decodes `b64` as `kind`, checks the compact JSON and the base64 come back byte for byte.
fn check_header<T: DeserializeOwned + Serialize>(kind: HeaderKind, b64: &str, decoded: &str) -> T {
    let value: T = Codec::default().decode_header(kind, b64).unwrap();
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        decoded,
        "{kind:?} JSON"
    );
    assert_eq!(encode_header(&value), b64, "{kind:?} base64");
    value
}

/// Parses a JSON example and checks it re-encodes to equal JSON.
fn check_json<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let value: T = serde_json::from_str(json).unwrap();
    let back: Value = serde_json::to_value(&value).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
    value
}

#[test]
fn shared_vectors_are_the_committed_copy() {
    let shared = format!(
        "{}/../../shared/vectors/x402-v2-http.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if let Ok(text) = std::fs::read_to_string(shared) {
        let shared: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            shared,
            fixture("x402-v2-http.json"),
            "refresh tests/fixtures from shared/vectors"
        );
    }
}

#[test]
fn v2_payment_required_header() {
    let f = fixture("x402-v2-http.json");
    let (b64, decoded) = header(&f, "payment_required");
    let pr: PaymentRequired = check_header(HeaderKind::PaymentRequired, &b64, &decoded);
    assert_eq!(pr.version_key, VersionKey::X402);
    assert_eq!(
        pr.error.as_deref(),
        Some("PAYMENT-SIGNATURE header is required")
    );
    assert_eq!(pr.accepts.len(), 1);
    let offer = &pr.accepts[0];
    assert_eq!(offer.network, Network::eip155(84532));
    assert_eq!(offer.amount, Amount::from(10_000u64));
    assert_eq!(offer.extra_str("name"), Some("USDC"));
    assert_eq!(offer.max_timeout_seconds, 60);
    assert!(pr.extensions.is_none());
}

#[test]
fn v2_payment_signature_header() {
    let f = fixture("x402-v2-http.json");
    let (b64, decoded) = header(&f, "payment_signature");
    let payload: PaymentPayload = check_header(HeaderKind::PaymentSignature, &b64, &decoded);
    assert_eq!(payload.accepted.scheme, "exact");
    assert_eq!(
        payload.payload["authorization"]["from"],
        "0x857b06519E91e3A54538791bDbb0E22373e36b66"
    );
    // `accepted` is kept as the JSON it came as.
    let raw: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(payload.accepted.raw(), &raw["accepted"]);
}

#[test]
fn v2_payment_response_headers() {
    let f = fixture("x402-v2-http.json");
    let (b64, decoded) = header(&f, "payment_response_success");
    let ok: SettleResponse = check_header(HeaderKind::PaymentResponse, &b64, &decoded);
    assert!(ok.success);
    assert_eq!(ok.caip2_network().unwrap(), Network::eip155(84532));

    let (b64, decoded) = header(&f, "payment_response_failure");
    let failed: SettleResponse = check_header(HeaderKind::PaymentResponse, &b64, &decoded);
    assert!(!failed.success);
    assert_eq!(failed.error_reason, Some(Reason::InsufficientFunds));
    assert_eq!(
        failed.transaction, None,
        "the example has no transaction field"
    );
}

#[test]
fn v1_headers_and_body() {
    let f = fixture("x402-v1-http.json");
    let (b64, decoded) = header(&f, "x_payment");
    let payment: t402_core::PaymentPayloadV1 = check_header(HeaderKind::XPayment, &b64, &decoded);
    assert_eq!(payment.network, "base-sepolia");

    for name in ["x_payment_response_success", "x_payment_response_failure"] {
        let (b64, decoded) = header(&f, name);
        let response: SettleResponse = check_header(HeaderKind::XPaymentResponse, &b64, &decoded);
        assert_eq!(response.caip2_network().unwrap(), Network::eip155(84532));
    }

    let body = f["v1_body"].as_str().unwrap();
    let v1: PaymentRequiredV1 = Codec::default().decode_v1_body(body).unwrap();
    assert_eq!(serde_json::to_string(&v1).unwrap(), body);
    let requirement = &v1.accepts[0];
    assert_eq!(requirement.output_schema, Some(Value::Null), "null is kept");
    let (v2, resource) = requirement.to_v2().unwrap();
    assert_eq!(v2.network, Network::eip155(84532));
    assert_eq!(v2.amount, Amount::from(10_000u64));
    assert_eq!(resource.url, "https://api.example.com/premium-data");
}

#[test]
fn section_3_json_examples() {
    // §3.2/§3.3 requirements with SVM and upto extras.
    check_json::<PaymentRequirements>(
        r#"{"scheme":"exact","network":"solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp","amount":"1000","asset":"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v","payTo":"2wKupLR9q6wXYppw8Gr2NvWxKBUqm4PPJKkQfoxHDBg4","maxTimeoutSeconds":60,"extra":{"feePayer":"EwWqGE4ZFKLofuestmU4LDdK7XM1N4ALgdZccwYugwGd","memo":"pi_3abc123def456"}}"#,
    );
    check_json::<PaymentRequirements>(
        r#"{"scheme":"upto","network":"eip155:84532","amount":"5000000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"USDC","version":"2","facilitatorAddress":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","assetTransferMethod":"permit2"}}"#,
    );
    // §3.6 verify responses.
    let ok = check_json::<VerifyResponse>(
        r#"{"isValid":true,"payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}"#,
    );
    assert!(ok.is_valid);
    let bad = check_json::<VerifyResponse>(
        r#"{"isValid":false,"invalidReason":"insufficient_funds","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}"#,
    );
    assert_eq!(bad.invalid_reason, Some(Reason::InsufficientFunds));
    // The TS client tolerates null optional fields.
    let nulls: VerifyResponse =
        serde_json::from_str(r#"{"isValid":true,"invalidReason":null,"payer":null}"#).unwrap();
    assert_eq!(nulls.invalid_reason, None);
    // §3.7 settle responses.
    check_json::<SettleResponse>(
        r#"{"success":false,"errorReason":"insufficient_funds","transaction":"","network":"eip155:84532","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}"#,
    );
    // §3.8 supported.
    let supported = check_json::<SupportedResponse>(
        r#"{"kinds":[{"x402Version":2,"scheme":"exact","network":"eip155:84532"},{"x402Version":2,"scheme":"exact","network":"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1","extra":{"feePayer":"CKPKJWNdJEqa81x7CkZ14BVPiY6y16Sxs7owznqtWYp5"}},{"x402Version":1,"scheme":"exact","network":"base-sepolia"}],"extensions":["bazaar"],"signers":{"eip155:*":["0x1234567890abcdef1234567890abcdef12345678"],"solana:*":["CKPKJWNdJEqa81x7CkZ14BVPiY6y16Sxs7owznqtWYp5"]}}"#,
    );
    assert_eq!(supported.kinds[2].version.number, 1);
    assert_eq!(
        supported.kinds[2].caip2_network().unwrap(),
        Network::eip155(84532)
    );
    assert!(supported.find(2, "exact", "eip155:84532").is_some());
    // v1 facilitators answer only `kinds`.
    let v1: SupportedResponse =
        serde_json::from_str(r#"{"kinds":[{"x402Version":1,"scheme":"exact","network":"base"}]}"#)
            .unwrap();
    assert!(v1.extensions.is_empty() && v1.signers.is_empty());
    // §3.11 v1 requirement.
    check_json::<PaymentRequirementsV1>(
        r#"{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","resource":"https://api.example.com/premium-data","description":"Access to premium market data","mimeType":"application/json","outputSchema":null,"maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}"#,
    );
}

#[test]
fn unknown_fields_and_verbatim_accepted_survive() {
    // A Go-style `accepted`: another key order, no `extra`, and a field this version does not know.
    let json = r#"{"x402Version":2,"accepted":{"network":"eip155:8453","scheme":"exact","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","amount":"10000","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"future":[1,2]},"payload":{"x":1},"extensions":{"bazaar":{"info":{}}},"somethingNew":{"a":true}}"#;
    let b64 = encode_header(&serde_json::from_str::<Value>(json).unwrap());
    let payload = Codec::default().decode_payment_signature(&b64).unwrap();
    assert_eq!(
        payload.unknown["somethingNew"],
        serde_json::json!({"a": true})
    );
    assert_eq!(
        payload.accepted.unknown["future"],
        serde_json::json!([1, 2])
    );
    assert_eq!(payload.accepted.extra, None);
    let out = serde_json::to_string(&payload.accepted).unwrap();
    assert!(
        out.starts_with(r#"{"network":"eip155:8453","scheme":"exact""#),
        "{out}"
    );
    assert_eq!(
        serde_json::to_value(&payload).unwrap(),
        serde_json::from_str::<Value>(json).unwrap()
    );
}

#[test]
fn version_keys_round_trip() {
    let f = fixture("x402-v2-http.json");
    let (_, decoded) = header(&f, "payment_required");
    let t402 = decoded.replacen("x402Version", "t402Version", 1);
    let pr: PaymentRequired = Codec::default()
        .decode_payment_required(encode_header(
            &serde_json::from_str::<Value>(&t402).unwrap(),
        ))
        .unwrap();
    assert_eq!(pr.version_key, VersionKey::T402);
    assert_eq!(serde_json::to_string(&pr).unwrap(), t402);

    let both = pr.clone().with_version_key(VersionKey::Both);
    let json = serde_json::to_string(&both).unwrap();
    assert!(
        json.starts_with(r#"{"x402Version":2,"t402Version":2,"error""#),
        "{json}"
    );
    let again = Codec::default()
        .decode_payment_required(encode_header(&both))
        .unwrap();
    assert_eq!(again.version_key, VersionKey::Both);
    let x402 = pr.with_version_key(VersionKey::X402);
    assert_eq!(serde_json::to_string(&x402).unwrap(), decoded);
}
