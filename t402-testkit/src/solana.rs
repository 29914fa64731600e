//! A Solana JSON-RPC front over the in-process runtime (litesvm): the methods t402's Solana
//! client and facilitator call (`getLatestBlockhash`, `getAccountInfo`, `simulateTransaction`,
//! `sendTransaction`, `getSignatureStatuses`, `isBlockhashValid`, plus `getHealth`,
//! `getBalance` and `getSlot`), so processes that only speak JSON-RPC — the `t402` binary, node
//! scripts — pay and settle on a real Solana runtime (feature `solana`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use t402_svm::litesvm::LiteSvmRuntime;
use t402_svm::pubkey::Pubkey;
use t402_svm::rpc::{RpcError, SolanaRpc};

/// Serves the JSON-RPC front of `runtime` on a free loopback port; returns its URL.
pub async fn serve_rpc(runtime: Arc<LiteSvmRuntime>) -> String {
    let app = axum::Router::new()
        .route("/", post(handle))
        .with_state(runtime);
    crate::serve(app).await
}

fn context() -> Value {
    json!({"slot": 1, "apiVersion": "2.2.0"})
}

fn param_str(params: &Value, index: usize) -> Result<&str, RpcError> {
    params[index]
        .as_str()
        .ok_or_else(|| RpcError::Node(format!("parameter {index} must be a string")))
}

fn transaction_bytes(params: &Value) -> Result<Vec<u8>, RpcError> {
    let text = param_str(params, 0)?;
    let base64 = params[1]["encoding"].as_str() == Some("base64");
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|err| RpcError::Node(format!("base64: {err}")))
    } else {
        bs58::decode(text)
            .into_vec()
            .map_err(|err| RpcError::Node(format!("base58: {err}")))
    }
}

fn pubkey(params: &Value, index: usize) -> Result<Pubkey, RpcError> {
    param_str(params, index)?
        .parse()
        .map_err(|_| RpcError::Node(format!("parameter {index} is not a public key")))
}

async fn call(runtime: &LiteSvmRuntime, method: &str, params: &Value) -> Result<Value, RpcError> {
    Ok(match method {
        "getHealth" => json!("ok"),
        "getSlot" | "getBlockHeight" => json!(1),
        "getLatestBlockhash" => {
            let hash = runtime.latest_blockhash().await?;
            json!({"context": context(), "value": {
                "blockhash": bs58::encode(hash).into_string(),
                "lastValidBlockHeight": 150
            }})
        }
        "getAccountInfo" => {
            let value = match runtime.account(pubkey(params, 0)?).await? {
                None => Value::Null,
                Some(account) => json!({
                    "owner": account.owner.to_string(),
                    "data": [base64::engine::general_purpose::STANDARD.encode(&account.data), "base64"],
                    "lamports": account.lamports,
                    "executable": false,
                    "rentEpoch": 0,
                    "space": account.data.len(),
                }),
            };
            json!({"context": context(), "value": value})
        }
        "getBalance" => {
            let lamports = runtime
                .account(pubkey(params, 0)?)
                .await?
                .map_or(0, |account| account.lamports);
            json!({"context": context(), "value": lamports})
        }
        "simulateTransaction" => {
            let outcome = runtime.simulate(transaction_bytes(params)?).await?;
            let err = match outcome {
                Ok(()) => Value::Null,
                Err(reason) => json!(reason),
            };
            json!({"context": context(), "value": {"err": err, "logs": [], "unitsConsumed": 0}})
        }
        "sendTransaction" => json!(runtime.send(transaction_bytes(params)?).await?),
        "getSignatureStatuses" => {
            let mut statuses = Vec::new();
            for signature in params[0].as_array().into_iter().flatten() {
                let signature = signature.as_str().unwrap_or_default().to_owned();
                statuses.push(match runtime.status(signature).await? {
                    None => Value::Null,
                    Some(outcome) => json!({
                        "slot": 1,
                        "confirmations": null,
                        "err": outcome.err(),
                        "confirmationStatus": "confirmed",
                    }),
                });
            }
            json!({"context": context(), "value": statuses})
        }
        "isBlockhashValid" => {
            let hash: Pubkey = param_str(params, 0)?
                .parse()
                .map_err(|_| RpcError::Node("not a blockhash".into()))?;
            let valid = runtime.blockhash_valid(hash.0).await?.unwrap_or(false);
            json!({"context": context(), "value": valid})
        }
        other => return Err(RpcError::Node(format!("method {other} is not served"))),
    })
}

async fn handle(
    State(runtime): State<Arc<LiteSvmRuntime>>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let id = request["id"].clone();
    let method = request["method"].as_str().unwrap_or_default().to_owned();
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    Json(match call(&runtime, &method, &params).await {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(err) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32002, "message": err.to_string()}})
        }
    })
}
