//! `t402 facilitator --config FILE`: serves the facilitator HTTP service for the chains of a
//! TOML file, with RPC URLs and keys read from environment variables.
//!
//! ```toml
//! listen = "127.0.0.1:4020"
//!
//! [[chains]]
//! network = "eip155:84532"
//! rpc_url_env = "BASE_SEPOLIA_RPC_URL"
//! key_envs = ["FACILITATOR_KEY_1", "FACILITATOR_KEY_2"]
//! receipt_timeout_secs = 60      # optional
//! ```
//!
//! With `store_url_env = "T402_STORE_URL"` at the top level, settlements are recorded in the
//! Redis the variable names (`redis://host:port`), shared by every replica: a settlement retried
//! on any replica answers the recorded result instead of sending again.

use std::sync::Arc;
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use serde::Deserialize;
use t402_core::{LocalFacilitator, Network};
use t402_evm::chain::RpcChain;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};

use crate::error::{CliError, exit};

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The address to listen on (`127.0.0.1:4020`; port 0 picks a free one).
    pub(crate) listen: String,
    /// The chains served.
    pub(crate) chains: Vec<ChainConfig>,
    /// The environment variable holding the settlement store's URL (Redis), when settlements
    /// are recorded across replicas.
    #[serde(default)]
    pub(crate) store_url_env: Option<String>,
}

/// One chain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainConfig {
    /// CAIP-2 network (`eip155:84532`).
    pub(crate) network: String,
    /// The environment variable holding the RPC URL (URLs often carry API keys).
    pub(crate) rpc_url_env: String,
    /// The environment variables holding the signer keys.
    pub(crate) key_envs: Vec<String>,
    /// How long settlement waits for a receipt.
    pub(crate) receipt_timeout_secs: Option<u64>,
}

fn env(name: &str) -> Result<String, CliError> {
    std::env::var(name).map_err(|_| {
        CliError::new(
            exit::INPUT,
            format!("environment variable {name} is not set"),
        )
    })
}

/// Reads the configuration and builds the facilitator (connecting to every chain).
pub(crate) async fn build(path: &std::path::Path) -> Result<(Config, LocalFacilitator), CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| CliError::new(exit::INPUT, format!("{}: {err}", path.display())))?;
    let config: Config = toml::from_str(&text)
        .map_err(|err| CliError::new(exit::INPUT, format!("{}: {err}", path.display())))?;
    // Every variable the configuration names must be set before anything is connected.
    if let Some(name) = &config.store_url_env {
        env(name)?;
    }
    if config.chains.is_empty() {
        return Err(CliError::new(
            exit::INPUT,
            "the configuration names no chain",
        ));
    }
    let mut facilitator = LocalFacilitator::new();
    for chain in &config.chains {
        let network = Network::parse(&chain.network).map_err(|err| {
            CliError::new(exit::INPUT, format!("network {}: {err}", chain.network))
        })?;
        let chain_id = network
            .eip155_chain_id()
            .ok_or_else(|| CliError::new(exit::INPUT, format!("{network} is not an EVM chain")))?;
        let url = env(&chain.rpc_url_env)?;
        let rpc = RpcChain::connect(&url, Some(chain_id))
            .await
            .map_err(|err| {
                CliError::new(
                    exit::TRANSPORT,
                    format!("{network} via ${}: {err}", chain.rpc_url_env),
                )
            })?;
        let mut keys = Vec::new();
        for name in &chain.key_envs {
            let key: PrivateKeySigner = env(name)?.trim().parse().map_err(|_| {
                CliError::new(exit::INPUT, format!("{name} is not a hex private key"))
            })?;
            keys.push(key);
        }
        let signers = FacilitatorSigners::new(chain_id, keys)
            .map_err(|err| CliError::new(exit::INPUT, format!("{network}: {err}")))?;
        let mut evm = ExactEvmFacilitator::new(rpc, signers)
            .map_err(|err| CliError::new(exit::INPUT, format!("{network}: {err}")))?;
        if let Some(seconds) = chain.receipt_timeout_secs {
            evm = evm.with_receipt_timeout(Duration::from_secs(seconds));
        }
        tracing::info!(%network, signers = ?evm.signers().addresses(), "serving chain");
        let evm = Arc::new(evm);
        if network.legacy_name().is_some() {
            // v1 clients and servers name the chain by its v1 name (`base-sepolia`).
            facilitator = facilitator
                .register_v1([network.clone()], evm.clone())
                .expect("the network has a v1 name");
        }
        facilitator = facilitator.register([network], evm);
    }
    Ok((config, facilitator))
}

/// Serves until interrupted.
pub(crate) async fn serve(path: &std::path::Path) -> Result<(), CliError> {
    let (config, facilitator) = build(path).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|err| CliError::new(exit::INPUT, format!("listen on {}: {err}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    println!("facilitator listening on http://{address}");
    tracing::info!(%address, "facilitator listening");
    let facilitator: Arc<dyn t402_core::Facilitator> = match &config.store_url_env {
        Some(name) => {
            let url = env(name)?;
            let store = t402_server::store::RedisSettlementStore::connect(&url)
                .await
                .map_err(|err| {
                    CliError::new(
                        exit::TRANSPORT,
                        format!("settlement store via ${name}: {err}"),
                    )
                })?;
            tracing::info!(store = ?store, "settlements recorded in the shared store");
            Arc::new(t402_server::facilitator::RecordedFacilitator::new(
                facilitator,
                store,
            ))
        }
        // One process: records in memory, so settlement is still detached from the caller and
        // idempotent across retries.
        None => Arc::new(t402_server::facilitator::RecordedFacilitator::new(
            facilitator,
            t402_core::MemorySettlementStore::new(),
        )),
    };
    let router = t402_server::facilitator_router(facilitator);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))
}
