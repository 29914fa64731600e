//! `t402 pay <url>`: pays for a URL with a key read from the environment or a file.

use std::sync::Arc;

use alloy_signer_local::PrivateKeySigner;
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Network, NetworkPattern};
use t402_evm::ExactEvmClient;

use crate::error::{CliError, exit};

/// The environment variable holding the payer's private key (hex).
pub(crate) const KEY_ENV: &str = "T402_PRIVATE_KEY";

/// Where the key comes from: never the command line.
pub(crate) fn load_key(key_file: Option<&std::path::Path>) -> Result<PrivateKeySigner, CliError> {
    let text = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            CliError::new(exit::INPUT, format!("key file {}: {err}", path.display()))
        })?,
        None => std::env::var(KEY_ENV).map_err(|_| {
            CliError::new(
                exit::INPUT,
                format!(
                    "no key: set {KEY_ENV} or pass --key-file (keys are never read from arguments)"
                ),
            )
        })?,
    };
    text.trim()
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, "the key is not a hex private key"))
}

/// What `pay` is allowed to spend.
#[derive(Debug, Clone)]
pub(crate) struct PayOptions {
    /// Maximum per request in USD stablecoins (`"0.10"`).
    pub(crate) max: String,
    /// Networks to pay on (all when empty).
    pub(crate) networks: Vec<Network>,
    /// Other tokens allowed: `network`, `asset`, `decimals`.
    pub(crate) assets: Vec<(Network, String, u8)>,
}

/// What `pay` prints, and whether the final answer was a success (2xx).
#[derive(Debug)]
pub(crate) struct PayOutcome {
    /// The status line, the payment and receipt, the body.
    pub(crate) text: String,
    /// Whether the final status is 2xx.
    pub(crate) success: bool,
}

/// Pays for `url` and describes the response and its receipt.
pub(crate) async fn pay(
    url: &str,
    key: PrivateKeySigner,
    options: &PayOptions,
) -> Result<PayOutcome, CliError> {
    let bad = |err: t402_core::PriceError| CliError::new(exit::INPUT, format!("--max: {err}"));
    let mut policy = SpendPolicy::new()
        .max_usd_per_request(&options.max)
        .map_err(bad)?;
    if !options.networks.is_empty() {
        policy = policy.networks(options.networks.clone());
    }
    for (network, asset, decimals) in &options.assets {
        policy = policy
            .allow_asset(network.clone(), asset, *decimals, Some(&options.max))
            .map_err(bad)?;
    }
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").expect("a valid pattern"),
            Arc::new(ExactEvmClient::new(key)),
        )
        .policy(policy);
    let client = Client::builder().payer(payer).build()?;
    let response = client.get(url).send().await?;
    let mut out = format!("{} {}\n", response.status().as_u16(), url);
    match (response.paid(), response.receipt()) {
        (Some(offer), Some(receipt)) => out.push_str(&format!(
            "paid {} on {} to {}; settled: {} (transaction {})\n",
            crate::inspect::display_amount(offer),
            offer.network,
            offer.pay_to,
            receipt.success,
            receipt.transaction.as_deref().unwrap_or("")
        )),
        (Some(offer), None) => out.push_str(&format!(
            "paid {} on {}; the server sent no receipt\n",
            crate::inspect::display_amount(offer),
            offer.network
        )),
        _ => out.push_str("no payment was asked\n"),
    }
    out.push_str(&response.text());
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(PayOutcome {
        text: out,
        success: response.status().is_success(),
    })
}
