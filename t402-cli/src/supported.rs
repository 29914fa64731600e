//! `t402 supported <facilitator-url>`: what a facilitator verifies and settles. An API key for it
//! is read from `$T402_FACILITATOR_API_KEY`.

use serde_json::Value;

use crate::error::{CliError, exit};
use crate::output::Output;

/// The environment variable holding the facilitator's API key, sent as a bearer token.
pub(crate) const API_KEY_ENV: &str = "T402_FACILITATOR_API_KEY";

/// Reads `GET {url}/supported`.
pub(crate) async fn supported(url: &str, timeout: std::time::Duration) -> Result<Output, CliError> {
    let endpoint = format!("{}/supported", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    let mut request = client.get(&endpoint);
    if let Ok(key) = std::env::var(API_KEY_ENV) {
        request = request.bearer_auth(key.trim());
    }
    let response = request.send().await.map_err(|err| {
        CliError::new(
            exit::TRANSPORT,
            format!("GET {endpoint}: {}", err.without_url()),
        )
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, err.without_url().to_string()))?;
    if !status.is_success() {
        return Err(CliError::new(
            exit::TRANSPORT,
            format!(
                "GET {endpoint} answered {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        ));
    }
    let answer: t402_core::SupportedResponse = serde_json::from_slice(&body)
        .map_err(|err| CliError::new(exit::TRANSPORT, format!("{endpoint}: {err}")))?;
    let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut text = format!("{url} supports:\n");
    for kind in &answer.kinds {
        text.push_str(&format!(
            "  v{} {} on {}\n",
            kind.version.number, kind.scheme, kind.network
        ));
    }
    if !answer.extensions.is_empty() {
        text.push_str(&format!("extensions: {}\n", answer.extensions.join(", ")));
    }
    for (family, signers) in &answer.signers {
        text.push_str(&format!("signers ({family}): {}\n", signers.join(", ")));
    }
    Ok(Output::new(text, raw))
}
