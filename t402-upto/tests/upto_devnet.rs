//! `upto` on the in-process devnet with the `upto` proxy at its canonical address: usage below
//! the ceiling settles exactly the usage; zero settles without a transaction; above the ceiling
//! is refused; a replayed payment is refused; only a key of this facilitator may be named; the
//! settlement is sent from the named key.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use t402_core::mechanism::FacilitatorMechanism;
use t402_core::{
    Amount, ClientMechanism, PaymentPayload, PaymentRequirements, Reason, VerifyRequest,
};
use t402_evm::chain::{EvmChain, call_typed};
use t402_evm::contracts::IErc20;
use t402_evm::devnet::Devnet;
use t402_evm::permit2::{PERMIT2, UPTO_PERMIT2_PROXY};
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners, ManualClock};
use t402_upto::{UptoEvmClient, UptoEvmFacilitator};

const CHAIN: u64 = 31337;
const NOW: u64 = 1_750_000_000;
const CEILING: u64 = 50_000;

struct World {
    clock: ManualClock,
    devnet: Arc<Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
    keys: Vec<Address>,
    upto: UptoEvmFacilitator,
}

impl World {
    fn new() -> Self {
        let clock = ManualClock::new(NOW);
        let devnet = Arc::new(Devnet::with_clock(CHAIN, clock.clone()));
        let token = devnet
            .deploy_permit_token("Permit Dollar", "1", "PUSD", 6)
            .unwrap();
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(1_000_000u64))
            .unwrap();
        use alloy_sol_types::SolCall;
        let approve = IErc20::approveCall {
            spender: PERMIT2,
            value: U256::MAX,
        };
        assert!(
            devnet
                .execute_as(payer.address(), Some(token), approve.abi_encode())
                .unwrap()
                .success
        );
        let signers: Vec<PrivateKeySigner> = (0..2).map(|_| PrivateKeySigner::random()).collect();
        for signer in &signers {
            devnet.fund(signer.address(), U256::from(10u64).pow(U256::from(19)));
        }
        let keys = signers.iter().map(PrivateKeySigner::address).collect();
        let evm = ExactEvmFacilitator::new(
            devnet.clone(),
            FacilitatorSigners::new(CHAIN, signers).unwrap(),
        )
        .unwrap()
        .with_clock(clock.clone())
        .with_receipt_poll_interval(Duration::from_millis(5));
        Self {
            clock,
            devnet,
            token,
            payer,
            pay_to: Address::random(),
            keys,
            upto: UptoEvmFacilitator::new(Arc::new(evm)),
        }
    }

    /// The requirements a server builds with the facilitator's `/supported` kind: the ceiling
    /// and the named facilitator key.
    fn requirements(&self, facilitator: Address) -> PaymentRequirements {
        serde_json::from_value(json!({
            "scheme": "upto",
            "network": format!("eip155:{CHAIN}"),
            "amount": CEILING.to_string(),
            "asset": self.token.to_checksum(None),
            "payTo": self.pay_to.to_checksum(None),
            "maxTimeoutSeconds": 60,
            "extra": {"name": "Permit Dollar", "version": "1", "assetTransferMethod": "permit2",
                      "facilitatorAddress": facilitator.to_checksum(None)},
        }))
        .unwrap()
    }

    async fn payment(&self, facilitator: Address) -> VerifyRequest {
        let requirements = self.requirements(facilitator);
        let client = UptoEvmClient::new(self.payer.clone()).with_clock(self.clock.clone());
        let signed = client.create_payload(2, &requirements, None).await.unwrap();
        VerifyRequest::new(
            PaymentPayload::new(requirements.clone().into(), signed.payload),
            requirements,
        )
    }

    /// The settle request charging `amount` of `request`.
    fn charge(&self, request: &VerifyRequest, amount: u64) -> VerifyRequest {
        let mut charged = request.clone();
        charged.payment_requirements.amount = Amount::from(amount);
        charged
    }

    async fn balance(&self, who: Address) -> U256 {
        call_typed(
            self.devnet.as_ref(),
            self.token,
            &IErc20::balanceOfCall { account: who },
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn usage_below_the_ceiling_settles_exactly_the_usage_from_the_named_key() {
    let world = World::new();
    // The second key is named: the settlement must come from it.
    let named = world.keys[1];
    let request = world.payment(named).await;
    let verified = world.upto.verify(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");

    let nonce_before = world.devnet.nonce(named).await.unwrap();
    let settled = world
        .upto
        .settle(&world.charge(&request, 12_345))
        .await
        .unwrap();
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.amount, Some(Amount::from(12_345u64)));
    assert_eq!(world.balance(world.pay_to).await, U256::from(12_345u64));
    assert_eq!(
        world.balance(world.payer.address()).await,
        U256::from(1_000_000u64 - 12_345)
    );
    assert_eq!(
        world.devnet.nonce(named).await.unwrap(),
        nonce_before + 1,
        "sent by the named key"
    );

    // The permit is spent: the same payment again is refused and moves nothing.
    let again = world.upto.settle(&world.charge(&request, 1)).await.unwrap();
    assert!(!again.success);
    assert_eq!(world.balance(world.pay_to).await, U256::from(12_345u64));
}

#[tokio::test]
async fn zero_usage_succeeds_without_a_transaction_and_above_the_ceiling_is_refused() {
    let world = World::new();
    let request = world.payment(world.keys[0]).await;
    let block = world.devnet.block_number();
    let settled = world.upto.settle(&world.charge(&request, 0)).await.unwrap();
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.transaction.as_deref(), Some(""));
    assert_eq!(settled.amount, Some(Amount::from(0u64)));
    assert_eq!(world.devnet.block_number(), block, "no transaction");

    let above = world
        .upto
        .settle(&world.charge(&request, CEILING + 1))
        .await
        .unwrap();
    assert!(!above.success);
    assert_eq!(
        above.error_reason,
        Some(Reason::InvalidUptoEvmPayloadSettlementExceedsAmount)
    );
    assert_eq!(world.devnet.block_number(), block);
    // The ceiling itself is allowed.
    let full = world
        .upto
        .settle(&world.charge(&request, CEILING))
        .await
        .unwrap();
    assert!(full.success, "{full:?}");
    assert_eq!(world.balance(world.pay_to).await, U256::from(CEILING));
}

#[tokio::test]
async fn verification_refuses_what_the_reference_refuses() {
    let world = World::new();
    // A facilitator address that is not ours.
    let stranger = world.payment(Address::random()).await;
    let refused = world.upto.verify(&stranger).await.unwrap();
    assert_eq!(
        refused.invalid_reason,
        Some(Reason::UptoFacilitatorMismatch),
        "{refused:?}"
    );
    // Verification is against the ceiling: a permit for less is refused.
    let request = world.payment(world.keys[0]).await;
    let mut higher = request.clone();
    higher.payment_requirements.amount = Amount::from(CEILING + 1);
    let refused = world.upto.verify(&higher).await.unwrap();
    assert_eq!(refused.invalid_reason, Some(Reason::Permit2AmountMismatch));
    // An `exact` payment is not an `upto` one.
    let mut exact = request.clone();
    exact.payment_requirements.scheme = "exact".into();
    let refused = world.upto.verify(&exact).await.unwrap();
    assert_eq!(refused.invalid_reason, Some(Reason::InvalidUptoEvmScheme));
    // The spender is the upto proxy.
    let payload =
        t402_evm::permit2::Permit2Payload::from_object(&request.payment_payload.payload).unwrap();
    assert_eq!(payload.authorization.spender, UPTO_PERMIT2_PROXY);
    // The kind names the first key.
    let extra = world
        .upto
        .kind_extra(&t402_core::Network::eip155(CHAIN))
        .unwrap();
    assert_eq!(extra["facilitatorAddress"], world.keys[0].to_checksum(None));
}
