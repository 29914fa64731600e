//! Property tests: every wire type survives encode then decode unchanged.

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use t402_core::codec::{Codec, HeaderKind, encode_header};
use t402_core::{
    Accepted, Amount, FacilitatorRequest, JsonObject, Network, PaymentPayload, PaymentPayloadV1,
    PaymentRequired, PaymentRequiredV1, PaymentRequirements, PaymentRequirementsV1,
    ProtocolVersion, Reason, ResourceInfo, SettleResponse, SupportedKind, SupportedResponse,
    VerifyRequest, VerifyRequestV1, VerifyResponse, VersionKey,
};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e9..1.0e9f64).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = JsonObject> {
    prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 0..4)
        .prop_map(|m| m.into_iter().collect::<Map<_, _>>())
}

/// Unknown fields, with keys no wire type knows.
fn unknown() -> impl Strategy<Value = JsonObject> {
    prop::collection::btree_map("zz[a-z0-9]{1,6}", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect::<Map<_, _>>())
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        any::<u64>().prop_map(Amount::from),
        any::<u128>().prop_map(Amount::from),
        Just(Amount::MAX),
        Just(Amount::ZERO),
    ]
}

fn network() -> impl Strategy<Value = Network> {
    prop_oneof![
        any::<u64>().prop_map(Network::eip155),
        "[a-z0-9-]{3,8}:[-_a-zA-Z0-9]{1,32}".prop_map(|s| Network::parse(&s).unwrap()),
    ]
}

fn version_key() -> impl Strategy<Value = VersionKey> {
    prop_oneof![
        Just(VersionKey::X402),
        Just(VersionKey::T402),
        Just(VersionKey::Both)
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(".{0,16}")
}

fn extra() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        object().prop_map(|o| Some(Value::Object(o))),
    ]
}

fn reason() -> impl Strategy<Value = Reason> {
    prop_oneof![
        (0..Reason::TABLE.len()).prop_map(|i| Reason::parse(Reason::TABLE[i].text)),
        "[a-z_]{1,20}".prop_map(|s| Reason::parse(&s)),
    ]
}

fn resource() -> impl Strategy<Value = ResourceInfo> {
    (".{1,30}", opt_text(), opt_text(), unknown()).prop_map(|(url, d, m, u)| {
        let mut r = ResourceInfo::new(url);
        r.description = d;
        r.mime_type = m;
        r.unknown = u;
        r
    })
}

fn requirements() -> impl Strategy<Value = PaymentRequirements> {
    (
        "[a-z]{1,8}",
        network(),
        amount(),
        ".{1,20}",
        ".{1,20}",
        any::<u64>(),
        extra(),
        unknown(),
    )
        .prop_map(
            |(scheme, network, amount, asset, pay_to, timeout, extra, unknown)| {
                let mut r =
                    PaymentRequirements::new(scheme, network, amount, asset, pay_to, timeout);
                r.extra = extra;
                r.unknown = unknown;
                r
            },
        )
}

fn payment_required() -> impl Strategy<Value = PaymentRequired> {
    (
        version_key(),
        opt_text(),
        resource(),
        prop::collection::vec(requirements(), 0..3),
        prop::option::of(object()),
        unknown(),
    )
        .prop_map(|(key, error, resource, accepts, extensions, unknown)| {
            let mut pr = PaymentRequired::new(resource, accepts).with_version_key(key);
            pr.error = error;
            pr.extensions = extensions;
            pr.unknown = unknown;
            pr
        })
}

fn payment_payload() -> impl Strategy<Value = PaymentPayload> {
    (
        version_key(),
        prop::option::of(resource()),
        requirements(),
        object(),
        prop::option::of(object()),
        unknown(),
    )
        .prop_map(|(key, resource, accepted, payload, extensions, unknown)| {
            let mut p =
                PaymentPayload::new(Accepted::from(accepted), payload).with_version_key(key);
            p.resource = resource;
            p.extensions = extensions;
            p.unknown = unknown;
            p
        })
}

fn requirements_v1() -> impl Strategy<Value = PaymentRequirementsV1> {
    (requirements(), resource(), extra()).prop_map(|(r, res, schema)| {
        let mut r = r;
        r.network = Network::eip155(84532);
        let mut v1 = PaymentRequirementsV1::from_v2(&r, &res).unwrap();
        v1.output_schema = schema;
        v1
    })
}

fn payload_v1() -> impl Strategy<Value = PaymentPayloadV1> {
    (
        version_key(),
        "[a-z]{1,8}",
        "[a-z-]{1,12}",
        object(),
        unknown(),
    )
        .prop_map(|(key, scheme, network, payload, unknown)| {
            let mut p = PaymentPayloadV1::new(scheme, network, payload);
            p.version_key = key;
            p.unknown = unknown;
            p
        })
}

fn verify_response() -> impl Strategy<Value = VerifyResponse> {
    (
        any::<bool>(),
        prop::option::of(reason()),
        opt_text(),
        opt_text(),
        prop::option::of(object()),
        unknown(),
    )
        .prop_map(|(valid, reason, message, payer, extensions, unknown)| {
            let mut r = VerifyResponse::valid("");
            r.is_valid = valid;
            r.invalid_reason = reason;
            r.invalid_message = message;
            r.payer = payer;
            r.extensions = extensions;
            r.unknown = unknown;
            r
        })
}

fn settle_response() -> impl Strategy<Value = SettleResponse> {
    (
        any::<bool>(),
        prop::option::of(reason()),
        opt_text(),
        opt_text(),
        opt_text(),
        ".{0,20}",
        prop::option::of(amount()),
        prop::option::of(object()),
        unknown(),
    )
        .prop_map(
            |(success, reason, message, payer, tx, network, amount, ext, unknown)| {
                let mut r = SettleResponse::success("", network, "");
                r.success = success;
                r.error_reason = reason;
                r.error_message = message;
                r.payer = payer;
                r.transaction = tx;
                r.amount = amount;
                r.extensions = ext;
                r.unknown = unknown;
                r
            },
        )
}

fn supported() -> impl Strategy<Value = SupportedResponse> {
    let kind = (
        1u32..3,
        version_key(),
        "[a-z]{1,6}",
        ".{1,20}",
        prop::option::of(object()),
        unknown(),
    )
        .prop_map(|(n, key, scheme, network, extra, unknown)| {
            let mut k = SupportedKind::new(ProtocolVersion::new(n, key), scheme, network);
            k.extra = extra;
            k.unknown = unknown;
            k
        });
    (
        prop::collection::vec(kind, 0..4),
        prop::collection::vec("[a-zA-Z]{1,10}", 0..3),
        prop::collection::btree_map(
            "[a-z0-9]{3,8}:\\*",
            prop::collection::vec(".{1,10}", 0..3),
            0..3,
        ),
        unknown(),
    )
        .prop_map(|(kinds, extensions, signers, unknown)| {
            let mut s = SupportedResponse::default();
            s.kinds = kinds;
            s.extensions = extensions;
            s.signers = signers;
            s.unknown = unknown;
            s
        })
}

fn check_json<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let back: T = t402_core::json::from_slice_strict(text.as_bytes()).unwrap();
    assert_eq!(&back, value, "{text}");
}

fn check_header<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    kind: HeaderKind,
    value: &T,
) {
    let header = encode_header(value);
    let back: T = Codec::new()
        .with_max_bytes(usize::MAX)
        .decode_header(kind, &header)
        .unwrap();
    assert_eq!(&back, value);
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(128) })]

    #[test]
    fn payment_required_round_trips(pr in payment_required()) {
        check_header(HeaderKind::PaymentRequired, &pr);
    }

    #[test]
    fn payment_payload_round_trips(p in payment_payload()) {
        check_header(HeaderKind::PaymentSignature, &p);
    }

    #[test]
    fn settle_response_round_trips(r in settle_response()) {
        check_header(HeaderKind::PaymentResponse, &r);
        check_header(HeaderKind::XPaymentResponse, &r);
    }

    #[test]
    fn v1_types_round_trip(reqs in prop::collection::vec(requirements_v1(), 1..3), p in payload_v1(), key in version_key()) {
        let mut body: PaymentRequiredV1 = serde_json::from_str(r#"{"x402Version":1,"accepts":[]}"#).unwrap();
        body.accepts = reqs.clone();
        body.version_key = key;
        check_json(&body);
        prop_assert_eq!(&Codec::default().decode_v1_body(serde_json::to_vec(&body).unwrap()).unwrap(), &body);
        check_header(HeaderKind::XPayment, &p);
        check_json(&reqs[0]);
    }

    #[test]
    fn facilitator_messages_round_trip(
        p in payment_payload(),
        r in requirements(),
        v1_payload in payload_v1(),
        v1_reqs in requirements_v1(),
        verify in verify_response(),
        supported in supported(),
    ) {
        let v2 = VerifyRequest::new(p, r);
        check_json(&v2);
        check_json(&FacilitatorRequest::V2(v2));
        let mut v1: VerifyRequestV1 = serde_json::from_value(serde_json::json!({
            "paymentPayload": v1_payload,
            "paymentRequirements": v1_reqs,
        })).unwrap();
        check_json(&v1);
        v1.version = Some(ProtocolVersion::V1);
        check_json(&FacilitatorRequest::V1(v1));
        check_json(&verify);
        check_json(&supported);
        check_json(&resource_of(&supported));
    }

    #[test]
    fn accepted_is_verbatim(r in requirements(), shuffle in any::<bool>()) {
        let mut raw = serde_json::to_value(&r).unwrap();
        if shuffle {
            // Reverse the key order: the echo must keep it.
            let reversed: Map<String, Value> = raw.as_object().unwrap().clone().into_iter().rev().collect();
            raw = Value::Object(reversed);
        }
        let accepted = Accepted::from_raw(raw.clone()).unwrap();
        prop_assert_eq!(accepted.requirements(), &r);
        prop_assert_eq!(serde_json::to_string(&accepted).unwrap(), serde_json::to_string(&raw).unwrap());
    }
}

/// A resource made from the supported answer's first extension, to exercise `ResourceInfo` on its own.
fn resource_of(s: &SupportedResponse) -> ResourceInfo {
    ResourceInfo::new(s.extensions.first().cloned().unwrap_or_else(|| "u".into()))
}
