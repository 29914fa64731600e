//! `t402 pay <url>`: pays for a URL with a key read from the environment or a file; like curl,
//! with a method, headers, a body and an output file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use base64::Engine as _;
use serde_json::{Value, json};
use t402_client::{Client, ClientError, PayDecision, PayHooks, Payer, SpendPolicy};
use t402_core::error::BoxFuture;
use t402_core::{Network, NetworkPattern, PaymentRequirements};
use t402_evm::ExactEvmClient;

use crate::error::{CliError, exit};
use crate::output::Output;

/// What `pay` is allowed to spend and what it sends.
#[derive(Debug, Clone)]
pub(crate) struct PayOptions {
    /// Maximum per request in USD stablecoins (`"0.10"`).
    pub(crate) max: String,
    /// Networks to pay on (all when empty).
    pub(crate) networks: Vec<Network>,
    /// Other tokens allowed: `network`, `asset`, `decimals`.
    pub(crate) assets: Vec<(Network, String, u8)>,
    /// The method (GET, or POST when there is a body).
    pub(crate) method: Option<String>,
    /// Headers, `Name: value`.
    pub(crate) headers: Vec<String>,
    /// The body: text, or `@file`.
    pub(crate) data: Option<String>,
    /// Where the response body goes (standard output when `None`).
    pub(crate) output: Option<PathBuf>,
    /// How long the whole exchange may take.
    pub(crate) timeout: Duration,
    /// Stop before signing and say what would be paid.
    pub(crate) dry_run: bool,
}

/// What `pay` prints, and whether the final answer was a success (2xx).
#[derive(Debug)]
pub(crate) struct PayOutcome {
    /// The summary and, without `--output`, the body.
    pub(crate) output: Output,
    /// The body's bytes, written as they are when printed as text.
    pub(crate) body: Option<Vec<u8>>,
    /// Whether the final status is 2xx.
    pub(crate) success: bool,
}

/// Records the offer a dry run would pay, and declines it.
#[derive(Debug, Default, Clone)]
struct DryRun(Arc<Mutex<Option<PaymentRequirements>>>);

const DRY_RUN: &str = "dry run: nothing signed";

impl PayHooks for DryRun {
    fn before_pay<'a>(
        &'a self,
        offer: &'a PaymentRequirements,
        _url: &'a str,
    ) -> BoxFuture<'a, PayDecision> {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(offer.clone());
        Box::pin(async { PayDecision::Decline(DRY_RUN.into()) })
    }
}

fn offer_json(offer: &PaymentRequirements) -> Value {
    json!({
        "scheme": offer.scheme,
        "network": offer.network.to_string(),
        "amount": offer.amount.to_string(),
        "display": crate::inspect::display_amount(offer),
        "asset": offer.asset,
        "payTo": offer.pay_to,
        "maxTimeoutSeconds": offer.max_timeout_seconds,
    })
}

/// The environment variable holding the Solana JSON-RPC URL `pay` builds transactions with.
pub(crate) const SOLANA_RPC_URL_ENV: &str = "T402_SOLANA_RPC_URL";

/// The keys `pay` may pay with: EVM, Solana (with its node's URL), or both.
#[derive(Debug)]
pub(crate) struct PayKeys {
    /// The EVM key.
    pub(crate) evm: Option<PrivateKeySigner>,
    /// The Solana key and the JSON-RPC URL of the cluster.
    pub(crate) solana: Option<(ed25519_dalek::SigningKey, String)>,
}

/// Pays for `url` and describes the response and its receipt.
pub(crate) async fn pay(
    url: &str,
    keys: PayKeys,
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
    let dry_run = DryRun::default();
    let mut payer = Payer::new().policy(policy);
    if let Some(key) = keys.evm {
        payer = payer.mechanism(
            NetworkPattern::parse("eip155:*").expect("a valid pattern"),
            Arc::new(ExactEvmClient::new(key)),
        );
    }
    if let Some((key, rpc_url)) = keys.solana {
        let rpc = t402_svm::json_rpc::SolanaJsonRpc::new(&rpc_url)
            .map_err(|err| CliError::new(exit::INPUT, format!("${SOLANA_RPC_URL_ENV}: {err}")))?;
        payer = payer.mechanism(
            NetworkPattern::parse("solana:*").expect("a valid pattern"),
            Arc::new(t402_svm::ExactSvmClient::new(key, rpc)),
        );
    }
    if options.dry_run {
        payer = payer.hooks(dry_run.clone());
    }
    let client = Client::builder()
        .payer(payer)
        .timeout(options.timeout)
        .build()?;
    let body = match &options.data {
        Some(data) => Some(match data.strip_prefix('@') {
            Some(path) => std::fs::read(path)
                .map_err(|err| CliError::new(exit::INPUT, format!("--data @{path}: {err}")))?,
            None => data.as_bytes().to_vec(),
        }),
        None => None,
    };
    let method = match &options.method {
        Some(method) => method
            .to_ascii_uppercase()
            .parse::<http::Method>()
            .map_err(|_| CliError::new(exit::INPUT, format!("--method {method}")))?,
        None if body.is_some() => http::Method::POST,
        None => http::Method::GET,
    };
    let mut request = client.request(method.clone(), url);
    for header in &options.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(CliError::new(
                exit::INPUT,
                format!("--header {header}: expected `Name: value`"),
            ));
        };
        request = request.header(name.trim(), value.trim());
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(ClientError::Declined(reason)) if options.dry_run && reason == DRY_RUN => {
            let offer = dry_run
                .0
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone()
                .ok_or_else(|| CliError::new(exit::NOT_PAID, "no offer was chosen"))?;
            let text = format!(
                "{method} {url} asks for payment; would pay {} on {} to {} (scheme {}, asset {}); dry run: nothing was signed\n",
                crate::inspect::display_amount(&offer),
                offer.network,
                offer.pay_to,
                offer.scheme,
                offer.asset,
            );
            return Ok(PayOutcome {
                output: Output::new(
                    text,
                    json!({"dryRun": true, "url": url, "wouldPay": offer_json(&offer)}),
                ),
                body: None,
                success: true,
            });
        }
        Err(err) => return Err(err.into()),
    };
    let status = response.status().as_u16();
    let mut text = format!("{status} {url}\n");
    let paid = response.paid().map(offer_json);
    match (response.paid(), response.receipt()) {
        (Some(offer), Some(receipt)) => text.push_str(&format!(
            "paid {} on {} to {}; settled: {} (transaction {})\n",
            crate::inspect::display_amount(offer),
            offer.network,
            offer.pay_to,
            receipt.success,
            receipt.transaction.as_deref().unwrap_or("")
        )),
        (Some(offer), None) => text.push_str(&format!(
            "paid {} on {}; the server sent no receipt\n",
            crate::inspect::display_amount(offer),
            offer.network
        )),
        _ => text.push_str("no payment was asked\n"),
    }
    let bytes = response.bytes().to_vec();
    let mut json = json!({
        "status": status,
        "url": url,
        "paid": paid,
        "receipt": response.receipt().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
    });
    let body = match &options.output {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|err| CliError::new(exit::INPUT, format!("{}: {err}", path.display())))?;
            text.push_str(&format!(
                "{} bytes written to {}\n",
                bytes.len(),
                path.display()
            ));
            json["output"] = json!(path.display().to_string());
            json["bytes"] = json!(bytes.len());
            None
        }
        None => {
            match std::str::from_utf8(&bytes) {
                Ok(body) => json["body"] = json!(body),
                Err(_) => {
                    json["bodyBase64"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(&bytes))
                }
            }
            Some(bytes)
        }
    };
    Ok(PayOutcome {
        output: Output::new(text, json),
        body,
        success: response.status().is_success(),
    })
}
