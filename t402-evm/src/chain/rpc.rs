//! [`EvmChain`] over JSON-RPC (http or https) through the alloy provider.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::{TransactionInput, TransactionRequest};
use alloy_transport::{RpcError, TransportError};
use t402_core::error::BoxFuture;

use super::{CallRequest, ChainError, EvmChain, Fees, TxReceipt, decode_revert};

/// The default time allowed for one JSON-RPC request.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// A chain reached over JSON-RPC.
///
/// The URL often carries an API key, so `Debug` shows only its scheme, host and port.
#[derive(Clone)]
pub struct RpcChain {
    provider: RootProvider,
    chain_id: u64,
    timeout: Duration,
    endpoint: String,
}

impl fmt::Debug for RpcChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcChain")
            .field("endpoint", &self.endpoint)
            .field("chain_id", &self.chain_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RpcChain {
    /// A chain at `url` (http or https) serving `chain_id`. Nothing is sent until first use;
    /// [`RpcChain::connect`] also checks the node's chain id.
    pub fn new(url: &str, chain_id: u64) -> Result<Self, ChainError> {
        let parsed: url::Url = url.parse().map_err(|err| ChainError::Transport {
            message: format!("invalid RPC URL: {err}"),
            source: None,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChainError::Transport {
                message: format!(
                    "RPC URL scheme must be http or https, not {}",
                    parsed.scheme()
                ),
                source: None,
            });
        }
        let endpoint = match parsed.port() {
            Some(port) => format!(
                "{}://{}:{port}",
                parsed.scheme(),
                parsed.host_str().unwrap_or("")
            ),
            None => format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or("")),
        };
        let is_local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let client =
            alloy_rpc_client::RpcClient::new(super::transport::KeyedHttp::new(parsed), is_local);
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_client(client);
        Ok(Self {
            provider,
            chain_id,
            timeout: DEFAULT_RPC_TIMEOUT,
            endpoint,
        })
    }

    /// Connects to `url`, asks the node for its chain id and refuses a node serving another
    /// chain than `expected` (when given).
    pub async fn connect(url: &str, expected: Option<u64>) -> Result<Self, ChainError> {
        let mut chain = Self::new(url, expected.unwrap_or(0))?;
        let actual = chain
            .bounded(chain.provider.get_chain_id().into_future())
            .await?;
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(ChainError::WrongChain { expected, actual });
        }
        chain.chain_id = actual;
        Ok(chain)
    }

    /// Sets the time allowed for each request (default [`DEFAULT_RPC_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a raw JSON-RPC request (for node-specific methods such as `anvil_setCode`).
    pub async fn raw_request(
        &self,
        method: &'static str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, ChainError> {
        self.bounded(
            self.provider
                .raw_request::<_, serde_json::Value>(method.into(), params),
        )
        .await
    }

    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, TransportError>>,
    ) -> Result<T, ChainError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(map_error),
            Err(_) => Err(ChainError::Timeout(self.timeout)),
        }
    }

    fn request_of(call: CallRequest) -> TransactionRequest {
        let mut request = TransactionRequest::default()
            .to(call.to)
            .input(TransactionInput::new(call.data));
        request.from = call.from;
        request
    }
}

/// Maps a transport error: reverts keep their data and decoded reason.
fn map_error(err: TransportError) -> ChainError {
    match &err {
        RpcError::ErrorResp(payload) => {
            let message = payload.message.to_string();
            if let Some(data) = payload.as_revert_data() {
                let reason = decode_revert(&data);
                return ChainError::Reverted {
                    data,
                    message: reason,
                };
            }
            let lower = message.to_ascii_lowercase();
            if lower.contains("revert") {
                return ChainError::Reverted {
                    data: Bytes::new(),
                    message,
                };
            }
            ChainError::Node {
                code: payload.code,
                message,
            }
        }
        // Transport errors quote the URL they failed on, and RPC URLs carry API keys: only the
        // redacted text is kept, never the error itself.
        _ => ChainError::Transport {
            message: t402_core::redact::redact_urls(&err.to_string()).into_owned(),
            source: None,
        },
    }
}

impl EvmChain for RpcChain {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        Box::pin(async move {
            self.bounded(self.provider.call(Self::request_of(call)).into_future())
                .await
        })
    }

    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            self.bounded(
                self.provider
                    .estimate_gas(Self::request_of(call))
                    .into_future(),
            )
            .await
        })
    }

    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        Box::pin(async move {
            self.bounded(self.provider.get_code_at(address).into_future())
                .await
        })
    }

    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>> {
        Box::pin(async move {
            self.bounded(self.provider.get_balance(address).into_future())
                .await
        })
    }

    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            self.bounded(
                self.provider
                    .get_transaction_count(address)
                    .pending()
                    .into_future(),
            )
            .await
        })
    }

    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>> {
        Box::pin(async move {
            let estimate = self.bounded(self.provider.estimate_eip1559_fees()).await?;
            Ok(Fees {
                max_fee_per_gas: estimate.max_fee_per_gas,
                max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
            })
        })
    }

    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>> {
        Box::pin(async move {
            let pending = self
                .bounded(self.provider.send_raw_transaction(&raw))
                .await
                .map_err(|err| match err {
                    ChainError::Node { message, .. } => ChainError::Rejected { message },
                    other => other,
                })?;
            Ok(*pending.tx_hash())
        })
    }

    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>> {
        Box::pin(async move {
            let receipt = self
                .bounded(self.provider.get_transaction_receipt(hash).into_future())
                .await?;
            Ok(receipt.map(|r| TxReceipt {
                transaction_hash: r.transaction_hash,
                success: r.status(),
                block_number: r.block_number.unwrap_or_default(),
                gas_used: r.gas_used,
                from: r.from,
                to: r.to,
                contract_address: r.contract_address,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_url_path_and_query() {
        let chain = RpcChain::new("https://node.example:8545/v2/SECRETKEY?key=SECRET2", 8453)
            .expect("valid url");
        let shown = format!("{chain:?}");
        assert!(shown.contains("https://node.example:8545"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }

    /// A node that accepts connections and never answers.
    fn silent_node() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, format!("127.0.0.1:{port}"))
    }

    #[tokio::test]
    async fn a_silent_node_times_out() {
        let (_listener, address) = silent_node();
        let chain = RpcChain::new(&format!("http://{address}"), 1)
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let err = chain.code(Address::ZERO).await.unwrap_err();
        assert!(matches!(err, ChainError::Timeout(_)), "{err:?}");
    }

    #[tokio::test]
    async fn https_goes_through_tls() {
        // A plain-TCP peer that answers garbage: the TLS handshake fails, which shows the https
        // URL was handled by the TLS connector rather than refused.
        let (listener, address) = silent_node();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot tls");
            }
        });
        let chain = RpcChain::new(&format!("https://{address}"), 1)
            .unwrap()
            .with_timeout(Duration::from_secs(5));
        let err = chain.code(Address::ZERO).await.unwrap_err();
        let text = format!("{err:?}").to_ascii_lowercase();
        assert!(matches!(err, ChainError::Transport { .. }), "{err:?}");
        assert!(
            text.contains("invalidmessage"),
            "not a TLS record error: {text}"
        );
    }

    #[test]
    fn only_http_and_https_urls() {
        assert!(RpcChain::new("ws://127.0.0.1:8545", 1).is_err());
        assert!(RpcChain::new("not a url", 1).is_err());
        assert!(RpcChain::new("http://127.0.0.1:8545", 1).is_ok());
    }
}
