//! The metered streaming example bills per token, settles the usage, and says so.

#[tokio::test]
async fn the_metered_stream_example_settles_per_token() {
    let mut out = Vec::new();
    let outcome = t402_examples::metered_stream::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let words = 14;
    assert_eq!(outcome.tokens, words, "{text}");
    let used = words as u64 * t402_examples::metered_stream::PER_TOKEN;
    assert_eq!(outcome.settled, t402_core::Amount::from(used));
    assert_eq!(outcome.payee_balance, alloy_primitives::U256::from(used));
    assert_eq!(
        outcome.payer_balance.0 - outcome.payer_balance.1,
        alloy_primitives::U256::from(used)
    );
    assert!(
        text.contains("received 14 tokens: Metered streams bill"),
        "{text}"
    );
    assert!(text.contains("settled 0.007 USDC for 14 tokens"), "{text}");
}
