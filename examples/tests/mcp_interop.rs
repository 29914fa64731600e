//! MCP payments over stdio, settling on anvil: with the x402 Python reference
//! (`x402[mcp,evm]` 2.25.0, `mcp` 1.30.0, installed into `.venv-mcp` by `scripts/test`) both
//! ways, and with the TypeScript MCP SDK (`@modelcontextprotocol/sdk` 1.32.2 with `@x402/core`
//! and `@x402/evm` 2.27.0, from the npm lockfile) paying our tool:
//! - the reference's paying MCP client (`x402.mcp`) pays our paid tool (the
//!   `mcp-weather-stdio` server, settling through its facilitator on the node);
//! - our `PayingClient` pays a FastMCP tool wrapped with the reference's payment wrapper, which
//!   verifies and settles through our facilitator service over HTTP;
//! - the TypeScript SDK's client lists our tool (no `outputSchema`, which it would validate error
//!   results against), reads the payment-required result, and pays with `@x402/core`.

use std::path::PathBuf;

use alloy_primitives::{Address, U256};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use t402_examples::mcp_paid_tool::{CHAIN, weather_payer};
use t402_mcp::{PayingClient, codec};
use t402_testkit::{AnvilWorld, private_key_hex};

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

/// The environment that makes `mcp-weather-stdio` settle on `world`'s node, paying `pay_to`
/// (its facilitator key funded with gas money; keys travel in the environment).
async fn stdio_server_on(world: &AnvilWorld, pay_to: Address) -> Vec<(&'static str, String)> {
    vec![
        ("T402_MCP_RPC_URL", world.anvil.url.clone()),
        ("T402_MCP_TOKEN", world.token.to_checksum(None)),
        ("T402_MCP_PAY_TO", pay_to.to_checksum(None)),
        (
            "T402_MCP_FACILITATOR_KEY",
            private_key_hex(&world.funded_key().await),
        ),
    ]
}

#[tokio::test]
async fn the_typescript_mcp_sdk_pays_our_tool_over_stdio() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let pay_to = Address::repeat_byte(0x43);
    let env: serde_json::Map<String, serde_json::Value> = stdio_server_on(&world, pay_to)
        .await
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.into()))
        .collect();
    let input = serde_json::json!({
        "command": env!("CARGO_BIN_EXE_mcp-weather-stdio"),
        "env": env,
        "privateKey": private_key_hex(&world.payer),
        "rpcUrl": world.anvil.url,
        "tool": "get_weather",
    });
    // The key goes on standard input, not the command line.
    let mut node = tokio::process::Command::new("node")
        .arg("scripts/mcp-typescript-client.mjs")
        .current_dir(workspace())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = node.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, input.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = node.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "the TypeScript client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Listed without an outputSchema; the unpaid result as the SDK parsed it, the same JSON
    // as structured content and as text.
    assert!(output["listed"].get("outputSchema").is_none(), "{output}");
    assert_eq!(output["unpaid"]["isError"], true);
    assert_eq!(output["unpaid"]["structuredContent"]["x402Version"], 2);
    let text = output["unpaid"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(text).unwrap(),
        output["unpaid"]["structuredContent"]
    );
    // Paid: the output, and the settlement in `_meta`.
    assert_eq!(output["paid"]["content"][0]["text"], "Paris: sunny, 21 °C");
    let settlement = &output["paid"]["_meta"]["x402/payment-response"];
    assert_eq!(settlement["success"], true, "{output}");
    assert_eq!(
        world.balance_of(world.token, pay_to).await,
        U256::from(10_000u64)
    );
}

#[tokio::test]
async fn the_python_reference_client_pays_our_tool_over_stdio() {
    let Some(world) = AnvilWorld::start().await else {
        return;
    };
    let key = world.payer.clone();
    let pay_to = Address::repeat_byte(0x42);
    let output = tokio::process::Command::new(python())
        .arg(workspace().join("scripts/mcp-python-client.py"))
        .arg("get_weather")
        .arg(env!("CARGO_BIN_EXE_mcp-weather-stdio"))
        .env("T402_PY_KEY", private_key_hex(&key))
        .envs(stdio_server_on(&world, pay_to).await)
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

    let payer = weather_payer(key.clone(), &token.to_checksum(None)).unwrap();
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
