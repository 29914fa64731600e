//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` call them; the saved corpora are
//! replayed through them by `t402-testkit/tests/fuzz_corpora.rs`). Each takes arbitrary bytes
//! an attacker could send and must return without panicking, whatever they are.

use t402_core::codec::{Codec, HeaderKind};
use t402_core::wire::FacilitatorRequest;
use t402_core::{PaymentPayload, PaymentPayloadV1, PaymentRequired, SettleResponse, VerifyRequest};
use t402_server::route::{RequestPath, RoutePattern};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every fuzz target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("payment_headers", payment_headers),
    ("facilitator_request", facilitator_request),
    ("svm_transaction", svm_transaction),
    ("evm_payload", evm_payload),
    ("route_matching", route_matching),
];

/// The five payment headers and the v1 challenge body, decoded strictly.
pub fn payment_headers(data: &[u8]) {
    let codec = Codec::default();
    let _ = codec.decode_header::<PaymentRequired>(HeaderKind::PaymentRequired, data);
    if let Ok(payment) = codec.decode_header::<PaymentPayload>(HeaderKind::PaymentSignature, data) {
        // What the server does with a decoded payment: re-encode it and name it.
        let _ = t402_core::codec::encode_header(&payment);
        let request = VerifyRequest::new(payment.clone(), payment.accepted.requirements().clone());
        let _ = t402_evm::payload::payment_id(&request);
        let _ = t402_svm::verify::payment_id(&request);
    }
    let _ = codec.decode_header::<SettleResponse>(HeaderKind::PaymentResponse, data);
    let _ = codec.decode_header::<PaymentPayloadV1>(HeaderKind::XPayment, data);
    let _ = codec.decode_header::<SettleResponse>(HeaderKind::XPaymentResponse, data);
    let _ = codec.decode_v1_body(data);
}

/// A `/verify` or `/settle` body as the facilitator service reads it.
pub fn facilitator_request(data: &[u8]) {
    let Ok(value) = t402_core::json::from_slice_strict::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(FacilitatorRequest::V2(request)) = FacilitatorRequest::from_json(value) {
        let _ = t402_evm::verify::verify_offline(&request, 1_750_000_000);
        let _ = t402_svm::verify::verify_offline(&request, &[]);
    }
}

/// Solana transaction bytes as the facilitator decodes them.
pub fn svm_transaction(data: &[u8]) {
    if let Ok(transaction) = t402_svm::wire::Transaction::deserialize(data) {
        let bytes = transaction
            .serialize()
            .expect("a decoded transaction encodes");
        assert_eq!(
            t402_svm::wire::Transaction::deserialize(&bytes).ok(),
            Some(transaction),
            "decode → encode → decode is the identity"
        );
    }
}

/// An EVM signature (ERC-6492 wrapper included) and an `exact` payload object.
pub fn evm_payload(data: &[u8]) {
    let _ = t402_evm::signature::unwrap_erc6492(data);
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(data) {
        let _ = t402_evm::ExactEvmPayload::from_object(&object);
    }
}

/// A route pattern (first line) against a request path (the rest).
pub fn route_matching(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (pattern, path) = text.split_once('\n').unwrap_or((&text, "/"));
    let request = RequestPath::new(path);
    let _ = request.segments();
    let _ = request.decoded_first();
    if let Ok(pattern) = RoutePattern::parse(pattern) {
        let _ = pattern.matches("GET", path);
    }
}
