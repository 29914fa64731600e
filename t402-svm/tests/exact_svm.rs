//! The client's transaction and the facilitator's offline checks, against the Solana runtime
//! (litesvm 0.16): a payment built by the client passes the checks and, co-signed by the fee
//! payer, executes; each check's reason string is provoked by a crafted transaction.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::json;
use t402_core::error::BoxFuture;
use t402_core::{
    Claim, ClientMechanism, MemorySettlementStore, PaymentId, PaymentPayload, PaymentRequirements,
    Reason, SendJournal, SettlementRecord, SettlementStore, VerifyRequest,
};
use t402_svm::ExactSvmClient;
use t402_svm::instructions::{
    Instruction, compile, memo, set_compute_unit_limit, set_compute_unit_price, transfer_checked,
};
use t402_svm::litesvm::LiteSvmRuntime;
use t402_svm::pubkey::{
    Pubkey, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, associated_token_address,
};
use t402_svm::rpc::{AccountInfo, RpcError, SolanaRpc};
use t402_svm::verify::{Rejection, verify_offline};
use t402_svm::wire::Transaction;

const NETWORK: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";

/// A verify request paying `requirements` with `transaction`.
fn verify_request(requirements: &PaymentRequirements, transaction: &Transaction) -> VerifyRequest {
    let mut payload = serde_json::Map::new();
    payload.insert(
        "transaction".into(),
        json!(STANDARD.encode(transaction.serialize().unwrap())),
    );
    VerifyRequest::new(
        PaymentPayload::new(requirements.clone().into(), payload),
        requirements.clone(),
    )
}

/// The in-process runtime, with what these tests add around its sends: a gate every send waits
/// at (so concurrent settlements all get past their checks before any transaction lands), and a
/// watched settlement record read at each send.
struct Runtime(
    LiteSvmRuntime,
    Mutex<Option<Arc<tokio::sync::Barrier>>>,
    Mutex<Option<Watch>>,
);

/// A settlement record read at each send.
struct Watch {
    store: MemorySettlementStore,
    id: PaymentId,
    seen: Vec<Option<SettlementRecord>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("litesvm")
    }
}

impl SolanaRpc for Runtime {
    fn latest_blockhash(&self) -> BoxFuture<'_, Result<[u8; 32], RpcError>> {
        self.0.latest_blockhash()
    }

    fn account(&self, key: Pubkey) -> BoxFuture<'_, Result<Option<AccountInfo>, RpcError>> {
        self.0.account(key)
    }

    fn simulate(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<Result<(), String>, RpcError>> {
        self.0.simulate(bytes)
    }

    fn send(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<String, RpcError>> {
        let gate = self.1.lock().unwrap().clone();
        Box::pin(async move {
            if let Some(gate) = gate {
                let _ = tokio::time::timeout(Duration::from_millis(300), gate.wait()).await;
            }
            let watched = self
                .2
                .lock()
                .unwrap()
                .as_ref()
                .map(|watch| (watch.store.clone(), watch.id.clone()));
            if let Some((store, id)) = watched {
                let record = store.get(&id).await.unwrap();
                if let Some(watch) = self.2.lock().unwrap().as_mut() {
                    watch.seen.push(record);
                }
            }
            self.0.send(bytes).await
        })
    }

    fn status(
        &self,
        signature: String,
    ) -> BoxFuture<'_, Result<Option<Result<(), String>>, RpcError>> {
        self.0.status(signature)
    }

    fn blockhash_valid(
        &self,
        blockhash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<bool>, RpcError>> {
        self.0.blockhash_valid(blockhash)
    }
}

struct World {
    runtime: Arc<Runtime>,
    fee_payer: SigningKey,
    payer: SigningKey,
    payee: Pubkey,
    mint: Pubkey,
    token_program: Pubkey,
}

impl World {
    fn new(token_program: Pubkey) -> Self {
        let chain = LiteSvmRuntime::new();
        let fee_payer = SigningKey::from_bytes(&[11; 32]);
        let payer = SigningKey::from_bytes(&[12; 32]);
        let payee = key_of(&SigningKey::from_bytes(&[13; 32]));
        let mint = Pubkey([14; 32]);
        chain.airdrop(&key_of(&fee_payer), 1_000_000_000).unwrap();
        chain.create_mint(&mint, 6, &token_program);
        chain.create_token_account(&key_of(&payer), &mint, 1_000_000, &token_program);
        chain.create_token_account(&payee, &mint, 0, &token_program);
        Self {
            runtime: Arc::new(Runtime(chain, Mutex::default(), Mutex::default())),
            fee_payer,
            payer,
            payee,
            mint,
            token_program,
        }
    }

    fn requirements(&self, memo: Option<&str>) -> PaymentRequirements {
        let mut extra = json!({"feePayer": key_of(&self.fee_payer).to_string()});
        if let Some(memo) = memo {
            extra["memo"] = json!(memo);
        }
        serde_json::from_value(json!({
            "scheme": "exact", "network": NETWORK, "amount": "1000",
            "asset": self.mint.to_string(), "payTo": self.payee.to_string(),
            "maxTimeoutSeconds": 60, "extra": extra,
        }))
        .unwrap()
    }

    fn signers(&self) -> Vec<Pubkey> {
        vec![key_of(&self.fee_payer)]
    }

    fn source(&self) -> Pubkey {
        associated_token_address(&key_of(&self.payer), &self.mint, &self.token_program)
    }

    fn destination(&self) -> Pubkey {
        associated_token_address(&self.payee, &self.mint, &self.token_program)
    }

    /// The client's four instructions, for crafting variants.
    fn instructions(&self, amount: u64) -> Vec<Instruction> {
        vec![
            set_compute_unit_limit(20_000),
            set_compute_unit_price(1),
            transfer_checked(
                self.token_program,
                self.source(),
                self.mint,
                self.destination(),
                key_of(&self.payer),
                amount,
                6,
            ),
            memo(b"order-1"),
        ]
    }

    fn signed(&self, instructions: &[Instruction]) -> Transaction {
        let blockhash = self.runtime.0.svm().latest_blockhash().to_bytes();
        let mut transaction =
            Transaction::unsigned(compile(key_of(&self.fee_payer), instructions, blockhash));
        transaction.sign(&self.payer).unwrap();
        transaction
    }

    fn execute(&self, transaction: &Transaction) -> bool {
        self.runtime
            .0
            .svm()
            .send_transaction(theirs(transaction))
            .is_ok()
    }

    fn token_amount(&self, account: &Pubkey) -> u64 {
        amount_of(&self.runtime.0.svm(), account)
    }
}

fn reject(
    world: &World,
    requirements: &PaymentRequirements,
    transaction: &Transaction,
) -> Rejection {
    verify_offline(&verify_request(requirements, transaction), &world.signers())
        .expect_err("the payment should be refused")
}

#[tokio::test]
async fn the_clients_payment_passes_the_checks_and_executes() {
    for token_program in [TOKEN_PROGRAM, TOKEN_2022_PROGRAM] {
        let world = World::new(token_program);
        let requirements = world.requirements(Some("pi_3abc123def456"));
        let client = ExactSvmClient::new(world.payer.clone(), world.runtime.clone());
        let signed = client.create_payload(2, &requirements, None).await.unwrap();
        let request = VerifyRequest::new(
            PaymentPayload::new(requirements.clone().into(), signed.payload),
            requirements.clone(),
        );
        let checked = verify_offline(&request, &world.signers()).unwrap();
        assert_eq!(checked.payer, key_of(&world.payer));
        assert_eq!(checked.token_program, token_program);
        assert_eq!(checked.amount, 1000);
        let mut transaction = checked.transaction;
        assert_eq!(
            transaction.signatures[0], [0u8; 64],
            "the fee payer's slot is left empty"
        );
        assert!(transaction.sign(&world.fee_payer).unwrap());
        assert!(world.execute(&transaction));
        assert_eq!(world.token_amount(&world.destination()), 1000);
        assert_eq!(world.token_amount(&world.source()), 999_000);
        // The same transaction cannot run twice.
        assert!(!world.execute(&transaction));
    }
}

#[test]
fn each_check_gives_its_reason() {
    let world = World::new(TOKEN_PROGRAM);
    let requirements = world.requirements(None);
    let fee_payer = key_of(&world.fee_payer);
    let good = world.instructions(1000);
    assert!(
        verify_offline(
            &verify_request(&requirements, &world.signed(&good)),
            &world.signers()
        )
        .is_ok()
    );

    let with = |index: usize, instruction: Instruction| {
        let mut instructions = good.clone();
        instructions[index] = instruction;
        world.signed(&instructions)
    };
    let transfer =
        |source: Pubkey, mint: Pubkey, destination: Pubkey, authority: Pubkey, amount: u64| {
            transfer_checked(
                TOKEN_PROGRAM,
                source,
                mint,
                destination,
                authority,
                amount,
                6,
            )
        };
    let other_mint = Pubkey([99; 32]);
    let stranger = Pubkey([98; 32]);
    let mut unknown = good.clone();
    unknown.push(Instruction {
        program: SYSTEM_PROGRAM,
        accounts: vec![],
        data: vec![],
    });
    let mut fee_payer_in_accounts = good.clone();
    fee_payer_in_accounts[3] = Instruction {
        program: t402_svm::pubkey::MEMO_PROGRAM,
        accounts: vec![t402_svm::instructions::AccountMeta {
            pubkey: fee_payer,
            is_signer: true,
            is_writable: true,
        }],
        data: b"hi".to_vec(),
    };
    let mut bad_signature = world.signed(&good);
    bad_signature.signatures[1][0] ^= 1;

    let cases: Vec<(&str, Transaction, Reason)> = vec![
        (
            "two instructions",
            world.signed(&good[..2]),
            Reason::InvalidExactSvmPayloadTransactionInstructionsLength,
        ),
        (
            "no compute limit",
            with(0, set_compute_unit_price(1)),
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputeLimitInstruction,
        ),
        (
            "no compute price",
            with(1, set_compute_unit_limit(1)),
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstruction,
        ),
        (
            "compute price too high",
            with(1, set_compute_unit_price(5_000_001)),
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstructionTooHigh,
        ),
        (
            "no transfer",
            with(2, memo(b"x")),
            Reason::InvalidExactSvmPayloadNoTransferInstruction,
        ),
        (
            "fee payer as authority",
            with(
                2,
                transfer(
                    world.source(),
                    world.mint,
                    world.destination(),
                    fee_payer,
                    1000,
                ),
            ),
            Reason::InvalidExactSvmPayloadTransactionFeePayerTransferringFunds,
        ),
        (
            "fee payer as source",
            with(
                2,
                transfer(
                    fee_payer,
                    world.mint,
                    world.destination(),
                    key_of(&world.payer),
                    1000,
                ),
            ),
            Reason::InvalidExactSvmPayloadTransactionFeePayerTransferringFunds,
        ),
        (
            "wrong mint",
            with(
                2,
                transfer(
                    world.source(),
                    other_mint,
                    world.destination(),
                    key_of(&world.payer),
                    1000,
                ),
            ),
            Reason::InvalidExactSvmPayloadMintMismatch,
        ),
        (
            "wrong recipient account",
            with(
                2,
                transfer(
                    world.source(),
                    world.mint,
                    stranger,
                    key_of(&world.payer),
                    1000,
                ),
            ),
            Reason::InvalidExactSvmPayloadRecipientMismatch,
        ),
        (
            "wrong amount",
            with(
                2,
                transfer(
                    world.source(),
                    world.mint,
                    world.destination(),
                    key_of(&world.payer),
                    999,
                ),
            ),
            Reason::InvalidExactSvmPayloadAmountMismatch,
        ),
        (
            "extra unknown instruction",
            world.signed(&unknown),
            Reason::InvalidExactSvmPayloadUnknownFifthInstruction,
        ),
        (
            "fee payer in an instruction's accounts",
            world.signed(&fee_payer_in_accounts),
            Reason::InvalidExactSvmPayloadTransactionFeePayerIncludedInInstructionAccounts,
        ),
        (
            "bad signature",
            bad_signature,
            Reason::TransactionSimulationFailed,
        ),
    ];
    for (case, transaction, reason) in cases {
        let rejection = reject(&world, &requirements, &transaction);
        assert_eq!(rejection.reason, reason, "{case}: {}", rejection.message);
    }

    // Memo rules, when the requirements carry one.
    let with_memo = world.requirements(Some("order-1"));
    assert!(
        verify_offline(
            &verify_request(&with_memo, &world.signed(&good)),
            &world.signers()
        )
        .is_ok()
    );
    let wrong = world.requirements(Some("order-2"));
    assert_eq!(
        reject(&world, &wrong, &world.signed(&good)).reason,
        Reason::InvalidExactSvmPayloadMemoMismatch
    );
    assert_eq!(
        reject(&world, &with_memo, &world.signed(&good[..3])).reason,
        Reason::InvalidExactSvmPayloadMemoCount
    );
    let mut two = good.clone();
    two.push(memo(b"order-1"));
    assert_eq!(
        reject(&world, &with_memo, &world.signed(&two)).reason,
        Reason::InvalidExactSvmPayloadMemoCount
    );
}

#[test]
fn the_envelope_checks_come_first() {
    let world = World::new(TOKEN_PROGRAM);
    let requirements = world.requirements(None);
    let transaction = world.signed(&world.instructions(1000));

    let mut no_fee_payer = requirements.clone();
    no_fee_payer.extra = Some(json!({}));
    assert_eq!(
        reject(&world, &no_fee_payer, &transaction).reason,
        Reason::InvalidExactSvmPayloadMissingFeePayer
    );

    let mut not_ours = requirements.clone();
    not_ours.extra = Some(json!({"feePayer": Pubkey([5; 32]).to_string()}));
    assert_eq!(
        reject(&world, &not_ours, &transaction).reason,
        Reason::FeePayerNotManagedByFacilitator
    );

    let mut request = verify_request(&requirements, &transaction);
    request
        .payment_payload
        .payload
        .insert("transaction".into(), json!("not base64!"));
    let rejection = verify_offline(&request, &world.signers()).unwrap_err();
    assert_eq!(
        rejection.reason,
        Reason::InvalidExactSvmPayloadTransactionCouldNotBeDecoded
    );
    assert_eq!(rejection.to_verify_response().payer.as_deref(), Some(""));

    let mut other_network = verify_request(&requirements, &transaction);
    other_network.payment_requirements.network =
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".parse().unwrap();
    assert_eq!(
        verify_offline(&other_network, &world.signers())
            .unwrap_err()
            .reason,
        Reason::NetworkMismatch
    );

    let mut other_scheme = verify_request(&requirements, &transaction);
    other_scheme.payment_requirements.scheme = "upto".into();
    assert_eq!(
        verify_offline(&other_scheme, &world.signers())
            .unwrap_err()
            .reason,
        Reason::UnsupportedScheme
    );

    // A transaction paid by another fee payer than extra.feePayer.
    let blockhash = world.runtime.0.svm().latest_blockhash().to_bytes();
    let mut foreign = Transaction::unsigned(compile(
        Pubkey([6; 32]),
        &world.instructions(1000),
        blockhash,
    ));
    foreign.sign(&world.payer).unwrap();
    assert_eq!(
        reject(&world, &requirements, &foreign).reason,
        Reason::InvalidExactSolanaFeePayerMismatch
    );
}

fn facilitator(world: &World) -> t402_svm::ExactSvmFacilitator<Arc<Runtime>> {
    // Two fee payers: the first is the one `/supported` advertises.
    let first = SigningKey::from_bytes(&[21; 32]);
    let mut svm = world.runtime.0.svm();
    let funded = address(&key_of(&first));
    if svm.get_balance(&funded).unwrap_or(0) == 0 {
        svm.airdrop(&funded, 1_000_000_000).unwrap();
    }
    drop(svm);
    t402_svm::ExactSvmFacilitator::new(
        NETWORK.parse().unwrap(),
        world.runtime.clone(),
        vec![first, world.fee_payer.clone()],
    )
    .unwrap()
    .with_confirmation(
        std::time::Duration::from_secs(2),
        std::time::Duration::from_millis(10),
    )
}

#[tokio::test]
async fn verify_simulates_settle_submits_once() {
    let world = World::new(TOKEN_2022_PROGRAM);
    let facilitator = facilitator(&world);
    let requirements = world.requirements(None);
    let request = verify_request(&requirements, &world.signed(&world.instructions(1000)));

    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(verified.is_valid, "{verified:?}");
    assert_eq!(verified.payer, Some(key_of(&world.payer).to_string()));

    let settled = facilitator.settle_payment(&request).await;
    assert!(settled.success, "{settled:?}");
    assert_eq!(settled.network, NETWORK);
    assert_eq!(settled.payer, Some(key_of(&world.payer).to_string()));
    // The transaction id is the base58 of the fee payer's 64-byte signature.
    let id = bs58::decode(settled.transaction.as_deref().unwrap())
        .into_vec()
        .unwrap();
    assert_eq!(id.len(), 64);
    assert_eq!(world.token_amount(&world.destination()), 1000);

    let again = facilitator.settle_payment(&request).await;
    assert!(!again.success);
    assert_eq!(again.error_reason, Some(Reason::DuplicateSettlement));
    assert_eq!(world.token_amount(&world.destination()), 1000);
}

#[tokio::test]
async fn an_expired_blockhash_or_an_empty_account_fails_simulation() {
    let world = World::new(TOKEN_PROGRAM);
    let facilitator = facilitator(&world);
    let requirements = world.requirements(None);

    let request = verify_request(&requirements, &world.signed(&world.instructions(1000)));
    world.runtime.0.svm().expire_blockhash();
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert!(!verified.is_valid);
    assert_eq!(
        verified.invalid_reason,
        Some(Reason::TransactionSimulationFailed)
    );
    let settled = facilitator.settle_payment(&request).await;
    assert_eq!(
        settled.error_reason,
        Some(Reason::TransactionSimulationFailed)
    );
    assert_eq!(settled.transaction.as_deref(), Some(""));

    let mut too_much = requirements.clone();
    too_much.amount = 2_000_000u64.into();
    let request = verify_request(&too_much, &world.signed(&world.instructions(2_000_000)));
    let verified = facilitator.verify_payment(&request).await.unwrap();
    assert_eq!(
        verified.invalid_reason,
        Some(Reason::TransactionSimulationFailed)
    );
    // The token program refuses the transfer: custom error 1 is SPL Token's InsufficientFunds.
    let message = verified.invalid_message.unwrap();
    assert!(message.contains("Custom(1)"), "{message}");
}

#[tokio::test]
async fn a_paid_request_settles_on_the_runtime_through_server_and_client() {
    use t402_core::{AssetAmount, LocalFacilitator, NetworkPattern, Price};
    let world = World::new(TOKEN_PROGRAM);
    let network: t402_core::Network = NETWORK.parse().unwrap();
    let facilitator =
        LocalFacilitator::new().register([network.clone()], Arc::new(facilitator(&world)));
    let price = Price::Asset(AssetAmount::new(world.mint.to_string(), 1000u64.into()));
    let layer = t402_server::PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(
            NetworkPattern::parse("solana:*").unwrap(),
            Arc::new(t402_svm::ExactSvmServer),
        )
        .route(
            "GET /report",
            t402_server::Route::new(t402_server::PaymentOption::exact(
                network.clone(),
                price,
                world.payee.to_string(),
            )),
        )
        .build_and_initialize()
        .await
        .unwrap();
    let app = axum::Router::new()
        .route("/report", axum::routing::get(|| async { "paid on solana" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = t402_client::Client::builder()
        .payer(
            t402_client::Payer::new()
                .mechanism(
                    NetworkPattern::parse("solana:*").unwrap(),
                    Arc::new(ExactSvmClient::new(
                        world.payer.clone(),
                        world.runtime.clone(),
                    )),
                )
                .policy(
                    t402_client::SpendPolicy::new()
                        .allow_asset(network, &world.mint.to_string(), 6, Some("0.01"))
                        .unwrap(),
                ),
        )
        .build()
        .unwrap();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(response.text(), "paid on solana");
    let receipt = response.receipt().unwrap();
    assert!(receipt.success);
    assert_eq!(receipt.payer, Some(key_of(&world.payer).to_string()));
    assert_eq!(world.token_amount(&world.destination()), 1000);
}

#[test]
fn variants_of_one_message_share_one_payment_id() {
    use t402_core::{FacilitatorMechanism, ServerMechanism};
    let world = World::new(TOKEN_PROGRAM);
    let requirements = world.requirements(None);
    let original = world.signed(&world.instructions(1000));
    let id = t402_svm::verify::payment_id(&verify_request(&requirements, &original)).unwrap();

    // The fee payer's slot filled by the client with anything, or by the fee payer itself: the
    // message is the same, so the id is.
    let mut junk = original.clone();
    junk.signatures[0] = [7u8; 64];
    let mut cosigned = original.clone();
    assert!(cosigned.sign(&world.fee_payer).unwrap());
    let facilitator = facilitator(&world);
    for variant in [&junk, &cosigned] {
        let request = verify_request(&requirements, variant);
        assert_eq!(t402_svm::verify::payment_id(&request).as_ref(), Some(&id));
        assert_eq!(
            t402_svm::ExactSvmServer
                .payment_id(&request.payment_payload, &request.payment_requirements)
                .as_ref(),
            Some(&id)
        );
        assert_eq!(facilitator.payment_id(&request).as_ref(), Some(&id));
    }

    // Another amount is another message, so another id; no transaction, no id.
    let other = world.signed(&world.instructions(999));
    assert_ne!(
        t402_svm::verify::payment_id(&verify_request(&requirements, &other)),
        Some(id)
    );
    let mut empty = verify_request(&requirements, &original);
    empty.payment_payload.payload.remove("transaction");
    assert_eq!(t402_svm::verify::payment_id(&empty), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_of_one_payment_settle_once() {
    let world = World::new(TOKEN_2022_PROGRAM);
    let facilitator = Arc::new(facilitator(&world));
    let requirements = world.requirements(None);
    let original = world.signed(&world.instructions(1000));
    // The same payment four times: as signed, and with the fee payer's slot filled by the
    // client with different bytes each time (the facilitator overwrites that slot when it
    // signs, so every variant is the same transaction on chain).
    let mut variants = vec![original.clone()];
    for junk in 1..4u8 {
        let mut variant = original.clone();
        variant.signatures[0] = [junk; 64];
        variants.push(variant);
    }
    *world.runtime.1.lock().unwrap() = Some(Arc::new(tokio::sync::Barrier::new(variants.len())));
    let tasks: Vec<_> = variants
        .iter()
        .map(|variant| {
            let facilitator = facilitator.clone();
            let request = verify_request(&requirements, variant);
            tokio::spawn(async move { facilitator.settle_payment(&request).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let successes: Vec<_> = answers.iter().filter(|answer| answer.success).collect();
    assert_eq!(successes.len(), 1, "{answers:#?}");
    assert_eq!(world.token_amount(&world.destination()), 1000);
    // Retried, the payment answers duplicate_settlement with its transaction and payer.
    let again = facilitator
        .settle_payment(&verify_request(&requirements, &original))
        .await;
    assert_eq!(again.error_reason, Some(Reason::DuplicateSettlement));
    assert_eq!(again.transaction, successes[0].transaction);
    assert_eq!(again.payer, Some(key_of(&world.payer).to_string()));
}

#[test]
fn what_a_settlement_may_cost_the_fee_payer_is_bounded() {
    let world = World::new(TOKEN_PROGRAM);
    let requirements = world.requirements(None);
    let good = world.instructions(1000);
    let with = |index: usize, instruction: Instruction| {
        let mut instructions = good.clone();
        instructions[index] = instruction;
        world.signed(&instructions)
    };
    // A third signer the fee payer would pay for.
    let extra_signer = SigningKey::from_bytes(&[31; 32]);
    let mut three_signers = good.clone();
    three_signers[3] = Instruction {
        program: t402_svm::pubkey::MEMO_PROGRAM,
        accounts: vec![t402_svm::instructions::AccountMeta {
            pubkey: key_of(&extra_signer),
            is_signer: true,
            is_writable: false,
        }],
        data: b"x".to_vec(),
    };
    let mut three_signers = world.signed(&three_signers);
    three_signers.sign(&extra_signer).unwrap();
    // A transfer from another token account of the payer's than its associated one.
    let other_account = Pubkey([41; 32]);
    common::set(
        &mut world.runtime.0.svm(),
        &other_account,
        token_account_data(&world.mint, &key_of(&world.payer), 5_000),
        &TOKEN_PROGRAM,
    );
    let mut junk_slot = world.signed(&good);
    junk_slot.signatures[0] = [9; 64];
    let cases: Vec<(&str, Transaction, Reason)> = vec![
        (
            "a compute limit of 1.4M units",
            with(0, set_compute_unit_limit(1_400_000)),
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputeLimitInstruction,
        ),
        (
            "a priority fee of 1,000,000 lamports",
            {
                let mut instructions = good.clone();
                instructions[0] = set_compute_unit_limit(200_000);
                instructions[1] = set_compute_unit_price(5_000_000);
                world.signed(&instructions)
            },
            Reason::InvalidExactSvmPayloadTransactionInstructionsComputePriceInstructionTooHigh,
        ),
        (
            "a third signer",
            three_signers,
            Reason::InvalidExactSvmPayloadTransaction,
        ),
        (
            "another source account",
            with(
                2,
                transfer_checked(
                    TOKEN_PROGRAM,
                    other_account,
                    world.mint,
                    world.destination(),
                    key_of(&world.payer),
                    1000,
                    6,
                ),
            ),
            Reason::InvalidExactSvmPayloadTransactionFeePayerTransferringFunds,
        ),
        (
            "a filled fee payer slot",
            junk_slot,
            Reason::InvalidExactSvmPayloadTransaction,
        ),
    ];
    for (what, transaction, reason) in cases {
        assert_eq!(
            reject(&world, &requirements, &transaction).reason,
            reason,
            "{what}"
        );
    }
    // The client's own payment stays within every bound.
    assert!(
        verify_offline(
            &verify_request(&requirements, &world.signed(&good)),
            &world.signers()
        )
        .is_ok()
    );
}

#[tokio::test]
async fn settlement_checks_the_network_and_supported_rotates_fee_payers() {
    use t402_core::FacilitatorMechanism;
    let world = World::new(TOKEN_PROGRAM);
    let facilitator = facilitator(&world);
    let network: t402_core::Network = NETWORK.parse().unwrap();
    let named: std::collections::HashSet<String> = (0..4)
        .map(|_| {
            facilitator.kind_extra(&network).unwrap()["feePayer"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(named.len(), 2, "both fee payers are named in turn");

    let mut requirements = world.requirements(None);
    requirements.network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".parse().unwrap();
    let request = verify_request(&requirements, &world.signed(&world.instructions(1000)));
    let refused = facilitator.settle_payment(&request).await;
    assert_eq!(refused.error_reason, Some(Reason::InvalidNetwork));
    assert_eq!(world.token_amount(&world.destination()), 0);
}

#[tokio::test]
async fn the_client_refuses_a_memo_over_256_bytes() {
    let world = World::new(TOKEN_PROGRAM);
    let client = ExactSvmClient::new(world.payer.clone(), world.runtime.clone());
    let at_limit = "m".repeat(256);
    assert!(
        client
            .create_payload(2, &world.requirements(Some(&at_limit)), None)
            .await
            .is_ok()
    );
    let over = "m".repeat(257);
    let err = client
        .create_payload(2, &world.requirements(Some(&over)), None)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Reason::InvalidPaymentRequirements);
}

#[tokio::test]
async fn token_2022_mints_with_a_transfer_fee_or_a_permanent_delegate_are_refused() {
    use t402_svm::token2022::{PERMANENT_DELEGATE, TRANSFER_FEE_CONFIG, TRANSFER_HOOK};
    for (extension, length) in [
        (TRANSFER_FEE_CONFIG, 108u16),
        (PERMANENT_DELEGATE, 32),
        (TRANSFER_HOOK, 64),
    ] {
        let world = World::new(TOKEN_2022_PROGRAM);
        // The mint as Token-2022 lays out a mint with one extension.
        let mut data = mint_data(6, 1_000_000_000);
        data.resize(165, 0);
        data.push(1);
        data.extend_from_slice(&extension.to_le_bytes());
        data.extend_from_slice(&length.to_le_bytes());
        data.extend(std::iter::repeat_n(0u8, usize::from(length)));
        common::set(
            &mut world.runtime.0.svm(),
            &world.mint,
            data,
            &TOKEN_2022_PROGRAM,
        );
        let requirements = world.requirements(None);
        let request = verify_request(&requirements, &world.signed(&world.instructions(1000)));
        let facilitator = facilitator(&world);
        let verified = facilitator.verify_payment(&request).await.unwrap();
        assert_eq!(
            verified.invalid_reason,
            Some(Reason::T402SvmMintExtensionRefused),
            "extension {extension}"
        );
        let settled = facilitator.settle_payment(&request).await;
        assert_eq!(
            settled.error_reason,
            Some(Reason::T402SvmMintExtensionRefused)
        );
        assert_eq!(world.token_amount(&world.destination()), 0);
        // An operator may accept the extension: the check no longer refuses it.
        let accepting = facilitator.with_refused_mint_extensions([]);
        let verified = accepting.verify_payment(&request).await.unwrap();
        assert_ne!(
            verified.invalid_reason,
            Some(Reason::T402SvmMintExtensionRefused)
        );
    }
}

#[tokio::test]
async fn the_transaction_id_is_recorded_before_submitting_and_another_process_follows_it() {
    let world = World::new(TOKEN_2022_PROGRAM);
    let settling = facilitator(&world);
    let request = verify_request(
        &world.requirements(None),
        &world.signed(&world.instructions(1000)),
    );
    let id = t402_svm::verify::payment_id(&request).unwrap();
    let store = MemorySettlementStore::new();
    assert_eq!(store.claim(&id, u64::MAX).await.unwrap(), Claim::Claimed);
    *world.runtime.2.lock().unwrap() = Some(Watch {
        store: store.clone(),
        id: id.clone(),
        seen: Vec::new(),
    });
    let settled = settling
        .settle_payment_journaled(&request, SendJournal::new(&store, &id))
        .await;
    assert!(settled.success, "{settled:?}");
    let signature = settled.transaction.clone().unwrap();
    let seen = world.runtime.2.lock().unwrap().take().unwrap().seen;
    assert_eq!(
        seen,
        vec![Some(SettlementRecord::Sent {
            transaction: signature.clone()
        })],
        "the id was recorded before the transaction was submitted"
    );
    // Another facilitator (a restarted process: nothing in memory) follows the recorded id to
    // the same answer, submitting nothing.
    let restarted = facilitator(&world);
    let followed = restarted.follow_transaction(&request, &signature).await;
    assert_eq!(followed, Some(settled));
    assert_eq!(world.token_amount(&world.destination()), 1000);
}

#[tokio::test]
async fn a_transaction_whose_id_cannot_be_recorded_is_not_submitted() {
    let world = World::new(TOKEN_2022_PROGRAM);
    let facilitator = facilitator(&world);
    let request = verify_request(
        &world.requirements(None),
        &world.signed(&world.instructions(1000)),
    );
    let id = t402_svm::verify::payment_id(&request).unwrap();
    let down = t402_testkit::UnreachableStore::default();
    let refused = facilitator
        .settle_payment_journaled(&request, SendJournal::new(&down, &id))
        .await;
    assert!(!refused.success);
    assert_eq!(
        refused.error_reason,
        Some(Reason::T402SettlementStoreUnavailable)
    );
    assert_eq!(
        world.token_amount(&world.source()),
        1_000_000,
        "nothing submitted"
    );
    assert_eq!(world.token_amount(&world.destination()), 0);
    // Nothing was kept against the payment: settled again, it goes through.
    assert!(facilitator.settle_payment(&request).await.success);
    assert_eq!(world.token_amount(&world.destination()), 1000);
}

#[tokio::test]
async fn a_transaction_that_never_landed_is_followed_to_a_final_failure_once_its_blockhash_expires()
{
    let world = World::new(TOKEN_2022_PROGRAM);
    let facilitator = facilitator(&world);
    let request = verify_request(
        &world.requirements(None),
        &world.signed(&world.instructions(1000)),
    );
    // A signature recorded but never submitted: unknown while the blockhash may still land it.
    let never_sent = bs58::encode([9u8; 64]).into_string();
    assert_eq!(
        facilitator.follow_transaction(&request, &never_sent).await,
        None
    );
    // Final once the blockhash expired: it can no longer land.
    world.runtime.0.svm().expire_blockhash();
    let ended = facilitator
        .follow_transaction(&request, &never_sent)
        .await
        .expect("final once the blockhash expired");
    assert!(!ended.success);
    assert_eq!(ended.error_reason, Some(Reason::TransactionFailed));
    assert_eq!(ended.transaction.as_deref(), Some(&*never_sent));
    assert_eq!(world.token_amount(&world.destination()), 0);
}
