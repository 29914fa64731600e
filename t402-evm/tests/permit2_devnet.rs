//! `exact` over Permit2 on the in-process devnet, with our Permit2-compatible contract and the
//! x402 proxies at their canonical addresses: a payment settles; every verification reason is
//! provoked; a replayed nonce is refused; EIP-2612 and ERC-20 approval gas sponsoring pay from a
//! wallet with no allowance (and, for the approval, no ETH); an ERC-1271 wallet pays.

mod common;

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor};
use serde_json::json;
use t402_core::{
    ClientMechanism, JsonObject, PaymentPayload, PaymentRequirements, Reason, SettleResponse,
    VerifyRequest, VerifyResponse,
};
use t402_evm::chain::{EvmChain, call_typed};
use t402_evm::contracts::{IErc20, IT402TestWallet, TestContract};
use t402_evm::devnet::Devnet;
use t402_evm::permit2::{
    EIP2612_GAS_SPONSORING, ERC20_APPROVAL_GAS_SPONSORING, EXACT_PERMIT2_PROXY, PERMIT2,
    Permit2Payload,
};
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners, ManualClock};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_750_000_000;
const NAME: &str = "Permit Dollar";
const VERSION: &str = "1";
const PRICE: u64 = 10_000;

struct World {
    clock: ManualClock,
    devnet: Arc<Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
}

impl World {
    /// A permit token (no EIP-3009); the payer holds 1 token and has approved Permit2 when
    /// `approved`.
    fn new(approved: bool) -> Self {
        let clock = ManualClock::new(NOW);
        let devnet = Arc::new(Devnet::with_clock(CHAIN, clock.clone()));
        let token = devnet
            .deploy_permit_token(NAME, VERSION, "PUSD", 6)
            .unwrap();
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(1_000_000u64))
            .unwrap();
        let world = Self {
            clock,
            devnet,
            token,
            payer,
            pay_to: Address::random(),
        };
        if approved {
            world.approve(world.payer.address());
        }
        world
    }

    fn approve(&self, owner: Address) {
        let call = IErc20::approveCall {
            spender: PERMIT2,
            value: U256::MAX,
        };
        let receipt = self
            .devnet
            .execute_as(owner, Some(self.token), call.abi_encode())
            .unwrap();
        assert!(receipt.success);
    }

    fn facilitator(&self) -> ExactEvmFacilitator {
        let key = PrivateKeySigner::random();
        self.devnet
            .fund(key.address(), U256::from(10u64).pow(U256::from(19)));
        ExactEvmFacilitator::new(
            self.devnet.clone(),
            FacilitatorSigners::new(CHAIN, [key]).unwrap(),
        )
        .unwrap()
        .with_clock(self.clock.clone())
        .with_receipt_poll_interval(Duration::from_millis(5))
    }

    fn requirements(&self) -> PaymentRequirements {
        serde_json::from_value(json!({
            "scheme": "exact",
            "network": format!("eip155:{CHAIN}"),
            "amount": PRICE.to_string(),
            "asset": self.token.to_checksum(None),
            "payTo": self.pay_to.to_checksum(None),
            "maxTimeoutSeconds": 60,
            "extra": {"name": NAME, "version": VERSION, "assetTransferMethod": "permit2"},
        }))
        .unwrap()
    }

    fn client(&self) -> ExactEvmClient<PrivateKeySigner> {
        ExactEvmClient::new(self.payer.clone()).with_clock(self.clock.clone())
    }

    /// What the client signs for the requirements, given the server's declared extensions.
    async fn payment_with(
        &self,
        client: &ExactEvmClient<PrivateKeySigner>,
        declared: Option<&JsonObject>,
    ) -> VerifyRequest {
        let requirements = self.requirements();
        let signed = client
            .create_payload(2, &requirements, declared)
            .await
            .expect("client signs");
        let mut payment = PaymentPayload::new(requirements.clone().into(), signed.payload);
        payment.extensions = signed.extensions;
        VerifyRequest::new(payment, requirements)
    }

    async fn payment(&self) -> VerifyRequest {
        self.payment_with(&self.client(), None).await
    }

    /// A payment whose authorization `tamper` changed before signing.
    async fn tampered(
        &self,
        tamper: impl FnOnce(&mut t402_evm::permit2::Permit2Authorization),
    ) -> VerifyRequest {
        let requirements = self.requirements();
        let client = self.client();
        let (mut auth, chain_id) = client.permit2_authorization_for(&requirements).unwrap();
        tamper(&mut auth);
        let payload = client.sign_permit2(auth, chain_id).await.unwrap();
        VerifyRequest::new(
            PaymentPayload::new(requirements.clone().into(), payload.to_object()),
            requirements,
        )
    }

    async fn balance(&self, who: Address) -> U256 {
        self.devnet.token_balance(self.token, who).await.unwrap()
    }
}

fn declared(keys: &[&str]) -> JsonObject {
    keys.iter()
        .map(|key| {
            (
                (*key).to_owned(),
                json!({"info": {"description": "offered", "version": "1"}}),
            )
        })
        .collect()
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
}

#[tokio::test]
async fn a_permit2_payment_verifies_and_settles_through_the_exact_proxy() {
    let world = World::new(true);
    let facilitator = world.facilitator();
    let request = world.payment().await;
    let payload = Permit2Payload::from_object(&request.payment_payload.payload).unwrap();
    assert_eq!(payload.authorization.spender, EXACT_PERMIT2_PROXY);
    assert_eq!(
        payload.authorization.witness.valid_after,
        U256::from(NOW - 600)
    );
    assert_eq!(payload.authorization.deadline, U256::from(NOW + 60));

    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    assert_eq!(
        verified.payer.as_deref(),
        Some(world.payer.address().to_checksum(None).as_str())
    );

    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    assert_eq!(
        world.balance(world.payer.address()).await,
        U256::from(1_000_000 - PRICE)
    );

    // The same permit again: Permit2's nonce is spent, nothing is sent.
    let again = facilitator.settle_payment(&request).await;
    assert_failed(&again, Reason::Permit2InvalidNonce);
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    // And verification's simulation says so too.
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert_invalid(&verified, Reason::Permit2SimulationFailed);
}

#[tokio::test]
async fn every_offline_verification_reason_in_the_reference_order() {
    let world = World::new(true);
    let facilitator = world.facilitator();
    let other = Address::random();
    let cases: Vec<(VerifyRequest, Reason)> = vec![
        (
            world.tampered(|a| a.spender = other).await,
            Reason::InvalidPermit2Spender,
        ),
        (
            world.tampered(|a| a.witness.to = other).await,
            Reason::InvalidPermit2RecipientMismatch,
        ),
        (
            world.tampered(|a| a.deadline = U256::from(NOW + 5)).await,
            Reason::Permit2DeadlineExpired,
        ),
        (
            world
                .tampered(|a| a.witness.valid_after = U256::from(NOW + 1))
                .await,
            Reason::Permit2NotYetValid,
        ),
        (
            world.tampered(|a| a.amount = U256::from(PRICE - 1)).await,
            Reason::Permit2AmountMismatch,
        ),
        (
            world.tampered(|a| a.token = other).await,
            Reason::Permit2TokenMismatch,
        ),
        (
            world.tampered(|a| a.from = other).await,
            Reason::InvalidPermit2Signature,
        ),
    ];
    for (request, reason) in cases {
        assert_invalid(&facilitator.verify_payment(&request).await.unwrap(), reason);
    }
    // Scheme and network.
    let mut request = world.payment().await;
    request.payment_requirements.scheme = "upto".into();
    assert_invalid(
        &facilitator.verify_payment(&request).await.unwrap(),
        Reason::UnsupportedPayloadType,
    );
    let mut request = world.payment().await;
    request.payment_requirements.network = "eip155:1".parse().unwrap();
    assert_invalid(
        &facilitator.verify_payment(&request).await.unwrap(),
        Reason::InvalidExactEvmNetworkMismatch,
    );
    // A settlement of a refused payment sends nothing.
    let refused = world.tampered(|a| a.witness.to = other).await;
    assert_failed(
        &facilitator.settle_payment(&refused).await,
        Reason::InvalidPermit2RecipientMismatch,
    );
    assert_eq!(world.balance(other).await, U256::ZERO);
}

#[tokio::test]
async fn simulation_diagnosis_names_allowance_balance_and_a_missing_proxy() {
    // No allowance to Permit2.
    let world = World::new(false);
    let facilitator = world.facilitator();
    let request = world.payment().await;
    assert_invalid(
        &facilitator.verify_payment(&request).await.unwrap(),
        Reason::Permit2AllowanceRequired,
    );
    assert_failed(
        &facilitator.settle_payment(&request).await,
        Reason::Permit2AllowanceRequired,
    );

    // Not enough tokens.
    let poor = World::new(true);
    let facilitator = poor.facilitator();
    let mut requirements = poor.requirements();
    requirements.amount = t402_core::Amount::from(2_000_000u64);
    let client = poor.client();
    let (auth, chain_id) = client.permit2_authorization_for(&requirements).unwrap();
    let payload = client.sign_permit2(auth, chain_id).await.unwrap();
    let request = VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), payload.to_object()),
        requirements,
    );
    assert_invalid(
        &facilitator.verify_payment(&request).await.unwrap(),
        Reason::Permit2InsufficientBalance,
    );

    // No proxy on the chain.
    let bare = World::new(true);
    bare.devnet.set_code(EXACT_PERMIT2_PROXY, Bytes::new());
    let facilitator = bare.facilitator();
    let request = bare.payment().await;
    assert_invalid(
        &facilitator.verify_payment(&request).await.unwrap(),
        Reason::Permit2ProxyNotDeployed,
    );
}

#[tokio::test]
async fn eip2612_sponsoring_pays_from_a_wallet_with_no_allowance() {
    let world = World::new(false);
    let facilitator = world.facilitator();
    let client = world.client().with_chain(world.devnet.clone());
    let request = world
        .payment_with(&client, Some(&declared(&[EIP2612_GAS_SPONSORING])))
        .await;
    let info =
        &request.payment_payload.extensions.as_ref().unwrap()[EIP2612_GAS_SPONSORING]["info"];
    assert_eq!(info["spender"], PERMIT2.to_checksum(None));
    assert_eq!(info["amount"], PRICE.to_string());
    assert_eq!(info["nonce"], "0");

    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));

    // A permit naming another owner is refused before anything is sent.
    let mut forged = world
        .payment_with(&client, Some(&declared(&[EIP2612_GAS_SPONSORING])))
        .await;
    forged.payment_payload.extensions.as_mut().unwrap()[EIP2612_GAS_SPONSORING]["info"]["from"] =
        Address::random().to_checksum(None).into();
    assert_invalid(
        &facilitator.verify_payment(&forged).await.unwrap(),
        Reason::Eip2612FromMismatch,
    );
    forged.payment_payload.extensions.as_mut().unwrap()[EIP2612_GAS_SPONSORING]["info"]["deadline"] =
        "12x".into();
    assert_invalid(
        &facilitator.verify_payment(&forged).await.unwrap(),
        Reason::InvalidEip2612ExtensionFormat,
    );
}

#[tokio::test]
async fn erc20_approval_sponsoring_broadcasts_the_signed_approval_and_pays_its_gas() {
    let world = World::new(false);
    // The payer has no ETH at all; the client signs the approval with the chain's fees.
    assert_eq!(
        world.devnet.balance(world.payer.address()).await.unwrap(),
        U256::ZERO
    );
    let facilitator = world.facilitator().with_erc20_approval_sponsoring(true);
    let client = world.client().with_chain(world.devnet.clone());
    let request = world
        .payment_with(&client, Some(&declared(&[ERC20_APPROVAL_GAS_SPONSORING])))
        .await;
    assert!(
        request
            .payment_payload
            .extensions
            .as_ref()
            .unwrap()
            .contains_key(ERC20_APPROVAL_GAS_SPONSORING)
    );

    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));
    let allowance = call_typed(
        world.devnet.as_ref(),
        world.token,
        &IErc20::allowanceCall {
            owner: world.payer.address(),
            spender: PERMIT2,
        },
    )
    .await
    .unwrap();
    assert_eq!(allowance, U256::MAX);

    // A facilitator that does not sponsor approvals ignores the extension: the allowance is
    // required.
    let world = World::new(false);
    let client = world.client().with_chain(world.devnet.clone());
    let request = world
        .payment_with(&client, Some(&declared(&[ERC20_APPROVAL_GAS_SPONSORING])))
        .await;
    assert_invalid(
        &world.facilitator().verify_payment(&request).await.unwrap(),
        Reason::Permit2AllowanceRequired,
    );

    // An approval signed by someone else is refused.
    let stranger = PrivateKeySigner::random();
    let approval = ExactEvmClient::new(stranger)
        .sign_approval(world.devnet.as_ref(), world.token)
        .await
        .unwrap();
    let mut forged = request.clone();
    let mut extensions = approval.to_extensions();
    extensions[ERC20_APPROVAL_GAS_SPONSORING]["info"]["from"] =
        world.payer.address().to_checksum(None).into();
    forged.payment_payload.extensions = Some(extensions);
    let sponsoring = world.facilitator().with_erc20_approval_sponsoring(true);
    assert_invalid(
        &sponsoring.verify_payment(&forged).await.unwrap(),
        Reason::Erc20ApprovalTxSignerMismatch,
    );
}

#[tokio::test]
async fn a_client_with_a_chain_and_no_allowance_names_the_fix_when_nothing_is_sponsored() {
    let world = World::new(false);
    let client = world.client().with_chain(world.devnet.clone());
    let err = client
        .create_payload(2, &world.requirements(), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("t402 approve-permit2"), "{text}");
    assert_eq!(err.reason(), Reason::Permit2AllowanceRequired);
}

#[tokio::test]
async fn an_erc1271_wallet_pays_over_permit2() {
    let world = World::new(false);
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
        .mint(world.token, wallet, U256::from(50_000u64))
        .unwrap();
    let approve = IErc20::approveCall {
        spender: PERMIT2,
        value: U256::MAX,
    };
    let execute = IT402TestWallet::executeCall {
        target: world.token,
        data: approve.abi_encode().into(),
    };
    assert!(
        world
            .devnet
            .execute_as(owner.address(), Some(wallet), execute.abi_encode())
            .unwrap()
            .success
    );

    let requirements = world.requirements();
    let client = ExactEvmClient::new(owner.clone()).with_clock(world.clock.clone());
    let (mut auth, chain_id) = client.permit2_authorization_for(&requirements).unwrap();
    auth.from = wallet;
    let digest = auth.signing_hash(chain_id);
    let mut signature = vec![0x01];
    signature.extend_from_slice(&owner.sign_hash_sync(&digest).unwrap().as_bytes());
    let payload = Permit2Payload::new(signature.into(), auth);
    let request = VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), payload.to_object()),
        requirements,
    );
    let facilitator = world.facilitator();
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(PRICE));

    // The same long signature from an address without code is not a wallet's.
    let mut stranger = request.clone();
    let mut object = stranger.payment_payload.payload.clone();
    object["permit2Authorization"]["from"] = Address::random().to_checksum(None).into();
    stranger.payment_payload.payload = object;
    assert_invalid(
        &facilitator.verify_payment(&stranger).await.unwrap(),
        Reason::InvalidPermit2Signature,
    );
}

#[tokio::test]
async fn supported_lists_the_sponsoring_the_facilitator_settles() {
    let world = World::new(true);
    let network = t402_core::Network::eip155(CHAIN);
    let plain = t402_core::LocalFacilitator::new()
        .register([network.clone()], Arc::new(world.facilitator()));
    assert_eq!(
        plain.supported_response().extensions,
        vec![EIP2612_GAS_SPONSORING.to_owned()]
    );
    let sponsoring = t402_core::LocalFacilitator::new().register(
        [network],
        Arc::new(world.facilitator().with_erc20_approval_sponsoring(true)),
    );
    assert_eq!(
        sponsoring.supported_response().extensions,
        vec![
            EIP2612_GAS_SPONSORING.to_owned(),
            ERC20_APPROVAL_GAS_SPONSORING.to_owned()
        ]
    );
}
