//! The agent pays while its budget allows, refuses the call that would go over before signing,
//! and its ledger matches the chain.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_pays_within_its_budget_and_its_ledger_matches_the_chain() {
    let mut out = Vec::new();
    let run = t402_examples::agent::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let paid: Vec<(&str, u64)> = run
        .ledger
        .iter()
        .map(|line| (line.api.as_str(), line.paid))
        .collect();
    // weather 0.01, news 0.05, weather 0.01, news 0.05 (0.12 spent); research 0.25 would make
    // 0.37 > 0.30: refused; weather 0.01 and news 0.05 still fit (0.18).
    assert_eq!(
        paid,
        [
            ("weather", 10_000),
            ("news", 50_000),
            ("weather", 10_000),
            ("news", 50_000),
            ("research", 0),
            ("weather", 10_000),
            ("news", 50_000),
        ]
    );
    let refused = &run.ledger[4];
    let why = refused.outcome.as_ref().unwrap_err();
    assert!(
        why.contains("T402-1003") && why.contains("over budget"),
        "{why}"
    );
    for line in run.ledger.iter().filter(|line| line.paid > 0) {
        let transaction = line.outcome.as_ref().unwrap();
        assert!(transaction.starts_with("0x") && transaction.len() == 66);
        assert!(text.contains(transaction.as_str()));
    }
    assert_eq!(run.budget_spent, "0.18");
    assert_eq!(
        run.balance.0 - run.balance.1,
        alloy_primitives::U256::from(180_000u64),
        "the chain agrees with the ledger"
    );
    assert!(
        text.contains("ledger     total 0.18 USDC of a 0.30 budget"),
        "{text}"
    );
}
