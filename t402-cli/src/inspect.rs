//! `t402 inspect <url>`: what a priced URL asks, as a table.

use t402_client::Payer;
use t402_core::PaymentRequirements;
use t402_core::asset::default_asset;

use crate::error::{CliError, exit};
use crate::output::Output;

/// The amount in token units when the asset is a default stablecoin, else atomic units.
pub(crate) fn display_amount(offer: &PaymentRequirements) -> String {
    match default_asset(&offer.network) {
        Some(info) if info.address.eq_ignore_ascii_case(&offer.asset) => format!(
            "{} {}",
            offer.amount.format_units(info.decimals),
            info.eip712_name.unwrap_or("")
        )
        .trim_end()
        .to_owned(),
        _ => format!("{} (atomic)", offer.amount),
    }
}

/// Requests `url` and describes its challenge.
pub(crate) async fn inspect(url: &str) -> Result<Output, CliError> {
    let response = reqwest::get(url)
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, format!("GET {url}: {err}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    if status.as_u16() != 402 {
        return Ok(Output::new(
            format!("{url} answered {status}: no payment asked\n"),
            serde_json::json!({"url": url, "status": status.as_u16(), "offers": []}),
        ));
    }
    let challenge = Payer::new().read_challenge(&headers, &body)?;
    let rows: Vec<[String; 6]> = challenge
        .offers()
        .iter()
        .map(|offer| {
            [
                offer.scheme.clone(),
                offer.network.to_string(),
                display_amount(offer),
                offer.asset.clone(),
                offer.pay_to.clone(),
                format!("{} s", offer.max_timeout_seconds),
            ]
        })
        .collect();
    let header = ["scheme", "network", "amount", "asset", "payee", "timeout"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = format!(
        "{url} asks for payment (x402 v{}{})\n",
        challenge.version(),
        challenge
            .error()
            .map(|e| format!(", \"{e}\""))
            .unwrap_or_default()
    );
    out.push_str(&line(&header));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    let offers: Vec<serde_json::Value> = challenge
        .offers()
        .iter()
        .map(|offer| {
            serde_json::json!({
                "scheme": offer.scheme,
                "network": offer.network.to_string(),
                "amount": offer.amount.to_string(),
                "display": display_amount(offer),
                "asset": offer.asset,
                "payTo": offer.pay_to,
                "maxTimeoutSeconds": offer.max_timeout_seconds,
            })
        })
        .collect();
    Ok(Output::new(
        out,
        serde_json::json!({
            "url": url,
            "status": 402,
            "version": challenge.version(),
            "error": challenge.error(),
            "offers": offers,
        }),
    ))
}
