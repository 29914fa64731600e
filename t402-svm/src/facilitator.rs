//! The facilitator side on Solana: the offline checks plus a simulation for `/verify`, and
//! settlement as the fee payer.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use t402_core::error::BoxFuture;
use t402_core::mechanism::FacilitatorMechanism;
use t402_core::wire::JsonObject;
use t402_core::{
    FacilitatorError, Network, NetworkPattern, PaymentId, Reason, SendJournal, SettleRequest,
    SettleResponse, VerifyRequest, VerifyResponse,
};

use crate::pubkey::Pubkey;
use crate::rpc::{RpcError, SolanaRpc};
use crate::verify::{EXACT, Rejection, SvmVerification, verify_offline};

/// How long a settled transaction is remembered against duplicates (the reference's TTL).
pub const SETTLEMENT_MEMORY: Duration = Duration::from_secs(120);

/// How long settlement waits for confirmation by default: longer than a blockhash stays valid
/// (150 blocks, about a minute), so a transaction is confirmed or known expired before the
/// answer, unless the node cannot say whether its blockhash is still valid.
pub const DEFAULT_CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(90);

/// Scheme `exact` on one Solana network, paying fees with its own keys.
pub struct ExactSvmFacilitator<R> {
    network: Network,
    rpc: R,
    fee_payers: Vec<SigningKey>,
    confirmation_timeout: Duration,
    poll_interval: Duration,
    /// Payments being or recently settled, by payment id.
    settling: Mutex<HashMap<PaymentId, Settling>>,
    /// Which fee payer `/supported` names next.
    next_fee_payer: AtomicUsize,
    /// Token-2022 mint extensions refused.
    refused_mint_extensions: Vec<u16>,
}

/// What is known of a payment being or recently settled.
#[derive(Debug, Clone)]
struct Settling {
    at: Instant,
    /// The transaction id, once signed.
    signature: Option<String>,
    payer: Option<String>,
}

impl Settling {
    fn new() -> Self {
        Self {
            at: Instant::now(),
            signature: None,
            payer: None,
        }
    }
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
            next_fee_payer: AtomicUsize::new(0),
            refused_mint_extensions: crate::token2022::REFUSED_BY_DEFAULT.to_vec(),
        })
    }

    /// Sets how long settlement waits for confirmation and how often it asks.
    #[must_use]
    pub fn with_confirmation(mut self, timeout: Duration, poll_interval: Duration) -> Self {
        self.confirmation_timeout = timeout;
        self.poll_interval = poll_interval;
        self
    }

    /// The Token-2022 mint extensions to refuse (default
    /// [`REFUSED_BY_DEFAULT`](crate::token2022::REFUSED_BY_DEFAULT): transfer fee, permanent
    /// delegate, transfer hook).
    #[must_use]
    pub fn with_refused_mint_extensions(mut self, types: impl IntoIterator<Item = u16>) -> Self {
        self.refused_mint_extensions = types.into_iter().collect();
        self
    }

    /// For a Token-2022 payment: the mint's extensions, refused when one of them would let the
    /// payee receive less than the price or lose the payment.
    async fn check_mint(
        &self,
        request: &VerifyRequest,
        checked: &SvmVerification,
    ) -> Result<Result<(), Rejection>, FacilitatorError> {
        if checked.token_program != crate::pubkey::TOKEN_2022_PROGRAM {
            return Ok(Ok(()));
        }
        let refuse = |message: String| {
            Ok(Err(Rejection {
                reason: Reason::T402SvmMintExtensionRefused,
                message,
                payer: Some(checked.payer.to_string()),
            }))
        };
        let Ok(mint) = request.payment_requirements.asset.parse::<Pubkey>() else {
            return refuse("the asset is not a mint address".into());
        };
        let account = self.rpc.account(mint).await.map_err(unavailable)?;
        let extensions = account
            .as_ref()
            .and_then(|account| crate::token2022::mint_extensions(&account.data));
        match extensions {
            None => refuse(format!("{mint} is not a readable Token-2022 mint")),
            Some(types) => match types
                .iter()
                .find(|kind| self.refused_mint_extensions.contains(kind))
            {
                Some(kind) => refuse(format!("{mint} has Token-2022 extension {kind}")),
                None => Ok(Ok(())),
            },
        }
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
        if let Err(rejection) = self.check_mint(request, &checked).await? {
            return Ok(Err(rejection));
        }
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

    /// `/settle`: re-verify (with simulation), refuse a payment already being or recently
    /// settled (by payment id: the hash of the message, so re-signed variants are one payment),
    /// sign as the fee payer, record the transaction id, submit, and wait for confirmation until
    /// the blockhash expires or the deadline passes.
    pub async fn settle_payment(&self, request: &SettleRequest) -> SettleResponse {
        self.settle_payment_journaled(request, SendJournal::none())
            .await
    }

    /// [`settle_payment`](Self::settle_payment) with claim before send: the transaction id is
    /// written to `journal` after the fee payer signs and before the transaction is submitted.
    /// A journal that cannot be written submits nothing.
    pub async fn settle_payment_journaled(
        &self,
        request: &SettleRequest,
        journal: SendJournal<'_>,
    ) -> SettleResponse {
        let network = request.payment_payload.accepted.network.to_string();
        if request.payment_requirements.network != self.network
            || request.payment_payload.accepted.network != self.network
        {
            return SettleResponse::failure(Reason::InvalidNetwork, network, None)
                .with_message(format!("this facilitator settles on {}", self.network));
        }
        let Some(id) = crate::verify::payment_id(request) else {
            return SettleResponse::failure(
                Reason::InvalidExactSvmPayloadTransactionCouldNotBeDecoded,
                network,
                None,
            )
            .with_message("payload.transaction is not a v0 transaction in standard base64");
        };
        // Claimed before anything is awaited: two settlements of one payment cannot both pass
        // this point.
        let earlier = {
            let mut settling = self.settling.lock().unwrap_or_else(|p| p.into_inner());
            settling.retain(|_, record| record.at.elapsed() < SETTLEMENT_MEMORY);
            match settling.get(&id) {
                Some(record) => Some(record.clone()),
                None => {
                    settling.insert(id.clone(), Settling::new());
                    None
                }
            }
        };
        if let Some(record) = earlier {
            return self.duplicate(record, network);
        }
        let (checked, bytes) = match self.check(request).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(rejection)) => {
                self.forget(&id);
                return SettleResponse::failure(rejection.reason, network, rejection.payer)
                    .with_message(rejection.message);
            }
            Err(err) => {
                self.forget(&id);
                return SettleResponse::failure(Reason::UnexpectedSettleError, network, None)
                    .with_message(err.to_string());
            }
        };
        let payer = checked.payer.to_string();
        // The transaction id is the fee payer's signature, known before sending: recorded first,
        // so a retry reports it whatever happens to the send.
        let signature = checked.transaction.id();
        if let Err(err) = journal.sent(&signature).await {
            self.forget(&id);
            return SettleResponse::failure(
                Reason::T402SettlementStoreUnavailable,
                network,
                Some(payer),
            )
            .with_message(format!("nothing was submitted: {err}"));
        }
        self.record(&id, |record| {
            record.signature = Some(signature.clone());
            record.payer = Some(payer.clone());
        });
        let sent = self.rpc.send(bytes).await;
        if let Err(err) = &sent {
            tracing::warn!(transaction = %signature, error = %err, "send failed; watching for the transaction anyway");
        }
        let blockhash = checked.transaction.message.recent_blockhash;
        self.confirm(&signature, blockhash, &network, &payer, sent.err())
            .await
    }

    /// Waits for `signature` until it is confirmed or failed, its blockhash expires, or the
    /// deadline passes (then it is reported pending, with its id).
    async fn confirm(
        &self,
        signature: &str,
        blockhash: [u8; 32],
        network: &str,
        payer: &str,
        send_error: Option<RpcError>,
    ) -> SettleResponse {
        let deadline = Instant::now() + self.confirmation_timeout;
        loop {
            let looked = self
                .look(signature, blockhash, network, payer, send_error.as_ref())
                .await;
            if let Some(answer) = looked {
                return answer;
            }
            if Instant::now() >= deadline {
                return failure_with(
                    signature,
                    SettleResponse::failure(
                        Reason::SettleExactSvmTransactionConfirmationTimedOut,
                        network,
                        Some(payer.to_owned()),
                    )
                    .with_message("not confirmed before the deadline; it may still land"),
                );
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// One look at `signature`: its final answer once it is confirmed or failed, or once its
    /// blockhash expired without it; `None` while it may still land (or the node cannot say).
    async fn look(
        &self,
        signature: &str,
        blockhash: [u8; 32],
        network: &str,
        payer: &str,
        send_error: Option<&RpcError>,
    ) -> Option<SettleResponse> {
        let failed = |why: String| {
            failure_with(
                signature,
                SettleResponse::failure(Reason::TransactionFailed, network, Some(payer.to_owned()))
                    .with_message(why),
            )
        };
        match self.rpc.status(signature.to_owned()).await {
            Ok(Some(Ok(()))) => {
                return Some(SettleResponse::success(
                    signature,
                    network,
                    payer.to_owned(),
                ));
            }
            Ok(Some(Err(why))) => return Some(failed(why)),
            _ => {}
        }
        if let Ok(Some(false)) = self.rpc.blockhash_valid(blockhash).await {
            // Expired: the transaction can no longer land; one last look, then it is final.
            if let Ok(Some(Ok(()))) = self.rpc.status(signature.to_owned()).await {
                return Some(SettleResponse::success(
                    signature,
                    network,
                    payer.to_owned(),
                ));
            }
            return Some(failed(match send_error {
                Some(err) => format!("the send failed ({err}) and the blockhash expired"),
                None => "the blockhash expired before the transaction landed".to_owned(),
            }));
        }
        None
    }

    /// The final answer of `signature`, submitted earlier to settle `request` (by this process
    /// or another): confirmed, failed, or its blockhash expired without it. `None` while it may
    /// still land. Nothing is submitted.
    pub async fn follow_transaction(
        &self,
        request: &SettleRequest,
        signature: &str,
    ) -> Option<SettleResponse> {
        let checked = verify_offline(request, &self.addresses()).ok()?;
        let network = request.payment_payload.accepted.network.to_string();
        let blockhash = checked.transaction.message.recent_blockhash;
        self.look(
            signature,
            blockhash,
            &network,
            &checked.payer.to_string(),
            None,
        )
        .await
    }

    /// The answer to a settlement of a payment already being or recently settled, as the
    /// reference answers it (`duplicate_settlement`), with the recorded transaction and payer so
    /// the caller can follow the one transaction there is. Nothing is sent.
    fn duplicate(&self, record: Settling, network: String) -> SettleResponse {
        let mut answer =
            SettleResponse::failure(Reason::DuplicateSettlement, network, record.payer)
                .with_message("this payment is already being or has been settled");
        if let Some(signature) = record.signature {
            answer.transaction = Some(signature);
        }
        answer
    }

    fn record(&self, id: &PaymentId, update: impl FnOnce(&mut Settling)) {
        if let Some(record) = self
            .settling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            update(record);
        }
    }

    fn forget(&self, id: &PaymentId) {
        self.settling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// `response` naming the transaction it is about.
fn failure_with(signature: &str, mut response: SettleResponse) -> SettleResponse {
    response.transaction = Some(signature.to_owned());
    response
}

impl<R: SolanaRpc + 'static> FacilitatorMechanism for ExactSvmFacilitator<R> {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn family(&self) -> NetworkPattern {
        NetworkPattern::family_of(&self.network)
    }

    /// Each `/supported` answer names the next fee payer in turn, so servers spread their
    /// payments over the facilitator's keys.
    fn kind_extra(&self, _network: &Network) -> Option<JsonObject> {
        let addresses = self.addresses();
        let next = self.next_fee_payer.fetch_add(1, Ordering::Relaxed) % addresses.len();
        let mut extra = JsonObject::new();
        extra.insert(
            "feePayer".into(),
            serde_json::Value::String(addresses[next].to_string()),
        );
        Some(extra)
    }

    fn signers(&self, _network: &Network) -> Vec<String> {
        self.addresses().iter().map(Pubkey::to_string).collect()
    }

    /// The node answers for a blockhash and each fee payer's SOL (lamports).
    fn health<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, t402_core::health::ChainHealth> {
        use t402_core::health::{ChainHealth, SignerFunds};
        Box::pin(async move {
            if let Err(err) = self.rpc.latest_blockhash().await {
                return ChainHealth::down(network.to_string(), err.to_string());
            }
            let mut funds = Vec::new();
            for address in self.addresses() {
                match self.rpc.account(address).await {
                    Ok(account) => funds.push(SignerFunds::new(
                        address.to_string(),
                        t402_core::Amount::from(account.map_or(0, |account| account.lamports)),
                        9,
                    )),
                    Err(err) => return ChainHealth::down(network.to_string(), err.to_string()),
                }
            }
            ChainHealth::up(network.to_string(), funds)
        })
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

    fn settle_journaled<'a>(
        &'a self,
        request: &'a SettleRequest,
        journal: SendJournal<'a>,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async move { Ok(self.settle_payment_journaled(request, journal).await) })
    }

    fn follow<'a>(
        &'a self,
        request: &'a SettleRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        Box::pin(async move { Ok(self.follow_transaction(request, transaction).await) })
    }
}
