//! An in-process EVM chain on revm (feature `devnet`): real contract bytecode, every transaction
//! mined at once in its own block, block time read from a [`Clock`] a test can set.
//!
//! It is the quickstart's chain: no node to start, no keys to fund by hand.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alloy_primitives::{U256, address};
//! use t402_evm::devnet::Devnet;
//!
//! let devnet = Devnet::new(31337);
//! let token = devnet.deploy_test_token("USD Coin", "2", "USDC", 6)?;
//! let payer = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
//! devnet.mint(token, payer, U256::from(5_000_000u64))?;
//! assert_eq!(devnet.token_balance(token, payer).await?, U256::from(5_000_000u64));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolConstructor};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::state::{AccountInfo, Bytecode};
use revm::{Context, DatabaseCommit, DatabaseRef, ExecuteEvm, MainBuilder, MainContext};
use t402_core::error::BoxFuture;

use crate::chain::{CallRequest, ChainError, EvmChain, Fees, TxReceipt, call_typed};
use crate::clock::{Clock, SystemClock};
use crate::contracts::{IEip3009Token, IT402PermitToken, IT402TestToken, TestContract};

/// The account that deploys and mints on the devnet (anvil's first dev account, so the first
/// contract it deploys lands at the same address as on a fresh anvil).
pub const DEVNET_DEPLOYER: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// The base fee of every devnet block, in wei per gas.
pub const DEVNET_BASE_FEE: u64 = 1_000_000_000;

/// Gas limit of devnet blocks.
const BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// Gas limit of read-only calls and unsigned system transactions (the per-transaction cap of
/// EIP-7825).
const TX_GAS_LIMIT: u64 = 1 << 24;

/// The devnet's state: accounts, storage, blocks mined so far and their receipts.
struct DevnetState {
    db: CacheDB<EmptyDB>,
    block_number: u64,
    block_timestamp: u64,
    receipts: HashMap<B256, TxReceipt>,
    system_nonce: u64,
}

/// An in-process EVM chain. Cheap to share: wrap it in an `Arc` (the [`EvmChain`] impl for `Arc`
/// forwards).
pub struct Devnet {
    chain_id: u64,
    clock: Arc<dyn Clock>,
    state: Mutex<DevnetState>,
}

impl fmt::Debug for Devnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Devnet")
            .field("chain_id", &self.chain_id)
            .field("block_number", &state.block_number)
            .field("now", &self.clock.now())
            .finish()
    }
}

impl Devnet {
    /// A devnet serving `chain_id`, on the system clock, with Multicall3, Permit2 and the x402
    /// Permit2 proxies installed at their canonical addresses and the deployer funded with
    /// 10,000 ETH.
    pub fn new(chain_id: u64) -> Self {
        Self::with_clock(chain_id, SystemClock)
    }

    /// A devnet whose block time is read from `clock` (a [`ManualClock`](crate::ManualClock) in
    /// tests).
    pub fn with_clock(chain_id: u64, clock: impl Clock) -> Self {
        let devnet = Self {
            chain_id,
            clock: Arc::new(clock),
            state: Mutex::new(DevnetState {
                db: CacheDB::new(EmptyDB::default()),
                block_number: 0,
                block_timestamp: 0,
                receipts: HashMap::new(),
                system_nonce: 0,
            }),
        };
        for (address, contract) in TestContract::canonical_installs() {
            devnet.set_code(address, contract.runtime_code());
        }
        devnet.fund(
            DEVNET_DEPLOYER,
            U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)),
        );
        devnet
    }

    fn lock(&self) -> MutexGuard<'_, DevnetState> {
        // A panic while holding the lock cannot leave the state half-written (every change is
        // one `commit`), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The current block time: the clock, never earlier than the last block.
    fn next_timestamp(&self, state: &DevnetState) -> u64 {
        self.clock.now().max(state.block_timestamp)
    }

    fn block_env(&self, state: &DevnetState) -> BlockEnv {
        BlockEnv {
            number: U256::from(state.block_number + 1),
            timestamp: U256::from(self.next_timestamp(state)),
            gas_limit: BLOCK_GAS_LIMIT,
            basefee: DEVNET_BASE_FEE,
            ..BlockEnv::default()
        }
    }

    /// Sets the native balance of `address`.
    pub fn fund(&self, address: Address, wei: U256) {
        let mut state = self.lock();
        let mut info = state
            .db
            .basic_ref(address)
            .ok()
            .flatten()
            .unwrap_or_default();
        info.balance = wei;
        state.db.insert_account_info(address, info);
    }

    /// Installs `code` at `address` (like `anvil_setCode`).
    pub fn set_code(&self, address: Address, code: Bytes) {
        let mut state = self.lock();
        let mut info = state
            .db
            .basic_ref(address)
            .ok()
            .flatten()
            .unwrap_or_default();
        let bytecode = Bytecode::new_raw(code);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        state.db.insert_account_info(address, info);
    }

    /// Runs a transaction from `from` without a signature (like anvil's impersonation), mines it
    /// and returns its receipt. The sender pays no gas.
    pub fn execute_as(
        &self,
        from: Address,
        to: Option<Address>,
        data: impl Into<Bytes>,
    ) -> Result<TxReceipt, ChainError> {
        let mut state = self.lock();
        let nonce = state
            .db
            .basic_ref(from)
            .ok()
            .flatten()
            .map(|info| info.nonce)
            .unwrap_or(0);
        let tx = TxEnv {
            caller: from,
            kind: to.map_or(TxKind::Create, TxKind::Call),
            data: data.into(),
            gas_limit: TX_GAS_LIMIT,
            gas_price: 0,
            nonce,
            chain_id: Some(self.chain_id),
            ..TxEnv::default()
        };
        // Distinct, deterministic hashes for unsigned transactions.
        state.system_nonce += 1;
        let mut seed = Vec::with_capacity(60);
        seed.extend_from_slice(b"t402-devnet");
        seed.extend_from_slice(&state.system_nonce.to_be_bytes());
        seed.extend_from_slice(from.as_slice());
        let hash = keccak256(&seed);
        self.mine(&mut state, tx, hash, true)
    }

    /// Deploys `creation_code` (constructor arguments appended) from [`DEVNET_DEPLOYER`].
    pub fn deploy(&self, creation_code: impl Into<Bytes>) -> Result<Address, ChainError> {
        let receipt = self.execute_as(DEVNET_DEPLOYER, None, creation_code)?;
        match (receipt.success, receipt.contract_address) {
            (true, Some(address)) => Ok(address),
            _ => Err(ChainError::Reverted {
                data: Bytes::new(),
                message: "contract creation failed".into(),
            }),
        }
    }

    /// Deploys the test token (ERC-20 with EIP-3009 and EIP-2612) with the given EIP-712 `name`
    /// and `version`.
    pub fn deploy_test_token(
        &self,
        name: &str,
        version: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<Address, ChainError> {
        let mut code = TestContract::Token.creation_code().to_vec();
        code.extend(
            IT402TestToken::constructorCall {
                name: name.into(),
                version: version.into(),
                symbol: symbol.into(),
                decimals,
            }
            .abi_encode(),
        );
        self.deploy(code)
    }

    /// Deploys the permit token (ERC-20 with EIP-2612 and no EIP-3009: paid through Permit2)
    /// with the given EIP-712 `name` and `version`.
    pub fn deploy_permit_token(
        &self,
        name: &str,
        version: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<Address, ChainError> {
        let mut code = TestContract::PermitToken.creation_code().to_vec();
        code.extend(
            IT402PermitToken::constructorCall {
                name: name.into(),
                version: version.into(),
                symbol: symbol.into(),
                decimals,
            }
            .abi_encode(),
        );
        self.deploy(code)
    }

    /// Mints `amount` of the test token (or the permit token) at `token` to `to`.
    pub fn mint(&self, token: Address, to: Address, amount: U256) -> Result<(), ChainError> {
        let call = IT402TestToken::mintCall { to, value: amount };
        let receipt = self.execute_as(DEVNET_DEPLOYER, Some(token), call.abi_encode())?;
        if receipt.success {
            Ok(())
        } else {
            Err(ChainError::Reverted {
                data: Bytes::new(),
                message: "mint reverted".into(),
            })
        }
    }

    /// The token balance of `owner`.
    pub async fn token_balance(&self, token: Address, owner: Address) -> Result<U256, ChainError> {
        call_typed(
            self,
            token,
            &IEip3009Token::balanceOfCall { account: owner },
        )
        .await
    }

    /// The number of the last mined block.
    pub fn block_number(&self) -> u64 {
        self.lock().block_number
    }

    /// Executes `tx` in a new block, commits its state changes and keeps its receipt. With
    /// `impersonated`, the sender pays no fees.
    fn mine(
        &self,
        state: &mut DevnetState,
        tx: TxEnv,
        hash: B256,
        impersonated: bool,
    ) -> Result<TxReceipt, ChainError> {
        let from = tx.caller;
        let to = match tx.kind {
            TxKind::Call(to) => Some(to),
            TxKind::Create => None,
        };
        let created = to.is_none().then(|| {
            let nonce = state
                .db
                .basic_ref(from)
                .ok()
                .flatten()
                .map(|i| i.nonce)
                .unwrap_or(0);
            from.create(nonce)
        });
        let mut block = self.block_env(state);
        if impersonated {
            // Unsigned system transactions pay no fees: their block has no base fee.
            block.basefee = 0;
        }
        let timestamp = self.next_timestamp(state);
        let outcome = {
            let mut evm = Context::mainnet()
                .with_ref_db(&state.db)
                .with_block(block)
                .modify_cfg_chained(|cfg| cfg.chain_id = self.chain_id)
                .build_mainnet();
            evm.transact(tx)
        };
        let outcome = outcome.map_err(|err| ChainError::Rejected {
            message: err.to_string(),
        })?;
        state.db.commit(outcome.state);
        state.block_number += 1;
        state.block_timestamp = timestamp;
        let result = outcome.result;
        let contract_address = match &result {
            ExecutionResult::Success {
                output: Output::Create(_, address),
                ..
            } => address.or(created),
            _ => None,
        };
        let receipt = TxReceipt {
            transaction_hash: hash,
            success: result.is_success(),
            block_number: state.block_number,
            gas_used: result.tx_gas_used(),
            from,
            to,
            contract_address,
        };
        state.receipts.insert(hash, receipt.clone());
        Ok(receipt)
    }

    /// Executes a read-only call at the pending block; nothing is kept.
    fn simulate(&self, call: &CallRequest) -> Result<ExecutionResult, ChainError> {
        let state = self.lock();
        let tx = TxEnv {
            caller: call.from.unwrap_or(Address::ZERO),
            kind: TxKind::Call(call.to),
            data: call.data.clone(),
            gas_limit: TX_GAS_LIMIT,
            gas_price: 0,
            chain_id: Some(self.chain_id),
            ..TxEnv::default()
        };
        // Calls pay nothing: gas price and base fee are zero, and the sender's nonce is not
        // checked.
        let block = BlockEnv {
            basefee: 0,
            ..self.block_env(&state)
        };
        let mut evm = Context::mainnet()
            .with_ref_db(&state.db)
            .with_block(block)
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = self.chain_id;
                cfg.disable_nonce_check = true;
            })
            .build_mainnet();
        evm.transact(tx)
            .map(|outcome| outcome.result)
            .map_err(|err| ChainError::Rejected {
                message: err.to_string(),
            })
    }

    fn read_account(&self, address: Address) -> Option<AccountInfo> {
        self.lock().db.basic_ref(address).ok().flatten()
    }

    fn apply_raw(&self, raw: &[u8]) -> Result<B256, ChainError> {
        let envelope = TxEnvelope::decode_2718_exact(raw).map_err(|err| ChainError::Rejected {
            message: format!("undecodable transaction: {err}"),
        })?;
        let from = envelope
            .recover_signer()
            .map_err(|err| ChainError::Rejected {
                message: format!("invalid transaction signature: {err}"),
            })?;
        if !matches!(envelope, TxEnvelope::Legacy(_) | TxEnvelope::Eip1559(_)) {
            return Err(ChainError::Rejected {
                message: "the devnet accepts legacy and EIP-1559 transactions only".into(),
            });
        }
        if envelope
            .access_list()
            .is_some_and(|list| !list.0.is_empty())
        {
            return Err(ChainError::Rejected {
                message: "the devnet does not accept access lists".into(),
            });
        }
        let hash = *envelope.tx_hash();
        let mut state = self.lock();
        if state.receipts.contains_key(&hash) {
            return Err(ChainError::Rejected {
                message: "already known".into(),
            });
        }
        let tx = TxEnv {
            tx_type: envelope.tx_type() as u8,
            caller: from,
            kind: envelope.kind(),
            data: envelope.input().clone(),
            value: envelope.value(),
            gas_limit: envelope.gas_limit(),
            gas_price: envelope.max_fee_per_gas(),
            gas_priority_fee: envelope.max_priority_fee_per_gas(),
            nonce: envelope.nonce(),
            chain_id: envelope.chain_id(),
            ..TxEnv::default()
        };
        self.mine(&mut state, tx, hash, false)?;
        Ok(hash)
    }
}

/// The output and gas of a successful execution; a revert or halt is [`ChainError::Reverted`].
fn succeeded(result: ExecutionResult) -> Result<(Bytes, u64), ChainError> {
    let used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => Ok((output.into_data(), used)),
        ExecutionResult::Revert { output, .. } => Err(ChainError::Reverted {
            message: crate::chain::decode_revert(&output),
            data: output,
        }),
        ExecutionResult::Halt { reason, .. } => Err(ChainError::Reverted {
            data: Bytes::new(),
            message: format!("halted: {reason:?}"),
        }),
    }
}

impl EvmChain for Devnet {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn call(&self, call: CallRequest) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        let result = self.simulate(&call).and_then(succeeded);
        Box::pin(async move { result.map(|(output, _)| output) })
    }

    fn estimate_gas(&self, call: CallRequest) -> BoxFuture<'_, Result<u64, ChainError>> {
        // What the call used, with a quarter more for what a real node's estimate would add.
        let result = self.simulate(&call).and_then(succeeded);
        Box::pin(async move { result.map(|(_, used)| used + used / 4) })
    }

    fn code(&self, address: Address) -> BoxFuture<'_, Result<Bytes, ChainError>> {
        let code = self
            .read_account(address)
            .and_then(|info| info.code)
            .map(|code| code.original_bytes())
            .unwrap_or_default();
        Box::pin(async move { Ok(code) })
    }

    fn balance(&self, address: Address) -> BoxFuture<'_, Result<U256, ChainError>> {
        let balance = self
            .read_account(address)
            .map(|info| info.balance)
            .unwrap_or_default();
        Box::pin(async move { Ok(balance) })
    }

    fn nonce(&self, address: Address) -> BoxFuture<'_, Result<u64, ChainError>> {
        let nonce = self
            .read_account(address)
            .map(|info| info.nonce)
            .unwrap_or_default();
        Box::pin(async move { Ok(nonce) })
    }

    fn fees(&self) -> BoxFuture<'_, Result<Fees, ChainError>> {
        Box::pin(async move {
            Ok(Fees {
                max_fee_per_gas: u128::from(DEVNET_BASE_FEE) * 2,
                max_priority_fee_per_gas: 0,
            })
        })
    }

    fn send_raw_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, ChainError>> {
        let result = self.apply_raw(&raw);
        Box::pin(async move { result })
    }

    fn receipt(&self, hash: B256) -> BoxFuture<'_, Result<Option<TxReceipt>, ChainError>> {
        let receipt = self.lock().receipts.get(&hash).cloned();
        Box::pin(async move { Ok(receipt) })
    }
}
