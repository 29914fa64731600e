//! Paid MCP tools over the transports MCP hosts use: stdio (the server a child process, as a host
//! starts a local server) and streamable HTTP (the server an axum service). The same
//! `PaidTools` wrapper and `PayingClient` as in memory; the payment settles on a devnet.

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, RoleClient};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    ConfigureCommandExt, StreamableHttpClientTransport, StreamableHttpServerConfig,
    StreamableHttpService, TokioChildProcess,
};
use t402_evm::devnet::Devnet;
use t402_examples::mcp_paid_tool::{CHAIN, devnet_facilitator, paid_weather, weather_payer};
use t402_mcp::{PaidToolResult, PayingClient, codec};

/// Calls `get_weather` unpaid (a payment-required result naming the token), then pays for it
/// with `key` within 0.05 of that token.
async fn pay_for_weather(peer: Peer<RoleClient>, key: PrivateKeySigner) -> PaidToolResult {
    let unpaid = peer
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    let required = codec::read_payment_required(&unpaid).expect("a payment-required result");
    let token = required["accepts"][0]["asset"].as_str().unwrap().to_owned();
    assert_eq!(required["accepts"][0]["amount"], "10000");
    assert_eq!(required["accepts"][0]["network"], format!("eip155:{CHAIN}"));
    PayingClient::new(peer, weather_payer(key, &token).unwrap())
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap()
}

fn answer_text(paid: &PaidToolResult) -> &str {
    paid.result.content[0].as_text().unwrap().text.as_str()
}

#[tokio::test]
async fn a_paid_tool_over_stdio_is_paid_and_settled() {
    let key = PrivateKeySigner::random();
    let payer = key.address();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-weather-stdio")).configure(
        |command| {
            command.env("T402_MCP_PAYER", payer.to_checksum(None));
        },
    );
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let paid = pay_for_weather(client.peer().clone(), key).await;
    assert_eq!(answer_text(&paid), "Paris: sunny, 21 °C");
    let settlement = paid.settlement.as_ref().expect("a settlement in _meta");
    assert!(settlement.success, "{settlement:?}");
    assert!(
        settlement
            .transaction
            .as_deref()
            .is_some_and(|tx| tx.starts_with("0x"))
    );
    assert_eq!(
        settlement.payer.as_deref().map(str::to_lowercase),
        Some(payer.to_checksum(None).to_lowercase())
    );
    assert_eq!(paid.paid.as_ref().unwrap().amount, 10_000u64.into());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_paid_tool_over_streamable_http_is_paid_and_settled() {
    let devnet = Arc::new(Devnet::new(CHAIN));
    let token = devnet
        .deploy_test_token("USD Coin", "2", "USDC", 6)
        .unwrap();
    let key = PrivateKeySigner::random();
    devnet
        .mint(token, key.address(), U256::from(1_000_000u64))
        .unwrap();
    let facilitator = devnet_facilitator(&devnet).unwrap();
    let pay_to = Address::repeat_byte(0x42);
    // One paid server per MCP session, all verifying and settling through the same facilitator.
    let service = StreamableHttpService::new(
        move || {
            paid_weather(facilitator.clone(), token, pay_to)
                .map_err(|err| std::io::Error::other(err.to_string()))
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let base = t402_testkit::serve(axum::Router::new().nest_service("/mcp", service)).await;

    let client = ()
        .serve(StreamableHttpClientTransport::from_uri(format!(
            "{base}/mcp"
        )))
        .await
        .unwrap();
    let paid = pay_for_weather(client.peer().clone(), key.clone()).await;
    assert_eq!(answer_text(&paid), "Paris: sunny, 21 °C");
    let settlement = paid.settlement.as_ref().expect("a settlement in _meta");
    assert!(settlement.success, "{settlement:?}");
    // The chain moved: the payee holds the price, the payer the rest.
    assert_eq!(
        devnet.token_balance(token, pay_to).await.unwrap(),
        U256::from(10_000u64)
    );
    assert_eq!(
        devnet.token_balance(token, key.address()).await.unwrap(),
        U256::from(990_000u64)
    );
    client.cancel().await.unwrap();
}
