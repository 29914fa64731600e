//! `t402 balance <network> [--asset A]`: what an address holds of a token, read from the chain
//! whose JSON-RPC URL is in `$T402_RPC_URL` (URLs often carry API keys: never an argument).

use alloy_primitives::{Address, U256};
use serde_json::json;
use t402_core::{Amount, Network};
use t402_evm::chain::{RpcChain, call_typed};
use t402_evm::contracts::IEip3009Token;

use crate::error::{CliError, exit};
use crate::output::Output;

/// The environment variable holding the chain's JSON-RPC URL.
pub(crate) const RPC_URL_ENV: &str = "T402_RPC_URL";

/// The balance of `holder` in `asset` (default: the network's USDC) on `network`.
pub(crate) async fn balance(
    network: &Network,
    asset: Option<&str>,
    decimals: Option<u8>,
    holder: Address,
) -> Result<Output, CliError> {
    let Some(chain_id) = network.eip155_chain_id() else {
        return Err(CliError::new(
            exit::INPUT,
            format!("{network}: balances are read on EVM chains only for now"),
        ));
    };
    let default = t402_core::asset::default_asset(network);
    let (asset, decimals, name) = match asset {
        Some(asset) => {
            let known = default.filter(|info| info.address.eq_ignore_ascii_case(asset));
            let decimals = decimals.or(known.map(|info| info.decimals));
            (
                asset.to_owned(),
                decimals,
                known.and_then(|info| info.eip712_name),
            )
        }
        None => {
            let info = default.ok_or_else(|| {
                CliError::new(
                    exit::INPUT,
                    format!("{network} has no default stablecoin: pass --asset"),
                )
            })?;
            (
                info.address.to_owned(),
                Some(info.decimals),
                info.eip712_name,
            )
        }
    };
    let token: Address = asset
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, format!("--asset {asset}: not an address")))?;
    let url = std::env::var(RPC_URL_ENV).map_err(|_| {
        CliError::new(
            exit::INPUT,
            format!("set {RPC_URL_ENV} to the JSON-RPC URL of {network}"),
        )
    })?;
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
    let amount = Amount::from(atomic);
    let shown = match decimals {
        Some(decimals) => amount.format_units(decimals),
        None => format!("{amount} (atomic)"),
    };
    let unit = name.unwrap_or("");
    let text = format!("{holder} holds {shown} {unit} ({asset} on {network})").replace("  (", " (");
    Ok(Output::new(
        format!("{text}\n"),
        json!({
            "network": network.to_string(),
            "asset": asset,
            "address": holder.to_checksum(None),
            "atomic": amount.to_string(),
            "decimals": decimals,
            "amount": decimals.map(|d| amount.format_units(d)),
        }),
    ))
}
