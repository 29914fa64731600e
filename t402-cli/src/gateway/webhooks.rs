//! Webhooks: on every settlement and failure, a JSON event is POSTed to each configured URL,
//! signed with HMAC-SHA256 over `"<timestamp>.<body>"` (header `T402-Signature: t=<timestamp>,
//! v1=<hex>`; the event id in `T402-Event-Id`). Delivery is at least once: each event is written
//! to the outbox directory (one file per event and URL) before the first attempt, retried with
//! backoff until a 2xx answer, and only then removed; events left in the outbox are delivered
//! when the gateway starts again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use t402_core::error::BoxFuture;
use t402_core::{Reason, SettleResponse};
use t402_server::{PaymentEvent, PaymentFailure, PaymentHooks};

use crate::error::{CliError, exit};

/// One webhook endpoint and its signing secret.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) secret: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The signature header's value for `body` sent at `timestamp`.
pub(crate) fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Delivers events through the outbox.
#[derive(Clone, Debug)]
pub(crate) struct Webhooks {
    endpoints: Vec<Endpoint>,
    outbox: PathBuf,
    first_retry: Duration,
    http: reqwest::Client,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Webhooks {
    /// Webhooks to `endpoints` with their outbox in `outbox` (created if missing); the events
    /// already there are delivered again.
    pub(crate) fn start(
        endpoints: Vec<Endpoint>,
        outbox: &Path,
        first_retry: Duration,
    ) -> Result<Self, CliError> {
        std::fs::create_dir_all(outbox).map_err(|err| {
            CliError::new(
                exit::INPUT,
                format!("webhook outbox {}: {err}", outbox.display()),
            )
        })?;
        let webhooks = Self {
            endpoints,
            outbox: outbox.to_owned(),
            first_retry,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|err| CliError::new(exit::INPUT, err.to_string()))?,
        };
        let pending = std::fs::read_dir(outbox)
            .map_err(|err| CliError::new(exit::INPUT, err.to_string()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"));
        for path in pending {
            let delivery = webhooks.clone();
            tokio::spawn(async move { delivery.deliver(path).await });
        }
        Ok(webhooks)
    }

    /// Writes `event` to the outbox for each endpoint, then delivers it.
    fn publish(&self, event: Value) {
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let record = json!({"url": endpoint.url, "endpoint": index, "event": event});
            let path = self.outbox.join(format!("{id}-{index}.json"));
            // Written (and synced) before the first attempt: it survives a restart.
            let written = std::fs::File::create(&path).and_then(|mut file| {
                use std::io::Write;
                file.write_all(record.to_string().as_bytes())?;
                file.sync_all()
            });
            if let Err(err) = written {
                tracing::error!(error = %err, path = %path.display(), "webhook event not written to the outbox");
                continue;
            }
            let delivery = self.clone();
            tokio::spawn(async move { delivery.deliver(path).await });
        }
    }

    /// Sends the event in `path` until it is accepted, then removes the file.
    async fn deliver(self, path: PathBuf) {
        let Some(Pending {
            url,
            secret,
            body,
            id,
        }) = self.read(&path)
        else {
            return;
        };
        let mut delay = self.first_retry;
        loop {
            let timestamp = now();
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header("T402-Event-Id", &id)
                .header("T402-Signature", signature(&secret, timestamp, &body))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {
                    let _ = std::fs::remove_file(&path);
                    tracing::info!(event = %id, %url, "webhook delivered");
                    return;
                }
                Ok(answer) => {
                    tracing::warn!(event = %id, %url, status = %answer.status(), "webhook refused; retrying")
                }
                Err(err) => {
                    tracing::warn!(event = %id, %url, error = %err.without_url(), "webhook not delivered; retrying")
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    }

    /// The delivery an outbox file holds.
    fn read(&self, path: &Path) -> Option<Pending> {
        let record: Value = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())?;
        let index = usize::try_from(record["endpoint"].as_u64()?).ok()?;
        let url = record["url"].as_str()?.to_owned();
        // The secret of the endpoint with that URL now (secrets are never written to disk).
        let endpoint = self
            .endpoints
            .get(index)
            .filter(|endpoint| endpoint.url == url)
            .or_else(|| self.endpoints.iter().find(|endpoint| endpoint.url == url));
        let Some(endpoint) = endpoint else {
            tracing::warn!(%url, path = %path.display(), "outbox event for an endpoint no longer configured; kept");
            return None;
        };
        let body = record["event"].to_string().into_bytes();
        let id = record["event"]["id"].as_str()?.to_owned();
        Some(Pending {
            url,
            secret: endpoint.secret.clone(),
            body,
            id,
        })
    }
}

/// One event for one endpoint, read from the outbox.
struct Pending {
    url: String,
    secret: Arc<Vec<u8>>,
    body: Vec<u8>,
    id: String,
}

fn event_id() -> String {
    let bytes = alloy_primitives::B128::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(
    kind: &str,
    payment: &PaymentEvent,
    settled: Option<&SettleResponse>,
    reason: Option<&Reason>,
) -> Value {
    json!({
        "id": event_id(),
        "type": kind,
        "createdAt": now(),
        "method": payment.method.as_str(),
        "path": payment.uri.path(),
        "network": payment.requirements.network.to_string(),
        "scheme": payment.requirements.scheme,
        "asset": payment.requirements.asset,
        "amount": payment.requirements.amount.to_string(),
        "payTo": payment.requirements.pay_to,
        "payer": settled.and_then(|s| s.payer.clone()),
        "transaction": settled.and_then(|s| s.transaction.clone()),
        "reason": reason.map(Reason::as_str),
    })
}

impl PaymentHooks for Webhooks {
    fn after_settle<'a>(
        &'a self,
        payment: &'a PaymentEvent,
        settled: &'a SettleResponse,
    ) -> BoxFuture<'a, ()> {
        self.publish(event("payment.settled", payment, Some(settled), None));
        Box::pin(async {})
    }

    fn on_failure<'a>(
        &'a self,
        payment: &'a PaymentEvent,
        failure: &'a PaymentFailure,
    ) -> BoxFuture<'a, ()> {
        let published = match failure {
            PaymentFailure::SettlementFailed(settled) => event(
                "payment.settlement_failed",
                payment,
                Some(settled),
                settled.error_reason.as_ref(),
            ),
            PaymentFailure::Refused(verified) => event(
                "payment.refused",
                payment,
                None,
                verified.invalid_reason.as_ref(),
            ),
            PaymentFailure::Facilitator { reason, .. } => {
                event("payment.facilitator_failed", payment, None, Some(reason))
            }
            PaymentFailure::Aborted { reason } => {
                event("payment.aborted", payment, None, Some(reason))
            }
            _ => event("payment.failed", payment, None, None),
        };
        self.publish(published);
        Box::pin(async {})
    }
}
