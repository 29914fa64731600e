//! The facilitator side on Solana: the offline checks plus a simulation for `/verify`, and
//! settlement as the fee payer.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use t402_core::error::BoxFuture;
use t402_core::mechanism::FacilitatorMechanism;
use t402_core::wire::JsonObject;
use t402_core::{
    FacilitatorError, Network, NetworkPattern, Reason, SettleRequest, SettleResponse,
    VerifyRequest, VerifyResponse,
};

use crate::pubkey::Pubkey;
use crate::rpc::{RpcError, SolanaRpc};
use crate::verify::{EXACT, Rejection, SvmVerification, verify_offline};

/// How long a settled transaction is remembered against duplicates (the reference's TTL).
pub const SETTLEMENT_MEMORY: Duration = Duration::from_secs(120);

/// How long settlement waits for confirmation by default.
pub const DEFAULT_CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Scheme `exact` on one Solana network, paying fees with its own keys.
pub struct ExactSvmFacilitator<R> {
    network: Network,
    rpc: R,
    fee_payers: Vec<SigningKey>,
    confirmation_timeout: Duration,
    poll_interval: Duration,
    /// Transactions being or recently settled, by their base64 form.
    settling: Mutex<HashMap<String, Instant>>,
}

impl<R: fmt::Debug> fmt::Debug for ExactSvmFacilitator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactSvmFacilitator")
            .field("network", &self.network)
            .field("fee_payers", &self.addresses())
            .field("rpc", &self.rpc)
            .finish_non_exhaustive()
    }
}

/// Why a facilitator could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// No fee-payer key.
    #[error("a facilitator needs at least one fee-payer key")]
    NoFeePayer,
    /// The network is not a Solana network.
    #[error("{0} is not a Solana network")]
    NotSolana(Network),
}

fn unavailable(err: RpcError) -> FacilitatorError {
    FacilitatorError::Unavailable(Box::new(err))
}

impl<R> ExactSvmFacilitator<R> {
    /// The fee-payer addresses.
    pub fn addresses(&self) -> Vec<Pubkey> {
        self.fee_payers
            .iter()
            .map(|key| Pubkey(key.verifying_key().to_bytes()))
            .collect()
    }

    fn key_of(&self, fee_payer: &Pubkey) -> Option<&SigningKey> {
        self.fee_payers
            .iter()
            .find(|key| key.verifying_key().to_bytes() == fee_payer.0)
    }
}

impl<R: SolanaRpc> ExactSvmFacilitator<R> {
    /// A facilitator on `network` (`solana:…`), paying fees with `fee_payers`.
    pub fn new(network: Network, rpc: R, fee_payers: Vec<SigningKey>) -> Result<Self, SetupError> {
        if !network.is_solana() {
            return Err(SetupError::NotSolana(network));
        }
        if fee_payers.is_empty() {
            return Err(SetupError::NoFeePayer);
        }
        Ok(Self {
            network,
            rpc,
            fee_payers,
            confirmation_timeout: DEFAULT_CONFIRMATION_TIMEOUT,
            poll_interval: Duration::from_millis(500),
            settling: Mutex::new(HashMap::new()),
        })
    }

    /// Sets how long settlement waits for confirmation and how often it asks.
    #[must_use]
    pub fn with_confirmation(mut self, timeout: Duration, poll_interval: Duration) -> Self {
        self.confirmation_timeout = timeout;
        self.poll_interval = poll_interval;
        self
    }

    /// Every check, then the transaction co-signed and simulated. `Err` when the node fails.
    async fn check(
        &self,
        request: &VerifyRequest,
    ) -> Result<Result<(SvmVerification, Vec<u8>), Rejection>, FacilitatorError> {
        let mut checked = match verify_offline(request, &self.addresses()) {
            Ok(checked) => checked,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let Some(key) = self.key_of(&checked.fee_payer) else {
            return Ok(Err(Rejection {
                reason: Reason::FeePayerNotManagedByFacilitator,
                message: format!(
                    "{} is not a fee payer of this facilitator",
                    checked.fee_payer
                ),
                payer: Some(checked.payer.to_string()),
            }));
        };
        checked
            .transaction
            .sign(key)
            .map_err(|err| FacilitatorError::Internal {
                reason: Reason::TransactionSimulationFailed,
                source: Box::new(err),
            })?;
        let bytes = checked
            .transaction
            .serialize()
            .map_err(|err| FacilitatorError::Internal {
                reason: Reason::TransactionSimulationFailed,
                source: Box::new(err),
            })?;
        match self
            .rpc
            .simulate(bytes.clone())
            .await
            .map_err(unavailable)?
        {
            Ok(()) => Ok(Ok((checked, bytes))),
            Err(why) => Ok(Err(Rejection {
                reason: Reason::TransactionSimulationFailed,
                message: why,
                payer: Some(checked.payer.to_string()),
            })),
        }
    }

    /// `/verify`.
    pub async fn verify_payment(
        &self,
        request: &VerifyRequest,
    ) -> Result<VerifyResponse, FacilitatorError> {
        Ok(match self.check(request).await? {
            Ok((checked, _)) => VerifyResponse::valid(checked.payer.to_string()),
            Err(rejection) => rejection.to_verify_response(),
        })
    }

    /// `/settle`: re-verify (with simulation), refuse a transaction already being settled, sign
    /// as the fee payer, submit and wait for confirmation.
    pub async fn settle_payment(&self, request: &SettleRequest) -> SettleResponse {
        let network = request.payment_payload.accepted.network.to_string();
        let key = request
            .payment_payload
            .payload
            .get("transaction")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        // Claimed before anything is awaited: two settlements of one transaction cannot both
        // pass this point.
        {
            let mut settling = self.settling.lock().unwrap_or_else(|p| p.into_inner());
            settling.retain(|_, at| at.elapsed() < SETTLEMENT_MEMORY);
            if settling.contains_key(&key) {
                return SettleResponse::failure(Reason::DuplicateSettlement, network, None)
                    .with_message("this transaction is already being or has been settled");
            }
            settling.insert(key.clone(), Instant::now());
        }
        let (checked, bytes) = match self.check(request).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(rejection)) => {
                self.forget(&key);
                return SettleResponse::failure(rejection.reason, network, rejection.payer)
                    .with_message(rejection.message);
            }
            Err(err) => {
                self.forget(&key);
                return SettleResponse::failure(Reason::UnexpectedSettleError, network, None)
                    .with_message(err.to_string());
            }
        };
        let payer = checked.payer.to_string();
        let signature = match self.rpc.send(bytes).await {
            Ok(signature) => signature,
            Err(err) => {
                return SettleResponse::failure(Reason::TransactionFailed, network, Some(payer))
                    .with_message(err.to_string());
            }
        };
        let deadline = Instant::now() + self.confirmation_timeout;
        loop {
            match self.rpc.status(signature.clone()).await {
                Ok(Some(Ok(()))) => return SettleResponse::success(signature, network, payer),
                Ok(Some(Err(why))) => {
                    let mut failed =
                        SettleResponse::failure(Reason::TransactionFailed, network, Some(payer))
                            .with_message(why);
                    failed.transaction = Some(signature);
                    return failed;
                }
                Ok(None) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(self.poll_interval).await;
                }
                _ => {
                    let mut pending = SettleResponse::failure(
                        Reason::SettleExactSvmTransactionConfirmationTimedOut,
                        network,
                        Some(payer),
                    )
                    .with_message("not confirmed before the deadline");
                    pending.transaction = Some(signature);
                    return pending;
                }
            }
        }
    }

    fn forget(&self, key: &str) {
        self.settling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

impl<R: SolanaRpc + 'static> FacilitatorMechanism for ExactSvmFacilitator<R> {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn family(&self) -> NetworkPattern {
        NetworkPattern::family_of(&self.network)
    }

    fn kind_extra(&self, _network: &Network) -> Option<JsonObject> {
        let mut extra = JsonObject::new();
        extra.insert(
            "feePayer".into(),
            serde_json::Value::String(self.addresses()[0].to_string()),
        );
        Some(extra)
    }

    fn signers(&self, _network: &Network) -> Vec<String> {
        self.addresses().iter().map(Pubkey::to_string).collect()
    }

    fn payment_id(&self, request: &VerifyRequest) -> Option<t402_core::PaymentId> {
        crate::verify::payment_id(request)
    }

    fn verify<'a>(
        &'a self,
        request: &'a VerifyRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(self.verify_payment(request))
    }

    fn settle<'a>(
        &'a self,
        request: &'a SettleRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async move { Ok(self.settle_payment(request).await) })
    }
}
