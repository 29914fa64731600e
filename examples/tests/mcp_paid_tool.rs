//! The MCP example pays for its tool and says so.

#[tokio::test]
async fn the_mcp_example_pays_for_the_tool() {
    let mut out = Vec::new();
    let outcome = t402_examples::mcp_paid_tool::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(outcome.answer, "Paris: sunny, 21 °C");
    assert!(outcome.settlement.success);
    assert_eq!(
        outcome.payee_balance,
        alloy_primitives::U256::from(10_000u64)
    );
    assert!(
        text.contains("payment required: 10000 atomic units on eip155:31337"),
        "{text}"
    );
    assert!(text.contains("payee holds 0.01 USDC"), "{text}");
}
