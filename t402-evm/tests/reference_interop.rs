//! Interop with the reference implementation (`@x402/evm` 2.27 with viem, pinned in
//! package-lock.json), both ways, on one anvil: a payment signed by the reference client verifies
//! and settles with t402-evm, and a payment signed by t402-evm passes the reference facilitator's
//! verify and settle.

mod common;

use std::time::Duration;

use alloy_primitives::{Address, U256, address};
use alloy_signer_local::PrivateKeySigner;
use common::*;
use serde_json::{Value, json};
use t402_core::{PaymentPayload, VerifyRequest};
use t402_evm::anvil::{ANVIL_CHAIN, Anvil};
use t402_evm::chain::call_typed;
use t402_evm::contracts::IEip3009Token;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners, SystemClock};

fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const TOKEN: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");

/// Runs `scripts/x402-reference.mjs` with `input`.
async fn reference(input: Value) -> Value {
    let output = t402_testkit::reference_script(input).await;
    assert!(
        output.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("reference answers JSON")
}

fn reference_installed() -> bool {
    if workspace_root().join("node_modules/@x402/evm").exists() {
        return true;
    }
    if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
        eprintln!("skipped: @x402/evm is not installed (T402_SKIP_EXTERNAL is set)");
        return false;
    }
    panic!("@x402/evm is not installed: run `npm ci` at the repository root (scripts/test does)");
}

async fn chain_with_token() -> Option<Anvil> {
    if !reference_installed() {
        return None;
    }
    let anvil = Anvil::start().await?;
    anvil.install_multicall3().await;
    assert_eq!(
        anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await,
        TOKEN
    );
    Some(anvil)
}

async fn mint(anvil: &Anvil, to: Address) {
    anvil.mint(TOKEN, to, U256::from(1_000_000u64)).await;
}

async fn balance(anvil: &Anvil, who: Address) -> U256 {
    call_typed(
        &anvil.chain,
        TOKEN,
        &IEip3009Token::balanceOfCall { account: who },
    )
    .await
    .unwrap()
}

fn key_hex(signer: &PrivateKeySigner) -> String {
    format!("0x{}", alloy_primitives::hex::encode(signer.to_bytes()))
}

#[tokio::test]
async fn a_payment_signed_by_the_reference_client_settles_with_t402() {
    let Some(anvil) = chain_with_token().await else {
        return;
    };
    let payer = PrivateKeySigner::random();
    mint(&anvil, payer.address()).await;
    let pay_to = Address::random();
    let requirements = requirements(ANVIL_CHAIN, TOKEN, pay_to, "USD Coin", "2");

    let signed = reference(json!({
        "command": "sign",
        "privateKey": key_hex(&payer),
        "requirements": requirements,
    }))
    .await;
    let payment: PaymentPayload = serde_json::from_value(signed).unwrap();
    let request = VerifyRequest::new(payment, requirements);

    let facilitator_key = PrivateKeySigner::random();
    anvil
        .set_balance(
            facilitator_key.address(),
            U256::from(10u64).pow(U256::from(19)),
        )
        .await;
    let facilitator = ExactEvmFacilitator::new(
        anvil.chain.clone(),
        FacilitatorSigners::new(ANVIL_CHAIN, [facilitator_key]).unwrap(),
    )
    .unwrap()
    .with_receipt_poll_interval(Duration::from_millis(20));
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    assert_eq!(verified.payer, Some(payer.address().to_checksum(None)));
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(balance(&anvil, pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_payment_signed_by_t402_settles_with_the_reference_facilitator() {
    let Some(anvil) = chain_with_token().await else {
        return;
    };
    let payer = PrivateKeySigner::random();
    mint(&anvil, payer.address()).await;
    let pay_to = Address::random();
    let requirements = requirements(ANVIL_CHAIN, TOKEN, pay_to, "USD Coin", "2");
    let request = signed_request(&payer, SystemClock, &requirements).await;

    let facilitator_key = PrivateKeySigner::random();
    anvil
        .set_balance(
            facilitator_key.address(),
            U256::from(10u64).pow(U256::from(19)),
        )
        .await;
    let answer = reference(json!({
        "command": "facilitate",
        "rpcUrl": anvil.url,
        "privateKey": key_hex(&facilitator_key),
        "payment": request.payment_payload,
        "requirements": requirements,
    }))
    .await;
    assert_eq!(answer["verify"]["isValid"], true, "{answer}");
    assert_eq!(
        answer["verify"]["payer"].as_str().map(str::to_lowercase),
        Some(payer.address().to_string().to_lowercase())
    );
    assert_eq!(answer["settle"]["success"], true, "{answer}");
    assert_eq!(answer["settle"]["network"], "eip155:31337");
    assert_eq!(balance(&anvil, pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn both_facilitators_refuse_crafted_payments_with_the_same_reason() {
    let Some(anvil) = chain_with_token().await else {
        return;
    };
    let payer = PrivateKeySigner::random();
    mint(&anvil, payer.address()).await;
    let pay_to = Address::random();
    let requirements = requirements(ANVIL_CHAIN, TOKEN, pay_to, "USD Coin", "2");
    let facilitator_key = PrivateKeySigner::random();
    anvil
        .set_balance(
            facilitator_key.address(),
            U256::from(10u64).pow(U256::from(19)),
        )
        .await;
    let ours = ExactEvmFacilitator::new(
        anvil.chain.clone(),
        FacilitatorSigners::new(ANVIL_CHAIN, [PrivateKeySigner::random()]).unwrap(),
    )
    .unwrap();

    let now = {
        use t402_evm::Clock;
        SystemClock.now()
    };
    let mut wrong_recipient = signed_request(&payer, SystemClock, &requirements).await;
    wrong_recipient.payment_requirements.pay_to = Address::random().to_checksum(None);
    let mut wrong_amount = signed_request(&payer, SystemClock, &requirements).await;
    wrong_amount.payment_requirements.amount = (PRICE * 2).into();
    let expired = signed_request(
        &payer,
        t402_evm::ManualClock::new(now - 1000),
        &requirements,
    )
    .await;
    let wrong_name = signed_request(
        &payer,
        SystemClock,
        &common::requirements(ANVIL_CHAIN, TOKEN, pay_to, "Wrong Coin", "2"),
    )
    .await;
    let poor = signed_request(&PrivateKeySigner::random(), SystemClock, &requirements).await;

    for (case, request) in [
        ("wrong recipient", wrong_recipient),
        ("wrong amount", wrong_amount),
        ("expired", expired),
        ("wrong name", wrong_name),
        ("insufficient balance", poor),
    ] {
        let answer = reference(json!({
            "command": "facilitate",
            "rpcUrl": anvil.url,
            "privateKey": key_hex(&facilitator_key),
            "payment": request.payment_payload,
            "requirements": request.payment_requirements,
        }))
        .await;
        let theirs = answer["verify"]["invalidReason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mine = ours.verify_payment(&request).await.unwrap();
        assert!(!mine.is_valid, "{case}");
        assert_eq!(
            mine.invalid_reason.unwrap().as_str(),
            theirs,
            "{case}: {answer}"
        );
        assert_eq!(answer["settle"]["success"], false, "{case}");
    }
    assert_eq!(balance(&anvil, pay_to).await, U256::ZERO);
}
