//! [`TransactionSender`]: sends the facilitator's transactions on one chain — estimate with
//! headroom, fees, sign with an idle key, send, wait for the receipt with a deadline. Every EVM
//! scheme's settlement (EIP-3009 here, Permit2 and `upto` next) sends through it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes};

use t402_core::SendJournal;

use super::signers::{FacilitatorSigners, Outgoing, SendError};
use crate::chain::{CallRequest, ChainError, EvmChain, TxReceipt};

/// How long settlement waits for a receipt by default.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often settlement asks for the receipt by default.
pub const DEFAULT_RECEIPT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Why a transaction did not end in a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// Nothing was sent: the estimate reverted with this message (the contract's).
    Reverted(String),
    /// Nothing was sent: the node could not estimate or give fees.
    NotSent(String),
    /// Nothing was sent: the node refused the signed transaction.
    SendRefused(String),
    /// Nothing was sent: the settlement record could not be written first.
    NotRecorded(String),
    /// Nothing was sent: the transaction needs more gas than the caller allows.
    OverGasCap {
        /// The estimate.
        needed: u64,
        /// The cap.
        cap: u64,
    },
    /// Sent, but no receipt arrived before the deadline.
    NoReceipt {
        /// The transaction hash.
        hash: B256,
        /// What happened while waiting.
        message: String,
    },
}

/// Sends transactions from the facilitator's keys on one chain.
#[derive(Clone)]
pub struct TransactionSender {
    chain: Arc<dyn EvmChain>,
    signers: Arc<FacilitatorSigners>,
    receipt_timeout: Duration,
    receipt_poll_interval: Duration,
    gas_headroom_percent: u64,
}

impl fmt::Debug for TransactionSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionSender")
            .field("chain", &self.chain)
            .field("signers", &self.signers)
            .field("receipt_timeout", &self.receipt_timeout)
            .finish_non_exhaustive()
    }
}

impl TransactionSender {
    /// Sends on `chain` with `signers`, with the default receipt deadline and 20 % gas headroom.
    pub fn new(chain: Arc<dyn EvmChain>, signers: Arc<FacilitatorSigners>) -> Self {
        Self {
            chain,
            signers,
            receipt_timeout: DEFAULT_RECEIPT_TIMEOUT,
            receipt_poll_interval: DEFAULT_RECEIPT_POLL_INTERVAL,
            gas_headroom_percent: 20,
        }
    }

    /// Sets how long a send waits for its receipt.
    #[must_use]
    pub fn with_receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// Sets how often a send polls for its receipt.
    #[must_use]
    pub fn with_receipt_poll_interval(mut self, interval: Duration) -> Self {
        self.receipt_poll_interval = interval;
        self
    }

    /// The chain backend.
    pub fn chain(&self) -> &Arc<dyn EvmChain> {
        &self.chain
    }

    /// The signers.
    pub fn signers(&self) -> &FacilitatorSigners {
        &self.signers
    }

    /// The receipt deadline.
    pub fn receipt_timeout(&self) -> Duration {
        self.receipt_timeout
    }

    /// Estimates (from the primary key, with headroom), reads fees, signs with an idle key,
    /// sends and waits for the receipt. A revert in the estimate sends nothing.
    pub async fn send_and_wait(&self, to: Address, data: Bytes) -> Result<TxReceipt, SendFailure> {
        self.send_and_wait_within(to, data, u64::MAX).await
    }

    /// [`send_and_wait`](Self::send_and_wait), refusing a transaction whose gas estimate is above
    /// `gas_cap` (nothing is sent then).
    pub async fn send_and_wait_within(
        &self,
        to: Address,
        data: Bytes,
        gas_cap: u64,
    ) -> Result<TxReceipt, SendFailure> {
        self.send_and_wait_journaled(to, data, gas_cap, SendJournal::none())
            .await
    }

    /// [`send_and_wait_within`](Self::send_and_wait_within), writing the transaction's hash to
    /// `journal` before it is broadcast. A broadcast that got no answer is watched for like a
    /// sent one (it may have reached the node).
    pub async fn send_and_wait_journaled(
        &self,
        to: Address,
        data: Bytes,
        gas_cap: u64,
        journal: SendJournal<'_>,
    ) -> Result<TxReceipt, SendFailure> {
        self.send_and_wait_as(None, to, data, gas_cap, journal)
            .await
    }

    /// [`send_and_wait_journaled`](Self::send_and_wait_journaled) from the key `from` (estimated
    /// as sent by it: a contract may check `msg.sender`), or an idle key when `None`.
    pub async fn send_and_wait_as(
        &self,
        from: Option<Address>,
        to: Address,
        data: Bytes,
        gas_cap: u64,
        journal: SendJournal<'_>,
    ) -> Result<TxReceipt, SendFailure> {
        let chain = self.chain.as_ref();
        let estimate =
            CallRequest::new(to, data.clone()).from(from.unwrap_or_else(|| self.signers.primary()));
        let gas = match chain.estimate_gas(estimate).await {
            Ok(gas) if gas > gas_cap => {
                return Err(SendFailure::OverGasCap {
                    needed: gas,
                    cap: gas_cap,
                });
            }
            Ok(gas) => gas + gas * self.gas_headroom_percent / 100,
            Err(ChainError::Reverted { message, .. }) => {
                return Err(SendFailure::Reverted(message));
            }
            Err(err) => {
                return Err(SendFailure::NotSent(format!(
                    "gas estimation failed: {err}"
                )));
            }
        };
        let fees = chain
            .fees()
            .await
            .map_err(|err| SendFailure::NotSent(format!("fees could not be read: {err}")))?;
        let mut call = Outgoing::call(to, data, gas, fees);
        call.from = from;
        match self.signers.send_outgoing(chain, call, journal).await {
            Ok(sent) => self.wait_for_receipt(sent.hash).await,
            Err(SendError::Unconfirmed { sent, source }) => {
                tracing::warn!(transaction = %sent.hash, error = %source, "broadcast got no answer; watching for the transaction");
                self.wait_for_receipt(sent.hash).await
            }
            Err(SendError::Journal(err)) => Err(SendFailure::NotRecorded(err.to_string())),
            Err(err) => Err(SendFailure::SendRefused(err.to_string())),
        }
    }

    /// Sends `wei` of the chain's coin to `to` (a plain transfer, 21,000 gas) and waits for the
    /// receipt: how the facilitator pays the gas of a transaction a payer signed.
    pub async fn send_coin(
        &self,
        to: Address,
        wei: alloy_primitives::U256,
    ) -> Result<TxReceipt, SendFailure> {
        let fees = self
            .chain
            .fees()
            .await
            .map_err(|err| SendFailure::NotSent(format!("fees could not be read: {err}")))?;
        let call = Outgoing::call(to, Bytes::new(), 21_000, fees).value(wei);
        match self
            .signers
            .send_outgoing(self.chain.as_ref(), call, SendJournal::none())
            .await
        {
            Ok(sent) => self.wait_for_receipt(sent.hash).await,
            Err(SendError::Unconfirmed { sent, .. }) => self.wait_for_receipt(sent.hash).await,
            Err(err) => Err(SendFailure::SendRefused(err.to_string())),
        }
    }

    /// Polls for the receipt of `hash` until the deadline.
    pub async fn wait_for_receipt(&self, hash: B256) -> Result<TxReceipt, SendFailure> {
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        let mut last_error = None;
        loop {
            match self.chain.receipt(hash).await {
                Ok(Some(receipt)) => return Ok(receipt),
                Ok(None) => {}
                Err(err) => last_error = Some(err.to_string()),
            }
            if tokio::time::Instant::now() + self.receipt_poll_interval > deadline {
                let message = match last_error {
                    Some(err) => format!("no receipt within {:?}: {err}", self.receipt_timeout),
                    None => format!("no receipt within {:?}", self.receipt_timeout),
                };
                return Err(SendFailure::NoReceipt { hash, message });
            }
            tokio::time::sleep(self.receipt_poll_interval).await;
        }
    }
}
