//! Transactions built here, checked against the Solana runtime itself (litesvm 0.16 with the SPL
//! programs): the message bytes equal solana-message's, associated token addresses equal
//! solana-address's derivation, and a payment signed by the authority and the fee payer executes
//! and moves the tokens, for Token and Token-2022.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use litesvm::LiteSVM;
use solana_address::Address;
use solana_message::VersionedMessage;
use solana_transaction::versioned::VersionedTransaction;
use t402_svm::instructions::{
    compile, memo, set_compute_unit_limit, set_compute_unit_price, transfer_checked,
};
use t402_svm::pubkey::{
    ASSOCIATED_TOKEN_PROGRAM, Pubkey, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, associated_token_address,
};
use t402_svm::wire::Transaction;

fn pay(token_program: Pubkey) {
    let mut svm = LiteSVM::new();
    let fee_payer = SigningKey::from_bytes(&[1; 32]);
    let authority = SigningKey::from_bytes(&[2; 32]);
    let payee = key_of(&SigningKey::from_bytes(&[3; 32]));
    let mint = Pubkey([7; 32]);
    svm.airdrop(&address(&key_of(&fee_payer)), 1_000_000_000)
        .unwrap();
    set(&mut svm, &mint, mint_data(6, 1_000_000), &token_program);
    let source = associated_token_address(&key_of(&authority), &mint, &token_program);
    let destination = associated_token_address(&payee, &mint, &token_program);
    set(
        &mut svm,
        &source,
        token_account_data(&mint, &key_of(&authority), 1_000_000),
        &token_program,
    );
    set(
        &mut svm,
        &destination,
        token_account_data(&mint, &payee, 0),
        &token_program,
    );

    let message = compile(
        key_of(&fee_payer),
        &[
            set_compute_unit_limit(20_000),
            set_compute_unit_price(1),
            transfer_checked(
                token_program,
                source,
                mint,
                destination,
                key_of(&authority),
                1_000,
                6,
            ),
            memo(b"pi_3abc123def456"),
        ],
        svm.latest_blockhash().to_bytes(),
    );
    // The bytes we sign are the bytes Solana signs.
    assert_eq!(
        VersionedMessage::V0(their_message(&message)).serialize(),
        message.serialize().unwrap()
    );
    let mut transaction = Transaction::unsigned(message);
    assert!(transaction.sign(&authority).unwrap());
    // Partially signed, as the client sends it: the fee payer's slot is empty.
    assert_eq!(transaction.signatures[0], [0u8; 64]);
    let wire = transaction.serialize().unwrap();
    assert_eq!(Transaction::deserialize(&wire).unwrap(), transaction);
    // Solana's own decoder reads the same bytes as the same transaction.
    let decoded: VersionedTransaction = wincode::deserialize(&wire).unwrap();
    assert_eq!(decoded.signatures.len(), 2);
    assert_eq!(
        decoded.signatures[1].as_ref(),
        &transaction.signatures[1][..]
    );
    assert_eq!(
        decoded.message.serialize(),
        transaction.message.serialize().unwrap()
    );
    assert!(decoded.verify_with_results().iter().skip(1).all(|ok| *ok));
    assert!(transaction.sign(&fee_payer).unwrap());

    let executed = svm.send_transaction(theirs(&transaction));
    assert!(executed.is_ok(), "{executed:?}");
    assert_eq!(amount_of(&svm, &destination), 1_000);
    assert_eq!(amount_of(&svm, &source), 999_000);
}

#[test]
fn a_token_payment_executes_on_the_runtime() {
    pay(TOKEN_PROGRAM);
}

#[test]
fn a_token_2022_payment_executes_on_the_runtime() {
    pay(TOKEN_2022_PROGRAM);
}

#[test]
fn associated_token_addresses_match_solanas_derivation() {
    for seed in 1..=8u8 {
        let owner = key_of(&SigningKey::from_bytes(&[seed; 32]));
        let mint = Pubkey([seed.wrapping_mul(31); 32]);
        for program in [TOKEN_PROGRAM, TOKEN_2022_PROGRAM] {
            let (expected, _) = Address::find_program_address(
                &[&owner.0, &program.0, &mint.0],
                &address(&ASSOCIATED_TOKEN_PROGRAM),
            );
            assert_eq!(
                address(&associated_token_address(&owner, &mint, &program)),
                expected
            );
        }
    }
}

#[test]
fn a_tampered_transaction_fails_signature_verification() {
    let mut svm = LiteSVM::new();
    let fee_payer = SigningKey::from_bytes(&[1; 32]);
    svm.airdrop(&address(&key_of(&fee_payer)), 1_000_000_000)
        .unwrap();
    let message = compile(
        key_of(&fee_payer),
        &[memo(b"hello")],
        svm.latest_blockhash().to_bytes(),
    );
    let mut transaction = Transaction::unsigned(message);
    transaction.sign(&fee_payer).unwrap();
    transaction.message.instructions[0].data = b"hellO".to_vec();
    assert!(!transaction.verify_slot(0));
    let executed = svm.send_transaction(theirs(&transaction));
    assert!(executed.is_err());
}
