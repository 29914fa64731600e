//! MCP payments with the x402 Python reference (`x402[mcp,evm]` 2.25.0, `mcp` 1.30.0, installed
//! into `.venv-mcp` by `scripts/test`), over stdio, both ways, settling on anvil:
//! - the reference's paying MCP client (`x402.mcp`) pays our paid tool (the
//!   `mcp-weather-stdio` server, settling through its facilitator on the node);
//! - our `PayingClient` pays a FastMCP tool wrapped with the reference's payment wrapper, which
//!   verifies and settles through our facilitator service over HTTP.

use std::path::PathBuf;
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use t402_client::{Payer, SpendPolicy};
use t402_core::{Network, NetworkPattern};
use t402_evm::ExactEvmClient;
use t402_examples::mcp_paid_tool::CHAIN;
use t402_mcp::{PayingClient, codec};
use t402_testkit::AnvilWorld;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The virtual environment's Python, which `scripts/test` installs.
fn python() -> PathBuf {
    let python = workspace().join(".venv-mcp/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (it installs scripts/mcp-python-requirements.txt)",
        python.display()
    );
    python
}

#[tokio::test]
async fn the_python_reference_client_pays_our_tool_over_stdio() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let key = world.payer.clone();
    let facilitator_key = world.funded_key().await;
    let pay_to = Address::repeat_byte(0x42);
    let output = tokio::process::Command::new(python())
        .arg(workspace().join("scripts/mcp-python-client.py"))
        .arg("get_weather")
        .arg(env!("CARGO_BIN_EXE_mcp-weather-stdio"))
        .env(
            "T402_PY_KEY",
            format!("0x{}", alloy_primitives::hex::encode(key.to_bytes())),
        )
        .env("T402_MCP_RPC_URL", &world.anvil.url)
        .env("T402_MCP_TOKEN", world.token.to_checksum(None))
        .env("T402_MCP_PAY_TO", pay_to.to_checksum(None))
        .env(
            "T402_MCP_FACILITATOR_KEY",
            format!(
                "0x{}",
                alloy_primitives::hex::encode(facilitator_key.to_bytes())
            ),
        )
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The unpaid probe: our payment-required result as the reference reads it.
    assert_eq!(answer["probe_is_error"], true);
    assert_eq!(answer["probe_structured"]["x402Version"], 2);
    assert_eq!(
        answer["probe_structured"]["resource"]["url"],
        "mcp://tool/get_weather"
    );
    // The paid call: the tool's output and our settlement, read from `_meta`.
    assert_eq!(answer["text"], "Paris: sunny, 21 °C");
    assert_eq!(answer["is_error"], false);
    assert_eq!(answer["payment_made"], true);
    let settlement = &answer["payment_response"];
    assert_eq!(settlement["success"], true, "{answer}");
    assert_eq!(settlement["network"], format!("eip155:{CHAIN}"));
    assert_eq!(
        settlement["payer"].as_str().map(str::to_lowercase),
        Some(key.address().to_checksum(None).to_lowercase())
    );
    assert!(
        settlement["transaction"]
            .as_str()
            .is_some_and(|tx| tx.len() == 66)
    );
    // The node moved the price.
    assert_eq!(
        world.balance_of(world.token, pay_to).await,
        U256::from(10_000u64)
    );
}

#[tokio::test]
async fn our_client_pays_a_tool_wrapped_by_the_python_reference() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let (token, key, pay_to) = (world.token, world.payer.clone(), world.pay_to);
    let facilitator =
        t402_testkit::serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let server = tokio::process::Command::new(python()).configure(|command| {
        command
            .arg(workspace().join("scripts/mcp-python-server.py"))
            .env("T402_FACILITATOR_URL", &facilitator)
            .env("T402_NETWORK", format!("eip155:{CHAIN}"))
            .env("T402_TOKEN", token.to_checksum(None))
            .env("T402_PAY_TO", pay_to.to_checksum(None));
    });
    let client = ().serve(TokioChildProcess::new(server).unwrap()).await.unwrap();

    // Unpaid: the reference's payment-required result, read by our codec.
    let unpaid = client
        .peer()
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    let required = codec::read_payment_required(&unpaid).expect("a payment-required result");
    assert_eq!(required["accepts"][0]["amount"], "10000");
    assert_eq!(
        required["accepts"][0]["asset"]
            .as_str()
            .map(str::to_lowercase),
        Some(token.to_checksum(None).to_lowercase())
    );

    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(ExactEvmClient::new(key.clone())),
        )
        .policy(
            SpendPolicy::new()
                .allow_asset(
                    Network::eip155(CHAIN),
                    &token.to_checksum(None),
                    6,
                    Some("0.05"),
                )
                .unwrap(),
        );
    let paid = PayingClient::new(client.peer().clone(), payer)
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    let text = paid.result.content[0].as_text().unwrap().text.as_str();
    assert!(text.contains("Paris: sunny"), "{text}");
    let settlement = paid.settlement.as_ref().expect("a settlement in _meta");
    assert!(settlement.success, "{settlement:?}");
    assert_eq!(world.token_balance(pay_to).await, U256::from(10_000u64));
    client.cancel().await.unwrap();
}
