//! [`SolanaRpc`] over Solana's JSON-RPC (http or https), with a timeout on every request.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use t402_core::error::BoxFuture;

use crate::pubkey::Pubkey;
use crate::rpc::{AccountInfo, RpcError, SolanaRpc};

/// The default time allowed for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Solana node over JSON-RPC. `Debug` shows the endpoint without its path or query (which
/// often carry an API key).
#[derive(Clone)]
pub struct SolanaJsonRpc {
    http: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    commitment: &'static str,
}

impl fmt::Debug for SolanaJsonRpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SolanaJsonRpc")
            .field(
                "endpoint",
                &format!(
                    "{}://{}",
                    self.url.scheme(),
                    self.url.host_str().unwrap_or("")
                ),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SolanaJsonRpc {
    /// A node at `url` (http or https).
    pub fn new(url: &str) -> Result<Self, RpcError> {
        let url: reqwest::Url = url
            .parse()
            .map_err(|err| RpcError::Unavailable(format!("invalid RPC URL: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RpcError::Unavailable(
                "RPC URL must be http or https".into(),
            ));
        }
        Ok(Self {
            http: reqwest::Client::new(),
            url,
            timeout: DEFAULT_TIMEOUT,
            commitment: "confirmed",
        })
    }

    /// Sets the time allowed for each request.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let exchange = async {
            let response = self
                .http
                .post(self.url.clone())
                .json(&body)
                .send()
                .await
                .map_err(|err| RpcError::Unavailable(err.without_url().to_string()))?;
            response
                .json::<Value>()
                .await
                .map_err(|err| RpcError::Unavailable(err.without_url().to_string()))
        };
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                RpcError::Unavailable(format!("{method}: no answer within {:?}", self.timeout))
            })??;
        if let Some(error) = answer.get("error") {
            return Err(RpcError::Node(format!("{method}: {error}")));
        }
        answer
            .get("result")
            .cloned()
            .ok_or_else(|| RpcError::Node(format!("{method}: no result")))
    }
}

fn malformed(method: &str) -> RpcError {
    RpcError::Node(format!("{method}: unexpected answer"))
}

impl SolanaRpc for SolanaJsonRpc {
    fn latest_blockhash(&self) -> BoxFuture<'_, Result<[u8; 32], RpcError>> {
        Box::pin(async move {
            let result = self
                .call(
                    "getLatestBlockhash",
                    json!([{"commitment": self.commitment}]),
                )
                .await?;
            let text = result["value"]["blockhash"]
                .as_str()
                .ok_or_else(|| malformed("getLatestBlockhash"))?;
            text.parse::<Pubkey>()
                .map(|hash| hash.0)
                .map_err(|_| malformed("getLatestBlockhash"))
        })
    }

    fn account(&self, key: Pubkey) -> BoxFuture<'_, Result<Option<AccountInfo>, RpcError>> {
        Box::pin(async move {
            let result = self
                .call(
                    "getAccountInfo",
                    json!([key.to_string(), {"encoding": "base64", "commitment": self.commitment}]),
                )
                .await?;
            let value = &result["value"];
            if value.is_null() {
                return Ok(None);
            }
            let owner = value["owner"]
                .as_str()
                .and_then(|o| o.parse().ok())
                .ok_or_else(|| malformed("getAccountInfo"))?;
            let data = value["data"][0]
                .as_str()
                .and_then(|d| STANDARD.decode(d).ok())
                .ok_or_else(|| malformed("getAccountInfo"))?;
            Ok(Some(AccountInfo {
                owner,
                data,
                lamports: value["lamports"].as_u64().unwrap_or(0),
            }))
        })
    }

    fn simulate(
        &self,
        transaction: Vec<u8>,
    ) -> BoxFuture<'_, Result<Result<(), String>, RpcError>> {
        Box::pin(async move {
            let result = self
                .call(
                    "simulateTransaction",
                    json!([STANDARD.encode(transaction), {
                        "sigVerify": true, "replaceRecentBlockhash": false,
                        "commitment": self.commitment, "encoding": "base64"
                    }]),
                )
                .await?;
            let error = &result["value"]["err"];
            Ok(if error.is_null() {
                Ok(())
            } else {
                Err(error.to_string())
            })
        })
    }

    fn send(&self, transaction: Vec<u8>) -> BoxFuture<'_, Result<String, RpcError>> {
        Box::pin(async move {
            let result = self
                .call(
                    "sendTransaction",
                    json!([STANDARD.encode(transaction), {"encoding": "base64", "skipPreflight": true}]),
                )
                .await?;
            result
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed("sendTransaction"))
        })
    }

    fn status(
        &self,
        signature: String,
    ) -> BoxFuture<'_, Result<Option<Result<(), String>>, RpcError>> {
        Box::pin(async move {
            let result = self
                .call("getSignatureStatuses", json!([[signature]]))
                .await?;
            let status = &result["value"][0];
            if status.is_null() {
                return Ok(None);
            }
            if !status["err"].is_null() {
                return Ok(Some(Err(status["err"].to_string())));
            }
            Ok(match status["confirmationStatus"].as_str() {
                Some("confirmed" | "finalized") => Some(Ok(())),
                _ => None,
            })
        })
    }

    fn blockhash_valid(
        &self,
        blockhash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<bool>, RpcError>> {
        Box::pin(async move {
            let hash = bs58::encode(blockhash).into_string();
            let result = self
                .call(
                    "isBlockhashValid",
                    json!([hash, {"commitment": self.commitment}]),
                )
                .await?;
            Ok(result["value"].as_bool())
        })
    }
}
