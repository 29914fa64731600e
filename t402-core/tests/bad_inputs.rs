//! Bad input gets a typed error with a protocol reason, and never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use serde_json::{Value, json};
use t402_core::codec::{Codec, CodecError, DEFAULT_MAX_HEADER_BYTES, HeaderKind, encode_header};
use t402_core::json::StrictJsonError;
use t402_core::{Amount, AmountError, Money, PriceError, Reason, VersionError};

fn fixture_json(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/x402-v2-http.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_str(f["headers"][name]["decoded"].as_str().unwrap()).unwrap()
}

fn payment() -> Value {
    fixture_json("payment_signature")
}

fn b64(value: &Value) -> String {
    STANDARD.encode(serde_json::to_vec(value).unwrap())
}

fn decode_payment(header: &str) -> Result<t402_core::PaymentPayload, CodecError> {
    Codec::default().decode_payment_signature(header)
}

#[test]
fn the_untouched_payment_decodes() {
    decode_payment(&b64(&payment())).unwrap();
}

#[test]
fn url_safe_alphabet_is_refused() {
    // Pick a JSON whose base64 has '+' or '/' so the URL-safe form really differs.
    let mut p = payment();
    p["payload"]["note"] = json!("??>>??>>~~~");
    let standard = b64(&p);
    let url_safe = URL_SAFE.encode(serde_json::to_vec(&p).unwrap());
    assert_ne!(standard, url_safe);
    let err = decode_payment(&url_safe).unwrap_err();
    assert!(matches!(err, CodecError::Base64 { .. }), "{err:?}");
    assert_eq!(err.reason(), Reason::InvalidPayload);
}

#[test]
fn whitespace_and_line_breaks_are_refused() {
    let header = b64(&payment());
    for bad in [
        format!(" {header}"),
        format!("{header} "),
        format!("{}\n{}", &header[..76], &header[76..]),
        format!("{}\r\n{}", &header[..40], &header[40..]),
    ] {
        assert!(matches!(
            decode_payment(&bad),
            Err(CodecError::Base64 { .. })
        ));
    }
}

#[test]
fn missing_padding_and_truncation_are_refused() {
    let bytes = serde_json::to_vec(&payment()).unwrap();
    let padded = STANDARD.encode(&bytes);
    assert!(
        padded.ends_with('='),
        "the fixture needs padding for this test"
    );
    let unpadded = STANDARD_NO_PAD.encode(&bytes);
    assert!(matches!(
        decode_payment(&unpadded),
        Err(CodecError::Base64 { .. })
    ));
    let truncated = &padded[..padded.len() - 5];
    assert!(matches!(
        decode_payment(truncated),
        Err(CodecError::Base64 { .. })
    ));
    // Cut on a 4-character boundary: valid base64 of broken JSON.
    let cut = &padded[..padded.len() / 4 * 2];
    assert!(matches!(decode_payment(cut), Err(CodecError::Json { .. })));
}

#[test]
fn oversized_headers_are_refused_before_decoding() {
    let mut p = payment();
    p["payload"]["padding"] = json!("x".repeat(DEFAULT_MAX_HEADER_BYTES));
    let header = b64(&p);
    let err = decode_payment(&header).unwrap_err();
    assert!(
        matches!(err, CodecError::TooLarge { size, max: DEFAULT_MAX_HEADER_BYTES, .. } if size == header.len()),
        "{err:?}"
    );
    // A 40 KiB run of garbage is refused on size alone.
    let garbage = "!".repeat(40 * 1024);
    assert!(matches!(
        decode_payment(&garbage),
        Err(CodecError::TooLarge { .. })
    ));
    // The limit is configurable.
    let small = Codec::new().with_max_bytes(100);
    assert!(matches!(
        small.decode_payment_signature(b64(&payment())),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn byte_order_mark_and_duplicate_keys_are_refused() {
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend(serde_json::to_vec(&payment()).unwrap());
    assert!(matches!(
        decode_payment(&STANDARD.encode(with_bom)),
        Err(CodecError::Json {
            source: StrictJsonError::Syntax(_),
            ..
        })
    ));

    let text = serde_json::to_string(&payment()).unwrap();
    let dup = text.replacen(r#""amount":"10000""#, r#""amount":"10000","amount":"1""#, 1);
    assert_ne!(dup, text);
    let err = decode_payment(&STANDARD.encode(dup)).unwrap_err();
    assert!(
        matches!(&err, CodecError::Json { source: StrictJsonError::DuplicateKey(k), .. } if k == "amount"),
        "{err:?}"
    );
}

#[test]
fn version_problems_are_typed() {
    let cases: Vec<(Value, VersionError)> = vec![
        (
            json!({"x402Version": 2.0}),
            VersionError::NotAnInteger { key: "x402Version" },
        ),
        (
            json!({"x402Version": "2"}),
            VersionError::NotAnInteger { key: "x402Version" },
        ),
        (
            json!({"x402Version": 2, "t402Version": 1}),
            VersionError::Disagree { x402: 2, t402: 1 },
        ),
        (json!({"x402Version": null}), VersionError::Missing),
        (
            json!({"x402Version": 1}),
            VersionError::Unexpected {
                expected: 2,
                found: 1,
            },
        ),
    ];
    for (patch, expected) in cases {
        let mut p = payment();
        let object = p.as_object_mut().unwrap();
        object.remove("x402Version");
        for (k, v) in patch.as_object().unwrap() {
            object.insert(k.clone(), v.clone());
        }
        let err = decode_payment(&b64(&p)).unwrap_err();
        assert!(
            matches!(&err, CodecError::Version { source, .. } if *source == expected),
            "{patch}: {err:?}"
        );
        assert_eq!(err.reason(), Reason::InvalidX402Version);
    }
    // A v2 header where a v1 one is expected, and the reverse.
    assert!(matches!(
        Codec::default().decode_x_payment(b64(&payment())),
        Err(CodecError::Version { .. })
    ));
}

#[test]
fn wrong_types_and_missing_fields_are_shape_errors() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "amount as number",
            Box::new(|p| p["accepted"]["amount"] = json!(10000)),
        ),
        (
            "timeout as string",
            Box::new(|p| p["accepted"]["maxTimeoutSeconds"] = json!("60")),
        ),
        (
            "negative timeout",
            Box::new(|p| p["accepted"]["maxTimeoutSeconds"] = json!(-1)),
        ),
        (
            "payload as string",
            Box::new(|p| p["payload"] = json!("sig")),
        ),
        (
            "extra as array",
            Box::new(|p| p["accepted"]["extra"] = json!([1])),
        ),
        (
            "bad network",
            Box::new(|p| p["accepted"]["network"] = json!("base-sepolia")),
        ),
        (
            "no accepted",
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("accepted");
            }),
        ),
        (
            "no payload",
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("payload");
            }),
        ),
        (
            "no payTo",
            Box::new(|p| {
                p["accepted"].as_object_mut().unwrap().remove("payTo");
            }),
        ),
        (
            "resource url number",
            Box::new(|p| p["resource"]["url"] = json!(5)),
        ),
        (
            "array at top",
            Box::new(|p| *p = json!([{"x402Version": 2}])),
        ),
    ];
    for (name, mutate) in mutations {
        let mut p = payment();
        mutate(&mut p);
        let err = decode_payment(&b64(&p)).unwrap_err();
        assert!(
            matches!(err, CodecError::Shape { .. } | CodecError::Version { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn bad_amounts_are_refused_in_messages() {
    for amount in [
        "-10000",
        "+10000",
        "10000.0",
        "1e4",
        " 10000",
        "0x2710",
        "",
        "115792089237316195423570985008687907853269984665640564039457584007913129639936",
    ] {
        let mut p = payment();
        p["accepted"]["amount"] = json!(amount);
        let err = decode_payment(&b64(&p)).unwrap_err();
        assert!(
            matches!(err, CodecError::Shape { .. }),
            "{amount:?}: {err:?}"
        );
        assert!(Amount::parse(amount).is_err());
    }
    assert!(matches!(
        Amount::parse("-1"),
        Err(AmountError::NotDigits(_))
    ));
}

#[test]
fn prices_below_one_atomic_unit_are_refused() {
    let err = Money::parse("$0.0000001")
        .unwrap()
        .to_atomic(6)
        .unwrap_err();
    assert!(matches!(err, PriceError::TooSmall { decimals: 6, .. }));
    assert!(
        Money::parse("$0.000000000000000001")
            .unwrap()
            .to_atomic(18)
            .is_ok()
    );
    assert!(matches!(
        Money::parse("$0.0000000000000000001")
            .unwrap()
            .to_atomic(18),
        Err(PriceError::TooSmall { .. })
    ));
}

#[test]
fn every_kind_handles_garbage_without_panicking() {
    let codec = Codec::default();
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"====".to_vec(),
        b"e30=".to_vec(),     // {}
        b"bnVsbA==".to_vec(), // null
        STANDARD.encode("[]").into_bytes(),
        STANDARD.encode("\"x\"").into_bytes(),
        STANDARD.encode([0xff, 0xfe, 0x00]).into_bytes(),
        STANDARD.encode("[".repeat(200)).into_bytes(),
        vec![0xff; 64],
    ];
    for input in &inputs {
        assert!(codec.decode_payment_required(input).is_err());
        assert!(codec.decode_payment_signature(input).is_err());
        assert!(codec.decode_payment_response(input).is_err());
        assert!(codec.decode_x_payment(input).is_err());
        assert!(codec.decode_x_payment_response(input).is_err());
        assert!(codec.decode_v1_body(input).is_err());
    }
}

#[test]
fn v1_body_rules() {
    let codec = Codec::default();
    // A v2 challenge is not a v1 body.
    let v2 = serde_json::to_vec(&fixture_json("payment_required")).unwrap();
    assert!(matches!(
        codec.decode_v1_body(&v2),
        Err(CodecError::Version { .. })
    ));
    let err = Codec::new()
        .with_max_bytes(10)
        .decode_v1_body(&v2)
        .unwrap_err();
    assert!(matches!(
        err,
        CodecError::TooLarge {
            kind: HeaderKind::V1Body,
            ..
        }
    ));
    // Encoding is standard padded base64 of compact JSON.
    assert_eq!(encode_header(&json!({"a": 1})), "eyJhIjoxfQ==");
}
