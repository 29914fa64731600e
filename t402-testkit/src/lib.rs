//! # t402-testkit
//!
//! Fixtures the t402 test suites share, so each suite states what it tests and not how the world
//! is set up (dev-only, never published):
//!
//! - [`DevnetWorld`] and [`AnvilWorld`]: a chain with the test token deployed (`USD Coin`,
//!   version `2`, 6 decimals), a payer holding 1 USDC, a payee, and an in-process facilitator
//!   settling with one funded key;
//! - [`test_token_price`], [`priced_report`] and [`serve`]: a priced `GET /report` on loopback;
//! - [`reference_script`]: runs `scripts/x402-reference.mjs` (the reference TypeScript packages);
//! - [`fuzz`]: the bodies of the fuzz targets, shared by `fuzz/` and the corpus replay test;
//! - [`redis::RedisServer`]: a redis-server of the test's own;
//! - [`UnreachableStore`]: a settlement store that is down.

pub mod fuzz;
pub mod redis;
#[cfg(feature = "solana")]
pub mod solana;
mod store;

pub use store::UnreachableStore;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;
use t402_core::{AssetAmount, Facilitator, LocalFacilitator, Network, NetworkPattern, Price};
use t402_evm::anvil::Anvil;
use t402_evm::devnet::Devnet;
use t402_evm::{Clock, ExactEvmFacilitator, ExactEvmServer, FacilitatorSigners};
use t402_server::{PaymentLayer, PaymentOption, Route};

/// The chain id of the devnet and of anvil.
pub const CHAIN: u64 = 31337;

/// What the payer holds at the start: 1 USDC.
pub const PAYER_FUNDS: u64 = 1_000_000;

/// The price of [`priced_report`]: 0.01 USDC.
pub const REPORT_PRICE: u64 = 10_000;

/// Ten ether, what the facilitator's key gets for gas.
fn gas_money() -> U256 {
    U256::from(10u64).pow(U256::from(19))
}

/// The root of the repository (where `package.json` and `scripts/` are).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The in-process facilitator over one EIP-3009 facilitator on `chain_id`: protocol v2, and v1
/// when the chain has a v1 name.
fn facilitator_v2_and_v1(chain_id: u64, evm: Arc<ExactEvmFacilitator>) -> LocalFacilitator {
    let network = Network::eip155(chain_id);
    let facilitator = LocalFacilitator::new().register([network.clone()], evm.clone());
    if network.legacy_name().is_some() {
        facilitator
            .register_v1([network], evm)
            .expect("the network has a v1 name")
    } else {
        facilitator
    }
}

/// The in-process devnet, funded and with a facilitator.
#[derive(Debug)]
pub struct DevnetWorld {
    /// The chain.
    pub devnet: Arc<Devnet>,
    /// The test token.
    pub token: Address,
    /// Holds [`PAYER_FUNDS`] of the token.
    pub payer: PrivateKeySigner,
    /// A fresh address to be paid.
    pub pay_to: Address,
    /// An in-process facilitator settling on the devnet.
    pub facilitator: Arc<LocalFacilitator>,
}

impl DevnetWorld {
    /// A devnet on the system clock.
    pub fn new() -> Self {
        Self::build(Arc::new(Devnet::new(CHAIN)), |evm| evm)
    }

    /// A devnet whose chain and facilitator read `clock`.
    pub fn with_clock(clock: impl Clock + Clone) -> Self {
        let devnet = Arc::new(Devnet::with_clock(CHAIN, clock.clone()));
        Self::build(devnet, move |evm| evm.with_clock(clock))
    }

    /// A devnet with the chain id `chain_id` on the system clock; its facilitator serves
    /// protocol v1 too when the chain has a v1 name (84532 is `base-sepolia`).
    pub fn with_chain_id(chain_id: u64) -> Self {
        Self::build(Arc::new(Devnet::new(chain_id)), |evm| evm)
    }

    fn build(
        devnet: Arc<Devnet>,
        configure: impl FnOnce(ExactEvmFacilitator) -> ExactEvmFacilitator,
    ) -> Self {
        let chain_id = t402_evm::chain::EvmChain::chain_id(devnet.as_ref());
        let token = devnet
            .deploy_test_token("USD Coin", "2", "USDC", 6)
            .expect("the test token deploys");
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(PAYER_FUNDS))
            .expect("the payer is funded");
        let key = PrivateKeySigner::random();
        devnet.fund(key.address(), gas_money());
        let evm = ExactEvmFacilitator::new(
            devnet.clone(),
            FacilitatorSigners::new(chain_id, [key]).expect("one key"),
        )
        .expect("signers and chain agree");
        Self {
            devnet,
            token,
            payer,
            pay_to: Address::random(),
            facilitator: Arc::new(facilitator_v2_and_v1(chain_id, Arc::new(configure(evm)))),
        }
    }
}

impl DevnetWorld {
    /// A fresh payment of `amount` atomic units of the test token from the payer to
    /// [`pay_to`](Self::pay_to), as a facilitator request.
    pub async fn payment(&self, amount: u64) -> t402_core::FacilitatorRequest {
        let chain_id = t402_evm::chain::EvmChain::chain_id(self.devnet.as_ref());
        signed_payment(
            &self.payer,
            self.token,
            self.pay_to,
            &Network::eip155(chain_id),
            amount,
        )
        .await
    }
}

/// A payment of `amount` atomic units of the test token at `token` from `payer` to `pay_to` on
/// `network`, signed now, as a facilitator request.
async fn signed_payment(
    payer: &PrivateKeySigner,
    token: Address,
    pay_to: Address,
    network: &Network,
    amount: u64,
) -> t402_core::FacilitatorRequest {
    use t402_core::ClientMechanism;
    let requirements: t402_core::PaymentRequirements = serde_json::from_value(serde_json::json!({
        "scheme": "exact", "network": network.to_string(),
        "amount": amount.to_string(), "asset": token.to_checksum(None),
        "payTo": pay_to.to_checksum(None), "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"}
    }))
    .expect("requirements");
    let signed = t402_evm::ExactEvmClient::new(payer.clone())
        .create_payload(2, &requirements, None)
        .await
        .expect("a signed payment");
    t402_core::FacilitatorRequest::V2(t402_core::VerifyRequest::new(
        t402_core::PaymentPayload::new(requirements.clone().into(), signed.payload),
        requirements,
    ))
}

impl Default for DevnetWorld {
    fn default() -> Self {
        Self::new()
    }
}

/// An anvil node (with Multicall3, Permit2 and the x402 proxies), funded and with a facilitator.
#[derive(Debug)]
pub struct AnvilWorld {
    /// The node.
    pub anvil: Arc<Anvil>,
    /// The test token.
    pub token: Address,
    /// Holds [`PAYER_FUNDS`] of the token.
    pub payer: PrivateKeySigner,
    /// A fresh address to be paid.
    pub pay_to: Address,
    /// An in-process facilitator settling on anvil (protocol v2, and v1 when the chain has a
    /// v1 name).
    pub facilitator: Arc<LocalFacilitator>,
    /// The chain id.
    pub chain_id: u64,
}

impl AnvilWorld {
    /// Starts anvil; `None` when it is missing and `T402_SKIP_EXTERNAL=1` (otherwise a missing
    /// anvil fails with the setup command).
    pub async fn start() -> Option<Self> {
        Self::start_on_chain(CHAIN).await
    }

    /// [`start`](Self::start) with the chain id `chain_id`.
    pub async fn start_on_chain(chain_id: u64) -> Option<Self> {
        let anvil = Arc::new(Anvil::start_with_chain_id(chain_id).await?);
        anvil.install_canonical_contracts().await;
        let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
        let payer = PrivateKeySigner::random();
        anvil
            .mint(token, payer.address(), U256::from(PAYER_FUNDS))
            .await;
        let key = PrivateKeySigner::random();
        anvil.set_balance(key.address(), gas_money()).await;
        let evm = ExactEvmFacilitator::new(
            anvil.chain.clone(),
            FacilitatorSigners::new(chain_id, [key]).expect("one key"),
        )
        .expect("signers and chain agree")
        .with_receipt_poll_interval(Duration::from_millis(20));
        Some(Self {
            anvil,
            token,
            payer,
            pay_to: Address::random(),
            facilitator: Arc::new(facilitator_v2_and_v1(chain_id, Arc::new(evm))),
            chain_id,
        })
    }

    /// The chain's CAIP-2 network.
    pub fn network(&self) -> Network {
        Network::eip155(self.chain_id)
    }

    /// Another facilitator on this node with a key of its own (a replica), waiting at most
    /// `receipt_timeout` for a receipt.
    pub async fn replica(&self, receipt_timeout: Duration) -> LocalFacilitator {
        let key = PrivateKeySigner::random();
        self.anvil.set_balance(key.address(), gas_money()).await;
        let evm = ExactEvmFacilitator::new(
            self.anvil.chain.clone(),
            FacilitatorSigners::new(self.chain_id, [key]).expect("one key"),
        )
        .expect("signers and chain agree")
        .with_receipt_poll_interval(Duration::from_millis(20))
        .with_receipt_timeout(receipt_timeout);
        LocalFacilitator::new().register([self.network()], Arc::new(evm))
    }

    /// A fresh payment of `amount` atomic units of the test token from the payer to
    /// [`pay_to`](Self::pay_to), as a facilitator request.
    pub async fn payment(&self, amount: u64) -> t402_core::FacilitatorRequest {
        signed_payment(
            &self.payer,
            self.token,
            self.pay_to,
            &self.network(),
            amount,
        )
        .await
    }

    /// The latest block's number.
    pub async fn block_number(&self) -> u64 {
        let number = self
            .anvil
            .chain
            .raw_request("eth_blockNumber", serde_json::json!([]))
            .await
            .expect("eth_blockNumber");
        u64::from_str_radix(
            number
                .as_str()
                .expect("a quantity")
                .trim_start_matches("0x"),
            16,
        )
        .expect("a quantity")
    }

    /// What `who` holds of the test token.
    pub async fn token_balance(&self, who: Address) -> U256 {
        self.balance_of(self.token, who).await
    }

    /// The balance of `who` in `token` (any ERC-20).
    pub async fn balance_of(&self, token: Address, who: Address) -> U256 {
        t402_evm::chain::call_typed(
            &self.anvil.chain,
            token,
            &t402_evm::contracts::IEip3009Token::balanceOfCall { account: who },
        )
        .await
        .expect("balanceOf")
    }

    /// Whether the node mines a block for each transaction (off: transactions wait in the pool
    /// until [`mine`](Self::mine)).
    pub async fn set_automine(&self, on: bool) {
        self.anvil
            .chain
            .raw_request("evm_setAutomine", serde_json::json!([on]))
            .await
            .expect("evm_setAutomine");
    }

    /// Mines one block of what waits in the pool.
    pub async fn mine(&self) {
        self.anvil
            .chain
            .raw_request("evm_mine", serde_json::json!([]))
            .await
            .expect("evm_mine");
    }
}

/// The EIP-712 name of the permit token the Permit2 and `upto` suites deploy.
pub const PERMIT_TOKEN_NAME: &str = "Permit Dollar";

/// The EIP-712 version of that permit token.
pub const PERMIT_TOKEN_VERSION: &str = "1";

/// The calldata of `approve(Permit2, max)`.
fn approve_permit2_calldata() -> Vec<u8> {
    use alloy_sol_types::SolCall;
    t402_evm::contracts::IErc20::approveCall {
        spender: t402_evm::permit2::PERMIT2,
        value: U256::MAX,
    }
    .abi_encode()
}

/// The in-process devnet with the permit token (ERC-20 + EIP-2612, no EIP-3009: paid through
/// Permit2), a payer holding [`PAYER_FUNDS`] that has approved Permit2, and an EVM facilitator
/// with one funded key.
#[derive(Debug)]
pub struct PermitDevnet {
    /// The chain.
    pub devnet: Arc<Devnet>,
    /// The permit token.
    pub token: Address,
    /// The payer.
    pub payer: PrivateKeySigner,
    /// A fresh address to be paid.
    pub pay_to: Address,
    /// The facilitator's chain and key (wrap it for `exact` or `upto`).
    pub evm: Arc<ExactEvmFacilitator>,
}

impl PermitDevnet {
    /// A devnet on chain [`CHAIN`] on the system clock.
    pub fn new() -> Self {
        let devnet = Arc::new(Devnet::new(CHAIN));
        let token = devnet
            .deploy_permit_token(PERMIT_TOKEN_NAME, PERMIT_TOKEN_VERSION, "PUSD", 6)
            .expect("the permit token deploys");
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(PAYER_FUNDS))
            .expect("mints");
        let approved = devnet
            .execute_as(payer.address(), Some(token), approve_permit2_calldata())
            .expect("approves");
        assert!(approved.success, "approve(Permit2) reverted");
        let key = PrivateKeySigner::random();
        devnet.fund(key.address(), gas_money());
        let evm = ExactEvmFacilitator::new(
            devnet.clone(),
            FacilitatorSigners::new(CHAIN, [key]).expect("one key"),
        )
        .expect("signers and chain agree")
        .with_receipt_poll_interval(Duration::from_millis(5));
        Self {
            devnet,
            token,
            payer,
            pay_to: Address::random(),
            evm: Arc::new(evm),
        }
    }

    /// `amount` atomic units of the permit token, with its EIP-712 name and version.
    pub fn price(&self, amount: u64) -> Price {
        let mut extra = serde_json::Map::new();
        extra.insert("name".into(), serde_json::json!(PERMIT_TOKEN_NAME));
        extra.insert("version".into(), serde_json::json!(PERMIT_TOKEN_VERSION));
        Price::Asset(
            AssetAmount::new(self.token.to_checksum(None), amount.into()).with_extra(extra),
        )
    }

    /// The permit token balance of `who`.
    pub async fn balance(&self, who: Address) -> U256 {
        self.devnet
            .token_balance(self.token, who)
            .await
            .expect("the devnet answers")
    }
}

impl Default for PermitDevnet {
    fn default() -> Self {
        Self::new()
    }
}

impl AnvilWorld {
    /// Deploys the permit token on the world's anvil.
    pub async fn deploy_permit_token(&self) -> Address {
        self.anvil
            .deploy_permit_token(PERMIT_TOKEN_NAME, PERMIT_TOKEN_VERSION, "PUSD", 6)
            .await
    }

    /// A payer holding [`PAYER_FUNDS`] of `token` and gas money, that has approved Permit2 when
    /// `approved`.
    pub async fn permit_payer(&self, token: Address, approved: bool) -> PrivateKeySigner {
        let payer = PrivateKeySigner::random();
        let anvil = &self.anvil;
        anvil
            .mint(token, payer.address(), U256::from(PAYER_FUNDS))
            .await;
        anvil
            .set_balance(payer.address(), U256::from(10u64).pow(U256::from(18)))
            .await;
        if approved {
            anvil
                .chain
                .raw_request(
                    "anvil_impersonateAccount",
                    serde_json::json!([payer.address()]),
                )
                .await
                .expect("anvil impersonates");
            let receipt = anvil
                .send_as(
                    payer.address(),
                    Some(token),
                    approve_permit2_calldata().into(),
                )
                .await;
            assert!(receipt.success, "approve(Permit2) reverted");
        }
        payer
    }

    /// A facilitator key with gas money on the world's anvil.
    pub async fn funded_key(&self) -> PrivateKeySigner {
        let key = PrivateKeySigner::random();
        self.anvil.set_balance(key.address(), gas_money()).await;
        key
    }
}

/// `amount` atomic units of the test token at `token`, with its EIP-712 name and version.
pub fn test_token_price(token: Address, amount: u64) -> Price {
    let mut extra = serde_json::Map::new();
    extra.insert("name".into(), serde_json::json!("USD Coin"));
    extra.insert("version".into(), serde_json::json!("2"));
    Price::Asset(AssetAmount::new(token.to_checksum(None), amount.into()).with_extra(extra))
}

/// An app with `GET /report` ("the report") priced at [`REPORT_PRICE`] of `token`, paid to
/// `pay_to` through `facilitator`.
pub async fn priced_report(
    token: Address,
    pay_to: Address,
    facilitator: Arc<dyn Facilitator>,
) -> Router {
    let layer = PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(
            NetworkPattern::parse("eip155:*").expect("a pattern"),
            ExactEvmServer,
        )
        .route(
            "GET /report",
            Route::new(PaymentOption::exact(
                Network::eip155(CHAIN),
                test_token_price(token, REPORT_PRICE),
                pay_to.to_checksum(None),
            )),
        )
        .build_and_initialize()
        .await
        .expect("the layer initializes");
    Router::new()
        .route("/report", get(|| async { "the report" }))
        .layer(layer)
}

/// Serves `app` on a free loopback port; returns `http://127.0.0.1:<port>`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    base
}

/// Serves [`priced_report`]; returns the report's URL.
pub async fn serve_priced_report(
    token: Address,
    pay_to: Address,
    facilitator: Arc<dyn Facilitator>,
) -> String {
    let base = serve(priced_report(token, pay_to, facilitator).await).await;
    format!("{base}/report")
}

/// [`reference_script`] that must succeed: its JSON answer.
pub async fn reference_json(input: serde_json::Value) -> serde_json::Value {
    let output = reference_script(input).await;
    assert!(
        output.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the reference script answers JSON")
}

/// Runs `node scripts/x402-reference.mjs` with `input` on its standard input (off the async
/// runtime) and returns its output, whatever its exit status.
pub async fn reference_script(input: serde_json::Value) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .arg("scripts/x402-reference.mjs")
            .current_dir(workspace_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.to_string().as_bytes())
            .expect("the script reads its input");
        child.wait_with_output().expect("the script ends")
    })
    .await
    .expect("the blocking task ends")
}

/// Whether the npm package `package` is installed at the repository root (`npm ci`). When it is
/// not: `false` with a note if `T402_SKIP_EXTERNAL` is set, else a panic naming the setup
/// command.
pub fn npm_package_installed(package: &str) -> bool {
    if workspace_root().join("node_modules").join(package).exists() {
        return true;
    }
    if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
        eprintln!("skipped: {package} is not installed (T402_SKIP_EXTERNAL is set)");
        return false;
    }
    panic!("{package} is not installed: run `npm ci` at the repository root (scripts/test does)");
}

/// Chromium (Debian's `chromium`, or `chromium-browser` / `google-chrome` on the `PATH`). When
/// it is missing: `None` with a note if `T402_SKIP_EXTERNAL` is set, else a panic naming the
/// setup command.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|candidate| candidate.exists())
            })
        });
    if found.is_none() {
        if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
            eprintln!("skipped: Chromium is not installed (T402_SKIP_EXTERNAL is set)");
            return None;
        }
        panic!(
            "Chromium is not installed: run `apt-get install chromium` (scripts/test does as root)"
        );
    }
    found
}

/// A long-running node script (a server), killed on drop.
#[derive(Debug)]
pub struct NodeServer {
    child: std::process::Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl NodeServer {
    /// Runs `node scripts/<script> '<config>'` and waits for the `{"port": N}` line it prints
    /// once listening.
    pub async fn spawn(script: &str, config: serde_json::Value) -> Self {
        let mut child = Command::new("node")
            .arg(format!("scripts/{script}"))
            .arg(config.to_string())
            .current_dir(workspace_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let line = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("the script prints a line");
            line
        })
        .await
        .expect("the blocking task ends");
        let port = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|value| value["port"].as_u64())
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_else(|| panic!("{script} did not print its port: {line:?}"));
        Self { child, port }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `node scripts/<script> '<config>'` to its end (off the async runtime) and returns the
/// JSON it prints; panics with its standard error when it fails.
pub async fn node_command(script: &str, config: serde_json::Value) -> serde_json::Value {
    let script = script.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(format!("scripts/{script}"))
            .arg(config.to_string())
            .current_dir(workspace_root())
            .output()
            .expect("node runs")
    })
    .await
    .expect("the blocking task ends");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "the script printed no JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The hex text of a private key (`0x…`), for the node scripts.
pub fn private_key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", alloy_primitives::hex::encode(key.to_bytes()))
}

/// The EVM `exact` client with a fresh key, counting the payments it signs.
#[derive(Debug)]
pub struct CountingClient {
    inner: t402_evm::ExactEvmClient<PrivateKeySigner>,
    signed: Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingClient {
    /// A client with a random key, and the counter of its signatures.
    pub fn new() -> (Self, Arc<std::sync::atomic::AtomicUsize>) {
        let signed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = Self {
            inner: t402_evm::ExactEvmClient::new(PrivateKeySigner::random()),
            signed: signed.clone(),
        };
        (client, signed)
    }
}

impl t402_core::ClientMechanism for CountingClient {
    fn scheme(&self) -> &str {
        "exact"
    }

    fn create_payload<'a>(
        &'a self,
        version: u32,
        requirements: &'a t402_core::PaymentRequirements,
        extensions: Option<&'a t402_core::JsonObject>,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::SchemePayload, t402_core::MechanismError>> {
        self.signed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.create_payload(version, requirements, extensions)
    }
}

/// A number from the environment variable `name`, or `default` (bench settings).
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Requests per second of GET `url` from `connections` concurrent clients for `seconds`, each
/// answer checked to have `status` (keep-alive connections, warmed up first).
pub async fn request_rate(url: &str, status: u16, connections: u64, seconds: u64) -> f64 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()
        .expect("a client");
    for _ in 0..connections {
        client
            .get(url)
            .send()
            .await
            .expect("an answer")
            .bytes()
            .await
            .expect("a body");
    }
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let response = client.get(&url).send().await.expect("an answer");
                    assert_eq!(response.status().as_u16(), status);
                    response.bytes().await.expect("a body");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A facilitator that answers at once: every payment valid, every settlement a success, `exact`
/// on [`CHAIN`] supported. For measuring what surrounds the facilitator.
#[derive(Debug, Clone, Copy, Default)]
pub struct StubFacilitator;

impl StubFacilitator {
    /// Its verification answer: valid, from `0xpayer`.
    pub fn valid() -> t402_core::VerifyResponse {
        t402_core::VerifyResponse::valid("0xpayer")
    }

    /// Its settlement answer: a success on [`CHAIN`], transaction `0x01`.
    pub fn settled() -> t402_core::SettleResponse {
        t402_core::SettleResponse::success("0x01", format!("eip155:{CHAIN}"), "0xpayer")
    }

    /// Its `/supported` answer: `exact` on [`CHAIN`], v2.
    pub fn kinds() -> t402_core::SupportedResponse {
        let mut answer = t402_core::SupportedResponse::default();
        answer.kinds.push(t402_core::SupportedKind::new(
            t402_core::ProtocolVersion::new(2, t402_core::VersionKey::X402),
            "exact",
            format!("eip155:{CHAIN}"),
        ));
        answer
    }
}

impl Facilitator for StubFacilitator {
    fn verify<'a>(
        &'a self,
        _: &'a t402_core::FacilitatorRequest,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::VerifyResponse, t402_core::FacilitatorError>>
    {
        Box::pin(async { Ok(Self::valid()) })
    }

    fn settle<'a>(
        &'a self,
        _: &'a t402_core::FacilitatorRequest,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::SettleResponse, t402_core::FacilitatorError>>
    {
        Box::pin(async { Ok(Self::settled()) })
    }

    fn supported(
        &self,
    ) -> t402_core::BoxFuture<'_, Result<t402_core::SupportedResponse, t402_core::FacilitatorError>>
    {
        Box::pin(async { Ok(Self::kinds()) })
    }
}

/// [`StubFacilitator`]'s answers as a bare axum app: `POST /verify` and `POST /settle` take the
/// body and answer the same JSON bytes every time (written once, from the stub's answers), `GET
/// /supported` likewise. The request is not read: this is a facilitator that costs nothing
/// here, as one on another machine would, so a bench measures the API server alone.
pub fn fixed_answer_facilitator() -> Router {
    use axum::body::Bytes;
    use axum::routing::post;
    let json = |bytes: serde_json::Result<Vec<u8>>| Bytes::from(bytes.expect("an answer"));
    let verify = json(serde_json::to_vec(&StubFacilitator::valid()));
    let settle = json(serde_json::to_vec(&StubFacilitator::settled()));
    let supported = json(serde_json::to_vec(&StubFacilitator::kinds()));
    let answer = |bytes: Bytes| {
        move |_: Bytes| {
            let bytes = bytes.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    bytes,
                )
            }
        }
    };
    Router::new()
        .route("/verify", post(answer(verify)))
        .route("/settle", post(answer(settle)))
        .route("/supported", get(answer(supported)))
}

/// Paid requests per second against `url`: each payment header sent once, `connections` at a
/// time, every answer checked to be 200 with a `PAYMENT-RESPONSE`.
pub async fn paid_rate(url: &str, payments: Vec<String>, connections: u64) -> f64 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let client = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(payments));
    let done = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, queue, done) =
                (client.clone(), url.to_owned(), queue.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let Some(payment) = queue.lock().expect("the queue").pop() else {
                        break;
                    };
                    let response = client
                        .get(&url)
                        .header("PAYMENT-SIGNATURE", payment)
                        .send()
                        .await
                        .expect("an answer");
                    assert_eq!(response.status().as_u16(), 200);
                    assert!(response.headers().contains_key("payment-response"));
                    response.bytes().await.expect("a body");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The median of `values`.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
