//! Settlement of a verified EIP-3009 payment (protocol reference §5.4): lock the payer, report a
//! transaction already pending, refuse a used nonce, deploy an ERC-6492 wallet when configured,
//! send `transferWithAuthorization`, wait for the receipt. It gets everything it uses as inputs
//! ([`SettleInputs`]); re-verification happens before, in the facilitator.

use alloy_primitives::{Address, B256, Bytes};
use t402_core::{Reason, SendJournal, SettleResponse};
use tracing::{info, warn};

use super::locks::PayerLocks;
use super::onchain::{WalletSignature, contract_signature, simulate_transfer, transfer_calldata};
use super::pending::{AuthorizationKey, PendingTransactions};
use super::sender::{SendFailure, TransactionSender};
use crate::chain::{ChainError, TxReceipt, call_typed};
use crate::contracts::IEip3009Token;
use crate::verify::OfflineVerification;

/// The reason for a revert or refusal message, as the reference facilitator maps them.
pub(crate) fn reason_for_failure(message: &str) -> Reason {
    let text = message.to_ascii_lowercase();
    if text.contains("authorization is expired") || text.contains("valid before") {
        Reason::InvalidExactEvmPayloadAuthorizationValidBefore
    } else if text.contains("not yet valid") || text.contains("valid after") {
        Reason::InvalidExactEvmPayloadAuthorizationValidAfter
    } else if text.contains("used or canceled") || text.contains("used or cancelled") {
        Reason::InvalidExactEvmNonceAlreadyUsed
    } else if text.contains("insufficient balance") || text.contains("exceeds balance") {
        Reason::InvalidExactEvmInsufficientBalance
    } else if text.contains("invalid signature") {
        Reason::InvalidExactEvmSignature
    } else {
        Reason::InvalidExactEvmTransactionFailed
    }
}

/// What one settlement attempt needs to answer: the network and payer every answer names.
pub(super) struct Answer<'a> {
    pub(super) network: &'a str,
    pub(super) payer: Option<String>,
}

impl Answer<'_> {
    pub(super) fn failure(&self, reason: Reason, message: impl Into<String>) -> SettleResponse {
        SettleResponse::failure(reason, self.network, self.payer.clone()).with_message(message)
    }

    pub(super) fn failure_after_send(
        &self,
        reason: Reason,
        message: impl Into<String>,
        hash: B256,
    ) -> SettleResponse {
        let mut response = self.failure(reason, message);
        response.transaction = Some(hash.to_string());
        response
    }

    pub(super) fn of_receipt(&self, receipt: &TxReceipt) -> SettleResponse {
        if receipt.success {
            SettleResponse::success(
                receipt.transaction_hash.to_string(),
                self.network,
                self.payer.clone().unwrap_or_default(),
            )
        } else {
            self.failure_after_send(
                Reason::InvalidExactEvmTransactionFailed,
                format!("transaction reverted in block {}", receipt.block_number),
                receipt.transaction_hash,
            )
        }
    }
}

/// What settlement uses of the facilitator.
pub(super) struct SettleInputs<'a> {
    pub(super) sender: &'a TransactionSender,
    pub(super) locks: &'a PayerLocks,
    pub(super) pending: &'a PendingTransactions,
    /// The time, Unix seconds.
    pub(super) now: u64,
    /// The factories a wallet deployment may call (none: no deployment).
    pub(super) erc6492_factories: &'a [Address],
    /// The most gas a deployment may take.
    pub(super) erc6492_gas_cap: u64,
    /// Where the transfer's hash is written before it is broadcast.
    pub(super) journal: SendJournal<'a>,
}

/// Settles a payment that passed every check.
pub(super) async fn settle(
    inputs: SettleInputs<'_>,
    checked: &OfflineVerification,
    wallet: WalletSignature,
    answer: &Answer<'_>,
) -> SettleResponse {
    let payer = checked.payer();
    let auth = &checked.payload.authorization;
    let key: AuthorizationKey = (checked.token, payer, auth.nonce);

    // One settlement per payer at a time: the nonce check and the send cannot interleave with
    // another settlement of the same authorization.
    let _payer_guard = inputs.locks.lock(payer).await;

    // A previous attempt that sent but saw no receipt in time: report its outcome, never send a
    // second transaction.
    let chain = inputs.sender.chain().as_ref();
    if let Some(hash) = inputs.pending.get(&key, inputs.now) {
        return match chain.receipt(hash).await {
            Ok(Some(receipt)) => {
                inputs.pending.remove(&key);
                answer.of_receipt(&receipt)
            }
            Ok(None) => answer.failure_after_send(
                Reason::DuplicateSettlement,
                "a transaction for this authorization is still pending",
                hash,
            ),
            Err(err) => answer.failure_after_send(
                Reason::InvalidExactEvmFailedToGetReceipt,
                format!("the pending transaction's receipt could not be read: {err}"),
                hash,
            ),
        };
    }

    let state = IEip3009Token::authorizationStateCall {
        authorizer: payer,
        nonce: auth.nonce,
    };
    match call_typed(chain, checked.token, &state).await {
        Ok(false) => {}
        Ok(true) => {
            return answer.failure(
                Reason::InvalidExactEvmNonceAlreadyUsed,
                format!(
                    "authorization nonce {} was already used or cancelled",
                    auth.nonce
                ),
            );
        }
        Err(ChainError::Reverted { .. }) => {
            return answer.failure(
                Reason::InvalidExactEvmEip3009NotSupported,
                format!("{} does not answer authorizationState", checked.token),
            );
        }
        Err(err) => {
            return answer.failure(
                Reason::UnexpectedSettleError,
                format!("the chain could not be read: {err}"),
            );
        }
    }

    let unwrapped = contract_signature(&checked.payload.signature);
    if wallet == WalletSignature::Counterfactual {
        let Some(deployment) = unwrapped.deployment.as_ref() else {
            return answer.failure(
                Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
                "the wallet is not deployed",
            );
        };
        if inputs.erc6492_factories.is_empty() {
            return answer.failure(
                Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
                "the wallet is not deployed and this facilitator does not deploy ERC-6492 wallets",
            );
        }
        if !inputs.erc6492_factories.contains(&deployment.factory) {
            return answer.failure(
                Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
                format!(
                    "the wallet factory {} is not one this facilitator deploys with",
                    deployment.factory
                ),
            );
        }
        // Nothing is sent unless deploying leaves a wallet at `from` that accepts the signature
        // and the transfer then succeeds.
        match simulate_transfer(chain, checked, Some(inputs.sender.signers().primary())).await {
            Ok(true) => {}
            Ok(false) => {
                return answer.failure(
                    Reason::InvalidExactEvmTransactionSimulationFailed,
                    "deploying the wallet does not leave a wallet at `from` that accepts the \
                     signature and pays",
                );
            }
            Err(err) => {
                return answer.failure(
                    Reason::UnexpectedSettleError,
                    format!("the chain could not be read: {err}"),
                );
            }
        }
        if let Err(response) = deploy_wallet(
            inputs.sender,
            answer,
            deployment.factory,
            deployment.factory_calldata.clone(),
            inputs.erc6492_gas_cap,
        )
        .await
        {
            return response;
        }
        match chain.code(payer).await {
            Ok(code) if !code.is_empty() => {}
            Ok(_) => {
                return answer.failure(
                    Reason::SmartWalletDeploymentFailed,
                    format!("the factory left no code at {payer}"),
                );
            }
            Err(err) => {
                return answer.failure(
                    Reason::UnexpectedSettleError,
                    format!("the chain could not be read: {err}"),
                );
            }
        }
    }

    let data = transfer_calldata(auth, &unwrapped.inner);
    match inputs
        .sender
        .send_and_wait_journaled(checked.token, data, u64::MAX, inputs.journal)
        .await
    {
        Ok(receipt) => {
            if receipt.success {
                info!(transaction = %receipt.transaction_hash, "settled");
            } else {
                warn!(transaction = %receipt.transaction_hash, "settlement reverted");
            }
            answer.of_receipt(&receipt)
        }
        Err(SendFailure::NoReceipt { hash, message }) => {
            inputs.pending.insert(key, hash, auth.valid_before);
            warn!(transaction = %hash, "no receipt before the deadline");
            answer.failure_after_send(Reason::InvalidExactEvmFailedToGetReceipt, message, hash)
        }
        Err(not_sent) => not_sent_answer(answer, not_sent),
    }
}

/// The answer when nothing was sent: a reverted estimate carries the contract's reason.
pub(super) fn not_sent_answer(answer: &Answer<'_>, failure: SendFailure) -> SettleResponse {
    match failure {
        SendFailure::Reverted(message) => answer.failure(reason_for_failure(&message), message),
        SendFailure::NotSent(message) => {
            answer.failure(Reason::InvalidExactEvmFailedToExecuteTransfer, message)
        }
        SendFailure::NotRecorded(message) => {
            answer.failure(Reason::T402SettlementStoreUnavailable, message)
        }
        SendFailure::SendRefused(message) => {
            let reason = match reason_for_failure(&message) {
                Reason::InvalidExactEvmTransactionFailed => {
                    Reason::InvalidExactEvmFailedToExecuteTransfer
                }
                specific => specific,
            };
            answer.failure(reason, message)
        }
        SendFailure::NoReceipt { hash, message } => {
            answer.failure_after_send(Reason::InvalidExactEvmFailedToGetReceipt, message, hash)
        }
        SendFailure::OverGasCap { needed, cap } => answer.failure(
            Reason::InvalidExactEvmFailedToExecuteTransfer,
            format!("the transaction needs {needed} gas, above the cap of {cap}"),
        ),
    }
}

/// Deploys an ERC-6492 wallet through its factory, within `gas_cap`, and waits for it.
async fn deploy_wallet(
    sender: &TransactionSender,
    answer: &Answer<'_>,
    factory: Address,
    calldata: Bytes,
    gas_cap: u64,
) -> Result<(), SettleResponse> {
    match sender
        .send_and_wait_within(factory, calldata, gas_cap)
        .await
    {
        Ok(receipt) if receipt.success => Ok(()),
        Ok(receipt) => Err(answer.failure_after_send(
            Reason::SmartWalletDeploymentFailed,
            "the wallet factory reverted",
            receipt.transaction_hash,
        )),
        Err(SendFailure::NoReceipt { hash, message }) => {
            Err(answer.failure_after_send(Reason::SmartWalletDeploymentFailed, message, hash))
        }
        Err(not_sent) => Err(answer.failure(
            Reason::SmartWalletDeploymentFailed,
            not_sent_answer(answer, not_sent)
                .error_message
                .unwrap_or_default(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_messages_map_to_reference_reasons() {
        for (message, reason) in [
            (
                "FiatTokenV2: authorization is expired",
                Reason::InvalidExactEvmPayloadAuthorizationValidBefore,
            ),
            (
                "FiatTokenV2: authorization is not yet valid",
                Reason::InvalidExactEvmPayloadAuthorizationValidAfter,
            ),
            (
                "FiatTokenV2: authorization is used or canceled",
                Reason::InvalidExactEvmNonceAlreadyUsed,
            ),
            (
                "ERC20: transfer amount exceeds balance",
                Reason::InvalidExactEvmInsufficientBalance,
            ),
            (
                "FiatTokenV2: invalid signature",
                Reason::InvalidExactEvmSignature,
            ),
            ("something else", Reason::InvalidExactEvmTransactionFailed),
        ] {
            assert_eq!(reason_for_failure(message), reason, "{message}");
        }
    }
}
