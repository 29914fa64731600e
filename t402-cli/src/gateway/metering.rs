//! The metering log: one JSON line per paid request (route, payer, amount, asset, network,
//! transaction, upstream status, latency), to a file or standard output.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use t402_core::codec::{Codec, PAYMENT_RESPONSE_HEADER};
use t402_server::VerifiedPayment;

use crate::error::{CliError, exit};

/// Where metering lines go.
pub(crate) struct MeteringLog {
    out: Option<Mutex<Box<dyn Write + Send>>>,
}

impl MeteringLog {
    /// A log appending to `path` (`-`: standard output), or none.
    pub(crate) fn open(path: Option<&str>) -> Result<Self, CliError> {
        let out: Option<Box<dyn Write + Send>> = match path {
            None => None,
            Some("-") => Some(Box::new(std::io::stdout())),
            Some(path) => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        CliError::new(exit::INPUT, format!("metering log {path}: {err}"))
                    })?,
            )),
        };
        Ok(Self {
            out: out.map(Mutex::new),
        })
    }

    fn write(&self, line: &serde_json::Value) {
        if let Some(out) = &self.out {
            let mut out = out.lock().unwrap_or_else(|poison| poison.into_inner());
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// What the inner side saw of a paid request: the payment verified, the upstream's status and
/// how long the upstream took.
#[derive(Debug, Clone)]
struct Served {
    payment: VerifiedPayment,
    upstream_status: u16,
    upstream_ms: f64,
}

/// Inside the payment layer: notes the verified payment and the upstream's answer.
pub(crate) async fn measure(request: Request, next: Next) -> Response {
    let payment = request.extensions().get::<VerifiedPayment>().cloned();
    let started = Instant::now();
    let mut response = next.run(request).await;
    if let Some(payment) = payment {
        let served = Served {
            payment,
            upstream_status: response.status().as_u16(),
            upstream_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        response.extensions_mut().insert(served);
    }
    response
}

/// Outside the payment layer: writes the line of a paid request once it is settled.
pub(crate) async fn record(
    State(log): State<Arc<MeteringLog>>,
    request: Request,
    next: Next,
) -> Response {
    let route = format!("{} {}", request.method(), request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    let Some(served) = response.extensions().get::<Served>() else {
        return response;
    };
    let settled = response
        .headers()
        .get(PAYMENT_RESPONSE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Codec::default().decode_payment_response(value).ok());
    log.write(&json!({
        "route": route,
        "payer": served.payment.payer,
        "amount": served.payment.amount.to_string(),
        "asset": served.payment.asset,
        "network": served.payment.network.to_string(),
        "scheme": served.payment.scheme,
        "settled": settled.as_ref().map(|s| s.success),
        "transaction": settled.as_ref().and_then(|s| s.transaction.clone()),
        "status": response.status().as_u16(),
        "upstreamStatus": served.upstream_status,
        "upstreamMs": served.upstream_ms,
        "totalMs": started.elapsed().as_secs_f64() * 1000.0,
    }));
    response
}

/// The payer of a paid request, from its response.
pub(crate) fn payer_of(response: &Response) -> Option<String> {
    response
        .extensions()
        .get::<Served>()
        .and_then(|served| served.payment.payer.clone())
}
