//! `t402 balance <network> [--asset A]`: what an address holds of a token, read from the chain
//! whose JSON-RPC URL is in `$T402_RPC_URL` (URLs often carry API keys: never an argument). On
//! EVM chains `balanceOf`; on Solana the holder's associated token account of the mint.

use alloy_primitives::{Address, U256};
use serde_json::json;
use t402_core::{Amount, Network};
use t402_evm::chain::{RpcChain, call_typed};
use t402_evm::contracts::IEip3009Token;

use crate::error::{CliError, exit};
use crate::output::Output;

/// The environment variable holding the chain's JSON-RPC URL.
pub(crate) const RPC_URL_ENV: &str = "T402_RPC_URL";

/// The node's URL, from the environment.
pub(crate) fn rpc_url(network: &Network) -> Result<String, CliError> {
    std::env::var(RPC_URL_ENV).map_err(|_| {
        CliError::new(
            exit::INPUT,
            format!("set {RPC_URL_ENV} to the JSON-RPC URL of {network}"),
        )
    })
}

/// The token to read: `asset`, else the network's default stablecoin; with its decimals and
/// name when known.
fn token_of(
    network: &Network,
    asset: Option<&str>,
    decimals: Option<u8>,
) -> Result<(String, Option<u8>, Option<&'static str>), CliError> {
    let default = t402_core::asset::default_asset(network);
    match asset {
        Some(asset) => {
            let known = default.filter(|info| info.address.eq_ignore_ascii_case(asset));
            let decimals = decimals.or(known.map(|info| info.decimals));
            Ok((
                asset.to_owned(),
                decimals,
                known.and_then(|info| info.eip712_name),
            ))
        }
        None => {
            let info = default.ok_or_else(|| {
                CliError::new(
                    exit::INPUT,
                    format!("{network} has no default stablecoin: pass --asset"),
                )
            })?;
            Ok((
                info.address.to_owned(),
                Some(info.decimals),
                info.eip712_name,
            ))
        }
    }
}

/// What is printed for `atomic` units of `asset` held by `holder`.
fn describe(
    network: &Network,
    asset: &str,
    decimals: Option<u8>,
    name: Option<&str>,
    holder: &str,
    amount: Amount,
) -> Output {
    let shown = match decimals {
        Some(decimals) => amount.format_units(decimals),
        None => format!("{amount} (atomic)"),
    };
    let text = match name {
        Some(name) => format!("{holder} holds {shown} {name} ({asset} on {network})"),
        None => format!("{holder} holds {shown} ({asset} on {network})"),
    };
    Output::new(
        format!("{text}\n"),
        json!({
            "network": network.to_string(),
            "asset": asset,
            "address": holder,
            "atomic": amount.to_string(),
            "decimals": decimals,
            "amount": decimals.map(|d| amount.format_units(d)),
        }),
    )
}

/// The balance of the Solana `holder` in the mint `asset` (default: the network's USDC): its
/// associated token account's amount (0 when it has none); decimals from the mint.
pub(crate) async fn solana_balance(
    network: &Network,
    asset: Option<&str>,
    holder: t402_svm::pubkey::Pubkey,
) -> Result<Output, CliError> {
    use t402_svm::pubkey::{Pubkey, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, associated_token_address};
    use t402_svm::rpc::SolanaRpc;
    let (asset, _, name) = token_of(network, asset, None)?;
    let mint: Pubkey = asset
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, format!("--asset {asset}: not a mint address")))?;
    let url = rpc_url(network)?;
    let rpc = t402_svm::json_rpc::SolanaJsonRpc::new(&url)
        .map_err(|err| CliError::new(exit::INPUT, format!("${RPC_URL_ENV}: {err}")))?;
    let unreachable = |err: t402_svm::rpc::RpcError| {
        CliError::new(
            exit::TRANSPORT,
            format!("{network} via ${RPC_URL_ENV}: {err}"),
        )
    };
    let mint_account = rpc
        .account(mint)
        .await
        .map_err(unreachable)?
        .ok_or_else(|| CliError::new(exit::INPUT, format!("{asset}: no such mint on {network}")))?;
    if mint_account.owner != TOKEN_PROGRAM && mint_account.owner != TOKEN_2022_PROGRAM {
        return Err(CliError::new(
            exit::INPUT,
            format!("{asset} is not a token mint"),
        ));
    }
    let decimals = t402_svm::rpc::mint_decimals(&mint_account.data);
    let account = associated_token_address(&holder, &mint, &mint_account.owner);
    let atomic = match rpc.account(account).await.map_err(unreachable)? {
        // A token account's amount: bytes 64..72, little endian.
        Some(token) => token
            .data
            .get(64..72)
            .and_then(|bytes| bytes.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0),
        None => 0,
    };
    Ok(describe(
        network,
        &asset,
        decimals,
        name,
        &holder.to_string(),
        Amount::from(atomic),
    ))
}

/// The balance of `holder` in `asset` (default: the network's USDC) on an EVM `network`.
pub(crate) async fn balance(
    network: &Network,
    asset: Option<&str>,
    decimals: Option<u8>,
    holder: Address,
) -> Result<Output, CliError> {
    let Some(chain_id) = network.eip155_chain_id() else {
        return Err(CliError::new(
            exit::INPUT,
            format!("{network} is not an EVM chain"),
        ));
    };
    let (asset, decimals, name) = token_of(network, asset, decimals)?;
    let token: Address = asset
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, format!("--asset {asset}: not an address")))?;
    let url = rpc_url(network)?;
    let chain = RpcChain::connect(&url, Some(chain_id))
        .await
        .map_err(|err| {
            CliError::new(
                exit::TRANSPORT,
                format!("{network} via ${RPC_URL_ENV}: {err}"),
            )
        })?;
    let atomic: U256 = call_typed(
        &chain,
        token,
        &IEip3009Token::balanceOfCall { account: holder },
    )
    .await
    .map_err(|err| CliError::new(exit::TRANSPORT, format!("balanceOf: {err}")))?;
    Ok(describe(
        network,
        &asset,
        decimals,
        name,
        &holder.to_checksum(None),
        Amount::from(atomic),
    ))
}
