//! The facilitator against the in-process devnet running the real test contracts: every reason
//! string of verification (§5.3) and settlement (§5.4) provoked by a crafted case, contract
//! wallets (ERC-1271, ERC-6492), and the settlement safety properties (no second send, no lost
//! result, nonce recovery).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor};
use common::*;
use serde_json::json;
use t402_core::{
    Claim, MemorySettlementStore, PaymentRequirements, Reason, SendJournal, SettleResponse,
    SettlementRecord, SettlementStore, VerifyRequest, VerifyResponse,
};
use t402_evm::chain::{EvmChain, call_typed};
use t402_evm::contracts::{IT402TestWallet, IT402TestWalletFactory, MULTICALL3, TestContract};
use t402_evm::devnet::Devnet;
use t402_evm::facilitator::SignerSetupError;
use t402_evm::signature::{Erc6492Deployment, wrap_erc6492};
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners, ManualClock};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_750_000_000;
const NAME: &str = "USD Coin";
const VERSION: &str = "2";

struct World {
    clock: ManualClock,
    devnet: Arc<Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
}

impl World {
    fn new() -> Self {
        let clock = ManualClock::new(NOW);
        let devnet = Arc::new(Devnet::with_clock(CHAIN, clock.clone()));
        let token = devnet.deploy_test_token(NAME, VERSION, "USDC", 6).unwrap();
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(1_000_000u64))
            .unwrap();
        Self {
            clock,
            devnet,
            token,
            payer,
            pay_to: Address::random(),
        }
    }

    fn facilitator_on<C: EvmChain + 'static>(&self, chain: C, keys: usize) -> ExactEvmFacilitator {
        let signers: Vec<PrivateKeySigner> =
            (0..keys).map(|_| PrivateKeySigner::random()).collect();
        for signer in &signers {
            self.devnet
                .fund(signer.address(), U256::from(10u64).pow(U256::from(19)));
        }
        ExactEvmFacilitator::new(chain, FacilitatorSigners::new(CHAIN, signers).unwrap())
            .unwrap()
            .with_clock(self.clock.clone())
            .with_receipt_poll_interval(Duration::from_millis(5))
    }

    fn facilitator(&self) -> ExactEvmFacilitator {
        self.facilitator_on(self.devnet.clone(), 2)
    }

    fn requirements(&self) -> PaymentRequirements {
        requirements(CHAIN, self.token, self.pay_to, NAME, VERSION)
    }

    async fn payment(&self) -> VerifyRequest {
        signed_request(&self.payer, self.clock.clone(), &self.requirements()).await
    }

    async fn balance(&self, who: Address) -> U256 {
        self.devnet.token_balance(self.token, who).await.unwrap()
    }
}

async fn verify(facilitator: &ExactEvmFacilitator, request: &VerifyRequest) -> VerifyResponse {
    facilitator.verify_payment(request).await.unwrap()
}

fn assert_invalid(response: &VerifyResponse, reason: Reason) {
    assert!(!response.is_valid, "expected {reason}, got {response:?}");
    assert_eq!(
        response.invalid_reason.as_ref(),
        Some(&reason),
        "{response:?}"
    );
}

fn assert_failed(response: &SettleResponse, reason: Reason) {
    assert!(!response.success, "expected {reason}, got {response:?}");
    assert_eq!(
        response.error_reason.as_ref(),
        Some(&reason),
        "{response:?}"
    );
    assert_eq!(response.network, format!("eip155:{CHAIN}"));
}

#[tokio::test]
async fn verify_then_settle_moves_the_tokens() {
    let world = World::new();
    let facilitator = world.facilitator();
    let request = world.payment().await;

    let verified = verify(&facilitator, &request).await;
    assert!(verified.is_valid, "{verified:?}");
    assert_eq!(
        verified.payer.as_deref(),
        Some(&*world.payer.address().to_checksum(None))
    );

    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.network, "eip155:31337");
    assert_eq!(
        settled.payer.as_deref(),
        Some(&*world.payer.address().to_checksum(None))
    );
    let hash: B256 = settled.transaction.as_deref().unwrap().parse().unwrap();
    let receipt = world.devnet.receipt(hash).await.unwrap().expect("mined");
    assert!(receipt.success);
    assert!(facilitator.signers().addresses().contains(&receipt.from));
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    assert_eq!(
        world.balance(world.payer.address()).await,
        U256::from(1_000_000 - PRICE)
    );
}

#[tokio::test]
async fn a_settled_payment_is_never_settled_again() {
    let world = World::new();
    let facilitator = world.facilitator();
    let request = world.payment().await;
    assert!(facilitator.settle_payment(&request).await.success);

    let again = facilitator.settle_payment(&request).await;
    assert_failed(&again, Reason::InvalidExactEvmNonceAlreadyUsed);
    assert_eq!(again.transaction.as_deref(), Some(""));
    assert_eq!(
        again.payer.as_deref(),
        Some(&*world.payer.address().to_checksum(None))
    );
    assert_invalid(
        &verify(&facilitator, &request).await,
        Reason::InvalidExactEvmNonceAlreadyUsed,
    );
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn concurrent_settlements_of_one_payment_pay_once() {
    let world = World::new();
    let facilitator = Arc::new(world.facilitator());
    let request = Arc::new(world.payment().await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (facilitator, request) = (facilitator.clone(), request.clone());
            tokio::spawn(async move { facilitator.settle_payment(&request).await })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.success {
            successes += 1;
        } else {
            assert_failed(&response, Reason::InvalidExactEvmNonceAlreadyUsed);
        }
    }
    assert_eq!(successes, 1);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

// ---- §5.3, in order -------------------------------------------------------------------------

#[tokio::test]
async fn scheme_other_than_exact() {
    let world = World::new();
    let mut request = world.payment().await;
    request.payment_requirements.scheme = "upto".into();
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmScheme,
    );
}

#[tokio::test]
async fn missing_eip712_domain() {
    let world = World::new();
    let mut request = world.payment().await;
    request.payment_requirements.extra = Some(json!({"name": NAME}));
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmMissingEip712Domain,
    );
}

#[tokio::test]
async fn network_mismatch() {
    let world = World::new();
    let mut request = world.payment().await;
    request.payment_requirements.network = "eip155:8453".parse().unwrap();
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmNetworkMismatch,
    );
}

#[tokio::test]
async fn signature_for_another_chain_id() {
    let world = World::new();
    // Signed for chain 1, presented for the devnet's chain.
    let elsewhere = requirements(1, world.token, world.pay_to, NAME, VERSION);
    let signed = signed_request(&world.payer, world.clock.clone(), &elsewhere).await;
    let request = VerifyRequest::new(
        t402_core::PaymentPayload::new(world.requirements().into(), signed.payment_payload.payload),
        world.requirements(),
    );
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmSignature,
    );
}

#[tokio::test]
async fn high_s_signature_is_refused() {
    let world = World::new();
    let mut request = world.payment().await;
    use_high_s(&mut request);
    let response = verify(&world.facilitator(), &request).await;
    assert_invalid(&response, Reason::InvalidExactEvmSignature);
    assert!(response.invalid_message.unwrap().contains("high-s"));
}

#[tokio::test]
async fn undeployed_smart_wallet_without_deployment_data() {
    let world = World::new();
    let requirements = world.requirements();
    let owner = PrivateKeySigner::random();
    let auth = authorization(Address::random(), &requirements, NOW);
    let signature = wallet_signature(&owner, &digest(&auth, &requirements));
    let request = request_with(&requirements, auth, signature);
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
    );
}

#[tokio::test]
async fn recipient_mismatch() {
    let world = World::new();
    let mut request = world.payment().await;
    request.payment_requirements.pay_to = Address::random().to_checksum(None);
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmRecipientMismatch,
    );
}

#[tokio::test]
async fn expired_authorization() {
    let world = World::new();
    let request = world.payment().await;
    world.clock.advance(55); // validBefore is now + 60; 6 s of slack are required
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
    );
}

#[tokio::test]
async fn not_yet_valid_authorization() {
    let world = World::new();
    // The payer's clock runs 1000 s ahead: validAfter = now + 400.
    let ahead = ManualClock::new(NOW + 1000);
    let request = signed_request(&world.payer, ahead, &world.requirements()).await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmPayloadAuthorizationValidAfter,
    );
}

#[tokio::test]
async fn amount_differs_from_requirements() {
    let world = World::new();
    let mut request = world.payment().await;
    request.payment_requirements.amount = 20_000u64.into();
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmPayloadAuthorizationValueMismatch,
    );
}

#[tokio::test]
async fn token_without_eip3009() {
    let world = World::new();
    // Multicall3 has code but no EIP-3009 functions.
    let requirements = requirements(CHAIN, MULTICALL3, world.pay_to, NAME, VERSION);
    let request = signed_request(&world.payer, world.clock.clone(), &requirements).await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmEip3009NotSupported,
    );
}

#[tokio::test]
async fn wrong_eip712_name() {
    let world = World::new();
    let requirements = requirements(CHAIN, world.token, world.pay_to, "Wrong Coin", VERSION);
    let request = signed_request(&world.payer, world.clock.clone(), &requirements).await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmTokenNameMismatch,
    );
}

#[tokio::test]
async fn wrong_eip712_version() {
    let world = World::new();
    let requirements = requirements(CHAIN, world.token, world.pay_to, NAME, "1");
    let request = signed_request(&world.payer, world.clock.clone(), &requirements).await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmTokenVersionMismatch,
    );
}

#[tokio::test]
async fn insufficient_balance() {
    let world = World::new();
    let poor = PrivateKeySigner::random();
    let request = signed_request(&poor, world.clock.clone(), &world.requirements()).await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmInsufficientBalance,
    );
}

#[tokio::test]
async fn simulation_failure_with_no_specific_cause() {
    let world = World::new();
    let (wallet, _owner) = deploy_wallet(&world);
    let requirements = world.requirements();
    let auth = authorization(wallet, &requirements, NOW);
    // Signed by someone who does not own the wallet: ERC-1271 refuses, every diagnostic passes.
    let stranger = PrivateKeySigner::random();
    let signature = wallet_signature(&stranger, &digest(&auth, &requirements));
    let request = request_with(&requirements, auth, signature);
    let response = verify(&world.facilitator(), &request).await;
    assert_invalid(
        &response,
        Reason::InvalidExactEvmTransactionSimulationFailed,
    );
    assert!(response.invalid_message.unwrap().contains("ERC-1271"));
    // Settlement (no simulation) refuses it on the ERC-1271 answer alone.
    let settled = world.facilitator().settle_payment(&request).await;
    assert_failed(&settled, Reason::InvalidExactEvmSignature);
}

// ---- contract wallets -----------------------------------------------------------------------

fn deploy_wallet(world: &World) -> (Address, PrivateKeySigner) {
    let owner = PrivateKeySigner::random();
    let mut code = TestContract::Wallet.creation_code().to_vec();
    code.extend(
        IT402TestWallet::constructorCall {
            owner: owner.address(),
        }
        .abi_encode(),
    );
    let wallet = world.devnet.deploy(code).unwrap();
    world
        .devnet
        .mint(world.token, wallet, U256::from(1_000_000u64))
        .unwrap();
    (wallet, owner)
}

#[tokio::test]
async fn an_erc1271_wallet_pays() {
    let world = World::new();
    let (wallet, owner) = deploy_wallet(&world);
    let requirements = world.requirements();
    let auth = authorization(wallet, &requirements, NOW);
    let signature = wallet_signature(&owner, &digest(&auth, &requirements));
    let request = request_with(&requirements, auth, signature);
    let facilitator = world.facilitator();
    let verified = verify(&facilitator, &request).await;
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

/// A payment from a wallet of `owner` not yet deployed (funded at its CREATE2 address), with an
/// ERC-6492 signature made by `signer`. Returns the request, the wallet's address and the
/// factory's.
async fn counterfactual_payment(
    world: &World,
    owner: &PrivateKeySigner,
    signer: &PrivateKeySigner,
) -> (VerifyRequest, Address, Address) {
    let factory = world
        .devnet
        .deploy(TestContract::WalletFactory.creation_code())
        .unwrap();
    let salt = B256::repeat_byte(0x42);
    let wallet = call_typed(
        world.devnet.as_ref(),
        factory,
        &IT402TestWalletFactory::addressOfCall {
            owner: owner.address(),
            salt,
        },
    )
    .await
    .unwrap();
    world
        .devnet
        .mint(world.token, wallet, U256::from(1_000_000u64))
        .unwrap();
    let requirements = world.requirements();
    let auth = authorization(wallet, &requirements, NOW);
    let inner = wallet_signature(signer, &digest(&auth, &requirements));
    let deployment = Erc6492Deployment::new(
        factory,
        IT402TestWalletFactory::deployCall {
            owner: owner.address(),
            salt,
        }
        .abi_encode(),
    );
    let request = request_with(&requirements, auth, wrap_erc6492(&deployment, &inner));
    (request, wallet, factory)
}

#[tokio::test]
async fn an_undeployed_erc6492_wallet_verifies_by_simulation_and_pays_once_deployed() {
    let world = World::new();
    let owner = PrivateKeySigner::random();
    let (request, wallet, factory) = counterfactual_payment(&world, &owner, &owner).await;

    let facilitator = world.facilitator();
    let verified = verify(&facilitator, &request).await;
    assert!(verified.is_valid, "{verified:?}");

    // Without deployment enabled, settlement refuses: the transfer alone would revert.
    let refused = facilitator.settle_payment(&request).await;
    assert_failed(
        &refused,
        Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
    );
    assert!(world.devnet.code(wallet).await.unwrap().is_empty());

    let deploying = world.facilitator().with_erc6492_factories([factory]);
    let settled = deploying.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert!(!world.devnet.code(wallet).await.unwrap().is_empty());
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn an_erc6492_signature_the_wallet_refuses_fails_simulation() {
    let world = World::new();
    let (request, _, _) = counterfactual_payment(
        &world,
        &PrivateKeySigner::random(),
        &PrivateKeySigner::random(),
    )
    .await;
    assert_invalid(
        &verify(&world.facilitator(), &request).await,
        Reason::InvalidExactEvmTransactionSimulationFailed,
    );
}

alloy_sol_types::sol! {
    interface IErc20Transfer {
        function transfer(address to, uint256 value) external returns (bool);
    }
}

/// An EOA payment whose plain signature is dressed as ERC-6492 with a "factory" call that moves
/// the caller's tokens to `attacker`: sent from the facilitator's key, it would pay the attacker
/// from the facilitator's balance.
fn factory_call_attack(world: &World, attacker: Address) -> VerifyRequest {
    let requirements = world.requirements();
    let auth = authorization(world.payer.address(), &requirements, NOW);
    let inner: Bytes = world
        .payer
        .sign_hash_sync(&digest(&auth, &requirements))
        .unwrap()
        .as_bytes()
        .to_vec()
        .into();
    let drain = IErc20Transfer::transferCall {
        to: attacker,
        value: U256::from(500_000u64),
    };
    let deployment = Erc6492Deployment::new(world.token, drain.abi_encode());
    request_with(&requirements, auth, wrap_erc6492(&deployment, &inner))
}

#[tokio::test]
async fn an_erc6492_factory_call_cannot_spend_the_facilitators_funds() {
    let world = World::new();
    let owner = PrivateKeySigner::random();
    // A real factory is allowed; even the token itself, as a misconfiguration.
    let (_, _, factory) = counterfactual_payment(&world, &owner, &owner).await;
    for allowed in [vec![factory], vec![factory, world.token]] {
        let attacker = Address::random();
        let facilitator = world.facilitator().with_erc6492_factories(allowed.clone());
        for key in facilitator.signers().addresses() {
            world
                .devnet
                .mint(world.token, key, U256::from(1_000_000u64))
                .unwrap();
        }
        let request = factory_call_attack(&world, attacker);
        let verified = verify(&facilitator, &request).await;
        assert!(!verified.is_valid, "{verified:?}");
        let settled = facilitator.settle_payment(&request).await;
        assert!(!settled.success, "{settled:?}");
        assert_eq!(world.balance(attacker).await, U256::ZERO, "{allowed:?}");
        for key in facilitator.signers().addresses() {
            assert_eq!(world.balance(key).await, U256::from(1_000_000u64));
        }
    }
}

#[tokio::test]
async fn an_erc6492_deployment_above_the_gas_cap_is_not_sent() {
    let world = World::new();
    let owner = PrivateKeySigner::random();
    let (request, wallet, factory) = counterfactual_payment(&world, &owner, &owner).await;
    let capped = world
        .facilitator()
        .with_erc6492_factories([factory])
        .with_erc6492_gas_cap(21_000);
    let settled = capped.settle_payment(&request).await;
    assert_failed(&settled, Reason::SmartWalletDeploymentFailed);
    assert_eq!(settled.transaction.as_deref(), Some(""), "nothing was sent");
    assert!(settled.error_message.unwrap().contains("gas"));
    assert!(world.devnet.code(wallet).await.unwrap().is_empty());
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
}

// ---- §5.4 ------------------------------------------------------------------------------------

#[tokio::test]
async fn settlement_reverifies_and_answers_in_full() {
    let world = World::new();
    let request = world.payment().await;
    world.clock.advance(120);
    let response = world.facilitator().settle_payment(&request).await;
    assert_failed(
        &response,
        Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
    );
    assert_eq!(
        response.payer.as_deref(),
        Some(&*world.payer.address().to_checksum(None))
    );
    assert_eq!(response.transaction.as_deref(), Some(""));
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["success"], false);
    assert_eq!(json["network"], "eip155:31337");
}

#[tokio::test]
async fn a_revert_in_the_gas_estimate_maps_to_its_reason_and_sends_nothing() {
    let world = World::new();
    let poor = PrivateKeySigner::random();
    let request = signed_request(&poor, world.clock.clone(), &world.requirements()).await;
    let facilitator = world.facilitator();
    let before = world.devnet.block_number();
    let response = facilitator.settle_payment(&request).await;
    assert_failed(&response, Reason::InvalidExactEvmInsufficientBalance);
    assert_eq!(response.transaction.as_deref(), Some(""));
    assert_eq!(world.devnet.block_number(), before, "nothing was mined");
}

#[tokio::test]
async fn a_transaction_reverted_on_chain_is_reported_with_its_hash() {
    let world = World::new();
    let poor = PrivateKeySigner::random();
    let request = signed_request(&poor, world.clock.clone(), &world.requirements()).await;
    let mut chain = Faulty::new(world.devnet.clone());
    chain.fixed_gas = Some(200_000);
    let facilitator = world.facilitator_on(chain, 1);
    let response = facilitator.settle_payment(&request).await;
    assert_failed(&response, Reason::InvalidExactEvmTransactionFailed);
    let hash: B256 = response.transaction.as_deref().unwrap().parse().unwrap();
    let receipt = world.devnet.receipt(hash).await.unwrap().expect("mined");
    assert!(!receipt.success);
}

#[tokio::test]
async fn a_receipt_that_does_not_come_is_never_paid_twice_and_never_lost() {
    let world = World::new();
    let chain = Arc::new(Faulty::new(world.devnet.clone()));
    chain.hide_receipts.store(true, Ordering::SeqCst);
    let facilitator = world
        .facilitator_on(chain.clone(), 1)
        .with_receipt_timeout(Duration::from_millis(50));
    let request = world.payment().await;

    let first = facilitator.settle_payment(&request).await;
    assert_failed(&first, Reason::InvalidExactEvmFailedToGetReceipt);
    let hash = first.transaction.clone().unwrap();
    assert!(!hash.is_empty());

    assert_eq!(facilitator.pending_settlements(), 1);

    let second = facilitator.settle_payment(&request).await;
    assert_failed(&second, Reason::DuplicateSettlement);
    assert_eq!(second.transaction.as_deref(), Some(&*hash));

    chain.hide_receipts.store(false, Ordering::SeqCst);
    let third = facilitator.settle_payment(&request).await;
    assert!(third.success, "{third:?}");
    assert_eq!(third.transaction.as_deref(), Some(&*hash));
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    assert_eq!(facilitator.pending_settlements(), 0);
}

#[tokio::test]
async fn a_pending_record_ends_when_its_authorization_expires() {
    let world = World::new();
    let chain = Arc::new(Faulty::new(world.devnet.clone()));
    chain.hide_receipts.store(true, Ordering::SeqCst);
    let facilitator = world
        .facilitator_on(chain, 1)
        .with_receipt_timeout(Duration::from_millis(30));
    let first = facilitator.settle_payment(&world.payment().await).await;
    assert_failed(&first, Reason::InvalidExactEvmFailedToGetReceipt);
    assert_eq!(facilitator.pending_settlements(), 1);
    world.clock.advance(59);
    assert_eq!(facilitator.pending_settlements(), 1, "still able to pay");
    world.clock.advance(2);
    assert_eq!(
        facilitator.pending_settlements(),
        0,
        "expired: it can no longer pay"
    );
}

#[tokio::test]
async fn a_send_the_node_refused_is_reported_and_the_next_settlement_succeeds() {
    let world = World::new();
    let chain = Arc::new(Faulty::new(world.devnet.clone()));
    let facilitator = world.facilitator_on(chain.clone(), 1);
    assert!(
        facilitator
            .settle_payment(&world.payment().await)
            .await
            .success
    );

    chain.reject_sends.store(1, Ordering::SeqCst);
    let request = world.payment().await;
    let failed = facilitator.settle_payment(&request).await;
    assert_failed(&failed, Reason::InvalidExactEvmFailedToExecuteTransfer);
    assert_eq!(failed.transaction.as_deref(), Some(""));

    let retried = facilitator.settle_payment(&request).await;
    assert!(retried.success, "{retried:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(2 * PRICE));
}

#[tokio::test]
async fn a_broadcast_without_an_answer_is_sent_again_byte_for_byte_and_pays_once() {
    let world = World::new();
    let chain = Arc::new(Faulty::new(world.devnet.clone()));
    let facilitator = world.facilitator_on(chain.clone(), 1);
    chain.refuse_sends.store(1, Ordering::SeqCst);
    let before = world.devnet.block_number();
    let settled = facilitator.settle_payment(&world.payment().await).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.devnet.block_number(), before + 1, "one transaction");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_broadcast_that_never_got_an_answer_is_reported_with_its_hash_until_it_cannot_pay() {
    let world = World::new();
    let chain = Arc::new(Faulty::new(world.devnet.clone()));
    let facilitator = world
        .facilitator_on(chain.clone(), 1)
        .with_receipt_timeout(Duration::from_millis(50));
    chain.refuse_sends.store(2, Ordering::SeqCst);
    let request = world.payment().await;
    let unanswered = facilitator.settle_payment(&request).await;
    // It may have reached the node: reported with its hash, never as "not sent".
    assert_failed(&unanswered, Reason::InvalidExactEvmFailedToGetReceipt);
    let hash = unanswered.transaction.clone().unwrap();
    assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
    let retried = facilitator.settle_payment(&request).await;
    assert_failed(&retried, Reason::DuplicateSettlement);
    assert_eq!(retried.transaction.as_deref(), Some(&*hash));
    // Followed: pending while the authorization can still pay, final once it cannot.
    assert_eq!(
        facilitator
            .follow_transaction(&request, &hash)
            .await
            .unwrap(),
        None
    );
    world.clock.advance(120);
    let ended = facilitator
        .follow_transaction(&request, &hash)
        .await
        .unwrap()
        .expect("final once the authorization expired unused");
    assert_failed(
        &ended,
        Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
    );
    assert_eq!(ended.transaction.as_deref(), Some(&*hash));
    assert_eq!(world.balance(world.pay_to).await, U256::ZERO);
}

#[tokio::test]
async fn the_transfer_is_recorded_before_it_is_broadcast() {
    let world = World::new();
    let request = world.payment().await;
    let id = t402_evm::payload::payment_id(&request).unwrap();
    let store = MemorySettlementStore::new();
    assert_eq!(store.claim(&id, u64::MAX).await.unwrap(), Claim::Claimed);
    let mut chain = Faulty::new(world.devnet.clone());
    chain.watched = Some((store.clone(), id.clone()));
    let chain = Arc::new(chain);
    let facilitator = world.facilitator_on(chain.clone(), 1);
    let settled = facilitator
        .settle_payment_journaled(&request, SendJournal::new(&store, &id))
        .await;
    assert!(settled.success, "{settled:?}");
    let seen = chain.seen_at_send.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one broadcast");
    let (broadcast, record) = &seen[0];
    let recorded = broadcast.to_string();
    assert_eq!(
        record,
        &Some(SettlementRecord::Sent {
            transaction: recorded.clone()
        }),
        "the hash was recorded before the bytes left"
    );
    assert_eq!(settled.transaction.as_deref(), Some(&*recorded));
}

#[tokio::test]
async fn a_transfer_that_cannot_be_recorded_is_not_broadcast() {
    let world = World::new();
    let request = world.payment().await;
    let id = t402_evm::payload::payment_id(&request).unwrap();
    let facilitator = world.facilitator();
    let before = world.devnet.block_number();
    let refused = facilitator
        .settle_payment_journaled(
            &request,
            SendJournal::new(&t402_testkit::UnreachableStore::default(), &id),
        )
        .await;
    assert_failed(&refused, Reason::T402SettlementStoreUnavailable);
    assert_eq!(refused.transaction.as_deref(), Some(""), "nothing was sent");
    assert_eq!(world.devnet.block_number(), before);
    // The key's nonce was not spent: the next settlement goes through.
    assert!(facilitator.settle_payment(&request).await.success);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
}

#[tokio::test]
async fn a_settled_transaction_is_followed_to_its_receipt() {
    let world = World::new();
    let facilitator = world.facilitator();
    let request = world.payment().await;
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    let hash = settled.transaction.clone().unwrap();
    let followed = facilitator
        .follow_transaction(&request, &hash)
        .await
        .unwrap();
    assert_eq!(followed, Some(settled));
}

#[tokio::test]
async fn a_signer_key_used_elsewhere_recovers_its_nonce() {
    let world = World::new();
    let facilitator = world.facilitator_on(world.devnet.clone(), 1);
    assert!(
        facilitator
            .settle_payment(&world.payment().await)
            .await
            .success
    );
    // The same key sends a transaction behind the facilitator's back.
    let key = facilitator.signers().primary();
    world
        .devnet
        .execute_as(key, Some(Address::random()), Bytes::new())
        .unwrap();
    let settled = facilitator.settle_payment(&world.payment().await).await;
    assert!(settled.success, "{settled:?}");
}

#[tokio::test]
async fn many_payers_settle_concurrently_through_several_keys() {
    let world = World::new();
    let facilitator = Arc::new(world.facilitator_on(world.devnet.clone(), 4));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let payer = PrivateKeySigner::random();
        world
            .devnet
            .mint(world.token, payer.address(), U256::from(PRICE))
            .unwrap();
        let request = signed_request(&payer, world.clock.clone(), &world.requirements()).await;
        let facilitator = facilitator.clone();
        tasks.push(tokio::spawn(async move {
            facilitator.settle_payment(&request).await
        }));
    }
    for task in tasks {
        let response = task.await.unwrap();
        assert!(response.success, "{response:?}");
    }
    assert_eq!(world.balance(world.pay_to).await, U256::from(20 * PRICE));
}

// ---- set-up errors ---------------------------------------------------------------------------

#[test]
fn signers_are_bound_to_one_chain() {
    let mut bound = PrivateKeySigner::random();
    alloy_signer::Signer::set_chain_id(&mut bound, Some(1));
    let err = FacilitatorSigners::new(CHAIN, [bound]).unwrap_err();
    assert!(matches!(
        err,
        SignerSetupError::WrongChain {
            signer_chain: 1,
            chain: CHAIN,
            ..
        }
    ));

    let key = PrivateKeySigner::random();
    let err = FacilitatorSigners::new(CHAIN, [key.clone(), key]).unwrap_err();
    assert!(matches!(err, SignerSetupError::Duplicate(_)));
    assert!(matches!(
        FacilitatorSigners::new(CHAIN, Vec::<PrivateKeySigner>::new()),
        Err(SignerSetupError::Empty)
    ));

    let signers = FacilitatorSigners::new(8453, [PrivateKeySigner::random()]).unwrap();
    assert!(ExactEvmFacilitator::new(Devnet::new(CHAIN), signers).is_err());
}
