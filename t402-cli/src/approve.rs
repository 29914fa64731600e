//! `t402 approve-permit2 <network> <token>`: approves Permit2 to move the key's tokens (once per
//! token), so the key can pay `exact` offers over Permit2 without gas sponsoring. The transaction
//! is `approve(Permit2, max)`, signed with the key from `$T402_PRIVATE_KEY` (or `--key-file`) and
//! sent to the node at `$T402_RPC_URL`.

use std::time::Duration;

use serde_json::json;
use t402_core::Network;
use t402_evm::ExactEvmClient;
use t402_evm::chain::{EvmChain, RpcChain, call_typed};
use t402_evm::contracts::IErc20;
use t402_evm::permit2::PERMIT2;

use crate::balance::rpc_url;
use crate::error::{CliError, exit};
use crate::output::Output;

/// How long the command waits for the approval's receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends `approve(Permit2, max)` on `token` from `key` and waits for it.
pub(crate) async fn approve_permit2(
    network: &Network,
    token: &str,
    key: alloy_signer_local::PrivateKeySigner,
) -> Result<Output, CliError> {
    let chain_id = network
        .eip155_chain_id()
        .ok_or_else(|| CliError::new(exit::INPUT, format!("{network} is not an EVM chain")))?;
    let token: alloy_primitives::Address = token
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, format!("token {token} is not an address")))?;
    let unreachable = |err: &dyn std::fmt::Display| {
        CliError::new(exit::TRANSPORT, format!("the node of {network}: {err}"))
    };
    let chain = RpcChain::connect(&rpc_url(network)?, Some(chain_id))
        .await
        .map_err(|err| unreachable(&err))?;
    let owner = key.address();
    let approval = ExactEvmClient::new(key)
        .sign_approval(&chain, token)
        .await
        .map_err(|err| unreachable(&err))?;
    let hash = chain
        .send_raw_transaction(approval.signed_transaction.clone())
        .await
        .map_err(|err| unreachable(&err))?;
    let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
    let receipt = loop {
        if let Some(receipt) = chain.receipt(hash).await.map_err(|err| unreachable(&err))? {
            break receipt;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::new(
                exit::TRANSPORT,
                format!("no receipt for {hash} within {RECEIPT_TIMEOUT:?}"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if !receipt.success {
        return Err(CliError::new(
            exit::REFUSED,
            format!("the approval {hash} reverted"),
        ));
    }
    let allowance = call_typed(
        &chain,
        token,
        &IErc20::allowanceCall {
            owner,
            spender: PERMIT2,
        },
    )
    .await
    .map_err(|err| unreachable(&err))?;
    Ok(Output::new(
        format!("{owner} approved Permit2 for {token} in {hash}\n"),
        json!({
            "network": network.to_string(),
            "owner": owner.to_checksum(None),
            "token": token.to_checksum(None),
            "spender": PERMIT2.to_checksum(None),
            "transaction": hash.to_string(),
            "allowance": allowance.to_string(),
        }),
    ))
}
