//! The facilitator against a real anvil node over JSON-RPC: settlement moves tokens, replays and
//! every crafted refusal give their reason, an ERC-1271 wallet pays, and 50 concurrent
//! settlements through 4 signer keys finish without a nonce error.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256, address};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolConstructor;
use common::*;
use t402_core::{PaymentPayload, PaymentRequirements, Reason, VerifyRequest, VerifyResponse};
use t402_evm::anvil::{ANVIL_CHAIN, Anvil, DEV_ACCOUNT};
use t402_evm::chain::EvmChain;
use t402_evm::contracts::{IEip3009Token, IT402TestToken, IT402TestWallet, TestContract};
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners, ManualClock, SystemClock};

const NAME: &str = "USD Coin";
const VERSION: &str = "2";
/// Where the dev account's first deployment lands on a fresh anvil.
const TOKEN: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");

struct Setup {
    anvil: Anvil,
    pay_to: Address,
}

impl Setup {
    async fn start() -> Option<Self> {
        let anvil = Anvil::start().await?;
        anvil.install_multicall3().await;
        assert_eq!(
            anvil.deploy_test_token(NAME, VERSION, "USDC", 6).await,
            TOKEN
        );
        Some(Self {
            anvil,
            pay_to: Address::random(),
        })
    }

    async fn mint(&self, to: Address, amount: u64) {
        self.anvil.mint(TOKEN, to, U256::from(amount)).await;
    }

    async fn balance(&self, who: Address) -> U256 {
        t402_evm::chain::call_typed(
            &self.anvil.chain,
            TOKEN,
            &IEip3009Token::balanceOfCall { account: who },
        )
        .await
        .unwrap()
    }

    async fn facilitator(&self, keys: usize) -> ExactEvmFacilitator {
        let signers: Vec<PrivateKeySigner> =
            (0..keys).map(|_| PrivateKeySigner::random()).collect();
        for signer in &signers {
            self.anvil
                .set_balance(signer.address(), U256::from(10u64).pow(U256::from(19)))
                .await;
        }
        ExactEvmFacilitator::new(
            self.anvil.chain.clone(),
            FacilitatorSigners::new(ANVIL_CHAIN, signers).unwrap(),
        )
        .unwrap()
        .with_receipt_poll_interval(Duration::from_millis(20))
    }

    fn requirements(&self) -> PaymentRequirements {
        requirements(ANVIL_CHAIN, TOKEN, self.pay_to, NAME, VERSION)
    }

    async fn funded_payer(&self) -> PrivateKeySigner {
        let payer = PrivateKeySigner::random();
        self.mint(payer.address(), 1_000_000).await;
        payer
    }
}

fn now() -> u64 {
    use t402_evm::Clock;
    SystemClock.now()
}

fn assert_invalid(response: &VerifyResponse, reason: Reason, case: &str) {
    assert!(
        !response.is_valid,
        "{case}: expected {reason}, got {response:?}"
    );
    assert_eq!(
        response.invalid_reason.as_ref(),
        Some(&reason),
        "{case}: {response:?}"
    );
}

#[tokio::test]
async fn verify_then_settle_moves_the_balance_and_a_replay_is_refused() {
    let Some(setup) = Setup::start().await else {
        return;
    };
    let facilitator = setup.facilitator(1).await;
    let payer = setup.funded_payer().await;
    let request = signed_request(&payer, SystemClock, &setup.requirements()).await;

    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.network, "eip155:31337");
    let hash: B256 = settled.transaction.as_deref().unwrap().parse().unwrap();
    assert!(
        setup
            .anvil
            .chain
            .receipt(hash)
            .await
            .unwrap()
            .unwrap()
            .success
    );
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(PRICE));
    assert_eq!(
        setup.balance(payer.address()).await,
        U256::from(1_000_000 - PRICE)
    );

    let replay = facilitator.settle_payment(&request).await;
    assert!(!replay.success);
    assert_eq!(
        replay.error_reason,
        Some(Reason::InvalidExactEvmNonceAlreadyUsed)
    );
    assert_eq!(
        replay.payer.as_deref(),
        Some(&*payer.address().to_checksum(None))
    );
    let reverify = facilitator.verify_payment(&request).await.unwrap();
    assert_invalid(&reverify, Reason::InvalidExactEvmNonceAlreadyUsed, "replay");
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn each_crafted_refusal_gives_its_reason() {
    let Some(setup) = Setup::start().await else {
        return;
    };
    let facilitator = setup.facilitator(1).await;
    let payer = setup.funded_payer().await;
    let requirements = setup.requirements();

    let expired = signed_request(&payer, ManualClock::new(now() - 1000), &requirements).await;
    let not_yet_valid = signed_request(&payer, ManualClock::new(now() + 1000), &requirements).await;
    let poor = signed_request(&PrivateKeySigner::random(), SystemClock, &requirements).await;
    let wrong_name = signed_request(
        &payer,
        SystemClock,
        &common::requirements(ANVIL_CHAIN, TOKEN, setup.pay_to, "Wrong Coin", VERSION),
    )
    .await;
    let wrong_version = signed_request(
        &payer,
        SystemClock,
        &common::requirements(ANVIL_CHAIN, TOKEN, setup.pay_to, NAME, "1"),
    )
    .await;
    let other_chain = signed_request(
        &payer,
        SystemClock,
        &common::requirements(1, TOKEN, setup.pay_to, NAME, VERSION),
    )
    .await;
    let wrong_chain = VerifyRequest::new(
        PaymentPayload::new(
            requirements.clone().into(),
            other_chain.payment_payload.payload,
        ),
        requirements.clone(),
    );
    let mut wrong_recipient = signed_request(&payer, SystemClock, &requirements).await;
    wrong_recipient.payment_requirements.pay_to = Address::random().to_checksum(None);
    let mut wrong_amount = signed_request(&payer, SystemClock, &requirements).await;
    wrong_amount.payment_requirements.amount = (PRICE + 1).into();
    let mut high_s = signed_request(&payer, SystemClock, &requirements).await;
    use_high_s(&mut high_s);

    for (case, request, reason) in [
        (
            "expired",
            expired,
            Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
        ),
        (
            "not yet valid",
            not_yet_valid,
            Reason::InvalidExactEvmPayloadAuthorizationValidAfter,
        ),
        (
            "insufficient balance",
            poor,
            Reason::InvalidExactEvmInsufficientBalance,
        ),
        (
            "wrong EIP-712 name",
            wrong_name,
            Reason::InvalidExactEvmTokenNameMismatch,
        ),
        (
            "wrong EIP-712 version",
            wrong_version,
            Reason::InvalidExactEvmTokenVersionMismatch,
        ),
        (
            "wrong chain id",
            wrong_chain,
            Reason::InvalidExactEvmSignature,
        ),
        (
            "wrong recipient",
            wrong_recipient,
            Reason::InvalidExactEvmRecipientMismatch,
        ),
        (
            "wrong amount",
            wrong_amount,
            Reason::InvalidExactEvmPayloadAuthorizationValueMismatch,
        ),
        ("high-s signature", high_s, Reason::InvalidExactEvmSignature),
    ] {
        let verified = facilitator.verify_payment(&request).await.unwrap();
        assert_invalid(&verified, reason.clone(), case);
        let settled = facilitator.settle_payment(&request).await;
        assert!(!settled.success, "{case}: {settled:?}");
        assert_eq!(settled.network, "eip155:31337", "{case}");
        assert!(settled.payer.is_some(), "{case}: payer missing");
    }
    assert_eq!(setup.balance(setup.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn an_erc1271_wallet_pays() {
    let Some(setup) = Setup::start().await else {
        return;
    };
    let facilitator = setup.facilitator(1).await;
    let owner = PrivateKeySigner::random();
    let mut code = TestContract::Wallet.creation_code().to_vec();
    code.extend(
        IT402TestWallet::constructorCall {
            owner: owner.address(),
        }
        .abi_encode(),
    );
    let wallet = setup.anvil.deploy(code.into()).await;
    setup.mint(wallet, 1_000_000).await;

    let requirements = setup.requirements();
    let auth = authorization(wallet, &requirements, now());
    let signature = wallet_signature(&owner, &digest(&auth, &requirements));
    assert_eq!(signature.len(), 66);
    let request = request_with(&requirements, auth, signature);
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(PRICE));
    assert_eq!(setup.balance(wallet).await, U256::from(1_000_000 - PRICE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_settlements_through_four_keys() {
    let Some(setup) = Setup::start().await else {
        return;
    };
    let facilitator = std::sync::Arc::new(setup.facilitator(4).await);
    let mut requests = Vec::new();
    for _ in 0..50 {
        let payer = PrivateKeySigner::random();
        setup.mint(payer.address(), PRICE).await;
        requests.push(signed_request(&payer, SystemClock, &setup.requirements()).await);
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let facilitator = facilitator.clone();
            tokio::spawn(async move { facilitator.settle_payment(&request).await })
        })
        .collect();
    let mut senders = HashSet::new();
    for task in tasks {
        let settled = task.await.unwrap();
        assert!(settled.success, "{settled:?}");
        let hash: B256 = settled.transaction.as_deref().unwrap().parse().unwrap();
        let receipt = setup.anvil.chain.receipt(hash).await.unwrap().unwrap();
        senders.insert(receipt.from);
    }
    assert_eq!(senders.len(), 4, "every key sent");
    assert_eq!(setup.balance(setup.pay_to).await, U256::from(50 * PRICE));
}

#[tokio::test]
async fn the_rpc_backend_reads_reverts_code_and_nonces() {
    let Some(setup) = Setup::start().await else {
        return;
    };
    let chain = &setup.anvil.chain;
    assert_eq!(chain.chain_id(), ANVIL_CHAIN);
    assert!(!chain.code(TOKEN).await.unwrap().is_empty());
    assert!(chain.code(Address::random()).await.unwrap().is_empty());
    assert_eq!(chain.nonce(DEV_ACCOUNT).await.unwrap(), 1);
    // A revert keeps its decoded reason.
    let mint = IT402TestToken::mintCall {
        to: Address::random(),
        value: U256::from(1),
    };
    let err = chain
        .call(t402_evm::chain::CallRequest::typed(TOKEN, &mint).from(Address::random()))
        .await
        .unwrap_err();
    assert_eq!(
        err.revert_message(),
        Some("T402TestToken: caller is not the minter")
    );
    let fees = chain.fees().await.unwrap();
    assert!(fees.max_fee_per_gas >= fees.max_priority_fee_per_gas);
    // A node serving another chain is refused.
    let wrong = t402_evm::chain::RpcChain::connect(&setup.anvil.url, Some(1)).await;
    assert!(matches!(
        wrong,
        Err(t402_evm::chain::ChainError::WrongChain {
            expected: 1,
            actual: 31337
        })
    ));
}
