//! Settlements per second on anvil with one facilitator key and with four: many payers settling
//! at once through one `ExactEvmFacilitator`, each settlement waiting for its receipt, in
//! alternating rounds of the same run. Once with anvil itself (which mines every transaction as
//! it arrives, one at a time), once with every node call 50 ms away, as a hosted RPC is.
//!
//! `cargo bench -p t402-evm --features anvil --bench anvil_settlements`
//! (`T402_ANVIL_SETTLEMENTS` per run, default 400; `T402_ANVIL_ROUNDS`, default 3).

// A benchmark binary reports on stdout.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use t402_core::error::BoxFuture;
use t402_core::{ClientMechanism, PaymentPayload, PaymentRequirements, VerifyRequest};
use t402_evm::anvil::Anvil;
use t402_evm::chain::{CallRequest, ChainError, EvmChain, Fees, RpcChain, TxReceipt};
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};

const CHAIN: u64 = 31337;

/// A node `delay` away: every call waits that long first (a remote RPC's round trip).
#[derive(Debug)]
struct Remote {
    inner: RpcChain,
    delay: Duration,
}

impl Remote {
    fn after<'a, T: Send + 'a>(
        &'a self,
        call: BoxFuture<'a, Result<T, ChainError>>,
    ) -> BoxFuture<'a, Result<T, ChainError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            call.await
        })
    }
}

impl EvmChain for Remote {
    fn chain_id(&self) -> u64 {
        self.inner.chain_id()
    }
    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        self.after(self.inner.call(call))
    }
    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>> {
        self.after(self.inner.estimate_gas(call))
    }
    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        self.after(self.inner.code(address))
    }
    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>> {
        self.after(self.inner.balance(address))
    }
    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>> {
        self.after(self.inner.nonce(address))
    }
    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>> {
        self.after(self.inner.fees())
    }
    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>> {
        self.after(self.inner.send_raw_transaction(raw))
    }
    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>> {
        self.after(self.inner.receipt(hash))
    }
}

async fn facilitator(anvil: &Anvil, keys: usize, delay: Duration) -> Arc<ExactEvmFacilitator> {
    let mut signers = Vec::new();
    for _ in 0..keys {
        let key = PrivateKeySigner::random();
        anvil
            .set_balance(key.address(), U256::from(10u64).pow(U256::from(21)))
            .await;
        signers.push(key);
    }
    Arc::new(
        ExactEvmFacilitator::new(
            Remote {
                inner: anvil.chain.clone(),
                delay,
            },
            FacilitatorSigners::new(CHAIN, signers).unwrap(),
        )
        .unwrap()
        .with_simulation_in_verify(false)
        .with_receipt_poll_interval(Duration::from_millis(10)),
    )
}

fn main() {
    let settlements = t402_testkit::env_number("T402_ANVIL_SETTLEMENTS", 400) as usize;
    let rounds = t402_testkit::env_number("T402_ANVIL_ROUNDS", 3) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let Some(anvil) = Anvil::start().await else {
            println!("anvil is not installed: no run");
            return;
        };
        anvil.install_multicall3().await;
        let token = anvil.deploy_test_token("USD Coin", "2", "USDC", 6).await;
        let requirements: PaymentRequirements = serde_json::from_value(json!({
            "scheme": "exact", "network": format!("eip155:{CHAIN}"), "amount": "1",
            "asset": token.to_checksum(None),
            "payTo": Address::repeat_byte(9).to_checksum(None),
            "maxTimeoutSeconds": 600, "extra": {"name": "USD Coin", "version": "2"}
        }))
        .unwrap();
        // One payer per settlement (a payer's settlements are serialized by its lock).
        let mut payers = Vec::new();
        for _ in 0..settlements {
            let payer = PrivateKeySigner::random();
            anvil
                .mint(token, payer.address(), U256::from(1_000_000u64))
                .await;
            payers.push(ExactEvmClient::new(payer));
        }
        let near = Duration::ZERO;
        let far = Duration::from_millis(50);
        let modes = [
            ("anvil, 1 key", facilitator(&anvil, 1, near).await),
            ("anvil, 4 keys", facilitator(&anvil, 4, near).await),
            ("50 ms away, 1 key", facilitator(&anvil, 1, far).await),
            ("50 ms away, 4 keys", facilitator(&anvil, 4, far).await),
        ];
        let mut rates = vec![Vec::new(); modes.len()];
        for round in 0..rounds {
            for step in 0..modes.len() {
                let index = (round + step) % modes.len();
                let facilitator = &modes[index].1;
                let mut requests = Vec::new();
                for payer in &payers {
                    let signed = payer.create_payload(2, &requirements, None).await.unwrap();
                    requests.push(VerifyRequest::new(
                        PaymentPayload::new(requirements.clone().into(), signed.payload),
                        requirements.clone(),
                    ));
                }
                let started = Instant::now();
                let tasks: Vec<_> = requests
                    .into_iter()
                    .map(|request| {
                        let facilitator = facilitator.clone();
                        tokio::spawn(async move { facilitator.settle_payment(&request).await })
                    })
                    .collect();
                for task in tasks {
                    let settled = task.await.unwrap();
                    assert!(settled.success, "{settled:?}");
                }
                rates[index].push(settlements as f64 / started.elapsed().as_secs_f64());
            }
        }
        println!(
            "anvil settlements: {settlements} payers settling at once, each waiting for its \
             receipt, median of {rounds} rounds"
        );
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        // Each 4-key figure against the 1-key figure on the same node.
        let medians: Vec<f64> = rates.into_iter().map(median).collect();
        for (index, (name, _)) in modes.iter().enumerate() {
            let one_key = medians[index - index % 2];
            println!(
                "  {name:<20} {:>8.1} settlements/s  {:.2}x",
                medians[index],
                medians[index] / one_key
            );
        }
    });
}
