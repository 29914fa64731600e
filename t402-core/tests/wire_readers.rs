//! The field-by-field readers of requirements, resources, payments and verify/settle requests:
//! what they keep, what they refuse, and that they read the same from bytes and from a JSON
//! value.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use t402_core::json::from_slice_strict;
use t402_core::{
    PaymentPayload, PaymentRequirements, ResourceInfo, VersionKey, wire::VerifyRequest,
};

fn requirements() -> Value {
    json!({"scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"}})
}

fn payment() -> Value {
    json!({"x402Version": 2, "resource": {"url": "https://api.example.com/w", "description": "", "mimeType": "application/json"},
        "accepted": requirements(), "payload": {"signature": "0xab", "authorization": {"value": "10000"}}})
}

/// Reads `value` from its bytes (strict) and from the value itself, and checks both agree.
fn read<T: DeserializeOwned + PartialEq + std::fmt::Debug>(value: &Value) -> Result<T, String> {
    let from_bytes = from_slice_strict::<T>(&serde_json::to_vec(value).unwrap());
    let from_value = serde_json::from_value::<T>(value.clone());
    match (from_bytes, from_value) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            Ok(a)
        }
        (Err(a), Err(b)) => {
            // Read from bytes, the error also says where.
            assert!(a.to_string().starts_with(&b.to_string()), "{a} / {b}");
            Err(b.to_string())
        }
        (a, b) => panic!("bytes and value disagree: {a:?} / {b:?}"),
    }
}

#[test]
fn unknown_fields_are_kept_at_every_level_and_written_back() {
    let mut body = json!({"x402Version": 2, "paymentPayload": payment(),
        "paymentRequirements": requirements(), "later": {"a": [1, null]}});
    body["paymentPayload"]["future"] = json!(true);
    body["paymentPayload"]["resource"]["icon"] = json!("x.png");
    body["paymentPayload"]["accepted"]["note"] = json!("kept");
    body["paymentRequirements"]["tier"] = json!(3);
    let request: VerifyRequest = read(&body).unwrap();
    assert_eq!(request.unknown["later"], json!({"a": [1, null]}));
    assert_eq!(request.payment_payload.unknown["future"], json!(true));
    let resource = request.payment_payload.resource.as_ref().unwrap();
    assert_eq!(resource.unknown["icon"], json!("x.png"));
    assert_eq!(resource.description.as_deref(), Some(""));
    assert_eq!(
        request.payment_payload.accepted.unknown["note"],
        json!("kept")
    );
    assert_eq!(request.payment_requirements.unknown["tier"], json!(3));
    assert_eq!(serde_json::to_value(&request).unwrap(), body);
}

#[test]
fn versions_under_either_key() {
    let mut t402 = payment();
    t402.as_object_mut().unwrap().remove("x402Version");
    t402["t402Version"] = json!(2);
    assert_eq!(
        read::<PaymentPayload>(&t402).unwrap().version_key,
        VersionKey::T402
    );
    t402["x402Version"] = json!(2);
    assert_eq!(
        read::<PaymentPayload>(&t402).unwrap().version_key,
        VersionKey::Both
    );
    t402["x402Version"] = json!(1);
    assert!(
        read::<PaymentPayload>(&t402)
            .unwrap_err()
            .contains("disagree")
    );
    let mut v1 = payment();
    v1["x402Version"] = json!(1);
    assert!(read::<PaymentPayload>(&v1).is_err());
    let mut none = payment();
    none["x402Version"] = Value::Null;
    assert!(read::<PaymentPayload>(&none).is_err());

    // A request's own version may be absent (older peers); a broken one is refused.
    let mut request = json!({"paymentPayload": payment(), "paymentRequirements": requirements()});
    assert_eq!(read::<VerifyRequest>(&request).unwrap().version, None);
    request["t402Version"] = json!("2");
    assert!(read::<VerifyRequest>(&request).is_err());
}

#[test]
fn nulls_and_absent_optionals() {
    let mut offer = requirements();
    offer["extra"] = Value::Null;
    // `extra: null` is kept as null (it is written back), absent is `None`.
    assert_eq!(
        read::<PaymentRequirements>(&offer).unwrap().extra,
        Some(Value::Null)
    );
    offer.as_object_mut().unwrap().remove("extra");
    assert_eq!(read::<PaymentRequirements>(&offer).unwrap().extra, None);
    offer["extra"] = json!("text");
    assert!(
        read::<PaymentRequirements>(&offer)
            .unwrap_err()
            .contains("object or null")
    );

    let mut paid = payment();
    paid["resource"] = Value::Null;
    paid["extensions"] = Value::Null;
    let read_back = read::<PaymentPayload>(&paid).unwrap();
    assert!(read_back.resource.is_none() && read_back.extensions.is_none());

    let resource = json!({"url": "u", "description": null, "mimeType": null});
    let resource: ResourceInfo = read(&resource).unwrap();
    assert!(resource.description.is_none() && resource.mime_type.is_none());
}

#[test]
fn missing_and_wrong_fields_are_named() {
    for (field, reader) in [
        ("scheme", "requirements"),
        ("network", "requirements"),
        ("amount", "requirements"),
        ("asset", "requirements"),
        ("payTo", "requirements"),
        ("maxTimeoutSeconds", "requirements"),
        ("accepted", "payment"),
        ("payload", "payment"),
    ] {
        let error = if reader == "requirements" {
            let mut offer = requirements();
            offer.as_object_mut().unwrap().remove(field);
            read::<PaymentRequirements>(&offer).unwrap_err()
        } else {
            let mut paid = payment();
            paid.as_object_mut().unwrap().remove(field);
            read::<PaymentPayload>(&paid).unwrap_err()
        };
        assert!(
            error.contains(&format!("missing field `{field}`")),
            "{error}"
        );
    }
    let mut offer = requirements();
    offer["amount"] = json!(10000);
    assert!(read::<PaymentRequirements>(&offer).is_err());
    offer["amount"] = json!("10000");
    offer["network"] = json!("not a network");
    assert!(read::<PaymentRequirements>(&offer).is_err());
    assert!(read::<PaymentRequirements>(&json!([1])).is_err());
    assert!(
        read::<ResourceInfo>(&json!({"description": "d"}))
            .unwrap_err()
            .contains("`url`")
    );
}

#[test]
fn a_field_given_twice_is_refused_by_every_reader() {
    let text = r#"{"scheme":"exact","scheme":"upto","network":"eip155:1","amount":"1","asset":"a","payTo":"p","maxTimeoutSeconds":1}"#;
    assert!(
        serde_json::from_str::<PaymentRequirements>(text)
            .unwrap_err()
            .to_string()
            .contains("duplicate field")
    );
    assert!(from_slice_strict::<PaymentRequirements>(text.as_bytes()).is_err());
}

#[test]
fn repeated_keys_anywhere_in_a_payment_are_refused_by_its_own_reader() {
    // Each place a repeated key can hide: the payload, `accepted`, `extra`, `extensions`,
    // an unknown field, and the top level of the request.
    let places = [
        r#""payload":{"signature":"0xab","signature":"0xcd"}"#,
        r#""payload":{"authorization":{"value":"1","value":"2"}}"#,
        r#""payload":{},"accepted":{"scheme":"exact","scheme":"exact","network":"eip155:1","amount":"1","asset":"a","payTo":"p","maxTimeoutSeconds":1}"#,
        r#""payload":{},"extensions":{"a":1,"a":2}"#,
        r#""payload":{},"future":{"b":[{"c":1,"c":1}]}"#,
    ];
    let accepted = r#""accepted":{"scheme":"exact","network":"eip155:1","amount":"1","asset":"a","payTo":"p","maxTimeoutSeconds":1,"extra":{"name":"USDC","name":"x"}}"#;
    let mut payments: Vec<String> = places
        .iter()
        .map(|place| {
            if place.contains("\"accepted\"") {
                format!(r#"{{"x402Version":2,{place}}}"#)
            } else {
                format!(
                    r#"{{"x402Version":2,"accepted":{},{place}}}"#,
                    requirements()
                )
            }
        })
        .collect();
    payments.push(format!(r#"{{"x402Version":2,{accepted},"payload":{{}}}}"#));
    for payment in &payments {
        // Even through serde_json's plain reader, which keeps the last of two equal keys.
        let error = serde_json::from_str::<PaymentPayload>(payment).unwrap_err();
        assert!(
            error.to_string().contains("duplicate"),
            "{payment}: {error}"
        );
        // The header codec says it is a repeated key.
        let header = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, payment);
        assert!(
            matches!(
                t402_core::codec::Codec::default().decode_payment_signature(&header),
                Err(t402_core::codec::CodecError::Json {
                    source: t402_core::json::StrictJsonError::DuplicateKey(_),
                    ..
                })
            ),
            "{payment}"
        );
        // So does the facilitator's reader of a request carrying it.
        let request = format!(
            r#"{{"x402Version":2,"paymentPayload":{payment},"paymentRequirements":{}}}"#,
            requirements()
        );
        assert!(
            matches!(
                t402_core::FacilitatorRequest::from_slice_strict(request.as_bytes()),
                Err(t402_core::wire::FacilitatorRequestError::Strict(
                    t402_core::json::StrictJsonError::DuplicateKey(_)
                ))
            ),
            "{request}"
        );
    }
    let request = format!(
        r#"{{"x402Version":2,"paymentPayload":{},"paymentRequirements":{},"x402Version":2}}"#,
        payment(),
        requirements()
    );
    assert!(t402_core::FacilitatorRequest::from_slice_strict(request.as_bytes()).is_err());
}
