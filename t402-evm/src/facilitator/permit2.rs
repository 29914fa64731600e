//! Verification and settlement of Permit2 payments (protocol reference §5.6 for `exact`, §7.3
//! and §7.4 for `upto`): the offline checks, a contract wallet's code, the gas-sponsoring
//! extensions, the simulation of the proxy call and the diagnosis of its failure; settlement
//! through the x402 proxy of the scheme.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolValue};
use t402_core::{JsonObject, Reason, SendJournal, SettleResponse, VerifyRequest};
use tracing::{info, warn};

use super::ExactEvmFacilitator;
use super::sender::SendFailure;
use super::settle::Answer;
use crate::chain::{CallRequest, ChainError, EvmChain, call_typed};
use crate::contracts::{
    ExactWitness, IErc20, IExactPermit2Proxy, IMulticall3, IPermit2, IUptoPermit2Proxy, MULTICALL3,
    UptoWitness,
};
use crate::permit2::{
    EXACT_PERMIT2_PROXY, Eip2612Permit, Erc20Approval, PERMIT2, Permit2Rules, Permit2Verification,
    UPTO_PERMIT2_PROXY, check_eip2612, check_erc20_approval, check_permit2_message,
    check_permit2_terms,
};
use crate::verify::{Rejection, SignerCheck};

/// How a payer without a Permit2 allowance is helped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sponsoring {
    /// Not helped: the allowance must be there.
    None,
    /// The proxy calls the token's EIP-2612 `permit` first.
    Eip2612(Eip2612Permit),
    /// The facilitator broadcasts the payer's signed `approve(Permit2, max)` first.
    Erc20Approval(Erc20Approval),
}

/// Which x402 proxy a Permit2 payment goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permit2Flavor {
    /// `exact`: the permitted amount, any sender.
    Exact,
    /// `upto`: at most the permitted amount, sent by the facilitator the witness names.
    Upto,
}

impl Permit2Flavor {
    fn rules(self) -> Permit2Rules {
        match self {
            Self::Exact => Permit2Rules::EXACT,
            Self::Upto => Permit2Rules::UPTO,
        }
    }

    /// The proxy.
    pub fn proxy(self) -> Address {
        match self {
            Self::Exact => EXACT_PERMIT2_PROXY,
            Self::Upto => UPTO_PERMIT2_PROXY,
        }
    }
}

/// A Permit2 payment that passed verification.
#[derive(Debug, Clone)]
pub(crate) struct Permit2Checked {
    pub(crate) verification: Permit2Verification,
    pub(crate) sponsoring: Sponsoring,
}

/// The calldata of the proxy call that settles `checked` for `amount` (`exact` always moves the
/// permitted amount).
pub(crate) fn settle_calldata(
    checked: &Permit2Checked,
    flavor: Permit2Flavor,
    amount: U256,
) -> Bytes {
    let payload = &checked.verification.payload;
    let auth = &payload.authorization;
    let permit = auth.permit_transfer_from();
    let signature = payload.signature.clone();
    let owner = auth.from;
    let permit2612 = match &checked.sponsoring {
        Sponsoring::Eip2612(permit) => Some(permit.proxy_argument()),
        _ => None,
    };
    match flavor {
        Permit2Flavor::Exact => {
            let witness = ExactWitness {
                to: auth.witness.to,
                validAfter: auth.witness.valid_after,
            };
            match permit2612 {
                Some(permit2612) => IExactPermit2Proxy::settleWithPermitCall {
                    permit2612,
                    permit,
                    owner,
                    witness,
                    signature,
                }
                .abi_encode(),
                None => IExactPermit2Proxy::settleCall {
                    permit,
                    owner,
                    witness,
                    signature,
                }
                .abi_encode(),
            }
        }
        Permit2Flavor::Upto => {
            let witness = UptoWitness {
                to: auth.witness.to,
                facilitator: auth.witness.facilitator.unwrap_or_default(),
                validAfter: auth.witness.valid_after,
            };
            match permit2612 {
                Some(permit2612) => IUptoPermit2Proxy::settleWithPermitCall {
                    permit2612,
                    permit,
                    amount,
                    owner,
                    witness,
                    signature,
                }
                .abi_encode(),
                None => IUptoPermit2Proxy::settleCall {
                    permit,
                    amount,
                    owner,
                    witness,
                    signature,
                }
                .abi_encode(),
            }
        }
    }
    .into()
}

/// The key that must send an `upto` settlement (the witness's facilitator); `None` for `exact`.
fn sender_of(checked: &Permit2Checked, flavor: Permit2Flavor) -> Option<Address> {
    match flavor {
        Permit2Flavor::Exact => None,
        Permit2Flavor::Upto => {
            checked
                .verification
                .payload
                .authorization
                .witness
                .facilitator
        }
    }
}

/// Every verification step of §5.6 in order; with `simulate`, the simulation and its diagnosis.
/// A node that cannot be reached is an `Err`.
pub(crate) async fn check(
    facilitator: &ExactEvmFacilitator,
    request: &VerifyRequest,
    simulate: bool,
    flavor: Permit2Flavor,
) -> Result<Result<Permit2Checked, Rejection>, ChainError> {
    let rules = flavor.rules();
    let (payload, chain_id) = match check_permit2_message(request, &rules) {
        Ok(read) => read,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let payer = Some(payload.authorization.from);
    if chain_id != facilitator.chain.chain_id() {
        return Ok(Err(Rejection::new(
            Reason::InvalidNetwork,
            format!(
                "this facilitator settles on {}, not {}",
                facilitator.network, request.payment_requirements.network
            ),
            payer,
        )));
    }
    let now = facilitator.clock.now();
    // `upto`: the witness must name a key this facilitator holds (it alone may settle).
    let holds_key = |payload: &crate::permit2::Permit2Payload| match flavor {
        Permit2Flavor::Exact => Ok(()),
        Permit2Flavor::Upto => {
            let named = payload.authorization.witness.facilitator;
            match named.filter(|address| facilitator.signers().addresses().contains(address)) {
                Some(_) => Ok(()),
                None => Err(Rejection::new(
                    Reason::UptoFacilitatorMismatch,
                    format!("the witness names {named:?}, not an address of this facilitator"),
                    Some(payload.authorization.from),
                )),
            }
        }
    };
    let verification = match check_permit2_terms(payload, chain_id, request, &rules, now, holds_key)
    {
        Ok(verification) => verification,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let chain = facilitator.chain.as_ref();
    let payer = verification.payer();
    // A contract wallet's signature is Permit2's to check (ERC-1271); a payer without code
    // cannot have made it.
    if matches!(verification.signer, SignerCheck::SmartWallet(_))
        && chain.code(payer).await?.is_empty()
    {
        return Ok(Err(Rejection::new(
            Reason::InvalidPermit2Signature,
            format!("the signature is not {payer}'s and {payer} is not a contract wallet"),
            Some(payer),
        )));
    }
    let token = verification.payload.authorization.token;
    let extensions = request.payment_payload.extensions.as_ref();
    let sponsoring = match sponsoring(facilitator, extensions, payer, token, now) {
        Ok(sponsoring) => sponsoring,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let checked = Permit2Checked {
        verification,
        sponsoring,
    };
    if !simulate {
        return Ok(Ok(checked));
    }
    let amount = checked.verification.payload.authorization.amount;
    let simulated = match &checked.sponsoring {
        // The approval is not on chain yet, so the transfer cannot be simulated alone; what can
        // be known is checked: the proxy is there and the payer holds the amount.
        Sponsoring::Erc20Approval(_) => {
            let (proxy, balance, _) = prerequisites(chain, flavor.proxy(), token, payer).await;
            if !proxy {
                return Ok(Err(not_deployed(flavor.proxy(), payer)));
            }
            if balance.is_some_and(|balance| balance < amount) {
                return Ok(Err(insufficient(
                    payer,
                    balance.unwrap_or_default(),
                    amount,
                )));
            }
            true
        }
        _ => {
            let sender =
                sender_of(&checked, flavor).unwrap_or_else(|| facilitator.signers().primary());
            simulate_settle(chain, sender, &checked, flavor, amount).await?
        }
    };
    if !simulated {
        return Ok(Err(
            diagnose(chain, flavor.proxy(), token, payer, amount).await
        ));
    }
    Ok(Ok(checked))
}

/// Reads the extensions the payment carries (EIP-2612 first, then the ERC-20 approval when the
/// facilitator sponsors approvals).
fn sponsoring(
    facilitator: &ExactEvmFacilitator,
    extensions: Option<&JsonObject>,
    payer: Address,
    token: Address,
    now: u64,
) -> Result<Sponsoring, Rejection> {
    if let Some(permit) = check_eip2612(extensions, payer, token, now) {
        return permit
            .map(Sponsoring::Eip2612)
            .map_err(|err| err.into_rejection(payer));
    }
    if facilitator.sponsor_erc20_approvals
        && let Some(approval) = check_erc20_approval(extensions, payer, token)
    {
        return approval
            .map(Sponsoring::Erc20Approval)
            .map_err(|err| err.into_rejection(payer));
    }
    Ok(Sponsoring::None)
}

/// Simulates the proxy call. `exact`: one `eth_call` through Multicall3 with `PERMIT2()` first
/// (a call to an address without code succeeds, so the proxy must answer too). `upto`: the proxy
/// checks `msg.sender`, so the call goes straight to it from the witness's facilitator, beside
/// the `PERMIT2()` check. `Ok(true)` when both succeed.
async fn simulate_settle(
    chain: &dyn EvmChain,
    sender: Address,
    checked: &Permit2Checked,
    flavor: Permit2Flavor,
    amount: U256,
) -> Result<bool, ChainError> {
    let proxy = flavor.proxy();
    let present = IMulticall3::Call {
        target: proxy,
        callData: IExactPermit2Proxy::PERMIT2Call {}.abi_encode().into(),
    };
    let settle = settle_calldata(checked, flavor, amount);
    let undecodable = |err: alloy_sol_types::Error| ChainError::Transport {
        message: format!("undecodable Multicall3 answer: {err}"),
        source: None,
    };
    if flavor == Permit2Flavor::Upto {
        let (present, settled) = tokio::join!(
            call_typed(chain, proxy, &IExactPermit2Proxy::PERMIT2Call {}),
            chain.call(CallRequest::new(proxy, settle).from(sender)),
        );
        return match (present, settled) {
            (Ok(_), Ok(_)) => Ok(true),
            (Err(ChainError::Reverted { .. }) | Ok(_), Err(ChainError::Reverted { .. }))
            | (Err(ChainError::Reverted { .. }), Ok(_)) => Ok(false),
            (Err(err), _) | (_, Err(err)) => Err(err),
        };
    }
    let batch = IMulticall3::tryAggregateCall {
        requireSuccess: false,
        calls: vec![
            present,
            IMulticall3::Call {
                target: proxy,
                callData: settle,
            },
        ],
    };
    let call = CallRequest::typed(MULTICALL3, &batch).from(sender);
    match chain.call(call).await {
        Ok(data) => {
            let results =
                IMulticall3::tryAggregateCall::abi_decode_returns(&data).map_err(undecodable)?;
            Ok(results.len() == 2
                && results[0].success
                && results[0].returnData.len() == 32
                && results[1].success)
        }
        Err(ChainError::Reverted { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// One Multicall3 batch: whether the proxy answers `PERMIT2()`, the payer's balance and its
/// allowance to Permit2 (`None` where a call failed).
async fn prerequisites(
    chain: &dyn EvmChain,
    proxy: Address,
    token: Address,
    payer: Address,
) -> (bool, Option<U256>, Option<U256>) {
    let batch = IMulticall3::tryAggregateCall {
        requireSuccess: false,
        calls: vec![
            IMulticall3::Call {
                target: proxy,
                callData: IExactPermit2Proxy::PERMIT2Call {}.abi_encode().into(),
            },
            IMulticall3::Call {
                target: token,
                callData: IErc20::balanceOfCall { account: payer }.abi_encode().into(),
            },
            IMulticall3::Call {
                target: token,
                callData: IErc20::allowanceCall {
                    owner: payer,
                    spender: PERMIT2,
                }
                .abi_encode()
                .into(),
            },
        ],
    };
    let Ok(results) = call_typed(chain, MULTICALL3, &batch).await else {
        return (false, None, None);
    };
    let number = |index: usize| {
        results
            .get(index)
            .filter(|result| result.success)
            .and_then(|result| <U256 as SolValue>::abi_decode(&result.returnData).ok())
    };
    let proxy = results
        .first()
        .is_some_and(|result| result.success && result.returnData.len() == 32);
    (proxy, number(1), number(2))
}

fn not_deployed(proxy: Address, payer: Address) -> Rejection {
    Rejection::new(
        Reason::Permit2ProxyNotDeployed,
        format!("the x402 Permit2 proxy is not deployed at {proxy} on this chain"),
        Some(payer),
    )
}

fn insufficient(payer: Address, balance: U256, amount: U256) -> Rejection {
    Rejection::new(
        Reason::Permit2InsufficientBalance,
        format!("payer holds {balance}, the payment needs {amount}"),
        Some(payer),
    )
}

/// After a failed simulation: proxy missing, balance short, allowance short, in that order.
async fn diagnose(
    chain: &dyn EvmChain,
    proxy: Address,
    token: Address,
    payer: Address,
    amount: U256,
) -> Rejection {
    let (present, balance, allowance) = prerequisites(chain, proxy, token, payer).await;
    if !present {
        return not_deployed(proxy, payer);
    }
    if let Some(balance) = balance
        && balance < amount
    {
        return insufficient(payer, balance, amount);
    }
    if let Some(allowance) = allowance
        && allowance < amount
    {
        return Rejection::new(
            Reason::Permit2AllowanceRequired,
            format!(
                "{payer} has approved Permit2 for {allowance} of {token}, the payment needs \
                 {amount}: approve Permit2 once (`t402 approve-permit2`), or pay with a gas \
                 sponsoring extension"
            ),
            Some(payer),
        );
    }
    Rejection::new(
        Reason::Permit2SimulationFailed,
        "simulating the Permit2 settlement failed",
        Some(payer),
    )
}

/// The reason for a revert of Permit2 or the proxy, as the reference maps them.
pub(crate) fn reason_for_permit2_failure(message: &str) -> Reason {
    if message.contains("Permit2612AmountMismatch") {
        Reason::Permit22612AmountMismatch
    } else if message.contains("InvalidAmount") {
        Reason::Permit2InvalidAmount
    } else if message.contains("InvalidDestination") {
        Reason::Permit2InvalidDestination
    } else if message.contains("InvalidOwner") {
        Reason::Permit2InvalidOwner
    } else if message.contains("PaymentTooEarly") {
        Reason::Permit2PaymentTooEarly
    } else if message.contains("InvalidSignature")
        || message.contains("InvalidSigner")
        || message.contains("InvalidContractSignature")
        || message.contains("SignatureExpired")
    {
        Reason::InvalidPermit2Signature
    } else if message.contains("InvalidNonce") {
        Reason::Permit2InvalidNonce
    } else if message.contains("AmountExceedsPermitted") {
        Reason::UptoAmountExceedsPermitted
    } else if message.contains("UnauthorizedFacilitator") {
        Reason::UptoUnauthorizedFacilitator
    } else {
        Reason::InvalidExactEvmTransactionFailed
    }
}

/// Whether Permit2 has marked `nonce` of `owner` used.
pub(crate) async fn nonce_used(
    chain: &dyn EvmChain,
    owner: Address,
    nonce: U256,
) -> Result<bool, ChainError> {
    let word = call_typed(
        chain,
        PERMIT2,
        &IPermit2::nonceBitmapCall {
            owner,
            wordPos: nonce >> 8,
        },
    )
    .await?;
    let bit = U256::from(1u8) << (nonce & U256::from(0xffu8)).to::<usize>();
    Ok(word & bit != U256::ZERO)
}

/// The key under which a sent Permit2 settlement is remembered (Permit2 nonces are per owner).
pub(crate) fn pending_key(checked: &Permit2Checked) -> (Address, Address, B256) {
    let auth = &checked.verification.payload.authorization;
    (PERMIT2, auth.from, B256::from(auth.nonce))
}

/// Settles a Permit2 payment that passed every check, moving `amount` (`exact`: the permitted
/// amount).
pub(crate) async fn settle(
    facilitator: &ExactEvmFacilitator,
    checked: &Permit2Checked,
    flavor: Permit2Flavor,
    amount: U256,
    answer: &Answer<'_>,
    journal: SendJournal<'_>,
) -> SettleResponse {
    let auth = &checked.verification.payload.authorization;
    let payer = auth.from;
    let key = pending_key(checked);
    let _payer_guard = facilitator.payer_locks.lock(payer).await;
    let sender = &facilitator.sender;
    let chain = facilitator.chain.as_ref();
    let now = facilitator.clock.now();
    if let Some(hash) = facilitator.pending.get(&key, now) {
        return match chain.receipt(hash).await {
            Ok(Some(receipt)) => {
                facilitator.pending.remove(&key);
                answer.of_receipt(&receipt)
            }
            Ok(None) => answer.failure_after_send(
                Reason::DuplicateSettlement,
                "a transaction for this permit is still pending",
                hash,
            ),
            Err(err) => answer.failure_after_send(
                Reason::InvalidExactEvmFailedToGetReceipt,
                format!("the pending transaction's receipt could not be read: {err}"),
                hash,
            ),
        };
    }
    match nonce_used(chain, payer, auth.nonce).await {
        Ok(false) => {}
        Ok(true) => {
            return answer.failure(
                Reason::Permit2InvalidNonce,
                format!("Permit2 nonce {} of {payer} was already used", auth.nonce),
            );
        }
        Err(err) => {
            return answer.failure(
                Reason::UnexpectedSettleError,
                format!("the chain could not be read: {err}"),
            );
        }
    }
    if let Sponsoring::Erc20Approval(approval) = &checked.sponsoring
        && let Err(response) = broadcast_approval(facilitator, approval, auth.amount, answer).await
    {
        return response;
    }
    let data = settle_calldata(checked, flavor, amount);
    match sender
        .send_and_wait_as(
            sender_of(checked, flavor),
            flavor.proxy(),
            data,
            u64::MAX,
            journal,
        )
        .await
    {
        Ok(receipt) => {
            if receipt.success {
                info!(transaction = %receipt.transaction_hash, "settled through Permit2");
            } else {
                warn!(transaction = %receipt.transaction_hash, "Permit2 settlement reverted");
            }
            if receipt.success {
                answer.of_receipt(&receipt)
            } else {
                answer.failure_after_send(
                    Reason::InvalidTransactionState,
                    format!("transaction reverted in block {}", receipt.block_number),
                    receipt.transaction_hash,
                )
            }
        }
        Err(SendFailure::NoReceipt { hash, message }) => {
            facilitator.pending.insert(key, hash, auth.deadline);
            warn!(transaction = %hash, "no receipt before the deadline");
            answer.failure_after_send(Reason::InvalidExactEvmFailedToGetReceipt, message, hash)
        }
        Err(SendFailure::Reverted(message)) => match reason_for_permit2_failure(&message) {
            // The token's own revert: the diagnosis names the missing allowance or balance.
            Reason::InvalidExactEvmTransactionFailed => {
                let diagnosis = diagnose(chain, flavor.proxy(), auth.token, payer, amount).await;
                match diagnosis.reason {
                    Reason::Permit2SimulationFailed => {
                        answer.failure(Reason::InvalidExactEvmTransactionFailed, message)
                    }
                    reason => answer.failure(reason, diagnosis.message),
                }
            }
            reason => answer.failure(reason, message),
        },
        Err(not_sent) => super::settle::not_sent_answer(answer, not_sent),
    }
}

/// Broadcasts the payer's signed approval, first paying its gas when the payer's balance cannot:
/// the payer pays no gas, as the extension promises.
async fn broadcast_approval(
    facilitator: &ExactEvmFacilitator,
    approval: &Erc20Approval,
    amount: U256,
    answer: &Answer<'_>,
) -> Result<(), SettleResponse> {
    let chain = facilitator.chain.as_ref();
    let failed = |message: String| answer.failure(Reason::Erc20ApprovalTxFailed, message);
    let allowance = call_typed(
        chain,
        approval.asset,
        &IErc20::allowanceCall {
            owner: approval.from,
            spender: PERMIT2,
        },
    )
    .await
    .map_err(|err| failed(format!("the allowance could not be read: {err}")))?;
    if allowance >= amount {
        // Already approved (by this approval sent earlier, or otherwise): nothing to send.
        return Ok(());
    }
    let balance = chain
        .balance(approval.from)
        .await
        .map_err(|err| failed(format!("the payer's balance could not be read: {err}")))?;
    let cost = approval.max_gas_cost();
    if balance < cost {
        match facilitator
            .sender
            .send_coin(approval.from, cost - balance)
            .await
        {
            Ok(receipt) if receipt.success => {
                info!(transaction = %receipt.transaction_hash, payer = %approval.from, "paid the approval's gas");
            }
            Ok(receipt) => {
                return Err(answer.failure_after_send(
                    Reason::Erc20ApprovalInsufficientEthForGas,
                    "sending the approval's gas money reverted",
                    receipt.transaction_hash,
                ));
            }
            Err(err) => {
                return Err(answer.failure(
                    Reason::Erc20ApprovalInsufficientEthForGas,
                    format!("the approval's gas money could not be sent: {err:?}"),
                ));
            }
        }
    }
    let hash = chain
        .send_raw_transaction(approval.signed_transaction.clone())
        .await
        .map_err(|err| {
            answer.failure(
                Reason::Erc20ApprovalBroadcastFailed,
                format!("the signed approval was refused: {err}"),
            )
        })?;
    match facilitator.sender.wait_for_receipt(hash).await {
        Ok(receipt) if receipt.success => Ok(()),
        Ok(receipt) => Err(answer.failure_after_send(
            Reason::Erc20ApprovalTxFailed,
            "the approval transaction reverted",
            receipt.transaction_hash,
        )),
        Err(err) => Err(answer.failure_after_send(
            Reason::Erc20ApprovalTxFailed,
            format!("the approval transaction has no receipt: {err:?}"),
            hash,
        )),
    }
}
