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
//!
//! Also at the top level, all optional:
//!
//! ```toml
//! api_key_envs = ["PARTNER_A_KEY"]   # bearer keys, named after their variables
//! rate_limit = { per_second = 20, burst = 40 }   # per key
//! metrics = true                     # GET /metrics (default true)
//! shutdown_grace_secs = 30           # on SIGTERM/SIGINT, wait this long for settlements
//! ```

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use serde::Deserialize;
use t402_core::{LocalFacilitator, Network};
use t402_evm::chain::RpcChain;
use t402_evm::{ExactEvmFacilitator, FacilitatorSigners};
use t402_server::facilitator::RecordedFacilitator;
use t402_server::facilitator_service::{ApiKeys, FacilitatorService, RateLimit};

use crate::error::{CliError, env, exit};

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
    /// The environment variables holding API keys; without any, the service is open.
    #[serde(default)]
    pub(crate) api_key_envs: Vec<String>,
    /// Requests per key.
    #[serde(default)]
    pub(crate) rate_limit: Option<RateLimitConfig>,
    /// Whether `/metrics` is served.
    #[serde(default = "yes")]
    pub(crate) metrics: bool,
    /// How long a shutdown waits for settlements in flight.
    #[serde(default = "default_grace")]
    pub(crate) shutdown_grace_secs: u64,
}

fn yes() -> bool {
    true
}

fn default_grace() -> u64 {
    30
}

/// A rate limit per API key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitConfig {
    /// Requests per second, sustained.
    pub(crate) per_second: NonZeroU32,
    /// Requests at once above it.
    pub(crate) burst: NonZeroU32,
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
    /// EVM: broadcast a payer's signed `approve(Permit2, max)` before settling a Permit2
    /// payment, paying its gas (`erc20ApprovalGasSponsoring`, listed in `/supported`).
    #[serde(default)]
    pub(crate) sponsor_erc20_approvals: bool,
}

/// An EVM chain: its node (the chain id checked) and its signer keys (hex).
async fn evm_chain(
    chain: &ChainConfig,
    network: &Network,
) -> Result<Arc<ExactEvmFacilitator>, CliError> {
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
        let key: PrivateKeySigner = env(name)?
            .trim()
            .parse()
            .map_err(|_| CliError::new(exit::INPUT, format!("{name} is not a hex private key")))?;
        keys.push(key);
    }
    let signers = FacilitatorSigners::new(chain_id, keys)
        .map_err(|err| CliError::new(exit::INPUT, format!("{network}: {err}")))?;
    let mut evm = ExactEvmFacilitator::new(rpc, signers)
        .map_err(|err| CliError::new(exit::INPUT, format!("{network}: {err}")))?;
    if let Some(seconds) = chain.receipt_timeout_secs {
        evm = evm.with_receipt_timeout(Duration::from_secs(seconds));
    }
    evm = evm.with_erc20_approval_sponsoring(chain.sponsor_erc20_approvals);
    tracing::info!(%network, signers = ?evm.signers().addresses(), "serving chain");
    Ok(Arc::new(evm))
}

/// A Solana cluster: its JSON-RPC node (asked for a blockhash, so an unreachable one fails at
/// start) and its fee-payer keys (base58, or a JSON array of 64 bytes).
async fn solana_chain(
    chain: &ChainConfig,
    network: &Network,
) -> Result<Arc<dyn t402_core::FacilitatorMechanism>, CliError> {
    use t402_svm::rpc::SolanaRpc;
    let url = env(&chain.rpc_url_env)?;
    let rpc = t402_svm::json_rpc::SolanaJsonRpc::new(&url).map_err(|err| {
        CliError::new(
            exit::INPUT,
            format!("{network} via ${}: {err}", chain.rpc_url_env),
        )
    })?;
    rpc.latest_blockhash().await.map_err(|err| {
        CliError::new(
            exit::TRANSPORT,
            format!("{network} via ${}: {err}", chain.rpc_url_env),
        )
    })?;
    let mut keys = Vec::new();
    for name in &chain.key_envs {
        let key = crate::keys::parse_solana_key(&env(name)?)
            .map_err(|err| CliError::new(exit::INPUT, format!("{name}: {}", err.message)))?;
        keys.push(key);
    }
    let svm = t402_svm::ExactSvmFacilitator::new(network.clone(), rpc, keys)
        .map_err(|err| CliError::new(exit::INPUT, format!("{network}: {err}")))?;
    tracing::info!(%network, "serving chain");
    Ok(Arc::new(svm))
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
    api_keys(&config)?;
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
        // EVM chains also settle `upto` (protocol v2), with the same keys and records.
        let (mechanism, upto): (
            Arc<dyn t402_core::FacilitatorMechanism>,
            Option<Arc<dyn t402_core::FacilitatorMechanism>>,
        ) = match network.as_str().split(':').next() {
            Some("eip155") => {
                let evm = evm_chain(chain, &network).await?;
                let upto = Arc::new(t402_upto::UptoEvmFacilitator::new(evm.clone()));
                (evm, Some(upto))
            }
            Some("solana") => (solana_chain(chain, &network).await?, None),
            _ => {
                return Err(CliError::new(
                    exit::INPUT,
                    format!(
                        "{network}: only EVM (eip155:*) and Solana (solana:*) chains are served"
                    ),
                ));
            }
        };
        if network.legacy_name().is_some() {
            // v1 clients and servers name the chain by its v1 name (`base-sepolia`).
            facilitator = facilitator
                .register_v1([network.clone()], mechanism.clone())
                .expect("the network has a v1 name");
        }
        if let Some(upto) = upto {
            facilitator = facilitator.register([network.clone()], upto);
        }
        facilitator = facilitator.register([network], mechanism);
    }
    Ok((config, facilitator))
}

/// The API keys the configuration names, each named after its variable.
fn api_keys(config: &Config) -> Result<Option<ApiKeys>, CliError> {
    if config.api_key_envs.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for name in &config.api_key_envs {
        keys.push((name.clone(), env(name)?.trim().to_owned()));
    }
    ApiKeys::named(keys)
        .map(Some)
        .map_err(|err| CliError::new(exit::INPUT, err.to_string()))
}

type Recorded = RecordedFacilitator<LocalFacilitator>;

/// The facilitator with its settlements recorded: in the configured store, else in memory.
async fn recorded(config: &Config, facilitator: LocalFacilitator) -> Result<Recorded, CliError> {
    match &config.store_url_env {
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
            Ok(RecordedFacilitator::new(facilitator, store))
        }
        // One process: records in memory, so settlement is still detached from the caller and
        // idempotent across retries.
        None => Ok(RecordedFacilitator::new(
            facilitator,
            t402_core::MemorySettlementStore::new(),
        )),
    }
}

/// `--check`: reads the configuration, connects to every chain and the store, prints what would
/// be served and exits.
pub(crate) async fn check(
    path: &std::path::Path,
    listen: Option<&str>,
) -> Result<crate::output::Output, CliError> {
    let (config, facilitator) = build(path).await?;
    let keys = api_keys(&config)?;
    let recorded = recorded(&config, facilitator).await?;
    let supported = t402_core::Facilitator::supported(&recorded)
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    let listen = listen.unwrap_or(&config.listen);
    let store = match &config.store_url_env {
        Some(name) => format!("Redis via ${name}"),
        None => "in memory".into(),
    };
    let mut text = format!(
        "configuration {} is valid\nlisten: {listen}\n",
        path.display()
    );
    for kind in &supported.kinds {
        text.push_str(&format!(
            "serves: v{} {} on {}\n",
            kind.version.number, kind.scheme, kind.network
        ));
    }
    for (family, signers) in &supported.signers {
        text.push_str(&format!("signers ({family}): {}\n", signers.join(", ")));
    }
    text.push_str(&format!("settlement store: {store}\n"));
    let key_count = keys.as_ref().map_or(0, ApiKeys::len);
    text.push_str(&format!(
        "API keys: {}\n",
        if key_count == 0 {
            "none (open to anyone who can reach it)".to_owned()
        } else {
            key_count.to_string()
        }
    ));
    let kinds: Vec<serde_json::Value> = supported
        .kinds
        .iter()
        .map(|kind| {
            serde_json::json!({
                "version": kind.version.number,
                "scheme": kind.scheme,
                "network": kind.network,
            })
        })
        .collect();
    Ok(crate::output::Output::new(
        text,
        serde_json::json!({
            "valid": true,
            "listen": listen,
            "kinds": kinds,
            "signers": supported.signers,
            "store": store,
            "apiKeys": key_count,
        }),
    ))
}

/// Resolves on SIGTERM (what container runtimes send) or SIGINT (Ctrl-C).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
}

/// Serves until SIGTERM or SIGINT; then stops accepting connections and waits (at most
/// `shutdown_grace_secs`) for the requests and settlements in flight.
pub(crate) async fn serve(path: &std::path::Path, listen: Option<&str>) -> Result<(), CliError> {
    let (config, facilitator) = build(path).await?;
    let keys = api_keys(&config)?;
    let listen = listen.unwrap_or(&config.listen).to_owned();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|err| CliError::new(exit::INPUT, format!("listen on {listen}: {err}")))?;
    let address = listener
        .local_addr()
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    let recorded = recorded(&config, facilitator).await?;
    let mut service = FacilitatorService::new(Arc::new(recorded.clone()));
    if let Some(keys) = keys {
        tracing::info!(keys = ?keys, "API keys required");
        service = service.api_keys(keys);
    } else {
        tracing::warn!("no API keys: anyone who can reach this service can have it pay gas");
    }
    if let Some(limit) = &config.rate_limit {
        service = service.rate_limit(RateLimit::new(limit.per_second, limit.burst));
    }
    if config.metrics {
        service = service.with_metrics();
    }
    println!("facilitator listening on http://{address}");
    tracing::info!(%address, "facilitator listening");
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let stopped_at = Arc::new(std::sync::OnceLock::new());
    let signalled = stopped_at.clone();
    let server = axum::serve(listener, service.router()).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = signalled.set(std::time::Instant::now());
        let _ = stopping_tx.send(true);
    });
    // The server stops accepting at the signal and finishes its requests; it gets `grace` from
    // then on.
    let deadline = async {
        let mut stopping = stopping;
        let _ = stopping.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?,
        () = deadline => tracing::warn!("requests still in flight after the grace period"),
    }
    // Settlements detached from requests that went away finish and are recorded too, within
    // what is left of the grace period.
    let left = grace.saturating_sub(stopped_at.get().map(|at| at.elapsed()).unwrap_or_default());
    if !recorded.drain(left).await {
        tracing::warn!(
            in_flight = recorded.settlements_in_flight(),
            "settlements still in flight after the grace period"
        );
    }
    tracing::info!("stopped");
    Ok(())
}
