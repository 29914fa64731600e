//! The in-process facilitator: dispatch by (version, scheme, network), v1 conversion, and the
//! `/supported` answer derived from registrations.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use t402_core::{
    Amount, BoxFuture, Facilitator, FacilitatorError, FacilitatorMechanism, FacilitatorRequest,
    JsonObject, LocalFacilitator, Network, NetworkPattern, PaymentPayload, PaymentRequirements,
    Reason, SettleRequest, SettleResponse, VerifyRequest, VerifyResponse, VersionKey,
};

/// A mechanism that accepts a payment when `payload.ok` is true and the payload's `accepted`
/// agrees with the requirements on network and amount; it records what it was asked.
struct Recorder {
    scheme: &'static str,
    signer: &'static str,
    verifies: AtomicUsize,
    settles: AtomicUsize,
}

impl Recorder {
    fn new(scheme: &'static str, signer: &'static str) -> Arc<Self> {
        Arc::new(Self {
            scheme,
            signer,
            verifies: AtomicUsize::new(0),
            settles: AtomicUsize::new(0),
        })
    }

    fn check(&self, request: &VerifyRequest) -> Result<String, Reason> {
        let accepted = &request.payment_payload.accepted;
        let required = &request.payment_requirements;
        if accepted.network != required.network {
            return Err(Reason::NetworkMismatch);
        }
        if accepted.amount != required.amount {
            return Err(Reason::InvalidExactEvmAuthorizationValue);
        }
        if request.payment_payload.payload.get("ok") != Some(&json!(true)) {
            return Err(Reason::InvalidExactEvmSignature);
        }
        Ok("0xpayer".into())
    }
}

impl FacilitatorMechanism for Recorder {
    fn scheme(&self) -> &str {
        self.scheme
    }
    fn family(&self) -> NetworkPattern {
        NetworkPattern::parse("eip155:*").unwrap()
    }
    fn kind_extra(&self, network: &Network) -> Option<JsonObject> {
        (self.scheme == "upto").then(|| {
            let mut extra = JsonObject::new();
            extra.insert("facilitatorAddress".into(), json!(self.signer));
            extra.insert("chain".into(), json!(network.to_string()));
            extra
        })
    }
    fn signers(&self, _network: &Network) -> Vec<String> {
        vec![self.signer.to_owned()]
    }
    fn verify<'a>(
        &'a self,
        request: &'a VerifyRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Ok(match self.check(request) {
                Ok(payer) => VerifyResponse::valid(payer),
                Err(reason) => VerifyResponse::invalid(reason, None),
            })
        })
    }
    fn settle<'a>(
        &'a self,
        request: &'a SettleRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        self.settles.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let network = request.payment_requirements.network.to_string();
            Ok(match self.check(request) {
                Ok(payer) => SettleResponse::success("0xhash", network, payer),
                Err(reason) => SettleResponse::failure(reason, network, None),
            })
        })
    }
}

/// Runs a future to completion on the current thread (the futures here never wait).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn requirements(network: Network) -> PaymentRequirements {
    PaymentRequirements::new(
        "exact",
        network,
        Amount::from(10_000u64),
        "0xasset",
        "0xpayee",
        60,
    )
}

fn v2_request(network: Network, ok: bool) -> FacilitatorRequest {
    let reqs = requirements(network);
    let mut payload = JsonObject::new();
    payload.insert("ok".into(), json!(ok));
    FacilitatorRequest::V2(VerifyRequest::new(
        PaymentPayload::new(reqs.clone().into(), payload),
        reqs,
    ))
}

#[test]
fn dispatches_to_the_registered_mechanism() {
    let base = Recorder::new("exact", "0xbase");
    let other = Recorder::new("exact", "0xother");
    let facilitator = LocalFacilitator::new()
        .register([Network::eip155(8453)], base.clone())
        .register([Network::eip155(1), Network::eip155(8453)], other.clone());

    let ok = block_on(facilitator.verify(&v2_request(Network::eip155(8453), true))).unwrap();
    assert!(ok.is_valid);
    assert_eq!(
        base.verifies.load(Ordering::SeqCst),
        1,
        "first registration wins"
    );
    assert_eq!(other.verifies.load(Ordering::SeqCst), 0);

    block_on(facilitator.verify(&v2_request(Network::eip155(1), true))).unwrap();
    assert_eq!(other.verifies.load(Ordering::SeqCst), 1);

    let bad = block_on(facilitator.verify(&v2_request(Network::eip155(8453), false))).unwrap();
    assert_eq!(bad.invalid_reason, Some(Reason::InvalidExactEvmSignature));

    let settled = block_on(facilitator.settle(&v2_request(Network::eip155(8453), true))).unwrap();
    assert!(settled.success);
    assert_eq!(settled.transaction.as_deref(), Some("0xhash"));
    assert_eq!(base.settles.load(Ordering::SeqCst), 1);
}

#[test]
fn unsupported_payments_get_a_reason_not_an_error() {
    let facilitator =
        LocalFacilitator::new().register([Network::eip155(8453)], Recorder::new("exact", "0x1"));
    let answer = block_on(facilitator.verify(&v2_request(Network::eip155(10), true))).unwrap();
    assert!(!answer.is_valid);
    assert_eq!(answer.invalid_reason, Some(Reason::UnsupportedScheme));
    assert!(answer.invalid_message.unwrap().contains("eip155:10"));

    let settled = block_on(facilitator.settle(&v2_request(Network::eip155(10), true))).unwrap();
    assert!(!settled.success);
    assert_eq!(
        settled.network, "eip155:10",
        "failure answers name the network"
    );
    assert_eq!(settled.error_reason, Some(Reason::UnsupportedScheme));
}

#[test]
fn v1_requests_are_converted_and_answered_in_v1_terms() {
    let mechanism = Recorder::new("exact", "0x1");
    let facilitator = LocalFacilitator::new()
        .register_v1([Network::eip155(84532)], mechanism.clone())
        .unwrap();
    let body = json!({
        "x402Version": 1,
        "paymentPayload": {"x402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": {"ok": true}},
        "paymentRequirements": {"scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000",
            "resource": "https://example.com/r", "description": "", "mimeType": "", "payTo": "0xpayee",
            "maxTimeoutSeconds": 60, "asset": "0xasset"}
    });
    let request = FacilitatorRequest::from_json(body.clone()).unwrap();
    assert_eq!(request.version(), 1);
    assert!(block_on(facilitator.verify(&request)).unwrap().is_valid);
    let settled = block_on(facilitator.settle(&request)).unwrap();
    assert!(settled.success);
    assert_eq!(settled.network, "base-sepolia");

    // The payload names another network than the requirements: the mechanism sees the mismatch.
    let mut mismatched = body.clone();
    mismatched["paymentPayload"]["network"] = json!("base");
    let request = FacilitatorRequest::from_json(mismatched).unwrap();
    let answer = block_on(facilitator.verify(&request)).unwrap();
    assert_eq!(answer.invalid_reason, Some(Reason::NetworkMismatch));

    // An unknown v1 network name is an invalid_network answer.
    let mut unknown = body;
    unknown["paymentRequirements"]["network"] = json!("mars");
    let request = FacilitatorRequest::from_json(unknown).unwrap();
    let answer = block_on(facilitator.settle(&request)).unwrap();
    assert_eq!(answer.error_reason, Some(Reason::InvalidNetwork));
    assert_eq!(answer.network, "mars");

    // v1 registration needs networks with v1 names.
    assert!(
        LocalFacilitator::new()
            .register_v1([Network::eip155(31337)], mechanism)
            .is_err()
    );
}

#[test]
fn supported_is_derived_from_registrations() {
    let exact = Recorder::new("exact", "0xexact");
    let upto = Recorder::new("upto", "0xupto");
    let facilitator = LocalFacilitator::new()
        .register(
            [Network::eip155(8453), Network::eip155(84532)],
            exact.clone(),
        )
        .register([Network::eip155(84532)], upto)
        .register_v1([Network::eip155(84532)], exact)
        .unwrap()
        .with_extension("bazaar");
    let supported = block_on(facilitator.supported()).unwrap();
    let json = serde_json::to_value(&supported).unwrap();
    assert_eq!(
        json,
        json!({
            "kinds": [
                {"x402Version": 2, "t402Version": 2, "scheme": "exact", "network": "eip155:8453"},
                {"x402Version": 2, "t402Version": 2, "scheme": "exact", "network": "eip155:84532"},
                {"x402Version": 2, "t402Version": 2, "scheme": "upto", "network": "eip155:84532",
                 "extra": {"facilitatorAddress": "0xupto", "chain": "eip155:84532"}},
                {"x402Version": 1, "t402Version": 1, "scheme": "exact", "network": "base-sepolia"}
            ],
            "extensions": ["bazaar"],
            "signers": {"eip155:*": ["0xexact", "0xupto"]}
        })
    );
    let x402_only = facilitator
        .with_version_key(VersionKey::X402)
        .supported_response();
    assert!(
        serde_json::to_string(&x402_only)
            .unwrap()
            .find("t402Version")
            .is_none()
    );
}

#[test]
fn malformed_requests_are_typed_errors() {
    use t402_core::wire::FacilitatorRequestError;
    let err = FacilitatorRequest::from_json(json!({"paymentRequirements": {}})).unwrap_err();
    assert!(matches!(
        err,
        FacilitatorRequestError::MissingField("paymentPayload")
    ));
    let err = FacilitatorRequest::from_json(
        json!({"paymentPayload": {"x402Version": 3}, "paymentRequirements": {}}),
    )
    .unwrap_err();
    assert!(matches!(err, FacilitatorRequestError::Version(_)));
    let err = FacilitatorRequest::from_json(
        json!({"paymentPayload": {"x402Version": 2}, "paymentRequirements": {}}),
    )
    .unwrap_err();
    assert!(matches!(err, FacilitatorRequestError::Json(_)));
    let top = json!({"x402Version": 2, "t402Version": 1, "paymentPayload": {"x402Version": 2}, "paymentRequirements": {}});
    assert!(FacilitatorRequest::from_json(top).is_err());
}

#[test]
fn reading_bytes_answers_as_reading_a_json_value() {
    use t402_core::wire::FacilitatorRequestError;
    let v2 = json!({
        "x402Version": 2,
        "paymentPayload": {"x402Version": 2, "accepted": {"scheme": "exact", "network": "eip155:84532",
            "amount": "10", "asset": "0xasset", "payTo": "0xpayee", "maxTimeoutSeconds": 60},
            "payload": {"ok": true}, "future": [1, {"a": null}]},
        "paymentRequirements": {"scheme": "exact", "network": "eip155:84532", "amount": "10",
            "asset": "0xasset", "payTo": "0xpayee", "maxTimeoutSeconds": 60},
        "later": "kept"
    });
    let v1 = json!({
        "t402Version": 1,
        "paymentPayload": {"t402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": {}},
        "paymentRequirements": {"scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "1",
            "resource": "https://example.com/r", "description": "", "mimeType": "", "payTo": "0xp",
            "maxTimeoutSeconds": 60, "asset": "0xa"}
    });
    for body in [v2, v1] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let from_bytes = FacilitatorRequest::from_slice_strict(&bytes).unwrap();
        assert_eq!(from_bytes, FacilitatorRequest::from_json(body).unwrap());
    }
    // The same refusals, with the same words.
    for body in [
        json!({"paymentRequirements": {}}),
        json!({"paymentPayload": {"x402Version": 3}, "paymentRequirements": {}}),
        json!({"paymentPayload": {"x402Version": 2}, "paymentRequirements": {}}),
        json!({"paymentPayload": {"x402Version": 2}}),
        json!({"paymentPayload": "text", "paymentRequirements": {}}),
        json!({"paymentPayload": {"x402Version": "2"}, "paymentRequirements": {}}),
        json!({"paymentPayload": {"x402Version": 2, "t402Version": 1}, "paymentRequirements": {}}),
        json!({"x402Version": 2, "t402Version": 1, "paymentPayload": {"x402Version": 2}, "paymentRequirements": {}}),
        json!([1, 2]),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let from_bytes = FacilitatorRequest::from_slice_strict(&bytes).unwrap_err();
        let from_value = FacilitatorRequest::from_json(body.clone()).unwrap_err();
        assert_eq!(
            std::mem::discriminant(&from_bytes),
            std::mem::discriminant(&from_value),
            "{body}: {from_bytes} / {from_value}"
        );
    }
    // Repeated keys and broken JSON are refused before anything is read.
    for text in [
        r#"{"paymentPayload":{"x402Version":2,"x402Version":1},"paymentRequirements":{}}"#,
        r#"{"paymentPayload":{"x402Version":2}} trailing"#,
    ] {
        assert!(matches!(
            FacilitatorRequest::from_slice_strict(text.as_bytes()),
            Err(FacilitatorRequestError::Strict(_))
        ));
    }
}
