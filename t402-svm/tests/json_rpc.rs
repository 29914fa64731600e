//! The Solana JSON-RPC backend against a scripted node (wiremock): the requests it sends and how
//! it reads answers, errors and timeouts. (The facilitator and client paths run on litesvm in
//! `exact_svm.rs`.)

use std::time::Duration;

use serde_json::json;
use t402_svm::json_rpc::SolanaJsonRpc;
use t402_svm::pubkey::{Pubkey, TOKEN_PROGRAM};
use t402_svm::rpc::{RpcError, SolanaRpc};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn node(method_name: &str, result: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"method": method_name})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"jsonrpc": "2.0", "id": 1, "result": result})),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn blockhash_account_and_status_are_read() {
    let hash = Pubkey([5; 32]);
    let server = node(
        "getLatestBlockhash",
        json!({"value": {"blockhash": hash.to_string(), "lastValidBlockHeight": 9}}),
    )
    .await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    assert_eq!(rpc.latest_blockhash().await.unwrap(), [5; 32]);

    let mut mint = vec![0u8; 82];
    mint[44] = 6;
    mint[45] = 1;
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&mint);
    let server = node(
        "getAccountInfo",
        json!({"value": {"owner": TOKEN_PROGRAM.to_string(), "data": [encoded, "base64"], "lamports": 1461600}}),
    )
    .await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    let account = rpc.account(Pubkey([1; 32])).await.unwrap().unwrap();
    assert_eq!(account.owner, TOKEN_PROGRAM);
    assert_eq!(t402_svm::rpc::mint_decimals(&account.data), Some(6));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["params"][1]["encoding"], "base64");

    let server = node(
        "getSignatureStatuses",
        json!({"value": [{"confirmationStatus": "confirmed", "err": null}]}),
    )
    .await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    assert_eq!(rpc.status("sig".into()).await.unwrap(), Some(Ok(())));
    let server = node("getSignatureStatuses", json!({"value": [null]})).await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    assert_eq!(rpc.status("sig".into()).await.unwrap(), None);
}

#[tokio::test]
async fn simulation_asks_for_signature_verification_and_reports_errors() {
    let server = node(
        "simulateTransaction",
        json!({"value": {"err": {"InstructionError": [2, {"Custom": 1}]}, "logs": []}}),
    )
    .await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    let outcome = rpc.simulate(vec![1, 2, 3]).await.unwrap();
    assert!(outcome.unwrap_err().contains("Custom"));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["params"][1]["sigVerify"], true);
    assert_eq!(sent["params"][1]["replaceRecentBlockhash"], false);
    assert_eq!(sent["params"][0], "AQID");
}

#[tokio::test]
async fn node_errors_and_silence_are_typed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32002, "message": "Blockhash not found"}})))
        .mount(&server)
        .await;
    let rpc = SolanaJsonRpc::new(&server.uri()).unwrap();
    assert!(
        matches!(rpc.send(vec![0]).await, Err(RpcError::Node(message)) if message.contains("Blockhash not found"))
    );

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let rpc = SolanaJsonRpc::new(&slow.uri())
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    assert!(matches!(
        rpc.latest_blockhash().await,
        Err(RpcError::Unavailable(_))
    ));
    assert!(SolanaJsonRpc::new("ws://node").is_err());
    let shown = format!(
        "{:?}",
        SolanaJsonRpc::new("https://rpc.example/?api-key=SECRET").unwrap()
    );
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_node_error_does_not_quote_the_url() {
    let rpc =
        t402_svm::json_rpc::SolanaJsonRpc::new("http://127.0.0.1:1/SECRETKEY9?api-key=SECRETQ")
            .unwrap();
    let err = t402_svm::rpc::SolanaRpc::latest_blockhash(&rpc)
        .await
        .unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), format!("{rpc:?}")] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    let err = t402_svm::json_rpc::SolanaJsonRpc::new("ftp://x/SECRETKEY9").unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    let err = t402_svm::json_rpc::SolanaJsonRpc::new("http://[bad/SECRETKEY9").unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
}
