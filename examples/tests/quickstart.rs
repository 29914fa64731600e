//! The quickstart runs, settles on its chain, and says so readably.

#[tokio::test]
async fn the_quickstart_pays_and_reports_each_step() {
    let mut out = Vec::new();
    let outcome = t402_examples::quickstart::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(outcome.transaction.starts_with("0x") && outcome.transaction.len() == 66);
    assert!(text.contains(&outcome.transaction), "{text}");
    assert!(
        text.contains("-> 402 Payment required: 0.01 USDC on eip155:31337"),
        "{text}"
    );
    assert!(
        text.contains("payer 10.00 -> 9.99 USDC, payee 0.00 -> 0.01 USDC"),
        "{text}"
    );
    assert!(text.contains("-> 200:"), "{text}");
    assert_eq!(
        outcome.payer_balance.0 - outcome.payer_balance.1,
        alloy_primitives::U256::from(10_000u64)
    );
    assert_eq!(
        outcome.payee_balance.1,
        alloy_primitives::U256::from(10_000u64)
    );
    assert!(outcome.body.contains("\"report\":\"42\""));
}
