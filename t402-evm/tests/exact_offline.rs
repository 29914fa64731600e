//! EIP-3009 signing and the offline verification checks, against the protocol's vectors and one
//! crafted case per reason.

use alloy_primitives::{Bytes, U256, address, b256, hex};
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use t402_core::codec::{Codec, encode_header};
use t402_core::{
    Accepted, ClientMechanism, MechanismError, PaymentPayload, PaymentPayloadV1,
    PaymentRequirements, Reason, VerifyRequest,
};
use t402_evm::eip3009::{Authorization, token_domain};
use t402_evm::verify::{Rejection, SignerCheck, verify_offline};
use t402_evm::{ExactEvmClient, ExactEvmPayload, ManualClock};

/// Public anvil/hardhat development key #0.
const ANVIL_KEY0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const SPEC_TIME: u64 = 1_740_672_100;

fn spec_payment() -> PaymentPayload {
    let path = format!(
        "{}/../t402-core/tests/fixtures/x402-v2-http.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Codec::default()
        .decode_payment_signature(
            fixture["headers"]["payment_signature"]["base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
}

fn spec_request() -> VerifyRequest {
    let payment = spec_payment();
    let requirements = payment.accepted.requirements().clone();
    VerifyRequest::new(payment, requirements)
}

fn reject(request: &VerifyRequest, now: u64) -> Rejection {
    verify_offline(request, now).expect_err("payment should be refused")
}

#[test]
fn the_spec_signature_verifies_inside_its_window() {
    let request = spec_request();
    for now in [1_740_672_089, SPEC_TIME, 1_740_672_148] {
        let ok = verify_offline(&request, now).unwrap();
        assert_eq!(ok.signer, SignerCheck::Eoa);
        assert_eq!(
            ok.payer(),
            address!("857b06519E91e3A54538791bDbb0E22373e36b66")
        );
        assert_eq!(ok.chain_id, 84532);
        assert_eq!(
            ok.digest,
            b256!("f256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6")
        );
        assert_eq!(
            ok.domain.hash_struct(),
            b256!("71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818")
        );
    }
    let late = reject(&request, 1_740_672_149);
    assert_eq!(
        late.reason,
        Reason::InvalidExactEvmPayloadAuthorizationValidBefore
    );
    let early = reject(&request, 1_740_672_088);
    assert_eq!(
        early.reason,
        Reason::InvalidExactEvmPayloadAuthorizationValidAfter
    );
    assert_eq!(
        early.payer,
        Some(address!("857b06519E91e3A54538791bDbb0E22373e36b66"))
    );
}

#[tokio::test]
async fn anvil_key0_signs_the_generated_vector() {
    let signer: PrivateKeySigner = ANVIL_KEY0.parse().unwrap();
    assert_eq!(
        signer.address(),
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    );
    let client = ExactEvmClient::new(signer);
    let domain = token_domain(
        "USDC",
        "2",
        84532,
        address!("036CbD53842c5426634e7929541eC2318f3dCF7e"),
    );
    let authorization = Authorization::new(
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        address!("209693Bc6afc0C5328bA36FaF03C514EF312287C"),
        U256::from(10_000u64),
        U256::from(1_740_672_089u64),
        U256::from(1_740_672_154u64),
        b256!("f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"),
    );
    assert_eq!(
        authorization.signing_hash(&domain),
        b256!("50708d3bf7216e1aeabe7bf22081b9f36c7c287530f92510318f13a03d89dc86")
    );
    let payload = client.sign(authorization, &domain).await.unwrap();
    assert_eq!(
        payload.signature.as_ref(),
        hex!(
            "dc53a4a579de989368a0fae2ef2172ff2f474b4297013f865d171239f17ef4c3157b4b4030f1bebc53d55ace15c2377dff501a60e1e56c291f1000d6e78f082f1b"
        )
    );
}

fn requirements() -> PaymentRequirements {
    serde_json::from_value(json!({
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"}
    }))
    .unwrap()
}

async fn signed_request(
    client: &ExactEvmClient<PrivateKeySigner>,
    requirements: &PaymentRequirements,
) -> VerifyRequest {
    let signed = client.create_payload(2, requirements, None).await.unwrap();
    VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), signed.payload),
        requirements.clone(),
    )
}

#[tokio::test]
async fn client_payloads_follow_the_reference_construction() {
    let clock = ManualClock::new(1_750_000_000);
    let signer = PrivateKeySigner::random();
    let client = ExactEvmClient::new(signer.clone()).with_clock(clock.clone());
    let request = signed_request(&client, &requirements()).await;
    let payload = ExactEvmPayload::from_object(&request.payment_payload.payload).unwrap();
    let auth = payload.authorization;
    assert_eq!(auth.from, signer.address());
    assert_eq!(
        auth.to,
        address!("209693Bc6afc0C5328bA36FaF03C514EF312287C")
    );
    assert_eq!(auth.value, U256::from(10_000u64));
    assert_eq!(auth.valid_after, U256::from(1_750_000_000u64 - 600));
    assert_eq!(auth.valid_before, U256::from(1_750_000_060u64));
    assert_eq!(payload.signature.len(), 65);
    assert!(matches!(payload.signature[64], 27 | 28));
    // JSON shape: strings everywhere, checksummed addresses, lowercase 0x nonce.
    let json = Value::Object(request.payment_payload.payload.clone());
    assert_eq!(
        json["authorization"]["to"],
        "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    );
    assert_eq!(json["authorization"]["value"], "10000");
    let nonce = json["authorization"]["nonce"].as_str().unwrap();
    assert!(nonce.starts_with("0x") && nonce.len() == 66 && nonce == nonce.to_lowercase());
    assert!(verify_offline(&request, clock_now(&clock)).is_ok());

    // Two payments never share a nonce.
    let again = signed_request(&client, &requirements()).await;
    assert_ne!(
        ExactEvmPayload::from_object(&again.payment_payload.payload)
            .unwrap()
            .authorization
            .nonce,
        auth.nonce
    );
}

fn clock_now(clock: &ManualClock) -> u64 {
    use t402_evm::Clock;
    clock.now()
}

#[tokio::test]
async fn v1_and_v2_payload_forms() {
    let clock = ManualClock::new(1_750_000_000);
    let client = ExactEvmClient::new(PrivateKeySigner::random()).with_clock(clock);
    let signed = client
        .create_payload(1, &requirements(), None)
        .await
        .unwrap();
    let v1 = PaymentPayloadV1::new("exact", "base-sepolia", signed.payload.clone());
    let header = encode_header(&v1);
    let back = Codec::default().decode_x_payment(&header).unwrap();
    assert_eq!(back.payload, signed.payload);
    let v2 = PaymentPayload::new(Accepted::from(requirements()), signed.payload);
    let back = Codec::default()
        .decode_payment_signature(encode_header(&v2))
        .unwrap();
    assert_eq!(back, v2);
}

#[tokio::test]
async fn client_refuses_unusable_requirements() {
    let client = ExactEvmClient::new(PrivateKeySigner::random());
    let mut no_domain = requirements();
    no_domain.extra = Some(json!({"name": "USDC"}));
    let err = client
        .create_payload(2, &no_domain, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            MechanismError::InvalidRequirements {
                reason: Reason::InvalidExactEvmMissingEip712Domain,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("EIP-712 domain parameters (name, version) are required")
    );

    let mut solana = requirements();
    solana.network = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".parse().unwrap();
    assert!(matches!(
        client.create_payload(2, &solana, None).await,
        Err(MechanismError::UnsupportedNetwork(_))
    ));

    // Permit2 is signed (t402-evm/tests/permit2_devnet.rs); a method no SDK implements is not.
    let mut permit2 = requirements();
    permit2.set_extra_field("assetTransferMethod", json!("permit2"));
    let signed = client.create_payload(2, &permit2, None).await.unwrap();
    assert!(signed.payload.contains_key("permit2Authorization"));
    let mut erc7710 = requirements();
    erc7710.set_extra_field("assetTransferMethod", json!("erc7710"));
    assert!(matches!(
        client.create_payload(2, &erc7710, None).await,
        Err(MechanismError::InvalidRequirements {
            reason: Reason::UnsupportedPayloadType,
            ..
        })
    ));

    let mut bad_pay_to = requirements();
    bad_pay_to.pay_to = "merchant".into();
    assert!(matches!(
        client.create_payload(2, &bad_pay_to, None).await,
        Err(MechanismError::InvalidRequirements {
            reason: Reason::InvalidPaymentRequirements,
            ..
        })
    ));
}

/// Applies `edit` to a fresh valid request, and returns the refusal at the signing time.
async fn refusal(edit: impl FnOnce(&mut VerifyRequest)) -> Rejection {
    let clock = ManualClock::new(1_750_000_000);
    let client = ExactEvmClient::new(PrivateKeySigner::random()).with_clock(clock);
    let mut request = signed_request(&client, &requirements()).await;
    assert!(verify_offline(&request, 1_750_000_000).is_ok());
    edit(&mut request);
    reject(&request, 1_750_000_000)
}

fn with_payload_field(request: &mut VerifyRequest, edit: impl FnOnce(&mut Value)) {
    let mut value = Value::Object(request.payment_payload.payload.clone());
    edit(&mut value);
    request.payment_payload.payload = value.as_object().unwrap().clone();
}

#[tokio::test]
async fn every_offline_reason_is_reachable() {
    let r = refusal(|r| r.payment_requirements.scheme = "upto".into()).await;
    assert_eq!(r.reason, Reason::InvalidExactEvmScheme);

    let r = refusal(|r| r.payment_requirements.extra = None).await;
    assert_eq!(r.reason, Reason::InvalidExactEvmMissingEip712Domain);

    let r = refusal(|r| r.payment_requirements.network = "eip155:8453".parse().unwrap()).await;
    assert_eq!(r.reason, Reason::InvalidExactEvmNetworkMismatch);

    // Wrong EIP-712 name: the digest differs, so the signature recovers to someone else.
    let r = refusal(|r| {
        r.payment_requirements
            .set_extra_field("name", json!("USD Coin"))
    })
    .await;
    assert_eq!(r.reason, Reason::InvalidExactEvmSignature);
    assert!(r.payer.is_some());

    // Tampered amount inside the authorization: the signature no longer matches.
    let r = refusal(|r| with_payload_field(r, |p| p["authorization"]["value"] = json!("1"))).await;
    assert_eq!(r.reason, Reason::InvalidExactEvmSignature);

    // High-s twin of a valid signature.
    let r = refusal(|r| {
        with_payload_field(r, |p| {
            let sig = hex::decode(p["signature"].as_str().unwrap()).unwrap();
            let parsed = alloy_primitives::Signature::from_raw(&sig).unwrap();
            let n = U256::from_be_bytes(hex!(
                "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
            ));
            let twin = alloy_primitives::Signature::new(parsed.r(), n - parsed.s(), !parsed.v());
            p["signature"] = json!(Bytes::copy_from_slice(&twin.as_bytes()).to_string());
        })
    })
    .await;
    assert_eq!(r.reason, Reason::InvalidExactEvmSignature);
    assert!(r.message.contains("high-s"), "{}", r.message);

    let r = refusal(|r| {
        r.payment_requirements.pay_to = "0x0000000000000000000000000000000000000001".into()
    })
    .await;
    assert_eq!(r.reason, Reason::InvalidExactEvmRecipientMismatch);

    let r = refusal(|r| r.payment_requirements.amount = 10_001u64.into()).await;
    assert_eq!(
        r.reason,
        Reason::InvalidExactEvmPayloadAuthorizationValueMismatch
    );

    let r = refusal(|r| {
        r.payment_payload
            .payload
            .insert("permit2Authorization".into(), json!({}));
    })
    .await;
    assert_eq!(r.reason, Reason::UnsupportedPayloadType);

    let r = refusal(|r| with_payload_field(r, |p| p["signature"] = json!("0xzz"))).await;
    assert_eq!(r.reason, Reason::InvalidExactEvmPayload);

    let r = refusal(|r| {
        with_payload_field(r, |p| {
            p.as_object_mut().unwrap().remove("authorization");
        })
    })
    .await;
    assert_eq!(r.reason, Reason::InvalidExactEvmPayload);

    let r = refusal(|r| r.payment_requirements.asset = "USDC".into()).await;
    assert_eq!(r.reason, Reason::InvalidPaymentRequirements);
}

#[test]
fn long_signatures_are_left_to_the_chain() {
    let mut request = spec_request();
    let mut value = Value::Object(request.payment_payload.payload.clone());
    value["signature"] = json!(format!("0x{}", "ab".repeat(100)));
    request.payment_payload.payload = value.as_object().unwrap().clone();
    let ok = verify_offline(&request, SPEC_TIME).unwrap();
    assert!(matches!(ok.signer, SignerCheck::SmartWallet(_)));
    // A 64-byte signature is neither: refused.
    let mut value = Value::Object(request.payment_payload.payload.clone());
    value["signature"] = json!(format!("0x{}", "ab".repeat(64)));
    request.payment_payload.payload = value.as_object().unwrap().clone();
    assert_eq!(
        reject(&request, SPEC_TIME).reason,
        Reason::InvalidExactEvmSignature
    );
}

#[tokio::test]
async fn a_payment_id_names_network_token_payer_and_nonce() {
    use t402_core::ServerMechanism;
    let mut request = spec_request();
    let payload = ExactEvmPayload::from_object(&request.payment_payload.payload).unwrap();
    let id = t402_evm::payload::payment_id(&request).unwrap();
    let token: alloy_primitives::Address = request.payment_requirements.asset.parse().unwrap();
    assert_eq!(
        id.as_str(),
        format!(
            "exact/{}/{token:#x}/{:#x}/{}",
            request.payment_requirements.network,
            payload.authorization.from,
            payload.authorization.nonce
        )
    );
    assert_eq!(
        t402_evm::ExactEvmServer
            .payment_id(&request.payment_payload, &request.payment_requirements),
        Some(id.clone())
    );

    // The asset's spelling does not change the id; another signature over the same
    // authorization does not either.
    request.payment_requirements.asset = request.payment_requirements.asset.to_lowercase();
    assert_eq!(t402_evm::payload::payment_id(&request), Some(id.clone()));
    let mut resigned = payload.clone();
    resigned.signature = Bytes::from(vec![0u8; 65]);
    request.payment_payload.payload = resigned.to_object();
    assert_eq!(t402_evm::payload::payment_id(&request), Some(id.clone()));

    // Another nonce is another payment; an unreadable payload has no id.
    let client = ExactEvmClient::new(PrivateKeySigner::random());
    let requirements = spec_request().payment_requirements;
    let signed = client.create_payload(2, &requirements, None).await.unwrap();
    let other = VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), signed.payload),
        requirements,
    );
    assert_ne!(t402_evm::payload::payment_id(&other), Some(id));
    request.payment_payload.payload.remove("authorization");
    assert_eq!(t402_evm::payload::payment_id(&request), None);
}
