//! The facilitator side of scheme `exact` on EVM over EIP-3009: verification with the chain's
//! help (contract wallets, simulation, diagnosis) and settlement.
//!
//! [`ExactEvmFacilitator`] serves one chain through an [`EvmChain`] backend with the
//! facilitator's own [`FacilitatorSigners`] (several keys, nonces managed per key). Register it
//! on a [`LocalFacilitator`](t402_core::LocalFacilitator) for the chain's network.

mod locks;
mod onchain;
mod pending;
mod permit2;

pub use permit2::Permit2Flavor;
mod sender;
mod settle;
mod signers;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{B256, U256};
use t402_core::error::BoxFuture;
use t402_core::mechanism::FacilitatorMechanism;
use t402_core::{
    FacilitatorError, Network, NetworkPattern, PaymentId, Reason, SendJournal, SettleRequest,
    SettleResponse, VerifyRequest, VerifyResponse,
};
use tracing::Instrument;

use crate::chain::{ChainError, EvmChain, call_typed};
use crate::clock::{Clock, SystemClock};
use crate::contracts::IEip3009Token;
use crate::permit2::is_permit2_payload;
use crate::verify::{EXACT, OfflineVerification, Rejection, check_message, check_terms};
use locks::PayerLocks;
use onchain::{WalletSignature, diagnose_failure, simulate_transfer, wallet_signature};
use pending::PendingTransactions;
use settle::{Answer, SettleInputs};

pub use sender::{
    DEFAULT_RECEIPT_POLL_INTERVAL, DEFAULT_RECEIPT_TIMEOUT, SendFailure, TransactionSender,
};
pub use signers::{FacilitatorSigners, Outgoing, SendError, SentTransaction, SignerSetupError};

/// The most gas an ERC-6492 wallet deployment may take by default.
pub const DEFAULT_ERC6492_GAS_CAP: u64 = 1_000_000;

/// Why a facilitator could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FacilitatorSetupError {
    /// The signers are bound to another chain than the backend serves.
    #[error("signers are bound to chain {signers}, the chain backend serves {chain}")]
    ChainMismatch {
        /// The signers' chain id.
        signers: u64,
        /// The backend's chain id.
        chain: u64,
    },
}

/// Scheme `exact` (EIP-3009) facilitator for one EVM chain.
pub struct ExactEvmFacilitator {
    network: Network,
    chain: Arc<dyn EvmChain>,
    sender: TransactionSender,
    clock: Arc<dyn Clock>,
    simulate_in_verify: bool,
    simulate_in_settle: bool,
    erc6492_factories: Vec<alloy_primitives::Address>,
    erc6492_gas_cap: u64,
    sponsor_erc20_approvals: bool,
    payer_locks: PayerLocks,
    /// Transactions sent whose receipt did not arrive in time, so a retry finds them instead of
    /// sending again.
    pending: PendingTransactions,
}

impl fmt::Debug for ExactEvmFacilitator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactEvmFacilitator")
            .field("network", &self.network)
            .field("sender", &self.sender)
            .field("simulate_in_verify", &self.simulate_in_verify)
            .field("simulate_in_settle", &self.simulate_in_settle)
            .field("erc6492_factories", &self.erc6492_factories)
            .finish_non_exhaustive()
    }
}

impl ExactEvmFacilitator {
    /// A facilitator on `chain`, sending with `signers` (which must be bound to the same chain).
    pub fn new(
        chain: impl EvmChain + 'static,
        signers: FacilitatorSigners,
    ) -> Result<Self, FacilitatorSetupError> {
        let chain_id = chain.chain_id();
        if signers.chain_id() != chain_id {
            return Err(FacilitatorSetupError::ChainMismatch {
                signers: signers.chain_id(),
                chain: chain_id,
            });
        }
        let chain: Arc<dyn EvmChain> = Arc::new(chain);
        Ok(Self {
            network: Network::eip155(chain_id),
            sender: TransactionSender::new(chain.clone(), Arc::new(signers)),
            chain,
            clock: Arc::new(SystemClock),
            simulate_in_verify: true,
            simulate_in_settle: false,
            erc6492_factories: Vec::new(),
            erc6492_gas_cap: DEFAULT_ERC6492_GAS_CAP,
            sponsor_erc20_approvals: false,
            payer_locks: PayerLocks::new(),
            pending: PendingTransactions::default(),
        })
    }

    /// Reads time from `clock` (validity windows).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether `/verify` simulates the transfer (default: yes).
    #[must_use]
    pub fn with_simulation_in_verify(mut self, simulate: bool) -> Self {
        self.simulate_in_verify = simulate;
        self
    }

    /// Whether `/settle` simulates the transfer again before sending (default: no; the gas
    /// estimate still refuses a transfer that would revert).
    #[must_use]
    pub fn with_simulation_in_settle(mut self, simulate: bool) -> Self {
        self.simulate_in_settle = simulate;
        self
    }

    /// The wallet factories settlement may call to deploy an undeployed ERC-6492 wallet first
    /// (default: none, and such payments are refused at settlement). The factory call is sent
    /// from the facilitator's own keys, so only factories the operator trusts belong here; the
    /// deployment must also leave a wallet at `from` that accepts the signature (checked by
    /// simulation before anything is sent, and on chain before the transfer).
    #[must_use]
    pub fn with_erc6492_factories(
        mut self,
        factories: impl IntoIterator<Item = alloy_primitives::Address>,
    ) -> Self {
        self.erc6492_factories = factories.into_iter().collect();
        self
    }

    /// The most gas a wallet deployment may take (default [`DEFAULT_ERC6492_GAS_CAP`]).
    #[must_use]
    pub fn with_erc6492_gas_cap(mut self, gas: u64) -> Self {
        self.erc6492_gas_cap = gas;
        self
    }

    /// Whether Permit2 payments may carry a signed `approve(Permit2, max)` for the facilitator
    /// to broadcast before settling (`erc20ApprovalGasSponsoring`; default: no). The facilitator
    /// pays the approval's gas when the payer cannot: list the extension in `/supported`
    /// ([`t402_core::LocalFacilitator::with_extension`]) only when this is on.
    #[must_use]
    pub fn with_erc20_approval_sponsoring(mut self, sponsor: bool) -> Self {
        self.sponsor_erc20_approvals = sponsor;
        self
    }

    /// Whether this facilitator broadcasts sponsored approvals.
    pub fn sponsors_erc20_approvals(&self) -> bool {
        self.sponsor_erc20_approvals
    }

    /// How long settlement waits for the receipt (default [`DEFAULT_RECEIPT_TIMEOUT`]).
    #[must_use]
    pub fn with_receipt_timeout(mut self, timeout: Duration) -> Self {
        self.sender = self.sender.with_receipt_timeout(timeout);
        self
    }

    /// How often settlement polls for the receipt (default [`DEFAULT_RECEIPT_POLL_INTERVAL`]).
    #[must_use]
    pub fn with_receipt_poll_interval(mut self, interval: Duration) -> Self {
        self.sender = self.sender.with_receipt_poll_interval(interval);
        self
    }

    /// The network served (`eip155:<chain id>`).
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The chain backend.
    pub fn chain(&self) -> &Arc<dyn EvmChain> {
        &self.chain
    }

    /// The signers.
    pub fn signers(&self) -> &FacilitatorSigners {
        self.sender.signers()
    }

    /// What sends the facilitator's transactions.
    pub fn sender(&self) -> &TransactionSender {
        &self.sender
    }

    /// How many sent transactions still wait for a receipt (records end once the authorization
    /// has expired, since it can no longer pay).
    pub fn pending_settlements(&self) -> usize {
        self.pending.live(self.clock.now())
    }

    /// Every verification step of protocol reference §5.3 in order: the message and signature
    /// (steps 1 to 4, contract wallets on chain), the terms (5 to 8), then, with `simulate`, the
    /// simulation and its diagnosis (9). A node that cannot be reached is an `Err`.
    async fn check(
        &self,
        request: &VerifyRequest,
        simulate: bool,
    ) -> Result<Result<(OfflineVerification, WalletSignature), Rejection>, ChainError> {
        let checked = match check_message(request) {
            Ok(checked) => checked,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let payer = Some(checked.payer());
        if checked.chain_id != self.chain.chain_id() {
            return Ok(Err(Rejection::new(
                Reason::InvalidNetwork,
                format!(
                    "this facilitator settles on {}, not {}",
                    self.network, request.payment_requirements.network
                ),
                payer,
            )));
        }
        let wallet = wallet_signature(self.chain.as_ref(), &checked).await?;
        if wallet == WalletSignature::Undeployed {
            return Ok(Err(Rejection::new(
                Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
                format!(
                    "{} has no code and the signature carries no ERC-6492 deployment",
                    checked.payer()
                ),
                payer,
            )));
        }
        if let Err(rejection) = check_terms(&checked, request, self.clock.now()) {
            return Ok(Err(rejection));
        }
        if simulate {
            let sender = Some(self.signers().primary());
            if !simulate_transfer(self.chain.as_ref(), &checked, sender).await? {
                let (reason, mut message) =
                    diagnose_failure(self.chain.as_ref(), &checked, &request.payment_requirements)
                        .await;
                if wallet == WalletSignature::Refused {
                    message =
                        format!("the wallet's ERC-1271 check refused the signature; {message}");
                }
                return Ok(Err(Rejection::new(reason, message, payer)));
            }
        } else if wallet == WalletSignature::Refused {
            return Ok(Err(Rejection::new(
                Reason::InvalidExactEvmSignature,
                "the wallet's ERC-1271 check refused the signature",
                payer,
            )));
        }
        Ok(Ok((checked, wallet)))
    }

    /// `/verify`: every check, with simulation unless turned off.
    pub async fn verify_payment(
        &self,
        request: &VerifyRequest,
    ) -> Result<VerifyResponse, FacilitatorError> {
        if is_permit2_payload(&request.payment_payload.payload) {
            let flavor = permit2::Permit2Flavor::Exact;
            return match permit2::check(self, request, self.simulate_in_verify, flavor).await {
                Ok(Ok(checked)) => Ok(VerifyResponse::valid(
                    checked.verification.payer().to_checksum(None),
                )),
                Ok(Err(rejection)) => Ok(rejection.to_verify_response()),
                Err(err) => Err(chain_unavailable(err)),
            };
        }
        match self.check(request, self.simulate_in_verify).await {
            Ok(Ok((checked, _))) => Ok(VerifyResponse::valid(checked.payer().to_checksum(None))),
            Ok(Err(rejection)) => Ok(rejection.to_verify_response()),
            Err(err) => Err(chain_unavailable(err)),
        }
    }

    /// `/settle`: re-verifies, then pays on chain. Always a complete answer: `network` and
    /// `payer` are set on failure too, and `transaction` once a transaction was sent.
    pub async fn settle_payment(&self, request: &SettleRequest) -> SettleResponse {
        self.settle_payment_journaled(request, SendJournal::none())
            .await
    }

    /// `/settle` with claim before send: the transfer's hash is written to `journal` after it
    /// is signed and before it is broadcast.
    pub async fn settle_payment_journaled(
        &self,
        request: &SettleRequest,
        journal: SendJournal<'_>,
    ) -> SettleResponse {
        let network = request.payment_payload.accepted.network.to_string();
        let span = tracing::info_span!(
            "t402.evm.settle",
            network = %network,
            payer = tracing::field::Empty
        );
        self.settle_checked(request, &network, journal)
            .instrument(span)
            .await
    }

    /// The final answer of `transaction`, sent earlier to settle `request`: from its receipt;
    /// or, when there is none and the authorization has expired unused, a final failure (the
    /// transaction can no longer pay). `Ok(None)` while it may still land. Nothing is sent.
    pub async fn follow_transaction(
        &self,
        request: &SettleRequest,
        transaction: &str,
    ) -> Result<Option<SettleResponse>, FacilitatorError> {
        let network = request.payment_payload.accepted.network.to_string();
        if is_permit2_payload(&request.payment_payload.payload) {
            return self.follow_permit2(request, &network, transaction).await;
        }
        let (Ok(hash), Ok(checked)) = (transaction.parse::<B256>(), check_message(request)) else {
            return Ok(None);
        };
        let answer = Answer {
            network: &network,
            payer: Some(checked.payer().to_checksum(None)),
        };
        if let Some(receipt) = self.chain.receipt(hash).await.map_err(chain_unavailable)? {
            return Ok(Some(answer.of_receipt(&receipt)));
        }
        let auth = &checked.payload.authorization;
        if auth.valid_before > U256::from(self.clock.now()) {
            return Ok(None);
        }
        let state = IEip3009Token::authorizationStateCall {
            authorizer: checked.payer(),
            nonce: auth.nonce,
        };
        let used = call_typed(self.chain.as_ref(), checked.token, &state)
            .await
            .map_err(chain_unavailable)?;
        Ok((!used).then(|| {
            answer.failure_after_send(
                Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
                "the transaction never landed and the authorization has expired",
                hash,
            )
        }))
    }

    /// `upto` verification (protocol reference §7.3): the Permit2 checks with the `upto` proxy,
    /// the witness naming one of this facilitator's keys, the permitted amount equal to
    /// `requirements.amount` (the ceiling), and the simulation of settling it from that key.
    pub async fn verify_upto(
        &self,
        request: &VerifyRequest,
    ) -> Result<VerifyResponse, FacilitatorError> {
        match permit2::check(
            self,
            request,
            self.simulate_in_verify,
            permit2::Permit2Flavor::Upto,
        )
        .await
        {
            Ok(Ok(checked)) => Ok(VerifyResponse::valid(
                checked.verification.payer().to_checksum(None),
            )),
            Ok(Err(rejection)) => Ok(rejection.to_verify_response()),
            Err(err) => Err(chain_unavailable(err)),
        }
    }

    /// `upto` settlement (protocol reference §7.4): `requirements.amount` is the charge. The
    /// payment is re-verified against its permitted amount (with simulation); a charge above it
    /// is `invalid_upto_evm_payload_settlement_exceeds_amount`; a zero charge succeeds without a
    /// transaction; otherwise the `upto` proxy moves the charge, sent from the key the witness
    /// names. The answer carries the settled `amount`. The hash is written to `journal` before
    /// the broadcast.
    pub async fn settle_upto_journaled(
        &self,
        request: &SettleRequest,
        journal: SendJournal<'_>,
    ) -> SettleResponse {
        let network = request.payment_payload.accepted.network.to_string();
        let span = tracing::info_span!(
            "t402.evm.settle_upto",
            network = %network,
            payer = tracing::field::Empty
        );
        self.settle_upto_checked(request, &network, journal)
            .instrument(span)
            .await
    }

    async fn settle_upto_checked(
        &self,
        request: &SettleRequest,
        network: &str,
        journal: SendJournal<'_>,
    ) -> SettleResponse {
        let flavor = permit2::Permit2Flavor::Upto;
        let mut answer = Answer {
            network,
            payer: None,
        };
        let charge = request.payment_requirements.amount;
        let permitted = match crate::permit2::check_permit2_message(
            request,
            &crate::permit2::Permit2Rules::UPTO,
        ) {
            Ok((payload, _)) => payload.authorization.amount,
            Err(rejection) => {
                answer.payer = rejection.payer.map(|p| p.to_checksum(None));
                return answer.failure(rejection.reason, rejection.message);
            }
        };
        // Verified against the ceiling the payer signed, not the charge.
        let mut at_ceiling = request.clone();
        at_ceiling.payment_requirements.amount = t402_core::Amount::from(permitted);
        let checked = match permit2::check(self, &at_ceiling, true, flavor).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(rejection)) => {
                answer.payer = rejection.payer.map(|p| p.to_checksum(None));
                return answer.failure(rejection.reason, rejection.message);
            }
            Err(err) => {
                return answer.failure(
                    Reason::UnexpectedSettleError,
                    format!("the chain could not be read: {err}"),
                );
            }
        };
        let payer = checked.verification.payer();
        tracing::Span::current().record("payer", tracing::field::display(payer));
        answer.payer = Some(payer.to_checksum(None));
        let amount = charge.as_u256();
        if amount > permitted {
            return answer.failure(
                Reason::InvalidUptoEvmPayloadSettlementExceedsAmount,
                format!("the charge {charge} is above the permitted {permitted}"),
            );
        }
        let mut response = if amount.is_zero() {
            SettleResponse::success("", network, payer.to_checksum(None))
        } else {
            permit2::settle(self, &checked, flavor, amount, &answer, journal).await
        };
        if response.success {
            response.amount = Some(charge);
        }
        response
    }

    /// [`follow_transaction`](Self::follow_transaction) of a Permit2 payment: final once the
    /// permit's deadline has passed with its nonce unused.
    async fn follow_permit2(
        &self,
        request: &SettleRequest,
        network: &str,
        transaction: &str,
    ) -> Result<Option<SettleResponse>, FacilitatorError> {
        let rules = if request.payment_requirements.scheme == "upto" {
            crate::permit2::Permit2Rules::UPTO
        } else {
            crate::permit2::Permit2Rules::EXACT
        };
        let (Ok(hash), Ok((payload, _))) = (
            transaction.parse::<B256>(),
            crate::permit2::check_permit2_message(request, &rules),
        ) else {
            return Ok(None);
        };
        let auth = payload.authorization;
        let answer = Answer {
            network,
            payer: Some(auth.from.to_checksum(None)),
        };
        if let Some(receipt) = self.chain.receipt(hash).await.map_err(chain_unavailable)? {
            return Ok(Some(answer.of_receipt(&receipt)));
        }
        if auth.deadline >= U256::from(self.clock.now()) {
            return Ok(None);
        }
        let used = permit2::nonce_used(self.chain.as_ref(), auth.from, auth.nonce)
            .await
            .map_err(chain_unavailable)?;
        Ok((!used).then(|| {
            answer.failure_after_send(
                Reason::Permit2DeadlineExpired,
                "the transaction never landed and the permit has expired",
                hash,
            )
        }))
    }

    /// Re-verifies, then settles with the facilitator's sender, locks and records.
    async fn settle_checked(
        &self,
        request: &SettleRequest,
        network: &str,
        journal: SendJournal<'_>,
    ) -> SettleResponse {
        let mut answer = Answer {
            network,
            payer: None,
        };
        if is_permit2_payload(&request.payment_payload.payload) {
            return match permit2::check(
                self,
                request,
                self.simulate_in_settle,
                permit2::Permit2Flavor::Exact,
            )
            .await
            {
                Ok(Ok(checked)) => {
                    let payer = checked.verification.payer();
                    tracing::Span::current().record("payer", tracing::field::display(payer));
                    answer.payer = Some(payer.to_checksum(None));
                    let amount = checked.verification.payload.authorization.amount;
                    permit2::settle(
                        self,
                        &checked,
                        permit2::Permit2Flavor::Exact,
                        amount,
                        &answer,
                        journal,
                    )
                    .await
                }
                Ok(Err(rejection)) => {
                    answer.payer = rejection.payer.map(|p| p.to_checksum(None));
                    answer.failure(rejection.reason, rejection.message)
                }
                Err(err) => answer.failure(
                    Reason::UnexpectedSettleError,
                    format!("the chain could not be read: {err}"),
                ),
            };
        }
        let (checked, wallet) = match self.check(request, self.simulate_in_settle).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(rejection)) => {
                answer.payer = rejection.payer.map(|p| p.to_checksum(None));
                return answer.failure(rejection.reason, rejection.message);
            }
            Err(err) => {
                return answer.failure(
                    Reason::UnexpectedSettleError,
                    format!("the chain could not be read: {err}"),
                );
            }
        };
        let payer = checked.payer();
        tracing::Span::current().record("payer", tracing::field::display(payer));
        answer.payer = Some(payer.to_checksum(None));
        let inputs = SettleInputs {
            sender: &self.sender,
            locks: &self.payer_locks,
            pending: &self.pending,
            now: self.clock.now(),
            erc6492_factories: &self.erc6492_factories,
            erc6492_gas_cap: self.erc6492_gas_cap,
            journal,
        };
        settle::settle(inputs, &checked, wallet, &answer).await
    }
}

fn chain_unavailable(err: ChainError) -> FacilitatorError {
    match err {
        ChainError::Timeout(after) => FacilitatorError::Timeout(after),
        other => FacilitatorError::Unavailable(Box::new(other)),
    }
}

impl FacilitatorMechanism for ExactEvmFacilitator {
    fn scheme(&self) -> &str {
        EXACT
    }

    fn family(&self) -> NetworkPattern {
        NetworkPattern::family_of(&self.network)
    }

    fn payment_id(&self, request: &VerifyRequest) -> Option<PaymentId> {
        crate::payload::payment_id(request)
    }

    /// The `/supported` extensions of Permit2 gas sponsoring this facilitator settles.
    fn extensions(&self) -> Vec<String> {
        let mut keys = vec![crate::permit2::EIP2612_GAS_SPONSORING.to_owned()];
        if self.sponsor_erc20_approvals {
            keys.push(crate::permit2::ERC20_APPROVAL_GAS_SPONSORING.to_owned());
        }
        keys
    }

    /// The node answers for each signer's ETH balance (gas money).
    fn health<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, t402_core::health::ChainHealth> {
        use t402_core::health::{ChainHealth, SignerFunds};
        Box::pin(async move {
            let mut funds = Vec::new();
            for address in self.signers().addresses() {
                match self.chain.balance(address).await {
                    Ok(balance) => funds.push(SignerFunds::new(
                        address.to_checksum(None),
                        t402_core::Amount::from(balance),
                        18,
                    )),
                    Err(err) => return ChainHealth::down(network.to_string(), err.to_string()),
                }
            }
            ChainHealth::up(network.to_string(), funds)
        })
    }

    fn signers(&self, network: &Network) -> Vec<String> {
        if network == &self.network {
            self.signers()
                .addresses()
                .iter()
                .map(|address| address.to_checksum(None))
                .collect()
        } else {
            Vec::new()
        }
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
        Box::pin(self.follow_transaction(request, transaction))
    }
}
