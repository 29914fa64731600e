//! Settlement (protocol reference §5.4): re-verify, lock the payer, refuse a used nonce, deploy
//! an ERC-6492 wallet when configured, send `transferWithAuthorization`, wait for the receipt.

use std::hash::{Hash, Hasher};

use alloy_primitives::{Address, B256, Bytes};
use t402_core::{Reason, SettleRequest, SettleResponse};
use tracing::{Instrument, info, info_span, warn};

use super::onchain::{WalletSignature, contract_signature, transfer_calldata};
use super::{AuthorizationKey, ExactEvmFacilitator, PAYER_LOCK_STRIPES, PendingTransaction};
use crate::chain::{CallRequest, ChainError, TxReceipt, call_typed};
use crate::contracts::IEip3009Token;

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

/// What one settlement attempt needs to answer.
struct Answer<'a> {
    network: &'a str,
    payer: Option<String>,
}

impl Answer<'_> {
    fn failure(&self, reason: Reason, message: impl Into<String>) -> SettleResponse {
        SettleResponse::failure(reason, self.network, self.payer.clone()).with_message(message)
    }

    fn failure_after_send(
        &self,
        reason: Reason,
        message: impl Into<String>,
        hash: B256,
    ) -> SettleResponse {
        let mut response = self.failure(reason, message);
        response.transaction = Some(hash.to_string());
        response
    }

    fn of_receipt(&self, receipt: &TxReceipt) -> SettleResponse {
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

pub(super) async fn settle(
    facilitator: &ExactEvmFacilitator,
    request: &SettleRequest,
) -> SettleResponse {
    let network = request.payment_payload.accepted.network.to_string();
    let span = info_span!("t402.evm.settle", network = %network, payer = tracing::field::Empty);
    settle_inner(facilitator, request, &network)
        .instrument(span)
        .await
}

async fn settle_inner(
    facilitator: &ExactEvmFacilitator,
    request: &SettleRequest,
    network: &str,
) -> SettleResponse {
    let mut answer = Answer {
        network,
        payer: None,
    };
    let (checked, wallet) = match facilitator
        .check(request, facilitator.simulate_in_settle)
        .await
    {
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
    let auth = &checked.payload.authorization;
    let key: AuthorizationKey = (checked.token, payer, auth.nonce);

    // One settlement per payer at a time: the nonce check and the send cannot interleave with
    // another settlement of the same authorization.
    let _payer_guard = facilitator.payer_locks[stripe_of(payer)].lock().await;

    // A previous attempt that sent but saw no receipt in time: report its outcome, never send a
    // second transaction.
    let earlier = {
        let now = alloy_primitives::U256::from(facilitator.clock.now());
        let mut pending = facilitator
            .pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        pending.retain(|_, tx| tx.valid_before > now);
        pending.get(&key).map(|tx| tx.hash)
    };
    if let Some(hash) = earlier {
        return match facilitator.chain.receipt(hash).await {
            Ok(Some(receipt)) => {
                forget_pending(facilitator, &key);
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

    let chain = facilitator.chain.as_ref();
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
        if !facilitator.deploy_erc6492_wallets {
            return answer.failure(
                Reason::InvalidExactEvmPayloadUndeployedSmartWallet,
                "the wallet is not deployed and this facilitator does not deploy ERC-6492 wallets",
            );
        }
        if let Err(response) = deploy_wallet(
            facilitator,
            &answer,
            deployment.factory,
            deployment.factory_calldata.clone(),
        )
        .await
        {
            return response;
        }
    }

    let data = transfer_calldata(auth, &unwrapped.inner);
    match send_and_wait(facilitator, &answer, checked.token, data).await {
        Ok(receipt) => {
            if receipt.success {
                info!(transaction = %receipt.transaction_hash, "settled");
            } else {
                warn!(transaction = %receipt.transaction_hash, "settlement reverted");
            }
            answer.of_receipt(&receipt)
        }
        Err(Unsettled::NotSent(response)) => *response,
        Err(Unsettled::NoReceipt(hash, message)) => {
            facilitator
                .pending
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .insert(
                    key,
                    PendingTransaction {
                        hash,
                        valid_before: auth.valid_before,
                    },
                );
            warn!(transaction = %hash, "no receipt before the deadline");
            answer.failure_after_send(Reason::InvalidExactEvmFailedToGetReceipt, message, hash)
        }
    }
}

fn forget_pending(facilitator: &ExactEvmFacilitator, key: &AuthorizationKey) {
    facilitator
        .pending
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .remove(key);
}

/// The payer's lock stripe (`DefaultHasher::new` has fixed keys, so a payer always maps to the
/// same stripe).
fn stripe_of(payer: Address) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    payer.hash(&mut hasher);
    (hasher.finish() % PAYER_LOCK_STRIPES as u64) as usize
}

/// Why no successful receipt came back.
enum Unsettled {
    /// Nothing was sent; the answer says why.
    NotSent(Box<SettleResponse>),
    /// Sent, but no receipt before the deadline.
    NoReceipt(B256, String),
}

/// Estimates, signs, sends and waits. A revert in the estimate is mapped to its reason and
/// nothing is sent.
async fn send_and_wait(
    facilitator: &ExactEvmFacilitator,
    answer: &Answer<'_>,
    to: Address,
    data: Bytes,
) -> Result<TxReceipt, Unsettled> {
    let chain = facilitator.chain.as_ref();
    let estimate = CallRequest::new(to, data.clone()).from(facilitator.signers.primary());
    let gas = match chain.estimate_gas(estimate).await {
        Ok(gas) => gas + gas * facilitator.gas_headroom_percent / 100,
        Err(ChainError::Reverted { message, .. }) => {
            return Err(Unsettled::NotSent(Box::new(
                answer.failure(reason_for_failure(&message), message),
            )));
        }
        Err(err) => {
            return Err(Unsettled::NotSent(Box::new(answer.failure(
                Reason::InvalidExactEvmFailedToExecuteTransfer,
                format!("gas estimation failed: {err}"),
            ))));
        }
    };
    let fees = chain.fees().await.map_err(|err| {
        Unsettled::NotSent(Box::new(answer.failure(
            Reason::InvalidExactEvmFailedToExecuteTransfer,
            format!("fees could not be read: {err}"),
        )))
    })?;
    let sent = facilitator
        .signers
        .send(chain, to, data, gas, fees)
        .await
        .map_err(|err| {
            let message = err.to_string();
            let reason = match reason_for_failure(&message) {
                Reason::InvalidExactEvmTransactionFailed => {
                    Reason::InvalidExactEvmFailedToExecuteTransfer
                }
                specific => specific,
            };
            Unsettled::NotSent(Box::new(answer.failure(reason, message)))
        })?;
    wait_for_receipt(facilitator, sent.hash).await
}

async fn wait_for_receipt(
    facilitator: &ExactEvmFacilitator,
    hash: B256,
) -> Result<TxReceipt, Unsettled> {
    let deadline = tokio::time::Instant::now() + facilitator.receipt_timeout;
    let mut last_error = None;
    loop {
        match facilitator.chain.receipt(hash).await {
            Ok(Some(receipt)) => return Ok(receipt),
            Ok(None) => {}
            Err(err) => last_error = Some(err.to_string()),
        }
        if tokio::time::Instant::now() + facilitator.receipt_poll_interval > deadline {
            let message = match last_error {
                Some(err) => format!("no receipt within {:?}: {err}", facilitator.receipt_timeout),
                None => format!("no receipt within {:?}", facilitator.receipt_timeout),
            };
            return Err(Unsettled::NoReceipt(hash, message));
        }
        tokio::time::sleep(facilitator.receipt_poll_interval).await;
    }
}

/// Deploys an ERC-6492 wallet through its factory and waits for it.
async fn deploy_wallet(
    facilitator: &ExactEvmFacilitator,
    answer: &Answer<'_>,
    factory: Address,
    calldata: Bytes,
) -> Result<(), SettleResponse> {
    match send_and_wait(facilitator, answer, factory, calldata).await {
        Ok(receipt) if receipt.success => Ok(()),
        Ok(receipt) => Err(answer.failure_after_send(
            Reason::SmartWalletDeploymentFailed,
            "the wallet factory reverted",
            receipt.transaction_hash,
        )),
        Err(Unsettled::NotSent(response)) => Err(answer.failure(
            Reason::SmartWalletDeploymentFailed,
            response.error_message.unwrap_or_default(),
        )),
        Err(Unsettled::NoReceipt(hash, message)) => {
            Err(answer.failure_after_send(Reason::SmartWalletDeploymentFailed, message, hash))
        }
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

    #[test]
    fn a_payer_always_maps_to_the_same_stripe() {
        let payer = Address::repeat_byte(7);
        assert_eq!(stripe_of(payer), stripe_of(payer));
        assert!(stripe_of(payer) < PAYER_LOCK_STRIPES);
    }
}
