//! The Solana example pays on its in-process runtime and says so.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_solana_example_pays_and_the_runtime_moves_the_tokens() {
    let mut out = Vec::new();
    let run = t402_examples::solana::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        run.amounts,
        (4_990_000, 10_000),
        "0.01 moved from payer to payee"
    );
    let signature = bs58::decode(&run.transaction).into_vec().unwrap();
    assert_eq!(signature.len(), 64, "a Solana transaction signature");
    assert!(text.contains(&run.transaction), "{text}");
    assert!(
        text.contains("GET /report -> 200: the report, paid on Solana"),
        "{text}"
    );
    assert!(
        text.contains("payer 5.00 -> 4.99, payee 0.00 -> 0.01"),
        "{text}"
    );
}
