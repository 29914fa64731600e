//! The chain-backed steps of verification: contract-wallet signatures (ERC-1271, ERC-6492), the
//! simulation of `transferWithAuthorization`, and the diagnosis of a failed simulation.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use t402_core::{PaymentRequirements, Reason};

use crate::chain::{CallRequest, ChainError, EvmChain, call_typed};
use crate::contracts::{ERC1271_MAGIC, IEip3009Token, IErc1271, IMulticall3, MULTICALL3};
use crate::eip3009::Authorization;
use crate::signature::{UnwrappedSignature, unwrap_erc6492};
use crate::verify::{OfflineVerification, SignerCheck};

/// What the chain says of a contract wallet's signature (protocol reference §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalletSignature {
    /// A 65-byte signature recovered to the payer: no chain needed.
    Eoa,
    /// The deployed wallet's ERC-1271 check accepts the signature.
    Accepted,
    /// The deployed wallet's ERC-1271 check refuses it (the simulation will fail).
    Refused,
    /// The wallet is not deployed but the ERC-6492 wrapper says how to deploy it: only a
    /// simulation of deployment plus transfer can tell.
    Counterfactual,
    /// The wallet is not deployed and nothing says how to deploy it.
    Undeployed,
}

/// Step 4 on chain: establishes a contract wallet's signature.
pub(crate) async fn wallet_signature(
    chain: &dyn EvmChain,
    checked: &OfflineVerification,
) -> Result<WalletSignature, ChainError> {
    let SignerCheck::SmartWallet(unwrapped) = &checked.signer else {
        return Ok(WalletSignature::Eoa);
    };
    let payer = checked.payer();
    let code = chain.code(payer).await?;
    if code.is_empty() {
        return Ok(if unwrapped.deployment.is_some() {
            WalletSignature::Counterfactual
        } else {
            WalletSignature::Undeployed
        });
    }
    let call = IErc1271::isValidSignatureCall {
        hash: checked.digest,
        signature: unwrapped.inner.clone(),
    };
    match call_typed(chain, payer, &call).await {
        Ok(magic) if magic.0 == ERC1271_MAGIC => Ok(WalletSignature::Accepted),
        Ok(_) | Err(ChainError::Reverted { .. }) => Ok(WalletSignature::Refused),
        Err(other) => Err(other),
    }
}

/// The calldata of `transferWithAuthorization`: the v/r/s overload for a 65-byte signature, the
/// `bytes` overload otherwise.
pub(crate) fn transfer_calldata(auth: &Authorization, signature: &[u8]) -> Bytes {
    if let Ok(raw) = <&[u8; 65]>::try_from(signature) {
        let v = match raw[64] {
            0 | 1 => raw[64] + 27,
            v => v,
        };
        IEip3009Token::transferWithAuthorization_0Call {
            from: auth.from,
            to: auth.to,
            value: auth.value,
            validAfter: auth.valid_after,
            validBefore: auth.valid_before,
            nonce: auth.nonce,
            v,
            r: B256::from_slice(&raw[..32]),
            s: B256::from_slice(&raw[32..64]),
        }
        .abi_encode()
        .into()
    } else {
        transfer_calldata_bytes(auth, signature)
    }
}

/// The calldata of the `bytes` overload of `transferWithAuthorization`.
fn transfer_calldata_bytes(auth: &Authorization, signature: &[u8]) -> Bytes {
    IEip3009Token::transferWithAuthorization_1Call {
        from: auth.from,
        to: auth.to,
        value: auth.value,
        validAfter: auth.valid_after,
        validBefore: auth.valid_before,
        nonce: auth.nonce,
        signature: Bytes::copy_from_slice(signature),
    }
    .abi_encode()
    .into()
}

/// The signature the token contract sees: the inner signature of an ERC-6492 wrapper, the
/// signature itself otherwise.
pub(crate) fn contract_signature(signature: &[u8]) -> UnwrappedSignature {
    unwrap_erc6492(signature).unwrap_or_else(|_| UnwrappedSignature {
        inner: Bytes::copy_from_slice(signature),
        deployment: None,
    })
}

/// Step 9: simulates the transfer by `eth_call`. `Ok(true)` when it would succeed; a node that
/// cannot be reached is an error, not a failed simulation.
pub(crate) async fn simulate_transfer(
    chain: &dyn EvmChain,
    checked: &OfflineVerification,
    sender: Option<Address>,
) -> Result<bool, ChainError> {
    let auth = &checked.payload.authorization;
    let unwrapped = contract_signature(&checked.payload.signature);
    let with_sender = |call: CallRequest| match sender {
        Some(from) => call.from(from),
        None => call,
    };
    if let Some(deployment) = &unwrapped.deployment {
        // Deploy, check that a wallet now answers at `from` and accepts the signature, and
        // transfer, in one call through Multicall3. An EOA `from` (a plain signature dressed as
        // ERC-6492) answers nothing and fails the second step.
        let accepts = IErc1271::isValidSignatureCall {
            hash: checked.digest,
            signature: unwrapped.inner.clone(),
        };
        let batch = IMulticall3::tryAggregateCall {
            requireSuccess: false,
            calls: vec![
                IMulticall3::Call {
                    target: deployment.factory,
                    callData: deployment.factory_calldata.clone(),
                },
                IMulticall3::Call {
                    target: auth.from,
                    callData: accepts.abi_encode().into(),
                },
                IMulticall3::Call {
                    target: checked.token,
                    callData: transfer_calldata_bytes(auth, &unwrapped.inner),
                },
            ],
        };
        let output = chain
            .call(with_sender(CallRequest::typed(MULTICALL3, &batch)))
            .await;
        return match output {
            Ok(data) => {
                let results =
                    IMulticall3::tryAggregateCall::abi_decode_returns(&data).map_err(|err| {
                        ChainError::Transport {
                            message: format!("undecodable Multicall3 answer: {err}"),
                            source: None,
                        }
                    })?;
                let wallet_accepts = results.get(1).is_some_and(|result| {
                    result.success
                        && IErc1271::isValidSignatureCall::abi_decode_returns(&result.returnData)
                            .is_ok_and(|magic| magic.0 == ERC1271_MAGIC)
                });
                Ok(wallet_accepts && results.get(2).is_some_and(|result| result.success))
            }
            Err(ChainError::Reverted { .. }) => Ok(false),
            Err(other) => Err(other),
        };
    }
    let call = CallRequest::new(checked.token, transfer_calldata(auth, &unwrapped.inner));
    match chain.call(with_sender(call)).await {
        Ok(_) => Ok(true),
        Err(ChainError::Reverted { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// After a failed simulation: the most specific reason, from `authorizationState`, `name()`,
/// `version()` and `balanceOf`, checked in the reference order.
pub(crate) async fn diagnose_failure(
    chain: &dyn EvmChain,
    checked: &OfflineVerification,
    requirements: &PaymentRequirements,
) -> (Reason, String) {
    let auth = &checked.payload.authorization;
    let token = checked.token;
    let balance_of = IEip3009Token::balanceOfCall { account: auth.from };
    let state_of = IEip3009Token::authorizationStateCall {
        authorizer: auth.from,
        nonce: auth.nonce,
    };
    let (balance, name, version, state) = tokio::join!(
        call_typed(chain, token, &balance_of),
        call_typed(chain, token, &IEip3009Token::nameCall {}),
        call_typed(chain, token, &IEip3009Token::versionCall {}),
        call_typed(chain, token, &state_of),
    );
    match state {
        Err(ChainError::Reverted { .. }) => {
            return (
                Reason::InvalidExactEvmEip3009NotSupported,
                format!(
                    "{token} does not answer authorizationState: it does not implement EIP-3009"
                ),
            );
        }
        Ok(true) => {
            return (
                Reason::InvalidExactEvmNonceAlreadyUsed,
                format!(
                    "authorization nonce {} was already used or cancelled",
                    auth.nonce
                ),
            );
        }
        _ => {}
    }
    if let (Ok(actual), Some(expected)) = (&name, requirements.extra_str("name"))
        && actual != expected
    {
        return (
            Reason::InvalidExactEvmTokenNameMismatch,
            format!("the token's EIP-712 name is {actual:?}, requirements say {expected:?}"),
        );
    }
    if let (Ok(actual), Some(expected)) = (&version, requirements.extra_str("version"))
        && actual != expected
    {
        return (
            Reason::InvalidExactEvmTokenVersionMismatch,
            format!("the token's EIP-712 version is {actual:?}, requirements say {expected:?}"),
        );
    }
    let amount: U256 = requirements.amount.as_u256();
    if let Ok(balance) = balance
        && balance < amount
    {
        return (
            Reason::InvalidExactEvmInsufficientBalance,
            format!("payer holds {balance}, the payment needs {amount}"),
        );
    }
    (
        Reason::InvalidExactEvmTransactionSimulationFailed,
        "simulating transferWithAuthorization failed".into(),
    )
}
