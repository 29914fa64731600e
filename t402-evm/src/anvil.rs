//! A real anvil node for tests (feature `anvil`): spawned on 127.0.0.1 with `--port 0`, its port
//! read from its output, killed on drop.
//!
//! The binary is looked up in `T402_ANVIL`, then `node_modules/.bin/anvil` in the working
//! directory and its ancestors (the repository pins it in `package-lock.json`), then `PATH`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde_json::json;

use crate::chain::{EvmChain, RpcChain, TxReceipt};

/// anvil's first dev account (unlocked on every anvil).
pub const DEV_ACCOUNT: Address =
    alloy_primitives::address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// anvil's chain id.
pub const ANVIL_CHAIN: u64 = 31337;

/// Where the anvil binary is, if anywhere.
pub fn find_anvil() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("T402_ANVIL") {
        return Some(PathBuf::from(path));
    }
    let start = std::env::current_dir().ok()?;
    for dir in start.ancestors() {
        let candidate = dir.join("node_modules/.bin/anvil");
        if candidate.exists() {
            return Some(candidate);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("anvil"))
            .find(|candidate| candidate.exists())
    })
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// A JSON-RPC backend on it.
    pub chain: RpcChain,
}

impl std::fmt::Debug for Anvil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anvil").field("url", &self.url).finish()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    /// Starts anvil for a test, or `None` when it is not installed and `T402_SKIP_EXTERNAL` is
    /// set.
    ///
    /// # Panics
    ///
    /// When anvil is missing (naming the setup command) or does not start: this is a test
    /// helper.
    pub async fn start() -> Option<Self> {
        Self::start_with_chain_id(ANVIL_CHAIN).await
    }

    /// [`start`](Self::start) with the chain id `chain_id` (for example 84532, whose v1 name
    /// `base-sepolia` protocol v1 clients know).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub async fn start_with_chain_id(chain_id: u64) -> Option<Self> {
        let Some(binary) = find_anvil() else {
            if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
                eprintln!("skipped: anvil is not installed (T402_SKIP_EXTERNAL is set)");
                return None;
            }
            panic!(
                "anvil is not installed: run `npm ci` at the repository root (scripts/test does)"
            );
        };
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(chain_id.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading to the end so anvil never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.trim().strip_prefix("Listening on ") {
                    let _ = tx.send(address.to_owned());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("anvil prints its address");
        let url = format!("http://{address}");
        let chain = RpcChain::connect(&url, Some(chain_id))
            .await
            .expect("anvil answers");
        Some(Self { child, url, chain })
    }

    /// Sends a transaction from an unlocked account and returns its receipt.
    pub async fn send_as(&self, from: Address, to: Option<Address>, data: Bytes) -> TxReceipt {
        let mut tx = json!({"from": from, "data": data, "gas": "0xf42400"});
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash = self
            .chain
            .raw_request("eth_sendTransaction", json!([tx]))
            .await
            .expect("anvil accepts the transaction");
        let hash: B256 = serde_json::from_value(hash).unwrap();
        for _ in 0..200 {
            if let Some(receipt) = self.chain.receipt(hash).await.unwrap() {
                return receipt;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no receipt for {hash}");
    }

    /// Deploys `code` from the dev account.
    pub async fn deploy(&self, code: Bytes) -> Address {
        let receipt = self.send_as(DEV_ACCOUNT, None, code).await;
        assert!(receipt.success, "deployment reverted");
        receipt.contract_address.unwrap()
    }

    /// Installs `code` at `address`.
    pub async fn set_code(&self, address: Address, code: Bytes) {
        self.chain
            .raw_request("anvil_setCode", json!([address, code]))
            .await
            .unwrap();
    }

    /// Sets the native balance of `address`.
    pub async fn set_balance(&self, address: Address, wei: U256) {
        self.chain
            .raw_request("anvil_setBalance", json!([address, wei]))
            .await
            .unwrap();
    }

    /// Installs Multicall3 (the test contracts' `tryAggregate`) at its canonical address.
    pub async fn install_multicall3(&self) {
        self.set_code(
            crate::contracts::MULTICALL3,
            crate::contracts::TestContract::Multicall.runtime_code(),
        )
        .await;
    }

    /// Installs Multicall3, Permit2 and the x402 Permit2 proxies at their canonical addresses,
    /// so clients and facilitators that hard-code them work unchanged.
    pub async fn install_canonical_contracts(&self) {
        for (address, contract) in crate::contracts::TestContract::canonical_installs() {
            self.set_code(address, contract.runtime_code()).await;
        }
    }

    /// Deploys the permit token (ERC-20 with EIP-2612, no EIP-3009) from the dev account.
    pub async fn deploy_permit_token(
        &self,
        name: &str,
        version: &str,
        symbol: &str,
        decimals: u8,
    ) -> Address {
        use alloy_sol_types::SolConstructor;
        let mut code = crate::contracts::TestContract::PermitToken
            .creation_code()
            .to_vec();
        code.extend(
            crate::contracts::IT402PermitToken::constructorCall {
                name: name.into(),
                version: version.into(),
                symbol: symbol.into(),
                decimals,
            }
            .abi_encode(),
        );
        self.deploy(code.into()).await
    }

    /// Deploys the test token from the dev account (the first deployment of a fresh anvil lands
    /// at `0x5FbDB2315678afecb367f032d93F642f64180aa3`).
    pub async fn deploy_test_token(
        &self,
        name: &str,
        version: &str,
        symbol: &str,
        decimals: u8,
    ) -> Address {
        use alloy_sol_types::SolConstructor;
        let mut code = crate::contracts::TestContract::Token
            .creation_code()
            .to_vec();
        code.extend(
            crate::contracts::IT402TestToken::constructorCall {
                name: name.into(),
                version: version.into(),
                symbol: symbol.into(),
                decimals,
            }
            .abi_encode(),
        );
        self.deploy(code.into()).await
    }

    /// Mints test tokens (the dev account deployed the token, so it may mint).
    pub async fn mint(&self, token: Address, to: Address, amount: U256) {
        use alloy_sol_types::SolCall;
        let call = crate::contracts::IT402TestToken::mintCall { to, value: amount };
        let receipt = self
            .send_as(DEV_ACCOUNT, Some(token), call.abi_encode().into())
            .await;
        assert!(receipt.success, "mint reverted");
    }
}
